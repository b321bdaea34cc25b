//! Acceptance: a faulty multi-instance run, with all tracing output captured and every error
//! text (Display, Debug and source chain) collected, shows none of the instances' tokens or
//! keys, although one instance even echoes them in its error reasons.
//!
//! One test in its own binary: it installs the global tracing subscriber.

mod common;

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use sig_core::ports::UpstreamError;
use sig_next::NextClient;
use sig_next::sandbox::NextSandbox;
use sig_sandbox::{FaultKind, FaultSpec};
use tracing_subscriber::layer::SubscriberExt;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn chain(e: &UpstreamError) -> String {
    let mut text = format!("{e}\n{e:?}\n");
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!("{s}\n{s:?}\n"));
        source = s.source();
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_or_key_in_logs_or_error_texts() {
    let capture = Capture::default();
    let (text_writer, json_writer) = (capture.clone(), capture.clone());
    let subscriber = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(move || text_writer.clone())
                .with_ansi(false),
        )
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_writer(move || json_writer.clone()),
        )
        .with(tracing_subscriber::filter::LevelFilter::TRACE);
    tracing::subscriber::set_global_default(subscriber).unwrap();
    tracing::info!(canary = "capture-canary-7f3a", "capture works");

    let sandbox = NextSandbox::builder()
        .instance("next-a")
        .instance("next-b")
        .instance("next-c")
        .max_concurrent(4)
        .timeout_hold(Duration::from_millis(600))
        .start()
        .await
        .unwrap();
    let mut secrets: Vec<String> = Vec::new();
    for (n, i) in sandbox.instances().iter().enumerate() {
        let token = i.api_token().expose_secret().to_owned();
        let key = i.api_key().expose_secret().to_owned();
        let seed = 31 * n as u64;
        let mut specs = vec![
            FaultSpec::transient(FaultKind::http_error(502), 0.05, seed),
            FaultSpec::transient(FaultKind::Timeout { hold_ms: None }, 0.03, seed + 1),
            FaultSpec::transient(FaultKind::ConnectionReset, 0.05, seed + 2),
            FaultSpec::transient(FaultKind::MalformedJson { body: None }, 0.05, seed + 3),
            FaultSpec::transient(FaultKind::ResponseLost, 0.05, seed + 4),
            FaultSpec::transient(
                FaultKind::latency(Duration::from_millis(10)),
                0.05,
                seed + 5,
            ),
        ];
        if n == 0 {
            // An instance that echoes the request path, credentials included, in its reasons.
            specs.push(FaultSpec::transient(
                FaultKind::business(
                    500,
                    json!({"error": 1, "reason": format!("falha em {}api/{{call}}/{token}/{key}", i.base_url())}),
                ),
                0.05,
                seed + 6,
            ));
        }
        i.faults().set(specs).unwrap();
        secrets.push(token);
        secrets.push(key);
    }
    let clients: Vec<Arc<NextClient>> = sandbox
        .instances()
        .iter()
        .map(|i| {
            Arc::new(
                i.client_builder(i.name().parse().unwrap())
                    .timeout(Duration::from_millis(300))
                    .read_retries(2)
                    .retry_min_delay(Duration::from_millis(5))
                    .build()
                    .unwrap(),
            )
        })
        .collect();

    let services = common::plan(7, 120, 50, 3);
    let errors = common::provision(clients.clone(), &services, 8).await;
    assert!(errors.len() > 20, "a faulty run: {} errors", errors.len());

    let mut texts = String::new();
    for e in &errors {
        texts.push_str(&chain(e));
    }
    // Health with a wrong key, a timeout and a dead port; Debug of everything that holds
    // credentials.
    for (n, i) in sandbox.instances().iter().enumerate() {
        let wrong = NextClient::builder(
            i.name().parse().unwrap(),
            i.name(),
            i.base_url(),
            i.api_token(),
            SecretString::from(format!("{}x", secrets[2 * n + 1])),
        )
        .build()
        .unwrap();
        texts.push_str(&format!(
            "{:?}\n",
            wrong.probe(Duration::from_secs(1)).await
        ));
        texts.push_str(&format!("{:?}\n", clients[n]));
        texts.push_str(&format!(
            "{i:?}\n{:?}\n",
            i.client_builder(i.name().parse().unwrap())
        ));
    }
    texts.push_str(&format!("{sandbox:?}\n{:?}\n", sandbox.announce()));
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        NextClient::builder(
            "next-a".parse().unwrap(),
            "next-a",
            format!("http://127.0.0.1:{port}/").parse().unwrap(),
            SecretString::from(secrets[0].clone()),
            SecretString::from(secrets[1].clone()),
        )
        .read_retries(0)
        .build()
        .unwrap()
    };
    let e = UpstreamError::from(dead.list_devices(1, None).await.unwrap_err());
    texts.push_str(&chain(&e));
    texts.push_str(&format!(
        "{:?}\n",
        dead.probe(Duration::from_millis(300)).await
    ));
    sandbox.shutdown().await;

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    // The capture is real: it saw the canary, the failures and the scrubbed echoes.
    assert!(logs.contains("capture-canary-7f3a"));
    assert!(
        logs.contains("nextbilling call failed"),
        "failures are traced"
    );
    assert!(logs.contains("next-a") && logs.contains("manageCustomers"));
    for secret in &secrets {
        assert!(secret.len() >= 16);
        assert!(
            !logs.contains(secret.as_str()),
            "a credential reached the logs"
        );
        assert!(
            !texts.contains(secret.as_str()),
            "a credential reached an error text"
        );
    }
    assert!(
        texts.contains("[redacted]") && logs.contains("[redacted]"),
        "the echoing instance's reasons were kept, scrubbed"
    );
}
