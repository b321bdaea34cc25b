//! A NextBilling sandbox: several fake instances at once, one loopback port each, each with
//! its own token, key and state (feature `sandbox`).
//!
//! Each instance speaks the wire format the client uses: `/api/<action>/TOKEN/KEY[/<id>]`,
//! the `{error, reason}` envelope, ids as strings in lists. It enforces what NextBilling
//! documents and nothing more:
//!
//! - `403` on a wrong token or key; `404` on an unknown action or method; `413` on a body
//!   over 128 kB; `400` on a body that is not a JSON object; `422` on a missing parameter;
//!   `429` past a per-instance limit of simultaneous requests;
//! - **no uniqueness** NextBilling does not document: a second customer with the same
//!   `id_origem` or CPF, a second line with the same username, a second DID with the same
//!   number are all accepted (`[inferred]`: the real system presumably does too), so tests see
//!   duplicates instead of the sandbox hiding them.
//!
//! The `[inferred]` reads the client relies on are served in the shape it expects:
//! `GET listCustomers?id_origem=…` and `GET listDIDs/…/<customer_id>`.
//!
//! Faults come from [`sig_sandbox`]: each instance has its own [`FaultInjector`], asked per
//! call with the action as the call name and the record's SIG key (the `id_origem`, the line
//! username, the DID description, or the path id for reads) as the key; `response_lost`
//! applies the write and then resets the connection. `/_sandbox/state` shows each instance's
//! records and its successful creates per SIG id under the kinds `customer`, `line` and `did`
//! (the SIG id hyphenated when the field holds one, else the raw field value).
//!
//! ```
//! use sig_next::sandbox::NextSandbox;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let sandbox = NextSandbox::builder()
//!     .instance("next-a")
//!     .instance("next-b")
//!     .instance("next-c")
//!     .max_concurrent(16)
//!     .start()
//!     .await?;
//! let a = sandbox.instance("next-a").expect("started");
//! let client = a.client_builder("next-a".parse()?).build()?;
//! assert!(client.probe(std::time::Duration::from_secs(1)).await.healthy);
//! for line in sandbox.announce() {
//!     println!("{line}"); // base URL and port; never the token or key
//! }
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use rand::Rng;
use rand::distr::Alphanumeric;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value, json};
use sig_core::ids::ServerId;
use sig_sandbox::{
    ConcurrencyGate, CreateCounters, FaultInjector, FaultSpec, FaultSpecError, SandboxError,
    SandboxServer,
};
use url::Url;

use crate::client::{NextClient, NextClientBuilder};
use crate::error::{Action, MAX_BODY_BYTES};
use crate::keys;

/// Default limit of simultaneous requests per instance (beyond it: 429). `[inferred]`: the
/// real limit is open question 5.
pub const DEFAULT_MAX_CONCURRENT: usize = 8;

/// Configures a [`NextSandbox`]; see [`NextSandbox::builder`].
pub struct NextSandboxBuilder {
    instances: Vec<(String, Option<(SecretString, SecretString)>)>,
    max_concurrent: usize,
    timeout_hold: Duration,
    answer_ids: bool,
}

impl fmt::Debug for NextSandboxBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NextSandboxBuilder")
            .field(
                "instances",
                &self.instances.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("max_concurrent", &self.max_concurrent)
            .field("timeout_hold", &self.timeout_hold)
            .field("answer_ids", &self.answer_ids)
            .finish()
    }
}

impl NextSandboxBuilder {
    /// Adds an instance called `name` with a fresh random token and key.
    pub fn instance(mut self, name: impl Into<String>) -> Self {
        self.instances.push((name.into(), None));
        self
    }

    /// Adds an instance called `name` that accepts this token and key (e.g. read from the
    /// same secrets `sig.toml` points at, so they never need printing).
    pub fn instance_with_credentials(
        mut self,
        name: impl Into<String>,
        api_token: SecretString,
        api_key: SecretString,
    ) -> Self {
        self.instances
            .push((name.into(), Some((api_token, api_key))));
        self
    }

    /// Simultaneous requests each instance serves before answering 429 (default
    /// [`DEFAULT_MAX_CONCURRENT`]).
    pub fn max_concurrent(mut self, max: usize) -> Self {
        self.max_concurrent = max.max(1);
        self
    }

