//! # sig-fiscal — CNPJ and CEP lookups (Receita Federal data) for SIG VoIP
//!
//! Verifies and enriches customers from public registries:
//!
//! - **Lookups** behind the [`FiscalLookup`] port: a company by CNPJ (BrasilAPI, Minha
//!   Receita, ReceitaWS, CNPJá) mapped to one [`CompanyRecord`], an address by CEP (ViaCEP,
//!   BrasilAPI v2) mapped to one [`CepRecord`]; "not found" is an answer ([`Lookup`]).
//! - **[`FiscalClient`]**: providers in order with fallback when one is down, rate-limited,
//!   slow or refuses, SIG's own per-provider rate limits, a per-attempt timeout, a TTL cache
//!   of answers, and errors that name each provider ([`FiscalError`], [`ProviderError`]).
//! - **Pure business functions** for the pipeline step: company-name comparison
//!   ([`names`]), the per-company [`FiscalPolicy`] and [`evaluate`], and address
//!   [`enrich`]ment with provenance.
//! - **Sandbox** (feature `sandbox`): every provider's wire format and error shapes on
//!   loopback, with seeded faults from `sig-sandbox`.
//!
//! Wire formats stay in the private `wire` module; the CNPJá API key is a
//! [`secrecy::SecretString`] that no `Debug`, log line or error shows.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod cache;
mod client;
pub mod enrich;
mod error;
mod model;
pub mod names;
pub mod policy;
#[cfg(feature = "sandbox")]
pub mod sandbox;
mod wire;

pub use cache::{CacheConfig, Clock, ManualClock, SystemClock};
pub use client::{
    ConfigError, FiscalClient, FiscalClientBuilder, FiscalLookup, ProviderConfig, RateLimit,
};
pub use enrich::{AddressSource, Enrichment, Provenance, enrich};
pub use error::{FiscalError, ProviderError, ProviderErrorKind};
pub use model::{
    AddressField, CepRecord, Cnae, CompanyAddress, CompanyRecord, LegalNature, Lookup, LookupKind,
    Partner, Provider, Registration, RegistrationStatus,
};
pub use names::{NameComparison, compare_names, names_match};
pub use policy::{Finding, FiscalPolicy, FiscalVerdict, evaluate, evaluate_lookup};
