//! Fault test of the whole first flow, in process: 500 approved proposals (same-customer
//! pairs and multi-order ones among them) through the real pipeline, clients, SQLite store and
//! the three sandboxes with shortened Omie windows.
//!
//! 1. Transient faults only, on 10 % of the calls of every sandbox (HTML 503s, connection
//!    resets, late 504s, malformed JSON, writes applied with the answer lost): every
//!    integration ends done, and the sandboxes' counters show each record created once.
//! 2. The same plus permanent faults (an Omie business fault on 4 % of the customers'
//!    upserts, a NextBilling refusal on 3 % of the lines): each affected integration ends failed, not
//!    retryable, with the upstream's reason; every other one ends done; nothing is lost or
//!    created twice.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::{Value, json};
use sig_cli::cmd::demo::DEMO_CONFIG;
use sig_cli::runtime::{Runtime, open_store};
use sig_cli::sample::{SampleSpec, generated_proposals};
use sig_cli::sandboxes::{DemoOptions, DemoSandboxes, GeneratedSecrets};
use sig_core::ProposalStatus;
use sig_core::config::{Config, StoreConfig};
use sig_core::ports::SourceKey;
use sig_core::store::{Actor, IntegrationFilter, IntegrationStatus, Store};
use sig_sandbox::{FaultKind, FaultSpec};

const PROPOSALS: usize = 500;
const OMIE_SCALE: f64 = 0.01;

struct World {
    dir: std::path::PathBuf,
    sb: DemoSandboxes,
    rt: Runtime,
    store: Arc<dyn Store>,
    proposals: Vec<Value>,
    company: sig_core::ids::CompanyId,
    account: String,
}

