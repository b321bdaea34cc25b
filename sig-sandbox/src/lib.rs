//! Plumbing shared by SIG's vendor sandboxes (Omie, NextBilling, DocSales,
//! fiscal).
//!
//! A vendor sandbox is an in-process HTTP server on loopback that speaks the
//! vendor's wire format, keeps state, enforces the documented limits with
//! shortenable windows, injects seeded faults and counts successful creates
//! per natural key. The vendor crate writes the axum [`Router`](axum::Router)
//! and the business logic; this crate gives it:
//!
//! - [`SandboxServer`]: serves the router on `127.0.0.1:0`, announces the
//!   port, adds the `/_sandbox/` admin API, shuts down gracefully, and can
//!   reset a connection on demand (for `connection_reset` and
//!   `response_lost`).
//! - [`FaultInjector`] / [`FaultSpec`]: seeded transient and permanent
//!   faults, decided per call and key with [`FaultInjector::decide`] or
//!   applied around the handler with [`FaultInjector::run`].
//! - [`Timing`], [`WindowLimiter`], [`ConcurrencyGate`], [`FailureBlocker`]:
//!   documented limits with scalable windows.
//! - [`CreateCounters`]: successful creates per (kind, natural key).
//!
//! # A vendor sandbox in a few lines
//!
//! ```
//! use std::collections::HashMap;
//! use std::sync::{Arc, Mutex};
//! use axum::{Json, Router, extract::State, http::StatusCode, response::{IntoResponse, Response}, routing::post};
//! use serde_json::{Value, json};
//! use sig_sandbox::{CreateCounters, FaultInjector, SandboxServer, Timing, WindowLimiter};
//!
//! #[derive(Clone)]
//! struct App {
//!     records: Arc<Mutex<HashMap<String, Value>>>,
//!     faults: FaultInjector,
//!     counters: CreateCounters,
//!     per_method: WindowLimiter,
//! }
//!
//! async fn create(State(app): State<App>, Json(body): Json<Value>) -> Response {
//!     let key = body["key"].as_str().unwrap_or_default().to_owned();
//!     if let Err(wait) = app.per_method.try_acquire("create") {
//!         return (StatusCode::TOO_MANY_REQUESTS, wait.to_string()).into_response();
//!     }
//!     let app2 = app.clone();
//!     app.faults
//!         .run("create", Some(&key.clone()), || async move {
//!             let mut records = app2.records.lock().unwrap();
//!             if records.contains_key(&key) {
//!                 return (StatusCode::CONFLICT, Json(json!({"error": "duplicate"}))).into_response();
//!             }
//!             records.insert(key.clone(), body);
//!             app2.counters.record("record", &key); // only after the create really happened
//!             Json(json!({"created": key})).into_response()
//!         })
//!         .await
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let timing = Timing::scaled(0.01); // tests: a 60 s window lasts 600 ms
//! let app = App {
//!     records: Arc::default(),
//!     faults: FaultInjector::new().with_timeout_hold(timing.secs(30)),
//!     counters: CreateCounters::new(),
//!     per_method: WindowLimiter::sliding(240, timing.secs(60)),
//! };
//! let records = Arc::clone(&app.records);
//! let router = Router::new().route("/records", post(create)).with_state(app.clone());
//! let server = SandboxServer::builder("kv", router)
//!     .faults(app.faults.clone())
//!     .counters(app.counters.clone())
//!     .records(move || json!(*records.lock().unwrap()))
//!     .start()
//!     .await?;
//! println!("{}", server.announce());
//! server.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # Admin API (`/_sandbox/`)
//!
//! | request | answer |
//! |---|---|
//! | `GET /_sandbox/state` | `{"sandbox": "omie", "counters": {...}, "records": <vendor JSON>, "faults": [spec...], "injected": {"http_error": 3}}` |
//! | `GET /_sandbox/faults` | the active specs, `[spec...]` |
//! | `PUT /_sandbox/faults` | body `[spec...]` replaces them all; answers the new list |
//! | `POST /_sandbox/faults` | body `spec` adds one after the others; answers the new list |
//! | `DELETE /_sandbox/faults` | removes all; answers `[]` |
//!
//! `counters` is `{kind: {natural_key: successful_creates}}`, e.g.
//! `{"customer": {"0190…": 1}}`. `injected` counts fired faults by kind since
//! the sandbox started (clearing specs does not reset it). A body that does
//! not parse or validate changes nothing and gets a 400 naming the field:
//!
//! ```json
//! {"error": "invalid fault spec at `[1].kind.ms`: invalid type: string \"slow\", expected u64 at line 1 column 80",
//!  "path": "[1].kind.ms"}
//! ```
//!
//! # Fault spec JSON
//!
//! ```json
//! {"kind": {"type": "business", "status": 500,
//!           "body": {"faultstring": "ERROR: Cliente já cadastrado para o Código de Integração [{key}] !",
//!                    "faultcode": "SOAP-ENV:Client-102"}},
//!  "persistence": "permanent", "rate": 0.1, "seed": 7,
//!  "target": {"call": "IncluirCliente", "key": null}}
//! ```
//!
//! Only `kind` is required: `persistence` defaults to `"transient"`, `rate`
//! to 1, `seed` to 0, `target` to any call and key. Unknown fields are
//! rejected.
//!
//! - **transient**: each call matching `target` fires with probability
//!   `rate`, drawn from a SplitMix64 sequence seeded with `seed` (the same
//!   seed and sequence of matching calls give the same decisions, in every
//!   build).
//! - **permanent**: fires on *every* call for the keys it selects, never for
//!   the others: the key named by `target.key`, or else each key for which a
//!   fixed hash of `(seed, key)` falls under `rate` (a call made without a
//!   key is selected by its call name). Permanent specs are checked before
//!   transient ones.
//!
//! `kind` is tagged by `type`; what the client sees:
//!
//! | `type` | fields | the client sees | applied? |
//! |---|---|---|---|
//! | `latency` | `ms` | the normal answer, `ms` later | yes |
//! | `http_error` | `status` (5xx, default 503), `body` (default an nginx-style HTML page) | that status, `text/html` | no |
//! | `timeout` | `hold_ms` (default [`FaultInjector::with_timeout_hold`], 30 s) | nothing for `hold_ms`, then `504` HTML; a shorter client timeout fires first | no |
//! | `connection_reset` | | a transport error: the connection is reset (TCP RST), no HTTP response | no |
//! | `malformed_json` | `body` (default a truncated object) | `200`, `application/json`, a body that does not parse | no |
//! | `response_lost` | | a transport error like `connection_reset`, **after** the vendor applied the write | yes |
//! | `business` | `status` (default 500), `body` (JSON; `{call}` and `{key}` in its strings are filled in) | that status and body | no |
//!
//! Resets are real: the server's listener hands out connections that, once
//! marked by [`lost_response`], fail their next write and close with
//! `SO_LINGER` 0, so the kernel sends a RST (reqwest reports a request error
//! whose source is "connection reset by peer" or "connection closed before
//! message completed", depending on timing). Nothing of the response is
//! sent, not even the status line.
//!
//! # Limits and waits
//!
//! Every window and wait is a documented duration passed through the
//! sandbox's [`Timing`], so tests shorten them all at once. How Omie's
//! published limits map onto the primitives (keys are strings the vendor
//! builds, e.g. `format!("{app_key}/{method}")`):
//!
//! | limit | primitive |
//! |---|---|
//! | 240 requests/min per app key + method | [`WindowLimiter::sliding`]`(240, timing.secs(60))` |
//! | 4 concurrent requests per app key + method (1 for some) | [`ConcurrencyGate::new`]`(4)` (a second gate with 1) |
//! | same id queried twice within 60 s is "redundant" | [`WindowLimiter::fixed`]`(1, timing.secs(60))` keyed by method + id |
//! | 10 failures → blocked 30 min (HTTP 425) | [`FailureBlocker::new`]`(10, window, timing.secs(1800))` |
//!
//! Each refusal is a [`RetryAfter`]; [`Timing::nominal_secs`] turns it back
//! into the vendor's own number for messages ("Aguarde 43 segundos").
//!
//! Sandboxes never log request URLs (NextBilling puts credentials in the
//! path); a vendor's own handlers should not either.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(missing_debug_implementations)]

mod admin;
mod counters;
mod faults;
mod limits;
mod server;

pub use admin::StateSource;
pub use counters::CreateCounters;
pub use faults::{
    DEFAULT_TIMEOUT_HOLD, Fault, FaultAction, FaultInjector, FaultKind, FaultSpec, FaultSpecError,
    Persistence, Target, html_error, lost_response,
};
pub use limits::{ConcurrencyGate, FailureBlocker, GateGuard, RetryAfter, Timing, WindowLimiter};
pub use server::{SandboxBuilder, SandboxError, SandboxServer};
