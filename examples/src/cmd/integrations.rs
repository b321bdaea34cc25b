//! `sig integrations` — look after integrations, reading and writing through the `Store` port
//! (the store `sig.toml` names; it may be shared with a running `sig serve`).
//!
//! - `list [--status S]… [--dead-letter] [--since RFC3339|DURATION] [--limit N]`: failed and
//!   held integrations are the dead-letter view (`--dead-letter`).
//! - `show ID`: the integration, its timeline (every audited event with durations, outcomes,
//!   systems, calls and errors), its external records and why it stopped.
//! - `retry ID` / `retry --all-failed`: put failed integrations back to work; a running
//!   `sig serve` picks them up and they resume after their last journaled step.
//! - `cancel ID --reason TEXT`: stop an integration that is not done; reserved capacity is
//!   released.
//!
//! Retry and cancel act as a person: `--as USER` (or `SIG_USER`), a user listed in `sig.toml`,
//! whose profile must be granted the action by the authorization policy; the decision,
//! allowed or denied, and the action itself are audited with that user. Reading needs no
//! actor (whoever can run this can read the store file). Secrets are not resolved: these
//! commands only use the store, the catalog and the users.
//!
//! Human output by default; `--json` prints one JSON object per line.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use sig_core::authz::Authorizer;
use sig_core::config::{Config, SecretSource};
use sig_core::ids::IntegrationId;
use sig_core::pipeline::{Pipeline, PipelineError, Settings, SystemClock};
use sig_core::store::{
    Actor, AuditEvent, AuditFilter, Integration, IntegrationFilter, IntegrationStatus, Store,
};

use crate::report::{IntegrationReport, integration_report};
use crate::runtime::open_store;
use crate::{CliError, Outcome};

/// `sig integrations` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The configuration (its store, catalog and users).
    #[arg(
        long,
        value_name = "FILE",
        default_value = "sig.toml",
        env = "SIG_CONFIG",
        global = true
    )]
    config: PathBuf,
    /// One JSON object per line instead of the human output.
    #[arg(long, global = true)]
    json: bool,
    /// Who acts (a user listed in sig.toml), for retry and cancel.
    #[arg(long = "as", value_name = "USER", env = "SIG_USER", global = true)]
    actor: Option<String>,
    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// List integrations, newest last (or the newest N with --limit).
    List {
        /// Only these statuses (repeatable): pending, held, done, failed, cancelled.
        #[arg(long, value_name = "STATUS")]
        status: Vec<String>,
        /// The dead-letter view: failed and held.
        #[arg(long)]
        dead_letter: bool,
        /// Received since an instant (RFC 3339) or for a duration back from now (30m, 6h, 7d).
        #[arg(long, value_name = "WHEN")]
        since: Option<String>,
        /// At most this many, the newest.
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
    },
    /// One integration: its timeline, external records and why it stopped.
    Show {
        /// Integration id.
        id: String,
    },
    /// Put failed integrations back to work (they resume after their last journaled step).
    Retry {
        /// Integration id.
        #[arg(required_unless_present = "all_failed", conflicts_with = "all_failed")]
        id: Option<String>,
        /// Every failed integration.
        #[arg(long)]
        all_failed: bool,
    },
    /// Cancel an integration that is not done, with a reason (audited).
    Cancel {
        /// Integration id.
        id: String,
        /// Why (kept in the audit).
        #[arg(long, value_name = "TEXT")]
        reason: String,
    },
}

/// Secrets are not needed by these commands; every reference resolves to a placeholder.
struct Unresolved;

impl SecretSource for Unresolved {
    fn env(&self, _name: &str) -> Option<String> {
        Some("(not resolved)".into())
    }
    fn read_file(&self, _path: &Path) -> std::io::Result<String> {
        Ok("(not resolved)".into())
    }
}

fn load(path: &Path) -> Result<Config, CliError> {
    Config::load(path, &Unresolved).map_err(|e| {
        let problems: Vec<String> = e
            .problems()
            .0
            .iter()
            .map(|p| format!("{}: {}", p.field, p.message))
            .collect();
        CliError::Usage(format!(
            "{}: invalid configuration: {}",
            path.display(),
            problems.join("; ")
        ))
    })
}

