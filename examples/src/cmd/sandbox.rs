//! `sig sandbox` — serve the vendor sandboxes a configuration points at, on loopback ports,
//! for people and for tests that kill the pipeline (the fiscal providers too when a company's
//! `fiscal` policy is not `off`).
//!
//! The sandboxes accept the credentials `sig.toml` resolves (from its environment variables
//! or files), so nothing secret is printed: one JSON line per sandbox (`system`, `account` or
//! `server`, `base_url`), then `{"event": "ready"}`. `--write-config OUT` writes a copy of the
//! configuration with every base URL pointed at the sandboxes (relative paths made absolute),
//! ready for `sig sync --config OUT`. `--seed FILE` stores DocSales documents (a JSON array,
//! like `examples/demo/proposals.json`) as approved proposals; `--seed-demo` stores the demo's.
//! Runs until SIGINT/SIGTERM.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::runtime::load_config;
use crate::sandboxes::{DemoOptions, DemoSandboxes};
use crate::{CliError, Outcome};

/// `sig sandbox` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The configuration whose accounts and servers are served.
    #[arg(long, value_name = "FILE", env = "SIG_CONFIG")]
    config: PathBuf,
    /// Write a copy of the configuration pointed at the sandboxes.
    #[arg(long, value_name = "OUT")]
    write_config: Option<PathBuf>,
    /// DocSales documents to store as approved proposals (a JSON array).
    #[arg(long, value_name = "FILE")]
    seed: Option<PathBuf>,
    /// Store the demo's sample proposals.
    #[arg(long)]
    seed_demo: bool,
    /// Scale of Omie's limit windows (1.0 = Omie's real 60 s windows and 30 min block).
    #[arg(long, value_name = "SCALE", default_value_t = 1.0)]
    omie_scale: f64,
}

/// Run `sig sandbox`.
pub async fn run(args: Args) -> Result<Outcome, CliError> {
    if !(args.omie_scale > 0.0 && args.omie_scale.is_finite()) {
        return Err(CliError::Usage(format!(
            "--omie-scale must be a positive number, not {}",
            args.omie_scale
        )));
    }
    let mut config = load_config(&args.config)?;
    let mut proposals: Vec<Value> = Vec::new();
    if args.seed_demo {
        proposals.extend(demo_proposals()?);
    }
    if let Some(path) = &args.seed {
        let text = std::fs::read_to_string(path)
            .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))?;
        let docs: Vec<Value> = serde_json::from_str(&text)
            .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?;
        proposals.extend(docs);
    }
    let options = DemoOptions {
        omie_scale: args.omie_scale,
        ..DemoOptions::demo()
    };
    let sb = DemoSandboxes::from_config(&config, &proposals, options)
        .await
        .map_err(CliError::Failed)?;
    sb.point_config(&mut config)?;

    for (id, a) in &config.omie_accounts {
        println!(
            "{}",
            json!({"system": "omie", "account": id, "base_url": a.base_url})
        );
    }
    for (id, a) in &config.docsales_accounts {
        println!(
            "{}",
            json!({"system": "docsales", "account": id, "base_url": a.base_url, "proposals": proposals.len()})
        );
    }
    for s in &config.servers {
        println!(
            "{}",
            json!({"system": "nextbilling", "server": s.id, "base_url": s.base_url})
        );
    }
    if let Some(f) = &sb.fiscal {
        println!(
            "{}",
            json!({"system": "fiscal", "base_url": f.server().base_url(), "providers": config.fiscal.base_urls})
        );
    }
    if let Some(out) = &args.write_config {
        let text = std::fs::read_to_string(&args.config)
            .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", args.config.display())))?;
        let base = args
            .config
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let pointed = crate::sandboxes::pointed_config(&text, base, &config)?;
        std::fs::write(out, pointed)
            .map_err(|e| CliError::Failed(format!("cannot write {}: {e}", out.display())))?;
        println!("{}", json!({"event": "config_written", "path": out}));
    }
    println!("{}", json!({"event": "ready"}));

    crate::shutdown_signal().await;
    sb.shutdown().await;
    Ok(Outcome::Clean)
}

fn demo_proposals() -> Result<Vec<Value>, CliError> {
    serde_json::from_str(crate::cmd::demo::DEMO_PROPOSALS)
        .map_err(|e| CliError::Failed(format!("the shipped demo proposals do not parse: {e}")))
}
