//! DocSales document → sig-core's [`RawProposal`], with the DocSales field each domain field
//! was read from, so a validation problem names both (`customer.tax_id` ←
//! `customer.legal_code`).
//!
//! | domain | DocSales |
//! |---|---|
//! | `id` | `document.id`, else `document.external_uuid` |
//! | `code`, `status`, `created_at`, `updated_at` | `document.*` |
//! | `customer.tax_id` | `customer.legal_code` |
//! | `customer.legal_name` / `trade_name` | `customer.name` / `customer.DBA` |
//! | `customer.contact_name` | `customer.contact_name`, else `document.contact_name` |
//! | `customer.emails` | `customer.contact_email`, `customer.financial_email`, else `document.contact_email` |
//! | `customer.phones` | `customer.phone1`, `phone2`, `whatsapp_number` (repeats dropped) |
//! | `customer.address.*` | `customer.address`, `number`, `complement`, `district`, `city`, `state`, `postal_code` |
//! | `customer.state_registration` | `customer.legal_code2` `[inferred]` |
//! | `orders[i]` | `products[i]` `[inferred]`, one order per item |
//! | `orders[i].product` / `quantity` | `products[i].code` / `quantity` |
//! | `orders[i].monthly_value` | `products[i].total_value`, else `unit_value × quantity` |
//! | `orders[i].area_code` / `dids` | the catalog's `custom_*` fields: on the item, else on `document` |
//! | `orders[i].start_date` / `billing_day` | `document.contract_start` / `document.due_day` |
//! | `seller.name` / `email` | `document_owner.name` / `email` |
//!
//! Every item becomes an order; an item whose code the catalog does not know is reported by
//! sig-core (`unknown_plan`) so a person decides, rather than silently dropped. DIDs written
//! in one text field are split on commas, semicolons and line breaks, and on whitespace only
//! between complete numbers (`11 3456-7000` is one DID, `11 4003-2001 11 4003-2002` two). Document-level DIDs go to
//! the first order whose item has no DIDs field of its own `[inferred]`.
//!
//! The proposal source reads a fetched body straight into the mapping ([`decode_sourced`]):
//! one pass over the body, keeping only what the mapping reads, its text copied once, into
//! the raw shape. A decoded document maps the same way ([`sourced_owned`], [`map_proposal`]).
//! Field-source paths are mostly fixed names, borrowed rather than written per proposal
//! (those of the first orders are written once per process).

use std::borrow::Cow;
use std::sync::LazyLock;

use rust_decimal::Decimal;
use sig_core::config::Catalog;
use sig_core::ports::{FieldSource, FieldSources, SourceKey, SourcedProposal};
use sig_core::raw::{RawAddress, RawCustomer, RawOrder, RawProposal, RawSeller};
use sig_core::{Code, Problems, Proposal};

use crate::wire::lean::{self, Custom, Names};
use crate::wire::{DecodeError, ProposalDocument, ProposalRef, decode_proposal};

/// A mapped proposal: the raw shape, where each field came from, and the problems found
/// while mapping (a custom field of the wrong type, a value that overflows).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mapped {
    /// The unvalidated proposal.
    pub raw: RawProposal,
    /// (domain field prefix, DocSales field), most specific first.
    pub field_sources: FieldSources,
    /// Problems found while mapping, already traced to their DocSales field.
    pub mapping_problems: Problems,
}

struct Builder {
    sources: FieldSources,
    problems: Problems,
}

impl Builder {
    fn src(
        &mut self,
        domain: impl Into<Cow<'static, str>>,
        docsales: impl Into<Cow<'static, str>>,
    ) {
        self.sources.push((domain.into(), docsales.into()));
    }

    fn problem(&mut self, field: String, code: Code, message: &str, source: String) {
        self.problems.add(field.clone(), code, message);
        self.problems.trace_source(&field, &source);
    }
}

