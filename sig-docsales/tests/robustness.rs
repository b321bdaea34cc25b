//! Property tests, 100 000 cases in all: the proposal decoder, the webhook intake and the
//! mapping never panic, whatever the input — structure-aware JSON (fields missing, null,
//! empty, of the wrong type, up to 64 KB long, unknown statuses and fields) and arbitrary
//! bytes — and every rejection of well-formed JSON names the path of a value that exists in
//! the input, without quoting it. Then 15 000 cases more: the one-pass decoder and the
//! allocation-lean mapping agree with the serde-derive decoder and the mapping they replaced
//! (kept under `reference/`): same documents, same rejections (kind, path, message,
//! position), same raw proposals, field sources and mapping problems.

mod common;
mod reference;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use secrecy::SecretString;
use serde_json::{Map, Value, json};
use sig_docsales::mapping;
use sig_docsales::webhook::{IntakeError, WebhookRequest, intake};
use sig_docsales::wire::{self, DecodeErrorKind};

const SECRET: &str = "prop-secret-token";

const DOCUMENT: &[&str] = &[
    "id",
    "external_uuid",
    "code",
    "status",
    "created_at",
    "updated_at",
    "expiration_date",
    "contract_start",
    "contract_end",
    "contract_months",
    "parcels_count",
    "due_day",
    "contact_name",
    "contact_role",
    "contact_email",
    "deal_id",
    "deal_name",
    "deal_user_id",
    "deal_crm_data",
    "deal_pipeline",
    "sign_initial",
    "custom_ddd",
    "custom_dids",
];
const CUSTOMER: &[&str] = &[
    "id",
    "code",
    "name",
    "DBA",
    "legal_code",
    "customer_type",
    "legal_code2",
    "postal_code",
    "address",
    "number",
    "complement",
    "district",
    "city",
    "state",
    "phone1",
    "phone2",
    "whatsapp_number",
    "contact_name",
    "contact_email",
    "financial_email",
    "external_uuid",
    "civil_status",
    "gender",
];
const ACCOUNT: &[&str] = &[
    "name",
    "document_number",
    "city",
    "state",
    "currency_iso_code",
];
const OWNER: &[&str] = &["name", "email", "phone_number", "whatsapp_number"];
const ITEM: &[&str] = &[
    "id",
    "code",
    "name",
    "quantity",
    "unit_value",
    "total_value",
    "custom_ddd",
    "custom_dids",
];

/// A string up to 64 KB, built cheaply: a short random prefix and one character repeated.
fn long_string() -> impl Strategy<Value = Value> {
    ("\\PC{0,8}", any::<char>(), 0usize..=65_536).prop_map(|(p, c, n)| {
        Value::String(format!("{p}{}", c.to_string().repeat(n / c.len_utf8())))
    })
}

/// Plausible and implausible scalars for any field.
fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => Just(Value::Null),
        3 => Just(json!("")),
        1 => Just(json!("  \t")),
        2 => any::<bool>().prop_map(Value::from),
        3 => any::<i64>().prop_map(Value::from),
        3 => (1u64..1_000_000).prop_map(Value::from),
        2 => any::<f64>().prop_map(|f| json!(f)),
        3 => "[0-9]{1,22}".prop_map(Value::from),
        3 => "-?[0-9]{1,12}(\\.[0-9]{1,4})?".prop_map(Value::from),
        2 => "[0-9A-Z./ -]{0,20}".prop_map(Value::from),
        2 => "20[0-9]{2}-[01][0-9]-[0-3][0-9]".prop_map(Value::from),
        2 => "20[0-9]{2}-[01][0-9]-[0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-5][0-9] [-+][01][0-9]00"
            .prop_map(Value::from),
        3 => prop_oneof![
            Just("approved".to_owned()),
            Just("sent".to_owned()),
            Just("APPROVED ".to_owned()),
            "[a-z_]{1,30}",
        ]
        .prop_map(Value::from),
        3 => "\\PC{0,40}".prop_map(Value::from),
        1 => long_string(),
        1 => Just(json!([])),
        1 => Just(json!({})),
        1 => proptest::collection::vec("[0-9]{8,13}", 0..4).prop_map(|v| json!(v)),
        1 => Just(json!({"nested": [1, {"x": null}]})),
    ]
}

