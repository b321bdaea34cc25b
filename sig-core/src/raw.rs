//! The unvalidated input shape every source fills — DocSales, CSV migration, Python, the CLI —
//! and its validation into the domain, reporting **every** problem at once with a domain field
//! path (`customer.address.cep`, `orders[1].dids[0]`).
//!
//! All leaf values are optional strings (numbers and booleans are accepted and read as text),
//! so a source never has to reject a document before SIG can say what is wrong with it.

use std::fmt;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveTime, TimeZone, Timelike};
use serde::{Deserialize, Deserializer, Serialize};

use crate::address::{Address, Cep, Uf};
use crate::config::Catalog;
use crate::contact::{AreaCode, Email, Phone};
use crate::domain::{
    BillingDay, Customer, CustomerFields, Proposal, ProposalFields, ProposalStatus, SeenDids,
    Seller, ServiceOrder, ServiceOrderFields, check_did, check_unique, count_in_range,
};
use crate::money::Money;
use crate::nonempty::NonEmpty;
use crate::problem::{Code, Invalid, Problems, trim_ascii};
use crate::taxid::TaxId;
use crate::text::{
    City, Complement, ContactName, District, LegalName, Registration, Street, StreetNumber,
    TradeName,
};

pub use crate::domain::{MAX_LINES, MAX_QUANTITY};

/// Read any JSON scalar as text: strings as they are, numbers and booleans in their JSON form,
/// `null` and blank strings as absent.
pub fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    Ok(match v {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) if trim_ascii(&s).is_empty() => None,
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        other => {
            return Err(serde::de::Error::custom(format!(
                "expected text or a number, got {}",
                match other {
                    serde_json::Value::Array(_) => "a list",
                    _ => "an object",
                }
            )));
        }
    })
}

/// A list of text values; a single scalar is read as a one-element list, blanks are dropped.
pub fn lenient_strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    let items = match v {
        serde_json::Value::Null => vec![],
        serde_json::Value::Array(a) => a,
        other => vec![other],
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match item {
            serde_json::Value::Null => {}
            serde_json::Value::String(s) if trim_ascii(&s).is_empty() => {}
            serde_json::Value::String(s) => out.push(s),
            serde_json::Value::Number(n) => out.push(n.to_string()),
            _ => return Err(serde::de::Error::custom("expected a list of text values")),
        }
    }
    Ok(out)
}

/// An unvalidated proposal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RawProposal {
    /// The source's id.
    #[serde(
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    /// The human code (`DS-00319`).
    #[serde(
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub code: Option<String>,
    /// Status in the source (`approved`, …). Absent means approved: direct registrations and
    /// migrated rows have no approval step.
    #[serde(
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<String>,
    /// The customer.
    pub customer: RawCustomer,
    /// The services.
    pub orders: Vec<RawOrder>,
    /// The seller.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seller: Option<RawSeller>,
    /// Creation time: RFC 3339 or DocSales' `2022-07-11 16:01:55 -0300`.
    #[serde(
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_at: Option<String>,
    /// Last change, same forms.
    #[serde(
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub updated_at: Option<String>,
}

/// An unvalidated customer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RawCustomer {
    /// CPF or CNPJ, masked or not.
    #[serde(
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub tax_id: Option<String>,
    /// Legal name.
    #[serde(
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub legal_name: Option<String>,
    /// Trade name.
    #[serde(
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub trade_name: Option<String>,
    /// Contact person.
    #[serde(
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub contact_name: Option<String>,
    /// E-mails, main first.
    #[serde(
        deserialize_with = "lenient_strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub emails: Vec<String>,
    /// Phones, main first.
    #[serde(
        deserialize_with = "lenient_strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub phones: Vec<String>,
    /// Billing address.
    pub address: RawAddress,
    /// State registration.
    #[serde(
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub state_registration: Option<String>,
    /// Municipal registration.
    #[serde(
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub municipal_registration: Option<String>,
}

/// An unvalidated address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RawAddress {
    /// Street.
    #[serde(
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub street: Option<String>,
    /// Number (`S/N` when none).
    #[serde(
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub number: Option<String>,
    /// Complement.
    #[serde(
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub complement: Option<String>,
    /// District.
    #[serde(
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub district: Option<String>,
    /// City.
    #[serde(
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub city: Option<String>,
    /// UF.
    #[serde(
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub uf: Option<String>,
    /// CEP.
    #[serde(
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub cep: Option<String>,
}

