//! Ports: what the pipeline needs from the outside world, as traits the adapters implement.
//!
//! - [`Erp`] — the ERP (Omie): customers and monthly service contracts.
//! - [`VoipPlatform`] — one ServidorNext (a NextBilling instance): customers, SIP lines, DIDs,
//!   health.
//! - [`ProposalSource`] — where proposals come from (DocSales): re-fetch one, list approved ones.
//! - [`FiscalLookup`] — the Receita Federal's registry (CNPJ) and the postal codes (CEP), read
//!   through public lookup services (`sig-fiscal`).
//!
//! Every call is **idempotent by SIG's natural keys** (DESIGN.md, "Identity and idempotency"):
//! the adapter looks the record up by the SIG id it carries before creating it, so a repeat
//! after a crash or an ambiguous failure finds instead of duplicating (a create the journal
//! proves was never attempted before skips that look-up: [`Attempt`]). Failures are an
//! [`UpstreamError`] that says which system and call failed, whether the request may have been
//! applied upstream, and whether retrying can help.
//!
//! **Observing upstream calls.** Each client emits one `tracing` event per HTTP attempt (and
//! per call it refuses to make, such as an Omie call inside a misuse block) with target
//! [`UPSTREAM_EVENT_TARGET`] at DEBUG level and these fields: `system` ([`System`]'s name),
//! `call` (the vendor's call name), `outcome` (`ok`, or the error kind:
//! [`UPSTREAM_ERROR_KINDS`]), `status` (HTTP status, when there was an answer) and
//! `elapsed_ms`. Metrics count these events (a `tracing` layer), so no client depends on a
//! metrics library; the events carry no record data.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::address::Cep;
use crate::contact::{AreaCode, Phone};
use crate::domain::{Customer, ServiceOrder};
use crate::fiscal::{FiscalAnswer, RegisteredCep, RegisteredCompany};
use crate::ids::{CustomerId, DidId, LineId, ServerId, ServiceOrderId};
use crate::problem::Problems;
use crate::raw::RawProposal;
use crate::taxid::{Cnpj, TaxId};

/// The `tracing` target of the per-attempt upstream call event (see the module docs).
pub const UPSTREAM_EVENT_TARGET: &str = "sig::upstream";

/// The `outcome` values an upstream call event may carry besides `ok`: `rate_limited` (HTTP
/// 429), `redundant` (Omie REDUNDANT), `busy` (Omie method busy), `misuse_block` (Omie opened
/// a misuse block), `blocked` (no call made: a block is open), `timeout`, `transport`
/// (connection refused or reset), `server_error` (5xx), `unauthorized`, `not_found`,
/// `rejected` (the upstream refused the data), `decode` (an unreadable answer), `other`.
pub const UPSTREAM_ERROR_KINDS: [&str; 13] = [
    "rate_limited",
    "redundant",
    "busy",
    "misuse_block",
    "blocked",
    "timeout",
    "transport",
    "server_error",
    "unauthorized",
    "not_found",
    "rejected",
    "decode",
    "other",
];

/// An outside system SIG talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum System {
    /// The Omie ERP.
    Omie,
    /// A NextBilling instance (ServidorNext).
    NextBilling,
    /// DocSales.
    DocSales,
    /// A fiscal/CEP lookup provider.
    Fiscal,
}

impl fmt::Display for System {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            System::Omie => "omie",
            System::NextBilling => "nextbilling",
            System::DocSales => "docsales",
            System::Fiscal => "fiscal",
        })
    }
}

/// What kind of failure an upstream call had; drives retry decisions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum UpstreamErrorKind {
    /// Network failure, timeout, 5xx, malformed response: retrying may help.
    Transient,
    /// Rate limited (429, REDUNDANT, method busy); retry after the wait.
    RateLimited,
    /// The account is blocked for a while (Omie misuse block); no call until the wait ends.
    Blocked,
    /// Credentials refused.
    Unauthorized,
    /// The upstream refused the data (a business fault); a person must fix something.
    Rejected,
    /// A record the call needs does not exist upstream.
    NotFound,
    /// A uniqueness conflict that the adapter could not resolve by adoption.
    Conflict,
    /// Anything else permanent (bad request, unsupported).
    Permanent,
}

