//! `/readyz`: the store and each upstream, checked with a timeout.
//!
//! Ready means the service can take notifications: the store answers and the service is not
//! shutting down. Upstreams are reported one by one — each ServidorNext probed, each Omie
//! account's misuse breaker (read from memory: Omie has no free call to probe with), each
//! DocSales account reached — and an unhealthy one makes the answer `degraded`, not
//! unready: notifications are still taken and the pipeline retries the upstream later, so
//! pulling the instance out of a load balancer would only lose webhooks.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use sig_core::ids::{AccountId, CompanyId};
use sig_core::pipeline::ServerHandle;
use sig_core::ports::ProposalSource;
use sig_core::store::Store;
use sig_docsales::DocSalesSource;
use sig_omie::OmieErp;

/// One upstream's health.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct UpstreamHealth {
    /// `nextbilling`, `omie` or `docsales`.
    pub system: &'static str,
    /// The server or account id.
    pub target: String,
    /// Whether it can be used now.
    pub healthy: bool,
    /// `ok`, or why not.
    pub reason: String,
    /// How long the check took, when it made a call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
}

/// The store's health.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StoreHealth {
    /// Whether it answered in time.
    pub ok: bool,
    /// `ok`, or why not.
    pub reason: String,
    /// How long it took.
    pub latency_ms: u64,
}

/// The `/readyz` answer.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Readiness {
    /// `ready`, `degraded` (an upstream is unhealthy) or `not_ready`.
    pub status: &'static str,
    /// Whether the service takes notifications.
    pub ready: bool,
    /// Whether it is shutting down.
    pub draining: bool,
    /// The store.
    pub store: StoreHealth,
    /// Every upstream.
    pub upstreams: Vec<UpstreamHealth>,
}

/// What readiness checks, with a short cache of the upstream results so frequent probes do not
/// hammer the vendors.
pub struct ReadinessChecks {
    store: Arc<dyn Store>,
    servers: Vec<ServerHandle>,
    omie: BTreeMap<AccountId, Arc<OmieErp>>,
    docsales: BTreeMap<CompanyId, Arc<DocSalesSource>>,
    timeout: Duration,
    ttl: Duration,
    cache: Mutex<Option<(Instant, Vec<UpstreamHealth>)>>,
}

impl std::fmt::Debug for ReadinessChecks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadinessChecks")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl ReadinessChecks {
    /// Checks over these, each with `timeout`; upstream results are reused for `ttl`.
    pub fn new(
        store: Arc<dyn Store>,
        servers: Vec<ServerHandle>,
        omie: BTreeMap<AccountId, Arc<OmieErp>>,
        docsales: BTreeMap<CompanyId, Arc<DocSalesSource>>,
        timeout: Duration,
        ttl: Duration,
    ) -> Self {
        ReadinessChecks {
            store,
            servers,
            omie,
            docsales,
            timeout,
            ttl,
            cache: Mutex::new(None),
        }
    }

    /// Check everything (upstreams from the cache when fresh).
    pub async fn check(&self, draining: bool) -> Readiness {
        let started = Instant::now();
        let store = match tokio::time::timeout(self.timeout, self.store.counts()).await {
            Ok(Ok(_)) => StoreHealth {
                ok: true,
                reason: "ok".into(),
                latency_ms: millis(started.elapsed()),
            },
            Ok(Err(e)) => StoreHealth {
                ok: false,
                reason: e.to_string(),
                latency_ms: millis(started.elapsed()),
            },
            Err(_) => StoreHealth {
                ok: false,
                reason: format!("no answer within {} ms", self.timeout.as_millis()),
                latency_ms: millis(started.elapsed()),
            },
        };
        let upstreams = self.upstreams().await;
        let ready = store.ok && !draining;
        let status = if !ready {
            "not_ready"
        } else if upstreams.iter().all(|u| u.healthy) {
            "ready"
        } else {
            "degraded"
        };
        Readiness {
            status,
            ready,
            draining,
            store,
            upstreams,
        }
    }

    async fn upstreams(&self) -> Vec<UpstreamHealth> {
        {
            let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((at, v)) = &*cache
                && at.elapsed() < self.ttl
            {
                return v.clone();
            }
        }
        let next = futures::future::join_all(self.servers.iter().map(|s| async move {
            let h = s.platform.probe(self.timeout).await;
            UpstreamHealth {
                system: "nextbilling",
                target: s.info.id.to_string(),
                healthy: h.healthy,
                reason: h.reason,
                latency_ms: Some(h.latency_ms),
            }
        }));
        let docsales =
            futures::future::join_all(self.docsales.iter().map(|(company, s)| async move {
                let started = Instant::now();
                let r = tokio::time::timeout(self.timeout, s.client().registration_data()).await;
                let (healthy, reason) = match r {
                    Ok(Ok(_)) => (true, "ok".to_owned()),
                    Ok(Err(e)) => (false, e.to_string()),
                    Err(_) => (
                        false,
                        format!("no answer within {} ms", self.timeout.as_millis()),
                    ),
                };
                UpstreamHealth {
                    system: "docsales",
                    target: format!("{} (company {company})", s.account()),
                    healthy,
                    reason,
                    latency_ms: Some(millis(started.elapsed())),
                }
            }));
        let (next, docsales) = futures::join!(next, docsales);
        let now_ms = chrono::Utc::now().timestamp_millis();
        let omie = self.omie.iter().map(|(id, erp)| {
            match erp
                .client()
                .breaker_state()
                .filter(|b| b.is_open_at(now_ms))
            {
                Some(b) => UpstreamHealth {
                    system: "omie",
                    target: id.to_string(),
                    healthy: false,
                    reason: format!(
                        "misuse block for {} s more: no call is made until it ends",
                        b.remaining_at(now_ms).as_secs()
                    ),
                    latency_ms: None,
                },
                None => UpstreamHealth {
                    system: "omie",
                    target: id.to_string(),
                    healthy: true,
                    reason: "ok (no misuse block)".into(),
                    latency_ms: None,
                },
            }
        });
        let all: Vec<UpstreamHealth> = next.into_iter().chain(omie).chain(docsales).collect();
        *self.cache.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), all.clone()));
        all
    }
}
