//! The DocSales sandbox: same endpoints and error shapes as the client expects, seeded
//! faults, create counters, and a webhook sender with retries, duplicates and out-of-order
//! delivery that SIG's intake survives.
#![cfg(feature = "sandbox")]

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use secrecy::SecretString;
use sig_core::ProposalStatus;
use sig_core::ports::{ProposalSource, UpstreamErrorKind};
use sig_docsales::sandbox::{DocSalesSandbox, SandboxOptions, SenderConfig};
use sig_docsales::webhook::{Notification, WebhookRequest, intake};
use sig_docsales::wire::{self, CustomerRecord, NewDocument, ProposalDocument, ProposalRef};
use sig_docsales::{CustomerRef, DocSalesClient, DocSalesError, RetryPolicy, mapping};
use sig_sandbox::{FaultKind, FaultSpec};
use url::Url;

const TOKEN: &str = "sandbox-token";
const SECRET: &str = "hook-secret";

async fn sandbox() -> DocSalesSandbox {
    DocSalesSandbox::start(SandboxOptions::new(SecretString::from(TOKEN), "acme"))
        .await
        .unwrap()
}

fn fixture_doc(name: &str) -> ProposalDocument {
    wire::decode_proposal(&common::fixture(name)).unwrap()
}

fn fast(client: DocSalesClient, sb: &DocSalesSandbox) -> DocSalesClient {
    let _ = client;
    DocSalesClient::builder(sb.base_url(), SecretString::from(TOKEN))
        .account("acme")
        .timeout(Duration::from_millis(500))
        .retry(RetryPolicy {
            attempts: 4,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
        })
        .build()
        .unwrap()
}

#[tokio::test]
async fn seed_approve_fetch_list_and_validate_through_the_port() {
    let sb = sandbox().await;
    let id = sb.seed_proposal(fixture_doc("proposal-approved-company.json"));
    assert_eq!(id, 44073);
    let mut person = fixture_doc("proposal-approved-person.json");
    person.document.as_mut().unwrap().id = None;
    person.document.as_mut().unwrap().status = None;
    let pid = sb.seed_proposal(person);
    assert_eq!(
        sb.proposal(pid).unwrap().document.unwrap().status,
        Some(ProposalStatus::Sent)
    );

    let client = sb.client();
    let doc = client.get_proposal(&ProposalRef::Id(id)).await.unwrap();
    assert_eq!(doc, sb.proposal(id).unwrap());
    let by_uuid = client
        .get_proposal(&"5f0c2d1e-8a4b-4c1e-9d7a-2b3c4d5e6f70".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(by_uuid.document.unwrap().id, Some(pid));

    let source = sb.source(Arc::new(common::catalog()));
    let page = source.list_approved(None).await.unwrap();
    let ids: Vec<_> = page.keys.iter().map(|k| k.proposal_id.clone()).collect();
    assert_eq!(ids, ["44073"], "only the approved one");
    sb.approve(pid).unwrap();
    let page = source.list_approved(None).await.unwrap();
    assert_eq!(page.keys.len(), 2);
    assert_eq!(
        page.keys[1].proposal_id,
        pid.to_string(),
        "ordered by change"
    );

    let sourced = source.fetch(&pid.to_string()).await.unwrap();
    let proposal = mapping::validate(&sourced, &common::catalog()).unwrap();
    assert_eq!(proposal.status, ProposalStatus::Approved);

    let e = source.fetch("999").await.unwrap_err();
    assert_eq!(e.kind, UpstreamErrorKind::NotFound);
    sb.shutdown().await;
}

#[tokio::test]
async fn listing_pages_with_a_cursor() {
    let sb = DocSalesSandbox::start(SandboxOptions {
        page_size: 2,
        ..SandboxOptions::new(SecretString::from(TOKEN), "acme")
    })
    .await
    .unwrap();
    for _ in 0..5 {
        let id = sb.seed_proposal(ProposalDocument::default());
        sb.approve(id);
    }
    let source = sb.source(Arc::default());
    let mut cursor = None;
    let mut seen = Vec::new();
    loop {
        let page = source.list_approved(cursor.as_deref()).await.unwrap();
        seen.extend(page.keys);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 5);
    sb.shutdown().await;
}

#[tokio::test]
async fn same_errors_as_docsales() {
    let sb = sandbox().await;
    sb.seed_proposal(fixture_doc("proposal-approved-company.json"));
    let wrong = DocSalesClient::builder(sb.base_url(), SecretString::from("nope"))
        .build()
        .unwrap();
    let e = wrong
        .get_proposal(&ProposalRef::Id(44073))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            DocSalesError::Http {
                status: 401,
                error: Some(_),
                ..
            }
        ),
        "{e:?}"
    );
    let client = sb.client();
    let e = client.get_proposal(&ProposalRef::Id(1)).await.unwrap_err();
    assert_eq!(e.kind(), UpstreamErrorKind::NotFound);
    let e = client
        .customer_proposals(&CustomerRef::Code("nobody".into()))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(404));
    let list = client
        .customer_proposals(&CustomerRef::Cnpj("12ABC34501DE35".parse().unwrap()))
        .await
        .unwrap();
    assert_eq!(list.proposals.len(), 1);
    let list = client
        .customer_proposals(&CustomerRef::Id(48011))
        .await
        .unwrap();
    assert_eq!(list.proposals.len(), 1);
    let e = client
        .upsert_customer("c1", &CustomerRecord::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), UpstreamErrorKind::Rejected);
    assert!(client.registration_data().await.unwrap().templates.len() == 1);
    sb.shutdown().await;
}

