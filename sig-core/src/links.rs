//! Direct links to the records an integration created upstream (roadmap §1, "Navegação
//! Rápida"): the Omie customer and contracts, and the NextBilling customer, lines and DIDs on
//! each ServidorNext.
//!
//! Links are built by a pure function, [`build_links`], from what the store holds about one
//! integration (its journal and the customer's links) and the URL templates of `sig.toml`
//! ([`LinkTargets`]). [`links_for`] reads those through the [`Store`] port.
//!
//! # Templates
//!
//! Each Omie account and each server may carry templates under `links`, with `{name}`
//! placeholders filled with ids (never personal data):
//!
//! ```toml
//! [accounts.omie.acme]
//! web_url = "https://app.omie.com.br/gestao/acme-5mos4yik/"
//! links.customer = "{web_url}#CAD"
//!
//! [[servers]]
//! id = "sp1"
//! web_url = "https://sp1.voip.example.com.br/"
//! links.customer = "{web_url}clientes/{customer_id}"
//! links.line = "{web_url}clientes/{customer_id}/ramais/{line_id}"
//! ```
//!
//! | kind | placeholders |
//! |---|---|
//! | Omie `customer` | `web_url`, `omie_customer_id`, `sig_customer_id` |
//! | Omie `contract` | `web_url`, `omie_contract_id`, `sig_order_id`, `omie_customer_id`, `sig_customer_id` |
//! | Next `customer` | `web_url`, `customer_id`, `sig_customer_id` |
//! | Next `line` | `web_url`, `customer_id`, `line_id`, `username`, `sig_line_id`, `sig_customer_id` |
//! | Next `did` | `web_url`, `customer_id`, `did_id`, `line_id`, `sig_did_id`, `sig_customer_id` |
//!
//! **Omie has no link to one record** (`reference/omie.md` §7): by default a customer links to
//! the account's registration module (`{web_url}#CAD`) and a contract to the service-contract
//! list (`{web_url}contratos-servico/listar-todas-contratos-servico`, `[observed]`), and the
//! link carries a `search_hint` with the Omie code to search for. NextBilling's web pages are
//! the instance's own and not documented: without a template a Next record links to the
//! instance's `web_url` with a search hint. Without a `web_url` (and no absolute template) a
//! link has no URL, only its hint.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::ids::{AccountId, CompanyId, IntegrationId, ServerId};
use crate::ports::{ErpContract, ErpCustomer, System, VoipCustomer, VoipDid, VoipLine};
use crate::problem::{Code, Invalid, Problems};
use crate::store::{CustomerLinks, Integration, StepEntry, Store, StoreError};

/// What a link points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    /// A customer (Omie or NextBilling).
    Customer,
    /// An Omie service contract.
    Contract,
    /// A NextBilling line (device).
    Line,
    /// A NextBilling DID.
    Did,
}

impl LinkKind {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkKind::Customer => "customer",
            LinkKind::Contract => "contract",
            LinkKind::Line => "line",
            LinkKind::Did => "did",
        }
    }

    /// The placeholders a template of this kind may use, for `system`.
    pub fn placeholders(self, system: System) -> &'static [&'static str] {
        match (system, self) {
            (System::Omie, LinkKind::Customer) => {
                &["web_url", "omie_customer_id", "sig_customer_id"]
            }
            (System::Omie, LinkKind::Contract) => &[
                "web_url",
                "omie_contract_id",
                "sig_order_id",
                "omie_customer_id",
                "sig_customer_id",
            ],
            (_, LinkKind::Customer) => &["web_url", "customer_id", "sig_customer_id"],
            (_, LinkKind::Line) => &[
                "web_url",
                "customer_id",
                "line_id",
                "username",
                "sig_line_id",
                "sig_customer_id",
            ],
            (_, LinkKind::Did) => &[
                "web_url",
                "customer_id",
                "did_id",
                "line_id",
                "sig_did_id",
                "sig_customer_id",
            ],
            (_, LinkKind::Contract) => &[],
        }
    }
}

impl fmt::Display for LinkKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Var(String),
}

