//! History for BI: integrations, audit events and KPIs from a SIG store, read-only, as
//! column-oriented data (`dict[str, list]`) that `pandas.DataFrame(x)` and
//! `polars.DataFrame(x)` take as they are.
//!
//! The store is opened with `SqliteStore::open_read_only` (nothing can be written through
//! it), read through sig-core's `Store` port like every other reader of history, and the KPIs
//! are sig-core's ([`sig_core::kpi`]), the very numbers `sig demo` and the reports print.
//!
//! Personal data (tax id, e-mail, phone; free text in audit details) is masked by default with
//! sig-core's rules ([`sig_core::mask`]). `mask=False` is an export of personal data: the
//! history must have been opened with `actor=` naming a user of `config` whose profile the
//! authorization policy grants `export_personal_data` (the built-in policy: admin only);
//! otherwise it raises `AccessDeniedError`.
//!
//! Times: stored instants come out as timezone-aware `datetime` in UTC; days (volume per day)
//! as `date` in the business time zone (America/Sao_Paulo). Filters take an aware `datetime`,
//! a naive one or a `date` (read in America/Sao_Paulo), or ISO 8601 text.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Mutex;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};
use pyo3::IntoPyObjectExt;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDate, PyDateTime, PyDict, PyList, PyString};
use sig_core::TaxId;
use sig_core::authz::{Action, Policy};
use sig_core::config::Profile;
use sig_core::kpi::{self, BUSINESS_TZ};
use sig_core::mask;
use sig_core::store::{
    Actor, AuditEvent, AuditFilter, AuditOutcome, Integration, IntegrationFilter,
    IntegrationStatus, Store,
};
use sig_store_sqlite::SqliteStore;

use crate::detach::{block_on, enter_native};
use crate::errors::Error;
use crate::sigtoml::ConfigSource;

// ---------------------------------------------------------------------------------------------
// Filters

/// A time bound from Python: aware `datetime`, naive `datetime` or `date` (America/Sao_Paulo),
/// or ISO 8601 text.
fn instant(arg: &Bound<'_, PyAny>, name: &str) -> PyResult<DateTime<Utc>> {
    let py = arg.py();
    if let Ok(s) = arg.cast::<PyString>() {
        let parsed = py
            .import("datetime")?
            .getattr("datetime")?
            .call_method1("fromisoformat", (s,))
            .map_err(|e| {
                PyValueError::new_err(format!("{name}: not an ISO 8601 date or time ({e})"))
            })?;
        return instant(&parsed, name);
    }
    if arg.is_instance_of::<PyDateTime>() {
        if let Ok(t) = arg.extract::<DateTime<FixedOffset>>() {
            return Ok(t.with_timezone(&Utc));
        }
        let naive: NaiveDateTime = arg.extract()?;
        return local(naive, name);
    }
    if arg.is_instance_of::<PyDate>() {
        let day: NaiveDate = arg.extract()?;
        return local(day.and_hms_opt(0, 0, 0).expect("midnight exists"), name);
    }
    Err(PyTypeError::new_err(format!(
        "{name} must be a datetime, a date or ISO 8601 text, not {}",
        arg.get_type().name()?
    )))
}

/// A wall-clock time in the business time zone as an instant.
fn local(t: NaiveDateTime, name: &str) -> PyResult<DateTime<Utc>> {
    BUSINESS_TZ
        .from_local_datetime(&t)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| {
            PyValueError::new_err(format!(
                "{name}: {t} does not exist in America/Sao_Paulo (a daylight-saving gap)"
            ))
        })
}

fn bound(arg: Option<&Bound<'_, PyAny>>, name: &str) -> PyResult<Option<DateTime<Utc>>> {
    arg.filter(|a| !a.is_none())
        .map(|a| instant(a, name))
        .transpose()
}

/// `None`, one `str`, or an iterable of `str`.
fn names(arg: Option<&Bound<'_, PyAny>>, name: &str) -> PyResult<Vec<String>> {
    let Some(arg) = arg.filter(|a| !a.is_none()) else {
        return Ok(Vec::new());
    };
    if let Ok(s) = arg.cast::<PyString>() {
        return Ok(vec![s.to_str()?.to_owned()]);
    }
    let mut out = Vec::new();
    for item in arg
        .try_iter()
        .map_err(|_| PyTypeError::new_err(format!("{name} must be a str or an iterable of str")))?
    {
        let item = item?;
        let s = item
            .cast::<PyString>()
            .map_err(|_| PyTypeError::new_err(format!("{name} must hold str values only")))?;
        out.push(s.to_str()?.to_owned());
    }
    Ok(out)
}

