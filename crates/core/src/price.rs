//! Prices and valuation (issue 17): what one whole unit of an asset was worth in a fiat
//! currency at an instant, by whose word (the source), and what a position is worth from it.
//! A price is journaled like everything else; its instant is the command's effective time and
//! who recorded it the command's actor. Values are exact: integers in the currency's minor
//! units (ISO 4217 exponent), rounded to the nearest minor unit, halves up.

use std::fmt;

use crate::ids::AssetId;
use crate::safeguard::Currency;
use crate::time::Timestamp;

/// Digits after the decimal point a price may carry.
pub const PRICE_SCALE_MAX: u8 = 18;
/// Bytes of a price source's name.
pub const SOURCE_MAX: usize = 128;
/// How old a price may be and still value a position, unless configured otherwise: 24 hours.
pub const MAX_AGE_DEFAULT_MICROS: i64 = 24 * 3_600_000_000;

/// A price: `units` × 10^-`scale` of `currency` for one whole unit of `asset`, as `source`
/// gave it. Kept in its shortest form (no trailing zeros after the point), so that one price
/// has one spelling.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Price {
    pub asset: AssetId,
    pub currency: Currency,
    pub units: u128,
    pub scale: u8,
    pub source: String,
}

impl Price {
    /// Parses a price given as a decimal (`3012.45`, `0.00001234`): digits, at most one point,
    /// at most [`PRICE_SCALE_MAX`] decimals, above zero. An error names what is wrong.
    pub fn parse_decimal(text: &str) -> Result<(u128, u8), String> {
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        let digits_only = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !digits_only(whole) || !digits_only(fraction) || (text.contains('.') && fraction.is_empty()) {
            return Err(format!("price {text:?} is not a decimal number such as 3012.45 (digits, at most one point, no sign or exponent)"));
        }
        let fraction = fraction.trim_end_matches('0');
        if fraction.len() > usize::from(PRICE_SCALE_MAX) {
            return Err(format!("price {text:?} has {} decimals; at most {PRICE_SCALE_MAX}", fraction.len()));
        }
        let units = format!("{whole}{fraction}")
            .parse::<u128>()
            .map_err(|_| format!("price {text:?} is too large (at most 38 significant digits)"))?;
        if units == 0 {
            return Err(format!("price {text:?} is zero; a price is above zero (leave out an asset that has none)"));
        }
        Ok((units, fraction.len() as u8))
    }

    /// The price as a decimal, e.g. `3012.45`.
    pub fn decimal(&self) -> String {
        crate::Amount::new(self.units).to_decimal(self.scale)
    }

    /// The price as money per unit, with at least the currency's minor digits: `EUR 3012.45`,
    /// `EUR 3050.10`, `EUR 0.000123`.
    pub fn display(&self) -> String {
        let decimal = self.decimal();
        let exponent = self.currency.exponent() as usize;
        let (whole, fraction) = decimal.split_once('.').unwrap_or((decimal.as_str(), ""));
        if exponent == 0 && fraction.is_empty() {
            return format!("{} {whole}", self.currency);
        }
        format!("{} {whole}.{fraction:0<width$}", self.currency, width = exponent.max(fraction.len()))
    }

    /// Why this price cannot be recorded, if it cannot (the register checks the asset).
    pub fn problem(&self) -> Option<String> {
        if self.units == 0 {
            return Some("a price of zero; a price is above zero".into());
        }
        if self.scale > PRICE_SCALE_MAX {
            return Some(format!("a price with {} decimals; at most {PRICE_SCALE_MAX}", self.scale));
        }
        if self.scale > 0 && self.units % 10 == 0 {
            return Some("a price with a trailing zero after the point; give its shortest form".into());
        }
        if self.source.trim().is_empty() {
            return Some("a price without a source; name where it comes from".into());
        }
        if self.source.len() > SOURCE_MAX || self.source.chars().any(char::is_control) {
            return Some(format!("a price source longer than {SOURCE_MAX} bytes or with control characters"));
        }
        None
    }
}

/// A price as recorded: the price, its instant, the entry that recorded it and who did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PriceRecord {
    pub price: Price,
    pub at: Timestamp,
    pub seq: u64,
    pub actor: String,
}

