//! Migration of historical data (roadmap §1, "Cadastro Direto" for old customers): rows of a
//! table — one per customer, its service orders in numbered column groups — become direct
//! registrations that run through the pipeline.
//!
//! This module is CSV-free: the `sig` binary and the Python bindings read the file with the
//! `csv` crate and hand the records over as [`MigrationRow`]s; the header and row mapping
//! ([`Layout`]), the de-duplication, the dry run and the integration ([`migrate`]) are here,
//! once. The file format is documented in `docs/migration.md`.
//!
//! For each row, in file order:
//! 1. **Map and validate** (the same rules as a proposal; service orders optional). An
//!    invalid row is *rejected* with every problem, each naming the domain field and the
//!    column it came from.
//! 2. **De-duplicate in the file**: a valid row whose CPF/CNPJ an earlier valid row already
//!    has is a *duplicate* (the earlier row wins).
//! 3. **De-duplicate against SIG**: a customer SIG registered before (an earlier run of this
//!    or another file) is *already migrated*; its integration is resumed if it had not
//!    finished. A customer SIG knows from a DocSales proposal is *known in SIG* and skipped.
//! 4. **De-duplicate against the ERP**: a dry run looks the CPF/CNPJ up in Omie and reports
//!    whether the customer *would be created* or *would be adopted*; an applied run lets the
//!    pipeline's ERP step adopt the existing Omie record (DESIGN.md: SIG keeps Omie's id and
//!    sets its own code only if the record has none).
//! 5. **Apply** (`apply = true` only): the row is registered with source key (`sig`, SIG
//!    customer id) in one store transaction, and the pipeline integrates it.
//!
//! **Resumable**: the source key depends on the customer's tax id only, never on the row's
//! position, so running the same (or a reordered, or a corrected) file again registers
//! nothing twice, and finishes what an interrupted run left pending (after the lease of the
//! interrupted run's claims ends). Upstream, every effect is keyed by SIG's ids, so an effect
//! repeated after a crash finds the record instead of creating another.
//!
//! **Authorization**: the action `migrate`, checked once per run against the policy and
//! audited, allowed or denied; each registered row is audited as `migrate.row` with its row
//! number, and the run as `migrate` with its counts (never personal data).

use std::collections::HashMap;
use std::collections::btree_map::BTreeMap;
use std::fmt;
use std::ops::ControlFlow;
use std::time::Instant;

use futures::StreamExt;
use serde::{Deserialize, Serialize};

use crate::authz::{Action, Denied, Policy};
use crate::config::Profile;
use crate::ids::{CompanyId, CustomerId, IntegrationId};
use crate::pipeline::{
    AuthorizeError, FindError, Pipeline, PipelineError, RawRegistration, RegisterOutcome,
};
use crate::ports::{ErpCustomer, SourceKey};
use crate::problem::{Code, Problem, Problems, trim_ascii};
use crate::raw::{RawAddress, RawCustomer, RawOrder};
use crate::store::{Actor, AuditEvent, AuditOutcome, IntegrationStatus, StoreError};
use crate::taxid::TaxId;

// ---------------------------------------------------------------------------------------
// The file's layout.

/// A customer column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum CustomerCol {
    TaxId,
    LegalName,
    TradeName,
    ContactName,
    Emails,
    Phones,
    Street,
    Number,
    Complement,
    District,
    City,
    Uf,
    Cep,
    StateRegistration,
    MunicipalRegistration,
}

const CUSTOMER_COLS: [(&str, CustomerCol, &str); 15] = [
    ("tax_id", CustomerCol::TaxId, "customer.tax_id"),
    ("legal_name", CustomerCol::LegalName, "customer.legal_name"),
    ("trade_name", CustomerCol::TradeName, "customer.trade_name"),
    (
        "contact_name",
        CustomerCol::ContactName,
        "customer.contact_name",
    ),
    ("emails", CustomerCol::Emails, "customer.emails"),
    ("phones", CustomerCol::Phones, "customer.phones"),
    ("street", CustomerCol::Street, "customer.address.street"),
    ("number", CustomerCol::Number, "customer.address.number"),
    (
        "complement",
        CustomerCol::Complement,
        "customer.address.complement",
    ),
    (
        "district",
        CustomerCol::District,
        "customer.address.district",
    ),
    ("city", CustomerCol::City, "customer.address.city"),
    ("uf", CustomerCol::Uf, "customer.address.uf"),
    ("cep", CustomerCol::Cep, "customer.address.cep"),
    (
        "state_registration",
        CustomerCol::StateRegistration,
        "customer.state_registration",
    ),
    (
        "municipal_registration",
        CustomerCol::MunicipalRegistration,
        "customer.municipal_registration",
    ),
];