/// `a` followed by `b`, in one allocation.
fn cat(a: &str, b: &str) -> String {
    let mut s = String::with_capacity(a.len() + b.len());
    s.push_str(a);
    s.push_str(b);
    s
}

/// The fixed paths of order `i` and the item it maps (`orders[1].product` ←
/// `products[1].code`, …).
struct ItemPaths {
    order: String,
    item: String,
    product: String,
    code: String,
    quantity: String,
    item_quantity: String,
    start_date: String,
    billing_day: String,
    monthly_value: String,
    total_value: String,
    unit_value: String,
    area_code: String,
    dids: String,
    /// `products[i].custom_ddd` and `products[i].custom_dids`: the catalog's default custom
    /// fields on the item.
    item_default_area: String,
    item_default_dids: String,
}

/// The catalog's default custom field names (sig-core's `CatalogFields::default()`), whose
/// paths are written once like the others.
const DEFAULT_AREA_FIELD: &str = "custom_ddd";
const DEFAULT_DIDS_FIELD: &str = "custom_dids";

impl ItemPaths {
    fn new(i: usize) -> Self {
        let order = format!("orders[{i}]");
        let item = format!("products[{i}]");
        ItemPaths {
            product: cat(&order, ".product"),
            code: cat(&item, ".code"),
            quantity: cat(&order, ".quantity"),
            item_quantity: cat(&item, ".quantity"),
            start_date: cat(&order, ".start_date"),
            billing_day: cat(&order, ".billing_day"),
            monthly_value: cat(&order, ".monthly_value"),
            total_value: cat(&item, ".total_value"),
            unit_value: cat(&item, ".unit_value"),
            area_code: cat(&order, ".area_code"),
            dids: cat(&order, ".dids"),
            item_default_area: format!("{item}.{DEFAULT_AREA_FIELD}"),
            item_default_dids: format!("{item}.{DEFAULT_DIDS_FIELD}"),
            order,
            item,
        }
    }
}

/// How many orders' paths are written once per process rather than per proposal.
const SHARED_ITEM_PATHS: usize = 32;

/// The paths of the first orders, shared by every proposal mapped (they are the same text
/// each time; writing them per proposal was most of the mapping's allocations).
static ITEM_PATHS: LazyLock<Vec<ItemPaths>> =
    LazyLock::new(|| (0..SHARED_ITEM_PATHS).map(ItemPaths::new).collect());

/// Order `i`'s paths: shared for the first orders, written out for the rest.
enum Paths {
    Shared(&'static ItemPaths),
    Own(Box<ItemPaths>),
}

impl Paths {
    fn of(i: usize) -> Self {
        match ITEM_PATHS.get(i) {
            Some(p) => Paths::Shared(p),
            None => Paths::Own(Box::new(ItemPaths::new(i))),
        }
    }

    /// One path, borrowed when shared.
    fn get(&self, which: fn(&ItemPaths) -> &String) -> Cow<'static, str> {
        match self {
            Paths::Shared(p) => Cow::Borrowed(which(p).as_str()),
            Paths::Own(p) => Cow::Owned(which(p).clone()),
        }
    }

    /// The path of the item's custom field `name`: `products[i].name`.
    fn item_field(&self, name: &str) -> Cow<'static, str> {
        match name {
            DEFAULT_AREA_FIELD => self.get(|p| &p.item_default_area),
            DEFAULT_DIDS_FIELD => self.get(|p| &p.item_default_dids),
            _ => {
                let item = match self {
                    Paths::Shared(p) => &p.item,
                    Paths::Own(p) => &p.item,
                };
                Cow::Owned(format!("{item}.{name}"))
            }
        }
    }
}

/// The path of the document's custom field `name`: `document.name`.
fn document_field(name: &str) -> Cow<'static, str> {
    match name {
        DEFAULT_AREA_FIELD => Cow::Borrowed("document.custom_ddd"),
        DEFAULT_DIDS_FIELD => Cow::Borrowed("document.custom_dids"),
        _ => Cow::Owned(cat("document.", name)),
    }
}

