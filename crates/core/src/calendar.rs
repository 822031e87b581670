//! Business days for client fiat funds (MiCA Art 70(3)): the TARGET2 calendar (closed on
//! weekends, New Year's Day, Good Friday, Easter Monday, 1 May, 25 and 26 December) plus the
//! extra closing days a policy lists, and the placement deadline that follows from it: the end
//! (24:00 UTC) of the first business day after the day of receipt.

use std::fmt;

use crate::time::Timestamp;

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// A civil date (proleptic Gregorian, UTC), as days since 1970-01-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct Date(i32);

impl Date {
    /// The date of `year-month-day`, if it exists (years 1 to 9999).
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Date> {
        if !(1..=9999).contains(&year) || !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        // Howard Hinnant's days_from_civil.
        let y = if month <= 2 { year - 1 } else { year };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = month as i32;
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i32 - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        Some(Date(era * 146_097 + doe - 719_468))
    }

    /// Year, month (1–12) and day (1–31).
    pub fn ymd(self) -> (i32, u32, u32) {
        let z = self.0 + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i32::from(month <= 2);
        (year, month, day)
    }

    /// The date on which an instant falls, in UTC.
    pub fn of(at: Timestamp) -> Date {
        Date(i32::try_from(at.micros().div_euclid(MICROS_PER_DAY)).unwrap_or(if at.micros() < 0 { i32::MIN } else { i32::MAX }))
    }

    /// 00:00 UTC of this date.
    pub fn start(self) -> Timestamp {
        Timestamp::from_micros(i64::from(self.0) * MICROS_PER_DAY)
    }

    pub fn next(self) -> Date {
        Date(self.0 + 1)
    }

    /// Monday 0 … Sunday 6.
    pub fn weekday(self) -> u32 {
        // 1970-01-01 was a Thursday.
        (self.0 + 3).rem_euclid(7) as u32
    }

    pub fn is_weekend(self) -> bool {
        self.weekday() >= 5
    }

    /// Whether TARGET2 is closed on this date.
    pub fn is_target2_closed(self) -> bool {
        if self.is_weekend() {
            return true;
        }
        let (year, month, day) = self.ymd();
        if matches!((month, day), (1, 1) | (5, 1) | (12, 25) | (12, 26)) {
            return true;
        }
        let easter = easter_sunday(year);
        self == Date(easter.0 - 2) || self == Date(easter.0 + 1)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (year, month, day) = self.ymd();
        write!(f, "{year:04}-{month:02}-{day:02}")
    }
}

impl std::str::FromStr for Date {
    type Err = String;

    /// `YYYY-MM-DD`.
    fn from_str(text: &str) -> Result<Date, String> {
        let bad = || format!("date {text:?} is not a calendar date written YYYY-MM-DD");
        let bytes = text.as_bytes();
        if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
            return Err(bad());
        }
        let number = |range: std::ops::Range<usize>| -> Result<u32, String> {
            let part = &text[range];
            if !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            part.parse().map_err(|_| bad())
        };
        let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
        Date::from_ymd(year as i32, month, day).ok_or_else(bad)
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Easter Sunday of a Gregorian year (the anonymous Gregorian computus).
pub fn easter_sunday(year: i32) -> Date {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    Date::from_ymd(year, month as u32, day as u32).unwrap_or(Date(0))
}

/// The TARGET2 calendar with extra closing days (sorted).
#[derive(Debug, Clone, Copy)]
pub struct Calendar<'a> {
    pub closing_days: &'a [Date],
}

impl Calendar<'_> {
    pub fn is_business_day(&self, date: Date) -> bool {
        !date.is_target2_closed() && self.closing_days.binary_search(&date).is_err()
    }

    /// The first business day after `date`.
    pub fn next_business_day(&self, date: Date) -> Date {
        let mut next = date.next();
        // A year has at most 366 closing days; the policy's list is bounded, so this ends.
        while !self.is_business_day(next) {
            next = next.next();
        }
        next
    }

    /// When fiat received at `received_at` must be placed by: the end (24:00 UTC) of the
    /// first business day after the day of receipt.
    pub fn placement_deadline(&self, received_at: Timestamp) -> Timestamp {
        self.next_business_day(Date::of(received_at)).next().start()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> Date {
        text.parse().unwrap()
    }

    #[test]
    fn dates_round_trip_through_days() {
        for text in ["1970-01-01", "2000-02-29", "2026-11-24", "2028-12-31", "1969-12-31"] {
            assert_eq!(date(text).to_string(), text);
        }
        assert_eq!(date("1970-01-01").start(), Timestamp::from_micros(0));
        assert_eq!(date("1970-01-01").weekday(), 3, "a Thursday");
        assert!("2026-02-29".parse::<Date>().is_err());
        assert!("2026-1-01".parse::<Date>().is_err());
    }

    #[test]
    fn easter_falls_on_known_dates() {
        for (year, text) in [(2024, "2024-03-31"), (2025, "2025-04-20"), (2026, "2026-04-05"), (2027, "2027-03-28"), (2028, "2028-04-16")] {
            assert_eq!(easter_sunday(year), date(text));
        }
    }

    #[test]
    fn target2_closes_on_its_holidays_and_weekends() {
        for closed in ["2026-01-01", "2026-04-03", "2026-04-06", "2026-05-01", "2026-12-25", "2026-12-26", "2026-11-28"] {
            assert!(date(closed).is_target2_closed(), "{closed}");
        }
        for open in ["2026-11-24", "2026-04-07", "2026-12-24", "2026-12-31"] {
            assert!(!date(open).is_target2_closed(), "{open}");
        }
    }
}
