//! Benchmark: how close the client runs to Omie's per-method ceiling without ever being
//! blocked, and how little memory streaming a large customer list takes.
//!
//! ```text
//! cargo run -p sig-omie --features sandbox --example omie_bench -- [--scale 0.05] [--windows 12] [--stream 100000]
//! ```
//!
//! The sandbox runs in a separate process: this binary re-executes itself with `--serve`,
//! the child prints its announce JSON line on stdout and serves until its stdin closes. The
//! parent then
//! 1. bulk-upserts new customers through the Erp port for `--windows` limit windows and
//!    reports the UpsertCliente rate achieved after the first window (the burst left out)
//!    divided by the configured ceiling (240 per window), and every block or rate refusal seen;
//! 2. streams every customer of the sandbox (seeded with `--stream` customers) page by page
//!    and reports its own peak resident memory (VmHWM).
//!
//! Figures are printed as JSON lines.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use futures::StreamExt;
use secrecy::SecretString;
use serde_json::{Value, json};
use sig_core::ids::CustomerId;
use sig_core::ports::{Erp, UpstreamErrorKind};
use sig_omie::sandbox::{OmieSandbox, OmieSandboxConfig, SANDBOX_APP_KEY, SANDBOX_APP_SECRET};
use sig_omie::wire::clientes::ListarClientes;
use sig_omie::{LimitsConfig, OmieClient, OmieErp, RetryConfig};
use tokio::time::Instant;

type Error = Box<dyn std::error::Error + Send + Sync>;

struct Args {
    serve: bool,
    scale: f64,
    windows: u32,
    stream: usize,
    workers: usize,
}

fn args() -> Result<Args, Error> {
    let mut a = Args {
        serve: false,
        scale: 0.05,
        windows: 12,
        stream: 100_000,
        workers: 8,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--serve" => a.serve = true,
            "--scale" => a.scale = value()?.parse()?,
            "--windows" => a.windows = value()?.parse()?,
            "--stream" => a.stream = value()?.parse()?,
            "--workers" => a.workers = value()?.parse()?,
            other => return Err(format!("unknown argument `{other}`").into()),
        }
    }
    if a.windows < 11 {
        return Err("--windows must be at least 11 (10 measured after the first)".into());
    }
    Ok(a)
}

/// Child: serve a sandbox until stdin closes.
async fn serve(a: &Args) -> Result<(), Error> {
    let mut config = OmieSandboxConfig::scaled(a.scale);
    config.seed_customers = a.stream;
    let sandbox = OmieSandbox::start(config).await?;
    let mut out = std::io::stdout();
    writeln!(out, "{}", sandbox.announce())?;
    out.flush()?;
    // Serve until the parent closes our stdin (or exits).
    let _ = tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink)
    })
    .await;
    sandbox.shutdown().await;
    Ok(())
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn customer(i: usize) -> Result<sig_core::Customer, Error> {
    // A valid CPF from the index (check digits computed).
    let base = format!("{:09}", 100_000_000 + i);
    let mut d: Vec<u32> = base.chars().filter_map(|c| c.to_digit(10)).collect();
    for len in [9usize, 10] {
        let sum: u32 = d
            .iter()
            .take(len)
            .enumerate()
            .map(|(k, x)| x * (len as u32 + 1 - k as u32))
            .sum();
        let r = sum % 11;
        d.push(if r < 2 { 0 } else { 11 - r });
    }
    let cpf: String = d.iter().map(u32::to_string).collect();
    Ok(serde_json::from_value(json!({
        "tax_id": cpf,
        "legal_name": format!("CLIENTE BENCH {i}"),
        "emails": ["bench@example.com.br"],
        "phones": ["+551132145678"],
        "address": {"street": "Av Paulista", "number": "1000", "district": "Bela Vista",
                    "city": "São Paulo", "uf": "SP", "cep": "01310100"}
    }))?)
}