/// A failed call to an outside system. Messages never carry secrets or full request URLs.
#[derive(Debug, thiserror::Error)]
#[error("{system} {call} failed ({kind:?}): {message}")]
pub struct UpstreamError {
    /// Which system.
    pub system: System,
    /// Which call (`UpsertCliente`, `manageDevices`, …).
    pub call: String,
    /// What kind of failure.
    pub kind: UpstreamErrorKind,
    /// HTTP status, when there was a response.
    pub status: Option<u16>,
    /// The upstream's own error code (`SOAP-ENV:Client-102`), when it gave one.
    pub code: Option<String>,
    /// Human message (the upstream's text, redacted).
    pub message: String,
    /// The record involved (a SIG id or upstream id), when known.
    pub record: Option<String>,
    /// Whether the request may have been applied upstream (a write whose response was lost).
    pub maybe_applied: bool,
    /// How long to wait before retrying, when the upstream said.
    pub retry_after: Option<Duration>,
    /// The underlying error.
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl UpstreamError {
    /// A new error with the essentials; the rest is filled with the builder methods.
    pub fn new(
        system: System,
        call: impl Into<String>,
        kind: UpstreamErrorKind,
        message: impl Into<String>,
    ) -> Self {
        UpstreamError {
            system,
            call: call.into(),
            kind,
            status: None,
            code: None,
            message: message.into(),
            record: None,
            maybe_applied: false,
            retry_after: None,
            source: None,
        }
    }

    /// Set the HTTP status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// Set the upstream code.
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// Set the record involved.
    pub fn with_record(mut self, record: impl Into<String>) -> Self {
        self.record = Some(record.into());
        self
    }

    /// Mark that the request may have been applied.
    pub fn maybe_applied(mut self, yes: bool) -> Self {
        self.maybe_applied = yes;
        self
    }

    /// Set the wait before a retry.
    pub fn with_retry_after(mut self, d: Duration) -> Self {
        self.retry_after = Some(d);
        self
    }

    /// Keep the underlying error (it must not carry secrets or URLs).
    pub fn with_source(mut self, e: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(e));
        self
    }

    /// Whether retrying the same call later can help.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind,
            UpstreamErrorKind::Transient
                | UpstreamErrorKind::RateLimited
                | UpstreamErrorKind::Blocked
        )
    }
}

/// How to find a customer in the ERP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomerLookup {
    /// By SIG's id (Omie `codigo_cliente_integracao`).
    SigId(CustomerId),
    /// By the ERP's own id (Omie `codigo_cliente_omie`).
    ErpId(i64),
    /// By CPF/CNPJ.
    TaxId(TaxId),
}

/// A customer record in the ERP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErpCustomer {
    /// The ERP's id (Omie `codigo_cliente_omie`) — SIG's link from then on.
    pub erp_id: i64,
    /// The integration code the record carries (SIG's id, or another system's when adopted
    /// and it already had one).
    pub integration_code: Option<String>,
    /// Whether SIG adopted a record that already existed under another integration code.
    pub adopted: bool,
    /// Whether this call created it.
    pub created: bool,
}

/// Whether an earlier run may already have sent a create, which decides whether an adapter
/// must look the record up by its SIG id before creating it.
///
/// The pipeline runs an integration's steps in a fixed order and attempts a step only once
/// every step before it is journaled. So when the step just before this one was journaled by
/// the same run, no earlier run can have reached this step: the create is a
/// [`First`](Attempt::First) and the look-up before it would find nothing (it is one request
/// saved per record). After a crash, a failure or a restart the first step a run attempts is
/// an [`Again`](Attempt::Again), and the adapter looks before it creates. Either way an
/// adapter still settles an *ambiguous* create (a lost response) by looking the record up.
///
/// Records that belong to one integration (contracts, lines and DIDs, keyed by ids its
/// `validate` step generated) follow that rule alone. A record the customer's integrations
/// share (its NextBilling customer on a server) is a `First` only when, besides, no other
/// integration is of that customer ([`Store::customer_shared`](crate::store::Store::customer_shared)):
/// else one of them may have sent it, and it is looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Attempt {
    /// No earlier attempt of this create can have reached the upstream system.
    First,
    /// An earlier run may have sent it: look it up before creating.
    #[default]
    Again,
}

impl Attempt {
    /// Whether the adapter must look the record up before creating it.
    pub fn needs_lookup(self) -> bool {
        self == Attempt::Again
    }
}

