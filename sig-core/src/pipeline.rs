//! The integration pipeline: a durable state machine per integration, over the ports only.
//!
//! ```text
//! received → fetch → validate ─(problems)→ held ─(edit, resume)→ validate
//!                       │
//!                       └→ [fiscal] → customer → erp_customer → contract:i → server:i
//!                            → next_customer:<server> → line:i:n → did:i:j → done
//! ```
//!
//! `fiscal` runs for companies whose fiscal policy is `warn` or `block`
//! ([`Pipeline::with_fiscal`]): the customer checked at the Receita Federal's registry and
//! missing address fields filled from it, journaled with `validate`; see the `fiscal`
//! module's docs.
//!
//! Each step's result is written to the store's journal (with the audit event and any link or
//! reservation it changes, in one transaction) before the next step starts, and a journaled
//! step is never run again. Each upstream call uses SIG's natural keys (the customer, order,
//! line and DID ids minted once, in the `validate` step), so a step repeated after a crash —
//! between the upstream effect and its journal write — finds the record instead of creating a
//! second one. Failpoints (the `fail` crate, cargo feature `failpoints`) sit exactly there:
//! `after_<step>` fires after the upstream call succeeded and before its journal write.
//!
//! Independent effects share a commit: an integration's contracts (one per order) are
//! created up to [`EFFECTS_IN_FLIGHT`] at once and journaled together, then its customer on
//! each chosen server, its lines and its DIDs, each phase the same way. Each step keeps its
//! own journal entry and audit event, and a failure is returned only after the steps that
//! succeeded with it are journaled. The orders' servers (`server:i`, a decision with no
//! upstream effect) are chosen as the contracts end and journaled, with their reservations,
//! in the contracts' commit; an order a person directs, one with no server now, or a commit
//! refused because concurrent orders took the room, takes a `server:i` commit of its own.
//!
//! A create skips the look-up before it (see [`Attempt`]) only when no earlier run can have
//! sent it; for a customer's NextBilling customer, which its integrations share, also only
//! when no other integration is of that customer, and a server where one already linked it
//! is not called at all.
//!
//! Transient upstream failures are retried with exponential backoff (honouring a wait the
//! upstream gave) up to a limit, then the integration fails as retryable; permanent ones stop
//! it at once with the reason. Either way an operator can [`Pipeline::retry`] it after a fix.
//! A permanent failure releases the capacity the integration reserved but had not provisioned.
//!
//! People act on integrations through [`Pipeline::retry`], [`Pipeline::cancel`],
//! [`Pipeline::edit`], [`Pipeline::resume`] and [`Pipeline::choose_server`]: each takes the
//! [`Actor`], asks the [`Authorizer`] (set with [`Pipeline::with_authorizer`]) and audits the
//! decision, allowed or denied; a company with `hold_for_review` holds every valid proposal
//! (step `review`) until a person resumes or edits it. See the `manual` module's docs.
//!
//! **Observability.** Each run is a `tracing` span `integration` (id, company, source) and each
//! step a span `step` inside it (the upstream clients' own events land in it). Every step's
//! end is one event with target [`STEP_EVENT_TARGET`] and the fields `step` (the key), `kind`
//! (the key without its indexes: `contract`, `line`), `outcome` (`ok`, `held`, `retrying`,
//! `failed`), `duration_ms` (for `ok`), `system` and `call` — what logs show and what a metrics
//! layer counts. Events carry ids, never personal data or secrets.
//!
//! **Draining.** [`Pipeline::drain`] stops a pipeline gracefully: no new claim, integrations
//! not started yet are given back, and a running one stops after its current step is journaled
//! (parked: still pending, lease released), so another process picks it up where it stopped.
//! [`Pipeline::release_claims`] gives back whatever was claimed and not finished when the
//! caller had to abandon runs (a shutdown deadline).

mod direct;

pub use direct::{AuthorizeError, FindError, RawRegistration, RegisterError, RegisterOutcome};

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tracing::Instrument;

use crate::authz::{Authorizer, Denied};
use crate::choice::{self, Candidate, Decision, Demand};
use crate::config::{Catalog, ServerConfig};
use crate::contact::AreaCode;
use crate::domain::{Proposal, ProposalStatus};
use crate::ids::{CompanyId, CustomerId, DidId, IntegrationId, LineId, ServerId, ServiceOrderId};
use crate::ports::{
    Attempt, ContractRequest, DidRequest, Erp, ErpContract, ErpCustomer, LineRequest,
    ProposalSource, SourceKey, System, UpstreamError, VoipCustomer, VoipDid, VoipLine,
    VoipPlatform,
};
use crate::problem::Problems;
use crate::raw::RawProposal;
use crate::store::{
    Actor, AuditEvent, AuditOutcome, Change, Failure, Integration, IntegrationStatus, Load,
    NewCustomer, Reservation, StepEntry, Store, StoreError,
};

mod fiscal;
mod manual;
pub use fiscal::{FISCAL_FILL_VIA, FISCAL_STEP};
pub use manual::{EditOutcome, ManualChoice, ManualChoiceOutcome, ResumeOutcome, ServerDirective};

/// Upstream effects of one phase (an integration's contracts, Next customers, lines or DIDs)
/// in flight at once.
/// They are independent records under their own natural keys; the clients' rate limits
/// still pace them against the upstream, this bounds one integration's share.
pub const EFFECTS_IN_FLIGHT: usize = 8;

/// The `tracing` target of the one event each step's end emits (see the module docs).
pub const STEP_EVENT_TARGET: &str = "sig::step";

/// The time source (a port, so time-dependent rules are testable).
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// What the pipeline knows of a ServidorNext, from `sig.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInfo {
    /// Id.
    pub id: ServerId,
    /// Name.
    pub name: String,
    /// Area codes served.
    pub area_codes: BTreeSet<AreaCode>,
    /// Line capacity.
    pub capacity_lines: u32,
    /// Channel capacity.
    pub capacity_channels: u32,
    /// Takes new services.
    pub active: bool,
}

impl From<&ServerConfig> for ServerInfo {
    fn from(s: &ServerConfig) -> Self {
        ServerInfo {
            id: s.id.clone(),
            name: s.name.clone(),
            area_codes: s.area_codes.clone(),
            capacity_lines: s.capacity_lines,
            capacity_channels: s.capacity_channels,
            active: s.active,
        }
    }
}

/// A server the pipeline can provision on.
#[derive(Clone)]
pub struct ServerHandle {
    /// What SIG knows of it.
    pub info: ServerInfo,
    /// Its client.
    pub platform: Arc<dyn VoipPlatform>,
}

/// A company's outside systems.
#[derive(Clone)]
pub struct CompanyHandle {
    /// Id.
    pub id: CompanyId,
    /// Hold every proposal for review before integrating.
    pub hold_for_review: bool,
    /// Its ERP account.
    pub erp: Arc<dyn Erp>,
    /// Its proposal source (DocSales account), if it has one.
    pub source: Option<Arc<dyn ProposalSource>>,
}

/// How many chunks (of four times the concurrency) one [`Pipeline::run_due`] claims at most.
pub const RUN_DUE_CHUNKS: usize = 16;

/// Tuning knobs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Integrations in flight at once.
    pub concurrency: usize,
    /// Attempts per integration before a transient failure becomes `failed` (retryable).
    pub max_attempts: u32,
    /// First retry delay; doubles per attempt.
    pub backoff_base: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
    /// How long a claimed integration is leased to this worker without a renewal (renewed
    /// every third of it while it runs; a crashed worker's work comes back after one lease).
    pub lease: Duration,
    /// Health-probe timeout per server.
    pub health_timeout: Duration,
    /// How long a health result is reused.
    pub health_ttl: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            concurrency: 16,
            max_attempts: 8,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(300),
            lease: Duration::from_secs(30),
            health_timeout: Duration::from_secs(5),
            health_ttl: Duration::from_secs(30),
        }
    }
}

/// Why the pipeline itself could not go on (upstream failures are not errors here: they are
/// recorded on the integration).
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The company is not configured.
    #[error("company {0} is not configured")]
    UnknownCompany(CompanyId),
    /// The integration does not exist.
    #[error("integration {0} not found")]
    NotFound(IntegrationId),
    /// The operation does not apply to the integration in its current state.
    #[error("integration {id} is {status}: {reason}")]
    InvalidState {
        /// Integration.
        id: IntegrationId,
        /// Its status.
        status: IntegrationStatus,
        /// Why the operation does not apply.
        reason: String,
    },
    /// The actor may not do this (the decision is in the audit).
    #[error(transparent)]
    Denied(#[from] Denied),
    /// The actor may not edit some fields of a patch (each decision is in the audit); nothing
    /// was applied.
    #[error("{}", manual::fields_denied(.0))]
    FieldsDenied(Vec<Denied>),
    /// The patch names fields, orders or items that do not exist; nothing was applied.
    #[error("invalid patch: {0}")]
    InvalidPatch(Problems),
    /// A bad argument (an unknown server, an order the proposal does not have, a blank
    /// reason).
    #[error("{field}: {reason}")]
    BadInput {
        /// The argument.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// A worker is running the integration right now; try again in a moment.
    #[error("integration {0} is being worked on right now; try again in a moment")]
    Busy(IntegrationId),
    /// The proposal still does not validate: it stays held.
    #[error("integration {id} still has {} validation problem(s) and stays held: {problems}", .problems.len())]
    StillInvalid {
        /// Integration.
        id: IntegrationId,
        /// Every problem.
        problems: Problems,
    },
    /// A manual server choice is refused: the server fails the checks and it was not forced.
    #[error(
        "server {server} for order {order} of integration {id} is refused: {}; an admin may force it with a written reason",
        .reasons.join("; ")
    )]
    ServerRefused {
        /// Integration.
        id: IntegrationId,
        /// The order index.
        order: usize,
        /// The server chosen.
        server: ServerId,
        /// The checks it fails.
        reasons: Vec<String>,
    },
    /// An upstream call the operation needed failed (reading the proposal from its source to
    /// edit it); retrying may help, see the error.
    #[error("integration {id}: {error}")]
    Upstream {
        /// Integration.
        id: IntegrationId,
        /// The failure.
        error: Box<UpstreamError>,
    },
}

/// What an intake did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum IntakeOutcome {
    /// A new integration was created.
    Created {
        /// Its id.
        integration: IntegrationId,
    },
    /// The source record already had an integration.
    Duplicate {
        /// The existing one.
        integration: IntegrationId,
    },
    /// Not an approval: recorded and ignored.
    Ignored {
        /// The status received.
        status: String,
    },
}

