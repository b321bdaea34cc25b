//! An in-memory DocSales on loopback (feature `sandbox`), built on `sig-sandbox`: the same
//! endpoints, Bearer check and error shapes as [`crate::DocSalesClient`] expects, seeded fault
//! injection per call, create counters, `/_sandbox/state` and `/_sandbox/faults`, and a
//! [`WebhookSender`] that posts notifications to a configured URL with retries, duplicates and
//! out-of-order delivery, all seeded.
//!
//! | route | call name (faults) | key |
//! |---|---|---|
//! | `GET /api/v1/proposals/{id}` | `get_proposal` | id or external uuid |
//! | `GET /api/v1/proposals?status=approved&cursor=C` | `list_approved` (`list_proposals` without the status) | — |
//! | `GET /api/v1/customers/{customer_id}/proposals` | `customer_proposals` | customer id/code/CNPJ |
//! | `GET /api/v1/registration-data` | `registration_data` | — |
//! | `POST /api/v1/proposals` | `create_document` | — |
//! | `PUT /api/v1/customers/{code}` | `upsert_customer` | code |
//!
//! Errors are JSON `{"error": …, "message": …}` (401 without the right Bearer token, 404, 422,
//! 400). Like DocSales as far as is known, the sandbox enforces no uniqueness on document codes
//! or customers' tax ids `[inferred]`, so a test catches a duplicate create instead of the
//! sandbox hiding it; counters record successful creates per natural key (`proposal` by code,
//! `customer` by code).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, FixedOffset, Utc};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use sig_core::ProposalStatus;
use sig_core::config::Catalog;
use sig_sandbox::{CreateCounters, FaultInjector, SandboxError, SandboxServer};
use subtle::ConstantTimeEq;
use url::Url;

use crate::client::DocSalesClient;
use crate::source::DocSalesSource;
use crate::wire::{self, Customer, Document, ProposalDocument, ProposalRef};

/// Default page size of the proposal listing.
pub const DEFAULT_PAGE_SIZE: usize = 50;

struct Stored {
    doc: ProposalDocument,
    /// Change sequence: the listing's cursor orders by it.
    seq: u64,
}

#[derive(Default)]
struct Data {
    next_id: u64,
    next_customer_id: u64,
    seq: u64,
    proposals: BTreeMap<u64, Stored>,
    customers: BTreeMap<String, Value>,
    outbox: Vec<ProposalDocument>,
}

#[derive(Clone)]
struct App {
    data: Arc<Mutex<Data>>,
    token: Arc<SecretString>,
    counters: CreateCounters,
    page_size: usize,
}

impl App {
    fn lock(&self) -> MutexGuard<'_, Data> {
        lock(&self.data)
    }
}

fn lock(data: &Mutex<Data>) -> MutexGuard<'_, Data> {
    data.lock().unwrap_or_else(PoisonError::into_inner)
}

fn now() -> DateTime<FixedOffset> {
    let brt = FixedOffset::west_opt(3 * 3600).expect("static offset");
    // Whole seconds: DocSales' timestamp form has no fractions.
    let secs = Utc::now().timestamp();
    DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .with_timezone(&brt)
}

fn error(status: StatusCode, error: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": error, "message": message})),
    )
        .into_response()
}

fn unmask(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// The DocSales sandbox.
pub struct DocSalesSandbox {
    server: SandboxServer,
    data: Arc<Mutex<Data>>,
    token: Arc<SecretString>,
    account: String,
}

impl fmt::Debug for DocSalesSandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DocSalesSandbox")
            .field("account", &self.account)
            .field("addr", &self.server.addr())
            .finish_non_exhaustive()
    }
}

/// Options for [`DocSalesSandbox::start`].
pub struct SandboxOptions {
    /// The Bearer token the sandbox accepts.
    pub token: SecretString,
    /// SIG's id for this DocSales account (the clients it hands out use it).
    pub account: String,
    /// Page size of the proposal listing.
    pub page_size: usize,
    /// How long a `timeout` fault holds a request.
    pub timeout_hold: Duration,
}

impl fmt::Debug for SandboxOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxOptions")
            .field("account", &self.account)
            .field("page_size", &self.page_size)
            .finish_non_exhaustive()
    }
}

