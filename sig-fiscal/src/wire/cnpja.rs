//! CNPJá `GET /office/{cnpj}` with `Authorization: <API key>` (no "Bearer").
//!
//! Errors [documented]: `401 {"code":401,"message":"invalid authentication"}`, and two
//! different 429s: `{"message":"not enough credits","required":10,"remaining":7}` (waiting
//! does not help: [`ProviderErrorKind::OutOfCredits`]) and `{"message":"rate limit
//! exceeded"}` (waiting helps: [`ProviderErrorKind::RateLimited`]). A 404 with a JSON body is
//! "not found" [inferred].
//!
//! Success shape [observed] (a third-party client, `cnpja_ex`'s `Cnpja.Office`): `taxId`,
//! `alias`, `founded`, `status {id, text}`, `statusDate`, `reason {id, text}`,
//! `company {name, equity, nature {id, text}, members [{since, person {name}, role {id,
//! text}}]}`, `address {street, number, details, district, city, state, zip, municipality}`,
//! `phones [{area, number}]`, `emails [{address}]`, `mainActivity {id, text}`,
//! `sideActivities [{id, text}]`.

use std::time::Duration;

use serde::Deserialize;
use sig_core::Cnpj;

use super::{
    Dec, Int, Many, Text, cep, cnae_code, date, decode, email, generic_failure, phones, uf,
};
use crate::error::{ProviderError, ProviderErrorKind};
use crate::model::{
    Cnae, CompanyAddress, CompanyRecord, LegalNature, Lookup, Partner, Provider, Registration,
};
use sig_core::fiscal::RegistrationStatus;

const PROVIDER: Provider = Provider::Cnpja;

/// `{id, text}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Label {
    pub(crate) id: Text,
    pub(crate) text: Text,
}

/// An office (establishment).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct Office {
    pub(crate) tax_id: Text,
    pub(crate) alias: Text,
    pub(crate) founded: Text,
    pub(crate) status: Option<Label>,
    pub(crate) status_date: Text,
    pub(crate) reason: Option<Label>,
    pub(crate) company: Option<CompanyPart>,
    pub(crate) address: Option<Address>,
    pub(crate) phones: Many<PhoneEntry>,
    pub(crate) emails: Many<EmailEntry>,
    pub(crate) main_activity: Option<Label>,
    pub(crate) side_activities: Many<Label>,
}

/// `company`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct CompanyPart {
    pub(crate) name: Text,
    pub(crate) equity: Dec,
    pub(crate) nature: Option<Label>,
    pub(crate) members: Many<MemberEntry>,
}

/// `company.members[]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct MemberEntry {
    pub(crate) since: Text,
    pub(crate) person: Option<Person>,
    pub(crate) role: Option<Label>,
}

/// `company.members[].person`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Person {
    pub(crate) name: Text,
}

/// `address`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Address {
    pub(crate) street: Text,
    pub(crate) number: Text,
    pub(crate) details: Text,
    pub(crate) district: Text,
    pub(crate) city: Text,
    pub(crate) state: Text,
    pub(crate) zip: Text,
    pub(crate) municipality: Text,
}

/// `phones[]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct PhoneEntry {
    pub(crate) area: Text,
    pub(crate) number: Text,
}

/// `emails[]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct EmailEntry {
    pub(crate) address: Text,
}

/// The error body.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ErrorBody {
    message: Text,
    required: Int,
    remaining: Int,
}

impl Office {
    pub(crate) fn into_record(self, cnpj: Cnpj) -> CompanyRecord {
        let status_label = self.status.unwrap_or_default();
        let status_code = status_label.id.get().and_then(|c| c.parse::<i64>().ok());
        let status = match status_code {
            Some(code) => RegistrationStatus::from_code(code),
            None => status_label
                .text
                .get()
                .map_or(RegistrationStatus::Unknown, RegistrationStatus::from_text),
        };
        let company = self.company.unwrap_or_default();
        let address = self.address.unwrap_or_default();
        let phone_texts: Vec<String> = self
            .phones
            .0
            .iter()
            .filter_map(|p| Some(format!("{}{}", p.area.get()?, p.number.get()?)))
            .collect();
        CompanyRecord {
            cnpj,
            source: PROVIDER,
            legal_name: company.name.take().unwrap_or_default(),
            trade_name: self.alias.take(),
            registration: Registration {
                status,
                code: status_code,
                description: status_label.text.take(),
                since: date(&self.status_date),
                reason: self.reason.and_then(|r| r.text.take()),
            },
            opening_date: date(&self.founded),
            main_activity: self.main_activity.and_then(|a| {
                cnae_code(&a.id).map(|code| Cnae {
                    code,
                    description: a.text.take(),
                })
            }),
            secondary_activities: self
                .side_activities
                .0
                .iter()
                .filter_map(|a| {
                    cnae_code(&a.id).map(|code| Cnae {
                        code,
                        description: a.text.take(),
                    })
                })
                .collect(),
            legal_nature: company.nature.map(|n| LegalNature {
                code: n.id.take(),
                description: n.text.take(),
            }),
            address: CompanyAddress {
                street_type: None,
                street: address.street.take(),
                number: address.number.take(),
                complement: address.details.take(),
                district: address.district.take(),
                city: address.city.take(),
                city_ibge_code: address.municipality.take(),
                uf: uf(&address.state),
                cep: cep(&address.zip),
            },
            phones: phones(PROVIDER, phone_texts.iter().map(String::as_str)),
            email: self.emails.0.iter().find_map(|e| email(&e.address)),
            partners: company
                .members
                .0
                .iter()
                .filter_map(|m| {
                    Some(Partner {
                        name: m.person.as_ref()?.name.take()?,
                        role: m.role.as_ref().and_then(|r| r.text.take()),
                        since: date(&m.since),
                    })
                })
                .collect(),
            capital_social: company.equity.0,
        }
    }
}

/// Turns a CNPJá answer into a lookup result.
pub(crate) fn interpret(
    cnpj: Cnpj,
    status: u16,
    body: &[u8],
    retry_after: Option<Duration>,
) -> Result<Lookup<CompanyRecord>, ProviderError> {
    let error = || serde_json::from_slice::<ErrorBody>(body).ok();
    match status {
        200 => {
            let office: Office = decode(PROVIDER, status, body)?;
            let has_name = office
                .company
                .as_ref()
                .is_some_and(|c| c.name.get().is_some());
            if !has_name {
                return Err(ProviderError::new(
                    PROVIDER,
                    ProviderErrorKind::Malformed,
                    Some(status),
                    "answer without `company.name`",
                ));
            }
            Ok(Lookup::Found(office.into_record(cnpj)))
        }
        404 if error().is_some() => Ok(Lookup::NotFound { provider: PROVIDER }),
        429 => {
            let body = error().unwrap_or_default();
            let message = body.message.take().unwrap_or_default();
            if message.to_ascii_lowercase().contains("credit") {
                let detail = match (body.required.0, body.remaining.0) {
                    (Some(req), Some(rem)) => {
                        format!("{message} (required {req}, remaining {rem})")
                    }
                    _ => message,
                };
                Err(ProviderError::new(
                    PROVIDER,
                    ProviderErrorKind::OutOfCredits,
                    Some(status),
                    detail,
                ))
            } else {
                Err(generic_failure(
                    PROVIDER,
                    status,
                    Some(message).filter(|m| !m.is_empty()),
                    retry_after,
                ))
            }
        }
        _ => Err(generic_failure(
            PROVIDER,
            status,
            error().and_then(|b| b.message.take()),
            retry_after,
        )),
    }
}
