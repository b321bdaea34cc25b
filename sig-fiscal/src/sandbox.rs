//! The fiscal sandbox (feature `sandbox`): the six providers on one loopback server, each
//! under its own prefix, speaking its wire format and error shapes, with per-provider rate
//! windows, CNPJá's key and credits, and seeded faults from `sig-sandbox`.
//!
//! | provider | base URL | fault call name |
//! |---|---|---|
//! | BrasilAPI CNPJ | `{base}brasilapi/` (`api/cnpj/v1/{cnpj}`) | `brasil_api` |
//! | Minha Receita | `{base}minhareceita/` (`{cnpj}`) | `minha_receita` |
//! | ReceitaWS | `{base}receitaws/` (`v1/cnpj/{cnpj}`) | `receita_ws` |
//! | CNPJá | `{base}cnpja/` (`office/{cnpj}`) | `cnpja` |
//! | ViaCEP | `{base}viacep/` (`ws/{cep}/json/`) | `via_cep` |
//! | BrasilAPI CEP | `{base}brasilapi/` (`api/cep/v2/{cep}`) | `brasil_api_cep` |
//!
//! The fault key is the CNPJ or CEP as it appears in the path. Faults are decided first (a
//! provider that is down is down whatever the request), then CNPJá's key, the input, the
//! provider's rate window, CNPJá's credits, and the data. Every answer about a key (found or
//! not found) is counted in the create counters under `lookup.<provider>`, so tests see how
//! often each provider was really asked ([`FiscalSandbox::served`]).
//!
//! Default data ([`demo_companies`], [`demo_ceps`]): an active, a closed and an alphanumeric
//! company, and the CEPs of their addresses. `34665388000161` is a valid CNPJ nobody
//! registers; `99999999` a CEP that does not exist.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use sig_core::{Cep, Cnpj, Uf};
use sig_sandbox::{
    CreateCounters, FaultInjector, SandboxError, SandboxServer, Timing, WindowLimiter, html_error,
};
use url::Url;

use crate::client::{FiscalClientBuilder, ProviderConfig};
use crate::model::{
    CepRecord, Cnae, CompanyAddress, CompanyRecord, LegalNature, LookupKind, Partner, Provider,
    Registration,
};
use sig_core::fiscal::RegistrationStatus;

/// The CNPJá key the sandbox accepts unless told otherwise.
pub const SANDBOX_CNPJA_KEY: &str =
    "sandbox-cnpja-key-00000000000000000000000000000000000000000000000000000";

/// The path prefix of each provider on the sandbox.
pub fn prefix(provider: Provider) -> &'static str {
    match provider {
        Provider::BrasilApi | Provider::BrasilApiCep => "brasilapi",
        Provider::MinhaReceita => "minhareceita",
        Provider::ReceitaWs => "receitaws",
        Provider::Cnpja => "cnpja",
        Provider::ViaCep => "viacep",
    }
}

/// Configures a [`FiscalSandbox`].
pub struct FiscalSandboxBuilder {
    timing: Timing,
    limits: BTreeMap<Provider, usize>,
    cnpja_key: SecretString,
    cnpja_credits: u64,
    companies: Vec<CompanyRecord>,
    ceps: Vec<CepRecord>,
}

impl fmt::Debug for FiscalSandboxBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FiscalSandboxBuilder")
            .field("timing", &self.timing)
            .field("limits", &self.limits)
            .field("cnpja_credits", &self.cnpja_credits)
            .finish_non_exhaustive()
    }
}

impl Default for FiscalSandboxBuilder {
    fn default() -> Self {
        FiscalSandboxBuilder {
            timing: Timing::real(),
            limits: Provider::ALL
                .into_iter()
                .map(|p| {
                    (
                        p,
                        ProviderConfig::default_rate_limit(p).requests.get() as usize,
                    )
                })
                .collect(),
            cnpja_key: SecretString::from(SANDBOX_CNPJA_KEY),
            cnpja_credits: 1000,
            companies: demo_companies(),
            ceps: demo_ceps(),
        }
    }
}

impl FiscalSandboxBuilder {
    /// Scales every window (`Timing::scaled(0.01)`: a minute lasts 600 ms).
    pub fn timing(mut self, timing: Timing) -> Self {
        self.timing = timing;
        self
    }