impl SandboxOptions {
    /// Defaults with this token and account.
    pub fn new(token: SecretString, account: impl Into<String>) -> Self {
        SandboxOptions {
            token,
            account: account.into(),
            page_size: DEFAULT_PAGE_SIZE,
            timeout_hold: Duration::from_secs(30),
        }
    }
}

impl DocSalesSandbox {
    /// Start serving on `127.0.0.1:0`.
    ///
    /// # Errors
    /// The loopback port cannot be bound.
    pub async fn start(options: SandboxOptions) -> Result<Self, SandboxError> {
        let data = Arc::new(Mutex::new(Data {
            next_id: 10_000,
            next_customer_id: 50_000,
            ..Data::default()
        }));
        let token = Arc::new(options.token);
        let counters = CreateCounters::new();
        let faults = FaultInjector::new().with_timeout_hold(options.timeout_hold);
        let app = App {
            data: Arc::clone(&data),
            token: Arc::clone(&token),
            counters: counters.clone(),
            page_size: options.page_size.max(1),
        };
        let router = Router::new()
            .route(
                "/api/v1/proposals",
                get(list_proposals).post(create_document),
            )
            .route("/api/v1/proposals/{id}", get(get_proposal))
            .route(
                "/api/v1/customers/{customer_id}/proposals",
                get(customer_proposals),
            )
            .route(
                "/api/v1/customers/{code}",
                axum::routing::put(upsert_customer),
            )
            .route("/api/v1/registration-data", get(registration_data))
            .with_state(app);
        let router = faults.wrap(router, route_of);
        let records_data = Arc::clone(&data);
        let server = SandboxServer::builder("docsales", router)
            .faults(faults)
            .counters(counters)
            .records(move || records(&records_data))
            .start()
            .await?;
        Ok(DocSalesSandbox {
            server,
            data,
            token,
            account: options.account,
        })
    }

    /// The API base URL (`http://127.0.0.1:PORT/api/v1/`).
    pub fn base_url(&self) -> Url {
        Url::parse(&format!("{}api/v1/", self.server.base_url())).expect("loopback URL")
    }

    /// The underlying server (announce line, port, admin).
    pub fn server(&self) -> &SandboxServer {
        &self.server
    }

    /// The fault injector (`/_sandbox/faults` edits the same one).
    pub fn faults(&self) -> &FaultInjector {
        self.server.faults()
    }

    /// Successful creates per natural key.
    pub fn counters(&self) -> &CreateCounters {
        self.server.counters()
    }

    /// A client for this sandbox with its token and account.
    ///
    /// # Panics
    /// Never for a running sandbox (its base URL is a valid http URL).
    pub fn client(&self) -> DocSalesClient {
        DocSalesClient::builder(
            self.base_url(),
            SecretString::from(self.token.expose_secret()),
        )
        .account(self.account.clone())
        .build()
        .expect("sandbox URL is http")
    }

    /// The proposal-source port over this sandbox.
    pub fn source(&self, catalog: Arc<Catalog>) -> DocSalesSource {
        DocSalesSource::new(self.client(), catalog)
    }

    /// Store a proposal. A missing `document.id` is assigned, a missing status is `sent`,
    /// missing timestamps are now. The stored snapshot is queued for the webhook sender.
    /// Returns the id.
    pub fn seed_proposal(&self, mut doc: ProposalDocument) -> u64 {
        let mut data = lock(&self.data);
        let document = doc.document.get_or_insert_with(Document::default);
        let id = match document.id {
            Some(id) => id,
            None => {
                data.next_id += 1;
                data.next_id
            }
        };
        data.next_id = data.next_id.max(id);
        document.id = Some(id);
        document.status.get_or_insert(ProposalStatus::Sent);
        let t = now();
        document.created_at.get_or_insert(t);
        document.updated_at.get_or_insert(t);
        data.seq += 1;
        let seq = data.seq;
        data.outbox.push(doc.clone());
        data.proposals.insert(id, Stored { doc, seq });
        id
    }

    /// Change a proposal's status (and `updated_at`), queueing a notification. `None` when
    /// the id is unknown.
    pub fn set_status(&self, id: u64, status: ProposalStatus) -> Option<ProposalDocument> {
        let mut data = lock(&self.data);
        data.seq += 1;
        let seq = data.seq;
        let stored = data.proposals.get_mut(&id)?;
        stored.seq = seq;
        let document = stored.doc.document.get_or_insert_with(Document::default);
        document.status = Some(status);
        document.updated_at = Some(now());
        let snapshot = stored.doc.clone();
        data.outbox.push(snapshot.clone());
        Some(snapshot)
    }