/// What a reconciliation pass did ([`Pipeline::reconcile`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reconciled {
    /// Approved proposals listed by the sources.
    pub seen: usize,
    /// Integrations created now (approvals SIG had not heard of).
    pub created: usize,
    /// Approvals SIG already had an integration for.
    pub known: usize,
    /// Companies whose listing failed.
    pub failures: Vec<ReconcileFailure>,
}

/// A company whose approved proposals could not be listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconcileFailure {
    /// The company.
    pub company: CompanyId,
    /// Why (the upstream error, redacted by its client).
    pub reason: String,
    /// Whether the next pass may succeed.
    pub retryable: bool,
}

/// The ids SIG mints for an integration's records, once, in the `validate` step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderIds {
    /// The service order.
    pub order: ServiceOrderId,
    /// One per SIP line.
    pub lines: Vec<LineId>,
    /// One per DID.
    pub dids: Vec<DidId>,
}

/// The `validate` step's journaled result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validated {
    /// The validated proposal.
    pub proposal: Proposal,
    /// Ids per order, in order.
    pub orders: Vec<OrderIds>,
}

/// The journal key of a person's review approval (companies that hold every proposal for
/// review).
pub const REVIEW_STEP: &str = "review";

/// The `server:i` step's journaled result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerChoice {
    /// The server.
    pub server: ServerId,
    /// Who chose: `automatic`, or the user.
    pub chosen_by: String,
    /// The automatic decision (what it chose and why, or would have).
    pub decision: Decision,
    /// A person's choice: who, why, whether forced and what it overrode (`None`: automatic).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manual: Option<ManualChoice>,
}

/// The pipeline. Its state is shared (an `Arc`), so each integration of a batch runs as its
/// own task on the runtime's worker threads.
pub struct Pipeline {
    shared: Arc<Shared>,
}

impl std::ops::Deref for Pipeline {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.shared
    }
}

/// What a [`Pipeline`] and the tasks running its integrations share (reached through the
/// pipeline; not built on its own).
pub struct Shared {
    store: Arc<dyn Store>,
    companies: BTreeMap<CompanyId, CompanyHandle>,
    servers: Vec<ServerHandle>,
    catalog: Arc<Catalog>,
    clock: Arc<dyn Clock>,
    settings: Settings,
    authorizer: Arc<Authorizer>,
    customer_locks: Mutex<HashMap<CustomerId, Arc<tokio::sync::Mutex<()>>>>,
    health: Mutex<HashMap<ServerId, (Instant, Option<String>)>>,
    /// Set by [`Pipeline::drain`].
    draining: AtomicBool,
    /// Integrations this pipeline claimed and has not finished with (given back on a drain).
    claimed: Mutex<HashSet<IntegrationId>>,
    /// The fiscal lookup ([`Pipeline::with_fiscal`]); `None`: no company is checked.
    fiscal: Option<Arc<dyn crate::ports::FiscalLookup>>,
    /// Each company's fiscal policy (absent: `off`).
    fiscal_policies: BTreeMap<CompanyId, crate::fiscal::FiscalPolicy>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("companies", &self.companies.keys().collect::<Vec<_>>())
            .field(
                "servers",
                &self.servers.iter().map(|s| &s.info.id).collect::<Vec<_>>(),
            )
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Either an upstream failure (recorded on the integration) or a store failure (propagated).
enum StepError {
    Upstream {
        step: String,
        error: Box<UpstreamError>,
    },
    Permanent {
        step: String,
        system: Option<System>,
        reason: String,
    },
    Store(StoreError),
    /// The pipeline is draining: stop after the step just journaled.
    Parked,
}

impl StepError {
    /// The error of step `step` whose upstream call failed with `error`.
    fn upstream(step: &str) -> impl FnOnce(UpstreamError) -> StepError + '_ {
        move |error| StepError::Upstream {
            error: Box::new(error),
            step: step.to_owned(),
        }
    }
}

impl From<StoreError> for StepError {
    fn from(e: StoreError) -> Self {
        StepError::Store(e)
    }
}

/// How one integration's run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutcome {
    /// Reached done.
    Done,
    /// Stopped for a person.
    Held,
    /// Will be retried later.
    Retrying,
    /// Failed.
    Failed,
    /// Nothing to do (not pending).
    Skipped,
    /// Stopped by a drain between steps (or before starting): still pending, lease released.
    Parked,
}

/// A failpoint behind an upstream effect: records the effect for the crash-test callback
/// ([`crate::failpoints::context`]), then evaluates the failpoint — on the same thread, with
/// no `await` in between.
macro_rules! failpoint {
    ($name:expr, $integration:expr, $step:expr, $system:expr, $server:expr, $kind:expr, $key:expr, $upstream:expr) => {
        #[cfg(feature = "failpoints")]
        {
            crate::failpoints::set_context(crate::failpoints::Effect {
                failpoint: $name.to_owned(),
                integration: $integration.to_string(),
                step: $step.to_string(),
                system: $system.to_owned(),
                server: $server,
                kind: $kind.to_owned(),
                key: $key.to_string(),
                upstream_id: $upstream,
            });
            fail::fail_point!($name);
        }
    };
}

impl Pipeline {
    /// Build a pipeline.
    pub fn new(
        store: Arc<dyn Store>,
        companies: Vec<CompanyHandle>,
        servers: Vec<ServerHandle>,
        catalog: Arc<Catalog>,
        clock: Arc<dyn Clock>,
        settings: Settings,
    ) -> Self {
        let shared = Shared {
            store,
            companies: companies.into_iter().map(|c| (c.id.clone(), c)).collect(),
            servers,
            catalog,
            clock,
            settings,
            authorizer: Arc::new(Authorizer::default()),
            customer_locks: Mutex::new(HashMap::new()),
            health: Mutex::new(HashMap::new()),
            draining: AtomicBool::new(false),
            claimed: Mutex::new(HashSet::new()),
            fiscal: None,
            fiscal_policies: BTreeMap::new(),
        };
        Pipeline {
            shared: Arc::new(shared),
        }
    }

    /// The shared state, to configure a pipeline that has not run yet (the `with_*`
    /// builders). Only the tasks of a running [`run_due`](Self::run_due) hold other
    /// references, and they end with it.
    fn configure(&mut self) -> &mut Shared {
        Arc::get_mut(&mut self.shared)
            .expect("a pipeline is configured (with_*) before any integration runs on it")
    }

    /// Another handle on this pipeline, for a task that runs one of its integrations.
    fn handle(&self) -> Pipeline {
        Pipeline {
            shared: self.shared.clone(),
        }
    }

    /// Use this authorizer for the operations people run (the default has the built-in
    /// policy and no users, so every person is denied; build it with
    /// [`Authorizer::from_config`]).
    pub fn with_authorizer(mut self, authorizer: Authorizer) -> Self {
        self.configure().authorizer = Arc::new(authorizer);
        self
    }

    /// The authorizer.
    pub fn authorizer(&self) -> &Authorizer {
        &self.authorizer
    }

