//! Reading and writing instants at the edge: RFC 3339 (with any offset) or a plain date,
//! which means midnight UTC.

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
    fn dates_are_four_two_two_digits_and_nothing_else() {
        assert!(parse("2026-03-31").is_ok());
        for text in ["2026-+3-+1", "+999-01-01", "2026-3-31", "2026-03-31 ", "20260331"] {
            assert!(parse(text).is_err(), "{text}");
        }
    }
}