/// What SIG asks the ERP to bill monthly for one service order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractRequest<'a> {
    /// The service order (its SIG id is the contract's integration code, Omie `cCodIntCtr`).
    pub order_id: ServiceOrderId,
    /// The order.
    pub order: &'a ServiceOrder,
    /// The plan's ERP terms from the catalog.
    pub terms: &'a crate::config::OmieContractDefaults,
    /// A description for the contract item (plan name and quantity).
    pub description: String,
    /// Whether an earlier run may have sent this create (see [`Attempt`]).
    pub attempt: Attempt,
}

/// A contract in the ERP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErpContract {
    /// The ERP's id (Omie `nCodCtr`).
    pub erp_id: i64,
    /// Its integration code (the SIG service-order id).
    pub integration_code: String,
    /// Whether this call created it.
    pub created: bool,
}

/// The ERP port (Omie).
#[async_trait]
pub trait Erp: Send + Sync {
    /// Create or update the customer keyed by SIG's id. When the ERP already holds the
    /// CPF/CNPJ under another integration code, adopt that record (set SIG's code only if it
    /// has none) instead of creating a second one. `known_erp_id` is the link SIG stored from
    /// an earlier call, if any.
    async fn upsert_customer(
        &self,
        id: CustomerId,
        customer: &Customer,
        known_erp_id: Option<i64>,
    ) -> Result<ErpCustomer, UpstreamError>;

    /// Find a customer.
    async fn find_customer(
        &self,
        lookup: &CustomerLookup,
    ) -> Result<Option<ErpCustomer>, UpstreamError>;

    /// Ensure exactly one monthly service contract for the order, keyed by its SIG id; never
    /// a second one for the same order.
    async fn ensure_contract(
        &self,
        customer: &ErpCustomer,
        request: &ContractRequest<'_>,
    ) -> Result<ErpContract, UpstreamError>;
}

/// A customer (Assinante) on a NextBilling instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoipCustomer {
    /// NextBilling's customer id.
    pub voip_id: i64,
    /// Whether this call created it.
    pub created: bool,
}

/// A SIP line SIG asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineRequest {
    /// SIG's id for the line (carried in a searchable field upstream).
    pub line_id: LineId,
    /// The order it belongs to.
    pub order_id: ServiceOrderId,
    /// NextBilling `rate_id`.
    pub rate_id: i64,
    /// Simultaneous calls allowed on the line.
    pub channels: u32,
    /// Area code the line is in.
    pub area_code: AreaCode,
    /// Whether an earlier run may have sent this create (see [`Attempt`]).
    pub attempt: Attempt,
}

/// A SIP line on a NextBilling instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoipLine {
    /// NextBilling's device id.
    pub voip_id: i64,
    /// SIP username.
    pub username: String,
    /// Whether this call created it.
    pub created: bool,
}

/// A DID SIG asks for, routed to one of the customer's lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DidRequest {
    /// SIG's id for the DID.
    pub did_id: DidId,
    /// The number.
    pub number: Phone,
    /// NextBilling device id of the line it rings.
    pub device_id: i64,
    /// NextBilling `rate_id`.
    pub rate_id: i64,
    /// Whether an earlier run may have sent this create (see [`Attempt`]).
    pub attempt: Attempt,
}

/// A DID on a NextBilling instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoipDid {
    /// NextBilling's DID id.
    pub voip_id: i64,
    /// Whether this call created it.
    pub created: bool,
}

/// The result of a health probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// Whether the instance answered correctly in time.
    pub healthy: bool,
    /// Why not, or `ok`.
    pub reason: String,
    /// How long the probe took, in milliseconds.
    pub latency_ms: u64,
}

/// The VoIP-platform port: one ServidorNext.
#[async_trait]
pub trait VoipPlatform: Send + Sync {
    /// Which server this is.
    fn server_id(&self) -> &ServerId;

    /// Ensure the customer exists on this instance, keyed by SIG's id; `attempt` says
    /// whether one may have been created before (see [`Attempt`]).
    async fn ensure_customer(
        &self,
        id: CustomerId,
        customer: &Customer,
        attempt: Attempt,
    ) -> Result<VoipCustomer, UpstreamError>;

    /// Ensure the line exists for the customer, keyed by its SIG id.
    async fn ensure_line(
        &self,
        customer: &VoipCustomer,
        line: &LineRequest,
    ) -> Result<VoipLine, UpstreamError>;

