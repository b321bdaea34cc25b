//! Contact values: e-mail addresses, Brazilian telephone numbers and their area codes (DDD).
//!
//! Rules (decided here, tested below):
//! - [`AreaCode`]: one of the 67 DDD codes in use in Brazil (Anatel's numbering plan).
//! - [`Phone`]: separators (space, `-`, `.`, `(`, `)`) are ignored; an optional country prefix
//!   `+55`/`55` and an optional trunk `0` before the DDD are dropped; what is left is the DDD
//!   followed by an 8-digit landline (first digit 2–5) or a 9-digit mobile (first digit 9).
//!   The canonical form is E.164 (`+5511987654321`); `Display` shows `(11) 98765-4321`.
//! - [`Email`]: a pragmatic, ASCII-only address: `local@domain`, at most 254 characters, a local
//!   part of at most 64 characters from RFC 5322's atext with single inner dots, a domain of at
//!   least two labels (letters, digits, inner hyphens; at most 63 characters each) ending in an
//!   alphabetic TLD. The domain is folded to lower case; the local part is kept as written.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::problem::{Code, Invalid, trim_ascii};

/// The 67 Brazilian area codes (DDD) in use, ascending.
pub const AREA_CODES: [u8; 67] = [
    11, 12, 13, 14, 15, 16, 17, 18, 19, // SP
    21, 22, 24, // RJ
    27, 28, // ES
    31, 32, 33, 34, 35, 37, 38, // MG
    41, 42, 43, 44, 45, 46, // PR
    47, 48, 49, // SC
    51, 53, 54, 55, // RS
    61, // DF
    62, 64, // GO
    63, // TO
    65, 66, // MT
    67, // MS
    68, // AC
    69, // RO
    71, 73, 74, 75, 77, // BA
    79, // SE
    81, 87, // PE
    82, // AL
    83, // PB
    84, // RN
    85, 88, // CE
    86, 89, // PI
    91, 93, 94, // PA
    92, 97, // AM
    95, // RR
    96, // AP
    98, 99, // MA
];

const fn area_code_table() -> [bool; 100] {
    let mut t = [false; 100];
    let mut i = 0;
    while i < AREA_CODES.len() {
        t[AREA_CODES[i] as usize] = true;
        i += 1;
    }
    t
}
const IS_AREA_CODE: [bool; 100] = area_code_table();

/// A Brazilian telephone area code (DDD) that is in use.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AreaCode(u8);

impl AreaCode {
    /// The area code for a number, if it is one of the 67 in use.
    pub fn new(code: u8) -> Result<Self, Invalid> {
        if (code as usize) < IS_AREA_CODE.len() && IS_AREA_CODE[code as usize] {
            Ok(AreaCode(code))
        } else {
            Err(Invalid::new(
                Code::UnknownAreaCode,
                format!("{code} is not a Brazilian area code (DDD) in use"),
            ))
        }
    }

    /// The two-digit number.
    pub fn get(self) -> u8 {
        self.0
    }

    /// Every area code in use.
    pub fn all() -> impl Iterator<Item = AreaCode> {
        AREA_CODES.iter().map(|&c| AreaCode(c))
    }
}

impl fmt::Debug for AreaCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AreaCode({})", self.0)
    }
}

impl fmt::Display for AreaCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}", self.0)
    }
}

impl FromStr for AreaCode {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        let t = trim_ascii(s);
        let t = t
            .strip_prefix('(')
            .and_then(|x| x.strip_suffix(')'))
            .unwrap_or(t);
        let t = t.strip_prefix('0').filter(|x| x.len() == 2).unwrap_or(t);
        if t.is_empty() {
            return Err(Invalid::required());
        }
        if t.len() != 2 || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Invalid::new(
                Code::InvalidFormat,
                "an area code (DDD) is two digits, such as 11 or 21",
            ));
        }
        AreaCode::new(t.parse().expect("two ASCII digits"))
    }
}

impl TryFrom<u8> for AreaCode {
    type Error = Invalid;
    fn try_from(v: u8) -> Result<Self, Invalid> {
        AreaCode::new(v)
    }
}

