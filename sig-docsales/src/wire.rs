//! DocSales wire types: the proposal document as the webhook and `GET /api/v1/proposals/{id}`
//! carry it (reference §2.1), and the other payloads the client reads and writes.
//!
//! **Lenient** where the API is loose: timestamps in DocSales' `2022-07-11 16:01:55 -0300`
//! form or RFC 3339, numbers sent as strings, empty strings read as absent, `custom_*` and
//! every other unknown field kept (not dropped) in a map. **Strict** where it matters: ids
//! (positive integers, or UUID-like references that are safe in a URL path), the status (a
//! string; unknown values kept as [`ProposalStatus::Unknown`]), tax ids (text only: as a JSON
//! number a CPF loses its leading zeros) and money ([`Decimal`], never `f64` arithmetic).
//!
//! Every rejection names the JSON path of the offending value ([`DecodeError::path`]) and
//! never quotes the value itself (it may be personal data).
//!
//! The proposal document is on the hot path (every webhook and fetch), so its objects are read
//! in one pass by hand-written visitors ([`de`]) rather than `#[serde(flatten)]`, and
//! [`decode_proposal`] tracks JSON paths only when a body fails. The old serde-derive decoder
//! is kept in the tests as an oracle: both accept and reject exactly the same bodies.
//!
//! Shapes marked `[inferred]` are not in any DocSales documentation (see
//! `OPEN-QUESTIONS.md`): the `products` item array and its value fields, `document.id` and
//! `document.external_uuid` in the webhook body, the listing envelopes and the write bodies.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, NaiveDate};
use rust_decimal::Decimal;
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use sig_core::ProposalStatus;

/// DocSales' timestamp form: `2022-07-11 16:01:55 -0300` (not RFC 3339).
pub const TIMESTAMP_FORMAT: &str = sig_core::raw::TIMESTAMP_FORMAT;

/// The most characters an external uuid or other reference may have.
const MAX_REF_LEN: usize = 64;

// ---------------------------------------------------------------------------------------------
// Ids and references
// ---------------------------------------------------------------------------------------------

/// How a proposal is named to `GET /api/v1/proposals/{id}`: DocSales' internal id (the number
/// in `/proposals/44073/edit`) or the `external_uuid` it generated for an API-created document.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProposalRef {
    /// The internal numeric id.
    Id(u64),
    /// The `external_uuid`.
    ExternalUuid(String),
}

impl ProposalRef {
    /// The path segment for this reference.
    pub fn as_segment(&self) -> String {
        match self {
            ProposalRef::Id(n) => n.to_string(),
            ProposalRef::ExternalUuid(s) => s.clone(),
        }
    }
}

impl fmt::Display for ProposalRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_segment())
    }
}

/// Why a proposal reference was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidRef(&'static str);

impl FromStr for ProposalRef {
    type Err = InvalidRef;

    /// All digits: an internal id; otherwise an external uuid (letters, digits, `-`, `_`, at
    /// most 64). Nothing else is accepted, so a reference is always safe in a URL path.
    fn from_str(s: &str) -> Result<Self, InvalidRef> {
        let t = s.trim_ascii();
        if t.is_empty() {
            return Err(InvalidRef("a proposal id is required"));
        }
        if t.bytes().all(|b| b.is_ascii_digit()) {
            return parse_id(t).map(ProposalRef::Id);
        }
        check_ref(t).map(|()| ProposalRef::ExternalUuid(t.to_owned()))
    }
}

fn parse_id(t: &str) -> Result<u64, InvalidRef> {
    match t.parse::<u64>() {
        Ok(0) => Err(InvalidRef("an id is a positive whole number, got 0")),
        Ok(n) => Ok(n),
        Err(_) => Err(InvalidRef(
            "an id is a positive whole number that fits 64 bits",
        )),
    }
}

fn check_ref(t: &str) -> Result<(), InvalidRef> {
    if t.len() > MAX_REF_LEN {
        return Err(InvalidRef("a reference has at most 64 characters"));
    }
    if !t
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(InvalidRef(
            "a reference has only letters, digits, `-` and `_`",
        ));
    }
    Ok(())
}

/// A customer's CPF or CNPJ as DocSales sends it (`customer.legal_code`): text of digits,
/// letters (the alphanumeric CNPJ) and mask characters. Check digits are **not** verified
/// here: sig-core validates them and reports `customer.tax_id`, which the mapping traces back
/// to `customer.legal_code`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct LegalCode(String);

impl LegalCode {
    /// The text as received (trimmed).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The text, taken.
    pub(crate) fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Debug for LegalCode {
    /// Masked: a CPF is personal data (LGPD).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LegalCode(<{} chars>)", self.0.chars().count())
    }
}

impl FromStr for LegalCode {
    type Err = InvalidRef;
    fn from_str(s: &str) -> Result<Self, InvalidRef> {
        let t = s.trim_ascii();
        check_legal_code(t)?;
        Ok(LegalCode(t.to_owned()))
    }
}

/// Whether `t` (trimmed) is acceptable as a CPF/CNPJ's text ([`LegalCode`]'s rules).
fn check_legal_code(t: &str) -> Result<(), InvalidRef> {
    if t.is_empty() {
        return Err(InvalidRef("a CPF/CNPJ is required"));
    }
    if t.len() > 24 {
        return Err(InvalidRef(
            "a CPF/CNPJ has at most 18 characters with its mask",
        ));
    }
    if !t
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'/' | b'-' | b' '))
    {
        return Err(InvalidRef(
            "a CPF/CNPJ has only digits, letters and the mask characters `.`, `/`, `-`",
        ));
    }
    Ok(())
}

impl Serialize for LegalCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// Whether the customer is a company or a person (`customer.customer_type`); unknown values
/// are kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CustomerType {
    /// `company`.
    Company,
    /// `person` `[inferred]`: only `company` appears in the published sample.
    Person,
    /// Anything else, kept as received.
    Unknown(String),
}

impl CustomerType {
    /// The wire name.
    pub fn as_str(&self) -> &str {
        match self {
            CustomerType::Company => "company",
            CustomerType::Person => "person",
            CustomerType::Unknown(s) => s,
        }
    }

    fn parse(s: &str) -> Self {
        match s.to_ascii_lowercase().as_str() {
            "company" => CustomerType::Company,
            "person" | "individual" => CustomerType::Person,
            _ => CustomerType::Unknown(s.to_owned()),
        }
    }
}

impl Serialize for CustomerType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

// ---------------------------------------------------------------------------------------------
// Field readers (lenient and strict). None of their messages quotes the value.
// ---------------------------------------------------------------------------------------------

/// The field readers, public so the sandbox and tests can reuse them.
///
/// Each reads one JSON value in a single pass (no [`Value`] in between, strings borrowed from
/// the body where it has no escapes) and only then judges it, so a rejection is raised — and
/// positioned by serde_json — exactly where a reader that first built a [`Value`] raised it.
pub mod de {
    use std::borrow::Cow;

