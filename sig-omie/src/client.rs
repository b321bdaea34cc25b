//! The Omie client: one per Omie account (app key + secret).
//!
//! Every call is a POST of the JSON envelope to `base_url + service path`; the answer's body
//! is read before its status, and a `faultstring`/`faultcode` body is a fault whatever the
//! status. Calls go through the account's limits ([`crate::limits`]); failures that cannot
//! have been applied (or any failure of a read) are retried with jittered exponential backoff
//! under a retry budget and the total deadline; a write that may have been applied is never
//! re-sent here: it comes back to the caller, who looks the record up first (the
//! [`crate::OmieErp`] port does).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{self, Stream, TryStreamExt};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sig_core::ports::UPSTREAM_EVENT_TARGET;
use tokio::time::Instant;
use url::Url;

use crate::error::OmieError;
use crate::fault::{Fault, FaultClass};
use crate::limits::{
    Breaker, BreakerState, Limiter, LimitsConfig, RetryBudget, RetryConfig, now_unix_ms,
};
use crate::wire::clientes::{
    ClienteCadastro, ClienteChave, ClienteStatus, ClientesListFullResponse, ClientesListRequest,
    ClientesListResumidoResponse, ListarClientes, ListarClientesResumido,
};
use crate::wire::contratos::{
    ContratoCadastro, ContratoChave, ContratoFatStatus, CsStatus, ListarContratos,
    ListarContratosResponse,
};
use crate::wire::servicos::{
    ListarCadastroServico, ListarCadastroServicoResponse, ServicoCadastro, ServicoChave,
};
use crate::wire::{Envelope, FaultBody, FaultProbe, Page, PageRequest, Service};

/// The Omie methods SIG calls on one account (customers: upsert, alter, look up, list;
/// contracts: include, list; services: list; and one to spare), which the idle connection
/// pool is sized for.
const METHODS_IN_USE: usize = 8;

/// Omie's production API.
pub const DEFAULT_BASE_URL: &str = "https://app.omie.com.br/api/v1/";
/// Records per page the client asks for (Omie silently caps pages at 100).
pub const MAX_PAGE_SIZE: u32 = 100;

/// The client could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The base URL is not an absolute http(s) URL.
    #[error("Omie base URL `{0}` is not an absolute http(s) URL")]
    BaseUrl(String),
    /// The app key or secret is empty.
    #[error("Omie account `{account}`: {field} is empty")]
    EmptyCredential {
        /// The account.
        account: String,
        /// `app_key` or `app_secret`.
        field: &'static str,
    },
    /// A timeout is zero or the deadline is shorter than the attempt timeout.
    #[error("Omie client: {0}")]
    Timeouts(String),
    /// The HTTP client could not be built.
    #[error("Omie client: the HTTP client could not be built")]
    Http(#[source] reqwest::Error),
}

/// Configures an [`OmieClient`].
pub struct OmieClientBuilder {
    account: String,
    base_url: String,
    app_key: SecretString,
    app_secret: SecretString,
    attempt_timeout: Duration,
    deadline: Duration,
    limits: LimitsConfig,
    retry: RetryConfig,
    breaker: Option<BreakerState>,
}

