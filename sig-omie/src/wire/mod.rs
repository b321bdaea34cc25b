//! Omie's wire format: the JSON envelope, the shared value types (`"S"`/`"N"` flags,
//! `dd/mm/aaaa` dates, numbers that arrive as strings) and one module per service.
//!
//! Field names are Omie's, spelled exactly as Omie spells them (`codigo_cliente_omie`,
//! `cCodIntCtr`, `nCodCli`). Every optional field is skipped when `None`, so a request never
//! carries a key outside the schema (Omie rejects unknown tags). Responses ignore fields they
//! do not model, so a new Omie field does not break decoding.

pub mod clientes;
pub mod contratos;
pub mod servicos;

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// One Omie service endpoint (module + service, always with the trailing slash Omie needs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// `geral/clientes/`: customers.
    Clientes,
    /// `servicos/contrato/`: service contracts.
    Contrato,
    /// `servicos/contratofat/`: contract lifecycle (suspend, activate, cancel, reactivate).
    ContratoFat,
    /// `servicos/servico/`: the service catalog.
    Servico,
}

impl Service {
    /// The path relative to the API base URL (`geral/clientes/`).
    pub fn path(self) -> &'static str {
        match self {
            Service::Clientes => "geral/clientes/",
            Service::Contrato => "servicos/contrato/",
            Service::ContratoFat => "servicos/contratofat/",
            Service::Servico => "servicos/servico/",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.path())
    }
}

/// Omie's boolean: the strings `"S"` (sim) and `"N"` (não).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flag {
    /// `"S"`.
    S,
    /// `"N"`.
    N,
}

impl Flag {
    /// The wire letter.
    pub fn as_str(self) -> &'static str {
        match self {
            Flag::S => "S",
            Flag::N => "N",
        }
    }

    /// `true` for `"S"`.
    pub fn is_yes(self) -> bool {
        self == Flag::S
    }
}

impl From<bool> for Flag {
    fn from(b: bool) -> Self {
        if b { Flag::S } else { Flag::N }
    }
}

impl Serialize for Flag {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.trim() {
            "S" | "s" => Ok(Flag::S),
            "N" | "n" => Ok(Flag::N),
            other => Err(de::Error::invalid_value(
                de::Unexpected::Str(other),
                &"\"S\" or \"N\"",
            )),
        }
    }
}

/// A date in Omie's `dd/mm/aaaa` form (an ISO date is refused by Omie with `Client-103`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OmieDate(pub NaiveDate);

impl OmieDate {
    /// The date.
    pub fn date(self) -> NaiveDate {
        self.0
    }
}

impl From<NaiveDate> for OmieDate {
    fn from(d: NaiveDate) -> Self {
        OmieDate(d)
    }
}

impl fmt::Display for OmieDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%d/%m/%Y"))
    }
}

/// A text that is not a `dd/mm/aaaa` date.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a dd/mm/aaaa date")]
pub struct BadDate(String);

impl FromStr for OmieDate {
    type Err = BadDate;
    fn from_str(s: &str) -> Result<Self, BadDate> {
        let t = s.trim();
        let ok = t.len() == 10 && t.as_bytes()[2] == b'/' && t.as_bytes()[5] == b'/';
        if !ok {
            return Err(BadDate(t.to_owned()));
        }
        NaiveDate::parse_from_str(t, "%d/%m/%Y")
            .map(OmieDate)
            .map_err(|_| BadDate(t.to_owned()))
    }
}

impl Serialize for OmieDate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for OmieDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(de::Error::custom)
    }
}

/// Serde helpers for Omie's inconsistent scalars: numbers that come as strings (`"123"`),
/// strings that come as numbers, and empty strings that mean "absent".
pub mod lenient {
    use super::*;

    struct AnyScalar;

    /// A scalar as Omie sent it.
    enum Scalar {
        Int(i128),
        Float(f64),
        Str(String),
        Null,
    }

