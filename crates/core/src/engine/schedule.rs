//! When a channel's drops and reveals happen, in UTC, from its local schedule.
//!
//! Daylight saving rules: a drop time inside a spring-forward gap happens at the end
//! of the gap; inside a fall-back overlap it happens once, at the earlier instant;
//! the reveal delay is absolute hours. A reveal never comes after the channel's next
//! drop, so at most one drop per channel is open at a time.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc,
    Weekday,
};
use chrono_tz::Tz;

use crate::bank::PoolFilter;

/// Longest accepted reveal delay: one week.
pub const MAX_REVEAL_HOURS: u32 = 168;

/// The weekdays a channel gets a drop on, as a bit set (Monday = bit 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Days(u8);

impl Days {
    pub const DAILY: Days = Days(0b111_1111);
    pub const WEEKDAYS: Days = Days(0b001_1111);

    pub fn from_weekdays(days: impl IntoIterator<Item = Weekday>) -> Days {
        Days(
            days.into_iter()
                .fold(0, |bits, d| bits | (1 << d.num_days_from_monday())),
        )
    }

    /// From the stored bit set; `None` when it names no day or unknown bits.
    pub fn from_bits(bits: u8) -> Option<Days> {
        (bits != 0 && bits & !Self::DAILY.0 == 0).then_some(Days(bits))
    }

    pub fn bits(self) -> u8 {
        self.0
    }

    pub fn contains(self, day: Weekday) -> bool {
        self.0 & (1 << day.num_days_from_monday()) != 0
    }
}

const WEEKDAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl fmt::Display for Days {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Days::DAILY => f.write_str("daily"),
            Days::WEEKDAYS => f.write_str("weekdays"),
            Days(bits) => {
                let names: Vec<&str> = (0..7)
                    .filter(|i| bits & (1 << i) != 0)
                    .map(|i| WEEKDAY_NAMES[i])
                    .collect();
                f.write_str(&names.join(","))
            }
        }
    }
}

/// User input as echoed in an error: at most 60 characters, so an error about a
/// 6,000-character option still fits in a chat message.
fn shown(s: &str) -> String {
    let s = s.trim();
    if s.chars().count() <= 60 {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(59).collect::<String>())
    }
}

/// Bad schedule input, worded for the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("`{0}` is not a time: use 24-hour HH:MM, for example 09:30 or 18:00")]
    BadTime(String),
    #[error(
        "`{0}` is not a known IANA time zone: use a name like Europe/London, America/New_York or Asia/Kolkata"
    )]
    UnknownZone(String),
    #[error("`{0}` is not a set of days: use daily, weekdays, or a comma list such as mon,wed,fri")]
    BadDays(String),
    #[error("reveal delay must be between 1 and {MAX_REVEAL_HOURS} hours, not {0}")]
    BadRevealDelay(i64),
}

impl FromStr for Days {
    type Err = ScheduleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        match lower.as_str() {
            "daily" | "every day" => return Ok(Days::DAILY),
            "weekdays" => return Ok(Days::WEEKDAYS),
            _ => {}
        }
        let mut set = BTreeSet::new();
        for part in lower.split(',') {
            let part = part.trim();
            let day = WEEKDAY_NAMES
                .iter()
                .zip(FULL_WEEKDAY_NAMES)
                .position(|(short, full)| part == *short || part == full)
                .ok_or_else(|| ScheduleError::BadDays(shown(s)))?;
            set.insert(day);
        }
        Days::from_bits(set.iter().fold(0u8, |b, i| b | (1 << i)))
            .ok_or_else(|| ScheduleError::BadDays(shown(s)))
    }
}

const FULL_WEEKDAY_NAMES: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// Parses `HH:MM` (24-hour).
pub fn parse_time(s: &str) -> Result<NaiveTime, ScheduleError> {
    let bad = || ScheduleError::BadTime(shown(s));
    let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if !digits(h) || !digits(m) || h.len() > 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: u32 = h.parse().map_err(|_| bad())?;
    let m: u32 = m.parse().map_err(|_| bad())?;
    NaiveTime::from_hms_opt(h, m, 0).ok_or_else(bad)
}

/// Parses an IANA zone name, case-insensitively.
pub fn parse_zone(s: &str) -> Result<Tz, ScheduleError> {
    let name = s.trim();
    name.parse::<Tz>()
        .ok()
        .or_else(|| Tz::from_str_insensitive(name).ok())
        .ok_or_else(|| ScheduleError::UnknownZone(shown(s)))
}

