//! `sig serve` end to end: the real binary as a child process, the Omie, NextBilling and
//! DocSales sandboxes in this process, real HTTP on loopback, Omie's limit windows shortened.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde_json::Value;
use sig_core::store::{IntegrationFilter, IntegrationStatus, Store};
use sig_store_sqlite::SqliteStore;

const SERVE: &str = r#"listen = "127.0.0.1:0"
workers = 2
concurrency = 8
poll_interval_ms = 50
reconcile_interval_s = 0
shutdown_timeout_s = 10
health_timeout_ms = 2000"#;

/// 100 proposals, each notified 10 times, shuffled (seeded).
fn storm(docs: &[Value], copies: usize, seed: u64) -> Vec<Value> {
    let mut all: Vec<Value> = docs
        .iter()
        .flat_map(|d| std::iter::repeat_n(d.clone(), copies))
        .collect();
    all.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
    all
}

async fn read_store(env: &Env) -> Vec<sig_core::store::Integration> {
    let store = SqliteStore::open_read_only(&env.db).unwrap();
    store.list(&IntegrationFilter::default()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_deliveries_give_one_integration_per_proposal_all_done() {
    let docs: Vec<_> = (0..100).map(|n| proposal(n, true)).collect();
    let env = Env::start("storm", docs, SERVE).await;
    let log = env.dir.0.join("serve.log");
    let serve = Serve::spawn(&env, &log, "debug");

    // Readiness first: store reachable, every upstream answers.
    let ready: Value = reqwest::get(format!("http://{}/readyz", serve.addr))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(
        ready["upstreams"].as_array().unwrap().len(),
        4,
        "2 ServidorNext, 1 Omie account, 1 DocSales account: {ready}"
    );
    let health = reqwest::get(format!("http://{}/healthz", serve.addr))
        .await
        .unwrap();
    assert!(health.status().is_success());

    // 1 000 deliveries, all at once.
    let url = env.webhook_url(serve.addr);
    let http = reqwest::Client::new();
    let started = Instant::now();
    let tasks: Vec<_> = storm(&env.docs, 10, 1)
        .into_iter()
        .map(|doc| {
            let (http, url) = (http.clone(), url.clone());
            tokio::spawn(async move { deliver(&http, &url, &doc).await })
        })
        .collect();
    let mut acked = 0;
    for t in tasks {
        acked += usize::from(t.await.unwrap());
    }
    let delivered_in = started.elapsed();
    assert_eq!(acked, 1000, "every delivery is acknowledged");

    let scrape = serve
        .wait_metrics(Duration::from_secs(180), |s| {
            sample(s, "sig_integrations", &[("status", "done")]) == Some(100.0)
                && sample(s, "sig_queue_size", &[]) == Some(0.0)
        })
        .await;
    let integrated_in = started.elapsed();
    eprintln!(
        "1000 deliveries acknowledged in {delivered_in:?}; 100 integrations done in {integrated_in:?}"
    );

    // /metrics, parsed, against the store.
    let all = read_store(&env).await;
    assert_eq!(all.len(), 100, "exactly one integration per proposal");
    assert!(all.iter().all(|i| i.status == IntegrationStatus::Done));
    let proposals: BTreeSet<_> = all.iter().map(|i| i.source.proposal_id.clone()).collect();
    assert_eq!(proposals.len(), 100);
    assert_eq!(
        sample(&scrape, "sig_integrations_started_total", &[]),
        Some(all.len() as f64)
    );
    assert_eq!(
        sample(&scrape, "sig_integrations_done_total", &[]),
        Some(100.0)
    );
    for status in ["pending", "held", "failed", "cancelled"] {
        assert_eq!(
            sample(&scrape, "sig_integrations", &[("status", status)]),
            Some(0.0),
            "{status}"
        );
    }
    assert_eq!(
        sample(&scrape, "sig_oldest_pending_age_seconds", &[]),
        Some(0.0)
    );
    assert_eq!(
        sum(
            &scrape,
            "sig_http_requests_total",
            &[
                ("route", "/webhooks/docsales/:account/:token"),
                ("status", "200")
            ]
        ),
        1000.0,
        "every acknowledged delivery is counted under its route template"
    );
    // Every step of every integration is timed once.
    for step in [
        "fetch",
        "validate",
        "customer",
        "erp_customer",
        "contract",
        "server",
        "line",
        "did",
    ] {
        assert_eq!(
            sample(
                &scrape,
                "sig_step_duration_seconds_count",
                &[("step", step)]
            ),
            Some(100.0),
            "{step}"
        );
    }
    // Upstream calls counted from the clients' events match what the sandboxes received.
    let omie_requests = env.sb.omie.stats().requests as f64;
    let omie_calls = sum(&scrape, "sig_upstream_calls_total", &[("system", "omie")]);
    let omie_refused_without_call = sum(
        &scrape,
        "sig_upstream_errors_total",
        &[("system", "omie"), ("kind", "blocked")],
    );
    assert!(omie_requests >= 200.0, "a customer and a contract each");
    assert_eq!(omie_calls - omie_refused_without_call, omie_requests);
    assert!(
        sum(
            &scrape,
            "sig_upstream_calls_total",
            &[("system", "docsales"), ("call", "get_proposal")]
        ) >= 100.0
    );
    assert!(
        sum(
            &scrape,
            "sig_upstream_calls_total",
            &[("system", "nextbilling")]
        ) >= 300.0
    );
    // Load per ServidorNext from the store: 100 lines of 2 channels on sp1 (DDD 11).
    assert_eq!(
        sample(
            &scrape,
            "sig_server_load",
            &[("server", "sp1"), ("resource", "lines")]
        ),
        Some(100.0)
    );
    assert_eq!(
        sample(&scrape, "sig_server_utilisation", &[("server", "sp1")]),
        Some(0.1),
        "max(100/1000 lines, 200/2000 channels)"
    );

    // Exactly once upstream.
    let (creates, duplicates) = env.upstream();
    assert_eq!(duplicates, 0, "{creates:?}");
    assert_eq!(creates.get("omie.customer"), Some(&100));
    assert_eq!(creates.get("omie.contract"), Some(&100));
    assert_eq!(creates.get("nextbilling.customer"), Some(&100));
    assert_eq!(creates.get("nextbilling.line"), Some(&100));
    assert_eq!(creates.get("nextbilling.did"), Some(&100));

    let (code, stopped, _) = serve.stop();
    assert_eq!(code, 0);
    assert_eq!(stopped["in_time"], true, "{stopped}");

    // The logs: JSON lines, spans per integration and step, nothing personal or secret.
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let in_step = lines
        .iter()
        .filter(|l| {
            let spans = l["spans"].as_array();
            spans.is_some_and(|s| {
                s.iter().any(|x| x["name"] == "integration")
                    && s.iter().any(|x| x["name"] == "step")
            })
        })
        .count();
    assert!(
        in_step >= 800,
        "upstream and step events are logged inside their integration and step spans ({in_step})"
    );
    assert!(
        lines.iter().any(|l| l["target"] == "sig::upstream"),
        "the upstream call events are in the log at this level"
    );
    let mut leaks = Vec::new();
    for p in &env.personal {
        let digits: String = p.cpf.chars().filter(char::is_ascii_digit).collect();
        for needle in [&p.cpf, &digits, &p.email, &p.phone] {
            if text.contains(needle.as_str()) {
                leaks.push(needle.clone());
            }
        }
    }
    for (name, secret) in &env.secrets {
        if text.contains(secret.as_str()) {
            leaks.push(format!("secret {name}"));
        }
    }
    assert!(leaks.is_empty(), "unmasked in the logs: {leaks:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_in_the_middle_of_the_load_loses_nothing_acknowledged() {
    let docs: Vec<_> = (0..100).map(|n| proposal(n, true)).collect();
    let env = Env::start("sigterm", docs, SERVE).await;
    let log = env.dir.0.join("serve.log");
    let first = Serve::spawn(&env, &log, "info");
    let url = env.webhook_url(first.addr);

    // 1 000 deliveries from 4 paced senders. SIGTERM once at least 50 were acknowledged and
    // the workers are mid-way: some integrations done, others still pending.
    let acked: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
    let count = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let termed = Arc::new(AtomicBool::new(false));
    let queue = Arc::new(std::sync::Mutex::new(storm(&env.docs, 10, 2)));
    let http = reqwest::Client::new();
    let mut senders = Vec::new();
    for _ in 0..4 {
        let (queue, acked, count, refused, termed, http, url) = (
            queue.clone(),
            acked.clone(),
            count.clone(),
            refused.clone(),
            termed.clone(),
            http.clone(),
            url.clone(),
        );
        senders.push(tokio::spawn(async move {
            loop {
                let Some(doc) = queue.lock().unwrap().pop() else {
                    break;
                };
                if deliver(&http, &url, &doc).await {
                    acked.lock().unwrap().push(proposal_id(&doc));
                    count.fetch_add(1, Ordering::SeqCst);
                } else {
                    refused.fetch_add(1, Ordering::SeqCst);
                }
                if !termed.load(Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_millis(15)).await;
                }
            }
        }));
    }
    let mut at_term = BTreeMap::new();
    let watch_started = Instant::now();
    while count.load(Ordering::SeqCst) < 1000 && watch_started.elapsed() < Duration::from_secs(60) {
        if count.load(Ordering::SeqCst) >= 50 {
            let s = first.metrics().await;
            let done = sample(&s, "sig_integrations", &[("status", "done")]).unwrap_or(0.0);
            let pending = sample(&s, "sig_integrations", &[("status", "pending")]).unwrap_or(0.0);
            // Mid-way: some done and some still pending (or, on a machine fast enough to keep
            // the queue empty, once 300 deliveries are in).
            let acks = count.load(Ordering::SeqCst);
            if done >= 1.0 && (pending >= 3.0 || acks >= 300) {
                first.sigterm();
                termed.store(true, Ordering::SeqCst);
                at_term = summary(&s);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        termed.load(Ordering::SeqCst),
        "the load reached the middle state"
    );
    for s in senders {
        s.await.unwrap();
    }
    let (code, stopped, waited) = first.wait(Duration::from_secs(30));
    assert_eq!(code, 0, "a graceful stop exits 0");
    assert_eq!(stopped["event"], "stopped", "{stopped}");
    assert_eq!(stopped["signal"], "SIGTERM");
    assert!(
        stopped["elapsed_ms"].as_u64().unwrap() <= 10_000 + 2_000,
        "within the configured bound: {stopped}"
    );
    let acked: BTreeSet<String> = acked.lock().unwrap().iter().cloned().collect();
    let n_acked = count.load(Ordering::SeqCst);
    eprintln!(
        "{n_acked} deliveries acknowledged ({} proposals), {} refused once the service stopped; exit after {waited:?}: {stopped}",
        acked.len(),
        refused.load(Ordering::SeqCst)
    );
    assert!(
        n_acked >= 50,
        "SIGTERM came after at least 50 acknowledgements"
    );
    assert!(
        refused.load(Ordering::SeqCst) > 0,
        "SIGTERM came in the middle of the load: later deliveries were refused"
    );

    // Durable acknowledgements: every acknowledged proposal is in the store, before any restart.
    let stored: BTreeMap<String, IntegrationStatus> = read_store(&env)
        .await
        .into_iter()
        .map(|i| (i.source.proposal_id, i.status))
        .collect();
    for p in &acked {
        assert!(
            stored.contains_key(p),
            "acknowledged proposal {p} is stored"
        );
    }
    let unfinished = stored
        .values()
        .filter(|s| **s == IntegrationStatus::Pending)
        .count();
    let mut parked_midway = 0;
    {
        let store = SqliteStore::open_read_only(&env.db).unwrap();
        for i in read_store(&env).await {
            if i.status == IntegrationStatus::Pending
                && !store.journal(i.id).await.unwrap().is_empty()
            {
                parked_midway += 1;
            }
        }
    }
    eprintln!(
        "at SIGTERM {at_term:?}; after the stop {unfinished} pending, {parked_midway} of them parked after some steps"
    );
    assert!(
        stored.values().any(|s| *s == IntegrationStatus::Done),
        "some integrations were done before the stop"
    );

    // Restart: everything stored (every acknowledged proposal among it) ends done.
    let second = Serve::spawn(&env, &log, "info");
    second
        .wait_metrics(Duration::from_secs(180), |s| {
            sample(s, "sig_queue_size", &[]) == Some(0.0)
        })
        .await;
    let (code, _, _) = second.stop();
    assert_eq!(code, 0);
    let all = read_store(&env).await;
    for i in &all {
        assert_eq!(i.status, IntegrationStatus::Done, "{i:?}");
    }
    let done: BTreeSet<String> = all.iter().map(|i| i.source.proposal_id.clone()).collect();
    assert!(
        acked.is_subset(&done),
        "every acknowledged proposal is done"
    );

    // Exactly once upstream, although runs were parked mid-way and resumed.
    let (creates, duplicates) = env.upstream();
    assert_eq!(duplicates, 0, "{creates:?}");
    let n = all.len() as u64;
    for kind in [
        "omie.customer",
        "omie.contract",
        "nextbilling.customer",
        "nextbilling.line",
        "nextbilling.did",
    ] {
        assert_eq!(
            creates.get(kind).copied().unwrap_or(0),
            n,
            "{kind}: {creates:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciliation_takes_in_approved_proposals_no_notification_announced() {
    let docs: Vec<_> = (0..5).map(|n| proposal(n, true)).collect();
    let serve_cfg = SERVE.replace("reconcile_interval_s = 0", "reconcile_interval_s = 1");
    let env = Env::start("reconcile", docs, &serve_cfg).await;
    let log = env.dir.0.join("serve.log");
    let serve = Serve::spawn(&env, &log, "info");
    // No webhook at all: reconciliation lists the approved proposals and takes them in.
    serve
        .wait_metrics(Duration::from_secs(60), |s| {
            sample(s, "sig_integrations", &[("status", "done")]) == Some(5.0)
        })
        .await;
    // A ServidorNext that answers 503: ready (notifications are still taken) but degraded.
    env.sb
        .next
        .instance("sp1")
        .unwrap()
        .faults()
        .set(vec![sig_sandbox::FaultSpec::always(
            sig_sandbox::FaultKind::http_error(503),
        )])
        .unwrap();
    let r = reqwest::get(format!("http://{}/readyz", serve.addr))
        .await
        .unwrap();
    assert!(r.status().is_success());
    let ready: Value = r.json().await.unwrap();
    assert_eq!(ready["status"], "degraded", "{ready}");
    let sp1 = ready["upstreams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["target"] == "sp1")
        .unwrap();
    assert_eq!(sp1["healthy"], false, "{sp1}");
    assert!(sp1["reason"].as_str().unwrap().contains("503"), "{sp1}");
    env.sb.next.instance("sp1").unwrap().faults().clear();
    // Further passes find nothing new.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let s = serve.metrics().await;
    assert_eq!(sample(&s, "sig_integrations_started_total", &[]), Some(5.0));
    assert!(
        sum(
            &s,
            "sig_upstream_calls_total",
            &[("system", "docsales"), ("call", "list_approved")]
        ) >= 2.0
    );
    let (code, _, _) = serve.stop();
    assert_eq!(code, 0);
    let all = read_store(&env).await;
    assert_eq!(all.len(), 5);
    assert!(
        all.iter()
            .all(|i| matches!(i.actor, sig_core::store::Actor::System))
    );
    let (_, duplicates) = env.upstream();
    assert_eq!(duplicates, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_that_runs_out_of_time_abandons_the_running_steps_and_gives_their_leases_back() {
    let docs: Vec<_> = (0..3).map(|n| proposal(n, true)).collect();
    let serve_cfg = SERVE.replace("shutdown_timeout_s = 10", "shutdown_timeout_s = 1");
    let env = Env::start("deadline", docs, &serve_cfg).await;
    // DocSales answers the re-read only after 60 s (the client gives up after 20 s and
    // retries): every integration hangs in its fetch step.
    env.sb
        .docsales
        .faults()
        .set(vec![
            sig_sandbox::FaultSpec::always(sig_sandbox::FaultKind::latency(Duration::from_secs(
                60,
            )))
            .on_call("get_proposal"),
        ])
        .unwrap();
    let log = env.dir.0.join("serve.log");
    let first = Serve::spawn(&env, &log, "info");
    let url = env.webhook_url(first.addr);
    let http = reqwest::Client::new();
    for doc in &env.docs {
        assert!(deliver(&http, &url, doc).await);
    }
    // The workers claim them and call DocSales.
    first
        .wait_metrics(Duration::from_secs(30), |s| {
            sum(
                s,
                "sig_http_requests_total",
                &[("route", "/webhooks/docsales/:account/:token")],
            ) >= 3.0
        })
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    first.sigterm();
    let (code, stopped, _) = first.wait(Duration::from_secs(15));
    assert_eq!(code, 0, "{}", std::fs::read_to_string(&log).unwrap());
    assert_eq!(stopped["in_time"], false, "{stopped}");
    assert_eq!(
        stopped["released"], 3,
        "each abandoned run gave its lease back: {stopped}"
    );
    let elapsed = stopped["elapsed_ms"].as_u64().unwrap();
    assert!(
        (1_000..8_000).contains(&elapsed),
        "stopped at the 1 s bound, not after the 60 s call: {stopped}"
    );

    // Nothing is lost and nothing waits for the 5-minute lease: a restart finishes at once.
    env.sb.docsales.faults().clear();
    let restarted = Instant::now();
    let second = Serve::spawn(&env, &log, "info");
    second
        .wait_metrics(Duration::from_secs(60), |s| {
            sample(s, "sig_integrations", &[("status", "done")]) == Some(3.0)
        })
        .await;
    assert!(restarted.elapsed() < Duration::from_secs(60));
    let (code, _, _) = second.stop();
    assert_eq!(code, 0);
    let (_, duplicates) = env.upstream();
    assert_eq!(duplicates, 0);
}

#[test]
fn a_bad_configuration_is_a_usage_error() {
    let dir = TempDir::new("badconfig");
    let path = dir.0.join("sig.toml");
    std::fs::write(&path, "[serve]\nworkers = 0\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sig"))
        .args(["serve", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("serve.workers"), "{err}");
    assert!(out.stdout.is_empty(), "no listening line");
}
