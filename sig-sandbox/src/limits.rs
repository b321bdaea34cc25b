//! Limits and waits: the primitives a vendor sandbox enforces its documented
//! limits with, all keyed by a string (e.g. `format!("{app_key}/{method}")`)
//! and all on tokio's clock, so `tokio::time::pause` drives them in tests.
//!
//! Windows and waits come from a [`Timing`], so one knob shortens every
//! window of a sandbox for tests (`Timing::scaled(0.01)`: 60 s → 600 ms).

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// Time scale of a sandbox: every documented window and wait is multiplied
/// by it. JSON: `{"scale": 0.01}`.
///
/// ```
/// use std::time::Duration;
/// use sig_sandbox::Timing;
/// let timing = Timing::scaled(0.01);
/// assert_eq!(timing.secs(60), Duration::from_millis(600));
/// // Messages keep the vendor's nominal numbers ("Aguarde 60 segundos"):
/// assert_eq!(timing.nominal_secs(Duration::from_millis(600)), 60);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "TimingRepr", into = "TimingRepr")]
pub struct Timing {
    scale: f64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TimingRepr {
    scale: f64,
}

impl TryFrom<TimingRepr> for Timing {
    type Error = String;

    fn try_from(repr: TimingRepr) -> Result<Self, Self::Error> {
        Self::try_scaled(repr.scale)
    }
}

impl From<Timing> for TimingRepr {
    fn from(timing: Timing) -> Self {
        Self {
            scale: timing.scale,
        }
    }
}

impl Default for Timing {
    fn default() -> Self {
        Self::real()
    }
}

impl Timing {
    /// The vendor's real windows (scale 1).
    pub const fn real() -> Self {
        Self { scale: 1.0 }
    }

    /// Windows multiplied by `scale`.
    ///
    /// # Panics
    /// If `scale` is not a finite number above 0 (use
    /// [`try_scaled`](Self::try_scaled) for untrusted input).
    pub fn scaled(scale: f64) -> Self {
        match Self::try_scaled(scale) {
            Ok(timing) => timing,
            Err(message) => panic!("{message}"),
        }
    }

    /// Windows multiplied by `scale`, checked.
    ///
    /// # Errors
    /// `scale` is not a finite number above 0.
    pub fn try_scaled(scale: f64) -> Result<Self, String> {
        if scale.is_finite() && scale > 0.0 {
            Ok(Self { scale })
        } else {
            Err(format!(
                "timing scale must be a finite number above 0, got {scale}"
            ))
        }
    }

    /// The scale factor.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// A documented (nominal) duration, scaled.
    pub fn apply(&self, nominal: Duration) -> Duration {
        Duration::try_from_secs_f64(nominal.as_secs_f64() * self.scale).unwrap_or(Duration::MAX)
    }

    /// `secs` documented seconds, scaled.
    pub fn secs(&self, secs: u64) -> Duration {
        self.apply(Duration::from_secs(secs))
    }

    /// `ms` documented milliseconds, scaled.
    pub fn millis(&self, ms: u64) -> Duration {
        self.apply(Duration::from_millis(ms))
    }

    /// The documented duration a scaled one stands for (the inverse of
    /// [`apply`](Self::apply)).
    pub fn nominal(&self, scaled: Duration) -> Duration {
        Duration::try_from_secs_f64(scaled.as_secs_f64() / self.scale).unwrap_or(Duration::MAX)
    }

    /// [`nominal`](Self::nominal) in whole seconds, rounded up, for vendor
    /// messages such as "Aguarde 43 segundos".
    pub fn nominal_secs(&self, scaled: Duration) -> u64 {
        let nominal = self.nominal(scaled);
        // Round to milliseconds first so float noise (59.999…) does not add a second.
        let ms = nominal.as_millis();
        u64::try_from(ms.div_ceil(1000)).unwrap_or(u64::MAX)
    }
}

/// A limit was reached; the caller may try again after this long.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("limit reached; retry after {} ms", .0.as_millis())]
pub struct RetryAfter(pub Duration);

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Entries kept before expired ones are swept.
const SWEEP_AT: usize = 4096;

/// How a [`WindowLimiter`] counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WindowMode {
    Fixed,
    Sliding,
}

