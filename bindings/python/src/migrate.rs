//! `sig_voip.migrate(path, config, apply=False, progress=None, *, actor, company=None)`: the
//! migration of a historical CSV (format: `docs/migration.md`) — the same reader, mapping,
//! de-duplication, dry run and pipeline as `sig migrate` (sig-core's [`migrate`]).
//!
//! The run happens with the GIL released ([`enter_native`]) on a tokio runtime the call owns.
//! `progress(done, total)` is called with the GIL held as rows finish; if it raises (a
//! `KeyboardInterrupt` included, which is also checked when there is no callback) the run
//! stops after the chunk in flight — safely: running again goes on from there — and the
//! exception is raised.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use sig_core::authz::Policy;
use sig_core::config::{Config, ConfigError, ProcessSecrets, StoreConfig};
use sig_core::ids::{CompanyId, UserId};
use sig_core::migrate::{
    Layout, MigrateError, MigrationOptions, MigrationRow, Progress, detect_delimiter, migrate,
};
use sig_core::pipeline::{
    CompanyHandle, Pipeline, PipelineError, ServerHandle, ServerInfo, Settings, SystemClock,
};
use sig_core::ports::ProposalSource;
use sig_core::problem::{Code, Problems};
use sig_core::store::{Actor, Store};

use crate::detach::enter_native;
use crate::errors::Error;

fn config_error(field: &str, message: impl Into<String>) -> Error {
    let mut p = Problems::new();
    p.add(field, Code::Inconsistent, message);
    Error::Config(ConfigError::Invalid(p))
}

fn store_error(e: impl std::fmt::Display) -> Error {
    Error::Store {
        message: e.to_string(),
        retryable: false,
    }
}

/// Read a migration CSV (delimiter `,` or `;` from the header line; unreadable rows become
/// rejected rows). Keep in step with `sig_cli::cmd::migrate::read_csv_bytes`.
fn read_csv(path: &Path) -> Result<(Layout, Vec<MigrationRow>), Error> {
    let bytes = std::fs::read(path).map_err(|e| {
        let mut p = Problems::new();
        p.add(
            "path",
            Code::UnknownReference,
            format!("cannot read {}: {e}", path.display()),
        );
        Error::Validation(p)
    })?;
    let first_line = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(detect_delimiter(&String::from_utf8_lossy(first_line)))
        .flexible(true)
        .from_reader(bytes.as_slice());
    let header = reader.headers().map_err(|e| {
        let mut p = Problems::new();
        p.add(
            "header",
            Code::InvalidFormat,
            format!("the header cannot be read: {e}"),
        );
        Error::Validation(p)
    })?;
    let names: Vec<&str> = header.iter().collect();
    let layout = Layout::from_header(&names).map_err(Error::Validation)?;
    let mut rows = Vec::new();
    let mut record = csv::ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let row = record.position().map_or(0, |p| p.line());
                let fields: Result<Vec<String>, _> = record
                    .iter()
                    .map(|f| String::from_utf8(f.to_vec()))
                    .collect();
                rows.push(match fields {
                    Ok(fields) => MigrationRow::new(row, fields),
                    Err(_) => MigrationRow {
                        row,
                        fields: Vec::new(),
                        unreadable: Some(
                            "the row is not UTF-8 text: save the file as UTF-8".into(),
                        ),
                    },
                });
            }
            Err(e) if matches!(e.kind(), csv::ErrorKind::Io(_)) => {
                return Err(store_error(format!("reading {}: {e}", path.display())));
            }
            Err(e) => rows.push(MigrationRow {
                row: e.position().map_or(0, |p| p.line()),
                fields: Vec::new(),
                unreadable: Some(format!("the row cannot be read: {e}")),
            }),
        }
    }
    Ok((layout, rows))
}