    use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};

    use super::*;

    fn blank(s: &str) -> bool {
        s.bytes().all(|b| b.is_ascii_whitespace())
    }

    /// One JSON value as a reader sees it: scalars kept (text borrowed when the body allows),
    /// lists and objects read through and dropped, since every reader refuses them.
    pub(crate) enum Scalar<'de> {
        Null,
        Bool(bool),
        Number(serde_json::Number),
        Text(Cow<'de, str>),
        List,
        Object,
    }

    impl Scalar<'_> {
        fn kind(&self) -> &'static str {
            match self {
                Scalar::Null => "null",
                Scalar::Bool(_) => "a boolean",
                Scalar::Number(_) => "a number",
                Scalar::Text(_) => "text",
                Scalar::List => "a list",
                Scalar::Object => "an object",
            }
        }

        /// Null or blank text.
        fn is_absent(&self) -> bool {
            match self {
                Scalar::Null => true,
                Scalar::Text(s) => blank(s),
                _ => false,
            }
        }
    }

    fn wrong<E: serde::de::Error>(expected: &str, got: &Scalar<'_>) -> E {
        E::custom(format_args!("expected {expected}, got {}", got.kind()))
    }

    struct ScalarVisitor;

    impl<'de> Visitor<'de> for ScalarVisitor {
        type Value = Scalar<'de>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any valid JSON value")
        }

        fn visit_bool<E>(self, v: bool) -> Result<Scalar<'de>, E> {
            Ok(Scalar::Bool(v))
        }

        fn visit_i64<E>(self, v: i64) -> Result<Scalar<'de>, E> {
            Ok(Scalar::Number(v.into()))
        }

        fn visit_u64<E>(self, v: u64) -> Result<Scalar<'de>, E> {
            Ok(Scalar::Number(v.into()))
        }

        fn visit_f64<E>(self, v: f64) -> Result<Scalar<'de>, E> {
            // As `Value` reads it: a non-finite float (never produced by JSON) is null.
            Ok(serde_json::Number::from_f64(v).map_or(Scalar::Null, Scalar::Number))
        }

        fn visit_str<E>(self, v: &str) -> Result<Scalar<'de>, E> {
            Ok(Scalar::Text(Cow::Owned(v.to_owned())))
        }

        fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Scalar<'de>, E> {
            Ok(Scalar::Text(Cow::Borrowed(v)))
        }

        fn visit_string<E>(self, v: String) -> Result<Scalar<'de>, E> {
            Ok(Scalar::Text(Cow::Owned(v)))
        }

        fn visit_none<E>(self) -> Result<Scalar<'de>, E> {
            Ok(Scalar::Null)
        }

        fn visit_unit<E>(self) -> Result<Scalar<'de>, E> {
            Ok(Scalar::Null)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Scalar<'de>, D::Error> {
            d.deserialize_any(self)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Scalar<'de>, A::Error> {
            // Read through as `Value` would (same depth limit, same error paths).
            Value::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))?;
            Ok(Scalar::List)
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Scalar<'de>, A::Error> {
            Value::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
            Ok(Scalar::Object)
        }
    }

    /// Read one value of any JSON type.
    pub(crate) fn scalar<'de, D: Deserializer<'de>>(d: D) -> Result<Scalar<'de>, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }

    /// `f` of the text of a present string (trimmed of ASCII whitespace), or of a number's
    /// JSON form; `None` for other values.
    fn with_text<R>(v: &Scalar<'_>, f: impl FnOnce(&str) -> R) -> Option<R> {
        match v {
            Scalar::Text(s) => Some(f(s.trim_ascii())),
            Scalar::Number(n) => {
                use std::fmt::Write as _;
                let mut buf = NumberText::default();
                match write!(buf, "{n}") {
                    Ok(()) => Some(f(buf.as_str())),
                    Err(_) => Some(f(&n.to_string())),
                }
            }
            _ => None,
        }
    }

    /// A number's JSON form written on the stack rather than into a new `String`: it is at
    /// most 24 bytes (an `f64` in ryu's shortest form; an `i64` has 20), so 32 leave room.
    #[derive(Default)]
    struct NumberText {
        bytes: [u8; 32],
        len: usize,
    }

    impl NumberText {
        fn as_str(&self) -> &str {
            // Only whole `&str`s are written in, so this never fails.
            std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
        }
    }

    impl fmt::Write for NumberText {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            let end = self.len + s.len();
            self.bytes
                .get_mut(self.len..end)
                .ok_or(fmt::Error)?
                .copy_from_slice(s.as_bytes());
            self.len = end;
            Ok(())
        }
    }

    /// Text: strings as they are, numbers and booleans in JSON form; `null` and blank strings
    /// are absent; lists and objects are refused.
    pub fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(text_ref(d)?.map(Cow::into_owned))
    }

    /// [`text`], borrowed from the body when the string had no escapes.
    pub(crate) fn text_ref<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Cow<'de, str>>, D::Error> {
        let v = scalar(d)?;
        match v {
            v if v.is_absent() => Ok(None),
            Scalar::Text(s) => Ok(Some(s)),
            Scalar::Number(n) => Ok(Some(Cow::Owned(n.to_string()))),
            Scalar::Bool(b) => Ok(Some(Cow::Owned(b.to_string()))),
            other => Err(wrong("text", &other)),
        }
    }

    /// [`text`]'s checks, the value dropped (a field nothing reads further).
    pub(crate) fn text_checked<'de, D: Deserializer<'de>>(d: D) -> Result<(), D::Error> {
        match scalar(d)? {
            other @ (Scalar::List | Scalar::Object) => Err(wrong("text", &other)),
            _ => Ok(()),
        }
    }

    /// `s` without surrounding ASCII whitespace, still borrowed when `s` was.
    fn trim_cow(s: Cow<'_, str>) -> Cow<'_, str> {
        match s {
            Cow::Borrowed(b) => Cow::Borrowed(b.trim_ascii()),
            Cow::Owned(o) if o.trim_ascii().len() == o.len() => Cow::Owned(o),
            Cow::Owned(o) => Cow::Owned(o.trim_ascii().to_owned()),
        }
    }

    /// A whole number ≥ 0 that fits `u32`, as a number or as text (`"12"`, `"12.0"`); `null`
    /// and blank are absent.
    pub fn count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        let v = scalar(d)?;
        if v.is_absent() {
            return Ok(None);
        }
        let read = |text: &str| {
            let t = text.strip_suffix(".0").unwrap_or(text);
            if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
                return Err(D::Error::custom("expected a whole number of 0 or more"));
            }
            t.parse::<u32>()
                .map(Some)
                .map_err(|_| D::Error::custom("a whole number at most 4294967295 is expected"))
        };
        with_text(&v, read).unwrap_or_else(|| Err(wrong("a whole number", &v)))
    }

    /// A boolean: `true`/`false`, `1`/`0`, or those as text; `null` and blank are absent.
    pub fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        let v = scalar(d)?;
        match &v {
            v if v.is_absent() => Ok(None),
            Scalar::Bool(b) => Ok(Some(*b)),
            Scalar::Text(s) => {
                let t = s.trim_ascii();
                if t.eq_ignore_ascii_case("true") || t == "1" {
                    Ok(Some(true))
                } else if t.eq_ignore_ascii_case("false") || t == "0" {
                    Ok(Some(false))
                } else {
                    Err(D::Error::custom("expected true or false"))
                }
            }
            Scalar::Number(n) => match n.as_u64() {
                Some(1) => Ok(Some(true)),
                Some(0) => Ok(Some(false)),
                _ => Err(D::Error::custom("expected true or false")),
            },
            other => Err(wrong("true or false", other)),
        }
    }

    /// A date: `YYYY-MM-DD` (DocSales) or `DD/MM/YYYY`; `null` and blank are absent.
    pub fn date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
        match scalar(d)? {
            v if v.is_absent() => Ok(None),
            Scalar::Text(s) => sig_core::raw::parse_date(&s)
                .map(Some)
                .map_err(|e| D::Error::custom(e.message)),
            other => Err(wrong("a date as text", &other)),
        }
    }

    /// A timestamp: `2022-07-11 16:01:55 -0300` or RFC 3339; `null` and blank are absent.
    pub fn timestamp<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<DateTime<FixedOffset>>, D::Error> {
        match scalar(d)? {
            v if v.is_absent() => Ok(None),
            Scalar::Text(s) => sig_core::raw::parse_timestamp(&s)
                .map(Some)
                .map_err(|e| D::Error::custom(e.message)),
            other => Err(wrong("a timestamp as text", &other)),
        }
    }

    /// Money or a quantity as an exact decimal: a JSON number or text like `"1234.56"`. A JSON
    /// number is read through its shortest decimal text, never used as `f64`. Comma decimal
    /// separators and thousands separators are refused (ambiguous). `null` and blank are
    /// absent.
    pub fn decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
        let v = scalar(d)?;
        if v.is_absent() {
            return Ok(None);
        }
        with_text(&v, |text| {
            parse_decimal(text).map(Some).map_err(D::Error::custom)
        })
        .unwrap_or_else(|| Err(wrong("a decimal number", &v)))
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
        match scalar(d)? {
            Scalar::Null => Ok(None),
            Scalar::Number(n) => match n.as_u64() {
                Some(0) | None => Err(D::Error::custom(
                    "an id is a positive whole number that fits 64 bits",
                )),
                Some(n) => Ok(Some(n)),
            },
            Scalar::Text(s) if blank(&s) => Ok(None),
            Scalar::Text(s) => {
                let t = s.trim_ascii();
                if !t.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(D::Error::custom("an id is a positive whole number"));
                }
                parse_id(t).map(Some).map_err(D::Error::custom)
            }
            other => Err(wrong("a positive whole number", &other)),
        }
    }

    /// A strict reference (`external_uuid`): text of letters, digits, `-` and `_`, at most 64.
    pub fn reference<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(reference_ref(d)?.map(Cow::into_owned))
    }

    /// [`reference`], borrowed from the body when the string had no escapes.
    pub(crate) fn reference_ref<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Cow<'de, str>>, D::Error> {
        match scalar(d)? {
            v if v.is_absent() => Ok(None),
            Scalar::Text(s) => {
                let t = trim_cow(s);
                check_ref(&t).map_err(D::Error::custom)?;
                Ok(Some(t))
            }
            other => Err(wrong("a reference as text", &other)),
        }
    }

    /// A strict CPF/CNPJ: text only (a number would have lost its leading zeros).
    pub fn legal_code<'de, D: Deserializer<'de>>(d: D) -> Result<Option<LegalCode>, D::Error> {
        Ok(legal_code_ref(d)?.map(|t| LegalCode(t.into_owned())))
    }

    /// [`legal_code`]'s text (trimmed), borrowed from the body when it had no escapes.
    pub(crate) fn legal_code_ref<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Cow<'de, str>>, D::Error> {
        match scalar(d)? {
            v if v.is_absent() => Ok(None),
            Scalar::Text(s) => {
                let t = trim_cow(s);
                check_legal_code(&t).map_err(D::Error::custom)?;
                Ok(Some(t))
            }
            Scalar::Number(_) => Err(D::Error::custom(
                "a CPF/CNPJ must be sent as text: as a number it loses its leading zeros",
            )),
            other => Err(wrong("a CPF/CNPJ as text", &other)),
        }
    }

    /// A strict status: text; unknown values kept; `null` and blank are absent.
    pub fn status<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ProposalStatus>, D::Error> {
        match scalar(d)? {
            v if v.is_absent() => Ok(None),
            Scalar::Text(s) if s.len() > 64 => {
                Err(D::Error::custom("a status has at most 64 characters"))
            }
            Scalar::Text(s) => Ok(Some(ProposalStatus::parse(&s))),
            other => Err(wrong("a status as text", &other)),
        }
    }

    /// A customer type: text; unknown values kept; `null` and blank are absent.
    pub fn customer_type<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<CustomerType>, D::Error> {
        match scalar(d)? {
            v if v.is_absent() => Ok(None),
            Scalar::Text(s) => Ok(Some(CustomerType::parse(s.trim_ascii()))),
            other => Err(wrong("a customer type as text", &other)),
        }
    }

    /// [`customer_type`]'s checks, the value dropped.
    pub(crate) fn customer_type_checked<'de, D: Deserializer<'de>>(d: D) -> Result<(), D::Error> {
        match scalar(d)? {
            v if v.is_absent() => Ok(()),
            Scalar::Text(_) => Ok(()),
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

    // -----------------------------------------------------------------------------------------
    // The wire objects' own readers: one pass over the object, known keys routed to their
    // reader, every other key kept in the object's map. They drive serde exactly as
    // `#[derive(Deserialize)]` with `#[serde(default)]` and a `#[serde(flatten)]` map did (a
    // map only, `duplicate field` for a known key given twice, the last of a repeated unknown
    // key kept), without buffering the object into serde's `Content` first.
    // -----------------------------------------------------------------------------------------

    /// A key, borrowed from the body unless it had escapes.
    pub(crate) struct Key;

    impl<'de> DeserializeSeed<'de> for Key {
        type Value = Cow<'de, str>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
            d.deserialize_identifier(self)
        }
    }

    impl<'de> Visitor<'de> for Key {
        type Value = Cow<'de, str>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("field identifier")
        }
        fn visit_str<E>(self, v: &str) -> Result<Cow<'de, str>, E> {
            Ok(Cow::Owned(v.to_owned()))
        }
        fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Cow<'de, str>, E> {
            Ok(Cow::Borrowed(v))
        }
        fn visit_string<E>(self, v: String) -> Result<Cow<'de, str>, E> {
            Ok(Cow::Owned(v))
        }
    }

    /// Seeds for `next_value_seed` that call a reader.
    macro_rules! seeds {
        ($($seed:ident => $reader:ident: $out:ty),* $(,)?) => {$(
            pub(crate) struct $seed;

            impl<'de> DeserializeSeed<'de> for $seed {
                type Value = $out;
                fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<$out, D::Error> {
                    $reader(d)
                }
            }
        )*};
    }

    seeds! {
        Text => text: Option<String>,
        Count => count: Option<u32>,
        Flag => flag: Option<bool>,
        Date => date: Option<NaiveDate>,
        Timestamp => timestamp: Option<DateTime<FixedOffset>>,
        Dec => decimal: Option<Decimal>,
        Id => id: Option<u64>,
        Reference => reference: Option<String>,
        Legal => legal_code: Option<LegalCode>,
        Status => status: Option<ProposalStatus>,
        Kind => customer_type: Option<CustomerType>,
    }

    /// [`object`] as a seed.
    pub(crate) struct ObjectOf<T>(pub(crate) std::marker::PhantomData<T>);

    impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for ObjectOf<T> {
        type Value = Option<T>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<T>, D::Error> {
            object(d)
        }
    }

    /// [`list`] as a seed.
    pub(crate) struct ListOf<T>(pub(crate) std::marker::PhantomData<T>);

    impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for ListOf<T> {
        type Value = Vec<T>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<T>, D::Error> {
            list(d)
        }
    }

    /// A value kept as received (`Option<Value>`: `null` is absent).
    pub(crate) struct Kept;

    impl<'de> DeserializeSeed<'de> for Kept {
        type Value = Option<Value>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<Value>, D::Error> {
            Option::<Value>::deserialize(d)
        }
    }

    /// Seeds for the readers that borrow or only check (the one-pass read of [`super::lean`]).
    /// Written out rather than by `seeds!`: their values borrow from the body (`'de`).
    pub(crate) struct TextRef;

    impl<'de> DeserializeSeed<'de> for TextRef {
        type Value = Option<Cow<'de, str>>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            text_ref(d)
        }
    }

    pub(crate) struct ReferenceRef;

    impl<'de> DeserializeSeed<'de> for ReferenceRef {
        type Value = Option<Cow<'de, str>>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            reference_ref(d)
        }
    }

    pub(crate) struct LegalRef;

    impl<'de> DeserializeSeed<'de> for LegalRef {
        type Value = Option<Cow<'de, str>>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            legal_code_ref(d)
        }
    }

    pub(crate) struct TextChecked;

    impl<'de> DeserializeSeed<'de> for TextChecked {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            text_checked(d)
        }
    }

    pub(crate) struct KindChecked;

    impl<'de> DeserializeSeed<'de> for KindChecked {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            customer_type_checked(d)
        }
    }

    /// serde_json's `Value` reads an object whose first key is this token as a raw value.
    const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

    /// Any JSON value read as [`Value`] reads it — the same depth limit, the same numbers —
    /// and kept nowhere: what [`Kept`] and the objects' maps hold, for a reader that does not
    /// need it. An object whose first key is serde_json's raw-value token is refused (a
    /// `Value` may read it otherwise), so this never accepts what `Value` refuses.
    pub(crate) struct Checked;

    impl<'de> DeserializeSeed<'de> for Checked {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Checked {
        type Value = ();

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any valid JSON value")
        }

        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }

        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }

        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }

        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }

        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }

        fn visit_none<E>(self) -> Result<(), E> {
            Ok(())
        }

        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while seq.next_element_seed(Checked)?.is_some() {}
            Ok(())
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            if let Some(first) = map.next_key_seed(Key)? {
                if first == RAW_VALUE_TOKEN {
                    return Err(A::Error::custom("a raw value token is not read here"));
                }
                map.next_value_seed(Checked)?;
                while map.next_key_seed(KeyChecked)?.is_some() {
                    map.next_value_seed(Checked)?;
                }
            }
            Ok(())
        }
    }

    /// A key read and dropped.
    struct KeyChecked;

    impl<'de> DeserializeSeed<'de> for KeyChecked {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_identifier(self)
        }
    }

    impl<'de> Visitor<'de> for KeyChecked {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("field identifier")
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
    }

    /// A catalog-named custom field's value ([`super::lean::Custom`]), read as [`Value`]
    /// reads it.
    pub(crate) struct CustomValue;

    impl<'de> DeserializeSeed<'de> for CustomValue {
        type Value = super::lean::Custom<'de>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for CustomValue {
        type Value = super::lean::Custom<'de>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any valid JSON value")
        }

        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(super::lean::Custom::Other)
        }

        fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
            Ok(super::lean::Custom::Number(v.into()))
        }

        fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
            Ok(super::lean::Custom::Number(v.into()))
        }

        fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
            // As `Value` reads it: a non-finite float (never produced by JSON) is null.
            Ok(serde_json::Number::from_f64(v)
                .map_or(super::lean::Custom::Null, super::lean::Custom::Number))
        }

        fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
            Ok(super::lean::Custom::Text(Cow::Owned(v.to_owned())))
        }

        fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(super::lean::Custom::Text(Cow::Borrowed(v)))
        }

        fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
            Ok(super::lean::Custom::Text(Cow::Owned(v)))
        }

        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(super::lean::Custom::Null)
        }

        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(super::lean::Custom::Null)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            use super::lean::Custom;
            let mut items = Vec::new();
            let mut scalars = true;
            while let Some(item) = seq.next_element_seed(CustomValue)? {
                match item {
                    Custom::List(_) | Custom::Other => scalars = false,
                    item if scalars => items.push(item),
                    _ => {}
                }
            }
            Ok(if scalars {
                Custom::List(items)
            } else {
                Custom::Other
            })
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            Checked.visit_map(map)?;
            Ok(super::lean::Custom::Other)
        }
    }
}

