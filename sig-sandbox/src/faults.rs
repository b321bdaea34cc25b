//! Seeded fault injection: the spec a test or a person writes, the injector
//! that decides per call, and the responses a decided fault turns into.
//!
//! The core API is [`FaultInjector::decide`] (or its wrapper
//! [`FaultInjector::run`]): the vendor names the call and the record key it
//! is handling, which works whether the call name is in the path
//! (NextBilling) or in the JSON body (Omie's `"call"`). Vendors whose call
//! name can be read off the request line can use [`FaultInjector::wrap`]
//! instead.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How long a `timeout` fault holds a request when its spec gives no
/// `hold_ms` and the injector was not configured otherwise.
pub const DEFAULT_TIMEOUT_HOLD: Duration = Duration::from_secs(30);

/// One fault to inject: what happens, how often, and to which calls.
///
/// JSON (every field but `kind` may be left out):
///
/// ```json
/// {"kind": {"type": "http_error", "status": 503},
///  "persistence": "transient", "rate": 0.2, "seed": 7,
///  "target": {"call": "IncluirCliente", "key": null}}
/// ```
///
/// Defaults: `persistence` transient, `rate` 1.0, `seed` 0, `target` any
/// call and any key. Unknown fields are rejected, so a typo does not
/// silently widen a spec.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// What the client experiences.
    pub kind: FaultKind,
    /// Whether the fault comes and goes (transient) or sticks to the keys it
    /// selects (permanent).
    #[serde(default)]
    pub persistence: Persistence,
    /// Probability in `0..=1`. Transient: per matching call. Permanent: per
    /// key (a selected key fails every time, the others never).
    #[serde(default = "default_rate")]
    pub rate: f64,
    /// Seed of the decision sequence; the same seed and the same sequence of
    /// calls give the same decisions.
    #[serde(default)]
    pub seed: u64,
    /// Which calls and keys the spec applies to.
    #[serde(default)]
    pub target: Target,
}

fn default_rate() -> f64 {
    1.0
}

impl FaultSpec {
    /// A transient fault firing on a matching call with probability `rate`.
    ///
    /// ```
    /// use sig_sandbox::{FaultKind, FaultSpec};
    /// let spec = FaultSpec::transient(FaultKind::http_error(503), 0.1, 42).on_call("create");
    /// assert_eq!(spec.target.call.as_deref(), Some("create"));
    /// ```
    pub fn transient(kind: FaultKind, rate: f64, seed: u64) -> Self {
        Self {
            kind,
            persistence: Persistence::Transient,
            rate,
            seed,
            target: Target::default(),
        }
    }

    /// A permanent fault: every key selected by `(seed, key)` with
    /// probability `rate` fails on every call; the others never do.
    pub fn permanent(kind: FaultKind, rate: f64, seed: u64) -> Self {
        Self {
            persistence: Persistence::Permanent,
            ..Self::transient(kind, rate, seed)
        }
    }

    /// A transient fault on every matching call (rate 1).
    pub fn always(kind: FaultKind) -> Self {
        Self::transient(kind, 1.0, 0)
    }

    /// Restricts the spec to one call name.
    pub fn on_call(mut self, call: impl Into<String>) -> Self {
        self.target.call = Some(call.into());
        self
    }

    /// Restricts the spec to one record key. A permanent spec then fails
    /// that key every time, whatever its rate.
    pub fn on_key(mut self, key: impl Into<String>) -> Self {
        self.target.key = Some(key.into());
        self
    }

