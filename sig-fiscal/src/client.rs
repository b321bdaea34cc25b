//! The client: a chain of providers per lookup kind ([`FiscalClient`]), each with its base
//! URL, optional API key, rate limit and timeout, in front of a TTL cache; it implements
//! sig-core's [`FiscalLookup`] port.
//!
//! Per lookup: the cache answers when it can; otherwise each provider is tried in order.
//! A provider's answer — found or **not found** — ends the lookup (and is cached). A
//! failure (down, 5xx, timeout, 429, out of credits, refused key, refused input, unreadable
//! answer) or SIG's own rate limit having no room moves on to the next provider. When all
//! fail, [`FiscalError::AllProvidersFailed`] lists each failure with its provider.
//! Concurrent lookups of one key make one upstream call: the others wait for it and read
//! its cached answer (a failure is not cached, so each waiter then tries on its own). Input is
//! typed ([`Cnpj`], [`Cep`]): invalid text is rejected by [`FiscalClient::lookup_cnpj_text`]
//! and [`FiscalClient::lookup_cep_text`] before any call.

use std::fmt;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue, RETRY_AFTER, USER_AGENT};
use secrecy::{ExposeSecret, SecretString};
use sig_core::fiscal::{FiscalAnswer, RegisteredCep, RegisteredCompany};
use sig_core::ports::{FiscalLookup, UPSTREAM_EVENT_TARGET, UpstreamError};
use sig_core::{Cep, Cnpj};
use url::Url;

use crate::cache::{CacheConfig, Clock, KeyLocks, SystemClock, TtlCache};
use crate::error::{FiscalError, ProviderError, ProviderErrorKind};
use crate::model::{CepRecord, CompanyRecord, Lookup, LookupKind, Provider};
use crate::wire;

/// A request budget: `requests` per `per`, allowing a burst of `requests`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed per period.
    pub requests: NonZeroU32,
    /// The period.
    pub per: Duration,
}

impl RateLimit {
    /// `requests` per minute. `requests` 0 is read as 1.
    pub fn per_minute(requests: u32) -> Self {
        RateLimit {
            requests: NonZeroU32::new(requests).unwrap_or(NonZeroU32::MIN),
            per: Duration::from_secs(60),
        }
    }

    /// `requests` per `per`. `requests` 0 is read as 1; a zero period as 1 ms.
    pub fn new(requests: u32, per: Duration) -> Self {
        RateLimit {
            requests: NonZeroU32::new(requests).unwrap_or(NonZeroU32::MIN),
            per: per.max(Duration::from_millis(1)),
        }
    }

    fn quota(self) -> Quota {
        let period = (self.per / self.requests.get()).max(Duration::from_nanos(1));
        Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(self.requests)
    }
}

/// One provider in a chain.
#[derive(Clone)]
pub struct ProviderConfig {
    provider: Provider,
    base_url: Url,
    api_key: Option<SecretString>,
    rate_limit: Option<RateLimit>,
    timeout: Option<Duration>,
}

impl fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("provider", &self.provider)
            .field("base_url", &self.base_url.as_str())
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("rate_limit", &self.rate_limit)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl ProviderConfig {
    /// The provider at its production URL with its default rate limit (see
    /// [`ProviderConfig::default_rate_limit`]).
    pub fn new(provider: Provider) -> Self {
        ProviderConfig {
            provider,
            base_url: Url::parse(provider.default_base_url()).expect("default base URLs are valid"),
            api_key: None,
            rate_limit: Some(Self::default_rate_limit(provider)),
            timeout: None,
        }
    }

    /// SIG's default budget per provider. None is documented by the providers (reference
    /// open question 1): BrasilAPI's 60/min is a third-party claim, ReceitaWS's free 3/min
    /// is commonly cited, CNPJá depends on the plan; the others are given BrasilAPI's.
    pub fn default_rate_limit(provider: Provider) -> RateLimit {
        match provider {
            Provider::ReceitaWs => RateLimit::per_minute(3),
            _ => RateLimit::per_minute(60),
        }
    }

    /// Which provider.
    pub fn provider(&self) -> Provider {
        self.provider
    }

    /// The base URL.
    pub fn base(&self) -> &Url {
        &self.base_url
    }

    /// Points the provider somewhere else (a sandbox, a self-hosted Minha Receita). A
    /// trailing slash is added when missing.
    pub fn base_url(mut self, url: Url) -> Self {
        let mut url = url;
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        self.base_url = url;
        self
    }

    /// The API key (CNPJá).
    pub fn api_key(mut self, key: SecretString) -> Self {
        self.api_key = Some(key);
        self
    }

    /// SIG's own budget for this provider; a call that would exceed it is not made and the
    /// chain moves on.
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }

    /// No budget of SIG's own.
    pub fn no_rate_limit(mut self) -> Self {
        self.rate_limit = None;
        self
    }

    /// A per-attempt timeout for this provider, instead of the client's.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

