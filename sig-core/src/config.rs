//! The one `sig.toml` schema every `sig` command, the pipeline and the bindings read.
//!
//! It holds the store location, the accounts with each outside system (an Omie app, a
//! DocSales token, …), the companies the provider runs, the ServidorNext instances, the
//! catalog and the users. Secrets are never written inline: each is a reference,
//! `{ env = "NAME" }` or `{ file = "path" }` (relative paths are relative to the config file),
//! resolved at load time into a [`SecretString`] that nothing prints.
//!
//! Loading reports problems with the key that holds them (`servers[1].area_codes[2]`):
//! a syntax or type error stops at the first one (TOML and serde cannot go on), then every
//! semantic problem (unknown references, duplicates, missing secrets, bad values) is reported
//! at once. `examples/sig.example.toml` is a documented example.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::contact::AreaCode;
use crate::fiscal::{CEP_PROVIDERS, CNPJ_PROVIDERS, FiscalPolicy};
use crate::ids::{AccountId, CompanyId, PlanId, ServerId, UserId};
use crate::money::Money;
use crate::pipeline::Settings;
use crate::problem::{Code, Problems, trim_ascii};

/// Where a secret comes from: `{ env = "NAME" }` or `{ file = "PATH" }`. An inline value is
/// refused, and the refusal never repeats the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretRef {
    /// Read from this environment variable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// Read from this file (trailing newline removed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
}

const INLINE_SECRET: &str =
    "secrets are never written in sig.toml; use { env = \"NAME\" } or { file = \"PATH\" }";

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = SecretRef;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("{ env = \"NAME\" } or { file = \"PATH\" }")
            }
            fn visit_str<E: serde::de::Error>(self, _v: &str) -> Result<SecretRef, E> {
                Err(E::custom(INLINE_SECRET))
            }
            fn visit_i64<E: serde::de::Error>(self, _v: i64) -> Result<SecretRef, E> {
                Err(E::custom(INLINE_SECRET))
            }
            fn visit_u64<E: serde::de::Error>(self, _v: u64) -> Result<SecretRef, E> {
                Err(E::custom(INLINE_SECRET))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<SecretRef, A::Error> {
                let mut r = SecretRef {
                    env: None,
                    file: None,
                };
                while let Some(k) = m.next_key::<String>()? {
                    match k.as_str() {
                        "env" => r.env = Some(m.next_value()?),
                        "file" => r.file = Some(m.next_value()?),
                        _ => {
                            return Err(serde::de::Error::custom(format!(
                                "unknown key `{k}` in a secret reference; expected `env` or `file`"
                            )));
                        }
                    }
                }
                Ok(r)
            }
        }
        d.deserialize_any(V)
    }
}

/// Where secrets and relative paths are read from. Tests supply their own.
pub trait SecretSource {
    /// The value of an environment variable.
    fn env(&self, name: &str) -> Option<String>;
    /// The contents of a file.
    fn read_file(&self, path: &Path) -> std::io::Result<String>;
}

/// The process environment and file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessSecrets;