/// An unvalidated service order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RawOrder {
    /// A source product code listed in the catalog, or a catalog plan id.
    #[serde(
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub product: Option<String>,
    /// Units of the plan (default 1).
    #[serde(
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub quantity: Option<String>,
    /// SIP lines; default: the plan's lines per unit × quantity.
    #[serde(
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub sip_lines: Option<String>,
    /// Channels; default: the plan's channels per unit × quantity.
    #[serde(
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub channels: Option<String>,
    /// Area code (DDD).
    #[serde(
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub area_code: Option<String>,
    /// DIDs requested.
    #[serde(
        deserialize_with = "lenient_strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub dids: Vec<String>,
    /// Monthly value; default: the plan's monthly price × quantity.
    #[serde(
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub monthly_value: Option<String>,
    /// Start date, `YYYY-MM-DD` or `DD/MM/YYYY`.
    #[serde(
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub start_date: Option<String>,
    /// Billing day, 1–28.
    #[serde(
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub billing_day: Option<String>,
}

/// An unvalidated seller.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RawSeller {
    /// Name.
    #[serde(
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
    /// E-mail.
    #[serde(
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub email: Option<String>,
}

/// A field's path, written out only when a problem is reported there (most values are
/// valid, and their paths are never needed).
#[derive(Clone, Copy)]
enum At<'a> {
    /// A whole path (`seller.name`).
    Path(&'a str),
    /// `prefix.name`.
    In(Prefix<'a>, &'a str),
}

/// The path of the record a field is in.
#[derive(Clone, Copy)]
enum Prefix<'a> {
    /// Written out (`customer`; empty at the top).
    Text(&'a str),
    /// `orders[i]`.
    Order(usize),
}

impl fmt::Display for Prefix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Prefix::Text(t) => f.write_str(t),
            Prefix::Order(i) => write!(f, "orders[{i}]"),
        }
    }
}

impl At<'_> {
    fn path(self) -> String {
        match self {
            At::Path(path) => path.to_owned(),
            At::In(Prefix::Text(prefix), name) => {
                let mut s = String::with_capacity(prefix.len() + 1 + name.len());
                s.push_str(prefix);
                s.push('.');
                s.push_str(name);
                s
            }
            At::In(prefix, name) => format!("{prefix}.{name}"),
        }
    }

    /// Keep the value of `result`, or record its rejection here.
    fn check<T>(self, p: &mut Problems, result: Result<T, Invalid>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                p.push(e.at(self.path()));
                None
            }
        }
    }
}

/// Parse a required value at `field`.
fn req<T>(
    p: &mut Problems,
    field: At<'_>,
    v: &Option<String>,
    parse: impl FnOnce(&str) -> Result<T, Invalid>,
) -> Option<T> {
    match v {
        None => {
            p.push(Invalid::required().at(field.path()));
            None
        }
        Some(s) => field.check(p, parse(s)),
    }
}

/// Parse an optional value at `field`: absent or blank is `Some(None)`, invalid is `None`.
fn opt<T>(
    p: &mut Problems,
    field: At<'_>,
    v: &Option<String>,
    parse: impl FnOnce(&str) -> Result<T, Invalid>,
) -> Option<Option<T>> {
    match v {
        None => Some(None),
        Some(s) if trim_ascii(s).is_empty() => Some(None),
        Some(s) => field.check(p, parse(s)).map(Some),
    }
}

/// Parse a whole number in `min..=max`: ASCII digits, optionally followed by a fraction of
/// zeros (`2.0`, `2.00`, which spreadsheets and JSON emit). Anything else is `invalid_format`,
/// a number outside the range `out_of_range`; both messages state the range.
pub fn parse_count(s: &str, min: u32, max: u32) -> Result<u32, Invalid> {
    let t = trim_ascii(s);
    if t.is_empty() {
        return Err(Invalid::required());
    }
    let digits = match t.split_once('.') {
        Some((int, frac)) if !frac.is_empty() && frac.bytes().all(|b| b == b'0') => int,
        Some(_) => "",
        None => t,
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Invalid::new(
            Code::InvalidFormat,
            format!("a whole number between {min} and {max} is expected"),
        ));
    }
    match digits.parse::<u64>() {
        Ok(n) => count_in_range(n, min, max),
        // Only ASCII digits, so the number is too large for 64 bits.
        Err(_) => Err(Invalid::new(
            Code::OutOfRange,
            format!(
                "between {min} and {max}, got {}",
                digits.trim_start_matches('0')
            ),
        )),
    }
}