/// Why a position has no value: never zero instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotValued {
    /// No price of the asset in the currency at or before the instant.
    NoPrice,
    /// The latest price at or before the instant is older than the allowed age.
    Stale { latest: Timestamp, max_age_micros: i64 },
    /// The value does not fit in the currency's minor units as a u128.
    TooLarge,
}

impl NotValued {
    /// A stable code for programs.
    pub fn code(&self) -> &'static str {
        match self {
            NotValued::NoPrice => "no_price",
            NotValued::Stale { .. } => "stale_price",
            NotValued::TooLarge => "value_too_large",
        }
    }
}

impl fmt::Display for NotValued {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotValued::NoPrice => f.write_str("no price at or before the valuation instant"),
            NotValued::Stale { latest, max_age_micros } => {
                write!(f, "the latest price ({latest}) is older than the {} allowed", age_text(*max_age_micros))
            }
            NotValued::TooLarge => f.write_str("the value does not fit in 128 bits of minor units"),
        }
    }
}

/// An age for people: `24h`, `90m`, `30s`.
pub fn age_text(micros: i64) -> String {
    const SECOND: i64 = 1_000_000;
    if micros % (3_600 * SECOND) == 0 {
        format!("{}h", micros / (3_600 * SECOND))
    } else if micros % (60 * SECOND) == 0 {
        format!("{}m", micros / (60 * SECOND))
    } else {
        format!("{}s", micros / SECOND)
    }
}

/// The value of `amount` (smallest units of an asset with `asset_scale` decimals) at `price`,
/// in minor units of the price's currency: amount × price × 10^exponent / 10^(asset scale +
/// price scale), rounded to the nearest minor unit, halves up. `None` when it does not fit.
pub fn value(amount: u128, asset_scale: u8, price: &Price) -> Option<u128> {
    let mut numerator = Wide::from(amount).times(price.units);
    for _ in 0..price.currency.exponent() {
        numerator = numerator.times_small(10)?;
    }
    let places = u32::from(asset_scale) + u32::from(price.scale);
    // Halves up: floor((2n + d) / 2d) with d = 10^places; dividing by 2, then by 10 `places`
    // times, floors the same as dividing once.
    let mut divisor = Wide::from(1);
    for _ in 0..places {
        divisor = divisor.times_small(10)?;
    }
    let mut rounded = numerator.times_small(2)?.plus(&divisor)?;
    rounded.divide_small(2);
    let mut left = places;
    while left > 0 {
        let step = left.min(19);
        rounded.divide_small(10u64.pow(step));
        left -= step;
    }
    rounded.to_u128()
}

/// An unsigned integer of 384 bits, little-endian 64-bit limbs: wide enough for a u128 amount
/// times a u128 price times a currency's minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Wide([u64; 6]);

impl From<u128> for Wide {
    fn from(value: u128) -> Wide {
        Wide([value as u64, (value >> 64) as u64, 0, 0, 0, 0])
    }
}

impl Wide {
    /// `self` × `factor`, where `self` fits in 128 bits (it always does where this is used).
    fn times(self, factor: u128) -> Wide {
        let mut out = [0u64; 6];
        let factor = [factor as u64, (factor >> 64) as u64];
        for (i, &a) in self.0.iter().take(2).enumerate() {
            let mut carry = 0u128;
            for (j, &b) in factor.iter().enumerate() {
                let sum = u128::from(a) * u128::from(b) + u128::from(out[i + j]) + carry;
                out[i + j] = sum as u64;
                carry = sum >> 64;
            }
            let mut k = i + 2;
            while carry > 0 && k < 6 {
                let sum = u128::from(out[k]) + carry;
                out[k] = sum as u64;
                carry = sum >> 64;
                k += 1;
            }
        }
        Wide(out)
    }

    fn times_small(self, factor: u64) -> Option<Wide> {
        let mut out = [0u64; 6];
        let mut carry = 0u128;
        for (slot, &limb) in out.iter_mut().zip(&self.0) {
            let product = u128::from(limb) * u128::from(factor) + carry;
            *slot = product as u64;
            carry = product >> 64;
        }
        (carry == 0).then_some(Wide(out))
    }

    fn plus(self, other: &Wide) -> Option<Wide> {
        let mut out = [0u64; 6];
        let mut carry = false;
        for ((slot, &a), &b) in out.iter_mut().zip(&self.0).zip(&other.0) {
            let (sum, first) = a.overflowing_add(b);
            let (sum, second) = sum.overflowing_add(u64::from(carry));
            *slot = sum;
            carry = first || second;
        }
        (!carry).then_some(Wide(out))
    }

