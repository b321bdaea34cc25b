//! The pipeline's `fiscal` step against an in-memory registry (the port's records, no HTTP):
//! each policy outcome, the registry unavailable, CPF customers, address enrichment with its
//! provenance, the review hold first, and a person's edit of a held proposal. The real client
//! against the fiscal sandbox is in `examples/tests/fiscal.rs`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use sig_core::authz::{Authorizer, Policy};
use sig_core::config::{Catalog, Config, MapSecrets, Profile};
use sig_core::domain::{Customer, ProposalStatus};
use sig_core::edit::ProposalPatch;
use sig_core::fiscal::{
    AddressField, FiscalAnswer, FiscalPolicy, RegisteredAddress, RegisteredCep, RegisteredCompany,
    RegistrationStatus,
};
use sig_core::ids::{CompanyId, CustomerId, IntegrationId, ServerId};
use sig_core::pipeline::{
    CompanyHandle, FISCAL_STEP, IntakeOutcome, Pipeline, ServerHandle, ServerInfo, Settings,
    SystemClock,
};
use sig_core::ports::*;
use sig_core::raw::RawProposal;
use sig_core::store::{
    Actor, AuditEvent, AuditFilter, AuditOutcome, Integration, IntegrationStatus, MemoryStore,
    Store,
};
use sig_core::{Cep, Cnpj, Code, Uf};

// ---------------------------------------------------------------------------------------------
// In-memory ports

/// The registry: companies and CEPs, call counters, and a switch that makes it unavailable.
#[derive(Default)]
struct Registry {
    companies: Mutex<BTreeMap<Cnpj, RegisteredCompany>>,
    ceps: Mutex<BTreeMap<Cep, RegisteredCep>>,
    company_calls: AtomicU32,
    cep_calls: AtomicU32,
    down: AtomicBool,
}

impl Registry {
    fn unavailable(&self, call: &str) -> Result<(), UpstreamError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(UpstreamError::new(
                System::Fiscal,
                call,
                UpstreamErrorKind::Transient,
                "every CNPJ provider failed: brasil_api lookup failed (unavailable, HTTP 503)",
            ));
        }
        Ok(())
    }
}

#[async_trait]
impl FiscalLookup for Registry {
    async fn company_by_cnpj(
        &self,
        cnpj: &Cnpj,
    ) -> Result<FiscalAnswer<RegisteredCompany>, UpstreamError> {
        self.company_calls.fetch_add(1, Ordering::SeqCst);
        self.unavailable("lookup_cnpj")?;
        Ok(match self.companies.lock().unwrap().get(cnpj) {
            Some(c) => FiscalAnswer::Found(c.clone()),
            None => FiscalAnswer::NotFound {
                source: "brasil_api".into(),
            },
        })
    }

    async fn address_by_cep(
        &self,
        cep: &Cep,
    ) -> Result<FiscalAnswer<RegisteredCep>, UpstreamError> {
        self.cep_calls.fetch_add(1, Ordering::SeqCst);
        self.unavailable("lookup_cep")?;
        Ok(match self.ceps.lock().unwrap().get(cep) {
            Some(c) => FiscalAnswer::Found(c.clone()),
            None => FiscalAnswer::NotFound {
                source: "via_cep".into(),
            },
        })
    }
}

/// An ERP that keeps the customers it was given.
#[derive(Default)]
struct KeepingErp {
    customers: Mutex<BTreeMap<CustomerId, Customer>>,
}

