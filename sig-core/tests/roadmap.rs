//! Roadmap §1 on the pipeline with small in-memory ports: authorization wired into every
//! operation people run, edits before integration (field policy, re-validation, resume, the
//! DocSales fetch), review holds, manual ServidorNext choice and links. The sandbox-backed
//! versions live in `examples/tests/roadmap.rs`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use sig_core::authz::{Action, Authorizer, Policy};
use sig_core::config::{Catalog, Config, MapSecrets, Profile};
use sig_core::domain::{Customer, ProposalStatus};
use sig_core::edit::ProposalPatch;
use sig_core::ids::{CompanyId, CustomerId, IntegrationId, ServerId};
use sig_core::links::{LinkKind, LinkTargets, NextTarget, OmieTarget, links_for};
use sig_core::pipeline::{
    CompanyHandle, IntakeOutcome, Pipeline, PipelineError, REVIEW_STEP, ServerChoiceWithOrder,
    ServerHandle, ServerInfo, Settings, SystemClock,
};
use sig_core::ports::*;
use sig_core::raw::RawProposal;
use sig_core::store::{
    Actor, AuditEvent, AuditFilter, AuditOutcome, IntegrationStatus, MemoryStore, Store,
};

// ---------------------------------------------------------------------------------------
// Small ports.

#[derive(Default)]
struct FakeErp {
    /// Customers by SIG id: (Omie id, the CEP and contact sent last).
    customers: Mutex<BTreeMap<CustomerId, (i64, String, String)>>,
    contracts: Mutex<BTreeMap<String, i64>>,
    /// Transient failures to give on the next contract calls.
    fail_contracts: AtomicUsize,
}

#[async_trait]
impl Erp for FakeErp {
    async fn upsert_customer(
        &self,
        id: CustomerId,
        c: &Customer,
        _known: Option<i64>,
    ) -> Result<ErpCustomer, UpstreamError> {
        let mut m = self.customers.lock().unwrap();
        let n = m.len() as i64 + 2_000_001;
        let created = !m.contains_key(&id);
        let contact = c
            .contact_name
            .as_ref()
            .map(|n| n.to_string())
            .unwrap_or_default();
        let e = m.entry(id).or_insert((n, String::new(), String::new()));
        e.1 = c.address.cep.to_string();
        e.2 = contact;
        Ok(ErpCustomer {
            erp_id: e.0,
            integration_code: Some(id.to_string()),
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
        if self
            .fail_contracts
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(UpstreamError::new(
                System::Omie,
                "IncluirContrato",
                UpstreamErrorKind::Transient,
                "scripted",
            ));
        }
        let key = r.order_id.to_string();
        let mut m = self.contracts.lock().unwrap();
        let n = m.len() as i64 + 4_000_001;
        let erp_id = *m.entry(key.clone()).or_insert(n);
        Ok(ErpContract {
            erp_id,
            integration_code: key,
            created: true,
        })
    }
}

struct Next {
    id: ServerId,
    lines: Mutex<Vec<String>>,
}

#[async_trait]
impl VoipPlatform for Next {
    fn server_id(&self) -> &ServerId {
        &self.id
    }
    async fn ensure_customer(
        &self,
        _id: CustomerId,
        _c: &Customer,
        _attempt: Attempt,
    ) -> Result<VoipCustomer, UpstreamError> {
        Ok(VoipCustomer {
            voip_id: 7,
            created: true,
        })
    }
    async fn ensure_line(
        &self,
        _c: &VoipCustomer,
        l: &LineRequest,
    ) -> Result<VoipLine, UpstreamError> {
        let mut v = self.lines.lock().unwrap();
        v.push(l.line_id.to_string());
        Ok(VoipLine {
            voip_id: v.len() as i64 + 100,
            username: format!("u{}", v.len()),
            created: true,
        })
    }
    async fn ensure_did(
        &self,
        _c: &VoipCustomer,
        _d: &DidRequest,
    ) -> Result<VoipDid, UpstreamError> {
        Ok(VoipDid {
            voip_id: 9,
            created: true,
        })
    }
    async fn probe(&self, _t: Duration) -> Health {
        Health {
            healthy: true,
            reason: "ok".into(),
            latency_ms: 1,
        }
    }
}

/// A DocSales stand-in: serves one proposal per id and counts fetches.
#[derive(Default)]
struct Source {
    proposals: Mutex<BTreeMap<String, RawProposal>>,
    fetches: AtomicUsize,
}

#[async_trait]
impl ProposalSource for Source {
    fn account(&self) -> &str {
        "acme"
    }
    async fn fetch(&self, id: &str) -> Result<SourcedProposal, UpstreamError> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        let raw = self
            .proposals
            .lock()
            .unwrap()
            .get(id)
            .cloned()
            .ok_or_else(|| {
                UpstreamError::new(
                    System::DocSales,
                    "fetch",
                    UpstreamErrorKind::NotFound,
                    "no such proposal",
                )
            })?;
        Ok(SourcedProposal {
            key: SourceKey {
                account: "acme".into(),
                proposal_id: id.into(),
            },
            raw,
            field_sources: vec![("customer.address".into(), "customer.postal_code".into())].into(),
            mapping_problems: Default::default(),
        })
    }
    async fn list_approved(&self, _c: Option<&str>) -> Result<ApprovedPage, UpstreamError> {
        Ok(ApprovedPage {
            keys: vec![],
            next_cursor: None,
        })
    }
}