/// Keep the value of `result`, or record its problems under `prefix`.
fn nested<T>(prefix: Prefix<'_>, result: Result<T, Problems>, p: &mut Problems) -> Option<T> {
    match result {
        Ok(v) => Some(v),
        Err(problems) => {
            for mut problem in problems {
                if !matches!(prefix, Prefix::Text("")) {
                    problem.field = format!("{prefix}.{}", problem.field);
                }
                p.push(problem);
            }
            None
        }
    }
}

/// Parse a date as `YYYY-MM-DD` or `DD/MM/YYYY` (Omie's and Brazilian form).
pub fn parse_date(s: &str) -> Result<NaiveDate, Invalid> {
    let t = trim_ascii(s);
    if t.is_empty() {
        return Err(Invalid::required());
    }
    // The canonical form, read directly; anything else (and any impossible date) goes to
    // chrono, which gives the same result for the canonical form, only slower.
    if let Some(d) = iso_date(t.as_bytes()) {
        return Ok(d);
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(t, "%d/%m/%Y"))
        .map_err(|_| {
            Invalid::new(
                Code::InvalidDate,
                "a date is written YYYY-MM-DD or DD/MM/YYYY",
            )
        })
}

/// Parse a timestamp: RFC 3339, or DocSales' `YYYY-MM-DD HH:MM:SS ±HHMM`.
pub fn parse_timestamp(s: &str) -> Result<DateTime<FixedOffset>, Invalid> {
    let t = trim_ascii(s);
    if t.is_empty() {
        return Err(Invalid::required());
    }
    // DocSales' form, read directly when every part is in range; anything else goes to
    // chrono (which reads that form to the same value).
    if let Some(ts) = docsales_timestamp(t.as_bytes()) {
        return Ok(ts);
    }
    DateTime::parse_from_rfc3339(t)
        .or_else(|_| DateTime::parse_from_str(t, TIMESTAMP_FORMAT))
        .map_err(|_| {
            Invalid::new(
                Code::InvalidDate,
                "a timestamp is written 2022-07-11T16:01:55-03:00 or 2022-07-11 16:01:55 -0300",
            )
        })
}

/// The timestamp form DocSales writes (`2022-07-11 16:01:55 -0300`), which
/// [`format_timestamp`] writes and [`parse_timestamp`] reads.
pub const TIMESTAMP_FORMAT: &str = "%Y-%m-%d %H:%M:%S %z";

/// A date as [`parse_date`] reads it back: `YYYY-MM-DD` (chrono's `%Y-%m-%d`).
pub fn format_date(d: NaiveDate) -> String {
    if (0..=9999).contains(&d.year()) {
        let mut out = String::with_capacity(10);
        push_date(&mut out, d);
        out
    } else {
        d.format("%Y-%m-%d").to_string()
    }
}

/// A timestamp as [`parse_timestamp`] reads it back: DocSales' `2022-07-11 16:01:55 -0300`
/// ([`TIMESTAMP_FORMAT`]).
pub fn format_timestamp(t: &DateTime<FixedOffset>) -> String {
    let offset = t.offset().local_minus_utc();
    let local = t.naive_local();
    // Written directly in the common case; chrono for years outside 0–9999, leap seconds
    // and offsets with seconds, whose forms it knows.
    if !(0..=9999).contains(&local.year())
        || local.nanosecond() >= 1_000_000_000
        || offset % 60 != 0
    {
        return t.format(TIMESTAMP_FORMAT).to_string();
    }
    let mut out = String::with_capacity(25);
    push_date(&mut out, local.date());
    out.push(' ');
    push_2(&mut out, local.hour());
    out.push(':');
    push_2(&mut out, local.minute());
    out.push(':');
    push_2(&mut out, local.second());
    out.push(' ');
    out.push(if offset < 0 { '-' } else { '+' });
    let minutes = offset.unsigned_abs() / 60;
    push_2(&mut out, minutes / 60);
    push_2(&mut out, minutes % 60);
    out
}

fn push_date(out: &mut String, d: NaiveDate) {
    let year = d.year().unsigned_abs();
    push_2(out, year / 100);
    push_2(out, year % 100);
    out.push('-');
    push_2(out, d.month());
    out.push('-');
    push_2(out, d.day());
}

