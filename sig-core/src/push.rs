//! SIG → DocSales (roadmap §1, "Envio de Dados"): SIG as a source of data for DocSales —
//! a customer's registration pushed to DocSales, and a sales document created outside the
//! standard proposal flow (a new contract for the services SIG holds).
//!
//! - **The [`CrmPush`] port**: what SIG needs from DocSales for it; `sig-docsales` implements
//!   it on its client (both calls are `[inferred]` there: DocSales documents no customer
//!   write, and not the path of its document creation).
//! - **Idempotent, keyed by SIG's ids**: the DocSales customer record is keyed by the SIG
//!   customer id (its `code`), so a repeat updates it; the document's code is
//!   [`document_code`]`(customer, template)`, and the port looks a document with that code up
//!   before creating one, so a repeat — or a retry after a lost answer — finds it instead of
//!   creating a second one. One document per customer and template.
//! - **Audited**: the authorization decision (`push_to_docsales`, allowed or denied), and
//!   each call as `docsales.push_customer` / `docsales.create_document`, with its outcome and
//!   the DocSales ids (never personal data).
//! - **Whose data**: the customer as SIG last validated it (its most recent integration that
//!   passed validation), and the service orders of its finished integrations.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::authz::{Action, Denied, Policy};
use crate::config::{Catalog, Profile};
use crate::domain::{Customer, ServiceOrder};
use crate::ids::{CustomerId, IntegrationId};
use crate::pipeline::{AuthorizeError, Pipeline, PipelineError, Validated};
use crate::ports::{System, UpstreamError};
use crate::store::{
    Actor, AuditEvent, AuditOutcome, IntegrationFilter, IntegrationStatus, StoreError,
};

/// A record SIG wrote to (or found in) DocSales.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushedRecord {
    /// DocSales' internal id, when it answered one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// The record's code (SIG's customer id for a customer, [`document_code`] for a
    /// document).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Whether this call created it: `Some(false)` when an existing record was found or
    /// updated, `None` when DocSales does not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<bool>,
}

/// A document to create for a customer.
#[derive(Debug, Clone, Copy)]
pub struct DocumentRequest<'a> {
    /// The SIG customer (the DocSales customer record's code).
    pub customer: CustomerId,
    /// The document's code ([`document_code`]): what a repeat looks up.
    pub code: &'a str,
    /// The DocSales template (an id or name from the account's registration data).
    pub template: &'a str,
    /// The services the document lists.
    pub orders: &'a [ServiceOrder],
    /// The catalog (plan names, and the custom fields for area codes and DIDs).
    pub catalog: &'a Catalog,
}

/// The SIG → DocSales port.
#[async_trait]
pub trait CrmPush: Send + Sync {
    /// The DocSales account written to.
    fn account(&self) -> &str;

    /// Create or update the customer's record, keyed by SIG's customer id.
    async fn push_customer(
        &self,
        id: CustomerId,
        customer: &Customer,
    ) -> Result<PushedRecord, UpstreamError>;

    /// Ensure one document with `request.code` exists for the customer: found by its code
    /// first, created only when absent, and looked up again (never re-sent blindly) after an
    /// answer that was lost.
    async fn ensure_document(
        &self,
        request: &DocumentRequest<'_>,
    ) -> Result<PushedRecord, UpstreamError>;
}

/// The code of the document SIG creates for a customer from a template: one per customer
/// and template (`sig-<customer id>-<template>`).
pub fn document_code(customer: CustomerId, template: &str) -> String {
    format!("sig-{customer}-{}", template.trim())
}

/// What a push did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushOutcome {
    /// The SIG customer.
    pub customer: CustomerId,
    /// The DocSales account.
    pub account: String,
    /// The customer record in DocSales.
    pub docsales_customer: PushedRecord,
    /// The document, when one was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<PushedRecord>,
    /// The integration whose validated data was pushed.
    pub from_integration: IntegrationId,
    /// How many service orders the document lists.
    pub orders: usize,
}

/// Why a push was not made.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The actor may not push to DocSales (audited).
    #[error(transparent)]
    Denied(#[from] Denied),
    /// SIG has no validated data for this customer.
    #[error("customer {0} is unknown to SIG or has no validated data yet")]
    UnknownCustomer(CustomerId),
    /// The template is blank.
    #[error("a document needs a template")]
    NoTemplate,
    /// DocSales refused or failed (audited).
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// The pipeline could not go on (store).
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
}

