//! Plain data across the boundary: Python objects ⇄ `serde_json::Value`.
//!
//! Into Rust ([`to_json`]), for documents an analyst holds as Python data (a `dict` from
//! `json.load`, a pandas row's `to_dict()`): `dict` (string keys), `list`/`tuple`, `str`,
//! `int`, `float`, `bool`, `None`, and the values such data commonly carries:
//! `decimal.Decimal` (as its exact text), `datetime.date`/`datetime.datetime` (ISO 8601
//! text) and a float NaN (pandas' missing value) as `None`. Anything else is a `TypeError`
//! naming where in the document it sits (`products[1].quantity`).
//!
//! Out of Rust ([`to_py`]): objects become `dict`, arrays `list`, numbers `int` or `float`.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDate, PyDict, PyFloat, PyInt, PyList, PyMapping, PyString, PyTuple};
use serde_json::{Map, Number, Value};

/// How deep a document may nest (a guard against self-referencing containers).
const MAX_DEPTH: usize = 64;

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn at(path: &str) -> &str {
    if path.is_empty() {
        "the document"
    } else {
        path
    }
}

/// Convert a Python value into JSON; errors name the path of the offending value.
pub fn to_json(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    convert(obj, "", 0)
}

fn convert(obj: &Bound<'_, PyAny>, path: &str, depth: usize) -> PyResult<Value> {
    if depth > MAX_DEPTH {
        return Err(PyValueError::new_err(format!(
            "{} nests more than {MAX_DEPTH} levels deep",
            at(path)
        )));
    }
    if obj.is_none() {
        return Ok(Value::Null);
    }
    // bool before int: Python's bool is an int.
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::String(s.to_str()?.to_owned()));
    }
    if obj.is_instance_of::<PyInt>() {
        if let Ok(i) = obj.extract::<i64>() {
            return Ok(Value::Number(i.into()));
        }
        if let Ok(u) = obj.extract::<u64>() {
            return Ok(Value::Number(u.into()));
        }
        return Err(PyValueError::new_err(format!(
            "{}: the integer does not fit in 64 bits",
            at(path)
        )));
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        let v = f.value();
        if v.is_nan() {
            return Ok(Value::Null);
        }
        return Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| PyValueError::new_err(format!("{}: an infinite number", at(path))));
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let mut map = Map::with_capacity(d.len());
        for (k, v) in d.iter() {
            let key = k
                .cast::<PyString>()
                .map_err(|_| PyTypeError::new_err(format!("{}: a key is not a str", at(path))))?;
            let key = key.to_str()?;
            let value = convert(&v, &child(path, key), depth + 1)?;
            map.insert(key.to_owned(), value);
        }
        return Ok(Value::Object(map));
    }
    if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        let mut items = Vec::with_capacity(obj.len()?);
        for (i, item) in obj.try_iter()?.enumerate() {
            items.push(convert(&item?, &format!("{path}[{i}]"), depth + 1)?);
        }
        return Ok(Value::Array(items));
    }
    if obj.is_instance_of::<PyDate>() {
        // datetime.datetime is a date too; both have an ISO 8601 form.
        let text = obj.call_method0("isoformat")?;
        return Ok(Value::String(text.extract()?));
    }
    let type_name = obj.get_type().name()?;
    if type_name == "Decimal" {
        let text = obj.str()?;
        return Ok(Value::String(text.to_str()?.to_owned()));
    }
    if let Ok(m) = obj.cast::<PyMapping>() {
        // Other mappings (a `MappingProxyType`, a user's `Mapping`): read as a dict.
        let d = PyDict::new(obj.py());
        for item in m.items()?.iter() {
            let (k, v): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item.extract()?;
            d.set_item(k, v)?;
        }
        return convert(d.as_any(), path, depth);
    }
    Err(PyTypeError::new_err(format!(
        "{}: a {type_name} cannot be read as JSON (expected dict, list, str, int, float, bool, \
         None, Decimal or a date)",
        at(path)
    )))
}

/// Convert JSON into Python data.
pub fn to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any()
            }
        }
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let d = PyDict::new(py);
            for (k, item) in map {
                d.set_item(k, to_py(py, item)?)?;
            }
            d.into_any()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_plain_data_and_names_bad_paths() {
        Python::initialize();
        Python::attach(|py| {
            let v = json!({"a": [1, 2.5, "x", null, true], "b": {"c": -3, "d": u64::MAX}});
            let obj = to_py(py, &v).unwrap();
            assert_eq!(to_json(&obj).unwrap(), v);

            let bad = py
                .eval(c"{'products': [{'quantity': object()}]}", None, None)
                .unwrap();
            let err = to_json(&bad).unwrap_err();
            assert!(err.is_instance_of::<PyTypeError>(py));
            assert!(err.to_string().contains("products[0].quantity"), "{err}");

            let nan = py.eval(c"{'x': float('nan')}", None, None).unwrap();
            assert_eq!(to_json(&nan).unwrap(), json!({"x": null}));

            let dec = py
                .eval(c"__import__('decimal').Decimal('499.90')", None, None)
                .unwrap();
            assert_eq!(to_json(&dec).unwrap(), json!("499.90"));
        });
    }
}