    /// Checks the values serde cannot: rate range, status ranges, empty
    /// targets.
    ///
    /// # Errors
    /// A [`FaultSpecError`] naming the offending field.
    pub fn validate(&self) -> Result<(), FaultSpecError> {
        if !(self.rate.is_finite() && (0.0..=1.0).contains(&self.rate)) {
            return Err(FaultSpecError::new(
                "rate",
                format!("must be within 0..=1, got {}", self.rate),
            ));
        }
        match &self.kind {
            FaultKind::HttpError { status, .. } if !(500..=599).contains(status) => {
                return Err(FaultSpecError::new(
                    "kind.status",
                    format!("http_error needs a 5xx status, got {status}"),
                ));
            }
            FaultKind::Business { status, .. } if !(200..=599).contains(status) => {
                return Err(FaultSpecError::new(
                    "kind.status",
                    format!("business needs a status within 200..=599, got {status}"),
                ));
            }
            _ => {}
        }
        if self.target.call.as_deref() == Some("") {
            return Err(FaultSpecError::new(
                "target.call",
                "must not be empty (leave it out to match any call)",
            ));
        }
        if self.target.key.as_deref() == Some("") {
            return Err(FaultSpecError::new(
                "target.key",
                "must not be empty (leave it out to match any key)",
            ));
        }
        Ok(())
    }

    /// Parses and validates one spec from JSON.
    ///
    /// # Errors
    /// A [`FaultSpecError`] whose path names the bad field (`kind.status`).
    pub fn from_json(json: &[u8]) -> Result<Self, FaultSpecError> {
        let spec: Self = parse_json(json)?;
        spec.validate()?;
        Ok(spec)
    }

    /// Parses and validates a JSON array of specs.
    ///
    /// # Errors
    /// A [`FaultSpecError`] whose path names the bad element and field
    /// (`[1].rate`).
    pub fn list_from_json(json: &[u8]) -> Result<Vec<Self>, FaultSpecError> {
        let specs: Vec<Self> = parse_json(json)?;
        for (i, spec) in specs.iter().enumerate() {
            spec.validate().map_err(|e| e.under(&format!("[{i}]")))?;
        }
        Ok(specs)
    }

    fn matches(&self, call: &str, key: Option<&str>) -> bool {
        let call_ok = self.target.call.as_deref().is_none_or(|c| c == call);
        let key_ok = match self.target.key.as_deref() {
            None => true,
            Some(wanted) => key == Some(wanted),
        };
        call_ok && key_ok
    }
}

fn parse_json<T: serde::de::DeserializeOwned>(json: &[u8]) -> Result<T, FaultSpecError> {
    let de = &mut serde_json::Deserializer::from_slice(json);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let mut path = if path == "." { String::new() } else { path };
        let mut message = e.into_inner().to_string();
        // A kind's field error: lift the field into the path (`kind.ms`).
        if let Some((field, rest)) = message
            .strip_prefix(FIELD_ERROR_PREFIX)
            .and_then(|m| m.split_once("`: "))
        {
            path = if path.is_empty() {
                field.to_owned()
            } else {
                format!("{path}.{field}")
            };
            message = rest.to_owned();
        }
        FaultSpecError { path, message }
    })
}

/// What a fault does to the client. JSON: an object tagged by `type`.
///
/// | `type` | other fields | the client sees |
/// |---|---|---|
/// | `latency` | `ms` | the normal answer, `ms` later |
/// | `http_error` | `status` (5xx, default 503), `body` (default an nginx-style HTML page) | that status with `text/html`; nothing applied |
/// | `timeout` | `hold_ms` (default: the injector's hold) | nothing until `hold_ms`, then a 504 HTML page; a shorter client timeout fires first; nothing applied |
/// | `connection_reset` | | a transport error (TCP reset, no HTTP response); nothing applied |
/// | `malformed_json` | `body` (default a truncated object) | 200 `application/json` that does not parse; nothing applied |
/// | `response_lost` | | a transport error, **after** the vendor applied the write |
/// | `business` | `status` (default 500), `body` (JSON) | that status and JSON body; `{call}` and `{key}` in its strings are replaced |
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FaultKind {
    /// Delay the normal handling by `ms` milliseconds.
    Latency {
        /// Added delay in milliseconds.
        ms: u64,
    },
    /// A 5xx with an HTML body, as a proxy or a crashed backend gives.
    HttpError {
        /// HTTP status, 500..=599 (default 503).
        status: u16,
        /// Response body (`text/html`); default an nginx-style error page.
        #[serde(skip_serializing_if = "Option::is_none")]
        body: Option<String>,
    },
    /// Hold the request, then answer 504 late.
    Timeout {
        /// How long to hold; default the injector's
        /// [`FaultInjector::with_timeout_hold`].
        #[serde(skip_serializing_if = "Option::is_none")]
        hold_ms: Option<u64>,
    },
    /// Reset the TCP connection instead of answering.
    ConnectionReset,
    /// Answer 200 with a body that is not valid JSON.
    MalformedJson {
        /// The invalid body; default a truncated JSON object.
        #[serde(skip_serializing_if = "Option::is_none")]
        body: Option<String>,
    },
    /// Apply the write, then reset the connection so the client never learns.
    ResponseLost,
    /// A vendor-shaped business fault, e.g. an Omie
    /// `{"faultstring": ..., "faultcode": ...}` with status 500.
    Business {
        /// HTTP status, 200..=599 (default 500; Omie sends business faults
        /// as 500 or 200).
        status: u16,
        /// JSON body; `{call}` and `{key}` inside strings are replaced.
        body: Value,
    },
}

