//! The exception hierarchy of `sig_voip` and the one place Rust errors become Python ones.
//!
//! ```text
//! Exception
//! └── SigError            every failure SIG itself reports
//!     ├── ValidationError .errors: list[{field, code, message[, source_field]}]
//!     ├── UpstreamError   .system .call .kind .status .code .record .retryable
//!     │                   .maybe_applied .retry_after
//!     ├── ConfigError     .errors (one entry per wrong key of sig.toml)
//!     ├── StoreError      .retryable
//!     └── AccessDeniedError .actor .action .field .reason (sig-core's authorization policy said no)
//! ```
//!
//! The classes are created here with [`create_exception!`]: the stable ABI (`abi3`) cannot
//! subclass `BaseException` from a `#[pyclass]`, so the structured attributes are set on the
//! instance when it is raised ([`From<Error> for PyErr`](Error)). Binding code never builds a
//! `SigError` by hand: it returns an [`Error`] (or anything that converts into one) and the `?`
//! operator goes through the single mapping below.

use std::time::Duration;

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use sig_core::authz::{Action, Denied, DenyReason};
use sig_core::config::ConfigError as CoreConfigError;
use sig_core::ports::{System, UpstreamError as CoreUpstreamError, UpstreamErrorKind};
use sig_core::store::{Actor, StoreError as CoreStoreError};
use sig_core::{Code, Problem, Problems};

create_exception!(
    sig_voip,
    SigError,
    PyException,
    "Base class of every error SIG reports (validation, upstream systems, configuration, store)."
);
create_exception!(
    sig_voip,
    ValidationError,
    SigError,
    "A value or document is invalid. `.errors` lists every problem as \
     `{field, code, message}` (plus `source_field` when an adapter could name it)."
);
create_exception!(
    sig_voip,
    UpstreamError,
    SigError,
    "A call to an outside system (Omie, NextBilling, DocSales, fiscal lookup) failed. \
     `.system`, `.call`, `.kind`, `.status`, `.code`, `.record`, `.retryable`, \
     `.maybe_applied` and `.retry_after` say what failed and whether retrying can help."
);
create_exception!(
    sig_voip,
    ConfigError,
    SigError,
    "A `sig.toml` could not be read or is invalid. `.errors` lists every problem with its key."
);
create_exception!(
    sig_voip,
    StoreError,
    SigError,
    "The SIG store (SQLite file, later PostgreSQL) could not be opened or read. `.retryable` \
     says whether trying again later can help."
);
create_exception!(
    sig_voip,
    AccessDeniedError,
    SigError,
    "SIG's authorization policy refused the action (e.g. an unmasked export of personal data). \
     `.actor`, `.action`, `.field` (for an edit) and `.reason` (a stable code such as \
     `action_not_granted`) say who, what and why; the refusal is audited."
);

/// Every failure the bindings report, before it becomes a Python exception.
///
/// Each variant wraps the error type of the Rust code it comes from, so the mapping to Python
/// sees every fact that code kept.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Validation problems: a single value or a whole document.
    #[error("{0}")]
    Validation(Problems),
    /// A call to an outside system failed.
    #[error("{0}")]
    Upstream(#[from] CoreUpstreamError),
    /// A `sig.toml` could not be loaded.
    #[error("{0}")]
    Config(#[from] CoreConfigError),
    /// The store failed (see `From<sig_core::store::StoreError>`).
    #[error("{message}")]
    Store {
        /// What failed (never personal data or secrets).
        message: String,
        /// Whether trying again later can help (a locked database, a lost connection).
        retryable: bool,
    },
    /// The authorization policy refused the action.
    #[error("{0}")]
    Denied(#[from] Denied),
    /// The bindings' own machinery failed (the async runtime could not start).
    #[error("{0}")]
    Runtime(String),
    /// A Python exception raised while the work ran (a progress callback's, a pending
    /// `KeyboardInterrupt`): it comes out unchanged.
    #[error("{0}")]
    Python(PyErr),
}

impl From<CoreStoreError> for Error {
    /// Every store failure becomes a `StoreError`; only an unavailable store (locked, a lost
    /// connection) is worth retrying — corrupt or missing records are not.
    fn from(e: CoreStoreError) -> Self {
        let retryable = matches!(e, CoreStoreError::Unavailable(_));
        Error::Store {
            message: e.to_string(),
            retryable,
        }
    }
}

/// The stable code of a refusal (`no_profile`, `action_not_granted`, …).
fn deny_code(reason: &DenyReason) -> &'static str {
    match reason {
        DenyReason::NoProfile => "no_profile",
        DenyReason::ActionNotGranted { .. } => "action_not_granted",
        DenyReason::FieldNotGranted { .. } => "field_not_granted",
        DenyReason::UnknownField => "unknown_field",
    }
}

impl From<Problems> for Error {
    fn from(problems: Problems) -> Self {
        Error::Validation(problems)
    }
}

/// The Python name of an [`UpstreamErrorKind`] (`transient`, `rate_limited`, …).
fn kind_name(kind: &UpstreamErrorKind) -> &'static str {
    match kind {
        UpstreamErrorKind::Transient => "transient",
        UpstreamErrorKind::RateLimited => "rate_limited",
        UpstreamErrorKind::Blocked => "blocked",
        UpstreamErrorKind::Unauthorized => "unauthorized",
        UpstreamErrorKind::Rejected => "rejected",
        UpstreamErrorKind::NotFound => "not_found",
        UpstreamErrorKind::Conflict => "conflict",
        UpstreamErrorKind::Permanent => "permanent",
    }
}

