//! # sig-core — the SIG VoIP domain
//!
//! Everything SIG knows about its business lives here, free of HTTP, SQL and Python:
//! validated value types that cannot hold invalid data ([`Cpf`], [`Cnpj`], [`Phone`], [`Cep`],
//! [`Money`], …), the validated domain ([`Customer`], [`ServiceOrder`], [`Proposal`]) and its
//! unvalidated input shape ([`raw::RawProposal`]) with a validation that reports every
//! problem at once ([`Problems`]), the `sig.toml` configuration and catalog ([`config`]), the
//! ports the adapters implement, the fiscal rules the pipeline's registry check applies
//! ([`fiscal`]), and what every reader of history shares: the KPIs ([`kpi`]) and the masking
//! of personal data in exports ([`mask`]).
//!
//! Adapters (the Omie, NextBilling and DocSales clients, the stores, the Python bindings, the
//! `sig` binary) depend on this crate; it depends on none of them.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod address;
pub mod authz;
pub mod choice;
pub mod config;
pub mod contact;
pub mod domain;
pub mod edit;
#[cfg(feature = "failpoints")]
pub mod failpoints;
pub mod fiscal;
pub mod ids;
pub mod kpi;
pub mod links;
pub mod mask;
pub mod migrate;
pub mod money;
pub mod nonempty;
pub mod pipeline;
pub mod ports;
pub mod problem;
pub mod push;
pub mod raw;
pub mod store;
pub mod taxid;
pub mod text;

pub use address::{Address, Cep, Uf};
pub use contact::{AreaCode, Email, Phone, PhoneKind};
pub use domain::{
    BillingDay, Customer, CustomerFields, CustomerKind, Proposal, ProposalFields, ProposalStatus,
    ServiceOrder, ServiceOrderFields,
};
pub use ids::{CustomerId, ServiceOrderId};
pub use money::Money;
pub use nonempty::NonEmpty;
pub use problem::{Code, Invalid, Problem, Problems};
pub use taxid::{Cnpj, Cpf, TaxId, TaxIdKind};