/// The externally tagged twin of [`FaultKind`] that deserialization goes
/// through: serde loses the path inside internally tagged enums, so
/// `{"type": "latency", "ms": "x"}` is read as `{"latency": {"ms": "x"}}`
/// and an error can name `ms`.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum KindWire {
    Latency {
        ms: u64,
    },
    HttpError {
        #[serde(default = "default_http_error_status")]
        status: u16,
        #[serde(default)]
        body: Option<String>,
    },
    Timeout {
        #[serde(default)]
        hold_ms: Option<u64>,
    },
    ConnectionReset {},
    MalformedJson {
        #[serde(default)]
        body: Option<String>,
    },
    ResponseLost {},
    Business {
        #[serde(default = "default_business_status")]
        status: u16,
        body: Value,
    },
}

impl From<KindWire> for FaultKind {
    fn from(wire: KindWire) -> Self {
        match wire {
            KindWire::Latency { ms } => Self::Latency { ms },
            KindWire::HttpError { status, body } => Self::HttpError { status, body },
            KindWire::Timeout { hold_ms } => Self::Timeout { hold_ms },
            KindWire::ConnectionReset {} => Self::ConnectionReset,
            KindWire::MalformedJson { body } => Self::MalformedJson { body },
            KindWire::ResponseLost {} => Self::ResponseLost,
            KindWire::Business { status, body } => Self::Business { status, body },
        }
    }
}

/// Prefix of a kind's field error; [`parse_json`] moves the field into the path.
const FIELD_ERROR_PREFIX: &str = "field `";

impl<'de> Deserialize<'de> for FaultKind {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let mut fields = serde_json::Map::deserialize(deserializer)?;
        let kind = match fields.remove("type") {
            Some(Value::String(kind)) => kind,
            Some(other) => {
                return Err(D::Error::custom(format!(
                    "{FIELD_ERROR_PREFIX}type`: expected a string, got {other}"
                )));
            }
            None => return Err(D::Error::missing_field("type")),
        };
        let tagged = Value::Object(std::iter::once((kind, Value::Object(fields))).collect());
        serde_path_to_error::deserialize::<_, KindWire>(tagged)
            .map(Self::from)
            .map_err(|err| {
                let path = err.path().to_string();
                let message = err.into_inner();
                match path.split_once('.') {
                    Some((_, field)) if !field.is_empty() => {
                        D::Error::custom(format!("{FIELD_ERROR_PREFIX}{field}`: {message}"))
                    }
                    _ => D::Error::custom(message),
                }
            })
    }
}

fn default_http_error_status() -> u16 {
    503
}

fn default_business_status() -> u16 {
    500
}

impl FaultKind {
    /// The snake_case name used in JSON and in the `injected` counts.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Latency { .. } => "latency",
            Self::HttpError { .. } => "http_error",
            Self::Timeout { .. } => "timeout",
            Self::ConnectionReset => "connection_reset",
            Self::MalformedJson { .. } => "malformed_json",
            Self::ResponseLost => "response_lost",
            Self::Business { .. } => "business",
        }
    }

    /// `latency` of the given duration.
    pub fn latency(delay: Duration) -> Self {
        Self::Latency {
            ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
        }
    }

    /// `http_error` with the default HTML page.
    pub fn http_error(status: u16) -> Self {
        Self::HttpError { status, body: None }
    }

    /// `timeout` holding for the injector's default hold.
    pub fn timeout() -> Self {
        Self::Timeout { hold_ms: None }
    }

    /// `business` with the given status and JSON body.
    pub fn business(status: u16, body: Value) -> Self {
        Self::Business { status, body }
    }
}

