//! `sig demo` — the whole first flow on the embedded default: the Omie, NextBilling and
//! DocSales sandboxes start in-process, the shipped sample proposals are approved in the
//! DocSales sandbox and delivered as webhooks (with duplicates, out of order) to SIG's webhook
//! endpoint, the pipeline integrates them on an SQLite file, and a summary is printed: each
//! proposal's outcome, the Omie and Next ids, the chosen server and why, the field errors of
//! the held ones, and the KPIs. `--json` prints the same as one JSON document.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use serde_json::{Value, json};
use sig_core::config::Config;
use sig_core::store::IntegrationFilter;

use crate::report::{integration_links, integration_report, kpis, link_line};
use crate::runtime::{Runtime, open_store};
use crate::sandboxes::{DemoOptions, DemoSandboxes, GeneratedSecrets};
use crate::{CliError, Outcome};
use sig_core::links::{Link, LinkTargets};

/// The demo's configuration, shipped in the repo.
pub const DEMO_CONFIG: &str = include_str!("../../demo/sig.toml");
/// The demo's sample DocSales proposals (a JSON array of documents), shipped in the repo.
pub const DEMO_PROPOSALS: &str = include_str!("../../demo/proposals.json");

/// `sig demo` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print one JSON document instead of the human summary.
    #[arg(long)]
    json: bool,
    /// The SQLite file to use (default: a new file in the temporary folder).
    #[arg(long, value_name = "FILE")]
    db: Option<PathBuf>,
}

/// Run the demo.
pub async fn run(args: Args) -> Result<Outcome, CliError> {
    let started = Instant::now();
    let proposals: Vec<Value> = serde_json::from_str(DEMO_PROPOSALS)
        .map_err(|e| CliError::Failed(format!("the shipped demo proposals do not parse: {e}")))?;

    // 1. The demo configuration, with made-up credentials, and the sandboxes it points at
    //    (in-process on loopback, accepting exactly those credentials).
    let secrets = GeneratedSecrets::default();
    let mut config = Config::from_toml(DEMO_CONFIG, std::path::Path::new("."), &secrets)
        .map_err(|e| CliError::Failed(format!("the demo configuration is invalid: {e}")))?;
    let sb = DemoSandboxes::from_config(&config, &proposals, DemoOptions::demo())
        .await
        .map_err(|e| CliError::Failed(format!("cannot start the sandboxes: {e}")))?;

    // 2. The configuration pointed at the sandboxes, on its own SQLite file.
    let db = match args.db {
        Some(p) => p,
        None => std::env::temp_dir().join(format!("sig-demo-{}.sqlite", uuid_suffix())),
    };
    sb.point_config(&mut config)?;
    config.store = sig_core::config::StoreConfig::Sqlite(db.clone());
    let store = open_store(&config)?;
    let rt = Runtime::build(&config, store.clone(), config.pipeline.clone()).await?;

    // 3. SIG's webhook endpoint, and DocSales delivering approvals to it.
    let endpoint = crate::webhook_http::serve_local(&config, rt.pipeline.clone())
        .await
        .map_err(|e| CliError::Failed(format!("cannot start the webhook endpoint: {e}")))?;
    let deliveries = sb
        .deliver_webhooks(&endpoint.url_for("demo", &sb.webhook_secret()))
        .await
        .map_err(|e| CliError::Failed(format!("webhook delivery: {e}")))?;

    // 4. Integrate everything.
    rt.run_until_idle().await?;
    endpoint.shutdown().await;

    // 5. Report.
    let all = store
        .list(&IntegrationFilter::default())
        .await
        .map_err(|e| CliError::Failed(format!("cannot read the store: {e}")))?;
    let targets = LinkTargets::from_config(&config);
    let mut reports = Vec::new();
    for i in &all {
        let read = |e| CliError::Failed(format!("cannot read the store: {e}"));
        let mut r = integration_report(store.as_ref(), i).await.map_err(read)?;
        r.links = integration_links(store.as_ref(), i, &targets)
            .await
            .map_err(read)?;
        reports.push(r);
    }
    reports.sort_by(|a, b| a.proposal.cmp(&b.proposal));
    let k = kpis(&all);
    let upstream = sb.upstream_counts();
    let duplicates_upstream: u64 = upstream.values().map(|c| c.duplicates).sum();
    let ignored = store
        .audit(&sig_core::store::AuditFilter {
            action_prefix: Some("notification.ignored".into()),
            ..Default::default()
        })
        .await
        .map_err(|e| CliError::Failed(format!("cannot read the store: {e}")))?;
    let elapsed_ms = started.elapsed().as_millis() as u64;
    sb.shutdown().await;

    let doc = json!({
        "proposals": proposals.len(),
        "webhooks_delivered": deliveries,
        "integrations": all.len(),
        "ignored_notifications": ignored.len(),
        "done": k.done,
        "failed": k.failed,
        "held": k.held,
        "pending": k.pending,
        "duplicates_upstream": duplicates_upstream,
        "upstream_creates": upstream,
        "kpis": k,
        "store": db.display().to_string(),
        "elapsed_ms": elapsed_ms,
        "results": reports,
    });
    if args.json {
        println!("{doc}");
    } else {
        print_human(&doc);
    }
    let clean = k.failed == 0 && k.held == 0 && duplicates_upstream == 0 && k.pending == 0;
    Ok(if clean {
        Outcome::Clean
    } else {
        Outcome::Findings
    })
}