/// Whether `actor` matches a filter value: its full form (`system`, `webhook:demo`,
/// `user:ana`) or its kind (`webhook`, `user`: any of them).
fn actor_matches(actor: &Actor, patterns: &[String]) -> bool {
    if patterns.is_empty() {
        return true;
    }
    let full = actor.to_string();
    let kind = match actor {
        Actor::System => "system",
        Actor::Webhook(_) => "webhook",
        Actor::User(_) => "user",
    };
    patterns.iter().any(|p| *p == full || p == kind)
}

/// Whether a step key matches a filter value: the key itself (`contract:0`) or its step name
/// (`contract`).
fn step_matches(key: Option<&str>, patterns: &[String]) -> bool {
    if patterns.is_empty() {
        return true;
    }
    key.is_some_and(|k| patterns.iter().any(|p| p == k || p == kpi::step_name(k)))
}

fn statuses(values: Vec<String>) -> PyResult<Vec<IntegrationStatus>> {
    values
        .iter()
        .map(|v| {
            IntegrationStatus::parse(v).ok_or_else(|| {
                PyValueError::new_err(format!(
                    "unknown status {v:?}; expected pending, held, done, failed or cancelled"
                ))
            })
        })
        .collect()
}

fn outcomes(values: Vec<String>) -> PyResult<Vec<AuditOutcome>> {
    values
        .iter()
        .map(|v| {
            serde_json::from_value::<AuditOutcome>(serde_json::Value::String(v.clone())).map_err(
                |_| {
                    PyValueError::new_err(format!(
                        "unknown outcome {v:?}; expected ok, error, denied, skipped or held"
                    ))
                },
            )
        })
        .collect()
}

fn outcome_name(o: AuditOutcome) -> &'static str {
    match o {
        AuditOutcome::Ok => "ok",
        AuditOutcome::Error => "error",
        AuditOutcome::Denied => "denied",
        AuditOutcome::Skipped => "skipped",
        AuditOutcome::Held => "held",
    }
}

// ---------------------------------------------------------------------------------------------
// Columns

/// Column-oriented output: the columns in order, each a Python list.
struct Columns<'py> {
    py: Python<'py>,
    cols: Vec<(&'static str, Bound<'py, PyList>)>,
}

impl<'py> Columns<'py> {
    fn new(py: Python<'py>, names: &[&'static str]) -> Self {
        Columns {
            py,
            cols: names.iter().map(|n| (*n, PyList::empty(py))).collect(),
        }
    }

    /// Append one row, the values in column order.
    fn push(&self, row: Vec<Bound<'py, PyAny>>) -> PyResult<()> {
        debug_assert_eq!(row.len(), self.cols.len());
        for ((_, col), v) in self.cols.iter().zip(row) {
            col.append(v)?;
        }
        Ok(())
    }

    fn into_dict(self) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(self.py);
        for (name, col) in self.cols {
            d.set_item(name, col)?;
        }
        Ok(d)
    }
}

