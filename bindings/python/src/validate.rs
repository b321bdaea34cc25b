//! Validation of single values: tax ids (CPF, CNPJ), CEP, phone and e-mail.
//!
//! Every rule is sig-core's (`Cpf`, `Cnpj`, `TaxId`, `Cep`, `Phone`, `Email` and their
//! `FromStr`); this module only moves values across the boundary. Three shapes per kind:
//!
//! - `*_is_valid(value) -> bool`: one value, no message built; borrows the `str`'s UTF-8
//!   (no copy), so a Python loop pays little more than the call itself;
//! - `parse_*(value)`: the value object (`TaxId`, `Cep`, `Phone`, `Email`) with its canonical
//!   and formatted forms, or a `ValidationError` whose `.errors` holds the one problem;
//! - `validate_*s(values) -> list[bool]`: a whole column, validated with the GIL released for
//!   the entire batch ([`crate::detach::enter_native`]).
//!
//! A `str` that is not valid Unicode (a lone surrogate) is simply not a valid value: the
//! predicates return `False` and `parse_*` raises `ValidationError` (`invalid_format`).

use std::fmt;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple, PyType};
use sig_core::{Cep, Cnpj, Code, Cpf, Email, Invalid, Phone, PhoneKind, Problems, TaxId};

use crate::detach::enter_native;
use crate::errors::Error;

/// The UTF-8 of a Python `str`, borrowed; `None` for a string with lone surrogates.
#[inline]
fn utf8<'a>(value: &'a Bound<'_, PyString>) -> Option<&'a str> {
    value.to_str().ok()
}

/// The text of `value` for a parser; a lone surrogate is an `invalid_format` problem.
fn text<'a>(value: &'a Bound<'_, PyString>) -> Result<&'a str, Invalid> {
    utf8(value).ok_or_else(|| {
        Invalid::new(
            Code::InvalidFormat,
            "the text is not valid Unicode (it has a lone surrogate)",
        )
    })
}

/// `Class('value')`, the value quoted as Python's `repr` quotes it.
fn py_repr(py: Python<'_>, class: &str, value: &str) -> PyResult<String> {
    Ok(format!("{class}({})", PyString::new(py, value).repr()?))
}

/// Parse `value` with `parse`, reporting a rejection at `field` as a `ValidationError`.
fn parse_at<T>(
    value: &Bound<'_, PyString>,
    field: &str,
    parse: impl FnOnce(&str) -> Result<T, Invalid>,
) -> PyResult<T> {
    text(value).and_then(parse).map_err(|invalid| {
        let mut problems = Problems::new();
        problems.push(invalid.at(field));
        PyErr::from(Error::Validation(problems))
    })
}

/// The items of `values` (any iterable of `str` except a `str` itself) validated by
/// `is_valid`, with the GIL released for the whole batch.
fn validate_batch(
    values: &Bound<'_, PyAny>,
    function: &str,
    is_valid: fn(&str) -> bool,
) -> PyResult<Vec<bool>> {
    let py = values.py();
    if values.is_instance_of::<PyString>() || values.is_instance_of::<PyBytes>() {
        return Err(PyTypeError::new_err(format!(
            "{function}() takes an iterable of str such as a list, not a single {}",
            values.get_type().name()?
        )));
    }
    // A tuple holds a reference to every item and cannot change, so the `&str` borrowed below
    // stay valid while the GIL is released, whatever other threads do to `values`.
    let tuple: Bound<'_, PyTuple> = if let Ok(list) = values.cast::<PyList>() {
        list.to_tuple()
    } else if let Ok(tuple) = values.cast::<PyTuple>() {
        tuple.clone()
    } else {
        PyTuple::new(py, values.try_iter()?.collect::<PyResult<Vec<_>>>()?)?
    };
    let mut texts: Vec<Option<&str>> = Vec::with_capacity(tuple.len());
    for (i, item) in tuple.iter_borrowed().enumerate() {
        let s = item.cast::<PyString>().map_err(|_| {
            let type_name = item
                .get_type()
                .name()
                .map_or_else(|_| "?".to_owned(), |n| n.to_string());
            PyTypeError::new_err(format!(
                "{function}(): item {i} is {type_name}, expected str"
            ))
        })?;
        texts.push(s.extract::<&str>().ok());
    }
    enter_native(py, || {
        Ok(texts
            .iter()
            .map(|t| t.is_some_and(is_valid))
            .collect::<Vec<bool>>())
    })
}