/// A column of an order group (`order1_product`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum OrderCol {
    Product,
    Quantity,
    SipLines,
    Channels,
    AreaCode,
    Dids,
    MonthlyValue,
    StartDate,
    BillingDay,
}

const ORDER_COLS: [(&str, OrderCol); 9] = [
    ("product", OrderCol::Product),
    ("quantity", OrderCol::Quantity),
    ("sip_lines", OrderCol::SipLines),
    ("channels", OrderCol::Channels),
    ("area_code", OrderCol::AreaCode),
    ("dids", OrderCol::Dids),
    ("monthly_value", OrderCol::MonthlyValue),
    ("start_date", OrderCol::StartDate),
    ("billing_day", OrderCol::BillingDay),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Col {
    Customer(CustomerCol),
    Order(u32, OrderCol),
}

/// The columns of a migration file, read from its header: which customer field or order
/// field each column holds. Built once per file with [`Layout::from_header`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    names: Vec<String>,
    cols: Vec<Col>,
    /// Order group numbers present, ascending.
    groups: Vec<u32>,
}

/// The most order groups a file may have (`order1_…` to `order50_…`).
pub const MAX_ORDER_GROUPS: u32 = 50;

/// The separators of a cell that lists several values (e-mails, phones, DIDs).
pub const LIST_SEPARATORS: [char; 2] = [';', ','];

impl Layout {
    /// Read a header. Names are matched case-insensitively after trimming ASCII whitespace
    /// (and a UTF-8 byte-order mark on the first). Every problem is reported at once, at the
    /// field `header[i]` (0-based column index): an unknown or repeated column, an order
    /// group number out of range, and a missing `tax_id` column.
    pub fn from_header<S: AsRef<str>>(header: &[S]) -> Result<Layout, Problems> {
        let mut p = Problems::new();
        let mut names = Vec::with_capacity(header.len());
        let mut cols = Vec::with_capacity(header.len());
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut groups = Vec::new();
        for (i, raw) in header.iter().enumerate() {
            let raw = raw.as_ref();
            let raw = if i == 0 {
                raw.strip_prefix('\u{feff}').unwrap_or(raw)
            } else {
                raw
            };
            let name = trim_ascii(raw).to_ascii_lowercase();
            let at = format!("header[{i}]");
            if let Some(first) = seen.get(&name) {
                p.add(
                    at,
                    Code::Duplicate,
                    format!("column '{name}' repeats column {first}"),
                );
                names.push(name);
                continue;
            }
            seen.insert(name.clone(), i);
            match parse_column(&name) {
                Ok(col) => {
                    if let Col::Order(n, _) = col
                        && !groups.contains(&n)
                    {
                        groups.push(n);
                    }
                    cols.push(col);
                }
                Err(message) => p.add(at, Code::UnknownReference, message),
            }
            names.push(name);
        }
        if !seen.contains_key("tax_id") {
            p.add(
                "header",
                Code::Required,
                "the file needs a tax_id column (CPF or CNPJ)",
            );
        }
        if !p.is_empty() {
            return Err(p);
        }
        groups.sort_unstable();
        Ok(Layout {
            names,
            cols,
            groups,
        })
    }

    /// How many columns the header has.
    pub fn width(&self) -> usize {
        self.cols.len()
    }

    /// The order groups the file has (1-based numbers).
    pub fn order_groups(&self) -> &[u32] {
        &self.groups
    }

    /// Map one record to a registration. An order group whose cells are all blank is no
    /// order. A record with another number of fields than the header is refused (at the
    /// field `row`).
    pub fn registration<S: AsRef<str>>(&self, fields: &[S]) -> Result<Mapped, Problems> {
        if fields.len() != self.cols.len() {
            let mut p = Problems::new();
            p.add(
                "row",
                Code::Inconsistent,
                format!(
                    "the row has {} fields, the header {}",
                    fields.len(),
                    self.cols.len()
                ),
            );
            return Err(p);
        }
        let mut customer = RawCustomer::default();
        let mut orders: BTreeMap<u32, RawOrder> = BTreeMap::new();
        for (col, value) in self.cols.iter().zip(fields) {
            let value = value.as_ref();
            let text = || Some(value.to_owned()).filter(|v| !trim_ascii(v).is_empty());
            match *col {
                Col::Customer(c) => {
                    let a: &mut RawAddress = &mut customer.address;
                    match c {
                        CustomerCol::TaxId => customer.tax_id = text(),
                        CustomerCol::LegalName => customer.legal_name = text(),
                        CustomerCol::TradeName => customer.trade_name = text(),
                        CustomerCol::ContactName => customer.contact_name = text(),
                        CustomerCol::Emails => customer.emails = list(value),
                        CustomerCol::Phones => customer.phones = list(value),
                        CustomerCol::Street => a.street = text(),
                        CustomerCol::Number => a.number = text(),
                        CustomerCol::Complement => a.complement = text(),
                        CustomerCol::District => a.district = text(),
                        CustomerCol::City => a.city = text(),
                        CustomerCol::Uf => a.uf = text(),
                        CustomerCol::Cep => a.cep = text(),
                        CustomerCol::StateRegistration => customer.state_registration = text(),
                        CustomerCol::MunicipalRegistration => {
                            customer.municipal_registration = text()
                        }
                    }
                }
                Col::Order(n, c) => {
                    if trim_ascii(value).is_empty() {
                        continue;
                    }
                    let o = orders.entry(n).or_default();
                    match c {
                        OrderCol::Product => o.product = text(),
                        OrderCol::Quantity => o.quantity = text(),
                        OrderCol::SipLines => o.sip_lines = text(),
                        OrderCol::Channels => o.channels = text(),
                        OrderCol::AreaCode => o.area_code = text(),
                        OrderCol::Dids => o.dids = list(value),
                        OrderCol::MonthlyValue => o.monthly_value = text(),
                        OrderCol::StartDate => o.start_date = text(),
                        OrderCol::BillingDay => o.billing_day = text(),
                    }
                }
            }
        }
        let groups: Vec<u32> = orders.keys().copied().collect();
        Ok(Mapped {
            registration: RawRegistration {
                customer,
                orders: orders.into_values().collect(),
            },
            groups,
        })
    }

