//! The `fiscal` step end to end: `sig.toml` with a company's `fiscal` policy, the runtime's
//! one real `sig-fiscal` client, the fiscal sandbox (BrasilAPI, Minha Receita, ReceitaWS,
//! ViaCEP… on loopback, with its seeded faults) and the Omie and NextBilling sandboxes. The
//! sandbox's counters say which provider was really asked.
//!
//! The sandbox's default registry: `11222333000181` TELEFONIA SAO JOAO LTDA (ATIVA, Rua das
//! Palmeiras 120, Santa Cecilia, 01226-010), `37335118000180` MERCEARIA BOA VISTA LTDA
//! (BAIXADA); `34665388000161` is registered by nobody.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use sig_cli::runtime::Runtime;
use sig_cli::sandboxes::{DemoOptions, DemoSandboxes};
use sig_core::Code;
use sig_core::config::{Config, MapSecrets};
use sig_core::domain::ProposalStatus;
use sig_core::fiscal::FiscalPolicy;
use sig_core::ids::IntegrationId;
use sig_core::pipeline::{FISCAL_STEP, IntakeOutcome, Settings};
use sig_core::ports::{SourceKey, System};
use sig_core::raw::RawProposal;
use sig_core::store::{
    Actor, AuditFilter, AuditOutcome, Integration, IntegrationStatus, MemoryStore, Store,
};
use sig_fiscal::Provider;
use sig_fiscal::sandbox::FiscalSandbox;
use sig_sandbox::{FaultKind, FaultSpec};

const DEMO_CONFIG: &str = include_str!("../demo/sig.toml");

const ACTIVE: &str = "11222333000181";
const CLOSED: &str = "37335118000180";
const NOBODY: &str = "34665388000161";

const CNPJ_PROVIDERS: [Provider; 3] = [
    Provider::BrasilApi,
    Provider::MinhaReceita,
    Provider::ReceitaWs,
];

struct World {
    sb: DemoSandboxes,
    rt: Runtime,
    store: Arc<MemoryStore>,
}

impl World {
    fn fiscal(&self) -> &FiscalSandbox {
        self.sb.fiscal.as_ref().expect("the fiscal sandbox runs")
    }

    /// Answers the CNPJ providers gave, in all.
    fn cnpj_answers(&self) -> u64 {
        CNPJ_PROVIDERS
            .iter()
            .map(|p| self.fiscal().served_total(*p))
            .sum()
    }
}

fn server_ids() -> Vec<String> {
    DEMO_CONFIG
        .lines()
        .filter_map(|l| l.trim().strip_prefix("id = \""))
        .filter_map(|l| l.strip_suffix('"'))
        .map(str::to_owned)
        .collect()
}

/// The demo configuration with the company's `fiscal` policy, pointed at the sandboxes
/// (the fiscal one with the sandbox's default registry), and its runtime.
async fn world(policy: FiscalPolicy) -> World {
    let mut sb = DemoSandboxes::start(&server_ids(), &[], DemoOptions::demo())
        .await
        .unwrap();
    sb.start_fiscal(FiscalSandbox::builder()).await.unwrap();
    let text = DEMO_CONFIG.replace(
        "docsales_account = \"demo\"\n",
        &format!("docsales_account = \"demo\"\nfiscal = \"{policy}\"\n"),
    );
    let mut config =
        Config::from_toml(&text, std::path::Path::new("."), &MapSecrets(sb.secrets())).unwrap();
    assert_eq!(config.companies[0].fiscal, policy);
    sb.point_config(&mut config).unwrap();
    config.fiscal.timeout = Duration::from_secs(5);
    let store = Arc::new(MemoryStore::new());
    let settings = Settings {
        max_attempts: 3,
        backoff_base: Duration::from_millis(10),
        backoff_max: Duration::from_millis(50),
        ..Settings::default()
    };
    let rt = Runtime::build(&config, store.clone(), settings)
        .await
        .unwrap();
    World { sb, rt, store }
}

