//! Postal addresses: the CEP, the federative units (UF) and a Brazilian billing [`Address`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::problem::{Code, Invalid, trim_ascii};
use crate::text::{City, Complement, District, Street, StreetNumber};

/// A CEP (Código de Endereçamento Postal): 8 digits. Input may carry `-`, `.` and spaces;
/// canonical form is the 8 digits (`01001000`), `Display` shows `01001-000`. `00000000` is
/// rejected (no such CEP).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cep([u8; 8]);

impl Cep {
    /// The 8 digits.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("a CEP holds ASCII digits only")
    }

    /// `01001-000`.
    pub fn formatted(&self) -> String {
        format!("{}-{}", &self.as_str()[..5], &self.as_str()[5..])
    }
}

impl fmt::Debug for Cep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cep({})", self.as_str())
    }
}

impl fmt::Display for Cep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.formatted())
    }
}

impl FromStr for Cep {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        let t = trim_ascii(s);
        if t.is_empty() {
            return Err(Invalid::required());
        }
        let mut out = [0u8; 8];
        let mut n = 0usize;
        for (i, c) in t.chars().enumerate() {
            match c {
                '0'..='9' => {
                    if n < 8 {
                        out[n] = c as u8;
                    }
                    n += 1;
                }
                '-' | '.' | ' ' => {}
                _ => {
                    return Err(Invalid::new(
                        Code::InvalidFormat,
                        format!(
                            "unexpected character {c:?} at position {}; a CEP has 8 digits",
                            i + 1
                        ),
                    ));
                }
            }
        }
        if n != 8 {
            return Err(Invalid::new(
                Code::WrongLength,
                format!("a CEP has 8 digits, got {n}"),
            ));
        }
        if out == *b"00000000" {
            return Err(Invalid::new(Code::RepeatedDigits, "00000000 is not a CEP"));
        }
        Ok(Cep(out))
    }
}

impl TryFrom<&str> for Cep {
    type Error = Invalid;
    fn try_from(s: &str) -> Result<Self, Invalid> {
        s.parse()
    }
}

impl Serialize for Cep {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Cep {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

macro_rules! ufs {
    ($($v:ident => $name:literal),+ $(,)?) => {
        /// A Brazilian federative unit: the 26 states and the Federal District.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[allow(missing_docs)]
        pub enum Uf { $($v),+ }

        impl Uf {
            /// All 27 units, alphabetical by abbreviation.
            pub const ALL: [Uf; 27] = [$(Uf::$v),+];

            /// The two-letter abbreviation (`SP`).
            pub fn as_str(self) -> &'static str {
                match self { $(Uf::$v => stringify!($v)),+ }
            }

            /// The unit's name (`São Paulo`).
            pub fn name(self) -> &'static str {
                match self { $(Uf::$v => $name),+ }
            }
        }
    };
}

ufs! {
    AC => "Acre", AL => "Alagoas", AM => "Amazonas", AP => "Amapá", BA => "Bahia",
    CE => "Ceará", DF => "Distrito Federal", ES => "Espírito Santo", GO => "Goiás",
    MA => "Maranhão", MG => "Minas Gerais", MS => "Mato Grosso do Sul", MT => "Mato Grosso",
    PA => "Pará", PB => "Paraíba", PE => "Pernambuco", PI => "Piauí", PR => "Paraná",
    RJ => "Rio de Janeiro", RN => "Rio Grande do Norte", RO => "Rondônia", RR => "Roraima",
    RS => "Rio Grande do Sul", SC => "Santa Catarina", SE => "Sergipe", SP => "São Paulo",
    TO => "Tocantins",
}

impl fmt::Display for Uf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Uf {
    type Err = Invalid;
    /// Accepts the abbreviation in any case (`sp`, `SP`).
    fn from_str(s: &str) -> Result<Self, Invalid> {
        let t = trim_ascii(s);
        if t.is_empty() {
            return Err(Invalid::required());
        }
        Uf::ALL
            .iter()
            .copied()
            .find(|u| u.as_str().eq_ignore_ascii_case(t))
            .ok_or_else(|| {
                Invalid::new(
                    Code::UnknownUf,
                    "not a Brazilian state abbreviation (such as SP or RJ)",
                )
            })
    }
}

impl TryFrom<&str> for Uf {
    type Error = Invalid;
    fn try_from(s: &str) -> Result<Self, Invalid> {
        s.parse()
    }
}

