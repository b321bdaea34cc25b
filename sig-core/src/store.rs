//! The `Store` port: integrations and their step journal, the customer registry, capacity
//! reservations per ServidorNext, upstream limit state and the audit trail — everything SIG
//! remembers. Adapters: [`MemoryStore`] here (tests, embedding without persistence), SQLite
//! in `sig-store-sqlite` (the embedded default), PostgreSQL later.
//!
//! Rules every implementation keeps (checked by [`conformance`]):
//! - **Intake is idempotent by source key**: a second intake of the same (account, proposal)
//!   returns the first integration.
//! - **One SIG customer per (company, tax id)**: [`Store::customer_id_for`] is an atomic
//!   get-or-insert.
//! - **[`Store::commit`] is one transaction**: the integration's new state, its journal
//!   entries, the customer links, reservation changes and audit events land together or not
//!   at all.
//! - **Reservations are atomic**: [`Store::reserve`] checks room and reserves in one step, so
//!   two orders cannot take the same last room; reserving again for the same order is a no-op.
//! - **Claims lease work**: a claimed integration is not handed out again until its lease
//!   expires (a crashed worker's work comes back); [`Store::lease`] takes the same lease on
//!   one integration by id, for the operations people run.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{CompanyId, CustomerId, IntegrationId, ServerId, ServiceOrderId, UserId};
use crate::ports::{SourceKey, System};
use crate::problem::Problems;
use crate::raw::RawProposal;
use crate::taxid::TaxId;

/// Who acts (DESIGN.md, "Who acts").
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "id")]
pub enum Actor {
    /// SIG itself (workers, reconciliation).
    System,
    /// A DocSales webhook, with its account.
    Webhook(String),
    /// A person.
    User(UserId),
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::System => f.write_str("system"),
            Actor::Webhook(a) => write!(f, "webhook:{a}"),
            Actor::User(u) => write!(f, "user:{u}"),
        }
    }
}

/// Where an integration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntegrationStatus {
    /// Received or in progress; workers pick it up when due.
    Pending,
    /// Waiting for a person (validation problems, or review).
    Held,
    /// Finished: everything exists upstream.
    Done,
    /// Stopped on a permanent failure, or retries exhausted; an operator may retry.
    Failed,
    /// Cancelled by a person.
    Cancelled,
}

impl IntegrationStatus {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            IntegrationStatus::Pending => "pending",
            IntegrationStatus::Held => "held",
            IntegrationStatus::Done => "done",
            IntegrationStatus::Failed => "failed",
            IntegrationStatus::Cancelled => "cancelled",
        }
    }

    /// Parse a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => IntegrationStatus::Pending,
            "held" => IntegrationStatus::Held,
            "done" => IntegrationStatus::Done,
            "failed" => IntegrationStatus::Failed,
            "cancelled" => IntegrationStatus::Cancelled,
            _ => return None,
        })
    }
}

impl fmt::Display for IntegrationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an integration stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The step that failed.
    pub step: String,
    /// The outside system, if the failure came from one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<System>,
    /// The upstream code, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Human reason (redacted).
    pub reason: String,
    /// Whether retrying can help (transient failures whose retries ran out).
    pub retryable: bool,
}

/// One integration: a source record on its way to Omie and NextBilling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Integration {
    /// SIG's id.
    pub id: IntegrationId,
    /// The company it belongs to.
    pub company: CompanyId,
    /// Where it came from; unique.
    pub source: SourceKey,
    /// Status.
    pub status: IntegrationStatus,
    /// The last step reached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// The proposal as received (or as last edited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<RawProposal>,
    /// Validation problems while held.
    #[serde(default)]
    pub problems: Problems,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    /// The SIG customer, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<CustomerId>,
    /// Attempts made (retries of transient failures).
    pub attempts: u32,
    /// Who started it.
    pub actor: Actor,
    /// When SIG received it.
    pub received_at: DateTime<Utc>,
    /// When it reached done, failed or cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    /// Since when it is held (while held).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_since: Option<DateTime<Utc>>,
    /// Total time spent held, in milliseconds (left out of integration time).
    pub held_ms: u64,
    /// Not before this time may a worker pick it up.
    pub next_attempt_at: DateTime<Utc>,
}

