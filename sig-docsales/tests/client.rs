//! The client against mockito: exact paths, headers and bodies; errors keep status and
//! DocSales' `error`/`message`; only idempotent calls are retried.

mod common;

use std::sync::Arc;
use std::time::Duration;

use mockito::{Matcher, Server, ServerGuard};
use secrecy::SecretString;
use serde_json::json;
use sig_core::ports::{ProposalSource, UpstreamErrorKind};
use sig_docsales::wire::{CustomerRecord, DecodeErrorKind, NewDocument, ProposalRef};
use sig_docsales::{CustomerRef, DocSalesClient, DocSalesError, DocSalesSource, RetryPolicy};
use url::Url;

const TOKEN: &str = "tok-test-123";

fn client(server: &ServerGuard) -> DocSalesClient {
    DocSalesClient::builder(
        Url::parse(&format!("{}/api/v1/", server.url())).unwrap(),
        SecretString::from(TOKEN),
    )
    .account("acme")
    .timeout(Duration::from_secs(5))
    .retry(RetryPolicy {
        attempts: 3,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
    })
    .build()
    .unwrap()
}

/// Mounted after the real expectations: any request they did not match fails loudly.
async fn catch_all(server: &mut ServerGuard) -> mockito::Mock {
    server
        .mock("ANY", Matcher::Any)
        .with_status(599)
        .with_body("request was not received by any expectation")
        .expect(0)
        .create_async()
        .await
}

#[tokio::test]
async fn get_proposal_sends_bearer_and_decodes_the_document() {
    let mut server = Server::new_async().await;
    let m = server
        .mock("GET", "/api/v1/proposals/44073")
        .match_header("authorization", format!("Bearer {TOKEN}").as_str())
        .match_header("accept", "application/json")
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body(common::fixture("proposal-approved-company.json"))
        .expect(1)
        .create_async()
        .await;
    let none = catch_all(&mut server).await;
    let doc = client(&server)
        .get_proposal(&ProposalRef::Id(44073))
        .await
        .unwrap();
    assert_eq!(doc.document.unwrap().code.as_deref(), Some("DS-00412"));
    m.assert_async().await;
    none.assert_async().await;
}

#[tokio::test]
async fn get_proposal_by_external_uuid() {
    let mut server = Server::new_async().await;
    let m = server
        .mock(
            "GET",
            "/api/v1/proposals/5f0c2d1e-8a4b-4c1e-9d7a-2b3c4d5e6f70",
        )
        .with_status(200)
        .with_body(common::fixture("proposal-approved-person.json"))
        .create_async()
        .await;
    let none = catch_all(&mut server).await;
    let r: ProposalRef = "5f0c2d1e-8a4b-4c1e-9d7a-2b3c4d5e6f70".parse().unwrap();
    client(&server).get_proposal(&r).await.unwrap();
    m.assert_async().await;
    none.assert_async().await;
}

