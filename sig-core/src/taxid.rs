//! Brazilian tax ids: the CPF (people), the CNPJ (companies, numeric and alphanumeric) and
//! [`TaxId`], either of the two.
//!
//! # Rules
//!
//! **Input.** Surrounding ASCII whitespace is trimmed ([`trim_ascii`]). The separators `.`,
//! `/`, `-` and the ASCII space are ignored *anywhere* (`529.982.247/25` is a CPF,
//! `16.727.230.0001-97` a CNPJ). CNPJ letters are folded to upper case. Every other
//! character — non-ASCII digits (`٥`, `５`), Unicode dashes (`–`) and spaces (U+00A0),
//! tabs inside the value, any other punctuation — is `invalid_format`, and the message names
//! the character (escaped when not printable) and its position.
//!
//! **CPF.** Exactly 11 ASCII digits (10 digits is `wrong_length`: nothing is zero-padded).
//! Check digits: DV1 with weights 10..=2 over the first 9 digits, DV2 with weights 11..=2
//! over the first 9 digits and DV1; for each, r = Σ mod 11 and DV = 0 if r < 2, else 11 − r.
//! The ten CPFs of one repeated digit (`111.111.111-11`, …) pass that arithmetic and are
//! rejected with `repeated_digits`.
//!
//! **CNPJ** (Instrução Normativa RFB nº 2.229/2024). 14 characters: 12 of `[0-9A-Z]` (the
//! root, 8, and the order, 4) followed by 2 ASCII check digits. Each of the first 12
//! characters is valued ASCII code − 48 (`'0'` = 0, `'A'` = 17, `'Z'` = 42); DV1 uses the
//! weights `[5,4,3,2,9,8,7,6,5,4,3,2]`, DV2 `[6,5,4,3,2,9,8,7,6,5,4,3,2]` over the 12 values
//! and DV1, with the same mod-11 rule. A base (first 12 characters) of one repeated
//! character is `repeated_digits`, so `00000000000000` is rejected although its check digits
//! pass.
//!
//! **Order of checks** (the first failing one is reported):
//! 1. blank after trimming → `required`;
//! 2. characters, left to right: the first one that is neither a separator nor an ASCII digit
//!    (nor, for a CNPJ, an ASCII letter) → `invalid_format` (a letter in a CPF is such a
//!    character);
//! 3. the number of significant characters → `wrong_length` ("a CPF has 11 digits, got 10");
//! 4. a CNPJ with a letter in a check-digit position → `invalid_format`;
//! 5. one repeated digit (CPF) or base character (CNPJ) → `repeated_digits`;
//! 6. the check digits → `invalid_check_digit` ("check digits should be 25, got 26").
//!
//! [`TaxId`] first counts the significant characters: 11 is a CPF, 14 a CNPJ, anything else
//! is `wrong_length`. Messages never contain the value itself (it is personal data): at most
//! one offending character, its position (1-based, in characters of the input as given), or
//! the expected and the given check digits.
//!
//! **Forms.** The canonical form is unmasked upper case (`52998224725`, `12ABC34501DE35`),
//! returned by `as_str()` and used by serde (`Serialize` writes it; `Deserialize` validates,
//! reporting the message). `Display` and `formatted()` show the mask (`529.982.247-25`,
//! `12.ABC.345/01DE-35`). The types are `Copy` (fixed byte arrays, no heap) and parsing
//! allocates nothing unless it fails: input that is already canonical or exactly masked
//! takes a fixed-length fast path, anything else one pass over the bytes
//! (`sig-core/benches/validate.rs` measures both).
//!
//! # Where other libraries decide differently
//!
//! - python-stdnum 2.2 accepts repeated-digit CPFs (it rejects only all zeros) and
//!   repeated-character CNPJ bases other than `000000000000`; it maps Unicode dashes, spaces,
//!   dots, slashes and fullwidth digits to ASCII before validating, its CNPJ pattern `\d`
//!   admits any Unicode decimal digit, Python's `strip()` also trims VT and FS–US, and
//!   `upper()` folds `ı` and `ſ` to `I` and `S`; its CPF does not ignore `/`. SIG rejects
//!   the repeated forms and every character outside ASCII letters, digits and the four
//!   separators, and ignores `/` anywhere.
//! - brutils and brazilian-utils (JS) reject lower-case letters in a CNPJ, brutils' `is_valid`
//!   also rejects masked input; SIG folds the case and strips the mask.
//! - validate-docbr accepts `00000000000000` and zero-pads a 10-digit CPF; SIG rejects both.
//!
//! The tests in `sig-core/tests/taxid_vectors.rs` name each of these disagreements, and
//! `tests/tests/differential_stdnum.rs` compares this module with python-stdnum in bulk.

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::problem::{Code, Invalid, trim_ascii};

