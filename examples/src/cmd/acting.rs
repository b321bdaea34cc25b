//! What the commands people run on integrations share: `--config`, `--as USER`, `--json`,
//! loading the configuration into a runtime, and reporting a refused operation with the right
//! exit status (DESIGN.md, "The `sig` binary").

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use sig_core::config::Config;
use sig_core::ids::{IntegrationId, UserId};
use sig_core::pipeline::{PipelineError, Settings};
use sig_core::problem::Problems;
use sig_core::store::Actor;

use crate::runtime::{Runtime, open_store};
use crate::{CliError, Outcome};

/// `--config`, `--as` and `--json`.
#[derive(Debug, Clone, clap::Args)]
pub struct ActingArgs {
    /// The configuration file.
    #[arg(
        long,
        value_name = "FILE",
        env = "SIG_CONFIG",
        default_value = "sig.toml"
    )]
    pub config: PathBuf,
    /// Who acts: a user listed in the configuration's [[users]].
    #[arg(long = "as", value_name = "USER", env = "SIG_USER")]
    pub as_user: Option<String>,
    /// Print one JSON object instead of the human summary.
    #[arg(long)]
    pub json: bool,
}

impl ActingArgs {
    /// The acting user (usage error when none is given or the id is malformed).
    pub fn actor(&self) -> Result<Actor, CliError> {
        let Some(u) = &self.as_user else {
            return Err(CliError::Usage(
                "who is acting? pass --as USER or set SIG_USER".into(),
            ));
        };
        u.parse::<UserId>()
            .map(Actor::User)
            .map_err(|e| CliError::Usage(format!("--as {u:?}: {e}")))
    }

    /// Load the configuration (usage error when it is wrong) and build the runtime on its
    /// store.
    pub async fn runtime(&self) -> Result<(Config, Runtime), CliError> {
        let config = crate::runtime::load_config(&self.config)?;
        let store = open_store(&config)?;
        let settings = Settings {
            health_timeout: Duration::from_secs(5),
            ..Settings::default()
        };
        let rt = Runtime::build(&config, store, settings).await?;
        Ok((config, rt))
    }
}

/// Parse an integration id argument.
pub fn integration_id(s: &str) -> Result<IntegrationId, CliError> {
    s.parse()
        .map_err(|e| CliError::Usage(format!("integration id {s:?}: {e}")))
}

/// Print problems for people.
pub fn print_problems(problems: &Problems) {
    for p in problems.iter() {
        let src = p
            .source_field
            .as_deref()
            .map(|s| format!(" [source {s}]"))
            .unwrap_or_default();
        println!("  ✗ {}: {} ({}){src}", p.field, p.message, p.code.as_str());
    }
}

/// The JSON form of a refusal: `{"ok": false, "error": {"kind", "message", …}}`.
pub fn error_json(e: &PipelineError) -> Value {
    let message = e.to_string();
    let detail = match e {
        PipelineError::Denied(d) => json!({"kind": "denied", "denied": d}),
        PipelineError::FieldsDenied(d) => json!({
            "kind": "fields_denied",
            "fields": d.iter().filter_map(|x| x.field.clone()).collect::<Vec<_>>(),
            "denied": d,
        }),
        PipelineError::InvalidPatch(p) => json!({"kind": "invalid_patch", "problems": p}),
        PipelineError::BadInput { field, .. } => json!({"kind": "bad_input", "field": field}),
        PipelineError::Busy(_) => json!({"kind": "busy", "retryable": true}),
        PipelineError::NotFound(_) => json!({"kind": "not_found"}),
        PipelineError::InvalidState { status, reason, .. } => {
            json!({"kind": "invalid_state", "status": status, "reason": reason})
        }
        PipelineError::StillInvalid { problems, .. } => {
            json!({"kind": "still_invalid", "problems": problems})
        }
        PipelineError::ServerRefused {
            order,
            server,
            reasons,
            ..
        } => {
            json!({"kind": "server_refused", "order": order, "server": server, "reasons": reasons})
        }
        PipelineError::Upstream { error, .. } => json!({
            "kind": "upstream",
            "system": error.system,
            "retryable": error.is_retryable(),
        }),
        PipelineError::UnknownCompany(c) => json!({"kind": "unknown_company", "company": c}),
        PipelineError::Store(_) => json!({"kind": "store"}),
    };
    let mut error = detail;
    error["message"] = Value::String(message);
    json!({"ok": false, "error": error})
}

/// Report a refused operation and choose the exit status: invalid proposal values are a
/// business outcome (exit 0, 1 with `--strict`); bad arguments are usage errors (exit 2);
/// anything else could not be done (exit 1).
pub fn refused(e: PipelineError, json: bool) -> Result<Outcome, CliError> {
    if json {
        println!("{}", error_json(&e));
    }
    match e {
        PipelineError::StillInvalid { id, problems } => {
            if !json {
                println!(
                    "integration {id} stays held: {} validation problem(s)",
                    problems.len()
                );
                print_problems(&problems);
            }
            Ok(Outcome::Findings)
        }
        e @ (PipelineError::BadInput { .. } | PipelineError::InvalidPatch(_)) => {
            Err(CliError::Usage(e.to_string()))
        }
        e => Err(CliError::Failed(e.to_string())),
    }
}