pub fn check_reveal_hours(hours: i64) -> Result<u32, ScheduleError> {
    if (1..=MAX_REVEAL_HOURS as i64).contains(&hours) {
        Ok(hours as u32)
    } else {
        Err(ScheduleError::BadRevealDelay(hours))
    }
}

/// A channel's schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub time: NaiveTime,
    pub zone: Tz,
    pub days: Days,
    pub reveal_after_hours: u32,
    pub pool: PoolFilter,
    pub paused: bool,
}

/// One drop's instants: when it is posted and when it is revealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Occurrence {
    pub local_date: NaiveDate,
    pub drop_at: DateTime<Utc>,
    pub reveal_at: DateTime<Utc>,
}

impl Schedule {
    /// The local calendar date at `now` in this schedule's zone.
    pub fn local_date(&self, now: DateTime<Utc>) -> NaiveDate {
        now.with_timezone(&self.zone).date_naive()
    }

    pub fn is_drop_day(&self, date: NaiveDate) -> bool {
        self.days.contains(date.weekday())
    }

    /// The UTC instant of the drop on a local date, with the DST rules above.
    pub fn drop_instant(&self, date: NaiveDate) -> DateTime<Utc> {
        resolve_local(self.zone, date.and_time(self.time))
    }

    /// The first drop day strictly after `date`.
    pub fn next_drop_date_after(&self, date: NaiveDate) -> NaiveDate {
        // `Days` is never empty, so one of the next seven dates is a drop day.
        (1..=7)
            .map(|i| date + Duration::days(i))
            .find(|d| self.is_drop_day(*d))
            .unwrap_or(date + Duration::days(7))
    }

    fn reveal_for(&self, date: NaiveDate, drop_at: DateTime<Utc>) -> DateTime<Utc> {
        let by_delay = drop_at + Duration::hours(self.reveal_after_hours as i64);
        let next_drop = self.drop_instant(self.next_drop_date_after(date));
        by_delay.min(next_drop).max(drop_at)
    }

    /// The scheduled occurrence on a local date (which should be a drop day).
    pub fn occurrence(&self, date: NaiveDate) -> Occurrence {
        let drop_at = self.drop_instant(date);
        Occurrence {
            local_date: date,
            drop_at,
            reveal_at: self.reveal_for(date, drop_at),
        }
    }

    /// An on-demand drop posted at `now` for the current local date: it replaces that
    /// date's scheduled drop, and its reveal still comes before the next scheduled drop.
    pub fn early_occurrence(&self, now: DateTime<Utc>) -> Occurrence {
        let date = self.local_date(now);
        Occurrence {
            local_date: date,
            drop_at: now,
            reveal_at: self.reveal_for(date, now),
        }
    }

    /// The first scheduled occurrence on a date after `after` (if any) whose drop
    /// instant is at or after `not_before`.
    pub fn next_occurrence(
        &self,
        after: Option<NaiveDate>,
        not_before: DateTime<Utc>,
    ) -> Occurrence {
        // The drop instant of a date lies on that local date, so start one day early.
        let mut date = self.local_date(not_before) - Duration::days(1);
        if let Some(after) = after {
            date = date.max(after + Duration::days(1));
        }
        loop {
            if self.is_drop_day(date) {
                let occ = self.occurrence(date);
                if occ.drop_at >= not_before {
                    return occ;
                }
            }
            date += Duration::days(1);
        }
    }
}

/// Local wall time to UTC: the earlier instant of an overlap, the end of a gap.
pub fn resolve_local(zone: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(earlier, _) => earlier.with_timezone(&Utc),
        LocalResult::None => first_instant_at_or_after(zone, local),
    }
}