impl TryFrom<&str> for AreaCode {
    type Error = Invalid;
    fn try_from(s: &str) -> Result<Self, Invalid> {
        s.parse()
    }
}

impl Serialize for AreaCode {
    /// The number (`11`): the canonical form, as configuration and journals write it.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(self.0)
    }
}

impl<'de> Deserialize<'de> for AreaCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum NumOrStr {
            Num(u64),
            Str(String),
        }
        match NumOrStr::deserialize(d)? {
            NumOrStr::Num(n) => u8::try_from(n)
                .map_err(|_| {
                    Invalid::new(Code::UnknownAreaCode, format!("{n} is not an area code"))
                })
                .and_then(AreaCode::new),
            NumOrStr::Str(s) => s.parse(),
        }
        .map_err(serde::de::Error::custom)
    }
}

/// Whether a phone is a landline or a mobile number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhoneKind {
    /// 8-digit subscriber number starting with 2–5.
    Landline,
    /// 9-digit subscriber number starting with 9.
    Mobile,
}

/// A Brazilian telephone number: an area code in use plus a landline or mobile number.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Phone {
    area: AreaCode,
    /// Subscriber number; 8 or 9 significant digits.
    number: u32,
    mobile: bool,
}

impl Phone {
    /// The area code.
    pub fn area_code(&self) -> AreaCode {
        self.area
    }

    /// Landline or mobile.
    pub fn kind(&self) -> PhoneKind {
        if self.mobile {
            PhoneKind::Mobile
        } else {
            PhoneKind::Landline
        }
    }

    /// The subscriber number without the area code (8 or 9 digits).
    pub fn subscriber(&self) -> String {
        if self.mobile {
            format!("{:09}", self.number)
        } else {
            format!("{:08}", self.number)
        }
    }

    /// National form: area code followed by the subscriber number (`11987654321`).
    pub fn national(&self) -> String {
        format!("{}{}", self.area, self.subscriber())
    }

    /// E.164 form (`+5511987654321`), the canonical serialization.
    pub fn e164(&self) -> String {
        format!("+55{}", self.national())
    }
}

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Phone({})", self.e164())
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sub = self.subscriber();
        let split = sub.len() - 4;
        write!(f, "({}) {}-{}", self.area, &sub[..split], &sub[split..])
    }
}

impl FromStr for Phone {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        let t = trim_ascii(s);
        if t.is_empty() {
            return Err(Invalid::required());
        }
        // The digits, on the stack: any number SIG accepts has at most 14 (`+55 0` and an
        // 11-digit national number); past 16 only their count matters.
        let mut buf = [0u8; 16];
        let mut count = 0usize;
        // Byte by byte: every byte before the first unexpected one is ASCII, so a byte's
        // index is its character's position there.
        for (i, &b) in t.as_bytes().iter().enumerate() {
            match b {
                b'0'..=b'9' => {
                    if let Some(slot) = buf.get_mut(count) {
                        *slot = b;
                    }
                    count += 1;
                }
                b' ' | b'-' | b'.' | b'(' | b')' => {}
                b'+' if i == 0 => {}
                _ => {
                    let c = t[i..].chars().next().unwrap_or(char::REPLACEMENT_CHARACTER);
                    return Err(Invalid::new(
                        Code::InvalidFormat,
                        format!(
                            "unexpected character {:?} at position {}; a phone has digits and the separators ( ) - . and spaces",
                            c,
                            i + 1
                        ),
                    ));
                }
            }
        }
        let had_plus = t.starts_with('+');
        // `d` is the digits from `start` on, `len` of them (only the first 16 are kept).
        let starts_with = |start: usize, prefix: &[u8]| {
            buf.get(start..start + prefix.len()) == Some(prefix) && count >= start + prefix.len()
        };
        let mut start = 0;
        if had_plus {
            if !starts_with(0, b"55") {
                return Err(Invalid::new(
                    Code::InvalidFormat,
                    "only Brazilian numbers (+55) are accepted",
                ));
            }
            start = 2;
        } else if (count == 12 || count == 13) && starts_with(0, b"55") {
            start = 2;
        }
        let len = count - start;
        if (len == 11 || len == 12) && starts_with(start, b"0") {
            start += 1;
        }
        let len = count - start;
        if len != 10 && len != 11 {
            return Err(Invalid::new(
                Code::WrongLength,
                format!(
                    "a phone has a 2-digit area code and an 8-digit landline or 9-digit mobile number, got {len} digits"
                ),
            ));
        }
        // 10 or 11 digits from `start`, all kept (`start` + `len` ≤ 14).
        let d = &buf[start..start + len];
        let number = |digits: &[u8]| {
            digits
                .iter()
                .fold(0u32, |n, b| n * 10 + u32::from(b - b'0'))
        };
        let area = AreaCode::new(number(&d[..2]) as u8)?;
        let sub = &d[2..];
        let first = sub[0];
        let mobile = sub.len() == 9;
        if mobile && first != b'9' {
            return Err(Invalid::new(
                Code::InvalidFormat,
                "a 9-digit mobile number starts with 9",
            ));
        }
        if !mobile && !(b'2'..=b'5').contains(&first) {
            return Err(Invalid::new(
                Code::InvalidFormat,
                "an 8-digit landline number starts with 2, 3, 4 or 5",
            ));
        }
        Ok(Phone {
            area,
            number: number(sub),
            mobile,
        })
    }
}