#[async_trait]
impl Erp for KeepingErp {
    async fn upsert_customer(
        &self,
        id: CustomerId,
        c: &Customer,
        _known: Option<i64>,
    ) -> Result<ErpCustomer, UpstreamError> {
        let mut m = self.customers.lock().unwrap();
        let created = m.insert(id, c.clone()).is_none();
        Ok(ErpCustomer {
            erp_id: 1000 + m.len() as i64,
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
        Ok(ErpContract {
            erp_id: 5000,
            integration_code: r.order_id.to_string(),
            created: true,
        })
    }
}

struct Next(ServerId, AtomicU32);

#[async_trait]
impl VoipPlatform for Next {
    fn server_id(&self) -> &ServerId {
        &self.0
    }
    async fn ensure_customer(
        &self,
        _id: CustomerId,
        _c: &Customer,
        _attempt: Attempt,
    ) -> Result<VoipCustomer, UpstreamError> {
        Ok(VoipCustomer {
            voip_id: 1,
            created: true,
        })
    }
    async fn ensure_line(
        &self,
        _c: &VoipCustomer,
        l: &LineRequest,
    ) -> Result<VoipLine, UpstreamError> {
        Ok(VoipLine {
            voip_id: i64::from(self.1.fetch_add(1, Ordering::SeqCst)),
            username: l.line_id.to_string(),
            created: true,
        })
    }
    async fn ensure_did(
        &self,
        _c: &VoipCustomer,
        _d: &DidRequest,
    ) -> Result<VoipDid, UpstreamError> {
        Ok(VoipDid {
            voip_id: i64::from(self.1.fetch_add(1, Ordering::SeqCst)),
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

// ---------------------------------------------------------------------------------------------
// The world

/// The sample proposal's customer: `12.ABC.345/01DE-35`, Padaria Pão Quente, Rua Augusta
/// 1508, 01304-001.
const CNPJ: &str = "12ABC34501DE35";
const LEGAL_NAME: &str = "Padaria Pão Quente Comércio de Alimentos Ltda";

struct World {
    pipeline: Pipeline,
    store: Arc<MemoryStore>,
    registry: Arc<Registry>,
    erp: Arc<KeepingErp>,
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

fn server(id: &str, area: u8) -> ServerHandle {
    ServerHandle {
        info: ServerInfo {
            id: id.parse().unwrap(),
            name: id.to_uppercase(),
            area_codes: [sig_core::AreaCode::new(area).unwrap()].into(),
            capacity_lines: 100,
            capacity_channels: 1000,
            active: true,
        },
        platform: Arc::new(Next(id.parse().unwrap(), AtomicU32::new(1))),
    }
}

fn company() -> CompanyId {
    "acme".parse().unwrap()
}

fn world_with(policy: FiscalPolicy, hold_for_review: bool, max_attempts: u32) -> World {
    let store = Arc::new(MemoryStore::new());
    let registry = Arc::new(Registry::default());
    registry.companies.lock().unwrap().insert(
        CNPJ.parse().unwrap(),
        registered(LEGAL_NAME, RegistrationStatus::Active),
    );
    let erp = Arc::new(KeepingErp::default());
    let pipeline = Pipeline::new(
        store.clone(),
        vec![CompanyHandle {
            id: company(),
            hold_for_review,
            erp: erp.clone(),
            source: None,
        }],
        vec![server("sp1", 11), server("rj1", 21)],
        Arc::new(catalog()),
        Arc::new(SystemClock),
        Settings {
            max_attempts,
            backoff_base: Duration::from_millis(1),
            backoff_max: Duration::from_millis(5),
            ..Settings::default()
        },
    )
    .with_authorizer(Authorizer::new(
        Policy::default(),
        [("ana".parse().unwrap(), Profile::Admin)],
    ))
    .with_fiscal(registry.clone(), [(company(), policy)]);
    World {
        pipeline,
        store,
        registry,
        erp,
    }
}

fn world(policy: FiscalPolicy) -> World {
    world_with(policy, false, 4)
}

/// The registry's record of the sample's company, at its address (another number and
/// complement than the proposal's, so a fill is visible).
fn registered(legal_name: &str, status: RegistrationStatus) -> RegisteredCompany {
    let fields = [
        (AddressField::Street, "logradouro"),
        (AddressField::Number, "numero"),
        (AddressField::Complement, "complemento"),
        (AddressField::District, "bairro"),
        (AddressField::City, "municipio"),
        (AddressField::Uf, "uf"),
        (AddressField::Cep, "cep"),
    ];
    RegisteredCompany {
        cnpj: CNPJ.parse().unwrap(),
        source: "brasil_api".into(),
        legal_name: legal_name.into(),
        trade_name: Some("PAO QUENTE".into()),
        status,
        status_code: None,
        status_text: Some(status.as_receita_str().to_owned()),
        address: RegisteredAddress {
            street: Some("RUA AUGUSTA".into()),
            number: Some("1508".into()),
            complement: Some("LOJA 2".into()),
            district: Some("CONSOLACAO".into()),
            city: Some("SAO PAULO".into()),
            uf: Some(Uf::SP),
            cep: Some("01304001".parse().unwrap()),
        },
        source_fields: fields.into_iter().map(|(f, n)| (f, n.to_owned())).collect(),
    }
}

fn sample() -> RawProposal {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/data/proposal.raw.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn ana() -> Actor {
    Actor::User("ana".parse().unwrap())
}

async fn run(w: &World, id: &str, raw: RawProposal) -> Integration {
    let IntakeOutcome::Created { integration } = w
        .pipeline
        .intake(
            &company(),
            SourceKey {
                account: "sig".into(),
                proposal_id: id.into(),
            },
            &ProposalStatus::Approved,
            Actor::System,
            Some(raw),
        )
        .await
        .unwrap()
    else {
        panic!("not created")
    };
    w.pipeline.run_until_idle().await.unwrap();
    w.store.get(integration).await.unwrap().unwrap()
}

async fn step(w: &World, id: IntegrationId, key: &str) -> Option<Value> {
    w.store
        .journal(id)
        .await
        .unwrap()
        .get(key)
        .map(|e| e.result.clone())
}

async fn events(w: &World, id: IntegrationId, action: &str) -> Vec<AuditEvent> {
    w.store
        .audit(&AuditFilter {
            integration: Some(id),
            action_prefix: Some(action.into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == action)
        .collect()
}

fn erp_customer(w: &World) -> Customer {
    let m = w.erp.customers.lock().unwrap();
    assert_eq!(m.len(), 1, "one customer reached the ERP");
    m.values().next().unwrap().clone()
}

fn calls(w: &World) -> (u32, u32) {
    (
        w.registry.company_calls.load(Ordering::SeqCst),
        w.registry.cep_calls.load(Ordering::SeqCst),
    )
}

// ---------------------------------------------------------------------------------------------
// Policy outcomes

#[tokio::test]
async fn policy_off_looks_nothing_up_and_has_no_step() {
    let w = world(FiscalPolicy::Off);
    // Even a closed company with another name goes through: nothing is checked.
    w.registry.companies.lock().unwrap().insert(
        CNPJ.parse().unwrap(),
        registered("OUTRA EMPRESA LTDA", RegistrationStatus::Closed),
    );
    let i = run(&w, "1", sample()).await;
    assert_eq!(i.status, IntegrationStatus::Done, "{i:?}");
    assert_eq!(calls(&w), (0, 0));
    assert_eq!(step(&w, i.id, FISCAL_STEP).await, None);
    assert!(events(&w, i.id, "step.fiscal").await.is_empty());
}

#[tokio::test]
async fn an_active_company_with_its_name_goes_on_under_block() {
    let w = world(FiscalPolicy::Block);
    let i = run(&w, "1", sample()).await;
    assert_eq!(i.status, IntegrationStatus::Done, "{i:?}");
    assert_eq!(calls(&w), (1, 0), "one lookup; the address is complete");
    let r = step(&w, i.id, FISCAL_STEP).await.expect("journaled");
    assert_eq!(r["policy"], "block");
    assert_eq!(r["checked"], true);
    assert_eq!(r["verdict"], "pass");
    assert_eq!(r["registry"]["legal_name"], LEGAL_NAME);
    assert_eq!(r["registry"]["status"], "active");
    assert_eq!(r["filled"], Value::Array(vec![]));
    let e = events(&w, i.id, "step.fiscal").await;
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].outcome, AuditOutcome::Ok);
    assert_eq!(e[0].system, Some(System::Fiscal));
    assert!(e[0].summary.contains("ATIVA"), "{}", e[0].summary);
    // Journaled with `validate`, before the customer step.
    let j = w.store.journal(i.id).await.unwrap();
    assert!(j["fiscal"].at <= j["validate"].at);
    assert!(j["validate"].at <= j["customer"].at);
}

#[tokio::test]
async fn an_inactive_company_is_held_under_block_with_the_registry_status() {
    let w = world(FiscalPolicy::Block);
    w.registry.companies.lock().unwrap().insert(
        CNPJ.parse().unwrap(),
        registered(LEGAL_NAME, RegistrationStatus::Closed),
    );
    let i = run(&w, "1", sample()).await;
    assert_eq!(i.status, IntegrationStatus::Held, "{i:?}");
    assert_eq!(i.step.as_deref(), Some(FISCAL_STEP));
    let p: Vec<_> = i.problems.iter().collect();
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].field, "customer.tax_id");
    assert_eq!(p[0].code, Code::FiscalInactive);
    assert!(p[0].message.contains("BAIXADA"), "{}", p[0].message);
    assert!(p[0].message.contains("brasil_api"), "{}", p[0].message);
    // Nothing went upstream, nothing was validated for good.
    assert!(w.erp.customers.lock().unwrap().is_empty());
    assert_eq!(step(&w, i.id, "validate").await, None);
    let e = events(&w, i.id, "step.fiscal").await;
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].outcome, AuditOutcome::Held);
    assert_eq!(
        e[0].details["result"]["findings"][0]["finding"],
        "not_active"
    );
}

#[tokio::test]
async fn a_name_mismatch_is_held_under_block_until_a_person_edits_the_name() {
    let w = world(FiscalPolicy::Block);
    let mut raw = sample();
    raw.customer.legal_name = Some("Padaria Pão Frio Ltda".into());
    let i = run(&w, "1", raw).await;
    assert_eq!(i.status, IntegrationStatus::Held, "{i:?}");
    let p: Vec<_> = i.problems.iter().collect();
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].field, "customer.legal_name");
    assert_eq!(p[0].code, Code::FiscalNameMismatch);
    assert!(p[0].message.contains(LEGAL_NAME), "{}", p[0].message);

    // A person corrects the name: the proposal validates, resumes and is checked again.
    let patch =
        ProposalPatch::from_assignments([format!("customer.legal_name={LEGAL_NAME}")]).unwrap();
    let out = w.pipeline.edit(i.id, ana(), &patch).await.unwrap();
    assert!(out.resumed, "{out:?}");
    w.pipeline.run_until_idle().await.unwrap();
    let i = w.store.get(i.id).await.unwrap().unwrap();
    assert_eq!(i.status, IntegrationStatus::Done, "{i:?}");
    assert_eq!(erp_customer(&w).legal_name.as_str(), LEGAL_NAME);
    assert_eq!(
        step(&w, i.id, FISCAL_STEP).await.unwrap()["verdict"],
        "pass"
    );
    assert_eq!(calls(&w).0, 2, "checked once held, once after the edit");
}

#[tokio::test]
async fn a_name_mismatch_is_audited_and_goes_on_under_warn() {
    let w = world(FiscalPolicy::Warn);
    let mut raw = sample();
    raw.customer.legal_name = Some("Padaria Pão Frio Ltda".into());
    let i = run(&w, "1", raw).await;
    assert_eq!(i.status, IntegrationStatus::Done, "{i:?}");
    assert_eq!(
        erp_customer(&w).legal_name.as_str(),
        "Padaria Pão Frio Ltda"
    );
    let r = step(&w, i.id, FISCAL_STEP).await.unwrap();
    assert_eq!(r["verdict"], "warn");
    let e = events(&w, i.id, "step.fiscal").await;
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].outcome, AuditOutcome::Ok);
    let f = &e[0].details["result"]["findings"][0];
    assert_eq!(f["finding"], "name_mismatch");
    assert_eq!(f["proposal"], "Padaria Pão Frio Ltda");
    assert_eq!(f["registered"], LEGAL_NAME);
    assert!(e[0].summary.contains("policy warn"), "{}", e[0].summary);
}

