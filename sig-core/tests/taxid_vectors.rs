//! External vectors for `Cpf`, `Cnpj` and `TaxId`: every public example number of
//! `shared/reference/br-documents.md` §5 (masked and unmasked), the SIG conventions, and one
//! test per disagreement with an existing library (§4), named after the library.

use sig_core::problem::Code;
use sig_core::{Cnpj, Cpf, TaxId, TaxIdKind};

// ---------------------------------------------------------------------------------------------
// Helpers

/// The significant characters of a vector (separators removed).
fn unmasked(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '.' | '/' | '-' | ' '))
        .collect()
}

/// The vector with the standard mask (only for 11 or 14 significant characters).
fn masked(s: &str) -> String {
    let u = unmasked(s);
    match u.len() {
        11 => format!("{}.{}.{}-{}", &u[..3], &u[3..6], &u[6..9], &u[9..]),
        14 => format!(
            "{}.{}.{}/{}-{}",
            &u[..2],
            &u[2..5],
            &u[5..8],
            &u[8..12],
            &u[12..]
        ),
        _ => u,
    }
}

/// The vector as given, unmasked and masked.
fn forms(s: &str) -> [String; 3] {
    [s.to_owned(), unmasked(s), masked(s)]
}

fn assert_valid_cpf(s: &str) {
    for f in forms(s) {
        let cpf: Cpf = f
            .parse()
            .unwrap_or_else(|e| panic!("CPF {f:?} should be valid: {e:?}"));
        assert_eq!(cpf.as_str(), unmasked(s), "{f:?}");
        assert_eq!(cpf.formatted(), masked(s), "{f:?}");
        assert!(Cpf::is_valid(&f), "{f:?}");
        let id: TaxId = f.parse().unwrap();
        assert_eq!(id.kind(), TaxIdKind::Cpf);
        assert_eq!(id, TaxId::Cpf(cpf));
        assert!(TaxId::is_valid(&f));
        assert!(!Cnpj::is_valid(&f), "{f:?} is not a CNPJ");
    }
}

fn assert_valid_cnpj(s: &str) {
    let canonical = unmasked(s).to_ascii_uppercase();
    for f in forms(s) {
        let cnpj: Cnpj = f
            .parse()
            .unwrap_or_else(|e| panic!("CNPJ {f:?} should be valid: {e:?}"));
        assert_eq!(cnpj.as_str(), canonical, "{f:?}");
        assert_eq!(cnpj.formatted(), masked(&canonical), "{f:?}");
        assert!(Cnpj::is_valid(&f), "{f:?}");
        let id: TaxId = f.parse().unwrap();
        assert_eq!(id.kind(), TaxIdKind::Cnpj);
        assert_eq!(id, TaxId::Cnpj(cnpj));
        assert!(TaxId::is_valid(&f));
        assert!(!Cpf::is_valid(&f), "{f:?} is not a CPF");
    }
}

fn assert_invalid_cpf(s: &str, code: Code) {
    for f in forms(s) {
        let e = f.parse::<Cpf>().expect_err(&f);
        assert_eq!(e.code, code, "CPF {f:?}: {}", e.message);
        assert!(!Cpf::is_valid(&f));
        let e = f.parse::<TaxId>().expect_err(&f);
        assert_eq!(e.code, code, "TaxId {f:?}: {}", e.message);
        assert!(!TaxId::is_valid(&f));
    }
}

fn assert_invalid_cnpj(s: &str, code: Code) {
    for f in forms(s) {
        let e = f.parse::<Cnpj>().expect_err(&f);
        assert_eq!(e.code, code, "CNPJ {f:?}: {}", e.message);
        assert!(!Cnpj::is_valid(&f));
        let e = f.parse::<TaxId>().expect_err(&f);
        assert_eq!(e.code, code, "TaxId {f:?}: {}", e.message);
        assert!(!TaxId::is_valid(&f));
    }
}

/// Independent check digits for test data (values ASCII − 48, mod-11 rule).
fn cnpj_with_dv(base: &str) -> String {
    let v: Vec<u32> = base.bytes().map(|b| u32::from(b) - 48).collect();
    let dv = |weights: &[u32], v: &[u32]| {
        let r = weights.iter().zip(v).map(|(w, x)| w * x).sum::<u32>() % 11;
        if r < 2 { 0 } else { 11 - r }
    };
    let d1 = dv(&[5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2], &v);
    let mut v2 = v.clone();
    v2.push(d1);
    let d2 = dv(&[6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2], &v2);
    format!("{base}{d1}{d2}")
}

