//! Four-eyes routes: pending instructions (list, read, approve, reject) and the approval
//! policy. The decisions are the register's (crates/core/src/register/four_eyes.rs); this
//! module only authenticates, parses and renders.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ringfence_core::{Action, Actor, ApprovalPolicy, Command, PendingStateKind, Status};
use ringfence_wire::views::journal::PendingView;
use ringfence_wire::views::policy::ApprovalPolicyView;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::routes::meta;
use crate::routes::{APPROVERS, COMPLIANCE, CommandResult, STAFF};

/// The body of a rejection.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectBody {
    /// Why it is rejected (1 to 512 bytes, not blank), for the record.
    #[schema(min_length = 1, max_length = 512, pattern = r"\S", example = "the client did not ask for this")]
    pub reason: String,
}

/// The approval policy, for the OpenAPI document (the handler parses the import format's
/// `approval_policy` line, docs/import-format.md).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "describes the JSON the handler parses")]
pub struct PolicyBody {
    /// Approvals needed from distinct approvers, none of them the initiator.
    #[schema(minimum = 1, maximum = 9, example = 2)]
    approvals: u8,
    /// Hours a pending instruction waits for its approvals (default 24).
    #[schema(minimum = 1, maximum = 2160, example = 24)]
    expiry_hours: Option<u32>,
    /// Per registered asset (CAIP-19 id), the withdrawal amount (smallest unit, digits) above
    /// which a withdrawal needs approval. Assets not named: never.
    #[schema(value_type = Option<std::collections::BTreeMap<String, String>>, example = json!({"eip155:1/slip44:60": "10000000000000000000"}))]
    withdrawal_thresholds: Option<std::collections::BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct PendingQuery {
    /// Only instructions in this state.
    #[param(value_type = Option<ringfence_wire::schema::PendingStateKindCode>)]
    #[serde(default, deserialize_with = "ringfence_wire::input::optional_code")]
    state: Option<PendingStateKind>,
    /// Instructions with an id above this (the `next_after` of the previous page).
    #[param(format = "uint64", maximum = 18_446_744_073_709_551_615_u64)]
    after: Option<u64>,
    /// At most this many (1 to 1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// A page of pending instructions, oldest first.
#[derive(Serialize, ToSchema)]
pub(crate) struct PendingPage {
    items: Vec<PendingView>,
    /// The `after` of the next page; null on the last.
    next_after: Option<u64>,
}

#[utoipa::path(get, path = "/v1/pending", params(PendingQuery),
    responses((status = 200, description = "One page of pending instructions, oldest first", body = PendingPage),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<PendingQuery>, QueryRejection>,
) -> Result<Json<PendingPage>, ApiError> {
    state.authorize(&headers, STAFF)?;
    let q = crate::routes::query(q)?;
    let limit = crate::routes::page_limit(q.limit)?;
    let after = q.after.unwrap_or(0);
    let page = state
        .engine
        .read(move |store| {
            let register = store.register();
            let items: Vec<PendingView> = register
                .pendings()
                .filter(|p| p.id > after && q.state.is_none_or(|wanted| wanted == p.state.kind()))
                .take(limit)
                .map(|p| PendingView::of(register, p))
                .collect();
            let next_after = (items.len() == limit).then(|| items.last().map(|p| p.id)).flatten();
            PendingPage { items, next_after }
        })
        .await?;
    Ok(Json(page))
}

#[utoipa::path(get, path = "/v1/pending/{id}", params(("id" = u64, Path, format = "uint64", minimum = 1, maximum = 18_446_744_073_709_551_615_u64, description = "The pending instruction's id")),
    responses((status = 200, description = "The pending instruction", body = PendingView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn one(
    State(state): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<u64>, axum::extract::rejection::PathRejection>,
) -> Result<Json<PendingView>, ApiError> {
    state.authorize(&headers, STAFF)?;
    let id = pending_id(id)?;
    state
        .engine
        .read(move |store| {
            let register = store.register();
            register
                .pending(id)
                .map(|p| Json(PendingView::of(register, p)))
                .ok_or_else(|| ApiError::not_found(format!("no pending instruction has id {id}")))
        })
        .await?
}

fn pending_id(id: Result<Path<u64>, axum::extract::rejection::PathRejection>) -> Result<u64, ApiError> {
    id.map(|Path(id)| id).map_err(|_| ApiError::bad_request("invalid_path", "the pending instruction's id is a whole number"))
}

/// The result of an approval or rejection. A retry by the same approver of an approval
/// that was recorded gets that approval back (`already_exists`), so the request is idempotent.
async fn decided(state: &AppState, id: u64, actor: Actor, outcome: ringfence_core::Outcome) -> Result<Response, ApiError> {
    if outcome.status.is_journaled() {
        return crate::routes::single_result(outcome);
    }
    if matches!(outcome.status, Status::ApproverNotDistinct | Status::PendingClosed) {
        let earlier = state
            .engine
            .read(move |store| {
                store.register().pending(id).and_then(|p| p.approvals.iter().find(|(a, _)| *a == actor).map(|(_, seq)| *seq))
            })
            .await?;
        if let Some(seq) = earlier {
            return Ok((
                StatusCode::OK,
                Json(CommandResult {
                    status: Status::AlreadyExists.code().into(),
                    seq: Some(seq),
                    detail: format!("you approved pending instruction {id} at sequence {seq}"),
                }),
            )
                .into_response());
        }
    }
    Err(ApiError::rejected(outcome.status, &outcome.detail))
}

#[utoipa::path(post, path = "/v1/pending/{id}/approve",
    params(("id" = u64, Path, format = "uint64", minimum = 1, maximum = 18_446_744_073_709_551_615_u64, description = "The pending instruction's id"),
        ("Idempotency-Key" = String, Header, pattern = r"^[A-Za-z0-9._:@/-]{1,128}$", description = "Names the request; an approval is idempotent per approver", example = "approve-41")),
    responses(
        (status = 201, description = "The approval is recorded; `detail` says whether it applied the instruction", body = CommandResult),
        (status = 200, description = "This approver approved it before", body = CommandResult),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "No pending instruction has that id", body = ErrorBody),
        (status = 409, description = "Closed, expired, or the approver is the initiator", body = ErrorBody),
        (status = 422, description = "The instruction cannot take effect now (the code says why)", body = ErrorBody),
        (status = 503, body = ErrorBody)
    ))]
pub(crate) async fn approve(
    State(state): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<u64>, axum::extract::rejection::PathRejection>,
) -> Result<Response, ApiError> {
    let principal = state.authorize(&headers, APPROVERS)?;
    let id = pending_id(id)?;
    crate::routes::idempotency_key(&headers)?;
    let command = Command { meta: meta(&principal, &format!("approve:{id}"))?, action: Action::ApprovePending { id } };
    let outcome = state.engine.submit(vec![command]).await?.pop().ok_or_else(|| ApiError::unavailable("no outcome"))?;
    decided(&state, id, principal.actor, outcome).await
}

#[utoipa::path(post, path = "/v1/pending/{id}/reject",
    params(("id" = u64, Path, format = "uint64", minimum = 1, maximum = 18_446_744_073_709_551_615_u64, description = "The pending instruction's id"),
        ("Idempotency-Key" = String, Header, pattern = r"^[A-Za-z0-9._:@/-]{1,128}$", description = "Names the request", example = "reject-41")),
    request_body(content = RejectBody),
    responses(
        (status = 201, description = "Rejected; it will never apply", body = CommandResult),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)
    ))]
