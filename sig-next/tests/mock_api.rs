//! Exact request shapes and error handling against mockito.

mod common;

use std::time::Duration;

use mockito::{Matcher, Server, ServerGuard};
use secrecy::SecretString;
use serde_json::json;
use sig_core::ids::{CustomerId, DidId, LineId, ServiceOrderId};
use sig_core::ports::{
    Attempt, DidRequest, LineRequest, UpstreamError, UpstreamErrorKind, VoipCustomer, VoipPlatform,
};
use sig_core::{AreaCode, Phone};
use sig_next::{Action, MAX_BODY_BYTES, NextClient, NextError, NextErrorKind, customer_body, keys};
use url::Url;

const TOKEN: &str = "T0KEN-d3adbeef";
const KEY: &str = "K3Y-c0ffee";

fn client(server: &ServerGuard) -> NextClient {
    NextClient::builder(
        "next-rj1".parse().unwrap(),
        "Rio 1",
        Url::parse(&server.url()).unwrap(),
        SecretString::from(TOKEN),
        SecretString::from(KEY),
    )
    .timeout(Duration::from_secs(2))
    .read_retries(2)
    .retry_min_delay(Duration::from_millis(5))
    .build()
    .unwrap()
}

fn path(action: &str, id: Option<i64>) -> String {
    match id {
        Some(id) => format!("/api/{action}/{TOKEN}/{KEY}/{id}"),
        None => format!("/api/{action}/{TOKEN}/{KEY}"),
    }
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/resources/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn sig_customer() -> CustomerId {
    "0190f0c4-a1b2-7c3e-8d5f-6a7b8c9d0e1f".parse().unwrap()
}

fn assert_no_secrets(text: &str) {
    assert!(!text.contains(TOKEN), "token leaked: {text}");
    assert!(!text.contains(KEY), "key leaked: {text}");
    assert!(!text.contains("/api/"), "a request path leaked: {text}");
}

fn line_request() -> LineRequest {
    LineRequest {
        line_id: "0190f0c4-a1b2-7c3e-8d5f-000000000001".parse().unwrap(),
        order_id: ServiceOrderId::new(),
        rate_id: 2,
        channels: 4,
        area_code: AreaCode::new(21).unwrap(),
        attempt: Attempt::Again,
    }
}

fn did_request(device_id: i64) -> DidRequest {
    DidRequest {
        did_id: "0190f0c4-a1b2-7c3e-8d5f-000000000002".parse().unwrap(),
        number: "(21) 3000-1234".parse::<Phone>().unwrap(),
        device_id,
        rate_id: 2,
        attempt: Attempt::Again,
    }
}

#[tokio::test]
async fn create_customer_sends_the_documented_fields() {
    let mut server = Server::new_async().await;
    let expected = json!({
        "id_origem": "0190f0c4a1b27c3e8d5f6a7b8c9d0e1f",
        "nome_fantasia": "ACME",
        "razao_social": "ACME Telecomunicações Ltda",
        "cpf": "11222333000181",
        "rg": "ISENTO",
        "cep": "20040030",
        "endereco": "Rua do Ouvidor, 50",
        "complemento": "sala 301",
        "bairro": "Centro",
        "cidade": "Rio de Janeiro",
        "uf": "RJ",
        "telefone": "2130001234",
        "telefone2": "21987654321",
        "celular": "21987654321",
        "contato": "Maria Souza",
        "email": "financeiro@acme.com.br",
        "email2": "ti@acme.com.br",
        "email_financeiro": "financeiro@acme.com.br",
        "tem_ramal": 1,
        "tem_did": 1
    });
    let m = server
        .mock("PUT", path("manageCustomers", None).as_str())
        .match_header("content-type", "application/json")
        .match_body(Matcher::Json(expected))
        .with_header("content-type", "application/json")
        .with_body(fixture("manageCustomers.ok_id.json"))
        .expect(1)
        .create_async()
        .await;
    let body = customer_body(sig_customer(), &common::customer());
    let id = client(&server).create_customer(&body).await.unwrap();
    assert_eq!(id, Some(15));
    m.assert_async().await;
    assert!(
        !format!("{body:?}").contains("11222333000181"),
        "Debug hides the CNPJ"
    );
}

#[tokio::test]
async fn create_customer_accepts_customer_id_too() {
    let mut server = Server::new_async().await;
    let _m = server
        .mock("PUT", path("manageCustomers", None).as_str())
        .with_body(fixture("manageCustomers.ok_customer_id.json"))
        .create_async()
        .await;
    let body = customer_body(sig_customer(), &common::customer());
    assert_eq!(
        client(&server).create_customer(&body).await.unwrap(),
        Some(15)
    );
}

#[tokio::test]
async fn status_customer_posts_id_and_status() {
    let mut server = Server::new_async().await;
    let m = server
        .mock("POST", path("statusCustomer", None).as_str())
        .match_body(Matcher::Json(json!({"id": 15, "status": 0})))
        .with_body(fixture("statusCustomer.ok.json"))
        .expect(1)
        .create_async()
        .await;
    let answer = client(&server)
        .set_customer_status(15, false)
        .await
        .unwrap();
    assert_eq!(answer.customer_id, 15);
    assert_eq!(answer.new_status, Some(0));
    m.assert_async().await;
}

#[tokio::test]
async fn update_customer_sends_the_id() {
    let mut server = Server::new_async().await;
    let m = server
        .mock("PUT", path("manageCustomers", None).as_str())
        .match_body(Matcher::PartialJson(
            json!({"id": 15, "razao_social": "ACME Telecomunicações Ltda"}),
        ))
        .with_body(fixture("manageCustomers.ok_no_id.json"))
        .expect(1)
        .create_async()
        .await;
    let body = customer_body(sig_customer(), &common::customer());
    client(&server).update_customer(15, body).await.unwrap();
    m.assert_async().await;
}

#[tokio::test]
async fn create_device_uses_the_mandatory_trailing_1() {
    let mut server = Server::new_async().await;
    let line = line_request();
    let m = server
        .mock("PUT", path("manageDevices", Some(1)).as_str())
        .match_body(Matcher::AllOf(vec![
            Matcher::PartialJson(json!({
                "customer_id": 15,
                "rate_id": 2,
                "simultaneas": 4,
                "status": 1,
                "auth": 0,
                "username": "sig0190f0c4a1b27c3e8d5f000000000001",
                "tech": "SIP",
                "funcionalidade": 0,
                "ddd_local": "5521"
            })),
            Matcher::Regex(r#""password":"[A-Za-z0-9]{24}""#.into()),
        ]))
        .with_body(fixture("manageDevices.ok.json"))
        .expect(1)
        .create_async()
        .await;
    let body = sig_next::device_body(15, &line);
    assert_eq!(
        client(&server).create_device(&body).await.unwrap(),
        Some(101)
    );
    m.assert_async().await;
}

#[tokio::test]
async fn list_devices_puts_the_customer_in_the_path() {
    let mut server = Server::new_async().await;
    let m = server
        .mock("GET", path("listDevices", Some(3)).as_str())
        .match_query(Matcher::UrlEncoded("id_record".into(), "1".into()))
        .with_body(fixture("listDevices.ok.json"))
        .expect(1)
        .create_async()
        .await;
    let list = client(&server).list_devices(3, Some(1)).await.unwrap();
    assert_eq!(list.data[0].data.len(), 2);
    m.assert_async().await;
}

#[tokio::test]
async fn manage_did_routes_to_the_line() {
    let mut server = Server::new_async().await;
    let did = did_request(101);
    let m = server
        .mock("PUT", path("manageDID", None).as_str())
        .match_body(Matcher::Json(json!({
            "customer_id": 15,
            "description": "sig:did:0190f0c4a1b27c3e8d5f000000000002",
            "rate_id": 2,
            "did_number": "552130001234",
            "did_type": 1,
            "device_id": 101
        })))
        .with_body(fixture("manageDID.ok.json"))
        .expect(1)
        .create_async()
        .await;
    let body = sig_next::did_body(15, &did);
    assert_eq!(client(&server).manage_did(&body).await.unwrap(), Some(7));
    m.assert_async().await;
}

#[tokio::test]
async fn find_customer_queries_id_origem_and_filters() {
    let mut server = Server::new_async().await;
    let m = server
        .mock("GET", path("listCustomers", None).as_str())
        .match_query(Matcher::UrlEncoded(
            "id_origem".into(),
            "0190f0c4a1b27c3e8d5f6a7b8c9d0e1f".into(),
        ))
        .with_body(fixture("listCustomers.ok.json"))
        .expect(2)
        .create_async()
        .await;
    let c = client(&server);
    let found = c.find_customer(sig_customer()).await.unwrap().unwrap();
    assert_eq!(found.id, 15);
    // An instance that ignored the filter would list other customers: they never match.
    let other: CustomerId = "0190f0c4-a1b2-7c3e-8d5f-6a7b8c9d0e2f".parse().unwrap();
    let _m2 = server
        .mock("GET", path("listCustomers", None).as_str())
        .match_query(Matcher::UrlEncoded(
            "id_origem".into(),
            keys::customer_origin(other),
        ))
        .with_body(fixture("listCustomers.ok.json"))
        .create_async()
        .await;
    assert!(c.find_customer(other).await.unwrap().is_none());
    assert!(c.find_customer(sig_customer()).await.unwrap().is_some());
    m.assert_async().await;
}

#[tokio::test]
async fn envelope_error_on_200_is_a_refusal() {
    let mut server = Server::new_async().await;
    let _m = server
        .mock("PUT", path("manageCustomers", None).as_str())
        .with_status(200)
        .with_body(fixture("manageCustomers.refused.json"))
        .create_async()
        .await;
    let body = customer_body(sig_customer(), &common::customer());
    let e = client(&server).create_customer(&body).await.unwrap_err();
    assert!(
        matches!(&e.kind, NextErrorKind::Refused { code: 1, reason } if reason == "CPF/CNPJ inválido")
    );
    assert_eq!(e.class(), UpstreamErrorKind::Rejected);
    assert!(!e.maybe_applied());
    assert_eq!(e.action, Action::ManageCustomers);
    assert_eq!(
        e.record.as_deref(),
        Some("0190f0c4a1b27c3e8d5f6a7b8c9d0e1f")
    );
    let text = e.to_string();
    assert!(
        text.contains("next-rj1") && text.contains("Rio 1") && text.contains("manageCustomers"),
        "{text}"
    );
    assert_no_secrets(&text);
    assert_no_secrets(&format!("{e:?}"));
}

#[tokio::test]
async fn documented_statuses_are_typed() {
    use UpstreamErrorKind as K;
    let cases = [
        (400, K::Permanent),
        (403, K::Unauthorized),
        (404, K::Permanent),
        (413, K::Permanent),
        (422, K::Rejected),
        (429, K::RateLimited),
        (502, K::Transient),
    ];
    for (status, kind) in cases {
        let status: u16 = status;
        let mut server = Server::new_async().await;
        let _m = server
            .mock("PUT", path("manageDID", None).as_str())
            .with_status(usize::from(status))
            .with_body(format!(
                r#"{{"error":1,"reason":"status {status} for {TOKEN} {KEY}"}}"#
            ))
            .expect(1)
            .create_async()
            .await;
        let e = client(&server)
            .manage_did(&sig_next::did_body(15, &did_request(101)))
            .await
            .unwrap_err();
        assert_eq!(e.status(), Some(status));
        assert_eq!(e.class(), kind, "{status}");
        assert_eq!(e.maybe_applied(), status >= 500, "{status}");
        let text = format!("{e} {e:?}");
        assert!(
            text.contains(&format!("status {status} for [redacted] [redacted]")),
            "the reason is kept, credentials blanked: {text}"
        );
        assert_no_secrets(&text);
        let up = UpstreamError::from(e);
        assert_eq!(up.kind, kind);
        assert_no_secrets(&format!("{up} {up:?}"));
    }
}

#[tokio::test]
async fn html_error_pages_are_transient_without_their_body() {
    let mut server = Server::new_async().await;
    let _m = server
        .mock("GET", path("listDevices", Some(3)).as_str())
        .with_status(503)
        .with_header("content-type", "text/html")
        .with_body("<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>")
        .create_async()
        .await;
    let e = client(&server).list_devices(3, None).await.unwrap_err();
    assert!(e.is_retryable());
    assert!(!e.maybe_applied(), "a read is never applied");
    assert!(!e.to_string().contains("<html>"));
}

#[tokio::test]
async fn reads_are_retried_and_writes_are_not() {
    let mut server = Server::new_async().await;
    let read = server
        .mock("GET", path("listDevices", Some(3)).as_str())
        .with_status(503)
        .expect(3) // one attempt + read_retries(2)
        .create_async()
        .await;
    let write = server
        .mock("PUT", path("manageDevices", Some(1)).as_str())
        .with_status(503)
        .expect(1)
        .create_async()
        .await;
    let c = client(&server);
    assert!(c.list_devices(3, None).await.unwrap_err().is_retryable());
    let e = c
        .create_device(&sig_next::device_body(3, &line_request()))
        .await
        .unwrap_err();
    assert!(e.maybe_applied());
    read.assert_async().await;
    write.assert_async().await;
}

#[tokio::test]
async fn a_read_recovers_after_a_429() {
    let mut server = Server::new_async().await;
    let limited = server
        .mock("GET", path("listDevices", Some(3)).as_str())
        .with_status(429)
        .with_body(r#"{"error":1,"reason":"too many simultaneous requests"}"#)
        .expect(1)
        .create_async()
        .await;
    let ok = server
        .mock("GET", path("listDevices", Some(3)).as_str())
        .with_body(fixture("listDevices.empty.json"))
        .expect(1)
        .create_async()
        .await;
    let list = client(&server).list_devices(3, None).await.unwrap();
    assert!(list.data.is_empty());
    limited.assert_async().await;
    ok.assert_async().await;
}

#[tokio::test]
async fn malformed_json_names_the_path_and_is_ambiguous_for_writes() {
    let mut server = Server::new_async().await;
    let _m = server
        .mock("PUT", path("manageDevices", Some(1)).as_str())
        .with_body(r#"{"error":0,"reason":"OK","id":"1"#)
        .create_async()
        .await;
    let _l = server
        .mock("GET", path("listDevices", Some(3)).as_str())
        .with_body(r#"{"error":0,"reason":"OK","data":[{"id_cliente":3,"data":[{"id":"x"}]}]}"#)
        .create_async()
        .await;
    let c = client(&server);
    let e = c
        .create_device(&sig_next::device_body(3, &line_request()))
        .await
        .unwrap_err();
    assert!(matches!(e.kind, NextErrorKind::Decode { .. }));
    assert!(e.maybe_applied() && e.is_retryable());
    let e = c.list_devices(3, None).await.unwrap_err();
    match &e.kind {
        NextErrorKind::Decode { path, .. } => assert_eq!(path, "data[0].data[0].id"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn oversized_bodies_are_refused_before_sending() {
    let mut server = Server::new_async().await;
    let m = server
        .mock("PUT", path("manageCustomers", None).as_str())
        .expect(0)
        .create_async()
        .await;
    let mut body = customer_body(sig_customer(), &common::customer());
    body.complemento = Some("x".repeat(MAX_BODY_BYTES));
    let e = client(&server).create_customer(&body).await.unwrap_err();
    assert!(matches!(e.kind, NextErrorKind::BodyTooLarge { limit, .. } if limit == MAX_BODY_BYTES));
    assert!(!e.is_retryable() && !e.maybe_applied());
    m.assert_async().await;
}

#[tokio::test]
async fn transport_errors_carry_no_url() {
    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let c = NextClient::builder(
        "next-rj1".parse().unwrap(),
        "Rio 1",
        Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap(),
        SecretString::from(TOKEN),
        SecretString::from(KEY),
    )
    .read_retries(0)
    .build()
    .unwrap();
    let e = c.list_devices(3, None).await.unwrap_err();
    assert!(
        matches!(e.kind, NextErrorKind::Transport { connect: true, .. }),
        "{e:?}"
    );
    let mut text = format!("{e} {e:?}");
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(&format!(" | {s} {s:?}"));
        source = s.source();
    }
    assert_no_secrets(&text);
    assert!(
        !text.contains(&port.to_string()) || !text.contains("http://"),
        "{text}"
    );
    let e = c
        .create_device(&sig_next::device_body(3, &line_request()))
        .await
        .unwrap_err();
    assert!(!e.maybe_applied(), "a refused connection sent nothing");
}

// ---------------------------------------------------------------------------------------------
// The port: lookup before create, lookup after ambiguity
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn ensure_customer_finds_before_creating() {
    let mut server = Server::new_async().await;
    let _l = server
        .mock("GET", path("listCustomers", None).as_str())
        .match_query(Matcher::Any)
        .with_body(fixture("listCustomers.ok.json"))
        .expect(1)
        .create_async()
        .await;
    let create = server
        .mock("PUT", path("manageCustomers", None).as_str())
        .expect(0)
        .create_async()
        .await;
    let c = client(&server);
    let got = c
        .ensure_customer(sig_customer(), &common::customer(), Attempt::Again)
        .await
        .unwrap();
    assert_eq!(
        got,
        VoipCustomer {
            voip_id: 15,
            created: false
        }
    );
    create.assert_async().await;
}

/// A first attempt sends the create alone: nothing can be found before it.
#[tokio::test]
async fn ensure_customer_as_a_first_attempt_creates_without_looking() {
    let mut server = Server::new_async().await;
    let list = server
        .mock("GET", path("listCustomers", None).as_str())
        .match_query(Matcher::Any)
        .expect(0)
        .create_async()
        .await;
    let create = server
        .mock("PUT", path("manageCustomers", None).as_str())
        .with_body(fixture("manageCustomers.ok_id.json"))
        .expect(1)
        .create_async()
        .await;
    let got = client(&server)
        .ensure_customer(sig_customer(), &common::customer(), Attempt::First)
        .await
        .unwrap();
    assert_eq!(
        got,
        VoipCustomer {
            voip_id: 15,
            created: true
        }
    );
    list.assert_async().await;
    create.assert_async().await;
}

#[tokio::test]
async fn ensure_customer_without_an_id_in_the_answer_looks_it_up() {
    let mut server = Server::new_async().await;
    let miss = server
        .mock("GET", path("listCustomers", None).as_str())
        .match_query(Matcher::Any)
        .with_body(r#"{"error":0,"reason":"OK","records":0,"data":[]}"#)
        .expect(1)
        .create_async()
        .await;
    let create = server
        .mock("PUT", path("manageCustomers", None).as_str())
        .with_body(fixture("manageCustomers.ok_no_id.json"))
        .expect(1)
        .create_async()
        .await;
    let hit = server
        .mock("GET", path("listCustomers", None).as_str())
        .match_query(Matcher::Any)
        .with_body(fixture("listCustomers.ok.json"))
        .expect(1)
        .create_async()
        .await;
    let got = client(&server)
        .ensure_customer(sig_customer(), &common::customer(), Attempt::Again)
        .await
        .unwrap();
    assert_eq!(
        got,
        VoipCustomer {
            voip_id: 15,
            created: true
        }
    );
    miss.assert_async().await;
    create.assert_async().await;
    hit.assert_async().await;
}

/// The create's answer is lost (504) and the line is then found by its SIG id. An `Again`
/// looks up once before the create (and finds nothing); a first attempt skips only that
/// look-up, never the one after an ambiguous failure.
async fn a_lost_answer_is_settled_by_a_look_up(attempt: Attempt) {
    let mut server = Server::new_async().await;
    let line = LineRequest {
        attempt,
        ..line_request()
    };
    let username = keys::line_username(line.line_id);
    let miss = server
        .mock("GET", path("listDevices", Some(15)).as_str())
        .with_body(fixture("listDevices.empty.json"))
        .expect(usize::from(attempt.needs_lookup()))
        .create_async()
        .await;
    let create = server
        .mock("PUT", path("manageDevices", Some(1)).as_str())
        .with_status(504)
        .with_body("<html>gateway timeout</html>")
        .expect(1)
        .create_async()
        .await;
    let hit = server
        .mock("GET", path("listDevices", Some(15)).as_str())
        .with_body(
            json!({"error":0,"reason":"OK","records":1,"data":[{"id_cliente":15,"records":"1",
                "data":[{"id":"88","id_cliente":"15","username":username}]}]})
            .to_string(),
        )
        .expect(1)
        .create_async()
        .await;
    let customer = VoipCustomer {
        voip_id: 15,
        created: false,
    };
    let got = client(&server).ensure_line(&customer, &line).await.unwrap();
    assert_eq!(
        (got.voip_id, got.created, got.username.as_str()),
        (88, true, username.as_str())
    );
    miss.assert_async().await;
    create.assert_async().await;
    hit.assert_async().await;
}

#[tokio::test]
async fn ensure_line_after_a_lost_answer_finds_the_line() {
    a_lost_answer_is_settled_by_a_look_up(Attempt::Again).await;
}

/// A first attempt (the journal proves no earlier run sent it) creates the line without
/// listing the customer's devices first.
#[tokio::test]
async fn ensure_line_first_attempt_sends_only_the_create() {
    let mut server = Server::new_async().await;
    let line = LineRequest {
        attempt: Attempt::First,
        ..line_request()
    };
    let username = keys::line_username(line.line_id);
    let lists = server
        .mock("GET", Matcher::Any)
        .expect(0)
        .create_async()
        .await;
    let create = server
        .mock("PUT", path("manageDevices", Some(1)).as_str())
        .match_body(Matcher::PartialJson(
            json!({"customer_id": 15, "username": username}),
        ))
        .with_body(fixture("manageDevices.ok.json"))
        .expect(1)
        .create_async()
        .await;
    let customer = VoipCustomer {
        voip_id: 15,
        created: false,
    };
    let got = client(&server).ensure_line(&customer, &line).await.unwrap();
    assert!(got.created);
    assert_eq!(got.username, username);
    create.assert_async().await;
    lists.assert_async().await;
}

/// A first attempt whose answer is lost still settles it by looking the line up.
#[tokio::test]
async fn ensure_line_first_attempt_after_a_lost_answer_still_finds_the_line() {
    a_lost_answer_is_settled_by_a_look_up(Attempt::First).await;
}

/// A first attempt creates the DID without listing the customer's DIDs first.
#[tokio::test]
async fn ensure_did_first_attempt_sends_only_the_create() {
    let mut server = Server::new_async().await;
    let did = DidRequest {
        attempt: Attempt::First,
        ..did_request(202)
    };
    let lists = server
        .mock("GET", Matcher::Any)
        .expect(0)
        .create_async()
        .await;
    let create = server
        .mock("PUT", path("manageDID", None).as_str())
        .match_body(Matcher::PartialJson(json!({
            "customer_id": 15,
            "device_id": 202,
            "description": keys::did_description(did.did_id),
        })))
        .with_body(fixture("manageDID.ok.json"))
        .expect(1)
        .create_async()
        .await;
    let customer = VoipCustomer {
        voip_id: 15,
        created: false,
    };
    let got = client(&server).ensure_did(&customer, &did).await.unwrap();
    assert!(got.created);
    create.assert_async().await;
    lists.assert_async().await;
}

#[tokio::test]
async fn ensure_line_after_an_ambiguous_failure_not_found_is_retryable_and_maybe_applied() {
    let mut server = Server::new_async().await;
    let lists = server
        .mock("GET", path("listDevices", Some(15)).as_str())
        .with_body(fixture("listDevices.empty.json"))
        .expect(2)
        .create_async()
        .await;
    let create = server
        .mock("PUT", path("manageDevices", Some(1)).as_str())
        .with_status(500)
        .expect(1)
        .create_async()
        .await;
    let customer = VoipCustomer {
        voip_id: 15,
        created: false,
    };
    let e: UpstreamError = client(&server)
        .ensure_line(&customer, &line_request())
        .await
        .unwrap_err();
    assert!(e.is_retryable() && e.maybe_applied);
    assert_eq!(e.call, "manageDevices");
    lists.assert_async().await;
    create.assert_async().await;
}

#[tokio::test]
async fn ensure_line_does_not_look_up_after_a_clear_refusal() {
    let mut server = Server::new_async().await;
    let lists = server
        .mock("GET", path("listDevices", Some(15)).as_str())
        .with_body(fixture("listDevices.empty.json"))
        .expect(1)
        .create_async()
        .await;
    let _create = server
        .mock("PUT", path("manageDevices", Some(1)).as_str())
        .with_status(422)
        .with_body(r#"{"error":1,"reason":"Parâmetro ausente: rate_id"}"#)
        .create_async()
        .await;
    let customer = VoipCustomer {
        voip_id: 15,
        created: false,
    };
    let e = client(&server)
        .ensure_line(&customer, &line_request())
        .await
        .unwrap_err();
    assert_eq!(e.kind, UpstreamErrorKind::Rejected);
    assert!(!e.maybe_applied);
    lists.assert_async().await;
}

#[tokio::test]
async fn ensure_did_reroutes_a_found_did_to_the_requested_line() {
    let mut server = Server::new_async().await;
    let did = did_request(202); // the fixture routes it to 101
    let _l = server
        .mock("GET", path("listDIDs", Some(15)).as_str())
        .with_body(fixture("listDIDs.ok.json").replace(
            "sig:did:0190f0c4a1b27c3e8d5f6a7b8c9d0e1f",
            &keys::did_description(did.did_id),
        ))
        .expect(1)
        .create_async()
        .await;
    let reroute = server
        .mock("PUT", path("manageDID", None).as_str())
        .match_body(Matcher::PartialJson(
            json!({"id": 7, "device_id": 202, "did_type": 1}),
        ))
        .with_body(fixture("manageDID.ok.json"))
        .expect(1)
        .create_async()
        .await;
    let customer = VoipCustomer {
        voip_id: 15,
        created: false,
    };
    let got = client(&server).ensure_did(&customer, &did).await.unwrap();
    assert_eq!((got.voip_id, got.created), (7, false));
    reroute.assert_async().await;
}

#[tokio::test]
async fn ensure_did_creates_when_absent() {
    let mut server = Server::new_async().await;
    let did = did_request(101);
    let _l = server
        .mock("GET", path("listDIDs", Some(15)).as_str())
        .with_body(r#"{"error":0,"reason":"OK","records":0,"data":[]}"#)
        .expect(1)
        .create_async()
        .await;
    let create = server
        .mock("PUT", path("manageDID", None).as_str())
        .match_body(Matcher::PartialJson(
            json!({"description": keys::did_description(did.did_id)}),
        ))
        .with_body(fixture("manageDID.ok.json"))
        .expect(1)
        .create_async()
        .await;
    let customer = VoipCustomer {
        voip_id: 15,
        created: false,
    };
    let got = client(&server).ensure_did(&customer, &did).await.unwrap();
    assert_eq!((got.voip_id, got.created), (7, true));
    create.assert_async().await;
    let _ = DidId::new();
    let _ = LineId::new();
}

// ---------------------------------------------------------------------------------------------
// Health
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn probe_reports_health_with_a_reason() {
    let mut server = Server::new_async().await;
    let ok = server
        .mock("GET", path("listDevices", Some(0)).as_str())
        .with_body(r#"{"error":1,"reason":"Cliente não encontrado"}"#)
        .expect(1)
        .create_async()
        .await;
    let c = client(&server);
    let h = VoipPlatform::probe(&c, Duration::from_secs(1)).await;
    assert!(h.healthy, "{h:?}");
    assert_eq!(h.reason, "ok");
    ok.assert_async().await;

    let mut server = Server::new_async().await;
    let _bad = server
        .mock("GET", path("listDevices", Some(0)).as_str())
        .with_status(403)
        .with_body(fixture("error.bad_token.json"))
        .create_async()
        .await;
    let h = client(&server).probe(Duration::from_secs(1)).await;
    assert!(!h.healthy);
    assert!(
        h.reason.contains("403") && h.reason.contains("Token inválido"),
        "{}",
        h.reason
    );
    assert_no_secrets(&h.reason);
}

#[tokio::test]
async fn probe_times_out() {
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let c = NextClient::builder(
        "next-rj1".parse().unwrap(),
        "Rio 1",
        Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap(),
        SecretString::from(TOKEN),
        SecretString::from(KEY),
    )
    .build()
    .unwrap();
    let started = std::time::Instant::now();
    let h = c.probe(Duration::from_millis(200)).await;
    assert!(!h.healthy);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(
        h.reason.contains("timed out") || h.reason.contains("no answer"),
        "{}",
        h.reason
    );
    assert_no_secrets(&h.reason);
    hold.abort();
}

#[test]
fn errors_convert_to_the_port_error() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<NextError>();
}

#[tokio::test]
async fn decode_errors_quote_no_credentials() {
    let mut server = Server::new_async().await;
    let _m = server
        .mock("GET", path("listDevices", Some(3)).as_str())
        .with_body(format!(
            r#"{{"error":0,"reason":"OK","data":[{{"id_cliente":3,"data":[{{"id":"{TOKEN}/{KEY}"}}]}}]}}"#
        ))
        .create_async()
        .await;
    let e = client(&server).list_devices(3, None).await.unwrap_err();
    assert!(matches!(e.kind, NextErrorKind::Decode { .. }), "{e:?}");
    assert_no_secrets(&format!("{e} {e:?}"));
}

#[tokio::test]
async fn oversized_answers_are_not_read() {
    let mut server = Server::new_async().await;
    let _m = server
        .mock("GET", path("listDevices", Some(3)).as_str())
        .with_body(vec![b' '; sig_next::MAX_RESPONSE_BYTES + 1])
        .create_async()
        .await;
    let e = client(&server).list_devices(3, None).await.unwrap_err();
    assert!(
        matches!(e.kind, NextErrorKind::ResponseTooLarge { .. }),
        "{e:?}"
    );
    assert!(!e.is_retryable());
}