impl TryFrom<&str> for Phone {
    type Error = Invalid;
    fn try_from(s: &str) -> Result<Self, Invalid> {
        s.parse()
    }
}

impl Serialize for Phone {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.e164())
    }
}

impl<'de> Deserialize<'de> for Phone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Maximum length of an e-mail address (RFC 5321 path limit less the brackets).
pub const EMAIL_MAX: usize = 254;

/// An e-mail address (see the module docs for the accepted form).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Email(String);

impl Email {
    /// The canonical address (domain in lower case).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The domain part.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({:?})", self.0)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'/'
                | b'='
                | b'?'
                | b'^'
                | b'_'
                | b'`'
                | b'{'
                | b'|'
                | b'}'
                | b'~'
                | b'-'
        )
}

/// Where the `@` is, when `t` (trimmed, at most [`EMAIL_MAX`] bytes) is an address the
/// checks of `Email::from_str` accept, found in one pass over its bytes. Only a fast path:
/// `None` sends the text through those checks, which are the rule and name what is wrong.
fn plain_address(t: &[u8]) -> Option<usize> {
    let at = t.iter().rposition(|&b| b == b'@')?;
    let (local, domain) = (&t[..at], &t[at + 1..]);
    // 1 to 64 characters of atext, dots only between them.
    if local.is_empty() || local.len() > 64 || local[0] == b'.' || local[local.len() - 1] == b'.' {
        return None;
    }
    let mut dot = false;
    for &b in local {
        if b == b'.' {
            if dot {
                return None;
            }
            dot = true;
        } else if is_atext(b) {
            dot = false;
        } else {
            return None;
        }
    }
    // Two labels or more, each 1 to 63 letters, digits and inner hyphens; the last one 2
    // letters or more.
    let mut labels = 0;
    let mut start = 0;
    for i in 0..=domain.len() {
        if i == domain.len() || domain[i] == b'.' {
            let label = &domain[start..i];
            if label.is_empty()
                || label.len() > 63
                || label[0] == b'-'
                || label[label.len() - 1] == b'-'
            {
                return None;
            }
            labels += 1;
            start = i + 1;
        } else if !(domain[i].is_ascii_alphanumeric() || domain[i] == b'-') {
            return None;
        }
    }
    let tld = &domain[domain.iter().rposition(|&b| b == b'.').map_or(0, |i| i + 1)..];
    (labels >= 2 && tld.len() >= 2 && tld.iter().all(u8::is_ascii_alphabetic)).then_some(at)
}