    /// Requests per (scaled) minute the provider accepts before answering 429. Defaults: the
    /// client's default budgets ([`ProviderConfig::default_rate_limit`]).
    pub fn limit(mut self, provider: Provider, per_minute: usize) -> Self {
        self.limits.insert(provider, per_minute);
        self
    }

    /// The CNPJá key the sandbox accepts.
    pub fn cnpja_key(mut self, key: SecretString) -> Self {
        self.cnpja_key = key;
        self
    }

    /// CNPJá credits; each answered query costs one.
    pub fn cnpja_credits(mut self, credits: u64) -> Self {
        self.cnpja_credits = credits;
        self
    }

    /// Registers a company (replacing one with the same CNPJ).
    pub fn company(mut self, record: CompanyRecord) -> Self {
        self.companies.retain(|c| c.cnpj != record.cnpj);
        self.companies.push(record);
        self
    }

    /// Registers a CEP (replacing one with the same code).
    pub fn cep(mut self, record: CepRecord) -> Self {
        self.ceps.retain(|c| c.cep != record.cep);
        self.ceps.push(record);
        self
    }

    /// Starts serving on a free loopback port.
    ///
    /// # Errors
    /// The port cannot be bound.
    pub async fn start(self) -> Result<FiscalSandbox, SandboxError> {
        let faults = FaultInjector::new().with_timeout_hold(self.timing.secs(30));
        let counters = CreateCounters::new();
        let window = self.timing.secs(60);
        let limiters = self
            .limits
            .iter()
            .map(|(p, n)| (*p, WindowLimiter::sliding(*n, window)))
            .collect();
        let app = App {
            companies: Arc::new(Mutex::new(
                self.companies.into_iter().map(|c| (c.cnpj, c)).collect(),
            )),
            ceps: Arc::new(Mutex::new(
                self.ceps.into_iter().map(|c| (c.cep, c)).collect(),
            )),
            faults: faults.clone(),
            counters: counters.clone(),
            limiters: Arc::new(limiters),
            cnpja_key: Arc::new(self.cnpja_key.clone()),
            credits: Arc::new(AtomicU64::new(self.cnpja_credits)),
        };
        let router = Router::new()
            .route("/brasilapi/api/cnpj/v1/{key}", get(brasil_api))
            .route("/minhareceita/{key}", get(minha_receita))
            .route("/receitaws/v1/cnpj/{key}", get(receita_ws))
            .route("/cnpja/office/{key}", get(cnpja))
            .route("/viacep/ws/{key}/json/", get(via_cep))
            .route("/brasilapi/api/cep/v2/{key}", get(brasil_api_cep))
            .with_state(app.clone());
        let state = app.clone();
        let server = SandboxServer::builder("fiscal", router)
            .faults(faults)
            .counters(counters)
            .records(move || state.records())
            .start()
            .await?;
        Ok(FiscalSandbox {
            server,
            app,
            cnpja_key: self.cnpja_key,
        })
    }
}

/// A running fiscal sandbox.
pub struct FiscalSandbox {
    server: SandboxServer,
    app: App,
    cnpja_key: SecretString,
}

impl fmt::Debug for FiscalSandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FiscalSandbox")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl FiscalSandbox {
    /// A builder with the demo data and real windows.
    pub fn builder() -> FiscalSandboxBuilder {
        FiscalSandboxBuilder::default()
    }

    /// The server (address, `announce()`, faults, counters).
    pub fn server(&self) -> &SandboxServer {
        &self.server
    }

    /// The fault injector (`FaultSpec::always(..).on_call("brasil_api")`).
    pub fn faults(&self) -> &FaultInjector {
        self.server.faults()
    }

    /// The base URL of one provider on this sandbox.
    pub fn base_url(&self, provider: Provider) -> Url {
        let url = format!("{}{}/", self.server.base_url(), prefix(provider));
        Url::parse(&url).expect("a loopback URL with a fixed prefix is valid")
    }

    /// A provider pointed at this sandbox (with the CNPJá key), with the client's default
    /// rate limit.
    pub fn provider_config(&self, provider: Provider) -> ProviderConfig {
        let config = ProviderConfig::new(provider).base_url(self.base_url(provider));
        if provider.needs_api_key() {
            config.api_key(self.cnpja_key.clone())
        } else {
            config
        }
    }

    /// A client builder with the given providers, in order, pointed at this sandbox.
    pub fn client_builder(&self, providers: &[Provider]) -> FiscalClientBuilder {
        providers
            .iter()
            .fold(FiscalClientBuilder::default(), |b, p| match p.kind() {
                LookupKind::Cnpj => b.cnpj_provider(self.provider_config(*p)),
                LookupKind::Cep => b.cep_provider(self.provider_config(*p)),
            })
    }

    /// How many answers (found or not found) `provider` gave for `key` (canonical CNPJ or
    /// CEP).
    pub fn served(&self, provider: Provider, key: &str) -> u64 {
        self.app.counters.count(&counter_kind(provider), key)
    }

    /// How many answers `provider` gave in all.
    pub fn served_total(&self, provider: Provider) -> u64 {
        self.app.counters.total(&counter_kind(provider))
    }

    /// CNPJá credits left.
    pub fn cnpja_credits(&self) -> u64 {
        self.app.credits.load(Ordering::SeqCst)
    }

    /// Stops the server.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

