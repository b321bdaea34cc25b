//! `sig servers`: ServidorNext operations people run (roadmap §1, "Seleção Manual").
//!
//! `sig servers choose ID --order 0 --server sp2 [--force "REASON"] --as ana` chooses the
//! server of one service order by hand (admins only). The server must be active, healthy,
//! serve the order's area code and have room, unless `--force` gives a written reason. The
//! choice records who chose, why, what it overrode and what the automatic choice would have
//! been.

use serde_json::json;
use sig_core::ids::ServerId;

use super::acting::{ActingArgs, integration_id, refused};
use crate::{CliError, Outcome};

/// `sig servers` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Choose the ServidorNext of one service order by hand (admins).
    Choose(ChooseArgs),
}

#[derive(Debug, clap::Args)]
struct ChooseArgs {
    /// The integration id.
    id: String,
    /// The service order, numbered from 0 in the proposal's order.
    #[arg(long, value_name = "N")]
    order: usize,
    /// The server id.
    #[arg(long, value_name = "SERVER")]
    server: String,
    /// Override the checks (inactive, unhealthy, other area, no room), with a written reason.
    #[arg(long, value_name = "REASON")]
    force: Option<String>,
    #[command(flatten)]
    acting: ActingArgs,
}

/// Run `sig servers`.
pub async fn run(args: Args) -> Result<Outcome, CliError> {
    match args.command {
        Command::Choose(a) => choose(a).await,
    }
}

async fn choose(a: ChooseArgs) -> Result<Outcome, CliError> {
    let id = integration_id(&a.id)?;
    let server: ServerId = a
        .server
        .parse()
        .map_err(|e| CliError::Usage(format!("--server {:?}: {e}", a.server)))?;
    let actor = a.acting.actor()?;
    let (_, rt) = a.acting.runtime().await?;
    let out = match rt
        .pipeline
        .choose_server(id, a.order, &server, actor, a.force.as_deref())
        .await
    {
        Ok(out) => out,
        Err(e) => return refused(e, a.acting.json),
    };
    if a.acting.json {
        let mut v = serde_json::to_value(&out).unwrap_or_default();
        v["ok"] = json!(true);
        println!("{v}");
    } else {
        let c = &out.choice;
        println!(
            "order {} of integration {id}: {} chosen by {}{}",
            out.order,
            out.server,
            c.by,
            if c.forced { " (forced)" } else { "" }
        );
        if let Some(r) = &c.reason {
            println!("  reason: {r}");
        }
        if !c.overridden.is_empty() {
            println!("  overridden: {}", c.overridden.join("; "));
        }
        println!(
            "  automatic choice: {}",
            c.automatic
                .as_ref()
                .map_or("none eligible".to_owned(), |s| s.to_string())
        );
        println!("  automatic evaluation: {}", out.decision.explain());
        println!(
            "  {}",
            if out.applied {
                "capacity reserved; the server step is journaled"
            } else {
                "recorded: applied (checked and reserved again) when the order's server step runs"
            }
        );
    }
    Ok(Outcome::Clean)
}
