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

/// Repeats are found the same way in short DID lists (scanned) and long ones (indexed): each
/// repeat names where the number was first requested, in the order the DIDs are listed, and a
/// DID outside its order's area code is reported before its repeat.
#[test]
fn repeated_dids_name_the_first_place_in_short_and_long_lists() {
    use sig_core::domain::{ServiceOrder, ServiceOrderFields};
    let cfg = example_config();
    for extra in [0usize, 40] {
        let mut raw = sample("proposal.raw.json");
        raw.orders[1].area_code = Some("11".into());
        let mut first: Vec<String> = (0..extra).map(|n| format!("11 3{n:03}-1000")).collect();
        first.push("11 3456-9000".into());
        first.push("11 3456-9000".into());
        raw.orders[0].dids.extend(first);
        let taken = raw.orders[0].dids[0].clone();
        raw.orders[1].dids = vec![
            "21 3003-2000".into(),
            "11 3456-9000".into(),
            taken,
            "x".into(),
        ];
        let n0 = raw.orders[0].dids.len();
        let problems = raw.validate(&cfg.catalog).unwrap_err();
        let got: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            got,
            [
                format!(
                    "orders[0].dids[{}]: the same DID is already requested at orders[0].dids[{}] (duplicate)",
                    n0 - 1,
                    n0 - 2
                ),
                "orders[1].dids[0]: the DID is in area code 21, the order in 11 (inconsistent)"
                    .to_owned(),
                format!(
                    "orders[1].dids[1]: the same DID is already requested at orders[0].dids[{}] (duplicate)",
                    n0 - 2
                ),
                "orders[1].dids[2]: the same DID is already requested at orders[0].dids[0] (duplicate)"
                    .to_owned(),
                "orders[1].dids[3]: unexpected character 'x' at position 1; a phone has digits and the separators ( ) - . and spaces (invalid_format)"
                    .to_owned(),
            ],
            "with {extra} more DIDs"
        );

        // The domain's own check on one order, same rules and places.
        let mut ok = raw.clone();
        ok.orders[1].dids.clear();
        ok.orders[0].dids.pop();
        let order = ok.validate(&cfg.catalog).unwrap().orders[0].clone();
        let mut fields: ServiceOrderFields = order.into_fields();
        let last = fields.dids.len() - 1;
        fields.dids.push(fields.dids[last]);
        fields.dids.push(fields.dids[0]);
        let got: Vec<String> = ServiceOrder::new(fields)
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            got,
            [
                format!(
                    "dids[{}]: the same DID is already requested at dids[{last}] (duplicate)",
                    last + 1
                ),
                format!(
                    "dids[{}]: the same DID is already requested at dids[0] (duplicate)",
                    last + 2
                ),
            ],
            "with {extra} more DIDs"
        );
    }
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

// ---------------------------------------------------------------------------------------------
// Fuzzing against the example catalog: plan resolution, the plan's defaults for lines,
// channels and value, and everything after them only run when a product resolves, which an
// empty catalog never lets happen.

/// The catalog of `examples/sig.example.toml`, read as `sig validate` and Python read it.
fn example_catalog() -> Catalog {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/sig.example.toml");
    Catalog::from_config_toml(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The same catalog with one plan that has no list price (so a value becomes required).
fn unpriced_catalog() -> Catalog {
    let mut c = example_catalog();
    c.plans[0].monthly_price = None;
    c
}

/// Every raw field a mutation can hit; `Order*` ones name an order by index.
#[derive(Debug, Clone, Copy)]
enum Target {
    Id,
    Status,
    CreatedAt,
    UpdatedAt,
    TaxId,
    LegalName,
    TradeName,
    ContactName,
    Emails,
    Phones,
    Street,
    Number,
    Complement,
    District,
    City,
    Uf,
    Cep,
    StateRegistration,
    MunicipalRegistration,
    SellerName,
    SellerEmail,
    OrderProduct(usize),
    OrderQuantity(usize),
    OrderSipLines(usize),
    OrderChannels(usize),
    OrderAreaCode(usize),
    OrderDids(usize),
    OrderMonthlyValue(usize),
    OrderStartDate(usize),
    OrderBillingDay(usize),
    /// Drop an order.
    RemoveOrder(usize),
    /// Append a copy of an order (its DIDs then repeat across orders).
    CopyOrder(usize),
}

fn target() -> impl Strategy<Value = Target> {
    use Target::*;
    let fixed = prop::sample::select(vec![
        Id,
        Status,
        CreatedAt,
        UpdatedAt,
        TaxId,
        LegalName,
        TradeName,
        ContactName,
        Emails,
        Phones,
        Street,
        Number,
        Complement,
        District,
        City,
        Uf,
        Cep,
        StateRegistration,
        MunicipalRegistration,
        SellerName,
        SellerEmail,
    ]);
    let order = (0usize..11, 0usize..3).prop_map(|(k, i)| match k {
        0 => OrderProduct(i),
        1 => OrderQuantity(i),
        2 => OrderSipLines(i),
        3 => OrderChannels(i),
        4 => OrderAreaCode(i),
        5 => OrderDids(i),
        6 => OrderMonthlyValue(i),
        7 => OrderStartDate(i),
        8 => OrderBillingDay(i),
        9 => RemoveOrder(i),
        _ => CopyOrder(i),
    });
    prop_oneof![2 => fixed, 3 => order]
}

/// Values that sit on the rules' edges, from every field (a value meant for one field is
/// tried in others too).
const EDGES: &[&str] = &[
    "VOIP-LINHA",
    "voip-tronco-10",
    " SIP-1 ",
    "sip-trunk-10",
    "pabx-virtual",
    "PABX-VIRTUAL",
    "VOIP-UNKNOWN",
    "0",
    "1",
    "2.0",
    ".0",
    "2.5",
    "-1",
    "28",
    "29",
    "300",
    "10000",
    "10001",
    "100000",
    "100001",
    "4294967296",
    "99999999999999999999999",
    "11",
    "21",
    "(61)",
    "011",
    "20",
    "11 3456-7000",
    "(11) 3456-7001",
    "21 2345-6789",
    "+55 11 98765-4321",
    "11 2345-678",
    "299,90",
    "1.234,56",
    "1.234",
    "0.001",
    "1.000000000000000001",
    "999999999.99",
    "1000000000",
    "2026-12-01",
    "01/12/2026",
    "2026-02-30",
    "2026-11-20 10:12:31 -0300",
    "2026-11-20T10:12:31Z",
    "approved",
    "sent",
    "529.982.247-25",
    "12ABC34501DE35",
    "12abc34501de36",
    "111.111.111-11",
    "01304-001",
    "00000-000",
    "SP",
    "xx",
    "ISENTO",
    "a@b.com.br",
    "a@b",
    "S/N",
    " ",
];

/// A replacement value: an edge value, arbitrary text, or absent.
fn value() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        4 => prop::sample::select(EDGES).prop_map(|s| Some(s.to_owned())),
        2 => ".{0,40}".prop_map(Some),
        1 => prop::collection::vec(any::<char>(), 0..=64).prop_map(|c| Some(String::from_iter(c))),
        1 => Just(None),
    ]
}