impl SecretSource for ProcessSecrets {
    fn env(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
    fn read_file(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }
}

/// An in-memory secret source (tests, the demo).
#[derive(Debug, Clone, Default)]
pub struct MapSecrets(pub BTreeMap<String, String>);

impl SecretSource for MapSecrets {
    fn env(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
    fn read_file(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Not valid TOML, or a value of the wrong type at `key`.
    #[error("{key}: {message}")]
    Syntax {
        /// The key path (`servers[0].capacity_lines`), or `(document)` for syntax errors.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The document parsed but some values are wrong; every problem is listed with its key.
    #[error("invalid configuration: {0}")]
    Invalid(Problems),
}

impl ConfigError {
    /// Every problem as `{field, code, message}` (syntax errors become one problem).
    pub fn problems(&self) -> Problems {
        match self {
            ConfigError::Invalid(p) => p.clone(),
            ConfigError::Read { path, source } => {
                let mut p = Problems::new();
                p.add(
                    path.display().to_string(),
                    Code::Required,
                    source.to_string(),
                );
                p
            }
            ConfigError::Syntax { key, message } => {
                let mut p = Problems::new();
                p.add(key.clone(), Code::InvalidFormat, message.clone());
                p
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The file as written.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    store: StoreFile,
    #[serde(default)]
    accounts: AccountsFile,
    #[serde(default)]
    companies: Vec<CompanyFile>,
    #[serde(default)]
    servers: Vec<ServerFile>,
    #[serde(default)]
    catalog: CatalogFile,
    #[serde(default)]
    users: Vec<UserConfig>,
    #[serde(default)]
    pipeline: PipelineFile,
    #[serde(default)]
    authz: AuthzFile,
    #[serde(default)]
    serve: ServeConfig,
    #[serde(default)]
    fiscal: FiscalFile,
}

/// `[pipeline]`: tuning of the integration workers; every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PipelineFile {
    concurrency: Option<usize>,
    max_attempts: Option<u32>,
    backoff_base_ms: Option<u64>,
    backoff_max_ms: Option<u64>,
    lease_secs: Option<u64>,
    health_timeout_ms: Option<u64>,
    health_ttl_secs: Option<u64>,
}

impl PipelineFile {
    fn build(self, p: &mut Problems) -> Settings {
        let d = Settings::default();
        let positive = |v: Option<u64>, key: &str, p: &mut Problems| -> Option<u64> {
            match v {
                Some(0) => {
                    p.add(
                        format!("pipeline.{key}"),
                        Code::OutOfRange,
                        "must be at least 1",
                    );
                    None
                }
                v => v,
            }
        };
        let s = Settings {
            concurrency: positive(self.concurrency.map(|v| v as u64), "concurrency", p)
                .map_or(d.concurrency, |v| v as usize),
            max_attempts: positive(self.max_attempts.map(u64::from), "max_attempts", p)
                .map_or(d.max_attempts, |v| v as u32),
            backoff_base: positive(self.backoff_base_ms, "backoff_base_ms", p)
                .map_or(d.backoff_base, Duration::from_millis),
            backoff_max: positive(self.backoff_max_ms, "backoff_max_ms", p)
                .map_or(d.backoff_max, Duration::from_millis),
            lease: positive(self.lease_secs, "lease_secs", p).map_or(d.lease, Duration::from_secs),
            health_timeout: positive(self.health_timeout_ms, "health_timeout_ms", p)
                .map_or(d.health_timeout, Duration::from_millis),
            health_ttl: positive(self.health_ttl_secs, "health_ttl_secs", p)
                .map_or(d.health_ttl, Duration::from_secs),
        };
        if s.backoff_base > s.backoff_max {
            p.add(
                "pipeline.backoff_base_ms",
                Code::Inconsistent,
                "the first retry delay is longer than pipeline.backoff_max_ms",
            );
        }
        s
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthzFile {
    /// An authorization policy file (a complete policy; see [`crate::authz`]).
    policy: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreFile {
    sqlite: Option<PathBuf>,
    postgres: Option<SecretRef>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountsFile {
    #[serde(default)]
    omie: BTreeMap<String, OmieAccountFile>,
    #[serde(default)]
    docsales: BTreeMap<String, DocSalesAccountFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OmieAccountFile {
    #[serde(default = "default_omie_url")]
    base_url: Url,
    app_key: SecretRef,
    app_secret: SecretRef,
    web_url: Option<Url>,
    #[serde(default)]
    links: crate::links::TemplatesFile,
    #[serde(default = "one")]
    time_scale: f64,
}

fn one() -> f64 {
    1.0
}

fn default_omie_url() -> Url {
    Url::parse("https://app.omie.com.br/api/v1/").expect("static URL")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DocSalesAccountFile {
    #[serde(default = "default_docsales_url")]
    base_url: Url,
    token: SecretRef,
    webhook_secret: SecretRef,
    web_url: Option<Url>,
}

fn default_docsales_url() -> Url {
    Url::parse("https://web.docsales.com/api/v1/").expect("static URL")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CompanyFile {
    id: CompanyId,
    name: String,
    omie_account: AccountId,
    docsales_account: AccountId,
    #[serde(default)]
    hold_for_review: bool,
    #[serde(default)]
    fiscal: FiscalPolicy,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerFile {
    id: ServerId,
    name: String,
    base_url: Url,
    api_token: SecretRef,
    api_key: SecretRef,
    area_codes: Vec<AreaCode>,
    capacity_lines: u32,
    capacity_channels: u32,
    #[serde(default = "yes")]
    active: bool,
    web_url: Option<Url>,
    #[serde(default)]
    links: crate::links::TemplatesFile,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    #[serde(default)]
    fields: CatalogFields,
    #[serde(default)]
    plans: Vec<Plan>,
}

/// `[fiscal]`: the CNPJ/CEP lookup providers; every key is optional (see [`FiscalConfig`]).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FiscalFile {
    cnpj_providers: Option<Vec<String>>,
    cep_providers: Option<Vec<String>>,
    cnpja_key: Option<SecretRef>,
    timeout_ms: Option<u64>,
    found_ttl_secs: Option<u64>,
    not_found_ttl_secs: Option<u64>,
    #[serde(default)]
    base_urls: BTreeMap<String, Url>,
}

impl FiscalFile {
    fn build(self, base: &Path, src: &dyn SecretSource, p: &mut Problems) -> FiscalConfig {
        let d = FiscalConfig::default();
        let cnpja_key = self
            .cnpja_key
            .as_ref()
            .map(|r| resolve_secret(r, "fiscal.cnpja_key", base, src, p));
        let listed = self.cnpj_providers.is_some();
        let cnpj_providers = match self.cnpj_providers {
            Some(list) => {
                check_providers(list, "cnpj_providers", &CNPJ_PROVIDERS, &CEP_PROVIDERS, p)
            }
            None => {
                let mut list = d.cnpj_providers.clone();
                if cnpja_key.is_some() {
                    list.push("cnpja".to_owned());
                }
                list
            }
        };
        let cep_providers = match self.cep_providers {
            Some(list) => {
                check_providers(list, "cep_providers", &CEP_PROVIDERS, &CNPJ_PROVIDERS, p)
            }
            None => d.cep_providers.clone(),
        };
        let uses_cnpja = cnpj_providers.iter().any(|n| n == "cnpja");
        if uses_cnpja && cnpja_key.is_none() {
            p.add(
                "fiscal.cnpja_key",
                Code::Required,
                "cnpja is in fiscal.cnpj_providers and needs an API key: { env = \"NAME\" } or { file = \"PATH\" }",
            );
        }
        if listed && !uses_cnpja && cnpja_key.is_some() {
            p.add(
                "fiscal.cnpja_key",
                Code::Inconsistent,
                "a CNPJá key is given but cnpja is not in fiscal.cnpj_providers",
            );
        }
        for (name, url) in &self.base_urls {
            let key = format!("fiscal.base_urls.{name}");
            if !CNPJ_PROVIDERS.contains(&name.as_str()) && !CEP_PROVIDERS.contains(&name.as_str()) {
                p.add(
                    key,
                    Code::UnknownReference,
                    format!(
                        "not a fiscal provider; one of {}",
                        CNPJ_PROVIDERS
                            .iter()
                            .chain(&CEP_PROVIDERS)
                            .copied()
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
                continue;
            }
            check_url(url, &key, p);
        }
        let timeout = match self.timeout_ms {
            Some(0) => {
                p.add("fiscal.timeout_ms", Code::OutOfRange, "must be at least 1");
                d.timeout
            }
            Some(ms) => Duration::from_millis(ms),
            None => d.timeout,
        };
        FiscalConfig {
            cnpj_providers,
            cep_providers,
            cnpja_key,
            base_urls: self.base_urls,
            timeout,
            found_ttl: self.found_ttl_secs.map_or(d.found_ttl, Duration::from_secs),
            not_found_ttl: self
                .not_found_ttl_secs
                .map_or(d.not_found_ttl, Duration::from_secs),
        }
    }
}

/// Checks a provider list: known names of the right kind, each once, at least one.
fn check_providers(
    list: Vec<String>,
    field: &str,
    known: &[&str],
    other_kind: &[&str],
    p: &mut Problems,
) -> Vec<String> {
    let key = format!("fiscal.{field}");
    if list.is_empty() {
        p.add(&key, Code::Required, "list at least one provider");
    }
    let mut seen = BTreeSet::new();
    for (i, name) in list.iter().enumerate() {
        let at = format!("{key}[{i}]");
        if other_kind.contains(&name.as_str()) {
            p.add(
                at,
                Code::Inconsistent,
                format!(
                    "{name} answers the other kind of lookup; one of {}",
                    known.join(", ")
                ),
            );
        } else if !known.contains(&name.as_str()) {
            p.add(
                at,
                Code::UnknownReference,
                format!("not a provider; one of {}", known.join(", ")),
            );
        } else if !seen.insert(name.as_str()) {
            p.add(at, Code::Duplicate, format!("{name} is listed twice"));
        }
    }
    list
}

// ---------------------------------------------------------------------------------------
// The loaded configuration.

/// The loaded, validated configuration with secrets resolved.
#[derive(Debug)]
pub struct Config {
    /// Where SIG keeps its state.
    pub store: StoreConfig,
    /// Omie apps by account id.
    pub omie_accounts: BTreeMap<AccountId, OmieAccount>,
    /// DocSales accounts by account id.
    pub docsales_accounts: BTreeMap<AccountId, DocSalesAccount>,
    /// The companies the provider runs.
    pub companies: Vec<Company>,
    /// The ServidorNext instances.
    pub servers: Vec<ServerConfig>,
    /// Plans and how sources name them.
    pub catalog: Catalog,
    /// Users and their profiles (until a user store exists).
    pub users: Vec<UserConfig>,
    /// How the integration workers run (`[pipeline]`; defaults when absent).
    pub pipeline: Settings,
    /// The authorization policy: the file `[authz] policy` names, or the built-in one.
    pub policy: crate::authz::Policy,
    /// Link templates per Omie account and server (`links.customer = "…"`).
    pub links: crate::links::LinkTemplates,
    /// How `sig serve` runs.
    pub serve: ServeConfig,
    /// The fiscal lookup providers (`[fiscal]`; defaults when absent), shared by every
    /// company whose `fiscal` policy is not `off`.
    pub fiscal: FiscalConfig,
}

/// The fiscal lookup providers: the `[fiscal]` section, every key optional. One lookup
/// client serves every company; each company chooses its policy (`fiscal` in
/// `[[companies]]`).
///
/// | key | default | meaning |
/// |---|---|---|
/// | `cnpj_providers` | `["brasil_api", "minha_receita", "receita_ws"]`, then `"cnpja"` when `cnpja_key` is set | CNPJ providers, tried in order ([`CNPJ_PROVIDERS`]) |
/// | `cep_providers` | `["via_cep", "brasil_api_cep"]` | CEP providers, tried in order ([`CEP_PROVIDERS`]) |
/// | `cnpja_key` | none | CNPJá API key, a secret reference |
/// | `timeout_ms` | 10000 | per-attempt timeout of one provider |
/// | `found_ttl_secs` | 86400 | how long a found record is reused (0: not cached) |
/// | `not_found_ttl_secs` | 3600 | how long a "not found" is reused (0: not cached) |
/// | `base_urls` | the providers' own | a table `provider = "URL"` (a self-hosted Minha Receita, a sandbox) |
pub struct FiscalConfig {
    /// CNPJ providers, in order.
    pub cnpj_providers: Vec<String>,
    /// CEP providers, in order.
    pub cep_providers: Vec<String>,
    /// The CNPJá API key.
    pub cnpja_key: Option<SecretString>,
    /// Base URLs that replace a provider's own, by provider name.
    pub base_urls: BTreeMap<String, Url>,
    /// Per-attempt timeout.
    pub timeout: Duration,
    /// How long a found record is cached.
    pub found_ttl: Duration,
    /// How long a "not found" answer is cached.
    pub not_found_ttl: Duration,
}

impl Default for FiscalConfig {
    fn default() -> Self {
        FiscalConfig {
            cnpj_providers: CNPJ_PROVIDERS[..3]
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            cep_providers: CEP_PROVIDERS.iter().map(|s| (*s).to_owned()).collect(),
            cnpja_key: None,
            base_urls: BTreeMap::new(),
            timeout: Duration::from_secs(10),
            found_ttl: Duration::from_secs(24 * 3600),
            not_found_ttl: Duration::from_secs(3600),
        }
    }
}

impl fmt::Debug for FiscalConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FiscalConfig")
            .field("cnpj_providers", &self.cnpj_providers)
            .field("cep_providers", &self.cep_providers)
            .field("cnpja_key", &self.cnpja_key.as_ref().map(|_| "[redacted]"))
            .field(
                "base_urls",
                &self
                    .base_urls
                    .iter()
                    .map(|(k, v)| (k, v.as_str()))
                    .collect::<BTreeMap<_, _>>(),
            )
            .field("timeout", &self.timeout)
            .field("found_ttl", &self.found_ttl)
            .field("not_found_ttl", &self.not_found_ttl)
            .finish()
    }
}

/// How `sig serve` runs: the `[serve]` section, every key optional.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServeConfig {
    /// Address the HTTP endpoints listen on (webhooks, health, metrics); `--listen` overrides
    /// it. Default `127.0.0.1:8080`.
    pub listen: std::net::SocketAddr,
    /// Pipeline workers, each claiming and running due integrations. Default 2.
    pub workers: usize,
    /// Integrations each worker runs at once. Default 8.
    pub concurrency: usize,
    /// How long an idle worker waits before looking for due work again, ms. Default 500.
    pub poll_interval_ms: u64,
    /// How often approved proposals are listed from each DocSales account and taken in
    /// (reconciliation, for notifications that never arrived), s; 0 turns it off.
    /// Default 300.
    pub reconcile_interval_s: u64,
    /// How long a shutdown (SIGTERM, SIGINT) may take before running steps are abandoned
    /// (their leases given back), s. Default 30.
    pub shutdown_timeout_s: u64,
    /// Timeout of each upstream probe behind `/readyz`, ms. Default 2000.
    pub health_timeout_ms: u64,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 8080)),
            workers: 2,
            concurrency: 8,
            poll_interval_ms: 500,
            reconcile_interval_s: 300,
            shutdown_timeout_s: 30,
            health_timeout_ms: 2000,
        }
    }
}

/// The store SIG keeps its state in.
#[derive(Debug)]
pub enum StoreConfig {
    /// An SQLite file (the embedded default).
    Sqlite(PathBuf),
    /// A PostgreSQL database, its URL being a secret (it carries a password).
    Postgres(SecretString),
}

/// One Omie app (key + secret).
pub struct OmieAccount {
    /// Account id in `sig.toml`.
    pub id: AccountId,
    /// API base URL (`https://app.omie.com.br/api/v1/`).
    pub base_url: Url,
    /// `app_key`.
    pub app_key: SecretString,
    /// `app_secret`.
    pub app_secret: SecretString,
    /// The account's web app URL (`https://app.omie.com.br/gestao/<tenant>/`), for links.
    pub web_url: Option<Url>,
    /// Multiplies Omie's limit windows, the waits Omie states and the client's retry delays:
    /// 1.0 (the default) for the real Omie; an Omie sandbox with shortened windows
    /// (`sig sandbox --omie-scale 0.01`) is talked to with the same scale. In `(0, 1]`.
    pub time_scale: f64,
}

impl fmt::Debug for OmieAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OmieAccount")
            .field("id", &self.id)
            .field("base_url", &self.base_url.as_str())
            .finish_non_exhaustive()
    }
}

/// One DocSales account (API token and the webhook's shared secret).
pub struct DocSalesAccount {
    /// Account id in `sig.toml`.
    pub id: AccountId,
    /// API base URL (`https://web.docsales.com/api/v1/`).
    pub base_url: Url,
    /// Bearer token.
    pub token: SecretString,
    /// The secret token the webhook URL carries.
    pub webhook_secret: SecretString,
    /// The web app URL, for links.
    pub web_url: Option<Url>,
}

impl fmt::Debug for DocSalesAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DocSalesAccount")
            .field("id", &self.id)
            .field("base_url", &self.base_url.as_str())
            .finish_non_exhaustive()
    }
}

/// A company the provider runs: one Omie account and one DocSales account.
#[derive(Debug, Clone)]
pub struct Company {
    /// Id.
    pub id: CompanyId,
    /// Display name.
    pub name: String,
    /// Its Omie app.
    pub omie_account: AccountId,
    /// Its DocSales account.
    pub docsales_account: AccountId,
    /// Hold every proposal for a person's review before integrating.
    pub hold_for_review: bool,
    /// What the pipeline's `fiscal` step does with a customer's registry findings (`fiscal =
    /// "off" | "warn" | "block"`, default `off`).
    pub fiscal: FiscalPolicy,
}

/// A ServidorNext: one NextBilling instance plus SIG's data on it.
pub struct ServerConfig {
    /// Id.
    pub id: ServerId,
    /// Display name.
    pub name: String,
    /// The instance's base URL. The API puts the token and key in the path after it, so
    /// request URLs are secrets; this base is not.
    pub base_url: Url,
    /// API token (a URL path segment).
    pub api_token: SecretString,
    /// API key (a URL path segment).
    pub api_key: SecretString,
    /// Area codes (DDD) it serves.
    pub area_codes: BTreeSet<AreaCode>,
    /// Capacity in SIP lines.
    pub capacity_lines: u32,
    /// Capacity in simultaneous channels.
    pub capacity_channels: u32,
    /// Whether new services may go there.
    pub active: bool,
    /// The instance's web console, for links.
    pub web_url: Option<Url>,
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("base_url", &self.base_url.as_str())
            .field("area_codes", &self.area_codes)
            .field("capacity_lines", &self.capacity_lines)
            .field("capacity_channels", &self.capacity_channels)
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

/// Where a DocSales proposal carries what its items do not (`[inferred]`, to confirm with
/// DocSales): the names of the `custom_*` fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogFields {
    /// The custom field holding an order's area code (DDD).
    #[serde(default = "default_area_field")]
    pub area_code: String,
    /// The custom field holding the DIDs requested (comma or space separated).
    #[serde(default = "default_dids_field")]
    pub dids: String,
}

fn default_area_field() -> String {
    "custom_ddd".into()
}
fn default_dids_field() -> String {
    "custom_dids".into()
}

impl Default for CatalogFields {
    fn default() -> Self {
        CatalogFields {
            area_code: default_area_field(),
            dids: default_dids_field(),
        }
    }
}

/// How a plan's contract is written in Omie.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OmieContractDefaults {
    /// Omie service-catalog id (`codServico` / `nCodServ`) the contract item inherits from.
    pub service_code: i64,
    /// Financial category (`cCodCateg`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Bank account (`nCodCC`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank_account: Option<i64>,
    /// Municipal service code (`codServMunic`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub municipal_service_code: Option<String>,
    /// LC 116 service code (`codLC116`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lc116_code: Option<String>,
    /// Days after billing the invoice is due (`vencTextos.nDias`); default 0 = on the day.
    #[serde(default)]
    pub due_days: u16,
}

/// A plan: what SIG provisions and bills for one unit of a product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// Id.
    pub id: PlanId,
    /// Display name.
    pub name: String,
    /// DocSales product/service codes that mean this plan.
    #[serde(default)]
    pub products: Vec<String>,
    /// SIP lines per unit.
    pub lines_per_unit: u32,
    /// Simultaneous channels per unit.
    pub channels_per_unit: u32,
    /// List price per unit per month, used when a source gives no value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_price: Option<Money>,
    /// NextBilling `rate_id` for the lines.
    pub next_rate_id: i64,
    /// Omie contract defaults.
    pub omie: OmieContractDefaults,
}

/// The catalog: plans and the custom fields that carry order data.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    /// Custom field names.
    pub fields: CatalogFields,
    /// Plans.
    pub plans: Vec<Plan>,
}

impl Catalog {
    /// The plan a product code or a plan id names (product codes compare case-insensitively,
    /// trimmed).
    pub fn resolve(&self, code: &str) -> Option<&Plan> {
        let t = trim_ascii(code);
        self.plans
            .iter()
            .find(|p| p.products.iter().any(|c| c.eq_ignore_ascii_case(t)))
            .or_else(|| self.plans.iter().find(|p| p.id.as_str() == t))
    }

