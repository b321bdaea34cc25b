//! Where SIG's ids live in NextBilling records, so a record SIG created can be found again.
//!
//! NextBilling has no idempotency key, so each record carries SIG's id in a field that reads
//! return and SIG can search by:
//!
//! | record | field | value | why |
//! |---|---|---|---|
//! | customer (Assinante) | `id_origem` | SIG customer id, 32 lower-case hex (`0190…`) | a documented free "origin id" field, meant for another system's key; the customer lookup filters on it `[inferred]` |
//! | line (Linha IP) | `username` | `sig` + SIG line id, 32 hex (`sig0190…`) | documented, returned by `listDevices`, unique per line by construction, starts with a letter so it is never mistaken for a numeric extension |
//! | DID | `description` | `sig:did:` + SIG DID id, 32 hex | the DID's only documented free-text field; returned by the DID list `[inferred]` |
//!
//! The hex is the UUID's simple form (no hyphens) to stay short and free of punctuation a
//! vendor might strip. The `parse_*` functions read a field back into the SIG id (the sandbox
//! counts creates per SIG id with them).

use std::str::FromStr;

use sig_core::ids::{CustomerId, DidId, LineId};

/// Prefix of a line's SIP username.
pub const LINE_USERNAME_PREFIX: &str = "sig";
/// Prefix of a DID's description.
pub const DID_DESCRIPTION_PREFIX: &str = "sig:did:";

/// The customer's `id_origem`: SIG's customer id as 32 lower-case hex digits.
pub fn customer_origin(id: CustomerId) -> String {
    id.as_uuid().simple().to_string()
}

/// The line's SIP `username`: `sig` followed by SIG's line id as 32 hex digits.
pub fn line_username(id: LineId) -> String {
    format!("{LINE_USERNAME_PREFIX}{}", id.as_uuid().simple())
}

/// The DID's `description`: `sig:did:` followed by SIG's DID id as 32 hex digits.
pub fn did_description(id: DidId) -> String {
    format!("{DID_DESCRIPTION_PREFIX}{}", id.as_uuid().simple())
}

fn simple_hex<T: FromStr>(hex: &str) -> Option<T> {
    (hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| hex.parse().ok())
        .flatten()
}

/// The SIG customer id an `id_origem` holds, if it holds one.
pub fn parse_customer_origin(value: &str) -> Option<CustomerId> {
    simple_hex(value)
}

/// The SIG line id a SIP username holds, if it holds one.
pub fn parse_line_username(value: &str) -> Option<LineId> {
    simple_hex(value.strip_prefix(LINE_USERNAME_PREFIX)?)
}

/// The SIG DID id a DID description holds, if it holds one.
pub fn parse_did_description(value: &str) -> Option<DidId> {
    simple_hex(value.strip_prefix(DID_DESCRIPTION_PREFIX)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_round_trip_and_reject_foreign_values() {
        let c = CustomerId::new();
        let l = LineId::new();
        let d = DidId::new();
        let origin = customer_origin(c);
        assert_eq!(origin.len(), 32);
        assert_eq!(parse_customer_origin(&origin), Some(c));
        let user = line_username(l);
        assert!(user.starts_with("sig") && user.len() == 35, "{user}");
        assert_eq!(parse_line_username(&user), Some(l));
        let desc = did_description(d);
        assert_eq!(parse_did_description(&desc), Some(d));

        assert_eq!(parse_customer_origin("12345"), None);
        assert_eq!(
            parse_customer_origin(&c.to_string()),
            None,
            "hyphenated is not ours"
        );
        assert_eq!(parse_line_username(&origin), None, "no prefix");
        assert_eq!(parse_line_username("ramal1001"), None);
        assert_eq!(parse_did_description("Recepção"), None);
    }

    #[test]
    fn markers_are_deterministic() {
        let l = LineId::new();
        assert_eq!(line_username(l), line_username(l));
    }
}
