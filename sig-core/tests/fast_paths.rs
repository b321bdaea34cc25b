//! The hot-path readers agree with the general code they stand in for: the direct readers
//! and writers of the date and timestamp forms with chrono's parser and formatter
//! (`parse_date`, `parse_timestamp`, `format_date`, `format_timestamp`), and the phone and
//! e-mail readers with their earlier, allocating versions (kept here as oracles): same
//! values, same rejections.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, TimeZone};
use proptest::prelude::*;
use sig_core::Code;
use sig_core::contact::{AreaCode, Email, Phone};
use sig_core::problem::Invalid;
use sig_core::raw::{TIMESTAMP_FORMAT, format_date, format_timestamp, parse_date, parse_timestamp};

/// The readers as they were: chrono only.
fn chrono_date(s: &str) -> Result<NaiveDate, Invalid> {
    let t = s.trim_matches(|c: char| c.is_ascii_whitespace());
    if t.is_empty() {
        return Err(Invalid::required());
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(t, "%d/%m/%Y"))
        .map_err(|_| {
            Invalid::new(
                Code::InvalidDate,
                "a date is written YYYY-MM-DD or DD/MM/YYYY",
            )
        })
}

fn chrono_timestamp(s: &str) -> Result<DateTime<FixedOffset>, Invalid> {
    let t = s.trim_matches(|c: char| c.is_ascii_whitespace());
    if t.is_empty() {
        return Err(Invalid::required());
    }
    DateTime::parse_from_rfc3339(t)
        .or_else(|_| DateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S %z"))
        .map_err(|_| {
            Invalid::new(
                Code::InvalidDate,
                "a timestamp is written 2022-07-11T16:01:55-03:00 or 2022-07-11 16:01:55 -0300",
            )
        })
}

/// Dates near the canonical form: right shape with any digits (impossible days and months
/// included), padding, other separators, the Brazilian form, noise.
fn date_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[0-9]{4}-[0-9]{2}-[0-9]{2}",
        2 => "(19|20)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])",
        1 => "[ \t]{0,2}[0-9]{1,5}-[0-9]{1,2}-[0-9]{1,3}[ \t]{0,2}",
        1 => "[0-9]{2}/[0-9]{2}/[0-9]{4}",
        1 => "[-+]?[0-9]{4}[-/ ][0-9]{2}[-/ ][0-9]{2}",
        1 => "[0-9 /+-]{0,12}",
    ]
}

fn timestamp_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} [-+][0-9]{4}",
        3 => "20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]) ([01][0-9]|2[0-3]):[0-5][0-9]:[0-6][0-9] [-+](0[0-9]|1[0-4])[0-5][0-9]",
        1 => "20[0-9]{2}-[01][0-9]-[0-3][0-9][Tt ][0-2][0-9]:[0-5][0-9]:[0-6][0-9](\\.[0-9]{1,9})?(Z|[-+][01][0-9]:?[0-5][0-9])",
        1 => "[ \t]?20[0-9]{2}-[01][0-9]-[0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-5][0-9] ?[-+][01][0-9]:?[0-9]{2}[ \t]?",
        1 => "[0-9 :+T-]{0,26}",
    ]
}