    /// Approve a proposal (see [`set_status`](Self::set_status)).
    pub fn approve(&self, id: u64) -> Option<ProposalDocument> {
        self.set_status(id, ProposalStatus::Approved)
    }

    /// A stored proposal.
    pub fn proposal(&self, id: u64) -> Option<ProposalDocument> {
        lock(&self.data).proposals.get(&id).map(|s| s.doc.clone())
    }

    /// A customer written through `PUT /customers/{code}`.
    pub fn customer(&self, code: &str) -> Option<Value> {
        lock(&self.data).customers.get(code).cloned()
    }

    /// Notifications queued since the last drain (one per seed or status change), oldest
    /// first.
    pub fn pending_notifications(&self) -> usize {
        lock(&self.data).outbox.len()
    }

    /// A webhook sender posting this sandbox's queued notifications to `url` (which carries
    /// the secret token, in its path or query).
    pub fn webhook_sender(&self, url: Url, config: SenderConfig) -> WebhookSender {
        WebhookSender::new(url, config, Some(Arc::clone(&self.data)))
    }

    /// Stop serving.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

fn records(data: &Mutex<Data>) -> Value {
    let data = lock(data);
    json!({
        "proposals": data.proposals.values().map(|s| &s.doc).collect::<Vec<_>>(),
        "customers": data.customers,
        "pending_notifications": data.outbox.len(),
    })
}

/// Which call a request is, for fault targeting (method and path only).
fn route_of(req: &axum::extract::Request) -> Option<(String, Option<String>)> {
    let path = req.uri().path().strip_prefix("/api/v1/")?;
    let parts: Vec<&str> = path.split('/').collect();
    let method = req.method().as_str();
    let call = |c: &str, k: Option<&str>| Some((c.to_owned(), k.map(str::to_owned)));
    match (method, parts.as_slice()) {
        ("GET", ["proposals"]) => {
            let approved = req
                .uri()
                .query()
                .is_some_and(|q| q.split('&').any(|p| p == "status=approved"));
            call(
                if approved {
                    "list_approved"
                } else {
                    "list_proposals"
                },
                None,
            )
        }
        ("GET", ["proposals", id]) => call("get_proposal", Some(id)),
        ("POST", ["proposals"]) => call("create_document", None),
        ("GET", ["customers", c, "proposals"]) => call("customer_proposals", Some(c)),
        ("PUT", ["customers", code]) => call("upsert_customer", Some(code)),
        ("GET", ["registration-data"]) => call("registration_data", None),
        _ => None,
    }
}

fn authorized(app: &App, headers: &HeaderMap) -> Result<(), Response> {
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let ok: bool = given
        .as_bytes()
        .ct_eq(app.token.expose_secret().as_bytes())
        .into();
    if ok && !given.is_empty() {
        Ok(())
    } else {
        Err(error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Token inválido ou ausente",
        ))
    }
}

fn json_body(value: &impl serde::Serialize, status: StatusCode) -> Response {
    (status, axum::Json(value)).into_response()
}

async fn get_proposal(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = authorized(&app, &headers) {
        return r;
    }
    let Ok(reference) = id.parse::<ProposalRef>() else {
        return error(
            StatusCode::NOT_FOUND,
            "not_found",
            "Proposta não encontrada",
        );
    };
    let data = app.lock();
    let found = match &reference {
        ProposalRef::Id(n) => data.proposals.get(n),
        ProposalRef::ExternalUuid(u) => data.proposals.values().find(|s| {
            s.doc
                .document
                .as_ref()
                .and_then(|d| d.external_uuid.as_deref())
                == Some(u.as_str())
        }),
    };
    match found {
        Some(s) => json_body(&s.doc, StatusCode::OK),
        None => error(
            StatusCode::NOT_FOUND,
            "not_found",
            "Proposta não encontrada",
        ),
    }
}

#[derive(Deserialize)]
struct ListQuery {
    status: Option<String>,
    cursor: Option<String>,
}

