//! The typed DocSales REST client.
//!
//! Documented calls (reference §1.1): [`get_proposal`](DocSalesClient::get_proposal),
//! [`customer_proposals`](DocSalesClient::customer_proposals),
//! [`registration_data`](DocSalesClient::registration_data) and
//! [`create_document`](DocSalesClient::create_document) (its path is `[inferred]`). The calls
//! SIG needs beyond the documentation are `[inferred]`, one method each:
//! [`list_approved`](DocSalesClient::list_approved) (reconciliation) and
//! [`upsert_customer`](DocSalesClient::upsert_customer) (SIG → DocSales).
//!
//! The Bearer token is a [`SecretString`], exposed in exactly one place (where the request is
//! built). Reads and the idempotent `PUT` are retried on transient failures with jittered
//! exponential backoff (honouring `Retry-After`); the `POST` that creates a document is never
//! retried blindly.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use sig_core::Cnpj;
use sig_core::config::DocSalesAccount;
use sig_core::ports::UPSTREAM_EVENT_TARGET;
use url::Url;

use crate::error::{DocSalesError, clip};
use crate::wire::{
    self, CreatedRecord, CustomerRecord, Document, NewDocument, ProposalDocument, ProposalPage,
    ProposalRef, RegistrationData,
};

/// Default per-attempt timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);
/// Default attempts for a retryable call.
pub const DEFAULT_ATTEMPTS: u32 = 3;

/// How a customer is named to `GET /api/v1/customers/{customer_id}/proposals`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomerRef {
    /// The customer's code.
    Code(String),
    /// DocSales' internal id (the number in `/customers/48011/edit`).
    Id(u64),
    /// The customer's CNPJ (sent unmasked).
    Cnpj(Cnpj),
}

impl CustomerRef {
    fn segment(&self) -> String {
        match self {
            CustomerRef::Code(c) => c.clone(),
            CustomerRef::Id(n) => n.to_string(),
            CustomerRef::Cnpj(c) => c.as_str().to_owned(),
        }
    }
}

/// Retry settings for idempotent calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, at least 1.
    pub attempts: u32,
    /// Wait before the second attempt; doubled each time, with ±25 % jitter.
    pub base_delay: Duration,
    /// Longest wait between attempts (also caps `Retry-After`).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: DEFAULT_ATTEMPTS,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// A single attempt, no retry.
    pub fn none() -> Self {
        RetryPolicy {
            attempts: 1,
            ..RetryPolicy::default()
        }
    }

    fn delay(&self, attempt: u32, asked: Option<Duration>) -> Duration {
        if let Some(d) = asked {
            return d.min(self.max_delay);
        }
        let exp = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.max_delay);
        // ±25 % jitter from the clock's nanoseconds: enough to spread simultaneous retries.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let factor = 0.75 + f64::from(nanos % 1000) / 2000.0;
        exp.mul_f64(factor)
    }
}

/// Builds a [`DocSalesClient`].
pub struct DocSalesClientBuilder {
    base_url: Url,
    token: SecretString,
    account: String,
    timeout: Duration,
    retry: RetryPolicy,
    http: Option<reqwest::Client>,
}

impl fmt::Debug for DocSalesClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DocSalesClientBuilder")
            .field("base_url", &self.base_url.as_str())
            .field("account", &self.account)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl DocSalesClientBuilder {
    /// The account id SIG knows this DocSales account by (the source key's account).
    pub fn account(mut self, account: impl Into<String>) -> Self {
        self.account = account.into();
        self
    }

    /// Timeout of each attempt (not of the whole call with its retries).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Retry settings for reads and idempotent writes.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Use this HTTP client (connection pool shared with other clients).
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Build the client.
    ///
    /// # Errors
    /// [`DocSalesError::InvalidInput`] when the base URL cannot take a path (`mailto:`, …).
    pub fn build(self) -> Result<DocSalesClient, DocSalesError> {
        if self.base_url.cannot_be_a_base() || !matches!(self.base_url.scheme(), "http" | "https") {
            return Err(DocSalesError::InvalidInput {
                call: "build",
                field: "base_url",
                message: "an http(s) URL such as https://web.docsales.com/api/v1/ is expected"
                    .into(),
            });
        }
        let http = match self.http {
            Some(h) => h,
            None => {
                reqwest::Client::builder()
                    .build()
                    .map_err(|e| DocSalesError::InvalidInput {
                        call: "build",
                        field: "http_client",
                        message: clip(&e.without_url().to_string()),
                    })?
            }
        };
        Ok(DocSalesClient {
            inner: Arc::new(Inner {
                http,
                base_url: self.base_url,
                token: self.token,
                account: self.account,
                timeout: self.timeout,
                retry: RetryPolicy {
                    attempts: self.retry.attempts.max(1),
                    ..self.retry
                },
            }),
        })
    }
}