    /// Name the column each problem came from (`source_field`), for a row mapped into
    /// `mapped` (whose `orders[i]` is the i-th non-blank order group).
    pub fn trace(&self, mapped: &Mapped, problems: &mut Problems) {
        for (name, col) in self.names.iter().zip(&self.cols) {
            match *col {
                Col::Customer(c) => {
                    let path = CUSTOMER_COLS
                        .iter()
                        .find(|(_, cc, _)| *cc == c)
                        .map(|(_, _, path)| *path);
                    if let Some(path) = path {
                        problems.trace_source(path, name);
                    }
                }
                Col::Order(n, c) => {
                    let Some(i) = mapped.groups.iter().position(|g| *g == n) else {
                        continue;
                    };
                    let field = ORDER_COLS
                        .iter()
                        .find(|(_, oc)| *oc == c)
                        .map(|(f, _)| *f)
                        .unwrap_or_default();
                    problems.trace_source(&format!("orders[{i}].{field}"), name);
                }
            }
        }
    }
}

/// One record mapped to a registration, with the order group each of its orders came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    /// The registration.
    pub registration: RawRegistration,
    /// `groups[i]` is the group number of `registration.orders[i]`.
    pub groups: Vec<u32>,
}

fn parse_column(name: &str) -> Result<Col, String> {
    if let Some((_, c, _)) = CUSTOMER_COLS.iter().find(|(n, _, _)| *n == name) {
        return Ok(Col::Customer(*c));
    }
    if let Some(rest) = name.strip_prefix("order")
        && let Some((num, field)) = rest.split_once('_')
        && !num.is_empty()
        && num.bytes().all(|b| b.is_ascii_digit())
    {
        let Some((_, c)) = ORDER_COLS.iter().find(|(f, _)| *f == field) else {
            return Err(format!(
                "unknown order column '{name}': an order group has {}",
                ORDER_COLS.map(|(f, _)| f).join(", ")
            ));
        };
        return match num.parse::<u32>() {
            Ok(n) if (1..=MAX_ORDER_GROUPS).contains(&n) && !num.starts_with('0') => {
                Ok(Col::Order(n, *c))
            }
            _ => Err(format!(
                "order groups are numbered 1 to {MAX_ORDER_GROUPS} without leading zeros, got '{num}'"
            )),
        };
    }
    Err(format!(
        "unknown column '{name}': customer columns are {}, order columns order<N>_<field>",
        CUSTOMER_COLS.map(|(n, _, _)| n).join(", ")
    ))
}

/// Split a list cell on `;` or `,`, dropping blanks.
fn list(value: &str) -> Vec<String> {
    value
        .split(LIST_SEPARATORS)
        .map(trim_ascii)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The field delimiter of a file, from its header line: `;` when the line has more
/// semicolons than commas (a spreadsheet's export in a Brazilian locale), else `,`.
pub fn detect_delimiter(header_line: &str) -> u8 {
    let semis = header_line.matches(';').count();
    let commas = header_line.matches(',').count();
    if semis > commas { b';' } else { b',' }
}

// ---------------------------------------------------------------------------------------
// The run.

/// One record of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationRow {
    /// The file line the record starts on (the header is line 1): a spreadsheet's row
    /// number when no cell spans lines.
    pub row: u64,
    /// The fields, in header order.
    pub fields: Vec<String>,
    /// Why the reader could not read the record (not UTF-8, broken quoting): the row is
    /// rejected with this message at the field `row`.
    pub unreadable: Option<String>,
}