    impl<'de> Visitor<'de> for AnyScalar {
        type Value = Scalar;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a number, a numeric string or null")
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
            Ok(Scalar::Int(v.into()))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
            Ok(Scalar::Int(v.into()))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
            Ok(Scalar::Float(v))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
            Ok(Scalar::Str(v.to_owned()))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar, E> {
            Ok(Scalar::Str(v))
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
            Ok(Scalar::Str(v.to_string()))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
            Ok(Scalar::Null)
        }
        fn visit_none<E: de::Error>(self) -> Result<Scalar, E> {
            Ok(Scalar::Null)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Scalar, D::Error> {
            d.deserialize_any(AnyScalar)
        }
    }

    fn scalar<'de, D: Deserializer<'de>>(d: D) -> Result<Scalar, D::Error> {
        d.deserialize_any(AnyScalar)
    }

    /// An optional integer sent as a number or a numeric string; `""` and `null` are `None`.
    pub fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        match scalar(d)? {
            Scalar::Null => Ok(None),
            Scalar::Int(i) => i64::try_from(i)
                .map(Some)
                .map_err(|_| de::Error::custom(format!("integer {i} out of range"))),
            Scalar::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Some(f as i64)),
            Scalar::Float(f) => Err(de::Error::custom(format!("{f} is not an integer"))),
            Scalar::Str(s) if s.trim().is_empty() => Ok(None),
            Scalar::Str(s) => s
                .trim()
                .parse::<i64>()
                .map(Some)
                .map_err(|_| de::Error::custom(format!("`{s}` is not an integer"))),
        }
    }

    /// A required integer sent as a number or a numeric string.
    pub fn i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        opt_i64(d)?.ok_or_else(|| de::Error::custom("an integer is required here"))
    }

    /// An optional small unsigned integer (days, counts, pages) sent as a number or string.
    pub fn opt_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        match opt_i64(d)? {
            None => Ok(None),
            Some(i) => u32::try_from(i)
                .map(Some)
                .map_err(|_| de::Error::custom(format!("{i} is not a non-negative count"))),
        }
    }

    /// A required count (page numbers, totals) sent as a number or a string; absent is 0.
    pub fn u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        Ok(opt_u32(d)?.unwrap_or(0))
    }

    /// An optional text that may come as a number (`"cep": 1310100`); `""` stays `Some("")`
    /// only when it is a string, `null` is `None`.
    pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        match scalar(d)? {
            Scalar::Null => Ok(None),
            Scalar::Int(i) => Ok(Some(i.to_string())),
            Scalar::Float(f) => Ok(Some(f.to_string())),
            Scalar::Str(s) => Ok(Some(s)),
        }
    }

    /// A required text that may come as a number; absent or `null` is `""`.
    pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        Ok(opt_string(d)?.unwrap_or_default())
    }

    /// An optional decimal sent as a number or a string (`"199.90"`, `"199,90"`).
    pub fn opt_decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
        let text = match scalar(d)? {
            Scalar::Null => return Ok(None),
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => f.to_string(),
            Scalar::Str(s) if s.trim().is_empty() => return Ok(None),
            Scalar::Str(s) => s.trim().replace(',', "."),
        };
        Decimal::from_str(&text)
            .or_else(|_| Decimal::from_scientific(&text))
            .map(Some)
            .map_err(|_| de::Error::custom(format!("`{text}` is not a decimal number")))
    }

    /// An optional `dd/mm/aaaa` date; `""` and `null` are `None`.
    pub fn opt_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<OmieDate>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(s) if s.trim().is_empty() => Ok(None),
            Some(s) => s.parse().map(Some).map_err(de::Error::custom),
        }
    }

    /// An optional flag; `""` and `null` are `None`.
    pub fn opt_flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Flag>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(s) if s.trim().is_empty() => Ok(None),
            Some(s) => match s.trim() {
                "S" | "s" => Ok(Some(Flag::S)),
                "N" | "n" => Ok(Some(Flag::N)),
                other => Err(de::Error::invalid_value(
                    de::Unexpected::Str(other),
                    &"\"S\" or \"N\"",
                )),
            },
        }
    }

    /// Writes an optional decimal as a JSON number (Omie's `valorUnit`, `quant`).
    pub fn ser_opt_decimal<S: Serializer>(v: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            None => s.serialize_none(),
            Some(d) => match d.to_f64() {
                Some(f) => s.serialize_f64(f),
                None => Err(serde::ser::Error::custom("decimal out of range")),
            },
        }
    }
}