const CPF_LEN: usize = 11;
const CNPJ_LEN: usize = 14;
/// Characters of a CNPJ covered by the repeated-character rule and the check digits.
const CNPJ_BASE_LEN: usize = 12;

const CNPJ_W1: [u32; 12] = [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2];
const CNPJ_W2: [u32; 13] = [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2];

// Byte classes (bit flags) for the scanner.
const OTHER: u8 = 0;
const DIGIT: u8 = 1;
const UPPER: u8 = 2;
const LOWER: u8 = 4;
const SEPARATOR: u8 = 8;

/// The class of every byte; anything from 0x80 up (a non-ASCII character) is `OTHER`.
static CLASS: [u8; 256] = {
    let mut t = [OTHER; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = if b.is_ascii_digit() {
            DIGIT
        } else if b.is_ascii_uppercase() {
            UPPER
        } else if b.is_ascii_lowercase() {
            LOWER
        } else if matches!(b, b'.' | b'/' | b'-' | b' ') {
            SEPARATOR
        } else {
            OTHER
        };
        i += 1;
    }
    t
};

// ---------------------------------------------------------------------------------------------
// Parsing core: allocation-free, reports a compact `Fault` that becomes a message only on the
// error path.

/// Why a value was rejected; byte indexes refer to the input as given (before trimming).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Required,
    /// A character that is not accepted, at this byte index.
    Char(usize),
    /// This many significant characters.
    Length(usize),
    /// A letter in a CNPJ check-digit position, at this byte index.
    LetterInCheckDigits(usize),
    Repeated,
    CheckDigits {
        expected: [u8; 2],
        found: [u8; 2],
    },
}

/// What the caller asked for; chooses the wording of the messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wanted {
    Cpf,
    Cnpj,
    Either,
}

/// The significant characters of an input, at most `N` kept, all counted.
struct Scan<const N: usize> {
    buf: [u8; N],
    count: usize,
    /// Byte index of the first letter, if any.
    first_letter: Option<usize>,
    /// Byte index of the first letter among significant characters 13 and 14.
    letter_in_dv: Option<usize>,
}

/// Fast path: `bytes` is exactly `N` characters of the `allowed` classes (no separators,
/// no whitespace), copied as they are. Branch-free over a fixed length.
#[inline(always)]
fn canonical<const N: usize>(bytes: &[u8], allowed: u8) -> Option<[u8; N]> {
    let arr: &[u8; N] = bytes.try_into().ok()?;
    let mut ok = true;
    for &b in arr {
        ok &= CLASS[b as usize] & allowed != 0;
    }
    ok.then_some(*arr)
}

/// The general path, one pass over `input`: trim, skip separators, keep digits (and, when
/// `letters`, ASCII letters folded to upper case), stop at the first other character.
#[inline(always)]
fn scan<const N: usize>(input: &str, letters: bool) -> Result<Scan<N>, Fault> {
    let trimmed = trim_ascii(input);
    if trimmed.is_empty() {
        return Err(Fault::Required);
    }
    // Trimming removes ASCII bytes only, so this is the byte offset of `trimmed` in `input`.
    let offset = trimmed.as_ptr() as usize - input.as_ptr() as usize;
    let mut buf = [0u8; N];
    let mut count = 0usize;
    let mut first_letter = None;
    let mut letter_in_dv = None;
    for (i, &b) in trimmed.as_bytes().iter().enumerate() {
        match CLASS[b as usize] {
            DIGIT => {
                if let Some(slot) = buf.get_mut(count) {
                    *slot = b;
                }
                count += 1;
            }
            UPPER | LOWER if letters => {
                if let Some(slot) = buf.get_mut(count) {
                    *slot = b.to_ascii_uppercase();
                }
                if first_letter.is_none() {
                    first_letter = Some(offset + i);
                }
                if (count == CNPJ_BASE_LEN || count == CNPJ_BASE_LEN + 1) && letter_in_dv.is_none()
                {
                    letter_in_dv = Some(offset + i);
                }
                count += 1;
            }
            SEPARATOR => {}
            _ => return Err(Fault::Char(offset + i)),
        }
    }
    Ok(Scan {
        buf,
        count,
        first_letter,
        letter_in_dv,
    })
}