fn store_error(e: impl std::fmt::Display) -> CliError {
    CliError::Failed(format!("cannot read the store: {e}"))
}

/// Run `sig integrations`.
pub async fn run(args: Args) -> Result<Outcome, CliError> {
    let config = load(&args.config)?;
    let store = open_store(&config)?;
    match args.command {
        Sub::List {
            status,
            dead_letter,
            since,
            limit,
        } => {
            list(
                store.as_ref(),
                &status,
                dead_letter,
                since.as_deref(),
                limit,
                args.json,
            )
            .await
        }
        Sub::Show { id } => show(store.as_ref(), &parse_id(&id)?, args.json).await,
        Sub::Retry { id, all_failed } => {
            let who = acting_user(&config, args.actor.as_deref())?;
            let ids = if all_failed {
                store
                    .list(&IntegrationFilter {
                        statuses: vec![IntegrationStatus::Failed],
                        ..Default::default()
                    })
                    .await
                    .map_err(store_error)?
                    .into_iter()
                    .map(|i| i.id)
                    .collect()
            } else {
                vec![parse_id(id.as_deref().unwrap_or_default())?]
            };
            let p = pipeline(&config, store.clone());
            let mut refused = 0;
            for id in &ids {
                match p.retry(*id, who.actor.clone()).await {
                    Ok(()) => emit(
                        args.json,
                        &json!({"id": id, "outcome": "retried", "actor": who.actor}),
                        &format!("{id}: retried — pending again; a running `sig serve` resumes it"),
                    ),
                    Err(e @ PipelineError::InvalidState { .. }) if all_failed => {
                        // It changed since the listing (another operator, a worker).
                        refused += 1;
                        emit(
                            args.json,
                            &json!({"id": id, "outcome": "skipped", "reason": e.to_string()}),
                            &format!("{id}: skipped — {e}"),
                        );
                    }
                    Err(e) => return Err(op_error(e)),
                }
            }
            if all_failed && !args.json {
                println!(
                    "{} failed integration(s) retried{}",
                    ids.len() - refused,
                    if refused > 0 {
                        format!(", {refused} skipped")
                    } else {
                        String::new()
                    }
                );
            }
            Ok(Outcome::Clean)
        }
        Sub::Cancel { id, reason } => {
            let who = acting_user(&config, args.actor.as_deref())?;
            let reason = reason.trim();
            if reason.is_empty() {
                return Err(CliError::Usage(
                    "--reason: say why the integration is cancelled".into(),
                ));
            }
            let id = parse_id(&id)?;
            pipeline(&config, store.clone())
                .cancel(id, who.actor.clone(), reason)
                .await
                .map_err(op_error)?;
            emit(
                args.json,
                &json!({"id": id, "outcome": "cancelled", "actor": who.actor, "reason": reason}),
                &format!("{id}: cancelled — {reason}"),
            );
            Ok(Outcome::Clean)
        }
    }
}

fn emit(json: bool, v: &Value, human: &str) {
    if json {
        println!("{v}");
    } else {
        println!("{human}");
    }
}

fn op_error(e: PipelineError) -> CliError {
    match e {
        PipelineError::NotFound(id) => CliError::Failed(format!("integration {id} not found")),
        PipelineError::Denied(d) => CliError::Failed(format!("refused: {d}")),
        other => CliError::Failed(other.to_string()),
    }
}

fn parse_id(s: &str) -> Result<IntegrationId, CliError> {
    s.parse()
        .map_err(|_| CliError::Usage(format!("{s:?} is not an integration id (a UUID)")))
}

/// A pipeline for operator actions: retry and cancel touch only the store; the pipeline asks
/// the configured authorization policy and audits the decision, allowed or denied.
fn pipeline(config: &Config, store: Arc<dyn Store>) -> Pipeline {
    Pipeline::new(
        store,
        vec![],
        vec![],
        Arc::new(config.catalog.clone()),
        Arc::new(SystemClock),
        Settings::default(),
    )
    .with_authorizer(Authorizer::from_config(config))
}

