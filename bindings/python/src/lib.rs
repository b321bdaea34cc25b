//! # sig-voip-python — the `sig_voip` Python package
//!
//! Python bindings for SIG VoIP, for analysts who clean historical customer data, migrate it
//! and build BI on the integration history. They expose SIG's real logic — sig-core's types
//! and rules — never a re-implementation.
//!
//! maturin builds this crate into the extension module `sig_voip._native` of an abi3 wheel
//! (CPython 3.10+); the pure-Python package around it (`python/sig_voip/`) re-exports the
//! public names, ships the hand-written `_native.pyi` stubs and `py.typed`, and is where thin
//! Python conveniences live. See `bindings/python/README.md`.
//!
//! ## Layout
//!
//! - [`errors`]: the exception tree (`SigError` and its subclasses) and the *one* mapping from
//!   Rust errors to Python exceptions (`impl From<errors::Error> for PyErr`).
//! - [`detach`]: the one function that releases the GIL around long work
//!   ([`detach::enter_native`], polars' `enter_polars`).
//!   It also owns the async runtime ([`detach::block_on`]) for work that needs one.
//! - [`validate`]: CPF/CNPJ, CEP, phone and e-mail — per value, parsed, and in batches.
//! - [`mapping`]: `map_proposal`, a DocSales document decoded, mapped and validated by
//!   sig-docsales and sig-core, the pipeline's own code.
//! - [`history`]: `History` / `open_history`, integrations, audit events and KPIs (sig-core's
//!   [`sig_core::kpi`]) from a store opened read-only, as column-oriented dicts; personal data
//!   masked unless the policy lets the reader export it.
//! - [`sigtoml`]: the `config=` argument (a `sig.toml` path or text; secrets never needed).
//! - [`json`]: Python data ⇄ JSON for documents.
//! - [`progress`]: the progress-callback convention of long calls.
//!
//! The migration entry point (`sig_voip.migrate`, the direct-registration issue) slots in as
//! a sibling module `migrate` registered here, exposed as the Python submodule
//! `python/sig_voip/migrate.py`; like the others it returns [`errors::Error`], runs its work
//! through [`detach::enter_native`] (the pipeline on [`detach::block_on`]) and reports through
//! a [`progress::Reporter`].
//!
//! ## Building and testing
//!
//! The `extension-module` feature (on only in maturin builds, see `pyproject.toml`) keeps
//! libpython unlinked as an extension module requires; without it `cargo test` links
//! libpython and the unit tests here start an embedded interpreter.
//!
//! `unsafe` is forbidden: everything goes through pyo3's safe API.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use pyo3::prelude::*;

pub mod detach;
pub mod errors;
pub mod history;
pub mod json;
pub mod mapping;
pub mod migrate;
pub mod progress;
pub mod sigtoml;
pub mod validate;

/// The native module behind the `sig_voip` package (`sig_voip._native`).
#[pymodule(gil_used = false)]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
    validate::register(m)?;
    mapping::register(m)?;
    history::register(m)?;
    migrate::register(m)?;
    Ok(())
}