/// DV = 0 if r < 2, else 11 − r, with r = sum mod 11.
#[inline(always)]
fn mod11(sum: u32) -> u32 {
    let r = sum % 11;
    if r < 2 { 0 } else { 11 - r }
}

/// The two check digits (ASCII) of the first 9 digits of a CPF.
#[inline(always)]
fn cpf_check_digits(d: &[u8; CPF_LEN]) -> [u8; 2] {
    let mut s1 = 0u32;
    let mut s2 = 0u32;
    for (i, &c) in d[..9].iter().enumerate() {
        let v = u32::from(c.wrapping_sub(b'0'));
        s1 += v * (10 - i as u32);
        s2 += v * (11 - i as u32);
    }
    let dv1 = mod11(s1);
    let dv2 = mod11(s2 + 2 * dv1);
    [b'0' + dv1 as u8, b'0' + dv2 as u8]
}

/// The two check digits (ASCII) of the first 12 characters of a CNPJ (value = ASCII − 48).
#[inline(always)]
fn cnpj_check_digits(d: &[u8; CNPJ_LEN]) -> [u8; 2] {
    let mut s1 = 0u32;
    let mut s2 = 0u32;
    for i in 0..CNPJ_BASE_LEN {
        let v = u32::from(d[i].wrapping_sub(b'0'));
        s1 += v * CNPJ_W1[i];
        s2 += v * CNPJ_W2[i];
    }
    let dv1 = mod11(s1);
    let dv2 = mod11(s2 + CNPJ_W2[CNPJ_BASE_LEN] * dv1);
    [b'0' + dv1 as u8, b'0' + dv2 as u8]
}

/// Steps 5 and 6 for 11 digits.
#[inline(always)]
fn finish_cpf(d: [u8; CPF_LEN]) -> Result<Cpf, Fault> {
    if d.iter().all(|&c| c == d[0]) {
        return Err(Fault::Repeated);
    }
    let expected = cpf_check_digits(&d);
    let found = [d[9], d[10]];
    if expected != found {
        return Err(Fault::CheckDigits { expected, found });
    }
    Ok(Cpf(d))
}

/// Steps 5 and 6 for 12 characters of `[0-9A-Z]` followed by 2 digits.
#[inline(always)]
fn finish_cnpj(d: [u8; CNPJ_LEN]) -> Result<Cnpj, Fault> {
    if d[..CNPJ_BASE_LEN].iter().all(|&c| c == d[0]) {
        return Err(Fault::Repeated);
    }
    let expected = cnpj_check_digits(&d);
    let found = [d[12], d[13]];
    if expected != found {
        return Err(Fault::CheckDigits { expected, found });
    }
    Ok(Cnpj(d))
}

/// Step 4, then [`finish_cnpj`].
fn finish_cnpj_scan(scan: &Scan<CNPJ_LEN>) -> Result<Cnpj, Fault> {
    match scan.letter_in_dv {
        Some(at) => Err(Fault::LetterInCheckDigits(at)),
        None => finish_cnpj(scan.buf),
    }
}

/// The fast path of a CNPJ: canonical, check digits included.
#[inline(always)]
fn canonical_cnpj(bytes: &[u8]) -> Option<[u8; CNPJ_LEN]> {
    canonical::<CNPJ_LEN>(bytes, DIGIT | UPPER)
        .filter(|d| d[12].is_ascii_digit() && d[13].is_ascii_digit())
}

/// The fast path of a masked CPF, exactly `000.000.000-00`.
#[inline(always)]
fn masked_cpf(bytes: &[u8]) -> Option<[u8; CPF_LEN]> {
    let a: &[u8; 14] = bytes.try_into().ok()?;
    if a[3] != b'.' || a[7] != b'.' || a[11] != b'-' {
        return None;
    }
    let d = [
        a[0], a[1], a[2], a[4], a[5], a[6], a[8], a[9], a[10], a[12], a[13],
    ];
    canonical::<CPF_LEN>(&d, DIGIT)
}