impl MigrationRow {
    /// A record read at `row`.
    pub fn new(row: u64, fields: Vec<String>) -> Self {
        MigrationRow {
            row,
            fields,
            unreadable: None,
        }
    }
}

/// How a migration runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationOptions {
    /// The company the customers belong to.
    pub company: CompanyId,
    /// `false`: a dry run — validate and check every row, change nothing anywhere.
    pub apply: bool,
    /// What the file is called, for the audit (a file name, never its contents).
    pub source_name: String,
    /// Rows registered before the pipeline runs them (applied runs).
    pub chunk: usize,
    /// ERP look-ups in flight at once (dry runs).
    pub lookups_in_flight: usize,
}

impl MigrationOptions {
    /// A dry run for `company` with the default chunk and look-up concurrency.
    pub fn new(company: CompanyId, source_name: impl Into<String>) -> Self {
        MigrationOptions {
            company,
            apply: false,
            source_name: source_name.into(),
            chunk: 256,
            lookups_in_flight: 4,
        }
    }
}

/// What happened to one row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum RowOutcome {
    /// Invalid: every problem, each with the column it came from.
    Rejected {
        /// The problems.
        problems: Problems,
    },
    /// The same CPF/CNPJ as an earlier valid row of the file, which wins.
    Duplicate {
        /// The earlier row.
        first_row: u64,
    },
    /// SIG knows the customer from a DocSales proposal: not migrated.
    KnownInSig {
        /// The SIG customer.
        customer: CustomerId,
    },
    /// Registered by an earlier run (or an earlier registration) and finished there.
    AlreadyMigrated {
        /// The SIG customer.
        customer: CustomerId,
        /// Its integration.
        integration: IntegrationId,
        /// Where the integration stands.
        status: IntegrationStatus,
    },
    /// Dry run: would be registered and created in the ERP.
    WouldCreate,
    /// Dry run: would be registered, adopting the ERP's existing record.
    WouldAdopt {
        /// The ERP's id of the record (Omie `codigo_cliente_omie`).
        erp_id: i64,
    },
    /// Dry run: the ERP look-up failed (the row is valid; run again to check it).
    CheckFailed {
        /// Why.
        reason: String,
    },
    /// Integrated (done).
    Integrated {
        /// The SIG customer.
        customer: CustomerId,
        /// Its integration.
        integration: IntegrationId,
        /// The ERP's id of the customer.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        erp_id: Option<i64>,
        /// Whether an existing ERP record under another system's integration code was
        /// adopted (it keeps that code; SIG links it by the ERP's id).
        adopted: bool,
        /// Whether the ERP record was created for this customer (best effort: the ERP's
        /// answer text); neither created nor adopted means an existing record without an
        /// integration code now carries SIG's, or SIG's own record was found.
        erp_created: bool,
        /// Whether this run finished an integration an earlier, interrupted run started.
        resumed: bool,
    },
    /// Registered but stopped for a person (its problems).
    Held {
        /// The SIG customer.
        customer: CustomerId,
        /// Its integration.
        integration: IntegrationId,
        /// The problems.
        problems: Problems,
    },
    /// Registered but failed upstream; an operator may retry it.
    Failed {
        /// The SIG customer.
        customer: CustomerId,
        /// Its integration.
        integration: IntegrationId,
        /// The step that failed.
        step: String,
        /// Why.
        reason: String,
        /// Whether retrying can help.
        retryable: bool,
    },
    /// Registered; still pending (waiting out a retry or another worker's lease).
    Pending {
        /// The SIG customer.
        customer: CustomerId,
        /// Its integration.
        integration: IntegrationId,
    },
    /// Registered but cancelled by a person.
    Cancelled {
        /// The SIG customer.
        customer: CustomerId,
        /// Its integration.
        integration: IntegrationId,
    },
}

impl RowOutcome {
    /// The outcome's name (`rejected`, `integrated`, …), as serialized.
    pub fn name(&self) -> &'static str {
        match self {
            RowOutcome::Rejected { .. } => "rejected",
            RowOutcome::Duplicate { .. } => "duplicate",
            RowOutcome::KnownInSig { .. } => "known_in_sig",
            RowOutcome::AlreadyMigrated { .. } => "already_migrated",
            RowOutcome::WouldCreate => "would_create",
            RowOutcome::WouldAdopt { .. } => "would_adopt",
            RowOutcome::CheckFailed { .. } => "check_failed",
            RowOutcome::Integrated { .. } => "integrated",
            RowOutcome::Held { .. } => "held",
            RowOutcome::Failed { .. } => "failed",
            RowOutcome::Pending { .. } => "pending",
            RowOutcome::Cancelled { .. } => "cancelled",
        }
    }

    /// Whether a person should look at the row (rejected, duplicate, failed, held, …).
    pub fn is_finding(&self) -> bool {
        !matches!(
            self,
            RowOutcome::AlreadyMigrated {
                status: IntegrationStatus::Done,
                ..
            } | RowOutcome::WouldCreate
                | RowOutcome::WouldAdopt { .. }
                | RowOutcome::Integrated { .. }
                | RowOutcome::KnownInSig { .. }
        )
    }
}