/// The pipeline for a configuration (as `sig` wires it), and the Omie clients whose limit
/// state is kept in the store.
async fn pipeline(
    config: &Config,
    lease: Duration,
) -> Result<(Arc<Pipeline>, Vec<(String, sig_omie::OmieClient)>), Error> {
    let StoreConfig::Sqlite(path) = &config.store else {
        return Err(config_error(
            "store",
            "store.postgres is not available in this build; use store.sqlite",
        ));
    };
    let store: Arc<dyn Store> =
        Arc::new(sig_store_sqlite::SqliteStore::open(path).map_err(store_error)?);
    let catalog = Arc::new(config.catalog.clone());
    let mut omie = BTreeMap::new();
    let mut clients = Vec::new();
    for (id, account) in &config.omie_accounts {
        let key = format!("omie:{id}:breaker");
        let saved = store
            .limit_state(&key)
            .await
            .map_err(store_error)?
            .and_then(|v| serde_json::from_value::<sig_omie::BreakerState>(v).ok());
        let client = sig_omie::OmieClient::from_account(account)
            .breaker_state(saved)
            .build()
            .map_err(|e| config_error(&format!("accounts.omie.{id}"), e.to_string()))?;
        clients.push((key, client.clone()));
        omie.insert(id.clone(), Arc::new(sig_omie::OmieErp::new(client)));
    }
    let mut companies = Vec::new();
    for c in &config.companies {
        let erp = omie
            .get(&c.omie_account)
            .cloned()
            .ok_or_else(|| config_error(&format!("companies.{}", c.id), "no such Omie account"))?;
        // Pending proposals of the store are run too: they need their source.
        let source = match config.docsales_accounts.get(&c.docsales_account) {
            Some(a) => Some(Arc::new(sig_docsales::DocSalesSource::new(
                sig_docsales::DocSalesClient::from_account(a).map_err(|e| {
                    config_error(&format!("accounts.docsales.{}", a.id), e.to_string())
                })?,
                catalog.clone(),
            )) as Arc<dyn ProposalSource>),
            None => None,
        };
        companies.push(CompanyHandle {
            id: c.id.clone(),
            hold_for_review: c.hold_for_review,
            erp,
            source,
        });
    }
    let mut servers = Vec::new();
    for s in &config.servers {
        let client = sig_next::NextClient::from_server(s)
            .build()
            .map_err(|e| config_error(&format!("servers.{}", s.id), e.to_string()))?;
        servers.push(ServerHandle {
            info: ServerInfo::from(s),
            platform: Arc::new(client),
        });
    }
    let settings = Settings {
        lease,
        ..Settings::default()
    };
    Ok((
        Arc::new(Pipeline::new(
            store,
            companies,
            servers,
            catalog,
            Arc::new(SystemClock),
            settings,
        )),
        clients,
    ))
}

/// Any serde value as Python objects (dicts, lists, str, int, float, bool, None).
fn to_py<'py>(py: Python<'py>, v: &serde_json::Value) -> PyResult<Bound<'py, PyAny>> {
    use serde_json::Value;
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => b.into_pyobject(py)?.to_owned().into_any(),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.into_pyobject(py)?.into_any(),
            (None, Some(u)) => u.into_pyobject(py)?.into_any(),
            _ => n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any(),
        },
        Value::String(s) => s.into_pyobject(py)?.into_any(),
        Value::Array(a) => {
            let l = PyList::empty(py);
            for x in a {
                l.append(to_py(py, x)?)?;
            }
            l.into_any()
        }
        Value::Object(o) => {
            let d = PyDict::new(py);
            for (k, x) in o {
                d.set_item(k, to_py(py, x)?)?;
            }
            d.into_any()
        }
    })
}