/// A direct registration: one VoIP line in DDD 11 for the customer `tax_id` / `legal_name`
/// at Rua das Palmeiras 120, 01226-010 — without a district (`bairro`), which the registry
/// can fill.
fn proposal(tax_id: &str, legal_name: &str) -> RawProposal {
    serde_json::from_value(json!({
        "id": format!("p-{tax_id}"),
        "status": "approved",
        "customer": {
            "tax_id": tax_id,
            "legal_name": legal_name,
            "emails": ["financeiro@cliente.example"],
            "phones": ["(11) 3456-7890"],
            "address": {
                "street": "Rua das Palmeiras",
                "number": "120",
                "city": "São Paulo",
                "uf": "SP",
                "cep": "01226-010"
            }
        },
        "orders": [{
            "product": "VOIP-LINHA",
            "quantity": 1,
            "area_code": "11",
            "start_date": "2026-12-01",
            "billing_day": 10
        }]
    }))
    .unwrap()
}

async fn run(w: &World, raw: RawProposal) -> Integration {
    let IntakeOutcome::Created { integration } =
        w.rt.pipeline
            .intake(
                &"demo".parse().unwrap(),
                SourceKey {
                    account: "sig".into(),
                    proposal_id: raw.id.clone().unwrap(),
                },
                &ProposalStatus::Approved,
                Actor::System,
                Some(raw),
            )
            .await
            .unwrap()
    else {
        panic!("not created")
    };
    w.rt.run_until_idle().await.unwrap();
    w.store.get(integration).await.unwrap().unwrap()
}

async fn fiscal_result(w: &World, id: IntegrationId) -> Option<Value> {
    w.store
        .journal(id)
        .await
        .unwrap()
        .get(FISCAL_STEP)
        .map(|e| e.result.clone())
}