    /// How long a `timeout` fault without `hold_ms` holds a request (default 30 s).
    pub fn timeout_hold(mut self, hold: Duration) -> Self {
        self.timeout_hold = hold;
        self
    }

    /// Whether writes answer the new record's id (default `true`). With `false` they answer
    /// only `{"error":0,"reason":"OK"}`, the other shape open question 1 allows, so the
    /// client has to find what it created by SIG id.
    pub fn answer_ids(mut self, yes: bool) -> Self {
        self.answer_ids = yes;
        self
    }

    /// Starts every instance on its own loopback port.
    ///
    /// # Errors
    /// A port cannot be bound.
    pub async fn start(self) -> Result<NextSandbox, SandboxError> {
        let mut instances = Vec::with_capacity(self.instances.len());
        for (name, credentials) in self.instances {
            let (token, key) = credentials.unwrap_or_else(|| (random_secret(), random_secret()));
            let faults = FaultInjector::new().with_timeout_hold(self.timeout_hold);
            let counters = CreateCounters::new();
            let app = App {
                inner: Arc::new(AppInner {
                    token,
                    key,
                    db: Mutex::default(),
                    gate: ConcurrencyGate::new(self.max_concurrent),
                    faults: faults.clone(),
                    counters: counters.clone(),
                    answer_ids: self.answer_ids,
                }),
            };
            let router = Router::new()
                .route("/api/{action}/{token}/{key}", any(handle))
                .route("/api/{action}/{token}/{key}/{id}", any(handle))
                .with_state(app.clone());
            let records_app = app.clone();
            let server = SandboxServer::builder(format!("nextbilling/{name}"), router)
                .faults(faults)
                .counters(counters)
                .records(move || records_app.db().snapshot())
                .start()
                .await?;
            tracing::info!(instance = %name, port = server.port(), "nextbilling sandbox instance started");
            instances.push(NextInstance { name, server, app });
        }
        Ok(NextSandbox { instances })
    }
}

fn random_secret() -> SecretString {
    let s: String = rand::rng()
        .sample_iter(Alphanumeric)
        .take(32)
        .map(char::from)
        .collect();
    SecretString::from(s)
}

/// Several running NextBilling sandbox instances.
#[derive(Debug)]
pub struct NextSandbox {
    instances: Vec<NextInstance>,
}

impl NextSandbox {
    /// Starts configuring a sandbox; add instances with
    /// [`instance`](NextSandboxBuilder::instance).
    pub fn builder() -> NextSandboxBuilder {
        NextSandboxBuilder {
            instances: Vec::new(),
            max_concurrent: DEFAULT_MAX_CONCURRENT,
            timeout_hold: sig_sandbox::DEFAULT_TIMEOUT_HOLD,
            answer_ids: true,
        }
    }

    /// Every instance, in the order added.
    pub fn instances(&self) -> &[NextInstance] {
        &self.instances
    }

    /// The instance called `name`.
    pub fn instance(&self, name: &str) -> Option<&NextInstance> {
        self.instances.iter().find(|i| i.name == name)
    }

    /// Replaces the fault specs of every instance.
    ///
    /// # Errors
    /// An invalid spec; nothing is changed then.
    pub fn set_faults(&self, specs: &[FaultSpec]) -> Result<(), FaultSpecError> {
        for spec in specs {
            spec.validate()?;
        }
        for i in &self.instances {
            i.faults().set(specs.to_vec())?;
        }
        Ok(())
    }

    /// One announce line per instance (`{"sandbox", "base_url", "port"}`), without
    /// credentials.
    pub fn announce(&self) -> Vec<Value> {
        self.instances.iter().map(|i| i.server.announce()).collect()
    }

    /// Stops every instance.
    pub async fn shutdown(self) {
        for i in self.instances {
            i.server.shutdown().await;
        }
    }
}

/// One running instance: its port, credentials, faults, counters and records.
pub struct NextInstance {
    name: String,
    server: SandboxServer,
    app: App,
}