impl From<StoreError> for PushError {
    fn from(e: StoreError) -> Self {
        PushError::Pipeline(PipelineError::Store(e))
    }
}

/// Push a SIG customer's data to DocSales through `crm`, and create a document from
/// `template` if one is given; allowed only to the profiles the policy grants
/// `push_to_docsales`.
pub async fn push_to_docsales(
    pipeline: &Pipeline,
    policy: &Policy,
    actor: &Actor,
    profile: Option<Profile>,
    crm: &dyn CrmPush,
    customer: CustomerId,
    template: Option<&str>,
) -> Result<PushOutcome, PushError> {
    match pipeline
        .authorize_audited(policy, actor, profile, Action::PushToDocsales)
        .await
    {
        Ok(()) => {}
        Err(AuthorizeError::Denied(d)) => return Err(d.into()),
        Err(AuthorizeError::Store(e)) => return Err(e.into()),
    }
    let template = match template.map(str::trim) {
        Some("") => return Err(PushError::NoTemplate),
        t => t,
    };
    let store = pipeline.store();
    let integrations = store
        .list(&IntegrationFilter {
            customer: Some(customer),
            ..Default::default()
        })
        .await?;
    // The customer as last validated, and the orders of everything finished.
    let mut latest: Option<(IntegrationId, Customer)> = None;
    let mut orders = Vec::new();
    for i in &integrations {
        let journal = store.journal(i.id).await?;
        let Some(v) = journal
            .get("validate")
            .and_then(|e| serde_json::from_value::<Validated>(e.result.clone()).ok())
        else {
            continue;
        };
        if i.status == IntegrationStatus::Done {
            orders.extend(v.proposal.orders.iter().cloned());
        }
        // `list` is oldest first: the last one wins.
        latest = Some((i.id, v.proposal.into_fields().customer));
    }
    let Some((from_integration, data)) = latest else {
        return Err(PushError::UnknownCustomer(customer));
    };

    let started = std::time::Instant::now();
    let pushed = crm.push_customer(customer, &data).await;
    audit_call(
        pipeline,
        actor,
        "push_customer",
        customer,
        started,
        pushed.as_ref(),
    )
    .await?;
    let docsales_customer = pushed?;

    let document = match template {
        None => None,
        Some(template) => {
            let code = document_code(customer, template);
            let started = std::time::Instant::now();
            let doc = crm
                .ensure_document(&DocumentRequest {
                    customer,
                    code: &code,
                    template,
                    orders: &orders,
                    catalog: pipeline.catalog(),
                })
                .await;
            audit_call(
                pipeline,
                actor,
                "create_document",
                customer,
                started,
                doc.as_ref(),
            )
            .await?;
            Some(doc?)
        }
    };
    Ok(PushOutcome {
        customer,
        account: crm.account().to_owned(),
        docsales_customer,
        document,
        from_integration,
        orders: orders.len(),
    })
}

async fn audit_call(
    pipeline: &Pipeline,
    actor: &Actor,
    call: &str,
    customer: CustomerId,
    started: std::time::Instant,
    result: Result<&PushedRecord, &UpstreamError>,
) -> Result<(), StoreError> {
    let (outcome, summary, details) = match result {
        Ok(r) => (
            AuditOutcome::Ok,
            format!(
                "DocSales {call} for customer {customer}: {}{}",
                r.id.map_or("no id".to_owned(), |id| format!("id {id}")),
                match r.created {
                    Some(true) => " (created)",
                    Some(false) => " (existing)",
                    None => "",
                }
            ),
            serde_json::json!({"customer": customer, "record": r}),
        ),
        Err(e) => (
            AuditOutcome::Error,
            format!("DocSales {call} for customer {customer} failed: {e}"),
            serde_json::json!({
                "customer": customer, "kind": e.kind, "status": e.status,
                "maybe_applied": e.maybe_applied,
            }),
        ),
    };
    let mut e = AuditEvent::new(
        pipeline.current_time(),
        actor.clone(),
        format!("docsales.{call}"),
        outcome,
        summary,
    );
    e.system = Some(System::DocSales);
    e.call = Some(call.to_owned());
    e.duration_ms = Some(started.elapsed().as_millis() as u64);
    e.details = details;
    pipeline.store().append_audit(&[e]).await
}