// ---------------------------------------------------------------------------------------
// The world.

struct World {
    pipeline: Pipeline,
    store: Arc<MemoryStore>,
    erp: Arc<FakeErp>,
    source: Arc<Source>,
    next: BTreeMap<String, Arc<Next>>,
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

fn server(id: &str, areas: &[u8], lines: u32, active: bool) -> ServerInfo {
    ServerInfo {
        id: id.parse().unwrap(),
        name: id.to_uppercase(),
        area_codes: areas
            .iter()
            .map(|a| sig_core::AreaCode::new(*a).unwrap())
            .collect(),
        capacity_lines: lines,
        capacity_channels: lines * 10,
        active,
    }
}

fn users() -> Vec<(sig_core::ids::UserId, Profile)> {
    [
        ("ana", Profile::Admin),
        ("bruno", Profile::Operator),
        ("carla", Profile::Finance),
        ("davi", Profile::Viewer),
        ("eva", Profile::Customer),
        ("fabio", Profile::Reseller),
    ]
    .into_iter()
    .map(|(u, p)| (u.parse().unwrap(), p))
    .collect()
}

fn user(name: &str) -> Actor {
    Actor::User(name.parse().unwrap())
}

/// Servers: sp1 and sp3 serve 11 (sp1 the larger), sp2 serves 11 but is inactive, tiny
/// serves 11 with room for exactly one trunk order (1 line, 10 channels), small has never
/// room for one (5 channels), rj1 serves 21.
fn world(hold_for_review: bool) -> World {
    let store = Arc::new(MemoryStore::new());
    let erp = Arc::new(FakeErp::default());
    let source = Arc::new(Source::default());
    let infos = [
        server("sp1", &[11, 12], 100, true),
        server("sp2", &[11], 100, false),
        server("sp3", &[11], 50, true),
        server("tiny", &[11], 1, true),
        ServerInfo {
            capacity_channels: 5,
            ..server("small", &[11], 1, true)
        },
        server("rj1", &[21], 100, true),
    ];
    let mut next = BTreeMap::new();
    let mut handles = Vec::new();
    for info in infos {
        let n = Arc::new(Next {
            id: info.id.clone(),
            lines: Mutex::default(),
        });
        next.insert(info.id.to_string(), n.clone());
        handles.push(ServerHandle { info, platform: n });
    }
    let pipeline = Pipeline::new(
        store.clone(),
        vec![CompanyHandle {
            id: company(),
            hold_for_review,
            erp: erp.clone(),
            source: Some(source.clone()),
        }],
        handles,
        Arc::new(catalog()),
        Arc::new(SystemClock),
        Settings {
            concurrency: 4,
            max_attempts: 2,
            backoff_base: Duration::from_millis(1),
            backoff_max: Duration::from_millis(2),
            ..Settings::default()
        },
    )
    .with_authorizer(Authorizer::new(Policy::default(), users()));
    World {
        pipeline,
        store,
        erp,
        source,
        next,
    }
}

fn company() -> CompanyId {
    "acme".parse().unwrap()
}

fn sample() -> RawProposal {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/data/proposal.raw.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// The sample with a CEP of 7 digits: it is held with one problem.
fn bad_cep() -> RawProposal {
    let mut r = sample();
    r.customer.address.cep = Some("01304-00".into());
    r
}

static N: AtomicUsize = AtomicUsize::new(0);

/// Take `raw` in as a direct registration (it carries its data).
async fn intake(w: &World, raw: RawProposal) -> IntegrationId {
    let key = SourceKey {
        account: "sig".into(),
        proposal_id: format!("p{}", N.fetch_add(1, Ordering::SeqCst)),
    };
    match w
        .pipeline
        .intake(
            &company(),
            key,
            &ProposalStatus::Approved,
            Actor::System,
            Some(raw),
        )
        .await
        .unwrap()
    {
        IntakeOutcome::Created { integration } => integration,
        other => panic!("{other:?}"),
    }
}

async fn status(w: &World, id: IntegrationId) -> IntegrationStatus {
    w.store.get(id).await.unwrap().unwrap().status
}

async fn audit(w: &World, id: IntegrationId) -> Vec<AuditEvent> {
    w.store
        .audit(&AuditFilter {
            integration: Some(id),
            ..Default::default()
        })
        .await
        .unwrap()
}

async fn held(w: &World) -> IntegrationId {
    let id = intake(w, bad_cep()).await;
    w.pipeline.run_until_idle().await.unwrap();
    assert_eq!(status(w, id).await, IntegrationStatus::Held);
    id
}

/// An integration that failed at `contract:0`: validated, no server step run yet (both
/// orders' contracts, sent at once, fail on both attempts).
async fn failed_before_servers(w: &World) -> IntegrationId {
    w.erp.fail_contracts.store(4, Ordering::SeqCst);
    let id = intake(w, sample()).await;
    w.pipeline.run_until_idle().await.unwrap();
    let i = w.store.get(id).await.unwrap().unwrap();
    assert_eq!(i.status, IntegrationStatus::Failed, "{i:?}");
    assert_eq!(i.failure.unwrap().step, "contract:0");
    id
}

fn patch(items: &[&str]) -> ProposalPatch {
    ProposalPatch::from_assignments(items).unwrap()
}

// ---------------------------------------------------------------------------------------
// Authorization in every operation.

/// Columns: the operations people run through the pipeline.
const OPS: [&str; 6] = ["retry", "cancel", "edit", "resume", "choose", "force"];

// WRITTEN BY HAND: whether each subject gets past authorization. Y = allowed, . = denied.
const OPS_TABLE: &[(&str, &str)] = &[
    ("ana", "Y Y Y Y Y Y"),   // admin
    ("bruno", "Y Y Y Y . ."), // operator
    ("carla", ". . Y Y . ."), // finance
    ("davi", ". . . . . ."),  // viewer
    ("eva", ". . . . . ."),   // customer (portal)
    ("fabio", ". . . . . ."), // reseller (portal)
    ("zoe", ". . . . . ."),   // not listed in sig.toml
    ("system", ". . . . . ."),
    ("webhook", ". . . . . ."),
];

async fn run_op(w: &World, op: &str, id: IntegrationId, actor: Actor) -> Result<(), PipelineError> {
    let sp1: ServerId = "sp1".parse().unwrap();
    match op {
        "retry" => w.pipeline.retry(id, actor).await,
        "cancel" => w.pipeline.cancel(id, actor, "test").await,
        "edit" => w
            .pipeline
            .edit(id, actor, &patch(&["customer.address.cep=01304-001"]))
            .await
            .map(|_| ()),
        "resume" => w.pipeline.resume(id, actor).await.map(|_| ()),
        "choose" => w
            .pipeline
            .choose_server(id, 0, &sp1, actor, None)
            .await
            .map(|_| ()),
        "force" => w
            .pipeline
            .choose_server(id, 0, &sp1, actor, Some("test"))
            .await
            .map(|_| ()),
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn every_operation_asks_the_policy_and_audits_the_decision() {
    let w = world(false);
    for (who, row) in OPS_TABLE {
        let actor = match *who {
            "system" => Actor::System,
            "webhook" => Actor::Webhook("acme".into()),
            u => user(u),
        };
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cells.len(), OPS.len());
        for (op, cell) in OPS.iter().zip(cells) {
            let id = held(&w).await;
            let before = audit(&w, id).await.len();
            let r = run_op(&w, op, id, actor.clone()).await;
            let denied = matches!(r, Err(PipelineError::Denied(_)));
            assert_eq!(denied, cell == ".", "{who} × {op}: {r:?}");
            if let Err(PipelineError::Denied(d)) = &r {
                assert!(
                    r.as_ref()
                        .unwrap_err()
                        .to_string()
                        .contains(d.action.as_str())
                );
            }
            let events = audit(&w, id).await;
            let decisions: Vec<&AuditEvent> = events[before..]
                .iter()
                .filter(|e| e.action.starts_with("authz."))
                .collect();
            assert!(!decisions.is_empty(), "{who} × {op}: no decision audited");
            // The action's own decision (a field decision names its field).
            let action_denied = decisions
                .iter()
                .any(|e| e.outcome == AuditOutcome::Denied && e.details["field"].is_null());
            assert_eq!(action_denied, denied, "{who} × {op}: {decisions:?}");
            assert!(decisions.iter().all(|e| e.actor == actor));
        }
    }
}

#[tokio::test]
async fn a_forced_choice_needs_force_server_too() {
    let w = world(false);
    let id = failed_before_servers(&w).await;
    // A policy where the operator may choose but not force.
    let text = Policy::DEFAULT_TOML.replace(
        "    \"migrate\",\n]",
        "    \"migrate\",\n    \"choose_server\",\n]",
    );
    let policy = Policy::from_toml(&text).unwrap();
    let w2 = World {
        pipeline: Pipeline::new(
            w.store.clone(),
            vec![CompanyHandle {
                id: company(),
                hold_for_review: false,
                erp: w.erp.clone(),
                source: None,
            }],
            w.next
                .values()
                .map(|n| ServerHandle {
                    info: server(n.id.as_str(), &[11], 100, true),
                    platform: n.clone(),
                })
                .collect(),
            Arc::new(catalog()),
            Arc::new(SystemClock),
            Settings::default(),
        )
        .with_authorizer(Authorizer::new(policy, users())),
        ..w
    };
    let sp2: ServerId = "sp2".parse().unwrap();
    let r = w2
        .pipeline
        .choose_server(id, 0, &sp2, user("bruno"), Some("legacy customer"))
        .await;
    match r {
        Err(PipelineError::Denied(d)) => assert_eq!(d.action, Action::ForceServer),
        other => panic!("{other:?}"),
    }
    let events = audit(&w2, id).await;
    let authz: Vec<(&str, AuditOutcome)> = events
        .iter()
        .filter(|e| e.action.starts_with("authz."))
        .map(|e| (e.action.as_str(), e.outcome))
        .collect();
    assert_eq!(
        authz,
        vec![
            ("authz.choose_server", AuditOutcome::Ok),
            ("authz.force_server", AuditOutcome::Denied)
        ]
    );
    let ok = w2
        .pipeline
        .choose_server(id, 0, &sp2, user("bruno"), None)
        .await
        .unwrap();
    assert!(ok.applied);
}

// ---------------------------------------------------------------------------------------
// Edits.

#[tokio::test]
async fn a_denied_field_is_named_and_nothing_is_applied() {
    let w = world(false);
    let id = held(&w).await;
    let r = w
        .pipeline
        .edit(
            id,
            user("bruno"),
            &patch(&[
                "customer.address.cep=01304-001",
                "customer.tax_id=12ABC34501DE35",
                "orders[0].monthly_value=10,00",
            ]),
        )
        .await;
    let Err(PipelineError::FieldsDenied(denied)) = &r else {
        panic!("{r:?}")
    };
    let fields: Vec<&str> = denied.iter().filter_map(|d| d.field.as_deref()).collect();
    assert_eq!(fields, vec!["customer.tax_id", "orders[0].monthly_value"]);
    let msg = r.unwrap_err().to_string();
    assert!(
        msg.contains("may not edit customer.tax_id") && msg.contains("orders[0].monthly_value"),
        "{msg}"
    );
    let i = w.store.get(id).await.unwrap().unwrap();
    assert_eq!(i.status, IntegrationStatus::Held);
    assert_eq!(
        i.raw.unwrap().customer.address.cep.as_deref(),
        Some("01304-00"),
        "the allowed field was not applied either"
    );
    let decisions: Vec<(Option<String>, AuditOutcome)> = audit(&w, id)
        .await
        .into_iter()
        .filter(|e| e.action == "authz.edit_proposal")
        .map(|e| (e.details["field"].as_str().map(str::to_owned), e.outcome))
        .collect();
    assert_eq!(
        decisions,
        vec![
            (None, AuditOutcome::Ok),
            (Some("customer.address.cep".into()), AuditOutcome::Ok),
            (Some("customer.tax_id".into()), AuditOutcome::Denied),
            (Some("orders[0].monthly_value".into()), AuditOutcome::Denied),
        ],
        "every decision, allowed or denied"
    );
    // Finance may edit the value but not the address.
    let r = w
        .pipeline
        .edit(
            id,
            user("carla"),
            &patch(&["orders[0].monthly_value=10,00", "customer.address.cep=1"]),
        )
        .await;
    assert!(
        matches!(&r, Err(PipelineError::FieldsDenied(d)) if d.len() == 1 && d[0].field.as_deref() == Some("customer.address.cep")),
        "{r:?}"
    );
}

#[tokio::test]
async fn held_then_edited_then_resumed_reaches_done_with_the_edit_upstream() {
    let w = world(false);
    let id = held(&w).await;
    let i = w.store.get(id).await.unwrap().unwrap();
    assert_eq!(i.problems.0[0].field, "customer.address.cep");

    // A wrong fix: still held, with every problem reported.
    let out = w
        .pipeline
        .edit(
            id,
            user("bruno"),
            &patch(&["customer.address.cep=0130", "customer.emails[0]=nope"]),
        )
        .await
        .unwrap();
    assert_eq!(out.status, IntegrationStatus::Held);
    assert!(!out.resumed);
    let fields: Vec<&str> = out.problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(fields, vec!["customer.emails[0]", "customer.address.cep"]);
    assert_eq!(
        w.store.get(id).await.unwrap().unwrap().problems,
        out.problems
    );
    // Resuming without a fix refuses with the problems.
    match w.pipeline.resume(id, user("bruno")).await {
        Err(PipelineError::StillInvalid { problems, .. }) => assert_eq!(problems.len(), 2),
        other => panic!("{other:?}"),
    }

    // The right fix: it validates and resumes.
    let out = w
        .pipeline
        .edit(
            id,
            user("bruno"),
            &patch(&[
                "customer.address.cep=01304-001",
                "customer.emails[0]=financeiro@paoquente.com.br",
                "customer.contact_name=Maria Carvalho",
            ]),
        )
        .await
        .unwrap();
    assert!(out.resumed, "{out:?}");
    assert_eq!(out.status, IntegrationStatus::Pending);
    assert!(out.problems.is_empty());
    let cep = out
        .changes
        .iter()
        .find(|c| c.field == "customer.address.cep")
        .unwrap();
    assert_eq!(
        (cep.before.as_str(), cep.after.as_str()),
        (Some("0130"), Some("01304-001"))
    );
    w.pipeline.run_until_idle().await.unwrap();
    let i = w.store.get(id).await.unwrap().unwrap();
    assert_eq!(i.status, IntegrationStatus::Done);
    let (_, cep, contact) = w
        .erp
        .customers
        .lock()
        .unwrap()
        .values()
        .next()
        .cloned()
        .unwrap();
    assert_eq!(cep, "01304-001", "Omie got the edited CEP");
    assert_eq!(contact, "Maria Carvalho");

    // The audit keeps who changed what, before and after; the journal which fields.
    let edits: Vec<AuditEvent> = audit(&w, id)
        .await
        .into_iter()
        .filter(|e| e.action == "edit")
        .collect();
    assert_eq!(edits.len(), 2);
    assert_eq!(edits[1].actor, user("bruno"));
    let changes = edits[1].details["changes"].as_array().unwrap();
    assert!(changes.iter().any(|c| c["field"] == "customer.address.cep"
        && c["before"] == "0130"
        && c["after"] == "01304-001"));
    let j = w.store.journal(id).await.unwrap();
    assert!(j.contains_key("edit:1") && j.contains_key("edit:2"));
    assert_eq!(j["edit:2"].result["by"]["id"], "bruno");
    // Editing now is refused: it is done.
    match w
        .pipeline
        .edit(id, user("ana"), &patch(&["customer.trade_name=X"]))
        .await
    {
        Err(PipelineError::InvalidState { status, .. }) => {
            assert_eq!(status, IntegrationStatus::Done)
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_edit_after_the_integration_started_is_refused_with_the_reason() {
    let w = world(false);
    let id = failed_before_servers(&w).await;
    w.pipeline.retry(id, user("bruno")).await.unwrap();
    // Pending again, with validate, customer, erp_customer journaled.
    assert_eq!(status(&w, id).await, IntegrationStatus::Pending);
    let r = w
        .pipeline
        .edit(id, user("ana"), &patch(&["customer.trade_name=Outro"]))
        .await;
    match r {
        Err(PipelineError::InvalidState { status, reason, .. }) => {
            assert_eq!(status, IntegrationStatus::Pending);
            assert!(reason.contains("has started"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    // The refusal still left the decision in the audit.
    let ev = audit(&w, id).await;
    assert!(
        ev.iter()
            .any(|e| e.action == "authz.edit_proposal" && e.actor == user("ana"))
    );
    // A pending proposal not validated yet can be edited.
    let fresh = intake(&w, sample()).await;
    let out = w
        .pipeline
        .edit(
            fresh,
            user("bruno"),
            &patch(&["customer.trade_name=Novo Nome"]),
        )
        .await
        .unwrap();
    assert_eq!(out.status, IntegrationStatus::Pending);
    assert!(!out.resumed && out.problems.is_empty());
    // ... and an edit that breaks it holds it.
    let out = w
        .pipeline
        .edit(fresh, user("bruno"), &patch(&["customer.address.uf=XX"]))
        .await
        .unwrap();
    assert_eq!(out.status, IntegrationStatus::Held);
    assert_eq!(out.problems.0[0].field, "customer.address.uf");
}

#[tokio::test]
async fn a_person_never_edits_what_a_worker_is_running() {
    let w = world(false);
    let id = intake(&w, sample()).await;
    // A worker's claim.
    let claimed = w
        .store
        .claim(chrono::Utc::now(), Duration::from_secs(60), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let r = w
        .pipeline
        .edit(id, user("bruno"), &patch(&["customer.trade_name=X"]))
        .await;
    assert!(matches!(r, Err(PipelineError::Busy(_))), "{r:?}");
    assert!(matches!(
        w.pipeline.cancel(id, user("bruno"), "x").await,
        Err(PipelineError::Busy(_))
    ));
    let ev = audit(&w, id).await;
    assert_eq!(
        ev.iter().filter(|e| e.action.starts_with("authz.")).count(),
        3,
        "the allowed decisions of the refused operations are audited: {ev:?}"
    );
    w.store.unclaim(id).await.unwrap();
    assert!(
        w.pipeline
            .edit(id, user("bruno"), &patch(&["customer.trade_name=X"]))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_docsales_edit_applies_over_the_fetched_proposal_and_is_never_fetched_over() {
    let w = world(false);
    let id = intake_from_source(&w, "77", sample()).await;
    // Edited before any worker read it: the edit reads it first.
    let out = w
        .pipeline
        .edit(
            id,
            user("bruno"),
            &patch(&["customer.contact_name=Maria Carvalho"]),
        )
        .await
        .unwrap();
    assert!(out.fetched);
    assert_eq!(w.source.fetches.load(Ordering::SeqCst), 1);
    let c = &out.changes[0];
    assert_eq!(
        (c.before.as_str(), c.after.as_str()),
        (Some("José Carvalho"), Some("Maria Carvalho")),
        "the before value is the fetched one"
    );
    // DocSales changes meanwhile; the edited proposal is what integrates.
    w.source
        .proposals
        .lock()
        .unwrap()
        .get_mut("77")
        .unwrap()
        .customer
        .contact_name = Some("Someone Else".into());
    w.pipeline.run_until_idle().await.unwrap();
    assert_eq!(status(&w, id).await, IntegrationStatus::Done);
    assert_eq!(
        w.source.fetches.load(Ordering::SeqCst),
        1,
        "the fetch step ran once, inside the edit"
    );
    let customers = w.erp.customers.lock().unwrap();
    assert_eq!(customers.values().next().unwrap().2, "Maria Carvalho");
}

#[tokio::test]
async fn a_company_that_reviews_holds_every_proposal_until_a_person_approves() {
    let w = world(true);
    let id = intake(&w, sample()).await;
    w.pipeline.run_until_idle().await.unwrap();
    let i = w.store.get(id).await.unwrap().unwrap();
    assert_eq!(i.status, IntegrationStatus::Held);
    assert_eq!(i.step.as_deref(), Some(REVIEW_STEP));
    assert!(i.problems.is_empty(), "held for review, not for problems");
    assert!(matches!(
        w.pipeline.resume(id, user("davi")).await,
        Err(PipelineError::Denied(_))
    ));
    let out = w.pipeline.resume(id, user("carla")).await.unwrap();
    assert!(out.reviewed);
    w.pipeline.run_until_idle().await.unwrap();
    assert_eq!(status(&w, id).await, IntegrationStatus::Done);
    let j = w.store.journal(id).await.unwrap();
    assert_eq!(j[REVIEW_STEP].result["by"]["id"], "carla");
    assert_eq!(j[REVIEW_STEP].result["via"], "resume");

    // A valid edit is a review too.
    let id = intake(&w, bad_cep()).await;
    w.pipeline.run_until_idle().await.unwrap();
    let out = w
        .pipeline
        .edit(
            id,
            user("bruno"),
            &patch(&["customer.address.cep=01304-001"]),
        )
        .await
        .unwrap();
    assert!(out.resumed);
    w.pipeline.run_until_idle().await.unwrap();
    assert_eq!(status(&w, id).await, IntegrationStatus::Done);
    let j = w.store.journal(id).await.unwrap();
    assert_eq!(j[REVIEW_STEP].result["via"], "edit");
}

// ---------------------------------------------------------------------------------------
// Manual server choice.

fn journaled_choice(
    j: &BTreeMap<String, sig_core::store::StepEntry>,
    i: usize,
) -> ServerChoiceWithOrder {
    serde_json::from_value(j[&format!("server:{i}")].result.clone()).unwrap()
}

#[tokio::test]
async fn only_an_admin_chooses_and_the_checks_hold_unless_forced_with_a_reason() {
    let w = world(false);
    let id = failed_before_servers(&w).await;
    let s = |x: &str| x.parse::<ServerId>().unwrap();

    match w
        .pipeline
        .choose_server(id, 0, &s("sp3"), user("bruno"), None)
        .await
    {
        Err(PipelineError::Denied(d)) => {
            assert_eq!(d.action, Action::ChooseServer);
            assert!(d.to_string().contains("choose_server"), "{d}");
        }
        other => panic!("{other:?}"),
    }
    // Inactive, no room, wrong area: refused with the reason.
    for (server, why) in [
        ("sp2", "inactive"),
        ("small", "no room"),
        ("rj1", "does not serve the area code"),
    ] {
        match w
            .pipeline
            .choose_server(id, 0, &s(server), user("ana"), None)
            .await
        {
            Err(PipelineError::ServerRefused { reasons, .. }) => {
                assert!(reasons[0].contains(why), "{server}: {reasons:?}")
            }
            other => panic!("{server}: {other:?}"),
        }
    }
    match w
        .pipeline
        .choose_server(id, 0, &s("nowhere"), user("ana"), None)
        .await
    {
        Err(PipelineError::BadInput { field, .. }) => assert_eq!(field, "server"),
        other => panic!("{other:?}"),
    }
    match w
        .pipeline
        .choose_server(id, 5, &s("sp1"), user("ana"), None)
        .await
    {
        Err(PipelineError::BadInput { field, .. }) => assert_eq!(field, "order"),
        other => panic!("{other:?}"),
    }
    match w
        .pipeline
        .choose_server(id, 0, &s("sp2"), user("ana"), Some("  "))
        .await
    {
        Err(PipelineError::BadInput { field, .. }) => assert_eq!(field, "force"),
        other => panic!("{other:?}"),
    }
    assert!(
        w.store
            .loads()
            .await
            .unwrap()
            .values()
            .all(|l| l.lines == 0),
        "nothing reserved by the refusals"
    );

    // Forced with a written reason: accepted, reserved, journaled and audited.
    let out = w
        .pipeline
        .choose_server(
            id,
            0,
            &s("sp2"),
            user("ana"),
            Some("customer's PBX is registered there"),
        )
        .await
        .unwrap();
    assert!(out.applied);
    assert!(out.choice.forced);
    assert_eq!(out.choice.overridden, vec!["inactive".to_owned()]);
    assert_eq!(out.choice.automatic, Some(s("sp1")));
    assert_eq!(w.store.loads().await.unwrap()[&s("sp2")].lines, 1);
    let j = w.store.journal(id).await.unwrap();
    let c = journaled_choice(&j, 0);
    assert_eq!(c.choice.server, s("sp2"));
    assert_eq!(c.choice.chosen_by, "user:ana");
    let m = c.choice.manual.unwrap();
    assert_eq!(
        m.reason.as_deref(),
        Some("customer's PBX is registered there")
    );
    assert_eq!(c.choice.decision.chosen, Some(s("sp1")), "automatic kept");
    let ev = audit(&w, id).await;
    let choose = ev.iter().find(|e| e.action == "server.choose").unwrap();
    assert_eq!(choose.actor, user("ana"));
    assert!(choose.summary.contains("forced"), "{}", choose.summary);
    assert!(
        choose.summary.contains("automatic would have chosen sp1"),
        "{}",
        choose.summary
    );
    assert!(ev.iter().any(|e| e.action == "authz.force_server"
        && e.outcome == AuditOutcome::Ok
        && e.actor == user("ana")));

    // Once the step ran, no more choosing.
    match w
        .pipeline
        .choose_server(id, 0, &s("sp3"), user("ana"), None)
        .await
    {
        Err(PipelineError::InvalidState { reason, .. }) => {
            assert!(reason.contains("has run"), "{reason}")
        }
        other => panic!("{other:?}"),
    }

    // The pipeline provisions where the admin chose.
    w.pipeline.retry(id, user("ana")).await.unwrap();
    w.pipeline.run_until_idle().await.unwrap();
    assert_eq!(status(&w, id).await, IntegrationStatus::Done);
    assert_eq!(w.next["sp2"].lines.lock().unwrap().len(), 1);
    assert_eq!(w.next["sp1"].lines.lock().unwrap().len(), 0);
}

#[tokio::test]
async fn a_choice_made_during_review_is_applied_at_the_server_step() {
    let w = world(true);
    let id = intake(&w, sample()).await;
    w.pipeline.run_until_idle().await.unwrap();
    assert_eq!(status(&w, id).await, IntegrationStatus::Held);
    let sp3: ServerId = "sp3".parse().unwrap();
    let out = w
        .pipeline
        .choose_server(id, 0, &sp3, user("ana"), None)
        .await
        .unwrap();
    assert!(!out.applied, "not validated yet: recorded for the step");
    assert!(out.choice.overridden.is_empty());
    assert_eq!(out.choice.automatic, Some("sp1".parse().unwrap()));
    assert!(
        w.store.loads().await.unwrap().is_empty(),
        "reserved only at the step"
    );
    // A second choice replaces the first.
    let tiny: ServerId = "tiny".parse().unwrap();
    w.pipeline
        .choose_server(id, 0, &tiny, user("ana"), None)
        .await
        .unwrap();
    w.pipeline
        .choose_server(id, 0, &sp3, user("ana"), None)
        .await
        .unwrap();
    w.pipeline.resume(id, user("bruno")).await.unwrap();
    w.pipeline.run_until_idle().await.unwrap();
    assert_eq!(status(&w, id).await, IntegrationStatus::Done);
    let j = w.store.journal(id).await.unwrap();
    let c = journaled_choice(&j, 0);
    assert_eq!(c.choice.server, sp3);
    assert_eq!(c.choice.manual.unwrap().by, user("ana"));
    let auto = journaled_choice(&j, 1);
    assert!(auto.choice.manual.is_none());
    assert_eq!(auto.choice.chosen_by, "automatic");
    assert_eq!(w.next["sp3"].lines.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_recorded_choice_that_no_longer_holds_stops_for_a_person() {
    let w = world(true);
    let a = intake(&w, sample()).await;
    w.pipeline.run_until_idle().await.unwrap();
    let tiny: ServerId = "tiny".parse().unwrap();
    w.pipeline
        .choose_server(a, 0, &tiny, user("ana"), None)
        .await
        .unwrap();
    // Another order takes tiny's only line first.
    let b = intake(&w, sample()).await;
    w.pipeline.run_until_idle().await.unwrap();
    w.pipeline
        .choose_server(b, 0, &tiny, user("ana"), None)
        .await
        .unwrap();
    w.pipeline.resume(b, user("ana")).await.unwrap();
    w.pipeline.run_until_idle().await.unwrap();
    assert_eq!(status(&w, b).await, IntegrationStatus::Done);
    w.pipeline.resume(a, user("ana")).await.unwrap();
    w.pipeline.run_until_idle().await.unwrap();
    let i = w.store.get(a).await.unwrap().unwrap();
    assert_eq!(i.status, IntegrationStatus::Failed);
    let f = i.failure.unwrap();
    assert_eq!(f.step, "server:0");
    assert!(!f.retryable);
    assert!(
        f.reason.contains("no longer passes") && f.reason.contains("no room"),
        "{}",
        f.reason
    );
}

// ---------------------------------------------------------------------------------------
// Links.

#[tokio::test]
async fn a_done_integration_has_links_to_every_record() {
    let w = world(false);
    let id = intake(&w, sample()).await;
    w.pipeline.run_until_idle().await.unwrap();
    assert_eq!(status(&w, id).await, IntegrationStatus::Done);
    let mut t = LinkTargets::default();
    t.companies.insert(
        company(),
        OmieTarget {
            web_url: Some("https://app.omie.com.br/gestao/acme-1/".parse().unwrap()),
            ..Default::default()
        },
    );
    t.servers.insert(
        "sp1".parse().unwrap(),
        NextTarget {
            web_url: Some("https://sp1.example/".parse().unwrap()),
            ..Default::default()
        },
    );
    let links = links_for(w.store.as_ref(), id, &t).await.unwrap().unwrap();
    let kinds: Vec<(System, LinkKind)> = links.iter().map(|l| (l.system, l.kind)).collect();
    // The sample: 2 orders (sp1: 1 line 2 DIDs; rj1: 3 lines 1 DID), 2 contracts.
    let count = |s, k| kinds.iter().filter(|x| **x == (s, k)).count();
    assert_eq!(count(System::Omie, LinkKind::Customer), 1);
    assert_eq!(count(System::Omie, LinkKind::Contract), 2);
    assert_eq!(count(System::NextBilling, LinkKind::Customer), 2);
    assert_eq!(count(System::NextBilling, LinkKind::Line), 4);
    assert_eq!(count(System::NextBilling, LinkKind::Did), 3);
    let omie = &links[0];
    assert_eq!(
        omie.url.as_deref(),
        Some("https://app.omie.com.br/gestao/acme-1/#CAD")
    );
    assert!(omie.search_hint.as_deref().unwrap().contains(&omie.record));
    let rj1_line = links
        .iter()
        .find(|l| {
            l.kind == LinkKind::Line && l.server.as_ref().is_some_and(|s| s.as_str() == "rj1")
        })
        .unwrap();
    assert_eq!(rj1_line.url, None, "rj1 has no web_url configured");
    assert!(rj1_line.search_hint.is_some());
    assert!(
        links_for(w.store.as_ref(), IntegrationId::new(), &t)
            .await
            .unwrap()
            .is_none()
    );
}

/// Intake DocSales proposal `id` (fetched from the source by the `fetch` step).
async fn intake_from_source(w: &World, id: &str, raw: RawProposal) -> IntegrationId {
    w.source.proposals.lock().unwrap().insert(id.into(), raw);
    match w
        .pipeline
        .intake(
            &company(),
            SourceKey {
                account: "acme".into(),
                proposal_id: id.into(),
            },
            &ProposalStatus::Approved,
            Actor::Webhook("acme".into()),
            None,
        )
        .await
        .unwrap()
    {
        IntakeOutcome::Created { integration } => integration,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn field_sources_are_journaled_while_a_problem_may_need_them() {
    let w = world(false);

    // Held: the fetch keeps where each field came from, and every validation after an edit
    // still names the source field of its problems.
    let held = intake_from_source(&w, "88", bad_cep()).await;
    w.pipeline.run_until_idle().await.unwrap();
    let i = w.store.get(held).await.unwrap().unwrap();
    assert_eq!(i.status, IntegrationStatus::Held);
    assert_eq!(
        i.problems.0[0].source_field.as_deref(),
        Some("customer.postal_code")
    );
    let fetch = &w.store.journal(held).await.unwrap()["fetch"].result;
    assert_eq!(
        fetch["field_sources"],
        serde_json::json!([["customer.address", "customer.postal_code"]])
    );
    let out = w
        .pipeline
        .edit(held, user("bruno"), &patch(&["customer.address.cep=0130"]))
        .await
        .unwrap();
    assert_eq!(out.status, IntegrationStatus::Held);
    assert_eq!(
        out.problems.0[0].source_field.as_deref(),
        Some("customer.postal_code"),
        "{out:?}"
    );

    // Valid at once: `validate` is journaled with the fetch, and never runs again, so the
    // map is not kept.
    let done = intake_from_source(&w, "89", sample()).await;
    w.pipeline.run_until_idle().await.unwrap();
    assert_eq!(status(&w, done).await, IntegrationStatus::Done);
    let journal = w.store.journal(done).await.unwrap();
    assert_eq!(
        journal["fetch"].result,
        serde_json::json!({"mapping_problems": []})
    );
    assert_eq!(journal["fetch"].at, journal["validate"].at, "one commit");
    let ev = audit(&w, done).await;
    let fetched = ev.iter().find(|e| e.action == "step.fetch").unwrap();
    assert_eq!(
        fetched.details["result"],
        serde_json::json!({"mapping_problems": []})
    );
    // The held one's audit counts the map instead of copying it.
    let ev = audit(&w, held).await;
    let fetched = ev.iter().find(|e| e.action == "step.fetch").unwrap();
    assert_eq!(
        fetched.details["result"],
        serde_json::json!({"fields_mapped": 1, "mapping_problems": []})
    );
}