/// A list replacement: 0 to 3 values, repeats likely.
fn values() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(value(), 0..4).prop_map(|v| v.into_iter().flatten().collect())
}

/// A valid starting point: the sample proposal with its orders varied within the rules.
fn valid_base() -> impl Strategy<Value = RawProposal> {
    let order = (
        prop::sample::select(vec![
            "VOIP-LINHA",
            "SIP-1",
            "VOIP-TRONCO-10",
            "pabx-virtual",
        ]),
        prop::option::of(1u32..=5),
        prop::option::of(1u32..=50),
        prop::option::of(1u32..=50),
        prop::sample::select(vec!["11", "21", "61"]),
        prop::collection::vec(0u32..10, 0..3),
        prop::option::of(prop::sample::select(vec!["99,90", "1500", "0.5"])),
        1u32..=28,
    );
    prop::collection::vec(order, 1..=3).prop_map(|orders| {
        let mut raw = sample("proposal.raw.json");
        raw.orders = orders
            .into_iter()
            .enumerate()
            .map(
                |(i, (product, q, lines, channels, area, dids, value, day))| {
                    let mut dids: Vec<String> = dids
                        .into_iter()
                        .map(|n| format!("({area}) 3{i}00-70{n:02}"))
                        .collect();
                    dids.dedup();
                    dids.sort();
                    dids.dedup();
                    RawOrder {
                        product: Some(product.to_owned()),
                        quantity: q.map(|n| n.to_string()),
                        sip_lines: lines.map(|n| n.to_string()),
                        channels: channels.map(|n| n.to_string()),
                        area_code: Some(area.to_owned()),
                        dids,
                        monthly_value: value.map(str::to_owned),
                        start_date: Some("2026-12-01".into()),
                        billing_day: Some(day.to_string()),
                    }
                },
            )
            .collect();
        raw
    })
}

/// The order at `i` (modulo the count), if there is any.
fn order_at(raw: &mut RawProposal, i: usize) -> Option<&mut RawOrder> {
    let n = raw.orders.len();
    raw.orders.get_mut(i.checked_rem(n)?)
}