fn any_timestamp() -> impl Strategy<Value = DateTime<FixedOffset>> {
    (
        -10_500i32..=12_000,
        1u32..=12,
        1u32..=31,
        0u32..24,
        0u32..60,
        0u32..60,
        prop_oneof![3 => Just(0u32), 1 => 0u32..2_000_000_000],
        prop_oneof![
            3 => (-14i32..=14).prop_map(|h| h * 3600),
            2 => (-1439i32..=1439).prop_map(|m| m * 60),
            1 => -86_399i32..=86_399,
        ],
    )
        .prop_filter_map("a date that exists", |(y, mo, d, h, mi, s, ns, off)| {
            let date = NaiveDate::from_ymd_opt(y, mo, d)?;
            // Leap seconds exist only at :59.
            let s = if ns >= 1_000_000_000 { 59 } else { s };
            let time = NaiveTime::from_hms_nano_opt(h, mi, s, ns)?;
            FixedOffset::east_opt(off)?
                .from_local_datetime(&date.and_time(time))
                .single()
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 20_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn dates_read_as_chrono_reads_them(s in date_text()) {
        prop_assert_eq!(parse_date(&s), chrono_date(&s), "{:?}", s);
    }

    #[test]
    fn timestamps_read_as_chrono_reads_them(s in timestamp_text()) {
        prop_assert_eq!(parse_timestamp(&s), chrono_timestamp(&s), "{:?}", s);
    }

    #[test]
    fn dates_and_timestamps_are_written_as_chrono_writes_them(t in any_timestamp()) {
        prop_assert_eq!(format_timestamp(&t), t.format(TIMESTAMP_FORMAT).to_string());
        let d = t.date_naive();
        prop_assert_eq!(format_date(d), d.format("%Y-%m-%d").to_string());
        // And what is written reads back (to the second; chrono's form drops fractions).
        if t.timestamp_subsec_nanos() == 0 && t.offset().local_minus_utc() % 60 == 0
            && (0..=9999).contains(&chrono::Datelike::year(&t.naive_local()))
        {
            prop_assert_eq!(parse_timestamp(&format_timestamp(&t)), Ok(t));
            prop_assert_eq!(parse_date(&format_date(d)), Ok(d));
        }
    }
}

#[test]
fn the_generators_reach_both_outcomes() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut ok, mut bad) = (0, 0);
    for _ in 0..2_000 {
        let s = timestamp_text().new_tree(&mut runner).unwrap().current();
        if parse_timestamp(&s).is_ok() {
            ok += 1
        } else {
            bad += 1
        }
        let s = date_text().new_tree(&mut runner).unwrap().current();
        if parse_date(&s).is_ok() {
            ok += 1
        } else {
            bad += 1
        }
    }
    assert!(ok > 800 && bad > 400, "{ok} read, {bad} refused");
    let (mut ok, mut bad) = (0, 0);
    for _ in 0..2_000 {
        let s = phone_text().new_tree(&mut runner).unwrap().current();
        if s.parse::<Phone>().is_ok() {
            ok += 1
        } else {
            bad += 1
        }
        let s = email_text().new_tree(&mut runner).unwrap().current();
        if s.parse::<Email>().is_ok() {
            ok += 1
        } else {
            bad += 1
        }
    }
    assert!(
        ok > 400 && bad > 400,
        "phones and e-mails: {ok} read, {bad} refused"
    );
}

