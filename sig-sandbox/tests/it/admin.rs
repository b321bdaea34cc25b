//! The `/_sandbox/` admin API.

use serde_json::{Value, json};

use crate::kv::{Kv, client, create_record, put_faults, state};

#[tokio::test]
async fn state_shows_records_counters_faults_and_injections() {
    let (server, kv) = Kv::start().await;
    let client = client();
    for key in ["a", "b"] {
        assert_eq!(
            create_record(&client, &server, key).await.unwrap().status(),
            201
        );
    }
    assert_eq!(
        create_record(&client, &server, "a").await.unwrap().status(),
        409
    );
    // A duplicate the vendor would accept shows up in the counters.
    kv.counters.record("record", "b");
    let state = state(&client, &server).await;
    assert_eq!(
        state,
        json!({
            "sandbox": "kv",
            "counters": {"record": {"a": 1, "b": 2}},
            "records": {"a": {"n": 1}, "b": {"n": 1}},
            "faults": [],
            "injected": {},
        })
    );
    assert_eq!(
        kv.counters.duplicates(),
        [("record".to_owned(), [("b".to_owned(), 2)].into())].into()
    );
    server.shutdown().await;
}

#[tokio::test]
async fn faults_change_at_run_time() {
    let (server, _kv) = Kv::start().await;
    let client = client();
    let url = format!("{}_sandbox/faults", server.base_url());
    let list = |response: reqwest::Response| async move { response.json::<Value>().await.unwrap() };

    assert_eq!(
        list(client.get(&url).send().await.unwrap()).await,
        json!([])
    );

    put_faults(
        &client,
        &server,
        json!([{"kind": {"type": "http_error", "status": 503}, "target": {"call": "create"}}]),
    )
    .await;
    assert_eq!(
        create_record(&client, &server, "a").await.unwrap().status(),
        503
    );

    let added = client
        .post(&url)
        .json(&json!({"kind": {"type": "business", "status": 200, "body": {"faultstring": "x"}},
                      "persistence": "permanent", "rate": 1, "seed": 3, "target": {"call": "read"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 200);
    let specs = list(added).await;
    assert_eq!(specs.as_array().unwrap().len(), 2);
    assert_eq!(
        specs[0]["kind"],
        json!({"type": "http_error", "status": 503})
    );
    assert_eq!(specs[1]["persistence"], "permanent");
    assert_eq!(specs[1]["rate"], 1.0);
    let read = client
        .get(format!("{}records/zzz", server.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    assert_eq!(
        read.json::<Value>().await.unwrap(),
        json!({"faultstring": "x"})
    );

    let snapshot = state(&client, &server).await;
    assert_eq!(snapshot["faults"], specs);
    assert_eq!(
        snapshot["injected"],
        json!({"business": 1, "http_error": 1})
    );

    let cleared = client.delete(&url).send().await.unwrap();
    assert_eq!(cleared.status(), 200);
    assert_eq!(list(cleared).await, json!([]));
    assert_eq!(
        create_record(&client, &server, "a").await.unwrap().status(),
        201
    );
    // Injection counts outlive the specs.
    assert_eq!(state(&client, &server).await["injected"]["http_error"], 1);
    server.shutdown().await;
}

#[tokio::test]
async fn bad_fault_json_is_a_400_naming_the_field() {
    let (server, kv) = Kv::start().await;
    let client = client();
    let url = format!("{}_sandbox/faults", server.base_url());
    put_faults(&client, &server, json!([{"kind": {"type": "timeout"}}])).await;

    let cases: [(&str, &str, &str); 7] = [
        (
            "PUT",
            r#"[{"kind": {"type": "latency", "ms": 1}}, {"kind": {"type": "latency", "ms": "slow"}}]"#,
            "[1].kind",
        ),
        (
            "PUT",
            r#"[{"kind": {"type": "http_error", "status": 404}}]"#,
            "[0].kind.status",
        ),
        (
            "PUT",
            r#"[{"kind": {"type": "timeout"}, "rate": 2}]"#,
            "[0].rate",
        ),
        ("PUT", r#"{"kind": {"type": "timeout"}}"#, ""),
        (
            "POST",
            r#"{"kind": {"type": "timeout"}, "persistance": "permanent"}"#,
            "persistance",
        ),
        ("POST", r#"{"kind": {"type": "nope"}}"#, "kind"),
        (
            "POST",
            r#"{"kind": {"type": "timeout"}, "target": {"call": ""}}"#,
            "target.call",
        ),
    ];
    for (method, body, field) in cases {
        let response = client
            .request(method.parse().unwrap(), &url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{body}");
        let error: Value = response.json().await.unwrap();
        let message = error["error"].as_str().unwrap();
        assert!(message.starts_with("invalid fault spec"), "{message}");
        assert!(
            message.contains(field),
            "{body}: {message} should name {field}"
        );
    }
    let response = client.post(&url).body("not json").send().await.unwrap();
    assert_eq!(response.status(), 400);
    // Nothing changed.
    assert_eq!(kv.faults.specs().len(), 1);
    server.shutdown().await;
}
