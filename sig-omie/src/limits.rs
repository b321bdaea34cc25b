//! Omie's consumption limits, enforced on the client side so Omie never has to.
//!
//! Per (account, method): at most `method_requests` per `window` (240/min) paced by a
//! `governor` GCRA limiter with a little headroom, at most `method_in_flight` calls at once (4),
//! writes one at a time; per account `overall_requests` per `window` (960/min). A REDUNDANT,
//! method-busy or 429 answer pauses that method for the wait Omie stated; a misuse block opens
//! the account's circuit breaker for the stated time (1800 s by default), during which no call is
//! made at all. The breaker's state is a plain serializable value ([`BreakerState`]) so the
//! pipeline can keep it across restarts.
//!
//! One client serves one account, so every limit here is per account.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde::{Deserialize, Serialize};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// The limits a client keeps to. Defaults are Omie's published numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct LimitsConfig {
    /// Requests per method per window (Omie: 240 per minute per IP + app key + method).
    pub method_requests: u32,
    /// Requests per window for the whole account (Omie: 960 per minute per IP).
    pub overall_requests: u32,
    /// The window both counts refer to (60 s).
    pub window: Duration,
    /// Calls of one method in flight at once (Omie: 4).
    pub method_in_flight: usize,
    /// Writes of one method in flight at once (1: Omie has no support for concurrent
    /// inclusion/alteration).
    pub write_in_flight: usize,
    /// Fraction of each ceiling the client aims at (0.97): the pacing stays under the limit
    /// even with network jitter.
    pub headroom: f64,
    /// Extra wait added to every wait Omie states ("Aguarde N segundos" + this).
    pub wait_margin: Duration,
    /// Refused requests (faults other than an empty page or a missing record, and 429s)
    /// one method may collect per window before the client pauses it until the oldest
    /// leaves the window. Omie blocks an account after 10 failed requests of a combination
    /// `[observed]`; the default 8 keeps a margin.
    pub method_failures: u32,
    /// Multiplies every wait Omie states in its messages (1.0 for the real Omie; a sandbox
    /// with shortened windows keeps Omie's nominal numbers in its texts, so a client talking
    /// to it uses the sandbox's scale).
    pub stated_wait_scale: f64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            method_requests: 240,
            overall_requests: 960,
            window: Duration::from_secs(60),
            method_in_flight: 4,
            write_in_flight: 1,
            headroom: 0.97,
            wait_margin: Duration::from_secs(1),
            method_failures: 8,
            stated_wait_scale: 1.0,
        }
    }
}

impl LimitsConfig {
    /// No client-side limit at all: no pacing, no in-flight or write bound, no refusal
    /// budget. Only for benchmarks against a sandbox whose limits are off too — the real Omie
    /// blocks a client that behaves like this.
    pub fn unlimited() -> Self {
        LimitsConfig {
            method_requests: u32::MAX / 2,
            overall_requests: u32::MAX / 2,
            window: Duration::from_secs(60),
            method_in_flight: 1 << 20,
            write_in_flight: 1 << 20,
            headroom: 1.0,
            wait_margin: Duration::ZERO,
            method_failures: u32::MAX / 2,
            stated_wait_scale: 1.0,
        }
    }

    /// Omie's limits with every window and wait multiplied by `scale` (tests and sandboxes:
    /// `scaled(0.01)` turns the 60 s window into 600 ms and "Aguarde 60 segundos" into 0.6 s).
    pub fn scaled(scale: f64) -> Self {
        let d = LimitsConfig::default();
        LimitsConfig {
            window: d.window.mul_f64(scale),
            wait_margin: d.wait_margin.mul_f64(scale),
            stated_wait_scale: scale,
            ..d
        }
    }

    /// A wait Omie stated, as this client honours it (scaled, plus the margin).
    pub fn honoured_wait(&self, stated: Duration) -> Duration {
        stated.mul_f64(self.stated_wait_scale) + self.wait_margin
    }

