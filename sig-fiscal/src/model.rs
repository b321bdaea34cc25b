//! The records every provider maps to: [`CompanyRecord`] (a CNPJ, with everything the
//! registry gives) and [`CepRecord`] (a CEP), the [`Lookup`] answer that tells "found" from
//! "not found", and [`Provider`]. Each maps to the smaller record of the
//! [`FiscalLookup`](sig_core::ports::FiscalLookup) port ([`CompanyRecord::to_registered`],
//! [`CepRecord::to_registered`]) and is an [`AddressSource`] for enrichment.

use std::fmt;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sig_core::fiscal::{
    AddressField, AddressSource, FiscalAnswer, RegisteredAddress, RegisteredCep, RegisteredCompany,
    RegistrationStatus,
};
use sig_core::{Cep, Cnpj, Email, Phone, Uf};

/// One outside lookup service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// BrasilAPI CNPJ v1 (a proxy to Minha Receita, same schema).
    BrasilApi,
    /// Minha Receita.
    MinhaReceita,
    /// ReceitaWS (own schema; errors as `status: "ERROR"` in a 200 body).
    ReceitaWs,
    /// CNPJá (API key; metered in credits).
    Cnpja,
    /// ViaCEP.
    ViaCep,
    /// BrasilAPI CEP v2.
    BrasilApiCep,
}

/// What a provider looks up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LookupKind {
    /// A company by CNPJ.
    Cnpj,
    /// An address by CEP.
    Cep,
}

impl fmt::Display for LookupKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LookupKind::Cnpj => "CNPJ",
            LookupKind::Cep => "CEP",
        })
    }
}

impl Provider {
    /// Every provider.
    pub const ALL: [Provider; 6] = [
        Provider::BrasilApi,
        Provider::MinhaReceita,
        Provider::ReceitaWs,
        Provider::Cnpja,
        Provider::ViaCep,
        Provider::BrasilApiCep,
    ];

    /// Stable snake_case name (`brasil_api`), used in logs, errors and provenance.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::BrasilApi => "brasil_api",
            Provider::MinhaReceita => "minha_receita",
            Provider::ReceitaWs => "receita_ws",
            Provider::Cnpja => "cnpja",
            Provider::ViaCep => "via_cep",
            Provider::BrasilApiCep => "brasil_api_cep",
        }
    }

    /// Whether it answers CNPJ or CEP lookups.
    pub fn kind(self) -> LookupKind {
        match self {
            Provider::BrasilApi
            | Provider::MinhaReceita
            | Provider::ReceitaWs
            | Provider::Cnpja => LookupKind::Cnpj,
            Provider::ViaCep | Provider::BrasilApiCep => LookupKind::Cep,
        }
    }

    /// The production base URL (with a trailing slash). Tests and the sandbox override it.
    pub fn default_base_url(self) -> &'static str {
        match self {
            Provider::BrasilApi | Provider::BrasilApiCep => "https://brasilapi.com.br/",
            Provider::MinhaReceita => "https://minhareceita.org/",
            Provider::ReceitaWs => "https://receitaws.com.br/",
            Provider::Cnpja => "https://api.cnpja.com/",
            Provider::ViaCep => "https://viacep.com.br/",
        }
    }

    /// The path of one lookup under the base URL (`api/cnpj/v1/19131243000197`).
    pub fn path(self, key: &str) -> String {
        match self {
            Provider::BrasilApi => format!("api/cnpj/v1/{key}"),
            Provider::MinhaReceita => key.to_owned(),
            Provider::ReceitaWs => format!("v1/cnpj/{key}"),
            Provider::Cnpja => format!("office/{key}"),
            Provider::ViaCep => format!("ws/{key}/json/"),
            Provider::BrasilApiCep => format!("api/cep/v2/{key}"),
        }
    }

    /// Whether calls need an API key (CNPJá).
    pub fn needs_api_key(self) -> bool {
        matches!(self, Provider::Cnpja)
    }

    /// The provider's own name for an address field, for provenance records
    /// (`logradouro`, `address.street`); `None` where the provider has no such field (a CEP
    /// has no street number).
    pub fn wire_field(self, field: AddressField) -> Option<&'static str> {
        use AddressField as F;
        let name = match (self, field) {
            (Provider::BrasilApi | Provider::MinhaReceita | Provider::ReceitaWs, f) => match f {
                F::Street => "logradouro",
                F::Number => "numero",
                F::Complement => "complemento",
                F::District => "bairro",
                F::City => "municipio",
                F::Uf => "uf",
                F::Cep => "cep",
            },
            (Provider::Cnpja, f) => match f {
                F::Street => "address.street",
                F::Number => "address.number",
                F::Complement => "address.details",
                F::District => "address.district",
                F::City => "address.city",
                F::Uf => "address.state",
                F::Cep => "address.zip",
            },
            (Provider::ViaCep, f) => match f {
                F::Street => "logradouro",
                F::Number => return None,
                F::Complement => "complemento",
                F::District => "bairro",
                F::City => "localidade",
                F::Uf => "uf",
                F::Cep => "cep",
            },
            (Provider::BrasilApiCep, f) => match f {
                F::Street => "street",
                F::Number | F::Complement => return None,
                F::District => "neighborhood",
                F::City => "city",
                F::Uf => "state",
                F::Cep => "cep",
            },
        };
        Some(name)
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Provider {
    type Err = UnknownProvider;

    /// From its stable name ([`Provider::as_str`]): the names `sig.toml` uses
    /// ([`sig_core::fiscal::CNPJ_PROVIDERS`], [`sig_core::fiscal::CEP_PROVIDERS`]).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Provider::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownProvider(s.to_owned()))
    }
}

