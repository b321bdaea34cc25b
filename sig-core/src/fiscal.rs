//! Fiscal checks of a customer against the Receita Federal's registry (roadmap §3): the
//! records the [`FiscalLookup`](crate::ports::FiscalLookup) port answers with, a company's
//! [`FiscalPolicy`], and the pure rules the pipeline's `fiscal` step applies.
//!
//! - **Records**: [`RegisteredCompany`] (a CNPJ's registration status, legal and trade name,
//!   registered address) and [`RegisteredCep`] (a CEP's street, district, city, UF), each
//!   naming the provider that answered and its own name of each address field, for
//!   provenance; [`FiscalAnswer`] tells "found" from "not found" (an answer, not a failure).
//!   The lookup client (`sig-fiscal`) maps every provider's wire format to them.
//! - **Decision** ([`evaluate`], [`evaluate_answer`]): a company is found wanting when its
//!   registration status is not ATIVA, when its registered legal name does not match the
//!   proposal's ([`names`]: normalised case, accents, punctuation and company-type suffixes,
//!   then a token-set similarity with documented thresholds), or when nothing is registered
//!   under the CNPJ. Under `warn` the [`Finding`]s go to the audit and the integration goes
//!   on; under `block` they hold it, each as a problem a person can act on
//!   ([`Finding::problem`]); under `off` nothing is checked.
//! - **Enrichment** ([`enrich()`]): missing address fields filled from the records, each
//!   with its [`Provenance`].

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::address::{Cep, Uf};
use crate::problem::{Code, Invalid, Problem};
use crate::taxid::Cnpj;

pub mod enrich;
pub mod names;

pub use enrich::{AddressSource, Enrichment, Provenance, enrich};
pub use names::{NameComparison, compare_names, names_match};

/// The CNPJ providers `sig.toml` may list (`[fiscal] cnpj_providers`), in the default order;
/// `cnpja` needs an API key and is used by default only when one is configured.
pub const CNPJ_PROVIDERS: [&str; 4] = ["brasil_api", "minha_receita", "receita_ws", "cnpja"];

/// The CEP providers `sig.toml` may list (`[fiscal] cep_providers`), in the default order.
pub const CEP_PROVIDERS: [&str; 2] = ["via_cep", "brasil_api_cep"];

/// What a company does with its customers' fiscal findings (`fiscal` in `[[companies]]`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FiscalPolicy {
    /// No check and no lookup (the default).
    #[default]
    Off,
    /// Check, record the findings in the audit, go on.
    Warn,
    /// Check; any finding holds the integration for a person.
    Block,
}

impl FiscalPolicy {
    /// `off`, `warn` or `block`.
    pub fn as_str(self) -> &'static str {
        match self {
            FiscalPolicy::Off => "off",
            FiscalPolicy::Warn => "warn",
            FiscalPolicy::Block => "block",
        }
    }
}

impl fmt::Display for FiscalPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A company's registration status at the Receita Federal (situação cadastral).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationStatus {
    /// 1 — NULA.
    Null,
    /// 2 — ATIVA: the only status a customer may have.
    Active,
    /// 3 — SUSPENSA.
    Suspended,
    /// 4 — INAPTA.
    Unfit,
    /// 8 — BAIXADA (closed).
    Closed,
    /// A code or text SIG does not know; the provider's own code and text are kept with it
    /// ([`RegisteredCompany::status_code`], [`RegisteredCompany::status_text`]).
    Unknown,
}

impl RegistrationStatus {
    /// From the Receita's numeric code (`situacao_cadastral`: 1, 2, 3, 4, 8).
    pub fn from_code(code: i64) -> Self {
        match code {
            1 => RegistrationStatus::Null,
            2 => RegistrationStatus::Active,
            3 => RegistrationStatus::Suspended,
            4 => RegistrationStatus::Unfit,
            8 => RegistrationStatus::Closed,
            _ => RegistrationStatus::Unknown,
        }
    }

