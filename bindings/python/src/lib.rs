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
//! - [`validate`]: CPF/CNPJ, CEP, phone and e-mail — per value, parsed, and in batches.
//!
//! Later pieces slot in as sibling modules registered in [`_native`]: `mapping`
//! (`map_proposal`, on the DocSales mapping), `history` (integrations, audit events and KPIs
//! from a store, column-oriented), and `migrate` (exposed as the `sig_voip.migrate` Python
//! submodule). Each returns [`errors::Error`] and runs its work through
//! [`detach::enter_native`].
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
pub mod migrate;
pub mod validate;

/// The native module behind the `sig_voip` package (`sig_voip._native`).
#[pymodule(gil_used = false)]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
    validate::register(m)?;
    migrate::register(m)?;
    Ok(())
}
