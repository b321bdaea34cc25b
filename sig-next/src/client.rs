//! The typed NextBilling client for one instance (one ServidorNext).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};
use reqwest::header::{ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sig_core::config::ServerConfig;
use sig_core::ids::{CustomerId, DidId, LineId, ServerId};
use sig_core::ports::{Health, UPSTREAM_EVENT_TARGET};
use url::Url;

use crate::error::{
    Action, BuildError, MAX_BODY_BYTES, MAX_RESPONSE_BYTES, NextError, NextErrorKind,
};
use crate::keys;
use crate::wire::{
    CustomerBody, CustomerList, CustomerRecord, Device, DeviceBody, DeviceList, DidBody, DidList,
    DidRecord, Envelope, StatusAnswer, StatusBody, WriteAnswer,
};

/// Default time limit of one HTTP attempt.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default time limit to establish a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default number of retries of a read after a retryable failure.
pub const DEFAULT_READ_RETRIES: usize = 3;

/// Longest response text (a `reason`) kept in an error.
const MAX_REASON_CHARS: usize = 500;

/// Configures a [`NextClient`]; see [`NextClient::builder`].
pub struct NextClientBuilder {
    server_id: ServerId,
    server_name: String,
    base_url: Url,
    token: SecretString,
    key: SecretString,
    timeout: Duration,
    connect_timeout: Duration,
    read_retries: usize,
    retry_min_delay: Duration,
}

impl fmt::Debug for NextClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NextClientBuilder")
            .field("server_id", &self.server_id)
            .field("server_name", &self.server_name)
            .field("base_url", &self.base_url.as_str())
            .field("timeout", &self.timeout)
            .field("read_retries", &self.read_retries)
            .finish_non_exhaustive()
    }
}

impl NextClientBuilder {
    /// Time limit of one HTTP attempt (default 30 s). Reads retry within their own attempts;
    /// writes are attempted once.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Time limit to connect (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How many times a read is retried after a retryable failure (default 3), with jittered
    /// exponential backoff starting at [`retry_min_delay`](Self::retry_min_delay). Writes are
    /// never retried by the client: NextBilling has no idempotency key, so a write is retried
    /// only by calling an `ensure_*` again, which looks the record up first.
    pub fn read_retries(mut self, retries: usize) -> Self {
        self.read_retries = retries;
        self
    }

    /// First backoff delay between read attempts (default 200 ms).
    pub fn retry_min_delay(mut self, delay: Duration) -> Self {
        self.retry_min_delay = delay;
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// The base URL cannot take a path, a credential is empty or holds path punctuation, or
    /// the HTTP client cannot be set up.
    pub fn build(self) -> Result<NextClient, BuildError> {
        let server_id = self.server_id;
        if !matches!(self.base_url.scheme(), "http" | "https") || self.base_url.cannot_be_a_base() {
            return Err(BuildError::BadBaseUrl { server_id });
        }
        for (which, secret) in [("token", &self.token), ("key", &self.key)] {
            let s = secret.expose_secret();
            if s.is_empty() || s.contains(['/', '?', '#']) {
                return Err(BuildError::BadCredential { server_id, which });
            }
        }
        let http = reqwest::Client::builder()
            // A redirect would resend the credentials in the path to wherever it points.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .build()
            .map_err(|e| BuildError::Http {
                server_id: server_id.clone(),
                source: e.without_url(),
            })?;
        Ok(NextClient {
            inner: Arc::new(Inner {
                server_id,
                server_name: self.server_name,
                base_url: self.base_url,
                token: self.token,
                key: self.key,
                http,
                read_retries: self.read_retries,
                retry_min_delay: self.retry_min_delay,
                ensuring: Mutex::default(),
            }),
        })
    }
}

struct Inner {
    server_id: ServerId,
    server_name: String,
    base_url: Url,
    token: SecretString,
    key: SecretString,
    http: reqwest::Client,
    read_retries: usize,
    retry_min_delay: Duration,
    /// One lock per SIG record being ensured, so two tasks of this process never create the
    /// same record twice (NextBilling would accept the duplicate).
    ensuring: Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>,
}

/// A typed client for one NextBilling instance. Cheap to clone (an `Arc`).
///
/// `Debug` shows the server's id, name and base URL, never the token or key; no error or
/// tracing event it produces holds a request URL.
#[derive(Clone)]
pub struct NextClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for NextClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NextClient")
            .field("server_id", &self.inner.server_id)
            .field("server_name", &self.inner.server_name)
            .field("base_url", &self.inner.base_url.as_str())
            .finish_non_exhaustive()
    }
}

