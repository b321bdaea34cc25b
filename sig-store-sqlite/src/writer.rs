//! The writer thread: one connection, group commit.
//!
//! Every write of a [`SqliteStore`](crate::SqliteStore) is a closure sent to one thread that
//! owns the writer connection. The thread takes the first waiting write, then every other
//! write already queued (up to [`MAX_GROUP`]), and applies them in one `BEGIN IMMEDIATE`
//! transaction. A write that fails (a step journaled twice, a vanished row, a panic) is rolled
//! back alone and its caller gets its error, the others commit: the group is first applied
//! without savepoints (a savepoint copies every page a write touches into a sub-journal, and
//! writes almost never fail); when one fails, that transaction is rolled back and the group is
//! applied again with each write inside its own savepoint. A write is a function of the
//! database, so applying it again gives the answer it would have given the first time. Callers are answered only once the transaction is committed (durable as the
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
    /// Apply it on the group's transaction, keeping its result (a second application, after
    /// the group was rolled back, replaces the first one's). Returns whether it succeeded.
    fn apply(&mut self, conn: &Connection) -> bool;
    /// Answer the caller once the group transaction ended: its own result when the group
    /// committed, else why nothing was stored.
    fn answer(self: Box<Self>, group: Result<(), &StoreError>);
}

struct Queued<T, F> {
    op: &'static str,
    f: F,
    result: Option<Result<T, StoreError>>,
    reply: tokio::sync::oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> QueuedWrite for Queued<T, F>
where
    T: Send,
    F: FnMut(&Connection) -> Result<T, StoreError> + Send,
{
    fn apply(&mut self, conn: &Connection) -> bool {
        let f = &mut self.f;
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

    /// Queue `f` and wait for its group's transaction. `f` may be applied more than once (see
    /// the module docs): it must depend only on the database and what it captured.
    pub(crate) async fn write<T, F>(&self, op: &'static str, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnMut(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let queued = Box::new(Queued {
            op,
            f,
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
            // Busy but not yet grouping: stepping aside lets the threads that are ready to run
            // (the workers making the writes in flight) go first, so their writes join this
            // transaction (each transaction writes its dirty pages to the WAL once). Unlike a
            // fixed wait, it never leaves a core idle: with nothing else ready it returns at
            // once.
            std::thread::yield_now();
            drain(&rx, &mut batch);
        }
        apply_group(&mut conn, batch);
    }
}

/// A group smaller than this yields its core once to gather more writes. (A fixed 200 µs
/// wait instead cost the end-to-end benchmark about 5 % of its rate: the cores idled while
/// every integration waited on the sleeping writer.)
const GATHER_BELOW: usize = 8;

fn drain(rx: &mpsc::Receiver<Box<dyn QueuedWrite>>, batch: &mut Vec<Box<dyn QueuedWrite>>) {
    while batch.len() < MAX_GROUP {
        match rx.try_recv() {
            Ok(w) => batch.push(w),
            Err(_) => break,
        }
    }
}

/// Apply `batch` in one transaction and answer every caller: optimistically without
/// savepoints, and again with one savepoint per write when a write failed.
fn apply_group(conn: &mut Connection, mut batch: Vec<Box<dyn QueuedWrite>>) {
    let what = format!("group transaction of {} write(s)", batch.len());
    let mut outcome = transaction(conn, &mut batch, Isolation::None, &what);
    if matches!(outcome, Ok(false)) {
        // A write failed and everything was rolled back. A lone write's answer is its error;
        // a group is applied again, each write alone in its savepoint.
        outcome = if batch.len() == 1 {
            Ok(true)
        } else {
            transaction(conn, &mut batch, Isolation::Savepoints, &what)
        };
    }
    // Nothing of the group is stored on failure: every caller learns why.
    let outcome = outcome.map(|_| ());
    for w in batch {
        w.answer(outcome.as_ref().map(|_| ()));
    }
}

/// How the writes of one transaction are kept apart.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Isolation {
    /// None: the first failure rolls the whole transaction back.
    None,
    /// A savepoint per write: a failure rolls back that write alone.
    Savepoints,
}

