//! SIG's own identifiers: UUID v7 (time-ordered) newtypes, minted by SIG and used as the
//! upstream natural keys (DESIGN.md, "Identity and idempotency").

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::problem::{Code, Invalid, trim_ascii};

macro_rules! sig_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// Mint a new, time-ordered id.
            pub fn new() -> Self {
                $name(Uuid::now_v7())
            }

            /// Wrap an existing UUID (read back from a store or an upstream record).
            pub fn from_uuid(u: Uuid) -> Self {
                $name(u)
            }

            /// The UUID.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl FromStr for $name {
            type Err = Invalid;
            fn from_str(s: &str) -> Result<Self, Invalid> {
                let t = trim_ascii(s);
                if t.is_empty() {
                    return Err(Invalid::required());
                }
                Uuid::parse_str(t)
                    .map($name)
                    .map_err(|_| Invalid::new(Code::InvalidFormat, "not a UUID"))
            }
        }
    };
}

sig_id!(
    /// A SIG customer; Omie `codigo_cliente_integracao`.
    CustomerId
);
sig_id!(
    /// A SIG service order; Omie contract `cCodIntCtr`.
    ServiceOrderId
);
sig_id!(
    /// One integration run of a source record (a proposal, a direct registration).
    IntegrationId
);
sig_id!(
    /// A SIP line SIG provisions on a ServidorNext.
    LineId
);
sig_id!(
    /// A DID (inbound number) SIG provisions on a ServidorNext.
    DidId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_v7_and_round_trip() {
        let a = CustomerId::new();
        let b = CustomerId::new();
        assert_eq!(a.as_uuid().get_version_num(), 7);
        assert!(a <= b, "v7 ids are time ordered");
        assert_eq!(a.to_string().parse::<CustomerId>().unwrap(), a);
        assert_eq!(
            serde_json::from_str::<CustomerId>(&serde_json::to_string(&a).unwrap()).unwrap(),
            a
        );
        assert_eq!(
            "nope".parse::<LineId>().unwrap_err().code,
            Code::InvalidFormat
        );
    }
}

/// Validate a configuration identifier: 1 to 64 characters of `[a-z0-9_-]`, starting with a
/// letter or digit.
fn slug(s: &str) -> Result<&str, Invalid> {
    let t = trim_ascii(s);
    if t.is_empty() {
        return Err(Invalid::required());
    }
    if t.len() > 64 {
        return Err(Invalid::new(
            Code::TooLong,
            format!("at most 64 characters, got {}", t.len()),
        ));
    }
    let ok_first = t.as_bytes()[0].is_ascii_lowercase() || t.as_bytes()[0].is_ascii_digit();
    if !ok_first
        || !t
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    {
        return Err(Invalid::new(
            Code::InvalidFormat,
            "an identifier uses lower-case letters, digits, - and _, and starts with a letter or digit",
        ));
    }
    Ok(t)
}

macro_rules! config_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The identifier.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0)
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
                slug(s).map(|t| $name(t.to_owned()))
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

config_id!(
    /// A plan in the catalog (`sig.toml`, `[[catalog.plans]] id`).
    PlanId
);
config_id!(
    /// A ServidorNext (`sig.toml`, `[[servers]] id`).
    ServerId
);
config_id!(
    /// A company the provider runs (`sig.toml`, `[[companies]] id`).
    CompanyId
);
config_id!(
    /// An account with an outside system (`sig.toml`, `[accounts.<system>.<id>]`).
    AccountId
);
config_id!(
    /// A user of SIG (`sig.toml`, `[[users]] id`).
    UserId
);

#[cfg(test)]
mod slug_tests {
    use super::*;

    #[test]
    fn config_ids() {
        assert_eq!("next-sp1".parse::<ServerId>().unwrap().as_str(), "next-sp1");
        assert_eq!(
            "Next".parse::<ServerId>().unwrap_err().code,
            Code::InvalidFormat
        );
        assert_eq!(
            "-x".parse::<PlanId>().unwrap_err().code,
            Code::InvalidFormat
        );
        assert_eq!("".parse::<PlanId>().unwrap_err().code, Code::Required);
        assert_eq!(
            "a".repeat(65).parse::<PlanId>().unwrap_err().code,
            Code::TooLong
        );
        assert!(serde_json::from_str::<UserId>("\"ana maria\"").is_err());
    }
}
