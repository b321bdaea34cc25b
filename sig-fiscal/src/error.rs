//! Errors: one provider's failure ([`ProviderError`], always naming the provider) and a
//! lookup's failure ([`FiscalError`]). None of them ever carries the CNPJá API key, a request
//! URL or a response body verbatim (upstream messages are cut to a short length).

use std::fmt;
use std::time::Duration;

use serde::Serialize;
use sig_core::Invalid;
use sig_core::ports::{System, UpstreamError, UpstreamErrorKind};

use crate::model::{LookupKind, Provider};

/// Upstream messages kept in errors are cut to this many characters.
pub(crate) const MESSAGE_MAX: usize = 200;

/// What went wrong with one provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderErrorKind {
    /// Transport failure, 5xx, or the provider said it is failing: try another one.
    Unavailable,
    /// No answer within the per-attempt timeout.
    Timeout,
    /// The provider answered 429 (too many requests): waiting helps.
    RateLimited,
    /// SIG's own per-provider limit had no room, so the provider was not called.
    Throttled,
    /// CNPJá: the account has no credits left; waiting does not help.
    OutOfCredits,
    /// The API key was refused (401/403).
    Unauthorized,
    /// The provider refused the input (400), although it passed local validation (e.g. an
    /// alphanumeric CNPJ a provider does not accept yet).
    Rejected,
    /// An answer SIG cannot read (malformed JSON, an unexpected status or shape).
    Malformed,
}

impl ProviderErrorKind {
    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderErrorKind::Unavailable => "unavailable",
            ProviderErrorKind::Timeout => "timeout",
            ProviderErrorKind::RateLimited => "rate_limited",
            ProviderErrorKind::Throttled => "throttled",
            ProviderErrorKind::OutOfCredits => "out_of_credits",
            ProviderErrorKind::Unauthorized => "unauthorized",
            ProviderErrorKind::Rejected => "rejected",
            ProviderErrorKind::Malformed => "malformed",
        }
    }

    /// Whether repeating the same call on the same provider later can help.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ProviderErrorKind::Unavailable
                | ProviderErrorKind::Timeout
                | ProviderErrorKind::RateLimited
                | ProviderErrorKind::Throttled
                | ProviderErrorKind::Malformed
        )
    }
}

impl fmt::Display for ProviderErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One provider failed one lookup. Lookups only read, so nothing was ever applied upstream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[error("{provider} {lookup} lookup failed ({kind}{}): {message}", status.map(|s| format!(", HTTP {s}")).unwrap_or_default())]
pub struct ProviderError {
    /// Which provider.
    pub provider: Provider,
    /// What was looked up.
    pub lookup: LookupKind,
    /// What went wrong.
    pub kind: ProviderErrorKind,
    /// HTTP status, when there was a response.
    pub status: Option<u16>,
    /// What happened, with the provider's own message when it gave one (shortened).
    pub message: String,
    /// How long the provider asked to wait, when it said (`Retry-After`).
    #[serde(serialize_with = "serialize_millis")]
    pub retry_after: Option<Duration>,
}

fn serialize_millis<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        None => s.serialize_none(),
    }
}

impl ProviderError {
    /// A new error; the message is shortened to a safe length.
    pub fn new(
        provider: Provider,
        kind: ProviderErrorKind,
        status: Option<u16>,
        message: impl Into<String>,
    ) -> Self {
        ProviderError {
            provider,
            lookup: provider.kind(),
            kind,
            status,
            message: shorten(&message.into()),
            retry_after: None,
        }
    }

    /// Set the wait the provider asked for.
    pub fn with_retry_after(mut self, wait: Option<Duration>) -> Self {
        self.retry_after = wait;
        self
    }

    /// Whether the next provider in the chain should be tried after this failure. Every
    /// failure of one provider qualifies: another provider has its own availability, limits,
    /// credentials and input rules.
    pub fn falls_back(&self) -> bool {
        true
    }
}

/// Cuts a text to [`MESSAGE_MAX`] characters, on a character boundary, without control
/// characters.
pub(crate) fn shorten(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let cleaned = cleaned.trim();
    if cleaned.chars().count() <= MESSAGE_MAX {
        cleaned.to_owned()
    } else {
        let mut s: String = cleaned.chars().take(MESSAGE_MAX).collect();
        s.push('…');
        s
    }
}

/// A lookup failed.
#[derive(Debug, thiserror::Error)]
pub enum FiscalError {
    /// The CNPJ or CEP is not valid; no provider was called.
    #[error("invalid {lookup} ({}): {}", problem.code.as_str(), problem.message)]
    InvalidInput {
        /// What was being looked up.
        lookup: LookupKind,
        /// Why the input was rejected.
        problem: Invalid,
    },
    /// The chain has no provider for this kind of lookup.
    #[error("no {0} provider is configured")]
    NoProvider(LookupKind),
    /// Every provider failed; each failure names its provider, in chain order.
    #[error("every {lookup} provider failed: {}", attempts.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    AllProvidersFailed {
        /// What was being looked up.
        lookup: LookupKind,
        /// One failure per provider tried, in order.
        attempts: Vec<ProviderError>,
    },
}

