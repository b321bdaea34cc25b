//! Authorization: who may do what, and which proposal fields each may edit.
//!
//! Every operation carries an [`Actor`] (DESIGN.md, "Who acts"): SIG itself
//! ([`Actor::System`]), a DocSales webhook ([`Actor::Webhook`]) or a person ([`Actor::User`])
//! whose [`Profile`] comes from `sig.toml`'s `[[users]]`. Permissions are per [`Action`], and
//! edits are checked per [`Field`] of the proposal.
//!
//! [`Authorizer`] joins the policy with the users `sig.toml` lists; the pipeline asks it for
//! every operation a person runs and writes each decision to the audit.
//!
//! The policy is **data**: a TOML document ([`Policy::DEFAULT_TOML`] is built in, an override
//! file is read with [`Policy::from_toml`] / [`Policy::load`]). No business rule about who may
//! do what lives anywhere else in code: callers ask [`Policy::check`] or
//! [`Policy::check_field`], and every answer is a [`Decision`] that can be written to the
//! audit ([`Decision::audit_event`]), allowed or denied.
//!
//! # The policy document
//!
//! ```toml
//! [classes]                       # named groups of fields (merged over the built-in ones)
//! contacts = ["customer.trade_name", "customer.contact_name", "customer.emails", "customer.phones"]
//! address = ["customer.address.*"]
//!
//! [profiles.operator]             # admin, operator, finance, viewer, customer, reseller
//! actions = ["view_integrations", "edit_proposal"]   # action names, or "*" for all
//! fields = ["contacts", "address"]                   # class names, field paths, "x.*" globs, "*"
//!
//! [actors.webhook]                # system, webhook: the actors that are not people
//! actions = ["intake"]
//! ```
//!
//! Field paths are the [`RawProposal`](crate::raw::RawProposal) paths with the order index
//! left out: `customer.address.cep`, `orders[].dids`. A glob `prefix.*` matches every field
//! under `prefix.` (`customer.address.*`, `orders[].*`, `seller.*`); `*` matches every field.
//! An unknown profile, actor, action, field, class or a glob that matches nothing is a
//! configuration error naming its key (`profiles.operator.fields[2]`).
//!
//! An override file is a **complete** policy: a profile or actor it does not name is granted
//! nothing (deny by default). Its `[classes]` are merged over the built-in classes (a class of
//! the same name replaces the built-in one). Start from [`Policy::DEFAULT_TOML`].
//!
//! # Field classes (built in)
//!
//! | class | fields |
//! |---|---|
//! | `contacts` | `customer.trade_name`, `customer.contact_name`, `customer.emails`, `customer.phones` |
//! | `address` | `customer.address.*` (street, number, complement, district, city, uf, cep) |
//! | `tax_identity` | `customer.tax_id`, `customer.legal_name`, `customer.state_registration`, `customer.municipal_registration` |
//! | `plan` | `orders[].product`, `orders[].quantity`, `orders[].sip_lines`, `orders[].channels` |
//! | `service` | `orders[].area_code`, `orders[].dids` |
//! | `values` | `orders[].monthly_value` |
//! | `billing` | `orders[].billing_day`, `orders[].start_date` |
//! | `payment` | none yet: the proposal carries no payment data; payment fields join this class when they exist |
//! | `seller` | `seller.*` (name, email) |
//!
//! The legal name sits with the tax identity (it is what the CNPJ registers); the trade name
//! with the contacts (it is how SIG addresses the customer). The contract's start date sits
//! with billing (billing starts from it). Source metadata (`id`, `code`, `status`,
//! `created_at`, `updated_at`) is not editable by anyone.
//!
//! # Default policy
//!
//! | action | admin | operator | finance | viewer | customer | reseller | system | webhook |
//! |---|---|---|---|---|---|---|---|---|
//! | `intake` | ✓ | ✓ | | | | | ✓ | ✓ |
//! | `view_integrations` | ✓ | ✓ | ✓ | ✓ | | | | |
//! | `view_audit` | ✓ | ✓ | ✓ | | | | | |
//! | `edit_proposal` | ✓ | ✓ | ✓ | | | | | |
//! | `resume_integration` | ✓ | ✓ | ✓ | | | | | |
//! | `retry_integration` | ✓ | ✓ | | | | | | |
//! | `cancel_integration` | ✓ | ✓ | | | | | | |
//! | `choose_server` | ✓ | | | | | | | |
//! | `force_server` | ✓ | | | | | | | |
//! | `register_customer` | ✓ | ✓ | | | | | | |
//! | `migrate` | ✓ | ✓ | | | | | | |
//! | `push_to_docsales` | ✓ | | | | | | | |
//! | `export_personal_data` | ✓ | | | | | | | |
//! | `manage_config` | ✓ | | | | | | | |
//!
//! | field class | admin | operator | finance | others |
//! |---|---|---|---|---|
//! | `contacts`, `address` | ✓ | ✓ | | |
//! | `values`, `billing`, `payment` | ✓ | | ✓ | |
//! | `tax_identity`, `plan`, `service`, `seller` | ✓ | | | |
//!
//! Why: the operator works held proposals day to day (views, edits contacts and addresses,
//! resumes, retries, cancels, registers customers directly, migrates, triggers a manual
//! intake); finance corrects values, billing day and payment data and resumes what it fixed;
//! the viewer only sees integrations — not the audit, which keeps the personal data edits
//! changed; the admin does everything, including choosing and forcing a ServidorNext, pushing
//! data to DocSales, exporting unmasked personal data and managing the configuration. The
//! portal profiles (customer, reseller) get nothing until the portal exists. The system and
//! webhook actors only take proposals in (`intake`); none of the people's actions. The
//! pipeline's own steps are not policy-checked: they are the system at work.
//!
//! `force_server` is checked in addition to `choose_server` (a forced choice is a choice).
//! A field check ([`Policy::check_field`]) also requires `edit_proposal`. The field policy
//! applies to edits of existing proposal data; a direct registration
//! (`register_customer`) supplies a new record whole.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, Profile};
use crate::ids::{IntegrationId, UserId};
use crate::problem::{Code, Problems};
use crate::store::{Actor, AuditEvent, AuditOutcome};