    /// Read only the catalog of a `sig.toml` text (no secrets are resolved): what tools that
    /// map proposals need. The whole document must still parse.
    pub fn from_config_toml(text: &str) -> Result<Catalog, ConfigError> {
        let file = parse_file(text)?;
        let catalog = Catalog {
            fields: file.catalog.fields,
            plans: file.catalog.plans,
        };
        let mut p = Problems::new();
        catalog.check("catalog", &mut p);
        if p.is_empty() {
            Ok(catalog)
        } else {
            Err(ConfigError::Invalid(p))
        }
    }

    /// The plan with this id.
    pub fn plan(&self, id: &PlanId) -> Option<&Plan> {
        self.plans.iter().find(|p| &p.id == id)
    }

    /// Check ids and product codes are unique and numbers positive; problems under `prefix`.
    pub fn check(&self, prefix: &str, p: &mut Problems) {
        let mut ids = BTreeSet::new();
        let mut products: BTreeMap<String, usize> = BTreeMap::new();
        for (i, plan) in self.plans.iter().enumerate() {
            let at = format!("{prefix}.plans[{i}]");
            if !ids.insert(plan.id.clone()) {
                p.add(
                    format!("{at}.id"),
                    Code::Duplicate,
                    format!("plan id {} is used twice", plan.id),
                );
            }
            if trim_ascii(&plan.name).is_empty() {
                p.add(format!("{at}.name"), Code::Required, "a plan needs a name");
            }
            if plan.lines_per_unit == 0 {
                p.add(
                    format!("{at}.lines_per_unit"),
                    Code::OutOfRange,
                    "at least 1",
                );
            }
            if plan.channels_per_unit == 0 {
                p.add(
                    format!("{at}.channels_per_unit"),
                    Code::OutOfRange,
                    "at least 1",
                );
            }
            for (j, code) in plan.products.iter().enumerate() {
                let key = trim_ascii(code).to_ascii_uppercase();
                if key.is_empty() {
                    p.add(
                        format!("{at}.products[{j}]"),
                        Code::Required,
                        "a product code is blank",
                    );
                } else if let Some(other) = products.insert(key, i) {
                    p.add(
                        format!("{at}.products[{j}]"),
                        Code::Duplicate,
                        format!("product code {code:?} also maps to plans[{other}]"),
                    );
                }
            }
        }
    }
}

/// A person's profile: what they may do. What each profile is granted is data, the
/// authorization policy ([`crate::authz`]); the built-in defaults are listed there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    /// Everything.
    Admin,
    /// Day-to-day operation: contacts and addresses, retries.
    Operator,
    /// Values, billing day and payment data.
    Finance,
    /// Read only.
    Viewer,
    /// A customer of the provider, in the future self-service portal (granted nothing by
    /// default).
    Customer,
    /// A reseller, in the future self-service portal (granted nothing by default).
    Reseller,
}