/// Whether a fault comes and goes or sticks to the keys it selects.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Persistence {
    /// Fires on each matching call with probability `rate`.
    #[default]
    Transient,
    /// Fires on every call for the keys it selects.
    Permanent,
}

/// Which calls a spec applies to; `None` matches anything.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// The vendor's call name (`IncluirCliente`, `manageDevices`), exact.
    #[serde(default)]
    pub call: Option<String>,
    /// The record's natural key, exact. A call made without a key never
    /// matches a spec that names one.
    #[serde(default)]
    pub key: Option<String>,
}

/// A fault spec (or list) that could not be read or makes no sense.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid fault spec{}: {message}", if path.is_empty() { String::new() } else { format!(" at `{path}`") })]
pub struct FaultSpecError {
    /// JSON path of the offending field (`[0].kind.status`), empty for the
    /// document itself.
    pub path: String,
    /// What is wrong with it.
    pub message: String,
}

impl FaultSpecError {
    fn new(path: &str, message: impl Into<String>) -> Self {
        Self {
            path: path.to_owned(),
            message: message.into(),
        }
    }

    fn under(mut self, prefix: &str) -> Self {
        self.path = format!("{prefix}.{}", self.path);
        self
    }
}

/// A decided fault for one call, see [`FaultInjector::decide`].
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    kind: FaultKind,
    persistence: Persistence,
    call: String,
    key: Option<String>,
    hold: Duration,
}

/// What a vendor handler does with a decided [`Fault`].
#[derive(Debug)]
pub enum FaultAction {
    /// Sleep this long, then handle the request normally (`latency`).
    Delay(Duration),
    /// Answer with this response and do **not** apply the request
    /// (`http_error`, `timeout`, `connection_reset`, `malformed_json`,
    /// `business`).
    Respond(Response),
    /// Apply the request, throw the vendor's answer away and return
    /// [`lost_response()`] (`response_lost`).
    ApplyThenLose,
}

impl Fault {
    /// The kind that fired.
    pub fn kind(&self) -> &FaultKind {
        &self.kind
    }

    /// Whether the spec that fired was transient or permanent.
    pub fn persistence(&self) -> Persistence {
        self.persistence
    }

    /// What the handler must do; see [`FaultAction`].
    ///
    /// ```
    /// # async fn demo(faults: sig_sandbox::FaultInjector) -> axum::response::Response {
    /// use axum::response::IntoResponse;
    /// use sig_sandbox::{FaultAction, lost_response};
    /// # async fn apply() -> axum::response::Response { "ok".into_response() }
    /// match faults.decide("create", Some("k1")).map(|f| f.action()) {
    ///     None => apply().await,
    ///     Some(FaultAction::Delay(d)) => { tokio::time::sleep(d).await; apply().await }
    ///     Some(FaultAction::Respond(response)) => response,
    ///     Some(FaultAction::ApplyThenLose) => { let _ = apply().await; lost_response() }
    /// }
    /// # }
    /// ```
    pub fn action(self) -> FaultAction {
        match self.kind {
            FaultKind::Latency { ms } => FaultAction::Delay(Duration::from_millis(ms)),
            FaultKind::HttpError { status, body } => {
                FaultAction::Respond(html_error(status_code(status), body.as_deref()))
            }
            FaultKind::Timeout { .. } => FaultAction::Respond(held_response(self.hold)),
            FaultKind::ConnectionReset => FaultAction::Respond(lost_response()),
            FaultKind::MalformedJson { body } => {
                let body = body.unwrap_or_else(|| MALFORMED_JSON.to_owned());
                let mut response = (StatusCode::OK, body).into_response();
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                FaultAction::Respond(response)
            }
            FaultKind::ResponseLost => FaultAction::ApplyThenLose,
            FaultKind::Business { status, body } => {
                let body = fill_template(body, &self.call, self.key.as_deref().unwrap_or(""));
                FaultAction::Respond((status_code(status), axum::Json(body)).into_response())
            }
        }
    }
}

