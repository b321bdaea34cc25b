//! The three vendor sandboxes started together, in-process on loopback, for `sig demo` and
//! for tests: Omie, one NextBilling instance per ServidorNext, and DocSales seeded with
//! proposals — plus the fiscal sandbox (every CNPJ and CEP provider) when a configuration's
//! companies check customers at the registry, or when a test starts it
//! ([`DemoSandboxes::start_fiscal`]). It also knows how to point a configuration at them and
//! how to read their create counters.

use std::collections::BTreeMap;
use std::path::Path;

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use sig_core::config::Config;
use sig_core::fiscal::FiscalPolicy;
use sig_docsales::ProposalDocument;
use sig_docsales::sandbox::{DocSalesSandbox, SandboxOptions as DocSalesOptions, SenderConfig};
use sig_fiscal::Provider;
use sig_fiscal::sandbox::{FiscalSandbox, FiscalSandboxBuilder};
use sig_next::sandbox::NextSandbox;
use sig_omie::sandbox::{OmieSandbox, OmieSandboxConfig};
use sig_sandbox::CreateCounters;
use url::Url;

use crate::CliError;
use crate::cmd::demo::UpstreamCount;

/// How the sandboxes behave.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Scale of Omie's limit windows (1.0 = real).
    pub omie_scale: f64,
    /// Seed of the webhook sender's shuffling and duplicates.
    pub seed: u64,
    /// Limits off in the Omie and NextBilling sandboxes (benchmarks).
    pub unlimited: bool,
}

impl DemoOptions {
    /// The demo's settings: Omie's real limits, a fixed seed.
    pub fn demo() -> Self {
        DemoOptions {
            omie_scale: 1.0,
            seed: 2026,
            unlimited: false,
        }
    }
}

/// A secret source that makes up a fresh random value for every environment variable a
/// configuration asks for, and remembers it: the demo's and the tests' sandboxes then accept
/// exactly those credentials, and a child process gets them through [`Self::values`] as its
/// environment. Never used for real accounts.
#[derive(Debug, Default)]
pub struct GeneratedSecrets(std::sync::Mutex<BTreeMap<String, String>>);

impl GeneratedSecrets {
    /// Every value handed out so far, by variable name.
    pub fn values(&self) -> BTreeMap<String, String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl sig_core::config::SecretSource for GeneratedSecrets {
    fn env(&self, name: &str) -> Option<String> {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        Some(
            m.entry(name.to_owned())
                .or_insert_with(|| random_secret().expose_secret().to_owned())
                .clone(),
        )
    }
    fn read_file(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }
}

/// The running sandboxes.
pub struct DemoSandboxes {
    /// Omie.
    pub omie: OmieSandbox,
    /// NextBilling, one instance per server id.
    pub next: NextSandbox,
    /// DocSales.
    pub docsales: DocSalesSandbox,
    /// The fiscal providers (CNPJ and CEP), when started.
    pub fiscal: Option<FiscalSandbox>,
    docsales_token: SecretString,
    webhook_secret: SecretString,
    seed: u64,
    omie_scale: f64,
}

/// The environment-variable name a demo secret is read from (`DEMO_NEXT_TOKEN_SP1`).
pub fn env_name(prefix: &str, server: &str) -> String {
    format!("{prefix}_{}", server.to_ascii_uppercase().replace('-', "_"))
}

fn random_secret() -> SecretString {
    SecretString::from(format!(
        "{:032x}{:032x}",
        rand::random::<u128>(),
        rand::random::<u128>()
    ))
}

impl DemoSandboxes {
    /// Start Omie, one NextBilling instance per server id, and DocSales seeded with
    /// `proposals` (DocSales documents): each stored as sent, then approved unless its own
    /// status says otherwise — so DocSales queues a 'sent' and an 'approved' notification.
    /// Credentials are fresh random ones ([`DemoSandboxes::secrets`] gives them out).
    pub async fn start(
        server_ids: &[String],
        proposals: &[Value],
        options: DemoOptions,
    ) -> Result<Self, String> {
        let mut omie = OmieSandboxConfig::scaled(options.omie_scale);
        omie.app_key = random_secret().expose_secret().to_owned();
        omie.app_secret = random_secret().expose_secret().to_owned();
        let mut next = NextSandbox::builder();
        for id in server_ids {
            next = next.instance(id.clone());
        }
        let docsales_token = random_secret();
        Self::start_with(
            omie,
            next,
            docsales_token,
            "demo",
            random_secret(),
            proposals,
            options.seed,
        )
        .await
    }