/// `problems` as a list of `{field, code, message[, source_field]}` dicts.
pub(crate) fn problems_to_list<'py>(
    py: Python<'py>,
    problems: &Problems,
) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    for p in problems.iter() {
        let d = PyDict::new(py);
        d.set_item("field", &p.field)?;
        d.set_item("code", p.code.as_str())?;
        d.set_item("message", &p.message)?;
        if let Some(src) = &p.source_field {
            d.set_item("source_field", src)?;
        }
        list.append(d)?;
    }
    Ok(list)
}

/// The exception class and the attributes to set on the instance, for one error.
type Parts<'py> = (
    Bound<'py, pyo3::types::PyType>,
    Vec<(&'static str, Bound<'py, PyAny>)>,
);

/// Build the exception for `err`: the one exhaustive mapping from Rust errors to Python.
fn build<'py>(py: Python<'py>, err: &Error) -> PyResult<Bound<'py, PyAny>> {
    let message = err.to_string();
    let (class, attrs): Parts<'py> = match err {
        Error::Validation(problems) => (
            py.get_type::<ValidationError>(),
            vec![("errors", problems_to_list(py, problems)?.into_any())],
        ),
        Error::Upstream(e) => (
            py.get_type::<UpstreamError>(),
            vec![
                ("system", e.system.to_string().into_pyobject(py)?.into_any()),
                ("call", e.call.as_str().into_pyobject(py)?.into_any()),
                ("kind", kind_name(&e.kind).into_pyobject(py)?.into_any()),
                ("status", e.status.into_pyobject(py)?.into_any()),
                ("code", e.code.as_deref().into_pyobject(py)?.into_any()),
                ("record", e.record.as_deref().into_pyobject(py)?.into_any()),
                (
                    "retryable",
                    e.is_retryable().into_pyobject(py)?.to_owned().into_any(),
                ),
                (
                    "maybe_applied",
                    e.maybe_applied.into_pyobject(py)?.to_owned().into_any(),
                ),
                (
                    "retry_after",
                    e.retry_after
                        .map(|d: Duration| d.as_secs_f64())
                        .into_pyobject(py)?
                        .into_any(),
                ),
            ],
        ),
        Error::Config(e) => (
            py.get_type::<ConfigError>(),
            vec![("errors", problems_to_list(py, &e.problems())?.into_any())],
        ),
        Error::Store { retryable, .. } => (
            py.get_type::<StoreError>(),
            vec![(
                "retryable",
                retryable.into_pyobject(py)?.to_owned().into_any(),
            )],
        ),
        Error::Denied(d) => (
            py.get_type::<AccessDeniedError>(),
            vec![
                ("actor", d.actor.to_string().into_pyobject(py)?.into_any()),
                ("action", d.action.as_str().into_pyobject(py)?.into_any()),
                ("field", d.field.as_deref().into_pyobject(py)?.into_any()),
                ("reason", deny_code(&d.reason).into_pyobject(py)?.into_any()),
            ],
        ),
        Error::Runtime(_) => (py.get_type::<SigError>(), vec![]),
        Error::Python(e) => return Ok(e.value(py).clone().into_any()),
    };
    let exc = class.call1((message,))?;
    for (name, value) in attrs {
        exc.setattr(name, value)?;
    }
    Ok(exc)
}