const MALFORMED_JSON: &str = r#"{"status": "ok", "data": {"id": 1"#;

fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn fill_template(value: Value, call: &str, key: &str) -> Value {
    match value {
        Value::String(s) => Value::String(s.replace("{call}", call).replace("{key}", key)),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| fill_template(v, call, key))
                .collect(),
        ),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, fill_template(v, call, key)))
                .collect(),
        ),
        other => other,
    }
}

/// Instruction the server's outer layer acts on (see `server.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Marker {
    /// Reset the connection instead of writing the response.
    Abort,
    /// Hold the response for this long (or until shutdown).
    Hold(Duration),
}

/// A response that makes the [`SandboxServer`](crate::SandboxServer) reset
/// the TCP connection instead of answering: the client gets a transport
/// error ("connection reset"), never an HTTP status.
///
/// Return it after applying a write to simulate `response_lost`; the
/// `connection_reset` fault returns it without applying anything. Served
/// without a `SandboxServer`, it degrades to a 502 HTML page.
pub fn lost_response() -> Response {
    let mut response = html_error(StatusCode::BAD_GATEWAY, None);
    response.extensions_mut().insert(Marker::Abort);
    response
}

fn held_response(hold: Duration) -> Response {
    let mut response = html_error(StatusCode::GATEWAY_TIMEOUT, None);
    response.extensions_mut().insert(Marker::Hold(hold));
    response
}

/// An HTML error page with the given status, as nginx or a load balancer
/// sends it; `body` replaces the default page.
pub fn html_error(status: StatusCode, body: Option<&str>) -> Response {
    let body = body.map_or_else(
        || {
            let title = format!(
                "{} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("Error")
            );
            format!(
                "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
            )
        },
        str::to_owned,
    );
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

/// The active fault specs of one sandbox and their decision state.
///
/// Thread-safe and cheap to clone (an `Arc`); the vendor's handlers, the
/// admin API and a test can hold clones of the same injector.
#[derive(Clone, Default)]
pub struct FaultInjector {
    inner: Arc<Mutex<InjectorState>>,
}

#[derive(Default)]
struct InjectorState {
    specs: Vec<ActiveSpec>,
    injected: BTreeMap<&'static str, u64>,
    timeout_hold: Option<Duration>,
}

struct ActiveSpec {
    spec: FaultSpec,
    rng: SplitMix64,
}

impl ActiveSpec {
    fn new(spec: FaultSpec) -> Self {
        let rng = SplitMix64(spec.seed);
        Self { spec, rng }
    }
}

impl fmt::Debug for FaultInjector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("FaultInjector")
            .field(
                "specs",
                &state.specs.iter().map(|a| &a.spec).collect::<Vec<_>>(),
            )
            .field("injected", &state.injected)
            .finish()
    }
}

impl FaultInjector {
    /// An injector with no specs: it never fires.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets how long a `timeout` fault without `hold_ms` holds a request
    /// (default [`DEFAULT_TIMEOUT_HOLD`]); vendors derive it from their
    /// [`Timing`](crate::Timing).
    pub fn with_timeout_hold(self, hold: Duration) -> Self {
        self.lock().timeout_hold = Some(hold);
        self
    }

    fn lock(&self) -> MutexGuard<'_, InjectorState> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Replaces every spec; decision sequences restart from their seeds.
    ///
    /// # Errors
    /// The first invalid spec, by index; nothing is changed then.
    pub fn set(&self, specs: Vec<FaultSpec>) -> Result<(), FaultSpecError> {
        for (i, spec) in specs.iter().enumerate() {
            spec.validate().map_err(|e| e.under(&format!("[{i}]")))?;
        }
        self.lock().specs = specs.into_iter().map(ActiveSpec::new).collect();
        Ok(())
    }