// ---------------------------------------------------------------------------------------------
// §5 public example numbers

#[test]
fn public_valid_cnpjs() {
    for s in [
        // brutils, validate-docbr, brazilian-utils JS, python-stdnum docstring
        "12ABC34501DE35",
        "12.ABC.345/01DE-35",
        // brutils
        "Z46ABC88000164",
        // brutils, brazilian-utils/rust
        "34665388000161",
        "01838723000127",
        // brazilian-utils/rust
        "03560714000142",
        // validate-docbr
        "74600269000145",
        // brazilian-utils JS
        "13723705000189",
        "60.391.947/0001-00",
        // python-stdnum tests/test_br_cnpj.doctest
        "07.195.358/0001-66",
        "11.017.153/0002-49",
        "16.727.230.0001-97",
        "61882613000194",
        "69.435.154/0001-02",
        // BrasilAPI, Minha Receita, CNPJá, `cnpj` crate docs
        "19131243000197",
        "33683111000280",
        "37335118000180",
        "96769900000177",
    ] {
        assert_valid_cnpj(s);
    }
}

#[test]
fn public_lowercase_cnpj_is_valid_like_validate_docbr_unlike_brutils() {
    // validate-docbr tests/test_CNPJ.py accepts it; brutils' is_valid and brazilian-utils (JS)
    // reject lower case. SIG folds letters to upper case.
    assert_valid_cnpj("12.aBc.345/01dE-35");
    assert_eq!(
        "12.aBc.345/01dE-35".parse::<Cnpj>().unwrap().as_str(),
        "12ABC34501DE35"
    );
}

#[test]
fn public_invalid_cnpjs() {
    // Letters in the check digits (brutils).
    assert_invalid_cnpj("12ABC34501DEAA", Code::InvalidFormat);
    // Wrong check digits.
    for s in [
        "12.ABC.345/01DE-34", // validate-docbr
        "12.ABC.345/01DE-99", // brazilian-utils JS
        "52599927000100",     // brutils / brazilian-utils/rust
        "00111222000133",     // brutils / brazilian-utils/rust
        "11257245286531",     // brazilian-utils JS
        "16.727.230.0001-98", // python-stdnum docstring
    ] {
        assert_invalid_cnpj(s, Code::InvalidCheckDigit);
    }
    // Fails the check digits anyway, but the repeated base is checked first.
    assert_invalid_cnpj("11111111111111", Code::RepeatedDigits);
    // Passes the check digits; rejected as a repeated base.
    assert_invalid_cnpj("00000000000000", Code::RepeatedDigits);
}

#[test]
fn public_valid_cpfs() {
    for s in [
        "390.533.447-05", // python-stdnum
        "52513127765",    // brutils
        "52599927765",
        "11144477735",
        "11111111200",
        "255.248.930-33", // crate docs
        "529.982.247-25",
    ] {
        assert_valid_cpf(s);
    }
}

#[test]
fn public_invalid_cpfs() {
    assert_invalid_cpf("231.002.999-00", Code::InvalidCheckDigit); // python-stdnum
    assert_invalid_cpf("11144477732", Code::InvalidCheckDigit); // brutils
    assert_invalid_cpf("123.456.789-00", Code::InvalidCheckDigit); // rust-validador README
    assert_invalid_cpf("111.111.111-11", Code::RepeatedDigits); // libraries disagree (§4)
}

// ---------------------------------------------------------------------------------------------
// SIG conventions

#[test]
fn worked_examples_check_digits() {
    assert!(Cpf::is_valid("529.982.247-25"));
    assert!(Cnpj::is_valid("34.665.388/0001-61"));
    assert!(Cnpj::is_valid("12.ABC.345/01DE-35"));
}

#[test]
fn lower_case_alphanumeric_is_accepted_and_canonicalised() {
    for s in ["12abc34501de35", "12.abc.345/01de-35", "z46abc88000164"] {
        let c: Cnpj = s.parse().unwrap();
        assert_eq!(
            c.as_str(),
            s.replace(['.', '/', '-'], "").to_ascii_uppercase()
        );
        assert!(c.is_alphanumeric());
    }
    assert_eq!(
        "12abc34501de35".parse::<TaxId>().unwrap().as_str(),
        "12ABC34501DE35"
    );
}

#[test]
fn dot_instead_of_slash_is_valid() {
    let c: Cnpj = "16.727.230.0001-97".parse().unwrap();
    assert_eq!(c.as_str(), "16727230000197");
    assert_eq!(c.to_string(), "16.727.230/0001-97");
}

