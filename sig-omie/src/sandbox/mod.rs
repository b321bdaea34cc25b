//! An in-memory Omie on loopback (feature `sandbox`), on the shared `sig-sandbox` plumbing.
//!
//! It speaks Omie's JSON envelope on the same paths (`geral/clientes/`, `servicos/contrato/`,
//! `servicos/contratofat/`, `servicos/servico/`; without the trailing slash it answers 301, as
//! reported `[observed]`) and implements every call the client has. Behaviour:
//!
//! - **Credentials**: anything but the sandbox's key and secret gets the documented
//!   `SOAP-ENV:Server` fault "A chave de acesso não está preenchida ou não é válida.".
//! - **Uniqueness**: customer integration code (`Client-102` with `nCod`) and CPF/CNPJ (with
//!   `Id` and integration code), as Omie `[observed]`; contract integration code `[inferred]`.
//!   A second contract for a customer under another code is accepted, as Omie does.
//! - **Limits** (windows scaled by [`Timing`]): 240 requests per window per app key + method
//!   and 960 per app key → HTTP 429 with `Retry-After` `[documented]`; more than 4 calls of a
//!   method in flight → REDUNDANT [inferred: "concurrent calls are treated as redundant" is
//!   observed]; a second concurrent write of a method → `Client-1880` `[observed text]`; the
//!   same Consultar key twice within 60 s → REDUNDANT with the wait [documented rule, observed
//!   text]; 10 failed requests (faults and 429s; not empty pages or not-found look-ups
//!   `[inferred]`) per app key + method within 60 s → `MISUSE_API_PROCESS` for 1800 s on
//!   every call of the key, HTTP 425 `[observed second-hand]`. Texts keep Omie's nominal
//!   seconds; the client scales them with [`LimitsConfig::scaled`].
//! - **Faults**: seeded injection through [`FaultInjector`], keyed by call name and the
//!   record's integration code (`codigo_cliente_integracao`, `cCodIntCtr`).
//! - **State**: `/_sandbox/state` counts successful creates per integration code under the
//!   kinds `customer` and `contract`, and summarises the records.
//!
//! Not-found texts, the AssociarCodIntCliente refusal, the required-field and unknown-method
//! texts are `[inferred]`.

mod store;

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use secrecy::SecretString;
use serde_json::{Value, json};
use sig_sandbox::{ConcurrencyGate, FailureBlocker, WindowLimiter};
pub use sig_sandbox::{
    CreateCounters, FaultInjector, FaultKind, FaultSpec, SandboxError, SandboxServer, Timing,
};

use crate::client::OmieClientBuilder;
use crate::limits::{LimitsConfig, RetryConfig};
use crate::wire::Service;
use crate::wire::clientes::ClienteCadastro;
use crate::wire::contratos::ContratoCadastro;
use store::{Effect, SandboxFault, Store, single_param};

/// The app key the sandbox accepts by default.
pub const SANDBOX_APP_KEY: &str = "sandbox-app-key";
/// The app secret the sandbox accepts by default.
pub const SANDBOX_APP_SECRET: &str = "sandbox-app-secret";

/// How a sandbox behaves. Numbers are Omie's; windows are nominal and scaled by `timing`.
#[derive(Clone)]
pub struct OmieSandboxConfig {
    /// Window scale (`Timing::scaled(0.01)`: a 60 s window lasts 600 ms).
    pub timing: Timing,
    /// Requests per window per app key + method (240).
    pub method_requests: usize,
    /// Requests per window per app key (960).
    pub overall_requests: usize,
    /// The rate window, nominal (60 s).
    pub window: Duration,
    /// Calls of one method in flight per app key (4).
    pub method_in_flight: usize,
    /// Writes of one method in flight per app key (1: a second concurrent inclusion or
    /// alteration is refused with `Client-1880`).
    pub method_writes: usize,
    /// The Consultar redundancy window, nominal (60 s).
    pub redundant_window: Duration,
    /// Failures per app key + method that trigger a misuse block (10).
    pub misuse_threshold: usize,
    /// The window those failures are counted in, nominal (60 s).
    pub misuse_window: Duration,
    /// The block, nominal (1800 s).
    pub misuse_block: Duration,
    /// How long a `timeout` fault holds the answer, nominal (30 s).
    pub timeout_hold: Duration,
    /// The key it accepts.
    pub app_key: String,
    /// The secret it accepts.
    pub app_secret: String,
    /// Customers present from the start (integration codes `seed-0`…; not counted as creates).
    pub seed_customers: usize,
    /// Faults active from the start.
    pub faults: Vec<FaultSpec>,
    /// Where to bind (default `127.0.0.1:0`).
    pub bind: Option<SocketAddr>,
}

