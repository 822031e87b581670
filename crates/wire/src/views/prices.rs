//! Prices and valuations (issue 17): the price register as listed, and an account's balances
//! valued in a fiat currency at an instant, each value naming the price, its source and its
//! instant; an asset without a price fresh enough is "not valued", with the reason, never zero.

use ringfence_core::price::{NotValued, PriceRecord, age_text, value};
use ringfence_core::{AssetId, Currency, Register, Timestamp};
use serde::Serialize;
use utoipa::ToSchema;

use super::BalancesView;
use super::journal::Audience;
use crate::clock;

/// How values are rounded, stated in every valuation.
pub const ROUNDING: &str = "amount × price, rounded to the nearest minor unit of the currency, halves up";

/// A price as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PriceView {
    pub asset: String,
    /// ISO 4217, e.g. `EUR`.
    pub currency: String,
    /// Of the currency for one whole unit of the asset, exactly, e.g. `"3012.45"`.
    pub price: String,
    /// As money, e.g. `"EUR 3012.45"`.
    pub money: String,
    /// Where the price comes from, as recorded.
    pub source: String,
    /// The price's instant (its entry's effective time), RFC 3339.
    pub at: String,
    /// The journal entry that recorded it, and who did (null for a client: staff names are
    /// not shown to clients).
    pub seq: u64,
    pub actor: Option<String>,
}

impl PriceView {
    pub fn of(record: &PriceRecord, audience: Audience) -> PriceView {
        PriceView {
            asset: record.price.asset.as_str().to_owned(),
            currency: record.price.currency.as_str().to_owned(),
            price: record.price.decimal(),
            money: record.price.display(),
            source: record.price.source.clone(),
            at: clock::format(record.at),
            seq: record.seq,
            actor: (audience == Audience::Staff).then(|| record.actor.clone()),
        }
    }
}

/// Prices, oldest instant first per asset and currency; paged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PricesView {
    pub prices: Vec<PriceView>,
    /// How many prices the filter matched in all.
    pub total: usize,
    /// Give as `after` for the next page; null on the last.
    pub next_after: Option<usize>,
}

impl PricesView {
    /// The prices of `asset` (every asset when None) in `currency` (every currency when None),
    /// after the first `after`, at most `limit`.
    pub fn of(register: &Register, asset: Option<&AssetId>, currency: Option<Currency>, after: usize, limit: usize) -> PricesView {
        let matching: Vec<&PriceRecord> = register
            .price_series()
            .filter(|(a, c, _)| asset.is_none_or(|asked| asked == *a) && currency.is_none_or(|asked| asked == *c))
            .flat_map(|(_, _, series)| series.iter())
            .collect();
        let total = matching.len();
        let prices: Vec<PriceView> =
            matching.into_iter().skip(after).take(limit).map(|record| PriceView::of(record, Audience::Staff)).collect();
        let next = after.saturating_add(prices.len());
        PricesView { prices, total, next_after: (next < total).then_some(next) }
    }
}

/// An amount of fiat money, signed: in minor units and as money.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct MoneyView {
    pub currency: String,
    /// In minor units (cents), e.g. `"451868"`; negative only for a negative balance.
    #[schema(pattern = "^-?[0-9]+$")]
    pub amount: String,
    /// As money, e.g. `"EUR 4518.68"`.
    pub money: String,
}

impl MoneyView {
    pub fn of(currency: Currency, negative: bool, minor: u128) -> MoneyView {
        let sign = if negative && minor != 0 { "-" } else { "" };
        let money = currency.money(minor);
        let money = if sign.is_empty() { money } else { money.replacen(' ', " -", 1) };
        MoneyView { currency: currency.as_str().to_owned(), amount: format!("{sign}{minor}"), money }
    }
}

/// Why an asset has no value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct NotValuedView {
    /// `no_price`, `stale_price` or `value_too_large`.
    pub code: &'static str,
    pub reason: String,
}

/// One asset's balance and its value, or why it has none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AssetValueView {
    pub asset: String,
    /// The balance in the smallest unit and in whole units, exactly.
    #[schema(pattern = "^-?[0-9]+$")]
    pub amount: String,
    pub decimal: String,
    /// The price that values it; null when not valued.
    pub price: Option<PriceView>,
    /// The value; null when not valued.
    pub value: Option<MoneyView>,
    /// Why it is not valued; null when valued.
    pub not_valued: Option<NotValuedView>,
}

/// An account's balances valued in one fiat currency at an instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ValuationView {
    /// The account: `position:CLIENT`, `holding:WALLET` or `own:ACCOUNT`.
    pub subject: String,
    /// The valuation instant: the balances and the prices are those at it.
    pub at: String,
    pub currency: String,
    /// How old a price may be and still value, e.g. `"24h"`.
    pub max_price_age: String,
    pub rounding: &'static str,
    pub assets: Vec<AssetValueView>,
    /// The sum of the values of the assets valued.
    pub total: MoneyView,
    /// Whether every asset with a balance is valued: when false, `total` leaves some out.
    pub complete: bool,
}

impl ValuationView {
    /// Values `balances` (an account's balances at `at`) in `currency` with the prices at
    /// `at` no older than `max_age_micros` recorded up to entry `as_of` (`u64::MAX`: all),
    /// for `audience`.
    pub fn of(
        register: &Register,
        balances: &BalancesView,
        at: Timestamp,
        currency: Currency,
        max_age_micros: i64,
        as_of: u64,
        audience: Audience,
    ) -> ValuationView {
        let mut assets = Vec::with_capacity(balances.balances.len());
        // The total as a signed sum: i128 holds any difference of two u128 halves; a total
        // that does not fit is shown as not complete.
        let (mut positive, mut negative, mut complete) = (0u128, 0u128, true);
        for row in &balances.balances {
            let negative_balance = row.amount.starts_with('-');
            let units: u128 = row.amount.trim_start_matches('-').parse().unwrap_or_default();
            let asset = AssetId::parse(&row.asset).ok();
            let scale = asset.as_ref().and_then(|id| register.asset(id)).map_or(0, |a| a.scale);
            let valued = asset
                .as_ref()
                .map_or(Err(NotValued::NoPrice), |id| register.price_as_of(id, currency, at, max_age_micros, as_of))
                .and_then(|record| value(units, scale, &record.price).map(|minor| (record, minor)).ok_or(NotValued::TooLarge));
            let (price, value_view, not_valued) = match valued {
                Ok((record, minor)) => {
                    let sum = if negative_balance { &mut negative } else { &mut positive };
                    match sum.checked_add(minor) {
                        Some(total) => *sum = total,
                        None => complete = false,
                    }
                    (Some(PriceView::of(record, audience)), Some(MoneyView::of(currency, negative_balance, minor)), None)
                }
                Err(why) => {
                    complete = false;
                    (None, None, Some(NotValuedView { code: why.code(), reason: why.to_string() }))
                }
            };
            assets.push(AssetValueView {
                asset: row.asset.clone(),
                amount: row.amount.clone(),
                decimal: row.decimal.clone(),
                price,
                value: value_view,
                not_valued,
            });
        }
        let total = if positive >= negative {
            MoneyView::of(currency, false, positive - negative)
        } else {
            MoneyView::of(currency, true, negative - positive)
        };
        ValuationView {
            subject: balances.subject.clone(),
            at: clock::format(at),
            currency: currency.as_str().to_owned(),
            max_price_age: age_text(max_age_micros),
            rounding: ROUNDING,
            assets,
            total,
            complete,
        }
    }
}