#[test]
fn separators_and_spaces_anywhere_and_surrounding_whitespace() {
    for s in [
        "529 982 247 25",
        "5-2-9-9-8-2-2-4-7-2-5",
        "..529982247//25--",
        "\t 529.982.247-25 \r\n",
        "529982247/25", // `/` inside a CPF (python-stdnum rejects it, see below)
    ] {
        assert_eq!(s.parse::<Cpf>().unwrap().as_str(), "52998224725", "{s:?}");
    }
    assert_eq!(
        " 12 ABC 345 01 DE 35\n".parse::<Cnpj>().unwrap().as_str(),
        "12ABC34501DE35"
    );
}

#[test]
fn ten_digit_cpf_is_wrong_length_never_zero_padded() {
    // validate-docbr zero-pads `9380826044` to `09380826044` (valid); SIG does not.
    let e = "9380826044".parse::<Cpf>().unwrap_err();
    assert_eq!(e.code, Code::WrongLength);
    assert_eq!(e.message, "a CPF has 11 digits, got 10");
    assert!("09380826044".parse::<Cpf>().is_ok());
    let e = "9380826044".parse::<TaxId>().unwrap_err();
    assert_eq!(e.code, Code::WrongLength);
    assert_eq!(
        e.message,
        "a CPF has 11 digits and a CNPJ 14 characters, got 10"
    );
}

#[test]
fn wrong_lengths() {
    let e = "529.982.247-250".parse::<Cpf>().unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (Code::WrongLength, "a CPF has 11 digits, got 12")
    );
    let e = "12ABC34501DE3".parse::<Cnpj>().unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (Code::WrongLength, "a CNPJ has 14 characters, got 13")
    );
    let e = "52998224725".parse::<Cnpj>().unwrap_err();
    assert_eq!(e.code, Code::WrongLength);
    for s in [
        "1",
        "123456789012",
        "1234567890123",
        "123456789012345",
        "...",
        "-",
    ] {
        assert_eq!(
            s.parse::<TaxId>().unwrap_err().code,
            Code::WrongLength,
            "{s:?}"
        );
    }
}

#[test]
fn blank_is_required() {
    for s in ["", " ", "\t\r\n "] {
        assert_eq!(s.parse::<Cpf>().unwrap_err().code, Code::Required);
        assert_eq!(s.parse::<Cnpj>().unwrap_err().code, Code::Required);
        assert_eq!(s.parse::<TaxId>().unwrap_err().code, Code::Required);
    }
}

#[test]
fn letters_in_check_digits_are_invalid_format() {
    for s in [
        "12ABC34501DEAA",
        "12ABC34501DE3A",
        "12ABC34501DEa5",
        "12.ABC.345/01DE-A5",
        "12.ABC.345/01DE-3A",
    ] {
        let e = s.parse::<Cnpj>().unwrap_err();
        assert_eq!(e.code, Code::InvalidFormat, "{s:?}");
        assert!(e.message.contains("check digits"), "{}", e.message);
        assert_eq!(s.parse::<TaxId>().unwrap_err().code, Code::InvalidFormat);
    }
}

#[test]
fn every_repeated_cpf_is_repeated_digits() {
    for d in '0'..='9' {
        let s: String = std::iter::repeat_n(d, 11).collect();
        assert_invalid_cpf(&s, Code::RepeatedDigits);
    }
}

#[test]
fn repeated_cnpj_base_is_repeated_digits_even_with_right_check_digits() {
    for c in ['0', '1', '9', 'A', 'Z'] {
        let base: String = std::iter::repeat_n(c, 12).collect();
        let s = cnpj_with_dv(&base);
        assert_invalid_cnpj(&s, Code::RepeatedDigits);
        assert_eq!(
            s.to_ascii_lowercase().parse::<Cnpj>().unwrap_err().code,
            Code::RepeatedDigits
        );
    }
}

#[test]
fn letters_in_a_cpf_are_invalid_format() {
    let e = "529982247A5".parse::<Cpf>().unwrap_err();
    assert_eq!(e.code, Code::InvalidFormat);
    assert!(e.message.contains("'A' at position 10"), "{}", e.message);
    // TaxId: 11 significant characters make it a CPF, so the letter is reported.
    let e = "529982247a5".parse::<TaxId>().unwrap_err();
    assert_eq!(e.code, Code::InvalidFormat);
    assert!(e.message.contains("'a' at position 10"), "{}", e.message);
}

