//! Helpers shared by the integration tests: credentials, a fast client, domain values.
#![allow(dead_code)]

use std::time::Duration;

use secrecy::SecretString;
use serde_json::{Value, json};
use sig_core::config::OmieContractDefaults;
use sig_core::domain::{Customer, ServiceOrder};
use sig_omie::{LimitsConfig, OmieClient, RetryConfig};

/// Test credentials: distinctive so a leak is easy to spot.
pub const KEY: &str = "4747474747KEYzz";
/// Test secret.
pub const SECRET: &str = "s3cr3t-0f-the-omie-app-9f8e7d";

/// A client for `base_url` with windows and waits scaled by `scale`.
pub fn client(base_url: &str, scale: f64) -> OmieClient {
    OmieClient::builder(SecretString::from(KEY), SecretString::from(SECRET))
        .account_id("test")
        .base_url(base_url)
        .attempt_timeout(Duration::from_secs(2))
        .deadline(Duration::from_secs(20))
        .limits(LimitsConfig::scaled(scale))
        .retry(RetryConfig::scaled(scale))
        .build()
        .expect("client builds")
}

/// The envelope Omie expects for `call` with `param`.
pub fn envelope(call: &str, param: Value) -> Value {
    json!({"call": call, "app_key": KEY, "app_secret": SECRET, "param": [param]})
}

/// A valid CPF from a seed (check digits computed).
pub fn cpf(seed: u64) -> String {
    let base = format!("{:09}", (seed % 999_999_998) + 1);
    let mut d: Vec<u32> = base.chars().map(|c| c.to_digit(10).unwrap()).collect();
    for len in [9usize, 10] {
        let sum: u32 = d
            .iter()
            .take(len)
            .enumerate()
            .map(|(i, x)| x * (len as u32 + 1 - i as u32))
            .sum();
        let r = sum % 11;
        d.push(if r < 2 { 0 } else { 11 - r });
    }
    d.iter().map(|x| x.to_string()).collect()
}

/// A domain customer with this CPF.
pub fn customer(doc: &str, name: &str) -> Customer {
    serde_json::from_value(json!({
        "tax_id": doc,
        "legal_name": name,
        "trade_name": "Acme",
        "contact_name": "Maria Souza",
        "emails": ["financeiro@example.com.br"],
        "phones": ["+551132145678", "+5511987654321"],
        "address": {
            "street": "Av Paulista", "number": "1000", "complement": "Conj 12",
            "district": "Bela Vista", "city": "São Paulo", "uf": "SP", "cep": "01310100"
        }
    }))
    .expect("valid customer")
}

/// A monthly order.
pub fn order() -> ServiceOrder {
    serde_json::from_value(json!({
        "plan": "sip-10",
        "quantity": 1,
        "sip_lines": 2,
        "channels": 10,
        "area_code": 11,
        "dids": [],
        "monthly_value": "199.90",
        "start_date": "2026-03-01",
        "billing_day": 10
    }))
    .expect("valid order")
}

/// Contract terms for the plan.
pub fn terms() -> OmieContractDefaults {
    OmieContractDefaults {
        service_code: 9001,
        category: Some("1.01.02".into()),
        bank_account: None,
        municipal_service_code: None,
        lc116_code: None,
        due_days: 5,
    }
}
