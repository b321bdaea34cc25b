//! The pipeline's rules against small in-memory ports (the sandbox-backed end-to-end, crash
//! and fault tests live in `examples/tests/`, where they drive the `sig` binary and library).

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sig_core::authz::{Authorizer, Policy};
use sig_core::config::{Catalog, Config, MapSecrets, Profile};
use sig_core::domain::{Customer, ProposalStatus};
use sig_core::ids::{CompanyId, CustomerId, ServerId};
use sig_core::ids::{IntegrationId, ServiceOrderId};
use sig_core::pipeline::{
    CompanyHandle, IntakeOutcome, Pipeline, RunOutcome, ServerHandle, ServerInfo, Settings,
    SystemClock,
};
use sig_core::ports::*;
use sig_core::raw::RawProposal;
use sig_core::store::{
    Actor, AuditEvent, AuditFilter, Change, CustomerLinks, DirectRegistration, Integration,
    IntegrationFilter, IntegrationStatus, Load, MemoryStore, Reservation, StepEntry, Store,
    StoreError,
};
use sig_core::taxid::TaxId;

/// Scripted failures: each call name pops the next scripted error, if any.
#[derive(Default)]
struct Script(Mutex<BTreeMap<String, VecDeque<UpstreamErrorKind>>>);

impl Script {
    fn push(&self, call: &str, kind: UpstreamErrorKind, times: usize) {
        let mut m = self.0.lock().unwrap();
        let q = m.entry(call.to_owned()).or_default();
        for _ in 0..times {
            q.push_back(kind.clone());
        }
    }
    fn next(&self, system: System, call: &str) -> Result<(), UpstreamError> {
        match self
            .0
            .lock()
            .unwrap()
            .get_mut(call)
            .and_then(|q| q.pop_front())
        {
            Some(kind) => Err(UpstreamError::new(
                system,
                call,
                kind,
                format!("scripted failure of {call}"),
            )),
            None => Ok(()),
        }
    }
}

#[derive(Default)]
struct FakeErp {
    script: Script,
    customers: Mutex<BTreeMap<String, i64>>,
    creates: Mutex<BTreeMap<String, u32>>,
    contracts: Mutex<BTreeMap<String, i64>>,
    /// Every contract call: (order id, what the pipeline said of earlier attempts).
    attempts: Mutex<Vec<(String, Attempt)>>,
    /// When set, a create is applied and then reported as a lost response.
    lose_next_create: Mutex<bool>,
    /// When set, every contract create waits here until as many are in flight as the
    /// barrier counts (see `all_at_once`).
    contracts_at_once: Option<Arc<tokio::sync::Barrier>>,
}

#[async_trait]
impl Erp for FakeErp {
    async fn upsert_customer(
        &self,
        id: CustomerId,
        _c: &Customer,
        _known: Option<i64>,
    ) -> Result<ErpCustomer, UpstreamError> {
        self.script.next(System::Omie, "UpsertCliente")?;
        let key = id.to_string();
        let mut m = self.customers.lock().unwrap();
        let created = !m.contains_key(&key);
        let n = m.len() as i64 + 1000;
        let erp_id = *m.entry(key.clone()).or_insert(n);
        if created {
            *self.creates.lock().unwrap().entry(key.clone()).or_default() += 1;
            let mut lose = self.lose_next_create.lock().unwrap();
            if *lose {
                *lose = false;
                return Err(UpstreamError::new(
                    System::Omie,
                    "UpsertCliente",
                    UpstreamErrorKind::Transient,
                    "response lost",
                )
                .maybe_applied(true));
            }
        }
        Ok(ErpCustomer {
            erp_id,
            integration_code: Some(key),
            adopted: false,
            created,
        })
    }

    async fn find_customer(
        &self,
        _l: &CustomerLookup,
    ) -> Result<Option<ErpCustomer>, UpstreamError> {
        Ok(None)
    }

    async fn ensure_contract(
        &self,
        _c: &ErpCustomer,
        r: &ContractRequest<'_>,
    ) -> Result<ErpContract, UpstreamError> {
        let key = r.order_id.to_string();
        self.attempts.lock().unwrap().push((key.clone(), r.attempt));
        all_at_once(&self.contracts_at_once, System::Omie, "IncluirContrato").await?;
        self.script.next(System::Omie, "IncluirContrato")?;
        let mut m = self.contracts.lock().unwrap();
        assert!(
            r.attempt.needs_lookup() || !m.contains_key(&key),
            "contract {key} asked for as a first attempt, but an earlier one created it"
        );
        let created = !m.contains_key(&key);
        let n = m.len() as i64 + 5000;
        let erp_id = *m.entry(key.clone()).or_insert(n);
        Ok(ErpContract {
            erp_id,
            integration_code: key,
            created,
        })
    }
}

#[derive(Default)]
struct FakeNext {
    id: Option<ServerId>,
    script: Script,
    customers: Mutex<BTreeMap<CustomerId, i64>>,
    lines: Mutex<BTreeMap<String, i64>>,
    dids: Mutex<BTreeMap<String, i64>>,
    /// Every customer, line and DID call: (`customer:<SIG id>` or the SIG id, what the
    /// pipeline said of earlier attempts).
    attempts: Mutex<Vec<(String, Attempt)>>,
    unhealthy: Mutex<bool>,
    /// When set, every line create waits here until as many are in flight as the barrier
    /// counts (a create made alone times out and fails permanently).
    lines_at_once: Option<Arc<tokio::sync::Barrier>>,
    /// The same for DIDs.
    dids_at_once: Option<Arc<tokio::sync::Barrier>>,
    /// The same for customers (a barrier shared by the servers of one integration).
    customers_at_once: Option<Arc<tokio::sync::Barrier>>,
}

/// Wait at `gate` for the creates sent with this one (fails if they never come).
async fn all_at_once(
    gate: &Option<Arc<tokio::sync::Barrier>>,
    system: System,
    call: &str,
) -> Result<(), UpstreamError> {
    let Some(b) = gate else { return Ok(()) };
    tokio::time::timeout(Duration::from_secs(5), b.wait())
        .await
        .map(|_| ())
        .map_err(|_| {
            UpstreamError::new(
                system,
                call,
                UpstreamErrorKind::Permanent,
                "the creates of one phase were sent one at a time",
            )
        })
}

