//! ReceitaWS `GET /v1/cnpj/{cnpj}` [observed]: its own schema, masked values (`cnpj`
//! "19.131.243/0001-97", `cep` "01.311-902"), dates as `dd/mm/yyyy`, `capital_social` as a
//! string, and errors as **HTTP 200** with `{"status": "ERROR", "message": ...}`.
//!
//! Error messages [observed/inferred]: "CNPJ inválido" (refused input), "CNPJ rejeitado
//! pela Receita Federal" and "… não encontrado" (no such company: *not found*), "Timeout"
//! (the provider's own upstream was slow: unavailable). Any other `ERROR` message is treated
//! as a provider failure so the chain moves on.

use std::time::Duration;

use serde::Deserialize;
use sig_core::Cnpj;

use super::{
    Dec, Many, Text, cep, cnae_code, date, decode, email, error_message, generic_failure, phones,
    uf,
};
use crate::error::{ProviderError, ProviderErrorKind};
use crate::model::{
    Cnae, CompanyAddress, CompanyRecord, LegalNature, Lookup, Partner, Provider, Registration,
};
use sig_core::fiscal::RegistrationStatus;
use sig_core::fiscal::names::fold;

const PROVIDER: Provider = Provider::ReceitaWs;

/// A ReceitaWS answer (the fields SIG reads).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Company {
    pub(crate) status: Text,
    pub(crate) message: Text,
    pub(crate) nome: Text,
    pub(crate) fantasia: Text,
    pub(crate) abertura: Text,
    pub(crate) situacao: Text,
    pub(crate) data_situacao: Text,
    pub(crate) motivo_situacao: Text,
    pub(crate) natureza_juridica: Text,
    pub(crate) atividade_principal: Many<Activity>,
    pub(crate) atividades_secundarias: Many<Activity>,
    pub(crate) qsa: Many<Member>,
    pub(crate) logradouro: Text,
    pub(crate) numero: Text,
    pub(crate) complemento: Text,
    pub(crate) bairro: Text,
    pub(crate) municipio: Text,
    pub(crate) uf: Text,
    pub(crate) cep: Text,
    pub(crate) email: Text,
    pub(crate) telefone: Text,
    pub(crate) capital_social: Dec,
}

/// `atividade_principal[]`, `atividades_secundarias[]`: `{"code": "62.01-5-01", "text"}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Activity {
    pub(crate) code: Text,
    pub(crate) text: Text,
}

/// `qsa[]`: `{"nome", "qual"}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Member {
    pub(crate) nome: Text,
    pub(crate) qual: Text,
}

fn activity(a: &Activity) -> Option<Cnae> {
    cnae_code(&a.code).map(|code| Cnae {
        code,
        description: a.text.take(),
    })
}

/// `"213-5 - Empresário (Individual)"` → code `2135`, description `Empresário (Individual)`.
fn legal_nature(text: &Text) -> Option<LegalNature> {
    let t = text.get()?;
    match t.split_once(" - ") {
        Some((code, description)) => Some(LegalNature {
            code: Some(code.chars().filter(char::is_ascii_digit).collect()),
            description: Some(description.trim().to_owned()).filter(|d| !d.is_empty()),
        }),
        None => Some(LegalNature {
            code: None,
            description: Some(t.to_owned()),
        }),
    }
}

impl Company {
    pub(crate) fn into_record(self, cnpj: Cnpj) -> CompanyRecord {
        let status = self
            .situacao
            .get()
            .map_or(RegistrationStatus::Unknown, RegistrationStatus::from_text);
        let telefone = self.telefone.take().unwrap_or_default();
        CompanyRecord {
            cnpj,
            source: PROVIDER,
            legal_name: self.nome.take().unwrap_or_default(),
            trade_name: self.fantasia.take(),
            registration: Registration {
                status,
                code: None,
                description: self.situacao.take(),
                since: date(&self.data_situacao),
                reason: self.motivo_situacao.take(),
            },
            opening_date: date(&self.abertura),
            main_activity: self.atividade_principal.0.iter().find_map(activity),
            secondary_activities: self
                .atividades_secundarias
                .0
                .iter()
                .filter_map(activity)
                .collect(),
            legal_nature: legal_nature(&self.natureza_juridica),
            address: CompanyAddress {
                street_type: None,
                street: self.logradouro.take(),
                number: self.numero.take(),
                complement: self.complemento.take(),
                district: self.bairro.take(),
                city: self.municipio.take(),
                city_ibge_code: None,
                uf: uf(&self.uf),
                cep: cep(&self.cep),
            },
            // "(11) 2345-6789 / (11) 9876-5432"
            phones: phones(PROVIDER, telefone.split('/').map(str::trim)),
            email: email(&self.email),
            partners: self
                .qsa
                .0
                .iter()
                .filter_map(|m| {
                    Some(Partner {
                        name: m.nome.take()?,
                        role: m.qual.take(),
                        since: None,
                    })
                })
                .collect(),
            capital_social: self.capital_social.0,
        }
    }
}

/// Turns a ReceitaWS answer into a lookup result. The body's `status` decides, whatever the
/// HTTP status (ReceitaWS sends its errors with 200, and this also reads them under 4xx);
/// 429 and 5xx are read by HTTP status alone.
pub(crate) fn interpret(
    cnpj: Cnpj,
    status: u16,
    body: &[u8],
    retry_after: Option<Duration>,
) -> Result<Lookup<CompanyRecord>, ProviderError> {
    let generic = || generic_failure(PROVIDER, status, error_message(body), retry_after);
    if status == 429 || status >= 500 {
        return Err(generic());
    }
    let company: Company = match decode(PROVIDER, status, body) {
        Ok(c) => c,
        Err(e) if status == 200 => return Err(e),
        Err(_) => return Err(generic()),
    };
    let body_status = company.status.get().map(str::to_ascii_uppercase);
    match body_status.as_deref() {
        Some("OK") if status == 200 && company.nome.get().is_some() => {
            Ok(Lookup::Found(company.into_record(cnpj)))
        }
        Some("ERROR") => classify_error(status, company.message.take().unwrap_or_default()),
        _ if status == 200 => Err(ProviderError::new(
            PROVIDER,
            ProviderErrorKind::Malformed,
            Some(status),
            "answer without `status: OK` and `nome`",
        )),
        _ => Err(generic()),
    }
}

/// Reads a `status: "ERROR"` message: "not found" is an answer, the rest are failures.
fn classify_error(status: u16, message: String) -> Result<Lookup<CompanyRecord>, ProviderError> {
    let folded = fold(&message);
    let kind = if folded.contains("rejeitado") || folded.contains("nao encontrado") {
        return Ok(Lookup::NotFound { provider: PROVIDER });
    } else if folded.contains("invalido") {
        ProviderErrorKind::Rejected
    } else if folded.contains("timeout") {
        ProviderErrorKind::Unavailable
    } else if folded.contains("too many") || folded.contains("limite") {
        ProviderErrorKind::RateLimited
    } else {
        return Err(ProviderError::new(
            PROVIDER,
            ProviderErrorKind::Malformed,
            Some(status),
            format!("status ERROR: {message}"),
        ));
    };
    Err(ProviderError::new(PROVIDER, kind, Some(status), message))
}
