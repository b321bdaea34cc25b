//! Crash safety: a child process (this test binary, re-executed) commits in a loop and is
//! killed with SIGKILL at varying moments; after each kill the file must be consistent, every
//! commit the child acknowledged must be there, and every transaction must be whole
//! (integration state, journal entry and audit event together or not at all).

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chrono::Utc;
use sig_core::ids::IntegrationId;
use sig_core::ports::SourceKey;
use sig_core::store::{
    Actor, AuditEvent, AuditFilter, AuditOutcome, Change, Integration, IntegrationFilter,
    IntegrationStatus, StepEntry, Store,
};
use sig_store_sqlite::SqliteStore;

const CHILD_ENV: &str = "SIG_STORE_SQLITE_CRASH_CHILD";
const ROUND_ENV: &str = "SIG_STORE_SQLITE_CRASH_ROUND";
/// Steps per integration; the last one marks it done.
const STEPS: usize = 6;
/// Concurrent writers in the child.
const WORKERS: usize = 4;
/// Acknowledgements to wait for before each kill (varied so kills land at different points).
const KILL_AFTER: [usize; 8] = [1, 40, 7, 300, 120, 900, 13, 500];

fn ack(line: String) {
    // stdout is line-buffered: the line is out before the next commit starts.
    println!("ACK {line}");
}

fn source(proposal: &str) -> SourceKey {
    SourceKey {
        account: "acme".into(),
        proposal_id: proposal.to_owned(),
    }
}

/// Run the remaining steps of an integration, one commit each, acknowledging each.
async fn advance(store: &SqliteStore, mut i: Integration, from: usize) {
    for k in from..STEPS {
        let key = format!("s{k}");
        let now = Utc::now();
        i.step = Some(key.clone());
        i.attempts = k as u32;
        if k + 1 == STEPS {
            i.status = IntegrationStatus::Done;
            i.finished_at = Some(now);
        }
        let mut change = Change::state(i.clone());
        change.steps = vec![StepEntry {
            key: key.clone(),
            result: serde_json::json!({"k": k, "pad": "x".repeat(200)}),
            at: now,
            duration_ms: k as u64,
        }];
        let mut e = AuditEvent::new(
            now,
            Actor::System,
            format!("step.{key}"),
            AuditOutcome::Ok,
            "ok",
        );
        e.integration = Some(i.id);
        change.audit = vec![e];
        store.commit(change).await.expect("child commit");
        ack(format!("step {} {k}", i.id));
    }
}

async fn child(path: PathBuf, round: usize) {
    let store = Arc::new(SqliteStore::open(&path).expect("child open"));
    // Resume what earlier children left unfinished, as the pipeline does on start.
    let pending = store
        .list(&IntegrationFilter {
            statuses: vec![IntegrationStatus::Pending],
            ..Default::default()
        })
        .await
        .expect("child list");
    let mut tasks = Vec::new();
    let s = store.clone();
    tasks.push(tokio::spawn(async move {
        for i in pending {
            let done = s.journal(i.id).await.expect("child journal").len();
            advance(&s, i, done).await;
        }
    }));
    for w in 0..WORKERS {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0.. {
                let proposal = format!("r{round}-w{w}-{n}");
                let new = Integration::new(
                    "acme".parse().expect("company"),
                    source(&proposal),
                    Actor::Webhook("acme".into()),
                    Utc::now(),
                );
                let e = AuditEvent::new(
                    Utc::now(),
                    Actor::Webhook("acme".into()),
                    "intake",
                    AuditOutcome::Ok,
                    "received",
                );
                let (i, created) = s.intake(new, e).await.expect("child intake");
                assert!(created, "a fresh proposal id");
                ack(format!("intake {proposal} {}", i.id));
                advance(&s, i, 0).await;
            }
        }));
    }
    for t in tasks {
        t.await.expect("child task");
    }
}

/// The child's entry point: does nothing unless the parent test started it.
#[test]
fn crash_child() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let round = std::env::var(ROUND_ENV)
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(child(path.into(), round));
}

#[derive(Default)]
struct Acks {
    intakes: BTreeMap<String, IntegrationId>,
    /// Steps acknowledged per integration (highest step + 1).
    steps: BTreeMap<IntegrationId, usize>,
    total: usize,
}

