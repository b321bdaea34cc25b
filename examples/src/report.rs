//! Reports read through the `Store` port: one integration's outcome with its external ids and
//! server choices, and the KPIs over many. Personal data is masked: a CPF shows only its
//! middle digits; names of people are left out (the proposal code identifies the record).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};
use sig_core::TaxId;
use sig_core::links::{Link, LinkTargets, build_links};
use sig_core::store::{Integration, IntegrationStatus, StepEntry, Store, StoreError};

/// A CPF with only its middle six digits shown (`***.982.247-**`); a CNPJ (a company's public
/// registration) in full. The rule is sig-core's ([`sig_core::mask`]), shared with every export.
pub use sig_core::mask::mask_tax_id;

/// One integration's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct IntegrationReport {
    /// SIG's id.
    pub integration: String,
    /// The source proposal id.
    pub proposal: String,
    /// The proposal's code, when known.
    pub code: Option<String>,
    /// Status.
    pub status: IntegrationStatus,
    /// The customer's tax id, masked.
    pub tax_id: Option<String>,
    /// SIG's customer id.
    pub customer: Option<String>,
    /// Integration time (received → done, less time held), in ms.
    pub integration_ms: Option<u64>,
    /// Omie ids.
    pub omie: Value,
    /// Per order: chosen server and why, Next ids.
    pub orders: Vec<Value>,
    /// Validation problems (held).
    pub problems: Value,
    /// Why it failed.
    pub failure: Value,
    /// Direct links to its records in Omie and NextBilling (filled by
    /// [`integration_links`]; empty until then).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
}

fn result<'a>(j: &'a BTreeMap<String, StepEntry>, key: &str) -> Option<&'a Value> {
    j.get(key).map(|e| &e.result)
}

/// Build the report of one integration from the store.
pub async fn integration_report(
    store: &dyn Store,
    i: &Integration,
) -> Result<IntegrationReport, StoreError> {
    let j = store.journal(i.id).await?;
    let validated = result(&j, "validate");
    let tax_id = validated
        .and_then(|v| v["proposal"]["customer"]["tax_id"].as_str())
        .or_else(|| i.raw.as_ref().and_then(|r| r.customer.tax_id.as_deref()))
        .and_then(|s| s.parse::<TaxId>().ok())
        .map(|t| mask_tax_id(&t));
    let code = i.raw.as_ref().and_then(|r| r.code.clone());
    let n_orders = validated
        .and_then(|v| v["orders"].as_array())
        .map_or(0, |o| o.len());
    let mut contracts = Vec::new();
    let mut orders = Vec::new();
    for k in 0..n_orders {
        if let Some(c) = result(&j, &format!("contract:{k}")) {
            contracts.push(c["erp_id"].clone());
        }
        let server = result(&j, &format!("server:{k}"));
        let server_id = server.and_then(|s| s["server"].as_str()).map(str::to_owned);
        let why = server
            .and_then(|s| {
                serde_json::from_value::<sig_core::choice::Decision>(s["decision"].clone()).ok()
            })
            .map(|d| d.explain());
        let next_customer = server_id
            .as_ref()
            .and_then(|s| result(&j, &format!("next_customer:{s}")))
            .map(|v| v["voip_id"].clone());
        let lines: Vec<Value> = j
            .iter()
            .filter(|(key, _)| key.starts_with(&format!("line:{k}:")))
            .map(|(_, e)| json!({"id": e.result["voip_id"], "username": e.result["username"]}))
            .collect();
        let dids: Vec<Value> = j
            .iter()
            .filter(|(key, _)| key.starts_with(&format!("did:{k}:")))
            .map(|(_, e)| e.result["voip_id"].clone())
            .collect();
        let order = validated.map(|v| &v["proposal"]["orders"][k]);
        orders.push(json!({
            "plan": order.map(|o| o["plan"].clone()),
            "area_code": order.map(|o| o["area_code"].clone()),
            "server": server_id,
            "why": why,
            "next_customer": next_customer,
            "lines": lines,
            "dids": dids,
        }));
    }
    let erp_customer = result(&j, "erp_customer");
    Ok(IntegrationReport {
        integration: i.id.to_string(),
        proposal: i.source.proposal_id.clone(),
        code,
        status: i.status,
        tax_id,
        customer: i.customer.map(|c| c.to_string()),
        integration_ms: i.integration_ms(),
        omie: json!({
            "customer": erp_customer.map(|c| c["erp_id"].clone()),
            "adopted": erp_customer.map(|c| c["adopted"].clone()),
            "contracts": contracts,
        }),
        orders,
        problems: serde_json::to_value(&i.problems).unwrap_or_default(),
        failure: serde_json::to_value(&i.failure).unwrap_or_default(),
        links: Vec::new(),
    })
}