fn uuid_suffix() -> String {
    sig_core::ids::IntegrationId::new().to_string()
}

fn print_human(doc: &Value) {
    println!("SIG VoIP demo — DocSales → Omie → NextBilling, on sandboxes and SQLite\n");
    println!(
        "{} sample proposals, {} webhook deliveries (duplicates included), {} integrations, {} notifications ignored (not approved)\n",
        doc["proposals"],
        doc["webhooks_delivered"],
        doc["integrations"],
        doc["ignored_notifications"]
    );
    if let Some(results) = doc["results"].as_array() {
        for r in results {
            let code = r["code"].as_str().unwrap_or("-");
            println!(
                "■ proposal {} ({code}) — {} — customer {}",
                r["proposal"].as_str().unwrap_or("?"),
                r["status"].as_str().unwrap_or("?"),
                r["tax_id"].as_str().unwrap_or("-")
            );
            if !r["omie"]["customer"].is_null() {
                let adopted = if r["omie"]["adopted"] == json!(true) {
                    " (adopted)"
                } else {
                    ""
                };
                println!(
                    "    Omie customer {}{adopted}, contracts {}",
                    r["omie"]["customer"], r["omie"]["contracts"]
                );
            }
            for (i, o) in r["orders"].as_array().into_iter().flatten().enumerate() {
                if o["server"].is_null() {
                    continue;
                }
                println!(
                    "    order {i}: {} in DDD {} → {} — {}",
                    o["plan"].as_str().unwrap_or("?"),
                    o["area_code"],
                    o["server"].as_str().unwrap_or("?"),
                    o["why"].as_str().unwrap_or("")
                );
                println!(
                    "             Next customer {}, lines {}, DIDs {}",
                    o["next_customer"],
                    o["lines"].as_array().map_or(0, |l| l.len()),
                    o["dids"].as_array().map_or(0, |l| l.len())
                );
            }
            for p in r["problems"].as_array().into_iter().flatten() {
                let src = p["source_field"]
                    .as_str()
                    .map(|s| format!(" [DocSales {s}]"))
                    .unwrap_or_default();
                println!(
                    "    ✗ {}: {} ({}){src}",
                    p["field"].as_str().unwrap_or("?"),
                    p["message"].as_str().unwrap_or(""),
                    p["code"].as_str().unwrap_or("")
                );
            }
            for l in r["links"].as_array().into_iter().flatten() {
                if let Ok(l) = serde_json::from_value::<Link>(l.clone()) {
                    println!("    → {}", link_line(&l));
                }
            }
            if !r["failure"].is_null() {
                println!(
                    "    ✗ failed at {}: {}",
                    r["failure"]["step"], r["failure"]["reason"]
                );
            }
        }
    }
    let k = &doc["kpis"];
    let pct = |v: &Value| {
        v.as_f64()
            .map_or("-".to_owned(), |x| format!("{:.1} %", x * 100.0))
    };
    println!(
        "\nKPIs: {} done, {} failed, {} held; success rate {}, failure rate {}; mean integration time {} ms (median {}, p95 {})",
        doc["done"],
        doc["failed"],
        doc["held"],
        pct(&k["success_rate"]),
        pct(&k["failure_rate"]),
        k["mean_integration_ms"]
            .as_f64()
            .map_or("-".into(), |x| format!("{x:.0}")),
        k["median_integration_ms"],
        k["p95_integration_ms"]
    );
    println!(
        "Records created more than once upstream: {}",
        doc["duplicates_upstream"]
    );
    println!(
        "Store: {}   ({} ms)",
        doc["store"].as_str().unwrap_or(""),
        doc["elapsed_ms"]
    );
}

/// Creates per kind in one upstream system, from a sandbox's counters.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct UpstreamCount {
    /// Successful creates per kind.
    pub creates: BTreeMap<String, u64>,
    /// Creates beyond the first per natural key, summed over kinds.
    pub duplicates: u64,
}
