//! SIG VoIP's embedded store: sig-core's [`Store`](sig_core::store::Store) port on one SQLite
//! file (SQLite bundled in the binary, so no system library is needed).
//!
//! - [`SqliteStore::open`] creates the file if needed and applies the **versioned
//!   migrations** embedded in the binary (`migrations/NNNN_*.sql`, tracked by
//!   `PRAGMA user_version` and the `schema_migrations` table); a file from a newer build is
//!   refused. [`SqliteStore::open_read_only`] is for BI, Python and reports
//!   (`SQLITE_OPEN_READ_ONLY`: every write is refused with a clear error).
//! - WAL journal, `foreign_keys = ON`, a `busy_timeout` (default 5 s). One writer thread owns
//!   the writer connection and commits in groups: the writes that queue while it applies one
//!   `BEGIN IMMEDIATE` transaction share the next, each in its own savepoint, so
//!   [`Store::commit`], [`Store::reserve`], [`Store::claim`] and [`Store::intake`] are atomic
//!   (even against other processes on the same file), fail alone, and cost one WAL append per
//!   group rather than per write. A small pool of read-only connections reads in parallel on
//!   tokio's blocking threads.
//!
//! # Durability
//!
//! Default: **`synchronous = NORMAL` in WAL** ([`Synchronous::Normal`]). A process crash
//! (SIGKILL, panic, OOM kill) loses nothing that was acknowledged: a commit is in the WAL file
//! before `commit` returns. An OS crash or power loss keeps the file consistent (never
//! corrupt) but may lose the last commits made since the WAL was last synced (at a
//! checkpoint). For SIG that loss is safe: a lost journal entry makes the pipeline run that
//! step again, and every upstream call is keyed by SIG's natural keys (found before created),
//! so a re-run finds the record instead of duplicating it; a lost intake comes back through
//! reconciliation. In exchange a commit costs no `fsync`, which is what lets the pipeline
//! reach its throughput target. [`Synchronous::Full`] (one `fsync` per commit) makes every
//! acknowledged commit survive a power loss too; choose it with
//! [`SqliteOptions::synchronous`] where the disk is fast or the volume low.
//!
//! # Storage format
//!
//! Timestamps are fixed-width RFC 3339 UTC text with nanoseconds
//! (`2026-11-25T06:08:58.123456789Z`): they round-trip `DateTime<Utc>` exactly, text order is
//! time order, and people and BI tools can read them (years 0000–9999; others are refused).
//! Ids are hyphenated UUIDs; structured values (proposal, problems, failure, actor, step
//! results, audit details, limit state) are JSON text in the serde form of sig-core's types.
//!
//! An integration's source key is its identity: [`Store::commit`] updates every other field
//! of the integration and leaves `source` as it was created.
//!
//! [`Store::commit`]: sig_core::store::Store::commit
//! [`Store::reserve`]: sig_core::store::Store::reserve
//! [`Store::claim`]: sig_core::store::Store::claim
//! [`Store::intake`]: sig_core::store::Store::intake

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod checkpoint;
mod codec;
mod migrations;
mod options;
mod store;
mod writer;

pub use migrations::SCHEMA_VERSION;
pub use options::{SqliteOptions, Synchronous, UnknownSynchronous};
pub use store::SqliteStore;

#[cfg(test)]
mod tests;
