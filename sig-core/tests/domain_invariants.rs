//! The validated domain cannot be built or deserialized into a state that raw validation
//! refuses, and journals written before the domain types checked their own rules still load.

use std::path::Path;

use serde_json::{Value, json};
use sig_core::config::Catalog;
use sig_core::raw::RawProposal;
use sig_core::{
    Code, Customer, CustomerFields, NonEmpty, Phone, Proposal, ProposalFields, ServiceOrder,
};

fn catalog() -> Catalog {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/sig.example.toml");
    Catalog::from_config_toml(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap()
}

/// The sample proposal, validated from its raw form.
fn validated() -> Proposal {
    let raw: RawProposal =
        serde_json::from_str(&read("../examples/data/proposal.raw.json")).unwrap();
    raw.validate(&catalog()).expect("the sample is valid")
}

/// `tests/data/proposal.validated.json` was written by `serde_json::to_string_pretty` of the
/// sample proposal with the derived serde of the domain types before they validated
/// themselves: the journal format of every integration already stored.
#[test]
fn journals_written_before_still_load_and_serialize_the_same() {
    let old = read("tests/data/proposal.validated.json");
    let loaded: Proposal = serde_json::from_str(&old).expect("an old journal entry loads");
    assert_eq!(loaded, validated());
    let old_value: Value = serde_json::from_str(&old).unwrap();
    assert_eq!(serde_json::to_value(&loaded).unwrap(), old_value);
    // Each part loads on its own too (the pipeline journals orders and customers separately).
    let c: Customer = serde_json::from_value(old_value["customer"].clone()).unwrap();
    assert_eq!(c, loaded.customer);
    let o: ServiceOrder = serde_json::from_value(old_value["orders"][1].clone()).unwrap();
    assert_eq!(&o, &loaded.orders[1]);
}

/// Change `doc` at a JSON pointer.
fn with(doc: &Value, pointer: &str, v: Value) -> Value {
    let mut d = doc.clone();
    *d.pointer_mut(pointer)
        .unwrap_or_else(|| panic!("{pointer}")) = v;
    d
}

#[test]
fn deserialization_refuses_what_validation_refuses() {
    let good = serde_json::to_value(validated()).unwrap();
    assert!(serde_json::from_value::<Proposal>(good.clone()).is_ok());
    let did_21 = json!("+552123456789");
    let cases: Vec<(&str, Value, &str)> = vec![
        ("/customer/emails", json!([]), "at least one is required"),
        ("/customer/phones", json!([]), "at least one is required"),
        (
            "/customer/emails",
            json!(["a@b.com.br", "x@y.com.br", "a@B.COM.BR"]),
            "emails[2]: listed twice (duplicate)",
        ),
        (
            "/customer/phones/1",
            good["customer"]["phones"][0].clone(),
            "phones[1]: listed twice (duplicate)",
        ),
        (
            "/orders/0/quantity",
            json!(0),
            "quantity: between 1 and 10000, got 0",
        ),
        (
            "/orders/0/quantity",
            json!(10_001),
            "quantity: between 1 and 10000",
        ),
        (
            "/orders/0/sip_lines",
            json!(0),
            "sip_lines: between 1 and 100000, got 0",
        ),
        (
            "/orders/0/channels",
            json!(0),
            "channels: between 1 and 100000, got 0",
        ),
        (
            "/orders/0/channels",
            json!(100_001),
            "channels: between 1 and 100000",
        ),
        (
            "/orders/0/dids/1",
            did_21.clone(),
            "dids[1]: the DID is in area code 21, the order in 11 (inconsistent)",
        ),
        (
            "/orders/0/dids/1",
            good["orders"][0]["dids"][0].clone(),
            "dids[1]: the same DID is already requested at dids[0] (duplicate)",
        ),
        (
            "/orders/1/dids/0",
            good["orders"][0]["dids"][0].clone(),
            "the DID is in area code 11, the order in 21",
        ),
        (
            "/orders/0/billing_day",
            json!(0),
            "the billing day is between 1 and 28, got 0",
        ),
        (
            "/orders/0/billing_day",
            json!(29),
            "the billing day is between 1 and 28, got 29",
        ),
        (
            "/orders/0/billing_day",
            json!(300),
            "the billing day is between 1 and 28, got 300",
        ),
        (
            "/orders/0/billing_day",
            json!("31"),
            "between 1 and 28, got 31",
        ),
        (
            "/orders/0/monthly_value",
            json!(49.9),
            "written as a string",
        ),
        (
            "/orders/0/monthly_value",
            json!("1.000000000000000001"),
            "two decimal places",
        ),
        ("/id", json!("   "), "id: a value is required (required)"),
        ("/customer/tax_id", json!("12ABC34501DE36"), "check digits"),
        (
            "/customer/address/cep",
            json!("0130400"),
            "a CEP has 8 digits",
        ),
    ];
    for (pointer, v, want) in cases {
        let doc = with(&good, pointer, v.clone());
        let err = serde_json::from_value::<Proposal>(doc)
            .map(|_| ())
            .expect_err(&format!("{pointer} = {v} must be refused"));
        assert!(err.to_string().contains(want), "{pointer} = {v}: {err}");
    }
    // No order at all is a valid domain proposal (a customer registered directly or migrated
    // without services yet); only a DocSales proposal's validation requires one.
    let none = with(&good, "/orders", json!([]));
    let p = serde_json::from_value::<Proposal>(none).expect("a proposal without orders");
    assert!(p.orders.is_empty());
    // The same DID in two orders of one area code: only the proposal can see it.
    let mut doc = with(&good, "/orders/1/area_code", json!(11));
    doc = with(&doc, "/orders/1/dids", good["orders"][0]["dids"].clone());
    let err = serde_json::from_value::<Proposal>(doc)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("orders[1].dids[0]: the same DID is already requested at orders[0].dids[0]"),
        "{err}"
    );
}

