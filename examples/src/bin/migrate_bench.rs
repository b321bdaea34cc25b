//! `migrate_bench` — rows per second of `sig migrate`, dry run and applied, on the in-process
//! sandboxes with Omie's limit windows scaled, as a person would run it: the `sig` binary
//! built next to this one is run as a child process on a seeded CSV.
//!
//! ```sh
//! cargo build --release -p sig-examples --bins
//! target/release/migrate_bench --rows 10000 --scale 0.01
//! ```
//!
//! Prints one JSON object: the rows, the windows used, and each run's summary (rows per
//! second, elapsed time, outcomes), plus the upstream creates and duplicates (always 0).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use serde_json::{Value, json};
use sig_cli::fixtures::{Harness, generate, seed_omie, write};

/// Rows per second of `sig migrate` against the sandboxes.
#[derive(Debug, Parser)]
struct Args {
    /// Data rows in the generated file.
    #[arg(long, default_value_t = 10_000)]
    rows: usize,
    /// Seed of the generator.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// Share of the good customers already in Omie.
    #[arg(long, default_value_t = 0.03)]
    in_omie: f64,
    /// Rows registered before the pipeline integrates them.
    #[arg(long, default_value_t = 256)]
    chunk: usize,
    /// Integrations in flight at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
}

fn run_sig(h: &Harness, sig: &std::path::Path, extra: &[&str]) -> Result<Value, String> {
    let out = h
        .sig_at(sig)
        .args(["migrate", "--config"])
        .arg(&h.config_path)
        .arg(h.path("bench.csv"))
        .args(["--as", "bruno", "--json"])
        .args(extra)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", sig.display()))?;
    if !out.status.success() {
        return Err(format!(
            "sig migrate exited {:?}: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["type"] == "summary")
        .ok_or_else(|| "no summary line".to_owned())
}

fn sig_binary() -> Result<PathBuf, String> {
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let sig = me
        .parent()
        .map(|d| d.join(format!("sig{}", std::env::consts::EXE_SUFFIX)))
        .ok_or("no folder")?;
    if sig.exists() {
        Ok(sig)
    } else {
        Err(format!(
            "{} not found: build both with `cargo build --release -p sig-examples --bins`",
            sig.display()
        ))
    }
}

async fn bench(args: Args) -> Result<Value, String> {
    let sig = sig_binary()?;
    let h = Harness::start("bench").await;
    let g = generate(args.rows, args.seed, args.in_omie);
    write(&h.path("bench.csv"), &g.csv);
    seed_omie(&h, &g.in_omie).await;
    let chunk = args.chunk.to_string();
    let conc = args.concurrency.to_string();
    let dry = run_sig(&h, &sig, &[])?;
    let applied = run_sig(
        &h,
        &sig,
        &["--apply", "--chunk", &chunk, "--concurrency", &conc],
    )?;
    let repeat = run_sig(&h, &sig, &["--apply"])?;
    let (creates, duplicates) = h.creates();
    let scale = sig_cli::fixtures::OMIE_SCALE;
    Ok(json!({
        "rows": args.rows,
        "good_rows": g.good.len(),
        "bad_rows": g.bad.len(),
        "duplicate_rows": g.duplicates.len(),
        "in_omie": g.in_omie.len(),
        "windows": {
            "omie_scale": scale,
            "omie_rate_window_ms": 60_000.0 * scale,
            "omie_requests_per_window_per_method": 240,
            "omie_requests_per_window": 960,
            "omie_methods_in_flight": 4,
            "omie_writes_in_flight_per_method": 1,
            "nextbilling": "no limits (sandbox)",
            "store": "SQLite file (WAL)"
        },
        "dry_run": dry,
        "apply": applied,
        "repeat": repeat,
        "upstream_creates": creates,
        "upstream_duplicates": duplicates,
    }))
}

fn main() -> ExitCode {
    let args = Args::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("migrate_bench: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(bench(args)) {
        Ok(v) => {
            println!("{v}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("migrate_bench: {e}");
            ExitCode::from(1)
        }
    }
}