#[tokio::test]
async fn a_cnpj_nobody_registers_is_held_under_block() {
    let w = world(FiscalPolicy::Block);
    w.registry.companies.lock().unwrap().clear();
    let i = run(&w, "1", sample()).await;
    assert_eq!(i.status, IntegrationStatus::Held, "{i:?}");
    let p: Vec<_> = i.problems.iter().collect();
    assert_eq!(
        (p[0].field.as_str(), p[0].code),
        ("customer.tax_id", Code::FiscalNotRegistered)
    );
    assert!(p[0].message.contains("no company is registered"));
}

// ---------------------------------------------------------------------------------------------
// The registry unavailable

#[tokio::test]
async fn registry_down_under_block_is_retried_then_failed_retryable_and_retried_by_an_operator() {
    let w = world_with(FiscalPolicy::Block, false, 3);
    w.registry.down.store(true, Ordering::SeqCst);
    let i = run(&w, "1", sample()).await;
    assert_eq!(i.status, IntegrationStatus::Failed, "{i:?}");
    let f = i.failure.as_ref().unwrap();
    assert_eq!(f.step, FISCAL_STEP);
    assert_eq!(f.system, Some(System::Fiscal));
    assert!(f.retryable, "{f:?}");
    assert_eq!(i.attempts, 3);
    assert_eq!(calls(&w).0, 3, "one lookup per attempt");
    let errors = events(&w, i.id, "step.fiscal").await;
    assert_eq!(errors.len(), 3);
    assert!(errors.iter().all(|e| e.outcome == AuditOutcome::Error));
    assert!(w.erp.customers.lock().unwrap().is_empty());

    // The registry is back; an operator retries.
    w.registry.down.store(false, Ordering::SeqCst);
    w.pipeline.retry(i.id, ana()).await.unwrap();
    w.pipeline.run_until_idle().await.unwrap();
    let i = w.store.get(i.id).await.unwrap().unwrap();
    assert_eq!(i.status, IntegrationStatus::Done, "{i:?}");
}