fn counter_kind(provider: Provider) -> String {
    format!("lookup.{provider}")
}

#[derive(Clone)]
struct App {
    companies: Arc<Mutex<BTreeMap<Cnpj, CompanyRecord>>>,
    ceps: Arc<Mutex<BTreeMap<Cep, CepRecord>>>,
    faults: FaultInjector,
    counters: CreateCounters,
    limiters: Arc<BTreeMap<Provider, WindowLimiter>>,
    cnpja_key: Arc<SecretString>,
    credits: Arc<AtomicU64>,
}

impl App {
    fn records(&self) -> Value {
        let companies: Vec<String> = self
            .companies
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .map(|c| c.as_str().to_owned())
            .collect();
        let ceps: Vec<String> = self
            .ceps
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .map(|c| c.as_str().to_owned())
            .collect();
        json!({"companies": companies, "ceps": ceps, "cnpja_credits": self.credits.load(Ordering::SeqCst)})
    }

    /// `Err(retry-after seconds)` when the provider's window is full.
    fn acquire(&self, provider: Provider) -> Result<(), u64> {
        match self.limiters.get(&provider) {
            Some(l) => l
                .try_acquire(provider.as_str())
                .map_err(|wait| wait.0.as_secs_f64().ceil().max(1.0) as u64),
            None => Ok(()),
        }
    }

    fn company(&self, cnpj: &Cnpj) -> Option<CompanyRecord> {
        self.companies
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(cnpj)
            .cloned()
    }

    fn cep(&self, cep: &Cep) -> Option<CepRecord> {
        self.ceps
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(cep)
            .cloned()
    }

    fn served(&self, provider: Provider, key: &str) {
        self.counters.record(&counter_kind(provider), key);
    }