/// Map a document into sig-core's raw shape through the catalog's custom field names.
///
/// The document is left as it is; [`map_owned`] (the pipeline's path) takes it instead, so its
/// text moves into the raw shape rather than being copied.
pub fn map_proposal(doc: &ProposalDocument, catalog: &Catalog) -> Mapped {
    // Only the parts the mapping reads (not the account nor top-level extras).
    map_owned(
        ProposalDocument {
            document: doc.document.clone(),
            account: None,
            document_owner: doc.document_owner.clone(),
            customer: doc.customer.clone(),
            products: doc.products.clone(),
            extra: Default::default(),
        },
        catalog,
    )
}

/// [`map_proposal`], taking the document.
pub fn map_owned(doc: ProposalDocument, catalog: &Catalog) -> Mapped {
    map_lean(lean::Proposal::from_document(doc, names(catalog)), catalog)
}

/// The catalog's custom field names.
fn names(catalog: &Catalog) -> Names<'_> {
    Names {
        area: &catalog.fields.area_code,
        dids: &catalog.fields.dids,
    }
}

/// The mapping itself, from what it reads of a document (text moved or copied from the body
/// into the raw shape).
fn map_lean(doc: lean::Proposal<'_>, catalog: &Catalog) -> Mapped {
    let lean::Proposal {
        document,
        document_owner,
        customer,
        products,
    } = doc;
    let mut b = Builder {
        sources: FieldSources::new(),
        problems: Problems::new(),
    };
    let mut d = document.unwrap_or_default();

    b.src(
        "id",
        if d.id.is_some() || d.external_uuid.is_none() {
            "document.id"
        } else {
            "document.external_uuid"
        },
    );
    // The reference's path segment: the id, else the external uuid.
    let id = match d.id {
        Some(n) => Some(n.to_string()),
        None => d.external_uuid.take().map(Cow::into_owned),
    };
    b.src("created_at", "document.created_at");
    b.src("updated_at", "document.updated_at");

    let customer = map_customer(customer, &mut d, &mut b);
    let orders = map_orders(products, &d, catalog, &mut b);
    b.src("orders", "products");

    let seller = document_owner.map(|o| RawSeller {
        name: o.name.map(Cow::into_owned),
        email: o.email.map(Cow::into_owned),
    });
    b.src("seller.name", "document_owner.name");
    b.src("seller.email", "document_owner.email");
    b.src("seller", "document_owner");

    let raw = RawProposal {
        id,
        code: d.code.take().map(Cow::into_owned),
        status: d.status.as_ref().map(|s| s.as_str().to_owned()),
        customer,
        orders,
        seller,
        created_at: d.created_at.as_ref().map(sig_core::raw::format_timestamp),
        updated_at: d.updated_at.as_ref().map(sig_core::raw::format_timestamp),
    };
    Mapped {
        raw,
        field_sources: b.sources,
        mapping_problems: b.problems,
    }
}