    /// Start the sandboxes a configuration points at, accepting **its** credentials (so they
    /// never need printing): Omie for its Omie account, one NextBilling instance per
    /// ServidorNext, DocSales for its DocSales account, seeded with `proposals` as
    /// [`DemoSandboxes::start`] does. One Omie and one DocSales account are served.
    pub async fn from_config(
        config: &Config,
        proposals: &[Value],
        options: DemoOptions,
    ) -> Result<Self, String> {
        let one = |what: &str, n: usize| {
            if n == 1 {
                Ok(())
            } else {
                Err(format!(
                    "the sandboxes serve exactly one {what} account; the configuration has {n}"
                ))
            }
        };
        one("Omie", config.omie_accounts.len())?;
        one("DocSales", config.docsales_accounts.len())?;
        let (_, o) = config.omie_accounts.iter().next().expect("one account");
        let (ds_id, d) = config.docsales_accounts.iter().next().expect("one account");
        let mut omie = if options.unlimited {
            OmieSandboxConfig::unlimited()
        } else {
            OmieSandboxConfig::scaled(options.omie_scale)
        };
        omie.app_key = o.app_key.expose_secret().to_owned();
        omie.app_secret = o.app_secret.expose_secret().to_owned();
        let mut next = NextSandbox::builder();
        if options.unlimited {
            next = next.max_concurrent(usize::MAX / 2);
        }
        for s in &config.servers {
            next = next.instance_with_credentials(
                s.id.to_string(),
                s.api_token.clone(),
                s.api_key.clone(),
            );
        }
        let mut sb = Self::start_with(
            omie,
            next,
            d.token.clone(),
            ds_id.as_str(),
            d.webhook_secret.clone(),
            proposals,
            options.seed,
        )
        .await?;
        if config
            .companies
            .iter()
            .any(|c| c.fiscal != FiscalPolicy::Off)
        {
            let mut fiscal = FiscalSandbox::builder();
            if let Some(key) = &config.fiscal.cnpja_key {
                fiscal = fiscal.cnpja_key(key.clone());
            }
            sb.start_fiscal(fiscal).await?;
        }
        Ok(sb)
    }

    /// Start the fiscal sandbox (every CNPJ and CEP provider on one loopback server) with
    /// `builder`'s data, limits and CNPJá key; [`DemoSandboxes::point_config`] then points
    /// `[fiscal]` at it. Refused when it is already running.
    pub async fn start_fiscal(&mut self, builder: FiscalSandboxBuilder) -> Result<(), String> {
        if self.fiscal.is_some() {
            return Err("the fiscal sandbox is already running".into());
        }
        let fiscal = builder
            .start()
            .await
            .map_err(|e| format!("fiscal sandbox: {e}"))?;
        self.fiscal = Some(fiscal);
        Ok(())
    }

    async fn start_with(
        omie: OmieSandboxConfig,
        next: sig_next::sandbox::NextSandboxBuilder,
        docsales_token: SecretString,
        docsales_account: &str,
        webhook_secret: SecretString,
        proposals: &[Value],
        seed: u64,
    ) -> Result<Self, String> {
        let omie_scale = omie.timing.scale();
        let omie = OmieSandbox::start(omie)
            .await
            .map_err(|e| format!("omie sandbox: {e}"))?;
        let next = next
            .start()
            .await
            .map_err(|e| format!("nextbilling sandbox: {e}"))?;
        let docsales = DocSalesSandbox::start(DocSalesOptions::new(
            docsales_token.clone(),
            docsales_account,
        ))
        .await
        .map_err(|e| format!("docsales sandbox: {e}"))?;
        let sb = DemoSandboxes {
            omie,
            next,
            docsales,
            fiscal: None,
            docsales_token,
            webhook_secret,
            seed,
            omie_scale,
        };
        sb.seed_proposals(proposals)?;
        Ok(sb)
    }