    /// Adds one spec after the existing ones.
    ///
    /// # Errors
    /// The spec is invalid; nothing is changed then.
    pub fn add(&self, spec: FaultSpec) -> Result<(), FaultSpecError> {
        spec.validate()?;
        self.lock().specs.push(ActiveSpec::new(spec));
        Ok(())
    }

    /// Removes every spec (the injected counts stay).
    pub fn clear(&self) {
        self.lock().specs.clear();
    }

    /// The active specs, in order.
    pub fn specs(&self) -> Vec<FaultSpec> {
        self.lock().specs.iter().map(|a| a.spec.clone()).collect()
    }

    /// How many faults fired so far, by kind name (`{"http_error": 3}`).
    pub fn injected(&self) -> BTreeMap<String, u64> {
        self.lock()
            .injected
            .iter()
            .map(|(k, v)| ((*k).to_owned(), *v))
            .collect()
    }

    /// Decides whether a fault fires for this call on this record key.
    ///
    /// Permanent specs are checked first, in order: one fires when its
    /// target matches and the key is selected (by `target.key`, or by
    /// `(seed, key)` with probability `rate`; a call without a key is
    /// selected by its call name). Then every matching transient spec draws
    /// from its own seeded sequence (so each spec's decisions depend only on
    /// the calls it matches) and the first that fires wins.
    ///
    /// ```
    /// use sig_sandbox::{FaultInjector, FaultKind, FaultSpec};
    /// let faults = FaultInjector::new();
    /// faults.add(FaultSpec::always(FaultKind::http_error(503)).on_call("create")).unwrap();
    /// assert!(faults.decide("create", Some("k1")).is_some());
    /// assert!(faults.decide("read", Some("k1")).is_none());
    /// assert_eq!(faults.injected()["http_error"], 1);
    /// ```
    pub fn decide(&self, call: &str, key: Option<&str>) -> Option<Fault> {
        let mut guard = self.lock();
        let state = &mut *guard;
        let mut chosen = state.specs.iter().position(|a| {
            let spec = &a.spec;
            spec.persistence == Persistence::Permanent
                && spec.matches(call, key)
                && (spec.target.key.is_some()
                    || permanently_selected(spec.seed, key.unwrap_or(call), spec.rate))
        });
        for (i, active) in state.specs.iter_mut().enumerate() {
            if active.spec.persistence != Persistence::Transient || !active.spec.matches(call, key)
            {
                continue;
            }
            let fires = active.rng.next_unit() < active.spec.rate;
            if fires && chosen.is_none() {
                chosen = Some(i);
            }
        }
        let spec = &state.specs[chosen?].spec;
        let hold = match spec.kind {
            FaultKind::Timeout { hold_ms: Some(ms) } => Duration::from_millis(ms),
            _ => state.timeout_hold.unwrap_or(DEFAULT_TIMEOUT_HOLD),
        };
        let fault = Fault {
            kind: spec.kind.clone(),
            persistence: spec.persistence,
            call: call.to_owned(),
            key: key.map(str::to_owned),
            hold,
        };
        *state.injected.entry(fault.kind.name()).or_default() += 1;
        drop(guard);
        tracing::debug!(call, kind = fault.kind.name(), "sandbox fault injected");
        Some(fault)
    }

    /// Decides, then carries the decision out around `apply` (the vendor's
    /// real handling): delays it, replaces it, or runs it and loses the
    /// answer. Without a fault it just runs `apply`.
    ///
    /// ```
    /// use axum::{Json, response::Response};
    /// use serde_json::{Value, json};
    /// use sig_sandbox::FaultInjector;
    ///
    /// async fn create(faults: FaultInjector, body: Value) -> Response {
    ///     let key = body["key"].as_str().unwrap_or_default().to_owned();
    ///     faults
    ///         .run("create", Some(&key.clone()), || async move {
    ///             // store the record, count the create, answer
    ///             Json(json!({"created": key}))
    ///         })
    ///         .await
    /// }
    /// ```
    pub async fn run<F, Fut, R>(&self, call: &str, key: Option<&str>, apply: F) -> Response
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = R>,
        R: IntoResponse,
    {
        match self.decide(call, key).map(Fault::action) {
            None => apply().await.into_response(),
            Some(FaultAction::Delay(delay)) => {
                tokio::time::sleep(delay).await;
                apply().await.into_response()
            }
            Some(FaultAction::Respond(response)) => response,
            Some(FaultAction::ApplyThenLose) => {
                drop(apply().await.into_response());
                lost_response()
            }
        }
    }

