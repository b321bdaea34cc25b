//! Customers registered directly in SIG (roadmap §1, "Cadastro Direto"): a customer with
//! optional service orders, without a DocSales proposal, through the same pipeline.
//!
//! - **Validated like a proposal**: the same rules ([`RawProposal::validate_registration`]),
//!   every problem reported at once with its domain field path; nothing is stored for an
//!   invalid registration.
//! - **Source key** (DESIGN.md, "Identity and idempotency"): (`sig`, SIG customer id) —
//!   [`SourceKey::direct`]. The customer id is found by tax id in the company, or minted, in the
//!   same store transaction that stores the integration ([`Store::register_direct`]), so
//!   registering the same customer again (same CPF/CNPJ in the company) finds the first
//!   registration instead of creating a second customer or integration, whatever else differs,
//!   and a crash never leaves half a registration.
//! - **A customer SIG already knows from a DocSales proposal is not registered again**
//!   ([`RegisterOutcome::KnownElsewhere`]): its upstream records exist already, and registering
//!   its orders a second time could bill them twice.
//! - **Authorization**: the action `register_customer`, checked against the policy and audited
//!   allowed or denied.
//!
//! [`Store::register_direct`]: crate::store::Store::register_direct

use serde::{Deserialize, Serialize};

use super::{Pipeline, PipelineError};
use crate::authz::{Action, Denied, Policy};
use crate::config::Profile;
use crate::ids::{CompanyId, CustomerId, IntegrationId};
use crate::ports::{CustomerLookup, ErpCustomer, SourceKey, UpstreamError};
use crate::problem::Problems;
use crate::raw::{RawCustomer, RawOrder, RawProposal};
use crate::store::{
    Actor, AuditEvent, AuditOutcome, DirectRegistration, Integration, IntegrationStatus, StoreError,
};
use crate::taxid::TaxId;

/// A customer to register directly: the customer and its service orders (none or more), in
/// the same unvalidated shape a proposal has (`sig customers register --file`, Python, a
/// migrated CSV row).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawRegistration {
    /// The customer.
    pub customer: RawCustomer,
    /// Its service orders (optional).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub orders: Vec<RawOrder>,
}

impl RawRegistration {
    /// The proposal shape the pipeline carries for it, under the SIG customer id.
    pub fn to_raw_proposal(&self, customer: CustomerId) -> RawProposal {
        RawProposal {
            id: Some(customer.to_string()),
            customer: self.customer.clone(),
            orders: self.orders.clone(),
            ..RawProposal::default()
        }
    }

    /// Validate against the catalog (every problem at once); on success, the customer's tax
    /// id, which keys the registration.
    pub fn validate(&self, catalog: &crate::config::Catalog) -> Result<TaxId, Problems> {
        // The id is a placeholder: the SIG customer id is only known once the store has
        // looked the tax id up.
        let raw = RawProposal {
            id: Some("registration".into()),
            ..self.to_raw_proposal(CustomerId::new())
        };
        raw.validate_registration(catalog)
            .map(|p| p.customer.tax_id)
    }
}

/// What a direct registration did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum RegisterOutcome {
    /// A new SIG customer and its integration (pending: a worker runs it).
    Created {
        /// The SIG customer.
        customer: CustomerId,
        /// Its integration.
        integration: IntegrationId,
    },
    /// The customer was registered before: its integration, unchanged.
    Existing {
        /// The SIG customer.
        customer: CustomerId,
        /// Its integration.
        integration: IntegrationId,
        /// Where that integration stands.
        status: IntegrationStatus,
    },
    /// SIG already knows this CPF/CNPJ from another source (a DocSales proposal): nothing
    /// was registered.
    KnownElsewhere {
        /// The SIG customer.
        customer: CustomerId,
    },
}

impl RegisterOutcome {
    /// The SIG customer.
    pub fn customer(&self) -> CustomerId {
        match self {
            RegisterOutcome::Created { customer, .. }
            | RegisterOutcome::Existing { customer, .. }
            | RegisterOutcome::KnownElsewhere { customer } => *customer,
        }
    }

    /// The integration, when there is one for this registration.
    pub fn integration(&self) -> Option<IntegrationId> {
        match self {
            RegisterOutcome::Created { integration, .. }
            | RegisterOutcome::Existing { integration, .. } => Some(*integration),
            RegisterOutcome::KnownElsewhere { .. } => None,
        }
    }
}

/// Why a registration was not made.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// The actor may not register customers (audited).
    #[error(transparent)]
    Denied(#[from] Denied),
    /// The registration is invalid; every problem is listed.
    #[error("the registration is invalid: {0}")]
    Invalid(Problems),
    /// The pipeline could not go on (store, unknown company).
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
}

impl From<StoreError> for RegisterError {
    fn from(e: StoreError) -> Self {
        RegisterError::Pipeline(PipelineError::Store(e))
    }
}

impl Pipeline {
    /// Whether the company is configured.
    pub fn has_company(&self, id: &CompanyId) -> bool {
        self.companies.contains_key(id)
    }

