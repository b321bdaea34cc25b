//! The `fiscal` step (roadmap §3): a company whose policy is `warn` or `block` has each
//! customer checked at the Receita Federal's registry through the
//! [`FiscalLookup`] port, between validation and the ERP.
//!
//! ```text
//! validate ─(valid, reviewed)→ fiscal ─(pass, warn)→ customer → erp_customer → …
//!                                 ├─(block: findings)→ held (edit, resume)
//!                                 └─(block: registry unavailable)→ retried with backoff → failed (retryable)
//! ```
//!
//! - **Who is checked.** Company customers (CNPJ) only: for a person (CPF) the step records
//!   "not applicable" and looks nothing up. A company whose policy is `off` (the default)
//!   has no `fiscal` step at all and no lookup is made; nor has an integration validated
//!   before its company's policy was turned on.
//! - **When.** Once the proposal validates and, for a company that reviews every proposal,
//!   after the review. Its result is journaled under `fiscal` in the same transaction as
//!   `validate`, so the validated proposal every later step uses — the ERP and NextBilling
//!   customers — is the checked and enriched one, and a person's edit after a fiscal hold is
//!   checked again when it resumes.
//! - **Decision** ([`crate::fiscal::evaluate_answer`]): the registration status must be
//!   ATIVA and the registered legal name must match the proposal's ([`crate::fiscal::names`]);
//!   a CNPJ nobody registers is a finding too. `warn`: the findings go to the audit (event
//!   `step.fiscal`, details `result.findings`) and the integration goes on. `block`: the
//!   integration is held at step `fiscal` with one problem per finding —
//!   `customer.tax_id` `fiscal_inactive` / `fiscal_not_registered`, `customer.legal_name`
//!   `fiscal_name_mismatch` — whose message says what the registry has; a person edits the
//!   proposal and it resumes (or resumes it unchanged, and the registry is asked again).
//! - **Registry unavailable** (every provider down, slow or limited): under `block` the step
//!   fails like any upstream call — retried with backoff, then failed as retryable for an
//!   operator; under `warn` it is journaled as not checked (`checked: false`, the error) with
//!   an `error` audit event, and the integration goes on.
//! - **Enrichment.** Missing address fields are filled from the registry: from the company's
//!   registered address when its legal name matches the proposal's (a record of another
//!   company says nothing about this one's address), then from the CEP record when fields
//!   are still missing and a CEP is known ([`crate::fiscal::enrich()`]'s rules: only missing
//!   fields, same place, number and complement only on the same street, and only values
//!   valid for SIG). When a required field is missing the fill runs before validation
//!   decides, so a proposal the registry completes is not held for it; a lookup failure
//!   there only means nothing is filled. Each fill is written to the integration's proposal
//!   and journaled as an edit by the system (`edit:<n>` with `via: fiscal` and each field's
//!   `sources`: provider and the provider's field name), with a `fiscal.enrich` audit event;
//!   the `fiscal` result lists every field filled (`filled`).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};
use tracing::Instrument;

use super::{Pipeline, STEP_EVENT_TARGET, StepError, StepStart};
use crate::domain::Proposal;
use crate::fiscal::{
    AddressField, AddressSource, FiscalAnswer, FiscalPolicy, FiscalVerdict, Provenance,
    RegisteredCep, RegisteredCompany, enrich, evaluate_answer, names_match,
};
use crate::ids::CompanyId;
use crate::ports::{FiscalLookup, System, UpstreamError};
use crate::problem::{Problems, trim_ascii};
use crate::raw::RawAddress;
use crate::store::{
    Actor, AuditEvent, AuditOutcome, Change, Integration, IntegrationStatus, StepEntry,
};
use crate::taxid::TaxId;

/// The journal key of the fiscal check.
pub const FISCAL_STEP: &str = "fiscal";

/// The `via` of the `edit:<n>` journal entries that record address fields the registry
/// filled.
pub const FISCAL_FILL_VIA: &str = "fiscal";

/// One run's fiscal work: the company's policy and the answers already looked up, so the
/// fill before validation and the check after it ask the registry once.
pub(super) struct FiscalRun {
    lookup: Arc<dyn FiscalLookup>,
    policy: FiscalPolicy,
    company: Option<FiscalAnswer<RegisteredCompany>>,
    cep: Option<Option<RegisteredCep>>,
    notes: Vec<String>,
}

impl FiscalRun {
    /// Notes what the run could not do (once, though two fills may see it).
    fn note(&mut self, text: String) {
        if !self.notes.contains(&text) {
            self.notes.push(text);
        }
    }
}

