//! Validation of whole proposals against the shipped example configuration and samples.

use std::path::Path;

use proptest::prelude::*;
use sig_core::config::{Catalog, Config, MapSecrets};
use sig_core::raw::{RawAddress, RawCustomer, RawOrder, RawProposal};
use sig_core::{Code, CustomerKind};

fn example_config() -> Config {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/sig.example.toml");
    let text = std::fs::read_to_string(&root).unwrap();
    // Every secret the example references, with dummy values.
    let names = text
        .split("env = \"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_owned())
        .map(|n| (n, "dummy".to_owned()))
        .collect();
    Config::from_toml(&text, root.parent().unwrap(), &MapSecrets(names))
        .expect("example config loads")
}

fn sample(name: &str) -> RawProposal {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/data")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn the_sample_proposal_validates_with_catalog_defaults() {
    let cfg = example_config();
    let p = sample("proposal.raw.json")
        .validate(&cfg.catalog)
        .expect("valid");
    assert_eq!(p.id, "44073");
    assert_eq!(p.code.as_deref(), Some("DS-00319"));
    assert_eq!(p.customer.tax_id.as_str(), "12ABC34501DE35");
    assert_eq!(p.customer.kind(), CustomerKind::Company);
    assert_eq!(p.customer.phones.len(), 2);
    assert_eq!(p.orders.len(), 2);
    let trunk = &p.orders[0];
    assert_eq!(trunk.plan.as_str(), "sip-trunk-10");
    assert_eq!((trunk.sip_lines, trunk.channels), (1, 10));
    assert_eq!(trunk.monthly_value.to_string(), "299.90");
    assert_eq!(trunk.dids.len(), 2);
    let lines = &p.orders[1];
    assert_eq!(lines.plan.as_str(), "sip-line");
    assert_eq!((lines.quantity, lines.sip_lines, lines.channels), (3, 3, 6));
    assert_eq!(
        lines.monthly_value.to_string(),
        "119.70",
        "list price × quantity"
    );
    assert_eq!(lines.area_code.get(), 21);
    assert_eq!(lines.start_date.to_string(), "2026-12-01");
    assert_eq!(
        p.created_at.unwrap().to_rfc3339(),
        "2026-11-20T10:12:31-03:00"
    );
}

#[test]
fn every_problem_is_reported_at_once_with_its_path() {
    let cfg = example_config();
    let problems = sample("proposal.invalid.json")
        .validate(&cfg.catalog)
        .unwrap_err();
    let got: Vec<(String, Code)> = problems.iter().map(|p| (p.field.clone(), p.code)).collect();
    let want: Vec<(String, Code)> = [
        ("customer.tax_id", Code::InvalidCheckDigit),
        ("customer.legal_name", Code::Required),
        ("customer.emails[0]", Code::InvalidFormat),
        ("customer.phones[0]", Code::UnknownAreaCode),
        ("customer.address.uf", Code::UnknownUf),
        ("customer.address.cep", Code::WrongLength),
        ("orders[0].product", Code::UnknownPlan),
        ("orders[0].start_date", Code::InvalidDate),
        ("orders[0].billing_day", Code::OutOfRange),
        ("orders[0].monthly_value", Code::InvalidAmount),
        ("orders[0].dids[0]", Code::Inconsistent),
    ]
    .into_iter()
    .map(|(f, c)| (f.to_owned(), c))
    .collect();
    let mut g = got.clone();
    g.sort();
    let mut w = want.clone();
    w.sort();
    assert_eq!(g, w, "got {got:#?}");
    // Serializes as the documented list of {field, code, message}.
    let json = serde_json::to_value(&problems).unwrap();
    assert!(
        json.as_array()
            .unwrap()
            .iter()
            .all(|p| p["field"].is_string()
                && p["code"].is_string()
                && p["message"].as_str().is_some_and(|m| !m.is_empty()))
    );
}

#[test]
fn missing_sections_are_required_not_panics() {
    let cfg = example_config();
    let problems = RawProposal::default().validate(&cfg.catalog).unwrap_err();
    let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
    for f in [
        "id",
        "customer.tax_id",
        "customer.legal_name",
        "customer.emails",
        "customer.phones",
        "customer.address.street",
        "customer.address.cep",
        "orders",
    ] {
        assert!(fields.contains(&f), "{f} missing from {fields:?}");
    }
}

#[test]
fn duplicate_dids_across_orders_name_the_first() {
    let cfg = example_config();
    let mut raw = sample("proposal.raw.json");
    raw.orders[1].area_code = Some("11".into());
    raw.orders[1].dids = vec!["11 3456 7000".into()];
    let problems = raw.validate(&cfg.catalog).unwrap_err();
    assert_eq!(problems.len(), 1, "{problems}");
    let p = &problems.0[0];
    assert_eq!(
        (p.field.as_str(), p.code),
        ("orders[1].dids[0]", Code::Duplicate)
    );
    assert!(p.message.contains("orders[0].dids[0]"), "{}", p.message);
}

#[test]
fn lenient_input_forms() {
    let raw: RawProposal = serde_json::from_str(
        r#"{"id": 44073, "customer": {"emails": "a@b.com.br", "phones": [null, "", 11987654321]},
            "orders": [{"quantity": 2.0, "dids": "11 3456-7000"}]}"#,
    )
    .unwrap();
    assert_eq!(raw.id.as_deref(), Some("44073"));
    assert_eq!(raw.customer.emails, vec!["a@b.com.br"]);
    assert_eq!(raw.customer.phones, vec!["11987654321"]);
    assert_eq!(raw.orders[0].quantity.as_deref(), Some("2.0"));
    assert!(serde_json::from_str::<RawProposal>(r#"{"id": {"x": 1}}"#).is_err());
}

fn any_text() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        ".{0,40}".prop_map(Some),
        "[0-9./ -]{0,20}".prop_map(Some)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]
    #[test]
    fn validation_never_panics(
        a in any_text(), b in any_text(), c in any_text(), d in any_text(), e in any_text(),
        f in any_text(), g in any_text(), h in any_text(), i in any_text(),
        list in proptest::collection::vec(".{0,20}", 0..4),
    ) {
        let raw = RawProposal {
            id: a.clone(),
            status: b.clone(),
            created_at: c.clone(),
            customer: RawCustomer {
                tax_id: d.clone(), legal_name: e.clone(), emails: list.clone(), phones: list.clone(),
                address: RawAddress { cep: f.clone(), uf: g.clone(), street: h.clone(), ..Default::default() },
                ..Default::default()
            },
            orders: vec![RawOrder {
                product: i.clone(), quantity: a, sip_lines: b, channels: c, area_code: d,
                dids: list, monthly_value: e, start_date: f, billing_day: g,
            }],
            ..Default::default()
        };
        let catalog = Catalog::default();
        match raw.validate(&catalog) {
            Ok(_) => prop_assert!(false, "an empty catalog cannot resolve a plan"),
            Err(p) => prop_assert!(!p.is_empty()),
        }
    }
}
