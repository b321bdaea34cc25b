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
//! One client serves one account; clone it (the limits, breaker and retry budget are
//! shared by the clones), never build two for the same account.
//!
//! ## What is `[inferred]`
//!
//! Confirm these against Omie's test app before relying on them (see
//! `../shared/reference/omie.md`):
//! - Omie refuses a repeated contract integration code (`cCodIntCtr`), and its text;
//! - the not-found texts ("… não cadastrado …") and their codes;
//! - ConsultarContrato's key `{nCodCtr, cCodIntCtr}` and its answer (the `contratoCadastro`
//!   itself); the `contratofat` calls' key and `csStatus`-shaped answer;
//!   ConsultarCadastroServico's key `{nCodServ, cCodIntServ}` and the `intListar` block;
//!   `itemDescrServ.descrCompleta`;
//! - `created` for customers from UpsertCliente's text ("cadastrado" vs "alterado");
//! - CPF/CNPJ sent and filtered in its masked form;
//! - in the sandbox: which failures count toward a misuse block, REDUNDANT for more than 4
//!   calls in flight, `Client-1880` for concurrent writes, the AssociarCodIntCliente refusal
//!   text, the 429 body and `Retry-After`.
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
