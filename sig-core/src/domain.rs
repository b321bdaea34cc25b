//! The validated domain: customers, service orders and proposals.
//!
//! # Invalid states are unreachable
//!
//! Each of [`Customer`], [`ServiceOrder`] and [`Proposal`] wraps a plain record of its fields
//! ([`CustomerFields`], [`ServiceOrderFields`], [`ProposalFields`]) that it only lets out for
//! reading. The fields are read as before (`customer.emails`, `order.sip_lines`: the wrapper
//! dereferences to its record), but a value can only be *made* by [`Customer::new`] and its
//! siblings, which check the rules that span several fields, and nothing can change it after.
//! Deserialization goes through the same constructors, so a journal entry, a stored row or a
//! hand-written JSON document cannot bring in what [`crate::raw`] validation would refuse.
//!
//! Rules checked here (each with the same code and message as the raw validation, which calls
//! the same functions):
//! - what a type already guarantees: every value type validates itself; [`NonEmpty`] lists
//!   hold at least one e-mail and one phone; [`BillingDay`] is 1–28;
//! - customer: no e-mail or phone listed twice (`duplicate`);
//! - order: quantity 1–[`MAX_QUANTITY`], SIP lines and channels 1–[`MAX_LINES`]
//!   (`out_of_range`); every DID in the order's area code (`inconsistent`), none twice
//!   (`duplicate`);
//! - proposal: an id that is not blank (`required`); no DID requested by two orders
//!   (`duplicate`). Id and code are trimmed; a blank code is absent. A DocSales proposal
//!   needs at least one order (checked by [`crate::raw::RawProposal::validate`]); a customer
//!   registered directly or migrated may come without one.
//!
//! The JSON shape is the fields' record, unchanged, so journals written before still load.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::ops::Deref;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::address::Address;
use crate::contact::{AreaCode, Email, Phone};
use crate::ids::PlanId;
use crate::money::Money;
use crate::nonempty::NonEmpty;
use crate::problem::{Code, Invalid, Problems, trim_ascii};
use crate::taxid::{TaxId, TaxIdKind};
use crate::text::{ContactName, LegalName, Registration, TradeName};

/// Most units of one plan a single order may carry.
pub const MAX_QUANTITY: u32 = 10_000;
/// Most SIP lines or channels a single order may carry.
pub const MAX_LINES: u32 = 100_000;

/// `n` as a count in `min..=max`, or `out_of_range` naming that range.
pub(crate) fn count_in_range(n: u64, min: u32, max: u32) -> Result<u32, Invalid> {
    match u32::try_from(n) {
        Ok(v) if (min..=max).contains(&v) => Ok(v),
        _ => Err(Invalid::new(
            Code::OutOfRange,
            format!("between {min} and {max}, got {n}"),
        )),
    }
}

/// `prefix.name`, or `name` at the top.
fn path(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

/// Report every item that repeats an earlier one, at `field[i]` (`i` given with the item;
/// `field` is written only when there is one). Returns whether there was none.
pub(crate) fn check_unique<'a, T: PartialEq + 'a, I>(
    field: impl Fn() -> String,
    items: I,
    p: &mut Problems,
) -> bool
where
    I: IntoIterator<Item = (usize, &'a T)>,
    I::IntoIter: Clone,
{
    let items = items.into_iter();
    let mut unique = true;
    // Lists are short (a customer's e-mails and phones): compare with every earlier item
    // rather than allocate a set. Equality is an equivalence, so "equal to an earlier item"
    // is "equal to an earlier first occurrence".
    for (n, (i, item)) in items.clone().enumerate() {
        if items.clone().take(n).any(|(_, earlier)| earlier == item) {
            p.add(format!("{}[{i}]", field()), Code::Duplicate, "listed twice");
            unique = false;
        }
    }
    unique
}

/// The DIDs already requested in a proposal and where each was, so a DID requested twice is
/// reported with the place of the first (`the same DID is already requested at
/// orders[0].dids[1]`). Places are kept as (list, index) and written out only for a report.
#[derive(Debug, Clone, Default)]
pub struct SeenDids {
    /// The path of each DID list met (`orders[0].dids`), in order.
    lists: Vec<DidList>,
    /// Each DID taken, with its list (in `lists`) and its index there.
    dids: Vec<(Phone, usize, usize)>,
    /// DID → its entry in `dids`, built once there are many (a linear scan is quicker for the
    /// few DIDs of a usual proposal).
    index: HashMap<Phone, usize>,
}

/// The path of a DID list.
#[derive(Debug, Clone)]
enum DidList {
    /// Written out (`orders[0].dids`, `dids`).
    Path(Cow<'static, str>),
    /// `orders[i].dids`, written only for a report.
    Order(usize),
}

impl fmt::Display for DidList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DidList::Path(path) => f.write_str(path),
            DidList::Order(i) => write!(f, "orders[{i}].dids"),
        }
    }
}