impl Acks {
    fn record(&mut self, line: &str) {
        let Some(rest) = line.strip_prefix("ACK ") else {
            return;
        };
        let parts: Vec<&str> = rest.split_whitespace().collect();
        match parts.as_slice() {
            ["intake", proposal, id] => {
                self.intakes
                    .insert((*proposal).to_owned(), id.parse().expect("id"));
            }
            ["step", id, k] => {
                let k: usize = k.parse().expect("k");
                let e = self.steps.entry(id.parse().expect("id")).or_default();
                *e = (*e).max(k + 1);
            }
            _ => panic!("unexpected line {line:?}"),
        }
        self.total += 1;
    }
}

/// Run one child until `kill_after` acknowledgements, SIGKILL it, collect every ack it made.
fn run_and_kill(db: &Path, round: usize, kill_after: usize, acks: &mut Acks) {
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, db)
        .env(ROUND_ENV, round.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = 0;
    while seen < kill_after {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                if line.starts_with("ACK ") {
                    seen += 1;
                }
                acks.record(&line);
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("round {round}: the child acknowledged only {seen} commits in 60 s");
            }
        }
    }
    child.kill().expect("SIGKILL the child");
    let status = child.wait().expect("wait child");
    assert!(!status.success(), "the child was killed, not finished");
    // Whatever it printed before dying was acknowledged too.
    for line in rx.iter() {
        acks.record(&line);
    }
    reader.join().expect("reader");
}

async fn verify(db: &Path, acks: &Acks, round: usize) -> (usize, usize) {
    let store = SqliteStore::open(db).expect("reopen after SIGKILL");
    store
        .integrity_check()
        .await
        .expect("the file is consistent");
    for (proposal, id) in &acks.intakes {
        let found = store
            .find_by_source(&source(proposal))
            .await
            .expect("find")
            .unwrap_or_else(|| panic!("round {round}: acknowledged intake {proposal} lost"));
        assert_eq!(&found.id, id);
    }
    for (id, n) in &acks.steps {
        let j = store.journal(*id).await.expect("journal");
        assert!(
            j.len() >= *n,
            "round {round}: {id} acknowledged {n} steps, the journal has {}",
            j.len()
        );
    }
    // Every transaction is whole.
    let all = store
        .list(&IntegrationFilter::default())
        .await
        .expect("list");
    let mut done = 0;
    for i in &all {
        let j = store.journal(i.id).await.expect("journal");
        let n = j.len();
        let expected: Vec<String> = (0..n).map(|k| format!("s{k}")).collect();
        let mut keys: Vec<String> = j.keys().cloned().collect();
        keys.sort_by_key(|k| k[1..].parse::<usize>().expect("step number"));
        assert_eq!(keys, expected, "{}: journal has a gap", i.id);
        assert_eq!(
            i.step,
            expected.last().cloned(),
            "{}: state and journal disagree",
            i.id
        );
        assert_eq!(i.status == IntegrationStatus::Done, n == STEPS, "{}", i.id);
        done += usize::from(n == STEPS);
        let events = store
            .audit(&AuditFilter {
                integration: Some(i.id),
                ..Default::default()
            })
            .await
            .expect("audit");
        let steps = events
            .iter()
            .filter(|e| e.action.starts_with("step."))
            .count();
        assert_eq!(steps, n, "{}: audit and journal disagree", i.id);
        assert_eq!(events.len() - steps, 1, "{}: one intake event", i.id);
    }
    (all.len(), done)
}

#[test]
fn sigkill_loses_no_acknowledged_commit() {
    let dir = common::TempDir::new("crash");
    let db = dir.db("crash.db");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut acks = Acks::default();
    for (round, kill_after) in KILL_AFTER.into_iter().enumerate() {
        run_and_kill(&db, round, kill_after, &mut acks);
        // Unless SQLite checkpointed just before the kill, commits are still only in the WAL:
        // reopening has to recover them from it.
        let wal = std::fs::metadata(dir.db("crash.db-wal")).map_or(0, |m| m.len());
        let (integrations, done) = rt.block_on(verify(&db, &acks, round));
        eprintln!(
            "round {round}: killed after {kill_after}+ acks with {wal} bytes of WAL; {} \
             acknowledged so far, {integrations} integrations ({done} done), all present and whole",
            acks.total
        );
    }
    assert!(acks.total >= KILL_AFTER.iter().sum::<usize>());
}