/// Migrate the customers of a CSV file (format: `docs/migration.md`).
///
/// A dry run unless `apply=True`: every row is validated, de-duplicated by CPF/CNPJ in the
/// file, checked against SIG's store and against Omie, and the report says what would
/// happen. With `apply=True` rows are registered (source key `sig`/customer id) and
/// integrated; running again finishes what an interrupted run left and creates nothing
/// twice. `actor` is a user of `sig.toml` whose profile the policy grants `migrate`;
/// `company` is needed when `sig.toml` lists several. `progress(done, total)` is called as
/// rows finish. Returns `{"rows": [...], "summary": {...}}` (each row `{"row", "outcome",
/// ...}`, as `sig migrate --json --all` prints them).
#[pyfunction]
#[pyo3(name = "migrate", signature = (path, config, apply=false, progress=None, *, actor, company=None, lease=60.0))]
#[allow(clippy::too_many_arguments)]
fn migrate_csv<'py>(
    py: Python<'py>,
    path: PathBuf,
    config: PathBuf,
    apply: bool,
    progress: Option<Py<PyAny>>,
    actor: &str,
    company: Option<&str>,
    lease: f64,
) -> PyResult<Bound<'py, PyAny>> {
    let actor = actor.to_owned();
    let company = company.map(str::to_owned);
    let mut callback_error: Option<PyErr> = None;
    let report = {
        let callback_error = &mut callback_error;
        enter_native(py, move || {
            let config = Config::load(&config, &ProcessSecrets)?;
            let user: UserId = actor
                .parse()
                .map_err(|e: sig_core::Invalid| Error::Validation(Problems(vec![e.at("actor")])))?;
            let profile = config.user(&user).map(|u| u.profile);
            let company: CompanyId = match company {
                Some(c) => c.parse().map_err(|e: sig_core::Invalid| {
                    Error::Validation(Problems(vec![e.at("company")]))
                })?,
                None => match config.companies.as_slice() {
                    [only] => only.id.clone(),
                    _ => {
                        return Err(config_error(
                            "companies",
                            "sig.toml lists several companies (or none): pass company=",
                        ));
                    }
                },
            };
            let (layout, rows) = read_csv(&path)?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .map_err(store_error)?;
            runtime.block_on(async {
                let lease = Duration::from_secs_f64(lease.clamp(1.0, 3600.0));
                let (pipeline, clients) = pipeline(&config, lease).await?;
                let mut options = MigrationOptions::new(
                    company,
                    path.file_name()
                        .map_or_else(|| "file".to_owned(), |n| n.to_string_lossy().into_owned()),
                );
                options.apply = apply;
                let mut on_progress = |p: Progress| -> ControlFlow<()> {
                    let result = Python::attach(|py| {
                        py.check_signals()?;
                        if let Some(cb) = &progress {
                            cb.call1(py, (p.done, p.total))?;
                        }
                        Ok::<(), PyErr>(())
                    });
                    match result {
                        Ok(()) => ControlFlow::Continue(()),
                        Err(e) => {
                            *callback_error = Some(e);
                            ControlFlow::Break(())
                        }
                    }
                };
                let result = migrate(
                    &pipeline,
                    &Policy::builtin(),
                    &Actor::User(user),
                    profile,
                    &options,
                    &layout,
                    rows,
                    &mut on_progress,
                )
                .await;
                for (key, client) in &clients {
                    let v = serde_json::to_value(client.breaker_state()).unwrap_or_default();
                    pipeline
                        .store()
                        .set_limit_state(key, &v)
                        .await
                        .map_err(store_error)?;
                }
                match result {
                    Ok(r) => Ok(Some(serde_json::to_value(&r).map_err(store_error)?)),
                    Err(MigrateError::Stopped { .. }) => Ok(None),
                    Err(MigrateError::Denied(d)) => Err(Error::Denied(d)),
                    Err(MigrateError::Header(p)) => Err(Error::Validation(p)),
                    Err(MigrateError::Pipeline(PipelineError::UnknownCompany(c))) => Err(
                        config_error("company", format!("{c} is not a company of sig.toml")),
                    ),
                    Err(MigrateError::Pipeline(e)) => Err(store_error(e)),
                }
            })
        })?
    };
    if let Some(e) = callback_error {
        return Err(e);
    }
    match report {
        Some(v) => to_py(py, &v),
        None => Err(pyo3::exceptions::PyRuntimeError::new_err(
            "the migration stopped before its end",
        )),
    }
}

/// Add `migrate` to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(migrate_csv, m)?)
}