fn map_customer(
    customer: Option<lean::Customer<'_>>,
    d: &mut lean::Document<'_>,
    b: &mut Builder,
) -> RawCustomer {
    let Some(c) = customer else {
        b.src("customer", "customer");
        return RawCustomer::default();
    };
    b.src("customer.tax_id", "customer.legal_code");
    b.src("customer.legal_name", "customer.name");
    b.src("customer.trade_name", "customer.DBA");
    b.src("customer.state_registration", "customer.legal_code2");
    for (domain, docsales) in [
        ("customer.address.street", "customer.address"),
        ("customer.address.number", "customer.number"),
        ("customer.address.complement", "customer.complement"),
        ("customer.address.district", "customer.district"),
        ("customer.address.city", "customer.city"),
        ("customer.address.uf", "customer.state"),
        ("customer.address.cep", "customer.postal_code"),
    ] {
        b.src(domain, docsales);
    }

    let contact_name = match c.contact_name {
        Some(n) => {
            b.src("customer.contact_name", "customer.contact_name");
            Some(n.into_owned())
        }
        None => {
            b.src("customer.contact_name", "document.contact_name");
            d.contact_name.take().map(Cow::into_owned)
        }
    };

    // E-mails, main first; exact repeats dropped (DocSales often repeats the contact).
    let same_email = |a: &str, b: &str| a.trim().eq_ignore_ascii_case(b.trim());
    const EMAIL_PATHS: [&str; 2] = ["customer.emails[0]", "customer.emails[1]"];
    let mut emails: Vec<String> = Vec::with_capacity(2);
    for (v, src) in [
        (c.contact_email, "customer.contact_email"),
        (c.financial_email, "customer.financial_email"),
    ] {
        if push_unique(&mut emails, v, same_email) {
            b.src(EMAIL_PATHS[emails.len() - 1], src);
        }
    }
    if emails.is_empty() && push_unique(&mut emails, d.contact_email.take(), same_email) {
        b.src(EMAIL_PATHS[0], "document.contact_email");
    }
    b.src(
        "customer.emails",
        "customer.contact_email, customer.financial_email",
    );

    // Phones, main first; repeats (same digits) dropped: WhatsApp is often the main phone.
    const PHONE_PATHS: [&str; 3] = [
        "customer.phones[0]",
        "customer.phones[1]",
        "customer.phones[2]",
    ];
    let mut phones: Vec<String> = Vec::with_capacity(3);
    for (v, src) in [
        (c.phone1, "customer.phone1"),
        (c.phone2, "customer.phone2"),
        (c.whatsapp_number, "customer.whatsapp_number"),
    ] {
        if push_unique(&mut phones, v, same_phone) {
            b.src(PHONE_PATHS[phones.len() - 1], src);
        }
    }
    b.src(
        "customer.phones",
        "customer.phone1, customer.phone2, customer.whatsapp_number",
    );
    b.src("customer", "customer");

    let owned = |s: lean::Text<'_>| s.map(Cow::into_owned);
    RawCustomer {
        tax_id: owned(c.legal_code),
        legal_name: owned(c.name),
        trade_name: owned(c.dba),
        contact_name,
        emails,
        phones,
        address: RawAddress {
            street: owned(c.address),
            number: owned(c.number),
            complement: owned(c.complement),
            district: owned(c.district),
            city: owned(c.city),
            uf: owned(c.state),
            cep: owned(c.postal_code),
        },
        state_registration: owned(c.legal_code2),
        municipal_registration: None,
    }
}

/// The digits of a phone, without a leading `55` country code when what follows is a whole
/// number (10 digits or more).
fn phone_digits(s: &str) -> impl Iterator<Item = u8> + '_ {
    let digits = s.bytes().filter(u8::is_ascii_digit);
    let n = digits.clone().count();
    let mut first_two = digits.clone();
    let country = n >= 12 && first_two.next() == Some(b'5') && first_two.next() == Some(b'5');
    digits.skip(if country { 2 } else { 0 })
}

/// Whether two phones have the same digits (country code aside).
fn same_phone(a: &str, b: &str) -> bool {
    phone_digits(a).eq(phone_digits(b))
}

/// Add `value` unless it is absent or the `same` as one already there; whether it was added.
fn push_unique(
    values: &mut Vec<String>,
    value: lean::Text<'_>,
    same: impl Fn(&str, &str) -> bool,
) -> bool {
    let Some(v) = value else { return false };
    if values.iter().any(|existing| same(existing, &v)) {
        return false;
    }
    values.push(v.into_owned());
    true
}

