//! The writer thread: one connection, group commit.
//!
//! Every write of a [`SqliteStore`](crate::SqliteStore) is a closure sent to one thread that
//! owns the writer connection. The thread takes the first waiting write, then every other
//! write already queued (up to [`MAX_GROUP`]), and applies them in one `BEGIN IMMEDIATE`
//! transaction, each inside its own savepoint: a write that fails (a step journaled twice, a
//! vanished row, a panic) is rolled back alone and its caller gets its error, the others
//! commit. Callers are answered only once the transaction is committed (durable as the
//! store's `synchronous` setting says). Writes in one group see each other in queue order, as
//! if they ran one after another.
//!
//! Alone, a write costs one transaction; under load, the writes that arrive while one
//! transaction is applied all share the next one (one WAL append, one thread hand-off), so
//! throughput grows with the number of writers instead of queueing them one transaction each.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;

use rusqlite::{Connection, TransactionBehavior};
use sig_core::store::StoreError;

use crate::codec::Ctx;

/// The most writes one transaction carries (bounds its size and the callers' wait).
pub(crate) const MAX_GROUP: usize = 512;

/// A write queued for the writer thread.
trait QueuedWrite: Send {
    /// Apply it on the group's transaction (inside its own savepoint), keeping its result.
    /// Returns whether it succeeded (then its savepoint is released, else rolled back).
    fn apply(&mut self, conn: &Connection) -> bool;
    /// Answer the caller once the group transaction ended: its own result when the group
    /// committed, else why nothing was stored.
    fn answer(self: Box<Self>, group: Result<(), &StoreError>);
}

struct Queued<T, F> {
    op: &'static str,
    f: Option<F>,
    result: Option<Result<T, StoreError>>,
    reply: tokio::sync::oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> QueuedWrite for Queued<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send,
{
    fn apply(&mut self, conn: &Connection) -> bool {
        let Some(f) = self.f.take() else {
            return false;
        };
        let r = catch_unwind(AssertUnwindSafe(|| f(conn))).unwrap_or_else(|_| {
            Err(StoreError::Unavailable(format!(
                "{}: the write panicked and was rolled back",
                self.op
            )))
        });
        let ok = r.is_ok();
        self.result = Some(r);
        ok
    }

    fn answer(self: Box<Self>, group: Result<(), &StoreError>) {
        let r = match (group, self.result) {
            (Ok(()), Some(r)) => r,
            // Its own failure says more than the group's.
            (Err(_), Some(Err(own))) => Err(own),
            (Err(e), _) => Err(StoreError::Unavailable(format!("{}: {e}", self.op))),
            (Ok(()), None) => Err(StoreError::Unavailable(format!(
                "{}: the write was not applied by its group",
                self.op
            ))),
        };
        // The caller may have gone (a cancelled request): the write stands regardless.
        let _ = self.reply.send(r);
    }
}

/// The writer thread and the queue to it; stopped and joined on drop (after the writes
/// already queued are applied).
pub(crate) struct Writer {
    queue: Option<mpsc::Sender<Box<dyn QueuedWrite>>>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    /// Start the writer thread on `conn` (the store at `path`).
    pub(crate) fn start(conn: Connection, path: &Path) -> Result<Self, StoreError> {
        let (queue, rx) = mpsc::channel::<Box<dyn QueuedWrite>>();
        let thread = std::thread::Builder::new()
            .name("sig-store-writer".into())
            .spawn(move || run(conn, rx))
            .map_err(|e| {
                StoreError::Unavailable(format!("{}: writer thread: {e}", path.display()))
            })?;
        Ok(Writer {
            queue: Some(queue),
            thread: Some(thread),
        })
    }

