//! `e2e_bench` — end-to-end integrations per second: approved DocSales proposals become Omie
//! customers and contracts and NextBilling customers, lines and DIDs, through the real
//! pipeline, the real clients over loopback HTTP and the SQLite store with its documented
//! durability (WAL, `synchronous = NORMAL`), against sandboxes that answer at once with every
//! limit off (the sandboxes' and the Omie client's). What is measured is SIG's own cost per
//! integration: the upstream systems' latency and limits are what a real run adds.
//!
//! ```sh
//! cargo build --release -p sig-examples --bins
//! target/release/e2e_bench --proposals 2000 --concurrency 64
//! ```
//!
//! Prints one JSON object: integrations, elapsed seconds (intake and integration separately),
//! integrations per second, the process's CPU per integration and cores busy while
//! integrating (steadier than the rate when other work shares the machine), upstream requests
//! and creates per integration, and the duplicates the sandboxes counted (always 0). Exits 1
//! if any integration did not end done or anything was created twice.
//!
//! `http_baseline` is measured in the same run, after the integrations: as many bare HTTP
//! exchanges over loopback as the integrations made (a small JSON body each way, a reqwest
//! client and an axum server on the same runtime), as many at once. Its
//! `integrations_per_s_if_only_http` is the rate the integrations would reach if their HTTP
//! exchanges were all they cost, and `integrations_per_s_ratio` how close they come to it.

use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use serde_json::json;
use sig_cli::cmd::demo::DEMO_CONFIG;
use sig_cli::runtime::{Runtime, open_store};
use sig_cli::sample::{SampleSpec, generated_proposals};
use sig_cli::sandboxes::{DemoOptions, DemoSandboxes, GeneratedSecrets};
use sig_core::ProposalStatus;
use sig_core::config::{Config, StoreConfig};
use sig_core::ports::SourceKey;
use sig_core::store::{Actor, IntegrationFilter, IntegrationStatus};

/// End-to-end integrations per second against zero-latency sandboxes.
#[derive(Debug, Parser)]
struct Args {
    /// Approved proposals to integrate.
    #[arg(long, default_value_t = 2000)]
    proposals: usize,
    /// Integrations in flight at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Seed of the generated proposals.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// Also measure the bare-HTTP baseline (`--baseline false` to skip it).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    baseline: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(clean) if clean => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(e) => {
            eprintln!("e2e_bench: {e}");
            ExitCode::from(1)
        }
    }
}