struct Inner {
    http: reqwest::Client,
    base_url: Url,
    token: SecretString,
    account: String,
    timeout: Duration,
    retry: RetryPolicy,
}

/// The DocSales client. Cheap to clone.
#[derive(Clone)]
pub struct DocSalesClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for DocSalesClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DocSalesClient")
            .field("account", &self.inner.account)
            .field("base_url", &self.inner.base_url.as_str())
            .field("timeout", &self.inner.timeout)
            .field("retry", &self.inner.retry)
            .finish_non_exhaustive()
    }
}

/// Whether a call may be repeated without risk of a second effect.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Idempotent {
    Yes,
    No,
}

impl DocSalesClient {
    /// A builder for the API at `base_url` (`https://web.docsales.com/api/v1/`) with `token`.
    pub fn builder(base_url: Url, token: SecretString) -> DocSalesClientBuilder {
        DocSalesClientBuilder {
            base_url,
            token,
            account: String::new(),
            timeout: DEFAULT_TIMEOUT,
            retry: RetryPolicy::default(),
            http: None,
        }
    }

    /// A client for a configured account (its id, base URL and token).
    ///
    /// # Errors
    /// As [`DocSalesClientBuilder::build`].
    pub fn from_account(account: &DocSalesAccount) -> Result<Self, DocSalesError> {
        Self::builder(account.base_url.clone(), account.token.clone())
            .account(account.id.as_str())
            .build()
    }

    /// The account id this client reads.
    pub fn account(&self) -> &str {
        &self.inner.account
    }

    /// The API base URL.
    pub fn base_url(&self) -> &Url {
        &self.inner.base_url
    }

    /// `GET /api/v1/proposals/{id}` [documented]: one proposal in full, by internal id or
    /// external uuid. The body is assumed `[inferred]` to have the webhook's shape.
    ///
    /// # Errors
    /// Any [`DocSalesError`]; a missing proposal is HTTP 404.
    pub async fn get_proposal(
        &self,
        proposal: &ProposalRef,
    ) -> Result<ProposalDocument, DocSalesError> {
        self.get_proposal_with(proposal, wire::decode_proposal)
            .await
    }

    /// [`get_proposal`](Self::get_proposal) with the body read by `read` instead of
    /// [`wire::decode_proposal`]: the proposal source reads it straight into its mapping
    /// ([`crate::mapping::decode_sourced`]).
    ///
    /// # Errors
    /// Any [`DocSalesError`]; `read`'s error is [`DocSalesError::Decode`].
    pub async fn get_proposal_with<T>(
        &self,
        proposal: &ProposalRef,
        read: impl FnOnce(&[u8]) -> Result<T, wire::DecodeError>,
    ) -> Result<T, DocSalesError> {
        const CALL: &str = "get_proposal";
        let url = self.url(&["proposals", &proposal.as_segment()], &[]);
        let (status, body) = self
            .execute(CALL, Method::GET, url, None, Idempotent::Yes)
            .await?;
        read(&body).map_err(|source| DocSalesError::Decode {
            call: CALL,
            status,
            source,
        })
    }

    /// `GET /api/v1/customers/{customer_id}/proposals` [documented]: a customer's documents.
    /// The answer may be a bare list or `{"proposals": [...]}` `[inferred]`.
    ///
    /// # Errors
    /// Any [`DocSalesError`].
    pub async fn customer_proposals(
        &self,
        customer: &CustomerRef,
    ) -> Result<ProposalPage, DocSalesError> {
        const CALL: &str = "customer_proposals";
        let segment = customer.segment();
        if segment
            .trim_matches(|c: char| c.is_ascii_whitespace())
            .is_empty()
        {
            return Err(DocSalesError::InvalidInput {
                call: CALL,
                field: "customer",
                message: "a customer code, id or CNPJ is required".into(),
            });
        }
        let url = self.url(&["customers", &segment, "proposals"], &[]);
        let (status, body) = self
            .execute(CALL, Method::GET, url, None, Idempotent::Yes)
            .await?;
        decode_page(&body).map_err(|source| DocSalesError::Decode {
            call: CALL,
            status,
            source,
        })
    }

