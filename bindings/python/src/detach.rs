//! The one way long-running work leaves the GIL (polars' `enter_polars`), and the async
//! runtime the bindings own for work that needs one (the store, later the pipeline).

use std::future::Future;
use std::sync::OnceLock;

use pyo3::marker::Ungil;
use pyo3::prelude::*;

use crate::errors::Error;

/// The bindings' tokio runtime: one worker thread (Python callers bring their own threads)
/// plus tokio's blocking pool, where the SQLite store runs its queries. Built on first use.
fn runtime() -> Result<&'static tokio::runtime::Runtime, Error> {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("sig-voip")
        .enable_all()
        .build()
        .map_err(|e| Error::Runtime(format!("cannot start the async runtime: {e}")))?;
    // Another thread may have won the race; its runtime is kept and this one dropped.
    Ok(RUNTIME.get_or_init(|| rt))
}

/// Run a future to completion on the bindings' runtime, from inside [`enter_native`]'s work
/// (the GIL released). Any Python thread may call it, several at once.
pub fn block_on<F: Future>(future: F) -> Result<F::Output, Error> {
    Ok(runtime()?.block_on(future))
}

/// Run `work` with the GIL released, then map its error and surface a pending Ctrl-C.
///
/// Every binding call that does more than a constant amount of work (batch validation now;
/// mapping, store queries and migrations later) goes through here, so:
/// - other Python threads run while SIG works (the `Ungil` bound makes touching a Python
///   object inside `work` a compile error);
/// - a `KeyboardInterrupt` (or any signal handler's exception) raised while the work ran is
///   raised as soon as it ends, instead of the result;
/// - the error of the work becomes a Python exception through the one mapping in
///   [`crate::errors`].
///
/// Work that needs an async runtime (the store, upstream clients) calls [`block_on`] *inside*
/// `work`.
pub fn enter_native<T, F>(py: Python<'_>, work: F) -> PyResult<T>
where
    F: Ungil + FnOnce() -> Result<T, Error>,
    T: Send,
{
    let result = py.detach(work);
    py.check_signals()?;
    result.map_err(PyErr::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_thread_can_take_the_gil_while_the_work_runs() {
        Python::initialize();
        Python::attach(|py| {
            // If the GIL were held, the thread could never attach and join would hang.
            let n = enter_native(py, || {
                let other = std::thread::spawn(|| Python::attach(|py| py.version().len()));
                Ok(other.join().expect("the other thread attached"))
            })
            .unwrap();
            assert!(n > 0);
        });
    }

    #[test]
    fn errors_of_the_work_are_mapped() {
        Python::initialize();
        Python::attach(|py| {
            let err = enter_native::<(), _>(py, || {
                Err(Error::Store {
                    message: "x".into(),
                    retryable: false,
                })
            })
            .unwrap_err();
            assert!(err.is_instance_of::<crate::errors::StoreError>(py));
        });
    }
}