/// One row's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowReport {
    /// The row (file line; the header is line 1).
    pub row: u64,
    /// What happened.
    #[serde(flatten)]
    pub outcome: RowOutcome,
}

/// Counts of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MigrationSummary {
    /// Whether anything was applied.
    pub apply: bool,
    /// Rows read.
    pub rows: u64,
    /// Rows that validated.
    pub valid: u64,
    /// Rows per outcome name.
    pub outcomes: BTreeMap<String, u64>,
    /// Customers registered by this run.
    pub registered: u64,
    /// Rows integrated now whose ERP record was created for them.
    pub erp_created: u64,
    /// Rows integrated now that adopted an ERP record under another integration code.
    pub erp_adopted: u64,
    /// Rows integrated now that found an ERP record otherwise (one without an integration
    /// code, which now carries SIG's; or SIG's own, after an interrupted run).
    pub erp_matched: u64,
    /// Wall time, in milliseconds.
    pub elapsed_ms: u64,
    /// Rows per second over the whole run.
    pub rows_per_second: f64,
}

/// Everything a run found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MigrationReport {
    /// One entry per row, in file order.
    pub rows: Vec<RowReport>,
    /// The counts.
    pub summary: MigrationSummary,
}

impl MigrationReport {
    /// Whether any row needs a person (see [`RowOutcome::is_finding`]).
    pub fn has_findings(&self) -> bool {
        self.rows.iter().any(|r| r.outcome.is_finding())
    }
}

/// Where a run stands, for progress bars and callbacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Progress {
    /// Rows finished (reported), in file order.
    pub done: u64,
    /// Rows in the file.
    pub total: u64,
}

/// Why a migration could not run to its end.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// The actor may not migrate (audited).
    #[error(transparent)]
    Denied(#[from] Denied),
    /// The file's header is invalid; every problem is listed.
    #[error("the file's header is invalid: {0}")]
    Header(Problems),
    /// The pipeline could not go on (store, unknown company).
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// The progress callback asked to stop: the rows before `done` are finished, the rest
    /// untouched; running again goes on from there.
    #[error("stopped after {done} of {total} rows (run again to go on)")]
    Stopped {
        /// Rows finished.
        done: u64,
        /// Rows in the file.
        total: u64,
    },
}

impl From<StoreError> for MigrateError {
    fn from(e: StoreError) -> Self {
        MigrateError::Pipeline(PipelineError::Store(e))
    }
}

impl From<AuthorizeError> for MigrateError {
    fn from(e: AuthorizeError) -> Self {
        match e {
            AuthorizeError::Denied(d) => MigrateError::Denied(d),
            AuthorizeError::Store(e) => e.into(),
        }
    }
}

/// A row that passed validation and the in-file check.
struct Candidate {
    index: usize,
    row: u64,
    tax_id: TaxId,
    registration: RawRegistration,
}