impl fmt::Debug for OmieSandboxConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OmieSandboxConfig")
            .field("timing", &self.timing)
            .field("method_requests", &self.method_requests)
            .field("overall_requests", &self.overall_requests)
            .field("window", &self.window)
            .field("seed_customers", &self.seed_customers)
            .finish_non_exhaustive()
    }
}

impl Default for OmieSandboxConfig {
    fn default() -> Self {
        OmieSandboxConfig {
            timing: Timing::real(),
            method_requests: 240,
            overall_requests: 960,
            window: Duration::from_secs(60),
            method_in_flight: 4,
            method_writes: 1,
            redundant_window: Duration::from_secs(60),
            misuse_threshold: 10,
            misuse_window: Duration::from_secs(60),
            misuse_block: Duration::from_secs(1800),
            timeout_hold: Duration::from_secs(30),
            app_key: SANDBOX_APP_KEY.into(),
            app_secret: SANDBOX_APP_SECRET.into(),
            seed_customers: 0,
            faults: Vec::new(),
            bind: None,
        }
    }
}

impl OmieSandboxConfig {
    /// Limits off (benchmarks): no rate window, in-flight bound, redundancy refusal or misuse
    /// block gets in the way; uniqueness, faults and counters work as always.
    pub fn unlimited() -> Self {
        OmieSandboxConfig {
            method_requests: usize::MAX / 2,
            overall_requests: usize::MAX / 2,
            method_in_flight: usize::MAX / 2,
            method_writes: usize::MAX / 2,
            redundant_window: Duration::ZERO,
            misuse_threshold: usize::MAX / 2,
            ..OmieSandboxConfig::default()
        }
    }

    /// Omie's numbers with every window scaled by `scale`.
    pub fn scaled(scale: f64) -> Self {
        OmieSandboxConfig {
            timing: Timing::scaled(scale),
            ..OmieSandboxConfig::default()
        }
    }
}

/// Limit outcomes the sandbox answered, for tests and benchmarks.
#[derive(Debug, Default)]
struct Stats {
    rate_limited: AtomicU64,
    redundant: AtomicU64,
    busy: AtomicU64,
    misuse_blocks: AtomicU64,
    blocked_calls: AtomicU64,
    requests: AtomicU64,
}

/// A snapshot of the limit outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SandboxStats {
    /// Requests received on the Omie paths.
    pub requests: u64,
    /// 429 answers.
    pub rate_limited: u64,
    /// REDUNDANT answers.
    pub redundant: u64,
    /// `Client-1880` answers.
    pub busy: u64,
    /// Misuse blocks opened.
    pub misuse_blocks: u64,
    /// Calls refused inside a block.
    pub blocked_calls: u64,
}

#[derive(Clone)]
struct App {
    config: Arc<OmieSandboxConfig>,
    store: Arc<Mutex<Store>>,
    faults: FaultInjector,
    counters: CreateCounters,
    per_method: WindowLimiter,
    overall: WindowLimiter,
    redundant: WindowLimiter,
    in_flight: ConcurrencyGate,
    writes: ConcurrencyGate,
    misuse: FailureBlocker,
    stats: Arc<Stats>,
}

/// A running Omie sandbox.
pub struct OmieSandbox {
    server: SandboxServer,
    app: App,
}

impl fmt::Debug for OmieSandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OmieSandbox")
            .field("base_url", &self.server.base_url())
            .finish_non_exhaustive()
    }
}