/// The direct links of one integration (Omie customer and contracts, Next customers, lines and
/// DIDs), built from the store and the configuration's URL templates — for `sig demo`,
/// `sig integrations show` and anything else that shows an integration.
pub async fn integration_links(
    store: &dyn Store,
    i: &Integration,
    targets: &LinkTargets,
) -> Result<Vec<Link>, StoreError> {
    let journal = store.journal(i.id).await?;
    let customer = match i.customer {
        Some(c) => store.customer_links(c).await?,
        None => Default::default(),
    };
    Ok(build_links(i, &journal, &customer, targets))
}

/// One link as a line for people: `Omie customer 2000001: URL (search …)`.
pub fn link_line(l: &Link) -> String {
    let mut s = l.label.clone();
    match &l.url {
        Some(u) => s.push_str(&format!(": {u}")),
        None => s.push_str(": (no web address configured)"),
    }
    if let Some(h) = &l.search_hint {
        s.push_str(&format!(" — {h}"));
    }
    s
}

/// Headline KPIs over a set of integrations (sig-core's [`sig_core::kpi::Summary`], shared
/// with the Python bindings).
pub type Kpis = sig_core::kpi::Summary;

/// Compute the KPIs ([`sig_core::kpi::summary`]).
pub fn kpis(all: &[Integration]) -> Kpis {
    sig_core::kpi::summary(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpf_is_masked_cnpj_is_not() {
        assert_eq!(
            mask_tax_id(&"529.982.247-25".parse().unwrap()),
            "***.982.247-**"
        );
        assert_eq!(
            mask_tax_id(&"12ABC34501DE35".parse().unwrap()),
            "12.ABC.345/01DE-35"
        );
    }

    #[test]
    fn kpis_from_statuses_and_times() {
        use chrono::{Duration, Utc};
        let now = Utc::now();
        let mk = |status, ms: i64, held: u64| {
            let mut i = Integration::new(
                "c".parse().unwrap(),
                sig_core::ports::SourceKey {
                    account: "a".into(),
                    proposal_id: format!("{ms}{held}"),
                },
                sig_core::store::Actor::System,
                now,
            );
            i.status = status;
            i.finished_at = Some(now + Duration::milliseconds(ms));
            i.held_ms = held;
            i
        };
        let all = vec![
            mk(IntegrationStatus::Done, 100, 0),
            mk(IntegrationStatus::Done, 300, 100),
            mk(IntegrationStatus::Done, 1000, 0),
            mk(IntegrationStatus::Failed, 50, 0),
            mk(IntegrationStatus::Held, 0, 0),
        ];
        let k = kpis(&all);
        assert_eq!((k.total, k.done, k.failed, k.held), (5, 3, 1, 1));
        assert_eq!(k.success_rate, Some(0.75));
        assert_eq!(k.mean_integration_ms, Some(1300.0 / 3.0));
        assert_eq!(k.median_integration_ms, Some(200));
        assert_eq!(k.p95_integration_ms, Some(1000));
    }
}
