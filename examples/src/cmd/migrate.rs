//! `sig migrate FILE.csv` — migrate historical customers from a CSV file (format:
//! `docs/migration.md`). A dry run by default: every row is validated and checked against
//! SIG's store and Omie (by CPF/CNPJ), and the report says what would happen; nothing is
//! written anywhere. `--apply` registers the rows and integrates them through the pipeline.
//!
//! A progress bar goes to stderr (hidden when stderr is not a terminal, and with `--json`).
//! The output lists every row a person should look at — rejected rows with their field
//! errors, duplicates, customers SIG or Omie already has, failures — then a summary with the
//! rows per second. `--json`: one JSON object per such row, then the summary object.
//! Running it again is safe: rows already migrated are recognised by CPF/CNPJ, and what an
//! interrupted run left pending is finished (once the interrupted run's leases, `--lease`,
//! have ended).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;
use sig_core::migrate::{
    Layout, MigrationOptions, MigrationReport, MigrationRow, Progress, RowOutcome,
    detect_delimiter, migrate,
};
use sig_core::pipeline::Settings;

use super::access::{ActingArgs, resolve};
use crate::runtime::{Runtime, open_store};
use crate::{CliError, Outcome};

/// `sig migrate` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    acting: ActingArgs,
    /// The CSV file.
    #[arg(value_name = "FILE.csv")]
    file: PathBuf,
    /// Register and integrate the rows (default: a dry run that changes nothing).
    #[arg(long)]
    apply: bool,
    /// JSON lines instead of the human report (and no progress bar).
    #[arg(long)]
    json: bool,
    /// List every row, not only those a person should look at.
    #[arg(long)]
    all: bool,
    /// How long this run keeps the integrations it claims, in seconds; after a crash, a new
    /// run waits this long for the crashed run's claims to end.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    lease: u64,
    /// Rows registered before the pipeline integrates them.
    #[arg(long, value_name = "ROWS", default_value_t = 256)]
    chunk: usize,
    /// Integrations in flight at once.
    #[arg(long, value_name = "N", default_value_t = 16)]
    concurrency: usize,
}

/// Read a migration CSV: its layout and its records. The delimiter (`,` or `;`) is detected
/// from the header line. A record that cannot be read (not UTF-8, broken quoting) becomes a
/// row the migration rejects, not a failure of the whole file.
pub fn read_csv(path: &Path) -> Result<(Layout, Vec<MigrationRow>), CliError> {
    let bytes = std::fs::read(path)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))?;
    read_csv_bytes(&bytes).map_err(|e| match e {
        CliError::Usage(m) => CliError::Usage(format!("{}: {m}", path.display())),
        other => other,
    })
}

/// [`read_csv`] on the file's bytes.
pub fn read_csv_bytes(bytes: &[u8]) -> Result<(Layout, Vec<MigrationRow>), CliError> {
    let first_line = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    let delimiter = detect_delimiter(&String::from_utf8_lossy(first_line));
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(true)
        .from_reader(bytes);
    let header = reader
        .headers()
        .map_err(|e| CliError::Usage(format!("the header cannot be read: {e}")))?
        .clone();
    if header.is_empty() {
        return Err(CliError::Usage("the file is empty".into()));
    }
    let names: Vec<&str> = header.iter().collect();
    let layout = Layout::from_header(&names).map_err(|p| {
        CliError::Usage(format!(
            "the header is invalid: {}",
            p.iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        ))
    })?;
    let mut rows = Vec::new();
    let mut record = csv::ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let row = record.position().map_or(0, |p| p.line());
                let fields: Result<Vec<String>, _> = record
                    .iter()
                    .map(|f| String::from_utf8(f.to_vec()))
                    .collect();
                rows.push(match fields {
                    Ok(fields) => MigrationRow {
                        row,
                        fields,
                        unreadable: None,
                    },
                    Err(_) => MigrationRow {
                        row,
                        fields: Vec::new(),
                        unreadable: Some(
                            "the row is not UTF-8 text: save the file as UTF-8".into(),
                        ),
                    },
                });
            }
            Err(e) => {
                let row = e.position().map_or(0, |p| p.line());
                let broken = matches!(e.kind(), csv::ErrorKind::Io(_));
                if broken {
                    return Err(CliError::Failed(format!("reading the file: {e}")));
                }
                rows.push(MigrationRow {
                    row,
                    fields: Vec::new(),
                    unreadable: Some(format!("the row cannot be read: {e}")),
                });
            }
        }
    }
    Ok((layout, rows))
}

/// Whether a row goes to the output without `--all`.
pub fn notable(o: &RowOutcome) -> bool {
    o.is_finding()
        || matches!(
            o,
            RowOutcome::KnownInSig { .. }
                | RowOutcome::WouldAdopt { .. }
                | RowOutcome::Integrated { adopted: true, .. }
        )
}

