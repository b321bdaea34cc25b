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

/// One async lock per key, so concurrent lookups of the same key make one upstream call
/// (the others wait and then find the answer in the cache). Entries go away with their last
/// user.
pub(crate) struct KeyLocks<K> {
    map: Mutex<HashMap<K, Arc<tokio::sync::Mutex<()>>>>,
}

impl<K> fmt::Debug for KeyLocks<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyLocks").finish_non_exhaustive()
    }
}

impl<K: Eq + Hash + Clone> KeyLocks<K> {
    pub(crate) fn new() -> Self {
        KeyLocks {
            map: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) async fn lock(&self, key: &K) -> KeyGuard<'_, K> {
        let lock = {
            let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(map.entry(key.clone()).or_default())
        };
        let guard = Arc::clone(&lock).lock_owned().await;
        KeyGuard {
            locks: self,
            key: key.clone(),
            lock,
            guard: Some(guard),
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// Holds a key's lock; releases it and forgets the key when nobody else waits.
pub(crate) struct KeyGuard<'a, K: Eq + Hash + Clone> {
    locks: &'a KeyLocks<K>,
    key: K,
    lock: Arc<tokio::sync::Mutex<()>>,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl<K: Eq + Hash + Clone> Drop for KeyGuard<'_, K> {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut map = self
            .locks
            .map
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Ours and the map's: nobody else holds or waits for this key. Clones are only made
        // under the map's lock, so the count cannot grow meanwhile.
        if Arc::strong_count(&self.lock) == 2 {
            map.remove(&self.key);
        }
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

    #[tokio::test]
    async fn key_locks_serialise_one_key_and_forget_it() {
        let locks: Arc<KeyLocks<u32>> = Arc::new(KeyLocks::new());
        let first = locks.lock(&1).await;
        // Another key is free.
        drop(locks.lock(&2).await);
        let waiter = {
            let locks = Arc::clone(&locks);
            tokio::spawn(async move {
                let _g = locks.lock(&1).await;
            })
        };
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "the same key waits");
        drop(first);
        waiter.await.unwrap();
        assert_eq!(locks.len(), 0, "entries go with their last user");
    }
}
