//! The domain records every provider maps to: [`CompanyRecord`] (a CNPJ) and [`CepRecord`]
//! (a CEP), the [`Lookup`] answer that tells "found" from "not found", and [`Provider`].

use std::fmt;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
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

/// The fields of a postal address, as enrichment and provenance name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AddressField {
    /// Street (logradouro).
    Street,
    /// Street number.
    Number,
    /// Complement.
    Complement,
    /// District (bairro).
    District,
    /// City (município).
    City,
    /// Federative unit.
    Uf,
    /// Postal code.
    Cep,
}

impl AddressField {
    /// All fields, in address order.
    pub const ALL: [AddressField; 7] = [
        AddressField::Street,
        AddressField::Number,
        AddressField::Complement,
        AddressField::District,
        AddressField::City,
        AddressField::Uf,
        AddressField::Cep,
    ];

    /// The domain field path (`customer.address.street`), as validation problems name it.
    pub fn domain_path(self) -> &'static str {
        match self {
            AddressField::Street => "customer.address.street",
            AddressField::Number => "customer.address.number",
            AddressField::Complement => "customer.address.complement",
            AddressField::District => "customer.address.district",
            AddressField::City => "customer.address.city",
            AddressField::Uf => "customer.address.uf",
            AddressField::Cep => "customer.address.cep",
        }
    }
}

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

/// A company's registration status at the Receita Federal (situação cadastral).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationStatus {
    /// 1 — NULA.
    Null,
    /// 2 — ATIVA: the only status a customer may have.
    Active,
    /// 3 — SUSPENSA.
    Suspended,
    /// 4 — INAPTA.
    Unfit,
    /// 8 — BAIXADA (closed).
    Closed,
    /// A code or text this crate does not know; see [`Registration::code`] and
    /// [`Registration::description`].
    Unknown,
}

impl RegistrationStatus {
    /// From the Receita's numeric code (`situacao_cadastral`: 1, 2, 3, 4, 8).
    pub fn from_code(code: i64) -> Self {
        match code {
            1 => RegistrationStatus::Null,
            2 => RegistrationStatus::Active,
            3 => RegistrationStatus::Suspended,
            4 => RegistrationStatus::Unfit,
            8 => RegistrationStatus::Closed,
            _ => RegistrationStatus::Unknown,
        }
    }

    /// From the Receita's text (`ATIVA`, `Baixada`; case and accents ignored).
    pub fn from_text(text: &str) -> Self {
        match crate::names::fold(text).trim() {
            "nula" => RegistrationStatus::Null,
            "ativa" => RegistrationStatus::Active,
            "suspensa" => RegistrationStatus::Suspended,
            "inapta" => RegistrationStatus::Unfit,
            "baixada" => RegistrationStatus::Closed,
            _ => RegistrationStatus::Unknown,
        }
    }

    /// The Receita's word (`ATIVA`), `DESCONHECIDA` for an unknown one.
    pub fn as_receita_str(self) -> &'static str {
        match self {
            RegistrationStatus::Null => "NULA",
            RegistrationStatus::Active => "ATIVA",
            RegistrationStatus::Suspended => "SUSPENSA",
            RegistrationStatus::Unfit => "INAPTA",
            RegistrationStatus::Closed => "BAIXADA",
            RegistrationStatus::Unknown => "DESCONHECIDA",
        }
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