    /// Store DocSales documents in the DocSales sandbox: each as sent, then moved to its own
    /// status (approved unless it says otherwise). Returns the DocSales ids.
    pub fn seed_proposals(&self, proposals: &[Value]) -> Result<Vec<u64>, String> {
        let mut ids = Vec::with_capacity(proposals.len());
        for (i, p) in proposals.iter().enumerate() {
            let mut doc: ProposalDocument =
                serde_json::from_value(p.clone()).map_err(|e| format!("proposal {i}: {e}"))?;
            let wanted = doc.document.as_ref().and_then(|d| d.status.clone());
            if let Some(d) = doc.document.as_mut() {
                d.status = Some(sig_core::ProposalStatus::Sent);
            }
            let id = self.docsales.seed_proposal(doc);
            if let Some(status) = wanted.filter(|s| *s != sig_core::ProposalStatus::Sent) {
                self.docsales.set_status(id, status);
            }
            ids.push(id);
        }
        Ok(ids)
    }

    /// The secrets the demo configuration reads from its environment variables.
    pub fn secrets(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        m.insert(
            "DEMO_OMIE_APP_KEY".into(),
            self.omie.app_key().expose_secret().to_owned(),
        );
        m.insert(
            "DEMO_OMIE_APP_SECRET".into(),
            self.omie.app_secret().expose_secret().to_owned(),
        );
        m.insert(
            "DEMO_DOCSALES_TOKEN".into(),
            self.docsales_token.expose_secret().to_owned(),
        );
        m.insert(
            "DEMO_DOCSALES_WEBHOOK_SECRET".into(),
            self.webhook_secret.expose_secret().to_owned(),
        );
        for i in self.next.instances() {
            m.insert(
                env_name("DEMO_NEXT_TOKEN", i.name()),
                i.api_token().expose_secret().to_owned(),
            );
            m.insert(
                env_name("DEMO_NEXT_KEY", i.name()),
                i.api_key().expose_secret().to_owned(),
            );
        }
        m
    }

    /// The webhook secret DocSales' notifications carry.
    pub fn webhook_secret(&self) -> SecretString {
        self.webhook_secret.clone()
    }

    /// Point every account and server of `config` at the sandboxes.
    pub fn point_config(&self, config: &mut Config) -> Result<(), CliError> {
        let omie_url =
            Url::parse(&self.omie.base_url()).map_err(|e| CliError::Failed(e.to_string()))?;
        for a in config.omie_accounts.values_mut() {
            a.base_url = omie_url.clone();
            a.time_scale = self.omie_scale;
        }
        for a in config.docsales_accounts.values_mut() {
            a.base_url = self.docsales.base_url();
        }
        for s in &mut config.servers {
            let i = self.next.instance(s.id.as_str()).ok_or_else(|| {
                CliError::Failed(format!("no sandbox instance for server {}", s.id))
            })?;
            s.base_url = i.base_url();
        }
        if let Some(f) = &self.fiscal {
            for p in Provider::ALL {
                config
                    .fiscal
                    .base_urls
                    .insert(p.as_str().to_owned(), f.base_url(p));
            }
        }
        Ok(())
    }

    /// Deliver DocSales' queued notifications to `url`: shuffled, each one twice, retried on
    /// failure. Returns how many deliveries were made.
    pub async fn deliver_webhooks(&self, url: &Url) -> Result<usize, String> {
        let sender = self.docsales.webhook_sender(
            url.clone(),
            SenderConfig {
                seed: self.seed,
                duplicate_rate: 1.0,
                shuffle: true,
                ..SenderConfig::default()
            },
        );
        let deliveries = sender.flush().await;
        if let Some(d) = deliveries.iter().find(|d| !d.delivered) {
            return Err(format!(
                "the notification for proposal {} was refused (HTTP {:?})",
                d.proposal_id, d.last_status
            ));
        }
        Ok(deliveries.len())
    }

    /// Successful creates and duplicates per upstream system (and NextBilling instance).
    pub fn upstream_counts(&self) -> BTreeMap<String, UpstreamCount> {
        let mut out = BTreeMap::new();
        out.insert("omie".to_owned(), count(self.omie.counters()));
        for i in self.next.instances() {
            out.insert(format!("nextbilling:{}", i.name()), count(i.counters()));
        }
        out
    }

