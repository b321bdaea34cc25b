//! Acceptance against the sandbox with shortened windows: concurrent bulk upserts never trip
//! a misuse block and never duplicate, even when 10 % of write answers are lost.
#![cfg(feature = "sandbox")]

mod common;

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use serde_json::{Value, json};
use sig_core::ids::{CustomerId, ServiceOrderId};
use sig_core::ports::{Attempt, ContractRequest, Erp, UpstreamErrorKind};
use sig_omie::OmieErp;
use sig_omie::sandbox::{FaultKind, FaultSpec, OmieSandbox, OmieSandboxConfig};
use sig_omie::wire::clientes::{ClienteCadastro, ListarClientes};
use sig_omie::wire::contratos::{ContratoCabecalho, ContratoCadastro};

/// Windows at 3 % of Omie's: a 60 s window lasts 1.8 s (long enough that scheduling jitter
/// on a busy 2-core machine stays inside the client's headroom).
const SCALE: f64 = 0.03;

/// Upsert `n` customers and their contracts, `concurrency` at a time, and check every
/// result against the sandbox's records.
async fn bulk(sandbox: &OmieSandbox, erp: &OmieErp, n: usize, concurrency: usize) {
    let order = common::order();
    let terms = common::terms();
    let results: Vec<(CustomerId, ServiceOrderId, i64, i64)> = futures::stream::iter(0..n)
        .map(|i| {
            let (order, terms) = (&order, &terms);
            async move {
                let id = CustomerId::new();
                let customer = common::customer(&common::cpf(1000 + i as u64), "CLIENTE TESTE");
                let c = erp
                    .upsert_customer(id, &customer, None)
                    .await
                    .unwrap_or_else(|e| panic!("customer {i}: {e:?}"));
                let order_id = ServiceOrderId::new();
                let req = ContractRequest {
                    order_id,
                    order,
                    terms,
                    description: "SIP 10 canais".into(),
                    attempt: Attempt::Again,
                };
                let k = erp
                    .ensure_contract(&c, &req)
                    .await
                    .unwrap_or_else(|e| panic!("contract {i}: {e:?}"));
                (id, order_id, c.erp_id, k.erp_id)
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    assert_eq!(results.len(), n);
    let counters = sandbox.counters();
    for (id, order_id, erp_id, contract_id) in results {
        let code = id.to_string();
        let held = sandbox
            .customer(&code)
            .expect("the sandbox holds the customer");
        assert_eq!(held.codigo_cliente_omie, Some(erp_id), "customer {code}");
        assert_eq!(counters.count("customer", &code), 1, "creates of {code}");
        let order_code = order_id.to_string();
        let contracts = sandbox.contracts_with_code(&order_code);
        assert_eq!(contracts.len(), 1, "contracts of order {order_code}");
        assert_eq!(contracts[0].cabecalho.nCodCtr, Some(contract_id));
        assert_eq!(contracts[0].cabecalho.nCodCli, Some(erp_id));
        assert_eq!(sandbox.contracts_of(erp_id).len(), 1);
        assert_eq!(counters.count("contract", &order_code), 1);
    }
    assert!(
        counters.duplicates().is_empty(),
        "{:?}",
        counters.duplicates()
    );
}

fn erp_for(sandbox: &OmieSandbox) -> OmieErp {
    let client = sandbox
        .client_builder()
        .attempt_timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    OmieErp::new(client).with_write_attempts(5)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_customers_and_contracts_concurrently_never_block() {
    let sandbox = OmieSandbox::start(OmieSandboxConfig::scaled(SCALE))
        .await
        .unwrap();
    let erp = erp_for(&sandbox);
    bulk(&sandbox, &erp, 1000, 32).await;
    let stats = sandbox.stats();
    assert_eq!(stats.misuse_blocks, 0, "{stats:?}");
    assert_eq!(stats.blocked_calls, 0, "{stats:?}");
    assert_eq!(
        stats.rate_limited, 0,
        "the client kept under the rate: {stats:?}"
    );
    assert!(erp.client().breaker_state().is_none());
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_write_answers_never_duplicate() {
    let mut config = OmieSandboxConfig::scaled(SCALE);
    config.faults = ["UpsertCliente", "IncluirContrato"]
        .iter()
        .enumerate()
        .map(|(i, call)| {
            FaultSpec::transient(FaultKind::ResponseLost, 0.1, 11 + i as u64).on_call(*call)
        })
        .collect();
    let sandbox = OmieSandbox::start(config).await.unwrap();
    let erp = erp_for(&sandbox);
    bulk(&sandbox, &erp, 1000, 32).await;
    let injected = sandbox.faults().injected();
    let lost = injected.get("response_lost").copied().unwrap_or(0);
    assert!(
        lost >= 120,
        "about 10 % of 2 000 writes lose their answer, got {lost}"
    );
    let stats = sandbox.stats();
    assert_eq!(stats.misuse_blocks, 0, "{stats:?}");
    assert!(erp.client().breaker_state().is_none());
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_transient_fault_kind_is_survived_without_duplicates() {
    let mut config = OmieSandboxConfig::scaled(0.02);
    config.faults = vec![
        FaultSpec::transient(FaultKind::latency(Duration::from_millis(30)), 0.05, 1),
        FaultSpec::transient(FaultKind::http_error(500), 0.02, 2),
        FaultSpec::transient(FaultKind::ConnectionReset, 0.02, 3),
        FaultSpec::transient(FaultKind::MalformedJson { body: None }, 0.02, 4),
        FaultSpec::transient(FaultKind::timeout(), 0.02, 5),
        FaultSpec::transient(FaultKind::ResponseLost, 0.02, 6),
    ];
    let sandbox = OmieSandbox::start(config).await.unwrap();
    // The timeout fault holds 600 ms: the attempt timeout must fire first.
    let client = sandbox
        .client_builder()
        .attempt_timeout(Duration::from_millis(400))
        .build()
        .unwrap();
    let erp = OmieErp::new(client).with_write_attempts(6);
    bulk(&sandbox, &erp, 200, 16).await;
    let injected = sandbox.faults().injected();
    for kind in [
        "latency",
        "http_error",
        "connection_reset",
        "malformed_json",
        "timeout",
        "response_lost",
    ] {
        assert!(
            injected.get(kind).copied().unwrap_or(0) > 0,
            "{kind} never fired: {injected:?}"
        );
    }
    assert_eq!(sandbox.stats().misuse_blocks, 0);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_cpf_already_in_omie_is_adopted_not_duplicated() {
    let sandbox = OmieSandbox::start(OmieSandboxConfig::scaled(SCALE))
        .await
        .unwrap();
    let erp = erp_for(&sandbox);
    let customer = common::customer(&common::cpf(77), "MARIA");
    // Registered by hand in Omie: no integration code.
    let pre = erp
        .client()
        .incluir_cliente(&ClienteCadastro {
            razao_social: Some("MARIA (manual)".into()),
            cnpj_cpf: Some(customer.tax_id.formatted()),
            ..ClienteCadastro::default()
        })
        .await
        .unwrap();
    let id = CustomerId::new();
    let got = erp.upsert_customer(id, &customer, None).await.unwrap();
    assert_eq!(got.erp_id, pre.codigo_cliente_omie);
    assert!(!got.created);
    let held = sandbox
        .customer(&id.to_string())
        .expect("SIG's code associated");
    assert_eq!(held.codigo_cliente_omie, Some(pre.codigo_cliente_omie));
    assert_eq!(
        held.razao_social.as_deref(),
        Some("MARIA"),
        "data brought up to date"
    );
    assert_eq!(sandbox.counters().count("customer", &id.to_string()), 0);
    assert_eq!(sandbox.customer_count(), 1);

    // Held under another system's code: adopted, that code kept.
    let other = common::customer(&common::cpf(78), "JOAO");
    erp.client()
        .incluir_cliente(&ClienteCadastro {
            codigo_cliente_integracao: Some("ERP-LEGADO-9".into()),
            razao_social: Some("JOAO".into()),
            cnpj_cpf: Some(other.tax_id.as_str().to_owned()),
            ..ClienteCadastro::default()
        })
        .await
        .unwrap();
    let got = erp
        .upsert_customer(CustomerId::new(), &other, None)
        .await
        .unwrap();
    assert!(got.adopted);
    assert_eq!(got.integration_code.as_deref(), Some("ERP-LEGADO-9"));
    assert_eq!(sandbox.customer_count(), 2);
    // A later upsert with the stored link changes the same record.
    let again = erp
        .upsert_customer(CustomerId::new(), &other, Some(got.erp_id))
        .await
        .unwrap();
    assert_eq!(again.erp_id, got.erp_id);
    assert_eq!(sandbox.customer_count(), 2);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn contracts_unique_by_code_but_a_second_code_is_accepted() {
    let sandbox = OmieSandbox::start(OmieSandboxConfig::scaled(SCALE))
        .await
        .unwrap();
    let erp = erp_for(&sandbox);
    let c = erp
        .upsert_customer(
            CustomerId::new(),
            &common::customer(&common::cpf(5), "ANA"),
            None,
        )
        .await
        .unwrap();
    let k = |code: &str| ContratoCadastro {
        cabecalho: ContratoCabecalho {
            cCodIntCtr: Some(code.into()),
            nCodCli: Some(c.erp_id),
            ..ContratoCabecalho::default()
        },
        ..ContratoCadastro::default()
    };
    erp.client().incluir_contrato(&k("A")).await.unwrap();
    let dup = erp.client().incluir_contrato(&k("A")).await.unwrap_err();
    assert_eq!(dup.kind(), UpstreamErrorKind::Conflict, "{dup}");
    // Omie accepts a second contract for the same customer under another code: the
    // sandbox too, so only the client's check prevents double billing.
    erp.client().incluir_contrato(&k("B")).await.unwrap();
    assert_eq!(sandbox.contracts_of(c.erp_id).len(), 2);
    // Ensuring an order twice yields one contract.
    let (order, terms) = (common::order(), common::terms());
    let req = ContractRequest {
        order_id: ServiceOrderId::new(),
        order: &order,
        terms: &terms,
        description: "x".into(),
        attempt: Attempt::Again,
    };
    let first = erp.ensure_contract(&c, &req).await.unwrap();
    let second = erp.ensure_contract(&c, &req).await.unwrap();
    assert!(first.created && !second.created);
    assert_eq!(first.erp_id, second.erp_id);
    assert_eq!(sandbox.contracts_of(c.erp_id).len(), 3);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn bad_credentials_get_the_documented_fault() {
    let sandbox = OmieSandbox::start(OmieSandboxConfig::scaled(SCALE))
        .await
        .unwrap();
    let client =
        sig_omie::OmieClient::builder("wrong".to_owned().into(), "wrong".to_owned().into())
            .base_url(sandbox.base_url())
            .build()
            .unwrap();
    let e = client
        .collect_all(ListarClientes::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), UpstreamErrorKind::Unauthorized, "{e}");
    assert_eq!(e.fault().unwrap().code, "SOAP-ENV:Server");
    sandbox.shutdown().await;
}

/// Without a client keeping the limits, the sandbox refuses with 429, then blocks the key
/// for misuse: the limits the client is tested against are real.
#[tokio::test]
async fn the_sandbox_enforces_rate_limits_and_misuse_blocks() {
    let mut config = OmieSandboxConfig::scaled(SCALE);
    config.method_requests = 5;
    let sandbox = OmieSandbox::start(config).await.unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = format!("{}geral/clientes/", sandbox.base_url());
    let body = json!({"call": "ListarClientes", "app_key": sig_omie::sandbox::SANDBOX_APP_KEY,
        "app_secret": sig_omie::sandbox::SANDBOX_APP_SECRET, "param": [{"pagina": 1, "registros_por_pagina": 10}]});
    let mut statuses = Vec::new();
    let mut last = Value::Null;
    for _ in 0..20 {
        let r = http.post(&url).json(&body).send().await.unwrap();
        statuses.push(r.status().as_u16());
        last = r.json().await.unwrap_or(Value::Null);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    assert_eq!(statuses.last(), Some(&425), "{statuses:?}");
    assert_eq!(last["faultcode"], "MISUSE_API_PROCESS");
    assert!(
        last["faultstring"]
            .as_str()
            .unwrap()
            .contains("1800 segundos"),
        "{last}"
    );
    assert_eq!(sandbox.stats().misuse_blocks, 1);

    // A client that meets the block opens its breaker and stops calling.
    let client = sandbox.client_builder().build().unwrap();
    let e = client
        .collect_all(ListarClientes::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), UpstreamErrorKind::Blocked);
    let before = sandbox.stats().requests;
    let e = client
        .collect_all(ListarClientes::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), UpstreamErrorKind::Blocked);
    assert_eq!(sandbox.stats().requests, before, "no call inside the block");

    // The trailing slash matters.
    let r = http
        .post(url.trim_end_matches('/'))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 301);
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_streams_every_seeded_customer_in_pages_of_100() {
    let mut config = OmieSandboxConfig::scaled(SCALE);
    config.seed_customers = 2_345;
    let sandbox = OmieSandbox::start(config).await.unwrap();
    let client = sandbox.client_builder().build().unwrap();
    let pages: Vec<Vec<ClienteCadastro>> = client
        .pages(ListarClientes::default(), 500)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pages.len(), 24);
    assert!(pages.iter().all(|p| p.len() <= 100));
    let n: usize = pages.iter().map(Vec::len).sum();
    assert_eq!(n, 2_345);
    let state: Value = reqwest::get(format!("{}_sandbox/state", sandbox.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["records"]["customer_count"], 2_345);
    sandbox.shutdown().await;
}