#[tokio::test]
async fn registry_down_under_warn_goes_on_with_an_audit_note() {
    let w = world(FiscalPolicy::Warn);
    w.registry.down.store(true, Ordering::SeqCst);
    let i = run(&w, "1", sample()).await;
    assert_eq!(i.status, IntegrationStatus::Done, "{i:?}");
    assert_eq!(i.attempts, 0, "no retry");
    let r = step(&w, i.id, FISCAL_STEP).await.unwrap();
    assert_eq!(r["checked"], false);
    assert_eq!(r["retryable"], true);
    assert!(r["error"].as_str().unwrap().contains("brasil_api"), "{r}");
    let e = events(&w, i.id, "step.fiscal").await;
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].outcome, AuditOutcome::Error);
    assert!(e[0].summary.starts_with("not checked"), "{}", e[0].summary);
}

// ---------------------------------------------------------------------------------------------
// Who is checked, and when

#[tokio::test]
async fn a_person_with_a_cpf_is_not_applicable() {
    let w = world(FiscalPolicy::Block);
    let mut raw = sample();
    raw.customer.tax_id = Some("529.982.247-25".into());
    raw.customer.legal_name = Some("Ana Beatriz Souza".into());
    let i = run(&w, "1", raw).await;
    assert_eq!(i.status, IntegrationStatus::Done, "{i:?}");
    assert_eq!(calls(&w), (0, 0));
    let r = step(&w, i.id, FISCAL_STEP).await.unwrap();
    assert_eq!(r["applicable"], false);
    assert!(r["reason"].as_str().unwrap().contains("CPF"));
    let e = events(&w, i.id, "step.fiscal").await;
    assert_eq!(e[0].outcome, AuditOutcome::Skipped);
    assert!(e[0].summary.starts_with("not applicable"));
}