/// `v` as a Python object.
fn obj<'py, T: IntoPyObject<'py>>(py: Python<'py>, v: T) -> PyResult<Bound<'py, PyAny>> {
    v.into_bound_py_any(py)
}

/// The columns of [`History::integrations`], in order.
pub const INTEGRATION_COLUMNS: &[&str] = &[
    "integration_id",
    "company",
    "source_account",
    "proposal_id",
    "proposal_code",
    "status",
    "step",
    "actor",
    "received_at",
    "finished_at",
    "integration_ms",
    "held_ms",
    "attempts",
    "customer_id",
    "customer_kind",
    "tax_id",
    "email",
    "phone",
    "problems",
    "failure_step",
    "failure_system",
    "failure_code",
    "failure_reason",
    "failure_retryable",
];

/// The columns of [`History::audit_events`], in order.
pub const AUDIT_COLUMNS: &[&str] = &[
    "event_id",
    "at",
    "integration_id",
    "actor",
    "action",
    "step",
    "system",
    "call",
    "outcome",
    "duration_ms",
    "summary",
    "details",
];

/// The personal columns of one integration: (customer kind, tax id, main e-mail, main phone).
type Personal = (
    Option<&'static str>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn personal(i: &Integration, masked: bool) -> Personal {
    let Some(c) = i.raw.as_ref().map(|r| &r.customer) else {
        return (None, None, None, None);
    };
    let parsed = c.tax_id.as_deref().and_then(|t| t.parse::<TaxId>().ok());
    let kind = parsed.as_ref().map(|t| match t {
        TaxId::Cpf(_) => "person",
        TaxId::Cnpj(_) => "company",
    });
    let tax_id = c.tax_id.as_deref().map(|t| match (&parsed, masked) {
        (Some(p), true) => mask::mask_tax_id(p),
        (None, true) => mask::MASKED.to_owned(),
        (Some(p), false) => p.as_str().to_owned(),
        (None, false) => t.to_owned(),
    });
    let email = c.emails.first().map(|e| {
        if masked {
            mask::mask_email(e)
        } else {
            e.clone()
        }
    });
    let phone = c.phones.first().map(|p| {
        if masked {
            mask::mask_phone(p)
        } else {
            p.clone()
        }
    });
    (kind, tax_id, email, phone)
}

fn integration_row<'py>(
    p: Python<'py>,
    i: &Integration,
    masked: bool,
) -> PyResult<Vec<Bound<'py, PyAny>>> {
    let (kind, tax_id, email, phone) = personal(i, masked);
    let f = i.failure.as_ref();
    Ok(vec![
        obj(p, i.id.to_string())?,
        obj(p, i.company.as_str())?,
        obj(p, i.source.account.as_str())?,
        obj(p, i.source.proposal_id.as_str())?,
        obj(p, i.raw.as_ref().and_then(|r| r.code.as_deref()))?,
        obj(p, i.status.as_str())?,
        obj(p, i.step.as_deref())?,
        obj(p, i.actor.to_string())?,
        obj(p, i.received_at)?,
        obj(p, i.finished_at)?,
        obj(p, i.integration_ms())?,
        obj(p, i.held_ms)?,
        obj(p, i.attempts)?,
        obj(p, i.customer.as_ref().map(ToString::to_string))?,
        obj(p, kind)?,
        obj(p, tax_id)?,
        obj(p, email)?,
        obj(p, phone)?,
        obj(p, i.problems.iter().count())?,
        obj(p, f.map(|f| f.step.as_str()))?,
        obj(
            p,
            f.and_then(|f| f.system.as_ref().map(ToString::to_string)),
        )?,
        obj(p, f.and_then(|f| f.code.as_deref()))?,
        obj(p, f.map(|f| f.reason.as_str()))?,
        obj(p, f.map(|f| f.retryable))?,
    ])
}

fn audit_row<'py>(
    p: Python<'py>,
    e: &AuditEvent,
    masked: bool,
) -> PyResult<Vec<Bound<'py, PyAny>>> {
    let details = if masked {
        mask::mask_json(&e.details)
    } else {
        e.details.clone()
    };
    let details = (!details.is_null()).then(|| details.to_string());
    Ok(vec![
        obj(p, e.id.to_string())?,
        obj(p, e.at)?,
        obj(p, e.integration.as_ref().map(ToString::to_string))?,
        obj(p, e.actor.to_string())?,
        obj(p, e.action.as_str())?,
        obj(
            p,
            e.action
                .starts_with("step.")
                .then(|| kpi::step_name(&e.action)),
        )?,
        obj(p, e.system.as_ref().map(ToString::to_string))?,
        obj(p, e.call.as_deref())?,
        obj(p, outcome_name(e.outcome))?,
        obj(p, e.duration_ms)?,
        obj(p, e.summary.as_str())?,
        obj(p, details)?,
    ])
}

// ---------------------------------------------------------------------------------------------
// The History class

/// A SIG store opened read-only for BI (`sig_voip.History`, from `sig_voip.open_history`).
#[pyclass(name = "History", module = "sig_voip", frozen)]
pub struct History {
    path: PathBuf,
    store: Mutex<Option<SqliteStore>>,
    actor: Option<Actor>,
    profile: Option<Profile>,
}

