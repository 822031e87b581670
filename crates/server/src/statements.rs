//! `GET /v1/statements`: a client's statement of position for a period, in JSON (canonical),
//! CSV or PDF, as `ringfence statement` makes it (`ringfence_reports::statement`); a client
//! token gets its own only. Making one records nothing: issuing is `ringfence statement
//! --issue` or `ringfence statements issue`.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ringfence_core::ClientId;
use ringfence_core::time::Timestamp;
use ringfence_reports::ReportError;
use ringfence_reports::statement::{self, Casp, Context, Valuation};
use ringfence_store::{CheckpointPolicy, Store, Subject};
use ringfence_wire::clock;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::routes::{STAFF_AND_CLIENTS, instant, query, store_unavailable, subject_of};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Format {
    Json,
    Csv,
    Pdf,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct StatementQuery {
    /// The client (a client token: its own).
    #[param(pattern = r"^[A-Za-z0-9._:@/-]{1,128}$", example = "client-1")]
    client: String,
    /// The period: a quarter (2026-Q1), a month (2026-03) or a year; or give from and to.
    #[param(example = "2026-Q1")]
    period: Option<String>,
    /// The period's start (a date: 00:00 UTC that day).
    from: Option<String>,
    /// The period's end (a date: the end of that day).
    to: Option<String>,
    /// The journal entry to make it from (its `journal_seq`: the same bytes as then); the head
    /// when left out.
    #[param(format = "uint64")]
    as_of: Option<u64>,
    /// `json` (default, canonical), `csv` or `pdf`.
    #[param(inline)]
    format: Option<Format>,
    /// The currency of the valuation (default EUR).
    #[param(pattern = "^[A-Z]{3}$", example = "EUR")]
    currency: Option<String>,
    /// How old a price may be at the period's end (default 24h).
    #[param(pattern = "^[0-9]+[dhms]$", example = "24h")]
    max_price_age: Option<String>,
}

/// The statement's bytes in `format`, made from `store` as of entry `as_of`.
#[expect(clippy::too_many_arguments, reason = "each is a separate input of the statement")]
fn make(
    store: &Store,
    context: &Context,
    casp: &Casp,
    client: &ClientId,
    from: Timestamp,
    to: Timestamp,
    as_of: u64,
    valuation: Valuation,
    format: Format,
) -> Result<Vec<u8>, ApiError> {
    let view =
        statement::statement(store, context, casp, client, from, to, as_of, valuation, clock::now()).map_err(|error| match error {
            ReportError::Invalid(message) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_statement", message),
            ReportError::Store(error) => store_unavailable(error),
        })?;
    match format {
        Format::Json => Ok(statement::json(&view)),
        Format::Csv => statement::csv(&view).map_err(|_| ApiError::internal()),
        Format::Pdf => Ok(ringfence_reports::pdf::render(&view)),
    }
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_query", message)
}

#[utoipa::path(get, path = "/v1/statements", params(StatementQuery),
    responses((status = 200, description = "The statement: JSON (the canonical bytes an issue's SHA-256 is of), CSV or PDF; its SHA-256 in `x-content-sha256`",
            content(("application/json"), ("text/csv"), ("application/pdf"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn statement(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<StatementQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let principal = state.authorize(&headers, STAFF_AND_CLIENTS)?;
    let q = query(q)?;
    let subject = subject_of(&Some(q.client.clone()), &None, None, &principal)?;
    let Subject::Client(client) = subject else { return Err(invalid("name a client")) };
    let (from, to) = match (&q.period, instant(&q.from, "from")?, instant(&q.to, "to")?) {
        (Some(period), None, None) => clock::period(period).map_err(|e| invalid(format!("period: {e}")))?,
        (None, Some(from), Some(to)) => (from, to),
        _ => return Err(invalid("give the period: period, or from and to")),
    };
    let (currency, max_price_age_micros) = crate::prices::valuation_of(q.currency.as_deref(), q.max_price_age.as_deref())?;
    let valuation = Valuation { currency, max_price_age_micros };
    let format = q.format.unwrap_or(Format::Json);
    let Some(casp) = state.casp.clone() else {
        return Err(ApiError::unavailable("statements are not configured on this server: start it with --casp-name (RINGFENCE_CASP_NAME)"));
    };
    let as_of = q.as_of;
    let own_only = principal.client.is_some();
    let (live_casp, live_client) = (std::sync::Arc::clone(&casp), client.clone());
    let made = state
        .engine
        .read(move |store| -> Result<Result<Vec<u8>, u64>, ApiError> {
            let register = store.register();
            if register.client(&live_client).is_none() {
                return Err(ApiError::not_found(format!("client {live_client} is not registered")));
            }
            let head = store.head().seq;
            match as_of {
                Some(seq) if seq > 0 && seq < head => {
                    // As of an earlier entry: from the register as it was then. A client may
                    // ask for the entries its issued statements reflect (each such request
                    // costs a replay of the journal up to it).
                    if own_only && !register.statements_of(&live_client).iter().any(|s| s.issue.as_of == seq) {
                        return Err(ApiError::forbidden(format!(
                            "a client reads its statement as of the journal head, or of an entry a statement issued to it reflects; no statement issued to {live_client} reflects entry {seq}"
                        )));
                    }
                    Ok(Err(seq))
                }
                _ => make(store, &Context::of(register), &live_casp, &live_client, from, to, as_of.unwrap_or(head), valuation, format).map(Ok),
            }
        })
        .await??;
    let made = match made {
        Ok(bytes) => bytes,
        Err(seq) => {
            // One register as of an earlier entry at a time, kept for the next request (a
            // period's statements mostly reflect the same entry); requests wait for it here,
            // not on a blocking thread.
            let location = state.location.clone();
            let mut held = std::sync::Arc::clone(&state.earlier).lock_owned().await;
            tokio::task::spawn_blocking(move || -> Result<Vec<u8>, ApiError> {
                if held.as_ref().is_none_or(|(store, _)| store.head().seq != seq) {
                    *held = None;
                    let store = Store::open_as_of(&location, CheckpointPolicy::process_default(), seq).map_err(store_unavailable)?;
                    let context = Context::of(store.register());
                    *held = Some((store, context));
                }
                let (store, context) = held.as_ref().ok_or_else(ApiError::internal)?;
                make(store, context, &casp, &client, from, to, seq, valuation, format)
            })
            .await
            .map_err(|_| ApiError::internal())??
        }
    };
    let content_type = match format {
        Format::Json => "application/json",
        Format::Csv => "text/csv; charset=utf-8",
        Format::Pdf => "application/pdf",
    };
    let digest = ringfence_reports::sha256_hex(&made);
    let mut response = (StatusCode::OK, made).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(value) = HeaderValue::from_str(&digest) {
        response.headers_mut().insert("x-content-sha256", value);
    }
    Ok(response)
}