impl fmt::Debug for NextInstance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NextInstance")
            .field("name", &self.name)
            .field("addr", &self.server.addr())
            .finish_non_exhaustive()
    }
}

impl NextInstance {
    /// The instance's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `http://127.0.0.1:PORT/`.
    pub fn base_url(&self) -> Url {
        Url::parse(&self.server.base_url()).expect("the sandbox server gives a valid base URL")
    }

    /// The API token it accepts.
    pub fn api_token(&self) -> SecretString {
        self.app.inner.token.clone()
    }

    /// The API key it accepts.
    pub fn api_key(&self) -> SecretString {
        self.app.inner.key.clone()
    }

    /// A client builder pointed at this instance, as server `server_id` named after the
    /// instance.
    pub fn client_builder(&self, server_id: ServerId) -> NextClientBuilder {
        NextClient::builder(
            server_id,
            self.name.clone(),
            self.base_url(),
            self.api_token(),
            self.api_key(),
        )
    }

    /// Its fault injector (the one `/_sandbox/faults` edits).
    pub fn faults(&self) -> &FaultInjector {
        self.server.faults()
    }

    /// Its create counters: successful creates per kind (`customer`, `line`, `did`) and SIG
    /// id.
    pub fn counters(&self) -> &CreateCounters {
        self.server.counters()
    }

    /// HTTP requests it received so far.
    pub fn requests(&self) -> u64 {
        self.server.requests()
    }

    /// Its records, as `/_sandbox/state` shows them.
    pub fn records(&self) -> Value {
        self.app.db().snapshot()
    }

    /// Its announce line.
    pub fn announce(&self) -> Value {
        self.server.announce()
    }
}

// ---------------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------------

#[derive(Clone)]
struct App {
    inner: Arc<AppInner>,
}

struct AppInner {
    token: SecretString,
    key: SecretString,
    db: Mutex<Db>,
    gate: ConcurrencyGate,
    faults: FaultInjector,
    counters: CreateCounters,
    answer_ids: bool,
}

impl App {
    fn db(&self) -> MutexGuard<'_, Db> {
        self.inner.db.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Default)]
struct Db {
    customers: BTreeMap<i64, Map<String, Value>>,
    devices: BTreeMap<i64, Map<String, Value>>,
    dids: BTreeMap<i64, Map<String, Value>>,
    /// Lookup indexes, so a sandbox with many records answers lists in time proportional to
    /// the answer (a real database's indexes). They may hold stale entries after an update;
    /// every lookup re-checks the record itself.
    customers_by_origin: HashMap<String, BTreeSet<i64>>,
    devices_by_customer: HashMap<i64, BTreeSet<i64>>,
    dids_by_customer: HashMap<i64, BTreeSet<i64>>,
}

impl Db {
    fn snapshot(&self) -> Value {
        let rows = |m: &BTreeMap<i64, Map<String, Value>>| {
            m.values().cloned().map(Value::Object).collect::<Vec<_>>()
        };
        json!({
            "customers": rows(&self.customers),
            "devices": rows(&self.devices),
            "dids": rows(&self.dids),
        })
    }
}

fn next_id(m: &BTreeMap<i64, Map<String, Value>>) -> i64 {
    m.keys().next_back().map_or(1, |k| k + 1)
}

// ---------------------------------------------------------------------------------------------
// Handling
// ---------------------------------------------------------------------------------------------

fn envelope(status: StatusCode, reason: &str) -> Response {
    (status, axum::Json(json!({"error": 1, "reason": reason}))).into_response()
}

fn ok(mut fields: Map<String, Value>) -> Response {
    fields.insert("error".into(), json!(0));
    fields.insert("reason".into(), json!("OK"));
    axum::Json(Value::Object(fields)).into_response()
}