/// At most `limit` acquisitions per key per window.
///
/// *Fixed*: a window opens at a key's first acquisition and the count resets
/// when it ends. *Sliding*: at most `limit` acquisitions within any span of
/// `window`. A fixed limiter with limit 1 is also the "same request twice
/// within 60 s" redundancy check.
///
/// ```
/// use std::time::Duration;
/// use sig_sandbox::{RetryAfter, WindowLimiter};
/// // Omie: 240 requests/min per app key + method.
/// let per_method = WindowLimiter::sliding(240, Duration::from_secs(60));
/// assert!(per_method.try_acquire("app1/ListarClientes").is_ok());
///
/// let redundant = WindowLimiter::fixed(1, Duration::from_secs(60));
/// assert!(redundant.try_acquire("ConsultarCliente/42").is_ok());
/// let Err(RetryAfter(wait)) = redundant.try_acquire("ConsultarCliente/42") else { panic!() };
/// assert!(wait <= Duration::from_secs(60));
/// ```
#[derive(Clone)]
pub struct WindowLimiter {
    limit: usize,
    window: Duration,
    mode: WindowMode,
    keys: Arc<Mutex<HashMap<String, VecDeque<Instant>>>>,
}

impl fmt::Debug for WindowLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WindowLimiter")
            .field("limit", &self.limit)
            .field("window", &self.window)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl WindowLimiter {
    /// `limit` acquisitions per key in fixed windows of `window`.
    pub fn fixed(limit: usize, window: Duration) -> Self {
        Self::new(limit, window, WindowMode::Fixed)
    }

    /// `limit` acquisitions per key within any sliding span of `window`.
    pub fn sliding(limit: usize, window: Duration) -> Self {
        Self::new(limit, window, WindowMode::Sliding)
    }

    fn new(limit: usize, window: Duration, mode: WindowMode) -> Self {
        Self {
            limit,
            window,
            mode,
            keys: Arc::default(),
        }
    }

    /// The limit per window.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The window length.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// Takes one acquisition for `key`.
    ///
    /// # Errors
    /// [`RetryAfter`] with the time until an acquisition frees up; a refused
    /// attempt does not count.
    pub fn try_acquire(&self, key: &str) -> Result<(), RetryAfter> {
        let now = Instant::now();
        let mut keys = lock(&self.keys);
        if keys.len() >= SWEEP_AT {
            let window = self.window;
            keys.retain(|_, log| log.back().is_some_and(|t| now - *t < window));
        }
        let log = keys.entry(key.to_owned()).or_default();
        match self.mode {
            WindowMode::Sliding => {
                while log.front().is_some_and(|t| now - *t >= self.window) {
                    log.pop_front();
                }
            }
            WindowMode::Fixed => {
                // The front is the window's opening acquisition.
                if log.front().is_some_and(|t| now - *t >= self.window) {
                    log.clear();
                }
            }
        }
        if log.len() < self.limit {
            log.push_back(now);
            return Ok(());
        }
        let wait = log
            .front()
            .map_or(self.window, |first| (*first + self.window) - now);
        Err(RetryAfter(wait))
    }

    /// Forgets every key's history.
    pub fn reset(&self) {
        lock(&self.keys).clear();
    }
}

/// At most `max` requests in flight per key ("4 concurrent requests per IP +
/// App Key + method"). Entering returns a guard; dropping it leaves.
///
/// ```
/// use sig_sandbox::ConcurrencyGate;
/// let gate = ConcurrencyGate::new(1);
/// let first = gate.try_enter("app1/IncluirCliente").expect("free");
/// assert!(gate.try_enter("app1/IncluirCliente").is_none());
/// assert!(gate.try_enter("app1/ListarClientes").is_some());
/// drop(first);
/// assert!(gate.try_enter("app1/IncluirCliente").is_some());
/// ```
#[derive(Clone)]
pub struct ConcurrencyGate {
    max: usize,
    in_flight: Arc<Mutex<HashMap<String, usize>>>,
}

impl fmt::Debug for ConcurrencyGate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConcurrencyGate")
            .field("max", &self.max)
            .finish_non_exhaustive()
    }
}

impl ConcurrencyGate {
    /// A gate letting `max` requests per key in at once.
    pub fn new(max: usize) -> Self {
        Self {
            max,
            in_flight: Arc::default(),
        }
    }

