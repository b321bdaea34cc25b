//! Commits per second of a typical pipeline step on a SQLite store: one journal entry, one
//! audit event and the integration's new state, in one transaction.
//!
//! ```text
//! cargo run --release -p sig-store-sqlite --example store_bench -- \
//!     [--commits 20000] [--tasks 1,8] [--sync normal|full|extra] [--path FILE]
//! ```
//!
//! Without `--path` the file goes to the system temp directory and is removed afterwards.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use sig_core::ports::SourceKey;
use sig_core::store::{
    Actor, AuditEvent, AuditOutcome, Change, Integration, IntegrationStatus, StepEntry, Store,
};
use sig_store_sqlite::{SqliteOptions, SqliteStore, Synchronous};

/// Steps per integration (a proposal with one order has about this many).
const STEPS: usize = 10;

struct Args {
    commits: usize,
    tasks: Vec<usize>,
    sync: Synchronous,
    path: Option<PathBuf>,
}

fn usage(msg: &str) -> ! {
    eprintln!(
        "{msg}\nusage: store_bench [--commits N] [--tasks 1,8] [--sync normal|full|extra] [--path FILE]"
    );
    std::process::exit(2)
}

fn args() -> Args {
    let mut a = Args {
        commits: 20_000,
        tasks: vec![1, 8],
        sync: Synchronous::default(),
        path: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .unwrap_or_else(|| usage(&format!("{flag} needs a value")))
        };
        match flag.as_str() {
            "--commits" => a.commits = value().parse().unwrap_or_else(|_| usage("bad --commits")),
            "--tasks" => {
                a.tasks = value()
                    .split(',')
                    .map(|t| t.trim().parse().unwrap_or_else(|_| usage("bad --tasks")))
                    .collect()
            }
            "--sync" => a.sync = value().parse().unwrap_or_else(|e| usage(&format!("{e}"))),
            "--path" => a.path = Some(value().into()),
            "-h" | "--help" => usage("store_bench: commits/s of a typical step commit"),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    if a.tasks.is_empty() || a.tasks.contains(&0) || a.commits == 0 {
        usage("--commits and --tasks must be positive");
    }
    a
}

/// Pre-create the integrations one task will advance.
async fn integrations(store: &SqliteStore, run: usize, task: usize, n: usize) -> Vec<Integration> {
    let mut out = Vec::with_capacity(n);
    for k in 0..n {
        let new = Integration::new(
            "acme".parse().expect("company"),
            SourceKey {
                account: "acme".into(),
                proposal_id: format!("bench-{run}-{task}-{k}"),
            },
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
        out.push(store.intake(new, e).await.expect("intake").0);
    }
    out
}

/// One typical step commit.
fn step_change(i: &mut Integration, k: usize) -> Change {
    let now = Utc::now();
    let key = format!("contract:{k}");
    i.step = Some(key.clone());
    if k + 1 == STEPS {
        i.status = IntegrationStatus::Done;
        i.finished_at = Some(now);
    }
    let mut change = Change::state(i.clone());
    change.steps = vec![StepEntry {
        key: key.clone(),
        result: serde_json::json!({"erp_contract_id": 1_000_000 + k, "order": "0197a3c2-7e1f-7000-8000-000000000000"}),
        at: now,
        duration_ms: 35,
    }];
    let mut e = AuditEvent::new(
        now,
        Actor::System,
        format!("step.{key}"),
        AuditOutcome::Ok,
        "contract ensured (cCodIntCtr 0197a3c2…)",
    );
    e.integration = Some(i.id);
    e.system = Some(sig_core::ports::System::Omie);
    e.call = Some("UpsertContrato".into());
    e.duration_ms = Some(35);
    e.details = serde_json::json!({"codigo_contrato": 1_000_000 + k});
    change.audit = vec![e];
    change
}

async fn run(store: Arc<SqliteStore>, run: usize, tasks: usize, commits: usize) {
    let per_task = commits.div_ceil(tasks);
    let mut prepared = Vec::new();
    for t in 0..tasks {
        prepared.push(integrations(&store, run, t, per_task.div_ceil(STEPS)).await);
    }
    let start = Instant::now();
    let mut handles = Vec::new();
    for mut mine in prepared {
        let s = store.clone();
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(per_task);
            'outer: for i in &mut mine {
                for k in 0..STEPS {
                    if lat.len() == per_task {
                        break 'outer;
                    }
                    let change = step_change(i, k);
                    let t0 = Instant::now();
                    s.commit(change).await.expect("commit");
                    lat.push(t0.elapsed());
                }
            }
            lat
        }));
    }
    let mut lat: Vec<Duration> = Vec::new();
    for h in handles {
        lat.extend(h.await.expect("task"));
    }
    let elapsed = start.elapsed();
    lat.sort();
    let pct = |p: f64| lat[((lat.len() - 1) as f64 * p) as usize];
    println!(
        "tasks {tasks:>3}: {:>7} commits in {:>6.2} s = {:>8.0} commits/s  (latency p50 {:?}, p99 {:?}, max {:?})",
        lat.len(),
        elapsed.as_secs_f64(),
        lat.len() as f64 / elapsed.as_secs_f64(),
        pct(0.5),
        pct(0.99),
        lat[lat.len() - 1],
    );
}

fn main() {
    let a = args();
    let temp = a.path.is_none();
    let path = a.path.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!(
            "sig-store-bench-{}.db",
            uuid::Uuid::now_v7().simple()
        ))
    });
    let options = SqliteOptions {
        synchronous: a.sync,
        ..SqliteOptions::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let store = Arc::new(SqliteStore::open_with(&path, options).expect("open store"));
        println!(
            "store_bench: {} (synchronous = {}, WAL), one journal entry + one audit event + state per commit",
            path.display(),
            a.sync
        );
        for (n, tasks) in a.tasks.iter().enumerate() {
            run(store.clone(), n, *tasks, a.commits).await;
        }
    });
    if temp {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}