fn mutate(raw: &mut RawProposal, target: Target, v: Option<String>, list: Vec<String>) {
    use Target::*;
    let n = raw.orders.len();
    let c = &mut raw.customer;
    match target {
        Id => raw.id = v,
        Status => raw.status = v,
        CreatedAt => raw.created_at = v,
        UpdatedAt => raw.updated_at = v,
        TaxId => c.tax_id = v,
        LegalName => c.legal_name = v,
        TradeName => c.trade_name = v,
        ContactName => c.contact_name = v,
        Emails => c.emails = list,
        Phones => c.phones = list,
        Street => c.address.street = v,
        Number => c.address.number = v,
        Complement => c.address.complement = v,
        District => c.address.district = v,
        City => c.address.city = v,
        Uf => c.address.uf = v,
        Cep => c.address.cep = v,
        StateRegistration => c.state_registration = v,
        MunicipalRegistration => c.municipal_registration = v,
        SellerName => raw.seller.get_or_insert_with(Default::default).name = v,
        SellerEmail => raw.seller.get_or_insert_with(Default::default).email = v,
        RemoveOrder(i) if n > 0 => {
            raw.orders.remove(i % n);
        }
        CopyOrder(i) if n > 0 => raw.orders.push(raw.orders[i % n].clone()),
        RemoveOrder(_) | CopyOrder(_) => {}
        OrderProduct(i) | OrderQuantity(i) | OrderSipLines(i) | OrderChannels(i)
        | OrderAreaCode(i) | OrderDids(i) | OrderMonthlyValue(i) | OrderStartDate(i)
        | OrderBillingDay(i) => {
            let Some(o) = order_at(raw, i) else { return };
            match target {
                OrderProduct(_) => o.product = v,
                OrderQuantity(_) => o.quantity = v,
                OrderSipLines(_) => o.sip_lines = v,
                OrderChannels(_) => o.channels = v,
                OrderAreaCode(_) => o.area_code = v,
                OrderDids(_) => o.dids = list,
                OrderMonthlyValue(_) => o.monthly_value = v,
                OrderStartDate(_) => o.start_date = v,
                _ => o.billing_day = v,
            }
        }
    }
}

/// What the fuzz run saw, to show it reached the plan-dependent code.
#[derive(Debug, Default)]
struct Seen {
    cases: u32,
    valid: u32,
    invalid: u32,
    lines_from_plan: u32,
    value_from_plan: u32,
    value_required_by_plan: u32,
}

#[test]
fn validation_against_the_example_catalog_never_panics_and_keeps_its_rules() {
    use proptest::test_runner::{Config as RunConfig, TestCaseError, TestRunner};
    use sig_core::Proposal;
    use std::cell::RefCell;

    const CASES: u32 = 5_000;
    let catalogs = [example_catalog(), unpriced_catalog()];
    let seen = RefCell::new(Seen::default());
    let strategy = (
        valid_base(),
        prop::collection::vec((target(), value(), values()), 0..=3),
        any::<bool>(),
    );
    let mut runner = TestRunner::new(RunConfig {
        cases: CASES,
        failure_persistence: None,
        ..RunConfig::default()
    });
    let result = runner.run(&strategy, |(mut raw, mutations, unpriced)| {
        for (t, v, list) in mutations {
            mutate(&mut raw, t, v, list);
        }
        let catalog = &catalogs[usize::from(unpriced)];
        let mut s = seen.borrow_mut();
        s.cases += 1;
        match raw.validate(catalog) {
            Err(problems) => {
                s.invalid += 1;
                prop_assert!(!problems.is_empty());
                for p in problems.iter() {
                    prop_assert!(!p.message.is_empty(), "{p}");
                    let root = p.field.split(['.', '[']).next().unwrap_or("");
                    prop_assert!(
                        [
                            "id",
                            "created_at",
                            "updated_at",
                            "customer",
                            "orders",
                            "seller"
                        ]
                        .contains(&root),
                        "unexpected field path {}",
                        p.field
                    );
                    if p.field.ends_with(".monthly_value") && p.code == Code::Required {
                        s.value_required_by_plan += 1;
                    }
                }
            }
            Ok(p) => {
                s.valid += 1;
                prop_assert_eq!(p.orders.len(), raw.orders.len());
                for (o, r) in p.orders.iter().zip(&raw.orders) {
                    let plan = catalog
                        .plan(&o.plan)
                        .ok_or_else(|| TestCaseError::fail("plan not in the catalog"))?;
                    prop_assert!(o.sip_lines >= 1 && o.channels >= 1 && o.quantity >= 1);
                    if r.sip_lines.is_none() {
                        prop_assert_eq!(o.sip_lines, plan.lines_per_unit * o.quantity);
                        s.lines_from_plan += 1;
                    }
                    if r.channels.is_none() {
                        prop_assert_eq!(o.channels, plan.channels_per_unit * o.quantity);
                    }
                    if r.monthly_value.is_none() {
                        let price = plan
                            .monthly_price
                            .ok_or_else(|| TestCaseError::fail("valid without any value"))?;
                        prop_assert_eq!(o.monthly_value, price.times(o.quantity).unwrap());
                        s.value_from_plan += 1;
                    }
                    prop_assert!(o.dids.iter().all(|d| d.area_code() == o.area_code));
                }
                // The validated value goes through its JSON (the journal) and back unchanged.
                let json = serde_json::to_string(&p).unwrap();
                prop_assert_eq!(serde_json::from_str::<Proposal>(&json).unwrap(), p);
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let s = seen.into_inner();
    // The run reached both outcomes and the plan's defaults, each many times.
    assert_eq!(s.cases, CASES, "{s:?}");
    assert!(s.valid >= CASES / 10, "{s:?}");
    assert!(s.invalid >= CASES / 10, "{s:?}");
    assert!(s.lines_from_plan >= 100, "{s:?}");
    assert!(s.value_from_plan >= 100, "{s:?}");
    assert!(s.value_required_by_plan >= 100, "{s:?}");
}