// ---------------------------------------------------------------------------------------------
// Tax ids

/// Whether `value` is a valid CPF (separators and surrounding ASCII whitespace ignored).
#[pyfunction]
pub fn cpf_is_valid(value: &Bound<'_, PyString>) -> bool {
    utf8(value).is_some_and(Cpf::is_valid)
}

/// Whether `value` is a valid CNPJ, numeric or alphanumeric.
#[pyfunction]
pub fn cnpj_is_valid(value: &Bound<'_, PyString>) -> bool {
    utf8(value).is_some_and(Cnpj::is_valid)
}

/// Whether `value` is a valid CPF (11 significant characters) or CNPJ (14).
#[pyfunction]
pub fn tax_id_is_valid(value: &Bound<'_, PyString>) -> bool {
    utf8(value).is_some_and(TaxId::is_valid)
}

/// Parse a CPF or CNPJ into a [`PyTaxId`]; raises `ValidationError` (field `tax_id`).
#[pyfunction]
pub fn parse_tax_id(value: &Bound<'_, PyString>) -> PyResult<PyTaxId> {
    PyTaxId::new(value)
}

/// For each value, whether it is a valid CPF or CNPJ; the GIL is released for the batch.
#[pyfunction]
pub fn validate_tax_ids(values: &Bound<'_, PyAny>) -> PyResult<Vec<bool>> {
    validate_batch(values, "validate_tax_ids", TaxId::is_valid)
}

/// A valid CPF or CNPJ (`sig_voip.TaxId`): immutable, hashable, picklable.
#[pyclass(name = "TaxId", module = "sig_voip", frozen, eq, hash, str)]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PyTaxId(pub TaxId);

impl fmt::Display for PyTaxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

#[pymethods]
impl PyTaxId {
    /// Parse a CPF or CNPJ; raises `ValidationError` when it is not valid.
    #[new]
    fn new(value: &Bound<'_, PyString>) -> PyResult<Self> {
        parse_at(value, "tax_id", str::parse).map(PyTaxId)
    }

    /// Unmasked upper case: `52998224725`, `12ABC34501DE35`.
    #[getter]
    fn canonical(&self) -> &str {
        self.0.as_str()
    }

    /// Masked: `529.982.247-25`, `12.ABC.345/01DE-35`.
    #[getter]
    fn formatted(&self) -> String {
        self.0.formatted()
    }

    /// `CPF` or `CNPJ`.
    #[getter]
    fn kind(&self) -> &'static str {
        self.0.kind().as_str()
    }

    /// `{"canonical", "formatted", "kind"}`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("canonical", self.canonical())?;
        d.set_item("formatted", self.formatted())?;
        d.set_item("kind", self.kind())?;
        Ok(d)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        py_repr(py, "TaxId", self.0.as_str())
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> (Bound<'py, PyType>, (String,)) {
        (slf.get_type(), (slf.get().0.as_str().to_owned(),))
    }
}

// ---------------------------------------------------------------------------------------------
// CEP

/// Whether `value` is a valid CEP (8 digits; `-`, `.` and spaces ignored).
#[pyfunction]
pub fn cep_is_valid(value: &Bound<'_, PyString>) -> bool {
    utf8(value).is_some_and(|s| s.parse::<Cep>().is_ok())
}

/// Parse a CEP into a [`PyCep`]; raises `ValidationError` (field `cep`).
#[pyfunction]
pub fn parse_cep(value: &Bound<'_, PyString>) -> PyResult<PyCep> {
    PyCep::new(value)
}

/// For each value, whether it is a valid CEP; the GIL is released for the batch.
#[pyfunction]
pub fn validate_ceps(values: &Bound<'_, PyAny>) -> PyResult<Vec<bool>> {
    validate_batch(values, "validate_ceps", |s| s.parse::<Cep>().is_ok())
}

/// A valid CEP (`sig_voip.Cep`): immutable, hashable, picklable.
#[pyclass(name = "Cep", module = "sig_voip", frozen, eq, hash, str)]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PyCep(pub Cep);

impl fmt::Display for PyCep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

