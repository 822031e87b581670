//! Money: an integer number of an asset's smallest unit (wei, satoshi…), never floating point.

use std::fmt;

/// An amount in the asset's smallest unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize, serde::Deserialize)]
pub struct Amount(u128);

/// The largest number of decimals an asset may have: 10^38 still fits in a u128.
pub const SCALE_MAX: u8 = 38;

/// Why a text is not an amount.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("amount is empty; give a whole number of the asset's smallest unit, such as \"1500\"")]
    Empty,
    #[error("amount {0:?} is negative; amounts are never negative, the movement's kind gives the direction")]
    Negative(String),
    #[error("amount {0:?} has a fraction; give a whole number of the asset's smallest unit (wei, satoshi…)")]
    Fractional(String),
    #[error("amount {0:?} is not a whole number; use the digits 0-9 only")]
    NotDigits(String),
    #[error("amount {0:?} is larger than the largest supported amount (2^128 - 1)")]
    TooLarge(String),
}

impl Amount {
    pub const ZERO: Amount = Amount(0);
    pub const MAX: Amount = Amount(u128::MAX);

    pub const fn new(units: u128) -> Self {
        Self(units)
    }

    pub const fn units(self) -> u128 {
        self.0
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).map(Amount)
    }

    pub fn checked_sub(self, other: Amount) -> Option<Amount> {
        self.0.checked_sub(other.0).map(Amount)
    }

    /// Parses a decimal string of digits, naming exactly what is wrong otherwise.
    pub fn parse(text: &str) -> Result<Self, AmountError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(AmountError::Empty);
        }
        if trimmed.starts_with('-') {
            return Err(AmountError::Negative(text.to_owned()));
        }
        if trimmed.contains(['.', ',', 'e', 'E']) && trimmed.chars().any(|c| c.is_ascii_digit()) {
            return Err(AmountError::Fractional(text.to_owned()));
        }
        let digits = trimmed.strip_prefix('+').unwrap_or(trimmed);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AmountError::NotDigits(text.to_owned()));
        }
        digits.parse::<u128>().map(Amount).map_err(|_| AmountError::TooLarge(text.to_owned()))
    }

    /// The amount written in whole units with `scale` decimals, exactly (no rounding).
    pub fn to_decimal(self, scale: u8) -> String {
        let digits = self.0.to_string();
        let scale = usize::from(scale);
        if scale == 0 {
            return digits;
        }
        let padded = if digits.len() <= scale { format!("{}{}", "0".repeat(scale + 1 - digits.len()), digits) } else { digits };
        let (whole, fraction) = padded.split_at(padded.len() - scale);
        let fraction = fraction.trim_end_matches('0');
        if fraction.is_empty() { whole.to_owned() } else { format!("{whole}.{fraction}") }
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_whole_numbers_only() {
        assert_eq!(Amount::parse("1500"), Ok(Amount::new(1500)));
        assert_eq!(Amount::parse(&u128::MAX.to_string()), Ok(Amount::MAX));
        assert!(matches!(Amount::parse("-5"), Err(AmountError::Negative(_))));
        assert!(matches!(Amount::parse("1.5"), Err(AmountError::Fractional(_))));
        assert!(matches!(Amount::parse("1e18"), Err(AmountError::Fractional(_))));
        assert!(matches!(Amount::parse("340282366920938463463374607431768211456"), Err(AmountError::TooLarge(_))));
        assert!(matches!(Amount::parse("12abc"), Err(AmountError::NotDigits(_))));
        assert!(matches!(Amount::parse(""), Err(AmountError::Empty)));
    }

    #[test]
    fn formats_exact_decimals() {
        assert_eq!(Amount::new(1_500_000_000_000_000_000).to_decimal(18), "1.5");
        assert_eq!(Amount::new(1).to_decimal(8), "0.00000001");
        assert_eq!(Amount::new(0).to_decimal(8), "0");
        assert_eq!(Amount::new(100).to_decimal(2), "1");
        assert_eq!(Amount::new(12345).to_decimal(0), "12345");
    }
}