    /// Stop gracefully: claim nothing more, give back claimed integrations not started yet,
    /// and park running ones after their current step (see the module docs). Irreversible.
    pub fn drain(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// Whether [`Pipeline::drain`] was called.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Integrations claimed by this pipeline whose run has not ended (in flight or waiting
    /// for a turn).
    pub fn in_flight(&self) -> Vec<IntegrationId> {
        let mut v: Vec<_> = self.claimed_set().iter().copied().collect();
        v.sort();
        v
    }

    /// Give back (unclaim) every integration this pipeline claimed and did not finish — for a
    /// caller that abandoned runs (dropped `run_due` futures at a shutdown deadline). Returns
    /// how many leases were released.
    pub async fn release_claims(&self) -> Result<usize, StoreError> {
        let ids: Vec<IntegrationId> = self.claimed_set().drain().collect();
        for id in &ids {
            self.store.unclaim(*id).await?;
        }
        Ok(ids.len())
    }

    fn claimed_set(&self) -> std::sync::MutexGuard<'_, HashSet<IntegrationId>> {
        self.claimed.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Record a notification or registration. Only an approved status creates an integration
    /// (idempotently, by source key); others are audited and ignored. `raw` is stored for
    /// sources that carry the data themselves (direct registrations, migration); DocSales
    /// proposals are always re-fetched by the `fetch` step.
    pub async fn intake(
        &self,
        company: &CompanyId,
        source: SourceKey,
        status: &ProposalStatus,
        actor: Actor,
        raw: Option<RawProposal>,
    ) -> Result<IntakeOutcome, PipelineError> {
        if !self.companies.contains_key(company) {
            return Err(PipelineError::UnknownCompany(company.clone()));
        }
        let now = self.clock.now();
        if !status.starts_integration() {
            let mut e = AuditEvent::new(
                now,
                actor,
                "notification.ignored",
                AuditOutcome::Skipped,
                format!(
                    "proposal {} is {status}; only an approval starts an integration",
                    source.proposal_id
                ),
            );
            e.details = serde_json::json!({"account": source.account, "proposal_id": source.proposal_id, "status": status.as_str()});
            self.store.append_audit(&[e]).await?;
            return Ok(IntakeOutcome::Ignored {
                status: status.as_str().to_owned(),
            });
        }
        let mut new = Integration::new(company.clone(), source.clone(), actor.clone(), now);
        new.raw = raw;
        let mut e = AuditEvent::new(
            now,
            actor,
            "intake",
            AuditOutcome::Ok,
            format!("proposal {} received", source.proposal_id),
        );
        e.details =
            serde_json::json!({"account": source.account, "proposal_id": source.proposal_id});
        let (i, created) = self.store.intake(new, e).await?;
        Ok(if created {
            IntakeOutcome::Created { integration: i.id }
        } else {
            IntakeOutcome::Duplicate { integration: i.id }
        })
    }

    /// Claim due work and run it, at most `settings.concurrency` at once. Returns how many
    /// integrations were run.
    ///
    /// Work is claimed ahead in chunks of up to four times the concurrency, and claimed again
    /// whenever fewer than twice the concurrency are left waiting or running, so the workers
    /// never idle waiting for the slowest integration of a chunk before the next starts.
    /// Claiming stops when a claim finds less than it asked for, after [`RUN_DUE_CHUNKS`]
    /// chunks' worth (so a caller regains control now and then under a steady stream, to save
    /// state or stop), or once [`Pipeline::drain`] is called; the call returns when
    /// everything it claimed has run.
    ///
    /// While it runs, its leases are renewed every third of `settings.lease` (a heartbeat): a
    /// worker that dies stops renewing, so its work comes back to any worker one lease later,
    /// while a slow step in a live worker never loses its integration to another.
    pub async fn run_due(&self) -> Result<usize, PipelineError> {
        if self.is_draining() {
            return Ok(0);
        }
        let concurrency = self.settings.concurrency.max(1);
        let chunk = concurrency * 4;
        let sem = Arc::new(tokio::sync::Semaphore::new(concurrency));
        // Each integration is a task of its own, so a run uses every worker thread; the set
        // aborts them if this future is dropped (as a crash would, between journaled steps).
        let mut tasks = tokio::task::JoinSet::new();
        let mut ids = HashMap::new();
        let (mut ran, mut more) = self.claim_into(&mut tasks, &mut ids, &sem, chunk).await?;
        if ran == 0 {
            return Ok(0);
        }
        let work = async {
            let mut first_error = None;
            while let Some(joined) = tasks.join_next_with_id().await {
                let result = match joined {
                    Ok((_, r)) => r,
                    Err(e) => {
                        // A panicked task: its integration stays pending and comes back to a
                        // worker when its lease runs out.
                        let id = ids.get(&e.id()).copied();
                        if let Some(id) = id {
                            self.claimed_set().remove(&id);
                        }
                        tracing::error!(integration = ?id, error = %e, "an integration task failed");
                        Err(PipelineError::Store(StoreError::Unavailable(format!(
                            "the task running integration {} failed: {e}",
                            id.map_or_else(|| "?".to_owned(), |i| i.to_string())
                        ))))
                    }
                };
                if let Err(e) = result {
                    first_error.get_or_insert(e);
                }
                more &= ran < chunk * RUN_DUE_CHUNKS && !self.is_draining();
                if more && tasks.len() < concurrency * 2 {
                    let want = chunk - tasks.len();
                    match self.claim_into(&mut tasks, &mut ids, &sem, want).await {
                        Ok((n, full)) => {
                            ran += n;
                            more = full;
                        }
                        Err(e) => {
                            // What is running finishes; the caller sees the store's failure.
                            more = false;
                            first_error.get_or_insert(e);
                        }
                    }
                }
            }
            first_error
        };
        // The heartbeat runs beside the work, never instead of it: a renewal waiting for the
        // store's writer must not stop the runs that hold it from being polled.
        let every = (self.settings.lease / 3).max(Duration::from_millis(10));
        let heartbeat = async {
            loop {
                tokio::time::sleep(every).await;
                let ids: Vec<IntegrationId> = self.claimed_set().iter().copied().collect();
                let until = self.clock.now()
                    + chrono::Duration::from_std(self.settings.lease)
                        .unwrap_or(chrono::Duration::MAX);
                if let Err(e) = self.store.renew_leases(&ids, until).await {
                    tracing::warn!(error = %e, "cannot renew leases");
                }
            }
        };
        let first_error = tokio::select! {
            r = work => r,
            never = heartbeat => never,
        };
        match first_error {
            Some(e) => Err(e),
            None => Ok(ran),
        }
    }

    /// Claim up to `max` due integrations and spawn a task for each into `tasks` (each waits
    /// for a permit of `sem`). Returns how many were claimed and whether that was all that
    /// was asked for (so more may be due).
    async fn claim_into(
        &self,
        tasks: &mut tokio::task::JoinSet<Result<RunOutcome, PipelineError>>,
        ids: &mut HashMap<tokio::task::Id, IntegrationId>,
        sem: &Arc<tokio::sync::Semaphore>,
        max: usize,
    ) -> Result<(usize, bool), PipelineError> {
        let batch = self
            .store
            .claim(self.clock.now(), self.settings.lease, max)
            .await?;
        let full = batch.len() >= max;
        // An integration this pipeline is already running (claimed again after its lease was
        // renewed by another run) is never run twice at once.
        let batch: Vec<Integration> = {
            let mut claimed = self.claimed_set();
            batch.into_iter().filter(|i| claimed.insert(i.id)).collect()
        };
        let n = batch.len();
        for i in batch {
            let sem = sem.clone();
            let this = self.handle();
            let id = i.id;
            let task = tasks.spawn(
                async move {
                    let permit = sem.acquire().await;
                    let r = if this.is_draining() || permit.is_err() {
                        // Not started: give it back for another process.
                        this.store
                            .unclaim(id)
                            .await
                            .map(|()| RunOutcome::Parked)
                            .map_err(Into::into)
                    } else {
                        this.run(i).await
                    };
                    drop(permit);
                    if r.is_err() {
                        // Leave nothing leased on a store failure; the next claim retries it.
                        let _ = this.store.unclaim(id).await;
                    }
                    this.claimed_set().remove(&id);
                    r
                }
                .in_current_span(),
            );
            ids.insert(task.id(), id);
        }
        Ok((n, full))
    }

    /// Run until no integration is pending (waiting for backoffs as needed).
    pub async fn run_until_idle(&self) -> Result<(), PipelineError> {
        loop {
            let ran = self.run_due().await?;
            if ran > 0 {
                continue;
            }
            let pending = self
                .store
                .list(&crate::store::IntegrationFilter {
                    statuses: vec![IntegrationStatus::Pending],
                    ..Default::default()
                })
                .await?;
            let Some(next) = pending.iter().map(|i| i.next_attempt_at).min() else {
                return Ok(());
            };
            // Due but not claimed: leased by another worker, or by one that died (its lease
            // runs out); poll gently meanwhile.
            let wait = (next - self.clock.now()).to_std().unwrap_or(Duration::ZERO);
            tokio::time::sleep(wait.clamp(Duration::from_millis(50), Duration::from_secs(1))).await;
        }
    }

    /// Reconciliation: list every company's approved proposals from its source (all pages)
    /// and take each in as an approval from [`Actor::System`] — idempotent by source key, so
    /// an approval whose webhook never arrived is integrated and one already known changes
    /// nothing. A company whose listing fails is reported in [`Reconciled::failures`]; the
    /// others are still reconciled. A failure mid-listing keeps what was taken in so far.
    pub async fn reconcile(&self) -> Result<Reconciled, PipelineError> {
        let mut out = Reconciled::default();
        for company in self.companies.values() {
            let Some(source) = &company.source else {
                continue;
            };
            let mut cursor: Option<String> = None;
            loop {
                let page = match source.list_approved(cursor.as_deref()).await {
                    Ok(p) => p,
                    Err(e) => {
                        out.failures.push(ReconcileFailure {
                            company: company.id.clone(),
                            reason: e.to_string(),
                            retryable: e.is_retryable(),
                        });
                        break;
                    }
                };
                for key in page.keys {
                    out.seen += 1;
                    // Known ones are found with a read, not a write transaction.
                    if self.store.find_by_source(&key).await?.is_some() {
                        out.known += 1;
                        continue;
                    }
                    match self
                        .intake(
                            &company.id,
                            key,
                            &ProposalStatus::Approved,
                            Actor::System,
                            None,
                        )
                        .await?
                    {
                        IntakeOutcome::Created { .. } => out.created += 1,
                        IntakeOutcome::Duplicate { .. } => out.known += 1,
                        IntakeOutcome::Ignored { .. } => {}
                    }
                }
                match page.next_cursor {
                    Some(c) if cursor.as_deref() != Some(c.as_str()) => cursor = Some(c),
                    _ => break,
                }
            }
        }
        Ok(out)
    }

    /// Run one integration as far as it goes now, in its `integration` span.
    pub async fn run(&self, integration: Integration) -> Result<RunOutcome, PipelineError> {
        let span = tracing::info_span!(
            "integration",
            id = %integration.id,
            company = %integration.company,
            account = %integration.source.account,
            proposal = %integration.source.proposal_id,
        );
        async move {
            let r = self.run_inner(integration).await;
            match &r {
                Ok(outcome) => tracing::debug!(outcome = ?outcome, "integration run ended"),
                Err(e) => tracing::error!(error = %e, "integration run stopped by the store"),
            }
            r
        }
        .instrument(span)
        .await
    }

    async fn run_inner(&self, integration: Integration) -> Result<RunOutcome, PipelineError> {
        if integration.status != IntegrationStatus::Pending {
            return Ok(RunOutcome::Skipped);
        }
        let id = integration.id;
        let mut state = integration;
        match self.steps(&mut state).await {
            Ok(outcome) => Ok(outcome),
            Err(StepError::Store(e)) => Err(e.into()),
            Err(StepError::Parked) => {
                self.store.unclaim(id).await?;
                tracing::info!(step = ?state.step, "integration parked: the pipeline is draining");
                Ok(RunOutcome::Parked)
            }
            Err(StepError::Upstream { step, error }) => {
                // Re-read: the state may have advanced before the failing step.
                let mut state = self
                    .store
                    .get(id)
                    .await?
                    .ok_or(PipelineError::NotFound(id))?;
                Ok(self
                    .record_upstream_failure(&mut state, step, *error)
                    .await?)
            }
            Err(StepError::Permanent {
                step,
                system,
                reason,
            }) => {
                tracing::warn!(
                    target: STEP_EVENT_TARGET,
                    step = %step,
                    kind = step_kind(&step),
                    outcome = "failed",
                    system = system.map(|s| s.to_string()),
                    error = %reason,
                    "step failed"
                );
                let mut state = self
                    .store
                    .get(id)
                    .await?
                    .ok_or(PipelineError::NotFound(id))?;
                let failure = Failure {
                    step,
                    system,
                    code: None,
                    reason,
                    retryable: false,
                };
                self.fail(&mut state, failure).await?;
                Ok(RunOutcome::Failed)
            }
        }
    }

    async fn record_upstream_failure(
        &self,
        state: &mut Integration,
        step: String,
        error: UpstreamError,
    ) -> Result<RunOutcome, StoreError> {
        let now = self.clock.now();
        state.attempts += 1;
        let reason = error.to_string();
        let mut e = AuditEvent::new(
            now,
            Actor::System,
            format!("step.{step}"),
            AuditOutcome::Error,
            &reason,
        );
        e.integration = Some(state.id);
        e.system = Some(error.system);
        e.call = Some(error.call.clone());
        e.details = serde_json::json!({
            "kind": error.kind, "status": error.status, "code": error.code,
            "maybe_applied": error.maybe_applied, "attempt": state.attempts,
        });
        let retrying = error.is_retryable() && state.attempts < self.settings.max_attempts;
        tracing::warn!(
            target: STEP_EVENT_TARGET,
            step = %step,
            kind = step_kind(&step),
            outcome = if retrying { "retrying" } else { "failed" },
            system = %error.system,
            call = %error.call,
            error_kind = ?error.kind,
            status = error.status,
            attempt = state.attempts,
            error = %reason,
            "step failed"
        );
        if retrying {
            let backoff = self.backoff(state.attempts);
            let wait = error.retry_after.map_or(backoff, |w| w.max(backoff));
            state.next_attempt_at =
                now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
            state.step = Some(step);
            let mut change = Change::state(state.clone());
            change.audit.push(e);
            self.store.commit(change).await?;
            self.store.unclaim(state.id).await?;
            return Ok(RunOutcome::Retrying);
        }
        let failure = Failure {
            step,
            system: Some(error.system),
            code: error.code.clone(),
            reason,
            retryable: error.is_retryable(),
        };
        self.store.append_audit(&[e]).await?;
        self.fail(state, failure).await?;
        Ok(RunOutcome::Failed)
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .settings
            .backoff_base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let capped = exp.min(self.settings.backoff_max);
        // Deterministic jitter in [50 %, 100 %] derived from the clock's sub-second part.
        let nanos = self.clock.now().timestamp_subsec_nanos() as u64;
        let frac = 500 + (nanos % 501);
        capped.mul_f64(frac as f64 / 1000.0)
    }

    async fn fail(&self, state: &mut Integration, failure: Failure) -> Result<(), StoreError> {
        tracing::warn!(
            step = %failure.step,
            system = ?failure.system,
            code = ?failure.code,
            retryable = failure.retryable,
            reason = %failure.reason,
            "integration failed"
        );
        let now = self.clock.now();
        let journal = self.store.journal(state.id).await?;
        // Release capacity reserved but not provisioned (a permanent failure).
        let mut released = Vec::new();
        if !failure.retryable {
            for (k, v) in &journal {
                if k.starts_with("server:")
                    && let Ok(c) = serde_json::from_value::<ServerChoiceWithOrder>(v.result.clone())
                {
                    released.push(c.order);
                }
            }
        }
        state.status = IntegrationStatus::Failed;
        state.finished_at = Some(now);
        state.step = Some(failure.step.clone());
        let mut e = AuditEvent::new(
            now,
            Actor::System,
            "failed",
            AuditOutcome::Error,
            &failure.reason,
        );
        e.integration = Some(state.id);
        e.details = serde_json::to_value(&failure).unwrap_or_default();
        state.failure = Some(failure);
        let mut change = Change::state(state.clone());
        change.released = released;
        change.audit.push(e);
        self.store.commit(change).await
    }

    fn company(&self, id: &CompanyId) -> Result<&CompanyHandle, StepError> {
        self.companies.get(id).ok_or_else(|| StepError::Permanent {
            step: "configuration".into(),
            system: None,
            reason: format!("company {id} is not configured"),
        })
    }

    async fn commit_step(
        &self,
        state: &mut Integration,
        done: StepDone<'_>,
        extra: impl FnOnce(&mut Change),
    ) -> Result<StepEntry, StepError> {
        let mut entries = self.commit_steps(state, vec![done], extra).await?;
        Ok(entries.remove(0))
    }

    /// Journal steps that ended together (in order) in one commit: each keeps its own journal
    /// entry, audit event and "step done" event, as if committed one after another.
    async fn commit_steps(
        &self,
        state: &mut Integration,
        dones: Vec<StepDone<'_>>,
        extra: impl FnOnce(&mut Change),
    ) -> Result<Vec<StepEntry>, StepError> {
        let now = self.clock.now();
        // From the `customer` step on, a run no longer changes the proposal document (the
        // fetch sets it; registry fills and edits happen before validation or while held,
        // and commit themselves): those commits keep the stored one instead of copying and
        // re-encoding it each step.
        let raw_changed = dones.iter().any(|d| matches!(d.key, "fetch" | "validate"));
        if let Some(last) = dones.last() {
            state.step = Some(last.key.to_owned());
        }
        let mut change = if raw_changed {
            Change::state(state.clone())
        } else {
            Change::state_keeping_raw(state)
        };
        let mut ended = Vec::with_capacity(dones.len());
        for done in dones {
            let StepDone {
                key,
                result,
                started,
                system,
                call,
                summary,
            } = done;
            let duration_ms = started.elapsed().as_millis() as u64;
            let mut e = AuditEvent::new(
                now,
                Actor::System,
                format!("step.{key}"),
                AuditOutcome::Ok,
                summary,
            );
            e.integration = Some(state.id);
            e.system = system;
            e.call = call.map(str::to_owned);
            e.duration_ms = Some(duration_ms);
            e.details = serde_json::json!({
                "started_at": now - chrono::Duration::milliseconds(duration_ms as i64),
                "result": redact_result(&result),
            });
            let entry = StepEntry {
                key: key.to_owned(),
                result,
                at: now,
                duration_ms,
            };
            change.steps.push(entry.clone());
            change.audit.push(e);
            ended.push((entry, started.span, system, call));
        }
        extra(&mut change);
        let span = ended.first().map(|(_, span, ..)| span.clone());
        self.store
            .commit(change)
            .instrument(span.unwrap_or_else(tracing::Span::none))
            .await?;
        for (entry, span, system, call) in &ended {
            let key = entry.key.as_str();
            span.in_scope(|| {
                tracing::info!(
                    target: STEP_EVENT_TARGET,
                    step = key,
                    kind = step_kind(key),
                    outcome = "ok",
                    duration_ms = entry.duration_ms,
                    system = system.map(|s| s.to_string()),
                    call = *call,
                    "step done"
                )
            });
        }
        if self.is_draining() {
            return Err(StepError::Parked);
        }
        Ok(ended.into_iter().map(|(entry, ..)| entry).collect())
    }

    fn customer_lock(&self, id: CustomerId) -> Arc<tokio::sync::Mutex<()>> {
        let mut m = self
            .customer_locks
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        m.entry(id).or_default().clone()
    }

    /// The `fetch` step: read the proposal from its source (DocSales) unless the intake
    /// carried it, and journal it. An edit made before the worker got here runs this step
    /// itself first, so the edit applies over the fetched proposal and a later run never
    /// fetches again over it.
    async fn fetch_step(
        &self,
        state: &mut Integration,
        company: &CompanyHandle,
    ) -> Result<StepEntry, StepError> {
        let done = self.fetch(state, company).await?;
        self.commit_step(state, done, |_| {}).await
    }

    /// The `fetch` step up to its journal entry: the proposal re-read from its source (or
    /// taken as the intake carried it) into `state.raw`. A read has no upstream effect, so its
    /// entry may be committed with the steps after it.
    async fn fetch(
        &self,
        state: &mut Integration,
        company: &CompanyHandle,
    ) -> Result<StepDone<'static>, StepError> {
        let mut started = StepStart::new("fetch");
        let mut field_sources = crate::ports::FieldSources::new();
        let mut mapping_problems = Problems::new();
        let mut fetched = false;
        let raw = match (&state.raw, &company.source) {
            (Some(raw), _) => raw.clone(),
            (None, Some(src)) => {
                let sp = src
                    .fetch(&state.source.proposal_id)
                    .instrument(started.span())
                    .await
                    .map_err(StepError::upstream("fetch"))?;
                fetched = true;
                field_sources = sp.field_sources;
                mapping_problems = sp.mapping_problems;
                sp.raw
            }
            (None, None) => {
                return Err(StepError::Permanent {
                    step: "fetch".into(),
                    system: None,
                    reason: "no proposal data and no source configured for the company".into(),
                });
            }
        };
        state.raw = Some(raw);
        let result = serde_json::json!({"field_sources": field_sources, "mapping_problems": mapping_problems});
        let (system, call, summary) = if fetched {
            (
                Some(System::DocSales),
                Some("fetch"),
                "proposal re-read from its source",
            )
        } else {
            (None, None, "proposal data carried by the intake")
        };
        // Its duration is the read's, whenever it is committed.
        started.freeze();
        Ok(StepDone {
            key: "fetch",
            result,
            started,
            system,
            call,
            summary: summary.into(),
        })
    }