/// The person acting, from `--as` / `SIG_USER`.
struct Who {
    actor: Actor,
}

fn acting_user(config: &Config, user: Option<&str>) -> Result<Who, CliError> {
    let Some(name) = user.map(str::trim).filter(|u| !u.is_empty()) else {
        return Err(CliError::Usage(
            "who acts? give --as USER or set SIG_USER (a user listed in sig.toml)".into(),
        ));
    };
    let id = name
        .parse()
        .map_err(|_| CliError::Usage(format!("--as: {name:?} is not a user id")))?;
    let user = config.user(&id).ok_or_else(|| {
        CliError::Usage(format!(
            "--as: user {name:?} is not listed in {}'s [[users]]",
            "sig.toml"
        ))
    })?;
    Ok(Who {
        actor: Actor::User(user.id.clone()),
    })
}

/// `--since`: an RFC 3339 instant, or a duration back from now (`45s`, `30m`, `6h`, `7d`).
pub fn parse_since(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, CliError> {
    let t = s.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(t) {
        return Ok(at.with_timezone(&Utc));
    }
    let bad = || {
        CliError::Usage(format!(
            "--since: {s:?} is neither an RFC 3339 instant (2026-11-25T09:00:00-03:00) nor a duration (30m, 6h, 7d)"
        ))
    };
    let unit = t.chars().last().ok_or_else(bad)?;
    let n: i64 = t[..t.len() - unit.len_utf8()].parse().map_err(|_| bad())?;
    let d = match unit {
        's' => chrono::Duration::try_seconds(n),
        'm' => chrono::Duration::try_minutes(n),
        'h' => chrono::Duration::try_hours(n),
        'd' => chrono::Duration::try_days(n),
        _ => None,
    }
    .filter(|_| n >= 0)
    .ok_or_else(bad)?;
    now.checked_sub_signed(d).ok_or_else(bad)
}

fn local(t: DateTime<Utc>) -> String {
    t.with_timezone(&chrono_tz::America::Sao_Paulo)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

fn local_ms(t: DateTime<Utc>) -> String {
    t.with_timezone(&chrono_tz::America::Sao_Paulo)
        .format("%Y-%m-%d %H:%M:%S%.3f")
        .to_string()
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        s.chars().take(n.saturating_sub(1)).collect::<String>() + "…"
    }
}

/// One line of `list`.
#[derive(Debug, Serialize)]
struct ListItem<'a> {
    id: IntegrationId,
    status: IntegrationStatus,
    step: Option<&'a str>,
    company: String,
    account: &'a str,
    proposal: &'a str,
    received_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    finished_at: Option<DateTime<Utc>>,
    attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    integration_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure: Option<&'a sig_core::store::Failure>,
    problems: usize,
}

