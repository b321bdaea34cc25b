//! `map_proposal`: a DocSales proposal document → SIG's validated domain, with the code the
//! pipeline runs.
//!
//! 1. **Decode** the document with sig-docsales' wire types (`sig_docsales::wire::decode_proposal`):
//!    the same leniency and the same refusals as a webhook body or a fetched proposal;
//! 2. **map** it to sig-core's `RawProposal` through the catalog's custom field names
//!    (`sig_docsales::mapping::map_proposal`);
//! 3. **validate** it with sig-core against the catalog (`sig_docsales::mapping::validate`:
//!    `RawProposal::validate` plus the mapping's own problems, each traced to its DocSales
//!    field).
//!
//! The result is the domain proposal in its serde form (the form the store keeps): `id`,
//! `code`, `status`, `customer`, `orders` (the service orders), `seller`, `created_at`,
//! `updated_at`. Any problem raises `ValidationError`, every problem at once, each with its
//! domain `field` and — where the mapping knows it — the DocSales `source_field`.
//!
//! The pipeline also refuses to integrate a proposal that is not `approved`; that is a decision
//! about starting an integration, not about the data, so `map_proposal` maps any status and
//! returns it.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};
use sig_core::config::Catalog;
use sig_core::ports::{SourceKey, SourcedProposal};
use sig_core::{Code, Problem, Problems};
use sig_docsales::wire::{DecodeError, decode_proposal};

use crate::detach::enter_native;
use crate::errors::Error;
use crate::json::{to_json, to_py};
use crate::sigtoml::ConfigSource;

/// A document that does not decode, as the one problem it is. A value of the wrong type or
/// form is at a JSON path that is a DocSales field, so the path is both the `field` and the
/// `source_field`; text that is not JSON is a problem of the whole `(document)`.
fn decode_problem(e: DecodeError) -> Problems {
    let (path, message) = if e.names_field() {
        (e.path, e.message)
    } else {
        (
            "(document)".to_owned(),
            format!("{} (line {}, column {})", e.message, e.line, e.column),
        )
    };
    let mut p = Problems::new();
    p.push(Problem {
        field: path.clone(),
        code: Code::InvalidFormat,
        message,
        source_field: Some(path),
    });
    p
}

/// Decode, map and validate one document's JSON against `catalog`.
pub fn map_json(json: &[u8], catalog: &Catalog) -> Result<serde_json::Value, Error> {
    let doc = decode_proposal(json).map_err(decode_problem)?;
    let mapped = sig_docsales::mapping::map_owned(doc, catalog);
    let sourced = SourcedProposal {
        // Not integrated, so not keyed by a DocSales account: the key is unused here.
        key: SourceKey {
            account: String::new(),
            proposal_id: mapped.raw.id.clone().unwrap_or_default(),
        },
        raw: mapped.raw,
        field_sources: mapped.field_sources,
        mapping_problems: mapped.mapping_problems,
    };
    let proposal = sig_docsales::mapping::validate(&sourced, catalog)?;
    serde_json::to_value(&proposal).map_err(|e| {
        Error::Runtime(format!(
            "the validated proposal could not be serialised: {e}"
        ))
    })
}

/// Map and validate a DocSales proposal document (a `dict`, or its JSON as `str`/`bytes`)
/// with the catalog of `config` (a `sig.toml` path or text; the demo catalog when `None`).
/// Returns the domain proposal as a `dict`; raises `ValidationError` listing every problem.
#[pyfunction]
#[pyo3(signature = (doc, config=None))]
pub fn map_proposal<'py>(
    py: Python<'py>,
    doc: &Bound<'py, PyAny>,
    config: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let json: Vec<u8> = if let Ok(s) = doc.cast::<PyString>() {
        s.to_str()?.as_bytes().to_vec()
    } else if let Ok(b) = doc.cast::<PyBytes>() {
        b.as_bytes().to_vec()
    } else if doc.is_instance_of::<PyDict>() || doc.cast::<pyo3::types::PyMapping>().is_ok() {
        serde_json::to_vec(&to_json(doc)?).map_err(|e| {
            PyTypeError::new_err(format!("the document cannot be written as JSON: {e}"))
        })?
    } else {
        return Err(PyTypeError::new_err(format!(
            "map_proposal() takes a proposal document as a dict or its JSON text, not {}",
            doc.get_type().name()?
        )));
    };
    let source = ConfigSource::from_arg(config)?.unwrap_or(ConfigSource::Demo);
    let value = enter_native(py, move || map_json(&json, &source.catalog()?))?;
    to_py(py, &value)
}

/// Add the mapping function to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(map_proposal, m)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn demo_catalog() -> Catalog {
        ConfigSource::Demo.catalog().unwrap()
    }

    fn proposal() -> serde_json::Value {
        json!({
            "document": {"id": 1001, "code": "DS-01001", "status": "approved",
                          "contract_start": "2026-12-01", "due_day": "10"},
            "customer": {"name": "Padaria Pão Quente Ltda", "legal_code": "12.ABC.345/01DE-35",
                          "postal_code": "01304-001", "address": "Rua Augusta", "number": "1508",
                          "district": "Consolação", "city": "São Paulo", "state": "SP",
                          "phone1": "(11) 3456-7890", "contact_email": "jose@paoquente.com.br"},
            "products": [{"code": "PBX-10", "quantity": 1, "unit_value": "499.90",
                          "custom_ddd": "11", "custom_dids": "11 3456-7000"}]
        })
    }

    #[test]
    fn a_good_document_maps_to_the_domain() {
        let v = map_json(&serde_json::to_vec(&proposal()).unwrap(), &demo_catalog()).unwrap();
        assert_eq!(v["customer"]["tax_id"], "12ABC34501DE35");
        assert_eq!(v["orders"][0]["plan"], "pbx-10");
        assert_eq!(v["orders"][0]["sip_lines"], 10);
    }

    #[test]
    fn problems_name_the_domain_and_the_docsales_field() {
        let mut doc = proposal();
        doc["customer"]["legal_code"] = json!("529.982.247-26");
        doc["products"][0]["code"] = json!("NOPE");
        let err = map_json(&serde_json::to_vec(&doc).unwrap(), &demo_catalog()).unwrap_err();
        let Error::Validation(p) = err else {
            panic!("{err:?}")
        };
        let tax = p.iter().find(|x| x.field == "customer.tax_id").unwrap();
        assert_eq!(tax.source_field.as_deref(), Some("customer.legal_code"));
        assert!(p.iter().any(|x| x.field == "orders[0].product"));
    }

    #[test]
    fn undecodable_documents_name_the_json_path() {
        let err = map_json(br#"{"products": [{"quantity": [1]}]}"#, &demo_catalog()).unwrap_err();
        let Error::Validation(p) = err else {
            panic!("{err:?}")
        };
        let first = p.iter().next().unwrap();
        assert_eq!(first.field, "products[0].quantity");
        assert_eq!(first.code, Code::InvalidFormat);
        let err = map_json(b"not json", &demo_catalog()).unwrap_err();
        assert!(
            matches!(err, Error::Validation(p) if p.iter().next().unwrap().field == "(document)")
        );
    }
}
