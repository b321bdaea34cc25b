//! The progress-callback convention of long calls (the migration entry point,
//! `sig_voip.migrate`, is its first user; see the README's "Layout and what comes next").
//!
//! A long call takes `progress: Callable[[Progress], object] | None = None` (keyword-only).
//! While the work runs with the GIL released ([`crate::detach::enter_native`]), the work
//! reports through a [`Reporter`], which:
//! - calls the callback with a `Progress` dict — `{"phase", "done", "total", "ok", "failed",
//!   "held", "elapsed_s"}` (`sig_voip.Progress` in the stubs) — at most once per interval
//!   (200 ms by default) and always for a final report, taking the GIL only for the call;
//! - stops the work when the callback raises: that very exception (a `KeyboardInterrupt`, a
//!   user's own) comes out of the long call unchanged (polars' round-trip of callback errors);
//! - checks for signals at each report, so Ctrl-C stops a long call even without a callback.
//!
//! The work decides what `done`/`total` count (rows, integrations) and names its `phase`
//! (`read`, `validate`, `integrate`, …); `ok`/`failed`/`held` are outcomes so far.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::Error;

/// Where a long call stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// What the work is doing (`read`, `validate`, `integrate`, …).
    pub phase: &'static str,
    /// Units done in this phase.
    pub done: u64,
    /// Units in this phase, when known.
    pub total: Option<u64>,
    /// Units that succeeded so far.
    pub ok: u64,
    /// Units that failed so far.
    pub failed: u64,
    /// Units held for a person so far.
    pub held: u64,
}

/// Reports progress to an optional Python callback from work running without the GIL.
pub struct Reporter {
    callback: Option<Py<PyAny>>,
    interval: Duration,
    started: Instant,
    last: Mutex<Option<Instant>>,
}

impl Reporter {
    /// The default time between two reports.
    pub const INTERVAL: Duration = Duration::from_millis(200);

    /// A reporter for the `progress=` argument (`None`: only signals are checked).
    pub fn new(callback: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        Self::with_interval(callback, Self::INTERVAL)
    }

    /// A reporter that calls back at most once per `interval`.
    pub fn with_interval(
        callback: Option<&Bound<'_, PyAny>>,
        interval: Duration,
    ) -> PyResult<Self> {
        let callback = match callback.filter(|c| !c.is_none()) {
            Some(c) if c.is_callable() => Some(c.clone().unbind()),
            Some(c) => {
                return Err(PyTypeError::new_err(format!(
                    "progress must be a callable taking one dict, not {}",
                    c.get_type().name()?
                )));
            }
            None => None,
        };
        Ok(Reporter {
            callback,
            interval,
            started: Instant::now(),
            last: Mutex::new(None),
        })
    }

    /// Report `p` if the interval has passed since the last report (or `last` is set: the final
    /// report always goes out). Call it from the work, without the GIL. Returns the callback's
    /// exception, or a pending signal's, as [`Error::Python`] for the work to stop with.
    pub fn report(&self, p: &Progress, last: bool) -> Result<(), Error> {
        let now = Instant::now();
        {
            let mut prev = self.last.lock().unwrap_or_else(|e| e.into_inner());
            if !last && prev.is_some_and(|t| now.duration_since(t) < self.interval) {
                return Ok(());
            }
            *prev = Some(now);
        }
        Python::attach(|py| {
            py.check_signals()?;
            let Some(callback) = &self.callback else {
                return Ok(());
            };
            let d = PyDict::new(py);
            d.set_item("phase", p.phase)?;
            d.set_item("done", p.done)?;
            d.set_item("total", p.total)?;
            d.set_item("ok", p.ok)?;
            d.set_item("failed", p.failed)?;
            d.set_item("held", p.held)?;
            d.set_item("elapsed_s", now.duration_since(self.started).as_secs_f64())?;
            callback.call1(py, (d,)).map(drop)
        })
        .map_err(Error::Python)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detach::enter_native;
    use pyo3::types::PyList;

    #[test]
    fn reports_are_throttled_and_the_last_one_always_goes_out() {
        Python::initialize();
        Python::attach(|py| {
            let seen = PyList::empty(py);
            let callback = seen.getattr("append").unwrap();
            let r = Reporter::with_interval(Some(&callback), Duration::from_secs(3600)).unwrap();
            enter_native(py, || {
                for done in 1..=1000u64 {
                    let p = Progress {
                        phase: "validate",
                        done,
                        total: Some(1000),
                        ok: done,
                        ..Progress::default()
                    };
                    r.report(&p, done == 1000)?;
                }
                Ok(())
            })
            .unwrap();
            // The first report, then nothing within the hour, then the final one.
            assert_eq!(seen.len(), 2);
            let last = seen.get_item(1).unwrap();
            assert_eq!(
                last.get_item("done").unwrap().extract::<u64>().unwrap(),
                1000
            );
            assert_eq!(
                last.get_item("total").unwrap().extract::<u64>().unwrap(),
                1000
            );
            assert_eq!(
                last.get_item("phase").unwrap().extract::<String>().unwrap(),
                "validate"
            );
        });
    }

    #[test]
    fn an_exception_in_the_callback_stops_the_work_and_comes_out_unchanged() {
        Python::initialize();
        Python::attach(|py| {
            let callback = py
                .eval(
                    c"lambda p: (_ for _ in ()).throw(LookupError('stop'))",
                    None,
                    None,
                )
                .unwrap();
            let r = Reporter::new(Some(&callback)).unwrap();
            let mut reached = 0;
            let err = enter_native(py, || {
                for done in 1..=10u64 {
                    reached = done;
                    r.report(
                        &Progress {
                            phase: "integrate",
                            done,
                            ..Progress::default()
                        },
                        false,
                    )?;
                }
                Ok(())
            })
            .unwrap_err();
            assert_eq!(reached, 1);
            assert!(err.is_instance_of::<pyo3::exceptions::PyLookupError>(py));
            assert!(err.to_string().contains("stop"));

            let not_callable = 3i32.into_pyobject(py).unwrap();
            assert!(Reporter::new(Some(not_callable.as_any())).is_err());
        });
    }
}
