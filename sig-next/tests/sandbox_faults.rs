//! Acceptance: three sandbox instances with faults on 10 % of calls; provisioning 500
//! services ends, by the sandboxes' own counters, with exactly one customer per SIG customer
//! on each instance asked for, none elsewhere, and every line and DID created once.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use sig_next::NextClient;
use sig_next::sandbox::NextSandbox;
use sig_sandbox::{FaultKind, FaultSpec};

/// Six transient fault kinds, each drawn independently, firing together on ~10 % of calls.
pub fn ten_percent_faults(seed: u64) -> Vec<FaultSpec> {
    // 1 - (1 - r)^6 = 0.10
    let r = 1.0 - 0.9_f64.powf(1.0 / 6.0);
    [
        FaultKind::latency(Duration::from_millis(20)),
        FaultKind::http_error(503),
        FaultKind::Timeout { hold_ms: None },
        FaultKind::ConnectionReset,
        FaultKind::MalformedJson { body: None },
        FaultKind::ResponseLost,
    ]
    .into_iter()
    .enumerate()
    .map(|(n, kind)| FaultSpec::transient(kind, r, seed + n as u64))
    .collect()
}

/// What differs from "each expected key created exactly once, no other key".
fn once_each(counted: Option<&BTreeMap<String, u64>>, expected: &BTreeSet<String>) -> Vec<String> {
    let empty = BTreeMap::new();
    let counted = counted.unwrap_or(&empty);
    let mut problems: Vec<String> = expected
        .iter()
        .filter(|k| counted.get(*k) != Some(&1))
        .map(|k| format!("{k} created {} times", counted.get(k).copied().unwrap_or(0)))
        .collect();
    problems.extend(
        counted
            .keys()
            .filter(|k| !expected.contains(*k))
            .map(|k| format!("{k} created but not asked for here")),
    );
    problems
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_services_on_three_faulty_instances_create_each_record_once() {
    let sandbox = NextSandbox::builder()
        .instance("next-a")
        .instance("next-b")
        .instance("next-c")
        .max_concurrent(8)
        .timeout_hold(Duration::from_millis(2500))
        .start()
        .await
        .unwrap();
    for (n, i) in sandbox.instances().iter().enumerate() {
        i.faults()
            .set(ten_percent_faults(100 * n as u64 + 7))
            .unwrap();
    }
    let clients: Vec<Arc<NextClient>> = sandbox
        .instances()
        .iter()
        .map(|i| {
            Arc::new(
                i.client_builder(i.name().parse().unwrap())
                    // Generous: a write that times out client-side but is applied later is
                    // the one case a lookup cannot settle (see the crate docs).
                    .timeout(Duration::from_secs(2))
                    .read_retries(3)
                    .retry_min_delay(Duration::from_millis(10))
                    .build()
                    .unwrap(),
            )
        })
        .collect();

    let services = common::plan(42, 500, 200, 3);
    let errors = common::provision(clients, &services, 16).await;

    // The faults really happened, and the client saw them.
    let mut injected: BTreeMap<String, u64> = BTreeMap::new();
    for i in sandbox.instances() {
        for (k, v) in i.faults().injected() {
            *injected.entry(k).or_default() += v;
        }
    }
    for kind in [
        "latency",
        "http_error",
        "timeout",
        "connection_reset",
        "malformed_json",
        "response_lost",
    ] {
        assert!(
            injected.get(kind).copied().unwrap_or(0) > 0,
            "{kind} never fired: {injected:?}"
        );
    }
    assert!(!errors.is_empty(), "the driver saw failures to retry");

    for (n, instance) in sandbox.instances().iter().enumerate() {
        let asked: BTreeSet<String> = services
            .iter()
            .filter(|s| s.instance == n)
            .map(|s| s.customer.to_string())
            .collect();
        let lines: BTreeSet<String> = services
            .iter()
            .filter(|s| s.instance == n)
            .flat_map(|s| s.lines.iter().map(ToString::to_string))
            .collect();
        let dids: BTreeSet<String> = services
            .iter()
            .filter(|s| s.instance == n)
            .flat_map(|s| s.dids.iter().map(|(d, _)| d.to_string()))
            .collect();
        let counts = instance.counters().counts();
        for (kind, expected) in [("customer", &asked), ("line", &lines), ("did", &dids)] {
            let problems = once_each(counts.get(kind), expected);
            assert!(
                problems.is_empty(),
                "{} {kind}: {} problems, e.g. {:?}",
                instance.name(),
                problems.len(),
                &problems[..problems.len().min(5)]
            );
        }
        // And the records agree with the counters.
        let records = instance.records();
        assert_eq!(records["customers"].as_array().unwrap().len(), asked.len());
        assert_eq!(records["devices"].as_array().unwrap().len(), lines.len());
        assert_eq!(records["dids"].as_array().unwrap().len(), dids.len());
    }
    let total_lines: usize = services.iter().map(|s| s.lines.len()).sum();
    let total_dids: usize = services.iter().map(|s| s.dids.len()).sum();
    let created_lines: u64 = sandbox
        .instances()
        .iter()
        .map(|i| i.counters().total("line"))
        .sum();
    let created_dids: u64 = sandbox
        .instances()
        .iter()
        .map(|i| i.counters().total("did"))
        .sum();
    assert_eq!(created_lines, total_lines as u64);
    assert_eq!(created_dids, total_dids as u64);
    sandbox.shutdown().await;
}
