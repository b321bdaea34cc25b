//! The one shape of a validation problem: `{field, code, message}` plus an optional
//! `source_field` that an adapter fills when it can name the outside field a value came from.
//!
//! Every machine code SIG emits is a variant of [`Code`], listed here and nowhere else.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Stable machine codes for validation problems. Serialized in `snake_case`
/// (`invalid_check_digit`); never renamed once published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Code {
    /// A value that must be present is missing or blank.
    Required,
    /// Longer than the field accepts.
    TooLong,
    /// Shorter than the field accepts.
    TooShort,
    /// A fixed-length value (CPF, CNPJ, CEP) has the wrong number of characters.
    WrongLength,
    /// A character or structure the field never accepts.
    InvalidFormat,
    /// The check digits do not match (CPF, CNPJ).
    InvalidCheckDigit,
    /// A CPF of one repeated digit, or a CNPJ whose base is one repeated character.
    RepeatedDigits,
    /// A telephone area code (DDD) that is not in use in Brazil.
    UnknownAreaCode,
    /// A federative unit (UF) that does not exist.
    UnknownUf,
    /// A number outside the allowed range (billing day, quantities).
    OutOfRange,
    /// A monetary value that is negative or has more than two decimal places.
    InvalidAmount,
    /// A date or timestamp that cannot be read.
    InvalidDate,
    /// A product or plan code that the catalog does not know.
    UnknownPlan,
    /// The same value appears twice where it must be unique (DIDs in a proposal).
    Duplicate,
    /// Values that are individually valid but contradict each other.
    Inconsistent,
    /// A reference to a configured item (server, account, company) that does not exist.
    UnknownReference,
    /// The Receita Federal registry has the CNPJ in a status other than ATIVA (fiscal check).
    FiscalInactive,
    /// The legal name does not match the one the Receita Federal registry has for the CNPJ
    /// (fiscal check).
    FiscalNameMismatch,
    /// No company is registered under the CNPJ in the Receita Federal registry (fiscal check).
    FiscalNotRegistered,
}

impl Code {
    /// Every code, in declaration order (documentation, tests and tooling enumerate them).
    pub const ALL: &'static [Code] = &[
        Code::Required,
        Code::TooLong,
        Code::TooShort,
        Code::WrongLength,
        Code::InvalidFormat,
        Code::InvalidCheckDigit,
        Code::RepeatedDigits,
        Code::UnknownAreaCode,
        Code::UnknownUf,
        Code::OutOfRange,
        Code::InvalidAmount,
        Code::InvalidDate,
        Code::UnknownPlan,
        Code::Duplicate,
        Code::Inconsistent,
        Code::UnknownReference,
        Code::FiscalInactive,
        Code::FiscalNameMismatch,
        Code::FiscalNotRegistered,
    ];

    /// The stable `snake_case` name of the code.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Required => "required",
            Code::TooLong => "too_long",
            Code::TooShort => "too_short",
            Code::WrongLength => "wrong_length",
            Code::InvalidFormat => "invalid_format",
            Code::InvalidCheckDigit => "invalid_check_digit",
            Code::RepeatedDigits => "repeated_digits",
            Code::UnknownAreaCode => "unknown_area_code",
            Code::UnknownUf => "unknown_uf",
            Code::OutOfRange => "out_of_range",
            Code::InvalidAmount => "invalid_amount",
            Code::InvalidDate => "invalid_date",
            Code::UnknownPlan => "unknown_plan",
            Code::Duplicate => "duplicate",
            Code::Inconsistent => "inconsistent",
            Code::UnknownReference => "unknown_reference",
            Code::FiscalInactive => "fiscal_inactive",
            Code::FiscalNameMismatch => "fiscal_name_mismatch",
            Code::FiscalNotRegistered => "fiscal_not_registered",
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a single value was rejected, before it is attached to a field path.
///
/// Returned by every `FromStr` of the domain value types; [`Problems::check`] turns it into a
/// [`Problem`] with the field path where the value sits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    /// The machine code.
    pub code: Code,
    /// A human message (English) that says what is wrong and, where useful, what is expected.
    pub message: String,
}

impl Invalid {
    /// A rejection with its code and message.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Invalid {
            code,
            message: message.into(),
        }
    }

    /// The value is missing or blank.
    pub fn required() -> Self {
        Invalid::new(Code::Required, "a value is required")
    }

    /// Attach the field path where the rejected value sits.
    pub fn at(self, field: impl Into<String>) -> Problem {
        Problem {
            field: field.into(),
            code: self.code,
            message: self.message,
            source_field: None,
        }
    }
}