/// A URL template: text with `{name}` placeholders, checked against the placeholders its
/// kind allows when `sig.toml` is loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlTemplate {
    text: String,
    pieces: Vec<Piece>,
}

impl UrlTemplate {
    /// Parse a template for links of `kind` to `system`. Errors name the placeholder.
    pub fn parse(text: &str, system: System, kind: LinkKind) -> Result<UrlTemplate, Invalid> {
        let allowed = kind.placeholders(system);
        let mut pieces = Vec::new();
        let mut rest = text.trim();
        if rest.is_empty() {
            return Err(Invalid::required());
        }
        while let Some(open) = rest.find(['{', '}']) {
            if rest[open..].starts_with('}') {
                return Err(Invalid::new(
                    Code::InvalidFormat,
                    "a '}' without its '{'; placeholders are written {name}",
                ));
            }
            if open > 0 {
                pieces.push(Piece::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 1..];
            let Some(close) = after.find('}') else {
                return Err(Invalid::new(
                    Code::InvalidFormat,
                    "a '{' without its '}'; placeholders are written {name}",
                ));
            };
            let name = &after[..close];
            if !allowed.contains(&name) {
                return Err(Invalid::new(
                    Code::UnknownReference,
                    format!(
                        "{{{name}}} is not a placeholder of {system} {kind} links; expected one of {}",
                        allowed
                            .iter()
                            .map(|a| format!("{{{a}}}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            pieces.push(Piece::Var(name.to_owned()));
            rest = &after[close + 1..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_owned()));
        }
        let t = UrlTemplate {
            text: text.trim().to_owned(),
            pieces,
        };
        // With sample values the template must make an http(s) URL.
        let sample: BTreeMap<&str, String> = allowed
            .iter()
            .map(|n| {
                let v = if *n == "web_url" {
                    "https://example.invalid/".to_owned()
                } else {
                    "1".to_owned()
                };
                (*n, v)
            })
            .collect();
        match t.render(&sample) {
            Some(_) => Ok(t),
            None => Err(Invalid::new(
                Code::InvalidFormat,
                "the template does not make an http or https URL (start it with {web_url} or https://)",
            )),
        }
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether it uses `{name}`.
    pub fn uses(&self, name: &str) -> bool {
        self.pieces
            .iter()
            .any(|p| matches!(p, Piece::Var(v) if v == name))
    }

    /// Fill the placeholders; `None` when one has no value or the result is not an http(s)
    /// URL. Values other than `web_url` are percent-encoded.
    pub fn render(&self, vars: &BTreeMap<&str, String>) -> Option<String> {
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Var(v) if v == "web_url" => out.push_str(vars.get(v.as_str())?),
                Piece::Var(v) => out.extend(url::form_urlencoded::byte_serialize(
                    vars.get(v.as_str())?.as_bytes(),
                )),
            }
        }
        let u = Url::parse(&out).ok()?;
        matches!(u.scheme(), "http" | "https").then(|| u.to_string())
    }
}

impl fmt::Display for UrlTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The templates of one Omie account (`[accounts.omie.<id>.links]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OmieTemplates {
    /// Customer links (default `{web_url}#CAD`).
    pub customer: Option<UrlTemplate>,
    /// Contract links (default `{web_url}contratos-servico/listar-todas-contratos-servico`).
    pub contract: Option<UrlTemplate>,
}

/// The templates of one ServidorNext (`[servers.links]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NextTemplates {
    /// Customer links (default: the instance's `web_url`).
    pub customer: Option<UrlTemplate>,
    /// Line links (default: the instance's `web_url`).
    pub line: Option<UrlTemplate>,
    /// DID links (default: the instance's `web_url`).
    pub did: Option<UrlTemplate>,
}

/// Templates as written in `sig.toml` (`links.customer = "…"`), before checking.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplatesFile {
    /// Customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    /// Contract (Omie only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract: Option<String>,
    /// Line (NextBilling only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<String>,
    /// DID (NextBilling only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub did: Option<String>,
}

impl TemplatesFile {
    fn one(
        text: &Option<String>,
        system: System,
        kind: LinkKind,
        key: &str,
        web_url: Option<&Url>,
        p: &mut Problems,
    ) -> Option<UrlTemplate> {
        let text = text.as_ref()?;
        let at = format!("{key}.{kind}");
        let t = p.check(&at, UrlTemplate::parse(text, system, kind))?;
        if t.uses("web_url") && web_url.is_none() {
            p.add(
                at,
                Code::Required,
                "the template uses {web_url} but no web_url is set",
            );
            return None;
        }
        Some(t)
    }

    /// Check an Omie account's templates; problems under `key` (`accounts.omie.acme.links`).
    pub fn omie(&self, key: &str, web_url: Option<&Url>, p: &mut Problems) -> OmieTemplates {
        for (name, v) in [("line", &self.line), ("did", &self.did)] {
            if v.is_some() {
                p.add(
                    format!("{key}.{name}"),
                    Code::UnknownReference,
                    "Omie links are customer and contract",
                );
            }
        }
        OmieTemplates {
            customer: Self::one(
                &self.customer,
                System::Omie,
                LinkKind::Customer,
                key,
                web_url,
                p,
            ),
            contract: Self::one(
                &self.contract,
                System::Omie,
                LinkKind::Contract,
                key,
                web_url,
                p,
            ),
        }
    }

    /// Check a server's templates; problems under `key` (`servers[0].links`).
    pub fn next(&self, key: &str, web_url: Option<&Url>, p: &mut Problems) -> NextTemplates {
        if self.contract.is_some() {
            p.add(
                format!("{key}.contract"),
                Code::UnknownReference,
                "NextBilling links are customer, line and did",
            );
        }
        let s = System::NextBilling;
        NextTemplates {
            customer: Self::one(&self.customer, s, LinkKind::Customer, key, web_url, p),
            line: Self::one(&self.line, s, LinkKind::Line, key, web_url, p),
            did: Self::one(&self.did, s, LinkKind::Did, key, web_url, p),
        }
    }
}

/// The checked templates of every account and server, as `sig.toml` gives them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkTemplates {
    /// Per Omie account.
    pub omie: BTreeMap<AccountId, OmieTemplates>,
    /// Per server.
    pub next: BTreeMap<ServerId, NextTemplates>,
}

/// Where an Omie account's links go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OmieTarget {
    /// The account's web app (`https://app.omie.com.br/gestao/<tenant>/`).
    pub web_url: Option<Url>,
    /// Its templates.
    pub templates: OmieTemplates,
}

/// Where a server's links go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NextTarget {
    /// The instance's web console.
    pub web_url: Option<Url>,
    /// Its templates.
    pub templates: NextTemplates,
}