/// A value of the right type for `field` (so that some documents decode and reach the
/// mapping), still with blanks, nulls and odd contents.
fn good(field: &'static str) -> BoxedStrategy<Value> {
    let date = "20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])";
    match field {
        "id" | "due_day" | "contract_months" | "parcels_count" => prop_oneof![
            (1u64..100_000).prop_map(Value::from),
            "[1-9][0-9]{0,5}".prop_map(Value::from),
            Just(Value::Null),
        ]
        .boxed(),
        "quantity" | "unit_value" | "total_value" => prop_oneof![
            "[0-9]{1,6}(\\.[0-9]{1,2})?".prop_map(Value::from),
            (0u32..10_000).prop_map(Value::from),
            Just(json!("")),
        ]
        .boxed(),
        "status" => prop_oneof![
            Just(json!("approved")),
            Just(json!("sent")),
            "[a-z_]{1,30}".prop_map(Value::from),
        ]
        .boxed(),
        "created_at" | "updated_at" => proptest::string::string_regex(&format!(
            "{date} [01][0-9]:[0-5][0-9]:[0-5][0-9] -0[0-3]00"
        ))
        .expect("regex")
        .prop_map(Value::from)
        .boxed(),
        "expiration_date" | "contract_start" | "contract_end" => date.prop_map(Value::from).boxed(),
        "legal_code" => prop_oneof![
            "[0-9]{11}",
            "[0-9]{2}\\.[0-9A-Z]{3}\\.[0-9A-Z]{3}/[0-9A-Z]{4}-[0-9]{2}",
            Just("529.982.247-25".to_owned()),
        ]
        .prop_map(Value::from)
        .boxed(),
        "external_uuid" => "[a-f0-9-]{8,36}".prop_map(Value::from).boxed(),
        "sign_initial" => any::<bool>().prop_map(Value::from).boxed(),
        "custom_ddd" => "[1-9][0-9]".prop_map(Value::from).boxed(),
        "custom_dids" => prop_oneof![
            "([1-9][0-9]{9}[,; ]{1,2}){0,3}".prop_map(Value::from),
            proptest::collection::vec("[1-9][0-9]{9}", 0..3).prop_map(|v| json!(v)),
        ]
        .boxed(),
        "code" => prop_oneof![
            Just(json!("PBX-10")),
            Just(json!("TRUNK-SIP")),
            "[A-Z0-9-]{1,12}".prop_map(Value::from),
        ]
        .boxed(),
        _ => prop_oneof![
            40 => "\\PC{0,30}".prop_map(Value::from),
            1 => long_string(),
            6 => (0u32..100_000).prop_map(Value::from),
            6 => Just(Value::Null),
        ]
        .boxed(),
    }
}

/// An object with some of `fields` (each missing, of the right type, or any leaf) and a few
/// unknown ones.
fn object(fields: &'static [&'static str]) -> impl Strategy<Value = Value> {
    let values: Vec<BoxedStrategy<Option<Value>>> = fields
        .iter()
        .map(|f| proptest::option::weighted(0.6, prop_oneof![40 => good(f), 1 => leaf()]).boxed())
        .collect();
    (
        values,
        proptest::collection::btree_map("(custom_)?[a-z_]{1,10}", leaf(), 0..3),
    )
        .prop_map(move |(values, extra)| {
            let mut map = Map::new();
            for (k, v) in extra {
                map.insert(k, v);
            }
            for (name, v) in fields.iter().zip(values) {
                if let Some(v) = v {
                    map.insert((*name).to_owned(), v);
                }
            }
            Value::Object(map)
        })
}

