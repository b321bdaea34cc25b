//! The client's error: what failed, on which call, whether it may have been applied upstream
//! and whether retrying can help. Messages never carry the token, the request URL or a quoted
//! request value.

use std::time::Duration;

use sig_core::ports::{System, UpstreamError, UpstreamErrorKind};

use crate::wire::{DecodeError, DecodeErrorKind};

/// The longest upstream message kept, in characters.
const MAX_MESSAGE: usize = 300;

/// A failed DocSales call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DocSalesError {
    /// The request could not be completed: connection refused or reset, timeout, TLS, a
    /// response cut short.
    #[error(
        "DocSales {call}: no usable response ({}){}",
        if *timed_out { "timed out" } else { "transport failure" },
        if *maybe_sent { "; the request may have reached DocSales" } else { "" }
    )]
    Transport {
        /// The call (`get_proposal`, …).
        call: &'static str,
        /// Whether the per-attempt timeout fired.
        timed_out: bool,
        /// Whether the request may have reached DocSales (anything but a failed connect).
        maybe_sent: bool,
        /// The transport error (its URL removed).
        #[source]
        source: reqwest::Error,
    },
    /// DocSales answered with an error status. `error` and `message` are DocSales' own body
    /// fields, when the body was JSON.
    #[error("DocSales {call} answered HTTP {status}: {}", upstream_text(error.as_deref(), message.as_deref()))]
    Http {
        /// The call.
        call: &'static str,
        /// HTTP status.
        status: u16,
        /// The body's `error` field.
        error: Option<String>,
        /// The body's `message` field.
        message: Option<String>,
        /// The `Retry-After` wait, when given.
        retry_after: Option<Duration>,
    },
    /// DocSales answered but the body could not be read; the JSON path is named.
    #[error("DocSales {call} answered HTTP {status} with a body that could not be read: {source}")]
    Decode {
        /// The call.
        call: &'static str,
        /// HTTP status.
        status: u16,
        /// Where and why.
        #[source]
        source: DecodeError,
    },
    /// The request was refused before sending (an argument SIG passed is unusable).
    #[error("DocSales {call}: invalid {field}: {message}")]
    InvalidInput {
        /// The call.
        call: &'static str,
        /// Which argument.
        field: &'static str,
        /// Why.
        message: String,
    },
}

fn upstream_text(error: Option<&str>, message: Option<&str>) -> String {
    match (error, message) {
        (Some(e), Some(m)) => format!("{e}: {m}"),
        (Some(t), None) | (None, Some(t)) => t.to_owned(),
        (None, None) => "no error message".to_owned(),
    }
}

/// Cut an upstream message to a reasonable length on a character boundary.
pub(crate) fn clip(s: &str) -> String {
    if s.chars().count() <= MAX_MESSAGE {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(MAX_MESSAGE).collect();
        out.push('…');
        out
    }
}

impl DocSalesError {
    /// The kind of failure as the upstream call event names it (one of
    /// [`sig_core::ports::UPSTREAM_ERROR_KINDS`]).
    pub fn outcome_kind(&self) -> &'static str {
        match self {
            DocSalesError::Transport {
                timed_out: true, ..
            } => "timeout",
            DocSalesError::Transport { .. } => "transport",
            DocSalesError::Http { status, .. } => match status {
                429 => "rate_limited",
                401 | 403 => "unauthorized",
                404 | 410 => "not_found",
                400 | 409 | 422 => "rejected",
                500..=599 => "server_error",
                _ => "other",
            },
            DocSalesError::Decode { .. } => "decode",
            DocSalesError::InvalidInput { .. } => "other",
        }
    }

    /// The call that failed.
    pub fn call(&self) -> &'static str {
        match self {
            DocSalesError::Transport { call, .. }
            | DocSalesError::Http { call, .. }
            | DocSalesError::Decode { call, .. }
            | DocSalesError::InvalidInput { call, .. } => call,
        }
    }

    /// The HTTP status, when DocSales answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            DocSalesError::Http { status, .. } | DocSalesError::Decode { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }

    /// How the failure is classified for retry decisions.
    pub fn kind(&self) -> UpstreamErrorKind {
        match self {
            DocSalesError::Transport { .. } => UpstreamErrorKind::Transient,
            DocSalesError::Http { status, .. } => match status {
                401 | 403 => UpstreamErrorKind::Unauthorized,
                404 | 410 => UpstreamErrorKind::NotFound,
                409 => UpstreamErrorKind::Conflict,
                422 => UpstreamErrorKind::Rejected,
                429 => UpstreamErrorKind::RateLimited,
                408 | 500..=599 => UpstreamErrorKind::Transient,
                _ => UpstreamErrorKind::Permanent,
            },
            // A truncated or garbled body may be a one-off; a body of the wrong shape is not.
            DocSalesError::Decode { source, .. } => match source.kind {
                DecodeErrorKind::Syntax | DecodeErrorKind::Eof => UpstreamErrorKind::Transient,
                DecodeErrorKind::Data => UpstreamErrorKind::Permanent,
            },
            DocSalesError::InvalidInput { .. } => UpstreamErrorKind::Permanent,
        }
    }

    /// Whether retrying the same call later can help.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind(),
            UpstreamErrorKind::Transient | UpstreamErrorKind::RateLimited
        )
    }

    /// The wait DocSales asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            DocSalesError::Http { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Whether a write may have been applied although it failed: the request may have reached
    /// DocSales and no answer says it was refused (a lost response, a gateway timeout, an
    /// unreadable success body).
    pub fn maybe_applied(&self) -> bool {
        match self {
            DocSalesError::Transport { maybe_sent, .. } => *maybe_sent,
            DocSalesError::Http { status, .. } => matches!(status, 502 | 504),
            DocSalesError::Decode { status, .. } => (200..300).contains(status),
            DocSalesError::InvalidInput { .. } => false,
        }
    }

    /// The port's error, for the pipeline. `record` names the proposal or customer involved.
    pub fn into_upstream(self, record: Option<String>) -> UpstreamError {
        let mut e =
            UpstreamError::new(System::DocSales, self.call(), self.kind(), self.to_string())
                .maybe_applied(self.maybe_applied());
        if let Some(s) = self.status() {
            e = e.with_status(s);
        }
        if let DocSalesError::Http {
            error: Some(code), ..
        } = &self
        {
            e = e.with_code(code.clone());
        }
        if let Some(d) = self.retry_after() {
            e = e.with_retry_after(d);
        }
        if let Some(r) = record {
            e = e.with_record(r);
        }
        e.with_source(self)
    }
}

impl From<DocSalesError> for UpstreamError {
    fn from(e: DocSalesError) -> Self {
        e.into_upstream(None)
    }
}
