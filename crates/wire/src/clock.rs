//! Reading and writing instants at the edge: RFC 3339 (with any offset) or a plain date.
//! One rule for the whole program: a date that starts a period (`--from`, an effective time)
//! means the start of that day, 00:00 UTC ([`parse`]); a date that ends one or is a cut-off
//! (`--to`, `--at`, an expiry) means the end of that day, its last microsecond
//! ([`parse_end`]), so `--to 2026-03-31` includes 31 March.

use ringfence_core::Timestamp;
use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime, UtcOffset};

pub fn parse(text: &str) -> Result<Timestamp, String> {
    let parsed = OffsetDateTime::parse(text, &Rfc3339).ok().or_else(|| parse_date(text).map(|date| date.midnight().assume_utc()));
    match parsed {
        Some(instant) => {
            let micros = instant.unix_timestamp_nanos() / 1_000;
            i64::try_from(micros).map(Timestamp::from_micros).map_err(|_| format!("time {text:?} is out of range"))
        }
        None => Err(format!("time {text:?} is not RFC 3339 (like 2026-03-31T17:00:00Z) or a date (like 2026-03-31)")),
    }
}

/// As [`parse`], but a plain date means the end of that day (23:59:59.999999 UTC): for the
/// end of a period or a cut-off.
pub fn parse_end(text: &str) -> Result<Timestamp, String> {
    let start = parse(text)?;
    Ok(if parse_date(text).is_some() { Timestamp::from_micros(start.micros().saturating_add(86_400_000_000 - 1)) } else { start })
}

fn parse_date(text: &str) -> Option<Date> {
    let mut parts = text.splitn(3, '-');
    let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
    if year.len() != 4 || month.len() != 2 || day.len() != 2 || !text.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        return None;
    }
    let month = Month::try_from(month.parse::<u8>().ok()?).ok()?;
    Date::from_calendar_date(year.parse().ok()?, month, day.parse().ok()?).ok()
}

pub fn format(at: Timestamp) -> String {
    let nanos = i128::from(at.micros()) * 1_000;
    match OffsetDateTime::from_unix_timestamp_nanos(nanos) {
        Ok(instant) => instant.to_offset(UtcOffset::UTC).format(&Rfc3339).unwrap_or_else(|_| at.to_string()),
        Err(_) => at.to_string(),
    }
}

/// An age such as a price's allowed staleness: a whole number of days, hours, minutes or
/// seconds (`2d`, `24h`, `90m`, `30s`), in microseconds.
pub fn parse_age(text: &str) -> Result<i64, String> {
    let wrong = || format!("age {text:?} is not a whole number of days, hours, minutes or seconds, like 24h, 90m, 2d or 30s");
    let unit = text.chars().last().ok_or_else(wrong)?;
    let seconds: i64 = match unit {
        'd' => 86_400,
        'h' => 3_600,
        'm' => 60,
        's' => 1,
        _ => return Err(wrong()),
    };
    let count = &text[..text.len() - 1];
    if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
        return Err(wrong());
    }
    count
        .parse::<i64>()
        .ok()
        .and_then(|count| count.checked_mul(seconds))
        .and_then(|seconds| seconds.checked_mul(1_000_000))
        .ok_or_else(|| format!("age {text:?} is too long"))
}

/// The year part of a period's text.
fn year_text(text: &str) -> &str {
    text.split_once('-').map_or(text, |(year, _)| year)
}

