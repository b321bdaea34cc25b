//! The sandbox's documented errors, its lack of uniqueness, its faults and its counters, and
//! the port run against it.

mod common;

use std::time::Duration;

use secrecy::ExposeSecret;
use serde_json::{Value, json};
use sig_core::AreaCode;
use sig_core::ids::{CustomerId, DidId, LineId, ServiceOrderId};
use sig_core::ports::{Attempt, DidRequest, LineRequest, VoipPlatform};
use sig_next::sandbox::{NextInstance, NextSandbox};
use sig_next::{NextClient, customer_body, keys};
use sig_sandbox::{FaultKind, FaultSpec};

fn client(i: &NextInstance) -> NextClient {
    i.client_builder(i.name().parse().unwrap())
        .timeout(Duration::from_secs(2))
        .retry_min_delay(Duration::from_millis(5))
        .build()
        .unwrap()
}

fn api(i: &NextInstance, action: &str, tail: &str) -> String {
    format!(
        "{}api/{action}/{}/{}{tail}",
        i.base_url(),
        i.api_token().expose_secret(),
        i.api_key().expose_secret()
    )
}

async fn one() -> NextSandbox {
    NextSandbox::builder()
        .instance("next-a")
        .timeout_hold(Duration::from_millis(500))
        .start()
        .await
        .unwrap()
}

fn line(id: LineId) -> LineRequest {
    LineRequest {
        line_id: id,
        order_id: ServiceOrderId::new(),
        rate_id: 0,
        channels: 2,
        area_code: AreaCode::new(11).unwrap(),
        attempt: Attempt::Again,
    }
}