/// A user of SIG.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// Id (what `--as` and `actor=` take).
    pub id: UserId,
    /// Display name.
    pub name: String,
    /// Profile.
    pub profile: Profile,
}

/// Read only the users of a `sig.toml` text (no secrets are resolved): what tools that only
/// check who may do what need (the Python bindings' exports). The whole document must still
/// parse; a user id listed twice is a problem.
pub fn users_from_config_toml(text: &str) -> Result<Vec<UserConfig>, ConfigError> {
    let file = parse_file(text)?;
    let mut p = Problems::new();
    let mut ids = BTreeSet::new();
    for (i, u) in file.users.iter().enumerate() {
        if !ids.insert(u.id.clone()) {
            p.add(
                format!("users[{i}].id"),
                Code::Duplicate,
                format!("user id {} is used twice", u.id),
            );
        }
    }
    if p.is_empty() {
        Ok(file.users)
    } else {
        Err(ConfigError::Invalid(p))
    }
}

impl Config {
    /// Read and validate a `sig.toml` file; relative paths are relative to its folder.
    pub fn load(path: &Path, secrets: &dyn SecretSource) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Config::from_toml(&text, base, secrets)
    }

    /// Parse and validate TOML text; `base` is the folder relative paths start from.
    pub fn from_toml(
        text: &str,
        base: &Path,
        secrets: &dyn SecretSource,
    ) -> Result<Config, ConfigError> {
        let file = parse_file(text)?;
        let mut p = Problems::new();
        let cfg = build(file, base, secrets, &mut p);
        if p.is_empty() {
            Ok(cfg)
        } else {
            Err(ConfigError::Invalid(p))
        }
    }

    /// The company with this id.
    pub fn company(&self, id: &CompanyId) -> Option<&Company> {
        self.companies.iter().find(|c| &c.id == id)
    }

    /// The company whose DocSales account this is.
    pub fn company_for_docsales(&self, account: &AccountId) -> Option<&Company> {
        self.companies
            .iter()
            .find(|c| &c.docsales_account == account)
    }

    /// The server with this id.
    pub fn server(&self, id: &ServerId) -> Option<&ServerConfig> {
        self.servers.iter().find(|s| &s.id == id)
    }

    /// The user with this id.
    pub fn user(&self, id: &UserId) -> Option<&UserConfig> {
        self.users.iter().find(|u| &u.id == id)
    }
}