async fn list(
    store: &dyn Store,
    statuses: &[String],
    dead_letter: bool,
    since: Option<&str>,
    limit: Option<usize>,
    json: bool,
) -> Result<Outcome, CliError> {
    let mut wanted = Vec::new();
    for s in statuses {
        wanted.push(IntegrationStatus::parse(s.trim()).ok_or_else(|| {
            CliError::Usage(format!(
                "--status: {s:?} is not one of pending, held, done, failed, cancelled"
            ))
        })?);
    }
    if dead_letter {
        wanted.extend([IntegrationStatus::Failed, IntegrationStatus::Held]);
    }
    wanted.sort_by_key(|s| s.as_str());
    wanted.dedup();
    let since = since.map(|s| parse_since(s, Utc::now())).transpose()?;
    let mut all = store
        .list(&IntegrationFilter {
            statuses: wanted,
            since,
            limit,
            ..Default::default()
        })
        .await
        .map_err(store_error)?;
    // Oldest first, also when only the newest N were asked for.
    all.sort_by_key(|i| (i.received_at, i.id));
    let items: Vec<ListItem<'_>> = all.iter().map(list_item).collect();
    if json {
        for i in &items {
            println!("{}", serde_json::to_string(i).unwrap_or_default());
        }
    } else {
        print_list(&items);
    }
    let findings = all.iter().any(|i| {
        matches!(
            i.status,
            IntegrationStatus::Failed | IntegrationStatus::Held
        )
    });
    Ok(if findings {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}

fn list_item(i: &Integration) -> ListItem<'_> {
    ListItem {
        id: i.id,
        status: i.status,
        step: i.step.as_deref(),
        company: i.company.to_string(),
        account: &i.source.account,
        proposal: &i.source.proposal_id,
        received_at: i.received_at,
        finished_at: i.finished_at,
        attempts: i.attempts,
        integration_ms: i.integration_ms(),
        failure: i.failure.as_ref(),
        problems: i.problems.len(),
    }
}

fn print_list(items: &[ListItem<'_>]) {
    if items.is_empty() {
        println!("no integration matches");
        return;
    }
    println!(
        "{:<36}  {:<9}  {:<18}  {:<12}  {:<19}  {:>3}  NOTE",
        "ID", "STATUS", "STEP", "PROPOSAL", "RECEIVED (BRT)", "TRY"
    );
    let mut by_status = std::collections::BTreeMap::<&str, usize>::new();
    for i in items {
        *by_status.entry(i.status.as_str()).or_default() += 1;
        let note = match (i.failure, i.status) {
            (Some(f), _) => clip(&format!("{}: {}", f.step, f.reason), 70),
            (None, IntegrationStatus::Held) => format!("{} validation problem(s)", i.problems),
            (None, IntegrationStatus::Done) => i
                .integration_ms
                .map(|ms| format!("done in {ms} ms"))
                .unwrap_or_default(),
            _ => String::new(),
        };
        println!(
            "{:<36}  {:<9}  {:<18}  {:<12}  {:<19}  {:>3}  {note}",
            i.id.to_string(),
            i.status.as_str(),
            clip(i.step.unwrap_or("-"), 18),
            clip(i.proposal, 12),
            local(i.received_at),
            i.attempts,
        );
    }
    let summary: Vec<String> = by_status.iter().map(|(s, n)| format!("{n} {s}")).collect();
    let dead = items
        .iter()
        .filter(|i| {
            matches!(
                i.status,
                IntegrationStatus::Failed | IntegrationStatus::Held
            )
        })
        .count();
    println!(
        "\n{} integration(s): {}; dead letters (failed + held): {dead}",
        items.len(),
        summary.join(", ")
    );
}

/// One event of an integration's timeline (from the audit trail).
#[derive(Debug, Serialize)]
pub struct TimelineEntry {
    /// When.
    pub at: DateTime<Utc>,
    /// What (`intake`, `step.contract:0`, `retry`, `cancel`, `authz.retry_integration`, …).
    pub action: String,
    /// Who.
    pub actor: Actor,
    /// Outcome (`ok`, `error`, `held`, `denied`, `skipped`).
    pub outcome: sig_core::store::AuditOutcome,
    /// The outside system and call, when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call: Option<String>,
    /// How long it took, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// The redacted summary (the error, for a failure).
    pub summary: String,
}

impl From<&AuditEvent> for TimelineEntry {
    fn from(e: &AuditEvent) -> Self {
        TimelineEntry {
            at: e.at,
            action: e.action.clone(),
            actor: e.actor.clone(),
            outcome: e.outcome,
            call: match (&e.system, &e.call) {
                (Some(s), Some(c)) => Some(format!("{s} {c}")),
                (Some(s), None) => Some(s.to_string()),
                (None, Some(c)) => Some(c.clone()),
                (None, None) => None,
            },
            duration_ms: e.duration_ms,
            summary: e.summary.clone(),
        }
    }
}

/// A record SIG created or linked upstream for an integration, from its journal. Direct links
/// to the records (roadmap §1, "Navegação Rápida") belong here, one per record, built from the
/// account's or server's URL template.
#[derive(Debug, Serialize)]
pub struct ExternalRecord {
    /// `omie` or `nextbilling`.
    pub system: &'static str,
    /// `customer`, `contract`, `line`, `did`.
    pub kind: &'static str,
    /// The upstream id.
    pub id: Value,
    /// The ServidorNext, for NextBilling records.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// The service order it belongs to (its index in the proposal), when it belongs to one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<usize>,
}

/// Everything `show` prints.
#[derive(Debug, Serialize)]
pub struct ShowView {
    /// The integration's state.
    pub integration: Value,
    /// Its outcome report (masked tax id, Omie and Next ids, server choices).
    pub report: IntegrationReport,
    /// Upstream records.
    pub records: Vec<ExternalRecord>,
    /// Every audited event, oldest first.
    pub timeline: Vec<TimelineEntry>,
}

/// Build the `show` view of one integration from the store.
pub async fn show_view(store: &dyn Store, id: &IntegrationId) -> Result<ShowView, CliError> {
    let i = store
        .get(*id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| CliError::Failed(format!("integration {id} not found")))?;
    let report = integration_report(store, &i).await.map_err(store_error)?;
    let events = store
        .audit(&AuditFilter {
            integration: Some(*id),
            ..Default::default()
        })
        .await
        .map_err(store_error)?;
    let records = external_records(&report);
    Ok(ShowView {
        integration: json!({
            "id": i.id,
            "status": i.status,
            "step": i.step,
            "company": i.company,
            "source": i.source,
            "actor": i.actor,
            "received_at": i.received_at,
            "finished_at": i.finished_at,
            "attempts": i.attempts,
            "held_ms": i.held_ms,
            "integration_ms": i.integration_ms(),
            "customer": i.customer,
            "failure": i.failure,
            "problems": i.problems,
        }),
        report,
        records,
        timeline: events.iter().map(TimelineEntry::from).collect(),
    })
}

fn external_records(r: &IntegrationReport) -> Vec<ExternalRecord> {
    let mut out = Vec::new();
    if !r.omie["customer"].is_null() {
        out.push(ExternalRecord {
            system: "omie",
            kind: "customer",
            id: r.omie["customer"].clone(),
            server: None,
            order: None,
        });
    }
    for (k, c) in r.omie["contracts"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        out.push(ExternalRecord {
            system: "omie",
            kind: "contract",
            id: c.clone(),
            server: None,
            order: Some(k),
        });
    }
    let mut next_customers = std::collections::BTreeSet::new();
    for (k, o) in r.orders.iter().enumerate() {
        let server = o["server"].as_str().map(str::to_owned);
        if !o["next_customer"].is_null()
            && next_customers.insert((server.clone(), o["next_customer"].to_string()))
        {
            out.push(ExternalRecord {
                system: "nextbilling",
                kind: "customer",
                id: o["next_customer"].clone(),
                server: server.clone(),
                order: None,
            });
        }
        for l in o["lines"].as_array().into_iter().flatten() {
            out.push(ExternalRecord {
                system: "nextbilling",
                kind: "line",
                id: l["id"].clone(),
                server: server.clone(),
                order: Some(k),
            });
        }
        for d in o["dids"].as_array().into_iter().flatten() {
            out.push(ExternalRecord {
                system: "nextbilling",
                kind: "did",
                id: d.clone(),
                server: server.clone(),
                order: Some(k),
            });
        }
    }
    out
}

async fn show(store: &dyn Store, id: &IntegrationId, json: bool) -> Result<Outcome, CliError> {
    let v = show_view(store, id).await?;
    if json {
        println!("{}", serde_json::to_string(&v).unwrap_or_default());
    } else {
        print_show(&v);
    }
    let status = v.report.status;
    Ok(
        if matches!(status, IntegrationStatus::Failed | IntegrationStatus::Held) {
            Outcome::Findings
        } else {
            Outcome::Clean
        },
    )
}

fn print_show(v: &ShowView) {
    let i = &v.integration;
    let r = &v.report;
    println!(
        "Integration {} — {}{}",
        r.integration,
        r.status,
        i["step"]
            .as_str()
            .map(|s| format!(" (last step {s})"))
            .unwrap_or_default()
    );
    println!(
        "  company {} · source {}/{}{} · received by {}",
        i["company"].as_str().unwrap_or("?"),
        i["source"]["account"].as_str().unwrap_or("?"),
        r.proposal,
        r.code
            .as_deref()
            .map(|c| format!(" ({c})"))
            .unwrap_or_default(),
        i["actor"]["type"].as_str().unwrap_or("?"),
    );
    println!(
        "  customer {} · tax id {} · attempts {} · integration time {} · held {} ms",
        r.customer.as_deref().unwrap_or("-"),
        r.tax_id.as_deref().unwrap_or("-"),
        i["attempts"],
        r.integration_ms
            .map(|ms| format!("{ms} ms"))
            .unwrap_or_else(|| "-".into()),
        i["held_ms"],
    );

    println!("\nTimeline (BRT)");
    let start = v.timeline.first().map(|e| e.at);
    for e in &v.timeline {
        let offset = start
            .map(|s| format!("+{:.3}s", (e.at - s).num_milliseconds() as f64 / 1000.0))
            .unwrap_or_default();
        let outcome = serde_json::to_value(e.outcome)
            .ok()
            .and_then(|o| o.as_str().map(str::to_owned))
            .unwrap_or_default();
        println!(
            "  {}  {:>9}  {:<26} {:<7} {:>8}  {:<28} {}",
            local_ms(e.at),
            offset,
            clip(&e.action, 26),
            outcome,
            e.duration_ms.map(|d| format!("{d} ms")).unwrap_or_default(),
            clip(e.call.as_deref().unwrap_or(""), 28),
            clip(&e.summary, 100),
        );
    }

    println!("\nExternal records");
    if v.records.is_empty() {
        println!("  none yet");
    }
    for rec in &v.records {
        let place = match (&rec.server, rec.order) {
            (Some(s), Some(o)) => format!(" on {s}, order {o}"),
            (Some(s), None) => format!(" on {s}"),
            (None, Some(o)) => format!(", order {o}"),
            (None, None) => String::new(),
        };
        println!("  {} {} {}{place}", rec.system, rec.kind, rec.id);
    }
    for (k, o) in r.orders.iter().enumerate() {
        if let Some(why) = o["why"].as_str() {
            println!(
                "  order {k}: server {} — {why}",
                o["server"].as_str().unwrap_or("?")
            );
        }
    }

    if let Some(f) = i["failure"].as_object() {
        let retryable = f.get("retryable").and_then(Value::as_bool).unwrap_or(false);
        println!(
            "\nFailed at {}{}{}: {}",
            f.get("step").and_then(Value::as_str).unwrap_or("?"),
            f.get("system")
                .and_then(Value::as_str)
                .map(|s| format!(" ({s})"))
                .unwrap_or_default(),
            f.get("code")
                .and_then(Value::as_str)
                .map(|c| format!(" code {c}"))
                .unwrap_or_default(),
            f.get("reason").and_then(Value::as_str).unwrap_or("")
        );
        println!(
            "  {} — `sig integrations retry {}` after the fix",
            if retryable {
                "retries ran out on a transient failure"
            } else {
                "a permanent failure: something upstream or in the data must be fixed first"
            },
            r.integration
        );
    }
    if let Some(problems) = i["problems"].as_array().filter(|p| !p.is_empty()) {
        println!("\nHeld for a person: {} problem(s)", problems.len());
        for p in problems {
            println!(
                "  ✗ {}: {} ({}){}",
                p["field"].as_str().unwrap_or("?"),
                p["message"].as_str().unwrap_or(""),
                p["code"].as_str().unwrap_or(""),
                p["source_field"]
                    .as_str()
                    .map(|s| format!(" [source {s}]"))
                    .unwrap_or_default()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_instants_and_durations() {
        let now: DateTime<Utc> = "2026-11-25T12:00:00Z".parse().unwrap();
        assert_eq!(
            parse_since("2026-11-25T09:00:00-03:00", now).unwrap(),
            now,
            "an instant with its offset"
        );
        assert_eq!(
            parse_since("90m", now).unwrap(),
            now - chrono::Duration::minutes(90)
        );
        assert_eq!(
            parse_since("7d", now).unwrap(),
            now - chrono::Duration::days(7)
        );
        for bad in ["", "yesterday", "-3h", "10w", "h"] {
            assert!(
                matches!(parse_since(bad, now), Err(CliError::Usage(m)) if m.contains("--since")),
                "{bad:?} must be refused naming the flag"
            );
        }
    }
}
