//! Python bindings for SIG VoIP (the `sig_voip` package); filled in by the bindings issue.
use pyo3::prelude::*;

/// The native module behind the `sig_voip` package.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