#[tokio::test]
async fn customer_proposals_by_cnpj_code_and_id() {
    let mut server = Server::new_async().await;
    let by_cnpj = server
        .mock("GET", "/api/v1/customers/12ABC34501DE35/proposals")
        .with_status(200)
        .with_body(common::fixture("customer-proposals.json"))
        .create_async()
        .await;
    let by_code = server
        .mock("GET", "/api/v1/customers/ACME%2001/proposals")
        .with_status(200)
        .with_body(r#"{"proposals": []}"#)
        .create_async()
        .await;
    let by_id = server
        .mock("GET", "/api/v1/customers/48011/proposals")
        .with_status(200)
        .with_body("[]")
        .create_async()
        .await;
    let none = catch_all(&mut server).await;
    let c = client(&server);
    let page = c
        .customer_proposals(&CustomerRef::Cnpj("12.ABC.345/01DE-35".parse().unwrap()))
        .await
        .unwrap();
    assert_eq!(page.proposals.len(), 3);
    assert_eq!(page.next_cursor, None);
    c.customer_proposals(&CustomerRef::Code("ACME 01".into()))
        .await
        .unwrap();
    c.customer_proposals(&CustomerRef::Id(48011)).await.unwrap();
    let e = c
        .customer_proposals(&CustomerRef::Code("  ".into()))
        .await
        .unwrap_err();
    assert!(matches!(
        e,
        DocSalesError::InvalidInput {
            field: "customer",
            ..
        }
    ));
    by_cnpj.assert_async().await;
    by_code.assert_async().await;
    by_id.assert_async().await;
    none.assert_async().await;
}

#[tokio::test]
async fn registration_data() {
    let mut server = Server::new_async().await;
    let m = server
        .mock("GET", "/api/v1/registration-data")
        .match_header("authorization", format!("Bearer {TOKEN}").as_str())
        .with_status(200)
        .with_body(common::fixture("registration-data.json"))
        .create_async()
        .await;
    let data = client(&server).registration_data().await.unwrap();
    assert_eq!(
        data.templates[0].name.as_deref(),
        Some("Proposta VoIP 2026")
    );
    m.assert_async().await;
}

#[tokio::test]
async fn list_approved_sends_status_and_cursor() {
    let mut server = Server::new_async().await;
    let first = server
        .mock("GET", "/api/v1/proposals")
        .match_query(Matcher::Exact("status=approved".into()))
        .with_status(200)
        .with_body(common::fixture("approved-page.json"))
        .create_async()
        .await;
    let second = server
        .mock("GET", "/api/v1/proposals")
        .match_query(Matcher::AllOf(vec![
            Matcher::UrlEncoded("status".into(), "approved".into()),
            Matcher::UrlEncoded("cursor".into(), "eyJwYWdlIjoyfQ".into()),
        ]))
        .with_status(200)
        .with_body(r#"{"proposals": [], "next_cursor": null}"#)
        .create_async()
        .await;
    let none = catch_all(&mut server).await;
    let c = client(&server);
    let page = c.list_approved(None).await.unwrap();
    assert_eq!(page.next_cursor.as_deref(), Some("eyJwYWdlIjoyfQ"));
    let page = c.list_approved(page.next_cursor.as_deref()).await.unwrap();
    assert!(page.proposals.is_empty());
    assert_eq!(page.next_cursor, None);
    first.assert_async().await;
    second.assert_async().await;
    none.assert_async().await;
}

#[tokio::test]
async fn create_document_posts_the_wrapped_body_once_even_on_503() {
    let mut server = Server::new_async().await;
    let doc = NewDocument {
        code: Some("SIG-0001".into()),
        customer_id: "12ABC34501DE35".into(),
        template_id: Some("3".into()),
        user_email: Some("carlos@provedor.example".into()),
        due_day: Some(10),
        ..NewDocument::default()
    };
    let ok = server
        .mock("POST", "/api/v1/proposals")
        .match_header("content-type", "application/json")
        .match_body(Matcher::Json(json!({"proposal": {
            "code": "SIG-0001", "customer_id": "12ABC34501DE35", "template_id": "3",
            "user_email": "carlos@provedor.example", "due_day": 10
        }})))
        .with_status(201)
        .with_body(r#"{"proposal": {"id": 70001, "external_uuid": "abc-1", "code": "SIG-0001", "status": "active"}}"#)
        .expect(1)
        .create_async()
        .await;
    let created = client(&server).create_document(&doc).await.unwrap();
    assert_eq!(created.id, Some(70001));
    assert_eq!(created.external_uuid.as_deref(), Some("abc-1"));
    ok.assert_async().await;
    ok.remove_async().await;

    let failing = server
        .mock("POST", "/api/v1/proposals")
        .with_status(503)
        .with_header("content-type", "text/html")
        .with_body("<html><body><h1>503 Service Unavailable</h1></body></html>")
        .expect(1)
        .create_async()
        .await;
    let e = client(&server).create_document(&doc).await.unwrap_err();
    assert_eq!(e.status(), Some(503));
    assert!(
        e.is_retryable(),
        "the caller may retry after looking the code up"
    );
    failing.assert_async().await;
}

#[tokio::test]
async fn upsert_customer_puts_by_code_and_is_retried() {
    let mut server = Server::new_async().await;
    let record = CustomerRecord {
        name: "ACME Telecomunicações Ltda".into(),
        legal_code: "12ABC34501DE35".into(),
        customer_type: "company".into(),
        city: Some("São Paulo".into()),
        ..CustomerRecord::default()
    };
    let flaky = server
        .mock(
            "PUT",
            "/api/v1/customers/0190c0de-0000-7000-8000-000000000001",
        )
        .with_status(502)
        .with_body("<html>bad gateway</html>")
        .expect(1)
        .create_async()
        .await;
    let ok = server
        .mock(
            "PUT",
            "/api/v1/customers/0190c0de-0000-7000-8000-000000000001",
        )
        .match_body(Matcher::Json(json!({"customer": {
            "name": "ACME Telecomunicações Ltda", "legal_code": "12ABC34501DE35",
            "customer_type": "company", "city": "São Paulo"
        }})))
        .with_status(200)
        .with_body(r#"{"customer": {"id": 48011, "code": "0190c0de-0000-7000-8000-000000000001"}}"#)
        .expect(1)
        .create_async()
        .await;
    let r = client(&server)
        .upsert_customer("0190c0de-0000-7000-8000-000000000001", &record)
        .await
        .unwrap();
    assert_eq!(r.id, Some(48011));
    flaky.assert_async().await;
    ok.assert_async().await;
}

#[tokio::test]
async fn errors_keep_status_and_docsales_fields_and_classify() {
    let mut server = Server::new_async().await;
    let m = server
        .mock("GET", "/api/v1/proposals/1")
        .with_status(401)
        .with_body(common::fixture("error-unauthorized.json"))
        .expect(1)
        .create_async()
        .await;
    let e = client(&server)
        .get_proposal(&ProposalRef::Id(1))
        .await
        .unwrap_err();
    m.assert_async().await; // not retried
    match &e {
        DocSalesError::Http {
            status,
            error,
            message,
            ..
        } => {
            assert_eq!(*status, 401);
            assert_eq!(error.as_deref(), Some("unauthorized"));
            assert_eq!(message.as_deref(), Some("Token inválido ou expirado"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(e.kind(), UpstreamErrorKind::Unauthorized);
    let up = e.into_upstream(Some("1".into()));
    assert_eq!(up.status, Some(401));
    assert_eq!(up.code.as_deref(), Some("unauthorized"));
    assert_eq!(up.record.as_deref(), Some("1"));
    assert!(!up.is_retryable());

    let m = server
        .mock("GET", "/api/v1/proposals/2")
        .with_status(404)
        .with_body(r#"{"message": "Proposta não encontrada"}"#)
        .expect(1)
        .create_async()
        .await;
    let e = client(&server)
        .get_proposal(&ProposalRef::Id(2))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), UpstreamErrorKind::NotFound);
    m.assert_async().await;
}

#[tokio::test]
async fn transient_failures_are_retried_up_to_the_limit() {
    let mut server = Server::new_async().await;
    let m = server
        .mock("GET", "/api/v1/proposals/3")
        .with_status(503)
        .with_header("content-type", "text/html")
        .with_header("retry-after", "0")
        .with_body("<html><h1>503</h1></html>")
        .expect(3)
        .create_async()
        .await;
    let e = client(&server)
        .get_proposal(&ProposalRef::Id(3))
        .await
        .unwrap_err();
    m.assert_async().await;
    assert!(matches!(
        e,
        DocSalesError::Http {
            status: 503,
            error: None,
            message: None,
            ..
        }
    ));
    assert!(e.is_retryable());
    assert_eq!(e.retry_after(), Some(Duration::ZERO));
}

#[tokio::test]
async fn malformed_and_misshapen_bodies_name_the_path() {
    let mut server = Server::new_async().await;
    let _garbled = server
        .mock("GET", "/api/v1/proposals/4")
        .with_status(200)
        .with_body(r#"{"document": {"id": 4, "code": "DS"#)
        .expect(3)
        .create_async()
        .await;
    let e = client(&server)
        .get_proposal(&ProposalRef::Id(4))
        .await
        .unwrap_err();
    match &e {
        DocSalesError::Decode { source, .. } => assert_eq!(source.kind, DecodeErrorKind::Eof),
        other => panic!("{other:?}"),
    }
    assert!(e.is_retryable(), "a cut body may be a one-off");

    let m = server
        .mock("GET", "/api/v1/proposals/5")
        .with_status(200)
        .with_body(r#"{"document": {"id": 5}, "products": [{"code": "A", "unit_value": "R$ 10"}]}"#)
        .expect(1)
        .create_async()
        .await;
    let e = client(&server)
        .get_proposal(&ProposalRef::Id(5))
        .await
        .unwrap_err();
    match &e {
        DocSalesError::Decode { source, status, .. } => {
            assert_eq!(*status, 200);
            assert_eq!(source.path, "products[0].unit_value");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        !e.is_retryable(),
        "a body of the wrong shape will not change"
    );
    m.assert_async().await;
}

#[tokio::test]
async fn a_silent_server_times_out_per_attempt() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            let (sock, _) = listener.accept().await.unwrap();
            held.push(sock);
        }
    });
    let c = DocSalesClient::builder(
        Url::parse(&format!("http://{addr}/api/v1/")).unwrap(),
        SecretString::from(TOKEN),
    )
    .timeout(Duration::from_millis(100))
    .retry(RetryPolicy::none())
    .build()
    .unwrap();
    let e = c.get_proposal(&ProposalRef::Id(9)).await.unwrap_err();
    assert!(
        matches!(
            e,
            DocSalesError::Transport {
                timed_out: true,
                maybe_sent: true,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.maybe_applied());
    holder.abort();
}

#[tokio::test]
async fn the_port_fetches_maps_and_lists() {
    let mut server = Server::new_async().await;
    let get = server
        .mock("GET", "/api/v1/proposals/44073")
        .with_status(200)
        .with_body(common::fixture("proposal-approved-company.json"))
        .create_async()
        .await;
    let list = server
        .mock("GET", "/api/v1/proposals")
        .match_query(Matcher::UrlEncoded("status".into(), "approved".into()))
        .with_status(200)
        .with_body(
            r#"{"proposals": [
                {"id": 1, "status": "approved"},
                {"id": 2, "status": "sent"},
                {"code": "no-id", "status": "approved"},
                {"external_uuid": "u-3"}
            ], "next_cursor": "c2"}"#,
        )
        .create_async()
        .await;
    let none = catch_all(&mut server).await;
    let source = DocSalesSource::new(client(&server), Arc::new(common::catalog()));
    assert_eq!(source.account(), "acme");
    let s = source.fetch("44073").await.unwrap();
    assert_eq!(s.key.account, "acme");
    assert_eq!(s.key.proposal_id, "44073");
    assert_eq!(s.raw.orders.len(), 2);
    assert!(
        s.field_sources
            .iter()
            .any(|(d, w)| d == "customer.tax_id" && w == "customer.legal_code")
    );

    let page = source.list_approved(None).await.unwrap();
    let ids: Vec<_> = page.keys.iter().map(|k| k.proposal_id.as_str()).collect();
    assert_eq!(ids, ["1", "u-3"]);
    assert_eq!(page.next_cursor.as_deref(), Some("c2"));

    let e = source.fetch("../customers/1").await.unwrap_err();
    assert_eq!(e.kind, UpstreamErrorKind::Permanent);
    get.assert_async().await;
    list.assert_async().await;
    none.assert_async().await;
}