impl History {
    /// The open store (a cheap clone), or a `StoreError` once closed.
    fn store(&self) -> Result<SqliteStore, Error> {
        self.store
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| Error::Store {
                message: format!("the history of {} is closed", self.path.display()),
                retryable: false,
            })
    }

    /// `Ok` when personal data may go out unmasked (see the module docs).
    fn check_unmasked(&self, mask: bool) -> PyResult<()> {
        if mask {
            return Ok(());
        }
        let Some(actor) = &self.actor else {
            return Err(PyValueError::new_err(
                "mask=False exports personal data: open the history with actor=\"<user id>\" \
                 and the config= that lists that user",
            ));
        };
        Policy::builtin()
            .check(actor, self.profile, Action::ExportPersonalData)
            .map_err(|d| PyErr::from(Error::from(d)))
    }

    /// Integrations matching the store-side filter, then the step and actor filters.
    fn read_integrations(
        &self,
        filter: IntegrationFilter,
        steps: &[String],
        actors: &[String],
    ) -> Result<Vec<Integration>, Error> {
        let store = self.store()?;
        let all = block_on(async move { store.list(&filter).await })??;
        Ok(all
            .into_iter()
            .filter(|i| step_matches(i.step.as_deref(), steps) && actor_matches(&i.actor, actors))
            .collect())
    }
}

#[pymethods]
impl History {
    /// Open the SIG store at `path` read-only. `actor` (a user id of `config`) is who reads,
    /// for `mask=False`; `config` is a `sig.toml` path or text (its users; no secrets read).
    #[new]
    #[pyo3(signature = (path, *, actor=None, config=None))]
    fn new(
        py: Python<'_>,
        path: PathBuf,
        actor: Option<&str>,
        config: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let users = match ConfigSource::from_arg(config)? {
            Some(source) => enter_native(py, move || source.users())?,
            None => Vec::new(),
        };
        let actor = actor
            .map(|a| {
                a.parse()
                    .map(Actor::User)
                    .map_err(|e| PyValueError::new_err(format!("actor: {e}")))
            })
            .transpose()?;
        let profile = match &actor {
            Some(Actor::User(id)) => users.iter().find(|u| &u.id == id).map(|u| u.profile),
            _ => None,
        };
        let open_path = path.clone();
        let store = enter_native(py, move || {
            if !open_path.is_file() {
                return Err(Error::Store {
                    message: format!("no SIG store at {}", open_path.display()),
                    retryable: false,
                });
            }
            SqliteStore::open_read_only(&open_path).map_err(|e| {
                // Opening fails on what the file is (not SIG's, a newer schema), which
                // waiting does not change; only a lock is worth retrying.
                let retryable = e.to_string().contains("locked");
                Error::Store {
                    message: e.to_string(),
                    retryable,
                }
            })
        })?;
        Ok(History {
            path,
            store: Mutex::new(Some(store)),
            actor,
            profile,
        })
    }