/// When a fill runs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum FillStage {
    /// Before validation decides: only when a required address field is missing.
    BeforeValidation,
    /// After validation: whatever is still missing (the complement).
    Validated,
}

/// How the check ended.
pub(super) enum FiscalOutcome {
    /// Held for a person (committed).
    Held,
    /// Go on with this proposal (enriched), journaling the step with `validate`.
    Go {
        proposal: Box<Proposal>,
        done: Box<FiscalDone>,
    },
}

/// The `fiscal` journal entry and audit event, committed with the `validate` step.
pub(super) struct FiscalDone {
    entry: StepEntry,
    event: AuditEvent,
    started: StepStart,
    checked: bool,
}

impl FiscalDone {
    /// Adds the entry and the event to the `validate` step's change.
    pub(super) fn add_to(&self, change: &mut Change) {
        change.steps.push(self.entry.clone());
        change.audit.push(self.event.clone());
    }

    /// The step's end event, once committed.
    pub(super) fn emit(&self) {
        let duration_ms = self.entry.duration_ms;
        let _span = self.started.span.enter();
        tracing::info!(
            target: STEP_EVENT_TARGET,
            step = FISCAL_STEP,
            kind = FISCAL_STEP,
            outcome = "ok",
            duration_ms,
            system = self.checked.then_some("fiscal"),
            call = self.checked.then_some("company_by_cnpj"),
            "step done"
        );
    }
}

fn blank(v: Option<&String>) -> bool {
    v.is_none_or(|s| trim_ascii(s).is_empty())
}

fn slot(a: &RawAddress, field: AddressField) -> Option<&String> {
    match field {
        AddressField::Street => a.street.as_ref(),
        AddressField::Number => a.number.as_ref(),
        AddressField::Complement => a.complement.as_ref(),
        AddressField::District => a.district.as_ref(),
        AddressField::City => a.city.as_ref(),
        AddressField::Uf => a.uf.as_ref(),
        AddressField::Cep => a.cep.as_ref(),
    }
}

fn slot_mut(a: &mut RawAddress, field: AddressField) -> &mut Option<String> {
    match field {
        AddressField::Street => &mut a.street,
        AddressField::Number => &mut a.number,
        AddressField::Complement => &mut a.complement,
        AddressField::District => &mut a.district,
        AddressField::City => &mut a.city,
        AddressField::Uf => &mut a.uf,
        AddressField::Cep => &mut a.cep,
    }
}

fn registry_summary(answer: &FiscalAnswer<RegisteredCompany>) -> Value {
    match answer {
        FiscalAnswer::Found(c) => json!({
            "source": c.source,
            "legal_name": c.legal_name,
            "status": c.status,
            "status_text": c.status_text,
        }),
        FiscalAnswer::NotFound { source } => json!({"source": source, "not_found": true}),
    }
}

/// Every address field the registry filled, from the journal's `edit:<n>` entries.
fn filled(journal: &BTreeMap<String, StepEntry>) -> Vec<Value> {
    journal
        .iter()
        .filter(|(k, e)| k.starts_with("edit:") && e.result["via"] == FISCAL_FILL_VIA)
        .flat_map(|(_, e)| e.result["sources"].as_array().cloned().unwrap_or_default())
        .collect()
}

impl Pipeline {
    /// Check every company customer at the Receita Federal's registry with `lookup`, under
    /// each company's policy (a company not listed is `off`); one lookup serves all. See the
    /// `fiscal` module docs.
    pub fn with_fiscal(
        mut self,
        lookup: Arc<dyn FiscalLookup>,
        policies: impl IntoIterator<Item = (CompanyId, FiscalPolicy)>,
    ) -> Self {
        let shared = self.configure();
        shared.fiscal = Some(lookup);
        shared.fiscal_policies = policies.into_iter().collect();
        self
    }

    /// A company's fiscal policy (`off` when no lookup is configured).
    pub fn fiscal_policy(&self, company: &CompanyId) -> FiscalPolicy {
        match &self.fiscal {
            Some(_) => self
                .fiscal_policies
                .get(company)
                .copied()
                .unwrap_or_default(),
            None => FiscalPolicy::Off,
        }
    }

    /// The fiscal work of one run, or `None` when the company's policy is `off`.
    pub(super) fn fiscal_run(&self, company: &CompanyId) -> Option<FiscalRun> {
        let policy = self.fiscal_policy(company);
        let lookup = self.fiscal.clone()?;
        (policy != FiscalPolicy::Off).then(|| FiscalRun {
            lookup,
            policy,
            company: None,
            cep: None,
            notes: Vec::new(),
        })
    }