async fn run(args: Args) -> Result<bool, String> {
    let dir = std::env::temp_dir().join(format!(
        "sig-e2e-bench-{}-{}",
        std::process::id(),
        sig_core::ids::IntegrationId::new()
    ));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    // Removed on every way out, an early error included (the store alone can be 100 MB).
    let folder = sig_cli::fixtures::TempDir(dir);
    let dir = folder.0.as_path();

    // The demo configuration with room for every order on every server.
    let mut doc: toml::Table = DEMO_CONFIG.parse().map_err(|e| format!("{e}"))?;
    if let Some(toml::Value::Array(servers)) = doc.get_mut("servers") {
        for s in servers.iter_mut().filter_map(toml::Value::as_table_mut) {
            s.insert("capacity_lines".into(), toml::Value::Integer(10_000_000));
            s.insert("capacity_channels".into(), toml::Value::Integer(10_000_000));
        }
    }
    let text = toml::to_string(&doc).map_err(|e| e.to_string())?;
    let secrets = GeneratedSecrets::default();
    let mut config = Config::from_toml(&text, dir, &secrets).map_err(|e| e.to_string())?;

    let mut spec = SampleSpec::demo(args.proposals, args.seed);
    spec.area_codes = vec![11, 19, 21, 31, 41, 71, 81];
    let proposals = generated_proposals(&spec);
    let options = DemoOptions {
        unlimited: true,
        ..DemoOptions::demo()
    };
    let sb = DemoSandboxes::from_config(&config, &proposals, options).await?;
    sb.point_config(&mut config).map_err(|e| e.to_string())?;
    let db = dir.join("bench.sqlite");
    config.store = StoreConfig::Sqlite(db.clone());
    let store = open_store(&config).map_err(|e| e.to_string())?;
    let settings = sig_core::pipeline::Settings {
        concurrency: args.concurrency,
        ..config.pipeline.clone()
    };
    let rt = Runtime::build_with(
        &config,
        store.clone(),
        settings,
        Some(sig_omie::LimitsConfig::unlimited()),
    )
    .await
    .map_err(|e| e.to_string())?;
    let company = config
        .companies
        .first()
        .ok_or("the demo configuration has no company")?
        .id
        .clone();
    let account = config.companies[0].docsales_account.to_string();

    // Intake, as the webhook endpoint does it (one durable write per approval).
    let t0 = Instant::now();
    for p in &proposals {
        let id = p["document"]["id"]
            .as_u64()
            .ok_or("a generated proposal has no id")?;
        rt.pipeline
            .intake(
                &company,
                SourceKey {
                    account: account.clone(),
                    proposal_id: id.to_string(),
                },
                &ProposalStatus::Approved,
                Actor::Webhook(account.clone()),
                None,
            )
            .await
            .map_err(|e| e.to_string())?;
    }
    let intake_s = t0.elapsed().as_secs_f64();

    // Integration: every step, journaled before the next.
    let t1 = Instant::now();
    let cpu1 = process_cpu_s();
    rt.run_until_idle().await.map_err(|e| e.to_string())?;
    let integrate_s = t1.elapsed().as_secs_f64();
    // CPU the whole process (pipeline, clients, sandboxes, store) spent integrating: steadier
    // than the rate on a shared machine, and what bounds it (2 cores = 2 s of CPU per second).
    let integrate_cpu_s = process_cpu_s().zip(cpu1).map(|(b, a)| b - a);

    let all = store
        .list(&IntegrationFilter::default())
        .await
        .map_err(|e| e.to_string())?;
    let done = all
        .iter()
        .filter(|i| i.status == IntegrationStatus::Done)
        .count();
    // Where the time goes: mean duration per step kind, from the audit trail.
    let events = store
        .audit(&sig_core::store::AuditFilter {
            action_prefix: Some("step.".into()),
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?;
    let mut per_step: std::collections::BTreeMap<String, (u64, u64)> = Default::default();
    for e in &events {
        if let Some(ms) = e.duration_ms {
            let kind = sig_core::pipeline::step_kind(e.action.trim_start_matches("step."));
            let entry = per_step.entry(kind.to_owned()).or_default();
            entry.0 += ms;
            entry.1 += 1;
        }
    }
    let step_ms_mean: serde_json::Map<String, serde_json::Value> = per_step
        .into_iter()
        .map(|(k, (sum, n))| (k, json!(sum as f64 / n.max(1) as f64)))
        .collect();
    let upstream = sb.upstream_counts();
    let requests = sb.upstream_requests();
    let omie_stats = sb.omie.stats();
    let duplicates: u64 = upstream.values().map(|c| c.duplicates).sum();
    let creates: u64 = upstream
        .values()
        .map(|c| c.creates.values().sum::<u64>())
        .sum();
    let n = proposals.len() as f64;
    sb.shutdown().await;

    // The baseline, in the same process and run: as many bare HTTP exchanges over loopback
    // (a small JSON body each way, parsed on both sides) as the integrations made, as many at
    // once. What the integrations cost beyond them is SIG's own work and the sandboxes'.
    let baseline = if args.baseline {
        let b = http_baseline(requests, args.concurrency).await?;
        let per_integration = requests as f64 / n;
        let http_only = b.exchanges_per_s / per_integration;
        Some(json!({
            "exchanges": requests,
            "exchanges_per_integration": per_integration,
            "exchanges_per_s": b.exchanges_per_s,
            "cpu_us_per_exchange": b.cpu_s.map(|c| c * 1e6 / requests.max(1) as f64),
            "cores_busy": b.cpu_s.map(|c| c / b.elapsed_s),
            "integrations_per_s_if_only_http": http_only,
            "integrations_per_s_ratio": (n / integrate_s) / http_only,
        }))
    } else {
        None
    };

    let out = json!({
        "proposals": proposals.len(),
        "done": done,
        "concurrency": args.concurrency,
        "store": "sqlite, WAL, synchronous=NORMAL",
        "limits": "off (sandboxes and Omie client)",
        "intake_s": intake_s,
        "integrate_s": integrate_s,
        "integrations_per_s": n / integrate_s,
        "cpu_ms_per_integration": integrate_cpu_s.map(|c| c * 1000.0 / n),
        "cores_busy": integrate_cpu_s.map(|c| c / integrate_s),
        "end_to_end_per_s": n / (intake_s + integrate_s),
        "upstream_requests": requests,
        "upstream_requests_per_integration": requests as f64 / n,
        "http_baseline": baseline,
        "upstream_creates": creates,
        "upstream_creates_per_integration": creates as f64 / n,
        "duplicates_upstream": duplicates,
        "step_ms_mean": step_ms_mean,
        "omie_sandbox": omie_stats,
        "cores": std::thread::available_parallelism().map_or(1, |n| n.get()),
    });
    println!("{out}");
    drop(rt);
    Ok(done == proposals.len() && duplicates == 0)
}

/// User + system CPU seconds of this process so far, from `/proc/self/stat` (Linux; `None`
/// elsewhere). The times are in clock ticks of `USER_HZ`, which Linux fixes at 100 for
/// user space.
fn process_cpu_s() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces, so split after its ')').
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

/// What the bare-HTTP baseline measured.
struct Baseline {
    elapsed_s: f64,
    cpu_s: Option<f64>,
    exchanges_per_s: f64,
}

/// `exchanges` bare HTTP/1.1 exchanges over loopback, `concurrency` at once, on this runtime:
/// a reqwest client (one pool, keep-alive) posting a JSON body of about 300 bytes to an axum
/// server that parses it and answers a small JSON object, which the client parses.
async fn http_baseline(exchanges: u64, concurrency: usize) -> Result<Baseline, String> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    let router = axum::Router::new().route(
        "/api/echo",
        axum::routing::post(
            |axum::Json(body): axum::Json<serde_json::Value>| async move {
                let n = body.as_object().map_or(0, serde_json::Map::len);
                axum::Json(json!({"status": "ok", "id": 4021, "fields": n}))
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
        .await
        .map_err(|e| e.to_string())?;
    let url = format!(
        "http://{}/api/echo",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    let client = reqwest::Client::builder()
        .build()
        .map_err(|e| e.to_string())?;
    let body = json!({
        "id_cliente": 1182, "username": "sig-01a2164e7f3c7d2a9b1e0c4d5f6a7b8c",
        "secret": "0123456789abcdef0123456789abcdef", "callerid": "1134567000",
        "rate_id": 3, "channels": 4, "description": "SIG line 01a2164e-7f3c-7d2a-9b1e-0c4d5f6a7b8c",
        "codecs": ["g729", "alaw", "ulaw"], "nat": 1, "dtmf": "rfc2833", "area_code": 11,
    });
    let left = Arc::new(AtomicU64::new(exchanges));
    let t0 = Instant::now();
    let cpu0 = process_cpu_s();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let (client, url, body, left) = (client.clone(), url.clone(), body.clone(), left.clone());
        tasks.spawn(async move {
            while left
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok()
            {
                let answer: serde_json::Value = client
                    .post(&url)
                    .json(&body)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?
                    .json()
                    .await
                    .map_err(|e| e.to_string())?;
                if answer["status"] != "ok" {
                    return Err(format!("unexpected answer {answer}"));
                }
            }
            Ok::<(), String>(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.map_err(|e| e.to_string())??;
    }
    let elapsed_s = t0.elapsed().as_secs_f64();
    let cpu_s = process_cpu_s().zip(cpu0).map(|(b, a)| b - a);
    server.abort();
    Ok(Baseline {
        elapsed_s,
        cpu_s,
        exchanges_per_s: exchanges as f64 / elapsed_s,
    })
}