    /// The governor quota that keeps `count` per window with the configured headroom: an
    /// even pace of `count × headroom` per window, and a burst small enough that pace plus
    /// burst stays under `count` in any window.
    fn quota(&self, count: u32) -> Quota {
        let count = count.max(1);
        let headroom = self.headroom.clamp(0.5, 1.0);
        let paced = (f64::from(count) * headroom).max(1.0);
        let period = self.window.div_f64(paced).max(Duration::from_nanos(1));
        let burst = ((f64::from(count) - paced) / 2.0).floor().max(1.0) as u32;
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(burst)
    }
}

/// A misuse block: when it ends (unix ms) and Omie's reason. Serializable so the pipeline
/// can store it and restore it after a restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakerState {
    /// When the block ends, in unix milliseconds.
    pub blocked_until: i64,
    /// Why (Omie's message).
    pub reason: String,
}

impl BreakerState {
    /// Whether the block is still in force at `now_ms`.
    pub fn is_open_at(&self, now_ms: i64) -> bool {
        now_ms < self.blocked_until
    }

    /// Time left at `now_ms`.
    pub fn remaining_at(&self, now_ms: i64) -> Duration {
        Duration::from_millis(u64::try_from(self.blocked_until - now_ms).unwrap_or(0))
    }
}

pub(crate) fn now_unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The account's misuse circuit breaker.
#[derive(Debug, Default)]
pub(crate) struct Breaker {
    state: Mutex<Option<BreakerState>>,
}

impl Breaker {
    pub fn open(&self, wait: Duration, reason: String) -> BreakerState {
        let until = now_unix_ms() + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 2);
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        // Never shorten a block already in force.
        let keep = s.as_ref().is_some_and(|old| old.blocked_until >= until);
        if !keep {
            *s = Some(BreakerState {
                blocked_until: until,
                reason,
            });
        }
        s.clone().expect("just set")
    }

    /// The block in force now, if any (an expired one is forgotten).
    pub fn current(&self) -> Option<BreakerState> {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        match &*s {
            Some(st) if st.is_open_at(now_unix_ms()) => Some(st.clone()),
            Some(_) => {
                *s = None;
                None
            }
            None => None,
        }
    }

    pub fn restore(&self, state: Option<BreakerState>) {
        *self.state.lock().unwrap_or_else(PoisonError::into_inner) = state;
    }
}

/// One method's pacing, in-flight gates and pause.
struct MethodLimits {
    rate: DefaultDirectRateLimiter,
    in_flight: Arc<Semaphore>,
    writes: Arc<Semaphore>,
    paused_until: Mutex<Option<Instant>>,
    failures: Mutex<std::collections::VecDeque<Instant>>,
}

/// The permits of one attempt; dropping it frees the method's slots.
#[derive(Debug)]
pub(crate) struct Permit {
    _write: Option<OwnedSemaphorePermit>,
    _slot: OwnedSemaphorePermit,
}

/// All of an account's limits.
pub(crate) struct Limiter {
    config: LimitsConfig,
    overall: DefaultDirectRateLimiter,
    methods: Mutex<HashMap<&'static str, Arc<MethodLimits>>>,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Limiter {
    pub fn new(config: LimitsConfig) -> Self {
        Limiter {
            overall: RateLimiter::direct(config.quota(config.overall_requests)),
            config,
            methods: Mutex::new(HashMap::new()),
        }
    }

    pub fn config(&self) -> &LimitsConfig {
        &self.config
    }

    fn method(&self, method: &'static str) -> Arc<MethodLimits> {
        let mut m = self.methods.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(m.entry(method).or_insert_with(|| {
            Arc::new(MethodLimits {
                rate: RateLimiter::direct(self.config.quota(self.config.method_requests)),
                in_flight: Arc::new(Semaphore::new(self.config.method_in_flight.max(1))),
                writes: Arc::new(Semaphore::new(self.config.write_in_flight.max(1))),
                paused_until: Mutex::new(None),
                failures: Mutex::new(std::collections::VecDeque::new()),
            })
        }))
    }