/// Two decimal digits (`n` < 100).
fn push_2(out: &mut String, n: u32) {
    out.push(char::from(b'0' + (n / 10) as u8));
    out.push(char::from(b'0' + (n % 10) as u8));
}

/// ASCII digits as a number, `None` if any byte is not a digit.
fn ascii_number(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |n, &c| {
        c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
    })
}

/// Exactly `YYYY-MM-DD`, a date that exists.
fn iso_date(t: &[u8]) -> Option<NaiveDate> {
    if t.len() != 10 || t[4] != b'-' || t[7] != b'-' {
        return None;
    }
    let year = ascii_number(&t[..4])?;
    NaiveDate::from_ymd_opt(year as i32, ascii_number(&t[5..7])?, ascii_number(&t[8..])?)
}

/// Exactly `YYYY-MM-DD HH:MM:SS ±HHMM` with every part in range (no leap second).
fn docsales_timestamp(t: &[u8]) -> Option<DateTime<FixedOffset>> {
    if t.len() != 25 || t[10] != b' ' || t[13] != b':' || t[16] != b':' || t[19] != b' ' {
        return None;
    }
    let date = iso_date(&t[..10])?;
    let time = NaiveTime::from_hms_opt(
        ascii_number(&t[11..13])?,
        ascii_number(&t[14..16])?,
        ascii_number(&t[17..19])?,
    )?;
    let (hours, minutes) = (ascii_number(&t[21..23])?, ascii_number(&t[23..])?);
    if hours > 23 || minutes > 59 {
        return None;
    }
    let seconds = (hours * 3600 + minutes * 60) as i32;
    let offset = match t[20] {
        b'+' => FixedOffset::east_opt(seconds)?,
        b'-' => FixedOffset::west_opt(seconds)?,
        _ => return None,
    };
    offset.from_local_datetime(&date.and_time(time)).single()
}

impl RawAddress {
    /// Validate into an [`Address`], recording problems under `prefix`.
    pub fn validate_into(&self, prefix: &str, p: &mut Problems) -> Option<Address> {
        let f = |name| At::In(Prefix::Text(prefix), name);
        let street = req(p, f("street"), &self.street, |s| s.parse::<Street>());
        let number = req(p, f("number"), &self.number, |s| s.parse::<StreetNumber>());
        let complement = opt(p, f("complement"), &self.complement, |s| {
            s.parse::<Complement>()
        });
        let district = req(p, f("district"), &self.district, |s| s.parse::<District>());
        let city = req(p, f("city"), &self.city, |s| s.parse::<City>());
        let uf = req(p, f("uf"), &self.uf, |s| s.parse::<Uf>());
        let cep = req(p, f("cep"), &self.cep, |s| s.parse::<Cep>());
        Some(Address {
            street: street?,
            number: number?,
            complement: complement?,
            district: district?,
            city: city?,
            uf: uf?,
            cep: cep?,
        })
    }
}

impl RawCustomer {
    /// Validate into a [`Customer`], recording problems under `prefix` (normally `customer`).
    pub fn validate_into(&self, prefix: &str, p: &mut Problems) -> Option<Customer> {
        let f = |name| At::In(Prefix::Text(prefix), name);
        let tax_id = req(p, f("tax_id"), &self.tax_id, |s| s.parse::<TaxId>());
        let legal_name = req(p, f("legal_name"), &self.legal_name, |s| {
            s.parse::<LegalName>()
        });
        let trade_name = opt(p, f("trade_name"), &self.trade_name, |s| {
            s.parse::<TradeName>()
        });
        let contact_name = opt(p, f("contact_name"), &self.contact_name, |s| {
            s.parse::<ContactName>()
        });
        let emails = list(p, f("emails"), &self.emails, |s| s.parse::<Email>());
        let phones = list(p, f("phones"), &self.phones, |s| s.parse::<Phone>());
        // The usual prefix's address path is fixed text, not written per proposal.
        let address = match prefix {
            "customer" => self.address.validate_into("customer.address", p),
            _ => self.address.validate_into(&f("address").path(), p),
        };
        let state_registration = opt(p, f("state_registration"), &self.state_registration, |s| {
            s.parse::<Registration>()
        });
        let municipal_registration = opt(
            p,
            f("municipal_registration"),
            &self.municipal_registration,
            |s| s.parse::<Registration>(),
        );
        let fields = CustomerFields {
            tax_id: tax_id?,
            legal_name: legal_name?,
            trade_name: trade_name?,
            contact_name: contact_name?,
            emails: emails?,
            phones: phones?,
            address: address?,
            state_registration: state_registration?,
            municipal_registration: municipal_registration?,
        };
        // The rules between fields were reported above with the same checks; this is where
        // the domain type enforces them.
        nested(Prefix::Text(prefix), Customer::new(fields), p)
    }