/// `Deserialize` for a wire object and [`lean::Read`] for its lean twin, from one table: the
/// struct's name for messages, the map that keeps every other key, the lean type (and the
/// names its seeds use for the catalog's custom field names and for the object being filled),
/// and each known key with the field it fills and the seed that reads it, then the lean field
/// (`_`: read into place, or checked and dropped) and its seed. One table, so both readers
/// know the same keys and judge them alike.
macro_rules! wire_object {
    (
        $ty:ident, $expecting:literal, others: $others:ident,
        lean: $lean:ident($names:ident, $out:ident),
        { $($key:literal => $field:ident: $seed:expr; $lfield:tt: $lseed:expr),* $(,)? }
    ) => {
        impl<'de> lean::Read<'de> for lean::$lean<'de> {
            fn read_into<A: serde::de::MapAccess<'de>>(
                &mut self,
                $names: lean::Names<'_>,
                mut map: A,
            ) -> Result<(), A::Error> {
                let $out = self;
                $(let mut $field = false;)*
                while let Some(key) = map.next_key_seed(de::Key)? {
                    match &*key {
                        $($key => {
                            if $field {
                                return Err(A::Error::duplicate_field($key));
                            }
                            $field = true;
                            lean_set!($out.$lfield = map.next_value_seed($lseed)?);
                        })*
                        _ => lean::Others::other(&mut *$out, &key, $names, &mut map)?,
                    }
                }
                Ok(())
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;

                impl<'de> serde::de::Visitor<'de> for V {
                    type Value = $ty;

                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expecting)
                    }

                    fn visit_map<A: serde::de::MapAccess<'de>>(
                        self,
                        mut map: A,
                    ) -> Result<$ty, A::Error> {
                        let mut out = $ty::default();
                        $(let mut $field = false;)*
                        while let Some(key) = map.next_key_seed(de::Key)? {
                            match &*key {
                                $($key => {
                                    if $field {
                                        return Err(A::Error::duplicate_field($key));
                                    }
                                    $field = true;
                                    out.$field = map.next_value_seed($seed)?;
                                })*
                                _ => {
                                    let value: Value = map.next_value()?;
                                    out.$others.insert(key.into_owned(), value);
                                }
                            }
                        }
                        Ok(out)
                    }
                }

                d.deserialize_map(V)
            }
        }
    };
}

