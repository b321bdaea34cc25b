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
    let result = match cli.command {
        Command::Validate(args) => cmd::validate::run(args),
        Command::Demo(args) => block_on(cmd::demo::run(args)),
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
