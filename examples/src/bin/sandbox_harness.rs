//! `sandbox_harness` — the vendor sandboxes and a `sig.toml` pointing at them, for test
//! suites outside Rust (the Python bindings' pytest): it starts Omie (limit windows scaled
//! ×0.01), NextBilling (servers `sp1`, `rj1`) and DocSales on loopback, writes `sig.toml` in
//! a temporary folder (users: ana admin, bruno operator, carla finance, vera viewer), prints
//! one JSON line, and serves until its standard input closes:
//!
//! ```json
//! {"config": "/tmp/…/sig.toml", "env": {"DEMO_OMIE_APP_KEY": "…", …},
//!  "omie": "http://127.0.0.1:…/", "docsales": "http://127.0.0.1:…/"}
//! ```
//!
//! `env` holds the secrets `sig.toml` reads (sandbox credentials, nothing real) and the
//! window scale; each sandbox's `/_sandbox/state` gives its records and create counters.
//! With `--seed-omie TAX_ID` (repeatable) those customers exist in Omie before anything runs.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use clap::Parser;
use serde_json::json;
use sig_cli::fixtures::{Harness, seed_omie};

/// Serve the sandboxes until stdin closes.
#[derive(Debug, Parser)]
struct Args {
    /// A CPF/CNPJ to put in Omie first (as a legacy system would have), repeatable.
    #[arg(long = "seed-omie", value_name = "TAX_ID")]
    seed_omie: Vec<String>,
}

async fn serve(args: Args) -> Result<(), String> {
    let h = Harness::start("harness").await;
    seed_omie(&h, &args.seed_omie).await;
    let env = h.secrets.clone();
    let line = json!({
        "config": h.config_path,
        "env": env,
        "omie": h.sb.omie.base_url(),
        "docsales": h.sb.docsales.base_url(),
    });
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").map_err(|e| e.to_string())?;
    out.flush().map_err(|e| e.to_string())?;
    drop(out);
    // Serve until stdin closes.
    tokio::task::spawn_blocking(|| {
        let stdin = std::io::stdin();
        for l in stdin.lock().lines() {
            if l.is_err() {
                break;
            }
        }
    })
    .await
    .map_err(|e| e.to_string())?;
    h.sb.shutdown().await;
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sandbox_harness: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sandbox_harness: {e}");
            ExitCode::from(1)
        }
    }
}
