//! Webhook intake, framework-free: the HTTP server hands over the request's path, query,
//! headers and body; [`intake`] checks the secret token and reads the notification.
//!
//! DocSales signs nothing (reference §2.2), so the only proof that a request comes from
//! DocSales is a secret token that only DocSales and SIG know, carried `[inferred]` in one of:
//!
//! 1. the `X-Docsales-Token` header (if DocSales lets the account set a custom header),
//! 2. the `token` query parameter (`…/webhooks/docsales?token=SECRET`),
//! 3. the URL path's last segment (`…/webhooks/docsales/SECRET`).
//!
//! Each candidate is compared with the configured secret in constant time ([`subtle`]); all
//! of them are compared, whatever matches first.
//!
//! **A notification is only a hint.** Its body could be replayed or stale, so
//! [`Notification`] carries the [`SourceKey`] and the status as received, and the caller must
//! always **re-fetch** the proposal ([`crate::DocSalesClient::get_proposal`] or
//! [`ProposalSource::fetch`](sig_core::ports::ProposalSource::fetch)) before acting on it.
//! Only an approved status starts an integration ([`Notification::starts_integration`]);
//! other statuses are recorded and ignored, so an `approved` arriving after a `sent` still
//! counts. The same notification delivered twice gives the same key, so the pipeline's
//! de-duplication by source key makes repeats harmless.

use std::fmt;

use chrono::{DateTime, FixedOffset};
use secrecy::{ExposeSecret, SecretString};
use sig_core::ProposalStatus;
use sig_core::ports::SourceKey;
use subtle::ConstantTimeEq;

use crate::wire::{self, DecodeError, ProposalDocument, ProposalRef};

/// The header that may carry the secret token `[inferred]`.
pub const TOKEN_HEADER: &str = "x-docsales-token";
/// The query parameter that may carry the secret token `[inferred]`.
pub const TOKEN_QUERY: &str = "token";
/// The largest body accepted (a proposal with its items is a few kilobytes).
pub const MAX_BODY: usize = 4 * 1024 * 1024;