/// Every profile, in declaration order.
pub const PROFILES: [Profile; 6] = [
    Profile::Admin,
    Profile::Operator,
    Profile::Finance,
    Profile::Viewer,
    Profile::Customer,
    Profile::Reseller,
];

/// The stable `snake_case` name of a profile (as `sig.toml` and the policy write it).
pub fn profile_name(p: Profile) -> &'static str {
    match p {
        Profile::Admin => "admin",
        Profile::Operator => "operator",
        Profile::Finance => "finance",
        Profile::Viewer => "viewer",
        Profile::Customer => "customer",
        Profile::Reseller => "reseller",
    }
}

fn parse_profile(s: &str) -> Option<Profile> {
    PROFILES.into_iter().find(|p| profile_name(*p) == s)
}

macro_rules! named_enum {
    (
        $(#[$doc:meta])*
        pub enum $name:ident {
            $( $(#[$vdoc:meta])* $variant:ident = $text:literal, )*
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $( $(#[$vdoc])* #[serde(rename = $text)] $variant, )*
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[ $( $name::$variant, )* ];

            /// The stable name (never renamed once published).
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )*
                }
            }

            /// Parse a stable name.
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $( $text => Some($name::$variant), )*
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

named_enum! {
    /// Something an actor may be allowed to do. Names are stable `snake_case`.
    pub enum Action {
        /// Take a proposal in (webhook, reconciliation, a manual `sig sync`).
        Intake = "intake",
        /// List and show integrations.
        ViewIntegrations = "view_integrations",
        /// Read the audit trail (it keeps the personal data edits changed).
        ViewAudit = "view_audit",
        /// Edit a held or not-yet-started proposal (each field is checked too).
        EditProposal = "edit_proposal",
        /// Resume a held integration.
        ResumeIntegration = "resume_integration",
        /// Retry a failed integration.
        RetryIntegration = "retry_integration",
        /// Cancel an integration.
        CancelIntegration = "cancel_integration",
        /// Choose a ServidorNext by hand for a service order.
        ChooseServer = "choose_server",
        /// Force a manual choice past the server checks (with a written reason).
        ForceServer = "force_server",
        /// Register a customer directly in SIG, without a DocSales proposal.
        RegisterCustomer = "register_customer",
        /// Migrate historical data from a file.
        Migrate = "migrate",
        /// Push a SIG customer's data to DocSales.
        PushToDocsales = "push_to_docsales",
        /// Export personal data unmasked.
        ExportPersonalData = "export_personal_data",
        /// Change the configuration (accounts, servers, catalog, users, policy).
        ManageConfig = "manage_config",
    }
}

named_enum! {
    /// An editable field of a proposal. The name is the
    /// [`RawProposal`](crate::raw::RawProposal) path with the order index left out.
    pub enum Field {
        /// `customer.tax_id`.
        CustomerTaxId = "customer.tax_id",
        /// `customer.legal_name`.
        CustomerLegalName = "customer.legal_name",
        /// `customer.trade_name`.
        CustomerTradeName = "customer.trade_name",
        /// `customer.contact_name`.
        CustomerContactName = "customer.contact_name",
        /// `customer.emails` (a list).
        CustomerEmails = "customer.emails",
        /// `customer.phones` (a list).
        CustomerPhones = "customer.phones",
        /// `customer.address.street`.
        AddressStreet = "customer.address.street",
        /// `customer.address.number`.
        AddressNumber = "customer.address.number",
        /// `customer.address.complement`.
        AddressComplement = "customer.address.complement",
        /// `customer.address.district`.
        AddressDistrict = "customer.address.district",
        /// `customer.address.city`.
        AddressCity = "customer.address.city",
        /// `customer.address.uf`.
        AddressUf = "customer.address.uf",
        /// `customer.address.cep`.
        AddressCep = "customer.address.cep",
        /// `customer.state_registration`.
        CustomerStateRegistration = "customer.state_registration",
        /// `customer.municipal_registration`.
        CustomerMunicipalRegistration = "customer.municipal_registration",
        /// `orders[].product`.
        OrderProduct = "orders[].product",
        /// `orders[].quantity`.
        OrderQuantity = "orders[].quantity",
        /// `orders[].sip_lines`.
        OrderSipLines = "orders[].sip_lines",
        /// `orders[].channels`.
        OrderChannels = "orders[].channels",
        /// `orders[].area_code`.
        OrderAreaCode = "orders[].area_code",
        /// `orders[].dids` (a list).
        OrderDids = "orders[].dids",
        /// `orders[].monthly_value`.
        OrderMonthlyValue = "orders[].monthly_value",
        /// `orders[].start_date`.
        OrderStartDate = "orders[].start_date",
        /// `orders[].billing_day`.
        OrderBillingDay = "orders[].billing_day",
        /// `seller.name`.
        SellerName = "seller.name",
        /// `seller.email`.
        SellerEmail = "seller.email",
    }
}

impl Field {
    /// The canonical path (`orders[].dids`).
    pub fn path(self) -> &'static str {
        self.as_str()
    }

    /// Whether the field holds a list (e-mails, phones, DIDs).
    pub fn is_list(self) -> bool {
        matches!(
            self,
            Field::CustomerEmails | Field::CustomerPhones | Field::OrderDids
        )
    }

    /// Whether the field belongs to one order (its path starts with `orders[]`).
    pub fn per_order(self) -> bool {
        self.as_str().starts_with("orders[]")
    }
}

/// A field at a concrete place: `orders[1].dids[0]` is [`Field::OrderDids`] of order 1,
/// item 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FieldRef {
    /// The field.
    pub field: Field,
    /// The order index, for per-order fields.
    pub order: Option<usize>,
    /// The item index, when the path names one element of a list field.
    pub item: Option<usize>,
}

impl FieldRef {
    /// Parse a concrete path (`customer.address.cep`, `orders[1].dids`, `customer.emails[0]`).
    /// `None` when it names no editable field (a missing or extra index included).
    pub fn parse(path: &str) -> Option<FieldRef> {
        let path = path.trim();
        let mut canonical = String::with_capacity(path.len());
        let mut indices = Vec::new();
        let mut chars = path.char_indices().peekable();
        while let Some((_, c)) = chars.next() {
            if c == '[' {
                let mut digits = String::new();
                loop {
                    match chars.next() {
                        Some((_, d)) if d.is_ascii_digit() => digits.push(d),
                        Some((_, ']')) => break,
                        _ => return None,
                    }
                }
                if digits.is_empty() || digits.len() > 9 {
                    return None;
                }
                indices.push(digits.parse::<usize>().ok()?);
                canonical.push_str("[]");
            } else {
                canonical.push(c);
            }
        }
        if let Some(field) = Field::parse(&canonical) {
            let want = usize::from(field.per_order());
            if indices.len() != want {
                return None;
            }
            return Some(FieldRef {
                field,
                order: field.per_order().then(|| indices[0]),
                item: None,
            });
        }
        let base = canonical.strip_suffix("[]")?;
        let field = Field::parse(base).filter(|f| f.is_list())?;
        let want = usize::from(field.per_order()) + 1;
        if indices.len() != want {
            return None;
        }
        Some(FieldRef {
            field,
            order: field.per_order().then(|| indices[0]),
            item: indices.last().copied(),
        })
    }
}

impl fmt::Display for FieldRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.field.as_str();
        match self.order {
            Some(i) => write!(f, "orders[{i}]{}", &path["orders[]".len()..])?,
            None => f.write_str(path)?,
        }
        if let Some(j) = self.item {
            write!(f, "[{j}]")?;
        }
        Ok(())
    }
}

/// Whose grants apply: a profile, or one of the actors that are not people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "name")]
pub enum Subject {
    /// A person with this profile.
    Profile(Profile),
    /// SIG itself.
    System,
    /// A DocSales webhook.
    Webhook,
}

impl Subject {
    /// The subject an actor acts as: a user's profile (`None` when the user has none), the
    /// system or the webhook (a profile passed for them is ignored).
    pub fn of(actor: &Actor, profile: Option<Profile>) -> Option<Subject> {
        match actor {
            Actor::System => Some(Subject::System),
            Actor::Webhook(_) => Some(Subject::Webhook),
            Actor::User(_) => profile.map(Subject::Profile),
        }
    }

    /// Every subject: the profiles, then the system and the webhook.
    pub fn all() -> Vec<Subject> {
        PROFILES
            .into_iter()
            .map(Subject::Profile)
            .chain([Subject::System, Subject::Webhook])
            .collect()
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Profile(p) => write!(f, "the {} profile", profile_name(*p)),
            Subject::System => f.write_str("the system actor"),
            Subject::Webhook => f.write_str("the webhook actor"),
        }
    }
}

