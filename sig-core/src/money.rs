//! Money in Brazilian reais on `rust_decimal` — never floating point.
//!
//! [`Money`] is a non-negative amount with at most two decimal places (centavos), up to
//! R$ 999.999.999,99. Text input accepts the two forms SIG meets:
//! - API/JSON form with a decimal point: `1234.56`, `1234.5`, `1234`;
//! - Brazilian form with a decimal comma and optional thousands dots: `1.234,56`, `R$ 1.234,56`.
//!
//! A dot-only value with three decimals (`1.234`) is ambiguous between the two forms and is
//! rejected rather than guessed.
//!
//! **JSON and other serde formats.** `Money` serializes as a string with two decimals
//! (`"1234.56"`). It deserializes from a string in either text form, or from a whole number
//! (`1234`, read exactly). A number with a fraction or an exponent (`49.9`, `1e3`) is refused,
//! because it never reaches SIG as written: serde_json (like the TOML reader) hands it over as
//! an `f64`, so `1.000000000000000001` arrives as `1` and would pass as R$ 1,00 when it should
//! be refused for its 18 decimals. Reading such numbers exactly would need serde_json's
//! `arbitrary_precision` feature, which SIG leaves off: Cargo would turn it on for every crate
//! of the workspace, and it breaks numbers inside `#[serde(untagged)]` and `#[serde(flatten)]`
//! types (the `AreaCode` reader, the vendors' lenient wire fields) and changes how
//! `serde_json::Value` numbers compare. Amounts with centavos are therefore written as strings,
//! as `Money` itself writes them.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::problem::{Code, Invalid, trim_ascii};

/// A non-negative BRL amount with at most two decimal places.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Money(Decimal);

/// The largest amount SIG accepts (R$ 999.999.999,99).
pub const MONEY_MAX: Decimal = Decimal::from_parts(99_999_999_999u64 as u32, 23, 0, false, 2);

impl Money {
    /// Zero reais.
    pub const ZERO: Money = Money(Decimal::ZERO);

    /// Validate a decimal amount.
    pub fn new(d: Decimal) -> Result<Money, Invalid> {
        if d.is_sign_negative() && !d.is_zero() {
            return Err(Invalid::new(
                Code::InvalidAmount,
                "an amount cannot be negative",
            ));
        }
        let n = d.normalize();
        if n.scale() > 2 {
            return Err(Invalid::new(
                Code::InvalidAmount,
                "an amount has at most two decimal places (centavos)",
            ));
        }
        if n > MONEY_MAX {
            return Err(Invalid::new(
                Code::InvalidAmount,
                "an amount is at most 999999999.99",
            ));
        }
        let mut v = n;
        v.rescale(2);
        Ok(Money(v))
    }

    /// An amount from whole centavos.
    pub fn from_cents(cents: u64) -> Result<Money, Invalid> {
        Money::new(Decimal::new(
            i64::try_from(cents)
                .map_err(|_| Invalid::new(Code::InvalidAmount, "amount too large"))?,
            2,
        ))
    }

    /// The decimal value (scale 2).
    pub fn amount(self) -> Decimal {
        self.0
    }

    /// Whole centavos.
    pub fn cents(self) -> i64 {
        (self.0 * Decimal::ONE_HUNDRED)
            .trunc()
            .try_into()
            .expect("bounded by MONEY_MAX")
    }

    /// Multiply by a whole quantity, failing past the maximum.
    pub fn times(self, n: u32) -> Result<Money, Invalid> {
        self.0
            .checked_mul(Decimal::from(n))
            .ok_or_else(|| Invalid::new(Code::InvalidAmount, "amount too large"))
            .and_then(Money::new)
    }

    /// Brazilian display form, `R$ 1.234,56`.
    pub fn to_brl_string(self) -> String {
        let s = format!("{:.2}", self.0);
        let (int, frac) = s.split_once('.').unwrap_or((&s, "00"));
        let mut grouped = String::new();
        for (i, c) in int.chars().enumerate() {
            if i > 0 && (int.len() - i) % 3 == 0 {
                grouped.push('.');
            }
            grouped.push(c);
        }
        format!("R$ {grouped},{frac}")
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Money({})", self.0)
    }
}

