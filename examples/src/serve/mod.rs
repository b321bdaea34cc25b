//! `sig serve`: SIG as a service — a thin axum adapter around the pipeline.
//!
//! - `POST /webhooks/docsales/{account}/{token}` (and the other forms of
//!   [`crate::webhook_http`]): the notification is answered once it is stored (or recorded as
//!   ignored); a store failure answers 503 so DocSales delivers it again.
//! - Workers (`[serve] workers`), each claiming due integrations and running them
//!   (`concurrency` at once), then polling every `poll_interval_ms` when idle.
//! - Reconciliation every `reconcile_interval_s` (and once at start): each DocSales account's
//!   approved proposals are listed through the proposal-source port and each one the store does
//!   not know is taken in — intake is idempotent by source key, so this only adds what a lost
//!   notification missed.
//! - `GET /healthz` (the process answers), `GET /readyz` ([`health`]), `GET /metrics`
//!   ([`metrics`]).
//! - Graceful shutdown ([`Service::shutdown`]): stop accepting connections and finish the
//!   requests in flight, drain the pipeline (running integrations stop after their current
//!   step is journaled; nothing new starts; leases are given back), and if the bounded time
//!   runs out abandon what is still running and give its leases back. Nothing acknowledged is
//!   lost: an acknowledged notification is already in the store, and a step abandoned mid-call
//!   is repeated by the next process, which finds the upstream record by SIG's key instead of
//!   creating a second one.

pub mod health;
pub mod metrics;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use serde_json::json;
use sig_core::config::{Config, ServeConfig};
use sig_core::ids::AccountId;
use sig_core::pipeline::{ServerInfo, Settings};
use sig_omie::BreakerState;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::CliError;
use crate::runtime::{Runtime, breaker_key};
use crate::webhook_http::{self, WebhookState};
use health::ReadinessChecks;
use metrics::Metrics;

/// How the service runs (from `[serve]`, with command-line overrides).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeOptions {
    /// Listen address.
    pub listen: SocketAddr,
    /// Pipeline workers.
    pub workers: usize,
    /// Integrations each worker runs at once.
    pub concurrency: usize,
    /// Idle wait between looks for due work.
    pub poll_interval: Duration,
    /// Reconciliation period (`None`: off).
    pub reconcile_interval: Option<Duration>,
    /// Bound on a shutdown.
    pub shutdown_timeout: Duration,
    /// Timeout of each readiness probe.
    pub health_timeout: Duration,
}

impl ServeOptions {
    /// From the `[serve]` section.
    pub fn from_config(c: &ServeConfig) -> Self {
        ServeOptions {
            listen: c.listen,
            workers: c.workers.max(1),
            concurrency: c.concurrency.max(1),
            poll_interval: Duration::from_millis(c.poll_interval_ms.max(1)),
            reconcile_interval: (c.reconcile_interval_s > 0)
                .then(|| Duration::from_secs(c.reconcile_interval_s)),
            shutdown_timeout: Duration::from_secs(c.shutdown_timeout_s.max(1)),
            health_timeout: Duration::from_millis(c.health_timeout_ms.max(1)),
        }
    }

    /// The pipeline settings these options imply.
    pub fn settings(&self) -> Settings {
        Settings {
            concurrency: self.concurrency,
            health_timeout: self.health_timeout,
            ..Settings::default()
        }
    }
}

/// What the HTTP handlers share.
struct AppState {
    runtime: Arc<Runtime>,
    metrics: Arc<Metrics>,
    readiness: ReadinessChecks,
    servers: Vec<ServerInfo>,
}

/// A running service.
pub struct Service {
    addr: SocketAddr,
    runtime: Arc<Runtime>,
    stop: watch::Sender<bool>,
    http: JoinHandle<()>,
    tasks: Vec<JoinHandle<()>>,
    shutdown_timeout: Duration,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// How a shutdown went.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ShutdownReport {
    /// How long it took, ms.
    pub elapsed_ms: u64,
    /// Whether everything stopped within the bounded time (else running steps were
    /// abandoned and their leases given back).
    pub in_time: bool,
    /// Leases given back for abandoned runs.
    pub released: usize,
}