/// Why something was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "code")]
pub enum DenyReason {
    /// The user has no profile (not listed in `sig.toml`'s users).
    NoProfile,
    /// The subject is not granted the action.
    ActionNotGranted {
        /// Whose grants were read.
        subject: Subject,
    },
    /// The subject is not granted the field.
    FieldNotGranted {
        /// Whose grants were read.
        subject: Subject,
        /// The classes the field belongs to (none of them granted).
        classes: Vec<String>,
    },
    /// The path names no editable field.
    UnknownField,
}

impl fmt::Display for DenyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DenyReason::NoProfile => {
                f.write_str("the user has no profile (not listed in sig.toml's users)")
            }
            DenyReason::ActionNotGranted { subject } => {
                write!(f, "{subject} is not granted this action")
            }
            DenyReason::FieldNotGranted { subject, classes } => {
                write!(f, "{subject} is not granted this field")?;
                if !classes.is_empty() {
                    write!(f, " (class {})", classes.join(", "))?;
                }
                Ok(())
            }
            DenyReason::UnknownField => f.write_str("it is not an editable field"),
        }
    }
}

/// A refusal: who, what (the action, and the field for an edit) and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub struct Denied {
    /// Who asked.
    pub actor: Actor,
    /// The user's profile, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
    /// The action refused (`edit_proposal` for a field).
    pub action: Action,
    /// The field path refused, for an edit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Why.
    pub reason: DenyReason,
}

fn who(actor: &Actor, profile: Option<Profile>) -> String {
    match (actor, profile) {
        (Actor::User(_), Some(p)) => format!("{actor} ({})", profile_name(p)),
        _ => actor.to_string(),
    }
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = who(&self.actor, self.profile);
        match &self.field {
            Some(field) => write!(f, "{who} may not edit {field}: {}", self.reason),
            None => write!(f, "{who} may not {}: {}", self.action, self.reason),
        }
    }
}

/// One authorization decision, allowed or denied — what the audit records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// Who asked.
    pub actor: Actor,
    /// The user's profile, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
    /// The action.
    pub action: Action,
    /// The field path, for an edit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Whether it is allowed.
    pub allowed: bool,
    /// In words: the grant that allowed it, or why it was denied.
    pub reason: String,
    /// Why it was denied (`None` when allowed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub denial: Option<DenyReason>,
}

impl Decision {
    fn allow(
        actor: &Actor,
        profile: Option<Profile>,
        action: Action,
        field: Option<String>,
        reason: String,
    ) -> Self {
        Decision {
            actor: actor.clone(),
            profile,
            action,
            field,
            allowed: true,
            reason,
            denial: None,
        }
    }

    fn deny(
        actor: &Actor,
        profile: Option<Profile>,
        action: Action,
        field: Option<String>,
        why: DenyReason,
    ) -> Self {
        Decision {
            actor: actor.clone(),
            profile,
            action,
            field,
            allowed: false,
            reason: why.to_string(),
            denial: Some(why),
        }
    }

    /// The refusal, if denied.
    pub fn denied(&self) -> Option<Denied> {
        let reason = self.denial.clone()?;
        Some(Denied {
            actor: self.actor.clone(),
            profile: self.profile,
            action: self.action,
            field: self.field.clone(),
            reason,
        })
    }

    /// `Ok` when allowed, the refusal otherwise.
    pub fn into_result(self) -> Result<(), Denied> {
        match self.denied() {
            Some(d) => Err(d),
            None => Ok(()),
        }
    }

