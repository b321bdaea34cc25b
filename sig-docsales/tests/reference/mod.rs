//! The proposal decoder as it was before the hand-written one (serde derive with
//! `#[serde(flatten)]`, `serde_json::Value`-based field readers and `serde_path_to_error`),
//! kept verbatim as an oracle: the fast decoder must accept exactly what this one accepts,
//! read the same values, and reject the rest with the same kind, path, message and position.
//!
//! Dates and timestamps are read with chrono alone, as the old readers did.
#![allow(dead_code, missing_docs, clippy::all)]

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, NaiveDate};
use rust_decimal::Decimal;
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use sig_core::ProposalStatus;
use sig_docsales::wire::{CustomerType, LegalCode};

fn parse_id(t: &str) -> Result<u64, &'static str> {
    match t.parse::<u64>() {
        Ok(0) => Err("an id is a positive whole number, got 0"),
        Ok(n) => Ok(n),
        Err(_) => Err("an id is a positive whole number that fits 64 bits"),
    }
}

fn check_ref(t: &str) -> Result<(), &'static str> {
    if t.len() > 64 {
        return Err("a reference has at most 64 characters");
    }
    if !t
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err("a reference has only letters, digits, `-` and `_`");
    }
    Ok(())
}

fn customer_type(s: &str) -> CustomerType {
    match s.to_ascii_lowercase().as_str() {
        "company" => CustomerType::Company,
        "person" | "individual" => CustomerType::Person,
        _ => CustomerType::Unknown(s.to_owned()),
    }
}

fn trim_ascii(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_ascii_whitespace())
}

fn parse_date(s: &str) -> Result<NaiveDate, &'static str> {
    let t = trim_ascii(s);
    if t.is_empty() {
        return Err("a value is required");
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(t, "%d/%m/%Y"))
        .map_err(|_| "a date is written YYYY-MM-DD or DD/MM/YYYY")
}

fn parse_timestamp(s: &str) -> Result<DateTime<FixedOffset>, &'static str> {
    let t = trim_ascii(s);
    if t.is_empty() {
        return Err("a value is required");
    }
    DateTime::parse_from_rfc3339(t)
        .or_else(|_| DateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S %z"))
        .map_err(
            |_| "a timestamp is written 2022-07-11T16:01:55-03:00 or 2022-07-11 16:01:55 -0300",
        )
}
pub mod de {
    use super::*;

    fn blank(s: &str) -> bool {
        s.bytes().all(|b| b.is_ascii_whitespace())
    }

