//! Property tests for `Cpf`, `Cnpj` and `TaxId` against a plain, independent implementation
//! of the SIG rules written here (char by char, with allocation, and the check digits in
//! python-stdnum's equivalent form `(11 − Σ mod 11) mod 11 mod 10`).
//!
//! The issue asks for at least 10 000 cases of each property and kind, so each runs on its
//! own [`TestRunner`] and counts the cases it checked: round trip and single substitution for
//! CPF, numeric CNPJ and alphanumeric CNPJ (10 000 each), truly arbitrary strings of up to 64
//! characters (10 000, nothing else mixed in), and near misses (10 000 more, built to reach
//! the interesting paths that arbitrary strings rarely hit).

use std::cell::Cell;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use sig_core::{Cnpj, Cpf, TaxId, TaxIdKind};

// ---------------------------------------------------------------------------------------------
// The independent implementation

/// Check digit over `values` with `weights`: (11 − Σ mod 11) mod 11 mod 10.
fn check_digit(values: &[u32], weights: &[u32]) -> u32 {
    let sum: u32 = values.iter().zip(weights).map(|(v, w)| v * w).sum();
    (11 - sum % 11) % 11 % 10
}

/// The two check digits of a CPF's first 9 digits.
fn cpf_dv(base: &str) -> String {
    let v: Vec<u32> = base.chars().map(|c| c.to_digit(10).unwrap()).collect();
    let w1: Vec<u32> = (2..=10).rev().collect();
    let w2: Vec<u32> = (2..=11).rev().collect();
    let d1 = check_digit(&v, &w1);
    let mut v2 = v.clone();
    v2.push(d1);
    let d2 = check_digit(&v2, &w2);
    format!("{d1}{d2}")
}

/// The two check digits of a CNPJ's first 12 characters (value = code point − 48).
fn cnpj_dv(base: &str) -> String {
    let v: Vec<u32> = base.chars().map(|c| c as u32 - 48).collect();
    let d1 = check_digit(&v, &[5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]);
    let mut v2 = v.clone();
    v2.push(d1);
    let d2 = check_digit(&v2, &[6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]);
    format!("{d1}{d2}")
}

fn all_same(s: &str) -> bool {
    let first = s.chars().next();
    s.chars().all(|c| Some(c) == first)
}

/// The SIG rules, plainly: `Some((kind, canonical))` when `input` is a valid tax id.
fn oracle(input: &str) -> Option<(TaxIdKind, String)> {
    let trimmed = input.trim_matches(|c: char| c.is_ascii_whitespace());
    let mut significant = String::new();
    for c in trimmed.chars() {
        match c {
            '.' | '/' | '-' | ' ' => {}
            c if c.is_ascii_alphanumeric() => significant.push(c.to_ascii_uppercase()),
            _ => return None,
        }
    }
    let n = significant.chars().count();
    if n == 11 {
        let ok = significant.chars().all(|c| c.is_ascii_digit())
            && !all_same(&significant)
            && cpf_dv(&significant[..9]) == significant[9..];
        ok.then_some((TaxIdKind::Cpf, significant))
    } else if n == 14 {
        let ok = significant[12..].chars().all(|c| c.is_ascii_digit())
            && !all_same(&significant[..12])
            && cnpj_dv(&significant[..12]) == significant[12..];
        ok.then_some((TaxIdKind::Cnpj, significant))
    } else {
        None
    }
}

fn mask_cpf(c: &str) -> String {
    format!("{}.{}.{}-{}", &c[..3], &c[3..6], &c[6..9], &c[9..])
}

fn mask_cnpj(c: &str) -> String {
    format!(
        "{}.{}.{}/{}-{}",
        &c[..2],
        &c[2..5],
        &c[5..8],
        &c[8..12],
        &c[12..]
    )
}

// ---------------------------------------------------------------------------------------------
// Generators