    /// Validate a proposal as the `validate` step does: the proposal itself, the mapping
    /// problems its source reported when it was fetched (less those on fields a person has
    /// edited since — `edit:n` journal entries), and the re-read status. Problems carry the
    /// source field they came from.
    fn check_proposal(
        &self,
        source: &SourceKey,
        raw: &RawProposal,
        journal: &BTreeMap<String, StepEntry>,
    ) -> Result<Proposal, Problems> {
        let fetch = journal
            .get("fetch")
            .map(|e| e.result.clone())
            .unwrap_or_default();
        let mapping: Problems =
            serde_json::from_value(fetch["mapping_problems"].clone()).unwrap_or_default();
        let sources: Vec<(String, String)> =
            serde_json::from_value(fetch["field_sources"].clone()).unwrap_or_default();
        let edited = manual::edited_fields(journal);
        let mut problems = Problems(
            mapping
                .0
                .into_iter()
                .filter(|p| !edited.iter().any(|e| manual::covers(e, &p.field)))
                .collect(),
        );
        // Direct registrations and migrated rows may have no service orders.
        let mut outcome = if source.is_direct() {
            raw.validate_registration(&self.catalog)
        } else {
            raw.validate(&self.catalog)
        };
        if let Ok(proposal) = &outcome
            && !proposal.status.starts_integration()
        {
            // The re-read proposal is what counts, not the notification.
            let mut p = Problems::new();
            p.add(
                "status",
                crate::problem::Code::Inconsistent,
                format!(
                    "the proposal is '{}' in its source; only approved proposals are integrated",
                    proposal.status
                ),
            );
            outcome = Err(p);
        }
        match outcome {
            Ok(proposal) if problems.is_empty() => Ok(proposal),
            other => {
                if let Err(p) = other {
                    problems.0.extend(p.0);
                }
                for (domain, source) in &sources {
                    problems.trace_source(domain, source);
                }
                Err(problems)
            }
        }
    }