/// The earliest UTC instant whose local time in `zone` is at or after `local`.
/// Inside a gap that is the transition itself, i.e. the end of the gap.
fn first_instant_at_or_after(zone: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    let local_at = |secs: i64| {
        DateTime::from_timestamp(secs, 0)
            .map(|u| u.with_timezone(&zone).naive_local())
            .unwrap_or(local)
    };
    // Every UTC offset in use lies within ±15 hours, and a gap is hours away from any
    // fall-back, so local time is monotonic on this window and bisection is exact.
    let guess = local.and_utc().timestamp();
    let (mut lo, mut hi) = (guess - 15 * 3600, guess + 15 * 3600);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if local_at(mid) >= local {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    DateTime::from_timestamp(hi, 0).unwrap_or_else(|| local.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn schedule(time: &str, zone: &str, days: Days, hours: u32) -> Schedule {
        Schedule {
            time: parse_time(time).unwrap(),
            zone: parse_zone(zone).unwrap(),
            days,
            reveal_after_hours: hours,
            pool: PoolFilter::default(),
            paused: false,
        }
    }

    #[test]
    fn ordinary_days_convert_with_the_current_offset() {
        let s = schedule("09:00", "America/New_York", Days::DAILY, 8);
        assert_eq!(
            s.drop_instant(date("2026-01-15")),
            utc("2026-01-15T14:00:00Z")
        );
        assert_eq!(
            s.drop_instant(date("2026-07-15")),
            utc("2026-07-15T13:00:00Z")
        );
    }

    #[test]
    fn new_york_spring_forward_gap_moves_to_the_end_of_the_gap() {
        // 2026-03-08: 02:00 EST jumps to 03:00 EDT.
        let s = schedule("02:30", "America/New_York", Days::DAILY, 8);
        assert_eq!(
            s.drop_instant(date("2026-03-08")),
            utc("2026-03-08T07:00:00Z")
        );
        assert_eq!(
            s.drop_instant(date("2026-03-07")),
            utc("2026-03-07T07:30:00Z")
        );
        assert_eq!(
            s.drop_instant(date("2026-03-09")),
            utc("2026-03-09T06:30:00Z")
        );
    }

    #[test]
    fn new_york_fall_back_overlap_happens_once_at_the_earlier_instant() {
        // 2026-11-01: 02:00 EDT falls back to 01:00 EST; 01:30 happens twice.
        let s = schedule("01:30", "America/New_York", Days::DAILY, 8);
        assert_eq!(
            s.drop_instant(date("2026-11-01")),
            utc("2026-11-01T05:30:00Z")
        );
        let occ = s.next_occurrence(None, utc("2026-11-01T05:31:00Z"));
        assert_eq!(
            occ.local_date,
            date("2026-11-02"),
            "the second 01:30 is not a second drop"
        );
    }

    #[test]
    fn london_gap_and_overlap() {
        let s = schedule("01:30", "Europe/London", Days::DAILY, 8);
        // 2026-03-29: 01:00 GMT -> 02:00 BST.
        assert_eq!(
            s.drop_instant(date("2026-03-29")),
            utc("2026-03-29T01:00:00Z")
        );
        // 2026-10-25: 02:00 BST -> 01:00 GMT.
        assert_eq!(
            s.drop_instant(date("2026-10-25")),
            utc("2026-10-25T00:30:00Z")
        );
    }

    #[test]
    fn lord_howe_half_hour_shift() {
        // 2026-10-04: 02:00 +10:30 -> 02:30 +11:00 (a 30-minute gap).
        let s = schedule("02:15", "Australia/Lord_Howe", Days::DAILY, 8);
        assert_eq!(
            s.drop_instant(date("2026-10-04")),
            utc("2026-10-03T15:30:00Z")
        );
        // 2026-04-05: 02:00 +11:00 -> 01:30 +10:30; 01:45 happens twice.
        let s = schedule("01:45", "Australia/Lord_Howe", Days::DAILY, 8);
        assert_eq!(
            s.drop_instant(date("2026-04-05")),
            utc("2026-04-04T14:45:00Z")
        );
        // Outside the shifts: +10:30 in winter.
        assert_eq!(
            s.drop_instant(date("2026-06-10")),
            utc("2026-06-09T15:15:00Z")
        );
    }

    #[test]
    fn reveal_delay_is_absolute_hours_across_a_shift() {
        // Saturdays only, so the next drop is a week away and the delay decides.
        let s = schedule(
            "09:00",
            "America/New_York",
            Days::from_weekdays([Weekday::Sat]),
            24,
        );
        let occ = s.occurrence(date("2026-03-07"));
        assert_eq!(occ.drop_at, utc("2026-03-07T14:00:00Z"));
        // 24 real hours later is 10:00 local, because the clocks sprang forward.
        assert_eq!(occ.reveal_at, utc("2026-03-08T14:00:00Z"));
    }

    #[test]
    fn reveal_never_passes_the_next_drop() {
        let s = schedule("09:00", "Europe/London", Days::DAILY, 48);
        let occ = s.occurrence(date("2026-02-02"));
        assert_eq!(occ.reveal_at, utc("2026-02-03T09:00:00Z"));
        // Weekdays: Friday's reveal may run into the weekend, up to Monday's drop.
        let s = schedule("09:00", "Europe/London", Days::WEEKDAYS, 100);
        let fri = s.occurrence(date("2026-02-06"));
        assert_eq!(fri.reveal_at, utc("2026-02-09T09:00:00Z"));
    }

    #[test]
    fn next_occurrence_skips_days_off_and_passed_times() {
        let s = schedule("09:00", "Europe/London", Days::WEEKDAYS, 8);
        // Friday 2026-02-06 10:00 UTC: today's drop has passed, the weekend is off.
        let occ = s.next_occurrence(None, utc("2026-02-06T10:00:00Z"));
        assert_eq!(occ.local_date, date("2026-02-09"));
        // Exactly at the drop instant, that drop is still next.
        let occ = s.next_occurrence(None, utc("2026-02-06T09:00:00Z"));
        assert_eq!(occ.local_date, date("2026-02-06"));
        // A drop already exists for Friday: the next is Monday even if earlier in time.
        let occ = s.next_occurrence(Some(date("2026-02-06")), utc("2026-02-06T08:00:00Z"));
        assert_eq!(occ.local_date, date("2026-02-09"));
    }

    #[test]
    fn next_occurrence_uses_the_local_date_not_utc() {
        // 23:30 in Auckland is still the previous UTC day.
        let s = schedule("23:30", "Pacific/Auckland", Days::DAILY, 2);
        let occ = s.next_occurrence(None, utc("2026-06-01T00:00:00Z"));
        assert_eq!(occ.local_date, date("2026-06-01"));
        assert_eq!(occ.drop_at, utc("2026-06-01T11:30:00Z"));
    }

    #[test]
    fn early_occurrence_reveals_before_the_next_scheduled_drop() {
        let s = schedule("18:00", "Europe/London", Days::DAILY, 40);
        let now = utc("2026-02-02T08:00:00Z");
        let occ = s.early_occurrence(now);
        assert_eq!(occ.local_date, date("2026-02-02"));
        assert_eq!(occ.drop_at, now);
        assert_eq!(occ.reveal_at, utc("2026-02-03T18:00:00Z"));
    }

    #[test]
    fn parsing_input() {
        assert_eq!(
            parse_time("9:05").unwrap(),
            NaiveTime::from_hms_opt(9, 5, 0).unwrap()
        );
        assert_eq!(
            parse_time("23:59").unwrap(),
            NaiveTime::from_hms_opt(23, 59, 0).unwrap()
        );
        for bad in [
            "24:00",
            "12:60",
            "noon",
            "12",
            "12:5",
            "-1:00",
            "123:00",
            "+9:+5",
            "٠٩:٠٠",
            "09:00:00",
        ] {
            assert_eq!(
                parse_time(bad),
                Err(ScheduleError::BadTime(bad.into())),
                "{bad}"
            );
        }
        assert_eq!(
            parse_zone("europe/london").unwrap(),
            chrono_tz::Europe::London
        );
        assert!(matches!(
            parse_zone("Mars/Olympus"),
            Err(ScheduleError::UnknownZone(_))
        ));
        assert_eq!("weekdays".parse::<Days>().unwrap(), Days::WEEKDAYS);
        let mwf: Days = "mon, Wednesday,fri".parse().unwrap();
        assert_eq!(mwf.to_string(), "mon,wed,fri");
        assert!("monkey".parse::<Days>().is_err());
        assert!(
            "éé".parse::<Days>().is_err(),
            "non-ASCII input is an error, not a panic"
        );
        assert!("mo".parse::<Days>().is_err());
        assert!("".parse::<Days>().is_err());
        assert_eq!(check_reveal_hours(168), Ok(168));
        assert_eq!(check_reveal_hours(0), Err(ScheduleError::BadRevealDelay(0)));
        assert_eq!(
            check_reveal_hours(169),
            Err(ScheduleError::BadRevealDelay(169))
        );
        assert!(Days::from_bits(0).is_none());
        assert!(Days::from_bits(0x80).is_none());
    }
}
