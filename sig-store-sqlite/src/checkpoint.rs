//! WAL checkpoints off the commit path.
//!
//! SQLite normally checkpoints inline: the commit that pushes the WAL past
//! `wal_autocheckpoint` pages copies them into the database file and syncs it, a stall of
//! several milliseconds for that one commit. Here a background thread with its own connection
//! runs a `PASSIVE` checkpoint (which never blocks the writer or the readers) every
//! [`INTERVAL`], and the writer's own auto-checkpoint is only a safety net at
//! [`WRITER_AUTOCHECKPOINT`] pages. Durability is unchanged: the checkpoint syncs as the
//! writer's `synchronous` setting says.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use sig_core::store::StoreError;

use crate::codec::Ctx;
use crate::options::SqliteOptions;

/// How often the background thread checkpoints.
pub(crate) const INTERVAL: Duration = Duration::from_millis(100);

/// The writer checkpoints inline only past this many WAL pages (about 40 MB with 4 KiB pages).
pub(crate) const WRITER_AUTOCHECKPOINT: u32 = 10_000;

/// The background checkpoint thread; stopped and joined on drop.
pub(crate) struct Checkpointer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Start checkpointing the store at `path`.
    pub(crate) fn start(path: &Path, options: &SqliteOptions) -> Result<Self, StoreError> {
        let p = path.display().to_string();
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .ctx(|| format!("opening {p} for checkpoints"))?;
        conn.busy_timeout(options.busy_timeout)
            .ctx(|| format!("{p}: checkpoint busy_timeout"))?;
        conn.pragma_update(None, "synchronous", options.synchronous.as_str())
            .ctx(|| format!("{p}: checkpoint synchronous"))?;
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .ctx(|| format!("{p}: checkpoint wal_autocheckpoint"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("sig-store-checkpoint".into())
            .spawn(move || {
                while !flag.load(Ordering::Acquire) {
                    std::thread::park_timeout(INTERVAL);
                    if flag.load(Ordering::Acquire) {
                        break;
                    }
                    let r = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                        Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
                    });
                    match r {
                        Ok((log, done)) => {
                            tracing::trace!(path = %p, log, done, "wal checkpoint")
                        }
                        Err(e) => tracing::warn!(path = %p, error = %e, "wal checkpoint failed"),
                    }
                }
            })
            .map_err(|e| {
                StoreError::Unavailable(format!("{}: checkpoint thread: {e}", path.display()))
            })?;
        Ok(Checkpointer {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}