/// The JSON envelope of every call: `{"call", "app_key", "app_secret", "param": [ {...} ]}`.
/// Built only inside the client, the one place that exposes the credentials.
#[derive(Serialize)]
pub(crate) struct Envelope<'a, P: Serialize> {
    pub call: &'a str,
    pub app_key: &'a str,
    pub app_secret: &'a str,
    pub param: [&'a P; 1],
}

/// The body of an Omie fault: `{"faultstring": "...", "faultcode": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultBody {
    /// Omie's (Portuguese) message.
    #[serde(default, deserialize_with = "lenient::string")]
    pub faultstring: String,
    /// `SOAP-ENV:Client-102`, `SOAP-ENV:Server`, `MISUSE_API_PROCESS`, …
    #[serde(default, deserialize_with = "lenient::string")]
    pub faultcode: String,
}

/// Only the fault fields of any body: decoding this skips everything else cheaply.
#[derive(Deserialize)]
pub(crate) struct FaultProbe {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub faultstring: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub faultcode: Option<String>,
}

/// One page of a List call, whatever the service calls its page fields.
pub trait Page: serde::de::DeserializeOwned + Send + 'static {
    /// The record type of the page.
    type Item: Send + 'static;
    /// The page number this is (1-based).
    fn page(&self) -> u32;
    /// How many pages there are in all.
    fn total_pages(&self) -> u32;
    /// The records.
    fn into_items(self) -> Vec<Self::Item>;
}

/// A List request, whatever the service calls its page fields.
pub trait PageRequest: Serialize + Clone + Send + Sync + 'static {
    /// The page this request answers with.
    type Page: Page;
    /// The service.
    const SERVICE: Service;
    /// The method (`ListarClientes`).
    const METHOD: &'static str;
    /// Ask for this page (1-based) with this many records per page.
    fn set_page(&mut self, page: u32, per_page: u32);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flags_and_dates_round_trip() {
        assert_eq!(serde_json::to_value(Flag::S).unwrap(), json!("S"));
        assert_eq!(serde_json::from_value::<Flag>(json!("N")).unwrap(), Flag::N);
        assert!(serde_json::from_value::<Flag>(json!("X")).is_err());
        let d = OmieDate(NaiveDate::from_ymd_opt(2026, 3, 5).unwrap());
        assert_eq!(serde_json::to_value(d).unwrap(), json!("05/03/2026"));
        assert_eq!(
            serde_json::from_value::<OmieDate>(json!("05/03/2026")).unwrap(),
            d
        );
        let err = serde_json::from_value::<OmieDate>(json!("2026-03-05")).unwrap_err();
        assert!(err.to_string().contains("dd/mm/aaaa"), "{err}");
        assert!("31/02/2026".parse::<OmieDate>().is_err());
    }

    #[derive(Deserialize)]
    struct Nums {
        #[serde(default, deserialize_with = "lenient::opt_i64")]
        a: Option<i64>,
        #[serde(default, deserialize_with = "lenient::opt_decimal")]
        b: Option<Decimal>,
        #[serde(default, deserialize_with = "lenient::opt_string")]
        c: Option<String>,
    }

    #[test]
    fn numbers_tolerate_strings() {
        let n: Nums =
            serde_json::from_value(json!({"a": "42", "b": "199,90", "c": 1310100})).unwrap();
        assert_eq!(n.a, Some(42));
        assert_eq!(n.b, Some(Decimal::new(19990, 2)));
        assert_eq!(n.c.as_deref(), Some("1310100"));
        let n: Nums = serde_json::from_value(json!({"a": 42, "b": 10.5, "c": null})).unwrap();
        assert_eq!(n.a, Some(42));
        assert_eq!(n.b, Some(Decimal::new(105, 1)));
        assert_eq!(n.c, None);
        let n: Nums = serde_json::from_value(json!({"a": ""})).unwrap();
        assert_eq!(n.a, None);
        assert!(serde_json::from_value::<Nums>(json!({"a": "4x"})).is_err());
    }
}