#[tokio::test]
async fn the_review_hold_comes_before_the_check() {
    let w = world_with(FiscalPolicy::Block, true, 4);
    let i = run(&w, "1", sample()).await;
    assert_eq!(i.status, IntegrationStatus::Held);
    assert_eq!(i.step.as_deref(), Some("review"));
    assert_eq!(calls(&w), (0, 0), "nothing looked up before the review");
    w.pipeline.resume(i.id, ana()).await.unwrap();
    w.pipeline.run_until_idle().await.unwrap();
    let i = w.store.get(i.id).await.unwrap().unwrap();
    assert_eq!(i.status, IntegrationStatus::Done, "{i:?}");
    assert_eq!(calls(&w), (1, 0));
}

// ---------------------------------------------------------------------------------------------
// Enrichment

#[tokio::test]
async fn missing_address_fields_are_filled_from_the_registry_with_their_source() {
    let w = world(FiscalPolicy::Block);
    let mut raw = sample();
    raw.customer.address.district = None; // required: the proposal would be held for it
    raw.customer.address.complement = Some("  ".into()); // blank is missing
    let i = run(&w, "1", raw).await;
    assert_eq!(i.status, IntegrationStatus::Done, "{i:?}");
    assert_eq!(
        calls(&w),
        (1, 0),
        "one lookup serves the fill and the check"
    );

    // The ERP got the enriched customer.
    let c = erp_customer(&w);
    assert_eq!(c.address.district.as_str(), "CONSOLACAO");
    assert_eq!(c.address.complement.as_ref().unwrap().as_str(), "LOJA 2");
    assert_eq!(c.address.street.as_str(), "Rua Augusta", "kept as written");

    // Journaled as an edit by the system, with each field's source…
    let edit = step(&w, i.id, "edit:1")
        .await
        .expect("the fill is journaled");
    assert_eq!(edit["via"], "fiscal");
    assert_eq!(edit["by"]["type"], "system");
    let sources = edit["sources"].as_array().unwrap();
    let got: Vec<(&str, &str, &str)> = sources
        .iter()
        .map(|s| {
            (
                s["field"].as_str().unwrap(),
                s["source_provider"].as_str().unwrap(),
                s["source_field"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("customer.address.complement", "brasil_api", "complemento"),
            ("customer.address.district", "brasil_api", "bairro"),
        ]
    );
    // …in the step's result and in the audit.
    let r = step(&w, i.id, FISCAL_STEP).await.unwrap();
    assert_eq!(r["filled"].as_array().unwrap(), sources);
    let e = events(&w, i.id, "fiscal.enrich").await;
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].details["filled"].as_array().unwrap(), sources);
    assert!(
        e[0].summary
            .contains("customer.address.district ← brasil_api bairro"),
        "{}",
        e[0].summary
    );
    // The integration's proposal carries the values (a person sees and may edit them).
    let raw = i.raw.unwrap();
    assert_eq!(raw.customer.address.district.as_deref(), Some("CONSOLACAO"));
}