impl Integration {
    /// A new pending integration.
    pub fn new(company: CompanyId, source: SourceKey, actor: Actor, now: DateTime<Utc>) -> Self {
        Integration {
            id: IntegrationId::new(),
            company,
            source,
            status: IntegrationStatus::Pending,
            step: None,
            raw: None,
            problems: Problems::new(),
            failure: None,
            customer: None,
            attempts: 0,
            actor,
            received_at: now,
            finished_at: None,
            held_since: None,
            held_ms: 0,
            next_attempt_at: now,
        }
    }

    /// Integration time: received to finished, less the time held (DESIGN.md).
    pub fn integration_ms(&self) -> Option<u64> {
        let end = self.finished_at?;
        let total = (end - self.received_at).num_milliseconds().max(0) as u64;
        Some(total.saturating_sub(self.held_ms))
    }
}

/// One journal entry: a step's stored result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepEntry {
    /// Step key, unique per integration (`erp_customer`, `contract:0`, `line:1:2`).
    pub key: String,
    /// The step's result (external ids, decisions).
    pub result: serde_json::Value,
    /// When it completed.
    pub at: DateTime<Utc>,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
}

/// Outcome of an audited action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    /// It worked.
    Ok,
    /// It failed (see the summary).
    Error,
    /// It was refused (authorization).
    Denied,
    /// Nothing to do (a duplicate, an ignored notification).
    Skipped,
    /// It stopped for a person.
    Held,
}

/// One audit event. Summaries and details never carry secrets; personal data is masked
/// except where an edit changed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Event id (UUID v7, time ordered).
    pub id: uuid::Uuid,
    /// When.
    pub at: DateTime<Utc>,
    /// The integration, if the event concerns one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration: Option<IntegrationId>,
    /// Who.
    pub actor: Actor,
    /// What (`intake`, `step.erp_customer`, `retry`, `cancel`, …).
    pub action: String,
    /// The outside system involved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<System>,
    /// The call made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call: Option<String>,
    /// Outcome.
    pub outcome: AuditOutcome,
    /// Duration in milliseconds, for timed actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Redacted one-line summary.
    pub summary: String,
    /// Structured details (ids, decisions).
    #[serde(default)]
    pub details: serde_json::Value,
}

impl AuditEvent {
    /// A new event at `at`.
    pub fn new(
        at: DateTime<Utc>,
        actor: Actor,
        action: impl Into<String>,
        outcome: AuditOutcome,
        summary: impl Into<String>,
    ) -> Self {
        AuditEvent {
            id: uuid::Uuid::now_v7(),
            at,
            integration: None,
            actor,
            action: action.into(),
            system: None,
            call: None,
            outcome,
            duration_ms: None,
            summary: summary.into(),
            details: serde_json::Value::Null,
        }
    }
}

/// A capacity reservation on a server for one service order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    /// The order.
    pub order: ServiceOrderId,
    /// The integration it belongs to.
    pub integration: IntegrationId,
    /// The server.
    pub server: ServerId,
    /// Lines reserved.
    pub lines: u32,
    /// Channels reserved.
    pub channels: u32,
    /// Whether the service is provisioned there (else only reserved).
    pub provisioned: bool,
}

/// Lines and channels taken on one server (reserved + provisioned).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Load {
    /// Lines.
    pub lines: u32,
    /// Channels.
    pub channels: u32,
}

/// What SIG has linked to one customer upstream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerLinks {
    /// Omie `codigo_cliente_omie`.
    pub erp_id: Option<i64>,
    /// NextBilling customer id per server.
    pub voip: BTreeMap<ServerId, i64>,
}

