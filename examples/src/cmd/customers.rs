//! `sig customers register --file customer.json` — register a customer directly in SIG,
//! with optional service orders, without a DocSales proposal (roadmap §1, "Cadastro
//! Direto"). The file holds `{"customer": {...}, "orders": [...]}` in the shape of a
//! proposal's customer and orders (`examples/data/customer.json`). The registration is
//! validated like a proposal (every problem reported), stored with the source key
//! (`sig`, SIG customer id), and integrated by the pipeline (unless `--no-run`). Registering
//! the same CPF/CNPJ again finds the first registration.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;
use sig_core::pipeline::{RawRegistration, RegisterError, RegisterOutcome, Settings};

use super::access::{ActingArgs, resolve};
use crate::report::integration_report;
use crate::runtime::{Runtime, open_store};
use crate::{CliError, Outcome};

/// `sig customers` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Register a customer (and optional service orders) directly in SIG.
    Register(RegisterArgs),
}

/// `sig customers register` arguments.
#[derive(Debug, clap::Args)]
pub struct RegisterArgs {
    #[command(flatten)]
    acting: ActingArgs,
    /// The registration: `{"customer": {...}, "orders": [...]}` (JSON).
    #[arg(long, value_name = "FILE")]
    file: PathBuf,
    /// Only register; leave the integration to a worker (`sig serve`).
    #[arg(long)]
    no_run: bool,
    /// One JSON document instead of the human summary.
    #[arg(long)]
    json: bool,
}

/// Run `sig customers …`.
pub async fn run(command: Command) -> Result<Outcome, CliError> {
    match command {
        Command::Register(args) => register(args).await,
    }
}

/// Read a registration file, naming the JSON path of what does not fit.
pub fn read_registration(path: &std::path::Path) -> Result<RawRegistration, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))?;
    let de = &mut serde_json::Deserializer::from_str(&text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        CliError::Usage(format!(
            "{}: at {}: {}",
            path.display(),
            e.path(),
            e.inner()
        ))
    })
}

async fn register(args: RegisterArgs) -> Result<Outcome, CliError> {
    let acting = resolve(&args.acting)?;
    let registration = read_registration(&args.file)?;
    let store = open_store(&acting.config)?;
    let settings = Settings {
        backoff_base: Duration::from_millis(200),
        backoff_max: Duration::from_secs(10),
        ..Settings::default()
    };
    let rt = Runtime::build(&acting.config, store.clone(), settings).await?;
    let outcome = match rt
        .pipeline
        .register_customer(
            &acting.policy,
            &acting.actor,
            acting.profile,
            &acting.company,
            &registration,
        )
        .await
    {
        Ok(o) => o,
        Err(RegisterError::Invalid(problems)) => {
            if args.json {
                println!("{}", json!({"outcome": "invalid", "problems": problems}));
            } else {
                println!("The registration is invalid; nothing was registered:");
                for p in problems.iter() {
                    println!("    ✗ {}: {} ({})", p.field, p.message, p.code);
                }
            }
            return Ok(Outcome::Findings);
        }
        Err(RegisterError::Denied(d)) => return Err(CliError::Failed(d.to_string())),
        Err(e) => return Err(CliError::Failed(format!("registration: {e}"))),
    };
    if !args.no_run
        && matches!(
            outcome,
            RegisterOutcome::Created { .. }
                | RegisterOutcome::Existing {
                    status: sig_core::store::IntegrationStatus::Pending,
                    ..
                }
        )
    {
        rt.run_until_idle().await?;
    }
    let report = match outcome.integration() {
        Some(id) => {
            let i = store
                .get(id)
                .await
                .map_err(|e| CliError::Failed(format!("cannot read the store: {e}")))?
                .ok_or_else(|| CliError::Failed(format!("integration {id} vanished")))?;
            Some(
                integration_report(store.as_ref(), &i)
                    .await
                    .map_err(|e| CliError::Failed(format!("cannot read the store: {e}")))?,
            )
        }
        None => None,
    };
    let finding = match (&outcome, &report) {
        (RegisterOutcome::KnownElsewhere { .. }, _) => true,
        (_, Some(r)) => !matches!(
            r.status,
            sig_core::store::IntegrationStatus::Done | sig_core::store::IntegrationStatus::Pending
        ),
        _ => false,
    };
    if args.json {
        let mut v = serde_json::to_value(&outcome).unwrap_or_default();
        v["integration_report"] = serde_json::to_value(&report).unwrap_or_default();
        println!("{v}");
    } else {
        match &outcome {
            RegisterOutcome::Created {
                customer,
                integration,
            } => {
                println!("Registered customer {customer} (integration {integration})")
            }
            RegisterOutcome::Existing {
                customer,
                integration,
                status,
            } => println!(
                "Already registered: customer {customer}, integration {integration} (was {status})"
            ),
            RegisterOutcome::KnownElsewhere { customer } => println!(
                "SIG already has this CPF/CNPJ as customer {customer}, from a DocSales proposal: nothing was registered"
            ),
        }
        if let Some(r) = &report {
            println!("    status: {}", r.status);
            if !r.omie["customer"].is_null() {
                println!(
                    "    Omie customer {}, contracts {}",
                    r.omie["customer"], r.omie["contracts"]
                );
            }
            for (i, o) in r.orders.iter().enumerate() {
                if !o["server"].is_null() {
                    println!("    order {i}: {} → {}", o["plan"], o["server"]);
                }
            }
            if !r.failure.is_null() {
                println!(
                    "    ✗ failed at {}: {}",
                    r.failure["step"], r.failure["reason"]
                );
            }
        }
    }
    Ok(if finding {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}
