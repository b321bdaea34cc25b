//! Errors of the NextBilling client, classified for retry decisions.
//!
//! Every [`NextError`] names the server (id and name) and the action (`manageDevices`), never
//! the URL: NextBilling puts the API token and key in the request path. Transport errors keep
//! their `source()` chain with the URL stripped (`reqwest::Error::without_url`), and any text
//! kept from a response has the instance's token and key blanked out before it is stored.

use std::fmt;
use std::time::Duration;

use sig_core::ids::ServerId;
use sig_core::ports::{System, UpstreamError, UpstreamErrorKind};

/// The largest request body NextBilling accepts (HTTP 413 beyond it).
pub const MAX_BODY_BYTES: usize = 128 * 1024;

/// The largest answer the client reads (a customer's device list is far smaller).
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// A NextBilling API action: the path segment after `/api/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Action {
    /// `PUT manageCustomers`: create or alter an Assinante.
    ManageCustomers,
    /// `POST statusCustomer`: activate or deactivate an Assinante.
    StatusCustomer,
    /// `PUT manageDevices/…/1`: create a Linha IP.
    ManageDevices,
    /// `GET listDevices/…/<id_cliente>`: a customer's Linhas IP.
    ListDevices,
    /// `PUT manageDID`: create, alter or route a DID.
    ManageDid,
    /// `GET listCustomers?id_origem=…`: find a customer by SIG's id. `[inferred]`
    ListCustomers,
    /// `GET listDIDs/…/<customer_id>`: a customer's DIDs. `[inferred]`
    ListDids,
}

