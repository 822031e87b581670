//! The price register (`GET /v1/prices`; prices are recorded as `price` entities through
//! `POST /v1/entities`) and valuations (`GET /v1/valuation`): issue 17. The views are
//! `ringfence_wire::views::prices`, as `ringfence prices list --json` and `ringfence valuation
//! --json` print them; this module only authenticates, parses and renders.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use ringfence_core::price::MAX_AGE_DEFAULT_MICROS;
use ringfence_core::{AssetId, Currency, OwnAccount};
use ringfence_wire::clock;
use ringfence_wire::views::prices::{PricesView, ValuationView};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::routes::{STAFF, STAFF_AND_CLIENTS, balances_of, instant, page_limit, query, subject_of};

fn invalid(name: &str) -> impl Fn(String) -> ApiError + '_ {
    move |error| ApiError::bad_request("invalid_query", format!("{name}: {error}"))
}

fn currency(text: Option<&str>) -> Result<Option<Currency>, ApiError> {
    text.map(Currency::parse).transpose().map_err(invalid("currency"))
}

/// The `currency` (EUR when left out) and `max_price_age` (24h) of a query that values.
pub(crate) fn valuation_of(currency_text: Option<&str>, max_age: Option<&str>) -> Result<(Currency, i64), ApiError> {
    let currency = currency(currency_text)?.unwrap_or(Currency::EUR);
    let max_age = max_age.map(clock::parse_age).transpose().map_err(invalid("max_price_age"))?;
    Ok((currency, max_age.unwrap_or(MAX_AGE_DEFAULT_MICROS)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct PricesQuery {
    /// Only this asset (CAIP-19).
    #[param(pattern = "^[-a-z0-9]{3,8}:[-_a-zA-Z0-9]{1,32}/[-a-z0-9]{3,8}:[-.%a-zA-Z0-9]{1,128}$", example = "eip155:1/slip44:60")]
    asset: Option<String>,
    /// Only this currency (ISO 4217).
    #[param(pattern = "^[A-Z]{3}$", example = "EUR")]
    currency: Option<String>,
    /// Prices after this many (the `next_after` of the previous page).
    #[param(format = "uint32", maximum = 4_294_967_295_u32)]
    after: Option<u32>,
    /// At most this many (1 to 1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/v1/prices", params(PricesQuery),
    responses((status = 200, description = "Prices recorded, oldest instant first per asset and currency", body = PricesView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<PricesQuery>, QueryRejection>,
) -> Result<Json<PricesView>, ApiError> {
    state.authorize(&headers, STAFF)?;
    let q = query(q)?;
    let asset = q.asset.as_deref().map(AssetId::parse).transpose().map_err(|e| invalid("asset")(e.to_string()))?;
    let currency = currency(q.currency.as_deref())?;
    let limit = page_limit(q.limit)?;
    let after = q.after.unwrap_or(0) as usize;
    state
        .engine
        .read(move |store| {
            if let Some(asset) = &asset
                && store.register().asset(asset).is_none()
            {
                return Err(ApiError::not_found(format!("asset {asset} is not registered")));
            }
            Ok(Json(PricesView::of(store.register(), asset.as_ref(), currency, after, limit)))
        })
        .await?
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ValuationQuery {
    /// A client's positions (exactly one of client, wallet and own); a client token, its own.
    #[param(pattern = r"^[A-Za-z0-9._:@/-]{1,128}$", example = "client-1")]
    client: Option<String>,
    /// A wallet's holdings (exactly one of client, wallet and own).
    #[param(pattern = r"^[A-Za-z0-9._:@/-]{1,128}$", example = "omnibus-hot")]
    wallet: Option<String>,
    /// A firm own account (exactly one of client, wallet and own).
    #[param(value_type = Option<ringfence_wire::schema::OwnAccountCode>)]
    #[serde(default, deserialize_with = "ringfence_wire::input::optional_code")]
    own: Option<OwnAccount>,
    /// The valuation instant (balances and prices at it): RFC 3339 with an offset, or a date
    /// (the end of that day); now when left out.
    #[param(example = "2026-03-31")]
    at: Option<String>,
    /// The fiat currency to value in (ISO 4217, default EUR).
    #[param(pattern = "^[A-Z]{3}$", example = "EUR")]
    currency: Option<String>,
    /// How old a price may be and still value (2d, 24h, 90m, 30s; default 24h).
    #[param(pattern = "^[0-9]+[dhms]$", example = "24h")]
    max_price_age: Option<String>,
}

#[utoipa::path(get, path = "/v1/valuation", params(ValuationQuery),
    responses((status = 200, description = "The subject's balances valued in a fiat currency; an asset without a fresh price is not valued, with the reason", body = ValuationView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub(crate) async fn valuation(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<ValuationQuery>, QueryRejection>,
) -> Result<Json<ValuationView>, ApiError> {
    let principal = state.authorize(&headers, STAFF_AND_CLIENTS)?;
    let q = query(q)?;
    let subject = subject_of(&q.client, &q.wallet, q.own, &principal)?;
    let at = instant(&q.at, "at")?;
    let (currency, max_age) = valuation_of(q.currency.as_deref(), q.max_price_age.as_deref())?;
    state
        .engine
        .read(move |store| {
            let balances = balances_of(store, &subject, None, at)?;
            let at = at.unwrap_or_else(clock::now);
            Ok(Json(ValuationView::of(store.register(), &balances, at, currency, max_age, u64::MAX, principal.audience())))
        })
        .await?
}
