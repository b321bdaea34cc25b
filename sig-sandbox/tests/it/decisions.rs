//! Decision statistics and determinism, straight on the injector.

use sig_sandbox::{FaultInjector, FaultKind, FaultSpec, Persistence};

fn injector(spec: FaultSpec) -> FaultInjector {
    let faults = FaultInjector::new();
    faults.add(spec).unwrap();
    faults
}

fn decisions(faults: &FaultInjector, n: usize) -> Vec<bool> {
    (0..n)
        .map(|i| faults.decide("create", Some(&format!("k{i}"))).is_some())
        .collect()
}

#[test]
fn transient_rate_holds_over_2000_decisions() {
    for (rate, seed) in [(0.05, 1), (0.25, 2), (0.5, 3), (0.9, 4)] {
        let faults = injector(FaultSpec::transient(FaultKind::http_error(503), rate, seed));
        let hits = decisions(&faults, 2000).iter().filter(|hit| **hit).count();
        let expected = rate * 2000.0;
        // Binomial sd is at most ~22 here; allow 5 sd.
        assert!(
            (hits as f64 - expected).abs() <= 110.0,
            "rate {rate}: {hits} hits, expected about {expected}"
        );
        assert_eq!(faults.injected()["http_error"], hits as u64);
    }
}

#[test]
fn rate_zero_never_and_rate_one_always() {
    let never = injector(FaultSpec::transient(FaultKind::timeout(), 0.0, 9));
    assert!(decisions(&never, 500).iter().all(|hit| !hit));
    assert!(never.injected().is_empty());
    let always = injector(FaultSpec::transient(FaultKind::timeout(), 1.0, 9));
    assert!(decisions(&always, 500).iter().all(|hit| *hit));
}

#[test]
fn same_seed_same_decisions() {
    let spec = FaultSpec::transient(FaultKind::ConnectionReset, 0.3, 1234);
    let a = decisions(&injector(spec.clone()), 1000);
    let b = decisions(&injector(spec.clone()), 1000);
    assert_eq!(a, b);
    let other = decisions(
        &injector(FaultSpec {
            seed: 1235,
            ..spec.clone()
        }),
        1000,
    );
    assert_ne!(a, other);
    // Replacing the specs restarts the sequence from the seed.
    let faults = injector(spec.clone());
    let first = decisions(&faults, 100);
    faults.set(vec![spec]).unwrap();
    assert_eq!(decisions(&faults, 100), first);
}

#[test]
fn a_spec_sequence_ignores_calls_it_does_not_match() {
    let spec = FaultSpec::transient(FaultKind::ConnectionReset, 0.5, 77).on_call("create");
    let plain = decisions(&injector(spec.clone()), 300);
    let faults = injector(spec);
    let interleaved: Vec<bool> = (0..300)
        .map(|i| {
            assert!(faults.decide("read", Some("x")).is_none());
            faults.decide("create", Some(&format!("k{i}"))).is_some()
        })
        .collect();
    assert_eq!(plain, interleaved);
}

#[test]
fn permanent_faults_stick_to_the_keys_they_select() {
    let faults = injector(FaultSpec::permanent(
        FaultKind::business(500, serde_json::json!({"faultstring": "no"})),
        0.3,
        42,
    ));
    let keys: Vec<String> = (0..1000).map(|i| format!("sig-{i}")).collect();
    let first: Vec<bool> = keys
        .iter()
        .map(|k| faults.decide("create", Some(k)).is_some())
        .collect();
    for _ in 0..3 {
        // In another order, and for other calls: the same keys, every time.
        for (k, hit) in keys.iter().zip(&first).rev() {
            let fault = faults.decide("update", Some(k));
            assert_eq!(fault.is_some(), *hit, "key {k}");
            if let Some(fault) = fault {
                assert_eq!(fault.persistence(), Persistence::Permanent);
            }
        }
    }
    let selected = first.iter().filter(|hit| **hit).count();
    assert!(
        (200..=400).contains(&selected),
        "{selected} of 1000 selected at rate 0.3"
    );
    // Another seed selects other keys; the same seed in a new injector the same ones.
    let again = injector(FaultSpec::permanent(FaultKind::ConnectionReset, 0.3, 42));
    let same: Vec<bool> = keys
        .iter()
        .map(|k| again.decide("x", Some(k)).is_some())
        .collect();
    assert_eq!(same, first);
    let other = injector(FaultSpec::permanent(FaultKind::ConnectionReset, 0.3, 43));
    let different: Vec<bool> = keys
        .iter()
        .map(|k| other.decide("x", Some(k)).is_some())
        .collect();
    assert_ne!(different, first);
}

#[test]
fn permanent_named_key_always_and_no_other() {
    let faults = injector(
        FaultSpec::permanent(FaultKind::http_error(500), 0.0, 0)
            .on_call("IncluirCliente")
            .on_key("sig-7"),
    );
    for _ in 0..50 {
        assert!(faults.decide("IncluirCliente", Some("sig-7")).is_some());
        assert!(faults.decide("IncluirCliente", Some("sig-8")).is_none());
        assert!(faults.decide("IncluirCliente", None).is_none());
        assert!(faults.decide("AlterarCliente", Some("sig-7")).is_none());
    }
}

#[test]
fn permanent_beats_transient_and_order_decides_among_transients() {
    let faults = FaultInjector::new();
    faults
        .set(vec![
            FaultSpec::always(FaultKind::http_error(503)),
            FaultSpec::always(FaultKind::timeout()),
            FaultSpec::permanent(FaultKind::ConnectionReset, 1.0, 0).on_key("p"),
        ])
        .unwrap();
    let kind = |key: &str| faults.decide("c", Some(key)).unwrap().kind().name();
    assert_eq!(kind("p"), "connection_reset");
    assert_eq!(kind("q"), "http_error");
    assert_eq!(faults.injected()["connection_reset"], 1);
    assert_eq!(faults.injected()["http_error"], 1);
    assert!(!faults.injected().contains_key("timeout"));
}

#[test]
fn target_filters_by_call_and_key() {
    let faults = FaultInjector::new();
    faults
        .set(vec![
            FaultSpec::always(FaultKind::http_error(500)).on_call("create"),
            FaultSpec::always(FaultKind::MalformedJson { body: None }).on_key("k9"),
        ])
        .unwrap();
    let kind = |call: &str, key: Option<&str>| faults.decide(call, key).map(|f| f.kind().name());
    assert_eq!(kind("create", None), Some("http_error"));
    assert_eq!(kind("create", Some("k9")), Some("http_error"));
    assert_eq!(kind("read", Some("k9")), Some("malformed_json"));
    assert_eq!(kind("read", Some("k1")), None);
    assert_eq!(kind("read", None), None);
    faults.clear();
    assert_eq!(kind("create", None), None);
    assert!(faults.specs().is_empty());
}

#[test]
fn permanent_without_key_selects_by_call() {
    let faults = injector(FaultSpec::permanent(FaultKind::ConnectionReset, 0.5, 5));
    let calls: Vec<String> = (0..200).map(|i| format!("Call{i}")).collect();
    let first: Vec<bool> = calls
        .iter()
        .map(|c| faults.decide(c, None).is_some())
        .collect();
    let second: Vec<bool> = calls
        .iter()
        .map(|c| faults.decide(c, None).is_some())
        .collect();
    assert_eq!(first, second);
    assert!(first.iter().any(|hit| *hit) && first.iter().any(|hit| !hit));
}