    fn kind(v: &Value) -> &'static str {
        match v {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "text",
            Value::Array(_) => "a list",
            Value::Object(_) => "an object",
        }
    }

    fn wrong<E: serde::de::Error>(expected: &str, got: &Value) -> E {
        E::custom(format!("expected {expected}, got {}", kind(got)))
    }

    /// Text: strings as they are, numbers and booleans in JSON form; `null` and blank strings
    /// are absent; lists and objects are refused.
    pub fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        match Value::deserialize(d)? {
            Value::Null => Ok(None),
            Value::String(s) if blank(&s) => Ok(None),
            Value::String(s) => Ok(Some(s)),
            Value::Number(n) => Ok(Some(n.to_string())),
            Value::Bool(b) => Ok(Some(b.to_string())),
            other => Err(wrong("text", &other)),
        }
    }

    /// A whole number ≥ 0 that fits `u32`, as a number or as text (`"12"`, `"12.0"`); `null`
    /// and blank are absent.
    pub fn count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        let v = Value::deserialize(d)?;
        let text = match &v {
            Value::Null => return Ok(None),
            Value::String(s) if blank(s) => return Ok(None),
            Value::String(s) => s.trim_matches(|c: char| c.is_ascii_whitespace()).to_owned(),
            Value::Number(n) => n.to_string(),
            other => return Err(wrong("a whole number", other)),
        };
        let t = text.strip_suffix(".0").unwrap_or(&text);
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(D::Error::custom("expected a whole number of 0 or more"));
        }
        t.parse::<u32>()
            .map(Some)
            .map_err(|_| D::Error::custom("a whole number at most 4294967295 is expected"))
    }

    /// A boolean: `true`/`false`, `1`/`0`, or those as text; `null` and blank are absent.
    pub fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        let v = Value::deserialize(d)?;
        match &v {
            Value::Null => Ok(None),
            Value::Bool(b) => Ok(Some(*b)),
            Value::String(s) if blank(s) => Ok(None),
            Value::String(s) => match s
                .trim_matches(|c: char| c.is_ascii_whitespace())
                .to_ascii_lowercase()
                .as_str()
            {
                "true" | "1" => Ok(Some(true)),
                "false" | "0" => Ok(Some(false)),
                _ => Err(D::Error::custom("expected true or false")),
            },
            Value::Number(n) => match n.as_u64() {
                Some(1) => Ok(Some(true)),
                Some(0) => Ok(Some(false)),
                _ => Err(D::Error::custom("expected true or false")),
            },
            other => Err(wrong("true or false", other)),
        }
    }

    /// A date: `YYYY-MM-DD` (DocSales) or `DD/MM/YYYY`; `null` and blank are absent.
    pub fn date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
        match Value::deserialize(d)? {
            Value::Null => Ok(None),
            Value::String(s) if blank(&s) => Ok(None),
            Value::String(s) => parse_date(&s).map(Some).map_err(D::Error::custom),
            other => Err(wrong("a date as text", &other)),
        }
    }

    /// A timestamp: `2022-07-11 16:01:55 -0300` or RFC 3339; `null` and blank are absent.
    pub fn timestamp<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<DateTime<FixedOffset>>, D::Error> {
        match Value::deserialize(d)? {
            Value::Null => Ok(None),
            Value::String(s) if blank(&s) => Ok(None),
            Value::String(s) => parse_timestamp(&s).map(Some).map_err(D::Error::custom),
            other => Err(wrong("a timestamp as text", &other)),
        }
    }

    /// Money or a quantity as an exact decimal: a JSON number or text like `"1234.56"`. A JSON
    /// number is read through its shortest decimal text, never used as `f64`. Comma decimal
    /// separators and thousands separators are refused (ambiguous). `null` and blank are
    /// absent.
    pub fn decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
        let v = Value::deserialize(d)?;
        let text = match &v {
            Value::Null => return Ok(None),
            Value::String(s) if blank(s) => return Ok(None),
            Value::String(s) => s.trim_matches(|c: char| c.is_ascii_whitespace()).to_owned(),
            Value::Number(n) => n.to_string(),
            other => return Err(wrong("a decimal number", other)),
        };
        parse_decimal(&text).map(Some).map_err(D::Error::custom)
    }

    /// Parse `-?digits(.digits)?` (or a JSON number's exponent form) into a [`Decimal`].
    pub fn parse_decimal(t: &str) -> Result<Decimal, &'static str> {
        let plain = {
            let body = t.strip_prefix('-').unwrap_or(t);
            let mut parts = body.splitn(2, '.');
            let int = parts.next().unwrap_or("");
            let frac = parts.next();
            !int.is_empty()
                && int.bytes().all(|b| b.is_ascii_digit())
                && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
        };
        if plain {
            return Decimal::from_str_exact(t)
                .map_err(|_| "a decimal number with at most 28 significant digits is expected");
        }
        let sci = t.contains(['e', 'E'])
            && t.bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'));
        if sci {
            return Decimal::from_scientific(t)
                .map_err(|_| "a decimal number with at most 28 significant digits is expected");
        }
        Err(
            "expected a decimal number written like 1234.56 (a dot for decimals, no thousands separator)",
        )
    }

    /// A strict id: a positive whole number, as a JSON number or as text of digits.
    pub fn id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        let v = Value::deserialize(d)?;
        match &v {
            Value::Null => Ok(None),
            Value::Number(n) => match n.as_u64() {
                Some(0) | None => Err(D::Error::custom(
                    "an id is a positive whole number that fits 64 bits",
                )),
                Some(n) => Ok(Some(n)),
            },
            Value::String(s) if blank(s) => Ok(None),
            Value::String(s) => {
                let t = s.trim_matches(|c: char| c.is_ascii_whitespace());
                if !t.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(D::Error::custom("an id is a positive whole number"));
                }
                parse_id(t).map(Some).map_err(D::Error::custom)
            }
            other => Err(wrong("a positive whole number", other)),
        }
    }

    /// A strict reference (`external_uuid`): text of letters, digits, `-` and `_`, at most 64.
    pub fn reference<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        match Value::deserialize(d)? {
            Value::Null => Ok(None),
            Value::String(s) if blank(&s) => Ok(None),
            Value::String(s) => {
                let t = s.trim_matches(|c: char| c.is_ascii_whitespace());
                check_ref(t).map_err(D::Error::custom)?;
                Ok(Some(t.to_owned()))
            }
            other => Err(wrong("a reference as text", &other)),
        }
    }

    /// A strict CPF/CNPJ: text only (a number would have lost its leading zeros).
    pub fn legal_code<'de, D: Deserializer<'de>>(d: D) -> Result<Option<LegalCode>, D::Error> {
        match Value::deserialize(d)? {
            Value::Null => Ok(None),
            Value::String(s) if blank(&s) => Ok(None),
            Value::String(s) => s.parse().map(Some).map_err(D::Error::custom),
            Value::Number(_) => Err(D::Error::custom(
                "a CPF/CNPJ must be sent as text: as a number it loses its leading zeros",
            )),
            other => Err(wrong("a CPF/CNPJ as text", &other)),
        }
    }

    /// A strict status: text; unknown values kept; `null` and blank are absent.
    pub fn status<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ProposalStatus>, D::Error> {
        match Value::deserialize(d)? {
            Value::Null => Ok(None),
            Value::String(s) if blank(&s) => Ok(None),
            Value::String(s) if s.len() > 64 => {
                Err(D::Error::custom("a status has at most 64 characters"))
            }
            Value::String(s) => Ok(Some(ProposalStatus::parse(&s))),
            other => Err(wrong("a status as text", &other)),
        }
    }

    /// A customer type: text; unknown values kept; `null` and blank are absent.
    pub fn customer_type<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<CustomerType>, D::Error> {
        match Value::deserialize(d)? {
            Value::Null => Ok(None),
            Value::String(s) if blank(&s) => Ok(None),
            Value::String(s) => Ok(Some(super::customer_type(
                s.trim_matches(|c: char| c.is_ascii_whitespace()),
            ))),
            other => Err(wrong("a customer type as text", &other)),
        }
    }

    /// A list that may be `null` (read as empty).
    pub fn list<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
        Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
    }

    /// An object that may be `null` (read as absent).
    pub fn object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Option<T>, D::Error> {
        Option::<T>::deserialize(d)
    }
}