/// An object, or (rarely) a leaf where the object should be.
fn object_or_leaf(fields: &'static [&'static str]) -> impl Strategy<Value = Value> {
    prop_oneof![8 => object(fields), 1 => leaf()]
}

/// A whole proposal document, structure-aware.
fn proposal() -> impl Strategy<Value = Value> {
    (
        proptest::option::weighted(0.9, object_or_leaf(DOCUMENT)),
        proptest::option::weighted(0.5, object_or_leaf(ACCOUNT)),
        proptest::option::weighted(0.5, object_or_leaf(OWNER)),
        proptest::option::weighted(0.8, object_or_leaf(CUSTOMER)),
        proptest::option::weighted(
            0.8,
            prop_oneof![
                6 => proptest::collection::vec(object_or_leaf(ITEM), 0..4).prop_map(Value::Array),
                1 => leaf(),
            ],
        ),
        proptest::collection::btree_map("[a-z_]{1,10}", leaf(), 0..2),
    )
        .prop_map(|(document, account, owner, customer, products, extra)| {
            let mut map: Map<String, Value> = extra.into_iter().collect();
            for (k, v) in [
                ("document", document),
                ("account", account),
                ("document_owner", owner),
                ("customer", customer),
                ("products", products),
            ] {
                if let Some(v) = v {
                    map.insert(k.to_owned(), v);
                }
            }
            Value::Object(map)
        })
}

/// Whether `path` (`products[1].unit_value`) names a value present in `root`.
fn resolves(root: &Value, path: &str) -> bool {
    let mut node = root;
    for part in path.split('.') {
        let (name, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !name.is_empty() {
            match node.get(name) {
                Some(v) => node = v,
                None => return false,
            }
        }
        while let Some(stripped) = rest.strip_prefix('[') {
            let Some(end) = stripped.find(']') else {
                return false;
            };
            let Ok(i) = stripped[..end].parse::<usize>() else {
                return false;
            };
            match node.get(i) {
                Some(v) => node = v,
                None => return false,
            }
            rest = &stripped[end + 1..];
        }
    }
    true
}

fn catalog() -> &'static sig_core::config::Catalog {
    static CATALOG: std::sync::OnceLock<sig_core::config::Catalog> = std::sync::OnceLock::new();
    CATALOG.get_or_init(common::catalog)
}