    /// Validate a customer on its own (direct registration, migration).
    pub fn validate(&self) -> Result<Customer, Problems> {
        let mut p = Problems::new();
        let c = self.validate_into("customer", &mut p);
        match c {
            Some(c) if p.is_empty() => Ok(c),
            _ => Err(p),
        }
    }
}

/// A non-empty list, each item validated at `field[i]`; duplicates reported.
fn list<T: PartialEq>(
    p: &mut Problems,
    field: At<'_>,
    items: &[String],
    parse: impl Fn(&str) -> Result<T, Invalid>,
) -> Option<NonEmpty<T>> {
    if items.is_empty() {
        p.add(field.path(), Code::Required, "at least one is required");
        return None;
    }
    let mut values = Vec::with_capacity(items.len());
    // The index of each value in `items`: its own until an item fails.
    let mut indices: Vec<usize> = Vec::new();
    let mut ok = true;
    for (i, s) in items.iter().enumerate() {
        match parse(s) {
            Ok(v) => {
                if !ok {
                    indices.push(i);
                }
                values.push(v);
            }
            Err(e) => {
                if ok {
                    indices.extend(0..values.len());
                }
                p.push(e.at(format!("{}[{i}]", field.path())));
                ok = false;
            }
        }
    }
    let unique = if ok {
        check_unique(|| field.path(), values.iter().enumerate(), p)
    } else {
        check_unique(|| field.path(), indices.iter().copied().zip(&values), p)
    };
    if !ok || !unique {
        return None;
    }
    NonEmpty::from_vec(values).ok()
}

impl RawOrder {
    /// Validate into a [`ServiceOrder`] against the catalog, recording problems under
    /// `prefix` (normally `orders[i]`). `seen_dids` carries DIDs already taken by earlier
    /// orders of the same proposal, so a repeat across orders is reported.
    pub fn validate_into(
        &self,
        prefix: &str,
        catalog: &Catalog,
        seen_dids: &mut SeenDids,
        p: &mut Problems,
    ) -> Option<ServiceOrder> {
        self.validate_at(Prefix::Text(prefix), catalog, seen_dids, p)
    }

    fn validate_at(
        &self,
        prefix: Prefix<'_>,
        catalog: &Catalog,
        seen_dids: &mut SeenDids,
        p: &mut Problems,
    ) -> Option<ServiceOrder> {
        let f = |name| At::In(prefix, name);
        let plan = req(p, f("product"), &self.product, |s| {
            catalog.resolve(s).ok_or_else(|| {
                Invalid::new(
                    Code::UnknownPlan,
                    "no plan in the catalog has this product code or id",
                )
            })
        });
        let quantity = match &self.quantity {
            None => Some(1),
            Some(s) => f("quantity").check(p, parse_count(s, 1, MAX_QUANTITY)),
        };
        let area_code = req(p, f("area_code"), &self.area_code, |s| {
            s.parse::<AreaCode>()
        });
        let start_date = req(p, f("start_date"), &self.start_date, parse_date);
        let billing_day = req(p, f("billing_day"), &self.billing_day, |s| {
            s.parse::<BillingDay>()
        });
        let explicit_lines = opt(p, f("sip_lines"), &self.sip_lines, |s| {
            parse_count(s, 1, MAX_LINES)
        });
        let explicit_channels = opt(p, f("channels"), &self.channels, |s| {
            parse_count(s, 1, MAX_LINES)
        });
        let explicit_value = opt(p, f("monthly_value"), &self.monthly_value, |s| {
            s.parse::<Money>()
        });

        // DIDs: each a phone in the order's area code, none repeated in the proposal.
        let mut dids = Vec::with_capacity(self.dids.len());
        let mut dids_ok = true;
        if !self.dids.is_empty() {
            match prefix {
                Prefix::Order(i) => seen_dids.open_order_list(i),
                Prefix::Text(_) => seen_dids.open_list(f("dids").path()),
            }
        }
        for (i, s) in self.dids.iter().enumerate() {
            match s.parse::<Phone>() {
                Ok(did) => {
                    if check_did(did, area_code, i, seen_dids, p) {
                        dids.push(did);
                    } else {
                        dids_ok = false;
                    }
                }
                Err(e) => {
                    p.push(e.at(format!("{}[{i}]", f("dids").path())));
                    dids_ok = false;
                }
            }
        }

        let plan = plan?;
        let quantity = quantity?;
        let sip_lines = match explicit_lines? {
            Some(n) => n,
            None => f("sip_lines").check(p, checked_units(plan.lines_per_unit, quantity))?,
        };
        let channels = match explicit_channels? {
            Some(n) => n,
            None => f("channels").check(p, checked_units(plan.channels_per_unit, quantity))?,
        };
        let monthly_value = match (explicit_value?, plan.monthly_price) {
            (Some(v), _) => v,
            (None, Some(price)) => f("monthly_value").check(p, price.times(quantity))?,
            (None, None) => {
                p.add(
                    f("monthly_value").path(),
                    Code::Required,
                    "the plan has no list price, so a value is required",
                );
                return None;
            }
        };
        if !dids_ok {
            return None;
        }
        let fields = ServiceOrderFields {
            plan: plan.id.clone(),
            product_code: self.product.as_ref().map(|s| trim_ascii(s).to_owned()),
            quantity,
            sip_lines,
            channels,
            area_code: area_code?,
            dids,
            monthly_value,
            start_date: start_date?,
            billing_day: billing_day?,
        };
        nested(prefix, ServiceOrder::new(fields), p)
    }
}

