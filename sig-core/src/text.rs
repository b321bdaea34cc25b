//! Bounded text fields: trimmed (ASCII whitespace only), never empty, no control characters,
//! and no longer than the outside systems accept.
//!
//! Omie's public schema does not state field lengths (`reference/omie.md`), so the limits are
//! chosen here, conservatively, from the lengths Omie's web forms enforce and are pinned by
//! tests; the tightest consumer wins, so a value SIG accepts is accepted everywhere.
//!
//! | type | Omie field | max chars |
//! |---|---|---|
//! | [`LegalName`] | `razao_social` | 60 |
//! | [`TradeName`] | `nome_fantasia` | 100 |
//! | [`ContactName`] | `contato` | 100 |
//! | [`Street`] | `endereco` | 60 |
//! | [`StreetNumber`] | `endereco_numero` | 10 |
//! | [`Complement`] | `complemento` | 60 |
//! | [`District`] | `bairro` | 60 |
//! | [`City`] | `cidade` | 60 |
//! | [`Registration`] | `inscricao_estadual`, `inscricao_municipal` | 20 |
//!
//! Lengths count Unicode scalar values (characters), not bytes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::problem::{Code, Invalid, trim_ascii};

/// Validate a bounded text value: trim, require, reject control characters, cap length.
pub fn bounded(s: &str, max: usize) -> Result<&str, Invalid> {
    let t = trim_ascii(s);
    if t.is_empty() {
        return Err(Invalid::required());
    }
    // Control characters are U+0000–U+001F, U+007F and U+0080–U+009F (UTF-8 `C2 80`–`C2 9F`):
    // look for them character by character only when a byte says there may be one.
    if t.bytes().any(|b| b < 0x20 || b == 0x7f || b == 0xc2)
        && let Some(c) = t.chars().find(|c| c.is_control())
    {
        return Err(Invalid::new(
            Code::InvalidFormat,
            format!("control character {c:?} is not allowed here"),
        ));
    }
    // A text of at most `max` bytes has at most `max` characters: count only longer ones.
    if t.len() > max {
        let n = t.chars().count();
        if n > max {
            return Err(Invalid::new(
                Code::TooLong,
                format!("at most {max} characters, got {n}"),
            ));
        }
    }
    Ok(t)
}

macro_rules! bounded_text {
    ($(#[$doc:meta])* $name:ident, $max:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Maximum length in characters.
            pub const MAX: usize = $max;

            /// The trimmed text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({:?})"), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = Invalid;
            fn from_str(s: &str) -> Result<Self, Invalid> {
                bounded(s, Self::MAX).map(|t| $name(t.to_owned()))
            }
        }

        impl TryFrom<&str> for $name {
            type Error = Invalid;
            fn try_from(s: &str) -> Result<Self, Invalid> {
                s.parse()
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

bounded_text!(
    /// A legal name (razão social, or a person's full name): Omie `razao_social`.
    LegalName, 60
);
bounded_text!(
    /// A trade name (nome fantasia): Omie `nome_fantasia`.
    TradeName, 100
);
bounded_text!(
    /// A contact person's name: Omie `contato`.
    ContactName, 100
);
bounded_text!(
    /// A street (logradouro): Omie `endereco`.
    Street, 60
);
bounded_text!(
    /// A street number, or `S/N`: Omie `endereco_numero`.
    StreetNumber, 10
);
bounded_text!(
    /// An address complement: Omie `complemento`.
    Complement, 60
);
bounded_text!(
    /// A district (bairro): Omie `bairro`.
    District, 60
);
bounded_text!(
    /// A city (município) name: Omie `cidade`.
    City, 60
);
bounded_text!(
    /// A state or municipal registration number (inscrição estadual / municipal), or `ISENTO`.
    Registration, 20
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_pinned() {
        assert_eq!(LegalName::MAX, 60);
        assert_eq!(TradeName::MAX, 100);
        assert_eq!(ContactName::MAX, 100);
        assert_eq!(Street::MAX, 60);
        assert_eq!(StreetNumber::MAX, 10);
        assert_eq!(Complement::MAX, 60);
        assert_eq!(District::MAX, 60);
        assert_eq!(City::MAX, 60);
        assert_eq!(Registration::MAX, 20);
    }

    #[test]
    fn trims_ascii_and_counts_characters() {
        let n: LegalName = "  Telefonia São João Ltda \t".parse().unwrap();
        assert_eq!(n.as_str(), "Telefonia São João Ltda");
        // 60 multi-byte characters fit; 61 do not.
        assert!("ã".repeat(60).parse::<LegalName>().is_ok());
        let e = "ã".repeat(61).parse::<LegalName>().unwrap_err();
        assert_eq!(e.code, Code::TooLong);
        assert_eq!(e.message, "at most 60 characters, got 61");
        assert_eq!("   ".parse::<City>().unwrap_err().code, Code::Required);
        assert_eq!(
            "a\nb".parse::<City>().unwrap_err().code,
            Code::InvalidFormat
        );
        // Non-ASCII spaces are content, not trimmed.
        assert_eq!("\u{a0}x".parse::<City>().unwrap().as_str(), "\u{a0}x");
    }

    #[test]
    fn serde_goes_through_validation() {
        let s: StreetNumber = serde_json::from_str("\" 123 \"").unwrap();
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"123\"");
        assert!(serde_json::from_str::<StreetNumber>("\"12345678901\"").is_err());
    }
}