    /// The audit event recording this decision: action `authz.<action>`, outcome
    /// [`AuditOutcome::Ok`] or [`AuditOutcome::Denied`]; details hold the field path, profile
    /// and reason (never a value).
    pub fn audit_event(&self, at: DateTime<Utc>, integration: Option<IntegrationId>) -> AuditEvent {
        let outcome = if self.allowed {
            AuditOutcome::Ok
        } else {
            AuditOutcome::Denied
        };
        let target = match &self.field {
            Some(f) => format!("edit {f}"),
            None => self.action.to_string(),
        };
        let summary = format!(
            "{} {}: {target} — {}",
            if self.allowed { "allowed" } else { "denied" },
            who(&self.actor, self.profile),
            self.reason
        );
        let mut e = AuditEvent::new(
            at,
            self.actor.clone(),
            format!("authz.{}", self.action),
            outcome,
            summary,
        );
        e.integration = integration;
        e.details = serde_json::json!({
            "action": self.action,
            "field": self.field,
            "profile": self.profile,
            "allowed": self.allowed,
            "reason": self.reason,
            "denial": self.denial,
        });
        e
    }
}

impl From<Denied> for Decision {
    fn from(d: Denied) -> Self {
        Decision {
            reason: d.reason.to_string(),
            actor: d.actor,
            profile: d.profile,
            action: d.action,
            field: d.field,
            allowed: false,
            denial: Some(d.reason),
        }
    }
}

/// What one subject is granted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Grant {
    /// Actions, with the entry that granted each.
    actions: BTreeMap<Action, String>,
    /// Fields, with the entry (class, glob or path) that granted each.
    fields: BTreeMap<Field, String>,
}

/// The authorization policy: field classes and what each subject is granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    classes: BTreeMap<String, BTreeSet<Field>>,
    grants: BTreeMap<Subject, Grant>,
}

impl Default for Policy {
    /// The built-in policy ([`Policy::DEFAULT_TOML`]).
    fn default() -> Self {
        Policy::builtin()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    classes: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    profiles: BTreeMap<String, GrantFile>,
    #[serde(default)]
    actors: BTreeMap<String, GrantFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantFile {
    #[serde(default)]
    actions: Vec<String>,
    #[serde(default)]
    fields: Vec<String>,
}

fn parse_policy_file(text: &str) -> Result<PolicyFile, ConfigError> {
    let table: toml::Table = toml::from_str(text).map_err(|e| ConfigError::Syntax {
        key: "(document)".into(),
        message: e.to_string(),
    })?;
    serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
        let key = e.path().to_string();
        ConfigError::Syntax {
            key,
            message: e.into_inner().to_string(),
        }
    })
}

/// Fields a pattern names: `*`, `prefix.*` or an exact field path (not a class).
fn fields_matching(pattern: &str) -> Option<BTreeSet<Field>> {
    let set: BTreeSet<Field> = if pattern == "*" {
        Field::ALL.iter().copied().collect()
    } else if let Some(prefix) = pattern.strip_suffix('*') {
        if !prefix.ends_with('.') {
            return None;
        }
        Field::ALL
            .iter()
            .copied()
            .filter(|f| f.as_str().starts_with(prefix))
            .collect()
    } else {
        Field::parse(pattern).into_iter().collect()
    };
    (!set.is_empty()).then_some(set)
}

