//! Address enrichment: fill the missing fields of a proposal's address from a CNPJ record
//! (the registered address) and/or a CEP record, recording where each value came from.
//!
//! Rules:
//! - Only **missing** fields are filled (absent, or blank after trimming ASCII whitespace);
//!   a value the proposal has is never replaced, even when a provider disagrees.
//! - Sources are tried in the order given, field by field; the first that has the field wins.
//! - A source is used only if it describes the same place: its CEP equals the address's CEP.
//!   When the address has no CEP, the first source that has one sets it, and sources with
//!   another CEP are skipped. When the address's CEP is present but unreadable, nothing is
//!   filled (validation reports the CEP).
//! - The street number and complement are taken only from a source whose street is the
//!   address's street (as given, or as just filled), once case and accents are folded: a
//!   number on another street of the same CEP means nothing.
//! - Each filled field gets a [`Provenance`]: the domain field, the provider and the
//!   provider's own field name (`customer.address.street` ← `via_cep` `logradouro`).

use serde::{Deserialize, Serialize};

use super::AddressField;
use super::names::fold;
use crate::address::Cep;
use crate::raw::RawAddress;

/// Something that knows (part of) an address: a registry record.
pub trait AddressSource {
    /// Which provider the values came from (`brasil_api`).
    fn provider(&self) -> &str;
    /// The value of one field, as text (`SP`, `01001000`), when known.
    fn value(&self, field: AddressField) -> Option<String>;
    /// The provider's own name of the field (`logradouro`); a value whose field has no name
    /// is not used, so every filled field can say where it came from.
    fn source_field(&self, field: AddressField) -> Option<&str>;
}

/// Where one filled value came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// The domain field (`customer.address.street`).
    pub field: String,
    /// The provider that gave it (`via_cep`).
    pub source_provider: String,
    /// The provider's field name (`logradouro`).
    pub source_field: String,
}

/// The result of [`enrich`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrichment {
    /// The address with the missing fields filled.
    pub address: RawAddress,
    /// One record per filled field, in address order.
    pub provenance: Vec<Provenance>,
}

impl Enrichment {
    /// The fields that were filled.
    pub fn filled(&self) -> impl Iterator<Item = &str> {
        self.provenance.iter().map(|p| p.field.as_str())
    }
}

fn slot(address: &mut RawAddress, field: AddressField) -> &mut Option<String> {
    match field {
        AddressField::Street => &mut address.street,
        AddressField::Number => &mut address.number,
        AddressField::Complement => &mut address.complement,
        AddressField::District => &mut address.district,
        AddressField::City => &mut address.city,
        AddressField::Uf => &mut address.uf,
        AddressField::Cep => &mut address.cep,
    }
}

fn present(value: Option<&String>) -> Option<&str> {
    value
        .map(|v| v.trim_matches(|c: char| c.is_ascii_whitespace()))
        .filter(|v| !v.is_empty())
}

/// Fills the missing fields of `address` from `sources` (see the module documentation).
pub fn enrich(address: &RawAddress, sources: &[&dyn AddressSource]) -> Enrichment {
    let mut out = address.clone();
    let mut provenance = Vec::new();
    // Which place: the address's CEP, else the first source's.
    let target: Option<Cep> = match present(address.cep.as_ref()) {
        Some(text) => match text.parse::<Cep>() {
            Ok(cep) => Some(cep),
            Err(_) => {
                return Enrichment {
                    address: out,
                    provenance,
                };
            }
        },
        None => sources
            .iter()
            .find_map(|s| s.value(AddressField::Cep)?.parse().ok()),
    };
    let same_place: Vec<&dyn AddressSource> = sources
        .iter()
        .copied()
        .filter(|s| {
            let cep = s
                .value(AddressField::Cep)
                .and_then(|c| c.parse::<Cep>().ok());
            match (target, cep) {
                (Some(t), Some(c)) => t == c,
                (Some(_), None) => false,
                (None, _) => true,
            }
        })
        .collect();
    for field in AddressField::ALL {
        if present(slot(&mut out, field).as_ref()).is_some() {
            continue;
        }
        // Number and complement only from a source on the address's (final) street: Street
        // comes first in `AddressField::ALL`, so it is settled by now.
        let street = present(out.street.as_ref()).map(fold);
        for source in &same_place {
            if matches!(field, AddressField::Number | AddressField::Complement) {
                let on_street = source
                    .value(AddressField::Street)
                    .is_some_and(|v| Some(fold(v.trim())) == street);
                if !on_street {
                    continue;
                }
            }
            let Some(value) = source.value(field) else {
                continue;
            };
            let Some(source_field) = source.source_field(field) else {
                continue;
            };
            *slot(&mut out, field) = Some(value);
            provenance.push(Provenance {
                field: field.domain_path().to_owned(),
                source_provider: source.provider().to_owned(),
                source_field: source_field.to_owned(),
            });
            break;
        }
    }
    Enrichment {
        address: out,
        provenance,
    }
}
