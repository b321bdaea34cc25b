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

/// Report every item that repeats an earlier one, at `field[i]` (`i` given with the item).
/// Returns whether there was none.
pub(crate) fn check_unique<'a, T: PartialEq + 'a>(
    field: &str,
    items: impl IntoIterator<Item = (usize, &'a T)>,
    p: &mut Problems,
) -> bool {
    let mut earlier: Vec<&T> = Vec::new();
    let mut unique = true;
    for (i, item) in items {
        if earlier.contains(&item) {
            p.add(format!("{field}[{i}]"), Code::Duplicate, "listed twice");
            unique = false;
        } else {
            earlier.push(item);
        }
    }
    unique
}

/// The rules on one DID of an order, reported at `at`: in the order's area code (when that is
/// known), and not already requested in the same proposal (`seen` maps each DID taken so far
/// to where it was). Returns whether the DID passed both.
pub(crate) fn check_did(
    did: Phone,
    area: Option<AreaCode>,
    at: &str,
    seen: &mut HashMap<Phone, String>,
    p: &mut Problems,
) -> bool {
    let mut ok = true;
    if let Some(area) = area
        && did.area_code() != area
    {
        p.add(
            at,
            Code::Inconsistent,
            format!(
                "the DID is in area code {}, the order in {}",
                did.area_code(),
                area
            ),
        );
        ok = false;
    }
    if let Some(first) = seen.get(&did) {
        p.add(
            at,
            Code::Duplicate,
            format!("the same DID is already requested at {first}"),
        );
        ok = false;
    } else {
        seen.insert(did, at.to_owned());
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
        check_unique(&path(prefix, "emails"), self.emails.iter().enumerate(), p);
        check_unique(&path(prefix, "phones"), self.phones.iter().enumerate(), p);
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
        fields.check("", &mut HashMap::new(), &mut p);
        p.into_result(ServiceOrder(fields))
    }
}

impl ServiceOrderFields {
    /// The rules, reported under `prefix`; `seen` holds the DIDs of earlier orders.
    pub(crate) fn check(&self, prefix: &str, seen: &mut HashMap<Phone, String>, p: &mut Problems) {
        for (name, n, max) in [
            ("quantity", self.quantity, MAX_QUANTITY),
            ("sip_lines", self.sip_lines, MAX_LINES),
            ("channels", self.channels, MAX_LINES),
        ] {
            p.check(path(prefix, name), count_in_range(n.into(), 1, max));
        }
        let dids = path(prefix, "dids");
        for (i, did) in self.dids.iter().enumerate() {
            check_did(*did, Some(self.area_code), &format!("{dids}[{i}]"), seen, p);
        }
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
        match t.to_ascii_lowercase().as_str() {
            "active" => ProposalStatus::Active,
            "sent" => ProposalStatus::Sent,
            "read" => ProposalStatus::Read,
            "approved" => ProposalStatus::Approved,
            "rejected" => ProposalStatus::Rejected,
            "cancelled" | "canceled" => ProposalStatus::Cancelled,
            "expired" => ProposalStatus::Expired,
            "error" => ProposalStatus::Error,
            _ => ProposalStatus::Unknown(t.to_owned()),
        }
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
        fields.id = trim_ascii(&fields.id).to_owned();
        fields.code = fields
            .code
            .map(|c| trim_ascii(&c).to_owned())
            .filter(|c| !c.is_empty());
        let mut p = Problems::new();
        if fields.id.is_empty() {
            p.push(Invalid::required().at("id"));
        }
        // Each order has passed its own checks; what is left is a DID taken by two orders.
        let mut seen = HashMap::new();
        for (i, order) in fields.orders.iter().enumerate() {
            for (j, did) in order.dids.iter().enumerate() {
                check_did(
                    *did,
                    None,
                    &format!("orders[{i}].dids[{j}]"),
                    &mut seen,
                    &mut p,
                );
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