/// The fast path of a masked upper-case CNPJ, exactly `AA.AAA.AAA/AAAA-00`.
#[inline(always)]
fn masked_cnpj(bytes: &[u8]) -> Option<[u8; CNPJ_LEN]> {
    let a: &[u8; 18] = bytes.try_into().ok()?;
    if a[2] != b'.' || a[6] != b'.' || a[10] != b'/' || a[15] != b'-' {
        return None;
    }
    let d = [
        a[0], a[1], a[3], a[4], a[5], a[7], a[8], a[9], a[11], a[12], a[13], a[14], a[16], a[17],
    ];
    canonical_cnpj(&d)
}

fn parse_cpf(input: &str) -> Result<Cpf, Fault> {
    let bytes = input.as_bytes();
    if let Some(d) = canonical::<CPF_LEN>(bytes, DIGIT).or_else(|| masked_cpf(bytes)) {
        return finish_cpf(d);
    }
    let scan = scan::<CPF_LEN>(input, false)?;
    if scan.count != CPF_LEN {
        return Err(Fault::Length(scan.count));
    }
    finish_cpf(scan.buf)
}

fn parse_cnpj(input: &str) -> Result<Cnpj, Fault> {
    let bytes = input.as_bytes();
    if let Some(d) = canonical_cnpj(bytes).or_else(|| masked_cnpj(bytes)) {
        return finish_cnpj(d);
    }
    let scan = scan::<CNPJ_LEN>(input, true)?;
    if scan.count != CNPJ_LEN {
        return Err(Fault::Length(scan.count));
    }
    finish_cnpj_scan(&scan)
}

/// Returns the fault and the wording to use for it.
fn parse_tax_id(input: &str) -> Result<TaxId, (Fault, Wanted)> {
    // Fast paths, each rejected at once by the length of the input.
    let bytes = input.as_bytes();
    if let Some(d) = canonical::<CPF_LEN>(bytes, DIGIT).or_else(|| masked_cpf(bytes)) {
        return finish_cpf(d).map(TaxId::Cpf).map_err(|f| (f, Wanted::Cpf));
    }
    if let Some(d) = canonical_cnpj(bytes).or_else(|| masked_cnpj(bytes)) {
        return finish_cnpj(d)
            .map(TaxId::Cnpj)
            .map_err(|f| (f, Wanted::Cnpj));
    }
    let scan = scan::<CNPJ_LEN>(input, true).map_err(|f| (f, Wanted::Either))?;
    match scan.count {
        CPF_LEN => {
            if let Some(at) = scan.first_letter {
                return Err((Fault::Char(at), Wanted::Cpf));
            }
            let mut d = [0u8; CPF_LEN];
            d.copy_from_slice(&scan.buf[..CPF_LEN]);
            finish_cpf(d).map(TaxId::Cpf).map_err(|f| (f, Wanted::Cpf))
        }
        CNPJ_LEN => finish_cnpj_scan(&scan)
            .map(TaxId::Cnpj)
            .map_err(|f| (f, Wanted::Cnpj)),
        n => Err((Fault::Length(n), Wanted::Either)),
    }
}

/// The character at byte index `at` of `input`, and its 1-based position in characters.
fn char_at(input: &str, at: usize) -> Option<(char, usize)> {
    let c = input.get(at..)?.chars().next()?;
    let position = input.get(..at)?.chars().count() + 1;
    Some((c, position))
}

/// `'x'`, or `'–' (U+2013)` / `'\t' (U+0009)` for what is not printable ASCII.
fn show_char(c: char) -> String {
    if c.is_ascii_graphic() {
        format!("'{c}'")
    } else {
        format!("'{}' (U+{:04X})", c.escape_debug(), u32::from(c))
    }
}

