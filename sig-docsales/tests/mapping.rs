//! DocSales fixtures → sig-core `RawProposal` → validated proposal, with every problem traced
//! back to its DocSales field.

mod common;

use std::str::FromStr;

use sig_core::{Code, Money, ProposalStatus, TaxIdKind};
use sig_docsales::mapping::{self, map_proposal};
use sig_docsales::wire::{self, ProposalRef};

fn sourced(name: &str) -> sig_core::ports::SourcedProposal {
    let doc = wire::decode_proposal(&common::fixture(name)).unwrap();
    let reference = doc.document.as_ref().unwrap().reference().unwrap();
    mapping::sourced("acme", &reference, &doc, &common::catalog())
}

#[test]
fn an_approved_company_proposal_validates() {
    let s = sourced("proposal-approved-company.json");
    assert_eq!(s.key.account, "acme");
    assert_eq!(s.key.proposal_id, "44073");
    assert!(s.mapping_problems.is_empty(), "{}", s.mapping_problems);
    let p = mapping::validate(&s, &common::catalog()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.id, "44073");
    assert_eq!(p.code.as_deref(), Some("DS-00412"));
    assert_eq!(p.status, ProposalStatus::Approved);
    assert_eq!(p.customer.tax_id.kind(), TaxIdKind::Cnpj);
    assert_eq!(p.customer.tax_id.as_str(), "12ABC34501DE35");
    assert_eq!(p.customer.emails.len(), 2);
    assert_eq!(
        p.customer.phones.len(),
        2,
        "phone1 and whatsapp; blank phone2 dropped"
    );
    assert_eq!(p.orders.len(), 2);
    let (a, b) = (&p.orders[0], &p.orders[1]);
    assert_eq!(a.plan.as_str(), "pbx-10");
    assert_eq!(a.area_code.to_string(), "11");
    assert_eq!(a.dids.len(), 2);
    assert_eq!(a.monthly_value, Money::from_str("499.90").unwrap());
    assert_eq!(a.billing_day.get(), 10);
    assert_eq!(a.start_date.to_string(), "2026-12-01");
    assert_eq!(b.plan.as_str(), "trunk-sip");
    assert_eq!(b.quantity, 2);
    assert_eq!(b.channels, 20);
    assert_eq!(
        b.area_code.to_string(),
        "21",
        "the item's own custom field wins"
    );
    assert_eq!(b.dids.len(), 2);
    assert_eq!(
        b.monthly_value,
        Money::from_str("179.80").unwrap(),
        "unit × quantity"
    );
    assert_eq!(p.seller.as_ref().unwrap().name.as_str(), "Carlos Vendas");
}

#[test]
fn an_approved_person_proposal_validates() {
    let s = sourced("proposal-approved-person.json");
    let p = mapping::validate(&s, &common::catalog()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.customer.tax_id.kind(), TaxIdKind::Cpf);
    assert_eq!(p.customer.phones.len(), 1, "WhatsApp repeats phone1");
    assert_eq!(
        p.orders[0].area_code.to_string(),
        "48",
        "a numeric custom field is read"
    );
    assert_eq!(p.orders[0].monthly_value, Money::from_str("39.90").unwrap());
}

#[test]
fn problems_name_the_domain_field_and_the_docsales_field() {
    let s = sourced("proposal-invalid-legal-code.json");
    let problems = mapping::validate(&s, &common::catalog()).unwrap_err();
    let find = |field: &str| {
        problems
            .iter()
            .find(|p| p.field == field)
            .unwrap_or_else(|| panic!("no problem at {field}: {problems}"))
    };
    let tax = find("customer.tax_id");
    assert_eq!(tax.code, Code::InvalidCheckDigit);
    assert_eq!(tax.source_field.as_deref(), Some("customer.legal_code"));
    let plan = find("orders[1].product");
    assert_eq!(plan.code, Code::UnknownPlan);
    assert_eq!(plan.source_field.as_deref(), Some("products[1].code"));
    let day = find("orders[0].billing_day");
    assert_eq!(day.source_field.as_deref(), Some("document.due_day"));
    let did = find("orders[0].dids[1]");
    assert_eq!(did.code, Code::Inconsistent);
    assert_eq!(did.source_field.as_deref(), Some("document.custom_dids"));
    for p in problems.iter() {
        assert!(p.source_field.is_some(), "untraced problem: {p}");
    }
}

#[test]
fn a_proposal_without_customer_or_items_is_reported_not_rejected() {
    let s = sourced("proposal-unknown-status.json");
    assert_eq!(s.raw.status.as_deref(), Some("signed_by_all"));
    let problems = mapping::validate(&s, &common::catalog()).unwrap_err();
    let orders = problems.iter().find(|p| p.field == "orders").unwrap();
    assert_eq!(orders.source_field.as_deref(), Some("products"));
    let email = problems
        .iter()
        .find(|p| p.field == "customer.emails")
        .unwrap();
    assert!(
        email
            .source_field
            .as_deref()
            .unwrap()
            .contains("customer.contact_email")
    );
}

#[test]
fn fetching_by_uuid_keys_by_the_documents_id_when_it_has_one() {
    let doc = wire::decode_proposal(&common::fixture("proposal-approved-person.json")).unwrap();
    let by_uuid = ProposalRef::ExternalUuid("5f0c2d1e-8a4b-4c1e-9d7a-2b3c4d5e6f70".into());
    let s = mapping::sourced("acme", &by_uuid, &doc, &common::catalog());
    assert_eq!(s.key.proposal_id, "51200");
    let mut no_id = doc.clone();
    no_id.document.as_mut().unwrap().id = None;
    no_id.document.as_mut().unwrap().external_uuid = None;
    let s = mapping::sourced("acme", &by_uuid, &no_id, &common::catalog());
    assert_eq!(s.key.proposal_id, "5f0c2d1e-8a4b-4c1e-9d7a-2b3c4d5e6f70");
    assert_eq!(
        s.raw.id.as_deref(),
        Some("5f0c2d1e-8a4b-4c1e-9d7a-2b3c4d5e6f70")
    );
}

#[test]
fn mapping_is_deterministic() {
    let doc = wire::decode_proposal(&common::fixture("proposal-approved-company.json")).unwrap();
    assert_eq!(
        map_proposal(&doc, &common::catalog()),
        map_proposal(&doc, &common::catalog())
    );
}