#[test]
fn unicode_and_other_characters_are_invalid_format_naming_char_and_position() {
    let cases = [
        ("529.982.247\u{2013}25", '\u{2013}', 12), // EN DASH
        ("529.982.247\u{2212}25", '\u{2212}', 12), // MINUS SIGN
        ("529\u{a0}982\u{a0}247-25", '\u{a0}', 4), // NO-BREAK SPACE
        ("529\u{2009}982.247-25", '\u{2009}', 4),  // THIN SPACE
        ("\u{665}29.982.247-25", '\u{665}', 1),    // ARABIC-INDIC DIGIT FIVE
        ("５29.982.247-25", '５', 1),              // FULLWIDTH DIGIT FIVE
        ("529.982.247_25", '_', 12),
        ("529,982,247-25", ',', 4),
        ("529.982.247\t25", '\t', 12),
        ("529.982.247\u{0}25", '\u{0}', 12),
        ("529.982.247\u{200b}25", '\u{200b}', 12), // ZERO WIDTH SPACE
    ];
    for (s, c, pos) in cases {
        for e in [
            s.parse::<Cpf>().unwrap_err(),
            s.parse::<TaxId>().unwrap_err(),
            s.parse::<Cnpj>().unwrap_err(),
        ] {
            assert_eq!(e.code, Code::InvalidFormat, "{s:?}");
            let shown = if c.is_ascii_graphic() {
                format!("'{c}' at position {pos}")
            } else {
                format!(
                    "'{}' (U+{:04X}) at position {pos}",
                    c.escape_debug(),
                    u32::from(c)
                )
            };
            assert!(
                e.message.contains(&shown),
                "{s:?}: {} lacks {shown}",
                e.message
            );
        }
    }
    let e = "12.ABC.345/01DE\u{2014}35".parse::<Cnpj>().unwrap_err();
    assert_eq!(e.code, Code::InvalidFormat);
    // Non-ASCII letters are not letters of a CNPJ.
    assert_eq!(
        "12.ÁBC.345/01DE-35".parse::<Cnpj>().unwrap_err().code,
        Code::InvalidFormat
    );
}

#[test]
fn messages_say_what_was_expected_and_found_without_the_value() {
    let e = "529.982.247-26".parse::<Cpf>().unwrap_err();
    assert_eq!(e.code, Code::InvalidCheckDigit);
    assert_eq!(e.message, "CPF check digits should be 25, got 26");
    let e = "12.ABC.345/01DE-34".parse::<Cnpj>().unwrap_err();
    assert_eq!(e.message, "CNPJ check digits should be 35, got 34");
    let e = "111.111.111-11".parse::<Cpf>().unwrap_err();
    assert_eq!(e.message, "a CPF cannot be one digit repeated 11 times");
    for s in [
        "529.982.247-26",
        "52998224726",
        "12.ABC.345/01DE-34",
        "12ABC34501DE34",
        "1111111111",
    ] {
        for m in [
            s.parse::<TaxId>().unwrap_err().message,
            s.parse::<Cpf>().unwrap_err().message,
            s.parse::<Cnpj>().unwrap_err().message,
        ] {
            assert!(
                !m.contains(s) && !m.contains(&unmasked(s)),
                "{m:?} echoes the value"
            );
        }
    }
}

#[test]
fn checks_run_in_the_documented_order() {
    // characters before length
    assert_eq!(
        "52998\u{2013}".parse::<Cpf>().unwrap_err().code,
        Code::InvalidFormat
    );
    // length before the DV-letter rule
    assert_eq!(
        "12ABC34501DEAAA".parse::<Cnpj>().unwrap_err().code,
        Code::WrongLength
    );
    // DV-letter rule before repeated
    assert_eq!(
        "AAAAAAAAAAAAAA".parse::<Cnpj>().unwrap_err().code,
        Code::InvalidFormat
    );
    // repeated before check digit
    assert_eq!(
        "22222222222".parse::<Cpf>().unwrap_err().code,
        Code::RepeatedDigits
    );
}