    /// Wraps a router so every request is first run through [`run`](Self::run)
    /// with the call name and key that `route` reads off the request (method,
    /// path, query, headers; not the body). Requests for which `route`
    /// returns `None` pass untouched.
    ///
    /// ```
    /// use axum::{Router, routing::post};
    /// use sig_sandbox::FaultInjector;
    ///
    /// let faults = FaultInjector::new();
    /// // NextBilling style: /api/<action>/<token>/<key>[/<id>]
    /// let router: Router = Router::new().route("/api/{action}/{token}/{key}", post(|| async { "{}" }));
    /// let router = faults.wrap(router, |req| {
    ///     let mut parts = req.uri().path().trim_start_matches("/api/").split('/');
    ///     let action = parts.next()?.to_owned();
    ///     Some((action, parts.nth(2).map(str::to_owned)))
    /// });
    /// # let _ = router;
    /// ```
    pub fn wrap<F>(&self, router: Router, route: F) -> Router
    where
        F: Fn(&Request) -> Option<(String, Option<String>)> + Clone + Send + Sync + 'static,
    {
        let injector = self.clone();
        router.layer(axum::middleware::from_fn(
            move |request: Request, next: Next| {
                let injector = injector.clone();
                let target = route(&request);
                async move {
                    match target {
                        None => next.run(request).await,
                        Some((call, key)) => {
                            injector
                                .run(&call, key.as_deref(), || next.run(request))
                                .await
                        }
                    }
                }
            },
        ))
    }
}

/// Whether a permanent spec selects `key`: a stable function of
/// `(seed, key)`, the same in every build and on every platform.
fn permanently_selected(seed: u64, key: &str, rate: f64) -> bool {
    unit(splitmix(seed ^ splitmix(fnv1a(key.as_bytes())))) < rate
}

/// SplitMix64: tiny, seedable, and fixed forever (unlike `rand`'s `StdRng`,
/// whose stream may change between versions), so a seed in a test or a
/// benchmark record keeps meaning the same decisions.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        unit(splitmix(self.0))
    }
}