async fn list_proposals(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Response {
    if let Err(r) = authorized(&app, &headers) {
        return r;
    }
    let after = match q.cursor.as_deref().map(str::parse::<u64>) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => return error(StatusCode::BAD_REQUEST, "bad_request", "cursor inválido"),
    };
    let wanted = q.status.as_deref().map(ProposalStatus::parse);
    let data = app.lock();
    let mut matching: Vec<&Stored> = data
        .proposals
        .values()
        .filter(|s| s.seq > after)
        .filter(|s| {
            wanted
                .as_ref()
                .is_none_or(|w| s.doc.document.as_ref().and_then(|d| d.status.as_ref()) == Some(w))
        })
        .collect();
    matching.sort_by_key(|s| s.seq);
    let more = matching.len() > app.page_size;
    matching.truncate(app.page_size);
    let next_cursor = if more {
        matching.last().map(|s| s.seq.to_string())
    } else {
        None
    };
    let proposals: Vec<&Document> = matching
        .iter()
        .filter_map(|s| s.doc.document.as_ref())
        .collect();
    json_body(
        &json!({"proposals": proposals, "next_cursor": next_cursor}),
        StatusCode::OK,
    )
}

fn customer_matches(c: &Customer, key: &str) -> bool {
    let unmasked = unmask(key);
    c.code.as_deref() == Some(key)
        || c.id.is_some_and(|id| id.to_string() == key)
        || c.legal_code
            .as_ref()
            .is_some_and(|l| !unmasked.is_empty() && unmask(l.as_str()) == unmasked)
}

async fn customer_proposals(
    State(app): State<App>,
    headers: HeaderMap,
    Path(customer_id): Path<String>,
) -> Response {
    if let Err(r) = authorized(&app, &headers) {
        return r;
    }
    let data = app.lock();
    let known_customer = data.customers.contains_key(&customer_id)
        || data.customers.values().any(|c| {
            c.get("id").and_then(Value::as_u64).map(|n| n.to_string()) == Some(customer_id.clone())
                || c.get("legal_code")
                    .and_then(Value::as_str)
                    .is_some_and(|l| unmask(l) == unmask(&customer_id) && !l.is_empty())
        });
    let docs: Vec<&Document> = data
        .proposals
        .values()
        .filter(|s| {
            s.doc
                .customer
                .as_ref()
                .is_some_and(|c| customer_matches(c, &customer_id))
        })
        .filter_map(|s| s.doc.document.as_ref())
        .collect();
    if docs.is_empty() && !known_customer {
        return error(StatusCode::NOT_FOUND, "not_found", "Cliente não encontrado");
    }
    json_body(&docs, StatusCode::OK)
}

async fn registration_data(State(app): State<App>, headers: HeaderMap) -> Response {
    if let Err(r) = authorized(&app, &headers) {
        return r;
    }
    json_body(
        &json!({
            "signature_types": [{"id": "paper", "name": "Papel"}, {"id": "digital", "name": "Digital"}],
            "payment_methods": [{"id": 1, "name": "Boleto"}, {"id": 2, "name": "Cartão de crédito"}, {"id": 3, "name": "Pix"}],
            "products": [],
            "templates": [{"id": 1, "name": "Proposta padrão"}],
            "signer_roles": [{"id": "part", "name": "Parte"}, {"id": "witness", "name": "Testemunha"}],
            "sellers": [{"id": 1, "name": "Vendedor Sandbox", "email": "vendas@sandbox.example"}]
        }),
        StatusCode::OK,
    )
}