/// One validation problem: which field, which rule, in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// Domain field path, e.g. `customer.address.cep` or `orders[1].dids[0]`.
    pub field: String,
    /// Stable machine code.
    pub code: Code,
    /// Human message.
    pub message: String,
    /// The outside system's field the value came from (`customer.legal_code`), where an
    /// adapter can trace it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_field: Option<String>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} ({})", self.field, self.message, self.code)?;
        if let Some(src) = &self.source_field {
            write!(f, " [from {src}]")?;
        }
        Ok(())
    }
}

/// Every problem found in one document. Validation collects all of them before returning.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(transparent)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.len() {
            0 => f.write_str("no problems"),
            1 => write!(f, "1 problem: {}", self.0[0]),
            n => {
                write!(f, "{n} problems: ")?;
                for (i, p) in self.0.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{p}")?;
                }
                Ok(())
            }
        }
    }
}

impl Problems {
    /// An empty collection.
    pub fn new() -> Self {
        Problems(Vec::new())
    }

    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many problems were found.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Iterate over the problems.
    pub fn iter(&self) -> std::slice::Iter<'_, Problem> {
        self.0.iter()
    }

    /// Record a problem.
    pub fn push(&mut self, problem: Problem) {
        self.0.push(problem);
    }

    /// Record a problem at `field`.
    pub fn add(&mut self, field: impl Into<String>, code: Code, message: impl Into<String>) {
        self.push(Invalid::new(code, message).at(field));
    }

    /// Keep the value of `result`, or record its rejection at `field` and return `None`.
    pub fn check<T>(&mut self, field: impl Into<String>, result: Result<T, Invalid>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.push(e.at(field));
                None
            }
        }
    }

    /// `Ok(value)` when nothing was recorded, otherwise every problem.
    pub fn into_result<T>(self, value: T) -> Result<T, Problems> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }

    /// Fill `source_field` on every problem whose field path starts with `domain_prefix`.
    /// Adapters call this with the mapping they know (`customer.tax_id` ←
    /// `customer.legal_code`).
    pub fn trace_source(&mut self, domain_prefix: &str, source_field: &str) {
        for p in &mut self.0 {
            if p.source_field.is_none() && path_starts_with(&p.field, domain_prefix) {
                p.source_field = Some(source_field.to_owned());
            }
        }
    }
}

impl IntoIterator for Problems {
    type Item = Problem;
    type IntoIter = std::vec::IntoIter<Problem>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// Whether `path` is `prefix` or lies below it (`a.b` is below `a`, `a[0]` is below `a`,
/// `ab` is not below `a`).
fn path_starts_with(path: &str, prefix: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some("") => true,
        Some(rest) => rest.starts_with('.') || rest.starts_with('['),
        None => false,
    }
}

/// Trim surrounding ASCII whitespace only (the house rule: Unicode spaces are content).
pub fn trim_ascii(s: &str) -> &str {
    // std's byte-wise trim: the same five characters as `char::is_ascii_whitespace`.
    s.trim_ascii()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialize_as_their_stable_names() {
        for code in Code::ALL {
            let json = serde_json::to_string(code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            let back: Code = serde_json::from_str(&json).unwrap();
            assert_eq!(back, *code);
        }
    }

    #[test]
    fn problems_serialize_as_a_list_of_field_code_message() {
        let mut p = Problems::new();
        p.add(
            "customer.address.cep",
            Code::WrongLength,
            "a CEP has 8 digits, got 7",
        );
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(
            json,
            serde_json::json!([{
                "field": "customer.address.cep",
                "code": "wrong_length",
                "message": "a CEP has 8 digits, got 7"
            }])
        );
    }

    #[test]
    fn trace_source_matches_whole_path_segments_only() {
        let mut p = Problems::new();
        p.add("customer.tax_id", Code::Required, "x");
        p.add("customer.tax_id_extra", Code::Required, "x");
        p.add("orders[0].dids[1]", Code::Duplicate, "x");
        p.trace_source("customer.tax_id", "customer.legal_code");
        p.trace_source("orders[0]", "items[0]");
        assert_eq!(p.0[0].source_field.as_deref(), Some("customer.legal_code"));
        assert_eq!(p.0[1].source_field, None);
        assert_eq!(p.0[2].source_field.as_deref(), Some("items[0]"));
    }

    #[test]
    fn trim_is_ascii_only() {
        assert_eq!(trim_ascii(" \t x \n"), "x");
        assert_eq!(trim_ascii("\u{a0}x\u{a0}"), "\u{a0}x\u{a0}");
    }
}