#[tokio::test]
async fn documented_errors() {
    let sandbox = one().await;
    let i = sandbox.instance("next-a").unwrap();
    let http = reqwest::Client::new();

    let bad = format!("{}api/listDevices/nope/nope/1", i.base_url());
    let r = http.get(&bad).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], 1);

    let big = json!({"razao_social": "x".repeat(130 * 1024), "cpf": "1"});
    let r = http
        .put(api(i, "manageCustomers", ""))
        .json(&big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);

    let r = http.get(api(i, "dropTables", "")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r = http
        .get(api(i, "manageCustomers", ""))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "wrong method is an unknown option");

    let r = http
        .put(api(i, "manageCustomers", ""))
        .json(&json!({"razao_social": "ACME"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);

    let r = http
        .put(api(i, "manageCustomers", ""))
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // The client maps a wrong key to Unauthorized.
    let wrong = NextClient::builder(
        "next-a".parse().unwrap(),
        "next-a",
        i.base_url(),
        i.api_token(),
        "wrong".to_owned().into(),
    )
    .build()
    .unwrap();
    let h = wrong.probe(Duration::from_secs(1)).await;
    assert!(!h.healthy && h.reason.contains("403"), "{h:?}");
    assert!(client(i).probe(Duration::from_secs(1)).await.healthy);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn too_many_simultaneous_requests_get_429() {
    let sandbox = NextSandbox::builder()
        .instance("next-a")
        .max_concurrent(1)
        .start()
        .await
        .unwrap();
    let i = sandbox.instance("next-a").unwrap();
    // A latency fault inside the handler holds the only slot for a second; requests made
    // meanwhile are refused with 429.
    i.faults()
        .set(vec![
            FaultSpec::always(FaultKind::latency(Duration::from_millis(1000))).on_call("listDIDs"),
        ])
        .unwrap();
    let http = reqwest::Client::new();
    let slow = tokio::spawn(http.get(api(i, "listDIDs", "/1")).send());
    let mut refused = None;
    while !slow.is_finished() {
        let r = http.get(api(i, "listCustomers", "")).send().await.unwrap();
        if r.status() == 429 {
            refused = Some(r.json::<Value>().await.unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let refused = refused.expect("a request made while the slot was held got 429");
    assert_eq!(refused["error"], 1);
    assert_eq!(slow.await.unwrap().unwrap().status(), 200);
    // Through the client, a read that meets 429 retries until the slot frees.
    i.faults()
        .set(vec![
            FaultSpec::always(FaultKind::latency(Duration::from_millis(100))).on_call("listDIDs"),
        ])
        .unwrap();
    let c = i
        .client_builder("next-a".parse().unwrap())
        .retry_min_delay(Duration::from_millis(50))
        .read_retries(5)
        .build()
        .unwrap();
    let (a, b) = tokio::join!(c.list_dids(1), c.list_dids(1));
    assert!(a.is_ok() && b.is_ok(), "{a:?} {b:?}");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn duplicates_are_accepted_and_counted() {
    let sandbox = one().await;
    let i = sandbox.instance("next-a").unwrap();
    let c = client(i);
    let sig = CustomerId::new();
    let body = customer_body(sig, &common::customer());
    let a = c.create_customer(&body).await.unwrap().unwrap();
    let b = c.create_customer(&body).await.unwrap().unwrap();
    assert_ne!(
        a, b,
        "NextBilling documents no uniqueness, so neither does the sandbox"
    );
    assert_eq!(i.counters().count("customer", &sig.to_string()), 2);
    // The lookup settles on the oldest.
    assert_eq!(c.find_customer(sig).await.unwrap().unwrap().id, a.min(b));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn the_port_finds_instead_of_duplicating() {
    let sandbox = one().await;
    let i = sandbox.instance("next-a").unwrap();
    let c = client(i);
    let sig = CustomerId::new();
    let customer = common::customer();
    let lr = line(LineId::new());
    let did_id = DidId::new();

    for round in 0..2 {
        let vc = c
            .ensure_customer(sig, &customer, Attempt::Again)
            .await
            .unwrap();
        assert_eq!(vc.created, round == 0);
        let vl = c.ensure_line(&vc, &lr).await.unwrap();
        assert_eq!(vl.created, round == 0);
        assert_eq!(vl.username, keys::line_username(lr.line_id));
        let did = DidRequest {
            did_id,
            number: "(11) 3000-0001".parse().unwrap(),
            device_id: vl.voip_id,
            rate_id: 0,
            attempt: Attempt::Again,
        };
        let vd = c.ensure_did(&vc, &did).await.unwrap();
        assert_eq!(vd.created, round == 0);
    }
    assert_eq!(i.counters().count("customer", &sig.to_string()), 1);
    assert_eq!(i.counters().count("line", &lr.line_id.to_string()), 1);
    assert_eq!(i.counters().count("did", &did_id.to_string()), 1);

    // Deactivate and reactivate.
    let vc = c
        .ensure_customer(sig, &customer, Attempt::Again)
        .await
        .unwrap();
    let s = c.set_customer_status(vc.voip_id, false).await.unwrap();
    assert_eq!((s.old_status, s.new_status), (Some(1), Some(0)));

    // /_sandbox/state over HTTP, and no line password in it.
    let state: Value = reqwest::get(format!("{}_sandbox/state", i.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["counters"]["customer"][sig.to_string()], 1);
    assert_eq!(state["records"]["devices"].as_array().unwrap().len(), 1);
    assert!(state["records"]["devices"][0].get("password").is_none());
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_lost_answer_is_found_by_sig_id() {
    let sandbox = NextSandbox::builder()
        .instance("next-a")
        .answer_ids(false)
        .start()
        .await
        .unwrap();
    let i = sandbox.instance("next-a").unwrap();
    let c = client(i);
    i.faults()
        .set(vec![
            FaultSpec::always(FaultKind::ResponseLost).on_call("manageCustomers"),
            FaultSpec::always(FaultKind::ResponseLost).on_call("manageDevices"),
        ])
        .unwrap();
    let sig = CustomerId::new();
    let vc = c
        .ensure_customer(sig, &common::customer(), Attempt::Again)
        .await
        .unwrap();
    assert!(vc.created, "applied, answer lost, found by id_origem");
    let vl = c.ensure_line(&vc, &line(LineId::new())).await.unwrap();
    assert!(vl.created);
    i.faults().clear();
    // Without ids in the answers, the lookup finds the DID.
    let did = DidRequest {
        did_id: DidId::new(),
        number: "(11) 3000-0002".parse().unwrap(),
        device_id: vl.voip_id,
        rate_id: 0,
        attempt: Attempt::Again,
    };
    assert!(c.ensure_did(&vc, &did).await.unwrap().created);
    assert_eq!(i.counters().total("customer"), 1);
    assert_eq!(i.counters().total("line"), 1);
    assert_eq!(i.counters().total("did"), 1);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn faults_reach_the_client_as_retryable_errors() {
    let sandbox = one().await;
    let i = sandbox.instance("next-a").unwrap();
    let c = i
        .client_builder("next-a".parse().unwrap())
        .timeout(Duration::from_millis(200))
        .read_retries(0)
        .build()
        .unwrap();
    for kind in [
        FaultKind::http_error(503),
        FaultKind::timeout(),
        FaultKind::ConnectionReset,
        FaultKind::MalformedJson { body: None },
    ] {
        i.faults()
            .set(vec![FaultSpec::always(kind.clone()).on_call("listDevices")])
            .unwrap();
        let e = c.list_devices(1, None).await.unwrap_err();
        assert!(e.is_retryable(), "{kind:?}: {e}");
        assert!(!e.maybe_applied(), "reads never are");
    }
    i.faults().clear();
    sandbox.shutdown().await;
}

#[tokio::test]
async fn instances_are_independent() {
    let sandbox = NextSandbox::builder()
        .instance("next-a")
        .instance("next-b")
        .start()
        .await
        .unwrap();
    let a = sandbox.instance("next-a").unwrap();
    let b = sandbox.instance("next-b").unwrap();
    assert_ne!(a.base_url(), b.base_url());
    assert_ne!(a.api_token().expose_secret(), b.api_token().expose_secret());
    let sig = CustomerId::new();
    client(a)
        .ensure_customer(sig, &common::customer(), Attempt::Again)
        .await
        .unwrap();
    assert!(client(b).find_customer(sig).await.unwrap().is_none());
    // a's credentials are refused by b.
    let cross = NextClient::builder(
        "next-b".parse().unwrap(),
        "next-b",
        b.base_url(),
        a.api_token(),
        a.api_key(),
    )
    .build()
    .unwrap();
    assert_eq!(cross.list_dids(1).await.unwrap_err().status(), Some(403));
    let announce = sandbox.announce();
    assert_eq!(announce.len(), 2);
    let text = serde_json::to_string(&announce).unwrap();
    assert!(!text.contains(a.api_token().expose_secret()));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn concurrent_ensures_of_one_record_create_it_once() {
    let sandbox = NextSandbox::builder()
        .instance("next-a")
        .max_concurrent(64)
        .start()
        .await
        .unwrap();
    let i = sandbox.instance("next-a").unwrap();
    // Slow creates widen the window a race would need.
    i.faults()
        .set(vec![
            FaultSpec::always(FaultKind::latency(Duration::from_millis(50)))
                .on_call("manageCustomers"),
        ])
        .unwrap();
    let c = client(i);
    let sig = CustomerId::new();
    let customer = common::customer();
    let results = futures::future::join_all((0..8).map(|_| {
        let c = c.clone();
        let customer = customer.clone();
        async move { c.ensure_customer(sig, &customer, Attempt::Again).await }
    }))
    .await;
    let ids: std::collections::BTreeSet<i64> = results
        .iter()
        .map(|r| r.as_ref().unwrap().voip_id)
        .collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(
        results
            .iter()
            .filter(|r| r.as_ref().unwrap().created)
            .count(),
        1
    );
    assert_eq!(i.counters().count("customer", &sig.to_string()), 1);
    sandbox.shutdown().await;
}