/// A lean reader's assignment: to its field, or (`_`) nowhere.
macro_rules! lean_set {
    ($out:ident . _ = $value:expr) => {
        let _ = $value;
    };
    ($out:ident . $field:ident = $value:expr) => {
        $out.$field = $value;
    };
}

mod ser {
    use super::*;

    #[allow(clippy::ref_option)] // serde's `serialize_with` hands us `&Option<T>`
    pub fn timestamp<S: Serializer>(
        v: &Option<DateTime<FixedOffset>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(t) => s.serialize_str(&sig_core::raw::format_timestamp(t)),
            None => s.serialize_none(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The proposal document
// ---------------------------------------------------------------------------------------------

/// One DocSales proposal as a whole: the webhook body, and `[inferred]` the body of
/// `GET /api/v1/proposals/{id}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProposalDocument {
    /// The sales document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<Document>,
    /// The DocSales tenant (the seller's company).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<Account>,
    /// The user who owns the document (the salesperson).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_owner: Option<DocumentOwner>,
    /// The customer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<Customer>,
    /// The items sold `[inferred]`: name and shape unconfirmed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub products: Vec<ProductItem>,
    /// Every other top-level field, kept as received.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// The `document` object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Document {
    /// Internal id (the number in `/proposals/44073/edit`) `[inferred]` in the webhook body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// The uuid DocSales generates for API-created documents `[inferred]` in this object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_uuid: Option<String>,
    /// Human code (`DS-00319`), returned in webhooks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Status (`sent`, `approved`, …; unknown values kept).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<ProposalStatus>,
    /// Created.
    #[serde(
        serialize_with = "ser::timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_at: Option<DateTime<FixedOffset>>,
    /// Last changed.
    #[serde(
        serialize_with = "ser::timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub updated_at: Option<DateTime<FixedOffset>>,
    /// Expiry date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration_date: Option<NaiveDate>,
    /// Contract start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contract_start: Option<NaiveDate>,
    /// Contract end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contract_end: Option<NaiveDate>,
    /// Contract length in months.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contract_months: Option<u32>,
    /// Number of instalments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parcels_count: Option<u32>,
    /// Billing (due) day of the month.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due_day: Option<u32>,
    /// Contact person.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_name: Option<String>,
    /// Contact role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_role: Option<String>,
    /// Contact e-mail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_email: Option<String>,
    /// CRM deal id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deal_id: Option<String>,
    /// CRM deal name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deal_name: Option<String>,
    /// CRM deal owner.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deal_user_id: Option<String>,
    /// CRM data, kept as received.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deal_crm_data: Option<Value>,
    /// CRM pipeline, kept as received (nullable).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deal_pipeline: Option<Value>,
    /// Whether pages are initialled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sign_initial: Option<bool>,
    /// `custom_*` fields and every other field, kept as received.
    #[serde(flatten)]
    pub custom: BTreeMap<String, Value>,
}

impl Document {
    /// The reference to re-fetch this document by: its id, else its external uuid.
    pub fn reference(&self) -> Option<ProposalRef> {
        self.id
            .map(ProposalRef::Id)
            .or_else(|| self.external_uuid.clone().map(ProposalRef::ExternalUuid))
    }

    /// The `custom_*` fields only.
    pub fn custom_fields(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.custom.iter().filter(|(k, _)| k.starts_with("custom_"))
    }
}

/// The `account` object: the DocSales tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[allow(missing_docs)] // field names are DocSales' own (reference §2.1)
pub struct Account {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Masked CNPJ of the tenant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address1: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address2: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub district: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legal_code2: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone1: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone2: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub financial_email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency_iso_code: Option<String>,
    /// Every other field, kept as received.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// The `document_owner` object: the salesperson.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[allow(missing_docs)] // field names are DocSales' own (reference §2.1)
pub struct DocumentOwner {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub whatsapp_number: Option<String>,
    /// Every other field, kept as received.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// The `customer` object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Customer {
    /// Internal id (the number in `/customers/48011/edit`) `[inferred]` in this object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// The customer code (one of the keys `GET /customers/{customer_id}/proposals` takes)
    /// `[inferred]` in this object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Legal name (or the person's name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Trade name (`DBA`, "doing business as").
    #[serde(rename = "DBA", skip_serializing_if = "Option::is_none")]
    pub dba: Option<String>,
    /// CPF or CNPJ.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legal_code: Option<LegalCode>,
    /// `company` or `person`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_type: Option<CustomerType>,
    /// State registration (inscrição estadual) `[inferred]` meaning.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legal_code2: Option<String>,
    /// CEP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// Street.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Street number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// Complement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub complement: Option<String>,
    /// District.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub district: Option<String>,
    /// City.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// UF.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Main phone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone1: Option<String>,
    /// Second phone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone2: Option<String>,
    /// WhatsApp number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub whatsapp_number: Option<String>,
    /// Contact person.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_name: Option<String>,
    /// Contact role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_role: Option<String>,
    /// Contact e-mail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_email: Option<String>,
    /// Billing e-mail `[inferred]` on the customer (the sample has it on `account`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub financial_email: Option<String>,
    /// The uuid DocSales generates for API-created records.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_uuid: Option<String>,
    /// Id in the CRM.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_crm_customer: Option<String>,
    /// Profession.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profession: Option<String>,
    /// Civil status (`stable_union`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub civil_status: Option<String>,
    /// Gender (`not_informed`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    /// Nationality.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nationality: Option<String>,
    /// Every other field (`custom_*` included), kept as received.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// One item sold `[inferred]`: the smallest plausible shape, to confirm against the account's
/// swagger file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProductItem {
    /// Item id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// Product/service code (what the catalog maps to a plan).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Product name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Quantity (may be fractional on the wire; sig-core accepts whole numbers only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<Decimal>,
    /// Price per unit per month.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit_value: Option<Decimal>,
    /// Total per month for the item.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_value: Option<Decimal>,
    /// Every other field (per-item `custom_*` included), kept as received.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// The proposal document as the mapping reads it: what [`crate::mapping`] needs and nothing
/// more, its text borrowed from the body where it has no escapes. The proposal source reads
/// a fetched body straight into it ([`crate::mapping::decode_sourced`]) instead of building
/// a [`ProposalDocument`] whose other fields and maps would only be dropped.
///
/// Every field of the wire objects is still read, by the same reader, and judged alike (the
/// same table drives both, see `wire_object!`); fields the mapping does not read are checked
/// and dropped, and of the fields no reader knows only the catalog's custom fields are kept.
pub(crate) mod lean {
    use std::borrow::Cow;

    use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};

    use super::*;

    /// Text, borrowed from the body when it can be.
    pub(crate) type Text<'de> = Option<Cow<'de, str>>;

    /// The catalog's names for the custom fields the mapping reads.
    #[derive(Debug, Clone, Copy)]
    pub(crate) struct Names<'n> {
        /// The area code's field.
        pub(crate) area: &'n str,
        /// The DIDs' field.
        pub(crate) dids: &'n str,
    }

    /// A custom field's value, as far as the mapping tells values apart.
    #[derive(Debug, Clone, PartialEq)]
    pub(crate) enum Custom<'de> {
        /// `null`.
        Null,
        /// A string.
        Text(Cow<'de, str>),
        /// A number.
        Number(serde_json::Number),
        /// A list of `null`s, strings and numbers only.
        List(Vec<Custom<'de>>),
        /// A boolean, an object, or a list holding one of those or a list.
        Other,
    }

    impl Custom<'_> {
        /// A kept [`Value`], told apart the same way.
        pub(crate) fn from_value(v: Value) -> Custom<'static> {
            match v {
                Value::Null => Custom::Null,
                Value::String(s) => Custom::Text(Cow::Owned(s)),
                Value::Number(n) => Custom::Number(n),
                Value::Array(items) => {
                    let mut list = Vec::with_capacity(items.len());
                    for item in items {
                        match item {
                            Value::Null => list.push(Custom::Null),
                            Value::String(s) => list.push(Custom::Text(Cow::Owned(s))),
                            Value::Number(n) => list.push(Custom::Number(n)),
                            Value::Bool(_) | Value::Array(_) | Value::Object(_) => {
                                return Custom::Other;
                            }
                        }
                    }
                    Custom::List(list)
                }
                Value::Bool(_) | Value::Object(_) => Custom::Other,
            }
        }

        /// Whether it is `null`.
        pub(crate) fn is_null(&self) -> bool {
            matches!(self, Custom::Null)
        }
    }

    /// The catalog's custom fields taken from a kept map (the same value twice when the
    /// catalog reads both from one field).
    fn take_customs(
        map: &mut BTreeMap<String, Value>,
        names: Names<'_>,
    ) -> (Option<Custom<'static>>, Option<Custom<'static>>) {
        let area = map.remove(names.area).map(Custom::from_value);
        let dids = if names.dids == names.area {
            area.clone()
        } else {
            map.remove(names.dids).map(Custom::from_value)
        };
        (area, dids)
    }

    /// The whole document.
    #[derive(Debug, Default)]
    pub(crate) struct Proposal<'de> {
        pub(crate) document: Option<Document<'de>>,
        pub(crate) document_owner: Option<Owner<'de>>,
        pub(crate) customer: Option<Customer<'de>>,
        pub(crate) products: Vec<Item<'de>>,
    }