impl Action {
    /// The action's name in the path.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::ManageCustomers => "manageCustomers",
            Action::StatusCustomer => "statusCustomer",
            Action::ManageDevices => "manageDevices",
            Action::ListDevices => "listDevices",
            Action::ManageDid => "manageDID",
            Action::ListCustomers => "listCustomers",
            Action::ListDids => "listDIDs",
        }
    }

    /// The action for a path segment (the sandbox routes with it).
    pub fn from_name(name: &str) -> Option<Action> {
        [
            Action::ManageCustomers,
            Action::StatusCustomer,
            Action::ManageDevices,
            Action::ListDevices,
            Action::ManageDid,
            Action::ListCustomers,
            Action::ListDids,
        ]
        .into_iter()
        .find(|a| a.as_str() == name)
    }

    /// The HTTP method NextBilling documents for it.
    pub fn method(self) -> reqwest::Method {
        match self {
            Action::ManageCustomers | Action::ManageDevices | Action::ManageDid => {
                reqwest::Method::PUT
            }
            Action::StatusCustomer => reqwest::Method::POST,
            Action::ListDevices | Action::ListCustomers | Action::ListDids => reqwest::Method::GET,
        }
    }

    /// Whether the action changes state upstream (so an ambiguous failure may have applied it).
    pub fn is_write(self) -> bool {
        self.method() != reqwest::Method::GET
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What went wrong, without the context [`NextError`] adds.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NextErrorKind {
    /// The request body is over NextBilling's 128 kB limit; nothing was sent.
    #[error("request body is {size} bytes, over the {limit}-byte limit; not sent")]
    BodyTooLarge {
        /// The body's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The request body could not be encoded; nothing was sent.
    #[error("request body could not be encoded; not sent")]
    Encode(#[source] serde_json::Error),
    /// No HTTP answer: connection refused or reset, timeout, broken body. The URL is stripped.
    #[error("{}", transport_text(*.timed_out, *.connect))]
    Transport {
        /// The attempt ran out of time.
        timed_out: bool,
        /// The connection could not be established (so nothing was sent).
        connect: bool,
        /// reqwest's error, without its URL.
        #[source]
        source: reqwest::Error,
    },
    /// An HTTP error status.
    #[error("HTTP {status} ({}){}", status_meaning(*.status), reason_suffix(.reason.as_deref()))]
    Http {
        /// The status.
        status: u16,
        /// The envelope's `reason`, when the body was a JSON envelope (credentials blanked).
        reason: Option<String>,
        /// `Retry-After`, when given.
        retry_after: Option<Duration>,
    },
    /// HTTP 2xx with `{"error": 1, "reason": …}`: NextBilling refused the request.
    #[error("refused (error={code}): {reason}")]
    Refused {
        /// The envelope's `error` value.
        code: i64,
        /// The envelope's `reason`, verbatim except credentials blanked.
        reason: String,
    },
    /// HTTP 2xx whose body does not decode.
    #[error("HTTP {status}: response does not decode at `{path}`: {message}")]
    Decode {
        /// The status.
        status: u16,
        /// JSON path of the offending field (`.` for the document).
        path: String,
        /// What serde said; it may quote a response value, so credentials are blanked.
        message: String,
    },
    /// The answer is larger than the client reads.
    #[error("HTTP {status}: response larger than {limit} bytes; not read")]
    ResponseTooLarge {
        /// The status.
        status: u16,
        /// The limit.
        limit: usize,
    },
    /// A write succeeded but neither its answer nor a lookup by SIG's id gave the record's id.
    #[error("succeeded but the new record cannot be found by its SIG id")]
    NotFoundAfterCreate,
}

fn transport_text(timed_out: bool, connect: bool) -> &'static str {
    match (timed_out, connect) {
        (true, true) => "connect timed out (request not sent)",
        (true, false) => "timed out waiting for the answer",
        (false, true) => "could not connect (request not sent)",
        (false, false) => "transport failure (connection reset or broken answer)",
    }
}

fn status_meaning(status: u16) -> &'static str {
    match status {
        400 => "incomplete request",
        403 => "bad token",
        404 => "unknown option",
        413 => "body larger than 128 kB",
        422 => "missing parameter",
        429 => "too many simultaneous requests",
        500..=599 => "server error",
        _ => "unexpected status",
    }
}

fn reason_suffix(reason: Option<&str>) -> String {
    reason.map(|r| format!(": {r}")).unwrap_or_default()
}

/// A failed NextBilling call: which server, which action, which record, and what happened.
///
/// `Display` reads `nextbilling server next-sp1 (São Paulo 1) manageDevices [line 0190…]:
/// HTTP 503 (server error)`; neither it nor `Debug` ever holds a URL, token or key.
#[derive(Debug, thiserror::Error)]
#[error("nextbilling server {server_id} ({server_name}) {action}{}: {kind}", record_suffix(.record.as_deref()))]
pub struct NextError {
    /// The server's SIG id.
    pub server_id: ServerId,
    /// The server's display name.
    pub server_name: String,
    /// The action called.
    pub action: Action,
    /// The record involved (a SIG id or NextBilling id), when known.
    pub record: Option<String>,
    /// What happened.
    #[source]
    pub kind: NextErrorKind,
}

fn record_suffix(record: Option<&str>) -> String {
    record.map(|r| format!(" [{r}]")).unwrap_or_default()
}

impl NextError {
    /// The HTTP status, when there was an answer.
    pub fn status(&self) -> Option<u16> {
        match &self.kind {
            NextErrorKind::Http { status, .. }
            | NextErrorKind::Decode { status, .. }
            | NextErrorKind::ResponseTooLarge { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The kind of failure as the upstream call event names it (one of
    /// [`sig_core::ports::UPSTREAM_ERROR_KINDS`]).
    pub fn outcome_kind(&self) -> &'static str {
        match &self.kind {
            NextErrorKind::Transport {
                timed_out: true, ..
            } => "timeout",
            NextErrorKind::Transport { .. } => "transport",
            NextErrorKind::Http { status, .. } => match status {
                429 => "rate_limited",
                401 | 403 => "unauthorized",
                404 => "not_found",
                422 => "rejected",
                500..=599 => "server_error",
                _ => "other",
            },
            NextErrorKind::Refused { .. } => "rejected",
            NextErrorKind::Decode { .. } | NextErrorKind::ResponseTooLarge { .. } => "decode",
            NextErrorKind::BodyTooLarge { .. }
            | NextErrorKind::Encode(_)
            | NextErrorKind::NotFoundAfterCreate => "other",
        }
    }

    /// The classification the pipeline retries by: 429 rate limited; 5xx, transport, timeouts
    /// and undecodable answers transient; 403 unauthorized; 422 and envelope refusals
    /// rejected; 400, 404, 413 and other 4xx permanent.
    pub fn class(&self) -> UpstreamErrorKind {
        match &self.kind {
            NextErrorKind::BodyTooLarge { .. }
            | NextErrorKind::Encode(_)
            | NextErrorKind::ResponseTooLarge { .. } => UpstreamErrorKind::Permanent,
            NextErrorKind::Transport { .. }
            | NextErrorKind::Decode { .. }
            | NextErrorKind::NotFoundAfterCreate => UpstreamErrorKind::Transient,
            NextErrorKind::Http { status, .. } => match status {
                429 => UpstreamErrorKind::RateLimited,
                403 => UpstreamErrorKind::Unauthorized,
                422 => UpstreamErrorKind::Rejected,
                500..=599 => UpstreamErrorKind::Transient,
                _ => UpstreamErrorKind::Permanent,
            },
            NextErrorKind::Refused { .. } => UpstreamErrorKind::Rejected,
        }
    }

    /// Whether calling again later can help.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.class(),
            UpstreamErrorKind::Transient | UpstreamErrorKind::RateLimited
        )
    }

    /// Whether a write may have been applied upstream although the call failed: a 5xx, a
    /// timeout or reset after sending, or a 2xx that did not decode. Never for reads, for
    /// requests never sent (connect failures, oversized bodies), 429 or other 4xx.
    pub fn maybe_applied(&self) -> bool {
        if !self.action.is_write() {
            return false;
        }
        match &self.kind {
            NextErrorKind::Transport { connect, .. } => !connect,
            NextErrorKind::Decode { .. }
            | NextErrorKind::NotFoundAfterCreate
            | NextErrorKind::ResponseTooLarge { .. } => true,
            NextErrorKind::Http { status, .. } => (500..=599).contains(status),
            NextErrorKind::BodyTooLarge { .. }
            | NextErrorKind::Encode(_)
            | NextErrorKind::Refused { .. } => false,
        }
    }

    /// The wait NextBilling asked for (`Retry-After` on a 429), if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match &self.kind {
            NextErrorKind::Http { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Sets the record involved.
    pub fn with_record(mut self, record: impl Into<String>) -> Self {
        self.record = Some(record.into());
        self
    }
}

impl From<NextError> for UpstreamError {
    fn from(e: NextError) -> Self {
        let mut up = UpstreamError::new(
            System::NextBilling,
            e.action.as_str(),
            e.class(),
            format!("server {} ({}): {}", e.server_id, e.server_name, e.kind),
        )
        .maybe_applied(e.maybe_applied());
        if let Some(status) = e.status() {
            up = up.with_status(status);
        }
        if let NextErrorKind::Refused { code, .. } = &e.kind {
            up = up.with_code(code.to_string());
        }
        if let Some(wait) = e.retry_after() {
            up = up.with_retry_after(wait);
        }
        if let Some(record) = &e.record {
            up = up.with_record(record.clone());
        }
        up.with_source(e)
    }
}

/// The client could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The base URL cannot take path segments (`mailto:`, `data:`) or is not HTTP(S).
    #[error("server {server_id}: base URL must be an http or https URL that can take a path")]
    BadBaseUrl {
        /// The server's SIG id.
        server_id: ServerId,
    },
    /// The API token or key is empty or holds a `/`, `?` or `#`.
    #[error("server {server_id}: API {which} is empty or holds `/`, `?` or `#`")]
    BadCredential {
        /// The server's SIG id.
        server_id: ServerId,
        /// `token` or `key`.
        which: &'static str,
    },
    /// The HTTP client could not be set up (TLS back-end).
    #[error("server {server_id}: HTTP client could not be set up")]
    Http {
        /// The server's SIG id.
        server_id: ServerId,
        /// reqwest's error (it holds no URL here).
        #[source]
        source: reqwest::Error,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(action: Action, kind: NextErrorKind) -> NextError {
        NextError {
            server_id: "next-sp1".parse().unwrap(),
            server_name: "São Paulo 1".into(),
            action,
            record: None,
            kind,
        }
    }

    fn http(status: u16) -> NextErrorKind {
        NextErrorKind::Http {
            status,
            reason: None,
            retry_after: None,
        }
    }

    #[test]
    fn documented_statuses_are_classified() {
        use UpstreamErrorKind as K;
        let cases = [
            (400, K::Permanent, false),
            (403, K::Unauthorized, false),
            (404, K::Permanent, false),
            (413, K::Permanent, false),
            (422, K::Rejected, false),
            (429, K::RateLimited, true),
            (500, K::Transient, true),
            (503, K::Transient, true),
        ];
        for (status, kind, retryable) in cases {
            let e = err(Action::ManageDevices, http(status));
            assert_eq!(e.class(), kind, "{status}");
            assert_eq!(e.is_retryable(), retryable, "{status}");
            assert_eq!(e.maybe_applied(), status >= 500, "{status}");
            assert_eq!(e.status(), Some(status));
        }
    }

    #[test]
    fn reads_are_never_maybe_applied() {
        let e = err(Action::ListDevices, http(503));
        assert!(e.is_retryable());
        assert!(!e.maybe_applied());
    }

    #[test]
    fn refusals_are_rejected_and_not_applied() {
        let e = err(
            Action::ManageCustomers,
            NextErrorKind::Refused {
                code: 1,
                reason: "CPF inválido".into(),
            },
        )
        .with_record("0190abcd");
        assert_eq!(e.class(), UpstreamErrorKind::Rejected);
        assert!(!e.maybe_applied());
        let text = e.to_string();
        assert_eq!(
            text,
            "nextbilling server next-sp1 (São Paulo 1) manageCustomers [0190abcd]: refused (error=1): CPF inválido"
        );
        let up = UpstreamError::from(e);
        assert_eq!(up.system, System::NextBilling);
        assert_eq!(up.call, "manageCustomers");
        assert_eq!(up.code.as_deref(), Some("1"));
        assert_eq!(up.record.as_deref(), Some("0190abcd"));
        assert!(!up.is_retryable());
    }

    #[test]
    fn oversized_bodies_are_permanent_and_not_applied() {
        let e = err(
            Action::ManageCustomers,
            NextErrorKind::BodyTooLarge {
                size: MAX_BODY_BYTES + 1,
                limit: MAX_BODY_BYTES,
            },
        );
        assert_eq!(e.class(), UpstreamErrorKind::Permanent);
        assert!(!e.maybe_applied());
    }

    #[test]
    fn rate_limits_carry_their_wait_to_the_port_error() {
        let e = err(
            Action::ListDevices,
            NextErrorKind::Http {
                status: 429,
                reason: Some("Too many".into()),
                retry_after: Some(Duration::from_secs(2)),
            },
        );
        let up = UpstreamError::from(e);
        assert_eq!(up.kind, UpstreamErrorKind::RateLimited);
        assert_eq!(up.retry_after, Some(Duration::from_secs(2)));
        assert_eq!(up.status, Some(429));
        assert!(up.is_retryable());
    }

    #[test]
    fn action_names_round_trip() {
        for a in [
            Action::ManageCustomers,
            Action::StatusCustomer,
            Action::ManageDevices,
            Action::ListDevices,
            Action::ManageDid,
            Action::ListCustomers,
            Action::ListDids,
        ] {
            assert_eq!(Action::from_name(a.as_str()), Some(a));
        }
        assert_eq!(Action::from_name("deleteEverything"), None);
    }
}