/// A provider name this crate does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a fiscal provider")]
pub struct UnknownProvider(pub String);

/// The answer of a lookup: "not found" is an answer, not a failure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Lookup<T> {
    /// The provider knows the key.
    Found(T),
    /// The provider answered that the key does not exist.
    NotFound {
        /// Who said so.
        provider: Provider,
    },
}

impl<T> Lookup<T> {
    /// The record, if found.
    pub fn found(self) -> Option<T> {
        match self {
            Lookup::Found(t) => Some(t),
            Lookup::NotFound { .. } => None,
        }
    }

    /// The record by reference, if found.
    pub fn as_found(&self) -> Option<&T> {
        match self {
            Lookup::Found(t) => Some(t),
            Lookup::NotFound { .. } => None,
        }
    }

    /// Whether the answer is "not found".
    pub fn is_not_found(&self) -> bool {
        matches!(self, Lookup::NotFound { .. })
    }
}

/// The registration status with what the provider said verbatim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    /// The status.
    pub status: RegistrationStatus,
    /// The provider's numeric code, when it gave one (BrasilAPI `situacao_cadastral`, CNPJá
    /// `status.id`).
    pub code: Option<i64>,
    /// The provider's text (`ATIVA`, `Ativa`), when it gave one.
    pub description: Option<String>,
    /// Since when (`data_situacao_cadastral`).
    pub since: Option<NaiveDate>,
    /// Why (`descricao_motivo_situacao_cadastral`), when given.
    pub reason: Option<String>,
}

/// An economic activity code (CNAE) and its description.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cnae {
    /// The 7 digits (`6201501`), punctuation removed.
    pub code: String,
    /// The description, when given.
    pub description: Option<String>,
}

/// The legal nature (natureza jurídica).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegalNature {
    /// The 4-digit code (`2062`), when given.
    pub code: Option<String>,
    /// The description (`Sociedade Empresária Limitada`), when given.
    pub description: Option<String>,
}

/// A partner or administrator (QSA).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partner {
    /// Name.
    pub name: String,
    /// Role (qualificação), when given.
    pub role: Option<String>,
    /// Since when, when given.
    pub since: Option<NaiveDate>,
}

/// A company's registered address; every field may be missing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompanyAddress {
    /// Street type (`RUA`, `AVENIDA`), when given apart from the street.
    pub street_type: Option<String>,
    /// Street, with its type in front when the provider gave the type apart.
    pub street: Option<String>,
    /// Number (`S/N` when none).
    pub number: Option<String>,
    /// Complement.
    pub complement: Option<String>,
    /// District (bairro).
    pub district: Option<String>,
    /// City (município).
    pub city: Option<String>,
    /// IBGE city code, when given.
    pub city_ibge_code: Option<String>,
    /// Federative unit; absent abroad (`EX`) or when unreadable.
    pub uf: Option<Uf>,
    /// Postal code, when valid.
    pub cep: Option<Cep>,
}

/// A company as the Receita Federal registers it, whichever provider answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompanyRecord {
    /// The CNPJ looked up.
    pub cnpj: Cnpj,
    /// Which provider answered.
    pub source: Provider,
    /// Legal name (razão social).
    pub legal_name: String,
    /// Trade name (nome fantasia).
    pub trade_name: Option<String>,
    /// Registration status.
    pub registration: Registration,
    /// Opening date (início de atividade).
    pub opening_date: Option<NaiveDate>,
    /// Main activity.
    pub main_activity: Option<Cnae>,
    /// Secondary activities.
    pub secondary_activities: Vec<Cnae>,
    /// Legal nature.
    pub legal_nature: Option<LegalNature>,
    /// Registered address.
    pub address: CompanyAddress,
    /// Telephones that are valid Brazilian numbers (others are dropped).
    pub phones: Vec<Phone>,
    /// E-mail, when valid.
    pub email: Option<Email>,
    /// Partners and administrators.
    pub partners: Vec<Partner>,
    /// Share capital (capital social), BRL.
    pub capital_social: Option<Decimal>,
}