/// JSON equality, floats compared to a relative 1e-12.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            let (x, y) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            x == y || (x - y).abs() <= 1e-12 * x.abs().max(y.abs())
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fn webhook(body: Vec<u8>) -> WebhookRequest {
    WebhookRequest {
        path: format!("/webhooks/docsales/{SECRET}"),
        body,
        ..Default::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 30_000,
        failure_persistence: None,
        .. ProptestConfig::default()
    })]

    /// Structured JSON: decoded, or rejected at the path of a value that is really there.
    #[test]
    fn structured_documents_decode_or_name_the_field(value in proposal()) {
        let body = serde_json::to_vec(&value).unwrap();
        match wire::decode_proposal(&body) {
            Ok(doc) => {
                // Whatever decodes also maps and validates without panicking, and every
                // problem is traced to a DocSales field.
                let reference = doc.document.as_ref().and_then(|d| d.reference())
                    .unwrap_or(wire::ProposalRef::Id(1));
                let s = mapping::sourced("acme", &reference, &doc, catalog());
                if let Err(problems) = mapping::validate(&s, catalog()) {
                    for p in problems.iter() {
                        prop_assert!(p.source_field.is_some(), "untraced problem {}", p);
                    }
                }
                // And survives a round trip (floats kept in unknown fields may move by an ulp:
                // serde_json's float parsing is not an exact inverse of its printing).
                let again = wire::decode_proposal(&serde_json::to_vec(&doc).unwrap()).unwrap();
                prop_assert!(
                    same(&serde_json::to_value(&again).unwrap(), &serde_json::to_value(&doc).unwrap()),
                    "round trip changed {:?}", doc
                );
            }
            Err(e) => {
                prop_assert_eq!(e.kind, DecodeErrorKind::Data, "{}", e);
                prop_assert!(e.names_field(), "no field named: {}", e);
                prop_assert!(resolves(&value, &e.path), "path {} is not in the input", e.path);
                prop_assert!(e.message.len() < 300, "the message quotes the value: {}", e.message.len());
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 10_000,
        failure_persistence: None,
        .. ProptestConfig::default()
    })]

    /// Webhook intake on structured JSON: a notification, a malformed body naming the field,
    /// or an unusable one; never a panic. Only `approved` starts an integration, and the same
    /// body twice gives the same key.
    #[test]
    fn structured_webhooks(value in proposal()) {
        let body = serde_json::to_vec(&value).unwrap();
        let secret = SecretString::from(SECRET);
        match intake(&webhook(body.clone()), "acme", &secret) {
            Ok(n) => {
                let status = value["document"]["status"].as_str().unwrap_or("");
                prop_assert_eq!(
                    n.starts_integration(),
                    status.trim_matches(|c: char| c.is_ascii_whitespace()).eq_ignore_ascii_case("approved")
                );
                let again = intake(&webhook(body), "acme", &secret).unwrap();
                prop_assert_eq!(again.key, n.key);
            }
            Err(IntakeError::MalformedBody(e)) => {
                prop_assert!(e.names_field(), "{}", e);
                prop_assert!(resolves(&value, &e.path), "path {} is not in the input", e.path);
            }
            Err(IntakeError::Unusable(_)) => {}
            Err(other) => prop_assert!(false, "unexpected {:?}", other),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 40_000,
        failure_persistence: None,
        .. ProptestConfig::default()
    })]

    /// Arbitrary bytes (and JSON-ish fragments) never panic the decoder; rejections of
    /// well-formed JSON objects still name a field.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop_oneof![
        3 => proptest::collection::vec(any::<u8>(), 0..512),
        2 => "[{}\\[\\]\":,0-9a-z .\\-\\\\]{0,200}".prop_map(String::into_bytes),
        1 => proposal().prop_map(|v| {
            let mut b = serde_json::to_vec(&v).unwrap();
            let cut = b.len() / 2;
            b.truncate(cut);
            b
        }),
    ]) {
        if let Err(e) = wire::decode_proposal(&bytes) {
            let parsed = serde_json::from_slice::<Value>(&bytes);
            if let Ok(v @ Value::Object(_)) = parsed {
                prop_assert!(e.names_field(), "{}", e);
                prop_assert!(resolves(&v, &e.path), "{}", e.path);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 20_000,
        failure_persistence: None,
        .. ProptestConfig::default()
    })]

    /// Arbitrary requests: arbitrary paths, queries, headers and bodies never panic intake,
    /// and nothing but the right token is ever accepted.
    #[test]
    fn arbitrary_requests_never_panic(
        path in "\\PC{0,40}",
        query in proptest::option::of("\\PC{0,40}"),
        header in proptest::option::of(("[A-Za-z-]{1,20}", "\\PC{0,30}")),
        body in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let r = WebhookRequest {
            path: path.clone(),
            query: query.clone(),
            headers: header.clone().into_iter().collect(),
            body,
        };
        let result = intake(&r, "acme", &SecretString::from(SECRET));
        let carries = path.contains(SECRET)
            || query.as_deref().is_some_and(|q| q.contains(SECRET))
            || header.as_ref().is_some_and(|(_, v)| v.contains(SECRET));
        if !carries {
            prop_assert!(
                matches!(result, Err(IntakeError::MissingToken | IntakeError::WrongToken)),
                "accepted without the token: {:?}", result
            );
        }
    }
}