#[test]
fn taxid_kind_by_length() {
    let id: TaxId = "529.982.247-25".parse().unwrap();
    assert_eq!(id.kind(), TaxIdKind::Cpf);
    assert_eq!(id.as_cpf().map(Cpf::as_str), Some("52998224725"));
    assert!(id.as_cnpj().is_none());
    let id: TaxId = "12.ABC.345/01DE-35".parse().unwrap();
    assert_eq!(id.kind(), TaxIdKind::Cnpj);
    assert_eq!(id.as_str(), "12ABC34501DE35");
    assert_eq!(id.formatted(), "12.ABC.345/01DE-35");
    assert_eq!(TaxIdKind::Cnpj.to_string(), "CNPJ");
    assert_eq!(
        TaxId::try_from("52998224725").unwrap(),
        TaxId::from(Cpf::try_from("52998224725").unwrap())
    );
    assert_eq!(
        TaxId::try_from("12ABC34501DE35").unwrap(),
        TaxId::from(Cnpj::try_from("12abc34501de35").unwrap())
    );
}

#[test]
fn cnpj_parts() {
    let c: Cnpj = "12.ABC.345/01DE-35".parse().unwrap();
    assert_eq!(c.base(), "12ABC345");
    assert!(c.is_alphanumeric());
    let c: Cnpj = "34.665.388/0001-61".parse().unwrap();
    assert_eq!(c.base(), "34665388");
    assert!(!c.is_alphanumeric());
}

#[test]
fn display_formatted_and_debug() {
    let cpf: Cpf = "52998224725".parse().unwrap();
    assert_eq!(cpf.to_string(), "529.982.247-25");
    assert_eq!(cpf.formatted(), "529.982.247-25");
    assert_eq!(format!("[{cpf:>16}]"), "[  529.982.247-25]");
    assert_eq!(format!("{cpf:?}"), "Cpf(\"52998224725\")");
    let cnpj: Cnpj = "12abc34501de35".parse().unwrap();
    assert_eq!(cnpj.to_string(), "12.ABC.345/01DE-35");
    assert_eq!(cnpj.formatted(), "12.ABC.345/01DE-35");
    assert_eq!(format!("{cnpj:?}"), "Cnpj(\"12ABC34501DE35\")");
    let id = TaxId::from(cnpj);
    assert_eq!(id.to_string(), "12.ABC.345/01DE-35");
    assert_eq!(format!("{id:?}"), "Cnpj(Cnpj(\"12ABC34501DE35\"))");
}

#[test]
fn value_semantics() {
    use std::collections::HashSet;
    let a: Cpf = "529.982.247-25".parse().unwrap();
    let b = a; // Copy
    assert_eq!(a, b);
    let c: Cpf = "390.533.447-05".parse().unwrap();
    assert!(c < a, "ordered like the canonical string");
    let set: HashSet<TaxId> = [
        "52998224725",
        "529.982.247-25",
        "12ABC34501DE35",
        "12abc34501de35",
    ]
    .iter()
    .map(|s| s.parse().unwrap())
    .collect();
    assert_eq!(set.len(), 2);
}