/// Everything one step changes, written in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The integration's new state.
    pub integration: Integration,
    /// Journal entries to add (a key already present is an error: steps run once).
    pub steps: Vec<StepEntry>,
    /// Audit events to append.
    pub audit: Vec<AuditEvent>,
    /// Register a SIG customer for a tax id ([`Store::customer_id_for`]'s registry) in the
    /// same transaction. When the tax id already has another customer (registered since the
    /// caller looked), the whole change is refused with [`StoreError::CustomerRegistered`]
    /// naming that one, and nothing of it is stored; when it has this one, nothing changes.
    pub register_customer: Option<NewCustomer>,
    /// Link the customer to its ERP record.
    pub customer_erp: Option<(CustomerId, i64)>,
    /// Link the customer to its records on servers (one per server).
    pub customer_voip: Vec<(CustomerId, ServerId, i64)>,
    /// Mark these orders' reservations provisioned.
    pub provisioned: Vec<ServiceOrderId>,
    /// Release these orders' reservations (a permanent provisioning failure, a cancel).
    pub released: Vec<ServiceOrderId>,
    /// Reserve room for orders on their servers ([`Store::reserve`]'s rule, in order) in the
    /// same transaction: when a server has no room left for one of them, the whole change is
    /// refused with [`StoreError::NoRoom`] naming it, and nothing of it is stored (no other
    /// reservation either). An order that already holds a reservation keeps it.
    pub reserve: Vec<(Reservation, Load)>,
    /// The proposal document is unchanged: the store keeps the one it holds and ignores
    /// `integration.raw` (which the caller may leave out). A step commit after validation
    /// sets it, so each step does not copy and re-encode the whole document.
    pub keep_raw: bool,
}

impl Change {
    /// A change that only writes the integration's state.
    pub fn state(integration: Integration) -> Self {
        Change {
            integration,
            steps: vec![],
            audit: vec![],
            register_customer: None,
            customer_erp: None,
            customer_voip: vec![],
            provisioned: vec![],
            released: vec![],
            reserve: Vec::new(),
            keep_raw: false,
        }
    }

    /// A change that writes the integration's state but keeps its stored proposal document
    /// ([`keep_raw`](Self::keep_raw)); the document is not copied.
    pub fn state_keeping_raw(integration: &mut Integration) -> Self {
        let raw = integration.raw.take();
        let mut change = Change::state(integration.clone());
        integration.raw = raw;
        change.keep_raw = true;
        change
    }
}

/// A SIG customer to register for a tax id in a company ([`Change::register_customer`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCustomer {
    /// The company.
    pub company: CompanyId,
    /// The customer's CPF or CNPJ.
    pub tax_id: TaxId,
    /// The new customer's id.
    pub customer: CustomerId,
}

/// What [`Store::register_direct`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum DirectRegistration {
    /// The tax id was new to SIG: the candidate customer id and the integration were stored.
    Created(Integration),
    /// The customer already has its direct integration (a repeat): that one, unchanged.
    Existing(Integration),
    /// SIG already knows the customer from another source (a DocSales proposal): nothing was
    /// written.
    KnownElsewhere(CustomerId),
}

/// Filters for listing integrations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntegrationFilter {
    /// Only these statuses (empty: all).
    pub statuses: Vec<IntegrationStatus>,
    /// Received at or after.
    pub since: Option<DateTime<Utc>>,
    /// Received before.
    pub until: Option<DateTime<Utc>>,
    /// Only this company.
    pub company: Option<CompanyId>,
    /// Only integrations of this SIG customer.
    pub customer: Option<CustomerId>,
    /// At most this many, newest first (`None`: all, oldest first).
    pub limit: Option<usize>,
}

/// How many integrations there are in each status, and when the oldest pending one was
/// received: what metrics and health views read often, without loading the integrations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntegrationCounts {
    /// Pending (received or in progress, including those waiting for a retry).
    pub pending: u64,
    /// Held for a person.
    pub held: u64,
    /// Done.
    pub done: u64,
    /// Failed.
    pub failed: u64,
    /// Cancelled.
    pub cancelled: u64,
    /// When the oldest pending integration was received (`None` when none is pending).
    pub oldest_pending: Option<DateTime<Utc>>,
}