/// The crash the audit found: sig-omie took `emails[0]` of a customer that came from JSON.
#[test]
fn a_customer_without_e_mail_or_phone_cannot_exist() {
    let mut c = serde_json::to_value(&validated().customer).unwrap();
    c["emails"] = json!([]);
    let err = serde_json::from_value::<Customer>(c.clone()).unwrap_err();
    assert!(
        err.to_string().contains("at least one is required"),
        "{err}"
    );
    c["emails"] = json!(null);
    assert!(serde_json::from_value::<Customer>(c.clone()).is_err());
    c.as_object_mut().unwrap().remove("emails");
    assert!(serde_json::from_value::<Customer>(c).is_err());
    // Built from its fields in code, a list still has at least one item.
    let p = validated();
    assert_eq!(
        p.customer.main_email().as_str(),
        "financeiro@paoquente.com.br"
    );
    assert_eq!(p.customer.main_phone().e164(), "+551134567890");
    assert!(NonEmpty::<Phone>::from_vec(vec![]).is_err());
}

#[test]
fn constructors_check_the_rules_and_report_relative_paths() {
    let p = validated();
    // A customer whose phone is listed twice.
    let mut fields: CustomerFields = p.customer.clone().into_fields();
    fields.phones.push(*p.customer.main_phone());
    let problems = Customer::new(fields).unwrap_err();
    let got: Vec<(&str, Code)> = problems
        .iter()
        .map(|x| (x.field.as_str(), x.code))
        .collect();
    assert_eq!(got, vec![("phones[2]", Code::Duplicate)]);

    // An order that moves to another area code keeps DIDs of the old one: refused.
    let mut order = p.orders[0].clone().into_fields();
    order.area_code = "21".parse().unwrap();
    order.sip_lines = 0;
    let problems = ServiceOrder::new(order).unwrap_err();
    let got: Vec<(&str, Code)> = problems
        .iter()
        .map(|x| (x.field.as_str(), x.code))
        .collect();
    assert_eq!(
        got,
        vec![
            ("sip_lines", Code::OutOfRange),
            ("dids[0]", Code::Inconsistent),
            ("dids[1]", Code::Inconsistent)
        ]
    );

    // Id and code are trimmed; a blank code is absent; a blank id is refused.
    let mut fields: ProposalFields = p.clone().into_fields();
    fields.id = " 44073 \n".into();
    fields.code = Some("  ".into());
    let q = Proposal::new(fields.clone()).unwrap();
    assert_eq!((q.id.as_str(), q.code.as_deref()), ("44073", None));
    fields.id = "\t".into();
    let problems = Proposal::new(fields).unwrap_err();
    assert_eq!(problems.0[0].field, "id");
    assert_eq!(problems.0[0].code, Code::Required);

    // A valid value goes back and forth through its fields unchanged.
    assert_eq!(Proposal::new(p.clone().into_fields()).unwrap(), p);
    assert_eq!(Proposal::try_from(p.fields().clone()).unwrap(), p);
}

#[test]
fn raw_validation_reports_the_same_rules_at_absolute_paths() {
    let mut raw: RawProposal =
        serde_json::from_str(&read("../examples/data/proposal.raw.json")).unwrap();
    raw.id = Some("  ".into());
    raw.customer.phones = vec!["(11) 3456-7890".into(), "11 34567890".into()];
    raw.orders[0].sip_lines = Some("0".into());
    raw.orders[0].billing_day = Some("300".into());
    let problems = raw.validate(&catalog()).unwrap_err();
    let got: Vec<(&str, Code, &str)> = problems
        .iter()
        .map(|x| (x.field.as_str(), x.code, x.message.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("id", Code::Required, "a value is required"),
            ("customer.phones[1]", Code::Duplicate, "listed twice"),
            (
                "orders[0].billing_day",
                Code::OutOfRange,
                "between 1 and 28, got 300"
            ),
            (
                "orders[0].sip_lines",
                Code::OutOfRange,
                "between 1 and 100000, got 0"
            ),
        ]
    );
}
