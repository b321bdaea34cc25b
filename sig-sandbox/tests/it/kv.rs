//! A tiny example sandbox built on the crate: a key-value "create record"
//! API whose natural key is `key`, plus a few routes that enforce limits.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use sig_sandbox::{
    ConcurrencyGate, CreateCounters, FailureBlocker, FaultInjector, RetryAfter, SandboxServer,
    Timing, WindowLimiter,
};

/// Scale used by the tests: 60 s nominal → 300 ms.
pub const SCALE: f64 = 0.005;

#[derive(Clone)]
pub struct Kv {
    pub records: Arc<Mutex<BTreeMap<String, Value>>>,
    pub faults: FaultInjector,
    pub counters: CreateCounters,
    timing: Timing,
    per_window: WindowLimiter,
    one_at_a_time: ConcurrencyGate,
    misuse: FailureBlocker,
}

impl Kv {
    pub fn new(timing: Timing) -> Self {
        Self {
            records: Arc::default(),
            faults: FaultInjector::new().with_timeout_hold(timing.secs(30)),
            counters: CreateCounters::new(),
            timing,
            // "3 requests per 200 s per key" (1 s here: room for a slow machine).
            per_window: WindowLimiter::fixed(3, timing.secs(200)),
            one_at_a_time: ConcurrencyGate::new(1),
            // "3 failures within 200 s block the key for 4 minutes".
            misuse: FailureBlocker::new(3, timing.secs(200), timing.secs(240)),
        }
    }

    pub fn router(&self) -> Router {
        let api =
            Router::new()
                .route("/records", post(create))
                .route("/records/{key}", get(read))
                .route("/limited/{key}", post(limited))
                .route("/slow/{key}", post(slow))
                .route("/login", post(login))
                .route(
                    "/whoami",
                    get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move {
                        peer.ip().to_string()
                    }),
                )
                .with_state(self.clone());
        // A path-routed part, NextBilling style: /api/<action>/<key>.
        let path_routed: Router = Router::new().route(
            "/api/{action}/{key}",
            get(|Path((action, key)): Path<(String, String)>| async move {
                Json(json!({"action": action, "key": key}))
            }),
        );
        let path_routed = self.faults.wrap(path_routed, |req| {
            let mut parts = req.uri().path().strip_prefix("/api/")?.split('/');
            let action = parts.next()?.to_owned();
            Some((action, parts.next().map(str::to_owned)))
        });
        api.merge(path_routed)
    }

    pub async fn start() -> (SandboxServer, Self) {
        let kv = Self::new(Timing::scaled(SCALE));
        let records = Arc::clone(&kv.records);
        let server = SandboxServer::builder("kv", kv.router())
            .faults(kv.faults.clone())
            .counters(kv.counters.clone())
            .records(move || json!(*records.lock().unwrap()))
            .start()
            .await
            .expect("sandbox starts");
        (server, kv)
    }
}

async fn create(State(kv): State<Kv>, Json(body): Json<Value>) -> Response {
    let Some(key) = body["key"].as_str().map(str::to_owned) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "key missing"})),
        )
            .into_response();
    };
    let faults = kv.faults.clone();
    faults
        .run("create", Some(&key.clone()), || async move {
            let mut records = kv.records.lock().unwrap();
            if records.contains_key(&key) {
                return (
                    StatusCode::CONFLICT,
                    Json(json!({"error": "duplicate key"})),
                )
                    .into_response();
            }
            records.insert(key.clone(), body["value"].clone());
            kv.counters.record("record", &key);
            (
                StatusCode::CREATED,
                Json(json!({"key": key, "created": true})),
            )
                .into_response()
        })
        .await
}

async fn read(State(kv): State<Kv>, Path(key): Path<String>) -> Response {
    let faults = kv.faults.clone();
    faults
        .run("read", Some(&key.clone()), || async move {
            match kv.records.lock().unwrap().get(&key) {
                Some(value) => Json(json!({"key": key, "value": value})).into_response(),
                None => {
                    (StatusCode::NOT_FOUND, Json(json!({"error": "not found"}))).into_response()
                }
            }
        })
        .await
}

fn too_many(RetryAfter(wait): RetryAfter) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        "retry-after-ms",
        HeaderValue::from_str(&wait.as_millis().to_string()).unwrap(),
    );
    (
        StatusCode::TOO_MANY_REQUESTS,
        headers,
        Json(json!({"error": "too many requests"})),
    )
        .into_response()
}

async fn limited(State(kv): State<Kv>, Path(key): Path<String>) -> Response {
    match kv.per_window.try_acquire(&key) {
        Ok(()) => Json(json!({"ok": true})).into_response(),
        Err(wait) => too_many(wait),
    }
}

async fn slow(State(kv): State<Kv>, Path(key): Path<String>) -> Response {
    let Some(_guard) = kv.one_at_a_time.try_enter(&key) else {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            Json(json!({"error": "busy"})),
        )
            .into_response();
    };
    tokio::time::sleep(Duration::from_millis(600)).await;
    Json(json!({"ok": true})).into_response()
}

/// Omie-style misuse block: `{"app_key": "...", "ok": bool}`.
async fn login(State(kv): State<Kv>, Json(body): Json<Value>) -> Response {
    let app_key = body["app_key"].as_str().unwrap_or_default().to_owned();
    let blocked = |RetryAfter(wait): RetryAfter| {
        let secs = kv.timing.nominal_secs(wait);
        (
            StatusCode::from_u16(425).unwrap(),
            Json(json!({
                "faultstring": format!("ERROR: API bloqueada por consumo indevido. Tente novamente em {secs} segundos."),
                "faultcode": "MISUSE_API_PROCESS",
            })),
        )
            .into_response()
    };
    if let Err(wait) = kv.misuse.check(&app_key) {
        return blocked(wait);
    }
    if body["ok"].as_bool() == Some(true) {
        return Json(json!({"ok": true})).into_response();
    }
    match kv.misuse.record_failure(&app_key) {
        Ok(()) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"faultstring": "A chave de acesso não é válida.", "faultcode": "SOAP-ENV:Server"})),
        )
            .into_response(),
        Err(wait) => blocked(wait),
    }
}

/// A client that never uses a proxy from the environment.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client builds")
}

pub fn client_with_timeout(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(timeout)
        .build()
        .expect("client builds")
}

pub async fn create_record(
    client: &reqwest::Client,
    server: &SandboxServer,
    key: &str,
) -> Result<reqwest::Response, reqwest::Error> {
    client
        .post(format!("{}records", server.base_url()))
        .json(&json!({"key": key, "value": {"n": 1}}))
        .send()
        .await
}

pub async fn state(client: &reqwest::Client, server: &SandboxServer) -> Value {
    client
        .get(format!("{}_sandbox/state", server.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Sets the sandbox's faults through the admin API.
pub async fn put_faults(client: &reqwest::Client, server: &SandboxServer, specs: Value) {
    let response = client
        .put(format!("{}_sandbox/faults", server.base_url()))
        .json(&specs)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
}