#[pymethods]
impl PyCep {
    /// Parse a CEP; raises `ValidationError` when it is not valid.
    #[new]
    fn new(value: &Bound<'_, PyString>) -> PyResult<Self> {
        parse_at(value, "cep", str::parse).map(PyCep)
    }

    /// The 8 digits: `01001000`.
    #[getter]
    fn canonical(&self) -> &str {
        self.0.as_str()
    }

    /// `01001-000`.
    #[getter]
    fn formatted(&self) -> String {
        self.0.formatted()
    }

    /// `{"canonical", "formatted"}`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("canonical", self.canonical())?;
        d.set_item("formatted", self.formatted())?;
        Ok(d)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        py_repr(py, "Cep", self.0.as_str())
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> (Bound<'py, PyType>, (String,)) {
        (slf.get_type(), (slf.get().0.as_str().to_owned(),))
    }
}

// ---------------------------------------------------------------------------------------------
// Phone

/// Whether `value` is a valid Brazilian phone number (area code in use, landline or mobile).
#[pyfunction]
pub fn phone_is_valid(value: &Bound<'_, PyString>) -> bool {
    utf8(value).is_some_and(|s| s.parse::<Phone>().is_ok())
}

/// Parse a phone number into a [`PyPhone`]; raises `ValidationError` (field `phone`).
#[pyfunction]
pub fn parse_phone(value: &Bound<'_, PyString>) -> PyResult<PyPhone> {
    PyPhone::new(value)
}

/// For each value, whether it is a valid phone number; the GIL is released for the batch.
#[pyfunction]
pub fn validate_phones(values: &Bound<'_, PyAny>) -> PyResult<Vec<bool>> {
    validate_batch(values, "validate_phones", |s| s.parse::<Phone>().is_ok())
}

/// A valid Brazilian phone number (`sig_voip.Phone`): immutable, hashable, picklable.
#[pyclass(name = "Phone", module = "sig_voip", frozen, eq, hash, str)]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PyPhone(pub Phone);

impl fmt::Display for PyPhone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

#[pymethods]
impl PyPhone {
    /// Parse a phone number; raises `ValidationError` when it is not valid.
    #[new]
    fn new(value: &Bound<'_, PyString>) -> PyResult<Self> {
        parse_at(value, "phone", str::parse).map(PyPhone)
    }

    /// E.164: `+5511987654321`.
    #[getter]
    fn canonical(&self) -> String {
        self.0.e164()
    }

    /// `(11) 98765-4321`.
    #[getter]
    fn formatted(&self) -> String {
        self.0.to_string()
    }

    /// Area code and subscriber number: `11987654321`.
    #[getter]
    fn national(&self) -> String {
        self.0.national()
    }

    /// The area code (DDD), e.g. `11`.
    #[getter]
    fn area_code(&self) -> u8 {
        self.0.area_code().get()
    }

    /// `landline` or `mobile`.
    #[getter]
    fn kind(&self) -> &'static str {
        match self.0.kind() {
            PhoneKind::Landline => "landline",
            PhoneKind::Mobile => "mobile",
        }
    }

    /// `{"canonical", "formatted", "national", "area_code", "kind"}`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("canonical", self.canonical())?;
        d.set_item("formatted", self.formatted())?;
        d.set_item("national", self.national())?;
        d.set_item("area_code", self.area_code())?;
        d.set_item("kind", self.kind())?;
        Ok(d)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        py_repr(py, "Phone", &self.0.e164())
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> (Bound<'py, PyType>, (String,)) {
        (slf.get_type(), (slf.get().0.e164(),))
    }
}

// ---------------------------------------------------------------------------------------------
// E-mail

/// Whether `value` is a valid e-mail address (ASCII, `local@domain.tld`).
#[pyfunction]
pub fn email_is_valid(value: &Bound<'_, PyString>) -> bool {
    utf8(value).is_some_and(|s| s.parse::<Email>().is_ok())
}

/// Parse an e-mail address into a [`PyEmail`]; raises `ValidationError` (field `email`).
#[pyfunction]
pub fn parse_email(value: &Bound<'_, PyString>) -> PyResult<PyEmail> {
    PyEmail::new(value)
}

/// For each value, whether it is a valid e-mail address; the GIL is released for the batch.
#[pyfunction]
pub fn validate_emails(values: &Bound<'_, PyAny>) -> PyResult<Vec<bool>> {
    validate_batch(values, "validate_emails", |s| s.parse::<Email>().is_ok())
}

