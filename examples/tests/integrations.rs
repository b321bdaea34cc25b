//! `sig integrations` end to end: a store filled by a real pipeline run against the sandboxes
//! (done, failed on a permanent Omie fault, failed on a missing DocSales proposal, held on an
//! invalid CPF), then the real binary listing, showing, retrying and cancelling.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use sig_cli::runtime::{Runtime, open_store};
use sig_core::ProposalStatus;
use sig_core::config::{Config, MapSecrets};
use sig_core::ids::IntegrationId;
use sig_core::pipeline::{IntakeOutcome, Settings};
use sig_core::ports::SourceKey;
use sig_core::store::{Actor, AuditFilter, AuditOutcome, IntegrationStatus, Store};
use sig_sandbox::{FaultKind, FaultSpec};

fn lines(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn statuses(out: &str) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for v in lines(out) {
        *m.entry(v["status"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    m
}

async fn take_in(rt: &Runtime, n: u64) -> IntegrationId {
    let outcome = rt
        .pipeline
        .intake(
            &"demo".parse().unwrap(),
            SourceKey {
                account: "demo".into(),
                proposal_id: (FIRST_ID + n).to_string(),
            },
            &ProposalStatus::Approved,
            Actor::Webhook("demo".into()),
            None,
        )
        .await
        .unwrap();
    match outcome {
        IntakeOutcome::Created { integration } => integration,
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_commands_on_a_store_with_failures_and_held_integrations() {
    // Proposals 0–3 and 5 are valid; 4 carries an invalid CPF.
    let docs: Vec<_> = (0..6).map(|n| proposal(n, n != 4)).collect();
    let env = Env::start("ops", docs, "reconcile_interval_s = 0").await;
    let config = Config::load(&env.config, &MapSecrets(env.secrets.clone())).unwrap();
    let store: Arc<dyn Store> = open_store(&config).unwrap();
    let settings = Settings {
        backoff_base: Duration::from_millis(10),
        backoff_max: Duration::from_millis(50),
        ..Settings::default()
    };
    let rt = Runtime::build(&config, store.clone(), settings)
        .await
        .unwrap();

    // A real run: two go through; then Omie refuses every contract (a permanent business
    // fault) for two more; one is held; one is gone from DocSales.
    let done_a = take_in(&rt, 0).await;
    let done_b = take_in(&rt, 1).await;
    rt.run_until_idle().await.unwrap();
    env.sb
        .omie
        .faults()
        .set(vec![
            FaultSpec::permanent(
                FaultKind::business(
                    500,
                    json!({"faultstring": "ERROR: Código do serviço não cadastrado", "faultcode": "SOAP-ENV:Client-103"}),
                ),
                1.0,
                3,
            )
            .on_call("IncluirContrato"),
        ])
        .unwrap();
    let failed_c = take_in(&rt, 2).await;
    let failed_d = take_in(&rt, 3).await;
    let held = take_in(&rt, 4).await;
    env.sb
        .docsales
        .faults()
        .set(vec![
            FaultSpec::permanent(
                FaultKind::business(
                    404,
                    json!({"error": "not_found", "message": "Proposta não encontrada"}),
                ),
                1.0,
                4,
            )
            .on_call("get_proposal")
            .on_key((FIRST_ID + 5).to_string()),
        ])
        .unwrap();
    let gone = take_in(&rt, 5).await;
    rt.run_until_idle().await.unwrap();

    // list
    let (code, out, err) = env.integrations(&["list", "--json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        statuses(&out),
        BTreeMap::from([("done".into(), 2), ("failed".into(), 3), ("held".into(), 1)])
    );
    let (code, out, _) = env.integrations(&["list", "--dead-letter"]);
    assert_eq!(code, 0, "business outcomes are output, not errors");
    for id in [failed_c, failed_d, held, gone] {
        assert!(
            out.contains(&id.to_string()),
            "{id} in the dead-letter view:\n{out}"
        );
    }
    for id in [done_a, done_b] {
        assert!(!out.contains(&id.to_string()), "{id} is done:\n{out}");
    }
    assert!(out.contains("dead letters (failed + held): 4"), "{out}");
    let (code, _, _) = env.integrations(&["--strict", "list", "--dead-letter"]);
    assert_eq!(code, 1, "--strict turns dead letters into exit 1");
    let (_, out, _) = env.integrations(&["list", "--status", "held", "--json"]);
    let h = lines(&out);
    assert_eq!(h.len(), 1);
    assert_eq!(h[0]["id"], held.to_string());
    assert!(h[0]["problems"].as_u64().unwrap() >= 1);
    let (_, out, _) = env.integrations(&["list", "--since", "1h", "--json"]);
    assert_eq!(lines(&out).len(), 6);
    let (_, out, _) = env.integrations(&["list", "--since", "2099-01-01T00:00:00Z", "--json"]);
    assert!(out.trim().is_empty(), "{out}");
    let (_, out, _) = env.integrations(&["list", "--status", "failed", "--limit", "2", "--json"]);
    assert_eq!(lines(&out).len(), 2, "the newest two");
    let (code, _, err) = env.integrations(&["list", "--status", "bogus"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--status"), "{err}");

    // show: the timeline with durations, errors, external ids.
    let (code, out, err) = env.integrations(&["show", &failed_c.to_string(), "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["integration"]["status"], "failed");
    assert_eq!(v["integration"]["failure"]["step"], "contract:0");
    assert_eq!(v["integration"]["failure"]["system"], "omie");
    assert_eq!(v["integration"]["failure"]["retryable"], false);
    let timeline = v["timeline"].as_array().unwrap();
    let actions: Vec<&str> = timeline
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in [
        "intake",
        "step.fetch",
        "step.validate",
        "step.customer",
        "step.erp_customer",
        "step.contract:0",
        "failed",
    ] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
    let erp = timeline
        .iter()
        .find(|e| e["action"] == "step.erp_customer")
        .unwrap();
    assert_eq!(erp["outcome"], "ok");
    assert!(erp["duration_ms"].is_u64(), "{erp}");
    let contract = timeline
        .iter()
        .find(|e| e["action"] == "step.contract:0")
        .unwrap();
    assert_eq!(contract["outcome"], "error");
    assert_eq!(contract["call"], "omie IncluirContrato");
    assert!(
        contract["summary"].as_str().unwrap().contains("Client-103"),
        "{contract}"
    );
    let records = v["records"].as_array().unwrap();
    assert!(
        records
            .iter()
            .any(|r| r["system"] == "omie" && r["kind"] == "customer" && r["id"].is_i64()),
        "{records:?}"
    );
    assert!(
        v["report"]["tax_id"].as_str().unwrap().starts_with("***."),
        "the CPF is masked"
    );
    let (_, human, _) = env.integrations(&["show", &failed_c.to_string()]);
    for part in [
        "Timeline (BRT)",
        "step.contract:0",
        "External records",
        "omie customer",
        "Failed at contract:0",
    ] {
        assert!(human.contains(part), "{part} in:\n{human}");
    }
    let (_, human, _) = env.integrations(&["show", &gone.to_string()]);
    assert!(human.contains("Failed at fetch"), "{human}");
    let (_, human, _) = env.integrations(&["show", &held.to_string()]);
    assert!(
        human.contains("Held for a person") && human.contains("customer.tax_id"),
        "{human}"
    );
    let (_, out, _) = env.integrations(&["show", &done_a.to_string(), "--json"]);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    let kinds: Vec<String> = v["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{}.{}",
                r["system"].as_str().unwrap(),
                r["kind"].as_str().unwrap()
            )
        })
        .collect();
    for k in [
        "omie.customer",
        "omie.contract",
        "nextbilling.customer",
        "nextbilling.line",
        "nextbilling.did",
    ] {
        assert!(kinds.contains(&k.to_owned()), "{k} in {kinds:?}");
    }

    // retry: who acts, and whether the policy lets them.
    let c = failed_c.to_string();
    let (code, _, err) = env.integrations(&["retry", &c]);
    assert_eq!(code, 2, "no actor: {err}");
    let (code, _, err) = env.integrations(&["retry", &c, "--as", "ghost"]);
    assert_eq!(code, 2, "not a configured user: {err}");
    let (code, _, err) = env.integrations(&["retry", "not-an-id", "--as", "ana"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = env.integrations(&["retry", &c, "--as", "vera"]);
    assert_eq!(code, 1, "a viewer may not retry");
    assert!(
        err.contains("refused") && err.contains("retry_integration"),
        "{err}"
    );
    let denied = store
        .audit(&AuditFilter {
            integration: Some(failed_c),
            action_prefix: Some("authz.".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(denied.len(), 1);
    assert_eq!(denied[0].outcome, AuditOutcome::Denied);
    assert_eq!(denied[0].actor, Actor::User("vera".parse().unwrap()));
    assert_eq!(
        store.get(failed_c).await.unwrap().unwrap().status,
        IntegrationStatus::Failed,
        "a denied retry changes nothing"
    );

    // Omie is fixed; the operator retries one, the admin all the others.
    env.sb.omie.faults().clear();
    let (code, out, err) = env.integrations(&["retry", &c, "--as", "bruno"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("retried"), "{out}");
    assert_eq!(
        store.get(failed_c).await.unwrap().unwrap().status,
        IntegrationStatus::Pending
    );
    let (code, out, err) = env.integrations(&["retry", "--all-failed", "--as", "ana", "--json"]);
    assert_eq!(code, 0, "{err}");
    let retried: Vec<String> = lines(&out)
        .iter()
        .filter(|l| l["outcome"] == "retried")
        .map(|l| l["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(retried.len(), 2, "{out}");
    assert!(retried.contains(&failed_d.to_string()) && retried.contains(&gone.to_string()));
    rt.run_until_idle().await.unwrap();
    for id in [failed_c, failed_d] {
        assert_eq!(
            store.get(id).await.unwrap().unwrap().status,
            IntegrationStatus::Done,
            "resumed after its journaled steps"
        );
    }
    assert_eq!(
        store.get(gone).await.unwrap().unwrap().status,
        IntegrationStatus::Failed,
        "DocSales still has no such proposal"
    );
    let (creates, duplicates) = env.upstream();
    assert_eq!(duplicates, 0, "{creates:?}");
    assert_eq!(
        creates.get("omie.customer"),
        Some(&4),
        "the retried ones were not re-created"
    );
    assert_eq!(creates.get("omie.contract"), Some(&4));

    // cancel, audited with the person and the reason.
    let (code, _, err) = env.integrations(&[
        "cancel",
        &held.to_string(),
        "--as",
        "bruno",
        "--reason",
        " ",
    ]);
    assert_eq!(code, 2, "a reason is required: {err}");
    let (code, out, err) = env.integrations(&[
        "cancel",
        &held.to_string(),
        "--as",
        "bruno",
        "--reason",
        "customer withdrew the proposal",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(lines(&out)[0]["outcome"], "cancelled");
    assert_eq!(
        store.get(held).await.unwrap().unwrap().status,
        IntegrationStatus::Cancelled
    );
    let cancel = store
        .audit(&AuditFilter {
            integration: Some(held),
            action_prefix: Some("cancel".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(cancel.len(), 1);
    assert_eq!(cancel[0].actor, Actor::User("bruno".parse().unwrap()));
    assert_eq!(cancel[0].summary, "customer withdrew the proposal");
    let (code, _, err) = env.integrations(&[
        "cancel",
        &done_a.to_string(),
        "--as",
        "bruno",
        "--reason",
        "x",
    ]);
    assert_eq!(code, 1, "a done integration cannot be cancelled");
    assert!(err.contains("already finished"), "{err}");

    // The retried one's timeline shows who did what.
    let (_, out, _) = env.integrations(&["show", &c, "--json"]);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    let retry = v["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "retry")
        .unwrap()
        .clone();
    assert_eq!(retry["actor"], json!({"type": "user", "id": "bruno"}));
    assert_eq!(v["integration"]["status"], "done");

    let (_, out, _) = env.integrations(&["list", "--json"]);
    assert_eq!(
        statuses(&out),
        BTreeMap::from([
            ("done".into(), 4),
            ("failed".into(), 1),
            ("cancelled".into(), 1)
        ])
    );
}