/// The decoder and the serde-derive decoder it replaced (`reference/`) agree on `body`: the
/// same document (compared field by field through `Debug`, plus the masked legal code), or
/// the same rejection — kind, JSON path, message, line and column.
fn agrees_with_the_reference(body: &[u8]) -> Result<(), TestCaseError> {
    let new = wire::decode_proposal(body);
    let old = reference::decode::<reference::ProposalDocument>(body);
    match (new, old) {
        (Ok(new), Ok(old)) => {
            prop_assert_eq!(format!("{new:?}"), format!("{old:?}"));
            let legal = |c: Option<&wire::LegalCode>| c.map(|l| l.as_str().to_owned());
            prop_assert_eq!(
                legal(new.customer.as_ref().and_then(|c| c.legal_code.as_ref())),
                legal(old.customer.as_ref().and_then(|c| c.legal_code.as_ref()))
            );
        }
        (Err(new), Err((path, old))) => {
            prop_assert_eq!(&new.path, &path, "{}", new);
            prop_assert_eq!(&new.message, &reference::shown_message(&old), "{}", new);
            prop_assert_eq!(
                (new.line, new.column),
                (old.line(), old.column()),
                "{}",
                new
            );
            let kind = match old.classify() {
                serde_json::error::Category::Data => DecodeErrorKind::Data,
                serde_json::error::Category::Eof => DecodeErrorKind::Eof,
                _ => DecodeErrorKind::Syntax,
            };
            prop_assert_eq!(new.kind, kind, "{}", new);
        }
        (Ok(new), Err((path, old))) => {
            prop_assert!(
                false,
                "accepted what the reference refuses at {path}: {old}; {new:?}"
            )
        }
        (Err(new), Ok(_)) => prop_assert!(false, "refused what the reference accepts: {new}"),
    }
    Ok(())
}

/// One small edit to a JSON text: a character dropped, doubled or replaced by one of JSON's
/// structural characters, so bodies break at every depth (syntax, EOF, trailing commas,
/// wrong types) and near whitespace.
fn edited(body: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let len = body.len().max(1);
    (
        0..len,
        0u8..3,
        prop::sample::select(&b"{}[],:\" 0a-.e\n"[..]),
    )
        .prop_map(move |(at, how, c)| {
            let mut b = body.clone();
            let at = at.min(b.len());
            match how {
                0 if at < b.len() => {
                    b.remove(at);
                }
                1 if at < b.len() => b.insert(at, b[at]),
                _ => b.insert(at, c),
            }
            b
        })
}

/// Keys a hand-written reader might mistake: a known key twice, a key written with escapes
/// (`"\u0069d"` is `"id"`), and the same unknown key twice.
fn with_key_quirks(value: &Value) -> Vec<Vec<u8>> {
    let text = serde_json::to_string_pretty(value).unwrap();
    let mut out = vec![text.clone().into_bytes()];
    for (from, to) in [
        ("\"id\": ", "\"id\": 7, \"id\": "),
        ("\"code\": ", "\"code\": null,\n \"code\": "),
        ("\"name\": ", "\"\\u006eame\": "),
        ("\"DBA\": ", "\"dba\": 1, \"DBA\": "),
        ("\"products\": ", "\"products\": [], \"products\": "),
        (
            "\"document\": {",
            "\"document\": {\"custom_x\": 1, \"custom_x\": [2], ",
        ),
        (
            "\"customer\": {",
            "\"customer\": {\"custom_\\n\": {\"a\": [1, {}]}, ",
        ),
    ] {
        if text.contains(from) {
            out.push(text.replacen(from, to, 1).into_bytes());
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 3_000,
        failure_persistence: None,
        .. ProptestConfig::default()
    })]

    /// Structured documents, compact and pretty-printed, and with repeated or escaped keys.
    #[test]
    fn decoder_matches_the_serde_derive_reference(value in proposal()) {
        agrees_with_the_reference(&serde_json::to_vec(&value).unwrap())?;
        for body in with_key_quirks(&value) {
            agrees_with_the_reference(&body)?;
        }
    }

    /// The same documents broken by one edit anywhere.
    #[test]
    fn decoder_matches_the_reference_on_broken_documents(
        body in proposal().prop_flat_map(|v| edited(serde_json::to_vec_pretty(&v).unwrap()))
    ) {
        agrees_with_the_reference(&body)?;
    }
}

