//! The `/_sandbox/` admin API merged into every sandbox (JSON formats in the
//! crate docs).

use std::fmt;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::{CreateCounters, FaultInjector, FaultSpec, FaultSpecError};

/// Where `/_sandbox/state` gets the vendor's records from.
///
/// Any `Fn() -> serde_json::Value + Send + Sync + 'static` is one:
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use sig_sandbox::StateSource;
/// let records = Arc::new(Mutex::new(vec!["a".to_owned()]));
/// let source = move || serde_json::json!({"customers": *records.lock().unwrap()});
/// assert_eq!(source.records(), serde_json::json!({"customers": ["a"]}));
/// ```
pub trait StateSource: Send + Sync + 'static {
    /// The vendor's records as JSON, in whatever shape suits the vendor.
    fn records(&self) -> Value;
}

impl<F> StateSource for F
where
    F: Fn() -> Value + Send + Sync + 'static,
{
    fn records(&self) -> Value {
        self()
    }
}

#[derive(Clone)]
pub(crate) struct Admin {
    pub(crate) name: Arc<str>,
    pub(crate) faults: FaultInjector,
    pub(crate) counters: CreateCounters,
    pub(crate) records: Option<Arc<dyn StateSource>>,
}

impl fmt::Debug for Admin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Admin")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

pub(crate) fn router(admin: Admin) -> Router {
    Router::new()
        .route("/_sandbox/state", get(state))
        .route(
            "/_sandbox/faults",
            get(list_faults)
                .put(replace_faults)
                .post(add_fault)
                .delete(clear_faults),
        )
        .with_state(admin)
}

async fn state(State(admin): State<Admin>) -> Json<Value> {
    let records = admin.records.as_ref().map_or(Value::Null, |s| s.records());
    Json(json!({
        "sandbox": &*admin.name,
        "counters": admin.counters.snapshot(),
        "records": records,
        "faults": admin.faults.specs(),
        "injected": admin.faults.injected(),
    }))
}

async fn list_faults(State(admin): State<Admin>) -> Json<Vec<FaultSpec>> {
    Json(admin.faults.specs())
}

async fn replace_faults(State(admin): State<Admin>, body: Bytes) -> Response {
    let result = FaultSpec::list_from_json(&body).and_then(|specs| admin.faults.set(specs));
    answer(&admin, result)
}

async fn add_fault(State(admin): State<Admin>, body: Bytes) -> Response {
    let result = FaultSpec::from_json(&body).and_then(|spec| admin.faults.add(spec));
    answer(&admin, result)
}

async fn clear_faults(State(admin): State<Admin>) -> Json<Vec<FaultSpec>> {
    admin.faults.clear();
    Json(admin.faults.specs())
}

fn answer(admin: &Admin, result: Result<(), FaultSpecError>) -> Response {
    match result {
        Ok(()) => Json(admin.faults.specs()).into_response(),
        Err(err) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": err.to_string(), "path": err.path})),
        )
            .into_response(),
    }
}