/// Run a migration of `rows` (read with `layout`) for `actor`, dry or applied per
/// `options`, calling `progress` as rows finish; `progress` returning
/// [`ControlFlow::Break`] stops the run after the chunk in flight ([`MigrateError::Stopped`]).
/// See the module documentation for what happens to each row.
#[allow(clippy::too_many_arguments)]
pub async fn migrate(
    pipeline: &Pipeline,
    policy: &Policy,
    actor: &Actor,
    profile: Option<Profile>,
    options: &MigrationOptions,
    layout: &Layout,
    rows: Vec<MigrationRow>,
    progress: &mut (dyn FnMut(Progress) -> ControlFlow<()> + Send),
) -> Result<MigrationReport, MigrateError> {
    let started = Instant::now();
    pipeline
        .authorize_audited(policy, actor, profile, Action::Migrate)
        .await?;
    // Fails early on an unknown company, before any row.
    if !pipeline.has_company(&options.company) {
        return Err(PipelineError::UnknownCompany(options.company.clone()).into());
    }
    let total = rows.len() as u64;
    let mut outcomes: Vec<Option<RowOutcome>> = vec![None; rows.len()];
    let row_numbers: Vec<u64> = rows.iter().map(|r| r.row).collect();
    let mut first_row: HashMap<TaxId, u64> = HashMap::new();
    let mut valid = 0u64;
    let mut registered = 0u64;
    let mut reported = 0usize;
    let mut chunk: Vec<Candidate> = Vec::with_capacity(options.chunk.max(1));
    if progress(Progress { done: 0, total }).is_break() {
        return Err(MigrateError::Stopped { done: 0, total });
    }

    for (index, r) in rows.into_iter().enumerate() {
        match check_row(pipeline, layout, &r) {
            Err(problems) => outcomes[index] = Some(RowOutcome::Rejected { problems }),
            Ok((tax_id, registration)) => {
                valid += 1;
                if let Some(first) = first_row.get(&tax_id) {
                    outcomes[index] = Some(RowOutcome::Duplicate { first_row: *first });
                } else {
                    first_row.insert(tax_id, r.row);
                    chunk.push(Candidate {
                        index,
                        row: r.row,
                        tax_id,
                        registration,
                    });
                }
            }
        }
        if chunk.len() >= options.chunk.max(1) {
            registered += run_chunk(pipeline, actor, options, &mut chunk, &mut outcomes).await?;
            report_progress(&outcomes, &mut reported, total, progress)?;
        }
    }
    registered += run_chunk(pipeline, actor, options, &mut chunk, &mut outcomes).await?;
    report_progress(&outcomes, &mut reported, total, progress)?;

    let rows: Vec<RowReport> = outcomes
        .into_iter()
        .zip(row_numbers)
        .map(|(o, row)| RowReport {
            row,
            outcome: o.unwrap_or(RowOutcome::CheckFailed {
                reason: "the row was not processed".into(),
            }),
        })
        .collect();
    let mut summary = MigrationSummary {
        apply: options.apply,
        rows: total,
        valid,
        registered,
        ..MigrationSummary::default()
    };
    for r in &rows {
        *summary
            .outcomes
            .entry(r.outcome.name().to_owned())
            .or_default() += 1;
        if let RowOutcome::Integrated {
            adopted,
            erp_created,
            ..
        } = &r.outcome
        {
            if *adopted {
                summary.erp_adopted += 1;
            } else if *erp_created {
                summary.erp_created += 1;
            } else {
                summary.erp_matched += 1;
            }
        }
    }
    let elapsed = started.elapsed();
    summary.elapsed_ms = elapsed.as_millis() as u64;
    summary.rows_per_second = if elapsed.as_secs_f64() > 0.0 {
        total as f64 / elapsed.as_secs_f64()
    } else {
        0.0
    };
    let mut e = AuditEvent::new(
        pipeline.current_time(),
        actor.clone(),
        "migrate",
        AuditOutcome::Ok,
        format!(
            "{} {}: {} rows, {} valid, {} registered",
            if options.apply {
                "migrated"
            } else {
                "dry run of"
            },
            options.source_name,
            summary.rows,
            summary.valid,
            summary.registered
        ),
    );
    e.details = serde_json::json!({
        "file": options.source_name,
        "company": options.company,
        "apply": options.apply,
        "outcomes": summary.outcomes,
        "elapsed_ms": summary.elapsed_ms,
    });
    pipeline.store().append_audit(&[e]).await?;
    Ok(MigrationReport { rows, summary })
}

fn report_progress(
    outcomes: &[Option<RowOutcome>],
    reported: &mut usize,
    total: u64,
    progress: &mut (dyn FnMut(Progress) -> ControlFlow<()> + Send),
) -> Result<(), MigrateError> {
    // Rows finish in file order up to the first one still in flight.
    let done = outcomes[*reported..]
        .iter()
        .take_while(|o| o.is_some())
        .count();
    *reported += done;
    let done = *reported as u64;
    match progress(Progress { done, total }) {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(()) => Err(MigrateError::Stopped { done, total }),
    }
}

/// Map and validate one record.
fn check_row(
    pipeline: &Pipeline,
    layout: &Layout,
    r: &MigrationRow,
) -> Result<(TaxId, RawRegistration), Problems> {
    if let Some(why) = &r.unreadable {
        return Err(unreadable_row(why.clone()));
    }
    let mapped = layout.registration(&r.fields)?;
    match mapped.registration.validate(pipeline.catalog()) {
        Ok(tax_id) => Ok((tax_id, mapped.registration)),
        Err(mut problems) => {
            layout.trace(&mapped, &mut problems);
            Err(problems)
        }
    }
}