/// Hand-picked bodies for the reference comparison: the shipped sample and fixtures, nesting
/// past serde_json's depth limit in a field, every reader given a list and an object.
#[test]
fn decoder_matches_the_reference_on_known_bodies() {
    for body in &known_bodies() {
        if let Err(e) = agrees_with_the_reference(body) {
            panic!("{e}\nbody: {}", String::from_utf8_lossy(body));
        }
    }
}

/// The hand-picked bodies of [`decoder_matches_the_reference_on_known_bodies`].
fn known_bodies() -> Vec<Vec<u8>> {
    let mut bodies: Vec<Vec<u8>> = vec![
        include_bytes!("../../examples/data/proposal.docsales.json").to_vec(),
        format!(
            "{{\"document\": {{\"code\": {}1{}}}}}",
            "[".repeat(200),
            "]".repeat(200)
        )
        .into_bytes(),
        format!(
            "{{\"document\": {{\"custom_x\": {}1{}}}}}",
            "[".repeat(200),
            "]".repeat(200)
        )
        .into_bytes(),
        b"[]".to_vec(),
        b"null".to_vec(),
        b"{\"document\": []}".to_vec(),
        b"{\"products\": {}}".to_vec(),
        b"{\"products\": [1]}".to_vec(),
        b"{} x".to_vec(),
        b"{\"document\": {\"id\": 1}\n  ,}".to_vec(),
    ];
    for entry in std::fs::read_dir(common::resources()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("proposal-") || name.starts_with("webhook-") {
            bodies.push(std::fs::read(&path).unwrap());
        }
    }
    for (object, fields) in [
        ("document", DOCUMENT),
        ("customer", CUSTOMER),
        ("account", ACCOUNT),
        ("document_owner", OWNER),
    ] {
        for field in fields {
            for bad in [
                "[1, [2]]",
                "{\"a\": {}}",
                "true",
                "-1.5e3",
                "\"\\u00e9\"",
                "\" \"",
            ] {
                bodies
                    .push(format!("{{\"{object}\": {{\n  \"{field}\": {bad}\n}}\n}}").into_bytes());
            }
        }
    }
    for field in ITEM {
        for bad in ["[1]", "{}", "false", "12.50", "\"1,5\"", "null"] {
            bodies.push(format!("{{\"products\": [{{\"{field}\": {bad} }}]}}").into_bytes());
        }
    }
    bodies
}

/// The mapping agrees with the one it replaced (`reference/mapping.rs`): the same raw
/// proposal, the same field sources in the same order, the same mapping problems; and the
/// owned mapping (the pipeline's) with the borrowed one.
fn mapping_agrees_with_the_reference(doc: &wire::ProposalDocument) -> Result<(), TestCaseError> {
    for catalog in [catalog(), other_fields_catalog()] {
        let new = mapping::map_proposal(doc, catalog);
        let old = reference::mapping::map_proposal(doc, catalog);
        prop_assert_eq!(&new.raw, &old.raw);
        let sources: Vec<(String, String)> = new
            .field_sources
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        prop_assert_eq!(sources, old.field_sources);
        prop_assert_eq!(&new.mapping_problems, &old.mapping_problems);
        prop_assert_eq!(new, mapping::map_owned(doc.clone(), catalog));
    }
    Ok(())
}