/// How many DIDs [`SeenDids`] scans before it keeps an index.
const SEEN_DIDS_SCAN: usize = 32;

impl SeenDids {
    /// Nothing seen yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Nothing seen yet, room for `dids` DIDs.
    pub fn with_capacity(dids: usize) -> Self {
        SeenDids {
            dids: Vec::with_capacity(dids),
            ..Self::default()
        }
    }

    fn find(&self, did: Phone) -> Option<usize> {
        if self.dids.len() <= SEEN_DIDS_SCAN {
            self.dids.iter().position(|(d, _, _)| *d == did)
        } else {
            self.index.get(&did).copied()
        }
    }

    /// Start a DID list at `path` (`orders[1].dids`); DIDs checked next are in it.
    pub(crate) fn open_list(&mut self, path: impl Into<Cow<'static, str>>) {
        self.lists.push(DidList::Path(path.into()));
    }

    /// Start the DID list of `orders[i]`.
    pub(crate) fn open_order_list(&mut self, i: usize) {
        self.lists.push(DidList::Order(i));
    }

    /// The path of the list opened last.
    fn list(&self) -> &DidList {
        const NONE: &DidList = &DidList::Path(Cow::Borrowed("dids"));
        self.lists.last().unwrap_or(NONE)
    }

    fn insert(&mut self, did: Phone, at: usize) {
        if self.lists.is_empty() {
            self.open_list("dids");
        }
        self.dids.push((did, self.lists.len() - 1, at));
        if self.dids.len() > SEEN_DIDS_SCAN {
            if self.index.is_empty() {
                self.index = self
                    .dids
                    .iter()
                    .enumerate()
                    .map(|(k, (d, _, _))| (*d, k))
                    .collect();
            } else {
                self.index.insert(did, self.dids.len() - 1);
            }
        }
    }

    /// Where entry `k` of `dids` was (`orders[0].dids[1]`).
    fn place(&self, k: usize) -> String {
        let (_, list, at) = self.dids[k];
        format!("{}[{at}]", self.lists[list])
    }
}

/// Where a DID in a set of DID lists was first listed, read from the lists themselves (the
/// validated domain's orders): scanned for the few DIDs of a usual proposal, indexed once
/// there are many.
struct FirstListed<'a, L: Fn(usize) -> &'a [Phone]> {
    lists: usize,
    list: L,
    /// DID → its first (list, index), for long lists.
    index: Option<HashMap<Phone, (usize, usize)>>,
}

impl<'a, L: Fn(usize) -> &'a [Phone]> FirstListed<'a, L> {
    /// `lists` lists, list `i` being `list(i)`.
    fn new(lists: usize, list: L) -> Self {
        let total: usize = (0..lists).map(|i| list(i).len()).sum();
        let index = (total > SEEN_DIDS_SCAN).then(|| {
            let mut index = HashMap::with_capacity(total);
            for i in 0..lists {
                for (j, did) in list(i).iter().enumerate() {
                    index.entry(*did).or_insert((i, j));
                }
            }
            index
        });
        FirstListed { lists, list, index }
    }

    /// Where `did`, listed at `list(i)[j]`, was listed before, if it was.
    fn before(&self, i: usize, j: usize, did: Phone) -> Option<(usize, usize)> {
        if let Some(index) = &self.index {
            return index.get(&did).copied().filter(|&first| first < (i, j));
        }
        (0..=i.min(self.lists.saturating_sub(1))).find_map(|k| {
            let list = (self.list)(k);
            let end = if k == i { j } else { list.len() };
            list[..end.min(list.len())]
                .iter()
                .position(|d| *d == did)
                .map(|m| (k, m))
        })
    }
}