fn checked_units(per_unit: u32, quantity: u32) -> Result<u32, Invalid> {
    per_unit
        .checked_mul(quantity)
        .filter(|n| *n <= MAX_LINES)
        .ok_or_else(|| {
            Invalid::new(
                Code::OutOfRange,
                format!("more than {MAX_LINES} for one order"),
            )
        })
}

impl RawProposal {
    /// Validate the whole proposal against the catalog. Every problem is reported at once;
    /// nothing panics whatever the input.
    pub fn validate(&self, catalog: &Catalog) -> Result<Proposal, Problems> {
        self.validate_with(catalog, true)
    }

    /// Validate a direct registration or a migrated row (DESIGN.md, "Identity and
    /// idempotency"): the same rules as [`validate`](Self::validate), except that service
    /// orders are optional — a customer may be registered on its own.
    pub fn validate_registration(&self, catalog: &Catalog) -> Result<Proposal, Problems> {
        self.validate_with(catalog, false)
    }

    fn validate_with(
        &self,
        catalog: &Catalog,
        orders_required: bool,
    ) -> Result<Proposal, Problems> {
        let mut p = Problems::new();
        let id = req(&mut p, At::Path("id"), &self.id, |s| match trim_ascii(s) {
            "" => Err(Invalid::required()),
            t => Ok(t.to_owned()),
        });
        let status = self
            .status
            .as_deref()
            .map(ProposalStatus::parse)
            .unwrap_or(ProposalStatus::Approved);
        let customer = self.customer.validate_into("customer", &mut p);
        let mut orders = Vec::with_capacity(self.orders.len());
        let mut orders_ok = true;
        if orders_required && self.orders.is_empty() {
            p.add(
                "orders",
                Code::Required,
                "a proposal needs at least one service",
            );
            orders_ok = false;
        }
        let mut seen = SeenDids::with_capacity(self.orders.iter().map(|o| o.dids.len()).sum());
        for (i, o) in self.orders.iter().enumerate() {
            match o.validate_at(Prefix::Order(i), catalog, &mut seen, &mut p) {
                Some(o) => orders.push(o),
                None => orders_ok = false,
            }
        }
        let seller = match &self.seller {
            None => Some(None),
            Some(s) if s.name.is_none() && s.email.is_none() => Some(None),
            Some(s) => {
                let name = req(&mut p, At::Path("seller.name"), &s.name, |v| {
                    v.parse::<ContactName>()
                });
                let email = opt(&mut p, At::Path("seller.email"), &s.email, |v| {
                    v.parse::<Email>()
                });
                match (name, email) {
                    (Some(name), Some(email)) => Some(Some(Seller { name, email })),
                    _ => None,
                }
            }
        };
        let created_at = opt(
            &mut p,
            At::Path("created_at"),
            &self.created_at,
            parse_timestamp,
        );
        let updated_at = opt(
            &mut p,
            At::Path("updated_at"),
            &self.updated_at,
            parse_timestamp,
        );
        if !p.is_empty() || !orders_ok {
            return Err(p);
        }
        match (id, customer, seller, created_at, updated_at) {
            (Some(id), Some(customer), Some(seller), Some(created_at), Some(updated_at)) => {
                let fields = ProposalFields {
                    id,
                    code: self.code.clone(),
                    status,
                    customer,
                    orders,
                    seller,
                    created_at,
                    updated_at,
                };
                nested(Prefix::Text(""), Proposal::new(fields), &mut p).ok_or(p)
            }
            _ => Err(p),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_state_their_range_in_every_message() {
        assert_eq!(parse_count(" 7 ", 1, 10), Ok(7));
        assert_eq!(parse_count("2.0", 1, 10), Ok(2));
        assert_eq!(parse_count("2.000", 1, 10), Ok(2));
        assert_eq!(parse_count("007", 1, 10), Ok(7));
        for (input, code, message) in [
            ("", Code::Required, "a value is required"),
            (
                ".0",
                Code::InvalidFormat,
                "a whole number between 1 and 10 is expected",
            ),
            (
                ".",
                Code::InvalidFormat,
                "a whole number between 1 and 10 is expected",
            ),
            (
                "2.",
                Code::InvalidFormat,
                "a whole number between 1 and 10 is expected",
            ),
            (
                "2.5",
                Code::InvalidFormat,
                "a whole number between 1 and 10 is expected",
            ),
            (
                "2.0.0",
                Code::InvalidFormat,
                "a whole number between 1 and 10 is expected",
            ),
            (
                "-1",
                Code::InvalidFormat,
                "a whole number between 1 and 10 is expected",
            ),
            (
                "+1",
                Code::InvalidFormat,
                "a whole number between 1 and 10 is expected",
            ),
            (
                "1e3",
                Code::InvalidFormat,
                "a whole number between 1 and 10 is expected",
            ),
            (
                "٣",
                Code::InvalidFormat,
                "a whole number between 1 and 10 is expected",
            ),
            ("0", Code::OutOfRange, "between 1 and 10, got 0"),
            ("11", Code::OutOfRange, "between 1 and 10, got 11"),
            ("11.0", Code::OutOfRange, "between 1 and 10, got 11"),
            (
                "4294967296",
                Code::OutOfRange,
                "between 1 and 10, got 4294967296",
            ),
            (
                "000123456789012345678901234567890",
                Code::OutOfRange,
                "between 1 and 10, got 123456789012345678901234567890",
            ),
        ] {
            let e = parse_count(input, 1, 10).unwrap_err();
            assert_eq!((e.code, e.message.as_str()), (code, message), "{input:?}");
        }
    }

    #[test]
    fn the_billing_day_reports_its_own_range() {
        for (input, code, message) in [
            ("300", Code::OutOfRange, "between 1 and 28, got 300"),
            ("29", Code::OutOfRange, "between 1 and 28, got 29"),
            ("0", Code::OutOfRange, "between 1 and 28, got 0"),
            (
                ".0",
                Code::InvalidFormat,
                "a whole number between 1 and 28 is expected",
            ),
            (
                "dez",
                Code::InvalidFormat,
                "a whole number between 1 and 28 is expected",
            ),
        ] {
            let e = input.parse::<BillingDay>().unwrap_err();
            assert_eq!((e.code, e.message.as_str()), (code, message), "{input:?}");
        }
        assert_eq!("28.0".parse::<BillingDay>().unwrap().get(), 28);
        assert_eq!(BillingDay::try_from(" 1 ").unwrap().to_string(), "1");
        let day: BillingDay = serde_json::from_str("\"10\"").unwrap();
        assert_eq!(serde_json::to_string(&day).unwrap(), "10");
        assert_eq!(serde_json::from_str::<BillingDay>("10").unwrap(), day);
        for bad in ["300", "-1", "0", "\"x\"", "1.5"] {
            assert!(serde_json::from_str::<BillingDay>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_blank_id_built_in_code_is_required() {
        let p = RawProposal {
            id: Some(" \t".into()),
            ..RawProposal::default()
        };
        let problems = p.validate(&Catalog::default()).unwrap_err();
        assert!(
            problems
                .iter()
                .any(|x| x.field == "id" && x.code == Code::Required),
            "{problems}"
        );
    }
}
