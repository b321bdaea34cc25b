//! The operations people run on an integration (roadmap §1): edit the proposal before it
//! integrates, resume a held one, choose a ServidorNext by hand — each authorized by the
//! [`Authorizer`](crate::authz::Authorizer), every decision audited.
//!
//! While such an operation reads and writes an integration it holds a lease on it
//! ([`Store::lease`](crate::store::Store::lease)), so no worker runs it meanwhile; if a worker
//! is running it, the operation is refused with [`PipelineError::Busy`].
//!
//! What people decide is journaled next to the steps, so the pipeline and the audit read the
//! same record: `edit:<n>` (the fields an edit changed, by whom), `review` (a person approved
//! a proposal of a company that holds every proposal for review), `manual_server:<i>:<n>` (a
//! server chosen for order `i` before the proposal was validated, applied at its `server:i`
//! step). Values an edit changed go to the audit only (DESIGN.md: the audit keeps them).

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    Pipeline, PipelineError, REVIEW_STEP, ServerChoice, ServerChoiceWithOrder, StepError, Validated,
};
use crate::authz::{Action, Denied};
use crate::choice::{Decision, Demand, Verdict};
use crate::edit::{FieldChange, ProposalPatch};
use crate::ids::{IntegrationId, ServerId, ServiceOrderId};
use crate::problem::Problems;
use crate::store::{
    Actor, AuditEvent, AuditOutcome, Change, Integration, IntegrationStatus, Load, Reservation,
    StepEntry, StoreError,
};

/// A person's choice of server for one order, as journaled with the `server:i` step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManualChoice {
    /// Who chose.
    pub by: Actor,
    /// When.
    pub at: DateTime<Utc>,
    /// Whether the checks (active, healthy, serves the area, has room) were overridden.
    pub forced: bool,
    /// The written reason (required to force).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The checks the server failed that the force overrode (empty: it passed them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overridden: Vec<String>,
    /// What the automatic choice would have been (`None`: no server was eligible).
    pub automatic: Option<ServerId>,
}

/// A server chosen for an order before the proposal was validated (journal
/// `manual_server:<i>:<n>`); the `server:i` step applies the latest one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerDirective {
    /// The server.
    pub server: ServerId,
    /// Who chose it, and why.
    pub choice: ManualChoice,
}

/// What an edit did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EditOutcome {
    /// The integration.
    pub integration: IntegrationId,
    /// Its status after the edit (`pending` when it resumed or had not started, `held` when
    /// problems remain).
    pub status: IntegrationStatus,
    /// The fields that changed, before and after.
    pub changes: Vec<FieldChange>,
    /// Every validation problem of the edited proposal (empty: it validates).
    pub problems: Problems,
    /// Whether a held integration resumed.
    pub resumed: bool,
    /// Whether the edit had to read the proposal from its source first.
    pub fetched: bool,
}

/// What a resume did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumeOutcome {
    /// The integration.
    pub integration: IntegrationId,
    /// Its status now (`pending`).
    pub status: IntegrationStatus,
    /// Whether the resume approved a proposal held for review.
    pub reviewed: bool,
}

/// What a manual server choice did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManualChoiceOutcome {
    /// The integration.
    pub integration: IntegrationId,
    /// The order index.
    pub order: usize,
    /// The server chosen.
    pub server: ServerId,
    /// `true`: capacity is reserved and the `server:i` step journaled now; `false`: the
    /// proposal is not validated yet, so the choice is recorded and applied (checked and
    /// reserved again) when the `server:i` step runs.
    pub applied: bool,
    /// The choice as journaled.
    pub choice: ManualChoice,
    /// The automatic evaluation it was compared with.
    pub decision: Decision,
}

