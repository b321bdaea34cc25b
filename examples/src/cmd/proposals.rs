//! `sig proposals`: work on a proposal before it integrates (roadmap §1, "Edição Manual").
//!
//! - `sig proposals edit ID --set customer.address.cep=01310-100 --set orders[0].dids="11 3456-7000, 11 3456-7001" --as bruno`
//!   edits a held proposal, or one not yet validated; each field is checked against the
//!   actor's profile, the proposal is validated again, and a held one that now validates
//!   resumes. An empty value clears a field; a whole list's value is split on commas.
//! - `sig proposals resume ID --as bruno` resumes a held integration (for a company that
//!   holds every proposal for review, this approves it).
//!
//! The integration then waits for a worker (`sig serve`). Every decision is audited.

use serde_json::json;
use sig_core::edit::ProposalPatch;

use super::acting::{ActingArgs, integration_id, print_problems, refused};
use crate::{CliError, Outcome};

/// `sig proposals` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Edit a held or not yet validated proposal, field by field.
    Edit(EditArgs),
    /// Resume a held integration (approves one held for review).
    Resume(ResumeArgs),
}

#[derive(Debug, clap::Args)]
struct EditArgs {
    /// The integration id.
    id: String,
    /// A field and its new value (`customer.address.cep=01310-100`); repeat per field.
    #[arg(long = "set", value_name = "FIELD=VALUE", required = true)]
    set: Vec<String>,
    #[command(flatten)]
    acting: ActingArgs,
}

#[derive(Debug, clap::Args)]
struct ResumeArgs {
    /// The integration id.
    id: String,
    #[command(flatten)]
    acting: ActingArgs,
}

/// Run `sig proposals`.
pub async fn run(args: Args) -> Result<Outcome, CliError> {
    match args.command {
        Command::Edit(a) => edit(a).await,
        Command::Resume(a) => resume(a).await,
    }
}

async fn edit(a: EditArgs) -> Result<Outcome, CliError> {
    let id = integration_id(&a.id)?;
    let actor = a.acting.actor()?;
    let patch = ProposalPatch::from_assignments(&a.set)
        .map_err(|p| CliError::Usage(format!("--set: {p}")))?;
    let (_, rt) = a.acting.runtime().await?;
    let out = match rt.pipeline.edit(id, actor.clone(), &patch).await {
        Ok(out) => out,
        Err(e) => return refused(e, a.acting.json),
    };
    if a.acting.json {
        let mut v = serde_json::to_value(&out).unwrap_or_default();
        v["ok"] = json!(true);
        println!("{v}");
    } else {
        println!(
            "integration {id} edited by {actor}: {} field(s) changed",
            out.changes.len()
        );
        for c in &out.changes {
            println!("  {}: {} → {}", c.field, c.before, c.after);
        }
        if out.problems.is_empty() {
            println!(
                "the proposal validates; status {}{}",
                out.status,
                if out.resumed { " (resumed)" } else { "" }
            );
        } else {
            println!(
                "status {}: {} validation problem(s) remain",
                out.status,
                out.problems.len()
            );
            print_problems(&out.problems);
        }
    }
    Ok(if out.problems.is_empty() {
        Outcome::Clean
    } else {
        Outcome::Findings
    })
}

async fn resume(a: ResumeArgs) -> Result<Outcome, CliError> {
    let id = integration_id(&a.id)?;
    let actor = a.acting.actor()?;
    let (_, rt) = a.acting.runtime().await?;
    let out = match rt.pipeline.resume(id, actor.clone()).await {
        Ok(out) => out,
        Err(e) => return refused(e, a.acting.json),
    };
    if a.acting.json {
        let mut v = serde_json::to_value(&out).unwrap_or_default();
        v["ok"] = json!(true);
        println!("{v}");
    } else {
        println!(
            "integration {id} {} by {actor}; status {}",
            if out.reviewed {
                "reviewed and resumed"
            } else {
                "resumed"
            },
            out.status
        );
    }
    Ok(Outcome::Clean)
}