/// A webhook request as the HTTP server received it.
///
/// Its `Debug` shows none of the path, query or headers: any of them may carry the secret.
#[derive(Clone, Default)]
pub struct WebhookRequest {
    /// The URL path (`/webhooks/docsales/SECRET`).
    pub path: String,
    /// The raw query string without `?` (`token=SECRET`), if any.
    pub query: Option<String>,
    /// Header names and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl fmt::Debug for WebhookRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookRequest")
            .field("headers", &self.headers.len())
            .field("body_bytes", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// Why a webhook request was refused. No variant carries the token or the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IntakeError {
    /// SIG has no webhook secret for the account: every request is refused (fix `sig.toml`).
    #[error("the DocSales webhook secret is not configured; refusing every notification")]
    SecretNotConfigured,
    /// The request carries no token (no header, no `token` query parameter, empty path).
    /// Answer 401.
    #[error("the webhook request carries no token")]
    MissingToken,
    /// The request carries a token that is not the secret. Answer 401 (and do not say which
    /// part was wrong).
    #[error("the webhook request's token does not match")]
    WrongToken,
    /// The body is larger than [`MAX_BODY`]. Answer 413.
    #[error("the webhook body has {0} bytes, more than the {MAX_BODY} accepted")]
    BodyTooLarge(usize),
    /// The body is not a DocSales notification: not JSON, or a value of the wrong type or
    /// form at the named JSON path. Answer 400.
    #[error("the webhook body could not be read: {0}")]
    MalformedBody(#[from] DecodeError),
    /// The body reads, but names no proposal SIG could re-fetch (no `document`, or neither
    /// `document.id` nor `document.external_uuid`). Answer 422.
    #[error("the webhook notification is unusable: {0}")]
    Unusable(&'static str),
}

impl IntakeError {
    /// The HTTP status to answer DocSales with.
    pub fn http_status(&self) -> u16 {
        match self {
            IntakeError::SecretNotConfigured => 503,
            IntakeError::MissingToken | IntakeError::WrongToken => 401,
            IntakeError::BodyTooLarge(_) => 413,
            IntakeError::MalformedBody(_) => 400,
            IntakeError::Unusable(_) => 422,
        }
    }
}

/// A verified notification: which proposal, and what DocSales said about it.
#[derive(Clone, PartialEq, Eq)]
pub struct Notification {
    /// (SIG's DocSales account id, proposal id) — the de-duplication key.
    pub key: SourceKey,
    /// How to re-fetch the proposal.
    pub reference: ProposalRef,
    /// The status as received; `None` when the body had none. Re-fetch before trusting it.
    pub status: Option<ProposalStatus>,
    /// The document's code (`DS-00319`), when sent.
    pub code: Option<String>,
    /// The document's `updated_at`, when sent (lets a caller order notifications).
    pub updated_at: Option<DateTime<FixedOffset>>,
    /// Everything received, as read.
    pub received: ProposalDocument,
}

impl fmt::Debug for Notification {
    /// The key, status and code only: the received document holds personal data.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notification")
            .field("key", &self.key)
            .field("status", &self.status)
            .field("code", &self.code)
            .field("updated_at", &self.updated_at)
            .finish_non_exhaustive()
    }
}

impl Notification {
    /// Whether this notification starts an integration: only an approval does (DESIGN.md).
    /// The proposal must still be re-fetched, and its re-fetched status is what counts.
    pub fn starts_integration(&self) -> bool {
        self.status
            .as_ref()
            .is_some_and(ProposalStatus::starts_integration)
    }
}

/// Check a webhook request against `secret` and read its notification for `account` (SIG's
/// id of the DocSales account, the first half of the source key).
///
/// # Errors
/// An [`IntakeError`] saying whether the token, the body or the notification was at fault;
/// [`IntakeError::http_status`] gives the answer to send.
pub fn intake(
    request: &WebhookRequest,
    account: &str,
    secret: &SecretString,
) -> Result<Notification, IntakeError> {
    check_token(request, secret)?;
    if request.body.len() > MAX_BODY {
        return Err(IntakeError::BodyTooLarge(request.body.len()));
    }
    let received = wire::decode_proposal(&request.body)?;
    notification(account, received)
}

/// [`intake`] with the secret and id of a configured account.
///
/// # Errors
/// As [`intake`].
pub fn intake_for(
    request: &WebhookRequest,
    account: &sig_core::config::DocSalesAccount,
) -> Result<Notification, IntakeError> {
    intake(request, account.id.as_str(), &account.webhook_secret)
}

/// Build the notification from a decoded body.
///
/// # Errors
/// [`IntakeError::Unusable`] when the body names no proposal.
pub fn notification(
    account: &str,
    received: ProposalDocument,
) -> Result<Notification, IntakeError> {
    let document = received
        .document
        .as_ref()
        .ok_or(IntakeError::Unusable("the body has no `document` object"))?;
    let reference = document.reference().ok_or(IntakeError::Unusable(
        "`document` has neither `id` nor `external_uuid`, so the proposal cannot be re-fetched",
    ))?;
    Ok(Notification {
        key: SourceKey {
            account: account.to_owned(),
            proposal_id: reference.as_segment(),
        },
        reference,
        status: document.status.clone(),
        code: document.code.clone(),
        updated_at: document.updated_at,
        received,
    })
}

fn check_token(request: &WebhookRequest, secret: &SecretString) -> Result<(), IntakeError> {
    let secret = secret.expose_secret().as_bytes();
    if secret.is_empty() {
        return Err(IntakeError::SecretNotConfigured);
    }
    let mut candidates: Vec<Vec<u8>> = Vec::with_capacity(3);
    for (name, value) in &request.headers {
        if name.eq_ignore_ascii_case(TOKEN_HEADER) {
            candidates.push(value.trim().as_bytes().to_vec());
        }
    }
    if let Some(q) = &request.query {
        for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
            if k == TOKEN_QUERY {
                candidates.push(v.as_bytes().to_vec());
            }
        }
    }
    if let Some(last) = request.path.split('/').rfind(|s| !s.is_empty()) {
        candidates.push(last.as_bytes().to_vec());
    }
    candidates.retain(|c| !c.is_empty());
    if candidates.is_empty() {
        return Err(IntakeError::MissingToken);
    }
    // Compare every candidate (no early exit), each in constant time for its length.
    let matched = candidates.iter().fold(subtle::Choice::from(0), |acc, c| {
        acc | c.as_slice().ct_eq(secret)
    });
    if bool::from(matched) {
        Ok(())
    } else {
        Err(IntakeError::WrongToken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> SecretString {
        SecretString::from("s3cr3t-T0ken")
    }

    fn body(id: u64, status: &str) -> Vec<u8> {
        format!(r#"{{"document": {{"id": {id}, "code": "DS-1", "status": "{status}"}}}}"#)
            .into_bytes()
    }

    #[test]
    fn token_in_path_query_or_header() {
        let ok = [
            WebhookRequest {
                path: "/webhooks/docsales/s3cr3t-T0ken".into(),
                body: body(7, "approved"),
                ..Default::default()
            },
            WebhookRequest {
                path: "/webhooks/docsales".into(),
                query: Some("a=1&token=s3cr3t-T0ken".into()),
                body: body(7, "approved"),
                ..Default::default()
            },
            WebhookRequest {
                path: "/webhooks/docsales".into(),
                headers: vec![("X-DocSales-Token".into(), "s3cr3t-T0ken".into())],
                body: body(7, "approved"),
                ..Default::default()
            },
        ];
        for r in ok {
            let n = intake(&r, "acme", &secret()).unwrap();
            assert_eq!(n.key.proposal_id, "7");
            assert_eq!(n.key.account, "acme");
            assert!(n.starts_integration());
        }
    }

    #[test]
    fn missing_wrong_and_unconfigured_are_distinct() {
        let r = WebhookRequest {
            path: "/".into(),
            body: body(7, "approved"),
            ..Default::default()
        };
        assert_eq!(intake(&r, "a", &secret()), Err(IntakeError::MissingToken));
        let r = WebhookRequest {
            path: "/webhooks/docsales/s3cr3t-T0kem".into(),
            body: body(7, "approved"),
            ..Default::default()
        };
        assert_eq!(intake(&r, "a", &secret()), Err(IntakeError::WrongToken));
        assert_eq!(
            intake(&r, "a", &SecretString::from("")),
            Err(IntakeError::SecretNotConfigured)
        );
    }

    #[test]
    fn the_token_is_checked_before_the_body_is_read() {
        let r = WebhookRequest {
            path: "/webhooks/docsales/nope".into(),
            body: b"not json".to_vec(),
            ..Default::default()
        };
        assert_eq!(intake(&r, "a", &secret()), Err(IntakeError::WrongToken));
    }

    #[test]
    fn malformed_and_unusable_bodies() {
        let mut r = WebhookRequest {
            path: "/webhooks/docsales/s3cr3t-T0ken".into(),
            body: br#"{"document": {"id": "abc"}}"#.to_vec(),
            ..Default::default()
        };
        match intake(&r, "a", &secret()) {
            Err(IntakeError::MalformedBody(e)) => assert_eq!(e.path, "document.id"),
            other => panic!("{other:?}"),
        }
        r.body = br#"{"document": {"code": "DS-1", "status": "approved"}}"#.to_vec();
        assert!(matches!(
            intake(&r, "a", &secret()),
            Err(IntakeError::Unusable(_))
        ));
        r.body = br#"{"customer": {}}"#.to_vec();
        assert!(matches!(
            intake(&r, "a", &secret()),
            Err(IntakeError::Unusable(_))
        ));
        r.body = vec![b' '; MAX_BODY + 1];
        assert_eq!(
            intake(&r, "a", &secret()),
            Err(IntakeError::BodyTooLarge(MAX_BODY + 1))
        );
    }

    #[test]
    fn only_approved_starts_and_repeats_give_the_same_key() {
        let mk = |status: &str| WebhookRequest {
            path: "/h/s3cr3t-T0ken".into(),
            body: body(44073, status),
            ..Default::default()
        };
        let sent = intake(&mk("sent"), "a", &secret()).unwrap();
        let approved = intake(&mk("approved"), "a", &secret()).unwrap();
        let again = intake(&mk("approved"), "a", &secret()).unwrap();
        let odd = intake(&mk("signed_by_all"), "a", &secret()).unwrap();
        assert!(!sent.starts_integration());
        assert!(approved.starts_integration());
        assert!(!odd.starts_integration());
        assert_eq!(
            odd.status,
            Some(ProposalStatus::Unknown("signed_by_all".into()))
        );
        assert_eq!(sent.key, approved.key);
        assert_eq!(approved, again);
    }

    #[test]
    fn external_uuid_is_the_fallback_reference() {
        let r = WebhookRequest {
            path: "/h/s3cr3t-T0ken".into(),
            body: br#"{"document": {"external_uuid": "9f1c-77ab", "status": "approved"}}"#.to_vec(),
            ..Default::default()
        };
        let n = intake(&r, "a", &secret()).unwrap();
        assert_eq!(n.reference, ProposalRef::ExternalUuid("9f1c-77ab".into()));
        assert_eq!(n.key.proposal_id, "9f1c-77ab");
    }
}