    /// Divides in place, rounding down.
    fn divide_small(&mut self, divisor: u64) {
        let mut remainder = 0u128;
        for limb in self.0.iter_mut().rev() {
            let current = (remainder << 64) | u128::from(*limb);
            *limb = (current / u128::from(divisor)) as u64;
            remainder = current % u128::from(divisor);
        }
    }

    fn to_u128(self) -> Option<u128> {
        self.0[2..].iter().all(|&limb| limb == 0).then(|| u128::from(self.0[0]) | (u128::from(self.0[1]) << 64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(units: u128, scale: u8) -> Price {
        Price {
            asset: AssetId::parse("eip155:1/slip44:60").unwrap_or_else(|e| panic!("{e}")),
            currency: Currency::parse("EUR").unwrap_or_else(|e| panic!("{e}")),
            units,
            scale,
            source: "test".into(),
        }
    }

    #[test]
    fn decimals_parse_to_their_shortest_form() {
        assert_eq!(Price::parse_decimal("3012.45"), Ok((301_245, 2)));
        assert_eq!(Price::parse_decimal("3012.450"), Ok((301_245, 2)));
        assert_eq!(Price::parse_decimal("3000"), Ok((3000, 0)));
        assert_eq!(Price::parse_decimal("3000.000"), Ok((3000, 0)));
        assert_eq!(Price::parse_decimal("0.000000000000000001"), Ok((1, 18)));
        for bad in ["", ".5", "5.", "-1", "1e3", "1.2.3", "0", "0.00", " 1", "0.0000000000000000001"] {
            assert!(Price::parse_decimal(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn a_price_shows_as_money_with_at_least_the_minor_digits() {
        assert_eq!(eur(22_501, 1).display(), "EUR 2250.10");
        assert_eq!(eur(3000, 0).display(), "EUR 3000.00");
        assert_eq!(eur(123, 6).display(), "EUR 0.000123");
        let mut yen = eur(4_512, 0);
        yen.currency = Currency::parse("JPY").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(yen.display(), "JPY 4512");
        yen.scale = 1;
        assert_eq!(yen.display(), "JPY 451.2");
    }

    #[test]
    fn values_are_exact_and_rounded_halves_up() {
        // 1.5 ETH at EUR 3012.45: EUR 4518.675 → 4518.68.
        assert_eq!(value(1_500_000_000_000_000_000, 18, &eur(301_245, 2)), Some(451_868));
        // 1 wei at EUR 3012.45 is EUR 0.00000000000000301245: rounds to 0.
        assert_eq!(value(1, 18, &eur(301_245, 2)), Some(0));
        // Exactly half a cent rounds up: 0.5 unit at EUR 0.01.
        assert_eq!(value(5, 1, &eur(1, 2)), Some(1));
        assert_eq!(value(4, 1, &eur(1, 2)), Some(0));
        // JPY has no minor unit.
        let mut yen = eur(4_512_345, 1);
        yen.currency = Currency::parse("JPY").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(value(2, 0, &yen), Some(902_469));
        // The largest amount at a large price does not fit; a small one does, past 128 bits
        // on the way.
        assert_eq!(value(u128::MAX, 0, &eur(u128::MAX, 0)), None);
        assert_eq!(value(u128::MAX, 38, &eur(10u128.pow(30), 0)), Some(u128::MAX / 10u128.pow(6)));
    }

    #[test]
    fn wide_arithmetic_agrees_with_u128_where_both_fit() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..10_000 {
            let amount = u128::from(next() % 1_000_000_000_000);
            let units = u128::from(next() % 10_000_000);
            let asset_scale = (next() % 19) as u8;
            let scale = (next() % 7) as u8;
            let price = eur(units.max(1), scale);
            let divisor = 10u128.pow(u32::from(asset_scale) + u32::from(scale));
            let numerator = amount * price.units * 100;
            let expected = (2 * numerator + divisor) / (2 * divisor);
            assert_eq!(value(amount, asset_scale, &price), Some(expected), "{amount} at {units}e-{scale}, asset scale {asset_scale}");
        }
    }
}