async fn fiscal_events(w: &World, id: IntegrationId) -> Vec<sig_core::store::AuditEvent> {
    w.store
        .audit(&AuditFilter {
            integration: Some(id),
            action_prefix: Some("step.fiscal".into()),
            ..Default::default()
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn an_active_company_with_its_name_proceeds_with_its_address_completed() {
    let w = world(FiscalPolicy::Block).await;
    let i = run(&w, proposal(ACTIVE, "Telefonia São João Ltda.")).await;
    assert_eq!(i.status, IntegrationStatus::Done, "{i:?}");
    // Asked once, of the first provider; the address needed nothing of the CEP providers.
    assert_eq!(w.fiscal().served(Provider::BrasilApi, ACTIVE), 1);
    assert_eq!(w.cnpj_answers(), 1);
    assert_eq!(w.fiscal().served_total(Provider::ViaCep), 0);
    let r = fiscal_result(&w, i.id).await.unwrap();
    assert_eq!(r["verdict"], "pass");
    assert_eq!(r["registry"]["source"], "brasil_api");
    assert_eq!(r["registry"]["legal_name"], "TELEFONIA SAO JOAO LTDA");
    // The district came from BrasilAPI's `bairro`, and Omie got it.
    let filled = r["filled"].as_array().unwrap();
    assert!(
        filled.contains(&json!({
            "field": "customer.address.district",
            "source_provider": "brasil_api",
            "source_field": "bairro"
        })),
        "{r}"
    );
    let omie =
        w.sb.omie
            .customer(&i.customer.unwrap().to_string())
            .unwrap();
    assert_eq!(omie.bairro.as_deref(), Some("SANTA CECILIA"));
    w.sb.shutdown().await;
}

#[tokio::test]
async fn an_inactive_company_is_held_with_the_registry_status() {
    let w = world(FiscalPolicy::Block).await;
    let i = run(&w, proposal(CLOSED, "Mercearia Boa Vista Ltda")).await;
    assert_eq!(i.status, IntegrationStatus::Held, "{i:?}");
    assert_eq!(i.step.as_deref(), Some(FISCAL_STEP));
    let p = i.problems.iter().next().unwrap();
    assert_eq!(p.field, "customer.tax_id");
    assert_eq!(p.code, Code::FiscalInactive);
    assert!(p.message.contains("BAIXADA"), "{}", p.message);
    assert_eq!(w.sb.omie.customer_count(), 0, "nothing reached Omie");
    w.sb.shutdown().await;
}

#[tokio::test]
async fn a_name_mismatch_is_held_under_block() {
    let w = world(FiscalPolicy::Block).await;
    let i = run(&w, proposal(ACTIVE, "Telefonia São Pedro Ltda")).await;
    assert_eq!(i.status, IntegrationStatus::Held, "{i:?}");
    let p = i.problems.iter().next().unwrap();
    assert_eq!(
        (p.field.as_str(), p.code),
        ("customer.legal_name", Code::FiscalNameMismatch)
    );
    assert!(
        p.message.contains("TELEFONIA SAO JOAO LTDA"),
        "{}",
        p.message
    );
    w.sb.shutdown().await;
}

#[tokio::test]
async fn a_name_mismatch_is_audited_and_proceeds_under_warn() {
    let w = world(FiscalPolicy::Warn).await;
    let i = run(&w, proposal(ACTIVE, "Telefonia São Pedro Ltda")).await;
    assert_eq!(i.status, IntegrationStatus::Done, "{i:?}");
    let e = fiscal_events(&w, i.id).await;
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].outcome, AuditOutcome::Ok);
    let finding = &e[0].details["result"]["findings"][0];
    assert_eq!(finding["finding"], "name_mismatch");
    assert_eq!(finding["registered"], "TELEFONIA SAO JOAO LTDA");
    // Another company's name: its registered address was not used; the CEP filled it.
    let r = fiscal_result(&w, i.id).await.unwrap();
    assert_eq!(r["filled"][0]["source_provider"], "via_cep", "{r}");
    assert_eq!(w.fiscal().served(Provider::ViaCep, "01226010"), 1);
    w.sb.shutdown().await;
}

#[tokio::test]
async fn a_provider_down_for_the_whole_run_falls_back_to_the_next() {
    let w = world(FiscalPolicy::Block).await;
    w.fiscal()
        .faults()
        .add(FaultSpec::always(FaultKind::http_error(503)).on_call("brasil_api"))
        .unwrap();
    let first = run(&w, proposal(ACTIVE, "Telefonia São João Ltda")).await;
    let second = run(&w, proposal(NOBODY, "Metalúrgica Horizonte S.A.")).await;
    assert_eq!(first.status, IntegrationStatus::Done, "{first:?}");
    assert_eq!(w.fiscal().served_total(Provider::BrasilApi), 0);
    assert_eq!(w.fiscal().served(Provider::MinhaReceita, ACTIVE), 1);
    assert_eq!(
        fiscal_result(&w, first.id).await.unwrap()["registry"]["source"],
        "minha_receita"
    );
    // "Not found" from the next provider is an answer: held, not retried.
    assert_eq!(second.status, IntegrationStatus::Held, "{second:?}");
    assert_eq!(second.attempts, 0);
    let p = second.problems.iter().next().unwrap();
    assert_eq!(p.code, Code::FiscalNotRegistered);
    assert!(p.message.contains("minha_receita"), "{}", p.message);
    w.sb.shutdown().await;
}

fn all_cnpj_providers_down(w: &World) {
    for p in CNPJ_PROVIDERS {
        w.fiscal()
            .faults()
            .add(FaultSpec::always(FaultKind::http_error(503)).on_call(p.as_str()))
            .unwrap();
    }
}

#[tokio::test]
async fn every_provider_down_under_block_is_retried_then_failed_retryable() {
    let w = world(FiscalPolicy::Block).await;
    all_cnpj_providers_down(&w);
    let mut raw = proposal(ACTIVE, "Telefonia São João Ltda");
    raw.customer.address.district = Some("Santa Cecília".into());
    let i = run(&w, raw).await;
    assert_eq!(i.status, IntegrationStatus::Failed, "{i:?}");
    assert_eq!(i.attempts, 3);
    let f = i.failure.as_ref().unwrap();
    assert_eq!(f.step, FISCAL_STEP);
    assert_eq!(f.system, Some(System::Fiscal));
    assert!(f.retryable);
    for p in ["brasil_api", "minha_receita", "receita_ws"] {
        assert!(f.reason.contains(p), "every provider named: {}", f.reason);
    }
    let e = fiscal_events(&w, i.id).await;
    assert_eq!(
        e.iter()
            .filter(|e| e.outcome == AuditOutcome::Error)
            .count(),
        3
    );
    assert_eq!(w.sb.omie.customer_count(), 0);
    w.sb.shutdown().await;
}

#[tokio::test]
async fn every_provider_down_under_warn_proceeds_with_an_audit_note() {
    let w = world(FiscalPolicy::Warn).await;
    all_cnpj_providers_down(&w);
    let mut raw = proposal(ACTIVE, "Telefonia São João Ltda");
    raw.customer.address.district = Some("Santa Cecília".into());
    let i = run(&w, raw).await;
    assert_eq!(i.status, IntegrationStatus::Done, "{i:?}");
    let r = fiscal_result(&w, i.id).await.unwrap();
    assert_eq!(r["checked"], false);
    let e = fiscal_events(&w, i.id).await;
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].outcome, AuditOutcome::Error);
    assert!(
        e[0].summary.contains("could not be consulted"),
        "{}",
        e[0].summary
    );
    w.sb.shutdown().await;
}

