//! The price register (issue 17): prices per asset and fiat currency, each at its instant (the
//! command's effective time), from its source, by its actor; and the price that values a
//! position at an instant.

use std::collections::BTreeMap;

use super::{Check, Register, reject};
use crate::ids::AssetId;
use crate::movement::Meta;
use crate::price::{NotValued, Price, PriceRecord};
use crate::safeguard::Currency;
use crate::status::{Outcome, Status};
use crate::time::Timestamp;

/// Prices by asset and currency, each series in order of instant, then of entry.
pub(super) type Prices = BTreeMap<(AssetId, Currency), Vec<PriceRecord>>;

impl Register {
    /// A price can be recorded: `Err` with `already_exists` (the same price, source and
    /// instant), `entity_conflict` (another price from that source at that instant),
    /// `unknown_asset` or `invalid_price` otherwise.
    pub(super) fn check_price(&self, meta: &Meta, price: &Price) -> Check<()> {
        let at = meta.effective_at;
        // The series is ordered by instant: only the prices at this one are compared.
        let same = self.prices.get(&(price.asset.clone(), price.currency)).and_then(|series| {
            let start = series.partition_point(|r| r.at < at);
            series[start..].iter().take_while(|r| r.at == at).find(|r| r.price.source == price.source)
        });
        if let Some(same) = same {
            return if same.price == *price {
                Err(Outcome::already_exists(same.seq))
            } else {
                reject(
                    Status::EntityConflict,
                    format!(
                        "a price of {} from {:?} at {at} is already recorded (sequence {}) as {}",
                        price.asset,
                        price.source,
                        same.seq,
                        same.price.display()
                    ),
                )
            };
        }
        if !self.asset_index.contains_key(&price.asset) {
            return reject(Status::UnknownAsset, format!("asset {} is not registered; register it before pricing it", price.asset));
        }
        if let Some(problem) = price.problem() {
            return reject(Status::InvalidPrice, problem);
        }
        if at > *self.now {
            return reject(
                Status::InvalidPrice,
                format!("a price at {at}, after the instant it is recorded ({}); a price is observed, not foretold", *self.now),
            );
        }
        Ok(())
    }

    pub(super) fn commit_price(&mut self, meta: &Meta, price: &Price) -> Outcome {
        let seq = self.next_seq();
        let at = meta.effective_at;
        let series = self.prices.entry((price.asset.clone(), price.currency)).or_default();
        let place = series.partition_point(|r| r.at <= at);
        series.insert(place, PriceRecord { price: price.clone(), at, seq, actor: meta.actor.as_str().to_owned() });
        Outcome::accepted(seq)
    }

    /// Every price series: asset, currency and its prices, oldest instant first.
    pub fn price_series(&self) -> impl Iterator<Item = (&AssetId, Currency, &[PriceRecord])> {
        self.prices.iter().map(|((asset, currency), series)| (asset, *currency, series.as_slice()))
    }

    /// The prices of `asset` in `currency`, oldest instant first.
    pub fn prices_of(&self, asset: &AssetId, currency: Currency) -> &[PriceRecord] {
        self.prices.get(&(asset.clone(), currency)).map_or(&[], Vec::as_slice)
    }

    /// The price that values `asset` in `currency` at `at`: the latest at or before it (of
    /// two at one instant, the later recorded), when it is at most `max_age_micros` older.
    pub fn price_at(&self, asset: &AssetId, currency: Currency, at: Timestamp, max_age_micros: i64) -> Result<&PriceRecord, NotValued> {
        self.price_as_of(asset, currency, at, max_age_micros, u64::MAX)
    }

    /// As [`Register::price_at`], among the prices recorded up to entry `as_of` only (for a
    /// report made again from the journal up to that entry).
    pub fn price_as_of(
        &self,
        asset: &AssetId,
        currency: Currency,
        at: Timestamp,
        max_age_micros: i64,
        as_of: u64,
    ) -> Result<&PriceRecord, NotValued> {
        let series = self.prices_of(asset, currency);
        let latest = series[..series.partition_point(|r| r.at <= at)].iter().rev().find(|r| r.seq <= as_of).ok_or(NotValued::NoPrice)?;
        if at.micros().saturating_sub(latest.at.micros()) > max_age_micros {
            return Err(NotValued::Stale { latest: latest.at, max_age_micros });
        }
        Ok(latest)
    }

    /// Every price series is under a registered asset, sorted, and filed under its own key.
    pub(super) fn check_prices(&self) -> Result<(), String> {
        for ((asset, currency), series) in &self.prices {
            if !self.asset_index.contains_key(asset) {
                return Err(format!("a price series names asset {asset}, which the state does not hold"));
            }
            let filed = series.iter().all(|r| r.price.asset == *asset && r.price.currency == *currency && r.seq <= self.seq);
            let sorted = series.windows(2).all(|pair| (pair[0].at, pair[0].seq) < (pair[1].at, pair[1].seq));
            if series.is_empty() || !filed || !sorted {
                return Err(format!("the price series of {asset} in {currency} is empty, misfiled or out of order"));
            }
        }
        Ok(())
    }
}
