//! `sig sync` — run the pipeline against the endpoints `sig.toml` names: reconcile every
//! company's approved DocSales proposals (intake is idempotent by source key, so an approval
//! whose webhook never arrived is picked up and a known one changes nothing), then integrate
//! whatever is due.
//!
//! - `--once`: one reconciliation pass, then every pending integration is run to its end
//!   (done, held or failed; transient failures are retried with backoff meanwhile), then a
//!   summary and exit. Safe to kill at any moment and run again: the journal resumes each
//!   integration where it stopped, and upstream calls find what a killed run created.
//! - without it: a worker loop until SIGINT/SIGTERM — reconciliation every
//!   `--reconcile-every`, due work polled every `--poll` — that lets the batch in flight
//!   finish before it exits.
//!
//! Output: a human summary, or with `--json` one JSON object per line (`{"event": "pass", …}`
//! per reconciliation pass, `{"event": "summary", …}` at the end).

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use serde_json::json;
use sig_core::pipeline::Reconciled;
use sig_core::store::{IntegrationFilter, IntegrationStatus, Store};

use crate::runtime::{Runtime, load_config, open_store};
use crate::{CliError, Outcome};

/// `sig sync` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The configuration file.
    #[arg(long, value_name = "FILE", env = "SIG_CONFIG")]
    config: PathBuf,
    /// Reconcile once, run everything pending to its end, then exit.
    #[arg(long)]
    once: bool,
    /// Skip reconciliation (integrate only what is already in the store).
    #[arg(long)]
    no_reconcile: bool,
    /// Seconds between reconciliation passes (worker loop).
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    reconcile_every: u64,
    /// Milliseconds between polls for due work (worker loop).
    #[arg(long, value_name = "MS", default_value_t = 500)]
    poll: u64,
    /// One JSON object per line instead of human output.
    #[arg(long)]
    json: bool,
}

/// Integrations per status, read from the store.
#[derive(Debug, Default, Serialize)]
pub struct StatusCounts {
    /// Pending (not finished).
    pub pending: usize,
    /// Held for a person.
    pub held: usize,
    /// Done.
    pub done: usize,
    /// Failed.
    pub failed: usize,
    /// Cancelled.
    pub cancelled: usize,
}

impl StatusCounts {
    /// Count every integration in the store.
    pub async fn read(store: &dyn Store) -> Result<Self, CliError> {
        let all = store
            .list(&IntegrationFilter::default())
            .await
            .map_err(|e| CliError::Failed(format!("cannot read the store: {e}")))?;
        let mut c = StatusCounts::default();
        for i in &all {
            match i.status {
                IntegrationStatus::Pending => c.pending += 1,
                IntegrationStatus::Held => c.held += 1,
                IntegrationStatus::Done => c.done += 1,
                IntegrationStatus::Failed => c.failed += 1,
                IntegrationStatus::Cancelled => c.cancelled += 1,
            }
        }
        Ok(c)
    }
}

/// Run `sig sync`.
pub async fn run(args: Args) -> Result<Outcome, CliError> {
    let config = load_config(&args.config)?;
    let store = open_store(&config)?;
    let rt = Runtime::build(&config, store.clone(), config.pipeline.clone()).await?;
    if args.once {
        if !args.no_reconcile {
            let r = reconcile(&rt).await?;
            report_pass(&r, args.json);
        }
        rt.run_until_idle().await?;
    } else {
        worker_loop(&rt, &args).await?;
    }
    let counts = StatusCounts::read(store.as_ref()).await?;
    if args.json {
        println!("{}", json!({"event": "summary", "integrations": counts}));
    } else {
        println!(
            "integrations: {} done, {} failed, {} held, {} pending, {} cancelled",
            counts.done, counts.failed, counts.held, counts.pending, counts.cancelled
        );
    }
    Ok(if counts.failed + counts.held + counts.pending > 0 {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}

async fn reconcile(rt: &Runtime) -> Result<Reconciled, CliError> {
    rt.pipeline
        .reconcile()
        .await
        .map_err(|e| CliError::Failed(format!("reconciliation: {e}")))
}

fn report_pass(r: &Reconciled, json: bool) {
    if json {
        println!("{}", json!({"event": "pass", "reconciled": r}));
        return;
    }
    println!(
        "reconciliation: {} approved proposals listed, {} new, {} already known",
        r.seen, r.created, r.known
    );
    for f in &r.failures {
        println!(
            "  ✗ company {}: {}{}",
            f.company,
            f.reason,
            if f.retryable { " (will try again)" } else { "" }
        );
    }
}

async fn worker_loop(rt: &Runtime, args: &Args) -> Result<(), CliError> {
    let mut stop = tokio::spawn(crate::shutdown_signal());
    let reconcile_every = Duration::from_secs(args.reconcile_every.max(1));
    let poll = Duration::from_millis(args.poll.max(10));
    let mut next_reconcile = tokio::time::Instant::now();
    loop {
        if stop.is_finished() {
            return Ok(());
        }
        if !args.no_reconcile && tokio::time::Instant::now() >= next_reconcile {
            let r = reconcile(rt).await?;
            report_pass(&r, args.json);
            next_reconcile = tokio::time::Instant::now() + reconcile_every;
        }
        // A stop during a run drains the pipeline: nothing more is claimed, integrations
        // waiting for a turn are given back, running ones park after their current step
        // (each step is journaled before the next).
        let run = rt.pipeline.run_due();
        tokio::pin!(run);
        let (ran, stopped) = tokio::select! {
            r = &mut run => (r, false),
            _ = &mut stop => {
                rt.pipeline.drain();
                (run.await, true)
            }
        };
        let ran = ran.map_err(|e| CliError::Failed(format!("pipeline: {e}")))?;
        rt.persist_limits().await?;
        if stopped {
            return Ok(());
        }
        if ran > 0 {
            continue;
        }
        tokio::select! {
            _ = &mut stop => return Ok(()),
            _ = tokio::time::sleep(poll) => {}
        }
    }
}
