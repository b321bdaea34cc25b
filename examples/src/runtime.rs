//! Wiring: a loaded `sig.toml` becomes a running pipeline — the store, one Omie client per
//! account, one DocSales source per account, one NextBilling client per ServidorNext — and the
//! Omie misuse breaker's state is restored from and saved to the store, so a restarted process
//! does not hammer a blocked API.

use std::collections::BTreeMap;
use std::sync::Arc;

use sig_core::config::{Config, StoreConfig};
use sig_core::ids::AccountId;
use sig_core::pipeline::{
    CompanyHandle, Pipeline, ServerHandle, ServerInfo, Settings, SystemClock,
};
use sig_core::ports::ProposalSource;
use sig_core::store::Store;
use sig_docsales::{DocSalesClient, DocSalesSource};
use sig_next::NextClient;
use sig_omie::{BreakerState, OmieClient, OmieErp};

use crate::CliError;

/// Everything a command needs to run integrations.
pub struct Runtime {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The pipeline.
    pub pipeline: Arc<Pipeline>,
    /// The Omie ports by account (their breaker state is persisted).
    pub omie: BTreeMap<AccountId, Arc<OmieErp>>,
}

/// The store key under which an Omie account's breaker state is kept.
pub fn breaker_key(account: &AccountId) -> String {
    format!("omie:{account}:breaker")
}

/// The environment variable that scales the Omie clients' limit windows and retry delays
/// (`0.01`: a 60 s window lasts 600 ms). Only for Omie sandboxes started with the same scale
/// (tests, benchmarks); never set it against the real Omie.
pub const OMIE_WINDOW_SCALE_ENV: &str = "SIG_OMIE_WINDOW_SCALE";

/// The scale [`OMIE_WINDOW_SCALE_ENV`] sets, if any.
pub fn omie_window_scale() -> Result<Option<f64>, CliError> {
    match std::env::var(OMIE_WINDOW_SCALE_ENV) {
        Err(_) => Ok(None),
        Ok(v) => match v.trim().parse::<f64>() {
            Ok(s) if s > 0.0 && s <= 1.0 => Ok(Some(s)),
            _ => Err(CliError::Usage(format!(
                "{OMIE_WINDOW_SCALE_ENV} must be a number in (0, 1], got '{v}'"
            ))),
        },
    }
}

/// Open the store a configuration names.
pub fn open_store(config: &Config) -> Result<Arc<dyn Store>, CliError> {
    match &config.store {
        StoreConfig::Sqlite(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| {
                    CliError::Failed(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
            let s = sig_store_sqlite::SqliteStore::open(path).map_err(|e| {
                CliError::Failed(format!("cannot open the store {}: {e}", path.display()))
            })?;
            Ok(Arc::new(s))
        }
        StoreConfig::Postgres(_) => Err(CliError::Usage(
            "store.postgres is not available in this build; use store.sqlite".into(),
        )),
    }
}

impl Runtime {
    /// Build the clients and the pipeline for a configuration.
    pub async fn build(
        config: &Config,
        store: Arc<dyn Store>,
        settings: Settings,
    ) -> Result<Runtime, CliError> {
        let catalog = Arc::new(config.catalog.clone());
        let mut omie = BTreeMap::new();
        for (id, account) in &config.omie_accounts {
            let saved = store
                .limit_state(&breaker_key(id))
                .await
                .map_err(|e| CliError::Failed(format!("cannot read the store: {e}")))?
                .and_then(|v| serde_json::from_value::<BreakerState>(v).ok());
            let mut builder = OmieClient::from_account(account).breaker_state(saved);
            if let Some(scale) = omie_window_scale()? {
                builder = builder
                    .limits(sig_omie::LimitsConfig::scaled(scale))
                    .retry(sig_omie::RetryConfig::scaled(scale));
            }
            let client = builder
                .build()
                .map_err(|e| CliError::Usage(format!("accounts.omie.{id}: {e}")))?;
            omie.insert(id.clone(), Arc::new(OmieErp::new(client)));
        }
        let mut docsales = BTreeMap::new();
        for (id, account) in &config.docsales_accounts {
            let client = DocSalesClient::from_account(account)
                .map_err(|e| CliError::Usage(format!("accounts.docsales.{id}: {e}")))?;
            docsales.insert(
                id.clone(),
                Arc::new(DocSalesSource::new(client, catalog.clone())),
            );
        }
        let mut companies = Vec::new();
        for c in &config.companies {
            let erp = omie.get(&c.omie_account).cloned().ok_or_else(|| {
                CliError::Usage(format!(
                    "company {}: no Omie account {}",
                    c.id, c.omie_account
                ))
            })?;
            let source = docsales
                .get(&c.docsales_account)
                .cloned()
                .map(|s| s as Arc<dyn ProposalSource>);
            companies.push(CompanyHandle {
                id: c.id.clone(),
                hold_for_review: c.hold_for_review,
                erp,
                source,
            });
        }
        let mut servers = Vec::new();
        for s in &config.servers {
            let client = NextClient::from_server(s)
                .build()
                .map_err(|e| CliError::Usage(format!("server {}: {e}", s.id)))?;
            servers.push(ServerHandle {
                info: ServerInfo::from(s),
                platform: Arc::new(client),
            });
        }
        let pipeline = Arc::new(Pipeline::new(
            store.clone(),
            companies,
            servers,
            catalog,
            Arc::new(SystemClock),
            settings,
        ));
        Ok(Runtime {
            store,
            pipeline,
            omie,
        })
    }

    /// Save every Omie account's breaker state to the store.
    pub async fn persist_limits(&self) -> Result<(), CliError> {
        for (id, erp) in &self.omie {
            let value = serde_json::to_value(erp.client().breaker_state()).unwrap_or_default();
            self.store
                .set_limit_state(&breaker_key(id), &value)
                .await
                .map_err(|e| CliError::Failed(format!("cannot write the store: {e}")))?;
        }
        Ok(())
    }

    /// Run every pending integration to its end (done, held or failed), saving limit state
    /// after each batch.
    pub async fn run_until_idle(&self) -> Result<(), CliError> {
        let result = self.pipeline.run_until_idle().await;
        self.persist_limits().await?;
        result.map_err(|e| CliError::Failed(format!("pipeline: {e}")))
    }
}