impl fmt::Display for Money {
    /// Plain decimal with two places (`1234.56`), the form APIs and JSON use.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.2}", self.0)
    }
}

impl FromStr for Money {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        let mut t = trim_ascii(s);
        if let Some(rest) = t.strip_prefix("R$") {
            t = trim_ascii(rest);
        }
        if t.is_empty() {
            return Err(Invalid::required());
        }
        if t.starts_with('-') {
            return Err(Invalid::new(
                Code::InvalidAmount,
                "an amount cannot be negative",
            ));
        }
        let bad = || {
            Invalid::new(
                Code::InvalidFormat,
                "an amount is written 1234.56 or 1.234,56 (digits, one decimal separator)",
            )
        };
        if !t
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b',')
        {
            return Err(bad());
        }
        let normalized: std::borrow::Cow<'_, str> = if t.contains(',') {
            // Brazilian form: dots group thousands (in threes), one comma before the decimals.
            let (int, frac) = t.split_once(',').ok_or_else(bad)?;
            if frac.contains(',') || frac.contains('.') {
                return Err(bad());
            }
            if int.contains('.') {
                let groups: Vec<&str> = int.split('.').collect();
                if groups[0].is_empty()
                    || groups[0].len() > 3
                    || groups[1..].iter().any(|g| g.len() != 3)
                {
                    return Err(bad());
                }
            }
            format!("{}.{}", int.replace('.', ""), frac).into()
        } else {
            if t.matches('.').count() > 1 {
                return Err(bad());
            }
            if let Some((_, frac)) = t.split_once('.')
                && frac.len() == 3
            {
                return Err(Invalid::new(
                    Code::InvalidFormat,
                    "ambiguous amount: write 1234.56 or 1.234,56",
                ));
            }
            t.into()
        };
        if normalized.starts_with('.') || normalized.ends_with('.') {
            return Err(bad());
        }
        let d = Decimal::from_str_exact(&normalized).map_err(|_| bad())?;
        Money::new(d)
    }
}

impl TryFrom<&str> for Money {
    type Error = Invalid;
    fn try_from(s: &str) -> Result<Self, Invalid> {
        s.parse()
    }
}

impl Serialize for Money {
    /// A JSON string with two decimals (`"1234.56"`), so no reader turns it into a float.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Money {
    /// A string in either text form, or a whole number; a number with a fraction or an
    /// exponent is refused (see the module documentation: it arrives already rounded).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(MoneyVisitor)
    }
}

struct MoneyVisitor;

impl MoneyVisitor {
    fn whole<E: serde::de::Error>(n: i128) -> Result<Money, E> {
        let d = Decimal::try_from_i128_with_scale(n, 0)
            .map_err(|_| E::custom("an amount is at most 999999999.99"))?;
        Money::new(d).map_err(E::custom)
    }
}