    /// `document`.
    #[derive(Debug, Default)]
    pub(crate) struct Document<'de> {
        pub(crate) id: Option<u64>,
        pub(crate) external_uuid: Text<'de>,
        pub(crate) code: Text<'de>,
        pub(crate) status: Option<ProposalStatus>,
        pub(crate) created_at: Option<DateTime<FixedOffset>>,
        pub(crate) updated_at: Option<DateTime<FixedOffset>>,
        pub(crate) contract_start: Option<NaiveDate>,
        pub(crate) due_day: Option<u32>,
        pub(crate) contact_name: Text<'de>,
        pub(crate) contact_email: Text<'de>,
        /// The catalog's area code field.
        pub(crate) area: Option<Custom<'de>>,
        /// The catalog's DIDs field.
        pub(crate) dids: Option<Custom<'de>>,
    }

    /// `account`: checked, nothing kept.
    #[derive(Debug, Default)]
    pub(crate) struct Account<'de>(PhantomData<&'de ()>);

    /// `document_owner`.
    #[derive(Debug, Default)]
    pub(crate) struct Owner<'de> {
        pub(crate) name: Text<'de>,
        pub(crate) email: Text<'de>,
    }

    /// `customer`.
    #[derive(Debug, Default)]
    pub(crate) struct Customer<'de> {
        pub(crate) legal_code: Text<'de>,
        pub(crate) name: Text<'de>,
        pub(crate) dba: Text<'de>,
        pub(crate) legal_code2: Text<'de>,
        pub(crate) postal_code: Text<'de>,
        pub(crate) address: Text<'de>,
        pub(crate) number: Text<'de>,
        pub(crate) complement: Text<'de>,
        pub(crate) district: Text<'de>,
        pub(crate) city: Text<'de>,
        pub(crate) state: Text<'de>,
        pub(crate) phone1: Text<'de>,
        pub(crate) phone2: Text<'de>,
        pub(crate) whatsapp_number: Text<'de>,
        pub(crate) contact_name: Text<'de>,
        pub(crate) contact_email: Text<'de>,
        pub(crate) financial_email: Text<'de>,
    }

    /// One of `products`.
    #[derive(Debug, Default)]
    pub(crate) struct Item<'de> {
        pub(crate) code: Text<'de>,
        pub(crate) quantity: Option<Decimal>,
        pub(crate) unit_value: Option<Decimal>,
        pub(crate) total_value: Option<Decimal>,
        /// The catalog's area code field.
        pub(crate) area: Option<Custom<'de>>,
        /// The catalog's DIDs field.
        pub(crate) dids: Option<Custom<'de>>,
    }

    impl Proposal<'static> {
        /// The parts of a decoded document the mapping reads, taken from it.
        pub(crate) fn from_document(doc: ProposalDocument, names: Names<'_>) -> Self {
            let owned = |s: Option<String>| s.map(Cow::Owned);
            Proposal {
                document: doc.document.map(|mut d| {
                    let (area, dids) = take_customs(&mut d.custom, names);
                    Document {
                        id: d.id,
                        external_uuid: owned(d.external_uuid),
                        code: owned(d.code),
                        status: d.status,
                        created_at: d.created_at,
                        updated_at: d.updated_at,
                        contract_start: d.contract_start,
                        due_day: d.due_day,
                        contact_name: owned(d.contact_name),
                        contact_email: owned(d.contact_email),
                        area,
                        dids,
                    }
                }),
                document_owner: doc.document_owner.map(|o| Owner {
                    name: owned(o.name),
                    email: owned(o.email),
                }),
                customer: doc.customer.map(|c| Customer {
                    legal_code: c.legal_code.map(|l| Cow::Owned(l.into_string())),
                    name: owned(c.name),
                    dba: owned(c.dba),
                    legal_code2: owned(c.legal_code2),
                    postal_code: owned(c.postal_code),
                    address: owned(c.address),
                    number: owned(c.number),
                    complement: owned(c.complement),
                    district: owned(c.district),
                    city: owned(c.city),
                    state: owned(c.state),
                    phone1: owned(c.phone1),
                    phone2: owned(c.phone2),
                    whatsapp_number: owned(c.whatsapp_number),
                    contact_name: owned(c.contact_name),
                    contact_email: owned(c.contact_email),
                    financial_email: owned(c.financial_email),
                }),
                products: doc
                    .products
                    .into_iter()
                    .map(|mut item| {
                        let (area, dids) = take_customs(&mut item.extra, names);
                        Item {
                            code: owned(item.code),
                            quantity: item.quantity,
                            unit_value: item.unit_value,
                            total_value: item.total_value,
                            area,
                            dids,
                        }
                    })
                    .collect(),
            }
        }
    }

    /// A lean object's reader, written by `wire_object!`: it fills the object in place (the
    /// objects are large; moved out through each layer of `Result` and `Option`, they cost
    /// more than their reading).
    pub(crate) trait Read<'de>: Default + Others<'de> {
        /// Read the object's entries into `self`.
        fn read_into<A: MapAccess<'de>>(
            &mut self,
            names: Names<'_>,
            map: A,
        ) -> Result<(), A::Error>;
    }

    /// What a lean object does with the keys no field reads: by default their values are
    /// checked as a [`Value`] would be and dropped.
    pub(crate) trait Others<'de> {
        /// Read the value of `key`.
        fn other<A: MapAccess<'de>>(
            &mut self,
            _key: &str,
            _names: Names<'_>,
            map: &mut A,
        ) -> Result<(), A::Error> {
            map.next_value_seed(de::Checked)
        }
    }

    impl<'de> Others<'de> for Proposal<'de> {}
    impl<'de> Others<'de> for Account<'de> {}
    impl<'de> Others<'de> for Owner<'de> {}
    impl<'de> Others<'de> for Customer<'de> {}

    /// `document` and items keep the catalog's custom fields.
    macro_rules! keeps_customs {
        ($($ty:ident),*) => {$(
            impl<'de> Others<'de> for $ty<'de> {
                fn other<A: MapAccess<'de>>(
                    &mut self,
                    key: &str,
                    names: Names<'_>,
                    map: &mut A,
                ) -> Result<(), A::Error> {
                    custom(key, names, map, &mut self.area, &mut self.dids)
                }
            }
        )*};
    }

    keeps_customs!(Document, Item);

    /// Keep the value of a key the catalog names as a custom field; check and drop others.
    fn custom<'de, A: MapAccess<'de>>(
        key: &str,
        names: Names<'_>,
        map: &mut A,
        area: &mut Option<Custom<'de>>,
        dids: &mut Option<Custom<'de>>,
    ) -> Result<(), A::Error> {
        match (key == names.area, key == names.dids) {
            (false, false) => map.next_value_seed(de::Checked),
            (true, false) => {
                *area = Some(map.next_value_seed(de::CustomValue)?);
                Ok(())
            }
            (false, true) => {
                *dids = Some(map.next_value_seed(de::CustomValue)?);
                Ok(())
            }
            (true, true) => {
                let v = map.next_value_seed(de::CustomValue)?;
                *dids = Some(v.clone());
                *area = Some(v);
                Ok(())
            }
        }
    }

    /// The seed that reads an object into `T`, in place.
    pub(crate) struct InPlace<'a, 'n, T>(&'a mut T, Names<'n>);

    impl<'de, T: Read<'de>> DeserializeSeed<'de> for InPlace<'_, '_, T> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_map(self)
        }
    }

    impl<'de, T: Read<'de>> Visitor<'de> for InPlace<'_, '_, T> {
        type Value = ();

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object")
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
            self.0.read_into(self.1, map)
        }
    }

    /// The seed that reads an object that may be `null` into `slot`, as [`de::object`] reads
    /// it.
    pub(crate) struct Opt<'a, 'n, T>(&'a mut Option<T>, Names<'n>);

    /// [`Opt`] into `slot`.
    pub(crate) fn opt<'a, 'n, T>(slot: &'a mut Option<T>, names: Names<'n>) -> Opt<'a, 'n, T> {
        Opt(slot, names)
    }

    impl<'de, T: Read<'de>> DeserializeSeed<'de> for Opt<'_, '_, T> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_option(self)
        }
    }

    impl<'de, T: Read<'de>> Visitor<'de> for Opt<'_, '_, T> {
        type Value = ();

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("option")
        }

        fn visit_none<E>(self) -> Result<(), E> {
            *self.0 = None;
            Ok(())
        }

        fn visit_unit<E>(self) -> Result<(), E> {
            *self.0 = None;
            Ok(())
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            InPlace(self.0.insert(T::default()), self.1).deserialize(d)
        }
    }

    /// The seed that reads a list of objects that may be `null` into `list`, as [`de::list`]
    /// reads it.
    pub(crate) struct List<'a, 'n, T>(&'a mut Vec<T>, Names<'n>);

    /// [`List`] into `list`.
    pub(crate) fn list<'a, 'n, T>(list: &'a mut Vec<T>, names: Names<'n>) -> List<'a, 'n, T> {
        List(list, names)
    }

    impl<'de, T: Read<'de>> DeserializeSeed<'de> for List<'_, '_, T> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_option(self)
        }
    }

    impl<'de, T: Read<'de>> Visitor<'de> for List<'_, '_, T> {
        type Value = ();

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list")
        }

        fn visit_none<E>(self) -> Result<(), E> {
            self.0.clear();
            Ok(())
        }

        fn visit_unit<E>(self) -> Result<(), E> {
            self.0.clear();
            Ok(())
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_seq(self)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            self.0.clear();
            while seq.next_element_seed(Push(&mut *self.0, self.1))?.is_some() {}
            Ok(())
        }
    }

    /// The seed of one object of a list: read in place at the list's end.
    struct Push<'a, 'n, T>(&'a mut Vec<T>, Names<'n>);

    impl<'de, T: Read<'de>> DeserializeSeed<'de> for Push<'_, '_, T> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            let at = self.0.len();
            self.0.push(T::default());
            InPlace(&mut self.0[at], self.1).deserialize(d)
        }
    }

    /// Read a proposal body into the lean shape, or `None` wherever the body is not one the
    /// decoder accepts (then [`decode_proposal`] says why).
    pub(crate) fn decode<'de>(body: &'de [u8], names: Names<'_>) -> Option<Proposal<'de>> {
        let text = std::str::from_utf8(body).ok()?;
        let mut de = serde_json::Deserializer::from_str(text);
        let mut doc = Proposal::default();
        InPlace(&mut doc, names).deserialize(&mut de).ok()?;
        de.end().ok()?;
        Some(doc)
    }
}

