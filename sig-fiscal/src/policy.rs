//! The fiscal policy of a company (`off`, `warn`, `block`) and its evaluation: pure
//! functions the pipeline step calls with the proposal's legal name and the lookup's answer.
//!
//! Findings: the registration status is not ATIVA; the legal name does not match the
//! proposal's ([`crate::names`]); the CNPJ is not registered at all. Under `warn` the
//! findings are returned for the audit and the integration goes on; under `block` any
//! finding stops it; under `off` nothing is checked (and no lookup needs to be made).

use serde::{Deserialize, Serialize};

use crate::model::{CompanyRecord, Lookup, Provider, RegistrationStatus};
use crate::names::{NameComparison, compare_names};

/// What to do with a company's fiscal findings (configured per company).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FiscalPolicy {
    /// No check.
    #[default]
    Off,
    /// Check, record the findings in the audit, go on.
    Warn,
    /// Check; any finding holds the integration.
    Block,
}

/// One thing the check found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "finding", rename_all = "snake_case")]
pub enum Finding {
    /// The registration status is not ATIVA.
    NotActive {
        /// The status found.
        status: RegistrationStatus,
        /// The provider's code, when given.
        code: Option<i64>,
        /// The provider's text, when given.
        description: Option<String>,
        /// Which provider answered.
        source: Provider,
    },
    /// The proposal's legal name does not match the registered one.
    NameMismatch {
        /// The name on the proposal.
        proposal: String,
        /// The registered legal name.
        registered: String,
        /// The comparison (words, containment, Jaccard).
        comparison: NameComparison,
        /// Whether the proposal's name matches the registered *trade* name instead (a hint
        /// for the person fixing it; still a mismatch).
        matches_trade_name: bool,
        /// Which provider answered.
        source: Provider,
    },
    /// No company is registered under the CNPJ.
    NotRegistered {
        /// Which provider said so.
        source: Provider,
    },
}

impl Finding {
    /// A one-line English explanation for people (audit, held-integration reason).
    pub fn describe(&self) -> String {
        match self {
            Finding::NotActive {
                status,
                description,
                source,
                ..
            } => format!(
                "registration status is {} ({}), not ATIVA, according to {source}",
                status.as_receita_str(),
                description.as_deref().unwrap_or("no description")
            ),
            Finding::NameMismatch {
                registered,
                comparison,
                matches_trade_name,
                source,
                ..
            } => format!(
                "legal name does not match the registered `{registered}` according to {source} \
                 (containment {:.2}, Jaccard {:.2}){}",
                comparison.containment,
                comparison.jaccard,
                if *matches_trade_name {
                    "; it matches the trade name"
                } else {
                    ""
                }
            ),
            Finding::NotRegistered { source } => {
                format!("no company is registered under this CNPJ according to {source}")
            }
        }
    }
}

/// The outcome of the check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "verdict", content = "findings", rename_all = "snake_case")]
pub enum FiscalVerdict {
    /// Nothing found (or the policy is off): go on.
    Pass,
    /// Findings to record in the audit; go on.
    Warn(Vec<Finding>),
    /// Findings that hold the integration.
    Block(Vec<Finding>),
}

impl FiscalVerdict {
    /// Whether the integration may go on.
    pub fn allows(&self) -> bool {
        !matches!(self, FiscalVerdict::Block(_))
    }

    /// The findings (empty for [`FiscalVerdict::Pass`]).
    pub fn findings(&self) -> &[Finding] {
        match self {
            FiscalVerdict::Pass => &[],
            FiscalVerdict::Warn(f) | FiscalVerdict::Block(f) => f,
        }
    }
}

/// The findings about a registered company, whatever the policy.
pub fn findings(proposal_legal_name: &str, record: &CompanyRecord) -> Vec<Finding> {
    let mut found = Vec::new();
    if record.registration.status != RegistrationStatus::Active {
        found.push(Finding::NotActive {
            status: record.registration.status,
            code: record.registration.code,
            description: record.registration.description.clone(),
            source: record.source,
        });
    }
    let comparison = compare_names(proposal_legal_name, &record.legal_name);
    if !comparison.is_match {
        let matches_trade_name = record
            .trade_name
            .as_deref()
            .is_some_and(|t| compare_names(proposal_legal_name, t).is_match);
        found.push(Finding::NameMismatch {
            proposal: proposal_legal_name.to_owned(),
            registered: record.legal_name.clone(),
            comparison,
            matches_trade_name,
            source: record.source,
        });
    }
    found
}

fn verdict(policy: FiscalPolicy, found: Vec<Finding>) -> FiscalVerdict {
    match policy {
        FiscalPolicy::Off => FiscalVerdict::Pass,
        _ if found.is_empty() => FiscalVerdict::Pass,
        FiscalPolicy::Warn => FiscalVerdict::Warn(found),
        FiscalPolicy::Block => FiscalVerdict::Block(found),
    }
}

/// Evaluates a registered company against the proposal under the company's policy: `off`
/// passes; otherwise the [`findings`] give `warn` or `block`, or pass when there are none.
pub fn evaluate(
    policy: FiscalPolicy,
    proposal_legal_name: &str,
    record: &CompanyRecord,
) -> FiscalVerdict {
    if policy == FiscalPolicy::Off {
        return FiscalVerdict::Pass;
    }
    verdict(policy, findings(proposal_legal_name, record))
}

/// [`evaluate`] over a lookup's answer: a CNPJ nobody registers is a
/// [`Finding::NotRegistered`].
pub fn evaluate_lookup(
    policy: FiscalPolicy,
    proposal_legal_name: &str,
    lookup: &Lookup<CompanyRecord>,
) -> FiscalVerdict {
    match lookup {
        Lookup::Found(record) => evaluate(policy, proposal_legal_name, record),
        Lookup::NotFound { provider } => {
            verdict(policy, vec![Finding::NotRegistered { source: *provider }])
        }
    }
}
