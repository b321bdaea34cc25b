//! What the commands that act for a person share: the configuration, who acts (`--as USER`
//! or `SIG_USER`) with the profile `sig.toml` gives them, the authorization policy (built in,
//! or `--policy FILE` / `SIG_POLICY`), and the company the command works in.

use std::path::PathBuf;

use sig_core::authz::Policy;
use sig_core::config::{Config, Profile};
use sig_core::ids::{CompanyId, UserId};
use sig_core::store::Actor;

use crate::CliError;
use crate::runtime::load_config;

/// The arguments every acting command takes.
#[derive(Debug, Clone, clap::Args)]
pub struct ActingArgs {
    /// The `sig.toml` to use.
    #[arg(long, value_name = "FILE", env = "SIG_CONFIG")]
    pub config: PathBuf,
    /// Who acts: a user listed in `sig.toml`'s `[[users]]`.
    #[arg(long = "as", value_name = "USER", env = "SIG_USER")]
    pub as_user: Option<String>,
    /// An authorization policy file (default: the built-in policy).
    #[arg(long, value_name = "FILE", env = "SIG_POLICY")]
    pub policy: Option<PathBuf>,
    /// The company to work in (default: the only one `sig.toml` lists).
    #[arg(long, value_name = "ID")]
    pub company: Option<String>,
}

/// Everything resolved from [`ActingArgs`].
pub struct Acting {
    /// The configuration.
    pub config: Config,
    /// Who acts.
    pub actor: Actor,
    /// Their profile (`None`: a user `sig.toml` does not list — every action is denied).
    pub profile: Option<Profile>,
    /// The policy.
    pub policy: Policy,
    /// The company.
    pub company: CompanyId,
}

/// Load the configuration and resolve who acts, the policy and the company.
pub fn resolve(args: &ActingArgs) -> Result<Acting, CliError> {
    let config = load_config(&args.config)?;
    let Some(user) = args.as_user.as_deref() else {
        return Err(CliError::Usage(
            "who acts? give --as USER (or set SIG_USER) with a user listed in sig.toml".into(),
        ));
    };
    let user: UserId = user
        .parse()
        .map_err(|e| CliError::Usage(format!("--as: {e}")))?;
    let profile = config.user(&user).map(|u| u.profile);
    let policy = match &args.policy {
        Some(p) => {
            Policy::load(p).map_err(|e| CliError::Usage(format!("policy {}: {e}", p.display())))?
        }
        None => Policy::builtin(),
    };
    let company = match &args.company {
        Some(c) => {
            let id: CompanyId = c
                .parse()
                .map_err(|e| CliError::Usage(format!("--company: {e}")))?;
            if config.company(&id).is_none() {
                return Err(CliError::Usage(format!(
                    "--company: {id} is not a company of {}",
                    args.config.display()
                )));
            }
            id
        }
        None => match config.companies.as_slice() {
            [only] => only.id.clone(),
            [] => {
                return Err(CliError::Usage(format!(
                    "{} lists no company",
                    args.config.display()
                )));
            }
            _ => {
                return Err(CliError::Usage(format!(
                    "{} lists several companies: choose one with --company",
                    args.config.display()
                )));
            }
        },
    };
    Ok(Acting {
        config,
        actor: Actor::User(user),
        profile,
        policy,
        company,
    })
}
