//! [`SqliteStore`]: connections, and the [`Store`] port on SQL.

use std::collections::BTreeMap;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::types::{FromSql, Value};
use rusqlite::{Connection, OpenFlags, Row, params, params_from_iter};
use sig_core::ids::{CompanyId, CustomerId, IntegrationId, ServerId, ServiceOrderId};
use sig_core::ports::SourceKey;
use sig_core::store::{
    Actor, AuditEvent, AuditFilter, Change, CustomerLinks, DirectRegistration, Integration,
    IntegrationCounts, IntegrationFilter, IntegrationStatus, Load, Reservation, StepEntry, Store,
    StoreError,
};
use sig_core::taxid::TaxId;
use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::checkpoint::{Checkpointer, WRITER_AUTOCHECKPOINT};
use crate::codec::{
    Ctx, enum_name, from_json, int, json, parse_enum, parse_ts, ts, ts_opt, ts_saturating, uint,
};
use crate::migrations::{self, SCHEMA_VERSION};
use crate::options::SqliteOptions;
use crate::writer::Writer;

/// The `Store` port on one SQLite file. Cheap to clone (the connections are shared).
///
/// Writes go to one writer thread that owns the writer connection and groups them: the
/// writes queued while it applies one transaction share the next `BEGIN IMMEDIATE`
/// transaction, each in its own savepoint. Reads use a small pool of read-only connections
/// on tokio's blocking threads and run in parallel with the writer (WAL).
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// Stopped first on drop. `None` when opened read-only.
    _checkpointer: Option<Checkpointer>,
    path: PathBuf,
    options: SqliteOptions,
    /// The writer thread (group commit, see [`SqliteStore::write`]). `None` when opened
    /// read-only.
    writer: Option<Writer>,
    readers: Mutex<Vec<Connection>>,
    reader_slots: Arc<Semaphore>,
}

impl Inner {
    /// An idle read connection from the pool, if any.
    fn pooled_reader(&self) -> Option<Connection> {
        self.readers.lock().unwrap_or_else(|e| e.into_inner()).pop()
    }

    /// Give a read connection back to the pool.
    fn pool_reader(&self, conn: Connection) {
        self.readers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(conn);
    }
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .field("read_only", &self.is_read_only())
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

fn configure(conn: &Connection, path: &Path, options: &SqliteOptions) -> Result<(), StoreError> {
    let p = path.display();
    conn.busy_timeout(options.busy_timeout)
        .ctx(|| format!("{p}: setting busy_timeout"))?;
    conn.pragma_update(None, "foreign_keys", true)
        .ctx(|| format!("{p}: enabling foreign keys"))?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

fn open_reader(path: &Path, options: &SqliteOptions) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .ctx(|| format!("opening {} for reading", path.display()))?;
    configure(&conn, path, options)?;
    conn.pragma_update(None, "query_only", true)
        .ctx(|| format!("{}: setting query_only", path.display()))?;
    Ok(conn)
}

fn read_only_error(path: &Path, op: &str) -> StoreError {
    StoreError::Unavailable(format!(
        "{op} refused: the store {} is opened read-only",
        path.display()
    ))
}

impl SqliteStore {
    /// Open (or create) the store at `path` with the default [`SqliteOptions`], migrating its
    /// schema to [`SCHEMA_VERSION`](crate::SCHEMA_VERSION).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(path, SqliteOptions::default())
    }

    /// Open (or create) the store at `path`, migrating its schema.
    pub fn open_with(path: impl AsRef<Path>, options: SqliteOptions) -> Result<Self, StoreError> {
        Self::open_at(path.as_ref(), options, SCHEMA_VERSION)
    }

    /// Open read-write and migrate up to `target` (tests build older files with it).
    pub(crate) fn open_at(
        path: &Path,
        options: SqliteOptions,
        target: u32,
    ) -> Result<Self, StoreError> {
        let p = path.display();
        let mut w = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .ctx(|| format!("opening {p}"))?;
        configure(&w, path, &options)?;
        // Refuse a foreign or newer file before changing anything in it.
        migrations::header(&w, path)?;
        let mode: String = w
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .ctx(|| format!("{p}: switching to WAL"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Unavailable(format!(
                "{p}: WAL mode refused (journal_mode is {mode}); is the file on a network share?"
            )));
        }
        w.pragma_update(None, "synchronous", options.synchronous.as_str())
            .ctx(|| format!("{p}: setting synchronous"))?;
        let level: i64 = w
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .ctx(|| format!("{p}: reading synchronous"))?;
        if level != options.synchronous.level() {
            return Err(StoreError::Unavailable(format!(
                "{p}: synchronous = {} was not applied (got {level})",
                options.synchronous
            )));
        }
        w.pragma_update(None, "wal_autocheckpoint", WRITER_AUTOCHECKPOINT)
            .ctx(|| format!("{p}: setting wal_autocheckpoint"))?;
        migrations::migrate(&mut w, path, target)?;
        let reader = open_reader(path, &options)?;
        w.pragma_update(None, "cache_size", WRITER_CACHE_KIB)
            .ctx(|| format!("{p}: setting cache_size"))?;
        // Savepoint journals (one savepoint per write of a group) stay in memory.
        w.pragma_update(None, "temp_store", "MEMORY")
            .ctx(|| format!("{p}: setting temp_store"))?;
        let checkpointer = Checkpointer::start(path, &options)?;
        let writer = Writer::start(w, path)?;
        tracing::debug!(path = %p, synchronous = %options.synchronous, "sqlite store opened");
        Ok(Self::assemble(
            path,
            options,
            Some((writer, checkpointer)),
            reader,
        ))
    }

