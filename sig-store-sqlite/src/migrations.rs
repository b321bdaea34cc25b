//! Versioned schema migrations, embedded in the binary and applied in order on open.
//!
//! The schema version is SQLite's `user_version` (in the file header, changed in the same
//! transaction as the migration); `schema_migrations` keeps which migration ran when, for
//! people. A file written by a newer build (a higher version) is refused, never downgraded.

use std::path::Path;

use chrono::Utc;
use rusqlite::{Connection, TransactionBehavior};
use sig_core::store::StoreError;

use crate::codec::{Ctx, ts};

/// One migration.
pub(crate) struct Migration {
    /// Version reached once applied (1, 2, …, contiguous).
    pub(crate) version: u32,
    /// Short name.
    pub(crate) name: &'static str,
    /// The SQL.
    pub(crate) sql: &'static str,
}

/// Every migration, in order.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "tables",
        sql: include_str!("../migrations/0001_tables.sql"),
    },
    Migration {
        version: 2,
        name: "indexes",
        sql: include_str!("../migrations/0002_indexes.sql"),
    },
    Migration {
        version: 3,
        name: "server_loads",
        sql: include_str!("../migrations/0003_server_loads.sql"),
    },
    Migration {
        version: 4,
        name: "integration_raw",
        sql: include_str!("../migrations/0004_integration_raw.sql"),
    },
    Migration {
        version: 5,
        name: "audit_partial_indexes",
        sql: include_str!("../migrations/0005_audit_partial_indexes.sql"),
    },
    Migration {
        version: 6,
        name: "journal_rowid",
        sql: include_str!("../migrations/0006_journal_rowid.sql"),
    },
];

/// The schema version this build reads and writes.
pub const SCHEMA_VERSION: u32 = 6;

/// `PRAGMA application_id` of a SIG store ("SIGV").
pub(crate) const APPLICATION_ID: i32 = 0x5349_4756;

/// Read the file's header: its schema version, after checking it is a SIG store (or empty).
pub(crate) fn header(conn: &Connection, path: &Path) -> Result<u32, StoreError> {
    let p = path.display();
    let app: i32 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .ctx(|| format!("reading the header of {p}"))?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .ctx(|| format!("reading the schema version of {p}"))?;
    if app != APPLICATION_ID {
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
                [],
                |r| r.get(0),
            )
            .ctx(|| format!("reading the tables of {p}"))?;
        if app != 0 || version != 0 || tables != 0 {
            return Err(StoreError::Corrupt(format!(
                "{p} is not a SIG store (application id {app:#x}, user_version {version}, \
                 {tables} tables) and is not empty: refusing to use it"
            )));
        }
    }
    let version = u32::try_from(version)
        .map_err(|_| StoreError::Corrupt(format!("{p}: schema version {version} is invalid")))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::Unavailable(format!(
            "{p} has schema version {version}, newer than the {SCHEMA_VERSION} this build \
             knows: it was written by a newer SIG; use that one"
        )));
    }
    Ok(version)
}

/// Bring the schema to `target` in one transaction; returns the versions applied.
pub(crate) fn migrate(
    conn: &mut Connection,
    path: &Path,
    target: u32,
) -> Result<Vec<u32>, StoreError> {
    let p = path.display();
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .ctx(|| format!("starting the migration of {p}"))?;
    // Read under the write lock: another process may have migrated meanwhile.
    let current = header(&tx, path)?;
    let mut applied = Vec::new();
    for m in MIGRATIONS
        .iter()
        .filter(|m| m.version > current && m.version <= target)
    {
        tx.execute_batch(m.sql)
            .ctx(|| format!("{p}: migration {} ({})", m.version, m.name))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            rusqlite::params![m.version, m.name, ts(Utc::now())?],
        )
        .ctx(|| format!("{p}: recording migration {}", m.version))?;
        tx.pragma_update(None, "user_version", m.version)
            .ctx(|| format!("{p}: setting schema version {}", m.version))?;
        applied.push(m.version);
    }
    if current == 0 && !applied.is_empty() {
        tx.pragma_update(None, "application_id", APPLICATION_ID)
            .ctx(|| format!("{p}: marking the file as a SIG store"))?;
    }
    tx.commit()
        .ctx(|| format!("{p}: committing the migration"))?;
    if !applied.is_empty() {
        tracing::info!(path = %p, from = current, to = target, ?applied, "store schema migrated");
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_contiguous_and_end_at_the_schema_version() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(
                m.version as usize,
                i + 1,
                "migration {} out of order",
                m.name
            );
        }
        assert_eq!(MIGRATIONS.last().map(|m| m.version), Some(SCHEMA_VERSION));
    }
}
