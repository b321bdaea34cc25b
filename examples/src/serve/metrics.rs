//! `/metrics`: SIG's Prometheus metrics (text exposition through `prometheus-client`).
//!
//! Two sources, so no number can drift from the truth:
//! - **From the store, at every scrape** ([`Metrics::observe_store`]): integrations per status,
//!   started and done counters, queue size, the age of the oldest pending integration, load
//!   and utilisation per ServidorNext, the Omie breaker per account. They are what the store
//!   says at that moment, whichever process wrote it.
//! - **From `tracing` events, as they happen** ([`MetricsLayer`]): step latencies and outcomes
//!   (the pipeline's [`STEP_EVENT_TARGET`] events) and upstream calls and errors by system,
//!   call and kind (the clients' [`UPSTREAM_EVENT_TARGET`] events). The clients do not know
//!   about metrics; they emit one event per attempt and this layer counts it.
//!
//! HTTP requests are counted by route template (never the path: a webhook path carries its
//! secret token) and status.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::AtomicU64;

use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use sig_core::ids::ServerId;
use sig_core::pipeline::{STEP_EVENT_TARGET, ServerInfo};
use sig_core::ports::UPSTREAM_EVENT_TARGET;
use sig_core::store::{IntegrationCounts, Load, STATUSES};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::Context;

/// Labels: an integration status.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabels {
    /// `pending`, `held`, `done`, `failed`, `cancelled`.
    pub status: String,
}

/// Labels: a step kind.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StepLabels {
    /// The step without its indexes (`contract`, `line`).
    pub step: String,
}

/// Labels: a step kind and how it ended.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StepOutcomeLabels {
    /// The step kind.
    pub step: String,
    /// `ok`, `held`, `retrying`, `failed`.
    pub outcome: String,
}

/// Labels: an upstream call.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    /// `omie`, `nextbilling`, `docsales`.
    pub system: String,
    /// The vendor's call name.
    pub call: String,
}

/// Labels: a failed upstream call.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// The system.
    pub system: String,
    /// The call.
    pub call: String,
    /// The error kind (`rate_limited`, `redundant`, `misuse_block`, `timeout`, …).
    pub kind: String,
}

/// Labels: an upstream system.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SystemLabels {
    /// The system.
    pub system: String,
}

/// Labels: a ServidorNext.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ServerLabels {
    /// Its SIG id.
    pub server: String,
}

/// Labels: a ServidorNext and a resource.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ServerResourceLabels {
    /// Its SIG id.
    pub server: String,
    /// `lines` or `channels`.
    pub resource: String,
}

/// Labels: an account.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AccountLabels {
    /// The account id in `sig.toml`.
    pub account: String,
}