fn lock(m: &Mutex<Store>) -> std::sync::MutexGuard<'_, Store> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl OmieSandbox {
    /// Start a sandbox on loopback.
    ///
    /// # Errors
    /// The address cannot be bound, or a fault spec is invalid (reported as a bind error
    /// would be: the sandbox does not start).
    pub async fn start(config: OmieSandboxConfig) -> Result<OmieSandbox, SandboxError> {
        let t = config.timing;
        let faults = FaultInjector::new().with_timeout_hold(t.apply(config.timeout_hold));
        for spec in &config.faults {
            if let Err(e) = faults.add(spec.clone()) {
                tracing::error!(error = %e, "omie sandbox: invalid fault spec ignored");
            }
        }
        let mut store = Store::new();
        store.seed_customers(config.seed_customers);
        let app = App {
            per_method: WindowLimiter::sliding(config.method_requests, t.apply(config.window)),
            overall: WindowLimiter::sliding(config.overall_requests, t.apply(config.window)),
            redundant: WindowLimiter::fixed(1, t.apply(config.redundant_window)),
            in_flight: ConcurrencyGate::new(config.method_in_flight),
            writes: ConcurrencyGate::new(config.method_writes),
            misuse: FailureBlocker::new(
                config.misuse_threshold,
                t.apply(config.misuse_window),
                t.apply(config.misuse_block),
            ),
            store: Arc::new(Mutex::new(store)),
            faults: faults.clone(),
            counters: CreateCounters::new(),
            stats: Arc::default(),
            config: Arc::new(config.clone()),
        };
        let mut router = Router::new();
        for service in [
            Service::Clientes,
            Service::Contrato,
            Service::ContratoFat,
            Service::Servico,
        ] {
            let path = format!("/{}", service.path());
            let bare = path.trim_end_matches('/').to_owned();
            router = router
                .route(
                    &path,
                    post(move |State(app): State<App>, body: Bytes| handle(app, service, body)),
                )
                .route(&bare, post(move || redirect(path.clone())));
        }
        let router = router.with_state(app.clone());
        let summary_store = Arc::clone(&app.store);
        let stats = Arc::clone(&app.stats);
        let mut builder = SandboxServer::builder("omie", router)
            .faults(faults)
            .counters(app.counters.clone())
            .records(move || {
                let mut v = lock(&summary_store).summary();
                v["stats"] = serde_json::to_value(snapshot(&stats)).unwrap_or(Value::Null);
                v
            });
        if let Some(addr) = config.bind {
            builder = builder.bind(addr);
        }
        let server = builder.start().await?;
        Ok(OmieSandbox { server, app })
    }

    /// `http://127.0.0.1:PORT/`.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// The announce line (`{"sandbox": "omie", "base_url": ..., "port": ...}`); never
    /// carries the credentials.
    pub fn announce(&self) -> Value {
        self.server.announce()
    }

    /// The app key it accepts.
    pub fn app_key(&self) -> SecretString {
        SecretString::from(self.app.config.app_key.clone())
    }

    /// The app secret it accepts.
    pub fn app_secret(&self) -> SecretString {
        SecretString::from(self.app.config.app_secret.clone())
    }

    /// A client builder pointed at this sandbox: its credentials, its base URL, limits and
    /// retry delays scaled like its windows, and an attempt timeout shorter than its
    /// `timeout` fault hold.
    pub fn client_builder(&self) -> OmieClientBuilder {
        let scale = self.app.config.timing.scale();
        let hold = self.app.config.timing.apply(self.app.config.timeout_hold);
        crate::OmieClient::builder(self.app_key(), self.app_secret())
            .account_id("sandbox")
            .base_url(self.base_url())
            .limits(LimitsConfig::scaled(scale))
            .retry(RetryConfig::scaled(scale))
            .attempt_timeout((hold / 2).max(Duration::from_millis(200)))
            .deadline(Duration::from_secs(60).max(hold * 4))
    }

    /// The fault injector (`/_sandbox/faults` edits the same one).
    pub fn faults(&self) -> &FaultInjector {
        self.server.faults()
    }

    /// Successful creates per kind (`customer`, `contract`) and integration code.
    pub fn counters(&self) -> &CreateCounters {
        self.server.counters()
    }

    /// HTTP requests received so far.
    pub fn requests(&self) -> u64 {
        self.server.requests()
    }

    /// Limit outcomes so far.
    pub fn stats(&self) -> SandboxStats {
        snapshot(&self.app.stats)
    }

    /// Customers held.
    pub fn customer_count(&self) -> usize {
        lock(&self.app.store).customer_count()
    }

    /// Contracts held.
    pub fn contract_count(&self) -> usize {
        lock(&self.app.store).contract_count()
    }

    /// The customer with this integration code.
    pub fn customer(&self, integration_code: &str) -> Option<ClienteCadastro> {
        lock(&self.app.store)
            .customer_by_code(integration_code)
            .cloned()
    }

    /// Contracts carrying this integration code (more than one would be a duplicate).
    pub fn contracts_with_code(&self, integration_code: &str) -> Vec<ContratoCadastro> {
        lock(&self.app.store).contracts_with_code(integration_code)
    }

    /// The contracts of a customer.
    pub fn contracts_of(&self, customer_omie_id: i64) -> Vec<ContratoCadastro> {
        lock(&self.app.store).contracts_of(customer_omie_id)
    }

    /// Stop serving.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