/// `Phone::from_str` as it was (digits collected into a `String`): the number's parts, or
/// the rejection.
fn old_phone(s: &str) -> Result<(u8, String, bool), Invalid> {
    let t = s.trim_matches(|c: char| c.is_ascii_whitespace());
    if t.is_empty() {
        return Err(Invalid::required());
    }
    let mut digits = String::with_capacity(16);
    for (i, c) in t.chars().enumerate() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            '+' if i == 0 => {}
            _ => {
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
    let mut d: &str = &digits;
    if had_plus {
        d = d.strip_prefix("55").ok_or_else(|| {
            Invalid::new(
                Code::InvalidFormat,
                "only Brazilian numbers (+55) are accepted",
            )
        })?;
    } else if (d.len() == 12 || d.len() == 13) && d.starts_with("55") {
        d = &d[2..];
    }
    if (d.len() == 11 || d.len() == 12) && d.starts_with('0') {
        d = &d[1..];
    }
    if d.len() != 10 && d.len() != 11 {
        return Err(Invalid::new(
            Code::WrongLength,
            format!(
                "a phone has a 2-digit area code and an 8-digit landline or 9-digit mobile number, got {} digits",
                d.len()
            ),
        ));
    }
    let area = AreaCode::new(d[..2].parse().expect("ASCII digits"))?;
    let sub = &d[2..];
    let first = sub.as_bytes()[0];
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
    Ok((area.get(), sub.to_owned(), mobile))
}

/// `Email::from_str` as it was (domain labels collected, the address built by `format!`).
fn old_email(s: &str) -> Result<String, Invalid> {
    let t = s.trim_matches(|c: char| c.is_ascii_whitespace());
    if t.is_empty() {
        return Err(Invalid::required());
    }
    if t.len() > 254 {
        return Err(Invalid::new(
            Code::TooLong,
            format!(
                "an e-mail address has at most 254 characters, got {}",
                t.len()
            ),
        ));
    }
    if let Some(c) = t
        .chars()
        .find(|c| !c.is_ascii() || c.is_ascii_control() || *c == ' ')
    {
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
    let atext = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~-".contains(&b);
    if !local.bytes().all(|b| b == b'.' || atext(b)) {
        return Err(bad(
            "the part before @ has a character e-mail addresses do not allow",
        ));
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return Err(bad(
            "the domain needs at least two parts, such as example.com.br",
        ));
    }
    for l in &labels {
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
    let tld = labels[labels.len() - 1];
    if tld.len() < 2 || !tld.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(bad(
            "the domain must end in an alphabetic top-level domain, such as .br",
        ));
    }
    Ok(format!("{local}@{}", domain.to_ascii_lowercase()))
}

/// `text::bounded` as it was: control characters and length checked character by character.
fn old_bounded(s: &str, max: usize) -> Result<&str, Invalid> {
    let t = s.trim_matches(|c: char| c.is_ascii_whitespace());
    if t.is_empty() {
        return Err(Invalid::required());
    }
    if let Some(c) = t.chars().find(|c| c.is_control()) {
        return Err(Invalid::new(
            Code::InvalidFormat,
            format!("control character {c:?} is not allowed here"),
        ));
    }
    let n = t.chars().count();
    if n > max {
        return Err(Invalid::new(
            Code::TooLong,
            format!("at most {max} characters, got {n}"),
        ));
    }
    Ok(t)
}

fn phone_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "(\\+55 ?|55|0)?\\(?[1-9][0-9]\\)? ?[2-59][0-9]{3,4}-?[0-9]{4}",
        2 => "[+]?[0-9]{8,18}",
        1 => "[ +()0-9.-]{0,24}",
        1 => "[0-9]{2}[a-z ][0-9]{8}",
        1 => "[+]?[0-9 ]{0,6}\\PC{0,2}[0-9]{0,8}",
    ]
}

fn email_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-zA-Z0-9._%+-]{1,12}@[a-zA-Z0-9-]{1,10}(\\.[a-zA-Z]{1,4}){0,3}",
        // Near misses: dots and hyphens at the edges, digits in the last label, empty labels.
        2 => "[a-z0-9.!#~@-]{0,8}@[a-zA-Z0-9.-]{0,14}",
        1 => "[ a-z.@-]{0,20}",
        1 => "\\PC{0,12}@\\PC{0,12}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 20_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn phones_read_as_before(s in phone_text()) {
        let new = s.parse::<Phone>().map(|p| (p.area_code().get(), p.subscriber(), p.kind() == sig_core::contact::PhoneKind::Mobile));
        prop_assert_eq!(new, old_phone(&s), "{:?}", s);
    }

    #[test]
    fn bounded_text_reads_as_before(
        s in prop_oneof![
            "[ \t\n]{0,2}\\PC{0,14}[ \t\n]{0,2}",
            "[a-zé\u{0}-\u{1f}\u{7f}-\u{a0}\u{c0}\u{2028}]{0,14}",
            "[ãçõé]{4,12}",
        ],
        max in 1usize..12,
    ) {
        prop_assert_eq!(sig_core::text::bounded(&s, max), old_bounded(&s, max), "{:?}", s);
    }

    #[test]
    fn emails_read_as_before(s in email_text()) {
        prop_assert_eq!(s.parse::<Email>().map(|e| e.as_str().to_owned()), old_email(&s), "{:?}", s);
    }
}