    /// The store file.
    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }

    /// Who reads (`user:ana`), or `None`.
    #[getter]
    fn actor(&self) -> Option<String> {
        self.actor.as_ref().map(ToString::to_string)
    }

    /// Whether [`close`](Self::close) was called.
    #[getter]
    fn closed(&self) -> bool {
        self.store
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_none()
    }

    /// Integrations received in `[since, until)`, with `status`, last `step` (a step name such
    /// as `contract` or a key such as `contract:0`) and `actor` (`system`, `webhook`,
    /// `webhook:ACCOUNT`, `user`, `user:ID`) among the values given, oldest first.
    #[pyo3(signature = (*, since=None, until=None, status=None, step=None, actor=None, company=None, mask=true))]
    #[allow(clippy::too_many_arguments)]
    fn integrations<'py>(
        &self,
        py: Python<'py>,
        since: Option<&Bound<'py, PyAny>>,
        until: Option<&Bound<'py, PyAny>>,
        status: Option<&Bound<'py, PyAny>>,
        step: Option<&Bound<'py, PyAny>>,
        actor: Option<&Bound<'py, PyAny>>,
        company: Option<&str>,
        mask: bool,
    ) -> PyResult<Bound<'py, PyDict>> {
        self.check_unmasked(mask)?;
        let filter =
            integration_filter(statuses(names(status, "status")?)?, since, until, company)?;
        let steps = names(step, "step")?;
        let actors = names(actor, "actor")?;
        let rows = enter_native(py, || self.read_integrations(filter, &steps, &actors))?;
        let cols = Columns::new(py, INTEGRATION_COLUMNS);
        for i in &rows {
            cols.push(integration_row(py, i, mask)?)?;
        }
        cols.into_dict()
    }

    /// Audit events at `[since, until)` with `outcome` (`ok`, `error`, `denied`, `skipped`,
    /// `held`), `step` (of `step.*` actions), `actor`, `action` (a prefix such as `step.` or
    /// `notification`) and `integration` (an id) among the values given, oldest first.
    #[pyo3(signature = (*, since=None, until=None, outcome=None, step=None, actor=None, action=None, integration=None, mask=true))]
    #[allow(clippy::too_many_arguments)]
    fn audit_events<'py>(
        &self,
        py: Python<'py>,
        since: Option<&Bound<'py, PyAny>>,
        until: Option<&Bound<'py, PyAny>>,
        outcome: Option<&Bound<'py, PyAny>>,
        step: Option<&Bound<'py, PyAny>>,
        actor: Option<&Bound<'py, PyAny>>,
        action: Option<&str>,
        integration: Option<&str>,
        mask: bool,
    ) -> PyResult<Bound<'py, PyDict>> {
        self.check_unmasked(mask)?;
        let filter = AuditFilter {
            integration: integration
                .map(|i| {
                    i.parse()
                        .map_err(|e| PyValueError::new_err(format!("integration: {e}")))
                })
                .transpose()?,
            since: bound(since, "since")?,
            until: bound(until, "until")?,
            actor: None,
            action_prefix: action.map(str::to_owned),
        };
        let outcomes = outcomes(names(outcome, "outcome")?)?;
        let steps = names(step, "step")?;
        let actors = names(actor, "actor")?;
        let events = enter_native(py, || {
            let store = self.store()?;
            let all = block_on(async move { store.audit(&filter).await })??;
            Ok(all
                .into_iter()
                .filter(|e| outcomes.is_empty() || outcomes.contains(&e.outcome))
                .filter(|e| {
                    steps.is_empty()
                        || (e.action.starts_with("step.")
                            && step_matches(e.action.strip_prefix("step."), &steps))
                })
                .filter(|e| actor_matches(&e.actor, &actors))
                .collect::<Vec<_>>())
        })?;
        let cols = Columns::new(py, AUDIT_COLUMNS);
        for e in &events {
            cols.push(audit_row(py, e, mask)?)?;
        }
        cols.into_dict()
    }

    /// KPIs of the integrations received in `[since, until)` (by `actor`, of `company`):
    /// `{"summary", "failures_per_step", "volume_per_day"}`, each a column-oriented table
    /// (`summary` has one row). Computed by sig-core's `kpi` module.
    #[pyo3(signature = (*, since=None, until=None, actor=None, company=None))]
    fn kpis<'py>(
        &self,
        py: Python<'py>,
        since: Option<&Bound<'py, PyAny>>,
        until: Option<&Bound<'py, PyAny>>,
        actor: Option<&Bound<'py, PyAny>>,
        company: Option<&str>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let filter = integration_filter(Vec::new(), since, until, company)?;
        let actors = names(actor, "actor")?;
        let (summary, held, failures, volume) = enter_native(py, || {
            let since = filter.since;
            let all = self.read_integrations(filter, &[], &actors)?;
            // Step errors come after their integration was received, so `since` bounds them.
            let store = self.store()?;
            let events = block_on(async move {
                store
                    .audit(&AuditFilter {
                        since,
                        action_prefix: Some("step.".into()),
                        ..AuditFilter::default()
                    })
                    .await
            })??;
            let ids: HashSet<_> = all.iter().map(|i| i.id).collect();
            let events: Vec<AuditEvent> = events
                .into_iter()
                .filter(|e| e.integration.is_some_and(|i| ids.contains(&i)))
                .collect();
            Ok((
                kpi::summary(&all),
                kpi::held_time(&all, Utc::now()),
                kpi::failures_per_step(&all, &events),
                kpi::volume_per_day(&all, BUSINESS_TZ),
            ))
        })?;

        let s = Columns::new(
            py,
            &[
                "total",
                "done",
                "failed",
                "held",
                "pending",
                "cancelled",
                "success_rate",
                "failure_rate",
                "mean_integration_ms",
                "median_integration_ms",
                "p95_integration_ms",
                "held_integrations",
                "held_ms_total",
                "mean_held_ms",
            ],
        );
        s.push(vec![
            obj(py, summary.total)?,
            obj(py, summary.done)?,
            obj(py, summary.failed)?,
            obj(py, summary.held)?,
            obj(py, summary.pending)?,
            obj(py, summary.cancelled)?,
            obj(py, summary.success_rate)?,
            obj(py, summary.failure_rate)?,
            obj(py, summary.mean_integration_ms)?,
            obj(py, summary.median_integration_ms)?,
            obj(py, summary.p95_integration_ms)?,
            obj(py, held.integrations)?,
            obj(py, held.total_ms)?,
            obj(py, held.mean_ms)?,
        ])?;
        let f = Columns::new(py, &["step", "failed_integrations", "errors"]);
        for x in &failures {
            f.push(vec![
                obj(py, x.step.as_str())?,
                obj(py, x.failed_integrations)?,
                obj(py, x.errors)?,
            ])?;
        }
        let v = Columns::new(
            py,
            &[
                "day",
                "received",
                "done",
                "failed",
                "held",
                "pending",
                "cancelled",
            ],
        );
        for d in &volume {
            v.push(vec![
                obj(py, d.day)?,
                obj(py, d.received)?,
                obj(py, d.done)?,
                obj(py, d.failed)?,
                obj(py, d.held)?,
                obj(py, d.pending)?,
                obj(py, d.cancelled)?,
            ])?;
        }
        let out = PyDict::new(py);
        out.set_item("summary", s.into_dict()?)?;
        out.set_item("failures_per_step", f.into_dict()?)?;
        out.set_item("volume_per_day", v.into_dict()?)?;
        Ok(out)
    }

    /// Close the store's connections; later reads raise `StoreError`. Closing twice is fine.
    fn close(&self) {
        self.store.lock().unwrap_or_else(|e| e.into_inner()).take();
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (_exc_type, _exc_value, _traceback, /))]
    fn __exit__(
        &self,
        _exc_type: &Bound<'_, PyAny>,
        _exc_value: &Bound<'_, PyAny>,
        _traceback: &Bound<'_, PyAny>,
    ) -> bool {
        self.close();
        false
    }

    fn __repr__(&self) -> String {
        let state = if self.closed() { ", closed" } else { "" };
        format!("History({:?}{state})", self.path.display().to_string())
    }
}