/// Turn a fault into the shared error type; `input` is only used to name one character.
#[cold]
#[inline(never)]
fn describe(fault: Fault, wanted: Wanted, input: &str) -> Invalid {
    let (name, allowed) = match wanted {
        Wanted::Cpf => ("a CPF", "ASCII digits"),
        Wanted::Cnpj => ("a CNPJ", "ASCII letters and digits"),
        Wanted::Either => ("a CPF or CNPJ", "ASCII letters and digits"),
    };
    match fault {
        Fault::Required => Invalid::new(
            Code::Required,
            format!("{name} is required, got a blank value"),
        ),
        Fault::Char(at) => {
            let found = match char_at(input, at) {
                Some((c, pos)) => format!("{} at position {pos}", show_char(c)),
                None => "an unexpected character".to_owned(),
            };
            Invalid::new(
                Code::InvalidFormat,
                format!(
                    "{name} has only {allowed} (the separators . / - and space are ignored), \
                     found {found}"
                ),
            )
        }
        Fault::Length(n) => {
            let message = match wanted {
                Wanted::Cpf => format!("a CPF has 11 digits, got {n}"),
                Wanted::Cnpj => format!("a CNPJ has 14 characters, got {n}"),
                Wanted::Either => {
                    format!("a CPF has 11 digits and a CNPJ 14 characters, got {n}")
                }
            };
            Invalid::new(Code::WrongLength, message)
        }
        Fault::LetterInCheckDigits(at) => {
            let found = match char_at(input, at) {
                Some((c, pos)) => format!("{} at position {pos}", show_char(c)),
                None => "a letter".to_owned(),
            };
            Invalid::new(
                Code::InvalidFormat,
                format!(
                    "the check digits of a CNPJ (its last two characters) are digits, found {found}"
                ),
            )
        }
        Fault::Repeated => {
            let message = match wanted {
                Wanted::Cpf => "a CPF cannot be one digit repeated 11 times",
                _ => {
                    "the base of a CNPJ (its first 12 characters) cannot be one character repeated"
                }
            };
            Invalid::new(Code::RepeatedDigits, message)
        }
        Fault::CheckDigits { expected, found } => {
            let kind = if wanted == Wanted::Cpf { "CPF" } else { "CNPJ" };
            Invalid::new(
                Code::InvalidCheckDigit,
                format!(
                    "{kind} check digits should be {}{}, got {}{}",
                    char::from(expected[0]),
                    char::from(expected[1]),
                    char::from(found[0]),
                    char::from(found[1]),
                ),
            )
        }
    }
}

/// `bytes` as text. Callers pass the bytes of a [`Cpf`] or [`Cnpj`], which hold ASCII digits
/// and upper-case letters only (the parser is their one constructor), so this never fails.
fn ascii(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).expect("tax id bytes are ASCII by construction")
}

// ---------------------------------------------------------------------------------------------
// Cpf

/// A valid CPF (Cadastro de Pessoas Físicas): 11 ASCII digits with correct check digits, not
/// one repeated digit. Canonical form `52998224725`; `Display` shows `529.982.247-25`.
///
/// See the [module documentation](self) for the accepted input and the order of checks.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cpf([u8; CPF_LEN]);

impl Cpf {
    /// The canonical form: the 11 digits, unmasked (`52998224725`).
    pub fn as_str(&self) -> &str {
        ascii(&self.0)
    }

    /// The masked form `529.982.247-25`.
    pub fn formatted(&self) -> String {
        ascii(&self.mask()).to_owned()
    }

    /// Whether `input` is a valid CPF under the rules of [`FromStr`]; builds no message.
    pub fn is_valid(input: &str) -> bool {
        parse_cpf(input).is_ok()
    }

    fn mask(&self) -> [u8; 14] {
        let d = &self.0;
        [
            d[0], d[1], d[2], b'.', d[3], d[4], d[5], b'.', d[6], d[7], d[8], b'-', d[9], d[10],
        ]
    }
}

impl FromStr for Cpf {
    type Err = Invalid;
    /// Parse and validate; see the [module documentation](self) for the rules.
    fn from_str(s: &str) -> Result<Self, Invalid> {
        parse_cpf(s).map_err(|f| describe(f, Wanted::Cpf, s))
    }
}

impl TryFrom<&str> for Cpf {
    type Error = Invalid;
    fn try_from(s: &str) -> Result<Self, Invalid> {
        s.parse()
    }
}

impl fmt::Debug for Cpf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cpf({:?})", self.as_str())
    }
}

impl fmt::Display for Cpf {
    /// The mask, `529.982.247-25` (honours width and alignment).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(ascii(&self.mask()))
    }
}

// ---------------------------------------------------------------------------------------------
// Cnpj

/// A valid CNPJ (Cadastro Nacional da Pessoa Jurídica), numeric or alphanumeric: 12
/// characters of `[0-9A-Z]` and 2 check digits, the base not one repeated character.
/// Canonical form `12ABC34501DE35`; `Display` shows `12.ABC.345/01DE-35`.
///
/// See the [module documentation](self) for the accepted input and the order of checks.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cnpj([u8; CNPJ_LEN]);

