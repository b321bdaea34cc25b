//! Every response fixture under `tests/resources/` decodes into its wire type.
//!
//! A fixture is named `<action>.<case>.json`; the action picks the type. A fixture whose
//! action has no decoder here fails the test, so new fixtures cannot be skipped silently.

use std::fs;
use std::path::Path;

use serde::de::DeserializeOwned;
use sig_next::wire::{CustomerList, DeviceList, DidList, Envelope, StatusAnswer, WriteAnswer};

fn decode<T: DeserializeOwned>(name: &str, bytes: &[u8]) -> T {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de)
        .unwrap_or_else(|e| panic!("{name}: does not decode at `{}`: {e}", e.path()))
}

#[test]
fn every_fixture_decodes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/resources");
    let mut seen = 0;
    for entry in fs::read_dir(&dir).expect("tests/resources exists") {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".json") {
            continue;
        }
        let bytes = fs::read(&path).unwrap();
        let envelope: Envelope = decode(&name, &bytes);
        let action = name.split('.').next().unwrap();
        let refused = name.contains(".refused") || action == "error";
        assert_eq!(envelope.is_error(), refused, "{name}: envelope error flag");
        if refused {
            assert!(
                envelope.reason.as_deref().is_some_and(|r| !r.is_empty()),
                "{name}: a refusal carries its reason"
            );
            seen += 1;
            continue;
        }
        match action {
            "manageCustomers" | "manageDevices" | "manageDID" => {
                let w: WriteAnswer = decode(&name, &bytes);
                if !name.contains("no_id") {
                    assert!(
                        w.id.or(w.customer_id)
                            .or(w.device_id)
                            .or(w.did_id)
                            .is_some(),
                        "{name}: an id"
                    );
                }
            }
            "statusCustomer" => {
                let s: StatusAnswer = decode(&name, &bytes);
                assert_eq!(s.customer_id, 15);
                assert_eq!((s.old_status, s.new_status), (Some(1), Some(0)));
            }
            "listDevices" => {
                let l: DeviceList = decode(&name, &bytes);
                for c in &l.data {
                    for d in &c.data {
                        assert_eq!(d.id_cliente, Some(c.id_cliente), "{name}: nested ids agree");
                    }
                }
            }
            "listCustomers" => {
                let l: CustomerList = decode(&name, &bytes);
                assert!(l.data.iter().all(|c| c.id > 0), "{name}");
            }
            "listDIDs" => {
                let l: DidList = decode(&name, &bytes);
                assert!(l.data.iter().all(|d| d.id > 0), "{name}");
            }
            other => panic!("{name}: no decoder for action `{other}`; add one here"),
        }
        seen += 1;
    }
    assert!(seen >= 10, "expected the fixtures, found {seen}");
}

#[test]
fn documented_list_devices_example_keeps_string_numbers() {
    let bytes = include_bytes!("resources/listDevices.ok.json");
    let l: DeviceList = decode("listDevices.ok.json", bytes);
    assert_eq!(l.records, Some(1));
    let c = &l.data[0];
    assert_eq!(c.id_cliente, 3);
    assert_eq!(c.records, Some(2));
    assert_eq!(c.data[0].id, 1);
    assert_eq!(c.data[0].ddd_local.as_deref(), Some("5521"));
    assert_eq!(c.data[0].simultaneas, Some(2));
    assert_eq!(
        c.data[1].port.as_deref(),
        Some("5060"),
        "a number where a string is usual"
    );
    assert_eq!(c.data[1].saldo.as_deref(), Some("12.50000"));
}