    async fn steps(&self, state: &mut Integration) -> Result<RunOutcome, StepError> {
        let company = self.company(&state.company)?.clone();
        let mut journal = self.store.journal(state.id).await?;
        // Whether this run has journaled a step yet: once it has, no earlier run can have
        // attempted any later step (steps run in order, each after the one before it is
        // journaled), so their creates are a first attempt (`Attempt`).
        let mut fresh = false;

        // fetch: DocSales proposals are always re-read; direct ones carry their data. A read
        // has no upstream effect: when `validate` runs next and passes, the fetch is
        // journaled in its commit (a crash before it re-reads the proposal); any other way
        // on commits it first, as a step of its own.
        let mut pending_fetch = None;
        if !journal.contains_key("fetch") {
            let done = self.fetch(state, &company).await?;
            let defer = !journal.contains_key("validate")
                && !company.hold_for_review
                && self.fiscal_run(&company.id).is_none();
            if defer {
                // Validation reads the fetch's result (the mapping problems) from the journal.
                journal.insert(
                    done.key.to_owned(),
                    StepEntry {
                        key: done.key.to_owned(),
                        result: done.result.clone(),
                        at: self.clock.now(),
                        duration_ms: done.started.elapsed().as_millis() as u64,
                    },
                );
                pending_fetch = Some(done);
            } else {
                let entry = self.commit_step(state, done, |_| {}).await?;
                fresh = true;
                journal.insert(entry.key.clone(), entry);
            }
        }

        // validate (or hold: for its problems, or for review when the company asks for it).
        let validated: Validated = match journal.get("validate") {
            Some(e) => serde_json::from_value(e.result.clone())
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            None => {
                let started = StepStart::new("validate");
                // fiscal (a company policy other than off): the registry may complete a
                // missing address before validation decides (see the `fiscal` module).
                let mut fiscal = self.fiscal_run(&company.id);
                if let Some(run) = fiscal.as_mut() {
                    self.fiscal_fill(
                        run,
                        state,
                        &mut journal,
                        fiscal::FillStage::BeforeValidation,
                    )
                    .await?;
                }
                let raw = state.raw.clone().unwrap_or_default();
                match self.check_proposal(&state.source, &raw, &journal) {
                    Ok(_) if company.hold_for_review && !journal.contains_key(REVIEW_STEP) => {
                        let now = self.clock.now();
                        state.status = IntegrationStatus::Held;
                        state.held_since = Some(now);
                        state.step = Some(REVIEW_STEP.into());
                        state.problems = Problems::new();
                        let mut e = AuditEvent::new(
                            now,
                            Actor::System,
                            "step.review",
                            AuditOutcome::Held,
                            format!(
                                "held for review: company {} reviews every proposal before it is integrated",
                                company.id
                            ),
                        );
                        e.integration = Some(state.id);
                        let mut change = Change::state(state.clone());
                        change.audit.push(e);
                        self.store.commit(change).await?;
                        return Ok(RunOutcome::Held);
                    }
                    Ok(proposal) => {
                        // fiscal: the customer checked at the registry; held, or journaled
                        // with `validate` below.
                        let (proposal, fiscal_done) = match fiscal {
                            None => (proposal, None),
                            Some(run) => match self
                                .fiscal_check(run, state, &mut journal, proposal)
                                .await?
                            {
                                fiscal::FiscalOutcome::Held => return Ok(RunOutcome::Held),
                                fiscal::FiscalOutcome::Go { proposal, done } => {
                                    (*proposal, Some(done))
                                }
                            },
                        };
                        let orders = proposal
                            .orders
                            .iter()
                            .map(|o| OrderIds {
                                order: ServiceOrderId::new(),
                                lines: (0..o.sip_lines).map(|_| LineId::new()).collect(),
                                dids: o.dids.iter().map(|_| DidId::new()).collect(),
                            })
                            .collect();
                        let v = Validated { proposal, orders };
                        let result = serde_json::to_value(&v)
                            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                        state.problems = Problems::new();
                        // customer: one SIG customer per (company, tax id). It has no
                        // upstream effect of its own, so it is journaled with `validate`, in
                        // the same commit, which also registers a new customer. Another
                        // integration of the same customer may register it first: then that
                        // one is the customer, and the commit is made again with it.
                        let customer_started = StepStart::new("customer");
                        let tax_id = v.proposal.customer.tax_id;
                        let fetch_done = pending_fetch.take().map(StepDone::without_field_sources);
                        let (mut id, mut register) =
                            match self.store.find_customer(&state.company, &tax_id).await? {
                                Some(id) => (id, false),
                                None => (CustomerId::new(), true),
                            };
                        let mut result = Some(result);
                        let entries = loop {
                            state.customer = Some(id);
                            // Kept for a second commit only while one may follow.
                            let validate_result = if register {
                                result.clone()
                            } else {
                                result.take()
                            };
                            let dones = fetch_done
                                .clone()
                                .into_iter()
                                .chain([
                                    StepDone {
                                        key: "validate",
                                        result: validate_result.unwrap_or_default(),
                                        started: started.clone(),
                                        system: None,
                                        call: None,
                                        summary: "proposal valid".into(),
                                    },
                                    StepDone {
                                        key: "customer",
                                        result: serde_json::to_value(CustomerStep { customer: id })
                                            .unwrap_or_default(),
                                        started: customer_started.clone(),
                                        system: None,
                                        call: None,
                                        summary: format!("SIG customer {id}"),
                                    },
                                ])
                                .collect();
                            let registration = register.then(|| NewCustomer {
                                company: state.company.clone(),
                                tax_id,
                                customer: id,
                            });
                            let committed = self
                                .commit_steps(state, dones, |ch| {
                                    ch.register_customer = registration;
                                    if let Some(done) = &fiscal_done {
                                        done.add_to(ch);
                                    }
                                })
                                .await;
                            match committed {
                                Ok(entries) => break entries,
                                Err(StepError::Store(StoreError::CustomerRegistered {
                                    customer,
                                })) if register => {
                                    id = customer;
                                    register = false;
                                }
                                Err(e) => return Err(e),
                            }
                        };
                        fresh = true;
                        for e in entries {
                            journal.insert(e.key.clone(), e);
                        }
                        if let Some(done) = &fiscal_done {
                            done.emit();
                        }
                        v
                    }
                    Err(problems) => {
                        if let Some(done) = pending_fetch.take() {
                            self.commit_step(state, done, |_| {}).await?;
                        }
                        let now = self.clock.now();
                        state.status = IntegrationStatus::Held;
                        state.held_since = Some(now);
                        state.step = Some("validate".into());
                        let mut e = AuditEvent::new(
                            now,
                            Actor::System,
                            "step.validate",
                            AuditOutcome::Held,
                            format!("held: {} validation problem(s)", problems.len()),
                        );
                        e.integration = Some(state.id);
                        e.details = serde_json::json!({"problems": problems});
                        tracing::info!(
                            target: STEP_EVENT_TARGET,
                            step = "validate",
                            kind = "validate",
                            outcome = "held",
                            problems = problems.len(),
                            "step held the integration for a person"
                        );
                        state.problems = problems;
                        let mut change = Change::state(state.clone());
                        change.audit.push(e);
                        self.store.commit(change).await?;
                        return Ok(RunOutcome::Held);
                    }
                }
            }
        };
        let proposal = &validated.proposal;

        // customer: journaled with `validate` (above); an integration validated by an earlier
        // build, which journaled it apart, may still need it here.
        let customer_id = match journal.get("customer") {
            Some(e) => {
                serde_json::from_value::<CustomerStep>(e.result.clone())
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?
                    .customer
            }
            None => {
                let started = StepStart::new("customer");
                let id = self
                    .store
                    .customer_id_for(&state.company, &proposal.customer.tax_id, CustomerId::new())
                    .await?;
                state.customer = Some(id);
                let result =
                    serde_json::to_value(CustomerStep { customer: id }).unwrap_or_default();
                self.commit_step(
                    state,
                    StepDone {
                        key: "customer",
                        result,
                        started,
                        system: None,
                        call: None,
                        summary: format!("SIG customer {id}"),
                    },
                    |_| {},
                )
                .await?;
                fresh = true;
                id
            }
        };

        // erp_customer.
        let erp_customer: ErpCustomer = match journal.get("erp_customer") {
            Some(e) => serde_json::from_value(e.result.clone())
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            None => {
                let lock = self.customer_lock(customer_id);
                let _g = lock.lock().await;
                let started = StepStart::new("erp_customer");
                let links = self.store.customer_links(customer_id).await?;
                let c = company
                    .erp
                    .upsert_customer(customer_id, &proposal.customer, links.erp_id)
                    .instrument(started.span())
                    .await
                    .map_err(StepError::upstream("erp_customer"))?;
                failpoint!(
                    "after_erp_customer",
                    state.id,
                    "erp_customer",
                    "omie",
                    None,
                    "customer",
                    customer_id,
                    c.erp_id
                );
                let result = serde_json::to_value(&c).unwrap_or_default();
                let summary = format!(
                    "Omie customer {}{}",
                    c.erp_id,
                    if c.adopted {
                        " (adopted)"
                    } else if c.created {
                        " (created)"
                    } else {
                        ""
                    }
                );
                let erp_id = c.erp_id;
                self.commit_step(
                    state,
                    StepDone {
                        key: "erp_customer",
                        result,
                        started,
                        system: Some(System::Omie),
                        call: Some("upsert_customer"),
                        summary,
                    },
                    |ch| ch.customer_erp = Some((customer_id, erp_id)),
                )
                .await?;
                fresh = true;
                c
            }
        };

        // contract:i — one per order, up to `EFFECTS_IN_FLIGHT` at once (each is its own
        // Omie record under its order's id), journaled together.
        let todo: Vec<(usize, String)> = (0..proposal.orders.len())
            .map(|i| (i, format!("contract:{i}")))
            .filter(|(_, key)| !journal.contains_key(key))
            .collect();
        let attempt = attempt_after(fresh);
        #[cfg(feature = "failpoints")]
        let integration = state.id;
        let runs: Vec<_> = todo
            .iter()
            .map(|(i, key)| {
                let i = *i;
                let (company, erp_customer, validated) = (&company, &erp_customer, &validated);
                async move {
                    let order = &proposal.orders[i];
                    let started = StepStart::new(key);
                    let plan =
                        self.catalog
                            .plan(&order.plan)
                            .ok_or_else(|| StepError::Permanent {
                                step: key.clone(),
                                system: None,
                                reason: format!("plan {} is no longer in the catalog", order.plan),
                            })?;
                    let req = ContractRequest {
                        order_id: validated.orders[i].order,
                        order,
                        terms: &plan.omie,
                        description: format!("{} x{}", plan.name, order.quantity),
                        attempt,
                    };
                    let c: ErpContract = company
                        .erp
                        .ensure_contract(erp_customer, &req)
                        .instrument(started.span())
                        .await
                        .map_err(StepError::upstream(key))?;
                    failpoint!(
                        "after_contract",
                        integration,
                        key,
                        "omie",
                        None,
                        "contract",
                        validated.orders[i].order,
                        c.erp_id
                    );
                    let summary = format!(
                        "Omie contract {}{}",
                        c.erp_id,
                        if c.created { " (created)" } else { "" }
                    );
                    let done = StepDone::effect(
                        key,
                        &c,
                        started,
                        Some(System::Omie),
                        Some("ensure_contract"),
                        summary,
                    );
                    Ok::<_, StepError>(((), done))
                }
            })
            .collect();
        // server:i — a run that sends contracts is the first to reach the servers: it chooses
        // every order's server as the contracts end and journals the choices, with their
        // reservations, in the contracts' commit (one commit, not one more per order). The
        // rest (a person's directive, no server now, the room taken meanwhile, or contracts
        // journaled by an earlier run) goes through each order's own server step below.
        let server_keys: Vec<String> = (0..proposal.orders.len())
            .map(|i| format!("server:{i}"))
            .collect();
        let (_, contracts, failure) = run_effects(runs).await;
        let mut chosen: Vec<ServerId> = Vec::with_capacity(proposal.orders.len());
        if failure.is_none()
            && !contracts.is_empty()
            && let Some(plan) = self
                .plan_servers(state.id, &journal, &validated, &server_keys)
                .await?
        {
            let dones = contracts.iter().cloned().chain(plan.dones).collect();
            match self
                .commit_steps(state, dones, |ch| ch.reserve = plan.reserve)
                .await
            {
                Ok(_) => chosen = plan.chosen,
                // Concurrent orders took the room since the decision: the contracts alone.
                Err(StepError::Store(StoreError::NoRoom { .. })) => {}
                Err(e) => return Err(e),
            }
        }
        // No choice made: the contracts were not journaled with one.
        if chosen.is_empty() && !contracts.is_empty() {
            self.commit_steps(state, contracts, |_| {}).await?;
        }
        if let Some(e) = failure {
            return Err(e);
        }
        fresh |= !todo.is_empty();

        // server:i — choose and reserve atomically, each order in its own commit.
        for (i, order) in proposal.orders.iter().enumerate().skip(chosen.len()) {
            let key = format!("server:{i}");
            if let Some(e) = journal.get(&key) {
                let c: ServerChoiceWithOrder = serde_json::from_value(e.result.clone())
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                chosen.push(c.choice.server);
                continue;
            }
            let started = StepStart::new(&key);
            let demand = Demand::of(order);
            let order_id = validated.orders[i].order;
            if let Some(directive) = manual::latest_directive(&journal, i) {
                // A person chose this order's server before the step ran.
                let choice = self
                    .apply_directive(state, i, order_id, demand, directive)
                    .await?;
                let server = choice.server.clone();
                let summary = manual::summary(&choice);
                let result = ServerChoiceWithOrder {
                    order: order_id,
                    choice,
                };
                self.commit_step(
                    state,
                    StepDone {
                        key: &key,
                        result: serde_json::to_value(&result).unwrap_or_default(),
                        started,
                        system: None,
                        call: None,
                        summary,
                    },
                    |_| {},
                )
                .await?;
                fresh = true;
                chosen.push(server);
                continue;
            }
            // A run that crashed between reserving and journaling (a manual choice, or a build
            // that reserved apart from the step's commit) left its reservation: keep that
            // server (its room is already counted), never reserve a second one. Only a resumed
            // run can find one: when this run journaled the step before, no earlier run got
            // here (see `Attempt`).
            let kept = if fresh {
                None
            } else {
                self.store.reservation(order_id).await?
            };
            let mut attempt = 0;
            loop {
                let (server, decision, reserve) = if let Some(r) = &kept {
                    (r.server.clone(), self.decide(demand).await?, None)
                } else {
                    attempt += 1;
                    let decision = self.decide(demand).instrument(started.span()).await?;
                    let Some(server) = decision.chosen.clone() else {
                        // A server that failed its health probe may be back soon: that is
                        // worth waiting for (with backoff, the probe repeated once its result
                        // expires); no server for the area, or no room, needs a person.
                        let unhealthy = decision
                            .candidates
                            .iter()
                            .any(|c| matches!(c.verdict, choice::Verdict::Unhealthy { .. }));
                        if unhealthy {
                            return Err(StepError::Upstream {
                                step: key,
                                error: Box::new(UpstreamError::new(
                                    System::NextBilling,
                                    "probe",
                                    crate::ports::UpstreamErrorKind::Transient,
                                    decision.explain(),
                                )),
                            });
                        }
                        return Err(StepError::Permanent {
                            step: key,
                            system: None,
                            reason: decision.explain(),
                        });
                    };
                    let reserve = self
                        .reservation(state.id, order_id, demand, &server)
                        .map_err(StepError::Store)?;
                    (server, decision, Some(reserve))
                };
                let summary = match &kept {
                    Some(_) => format!(
                        "{server}: kept the reservation made before a restart (now: {})",
                        decision.explain()
                    ),
                    None => decision.explain(),
                };
                let result = ServerChoiceWithOrder::automatic(order_id, server.clone(), decision);
                // The reservation is made in the step's own commit: the room is taken
                // exactly when the choice is journaled.
                let committed = self
                    .commit_step(
                        state,
                        StepDone {
                            key: &key,
                            result: serde_json::to_value(&result).unwrap_or_default(),
                            started: started.clone(),
                            system: None,
                            call: None,
                            summary,
                        },
                        |ch| ch.reserve = reserve.into_iter().collect(),
                    )
                    .await;
                match committed {
                    Ok(_) => {
                        fresh = true;
                        chosen.push(server);
                        break;
                    }
                    // Concurrent orders took the room since the decision: choose again.
                    Err(StepError::Store(StoreError::NoRoom { .. })) if attempt < 5 => {}
                    Err(StepError::Store(StoreError::NoRoom { .. })) => {
                        return Err(StepError::Upstream {
                            step: key,
                            error: Box::new(UpstreamError::new(
                                System::NextBilling,
                                "reserve",
                                crate::ports::UpstreamErrorKind::Transient,
                                "capacity was taken by concurrent orders; will choose again",
                            )),
                        });
                    }
                    Err(e) => return Err(e),
                }
            }
        }

        // next_customer:<server> — once per distinct server, the servers at once (each is its
        // own NextBilling instance), journaled together with their links.
        let mut voip_customers: BTreeMap<ServerId, VoipCustomer> = BTreeMap::new();
        let mut todo: Vec<(ServerId, String)> = Vec::new();
        for server in chosen.iter().collect::<BTreeSet<_>>() {
            let key = format!("next_customer:{server}");
            match journal.get(&key) {
                Some(e) => {
                    voip_customers.insert(
                        server.clone(),
                        serde_json::from_value(e.result.clone())
                            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    );
                }
                None => todo.push((server.clone(), key)),
            }
        }
        if !todo.is_empty() {
            // Another integration of the same customer may be creating it on the same server:
            // NextBilling has no uniqueness to refuse the second, so one at a time.
            let lock = self.customer_lock(customer_id);
            let _g = lock.lock().await;
            // A server where an integration of this customer already created it (and linked
            // it) needs no call. Elsewhere a create may have been sent before by an earlier
            // run of this integration (unless this run journaled a step: see `Attempt`), or
            // by another integration of the customer (this lock orders the ones in this
            // process, which link theirs before letting go of it; others, and crashed runs,
            // leave no link): then it is looked up first.
            let links = self.store.customer_links(customer_id).await?;
            let attempt = if fresh && !self.store.customer_shared(customer_id, state.id).await? {
                Attempt::First
            } else {
                Attempt::Again
            };
            let linked = &links.voip;
            let runs: Vec<_> = todo
                .iter()
                .map(|(server, key)| async move {
                    let started = StepStart::new(key);
                    if let Some(&voip_id) = linked.get(server) {
                        let vc = VoipCustomer {
                            voip_id,
                            created: false,
                        };
                        let summary = format!(
                            "Next customer {voip_id} on {server} (linked by an earlier integration)"
                        );
                        let done = StepDone::effect(key, &vc, started, None, None, summary);
                        return Ok::<_, StepError>(((server.clone(), vc, false), done));
                    }
                    let handle = self.server(server).map_err(StepError::Store)?;
                    let vc = handle
                        .platform
                        .ensure_customer(customer_id, &proposal.customer, attempt)
                        .instrument(started.span())
                        .await
                        .map_err(StepError::upstream(key))?;
                    failpoint!(
                        "after_next_customer",
                        integration,
                        key,
                        "nextbilling",
                        Some(server.to_string()),
                        "customer",
                        customer_id,
                        vc.voip_id
                    );
                    let summary = format!(
                        "Next customer {} on {server}{}",
                        vc.voip_id,
                        if vc.created { " (created)" } else { "" }
                    );
                    let done = StepDone::effect(
                        key,
                        &vc,
                        started,
                        Some(System::NextBilling),
                        Some("ensure_customer"),
                        summary,
                    );
                    Ok::<_, StepError>(((server.clone(), vc, true), done))
                })
                .collect();
            let ensured = self
                .commit_effects(state, runs, None, &validated, |ch, ensured| {
                    ch.customer_voip = ensured
                        .iter()
                        .filter(|(.., called)| *called)
                        .map(|(server, vc, _)| (customer_id, server.clone(), vc.voip_id))
                        .collect();
                })
                .await?
                .unwrap_or_default();
            voip_customers.extend(ensured.into_iter().map(|(server, vc, _)| (server, vc)));
            fresh = true;
        }

        // The run's last step (the last DID, else the last line) also ends the integration in
        // its own commit; nothing upstream happens after it.
        let last_of = |kind: &str, count: fn(&OrderIds) -> usize| {
            validated
                .orders
                .iter()
                .enumerate()
                .rev()
                .find(|(_, o)| count(o) > 0)
                .map(|(i, o)| format!("{kind}:{i}:{}", count(o) - 1))
        };
        let last_key =
            last_of("did", |o| o.dids.len()).or_else(|| last_of("line", |o| o.lines.len()));

        // line:i:n — every line of every order, up to `EFFECTS_IN_FLIGHT` at once (each is
        // its own upstream record under its own natural key, and none needs another). The
        // ones that succeeded are journaled together, in key order, before anything else
        // starts; a failure is returned after them.
        let mut first_lines: Vec<Option<VoipLine>> = vec![None; proposal.orders.len()];
        let mut todo: Vec<(usize, usize, LineId, String)> = Vec::new();
        for (i, ids) in validated.orders.iter().enumerate() {
            for (n, line_id) in ids.lines.iter().enumerate() {
                let key = format!("line:{i}:{n}");
                match journal.get(&key) {
                    Some(e) if n == 0 => {
                        first_lines[i] = Some(
                            serde_json::from_value(e.result.clone())
                                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                        );
                    }
                    Some(_) => {}
                    None => todo.push((i, n, *line_id, key)),
                }
            }
        }
        let attempt = attempt_after(fresh);
        let runs: Vec<_> = todo
            .iter()
            .map(|(i, n, line_id, key)| {
                let (i, n, line_id) = (*i, *n, *line_id);
                let (chosen, voip_customers, validated) = (&chosen, &voip_customers, &validated);
                async move {
                    let order = &proposal.orders[i];
                    let server = &chosen[i];
                    let handle = self.server(server).map_err(StepError::Store)?;
                    let started = StepStart::new(key);
                    let req = LineRequest {
                        line_id,
                        order_id: validated.orders[i].order,
                        rate_id: self.catalog.plan(&order.plan).map_or(0, |p| p.next_rate_id),
                        channels: order.channels.div_ceil(order.sip_lines.max(1)),
                        area_code: order.area_code,
                        attempt,
                    };
                    let line = handle
                        .platform
                        .ensure_line(&voip_customers[server], &req)
                        .instrument(started.span())
                        .await
                        .map_err(StepError::upstream(key))?;
                    failpoint!(
                        "after_line",
                        integration,
                        key,
                        "nextbilling",
                        Some(server.to_string()),
                        "line",
                        line_id,
                        line.voip_id
                    );
                    let done = StepDone::effect(
                        key,
                        &line,
                        started,
                        Some(System::NextBilling),
                        Some("ensure_line"),
                        format!("Next line {} on {server}", line.voip_id),
                    );
                    Ok::<_, StepError>(((i, n, line), done))
                }
            })
            .collect();
        let Some(lines) = self
            .commit_effects(state, runs, last_key.as_deref(), &validated, |_, _| {})
            .await?
        else {
            return Ok(RunOutcome::Done);
        };
        for (i, n, line) in lines {
            if n == 0 {
                first_lines[i] = Some(line);
            }
        }
        fresh |= !todo.is_empty();

        // did:i:j — each rings its order's first line; like the lines, up to
        // `EFFECTS_IN_FLIGHT` at once, journaled together.
        let mut todo: Vec<(usize, usize, DidId, String)> = Vec::new();
        for (i, ids) in validated.orders.iter().enumerate() {
            for (j, did_id) in ids.dids.iter().enumerate() {
                let key = format!("did:{i}:{j}");
                if !journal.contains_key(&key) {
                    todo.push((i, j, *did_id, key));
                }
            }
        }
        let attempt = attempt_after(fresh);
        let runs: Vec<_> = todo
            .iter()
            .map(|(i, j, did_id, key)| {
                let (i, j, did_id) = (*i, *j, *did_id);
                let (chosen, voip_customers, first_lines) =
                    (&chosen, &voip_customers, &first_lines);
                async move {
                    let order = &proposal.orders[i];
                    let server = &chosen[i];
                    let handle = self.server(server).map_err(StepError::Store)?;
                    let Some(line) = &first_lines[i] else {
                        return Err(StepError::Permanent {
                            step: key.clone(),
                            system: None,
                            reason: "a DID needs a line to ring, and the order has none".into(),
                        });
                    };
                    let started = StepStart::new(key);
                    let req = DidRequest {
                        did_id,
                        number: order.dids[j],
                        device_id: line.voip_id,
                        rate_id: self.catalog.plan(&order.plan).map_or(0, |p| p.next_rate_id),
                        attempt,
                    };
                    let did: VoipDid = handle
                        .platform
                        .ensure_did(&voip_customers[server], &req)
                        .instrument(started.span())
                        .await
                        .map_err(StepError::upstream(key))?;
                    failpoint!(
                        "after_did",
                        integration,
                        key,
                        "nextbilling",
                        Some(server.to_string()),
                        "did",
                        did_id,
                        did.voip_id
                    );
                    let done = StepDone::effect(
                        key,
                        &did,
                        started,
                        Some(System::NextBilling),
                        Some("ensure_did"),
                        format!("Next DID {} on {server}", did.voip_id),
                    );
                    Ok::<_, StepError>(((), done))
                }
            })
            .collect();
        if self
            .commit_effects(state, runs, last_key.as_deref(), &validated, |_, _| {})
            .await?
            .is_none()
        {
            return Ok(RunOutcome::Done);
        }
        // done (when the last step was journaled by an earlier run).
        let mut change = Change::state_keeping_raw(state);
        self.finish_change(&mut change, &validated);
        self.store.commit(change).await?;
        Ok(RunOutcome::Done)
    }

