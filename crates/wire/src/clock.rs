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

pub fn now() -> Timestamp {
    let micros = OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000;
    Timestamp::from_micros(i64::try_from(micros).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

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