    /// Ensure the DID exists and rings the given line, keyed by its SIG id.
    async fn ensure_did(
        &self,
        customer: &VoipCustomer,
        did: &DidRequest,
    ) -> Result<VoipDid, UpstreamError>;

    /// Probe the instance within `timeout`.
    async fn probe(&self, timeout: Duration) -> Health;
}

/// Where a proposal came from: (source account, proposal id).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SourceKey {
    /// The source account (a DocSales account id, or `sig` for direct registrations).
    pub account: String,
    /// The proposal's id in that source.
    pub proposal_id: String,
}

/// The source account of customers registered directly in SIG and of migrated rows
/// (DESIGN.md, "Identity and idempotency"). No DocSales account may use this id.
pub const DIRECT_SOURCE: &str = "sig";

impl SourceKey {
    /// The source key of a direct registration or migrated row: (`sig`, SIG customer id).
    /// One per customer, so registering the same customer again finds the first one.
    pub fn direct(customer: CustomerId) -> Self {
        SourceKey {
            account: DIRECT_SOURCE.to_owned(),
            proposal_id: customer.to_string(),
        }
    }

    /// Whether this is a direct registration's key (the record carries its own data and its
    /// service orders are optional).
    pub fn is_direct(&self) -> bool {
        self.account == DIRECT_SOURCE
    }
}

/// A domain field prefix and the source field it was read from (`customer.tax_id`,
/// `customer.legal_code`). Most are fixed names, so they are borrowed rather than allocated
/// for every proposal; serialized as a pair of strings.
pub type FieldSource = (Cow<'static, str>, Cow<'static, str>);

/// A proposal's [`FieldSource`]s, in order (most specific first): a list, serialized as one
/// list of pairs and equal to another when the pairs are.
///
/// Held in blocks of at most [`FieldSources::BLOCK`] pairs rather than in one `Vec`: a
/// proposal has some fifty, and one `Vec` of them is a single allocation of more than 1 KB,
/// which glibc's allocator serves past its per-thread caches after consolidating its free
/// lists — measured, that cost more than the rest of mapping a proposal. Each block is an
/// allocation those caches serve.
#[derive(Clone, Default)]
pub struct FieldSources {
    blocks: Vec<Vec<FieldSource>>,
}

impl FieldSources {
    /// The most pairs a block holds: as many as fit in 1008 bytes, the largest request glibc
    /// serves from its per-thread cache whatever its tuning.
    pub const BLOCK: usize = 1008 / std::mem::size_of::<FieldSource>();

    /// No sources.
    pub fn new() -> Self {
        FieldSources::default()
    }

    /// Add one at the end.
    #[inline]
    pub fn push(&mut self, source: FieldSource) {
        // Small enough to inline where a pair is built (the mapping pushes ~50 a proposal),
        // so the pair is written once, in place; a new block is the rare case.
        match self.blocks.last_mut() {
            Some(block) if block.len() < Self::BLOCK => block.push(source),
            _ => self.push_to_new_block(source),
        }
    }

    #[cold]
    #[inline(never)]
    fn push_to_new_block(&mut self, source: FieldSource) {
        if self.blocks.capacity() == 0 {
            self.blocks.reserve(4);
        }
        let mut block = Vec::with_capacity(Self::BLOCK);
        block.push(source);
        self.blocks.push(block);
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.blocks.iter().map(Vec::len).sum()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.blocks.iter().all(Vec::is_empty)
    }

    /// Each, in order.
    pub fn iter(&self) -> impl Iterator<Item = &FieldSource> + '_ {
        self.blocks.iter().flatten()
    }
}

