//! NextBilling's wire format: request bodies, response records and the lenient decoders its
//! responses need (ids and flags come back as strings: `"id":"1"`).
//!
//! Field names are NextBilling's own (`reference/nextbilling.md` §4). Only this module and the
//! sandbox know them; the rest of SIG sees [`sig_core`] types.
//!
//! Request bodies carry personal data (CPF/CNPJ, e-mail, phone, address) and line passwords,
//! so their `Debug` shows only the ids SIG keys them by.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

// ---------------------------------------------------------------------------------------------
// Lenient numbers
// ---------------------------------------------------------------------------------------------

struct LenientI64;

impl<'de> Visitor<'de> for LenientI64 {
    type Value = Option<i64>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an integer, a string holding an integer, an empty string or null")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        i64::try_from(v)
            .map(Some)
            .map_err(|_| E::custom(format!("integer {v} out of range")))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        if v.fract() == 0.0 && v.abs() < 9.0e15 {
            // An integral float (`1.0`): the value is exact below 2^53.
            #[allow(clippy::cast_possible_truncation)]
            Ok(Some(v as i64))
        } else {
            Err(E::custom(format!("expected an integer, got {v}")))
        }
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(i64::from(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        let t = v.trim_matches(|c: char| c.is_ascii_whitespace());
        if t.is_empty() {
            return Ok(None);
        }
        if let Ok(n) = t.parse::<i64>() {
            return Ok(Some(n));
        }
        match t.parse::<f64>() {
            Ok(f) => self.visit_f64(f),
            Err(_) => Err(E::custom(format!(
                "expected an integer, got the string {t:?}"
            ))),
        }
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(LenientI64)
    }
}

/// An integer that may come as a number or a string (`1`, `"1"`); `null` and `""` are absent.
pub fn lenient_opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    d.deserialize_any(LenientI64)
}

/// An integer that may come as a number or a string; absent is an error.
pub fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    lenient_opt_i64(d)?.ok_or_else(|| de::Error::custom("expected an integer, got nothing"))
}

/// A text field that may come as a string or a number (`"5521"`, `5521`); `null` is absent.
pub fn lenient_opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(match v {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        Some(serde_json::Value::Bool(b)) => Some(u8::from(b).to_string()),
        Some(other) => {
            return Err(de::Error::custom(format!(
                "expected a string or a number, got {}",
                json_type(&other)
            )));
        }
    })
}

fn json_type(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

fn expose<S: Serializer>(secret: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(secret.expose_secret())
}

// ---------------------------------------------------------------------------------------------
// Envelope
// ---------------------------------------------------------------------------------------------

/// The envelope every NextBilling answer carries: `{"error": 0|1, "reason": "OK"|<message>}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Envelope {
    /// 0 on success, 1 on failure (may come as a string).
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    pub error: Option<i64>,
    /// `OK` or the failure's text.
    #[serde(default, deserialize_with = "lenient_opt_string")]
    pub reason: Option<String>,
}

impl Envelope {
    /// Whether the envelope reports a failure (`error` present and not 0).
    pub fn is_error(&self) -> bool {
        self.error.is_some_and(|e| e != 0)
    }
}

// ---------------------------------------------------------------------------------------------
// Customers (Assinantes)
// ---------------------------------------------------------------------------------------------

/// `PUT /api/manageCustomers/…` body: create an Assinante, or alter one when `id` is set
/// (altering through the same call is `[inferred]`).
#[derive(Clone, Default, PartialEq, Eq, Serialize)]
pub struct CustomerBody {
    /// NextBilling's id of the customer to alter; absent to create. `[inferred]`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// Reseller the customer belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_hie: Option<i64>,
    /// Origin id: SIG's customer id, 32 lower-case hex digits (the searchable key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_origem: Option<String>,
    /// Trade name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nome_fantasia: Option<String>,
    /// Legal name.
    pub razao_social: String,
    /// CPF or CNPJ, unmasked.
    pub cpf: String,
    /// State registration (IE) or RG.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rg: Option<String>,
    /// CEP, 8 digits.
    pub cep: String,
    /// Street and number.
    pub endereco: String,
    /// Address complement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub complemento: Option<String>,
    /// District.
    pub bairro: String,
    /// City.
    pub cidade: String,
    /// State (UF), two letters.
    pub uf: String,
    /// Main phone, national digits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub telefone: Option<String>,
    /// Second phone, national digits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub telefone2: Option<String>,
    /// A mobile phone, national digits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub celular: Option<String>,
    /// Contact person.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contato: Option<String>,
    /// Main e-mail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Second e-mail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email2: Option<String>,
    /// Billing e-mail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_financeiro: Option<String>,
    /// Feature flag: may have SIP lines (ramais).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tem_ramal: Option<u8>,
    /// Feature flag: may have DIDs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tem_did: Option<u8>,
}

