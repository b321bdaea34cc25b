//! `sig` — the command-line front door to SIG VoIP.
//!
//! Conventions (DESIGN.md, "The `sig` binary"): human output by default, `--json` for
//! machines (one object per line for streams; `validate` always writes JSON lines). Exit 0
//! when the command ran to its end — business outcomes such as invalid values are reported in
//! the output, and `--strict` turns them into exit 1 —; 1 when it could not run to its end;
//! 2 for usage or configuration errors.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use sig_cli::{CliError, Outcome, cmd};

/// SIG VoIP: DocSales → Omie → NextBilling integration.
#[derive(Debug, Parser)]
#[command(name = "sig", version, about, propagate_version = true)]
struct Cli {
    /// Turn business outcomes (invalid values, held or failed integrations) into exit code 1.
    #[arg(long, global = true)]
    strict: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate values (one per line on stdin) or proposal documents; writes JSON lines.
    Validate(cmd::validate::Args),
    /// Run the whole flow on the in-process sandboxes and SQLite, and summarise it.
    Demo(cmd::demo::Args),
    /// Reconcile approved proposals and integrate what is pending (`--once`, or a worker loop).
    Sync(cmd::sync::Args),
    /// Serve the vendor sandboxes a configuration points at, on loopback ports.
    Sandbox(cmd::sandbox::Args),
    /// Edit or resume a proposal before it integrates (`edit`, `resume`).
    Proposals(cmd::proposals::Args),
    /// Choose a ServidorNext by hand (`choose`).
    Servers(cmd::servers::Args),
    /// Run SIG as a service: webhook endpoint, pipeline workers, reconciliation, health and
    /// metrics, until SIGTERM/SIGINT.
    Serve(cmd::serve::Args),
    /// Look after integrations: list (failed and held are the dead-letter view), show, retry,
    /// cancel.
    Integrations(cmd::integrations::Args),
    /// Customers registered directly in SIG.
    #[command(subcommand)]
    Customers(cmd::customers::Command),
    /// Migrate historical customers from a CSV file (a dry run unless --apply).
    Migrate(cmd::migrate::Args),
    /// SIG → DocSales: push a customer's data, create a document.
    #[command(subcommand)]
    Docsales(cmd::docsales::Command),
}

/// Run an async command on a multi-threaded runtime.
fn block_on<F: std::future::Future<Output = Result<Outcome, CliError>>>(
    f: F,
) -> Result<Outcome, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start the async runtime: {e}")))?
        .block_on(f)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    #[cfg(feature = "failpoints")]
    if let Err(CliError::Usage(m)) = sig_cli::arm_failpoint_kill() {
        eprintln!("sig: {m}");
        return ExitCode::from(2);
    }
    let result = match cli.command {
        Command::Validate(args) => cmd::validate::run(args),
        Command::Demo(args) => block_on(cmd::demo::run(args)),
        Command::Sync(args) => block_on(cmd::sync::run(args)),
        Command::Sandbox(args) => block_on(cmd::sandbox::run(args)),
        Command::Proposals(args) => block_on(cmd::proposals::run(args)),
        Command::Servers(args) => block_on(cmd::servers::run(args)),
        Command::Serve(args) => block_on(cmd::serve::run(args)),
        Command::Integrations(args) => block_on(cmd::integrations::run(args)),
        Command::Customers(c) => block_on(cmd::customers::run(c)),
        Command::Migrate(args) => block_on(cmd::migrate::run(args)),
        Command::Docsales(c) => block_on(cmd::docsales::run(c)),
    };
    match result {
        Ok(Outcome::Findings) if cli.strict => ExitCode::from(1),
        Ok(_) => ExitCode::SUCCESS,
        Err(CliError::Usage(m)) => {
            eprintln!("sig: {m}");
            ExitCode::from(2)
        }
        Err(CliError::Failed(m)) => {
            eprintln!("sig: {m}");
            ExitCode::from(1)
        }
    }
}