/// The rules on one DID of an order, reported at `[at]` of the DID list `seen` opened last
/// (`orders[1].dids`): in the order's area code (when that is known), and not already
/// requested in the same proposal. Returns whether the DID passed both.
pub(crate) fn check_did(
    did: Phone,
    area: Option<AreaCode>,
    at: usize,
    seen: &mut SeenDids,
    p: &mut Problems,
) -> bool {
    let mut ok = true;
    if let Some(area) = area
        && did.area_code() != area
    {
        p.add(
            format!("{}[{at}]", seen.list()),
            Code::Inconsistent,
            format!(
                "the DID is in area code {}, the order in {}",
                did.area_code(),
                area
            ),
        );
        ok = false;
    }
    match seen.find(did) {
        Some(first) => {
            p.add(
                format!("{}[{at}]", seen.list()),
                Code::Duplicate,
                format!("the same DID is already requested at {}", seen.place(first)),
            );
            ok = false;
        }
        None => seen.insert(did, at),
    }
    ok
}

/// Read access to a validated value's fields, construction only through its checks, and serde
/// through the same checks with the fields' JSON shape.
macro_rules! validated {
    ($t:ident, $fields:ident, $what:literal) => {
        impl Deref for $t {
            type Target = $fields;
            fn deref(&self) -> &$fields {
                &self.0
            }
        }

        impl $t {
            /// The fields, for reading (the same as dereferencing).
            pub fn fields(&self) -> &$fields {
                &self.0
            }

            /// The fields, to change and validate again with `new`.
            pub fn into_fields(self) -> $fields {
                self.0
            }
        }

        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl TryFrom<$fields> for $t {
            type Error = Problems;
            fn try_from(fields: $fields) -> Result<Self, Problems> {
                $t::new(fields)
            }
        }

        impl From<$t> for $fields {
            fn from(v: $t) -> $fields {
                v.0
            }
        }

        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                self.0.serialize(s)
            }
        }

        impl<'de> Deserialize<'de> for $t {
            /// The fields, then the same checks as `new`.
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $t::new($fields::deserialize(d)?).map_err(|p| {
                    serde::de::Error::custom(format_args!(concat!("invalid ", $what, ": {}"), p))
                })
            }
        }
    };
}

/// Whether a customer is a person (CPF) or a company (CNPJ).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomerKind {
    /// A natural person, identified by CPF.
    Person,
    /// A legal entity, identified by CNPJ.
    Company,
}

/// The fields of a [`Customer`]: each value valid on its own; the rules between them are
/// checked by [`Customer::new`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerFields {
    /// CPF or CNPJ.
    pub tax_id: TaxId,
    /// Legal name (razão social) or a person's full name.
    pub legal_name: LegalName,
    /// Trade name (nome fantasia).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trade_name: Option<TradeName>,
    /// The person to talk to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_name: Option<ContactName>,
    /// E-mail addresses, the first being the main (billing) one; none twice.
    pub emails: NonEmpty<Email>,
    /// Phone numbers, the first being the main one; none twice.
    pub phones: NonEmpty<Phone>,
    /// Billing address.
    pub address: Address,
    /// State registration (inscrição estadual).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_registration: Option<Registration>,
    /// Municipal registration (inscrição municipal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub municipal_registration: Option<Registration>,
}

/// A customer as SIG knows it: the data that goes to Omie and NextBilling. Its SIG id is
/// assigned by the store (one per tax id and company), not carried here. Read its fields
/// directly (`customer.emails`); see the [module documentation](self) for its rules.
#[derive(Clone, PartialEq, Eq)]
pub struct Customer(CustomerFields);

validated!(Customer, CustomerFields, "customer");

impl Customer {
    /// Check the rules between the fields (module documentation); problems are reported at
    /// paths relative to the customer (`emails[1]`).
    pub fn new(fields: CustomerFields) -> Result<Customer, Problems> {
        let mut p = Problems::new();
        fields.check("", &mut p);
        p.into_result(Customer(fields))
    }

    /// Person or company, from the tax id.
    pub fn kind(&self) -> CustomerKind {
        match self.tax_id.kind() {
            TaxIdKind::Cpf => CustomerKind::Person,
            TaxIdKind::Cnpj => CustomerKind::Company,
        }
    }

    /// The main e-mail address (the first; there is always one).
    pub fn main_email(&self) -> &Email {
        self.emails.first()
    }