    /// Run one phase's independent upstream effects (the contracts, the Next customers, the
    /// lines or the DIDs), up to [`EFFECTS_IN_FLIGHT`] at once, and journal the ones that
    /// succeeded in one commit, in the phase's key order, each with its own journal entry and
    /// audit event; `extra` adds what the successes change besides (links). When every
    /// effect succeeded and the phase holds the integration's last step (`last_key`), that
    /// commit also ends the integration. Returns what each success carries, or `None` when
    /// the integration ended; the first failure in key order is returned once the successes
    /// are journaled (an effect that failed is retried alone; the others are never repeated).
    async fn commit_effects<'k, T, F>(
        &self,
        state: &mut Integration,
        runs: Vec<F>,
        last_key: Option<&str>,
        validated: &Validated,
        extra: impl FnOnce(&mut Change, &[T]),
    ) -> Result<Option<Vec<T>>, StepError>
    where
        F: Future<Output = Result<(T, StepDone<'k>), StepError>>,
    {
        let (carried, dones, failure) = run_effects(runs).await;
        let ends = failure.is_none() && dones.iter().any(|d| Some(d.key) == last_key);
        if !dones.is_empty() {
            self.commit_steps(state, dones, |ch| {
                extra(ch, &carried);
                if ends {
                    self.finish_change(ch, validated);
                }
            })
            .await?;
        }
        match failure {
            Some(e) => Err(e),
            None => Ok((!ends).then_some(carried)),
        }
    }

    /// The automatic choice of every order's server, one after another (each order's
    /// decision counts the room the ones before it take), for the contracts' commit: the
    /// steps to journal, the servers, and the reservations. `None` when an order's server
    /// step is journaled, a person's directive waits for one, or an order has no server now:
    /// each order then takes its own server step, which handles all of that.
    async fn plan_servers<'k>(
        &self,
        integration: IntegrationId,
        journal: &BTreeMap<String, StepEntry>,
        validated: &Validated,
        keys: &'k [String],
    ) -> Result<Option<ServerPlan<'k>>, StepError> {
        let orders = &validated.proposal.orders;
        if (0..orders.len()).any(|i| {
            journal.contains_key(&keys[i]) || manual::latest_directive(journal, i).is_some()
        }) {
            return Ok(None);
        }
        let mut plan = ServerPlan {
            chosen: Vec::with_capacity(orders.len()),
            dones: Vec::with_capacity(orders.len()),
            reserve: Vec::with_capacity(orders.len()),
        };
        // The stored loads, read once, plus the room each order takes for the next.
        let mut loads = self.store.loads().await?;
        for (i, order) in orders.iter().enumerate() {
            let key = keys[i].as_str();
            let started = StepStart::new(key);
            let demand = Demand::of(order);
            let decision = self
                .decide_on(demand, &loads)
                .instrument(started.span())
                .await;
            let Some(server) = decision.chosen.clone() else {
                return Ok(None);
            };
            let order_id = validated.orders[i].order;
            let reserve = self
                .reservation(integration, order_id, demand, &server)
                .map_err(StepError::Store)?;
            let l = loads.entry(server.clone()).or_default();
            l.lines += demand.lines;
            l.channels += demand.channels;
            let summary = decision.explain();
            let result = ServerChoiceWithOrder::automatic(order_id, server.clone(), decision);
            plan.dones
                .push(StepDone::effect(key, &result, started, None, None, summary));
            plan.reserve.push(reserve);
            plan.chosen.push(server);
        }
        Ok(Some(plan))
    }

    /// The reservation of an order's demand on `server`, with the server's capacity (what
    /// the store checks it against).
    fn reservation(
        &self,
        integration: IntegrationId,
        order: ServiceOrderId,
        demand: Demand,
        server: &ServerId,
    ) -> Result<(Reservation, Load), StoreError> {
        let info = &self.server(server)?.info;
        let reservation = Reservation {
            order,
            integration,
            server: server.clone(),
            lines: demand.lines,
            channels: demand.channels,
            provisioned: false,
        };
        let capacity = Load {
            lines: info.capacity_lines,
            channels: info.capacity_channels,
        };
        Ok((reservation, capacity))
    }

    /// End the integration in `change`: done, its orders' reservations provisioned, and the
    /// `done` audit event with the integration's duration.
    fn finish_change(&self, change: &mut Change, validated: &Validated) {
        let now = self.clock.now();
        let state = &mut change.integration;
        state.status = IntegrationStatus::Done;
        state.finished_at = Some(now);
        state.step = Some("done".into());
        state.failure = None;
        let mut e = AuditEvent::new(
            now,
            Actor::System,
            "done",
            AuditOutcome::Ok,
            "integration done",
        );
        e.integration = Some(state.id);
        e.duration_ms = state.integration_ms();
        change.provisioned = validated.orders.iter().map(|o| o.order).collect();
        change.audit.push(e);
    }

    fn server(&self, id: &ServerId) -> Result<&ServerHandle, StoreError> {
        self.servers
            .iter()
            .find(|s| &s.info.id == id)
            .ok_or_else(|| StoreError::Corrupt(format!("server {id} is no longer configured")))
    }

    /// The automatic decision for a demand, with current loads and (cached) health.
    pub async fn decide(&self, demand: Demand) -> Result<Decision, StoreError> {
        let loads = self.store.loads().await?;
        Ok(self.decide_on(demand, &loads).await)
    }

    /// [`decide`](Self::decide) on the given loads.
    async fn decide_on(&self, demand: Demand, loads: &BTreeMap<ServerId, Load>) -> Decision {
        let mut candidates = Vec::with_capacity(self.servers.len());
        for s in &self.servers {
            let serves_area = s.info.area_codes.contains(&demand.area_code);
            let unhealthy = if s.info.active && serves_area {
                self.health_of(s).await
            } else {
                None
            };
            let load = loads.get(&s.info.id).copied().unwrap_or_default();
            candidates.push(Candidate {
                id: s.info.id.clone(),
                active: s.info.active,
                unhealthy,
                serves_area,
                capacity_lines: s.info.capacity_lines,
                capacity_channels: s.info.capacity_channels,
                used_lines: load.lines,
                used_channels: load.channels,
            });
        }
        choice::choose(demand, &candidates)
    }

    async fn health_of(&self, s: &ServerHandle) -> Option<String> {
        {
            let h = self.health.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((at, r)) = h.get(&s.info.id)
                && at.elapsed() < self.settings.health_ttl
            {
                return r.clone();
            }
        }
        let probe = s.platform.probe(self.settings.health_timeout).await;
        let r = (!probe.healthy).then_some(probe.reason);
        self.health
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(s.info.id.clone(), (Instant::now(), r.clone()));
        r
    }

    /// Put a failed integration back to work (an operator, after a fix). Journaled steps are
    /// kept, so it resumes where it stopped. Needs `retry_integration`; the decision is
    /// audited.
    pub async fn retry(&self, id: IntegrationId, actor: Actor) -> Result<(), PipelineError> {
        let allowed = self
            .authorize(&actor, crate::authz::Action::RetryIntegration, Some(id))
            .await?;
        self.as_person(id, vec![allowed], async |i, audit| {
            self.retry_leased(i, actor, audit).await
        })
        .await
    }

    async fn retry_leased(
        &self,
        mut i: Integration,
        actor: Actor,
        audit: &mut Vec<AuditEvent>,
    ) -> Result<(), PipelineError> {
        let id = i.id;
        if i.status != IntegrationStatus::Failed {
            return Err(PipelineError::InvalidState {
                id,
                status: i.status,
                reason: "only failed integrations are retried".into(),
            });
        }
        let now = self.clock.now();
        i.status = IntegrationStatus::Pending;
        i.attempts = 0;
        i.failure = None;
        i.finished_at = None;
        i.next_attempt_at = now;
        let mut e = AuditEvent::new(now, actor, "retry", AuditOutcome::Ok, "retry requested");
        e.integration = Some(id);
        let mut change = Change::state(i);
        change.audit = std::mem::take(audit);
        change.audit.push(e);
        self.store.commit(change).await?;
        Ok(())
    }

    /// Cancel an integration that is not done, with a reason; reserved capacity is released.
    /// Needs `cancel_integration`; the decision is audited. Refused with
    /// [`PipelineError::Busy`] while a worker runs it.
    pub async fn cancel(
        &self,
        id: IntegrationId,
        actor: Actor,
        reason: &str,
    ) -> Result<(), PipelineError> {
        let allowed = self
            .authorize(&actor, crate::authz::Action::CancelIntegration, Some(id))
            .await?;
        self.as_person(id, vec![allowed], async |i, audit| {
            self.cancel_leased(i, actor, reason, audit).await
        })
        .await
    }

    async fn cancel_leased(
        &self,
        mut i: Integration,
        actor: Actor,
        reason: &str,
        audit: &mut Vec<AuditEvent>,
    ) -> Result<(), PipelineError> {
        let id = i.id;
        if matches!(
            i.status,
            IntegrationStatus::Done | IntegrationStatus::Cancelled
        ) {
            return Err(PipelineError::InvalidState {
                id,
                status: i.status,
                reason: "already finished".into(),
            });
        }
        let now = self.clock.now();
        if let Some(since) = i.held_since.take() {
            i.held_ms += (now - since).num_milliseconds().max(0) as u64;
        }
        let journal = self.store.journal(id).await?;
        let released = journal
            .iter()
            .filter(|(k, _)| k.starts_with("server:"))
            .filter_map(|(_, v)| {
                serde_json::from_value::<ServerChoiceWithOrder>(v.result.clone()).ok()
            })
            .map(|c| c.order)
            .collect();
        i.status = IntegrationStatus::Cancelled;
        i.finished_at = Some(now);
        let mut e = AuditEvent::new(now, actor, "cancel", AuditOutcome::Ok, reason);
        e.integration = Some(id);
        let mut change = Change::state(i);
        change.released = released;
        change.audit = std::mem::take(audit);
        change.audit.push(e);
        self.store.commit(change).await?;
        Ok(())
    }
}