/// A calendar period: `2026-Q1`, `2026-03` or `2026`, as its first and last instants (the
/// last microsecond of its last day).
pub fn period(text: &str) -> Result<(Timestamp, Timestamp), String> {
    let wrong = || format!("period {text:?} is not a quarter (2026-Q1), a month (2026-03) or a year (2026)");
    let (year, rest) = text.split_once('-').map_or((text, None), |(y, r)| (y, Some(r)));
    let year: i32 = match year.parse() {
        Ok(year) if (1000..=9998).contains(&year) && year.to_string() == year_text(text) => year,
        Ok(9999) => return Err(format!("period {text:?}: a period of 9999 ends past the instants ringfence records")),
        _ => return Err(wrong()),
    };
    let (first, months) = match rest {
        None => (1, 12),
        Some(quarter) if quarter.len() == 2 && quarter.starts_with('Q') => match quarter.as_bytes()[1] {
            digit @ b'1'..=b'4' => ((digit - b'0') * 3 - 2, 3),
            _ => return Err(wrong()),
        },
        Some(month) if month.len() == 2 && month.bytes().all(|b| b.is_ascii_digit()) => match month.parse::<u8>() {
            Ok(month @ 1..=12) => (month, 1),
            _ => return Err(wrong()),
        },
        Some(_) => return Err(wrong()),
    };
    let month = |number: u8| Month::try_from(number).map_err(|_| wrong());
    let start = Date::from_calendar_date(year, month(first)?, 1).map_err(|_| wrong())?;
    let (end_year, end_month) = if first + months > 12 { (year + 1, 1) } else { (year, first + months) };
    let next = Date::from_calendar_date(end_year, month(end_month)?, 1).map_err(|_| wrong())?;
    let micros = |date: Date| date.midnight().assume_utc().unix_timestamp() * 1_000_000;
    Ok((Timestamp::from_micros(micros(start)), Timestamp::from_micros(micros(next) - 1)))
}

pub fn now() -> Timestamp {
    let micros = OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000;
    Timestamp::from_micros(i64::try_from(micros).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_is_a_quarter_a_month_or_a_year() {
        let shown = |text: &str| period(text).map(|(from, to)| (format(from), format(to)));
        assert_eq!(shown("2026-Q1"), Ok(("2026-01-01T00:00:00Z".into(), "2026-03-31T23:59:59.999999Z".into())));
        assert_eq!(shown("2026-Q4"), Ok(("2026-10-01T00:00:00Z".into(), "2026-12-31T23:59:59.999999Z".into())));
        assert_eq!(shown("2028-02"), Ok(("2028-02-01T00:00:00Z".into(), "2028-02-29T23:59:59.999999Z".into())));
        assert_eq!(shown("2026"), Ok(("2026-01-01T00:00:00Z".into(), "2026-12-31T23:59:59.999999Z".into())));
        for bad in
            ["", "26-Q1", "2026-Q5", "2026-Q0", "2026-13", "2026-1", "2026-q1", "Q1-2026", "2026-03-01", "+026", "01000-Q1", "9999-Q4"]
        {
            assert!(period(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn an_age_is_a_whole_number_of_one_unit() {
        assert_eq!(parse_age("24h"), Ok(86_400_000_000));
        assert_eq!(parse_age("2d"), Ok(172_800_000_000));
        assert_eq!(parse_age("90m"), Ok(5_400_000_000));
        assert_eq!(parse_age("0s"), Ok(0));
        for bad in ["", "h", "24", "1.5h", "-1h", "24 h", "1w", "99999999999999999d"] {
            assert!(parse_age(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_date_that_ends_a_period_means_the_end_of_that_day() {
        assert_eq!(format(parse_end("2026-03-31").unwrap()), "2026-03-31T23:59:59.999999Z");
        assert_eq!(format(parse("2026-03-31").unwrap()), "2026-03-31T00:00:00Z");
        assert_eq!(parse_end("2026-03-31T12:00:00Z"), parse("2026-03-31T12:00:00Z"));
    }

    #[test]
    fn dates_are_four_two_two_digits_and_nothing_else() {
        assert!(parse("2026-03-31").is_ok());
        for text in ["2026-+3-+1", "+999-01-01", "2026-3-31", "2026-03-31 ", "20260331"] {
            assert!(parse(text).is_err(), "{text}");
        }
    }
}