/// One DocSales proposal as a whole: the webhook body, and `[inferred]` the body of
/// `GET /api/v1/proposals/{id}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ProposalDocument {
    /// The sales document.
    #[serde(
        deserialize_with = "de::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub document: Option<Document>,
    /// The DocSales tenant (the seller's company).
    #[serde(
        deserialize_with = "de::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub account: Option<Account>,
    /// The user who owns the document (the salesperson).
    #[serde(
        deserialize_with = "de::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub document_owner: Option<DocumentOwner>,
    /// The customer.
    #[serde(
        deserialize_with = "de::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub customer: Option<Customer>,
    /// The items sold `[inferred]`: name and shape unconfirmed.
    #[serde(deserialize_with = "de::list", skip_serializing_if = "Vec::is_empty")]
    pub products: Vec<ProductItem>,
    /// Every other top-level field, kept as received.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// The `document` object.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Document {
    /// Internal id (the number in `/proposals/44073/edit`) `[inferred]` in the webhook body.
    #[serde(deserialize_with = "de::id", skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// The uuid DocSales generates for API-created documents `[inferred]` in this object.
    #[serde(
        deserialize_with = "de::reference",
        skip_serializing_if = "Option::is_none"
    )]
    pub external_uuid: Option<String>,
    /// Human code (`DS-00319`), returned in webhooks.
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Status (`sent`, `approved`, …; unknown values kept).
    #[serde(
        deserialize_with = "de::status",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<ProposalStatus>,
    /// Created.
    #[serde(
        deserialize_with = "de::timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_at: Option<DateTime<FixedOffset>>,
    /// Last changed.
    #[serde(
        deserialize_with = "de::timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub updated_at: Option<DateTime<FixedOffset>>,
    /// Expiry date.
    #[serde(deserialize_with = "de::date", skip_serializing_if = "Option::is_none")]
    pub expiration_date: Option<NaiveDate>,
    /// Contract start.
    #[serde(deserialize_with = "de::date", skip_serializing_if = "Option::is_none")]
    pub contract_start: Option<NaiveDate>,
    /// Contract end.
    #[serde(deserialize_with = "de::date", skip_serializing_if = "Option::is_none")]
    pub contract_end: Option<NaiveDate>,
    /// Contract length in months.
    #[serde(
        deserialize_with = "de::count",
        skip_serializing_if = "Option::is_none"
    )]
    pub contract_months: Option<u32>,
    /// Number of instalments.
    #[serde(
        deserialize_with = "de::count",
        skip_serializing_if = "Option::is_none"
    )]
    pub parcels_count: Option<u32>,
    /// Billing (due) day of the month.
    #[serde(
        deserialize_with = "de::count",
        skip_serializing_if = "Option::is_none"
    )]
    pub due_day: Option<u32>,
    /// Contact person.
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub contact_name: Option<String>,
    /// Contact role.
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub contact_role: Option<String>,
    /// Contact e-mail.
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub contact_email: Option<String>,
    /// CRM deal id.
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub deal_id: Option<String>,
    /// CRM deal name.
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub deal_name: Option<String>,
    /// CRM deal owner.
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub deal_user_id: Option<String>,
    /// CRM data, kept as received.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deal_crm_data: Option<Value>,
    /// CRM pipeline, kept as received (nullable).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deal_pipeline: Option<Value>,
    /// Whether pages are initialled.
    #[serde(deserialize_with = "de::flag", skip_serializing_if = "Option::is_none")]
    pub sign_initial: Option<bool>,
    /// `custom_*` fields and every other field, kept as received.
    #[serde(flatten)]
    pub custom: BTreeMap<String, Value>,
}

