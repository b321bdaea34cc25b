//! Crash test of the whole first flow: `sig sync --once` (built with the `failpoints`
//! feature) runs as a child process against the Omie, NextBilling and DocSales sandboxes
//! running in this test process, and is killed with SIGKILL — at every failpoint (right after
//! an upstream effect, before its journal write) and at random moments — again and again until
//! its work is done.
//!
//! At each failpoint kill the test checks that the upstream record the child reported exists
//! in the sandbox and that the store's journal does not have the step yet (so the next run
//! must *find* it, not create it again), and counts the hits per failpoint. After each round
//! every proposal must be done, and the sandboxes' own counters must show exactly one
//! successful create per customer, contract, Next customer, line and DID — one SIG customer,
//! and one upstream customer, per CPF/CNPJ. Rounds repeat (fresh sandboxes and store) until at
//! least 200 runs were made and every failpoint was hit.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use sig_cli::cmd::demo::DEMO_CONFIG;
use sig_cli::sample::{SampleSpec, generated_proposals};
use sig_cli::sandboxes::{DemoOptions, DemoSandboxes, GeneratedSecrets, pointed_config};
use sig_core::config::Config;
use sig_core::failpoints::{Effect, NAMES};
use sig_core::ids::IntegrationId;
use sig_core::pipeline::{ServerChoiceWithOrder, Validated};
use sig_core::store::{IntegrationFilter, IntegrationStatus, Store};
use sig_store_sqlite::SqliteStore;

const SIG: &str = env!("CARGO_BIN_EXE_sig");
/// Proposals per round (multi-order ones and same-customer pairs among them).
const PROPOSALS: usize = 24;
/// Runs (child processes) in total, at least.
const MIN_RUNS: usize = 200;
/// A round that needs more runs than this is stuck.
const MAX_RUNS_PER_ROUND: usize = 80;

struct Round {
    dir: PathBuf,
    config: PathBuf,
    env: BTreeMap<String, String>,
    sb: DemoSandboxes,
    proposals: Vec<Value>,
}

