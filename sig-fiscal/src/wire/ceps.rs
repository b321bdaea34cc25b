//! CEP providers: ViaCEP `GET /ws/{cep}/json/` and BrasilAPI `GET /api/cep/v2/{cep}`
//! [documented].
//!
//! - ViaCEP: a malformed CEP → 400; a well-formed but unknown CEP → **200** with
//!   `"erro": "true"` (string or bool, both accepted).
//! - BrasilAPI v2: 400 invalid, 404 not found, 500 when every backing service failed; errors
//!   are `{"name":"CepPromiseError","message",...,"type","errors":[...]}`.

use std::time::Duration;

use serde::Deserialize;
use sig_core::Cep;

use super::{Flag, Text, cep, decode, error_message, generic_failure, uf};
use crate::error::{ProviderError, ProviderErrorKind};
use crate::model::{CepRecord, Lookup, Provider};

/// A ViaCEP answer.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ViaCep {
    pub(crate) cep: Text,
    pub(crate) logradouro: Text,
    pub(crate) complemento: Text,
    pub(crate) bairro: Text,
    pub(crate) localidade: Text,
    pub(crate) uf: Text,
    pub(crate) ibge: Text,
    pub(crate) erro: Flag,
}

/// A BrasilAPI CEP v2 answer.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct BrasilApiCep {
    pub(crate) cep: Text,
    pub(crate) state: Text,
    pub(crate) city: Text,
    pub(crate) neighborhood: Text,
    pub(crate) street: Text,
    pub(crate) ibge: Text,
}

fn check_echo(provider: Provider, asked: Cep, echoed: &Text) -> Result<(), ProviderError> {
    match cep(echoed) {
        Some(got) if got != asked => Err(ProviderError::new(
            provider,
            ProviderErrorKind::Malformed,
            Some(200),
            format!("answered for CEP {got} instead of {asked}"),
        )),
        _ => Ok(()),
    }
}

/// Turns a ViaCEP answer into a lookup result.
pub(crate) fn interpret_viacep(
    asked: Cep,
    status: u16,
    body: &[u8],
    retry_after: Option<Duration>,
) -> Result<Lookup<CepRecord>, ProviderError> {
    const P: Provider = Provider::ViaCep;
    if status != 200 {
        return Err(generic_failure(P, status, error_message(body), retry_after));
    }
    let answer: ViaCep = decode(P, status, body)?;
    if answer.erro.0 {
        return Ok(Lookup::NotFound { provider: P });
    }
    if answer.cep.get().is_none() {
        return Err(ProviderError::new(
            P,
            ProviderErrorKind::Malformed,
            Some(status),
            "answer without `cep` nor `erro`",
        ));
    }
    check_echo(P, asked, &answer.cep)?;
    Ok(Lookup::Found(CepRecord {
        cep: asked,
        source: P,
        street: answer.logradouro.take(),
        complement: answer.complemento.take(),
        district: answer.bairro.take(),
        city: answer.localidade.take(),
        uf: uf(&answer.uf),
        city_ibge_code: answer.ibge.take(),
    }))
}

/// Turns a BrasilAPI CEP v2 answer into a lookup result.
pub(crate) fn interpret_brasilapi(
    asked: Cep,
    status: u16,
    body: &[u8],
    retry_after: Option<Duration>,
) -> Result<Lookup<CepRecord>, ProviderError> {
    const P: Provider = Provider::BrasilApiCep;
    match status {
        200 => {
            let answer: BrasilApiCep = decode(P, status, body)?;
            if answer.cep.get().is_none() {
                return Err(ProviderError::new(
                    P,
                    ProviderErrorKind::Malformed,
                    Some(status),
                    "answer without `cep`",
                ));
            }
            check_echo(P, asked, &answer.cep)?;
            Ok(Lookup::Found(CepRecord {
                cep: asked,
                source: P,
                street: answer.street.take(),
                complement: None,
                district: answer.neighborhood.take(),
                city: answer.city.take(),
                uf: uf(&answer.state),
                city_ibge_code: answer.ibge.take(),
            }))
        }
        404 if error_message(body).is_some() => Ok(Lookup::NotFound { provider: P }),
        _ => Err(generic_failure(P, status, error_message(body), retry_after)),
    }
}