    /// `GET /api/v1/registration-data` [documented]: payment methods, products, templates,
    /// signer roles and sellers (table names `[inferred]`).
    ///
    /// # Errors
    /// Any [`DocSalesError`].
    pub async fn registration_data(&self) -> Result<RegistrationData, DocSalesError> {
        const CALL: &str = "registration_data";
        let url = self.url(&["registration-data"], &[]);
        let (status, body) = self
            .execute(CALL, Method::GET, url, None, Idempotent::Yes)
            .await?;
        wire::decode(&body).map_err(|source| DocSalesError::Decode {
            call: CALL,
            status,
            source,
        })
    }

    /// Create a sales document [documented call; path `POST /api/v1/proposals` and body
    /// `{"proposal": {...}}` `[inferred]`]. Not retried: DocSales has no idempotency key, so a
    /// caller that sees [`DocSalesError::maybe_applied`] should look the document up by its
    /// `code` (via [`customer_proposals`](Self::customer_proposals)) before trying again.
    ///
    /// # Errors
    /// Any [`DocSalesError`].
    pub async fn create_document(
        &self,
        document: &NewDocument,
    ) -> Result<CreatedRecord, DocSalesError> {
        const CALL: &str = "create_document";
        #[derive(Serialize)]
        struct Body<'a> {
            proposal: &'a NewDocument,
        }
        let body = to_body(CALL, &Body { proposal: document })?;
        let url = self.url(&["proposals"], &[]);
        let (status, body) = self
            .execute(CALL, Method::POST, url, Some(body), Idempotent::No)
            .await?;
        wire::decode_wrapped(&body, "proposal").map_err(|source| DocSalesError::Decode {
            call: CALL,
            status,
            source,
        })
    }

    /// `[inferred]` `GET /api/v1/proposals?status=approved[&cursor=…]`: approved proposals
    /// changed since `cursor`, for reconciliation. The answer is `{"proposals": [...],
    /// "next_cursor": "…" | null}` `[inferred]`.
    ///
    /// # Errors
    /// Any [`DocSalesError`].
    pub async fn list_approved(&self, cursor: Option<&str>) -> Result<ProposalPage, DocSalesError> {
        const CALL: &str = "list_approved";
        let mut query = vec![("status", "approved")];
        if let Some(c) = cursor {
            query.push(("cursor", c));
        }
        let url = self.url(&["proposals"], &query);
        let (status, body) = self
            .execute(CALL, Method::GET, url, None, Idempotent::Yes)
            .await?;
        decode_page(&body).map_err(|source| DocSalesError::Decode {
            call: CALL,
            status,
            source,
        })
    }

    /// `[inferred]` `PUT /api/v1/customers/{code}` with `{"customer": {...}}`: create or update
    /// the customer record keyed by `code` (SIG's customer id), so a repeat updates instead of
    /// duplicating. Retried like a read because `PUT` is idempotent.
    ///
    /// # Errors
    /// Any [`DocSalesError`].
    pub async fn upsert_customer(
        &self,
        code: &str,
        record: &CustomerRecord,
    ) -> Result<CreatedRecord, DocSalesError> {
        const CALL: &str = "upsert_customer";
        if code
            .trim_matches(|c: char| c.is_ascii_whitespace())
            .is_empty()
        {
            return Err(DocSalesError::InvalidInput {
                call: CALL,
                field: "code",
                message: "a customer code is required".into(),
            });
        }
        #[derive(Serialize)]
        struct Body<'a> {
            customer: &'a CustomerRecord,
        }
        let body = to_body(CALL, &Body { customer: record })?;
        let url = self.url(&["customers", code], &[]);
        let (status, body) = self
            .execute(CALL, Method::PUT, url, Some(body), Idempotent::Yes)
            .await?;
        wire::decode_wrapped(&body, "customer").map_err(|source| DocSalesError::Decode {
            call: CALL,
            status,
            source,
        })
    }

    /// The base URL with `segments` appended (each percent-encoded) and `query`.
    fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        let mut url = self.inner.base_url.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url.set_query(None);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    async fn execute(
        &self,
        call: &'static str,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
        idempotent: Idempotent,
    ) -> Result<(u16, Vec<u8>), DocSalesError> {
        let policy = self.inner.retry;
        let mut attempt = 1;
        loop {
            let result = self
                .once(call, method.clone(), url.clone(), body.clone())
                .await;
            match result {
                Err(e)
                    if idempotent == Idempotent::Yes
                        && attempt < policy.attempts
                        && e.is_retryable() =>
                {
                    let wait = policy.delay(attempt, e.retry_after());
                    tracing::warn!(
                        call,
                        attempt,
                        status = e.status(),
                        wait_ms = wait.as_millis() as u64,
                        "DocSales call failed, retrying"
                    );
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// One attempt, observed: the upstream call event (`sig_core::ports` docs) is emitted here.
    async fn once(
        &self,
        call: &'static str,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
    ) -> Result<(u16, Vec<u8>), DocSalesError> {
        let started = std::time::Instant::now();
        let result = self.attempt(call, method, url, body).await;
        tracing::debug!(
            target: UPSTREAM_EVENT_TARGET,
            system = "docsales",
            call,
            outcome = result.as_ref().map_or_else(DocSalesError::outcome_kind, |_| "ok"),
            status = match &result {
                Ok((status, _)) => Some(*status),
                Err(e) => e.status(),
            },
            elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "upstream call"
        );
        result
    }

    /// One attempt. The only place the token is exposed.
    async fn attempt(
        &self,
        call: &'static str,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
    ) -> Result<(u16, Vec<u8>), DocSalesError> {
        let mut request = self
            .inner
            .http
            .request(method, url)
            .bearer_auth(self.inner.token.expose_secret())
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(self.inner.timeout);
        if let Some(b) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(b);
        }
        let transport = |e: reqwest::Error| DocSalesError::Transport {
            call,
            timed_out: e.is_timeout(),
            maybe_sent: !e.is_connect() && !e.is_builder(),
            source: e.without_url(),
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = response.bytes().await.map_err(transport)?;
        tracing::debug!(call, status, bytes = bytes.len(), "DocSales answered");
        if (200..300).contains(&status) {
            return Ok((status, bytes.to_vec()));
        }
        let (error, message) = error_fields(&bytes);
        Err(DocSalesError::Http {
            call,
            status,
            error,
            message,
            retry_after,
        })
    }
}

fn to_body<T: Serialize>(call: &'static str, value: &T) -> Result<Vec<u8>, DocSalesError> {
    serde_json::to_vec(value).map_err(|e| DocSalesError::InvalidInput {
        call,
        field: "body",
        message: e.to_string(),
    })
}

/// DocSales' error body: JSON with `error` or `message` (reference §1.2). Anything else (an
/// HTML page from a proxy) gives neither.
fn error_fields(body: &[u8]) -> (Option<String>, Option<String>) {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(body)
    else {
        return (None, None);
    };
    let text = |k: &str| match map.get(k) {
        Some(serde_json::Value::String(s)) if !s.trim().is_empty() => Some(clip(s)),
        Some(serde_json::Value::Null) | None => None,
        Some(serde_json::Value::String(_)) => None,
        Some(other) => Some(clip(&other.to_string())),
    };
    (text("error"), text("message"))
}

/// A page of proposals: a bare list, or `{"proposals": [...], "next_cursor": …}`.
fn decode_page(body: &[u8]) -> Result<ProposalPage, wire::DecodeError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'[') {
        let proposals: Vec<Document> = wire::decode(body)?;
        return Ok(ProposalPage {
            proposals,
            ..ProposalPage::default()
        });
    }
    wire::decode(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_encoded_and_base_paths_kept() {
        let c = DocSalesClient::builder(
            Url::parse("https://web.docsales.com/api/v1/").unwrap(),
            SecretString::from("t"),
        )
        .build()
        .unwrap();
        assert_eq!(
            c.url(&["customers", "a b/c", "proposals"], &[]).as_str(),
            "https://web.docsales.com/api/v1/customers/a%20b%2Fc/proposals"
        );
        assert_eq!(
            c.url(&["proposals"], &[("status", "approved"), ("cursor", "x&y")])
                .as_str(),
            "https://web.docsales.com/api/v1/proposals?status=approved&cursor=x%26y"
        );
    }

    #[test]
    fn retry_delays_grow_and_honour_retry_after() {
        let p = RetryPolicy::default();
        assert!(p.delay(1, None) <= Duration::from_millis(250));
        assert!(p.delay(3, None) >= Duration::from_millis(600));
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(60))),
            Duration::from_secs(10)
        );
    }

    #[test]
    fn non_http_base_urls_are_refused() {
        let e = DocSalesClient::builder(
            Url::parse("mailto:x@example.invalid").unwrap(),
            SecretString::from("t"),
        )
        .build()
        .unwrap_err();
        assert!(matches!(
            e,
            DocSalesError::InvalidInput {
                field: "base_url",
                ..
            }
        ));
    }
}