/// An integer field sent as a number or a string.
fn int(body: &Map<String, Value>, field: &str) -> Option<i64> {
    match body.get(field)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn text(body: &Map<String, Value>, field: &str) -> Option<String> {
    match body.get(field)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn missing(field: &str) -> Response {
    envelope(
        StatusCode::UNPROCESSABLE_ENTITY,
        &format!("Parâmetro obrigatório ausente: {field}"),
    )
}

/// What `/_sandbox/state` counts a create under: the SIG id when the field holds one.
fn count_key(value: &str, parse: impl Fn(&str) -> Option<String>) -> String {
    parse(value).unwrap_or_else(|| value.to_owned())
}

async fn handle(
    State(app): State<App>,
    method: Method,
    Path(params): Path<HashMap<String, String>>,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let param = |k: &str| params.get(k).map(String::as_str).unwrap_or_default();
    // Compare without logging: the path holds the credentials.
    if param("token") != app.inner.token.expose_secret()
        || param("key") != app.inner.key.expose_secret()
    {
        return envelope(StatusCode::FORBIDDEN, "Token inválido");
    }
    let Some(_slot) = app.inner.gate.try_enter("api") else {
        return envelope(
            StatusCode::TOO_MANY_REQUESTS,
            "Muitas requisições simultâneas",
        );
    };
    if body.len() > MAX_BODY_BYTES {
        return envelope(StatusCode::PAYLOAD_TOO_LARGE, "Requisição maior que 128 kB");
    }
    let Some(action) = Action::from_name(param("action")).filter(|a| a.method() == method) else {
        return envelope(StatusCode::NOT_FOUND, "Opção desconhecida");
    };
    let path_id = match params.get("id") {
        None => None,
        Some(id) => match id.parse::<i64>() {
            Ok(id) => Some(id),
            Err(_) => return envelope(StatusCode::BAD_REQUEST, "Requisição incompleta"),
        },
    };
    let fields = if action.is_write() {
        match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(m)) => m,
            _ => return envelope(StatusCode::BAD_REQUEST, "Requisição incompleta"),
        }
    } else {
        Map::new()
    };
    let key = match action {
        Action::ManageCustomers => text(&fields, "id_origem"),
        Action::ManageDevices => text(&fields, "username"),
        Action::ManageDid => text(&fields, "description"),
        Action::StatusCustomer => int(&fields, "id").map(|i| i.to_string()),
        Action::ListCustomers => query.get("id_origem").cloned(),
        Action::ListDevices | Action::ListDids => path_id.map(|i| i.to_string()),
    };
    let faults = app.inner.faults.clone();
    faults
        .run(action.as_str(), key.as_deref(), || async move {
            apply(&app, action, path_id, &query, fields)
        })
        .await
}

fn apply(
    app: &App,
    action: Action,
    path_id: Option<i64>,
    query: &HashMap<String, String>,
    fields: Map<String, Value>,
) -> Response {
    match action {
        Action::ManageCustomers => manage_customer(app, fields),
        Action::StatusCustomer => status_customer(app, &fields),
        Action::ManageDevices => {
            if path_id != Some(1) {
                return envelope(StatusCode::NOT_FOUND, "Opção desconhecida");
            }
            manage_device(app, fields)
        }
        Action::ListDevices => list_devices(app, path_id),
        Action::ManageDid => manage_did(app, fields),
        Action::ListCustomers => list_customers(app, query.get("id_origem")),
        Action::ListDids => list_dids(app, path_id),
    }
}

fn created(app: &App, field: &str, id: i64) -> Response {
    let mut answer = Map::new();
    if app.inner.answer_ids {
        answer.insert(field.into(), json!(id.to_string()));
    }
    ok(answer)
}

fn manage_customer(app: &App, fields: Map<String, Value>) -> Response {
    let mut db = app.db();
    if let Some(id) = int(&fields, "id") {
        let Some(row) = db.customers.get_mut(&id) else {
            return envelope(StatusCode::OK, "Cliente não encontrado");
        };
        let origin = text(&fields, "id_origem");
        for (k, v) in fields {
            if k != "id" {
                row.insert(k, v);
            }
        }
        if let Some(origin) = origin {
            db.customers_by_origin.entry(origin).or_default().insert(id);
        }
        return ok(Map::new());
    }
    for required in ["razao_social", "cpf"] {
        if text(&fields, required).is_none() {
            return missing(required);
        }
    }
    let id = next_id(&db.customers);
    let origin = text(&fields, "id_origem");
    let mut row = fields;
    row.insert("id".into(), json!(id));
    row.entry("status").or_insert(json!(1));
    db.customers.insert(id, row);
    if let Some(origin) = &origin {
        db.customers_by_origin
            .entry(origin.clone())
            .or_default()
            .insert(id);
    }
    drop(db);
    if let Some(origin) = origin {
        let key = count_key(&origin, |v| {
            keys::parse_customer_origin(v).map(|c| c.to_string())
        });
        app.inner.counters.record("customer", &key);
    }
    created(app, "id", id)
}