/// Open the SIG store at `path` read-only: `History(path, actor=..., config=...)`.
#[pyfunction]
#[pyo3(signature = (path, *, actor=None, config=None))]
pub fn open_history(
    py: Python<'_>,
    path: PathBuf,
    actor: Option<&str>,
    config: Option<&Bound<'_, PyAny>>,
) -> PyResult<History> {
    History::new(py, path, actor, config)
}

/// Add the history class and its opener to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<History>()?;
    m.add_function(wrap_pyfunction!(open_history, m)?)?;
    Ok(())
}

/// The store filter of `integrations()` and `kpis()`: statuses, a time range, a company.
fn integration_filter(
    statuses: Vec<IntegrationStatus>,
    since: Option<&Bound<'_, PyAny>>,
    until: Option<&Bound<'_, PyAny>>,
    company: Option<&str>,
) -> PyResult<IntegrationFilter> {
    Ok(IntegrationFilter {
        statuses,
        since: bound(since, "since")?,
        until: bound(until, "until")?,
        company: company
            .map(|c| {
                c.parse()
                    .map_err(|e| PyValueError::new_err(format!("company: {e}")))
            })
            .transpose()?,
        limit: None,
        customer: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actor_and_step_filters() {
        let ana = Actor::User("ana".parse().unwrap());
        assert!(actor_matches(&ana, &[]));
        assert!(actor_matches(&ana, &["user".into()]));
        assert!(actor_matches(&ana, &["user:ana".into()]));
        assert!(!actor_matches(&ana, &["user:bob".into(), "system".into()]));
        assert!(actor_matches(
            &Actor::Webhook("demo".into()),
            &["webhook".into()]
        ));
        assert!(step_matches(Some("contract:1"), &["contract".into()]));
        assert!(step_matches(Some("contract:1"), &["contract:1".into()]));
        assert!(!step_matches(Some("contract:1"), &["contract:0".into()]));
        assert!(!step_matches(None, &["done".into()]));
    }

    #[test]
    fn naive_times_and_dates_are_sao_paulo_time() {
        Python::initialize();
        Python::attach(|py| {
            let date = py
                .eval(c"__import__('datetime').date(2026, 11, 24)", None, None)
                .unwrap();
            assert_eq!(
                instant(&date, "since").unwrap(),
                Utc.with_ymd_and_hms(2026, 11, 24, 3, 0, 0).unwrap()
            );
            let text = PyString::new(py, "2026-11-24T10:00:00+00:00");
            assert_eq!(
                instant(text.as_any(), "since").unwrap(),
                Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap()
            );
            let bad = PyString::new(py, "yesterday");
            assert!(instant(bad.as_any(), "since").is_err());
        });
    }
}
