//! Successful creates per natural key: the evidence a test reads to prove
//! "exactly one record per effect upstream".

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde_json::Value;

/// Counts of successful creates keyed by (record kind, natural key).
///
/// A vendor calls [`record`](Self::record) only after a create really
/// stored a record; failed or refused creates do not count. Cheap to clone
/// (an `Arc`). JSON ([`snapshot`](Self::snapshot)):
/// `{"customer": {"sig-1": 1, "sig-2": 2}}`.
///
/// ```
/// use sig_sandbox::CreateCounters;
/// let counters = CreateCounters::new();
/// counters.record("customer", "sig-1");
/// counters.record("customer", "sig-2");
/// counters.record("customer", "sig-2");
/// assert_eq!(counters.count("customer", "sig-2"), 2);
/// assert_eq!(counters.total("customer"), 3);
/// assert_eq!(counters.duplicates()["customer"]["sig-2"], 2);
/// assert_eq!(counters.snapshot(), serde_json::json!({"customer": {"sig-1": 1, "sig-2": 2}}));
/// ```
#[derive(Clone, Default)]
pub struct CreateCounters {
    counts: Arc<Mutex<Counts>>,
}

type Counts = BTreeMap<String, BTreeMap<String, u64>>;

impl fmt::Debug for CreateCounters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CreateCounters")
            .field(&*self.lock())
            .finish()
    }
}

impl CreateCounters {
    /// Empty counters.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts one successful create of `kind` under `key`; returns the new
    /// count for that key (above 1 means a duplicate).
    pub fn record(&self, kind: &str, key: &str) -> u64 {
        let mut counts = self.lock();
        let count = counts
            .entry(kind.to_owned())
            .or_default()
            .entry(key.to_owned())
            .or_default();
        *count += 1;
        *count
    }

    /// Successful creates of `kind` under `key`.
    pub fn count(&self, kind: &str, key: &str) -> u64 {
        self.lock()
            .get(kind)
            .and_then(|keys| keys.get(key))
            .copied()
            .unwrap_or(0)
    }

    /// All successful creates of `kind` (the sum over its keys).
    pub fn total(&self, kind: &str) -> u64 {
        self.lock().get(kind).map_or(0, |keys| keys.values().sum())
    }

    /// Every count, by kind then key.
    pub fn counts(&self) -> BTreeMap<String, BTreeMap<String, u64>> {
        self.lock().clone()
    }

    /// The keys created more than once, by kind then key (kinds without
    /// duplicates are left out, so an empty map means none).
    pub fn duplicates(&self) -> BTreeMap<String, BTreeMap<String, u64>> {
        self.lock()
            .iter()
            .filter_map(|(kind, keys)| {
                let dups: BTreeMap<_, _> = keys
                    .iter()
                    .filter(|(_, n)| **n > 1)
                    .map(|(k, n)| (k.clone(), *n))
                    .collect();
                (!dups.is_empty()).then(|| (kind.clone(), dups))
            })
            .collect()
    }

    /// The counts as JSON: `{kind: {key: n}}`.
    pub fn snapshot(&self) -> Value {
        serde_json::to_value(&*self.lock()).unwrap_or(Value::Null)
    }

    /// Forgets every count.
    pub fn clear(&self) {
        self.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_missing() {
        let counters = CreateCounters::new();
        assert_eq!(counters.count("x", "y"), 0);
        assert_eq!(counters.total("x"), 0);
        assert!(counters.duplicates().is_empty());
        assert_eq!(counters.snapshot(), serde_json::json!({}));
    }

    #[test]
    fn record_returns_running_count_and_clear_resets() {
        let counters = CreateCounters::new();
        assert_eq!(counters.record("contract", "so-1"), 1);
        assert_eq!(counters.record("contract", "so-1"), 2);
        assert_eq!(counters.record("customer", "c-1"), 1);
        assert_eq!(counters.duplicates().len(), 1);
        assert_eq!(counters.counts()["customer"]["c-1"], 1);
        counters.clear();
        assert_eq!(counters.total("contract"), 0);
    }
}