/// A valid CPF, canonical.
fn valid_cpf() -> impl Strategy<Value = String> {
    "[0-9]{9}"
        .prop_filter("repeated digits", |b| !all_same(b))
        .prop_map(|b| {
            let dv = cpf_dv(&b);
            format!("{b}{dv}")
        })
}

/// A valid numeric CNPJ, canonical.
fn valid_numeric_cnpj() -> impl Strategy<Value = String> {
    "[0-9]{12}"
        .prop_filter("repeated base", |b| !all_same(b))
        .prop_map(|b| {
            let dv = cnpj_dv(&b);
            format!("{b}{dv}")
        })
}

/// A valid alphanumeric CNPJ (at least one letter), canonical.
fn valid_alnum_cnpj() -> impl Strategy<Value = String> {
    "[0-9A-Z]{12}"
        .prop_filter("needs a letter, no repeated base", |b| {
            b.chars().any(|c| c.is_ascii_uppercase()) && !all_same(b)
        })
        .prop_map(|b| {
            let dv = cnpj_dv(&b);
            format!("{b}{dv}")
        })
}

fn valid_any() -> impl Strategy<Value = String> {
    prop_oneof![valid_cpf(), valid_numeric_cnpj(), valid_alnum_cnpj()]
}

/// A CPF of one repeated digit, or a CNPJ whose base is one repeated character with the
/// check digits that base would have (so only the repeated rule rejects most of them).
fn repeated_candidate() -> impl Strategy<Value = String> {
    (
        prop::sample::select(&REPLACEMENTS[..20]),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(c, cpf, masked)| {
            let c = c.to_ascii_uppercase();
            let canonical = if cpf {
                std::iter::repeat_n(c, 11).collect::<String>()
            } else {
                let base: String = std::iter::repeat_n(c, 12).collect();
                let dv = cnpj_dv(&base);
                format!("{base}{dv}")
            };
            match (masked, cpf) {
                (false, _) => canonical,
                (true, true) => mask_cpf(&canonical),
                (true, false) => mask_cnpj(&canonical),
            }
        })
}

/// Replacement characters for the substitution property.
const REPLACEMENTS: &[char] = &[
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'A', 'B', 'F', 'I', 'O', 'Q', 'Z', 'a', 'b',
    'z', '.', '/', '-', ' ', '_', ',', ':', '\t', '\n', '\u{a0}', '\u{2013}', '\u{660}',
    '\u{ff15}', 'é', '\u{0}', '\u{200b}',
];

// ---------------------------------------------------------------------------------------------
// Properties

/// Cases each property checks, per kind.
const CASES: u32 = 10_000;

/// Check `property` on `CASES` values of `strategy` (deterministic seed per name) and assert
/// that it really ran that many.
fn check<S: Strategy>(
    name: &str,
    strategy: S,
    property: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    let config = Config {
        cases: CASES,
        // No failure persistence file: the seed below already makes every run the same.
        failure_persistence: None,
        ..Config::default()
    };
    let seed: [u8; 32] = {
        let mut s = [0u8; 32];
        for (i, b) in name.bytes().enumerate() {
            s[i % 32] ^= b;
        }
        s
    };
    let rng = proptest::test_runner::TestRng::from_seed(
        proptest::test_runner::RngAlgorithm::ChaCha,
        &seed,
    );
    let mut runner = TestRunner::new_with_rng(config, rng);
    let ran = Cell::new(0u32);
    let result = runner.run(&strategy, |v| {
        ran.set(ran.get() + 1);
        property(v)
    });
    if let Err(e) = result {
        panic!("{name}: {e}");
    }
    assert!(ran.get() >= CASES, "{name}: only {} cases ran", ran.get());
}