    /// Fills missing address fields of a company customer from the registry (module docs),
    /// committing the filled proposal with its `edit:<n>` entry and audit event. Lookup
    /// failures are noted, never fatal: filling is a help, the check is what the policy
    /// decides on.
    pub(super) async fn fiscal_fill(
        &self,
        run: &mut FiscalRun,
        state: &mut Integration,
        journal: &mut BTreeMap<String, StepEntry>,
        stage: FillStage,
    ) -> Result<Vec<Provenance>, StepError> {
        let Some(raw) = state.raw.as_ref() else {
            return Ok(Vec::new());
        };
        let Some(Ok(TaxId::Cnpj(cnpj))) = raw.customer.tax_id.as_deref().map(str::parse) else {
            return Ok(Vec::new());
        };
        let address = raw.customer.address.clone();
        let missing: Vec<AddressField> = AddressField::ALL
            .into_iter()
            .filter(|f| blank(slot(&address, *f)))
            .collect();
        let wanted = match stage {
            FillStage::BeforeValidation => missing.iter().any(|f| *f != AddressField::Complement),
            FillStage::Validated => !missing.is_empty(),
        };
        if !wanted {
            return Ok(Vec::new());
        }
        let span = tracing::info_span!("step", step = "fiscal_fill");
        if run.company.is_none() {
            match run
                .lookup
                .company_by_cnpj(&cnpj)
                .instrument(span.clone())
                .await
            {
                Ok(answer) => run.company = Some(answer),
                Err(e) => run.note(format!(
                    "the address could not be completed: the registry could not be consulted ({e})"
                )),
            }
        }
        let legal_name = raw.customer.legal_name.clone().unwrap_or_default();
        let use_company = match &run.company {
            Some(FiscalAnswer::Found(c)) if names_match(&legal_name, &c.legal_name) => true,
            Some(FiscalAnswer::Found(c)) => {
                let text = format!(
                    "the registered address was not used: the registered legal name `{}` does not match the proposal's",
                    c.legal_name
                );
                run.note(text);
                false
            }
            _ => false,
        };
        let company = |run: &FiscalRun| match &run.company {
            Some(FiscalAnswer::Found(c)) if use_company => Some(c.clone()),
            _ => None,
        };
        // The CEP record is asked only when the company record leaves fields missing.
        let after_company = match company(run) {
            Some(c) => enrich(&address, &[&c]).address,
            None => address.clone(),
        };
        // (A CEP has no street number, and its complement is no address complement.)
        let still_missing = AddressField::ALL
            .into_iter()
            .filter(|f| !matches!(f, AddressField::Number | AddressField::Complement))
            .any(|f| blank(slot(&after_company, f)));
        let cep = after_company.cep.as_deref().and_then(|c| c.parse().ok());
        if still_missing
            && run.cep.is_none()
            && let Some(cep) = cep
        {
            run.cep = Some(
                match run
                    .lookup
                    .address_by_cep(&cep)
                    .instrument(span.clone())
                    .await
                {
                    Ok(FiscalAnswer::Found(r)) => Some(r),
                    Ok(FiscalAnswer::NotFound { source }) => {
                        run.note(format!("the CEP is not known to {source}"));
                        None
                    }
                    Err(e) => {
                        run.note(format!("the CEP could not be looked up ({e})"));
                        None
                    }
                },
            );
        }
        let company = company(run);
        let mut e = {
            let mut sources: Vec<&dyn AddressSource> = Vec::new();
            if let Some(c) = &company {
                sources.push(c);
            }
            if let Some(Some(r)) = &run.cep {
                sources.push(r);
            }
            enrich(&address, &sources)
        };
        // Only values SIG accepts (a registry complement longer than Omie takes is left out).
        let mut p = Problems::new();
        let _ = e.address.validate_into("customer.address", &mut p);
        let refused: Vec<String> = e
            .provenance
            .iter()
            .filter(|pr| p.iter().any(|x| x.field == pr.field))
            .map(|pr| pr.field.clone())
            .collect();
        for field in AddressField::ALL {
            if refused.iter().any(|r| r == field.domain_path()) {
                *slot_mut(&mut e.address, field) = slot(&address, field).cloned();
                run.note(format!(
                    "the registry's {} was not used: SIG does not accept it",
                    field.domain_path()
                ));
            }
        }
        e.provenance.retain(|pr| !refused.contains(&pr.field));
        if e.provenance.is_empty() {
            if stage == FillStage::BeforeValidation && !run.notes.is_empty() {
                // Validation will hold the proposal for the missing fields: say why the
                // registry did not fill them.
                let mut ev = AuditEvent::new(
                    self.clock.now(),
                    Actor::System,
                    "fiscal.enrich",
                    AuditOutcome::Skipped,
                    format!(
                        "missing address fields not filled from the registry: {}",
                        run.notes.join("; ")
                    ),
                );
                ev.integration = Some(state.id);
                ev.system = Some(System::Fiscal);
                ev.details = json!({"notes": run.notes});
                self.store.append_audit(&[ev]).await?;
            }
            return Ok(Vec::new());
        }
        // Write it down: the proposal with the fields filled, an edit by the system.
        let now = self.clock.now();
        if let Some(raw) = state.raw.as_mut() {
            raw.customer.address = e.address;
        }
        let key = format!("edit:{}", super::manual::next_seq(journal, "edit:"));
        let entry = StepEntry {
            key: key.clone(),
            result: json!({
                "by": Actor::System,
                "via": FISCAL_FILL_VIA,
                "fields": e.provenance.iter().map(|p| p.field.clone()).collect::<Vec<_>>(),
                "sources": e.provenance,
            }),
            at: now,
            duration_ms: 0,
        };
        let described: Vec<String> = e
            .provenance
            .iter()
            .map(|p| format!("{} ← {} {}", p.field, p.source_provider, p.source_field))
            .collect();
        let mut ev = AuditEvent::new(
            now,
            Actor::System,
            "fiscal.enrich",
            AuditOutcome::Ok,
            format!(
                "filled {} missing address field(s) from the registry: {}",
                e.provenance.len(),
                described.join(", ")
            ),
        );
        ev.integration = Some(state.id);
        ev.system = Some(System::Fiscal);
        ev.details = json!({"filled": e.provenance, "notes": run.notes});
        let mut change = Change::state(state.clone());
        change.steps.push(entry.clone());
        change.audit.push(ev);
        self.store.commit(change).await?;
        journal.insert(key, entry);
        tracing::info!(parent: &span, fields = e.provenance.len(), "address completed from the fiscal registry");
        Ok(e.provenance)
    }