impl CompanyRecord {
    /// Whether the registration status is ATIVA.
    pub fn is_active(&self) -> bool {
        self.registration.status == RegistrationStatus::Active
    }

    /// What the [`FiscalLookup`](sig_core::ports::FiscalLookup) port answers with: status,
    /// names, address and the provider's name of each address field it has.
    pub fn to_registered(&self) -> RegisteredCompany {
        let a = &self.address;
        RegisteredCompany {
            cnpj: self.cnpj,
            source: self.source.as_str().to_owned(),
            legal_name: self.legal_name.clone(),
            trade_name: self.trade_name.clone(),
            status: self.registration.status,
            status_code: self.registration.code,
            status_text: self.registration.description.clone(),
            address: RegisteredAddress {
                street: a.street.clone(),
                number: a.number.clone(),
                complement: a.complement.clone(),
                district: a.district.clone(),
                city: a.city.clone(),
                uf: a.uf,
                cep: a.cep,
            },
            source_fields: source_fields(self.source),
        }
    }
}

fn source_fields(provider: Provider) -> std::collections::BTreeMap<AddressField, String> {
    AddressField::ALL
        .into_iter()
        .filter_map(|f| Some((f, provider.wire_field(f)?.to_owned())))
        .collect()
}

impl<T> Lookup<T> {
    /// The answer in the port's terms, the record mapped by `f`.
    pub fn to_answer<U>(&self, f: impl FnOnce(&T) -> U) -> FiscalAnswer<U> {
        match self {
            Lookup::Found(t) => FiscalAnswer::Found(f(t)),
            Lookup::NotFound { provider } => FiscalAnswer::NotFound {
                source: provider.as_str().to_owned(),
            },
        }
    }
}

impl AddressSource for CompanyRecord {
    fn provider(&self) -> &str {
        self.source.as_str()
    }

    fn value(&self, field: AddressField) -> Option<String> {
        let a = &self.address;
        match field {
            AddressField::Street => a.street.clone(),
            AddressField::Number => a.number.clone(),
            AddressField::Complement => a.complement.clone(),
            AddressField::District => a.district.clone(),
            AddressField::City => a.city.clone(),
            AddressField::Uf => a.uf.map(|u| u.as_str().to_owned()),
            AddressField::Cep => a.cep.map(|c| c.as_str().to_owned()),
        }
    }

    fn source_field(&self, field: AddressField) -> Option<&str> {
        self.source.wire_field(field)
    }
}

/// An address as a CEP lookup returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CepRecord {
    /// The CEP looked up.
    pub cep: Cep,
    /// Which provider answered.
    pub source: Provider,
    /// Street (absent for a city-wide CEP).
    pub street: Option<String>,
    /// Complement (a range of numbers, a side of the street).
    pub complement: Option<String>,
    /// District.
    pub district: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Federative unit.
    pub uf: Option<Uf>,
    /// IBGE city code, when given.
    pub city_ibge_code: Option<String>,
}

impl CepRecord {
    /// What the [`FiscalLookup`](sig_core::ports::FiscalLookup) port answers with.
    pub fn to_registered(&self) -> RegisteredCep {
        RegisteredCep {
            cep: self.cep,
            source: self.source.as_str().to_owned(),
            street: self.street.clone(),
            district: self.district.clone(),
            city: self.city.clone(),
            uf: self.uf,
            source_fields: source_fields(self.source),
        }
    }
}

impl AddressSource for CepRecord {
    fn provider(&self) -> &str {
        self.source.as_str()
    }

    fn value(&self, field: AddressField) -> Option<String> {
        self.to_registered().value(field)
    }

    fn source_field(&self, field: AddressField) -> Option<&str> {
        self.source.wire_field(field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_names_are_the_ones_sig_toml_accepts() {
        let cnpj: Vec<&str> = Provider::ALL
            .into_iter()
            .filter(|p| p.kind() == LookupKind::Cnpj)
            .map(Provider::as_str)
            .collect();
        let cep: Vec<&str> = Provider::ALL
            .into_iter()
            .filter(|p| p.kind() == LookupKind::Cep)
            .map(Provider::as_str)
            .collect();
        assert_eq!(cnpj, sig_core::fiscal::CNPJ_PROVIDERS);
        assert_eq!(cep, sig_core::fiscal::CEP_PROVIDERS);
        for p in Provider::ALL {
            assert_eq!(p.as_str().parse::<Provider>(), Ok(p));
        }
        assert!("viacep".parse::<Provider>().is_err());
    }
}