impl fmt::Debug for CustomerBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Personal data stays out of Debug (LGPD).
        f.debug_struct("CustomerBody")
            .field("id", &self.id)
            .field("id_origem", &self.id_origem)
            .finish_non_exhaustive()
    }
}

/// `POST /api/statusCustomer/…` body: `{"id":1,"status":0}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StatusBody {
    /// NextBilling's customer id.
    pub id: i64,
    /// 1 ATIVO, 0 INATIVO.
    pub status: u8,
}

/// What a write answers beyond the envelope. The id of the new record is not documented
/// (open question 1): `id` or the call's own name (`customer_id`, `device_id`, `did_id`) are
/// accepted, as numbers or strings. `[inferred]`
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct WriteAnswer {
    /// The record's id.
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    pub id: Option<i64>,
    /// The customer's id (`manageCustomers`).
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    pub customer_id: Option<i64>,
    /// The device's id (`manageDevices`).
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    pub device_id: Option<i64>,
    /// The DID's id (`manageDID`).
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    pub did_id: Option<i64>,
}

/// `statusCustomer`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StatusAnswer {
    /// The customer's id.
    #[serde(deserialize_with = "lenient_i64")]
    pub customer_id: i64,
    /// The customer's name.
    #[serde(default, deserialize_with = "lenient_opt_string")]
    pub customer_name: Option<String>,
    /// Status before (0 INATIVO, 1 ATIVO).
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    pub old_status: Option<i64>,
    /// Status after.
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    pub new_status: Option<i64>,
}

/// `GET /api/listCustomers/…?id_origem=…` answer. `[inferred]`: shaped like `listDevices`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CustomerList {
    /// How many records.
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    pub records: Option<i64>,
    /// The customers.
    #[serde(default)]
    pub data: Vec<CustomerRecord>,
}

/// A customer as `listCustomers` returns it. `[inferred]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CustomerRecord {
    /// NextBilling's customer id (`id` or `id_cliente`).
    #[serde(alias = "id_cliente", deserialize_with = "lenient_i64")]
    pub id: i64,
    /// The origin id SIG wrote.
    #[serde(default, deserialize_with = "lenient_opt_string")]
    pub id_origem: Option<String>,
    /// Status (0 INATIVO, 1 ATIVO).
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    pub status: Option<i64>,
}

// ---------------------------------------------------------------------------------------------
// Devices (Linhas IP / ramais)
// ---------------------------------------------------------------------------------------------

/// `PUT /api/manageDevices/…/1` body: a SIP line (Linha IP) authenticated by user and password.
#[derive(Clone, Serialize)]
pub struct DeviceBody {
    /// The customer it belongs to (omitted with an Assinante-level token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<i64>,
    /// Rate plan; 0 = the subscriber's plan.
    pub rate_id: i64,
    /// Caller id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callerid: Option<String>,
    /// Simultaneous calls.
    pub simultaneas: u32,
    /// 1 active.
    pub status: u8,
    /// 0 = user + password.
    pub auth: u8,
    /// SIP user: derived from SIG's line id (the searchable key).
    pub username: String,
    /// SIP password (secret).
    #[serde(serialize_with = "expose")]
    pub password: SecretString,
    /// `SIP`.
    pub tech: String,
    /// 0 = Linha IP / Ramal.
    pub funcionalidade: u8,
    /// Local area, country code + DDD (`5521`), as `listDevices` shows it. `[inferred]` as a
    /// request field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ddd_local: Option<String>,
}

impl fmt::Debug for DeviceBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceBody")
            .field("customer_id", &self.customer_id)
            .field("rate_id", &self.rate_id)
            .field("simultaneas", &self.simultaneas)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// `listDevices`' answer: customers, each with its devices.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DeviceList {
    /// How many customers.
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    pub records: Option<i64>,
    /// One entry per customer.
    #[serde(default)]
    pub data: Vec<CustomerDevices>,
}

/// One customer's devices in [`DeviceList`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CustomerDevices {
    /// The customer's id (an int here, a string inside devices).
    #[serde(deserialize_with = "lenient_i64")]
    pub id_cliente: i64,
    /// The customer's trade name.
    #[serde(default, deserialize_with = "lenient_opt_string")]
    pub nome_fantasia: Option<String>,
    /// How many devices.
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    pub records: Option<i64>,
    /// The devices.
    #[serde(default)]
    pub data: Vec<Device>,
}