async fn parent(a: &Args) -> Result<(), Error> {
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .args([
            "--serve",
            "--scale",
            &a.scale.to_string(),
            "--stream",
            &a.stream.to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no child stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let announce: Value = serde_json::from_str(&line)?;
    let base_url = announce["base_url"]
        .as_str()
        .ok_or("no base_url announced")?
        .to_owned();
    println!(
        "{}",
        json!({"phase": "sandbox", "pid": child.id(), "announce": announce})
    );

    let limits = LimitsConfig::scaled(a.scale);
    let window = limits.window;
    let ceiling = f64::from(limits.method_requests) / window.as_secs_f64();
    let client = OmieClient::builder(
        SecretString::from(SANDBOX_APP_KEY),
        SecretString::from(SANDBOX_APP_SECRET),
    )
    .account_id("bench")
    .base_url(base_url.clone())
    .limits(limits.clone())
    .retry(RetryConfig::scaled(a.scale))
    .attempt_timeout(Duration::from_secs(10))
    .deadline(Duration::from_secs(60))
    .build()?;
    let erp = Arc::new(OmieErp::new(client.clone()));

    // 1. Bulk upserts for `windows` windows; measure after the first.
    let start = Instant::now();
    let measure_from = start + window;
    let end = start + window * a.windows;
    let next = Arc::new(AtomicUsize::new(0));
    let measured = Arc::new(AtomicU64::new(0));
    let total = Arc::new(AtomicU64::new(0));
    let blocks = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..a.workers {
        let (erp, next, measured, total, blocks, errors) = (
            Arc::clone(&erp),
            Arc::clone(&next),
            Arc::clone(&measured),
            Arc::clone(&total),
            Arc::clone(&blocks),
            Arc::clone(&errors),
        );
        tasks.push(tokio::spawn(async move {
            while Instant::now() < end {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Ok(c) = customer(i) else {
                    errors.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                match erp.upsert_customer(CustomerId::new(), &c, None).await {
                    Ok(_) => {
                        let now = Instant::now();
                        total.fetch_add(1, Ordering::Relaxed);
                        if now > measure_from && now <= end {
                            measured.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Err(e) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        if matches!(
                            e.kind,
                            UpstreamErrorKind::Blocked | UpstreamErrorKind::RateLimited
                        ) {
                            blocks.fetch_add(1, Ordering::Relaxed);
                            if e.kind == UpstreamErrorKind::Blocked {
                                eprintln!("blocked: {e}");
                                break;
                            }
                        }
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let span = (end - measure_from).as_secs_f64();
    let achieved = measured.load(Ordering::Relaxed) as f64 / span;
    let state: Value = reqwest::get(format!("{base_url}_sandbox/state"))
        .await?
        .json()
        .await?;
    println!(
        "{}",
        json!({
            "phase": "bulk_upsert",
            "scale": a.scale,
            "window_s": window.as_secs_f64(),
            "windows_run": a.windows,
            "windows_measured": a.windows - 1,
            "ceiling_per_s": ceiling,
            "achieved_per_s": achieved,
            "ratio": achieved / ceiling,
            "upserts_ok": total.load(Ordering::Relaxed),
            "errors": errors.load(Ordering::Relaxed),
            "blocks_seen": blocks.load(Ordering::Relaxed),
            "breaker_open": client.breaker_state().is_some(),
            "sandbox_stats": state["records"]["stats"],
        })
    );

    // 2. Stream every customer.
    let t = Instant::now();
    let before = peak_rss_kib();
    let mut n = 0usize;
    let mut stream = std::pin::pin!(client.stream(ListarClientes::default()));
    while let Some(item) = stream.next().await {
        let c = item?;
        n += usize::from(c.codigo_cliente_omie.is_some());
    }
    let peak = peak_rss_kib();
    println!(
        "{}",
        json!({
            "phase": "stream",
            "customers": n,
            "seconds": t.elapsed().as_secs_f64(),
            "peak_rss_mib_before_stream": before.map(|k| k as f64 / 1024.0),
            "peak_rss_mib": peak.map(|k| k as f64 / 1024.0),
            "target_mib": 64,
        })
    );

    drop(child.stdin.take());
    let _ = child.wait();
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let a = args()?;
    if a.serve {
        serve(&a).await
    } else {
        parent(&a).await
    }
}