impl IntegrationCounts {
    /// Count a set of integrations.
    pub fn of<'a>(all: impl IntoIterator<Item = &'a Integration>) -> Self {
        let mut c = IntegrationCounts::default();
        for i in all {
            c.add(i.status, 1);
            if i.status == IntegrationStatus::Pending {
                c.oldest_pending = Some(
                    c.oldest_pending
                        .map_or(i.received_at, |o| o.min(i.received_at)),
                );
            }
        }
        c
    }

    /// Add `n` integrations in `status`.
    pub fn add(&mut self, status: IntegrationStatus, n: u64) {
        match status {
            IntegrationStatus::Pending => self.pending += n,
            IntegrationStatus::Held => self.held += n,
            IntegrationStatus::Done => self.done += n,
            IntegrationStatus::Failed => self.failed += n,
            IntegrationStatus::Cancelled => self.cancelled += n,
        }
    }

    /// How many are in `status`.
    pub fn get(&self, status: IntegrationStatus) -> u64 {
        match status {
            IntegrationStatus::Pending => self.pending,
            IntegrationStatus::Held => self.held,
            IntegrationStatus::Done => self.done,
            IntegrationStatus::Failed => self.failed,
            IntegrationStatus::Cancelled => self.cancelled,
        }
    }

    /// Every integration ever taken in (each status counted once).
    pub fn total(&self) -> u64 {
        self.pending + self.held + self.done + self.failed + self.cancelled
    }
}

/// Every status, in lifecycle order.
pub const STATUSES: [IntegrationStatus; 5] = [
    IntegrationStatus::Pending,
    IntegrationStatus::Held,
    IntegrationStatus::Done,
    IntegrationStatus::Failed,
    IntegrationStatus::Cancelled,
];

/// Filters for reading the audit trail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only events of this integration.
    pub integration: Option<IntegrationId>,
    /// At or after.
    pub since: Option<DateTime<Utc>>,
    /// Before.
    pub until: Option<DateTime<Utc>>,
    /// Only this actor.
    pub actor: Option<Actor>,
    /// Only actions starting with this prefix (`step.`).
    pub action_prefix: Option<String>,
}

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store could not be reached or the operation failed; retrying may help.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A journal step was written twice (a bug or a concurrent worker on the same integration).
    #[error("step {step} of integration {integration} is already journaled")]
    StepExists {
        /// Integration.
        integration: IntegrationId,
        /// Step key.
        step: String,
    },
    /// The integration does not exist.
    #[error("integration {0} not found")]
    NotFound(IntegrationId),
    /// Stored data could not be read back.
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// A change registered a customer for a tax id that has another one: nothing of the change
    /// was stored. (The tax id is personal data; the error names the customer only.)
    #[error("the tax id already belongs to SIG customer {customer}")]
    CustomerRegistered {
        /// The customer the tax id belongs to.
        customer: CustomerId,
    },
    /// A change's reservation found no room left on its server: nothing of the change was
    /// stored.
    #[error("no room left on server {server} for order {order}")]
    NoRoom {
        /// The order.
        order: ServiceOrderId,
        /// The server.
        server: ServerId,
    },
}

/// The store port.
#[async_trait]
pub trait Store: Send + Sync {
    /// Record an intake, idempotent by source key: returns the integration and whether it
    /// was created now.
    async fn intake(
        &self,
        new: Integration,
        audit: AuditEvent,
    ) -> Result<(Integration, bool), StoreError>;

    /// One integration.
    async fn get(&self, id: IntegrationId) -> Result<Option<Integration>, StoreError>;

    /// The integration of a source record.
    async fn find_by_source(&self, key: &SourceKey) -> Result<Option<Integration>, StoreError>;

    /// Integrations matching a filter.
    async fn list(&self, filter: &IntegrationFilter) -> Result<Vec<Integration>, StoreError>;

    /// How many integrations are in each status, and the oldest pending one. The default
    /// reads every integration; stores override it with an aggregate query.
    async fn counts(&self) -> Result<IntegrationCounts, StoreError> {
        let all = self.list(&IntegrationFilter::default()).await?;
        Ok(IntegrationCounts::of(&all))
    }