fn parse_file(text: &str) -> Result<ConfigFile, ConfigError> {
    let table: toml::Table = toml::from_str(text).map_err(|e| ConfigError::Syntax {
        key: "(document)".into(),
        message: e.to_string(),
    })?;
    serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
        let key = e.path().to_string();
        ConfigError::Syntax {
            key,
            message: e.into_inner().to_string(),
        }
    })
}

fn resolve_secret(
    r: &SecretRef,
    key: &str,
    base: &Path,
    src: &dyn SecretSource,
    p: &mut Problems,
) -> SecretString {
    let value = match (&r.env, &r.file) {
        (Some(name), None) => match src.env(name) {
            Some(v) => Some(v),
            None => {
                p.add(
                    key,
                    Code::Required,
                    format!("environment variable {name} is not set"),
                );
                None
            }
        },
        (None, Some(file)) => {
            let path = if file.is_absolute() {
                file.clone()
            } else {
                base.join(file)
            };
            match src.read_file(&path) {
                Ok(v) => Some(v.trim_end_matches(['\n', '\r']).to_owned()),
                Err(e) => {
                    p.add(
                        key,
                        Code::Required,
                        format!("cannot read secret file {}: {e}", path.display()),
                    );
                    None
                }
            }
        }
        _ => {
            p.add(
                key,
                Code::InvalidFormat,
                "give exactly one of env = \"NAME\" or file = \"PATH\"",
            );
            None
        }
    };
    match value {
        Some(v) if v.is_empty() => {
            p.add(key, Code::Required, "the secret is empty");
            SecretString::from(String::new())
        }
        Some(v) => SecretString::from(v),
        None => SecretString::from(String::new()),
    }
}

fn check_url(u: &Url, key: &str, p: &mut Problems) {
    if u.scheme() != "http" && u.scheme() != "https" {
        p.add(key, Code::InvalidFormat, "an http or https URL is expected");
    }
    if !u.path().ends_with('/') {
        p.add(key, Code::InvalidFormat, "a base URL ends with /");
    }
}