    /// Open an existing store read-only (`SQLITE_OPEN_READ_ONLY`), for BI, Python and
    /// reports: every read works, every write fails with `StoreError::Unavailable` saying the
    /// store is read-only. The file must exist and be at this build's schema version.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_read_only_with(path, SqliteOptions::default())
    }

    /// [`open_read_only`](Self::open_read_only) with options (`synchronous` is unused).
    pub fn open_read_only_with(
        path: impl AsRef<Path>,
        options: SqliteOptions,
    ) -> Result<Self, StoreError> {
        let path = path.as_ref();
        let p = path.display();
        let reader = open_reader(path, &options)?;
        let version = migrations::header(&reader, path)?;
        if version < SCHEMA_VERSION {
            return Err(StoreError::Unavailable(format!(
                "{p} has schema version {version}, older than the {SCHEMA_VERSION} this build \
                 reads: open it read-write once (SqliteStore::open) to migrate it"
            )));
        }
        Ok(Self::assemble(path, options, None, reader))
    }

    fn assemble(
        path: &Path,
        options: SqliteOptions,
        writer: Option<(Writer, Checkpointer)>,
        reader: Connection,
    ) -> Self {
        let slots = options.readers.max(1);
        let (writer, checkpointer) = writer.unzip();
        SqliteStore {
            inner: Arc::new(Inner {
                _checkpointer: checkpointer,
                path: path.to_path_buf(),
                writer,
                readers: Mutex::new(vec![reader]),
                reader_slots: Arc::new(Semaphore::new(slots)),
                options,
            }),
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Whether the store was opened read-only.
    pub fn is_read_only(&self) -> bool {
        self.inner.writer.is_none()
    }

    /// The options it was opened with.
    pub fn options(&self) -> &SqliteOptions {
        &self.inner.options
    }

    /// The file's schema version (`PRAGMA user_version`).
    pub async fn schema_version(&self) -> Result<u32, StoreError> {
        self.read("schema_version", |c| {
            let v: i64 = c
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .ctx(|| "reading user_version")?;
            uint(v).map_err(StoreError::Corrupt)
        })
        .await
    }

    /// Run SQLite's `PRAGMA integrity_check`: `Ok` when the file is consistent, else
    /// `StoreError::Corrupt` with SQLite's findings.
    pub async fn integrity_check(&self) -> Result<(), StoreError> {
        self.read("integrity_check", |c| {
            let mut st = c
                .prepare("PRAGMA integrity_check")
                .ctx(|| "integrity_check")?;
            let found: Vec<String> = st
                .query_map([], |r| r.get(0))
                .ctx(|| "integrity_check")?
                .collect::<Result<_, _>>()
                .ctx(|| "integrity_check")?;
            if found == ["ok"] {
                Ok(())
            } else {
                Err(StoreError::Corrupt(format!(
                    "integrity check failed: {}",
                    found.join("; ")
                )))
            }
        })
        .await
    }

    /// Run `f` atomically on the writer connection (group commit, see [`Writer`]): alone it
    /// costs one transaction; under load one transaction carries many writes, and one write's
    /// failure rolls back that write alone. `f` may run twice (the writer's optimistic pass is
    /// rolled back when another write of its group fails), so it only reads and writes the
    /// database and what it captured.
    async fn write<T, F>(&self, op: &'static str, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnMut(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let Some(writer) = &self.inner.writer else {
            return Err(read_only_error(&self.inner.path, op));
        };
        writer.write(op, f).await
    }

    /// Run `f`, a read bounded by a key (one integration's journal, one customer's links, a
    /// tax id's customer, one order's reservation, the loads of the configured servers), on
    /// the caller's thread when a pooled connection is idle: such a read takes microseconds,
    /// less than the two thread hand-offs of [`read`](Self::read) (about 3 % of an
    /// integration's CPU in the end-to-end benchmark), and a WAL reader does not wait for the
    /// writer. With no idle connection it is [`read`](Self::read). A panic in `f` is an
    /// error, as there, and the connection it used is not pooled again.
    async fn read_point<T, F>(&self, op: &'static str, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let idle = self
            .inner
            .reader_slots
            .clone()
            .try_acquire_owned()
            .ok()
            .and_then(|permit| Some((permit, self.inner.pooled_reader()?)));
        let Some((_permit, mut conn)) = idle else {
            return self.read(op, f).await;
        };
        let r = catch_unwind(AssertUnwindSafe(|| f(&mut conn)));
        match r {
            Ok(r) => {
                self.inner.pool_reader(conn);
                r
            }
            Err(_) => Err(StoreError::Unavailable(format!("{op}: the read panicked"))),
        }
    }

    /// Run `f` on a pooled read connection, on a blocking thread.
    async fn read<T, F>(&self, op: &'static str, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let permit = self
            .inner
            .reader_slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Unavailable(format!("{op}: the store is closing")))?;
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut conn = match inner.pooled_reader() {
                Some(c) => c,
                None => open_reader(&inner.path, &inner.options)?,
            };
            let r = f(&mut conn);
            inner.pool_reader(conn);
            r
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("{op}: the store task failed: {e}")))?
    }
}

// ---------------------------------------------------------------------------------------
// Rows.

/// An integration's 17 fields as read by [`integration_from_row`], from `integrations i`: the
/// proposal document (`raw`) lives in `integration_raw`, so that a step commit, which
/// rewrites the state row, does not rewrite the document too.
const INTEGRATION_COLS: &str = "i.id, i.company, i.source_account, i.source_proposal, \
     i.status, i.step, \
     (SELECT r.raw FROM integration_raw r WHERE r.integration_id = i.id) AS raw, \
     i.problems, i.failure, i.customer, i.attempts, i.actor, i.received_at, i.finished_at, \
     i.held_since, i.held_ms, i.next_attempt_at";

/// Insert a new integration's state row, numbered like [`integration_values`] (`?7`, the
/// proposal document, goes to `integration_raw`: see [`store_raw`]).
/// The writer's page cache, in KiB (`PRAGMA cache_size` as a negative number): the hot pages
/// of a busy store (the tails of the audit, journal and integration trees). SQLite's default
/// of 2 MiB made group commits re-read pages from the OS; a much bigger cache costs every
/// commit instead, since a commit ends by walking the whole page cache (a 32 MiB cache cost
/// the end-to-end benchmark about 8 % more CPU than this one).
const WRITER_CACHE_KIB: i64 = -4096;

const INSERT_INTEGRATION: &str = "INSERT INTO integrations (id, company, source_account, \
     source_proposal, status, step, problems, failure, customer, attempts, actor, received_at, \
     finished_at, held_since, held_ms, next_attempt_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?8, ?9, \
     ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)";

/// Store an integration's proposal document (`values[6]`, `?7`), writing only when it
/// changed: most commits leave it as it was.
fn store_raw(conn: &Connection, values: &[Value], what: &str) -> Result<(), StoreError> {
    let (Some(id), Some(raw)) = (values.first(), values.get(6)) else {
        return Err(StoreError::Corrupt(format!(
            "{what}: the integration's values are incomplete"
        )));
    };
    match raw {
        Value::Null => conn
            .prepare_cached("DELETE FROM integration_raw WHERE integration_id = ?1")
            .and_then(|mut st| st.execute([id])),
        raw => conn
            .prepare_cached(
                "INSERT INTO integration_raw (integration_id, raw) VALUES (?1, ?2) \
                 ON CONFLICT (integration_id) DO UPDATE SET raw = excluded.raw \
                 WHERE raw IS NOT excluded.raw",
            )
            .and_then(|mut st| st.execute([id, raw])),
    }
    .ctx(|| format!("{what}: storing the proposal document"))?;
    Ok(())
}

const AUDIT_COLS: &str = "id, at, integration_id, actor, actor_key, action, system, call, \
     outcome, duration_ms, summary, details";

const RESERVATION_COLS: &str = "order_id, integration_id, server, lines, channels, provisioned";