    /// From the Receita's text (`ATIVA`, `Baixada`; case and accents ignored).
    pub fn from_text(text: &str) -> Self {
        match names::fold(text).trim() {
            "nula" => RegistrationStatus::Null,
            "ativa" => RegistrationStatus::Active,
            "suspensa" => RegistrationStatus::Suspended,
            "inapta" => RegistrationStatus::Unfit,
            "baixada" => RegistrationStatus::Closed,
            _ => RegistrationStatus::Unknown,
        }
    }

    /// The Receita's word (`ATIVA`), `DESCONHECIDA` for an unknown one.
    pub fn as_receita_str(self) -> &'static str {
        match self {
            RegistrationStatus::Null => "NULA",
            RegistrationStatus::Active => "ATIVA",
            RegistrationStatus::Suspended => "SUSPENSA",
            RegistrationStatus::Unfit => "INAPTA",
            RegistrationStatus::Closed => "BAIXADA",
            RegistrationStatus::Unknown => "DESCONHECIDA",
        }
    }
}

/// The fields of a postal address, as enrichment and provenance name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AddressField {
    /// Street (logradouro).
    Street,
    /// Street number.
    Number,
    /// Complement.
    Complement,
    /// District (bairro).
    District,
    /// City (município).
    City,
    /// Federative unit.
    Uf,
    /// Postal code.
    Cep,
}

impl AddressField {
    /// All fields, in address order.
    pub const ALL: [AddressField; 7] = [
        AddressField::Street,
        AddressField::Number,
        AddressField::Complement,
        AddressField::District,
        AddressField::City,
        AddressField::Uf,
        AddressField::Cep,
    ];

    /// The domain field path (`customer.address.street`), as validation problems name it.
    pub fn domain_path(self) -> &'static str {
        match self {
            AddressField::Street => "customer.address.street",
            AddressField::Number => "customer.address.number",
            AddressField::Complement => "customer.address.complement",
            AddressField::District => "customer.address.district",
            AddressField::City => "customer.address.city",
            AddressField::Uf => "customer.address.uf",
            AddressField::Cep => "customer.address.cep",
        }
    }
}

/// A registered address; every field may be missing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredAddress {
    /// Street, with its type (`RUA DAS FLORES`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street: Option<String>,
    /// Number (`S/N` when none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// Complement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complement: Option<String>,
    /// District (bairro).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub district: Option<String>,
    /// City (município).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// Federative unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uf: Option<Uf>,
    /// Postal code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cep: Option<Cep>,
}

impl RegisteredAddress {
    /// The value of one field, as text (`SP`, `01001000`).
    pub fn value(&self, field: AddressField) -> Option<String> {
        match field {
            AddressField::Street => self.street.clone(),
            AddressField::Number => self.number.clone(),
            AddressField::Complement => self.complement.clone(),
            AddressField::District => self.district.clone(),
            AddressField::City => self.city.clone(),
            AddressField::Uf => self.uf.map(|u| u.as_str().to_owned()),
            AddressField::Cep => self.cep.map(|c| c.as_str().to_owned()),
        }
    }
}

/// A company as the registry has it, whichever provider answered: what the `fiscal` step
/// needs of a CNPJ lookup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredCompany {
    /// The CNPJ looked up.
    pub cnpj: Cnpj,
    /// The provider that answered (`brasil_api`).
    pub source: String,
    /// Legal name (razão social).
    pub legal_name: String,
    /// Trade name (nome fantasia).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trade_name: Option<String>,
    /// Registration status.
    pub status: RegistrationStatus,
    /// The provider's code of the status, when it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<i64>,
    /// The provider's text of the status (`ATIVA`, `Baixada`), when it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_text: Option<String>,
    /// Registered address.
    #[serde(default)]
    pub address: RegisteredAddress,
    /// The provider's own name of each address field it has (`district` → `bairro`), for
    /// provenance records.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub source_fields: BTreeMap<AddressField, String>,
}

impl RegisteredCompany {
    /// Whether the registration status is ATIVA.
    pub fn is_active(&self) -> bool {
        self.status == RegistrationStatus::Active
    }
}