    /// The check of a valid (and reviewed) proposal: see the module docs. `Held` is
    /// committed here; `Go` is journaled by the caller with `validate`.
    pub(super) async fn fiscal_check(
        &self,
        mut run: FiscalRun,
        state: &mut Integration,
        journal: &mut BTreeMap<String, StepEntry>,
        mut proposal: Proposal,
    ) -> Result<FiscalOutcome, StepError> {
        let started = StepStart::new(FISCAL_STEP);
        let policy = run.policy;
        let TaxId::Cnpj(cnpj) = proposal.customer.tax_id else {
            let result = json!({
                "policy": policy,
                "applicable": false,
                "reason": "the customer is a person (CPF): the registry check is for companies (CNPJ)",
            });
            let done = self.fiscal_done(
                state,
                started,
                result,
                false,
                AuditOutcome::Skipped,
                "not applicable: the customer is a person (CPF); only companies (CNPJ) are checked at the registry".into(),
            );
            return Ok(FiscalOutcome::Go {
                proposal: Box::new(proposal),
                done: Box::new(done),
            });
        };
        let answer = match run.company.take() {
            Some(a) => Ok(a),
            None => {
                run.lookup
                    .company_by_cnpj(&cnpj)
                    .instrument(started.span())
                    .await
            }
        };
        let answer = match answer {
            Ok(a) => a,
            Err(error) if policy == FiscalPolicy::Block => {
                return Err(StepError::Upstream {
                    step: FISCAL_STEP.into(),
                    error: Box::new(error),
                });
            }
            Err(error) => return Ok(self.fiscal_unchecked(state, started, proposal, &error)),
        };
        run.company = Some(answer.clone());
        // Whatever is still missing (the complement, typically), from the same answers.
        let filled_now = self
            .fiscal_fill(&mut run, state, journal, FillStage::Validated)
            .await?;
        if !filled_now.is_empty()
            && let Some(raw) = &state.raw
        {
            let mut p = Problems::new();
            if let Some(address) = raw
                .customer
                .address
                .validate_into("customer.address", &mut p)
                && p.is_empty()
            {
                // The domain types are valid by construction: rebuild the customer and the
                // proposal with the filled address (the same checks run again).
                let mut fields = proposal.clone().into_fields();
                let mut customer = fields.customer.clone().into_fields();
                customer.address = address;
                if let Ok(c) = crate::domain::Customer::new(customer) {
                    fields.customer = c;
                    if let Ok(p) = Proposal::new(fields) {
                        proposal = p;
                    }
                }
            }
        }
        let verdict = evaluate_answer(policy, proposal.customer.legal_name.as_str(), &answer);
        let result = json!({
            "policy": policy,
            "applicable": true,
            "checked": true,
            "registry": registry_summary(&answer),
            "verdict": verdict.as_str(),
            "findings": verdict.findings(),
            "filled": filled(journal),
            "notes": run.notes,
        });
        let described = || {
            verdict
                .findings()
                .iter()
                .map(|f| f.describe())
                .collect::<Vec<_>>()
                .join("; ")
        };
        match &verdict {
            FiscalVerdict::Block(findings) => {
                let now = self.clock.now();
                let problems = Problems(findings.iter().map(|f| f.problem()).collect());
                state.status = IntegrationStatus::Held;
                state.held_since = Some(now);
                state.step = Some(FISCAL_STEP.into());
                let mut e = AuditEvent::new(
                    now,
                    Actor::System,
                    format!("step.{FISCAL_STEP}"),
                    AuditOutcome::Held,
                    format!("held by the registry check: {}", described()),
                );
                e.integration = Some(state.id);
                e.system = Some(System::Fiscal);
                e.call = Some("company_by_cnpj".into());
                e.duration_ms = Some(started.elapsed().as_millis() as u64);
                e.details = json!({"result": result, "problems": problems});
                {
                    let _span = started.span.enter();
                    tracing::info!(
                        target: STEP_EVENT_TARGET,
                        step = FISCAL_STEP,
                        kind = FISCAL_STEP,
                        outcome = "held",
                        problems = problems.len(),
                        "step held the integration for a person"
                    );
                }
                state.problems = problems;
                let mut change = Change::state(state.clone());
                change.audit.push(e);
                self.store.commit(change).await?;
                Ok(FiscalOutcome::Held)
            }
            FiscalVerdict::Pass | FiscalVerdict::Warn(_) => {
                let summary = match (&verdict, &answer) {
                    (FiscalVerdict::Warn(_), _) => {
                        format!("going on with findings (policy warn): {}", described())
                    }
                    (_, FiscalAnswer::Found(c)) => format!(
                        "registry check passed: `{}` is {} according to {}",
                        c.legal_name,
                        c.status.as_receita_str(),
                        c.source
                    ),
                    (_, FiscalAnswer::NotFound { .. }) => "registry check passed".into(),
                };
                let done =
                    self.fiscal_done(state, started, result, true, AuditOutcome::Ok, summary);
                Ok(FiscalOutcome::Go {
                    proposal: Box::new(proposal),
                    done: Box::new(done),
                })
            }
        }
    }