fn splitmix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Maps 64 random bits to `[0, 1)`.
fn unit(bits: u64) -> f64 {
    // 53 bits fit an f64 mantissa exactly.
    #[allow(clippy::cast_precision_loss)]
    let value = (bits >> 11) as f64 / (1u64 << 53) as f64;
    value
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xCBF2_9CE4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn spec_json_defaults_and_round_trip() {
        let spec = FaultSpec::from_json(br#"{"kind": {"type": "timeout"}}"#).unwrap();
        assert_eq!(spec, FaultSpec::always(FaultKind::timeout()));
        let json = serde_json::to_value(&spec).unwrap();
        assert_eq!(
            json,
            json!({"kind": {"type": "timeout"}, "persistence": "transient", "rate": 1.0,
                   "seed": 0, "target": {"call": null, "key": null}})
        );
        let back: FaultSpec = serde_json::from_value(json).unwrap();
        assert_eq!(back, spec);
    }

    #[test]
    fn every_kind_parses() {
        let list = br#"[
            {"kind": {"type": "latency", "ms": 5}},
            {"kind": {"type": "http_error"}},
            {"kind": {"type": "timeout", "hold_ms": 10}},
            {"kind": {"type": "connection_reset"}},
            {"kind": {"type": "malformed_json"}},
            {"kind": {"type": "response_lost"}},
            {"kind": {"type": "business", "body": {"faultstring": "x"}}, "persistence": "permanent"}
        ]"#;
        let specs = FaultSpec::list_from_json(list).unwrap();
        let names: Vec<_> = specs.iter().map(|s| s.kind.name()).collect();
        assert_eq!(
            names,
            [
                "latency",
                "http_error",
                "timeout",
                "connection_reset",
                "malformed_json",
                "response_lost",
                "business"
            ]
        );
        assert_eq!(specs[1].kind, FaultKind::http_error(503));
        assert_eq!(specs[6].persistence, Persistence::Permanent);
    }

    #[test]
    fn errors_name_the_field() {
        let err = FaultSpec::list_from_json(br#"[{"kind": {"type": "timeout"}}, {"kind": {"type": "latency", "ms": 1}, "rate": "high"}]"#)
            .unwrap_err();
        assert_eq!(err.path, "[1].rate");
        let err =
            FaultSpec::list_from_json(br#"[{"kind": {"type": "http_error", "status": 404}}]"#)
                .unwrap_err();
        assert_eq!(err.path, "[0].kind.status");
        assert!(err.to_string().contains("5xx"), "{err}");
        let err = FaultSpec::from_json(br#"{"kind": {"type": "latency", "ms": 1}, "rat": 0.5}"#)
            .unwrap_err();
        assert!(err.message.contains("rat"), "{err}");
        let err = FaultSpec::list_from_json(br#"[{"kind": {"type": "latency", "ms": "slow"}}]"#)
            .unwrap_err();
        assert_eq!(err.path, "[0].kind.ms", "{err}");
        assert!(err.message.contains("expected u64"), "{err}");
        let err = FaultSpec::from_json(br#"{"kind": {"type": "timeout", "hold": 5}}"#).unwrap_err();
        assert_eq!(err.path, "kind.hold", "{err}");
        assert!(err.message.contains("unknown field `hold`"), "{err}");
        let err = FaultSpec::from_json(br#"{"kind": {"type": "connection_reset", "ms": 5}}"#)
            .unwrap_err();
        assert!(err.message.contains("unknown field `ms`"), "{err}");
        let err = FaultSpec::from_json(br#"{"kind": {"ms": 5}}"#).unwrap_err();
        assert!(err.message.contains("missing field `type`"), "{err}");
        let err = FaultSpec::from_json(br#"{"kind": {"type": 5}}"#).unwrap_err();
        assert_eq!(err.path, "kind.type", "{err}");
        let err = FaultSpec::from_json(br#"{"kind": {"type": "explode"}}"#).unwrap_err();
        assert_eq!(err.path, "kind", "{err:?}");
        assert!(err.message.contains("explode"), "{err}");
        let err = FaultSpec::from_json(br#"{"rate": 0.5}"#).unwrap_err();
        assert!(err.message.contains("missing field `kind`"), "{err}");
        let err =
            FaultSpec::from_json(br#"{"kind": {"type": "timeout"}, "rate": 1.5}"#).unwrap_err();
        assert_eq!(err.path, "rate");
    }

    #[test]
    fn business_template_fills_call_and_key() {
        let fault = Fault {
            kind: FaultKind::business(
                500,
                json!({"faultstring": "Cliente já cadastrado [{key}] em {call}", "n": [1, "{key}"]}),
            ),
            persistence: Persistence::Permanent,
            call: "IncluirCliente".into(),
            key: Some("abc".into()),
            hold: DEFAULT_TIMEOUT_HOLD,
        };
        let FaultAction::Respond(response) = fault.action() else {
            panic!("business must respond");
        };
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn template_walks_nested_values() {
        let filled = fill_template(
            json!({"a": ["{key}", {"b": "{call}/{key}"}], "c": 3}),
            "C",
            "K",
        );
        assert_eq!(filled, json!({"a": ["K", {"b": "C/K"}], "c": 3}));
    }

    #[test]
    fn splitmix_is_fixed() {
        // Pinned to the reference SplitMix64 stream: a change here breaks every recorded seed.
        assert_eq!(splitmix(0x9E37_79B9_7F4A_7C15), 0xE220_A839_7B1D_CDAF);
        let mut rng = SplitMix64(0);
        assert_eq!(rng.next_unit(), unit(0xE220_A839_7B1D_CDAF));
        assert_eq!(fnv1a(b"a"), 0xAF63_DC4C_8601_EC8C);
    }
}