pub(crate) async fn reject(
    State(state): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<u64>, axum::extract::rejection::PathRejection>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let principal = state.authorize(&headers, APPROVERS)?;
    let id = pending_id(id)?;
    crate::routes::idempotency_key(&headers)?;
    let body: RejectBody = serde_json::from_slice(&crate::routes::body(raw)?)
        .map_err(|e| ApiError::bad_request("invalid_json", format!("the body must be {{\"reason\": \"…\"}}: {e}")))?;
    let command = Command { meta: meta(&principal, &format!("reject:{id}"))?, action: Action::RejectPending { id, reason: body.reason } };
    let outcome = state.engine.submit(vec![command]).await?.pop().ok_or_else(|| ApiError::unavailable("no outcome"))?;
    decided(&state, id, principal.actor, outcome).await
}

#[utoipa::path(get, path = "/v1/policy/approvals",
    responses((status = 200, description = "The approval policy in force (`in_force: false` when none is set)", body = ApprovalPolicyView),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn policy(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<ApprovalPolicyView>, ApiError> {
    state.authorize(&headers, STAFF)?;
    Ok(Json(state.engine.read(|store| ApprovalPolicyView::of(store.register())).await?))
}

#[utoipa::path(put, path = "/v1/policy/approvals",
    params(("Idempotency-Key" = String, Header, pattern = r"^[A-Za-z0-9._:@/-]{1,128}$", description = "Names the request", example = "policy-2026-11")),
    request_body(content = PolicyBody),
    responses(
        (status = 201, description = "Set (the first policy applies at once)", body = CommandResult),
        (status = 202, description = "A change of the policy in force: pending approval", body = CommandResult),
        (status = 200, description = "The same policy is in force (or pending) already", body = CommandResult),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)
    ))]
pub(crate) async fn set_policy(
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let principal = state.authorize(&headers, COMPLIANCE)?;
    crate::routes::idempotency_key(&headers)?;
    let mut object = crate::routes::policy_fields(raw, r#"{"approvals": 2}"#)?;
    object.insert("type".into(), Value::String("approval_policy".into()));
    let command = crate::routes::command_of(&state, object, &principal).await?;
    if !matches!(command.action, Action::SetApprovalPolicy(ApprovalPolicy { .. })) {
        return Err(ApiError::bad_request("invalid_json", "the body is not an approval policy"));
    }
    crate::routes::submit_one(&state, command).await
}