/// A SIP device as `listDevices` returns it. Its password, if sent, is not kept.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Device {
    /// The device's id.
    #[serde(deserialize_with = "lenient_i64")]
    pub id: i64,
    /// Its customer.
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    pub id_cliente: Option<i64>,
    /// Its rate plan.
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    pub id_plano: Option<i64>,
    /// Tariff type.
    #[serde(default, deserialize_with = "lenient_opt_string")]
    pub tipo_tar: Option<String>,
    /// Local area (`5521`).
    #[serde(default, deserialize_with = "lenient_opt_string")]
    pub ddd_local: Option<String>,
    /// `SIP`.
    #[serde(default, deserialize_with = "lenient_opt_string")]
    pub tech: Option<String>,
    /// SIP user.
    #[serde(default, deserialize_with = "lenient_opt_string")]
    pub username: Option<String>,
    /// `dynamic` or IPs.
    #[serde(default, deserialize_with = "lenient_opt_string")]
    pub domain: Option<String>,
    /// SIP port.
    #[serde(default, deserialize_with = "lenient_opt_string")]
    pub port: Option<String>,
    /// NAT mode.
    #[serde(default, deserialize_with = "lenient_opt_string")]
    pub nat: Option<String>,
    /// Balance, as NextBilling prints it (`"0.00000"`).
    #[serde(default, deserialize_with = "lenient_opt_string")]
    pub saldo: Option<String>,
    /// Simultaneous calls.
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    pub simultaneas: Option<i64>,
}

// ---------------------------------------------------------------------------------------------
// DIDs
// ---------------------------------------------------------------------------------------------

/// `did_type` 1: the DID calls a Linha IP.
pub const DID_TYPE_LINE: u8 = 1;

/// `PUT /api/manageDID/…` body: create a DID, or alter one when `id` is set (`[inferred]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DidBody {
    /// NextBilling's id of the DID to alter; absent to create. `[inferred]`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// Owner; 0 = free for sale.
    pub customer_id: i64,
    /// Free text: carries SIG's DID id (the searchable key).
    pub description: String,
    /// Rate plan.
    pub rate_id: i64,
    /// The number, country code + DDD + subscriber (`5511987654321`). `[inferred]` format.
    pub did_number: String,
    /// How it routes (1 = call a Linha IP).
    pub did_type: u8,
    /// The device it rings.
    pub device_id: i64,
}

/// `GET /api/listDIDs/…/<customer_id>` answer. `[inferred]`: shaped like `listDevices`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DidList {
    /// How many records.
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    pub records: Option<i64>,
    /// The DIDs.
    #[serde(default)]
    pub data: Vec<DidRecord>,
}

/// A DID as `listDIDs` returns it. `[inferred]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DidRecord {
    /// The DID's id (`id` or `did_id`).
    #[serde(alias = "did_id", deserialize_with = "lenient_i64")]
    pub id: i64,
    /// Owner.
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    pub customer_id: Option<i64>,
    /// The number.
    #[serde(default, deserialize_with = "lenient_opt_string")]
    pub did_number: Option<String>,
    /// Free text (SIG's DID id).
    #[serde(default, deserialize_with = "lenient_opt_string")]
    pub description: Option<String>,
    /// Routing type.
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    pub did_type: Option<i64>,
    /// The device it rings.
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    pub device_id: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct N {
        #[serde(default, deserialize_with = "lenient_opt_i64")]
        n: Option<i64>,
    }

    fn n(json: &str) -> Result<Option<i64>, serde_json::Error> {
        serde_json::from_str::<N>(json).map(|x| x.n)
    }

    #[test]
    fn lenient_numbers_accept_strings_and_numbers() {
        assert_eq!(n(r#"{"n": 7}"#).unwrap(), Some(7));
        assert_eq!(n(r#"{"n": "7"}"#).unwrap(), Some(7));
        assert_eq!(n(r#"{"n": " 42 "}"#).unwrap(), Some(42));
        assert_eq!(n(r#"{"n": "3.0"}"#).unwrap(), Some(3));
        assert_eq!(n(r#"{"n": ""}"#).unwrap(), None);
        assert_eq!(n(r#"{"n": null}"#).unwrap(), None);
        assert_eq!(n(r#"{}"#).unwrap(), None);
        assert!(n(r#"{"n": "abc"}"#).is_err());
        assert!(n(r#"{"n": 1.5}"#).is_err());
        assert!(n(r#"{"n": [1]}"#).is_err());
    }

    #[test]
    fn envelope_error_flag_may_be_a_string() {
        let e: Envelope = serde_json::from_str(r#"{"error":"1","reason":"Falha"}"#).unwrap();
        assert!(e.is_error());
        let ok: Envelope = serde_json::from_str(r#"{"error":0,"reason":"OK"}"#).unwrap();
        assert!(!ok.is_error());
    }

    #[test]
    fn device_body_debug_hides_the_password() {
        let body = DeviceBody {
            customer_id: Some(1),
            rate_id: 0,
            callerid: None,
            simultaneas: 2,
            status: 1,
            auth: 0,
            username: "sigabc".into(),
            password: SecretString::from("pa55-w0rd-xyz"),
            tech: "SIP".into(),
            funcionalidade: 0,
            ddd_local: None,
        };
        let debug = format!("{body:?}");
        assert!(!debug.contains("pa55-w0rd-xyz"), "{debug}");
        let json = serde_json::to_string(&body).unwrap();
        assert!(json.contains(r#""password":"pa55-w0rd-xyz""#), "{json}");
    }
}
