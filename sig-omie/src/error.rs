//! The client's error type: what failed, on which record, whether Omie may have applied it,
//! and whether retrying can help. Nothing here ever holds the app key or secret, a request
//! body or a full URL; fault texts are shown with CPF/CNPJ masked.

use std::time::Duration;

use sig_core::ports::{System, UpstreamError, UpstreamErrorKind};

use crate::fault::{Fault, FaultClass, redact_tax_ids};

fn on(record: &Option<String>) -> String {
    match record {
        Some(r) => format!(" for record `{r}`"),
        None => String::new(),
    }
}

/// A failed Omie call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OmieError {
    /// Omie answered with a fault body (whatever the HTTP status).
    #[error("Omie {call}{}: fault {fault} (HTTP {status}, {})", on(record), fault.class.name())]
    Fault {
        /// The method (`IncluirCliente`).
        call: &'static str,
        /// The HTTP status it came with.
        status: u16,
        /// The fault and its class.
        fault: Box<Fault>,
        /// Whether the call writes.
        write: bool,
        /// The record involved (an integration code or Omie id).
        record: Option<String>,
    },
    /// Omie (or a proxy in front of it) answered with a non-JSON body or a JSON body that is
    /// not a fault, with a non-success status (an HTML 500 page, a bare 429, …).
    #[error(
        "Omie {call}{}: HTTP {status} without a fault body ({content_type}, {len} bytes)",
        on(record)
    )]
    Http {
        /// The method.
        call: &'static str,
        /// The HTTP status.
        status: u16,
        /// The answer's content type.
        content_type: String,
        /// The answer's length (the body itself is not kept: it may echo the request).
        len: usize,
        /// `Retry-After`, when sent.
        retry_after: Option<Duration>,
        /// Whether the call writes.
        write: bool,
        /// The record involved.
        record: Option<String>,
    },
    /// No answer within the per-attempt timeout.
    #[error("Omie {call}{}: no answer within {} ms", on(record), timeout.as_millis())]
    Timeout {
        /// The method.
        call: &'static str,
        /// The per-attempt timeout that fired.
        timeout: Duration,
        /// Whether the call writes.
        write: bool,
        /// The record involved.
        record: Option<String>,
    },
    /// The connection failed (refused, reset, closed before the answer).
    #[error(
        "Omie {call}{}: transport error; {}",
        on(record),
        if *sent { "the request may have reached Omie" } else { "the request was not sent" }
    )]
    Transport {
        /// The method.
        call: &'static str,
        /// Whether the request may have reached Omie (false only for connect failures).
        sent: bool,
        /// Whether the call writes.
        write: bool,
        /// The record involved.
        record: Option<String>,
        /// reqwest's error (its URL stripped).
        #[source]
        source: reqwest::Error,
    },
    /// A success status whose body does not decode (malformed or unexpected JSON).
    #[error(
        "Omie {call}{}: the HTTP {status} answer does not decode at `{path}`: {message}",
        on(record)
    )]
    Decode {
        /// The method.
        call: &'static str,
        /// The HTTP status.
        status: u16,
        /// The JSON path that failed (`clientes_cadastro[3].codigo_cliente_omie`), `.` for the
        /// root.
        path: String,
        /// What was wrong (tax ids masked).
        message: String,
        /// `true` when the body is not JSON at all or is cut short (a transient fault);
        /// `false` when it is JSON of an unexpected shape (a schema mismatch: permanent).
        malformed: bool,
        /// Whether the call writes.
        write: bool,
        /// The record involved.
        record: Option<String>,
    },
    /// The account is under a misuse block: the client made no call.
    #[error(
        "Omie {call}: account `{account}` is blocked for misuse until unix ms {until_unix_ms}; no call was made ({reason})"
    )]
    Blocked {
        /// The method not called.
        call: &'static str,
        /// The account.
        account: String,
        /// When the block ends (unix milliseconds).
        until_unix_ms: i64,
        /// How long from now.
        retry_after: Duration,
        /// Why the block was opened (Omie's message).
        reason: String,
    },
    /// The total deadline ran out before a definitive answer.
    #[error("Omie {call}{}: the total deadline of {} ms ran out after {attempts} attempt(s)", on(record), deadline.as_millis())]
    DeadlineExceeded {
        /// The method.
        call: &'static str,
        /// The deadline.
        deadline: Duration,
        /// Attempts made.
        attempts: u32,
        /// Whether an attempt may have been applied.
        maybe_applied: bool,
        /// The record involved.
        record: Option<String>,
    },
    /// The request could not be encoded (a bug or an out-of-range value).
    #[error("Omie {call}: the request could not be encoded: {message}")]
    Encode {
        /// The method.
        call: &'static str,
        /// What was wrong.
        message: String,
    },
}