impl fmt::Debug for OmieClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OmieClientBuilder")
            .field("account", &self.account)
            .field("base_url", &self.base_url)
            .field("attempt_timeout", &self.attempt_timeout)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl OmieClientBuilder {
    /// The account's id in logs and errors (default `omie`).
    pub fn account_id(mut self, id: impl Into<String>) -> Self {
        self.account = id.into();
        self
    }

    /// The API base URL (default [`DEFAULT_BASE_URL`]; a sandbox's URL in tests). A missing
    /// trailing slash is added.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// Timeout of one HTTP attempt (default 30 s).
    pub fn attempt_timeout(mut self, t: Duration) -> Self {
        self.attempt_timeout = t;
        self
    }

    /// Total time one call may take, waits and retries included (default 120 s).
    pub fn deadline(mut self, t: Duration) -> Self {
        self.deadline = t;
        self
    }

    /// The limits to keep to (default: Omie's published limits).
    pub fn limits(mut self, limits: LimitsConfig) -> Self {
        self.limits = limits;
        self
    }

    /// The retry policy (default [`RetryConfig::default`]).
    pub fn retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }

    /// Start with a misuse block restored from storage.
    pub fn breaker_state(mut self, state: Option<BreakerState>) -> Self {
        self.breaker = state;
        self
    }

    /// Build the client.
    ///
    /// # Errors
    /// A bad base URL, an empty credential, inconsistent timeouts.
    pub fn build(self) -> Result<OmieClient, BuildError> {
        let mut base = self.base_url.trim().to_owned();
        if !base.ends_with('/') {
            base.push('/');
        }
        let base_url = Url::parse(&base)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
            .ok_or_else(|| BuildError::BaseUrl(base.clone()))?;
        for (field, v) in [("app_key", &self.app_key), ("app_secret", &self.app_secret)] {
            if v.expose_secret().trim().is_empty() {
                return Err(BuildError::EmptyCredential {
                    account: self.account.clone(),
                    field,
                });
            }
        }
        if self.attempt_timeout.is_zero() || self.deadline < self.attempt_timeout {
            return Err(BuildError::Timeouts(format!(
                "the attempt timeout ({} ms) must be above zero and within the deadline ({} ms)",
                self.attempt_timeout.as_millis(),
                self.deadline.as_millis()
            )));
        }
        // Keep idle as many connections as the limits let be in flight (each method SIG calls,
        // `method_in_flight` at once): a busy account reuses them instead of opening and
        // closing one per call.
        let idle = self
            .limits
            .method_in_flight
            .saturating_mul(METHODS_IN_USE)
            .clamp(16, 256);
        let http = reqwest::Client::builder()
            .connect_timeout(self.attempt_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(idle)
            .build()
            .map_err(|e| BuildError::Http(e.without_url()))?;
        let breaker = Breaker::default();
        breaker.restore(self.breaker);
        Ok(OmieClient {
            inner: Arc::new(Inner {
                http,
                account: self.account,
                base_url,
                app_key: self.app_key,
                app_secret: self.app_secret,
                attempt_timeout: self.attempt_timeout,
                deadline: self.deadline,
                limiter: Limiter::new(self.limits),
                budget: RetryBudget::new(&self.retry),
                retry: self.retry,
                breaker,
            }),
        })
    }
}

/// Emit the upstream call event for a call that failed without an HTTP attempt (a block, a
/// deadline spent waiting for a turn), and hand the error back.
fn observed(e: OmieError, since: Instant) -> OmieError {
    tracing::debug!(
        target: UPSTREAM_EVENT_TARGET,
        system = "omie",
        call = e.call(),
        outcome = e.outcome_kind(),
        elapsed_ms = millis(since),
        "upstream call"
    );
    e
}

fn millis(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

struct Inner {
    http: reqwest::Client,
    account: String,
    base_url: Url,
    app_key: SecretString,
    app_secret: SecretString,
    attempt_timeout: Duration,
    deadline: Duration,
    limiter: Limiter,
    retry: RetryConfig,
    budget: RetryBudget,
    breaker: Breaker,
}

/// A typed, limit-aware client for one Omie account. Cheap to clone (shared state).
#[derive(Clone)]
pub struct OmieClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for OmieClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OmieClient")
            .field("account", &self.inner.account)
            .field("base_url", &self.inner.base_url.as_str())
            .field("limits", self.inner.limiter.config())
            .finish_non_exhaustive()
    }
}

/// What one call is: where it goes and whether it writes.
#[derive(Debug, Clone)]
pub struct CallSpec {
    /// The service.
    pub service: Service,
    /// The method (`UpsertCliente`).
    pub method: &'static str,
    /// Whether it changes data upstream.
    pub write: bool,
    /// The record it concerns (integration code or Omie id), for errors.
    pub record: Option<String>,
}

impl CallSpec {
    fn read(service: Service, method: &'static str, record: Option<String>) -> Self {
        CallSpec {
            service,
            method,
            write: false,
            record,
        }
    }
    fn write(service: Service, method: &'static str, record: Option<String>) -> Self {
        CallSpec {
            service,
            method,
            write: true,
            record,
        }
    }
}

fn cadastro_record(c: &ClienteCadastro) -> Option<String> {
    c.codigo_cliente_integracao
        .clone()
        .or_else(|| c.codigo_cliente_omie.map(|i| i.to_string()))
}

