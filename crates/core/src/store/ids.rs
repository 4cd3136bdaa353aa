//! The one place platform ids and instants become SQLite values.
//!
//! Discord ids are u64 snowflakes; SQLite integers are i64. The conversion is a
//! bit-for-bit reinterpretation, so every u64 round-trips (ids above i64::MAX are
//! stored as negative numbers rather than rejected).

use chrono::{DateTime, NaiveDate, Utc};

use super::StoreError;

pub fn to_db(id: u64) -> i64 {
    i64::from_ne_bytes(id.to_ne_bytes())
}

pub fn from_db(value: i64) -> u64 {
    u64::from_ne_bytes(value.to_ne_bytes())
}

pub fn epoch(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

pub fn instant(secs: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp(secs, 0)
        .ok_or_else(|| StoreError::Corrupt(format!("timestamp {secs} is out of range")))
}

/// An instant to the millisecond, where seconds are too coarse (the command budget
/// tells its waits to the millisecond).
pub fn epoch_ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub fn instant_ms(ms: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| StoreError::Corrupt(format!("timestamp {ms} ms is out of range")))
}

pub fn date_to_db(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

pub fn date_from_db(s: &str) -> Result<NaiveDate, StoreError> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| StoreError::Corrupt(format!("`{s}` is not a date")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_u64_round_trips() {
        for id in [
            0,
            1,
            1_234_567_890_123_456_789,
            i64::MAX as u64,
            i64::MAX as u64 + 1,
            u64::MAX,
        ] {
            assert_eq!(from_db(to_db(id)), id);
        }
        assert_eq!(to_db(42), 42);
        assert_eq!(to_db(u64::MAX), -1);
    }
}