fn snapshot(s: &Stats) -> SandboxStats {
    SandboxStats {
        requests: s.requests.load(Ordering::Relaxed),
        rate_limited: s.rate_limited.load(Ordering::Relaxed),
        redundant: s.redundant.load(Ordering::Relaxed),
        busy: s.busy.load(Ordering::Relaxed),
        misuse_blocks: s.misuse_blocks.load(Ordering::Relaxed),
        blocked_calls: s.blocked_calls.load(Ordering::Relaxed),
    }
}

async fn redirect(path: String) -> Response {
    let mut r = StatusCode::MOVED_PERMANENTLY.into_response();
    if let Ok(v) = HeaderValue::from_str(&path) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

fn fault_response(f: &SandboxFault) -> Response {
    let status = StatusCode::from_u16(f.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, axum::Json(f.body())).into_response()
}

fn is_write(call: &str) -> bool {
    !(call.starts_with("Consultar") || call.starts_with("Listar"))
}

fn natural_key(param: &Value) -> Option<String> {
    let s = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_owned);
    s(&param["codigo_cliente_integracao"])
        .or_else(|| s(&param["cabecalho"]["cCodIntCtr"]))
        .or_else(|| s(&param["cCodIntCtr"]))
        .or_else(|| param["codigo_cliente_omie"].as_i64().map(|i| i.to_string()))
        .or_else(|| param["nCodCtr"].as_i64().map(|i| i.to_string()))
}

fn secret_matches(v: &Value, want: &str) -> bool {
    match v {
        Value::String(s) => s == want,
        Value::Number(n) => n.to_string() == want,
        _ => false,
    }
}