impl FromStr for Email {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        let t = trim_ascii(s);
        if t.is_empty() {
            return Err(Invalid::required());
        }
        if t.len() > EMAIL_MAX {
            return Err(Invalid::new(
                Code::TooLong,
                format!(
                    "an e-mail address has at most {EMAIL_MAX} characters, got {}",
                    t.len()
                ),
            ));
        }
        if let Some(at) = plain_address(t.as_bytes()) {
            return Ok(Email(canonical_address(&t[..at], &t[at + 1..])));
        }
        // Bytes before the first refused one are ASCII, so it starts a character.
        if let Some(i) = t
            .bytes()
            .position(|b| !b.is_ascii() || b.is_ascii_control() || b == b' ')
        {
            let c = t[i..].chars().next().unwrap_or(char::REPLACEMENT_CHARACTER);
            return Err(Invalid::new(
                Code::InvalidFormat,
                format!("unexpected character {c:?} in an e-mail address"),
            ));
        }
        let (local, domain) = t.rsplit_once('@').ok_or_else(|| {
            Invalid::new(
                Code::InvalidFormat,
                "an e-mail address needs an @ between name and domain",
            )
        })?;
        let bad = |m: &str| Invalid::new(Code::InvalidFormat, m.to_owned());
        if local.is_empty() || local.len() > 64 {
            return Err(bad("the part before @ must have 1 to 64 characters"));
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err(bad(
                "the part before @ cannot start or end with a dot or have two dots in a row",
            ));
        }
        if !local.bytes().all(|b| b == b'.' || is_atext(b)) {
            return Err(bad(
                "the part before @ has a character e-mail addresses do not allow",
            ));
        }
        if !domain.contains('.') {
            return Err(bad(
                "the domain needs at least two parts, such as example.com.br",
            ));
        }
        for l in domain.split('.') {
            if l.is_empty() || l.len() > 63 {
                return Err(bad("each part of the domain must have 1 to 63 characters"));
            }
            if l.starts_with('-') || l.ends_with('-') {
                return Err(bad("a domain part cannot start or end with a hyphen"));
            }
            if !l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return Err(bad("the domain has a character domains do not allow"));
            }
        }
        let tld = domain.rsplit('.').next().unwrap_or(domain);
        if tld.len() < 2 || !tld.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(bad(
                "the domain must end in an alphabetic top-level domain, such as .br",
            ));
        }
        Ok(Email(canonical_address(local, domain)))
    }
}

/// `local@domain`, the domain in lower case. ASCII only (checked before), so folding byte by
/// byte is the whole folding.
fn canonical_address(local: &str, domain: &str) -> String {
    let mut address = String::with_capacity(local.len() + 1 + domain.len());
    address.push_str(local);
    address.push('@');
    address.push_str(domain);
    address[local.len() + 1..].make_ascii_lowercase();
    address
}

impl TryFrom<&str> for Email {
    type Error = Invalid;
    fn try_from(s: &str) -> Result<Self, Invalid> {
        s.parse()
    }
}

impl Serialize for Email {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_67_area_codes_are_accepted_and_nothing_else() {
        assert_eq!(AREA_CODES.len(), 67);
        let mut accepted = 0;
        for n in 0u8..=255 {
            match AreaCode::new(n) {
                Ok(a) => {
                    accepted += 1;
                    assert!(AREA_CODES.contains(&n));
                    assert_eq!(a.get(), n);
                }
                Err(e) => {
                    assert!(!AREA_CODES.contains(&n));
                    assert_eq!(e.code, Code::UnknownAreaCode);
                }
            }
        }
        assert_eq!(accepted, 67);
        // Written out by hand: codes that do not exist.
        for missing in [
            10, 20, 23, 25, 26, 29, 30, 36, 39, 40, 50, 52, 56, 57, 58, 59, 60, 70, 72, 76, 78, 80,
            90,
        ] {
            assert_eq!(
                AreaCode::new(missing).unwrap_err().code,
                Code::UnknownAreaCode,
                "{missing}"
            );
        }
    }