/// Reads one row's columns, naming the record in errors.
struct RowReader<'r, 's> {
    table: &'static str,
    key: String,
    row: &'r Row<'s>,
}

impl<'r, 's> RowReader<'r, 's> {
    fn new(table: &'static str, row: &'r Row<'s>) -> Self {
        let key = match row.get_ref(0) {
            Ok(v) => match v.as_str() {
                Ok(s) => s.to_owned(),
                Err(_) => format!("{v:?}"),
            },
            Err(_) => "?".to_owned(),
        };
        RowReader { table, key, row }
    }

    fn bad(&self, col: &str, e: impl fmt::Display) -> StoreError {
        StoreError::Corrupt(format!("{} {}: column {col}: {e}", self.table, self.key))
    }

    fn get<T: FromSql>(&self, i: usize, col: &str) -> Result<T, StoreError> {
        self.row.get(i).map_err(|e| self.bad(col, e))
    }

    fn parse<T>(
        &self,
        i: usize,
        col: &str,
        f: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, StoreError> {
        let s: String = self.get(i, col)?;
        f(&s).map_err(|e| self.bad(col, e))
    }

    fn parse_opt<T>(
        &self,
        i: usize,
        col: &str,
        f: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, StoreError> {
        let s: Option<String> = self.get(i, col)?;
        s.map(|s| f(&s).map_err(|e| self.bad(col, e))).transpose()
    }

    fn uint<T: TryFrom<i64>>(&self, i: usize, col: &str) -> Result<T, StoreError> {
        let v: i64 = self.get(i, col)?;
        uint(v).map_err(|e| self.bad(col, e))
    }
}

fn uuid(s: &str) -> Result<Uuid, String> {
    Uuid::parse_str(s).map_err(|e| format!("not a UUID ({e})"))
}

fn slug<T: std::str::FromStr>(s: &str) -> Result<T, String>
where
    T::Err: fmt::Display,
{
    s.parse::<T>()
        .map_err(|e| format!("invalid identifier {s:?} ({e})"))
}

fn integration_from_row(row: &Row<'_>) -> Result<Integration, StoreError> {
    let r = RowReader::new("integration", row);
    Ok(Integration {
        id: r.parse(0, "id", |s| uuid(s).map(IntegrationId::from_uuid))?,
        company: r.parse(1, "company", slug::<CompanyId>)?,
        source: SourceKey {
            account: r.get(2, "source_account")?,
            proposal_id: r.get(3, "source_proposal")?,
        },
        status: r.parse(4, "status", |s| {
            IntegrationStatus::parse(s).ok_or_else(|| format!("unknown status {s:?}"))
        })?,
        step: r.get(5, "step")?,
        raw: r.parse_opt(6, "raw", from_json)?,
        problems: r.parse(7, "problems", from_json)?,
        failure: r.parse_opt(8, "failure", from_json)?,
        customer: r.parse_opt(9, "customer", |s| uuid(s).map(CustomerId::from_uuid))?,
        attempts: r.uint(10, "attempts")?,
        actor: r.parse(11, "actor", from_json)?,
        received_at: r.parse(12, "received_at", parse_ts)?,
        finished_at: r.parse_opt(13, "finished_at", parse_ts)?,
        held_since: r.parse_opt(14, "held_since", parse_ts)?,
        held_ms: r.uint(15, "held_ms")?,
        next_attempt_at: r.parse(16, "next_attempt_at", parse_ts)?,
    })
}

/// The 17 values of [`INTEGRATION_COLS`], in order (`?1` … `?17`).
pub(crate) fn integration_values(i: &Integration) -> Result<Vec<Value>, StoreError> {
    let what = |f: &str| format!("integration {} {f}", i.id);
    let opt_text = |s: Option<String>| s.map_or(Value::Null, Value::Text);
    Ok(vec![
        Value::Text(i.id.to_string()),
        Value::Text(i.company.to_string()),
        Value::Text(i.source.account.clone()),
        Value::Text(i.source.proposal_id.clone()),
        Value::Text(i.status.as_str().to_owned()),
        opt_text(i.step.clone()),
        opt_text(i.raw.as_ref().map(|r| json(&what("raw"), r)).transpose()?),
        Value::Text(json(&what("problems"), &i.problems)?),
        opt_text(
            i.failure
                .as_ref()
                .map(|f| json(&what("failure"), f))
                .transpose()?,
        ),
        opt_text(i.customer.map(|c| c.to_string())),
        Value::Integer(i64::from(i.attempts)),
        Value::Text(json(&what("actor"), &i.actor)?),
        Value::Text(ts(i.received_at)?),
        opt_text(ts_opt(i.finished_at)?),
        opt_text(ts_opt(i.held_since)?),
        Value::Integer(int(&what("held_ms"), i.held_ms)?),
        Value::Text(ts(i.next_attempt_at)?),
    ])
}

fn audit_from_row(row: &Row<'_>) -> Result<AuditEvent, StoreError> {
    let r = RowReader::new("audit event", row);
    let duration: Option<i64> = r.get(9, "duration_ms")?;
    Ok(AuditEvent {
        id: r.parse(0, "id", uuid)?,
        at: r.parse(1, "at", parse_ts)?,
        integration: r.parse_opt(2, "integration_id", |s| {
            uuid(s).map(IntegrationId::from_uuid)
        })?,
        actor: r.parse(3, "actor", from_json)?,
        action: r.get(5, "action")?,
        system: r.parse_opt(6, "system", parse_enum)?,
        call: r.get(7, "call")?,
        outcome: r.parse(8, "outcome", parse_enum)?,
        duration_ms: duration
            .map(|d| uint(d).map_err(|e| r.bad("duration_ms", e)))
            .transpose()?,
        summary: r.get(10, "summary")?,
        details: r.parse(11, "details", from_json)?,
    })
}

pub(crate) fn insert_audit(conn: &Connection, e: &AuditEvent) -> Result<(), StoreError> {
    insert_audit_row(conn, &AuditRow::encode(e)?)
}

/// An audit event encoded as its row (the JSON and text columns made), so the encoding is
/// done by the caller, not on the writer thread that every write waits for.
pub(crate) struct AuditRow {
    id: String,
    values: [Value; 12],
}

impl AuditRow {
    pub(crate) fn encode(e: &AuditEvent) -> Result<Self, StoreError> {
        let what = |f: &str| format!("audit event {} {f}", e.id);
        let opt = |s: Option<String>| s.map_or(Value::Null, Value::Text);
        let system = e
            .system
            .as_ref()
            .map(|s| enum_name(&what("system"), s))
            .transpose()?;
        let duration = e
            .duration_ms
            .map(|d| int(&what("duration_ms"), d))
            .transpose()?;
        let id = e.id.to_string();
        Ok(AuditRow {
            values: [
                Value::Text(id.clone()),
                Value::Text(ts(e.at)?),
                opt(e.integration.map(|i| i.to_string())),
                Value::Text(json(&what("actor"), &e.actor)?),
                Value::Text(actor_key(&e.actor)),
                Value::Text(e.action.clone()),
                opt(system),
                opt(e.call.clone()),
                Value::Text(enum_name(&what("outcome"), &e.outcome)?),
                duration.map_or(Value::Null, Value::Integer),
                Value::Text(e.summary.clone()),
                Value::Text(json(&what("details"), &e.details)?),
            ],
            id,
        })
    }
}

fn insert_audit_row(conn: &Connection, row: &AuditRow) -> Result<(), StoreError> {
    conn.prepare_cached(&format!(
        "INSERT INTO audit ({AUDIT_COLS}) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) ON CONFLICT (id) DO NOTHING"
    ))
    .and_then(|mut st| execute_numbered(&mut st, &row.values))
    .ctx(|| format!("audit event {} insert", row.id))?;
    Ok(())
}

fn reservation_from_row(row: &Row<'_>) -> Result<Reservation, StoreError> {
    let r = RowReader::new("reservation", row);
    let provisioned: i64 = r.get(5, "provisioned")?;
    Ok(Reservation {
        order: r.parse(0, "order_id", |s| uuid(s).map(ServiceOrderId::from_uuid))?,
        integration: r.parse(1, "integration_id", |s| {
            uuid(s).map(IntegrationId::from_uuid)
        })?,
        server: r.parse(2, "server", slug::<ServerId>)?,
        lines: r.uint(3, "lines")?,
        channels: r.uint(4, "channels")?,
        provisioned: provisioned != 0,
    })
}

fn query_all<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    what: &str,
    f: impl Fn(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut st = conn
        .prepare_cached(sql)
        .ctx(|| format!("{what}: preparing"))?;
    let mut rows = st.query(params).ctx(|| format!("{what}: querying"))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().ctx(|| format!("{what}: reading"))? {
        out.push(f(row)?);
    }
    Ok(out)
}

fn integration_by(
    conn: &Connection,
    where_: &str,
    params: impl rusqlite::Params,
    what: &str,
) -> Result<Option<Integration>, StoreError> {
    let sql = format!("SELECT {INTEGRATION_COLS} FROM integrations i WHERE {where_}");
    Ok(query_all(conn, &sql, params, what, integration_from_row)?
        .into_iter()
        .next())
}

/// Indexed columns of `integrations`: (parameter number, column).
const INDEXED: [(usize, &str); 5] = [
    (2, "company"),
    (5, "status"),
    (10, "customer"),
    (13, "received_at"),
    (17, "next_attempt_at"),
];

/// The `UPDATE` for a commit, numbered like [`integration_values`]. Indexed columns are set
/// only when their value changes, so that a typical step commit rewrites the row and no index
/// (SQLite rewrites an index whenever one of its columns is in the `SET` list). The source key
/// (`?3`, `?4`) is never updated: it is the integration's identity. `NotFound` when the
/// integration does not exist.
fn update_sql(
    conn: &Connection,
    id: IntegrationId,
    values: &[Value],
    what: &str,
) -> Result<String, StoreError> {
    let cols: Vec<&str> = INDEXED.iter().map(|(_, c)| *c).collect();
    let old: Option<Vec<Value>> = {
        let mut st = conn
            .prepare_cached(&format!(
                "SELECT {} FROM integrations WHERE id = ?1",
                cols.join(", ")
            ))
            .ctx(|| format!("{what}: reading the current state"))?;
        let mut rows = st
            .query([id.to_string()])
            .ctx(|| format!("{what}: reading the current state"))?;
        match rows
            .next()
            .ctx(|| format!("{what}: reading the current state"))?
        {
            Some(row) => Some(
                (0..INDEXED.len())
                    .map(|i| row.get::<_, Value>(i))
                    .collect::<Result<_, _>>()
                    .ctx(|| format!("{what}: reading the current state"))?,
            ),
            None => None,
        }
    };
    let Some(old) = old else {
        return Err(StoreError::NotFound(id));
    };
    let mut sql = String::from(
        "UPDATE integrations SET step = ?6, problems = ?8, failure = ?9, \
         attempts = ?11, actor = ?12, finished_at = ?14, held_since = ?15, held_ms = ?16",
    );
    for ((n, col), was) in INDEXED.iter().zip(&old) {
        if values.get(n - 1) != Some(was) {
            sql.push_str(&format!(", {col} = ?{n}"));
        }
    }
    // Leaving pending ends the lease.
    sql.push_str(
        ", lease_until = CASE WHEN ?5 = 'pending' THEN lease_until ELSE NULL END WHERE id = ?1",
    );
    Ok(sql)
}

/// Execute a statement whose `?N` parameters are a subset of `values` (1-based).
fn execute_numbered(st: &mut rusqlite::Statement<'_>, values: &[Value]) -> rusqlite::Result<usize> {
    for i in 1..=st.parameter_count() {
        let v = values
            .get(i - 1)
            .ok_or(rusqlite::Error::InvalidParameterCount(i, values.len()))?;
        st.raw_bind_parameter(i, v)?;
    }
    st.raw_execute()
}

/// [`Store::reserve`] on `conn`: whether the order holds a reservation now.
fn reserve_in(conn: &Connection, r: &Reservation, capacity: Load) -> Result<bool, StoreError> {
    let what = format!("reserving order {} on {}", r.order, r.server);
    let order = r.order.to_string();
    let held: i64 = conn
        .prepare_cached("SELECT count(*) FROM reservations WHERE order_id = ?1")
        .and_then(|mut st| st.query_row([&order], |row| row.get(0)))
        .ctx(|| format!("{what}: looking for the order"))?;
    if held > 0 {
        return Ok(true);
    }
    let (lines, channels): (i64, i64) = conn
        .prepare_cached(
            "SELECT coalesce(sum(lines), 0), coalesce(sum(channels), 0) \
             FROM server_loads WHERE server = ?1",
        )
        .and_then(|mut st| st.query_row([r.server.as_str()], |row| Ok((row.get(0)?, row.get(1)?))))
        .ctx(|| format!("{what}: reading the load"))?;
    if lines + i64::from(r.lines) > i64::from(capacity.lines)
        || channels + i64::from(r.channels) > i64::from(capacity.channels)
    {
        return Ok(false);
    }
    conn.prepare_cached(&format!(
        "INSERT INTO reservations ({RESERVATION_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
    ))
    .and_then(|mut st| {
        st.execute(params![
            order,
            r.integration.to_string(),
            r.server.as_str(),
            r.lines,
            r.channels,
            r.provisioned,
        ])
    })
    .ctx(|| format!("{what}: inserting"))?;
    Ok(true)
}

/// A step commit's change encoded as the rows it writes (by the caller, not on the writer
/// thread every write waits for).
struct EncodedCommit {
    id: IntegrationId,
    /// [`integration_values`] of the new state.
    values: Vec<Value>,
    /// Journal rows: step key, then (integration id, key, result, at, duration).
    steps: Vec<(String, [Value; 5])>,
    /// Company, tax id and the new customer's id.
    register_customer: Option<(String, String, CustomerId)>,
    customer_erp: Option<(CustomerId, i64)>,
    customer_voip: Vec<(CustomerId, ServerId, i64)>,
    provisioned: Vec<ServiceOrderId>,
    released: Vec<ServiceOrderId>,
    audit: Vec<AuditRow>,
    reserve: Vec<(Reservation, Load)>,
    keep_raw: bool,
}

impl EncodedCommit {
    fn encode(change: Change) -> Result<Self, StoreError> {
        let id = change.integration.id;
        let steps = change
            .steps
            .iter()
            .map(|s| {
                Ok((
                    s.key.clone(),
                    [
                        Value::Text(id.to_string()),
                        Value::Text(s.key.clone()),
                        Value::Text(json(&format!("step {} result", s.key), &s.result)?),
                        Value::Text(ts(s.at)?),
                        Value::Integer(int(&format!("step {} duration_ms", s.key), s.duration_ms)?),
                    ],
                ))
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(EncodedCommit {
            id,
            values: integration_values(&change.integration)?,
            steps,
            register_customer: change.register_customer.map(|n| {
                (
                    n.company.to_string(),
                    n.tax_id.as_str().to_owned(),
                    n.customer,
                )
            }),
            customer_erp: change.customer_erp,
            customer_voip: change.customer_voip,
            provisioned: change.provisioned,
            released: change.released,
            audit: change
                .audit
                .iter()
                .map(AuditRow::encode)
                .collect::<Result<_, _>>()?,
            reserve: change.reserve,
            keep_raw: change.keep_raw,
        })
    }
}

/// The customer of `tax` in `company`: the registered one, or `candidate`, registered now.
fn register_customer(
    conn: &Connection,
    company: &str,
    tax: &str,
    candidate: CustomerId,
) -> Result<CustomerId, StoreError> {
    // The tax id is personal data: errors name the company only.
    let what = || format!("customer registry of {company}");
    let inserted = conn
        .prepare_cached(
            "INSERT INTO customers (company, tax_id, customer_id) VALUES (?1, ?2, ?3) \
             ON CONFLICT (company, tax_id) DO NOTHING",
        )
        .and_then(|mut st| st.execute(params![company, tax, candidate.to_string()]))
        .ctx(|| format!("{}: inserting", what()))?;
    if inserted == 1 {
        return Ok(candidate);
    }
    let id: String = conn
        .prepare_cached("SELECT customer_id FROM customers WHERE company = ?1 AND tax_id = ?2")
        .and_then(|mut st| st.query_row(params![company, tax], |r| r.get(0)))
        .ctx(|| format!("{}: reading", what()))?;
    uuid(&id)
        .map(CustomerId::from_uuid)
        .map_err(|e| StoreError::Corrupt(format!("{}: customer_id: {e}", what())))
}

/// Apply one step commit's change (the state, its journal entries, links, reservations and
/// audit events) on `conn`, inside the caller's transaction or savepoint.
fn apply_commit(conn: &Connection, change: &EncodedCommit) -> Result<(), StoreError> {
    let id = change.id;
    let values = &change.values;
    let what = || format!("commit of integration {id}");
    // The reservations go first: without room for one, nothing of the change is stored (the
    // caller's transaction or savepoint is rolled back on the error).
    for (r, capacity) in &change.reserve {
        if !reserve_in(conn, r, *capacity)? {
            return Err(StoreError::NoRoom {
                order: r.order,
                server: r.server.clone(),
            });
        }
    }
    if let Some((company, tax, customer)) = &change.register_customer {
        let registered = register_customer(conn, company, tax, *customer)?;
        if registered != *customer {
            return Err(StoreError::CustomerRegistered {
                customer: registered,
            });
        }
    }
    let updated = conn
        .prepare_cached(&update_sql(conn, id, values, &what())?)
        .and_then(|mut st| execute_numbered(&mut st, values))
        .ctx(|| format!("{}: updating the state", what()))?;
    if updated == 0 {
        return Err(StoreError::NotFound(id));
    }
    if !change.keep_raw {
        store_raw(conn, values, &what())?;
    }
    {
        let mut st = conn
            .prepare_cached(
                "INSERT INTO journal (integration_id, step_key, result, at, duration_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
            )
            .ctx(|| format!("{}: journal", what()))?;
        for (key, row) in &change.steps {
            let n = execute_numbered(&mut st, row)
                .ctx(|| format!("{}: journaling step {key}", what()))?;
            if n == 0 {
                // The caller rolls this change back (its savepoint).
                return Err(StoreError::StepExists {
                    integration: id,
                    step: key.clone(),
                });
            }
        }
    }
    if let Some((c, erp)) = change.customer_erp {
        conn.prepare_cached(
            "INSERT INTO customer_links (customer_id, erp_id) VALUES (?1, ?2) \
             ON CONFLICT (customer_id) DO UPDATE SET erp_id = excluded.erp_id",
        )
        .and_then(|mut st| st.execute(params![c.to_string(), erp]))
        .ctx(|| format!("{}: linking customer {c} to ERP {erp}", what()))?;
    }
    for (c, server, v) in &change.customer_voip {
        conn.prepare_cached(
            "INSERT INTO customer_links (customer_id, erp_id) VALUES (?1, NULL) \
             ON CONFLICT (customer_id) DO NOTHING",
        )
        .and_then(|mut st| st.execute([c.to_string()]))
        .and_then(|_| {
            conn.prepare_cached(
                "INSERT INTO customer_voip (customer_id, server, voip_id) \
                 VALUES (?1, ?2, ?3) \
                 ON CONFLICT (customer_id, server) DO UPDATE SET voip_id = excluded.voip_id",
            )
        })
        .and_then(|mut st| st.execute(params![c.to_string(), server.as_str(), v]))
        .ctx(|| format!("{}: linking customer {c} to {server} customer {v}", what()))?;
    }
    for o in &change.provisioned {
        conn.prepare_cached("UPDATE reservations SET provisioned = 1 WHERE order_id = ?1")
            .and_then(|mut st| st.execute([o.to_string()]))
            .ctx(|| format!("{}: marking order {o} provisioned", what()))?;
    }
    for o in &change.released {
        conn.prepare_cached("DELETE FROM reservations WHERE order_id = ?1")
            .and_then(|mut st| st.execute([o.to_string()]))
            .ctx(|| format!("{}: releasing order {o}", what()))?;
    }
    for row in &change.audit {
        insert_audit_row(conn, row)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The port.

#[async_trait]
impl Store for SqliteStore {
    async fn intake(
        &self,
        new: Integration,
        mut audit: AuditEvent,
    ) -> Result<(Integration, bool), StoreError> {
        let values = integration_values(&new)?;
        self.write("intake", move |conn| {
            let what = format!(
                "intake of {}/{}",
                new.source.account, new.source.proposal_id
            );
            let inserted = conn
                .prepare_cached(&format!(
                    "{INSERT_INTEGRATION} ON CONFLICT (source_account, source_proposal) DO NOTHING"
                ))
                .and_then(|mut st| execute_numbered(&mut st, &values))
                .ctx(|| format!("{what}: inserting"))?;
            if inserted > 0 {
                store_raw(conn, &values, &what)?;
            } else {
                let existing = integration_by(
                    conn,
                    "source_account = ?1 AND source_proposal = ?2",
                    params![new.source.account, new.source.proposal_id],
                    &what,
                )?
                .ok_or_else(|| {
                    StoreError::Corrupt(format!("{what}: the existing integration vanished"))
                })?;
                return Ok((existing, false));
            }
            audit.integration = Some(new.id);
            insert_audit(conn, &audit)?;
            Ok((new.clone(), true))
        })
        .await
    }

    async fn get(&self, id: IntegrationId) -> Result<Option<Integration>, StoreError> {
        self.read("get", move |c| {
            integration_by(
                c,
                "id = ?1",
                [id.to_string()],
                &format!("reading integration {id}"),
            )
        })
        .await
    }

    async fn find_by_source(&self, key: &SourceKey) -> Result<Option<Integration>, StoreError> {
        let key = key.clone();
        self.read("find_by_source", move |c| {
            integration_by(
                c,
                "source_account = ?1 AND source_proposal = ?2",
                params![key.account, key.proposal_id],
                &format!("finding {}/{}", key.account, key.proposal_id),
            )
        })
        .await
    }

    async fn counts(&self) -> Result<IntegrationCounts, StoreError> {
        self.read("counts", move |c| {
            let what = "counting integrations";
            let mut counts = IntegrationCounts::default();
            let mut st = c
                .prepare_cached(
                    "SELECT status, COUNT(*), \
                     MIN(CASE WHEN status = 'pending' THEN received_at END) \
                     FROM integrations GROUP BY status",
                )
                .ctx(|| what)?;
            let mut rows = st.query([]).ctx(|| what)?;
            while let Some(row) = rows.next().ctx(|| what)? {
                let status: String = row.get(0).ctx(|| what)?;
                let n: i64 = row.get(1).ctx(|| what)?;
                let oldest: Option<String> = row.get(2).ctx(|| what)?;
                let status = IntegrationStatus::parse(&status).ok_or_else(|| {
                    StoreError::Corrupt(format!("{what}: unknown status {status:?}"))
                })?;
                counts.add(status, u64::try_from(n).unwrap_or(0));
                if let Some(t) = oldest {
                    counts.oldest_pending = Some(
                        parse_ts(&t).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))?,
                    );
                }
            }
            Ok(counts)
        })
        .await
    }

    async fn list(&self, filter: &IntegrationFilter) -> Result<Vec<Integration>, StoreError> {
        let mut sql = format!("SELECT {INTEGRATION_COLS} FROM integrations i WHERE 1 = 1");
        let mut values: Vec<Value> = Vec::new();
        if !filter.statuses.is_empty() {
            sql.push_str(" AND status IN (");
            for (n, s) in filter.statuses.iter().enumerate() {
                if n > 0 {
                    sql.push_str(", ");
                }
                sql.push('?');
                values.push(Value::Text(s.as_str().to_owned()));
            }
            sql.push(')');
        }
        if let Some(s) = filter.since {
            sql.push_str(" AND received_at >= ?");
            values.push(Value::Text(ts_saturating_floor(s)));
        }
        if let Some(u) = filter.until {
            sql.push_str(" AND received_at < ?");
            values.push(Value::Text(ts_saturating_floor(u)));
        }
        if let Some(c) = &filter.company {
            sql.push_str(" AND company = ?");
            values.push(Value::Text(c.to_string()));
        }
        if let Some(c) = &filter.customer {
            sql.push_str(" AND customer = ?");
            values.push(Value::Text(c.to_string()));
        }
        match filter.limit {
            Some(n) => {
                sql.push_str(" ORDER BY received_at DESC, id DESC LIMIT ?");
                values.push(Value::Integer(i64::try_from(n).unwrap_or(i64::MAX)));
            }
            None => sql.push_str(" ORDER BY received_at, id"),
        }
        self.read("list", move |c| {
            query_all(
                c,
                &sql,
                params_from_iter(values),
                "listing integrations",
                integration_from_row,
            )
        })
        .await
    }

    async fn claim(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        max: usize,
    ) -> Result<Vec<Integration>, StoreError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let now_s = ts_saturating_floor(now);
        let until = ts_saturating(
            chrono::Duration::from_std(lease)
                .ok()
                .and_then(|d| now.checked_add_signed(d)),
        );
        let max = i64::try_from(max).unwrap_or(i64::MAX);
        self.write("claim", move |conn| {
            let what = "claiming work";
            let due = query_all(
                conn,
                &format!(
                    "SELECT {INTEGRATION_COLS} FROM integrations i \
                     WHERE status = 'pending' AND next_attempt_at <= ?1 \
                     AND (lease_until IS NULL OR lease_until <= ?1) \
                     ORDER BY next_attempt_at, id LIMIT ?2"
                ),
                params![now_s, max],
                what,
                integration_from_row,
            )?;
            {
                let mut st = conn
                    .prepare_cached("UPDATE integrations SET lease_until = ?2 WHERE id = ?1")
                    .ctx(|| what)?;
                for i in &due {
                    st.execute(params![i.id.to_string(), until])
                        .ctx(|| format!("{what}: leasing {}", i.id))?;
                }
            }
            Ok(due)
        })
        .await
    }

    async fn unclaim(&self, id: IntegrationId) -> Result<(), StoreError> {
        self.write("unclaim", move |conn| {
            conn.prepare_cached("UPDATE integrations SET lease_until = NULL WHERE id = ?1")
                .and_then(|mut st| st.execute([id.to_string()]))
                .ctx(|| format!("releasing the lease of {id}"))?;
            Ok(())
        })
        .await
    }

    async fn renew_leases(
        &self,
        ids: &[IntegrationId],
        until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
        let until = ts(until)?;
        self.write("renew_leases", move |conn| {
            let what = "renewing leases";
            {
                let mut st = conn
                    .prepare_cached(
                        "UPDATE integrations SET lease_until = ?2 WHERE id = ?1 \
                         AND status = 'pending' AND lease_until IS NOT NULL",
                    )
                    .ctx(|| what)?;
                for id in &ids {
                    st.execute(params![id, until])
                        .ctx(|| format!("{what}: {id}"))?;
                }
            }
            Ok(())
        })
        .await
    }

    async fn lease(
        &self,
        id: IntegrationId,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Option<Integration>, StoreError> {
        let now_s = ts_saturating_floor(now);
        let until = ts_saturating(
            chrono::Duration::from_std(lease)
                .ok()
                .and_then(|d| now.checked_add_signed(d)),
        );
        self.write("lease", move |conn| {
            let what = format!("leasing integration {id}");
            let Some(current) = integration_by(conn, "id = ?1", [id.to_string()], &what)? else {
                return Err(StoreError::NotFound(id));
            };
            let taken = conn
                .prepare_cached(
                    "UPDATE integrations SET lease_until = ?2 \
                     WHERE id = ?1 AND (lease_until IS NULL OR lease_until <= ?3)",
                )
                .and_then(|mut st| st.execute(params![id.to_string(), until, now_s]))
                .ctx(|| format!("{what}: updating"))?;
            if taken == 0 {
                return Ok(None);
            }
            Ok(Some(current))
        })
        .await
    }

    /// One step commit: the state, its journal entries, links, reservations and audit events
    /// in one atomic write (grouped with concurrent writes, see [`SqliteStore::write`]).
    async fn commit(&self, change: Change) -> Result<(), StoreError> {
        let encoded = EncodedCommit::encode(change)?;
        self.write("commit", move |conn| apply_commit(conn, &encoded))
            .await
    }

    async fn journal(&self, id: IntegrationId) -> Result<BTreeMap<String, StepEntry>, StoreError> {
        self.read_point("journal", move |c| {
            let entries = query_all(
                c,
                "SELECT step_key, result, at, duration_ms FROM journal WHERE integration_id = ?1",
                [id.to_string()],
                &format!("reading the journal of {id}"),
                |row| {
                    let r = RowReader::new("journal entry", row);
                    Ok(StepEntry {
                        key: r.get(0, "step_key")?,
                        result: r.parse(1, "result", from_json)?,
                        at: r.parse(2, "at", parse_ts)?,
                        duration_ms: r.uint(3, "duration_ms")?,
                    })
                },
            )?;
            Ok(entries.into_iter().map(|e| (e.key.clone(), e)).collect())
        })
        .await
    }

    async fn customer_id_for(
        &self,
        company: &CompanyId,
        tax_id: &TaxId,
        candidate: CustomerId,
    ) -> Result<CustomerId, StoreError> {
        let company = company.to_string();
        let tax = tax_id.as_str().to_owned();
        self.write("customer_id_for", move |conn| {
            register_customer(conn, &company, &tax, candidate)
        })
        .await
    }

    async fn find_customer(
        &self,
        company: &CompanyId,
        tax_id: &TaxId,
    ) -> Result<Option<CustomerId>, StoreError> {
        let company = company.to_string();
        let tax = tax_id.as_str().to_owned();
        self.read_point("find_customer", move |conn| {
            // The tax id is personal data: errors name the company only.
            let what = format!("customer registry of {company}");
            let ids = query_all(
                conn,
                "SELECT customer_id FROM customers WHERE company = ?1 AND tax_id = ?2",
                params![company, tax],
                &what,
                |row| RowReader::new("customer", row).get::<String>(0, "customer_id"),
            )?;
            ids.first()
                .map(|id| {
                    uuid(id)
                        .map(CustomerId::from_uuid)
                        .map_err(|e| StoreError::Corrupt(format!("{what}: customer_id: {e}")))
                })
                .transpose()
        })
        .await
    }

    async fn register_direct(
        &self,
        company: &CompanyId,
        tax_id: &TaxId,
        candidate: CustomerId,
        new: Integration,
        mut audit: AuditEvent,
    ) -> Result<DirectRegistration, StoreError> {
        if new.source != SourceKey::direct(candidate) {
            return Err(StoreError::Corrupt(format!(
                "a direct registration must carry the source key sig/{candidate}"
            )));
        }
        let values = integration_values(&new)?;
        let company = company.to_string();
        let tax = tax_id.as_str().to_owned();
        self.write("register_direct", move |conn| {
            // The tax id is personal data: errors name the company only.
            let what = format!("direct registration in {company}");
            let existing = query_all(
                conn,
                "SELECT customer_id FROM customers WHERE company = ?1 AND tax_id = ?2",
                params![company, tax],
                &what,
                |row| RowReader::new("customer", row).get::<String>(0, "customer_id"),
            )?;
            if let Some(id) = existing.first() {
                let id = uuid(id)
                    .map(CustomerId::from_uuid)
                    .map_err(|e| StoreError::Corrupt(format!("{what}: customer_id: {e}")))?;
                let key = SourceKey::direct(id);
                let found = integration_by(
                    conn,
                    "source_account = ?1 AND source_proposal = ?2",
                    params![key.account, key.proposal_id],
                    &what,
                )?;
                return Ok(match found {
                    Some(i) => DirectRegistration::Existing(i),
                    None => DirectRegistration::KnownElsewhere(id),
                });
            }
            conn.prepare_cached(
                "INSERT INTO customers (company, tax_id, customer_id) VALUES (?1, ?2, ?3)",
            )
            .and_then(|mut st| st.execute(params![company, tax, candidate.to_string()]))
            .ctx(|| format!("{what}: inserting the customer"))?;
            conn.prepare_cached(INSERT_INTEGRATION)
                .and_then(|mut st| execute_numbered(&mut st, &values))
                .ctx(|| format!("{what}: inserting the integration"))?;
            store_raw(conn, &values, &what)?;
            audit.integration = Some(new.id);
            insert_audit(conn, &audit)?;
            Ok(DirectRegistration::Created(new.clone()))
        })
        .await
    }

    async fn customer_links(&self, id: CustomerId) -> Result<CustomerLinks, StoreError> {
        self.read_point("customer_links", move |conn| {
            let what = format!("links of customer {id}");
            // One statement, so one snapshot of both tables (a NextBilling link always has
            // its customer's row in `customer_links`: the foreign key says so).
            let rows = query_all(
                conn,
                "SELECT l.erp_id, v.server, v.voip_id FROM customer_links l \
                 LEFT JOIN customer_voip v ON v.customer_id = l.customer_id \
                 WHERE l.customer_id = ?1",
                [id.to_string()],
                &what,
                |row| {
                    let r = RowReader::new("customer link", row);
                    // The join's NULLs: a customer with no NextBilling link.
                    let voip = match r.get::<Option<String>>(1, "server")? {
                        Some(_) => Some((
                            r.parse(1, "server", slug::<ServerId>)?,
                            r.get::<i64>(2, "voip_id")?,
                        )),
                        None => None,
                    };
                    Ok((r.get::<Option<i64>>(0, "erp_id")?, voip))
                },
            )?;
            Ok(CustomerLinks {
                erp_id: rows.first().and_then(|(erp, _)| *erp),
                voip: rows.into_iter().filter_map(|(_, v)| v).collect(),
            })
        })
        .await
    }

    async fn customer_shared(
        &self,
        customer: CustomerId,
        besides: IntegrationId,
    ) -> Result<bool, StoreError> {
        self.read_point("customer_shared", move |conn| {
            // `integrations_customer` finds the customer's integrations.
            conn.prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM integrations WHERE customer = ?1 AND id <> ?2)",
            )
            .and_then(|mut st| {
                st.query_row(params![customer.to_string(), besides.to_string()], |r| {
                    r.get::<_, bool>(0)
                })
            })
            .ctx(|| format!("integrations of customer {customer}"))
        })
        .await
    }

    async fn loads(&self) -> Result<BTreeMap<ServerId, Load>, StoreError> {
        self.read_point("loads", |c| {
            let rows = query_all(
                c,
                "SELECT server, lines, channels FROM server_loads WHERE lines > 0 OR channels > 0",
                [],
                "reading loads",
                |row| {
                    let r = RowReader::new("load of server", row);
                    Ok((
                        r.parse(0, "server", slug::<ServerId>)?,
                        Load {
                            lines: r.uint(1, "lines")?,
                            channels: r.uint(2, "channels")?,
                        },
                    ))
                },
            )?;
            Ok(rows.into_iter().collect())
        })
        .await
    }

    async fn reserve(&self, r: &Reservation, capacity: Load) -> Result<bool, StoreError> {
        let r = r.clone();
        self.write("reserve", move |conn| reserve_in(conn, &r, capacity))
            .await
    }

    async fn reservation(&self, order: ServiceOrderId) -> Result<Option<Reservation>, StoreError> {
        self.read_point("reservation", move |c| {
            Ok(query_all(
                c,
                &format!("SELECT {RESERVATION_COLS} FROM reservations WHERE order_id = ?1"),
                [order.to_string()],
                &format!("reading the reservation of order {order}"),
                reservation_from_row,
            )?
            .into_iter()
            .next())
        })
        .await
    }

    async fn limit_state(&self, key: &str) -> Result<Option<serde_json::Value>, StoreError> {
        let key = key.to_owned();
        self.read("limit_state", move |c| {
            Ok(query_all(
                c,
                "SELECT key, value FROM limit_state WHERE key = ?1",
                [&key],
                &format!("reading limit state {key}"),
                |row| RowReader::new("limit state", row).parse(1, "value", from_json),
            )?
            .into_iter()
            .next())
        })
        .await
    }

    async fn set_limit_state(
        &self,
        key: &str,
        value: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let key = key.to_owned();
        let value = json(&format!("limit state {key}"), value)?;
        self.write("set_limit_state", move |conn| {
            conn.prepare_cached(
                "INSERT INTO limit_state (key, value) VALUES (?1, ?2) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .and_then(|mut st| st.execute(params![key, value]))
            .ctx(|| format!("storing limit state {key}"))?;
            Ok(())
        })
        .await
    }

    async fn append_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let events = events.to_vec();
        self.write("append_audit", move |conn| {
            for e in &events {
                insert_audit(conn, e)?;
            }
            Ok(())
        })
        .await
    }

    async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>, StoreError> {
        let (sql, values) = audit_query(filter);
        self.read("audit", move |c| {
            query_all(
                c,
                &sql,
                params_from_iter(values),
                "reading the audit trail",
                audit_from_row,
            )
        })
        .await
    }
}

/// The query [`Store::audit`] runs for `filter`, and its values.
pub(crate) fn audit_query(filter: &AuditFilter) -> (String, Vec<Value>) {
    let mut sql = format!("SELECT {AUDIT_COLS} FROM audit WHERE 1 = 1");
    let mut values: Vec<Value> = Vec::new();
    if let Some(i) = filter.integration {
        sql.push_str(" AND integration_id = ?");
        values.push(Value::Text(i.to_string()));
    }
    if let Some(s) = filter.since {
        sql.push_str(" AND at >= ?");
        values.push(Value::Text(ts_saturating_floor(s)));
    }
    if let Some(u) = filter.until {
        sql.push_str(" AND at < ?");
        values.push(Value::Text(ts_saturating_floor(u)));
    }
    if let Some(a) = &filter.actor {
        sql.push_str(" AND actor_key = ?");
        // The actor index leaves out the system's events (schema 5): a filter on any
        // other actor says so, in the index's own words, so SQLite can use it.
        if !matches!(a, Actor::System) {
            sql.push_str(" AND actor_key <> 'system'");
        }
        values.push(Value::Text(actor_key(a)));
    }
    if let Some(p) = &filter.action_prefix {
        // The actions starting with `p` are exactly those from `p` up to (not including) the
        // first string after them all: a range the action index can seek (case-sensitive).
        sql.push_str(" AND action >= ?");
        values.push(Value::Text(p.clone()));
        if let Some(end) = prefix_end(p) {
            sql.push_str(" AND action < ?");
            values.push(Value::Text(end));
        }
        // The action index leaves out the steps (schema 5): a prefix no step action can
        // start with says so, in the index's own words, so SQLite can use it.
        if !action_prefix_may_match_a_step(p) {
            sql.push_str(" AND substr(action, 1, 5) <> 'step.'");
        }
    }
    sql.push_str(" ORDER BY at, id");
    (sql, values)
}

/// The least string greater than every string that starts with `prefix` (`None` when none
/// is: an empty prefix, or one of only `char::MAX`). SQLite compares text as UTF-8 bytes,
/// which orders it by code point, so `prefix <= s < prefix_end(prefix)` holds exactly for
/// the strings `s` that start with `prefix`.
pub(crate) fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match last {
            '\u{D7FF}' => Some('\u{E000}'),
            c => char::from_u32(c as u32 + 1),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// Whether an action starting with `prefix` may be a step's (`step.…`), which the partial
/// action index leaves out.
fn action_prefix_may_match_a_step(prefix: &str) -> bool {
    prefix.starts_with(STEP_ACTION_PREFIX) || STEP_ACTION_PREFIX.starts_with(prefix)
}

/// The actions of pipeline steps start with this (`step.erp_customer`, `step.line:0:1`).
const STEP_ACTION_PREFIX: &str = "step.";

/// The column `audit.actor_key` filters on.
fn actor_key(a: &Actor) -> String {
    a.to_string()
}

/// A filter bound: times before year 0 compare below every stored time, after 9999 above.
fn ts_saturating_floor(t: DateTime<Utc>) -> String {
    match ts(t) {
        Ok(s) => s,
        Err(_) if t < DateTime::<Utc>::UNIX_EPOCH => String::new(),
        Err(_) => crate::codec::TS_MAX.to_owned() + "~",
    }
}