#[tokio::test]
async fn the_cep_record_fills_what_the_company_record_cannot() {
    // Under warn a company registered under another name: its address is not used; the CEP
    // of the proposal gives the district.
    let w = world(FiscalPolicy::Warn);
    w.registry.companies.lock().unwrap().insert(
        CNPJ.parse().unwrap(),
        registered("OUTRA EMPRESA LTDA", RegistrationStatus::Active),
    );
    w.registry.ceps.lock().unwrap().insert(
        "01304001".parse().unwrap(),
        RegisteredCep {
            cep: "01304001".parse().unwrap(),
            source: "via_cep".into(),
            street: Some("Rua Augusta".into()),
            district: Some("Consolação".into()),
            city: Some("São Paulo".into()),
            uf: Some(Uf::SP),
            source_fields: [
                (AddressField::Street, "logradouro".to_owned()),
                (AddressField::District, "bairro".to_owned()),
                (AddressField::City, "localidade".to_owned()),
                (AddressField::Uf, "uf".to_owned()),
                (AddressField::Cep, "cep".to_owned()),
            ]
            .into(),
        },
    );
    let mut raw = sample();
    raw.customer.address.district = None;
    let i = run(&w, "1", raw).await;
    assert_eq!(i.status, IntegrationStatus::Done, "{i:?}");
    assert_eq!(calls(&w), (1, 1));
    assert_eq!(erp_customer(&w).address.district.as_str(), "Consolação");
    let r = step(&w, i.id, FISCAL_STEP).await.unwrap();
    assert_eq!(r["filled"][0]["field"], "customer.address.district");
    assert_eq!(r["filled"][0]["source_provider"], "via_cep");
    assert_eq!(r["verdict"], "warn");
    assert!(
        r["notes"][0]
            .as_str()
            .unwrap()
            .contains("registered address was not used"),
        "{r}"
    );
}