impl From<Error> for PyErr {
    fn from(err: Error) -> PyErr {
        if let Error::Python(e) = err {
            return e;
        }
        Python::attach(|py| match build(py, &err) {
            Ok(exc) => PyErr::from_value(exc),
            // Building the exception itself failed (out of memory): raise that instead.
            Err(e) => e,
        })
    }
}

/// Raise a sample of one exception class through the real mapping: `validation`, `upstream`,
/// `config`, `store` or `denied`. For the test suite of `sig_voip` and of code that handles its errors;
/// not re-exported by the package.
#[pyfunction]
fn _raise_sample_error(kind: &str) -> PyResult<()> {
    let err = match kind {
        "validation" => {
            let mut problems = Problems::new();
            problems.add(
                "customer.tax_id",
                Code::InvalidCheckDigit,
                "CPF check digits should be 25, got 26",
            );
            problems.push(Problem {
                field: "customer.address.cep".into(),
                code: Code::WrongLength,
                message: "a CEP has 8 digits, got 7".into(),
                source_field: Some("customer.zip_code".into()),
            });
            Error::Validation(problems)
        }
        "upstream" => Error::Upstream(
            CoreUpstreamError::new(
                System::Omie,
                "UpsertCliente",
                UpstreamErrorKind::RateLimited,
                "Consumo redundante detectado. Aguarde 3 segundos",
            )
            .with_status(500)
            .with_code("SOAP-ENV:Client-6")
            .with_record("0190b7d2-5f1e-7000-8000-000000000001")
            .with_retry_after(Duration::from_secs(3)),
        ),
        "config" => Error::Config(CoreConfigError::Syntax {
            key: "servers[0].capacity_lines".into(),
            message: "invalid type: string \"ten\", expected an integer".into(),
        }),
        "store" => Error::from(CoreStoreError::Unavailable(
            "the store is locked by another process".into(),
        )),
        "denied" => Error::Denied(Denied {
            actor: Actor::User("ana".parse().expect("a valid user id")),
            profile: Some(sig_core::config::Profile::Viewer),
            action: Action::ExportPersonalData,
            field: None,
            reason: DenyReason::ActionNotGranted {
                subject: sig_core::authz::Subject::Profile(sig_core::config::Profile::Viewer),
            },
        }),
        other => {
            return Err(PyValueError::new_err(format!(
                "unknown error kind {other:?}; expected validation, upstream, config, store or denied"
            )));
        }
    };
    Err(err.into())
}