impl Service {
    /// Bind the listen address and start the endpoints, the workers and reconciliation.
    pub async fn start(
        config: &Config,
        runtime: Runtime,
        metrics: Arc<Metrics>,
        options: &ServeOptions,
    ) -> Result<Service, CliError> {
        let listener = tokio::net::TcpListener::bind(options.listen)
            .await
            .map_err(|e| CliError::Failed(format!("cannot listen on {}: {e}", options.listen)))?;
        let addr = listener
            .local_addr()
            .map_err(|e| CliError::Failed(format!("cannot read the bound address: {e}")))?;
        let runtime = Arc::new(runtime);
        let readiness = ReadinessChecks::new(
            runtime.store.clone(),
            runtime.servers.clone(),
            runtime.omie.clone(),
            runtime.sources.clone(),
            options.health_timeout,
            Duration::from_secs(5),
        );
        let app = Arc::new(AppState {
            servers: runtime.servers.iter().map(|s| s.info.clone()).collect(),
            runtime: runtime.clone(),
            metrics: metrics.clone(),
            readiness,
        });
        let webhooks = webhook_http::router(Arc::new(WebhookState::new(
            config,
            runtime.pipeline.clone(),
        )));
        let router = Router::new()
            .route("/healthz", get(healthz))
            .route("/readyz", get(readyz))
            .route("/metrics", get(metrics_text))
            .with_state(app)
            .merge(webhooks)
            .layer(axum::middleware::from_fn_with_state(metrics, track));

        let (stop, stop_rx) = watch::channel(false);
        let mut http_stop = stop_rx.clone();
        let http = tokio::spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = http_stop.wait_for(|s| *s).await;
                })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "the HTTP server stopped");
            }
        });

        let mut tasks = Vec::new();
        for n in 0..options.workers {
            tasks.push(tokio::spawn(
                worker(runtime.clone(), options.poll_interval, stop_rx.clone())
                    .instrument(tracing::info_span!("worker", n)),
            ));
        }
        if let Some(every) = options.reconcile_interval {
            tasks.push(tokio::spawn(
                reconciler(runtime.clone(), every, stop_rx.clone())
                    .instrument(tracing::info_span!("reconciler")),
            ));
        }
        tasks.push(tokio::spawn(limits_keeper(runtime.clone(), stop_rx)));
        tracing::info!(
            %addr,
            workers = options.workers,
            concurrency = options.concurrency,
            reconcile_interval_s = options.reconcile_interval.map(|d| d.as_secs()),
            "sig serve started"
        );
        Ok(Service {
            addr,
            runtime,
            stop,
            http,
            tasks,
            shutdown_timeout: options.shutdown_timeout,
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The runtime (store, pipeline, clients).
    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// Stop gracefully within the configured bound (see the module docs).
    pub async fn shutdown(self) -> ShutdownReport {
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + self.shutdown_timeout;
        tracing::info!(
            timeout_ms = self.shutdown_timeout.as_millis() as u64,
            in_flight = self.runtime.pipeline.in_flight().len(),
            "shutting down: no new connections, draining the pipeline"
        );
        let _ = self.stop.send(true);
        self.runtime.pipeline.drain();
        let mut handles: Vec<JoinHandle<()>> = self.tasks;
        handles.push(self.http);
        let in_time =
            tokio::time::timeout_at(deadline, futures::future::join_all(handles.iter_mut()))
                .await
                .is_ok();
        let mut released = 0;
        if !in_time {
            let abandoned = self.runtime.pipeline.in_flight();
            tracing::warn!(
                abandoned = abandoned.len(),
                "shutdown time is up: abandoning the steps still running"
            );
            for h in &handles {
                h.abort();
            }
            // Let the aborted tasks be dropped before their leases are given back (their
            // outputs may have been taken already, so they are watched, not awaited).
            let settle = tokio::time::Instant::now() + Duration::from_secs(2);
            while handles.iter().any(|h| !h.is_finished()) && tokio::time::Instant::now() < settle {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            match self.runtime.pipeline.release_claims().await {
                Ok(n) => released = n,
                Err(e) => {
                    tracing::error!(error = %e, "could not give the leases back; they expire on their own")
                }
            }
        }
        if let Err(e) = self.runtime.persist_limits().await {
            tracing::error!(error = %e, "could not save the Omie limit state");
        }
        let report = ShutdownReport {
            elapsed_ms: started.elapsed().as_millis() as u64,
            in_time,
            released,
        };
        tracing::info!(
            elapsed_ms = report.elapsed_ms,
            in_time,
            released,
            "sig serve stopped"
        );
        report
    }
}

/// Claim and run due integrations until told to stop.
async fn worker(rt: Arc<Runtime>, poll: Duration, mut stop: watch::Receiver<bool>) {
    loop {
        if *stop.borrow() {
            break;
        }
        let idle = match rt.pipeline.run_due().await {
            Ok(n) => n == 0,
            Err(e) => {
                tracing::error!(error = %e, "worker: the store failed; pausing");
                true
            }
        };
        if idle {
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = stop.changed() => {}
            }
        }
    }
}

/// What one reconciliation pass did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Approved proposals listed.
    pub listed: usize,
    /// Integrations created for proposals the store did not know.
    pub created: usize,
    /// Accounts whose listing failed (retried next pass).
    pub failed_accounts: usize,
}