    #[test]
    fn area_code_parses_text() {
        assert_eq!("11".parse::<AreaCode>().unwrap().get(), 11);
        assert_eq!("(21)".parse::<AreaCode>().unwrap().get(), 21);
        assert_eq!("021".parse::<AreaCode>().unwrap().get(), 21);
        assert_eq!("".parse::<AreaCode>().unwrap_err().code, Code::Required);
        assert_eq!(
            "1a".parse::<AreaCode>().unwrap_err().code,
            Code::InvalidFormat
        );
        assert_eq!(
            "20".parse::<AreaCode>().unwrap_err().code,
            Code::UnknownAreaCode
        );
        let a: AreaCode = serde_json::from_str("\"47\"").unwrap();
        assert_eq!(serde_json::to_string(&a).unwrap(), "47");
        assert!(serde_json::from_str::<AreaCode>("300").is_err());
        assert!(serde_json::from_str::<AreaCode>("20").is_err());
        assert_eq!(AreaCode::try_from(" (61) ").unwrap().get(), 61);
        assert_eq!(
            AreaCode::try_from("20").unwrap_err().code,
            Code::UnknownAreaCode
        );
        assert_eq!(AreaCode::try_from("").unwrap_err().code, Code::Required);
        assert_eq!(AreaCode::try_from("11").unwrap().to_string(), "11");
    }

    #[test]
    fn phones_in_common_forms() {
        for (input, e164, kind) in [
            ("(11) 98765-4321", "+5511987654321", PhoneKind::Mobile),
            ("+55 11 98765 4321", "+5511987654321", PhoneKind::Mobile),
            ("5511987654321", "+5511987654321", PhoneKind::Mobile),
            ("011 98765-4321", "+5511987654321", PhoneKind::Mobile),
            ("21 3456-7890", "+552134567890", PhoneKind::Landline),
            ("2134567890", "+552134567890", PhoneKind::Landline),
            (" 55 21 2345.6789 ", "+552123456789", PhoneKind::Landline),
        ] {
            let p: Phone = input.parse().unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(p.e164(), e164, "{input}");
            assert_eq!(p.kind(), kind, "{input}");
            assert_eq!(p.e164().parse::<Phone>().unwrap(), p);
        }
        assert_eq!(
            "11987654321".parse::<Phone>().unwrap().to_string(),
            "(11) 98765-4321"
        );
        assert_eq!(
            "1134567890".parse::<Phone>().unwrap().to_string(),
            "(11) 3456-7890"
        );
    }

    #[test]
    fn bad_phones_say_why() {
        for (input, code) in [
            ("", Code::Required),
            ("   ", Code::Required),
            ("1198765432", Code::InvalidFormat), // 8 digits starting with 9: landline must start 2-5
            ("11887654321", Code::InvalidFormat), // 9 digits not starting with 9
            ("2034567890", Code::UnknownAreaCode),
            ("123", Code::WrongLength),
            ("119876543210", Code::WrongLength),
            ("+1 415 555 0100", Code::InvalidFormat),
            ("11 9876-54321x", Code::InvalidFormat),
            ("11\u{2013}98765-4321", Code::InvalidFormat),
        ] {
            assert_eq!(input.parse::<Phone>().unwrap_err().code, code, "{input:?}");
        }
    }

    #[test]
    fn emails() {
        let e: Email = " Ana.Silva+sig@Example.COM.br ".parse().unwrap();
        assert_eq!(e.as_str(), "Ana.Silva+sig@example.com.br");
        assert_eq!(e.domain(), "example.com.br");
        for bad in [
            "ana",
            "ana@",
            "@example.com",
            "ana@example",
            "ana@@example.com",
            "ana..b@example.com",
            ".ana@example.com",
            "ana@-example.com",
            "ana@example.c0m",
            "ana silva@example.com",
            "anã@example.com",
            "ana@exa_mple.com",
        ] {
            let err = bad.parse::<Email>().unwrap_err();
            assert_eq!(err.code, Code::InvalidFormat, "{bad}");
        }
        assert_eq!("".parse::<Email>().unwrap_err().code, Code::Required);
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(long.parse::<Email>().unwrap_err().code, Code::TooLong);
        assert!(serde_json::from_str::<Email>("\"x@y\"").is_err());
    }
}