/// Check (dry run) or register and integrate (applied run) one chunk of candidates.
/// Returns how many customers were registered.
async fn run_chunk(
    pipeline: &Pipeline,
    actor: &Actor,
    options: &MigrationOptions,
    chunk: &mut Vec<Candidate>,
    outcomes: &mut [Option<RowOutcome>],
) -> Result<u64, MigrateError> {
    if chunk.is_empty() {
        return Ok(0);
    }
    let candidates = std::mem::take(chunk);
    if !options.apply {
        let checks =
            futures::stream::iter(candidates.iter().map(|c| dry_check(pipeline, options, c)))
                .buffered(options.lookups_in_flight.max(1))
                .collect::<Vec<_>>()
                .await;
        for (c, o) in candidates.iter().zip(checks) {
            outcomes[c.index] = Some(o?);
        }
        return Ok(0);
    }

    // Register each row (one store transaction each), then integrate the chunk.
    let mut registered = 0;
    let mut in_flight: Vec<(usize, CustomerId, IntegrationId, bool)> = Vec::new();
    for c in &candidates {
        let details = serde_json::json!({
            "file": options.source_name, "row": c.row, "orders": c.registration.orders.len(),
        });
        match pipeline
            .register_valid(
                &options.company,
                &c.tax_id,
                &c.registration,
                actor,
                "migrate.row",
                details,
            )
            .await?
        {
            RegisterOutcome::Created {
                customer,
                integration,
            } => {
                registered += 1;
                in_flight.push((c.index, customer, integration, false));
            }
            RegisterOutcome::Existing {
                customer,
                integration,
                status,
            } => {
                if status == IntegrationStatus::Pending {
                    in_flight.push((c.index, customer, integration, true));
                } else {
                    outcomes[c.index] = Some(
                        finished(pipeline, customer, integration, true)
                            .await?
                            .map_or(
                                RowOutcome::AlreadyMigrated {
                                    customer,
                                    integration,
                                    status,
                                },
                                |o| match o {
                                    // Finished before this run: already migrated.
                                    RowOutcome::Integrated { .. } => RowOutcome::AlreadyMigrated {
                                        customer,
                                        integration,
                                        status,
                                    },
                                    other => other,
                                },
                            ),
                    );
                }
            }
            RegisterOutcome::KnownElsewhere { customer } => {
                outcomes[c.index] = Some(RowOutcome::KnownInSig { customer });
            }
        }
    }
    if !in_flight.is_empty() {
        pipeline.run_until_idle().await?;
    }
    for (index, customer, integration, resumed) in in_flight {
        outcomes[index] = Some(
            finished(pipeline, customer, integration, resumed)
                .await?
                .unwrap_or(RowOutcome::Pending {
                    customer,
                    integration,
                }),
        );
    }
    Ok(registered)
}

/// A dry run's check of one valid row against SIG and the ERP.
async fn dry_check(
    pipeline: &Pipeline,
    options: &MigrationOptions,
    c: &Candidate,
) -> Result<RowOutcome, MigrateError> {
    let store = pipeline.store();
    if let Some(customer) = store.find_customer(&options.company, &c.tax_id).await? {
        return Ok(
            match store.find_by_source(&SourceKey::direct(customer)).await? {
                Some(i) => RowOutcome::AlreadyMigrated {
                    customer,
                    integration: i.id,
                    status: i.status,
                },
                None => RowOutcome::KnownInSig { customer },
            },
        );
    }
    Ok(
        match pipeline.find_in_erp(&options.company, &c.tax_id).await {
            Ok(Some(ErpCustomer { erp_id, .. })) => RowOutcome::WouldAdopt { erp_id },
            Ok(None) => RowOutcome::WouldCreate,
            Err(FindError::Upstream(e)) => RowOutcome::CheckFailed {
                reason: e.to_string(),
            },
            Err(FindError::Pipeline(e)) => return Err(e.into()),
        },
    )
}

/// The outcome of a registered row from its integration's state, or `None` while pending.
async fn finished(
    pipeline: &Pipeline,
    customer: CustomerId,
    integration: IntegrationId,
    resumed: bool,
) -> Result<Option<RowOutcome>, MigrateError> {
    let store = pipeline.store();
    let Some(i) = store.get(integration).await? else {
        return Err(PipelineError::NotFound(integration).into());
    };
    Ok(match i.status {
        IntegrationStatus::Pending => None,
        IntegrationStatus::Done => {
            let journal = store.journal(integration).await?;
            let erp: Option<ErpCustomer> = journal
                .get("erp_customer")
                .and_then(|e| serde_json::from_value(e.result.clone()).ok());
            Some(RowOutcome::Integrated {
                customer,
                integration,
                erp_id: erp.as_ref().map(|e| e.erp_id),
                adopted: erp.as_ref().is_some_and(|e| e.adopted),
                erp_created: erp.as_ref().is_some_and(|e| e.created),
                resumed,
            })
        }
        IntegrationStatus::Held => Some(RowOutcome::Held {
            customer,
            integration,
            problems: i.problems,
        }),
        IntegrationStatus::Failed => {
            let f = i.failure.unwrap_or_else(|| crate::store::Failure {
                step: i.step.clone().unwrap_or_default(),
                system: None,
                code: None,
                reason: "failed".into(),
                retryable: false,
            });
            Some(RowOutcome::Failed {
                customer,
                integration,
                step: f.step,
                reason: f.reason,
                retryable: f.retryable,
            })
        }
        IntegrationStatus::Cancelled => Some(RowOutcome::Cancelled {
            customer,
            integration,
        }),
    })
}

