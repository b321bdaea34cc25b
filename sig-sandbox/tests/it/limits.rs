//! Limits enforced by the example sandbox, over HTTP, with short windows.

use std::time::Duration;

use serde_json::{Value, json};

use crate::kv::{Kv, client};

#[tokio::test]
async fn rate_window_refuses_then_reopens() {
    let (server, _kv) = Kv::start().await;
    let client = client();
    let post = |key: &str| {
        client
            .post(format!("{}limited/{key}", server.base_url()))
            .send()
    };
    for _ in 0..3 {
        assert_eq!(post("app1").await.unwrap().status(), 200);
    }
    let refused = post("app1").await.unwrap();
    assert_eq!(refused.status(), 429);
    let wait: u64 = refused.headers()["retry-after-ms"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait <= 1000, "{wait} ms exceeds the 1 s window");
    assert_eq!(
        post("app2").await.unwrap().status(),
        200,
        "keys are independent"
    );
    tokio::time::sleep(Duration::from_millis(wait + 50)).await;
    assert_eq!(post("app1").await.unwrap().status(), 200);
    server.shutdown().await;
}

#[tokio::test]
async fn concurrency_gate_lets_one_in_per_key() {
    let (server, _kv) = Kv::start().await;
    let client = client();
    let post = |key: &str| {
        client
            .post(format!("{}slow/{key}", server.base_url()))
            .send()
    };
    let (a, b, other) = tokio::join!(post("k"), post("k"), post("other"));
    let mut statuses = [a.unwrap().status().as_u16(), b.unwrap().status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 429]);
    assert_eq!(other.unwrap().status(), 200);
    // The slot was released when the first request ended.
    assert_eq!(post("k").await.unwrap().status(), 200);
    server.shutdown().await;
}

#[tokio::test]
async fn misuse_blocks_after_repeated_failures() {
    let (server, _kv) = Kv::start().await;
    let client = client();
    let login = |app_key: &str, ok: bool| {
        client
            .post(format!("{}login", server.base_url()))
            .json(&json!({"app_key": app_key, "ok": ok}))
            .send()
    };
    assert_eq!(login("app1", false).await.unwrap().status(), 500);
    assert_eq!(login("app1", false).await.unwrap().status(), 500);
    let blocked = login("app1", false).await.unwrap();
    assert_eq!(blocked.status(), 425);
    let body: Value = blocked.json().await.unwrap();
    assert_eq!(body["faultcode"], "MISUSE_API_PROCESS");
    // The message keeps the vendor's nominal seconds (4 minutes).
    assert!(
        body["faultstring"]
            .as_str()
            .unwrap()
            .contains("em 240 segundos"),
        "{body}"
    );
    // Blocked even for a good request; other keys are fine.
    assert_eq!(login("app1", true).await.unwrap().status(), 425);
    assert_eq!(login("app2", true).await.unwrap().status(), 200);
    // The block lasts 240 s nominal = 1.2 s here.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(login("app1", true).await.unwrap().status(), 200);
    server.shutdown().await;
}
