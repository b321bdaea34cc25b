//! The `sig` command line as a library: each subcommand (`cmd`), the wiring from `sig.toml`
//! to a running pipeline (`runtime`), the in-process sandboxes (`sandboxes`), the webhook
//! endpoint (`webhook_http`) and the reports read through the store (`report`). The `sig`
//! binary is a thin `main` over it; workspace tests and benchmarks reuse the same pieces.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod cmd;
pub mod fixtures;
pub mod report;
pub mod runtime;
pub mod sandboxes;
pub mod webhook_http;

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
