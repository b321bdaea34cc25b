//! The CNPJá API key never appears in logs, errors, `Debug` output or serialised errors,
//! whatever the provider answers, even when it echoes the key back.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mockito::Server;
use secrecy::SecretString;
use sig_fiscal::{
    CacheConfig, FiscalClient, FiscalError, Lookup, Provider, ProviderConfig, ProviderErrorKind,
};
use tracing_subscriber::fmt::MakeWriter;
use url::Url;

const KEY: &str = "cnpja-SECRET-7b1e0c2d-4f5a-4e6b-9c8d-0a1b2c3d4e5f-0123456789abcdef-XYZ";
const CNPJ: &str = "37335118000180";

/// Log lines written by the test's subscriber.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

fn config(base: &str) -> ProviderConfig {
    ProviderConfig::new(Provider::Cnpja)
        .base_url(Url::parse(base).unwrap())
        .api_key(SecretString::from(KEY))
        .no_rate_limit()
}

fn client(config: ProviderConfig) -> FiscalClient {
    FiscalClient::builder()
        .cnpj_provider(config)
        .cache(CacheConfig::disabled())
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap()
}

/// Everything an error can be turned into.
fn renderings(error: &FiscalError) -> Vec<String> {
    let mut out = vec![
        error.to_string(),
        format!("{error:?}"),
        format!("{:?}", error.to_upstream(CNPJ)),
        error.to_upstream(CNPJ).to_string(),
    ];
    for attempt in error.attempts() {
        out.push(serde_json::to_string(attempt).unwrap());
    }
    out
}

#[tokio::test]
async fn the_cnpja_key_never_leaks() {
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_max_level(tracing::Level::TRACE)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let mut server = Server::new_async().await;
    let path = format!("/office/{CNPJ}");
    let answers: [(usize, String, ProviderErrorKind); 5] = [
        // A long message: shortening cuts the echoed key in the middle.
        (
            400,
            format!(r#"{{"code":400,"message":"{} {KEY}"}}"#, "x".repeat(185)),
            ProviderErrorKind::Rejected,
        ),
        (
            401,
            format!(r#"{{"code":401,"message":"invalid authentication: {KEY}"}}"#),
            ProviderErrorKind::Unauthorized,
        ),
        (
            429,
            format!(
                r#"{{"code":429,"message":"not enough credits for {KEY}","required":10,"remaining":7}}"#
            ),
            ProviderErrorKind::OutOfCredits,
        ),
        (
            429,
            format!(r#"{{"code":429,"message":"rate limit exceeded ({KEY})"}}"#),
            ProviderErrorKind::RateLimited,
        ),
        (
            200,
            format!(r#"{{"taxId":"{CNPJ}","company":{{"name":7}},"note":"{KEY}"#),
            ProviderErrorKind::Malformed,
        ),
    ];
    let c = client(config(&server.url()));
    let mut seen = Vec::new();
    for (status, body, kind) in answers {
        let mock = server
            .mock("GET", path.as_str())
            // The key is really sent, so the test would see it if anything printed it.
            .match_header("authorization", KEY)
            .with_status(status)
            .with_body(body)
            .expect(1)
            .create_async()
            .await;
        let error = c.lookup_cnpj_text(CNPJ).await.unwrap_err();
        mock.assert_async().await;
        mock.remove_async().await;
        assert_eq!(error.attempts()[0].kind, kind, "{error}");
        seen.extend(renderings(&error));
    }
    // The echoed key was replaced, not dropped with the rest of the message.
    assert!(
        seen.iter()
            .any(|s| s.contains("invalid authentication: [redacted]")),
        "{seen:#?}"
    );

    // A success, and a provider that cannot be reached at all.
    let mock = server
        .mock("GET", path.as_str())
        .match_header("authorization", KEY)
        .with_status(200)
        .with_body(format!(
            r#"{{"taxId":"{CNPJ}","company":{{"name":"CNPJA TECNOLOGIA LTDA"}}}}"#
        ))
        .create_async()
        .await;
    assert!(matches!(
        c.lookup_cnpj_text(CNPJ).await,
        Ok(Lookup::Found(_))
    ));
    mock.assert_async().await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        format!("http://127.0.0.1:{port}/")
    };
    let unreachable = client(config(&closed));
    let error = unreachable.lookup_cnpj_text(CNPJ).await.unwrap_err();
    assert_eq!(error.attempts()[0].kind, ProviderErrorKind::Unavailable);
    seen.extend(renderings(&error));

    seen.push(format!("{c:?}"));
    seen.push(format!("{:?}", config(&server.url())));
    let log_text = logs.text();
    assert!(
        log_text.contains("cnpja"),
        "the logs were captured: {log_text}"
    );
    seen.push(log_text);
    for text in &seen {
        assert!(!text.contains(KEY), "the key leaked into: {text}");
        assert!(
            !text.contains("SECRET-7b1e"),
            "part of the key leaked into: {text}"
        );
    }
}