impl serde::de::Visitor<'_> for MoneyVisitor {
    type Value = Money;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an amount as a string (\"1234.56\") or a whole number")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Money, E> {
        v.parse().map_err(E::custom)
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Money, E> {
        Self::whole(i128::from(v))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Money, E> {
        Self::whole(i128::from(v))
    }

    fn visit_u128<E: serde::de::Error>(self, v: u128) -> Result<Money, E> {
        Self::whole(i128::try_from(v).unwrap_or(i128::MAX))
    }

    fn visit_i128<E: serde::de::Error>(self, v: i128) -> Result<Money, E> {
        Self::whole(v)
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Money, E> {
        Err(E::custom(Invalid::new(
            Code::InvalidFormat,
            "an amount with a fraction is written as a string (\"49.90\"): a number like 49.9 \
             reaches SIG already rounded to floating point, so it cannot be read exactly",
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> Money {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn both_text_forms() {
        assert_eq!(m("1234.56").to_string(), "1234.56");
        assert_eq!(m("1234.5").to_string(), "1234.50");
        assert_eq!(m("1234").to_string(), "1234.00");
        assert_eq!(m("1.234,56").to_string(), "1234.56");
        assert_eq!(m("R$ 1.234.567,8").to_string(), "1234567.80");
        assert_eq!(m("0,99").cents(), 99);
        assert_eq!(m("1234.56").to_brl_string(), "R$ 1.234,56");
        assert_eq!(m("999999999.99").to_brl_string(), "R$ 999.999.999,99");
        assert_eq!(m("0").to_brl_string(), "R$ 0,00");
        assert_eq!(m("1.005,00").to_string(), "1005.00");
    }

    #[test]
    fn rejections() {
        for (s, code) in [
            ("", Code::Required),
            ("R$", Code::Required),
            ("-1", Code::InvalidAmount),
            ("1.234", Code::InvalidFormat),
            ("1,2,3", Code::InvalidFormat),
            ("12.34.56", Code::InvalidFormat),
            ("1.23,4", Code::InvalidFormat),
            ("1e5", Code::InvalidFormat),
            ("1.001", Code::InvalidFormat),
            ("0.001", Code::InvalidFormat),
            ("0.1234", Code::InvalidAmount),
            ("1000000000", Code::InvalidAmount),
            (".5", Code::InvalidFormat),
        ] {
            assert_eq!(s.parse::<Money>().unwrap_err().code, code, "{s:?}");
        }
    }

    #[test]
    fn serde_is_exact() {
        let v: Money = serde_json::from_str("\"49.9\"").unwrap();
        assert_eq!(serde_json::to_string(&v).unwrap(), "\"49.90\"");
        assert_eq!(serde_json::from_str::<Money>("\"49.90\"").unwrap(), v);
        let v: Money = serde_json::from_str("\"1.234,50\"").unwrap();
        assert_eq!(v.cents(), 123_450);
        let v: Money = serde_json::from_str("1234").unwrap();
        assert_eq!(v.to_string(), "1234.00");
        assert!(serde_json::from_str::<Money>("-1").is_err());
        assert!(serde_json::from_str::<Money>("1000000000").is_err());
        assert!(serde_json::from_str::<Money>("18446744073709551615").is_err());
        assert!(serde_json::from_str::<Money>("true").is_err());
        assert_eq!(m("10.00").times(3).unwrap().to_string(), "30.00");
        assert_eq!(MONEY_MAX.to_string(), "999999999.99");
    }

    #[test]
    fn too_many_decimals_are_refused_not_rounded() {
        // As text, every decimal is read: 18 of them is an error, never R$ 1,00.
        for s in ["1.000000000000000001", "0.001", "1,001", "49.999"] {
            let e = serde_json::from_value::<Money>(serde_json::Value::String(s.into()))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("two decimal places") || e.contains("ambiguous"),
                "{s}: {e}"
            );
        }
        // As a JSON number with a fraction the digits are gone before SIG sees them
        // (1.000000000000000001 parses to the same f64 as 1.0), so every such number is
        // refused, whatever its digits; whole numbers are exact and accepted.
        for json in [
            "1.000000000000000001",
            "49.9",
            "49.90",
            "1.0",
            "1e3",
            "0.001",
        ] {
            let e = serde_json::from_str::<Money>(json).unwrap_err().to_string();
            assert!(e.contains("written as a string"), "{json}: {e}");
        }
        assert_eq!(serde_json::from_str::<Money>("49").unwrap().cents(), 4900);
        // TOML (the catalog's list prices) follows the same rule.
        #[derive(Deserialize)]
        struct Price {
            p: Money,
        }
        assert_eq!(
            toml::from_str::<Price>("p = \"39.90\"").unwrap().p.cents(),
            3990
        );
        assert_eq!(toml::from_str::<Price>("p = 40").unwrap().p.cents(), 4000);
        assert!(toml::from_str::<Price>("p = 39.9").is_err());
    }
}