#[tokio::test]
async fn creates_are_counted_and_a_lost_put_response_is_retried_safely() {
    let sb = sandbox().await;
    let client = fast(sb.client(), &sb);
    let created = client
        .create_document(&NewDocument {
            code: Some("SIG-1".into()),
            customer_id: "c-1".into(),
            ..NewDocument::default()
        })
        .await
        .unwrap();
    assert_eq!(created.status, Some(ProposalStatus::Active));
    assert_eq!(sb.counters().count("proposal", "SIG-1"), 1);
    let fetched = client
        .get_proposal(&ProposalRef::ExternalUuid(created.external_uuid.unwrap()))
        .await
        .unwrap();
    assert_eq!(fetched.document.unwrap().code.as_deref(), Some("SIG-1"));

    // The PUT is applied but its response is lost once: the client retries, the upsert
    // updates instead of creating again.
    sb.faults()
        .add(
            FaultSpec::permanent(FaultKind::ResponseLost, 1.0, 1)
                .on_call("upsert_customer")
                .on_key("cust-1"),
        )
        .unwrap();
    let record = CustomerRecord {
        name: "ACME".into(),
        legal_code: "12ABC34501DE35".into(),
        customer_type: "company".into(),
        ..CustomerRecord::default()
    };
    let e = client.upsert_customer("cust-1", &record).await.unwrap_err();
    assert!(e.maybe_applied(), "{e:?}");
    sb.faults().clear();
    let r = client.upsert_customer("cust-1", &record).await.unwrap();
    assert_eq!(sb.counters().count("customer", "cust-1"), 1, "created once");
    assert_eq!(
        sb.customer("cust-1").unwrap()["id"],
        serde_json::json!(r.id.unwrap())
    );

    // Transient 5xx with HTML on reads are retried through.
    sb.seed_proposal(fixture_doc("proposal-approved-company.json"));
    sb.faults()
        .add(FaultSpec::transient(FaultKind::http_error(503), 0.3, 42).on_call("get_proposal"))
        .unwrap();
    for _ in 0..5 {
        client.get_proposal(&ProposalRef::Id(44073)).await.unwrap();
    }
    let state: serde_json::Value =
        reqwest::get(format!("{}_sandbox/state", sb.server().base_url()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(state["sandbox"], "docsales");
    assert_eq!(state["counters"]["customer"]["cust-1"], 1);
    assert!(
        state["injected"]["http_error"].as_u64().unwrap() > 0,
        "{state}"
    );
    assert!(state["records"]["proposals"].as_array().unwrap().len() >= 2);
    sb.shutdown().await;
}

#[tokio::test]
async fn malformed_json_fault_is_a_retryable_decode_error() {
    let sb = sandbox().await;
    sb.seed_proposal(fixture_doc("proposal-approved-company.json"));
    sb.faults()
        .add(FaultSpec::always(FaultKind::MalformedJson { body: None }).on_call("get_proposal"))
        .unwrap();
    let client = fast(sb.client(), &sb);
    let e = client
        .get_proposal(&ProposalRef::Id(44073))
        .await
        .unwrap_err();
    assert!(matches!(e, DocSalesError::Decode { .. }), "{e:?}");
    assert!(e.is_retryable());
    sb.shutdown().await;
}

/// A receiver that runs SIG's intake and refuses the first `fail_first` requests with 503.
#[derive(Clone, Default)]
struct Receiver {
    seen: Arc<Mutex<Vec<Notification>>>,
    requests: Arc<AtomicUsize>,
    fail_first: usize,
}

async fn receive(State(rx): State<Receiver>, request: Request) -> StatusCode {
    let n = rx.requests.fetch_add(1, Ordering::SeqCst);
    let (parts, body) = request.into_parts();
    let body: Bytes = axum::body::to_bytes(body, 1 << 22).await.unwrap();
    if n < rx.fail_first {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let req = WebhookRequest {
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect(),
        body: body.to_vec(),
    };
    match intake(&req, "acme", &SecretString::from(SECRET)) {
        Ok(notification) => {
            rx.seen.lock().unwrap().push(notification);
            StatusCode::OK
        }
        Err(e) => StatusCode::from_u16(e.http_status()).unwrap(),
    }
}

async fn receiver(fail_first: usize) -> (Receiver, Url) {
    let rx = Receiver {
        fail_first,
        ..Receiver::default()
    };
    let app = Router::new().fallback(receive).with_state(rx.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let url = Url::parse(&format!("http://{addr}/webhooks/docsales/{SECRET}")).unwrap();
    (rx, url)
}

#[tokio::test]
async fn webhooks_with_retries_duplicates_and_disorder_are_harmless() {
    let sb = sandbox().await;
    let (rx, url) = receiver(2).await;
    let a = sb.seed_proposal(fixture_doc("proposal-approved-company.json"));
    let mut p = fixture_doc("proposal-approved-person.json");
    p.document.as_mut().unwrap().status = Some(ProposalStatus::Sent);
    let b = sb.seed_proposal(p);
    sb.set_status(a, ProposalStatus::Read);
    sb.approve(b);
    assert_eq!(sb.pending_notifications(), 4);

    let sender = sb.webhook_sender(
        url,
        SenderConfig {
            seed: 7,
            duplicate_rate: 0.5,
            shuffle: true,
            max_attempts: 4,
            retry_delay: Duration::from_millis(1),
            timeout: Duration::from_secs(2),
        },
    );
    let deliveries = sender.flush().await;
    assert_eq!(sb.pending_notifications(), 0);
    assert!(deliveries.iter().all(|d| d.delivered), "{deliveries:?}");
    assert!(deliveries.len() > 4, "some duplicates: {deliveries:?}");
    assert!(
        deliveries.iter().any(|d| d.attempts > 1),
        "the 503s were retried"
    );
    assert_eq!(
        rx.requests.load(Ordering::SeqCst),
        deliveries
            .iter()
            .map(|d| d.attempts as usize)
            .sum::<usize>()
    );

    let seen = rx.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), deliveries.len());
    let keys: BTreeSet<_> = seen.iter().map(|n| n.key.clone()).collect();
    assert_eq!(keys.len(), 2, "de-duplicated by source key");
    // Whatever the order, re-fetching gives the current truth: b approved, a not.
    let source = sb.source(Arc::new(common::catalog()));
    for key in &keys {
        let fresh = source.fetch(&key.proposal_id).await.unwrap();
        let approved = fresh.raw.status.as_deref() == Some("approved");
        assert_eq!(approved, key.proposal_id == b.to_string(), "{key:?}");
    }
    assert!(seen.iter().any(|n| n.starts_integration()));
    sb.shutdown().await;
}

#[tokio::test]
async fn the_sender_is_deterministic_for_a_seed() {
    async fn order(seed: u64) -> Vec<(String, bool)> {
        let (_rx, url) = receiver(0).await;
        let sender = sig_docsales::sandbox::WebhookSender::standalone(
            url,
            SenderConfig {
                seed,
                duplicate_rate: 0.3,
                shuffle: true,
                ..SenderConfig::default()
            },
        );
        let docs = (1..=8)
            .map(|i| {
                wire::decode_proposal(
                    format!(r#"{{"document": {{"id": {i}, "status": "approved"}}}}"#).as_bytes(),
                )
                .unwrap()
            })
            .collect();
        sender
            .send_batch(docs)
            .await
            .into_iter()
            .map(|d| (d.proposal_id, d.duplicate))
            .collect()
    }
    let first = order(3).await;
    assert_eq!(first, order(3).await);
    assert_ne!(first, order(4).await);
    let ids: Vec<_> = first
        .iter()
        .filter(|(_, dup)| !dup)
        .map(|(id, _)| id.clone())
        .collect();
    assert_ne!(
        ids,
        (1..=8).map(|i| i.to_string()).collect::<Vec<_>>(),
        "shuffled"
    );
}

#[tokio::test]
async fn a_wrong_secret_is_not_retried() {
    let sb = sandbox().await;
    let (rx, url) = receiver(0).await;
    let wrong = Url::parse(&url.as_str().replace(SECRET, "guess")).unwrap();
    sb.seed_proposal(fixture_doc("proposal-approved-company.json"));
    let deliveries = sb
        .webhook_sender(wrong, SenderConfig::default())
        .flush()
        .await;
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].last_status, Some(401));
    assert_eq!(deliveries[0].attempts, 1);
    assert!(rx.seen.lock().unwrap().is_empty());
    sb.shutdown().await;
}