/// A catalog that reads area codes and DIDs from one field, and from names the generator
/// rarely fills.
fn other_fields_catalog() -> &'static sig_core::config::Catalog {
    static CATALOG: std::sync::OnceLock<sig_core::config::Catalog> = std::sync::OnceLock::new();
    CATALOG.get_or_init(|| {
        let mut c = common::catalog();
        c.fields.area_code = "custom_dids".into();
        c.fields.dids = "custom_dids".into();
        c
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 6_000,
        failure_persistence: None,
        .. ProptestConfig::default()
    })]

    #[test]
    fn mapping_matches_the_reference(value in proposal()) {
        if let Ok(doc) = wire::decode_proposal(&serde_json::to_vec(&value).unwrap()) {
            mapping_agrees_with_the_reference(&doc)?;
        }
    }
}

/// Hand-picked documents for the mapping comparison: repeated e-mails and phones in the
/// forms DocSales sends them, a value that overflows, items past the shared paths, DIDs in
/// every shape.
#[test]
fn mapping_matches_the_reference_on_known_documents() {
    let mut docs: Vec<Value> = vec![
        serde_json::from_slice(include_bytes!("../../examples/data/proposal.docsales.json"))
            .unwrap(),
        json!({
            "document": {"external_uuid": "ab-12", "contact_email": "X@Y.com", "contact_name": "Doc",
                         "custom_ddd": 11, "custom_dids": ["11 4000-1000", 1140001001u64, null],
                         "contract_start": "2026-02-28", "due_day": 5,
                         "created_at": "2026-01-02T03:04:05.678+05:45"},
            "customer": {"contact_email": " A@B.com ", "financial_email": "a@b.COM",
                         "phone1": "+55 (11) 3040-5000", "phone2": "1130405000",
                         "whatsapp_number": "55 11 3040 5000", "legal_code": "529.982.247-25"},
            "products": [
                {"code": "X", "unit_value": "79228162514264337593543950335", "quantity": "2"},
                {"code": "Y", "unit_value": "10.10", "custom_ddd": {"a": 1}, "custom_dids": {"b": 2}},
                {"code": "Z", "total_value": "1.50", "custom_ddd": "  ", "custom_dids": "11 4003-2001 11 4003-2002; 21 3003-2000"}
            ]
        }),
        json!({"customer": {"contact_email": "", "phone1": "x"}, "document": {"contact_email": "d@e.com"}}),
        json!({"products": (0..40).map(|i| json!({"code": format!("P{i}"), "quantity": i})).collect::<Vec<_>>()}),
        json!({}),
    ];
    docs.push(json!({"document": {"id": 9, "updated_at": "0001-01-01 00:00:00 +1400"}}));
    // A `55` prefix is a country code only before a whole number (10 digits or more).
    docs.push(
        json!({"customer": {"phone1": "55123456789", "phone2": "123456789",
                                  "whatsapp_number": "551234567890"}}),
    );
    docs.push(
        json!({"customer": {"phone1": "(55) 1234-5678", "phone2": "1234-5678",
                                  "whatsapp_number": "+55 55 1234-5678"}}),
    );
    for value in docs {
        let doc = wire::decode_proposal(&serde_json::to_vec(&value).unwrap())
            .unwrap_or_else(|e| panic!("{e}: {value}"));
        if let Err(e) = mapping_agrees_with_the_reference(&doc) {
            panic!("{e}\ndocument: {value}");
        }
    }
}

/// The structured generator is not vacuous: a fair share of its documents decode (and so
/// reach the mapping), and a fair share are rejected.
#[test]
fn the_generator_reaches_both_outcomes() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let strategy = proposal();
    let (mut ok, mut rejected, mut approved) = (0, 0, 0);
    for _ in 0..2_000 {
        let value = strategy.new_tree(&mut runner).unwrap().current();
        match wire::decode_proposal(&serde_json::to_vec(&value).unwrap()) {
            Ok(doc) => {
                ok += 1;
                if doc
                    .document
                    .and_then(|d| d.status)
                    .is_some_and(|s| s.starts_integration())
                {
                    approved += 1;
                }
            }
            Err(_) => rejected += 1,
        }
    }
    assert!(ok > 200, "only {ok} of 2000 decode");
    assert!(rejected > 200, "only {rejected} of 2000 are rejected");
    assert!(approved > 20, "only {approved} approved");
}