/// The `account` object: the DocSales tenant.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
#[allow(missing_docs)] // field names are DocSales' own (reference §2.1)
pub struct Account {
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Masked CNPJ of the tenant.
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub document_number: Option<String>,
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub address1: Option<String>,
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub address2: Option<String>,
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub address_number: Option<String>,
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub district: Option<String>,
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub legal_code2: Option<String>,
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub phone1: Option<String>,
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub phone2: Option<String>,
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub financial_email: Option<String>,
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub currency_iso_code: Option<String>,
    /// Every other field, kept as received.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// The `document_owner` object: the salesperson.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
#[allow(missing_docs)] // field names are DocSales' own (reference §2.1)
pub struct DocumentOwner {
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub whatsapp_number: Option<String>,
    /// Every other field, kept as received.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// The `customer` object.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Customer {
    /// Internal id (the number in `/customers/48011/edit`) `[inferred]` in this object.
    #[serde(deserialize_with = "de::id", skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// The customer code (one of the keys `GET /customers/{customer_id}/proposals` takes)
    /// `[inferred]` in this object.
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Legal name (or the person's name).
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Trade name (`DBA`, "doing business as").
    #[serde(
        rename = "DBA",
        deserialize_with = "de::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub dba: Option<String>,
    /// CPF or CNPJ.
    #[serde(
        deserialize_with = "de::legal_code",
        skip_serializing_if = "Option::is_none"
    )]
    pub legal_code: Option<LegalCode>,
    /// `company` or `person`.
    #[serde(
        deserialize_with = "de::customer_type",
        skip_serializing_if = "Option::is_none"
    )]
    pub customer_type: Option<CustomerType>,
    /// State registration (inscrição estadual) `[inferred]` meaning.
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub legal_code2: Option<String>,
    /// CEP.
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// Street.
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Street number.
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// Complement.
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub complement: Option<String>,
    /// District.
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub district: Option<String>,
    /// City.
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// UF.
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Main phone.
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub phone1: Option<String>,
    /// Second phone.
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub phone2: Option<String>,
    /// WhatsApp number.
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub whatsapp_number: Option<String>,
    /// Contact person.
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub contact_name: Option<String>,
    /// Contact role.
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub contact_role: Option<String>,
    /// Contact e-mail.
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub contact_email: Option<String>,
    /// Billing e-mail `[inferred]` on the customer (the sample has it on `account`).
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub financial_email: Option<String>,
    /// The uuid DocSales generates for API-created records.
    #[serde(
        deserialize_with = "de::reference",
        skip_serializing_if = "Option::is_none"
    )]
    pub external_uuid: Option<String>,
    /// Id in the CRM.
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub id_crm_customer: Option<String>,
    /// Profession.
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub profession: Option<String>,
    /// Civil status (`stable_union`, …).
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub civil_status: Option<String>,
    /// Gender (`not_informed`, …).
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    /// Nationality.
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub nationality: Option<String>,
    /// Every other field (`custom_*` included), kept as received.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// One item sold `[inferred]`: the smallest plausible shape, to confirm against the account's
