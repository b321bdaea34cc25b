//! # sig-fiscal — CNPJ and CEP lookups (Receita Federal data) for SIG VoIP
//!
//! Verifies and enriches customers from public registries:
//!
//! - **Lookups**: a company by CNPJ (BrasilAPI, Minha Receita, ReceitaWS, CNPJá) mapped to
//!   one [`CompanyRecord`], an address by CEP (ViaCEP, BrasilAPI v2) mapped to one
//!   [`CepRecord`]; "not found" is an answer ([`Lookup`]). [`FiscalClient`] implements
//!   sig-core's [`FiscalLookup`] port (the pipeline's `fiscal` step), answering with the
//!   port's smaller records.
//! - **[`FiscalClient`]**: providers in order with fallback when one is down, rate-limited,
//!   slow or refuses, SIG's own per-provider rate limits, a per-attempt timeout, a TTL cache
//!   of answers, and errors that name each provider ([`FiscalError`], [`ProviderError`]).
//! - **The business rules**, which live in [`sig_core::fiscal`] so the pipeline applies them
//!   and are re-exported here: company-name comparison ([`names`]), the per-company
//!   [`FiscalPolicy`] and [`evaluate`], and address [`enrich()`]ment with provenance
//!   ([`CompanyRecord`] and [`CepRecord`] are [`AddressSource`]s).
//! - **Sandbox** (feature `sandbox`): every provider's wire format and error shapes on
//!   loopback, with seeded faults from `sig-sandbox`.
//!
//! ```
//! use sig_fiscal::{FiscalPolicy, FiscalVerdict, Lookup, Provider, evaluate_lookup, names_match};
//!
//! assert!(names_match("Telefonia São João Ltda.", "TELEFONIA SAO JOAO LTDA - ME"));
//! assert!(!names_match("Padaria Pão Quente", "PADARIA PAO FRIO LTDA"));
//!
//! let nobody = Lookup::NotFound { provider: Provider::BrasilApi };
//! let verdict = evaluate_lookup(FiscalPolicy::Block, "Telefonia São João", &nobody);
//! assert!(matches!(verdict, FiscalVerdict::Block(_)));
//! ```
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use sig_fiscal::FiscalClientBuilder;
//! // BrasilAPI → Minha Receita → ReceitaWS (→ CNPJá with a key); ViaCEP → BrasilAPI.
//! let client = FiscalClientBuilder::default_chain(None).build()?;
//! let company = client.lookup_cnpj(&"19.131.243/0001-97".parse()?).await?;
//! # let _ = company; Ok(()) }
//! ```
//!
//! Wire formats stay in the private `wire` module; the CNPJá API key is a
//! [`secrecy::SecretString`] that no `Debug`, log line or error shows.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod cache;
mod client;
mod error;
mod model;
pub mod policy;
#[cfg(feature = "sandbox")]
pub mod sandbox;
mod wire;

pub use cache::{CacheConfig, Clock, ManualClock, SystemClock};
pub use client::{ConfigError, FiscalClient, FiscalClientBuilder, ProviderConfig, RateLimit};
pub use error::{FiscalError, ProviderError, ProviderErrorKind};
pub use model::{
    CepRecord, Cnae, CompanyAddress, CompanyRecord, LegalNature, Lookup, LookupKind, Partner,
    Provider, Registration, UnknownProvider,
};
pub use policy::{evaluate, evaluate_lookup};
pub use sig_core::fiscal::{
    AddressField, AddressSource, Enrichment, Finding, FiscalPolicy, FiscalVerdict, NameComparison,
    Provenance, RegistrationStatus, compare_names, enrich, names, names_match,
};
pub use sig_core::ports::FiscalLookup;
