//! The validated domain: customers, service orders and proposals. Values of these types are
//! only built by validation ([`crate::raw`]) or deserialization through it, so code that holds
//! one never re-checks it.

use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::address::Address;
use crate::contact::{AreaCode, Email, Phone};
use crate::ids::PlanId;
use crate::money::Money;
use crate::problem::{Code, Invalid};
use crate::taxid::{TaxId, TaxIdKind};
use crate::text::{ContactName, LegalName, Registration, TradeName};

/// Whether a customer is a person (CPF) or a company (CNPJ).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomerKind {
    /// A natural person, identified by CPF.
    Person,
    /// A legal entity, identified by CNPJ.
    Company,
}

/// A customer as SIG knows it: the data that goes to Omie and NextBilling. Its SIG id is
/// assigned by the store (one per tax id and company), not carried here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
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
    /// E-mail addresses, the first being the main (billing) one. At least one.
    pub emails: Vec<Email>,
    /// Phone numbers, the first being the main one. At least one.
    pub phones: Vec<Phone>,
    /// Billing address.
    pub address: Address,
    /// State registration (inscrição estadual).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_registration: Option<Registration>,
    /// Municipal registration (inscrição municipal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub municipal_registration: Option<Registration>,
}

impl Customer {
    /// Person or company, from the tax id.
    pub fn kind(&self) -> CustomerKind {
        match self.tax_id.kind() {
            TaxIdKind::Cpf => CustomerKind::Person,
            TaxIdKind::Cnpj => CustomerKind::Company,
        }
    }

    /// The main e-mail address.
    pub fn main_email(&self) -> &Email {
        &self.emails[0]
    }

    /// The main phone.
    pub fn main_phone(&self) -> &Phone {
        &self.phones[0]
    }
}

/// The day of the month a contract bills on: 1 to 28, so every month has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct BillingDay(u8);

impl BillingDay {
    /// Validate a day.
    pub fn new(day: u8) -> Result<Self, Invalid> {
        if (1..=28).contains(&day) {
            Ok(BillingDay(day))
        } else {
            Err(Invalid::new(
                Code::OutOfRange,
                format!("the billing day is between 1 and 28, got {day}"),
            ))
        }
    }

    /// The day number.
    pub fn get(self) -> u8 {
        self.0
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

/// One service the customer contracted: a plan with its SIP lines and channels in one area
/// code, the DIDs requested there, and its monthly value. It becomes one Omie contract and
/// its lines and DIDs on one ServidorNext.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceOrder {
    /// The catalog plan.
    pub plan: PlanId,
    /// The source product code the plan was mapped from, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_code: Option<String>,
    /// Units of the plan contracted.
    pub quantity: u32,
    /// SIP lines to provision (at least 1).
    pub sip_lines: u32,
    /// Simultaneous channels (at least 1).
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

/// The validated domain view of a proposal (from DocSales, a direct registration or a
/// migrated row).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    /// The source's id of the proposal (DocSales internal id), or SIG's for direct ones.
    pub id: String,
    /// The human code (`DS-00319`), when the source has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Status in the source.
    pub status: ProposalStatus,
    /// The customer.
    pub customer: Customer,
    /// The services; at least one.
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