// The proposal's objects are read in one pass (see [`de`]): no `#[serde(flatten)]`, which
// would buffer each object into serde's `Content` and re-read it. Every field above is listed
// here with its reader; a field missing here would land in the object's map (the oracle test
// `decoder_matches_the_serde_derive_reference` catches that). The lean column says what the
// one-pass read for the mapping keeps of each field ([`lean`]).

wire_object!(ProposalDocument, "struct ProposalDocument", others: extra, lean: Proposal(names, out), {
    "document" => document: de::ObjectOf(PhantomData); _: lean::opt(&mut out.document, names),
    "account" => account: de::ObjectOf(PhantomData); _: lean::opt(&mut None::<lean::Account>, names),
    "document_owner" => document_owner: de::ObjectOf(PhantomData); _: lean::opt(&mut out.document_owner, names),
    "customer" => customer: de::ObjectOf(PhantomData); _: lean::opt(&mut out.customer, names),
    "products" => products: de::ListOf(PhantomData); _: lean::list(&mut out.products, names),
});

wire_object!(Document, "struct Document", others: custom, lean: Document(names, out), {
    "id" => id: de::Id; id: de::Id,
    "external_uuid" => external_uuid: de::Reference; external_uuid: de::ReferenceRef,
    "code" => code: de::Text; code: de::TextRef,
    "status" => status: de::Status; status: de::Status,
    "created_at" => created_at: de::Timestamp; created_at: de::Timestamp,
    "updated_at" => updated_at: de::Timestamp; updated_at: de::Timestamp,
    "expiration_date" => expiration_date: de::Date; _: de::Date,
    "contract_start" => contract_start: de::Date; contract_start: de::Date,
    "contract_end" => contract_end: de::Date; _: de::Date,
    "contract_months" => contract_months: de::Count; _: de::Count,
    "parcels_count" => parcels_count: de::Count; _: de::Count,
    "due_day" => due_day: de::Count; due_day: de::Count,
    "contact_name" => contact_name: de::Text; contact_name: de::TextRef,
    "contact_role" => contact_role: de::Text; _: de::TextChecked,
    "contact_email" => contact_email: de::Text; contact_email: de::TextRef,
    "deal_id" => deal_id: de::Text; _: de::TextChecked,
    "deal_name" => deal_name: de::Text; _: de::TextChecked,
    "deal_user_id" => deal_user_id: de::Text; _: de::TextChecked,
    "deal_crm_data" => deal_crm_data: de::Kept; _: de::Checked,
    "deal_pipeline" => deal_pipeline: de::Kept; _: de::Checked,
    "sign_initial" => sign_initial: de::Flag; _: de::Flag,
});