async fn create_document(State(app): State<App>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = authorized(&app, &headers) {
        return r;
    }
    let Ok(Value::Object(mut outer)) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "bad_request", "JSON inválido");
    };
    let Some(Value::Object(mut fields)) = outer.remove("proposal") else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable_entity",
            "proposal is required",
        );
    };
    let customer_id = match fields.remove("customer_id") {
        Some(Value::String(s)) if !s.trim().is_empty() => s,
        Some(Value::Number(n)) => n.to_string(),
        _ => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unprocessable_entity",
                "customer_id is required",
            );
        }
    };
    let products = fields.remove("products").unwrap_or(Value::Null);
    let products: Vec<wire::ProductItem> = match serde_json::from_value(products) {
        Ok(Some(p)) => p,
        Ok(None) => Vec::new(),
        Err(_) => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unprocessable_entity",
                "products is invalid",
            );
        }
    };
    for k in ["template_id", "user_email"] {
        fields.remove(k);
    }
    let mut document: Document = match serde_json::from_value(Value::Object(fields)) {
        Ok(d) => d,
        Err(_) => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unprocessable_entity",
                "proposal has an invalid field",
            );
        }
    };
    let mut data = app.lock();
    data.next_id += 1;
    let id = data.next_id;
    let t = now();
    document.id = Some(id);
    document.external_uuid = Some(format!("sbx-{id:08}"));
    document.status = Some(ProposalStatus::Active);
    document.created_at = Some(t);
    document.updated_at = Some(t);
    // The document's customer: the account's customer record named by `customer_id` (one
    // SIG wrote with `PUT /customers/{code}`) [inferred], else one a proposal carries.
    let customer = data
        .customers
        .values()
        .filter_map(|v| serde_json::from_value::<Customer>(v.clone()).ok())
        .find(|c| customer_matches(c, &customer_id))
        .or_else(|| {
            data.proposals
                .values()
                .filter_map(|s| s.doc.customer.as_ref())
                .find(|c| customer_matches(c, &customer_id))
                .cloned()
        })
        .unwrap_or_else(|| Customer {
            code: Some(customer_id.clone()),
            ..Customer::default()
        });
    let key = document.code.clone().unwrap_or_else(|| id.to_string());
    let answer = json!({"proposal": {
        "id": id, "external_uuid": document.external_uuid, "code": document.code,
        "status": "active"
    }});
    data.seq += 1;
    let seq = data.seq;
    data.proposals.insert(
        id,
        Stored {
            doc: ProposalDocument {
                document: Some(document),
                customer: Some(customer),
                products,
                ..ProposalDocument::default()
            },
            seq,
        },
    );
    drop(data);
    app.counters.record("proposal", &key);
    json_body(&answer, StatusCode::CREATED)
}

async fn upsert_customer(
    State(app): State<App>,
    headers: HeaderMap,
    Path(code): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(r) = authorized(&app, &headers) {
        return r;
    }
    let Ok(Value::Object(mut outer)) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "bad_request", "JSON inválido");
    };
    let Some(Value::Object(mut record)) = outer.remove("customer") else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable_entity",
            "customer is required",
        );
    };
    for field in ["name", "legal_code"] {
        if record
            .get(field)
            .and_then(Value::as_str)
            .is_none_or(|s| s.trim().is_empty())
        {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unprocessable_entity",
                &format!("{field} is required"),
            );
        }
    }
    let mut data = app.lock();
    let existing_id = data
        .customers
        .get(&code)
        .and_then(|c| c.get("id"))
        .and_then(Value::as_u64);
    let (id, created) = match existing_id {
        Some(id) => (id, false),
        None => {
            data.next_customer_id += 1;
            (data.next_customer_id, true)
        }
    };
    record.insert("id".into(), json!(id));
    record.insert("code".into(), json!(code));
    let record = Value::Object(record);
    data.customers.insert(code.clone(), record.clone());
    drop(data);
    if created {
        app.counters.record("customer", &code);
    }
    json_body(
        &json!({ "customer": record }),
        if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
    )
}

// ---------------------------------------------------------------------------------------------
// Webhook sender
// ---------------------------------------------------------------------------------------------

/// How the [`WebhookSender`] misbehaves, deterministically for a given seed.
#[derive(Debug, Clone, PartialEq)]
pub struct SenderConfig {
    /// Seed for shuffling and duplicates.
    pub seed: u64,
    /// Probability that a notification is delivered a second time, later.
    pub duplicate_rate: f64,
    /// Whether a batch is delivered in a shuffled order (out-of-order delivery).
    pub shuffle: bool,
    /// Attempts per delivery (retries on a transport error, 408, 429 and 5xx).
    pub max_attempts: u32,
    /// Wait between attempts.
    pub retry_delay: Duration,
    /// Per-attempt timeout.
    pub timeout: Duration,
}

impl Default for SenderConfig {
    fn default() -> Self {
        SenderConfig {
            seed: 0,
            duplicate_rate: 0.0,
            shuffle: false,
            max_attempts: 3,
            retry_delay: Duration::from_millis(50),
            timeout: Duration::from_secs(5),
        }
    }
}