/// One reconciliation pass ([`sig_core::pipeline::Pipeline::reconcile`]): every company's
/// approved proposals listed, the ones the store does not know taken in.
pub async fn reconcile_once(rt: &Runtime) -> ReconcileReport {
    match rt.pipeline.reconcile().await {
        Ok(r) => {
            for f in &r.failures {
                tracing::warn!(company = %f.company, error = %f.reason, "reconciliation: listing failed; next pass retries");
            }
            if r.created > 0 {
                tracing::info!(
                    created = r.created,
                    "reconciliation took in missed proposals"
                );
            }
            ReconcileReport {
                listed: r.seen,
                created: r.created,
                failed_accounts: r.failures.len(),
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "reconciliation: the store failed");
            ReconcileReport::default()
        }
    }
}

async fn reconciler(rt: Arc<Runtime>, every: Duration, mut stop: watch::Receiver<bool>) {
    loop {
        let r = reconcile_once(&rt).await;
        tracing::debug!(
            listed = r.listed,
            created = r.created,
            failed_accounts = r.failed_accounts,
            "reconciliation pass"
        );
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            break;
        }
    }
}

/// Save each Omie account's breaker state when it changes, so a restart keeps a misuse block.
async fn limits_keeper(rt: Arc<Runtime>, mut stop: watch::Receiver<bool>) {
    let mut saved: BTreeMap<AccountId, Option<BreakerState>> = BTreeMap::new();
    loop {
        for (id, erp) in &rt.omie {
            let now = erp.client().breaker_state();
            if saved.get(id) != Some(&now) {
                let value = serde_json::to_value(&now).unwrap_or_default();
                match rt.store.set_limit_state(&breaker_key(id), &value).await {
                    Ok(()) => {
                        saved.insert(id.clone(), now);
                    }
                    Err(e) => {
                        tracing::error!(account = %id, error = %e, "could not save the Omie breaker state")
                    }
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            break;
        }
    }
}

async fn healthz() -> Response {
    axum::Json(json!({"status": "ok"})).into_response()
}

async fn readyz(State(app): State<Arc<AppState>>) -> Response {
    let r = app
        .readiness
        .check(app.runtime.pipeline.is_draining())
        .await;
    let status = if r.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(r)).into_response()
}

async fn metrics_text(State(app): State<Arc<AppState>>) -> Response {
    let store = &app.runtime.store;
    let (counts, loads) = match futures::try_join!(store.counts(), store.loads()) {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(error = %e, "metrics: the store failed");
            return (StatusCode::SERVICE_UNAVAILABLE, "store unavailable\n").into_response();
        }
    };
    app.metrics
        .observe_store(&counts, &loads, &app.servers, chrono::Utc::now());
    let now_ms = chrono::Utc::now().timestamp_millis();
    for (id, erp) in &app.runtime.omie {
        let blocked = erp
            .client()
            .breaker_state()
            .is_some_and(|b| b.is_open_at(now_ms));
        app.metrics.observe_omie_block(id.as_str(), blocked);
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.encode(),
    )
        .into_response()
}

/// Count and log each request by its route template (a webhook path carries its secret token,
/// so the path itself is never recorded).
async fn track(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    // `/webhooks/docsales/:account/:token`: braces in label values trip simple parsers.
    let route = req.extensions().get::<MatchedPath>().map_or_else(
        || "unmatched".to_owned(),
        |p| p.as_str().replace('{', ":").replace('}', ""),
    );
    let method = req.method().clone();
    let started = Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16();
    metrics.observe_http(&route, status);
    tracing::debug!(
        method = %method,
        route = %route,
        status,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "http request"
    );
    response
}