fn valid_class_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl Policy {
    /// The built-in policy document. It is the reference for the defaults documented above
    /// and the starting point for an override file.
    pub const DEFAULT_TOML: &'static str = r#"# SIG VoIP — built-in authorization policy (sig_core::authz::Policy::DEFAULT_TOML).
#
# Copy this file to start an override: an override is a complete policy (a profile or
# actor it does not name is granted nothing); its [classes] are merged over these.
#
# fields entries: a class name, a field path (`customer.address.cep`, `orders[].dids`),
# a glob `prefix.*`, or `*` for every field. actions entries: action names or `*`.

[classes]
contacts = ["customer.trade_name", "customer.contact_name", "customer.emails", "customer.phones"]
address = ["customer.address.*"]
tax_identity = [
    "customer.tax_id",
    "customer.legal_name",
    "customer.state_registration",
    "customer.municipal_registration",
]
plan = ["orders[].product", "orders[].quantity", "orders[].sip_lines", "orders[].channels"]
service = ["orders[].area_code", "orders[].dids"]
values = ["orders[].monthly_value"]
billing = ["orders[].billing_day", "orders[].start_date"]
# The proposal carries no payment data yet; payment fields join this class when they exist.
payment = []
seller = ["seller.*"]

[profiles.admin]
actions = ["*"]
fields = ["*"]

[profiles.operator]
actions = [
    "intake",
    "view_integrations",
    "view_audit",
    "edit_proposal",
    "resume_integration",
    "retry_integration",
    "cancel_integration",
    "register_customer",
    "migrate",
]
fields = ["contacts", "address"]

[profiles.finance]
actions = ["view_integrations", "view_audit", "edit_proposal", "resume_integration"]
fields = ["values", "billing", "payment"]

[profiles.viewer]
actions = ["view_integrations"]
fields = []

# The self-service portal's profiles: nothing until the portal exists.
[profiles.customer]
[profiles.reseller]

# Actors that are not people: only what the pipeline itself does.
[actors.system]
actions = ["intake"]

[actors.webhook]
actions = ["intake"]
"#;

    /// The built-in policy.
    pub fn builtin() -> Policy {
        Policy::parse(Policy::DEFAULT_TOML, &BTreeMap::new())
            .expect("the built-in policy is valid (tested)")
    }

    /// Read a policy override file (a complete policy; see the module docs).
    pub fn load(path: &Path) -> Result<Policy, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Policy::from_toml(&text)
    }

    /// Parse a policy document. Its classes are merged over the built-in ones; profiles and
    /// actors it does not name are granted nothing. Every problem is reported with its key.
    pub fn from_toml(text: &str) -> Result<Policy, ConfigError> {
        Policy::parse(text, &Policy::builtin().classes)
    }

    fn parse(
        text: &str,
        base_classes: &BTreeMap<String, BTreeSet<Field>>,
    ) -> Result<Policy, ConfigError> {
        let file = parse_policy_file(text)?;
        let mut p = Problems::new();

        let mut classes = base_classes.clone();
        for (name, entries) in &file.classes {
            let key = format!("classes.{name}");
            if !valid_class_name(name) {
                p.add(
                    &key,
                    Code::InvalidFormat,
                    "a class name is lowercase letters, digits and _",
                );
                continue;
            }
            let mut set = BTreeSet::new();
            for (i, entry) in entries.iter().enumerate() {
                match fields_matching(entry.trim()) {
                    Some(f) => set.extend(f),
                    None => p.add(
                        format!("{key}[{i}]"),
                        Code::UnknownReference,
                        format!(
                            "{entry:?} is not an editable field path or a glob that matches one"
                        ),
                    ),
                }
            }
            classes.insert(name.clone(), set);
        }

        let mut grants = BTreeMap::new();
        for (name, g) in &file.profiles {
            let key = format!("profiles.{name}");
            let Some(profile) = parse_profile(name) else {
                p.add(
                    &key,
                    Code::UnknownReference,
                    format!(
                        "unknown profile; expected one of {}",
                        PROFILES.map(profile_name).join(", ")
                    ),
                );
                continue;
            };
            let grant = build_grant(g, &key, &classes, &mut p);
            grants.insert(Subject::Profile(profile), grant);
        }
        for (name, g) in &file.actors {
            let key = format!("actors.{name}");
            let subject = match name.as_str() {
                "system" => Subject::System,
                "webhook" => Subject::Webhook,
                _ => {
                    p.add(
                        &key,
                        Code::UnknownReference,
                        "unknown actor; expected system or webhook",
                    );
                    continue;
                }
            };
            let grant = build_grant(g, &key, &classes, &mut p);
            grants.insert(subject, grant);
        }
        if p.is_empty() {
            Ok(Policy { classes, grants })
        } else {
            Err(ConfigError::Invalid(p))
        }
    }

    /// Decide whether `actor` (with its user's `profile`) may do `action`.
    pub fn decide(&self, actor: &Actor, profile: Option<Profile>, action: Action) -> Decision {
        let Some(subject) = Subject::of(actor, profile) else {
            return Decision::deny(actor, profile, action, None, DenyReason::NoProfile);
        };
        match self
            .grants
            .get(&subject)
            .and_then(|g| g.actions.get(&action))
        {
            Some(entry) => Decision::allow(
                actor,
                profile,
                action,
                None,
                format!("{subject} is granted {action} (by {entry:?})"),
            ),
            None => Decision::deny(
                actor,
                profile,
                action,
                None,
                DenyReason::ActionNotGranted { subject },
            ),
        }
    }

    /// Decide whether `actor` may edit the field at `field_path` (`customer.address.cep`,
    /// `orders[1].dids`): it needs `edit_proposal` and the field.
    pub fn decide_field(
        &self,
        actor: &Actor,
        profile: Option<Profile>,
        field_path: &str,
    ) -> Decision {
        let path = field_path.trim().to_owned();
        let Some(fr) = FieldRef::parse(&path) else {
            return Decision::deny(
                actor,
                profile,
                Action::EditProposal,
                Some(path),
                DenyReason::UnknownField,
            );
        };
        let action = self.decide(actor, profile, Action::EditProposal);
        if let Some(why) = action.denial {
            return Decision::deny(actor, profile, Action::EditProposal, Some(path), why);
        }
        let subject = Subject::of(actor, profile).expect("edit_proposal was allowed");
        match self
            .grants
            .get(&subject)
            .and_then(|g| g.fields.get(&fr.field))
        {
            Some(entry) => Decision::allow(
                actor,
                profile,
                Action::EditProposal,
                Some(path),
                format!("{subject} is granted {} (by {entry:?})", fr.field),
            ),
            None => Decision::deny(
                actor,
                profile,
                Action::EditProposal,
                Some(path),
                DenyReason::FieldNotGranted {
                    subject,
                    classes: self.classes_of(fr.field),
                },
            ),
        }
    }

    /// `Ok` if `actor` may do `action`, the typed refusal otherwise.
    pub fn check(
        &self,
        actor: &Actor,
        profile: Option<Profile>,
        action: Action,
    ) -> Result<(), Denied> {
        self.decide(actor, profile, action).into_result()
    }

    /// `Ok` if `actor` may edit the field at `field_path`, the typed refusal otherwise.
    pub fn check_field(
        &self,
        actor: &Actor,
        profile: Option<Profile>,
        field_path: &str,
    ) -> Result<(), Denied> {
        self.decide_field(actor, profile, field_path).into_result()
    }

    /// The actions a subject is granted (for help screens and `whoami`-style output).
    pub fn actions(&self, subject: Subject) -> Vec<Action> {
        self.grants
            .get(&subject)
            .map(|g| g.actions.keys().copied().collect())
            .unwrap_or_default()
    }

    /// The fields a subject is granted (an edit also needs `edit_proposal`).
    pub fn fields(&self, subject: Subject) -> Vec<Field> {
        self.grants
            .get(&subject)
            .map(|g| g.fields.keys().copied().collect())
            .unwrap_or_default()
    }

    /// The classes a field belongs to.
    pub fn classes_of(&self, field: Field) -> Vec<String> {
        self.classes
            .iter()
            .filter(|(_, fields)| fields.contains(&field))
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// The fields of a class (`None` for an unknown class).
    pub fn class(&self, name: &str) -> Option<Vec<Field>> {
        self.classes.get(name).map(|s| s.iter().copied().collect())
    }
}