    /// Enters for `key` if fewer than `max` are in flight.
    #[must_use = "the slot is released when the guard drops"]
    pub fn try_enter(&self, key: &str) -> Option<GateGuard> {
        let mut in_flight = lock(&self.in_flight);
        let count = in_flight.entry(key.to_owned()).or_default();
        if *count >= self.max {
            if *count == 0 {
                in_flight.remove(key);
            }
            return None;
        }
        *count += 1;
        Some(GateGuard {
            in_flight: Arc::clone(&self.in_flight),
            key: key.to_owned(),
        })
    }

    /// Requests in flight for `key`.
    pub fn in_flight(&self, key: &str) -> usize {
        lock(&self.in_flight).get(key).copied().unwrap_or(0)
    }
}

/// A slot in a [`ConcurrencyGate`]; released on drop.
pub struct GateGuard {
    in_flight: Arc<Mutex<HashMap<String, usize>>>,
    key: String,
}

impl fmt::Debug for GateGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GateGuard").field("key", &self.key).finish()
    }
}

impl Drop for GateGuard {
    fn drop(&mut self) {
        let mut in_flight = lock(&self.in_flight);
        if let Some(count) = in_flight.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                in_flight.remove(&self.key);
            }
        }
    }
}

/// Misuse blocks: `threshold` failures for a key within `window` block the
/// key for `block` (Omie: 10 failed requests → blocked 30 minutes).
///
/// The vendor calls [`check`](Self::check) before handling a request and
/// [`record_failure`](Self::record_failure) when the request failed.
///
/// ```
/// use std::time::Duration;
/// use sig_sandbox::FailureBlocker;
/// let misuse = FailureBlocker::new(2, Duration::from_secs(60), Duration::from_secs(1800));
/// assert!(misuse.record_failure("app1").is_ok());
/// assert!(misuse.record_failure("app1").is_err()); // second failure trips the block
/// assert!(misuse.check("app1").is_err());
/// assert!(misuse.check("app2").is_ok());
/// ```
#[derive(Clone)]
pub struct FailureBlocker {
    threshold: usize,
    window: Duration,
    block: Duration,
    keys: Arc<Mutex<HashMap<String, FailureState>>>,
}

#[derive(Default)]
struct FailureState {
    failures: VecDeque<Instant>,
    blocked_until: Option<Instant>,
}

impl fmt::Debug for FailureBlocker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FailureBlocker")
            .field("threshold", &self.threshold)
            .field("window", &self.window)
            .field("block", &self.block)
            .finish_non_exhaustive()
    }
}

impl FailureBlocker {
    /// `threshold` failures within `window` block a key for `block`.
    pub fn new(threshold: usize, window: Duration, block: Duration) -> Self {
        Self {
            threshold,
            window,
            block,
            keys: Arc::default(),
        }
    }