    /// The main phone (the first; there is always one).
    pub fn main_phone(&self) -> &Phone {
        self.phones.first()
    }
}

impl CustomerFields {
    /// The rules between the fields, reported under `prefix`.
    pub(crate) fn check(&self, prefix: &str, p: &mut Problems) {
        check_unique(|| path(prefix, "emails"), self.emails.iter().enumerate(), p);
        check_unique(|| path(prefix, "phones"), self.phones.iter().enumerate(), p);
    }
}

/// The day of the month a contract bills on: 1 to 28, so every month has it. Text input is a
/// whole number (`"10"`, `"10.0"`); JSON is the number (`10`), a string is also read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BillingDay(u8);

impl BillingDay {
    /// The first day allowed.
    pub const MIN: u8 = 1;
    /// The last day allowed (every month has it).
    pub const MAX: u8 = 28;

    /// Validate a day.
    pub fn new(day: u8) -> Result<Self, Invalid> {
        Self::from_number(u64::from(day))
    }

    fn from_number(day: u64) -> Result<Self, Invalid> {
        count_in_range(day, Self::MIN.into(), Self::MAX.into())
            .map(|d| BillingDay(d as u8))
            .map_err(|_| {
                Invalid::new(
                    Code::OutOfRange,
                    format!("the billing day is between 1 and 28, got {day}"),
                )
            })
    }

    /// The day number.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl fmt::Display for BillingDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromStr for BillingDay {
    type Err = Invalid;
    /// A whole number from 1 to 28 (`"10"`, `" 10.0 "`).
    fn from_str(s: &str) -> Result<Self, Invalid> {
        crate::raw::parse_count(s, Self::MIN.into(), Self::MAX.into()).map(|d| BillingDay(d as u8))
    }
}

impl TryFrom<&str> for BillingDay {
    type Error = Invalid;
    fn try_from(s: &str) -> Result<Self, Invalid> {
        s.parse()
    }
}

impl TryFrom<u8> for BillingDay {
    type Error = Invalid;
    fn try_from(d: u8) -> Result<Self, Invalid> {
        BillingDay::new(d)
    }
}

impl From<BillingDay> for u8 {
    fn from(d: BillingDay) -> u8 {
        d.0
    }
}

impl Serialize for BillingDay {
    /// The number (`10`).
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(self.0)
    }
}