impl fmt::Debug for FieldSources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq for FieldSources {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for FieldSources {}

impl Extend<FieldSource> for FieldSources {
    fn extend<I: IntoIterator<Item = FieldSource>>(&mut self, iter: I) {
        for source in iter {
            self.push(source);
        }
    }
}

impl FromIterator<FieldSource> for FieldSources {
    fn from_iter<I: IntoIterator<Item = FieldSource>>(iter: I) -> Self {
        let mut sources = FieldSources::new();
        sources.extend(iter);
        sources
    }
}

impl From<Vec<FieldSource>> for FieldSources {
    fn from(list: Vec<FieldSource>) -> Self {
        list.into_iter().collect()
    }
}

impl<'a> IntoIterator for &'a FieldSources {
    type Item = &'a FieldSource;
    type IntoIter = std::iter::Flatten<std::slice::Iter<'a, Vec<FieldSource>>>;
    fn into_iter(self) -> Self::IntoIter {
        self.blocks.iter().flatten()
    }
}

impl Serialize for FieldSources {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for FieldSources {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<FieldSource>::deserialize(d).map(FieldSources::from)
    }
}

/// A proposal read from its source, mapped to the domain's raw shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourcedProposal {
    /// Where it came from.
    pub key: SourceKey,
    /// The mapped, unvalidated proposal.
    pub raw: RawProposal,
    /// Domain field prefixes and the source fields they were read from, so validation
    /// problems can name both (`customer.tax_id` ← `customer.legal_code`).
    pub field_sources: FieldSources,
    /// Problems found while mapping (an item that names no product, …).
    pub mapping_problems: Problems,
}

/// A page of approved proposals from reconciliation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovedPage {
    /// Keys of approved proposals.
    pub keys: Vec<SourceKey>,
    /// Cursor for the next page; `None` when done.
    pub next_cursor: Option<String>,
}

/// The proposal-source port (DocSales).
#[async_trait]
pub trait ProposalSource: Send + Sync {
    /// The account this source reads.
    fn account(&self) -> &str;

    /// Read one proposal in full (always re-fetched before acting on a notification).
    async fn fetch(&self, proposal_id: &str) -> Result<SourcedProposal, UpstreamError>;

    /// List approved proposals changed since `cursor` (reconciliation).
    async fn list_approved(&self, cursor: Option<&str>) -> Result<ApprovedPage, UpstreamError>;
}

/// The fiscal-lookup port: a company by CNPJ in the Receita Federal's registry, an address by
/// CEP. Lookups only read, so a failure never leaves anything applied upstream.
///
/// "Not found" is an answer ([`FiscalAnswer::NotFound`]), not an error. An error is
/// [`System::Fiscal`] and says whether a later lookup may succeed
/// ([`UpstreamError::is_retryable`]): every provider down, slow or rate-limited is retryable;
/// refused credentials or input are not. The adapter (`sig-fiscal`) tries its providers in
/// order, caches answers and keeps each provider's wire format to itself.
#[async_trait]
pub trait FiscalLookup: Send + Sync {
    /// The company registered under `cnpj`, or "not found".
    async fn company_by_cnpj(
        &self,
        cnpj: &Cnpj,
    ) -> Result<FiscalAnswer<RegisteredCompany>, UpstreamError>;

    /// The address of `cep`, or "not found".
    async fn address_by_cep(&self, cep: &Cep)
    -> Result<FiscalAnswer<RegisteredCep>, UpstreamError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(i: usize) -> FieldSource {
        (format!("d{i}").into(), Cow::Borrowed("s"))
    }

    #[test]
    fn field_sources_are_a_list_however_blocked() {
        // Each block is one allocation glibc serves from its per-thread cache.
        assert!(FieldSources::BLOCK * std::mem::size_of::<FieldSource>() <= 1008);
        for n in [
            0,
            1,
            FieldSources::BLOCK,
            FieldSources::BLOCK + 1,
            3 * FieldSources::BLOCK + 2,
        ] {
            let list: Vec<FieldSource> = (0..n).map(pair).collect();
            let sources = FieldSources::from(list.clone());
            assert_eq!(sources.len(), n);
            assert_eq!(sources.is_empty(), n == 0);
            assert!(sources.iter().eq(list.iter()));
            assert!(
                sources
                    .blocks
                    .iter()
                    .all(|b| b.len() <= FieldSources::BLOCK)
            );
            // Serialized as the list was, and read back equal.
            let json = serde_json::to_string(&sources).unwrap();
            assert_eq!(json, serde_json::to_string(&list).unwrap());
            assert_eq!(
                serde_json::from_str::<FieldSources>(&json).unwrap(),
                sources
            );
            assert_eq!(format!("{sources:?}"), format!("{list:?}"));
        }
        // Equal when the pairs are, not when the blocks are.
        let mut a = FieldSources::new();
        a.extend((0..5).map(pair));
        let b = FieldSources {
            blocks: vec![(0..2).map(pair).collect(), (2..5).map(pair).collect()],
        };
        assert_eq!(a, b);
        assert_ne!(a, FieldSources::from(vec![pair(0)]));
    }
}