fn build_grant(
    g: &GrantFile,
    key: &str,
    classes: &BTreeMap<String, BTreeSet<Field>>,
    p: &mut Problems,
) -> Grant {
    let mut grant = Grant::default();
    for (i, a) in g.actions.iter().enumerate() {
        let a = a.trim();
        if a == "*" {
            for x in Action::ALL {
                grant.actions.entry(*x).or_insert_with(|| "*".to_owned());
            }
        } else if let Some(x) = Action::parse(a) {
            grant.actions.insert(x, a.to_owned());
        } else {
            p.add(
                format!("{key}.actions[{i}]"),
                Code::UnknownReference,
                format!("unknown action {a:?}"),
            );
        }
    }
    for (i, f) in g.fields.iter().enumerate() {
        let f = f.trim();
        let set = classes.get(f).cloned().or_else(|| fields_matching(f));
        match set {
            Some(set) => {
                for x in set {
                    grant.fields.entry(x).or_insert_with(|| f.to_owned());
                }
            }
            None => p.add(
                format!("{key}.fields[{i}]"),
                Code::UnknownReference,
                format!(
                    "{f:?} is not a field class, an editable field path or a glob that matches one"
                ),
            ),
        }
    }
    grant
}

/// The policy together with the users `sig.toml` lists: the one place operations ask whether
/// an actor may act. A user not listed has no profile and is denied everything; the system
/// and webhook actors get their own grants.
///
/// Deciding is pure; recording the decision in the audit is the caller's part (the pipeline
/// writes every decision, allowed or denied — [`Decision::audit_event`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorizer {
    policy: Policy,
    users: BTreeMap<UserId, Profile>,
}

impl Default for Authorizer {
    /// The built-in policy and no users (every person is denied until listed).
    fn default() -> Self {
        Authorizer::new(Policy::default(), std::iter::empty())
    }
}

impl Authorizer {
    /// A policy and the users with their profiles.
    pub fn new(policy: Policy, users: impl IntoIterator<Item = (UserId, Profile)>) -> Self {
        Authorizer {
            policy,
            users: users.into_iter().collect(),
        }
    }

