//! Conversions between sig-core's types and SQLite values, and error mapping.

use std::fmt::{self, Write as _};

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Timelike, Utc};
use rusqlite::ErrorCode;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sig_core::store::StoreError;

/// Width of a stored timestamp: `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`.
const TS_LEN: usize = 30;

/// A timestamp as fixed-width RFC 3339 text with nanoseconds, so that text order is time
/// order. Years outside 0000–9999 cannot be stored (refused, not truncated).
pub(crate) fn ts(t: DateTime<Utc>) -> Result<String, StoreError> {
    let year = t.year();
    if !(0..=9999).contains(&year) {
        return Err(StoreError::Corrupt(format!(
            "timestamp {t} is outside the years 0000-9999 the store can hold"
        )));
    }
    let (mut sec, mut nano) = (t.second(), t.nanosecond());
    if nano >= 1_000_000_000 {
        // chrono's leap second.
        sec += 1;
        nano -= 1_000_000_000;
    }
    let mut s = String::with_capacity(TS_LEN);
    // Writing to a String cannot fail.
    let _ = write!(
        s,
        "{year:04}-{:02}-{:02}T{:02}:{:02}:{sec:02}.{nano:09}Z",
        t.month(),
        t.day(),
        t.hour(),
        t.minute()
    );
    Ok(s)
}

/// The latest timestamp the store can hold (leases saturate to it).
pub(crate) const TS_MAX: &str = "9999-12-31T23:59:59.999999999Z";

/// A timestamp, saturating at [`TS_MAX`] (for computed lease ends).
pub(crate) fn ts_saturating(t: Option<DateTime<Utc>>) -> String {
    t.and_then(|t| ts(t).ok())
        .unwrap_or_else(|| TS_MAX.to_owned())
}

/// An optional timestamp.
pub(crate) fn ts_opt(t: Option<DateTime<Utc>>) -> Result<Option<String>, StoreError> {
    t.map(ts).transpose()
}

/// Parse a stored timestamp.
pub(crate) fn parse_ts(s: &str) -> Result<DateTime<Utc>, String> {
    let b = s.as_bytes();
    let bad = || format!("timestamp {s:?} is not YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ");
    if b.len() != TS_LEN
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'.'
        || b[29] != b'Z'
    {
        return Err(bad());
    }
    let num = |from: usize, to: usize| -> Result<u32, String> {
        let mut n: u32 = 0;
        for &c in &b[from..to] {
            if !c.is_ascii_digit() {
                return Err(bad());
            }
            n = n * 10 + u32::from(c - b'0');
        }
        Ok(n)
    };
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, mut sec, mut nano) =
        (num(11, 13)?, num(14, 16)?, num(17, 19)?, num(20, 29)?);
    if sec == 60 {
        sec = 59;
        nano += 1_000_000_000;
    }
    let date = NaiveDate::from_ymd_opt(year as i32, month, day).ok_or_else(bad)?;
    let time = NaiveTime::from_hms_nano_opt(hour, minute, sec, nano).ok_or_else(bad)?;
    Ok(date.and_time(time).and_utc())
}

/// A serde value as JSON text.
pub(crate) fn json<T: Serialize + ?Sized>(what: &str, v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v)
        .map_err(|e| StoreError::Corrupt(format!("{what} cannot be encoded as JSON: {e}")))
}

/// A serde value from JSON text.
pub(crate) fn from_json<T: DeserializeOwned>(s: &str) -> Result<T, String> {
    serde_json::from_str(s).map_err(|e| format!("invalid JSON ({e})"))
}

/// A fieldless serde enum's wire name (`omie`, `ok`).
pub(crate) fn enum_name<T: Serialize>(what: &str, v: &T) -> Result<String, StoreError> {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => Ok(s),
        _ => Err(StoreError::Corrupt(format!("{what} has no name to store"))),
    }
}

/// A fieldless serde enum from its wire name.
pub(crate) fn parse_enum<T: DeserializeOwned>(s: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|_| format!("unknown value {s:?}"))
}

/// A `u64` as SQLite's `i64`.
pub(crate) fn int(what: &str, v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} {v} is too large to store")))
}

/// A stored integer back as an unsigned number.
pub(crate) fn uint<T: TryFrom<i64>>(v: i64) -> Result<T, String> {
    T::try_from(v).map_err(|_| format!("integer {v} is out of range"))
}

/// Map a SQLite error to the port's error, with what was being done.
pub(crate) fn sql_error(ctx: impl fmt::Display, e: rusqlite::Error) -> StoreError {
    use rusqlite::Error as E;
    match &e {
        E::SqliteFailure(f, _) => match f.code {
            ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => {
                StoreError::Corrupt(format!("{ctx}: {e}"))
            }
            ErrorCode::ReadOnly => {
                StoreError::Unavailable(format!("{ctx}: the store is read-only ({e})"))
            }
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => StoreError::Unavailable(
                format!("{ctx}: the store is locked by another connection ({e})"),
            ),
            _ => StoreError::Unavailable(format!("{ctx}: {e}")),
        },
        E::FromSqlConversionFailure(..)
        | E::InvalidColumnType(..)
        | E::IntegralValueOutOfRange(..)
        | E::Utf8Error(..) => StoreError::Corrupt(format!("{ctx}: {e}")),
        _ => StoreError::Unavailable(format!("{ctx}: {e}")),
    }
}

/// `.ctx(|| "what")` on rusqlite results.
pub(crate) trait Ctx<T> {
    /// Map the error with its context.
    fn ctx<D: fmt::Display>(self, what: impl FnOnce() -> D) -> Result<T, StoreError>;
}

impl<T> Ctx<T> for Result<T, rusqlite::Error> {
    fn ctx<D: fmt::Display>(self, what: impl FnOnce() -> D) -> Result<T, StoreError> {
        self.map_err(|e| sql_error(what(), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn timestamps_round_trip_exactly_and_sort() {
        let samples = [
            Utc.timestamp_opt(0, 0).unwrap(),
            Utc.timestamp_opt(1_790_000_000, 1).unwrap(),
            Utc.timestamp_opt(1_790_000_000, 999_999_999).unwrap(),
            Utc.timestamp_opt(1_790_000_001, 0).unwrap(),
            Utc::now(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap(),
        ];
        for t in samples {
            let s = ts(t).unwrap();
            assert_eq!(s.len(), TS_LEN, "{s}");
            assert_eq!(parse_ts(&s).unwrap(), t, "{s}");
        }
        let mut sorted = samples.to_vec();
        sorted.sort();
        let mut texts: Vec<String> = samples.iter().map(|t| ts(*t).unwrap()).collect();
        texts.sort();
        assert_eq!(
            texts,
            sorted.iter().map(|t| ts(*t).unwrap()).collect::<Vec<_>>()
        );
        assert!(ts(Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap()).is_err());
        assert_eq!(ts_saturating(None), TS_MAX);
        assert!(parse_ts(TS_MAX).is_ok());
    }

    #[test]
    fn bad_timestamps_are_errors() {
        for s in [
            "",
            "2026-11-25T06:08:58Z",
            "2026-13-25T06:08:58.000000000Z",
            "2026-11-25 06:08:58.000000000Z",
            "2026-11-25T06:08:58.00000000xZ",
        ] {
            assert!(parse_ts(s).is_err(), "{s}");
        }
    }
}