impl Cnpj {
    /// The canonical form: 14 characters, unmasked, upper case (`12ABC34501DE35`).
    pub fn as_str(&self) -> &str {
        ascii(&self.0)
    }

    /// The masked form `12.ABC.345/01DE-35`.
    pub fn formatted(&self) -> String {
        ascii(&self.mask()).to_owned()
    }

    /// The root (raiz): the first 8 characters, which identify the company (`12ABC345`).
    pub fn base(&self) -> &str {
        ascii(&self.0[..8])
    }

    /// Whether the CNPJ has letters (the format issued from July 2026).
    pub fn is_alphanumeric(&self) -> bool {
        self.0[..CNPJ_BASE_LEN].iter().any(u8::is_ascii_uppercase)
    }

    /// Whether `input` is a valid CNPJ under the rules of [`FromStr`]; builds no message.
    pub fn is_valid(input: &str) -> bool {
        parse_cnpj(input).is_ok()
    }

    fn mask(&self) -> [u8; 18] {
        let d = &self.0;
        [
            d[0], d[1], b'.', d[2], d[3], d[4], b'.', d[5], d[6], d[7], b'/', d[8], d[9], d[10],
            d[11], b'-', d[12], d[13],
        ]
    }
}

impl FromStr for Cnpj {
    type Err = Invalid;
    /// Parse and validate; see the [module documentation](self) for the rules.
    fn from_str(s: &str) -> Result<Self, Invalid> {
        parse_cnpj(s).map_err(|f| describe(f, Wanted::Cnpj, s))
    }
}

impl TryFrom<&str> for Cnpj {
    type Error = Invalid;
    fn try_from(s: &str) -> Result<Self, Invalid> {
        s.parse()
    }
}

impl fmt::Debug for Cnpj {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cnpj({:?})", self.as_str())
    }
}

impl fmt::Display for Cnpj {
    /// The mask, `12.ABC.345/01DE-35` (honours width and alignment).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(ascii(&self.mask()))
    }
}

// ---------------------------------------------------------------------------------------------
// TaxId

/// Which kind of tax id a [`TaxId`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TaxIdKind {
    /// A person's CPF (11 digits).
    Cpf,
    /// A company's CNPJ (14 characters).
    Cnpj,
}

impl TaxIdKind {
    /// `CPF` or `CNPJ`.
    pub fn as_str(self) -> &'static str {
        match self {
            TaxIdKind::Cpf => "CPF",
            TaxIdKind::Cnpj => "CNPJ",
        }
    }
}

impl fmt::Display for TaxIdKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A CPF or a CNPJ, chosen by the number of significant characters of the input (11 → CPF,
/// 14 → CNPJ, anything else `wrong_length`). Canonical form and mask as for [`Cpf`] and
/// [`Cnpj`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TaxId {
    /// A person's CPF.
    Cpf(Cpf),
    /// A company's CNPJ.
    Cnpj(Cnpj),
}

impl TaxId {
    /// Whether this is a CPF or a CNPJ.
    pub fn kind(&self) -> TaxIdKind {
        match self {
            TaxId::Cpf(_) => TaxIdKind::Cpf,
            TaxId::Cnpj(_) => TaxIdKind::Cnpj,
        }
    }

    /// The canonical form (`52998224725`, `12ABC34501DE35`).
    pub fn as_str(&self) -> &str {
        match self {
            TaxId::Cpf(c) => c.as_str(),
            TaxId::Cnpj(c) => c.as_str(),
        }
    }

    /// The masked form (`529.982.247-25`, `12.ABC.345/01DE-35`).
    pub fn formatted(&self) -> String {
        match self {
            TaxId::Cpf(c) => c.formatted(),
            TaxId::Cnpj(c) => c.formatted(),
        }
    }

    /// The CPF, if this is one.
    pub fn as_cpf(&self) -> Option<&Cpf> {
        match self {
            TaxId::Cpf(c) => Some(c),
            TaxId::Cnpj(_) => None,
        }
    }

    /// The CNPJ, if this is one.
    pub fn as_cnpj(&self) -> Option<&Cnpj> {
        match self {
            TaxId::Cnpj(c) => Some(c),
            TaxId::Cpf(_) => None,
        }
    }

    /// Whether `input` is a valid CPF or CNPJ under the rules of [`FromStr`]; builds no
    /// message.
    pub fn is_valid(input: &str) -> bool {
        parse_tax_id(input).is_ok()
    }
}