    /// Runs `answer` through the fault injector for `provider` and `key`.
    async fn with_faults(
        &self,
        provider: Provider,
        key: String,
        answer: impl FnOnce() -> Response + Send,
    ) -> Response {
        self.faults
            .run(provider.as_str(), Some(&key), || async move { answer() })
            .await
    }
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn with_retry_after(mut response: Response, secs: u64) -> Response {
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

// ---------------------------------------------------------------------------------------------
// Handlers

async fn brasil_api(State(app): State<App>, Path(key): Path<String>) -> Response {
    open_data(app, Provider::BrasilApi, key).await
}

async fn minha_receita(State(app): State<App>, Path(key): Path<String>) -> Response {
    open_data(app, Provider::MinhaReceita, key).await
}

/// BrasilAPI and Minha Receita share the schema; their error bodies differ.
async fn open_data(app: App, provider: Provider, key: String) -> Response {
    let brasil = provider == Provider::BrasilApi;
    let error = move |status: StatusCode, name: &str, kind: &str, message: String| {
        let body = if brasil {
            json!({"name": name, "message": message, "type": kind})
        } else {
            json!({"message": message})
        };
        json_response(status, body)
    };
    let inner = app.clone();
    app.with_faults(provider, key.clone(), move || {
        let Ok(cnpj) = key.parse::<Cnpj>() else {
            return error(
                StatusCode::BAD_REQUEST,
                "BadRequestError",
                "bad_request",
                format!("CNPJ {key} inválido."),
            );
        };
        if let Err(secs) = inner.acquire(provider) {
            return with_retry_after(
                json_response(
                    StatusCode::TOO_MANY_REQUESTS,
                    json!({"message": "Too many requests, please try again later."}),
                ),
                secs,
            );
        }
        inner.served(provider, cnpj.as_str());
        match inner.company(&cnpj) {
            Some(record) => json_response(StatusCode::OK, render_open_data(&record)),
            None => error(
                StatusCode::NOT_FOUND,
                "NotFoundError",
                "not_found",
                format!("CNPJ {} não encontrado.", cnpj.formatted()),
            ),
        }
    })
    .await
}

async fn receita_ws(State(app): State<App>, Path(key): Path<String>) -> Response {
    const P: Provider = Provider::ReceitaWs;
    let inner = app.clone();
    app.with_faults(P, key.clone(), move || {
        let Ok(cnpj) = key.parse::<Cnpj>() else {
            return json_response(
                StatusCode::OK,
                json!({"status": "ERROR", "message": "CNPJ inválido"}),
            );
        };
        if let Err(secs) = inner.acquire(P) {
            let page = html_error(StatusCode::TOO_MANY_REQUESTS, None);
            return with_retry_after(page, secs);
        }
        inner.served(P, cnpj.as_str());
        match inner.company(&cnpj) {
            Some(record) => json_response(StatusCode::OK, render_receita_ws(&record)),
            None => json_response(
                StatusCode::OK,
                json!({"status": "ERROR", "message": "CNPJ rejeitado pela Receita Federal"}),
            ),
        }
    })
    .await
}

async fn cnpja(State(app): State<App>, Path(key): Path<String>, headers: HeaderMap) -> Response {
    const P: Provider = Provider::Cnpja;
    let inner = app.clone();
    app.with_faults(P, key.clone(), move || {
        let authorized = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == inner.cnpja_key.expose_secret());
        if !authorized {
            return json_response(
                StatusCode::UNAUTHORIZED,
                json!({"code": 401, "message": "invalid authentication"}),
            );
        }
        let Ok(cnpj) = key.parse::<Cnpj>() else {
            return json_response(
                StatusCode::BAD_REQUEST,
                json!({"code": 400, "message": "taxId must be a valid CNPJ"}),
            );
        };
        if let Err(secs) = inner.acquire(P) {
            return with_retry_after(
                json_response(
                    StatusCode::TOO_MANY_REQUESTS,
                    json!({"code": 429, "message": "rate limit exceeded"}),
                ),
                secs,
            );
        }
        let took = inner
            .credits
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |c| c.checked_sub(1));
        if let Err(remaining) = took {
            return json_response(
                StatusCode::TOO_MANY_REQUESTS,
                json!({"code": 429, "message": "not enough credits", "required": 1, "remaining": remaining}),
            );
        }
        inner.served(P, cnpj.as_str());
        match inner.company(&cnpj) {
            Some(record) => json_response(StatusCode::OK, render_cnpja(&record)),
            None => json_response(
                StatusCode::NOT_FOUND,
                json!({"code": 404, "message": "office not found"}),
            ),
        }
    })
    .await
}

async fn via_cep(State(app): State<App>, Path(key): Path<String>) -> Response {
    const P: Provider = Provider::ViaCep;
    let inner = app.clone();
    app.with_faults(P, key.clone(), move || {
        // ViaCEP wants exactly 8 digits.
        let well_formed = key.len() == 8 && key.bytes().all(|b| b.is_ascii_digit());
        let cep = key.parse::<Cep>().ok().filter(|_| well_formed);
        let Some(cep) = cep else {
            return html_error(
                StatusCode::BAD_REQUEST,
                Some("<!DOCTYPE HTML><html><body><h1>Http 400</h1><h3>Verifique a sua URL (Bad Request)</h3></body></html>"),
            );
        };
        if let Err(secs) = inner.acquire(P) {
            return with_retry_after(
                (StatusCode::TOO_MANY_REQUESTS, "Too Many Requests").into_response(),
                secs,
            );
        }
        inner.served(P, cep.as_str());
        match inner.cep(&cep) {
            Some(record) => json_response(StatusCode::OK, render_via_cep(&record)),
            None => json_response(StatusCode::OK, json!({"erro": "true"})),
        }
    })
    .await
}