/// Labels: an HTTP request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    /// The route template (`/webhooks/docsales/:account/:token`), never the path.
    pub route: String,
    /// The response status.
    pub status: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn step_buckets() -> Histogram {
    // 1 ms … ~33 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

fn call_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// Every metric `sig serve` exposes.
pub struct Metrics {
    registry: Registry,
    started: Counter,
    done: Counter,
    integrations: Family<StatusLabels, Gauge>,
    queue: Gauge,
    oldest_pending: Gauge<f64, AtomicU64>,
    server_utilisation: Family<ServerLabels, Gauge<f64, AtomicU64>>,
    server_load: Family<ServerResourceLabels, Gauge>,
    server_capacity: Family<ServerResourceLabels, Gauge>,
    omie_blocked: Family<AccountLabels, Gauge>,
    step_seconds: HistogramFamily<StepLabels>,
    steps: Family<StepOutcomeLabels, Counter>,
    upstream_calls: Family<CallLabels, Counter>,
    upstream_errors: Family<ErrorLabels, Counter>,
    upstream_seconds: HistogramFamily<SystemLabels>,
    http: Family<HttpLabels, Counter>,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Every metric registered, at zero.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("sig");
        let started = Counter::default();
        let done = Counter::default();
        let integrations = Family::<StatusLabels, Gauge>::default();
        let queue = Gauge::default();
        let oldest_pending = Gauge::<f64, AtomicU64>::default();
        let server_utilisation = Family::<ServerLabels, Gauge<f64, AtomicU64>>::default();
        let server_load = Family::<ServerResourceLabels, Gauge>::default();
        let server_capacity = Family::<ServerResourceLabels, Gauge>::default();
        let omie_blocked = Family::<AccountLabels, Gauge>::default();
        let step_seconds: HistogramFamily<StepLabels> =
            Family::new_with_constructor(step_buckets as fn() -> Histogram);
        let steps = Family::<StepOutcomeLabels, Counter>::default();
        let upstream_calls = Family::<CallLabels, Counter>::default();
        let upstream_errors = Family::<ErrorLabels, Counter>::default();
        let upstream_seconds: HistogramFamily<SystemLabels> =
            Family::new_with_constructor(call_buckets as fn() -> Histogram);
        let http = Family::<HttpLabels, Counter>::default();

        registry.register(
            "integrations_started",
            "Integrations taken in (every integration in the store)",
            started.clone(),
        );
        registry.register(
            "integrations_done",
            "Integrations that reached done (from the store)",
            done.clone(),
        );
        registry.register(
            "integrations",
            "Integrations per status now (from the store); failed and held are the dead-letter view",
            integrations.clone(),
        );
        registry.register(
            "queue_size",
            "Pending integrations (due now or waiting for a retry)",
            queue.clone(),
        );
        registry.register(
            "oldest_pending_age_seconds",
            "Age of the oldest pending integration (0 when none)",
            oldest_pending.clone(),
        );
        registry.register(
            "server_utilisation",
            "Load of a ServidorNext over its capacity: the larger of lines and channels (0..1)",
            server_utilisation.clone(),
        );
        registry.register(
            "server_load",
            "Lines and channels reserved or provisioned on a ServidorNext",
            server_load.clone(),
        );
        registry.register(
            "server_capacity",
            "Lines and channels a ServidorNext can take",
            server_capacity.clone(),
        );
        registry.register(
            "omie_blocked",
            "1 while the Omie account is under a misuse block (no call is made)",
            omie_blocked.clone(),
        );
        registry.register(
            "step_duration_seconds",
            "Duration of pipeline steps that completed, by step kind",
            step_seconds.clone(),
        );
        registry.register(
            "steps",
            "Pipeline steps that ended, by step kind and outcome (ok, held, retrying, failed)",
            steps.clone(),
        );
        registry.register(
            "upstream_calls",
            "Upstream call attempts (HTTP requests, and calls refused inside a block)",
            upstream_calls.clone(),
        );
        registry.register(
            "upstream_errors",
            "Failed upstream call attempts by kind (rate_limited, redundant, busy, misuse_block, blocked, timeout, transport, server_error, unauthorized, not_found, rejected, decode, other)",
            upstream_errors.clone(),
        );
        registry.register(
            "upstream_call_duration_seconds",
            "Duration of upstream call attempts",
            upstream_seconds.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests served, by route template and status",
            http.clone(),
        );
        Metrics {
            registry,
            started,
            done,
            integrations,
            queue,
            oldest_pending,
            server_utilisation,
            server_load,
            server_capacity,
            omie_blocked,
            step_seconds,
            steps,
            upstream_calls,
            upstream_errors,
            upstream_seconds,
            http,
        }
    }

    /// Set the store-derived metrics from the store's counts and loads at `now`.
    pub fn observe_store(
        &self,
        counts: &IntegrationCounts,
        loads: &BTreeMap<ServerId, Load>,
        servers: &[ServerInfo],
        now: DateTime<Utc>,
    ) {
        raise_to(&self.started, counts.total());
        raise_to(&self.done, counts.done);
        for s in STATUSES {
            self.integrations
                .get_or_create(&StatusLabels {
                    status: s.as_str().to_owned(),
                })
                .set(i64::try_from(counts.get(s)).unwrap_or(i64::MAX));
        }
        self.queue
            .set(i64::try_from(counts.pending).unwrap_or(i64::MAX));
        let age = counts
            .oldest_pending
            .map_or(0.0, |t| (now - t).num_milliseconds().max(0) as f64 / 1000.0);
        self.oldest_pending.set(age);
        for s in servers {
            let load = loads.get(&s.id).copied().unwrap_or_default();
            let server = s.id.to_string();
            let util = |used: u32, cap: u32| {
                if cap == 0 {
                    0.0
                } else {
                    f64::from(used) / f64::from(cap)
                }
            };
            self.server_utilisation
                .get_or_create(&ServerLabels {
                    server: server.clone(),
                })
                .set(
                    util(load.lines, s.capacity_lines)
                        .max(util(load.channels, s.capacity_channels)),
                );
            for (resource, used, cap) in [
                ("lines", load.lines, s.capacity_lines),
                ("channels", load.channels, s.capacity_channels),
            ] {
                let labels = ServerResourceLabels {
                    server: server.clone(),
                    resource: resource.to_owned(),
                };
                self.server_load.get_or_create(&labels).set(i64::from(used));
                self.server_capacity
                    .get_or_create(&labels)
                    .set(i64::from(cap));
            }
        }
    }

    /// Record whether an Omie account is under a misuse block.
    pub fn observe_omie_block(&self, account: &str, blocked: bool) {
        self.omie_blocked
            .get_or_create(&AccountLabels {
                account: account.to_owned(),
            })
            .set(i64::from(blocked));
    }

    /// Count one HTTP request.
    pub fn observe_http(&self, route: &str, status: u16) {
        self.http
            .get_or_create(&HttpLabels {
                route: route.to_owned(),
                status: status.to_string(),
            })
            .inc();
    }

    /// The text exposition (OpenMetrics text, which Prometheus reads).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    fn on_upstream(&self, f: &EventFields) {
        let (Some(system), Some(call)) = (&f.system, &f.call) else {
            return;
        };
        self.upstream_calls
            .get_or_create(&CallLabels {
                system: system.clone(),
                call: call.clone(),
            })
            .inc();
        if let Some(ms) = f.elapsed_ms {
            self.upstream_seconds
                .get_or_create(&SystemLabels {
                    system: system.clone(),
                })
                .observe(ms as f64 / 1000.0);
        }
        match f.outcome.as_deref() {
            Some("ok") | None => {}
            Some(kind) => {
                self.upstream_errors
                    .get_or_create(&ErrorLabels {
                        system: system.clone(),
                        call: call.clone(),
                        kind: kind.to_owned(),
                    })
                    .inc();
            }
        }
    }

    fn on_step(&self, f: &EventFields) {
        let (Some(kind), Some(outcome)) = (&f.kind, &f.outcome) else {
            return;
        };
        self.steps
            .get_or_create(&StepOutcomeLabels {
                step: kind.clone(),
                outcome: outcome.clone(),
            })
            .inc();
        if outcome == "ok"
            && let Some(ms) = f.duration_ms
        {
            self.step_seconds
                .get_or_create(&StepLabels { step: kind.clone() })
                .observe(ms as f64 / 1000.0);
        }
    }
}