impl From<Cpf> for TaxId {
    fn from(c: Cpf) -> Self {
        TaxId::Cpf(c)
    }
}

impl From<Cnpj> for TaxId {
    fn from(c: Cnpj) -> Self {
        TaxId::Cnpj(c)
    }
}

impl FromStr for TaxId {
    type Err = Invalid;
    /// Parse and validate as a CPF (11 significant characters) or a CNPJ (14).
    fn from_str(s: &str) -> Result<Self, Invalid> {
        parse_tax_id(s).map_err(|(f, wanted)| describe(f, wanted, s))
    }
}

impl TryFrom<&str> for TaxId {
    type Error = Invalid;
    fn try_from(s: &str) -> Result<Self, Invalid> {
        s.parse()
    }
}

impl fmt::Display for TaxId {
    /// The mask of the CPF or CNPJ.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaxId::Cpf(c) => fmt::Display::fmt(c, f),
            TaxId::Cnpj(c) => fmt::Display::fmt(c, f),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// serde: the canonical string out, validation in.

/// What a deserializer expects, for its error messages.
trait Expecting {
    const EXPECTING: &'static str;
}

impl Expecting for Cpf {
    const EXPECTING: &'static str = "a CPF as a string";
}

impl Expecting for Cnpj {
    const EXPECTING: &'static str = "a CNPJ as a string";
}

impl Expecting for TaxId {
    const EXPECTING: &'static str = "a CPF or CNPJ as a string";
}

/// Deserializes any string through `FromStr`, borrowing when it can (no allocation).
struct ParseVisitor<T>(PhantomData<T>);

impl<T: FromStr<Err = Invalid> + Expecting> Visitor<'_> for ParseVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::EXPECTING)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        v.parse().map_err(|e: Invalid| E::custom(e.message))
    }
}

macro_rules! serde_as_canonical_string {
    ($($t:ty),+) => {$(
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_str(ParseVisitor::<$t>(PhantomData))
            }
        }
    )+};
}

serde_as_canonical_string!(Cpf, Cnpj, TaxId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_examples_of_the_reference() {
        assert_eq!(cpf_check_digits(b"52998224725"), *b"25");
        assert_eq!(cnpj_check_digits(b"34665388000161"), *b"61");
        assert_eq!(cnpj_check_digits(b"12ABC34501DE35"), *b"35");
    }

    #[test]
    fn fast_path_and_general_path_agree() {
        let samples = [
            "52998224725",
            "52998224726",
            "11111111111",
            "12ABC34501DE35",
            "12ABC34501DE36",
            "12ABC34501DEAA",
            "34665388000161",
            "00000000000000",
            "AAAAAAAAAAAA45",
            "529.982.247-25",
            "529.982.247-26",
            "111.111.111-11",
            "529.98A.247-25",
            "12.ABC.345/01DE-35",
            "12.ABC.345/01DE-36",
            "12.ABC.345/01DE-AA",
            "00.000.000/0000-00",
        ];
        for s in samples {
            // A leading space forces the general path.
            let padded = format!(" {s}");
            let fast = s.parse::<TaxId>().map_err(|e| e.code);
            let general = padded.parse::<TaxId>().map_err(|e| e.code);
            assert_eq!(fast, general, "{s}");
            let fast = s.parse::<Cnpj>().map_err(|e| e.code);
            let general = padded.parse::<Cnpj>().map_err(|e| e.code);
            assert_eq!(fast, general, "{s}");
            let fast = s.parse::<Cpf>().map_err(|e| e.code);
            let general = padded.parse::<Cpf>().map_err(|e| e.code);
            assert_eq!(fast, general, "{s}");
        }
        // A letter in the DV through the fast path reports the right position.
        let e = "12ABC34501DEAA".parse::<Cnpj>().unwrap_err();
        assert!(e.message.contains("'A' at position 13"), "{}", e.message);
    }

    #[test]
    fn positions_count_characters_of_the_input_as_given() {
        let e = "  529.982\u{2013}247-25".parse::<Cpf>().unwrap_err();
        assert_eq!(e.code, Code::InvalidFormat);
        assert!(
            e.message.contains("(U+2013) at position 10"),
            "{}",
            e.message
        );
        let e = "5é٥".parse::<Cpf>().unwrap_err();
        assert!(
            e.message.contains("'é' (U+00E9) at position 2"),
            "{}",
            e.message
        );
    }
}
