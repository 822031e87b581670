//! The policy report (`GET /v1/policy`, what `ringfence policy show --json` prints) and the
//! safeguarding policy (read and set). The report is `ringfence_wire::views::policy::report`, the
//! policy body is parsed by `ringfence_wire::input::safeguarding_policy_from_json` and the
//! register decides (crates/core/src/register/safeguard.rs); this module only authenticates,
//! parses and renders.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::Response;
use ringfence_core::{Action, Command, SafeguardAction, Status};
use ringfence_wire::clock;
use ringfence_wire::views::policy::{self, PolicyReport, SafeguardingPolicyView};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::routes::{COMPLIANCE, CommandResult, PercentText, STAFF, meta};

// ----- what the routes take and answer, for the OpenAPI document ------------------------------

/// The safeguarding policy: the fields of the `safeguarding_policy` import line without `type`
/// (docs/import-format.md). Each field left out (or null) takes its default, so `{}` is the
/// default policy. Unknown fields are errors.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "describes JSON parsed by `safeguarding_policy_from_json`")]
pub(crate) struct SafeguardingPolicyBody {
    /// Whether client assets may be used for the firm's own account: `forbidden` (the
    /// default) or `express_consent`.
    #[schema(inline)]
    own_account_use: Option<ringfence_wire::schema::OwnAccountUseCode>,
    /// The share of each asset's client holdings kept in cold wallets, unless `cold_floors`
    /// names the asset (default 80 %).
    cold_floor: Option<PercentText>,
    /// Per registered asset (CAIP-19 id), its own cold floor.
    #[schema(value_type = Option<std::collections::BTreeMap<String, PercentText>>, example = json!({"eip155:1/slip44:60": "90"}))]
    cold_floors: Option<std::collections::BTreeMap<String, PercentText>>,
    /// Days before a sub-custodian's authorisation lapses from which it is flagged.
    #[schema(example = 30)]
    lapse_notice_days: Option<u32>,
    /// Days on which client fiat funds need not be placed (besides weekends and TARGET2
    /// holidays), each `YYYY-MM-DD` once.
    #[schema(value_type = Option<Vec<String>>, example = json!(["2026-12-24"]))]
    closing_days: Option<Vec<String>>,
    /// The largest share of a currency's placed client funds at one institution.
    concentration_limit: Option<PercentText>,
    /// The client categories the cold floor protects, each once (default `["retail"]`): the
    /// omnibus pool is held to it when any omnibus client is of one of them, an individually
    /// segregated client's wallets when that client is.
    #[schema(value_type = Option<Vec<ringfence_wire::schema::ClientCategoryCode>>, example = json!(["retail"]))]
    cold_floor_categories: Option<Vec<String>>,
    /// The longest time after a reconciliation run before the next is overdue, 1 to 744 hours
    /// (default 26: daily, with two hours' grace).
    #[schema(minimum = 1, maximum = 744, example = 26)]
    recon_max_gap_hours: Option<u32>,
    /// How many days after its registration or last review an institution holding client
    /// funds is due for review, 1 to 1095 (default 365).
    #[schema(minimum = 1, maximum = 1095, example = 365)]
    institution_review_days: Option<u32>,
    /// How many days after the end of a client's last statement period (or its registration)
    /// its next statement of position is due, 1 to 366 (default 92).
    #[schema(minimum = 1, maximum = 366, example = 92)]
    statement_interval_days: Option<u32>,
}

const POLICY_SHAPE: &str = r#"{"cold_floor": "80", "cold_floors": {"eip155:1/slip44:60": "90"}}"#;

// ----- routes -----------------------------------------------------------------------------

#[utoipa::path(get, path = "/v1/policy",
    responses((status = 200, description = "Every policy in force with the evidence of how it is met", body = ringfence_wire::views::policy::PolicyReport),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn report(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<PolicyReport>, ApiError> {
    state.authorize(&headers, STAFF)?;
    let now = clock::now();
    Ok(Json(state.engine.read(move |store| policy::report(store.register(), now)).await?))
}

#[utoipa::path(get, path = "/v1/policy/safeguarding",
    responses((status = 200, description = "The safeguarding policy in force (`seq` null: the defaults)", body = ringfence_wire::views::policy::SafeguardingPolicyView),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn policy(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<SafeguardingPolicyView>, ApiError> {
    state.authorize(&headers, STAFF)?;
    // The report's own section, from the one function that builds it for both.
    Ok(Json(state.engine.read(|store| policy::safeguarding(store.register())).await?))
}

#[utoipa::path(put, path = "/v1/policy/safeguarding",
    params(("Idempotency-Key" = String, Header, pattern = r"^[A-Za-z0-9._:@/-]{1,128}$", description = "Names the request", example = "safeguarding-policy-2026-11")),
    request_body(content = SafeguardingPolicyBody, example = json!({"cold_floor": "80", "cold_floors": {"eip155:1/slip44:60": "90"}, "lapse_notice_days": 30})),
    responses(
        (status = 201, description = "Set", body = CommandResult),
        (status = 202, description = "An approval policy is in force: pending approval (`seq` is the instruction's id)", body = CommandResult),
        (status = 200, description = "The same policy is in force (or pending) already", body = CommandResult),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, description = "Another change of the safeguarding policy is pending approval", body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 422, description = "A bad body or a value out of bounds (`invalid_policy`), an asset not registered (`unknown_asset`), a field the server sets (`field_not_allowed`)", body = ErrorBody),
        (status = 503, body = ErrorBody)
    ))]
pub(crate) async fn set_policy(
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let principal = state.authorize(&headers, COMPLIANCE)?;
    crate::routes::idempotency_key(&headers)?;
    let fields = crate::routes::policy_fields(raw, POLICY_SHAPE)?;
    let policy = ringfence_wire::input::safeguarding_policy_from_json(Value::Object(fields))
        .map_err(|error| ApiError::rejected(Status::InvalidPolicy, &format!("{error}; the body is like {POLICY_SHAPE}")))?;
    let command = Command { meta: meta(&principal, "policy:safeguarding")?, action: Action::Safeguard(SafeguardAction::SetPolicy(policy)) };
    crate::routes::submit_one(&state, command).await
}
