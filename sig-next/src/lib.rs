//! # sig-next — the NextBilling client
//!
//! A typed client for one NextBilling instance (a ServidorNext): [`NextClient`] makes the
//! documented calls (`manageCustomers`, `statusCustomer`, `manageDevices`, `listDevices`,
//! `manageDID`), maps the `{error, reason}` envelope to a classified [`NextError`], finds what
//! SIG already created by SIG's ids, probes health, and implements sig-core's
//! [`VoipPlatform`](sig_core::ports::VoipPlatform) port. With the `sandbox` feature,
//! `sandbox::NextSandbox` serves several fake instances on loopback for tests and demos.
//!
//! ## Secrets
//!
//! NextBilling puts the API token and key in the request path
//! (`/api/<action>/TOKEN/KEY[/<id>]`), so a request URL is a secret. It is built in exactly one
//! function (`NextClient::endpoint`, private) and handed only to reqwest; errors carry the
//! server's id and name and the action instead, `reqwest::Error`s are kept
//! [`without_url`](reqwest::Error::without_url), response text kept in errors has the token and
//! key blanked, redirects are not followed (they would resend the path), and `Debug` of the
//! client shows only the base URL. Do not enable reqwest's `connection_verbose` (it traces raw
//! request bytes).
//!
//! ## Finding what SIG created
//!
//! NextBilling has no idempotency key, so SIG's ids go into fields that reads return
//! ([`keys`]):
//!
//! - customer: `id_origem` = SIG customer id as 32 hex digits, the documented "origin id"
//!   field; found with [`NextClient::find_customer`] — `GET listCustomers?id_origem=…`, an
//!   **`[inferred]`** call (no customer search is documented);
//! - line: `username` = `sig` + SIG line id (32 hex); found in the documented `listDevices`
//!   of the customer ([`NextClient::find_line`]);
//! - DID: `description` = `sig:did:` + SIG DID id (32 hex); found with
//!   [`NextClient::find_did`] — `GET listDIDs/…/<customer_id>`, an **`[inferred]`** call.
//!
//! Every `ensure_*` looks up, creates only if absent, and after an ambiguous failure looks up
//! again before anything is retried (a line or DID the caller marks as a first attempt,
//! `sig_core::ports::Attempt::First`, skips the look-up before the create: nothing can be
//! there yet); the client never re-sends a write itself, and two
//! concurrent `ensure_*` of one SIG record through one client are serialised. Where several
//! records carry the same SIG id (a duplicate made outside SIG), the lowest NextBilling id
//! wins. The `manageCustomers`/`manageDevices`/`manageDID` answers are not documented: an `id`
//! (or `customer_id`/`device_id`/`did_id`) is used when present (`[inferred]`), and the lookup
//! by SIG id otherwise. Other `[inferred]` choices (the probe call, `ddd_local`, the DID number
//! format, altering through the create calls) are listed in `OPEN-QUESTIONS.md`.
//!
//! ## Errors and retries
//!
//! HTTP 400/403/404/413/422 are permanent (403 `Unauthorized`, 422 `Rejected`), 429 rate
//! limited, 5xx, transport failures, timeouts and undecodable answers transient; an envelope
//! with `error` ≠ 0 is `Rejected` even on HTTP 200. A write that failed after being sent is
//! [`maybe_applied`](NextError::maybe_applied). Bodies over 128 kB are refused before
//! sending. Reads are retried with jittered backoff; writes are not.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(missing_debug_implementations)]

mod client;
mod error;
pub mod keys;
mod platform;
#[cfg(feature = "sandbox")]
pub mod sandbox;
pub mod wire;

pub use client::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_RETRIES, DEFAULT_TIMEOUT, NextClient, NextClientBuilder,
};
pub use error::{Action, BuildError, MAX_BODY_BYTES, MAX_RESPONSE_BYTES, NextError, NextErrorKind};
pub use platform::{LINE_PASSWORD_LEN, customer_body, device_body, did_body};