    /// Claim up to `max` pending integrations due at `now`, leasing them until `now + lease`.
    async fn claim(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        max: usize,
    ) -> Result<Vec<Integration>, StoreError>;

    /// Give a claimed integration back before its lease ends.
    async fn unclaim(&self, id: IntegrationId) -> Result<(), StoreError>;

    /// Extend to `until` the leases of these integrations that are still pending and leased
    /// (a worker's heartbeat for the work it is running: a crashed worker stops renewing, so
    /// its work comes back after one lease). Integrations given back, finished or unknown are
    /// left as they are.
    async fn renew_leases(
        &self,
        ids: &[IntegrationId],
        until: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Lease one integration by id, whatever its status, for an operation a person runs (an
    /// edit, a resume, a manual server choice): like a claim, so no worker picks it up while
    /// the operation reads and writes it. `None` when someone else holds an unexpired lease on
    /// it (a worker is running it now); [`StoreError::NotFound`] when it does not exist.
    /// Give it back with [`Store::unclaim`].
    async fn lease(
        &self,
        id: IntegrationId,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Option<Integration>, StoreError>;

    /// Apply a step's change in one transaction.
    async fn commit(&self, change: Change) -> Result<(), StoreError>;

    /// The journal of an integration, by step key.
    async fn journal(&self, id: IntegrationId) -> Result<BTreeMap<String, StepEntry>, StoreError>;

    /// The SIG customer for a tax id in a company: the existing one, or `candidate` now.
    async fn customer_id_for(
        &self,
        company: &CompanyId,
        tax_id: &TaxId,
        candidate: CustomerId,
    ) -> Result<CustomerId, StoreError>;

    /// The SIG customer for a tax id in a company, if there is one (never inserts).
    async fn find_customer(
        &self,
        company: &CompanyId,
        tax_id: &TaxId,
    ) -> Result<Option<CustomerId>, StoreError>;

    /// Register a customer directly, in one transaction: when the tax id is new in the
    /// company, store `candidate` as its SIG customer and intake `new` (whose source key must
    /// be [`SourceKey::direct`]`(candidate)`), with `audit`; when the customer exists and has
    /// its direct integration, return that one; when it exists from another source, write
    /// nothing. A crash can never leave the customer stored without its integration.
    async fn register_direct(
        &self,
        company: &CompanyId,
        tax_id: &TaxId,
        candidate: CustomerId,
        new: Integration,
        audit: AuditEvent,
    ) -> Result<DirectRegistration, StoreError>;

    /// What the customer is linked to upstream.
    async fn customer_links(&self, id: CustomerId) -> Result<CustomerLinks, StoreError>;

    /// Whether an integration other than `besides` is of this customer, whatever its
    /// status. Records the customer's integrations share upstream (its NextBilling customer
    /// on a server) can only have been sent by one of them: when none is, the integration
    /// `besides` is the only one that can have sent such a create.
    async fn customer_shared(
        &self,
        customer: CustomerId,
        besides: IntegrationId,
    ) -> Result<bool, StoreError>;

    /// Load per server (reserved + provisioned).
    async fn loads(&self) -> Result<BTreeMap<ServerId, Load>, StoreError>;

    /// Reserve room atomically; `false` when the server has no room left. Reserving again for
    /// an order that holds a reservation returns `true` and changes nothing.
    async fn reserve(&self, r: &Reservation, capacity: Load) -> Result<bool, StoreError>;

    /// The reservation of an order.
    async fn reservation(&self, order: ServiceOrderId) -> Result<Option<Reservation>, StoreError>;

    /// Upstream limit state that must survive restarts (an Omie misuse block), by key.
    async fn limit_state(&self, key: &str) -> Result<Option<serde_json::Value>, StoreError>;

    /// Store upstream limit state.
    async fn set_limit_state(&self, key: &str, value: &serde_json::Value)
    -> Result<(), StoreError>;

    /// Append audit events outside a step (denials, ignored notifications).
    async fn append_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError>;

    /// Read the audit trail, oldest first.
    async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>, StoreError>;
}

// ---------------------------------------------------------------------------------------
// In-memory store.

impl Mem {
    /// [`Store::reserve`]: whether the order holds a reservation now.
    fn reserve(&mut self, r: &Reservation, capacity: Load) -> bool {
        if self.reservations.contains_key(&r.order) {
            return true;
        }
        let used = self
            .reservations
            .values()
            .filter(|x| x.server == r.server)
            .fold(Load::default(), |mut a, x| {
                a.lines += x.lines;
                a.channels += x.channels;
                a
            });
        if used.lines as u64 + r.lines as u64 > capacity.lines as u64
            || used.channels as u64 + r.channels as u64 > capacity.channels as u64
        {
            return false;
        }
        self.reservations.insert(r.order, r.clone());
        true
    }
}

#[derive(Default)]
struct Mem {
    integrations: BTreeMap<IntegrationId, Integration>,
    by_source: BTreeMap<SourceKey, IntegrationId>,
    leases: BTreeMap<IntegrationId, DateTime<Utc>>,
    journal: BTreeMap<IntegrationId, BTreeMap<String, StepEntry>>,
    customers: BTreeMap<(CompanyId, TaxId), CustomerId>,
    links: BTreeMap<CustomerId, CustomerLinks>,
    reservations: BTreeMap<ServiceOrderId, Reservation>,
    limits: BTreeMap<String, serde_json::Value>,
    audit: Vec<AuditEvent>,
}

/// A store in memory: the same rules as the persistent ones, nothing survives the process.
#[derive(Default)]
pub struct MemoryStore(Mutex<Mem>);

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Mem> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

fn audit_matches(e: &AuditEvent, f: &AuditFilter) -> bool {
    f.integration.is_none_or(|i| e.integration == Some(i))
        && f.since.is_none_or(|s| e.at >= s)
        && f.until.is_none_or(|u| e.at < u)
        && f.actor.as_ref().is_none_or(|a| &e.actor == a)
        && f.action_prefix
            .as_ref()
            .is_none_or(|p| e.action.starts_with(p.as_str()))
}

/// Whether an integration matches a filter (shared by the stores' in-memory paths).
pub fn integration_matches(i: &Integration, f: &IntegrationFilter) -> bool {
    (f.statuses.is_empty() || f.statuses.contains(&i.status))
        && f.since.is_none_or(|s| i.received_at >= s)
        && f.until.is_none_or(|u| i.received_at < u)
        && f.company.as_ref().is_none_or(|c| &i.company == c)
        && f.customer.is_none_or(|c| i.customer == Some(c))
}

#[async_trait]
impl Store for MemoryStore {
    async fn intake(
        &self,
        new: Integration,
        mut audit: AuditEvent,
    ) -> Result<(Integration, bool), StoreError> {
        let mut m = self.lock();
        if let Some(id) = m.by_source.get(&new.source) {
            return Ok((m.integrations[id].clone(), false));
        }
        audit.integration = Some(new.id);
        m.by_source.insert(new.source.clone(), new.id);
        m.integrations.insert(new.id, new.clone());
        m.audit.push(audit);
        Ok((new, true))
    }

    async fn get(&self, id: IntegrationId) -> Result<Option<Integration>, StoreError> {
        Ok(self.lock().integrations.get(&id).cloned())
    }

    async fn find_by_source(&self, key: &SourceKey) -> Result<Option<Integration>, StoreError> {
        let m = self.lock();
        Ok(m.by_source.get(key).map(|id| m.integrations[id].clone()))
    }

    async fn list(&self, filter: &IntegrationFilter) -> Result<Vec<Integration>, StoreError> {
        let m = self.lock();
        let mut v: Vec<Integration> = m
            .integrations
            .values()
            .filter(|i| integration_matches(i, filter))
            .cloned()
            .collect();
        v.sort_by_key(|i| (i.received_at, i.id));
        if let Some(n) = filter.limit {
            v.reverse();
            v.truncate(n);
        }
        Ok(v)
    }

    async fn claim(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        max: usize,
    ) -> Result<Vec<Integration>, StoreError> {
        let mut m = self.lock();
        let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
        let mut due: Vec<(DateTime<Utc>, IntegrationId)> = m
            .integrations
            .values()
            .filter(|i| i.status == IntegrationStatus::Pending && i.next_attempt_at <= now)
            .filter(|i| m.leases.get(&i.id).is_none_or(|l| *l <= now))
            .map(|i| (i.next_attempt_at, i.id))
            .collect();
        due.sort();
        due.truncate(max);
        let mut out = Vec::with_capacity(due.len());
        for (_, id) in due {
            m.leases.insert(id, until);
            out.push(m.integrations[&id].clone());
        }
        Ok(out)
    }

    async fn unclaim(&self, id: IntegrationId) -> Result<(), StoreError> {
        self.lock().leases.remove(&id);
        Ok(())
    }

    async fn renew_leases(
        &self,
        ids: &[IntegrationId],
        until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut m = self.lock();
        for id in ids {
            let pending = m
                .integrations
                .get(id)
                .is_some_and(|i| i.status == IntegrationStatus::Pending);
            if pending && let Some(l) = m.leases.get_mut(id) {
                *l = until;
            }
        }
        Ok(())
    }

    async fn lease(
        &self,
        id: IntegrationId,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Option<Integration>, StoreError> {
        let mut m = self.lock();
        let Some(i) = m.integrations.get(&id).cloned() else {
            return Err(StoreError::NotFound(id));
        };
        if m.leases.get(&id).is_some_and(|l| *l > now) {
            return Ok(None);
        }
        let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
        m.leases.insert(id, until);
        Ok(Some(i))
    }

    async fn commit(&self, change: Change) -> Result<(), StoreError> {
        let mut m = self.lock();
        let id = change.integration.id;
        if !m.integrations.contains_key(&id) {
            return Err(StoreError::NotFound(id));
        }
        let journal = m.journal.entry(id).or_default();
        if let Some(s) = change.steps.iter().find(|s| journal.contains_key(&s.key)) {
            return Err(StoreError::StepExists {
                integration: id,
                step: s.key.clone(),
            });
        }
        if let Some(n) = &change.register_customer
            && let Some(other) = m
                .customers
                .get(&(n.company.clone(), n.tax_id))
                .filter(|c| **c != n.customer)
        {
            return Err(StoreError::CustomerRegistered { customer: *other });
        }
        // The reservations go first: without room for one, nothing of the change is stored.
        let before = (!change.reserve.is_empty()).then(|| m.reservations.clone());
        for (r, capacity) in &change.reserve {
            if !m.reserve(r, *capacity) {
                if let Some(before) = before {
                    m.reservations = before;
                }
                return Err(StoreError::NoRoom {
                    order: r.order,
                    server: r.server.clone(),
                });
            }
        }
        let journal = m.journal.entry(id).or_default();
        for s in change.steps {
            journal.insert(s.key.clone(), s);
        }
        if let Some(n) = change.register_customer {
            m.customers.insert((n.company, n.tax_id), n.customer);
        }
        if let Some((c, erp)) = change.customer_erp {
            m.links.entry(c).or_default().erp_id = Some(erp);
        }
        for (c, server, v) in change.customer_voip {
            m.links.entry(c).or_default().voip.insert(server, v);
        }
        for o in change.provisioned {
            if let Some(r) = m.reservations.get_mut(&o) {
                r.provisioned = true;
            }
        }
        for o in change.released {
            m.reservations.remove(&o);
        }
        if change.integration.status != IntegrationStatus::Pending {
            m.leases.remove(&id);
        }
        let mut integration = change.integration;
        if change.keep_raw {
            integration.raw = m.integrations.get(&id).and_then(|i| i.raw.clone());
        }
        m.integrations.insert(id, integration);
        m.audit.extend(change.audit);
        Ok(())
    }

    async fn journal(&self, id: IntegrationId) -> Result<BTreeMap<String, StepEntry>, StoreError> {
        Ok(self.lock().journal.get(&id).cloned().unwrap_or_default())
    }

    async fn customer_id_for(
        &self,
        company: &CompanyId,
        tax_id: &TaxId,
        candidate: CustomerId,
    ) -> Result<CustomerId, StoreError> {
        let mut m = self.lock();
        Ok(*m
            .customers
            .entry((company.clone(), *tax_id))
            .or_insert(candidate))
    }

    async fn find_customer(
        &self,
        company: &CompanyId,
        tax_id: &TaxId,
    ) -> Result<Option<CustomerId>, StoreError> {
        Ok(self
            .lock()
            .customers
            .get(&(company.clone(), *tax_id))
            .copied())
    }

    async fn register_direct(
        &self,
        company: &CompanyId,
        tax_id: &TaxId,
        candidate: CustomerId,
        new: Integration,
        mut audit: AuditEvent,
    ) -> Result<DirectRegistration, StoreError> {
        let mut m = self.lock();
        if let Some(existing) = m.customers.get(&(company.clone(), *tax_id)).copied() {
            return Ok(match m.by_source.get(&SourceKey::direct(existing)) {
                Some(id) => DirectRegistration::Existing(m.integrations[id].clone()),
                None => DirectRegistration::KnownElsewhere(existing),
            });
        }
        if new.source != SourceKey::direct(candidate) {
            return Err(StoreError::Corrupt(format!(
                "a direct registration must carry the source key sig/{candidate}"
            )));
        }
        m.customers.insert((company.clone(), *tax_id), candidate);
        audit.integration = Some(new.id);
        m.by_source.insert(new.source.clone(), new.id);
        m.integrations.insert(new.id, new.clone());
        m.audit.push(audit);
        Ok(DirectRegistration::Created(new))
    }

    async fn customer_links(&self, id: CustomerId) -> Result<CustomerLinks, StoreError> {
        Ok(self.lock().links.get(&id).cloned().unwrap_or_default())
    }

    async fn customer_shared(
        &self,
        customer: CustomerId,
        besides: IntegrationId,
    ) -> Result<bool, StoreError> {
        Ok(self
            .lock()
            .integrations
            .values()
            .any(|i| i.customer == Some(customer) && i.id != besides))
    }

    async fn loads(&self) -> Result<BTreeMap<ServerId, Load>, StoreError> {
        let m = self.lock();
        let mut out: BTreeMap<ServerId, Load> = BTreeMap::new();
        for r in m.reservations.values() {
            let l = out.entry(r.server.clone()).or_default();
            l.lines += r.lines;
            l.channels += r.channels;
        }
        Ok(out)
    }

    async fn reserve(&self, r: &Reservation, capacity: Load) -> Result<bool, StoreError> {
        Ok(self.lock().reserve(r, capacity))
    }

    async fn reservation(&self, order: ServiceOrderId) -> Result<Option<Reservation>, StoreError> {
        Ok(self.lock().reservations.get(&order).cloned())
    }

    async fn limit_state(&self, key: &str) -> Result<Option<serde_json::Value>, StoreError> {
        Ok(self.lock().limits.get(key).cloned())
    }

    async fn set_limit_state(
        &self,
        key: &str,
        value: &serde_json::Value,
    ) -> Result<(), StoreError> {
        self.lock().limits.insert(key.to_owned(), value.clone());
        Ok(())
    }

    async fn append_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        self.lock().audit.extend_from_slice(events);
        Ok(())
    }

    async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>, StoreError> {
        let m = self.lock();
        let mut v: Vec<AuditEvent> = m
            .audit
            .iter()
            .filter(|e| audit_matches(e, filter))
            .cloned()
            .collect();
        v.sort_by_key(|e| (e.at, e.id));
        Ok(v)
    }
}

/// Audit filtering shared by store implementations that filter in memory.
pub fn audit_event_matches(e: &AuditEvent, f: &AuditFilter) -> bool {
    audit_matches(e, f)
}

pub mod conformance;