#[async_trait]
impl VoipPlatform for FakeNext {
    fn server_id(&self) -> &ServerId {
        self.id.as_ref().unwrap()
    }
    async fn ensure_customer(
        &self,
        id: CustomerId,
        _c: &Customer,
        attempt: Attempt,
    ) -> Result<VoipCustomer, UpstreamError> {
        all_at_once(
            &self.customers_at_once,
            System::NextBilling,
            "manageCustomers",
        )
        .await?;
        self.attempts
            .lock()
            .unwrap()
            .push((format!("customer:{id}"), attempt));
        self.script.next(System::NextBilling, "manageCustomers")?;
        let mut m = self.customers.lock().unwrap();
        assert!(
            attempt.needs_lookup() || !m.contains_key(&id),
            "customer {id} asked for as a first attempt, but an earlier one created it"
        );
        let created = !m.contains_key(&id);
        let n = m.len() as i64 + 1;
        Ok(VoipCustomer {
            voip_id: *m.entry(id).or_insert(n),
            created,
        })
    }
    async fn ensure_line(
        &self,
        _c: &VoipCustomer,
        l: &LineRequest,
    ) -> Result<VoipLine, UpstreamError> {
        let key = l.line_id.to_string();
        self.attempts.lock().unwrap().push((key.clone(), l.attempt));
        all_at_once(&self.lines_at_once, System::NextBilling, "manageDevices").await?;
        self.script.next(System::NextBilling, "manageDevices")?;
        let mut m = self.lines.lock().unwrap();
        assert!(
            l.attempt.needs_lookup() || !m.contains_key(&key),
            "line {key} asked for as a first attempt, but an earlier one created it"
        );
        let created = !m.contains_key(&key);
        let n = m.len() as i64 + 1;
        Ok(VoipLine {
            voip_id: *m.entry(key.clone()).or_insert(n),
            username: key,
            created,
        })
    }
    async fn ensure_did(
        &self,
        _c: &VoipCustomer,
        d: &DidRequest,
    ) -> Result<VoipDid, UpstreamError> {
        let key = d.did_id.to_string();
        self.attempts.lock().unwrap().push((key.clone(), d.attempt));
        all_at_once(&self.dids_at_once, System::NextBilling, "manageDID").await?;
        self.script.next(System::NextBilling, "manageDID")?;
        let mut m = self.dids.lock().unwrap();
        assert!(
            d.attempt.needs_lookup() || !m.contains_key(&key),
            "DID {key} asked for as a first attempt, but an earlier one created it"
        );
        let created = !m.contains_key(&key);
        let n = m.len() as i64 + 1;
        Ok(VoipDid {
            voip_id: *m.entry(key).or_insert(n),
            created,
        })
    }
    async fn probe(&self, _t: Duration) -> Health {
        let sick = *self.unhealthy.lock().unwrap();
        Health {
            healthy: !sick,
            reason: if sick { "timeout".into() } else { "ok".into() },
            latency_ms: 1,
        }
    }
}

struct World {
    pipeline: Pipeline,
    store: Arc<MemoryStore>,
    erp: Arc<FakeErp>,
    sp1: Arc<FakeNext>,
    rj1: Arc<FakeNext>,
    catalog: Catalog,
}

fn catalog() -> Catalog {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/sig.example.toml");
    let text = std::fs::read_to_string(&root).unwrap();
    let names = text
        .split("env = \"")
        .skip(1)
        .map(|s| (s.split('"').next().unwrap().to_owned(), "dummy".to_owned()))
        .collect();
    Config::from_toml(&text, root.parent().unwrap(), &MapSecrets(names))
        .unwrap()
        .catalog
}

fn server(id: &str, areas: &[u8], lines: u32) -> ServerInfo {
    ServerInfo {
        id: id.parse().unwrap(),
        name: id.to_uppercase(),
        area_codes: areas
            .iter()
            .map(|a| sig_core::AreaCode::new(*a).unwrap())
            .collect(),
        capacity_lines: lines,
        capacity_channels: lines * 10,
        active: true,
    }
}

fn world(sp1_lines: u32) -> World {
    world_viewed(|s| s, sp1_lines)
}

/// [`world`], with the pipeline seeing the store through `view`.
fn world_viewed(view: impl FnOnce(Arc<MemoryStore>) -> Arc<dyn Store>, sp1_lines: u32) -> World {
    world_on(
        view,
        sp1_lines,
        FakeErp::default(),
        next("sp1"),
        next("rj1"),
    )
}

/// A NextBilling server that answers every call.
fn next(id: &str) -> FakeNext {
    FakeNext {
        id: Some(id.parse().unwrap()),
        ..Default::default()
    }
}

fn world_with(sp1_lines: u32, erp: FakeErp, sp1: FakeNext, rj1: FakeNext) -> World {
    world_on(|s| s, sp1_lines, erp, sp1, rj1)
}

/// A world whose pipeline sees the store through `view` (the test reads the store itself).
fn world_on(
    view: impl FnOnce(Arc<MemoryStore>) -> Arc<dyn Store>,
    sp1_lines: u32,
    erp: FakeErp,
    sp1: FakeNext,
    rj1: FakeNext,
) -> World {
    world_serving(view, sp1_lines, &[21], erp, sp1, rj1)
}

/// [`world_on`], with rj1 serving `rj1_areas` (sp1 serves 11 and 12).
fn world_serving(
    view: impl FnOnce(Arc<MemoryStore>) -> Arc<dyn Store>,
    sp1_lines: u32,
    rj1_areas: &[u8],
    erp: FakeErp,
    sp1: FakeNext,
    rj1: FakeNext,
) -> World {
    let store = Arc::new(MemoryStore::new());
    let erp = Arc::new(erp);
    let sp1 = Arc::new(sp1);
    let rj1 = Arc::new(rj1);
    let catalog = catalog();
    let settings = Settings {
        concurrency: 8,
        max_attempts: 4,
        backoff_base: Duration::from_millis(1),
        backoff_max: Duration::from_millis(5),
        health_ttl: Duration::from_millis(20),
        ..Settings::default()
    };
    let pipeline = Pipeline::new(
        view(store.clone()),
        vec![CompanyHandle {
            id: company(),
            hold_for_review: false,
            erp: erp.clone(),
            source: None,
        }],
        vec![
            ServerHandle {
                info: server("sp1", &[11, 12], sp1_lines),
                platform: sp1.clone(),
            },
            ServerHandle {
                info: server("rj1", rj1_areas, 100),
                platform: rj1.clone(),
            },
        ],
        Arc::new(catalog.clone()),
        Arc::new(SystemClock),
        settings,
    )
    .with_authorizer(Authorizer::new(
        Policy::default(),
        [("ana".parse().unwrap(), Profile::Admin)],
    ));
    World {
        pipeline,
        store,
        erp,
        sp1,
        rj1,
        catalog,
    }
}

fn company() -> CompanyId {
    "acme".parse().unwrap()
}

