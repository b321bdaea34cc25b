//! The DocSales → raw mapping as it was before the allocation work (`format!` for every
//! path, chrono's formatter for dates and timestamps, strings cloned from the document),
//! kept verbatim as an oracle for `mapping::map_proposal`.
#![allow(dead_code, clippy::all)]

use rust_decimal::Decimal;
use serde_json::Value;
use sig_core::config::Catalog;
use sig_core::raw::{RawAddress, RawCustomer, RawOrder, RawProposal, RawSeller};
use sig_core::{Code, Problems};

use sig_docsales::wire::{Document, ProposalDocument, TIMESTAMP_FORMAT};

/// A mapped proposal: the raw shape, where each field came from, and the problems found
/// while mapping (a custom field of the wrong type, a value that overflows).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mapped {
    /// The unvalidated proposal.
    pub raw: RawProposal,
    /// (domain field prefix, DocSales field), most specific first.
    pub field_sources: Vec<(String, String)>,
    /// Problems found while mapping, already traced to their DocSales field.
    pub mapping_problems: Problems,
}

struct Builder {
    sources: Vec<(String, String)>,
    problems: Problems,
}

impl Builder {
    fn src(&mut self, domain: impl Into<String>, docsales: impl Into<String>) {
        self.sources.push((domain.into(), docsales.into()));
    }

    fn problem(&mut self, field: String, code: Code, message: &str, source: String) {
        self.problems.add(field.clone(), code, message);
        self.problems.trace_source(&field, &source);
    }
}

/// Map a document into sig-core's raw shape through the catalog's custom field names.
pub fn map_proposal(doc: &ProposalDocument, catalog: &Catalog) -> Mapped {
    let mut b = Builder {
        sources: Vec::new(),
        problems: Problems::new(),
    };
    let empty_doc = Document::default();
    let d = doc.document.as_ref().unwrap_or(&empty_doc);

    let id = d.reference().map(|r| r.as_segment());
    b.src(
        "id",
        if d.id.is_some() || d.external_uuid.is_none() {
            "document.id"
        } else {
            "document.external_uuid"
        },
    );
    b.src("created_at", "document.created_at");
    b.src("updated_at", "document.updated_at");

    let customer = map_customer(doc, d, &mut b);
    let orders = map_orders(doc, d, catalog, &mut b);
    b.src("orders", "products");

    let seller = doc.document_owner.as_ref().map(|o| RawSeller {
        name: o.name.clone(),
        email: o.email.clone(),
    });
    b.src("seller.name", "document_owner.name");
    b.src("seller.email", "document_owner.email");
    b.src("seller", "document_owner");

    let raw = RawProposal {
        id,
        code: d.code.clone(),
        status: d.status.as_ref().map(|s| s.as_str().to_owned()),
        customer,
        orders,
        seller,
        created_at: d.created_at.map(|t| t.format(TIMESTAMP_FORMAT).to_string()),
        updated_at: d.updated_at.map(|t| t.format(TIMESTAMP_FORMAT).to_string()),
    };
    Mapped {
        raw,
        field_sources: b.sources,
        mapping_problems: b.problems,
    }
}

