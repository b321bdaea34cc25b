//! Masking personal data for reports and exports (DESIGN.md: personal data is LGPD-protected;
//! exports mask it by default). One set of rules for every exporter — the `sig` binary's
//! reports and the Python bindings — so the same value is masked the same way everywhere.
//!
//! | value | masked | why |
//! |---|---|---|
//! | CPF | `***.982.247-**` | a person's id: only the middle digits, enough to tell records apart |
//! | CNPJ | `12.ABC.345/01DE-35` | a company's public registration: shown in full |
//! | e-mail | `a***@example.com.br` | the first character of the mailbox and the domain |
//! | phone | `(11) ****-4321` | the area code and the last four digits |
//!
//! A value that does not parse is masked whole (`***`): an invalid value is still personal
//! data, and its shape cannot be trusted to mask a part of it.

use serde_json::Value;

use crate::contact::{Email, Phone};
use crate::taxid::TaxId;

/// What a value that cannot be masked in part becomes.
pub const MASKED: &str = "***";

/// A CPF with only its middle six digits shown (`***.982.247-**`); a CNPJ (a company's public
/// registration) in full.
pub fn mask_tax_id(t: &TaxId) -> String {
    match t {
        TaxId::Cpf(c) => {
            let s = c.as_str();
            format!("***.{}.{}-**", &s[3..6], &s[6..9])
        }
        TaxId::Cnpj(c) => c.formatted(),
    }
}

/// [`mask_tax_id`] of a text; [`MASKED`] when it is not a valid CPF or CNPJ.
pub fn mask_tax_id_text(s: &str) -> String {
    s.parse::<TaxId>()
        .map_or_else(|_| MASKED.to_owned(), |t| mask_tax_id(&t))
}

/// `a***@example.com.br`: the mailbox's first character and the domain; [`MASKED`] when the
/// text is not a valid address.
pub fn mask_email(s: &str) -> String {
    match s.parse::<Email>() {
        Ok(e) => {
            let first = e.as_str().chars().next().unwrap_or('*');
            format!("{first}***@{}", e.domain())
        }
        Err(_) => MASKED.to_owned(),
    }
}

/// [`mask_phone`] of a parsed phone: `(11) ****-4321`.
pub fn mask_phone_value(p: &Phone) -> String {
    let subscriber = p.subscriber();
    let tail = &subscriber[subscriber.len().saturating_sub(4)..];
    format!("({:02}) ****-{tail}", p.area_code().get())
}

/// `(11) ****-4321`: the area code and the last four digits; [`MASKED`] when the text is not
/// a valid phone number.
pub fn mask_phone(s: &str) -> String {
    s.parse::<Phone>()
        .map_or_else(|_| MASKED.to_owned(), |p| mask_phone_value(&p))
}

/// A copy of `v` with every string that holds personal data masked: e-mail addresses, CPFs
/// (CNPJs stay, see [`mask_tax_id`]), anything else shaped like an address (`x@y` without
/// spaces: [`MASKED`]) and phone numbers written as phones (with a `+`,
/// parentheses, spaces or dashes — a bare run of digits is far more often an upstream id).
/// For free-form JSON such as audit details; object keys are kept.
pub fn mask_json(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(mask_text_value(s)),
        Value::Array(items) => Value::Array(items.iter().map(mask_json).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), mask_json(v))).collect())
        }
        other => other.clone(),
    }
}

fn mask_text_value(s: &str) -> String {
    if s.contains('@') {
        if let Ok(e) = s.parse::<Email>() {
            let first = e.as_str().chars().next().unwrap_or('*');
            return format!("{first}***@{}", e.domain());
        }
        // A malformed address is still an address; text with spaces is prose.
        if !s.bytes().any(|b| b.is_ascii_whitespace()) {
            return MASKED.to_owned();
        }
        return s.to_owned();
    }
    if let Ok(TaxId::Cpf(c)) = s.parse::<TaxId>() {
        return mask_tax_id(&TaxId::Cpf(c));
    }
    let written_as_phone = s
        .bytes()
        .any(|b| matches!(b, b'+' | b'(' | b')' | b' ' | b'-'));
    if written_as_phone && let Ok(p) = s.parse::<Phone>() {
        return mask_phone_value(&p);
    }
    s.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cpf_is_masked_cnpj_is_not() {
        assert_eq!(
            mask_tax_id(&"529.982.247-25".parse().unwrap()),
            "***.982.247-**"
        );
        assert_eq!(
            mask_tax_id(&"12ABC34501DE35".parse().unwrap()),
            "12.ABC.345/01DE-35"
        );
        assert_eq!(mask_tax_id_text("52998224725"), "***.982.247-**");
        assert_eq!(mask_tax_id_text("52998224726"), MASKED);
    }

    #[test]
    fn emails_keep_the_first_character_and_the_domain() {
        assert_eq!(mask_email("ana.souza@Gmail.com"), "a***@gmail.com");
        assert_eq!(mask_email("not an address"), MASKED);
    }

    #[test]
    fn phones_keep_the_area_code_and_the_last_four_digits() {
        assert_eq!(mask_phone("(21) 99876-5432"), "(21) ****-5432");
        assert_eq!(mask_phone("+55 11 3456-7890"), "(11) ****-7890");
        assert_eq!(mask_phone("123"), MASKED);
    }

    #[test]
    fn json_masks_personal_values_and_keeps_ids() {
        let v = json!({
            "email": "jose@paoquente.com.br",
            "before": {"tax_id": "529.982.247-25", "cnpj": "12ABC34501DE35"},
            "phones": ["(11) 3456-7890", "1134567890"],
            "erp_id": 1134567890u64,
            "typo": "jose@paoquente",
            "note": "write to the seller @ the office",
        });
        assert_eq!(
            mask_json(&v),
            json!({
                "email": "j***@paoquente.com.br",
                "before": {"tax_id": "***.982.247-**", "cnpj": "12ABC34501DE35"},
                "phones": ["(11) ****-7890", "1134567890"],
                "erp_id": 1134567890u64,
                "typo": "***",
                "note": "write to the seller @ the office",
            })
        );
    }
}