/// swagger file.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ProductItem {
    /// Item id.
    #[serde(deserialize_with = "de::id", skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// Product/service code (what the catalog maps to a plan).
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Product name.
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Quantity (may be fractional on the wire; sig-core accepts whole numbers only).
    #[serde(
        deserialize_with = "de::decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub quantity: Option<Decimal>,
    /// Price per unit per month.
    #[serde(
        deserialize_with = "de::decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub unit_value: Option<Decimal>,
    /// Total per month for the item.
    #[serde(
        deserialize_with = "de::decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_value: Option<Decimal>,
    /// Every other field (per-item `custom_*` included), kept as received.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// The old `decode`: the path serde_path_to_error names, and serde_json's error.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, (String, serde_json::Error)> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| (e.path().to_string(), e.into_inner()))?;
    de.end().map_err(|e| (".".to_owned(), e))?;
    Ok(value)
}

pub mod mapping;

/// The message `DecodeError` shows for a serde_json error: position cut, quoted values
/// redacted (as `wire::DecodeError::new` does).
pub fn shown_message(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    let msg = match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg,
    };
    let mut out = String::with_capacity(msg.len());
    let mut rest = msg.as_str();
    for marker in ["string \"", "unknown field `", "unknown variant `"] {
        if let Some(i) = rest.find(marker) {
            let start = i + marker.len();
            let close = if marker.ends_with('"') {
                rest.rfind("\", expected")
                    .or_else(|| rest.rfind('"'))
                    .filter(|&c| c >= start)
            } else {
                rest[start..].find('`').map(|c| c + start)
            };
            if let Some(c) = close {
                out.push_str(&rest[..start]);
                out.push('…');
                rest = &rest[c..];
            }
        }
    }
    out.push_str(rest);
    out
}