fn status_customer(app: &App, fields: &Map<String, Value>) -> Response {
    let Some(id) = int(fields, "id") else {
        return missing("id");
    };
    let Some(status) = int(fields, "status").filter(|s| *s == 0 || *s == 1) else {
        return missing("status");
    };
    let mut db = app.db();
    let Some(row) = db.customers.get_mut(&id) else {
        return envelope(StatusCode::OK, "Cliente não encontrado");
    };
    let old = int(row, "status").unwrap_or(1);
    row.insert("status".into(), json!(status));
    let name = text(row, "razao_social").unwrap_or_default();
    let mut answer = Map::new();
    answer.insert("customer_id".into(), json!(id.to_string()));
    answer.insert("customer_name".into(), json!(name));
    answer.insert("old_status".into(), json!(old.to_string()));
    answer.insert("new_status".into(), json!(status));
    ok(answer)
}

fn manage_device(app: &App, fields: Map<String, Value>) -> Response {
    let Some(customer_id) = int(&fields, "customer_id") else {
        return missing("customer_id");
    };
    let Some(username) = text(&fields, "username") else {
        return missing("username");
    };
    if text(&fields, "password").is_none() && int(&fields, "auth").unwrap_or(0) == 0 {
        return missing("password");
    }
    let mut db = app.db();
    if !db.customers.contains_key(&customer_id) {
        return envelope(StatusCode::OK, "Cliente não encontrado");
    }
    let id = next_id(&db.devices);
    let mut row = Map::new();
    row.insert("id".into(), json!(id.to_string()));
    row.insert("id_cliente".into(), json!(customer_id.to_string()));
    row.insert(
        "id_plano".into(),
        json!(int(&fields, "rate_id").unwrap_or(0).to_string()),
    );
    row.insert("tipo_tar".into(), json!("0"));
    row.insert(
        "ddd_local".into(),
        json!(text(&fields, "ddd_local").unwrap_or_default()),
    );
    row.insert(
        "tech".into(),
        json!(text(&fields, "tech").unwrap_or_else(|| "SIP".into())),
    );
    row.insert("username".into(), json!(username.clone()));
    row.insert("domain".into(), json!("dynamic"));
    row.insert("port".into(), json!("5060"));
    row.insert("nat".into(), json!("auto_force_rport"));
    row.insert("saldo".into(), json!("0.00000"));
    row.insert(
        "simultaneas".into(),
        json!(int(&fields, "simultaneas").unwrap_or(1).to_string()),
    );
    // The password is accepted and not kept: `/_sandbox/state` must not show it.
    db.devices.insert(id, row);
    db.devices_by_customer
        .entry(customer_id)
        .or_default()
        .insert(id);
    drop(db);
    let key = count_key(&username, |v| {
        keys::parse_line_username(v).map(|l| l.to_string())
    });
    app.inner.counters.record("line", &key);
    created(app, "id", id)
}

fn list_devices(app: &App, customer_id: Option<i64>) -> Response {
    let db = app.db();
    let mut customers = Vec::new();
    let wanted: Vec<(&i64, &Map<String, Value>)> = match customer_id {
        Some(want) => db.customers.get_key_value(&want).into_iter().collect(),
        None => db.customers.iter().collect(),
    };
    for (cid, customer) in wanted {
        let devices: Vec<Value> = db
            .devices_by_customer
            .get(cid)
            .into_iter()
            .flatten()
            .filter_map(|id| db.devices.get(id))
            .filter(|d| int(d, "id_cliente") == Some(*cid))
            .cloned()
            .map(Value::Object)
            .collect();
        customers.push(json!({
            "id_cliente": cid,
            "nome_fantasia": text(customer, "nome_fantasia").unwrap_or_default(),
            "records": devices.len().to_string(),
            "data": devices,
        }));
    }
    if customer_id.is_some() && customers.is_empty() {
        return envelope(StatusCode::OK, "Cliente não encontrado");
    }
    let mut answer = Map::new();
    answer.insert("records".into(), json!(customers.len()));
    answer.insert("data".into(), Value::Array(customers));
    ok(answer)
}

