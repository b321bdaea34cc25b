//! `sig migrate` against the sandboxes: the shipped sample, a Viewer's refusal, and the
//! acceptance run — a seeded 10 000-row file (≈5 % bad rows of several kinds, in-file
//! duplicates, customers already in Omie) checked by a dry run that writes nothing, applied
//! by a `sig` child process killed midway (SIGKILL), finished by a second run, and run a
//! third time to show that nothing is created twice (the sandboxes' create counters).

mod harness;

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use harness::{Harness, generate, seed_omie, sig, write};
use serde_json::Value;
use sig_core::store::{AuditFilter, AuditOutcome};

/// Run `sig migrate` to its end; the JSON lines it printed, split into rows and summary.
fn migrate(h: &Harness, file: &str, extra: &[&str], user: &str) -> (Vec<Value>, Value) {
    let out = sig(h)
        .args(["migrate", "--config"])
        .arg(&h.config_path)
        .arg(h.path(file))
        .args(["--as", user, "--json", "--lease", "2"])
        .args(extra)
        .output()
        .expect("run sig");
    assert!(
        out.status.code() == Some(0),
        "sig migrate exited {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut rows = Vec::new();
    let mut summary = Value::Null;
    for line in String::from_utf8(out.stdout).expect("utf-8").lines() {
        let v: Value = serde_json::from_str(line).expect("a JSON line");
        match v["type"].as_str() {
            Some("row") => rows.push(v),
            Some("summary") => summary = v,
            other => panic!("unexpected line type {other:?}: {line}"),
        }
    }
    assert!(summary.is_object(), "a summary line");
    (rows, summary)
}

fn outcome(summary: &Value, name: &str) -> u64 {
    summary["outcomes"][name].as_u64().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_sample_checks_as_documented() {
    let h = Harness::start("sample").await;
    let sample = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/migration.sample.csv"
    ))
    .expect("sample");
    write(&h.path("sample.csv"), &sample);
    let (rows, summary) = migrate(&h, "sample.csv", &["--all"], "bruno");
    let by_row: BTreeMap<u64, &Value> = rows
        .iter()
        .map(|r| (r["row"].as_u64().expect("row"), r))
        .collect();
    for row in 2..=5 {
        assert_eq!(by_row[&row]["outcome"], "would_create", "row {row}");
    }
    assert_eq!(by_row[&6]["outcome"], "duplicate");
    assert_eq!(by_row[&6]["first_row"], 5);
    assert_eq!(by_row[&7]["outcome"], "rejected");
    let fields: Vec<&str> = by_row[&7]["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .map(|p| p["field"].as_str().expect("field"))
        .collect();
    for f in [
        "customer.tax_id",
        "customer.emails[0]",
        "customer.phones[0]",
        "customer.address.number",
        "customer.address.uf",
        "customer.address.cep",
        "orders[0].product",
        "orders[0].quantity",
        "orders[0].dids[0]",
        "orders[0].start_date",
        "orders[0].billing_day",
    ] {
        assert!(fields.contains(&f), "row 7 reports {f}: {fields:?}");
    }
    let columns: Vec<&str> = by_row[&7]["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .filter_map(|p| p["source_field"].as_str())
        .collect();
    assert!(columns.contains(&"order1_billing_day") && columns.contains(&"cep"));
    assert_eq!(summary["rows"], 6);
    assert_eq!(summary["valid"], 5);
    assert_eq!(summary["apply"], false);
    let (creates, _) = h.creates();
    assert_eq!(
        creates.values().sum::<u64>(),
        0,
        "a dry run writes nothing upstream"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_cannot_migrate_and_the_refusal_is_audited() {
    let h = Harness::start("viewer").await;
    let g = generate(20, 3, 0.0);
    write(&h.path("m.csv"), &g.csv);
    let out = sig(&h)
        .args(["migrate", "--config"])
        .arg(&h.config_path)
        .arg(h.path("m.csv"))
        .args(["--as", "vera", "--apply"])
        .output()
        .expect("run sig");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("may not migrate"), "{err}");
    // A user sig.toml does not list is refused too.
    let out = sig(&h)
        .args(["migrate", "--config"])
        .arg(&h.config_path)
        .arg(h.path("m.csv"))
        .args(["--as", "mallory", "--apply"])
        .output()
        .expect("run sig");
    assert_eq!(out.status.code(), Some(1));
    // Without anyone acting, it is a usage error.
    let out = sig(&h)
        .args(["migrate", "--config"])
        .arg(&h.config_path)
        .arg(h.path("m.csv"))
        .output()
        .expect("run sig");
    assert_eq!(out.status.code(), Some(2));

    let (creates, _) = h.creates();
    assert_eq!(creates.values().sum::<u64>(), 0);
    let store = sig_cli::runtime::open_store(&h.config()).expect("store");
    let denied = store
        .audit(&AuditFilter {
            action_prefix: Some("authz.migrate".into()),
            ..Default::default()
        })
        .await
        .expect("audit");
    assert_eq!(denied.len(), 2);
    assert!(denied.iter().all(|e| e.outcome == AuditOutcome::Denied));
    let rows = store.list(&Default::default()).await.expect("list");
    assert!(rows.is_empty(), "nothing registered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_rows_dry_run_then_killed_resumed_and_repeated_without_duplicates() {
    const ROWS: usize = 10_000;
    let h = Harness::start("10k").await;
    let g = generate(ROWS, 2026, 0.03);
    write(&h.path("m.csv"), &g.csv);
    seed_omie(&h, &g.in_omie).await;
    let (seeded, dups) = h.creates();
    assert_eq!(dups, 0);
    let seeded_customers = seeded["omie:customer"];
    assert_eq!(seeded_customers, g.in_omie.len() as u64);
    let good = g.good.len() as u64;
    eprintln!(
        "generated {ROWS} rows: {good} good, {} bad, {} duplicates, {} in Omie; {} orders, {} lines, {} DIDs",
        g.bad.len(),
        g.duplicates.len(),
        g.in_omie.len(),
        g.orders,
        g.lines,
        g.dids
    );
    assert!(g.bad.len() >= 400 && g.duplicates.len() >= 10);

    // 1. Dry run: every row checked, nothing written upstream.
    let t = Instant::now();
    let (rows, summary) = migrate(&h, "m.csv", &[], "bruno");
    eprintln!("dry run: {summary} in {:?}", t.elapsed());
    assert_eq!(
        outcome(&summary, "would_create") + outcome(&summary, "would_adopt"),
        good
    );
    assert_eq!(outcome(&summary, "would_adopt"), g.in_omie.len() as u64);
    assert_eq!(outcome(&summary, "rejected"), g.bad.len() as u64);
    assert_eq!(outcome(&summary, "duplicate"), g.duplicates.len() as u64);
    check_bad_rows(&rows, &g);
    assert_eq!(h.creates().0, seeded, "a dry run creates nothing upstream");

    // 2. Applied by a child process, killed midway.
    let mut child = sig(&h)
        .args(["migrate", "--config"])
        .arg(&h.config_path)
        .arg(h.path("m.csv"))
        .args(["--as", "bruno", "--apply", "--json", "--lease", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn sig");
    let expected_new = good - g.in_omie.len() as u64;
    let target = expected_new / 3;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let made = h.sb.omie.counters().total("customer") - seeded_customers;
        if made >= target {
            break;
        }
        if let Some(status) = child.try_wait().expect("wait") {
            panic!("the migration ended ({status}) before it could be killed, at {made} customers");
        }
        assert!(Instant::now() < deadline, "no progress: {made} customers");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().expect("SIGKILL");
    let status = child.wait().expect("reaped");
    assert!(!status.success(), "killed, not finished");
    let at_kill = h.sb.omie.counters().total("customer") - seeded_customers;
    eprintln!("killed after {at_kill} Omie customers of {expected_new}");
    assert!(at_kill < expected_new, "killed midway");

    // 3. Run again: finishes the rest.
    let t = Instant::now();
    let (rows, summary) = migrate(&h, "m.csv", &["--apply"], "bruno");
    eprintln!("resumed run: {summary} in {:?}", t.elapsed());
    assert_eq!(
        outcome(&summary, "integrated") + outcome(&summary, "already_migrated"),
        good,
        "every good row ends integrated: {summary}"
    );
    for o in ["failed", "held", "pending", "known_in_sig", "check_failed"] {
        assert_eq!(outcome(&summary, o), 0, "{o}: {summary}");
    }
    assert_eq!(outcome(&summary, "rejected"), g.bad.len() as u64);
    assert_eq!(outcome(&summary, "duplicate"), g.duplicates.len() as u64);
    check_bad_rows(&rows, &g);
    let (creates, dups) = h.creates();
    assert_eq!(dups, 0, "nothing created twice: {creates:?}");
    assert_eq!(creates["omie:customer"], seeded_customers + expected_new);
    assert_eq!(creates["omie:contract"], g.orders);
    let lines: u64 = creates
        .iter()
        .filter(|(k, _)| k.ends_with(":line"))
        .map(|(_, v)| v)
        .sum();
    let dids: u64 = creates
        .iter()
        .filter(|(k, _)| k.ends_with(":did"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(lines, g.lines);
    assert_eq!(dids, g.dids);
    // Adopted customers keep their Omie record: no create under SIG's code.
    let adopted = rows
        .iter()
        .filter(|r| r["outcome"] == "integrated" && r["adopted"] == true)
        .count() as u64;
    let store = sig_cli::runtime::open_store(&h.config()).expect("store");
    let done = store
        .list(&sig_core::store::IntegrationFilter {
            statuses: vec![sig_core::store::IntegrationStatus::Done],
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(done.len() as u64, good, "one integration per good row");
    eprintln!("adopted in the resumed run's report: {adopted}");

    // 4. A third run creates nothing.
    let t = Instant::now();
    let (_, summary) = migrate(&h, "m.csv", &["--apply"], "bruno");
    eprintln!("repeat run: {summary} in {:?}", t.elapsed());
    assert_eq!(outcome(&summary, "already_migrated"), good);
    assert_eq!(summary["registered"], 0);
    assert_eq!(
        h.creates(),
        (creates, 0),
        "a repeat creates nothing upstream"
    );
}

/// Every bad row is reported with the fields the generator broke.
fn check_bad_rows(rows: &[Value], g: &harness::Generated) {
    let by_row: BTreeMap<u64, &Value> = rows
        .iter()
        .map(|r| (r["row"].as_u64().expect("row"), r))
        .collect();
    for (row, fields) in &g.bad {
        let r = by_row
            .get(row)
            .unwrap_or_else(|| panic!("row {row} is reported"));
        assert_eq!(r["outcome"], "rejected", "row {row}: {r}");
        let reported: Vec<&str> = r["problems"]
            .as_array()
            .expect("problems")
            .iter()
            .map(|p| p["field"].as_str().expect("field"))
            .collect();
        for f in fields {
            assert!(reported.contains(f), "row {row} reports {f}: {reported:?}");
        }
    }
    for (row, first) in &g.duplicates {
        let r = by_row
            .get(row)
            .unwrap_or_else(|| panic!("row {row} is reported"));
        assert_eq!(r["outcome"], "duplicate", "row {row}: {r}");
        assert_eq!(r["first_row"], *first);
    }
}