/// An address as a CEP lookup gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredCep {
    /// The CEP looked up.
    pub cep: Cep,
    /// The provider that answered (`via_cep`).
    pub source: String,
    /// Street (absent for a city-wide CEP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street: Option<String>,
    /// District.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub district: Option<String>,
    /// City.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// Federative unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uf: Option<Uf>,
    /// The provider's own name of each address field it has (`street` → `logradouro`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub source_fields: BTreeMap<AddressField, String>,
}

/// The answer of a lookup: "not found" is an answer, not a failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum FiscalAnswer<T> {
    /// The registry knows the key.
    Found(T),
    /// The registry answered that the key does not exist.
    NotFound {
        /// The provider that said so.
        source: String,
    },
}

impl<T> FiscalAnswer<T> {
    /// The record by reference, if found.
    pub fn as_found(&self) -> Option<&T> {
        match self {
            FiscalAnswer::Found(t) => Some(t),
            FiscalAnswer::NotFound { .. } => None,
        }
    }
}

impl AddressSource for RegisteredCompany {
    fn provider(&self) -> &str {
        &self.source
    }

    fn value(&self, field: AddressField) -> Option<String> {
        self.address.value(field)
    }

    fn source_field(&self, field: AddressField) -> Option<&str> {
        self.source_fields.get(&field).map(String::as_str)
    }
}

impl AddressSource for RegisteredCep {
    fn provider(&self) -> &str {
        &self.source
    }

    fn value(&self, field: AddressField) -> Option<String> {
        match field {
            AddressField::Street => self.street.clone(),
            // A CEP has no street number, and its "complement" is a range of numbers, not an
            // address complement.
            AddressField::Number | AddressField::Complement => None,
            AddressField::District => self.district.clone(),
            AddressField::City => self.city.clone(),
            AddressField::Uf => self.uf.map(|u| u.as_str().to_owned()),
            AddressField::Cep => Some(self.cep.as_str().to_owned()),
        }
    }