#[tokio::test]
async fn a_person_is_not_applicable_and_policy_off_asks_nothing() {
    let w = world(FiscalPolicy::Block).await;
    let mut raw = proposal("529.982.247-25", "Ana Beatriz Souza");
    raw.customer.address.district = Some("Santa Cecília".into());
    let i = run(&w, raw).await;
    assert_eq!(i.status, IntegrationStatus::Done, "{i:?}");
    assert_eq!(fiscal_result(&w, i.id).await.unwrap()["applicable"], false);
    assert_eq!(w.cnpj_answers(), 0);
    w.sb.shutdown().await;

    let w = world(FiscalPolicy::Off).await;
    let mut raw = proposal(CLOSED, "Outra Empresa Qualquer Ltda");
    raw.customer.address.district = Some("Centro".into());
    let i = run(&w, raw).await;
    assert_eq!(i.status, IntegrationStatus::Done, "{i:?}");
    assert_eq!(fiscal_result(&w, i.id).await, None);
    let asked: u64 = Provider::ALL
        .iter()
        .map(|p| w.fiscal().served_total(*p))
        .sum();
    assert_eq!(asked, 0, "no call made");
    w.sb.shutdown().await;
}

#[tokio::test]
async fn a_configuration_with_a_fiscal_policy_gets_the_fiscal_sandbox() {
    // `sig demo` and `sig sandbox` start from the configuration: a company that checks its
    // customers brings the fiscal sandbox, and the written copy points `[fiscal]` at it.
    let text = DEMO_CONFIG.replace(
        "docsales_account = \"demo\"\n",
        "docsales_account = \"demo\"\nfiscal = \"warn\"\n",
    );
    let secrets = sig_cli::sandboxes::GeneratedSecrets::default();
    let mut config = Config::from_toml(&text, std::path::Path::new("."), &secrets).unwrap();
    let sb = DemoSandboxes::from_config(&config, &[], DemoOptions::demo())
        .await
        .unwrap();
    let fiscal = sb.fiscal.as_ref().expect("started for a warn company");
    sb.point_config(&mut config).unwrap();
    assert_eq!(
        config.fiscal.base_urls["minha_receita"],
        fiscal.base_url(Provider::MinhaReceita)
    );
    let dir = std::env::temp_dir();
    let written = sig_cli::sandboxes::pointed_config(&text, &dir, &config).unwrap();
    let again = Config::from_toml(&written, &dir, &MapSecrets(secrets.values())).unwrap();
    assert_eq!(again.fiscal.base_urls, config.fiscal.base_urls);
    assert_eq!(again.companies[0].fiscal, FiscalPolicy::Warn);
    sb.shutdown().await;

    // Off everywhere (the demo): no fiscal sandbox.
    let config = Config::from_toml(DEMO_CONFIG, std::path::Path::new("."), &secrets).unwrap();
    let sb = DemoSandboxes::from_config(&config, &[], DemoOptions::demo())
        .await
        .unwrap();
    assert!(sb.fiscal.is_none());
    sb.shutdown().await;
}
