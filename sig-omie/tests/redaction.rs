//! No `Debug`, `Display`, error or log output of the client ever contains the app key or
//! the app secret, through a run with faults of every kind.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::{KEY, SECRET, client};
use mockito::{Matcher, Server};
use secrecy::SecretString;
use serde_json::json;
use sig_core::ids::CustomerId;
use sig_core::ports::{Erp, UpstreamError};
use sig_omie::wire::clientes::{ClienteChave, ClientesListRequest};
use sig_omie::{OmieClient, OmieErp};

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn secrets_never_leave_the_request_body() {
    let logs = Buffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let mut server = Server::new_async().await;
    // Every kind of answer, in turn: HTML 500, REDUNDANT, credentials, malformed JSON,
    // duplicate, 429, and finally a misuse block.
    let answers: Vec<(usize, String)> = vec![
        (500, "<html><body>500 Internal Server Error</body></html>".into()),
        (500, json!({"faultstring": "Consumo redundante detectado. Aguarde 1 segundos para tentar novamente (REDUNDANT)", "faultcode": "SOAP-ENV:Client-6"}).to_string()),
        (403, json!({"faultstring": "A chave de acesso não está preenchida ou não é válida.", "faultcode": "SOAP-ENV:Server"}).to_string()),
        (200, "{\"codigo_cliente_omie\": ".into()),
        (500, json!({"faultstring": "ERROR: Cliente já cadastrado para o CPF/CNPJ [123.456.789-09] com o Id [1] e código de integração [] ! (add)", "faultcode": "SOAP-ENV:Client-102"}).to_string()),
        (429, "Too Many Requests".into()),
        (425, json!({"faultstring": "ERROR: API bloqueada por consumo indevido. Tente novamente em 1800 segundos.", "faultcode": "MISUSE_API_PROCESS"}).to_string()),
    ];
    let n = answers.len();
    let counter = Arc::new(Mutex::new(0usize));
    let c2 = Arc::clone(&counter);
    let bodies = answers.clone();
    let _m = server
        .mock("POST", Matcher::Any)
        .with_status_code_from_request(move |_| {
            let i = *c2.lock().unwrap();
            bodies[i.min(n - 1)].0
        })
        .with_body_from_request(move |_| {
            let mut i = counter.lock().unwrap();
            let body = answers[(*i).min(n - 1)].1.clone();
            *i += 1;
            body.into_bytes()
        })
        .create_async()
        .await;

    let c = client(&server.url(), 0.001);
    let erp = OmieErp::new(c.clone());
    let mut shown = vec![format!("{c:?}"), format!("{erp:?}")];
    let builder = OmieClient::builder(SecretString::from(KEY), SecretString::from(SECRET));
    shown.push(format!("{builder:?}"));
    for _ in 0..n {
        let e = c.consultar_cliente(&ClienteChave::omie(1)).await.err();
        let e2 = c
            .listar_clientes(&ClientesListRequest::default())
            .await
            .err();
        for e in e.into_iter().chain(e2) {
            shown.push(format!("{e}"));
            shown.push(format!("{e:?}"));
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                shown.push(format!("{s} {s:?}"));
                src = s.source();
            }
            let up: UpstreamError = e.into();
            shown.push(format!("{up}"));
            shown.push(format!("{up:?}"));
        }
    }
    let customer = common::customer(&common::cpf(3), "ANA");
    if let Err(e) = erp
        .upsert_customer(CustomerId::new(), &customer, None)
        .await
    {
        shown.push(format!("{e} {e:?}"));
    }
    shown.push(format!("{:?}", c.breaker_state()));
    assert!(
        c.breaker_state().is_some(),
        "the run must end in a misuse block"
    );
    // A transport error too.
    let dead = client("http://127.0.0.1:9/", 0.001);
    let e = dead
        .consultar_cliente(&ClienteChave::omie(1))
        .await
        .unwrap_err();
    shown.push(format!("{e} {e:?}"));

    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("omie attempt failed"),
        "the client logged nothing: {logs}"
    );
    let all = format!("{}\n{logs}", shown.join("\n"));
    assert!(
        all.len() > 2000,
        "too little output to be a meaningful check"
    );
    for secret in [KEY, SECRET] {
        assert!(!all.contains(secret), "a credential leaked:\n{all}");
    }
    // LGPD: the CPF in the duplicate fault is masked too.
    assert!(!all.contains("123.456.789-09"), "a tax id leaked:\n{all}");
}
