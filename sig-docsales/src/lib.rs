//! # sig-docsales — DocSales for SIG VoIP
//!
//! DocSales is where proposals are made and approved. This crate holds everything SIG knows
//! about its wire format and nothing of SIG's business rules:
//!
//! - [`wire`]: the proposal document and other payloads, lenient where DocSales is loose and
//!   strict where it matters, every rejection naming its JSON path;
//! - [`DocSalesClient`]: the typed REST client (Bearer token, overridable base URL,
//!   per-attempt timeout, retries for idempotent calls only);
//! - [`webhook::intake`]: the framework-free webhook check (secret token, constant time) that
//!   turns a request into a [`webhook::Notification`] — the proposal is always re-fetched
//!   before anything acts on it;
//! - [`mapping`]: a DocSales document → sig-core's [`RawProposal`](sig_core::raw::RawProposal)
//!   with the DocSales field each domain field came from;
//! - [`DocSalesSource`]: the [`ProposalSource`](sig_core::ports::ProposalSource) port;
//! - [`DocSalesPush`]: the [`CrmPush`](sig_core::push::CrmPush) port (SIG → DocSales);
//! - `sandbox` (feature `sandbox`): an in-memory DocSales on loopback with a webhook sender.
//!
//! Shapes and calls marked `[inferred]` are not documented by DocSales; they are listed in
//! `OPEN-QUESTIONS.md` next to this crate's manifest.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod client;
pub mod error;
pub mod wire;

pub use client::{CustomerRef, DocSalesClient, DocSalesClientBuilder, RetryPolicy};
pub use error::DocSalesError;
pub use wire::{DecodeError, ProposalDocument, ProposalRef};
pub mod mapping;
pub mod push;
pub mod source;
pub mod webhook;

pub use push::DocSalesPush;
pub use source::DocSalesSource;
pub use webhook::{IntakeError, Notification, WebhookRequest, intake};

#[cfg(feature = "sandbox")]
pub mod sandbox;