    /// Wait for a slot, the end of any pause, and a rate token; `None` if `deadline` comes
    /// first.
    pub async fn acquire(
        &self,
        method: &'static str,
        write: bool,
        deadline: Instant,
    ) -> Option<Permit> {
        let m = self.method(method);
        let wait = async {
            let write_permit = if write {
                Some(Arc::clone(&m.writes).acquire_owned().await.ok()?)
            } else {
                None
            };
            let slot = Arc::clone(&m.in_flight).acquire_owned().await.ok()?;
            loop {
                let until = *m
                    .paused_until
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                match until {
                    Some(t) if t > Instant::now() => tokio::time::sleep_until(t).await,
                    _ => break,
                }
            }
            m.rate.until_ready().await;
            self.overall.until_ready().await;
            Some(Permit {
                _write: write_permit,
                _slot: slot,
            })
        };
        tokio::time::timeout_at(deadline, wait).await.ok().flatten()
    }

    /// Count a refused request of `method`; at `method_failures` within the window, pause
    /// the method until the oldest leaves it, so Omie never sees the 10th.
    pub fn record_failure(&self, method: &'static str) {
        let m = self.method(method);
        let now = Instant::now();
        let window = self.config.window;
        let resume = {
            let mut f = m.failures.lock().unwrap_or_else(PoisonError::into_inner);
            while f.front().is_some_and(|t| now.duration_since(*t) >= window) {
                f.pop_front();
            }
            f.push_back(now);
            (f.len() >= self.config.method_failures.max(1) as usize)
                .then(|| f.front().map(|t| *t + window))
                .flatten()
        };
        if let Some(until) = resume {
            tracing::warn!(
                call = method,
                "omie: too many refused requests; pausing the method"
            );
            self.pause(method, until.saturating_duration_since(now));
        }
    }

    /// Pause a method for `wait` (a REDUNDANT, method-busy or 429 answer).
    pub fn pause(&self, method: &'static str, wait: Duration) {
        let m = self.method(method);
        let until = Instant::now() + wait;
        let mut p = m
            .paused_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if p.is_none_or(|old| old < until) {
            *p = Some(until);
        }
    }
}

/// Retries under a budget: each first attempt deposits `ratio` tokens, each retry spends one,
/// so retries stay a bounded fraction of traffic (tower's retry budget, smithy's token bucket).
#[derive(Debug, Clone, PartialEq)]
pub struct RetryConfig {
    /// First backoff delay.
    pub min_delay: Duration,
    /// Longest backoff delay.
    pub max_delay: Duration,
    /// Failed attempts per call, the first included. Refusals that name a wait (REDUNDANT,
    /// method busy, 429) do not count: the server did no work, and the call's deadline and
    /// the retry budget bound them.
    pub max_attempts: u32,
    /// Tokens each first attempt adds to the budget.
    pub budget_ratio: f64,
    /// Tokens the budget starts with and never exceeds ten times of.
    pub budget_reserve: f64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(20),
            max_attempts: 5,
            budget_ratio: 0.2,
            budget_reserve: 20.0,
        }
    }
}

impl RetryConfig {
    /// Shorter delays for tests and sandboxes.
    pub fn scaled(scale: f64) -> Self {
        let d = RetryConfig::default();
        RetryConfig {
            min_delay: d.min_delay.mul_f64(scale),
            max_delay: d.max_delay.mul_f64(scale),
            ..d
        }
    }

    pub(crate) fn backoff(&self) -> impl Iterator<Item = Duration> + use<> {
        use backon::BackoffBuilder;
        backon::ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_attempts.saturating_sub(1) as usize)
            .with_jitter()
            .build()
    }
}

/// The account's retry budget.
#[derive(Debug)]
pub(crate) struct RetryBudget {
    balance: Mutex<f64>,
    ratio: f64,
    max: f64,
}

