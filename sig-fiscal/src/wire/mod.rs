//! Wire formats, one module per provider schema, and the lenient field types they share.
//!
//! Every wire struct is `#[serde(default)]` and every field optional: the providers state
//! that any field but the key may be blank, and they differ in typing (`capital_social` is a
//! float in Minha Receita, a string in ReceitaWS). Empty strings mean absent ([`Text`]).
//! Each module turns an HTTP answer (status and body) into a domain [`Lookup`] or a
//! [`ProviderError`] with `interpret`; nothing outside this module sees a wire field name.
//!
//! [`Lookup`]: crate::Lookup

pub(crate) mod ceps;
pub(crate) mod cnpja;
pub(crate) mod opendata;
pub(crate) mod receitaws;

use std::str::FromStr;
use std::time::Duration;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use sig_core::{Cep, Email, Phone, Uf};

use crate::error::{ProviderError, ProviderErrorKind};
use crate::model::Provider;

/// A text field: a string (trimmed; blank → absent), a number or a bool (as text), or null.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Text(pub(crate) Option<String>);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Text(match Value::deserialize(d)? {
            Value::String(s) => {
                let t = s.trim();
                (!t.is_empty()).then(|| t.to_owned())
            }
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Null | Value::Array(_) | Value::Object(_) => None,
        }))
    }
}

impl Text {
    pub(crate) fn get(&self) -> Option<&str> {
        self.0.as_deref()
    }

    pub(crate) fn take(&self) -> Option<String> {
        self.0.clone()
    }
}

/// An integer field given as a number or as a numeric string; anything else is absent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Int(pub(crate) Option<i64>);

impl<'de> Deserialize<'de> for Int {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Int(match Value::deserialize(d)? {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }))
    }
}

/// A decimal given as a JSON number (exact digits as written) or a string (`"1000.00"`,
/// `"1.000,00"` is not accepted); anything else is absent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Dec(pub(crate) Option<Decimal>);

impl<'de> Deserialize<'de> for Dec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = match Value::deserialize(d)? {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.trim().to_owned(),
            _ => return Ok(Dec(None)),
        };
        let parsed = Decimal::from_str(&text)
            .or_else(|_| Decimal::from_scientific(&text))
            .ok()
            .map(|d| d.normalize());
        Ok(Dec(parsed))
    }
}

/// A flag given as a bool or as the strings `"true"`/`"false"` (ViaCEP's `erro`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Flag(pub(crate) bool);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Flag(match Value::deserialize(d)? {
            Value::Bool(b) => b,
            Value::String(s) => s.trim().eq_ignore_ascii_case("true"),
            Value::Number(n) => n.as_i64() == Some(1),
            _ => false,
        }))
    }
}

/// A list that may come as null.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Many<T>(pub(crate) Vec<T>);

impl<T> Default for Many<T> {
    fn default() -> Self {
        Many(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Many<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Many(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default()))
    }
}

/// A date as `2015-11-24` (ISO, with or without a time) or `24/11/2015`.
pub(crate) fn date(text: &Text) -> Option<NaiveDate> {
    let t = text.get()?;
    let head = t.get(..10).unwrap_or(t);
    NaiveDate::parse_from_str(head, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(head, "%d/%m/%Y"))
        .ok()
}

pub(crate) fn uf(text: &Text) -> Option<Uf> {
    text.get().and_then(|t| t.parse().ok())
}

pub(crate) fn cep(text: &Text) -> Option<Cep> {
    text.get().and_then(|t| t.parse().ok())
}

pub(crate) fn email(text: &Text) -> Option<Email> {
    text.get().and_then(|t| t.parse().ok())
}

/// Phones that parse as Brazilian numbers; the others are dropped (with a debug log that
/// does not show them: they are personal data).
pub(crate) fn phones<'a>(provider: Provider, raw: impl IntoIterator<Item = &'a str>) -> Vec<Phone> {
    let mut out: Vec<Phone> = Vec::new();
    for r in raw {
        match r.parse::<Phone>() {
            Ok(p) if !out.contains(&p) => out.push(p),
            Ok(_) => {}
            Err(e) => {
                tracing::debug!(%provider, code = e.code.as_str(), "dropped an unreadable phone")
            }
        }
    }
    out
}

/// A CNAE code with punctuation removed; `None` for blanks and the all-zero placeholders
/// providers use for "none" (`0`, `00.00-0-00`).
pub(crate) fn cnae_code(text: &Text) -> Option<String> {
    let digits: String = text.get()?.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() || digits.chars().all(|c| c == '0') {
        None
    } else {
        Some(format!("{digits:0>7}"))
    }
}

/// Decodes a body, naming the JSON path of the first bad value.
pub(crate) fn decode<T: DeserializeOwned>(
    provider: Provider,
    status: u16,
    body: &[u8],
) -> Result<T, ProviderError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        ProviderError::new(
            provider,
            ProviderErrorKind::Malformed,
            Some(status),
            format!("unreadable answer at `{path}`: {}", e.into_inner()),
        )
    })
}

/// The common answers to statuses every provider shares: 429, 401/403, 5xx, others.
pub(crate) fn generic_failure(
    provider: Provider,
    status: u16,
    message: Option<String>,
    retry_after: Option<Duration>,
) -> ProviderError {
    let (kind, default) = match status {
        429 => (ProviderErrorKind::RateLimited, "too many requests"),
        401 | 403 => (ProviderErrorKind::Unauthorized, "credentials refused"),
        400 | 422 => (ProviderErrorKind::Rejected, "input refused"),
        500..=599 => (ProviderErrorKind::Unavailable, "server error"),
        _ => (ProviderErrorKind::Malformed, "unexpected status"),
    };
    ProviderError::new(
        provider,
        kind,
        Some(status),
        message.unwrap_or_else(|| default.to_owned()),
    )
    .with_retry_after(retry_after)
}

/// The `message` of a JSON error body, if the body is one.
pub(crate) fn error_message(body: &[u8]) -> Option<String> {
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct ErrorBody {
        message: Text,
    }
    serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .and_then(|b| b.message.take())
}

/// Joins a street type and a street (`RUA` + `DAS FLORES`) unless the street already
/// starts with the type.
pub(crate) fn join_street(kind: Option<String>, street: Option<String>) -> Option<String> {
    match (kind, street) {
        (Some(k), Some(s)) if !s.to_uppercase().starts_with(&k.to_uppercase()) => {
            Some(format!("{k} {s}"))
        }
        (_, s) => s,
    }
}