impl fmt::Display for RowOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RowOutcome::Rejected { problems } => write!(f, "rejected: {problems}"),
            RowOutcome::Duplicate { first_row } => {
                write!(f, "duplicate: the same CPF/CNPJ as row {first_row}")
            }
            RowOutcome::KnownInSig { customer } => write!(
                f,
                "skipped: SIG already has this customer ({customer}) from a DocSales proposal"
            ),
            RowOutcome::AlreadyMigrated {
                customer, status, ..
            } => write!(f, "already migrated as customer {customer} ({status})"),
            RowOutcome::WouldCreate => f.write_str("would be registered and created in Omie"),
            RowOutcome::WouldAdopt { erp_id } => {
                write!(f, "would be registered, adopting Omie customer {erp_id}")
            }
            RowOutcome::CheckFailed { reason } => write!(f, "could not be checked: {reason}"),
            RowOutcome::Integrated {
                customer,
                erp_id,
                adopted,
                ..
            } => {
                write!(f, "integrated as customer {customer}")?;
                if let Some(id) = erp_id {
                    write!(
                        f,
                        ", Omie customer {id}{}",
                        if *adopted { " (adopted)" } else { "" }
                    )?;
                }
                Ok(())
            }
            RowOutcome::Held { problems, .. } => write!(f, "held: {problems}"),
            RowOutcome::Failed { step, reason, .. } => write!(f, "failed at {step}: {reason}"),
            RowOutcome::Pending { integration, .. } => {
                write!(f, "registered, still pending (integration {integration})")
            }
            RowOutcome::Cancelled { integration, .. } => {
                write!(f, "registered, then cancelled (integration {integration})")
            }
        }
    }
}

/// A problem at a whole row that could not be read.
fn unreadable_row(message: impl Into<String>) -> Problems {
    Problems(vec![Problem {
        field: "row".into(),
        code: Code::InvalidFormat,
        message: message.into(),
        source_field: None,
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_problems_are_all_reported() {
        let e = Layout::from_header(&[
            "Legal_Name ",
            "legal_name",
            "order0_product",
            "order2_colour",
            "fax",
        ])
        .unwrap_err();
        let fields: Vec<_> = e.iter().map(|p| (p.field.as_str(), p.code)).collect();
        assert_eq!(
            fields,
            vec![
                ("header[1]", Code::Duplicate),
                ("header[2]", Code::UnknownReference),
                ("header[3]", Code::UnknownReference),
                ("header[4]", Code::UnknownReference),
                ("header", Code::Required),
            ]
        );
    }

    #[test]
    fn rows_map_to_registrations_with_their_order_groups() {
        let l = Layout::from_header(&[
            "\u{feff}TAX_ID",
            "emails",
            "order2_product",
            "order2_dids",
            "order1_product",
        ])
        .unwrap();
        assert_eq!(l.order_groups(), &[1, 2]);
        let m = l
            .registration(&[
                "529.982.247-25",
                "a@x.com.br; b@x.com.br,",
                "SIP-1",
                "11 3333-4444;11 3333-4445",
                " ",
            ])
            .unwrap();
        assert_eq!(m.groups, vec![2], "a blank group is no order");
        assert_eq!(
            m.registration.customer.tax_id.as_deref(),
            Some("529.982.247-25")
        );
        assert_eq!(m.registration.customer.emails, ["a@x.com.br", "b@x.com.br"]);
        assert_eq!(m.registration.orders.len(), 1);
        assert_eq!(
            m.registration.orders[0].dids,
            ["11 3333-4444", "11 3333-4445"]
        );
        let mut p = Problems::new();
        p.add("orders[0].product", Code::UnknownPlan, "x");
        p.add("customer.tax_id", Code::InvalidCheckDigit, "x");
        l.trace(&m, &mut p);
        assert_eq!(p.0[0].source_field.as_deref(), Some("order2_product"));
        assert_eq!(p.0[1].source_field.as_deref(), Some("tax_id"));

        let short = l.registration(&["1", "2"]).unwrap_err();
        assert_eq!(short.0[0].field, "row");
        assert_eq!(short.0[0].code, Code::Inconsistent);
    }

    #[test]
    fn delimiter_is_detected_from_the_header() {
        assert_eq!(detect_delimiter("tax_id;legal_name;emails"), b';');
        assert_eq!(detect_delimiter("tax_id,legal_name"), b',');
        assert_eq!(detect_delimiter("tax_id"), b',');
    }
}