/// Raise a counter to a value read elsewhere (it never goes down).
fn raise_to(c: &Counter, value: u64) {
    let current = c.get();
    if value > current {
        c.inc_by(value - current);
    }
}

/// The fields of a step or upstream event that metrics read.
#[derive(Default)]
struct EventFields {
    system: Option<String>,
    call: Option<String>,
    outcome: Option<String>,
    kind: Option<String>,
    duration_ms: Option<u64>,
    elapsed_ms: Option<u64>,
}

impl EventFields {
    fn set(&mut self, name: &str, value: String) {
        match name {
            "system" => self.system = Some(value),
            "call" => self.call = Some(value),
            "outcome" => self.outcome = Some(value),
            "kind" => self.kind = Some(value),
            _ => {}
        }
    }

    fn set_number(&mut self, name: &str, value: u64) {
        match name {
            "duration_ms" => self.duration_ms = Some(value),
            "elapsed_ms" => self.elapsed_ms = Some(value),
            _ => {}
        }
    }
}

impl Visit for EventFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.set(field.name(), value.to_owned());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.set_number(field.name(), value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.set_number(field.name(), u64::try_from(value).unwrap_or(0));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.set(field.name(), format!("{value:?}"));
    }
}

/// The `tracing` layer that turns step and upstream events into metrics. Install it with a
/// filter such as [`MetricsLayer::targets`] so it sees its events whatever the log level.
pub struct MetricsLayer {
    metrics: std::sync::Arc<Metrics>,
}