fn sample() -> RawProposal {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/data/proposal.raw.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn key(id: &str) -> SourceKey {
    SourceKey {
        account: "sig".into(),
        proposal_id: id.into(),
    }
}

async fn intake(w: &World, id: &str, raw: RawProposal) -> IntakeOutcome {
    w.pipeline
        .intake(
            &company(),
            key(id),
            &ProposalStatus::Approved,
            Actor::System,
            Some(raw),
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn a_proposal_goes_all_the_way_with_the_right_servers() {
    let w = world(100);
    let IntakeOutcome::Created { integration } = intake(&w, "44073", sample()).await else {
        panic!()
    };
    w.pipeline.run_until_idle().await.unwrap();
    let i = w.store.get(integration).await.unwrap().unwrap();
    assert_eq!(i.status, IntegrationStatus::Done, "{i:?}");
    assert!(i.integration_ms().is_some());
    let j = w.store.journal(integration).await.unwrap();
    let keys: Vec<&str> = j.keys().map(String::as_str).collect();
    for k in [
        "fetch",
        "validate",
        "customer",
        "erp_customer",
        "contract:0",
        "contract:1",
        "server:0",
        "server:1",
        "next_customer:sp1",
        "next_customer:rj1",
        "line:0:0",
        "line:1:0",
        "line:1:1",
        "line:1:2",
        "did:0:0",
        "did:0:1",
        "did:1:0",
    ] {
        assert!(keys.contains(&k), "{k} missing from {keys:?}");
    }
    assert_eq!(j["server:0"].result["server"], "sp1");
    assert_eq!(j["server:1"].result["server"], "rj1");
    assert_eq!(w.erp.customers.lock().unwrap().len(), 1);
    assert_eq!(w.erp.contracts.lock().unwrap().len(), 2);
    assert_eq!(w.sp1.lines.lock().unwrap().len(), 1);
    assert_eq!(w.rj1.lines.lock().unwrap().len(), 3);
    assert_eq!(w.sp1.dids.lock().unwrap().len(), 2);
    assert_eq!(w.rj1.dids.lock().unwrap().len(), 1);
    let loads = w.store.loads().await.unwrap();
    assert_eq!(loads[&"rj1".parse::<ServerId>().unwrap()].lines, 3);
    let steps = w
        .store
        .audit(&AuditFilter {
            integration: Some(integration),
            action_prefix: Some("step.".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        steps.len(),
        keys.len(),
        "one audit event per journaled step"
    );
    assert!(steps.iter().all(|e| e.duration_ms.is_some()));
    // The last step's commit also ends the integration (`done` follows its event) and
    // provisions every reservation.
    let all = w
        .store
        .audit(&AuditFilter {
            integration: Some(integration),
            ..Default::default()
        })
        .await
        .unwrap();
    let done: Vec<_> = all.iter().filter(|e| e.action == "done").collect();
    assert_eq!(done.len(), 1, "{all:?}");
    let actions: Vec<&str> = all.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions[actions.len() - 2..], ["step.did:1:0", "done"]);
    assert_eq!(i.step.as_deref(), Some("done"));
    assert!(i.finished_at.is_some() && i.failure.is_none());
    for order in [0, 1] {
        let id: sig_core::ids::ServiceOrderId =
            serde_json::from_value(j[&format!("server:{order}")].result["order"].clone()).unwrap();
        let r = w.store.reservation(id).await.unwrap().unwrap();
        assert!(r.provisioned, "order {order}");
    }
    // Running again does nothing: every step is journaled.
    assert_eq!(w.pipeline.run_due().await.unwrap(), 0);
}

#[tokio::test]
async fn duplicates_and_non_approvals() {
    let w = world(100);
    let first = intake(&w, "1", sample()).await;
    let again = intake(&w, "1", sample()).await;
    let (IntakeOutcome::Created { integration: a }, IntakeOutcome::Duplicate { integration: b }) =
        (first, again)
    else {
        panic!()
    };
    assert_eq!(a, b);
    let ignored = w
        .pipeline
        .intake(
            &company(),
            key("2"),
            &ProposalStatus::Sent,
            Actor::Webhook("acme".into()),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        ignored,
        IntakeOutcome::Ignored {
            status: "sent".into()
        }
    );
    assert!(w.store.find_by_source(&key("2")).await.unwrap().is_none());
    let audit = w
        .store
        .audit(&AuditFilter {
            action_prefix: Some("notification.ignored".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(audit.len(), 1);
    // An approval after the ignored 'sent' still counts.
    let later = w
        .pipeline
        .intake(
            &company(),
            key("2"),
            &ProposalStatus::Approved,
            Actor::Webhook("acme".into()),
            Some(sample()),
        )
        .await
        .unwrap();
    assert!(matches!(later, IntakeOutcome::Created { .. }));
    let unknown = w
        .pipeline
        .intake(
            &"nope".parse().unwrap(),
            key("3"),
            &ProposalStatus::Approved,
            Actor::System,
            None,
        )
        .await;
    assert!(unknown.is_err());
}

#[tokio::test]
async fn invalid_proposals_are_held_with_every_problem() {
    let w = world(100);
    let mut raw = sample();
    raw.customer.tax_id = Some("123.456.789-00".into());
    raw.orders[0].billing_day = Some("31".into());
    let IntakeOutcome::Created { integration } = intake(&w, "bad", raw).await else {
        panic!()
    };
    w.pipeline.run_until_idle().await.unwrap();
    let i = w.store.get(integration).await.unwrap().unwrap();
    assert_eq!(i.status, IntegrationStatus::Held);
    let fields: Vec<&str> = i.problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(fields, vec!["customer.tax_id", "orders[0].billing_day"]);
    assert!(i.held_since.is_some());
    assert!(
        w.erp.customers.lock().unwrap().is_empty(),
        "nothing went upstream"
    );
    let journal = w.store.journal(integration).await.unwrap();
    assert!(
        journal.contains_key("fetch") && !journal.contains_key("validate"),
        "a held proposal keeps its fetch journaled: {:?}",
        journal.keys().collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_valid_proposal_is_fetched_validated_and_registered_in_one_commit() {
    let w = world(100);
    let IntakeOutcome::Created { integration } = intake(&w, "one", sample()).await else {
        panic!()
    };
    w.pipeline.run_until_idle().await.unwrap();
    let journal = w.store.journal(integration).await.unwrap();
    // Steps of one commit share its time; the next commit is a later one.
    let at = |k: &str| journal.get(k).unwrap_or_else(|| panic!("{k} journaled")).at;
    assert_eq!(at("fetch"), at("validate"));
    assert_eq!(at("validate"), at("customer"));
    assert!(at("erp_customer") > at("customer"));
    // Each keeps its own audit event.
    let events = w
        .store
        .audit(&AuditFilter {
            integration: Some(integration),
            ..Default::default()
        })
        .await
        .unwrap();
    for step in ["step.fetch", "step.validate", "step.customer"] {
        assert_eq!(
            events.iter().filter(|e| e.action == step).count(),
            1,
            "{step}"
        );
    }
}

#[tokio::test]
async fn the_re_read_status_counts_not_the_notification() {
    let w = world(100);
    let mut raw = sample();
    raw.status = Some("cancelled".into());
    let IntakeOutcome::Created { integration } = intake(&w, "stale", raw).await else {
        panic!()
    };
    w.pipeline.run_until_idle().await.unwrap();
    let i = w.store.get(integration).await.unwrap().unwrap();
    assert_eq!(i.status, IntegrationStatus::Held);
    assert_eq!(i.problems.0[0].field, "status");
    assert!(
        i.problems.0[0].message.contains("cancelled"),
        "{}",
        i.problems
    );
    assert!(w.erp.customers.lock().unwrap().is_empty());
}

#[tokio::test]
async fn transient_failures_back_off_and_finish() {
    let w = world(100);
    w.erp
        .script
        .push("UpsertCliente", UpstreamErrorKind::Transient, 2);
    w.sp1
        .script
        .push("manageDevices", UpstreamErrorKind::RateLimited, 1);
    let IntakeOutcome::Created { integration } = intake(&w, "t", sample()).await else {
        panic!()
    };
    w.pipeline.run_until_idle().await.unwrap();
    let i = w.store.get(integration).await.unwrap().unwrap();
    assert_eq!(i.status, IntegrationStatus::Done, "{i:?}");
    assert_eq!(i.attempts, 3);
    let errors = w
        .store
        .audit(&AuditFilter {
            integration: Some(integration),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        errors
            .iter()
            .filter(|e| e.outcome == sig_core::store::AuditOutcome::Error)
            .count(),
        3
    );
}

/// A create is a first attempt (no look-up before it) only when the run that sends it has
/// journaled the step before it; the first step a later run attempts is looked up first.
#[tokio::test]
async fn creates_skip_the_look_up_only_when_no_earlier_run_reached_them() {
    let w = world(100);
    // The first line's create fails once; its integration comes back in a new run.
    w.sp1
        .script
        .push("manageDevices", UpstreamErrorKind::Transient, 1);
    let IntakeOutcome::Created { integration } = intake(&w, "fresh", sample()).await else {
        panic!()
    };
    w.pipeline.run_until_idle().await.unwrap();
    let i = w.store.get(integration).await.unwrap().unwrap();
    assert_eq!(i.status, IntegrationStatus::Done, "{i:?}");

    let contracts = w.erp.attempts.lock().unwrap().clone();
    assert!(!contracts.is_empty());
    assert!(
        contracts.iter().all(|(_, a)| *a == Attempt::First),
        "the run that journaled the ERP customer sends every contract as a first attempt: \
         {contracts:?}"
    );
    let calls = w.sp1.attempts.lock().unwrap().clone();
    // The NextBilling customer: new, and no other integration is of it.
    assert!(calls[0].0.starts_with("customer:"), "{calls:?}");
    assert_eq!(calls[0].1, Attempt::First, "{calls:?}");
    let calls = calls[1..].to_vec();
    assert!(calls.len() >= 3, "{calls:?}");
    // The failed first line: a first attempt; the same line in the next run: looked up.
    assert_eq!(calls[0].1, Attempt::First, "{calls:?}");
    assert_eq!((&calls[1].0, calls[1].1), (&calls[0].0, Attempt::Again));
    // Once that run journaled it, every later line and DID is a first attempt again.
    assert!(
        calls[2..].iter().all(|(_, a)| *a == Attempt::First),
        "{calls:?}"
    );
    // Each record was asked for once per run that reached it.
    let mut ids: Vec<&String> = calls.iter().map(|(k, _)| k).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), calls.len() - 1, "{calls:?}");
}

/// What the pipeline said of earlier attempts in each NextBilling customer call to `next`.
fn customer_calls(next: &FakeNext) -> Vec<Attempt> {
    let calls = next.attempts.lock().unwrap();
    calls
        .iter()
        .filter(|(k, _)| k.starts_with("customer:"))
        .map(|(_, a)| *a)
        .collect()
}

/// A customer's NextBilling customer on a server is shared by its integrations. It is sent
/// as a first attempt (no look-up) only by the customer's only integration, in a run that
/// journaled the step before; a later integration of the customer uses the link and calls
/// nothing; one whose sibling never linked it, or a run after a failed one, looks it up.
#[tokio::test]
async fn a_shared_next_customer_skips_the_look_up_only_when_nothing_else_can_have_sent_it() {
    let w = world(100);
    // The customer's only integration: a first attempt on each of its two servers.
    let first = run_to_the_end(&w, "first", sample()).await;
    assert_eq!(first.status, IntegrationStatus::Done, "{first:?}");
    assert_eq!(customer_calls(&w.sp1), vec![Attempt::First]);
    assert_eq!(customer_calls(&w.rj1), vec![Attempt::First]);

    // Its second integration: the link, no call.
    let mut again = sample();
    again.orders.truncate(1);
    again.orders[0].dids = vec!["11 3456-7002".into()];
    let second = run_to_the_end(&w, "second", again).await;
    assert_eq!(second.status, IntegrationStatus::Done, "{second:?}");
    assert_eq!(
        customer_calls(&w.sp1),
        vec![Attempt::First],
        "no second call"
    );
    let voip_ids = [
        w.store.journal(first.id).await.unwrap(),
        w.store.journal(second.id).await.unwrap(),
    ]
    .map(|j| j["next_customer:sp1"].result["voip_id"].clone());
    assert_eq!(
        voip_ids[0], voip_ids[1],
        "the first one's NextBilling customer"
    );
    let step = w
        .store
        .audit(&AuditFilter {
            integration: Some(second.id),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.action == "step.next_customer:sp1")
        .unwrap();
    assert_eq!(
        (step.system, step.call.as_deref()),
        (None, None),
        "{:?}",
        step.summary
    );
    assert!(step.summary.contains("linked"), "{}", step.summary);

    // A customer whose first integration failed before its NextBilling customer: the next
    // one cannot know whether it sent one, and looks it up.
    w.erp
        .script
        .push("IncluirContrato", UpstreamErrorKind::Rejected, 1);
    let failed = run_to_the_end(&w, "other-1", sample_for(7)).await;
    assert_eq!(failed.status, IntegrationStatus::Failed, "{failed:?}");
    let after = run_to_the_end(&w, "other-2", sample_for(7)).await;
    assert_eq!(after.status, IntegrationStatus::Done, "{after:?}");
    assert_eq!(failed.customer, after.customer);
    assert_eq!(customer_calls(&w.sp1)[1..], [Attempt::Again]);

    // A create that failed in one run is looked up in the next.
    w.sp1
        .script
        .push("manageCustomers", UpstreamErrorKind::Transient, 1);
    let retried = run_to_the_end(&w, "third", sample_for(8)).await;
    assert_eq!(retried.status, IntegrationStatus::Done, "{retried:?}");
    assert_eq!(
        customer_calls(&w.sp1)[2..],
        [Attempt::First, Attempt::Again]
    );
    // One NextBilling customer per SIG customer on each server, whatever the path.
    assert_eq!(w.sp1.customers.lock().unwrap().len(), 3);
}

/// Take in a new proposal, run the pipeline until nothing is left to do, and read the
/// integration back.
async fn run_to_the_end(w: &World, id: &str, raw: RawProposal) -> sig_core::store::Integration {
    let IntakeOutcome::Created { integration } = intake(w, id, raw).await else {
        panic!("proposal {id} was not taken in as new")
    };
    w.pipeline.run_until_idle().await.unwrap();
    w.store.get(integration).await.unwrap().unwrap()
}

/// The journal entries of one kind of step for one order, by key.
fn entries_of(
    journal: &BTreeMap<String, sig_core::store::StepEntry>,
    prefix: &str,
) -> Vec<sig_core::store::StepEntry> {
    journal
        .iter()
        .filter(|(k, _)| k.starts_with(prefix))
        .map(|(_, e)| e.clone())
        .collect()
}

/// An order's lines are created at once (each create waits for the others), and so are its
/// DIDs; each phase is journaled in one commit, each step with its own entry.
#[tokio::test]
async fn independent_creates_are_sent_at_once_and_journaled_together() {
    // The sample has two orders: the first (area 11, on sp1) with 2 DIDs, the second
    // (VOIP-LINHA x3, area 21, on rj1) with 3 lines. Their contracts, the customer on each
    // server, the lines and the DIDs each go at once: a create sent alone times out.
    let customers = Some(Arc::new(tokio::sync::Barrier::new(2)));
    let w = world_with(
        100,
        FakeErp {
            contracts_at_once: Some(Arc::new(tokio::sync::Barrier::new(2))),
            ..Default::default()
        },
        FakeNext {
            id: Some("sp1".parse().unwrap()),
            dids_at_once: Some(Arc::new(tokio::sync::Barrier::new(2))),
            customers_at_once: customers.clone(),
            ..Default::default()
        },
        FakeNext {
            id: Some("rj1".parse().unwrap()),
            lines_at_once: Some(Arc::new(tokio::sync::Barrier::new(3))),
            customers_at_once: customers,
            ..Default::default()
        },
    );
    let i = run_to_the_end(&w, "at-once", sample()).await;
    let integration = i.id;
    assert_eq!(i.status, IntegrationStatus::Done, "{i:?}");
    assert_eq!(i.attempts, 0, "nothing failed: {i:?}");
    assert_eq!(w.erp.contracts.lock().unwrap().len(), 2);
    assert_eq!(w.rj1.lines.lock().unwrap().len(), 3);
    assert_eq!(w.sp1.dids.lock().unwrap().len(), 2);

    let journal = w.store.journal(integration).await.unwrap();
    for (prefix, n) in [
        ("contract:", 2),
        ("next_customer:", 2),
        ("line:1:", 3),
        ("did:0:", 2),
    ] {
        let entries = entries_of(&journal, prefix);
        assert_eq!(entries.len(), n, "{prefix}: {journal:?}");
        assert!(
            entries.iter().all(|e| e.at == entries[0].at),
            "{prefix} steps are journaled in one commit: {entries:?}"
        );
    }
    // Each phase starts once the one before it is journaled.
    let first_at = |prefix: &str| entries_of(&journal, prefix)[0].at;
    assert!(first_at("contract:") > journal["erp_customer"].at);
    // The servers are chosen as the contracts end, and journaled in their commit.
    assert_eq!(first_at("server:"), first_at("contract:"));
    assert!(first_at("next_customer:") > first_at("server:"));
    assert!(first_at("line:") > first_at("next_customer:"));
    assert!(first_at("did:") > first_at("line:"));
    // Both servers' customers are linked by their one commit.
    let customer = i.customer.unwrap();
    let links = w.store.customer_links(customer).await.unwrap();
    assert_eq!(
        links.voip.keys().map(|s| s.as_str()).collect::<Vec<_>>(),
        vec!["rj1", "sp1"]
    );
    // One audit event per step, as when each had its own commit.
    for (prefix, n) in [
        ("step.line:1:", 3),
        ("step.contract:", 2),
        ("step.next_customer:", 2),
    ] {
        let events = w
            .store
            .audit(&AuditFilter {
                integration: Some(integration),
                action_prefix: Some(prefix.into()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(events.len(), n, "{prefix}: {events:?}");
    }
}

/// When one create of a phase fails, the ones that succeeded are journaled before the run
/// stops, and the retry sends only the failed one (looked up first: it may have landed).
#[tokio::test]
async fn a_failed_line_keeps_the_lines_that_succeeded_and_only_it_is_sent_again() {
    let w = world(100);
    w.rj1
        .script
        .push("manageDevices", UpstreamErrorKind::Transient, 1);
    let i = run_to_the_end(&w, "one-fails", sample()).await;
    let integration = i.id;
    assert_eq!(i.status, IntegrationStatus::Done, "{i:?}");
    assert_eq!(i.attempts, 1, "one failed attempt: {i:?}");

    let calls: Vec<(String, Attempt)> = w
        .rj1
        .attempts
        .lock()
        .unwrap()
        .iter()
        .filter(|(k, _)| w.rj1.lines.lock().unwrap().contains_key(k))
        .cloned()
        .collect();
    assert_eq!(w.rj1.lines.lock().unwrap().len(), 3);
    assert_eq!(calls.len(), 4, "three lines, one of them twice: {calls:?}");
    let again: Vec<_> = calls.iter().filter(|(_, a)| *a == Attempt::Again).collect();
    assert_eq!(again.len(), 1, "{calls:?}");
    let failed = &again[0].0;
    assert_eq!(
        calls.iter().filter(|(k, _)| k == failed).count(),
        2,
        "only the failed line is sent again: {calls:?}"
    );
    // The two that succeeded were journaled by the first run, the failed one by the retry.
    let journal = w.store.journal(integration).await.unwrap();
    let mut ats: Vec<_> = entries_of(&journal, "line:1:")
        .iter()
        .map(|e| e.at)
        .collect();
    ats.sort();
    assert_eq!(ats.len(), 3);
    assert_eq!(ats[0], ats[1]);
    assert!(ats[2] > ats[1], "{ats:?}");
}

#[tokio::test]
async fn a_lost_response_is_found_not_duplicated() {
    let w = world(100);
    *w.erp.lose_next_create.lock().unwrap() = true;
    let IntakeOutcome::Created { integration } = intake(&w, "lost", sample()).await else {
        panic!()
    };
    w.pipeline.run_until_idle().await.unwrap();
    assert_eq!(
        w.store.get(integration).await.unwrap().unwrap().status,
        IntegrationStatus::Done
    );
    let creates = w.erp.creates.lock().unwrap();
    assert_eq!(creates.len(), 1);
    assert!(creates.values().all(|n| *n == 1), "{creates:?}");
}

#[tokio::test]
async fn exhausted_retries_fail_retryably_and_an_operator_can_retry() {
    let w = world(100);
    // Every one of the 4 attempts fails for both orders' contracts (sent at once).
    w.erp
        .script
        .push("IncluirContrato", UpstreamErrorKind::Transient, 8);
    let IntakeOutcome::Created { integration } = intake(&w, "x", sample()).await else {
        panic!()
    };
    w.pipeline.run_until_idle().await.unwrap();
    let i = w.store.get(integration).await.unwrap().unwrap();
    assert_eq!(i.status, IntegrationStatus::Failed);
    let f = i.failure.unwrap();
    assert_eq!((f.step.as_str(), f.retryable), ("contract:0", true));
    let ana = Actor::User("ana".parse().unwrap());
    w.pipeline.retry(integration, ana.clone()).await.unwrap();
    w.pipeline.run_until_idle().await.unwrap();
    assert_eq!(
        w.store.get(integration).await.unwrap().unwrap().status,
        IntegrationStatus::Done
    );
    assert_eq!(
        w.erp.customers.lock().unwrap().len(),
        1,
        "the journaled customer step was not repeated"
    );
    let retry = w
        .store
        .audit(&AuditFilter {
            actor: Some(ana.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    let actions: Vec<&str> = retry.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        vec!["authz.retry_integration", "retry"],
        "the decision and the retry"
    );
    assert!(
        matches!(
            w.pipeline.retry(integration, ana).await,
            Err(sig_core::pipeline::PipelineError::InvalidState { .. })
        ),
        "only failed ones are retried"
    );
}

#[tokio::test]
async fn a_permanent_failure_stops_and_releases_capacity() {
    let w = world(100);
    w.rj1
        .script
        .push("manageDevices", UpstreamErrorKind::Rejected, 1);
    let IntakeOutcome::Created { integration } = intake(&w, "p", sample()).await else {
        panic!()
    };
    w.pipeline.run_until_idle().await.unwrap();
    let i = w.store.get(integration).await.unwrap().unwrap();
    assert_eq!(i.status, IntegrationStatus::Failed);
    let f = i.failure.unwrap();
    assert!(!f.retryable);
    assert_eq!(f.step, "line:1:0");
    assert_eq!(f.system, Some(System::NextBilling));
    assert!(
        w.store
            .loads()
            .await
            .unwrap()
            .values()
            .all(|l| l.lines == 0 && l.channels == 0),
        "reservations released"
    );
}

#[tokio::test]
async fn no_room_or_no_server_fails_with_the_reasons() {
    let w = world(1); // sp1 has 1 line: the first trunk order takes it, the next finds none left
    let IntakeOutcome::Created { integration: a } = intake(&w, "a", sample()).await else {
        panic!()
    };
    w.pipeline.run_until_idle().await.unwrap();
    assert_eq!(
        w.store.get(a).await.unwrap().unwrap().status,
        IntegrationStatus::Done
    );
    let mut other = sample();
    other.customer.tax_id = Some("529.982.247-25".into());
    let IntakeOutcome::Created { integration: b } = intake(&w, "b", other).await else {
        panic!()
    };
    w.pipeline.run_until_idle().await.unwrap();
    let i = w.store.get(b).await.unwrap().unwrap();
    assert_eq!(i.status, IntegrationStatus::Failed);
    let f = i.failure.unwrap();
    assert_eq!(f.step, "server:0");
    assert!(f.reason.contains("no room"), "{}", f.reason);
    *w.sp1.unhealthy.lock().unwrap() = true;
    let d = w
        .pipeline
        .decide(sig_core::choice::Demand {
            area_code: sig_core::AreaCode::new(12).unwrap(),
            lines: 1,
            channels: 1,
        })
        .await
        .unwrap();
    assert!(
        d.explain().contains("no eligible server"),
        "{}",
        d.explain()
    );
}

#[tokio::test]
async fn an_unhealthy_server_is_waited_for_not_a_permanent_failure() {
    let w = world(100);
    // sp1 is the only server for the sample's area code, and its probe fails.
    *w.sp1.unhealthy.lock().unwrap() = true;
    let IntakeOutcome::Created { integration } = intake(&w, "u", sample()).await else {
        panic!()
    };
    let claimed = w
        .store
        .claim(chrono::Utc::now(), Duration::from_secs(30), 10)
        .await
        .unwrap();
    let outcome = w.pipeline.run(claimed[0].clone()).await.unwrap();
    assert_eq!(
        outcome,
        RunOutcome::Retrying,
        "an unhealthy server is transient"
    );
    let i = w.store.get(integration).await.unwrap().unwrap();
    assert_eq!(i.status, IntegrationStatus::Pending);
    assert!(
        i.step.as_deref().unwrap_or("").starts_with("server:"),
        "{i:?}"
    );
    // The server recovers; the retry (after the probe result expires) finishes the work.
    *w.sp1.unhealthy.lock().unwrap() = false;
    tokio::time::sleep(Duration::from_millis(50)).await;
    w.pipeline.run_until_idle().await.unwrap();
    let i = w.store.get(integration).await.unwrap().unwrap();
    assert_eq!(i.status, IntegrationStatus::Done, "{:?}", i.failure);
}

#[tokio::test]
async fn two_proposals_of_one_customer_share_it_everywhere() {
    let w = world(100);
    let mut second = sample();
    second.orders.truncate(1);
    second.orders[0].dids = vec!["11 3456-7002".into()];
    let (a, b) = tokio::join!(intake(&w, "a", sample()), intake(&w, "b", second));
    assert!(matches!(
        (a, b),
        (IntakeOutcome::Created { .. }, IntakeOutcome::Created { .. })
    ));
    w.pipeline.run_until_idle().await.unwrap();
    let done = w.store.list(&Default::default()).await.unwrap();
    assert!(done.iter().all(|i| i.status == IntegrationStatus::Done));
    assert_eq!(
        done[0].customer, done[1].customer,
        "one SIG customer per tax id"
    );
    assert_eq!(w.erp.customers.lock().unwrap().len(), 1);
    assert_eq!(w.sp1.customers.lock().unwrap().len(), 1);
    assert_eq!(
        w.erp.contracts.lock().unwrap().len(),
        3,
        "one contract per order"
    );
    let _ = &w.catalog;
}

/// A store that is `inner` but for what happens to a pipeline between its reads and its
/// commits in a busy system: registry lookups that never find a customer
/// (`late_lookups`, as when every lookup ran just before another integration of the same
/// customer registered it), and commits that reserve room refused for want of it
/// (`refuse_reserving` of them, as when concurrent orders took the room since the decision,
/// and gave it back since).
struct Meddling {
    inner: Arc<MemoryStore>,
    late_lookups: bool,
    refuse_reserving: std::sync::atomic::AtomicUsize,
}

impl Meddling {
    fn late_lookups(inner: Arc<MemoryStore>) -> Self {
        Meddling {
            inner,
            late_lookups: true,
            refuse_reserving: Default::default(),
        }
    }
    fn refusing_reservations(inner: Arc<MemoryStore>, times: usize) -> Self {
        Meddling {
            inner,
            late_lookups: false,
            refuse_reserving: times.into(),
        }
    }
}

#[async_trait]
impl Store for Meddling {
    async fn intake(
        &self,
        new: Integration,
        audit: AuditEvent,
    ) -> Result<(Integration, bool), StoreError> {
        self.inner.intake(new, audit).await
    }
    async fn get(&self, id: IntegrationId) -> Result<Option<Integration>, StoreError> {
        self.inner.get(id).await
    }
    async fn find_by_source(&self, key: &SourceKey) -> Result<Option<Integration>, StoreError> {
        self.inner.find_by_source(key).await
    }
    async fn list(&self, filter: &IntegrationFilter) -> Result<Vec<Integration>, StoreError> {
        self.inner.list(filter).await
    }
    async fn claim(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        max: usize,
    ) -> Result<Vec<Integration>, StoreError> {
        self.inner.claim(now, lease, max).await
    }
    async fn unclaim(&self, id: IntegrationId) -> Result<(), StoreError> {
        self.inner.unclaim(id).await
    }
    async fn renew_leases(
        &self,
        ids: &[IntegrationId],
        until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.inner.renew_leases(ids, until).await
    }
    async fn lease(
        &self,
        id: IntegrationId,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Option<Integration>, StoreError> {
        self.inner.lease(id, now, lease).await
    }
    async fn commit(&self, change: Change) -> Result<(), StoreError> {
        use std::sync::atomic::Ordering::SeqCst;
        if let Some((r, _)) = change.reserve.first()
            && self
                .refuse_reserving
                .fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1))
                .is_ok()
        {
            return Err(StoreError::NoRoom {
                order: r.order,
                server: r.server.clone(),
            });
        }
        self.inner.commit(change).await
    }
    async fn journal(&self, id: IntegrationId) -> Result<BTreeMap<String, StepEntry>, StoreError> {
        self.inner.journal(id).await
    }
    async fn customer_id_for(
        &self,
        company: &CompanyId,
        tax_id: &TaxId,
        candidate: CustomerId,
    ) -> Result<CustomerId, StoreError> {
        self.inner.customer_id_for(company, tax_id, candidate).await
    }
    async fn find_customer(
        &self,
        company: &CompanyId,
        tax_id: &TaxId,
    ) -> Result<Option<CustomerId>, StoreError> {
        if self.late_lookups {
            return Ok(None);
        }
        self.inner.find_customer(company, tax_id).await
    }
    async fn register_direct(
        &self,
        company: &CompanyId,
        tax_id: &TaxId,
        candidate: CustomerId,
        new: Integration,
        audit: AuditEvent,
    ) -> Result<DirectRegistration, StoreError> {
        self.inner
            .register_direct(company, tax_id, candidate, new, audit)
            .await
    }
    async fn customer_links(&self, id: CustomerId) -> Result<CustomerLinks, StoreError> {
        self.inner.customer_links(id).await
    }
    async fn customer_shared(
        &self,
        customer: CustomerId,
        besides: IntegrationId,
    ) -> Result<bool, StoreError> {
        self.inner.customer_shared(customer, besides).await
    }
    async fn loads(&self) -> Result<BTreeMap<ServerId, Load>, StoreError> {
        self.inner.loads().await
    }
    async fn reserve(&self, r: &Reservation, capacity: Load) -> Result<bool, StoreError> {
        self.inner.reserve(r, capacity).await
    }
    async fn reservation(&self, order: ServiceOrderId) -> Result<Option<Reservation>, StoreError> {
        self.inner.reservation(order).await
    }
    async fn limit_state(&self, key: &str) -> Result<Option<serde_json::Value>, StoreError> {
        self.inner.limit_state(key).await
    }
    async fn set_limit_state(
        &self,
        key: &str,
        value: &serde_json::Value,
    ) -> Result<(), StoreError> {
        self.inner.set_limit_state(key, value).await
    }
    async fn append_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        self.inner.append_audit(events).await
    }
    async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>, StoreError> {
        self.inner.audit(filter).await
    }
}

#[tokio::test]
async fn a_customer_registered_meanwhile_is_the_one_used() {
    // The second proposal of a customer looks it up too late (`late_lookups`): its validate
    // commit, which registers a new customer, is refused, and it is made again with the
    // customer the first one registered.
    let w = world_viewed(|s| Arc::new(Meddling::late_lookups(s)), 100);
    let first = run_to_the_end(&w, "first", sample()).await;
    let mut again = sample();
    again.orders.truncate(1);
    again.orders[0].dids = vec!["11 3456-7002".into()];
    let second = run_to_the_end(&w, "second", again).await;
    assert_eq!(first.status, IntegrationStatus::Done, "{first:?}");
    assert_eq!(second.status, IntegrationStatus::Done, "{second:?}");
    assert_eq!(second.attempts, 0, "the refusal is not a failed attempt");
    assert_eq!(
        first.customer, second.customer,
        "one SIG customer per tax id"
    );
    let journal = w.store.journal(second.id).await.unwrap();
    assert_eq!(
        journal["customer"].result["customer"],
        serde_json::json!(first.customer.unwrap())
    );
    assert_eq!(w.erp.customers.lock().unwrap().len(), 1);
    assert_eq!(w.sp1.customers.lock().unwrap().len(), 1);
}

/// The servers chosen as the contracts end are journaled in the contracts' commit, with
/// their reservations. When that commit is refused for want of room (concurrent orders took
/// it since the decision), the contracts are journaled alone and each order takes its own
/// server step, deciding again: nothing upstream is sent twice and nothing fails.
#[tokio::test]
async fn servers_chosen_with_the_contracts_fall_back_to_their_own_steps_without_room() {
    let w = world_viewed(|s| Arc::new(Meddling::refusing_reservations(s, 1)), 100);
    let i = run_to_the_end(&w, "no-room-once", sample()).await;
    assert_eq!(i.status, IntegrationStatus::Done, "{i:?}");
    assert_eq!(i.attempts, 0, "the refusal is not a failed attempt: {i:?}");
    assert_eq!(
        w.erp.contracts.lock().unwrap().len(),
        2,
        "each contract once"
    );
    assert!(
        w.erp.attempts.lock().unwrap().len() == 2,
        "no contract was sent again"
    );
    let journal = w.store.journal(i.id).await.unwrap();
    let at = |key: &str| journal[key].at;
    assert_eq!(at("contract:0"), at("contract:1"), "one commit");
    assert!(at("server:0") > at("contract:1"), "the contracts alone");
    assert!(
        at("server:1") > at("server:0"),
        "each order in its own commit"
    );
    for (n, server) in [(0, "sp1"), (1, "rj1")] {
        let order = journal[&format!("server:{n}")].result["order"].clone();
        let order: ServiceOrderId = serde_json::from_value(order).unwrap();
        let r = w.store.reservation(order).await.unwrap().unwrap();
        assert_eq!((r.server.as_str(), r.provisioned), (server, true));
    }

    // Without a refusal, one commit holds the contracts, the choices and their reservations.
    let once = w.store.loads().await.unwrap();
    let j = run_to_the_end(&w, "room", sample_for(3)).await;
    let journal = w.store.journal(j.id).await.unwrap();
    let contracts_at = journal["contract:0"].at;
    assert!(
        ["contract:1", "server:0", "server:1"]
            .iter()
            .all(|k| journal[*k].at == contracts_at),
        "{journal:?}"
    );
    let twice = w.store.loads().await.unwrap();
    assert_eq!(once.len(), 2);
    for (server, l) in &once {
        assert_eq!(
            twice[server],
            Load {
                lines: 2 * l.lines,
                channels: 2 * l.channels
            },
            "the same orders take the same room on {server}, once each"
        );
    }
}

/// The orders' servers chosen with the contracts count the room the orders before them take:
/// two orders in one area that two servers serve go to both, least utilised first, as when
/// each order's choice was committed before the next was made.
#[tokio::test]
async fn orders_chosen_together_count_each_others_room() {
    let w = world_serving(
        |s| s,
        100,
        &[11, 21],
        FakeErp::default(),
        next("sp1"),
        next("rj1"),
    );
    let mut both_in_11 = sample();
    both_in_11.orders[1].area_code = Some("11".into());
    both_in_11.orders[1].dids = vec!["11 3456-7009".into()];
    let i = run_to_the_end(&w, "both-in-11", both_in_11).await;
    assert_eq!(i.status, IntegrationStatus::Done, "{i:?}");
    let journal = w.store.journal(i.id).await.unwrap();
    assert_eq!(
        journal["server:0"].at, journal["contract:0"].at,
        "chosen together"
    );
    let servers: std::collections::BTreeSet<String> = ["server:0", "server:1"]
        .iter()
        .map(|k| {
            let c: sig_core::pipeline::ServerChoiceWithOrder =
                serde_json::from_value(journal[*k].result.clone()).unwrap();
            c.choice.server.to_string()
        })
        .collect();
    assert_eq!(servers.len(), 2, "one order on each server: {servers:?}");
}

/// An ERP whose customer upsert waits at a gate: the test sees the call start and decides
/// when it ends. It counts the upserts running at once, and the most it saw.
struct GatedErp {
    inner: Arc<FakeErp>,
    entered: tokio::sync::Semaphore,
    gate: tokio::sync::Semaphore,
    running: std::sync::atomic::AtomicUsize,
    most: std::sync::atomic::AtomicUsize,
}

impl GatedErp {
    /// Over `inner`, with the gate holding `open` permits.
    fn new(inner: Arc<FakeErp>, open: usize) -> Self {
        GatedErp {
            inner,
            entered: tokio::sync::Semaphore::new(0),
            gate: tokio::sync::Semaphore::new(open),
            running: Default::default(),
            most: Default::default(),
        }
    }
}

#[async_trait]
impl Erp for GatedErp {
    async fn upsert_customer(
        &self,
        id: CustomerId,
        c: &Customer,
        known: Option<i64>,
    ) -> Result<ErpCustomer, UpstreamError> {
        use std::sync::atomic::Ordering::SeqCst;
        let now = self.running.fetch_add(1, SeqCst) + 1;
        self.most.fetch_max(now, SeqCst);
        self.entered.add_permits(1);
        self.gate.acquire().await.unwrap().forget();
        // Another run overlapping this one would start its upsert meanwhile.
        tokio::task::yield_now().await;
        let r = self.inner.upsert_customer(id, c, known).await;
        self.running.fetch_sub(1, SeqCst);
        r
    }
    async fn find_customer(
        &self,
        l: &CustomerLookup,
    ) -> Result<Option<ErpCustomer>, UpstreamError> {
        self.inner.find_customer(l).await
    }
    async fn ensure_contract(
        &self,
        c: &ErpCustomer,
        r: &ContractRequest<'_>,
    ) -> Result<ErpContract, UpstreamError> {
        self.inner.ensure_contract(c, r).await
    }
}

/// A pipeline over `w`'s store, servers and catalog with another ERP and concurrency 1.
fn pipeline_with(w: &World, erp: Arc<dyn Erp>) -> Pipeline {
    Pipeline::new(
        w.store.clone(),
        vec![CompanyHandle {
            id: company(),
            hold_for_review: false,
            erp,
            source: None,
        }],
        vec![
            ServerHandle {
                info: server("sp1", &[11, 12], 100),
                platform: w.sp1.clone(),
            },
            ServerHandle {
                info: server("rj1", &[21], 100),
                platform: w.rj1.clone(),
            },
        ],
        Arc::new(w.catalog.clone()),
        Arc::new(SystemClock),
        Settings {
            concurrency: 1,
            ..Settings::default()
        },
    )
}

#[tokio::test]
async fn a_drain_finishes_the_running_step_parks_and_gives_everything_back() {
    let w = world(100);
    let gated = Arc::new(GatedErp::new(w.erp.clone(), 0));
    let p = Arc::new(pipeline_with(&w, gated.clone()));
    let IntakeOutcome::Created { integration: a } = intake(&w, "a", sample()).await else {
        panic!()
    };
    let IntakeOutcome::Created { integration: b } = intake(&w, "b", sample()).await else {
        panic!()
    };
    let run = tokio::spawn({
        let p = p.clone();
        async move { p.run_due().await }
    });
    // One integration is inside the ERP call; the other waits for a turn (concurrency 1).
    gated.entered.acquire().await.unwrap().forget();
    assert_eq!(p.in_flight().len(), 2, "both are claimed");
    p.drain();
    gated.gate.add_permits(1);
    assert_eq!(run.await.unwrap().unwrap(), 2);
    assert!(p.in_flight().is_empty(), "nothing left claimed");
    assert_eq!(
        p.run_due().await.unwrap(),
        0,
        "a draining pipeline claims nothing"
    );

    let mut journaled = Vec::new();
    for id in [a, b] {
        let i = w.store.get(id).await.unwrap().unwrap();
        assert_eq!(i.status, IntegrationStatus::Pending, "parked, not failed");
        journaled.push(w.store.journal(id).await.unwrap());
    }
    let started: Vec<_> = journaled
        .iter()
        .filter(|j| j.contains_key("erp_customer"))
        .collect();
    assert_eq!(
        started.len(),
        1,
        "the running step was finished and journaled"
    );
    assert!(
        !started[0].contains_key("contract:0"),
        "no step after the running one"
    );
    assert!(
        journaled.iter().any(|j| j.is_empty()),
        "the one waiting for a turn never started"
    );
    // Leases were released: another worker claims both at once.
    let claimed = w
        .store
        .claim(chrono::Utc::now(), Duration::from_secs(60), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2, "both leases were given back");
    for i in claimed {
        w.store.unclaim(i.id).await.unwrap();
    }

    // A fresh pipeline resumes both to done, creating the customer once.
    gated.gate.add_permits(10);
    w.pipeline.run_until_idle().await.unwrap();
    for id in [a, b] {
        assert_eq!(
            w.store.get(id).await.unwrap().unwrap().status,
            IntegrationStatus::Done
        );
    }
    assert_eq!(w.erp.creates.lock().unwrap().values().sum::<u32>(), 1);
}

/// Proposal `n` of a series, each for a customer of its own (a CNPJ whose check digits are
/// found against sig-core's own rule), so the runs do not wait for each other's customer.
fn sample_for(n: u32) -> RawProposal {
    let base = format!("{:08}0001", 10_000_000 + n);
    let cnpj = (0..100)
        .map(|dv| format!("{base}{dv:02}"))
        .find(|c| sig_core::Cnpj::is_valid(c))
        .unwrap();
    let text = serde_json::to_string(&sample()).unwrap();
    assert!(text.contains(SAMPLE_TAX_ID), "the sample's tax id changed");
    serde_json::from_str(&text.replace(SAMPLE_TAX_ID, &cnpj)).unwrap()
}

/// The customer's tax id in the sample proposal.
const SAMPLE_TAX_ID: &str = "12.ABC.345/01DE-35";

#[tokio::test]
async fn one_run_claims_again_while_work_is_due_and_keeps_to_the_concurrency() {
    let w = world(1000);
    let counting = Arc::new(GatedErp::new(w.erp.clone(), 100));
    // Concurrency 1: a claim takes four integrations at most.
    let p = pipeline_with(&w, counting.clone());
    for n in 0..10 {
        intake(&w, &format!("c{n}"), sample_for(n)).await;
    }
    assert_eq!(
        p.run_due().await.unwrap(),
        10,
        "one run claimed again until nothing was due"
    );
    assert_eq!(counting.most.load(std::sync::atomic::Ordering::SeqCst), 1);
    let all = w.store.list(&Default::default()).await.unwrap();
    assert_eq!(all.len(), 10);
    assert!(all.iter().all(|i| i.status == IntegrationStatus::Done));
    assert_eq!(w.erp.customers.lock().unwrap().len(), 10);
    assert_eq!(p.run_due().await.unwrap(), 0, "nothing left");
}

#[tokio::test]
async fn a_drained_run_claims_nothing_more() {
    let w = world(1000);
    let gated = Arc::new(GatedErp::new(w.erp.clone(), 0));
    let p = Arc::new(pipeline_with(&w, gated.clone()));
    for n in 0..10 {
        intake(&w, &format!("d{n}"), sample_for(n)).await;
    }
    let run = tokio::spawn({
        let p = p.clone();
        async move { p.run_due().await }
    });
    gated.entered.acquire().await.unwrap().forget();
    assert_eq!(p.in_flight().len(), 4, "one chunk claimed (concurrency 1)");
    p.drain();
    gated.gate.add_permits(100);
    assert_eq!(run.await.unwrap().unwrap(), 4, "no claim after the drain");
    assert!(p.in_flight().is_empty());
    let claimable = w
        .store
        .claim(chrono::Utc::now(), Duration::from_secs(60), 100)
        .await
        .unwrap();
    assert_eq!(claimable.len(), 10, "every one pending and unleased");
}

#[tokio::test]
async fn abandoned_runs_give_their_leases_back() {
    let w = world(100);
    let gated = Arc::new(GatedErp::new(w.erp.clone(), 0));
    let p = Arc::new(pipeline_with(&w, gated.clone()));
    intake(&w, "a", sample()).await;
    let run = tokio::spawn({
        let p = p.clone();
        async move { p.run_due().await }
    });
    gated.entered.acquire().await.unwrap().forget();
    // A shutdown deadline: the run is dropped mid-call.
    run.abort();
    assert!(run.await.unwrap_err().is_cancelled());
    assert!(
        w.store
            .claim(chrono::Utc::now(), Duration::from_secs(60), 10)
            .await
            .unwrap()
            .is_empty(),
        "still leased to the abandoned run"
    );
    assert_eq!(p.release_claims().await.unwrap(), 1);
    assert_eq!(
        w.store
            .claim(chrono::Utc::now(), Duration::from_secs(60), 10)
            .await
            .unwrap()
            .len(),
        1,
        "given back"
    );
}
