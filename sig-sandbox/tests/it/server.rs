use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use serde_json::json;
use sig_sandbox::{FaultKind, FaultSpec, SandboxError, SandboxServer};

use crate::kv::{Kv, client, client_with_timeout, create_record, state};

#[tokio::test]
async fn announces_its_loopback_port() {
    let (server, _kv) = Kv::start().await;
    let port = server.port();
    assert_ne!(port, 0);
    assert_eq!(server.addr(), SocketAddr::from(([127, 0, 0, 1], port)));
    assert_eq!(server.base_url(), format!("http://127.0.0.1:{port}/"));
    assert_eq!(
        server.announce(),
        json!({"sandbox": "kv", "base_url": format!("http://127.0.0.1:{port}/"), "port": port})
    );
    // One JSON object per line, as `sig sandbox` prints it.
    assert!(!server.announce().to_string().contains('\n'));
    assert_eq!(server.name(), "kv");
    let state = state(&client(), &server).await;
    assert_eq!(state["sandbox"], "kv");
    // Handlers can read the peer address as usual.
    let peer = client()
        .get(format!("{}whoami", server.base_url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(peer, "127.0.0.1");
    server.shutdown().await;
}

#[tokio::test]
async fn refuses_non_loopback_addresses() {
    let err = SandboxServer::builder("kv", Router::new())
        .bind(SocketAddr::from(([0, 0, 0, 0], 0)))
        .start()
        .await
        .unwrap_err();
    assert!(matches!(err, SandboxError::NotLoopback { .. }), "{err}");
    assert!(err.to_string().contains("loopback"), "{err}");
}

#[tokio::test]
async fn reports_a_port_in_use() {
    let (first, _kv) = Kv::start().await;
    let err = SandboxServer::builder("kv2", Router::new())
        .bind(first.addr())
        .start()
        .await
        .unwrap_err();
    assert!(matches!(err, SandboxError::Bind { .. }), "{err}");
    first.shutdown().await;
}

#[tokio::test]
async fn shutdown_frees_the_port() {
    let (server, _kv) = Kv::start().await;
    let addr = server.addr();
    let client = client();
    assert_eq!(
        create_record(&client, &server, "a").await.unwrap().status(),
        201
    );
    server.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn drop_stops_the_server() {
    let (server, _kv) = Kv::start().await;
    let addr = server.addr();
    drop(server);
    let mut refused = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refused, "the port still accepts after drop");
}

#[tokio::test]
async fn shutdown_cuts_held_requests_short() {
    let (server, kv) = Kv::start().await;
    kv.faults
        .add(FaultSpec::always(FaultKind::Timeout {
            hold_ms: Some(60_000),
        }))
        .unwrap();
    let client = client_with_timeout(Duration::from_secs(30));
    let url = format!("{}records/x", server.base_url());
    let pending = tokio::spawn(async move { client.get(url).send().await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    server.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    let result = pending.await.unwrap();
    assert!(result.is_err(), "held request answered: {result:?}");
}
