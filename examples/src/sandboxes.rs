//! The three vendor sandboxes started together, in-process on loopback, for `sig demo` and
//! for tests: Omie, one NextBilling instance per ServidorNext, and DocSales seeded with
//! proposals. It also knows how to point a configuration at them and how to read their
//! create counters.

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use sig_core::config::Config;
use sig_docsales::ProposalDocument;
use sig_docsales::sandbox::{DocSalesSandbox, SandboxOptions as DocSalesOptions, SenderConfig};
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
}

impl DemoOptions {
    /// The demo's settings: Omie's real limits, a fixed seed.
    pub fn demo() -> Self {
        DemoOptions {
            omie_scale: 1.0,
            seed: 2026,
        }
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
    docsales_token: SecretString,
    webhook_secret: SecretString,
    seed: u64,
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
    pub async fn start(
        server_ids: &[String],
        proposals: &[Value],
        options: DemoOptions,
    ) -> Result<Self, String> {
        let omie = OmieSandbox::start(OmieSandboxConfig::scaled(options.omie_scale))
            .await
            .map_err(|e| format!("omie sandbox: {e}"))?;
        let mut b = NextSandbox::builder();
        for id in server_ids {
            b = b.instance(id.clone());
        }
        let next = b
            .start()
            .await
            .map_err(|e| format!("nextbilling sandbox: {e}"))?;
        let docsales_token = random_secret();
        let docsales = DocSalesSandbox::start(DocSalesOptions::new(
            SecretString::from(docsales_token.expose_secret()),
            "demo",
        ))
        .await
        .map_err(|e| format!("docsales sandbox: {e}"))?;
        for (i, p) in proposals.iter().enumerate() {
            let mut doc: ProposalDocument =
                serde_json::from_value(p.clone()).map_err(|e| format!("demo proposal {i}: {e}"))?;
            let wanted = doc.document.as_ref().and_then(|d| d.status.clone());
            if let Some(d) = doc.document.as_mut() {
                d.status = Some(sig_core::ProposalStatus::Sent);
            }
            let id = docsales.seed_proposal(doc);
            if let Some(status) = wanted.filter(|s| *s != sig_core::ProposalStatus::Sent) {
                docsales.set_status(id, status);
            }
        }
        Ok(DemoSandboxes {
            omie,
            next,
            docsales,
            docsales_token,
            webhook_secret: random_secret(),
            seed: options.seed,
        })
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

    /// Stop them all.
    pub async fn shutdown(self) {
        self.omie.shutdown().await;
        self.next.shutdown().await;
        self.docsales.shutdown().await;
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