wire_object!(Account, "struct Account", others: extra, lean: Account(names, out), {
    "name" => name: de::Text; _: de::TextChecked,
    "document_number" => document_number: de::Text; _: de::TextChecked,
    "address1" => address1: de::Text; _: de::TextChecked,
    "address2" => address2: de::Text; _: de::TextChecked,
    "address_number" => address_number: de::Text; _: de::TextChecked,
    "district" => district: de::Text; _: de::TextChecked,
    "postal_code" => postal_code: de::Text; _: de::TextChecked,
    "city" => city: de::Text; _: de::TextChecked,
    "state" => state: de::Text; _: de::TextChecked,
    "country" => country: de::Text; _: de::TextChecked,
    "legal_code2" => legal_code2: de::Text; _: de::TextChecked,
    "phone1" => phone1: de::Text; _: de::TextChecked,
    "phone2" => phone2: de::Text; _: de::TextChecked,
    "financial_email" => financial_email: de::Text; _: de::TextChecked,
    "currency_iso_code" => currency_iso_code: de::Text; _: de::TextChecked,
});

wire_object!(DocumentOwner, "struct DocumentOwner", others: extra, lean: Owner(names, out), {
    "name" => name: de::Text; name: de::TextRef,
    "email" => email: de::Text; email: de::TextRef,
    "phone_number" => phone_number: de::Text; _: de::TextChecked,
    "whatsapp_number" => whatsapp_number: de::Text; _: de::TextChecked,
});

wire_object!(Customer, "struct Customer", others: extra, lean: Customer(names, out), {
    "id" => id: de::Id; _: de::Id,
    "code" => code: de::Text; _: de::TextChecked,
    "name" => name: de::Text; name: de::TextRef,
    "DBA" => dba: de::Text; dba: de::TextRef,
    "legal_code" => legal_code: de::Legal; legal_code: de::LegalRef,
    "customer_type" => customer_type: de::Kind; _: de::KindChecked,
    "legal_code2" => legal_code2: de::Text; legal_code2: de::TextRef,
    "postal_code" => postal_code: de::Text; postal_code: de::TextRef,
    "address" => address: de::Text; address: de::TextRef,
    "number" => number: de::Text; number: de::TextRef,
    "complement" => complement: de::Text; complement: de::TextRef,
    "district" => district: de::Text; district: de::TextRef,
    "city" => city: de::Text; city: de::TextRef,
    "state" => state: de::Text; state: de::TextRef,
    "phone1" => phone1: de::Text; phone1: de::TextRef,
    "phone2" => phone2: de::Text; phone2: de::TextRef,
    "whatsapp_number" => whatsapp_number: de::Text; whatsapp_number: de::TextRef,
    "contact_name" => contact_name: de::Text; contact_name: de::TextRef,
    "contact_role" => contact_role: de::Text; _: de::TextChecked,
    "contact_email" => contact_email: de::Text; contact_email: de::TextRef,
    "financial_email" => financial_email: de::Text; financial_email: de::TextRef,
    "external_uuid" => external_uuid: de::Reference; _: de::ReferenceRef,
    "id_crm_customer" => id_crm_customer: de::Text; _: de::TextChecked,
    "profession" => profession: de::Text; _: de::TextChecked,
    "civil_status" => civil_status: de::Text; _: de::TextChecked,
    "gender" => gender: de::Text; _: de::TextChecked,
    "nationality" => nationality: de::Text; _: de::TextChecked,
});

wire_object!(ProductItem, "struct ProductItem", others: extra, lean: Item(names, out), {
    "id" => id: de::Id; _: de::Id,
    "code" => code: de::Text; code: de::TextRef,
    "name" => name: de::Text; _: de::TextChecked,
    "quantity" => quantity: de::Dec; quantity: de::Dec,
    "unit_value" => unit_value: de::Dec; unit_value: de::Dec,
    "total_value" => total_value: de::Dec; total_value: de::Dec,
});

// ---------------------------------------------------------------------------------------------
// Other payloads
// ---------------------------------------------------------------------------------------------

/// One page of proposals: a customer's proposals (documented call, envelope `[inferred]`) or
/// the approved ones since a cursor (`[inferred]` call).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProposalPage {
    /// The proposals. Each is the flat `document` shape.
    #[serde(deserialize_with = "de::list")]
    pub proposals: Vec<Document>,
    /// The cursor for the next page, when there is one `[inferred]`.
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// Every other field, kept as received.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// One entry of a registration-data table (payment method, product, template, signer role,
/// seller): the field names inside are `[inferred]`; everything is kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RegistrationEntry {
    /// Id (text: some tables may use codes).
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Code, where the table has one.
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Name.
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// E-mail (sellers).
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Every other field, kept as received.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// `GET /api/v1/registration-data`: the lookup tables needed to create a document (table names
/// `[inferred]`; the help page lists them in Portuguese).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RegistrationData {
    /// Signature types (paper / digital).
    #[serde(deserialize_with = "de::list")]
    pub signature_types: Vec<RegistrationEntry>,
    /// Payment methods (Meio de Pagamento).
    #[serde(deserialize_with = "de::list")]
    pub payment_methods: Vec<RegistrationEntry>,
    /// Services and products.
    #[serde(deserialize_with = "de::list")]
    pub products: Vec<RegistrationEntry>,
    /// Document templates.
    #[serde(deserialize_with = "de::list")]
    pub templates: Vec<RegistrationEntry>,
    /// Signer roles (parte, testemunha, …).
    #[serde(deserialize_with = "de::list")]
    pub signer_roles: Vec<RegistrationEntry>,
    /// Salespeople.
    #[serde(deserialize_with = "de::list")]
    pub sellers: Vec<RegistrationEntry>,
    /// Every other table, kept as received.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// What DocSales answers to a create or update: the record's identifiers `[inferred]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CreatedRecord {
    /// Internal id.
    #[serde(deserialize_with = "de::id", skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// External uuid.
    #[serde(
        deserialize_with = "de::reference",
        skip_serializing_if = "Option::is_none"
    )]
    pub external_uuid: Option<String>,
    /// Code.
    #[serde(deserialize_with = "de::text", skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Status, for documents.
    #[serde(
        deserialize_with = "de::status",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<ProposalStatus>,
    /// Every other field, kept as received.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// `POST /api/v1/proposals` body `[inferred]` (path and body unconfirmed), wrapped as
