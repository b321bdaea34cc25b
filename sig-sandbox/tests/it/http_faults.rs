//! Every fault kind as a reqwest client sees it.

use std::error::Error as _;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sig_sandbox::{FaultKind, FaultSpec};

use crate::kv::{Kv, client, client_with_timeout, create_record, put_faults, state};

/// The error and its sources, for assertion messages.
fn chain(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(" <- ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A transport error: no HTTP status, no decode, no client timeout.
fn assert_transport_error(err: &reqwest::Error) {
    let chain = chain(err);
    assert!(
        !err.is_status() && !err.is_decode() && !err.is_timeout() && err.status().is_none(),
        "not a transport error: {chain}"
    );
    assert!(
        chain.contains("reset") || chain.contains("closed"),
        "expected a reset or closed connection: {chain}"
    );
}

#[tokio::test]
async fn http_error_is_a_5xx_with_html_and_applies_nothing() {
    let (server, kv) = Kv::start().await;
    kv.faults
        .add(FaultSpec::always(FaultKind::http_error(502)).on_call("create"))
        .unwrap();
    let response = create_record(&client(), &server, "a").await.unwrap();
    assert_eq!(response.status(), 502);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let body = response.text().await.unwrap();
    assert!(
        body.contains("<html>") && body.contains("502 Bad Gateway"),
        "{body}"
    );
    assert_eq!(kv.counters.total("record"), 0);
    assert!(kv.records.lock().unwrap().is_empty());

    kv.faults
        .set(vec![FaultSpec::always(FaultKind::HttpError {
            status: 500,
            body: Some("<h1>Internal Server Error (SOAP)</h1>".into()),
        })])
        .unwrap();
    let response = create_record(&client(), &server, "a").await.unwrap();
    assert_eq!(response.status(), 500);
    assert_eq!(
        response.text().await.unwrap(),
        "<h1>Internal Server Error (SOAP)</h1>"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn latency_delays_a_normal_answer() {
    let (server, kv) = Kv::start().await;
    kv.faults
        .add(FaultSpec::always(FaultKind::latency(
            Duration::from_millis(300),
        )))
        .unwrap();
    let started = Instant::now();
    let response = create_record(&client(), &server, "a").await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(response.status(), 201);
    assert!(elapsed >= Duration::from_millis(250), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    assert_eq!(kv.counters.count("record", "a"), 1);
    server.shutdown().await;
}

#[tokio::test]
async fn timeout_outlasts_a_client_timeout() {
    let (server, kv) = Kv::start().await;
    kv.faults
        .add(FaultSpec::always(FaultKind::Timeout {
            hold_ms: Some(3_000),
        }))
        .unwrap();
    let client = client_with_timeout(Duration::from_millis(200));
    let err = create_record(&client, &server, "a").await.unwrap_err();
    assert!(err.is_timeout(), "{}", chain(&err));
    assert_eq!(kv.counters.total("record"), 0);
    server.shutdown().await;
}

#[tokio::test]
async fn timeout_answers_504_late_to_a_patient_client() {
    let (server, kv) = Kv::start().await;
    // No hold_ms: the injector's hold, 30 s nominal scaled by SCALE = 150 ms.
    kv.faults
        .add(FaultSpec::always(FaultKind::timeout()))
        .unwrap();
    let started = Instant::now();
    let response = create_record(&client_with_timeout(Duration::from_secs(20)), &server, "a")
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(140),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(response.status(), 504);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("504 Gateway Timeout")
    );
    assert_eq!(kv.counters.total("record"), 0);
    server.shutdown().await;
}

#[tokio::test]
async fn connection_reset_is_a_transport_error_and_applies_nothing() {
    let (server, kv) = Kv::start().await;
    kv.faults
        .add(FaultSpec::always(FaultKind::ConnectionReset).on_key("a"))
        .unwrap();
    let client = client();
    let err = create_record(&client, &server, "a").await.unwrap_err();
    assert_transport_error(&err);
    assert_eq!(kv.counters.total("record"), 0);
    // The same client recovers on a fresh connection.
    let response = create_record(&client, &server, "b").await.unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(kv.faults.injected()["connection_reset"], 1);
    server.shutdown().await;
}

#[tokio::test]
async fn malformed_json_fails_to_decode() {
    let (server, kv) = Kv::start().await;
    kv.faults
        .add(FaultSpec::always(FaultKind::MalformedJson { body: None }))
        .unwrap();
    let response = create_record(&client(), &server, "a").await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let err = response.json::<Value>().await.unwrap_err();
    assert!(err.is_decode(), "{}", chain(&err));
    assert_eq!(kv.counters.total("record"), 0);
    server.shutdown().await;
}

#[tokio::test]
async fn response_lost_applies_the_write_then_resets() {
    let (server, kv) = Kv::start().await;
    kv.faults
        .add(FaultSpec::always(FaultKind::ResponseLost).on_call("create"))
        .unwrap();
    let client = client();
    let err = create_record(&client, &server, "lost-1").await.unwrap_err();
    assert_transport_error(&err);
    // The write happened: the record is there and counted once.
    let response = client
        .get(format!("{}records/lost-1", server.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(kv.counters.count("record", "lost-1"), 1);
    let state = state(&client, &server).await;
    assert_eq!(state["counters"], json!({"record": {"lost-1": 1}}));
    assert_eq!(state["injected"], json!({"response_lost": 1}));
    // A blind retry is caught by the vendor's uniqueness, not hidden.
    kv.faults.clear();
    let retry = create_record(&client, &server, "lost-1").await.unwrap();
    assert_eq!(retry.status(), 409);
    assert_eq!(kv.counters.count("record", "lost-1"), 1);
    server.shutdown().await;
}

#[tokio::test]
async fn business_fault_hits_its_key_every_time() {
    let (server, _kv) = Kv::start().await;
    let client = client();
    put_faults(
        &client,
        &server,
        json!([{
            "kind": {"type": "business", "body": {
                "faultstring": "ERROR: Cliente já cadastrado para o Código de Integração [{key}] !",
                "faultcode": "SOAP-ENV:Client-102"}},
            "persistence": "permanent",
            "target": {"call": "create", "key": "bad"}
        }]),
    )
    .await;
    for _ in 0..3 {
        let response = create_record(&client, &server, "bad").await.unwrap();
        assert_eq!(response.status(), 500);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["faultcode"], "SOAP-ENV:Client-102");
        assert_eq!(
            body["faultstring"],
            "ERROR: Cliente já cadastrado para o Código de Integração [bad] !"
        );
    }
    let response = create_record(&client, &server, "good").await.unwrap();
    assert_eq!(response.status(), 201);
    let state = state(&client, &server).await;
    assert_eq!(state["injected"]["business"], 3);
    assert_eq!(state["counters"], json!({"record": {"good": 1}}));
    server.shutdown().await;
}

#[tokio::test]
async fn path_routed_faults_follow_the_url() {
    let (server, kv) = Kv::start().await;
    kv.faults
        .add(FaultSpec::always(FaultKind::http_error(503)).on_call("ping"))
        .unwrap();
    let client = client();
    let get = |path: &str| client.get(format!("{}{path}", server.base_url())).send();
    assert_eq!(get("api/ping/k1").await.unwrap().status(), 503);
    let response = get("api/pong/k1").await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"action": "pong", "key": "k1"})
    );
    // Keys from the path: a response_lost on one key only.
    kv.faults
        .set(vec![
            FaultSpec::always(FaultKind::ResponseLost).on_key("k2"),
        ])
        .unwrap();
    assert_transport_error(&get("api/pong/k2").await.unwrap_err());
    assert_eq!(get("api/pong/k3").await.unwrap().status(), 200);
    server.shutdown().await;
}