impl<'de> Deserialize<'de> for BillingDay {
    /// A number or a string, validated (the message names the 1–28 range).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = BillingDay;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a billing day from 1 to 28")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<BillingDay, E> {
                BillingDay::from_number(v).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<BillingDay, E> {
                match u64::try_from(v) {
                    Ok(v) => self.visit_u64(v),
                    Err(_) => Err(E::custom(format!(
                        "the billing day is between 1 and 28, got {v}"
                    ))),
                }
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<BillingDay, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// The fields of a [`ServiceOrder`]: each value valid on its own; the rules between them and
/// the ranges of the counts are checked by [`ServiceOrder::new`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceOrderFields {
    /// The catalog plan.
    pub plan: PlanId,
    /// The source product code the plan was mapped from, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_code: Option<String>,
    /// Units of the plan contracted (1 to [`MAX_QUANTITY`]).
    pub quantity: u32,
    /// SIP lines to provision (1 to [`MAX_LINES`]).
    pub sip_lines: u32,
    /// Simultaneous channels (1 to [`MAX_LINES`]).
    pub channels: u32,
    /// Area code (DDD) the service is provisioned in; drives the server choice.
    pub area_code: AreaCode,
    /// Inbound numbers requested, all in the order's area code, no repeats.
    pub dids: Vec<Phone>,
    /// Monthly value of the service.
    pub monthly_value: Money,
    /// First day of the contract.
    pub start_date: NaiveDate,
    /// Billing day of the month.
    pub billing_day: BillingDay,
}

/// One service the customer contracted: a plan with its SIP lines and channels in one area
/// code, the DIDs requested there, and its monthly value. It becomes one Omie contract and
/// its lines and DIDs on one ServidorNext. Read its fields directly (`order.sip_lines`); see
/// the [module documentation](self) for its rules.
#[derive(Clone, PartialEq, Eq)]
pub struct ServiceOrder(ServiceOrderFields);

validated!(ServiceOrder, ServiceOrderFields, "service order");

impl ServiceOrder {
    /// Check the counts and the DIDs (module documentation); problems are reported at paths
    /// relative to the order (`dids[0]`).
    pub fn new(fields: ServiceOrderFields) -> Result<ServiceOrder, Problems> {
        let mut p = Problems::new();
        fields.check("", &mut p);
        p.into_result(ServiceOrder(fields))
    }
}

impl ServiceOrderFields {
    /// The rules, reported under `prefix`.
    pub(crate) fn check(&self, prefix: &str, p: &mut Problems) {
        for (name, n, max) in [
            ("quantity", self.quantity, MAX_QUANTITY),
            ("sip_lines", self.sip_lines, MAX_LINES),
            ("channels", self.channels, MAX_LINES),
        ] {
            if let Err(e) = count_in_range(n.into(), 1, max) {
                p.push(e.at(path(prefix, name)));
            }
        }
        // Each DID in the order's area code and listed once (as `check_did` reports them).
        let first = FirstListed::new(1, |_| &self.dids[..]);
        let at = |i: usize| format!("{}[{i}]", path(prefix, "dids"));
        for (i, did) in self.dids.iter().enumerate() {
            if did.area_code() != self.area_code {
                p.add(
                    at(i),
                    Code::Inconsistent,
                    format!(
                        "the DID is in area code {}, the order in {}",
                        did.area_code(),
                        self.area_code
                    ),
                );
            }
            if let Some((_, j)) = first.before(0, i, *did) {
                p.add(
                    at(i),
                    Code::Duplicate,
                    format!("the same DID is already requested at {}", at(j)),
                );
            }
        }
    }
}

/// Trim surrounding ASCII whitespace, in place (no new allocation when there is none).
fn trim_in_place(s: &mut String) {
    let t = trim_ascii(s);
    if t.len() != s.len() {
        *s = t.to_owned();
    }
}

/// A proposal's status in its source. Unknown statuses are kept verbatim, not dropped.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ProposalStatus {
    /// Being written (`active`).
    Active,
    /// Sent to the customer.
    Sent,
    /// Opened by the customer.
    Read,
    /// Approved / signed: the only status that starts an integration.
    Approved,
    /// Rejected by the customer.
    Rejected,
    /// Cancelled by the seller.
    Cancelled,
    /// Expired without an answer.
    Expired,
    /// DocSales reported an error on the document.
    Error,
    /// A status SIG does not know yet, kept as received.
    Unknown(String),
}

impl ProposalStatus {
    /// The wire name.
    pub fn as_str(&self) -> &str {
        match self {
            ProposalStatus::Active => "active",
            ProposalStatus::Sent => "sent",
            ProposalStatus::Read => "read",
            ProposalStatus::Approved => "approved",
            ProposalStatus::Rejected => "rejected",
            ProposalStatus::Cancelled => "cancelled",
            ProposalStatus::Expired => "expired",
            ProposalStatus::Error => "error",
            ProposalStatus::Unknown(s) => s,
        }
    }

    /// Parse a wire name (case-insensitive, trimmed); anything unknown is kept.
    pub fn parse(s: &str) -> ProposalStatus {
        let t = crate::problem::trim_ascii(s);
        // Compared case-insensitively in place (no lower-cased copy per call).
        static KNOWN: [(&str, ProposalStatus); 9] = [
            ("active", ProposalStatus::Active),
            ("sent", ProposalStatus::Sent),
            ("read", ProposalStatus::Read),
            ("approved", ProposalStatus::Approved),
            ("rejected", ProposalStatus::Rejected),
            ("cancelled", ProposalStatus::Cancelled),
            ("canceled", ProposalStatus::Cancelled),
            ("expired", ProposalStatus::Expired),
            ("error", ProposalStatus::Error),
        ];
        KNOWN
            .iter()
            .find(|(name, _)| t.eq_ignore_ascii_case(name))
            .map_or_else(
                || ProposalStatus::Unknown(t.to_owned()),
                |(_, status)| status.clone(),
            )
    }

    /// Whether this status starts an integration (DESIGN.md: only an approval does).
    pub fn starts_integration(&self) -> bool {
        matches!(self, ProposalStatus::Approved)
    }
}

impl fmt::Display for ProposalStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ProposalStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ProposalStatus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(ProposalStatus::parse(&String::deserialize(d)?))
    }
}

