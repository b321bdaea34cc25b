//! `sig serve --config FILE [--listen ADDR]` — run SIG as a service (see [`crate::serve`]).
//!
//! Stdout carries machine lines only: `{"event":"listening","addr":"127.0.0.1:PORT",…}` once
//! the endpoints are bound (so `--listen 127.0.0.1:0` works for scripts and tests), and
//! `{"event":"stopped",…}` after a shutdown. Logs are JSON lines on stderr (filter: `SIG_LOG`,
//! default `info`), with personal data masked and no secret. SIGTERM or SIGINT stops it
//! gracefully within `[serve] shutdown_timeout_s`.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::json;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::logging::{RedactingStderr, Redactor, env_filter};
use crate::runtime::{Runtime, load_config, open_store};
use crate::serve::metrics::{Metrics, MetricsLayer};
use crate::serve::{ServeOptions, Service};
use crate::{CliError, Outcome};

/// `sig serve` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The configuration (`sig.toml`).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Listen address (overrides `[serve] listen`); port 0 picks a free port.
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
}

fn print_line(v: &serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}

/// Run the service until SIGTERM or SIGINT.
pub async fn run(args: Args) -> Result<Outcome, CliError> {
    let config = load_config(&args.config)?;
    let metrics = Arc::new(Metrics::new());
    let redactor = Arc::new(Redactor::for_config(&config));
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_current_span(true)
                .with_span_list(true)
                .with_writer(RedactingStderr::new(redactor))
                .with_filter(env_filter("info")),
        )
        .with(MetricsLayer::new(metrics.clone()).with_filter(MetricsLayer::targets()))
        .try_init()
        .map_err(|e| CliError::Failed(format!("cannot set up logging: {e}")))?;

    let mut options = ServeOptions::from_config(&config.serve);
    if let Some(listen) = args.listen {
        options.listen = listen;
    }
    let store = open_store(&config)?;
    let runtime = Runtime::build(&config, store, options.settings()).await?;
    let service = Service::start(&config, runtime, metrics, &options).await?;
    print_line(&json!({
        "event": "listening",
        "addr": service.addr().to_string(),
        "pid": std::process::id(),
    }));

    let signal = crate::shutdown_signal().await;
    tracing::info!(signal, "signal received");
    let report = service.shutdown().await;
    print_line(&json!({
        "event": "stopped",
        "signal": signal,
        "elapsed_ms": report.elapsed_ms,
        "in_time": report.in_time,
        "released": report.released,
    }));
    Ok(Outcome::Clean)
}