/// One notification's fate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The proposal's id (or external uuid).
    pub proposal_id: String,
    /// The status the notification carried.
    pub status: Option<String>,
    /// Whether this was a duplicate delivery.
    pub duplicate: bool,
    /// Attempts made.
    pub attempts: u32,
    /// The last HTTP status, when the receiver answered.
    pub last_status: Option<u16>,
    /// Whether the receiver accepted it (2xx).
    pub delivered: bool,
}

/// Posts DocSales-style webhook notifications (the proposal document as JSON) to one URL.
///
/// The URL carries the secret token, so `Debug` never shows it.
pub struct WebhookSender {
    http: reqwest::Client,
    url: Url,
    config: SenderConfig,
    rng: Mutex<StdRng>,
    source: Option<Arc<Mutex<Data>>>,
    log: Mutex<Vec<Delivery>>,
}

impl fmt::Debug for WebhookSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookSender")
            .field("host", &self.url.host_str())
            .field("port", &self.url.port())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl WebhookSender {
    /// A sender to `url` (loopback in tests) that delivers only what it is given.
    pub fn standalone(url: Url, config: SenderConfig) -> Self {
        Self::new(url, config, None)
    }

    fn new(url: Url, config: SenderConfig, source: Option<Arc<Mutex<Data>>>) -> Self {
        WebhookSender {
            http: reqwest::Client::new(),
            url,
            rng: Mutex::new(StdRng::seed_from_u64(config.seed)),
            config,
            source,
            log: Mutex::new(Vec::new()),
        }
    }

    /// Every delivery made so far, in order.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Deliver the sandbox's queued notifications (draining the queue): shuffled when
    /// configured, some delivered twice, each retried on failure. Returns this batch's
    /// deliveries in the order they were made.
    pub async fn flush(&self) -> Vec<Delivery> {
        let batch = match &self.source {
            Some(data) => std::mem::take(&mut lock(data).outbox),
            None => Vec::new(),
        };
        self.send_batch(batch).await
    }

    /// Deliver these notifications as [`flush`](Self::flush) does.
    pub async fn send_batch(&self, docs: Vec<ProposalDocument>) -> Vec<Delivery> {
        let plan = {
            let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
            let mut plan: Vec<(ProposalDocument, bool)> =
                docs.into_iter().map(|d| (d, false)).collect();
            let duplicates: Vec<(ProposalDocument, bool)> = plan
                .iter()
                .filter(|_| {
                    self.config.duplicate_rate > 0.0
                        && rng.random::<f64>() < self.config.duplicate_rate
                })
                .map(|(d, _)| (d.clone(), true))
                .collect();
            plan.extend(duplicates);
            if self.config.shuffle {
                plan.shuffle(&mut *rng);
            }
            plan
        };
        let mut out = Vec::with_capacity(plan.len());
        for (doc, duplicate) in plan {
            let mut d = self.send(&doc).await;
            d.duplicate = duplicate;
            if let Some(last) = self
                .log
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .last_mut()
            {
                last.duplicate = duplicate;
            }
            out.push(d);
        }
        out
    }

    /// Deliver one notification, retrying on a transport error, 408, 429 and 5xx.
    pub async fn send(&self, doc: &ProposalDocument) -> Delivery {
        let document = doc.document.as_ref();
        let mut delivery = Delivery {
            proposal_id: document
                .and_then(Document::reference)
                .map(|r| r.as_segment())
                .unwrap_or_default(),
            status: document
                .and_then(|d| d.status.as_ref())
                .map(|s| s.as_str().to_owned()),
            duplicate: false,
            attempts: 0,
            last_status: None,
            delivered: false,
        };
        let body = serde_json::to_vec(doc).unwrap_or_default();
        while delivery.attempts < self.config.max_attempts.max(1) {
            if delivery.attempts > 0 {
                tokio::time::sleep(self.config.retry_delay).await;
            }
            delivery.attempts += 1;
            let result = self
                .http
                .post(self.url.clone())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .timeout(self.config.timeout)
                .body(body.clone())
                .send()
                .await;
            match result {
                Ok(r) => {
                    let status = r.status().as_u16();
                    delivery.last_status = Some(status);
                    if (200..300).contains(&status) {
                        delivery.delivered = true;
                        break;
                    }
                    if !(status == 408 || status == 429 || status >= 500) {
                        break;
                    }
                }
                Err(_) => delivery.last_status = None,
            }
        }
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(delivery.clone());
        delivery
    }
}