/// (a) canonical → formatted → parse → the same canonical.
fn round_trip((canonical, lower): (String, bool)) -> Result<(), TestCaseError> {
    let id: TaxId = canonical.parse().unwrap();
    prop_assert_eq!(id.as_str(), canonical.as_str());
    let formatted = id.formatted();
    prop_assert_eq!(&formatted, &id.to_string());
    let expected_mask = if canonical.len() == 11 {
        mask_cpf(&canonical)
    } else {
        mask_cnpj(&canonical)
    };
    prop_assert_eq!(&formatted, &expected_mask);
    let input = if lower {
        formatted.to_ascii_lowercase()
    } else {
        formatted.clone()
    };
    let back: TaxId = input.parse().unwrap();
    prop_assert_eq!(back, id);
    prop_assert_eq!(back.as_str(), canonical.as_str());
    match id.kind() {
        TaxIdKind::Cpf => {
            prop_assert_eq!(canonical.len(), 11);
            let cpf: Cpf = input.parse().unwrap();
            prop_assert_eq!(cpf.as_str(), canonical.as_str());
            prop_assert_eq!(cpf.formatted().parse::<Cpf>().unwrap(), cpf);
            prop_assert!(!Cnpj::is_valid(&input));
        }
        TaxIdKind::Cnpj => {
            prop_assert_eq!(canonical.len(), 14);
            let cnpj: Cnpj = input.parse().unwrap();
            prop_assert_eq!(cnpj.as_str(), canonical.as_str());
            prop_assert_eq!(cnpj.formatted().parse::<Cnpj>().unwrap(), cnpj);
            prop_assert_eq!(
                cnpj.is_alphanumeric(),
                canonical.chars().any(|c| c.is_ascii_uppercase())
            );
            prop_assert!(!Cpf::is_valid(&input));
        }
    }
    let json = serde_json::to_string(&id).unwrap();
    prop_assert_eq!(&json, &format!("\"{canonical}\""));
    prop_assert_eq!(serde_json::from_str::<TaxId>(&json).unwrap(), id);
    Ok(())
}

#[test]
fn valid_cpfs_round_trip() {
    check("round trip CPF", (valid_cpf(), any::<bool>()), |v| {
        prop_assert_eq!(v.0.len(), 11);
        round_trip(v)
    });
}

#[test]
fn valid_numeric_cnpjs_round_trip() {
    check(
        "round trip numeric CNPJ",
        (valid_numeric_cnpj(), any::<bool>()),
        |v| {
            prop_assert!(v.0.bytes().all(|b| b.is_ascii_digit()));
            round_trip(v)
        },
    );
}

#[test]
fn valid_alphanumeric_cnpjs_round_trip() {
    check(
        "round trip alphanumeric CNPJ",
        (valid_alnum_cnpj(), any::<bool>()),
        |v| {
            prop_assert!(v.0[..12].bytes().any(|b| b.is_ascii_uppercase()));
            round_trip(v)
        },
    );
}

/// (b) one character substituted anywhere: the parser's verdict is the oracle's.
fn substitution(
    (canonical, masked, position, replacement): (String, bool, prop::sample::Index, char),
) -> Result<(), TestCaseError> {
    let base = if !masked {
        canonical.clone()
    } else if canonical.len() == 11 {
        mask_cpf(&canonical)
    } else {
        mask_cnpj(&canonical)
    };
    let chars: Vec<char> = base.chars().collect();
    let at = position.index(chars.len());
    let mutated: String = chars
        .iter()
        .enumerate()
        .map(|(i, &c)| if i == at { replacement } else { c })
        .collect();
    let expected = oracle(&mutated);
    let got = mutated.parse::<TaxId>();
    prop_assert_eq!(
        got.as_ref().ok().map(|t| (t.kind(), t.as_str().to_owned())),
        expected.clone(),
        "input {:?}, error {:?}",
        mutated,
        got.as_ref().err()
    );
    let expect_cpf = matches!(&expected, Some((TaxIdKind::Cpf, _)));
    let expect_cnpj = matches!(&expected, Some((TaxIdKind::Cnpj, _)));
    prop_assert_eq!(Cpf::is_valid(&mutated), expect_cpf, "{:?}", mutated);
    prop_assert_eq!(mutated.parse::<Cpf>().is_ok(), expect_cpf, "{:?}", mutated);
    prop_assert_eq!(Cnpj::is_valid(&mutated), expect_cnpj, "{:?}", mutated);
    prop_assert_eq!(
        mutated.parse::<Cnpj>().is_ok(),
        expect_cnpj,
        "{:?}",
        mutated
    );
    prop_assert_eq!(
        TaxId::is_valid(&mutated),
        expected.is_some(),
        "{:?}",
        mutated
    );
    Ok(())
}