impl MetricsLayer {
    /// A layer feeding `metrics`.
    pub fn new(metrics: std::sync::Arc<Metrics>) -> Self {
        MetricsLayer { metrics }
    }

    /// The events this layer reads: the step and upstream targets, at every level.
    pub fn targets() -> tracing_subscriber::filter::Targets {
        tracing_subscriber::filter::Targets::new()
            .with_target(STEP_EVENT_TARGET, tracing::Level::TRACE)
            .with_target(UPSTREAM_EVENT_TARGET, tracing::Level::TRACE)
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for MetricsLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let target = event.metadata().target();
        if target != UPSTREAM_EVENT_TARGET && target != STEP_EVENT_TARGET {
            return;
        }
        let mut f = EventFields::default();
        event.record(&mut f);
        if target == UPSTREAM_EVENT_TARGET {
            self.metrics.on_upstream(&f);
        } else {
            self.metrics.on_step(&f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn events_become_counters_and_histograms() {
        let m = std::sync::Arc::new(Metrics::new());
        let subscriber =
            tracing_subscriber::registry().with(tracing_subscriber::Layer::with_filter(
                MetricsLayer::new(m.clone()),
                MetricsLayer::targets(),
            ));
        tracing::subscriber::with_default(subscriber, || {
            for outcome in ["ok", "ok", "redundant"] {
                tracing::debug!(target: UPSTREAM_EVENT_TARGET, system = "omie", call = "UpsertCliente", outcome, elapsed_ms = 12u64, "upstream call");
            }
            tracing::info!(target: STEP_EVENT_TARGET, step = "contract:1", kind = "contract", outcome = "ok", duration_ms = 30u64, "step done");
            tracing::warn!(target: STEP_EVENT_TARGET, step = "line:0:0", kind = "line", outcome = "retrying", "step failed");
            // Another target with the same fields is not counted.
            tracing::info!(
                system = "omie",
                call = "UpsertCliente",
                outcome = "ok",
                "unrelated"
            );
        });
        let text = m.encode();
        assert!(
            text.contains(r#"sig_upstream_calls_total{system="omie",call="UpsertCliente"} 3"#),
            "{text}"
        );
        assert!(
            text.contains(
                r#"sig_upstream_errors_total{system="omie",call="UpsertCliente",kind="redundant"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"sig_step_duration_seconds_count{step="contract"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"sig_steps_total{step="line",outcome="retrying"} 1"#),
            "{text}"
        );
    }

    #[test]
    fn store_metrics_follow_the_store() {
        let m = Metrics::new();
        let now = Utc::now();
        let counts = IntegrationCounts {
            pending: 2,
            held: 1,
            done: 5,
            failed: 1,
            cancelled: 0,
            oldest_pending: Some(now - chrono::Duration::seconds(90)),
        };
        let sp1: ServerId = "sp1".parse().unwrap();
        let loads = BTreeMap::from([(
            sp1.clone(),
            Load {
                lines: 10,
                channels: 60,
            },
        )]);
        let servers = vec![ServerInfo {
            id: sp1,
            name: "SP1".into(),
            area_codes: Default::default(),
            capacity_lines: 100,
            capacity_channels: 120,
            active: true,
        }];
        m.observe_store(&counts, &loads, &servers, now);
        // A second scrape with the same store keeps the counters where they are.
        m.observe_store(&counts, &loads, &servers, now);
        let text = m.encode();
        for line in [
            "sig_integrations_started_total 9",
            "sig_integrations_done_total 5",
            r#"sig_integrations{status="held"} 1"#,
            "sig_queue_size 2",
            "sig_oldest_pending_age_seconds 90.0",
            r#"sig_server_utilisation{server="sp1"} 0.5"#,
            r#"sig_server_load{server="sp1",resource="channels"} 60"#,
        ] {
            assert!(text.contains(line), "{line} missing in {text}");
        }
    }
}