/// One request: what to call and with what.
struct Call<'a> {
    action: Action,
    /// The trailing path id (`/<id>`).
    path_id: Option<i64>,
    query: &'a [(&'a str, String)],
    body: Option<Vec<u8>>,
    record: Option<&'a str>,
    timeout: Option<Duration>,
}

impl NextClient {
    /// Starts configuring a client for the server `server_id` called `server_name`, reached at
    /// `base_url` (`https://sip.example.com.br/`) with its API token and key.
    pub fn builder(
        server_id: ServerId,
        server_name: impl Into<String>,
        base_url: Url,
        api_token: SecretString,
        api_key: SecretString,
    ) -> NextClientBuilder {
        NextClientBuilder {
            server_id,
            server_name: server_name.into(),
            base_url,
            token: api_token,
            key: api_key,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            read_retries: DEFAULT_READ_RETRIES,
            retry_min_delay: Duration::from_millis(200),
        }
    }

    /// Starts configuring a client for a ServidorNext from `sig.toml`.
    pub fn from_server(server: &ServerConfig) -> NextClientBuilder {
        Self::builder(
            server.id.clone(),
            server.name.clone(),
            server.base_url.clone(),
            server.api_token.clone(),
            server.api_key.clone(),
        )
    }

    /// The server's SIG id.
    pub fn server_id(&self) -> &ServerId {
        &self.inner.server_id
    }

    /// The server's display name.
    pub fn server_name(&self) -> &str {
        &self.inner.server_name
    }