    fn source_field(&self, field: AddressField) -> Option<&str> {
        self.source_fields.get(&field).map(String::as_str)
    }
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
        source: String,
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
        source: String,
    },
    /// No company is registered under the CNPJ.
    NotRegistered {
        /// Which provider said so.
        source: String,
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

    /// The finding as a problem on the proposal, for a person to act on while it is held:
    /// `customer.tax_id` (`fiscal_inactive`, `fiscal_not_registered`) or
    /// `customer.legal_name` (`fiscal_name_mismatch`), the message saying what the registry
    /// has.
    pub fn problem(&self) -> Problem {
        match self {
            Finding::NotActive {
                status,
                description,
                source,
                ..
            } => Invalid::new(
                Code::FiscalInactive,
                format!(
                    "the Receita Federal registry (via {source}) has this CNPJ as {}{}, not ATIVA",
                    status.as_receita_str(),
                    description
                        .as_deref()
                        .filter(|d| !d.eq_ignore_ascii_case(status.as_receita_str()))
                        .map(|d| format!(" ({d})"))
                        .unwrap_or_default()
                ),
            )
            .at("customer.tax_id"),
            Finding::NameMismatch {
                registered,
                matches_trade_name,
                source,
                ..
            } => Invalid::new(
                Code::FiscalNameMismatch,
                format!(
                    "does not match the legal name the Receita Federal registry (via {source}) has \
                     for this CNPJ, `{registered}`{}",
                    if *matches_trade_name {
                        "; it matches the registered trade name (nome fantasia), the legal name \
                         is wanted"
                    } else {
                        ""
                    }
                ),
            )
            .at("customer.legal_name"),
            Finding::NotRegistered { source } => Invalid::new(
                Code::FiscalNotRegistered,
                format!(
                    "no company is registered under this CNPJ in the Receita Federal registry \
                     (via {source})"
                ),
            )
            .at("customer.tax_id"),
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

    /// `pass`, `warn` or `block`.
    pub fn as_str(&self) -> &'static str {
        match self {
            FiscalVerdict::Pass => "pass",
            FiscalVerdict::Warn(_) => "warn",
            FiscalVerdict::Block(_) => "block",
        }
    }
}

/// The findings about a registered company, whatever the policy.
pub fn findings(proposal_legal_name: &str, record: &RegisteredCompany) -> Vec<Finding> {
    let mut found = Vec::new();
    if record.status != RegistrationStatus::Active {
        found.push(Finding::NotActive {
            status: record.status,
            code: record.status_code,
            description: record.status_text.clone(),
            source: record.source.clone(),
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
            source: record.source.clone(),
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
    record: &RegisteredCompany,
) -> FiscalVerdict {
    if policy == FiscalPolicy::Off {
        return FiscalVerdict::Pass;
    }
    verdict(policy, findings(proposal_legal_name, record))
}

/// [`evaluate`] over a lookup's answer: a CNPJ nobody registers is a
/// [`Finding::NotRegistered`].
pub fn evaluate_answer(
    policy: FiscalPolicy,
    proposal_legal_name: &str,
    answer: &FiscalAnswer<RegisteredCompany>,
) -> FiscalVerdict {
    match answer {
        FiscalAnswer::Found(record) => evaluate(policy, proposal_legal_name, record),
        FiscalAnswer::NotFound { source } => verdict(
            policy,
            vec![Finding::NotRegistered {
                source: source.clone(),
            }],
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn company(name: &str, status: RegistrationStatus) -> RegisteredCompany {
        RegisteredCompany {
            cnpj: "11222333000181".parse().unwrap(),
            source: "brasil_api".into(),
            legal_name: name.into(),
            trade_name: Some("PAO QUENTE".into()),
            status,
            status_code: Some(8),
            status_text: Some("Baixada".into()),
            address: RegisteredAddress::default(),
            source_fields: BTreeMap::new(),
        }
    }

    #[test]
    fn findings_become_problems_on_the_fields_a_person_fixes() {
        let closed = company("PADARIA PAO FRIO LTDA", RegistrationStatus::Closed);
        let v = evaluate(FiscalPolicy::Block, "Padaria Pão Quente", &closed);
        let problems: Vec<Problem> = v.findings().iter().map(Finding::problem).collect();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(problems[0].field, "customer.tax_id");
        assert_eq!(problems[0].code, Code::FiscalInactive);
        assert!(
            problems[0]
                .message
                .contains("has this CNPJ as BAIXADA, not ATIVA"),
            "the provider's own word is not repeated: {}",
            problems[0].message
        );
        assert!(problems[0].message.contains("brasil_api"));
        assert_eq!(problems[1].field, "customer.legal_name");
        assert_eq!(problems[1].code, Code::FiscalNameMismatch);
        assert!(problems[1].message.contains("`PADARIA PAO FRIO LTDA`"));
        let odd = RegisteredCompany {
            status_text: Some("Em liquidação".into()),
            ..company("PADARIA PAO QUENTE LTDA", RegistrationStatus::Unknown)
        };
        let v = evaluate(FiscalPolicy::Block, "Padaria Pão Quente", &odd);
        assert_eq!(v.findings().len(), 1);
        assert!(
            v.findings()[0]
                .problem()
                .message
                .contains("as DESCONHECIDA (Em liquidação), not ATIVA")
        );
        let nobody = FiscalAnswer::NotFound {
            source: "minha_receita".into(),
        };
        let v = evaluate_answer(FiscalPolicy::Block, "x", &nobody);
        let p = v.findings()[0].problem();
        assert_eq!(
            (p.field.as_str(), p.code),
            ("customer.tax_id", Code::FiscalNotRegistered)
        );
        assert_eq!(
            evaluate_answer(FiscalPolicy::Off, "x", &nobody),
            FiscalVerdict::Pass
        );
    }

    #[test]
    fn the_policy_reads_and_writes_as_snake_case() {
        for p in [FiscalPolicy::Off, FiscalPolicy::Warn, FiscalPolicy::Block] {
            let json = serde_json::to_value(p).unwrap();
            assert_eq!(json, p.as_str());
            assert_eq!(serde_json::from_value::<FiscalPolicy>(json).unwrap(), p);
        }
        assert!(serde_json::from_str::<FiscalPolicy>("\"strict\"").is_err());
    }
}