/// Everything [`build_links`] needs from the configuration: per company its Omie account's
/// target, per server its target.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkTargets {
    /// Per company (through its Omie account).
    pub companies: BTreeMap<CompanyId, OmieTarget>,
    /// Per server.
    pub servers: BTreeMap<ServerId, NextTarget>,
}

impl LinkTargets {
    /// From a loaded configuration.
    pub fn from_config(config: &crate::config::Config) -> Self {
        let mut t = LinkTargets::default();
        for c in &config.companies {
            let web_url = config
                .omie_accounts
                .get(&c.omie_account)
                .and_then(|a| a.web_url.clone());
            let templates = config
                .links
                .omie
                .get(&c.omie_account)
                .cloned()
                .unwrap_or_default();
            t.companies
                .insert(c.id.clone(), OmieTarget { web_url, templates });
        }
        for s in &config.servers {
            let templates = config.links.next.get(&s.id).cloned().unwrap_or_default();
            t.servers.insert(
                s.id.clone(),
                NextTarget {
                    web_url: s.web_url.clone(),
                    templates,
                },
            );
        }
        t
    }
}

/// One link to an upstream record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// The outside system.
    pub system: System,
    /// What it points at.
    pub kind: LinkKind,
    /// For people: `Omie customer 2000001`, `Next line 12 (order 0, sp1)`.
    pub label: String,
    /// The record's id in that system.
    pub record: String,
    /// Where to go; `None` when no web URL is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// What to search for once there (Omie has no per-record link).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_hint: Option<String>,
    /// The service order, for contracts, lines and DIDs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<usize>,
    /// The ServidorNext, for NextBilling records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerId>,
}