    /// Serialises `ensure_*` calls for one SIG record within this process (other processes
    /// are the pipeline's business: it runs one step per record at a time).
    pub(crate) async fn lock_record(&self, key: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut map = self
                .inner
                .ensuring
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            map.retain(|_, weak| weak.strong_count() > 0);
            if let Some(lock) = map.get(key).and_then(Weak::upgrade) {
                lock
            } else {
                let lock = Arc::new(tokio::sync::Mutex::new(()));
                map.insert(key.to_owned(), Arc::downgrade(&lock));
                lock
            }
        };
        lock.lock_owned().await
    }

    // -----------------------------------------------------------------------------------------
    // Documented calls
    // -----------------------------------------------------------------------------------------

    /// `PUT manageCustomers`: creates an Assinante (needs a Master token). Answers the new
    /// customer's id when the response carries one (`id` or `customer_id`, `[inferred]`).
    ///
    /// # Errors
    /// See [`NextError`]; a failure after sending may have created the customer
    /// ([`NextError::maybe_applied`]).
    pub async fn create_customer(&self, body: &CustomerBody) -> Result<Option<i64>, NextError> {
        let record = body.id_origem.as_deref();
        let answer: WriteAnswer = self
            .write(Action::ManageCustomers, None, body, record)
            .await?;
        Ok(answer.customer_id.or(answer.id))
    }

    /// `PUT manageCustomers` with `id`: alters the Assinante `voip_id` (altering through the
    /// create call is `[inferred]`).
    ///
    /// # Errors
    /// See [`NextError`].
    pub async fn update_customer(
        &self,
        voip_id: i64,
        mut body: CustomerBody,
    ) -> Result<(), NextError> {
        body.id = Some(voip_id);
        let record = voip_id.to_string();
        let _: WriteAnswer = self
            .write(Action::ManageCustomers, None, &body, Some(&record))
            .await?;
        Ok(())
    }

    /// `POST statusCustomer`: activates (`true`) or deactivates the Assinante `voip_id`.
    ///
    /// # Errors
    /// See [`NextError`].
    pub async fn set_customer_status(
        &self,
        voip_id: i64,
        active: bool,
    ) -> Result<StatusAnswer, NextError> {
        let body = StatusBody {
            id: voip_id,
            status: u8::from(active),
        };
        let record = voip_id.to_string();
        self.write(Action::StatusCustomer, None, &body, Some(&record))
            .await
    }

    /// `PUT manageDevices/…/1`: creates a Linha IP. Answers the device's id when the response
    /// carries one (`id` or `device_id`, `[inferred]`).
    ///
    /// # Errors
    /// See [`NextError`].
    pub async fn create_device(&self, body: &DeviceBody) -> Result<Option<i64>, NextError> {
        let answer: WriteAnswer = self
            .write(Action::ManageDevices, Some(1), body, Some(&body.username))
            .await?;
        Ok(answer.device_id.or(answer.id))
    }

    /// `GET listDevices/…/<id_cliente>[?id_record=N]`: a customer's Linhas IP.
    ///
    /// # Errors
    /// See [`NextError`] (reads are retried first).
    pub async fn list_devices(
        &self,
        customer_id: i64,
        id_record: Option<i64>,
    ) -> Result<DeviceList, NextError> {
        let query: Vec<(&str, String)> = id_record
            .map(|r| vec![("id_record", r.to_string())])
            .unwrap_or_default();
        let record = customer_id.to_string();
        self.read(
            Action::ListDevices,
            Some(customer_id),
            &query,
            Some(&record),
        )
        .await
    }

    /// `PUT manageDID`: creates a DID, or alters/re-routes one when `body.id` is set (altering
    /// is `[inferred]`). Answers the DID's id when the response carries one (`id` or `did_id`,
    /// `[inferred]`).
    ///
    /// # Errors
    /// See [`NextError`].
    pub async fn manage_did(&self, body: &DidBody) -> Result<Option<i64>, NextError> {
        let answer: WriteAnswer = self
            .write(Action::ManageDid, None, body, Some(&body.description))
            .await?;
        Ok(answer.did_id.or(answer.id).or(body.id))
    }

    // -----------------------------------------------------------------------------------------
    // Lookups by SIG id
    // -----------------------------------------------------------------------------------------

    /// Finds the customer SIG created with `id`, by its `id_origem`.
    ///
    /// `[inferred]`: NextBilling documents no customer search. This is the smallest call in
    /// its conventions, `GET /api/listCustomers/TOKEN/KEY?id_origem=<32 hex>`, answered like
    /// `listDevices` (`{"error":0,"reason":"OK","records":N,"data":[{"id_cliente"|"id", "id_origem",
    /// …}]}`). Records are filtered again here on `id_origem`, so an instance that ignores the
    /// filter still gives the right answer. The one place to change when the vendor confirms
    /// the real call (`OPEN-QUESTIONS.md`).
    ///
    /// # Errors
    /// See [`NextError`] (reads are retried first).
    pub async fn find_customer(&self, id: CustomerId) -> Result<Option<CustomerRecord>, NextError> {
        let origin = keys::customer_origin(id);
        let query = [("id_origem", origin.clone())];
        let list: CustomerList = self
            .read(Action::ListCustomers, None, &query, Some(&origin))
            .await?;
        Ok(lowest(
            list.data
                .into_iter()
                .filter(|c| c.id_origem.as_deref() == Some(origin.as_str())),
            |c| c.id,
        ))
    }

    /// Finds the line SIG created with `id` among the customer's devices (`listDevices`), by
    /// its SIP username.
    ///
    /// # Errors
    /// See [`NextError`] (reads are retried first).
    pub async fn find_line(
        &self,
        customer_id: i64,
        id: LineId,
    ) -> Result<Option<Device>, NextError> {
        let username = keys::line_username(id);
        let list = self
            .list_devices(customer_id, None)
            .await
            .map_err(|e| e.with_record(username.clone()))?;
        Ok(lowest(
            list.data
                .into_iter()
                .flat_map(|c| c.data)
                .filter(|d| d.username.as_deref() == Some(username.as_str())),
            |d| d.id,
        ))
    }

    /// `GET listDIDs/…/<customer_id>`: the customer's DIDs.
    ///
    /// `[inferred]`: NextBilling documents no DID listing; this follows `listDevices`
    /// (`{"error":0,"reason":"OK","records":N,"data":[{"id", "did_number", "description",
    /// "device_id", …}]}`).
    ///
    /// # Errors
    /// See [`NextError`] (reads are retried first).
    pub async fn list_dids(&self, customer_id: i64) -> Result<DidList, NextError> {
        let record = customer_id.to_string();
        self.read(Action::ListDids, Some(customer_id), &[], Some(&record))
            .await
    }

    /// Finds the DID SIG created with `id` among the customer's DIDs (`[inferred]`
    /// [`list_dids`](Self::list_dids)), by its description.
    ///
    /// # Errors
    /// See [`NextError`] (reads are retried first).
    pub async fn find_did(
        &self,
        customer_id: i64,
        id: DidId,
    ) -> Result<Option<DidRecord>, NextError> {
        let description = keys::did_description(id);
        let list = self
            .list_dids(customer_id)
            .await
            .map_err(|e| e.with_record(description.clone()))?;
        Ok(lowest(
            list.data
                .into_iter()
                .filter(|d| d.description.as_deref() == Some(description.as_str())),
            |d| d.id,
        ))
    }

    // -----------------------------------------------------------------------------------------
    // Health
    // -----------------------------------------------------------------------------------------

    /// Probes the instance with one attempt of the smallest documented read,
    /// `listDevices` for customer 0 (`[inferred]` as a health check), within `timeout`.
    ///
    /// Healthy when the instance answers a well-formed envelope in time, even `{"error":1}`
    /// (customer 0 need not exist); unhealthy, with the reason, on a bad token, an HTTP
    /// error, a timeout, a transport failure or an answer that is not the envelope.
    pub async fn probe(&self, timeout: Duration) -> Health {
        let started = Instant::now();
        let call = Call {
            action: Action::ListDevices,
            path_id: Some(0),
            query: &[],
            body: None,
            record: None,
            timeout: Some(timeout),
        };
        let outcome = tokio::time::timeout(timeout, self.send::<serde_json::Value>(call)).await;
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let (healthy, reason) = match outcome {
            Err(_) => (
                false,
                format!("no answer within {} ms", timeout.as_millis()),
            ),
            Ok(Ok(_)) => (true, "ok".to_owned()),
            Ok(Err(NextError {
                kind: NextErrorKind::Refused { .. },
                ..
            })) => (true, "ok".to_owned()),
            Ok(Err(e)) => (false, e.kind.to_string()),
        };
        tracing::info!(
            server = %self.inner.server_id,
            healthy,
            latency_ms,
            reason = %reason,
            "nextbilling probe"
        );
        Health {
            healthy,
            reason,
            latency_ms,
        }
    }

    // -----------------------------------------------------------------------------------------
    // Transport
    // -----------------------------------------------------------------------------------------

    /// The request URL: `<base>/api/<action>/<token>/<key>[/<id>][?query]`.
    ///
    /// The only place the credentials go into a request. The URL it returns is a secret: it goes
    /// to reqwest and nowhere else (no error, `Debug` or tracing field holds it).
    fn endpoint(&self, action: Action, path_id: Option<i64>, query: &[(&str, String)]) -> Url {
        let mut url = self.inner.base_url.clone();
        url.set_query(None);
        url.set_fragment(None);
        {
            // `build` checked that the base can take a path.
            let Ok(mut segments) = url.path_segments_mut() else {
                unreachable!("base URL validated in NextClientBuilder::build")
            };
            segments.pop_if_empty().extend([
                "api",
                action.as_str(),
                self.inner.token.expose_secret(),
                self.inner.key.expose_secret(),
            ]);
            if let Some(id) = path_id {
                segments.push(&id.to_string());
            }
        }
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        url
    }

    fn error(&self, action: Action, record: Option<&str>, kind: NextErrorKind) -> NextError {
        NextError {
            server_id: self.inner.server_id.clone(),
            server_name: self.inner.server_name.clone(),
            action,
            record: record.map(str::to_owned),
            kind,
        }
    }

    /// Upstream text made safe to keep: the instance's token and key blanked out (in case
    /// the instance echoes a URL), and bounded in length.
    fn scrub(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in [&self.inner.token, &self.inner.key] {
            let s = secret.expose_secret();
            if !s.is_empty() {
                out = out.replace(s, "[redacted]");
            }
        }
        if out.chars().count() > MAX_REASON_CHARS {
            out = out.chars().take(MAX_REASON_CHARS).collect::<String>() + "…";
        }
        out
    }

    /// A read, retried on retryable failures with jittered exponential backoff (a 429's
    /// `Retry-After` wins when longer).
    async fn read<T: DeserializeOwned>(
        &self,
        action: Action,
        path_id: Option<i64>,
        query: &[(&str, String)],
        record: Option<&str>,
    ) -> Result<T, NextError> {
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.inner.retry_min_delay)
            .with_max_delay(self.inner.retry_min_delay * 20)
            .with_max_times(self.inner.read_retries)
            .with_jitter();
        (|| {
            self.send::<T>(Call {
                action,
                path_id,
                query,
                body: None,
                record,
                timeout: None,
            })
        })
        .retry(backoff)
        .when(NextError::is_retryable)
        .adjust(|e: &NextError, planned| match (e.retry_after(), planned) {
            (Some(asked), Some(p)) => Some(asked.max(p)),
            (_, p) => p,
        })
        .notify(|e: &NextError, wait| {
            tracing::debug!(
                server = %e.server_id,
                action = e.action.as_str(),
                error = %e.kind,
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                "nextbilling read failed; retrying"
            );
        })
        .await
    }

    /// A write, attempted once. The body is checked against the 128 kB limit before sending.
    async fn write<T: DeserializeOwned>(
        &self,
        action: Action,
        path_id: Option<i64>,
        body: &impl Serialize,
        record: Option<&str>,
    ) -> Result<T, NextError> {
        let bytes = serde_json::to_vec(body)
            .map_err(|e| self.error(action, record, NextErrorKind::Encode(e)))?;
        if bytes.len() > MAX_BODY_BYTES {
            return Err(self.error(
                action,
                record,
                NextErrorKind::BodyTooLarge {
                    size: bytes.len(),
                    limit: MAX_BODY_BYTES,
                },
            ));
        }
        self.send(Call {
            action,
            path_id,
            query: &[],
            body: Some(bytes),
            record,
            timeout: None,
        })
        .await
    }

    /// One HTTP attempt: send, check the status and the envelope, decode.
    async fn send<T: DeserializeOwned>(&self, call: Call<'_>) -> Result<T, NextError> {
        let Call {
            action,
            path_id,
            query,
            body,
            record,
            timeout,
        } = call;
        let started = Instant::now();
        let result = self
            .attempt::<T>(action, path_id, query, body, record, timeout)
            .await;
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        tracing::debug!(
            target: UPSTREAM_EVENT_TARGET,
            system = "nextbilling",
            call = action.as_str(),
            outcome = result.as_ref().map_or_else(NextError::outcome_kind, |_| "ok"),
            status = result.as_ref().map_or_else(NextError::status, |_| Some(200)),
            elapsed_ms,
            "upstream call"
        );
        match &result {
            Ok(_) => tracing::debug!(
                server = %self.inner.server_id,
                action = action.as_str(),
                record,
                elapsed_ms,
                "nextbilling call ok"
            ),
            Err(e) => tracing::warn!(
                server = %self.inner.server_id,
                action = action.as_str(),
                record,
                elapsed_ms,
                status = e.status(),
                retryable = e.is_retryable(),
                maybe_applied = e.maybe_applied(),
                error = %e.kind,
                "nextbilling call failed"
            ),
        }
        result
    }

    async fn attempt<T: DeserializeOwned>(
        &self,
        action: Action,
        path_id: Option<i64>,
        query: &[(&str, String)],
        body: Option<Vec<u8>>,
        record: Option<&str>,
        timeout: Option<Duration>,
    ) -> Result<T, NextError> {
        let transport = |e: reqwest::Error| {
            self.error(
                action,
                record,
                NextErrorKind::Transport {
                    timed_out: e.is_timeout(),
                    connect: e.is_connect(),
                    source: e.without_url(),
                },
            )
        };
        let mut request = self
            .inner
            .http
            .request(action.method(), self.endpoint(action, path_id, query))
            .header(ACCEPT, "application/json");
        if let Some(timeout) = timeout {
            request = request.timeout(timeout);
        }
        if let Some(bytes) = body {
            request = request.header(CONTENT_TYPE, "application/json").body(bytes);
        }
        let mut response = request.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(self.error(
                    action,
                    record,
                    NextErrorKind::ResponseTooLarge {
                        status,
                        limit: MAX_RESPONSE_BYTES,
                    },
                ));
            }
            bytes.extend_from_slice(&chunk);
        }

        if !(200..300).contains(&status) {
            let reason = serde_json::from_slice::<Envelope>(&bytes)
                .ok()
                .and_then(|e| e.reason)
                .map(|r| self.scrub(&r));
            return Err(self.error(
                action,
                record,
                NextErrorKind::Http {
                    status,
                    reason,
                    retry_after,
                },
            ));
        }

        let decode = |path: String, source: serde_json::Error| {
            self.error(
                action,
                record,
                NextErrorKind::Decode {
                    status,
                    path,
                    message: self.scrub(&source.to_string()),
                },
            )
        };
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| decode(".".to_owned(), e))?;
        let envelope: Envelope = serde_path_to_error::deserialize(&value)
            .map_err(|e| decode(e.path().to_string(), e.into_inner()))?;
        if envelope.is_error() {
            return Err(self.error(
                action,
                record,
                NextErrorKind::Refused {
                    code: envelope.error.unwrap_or(1),
                    reason: self.scrub(envelope.reason.as_deref().unwrap_or("")),
                },
            ));
        }
        serde_path_to_error::deserialize(&value)
            .map_err(|e| decode(e.path().to_string(), e.into_inner()))
    }
}