fn chave_record(c: &ClienteChave) -> Option<String> {
    c.codigo_cliente_integracao
        .clone()
        .or_else(|| c.codigo_cliente_omie.map(|i| i.to_string()))
}

fn contrato_record(c: &ContratoCadastro) -> Option<String> {
    c.cabecalho
        .cCodIntCtr
        .clone()
        .or_else(|| c.cabecalho.nCodCtr.map(|i| i.to_string()))
}

fn contrato_chave_record(c: &ContratoChave) -> Option<String> {
    c.cCodIntCtr
        .clone()
        .or_else(|| c.nCodCtr.map(|i| i.to_string()))
}

impl OmieClient {
    /// Start configuring a client for an account with these credentials.
    pub fn builder(app_key: SecretString, app_secret: SecretString) -> OmieClientBuilder {
        OmieClientBuilder {
            account: "omie".to_owned(),
            base_url: DEFAULT_BASE_URL.to_owned(),
            app_key,
            app_secret,
            attempt_timeout: Duration::from_secs(30),
            deadline: Duration::from_secs(120),
            limits: LimitsConfig::default(),
            retry: RetryConfig::default(),
            breaker: None,
        }
    }

    /// Start configuring a client for an account from `sig.toml`.
    /// Its limits and retry delays are Omie's, scaled by the account's `time_scale`.
    pub fn from_account(account: &sig_core::config::OmieAccount) -> OmieClientBuilder {
        let b = OmieClient::builder(account.app_key.clone(), account.app_secret.clone())
            .account_id(account.id.to_string())
            .base_url(account.base_url.as_str());
        if account.time_scale < 1.0 {
            b.limits(LimitsConfig::scaled(account.time_scale))
                .retry(RetryConfig::scaled(account.time_scale))
        } else {
            b
        }
    }

    /// The account id.
    pub fn account(&self) -> &str {
        &self.inner.account
    }

    /// The base URL.
    pub fn base_url(&self) -> &Url {
        &self.inner.base_url
    }

    /// The limits in force.
    pub fn limits(&self) -> &LimitsConfig {
        self.inner.limiter.config()
    }

    /// The misuse block in force, if any: store it so a restarted process keeps it.
    pub fn breaker_state(&self) -> Option<BreakerState> {
        self.inner.breaker.current()
    }

    /// Restore (or clear, with `None`) a misuse block read back from storage.
    pub fn restore_breaker(&self, state: Option<BreakerState>) {
        self.inner.breaker.restore(state);
    }