/// `{"proposal": {...}}` in the style of the E-Sign API's `{"esign_document": {...}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NewDocument {
    /// Caller-set code, returned in webhooks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Customer reference (code, id or CNPJ).
    pub customer_id: String,
    /// Template id from the registration data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_id: Option<String>,
    /// E-mail of the DocSales user who owns the document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_email: Option<String>,
    /// Contract start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contract_start: Option<NaiveDate>,
    /// Billing day.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due_day: Option<u32>,
    /// Items.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub products: Vec<ProductItem>,
    /// `custom_*` fields.
    #[serde(flatten)]
    pub custom: BTreeMap<String, Value>,
}

/// A customer record SIG writes to DocSales (`PUT /api/v1/customers/{code}` `[inferred]`,
/// body `{"customer": {...}}`). Field names follow the webhook's `customer` object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CustomerRecord {
    /// Legal name.
    pub name: String,
    /// CPF/CNPJ, unmasked.
    pub legal_code: String,
    /// `company` or `person`.
    pub customer_type: String,
    /// Trade name.
    #[serde(rename = "DBA", skip_serializing_if = "Option::is_none")]
    pub dba: Option<String>,
    /// State registration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legal_code2: Option<String>,
    /// CEP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// Street.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// Complement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub complement: Option<String>,
    /// District.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub district: Option<String>,
    /// City.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// UF.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Main phone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone1: Option<String>,
    /// Contact person.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_name: Option<String>,
    /// Contact e-mail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_email: Option<String>,
}

impl CustomerRecord {
    /// The record for a validated sig-core customer.
    pub fn from_customer(c: &sig_core::Customer) -> Self {
        let a = &c.address;
        CustomerRecord {
            name: c.legal_name.to_string(),
            legal_code: c.tax_id.as_str().to_owned(),
            customer_type: match c.tax_id.kind() {
                sig_core::TaxIdKind::Cpf => "person".into(),
                sig_core::TaxIdKind::Cnpj => "company".into(),
            },
            dba: c.trade_name.as_ref().map(ToString::to_string),
            legal_code2: c.state_registration.as_ref().map(ToString::to_string),
            postal_code: Some(a.cep.as_str().to_owned()),
            address: Some(a.street.to_string()),
            number: Some(a.number.to_string()),
            complement: a.complement.as_ref().map(ToString::to_string),
            district: Some(a.district.to_string()),
            city: Some(a.city.to_string()),
            state: Some(a.uf.as_str().to_owned()),
            phone1: Some(c.main_phone().national()),
            contact_name: c.contact_name.as_ref().map(ToString::to_string),
            contact_email: Some(c.main_email().to_string()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

/// What went wrong reading a JSON body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DecodeErrorKind {
    /// Not JSON at all, or JSON with trailing garbage.
    Syntax,
    /// The body ended in the middle of a value.
    Eof,
    /// Well-formed JSON with a value of the wrong type or form at [`DecodeError::path`].
    Data,
}

/// A body that could not be read, naming the JSON path of the offending value (`.` for the
/// root). The message never quotes the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind:?} error at `{path}` (line {line}, column {column}): {message}")]
pub struct DecodeError {
    /// What kind of failure.
    pub kind: DecodeErrorKind,
    /// JSON path of the value (`customer.legal_code`, `products[1].unit_value`, `.`).
    pub path: String,
    /// What was wrong, without the value.
    pub message: String,
    /// Line in the body.
    pub line: usize,
    /// Column in the body.
    pub column: usize,
}

impl DecodeError {
    fn new(path: String, e: &serde_json::Error) -> Self {
        use serde_json::error::Category;
        let kind = match e.classify() {
            Category::Data => DecodeErrorKind::Data,
            Category::Eof => DecodeErrorKind::Eof,
            Category::Syntax | Category::Io => DecodeErrorKind::Syntax,
        };
        DecodeError {
            kind,
            path,
            message: redact_values(&strip_position(&e.to_string())),
            line: e.line(),
            column: e.column(),
        }
    }

    /// Whether the error names a field below the root (true for every rejection of
    /// well-formed JSON whose root is an object).
    pub fn names_field(&self) -> bool {
        self.kind == DecodeErrorKind::Data && self.path != "." && !self.path.is_empty()
    }
}

/// serde_json appends ` at line L column C`; we keep those apart.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

/// Remove quoted values serde puts in its messages (`invalid type: string "…", expected …`):
/// they may be personal data.
pub(crate) fn redact_values(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    let mut rest = msg;
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

/// Decode a JSON body into `T`, naming the JSON path of any offending value.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, DecodeError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        DecodeError::new(path, e.inner())
    })?;
    de.end().map_err(|e| DecodeError::new(".".into(), &e))?;
    Ok(value)
}

/// Decode a proposal document (webhook body or proposal detail).
///
/// The hot path of intake and fetch: the body is checked to be UTF-8 once (not string by
/// string) and read once, without recording where the reader is. Only a body that fails is
/// read again through [`decode`], which names the JSON path of the offending value; both
/// reads run the same code, so they fail alike.
pub fn decode_proposal(body: &[u8]) -> Result<ProposalDocument, DecodeError> {
    if let Ok(text) = std::str::from_utf8(body) {
        let mut de = serde_json::Deserializer::from_str(text);
        if let Ok(doc) =
            ProposalDocument::deserialize(&mut de).and_then(|doc| de.end().map(|()| doc))
        {
            return Ok(doc);
        }
    }
    decode(body)
}

/// Decode `T` from the object under `key` when the body is wrapped (`{"customer": {...}}`),
/// or from the whole body otherwise; paths are reported from the body's root.
pub(crate) fn decode_wrapped<T: DeserializeOwned>(
    body: &[u8],
    key: &str,
) -> Result<T, DecodeError> {
    let value: Value = decode(body)?;
    let (inner, prefix) = match value {
        Value::Object(mut map) if map.len() == 1 && map.contains_key(key) => {
            (map.remove(key).unwrap_or(Value::Null), format!("{key}."))
        }
        other => (other, String::new()),
    };
    serde_path_to_error::deserialize(inner).map_err(|e| {
        let inner_path = e.path().to_string();
        let path = if inner_path == "." {
            prefix.trim_end_matches('.').to_owned()
        } else {
            format!("{prefix}{inner_path}")
        };
        DecodeError {
            kind: DecodeErrorKind::Data,
            path: if path.is_empty() { ".".into() } else { path },
            message: redact_values(&e.inner().to_string()),
            line: 0,
            column: 0,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_removes_quoted_values() {
        let m = redact_values("invalid type: string \"123.456.789-09\", expected u32");
        assert_eq!(m, "invalid type: string \"…\", expected u32");
        let m = redact_values("unknown variant `secret`, expected one of `a`, `b`");
        assert!(!m.contains("secret"), "{m}");
    }

    #[test]
    fn decimals_never_go_through_f64_arithmetic() {
        assert_eq!(
            de::parse_decimal("199.90").unwrap(),
            Decimal::from_str_exact("199.90").unwrap()
        );
        assert!(de::parse_decimal("1.234,56").is_err());
        assert!(de::parse_decimal("12,5").is_err());
        assert!(de::parse_decimal("").is_err());
        assert!(de::parse_decimal("-").is_err());
        assert!(de::parse_decimal("1.").is_err());
        assert_eq!(
            de::parse_decimal("1.5e2").unwrap(),
            Decimal::from_str_exact("150").unwrap()
        );
    }

    #[test]
    fn proposal_refs_are_safe_path_segments() {
        assert_eq!(
            "44073".parse::<ProposalRef>().unwrap(),
            ProposalRef::Id(44073)
        );
        assert!(matches!(
            "0b6c-11ee_be56".parse::<ProposalRef>().unwrap(),
            ProposalRef::ExternalUuid(_)
        ));
        assert!("../customers".parse::<ProposalRef>().is_err());
        assert!("a/b".parse::<ProposalRef>().is_err());
        assert!("0".parse::<ProposalRef>().is_err());
        assert!("".parse::<ProposalRef>().is_err());
        assert!("99999999999999999999999".parse::<ProposalRef>().is_err());
    }

    #[test]
    fn wrapped_bodies_report_paths_from_the_root() {
        let e = decode_wrapped::<CreatedRecord>(br#"{"customer": {"id": "x"}}"#, "customer")
            .unwrap_err();
        assert_eq!(e.path, "customer.id");
        let ok: CreatedRecord = decode_wrapped(br#"{"id": 7}"#, "customer").unwrap();
        assert_eq!(ok.id, Some(7));
    }
}