/// One transaction over `batch`. `Ok(true)`: committed (each write holds its result);
/// `Ok(false)`: a write failed without savepoints, so nothing was committed.
fn transaction(
    conn: &mut Connection,
    batch: &mut [Box<dyn QueuedWrite>],
    isolation: Isolation,
    what: &str,
) -> Result<bool, StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .ctx(|| format!("{what}: starting the transaction"))?;
    // Cached statements: a savepoint per write must not cost an SQL parse.
    let exec = |sql: &str, doing: &str| {
        tx.prepare_cached(sql)
            .and_then(|mut st| st.execute([]))
            .ctx(|| format!("{what}: {doing}"))
    };
    for w in batch.iter_mut() {
        if isolation == Isolation::None {
            if !w.apply(&tx) {
                tx.rollback()
                    .ctx(|| format!("{what}: rolling back after a failed write"))?;
                return Ok(false);
            }
            continue;
        }
        exec("SAVEPOINT w", "savepoint")?;
        if !w.apply(&tx) {
            // Undo the write; the savepoint stays open until released.
            exec("ROLLBACK TO w", "rolling a write back")?;
        }
        exec("RELEASE w", "releasing a savepoint")?;
    }
    tx.commit().ctx(|| format!("{what}: committing"))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn insert(c: &Connection, v: i64) -> Result<(), StoreError> {
        c.execute("INSERT INTO t (v) VALUES (?1)", [v])
            .ctx(|| "inserting")
            .map(|_| ())
    }

    type Reply = tokio::sync::oneshot::Receiver<Result<i64, StoreError>>;

    /// A queued write that inserts `v` (and fails after inserting when `fail`), counting how
    /// often it was applied; it answers the row count it saw.
    fn queued(v: i64, fail: bool, runs: &Arc<AtomicUsize>) -> (Box<dyn QueuedWrite>, Reply) {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let runs = runs.clone();
        let w = Box::new(Queued {
            op: "test",
            f: move |c: &Connection| {
                runs.fetch_add(1, Ordering::SeqCst);
                insert(c, v)?;
                if fail {
                    return Err(StoreError::Corrupt(format!("write {v} refused")));
                }
                c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))
                    .ctx(|| "counting")
            },
            result: None,
            reply,
        });
        (w, answer)
    }

    fn table() -> Connection {
        let conn = Connection::open_in_memory().expect("open");
        conn.execute_batch("CREATE TABLE t (v INTEGER NOT NULL)")
            .expect("table");
        conn
    }

    fn stored(conn: &Connection) -> Vec<i64> {
        let mut st = conn.prepare("SELECT v FROM t ORDER BY v").expect("prepare");
        st.query_map([], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    }

    #[test]
    fn a_group_without_failures_applies_each_write_once() {
        let mut conn = table();
        let runs = Arc::new(AtomicUsize::new(0));
        let (batch, answers): (Vec<_>, Vec<_>) = (1..=3).map(|v| queued(v, false, &runs)).unzip();
        apply_group(&mut conn, batch);
        assert_eq!(runs.load(Ordering::SeqCst), 3, "no second pass");
        let seen: Vec<i64> = answers
            .into_iter()
            .map(|mut a| a.try_recv().expect("answered").expect("ok"))
            .collect();
        assert_eq!(seen, [1, 2, 3], "each write sees the ones queued before it");
        assert_eq!(stored(&conn), [1, 2, 3]);
    }

    #[test]
    fn a_failed_write_sends_its_group_through_savepoints_and_only_it_is_lost() {
        let mut conn = table();
        let runs = Arc::new(AtomicUsize::new(0));
        let (batch, answers): (Vec<_>, Vec<_>) = [(1, false), (2, true), (3, false)]
            .into_iter()
            .map(|(v, fail)| queued(v, fail, &runs))
            .unzip();
        apply_group(&mut conn, batch);
        // Optimistic pass: 1 and 2 (which fails); second pass with savepoints: all three.
        assert_eq!(runs.load(Ordering::SeqCst), 5);
        let mut answers = answers.into_iter();
        let mut next = || answers.next().expect("three").try_recv().expect("answered");
        assert_eq!(next().expect("write 1"), 1);
        assert!(matches!(next(), Err(StoreError::Corrupt(m)) if m == "write 2 refused"));
        // Write 3 does not see the rolled-back 2, in either pass's answer.
        assert_eq!(next().expect("write 3"), 2);
        assert_eq!(stored(&conn), [1, 3]);
    }

    #[test]
    fn a_lone_failed_write_is_not_applied_twice() {
        let mut conn = table();
        let runs = Arc::new(AtomicUsize::new(0));
        let (w, mut answer) = queued(7, true, &runs);
        apply_group(&mut conn, vec![w]);
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert!(matches!(
            answer.try_recv().expect("answered"),
            Err(StoreError::Corrupt(_))
        ));
        assert!(stored(&conn).is_empty());
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