    /// Now, by the pipeline's clock.
    pub fn current_time(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// Decide whether `actor` (with its user's `profile`) may do `action`, write the decision
    /// to the audit, and return the refusal if denied.
    pub async fn authorize_audited(
        &self,
        policy: &Policy,
        actor: &Actor,
        profile: Option<Profile>,
        action: Action,
    ) -> Result<(), AuthorizeError> {
        let decision = policy.decide(actor, profile, action);
        self.store
            .append_audit(&[decision.audit_event(self.clock.now(), None)])
            .await?;
        decision.into_result().map_err(AuthorizeError::Denied)
    }

    /// Register a customer directly in SIG, with optional service orders: checked against
    /// the policy (`register_customer`), validated (every problem at once), then stored as
    /// an integration with source key (`sig`, SIG customer id) that a worker runs through
    /// the same steps as a proposal. Idempotent by the customer's tax id in the company.
    pub async fn register_customer(
        &self,
        policy: &Policy,
        actor: &Actor,
        profile: Option<Profile>,
        company: &CompanyId,
        registration: &RawRegistration,
    ) -> Result<RegisterOutcome, RegisterError> {
        if !self.companies.contains_key(company) {
            return Err(PipelineError::UnknownCompany(company.clone()).into());
        }
        match self
            .authorize_audited(policy, actor, profile, Action::RegisterCustomer)
            .await
        {
            Ok(()) => {}
            Err(AuthorizeError::Denied(d)) => return Err(d.into()),
            Err(AuthorizeError::Store(e)) => return Err(e.into()),
        }
        let tax_id = registration
            .validate(&self.catalog)
            .map_err(RegisterError::Invalid)?;
        let details = serde_json::json!({"orders": registration.orders.len()});
        Ok(self
            .register_valid(company, &tax_id, registration, actor, "register", details)
            .await?)
    }

    /// Store an already validated registration (the caller checked the policy): the
    /// registration's intake event is `action`, with `details` (ids and counts only, never
    /// personal data).
    pub(crate) async fn register_valid(
        &self,
        company: &CompanyId,
        tax_id: &TaxId,
        registration: &RawRegistration,
        actor: &Actor,
        action: &str,
        details: serde_json::Value,
    ) -> Result<RegisterOutcome, StoreError> {
        let candidate = CustomerId::new();
        let now = self.clock.now();
        let mut new = Integration::new(
            company.clone(),
            SourceKey::direct(candidate),
            actor.clone(),
            now,
        );
        new.raw = Some(registration.to_raw_proposal(candidate));
        new.customer = Some(candidate);
        let mut e = AuditEvent::new(
            now,
            actor.clone(),
            action,
            AuditOutcome::Ok,
            format!("customer {candidate} registered directly in SIG"),
        );
        e.details = details;
        Ok(
            match self
                .store
                .register_direct(company, tax_id, candidate, new, e)
                .await?
            {
                DirectRegistration::Created(i) => RegisterOutcome::Created {
                    customer: candidate,
                    integration: i.id,
                },
                DirectRegistration::Existing(i) => RegisterOutcome::Existing {
                    customer: i.customer.unwrap_or(candidate),
                    integration: i.id,
                    status: i.status,
                },
                DirectRegistration::KnownElsewhere(customer) => {
                    RegisterOutcome::KnownElsewhere { customer }
                }
            },
        )
    }

    /// Look a CPF/CNPJ up in the company's ERP (Omie), without changing anything there.
    pub async fn find_in_erp(
        &self,
        company: &CompanyId,
        tax_id: &TaxId,
    ) -> Result<Option<ErpCustomer>, FindError> {
        let handle = self
            .companies
            .get(company)
            .ok_or_else(|| PipelineError::UnknownCompany(company.clone()))?;
        Ok(handle
            .erp
            .find_customer(&CustomerLookup::TaxId(*tax_id))
            .await?)
    }
}

/// Why [`Pipeline::authorize_audited`] refused or could not decide.
#[derive(Debug, thiserror::Error)]
pub enum AuthorizeError {
    /// Denied (the decision is audited).
    #[error(transparent)]
    Denied(Denied),
    /// The decision could not be audited, so nothing was done.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why an ERP look-up failed.
#[derive(Debug, thiserror::Error)]
pub enum FindError {
    /// The company is not configured.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// The ERP call failed.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::{Config, MapSecrets};

    #[test]
    fn a_docsales_account_may_not_take_the_direct_source_id() {
        let toml = r#"
[store]
sqlite = "sig.sqlite"

[accounts.omie.acme]
app_key = { env = "K" }
app_secret = { env = "K" }

[accounts.docsales.sig]
token = { env = "K" }
webhook_secret = { env = "K" }

[[companies]]
id = "acme"
name = "ACME"
omie_account = "acme"
docsales_account = "sig"
"#;
        let secrets = MapSecrets([("K".to_owned(), "v-Zq1".to_owned())].into());
        let e = Config::from_toml(toml, Path::new("."), &secrets).unwrap_err();
        assert!(
            e.problems()
                .iter()
                .any(|p| p.field == "accounts.docsales.sig" && p.message.contains("reserved")),
            "{e}"
        );
    }
}
