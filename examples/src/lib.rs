//! The `sig` command line as a library: each subcommand (`cmd`), the wiring from `sig.toml`
//! to a running pipeline (`runtime`), the in-process sandboxes (`sandboxes`), the webhook
//! endpoint (`webhook_http`), the service around them (`serve`, with its metrics and health),
//! structured logs (`logging`) and the reports read through the store (`report`). The `sig`
//! binary is a thin `main` over it; workspace tests and benchmarks reuse the same pieces.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod cmd;
pub mod fixtures;
pub mod logging;
pub mod report;
pub mod runtime;
pub mod sample;
pub mod sandboxes;
pub mod serve;
pub mod webhook_http;

/// mimalloc, for the `sig` binary and every benchmark and test built on this library (so the
/// benchmarks measure what `sig` gets): the integration path allocates and frees many small
/// JSON values, request and row buffers across threads; glibc's allocator spent about a sixth
/// of the end-to-end benchmark's CPU on them. Transparent huge pages are off for it (`no_thp`): re-faulting a
/// purged 2 MiB page zeroes all of it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How a command ended.
pub enum Outcome {
    /// Ran to its end with nothing to report.
    Clean,
    /// Ran to its end; some business outcomes were negative (invalid values, failures).
    Findings,
}

/// Why a command could not run to its end.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad usage or configuration (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The command could not finish (exit 1).
    #[error("{0}")]
    Failed(String),
}

/// Resolves on SIGINT or SIGTERM with the signal's name (what stops `sig sync`,
/// `sig sandbox` and `sig serve`).
pub async fn shutdown_signal() -> &'static str {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => "SIGINT",
        _ = term => "SIGTERM",
    }
}

/// Crash tests: `SIG_FAILPOINT_KILL=NAME[:N]` kills the process with SIGKILL at the N-th
/// (default first) time the pipeline passes failpoint NAME — right after an upstream effect,
/// before its journal write — after printing the effect as one stderr line
/// `SIG_FAILPOINT_HIT {json}`. Only in builds with the `failpoints` feature.
#[cfg(feature = "failpoints")]
pub fn arm_failpoint_kill() -> Result<(), CliError> {
    use std::io::Write;
    use std::sync::atomic::{AtomicU64, Ordering};

    let Ok(spec) = std::env::var("SIG_FAILPOINT_KILL") else {
        return Ok(());
    };
    let (name, nth) = match spec.split_once(':') {
        Some((n, k)) => (
            n.to_owned(),
            k.parse::<u64>()
                .ok()
                .filter(|k| *k > 0)
                .ok_or_else(|| CliError::Usage(format!("SIG_FAILPOINT_KILL: bad count {k:?}")))?,
        ),
        None => (spec.clone(), 1),
    };
    if !sig_core::failpoints::NAMES.contains(&name.as_str()) {
        return Err(CliError::Usage(format!(
            "SIG_FAILPOINT_KILL: unknown failpoint {name:?} (known: {})",
            sig_core::failpoints::NAMES.join(", ")
        )));
    }
    let hits = AtomicU64::new(0);
    fail::cfg_callback(name, move || {
        if hits.fetch_add(1, Ordering::SeqCst) + 1 != nth {
            return;
        }
        let effect = sig_core::failpoints::context();
        let line = serde_json::to_string(&effect).unwrap_or_default();
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "SIG_FAILPOINT_HIT {line}");
        let _ = err.flush();
        // Like a power cut: nothing after this point runs — no destructor, no journal write.
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &std::process::id().to_string()])
            .status();
        std::process::abort();
    })
    .map_err(|e| CliError::Usage(format!("SIG_FAILPOINT_KILL: {e}")))
}
