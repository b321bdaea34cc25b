//! Every fixture under `tests/resources/` decodes, and re-encodes to the same value.

mod common;

use std::str::FromStr;

use rust_decimal::Decimal;
use secrecy::SecretString;
use sig_core::ProposalStatus;
use sig_docsales::webhook::{IntakeError, WebhookRequest, intake};
use sig_docsales::wire::{
    self, CustomerType, Document, ProposalDocument, ProposalPage, RegistrationData,
};

fn roundtrip(doc: &ProposalDocument) {
    let json = serde_json::to_vec(doc).unwrap();
    let again = wire::decode_proposal(&json).unwrap();
    assert_eq!(&again, doc, "re-encoding changed the document");
}

#[test]
fn every_fixture_decodes() {
    let mut seen = 0;
    for entry in std::fs::read_dir(common::resources()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let body = std::fs::read(&path).unwrap();
        if name.starts_with("proposal-") || name.starts_with("webhook-") {
            let doc = wire::decode_proposal(&body).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(doc.document.is_some(), "{name}: no document");
            roundtrip(&doc);
        } else if name == "customer-proposals.json" {
            let list: Vec<Document> = wire::decode(&body).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(list.len(), 3);
        } else if name == "approved-page.json" {
            let page: ProposalPage = wire::decode(&body).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(page.proposals.len(), 2);
            assert_eq!(page.next_cursor.as_deref(), Some("eyJwYWdlIjoyfQ"));
        } else if name == "registration-data.json" {
            let data: RegistrationData =
                wire::decode(&body).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(data.payment_methods.len(), 2);
            assert_eq!(
                data.sellers[0].email.as_deref(),
                Some("carlos@provedor.example")
            );
            assert!(
                data.extra.contains_key("currencies"),
                "unknown tables are kept"
            );
        } else if name.starts_with("error-") {
            let v: serde_json::Value = wire::decode(&body).unwrap();
            assert!(
                v.get("error").is_some() || v.get("message").is_some(),
                "{name}"
            );
        } else {
            panic!("fixture {name} is not covered by this test");
        }
        seen += 1;
    }
    assert_eq!(seen, 9, "a fixture was added or removed: update this test");
}

#[test]
fn the_published_sample_shape_reads_with_its_quirks() {
    let doc = wire::decode_proposal(&common::fixture("webhook-published-sample.json")).unwrap();
    let d = doc.document.as_ref().unwrap();
    assert_eq!(d.code.as_deref(), Some("DS-00319"));
    assert_eq!(d.status, Some(ProposalStatus::Sent));
    assert_eq!(
        d.created_at.unwrap().to_rfc3339(),
        "2022-07-11T16:01:55-03:00",
        "the `-0300` offset is kept"
    );
    assert_eq!(d.contract_months, Some(12));
    assert_eq!(d.deal_id, None, "empty strings are absent");
    assert_eq!(d.sign_initial, Some(false));
    let customs: Vec<&str> = d.custom_fields().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        customs,
        [
            "custom_meio_de_pagamento",
            "custom_municipio_de_prestacao_de_servicos"
        ]
    );
    let c = doc.customer.as_ref().unwrap();
    assert_eq!(c.legal_code, None);
    assert_eq!(c.customer_type, Some(CustomerType::Company));
    assert_eq!(c.civil_status.as_deref(), Some("stable_union"));
    assert_eq!(
        doc.account.as_ref().unwrap().currency_iso_code.as_deref(),
        Some("BRL")
    );

    // The published copy shows no `document.id` / `external_uuid`: such a notification cannot
    // be re-fetched, and intake says so instead of guessing.
    let r = WebhookRequest {
        path: "/webhooks/docsales/secret-token".into(),
        body: common::fixture("webhook-published-sample.json"),
        ..Default::default()
    };
    assert!(matches!(
        intake(&r, "acme", &SecretString::from("secret-token")),
        Err(IntakeError::Unusable(_))
    ));
}