#[tokio::test]
async fn a_registry_value_sig_does_not_accept_is_left_out() {
    let w = world(FiscalPolicy::Block);
    let mut long = registered(LEGAL_NAME, RegistrationStatus::Active);
    long.address.complement = Some("SALA ".repeat(20)); // 100 characters; Omie takes 60
    w.registry
        .companies
        .lock()
        .unwrap()
        .insert(CNPJ.parse().unwrap(), long);
    let mut raw = sample();
    raw.customer.address.complement = None;
    let i = run(&w, "1", raw).await;
    assert_eq!(i.status, IntegrationStatus::Done, "{i:?}");
    assert!(erp_customer(&w).address.complement.is_none());
    let r = step(&w, i.id, FISCAL_STEP).await.unwrap();
    assert_eq!(r["filled"], Value::Array(vec![]));
    assert!(
        r["notes"][0]
            .as_str()
            .unwrap()
            .contains("customer.address.complement was not used"),
        "{r}"
    );
}

#[tokio::test]
async fn a_proposal_still_invalid_after_the_fill_is_held_with_the_fill_kept() {
    let w = world(FiscalPolicy::Block);
    let mut raw = sample();
    raw.customer.address.district = None;
    raw.customer.emails = vec!["not-an-email".into()];
    let i = run(&w, "1", raw).await;
    assert_eq!(i.status, IntegrationStatus::Held, "{i:?}");
    assert_eq!(i.step.as_deref(), Some("validate"));
    let fields: Vec<&str> = i.problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(fields, ["customer.emails[0]"], "the district is no problem");
    // A person fixes the e-mail; the district filled before stays.
    let patch = ProposalPatch::from_assignments(["customer.emails[0]=financeiro@paoquente.com.br"])
        .unwrap();
    assert!(w.pipeline.edit(i.id, ana(), &patch).await.unwrap().resumed);
    w.pipeline.run_until_idle().await.unwrap();
    let i = w.store.get(i.id).await.unwrap().unwrap();
    assert_eq!(i.status, IntegrationStatus::Done, "{i:?}");
    assert_eq!(erp_customer(&w).address.district.as_str(), "CONSOLACAO");
    let r = step(&w, i.id, FISCAL_STEP).await.unwrap();
    assert_eq!(
        r["filled"][0]["field"], "customer.address.district",
        "fills of earlier runs are listed"
    );
}

#[tokio::test]
async fn a_fill_the_registry_cannot_make_leaves_the_validation_problem_and_says_why() {
    let w = world(FiscalPolicy::Block);
    w.registry.down.store(true, Ordering::SeqCst);
    let mut raw = sample();
    raw.customer.address.district = None;
    let i = run(&w, "1", raw).await;
    // Filling is a help: the registry down holds the proposal for its missing field, it is
    // not retried as the check would be.
    assert_eq!(i.status, IntegrationStatus::Held, "{i:?}");
    assert_eq!(i.step.as_deref(), Some("validate"));
    let fields: Vec<&str> = i.problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(fields, ["customer.address.district"]);
    let e = events(&w, i.id, "fiscal.enrich").await;
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].outcome, AuditOutcome::Skipped);
    assert!(
        e[0].summary.contains("could not be consulted"),
        "{}",
        e[0].summary
    );
    assert_eq!(step(&w, i.id, "edit:1").await, None, "nothing filled");
}