    /// HTTP requests the sandboxes received so far: every upstream call SIG made, look-ups and
    /// retries included.
    pub fn upstream_requests(&self) -> u64 {
        self.omie.requests()
            + self
                .next
                .instances()
                .iter()
                .map(|i| i.requests())
                .sum::<u64>()
            + self.docsales.server().requests()
            + self.fiscal.as_ref().map_or(0, |f| f.server().requests())
    }

    /// Stop them all.
    pub async fn shutdown(self) {
        self.omie.shutdown().await;
        self.next.shutdown().await;
        self.docsales.shutdown().await;
        if let Some(f) = self.fiscal {
            f.shutdown().await;
        }
    }
}

fn count(c: &CreateCounters) -> UpstreamCount {
    let mut u = UpstreamCount::default();
    for (kind, keys) in c.counts() {
        u.creates.insert(kind.clone(), keys.values().sum());
        u.duplicates += keys.values().map(|n| n.saturating_sub(1)).sum::<u64>();
    }
    u
}

/// The text of a configuration (`text`, read from a file in `base`) with every base URL taken
/// from `config` (already pointed at the sandboxes) and relative paths (the SQLite file,
/// secret files) made absolute against `base`, so the copy means the same wherever it is
/// written. Comments are not kept.
pub fn pointed_config(text: &str, base: &Path, config: &Config) -> Result<String, CliError> {
    let mut doc: toml::Table = text
        .parse()
        .map_err(|e| CliError::Usage(format!("the configuration does not parse: {e}")))?;
    let base = std::fs::canonicalize(base).unwrap_or_else(|_| base.to_path_buf());
    absolutise_paths(&mut doc, &base);
    for (kind, urls) in [
        (
            "omie",
            config
                .omie_accounts
                .iter()
                .map(|(id, a)| (id.to_string(), a.base_url.to_string()))
                .collect::<Vec<_>>(),
        ),
        (
            "docsales",
            config
                .docsales_accounts
                .iter()
                .map(|(id, a)| (id.to_string(), a.base_url.to_string()))
                .collect(),
        ),
    ] {
        for (id, url) in urls {
            if let Some(toml::Value::Table(a)) = doc
                .get_mut("accounts")
                .and_then(|v| v.get_mut(kind))
                .and_then(|v| v.get_mut(&id))
            {
                a.insert("base_url".into(), toml::Value::String(url));
                if kind == "omie"
                    && let Some(scale) = config
                        .omie_accounts
                        .iter()
                        .find(|(a, _)| a.as_str() == id)
                        .map(|(_, a)| a.time_scale)
                        .filter(|s| *s < 1.0)
                {
                    a.insert("time_scale".into(), toml::Value::Float(scale));
                }
            }
        }
    }
    if !config.fiscal.base_urls.is_empty() {
        let urls: toml::Table = config
            .fiscal
            .base_urls
            .iter()
            .map(|(p, u)| (p.clone(), toml::Value::String(u.to_string())))
            .collect();
        if let toml::Value::Table(f) = doc
            .entry("fiscal")
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
        {
            f.insert("base_urls".into(), toml::Value::Table(urls));
        }
    }
    if let Some(toml::Value::Array(servers)) = doc.get_mut("servers") {
        for s in servers.iter_mut().filter_map(toml::Value::as_table_mut) {
            let id = s.get("id").and_then(toml::Value::as_str).map(str::to_owned);
            if let Some(c) = id.and_then(|id| config.servers.iter().find(|c| c.id.as_str() == id)) {
                s.insert(
                    "base_url".into(),
                    toml::Value::String(c.base_url.to_string()),
                );
            }
        }
    }
    toml::to_string_pretty(&doc)
        .map_err(|e| CliError::Failed(format!("cannot write the configuration: {e}")))
}

/// Make `store.sqlite` and every `file = "…"` secret reference absolute against `base`.
fn absolutise_paths(v: &mut toml::Table, base: &Path) {
    for (key, value) in v.iter_mut() {
        match value {
            toml::Value::String(s)
                if (key == "sqlite" || key == "file") && Path::new(s.as_str()).is_relative() =>
            {
                *s = base.join(s.as_str()).display().to_string();
            }
            toml::Value::Table(t) => absolutise_paths(t, base),
            toml::Value::Array(items) => {
                for t in items.iter_mut().filter_map(toml::Value::as_table_mut) {
                    absolutise_paths(t, base);
                }
            }
            _ => {}
        }
    }
}
