//! The fiscal policy of a company (`off`, `warn`, `block`) and its evaluation. The rules live
//! in [`sig_core::fiscal`] (the pipeline's `fiscal` step applies them); these are the same
//! functions over this crate's records.

use sig_core::fiscal::{self, FiscalPolicy, FiscalVerdict};

use crate::model::{CompanyRecord, Lookup};

/// [`sig_core::fiscal::evaluate`] over a [`CompanyRecord`]: `off` passes; otherwise the
/// registration status and the legal name give `warn` or `block`, or pass when both are
/// right.
pub fn evaluate(
    policy: FiscalPolicy,
    proposal_legal_name: &str,
    record: &CompanyRecord,
) -> FiscalVerdict {
    fiscal::evaluate(policy, proposal_legal_name, &record.to_registered())
}

/// [`sig_core::fiscal::evaluate_answer`] over a lookup's answer: a CNPJ nobody registers is
/// a [`Finding::NotRegistered`](sig_core::fiscal::Finding::NotRegistered).
pub fn evaluate_lookup(
    policy: FiscalPolicy,
    proposal_legal_name: &str,
    lookup: &Lookup<CompanyRecord>,
) -> FiscalVerdict {
    fiscal::evaluate_answer(
        policy,
        proposal_legal_name,
        &lookup.to_answer(CompanyRecord::to_registered),
    )
}