    /// Make one call with the account's limits, retries and deadline. The typed methods
    /// below are thin wrappers over this.
    ///
    /// # Errors
    /// See [`OmieError`].
    pub async fn call<P, R>(&self, spec: &CallSpec, param: &P) -> Result<R, OmieError>
    where
        P: Serialize,
        R: DeserializeOwned,
    {
        let inner = &*self.inner;
        let method = spec.method;
        let body = serde_json::to_vec(&Envelope {
            call: method,
            app_key: inner.app_key.expose_secret(),
            app_secret: inner.app_secret.expose_secret(),
            param: [param],
        })
        .map_err(|e| OmieError::Encode {
            call: method,
            message: e.to_string(),
        })?;
        let url = inner
            .base_url
            .join(spec.service.path())
            .map_err(|e| OmieError::Encode {
                call: method,
                message: e.to_string(),
            })?;
        let started = Instant::now();
        let deadline = started + inner.deadline;
        let mut backoff = inner.retry.backoff();
        let mut attempts = 0u32;
        // Attempts that failed, refusals with a wait (REDUNDANT, method busy, 429) excepted:
        // the server did not do the work, and the wait it named paces the next attempt. A
        // read whose answer was lost meets REDUNDANT on its retry (Omie counted the first
        // one), and those refusals must not use up the attempts the faults are owed.
        let mut failures = 0u32;
        let mut maybe_applied = false;
        loop {
            if let Some(b) = inner.breaker.current() {
                return Err(observed(self.blocked(method, b), Instant::now()));
            }
            let Some(permit) = inner.limiter.acquire(method, spec.write, deadline).await else {
                return Err(observed(
                    OmieError::DeadlineExceeded {
                        call: method,
                        deadline: inner.deadline,
                        attempts,
                        maybe_applied,
                        record: spec.record.clone(),
                    },
                    started,
                ));
            };
            // The breaker may have opened while this call waited for its turn.
            if let Some(b) = inner.breaker.current() {
                return Err(observed(self.blocked(method, b), Instant::now()));
            }
            if attempts == 0 {
                inner.budget.deposit();
            }
            attempts += 1;
            let timeout = inner
                .attempt_timeout
                .min(deadline.saturating_duration_since(Instant::now()))
                .max(Duration::from_millis(1));
            let attempt_started = Instant::now();
            let outcome = tokio::time::timeout(timeout, self.attempt(spec, &url, body.clone()))
                .await
                .unwrap_or_else(|_| {
                    Err(OmieError::Timeout {
                        call: method,
                        timeout,
                        write: spec.write,
                        record: spec.record.clone(),
                    })
                });
            drop(permit);
            let elapsed_ms = millis(attempt_started);
            match &outcome {
                Ok(_) => tracing::debug!(
                    target: UPSTREAM_EVENT_TARGET,
                    system = "omie",
                    call = method,
                    outcome = "ok",
                    status = 200u16,
                    elapsed_ms,
                    "upstream call"
                ),
                Err(e) => tracing::debug!(
                    target: UPSTREAM_EVENT_TARGET,
                    system = "omie",
                    call = method,
                    outcome = e.outcome_kind(),
                    status = e.status(),
                    elapsed_ms,
                    "upstream call"
                ),
            }
            let err = match outcome {
                Ok(v) => {
                    tracing::debug!(account = %inner.account, call = method, attempts, "omie call ok");
                    return Ok(v);
                }
                Err(e) => e,
            };
            maybe_applied |= err.maybe_applied();
            tracing::debug!(
                account = %inner.account, call = method, attempts,
                error = %err, "omie attempt failed"
            );
            let limits = inner.limiter.config();
            let refused = match err.fault_class() {
                Some(FaultClass::EndOfPages | FaultClass::NotFound) => false,
                Some(_) => true,
                None => matches!(err, OmieError::Http { status: 429, .. }),
            };
            if refused {
                inner.limiter.record_failure(method);
            }
            match err.fault_class() {
                Some(FaultClass::Misuse { wait }) => {
                    let state = inner.breaker.open(
                        limits.honoured_wait(*wait),
                        err.fault().map(Fault::redacted_message).unwrap_or_default(),
                    );
                    tracing::warn!(
                        account = %inner.account, call = method,
                        blocked_until = state.blocked_until, "omie misuse block: breaker open"
                    );
                    return Err(err);
                }
                Some(FaultClass::Redundant { wait } | FaultClass::MethodBusy { wait }) => {
                    inner.limiter.pause(method, limits.honoured_wait(*wait));
                }
                _ => {}
            }
            if let OmieError::Http {
                status: 429,
                retry_after,
                ..
            } = &err
            {
                let wait = retry_after.unwrap_or(limits.window / 4);
                inner.limiter.pause(method, limits.honoured_wait(wait));
            }
            if !err.auto_retryable() {
                return Err(err);
            }
            // Rate-limit waits are served by the method's pause; others back off.
            let delay = if err.retry_after().is_some() {
                Some(Duration::ZERO)
            } else {
                failures += 1;
                backoff.next()
            };
            let Some(delay) = delay else {
                return Err(err);
            };
            if failures >= inner.retry.max_attempts || !inner.budget.withdraw() {
                tracing::warn!(account = %inner.account, call = method, attempts, "omie retries exhausted");
                return Err(err);
            }
            if Instant::now() + delay >= deadline {
                return Err(err);
            }
            tokio::time::sleep(delay).await;
        }
    }

    /// The Omie error for a call refused because the breaker is open.
    fn blocked(&self, method: &'static str, b: BreakerState) -> OmieError {
        OmieError::Blocked {
            call: method,
            account: self.inner.account.clone(),
            retry_after: b.remaining_at(now_unix_ms()),
            until_unix_ms: b.blocked_until,
            reason: b.reason,
        }
    }