#[test]
fn serde_round_trip_as_canonical_string() {
    let cpf: Cpf = "529.982.247-25".parse().unwrap();
    assert_eq!(serde_json::to_string(&cpf).unwrap(), "\"52998224725\"");
    assert_eq!(serde_json::from_str::<Cpf>("\"52998224725\"").unwrap(), cpf);
    assert_eq!(
        serde_json::from_str::<Cpf>("\"529.982.247-25\"").unwrap(),
        cpf
    );

    let cnpj: Cnpj = "12.abc.345/01de-35".parse().unwrap();
    assert_eq!(serde_json::to_string(&cnpj).unwrap(), "\"12ABC34501DE35\"");
    assert_eq!(
        serde_json::from_str::<Cnpj>("\"12ABC34501DE35\"").unwrap(),
        cnpj
    );

    let ids: Vec<TaxId> = vec![cpf.into(), cnpj.into()];
    let json = serde_json::to_string(&ids).unwrap();
    assert_eq!(json, r#"["52998224725","12ABC34501DE35"]"#);
    assert_eq!(serde_json::from_str::<Vec<TaxId>>(&json).unwrap(), ids);
    // From an owned string too (serde_json::Value holds owned strings).
    let v = serde_json::json!("12.ABC.345/01DE-35");
    assert_eq!(
        serde_json::from_value::<TaxId>(v).unwrap(),
        TaxId::Cnpj(cnpj)
    );
}

#[test]
fn serde_rejects_invalid_values_with_the_message() {
    let e = serde_json::from_str::<Cpf>("\"529.982.247-26\"").unwrap_err();
    assert!(
        e.to_string()
            .contains("CPF check digits should be 25, got 26"),
        "{e}"
    );
    let e = serde_json::from_str::<Cnpj>("\"00000000000000\"").unwrap_err();
    assert!(
        e.to_string().contains("cannot be one character repeated"),
        "{e}"
    );
    let e = serde_json::from_str::<TaxId>("\"123\"").unwrap_err();
    assert!(
        e.to_string()
            .contains("a CPF has 11 digits and a CNPJ 14 characters, got 3"),
        "{e}"
    );
    let e = serde_json::from_str::<TaxId>("52998224725").unwrap_err();
    assert!(e.to_string().contains("a CPF or CNPJ as a string"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// Disagreements with libraries (br-documents §4), one test each, named after the library.

#[test]
fn python_stdnum_accepts_repeated_digit_cpf_sig_rejects() {
    // stdnum's cpf.validate rejects only all zeros (`int(number) <= 0`).
    for s in ["111.111.111-11", "99999999999"] {
        assert_eq!(s.parse::<Cpf>().unwrap_err().code, Code::RepeatedDigits);
    }
}

#[test]
fn python_stdnum_accepts_repeated_cnpj_base_other_than_zeros_sig_rejects() {
    // stdnum rejects only the prefix `000000000000`; `11111111111180` passes its checksum.
    assert_eq!(
        "11111111111180".parse::<Cnpj>().unwrap_err().code,
        Code::RepeatedDigits
    );
    assert_eq!(
        "AAAAAAAAAAAA45".parse::<Cnpj>().unwrap_err().code,
        Code::RepeatedDigits
    );
}

#[test]
fn python_stdnum_maps_unicode_dashes_spaces_and_digits_sig_rejects() {
    // stdnum.util.clean maps EN DASH, NO-BREAK SPACE, FULLWIDTH DIGIT … to ASCII first.
    for s in [
        "529.982.247\u{2013}25",
        "529\u{a0}982\u{a0}247-25",
        "５２９.982.247-25",
    ] {
        assert_eq!(
            s.parse::<Cpf>().unwrap_err().code,
            Code::InvalidFormat,
            "{s:?}"
        );
    }
    // stdnum's own docstring example, with an EN DASH.
    assert_eq!(
        "12. ABC.345 /01DE\u{2013}35"
            .parse::<Cnpj>()
            .unwrap_err()
            .code,
        Code::InvalidFormat
    );
    assert!("12. ABC.345 /01DE-35".parse::<Cnpj>().is_ok());
}

#[test]
fn python_stdnum_rejects_slash_in_cpf_sig_accepts() {
    // stdnum's cpf.compact strips only ' -.'; SIG ignores every separator anywhere.
    assert_eq!(
        "529.982.247/25".parse::<Cpf>().unwrap().as_str(),
        "52998224725"
    );
}

#[test]
fn brutils_rejects_masked_and_lower_case_sig_accepts() {
    // brutils' is_valid requires unformatted upper-case input.
    assert!(Cnpj::is_valid("12.ABC.345/01DE-35"));
    assert!(Cnpj::is_valid("12abc34501de35"));
    assert!(Cpf::is_valid("529.982.247-25"));
}

#[test]
fn brazilian_utils_js_rejects_lower_case_and_reserves_only_fourteen_equal_digits() {
    // The JS library needs an upper-case raw string for the alphanumeric path, and its
    // RESERVED_NUMBERS are only 14 × one digit, so `11111111111180` passes there.
    assert!(Cnpj::is_valid("z46abc88000164"));
    assert_eq!(
        "11111111111180".parse::<Cnpj>().unwrap_err().code,
        Code::RepeatedDigits
    );
}

#[test]
fn validate_docbr_accepts_all_zero_cnpj_and_zero_pads_cpf_sig_rejects_both() {
    assert_eq!(
        "00000000000000".parse::<Cnpj>().unwrap_err().code,
        Code::RepeatedDigits
    );
    assert_eq!(
        "00.000.000/0000-00".parse::<TaxId>().unwrap_err().code,
        Code::RepeatedDigits
    );
    assert_eq!(
        "9380826044".parse::<Cpf>().unwrap_err().code,
        Code::WrongLength
    );
}

#[test]
fn rust_brazilian_utils_and_cnpj_crates_reject_alphanumeric_sig_accepts() {
    // brazilian_utils 0.1.0 requires is_ascii_digit; cnpj 0.2.2 predates IN RFB 2.229/2024.
    for s in ["12ABC34501DE35", "Z46ABC88000164"] {
        assert!(s.parse::<Cnpj>().unwrap().is_alphanumeric());
    }
}