#[test]
fn the_company_fixture_keeps_values_exact_and_custom_fields() {
    let doc = wire::decode_proposal(&common::fixture("proposal-approved-company.json")).unwrap();
    let d = doc.document.as_ref().unwrap();
    assert_eq!(d.id, Some(44073));
    assert_eq!(d.status, Some(ProposalStatus::Approved));
    assert_eq!(d.contract_months, Some(12), "numbers as strings are read");
    assert_eq!(d.due_day, Some(10));
    assert_eq!(d.deal_id.as_deref(), Some("98812"));
    assert_eq!(d.sign_initial, Some(false));
    assert_eq!(d.custom["custom_dids"], "1140001000, 1140001001");
    let c = doc.customer.as_ref().unwrap();
    assert_eq!(
        c.legal_code.as_ref().unwrap().as_str(),
        "12.ABC.345/01DE-35"
    );
    assert_eq!(c.number.as_deref(), Some("1000"));
    assert_eq!(c.dba.as_deref(), Some("ACME Telecom"));
    assert!(c.extra.contains_key("custom_segmento"));
    assert_eq!(doc.products.len(), 2);
    assert_eq!(
        doc.products[0].unit_value,
        Some(Decimal::from_str("499.90").unwrap())
    );
    assert_eq!(
        doc.products[1].unit_value,
        Some(Decimal::from_str("89.9").unwrap())
    );
    assert_eq!(doc.products[1].quantity, Some(Decimal::from(2)));
    assert_eq!(doc.products[1].extra["custom_ddd"], "21");
}

#[test]
fn unknown_statuses_types_and_fields_are_kept() {
    let doc = wire::decode_proposal(&common::fixture("proposal-unknown-status.json")).unwrap();
    let d = doc.document.as_ref().unwrap();
    assert_eq!(
        d.status,
        Some(ProposalStatus::Unknown("signed_by_all".into()))
    );
    assert_eq!(d.contract_start, None);
    assert_eq!(d.due_day, None);
    assert!(d.custom.contains_key("custom_campo_novo"));
    assert!(doc.extra.contains_key("signers"));
    assert_eq!(
        doc.customer.as_ref().unwrap().customer_type,
        Some(CustomerType::Unknown("enterprise".into()))
    );
}

#[test]
fn the_person_fixture_reads_rfc3339_and_string_ids() {
    let doc = wire::decode_proposal(&common::fixture("proposal-approved-person.json")).unwrap();
    let d = doc.document.as_ref().unwrap();
    assert_eq!(d.id, Some(51200));
    assert_eq!(
        d.created_at.unwrap().to_rfc3339(),
        "2026-11-18T10:00:00-03:00"
    );
    assert_eq!(d.contact_email, None);
    assert_eq!(
        doc.customer.as_ref().unwrap().customer_type,
        Some(CustomerType::Person)
    );
}

#[test]
fn strict_fields_name_their_path() {
    let cases: &[(&str, &str)] = &[
        (r#"{"document": {"id": "12a"}}"#, "document.id"),
        (r#"{"document": {"id": -1}}"#, "document.id"),
        (r#"{"document": {"id": 0}}"#, "document.id"),
        (r#"{"document": {"status": 3}}"#, "document.status"),
        (
            r#"{"document": {"updated_at": "yesterday"}}"#,
            "document.updated_at",
        ),
        (
            r#"{"document": {"external_uuid": "../x"}}"#,
            "document.external_uuid",
        ),
        (
            r#"{"customer": {"legal_code": 52998224725}}"#,
            "customer.legal_code",
        ),
        (
            r#"{"customer": {"legal_code": "529<982>247"}}"#,
            "customer.legal_code",
        ),
        (
            r#"{"products": [{}, {"unit_value": "1.234,56"}]}"#,
            "products[1].unit_value",
        ),
        (
            r#"{"products": [{"total_value": [1]}]}"#,
            "products[0].total_value",
        ),
        (r#"{"products": {"code": "x"}}"#, "products"),
        (r#"{"customer": "ACME"}"#, "customer"),
        (r#"{"document": {"due_day": 3.5}}"#, "document.due_day"),
    ];
    for (body, path) in cases {
        let e = wire::decode_proposal(body.as_bytes()).unwrap_err();
        assert_eq!(&e.path, path, "{body}: {e}");
        assert!(e.names_field(), "{body}");
    }
}

#[test]
fn rejections_do_not_quote_the_value() {
    let e = wire::decode_proposal(br#"{"customer": "Jo\u00e3o CPF 52998224725"}"#).unwrap_err();
    assert!(!e.to_string().contains("52998224725"), "{e}");
    let e = wire::decode_proposal(br#"{"customer": {"legal_code": 52998224725}}"#).unwrap_err();
    assert!(!e.to_string().contains("52998224725"), "{e}");
}