async fn handle(app: App, service: Service, body: Bytes) -> Response {
    app.stats.requests.fetch_add(1, Ordering::Relaxed);
    let t = app.config.timing;
    let Ok(env) = serde_json::from_slice::<Value>(&body) else {
        return fault_response(&SandboxFault::client(
            "SOAP-ENV:Client-1",
            "ERROR: A requisição não contém um JSON válido!",
        ));
    };
    let call = env["call"].as_str().unwrap_or_default().to_owned();
    let key_ok = secret_matches(&env["app_key"], &app.config.app_key);
    let secret_ok = secret_matches(&env["app_secret"], &app.config.app_secret);
    let app_key = if key_ok {
        app.config.app_key.clone()
    } else {
        "?".to_owned()
    };
    let method_key = format!("{app_key}/{call}");

    if let Err(wait) = app.misuse.check(&app_key) {
        app.stats.blocked_calls.fetch_add(1, Ordering::Relaxed);
        return misuse_response(t.nominal_secs(wait.0));
    }
    // A failed request counts toward the misuse block of its key + method.
    let fail = |app: &App| -> Option<Response> {
        match app.misuse.record_failure(&method_key) {
            Ok(()) => None,
            Err(wait) => {
                app.stats.misuse_blocks.fetch_add(1, Ordering::Relaxed);
                // The block covers every call of the app key.
                let _ = (0..app.config.misuse_threshold)
                    .try_for_each(|_| app.misuse.record_failure(&app_key).map(|_| ()));
                Some(misuse_response(t.nominal_secs(wait.0)))
            }
        }
    };
    if !(key_ok && secret_ok) {
        let f = SandboxFault {
            status: 500,
            code: "SOAP-ENV:Server",
            message: "A chave de acesso não está preenchida ou não é válida.".into(),
            counts_as_failure: true,
        };
        return fail(&app).unwrap_or_else(|| fault_response(&f));
    }
    if let Err(wait) = app
        .overall
        .try_acquire(&app_key)
        .and_then(|()| app.per_method.try_acquire(&method_key))
    {
        app.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
        if let Some(blocked) = fail(&app) {
            return blocked;
        }
        let secs = t.nominal_secs(wait.0).max(1);
        let mut r = (StatusCode::TOO_MANY_REQUESTS, "Too Many Requests").into_response();
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return r;
    }
    let param = match single_param(env.get("param")) {
        Ok(p) => p,
        Err(f) => return fail(&app).unwrap_or_else(|| fault_response(&f)),
    };
    let write = is_write(&call);
    let Some(_slot) = app.in_flight.try_enter(&method_key) else {
        app.stats.redundant.fetch_add(1, Ordering::Relaxed);
        let f = SandboxFault::client(
            "SOAP-ENV:Client-6",
            "Consumo redundante detectado. Aguarde 1 segundos para tentar novamente (REDUNDANT)",
        );
        return fail(&app).unwrap_or_else(|| fault_response(&f));
    };
    let _write_slot = if write {
        let Some(g) = app.writes.try_enter(&method_key) else {
            app.stats.busy.fetch_add(1, Ordering::Relaxed);
            let f = SandboxFault::client(
                "SOAP-ENV:Client-1880",
                "ERROR: Já existe uma requisição desse método sendo executada. Tente novamente em 1 segundos.",
            );
            return fail(&app).unwrap_or_else(|| fault_response(&f));
        };
        Some(g)
    } else {
        None
    };
    let key = natural_key(&param);
    if call.starts_with("Consultar") {
        let rkey = format!("{method_key}/{param}");
        if let Err(wait) = app.redundant.try_acquire(&rkey) {
            app.stats.redundant.fetch_add(1, Ordering::Relaxed);
            let f = SandboxFault::client(
                "SOAP-ENV:Client-6",
                format!(
                    "Consumo redundante detectado. Aguarde {} segundos para tentar novamente (REDUNDANT)",
                    t.nominal_secs(wait.0).max(1)
                ),
            );
            return fail(&app).unwrap_or_else(|| fault_response(&f));
        }
    }
    let app2 = app.clone();
    let call2 = call.clone();
    app.faults
        .clone()
        .run(&call, key.as_deref(), move || async move {
            let mut fx = Effect::default();
            let outcome = {
                let mut store = lock(&app2.store);
                match service {
                    Service::Clientes => store.clientes(&call2, param, &mut fx),
                    Service::Contrato => store.contratos(&call2, param, &mut fx),
                    Service::ContratoFat => store.contratofat(&call2, param),
                    Service::Servico => store.servicos(&call2, param),
                }
            };
            match outcome {
                Ok(v) => {
                    if let Some((kind, natural)) = fx.created {
                        app2.counters.record(kind, &natural);
                    }
                    (StatusCode::OK, axum::Json(v)).into_response()
                }
                Err(f) if f.counts_as_failure => fail(&app2).unwrap_or_else(|| fault_response(&f)),
                Err(f) => fault_response(&f),
            }
        })
        .await
}

fn misuse_response(secs: u64) -> Response {
    let body = json!({
        "faultstring": format!("ERROR: API bloqueada por consumo indevido. Tente novamente em {secs} segundos."),
        "faultcode": "MISUSE_API_PROCESS",
    });
    let status = StatusCode::from_u16(425).unwrap_or(StatusCode::TOO_MANY_REQUESTS);
    (status, axum::Json(body)).into_response()
}