impl Serialize for Uf {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Uf {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A Brazilian postal (billing) address. Field lengths follow the Omie limits documented in
/// [`crate::text`].
///
/// `Display` writes it on one line the Brazilian way:
/// `Av. Paulista, 1000, Conj. 12 - Bela Vista, São Paulo - SP, 01310-100` (the complement only
/// when there is one). That line is for people: it has no `FromStr`, because the parts may
/// themselves hold commas and dashes, so it cannot be split back without guessing; the
/// machine form is the JSON object of its fields, each validated on the way in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// Street (logradouro).
    pub street: Street,
    /// Number; `S/N` when the address has none.
    pub number: StreetNumber,
    /// Complement (apartment, suite).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complement: Option<Complement>,
    /// District (bairro).
    pub district: District,
    /// City (município).
    pub city: City,
    /// Federative unit.
    pub uf: Uf,
    /// Postal code.
    pub cep: Cep,
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, {}", self.street, self.number)?;
        if let Some(c) = &self.complement {
            write!(f, ", {c}")?;
        }
        write!(
            f,
            " - {}, {} - {}, {}",
            self.district, self.city, self.uf, self.cep
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cep_forms() {
        let c: Cep = "01001-000".parse().unwrap();
        assert_eq!(c.as_str(), "01001000");
        assert_eq!(c.to_string(), "01001-000");
        assert_eq!(" 01.001-000 ".parse::<Cep>().unwrap(), c);
        assert_eq!(
            "0100100".parse::<Cep>().unwrap_err().code,
            Code::WrongLength
        );
        assert_eq!(
            "010010000".parse::<Cep>().unwrap_err().code,
            Code::WrongLength
        );
        assert_eq!(
            "01001-00a".parse::<Cep>().unwrap_err().code,
            Code::InvalidFormat
        );
        assert_eq!(
            "01001\u{2013}000".parse::<Cep>().unwrap_err().code,
            Code::InvalidFormat
        );
        assert_eq!("".parse::<Cep>().unwrap_err().code, Code::Required);
        assert_eq!(
            "00000-000".parse::<Cep>().unwrap_err().code,
            Code::RepeatedDigits
        );
        assert_eq!(serde_json::to_string(&c).unwrap(), "\"01001000\"");
        assert_eq!(serde_json::from_str::<Cep>("\"01001-000\"").unwrap(), c);
    }

    #[test]
    fn all_27_ufs() {
        assert_eq!(Uf::ALL.len(), 27);
        for u in Uf::ALL {
            assert_eq!(u.as_str().parse::<Uf>().unwrap(), u);
            assert_eq!(u.as_str().to_lowercase().parse::<Uf>().unwrap(), u);
        }
        assert_eq!("XX".parse::<Uf>().unwrap_err().code, Code::UnknownUf);
        assert_eq!("São Paulo".parse::<Uf>().unwrap_err().code, Code::UnknownUf);
        assert_eq!(Uf::SP.name(), "São Paulo");
        assert_eq!(Uf::try_from(" rj ").unwrap(), Uf::RJ);
        assert_eq!(Uf::try_from("").unwrap_err().code, Code::Required);
        assert_eq!(Uf::try_from("S P").unwrap_err().code, Code::UnknownUf);
        assert_eq!(Uf::MG.to_string(), "MG");
        assert_eq!(serde_json::to_string(&Uf::DF).unwrap(), "\"DF\"");
        assert_eq!(serde_json::from_str::<Uf>("\"df\"").unwrap(), Uf::DF);
        assert!(serde_json::from_str::<Uf>("\"XX\"").is_err());
    }

    fn address(complement: Option<&str>) -> Address {
        let mut v = serde_json::json!({
            "street": "Av. Paulista", "number": "1000", "district": "Bela Vista",
            "city": "São Paulo", "uf": "sp", "cep": "01310100"
        });
        if let Some(c) = complement {
            v["complement"] = c.into();
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn address_displays_on_one_line() {
        assert_eq!(
            address(Some("Conj. 12")).to_string(),
            "Av. Paulista, 1000, Conj. 12 - Bela Vista, São Paulo - SP, 01310-100"
        );
        assert_eq!(
            address(None).to_string(),
            "Av. Paulista, 1000 - Bela Vista, São Paulo - SP, 01310-100"
        );
    }

    #[test]
    fn address_deserializes_through_validation() {
        let a = address(None);
        let json = serde_json::to_value(&a).unwrap();
        assert_eq!(json["uf"], "SP");
        assert_eq!(json["cep"], "01310100");
        assert!(json.get("complement").is_none());
        assert_eq!(serde_json::from_value::<Address>(json.clone()).unwrap(), a);
        for (key, bad) in [
            ("cep", "0131010"),
            ("uf", "XX"),
            ("street", " "),
            ("number", "12345678901"),
        ] {
            let mut j = json.clone();
            j[key] = bad.into();
            assert!(
                serde_json::from_value::<Address>(j).is_err(),
                "{key} = {bad:?}"
            );
        }
    }
}