/// Every order's server, chosen to be journaled with the contracts
/// ([`Pipeline::plan_servers`]).
struct ServerPlan<'k> {
    /// The server of each order, in order.
    chosen: Vec<ServerId>,
    /// The `server:i` steps.
    dones: Vec<StepDone<'k>>,
    /// The orders' reservations.
    reserve: Vec<(Reservation, Load)>,
}

/// Run a phase's effects, up to [`EFFECTS_IN_FLIGHT`] at once: what each success carries
/// and its step, in the phase's order, and the first failure in that order.
async fn run_effects<'k, T, F>(runs: Vec<F>) -> (Vec<T>, Vec<StepDone<'k>>, Option<StepError>)
where
    F: Future<Output = Result<(T, StepDone<'k>), StepError>>,
{
    use futures::StreamExt;
    let results: Vec<_> = futures::stream::iter(runs)
        .buffered(EFFECTS_IN_FLIGHT)
        .collect()
        .await;
    let mut carried = Vec::with_capacity(results.len());
    let mut dones = Vec::with_capacity(results.len());
    let mut failure = None;
    for r in results {
        match r {
            Ok((t, done)) => {
                carried.push(t);
                dones.push(done);
            }
            Err(e) => {
                failure.get_or_insert(e);
            }
        }
    }
    (carried, dones, failure)
}

/// What a finished step writes.
#[derive(Clone)]
struct StepDone<'a> {
    key: &'a str,
    result: serde_json::Value,
    started: StepStart,
    system: Option<System>,
    call: Option<&'a str>,
    summary: String,
}