/// `a, b: why; c: why` for several refused fields.
pub(super) fn fields_denied(denied: &[Denied]) -> String {
    denied
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// The field paths people have edited (from the `edit:n` journal entries).
pub(super) fn edited_fields(journal: &BTreeMap<String, StepEntry>) -> Vec<String> {
    journal
        .iter()
        .filter(|(k, _)| k.starts_with("edit:"))
        .flat_map(|(_, e)| {
            e.result["fields"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f.as_str().map(str::to_owned))
        })
        .collect()
}

/// Whether an edit of `edited` covers a problem reported at `field` (the same field, a
/// part of it, or the list it is an item of).
pub(super) fn covers(edited: &str, field: &str) -> bool {
    let within =
        |a: &str, b: &str| a == b || a.strip_prefix(b).is_some_and(|r| r.starts_with(['[', '.']));
    within(field, edited) || within(edited, field)
}

pub(super) fn next_seq(journal: &BTreeMap<String, StepEntry>, prefix: &str) -> u64 {
    journal
        .keys()
        .filter_map(|k| k.strip_prefix(prefix)?.parse::<u64>().ok())
        .max()
        .map_or(1, |n| n + 1)
}

/// The latest server directive for order `i`.
pub(super) fn latest_directive(
    journal: &BTreeMap<String, StepEntry>,
    i: usize,
) -> Option<ServerDirective> {
    let prefix = format!("manual_server:{i}:");
    journal
        .iter()
        .filter_map(|(k, e)| Some((k.strip_prefix(&prefix)?.parse::<u64>().ok()?, e)))
        .max_by_key(|(n, _)| *n)
        .and_then(|(_, e)| serde_json::from_value(e.result.clone()).ok())
}

/// The one-line audit summary of a manual choice.
pub(super) fn summary(c: &ServerChoice) -> String {
    let Some(m) = &c.manual else {
        return c.decision.explain();
    };
    let mut s = format!("{} chosen by {}", c.server, m.by);
    if m.forced {
        s.push_str(" (forced");
        if !m.overridden.is_empty() {
            s.push_str(&format!(" past: {}", m.overridden.join("; ")));
        }
        s.push(')');
    }
    if let Some(r) = &m.reason {
        s.push_str(&format!(" — {r}"));
    }
    match &m.automatic {
        Some(a) => s.push_str(&format!("; automatic would have chosen {a}")),
        None => s.push_str("; no server was eligible automatically"),
    }
    s
}

/// Why `server` is not eligible in `decision` (empty: it is).
fn objections(decision: &Decision, server: &ServerId) -> Vec<String> {
    match decision.candidates.iter().find(|c| &c.server == server) {
        None => vec!["not a configured server".into()],
        Some(c) => match &c.verdict {
            Verdict::Chosen | Verdict::MoreUtilised => vec![],
            other => vec![other.describe()],
        },
    }
}

impl Pipeline {
    /// Decide whether `actor` may do `action` and audit it. Allowed: the audit event is
    /// returned for the caller to commit with its change (so "allowed" and the effect land
    /// together). Denied: the event is written now and the refusal returned.
    pub async fn authorize(
        &self,
        actor: &Actor,
        action: Action,
        integration: Option<IntegrationId>,
    ) -> Result<AuditEvent, PipelineError> {
        let d = self.authorizer.decide(actor, action);
        let e = d.audit_event(self.clock.now(), integration);
        match d.denied() {
            None => Ok(e),
            Some(denied) => {
                self.store.append_audit(&[e]).await?;
                Err(PipelineError::Denied(denied))
            }
        }
    }

    /// [`Pipeline::authorize`], writing the allowed decision to the audit at once (for
    /// operations that commit nothing of their own).
    pub async fn authorize_now(
        &self,
        actor: &Actor,
        action: Action,
        integration: Option<IntegrationId>,
    ) -> Result<(), PipelineError> {
        let e = self.authorize(actor, action, integration).await?;
        self.store.append_audit(&[e]).await?;
        Ok(())
    }

    pub(super) async fn lease_for_person(
        &self,
        id: IntegrationId,
    ) -> Result<Integration, PipelineError> {
        match self
            .store
            .lease(id, self.clock.now(), self.settings.lease)
            .await
        {
            Ok(Some(i)) => Ok(i),
            Ok(None) => Err(PipelineError::Busy(id)),
            Err(StoreError::NotFound(_)) => Err(PipelineError::NotFound(id)),
            Err(e) => Err(e.into()),
        }
    }

    /// Run `f` on the integration under a person's lease. `audit` holds the decisions made
    /// so far: `f` moves them into its commit; whatever is left when it fails (a refusal) is
    /// written on its own, so every decision reaches the audit.
    pub(super) async fn as_person<T>(
        &self,
        id: IntegrationId,
        mut audit: Vec<AuditEvent>,
        f: impl for<'a> AsyncFnOnce(Integration, &'a mut Vec<AuditEvent>) -> Result<T, PipelineError>,
    ) -> Result<T, PipelineError> {
        let r = match self.lease_for_person(id).await {
            Ok(i) => {
                let r = f(i, &mut audit).await;
                self.release_lease(id).await;
                r
            }
            Err(e) => Err(e),
        };
        if r.is_err()
            && !audit.is_empty()
            && let Err(e) = self.store.append_audit(&audit).await
        {
            tracing::warn!(integration = %id, error = %e, "could not audit a refusal");
        }
        r
    }

    pub(super) async fn release_lease(&self, id: IntegrationId) {
        if let Err(e) = self.store.unclaim(id).await {
            // The lease expires on its own; the operation itself is done.
            tracing::warn!(integration = %id, error = %e, "could not release a lease");
        }
    }

    fn resume_state(&self, i: &mut Integration, now: DateTime<Utc>) {
        if let Some(since) = i.held_since.take() {
            i.held_ms += (now - since).num_milliseconds().max(0) as u64;
        }
        i.status = IntegrationStatus::Pending;
        i.problems = Problems::new();
        i.attempts = 0;
        i.failure = None;
        i.next_attempt_at = now;
    }

    fn review_entry(
        &self,
        i: &Integration,
        journal: &BTreeMap<String, StepEntry>,
        actor: &Actor,
        via: &str,
        now: DateTime<Utc>,
    ) -> Option<StepEntry> {
        let company = self.companies.get(&i.company)?;
        (company.hold_for_review && !journal.contains_key(REVIEW_STEP)).then(|| StepEntry {
            key: REVIEW_STEP.into(),
            result: serde_json::json!({"by": actor, "via": via}),
            at: now,
            duration_ms: 0,
        })
    }

    /// Edit the proposal of an integration that is held, or pending and not yet validated,
    /// with a patch; needs `edit_proposal` and, for each field, the field grant.
    ///
    /// - Every decision (the action and each field) is audited. If any field is denied,
    ///   nothing is applied: [`PipelineError::FieldsDenied`] lists them.
    /// - A DocSales proposal not fetched yet is fetched first (the `fetch` step), so the edit
    ///   applies over the fetched data and is never overwritten by a later fetch.
    /// - Validation runs again and reports every problem. A proposal that now validates
    ///   resumes (a held integration goes back to pending); one with problems is held with
    ///   them. For a company that holds every proposal for review, a person's valid edit is
    ///   its review.
    /// - The audit keeps the before and after value of each changed field; the journal
    ///   (`edit:n`) keeps which fields changed, so problems the source reported on a field a
    ///   person has since edited no longer count.
    /// - Once the proposal was validated (its ids minted) or any upstream step began, the
    ///   edit is refused with the reason ([`PipelineError::InvalidState`]).
    pub async fn edit(
        &self,
        id: IntegrationId,
        actor: Actor,
        patch: &ProposalPatch,
    ) -> Result<EditOutcome, PipelineError> {
        let allowed = self
            .authorize(&actor, Action::EditProposal, Some(id))
            .await?;
        if patch.is_empty() {
            self.store.append_audit(&[allowed]).await?;
            return Err(PipelineError::BadInput {
                field: "patch".into(),
                reason: "the patch has no edits".into(),
            });
        }
        let now = self.clock.now();
        let decisions: Vec<_> = patch
            .paths()
            .iter()
            .map(|p| self.authorizer.decide_field(&actor, p))
            .collect();
        let mut audit = vec![allowed];
        audit.extend(decisions.iter().map(|d| d.audit_event(now, Some(id))));
        let denied: Vec<Denied> = decisions.iter().filter_map(|d| d.denied()).collect();
        if !denied.is_empty() {
            self.store.append_audit(&audit).await?;
            return Err(PipelineError::FieldsDenied(denied));
        }
        self.as_person(id, audit, async |i, audit| {
            self.edit_leased(i, actor, patch, audit).await
        })
        .await
    }

    async fn edit_leased(
        &self,
        mut i: Integration,
        actor: Actor,
        patch: &ProposalPatch,
        audit: &mut Vec<AuditEvent>,
    ) -> Result<EditOutcome, PipelineError> {
        let id = i.id;
        let mut journal = self.store.journal(id).await?;
        let refuse = |i: &Integration, reason: String| {
            Err(PipelineError::InvalidState {
                id,
                status: i.status,
                reason,
            })
        };
        match i.status {
            IntegrationStatus::Held => {}
            IntegrationStatus::Pending if !journal.contains_key("validate") => {}
            IntegrationStatus::Pending => {
                let step = i.step.clone().unwrap_or_else(|| "validate".into());
                return refuse(
                    &i,
                    format!(
                        "its integration has started (the proposal was validated and SIG's ids minted; last step {step}): a proposal is edited only while held or before it is validated"
                    ),
                );
            }
            other => {
                return refuse(
                    &i,
                    format!(
                        "a {other} integration is not edited: only held proposals and those not yet integrating are"
                    ),
                );
            }
        }
        let mut fetched = false;
        if i.raw.is_none() || !journal.contains_key("fetch") {
            let company = self
                .companies
                .get(&i.company)
                .cloned()
                .ok_or_else(|| PipelineError::UnknownCompany(i.company.clone()))?;
            fetched = i.raw.is_none();
            match self.fetch_step(&mut i, &company).await {
                Ok(_) => {}
                Err(StepError::Store(e)) => return Err(e.into()),
                Err(StepError::Upstream { error, .. }) => {
                    return Err(PipelineError::Upstream { id, error });
                }
                Err(StepError::Permanent { reason, .. }) => {
                    return refuse(&i, reason);
                }
                // The pipeline is draining: the fetch is journaled, the edit is not applied.
                Err(StepError::Parked) => {
                    return refuse(&i, "SIG is shutting down; try again".into());
                }
            }
            journal = self.store.journal(id).await?;
        }
        let before = i.raw.clone().unwrap_or_default();
        let (after, changes) = match patch.apply(&before) {
            Ok(x) => x,
            Err(p) => return Err(PipelineError::InvalidPatch(p)),
        };
        let now = self.clock.now();
        let mut steps = Vec::new();
        if !changes.is_empty() {
            let key = format!("edit:{}", next_seq(&journal, "edit:"));
            let entry = StepEntry {
                key: key.clone(),
                result: serde_json::json!({
                    "by": actor,
                    "fields": changes.iter().map(|c| c.field.clone()).collect::<Vec<_>>(),
                }),
                at: now,
                duration_ms: 0,
            };
            journal.insert(key, entry.clone());
            steps.push(entry);
        }
        let validation = self.check_proposal(&i.source, &after, &journal);
        let was = i.status;
        let mut resumed = false;
        match &validation {
            // An edit that changes nothing neither reviews nor resumes.
            Ok(_) if changes.is_empty() => i.problems = Problems::new(),
            Ok(_) => {
                if let Some(r) = self.review_entry(&i, &journal, &actor, "edit", now) {
                    steps.push(r);
                }
                if was == IntegrationStatus::Held {
                    self.resume_state(&mut i, now);
                    i.step = Some("edit".into());
                    resumed = true;
                }
                i.problems = Problems::new();
            }
            Err(problems) => {
                if was == IntegrationStatus::Pending {
                    i.status = IntegrationStatus::Held;
                    i.held_since = Some(now);
                }
                i.step = Some("validate".into());
                i.problems = problems.clone();
            }
        }
        i.raw = Some(after);
        let problems = validation.err().unwrap_or_default();
        let summary = format!(
            "edited {} field(s){}",
            changes.len(),
            if resumed {
                "; the proposal validates and resumes".to_owned()
            } else if problems.is_empty() {
                "; the proposal validates".to_owned()
            } else {
                format!("; {} validation problem(s) remain", problems.len())
            }
        );
        let mut e = AuditEvent::new(
            now,
            actor.clone(),
            "edit",
            if changes.is_empty() {
                AuditOutcome::Skipped
            } else {
                AuditOutcome::Ok
            },
            summary,
        );
        e.integration = Some(id);
        e.details = serde_json::json!({
            "changes": changes,
            "problems": problems,
            "resumed": resumed,
            "fetched": fetched,
        });
        audit.push(e);
        let status = i.status;
        let mut change = Change::state(i);
        change.steps = steps;
        change.audit = std::mem::take(audit);
        self.store.commit(change).await?;
        Ok(EditOutcome {
            integration: id,
            status,
            changes,
            problems,
            resumed,
            fetched,
        })
    }

    /// Resume a held integration: validation runs again on its proposal; if it validates, it
    /// goes back to pending (for a company that holds proposals for review, this is the
    /// review's approval, journaled as `review`). Needs `resume_integration`. A proposal
    /// that still has problems stays held: [`PipelineError::StillInvalid`] lists them.
    pub async fn resume(
        &self,
        id: IntegrationId,
        actor: Actor,
    ) -> Result<ResumeOutcome, PipelineError> {
        let allowed = self
            .authorize(&actor, Action::ResumeIntegration, Some(id))
            .await?;
        self.as_person(id, vec![allowed], async |i, audit| {
            self.resume_leased(i, actor, audit).await
        })
        .await
    }

    async fn resume_leased(
        &self,
        mut i: Integration,
        actor: Actor,
        audit: &mut Vec<AuditEvent>,
    ) -> Result<ResumeOutcome, PipelineError> {
        let id = i.id;
        if i.status != IntegrationStatus::Held {
            return Err(PipelineError::InvalidState {
                id,
                status: i.status,
                reason: "only held integrations are resumed".into(),
            });
        }
        let journal = self.store.journal(id).await?;
        let now = self.clock.now();
        let raw = i.raw.clone().unwrap_or_default();
        match self.check_proposal(&i.source, &raw, &journal) {
            Err(problems) => {
                i.problems = problems.clone();
                i.step = Some("validate".into());
                let mut e = AuditEvent::new(
                    now,
                    actor,
                    "resume",
                    AuditOutcome::Held,
                    format!(
                        "not resumed: {} validation problem(s) remain",
                        problems.len()
                    ),
                );
                e.integration = Some(id);
                e.details = serde_json::json!({"problems": problems});
                audit.push(e);
                let mut change = Change::state(i);
                change.audit = std::mem::take(audit);
                self.store.commit(change).await?;
                Err(PipelineError::StillInvalid { id, problems })
            }
            Ok(_) => {
                let review = self.review_entry(&i, &journal, &actor, "resume", now);
                let reviewed = review.is_some();
                self.resume_state(&mut i, now);
                i.step = Some("resume".into());
                let mut e = AuditEvent::new(
                    now,
                    actor,
                    "resume",
                    AuditOutcome::Ok,
                    if reviewed {
                        "reviewed and resumed"
                    } else {
                        "resumed"
                    },
                );
                e.integration = Some(id);
                audit.push(e);
                let mut change = Change::state(i);
                change.steps.extend(review);
                change.audit = std::mem::take(audit);
                self.store.commit(change).await?;
                Ok(ResumeOutcome {
                    integration: id,
                    status: IntegrationStatus::Pending,
                    reviewed,
                })
            }
        }
    }

    /// Check a manual choice against the automatic evaluation of `demand` and reserve its
    /// capacity atomically (a forced choice without the capacity limit). `Ok(Err(reasons))`
    /// when refused.
    async fn reserve_manual(
        &self,
        state: &Integration,
        order: ServiceOrderId,
        demand: Demand,
        server: &ServerId,
        forced: bool,
    ) -> Result<Result<(Decision, Vec<String>), Vec<String>>, StoreError> {
        let decision = self.decide(demand).await?;
        let objections = objections(&decision, server);
        if !objections.is_empty() && !forced {
            return Ok(Err(objections));
        }
        let info = &self.server(server)?.info;
        if let Some(r) = self.store.reservation(order).await?
            && &r.server != server
        {
            // A reservation left elsewhere for this order (a crash before its journal write).
            let mut change = Change::state(state.clone());
            change.released = vec![order];
            self.store.commit(change).await?;
        }
        let r = Reservation {
            order,
            integration: state.id,
            server: server.clone(),
            lines: demand.lines,
            channels: demand.channels,
            provisioned: false,
        };
        let cap = if forced {
            Load {
                lines: u32::MAX,
                channels: u32::MAX,
            }
        } else {
            Load {
                lines: info.capacity_lines,
                channels: info.capacity_channels,
            }
        };
        if !self.store.reserve(&r, cap).await? {
            return Ok(Err(vec![
                "no room left: capacity was taken meanwhile".into(),
            ]));
        }
        Ok(Ok((decision, objections)))
    }

    /// The `server:i` step for an order a person chose before validation: check and reserve
    /// again now; a choice that no longer holds stops the integration (permanent) so a person
    /// chooses again.
    pub(super) async fn apply_directive(
        &self,
        state: &Integration,
        i: usize,
        order: ServiceOrderId,
        demand: Demand,
        d: ServerDirective,
    ) -> Result<ServerChoice, StepError> {
        let key = format!("server:{i}");
        if self.server(&d.server).is_err() {
            return Err(StepError::Permanent {
                step: key,
                system: None,
                reason: format!(
                    "server {} chosen by {} is no longer configured; choose again and retry",
                    d.server, d.choice.by
                ),
            });
        }
        match self
            .reserve_manual(state, order, demand, &d.server, d.choice.forced)
            .await?
        {
            Err(reasons) => Err(StepError::Permanent {
                step: key,
                system: None,
                reason: format!(
                    "server {} chosen by {} for order {i} no longer passes its checks: {}; choose again (or force) and retry",
                    d.server,
                    d.choice.by,
                    reasons.join("; ")
                ),
            }),
            Ok((decision, overridden)) => Ok(ServerChoice {
                server: d.server.clone(),
                chosen_by: d.choice.by.to_string(),
                manual: Some(ManualChoice {
                    overridden,
                    automatic: decision.chosen.clone(),
                    ..d.choice
                }),
                decision,
            }),
        }
    }

    /// Choose the ServidorNext of one service order by hand (roadmap §1, "Seleção Manual").
    ///
    /// Needs `choose_server`, and `force_server` to force; both decisions are audited. The
    /// server must be active, healthy, serve the order's area code and have room for its
    /// lines and channels — unless `force` gives a written reason, which overrides those
    /// checks (the capacity limit included). The journaled choice records who chose, the
    /// reason, what it overrode and what the automatic choice would have been.
    ///
    /// Allowed until the order's `server:i` step has run. When the proposal is validated,
    /// the capacity is reserved atomically and the step journaled now; before that (a held
    /// or not yet validated proposal), the choice is recorded and the step applies it —
    /// checking and reserving again then.
    pub async fn choose_server(
        &self,
        id: IntegrationId,
        order: usize,
        server: &ServerId,
        actor: Actor,
        force: Option<&str>,
    ) -> Result<ManualChoiceOutcome, PipelineError> {
        let mut audit = vec![
            self.authorize(&actor, Action::ChooseServer, Some(id))
                .await?,
        ];
        // Refusals before the lease record the decisions made so far.
        if force.is_some() {
            match self.authorize(&actor, Action::ForceServer, Some(id)).await {
                Ok(e) => audit.push(e),
                Err(err) => {
                    self.store.append_audit(&audit).await?;
                    return Err(err);
                }
            }
        }
        let reason = match force.map(crate::problem::trim_ascii) {
            Some("") => {
                self.store.append_audit(&audit).await?;
                return Err(PipelineError::BadInput {
                    field: "force".into(),
                    reason: "forcing a server needs a written reason".into(),
                });
            }
            other => other.map(str::to_owned),
        };
        if self.server(server).is_err() {
            self.store.append_audit(&audit).await?;
            return Err(PipelineError::BadInput {
                field: "server".into(),
                reason: format!("{server} is not a configured server"),
            });
        }
        self.as_person(id, audit, async |i, audit| {
            self.choose_leased(i, order, server, actor, reason, audit)
                .await
        })
        .await
    }

    async fn choose_leased(
        &self,
        i: Integration,
        order: usize,
        server: &ServerId,
        actor: Actor,
        reason: Option<String>,
        audit: &mut Vec<AuditEvent>,
    ) -> Result<ManualChoiceOutcome, PipelineError> {
        let id = i.id;
        if matches!(
            i.status,
            IntegrationStatus::Done | IntegrationStatus::Cancelled
        ) {
            return Err(PipelineError::InvalidState {
                id,
                status: i.status,
                reason: "the integration is finished".into(),
            });
        }
        let journal = self.store.journal(id).await?;
        let key = format!("server:{order}");
        if let Some(e) = journal.get(&key) {
            let by = e.result["chosen_by"].as_str().unwrap_or("?");
            let s = e.result["server"].as_str().unwrap_or("?");
            return Err(PipelineError::InvalidState {
                id,
                status: i.status,
                reason: format!(
                    "the server step of order {order} has run: {s} (chosen by {by}); a choice is made before it"
                ),
            });
        }
        let validated: Option<Validated> = match journal.get("validate") {
            Some(e) => Some(
                serde_json::from_value(e.result.clone())
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            ),
            None => None,
        };
        let orders = match &validated {
            Some(v) => v.proposal.orders.clone(),
            None => {
                let raw = i.raw.clone().unwrap_or_default();
                match self.check_proposal(&i.source, &raw, &journal) {
                    Ok(p) => p.into_fields().orders,
                    Err(problems) => {
                        return Err(PipelineError::InvalidState {
                            id,
                            status: i.status,
                            reason: format!(
                                "the proposal does not validate yet ({} problem(s)), so its orders are not known: fix it first",
                                problems.len()
                            ),
                        });
                    }
                }
            }
        };
        let Some(o) = orders.get(order) else {
            return Err(PipelineError::BadInput {
                field: "order".into(),
                reason: format!(
                    "the proposal has {} order(s), numbered from 0",
                    orders.len()
                ),
            });
        };
        let demand = Demand::of(o);
        let now = self.clock.now();
        let forced = reason.is_some();
        let base = ManualChoice {
            by: actor.clone(),
            at: now,
            forced,
            reason,
            overridden: vec![],
            automatic: None,
        };
        let refused = |reasons| PipelineError::ServerRefused {
            id,
            order,
            server: server.clone(),
            reasons,
        };
        let (outcome, change) = match &validated {
            Some(v) => {
                let started = Instant::now();
                let order_id = v.orders[order].order;
                let (decision, overridden) = self
                    .reserve_manual(&i, order_id, demand, server, forced)
                    .await?
                    .map_err(refused)?;
                let manual = ManualChoice {
                    overridden,
                    automatic: decision.chosen.clone(),
                    ..base
                };
                let choice = ServerChoice {
                    server: server.clone(),
                    chosen_by: actor.to_string(),
                    manual: Some(manual.clone()),
                    decision: decision.clone(),
                };
                let result = ServerChoiceWithOrder {
                    order: order_id,
                    choice: choice.clone(),
                };
                let mut change = Change::state(i);
                change.steps.push(StepEntry {
                    key: key.clone(),
                    result: serde_json::to_value(&result)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    at: now,
                    duration_ms: started.elapsed().as_millis() as u64,
                });
                let outcome = ManualChoiceOutcome {
                    integration: id,
                    order,
                    server: server.clone(),
                    applied: true,
                    choice: manual,
                    decision,
                };
                (outcome, change)
            }
            None => {
                let decision = self.decide(demand).await?;
                let overridden = objections(&decision, server);
                if !overridden.is_empty() && !forced {
                    return Err(refused(overridden));
                }
                let manual = ManualChoice {
                    overridden,
                    automatic: decision.chosen.clone(),
                    ..base
                };
                let directive = ServerDirective {
                    server: server.clone(),
                    choice: manual.clone(),
                };
                let prefix = format!("manual_server:{order}:");
                let mut change = Change::state(i);
                change.steps.push(StepEntry {
                    key: format!("{prefix}{}", next_seq(&journal, &prefix)),
                    result: serde_json::to_value(&directive)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    at: now,
                    duration_ms: 0,
                });
                let outcome = ManualChoiceOutcome {
                    integration: id,
                    order,
                    server: server.clone(),
                    applied: false,
                    choice: manual,
                    decision,
                };
                (outcome, change)
            }
        };
        let shown = ServerChoice {
            server: server.clone(),
            chosen_by: actor.to_string(),
            decision: outcome.decision.clone(),
            manual: Some(outcome.choice.clone()),
        };
        let mut e = AuditEvent::new(
            now,
            actor,
            "server.choose",
            AuditOutcome::Ok,
            format!(
                "order {order}: {}{}",
                summary(&shown),
                if outcome.applied {
                    ""
                } else {
                    " (applies at the server step)"
                }
            ),
        );
        e.integration = Some(id);
        e.details = serde_json::json!({
            "order": order,
            "server": server,
            "applied": outcome.applied,
            "choice": outcome.choice,
            "decision": outcome.decision,
        });
        let mut change = change;
        change.audit = std::mem::take(audit);
        change.audit.push(e);
        self.store.commit(change).await?;
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::covers;

    #[test]
    fn an_edit_covers_its_field_its_parts_and_its_list() {
        assert!(covers("orders[0].dids", "orders[0].dids[1]"));
        assert!(covers("orders[0].dids[1]", "orders[0].dids"));
        assert!(covers("customer.address.cep", "customer.address.cep"));
        assert!(!covers("orders[0].dids", "orders[1].dids[0]"));
        assert!(!covers("customer.emails", "customer.emails_extra"));
        assert!(!covers("orders[1].dids", "orders[10].dids"));
    }
}