fn map_orders(
    products: Vec<lean::Item<'_>>,
    d: &lean::Document<'_>,
    catalog: &Catalog,
    b: &mut Builder,
) -> Vec<RawOrder> {
    let area_field = catalog.fields.area_code.as_str();
    let dids_field = catalog.fields.dids.as_str();
    let start_date = d.contract_start.map(sig_core::raw::format_date);
    let billing_day = d.due_day.map(|n| n.to_string());
    let mut document_dids_used = false;

    let mut orders = Vec::with_capacity(products.len());
    for (i, item) in products.into_iter().enumerate() {
        let paths = Paths::of(i);

        b.src(paths.get(|p| &p.product), paths.get(|p| &p.code));
        b.src(paths.get(|p| &p.quantity), paths.get(|p| &p.item_quantity));
        b.src(paths.get(|p| &p.start_date), "document.contract_start");
        b.src(paths.get(|p| &p.billing_day), "document.due_day");

        // Value: the item's total, else unit × quantity (exact decimal arithmetic).
        let monthly_value = match (item.total_value, item.unit_value) {
            (Some(total), _) => {
                b.src(
                    paths.get(|p| &p.monthly_value),
                    paths.get(|p| &p.total_value),
                );
                Some(total.normalize().to_string())
            }
            (None, Some(unit)) => {
                b.src(
                    paths.get(|p| &p.monthly_value),
                    paths.get(|p| &p.unit_value),
                );
                match unit.checked_mul(item.quantity.unwrap_or(Decimal::ONE)) {
                    Some(v) => Some(v.normalize().to_string()),
                    None => {
                        b.problem(
                            paths.get(|p| &p.monthly_value).into_owned(),
                            Code::OutOfRange,
                            "unit value × quantity is too large",
                            paths.get(|p| &p.unit_value).into_owned(),
                        );
                        None
                    }
                }
            }
            (None, None) => {
                b.src(
                    paths.get(|p| &p.monthly_value),
                    paths.get(|p| &p.total_value),
                );
                None
            }
        };

        // Area code: on the item, else on the document.
        let (area_value, area_src) = match &item.area {
            Some(v) if !v.is_null() => (Some(v), paths.item_field(area_field)),
            _ => (d.area.as_ref(), document_field(area_field)),
        };
        let area_code = match area_value.map(scalar_text) {
            None | Some(Ok(None)) => None,
            Some(Ok(Some(s))) => Some(s),
            Some(Err(())) => {
                b.problem(
                    paths.get(|p| &p.area_code).into_owned(),
                    Code::InvalidFormat,
                    "the area code field holds a list or an object, not text",
                    area_src.clone().into_owned(),
                );
                None
            }
        };
        b.src(paths.get(|p| &p.area_code), area_src);

        // DIDs: on the item, else the document's (given to one order only).
        let (dids_value, dids_src) = match &item.dids {
            Some(v) if !v.is_null() => (Some(v), paths.item_field(dids_field)),
            _ if !document_dids_used => {
                let v = d.dids.as_ref().filter(|v| !v.is_null());
                document_dids_used |= v.is_some();
                (v, document_field(dids_field))
            }
            _ => (None, document_field(dids_field)),
        };
        let dids = match dids_value.map(did_list) {
            None => Vec::new(),
            Some(Ok(list)) => list,
            Some(Err(())) => {
                b.problem(
                    paths.get(|p| &p.dids).into_owned(),
                    Code::InvalidFormat,
                    "the DIDs field holds an object or nested lists, not numbers",
                    dids_src.clone().into_owned(),
                );
                Vec::new()
            }
        };
        b.src(paths.get(|p| &p.dids), dids_src);

        b.src(paths.get(|p| &p.order), paths.get(|p| &p.item));
        orders.push(RawOrder {
            product: item.code.map(Cow::into_owned),
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

/// A custom value as text: strings (blank is absent) and numbers; `Err` for booleans, lists
/// and objects.
fn scalar_text(v: &Custom<'_>) -> Result<Option<String>, ()> {
    match v {
        Custom::Null => Ok(None),
        Custom::Text(s) if s.trim().is_empty() => Ok(None),
        Custom::Text(s) => Ok(Some(String::from(&**s))),
        Custom::Number(n) => Ok(Some(n.to_string())),
        Custom::List(_) | Custom::Other => Err(()),
    }
}

/// DIDs from one text field, a number, or a list of those. A text is split on commas,
/// semicolons and line breaks; within a piece, spaces are formatting inside a number
/// (`11 3456-7000`) and separate numbers only between complete ones: whitespace-separated
/// parts are joined until they hold a whole number — 10 digits (area code + landline, 11 for a
/// mobile that continues) or 12 after a `55`/`+55` country code — so
/// `11 4003-2001 11 4003-2002` is two DIDs and `1140001000 1140001001` too. What is left over
/// is kept as it is, for validation to report.
fn did_list(v: &Custom<'_>) -> Result<Vec<String>, ()> {
    fn digits(s: &str) -> usize {
        s.bytes().filter(u8::is_ascii_digit).count()
    }
    /// One DID: the parts `piece[start..end]`, joined by single spaces. Written as it is when
    /// its parts are already one space apart (the common case), so no list of parts is built.
    fn push(piece: &str, (start, end, spaced): (usize, usize, bool), out: &mut Vec<String>) {
        let text = &piece[start..end];
        if spaced {
            out.push(text.to_owned());
        } else {
            out.push(text.split_ascii_whitespace().collect::<Vec<_>>().join(" "));
        }
    }
    fn split(s: &str, out: &mut Vec<String>) {
        for piece in s.split([',', ';', '\n', '\r']) {
            // The open group: where it starts and ends in `piece`, whether its parts are one
            // space apart, and its first part.
            let mut group: Option<(usize, usize, bool)> = None;
            let mut first = "";
            let mut count = 0;
            let mut tokens = piece.split_ascii_whitespace().peekable();
            while let Some(token) = tokens.next() {
                // Where the part is in `piece` (it is a slice of it).
                let start = token.as_ptr() as usize - piece.as_ptr() as usize;
                let end = start + token.len();
                group = Some(match group {
                    None => {
                        first = token;
                        (start, end, true)
                    }
                    Some((open, last, spaced)) => (
                        open,
                        end,
                        spaced && start == last + 1 && piece.as_bytes()[last] == b' ',
                    ),
                });
                count += digits(token);
                let country = first.trim_start_matches('+') == "55";
                let whole = if country { 12 } else { 10 };
                // A mobile has one digit more: keep a 10th digit's group open when the next
                // part completes an 11-digit number rather than starting one.
                let next_completes =
                    count == whole && tokens.peek().is_some_and(|t| digits(t) == 1);
                if count >= whole
                    && !next_completes
                    && let Some(g) = group.take()
                {
                    push(piece, g, out);
                    count = 0;
                }
            }
            if let Some(g) = group {
                push(piece, g, out);
            }
        }
    }
    let mut out = Vec::new();
    match v {
        Custom::Null => {}
        Custom::Text(s) => split(s, &mut out),
        Custom::Number(n) => out.push(n.to_string()),
        Custom::List(items) => {
            for item in items {
                match item {
                    Custom::Null => {}
                    Custom::Text(s) => split(s, &mut out),
                    Custom::Number(n) => out.push(n.to_string()),
                    Custom::List(_) | Custom::Other => return Err(()),
                }
            }
        }
        Custom::Other => return Err(()),
    }
    Ok(out)
}

/// The port's shape: the key is (`account`, the document's id — or `requested` when the
/// document names none, e.g. when it was fetched by external uuid and carries no id).
pub fn sourced(
    account: &str,
    requested: &ProposalRef,
    doc: &ProposalDocument,
    catalog: &Catalog,
) -> SourcedProposal {
    into_sourced(account, requested, map_proposal(doc, catalog))
}

/// [`sourced`], taking the document (what the proposal source does with a fetched one).
pub fn sourced_owned(
    account: &str,
    requested: &ProposalRef,
    doc: ProposalDocument,
    catalog: &Catalog,
) -> SourcedProposal {
    into_sourced(account, requested, map_owned(doc, catalog))
}

/// [`sourced_owned`] of [`decode_proposal`]`(body)`, read in one pass: what the proposal source
/// does with a fetched body. The body is read straight into what the mapping needs
/// ([`crate::wire::lean`]) — no [`ProposalDocument`], whose other fields and maps would only
/// be dropped — by the same readers, so it is accepted exactly when [`decode_proposal`]
/// accepts it. A body it does not accept is decoded again by [`decode_proposal`], which says
/// why (or, should the two ever differ, maps what it decodes).
///
/// # Errors
/// [`decode_proposal`]'s error for a body that is not a proposal document.
pub fn decode_sourced(
    account: &str,
    requested: &ProposalRef,
    body: &[u8],
    catalog: &Catalog,
) -> Result<SourcedProposal, DecodeError> {
    if let Some(doc) = lean::decode(body, names(catalog)) {
        return Ok(into_sourced(account, requested, map_lean(doc, catalog)));
    }
    decode_proposal(body).map(|doc| sourced_owned(account, requested, doc, catalog))
}

/// The one-pass read of [`decode_sourced`] alone: `None` where it leaves the body to
/// [`decode_proposal`]. For the tests that hold it to the two-step path.
#[doc(hidden)]
pub fn decode_sourced_in_one_pass(
    account: &str,
    requested: &ProposalRef,
    body: &[u8],
    catalog: &Catalog,
) -> Option<SourcedProposal> {
    lean::decode(body, names(catalog))
        .map(|doc| into_sourced(account, requested, map_lean(doc, catalog)))
}

fn into_sourced(account: &str, requested: &ProposalRef, mut mapped: Mapped) -> SourcedProposal {
    let proposal_id = mapped
        .raw
        .id
        .clone()
        .unwrap_or_else(|| requested.as_segment());
    if mapped.raw.id.is_none() {
        mapped.raw.id = Some(proposal_id.clone());
    }
    SourcedProposal {
        key: SourceKey {
            account: account.to_owned(),
            proposal_id,
        },
        raw: mapped.raw,
        field_sources: mapped.field_sources,
        mapping_problems: mapped.mapping_problems,
    }
}

/// Fill `source_field` on every problem the field sources can trace (most specific first).
pub fn trace<'a>(
    problems: &mut Problems,
    field_sources: impl IntoIterator<Item = &'a FieldSource>,
) {
    if problems.is_empty() {
        return;
    }
    for (domain, source) in field_sources {
        problems.trace_source(domain, source);
    }
}

/// Validate a sourced proposal: sig-core's validation plus the mapping problems, every
/// problem traced to its DocSales field.
///
/// # Errors
/// Every problem found, at once.
pub fn validate(sourced: &SourcedProposal, catalog: &Catalog) -> Result<Proposal, Problems> {
    let result = sourced.raw.validate(catalog);
    let mut problems = sourced.mapping_problems.clone();
    let proposal = match result {
        Ok(p) => Some(p),
        Err(p) => {
            problems.0.extend(p.0);
            None
        }
    };
    trace(&mut problems, &sourced.field_sources);
    match proposal {
        Some(p) if problems.is_empty() => Ok(p),
        _ => Err(problems),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn did_list(v: &serde_json::Value) -> Result<Vec<String>, ()> {
        super::did_list(&Custom::from_value(v.clone()))
    }

    #[test]
    fn the_default_custom_field_names_are_the_catalogs() {
        let fields = sig_core::config::CatalogFields::default();
        assert_eq!(fields.area_code, DEFAULT_AREA_FIELD);
        assert_eq!(fields.dids, DEFAULT_DIDS_FIELD);
        assert_eq!(
            Paths::of(1).item_field(DEFAULT_DIDS_FIELD),
            "products[1].custom_dids"
        );
        assert_eq!(Paths::of(40).item_field("x"), "products[40].x");
        assert_eq!(document_field(DEFAULT_AREA_FIELD), "document.custom_ddd");
    }

    #[test]
    fn did_lists_split_on_commas_semicolons_and_line_breaks_not_spaces() {
        assert_eq!(
            did_list(&json!("1140001000, 1140001001;1140001002\n1140001003")).unwrap(),
            ["1140001000", "1140001001", "1140001002", "1140001003"]
        );
        assert_eq!(
            did_list(&json!("(11) 4000-1000, 11 4000-1001")).unwrap(),
            ["(11) 4000-1000", "11 4000-1001"]
        );
        assert_eq!(
            did_list(&json!(["21 3003-2000", " 21 3003-2001 "])).unwrap(),
            ["21 3003-2000", "21 3003-2001"]
        );
        assert_eq!(
            did_list(&json!([1140001000u64, "1140001001,1140001002", null])).unwrap(),
            ["1140001000", "1140001001", "1140001002"]
        );
        // Spaces inside one number are formatting, not a separator.
        assert_eq!(
            did_list(&json!("11 3456-7000, +55 11 3456-7001\n21 3003-2000")).unwrap(),
            ["11 3456-7000", "+55 11 3456-7001", "21 3003-2000"]
        );
        assert_eq!(
            did_list(&json!(["21 3003-2000"])).unwrap(),
            ["21 3003-2000"]
        );
        assert_eq!(
            did_list(&json!(
                "11 4003-2001 11 4003-2002 +55 11 98765-4321 11 9 8765 4322"
            ))
            .unwrap(),
            [
                "11 4003-2001",
                "11 4003-2002",
                "+55 11 98765-4321",
                "11 9 8765 4322"
            ]
        );
        assert!(did_list(&json!({"a": 1})).is_err());
        assert!(did_list(&json!([[1]])).is_err());
    }

    #[test]
    fn document_dids_go_to_one_order_only() {
        let doc: ProposalDocument = serde_json::from_value(json!({
            "document": {"id": 1, "custom_dids": "1140001000", "custom_ddd": "11"},
            "products": [{"code": "A"}, {"code": "B"}]
        }))
        .unwrap();
        let m = map_proposal(&doc, &Catalog::default());
        assert_eq!(m.raw.orders[0].dids, ["1140001000"]);
        assert!(m.raw.orders[1].dids.is_empty());
        assert_eq!(m.raw.orders[1].area_code.as_deref(), Some("11"));
    }

    #[test]
    fn wrong_typed_custom_fields_are_mapping_problems_with_their_source() {
        let doc: ProposalDocument = serde_json::from_value(json!({
            "document": {"id": 1, "custom_ddd": ["11"]},
            "products": [{"code": "A", "custom_dids": {"x": 1}}]
        }))
        .unwrap();
        let m = map_proposal(&doc, &Catalog::default());
        let p: Vec<_> = m.mapping_problems.iter().collect();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].field, "orders[0].area_code");
        assert_eq!(p[0].source_field.as_deref(), Some("document.custom_ddd"));
        assert_eq!(p[1].field, "orders[0].dids");
        assert_eq!(
            p[1].source_field.as_deref(),
            Some("products[0].custom_dids")
        );
    }

    #[test]
    fn value_is_unit_times_quantity_when_no_total() {
        let doc: ProposalDocument = serde_json::from_value(json!({
            "document": {"id": 1},
            "products": [{"code": "A", "quantity": "3", "unit_value": "49.90"}]
        }))
        .unwrap();
        let m = map_proposal(&doc, &Catalog::default());
        assert_eq!(m.raw.orders[0].monthly_value.as_deref(), Some("149.7"));
        assert_eq!(m.raw.orders[0].quantity.as_deref(), Some("3"));
    }
}