    /// The configuration's policy (`[authz] policy = "FILE"`, or the built-in one) and users.
    pub fn from_config(config: &crate::config::Config) -> Self {
        Authorizer::new(
            config.policy.clone(),
            config.users.iter().map(|u| (u.id.clone(), u.profile)),
        )
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The profile of a user actor (`None` for an unlisted user, the system and webhooks).
    pub fn profile(&self, actor: &Actor) -> Option<Profile> {
        match actor {
            Actor::User(u) => self.users.get(u).copied(),
            _ => None,
        }
    }

    /// May `actor` do `action`?
    pub fn decide(&self, actor: &Actor, action: Action) -> Decision {
        self.policy.decide(actor, self.profile(actor), action)
    }

    /// May `actor` edit the field at `field_path` (`orders[1].dids`)?
    pub fn decide_field(&self, actor: &Actor, field_path: &str) -> Decision {
        self.policy
            .decide_field(actor, self.profile(actor), field_path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::UserId;

    fn user() -> Actor {
        Actor::User("ana".parse::<UserId>().unwrap())
    }

    fn actor_for(s: Subject) -> (Actor, Option<Profile>) {
        match s {
            Subject::Profile(p) => (user(), Some(p)),
            Subject::System => (Actor::System, None),
            Subject::Webhook => (Actor::Webhook("acme".into()), None),
        }
    }

    /// Columns of the hand-written tables, in this order.
    const COLUMNS: [&str; 8] = [
        "admin", "operator", "finance", "viewer", "customer", "reseller", "system", "webhook",
    ];

    fn subject_of_column(name: &str) -> Subject {
        match name {
            "system" => Subject::System,
            "webhook" => Subject::Webhook,
            p => Subject::Profile(parse_profile(p).unwrap()),
        }
    }

    // The expected default policy, WRITTEN BY HAND (not derived from the policy file).
    // Y = allowed, . = denied. Columns: admin operator finance viewer customer reseller
    // system webhook.
    const ACTIONS_TABLE: &[(&str, &str)] = &[
        ("intake", "Y Y . . . . Y Y"),
        ("view_integrations", "Y Y Y Y . . . ."),
        ("view_audit", "Y Y Y . . . . ."),
        ("edit_proposal", "Y Y Y . . . . ."),
        ("resume_integration", "Y Y Y . . . . ."),
        ("retry_integration", "Y Y . . . . . ."),
        ("cancel_integration", "Y Y . . . . . ."),
        ("choose_server", "Y . . . . . . ."),
        ("force_server", "Y . . . . . . ."),
        ("register_customer", "Y Y . . . . . ."),
        ("migrate", "Y Y . . . . . ."),
        ("push_to_docsales", "Y . . . . . . ."),
        ("export_personal_data", "Y . . . . . . ."),
        ("manage_config", "Y . . . . . . ."),
    ];

    const FIELDS_TABLE: &[(&str, &str)] = &[
        ("customer.tax_id", "Y . . . . . . ."),
        ("customer.legal_name", "Y . . . . . . ."),
        ("customer.trade_name", "Y Y . . . . . ."),
        ("customer.contact_name", "Y Y . . . . . ."),
        ("customer.emails", "Y Y . . . . . ."),
        ("customer.phones", "Y Y . . . . . ."),
        ("customer.address.street", "Y Y . . . . . ."),
        ("customer.address.number", "Y Y . . . . . ."),
        ("customer.address.complement", "Y Y . . . . . ."),
        ("customer.address.district", "Y Y . . . . . ."),
        ("customer.address.city", "Y Y . . . . . ."),
        ("customer.address.uf", "Y Y . . . . . ."),
        ("customer.address.cep", "Y Y . . . . . ."),
        ("customer.state_registration", "Y . . . . . . ."),
        ("customer.municipal_registration", "Y . . . . . . ."),
        ("orders[].product", "Y . . . . . . ."),
        ("orders[].quantity", "Y . . . . . . ."),
        ("orders[].sip_lines", "Y . . . . . . ."),
        ("orders[].channels", "Y . . . . . . ."),
        ("orders[].area_code", "Y . . . . . . ."),
        ("orders[].dids", "Y . . . . . . ."),
        ("orders[].monthly_value", "Y . Y . . . . ."),
        ("orders[].start_date", "Y . Y . . . . ."),
        ("orders[].billing_day", "Y . Y . . . . ."),
        ("seller.name", "Y . . . . . . ."),
        ("seller.email", "Y . . . . . . ."),
    ];

    fn expected(table: &[(&str, &str)], row: &str) -> Vec<bool> {
        let (_, cells) = table
            .iter()
            .find(|(r, _)| *r == row)
            .unwrap_or_else(|| panic!("the hand-written table has no row for {row}"));
        let cells: Vec<bool> = cells
            .split_whitespace()
            .map(|c| match c {
                "Y" => true,
                "." => false,
                other => panic!("bad cell {other:?}"),
            })
            .collect();
        assert_eq!(cells.len(), COLUMNS.len(), "row {row}");
        cells
    }

    /// A concrete path for a field (order 1 for per-order fields).
    fn concrete(f: Field) -> String {
        f.as_str().replace("orders[]", "orders[1]")
    }

    #[test]
    fn default_policy_matches_the_hand_written_table_for_every_profile_action_and_field() {
        let policy = Policy::default();
        assert_eq!(ACTIONS_TABLE.len(), Action::ALL.len(), "one row per action");
        assert_eq!(FIELDS_TABLE.len(), Field::ALL.len(), "one row per field");
        assert_eq!(
            Subject::all().len(),
            COLUMNS.len(),
            "one column per subject"
        );
        let mut checked = 0;
        for action in Action::ALL {
            let want = expected(ACTIONS_TABLE, action.as_str());
            for (col, name) in COLUMNS.iter().enumerate() {
                let (actor, profile) = actor_for(subject_of_column(name));
                let got = policy.check(&actor, profile, *action);
                assert_eq!(
                    got.is_ok(),
                    want[col],
                    "{name} × {action}: expected {}, got {got:?}",
                    if want[col] { "allowed" } else { "denied" }
                );
                if let Err(d) = got {
                    assert_eq!(d.action, *action);
                    assert!(d.to_string().contains(action.as_str()), "{d}");
                }
                checked += 1;
            }
        }
        for field in Field::ALL {
            let want = expected(FIELDS_TABLE, field.as_str());
            for (col, name) in COLUMNS.iter().enumerate() {
                let (actor, profile) = actor_for(subject_of_column(name));
                let path = concrete(*field);
                let got = policy.check_field(&actor, profile, &path);
                assert_eq!(
                    got.is_ok(),
                    want[col],
                    "{name} × {path}: expected {}, got {got:?}",
                    if want[col] { "allowed" } else { "denied" }
                );
                if let Err(d) = got {
                    assert_eq!(d.field.as_deref(), Some(path.as_str()));
                    assert!(d.to_string().contains(&path), "{d}");
                }
                checked += 1;
            }
        }
        assert_eq!(checked, 8 * 14 + 8 * 26);
    }

    #[test]
    fn a_user_without_a_profile_is_denied_everything() {
        let policy = Policy::default();
        for action in Action::ALL {
            let d = policy.check(&user(), None, *action).unwrap_err();
            assert_eq!(d.reason, DenyReason::NoProfile);
        }
        let d = policy
            .check_field(&user(), None, "customer.emails")
            .unwrap_err();
        assert_eq!(d.reason, DenyReason::NoProfile);
    }

    #[test]
    fn system_and_webhook_ignore_a_profile_passed_for_them() {
        let policy = Policy::default();
        assert!(
            policy
                .check(&Actor::System, Some(Profile::Admin), Action::ManageConfig)
                .is_err()
        );
        assert!(
            policy
                .check(
                    &Actor::Webhook("acme".into()),
                    Some(Profile::Admin),
                    Action::Intake
                )
                .is_ok()
        );
    }

    #[test]
    fn denials_name_the_actor_the_field_and_the_class() {
        let policy = Policy::default();
        let d = policy
            .check_field(&user(), Some(Profile::Operator), "customer.tax_id")
            .unwrap_err();
        let text = d.to_string();
        assert_eq!(
            text,
            "user:ana (operator) may not edit customer.tax_id: the operator profile is not \
             granted this field (class tax_identity)"
        );
        let d = policy
            .check(&user(), Some(Profile::Viewer), Action::RetryIntegration)
            .unwrap_err();
        assert_eq!(
            d.to_string(),
            "user:ana (viewer) may not retry_integration: the viewer profile is not granted this action"
        );
        let d = policy
            .check_field(&user(), Some(Profile::Admin), "customer.password")
            .unwrap_err();
        assert_eq!(d.reason, DenyReason::UnknownField);
        let d = policy
            .check_field(&user(), Some(Profile::Finance), "orders[0].dids[2]")
            .unwrap_err();
        assert!(matches!(d.reason, DenyReason::FieldNotGranted { .. }));
        assert!(d.to_string().contains("orders[0].dids[2]"), "{d}");
    }

    #[test]
    fn decisions_become_audit_events_allowed_or_denied() {
        let policy = Policy::default();
        let at = Utc::now();
        let ok = policy.decide_field(&user(), Some(Profile::Operator), "customer.address.cep");
        assert!(ok.allowed);
        let e = ok.audit_event(at, None);
        assert_eq!(e.action, "authz.edit_proposal");
        assert_eq!(e.outcome, AuditOutcome::Ok);
        assert_eq!(e.details["field"], "customer.address.cep");
        assert_eq!(e.details["allowed"], true);
        assert!(e.summary.contains("address"), "{}", e.summary);

        let id = IntegrationId::new();
        let no = policy.decide(&user(), Some(Profile::Finance), Action::ChooseServer);
        assert!(!no.allowed);
        let e = no.audit_event(at, Some(id));
        assert_eq!(e.action, "authz.choose_server");
        assert_eq!(e.outcome, AuditOutcome::Denied);
        assert_eq!(e.integration, Some(id));
        assert_eq!(e.details["denial"]["code"], "action_not_granted");

        let back: Decision = no.denied().unwrap().into();
        assert_eq!(back, no);
    }

    #[test]
    fn field_paths_parse_with_their_indexes() {
        let r = FieldRef::parse("orders[12].dids[3]").unwrap();
        assert_eq!(
            (r.field, r.order, r.item),
            (Field::OrderDids, Some(12), Some(3))
        );
        assert_eq!(r.to_string(), "orders[12].dids[3]");
        let r = FieldRef::parse(" customer.emails[0] ").unwrap();
        assert_eq!(
            (r.field, r.order, r.item),
            (Field::CustomerEmails, None, Some(0))
        );
        assert_eq!(
            FieldRef::parse("orders[0].billing_day")
                .unwrap()
                .to_string(),
            "orders[0].billing_day"
        );
        for bad in [
            "",
            "orders.dids",
            "orders[].dids",
            "orders[x].dids",
            "orders[1].billing_day[0]",
            "customer.tax_id[0]",
            "customer[0].tax_id",
            "orders[1][2].dids",
            "orders[99999999999999999999].dids",
            "orders[1",
            "id",
            "status",
            "customer",
            "customer.address",
        ] {
            assert!(FieldRef::parse(bad).is_none(), "{bad:?} parsed");
        }
    }

    #[test]
    fn the_policy_is_data_an_override_changes_it() {
        let text = r#"
[classes]
service = ["orders[].dids"]

[profiles.operator]
actions = ["view_integrations", "edit_proposal"]
fields = ["service", "customer.tax_id", "seller.*"]
"#;
        let policy = Policy::from_toml(text).unwrap();
        let op = (user(), Some(Profile::Operator));
        assert!(policy.check_field(&op.0, op.1, "orders[0].dids").is_ok());
        assert!(
            policy
                .check_field(&op.0, op.1, "orders[0].area_code")
                .is_err()
        );
        assert!(policy.check_field(&op.0, op.1, "customer.tax_id").is_ok());
        assert!(policy.check_field(&op.0, op.1, "seller.email").is_ok());
        assert!(policy.check_field(&op.0, op.1, "customer.emails").is_err());
        assert!(policy.check(&op.0, op.1, Action::RetryIntegration).is_err());
        // Profiles the override does not name get nothing.
        assert!(
            policy
                .check(&user(), Some(Profile::Admin), Action::ViewIntegrations)
                .is_err()
        );
        assert!(policy.check(&Actor::System, None, Action::Intake).is_err());
        // Built-in classes remain available.
        assert_eq!(policy.class("address").unwrap().len(), 7);
    }

    #[test]
    fn unknown_names_are_config_errors_naming_the_key() {
        let text = r#"
[classes]
"Bad.Name" = ["customer.tax_id"]
typo = ["custmer.*"]

[profiles.superuser]
actions = ["*"]

[profiles.operator]
actions = ["view_integrations", "fly"]
fields = ["contacts", "customer.pasword", "nonclass"]

[actors.robot]
actions = ["intake"]
"#;
        let err = Policy::from_toml(text).unwrap_err();
        let ConfigError::Invalid(p) = err else {
            panic!("{err:?}")
        };
        let got: Vec<(String, Code)> = p.iter().map(|x| (x.field.clone(), x.code)).collect();
        for want in [
            ("classes.Bad.Name", Code::InvalidFormat),
            ("classes.typo[0]", Code::UnknownReference),
            ("profiles.superuser", Code::UnknownReference),
            ("profiles.operator.actions[1]", Code::UnknownReference),
            ("profiles.operator.fields[1]", Code::UnknownReference),
            ("profiles.operator.fields[2]", Code::UnknownReference),
            ("actors.robot", Code::UnknownReference),
        ] {
            assert!(
                got.contains(&(want.0.to_owned(), want.1)),
                "missing {want:?} in {got:?}"
            );
        }
        assert_eq!(got.len(), 7, "{got:?}");

        let err = Policy::from_toml("[profiles.operator]\nacions = []\n").unwrap_err();
        match err {
            ConfigError::Syntax { key, message } => {
                assert!(key.starts_with("profiles.operator"), "{key}");
                assert!(message.contains("acions"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            Policy::from_toml("[profiles").unwrap_err(),
            ConfigError::Syntax { .. }
        ));
    }

    #[test]
    fn the_builtin_document_parses_and_lists_every_class() {
        let policy = Policy::from_toml(Policy::DEFAULT_TOML).unwrap();
        assert_eq!(policy, Policy::default());
        for class in [
            "contacts",
            "address",
            "tax_identity",
            "plan",
            "service",
            "values",
            "billing",
            "payment",
            "seller",
        ] {
            assert!(policy.class(class).is_some(), "{class}");
        }
        // Every field belongs to exactly one built-in class.
        for f in Field::ALL {
            assert_eq!(policy.classes_of(*f).len(), 1, "{f}");
        }
    }

    #[test]
    fn names_round_trip() {
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()), Some(*a));
            let json = serde_json::to_string(a).unwrap();
            assert_eq!(json, format!("\"{a}\""));
        }
        for f in Field::ALL {
            assert_eq!(Field::parse(f.path()), Some(*f));
        }
        for p in PROFILES {
            assert_eq!(parse_profile(profile_name(p)), Some(p));
            assert_eq!(
                serde_json::to_string(&p).unwrap(),
                format!("\"{}\"", profile_name(p))
            );
        }
    }

    #[test]
    fn the_authorizer_reads_profiles_from_its_users() {
        let a = Authorizer::new(
            Policy::default(),
            [
                ("ana".parse().unwrap(), Profile::Admin),
                ("bruno".parse().unwrap(), Profile::Operator),
            ],
        );
        let bruno = Actor::User("bruno".parse().unwrap());
        let zed = Actor::User("zed".parse().unwrap());
        assert!(a.decide(&user(), Action::ForceServer).allowed);
        assert!(a.decide(&bruno, Action::RetryIntegration).allowed);
        let d = a.decide(&bruno, Action::ChooseServer);
        assert_eq!(
            d.denied().unwrap().reason,
            DenyReason::ActionNotGranted {
                subject: Subject::Profile(Profile::Operator)
            }
        );
        assert_eq!(
            a.decide(&zed, Action::ViewIntegrations).denial,
            Some(DenyReason::NoProfile)
        );
        assert!(a.decide_field(&bruno, "customer.address.cep").allowed);
        assert!(!a.decide_field(&bruno, "customer.tax_id").allowed);
        assert_eq!(a.profile(&Actor::System), None);
        assert!(
            a.decide(&Actor::Webhook("x".into()), Action::Intake)
                .allowed
        );
        assert!(
            !Authorizer::default()
                .decide(&user(), Action::ViewIntegrations)
                .allowed,
            "no users listed: people are denied"
        );
    }
}