impl FiscalError {
    /// Whether the same lookup may succeed later (some provider was down, slow or limited).
    pub fn is_retryable(&self) -> bool {
        match self {
            FiscalError::InvalidInput { .. } | FiscalError::NoProvider(_) => false,
            FiscalError::AllProvidersFailed { attempts, .. } => {
                attempts.iter().any(|a| a.kind.is_retryable())
            }
        }
    }

    /// The shortest wait any provider asked for, when one did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FiscalError::AllProvidersFailed { attempts, .. } => {
                attempts.iter().filter_map(|a| a.retry_after).min()
            }
            _ => None,
        }
    }

    /// The failures of each provider tried (empty when none was called).
    pub fn attempts(&self) -> &[ProviderError] {
        match self {
            FiscalError::AllProvidersFailed { attempts, .. } => attempts,
            _ => &[],
        }
    }

    /// The same failure in the vocabulary every port shares (`System::Fiscal`), for the
    /// pipeline's retry decisions and audit. `record` is the CNPJ or CEP looked up.
    pub fn to_upstream(&self, record: &str) -> UpstreamError {
        let lookup = match self {
            FiscalError::InvalidInput { lookup, .. }
            | FiscalError::NoProvider(lookup)
            | FiscalError::AllProvidersFailed { lookup, .. } => *lookup,
        };
        let call = match lookup {
            LookupKind::Cnpj => "lookup_cnpj",
            LookupKind::Cep => "lookup_cep",
        };
        let kind = match self {
            FiscalError::InvalidInput { .. } => UpstreamErrorKind::Rejected,
            FiscalError::NoProvider(_) => UpstreamErrorKind::Permanent,
            FiscalError::AllProvidersFailed { attempts, .. } => {
                if attempts.iter().any(|a| {
                    matches!(
                        a.kind,
                        ProviderErrorKind::Unavailable
                            | ProviderErrorKind::Timeout
                            | ProviderErrorKind::Malformed
                    )
                }) {
                    UpstreamErrorKind::Transient
                } else if attempts.iter().any(|a| a.kind.is_retryable()) {
                    UpstreamErrorKind::RateLimited
                } else if attempts
                    .iter()
                    .all(|a| a.kind == ProviderErrorKind::Unauthorized)
                {
                    UpstreamErrorKind::Unauthorized
                } else if attempts
                    .iter()
                    .all(|a| a.kind == ProviderErrorKind::Rejected)
                {
                    // Valid for SIG, refused by every provider: a person must look.
                    UpstreamErrorKind::Rejected
                } else {
                    UpstreamErrorKind::Permanent
                }
            }
        };
        let mut error = UpstreamError::new(System::Fiscal, call, kind, self.to_string())
            .with_record(record.to_owned());
        if let Some(wait) = self.retry_after() {
            error = error.with_retry_after(wait);
        }
        if let Some(status) = self.attempts().last().and_then(|a| a.status) {
            error = error.with_status(status);
        }
        error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(kinds: &[ProviderErrorKind]) -> FiscalError {
        FiscalError::AllProvidersFailed {
            lookup: LookupKind::Cnpj,
            attempts: kinds
                .iter()
                .map(|k| ProviderError::new(Provider::BrasilApi, *k, Some(500), "x"))
                .collect(),
        }
    }

    #[test]
    fn upstream_kind_follows_the_most_hopeful_failure() {
        use ProviderErrorKind as P;
        let cases = [
            (
                vec![P::Rejected, P::Unavailable],
                UpstreamErrorKind::Transient,
            ),
            (vec![P::Timeout], UpstreamErrorKind::Transient),
            (
                vec![P::Malformed, P::OutOfCredits],
                UpstreamErrorKind::Transient,
            ),
            (
                vec![P::RateLimited, P::OutOfCredits],
                UpstreamErrorKind::RateLimited,
            ),
            (vec![P::Throttled], UpstreamErrorKind::RateLimited),
            (
                vec![P::Unauthorized, P::Unauthorized],
                UpstreamErrorKind::Unauthorized,
            ),
            (vec![P::Rejected, P::Rejected], UpstreamErrorKind::Rejected),
            (
                vec![P::OutOfCredits, P::Rejected],
                UpstreamErrorKind::Permanent,
            ),
        ];
        for (kinds, expected) in cases {
            let e = failed(&kinds);
            let up = e.to_upstream("11222333000181");
            assert_eq!(up.kind, expected, "{kinds:?}");
            assert_eq!(up.is_retryable(), e.is_retryable(), "{kinds:?}");
            assert_eq!(up.system, System::Fiscal);
            assert_eq!(up.call, "lookup_cnpj");
        }
        let invalid = FiscalError::InvalidInput {
            lookup: LookupKind::Cep,
            problem: Invalid::required(),
        };
        assert_eq!(invalid.to_upstream("").kind, UpstreamErrorKind::Rejected);
        assert_eq!(invalid.to_upstream("").call, "lookup_cep");
        assert!(!invalid.is_retryable());
    }

    #[test]
    fn messages_are_shortened_and_cleaned() {
        let long = "é".repeat(500);
        let e = ProviderError::new(Provider::ViaCep, ProviderErrorKind::Malformed, None, long);
        assert_eq!(e.message.chars().count(), MESSAGE_MAX + 1);
        assert!(e.message.ends_with('…'));
        let e = ProviderError::new(
            Provider::ViaCep,
            ProviderErrorKind::Malformed,
            None,
            "a\nb\r\n",
        );
        assert_eq!(e.message, "a b");
    }
}