fn substituted(
    valid: impl Strategy<Value = String>,
) -> impl Strategy<Value = (String, bool, prop::sample::Index, char)> {
    (
        valid,
        any::<bool>(),
        any::<prop::sample::Index>(),
        prop::sample::select(REPLACEMENTS),
    )
}

#[test]
fn single_substitution_in_a_cpf_matches_the_oracle() {
    check("substitution CPF", substituted(valid_cpf()), substitution);
}

#[test]
fn single_substitution_in_a_numeric_cnpj_matches_the_oracle() {
    check(
        "substitution numeric CNPJ",
        substituted(valid_numeric_cnpj()),
        substitution,
    );
}

#[test]
fn single_substitution_in_an_alphanumeric_cnpj_matches_the_oracle() {
    check(
        "substitution alphanumeric CNPJ",
        substituted(valid_alnum_cnpj()),
        substitution,
    );
}

/// (c) any string: no panic; what is accepted re-parses to itself and agrees with the oracle.
fn never_panics(input: String) -> Result<(), TestCaseError> {
    let cpf = input.parse::<Cpf>();
    let cnpj = input.parse::<Cnpj>();
    let id = input.parse::<TaxId>();
    prop_assert_eq!(Cpf::is_valid(&input), cpf.is_ok());
    prop_assert_eq!(Cnpj::is_valid(&input), cnpj.is_ok());
    prop_assert_eq!(TaxId::is_valid(&input), id.is_ok());
    prop_assert_eq!(
        id.as_ref().ok().map(|t| (t.kind(), t.as_str().to_owned())),
        oracle(&input),
        "{:?}",
        input
    );
    if let Ok(id) = id {
        prop_assert_eq!(id.as_str().parse::<TaxId>().unwrap(), id);
        prop_assert_eq!(id.formatted().parse::<TaxId>().unwrap(), id);
    }
    if let Ok(c) = cpf {
        prop_assert_eq!(c.as_str().parse::<Cpf>().unwrap(), c);
    }
    if let Ok(c) = cnpj {
        prop_assert_eq!(c.as_str().parse::<Cnpj>().unwrap(), c);
    }
    let errors = [
        input.parse::<Cpf>().err(),
        input.parse::<Cnpj>().err(),
        input.parse::<TaxId>().err(),
    ];
    for e in errors.into_iter().flatten() {
        prop_assert!(!e.message.is_empty());
    }
    // Deserializing goes through the same parser.
    let json = serde_json::to_string(&input).unwrap();
    prop_assert_eq!(
        serde_json::from_str::<TaxId>(&json).is_ok(),
        TaxId::is_valid(&input)
    );
    Ok(())
}

#[test]
fn arbitrary_strings_up_to_64_characters_never_panic() {
    check(
        "arbitrary strings",
        prop::collection::vec(any::<char>(), 0..=64).prop_map(String::from_iter),
        |s| {
            prop_assert!(s.chars().count() <= 64);
            never_panics(s)
        },
    );
}

#[test]
fn near_misses_never_panic_and_agree_with_the_oracle() {
    check(
        "near misses",
        prop_oneof![
            "[0-9A-Za-z./ \\-]{0,20}",
            "[ \t]{0,2}[0-9./\\- ]{11,20}[ \n]{0,2}",
            valid_any().prop_map(|s| s.to_ascii_lowercase()),
            repeated_candidate(),
        ],
        never_panics,
    );
}