/// Run `sig migrate`.
pub async fn run(args: Args) -> Result<Outcome, CliError> {
    let acting = resolve(&args.acting)?;
    let (layout, rows) = read_csv(&args.file)?;
    let store = open_store(&acting.config)?;
    let settings = Settings {
        concurrency: args.concurrency.max(1),
        lease: Duration::from_secs(args.lease.max(1)),
        ..Settings::default()
    };
    let rt = Runtime::build(&acting.config, store, settings).await?;
    let mut options = MigrationOptions::new(
        acting.company.clone(),
        args.file
            .file_name()
            .map_or_else(|| "file".to_owned(), |n| n.to_string_lossy().into_owned()),
    );
    options.apply = args.apply;
    options.chunk = args.chunk.max(1);

    let bar = if args.json || !std::io::stderr().is_terminal() {
        indicatif::ProgressBar::hidden()
    } else {
        let b = indicatif::ProgressBar::new(rows.len() as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg} [{elapsed_precise}] {wide_bar} {pos}/{len} rows ({per_sec}, ETA {eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b.set_message(if args.apply { "migrating" } else { "checking" });
        b
    };
    let progress_bar = bar.clone();
    let mut progress = move |p: Progress| {
        progress_bar.set_length(p.total);
        progress_bar.set_position(p.done);
        std::ops::ControlFlow::Continue(())
    };
    let result = migrate(
        &rt.pipeline,
        &acting.policy,
        &acting.actor,
        acting.profile,
        &options,
        &layout,
        rows,
        &mut progress,
    )
    .await;
    bar.finish_and_clear();
    rt.persist_limits().await?;
    let report = result.map_err(|e| match e {
        sig_core::migrate::MigrateError::Denied(d) => CliError::Failed(d.to_string()),
        other => CliError::Failed(format!("migration: {other}")),
    })?;
    // The Omie windows the run used (1.0: Omie's own; less: a sandbox's shortened ones).
    let scale = acting
        .config
        .omie_accounts
        .values()
        .map(|a| a.time_scale)
        .fold(1.0_f64, f64::min);
    print_report(&report, &args, scale)?;
    Ok(if report.has_findings() {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}

fn print_report(report: &MigrationReport, args: &Args, scale: f64) -> Result<(), CliError> {
    let out = std::io::stdout();
    let mut out = std::io::BufWriter::new(out.lock());
    let w = |e: std::io::Error| CliError::Failed(format!("writing the report: {e}"));
    let shown = report
        .rows
        .iter()
        .filter(|r| args.all || notable(&r.outcome));
    let s = &report.summary;
    if args.json {
        for r in shown {
            let mut v = serde_json::to_value(r).unwrap_or_default();
            v["type"] = json!("row");
            writeln!(out, "{v}").map_err(w)?;
        }
        let mut v = serde_json::to_value(s).unwrap_or_default();
        v["type"] = json!("summary");
        v["omie_window_scale"] = json!(scale);
        writeln!(out, "{v}").map_err(w)?;
    } else {
        for r in shown {
            match &r.outcome {
                RowOutcome::Rejected { problems } => {
                    writeln!(out, "row {}: rejected", r.row).map_err(w)?;
                    for p in problems.iter() {
                        let col = p
                            .source_field
                            .as_deref()
                            .map(|c| format!(" [column {c}]"))
                            .unwrap_or_default();
                        writeln!(out, "    ✗ {}{col}: {} ({})", p.field, p.message, p.code)
                            .map_err(w)?;
                    }
                }
                other => writeln!(out, "row {}: {other}", r.row).map_err(w)?,
            }
        }
        writeln!(
            out,
            "\n{} — {} rows, {} valid, {} registered now",
            if s.apply {
                "Migration"
            } else {
                "Dry run (nothing written; --apply to migrate)"
            },
            s.rows,
            s.valid,
            s.registered
        )
        .map_err(w)?;
        let outcomes: Vec<String> = s.outcomes.iter().map(|(k, v)| format!("{k} {v}")).collect();
        writeln!(out, "Rows by outcome: {}", outcomes.join(", ")).map_err(w)?;
        if s.apply {
            writeln!(
                out,
                "Omie customers: {} created, {} adopted, {} matched",
                s.erp_created, s.erp_adopted, s.erp_matched
            )
            .map_err(w)?;
        }
        writeln!(
            out,
            "{:.1} rows/s ({} ms){}",
            s.rows_per_second,
            s.elapsed_ms,
            if scale < 1.0 {
                format!("; Omie limit windows scaled ×{scale}")
            } else {
                String::new()
            }
        )
        .map_err(w)?;
    }
    out.flush().map_err(w)
}