/// The proposal source's one-pass read ([`mapping::decode_sourced`]) agrees with decoding the
/// document and then mapping it: the same sourced proposal (raw shape, field sources, mapping
/// problems, key) for every body the decoder accepts, the same error for every other; and the
/// one pass itself accepts exactly the bodies the decoder accepts, so it is what runs (the
/// only body it leaves to the decoder is one with serde_json's raw-value token as a key).
fn one_pass_agrees(body: &[u8]) -> Result<(), TestCaseError> {
    let requested = [
        wire::ProposalRef::Id(44073),
        wire::ProposalRef::ExternalUuid("req-1".into()),
    ];
    for catalog in [catalog(), other_fields_catalog()] {
        for requested in &requested {
            let two_steps = wire::decode_proposal(body)
                .map(|doc| mapping::sourced_owned("acme", requested, doc, catalog));
            let one_pass = mapping::decode_sourced_in_one_pass("acme", requested, body, catalog);
            match (&two_steps, &one_pass) {
                (Ok(expected), Some(got)) => prop_assert_eq!(got, expected),
                (Err(_), None) => {}
                (Ok(_), None) => prop_assert!(
                    body.windows(12).any(|w| w == b"$serde_json:"),
                    "the one pass left a body the decoder accepts to the decoder"
                ),
                (Err(e), Some(_)) => {
                    prop_assert!(false, "the one pass accepted what the decoder refuses: {e}")
                }
            }
            prop_assert_eq!(
                mapping::decode_sourced("acme", requested, body, catalog),
                two_steps
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 3_000,
        failure_persistence: None,
        .. ProptestConfig::default()
    })]

    /// Structured documents, with repeated or escaped keys, and broken by one edit.
    #[test]
    fn one_pass_matches_decode_then_map(value in proposal()) {
        one_pass_agrees(&serde_json::to_vec(&value).unwrap())?;
        for body in with_key_quirks(&value) {
            one_pass_agrees(&body)?;
        }
    }

    #[test]
    fn one_pass_matches_decode_then_map_on_broken_documents(
        body in proposal().prop_flat_map(|v| edited(serde_json::to_vec_pretty(&v).unwrap()))
    ) {
        one_pass_agrees(&body)?;
    }
}

/// The hand-picked bodies and documents, custom fields of every shape in the places the
/// mapping reads them, and serde_json's raw-value token.
#[test]
fn one_pass_matches_decode_then_map_on_known_bodies() {
    let mut bodies = known_bodies();
    for v in [
        "null",
        "\"\"",
        "\" 11 \"",
        "\"11\\u0020\"",
        "11",
        "-1.5e3",
        "true",
        "[]",
        "[null, \"11 4000-1000\", 1140001001, \"\\n\"]",
        "[1, [2]]",
        "[1, true]",
        "[{}]",
        "{\"a\": [1, {\"b\": null}]}",
        "{\"$serde_json::private::RawValue\": \"1\"}",
        "[{\"$serde_json::private::RawValue\": \"1\"}]",
    ] {
        for field in ["custom_ddd", "custom_dids", "custom_other"] {
            bodies.push(
                format!(
                    "{{\"document\": {{\"id\": 1, \"{field}\": {v}, \"{field}\": {v}}}, \
                     \"products\": [{{\"code\": \"PBX-10\", \"{field}\": {v}}}, {{\"code\": \"A\"}}], \
                     \"account\": {{\"x\": {v}}}, \"customer\": {{\"{field}\": {v}}}, \"top\": {v}}}"
                )
                .into_bytes(),
            );
        }
    }
    for body in &bodies {
        if let Err(e) = one_pass_agrees(body) {
            panic!("{e}\nbody: {}", String::from_utf8_lossy(body));
        }
    }
}