/// A valid e-mail address (`sig_voip.Email`), domain in lower case: immutable, hashable,
/// picklable.
#[pyclass(name = "Email", module = "sig_voip", frozen, eq, hash, str)]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PyEmail(pub Email);

impl fmt::Display for PyEmail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

#[pymethods]
impl PyEmail {
    /// Parse an e-mail address; raises `ValidationError` when it is not valid.
    #[new]
    fn new(value: &Bound<'_, PyString>) -> PyResult<Self> {
        parse_at(value, "email", str::parse).map(PyEmail)
    }

    /// The address with its domain in lower case: `Ana.Silva@example.com.br`.
    #[getter]
    fn canonical(&self) -> &str {
        self.0.as_str()
    }

    /// The same as `canonical` (an address has no mask); kept for a uniform shape.
    #[getter]
    fn formatted(&self) -> &str {
        self.0.as_str()
    }

    /// The domain part: `example.com.br`.
    #[getter]
    fn domain(&self) -> &str {
        self.0.domain()
    }

    /// `{"canonical", "formatted", "domain"}`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("canonical", self.canonical())?;
        d.set_item("formatted", self.formatted())?;
        d.set_item("domain", self.domain())?;
        Ok(d)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        py_repr(py, "Email", self.0.as_str())
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> (Bound<'py, PyType>, (String,)) {
        (slf.get_type(), (slf.get().0.as_str().to_owned(),))
    }
}

/// Add the validation functions and value classes to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyTaxId>()?;
    m.add_class::<PyCep>()?;
    m.add_class::<PyPhone>()?;
    m.add_class::<PyEmail>()?;
    m.add_function(wrap_pyfunction!(cpf_is_valid, m)?)?;
    m.add_function(wrap_pyfunction!(cnpj_is_valid, m)?)?;
    m.add_function(wrap_pyfunction!(tax_id_is_valid, m)?)?;
    m.add_function(wrap_pyfunction!(parse_tax_id, m)?)?;
    m.add_function(wrap_pyfunction!(validate_tax_ids, m)?)?;
    m.add_function(wrap_pyfunction!(cep_is_valid, m)?)?;
    m.add_function(wrap_pyfunction!(parse_cep, m)?)?;
    m.add_function(wrap_pyfunction!(validate_ceps, m)?)?;
    m.add_function(wrap_pyfunction!(phone_is_valid, m)?)?;
    m.add_function(wrap_pyfunction!(parse_phone, m)?)?;
    m.add_function(wrap_pyfunction!(validate_phones, m)?)?;
    m.add_function(wrap_pyfunction!(email_is_valid, m)?)?;
    m.add_function(wrap_pyfunction!(parse_email, m)?)?;
    m.add_function(wrap_pyfunction!(validate_emails, m)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_validation_uses_sig_core_and_rejects_non_str_items() {
        Python::initialize();
        Python::attach(|py| {
            let values =
                PyList::new(py, ["529.982.247-25", "52998224726", "12.ABC.345/01DE-35"]).unwrap();
            let out = validate_tax_ids(values.as_any()).unwrap();
            assert_eq!(out, vec![true, false, true]);

            let mixed = PyList::new(py, [1, 2]).unwrap();
            let err = validate_tax_ids(mixed.as_any()).unwrap_err();
            assert!(err.is_instance_of::<PyTypeError>(py));
            assert!(err.to_string().contains("item 0 is int"), "{err}");

            let single = PyString::new(py, "52998224725");
            assert!(validate_tax_ids(single.as_any()).is_err());
        });
    }

    #[test]
    fn parse_errors_are_validation_errors_at_the_field() {
        Python::initialize();
        Python::attach(|py| {
            let err = parse_tax_id(&PyString::new(py, "5299822472")).unwrap_err();
            assert!(err.is_instance_of::<crate::errors::ValidationError>(py));
            let errors = err.value(py).getattr("errors").unwrap();
            let first = errors.get_item(0).unwrap();
            assert_eq!(
                first
                    .get_item("field")
                    .unwrap()
                    .extract::<String>()
                    .unwrap(),
                "tax_id"
            );
            assert_eq!(
                first.get_item("code").unwrap().extract::<String>().unwrap(),
                "wrong_length"
            );
        });
    }
}