    /// Queue `f` and wait for its group's transaction.
    pub(crate) async fn write<T, F>(&self, op: &'static str, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let queued = Box::new(Queued {
            op,
            f: Some(f),
            result: None,
            reply,
        });
        let stopped = || StoreError::Unavailable(format!("{op}: the store's writer stopped"));
        self.queue
            .as_ref()
            .ok_or_else(stopped)?
            .send(queued)
            .map_err(|_| stopped())?;
        answer.await.unwrap_or_else(|_| Err(stopped()))
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the queue ends the thread once it has applied what is queued.
        drop(self.queue.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(mut conn: Connection, rx: mpsc::Receiver<Box<dyn QueuedWrite>>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        drain(&rx, &mut batch);
        if batch.len() < GATHER_BELOW {
            // Busy but not yet grouping: a moment's wait lets the writes in flight join
            // this transaction (each transaction writes its dirty pages to the WAL once).
            std::thread::sleep(GATHER);
            drain(&rx, &mut batch);
        }
        apply_group(&mut conn, batch);
    }
}

/// A group smaller than this waits [`GATHER`] for more writes.
const GATHER_BELOW: usize = 8;
/// How long a small group waits for more writes.
const GATHER: std::time::Duration = std::time::Duration::from_micros(200);

fn drain(rx: &mpsc::Receiver<Box<dyn QueuedWrite>>, batch: &mut Vec<Box<dyn QueuedWrite>>) {
    while batch.len() < MAX_GROUP {
        match rx.try_recv() {
            Ok(w) => batch.push(w),
            Err(_) => break,
        }
    }
}

/// Apply `batch` in one transaction, one savepoint per write, and answer every caller.
fn apply_group(conn: &mut Connection, mut batch: Vec<Box<dyn QueuedWrite>>) {
    let what = format!("group transaction of {} write(s)", batch.len());
    let outcome = (|| -> Result<(), StoreError> {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .ctx(|| format!("{what}: starting the transaction"))?;
        // Cached statements: a savepoint per write must not cost an SQL parse.
        let exec = |sql: &str, doing: &str| {
            tx.prepare_cached(sql)
                .and_then(|mut st| st.execute([]))
                .ctx(|| format!("{what}: {doing}"))
        };
        for w in &mut batch {
            exec("SAVEPOINT w", "savepoint")?;
            if !w.apply(&tx) {
                // Undo the write; the savepoint stays open until released.
                exec("ROLLBACK TO w", "rolling a write back")?;
            }
            exec("RELEASE w", "releasing a savepoint")?;
        }
        tx.commit().ctx(|| format!("{what}: committing"))
    })();
    // Nothing of the group is stored on failure: every caller learns why.
    for w in batch {
        w.answer(outcome.as_ref().map(|_| ()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insert(c: &Connection, v: i64) -> Result<(), StoreError> {
        c.execute("INSERT INTO t (v) VALUES (?1)", [v])
            .ctx(|| "inserting")
            .map(|_| ())
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_failing_or_panicking_write_is_rolled_back_alone_and_the_writer_goes_on() {
        let conn = Connection::open_in_memory().expect("open");
        conn.execute_batch("CREATE TABLE t (v INTEGER NOT NULL)")
            .expect("table");
        let w = Writer::start(conn, Path::new(":memory:")).expect("writer");
        let (ok, failed, panicked) = tokio::join!(
            w.write("ok", |c| insert(c, 1)),
            w.write("failing", |c| {
                insert(c, 10)?;
                Err::<(), _>(StoreError::Corrupt("refused after writing".into()))
            }),
            w.write("panicking", |c| -> Result<(), StoreError> {
                insert(c, 100)?;
                panic!("a bug in a write")
            }),
        );
        ok.expect("the good write commits");
        assert!(matches!(failed, Err(StoreError::Corrupt(m)) if m == "refused after writing"));
        match panicked {
            Err(StoreError::Unavailable(m)) => assert!(m.contains("panicked"), "{m}"),
            other => panic!("expected the panic as an error, got {other:?}"),
        }
        let sum: i64 = w
            .write("sum", |c| {
                c.query_row("SELECT coalesce(sum(v), 0) FROM t", [], |r| r.get(0))
                    .ctx(|| "summing")
            })
            .await
            .expect("the writer still works");
        assert_eq!(sum, 1, "only the good write is stored");
    }
}