    /// One HTTP attempt: send, read the body, then classify (body before status).
    async fn attempt<R: DeserializeOwned>(
        &self,
        spec: &CallSpec,
        url: &Url,
        body: Vec<u8>,
    ) -> Result<R, OmieError> {
        let transport = |e: reqwest::Error, sent: bool| OmieError::Transport {
            call: spec.method,
            sent,
            write: spec.write,
            record: spec.record.clone(),
            source: e.without_url(),
        };
        let resp = self
            .inner
            .http
            .post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| {
                let sent = !e.is_connect();
                transport(e, sent)
            })?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let bytes = resp.bytes().await.map_err(|e| transport(e, true))?;
        decode_answer(spec, status, &content_type, retry_after, &bytes)
    }

    // ----- geral/clientes/ -----

    /// IncluirCliente: create a customer.
    ///
    /// # Errors
    /// See [`OmieError`]; a duplicate comes back as a fault of class
    /// [`FaultClass::DuplicateIntegrationCode`] or [`FaultClass::DuplicateTaxId`].
    pub async fn incluir_cliente(&self, c: &ClienteCadastro) -> Result<ClienteStatus, OmieError> {
        let spec = CallSpec::write(Service::Clientes, "IncluirCliente", cadastro_record(c));
        self.call(&spec, c).await
    }

    /// AlterarCliente: change a customer (keyed by `codigo_cliente_omie` or the integration
    /// code).
    ///
    /// # Errors
    /// See [`OmieError`].
    pub async fn alterar_cliente(&self, c: &ClienteCadastro) -> Result<ClienteStatus, OmieError> {
        let spec = CallSpec::write(Service::Clientes, "AlterarCliente", cadastro_record(c));
        self.call(&spec, c).await
    }

    /// UpsertCliente: create or change the customer keyed by its integration code.
    ///
    /// # Errors
    /// See [`OmieError`].
    pub async fn upsert_cliente(&self, c: &ClienteCadastro) -> Result<ClienteStatus, OmieError> {
        let spec = CallSpec::write(Service::Clientes, "UpsertCliente", cadastro_record(c));
        self.call(&spec, c).await
    }

    /// UpsertClienteCpfCnpj: create or change the customer keyed by its CPF/CNPJ.
    ///
    /// # Errors
    /// See [`OmieError`].
    pub async fn upsert_cliente_cpf_cnpj(
        &self,
        c: &ClienteCadastro,
    ) -> Result<ClienteStatus, OmieError> {
        let spec = CallSpec::write(
            Service::Clientes,
            "UpsertClienteCpfCnpj",
            cadastro_record(c),
        );
        self.call(&spec, c).await
    }

    /// ConsultarCliente: one customer by Omie id or integration code (not by CPF/CNPJ).
    ///
    /// # Errors
    /// See [`OmieError`]; a missing customer is a fault of class [`FaultClass::NotFound`]
    /// (see [`OmieClient::find_cliente`]).
    pub async fn consultar_cliente(&self, k: &ClienteChave) -> Result<ClienteCadastro, OmieError> {
        let spec = CallSpec::read(Service::Clientes, "ConsultarCliente", chave_record(k));
        self.call(&spec, k).await
    }

    /// ConsultarCliente, with "not found" as `None`.
    ///
    /// # Errors
    /// See [`OmieError`].
    pub async fn find_cliente(
        &self,
        k: &ClienteChave,
    ) -> Result<Option<ClienteCadastro>, OmieError> {
        match self.consultar_cliente(k).await {
            Ok(c) => Ok(Some(c)),
            Err(e)
                if matches!(
                    e.fault_class(),
                    Some(FaultClass::NotFound | FaultClass::EndOfPages)
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// ExcluirCliente: delete a customer.
    ///
    /// # Errors
    /// See [`OmieError`].
    pub async fn excluir_cliente(&self, k: &ClienteChave) -> Result<ClienteStatus, OmieError> {
        let spec = CallSpec::write(Service::Clientes, "ExcluirCliente", chave_record(k));
        self.call(&spec, k).await
    }

    /// AssociarCodIntCliente: give a customer that has none an integration code (both codes
    /// in the key).
    ///
    /// # Errors
    /// See [`OmieError`].
    pub async fn associar_cod_int_cliente(
        &self,
        k: &ClienteChave,
    ) -> Result<ClienteStatus, OmieError> {
        let spec = CallSpec::write(Service::Clientes, "AssociarCodIntCliente", chave_record(k));
        self.call(&spec, k).await
    }

    /// ListarClientes: one page (an empty page past the end).
    ///
    /// # Errors
    /// See [`OmieError`].
    pub async fn listar_clientes(
        &self,
        r: &ClientesListRequest,
    ) -> Result<ClientesListFullResponse, OmieError> {
        self.page(&ListarClientes(r.clone())).await.map(|p| {
            p.unwrap_or(ClientesListFullResponse {
                pagina: r.pagina,
                total_de_paginas: r.pagina.saturating_sub(1),
                registros: 0,
                total_de_registros: 0,
                clientes_cadastro: Vec::new(),
            })
        })
    }

    /// ListarClientesResumido: one page (an empty page past the end).
    ///
    /// # Errors
    /// See [`OmieError`].
    pub async fn listar_clientes_resumido(
        &self,
        r: &ClientesListRequest,
    ) -> Result<ClientesListResumidoResponse, OmieError> {
        self.page(&ListarClientesResumido(r.clone()))
            .await
            .map(|p| {
                p.unwrap_or(ClientesListResumidoResponse {
                    pagina: r.pagina,
                    total_de_paginas: r.pagina.saturating_sub(1),
                    registros: 0,
                    total_de_registros: 0,
                    clientes_cadastro_resumido: Vec::new(),
                })
            })
    }

    // ----- servicos/contrato/ -----

    /// IncluirContrato: create a contract.
    ///
    /// # Errors
    /// See [`OmieError`].
    pub async fn incluir_contrato(&self, c: &ContratoCadastro) -> Result<CsStatus, OmieError> {
        let spec = CallSpec::write(Service::Contrato, "IncluirContrato", contrato_record(c));
        self.call(&spec, c).await
    }

    /// AlterarContrato: change a contract.
    ///
    /// # Errors
    /// See [`OmieError`].
    pub async fn alterar_contrato(&self, c: &ContratoCadastro) -> Result<CsStatus, OmieError> {
        let spec = CallSpec::write(Service::Contrato, "AlterarContrato", contrato_record(c));
        self.call(&spec, c).await
    }

    /// UpsertContrato: create or change a contract keyed by `cCodIntCtr`.
    ///
    /// # Errors
    /// See [`OmieError`].
    pub async fn upsert_contrato(&self, c: &ContratoCadastro) -> Result<CsStatus, OmieError> {
        let spec = CallSpec::write(Service::Contrato, "UpsertContrato", contrato_record(c));
        self.call(&spec, c).await
    }

    /// ConsultarContrato: one contract by `nCodCtr` or `cCodIntCtr` [inferred key and answer
    /// shape].
    ///
    /// # Errors
    /// See [`OmieError`].
    pub async fn consultar_contrato(
        &self,
        k: &ContratoChave,
    ) -> Result<ContratoCadastro, OmieError> {
        let spec = CallSpec::read(
            Service::Contrato,
            "ConsultarContrato",
            contrato_chave_record(k),
        );
        self.call(&spec, k).await
    }

    /// ListarContratos: one page (an empty page past the end).
    ///
    /// # Errors
    /// See [`OmieError`].
    pub async fn listar_contratos(
        &self,
        r: &ListarContratos,
    ) -> Result<ListarContratosResponse, OmieError> {
        self.page(r).await.map(|p| {
            p.unwrap_or(ListarContratosResponse {
                pagina: r.pagina,
                total_de_paginas: r.pagina.saturating_sub(1),
                registros: 0,
                total_de_registros: 0,
                contratoCadastro: Vec::new(),
            })
        })
    }

    // ----- servicos/contratofat/ -----

    async fn contrato_fat(
        &self,
        method: &'static str,
        k: &ContratoChave,
    ) -> Result<ContratoFatStatus, OmieError> {
        let spec = CallSpec::write(Service::ContratoFat, method, contrato_chave_record(k));
        self.call(&spec, k).await
    }

    /// SuspenderContrato `[inferred key and answer shape]`.
    ///
    /// # Errors
    /// See [`OmieError`].
    pub async fn suspender_contrato(
        &self,
        k: &ContratoChave,
    ) -> Result<ContratoFatStatus, OmieError> {
        self.contrato_fat("SuspenderContrato", k).await
    }

    /// AtivarContrato `[inferred key and answer shape]`.
    ///
    /// # Errors
    /// See [`OmieError`].
    pub async fn ativar_contrato(&self, k: &ContratoChave) -> Result<ContratoFatStatus, OmieError> {
        self.contrato_fat("AtivarContrato", k).await
    }

    /// CancelarContrato `[inferred key and answer shape]`.
    ///
    /// # Errors
    /// See [`OmieError`].
    pub async fn cancelar_contrato(
        &self,
        k: &ContratoChave,
    ) -> Result<ContratoFatStatus, OmieError> {
        self.contrato_fat("CancelarContrato", k).await
    }

    /// ReativarContrato `[inferred key and answer shape]`.
    ///
    /// # Errors
    /// See [`OmieError`].
    pub async fn reativar_contrato(
        &self,
        k: &ContratoChave,
    ) -> Result<ContratoFatStatus, OmieError> {
        self.contrato_fat("ReativarContrato", k).await
    }

    // ----- servicos/servico/ -----

    /// ConsultarCadastroServico: one catalog service `[inferred key]`.
    ///
    /// # Errors
    /// See [`OmieError`].
    pub async fn consultar_cadastro_servico(
        &self,
        k: &ServicoChave,
    ) -> Result<ServicoCadastro, OmieError> {
        let record = k
            .cCodIntServ
            .clone()
            .or_else(|| k.nCodServ.map(|i| i.to_string()));
        let spec = CallSpec::read(Service::Servico, "ConsultarCadastroServico", record);
        self.call(&spec, k).await
    }

    /// ListarCadastroServico: one page (an empty page past the end).
    ///
    /// # Errors
    /// See [`OmieError`].
    pub async fn listar_cadastro_servico(
        &self,
        r: &ListarCadastroServico,
    ) -> Result<ListarCadastroServicoResponse, OmieError> {
        self.page(r).await.map(|p| {
            p.unwrap_or(ListarCadastroServicoResponse {
                nPagina: r.nPagina,
                nTotPaginas: r.nPagina.saturating_sub(1),
                nRegistros: 0,
                nTotRegistros: 0,
                cadastros: Vec::new(),
            })
        })
    }

    // ----- pagination -----

    /// One page of any List call; `None` past the end (`Client-5113`).
    ///
    /// # Errors
    /// See [`OmieError`].
    pub async fn page<Q: PageRequest>(&self, req: &Q) -> Result<Option<Q::Page>, OmieError> {
        let spec = CallSpec::read(Q::SERVICE, Q::METHOD, None);
        match self.call::<Q, Q::Page>(&spec, req).await {
            Ok(p) => Ok(Some(p)),
            Err(e) if matches!(e.fault_class(), Some(FaultClass::EndOfPages)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every page of a List call, lazily, from page 1, `per_page` records each (capped at
    /// 100): the loop runs on `total_de_paginas` (or the service's spelling) and stops at
    /// the last page, an empty page or `Client-5113`.
    pub fn pages<Q: PageRequest>(
        &self,
        req: Q,
        per_page: u32,
    ) -> impl Stream<Item = Result<Vec<<Q::Page as Page>::Item>, OmieError>> + Send + 'static
    where
        <Q::Page as Page>::Item: Send,
    {
        let per_page = per_page.clamp(1, MAX_PAGE_SIZE);
        let client = self.clone();
        stream::try_unfold(Some(1u32), move |next| {
            let client = client.clone();
            let mut r = req.clone();
            async move {
                let Some(n) = next else { return Ok(None) };
                r.set_page(n, per_page);
                match client.page(&r).await? {
                    None => Ok(None),
                    Some(page) => {
                        let total = page.total_pages();
                        let items = page.into_items();
                        let more = !items.is_empty() && n < total;
                        Ok(Some((items, more.then_some(n + 1))))
                    }
                }
            }
        })
    }

    /// Every record of a List call, one at a time (see [`OmieClient::pages`]).
    pub fn stream<Q: PageRequest>(
        &self,
        req: Q,
    ) -> impl Stream<Item = Result<<Q::Page as Page>::Item, OmieError>> + Send + 'static
    where
        <Q::Page as Page>::Item: Send,
    {
        self.pages(req, MAX_PAGE_SIZE)
            .map_ok(|items| stream::iter(items.into_iter().map(Ok)))
            .try_flatten()
    }

    /// Every record of a List call, collected.
    ///
    /// # Errors
    /// The first failed page.
    pub async fn collect_all<Q: PageRequest>(
        &self,
        req: Q,
    ) -> Result<Vec<<Q::Page as Page>::Item>, OmieError>
    where
        <Q::Page as Page>::Item: Send,
    {
        self.stream(req).try_collect().await
    }
}

/// Classify an answer: a fault body first, whatever the status; then non-success statuses;
/// then the typed body.
fn decode_answer<R: DeserializeOwned>(
    spec: &CallSpec,
    status: u16,
    content_type: &str,
    retry_after: Option<Duration>,
    bytes: &[u8],
) -> Result<R, OmieError> {
    let probe: Result<FaultProbe, _> = serde_json::from_slice(bytes);
    match probe {
        Ok(FaultProbe {
            faultstring,
            faultcode,
        }) if faultstring.is_some() || faultcode.is_some() => {
            let fault = Fault::classify(FaultBody {
                faultstring: faultstring.unwrap_or_default(),
                faultcode: faultcode.unwrap_or_default(),
            });
            Err(OmieError::Fault {
                call: spec.method,
                status,
                fault: Box::new(fault),
                write: spec.write,
                record: spec.record.clone(),
            })
        }
        Ok(_) if (200..300).contains(&status) => {
            let mut de = serde_json::Deserializer::from_slice(bytes);
            serde_path_to_error::deserialize(&mut de).map_err(|e| {
                OmieError::decode(spec.method, status, spec.write, spec.record.clone(), e)
            })
        }
        Err(e) if (200..300).contains(&status) => {
            // Not JSON (or cut short) with a success status: a malformed answer.
            let mut de = serde_json::Deserializer::from_slice(bytes);
            Err(
                match serde_path_to_error::deserialize::<_, serde_json::Value>(&mut de) {
                    Err(pe) => {
                        OmieError::decode(spec.method, status, spec.write, spec.record.clone(), pe)
                    }
                    Ok(_) => OmieError::Decode {
                        call: spec.method,
                        status,
                        path: ".".into(),
                        message: e.to_string(),
                        malformed: true,
                        write: spec.write,
                        record: spec.record.clone(),
                    },
                },
            )
        }
        _ => Err(OmieError::Http {
            call: spec.method,
            status,
            content_type: content_type.to_owned(),
            len: bytes.len(),
            retry_after,
            write: spec.write,
            record: spec.record.clone(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builder() -> OmieClientBuilder {
        OmieClient::builder(SecretString::from("k"), SecretString::from("s"))
    }

    #[test]
    fn builder_checks_its_inputs() {
        let c = builder()
            .base_url("http://127.0.0.1:9/api/v1")
            .build()
            .unwrap();
        assert_eq!(
            c.base_url().as_str(),
            "http://127.0.0.1:9/api/v1/",
            "trailing slash added"
        );
        assert_eq!(
            c.base_url()
                .join(Service::Clientes.path())
                .unwrap()
                .as_str(),
            "http://127.0.0.1:9/api/v1/geral/clientes/"
        );
        assert!(matches!(
            builder().base_url("ftp://x/").build(),
            Err(BuildError::BaseUrl(_))
        ));
        let e = OmieClient::builder(SecretString::from(" "), SecretString::from("s"))
            .account_id("acme")
            .build()
            .unwrap_err();
        assert_eq!(e.to_string(), "Omie account `acme`: app_key is empty");
        assert!(matches!(
            builder()
                .attempt_timeout(Duration::from_secs(10))
                .deadline(Duration::from_secs(5))
                .build(),
            Err(BuildError::Timeouts(_))
        ));
    }

    #[test]
    fn the_answer_is_read_before_the_status() {
        let spec = CallSpec::read(Service::Clientes, "ConsultarCliente", None);
        let fault = br#"{"faultstring": "ERROR: Nao existem registros para a pagina [1]!", "faultcode": "SOAP-ENV:Client-5113"}"#;
        let e = decode_answer::<serde_json::Value>(&spec, 200, "application/json", None, fault)
            .unwrap_err();
        assert!(
            matches!(e.fault_class(), Some(FaultClass::EndOfPages)),
            "{e:?}"
        );
        let e = decode_answer::<serde_json::Value>(&spec, 500, "text/html", None, b"<html/>")
            .unwrap_err();
        assert!(matches!(e, OmieError::Http { status: 500, .. }));
        let ok =
            decode_answer::<serde_json::Value>(&spec, 200, "application/json", None, b"{\"a\":1}")
                .unwrap();
        assert_eq!(ok["a"], 1);
    }
}