/// The record with the lowest id: when duplicates exist (NextBilling enforces no uniqueness),
/// every caller settles on the same, oldest one.
fn lowest<T>(items: impl Iterator<Item = T>, id: impl Fn(&T) -> i64) -> Option<T> {
    items.min_by_key(|t| id(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(base: &str) -> NextClient {
        NextClient::builder(
            "next-sp1".parse().unwrap(),
            "SP 1",
            Url::parse(base).unwrap(),
            SecretString::from("tok-123"),
            SecretString::from("key-456"),
        )
        .build()
        .unwrap()
    }

    #[test]
    fn endpoint_puts_credentials_in_the_path_once() {
        let c = client("https://sip.example.com/");
        let url = c.endpoint(Action::ManageDevices, Some(1), &[]);
        assert_eq!(
            url.as_str(),
            "https://sip.example.com/api/manageDevices/tok-123/key-456/1"
        );
        let c = client("https://sip.example.com/next?x=1");
        let url = c.endpoint(
            Action::ListCustomers,
            None,
            &[("id_origem", "ab cd".into())],
        );
        assert_eq!(
            url.as_str(),
            "https://sip.example.com/next/api/listCustomers/tok-123/key-456?id_origem=ab+cd"
        );
    }

    #[test]
    fn debug_shows_no_credentials() {
        let c = client("https://sip.example.com/");
        let debug = format!("{c:?}");
        assert!(
            !debug.contains("tok-123") && !debug.contains("key-456"),
            "{debug}"
        );
        assert!(debug.contains("next-sp1"));
    }

    #[test]
    fn bad_settings_are_refused() {
        let build = |base: &str, token: &str| {
            NextClient::builder(
                "next-sp1".parse().unwrap(),
                "SP 1",
                Url::parse(base).unwrap(),
                SecretString::from(token),
                SecretString::from("k"),
            )
            .build()
        };
        assert!(matches!(
            build("mailto:a@b.c", "t"),
            Err(BuildError::BadBaseUrl { .. })
        ));
        assert!(matches!(
            build("ftp://x/", "t"),
            Err(BuildError::BadBaseUrl { .. })
        ));
        assert!(matches!(
            build("https://x/", "a/b"),
            Err(BuildError::BadCredential { which: "token", .. })
        ));
        assert!(matches!(
            build("https://x/", ""),
            Err(BuildError::BadCredential { .. })
        ));
    }

    #[test]
    fn scrub_blanks_credentials_and_bounds_length() {
        let c = client("https://sip.example.com/");
        let s = c.scrub("bad path /api/x/tok-123/key-456");
        assert_eq!(s, "bad path /api/x/[redacted]/[redacted]");
        let long = "a".repeat(2000);
        assert_eq!(c.scrub(&long).chars().count(), MAX_REASON_CHARS + 1);
    }
}