/// The seller who owns the proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seller {
    /// Name.
    pub name: ContactName,
    /// E-mail, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
}

/// The fields of a [`Proposal`]: each value valid on its own; the rules between them are
/// checked by [`Proposal::new`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalFields {
    /// The source's id of the proposal (DocSales internal id), or SIG's for direct ones.
    pub id: String,
    /// The human code (`DS-00319`), when the source has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Status in the source.
    pub status: ProposalStatus,
    /// The customer.
    pub customer: Customer,
    /// The services, no DID requested by two of them. A DocSales proposal has at least one
    /// (checked when it is validated, [`crate::raw::RawProposal::validate`]); a customer
    /// registered directly in SIG or migrated may have none yet.
    pub orders: Vec<ServiceOrder>,
    /// The seller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seller: Option<Seller>,
    /// When the source created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime<FixedOffset>>,
    /// When the source last changed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<FixedOffset>>,
}

/// The validated domain view of a proposal (from DocSales, a direct registration or a
/// migrated row). Read its fields directly (`proposal.orders`); see the
/// [module documentation](self) for its rules.
#[derive(Clone, PartialEq, Eq)]
pub struct Proposal(ProposalFields);

validated!(Proposal, ProposalFields, "proposal");

impl Proposal {
    /// Trim the id and code, then check the rules between the fields (module documentation);
    /// problems are reported at paths relative to the proposal (`orders[1].dids[0]`).
    pub fn new(mut fields: ProposalFields) -> Result<Proposal, Problems> {
        trim_in_place(&mut fields.id);
        if let Some(code) = &mut fields.code {
            trim_in_place(code);
        }
        fields.code = fields.code.filter(|c| !c.is_empty());
        let mut p = Problems::new();
        if fields.id.is_empty() {
            p.push(Invalid::required().at("id"));
        }
        // Each order has passed its own checks; what is left is a DID taken by two orders.
        let orders = &fields.orders;
        let first = FirstListed::new(orders.len(), |i| &orders[i].dids[..]);
        for (i, order) in orders.iter().enumerate() {
            for (j, did) in order.dids.iter().enumerate() {
                if let Some((k, m)) = first.before(i, j, *did) {
                    p.add(
                        format!("orders[{i}].dids[{j}]"),
                        Code::Duplicate,
                        format!("the same DID is already requested at orders[{k}].dids[{m}]"),
                    );
                }
            }
        }
        p.into_result(Proposal(fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_keep_unknowns() {
        assert_eq!(
            ProposalStatus::parse(" Approved "),
            ProposalStatus::Approved
        );
        assert!(ProposalStatus::parse("approved").starts_integration());
        assert!(!ProposalStatus::parse("sent").starts_integration());
        // Every wire name in any case, read as its lower-cased form is.
        for (name, status) in [
            ("ACTIVE", ProposalStatus::Active),
            ("Sent", ProposalStatus::Sent),
            ("rEAD", ProposalStatus::Read),
            ("Rejected", ProposalStatus::Rejected),
            ("CANCELLED", ProposalStatus::Cancelled),
            ("Canceled", ProposalStatus::Cancelled),
            ("expired\t", ProposalStatus::Expired),
            ("Error", ProposalStatus::Error),
        ] {
            assert_eq!(ProposalStatus::parse(name), status, "{name}");
        }
        // Unknown ones are kept as received (trimmed), not lower-cased; a non-ASCII letter
        // is not folded.
        assert_eq!(
            ProposalStatus::parse(" Signed "),
            ProposalStatus::Unknown("Signed".into())
        );
        assert_eq!(
            ProposalStatus::parse("ſent"),
            ProposalStatus::Unknown("ſent".into())
        );
        let u = ProposalStatus::parse("signed_partially");
        assert_eq!(u, ProposalStatus::Unknown("signed_partially".into()));
        assert_eq!(serde_json::to_string(&u).unwrap(), "\"signed_partially\"");
        assert!(!u.starts_integration());
    }

    #[test]
    fn billing_day_range() {
        assert!(BillingDay::new(0).is_err());
        assert!(BillingDay::new(1).is_ok());
        assert!(BillingDay::new(28).is_ok());
        assert_eq!(BillingDay::new(29).unwrap_err().code, Code::OutOfRange);
        assert!(serde_json::from_str::<BillingDay>("31").is_err());
    }
}