fn map_customer(doc: &ProposalDocument, d: &Document, b: &mut Builder) -> RawCustomer {
    let Some(c) = doc.customer.as_ref() else {
        b.src("customer", "customer");
        return RawCustomer::default();
    };
    b.src("customer.tax_id", "customer.legal_code");
    b.src("customer.legal_name", "customer.name");
    b.src("customer.trade_name", "customer.DBA");
    b.src("customer.state_registration", "customer.legal_code2");
    for (domain, docsales) in [
        ("street", "address"),
        ("number", "number"),
        ("complement", "complement"),
        ("district", "district"),
        ("city", "city"),
        ("uf", "state"),
        ("cep", "postal_code"),
    ] {
        b.src(
            format!("customer.address.{domain}"),
            format!("customer.{docsales}"),
        );
    }

    let contact_name = match &c.contact_name {
        Some(n) => {
            b.src("customer.contact_name", "customer.contact_name");
            Some(n.clone())
        }
        None => {
            b.src("customer.contact_name", "document.contact_name");
            d.contact_name.clone()
        }
    };

    // E-mails, main first; exact repeats dropped (DocSales often repeats the contact).
    let mut emails: Vec<String> = Vec::new();
    let mut email_sources: Vec<&str> = Vec::new();
    let candidates = [
        (c.contact_email.as_ref(), "customer.contact_email"),
        (c.financial_email.as_ref(), "customer.financial_email"),
    ];
    for (v, src) in candidates {
        push_unique(&mut emails, &mut email_sources, v, src, |s| {
            s.trim().to_ascii_lowercase()
        });
    }
    if emails.is_empty() {
        push_unique(
            &mut emails,
            &mut email_sources,
            d.contact_email.as_ref(),
            "document.contact_email",
            |s| s.trim().to_ascii_lowercase(),
        );
    }
    for (i, src) in email_sources.iter().enumerate() {
        b.src(format!("customer.emails[{i}]"), *src);
    }
    b.src(
        "customer.emails",
        "customer.contact_email, customer.financial_email",
    );

    // Phones, main first; repeats (same digits) dropped: WhatsApp is often the main phone.
    let mut phones: Vec<String> = Vec::new();
    let mut phone_sources: Vec<&str> = Vec::new();
    for (v, src) in [
        (c.phone1.as_ref(), "customer.phone1"),
        (c.phone2.as_ref(), "customer.phone2"),
        (c.whatsapp_number.as_ref(), "customer.whatsapp_number"),
    ] {
        push_unique(&mut phones, &mut phone_sources, v, src, |s| {
            let digits: String = s.chars().filter(char::is_ascii_digit).collect();
            digits
                .strip_prefix("55")
                .filter(|r| r.len() >= 10)
                .map(str::to_owned)
                .unwrap_or(digits)
        });
    }
    for (i, src) in phone_sources.iter().enumerate() {
        b.src(format!("customer.phones[{i}]"), *src);
    }
    b.src(
        "customer.phones",
        "customer.phone1, customer.phone2, customer.whatsapp_number",
    );
    b.src("customer", "customer");

    RawCustomer {
        tax_id: c.legal_code.as_ref().map(|l| l.as_str().to_owned()),
        legal_name: c.name.clone(),
        trade_name: c.dba.clone(),
        contact_name,
        emails,
        phones,
        address: RawAddress {
            street: c.address.clone(),
            number: c.number.clone(),
            complement: c.complement.clone(),
            district: c.district.clone(),
            city: c.city.clone(),
            uf: c.state.clone(),
            cep: c.postal_code.clone(),
        },
        state_registration: c.legal_code2.clone(),
        municipal_registration: None,
    }
}

fn push_unique<'a>(
    values: &mut Vec<String>,
    sources: &mut Vec<&'a str>,
    value: Option<&String>,
    source: &'a str,
    key: impl Fn(&str) -> String,
) {
    let Some(v) = value else { return };
    let k = key(v);
    if values.iter().any(|existing| key(existing) == k) {
        return;
    }
    values.push(v.clone());
    sources.push(source);
}

