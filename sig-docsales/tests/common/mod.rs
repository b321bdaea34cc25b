//! Shared helpers for the integration tests.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::PathBuf;

use sig_core::config::Catalog;

/// The fixtures folder.
pub fn resources() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/resources")
}

/// One fixture's bytes.
pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(resources().join(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// A catalog with the plans the fixtures sell.
pub fn catalog() -> Catalog {
    serde_json::from_value(serde_json::json!({
        "fields": {"area_code": "custom_ddd", "dids": "custom_dids"},
        "plans": [
            {"id": "pbx-10", "name": "PABX 10", "products": ["PBX-10"], "lines_per_unit": 10,
             "channels_per_unit": 4, "monthly_price": "499.90", "next_rate_id": 1,
             "omie": {"service_code": 1001}},
            {"id": "trunk-sip", "name": "Tronco SIP", "products": ["TRUNK-SIP"],
             "lines_per_unit": 1, "channels_per_unit": 10, "next_rate_id": 2,
             "omie": {"service_code": 1002}},
            {"id": "ramal-1", "name": "Ramal", "products": ["RAMAL-1"], "lines_per_unit": 1,
             "channels_per_unit": 1, "monthly_price": "39.90", "next_rate_id": 3,
             "omie": {"service_code": 1003}}
        ]
    }))
    .expect("test catalog")
}