    /// `warn` with the registry unavailable: journaled as not checked, audited as an error.
    fn fiscal_unchecked(
        &self,
        state: &Integration,
        started: StepStart,
        proposal: Proposal,
        error: &UpstreamError,
    ) -> FiscalOutcome {
        let result = json!({
            "policy": FiscalPolicy::Warn,
            "applicable": true,
            "checked": false,
            "error": error.to_string(),
            "retryable": error.is_retryable(),
        });
        {
            let _span = started.span.enter();
            tracing::warn!(
                error = %error,
                "the fiscal registry could not be consulted; going on unchecked (policy warn)"
            );
        }
        let done = self.fiscal_done(
            state,
            started,
            result,
            true,
            AuditOutcome::Error,
            format!(
                "not checked, going on (policy warn): the registry could not be consulted: {error}"
            ),
        );
        FiscalOutcome::Go {
            proposal: Box::new(proposal),
            done: Box::new(done),
        }
    }

    fn fiscal_done(
        &self,
        state: &Integration,
        started: StepStart,
        result: Value,
        checked: bool,
        outcome: AuditOutcome,
        summary: String,
    ) -> FiscalDone {
        let now = self.clock.now();
        let duration_ms = started.elapsed().as_millis() as u64;
        let mut event = AuditEvent::new(
            now,
            Actor::System,
            format!("step.{FISCAL_STEP}"),
            outcome,
            summary,
        );
        event.integration = Some(state.id);
        event.duration_ms = Some(duration_ms);
        if checked {
            event.system = Some(System::Fiscal);
            event.call = Some("company_by_cnpj".into());
        }
        event.details = json!({
            "started_at": now - chrono::Duration::milliseconds(duration_ms as i64),
            "result": result,
        });
        FiscalDone {
            entry: StepEntry {
                key: FISCAL_STEP.into(),
                result,
                at: now,
                duration_ms,
            },
            event,
            started,
            checked,
        }
    }
}