/// Add the exception classes to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_raise_sample_error, m)?)?;
    let py = m.py();
    m.add("SigError", py.get_type::<SigError>())?;
    m.add("ValidationError", py.get_type::<ValidationError>())?;
    m.add("UpstreamError", py.get_type::<UpstreamError>())?;
    m.add("ConfigError", py.get_type::<ConfigError>())?;
    m.add("StoreError", py.get_type::<StoreError>())?;
    m.add("AccessDeniedError", py.get_type::<AccessDeniedError>())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr<'py, T: for<'a> FromPyObject<'a, 'py>>(err: &PyErr, py: Python<'py>, name: &str) -> T {
        err.value(py)
            .getattr(name)
            .unwrap()
            .extract()
            .unwrap_or_else(|_| panic!("attribute {name} has the wrong type"))
    }

    #[test]
    fn validation_problems_become_a_validation_error_with_every_problem() {
        Python::initialize();
        Python::attach(|py| {
            let mut problems = Problems::new();
            problems.add("customer.tax_id", Code::InvalidCheckDigit, "bad digits");
            problems.push(Problem {
                field: "customer.address.cep".into(),
                code: Code::WrongLength,
                message: "a CEP has 8 digits, got 7".into(),
                source_field: Some("customer.zip".into()),
            });
            let err = PyErr::from(Error::from(problems));
            assert!(err.is_instance_of::<ValidationError>(py));
            assert!(err.is_instance_of::<SigError>(py));
            assert!(!err.is_instance_of::<UpstreamError>(py));
            let errors = err.value(py).getattr("errors").unwrap();
            let errors = errors.cast::<PyList>().unwrap();
            assert_eq!(errors.len(), 2);
            let first = errors.get_item(0).unwrap();
            assert_eq!(
                first.get_item("code").unwrap().extract::<String>().unwrap(),
                "invalid_check_digit"
            );
            assert!(first.get_item("source_field").is_err());
            let second = errors.get_item(1).unwrap();
            assert_eq!(
                second
                    .get_item("source_field")
                    .unwrap()
                    .extract::<String>()
                    .unwrap(),
                "customer.zip"
            );
            assert!(err.to_string().contains("customer.tax_id"));
        });
    }

    #[test]
    fn upstream_errors_keep_system_status_code_and_retryability() {
        Python::initialize();
        Python::attach(|py| {
            let e = CoreUpstreamError::new(
                System::Omie,
                "UpsertCliente",
                UpstreamErrorKind::RateLimited,
                "Aguarde 3 segundos",
            )
            .with_status(500)
            .with_code("SOAP-ENV:Client-6")
            .with_retry_after(Duration::from_millis(3000));
            let err = PyErr::from(Error::from(e));
            assert!(err.is_instance_of::<UpstreamError>(py));
            assert!(err.is_instance_of::<SigError>(py));
            assert_eq!(attr::<String>(&err, py, "system"), "omie");
            assert_eq!(attr::<String>(&err, py, "call"), "UpsertCliente");
            assert_eq!(attr::<String>(&err, py, "kind"), "rate_limited");
            assert_eq!(attr::<Option<u16>>(&err, py, "status"), Some(500));
            assert_eq!(
                attr::<Option<String>>(&err, py, "code").as_deref(),
                Some("SOAP-ENV:Client-6")
            );
            assert_eq!(attr::<Option<String>>(&err, py, "record"), None);
            assert!(attr::<bool>(&err, py, "retryable"));
            assert!(!attr::<bool>(&err, py, "maybe_applied"));
            assert_eq!(attr::<Option<f64>>(&err, py, "retry_after"), Some(3.0));

            let e = CoreUpstreamError::new(
                System::NextBilling,
                "manageDevices",
                UpstreamErrorKind::Rejected,
                "invalid rate",
            );
            let err = PyErr::from(Error::from(e));
            assert_eq!(attr::<String>(&err, py, "system"), "nextbilling");
            assert_eq!(attr::<Option<u16>>(&err, py, "status"), None);
            assert!(!attr::<bool>(&err, py, "retryable"));
        });
    }

    #[test]
    fn config_and_store_errors_have_their_own_classes() {
        Python::initialize();
        Python::attach(|py| {
            let e = CoreConfigError::Syntax {
                key: "servers[0].capacity_lines".into(),
                message: "expected an integer".into(),
            };
            let err = PyErr::from(Error::from(e));
            assert!(err.is_instance_of::<ConfigError>(py));
            assert!(err.is_instance_of::<SigError>(py));
            assert!(!err.is_instance_of::<ValidationError>(py));
            let errors = err.value(py).getattr("errors").unwrap();
            let first = errors.get_item(0).unwrap();
            assert_eq!(
                first
                    .get_item("field")
                    .unwrap()
                    .extract::<String>()
                    .unwrap(),
                "servers[0].capacity_lines"
            );

            let err = PyErr::from(Error::Store {
                message: "database is locked".into(),
                retryable: true,
            });
            assert!(err.is_instance_of::<StoreError>(py));
            assert!(err.is_instance_of::<SigError>(py));
            assert!(attr::<bool>(&err, py, "retryable"));
            assert!(err.to_string().contains("database is locked"));

            let err = PyErr::from(Error::from(CoreStoreError::Corrupt("bad row".into())));
            assert!(err.is_instance_of::<StoreError>(py));
            assert!(!attr::<bool>(&err, py, "retryable"));
        });
    }

    #[test]
    fn refusals_become_access_denied_with_who_what_and_why() {
        Python::initialize();
        Python::attach(|py| {
            let d = sig_core::authz::Policy::builtin()
                .check(
                    &Actor::User("bob".parse().unwrap()),
                    Some(sig_core::config::Profile::Operator),
                    Action::ExportPersonalData,
                )
                .unwrap_err();
            let err = PyErr::from(Error::from(d));
            assert!(err.is_instance_of::<AccessDeniedError>(py));
            assert!(err.is_instance_of::<SigError>(py));
            assert_eq!(attr::<String>(&err, py, "actor"), "user:bob");
            assert_eq!(attr::<String>(&err, py, "action"), "export_personal_data");
            assert_eq!(attr::<String>(&err, py, "reason"), "action_not_granted");
        });
    }
}