async fn world(name: &str, seed: u64) -> World {
    let dir = std::env::temp_dir().join(format!(
        "sig-faults-{name}-{}-{}",
        std::process::id(),
        sig_core::ids::IntegrationId::new()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let mut doc: toml::Table = DEMO_CONFIG.parse().unwrap();
    if let Some(toml::Value::Array(servers)) = doc.get_mut("servers") {
        for s in servers.iter_mut().filter_map(toml::Value::as_table_mut) {
            s.insert("capacity_lines".into(), toml::Value::Integer(1_000_000));
            s.insert("capacity_channels".into(), toml::Value::Integer(1_000_000));
        }
    }
    let pipeline: toml::Table = "concurrency = 16\nmax_attempts = 40\nbackoff_base_ms = 10\n\
        backoff_max_ms = 200\nhealth_timeout_ms = 2000\nhealth_ttl_secs = 1\n"
        .parse()
        .unwrap();
    doc.insert("pipeline".into(), toml::Value::Table(pipeline));
    let secrets = GeneratedSecrets::default();
    let mut config = Config::from_toml(&toml::to_string(&doc).unwrap(), &dir, &secrets).unwrap();
    let mut spec = SampleSpec::demo(PROPOSALS, seed);
    spec.first_id = 500_000;
    let proposals = generated_proposals(&spec);
    let sb = DemoSandboxes::from_config(
        &config,
        &proposals,
        DemoOptions {
            omie_scale: OMIE_SCALE,
            seed,
            unlimited: false,
        },
    )
    .await
    .unwrap();
    sb.point_config(&mut config).unwrap();
    config.store = StoreConfig::Sqlite(dir.join("sig.sqlite"));
    let store = open_store(&config).unwrap();
    let rt = Runtime::build(&config, store.clone(), config.pipeline.clone())
        .await
        .unwrap();
    let company = config.companies[0].id.clone();
    let account = config.companies[0].docsales_account.to_string();
    World {
        dir,
        sb,
        rt,
        store,
        proposals,
        company,
        account,
    }
}

impl World {
    /// Every proposal approved, as the webhook endpoint takes it in.
    async fn intake_all(&self) {
        for p in &self.proposals {
            let id = p["document"]["id"].as_u64().unwrap().to_string();
            self.rt
                .pipeline
                .intake(
                    &self.company,
                    SourceKey {
                        account: self.account.clone(),
                        proposal_id: id,
                    },
                    &ProposalStatus::Approved,
                    Actor::Webhook(self.account.clone()),
                    None,
                )
                .await
                .unwrap();
        }
    }

    /// Every sandbox-counted create happened once.
    fn assert_no_duplicates(&self) {
        let mut dups = self.sb.omie.counters().duplicates();
        for i in self.sb.next.instances() {
            for (kind, keys) in i.counters().duplicates() {
                dups.insert(format!("{}:{kind}", i.name()), keys);
            }
        }
        assert!(dups.is_empty(), "records created twice upstream: {dups:?}");
    }

    async fn cleanup(self) {
        self.sb.shutdown().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// 10 % of calls, spread over every transient kind.
fn transient(seed: u64) -> Vec<FaultSpec> {
    let kinds = [
        FaultKind::HttpError {
            status: 503,
            body: None,
        },
        FaultKind::ConnectionReset,
        FaultKind::Timeout { hold_ms: Some(300) },
        FaultKind::MalformedJson { body: None },
        FaultKind::ResponseLost,
    ];
    kinds
        .into_iter()
        .enumerate()
        .map(|(n, k)| FaultSpec::transient(k, 0.02, seed + n as u64))
        .collect()
}

fn set_faults(w: &World, specs: &[FaultSpec], omie: &[FaultSpec], next: &[FaultSpec]) {
    let mut o = specs.to_vec();
    o.extend_from_slice(omie);
    w.sb.omie.faults().set(o).unwrap();
    let mut n = specs.to_vec();
    n.extend_from_slice(next);
    w.sb.next.set_faults(&n).unwrap();
    // DocSales: reads only (the fetch); a lost answer there is just a failed read.
    w.sb.docsales.faults().set(specs.to_vec()).unwrap();
}

/// One Omie customer per CPF/CNPJ, one contract per order, among the done integrations.
async fn assert_one_record_each(w: &World) {
    let all = w.store.list(&IntegrationFilter::default()).await.unwrap();
    let mut customers = BTreeSet::new();
    for i in all.iter().filter(|i| i.status == IntegrationStatus::Done) {
        customers.insert(i.customer.unwrap().to_string());
    }
    let omie = w.sb.omie.counters().counts();
    let created: BTreeSet<String> = omie
        .get("customer")
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    assert!(
        customers.is_subset(&created),
        "a done integration's customer is missing in Omie"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_faults_everywhere_end_done_exactly_once() {
    let w = world("transient", 11).await;
    set_faults(&w, &transient(100), &[], &[]);
    w.intake_all().await;
    w.rt.run_until_idle().await.unwrap();

    let all = w.store.list(&IntegrationFilter::default()).await.unwrap();
    assert_eq!(all.len(), PROPOSALS, "one integration per proposal");
    let not_done: Vec<_> = all
        .iter()
        .filter(|i| i.status != IntegrationStatus::Done)
        .map(|i| (i.id, i.status, i.failure.clone()))
        .collect();
    assert!(not_done.is_empty(), "not done: {not_done:?}");
    // The faults did fire, in every sandbox and of every kind.
    let mut injected = w.sb.omie.faults().injected();
    for i in w.sb.next.instances() {
        for (k, n) in i.faults().injected() {
            *injected.entry(k).or_default() += n;
        }
    }
    for kind in [
        "http_error",
        "connection_reset",
        "timeout",
        "malformed_json",
        "response_lost",
    ] {
        assert!(
            injected.get(kind).copied().unwrap_or(0) > 0,
            "no {kind} fault fired: {injected:?}"
        );
    }
    assert!(
        w.sb.docsales.faults().injected().values().sum::<u64>() > 0,
        "no DocSales fault fired"
    );
    w.assert_no_duplicates();
    assert_one_record_each(&w).await;
    w.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_faults_fail_their_integrations_and_nothing_else() {
    let w = world("permanent", 12).await;
    let omie_permanent = FaultSpec::permanent(
        FaultKind::Business {
            status: 500,
            body: json!({
                "faultstring": "ERROR: A Inscrição Estadual informada para o cliente [{key}] é inválida!",
                "faultcode": "SOAP-ENV:Client-101"
            }),
        },
        0.04,
        7,
    )
    .on_call("UpsertCliente");
    let next_permanent = FaultSpec::permanent(
        FaultKind::Business {
            status: 422,
            body: json!({"error": true, "reason": "Plano de tarifa inexistente para o dispositivo {key}"}),
        },
        0.03,
        8,
    )
    .on_call("manageDevices");
    set_faults(&w, &transient(200), &[omie_permanent], &[next_permanent]);
    w.intake_all().await;
    w.rt.run_until_idle().await.unwrap();

    let all = w.store.list(&IntegrationFilter::default()).await.unwrap();
    assert_eq!(
        all.len(),
        PROPOSALS,
        "nothing lost: one integration per proposal"
    );
    let (mut done, mut failed) = (0, 0);
    for i in &all {
        match i.status {
            IntegrationStatus::Done => done += 1,
            IntegrationStatus::Failed => {
                failed += 1;
                let f = i.failure.as_ref().expect("a failed integration says why");
                assert!(
                    !f.retryable,
                    "{}: a permanent fault is not retryable: {f:?}",
                    i.id
                );
                assert!(
                    f.reason.contains("Inscrição Estadual") || f.reason.contains("Plano de tarifa"),
                    "{}: the failure names the upstream's reason: {f:?}",
                    i.id
                );
                let step = f.step.as_str();
                assert!(
                    step == "erp_customer" || step.starts_with("line:"),
                    "{}: failed at {step}, not where a permanent fault was",
                    i.id
                );
            }
            other => panic!("{} ended {other:?}: {:?}", i.id, i.failure),
        }
    }
    assert!(failed > 0, "the permanent faults failed some integrations");
    assert!(done > PROPOSALS / 2, "most integrations are done ({done})");
    assert_eq!(done + failed, PROPOSALS);
    w.assert_no_duplicates();
    assert_one_record_each(&w).await;
    eprintln!("permanent faults: {done} done, {failed} failed");
    w.cleanup().await;
}