fn map_orders(
    doc: &ProposalDocument,
    d: &Document,
    catalog: &Catalog,
    b: &mut Builder,
) -> Vec<RawOrder> {
    let area_field = catalog.fields.area_code.as_str();
    let dids_field = catalog.fields.dids.as_str();
    let start_date = d.contract_start.map(|s| s.format("%Y-%m-%d").to_string());
    let billing_day = d.due_day.map(|n| n.to_string());
    let mut document_dids_used = false;

    let mut orders = Vec::with_capacity(doc.products.len());
    for (i, item) in doc.products.iter().enumerate() {
        let at = format!("orders[{i}]");
        let src = format!("products[{i}]");

        b.src(format!("{at}.product"), format!("{src}.code"));
        b.src(format!("{at}.quantity"), format!("{src}.quantity"));
        b.src(format!("{at}.start_date"), "document.contract_start");
        b.src(format!("{at}.billing_day"), "document.due_day");

        // Value: the item's total, else unit × quantity (exact decimal arithmetic).
        let monthly_value = match (item.total_value, item.unit_value) {
            (Some(total), _) => {
                b.src(format!("{at}.monthly_value"), format!("{src}.total_value"));
                Some(total.normalize().to_string())
            }
            (None, Some(unit)) => {
                b.src(format!("{at}.monthly_value"), format!("{src}.unit_value"));
                match unit.checked_mul(item.quantity.unwrap_or(Decimal::ONE)) {
                    Some(v) => Some(v.normalize().to_string()),
                    None => {
                        b.problem(
                            format!("{at}.monthly_value"),
                            Code::OutOfRange,
                            "unit value × quantity is too large",
                            format!("{src}.unit_value"),
                        );
                        None
                    }
                }
            }
            (None, None) => {
                b.src(format!("{at}.monthly_value"), format!("{src}.total_value"));
                None
            }
        };

        // Area code: on the item, else on the document.
        let (area_value, area_src) = match item.extra.get(area_field) {
            Some(v) if !v.is_null() => (Some(v), format!("{src}.{area_field}")),
            _ => (d.custom.get(area_field), format!("document.{area_field}")),
        };
        b.src(format!("{at}.area_code"), area_src.clone());
        let area_code = match area_value.map(scalar_text) {
            None | Some(Ok(None)) => None,
            Some(Ok(Some(s))) => Some(s),
            Some(Err(())) => {
                b.problem(
                    format!("{at}.area_code"),
                    Code::InvalidFormat,
                    "the area code field holds a list or an object, not text",
                    area_src,
                );
                None
            }
        };

        // DIDs: on the item, else the document's (given to one order only).
        let (dids_value, dids_src) = match item.extra.get(dids_field) {
            Some(v) if !v.is_null() => (Some(v), format!("{src}.{dids_field}")),
            _ if !document_dids_used => {
                let v = d.custom.get(dids_field).filter(|v| !v.is_null());
                document_dids_used |= v.is_some();
                (v, format!("document.{dids_field}"))
            }
            _ => (None, format!("document.{dids_field}")),
        };
        b.src(format!("{at}.dids"), dids_src.clone());
        let dids = match dids_value.map(did_list) {
            None => Vec::new(),
            Some(Ok(list)) => list,
            Some(Err(())) => {
                b.problem(
                    format!("{at}.dids"),
                    Code::InvalidFormat,
                    "the DIDs field holds an object or nested lists, not numbers",
                    dids_src,
                );
                Vec::new()
            }
        };

        b.src(at, src);
        orders.push(RawOrder {
            product: item.code.clone(),
            quantity: item.quantity.map(|q| q.normalize().to_string()),
            sip_lines: None,
            channels: None,
            area_code,
            dids,
            monthly_value,
            start_date: start_date.clone(),
            billing_day: billing_day.clone(),
        });
    }
    orders
}

/// A custom value as text: strings (blank is absent) and numbers; `Err` for lists/objects.
fn scalar_text(v: &Value) -> Result<Option<String>, ()> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Bool(_) | Value::Array(_) | Value::Object(_) => Err(()),
    }
}

/// DIDs from one text field, a number, or a list of those. A text is split on commas,
/// semicolons and line breaks; within a piece, spaces are formatting inside a number
/// (`11 3456-7000`) and separate numbers only between complete ones: whitespace-separated
/// parts are joined until they hold a whole number — 10 digits (area code + landline, 11 for a
/// mobile that continues) or 12 after a `55`/`+55` country code — so
/// `11 4003-2001 11 4003-2002` is two DIDs and `1140001000 1140001001` too. What is left over
/// is kept as it is, for validation to report.
fn did_list(v: &Value) -> Result<Vec<String>, ()> {
    fn digits(s: &str) -> usize {
        s.bytes().filter(u8::is_ascii_digit).count()
    }
    fn split(s: &str, out: &mut Vec<String>) {
        for piece in s.split([',', ';', '\n', '\r']) {
            let mut group: Vec<&str> = Vec::new();
            let mut count = 0;
            let mut tokens = piece
                .split(|c: char| c.is_ascii_whitespace())
                .filter(|t| !t.is_empty())
                .peekable();
            while let Some(token) = tokens.next() {
                group.push(token);
                count += digits(token);
                let country = group[0].trim_start_matches('+') == "55";
                let whole = if country { 12 } else { 10 };
                // A mobile has one digit more: keep a 10th digit's group open when the next
                // part completes an 11-digit number rather than starting one.
                let next_completes =
                    count == whole && tokens.peek().is_some_and(|t| digits(t) == 1);
                if count >= whole && !next_completes {
                    out.push(group.join(" "));
                    group.clear();
                    count = 0;
                }
            }
            if !group.is_empty() {
                out.push(group.join(" "));
            }
        }
    }
    let mut out = Vec::new();
    match v {
        Value::Null => {}
        Value::String(s) => split(s, &mut out),
        Value::Number(n) => out.push(n.to_string()),
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::Null => {}
                    Value::String(s) => split(s, &mut out),
                    Value::Number(n) => out.push(n.to_string()),
                    _ => return Err(()),
                }
            }
        }
        Value::Bool(_) | Value::Object(_) => return Err(()),
    }
    Ok(out)
}