async fn brasil_api_cep(State(app): State<App>, Path(key): Path<String>) -> Response {
    const P: Provider = Provider::BrasilApiCep;
    let inner = app.clone();
    app.with_faults(P, key.clone(), move || {
        let Ok(cep) = key.parse::<Cep>() else {
            return json_response(
                StatusCode::BAD_REQUEST,
                json!({"name": "CepPromiseError", "message": "CEP deve conter exatamente 8 caracteres.",
                       "type": "validation_error",
                       "errors": [{"message": "CEP informado possui mais do que 8 caracteres.", "service": "cep_validation"}]}),
            );
        };
        if let Err(secs) = inner.acquire(P) {
            return with_retry_after(
                json_response(
                    StatusCode::TOO_MANY_REQUESTS,
                    json!({"message": "Too many requests, please try again later."}),
                ),
                secs,
            );
        }
        inner.served(P, cep.as_str());
        match inner.cep(&cep) {
            Some(record) => json_response(StatusCode::OK, render_brasil_api_cep(&record)),
            None => json_response(
                StatusCode::NOT_FOUND,
                json!({"name": "CepPromiseError", "message": "Todos os serviços de CEP retornaram erro.",
                       "type": "service_error",
                       "errors": [{"name": "ServiceError", "message": "CEP não encontrado na base dos Correios.", "service": "correios"}]}),
            ),
        }
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Rendering the domain records in each provider's wire format.

fn status_code(r: &Registration) -> i64 {
    match r.status {
        RegistrationStatus::Null => 1,
        RegistrationStatus::Active => 2,
        RegistrationStatus::Suspended => 3,
        RegistrationStatus::Unfit => 4,
        RegistrationStatus::Closed => 8,
        RegistrationStatus::Unknown => r.code.unwrap_or(0),
    }
}

fn iso(d: Option<NaiveDate>) -> Value {
    d.map_or(Value::Null, |d| {
        Value::String(d.format("%Y-%m-%d").to_string())
    })
}

fn br_date(d: Option<NaiveDate>) -> String {
    d.map(|d| d.format("%d/%m/%Y").to_string())
        .unwrap_or_default()
}

fn number(d: Option<Decimal>) -> Value {
    d.and_then(|d| serde_json::Number::from_str(&d.to_string()).ok())
        .map_or(Value::Null, Value::Number)
}

fn int(code: &str) -> Value {
    code.parse::<i64>().map_or(Value::Null, Value::from)
}

fn text(s: Option<&String>) -> Value {
    Value::String(s.cloned().unwrap_or_default())
}

/// The street without its type in front (`RUA DAS FLORES` with type `RUA` → `DAS FLORES`).
fn bare_street(a: &CompanyAddress) -> String {
    let street = a.street.clone().unwrap_or_default();
    match &a.street_type {
        Some(t) => street
            .strip_prefix(t.as_str())
            .map_or(street.clone(), |s| s.trim_start().to_owned()),
        None => street,
    }
}

/// `AA` + national number with a space (`11 23851939`).
fn ddd_phone(national: &str) -> String {
    format!("{} {}", &national[..2], &national[2..])
}

fn render_open_data(r: &CompanyRecord) -> Value {
    let a = &r.address;
    let secondary: Vec<Value> = if r.secondary_activities.is_empty() {
        vec![json!({"codigo": 0, "descricao": ""})]
    } else {
        r.secondary_activities
            .iter()
            .map(|c| json!({"codigo": int(&c.code), "descricao": text(c.description.as_ref())}))
            .collect()
    };
    let phones: Vec<String> = r.phones.iter().map(|p| ddd_phone(&p.national())).collect();
    json!({
        "cnpj": r.cnpj.as_str(),
        "razao_social": r.legal_name,
        "nome_fantasia": text(r.trade_name.as_ref()),
        "situacao_cadastral": status_code(&r.registration),
        "descricao_situacao_cadastral": r.registration.status.as_receita_str(),
        "data_situacao_cadastral": iso(r.registration.since),
        "motivo_situacao_cadastral": 0,
        "descricao_motivo_situacao_cadastral": text(r.registration.reason.as_ref()),
        "data_inicio_atividade": iso(r.opening_date),
        "cnae_fiscal": r.main_activity.as_ref().map_or(Value::Null, |c| int(&c.code)),
        "cnae_fiscal_descricao": text(r.main_activity.as_ref().and_then(|c| c.description.as_ref())),
        "cnaes_secundarios": secondary,
        "codigo_natureza_juridica": r.legal_nature.as_ref().and_then(|n| n.code.as_deref()).map_or(Value::Null, int),
        "natureza_juridica": text(r.legal_nature.as_ref().and_then(|n| n.description.as_ref())),
        "capital_social": number(r.capital_social),
        "descricao_tipo_de_logradouro": text(a.street_type.as_ref()),
        "logradouro": bare_street(a),
        "numero": text(a.number.as_ref()),
        "complemento": text(a.complement.as_ref()),
        "bairro": text(a.district.as_ref()),
        "municipio": text(a.city.as_ref()),
        "codigo_municipio_ibge": a.city_ibge_code.as_deref().map_or(Value::Null, int),
        "uf": a.uf.map_or("", Uf::as_str),
        "cep": a.cep.map(|c| c.as_str().to_owned()).unwrap_or_default(),
        "email": r.email.as_ref().map(|e| e.as_str().to_owned()),
        "ddd_telefone_1": phones.first().cloned().unwrap_or_default(),
        "ddd_telefone_2": phones.get(1).cloned().unwrap_or_default(),
        "ddd_fax": "",
        "qsa": r.partners.iter().map(|p| json!({
            "nome_socio": p.name,
            "qualificacao_socio": text(p.role.as_ref()),
            "data_entrada_sociedade": iso(p.since),
        })).collect::<Vec<_>>(),
    })
}

/// `6190601` → `61.90-6-01`.
fn masked_cnae(code: &str) -> String {
    if code.len() == 7 {
        format!(
            "{}.{}-{}-{}",
            &code[..2],
            &code[2..4],
            &code[4..5],
            &code[5..]
        )
    } else {
        code.to_owned()
    }
}

fn render_receita_ws(r: &CompanyRecord) -> Value {
    let a = &r.address;
    let activity =
        |c: &Cnae| json!({"code": masked_cnae(&c.code), "text": text(c.description.as_ref())});
    let secondary: Vec<Value> = if r.secondary_activities.is_empty() {
        vec![json!({"code": "00.00-0-00", "text": "Não informada"})]
    } else {
        r.secondary_activities.iter().map(activity).collect()
    };
    let nature = r.legal_nature.as_ref().map(|n| {
        let code = n.code.clone().unwrap_or_default();
        let masked = if code.len() == 4 {
            format!("{}-{}", &code[..3], &code[3..])
        } else {
            code
        };
        format!("{masked} - {}", n.description.clone().unwrap_or_default())
    });
    let cep = a
        .cep
        .map(|c| {
            let s = c.as_str();
            format!("{}.{}-{}", &s[..2], &s[2..5], &s[5..])
        })
        .unwrap_or_default();
    let phones: Vec<String> = r.phones.iter().map(ToString::to_string).collect();
    json!({
        "status": "OK",
        "cnpj": r.cnpj.formatted(),
        "nome": r.legal_name,
        "fantasia": text(r.trade_name.as_ref()),
        "abertura": br_date(r.opening_date),
        "situacao": r.registration.status.as_receita_str(),
        "data_situacao": br_date(r.registration.since),
        "motivo_situacao": text(r.registration.reason.as_ref()),
        "natureza_juridica": nature.unwrap_or_default(),
        "atividade_principal": r.main_activity.iter().map(activity).collect::<Vec<_>>(),
        "atividades_secundarias": secondary,
        "qsa": r.partners.iter().map(|p| json!({"nome": p.name, "qual": text(p.role.as_ref())})).collect::<Vec<_>>(),
        "logradouro": text(a.street.as_ref()),
        "numero": text(a.number.as_ref()),
        "complemento": text(a.complement.as_ref()),
        "bairro": text(a.district.as_ref()),
        "municipio": text(a.city.as_ref()),
        "uf": a.uf.map_or("", Uf::as_str),
        "cep": cep,
        "email": r.email.as_ref().map(|e| e.as_str().to_owned()).unwrap_or_default(),
        "telefone": phones.join(" / "),
        "capital_social": r.capital_social.map(|d| format!("{d:.2}")).unwrap_or_default(),
        "billing": {"free": true, "database": true},
    })
}

fn render_cnpja(r: &CompanyRecord) -> Value {
    let a = &r.address;
    let label = |c: &Cnae| json!({"id": int(&c.code), "text": text(c.description.as_ref())});
    json!({
        "taxId": r.cnpj.as_str(),
        "alias": r.trade_name,
        "founded": iso(r.opening_date),
        "head": true,
        "status": {"id": status_code(&r.registration), "text": r.registration.description.clone()
            .unwrap_or_else(|| r.registration.status.as_receita_str().to_owned())},
        "statusDate": iso(r.registration.since),
        "company": {
            "name": r.legal_name,
            "equity": number(r.capital_social),
            "nature": r.legal_nature.as_ref().map(|n| json!({
                "id": n.code.as_deref().map_or(Value::Null, int),
                "text": text(n.description.as_ref()),
            })),
            "members": r.partners.iter().map(|p| json!({
                "since": iso(p.since),
                "person": {"name": p.name, "type": "NATURAL"},
                "role": {"text": text(p.role.as_ref())},
            })).collect::<Vec<_>>(),
        },
        "address": {
            "street": text(a.street.as_ref()),
            "number": text(a.number.as_ref()),
            "details": a.complement,
            "district": text(a.district.as_ref()),
            "city": text(a.city.as_ref()),
            "state": a.uf.map(Uf::as_str),
            "zip": a.cep.map(|c| c.as_str().to_owned()),
            "municipality": a.city_ibge_code.as_deref().map_or(Value::Null, int),
            "country": {"id": 76, "name": "Brasil"},
        },
        "phones": r.phones.iter().map(|p| {
            let n = p.national();
            json!({"area": &n[..2], "number": &n[2..]})
        }).collect::<Vec<_>>(),
        "emails": r.email.iter().map(|e| json!({"address": e.as_str(), "domain": e.domain()})).collect::<Vec<_>>(),
        "mainActivity": r.main_activity.as_ref().map(label),
        "sideActivities": r.secondary_activities.iter().map(label).collect::<Vec<_>>(),
    })
}

fn render_via_cep(r: &CepRecord) -> Value {
    json!({
        "cep": r.cep.formatted(),
        "logradouro": text(r.street.as_ref()),
        "complemento": text(r.complement.as_ref()),
        "unidade": "",
        "bairro": text(r.district.as_ref()),
        "localidade": text(r.city.as_ref()),
        "uf": r.uf.map_or("", Uf::as_str),
        "estado": r.uf.map_or("", Uf::name),
        "ibge": text(r.city_ibge_code.as_ref()),
    })
}

fn render_brasil_api_cep(r: &CepRecord) -> Value {
    json!({
        "cep": r.cep.as_str(),
        "state": r.uf.map(Uf::as_str),
        "city": r.city,
        "neighborhood": r.district,
        "street": r.street,
        "service": "sandbox",
        "location": {"type": "Point", "coordinates": {}},
    })
}

// ---------------------------------------------------------------------------------------------
// Demo data

fn demo_company(
    cnpj: &str,
    legal_name: &str,
    trade_name: Option<&str>,
    status: RegistrationStatus,
    address: CompanyAddress,
    phone: &str,
    email: &str,
) -> CompanyRecord {
    CompanyRecord {
        cnpj: cnpj.parse().expect("demo CNPJs are valid"),
        source: Provider::BrasilApi,
        legal_name: legal_name.to_owned(),
        trade_name: trade_name.map(str::to_owned),
        registration: Registration {
            status,
            code: None,
            description: Some(status.as_receita_str().to_owned()),
            since: NaiveDate::from_ymd_opt(2015, 3, 2),
            reason: None,
        },
        opening_date: NaiveDate::from_ymd_opt(2015, 3, 2),
        main_activity: Some(Cnae {
            code: "6190601".into(),
            description: Some("Provedores de voz sobre protocolo Internet - VOIP".into()),
        }),
        secondary_activities: vec![Cnae {
            code: "6110803".into(),
            description: Some("Serviços de comunicação multimídia - SCM".into()),
        }],
        legal_nature: Some(LegalNature {
            code: Some("2062".into()),
            description: Some("Sociedade Empresária Limitada".into()),
        }),
        address,
        phones: phone.parse().into_iter().collect(),
        email: email.parse().ok(),
        partners: vec![Partner {
            name: "MARIA DA SILVA".into(),
            role: Some("Sócio-Administrador".into()),
            since: NaiveDate::from_ymd_opt(2015, 3, 2),
        }],
        capital_social: Some(Decimal::new(5_000_000, 2)),
    }
}

#[allow(clippy::too_many_arguments)] // one demo row per call
fn demo_address(
    street_type: &str,
    street: &str,
    number: &str,
    district: &str,
    city: &str,
    ibge: &str,
    uf: Uf,
    cep: &str,
) -> CompanyAddress {
    CompanyAddress {
        street_type: Some(street_type.into()),
        street: Some(format!("{street_type} {street}")),
        number: Some(number.into()),
        complement: None,
        district: Some(district.into()),
        city: Some(city.into()),
        city_ibge_code: Some(ibge.into()),
        uf: Some(uf),
        cep: cep.parse().ok(),
    }
}

/// The sandbox's default companies:
///
/// | CNPJ | legal name | status |
/// |---|---|---|
/// | `11222333000181` | TELEFONIA SAO JOAO LTDA | ATIVA |
/// | `19131243000197` | OPEN KNOWLEDGE BRASIL | ATIVA |
/// | `37335118000180` | MERCEARIA BOA VISTA LTDA | BAIXADA |
/// | `12ABC34501DE35` | ALFA DIGITAL SERVICOS LTDA | ATIVA (alphanumeric CNPJ) |
pub fn demo_companies() -> Vec<CompanyRecord> {
    vec![
        demo_company(
            "11222333000181",
            "TELEFONIA SAO JOAO LTDA",
            Some("SAO JOAO TELECOM"),
            RegistrationStatus::Active,
            demo_address(
                "RUA",
                "DAS PALMEIRAS",
                "120",
                "SANTA CECILIA",
                "SAO PAULO",
                "3550308",
                Uf::SP,
                "01226010",
            ),
            "1134567890",
            "financeiro@saojoaotelecom.com.br",
        ),
        demo_company(
            "19131243000197",
            "OPEN KNOWLEDGE BRASIL",
            Some("REDE PELO CONHECIMENTO LIVRE"),
            RegistrationStatus::Active,
            demo_address(
                "AVENIDA",
                "PAULISTA 37",
                "37",
                "BELA VISTA",
                "SAO PAULO",
                "3550308",
                Uf::SP,
                "01311902",
            ),
            "1123851939",
            "contato@ok.org.br",
        ),
        demo_company(
            "37335118000180",
            "MERCEARIA BOA VISTA LTDA",
            None,
            RegistrationStatus::Closed,
            demo_address(
                "RUA",
                "DAS FLORES",
                "S/N",
                "CENTRO",
                "BELO HORIZONTE",
                "3106200",
                Uf::MG,
                "30130010",
            ),
            "3132221234",
            "",
        ),
        demo_company(
            "12ABC34501DE35",
            "ALFA DIGITAL SERVICOS LTDA",
            Some("ALFA DIGITAL"),
            RegistrationStatus::Active,
            demo_address(
                "AVENIDA",
                "SETE DE SETEMBRO",
                "2775",
                "REBOUCAS",
                "CURITIBA",
                "4106902",
                Uf::PR,
                "80230010",
            ),
            "4132221234",
            "contato@alfadigital.com.br",
        ),
    ]
}

/// The sandbox's default CEPs: those of the demo companies and `01001000` (Praça da Sé).
pub fn demo_ceps() -> Vec<CepRecord> {
    let cep =
        |code: &str, street: &str, district: &str, city: &str, uf: Uf, ibge: &str| CepRecord {
            cep: code.parse().expect("demo CEPs are valid"),
            source: Provider::ViaCep,
            street: Some(street.to_owned()),
            complement: None,
            district: Some(district.to_owned()),
            city: Some(city.to_owned()),
            uf: Some(uf),
            city_ibge_code: Some(ibge.to_owned()),
        };
    vec![
        cep(
            "01001000",
            "Praça da Sé",
            "Sé",
            "São Paulo",
            Uf::SP,
            "3550308",
        ),
        cep(
            "01226010",
            "Rua das Palmeiras",
            "Santa Cecília",
            "São Paulo",
            Uf::SP,
            "3550308",
        ),
        cep(
            "01311902",
            "Avenida Paulista",
            "Bela Vista",
            "São Paulo",
            Uf::SP,
            "3550308",
        ),
        cep(
            "30130010",
            "Rua das Flores",
            "Centro",
            "Belo Horizonte",
            Uf::MG,
            "3106200",
        ),
        cep(
            "80230010",
            "Avenida Sete de Setembro",
            "Rebouças",
            "Curitiba",
            Uf::PR,
            "4106902",
        ),
    ]
}