    /// Whether `key` may be served now.
    ///
    /// # Errors
    /// [`RetryAfter`] with the rest of the block.
    pub fn check(&self, key: &str) -> Result<(), RetryAfter> {
        let now = Instant::now();
        let mut keys = lock(&self.keys);
        let Some(state) = keys.get_mut(key) else {
            return Ok(());
        };
        match state.blocked_until {
            Some(until) if until > now => Err(RetryAfter(until - now)),
            Some(_) => {
                keys.remove(key);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Records a failure for `key`.
    ///
    /// # Errors
    /// [`RetryAfter`] when the key is (now) blocked: this failure reached the
    /// threshold, or the key was blocked already.
    pub fn record_failure(&self, key: &str) -> Result<(), RetryAfter> {
        let now = Instant::now();
        let mut keys = lock(&self.keys);
        if keys.len() >= SWEEP_AT {
            let window = self.window;
            keys.retain(|_, s| {
                s.blocked_until.is_some_and(|u| u > now)
                    || s.failures.back().is_some_and(|t| now - *t < window)
            });
        }
        let state = keys.entry(key.to_owned()).or_default();
        match state.blocked_until {
            Some(until) if until > now => return Err(RetryAfter(until - now)),
            Some(_) => *state = FailureState::default(),
            None => {}
        }
        while state
            .failures
            .front()
            .is_some_and(|t| now - *t >= self.window)
        {
            state.failures.pop_front();
        }
        state.failures.push_back(now);
        if state.failures.len() >= self.threshold {
            state.failures.clear();
            state.blocked_until = Some(now + self.block);
            return Err(RetryAfter(self.block));
        }
        Ok(())
    }

    /// Lifts a block and forgets the failures of `key`.
    pub fn clear(&self, key: &str) {
        lock(&self.keys).remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::advance;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn timing_scales_and_inverts() {
        let timing = Timing::scaled(0.01);
        assert_eq!(timing.secs(60), 600 * MS);
        assert_eq!(timing.millis(1000), 10 * MS);
        assert_eq!(timing.nominal_secs(430 * MS), 43);
        assert_eq!(timing.nominal_secs(431 * MS), 44);
        assert_eq!(Timing::default(), Timing::real());
        assert!(Timing::try_scaled(0.0).is_err());
        assert!(Timing::try_scaled(f64::NAN).is_err());
        let parsed: Timing = serde_json::from_str(r#"{"scale": 0.5}"#).unwrap();
        assert_eq!(parsed.secs(2), Duration::from_secs(1));
        assert!(serde_json::from_str::<Timing>(r#"{"scale": -1}"#).is_err());
        assert_eq!(serde_json::to_string(&parsed).unwrap(), r#"{"scale":0.5}"#);
    }

    #[tokio::test(start_paused = true)]
    async fn fixed_window_resets_after_window() {
        let limiter = WindowLimiter::fixed(2, 100 * MS);
        assert!(limiter.try_acquire("a").is_ok());
        advance(40 * MS).await;
        assert!(limiter.try_acquire("a").is_ok());
        assert_eq!(limiter.try_acquire("a"), Err(RetryAfter(60 * MS)));
        assert!(limiter.try_acquire("b").is_ok(), "keys are independent");
        advance(60 * MS).await;
        assert!(limiter.try_acquire("a").is_ok());
        assert!(limiter.try_acquire("a").is_ok());
        assert!(limiter.try_acquire("a").is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn sliding_window_frees_one_at_a_time() {
        let limiter = WindowLimiter::sliding(2, 100 * MS);
        assert!(limiter.try_acquire("a").is_ok());
        advance(40 * MS).await;
        assert!(limiter.try_acquire("a").is_ok());
        assert_eq!(limiter.try_acquire("a"), Err(RetryAfter(60 * MS)));
        advance(60 * MS).await;
        assert!(limiter.try_acquire("a").is_ok(), "the first one slid out");
        assert_eq!(limiter.try_acquire("a"), Err(RetryAfter(40 * MS)));
        limiter.reset();
        assert!(limiter.try_acquire("a").is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn zero_limit_always_refuses() {
        let limiter = WindowLimiter::fixed(0, 100 * MS);
        assert_eq!(limiter.try_acquire("a"), Err(RetryAfter(100 * MS)));
    }

    #[test]
    fn gate_counts_and_releases() {
        let gate = ConcurrencyGate::new(2);
        let a = gate.try_enter("k").unwrap();
        let b = gate.try_enter("k").unwrap();
        assert_eq!(gate.in_flight("k"), 2);
        assert!(gate.try_enter("k").is_none());
        drop(a);
        assert_eq!(gate.in_flight("k"), 1);
        let _c = gate.try_enter("k").unwrap();
        drop(b);
        assert_eq!(gate.in_flight("k"), 1);
        assert!(ConcurrencyGate::new(0).try_enter("k").is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn failures_block_then_expire() {
        let misuse = FailureBlocker::new(3, 100 * MS, 1000 * MS);
        misuse.record_failure("k").unwrap();
        misuse.record_failure("k").unwrap();
        advance(150 * MS).await;
        // The first two slid out of the window.
        misuse.record_failure("k").unwrap();
        misuse.record_failure("k").unwrap();
        assert_eq!(misuse.record_failure("k"), Err(RetryAfter(1000 * MS)));
        advance(400 * MS).await;
        assert_eq!(misuse.check("k"), Err(RetryAfter(600 * MS)));
        assert_eq!(misuse.record_failure("k"), Err(RetryAfter(600 * MS)));
        assert!(misuse.check("other").is_ok());
        advance(600 * MS).await;
        assert!(misuse.check("k").is_ok());
        misuse.record_failure("k").unwrap();
        misuse.record_failure("k").unwrap();
        misuse.clear("k");
        misuse.record_failure("k").unwrap();
    }
}