/// A chain could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A CNPJ provider in the CEP chain or the reverse.
    #[error("{provider} answers {actual} lookups, not {wanted}")]
    WrongKind {
        /// The provider.
        provider: Provider,
        /// What it answers.
        actual: LookupKind,
        /// The chain it was put in.
        wanted: LookupKind,
    },
    /// A provider that needs an API key has none.
    #[error("{0} needs an API key")]
    MissingApiKey(Provider),
    /// The API key cannot be sent as a header (control characters).
    #[error("the API key of {0} is not a valid header value")]
    BadApiKey(Provider),
    /// A base URL SIG cannot call.
    #[error("the base URL of {provider} must be http or https")]
    BadBaseUrl {
        /// The provider.
        provider: Provider,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Http(#[source] reqwest::Error),
    /// A provider name this crate does not know (`sig.toml` is checked on load, so only a
    /// configuration built by hand has one).
    #[error(transparent)]
    UnknownProvider(#[from] crate::model::UnknownProvider),
}

/// Builds a [`FiscalClient`].
#[derive(Debug)]
pub struct FiscalClientBuilder {
    cnpj: Vec<ProviderConfig>,
    cep: Vec<ProviderConfig>,
    timeout: Duration,
    cache: CacheConfig,
    clock: Arc<dyn Clock>,
    http: Option<reqwest::Client>,
}

impl Default for FiscalClientBuilder {
    fn default() -> Self {
        FiscalClientBuilder {
            cnpj: Vec::new(),
            cep: Vec::new(),
            timeout: Duration::from_secs(10),
            cache: CacheConfig::default(),
            clock: Arc::new(SystemClock),
            http: None,
        }
    }
}

impl FiscalClientBuilder {
    /// The production chain: CNPJ by BrasilAPI, Minha Receita, ReceitaWS, then CNPJá when a
    /// key is given; CEP by ViaCEP, then BrasilAPI.
    pub fn default_chain(cnpja_key: Option<SecretString>) -> Self {
        let mut b = Self::default()
            .cnpj_provider(ProviderConfig::new(Provider::BrasilApi))
            .cnpj_provider(ProviderConfig::new(Provider::MinhaReceita))
            .cnpj_provider(ProviderConfig::new(Provider::ReceitaWs));
        if let Some(key) = cnpja_key {
            b = b.cnpj_provider(ProviderConfig::new(Provider::Cnpja).api_key(key));
        }
        b.cep_provider(ProviderConfig::new(Provider::ViaCep))
            .cep_provider(ProviderConfig::new(Provider::BrasilApiCep))
    }

    /// The chains `sig.toml`'s `[fiscal]` section describes
    /// ([`sig_core::config::FiscalConfig`]): its providers in order, each at its base URL
    /// (the provider's own unless `base_urls` names another) with its default rate limit,
    /// the CNPJá key, the per-attempt timeout and the cache TTLs. [`FiscalClientBuilder::build`]
    /// then checks the chains.
    ///
    /// # Errors
    /// A provider name this crate does not know.
    pub fn from_config(config: &sig_core::config::FiscalConfig) -> Result<Self, ConfigError> {
        let provider = |name: &String| -> Result<ProviderConfig, ConfigError> {
            let p: Provider = name.parse()?;
            let mut c = ProviderConfig::new(p);
            if let Some(url) = config.base_urls.get(name) {
                c = c.base_url(url.clone());
            }
            if let (true, Some(key)) = (p.needs_api_key(), &config.cnpja_key) {
                c = c.api_key(key.clone());
            }
            Ok(c)
        };
        let mut b = Self::default().timeout(config.timeout).cache(CacheConfig {
            found_ttl: config.found_ttl,
            not_found_ttl: config.not_found_ttl,
            ..CacheConfig::default()
        });
        for name in &config.cnpj_providers {
            b = b.cnpj_provider(provider(name)?);
        }
        for name in &config.cep_providers {
            b = b.cep_provider(provider(name)?);
        }
        Ok(b)
    }

    /// Appends a CNPJ provider to the chain.
    pub fn cnpj_provider(mut self, config: ProviderConfig) -> Self {
        self.cnpj.push(config);
        self
    }

    /// Appends a CEP provider to the chain.
    pub fn cep_provider(mut self, config: ProviderConfig) -> Self {
        self.cep.push(config);
        self
    }

    /// The per-attempt timeout (default 10 s); a provider's own timeout wins.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Cache TTLs and size.
    pub fn cache(mut self, cache: CacheConfig) -> Self {
        self.cache = cache;
        self
    }

    /// The clock the cache reads.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// A shared HTTP client instead of a new one.
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Checks the chains and builds the client.
    ///
    /// # Errors
    /// A provider in the wrong chain, CNPJá without a key, a non-HTTP base URL.
    pub fn build(self) -> Result<FiscalClient, ConfigError> {
        let slots = |configs: Vec<ProviderConfig>, wanted| {
            configs
                .into_iter()
                .map(|c| Slot::new(c, wanted))
                .collect::<Result<Vec<_>, _>>()
        };
        let cnpj = slots(self.cnpj, LookupKind::Cnpj)?;
        let cep = slots(self.cep, LookupKind::Cep)?;
        let http = match self.http {
            Some(h) => h,
            None => reqwest::Client::builder()
                .connect_timeout(self.timeout)
                .build()
                .map_err(ConfigError::Http)?,
        };
        Ok(FiscalClient {
            http,
            cnpj,
            cep,
            timeout: self.timeout,
            cache: self.cache,
            cnpj_cache: TtlCache::new(self.cache.capacity, Arc::clone(&self.clock)),
            cep_cache: TtlCache::new(self.cache.capacity, self.clock),
            cnpj_locks: KeyLocks::new(),
            cep_locks: KeyLocks::new(),
        })
    }
}

struct Slot {
    config: ProviderConfig,
    auth: Option<HeaderValue>,
    limiter: Option<DefaultDirectRateLimiter>,
}

impl Slot {
    fn new(config: ProviderConfig, wanted: LookupKind) -> Result<Self, ConfigError> {
        let provider = config.provider;
        if provider.kind() != wanted {
            return Err(ConfigError::WrongKind {
                provider,
                actual: provider.kind(),
                wanted,
            });
        }
        if !matches!(config.base_url.scheme(), "http" | "https") {
            return Err(ConfigError::BadBaseUrl { provider });
        }
        let auth = match (&config.api_key, provider.needs_api_key()) {
            (None, true) => return Err(ConfigError::MissingApiKey(provider)),
            (Some(key), _) => {
                let mut value = HeaderValue::from_str(key.expose_secret())
                    .map_err(|_| ConfigError::BadApiKey(provider))?;
                value.set_sensitive(true);
                Some(value)
            }
            (None, false) => None,
        };
        let limiter = config.rate_limit.map(|l| RateLimiter::direct(l.quota()));
        Ok(Slot {
            config,
            auth,
            limiter,
        })
    }

    /// Removes the API key from an error, should a provider ever echo it — whole, or cut
    /// short at the end of a shortened message.
    fn scrub(&self, mut error: ProviderError) -> ProviderError {
        if let Some(key) = &self.config.api_key {
            error.message = scrub_key(&error.message, key.expose_secret());
        }
        error
    }
}

/// Shortest beginning of a key treated as the key when a message ends with it.
const KEY_PREFIX_MIN: usize = 6;

fn scrub_key(message: &str, key: &str) -> String {
    if key.is_empty() {
        return message.to_owned();
    }
    let mut out = message.replace(key, "[redacted]");
    let body = out.trim_end_matches('…');
    let cut = (KEY_PREFIX_MIN..key.len())
        .rev()
        .filter(|n| key.is_char_boundary(*n))
        .find(|n| body.ends_with(&key[..*n]));
    if let Some(n) = cut {
        out = format!("{}[redacted]…", &body[..body.len() - n]);
    }
    out
}

/// The CNPJ and CEP provider chains with their cache; implements [`FiscalLookup`].
pub struct FiscalClient {
    http: reqwest::Client,
    cnpj: Vec<Slot>,
    cep: Vec<Slot>,
    timeout: Duration,
    cache: CacheConfig,
    cnpj_cache: TtlCache<Cnpj, Lookup<CompanyRecord>>,
    cep_cache: TtlCache<Cep, Lookup<CepRecord>>,
    cnpj_locks: KeyLocks<Cnpj>,
    cep_locks: KeyLocks<Cep>,
}

impl fmt::Debug for FiscalClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FiscalClient")
            .field(
                "cnpj",
                &self.cnpj.iter().map(|s| &s.config).collect::<Vec<_>>(),
            )
            .field(
                "cep",
                &self.cep.iter().map(|s| &s.config).collect::<Vec<_>>(),
            )
            .field("timeout", &self.timeout)
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

/// The raw outcome of one HTTP attempt.
struct Answer {
    status: u16,
    body: Vec<u8>,
    retry_after: Option<Duration>,
}

/// Answers larger than this are refused (a CNPJ record is a few kilobytes).
const MAX_BODY: usize = 1 << 20;

impl FiscalClient {
    /// A builder with empty chains.
    pub fn builder() -> FiscalClientBuilder {
        FiscalClientBuilder::default()
    }

    /// The providers of each chain, in order.
    pub fn providers(&self, kind: LookupKind) -> Vec<Provider> {
        let slots = match kind {
            LookupKind::Cnpj => &self.cnpj,
            LookupKind::Cep => &self.cep,
        };
        slots.iter().map(|s| s.config.provider).collect()
    }

    /// Validates `text` as a CNPJ (no call when it is invalid), then looks it up.
    ///
    /// # Errors
    /// [`FiscalError::InvalidInput`] for invalid text; otherwise as
    /// [`FiscalClient::lookup_cnpj`].
    pub async fn lookup_cnpj_text(&self, text: &str) -> Result<Lookup<CompanyRecord>, FiscalError> {
        let cnpj: Cnpj = text.parse().map_err(|problem| FiscalError::InvalidInput {
            lookup: LookupKind::Cnpj,
            problem,
        })?;
        self.lookup_cnpj(&cnpj).await
    }

    /// Validates `text` as a CEP (no call when it is invalid), then looks it up.
    ///
    /// # Errors
    /// [`FiscalError::InvalidInput`] for invalid text; otherwise as
    /// [`FiscalClient::lookup_cep`].
    pub async fn lookup_cep_text(&self, text: &str) -> Result<Lookup<CepRecord>, FiscalError> {
        let cep: Cep = text.parse().map_err(|problem| FiscalError::InvalidInput {
            lookup: LookupKind::Cep,
            problem,
        })?;
        self.lookup_cep(&cep).await
    }

    /// Forgets every cached answer.
    pub fn clear_cache(&self) {
        self.cnpj_cache.clear();
        self.cep_cache.clear();
    }

    /// How many answers are cached (CNPJ and CEP together).
    pub fn cached(&self) -> usize {
        self.cnpj_cache.len() + self.cep_cache.len()
    }

    fn ttl<T>(&self, lookup: &Lookup<T>) -> Duration {
        match lookup {
            Lookup::Found(_) => self.cache.found_ttl,
            Lookup::NotFound { .. } => self.cache.not_found_ttl,
        }
    }

    /// Tries each provider of `slots` in order; see the module documentation.
    async fn run_chain<T>(
        &self,
        kind: LookupKind,
        slots: &[Slot],
        key: &str,
        interpret: impl Fn(Provider, u16, &[u8], Option<Duration>) -> Result<Lookup<T>, ProviderError>,
    ) -> Result<Lookup<T>, FiscalError> {
        if slots.is_empty() {
            return Err(FiscalError::NoProvider(kind));
        }
        let mut attempts = Vec::new();
        for slot in slots {
            let provider = slot.config.provider;
            if let Some(Err(not_until)) = slot.limiter.as_ref().map(|l| l.check()) {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                upstream_event(provider, "blocked", None, 0);
                tracing::info!(%provider, lookup = %kind, wait_ms = wait.as_millis(), "fiscal provider over SIG's rate limit; trying the next");
                attempts.push(
                    ProviderError::new(
                        provider,
                        ProviderErrorKind::Throttled,
                        None,
                        "SIG's rate limit for this provider has no room",
                    )
                    .with_retry_after(Some(wait)),
                );
                continue;
            }
            let started = Instant::now();
            let outcome = match self.attempt(slot, key).await {
                Ok(answer) => interpret(provider, answer.status, &answer.body, answer.retry_after),
                Err(e) => Err(e),
            };
            let elapsed_ms = started.elapsed().as_millis();
            match &outcome {
                Ok(_) => upstream_event(provider, "ok", None, elapsed_ms),
                Err(e) => upstream_event(provider, event_outcome(e), e.status, elapsed_ms),
            }
            match outcome {
                Ok(answer) => {
                    tracing::debug!(%provider, lookup = %kind, elapsed_ms, not_found = answer.is_not_found(), "fiscal lookup answered");
                    return Ok(answer);
                }
                Err(error) => {
                    let error = slot.scrub(error);
                    tracing::warn!(%provider, lookup = %kind, elapsed_ms, kind = %error.kind, status = error.status, message = %error.message, "fiscal provider failed; trying the next");
                    attempts.push(error);
                }
            }
        }
        Err(FiscalError::AllProvidersFailed {
            lookup: kind,
            attempts,
        })
    }

    /// One GET; transport failures become provider errors without URL or headers.
    async fn attempt(&self, slot: &Slot, key: &str) -> Result<Answer, ProviderError> {
        let provider = slot.config.provider;
        let url = slot
            .config
            .base_url
            .join(&provider.path(key))
            .map_err(|e| {
                ProviderError::new(
                    provider,
                    ProviderErrorKind::Malformed,
                    None,
                    format!("cannot build the request path: {e}"),
                )
            })?;
        let mut request = self
            .http
            .get(url)
            .timeout(slot.config.timeout.unwrap_or(self.timeout))
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, concat!("sig-voip/", env!("CARGO_PKG_VERSION")));
        if let Some(auth) = &slot.auth {
            request = request.header(AUTHORIZATION, auth.clone());
        }
        let transport = |e: reqwest::Error| {
            let kind = if e.is_timeout() {
                ProviderErrorKind::Timeout
            } else {
                ProviderErrorKind::Unavailable
            };
            let what = if e.is_timeout() {
                "no answer within the timeout"
            } else if e.is_connect() {
                "cannot connect"
            } else if e.is_body() || e.is_decode() {
                "the answer was cut off"
            } else {
                "the request failed"
            };
            // `without_url`: the error text must not carry the URL.
            let detail = std::error::Error::source(&e.without_url())
                .map(|s| format!(": {s}"))
                .unwrap_or_default();
            ProviderError::new(provider, kind, None, format!("{what}{detail}"))
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = response.bytes().await.map_err(transport)?;
        if body.len() > MAX_BODY {
            return Err(ProviderError::new(
                provider,
                ProviderErrorKind::Malformed,
                Some(status),
                format!("answer of {} bytes is too large", body.len()),
            ));
        }
        Ok(Answer {
            status,
            body: body.to_vec(),
            retry_after,
        })
    }
}

/// The per-attempt event every client emits (`sig_core::ports` docs): `system` `fiscal`,
/// `call` the provider's name; no record data.
fn upstream_event(provider: Provider, outcome: &str, status: Option<u16>, elapsed_ms: u128) {
    tracing::debug!(
        target: UPSTREAM_EVENT_TARGET,
        system = "fiscal",
        call = provider.as_str(),
        outcome,
        status,
        elapsed_ms = u64::try_from(elapsed_ms).unwrap_or(u64::MAX),
        "upstream call"
    );
}

/// A provider failure as one of [`sig_core::ports::UPSTREAM_ERROR_KINDS`].
fn event_outcome(e: &ProviderError) -> &'static str {
    match e.kind {
        ProviderErrorKind::Timeout => "timeout",
        ProviderErrorKind::RateLimited => "rate_limited",
        ProviderErrorKind::Throttled => "blocked",
        ProviderErrorKind::Unauthorized => "unauthorized",
        ProviderErrorKind::Rejected | ProviderErrorKind::OutOfCredits => "rejected",
        ProviderErrorKind::Malformed => "decode",
        ProviderErrorKind::Unavailable => match e.status {
            Some(500..=599) => "server_error",
            None => "transport",
            Some(_) => "other",
        },
    }
}

/// The builder keeps each provider in its own chain; should that ever fail, the provider is
/// skipped as unusable rather than trusted.
fn wrong_chain(provider: Provider) -> ProviderError {
    ProviderError::new(
        provider,
        ProviderErrorKind::Malformed,
        None,
        "provider configured in the wrong chain",
    )
}

impl FiscalClient {
    /// The company registered under `cnpj`, or "not found" (see the module documentation).
    ///
    /// # Errors
    /// [`FiscalError::AllProvidersFailed`] when no provider answered;
    /// [`FiscalError::NoProvider`] when the chain is empty.
    pub async fn lookup_cnpj(&self, cnpj: &Cnpj) -> Result<Lookup<CompanyRecord>, FiscalError> {
        if let Some(hit) = self.cnpj_cache.get(cnpj) {
            tracing::debug!(lookup = "CNPJ", "fiscal cache hit");
            return Ok(hit);
        }
        // Concurrent lookups of this CNPJ wait for the first one and read its answer.
        let _key = self.cnpj_locks.lock(cnpj).await;
        if let Some(hit) = self.cnpj_cache.get(cnpj) {
            tracing::debug!(lookup = "CNPJ", "fiscal cache hit after waiting");
            return Ok(hit);
        }
        let cnpj = *cnpj;
        let answer = self
            .run_chain(
                LookupKind::Cnpj,
                &self.cnpj,
                cnpj.as_str(),
                |provider, status, body, retry_after| match provider {
                    Provider::BrasilApi | Provider::MinhaReceita => {
                        wire::opendata::interpret(provider, cnpj, status, body, retry_after)
                    }
                    Provider::ReceitaWs => {
                        wire::receitaws::interpret(cnpj, status, body, retry_after)
                    }
                    Provider::Cnpja => wire::cnpja::interpret(cnpj, status, body, retry_after),
                    Provider::ViaCep | Provider::BrasilApiCep => Err(wrong_chain(provider)),
                },
            )
            .await?;
        self.cnpj_cache
            .insert(cnpj, answer.clone(), self.ttl(&answer));
        Ok(answer)
    }

    /// The address of `cep`, or "not found" (see the module documentation).
    ///
    /// # Errors
    /// As [`FiscalClient::lookup_cnpj`].
    pub async fn lookup_cep(&self, cep: &Cep) -> Result<Lookup<CepRecord>, FiscalError> {
        if let Some(hit) = self.cep_cache.get(cep) {
            tracing::debug!(lookup = "CEP", "fiscal cache hit");
            return Ok(hit);
        }
        let _key = self.cep_locks.lock(cep).await;
        if let Some(hit) = self.cep_cache.get(cep) {
            tracing::debug!(lookup = "CEP", "fiscal cache hit after waiting");
            return Ok(hit);
        }
        let cep = *cep;
        let answer = self
            .run_chain(
                LookupKind::Cep,
                &self.cep,
                cep.as_str(),
                |provider, status, body, retry_after| match provider {
                    Provider::ViaCep => {
                        wire::ceps::interpret_viacep(cep, status, body, retry_after)
                    }
                    Provider::BrasilApiCep => {
                        wire::ceps::interpret_brasilapi(cep, status, body, retry_after)
                    }
                    Provider::BrasilApi
                    | Provider::MinhaReceita
                    | Provider::ReceitaWs
                    | Provider::Cnpja => Err(wrong_chain(provider)),
                },
            )
            .await?;
        self.cep_cache
            .insert(cep, answer.clone(), self.ttl(&answer));
        Ok(answer)
    }
}

/// The port, answered with the smaller records the pipeline needs; failures in the
/// vocabulary every port shares ([`FiscalError::to_upstream`], `System::Fiscal`).
#[async_trait]
impl FiscalLookup for FiscalClient {
    async fn company_by_cnpj(
        &self,
        cnpj: &Cnpj,
    ) -> Result<FiscalAnswer<RegisteredCompany>, UpstreamError> {
        self.lookup_cnpj(cnpj)
            .await
            .map(|l| l.to_answer(CompanyRecord::to_registered))
            .map_err(|e| e.to_upstream(cnpj.as_str()))
    }

    async fn address_by_cep(
        &self,
        cep: &Cep,
    ) -> Result<FiscalAnswer<RegisteredCep>, UpstreamError> {
        self.lookup_cep(cep)
            .await
            .map(|l| l.to_answer(CepRecord::to_registered))
            .map_err(|e| e.to_upstream(cep.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::scrub_key;

    #[test]
    fn keys_are_scrubbed_whole_or_cut() {
        let key = "abcdefghijklmnop";
        assert_eq!(
            scrub_key("bad key abcdefghijklmnop!", key),
            "bad key [redacted]!"
        );
        assert_eq!(scrub_key("bad key abcdefgh…", key), "bad key [redacted]…");
        assert_eq!(
            scrub_key("ends with abc", key),
            "ends with abc",
            "too short to tell"
        );
        assert_eq!(scrub_key("nothing here", key), "nothing here");
        assert_eq!(scrub_key("x", ""), "x");
    }
}