impl<'a> StepDone<'a> {
    /// A finished upstream effect of a phase run at once (a contract, a Next customer, a
    /// line, a DID): its duration ends now, before the phase's commit.
    fn effect(
        key: &'a str,
        result: &impl Serialize,
        mut started: StepStart,
        system: Option<System>,
        call: Option<&'a str>,
        summary: String,
    ) -> Self {
        started.freeze();
        StepDone {
            key,
            result: serde_json::to_value(result).unwrap_or_default(),
            started,
            system,
            call,
            summary,
        }
    }

    /// The fetch without its map of where each field came from. The map names the source
    /// field of a validation problem, so it is journaled when validation may still need it
    /// (the proposal is held, or reviewed, before `validate` is journaled); once `validate`
    /// passes in the same commit, nothing reads it again (`validate` never runs twice), and
    /// the same few dozen pairs are not written for every proposal.
    fn without_field_sources(mut self) -> Self {
        if let Some(result) = self.result.as_object_mut() {
            result.remove("field_sources");
        }
        self
    }
}

/// When a step started, and its span (upstream calls run in it; its end event is emitted in it).
#[derive(Clone)]
struct StepStart {
    at: Instant,
    /// The step's duration once it ended before its commit ([`StepStart::freeze`]).
    frozen: Option<Duration>,
    span: tracing::Span,
}

impl StepStart {
    fn new(key: &str) -> Self {
        StepStart {
            at: Instant::now(),
            frozen: None,
            span: tracing::info_span!("step", step = key),
        }
    }

    /// The step ended now, though it is committed later (with the steps after it).
    fn freeze(&mut self) {
        self.frozen = Some(self.at.elapsed());
    }

    fn elapsed(&self) -> Duration {
        self.frozen.unwrap_or_else(|| self.at.elapsed())
    }

    fn span(&self) -> tracing::Span {
        self.span.clone()
    }
}

/// How a create is sent in a run that has (`fresh`) or has not journaled a step yet: once it
/// has, no earlier run can have reached any later step (see `Pipeline::steps`).
fn attempt_after(fresh: bool) -> Attempt {
    if fresh {
        Attempt::First
    } else {
        Attempt::Again
    }
}

/// A step key without its indexes (`contract:1` → `contract`, `line:0:2` → `line`): the step's
/// kind, for metrics labels.
pub fn step_kind(key: &str) -> &str {
    key.split(':').next().unwrap_or(key)
}

/// The `customer` step's result.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CustomerStep {
    customer: CustomerId,
}

/// The `server:i` step's result as journaled (the choice plus its order, for releases).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerChoiceWithOrder {
    /// The order.
    pub order: ServiceOrderId,
    /// The choice.
    #[serde(flatten)]
    pub choice: ServerChoice,
}

impl ServerChoiceWithOrder {
    /// The automatic choice of `server` for `order`, with the decision that made it.
    fn automatic(order: ServiceOrderId, server: ServerId, decision: Decision) -> Self {
        ServerChoiceWithOrder {
            order,
            choice: ServerChoice {
                server,
                chosen_by: "automatic".into(),
                decision,
                manual: None,
            },
        }
    }
}

/// Step results go to the audit as they are: they hold ids and decisions, never personal data
/// or secrets, except the validated proposal, which is summarised, and the fetch's map of
/// where each field came from (the same few dozen pairs for every proposal of a source),
/// which is counted; its mapping problems are kept.
fn redact_result(v: &serde_json::Value) -> serde_json::Value {
    if let Some(p) = v.get("proposal") {
        return serde_json::json!({
            "proposal_id": p.get("id"),
            "orders": p.get("orders").and_then(|o| o.as_array()).map(|o| o.len()),
        });
    }
    if let Some(sources) = v.get("field_sources") {
        return serde_json::json!({
            "fields_mapped": sources.as_array().map_or(0, Vec::len),
            "mapping_problems": v.get("mapping_problems"),
        });
    }
    v.clone()
}
