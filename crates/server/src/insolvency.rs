//! `GET /v1/insolvency/pack`: one file of the insolvency pack at a cut-off (issue 18;
//! docs/insolvency.md), as `ringfence insolvency pack` writes it, for compliance and auditors.
//! Made on a blocking thread from a read-only handle replayed up to the head the server holds
//! (never on the engine thread: a pack over a million positions takes seconds), one at a time.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ringfence_reports::ReportError;
use ringfence_reports::insolvency;
use ringfence_store::{CheckpointPolicy, Store};
use ringfence_wire::clock;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::routes::{INSPECTORS, instant, query, store_unavailable};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct PackQuery {
    /// The cut-off of effective time (a date: the end of that day); not after now.
    #[param(example = "2026-06-30T23:59:59Z", pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}")]
    at: String,
    /// The file: `manifest.json` (default), `client_positions.csv`, `pool_holdings.csv`,
    /// `shortfall.csv`, `client_fiat.csv`, `fiat_accounts.csv`, `exceptions.csv` or
    /// `reconciliations.csv`.
    #[param(example = "shortfall.csv")]
    file: Option<String>,
    /// The journal entry to make it from (a manifest's `journal_seq`: the same bytes as then);
    /// the head when left out.
    #[param(format = "uint64", minimum = 1)]
    as_of: Option<u64>,
    /// `true`: where the report of a run the pack needs is not in the server's evidence
    /// directory, pass over that run (its wallets count at the register's figure unless an
    /// earlier run observed them) instead of answering 422.
    register_holdings: Option<bool>,
}

#[utoipa::path(get, path = "/v1/insolvency/pack", params(PackQuery),
    responses((status = 200, description = "The file: JSON (the manifest) or CSV; its SHA-256 in `x-content-sha256`",
            content(("application/json"), ("text/csv"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn pack(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<PackQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    state.authorize(&headers, INSPECTORS)?;
    let q = query(q)?;
    let Some(at) = instant(&Some(q.at.clone()), "at")? else { return Err(ApiError::bad_request("invalid_query", "at: give the cut-off")) };
    let name = q.file.clone().unwrap_or_else(|| "manifest.json".to_owned());
    let head = state.head().await?.seq;
    let seq = match q.as_of {
        None => head,
        Some(seq) if seq == 0 || seq > head => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_pack",
                format!("as_of: the journal holds entries 1 to {head}; a pack reflects one of them, not {seq}"),
            ));
        }
        Some(seq) => seq,
    };
    // One pack at a time: each holds a second register and every account's balance.
    let Ok(_making) = state.packing.try_lock() else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "pack_in_progress",
            "an insolvency pack is being made on this server; retry when it is done",
        ));
    };
    let (location, evidence) = (state.location.clone(), state.recon.settings.evidence_dir.clone());
    let missing =
        if q.register_holdings == Some(true) { insolvency::MissingReport::RegisterHoldings } else { insolvency::MissingReport::Refuse };
    let made = tokio::task::spawn_blocking(move || -> Result<insolvency::Pack, ApiError> {
        let store = Store::open_as_of(&location, CheckpointPolicy::process_default(), seq).map_err(store_unavailable)?;
        let mut reports = |run: &ringfence_core::RunRecord| insolvency::kept_observations(evidence.as_deref(), run);
        insolvency::pack(&store, at, clock::now(), &mut reports, missing).map_err(invalid)
    })
    .await
    .map_err(|_| ApiError::internal())??;
    let Some(file) = made.files.into_iter().find(|file| file.name == name) else {
        return Err(ApiError::not_found(format!(
            "file {name:?} is not a file of the pack: manifest.json, client_positions.csv, pool_holdings.csv, shortfall.csv, client_fiat.csv, fiat_accounts.csv, exceptions.csv, reconciliations.csv"
        )));
    };
    let content_type = if file.name.ends_with(".json") { "application/json" } else { "text/csv; charset=utf-8" };
    let digest = ringfence_reports::sha256_hex(&file.bytes);
    let mut response = (StatusCode::OK, file.bytes).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(value) = HeaderValue::from_str(&digest) {
        response.headers_mut().insert("x-content-sha256", value);
    }
    Ok(response)
}

fn invalid(error: ReportError) -> ApiError {
    match error {
        ReportError::Invalid(message) if message.contains("is not at hand") => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "report_missing",
            format!(
                "{message}; keep it in the server's evidence directory, or ask with register_holdings=true to count the register's holdings where no report is at hand"
            ),
        ),
        ReportError::Invalid(message) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_pack", message),
        ReportError::Store(error) => store_unavailable(error),
    }
}