impl OmieError {
    pub(crate) fn decode(
        call: &'static str,
        status: u16,
        write: bool,
        record: Option<String>,
        err: serde_path_to_error::Error<serde_json::Error>,
    ) -> Self {
        let path = err.path().to_string();
        OmieError::Decode {
            call,
            status,
            malformed: !err.inner().is_data(),
            path,
            message: redact_tax_ids(&err.inner().to_string()),
            write,
            record,
        }
    }

    /// The method that failed.
    pub fn call(&self) -> &'static str {
        match self {
            OmieError::Fault { call, .. }
            | OmieError::Http { call, .. }
            | OmieError::Timeout { call, .. }
            | OmieError::Transport { call, .. }
            | OmieError::Decode { call, .. }
            | OmieError::Blocked { call, .. }
            | OmieError::DeadlineExceeded { call, .. }
            | OmieError::Encode { call, .. } => call,
        }
    }

    /// The kind of failure as the upstream call event names it (one of
    /// [`sig_core::ports::UPSTREAM_ERROR_KINDS`]).
    pub fn outcome_kind(&self) -> &'static str {
        match self {
            OmieError::Fault { fault, .. } => match fault.class {
                FaultClass::Redundant { .. } => "redundant",
                FaultClass::MethodBusy { .. } => "busy",
                FaultClass::Misuse { .. } => "misuse_block",
                FaultClass::EndOfPages | FaultClass::NotFound => "not_found",
                FaultClass::InvalidCredentials => "unauthorized",
                FaultClass::DuplicateIntegrationCode { .. }
                | FaultClass::DuplicateTaxId { .. }
                | FaultClass::Client => "rejected",
                FaultClass::Server => "server_error",
            },
            OmieError::Http { status, .. } => match status {
                429 => "rate_limited",
                401 | 403 => "unauthorized",
                404 => "not_found",
                500..=599 => "server_error",
                _ => "other",
            },
            OmieError::Timeout { .. } | OmieError::DeadlineExceeded { .. } => "timeout",
            OmieError::Transport { .. } => "transport",
            OmieError::Decode { .. } => "decode",
            OmieError::Blocked { .. } => "blocked",
            OmieError::Encode { .. } => "other",
        }
    }

    /// The record involved, when known.
    pub fn record(&self) -> Option<&str> {
        match self {
            OmieError::Fault { record, .. }
            | OmieError::Http { record, .. }
            | OmieError::Timeout { record, .. }
            | OmieError::Transport { record, .. }
            | OmieError::Decode { record, .. }
            | OmieError::DeadlineExceeded { record, .. } => record.as_deref(),
            OmieError::Blocked { .. } | OmieError::Encode { .. } => None,
        }
    }

    /// The fault, when Omie sent one.
    pub fn fault(&self) -> Option<&Fault> {
        match self {
            OmieError::Fault { fault, .. } => Some(fault),
            _ => None,
        }
    }

    /// The fault class, when Omie sent a fault.
    pub fn fault_class(&self) -> Option<&FaultClass> {
        self.fault().map(|f| &f.class)
    }

    /// The HTTP status, when there was an answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            OmieError::Fault { status, .. }
            | OmieError::Http { status, .. }
            | OmieError::Decode { status, .. } => Some(*status),
            _ => None,
        }
    }

    fn is_write(&self) -> bool {
        match self {
            OmieError::Fault { write, .. }
            | OmieError::Http { write, .. }
            | OmieError::Timeout { write, .. }
            | OmieError::Transport { write, .. }
            | OmieError::Decode { write, .. } => *write,
            _ => false,
        }
    }

    /// Whether Omie may have applied the request: a write whose answer was lost, cut, timed
    /// out, unreadable, a 5xx without a fault body, or REDUNDANT after a write. A fault body
    /// (other than REDUNDANT) means Omie refused the request, so it was not applied.
    pub fn maybe_applied(&self) -> bool {
        match self {
            OmieError::DeadlineExceeded { maybe_applied, .. } => *maybe_applied,
            OmieError::Fault { fault, write, .. } => {
                *write && matches!(fault.class, FaultClass::Redundant { .. })
            }
            OmieError::Http { status, write, .. } => *write && *status >= 500,
            OmieError::Timeout { write, .. } | OmieError::Decode { write, .. } => *write,
            OmieError::Transport { write, sent, .. } => *write && *sent,
            OmieError::Blocked { .. } | OmieError::Encode { .. } => false,
        }
    }

    /// How long Omie asked to wait, when it did (REDUNDANT, method busy, misuse block,
    /// `Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            OmieError::Fault { fault, .. } => fault.class.wait(),
            OmieError::Http { retry_after, .. } => *retry_after,
            OmieError::Blocked { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// The sig-core kind of this failure.
    pub fn kind(&self) -> UpstreamErrorKind {
        use UpstreamErrorKind as K;
        match self {
            OmieError::Fault { fault, .. } => match fault.class {
                FaultClass::DuplicateIntegrationCode { .. } | FaultClass::DuplicateTaxId { .. } => {
                    K::Conflict
                }
                FaultClass::Redundant { .. } | FaultClass::MethodBusy { .. } => K::RateLimited,
                FaultClass::Misuse { .. } => K::Blocked,
                FaultClass::EndOfPages | FaultClass::NotFound => K::NotFound,
                FaultClass::InvalidCredentials => K::Unauthorized,
                FaultClass::Client => K::Rejected,
                FaultClass::Server => K::Transient,
            },
            OmieError::Http { status, .. } => match status {
                429 => K::RateLimited,
                425 => K::Blocked,
                401 | 403 => K::Unauthorized,
                408 | 500..=599 => K::Transient,
                _ => K::Permanent,
            },
            OmieError::Decode {
                malformed: false, ..
            } => K::Permanent,
            OmieError::Timeout { .. }
            | OmieError::Transport { .. }
            | OmieError::Decode { .. }
            | OmieError::DeadlineExceeded { .. } => K::Transient,
            OmieError::Blocked { .. } => K::Blocked,
            OmieError::Encode { .. } => K::Permanent,
        }
    }

    /// Whether retrying the same call later can help (transient failures, rate limits and
    /// blocks, after their wait). A write that [may have been applied](Self::maybe_applied)
    /// must be looked up before it is retried.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind(),
            UpstreamErrorKind::Transient
                | UpstreamErrorKind::RateLimited
                | UpstreamErrorKind::Blocked
        )
    }

    /// Whether the client itself may send this call again at once (after the wait): a
    /// retryable failure that cannot have been applied, or any retryable failure of a read.
    pub(crate) fn auto_retryable(&self) -> bool {
        let blocked = matches!(self.kind(), UpstreamErrorKind::Blocked);
        self.is_retryable() && !blocked && !(self.is_write() && self.maybe_applied())
    }

    /// The error as sig-core's [`UpstreamError`].
    pub fn into_upstream(self) -> UpstreamError {
        let mut e = UpstreamError::new(System::Omie, self.call(), self.kind(), self.to_string())
            .maybe_applied(self.maybe_applied());
        if let Some(s) = self.status() {
            e = e.with_status(s);
        }
        if let Some(f) = self.fault() {
            e = e.with_code(f.code.clone());
        }
        if let Some(r) = self.record() {
            e = e.with_record(r.to_owned());
        }
        if let Some(w) = self.retry_after() {
            e = e.with_retry_after(w);
        }
        e.with_source(self)
    }
}

impl From<OmieError> for UpstreamError {
    fn from(e: OmieError) -> Self {
        e.into_upstream()
    }
}
