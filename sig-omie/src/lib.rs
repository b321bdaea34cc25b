//! # sig-omie — the Omie ERP client of SIG VoIP
//!
//! A typed client for the Omie calls SIG needs ([`OmieClient`]): the JSON envelope, Omie's
//! wire types ([`wire`]), faults read from the body before the status and classified from
//! their Portuguese texts ([`fault`]), Omie's limits kept on the client side with a misuse
//! circuit breaker whose state the pipeline can store ([`limits`]), retries under a budget,
//! and List calls as a `Stream` of records. [`OmieErp`] implements sig-core's [`Erp`] port on
//! it: customers keyed by SIG's id, CPF/CNPJ adoption, one contract per service order, and
//! a look-up before any write is repeated. With the `sandbox` feature, [`sandbox`] is an
//! in-memory Omie on loopback for tests, demos and benchmarks.
//!
//! Credentials are `SecretString`s exposed in exactly one place (the request body); no
//! `Debug`, `Display`, error or log line carries them.
//!
//! [`Erp`]: sig_core::ports::Erp
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod client;
pub mod erp;
pub mod error;
pub mod fault;
pub mod limits;
#[cfg(feature = "sandbox")]
pub mod sandbox;
pub mod wire;

pub use client::{BuildError, CallSpec, OmieClient, OmieClientBuilder};
pub use erp::OmieErp;
pub use error::OmieError;
pub use fault::{Fault, FaultClass};
pub use limits::{BreakerState, LimitsConfig, RetryConfig};