impl Round {
    async fn start(n: usize, seed: u64) -> Round {
        let dir = std::env::temp_dir().join(format!(
            "sig-crash-{}-{n}-{}",
            std::process::id(),
            IntegrationId::new()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let mut spec = SampleSpec::demo(PROPOSALS, seed);
        spec.first_id = 300_000 + (n as u64) * 1000;
        let proposals = generated_proposals(&spec);
        let options = DemoOptions {
            // Omie's windows at 1 % so a REDUNDANT wait after a restart lasts 0.6 s, not 60.
            omie_scale: 0.01,
            seed,
            unlimited: false,
        };
        let secrets = GeneratedSecrets::default();
        let mut config = Config::from_toml(DEMO_CONFIG, &dir, &secrets).unwrap();
        let sb = DemoSandboxes::from_config(&config, &proposals, options)
            .await
            .unwrap();
        sb.point_config(&mut config).unwrap();
        let env = secrets.values();
        let text = pointed_config(DEMO_CONFIG, &dir, &config).unwrap();
        let mut doc: toml::Table = text.parse().unwrap();
        let pipeline: toml::Table =
            "concurrency = 8\nmax_attempts = 50\nbackoff_base_ms = 10\nlease_secs = 1\n\
             backoff_max_ms = 200\nhealth_timeout_ms = 2000\n"
                .parse()
                .unwrap();
        doc.insert("pipeline".into(), toml::Value::Table(pipeline));
        // Room for every round's orders: running out of capacity is another test's subject.
        if let Some(toml::Value::Array(servers)) = doc.get_mut("servers") {
            for s in servers.iter_mut().filter_map(toml::Value::as_table_mut) {
                s.insert("capacity_lines".into(), toml::Value::Integer(100_000));
                s.insert("capacity_channels".into(), toml::Value::Integer(100_000));
            }
        }
        let text = toml::to_string(&doc).unwrap();
        let path = dir.join("sig.toml");
        std::fs::write(&path, text).unwrap();
        Round {
            dir,
            config: path,
            env,
            sb,
            proposals,
        }
    }

    fn store_path(&self) -> PathBuf {
        // The demo configuration's `sqlite = "sig-demo.sqlite"`, made absolute.
        std::fs::canonicalize(&self.dir)
            .unwrap()
            .join("sig-demo.sqlite")
    }
}

/// How a run ended.
enum RunEnd {
    /// Killed at a failpoint, after the effect.
    Failpoint(Effect),
    /// Killed by the test at a random moment.
    Killed,
    /// Ran to its end; whether every integration was done.
    Finished { all_done: bool },
}

fn run_child(round: &Round, kill: Option<&str>, kill_after: Option<Duration>) -> RunEnd {
    let mut cmd = Command::new(SIG);
    cmd.args(["sync", "--once", "--json", "--config"])
        .arg(&round.config)
        .envs(&round.env)
        .env("RUST_LOG", "off")
        .env_remove("SIG_FAILPOINT_KILL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(k) = kill {
        cmd.env("SIG_FAILPOINT_KILL", k);
    }
    let mut child = cmd.spawn().expect("spawn sig");
    let stderr = child.stderr.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let err_reader = std::thread::spawn(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });
    let out_reader = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });
    let mut killed = false;
    if let Some(after) = kill_after {
        let deadline = Instant::now() + after;
        loop {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            if Instant::now() >= deadline {
                child.kill().unwrap(); // SIGKILL
                killed = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let status = child.wait().unwrap();
    let err = err_reader.join().unwrap();
    let out = out_reader.join().unwrap();
    if let Some(hit) = err
        .iter()
        .find_map(|l| l.strip_prefix("SIG_FAILPOINT_HIT "))
    {
        let effect: Option<Effect> = serde_json::from_str(hit).unwrap();
        assert!(!status.success(), "the child survived its failpoint");
        return RunEnd::Failpoint(effect.expect("the failpoint recorded its effect"));
    }
    if killed && !status.success() {
        return RunEnd::Killed;
    }
    assert!(
        status.success(),
        "sig sync failed ({status}):\nstdout: {out:?}\nstderr: {err:?}"
    );
    let summary: Value = out
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["event"] == "summary")
        .unwrap_or_else(|| panic!("no summary in {out:?}"));
    let c = &summary["integrations"];
    RunEnd::Finished {
        all_done: c["done"] == PROPOSALS && c["pending"] == 0,
    }
}

/// At a failpoint kill: the upstream record exists, the journal does not have it.
async fn check_failpoint(round: &Round, e: &Effect) {
    let counters = match e.system.as_str() {
        "omie" => round.sb.omie.counters(),
        "nextbilling" => round
            .sb
            .next
            .instance(e.server.as_deref().expect("a Next effect names its server"))
            .expect("the server has a sandbox instance")
            .counters(),
        other => panic!("unexpected system {other}"),
    };
    assert!(
        counters.count(&e.kind, &e.key) >= 1,
        "{}: the upstream {} {} does not exist after the effect",
        e.failpoint,
        e.kind,
        e.key
    );
    let store = SqliteStore::open_read_only(round.store_path()).unwrap();
    let id: IntegrationId = e.integration.parse().unwrap();
    let journal = store.journal(id).await.unwrap();
    assert!(
        !journal.contains_key(&e.step),
        "{}: the journal already has {} — the failpoint is not between effect and journal",
        e.failpoint,
        e.step
    );
}

/// After a round: every proposal done, exactly one create per record upstream.
async fn check_round(round: &Round) {
    let store = SqliteStore::open_read_only(round.store_path()).unwrap();
    let all = store.list(&IntegrationFilter::default()).await.unwrap();
    assert_eq!(
        all.len(),
        round.proposals.len(),
        "one integration per proposal"
    );
    let mut customers = BTreeSet::new();
    let mut contracts = BTreeSet::new();
    let mut next_customers: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut lines: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut dids: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut tax_ids = BTreeSet::new();
    for i in &all {
        assert_eq!(
            i.status,
            IntegrationStatus::Done,
            "{} is {:?}",
            i.id,
            i.status
        );
        let j = store.journal(i.id).await.unwrap();
        let v: Validated = serde_json::from_value(j["validate"].result.clone()).unwrap();
        tax_ids.insert(v.proposal.customer.tax_id.to_string());
        let customer = i
            .customer
            .expect("a done integration has its customer")
            .to_string();
        customers.insert(customer.clone());
        for (k, o) in v.orders.iter().enumerate() {
            contracts.insert(o.order.to_string());
            let c: ServerChoiceWithOrder =
                serde_json::from_value(j[&format!("server:{k}")].result.clone()).unwrap();
            let server = c.choice.server.to_string();
            next_customers
                .entry(server.clone())
                .or_default()
                .insert(customer.clone());
            lines
                .entry(server.clone())
                .or_default()
                .extend(o.lines.iter().map(ToString::to_string));
            dids.entry(server)
                .or_default()
                .extend(o.dids.iter().map(ToString::to_string));
        }
    }
    assert_eq!(
        customers.len(),
        tax_ids.len(),
        "one SIG customer per CPF/CNPJ"
    );
    let exactly_once = |what: &str, counts: BTreeMap<String, u64>, want: &BTreeSet<String>| {
        let got: BTreeSet<String> = counts.keys().cloned().collect();
        assert_eq!(
            &got, want,
            "{what}: created records differ from the journal's"
        );
        for (k, n) in counts {
            assert_eq!(n, 1, "{what} {k} was created {n} times");
        }
    };
    let omie = round.sb.omie.counters().counts();
    exactly_once(
        "Omie customer",
        omie.get("customer").cloned().unwrap_or_default(),
        &customers,
    );
    exactly_once(
        "Omie contract",
        omie.get("contract").cloned().unwrap_or_default(),
        &contracts,
    );
    for inst in round.sb.next.instances() {
        let c = inst.counters().counts();
        let empty = BTreeSet::new();
        let name = inst.name();
        exactly_once(
            &format!("Next customer on {name}"),
            c.get("customer").cloned().unwrap_or_default(),
            next_customers.get(name).unwrap_or(&empty),
        );
        exactly_once(
            &format!("Next line on {name}"),
            c.get("line").cloned().unwrap_or_default(),
            lines.get(name).unwrap_or(&empty),
        );
        exactly_once(
            &format!("Next DID on {name}"),
            c.get("did").cloned().unwrap_or_default(),
            dids.get(name).unwrap_or(&empty),
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_anywhere_the_flow_finishes_exactly_once() {
    let seed: u64 = std::env::var("SIG_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_261_125);
    eprintln!("crash test seed {seed} (SIG_CRASH_SEED to repeat)");
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut hits: BTreeMap<&str, usize> = NAMES.iter().map(|n| (*n, 0)).collect();
    let mut runs = 0usize;
    let mut failpoint_runs = 0usize;
    let mut random_kills = 0usize;
    let mut rounds = 0usize;
    while runs < MIN_RUNS || hits.values().any(|n| *n == 0) {
        assert!(
            rounds < 40,
            "too many rounds: hits {hits:?} after {runs} runs"
        );
        let round = Round::start(rounds, seed.wrapping_add(rounds as u64)).await;
        let mut round_runs = 0usize;
        loop {
            assert!(
                round_runs < MAX_RUNS_PER_ROUND,
                "round {rounds} did not finish in {MAX_RUNS_PER_ROUND} runs"
            );
            round_runs += 1;
            runs += 1;
            // Two runs in three stop at a failpoint (every name in turn, at its 1st to 4th
            // hit in the run), one in three at a random moment.
            let end = if runs.is_multiple_of(3) {
                let after = Duration::from_millis(rng.random_range(30..1500));
                let r = round.clone_run(None, Some(after));
                if matches!(r, RunEnd::Killed) {
                    random_kills += 1;
                }
                r
            } else {
                let name = NAMES[failpoint_runs % NAMES.len()];
                failpoint_runs += 1;
                let spec = format!("{name}:{}", rng.random_range(1..=4));
                round.clone_run(Some(&spec), None)
            };
            match end {
                RunEnd::Failpoint(e) => {
                    check_failpoint(&round, &e).await;
                    *hits
                        .get_mut(e.failpoint.as_str())
                        .expect("a known failpoint") += 1;
                }
                RunEnd::Killed => {}
                RunEnd::Finished { all_done: true } => break,
                RunEnd::Finished { all_done: false } => {}
            }
        }
        check_round(&round).await;
        eprintln!(
            "round {rounds}: {round_runs} runs; totals: {runs} runs, {random_kills} random kills, failpoint hits {hits:?}"
        );
        round.sb.shutdown().await;
        let _ = std::fs::remove_dir_all(&round.dir);
        rounds += 1;
    }
    assert!(random_kills > 0, "no run was killed at a random moment");
    assert!(runs >= MIN_RUNS);
    for (name, n) in &hits {
        assert!(*n > 0, "failpoint {name} was never hit");
    }
}

impl Round {
    /// Run the child, blocking (the sandboxes keep serving on the runtime's other thread).
    fn clone_run(&self, kill: Option<&str>, kill_after: Option<Duration>) -> RunEnd {
        tokio::task::block_in_place(|| run_child(self, kill, kill_after))
    }
}