fn build(file: ConfigFile, base: &Path, src: &dyn SecretSource, p: &mut Problems) -> Config {
    let store = match (file.store.sqlite, file.store.postgres) {
        (Some(path), None) => StoreConfig::Sqlite(if path.is_absolute() {
            path
        } else {
            base.join(path)
        }),
        (None, Some(url)) => {
            StoreConfig::Postgres(resolve_secret(&url, "store.postgres", base, src, p))
        }
        (None, None) => StoreConfig::Sqlite(base.join("sig.sqlite")),
        (Some(_), Some(_)) => {
            p.add(
                "store",
                Code::Inconsistent,
                "choose one of store.sqlite or store.postgres",
            );
            StoreConfig::Sqlite(base.join("sig.sqlite"))
        }
    };

    let mut links = crate::links::LinkTemplates::default();
    let mut omie_accounts = BTreeMap::new();
    for (name, a) in file.accounts.omie {
        let key = format!("accounts.omie.{name}");
        let Some(id) = p.check(&key, name.parse::<AccountId>()) else {
            continue;
        };
        check_url(&a.base_url, &format!("{key}.base_url"), p);
        let app_key = resolve_secret(&a.app_key, &format!("{key}.app_key"), base, src, p);
        let app_secret = resolve_secret(&a.app_secret, &format!("{key}.app_secret"), base, src, p);
        if !(a.time_scale > 0.0 && a.time_scale <= 1.0) {
            p.add(
                format!("{key}.time_scale"),
                Code::OutOfRange,
                "must be more than 0 and at most 1 (1 for the real Omie)",
            );
        }
        let templates = a.links.omie(&format!("{key}.links"), a.web_url.as_ref(), p);
        links.omie.insert(id.clone(), templates);
        omie_accounts.insert(
            id.clone(),
            OmieAccount {
                id,
                base_url: a.base_url,
                app_key,
                app_secret,
                web_url: a.web_url,
                time_scale: a.time_scale,
            },
        );
    }
    let mut docsales_accounts = BTreeMap::new();
    for (name, a) in file.accounts.docsales {
        let key = format!("accounts.docsales.{name}");
        let Some(id) = p.check(&key, name.parse::<AccountId>()) else {
            continue;
        };
        if id.as_str() == crate::ports::DIRECT_SOURCE {
            // Its proposals' source keys would read as direct registrations.
            p.add(
                &key,
                Code::Inconsistent,
                "the account id 'sig' is reserved for customers registered directly in SIG",
            );
        }
        check_url(&a.base_url, &format!("{key}.base_url"), p);
        let token = resolve_secret(&a.token, &format!("{key}.token"), base, src, p);
        let webhook_secret = resolve_secret(
            &a.webhook_secret,
            &format!("{key}.webhook_secret"),
            base,
            src,
            p,
        );
        docsales_accounts.insert(
            id.clone(),
            DocSalesAccount {
                id,
                base_url: a.base_url,
                token,
                webhook_secret,
                web_url: a.web_url,
            },
        );
    }

    let mut companies = Vec::new();
    let mut company_ids = BTreeSet::new();
    for (i, c) in file.companies.into_iter().enumerate() {
        let key = format!("companies[{i}]");
        if !company_ids.insert(c.id.clone()) {
            p.add(
                format!("{key}.id"),
                Code::Duplicate,
                format!("company id {} is used twice", c.id),
            );
        }
        if trim_ascii(&c.name).is_empty() {
            p.add(
                format!("{key}.name"),
                Code::Required,
                "a company needs a name",
            );
        }
        if !omie_accounts.contains_key(&c.omie_account) {
            p.add(
                format!("{key}.omie_account"),
                Code::UnknownReference,
                format!("no [accounts.omie.{}] is configured", c.omie_account),
            );
        }
        if !docsales_accounts.contains_key(&c.docsales_account) {
            p.add(
                format!("{key}.docsales_account"),
                Code::UnknownReference,
                format!(
                    "no [accounts.docsales.{}] is configured",
                    c.docsales_account
                ),
            );
        }
        companies.push(Company {
            id: c.id,
            name: c.name,
            omie_account: c.omie_account,
            docsales_account: c.docsales_account,
            hold_for_review: c.hold_for_review,
            fiscal: c.fiscal,
        });
    }
    let mut ds_owner: BTreeMap<&AccountId, usize> = BTreeMap::new();
    for (i, c) in companies.iter().enumerate() {
        if let Some(j) = ds_owner.insert(&c.docsales_account, i) {
            p.add(
                format!("companies[{i}].docsales_account"),
                Code::Duplicate,
                format!("companies[{j}] uses the same DocSales account; each company has its own"),
            );
        }
    }

    let mut servers = Vec::new();
    let mut server_ids = BTreeSet::new();
    for (i, s) in file.servers.into_iter().enumerate() {
        let key = format!("servers[{i}]");
        if !server_ids.insert(s.id.clone()) {
            p.add(
                format!("{key}.id"),
                Code::Duplicate,
                format!("server id {} is used twice", s.id),
            );
        }
        if trim_ascii(&s.name).is_empty() {
            p.add(
                format!("{key}.name"),
                Code::Required,
                "a server needs a name",
            );
        }
        check_url(&s.base_url, &format!("{key}.base_url"), p);
        if s.area_codes.is_empty() {
            p.add(
                format!("{key}.area_codes"),
                Code::Required,
                "a server serves at least one area code",
            );
        }
        let mut area_codes = BTreeSet::new();
        for (j, a) in s.area_codes.iter().enumerate() {
            if !area_codes.insert(*a) {
                p.add(
                    format!("{key}.area_codes[{j}]"),
                    Code::Duplicate,
                    format!("{a} is listed twice"),
                );
            }
        }
        if s.capacity_lines == 0 {
            p.add(
                format!("{key}.capacity_lines"),
                Code::OutOfRange,
                "at least 1",
            );
        }
        if s.capacity_channels == 0 {
            p.add(
                format!("{key}.capacity_channels"),
                Code::OutOfRange,
                "at least 1",
            );
        }
        let api_token = resolve_secret(&s.api_token, &format!("{key}.api_token"), base, src, p);
        let api_key = resolve_secret(&s.api_key, &format!("{key}.api_key"), base, src, p);
        let templates = s.links.next(&format!("{key}.links"), s.web_url.as_ref(), p);
        links.next.insert(s.id.clone(), templates);
        servers.push(ServerConfig {
            id: s.id,
            name: s.name,
            base_url: s.base_url,
            api_token,
            api_key,
            area_codes,
            capacity_lines: s.capacity_lines,
            capacity_channels: s.capacity_channels,
            active: s.active,
            web_url: s.web_url,
        });
    }

    let catalog = Catalog {
        fields: file.catalog.fields,
        plans: file.catalog.plans,
    };
    catalog.check("catalog", p);

    let mut user_ids = BTreeSet::new();
    for (i, u) in file.users.iter().enumerate() {
        if !user_ids.insert(u.id.clone()) {
            p.add(
                format!("users[{i}].id"),
                Code::Duplicate,
                format!("user id {} is used twice", u.id),
            );
        }
    }

    let pipeline = file.pipeline.build(p);
    let policy = match &file.authz.policy {
        None => crate::authz::Policy::default(),
        Some(path) => {
            let path = if path.is_absolute() {
                path.clone()
            } else {
                base.join(path)
            };
            match crate::authz::Policy::load(&path) {
                Ok(policy) => policy,
                Err(e) => {
                    for x in e.problems().iter() {
                        let mut x = x.clone();
                        x.message = format!("{}: {}: {}", path.display(), x.field, x.message);
                        x.field = "authz.policy".into();
                        p.push(x);
                    }
                    crate::authz::Policy::default()
                }
            }
        }
    };
    let serve = file.serve;
    for (field, value) in [
        ("workers", serve.workers as u64),
        ("concurrency", serve.concurrency as u64),
        ("poll_interval_ms", serve.poll_interval_ms),
        ("shutdown_timeout_s", serve.shutdown_timeout_s),
        ("health_timeout_ms", serve.health_timeout_ms),
    ] {
        if value == 0 {
            p.add(format!("serve.{field}"), Code::OutOfRange, "at least 1");
        }
    }

    let fiscal = file.fiscal.build(base, src, p);

    Config {
        store,
        omie_accounts,
        docsales_accounts,
        companies,
        servers,
        catalog,
        users: file.users,
        pipeline,
        policy,
        links,
        serve,
        fiscal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn secrets() -> MapSecrets {
        MapSecrets(
            [
                ("OMIE_KEY", "k-Zq81x"),
                ("OMIE_SECRET", "s-Zq82x"),
                ("DS_TOKEN", "t-Zq83x"),
                ("DS_HOOK", "h-Zq84x"),
                ("NEXT_TOKEN", "nt-Zq85x"),
                ("NEXT_KEY", "nk-Zq86x"),
            ]
            .into_iter()
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .collect(),
        )
    }

    const GOOD: &str = r#"
[store]
sqlite = "state/sig.sqlite"

[accounts.omie.acme]
app_key = { env = "OMIE_KEY" }
app_secret = { env = "OMIE_SECRET" }

[accounts.docsales.acme]
token = { env = "DS_TOKEN" }
webhook_secret = { env = "DS_HOOK" }

[[companies]]
id = "acme"
name = "ACME Telecom"
omie_account = "acme"
docsales_account = "acme"

[[servers]]
id = "sp1"
name = "São Paulo 1"
base_url = "https://sp1.example.com.br/"
api_token = { env = "NEXT_TOKEN" }
api_key = { env = "NEXT_KEY" }
area_codes = [11, 12]
capacity_lines = 100
capacity_channels = 50

[[catalog.plans]]
id = "trunk-10"
name = "SIP Trunk 10"
products = ["SIP-10"]
lines_per_unit = 1
channels_per_unit = 10
monthly_price = "299.90"
next_rate_id = 3
omie = { service_code = 1234 }

[[users]]
id = "ana"
name = "Ana"
profile = "admin"
"#;

    #[test]
    fn pipeline_section_defaults_and_overrides() {
        let cfg = Config::from_toml(GOOD, Path::new("/etc/sig"), &secrets()).unwrap();
        let d = Settings::default();
        assert_eq!(cfg.pipeline.concurrency, d.concurrency);
        assert_eq!(cfg.pipeline.backoff_max, d.backoff_max);

        let text = format!(
            "{GOOD}\n[pipeline]\nconcurrency = 4\nmax_attempts = 3\nbackoff_base_ms = 10\nbackoff_max_ms = 200\nlease_secs = 60\nhealth_timeout_ms = 700\nhealth_ttl_secs = 5\n"
        );
        let cfg = Config::from_toml(&text, Path::new("/etc/sig"), &secrets()).unwrap();
        let s = &cfg.pipeline;
        assert_eq!(s.concurrency, 4);
        assert_eq!(s.max_attempts, 3);
        assert_eq!(s.backoff_base, Duration::from_millis(10));
        assert_eq!(s.backoff_max, Duration::from_millis(200));
        assert_eq!(s.lease, Duration::from_secs(60));
        assert_eq!(s.health_timeout, Duration::from_millis(700));
        assert_eq!(s.health_ttl, Duration::from_secs(5));
    }

    #[test]
    fn pipeline_section_problems_name_their_keys() {
        let text = format!(
            "{GOOD}\n[pipeline]\nconcurrency = 0\nbackoff_base_ms = 900\nbackoff_max_ms = 100\n"
        );
        let err = Config::from_toml(&text, Path::new("/etc/sig"), &secrets()).unwrap_err();
        let fields: Vec<String> = err.problems().0.iter().map(|p| p.field.clone()).collect();
        assert!(
            fields.contains(&"pipeline.concurrency".to_owned()),
            "{fields:?}"
        );
        assert!(
            fields.contains(&"pipeline.backoff_base_ms".to_owned()),
            "{fields:?}"
        );
        let text = format!("{GOOD}\n[pipeline]\nworkers = 3\n");
        let err = Config::from_toml(&text, Path::new("/etc/sig"), &secrets()).unwrap_err();
        assert!(err.to_string().contains("workers"), "{err}");
    }

    #[test]
    fn loads_a_good_file_and_resolves_secrets() {
        let cfg = Config::from_toml(GOOD, Path::new("/etc/sig"), &secrets()).unwrap();
        match &cfg.store {
            StoreConfig::Sqlite(p) => assert_eq!(p, Path::new("/etc/sig/state/sig.sqlite")),
            other => panic!("{other:?}"),
        }
        let omie = &cfg.omie_accounts[&"acme".parse().unwrap()];
        assert_eq!(omie.app_secret.expose_secret(), "s-Zq82x");
        assert_eq!(omie.base_url.as_str(), "https://app.omie.com.br/api/v1/");
        assert_eq!(cfg.servers[0].area_codes.len(), 2);
        assert!(cfg.servers[0].active);
        assert_eq!(
            cfg.catalog.resolve(" sip-10 ").unwrap().id.as_str(),
            "trunk-10"
        );
        assert_eq!(
            cfg.catalog.resolve("trunk-10").unwrap().id.as_str(),
            "trunk-10"
        );
        assert!(cfg.catalog.resolve("nope").is_none());
    }

    #[test]
    fn serve_section_defaults_overrides_and_bad_values() {
        let cfg = Config::from_toml(GOOD, Path::new("."), &secrets()).unwrap();
        assert_eq!(cfg.serve, ServeConfig::default());
        assert_eq!(cfg.omie_accounts[&"acme".parse().unwrap()].time_scale, 1.0);
        let text = format!(
            "{GOOD}\n[serve]\nlisten = \"0.0.0.0:9000\"\nworkers = 3\nreconcile_interval_s = 0\n"
        )
        .replace(
            r#"app_secret = { env = "OMIE_SECRET" }"#,
            "app_secret = { env = \"OMIE_SECRET\" }\ntime_scale = 0.01",
        );
        let cfg = Config::from_toml(&text, Path::new("."), &secrets()).unwrap();
        assert_eq!(cfg.serve.listen.port(), 9000);
        assert_eq!((cfg.serve.workers, cfg.serve.reconcile_interval_s), (3, 0));
        assert_eq!(cfg.serve.concurrency, ServeConfig::default().concurrency);
        assert_eq!(cfg.omie_accounts[&"acme".parse().unwrap()].time_scale, 0.01);

        let bad = format!("{GOOD}\n[serve]\nworkers = 0\n").replace(
            r#"app_secret = { env = "OMIE_SECRET" }"#,
            "app_secret = { env = \"OMIE_SECRET\" }\ntime_scale = 2.0",
        );
        let ConfigError::Invalid(p) =
            Config::from_toml(&bad, Path::new("."), &secrets()).unwrap_err()
        else {
            panic!("expected validation problems")
        };
        let fields: Vec<&str> = p.0.iter().map(|x| x.field.as_str()).collect();
        assert!(fields.contains(&"serve.workers"), "{fields:?}");
        assert!(
            fields.contains(&"accounts.omie.acme.time_scale"),
            "{fields:?}"
        );
        let typo = format!("{GOOD}\n[serve]\nworker = 2\n");
        assert!(
            Config::from_toml(&typo, Path::new("."), &secrets()).is_err(),
            "unknown keys are refused"
        );
    }

    #[test]
    fn debug_never_shows_secrets() {
        let cfg = Config::from_toml(GOOD, Path::new("."), &secrets()).unwrap();
        let dbg = format!("{cfg:?}");
        for s in [
            "k-Zq81x", "s-Zq82x", "t-Zq83x", "h-Zq84x", "nt-Zq85x", "nk-Zq86x",
        ] {
            assert!(!dbg.contains(s), "{s} leaked in {dbg}");
        }
    }

    #[test]
    fn inline_secrets_are_refused_with_the_key() {
        let text = GOOD.replace(
            r#"app_secret = { env = "OMIE_SECRET" }"#,
            r#"app_secret = "s-Zq82x""#,
        );
        let err = Config::from_toml(&text, Path::new("."), &secrets()).unwrap_err();
        match &err {
            ConfigError::Syntax { key, .. } => assert_eq!(key, "accounts.omie.acme.app_secret"),
            other => panic!("{other:?}"),
        }
        assert!(!err.to_string().contains("s-Zq82x"));
    }

    #[test]
    fn catalog_and_users_load_without_secrets() {
        // No secret source at all: the environment variables named in GOOD are not set.
        let catalog = Catalog::from_config_toml(GOOD).unwrap();
        assert_eq!(catalog.plans.len(), 1);
        let users = users_from_config_toml(GOOD).unwrap();
        assert_eq!(users.len(), 1);
        assert_eq!(users[0].profile, Profile::Admin);
        let twice =
            format!("{GOOD}\n[[users]]\nid = \"ana\"\nname = \"Ana 2\"\nprofile = \"viewer\"\n");
        let err = users_from_config_toml(&twice).unwrap_err();
        let ConfigError::Invalid(p) = err else {
            panic!("{err:?}")
        };
        assert_eq!(p.iter().next().unwrap().field, "users[1].id");
        assert!(matches!(
            users_from_config_toml("users = 3"),
            Err(ConfigError::Syntax { .. })
        ));
    }

    #[test]
    fn type_errors_name_the_key() {
        let text = GOOD.replace("area_codes = [11, 12]", "area_codes = [11, 20]");
        let err = Config::from_toml(&text, Path::new("."), &secrets()).unwrap_err();
        match err {
            ConfigError::Syntax { key, message } => {
                assert_eq!(key, "servers[0].area_codes[1]");
                assert!(message.contains("area code"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        let err =
            Config::from_toml("[store]\nsqlit = 1\n", Path::new("."), &secrets()).unwrap_err();
        assert!(matches!(err, ConfigError::Syntax { .. }), "{err:?}");
    }

    #[test]
    fn the_policy_file_is_read_and_its_problems_named() {
        let dir = std::env::temp_dir().join(format!("sig-config-policy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("policy.toml"),
            "[profiles.admin]\nactions = [\"view_integrations\"]\n",
        )
        .unwrap();
        let text = format!("{GOOD}\n[authz]\npolicy = \"policy.toml\"\n");
        let cfg = Config::from_toml(&text, &dir, &secrets()).unwrap();
        let ana = crate::store::Actor::User("ana".parse().unwrap());
        let a = crate::authz::Authorizer::from_config(&cfg);
        assert!(
            a.decide(&ana, crate::authz::Action::ViewIntegrations)
                .allowed
        );
        assert!(
            !a.decide(&ana, crate::authz::Action::RetryIntegration)
                .allowed
        );

        std::fs::write(
            dir.join("policy.toml"),
            "[profiles.admin]\nactions = [\"fly\"]\n",
        )
        .unwrap();
        let err = Config::from_toml(&text, &dir, &secrets()).unwrap_err();
        let ConfigError::Invalid(p) = err else {
            panic!("{err:?}")
        };
        assert_eq!(p.0[0].field, "authz.policy");
        assert!(
            p.0[0].message.contains("profiles.admin.actions[0]"),
            "{p:?}"
        );
        std::fs::remove_dir_all(&dir).ok();

        let cfg = Config::from_toml(GOOD, Path::new("."), &secrets()).unwrap();
        assert_eq!(cfg.policy, crate::authz::Policy::default());
    }

    #[test]
    fn link_templates_are_checked_with_their_keys() {
        let text = GOOD
            .replace(
                r#"app_secret = { env = "OMIE_SECRET" }"#,
                "app_secret = { env = \"OMIE_SECRET\" }\nweb_url = \"https://app.omie.com.br/gestao/acme-1/\"\nlinks.customer = \"{web_url}#CAD/{omie_customer_id}\"",
            )
            .replace(
                "capacity_channels = 50",
                "capacity_channels = 50\nweb_url = \"https://sp1.example.com.br/\"\nlinks.customer = \"{web_url}c/{customer_id}\"\nlinks.line = \"{web_url}l/{did_id}\"",
            );
        let err = Config::from_toml(&text, Path::new("."), &secrets()).unwrap_err();
        let ConfigError::Invalid(p) = err else {
            panic!("{err:?}")
        };
        let got: Vec<(String, Code)> = p.iter().map(|x| (x.field.clone(), x.code)).collect();
        assert_eq!(
            got,
            vec![("servers[0].links.line".to_owned(), Code::UnknownReference)]
        );
        let text = text.replace("l/{did_id}", "l/{line_id}");
        let cfg = Config::from_toml(&text, Path::new("."), &secrets()).unwrap();
        let sp1: ServerId = "sp1".parse().unwrap();
        assert_eq!(
            cfg.links.next[&sp1].line.as_ref().map(|t| t.as_str()),
            Some("{web_url}l/{line_id}")
        );
        assert!(
            cfg.links.omie[&"acme".parse::<AccountId>().unwrap()]
                .customer
                .is_some()
        );
    }

    #[test]
    fn every_semantic_problem_is_reported_with_its_key() {
        let text = GOOD
            .replace(r#"omie_account = "acme""#, r#"omie_account = "other""#)
            .replace(
                r#"api_key = { env = "NEXT_KEY" }"#,
                r#"api_key = { env = "MISSING" }"#,
            )
            .replace("capacity_lines = 100", "capacity_lines = 0")
            + r#"
[[catalog.plans]]
id = "trunk-10"
name = "dup"
products = ["sip-10"]
lines_per_unit = 0
channels_per_unit = 1
next_rate_id = 1
omie = { service_code = 1 }
"#;
        let err = Config::from_toml(&text, Path::new("."), &secrets()).unwrap_err();
        let ConfigError::Invalid(p) = err else {
            panic!("{err:?}")
        };
        let got: Vec<(String, Code)> = p.iter().map(|x| (x.field.clone(), x.code)).collect();
        for want in [
            ("companies[0].omie_account", Code::UnknownReference),
            ("servers[0].capacity_lines", Code::OutOfRange),
            ("servers[0].api_key", Code::Required),
            ("catalog.plans[1].id", Code::Duplicate),
            ("catalog.plans[1].lines_per_unit", Code::OutOfRange),
            ("catalog.plans[1].products[0]", Code::Duplicate),
        ] {
            assert!(
                got.contains(&(want.0.to_owned(), want.1)),
                "missing {want:?} in {got:?}"
            );
        }
    }

    #[test]
    fn fiscal_defaults_and_the_per_company_policy() {
        let cfg = Config::from_toml(GOOD, Path::new("."), &secrets()).unwrap();
        assert_eq!(cfg.companies[0].fiscal, FiscalPolicy::Off);
        let d = &cfg.fiscal;
        assert_eq!(
            d.cnpj_providers,
            ["brasil_api", "minha_receita", "receita_ws"]
        );
        assert_eq!(d.cep_providers, ["via_cep", "brasil_api_cep"]);
        assert!(d.cnpja_key.is_none() && d.base_urls.is_empty());
        assert_eq!(d.timeout, Duration::from_secs(10));
        assert_eq!(d.found_ttl, Duration::from_secs(86_400));
        assert_eq!(d.not_found_ttl, Duration::from_secs(3_600));

        let mut env = secrets();
        env.0.insert("CNPJA".into(), "cnpja-Zq87x".into());
        let text = GOOD.replace(
            "docsales_account = \"acme\"",
            "docsales_account = \"acme\"\nfiscal = \"block\"",
        ) + r#"
[fiscal]
cnpja_key = { env = "CNPJA" }
timeout_ms = 2500
found_ttl_secs = 0
base_urls.minha_receita = "https://receita.interno.example/"
"#;
        let cfg = Config::from_toml(&text, Path::new("."), &env).unwrap();
        assert_eq!(cfg.companies[0].fiscal, FiscalPolicy::Block);
        let f = &cfg.fiscal;
        assert_eq!(
            f.cnpj_providers,
            ["brasil_api", "minha_receita", "receita_ws", "cnpja"],
            "a key adds CNPJá last"
        );
        assert_eq!(f.cnpja_key.as_ref().unwrap().expose_secret(), "cnpja-Zq87x");
        assert!(!format!("{f:?}").contains("cnpja-Zq87x"));
        assert_eq!(f.timeout, Duration::from_millis(2500));
        assert_eq!(f.found_ttl, Duration::ZERO);
        assert_eq!(
            f.base_urls["minha_receita"].as_str(),
            "https://receita.interno.example/"
        );

        let err = Config::from_toml(
            &GOOD.replace(
                "docsales_account = \"acme\"",
                "docsales_account = \"acme\"\nfiscal = \"strict\"",
            ),
            Path::new("."),
            &secrets(),
        )
        .unwrap_err();
        let ConfigError::Syntax { key, .. } = err else {
            panic!("{err:?}")
        };
        assert_eq!(key, "companies[0].fiscal");
    }

    #[test]
    fn fiscal_problems_are_reported_with_their_keys() {
        let text = format!(
            "{GOOD}\n[fiscal]\ncnpj_providers = [\"brasil_api\", \"via_cep\", \"receitaws\", \"brasil_api\", \"cnpja\"]\ncep_providers = []\ntimeout_ms = 0\nbase_urls.viacep = \"https://x.example/\"\nbase_urls.via_cep = \"ftp://x.example/\"\n"
        );
        let err = Config::from_toml(&text, Path::new("."), &secrets()).unwrap_err();
        let ConfigError::Invalid(p) = err else {
            panic!("{err:?}")
        };
        let got: Vec<(String, Code)> = p.iter().map(|x| (x.field.clone(), x.code)).collect();
        assert_eq!(
            got,
            vec![
                ("fiscal.cnpj_providers[1]".to_owned(), Code::Inconsistent),
                (
                    "fiscal.cnpj_providers[2]".to_owned(),
                    Code::UnknownReference
                ),
                ("fiscal.cnpj_providers[3]".to_owned(), Code::Duplicate),
                ("fiscal.cep_providers".to_owned(), Code::Required),
                ("fiscal.cnpja_key".to_owned(), Code::Required),
                ("fiscal.base_urls.via_cep".to_owned(), Code::InvalidFormat),
                ("fiscal.base_urls.viacep".to_owned(), Code::UnknownReference),
                ("fiscal.timeout_ms".to_owned(), Code::OutOfRange),
            ]
        );
        let text = format!(
            "{GOOD}\n[fiscal]\ncnpj_providers = [\"minha_receita\"]\ncnpja_key = {{ env = \"OMIE_KEY\" }}\n"
        );
        let err = Config::from_toml(&text, Path::new("."), &secrets()).unwrap_err();
        let ConfigError::Invalid(p) = err else {
            panic!("{err:?}")
        };
        assert_eq!(p.0[0].field, "fiscal.cnpja_key");
        assert_eq!(p.0[0].code, Code::Inconsistent);
        assert!(!p.to_string().contains("k-Zq81x"), "{p}");
    }

    #[test]
    fn the_example_documents_the_fiscal_defaults() {
        let text = include_str!("../../examples/sig.example.toml");
        let names = text
            .split("env = \"")
            .skip(1)
            .map(|s| (s.split('"').next().unwrap().to_owned(), "x".to_owned()))
            .collect();
        let cfg = Config::from_toml(text, Path::new("."), &MapSecrets(names)).unwrap();
        assert!(cfg.companies.iter().all(|c| c.fiscal == FiscalPolicy::Off));
        let (got, want) = (&cfg.fiscal, FiscalConfig::default());
        assert_eq!(got.cnpj_providers, want.cnpj_providers);
        assert_eq!(got.cep_providers, want.cep_providers);
        assert_eq!(got.timeout, want.timeout);
        assert_eq!(got.found_ttl, want.found_ttl);
        assert_eq!(got.not_found_ttl, want.not_found_ttl);
        assert!(got.cnpja_key.is_none() && got.base_urls.is_empty());
    }
}
