//! The Bearer token and the webhook secret never appear in `Debug`, errors or log output.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mockito::Server;
use secrecy::SecretString;
use sig_core::config::DocSalesAccount;
use sig_core::ports::{ProposalSource, UpstreamError};
use sig_docsales::webhook::{WebhookRequest, intake, intake_for};
use sig_docsales::wire::ProposalRef;
use sig_docsales::{DocSalesClient, DocSalesSource, RetryPolicy};
use url::Url;

const TOKEN: &str = "BEARER-9f8e7d6c5b4a-TOKEN";
const SECRET: &str = "WEBHOOK-0a1b2c3d4e5f-SECRET";

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn assert_clean(what: &str, text: &str) {
    assert!(
        !text.contains(TOKEN),
        "{what} shows the Bearer token: {text}"
    );
    assert!(
        !text.contains(SECRET),
        "{what} shows the webhook secret: {text}"
    );
}

fn account(base: &str) -> DocSalesAccount {
    DocSalesAccount {
        id: "acme".parse().unwrap(),
        base_url: Url::parse(base).unwrap(),
        token: SecretString::from(TOKEN),
        webhook_secret: SecretString::from(SECRET),
        web_url: None,
    }
}

#[test]
fn secrets_never_leak() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    rt.block_on(async {
        let mut server = Server::new_async().await;
        // An upstream that answers errors of every kind, including a 401 that mentions auth.
        server
            .mock("GET", "/api/v1/proposals/1")
            .with_status(401)
            .with_body(r#"{"error": "unauthorized", "message": "invalid token"}"#)
            .create_async()
            .await;
        server
            .mock("GET", "/api/v1/proposals/2")
            .with_status(503)
            .with_body("<html>down</html>")
            .create_async()
            .await;
        server
            .mock("GET", "/api/v1/proposals/3")
            .with_status(200)
            .with_body("{not json")
            .create_async()
            .await;

        let acct = account(&format!("{}/api/v1/", server.url()));
        assert_clean("DocSalesAccount Debug", &format!("{acct:?}"));
        let client = DocSalesClient::from_account(&acct).unwrap();
        let client = DocSalesClient::builder(client.base_url().clone(), acct.token.clone())
            .account("acme")
            .retry(RetryPolicy {
                attempts: 2,
                base_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(2),
            })
            .build()
            .unwrap();
        assert_clean("client Debug", &format!("{client:?}"));
        let builder = DocSalesClient::builder(client.base_url().clone(), acct.token.clone());
        assert_clean("builder Debug", &format!("{builder:?}"));

        for id in [1, 2, 3] {
            let e = client.get_proposal(&ProposalRef::Id(id)).await.unwrap_err();
            assert_clean("error Display", &e.to_string());
            assert_clean("error Debug", &format!("{e:?}"));
            let up: UpstreamError = e.into();
            assert_clean("UpstreamError Display", &up.to_string());
            assert_clean("UpstreamError Debug", &format!("{up:?}"));
        }

        // A transport failure (nothing listens there).
        let dead = DocSalesClient::builder(
            Url::parse("http://127.0.0.1:9/api/v1/").unwrap(),
            acct.token.clone(),
        )
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
        let e = dead.get_proposal(&ProposalRef::Id(1)).await.unwrap_err();
        assert_clean("transport error Debug", &format!("{e:?}"));

        let source = DocSalesSource::new(client.clone(), Arc::default());
        assert_clean("source Debug", &format!("{source:?}"));
        let e = source.fetch("2").await.unwrap_err();
        assert_clean("port error Debug", &format!("{e:?}"));
    });

    // Webhook requests carrying the secret (and wrong ones) in every place.
    let body = br#"{"document": {"id": 7, "status": "approved"}}"#.to_vec();
    let requests = [
        WebhookRequest {
            path: format!("/webhooks/docsales/{SECRET}"),
            body: body.clone(),
            ..Default::default()
        },
        WebhookRequest {
            path: "/webhooks/docsales".into(),
            query: Some(format!("token={SECRET}")),
            body: b"{broken".to_vec(),
            ..Default::default()
        },
        WebhookRequest {
            path: "/webhooks/docsales".into(),
            headers: vec![("X-Docsales-Token".into(), format!("{SECRET}x"))],
            body: body.clone(),
            ..Default::default()
        },
    ];
    let acct = account("https://web.docsales.example/api/v1/");
    for r in &requests {
        assert_clean("WebhookRequest Debug", &format!("{r:?}"));
        match intake_for(r, &acct) {
            Ok(n) => assert_clean("Notification Debug", &format!("{n:?}")),
            Err(e) => {
                assert_clean("IntakeError Display", &e.to_string());
                assert_clean("IntakeError Debug", &format!("{e:?}"));
            }
        }
        let _ = intake(r, "acme", &SecretString::from(SECRET));
    }

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("DocSales call failed, retrying"),
        "the capture works: {logs}"
    );
    assert_clean("log output", &logs);
}