impl RetryBudget {
    pub fn new(config: &RetryConfig) -> Self {
        RetryBudget {
            balance: Mutex::new(config.budget_reserve),
            ratio: config.budget_ratio,
            max: config.budget_reserve * 10.0,
        }
    }

    pub fn deposit(&self) {
        let mut b = self.balance.lock().unwrap_or_else(PoisonError::into_inner);
        *b = (*b + self.ratio).min(self.max);
    }

    pub fn withdraw(&self) -> bool {
        let mut b = self.balance.lock().unwrap_or_else(PoisonError::into_inner);
        if *b >= 1.0 {
            *b -= 1.0;
            true
        } else {
            false
        }
    }

    #[cfg(test)]
    pub fn balance(&self) -> f64 {
        *self.balance.lock().unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_bounds_retries() {
        let b = RetryBudget::new(&RetryConfig {
            budget_reserve: 2.0,
            budget_ratio: 0.5,
            ..RetryConfig::default()
        });
        assert!(b.withdraw());
        assert!(b.withdraw());
        assert!(!b.withdraw());
        b.deposit();
        b.deposit();
        assert!(b.withdraw());
        assert!(b.balance() < 1.0);
    }

    #[test]
    fn breaker_keeps_the_longest_block() {
        let br = Breaker::default();
        assert!(br.current().is_none());
        br.open(Duration::from_secs(100), "a".into());
        let s = br.open(Duration::from_secs(10), "b".into());
        assert_eq!(s.reason, "a");
        assert!(br.current().is_some());
        br.restore(Some(BreakerState {
            blocked_until: now_unix_ms() - 1,
            reason: "old".into(),
        }));
        assert!(br.current().is_none());
    }

    #[tokio::test]
    async fn pacing_stays_under_the_ceiling() {
        // 50 per 500 ms window aiming at 90 %: no window over 50 (a margin of ~3 requests
        // absorbs scheduling jitter in the stamps) and at least ~2.5 windows' worth in 1.5 s.
        let cfg = LimitsConfig {
            method_requests: 50,
            overall_requests: 1000,
            window: Duration::from_millis(500),
            headroom: 0.9,
            ..LimitsConfig::default()
        };
        let l = Limiter::new(cfg);
        let start = Instant::now();
        let mut stamps = Vec::new();
        while start.elapsed() < Duration::from_millis(1500) {
            let p = l
                .acquire("M", false, start + Duration::from_secs(5))
                .await
                .unwrap();
            stamps.push(start.elapsed());
            drop(p);
        }
        // No sliding 500 ms window holds more than 50.
        for (i, t) in stamps.iter().enumerate() {
            let n = stamps[i..]
                .iter()
                .take_while(|u| **u < *t + Duration::from_millis(500))
                .count();
            assert!(n <= 50, "{n} requests in one window");
        }
        assert!(
            stamps.len() >= 125,
            "only {} requests in 3 windows",
            stamps.len()
        );
    }

    #[tokio::test]
    async fn refusals_pause_the_method_before_a_misuse_block() {
        let cfg = LimitsConfig {
            window: Duration::from_millis(300),
            method_failures: 3,
            ..LimitsConfig::default()
        };
        let l = Limiter::new(cfg);
        l.record_failure("M");
        l.record_failure("M");
        let t = Instant::now();
        l.acquire("M", false, t + Duration::from_secs(5))
            .await
            .unwrap();
        assert!(
            t.elapsed() < Duration::from_millis(100),
            "two refusals do not pause"
        );
        l.record_failure("M");
        let t = Instant::now();
        l.acquire("M", false, t + Duration::from_secs(5))
            .await
            .unwrap();
        assert!(
            t.elapsed() >= Duration::from_millis(250),
            "paused {:?}",
            t.elapsed()
        );
        // Other methods are not affected.
        let t = Instant::now();
        l.acquire("N", false, t + Duration::from_secs(5))
            .await
            .unwrap();
        assert!(t.elapsed() < Duration::from_millis(100));
    }
}