const OMIE_CUSTOMER_DEFAULT: &str = "{web_url}#CAD";
const OMIE_CONTRACT_DEFAULT: &str = "{web_url}contratos-servico/listar-todas-contratos-servico";

fn render(
    template: Option<&UrlTemplate>,
    default: Option<&str>,
    system: System,
    kind: LinkKind,
    web_url: Option<&Url>,
    mut vars: BTreeMap<&'static str, String>,
) -> Option<String> {
    if let Some(w) = web_url {
        vars.insert("web_url", w.to_string());
    }
    let owned;
    let t = match template {
        Some(t) => t,
        None => {
            owned = UrlTemplate::parse(default.unwrap_or("{web_url}"), system, kind).ok()?;
            &owned
        }
    };
    t.render(&vars)
}

fn parse<T: serde::de::DeserializeOwned>(j: &BTreeMap<String, StepEntry>, key: &str) -> Option<T> {
    serde_json::from_value(j.get(key)?.result.clone()).ok()
}

/// The links of one integration: pure, from its journal, the customer's links in the store and
/// the targets of the configuration. Records not created yet have no link; a company or server
/// missing from `targets` gives links without URLs.
pub fn build_links(
    integration: &Integration,
    journal: &BTreeMap<String, StepEntry>,
    customer_links: &CustomerLinks,
    targets: &LinkTargets,
) -> Vec<Link> {
    let mut out = Vec::new();
    let sig_customer = integration
        .customer
        .map(|c| c.to_string())
        .or_else(|| {
            journal
                .get("customer")
                .and_then(|e| e.result["customer"].as_str().map(str::to_owned))
        })
        .unwrap_or_default();
    let omie = targets.companies.get(&integration.company);
    let omie_web = omie.and_then(|o| o.web_url.as_ref());

    // Omie customer.
    let erp_id = parse::<ErpCustomer>(journal, "erp_customer")
        .map(|c| c.erp_id)
        .or(customer_links.erp_id);
    if let Some(erp_id) = erp_id {
        let vars = BTreeMap::from([
            ("omie_customer_id", erp_id.to_string()),
            ("sig_customer_id", sig_customer.clone()),
        ]);
        out.push(Link {
            system: System::Omie,
            kind: LinkKind::Customer,
            label: format!("Omie customer {erp_id}"),
            record: erp_id.to_string(),
            url: render(
                omie.and_then(|o| o.templates.customer.as_ref()),
                Some(OMIE_CUSTOMER_DEFAULT),
                System::Omie,
                LinkKind::Customer,
                omie_web,
                vars,
            ),
            search_hint: Some(format!(
                "Clientes: search codigo_cliente_omie {erp_id} (codigo_cliente_integracao {sig_customer})"
            )),
            order: None,
            server: None,
        });
    }

    // Omie contracts, in order.
    let mut i = 0;
    while let Some(entry) = journal.get(&format!("contract:{i}")) {
        if let Ok(c) = serde_json::from_value::<ErpContract>(entry.result.clone()) {
            let vars = BTreeMap::from([
                ("omie_contract_id", c.erp_id.to_string()),
                ("sig_order_id", c.integration_code.clone()),
                (
                    "omie_customer_id",
                    erp_id.map(|e| e.to_string()).unwrap_or_default(),
                ),
                ("sig_customer_id", sig_customer.clone()),
            ]);
            out.push(Link {
                system: System::Omie,
                kind: LinkKind::Contract,
                label: format!("Omie contract {} (order {i})", c.erp_id),
                record: c.erp_id.to_string(),
                url: render(
                    omie.and_then(|o| o.templates.contract.as_ref()),
                    Some(OMIE_CONTRACT_DEFAULT),
                    System::Omie,
                    LinkKind::Contract,
                    omie_web,
                    vars,
                ),
                search_hint: Some(format!(
                    "Contratos de serviço: search nCodCtr {} (cCodIntCtr {})",
                    c.erp_id, c.integration_code
                )),
                order: Some(i),
                server: None,
            });
        }
        i += 1;
    }

    // Next customers, per server in the order the orders chose them.
    let validated = journal.get("validate").map(|e| &e.result);
    let mut servers: Vec<(usize, ServerId)> = Vec::new();
    let mut k = 0;
    while let Some(entry) = journal.get(&format!("server:{k}")) {
        if let Some(s) = entry.result["server"]
            .as_str()
            .and_then(|s| s.parse::<ServerId>().ok())
        {
            servers.push((k, s));
        }
        k += 1;
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut voip_ids: BTreeMap<ServerId, i64> = BTreeMap::new();
    for (_, server) in &servers {
        let voip = parse::<VoipCustomer>(journal, &format!("next_customer:{server}"))
            .map(|c| c.voip_id)
            .or_else(|| customer_links.voip.get(server).copied());
        let Some(voip) = voip else { continue };
        voip_ids.insert(server.clone(), voip);
        if !seen.insert(server.clone()) {
            continue;
        }
        let target = targets.servers.get(server);
        let vars = BTreeMap::from([
            ("customer_id", voip.to_string()),
            ("sig_customer_id", sig_customer.clone()),
        ]);
        out.push(Link {
            system: System::NextBilling,
            kind: LinkKind::Customer,
            label: format!("Next customer {voip} on {server}"),
            record: voip.to_string(),
            url: render(
                target.and_then(|t| t.templates.customer.as_ref()),
                None,
                System::NextBilling,
                LinkKind::Customer,
                target.and_then(|t| t.web_url.as_ref()),
                vars,
            ),
            search_hint: Some(format!("customer id {voip}")),
            order: None,
            server: Some(server.clone()),
        });
    }

    // Lines and DIDs per order.
    for (i, server) in &servers {
        let Some(voip) = voip_ids.get(server) else {
            continue;
        };
        let target = targets.servers.get(server);
        let web = target.and_then(|t| t.web_url.as_ref());
        let ids = validated.map(|v| &v["orders"][*i]);
        let mut first_line: Option<i64> = None;
        let mut n = 0;
        while let Some(line) = parse::<VoipLine>(journal, &format!("line:{i}:{n}")) {
            first_line.get_or_insert(line.voip_id);
            let sig_line = ids
                .and_then(|o| o["lines"][n].as_str())
                .unwrap_or_default()
                .to_owned();
            let vars = BTreeMap::from([
                ("customer_id", voip.to_string()),
                ("line_id", line.voip_id.to_string()),
                ("username", line.username.clone()),
                ("sig_line_id", sig_line),
                ("sig_customer_id", sig_customer.clone()),
            ]);
            out.push(Link {
                system: System::NextBilling,
                kind: LinkKind::Line,
                label: format!("Next line {} (order {i}, {server})", line.voip_id),
                record: line.voip_id.to_string(),
                url: render(
                    target.and_then(|t| t.templates.line.as_ref()),
                    None,
                    System::NextBilling,
                    LinkKind::Line,
                    web,
                    vars,
                ),
                search_hint: Some(format!(
                    "customer id {voip}, line (device) id {}, user {}",
                    line.voip_id, line.username
                )),
                order: Some(*i),
                server: Some(server.clone()),
            });
            n += 1;
        }
        let mut j = 0;
        while let Some(did) = parse::<VoipDid>(journal, &format!("did:{i}:{j}")) {
            let sig_did = ids
                .and_then(|o| o["dids"][j].as_str())
                .unwrap_or_default()
                .to_owned();
            let vars = BTreeMap::from([
                ("customer_id", voip.to_string()),
                ("did_id", did.voip_id.to_string()),
                (
                    "line_id",
                    first_line.map(|l| l.to_string()).unwrap_or_default(),
                ),
                ("sig_did_id", sig_did),
                ("sig_customer_id", sig_customer.clone()),
            ]);
            out.push(Link {
                system: System::NextBilling,
                kind: LinkKind::Did,
                label: format!("Next DID {} (order {i}, {server})", did.voip_id),
                record: did.voip_id.to_string(),
                url: render(
                    target.and_then(|t| t.templates.did.as_ref()),
                    None,
                    System::NextBilling,
                    LinkKind::Did,
                    web,
                    vars,
                ),
                search_hint: Some(format!("customer id {voip}, DID id {}", did.voip_id)),
                order: Some(*i),
                server: Some(server.clone()),
            });
            j += 1;
        }
    }
    out
}

/// The links of one integration, read through the store (`None` when it does not exist).
pub async fn links_for(
    store: &dyn Store,
    id: IntegrationId,
    targets: &LinkTargets,
) -> Result<Option<Vec<Link>>, StoreError> {
    let Some(i) = store.get(id).await? else {
        return Ok(None);
    };
    let journal = store.journal(id).await?;
    let customer = match i.customer {
        Some(c) => store.customer_links(c).await?,
        None => CustomerLinks::default(),
    };
    Ok(Some(build_links(&i, &journal, &customer, targets)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::CustomerId;
    use crate::ports::SourceKey;
    use crate::store::Actor;
    use chrono::Utc;

    fn entry(key: &str, v: serde_json::Value) -> (String, StepEntry) {
        (
            key.to_owned(),
            StepEntry {
                key: key.to_owned(),
                result: v,
                at: Utc::now(),
                duration_ms: 1,
            },
        )
    }

    fn done() -> (Integration, BTreeMap<String, StepEntry>) {
        let customer = CustomerId::new();
        let mut i = Integration::new(
            "acme".parse().unwrap(),
            SourceKey {
                account: "acme".into(),
                proposal_id: "1".into(),
            },
            Actor::System,
            Utc::now(),
        );
        i.customer = Some(customer);
        let j: BTreeMap<String, StepEntry> = [
            entry("customer", serde_json::json!({"customer": customer})),
            entry(
                "erp_customer",
                serde_json::json!({"erp_id": 2000001, "adopted": false, "created": true}),
            ),
            entry(
                "contract:0",
                serde_json::json!({"erp_id": 4000001, "integration_code": "ord-0", "created": true}),
            ),
            entry("server:0", serde_json::json!({"server": "sp1"})),
            entry(
                "next_customer:sp1",
                serde_json::json!({"voip_id": 7, "created": true}),
            ),
            entry(
                "line:0:0",
                serde_json::json!({"voip_id": 12, "username": "u 1", "created": true}),
            ),
            entry("did:0:0", serde_json::json!({"voip_id": 3, "created": true})),
        ]
        .into_iter()
        .collect();
        (i, j)
    }

    fn targets(templates: bool) -> LinkTargets {
        let mut t = LinkTargets::default();
        t.companies.insert(
            "acme".parse().unwrap(),
            OmieTarget {
                web_url: Some(Url::parse("https://app.omie.com.br/gestao/acme-x/").unwrap()),
                templates: OmieTemplates::default(),
            },
        );
        let next = if templates {
            NextTemplates {
                customer: Some(
                    UrlTemplate::parse(
                        "{web_url}clientes/{customer_id}",
                        System::NextBilling,
                        LinkKind::Customer,
                    )
                    .unwrap(),
                ),
                line: Some(
                    UrlTemplate::parse(
                        "{web_url}clientes/{customer_id}/ramais/{username}",
                        System::NextBilling,
                        LinkKind::Line,
                    )
                    .unwrap(),
                ),
                did: None,
            }
        } else {
            NextTemplates::default()
        };
        t.servers.insert(
            "sp1".parse().unwrap(),
            NextTarget {
                web_url: Some(Url::parse("https://sp1.example/painel/").unwrap()),
                templates: next,
            },
        );
        t
    }

    #[test]
    fn a_done_integration_links_every_record() {
        let (i, j) = done();
        let links = build_links(&i, &j, &CustomerLinks::default(), &targets(true));
        let got: Vec<(System, LinkKind, &str, Option<&str>)> = links
            .iter()
            .map(|l| (l.system, l.kind, l.record.as_str(), l.url.as_deref()))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    System::Omie,
                    LinkKind::Customer,
                    "2000001",
                    Some("https://app.omie.com.br/gestao/acme-x/#CAD")
                ),
                (
                    System::Omie,
                    LinkKind::Contract,
                    "4000001",
                    Some(
                        "https://app.omie.com.br/gestao/acme-x/contratos-servico/listar-todas-contratos-servico"
                    )
                ),
                (
                    System::NextBilling,
                    LinkKind::Customer,
                    "7",
                    Some("https://sp1.example/painel/clientes/7")
                ),
                (
                    System::NextBilling,
                    LinkKind::Line,
                    "12",
                    Some("https://sp1.example/painel/clientes/7/ramais/u+1")
                ),
                (
                    System::NextBilling,
                    LinkKind::Did,
                    "3",
                    Some("https://sp1.example/painel/")
                ),
            ]
        );
        assert!(
            links[0]
                .search_hint
                .as_deref()
                .unwrap()
                .contains("codigo_cliente_omie 2000001")
        );
        assert_eq!(links[1].order, Some(0));
        assert_eq!(links[3].server.as_ref().map(|s| s.as_str()), Some("sp1"));
    }

    #[test]
    fn without_web_urls_links_keep_their_hints() {
        let (i, j) = done();
        let links = build_links(&i, &j, &CustomerLinks::default(), &LinkTargets::default());
        assert_eq!(links.len(), 5);
        assert!(links.iter().all(|l| l.url.is_none()));
        assert!(links.iter().all(|l| l.search_hint.is_some()));
    }

    #[test]
    fn nothing_upstream_yet_means_no_links() {
        let (i, _) = done();
        assert!(
            build_links(
                &i,
                &BTreeMap::new(),
                &CustomerLinks::default(),
                &targets(true)
            )
            .is_empty()
        );
    }

    #[test]
    fn templates_are_checked_when_parsed() {
        let bad = [
            (
                "{web_url}x/{line_id}",
                LinkKind::Customer,
                Code::UnknownReference,
            ),
            (
                "{web_url}x/{customer_id",
                LinkKind::Customer,
                Code::InvalidFormat,
            ),
            ("{web_url}x/}", LinkKind::Customer, Code::InvalidFormat),
            (
                "clientes/{customer_id}",
                LinkKind::Customer,
                Code::InvalidFormat,
            ),
            (
                "ftp://x/{customer_id}",
                LinkKind::Customer,
                Code::InvalidFormat,
            ),
            ("", LinkKind::Line, Code::Required),
        ];
        for (text, kind, code) in bad {
            let e = UrlTemplate::parse(text, System::NextBilling, kind).unwrap_err();
            assert_eq!(e.code, code, "{text}: {e:?}");
        }
        assert!(
            UrlTemplate::parse(
                "https://next.example/c/{customer_id}",
                System::NextBilling,
                LinkKind::Customer
            )
            .is_ok()
        );
        let e = UrlTemplate::parse("{web_url}{customer_id}", System::Omie, LinkKind::Customer)
            .unwrap_err();
        assert!(e.message.contains("{omie_customer_id}"), "{}", e.message);
    }

    #[test]
    fn template_files_are_checked_with_their_keys() {
        let mut p = Problems::new();
        let f = TemplatesFile {
            customer: Some("{web_url}c/{customer_id}".into()),
            contract: Some("{web_url}x".into()),
            line: None,
            did: None,
        };
        let t = f.next("servers[0].links", None, &mut p);
        assert!(t.customer.is_none());
        let got: Vec<(String, Code)> = p.iter().map(|x| (x.field.clone(), x.code)).collect();
        assert_eq!(
            got,
            vec![
                (
                    "servers[0].links.contract".to_owned(),
                    Code::UnknownReference
                ),
                ("servers[0].links.customer".to_owned(), Code::Required),
            ]
        );
    }
}