fn manage_did(app: &App, fields: Map<String, Value>) -> Response {
    let mut db = app.db();
    if let Some(id) = int(&fields, "id") {
        let Some(row) = db.dids.get_mut(&id) else {
            return envelope(StatusCode::OK, "DID não encontrado");
        };
        let customer = int(&fields, "customer_id");
        for (k, v) in fields {
            if k != "id" {
                row.insert(k, stringify(v));
            }
        }
        if let Some(c) = customer {
            db.dids_by_customer.entry(c).or_default().insert(id);
        }
        return ok(Map::new());
    }
    let Some(did_number) = text(&fields, "did_number") else {
        return missing("did_number");
    };
    let Some(customer_id) = int(&fields, "customer_id") else {
        return missing("customer_id");
    };
    if customer_id != 0 && !db.customers.contains_key(&customer_id) {
        return envelope(StatusCode::OK, "Cliente não encontrado");
    }
    if let Some(device) = int(&fields, "device_id")
        && device != 0
        && !db.devices.contains_key(&device)
    {
        return envelope(StatusCode::OK, "Dispositivo não encontrado");
    }
    let id = next_id(&db.dids);
    let description = text(&fields, "description").unwrap_or_default();
    let mut row: Map<String, Value> = fields.into_iter().map(|(k, v)| (k, stringify(v))).collect();
    row.insert("id".into(), json!(id.to_string()));
    row.insert("did_number".into(), json!(did_number));
    db.dids.insert(id, row);
    db.dids_by_customer
        .entry(customer_id)
        .or_default()
        .insert(id);
    drop(db);
    let key = count_key(&description, |v| {
        keys::parse_did_description(v).map(|d| d.to_string())
    });
    app.inner.counters.record("did", &key);
    created(app, "id", id)
}

/// Lists answer numbers as strings, as NextBilling's documented lists do.
fn stringify(v: Value) -> Value {
    match v {
        Value::Number(n) => Value::String(n.to_string()),
        other => other,
    }
}

fn list_customers(app: &App, id_origem: Option<&String>) -> Response {
    let db = app.db();
    let rows: Vec<(&i64, &Map<String, Value>)> = match id_origem {
        Some(want) => db
            .customers_by_origin
            .get(want)
            .into_iter()
            .flatten()
            .filter_map(|id| db.customers.get_key_value(id))
            .collect(),
        None => db.customers.iter().collect(),
    };
    let data: Vec<Value> = rows
        .into_iter()
        .filter(|(_, c)| id_origem.is_none_or(|want| text(c, "id_origem").as_ref() == Some(want)))
        .map(|(id, c)| {
            json!({
                "id_cliente": id.to_string(),
                "id_origem": text(c, "id_origem").unwrap_or_default(),
                "nome_fantasia": text(c, "nome_fantasia").unwrap_or_default(),
                "razao_social": text(c, "razao_social").unwrap_or_default(),
                "status": int(c, "status").unwrap_or(1).to_string(),
            })
        })
        .collect();
    let mut answer = Map::new();
    answer.insert("records".into(), json!(data.len().to_string()));
    answer.insert("data".into(), Value::Array(data));
    ok(answer)
}

fn list_dids(app: &App, customer_id: Option<i64>) -> Response {
    let Some(customer_id) = customer_id else {
        return missing("customer_id");
    };
    let db = app.db();
    let data: Vec<Value> = db
        .dids_by_customer
        .get(&customer_id)
        .into_iter()
        .flatten()
        .filter_map(|id| db.dids.get(id))
        .filter(|d| int(d, "customer_id") == Some(customer_id))
        .cloned()
        .map(Value::Object)
        .collect();
    let mut answer = Map::new();
    answer.insert("records".into(), json!(data.len()));
    answer.insert("data".into(), Value::Array(data));
    ok(answer)
}
