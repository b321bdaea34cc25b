//! BrasilAPI CNPJ v1 and Minha Receita: one schema (BrasilAPI passes Minha Receita's answer
//! through). [documented]: BrasilAPI `services/cnpj.js`, cuducos/minha-receita
//! `docs/dicionario.md`.
//!
//! Errors: BrasilAPI `400/404 {"name","message","type"}`, Minha Receita
//! `400/404 {"message"}`. 404 is "not found"; 400 means the provider refused the CNPJ.

use std::time::Duration;

use serde::Deserialize;
use sig_core::Cnpj;

use super::{
    Dec, Int, Many, Text, cep, cnae_code, date, decode, email, error_message, generic_failure,
    join_street, phones, uf,
};
use crate::error::ProviderError;
use crate::model::{
    Cnae, CompanyAddress, CompanyRecord, LegalNature, Lookup, Partner, Provider, Registration,
};
use sig_core::fiscal::RegistrationStatus;

/// A company as BrasilAPI and Minha Receita send it (the fields SIG reads).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Company {
    pub(crate) cnpj: Text,
    pub(crate) razao_social: Text,
    pub(crate) nome_fantasia: Text,
    pub(crate) situacao_cadastral: Int,
    pub(crate) descricao_situacao_cadastral: Text,
    pub(crate) data_situacao_cadastral: Text,
    pub(crate) descricao_motivo_situacao_cadastral: Text,
    pub(crate) data_inicio_atividade: Text,
    pub(crate) cnae_fiscal: Text,
    pub(crate) cnae_fiscal_descricao: Text,
    pub(crate) cnaes_secundarios: Many<Activity>,
    pub(crate) codigo_natureza_juridica: Text,
    pub(crate) natureza_juridica: Text,
    pub(crate) capital_social: Dec,
    pub(crate) descricao_tipo_de_logradouro: Text,
    pub(crate) logradouro: Text,
    pub(crate) numero: Text,
    pub(crate) complemento: Text,
    pub(crate) bairro: Text,
    pub(crate) municipio: Text,
    pub(crate) codigo_municipio_ibge: Text,
    pub(crate) uf: Text,
    pub(crate) cep: Text,
    pub(crate) email: Text,
    pub(crate) ddd_telefone_1: Text,
    pub(crate) ddd_telefone_2: Text,
    pub(crate) qsa: Many<Member>,
}

/// `cnaes_secundarios[]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Activity {
    pub(crate) codigo: Text,
    pub(crate) descricao: Text,
}

/// `qsa[]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Member {
    pub(crate) nome_socio: Text,
    pub(crate) qualificacao_socio: Text,
    pub(crate) data_entrada_sociedade: Text,
}

impl Company {
    pub(crate) fn into_record(self, cnpj: Cnpj, provider: Provider) -> CompanyRecord {
        let status = match self.situacao_cadastral.0 {
            Some(code) => RegistrationStatus::from_code(code),
            None => self
                .descricao_situacao_cadastral
                .get()
                .map_or(RegistrationStatus::Unknown, RegistrationStatus::from_text),
        };
        let main_activity = cnae_code(&self.cnae_fiscal).map(|code| Cnae {
            code,
            description: self.cnae_fiscal_descricao.take(),
        });
        let secondary_activities = self
            .cnaes_secundarios
            .0
            .iter()
            .filter_map(|a| {
                cnae_code(&a.codigo).map(|code| Cnae {
                    code,
                    description: a.descricao.take(),
                })
            })
            .collect();
        let legal_nature = (self.codigo_natureza_juridica.get().is_some()
            || self.natureza_juridica.get().is_some())
        .then(|| LegalNature {
            code: self.codigo_natureza_juridica.take(),
            description: self.natureza_juridica.take(),
        });
        let street_type = self.descricao_tipo_de_logradouro.take();
        let address = CompanyAddress {
            street: join_street(street_type.clone(), self.logradouro.take()),
            street_type,
            number: self.numero.take(),
            complement: self.complemento.take(),
            district: self.bairro.take(),
            city: self.municipio.take(),
            city_ibge_code: self.codigo_municipio_ibge.take(),
            uf: uf(&self.uf),
            cep: cep(&self.cep),
        };
        let phones = phones(
            provider,
            [self.ddd_telefone_1.get(), self.ddd_telefone_2.get()]
                .into_iter()
                .flatten(),
        );
        let partners = self
            .qsa
            .0
            .iter()
            .filter_map(|m| {
                Some(Partner {
                    name: m.nome_socio.take()?,
                    role: m.qualificacao_socio.take(),
                    since: date(&m.data_entrada_sociedade),
                })
            })
            .collect();
        CompanyRecord {
            cnpj,
            source: provider,
            legal_name: self.razao_social.take().unwrap_or_default(),
            trade_name: self.nome_fantasia.take(),
            registration: Registration {
                status,
                code: self.situacao_cadastral.0,
                description: self.descricao_situacao_cadastral.take(),
                since: date(&self.data_situacao_cadastral),
                reason: self.descricao_motivo_situacao_cadastral.take(),
            },
            opening_date: date(&self.data_inicio_atividade),
            main_activity,
            secondary_activities,
            legal_nature,
            address,
            phones,
            email: email(&self.email),
            partners,
            capital_social: self.capital_social.0,
        }
    }
}

/// Turns a BrasilAPI or Minha Receita answer into a lookup result.
pub(crate) fn interpret(
    provider: Provider,
    cnpj: Cnpj,
    status: u16,
    body: &[u8],
    retry_after: Option<Duration>,
) -> Result<Lookup<CompanyRecord>, ProviderError> {
    match status {
        200 => {
            let company: Company = decode(provider, status, body)?;
            if company.razao_social.get().is_none() {
                return Err(ProviderError::new(
                    provider,
                    crate::error::ProviderErrorKind::Malformed,
                    Some(status),
                    "answer without `razao_social`",
                ));
            }
            Ok(Lookup::Found(company.into_record(cnpj, provider)))
        }
        // A 404 without the provider's JSON error body is a proxy or routing failure, not an
        // answer about the CNPJ.
        404 if error_message(body).is_some() => Ok(Lookup::NotFound { provider }),
        _ => Err(generic_failure(
            provider,
            status,
            error_message(body),
            retry_after,
        )),
    }
}
