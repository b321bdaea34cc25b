//! Wiring: a loaded `sig.toml` becomes a running pipeline — the store, one Omie client per
//! account, one DocSales source per account, one NextBilling client per ServidorNext, one
//! fiscal lookup client shared by every company whose `fiscal` policy is not `off` — and the
//! Omie misuse breaker's state is restored from and saved to the store, so a restarted process
//! does not hammer a blocked API.

use std::collections::BTreeMap;
use std::sync::Arc;

use sig_core::authz::Authorizer;
use sig_core::config::{Config, StoreConfig};
use sig_core::fiscal::FiscalPolicy;
use sig_core::ids::{AccountId, CompanyId};
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
    /// Each company's DocSales source (reconciliation, readiness).
    pub sources: BTreeMap<CompanyId, Arc<DocSalesSource>>,
    /// The ServidorNext clients (readiness probes).
    pub servers: Vec<ServerHandle>,
}

/// The store key under which an Omie account's breaker state is kept.
pub fn breaker_key(account: &AccountId) -> String {
    format!("omie:{account}:breaker")
}

/// Load `sig.toml` with secrets from the process environment (or files); every problem is
/// reported with its key (exit 2).
pub fn load_config(path: &std::path::Path) -> Result<Config, CliError> {
    Config::load(path, &sig_core::config::ProcessSecrets).map_err(|e| {
        let problems: Vec<String> = e
            .problems()
            .0
            .iter()
            .map(|p| format!("{}: {}", p.field, p.message))
            .collect();
        CliError::Usage(format!(
            "{}: invalid configuration: {}",
            path.display(),
            problems.join("; ")
        ))
    })
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
        Self::build_with(config, store, settings, None).await
    }

    /// [`Runtime::build`], with every Omie client keeping to `omie_limits` instead of its
    /// account's (benchmarks run with [`sig_omie::LimitsConfig::unlimited`] against an
    /// unlimited sandbox).
    pub async fn build_with(
        config: &Config,
        store: Arc<dyn Store>,
        settings: Settings,
        omie_limits: Option<sig_omie::LimitsConfig>,
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
            if let Some(limits) = &omie_limits {
                builder = builder.limits(limits.clone());
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
        let mut sources = BTreeMap::new();
        for c in &config.companies {
            let erp = omie.get(&c.omie_account).cloned().ok_or_else(|| {
                CliError::Usage(format!(
                    "company {}: no Omie account {}",
                    c.id, c.omie_account
                ))
            })?;
            let ds = docsales.get(&c.docsales_account).cloned();
            if let Some(s) = &ds {
                sources.insert(c.id.clone(), s.clone());
            }
            let source = ds.map(|s| s as Arc<dyn ProposalSource>);
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
        let mut pipeline = Pipeline::new(
            store.clone(),
            companies,
            servers.clone(),
            catalog,
            Arc::new(SystemClock),
            settings,
        )
        .with_authorizer(Authorizer::from_config(config));
        if config
            .companies
            .iter()
            .any(|c| c.fiscal != FiscalPolicy::Off)
        {
            let client = sig_fiscal::FiscalClientBuilder::from_config(&config.fiscal)
                .and_then(sig_fiscal::FiscalClientBuilder::build)
                .map_err(|e| CliError::Usage(format!("fiscal: {e}")))?;
            pipeline = pipeline.with_fiscal(
                Arc::new(client),
                config.companies.iter().map(|c| (c.id.clone(), c.fiscal)),
            );
        }
        let pipeline = Arc::new(pipeline);
        Ok(Runtime {
            store,
            pipeline,
            omie,
            sources,
            servers,
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
