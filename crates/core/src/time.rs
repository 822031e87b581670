//! Instants as integer microseconds since the Unix epoch, UTC. The core never reads a clock:
//! callers pass the time in.

use std::fmt;

/// A point in time, in microseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize, serde::Deserialize)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const MIN: Timestamp = Timestamp(i64::MIN);
    pub const MAX: Timestamp = Timestamp(i64::MAX);

    pub const fn from_micros(micros: i64) -> Self {
        Self(micros)
    }

    pub const fn micros(self) -> i64 {
        self.0
    }
}

/// The instants RFC 3339 can write: years 1 to 9999.
const RFC3339_MIN: i64 = -62_135_596_800_000_000;
const RFC3339_MAX: i64 = 253_402_300_799_999_999;

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC, as people and the API read instants: `2026-01-09T00:00:00Z`, with the
    /// microseconds when there are any (`…T10:15:00.000250Z`). Outside years 1 to 9999 (only
    /// the bounds MIN and MAX get there), the microseconds since the epoch.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !(RFC3339_MIN..=RFC3339_MAX).contains(&self.0) {
            return write!(f, "{}µs since 1970-01-01T00:00:00Z", self.0);
        }
        let date = crate::calendar::Date::of(*self);
        let of_day = self.0.rem_euclid(86_400_000_000);
        let (seconds, fraction) = (of_day / 1_000_000, of_day % 1_000_000);
        write!(f, "{date}T{:02}:{:02}:{:02}", seconds / 3600, seconds / 60 % 60, seconds % 60)?;
        if fraction != 0 {
            write!(f, ".{fraction:06}")?;
        }
        f.write_str("Z")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instant_prints_as_rfc_3339_never_as_a_count_of_microseconds() {
        assert_eq!(Timestamp::from_micros(1_767_916_800_000_000).to_string(), "2026-01-09T00:00:00Z");
        assert_eq!(Timestamp::from_micros(1_767_916_800_000_250).to_string(), "2026-01-09T00:00:00.000250Z");
        assert_eq!(Timestamp::from_micros(-1).to_string(), "1969-12-31T23:59:59.999999Z");
        assert_eq!(Timestamp::MAX.to_string(), format!("{}µs since 1970-01-01T00:00:00Z", i64::MAX));
    }
}
