//! A small TTL cache over a `Mutex<HashMap>` with an injectable [`Clock`]: answers ("found"
//! and "not found", each with its own TTL) are kept; failures never are.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Where the cache reads the time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Now, monotonic.
    fn now(&self) -> Instant;
}

/// The system's monotonic clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that moves only when told (tests).
#[derive(Debug, Clone)]
pub struct ManualClock {
    start: Instant,
    offset_ms: Arc<AtomicU64>,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl ManualClock {
    /// A clock standing at the moment it was made.
    pub fn new() -> Self {
        ManualClock {
            start: Instant::now(),
            offset_ms: Arc::default(),
        }
    }

    /// Moves the clock forward (every clone moves with it).
    pub fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.offset_ms.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.start + Duration::from_millis(self.offset_ms.load(Ordering::SeqCst))
    }
}

/// How long answers are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheConfig {
    /// TTL of a "found" answer; zero disables caching them.
    pub found_ttl: Duration,
    /// TTL of a "not found" answer; zero disables caching them.
    pub not_found_ttl: Duration,
    /// Most entries kept; when full, expired entries go first, then the soonest to expire.
    pub capacity: usize,
}

impl Default for CacheConfig {
    /// A day for found records (registrations change rarely; a migration repeats lookups
    /// within hours), an hour for "not found" (a new company appears in the open data
    /// within days), 10 000 entries.
    fn default() -> Self {
        CacheConfig {
            found_ttl: Duration::from_secs(24 * 3600),
            not_found_ttl: Duration::from_secs(3600),
            capacity: 10_000,
        }
    }
}

impl CacheConfig {
    /// No caching at all.
    pub fn disabled() -> Self {
        CacheConfig {
            found_ttl: Duration::ZERO,
            not_found_ttl: Duration::ZERO,
            capacity: 0,
        }
    }
}

pub(crate) struct TtlCache<K, V> {
    entries: Mutex<HashMap<K, (Instant, V)>>,
    capacity: usize,
    clock: Arc<dyn Clock>,
}

impl<K, V> fmt::Debug for TtlCache<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TtlCache")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    pub(crate) fn new(capacity: usize, clock: Arc<dyn Clock>) -> Self {
        TtlCache {
            entries: Mutex::new(HashMap::new()),
            capacity,
            clock,
        }
    }

    pub(crate) fn get(&self, key: &K) -> Option<V> {
        let now = self.clock.now();
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        match entries.get(key) {
            Some((expires, value)) if *expires > now => Some(value.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    pub(crate) fn insert(&self, key: K, value: V, ttl: Duration) {
        if ttl.is_zero() || self.capacity == 0 {
            return;
        }
        let now = self.clock.now();
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            entries.retain(|_, (expires, _)| *expires > now);
            if entries.len() >= self.capacity {
                let soonest = entries
                    .iter()
                    .min_by_key(|(_, (expires, _))| *expires)
                    .map(|(k, _)| k.clone());
                if let Some(k) = soonest {
                    entries.remove(&k);
                }
            }
        }
        entries.insert(key, (now + ttl, value));
    }

    pub(crate) fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub(crate) fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_and_evicts() {
        let clock = ManualClock::new();
        let cache: TtlCache<u32, &str> = TtlCache::new(2, Arc::new(clock.clone()));
        cache.insert(1, "a", Duration::from_secs(10));
        cache.insert(2, "b", Duration::from_secs(5));
        assert_eq!(cache.get(&1), Some("a"));
        clock.advance(Duration::from_secs(6));
        assert_eq!(cache.get(&2), None, "expired");
        cache.insert(2, "b", Duration::from_secs(100));
        // Full: the soonest to expire (1) goes.
        cache.insert(3, "c", Duration::from_secs(100));
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get(&1), None);
        assert_eq!(cache.get(&3), Some("c"));
        cache.insert(4, "d", Duration::ZERO);
        assert_eq!(cache.get(&4), None, "zero TTL is not cached");
        cache.clear();
        assert_eq!(cache.len(), 0);
    }
}
