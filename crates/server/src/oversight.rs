//! Reconciliation runs and exceptions: the runs (list, read as JSON or CSV, make one now), the
//! exceptions their breaks open, the exception lifecycle (investigate, resolve, approve,
//! reject) and the exception policy. The register decides (crates/core/src/register/oversight.rs)
//! and `ringfence-watch` makes runs; this module only authenticates, parses and renders.
//!
//! A run asked for here is made as another process would make it: on a blocking thread, with a
//! second handle on the store (`Store::open` on the server's location), one at a time per
//! process. The store thread is then told to catch up, so a read sent after the answer sees
//! the run. Escalation of overdue exceptions is the store thread's own (crates/server/src/engine.rs).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ringfence_core::{
    Action, Actor, Command, Exception, ExceptionPolicy, ExceptionState, IdempotencyKey, Resolution, Severity, Status, Timestamp,
};
use ringfence_store::Store;
use ringfence_watch::views::breaks_csv;
use ringfence_watch::{RunRequest, WatchError};
use ringfence_wire::clock;
use ringfence_wire::views::oversight::{ExceptionView, RunSummaryView, RunView, is_overdue};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ErrorBody};
use crate::routes::{COMPLIANCE, CommandResult, RECONCILERS, REVIEWERS, STAFF, meta};
use crate::{AppState, Principal};

// ----- what the routes take and answer, for the OpenAPI document ------------------------------

/// The body of `POST /v1/recon/runs`; an empty body is `{}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "describes JSON parsed by `run_request`")]
pub(crate) struct RunBody {
    /// The cut-off: RFC 3339 with an offset, or a date (midnight UTC); not in the future.
    /// Null or left out: now.
    #[schema(
        value_type = Option<String>,
        pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])([Tt ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))?$",
        example = "2026-03-31T23:59:59Z"
    )]
    at: Option<String>,
}

/// A proposed resolution: a reason and exactly one of `movement` and `explanation`. Unknown
/// fields are errors (`ClosedBodies` in routes.rs says so of each variant).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
#[expect(dead_code, reason = "describes JSON parsed by `resolution_of`")]
pub(crate) enum ResolveBody {
    /// A movement recorded to correct the register (a correction, a late deposit…).
    Movement {
        /// Why this resolves the exception (1 to 1024 bytes, not blank).
        #[schema(min_length = 1, max_length = 1024, pattern = r"\S", example = "the deposit was booked late")]
        reason: String,
        /// The idempotency key of a recorded movement.
        #[schema(pattern = r"^[A-Za-z0-9._:@/-]{1,128}$", example = "dep-2026-03-02-0001")]
        movement: String,
    },
    /// Why no movement is needed.
    Explanation {
        /// Why this resolves the exception (1 to 1024 bytes, not blank).
        #[schema(min_length = 1, max_length = 1024, pattern = r"\S", example = "the node was behind")]
        reason: String,
        /// 1 to 1024 bytes, not blank.
        #[schema(min_length = 1, max_length = 1024, pattern = r"\S", example = "the next run at a later block matched")]
        explanation: String,
    },
}

/// The body of a rejection of a proposed resolution.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "describes JSON parsed by `reason_of`")]
pub(crate) struct ReasonBody {
    /// Why the resolution is rejected (1 to 1024 bytes, not blank), for the record.
    #[schema(min_length = 1, max_length = 1024, pattern = r"\S", example = "the correcting movement is for another client")]
    reason: String,
}

/// The exception policy.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "describes JSON parsed by `policy_of`")]
pub(crate) struct ExceptionPolicyBody {
    /// Hours from an exception's opening to its due time, after which it is escalated.
    #[schema(minimum = 1, maximum = 720, example = 24)]
    resolution_hours: u32,
    /// Hours a movement may wait for its chain transfer (and a transfer for its movement)
    /// before it is a break.
    #[schema(minimum = 1, maximum = 720, example = 24)]
    confirmation_hours: u32,
}

/// A page of runs, oldest first.
#[derive(Serialize, ToSchema)]
pub(crate) struct RunPage {
    items: Vec<RunSummaryView>,
    /// The `after` of the next page; null on the last.
    next_after: Option<u64>,
}

/// A page of exceptions, in the order opened.
#[derive(Serialize, ToSchema)]
pub(crate) struct ExceptionPage {
    items: Vec<ExceptionView>,
    /// The `after` of the next page; null on the last.
    next_after: Option<u64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct RunsQuery {
    /// Runs with an id above this (the `next_after` of the previous page).
    #[param(format = "uint64", maximum = 18_446_744_073_709_551_615_u64)]
    after: Option<u64>,
    /// At most this many (1 to 1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// How a run is rendered.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Format {
    #[default]
    Json,
    /// The breaks as CSV: exception, kind, severity, subject, detail.
    Csv,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct RunQuery {
    /// `json` (the default) or `csv` (the breaks).
    #[param(inline)]
    format: Option<Format>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ExceptionsQuery {
    /// Only exceptions in this state.
    #[param(value_type = Option<ringfence_wire::schema::ExceptionStateCode>)]
    #[serde(default, deserialize_with = "ringfence_wire::input::optional_code")]
    state: Option<ExceptionState>,
    /// Only exceptions of this severity.
    #[param(value_type = Option<ringfence_wire::schema::SeverityCode>)]
    #[serde(default, deserialize_with = "ringfence_wire::input::optional_code")]
    severity: Option<Severity>,
    /// `true`: only unresolved exceptions past their due time; `false`: only the others.
    overdue: Option<bool>,
    /// Exceptions with an id above this (the `next_after` of the previous page).
    #[param(format = "uint64", maximum = 18_446_744_073_709_551_615_u64)]
    after: Option<u64>,
    /// At most this many (1 to 1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

// ----- views ------------------------------------------------------------------------------

// ----- bodies -----------------------------------------------------------------------------

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_command", message)
}

fn json_of(raw: Result<Bytes, BytesRejection>) -> Result<Value, ApiError> {
    crate::routes::parse_json(&crate::routes::body(raw)?)
}

/// A JSON object holding no field but `fields`.
fn object_of(value: Value, fields: &[&str], shape: &str) -> Result<Map<String, Value>, ApiError> {
    let Value::Object(object) = value else {
        return Err(ApiError::bad_request("invalid_json", format!("the body must be a JSON object: {shape}")));
    };
    if let Some(unknown) = object.keys().find(|key| !fields.contains(&key.as_str())) {
        return Err(invalid(format!("unknown field {unknown:?}; the body is {shape}")));
    }
    Ok(object)
}

/// A string field: absent is `None`; anything but a string (null included) is refused.
fn text_field(object: &Map<String, Value>, name: &str, shape: &str) -> Result<Option<String>, ApiError> {
    match object.get(name) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(other) => Err(invalid(format!("{name} must be a string, not {other}; the body is {shape}"))),
    }
}

const RUN_SHAPE: &str = r#"{"at": "2026-03-31T23:59:59Z"}, {} or nothing"#;
const RESOLVE_SHAPE: &str = r#"{"reason": "…", "movement": "<key>"} or {"reason": "…", "explanation": "…"}"#;
const REASON_SHAPE: &str = r#"{"reason": "…"}"#;
const POLICY_SHAPE: &str = r#"{"resolution_hours": 24, "confirmation_hours": 24}"#;

/// The cut-off asked for; an empty body, `null` and `{}` ask for now.
fn cut_off_of(raw: Result<Bytes, BytesRejection>) -> Result<Option<Timestamp>, ApiError> {
    let bytes = crate::routes::body(raw)?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let object = match crate::routes::parse_json(&bytes)? {
        Value::Null => return Ok(None),
        value => object_of(value, &["at"], RUN_SHAPE)?,
    };
    match object.get("at") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => clock::parse_end(text).map(Some).map_err(|error| invalid(format!("at: {error}"))),
        Some(other) => Err(invalid(format!("at must be a string, not {other}; the body is {RUN_SHAPE}"))),
    }
}

fn resolution_of(raw: Result<Bytes, BytesRejection>) -> Result<(String, Resolution), ApiError> {
    let object = object_of(json_of(raw)?, &["reason", "movement", "explanation"], RESOLVE_SHAPE)?;
    let reason =
        text_field(&object, "reason", RESOLVE_SHAPE)?.ok_or_else(|| invalid(format!("reason is missing; the body is {RESOLVE_SHAPE}")))?;
    let resolution = match (text_field(&object, "movement", RESOLVE_SHAPE)?, text_field(&object, "explanation", RESOLVE_SHAPE)?) {
        (Some(key), None) => Resolution::Movement(
            IdempotencyKey::parse(&key).map_err(|error| ApiError::rejected(Status::InvalidResolution, &format!("movement: {error}")))?,
        ),
        (None, Some(text)) => Resolution::Explanation(text),
        _ => {
            return Err(ApiError::rejected(
                Status::InvalidResolution,
                "give exactly one of movement (the correcting movement's key) and explanation (why no movement is needed)",
            ));
        }
    };
    Ok((reason, resolution))
}

fn reason_of(raw: Result<Bytes, BytesRejection>) -> Result<String, ApiError> {
    let object = object_of(json_of(raw)?, &["reason"], REASON_SHAPE)?;
    text_field(&object, "reason", REASON_SHAPE)?.ok_or_else(|| invalid(format!("reason is missing; the body is {REASON_SHAPE}")))
}

fn policy_of(raw: Result<Bytes, BytesRejection>) -> Result<ExceptionPolicy, ApiError> {
    let object = object_of(json_of(raw)?, &["resolution_hours", "confirmation_hours"], POLICY_SHAPE)?;
    let hours = |name: &str| -> Result<u32, ApiError> {
        match object.get(name) {
            None => Err(invalid(format!("{name} is missing; the body is {POLICY_SHAPE}"))),
            Some(value) => value.as_u64().and_then(|hours| u32::try_from(hours).ok()).ok_or_else(|| {
                ApiError::rejected(Status::InvalidPolicy, &format!("{name} is {value}; it must be a whole number of hours, 1 to 720"))
            }),
        }
    };
    Ok(ExceptionPolicy { resolution_hours: hours("resolution_hours")?, confirmation_hours: hours("confirmation_hours")? })
}

// ----- helpers ----------------------------------------------------------------------------

fn path_id(id: Result<Path<u64>, PathRejection>, what: &str) -> Result<u64, ApiError> {
    id.map(|Path(id)| id).map_err(|_| ApiError::bad_request("invalid_path", format!("the {what}'s id is a whole number")))
}

/// What a retry finds: the earlier request of this actor already took effect (the entry's
/// sequence number, when the register keeps it) and what to say.
fn earlier(exception: &Exception, actor: &Actor, action: &Action) -> Option<(Option<u64>, String)> {
    let id = exception.id;
    match action {
        Action::InvestigateException { .. }
            if exception.state == ExceptionState::Investigating && exception.investigator.as_ref() == Some(actor) =>
        {
            Some((None, format!("you investigate exception {id} already")))
        }
        Action::ProposeResolution { reason, resolution, .. } => exception
            .proposal
            .as_ref()
            .filter(|p| exception.state == ExceptionState::Proposed && p.by == *actor && p.reason == *reason && p.resolution == *resolution)
            .map(|p| (Some(p.seq), format!("you proposed this resolution of exception {id} at sequence {}", p.seq))),
        Action::ApproveResolution { .. } => exception
            .resolved
            .as_ref()
            .filter(|(by, _, _)| by == actor)
            .map(|(_, seq, _)| (Some(*seq), format!("you approved the resolution of exception {id} at sequence {seq}"))),
        _ => None,
    }
}

/// Journals one exception action with the caller as its actor. A retry of an investigation,
/// proposal or approval that took effect answers 200 `already_exists`, so those requests are
/// idempotent; a retried rejection is 409 (the exception is no longer proposed).
async fn act(state: &AppState, principal: &Principal, id: u64, verb: &str, action: Action) -> Result<Response, ApiError> {
    let command = Command { meta: meta(principal, &format!("exception:{id}:{verb}"))?, action: action.clone() };
    let outcome = state.engine.submit(vec![command]).await?.pop().ok_or_else(|| ApiError::unavailable("no outcome"))?;
    if outcome.status == Status::ExceptionState {
        let actor = principal.actor.clone();
        let found = state.engine.read(move |store| store.register().exception(id).and_then(|e| earlier(e, &actor, &action))).await?;
        if let Some((seq, detail)) = found {
            let result = CommandResult { status: Status::AlreadyExists.code().into(), seq, detail };
            return Ok((StatusCode::OK, Json(result)).into_response());
        }
    }
    crate::routes::single_result(outcome)
}

// ----- runs -------------------------------------------------------------------------------

#[utoipa::path(get, path = "/v1/recon/runs", params(RunsQuery),
    responses((status = 200, description = "One page of reconciliation runs, oldest first", body = RunPage),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn runs(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<RunsQuery>, QueryRejection>,
) -> Result<Json<RunPage>, ApiError> {
    state.authorize(&headers, STAFF)?;
    let q = crate::routes::query(q)?;
    let limit = crate::routes::page_limit(q.limit)?;
    let after = q.after.unwrap_or(0);
    let page = state
        .engine
        .read(move |store| {
            let runs = store.register().recon_runs();
            let start = runs.partition_point(|run| run.id <= after);
            let items: Vec<RunSummaryView> = runs[start..].iter().take(limit).map(RunSummaryView::of).collect();
            let next_after = (items.len() == limit).then(|| items.last().map(|run| run.head.id)).flatten();
            RunPage { items, next_after }
        })
        .await?;
    Ok(Json(page))
}

#[utoipa::path(get, path = "/v1/recon/runs/{id}",
    params(("id" = u64, Path, format = "uint64", minimum = 1, maximum = 18_446_744_073_709_551_615_u64, description = "The run's id"), RunQuery),
    responses(
        (status = 200, description = "The run with its breaks; with `format=csv`, the breaks as CSV",
            content((RunView = "application/json"), (String = "text/csv"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub(crate) async fn run(
    State(state): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<u64>, PathRejection>,
    q: Result<Query<RunQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    state.authorize(&headers, STAFF)?;
    let id = path_id(id, "run")?;
    let format = crate::routes::query(q)?.format.unwrap_or_default();
    state
        .engine
        .read(move |store| {
            let register = store.register();
            let record = register.recon_run(id).ok_or_else(|| ApiError::not_found(format!("no reconciliation run has id {id}")))?;
            Ok(match format {
                Format::Json => Json(RunView::of(register, record)).into_response(),
                Format::Csv => ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], breaks_csv(record)).into_response(),
            })
        })
        .await?
}

/// What a run that failed answers.
fn run_failed(error: WatchError) -> ApiError {
    match error {
        WatchError::CutOffInFuture { .. } => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "cut_off_in_future", error.to_string()),
        WatchError::Refused { status, detail, what } => ApiError::rejected(status, &format!("{what}: {detail}")),
        error => {
            crate::log(&json!({"level": "error", "message": "a reconciliation run failed", "error": error.to_string()}));
            match error {
                WatchError::Store(_) | WatchError::Evidence { .. } | WatchError::Chain { .. } => ApiError::unavailable(
                    "the reconciliation run could not be completed (the server log says why); GET /v1/recon/runs shows whether it was recorded; retry",
                ),
                _ => ApiError::internal(),
            }
        }
    }
}

#[utoipa::path(post, path = "/v1/recon/runs",
    params(("Idempotency-Key" = String, Header, pattern = r"^[A-Za-z0-9._:@/-]{1,128}$", description = "Names the request; a run is not idempotent: sent again, it runs again", example = "run-2026-03-31")),
    request_body(content = Option<RunBody>, description = "The cut-off (default now); an empty body will do",
        example = json!({"at": "2026-03-31T23:59:59Z"})),
    responses(
        (status = 201, description = "The run is recorded; its breaks opened exceptions", body = RunView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, description = "Another run of this server is in progress, or the register refused what it read", body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 422, description = "A bad or future cut-off, or the register refused the run (the code says why)", body = ErrorBody),
        (status = 503, body = ErrorBody)
    ))]
pub(crate) async fn make_run(
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let principal = state.authorize(&headers, RECONCILERS)?;
    crate::routes::idempotency_key(&headers)?;
    let at = cut_off_of(raw)?;
    let now = clock::now();
    if let Some(at) = at
        && at > now
    {
        return Err(run_failed(WatchError::CutOffInFuture { cut_off: clock::format(at), now: clock::format(now) }));
    }
    if state.read_only {
        return Err(ApiError::read_only());
    }
    // One run at a time: each holds a second register in memory and reads every node.
    let Ok(_running) = state.recon.running.try_lock() else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "run_in_progress",
            "a reconciliation run of this server is in progress; retry when it is recorded",
        ));
    };
    let (location, recon, signer) = (state.location.clone(), std::sync::Arc::clone(&state.recon), state.signer.clone());
    let request = RunRequest { at, statements: Vec::new(), actor: principal.actor.clone() };
    let made = tokio::task::spawn_blocking(move || {
        let mut store = Store::open_with(&location, signer)?;
        ringfence_watch::run(&mut store, &recon.settings, &request).map(|result| result.id)
    })
    .await;
    let id = match made {
        Ok(Ok(id)) => id,
        Ok(Err(error)) => return Err(run_failed(error)),
        Err(panicked) => {
            crate::log(&json!({"level": "error", "message": "a reconciliation run panicked", "error": panicked.to_string()}));
            return Err(ApiError::internal());
        }
    };
    state.engine.refresh().await?;
    let view = state.engine.read(move |store| store.register().recon_run(id).map(|record| RunView::of(store.register(), record))).await?;
    match view {
        Some(view) => Ok((StatusCode::CREATED, Json(view)).into_response()),
        None => {
            Err(ApiError::unavailable(format!("run {id} is recorded but the server does not show it yet; GET /v1/recon/runs/{id} shortly")))
        }
    }
}

// ----- exceptions -------------------------------------------------------------------------

#[utoipa::path(get, path = "/v1/exceptions", params(ExceptionsQuery),
    responses((status = 200, description = "One page of exceptions, in the order opened", body = ExceptionPage),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn exceptions(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<ExceptionsQuery>, QueryRejection>,
) -> Result<Json<ExceptionPage>, ApiError> {
    state.authorize(&headers, STAFF)?;
    let q = crate::routes::query(q)?;
    let limit = crate::routes::page_limit(q.limit)?;
    let (wanted_state, wanted_severity) = (q.state, q.severity);
    // Exception ids are 1, 2, 3…: the one after `after` is at index `after`.
    let start = usize::try_from(q.after.unwrap_or(0)).unwrap_or(usize::MAX);
    let now = clock::now();
    let page = state
        .engine
        .read(move |store| {
            let register = store.register();
            let all = register.exceptions();
            let items: Vec<ExceptionView> = all
                .get(start..)
                .unwrap_or_default()
                .iter()
                .filter(|e| wanted_state.is_none_or(|s| e.state == s))
                .filter(|e| wanted_severity.is_none_or(|s| e.severity == s))
                .filter(|e| q.overdue.is_none_or(|overdue| is_overdue(e, now) == overdue))
                .take(limit)
                .map(|e| ExceptionView::of(register, e, now))
                .collect();
            let next_after = (items.len() == limit).then(|| items.last().map(|e| e.id)).flatten();
            ExceptionPage { items, next_after }
        })
        .await?;
    Ok(Json(page))
}

const EXCEPTION_ID: &str = "The exception's id";

#[utoipa::path(get, path = "/v1/exceptions/{id}",
    params(("id" = u64, Path, format = "uint64", minimum = 1, maximum = 18_446_744_073_709_551_615_u64, description = EXCEPTION_ID)),
    responses((status = 200, description = "The exception and its history", body = ExceptionView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub(crate) async fn exception(
    State(state): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<u64>, PathRejection>,
) -> Result<Json<ExceptionView>, ApiError> {
    state.authorize(&headers, STAFF)?;
    let id = path_id(id, "exception")?;
    let now = clock::now();
    state
        .engine
        .read(move |store| {
            let register = store.register();
            register
                .exception(id)
                .map(|e| Json(ExceptionView::of(register, e, now)))
                .ok_or_else(|| ApiError::not_found(format!("no exception has id {id}")))
        })
        .await?
}

#[utoipa::path(post, path = "/v1/exceptions/{id}/investigate",
    params(("id" = u64, Path, format = "uint64", minimum = 1, maximum = 18_446_744_073_709_551_615_u64, description = EXCEPTION_ID),
        ("Idempotency-Key" = String, Header, pattern = r"^[A-Za-z0-9._:@/-]{1,128}$", description = "Names the request", example = "investigate-7")),
    responses(
        (status = 201, description = "The caller investigates it (taking it over from another investigator)", body = CommandResult),
        (status = 200, description = "The caller investigates it already", body = CommandResult),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "No exception has that id", body = ErrorBody),
        (status = 409, description = "Proposed or resolved: `exception_state`", body = ErrorBody),
        (status = 503, body = ErrorBody)
    ))]
pub(crate) async fn investigate(
    State(state): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<u64>, PathRejection>,
) -> Result<Response, ApiError> {
    let principal = state.authorize(&headers, RECONCILERS)?;
    let id = path_id(id, "exception")?;
    crate::routes::idempotency_key(&headers)?;
    act(&state, &principal, id, "investigate", Action::InvestigateException { id }).await
}

#[utoipa::path(post, path = "/v1/exceptions/{id}/resolve",
    params(("id" = u64, Path, format = "uint64", minimum = 1, maximum = 18_446_744_073_709_551_615_u64, description = EXCEPTION_ID),
        ("Idempotency-Key" = String, Header, pattern = r"^[A-Za-z0-9._:@/-]{1,128}$", description = "Names the request", example = "resolve-7")),
    request_body(content = ResolveBody, description = "A reason and exactly one of movement and explanation",
        example = json!({"reason": "the node was behind", "explanation": "the next run at a later block matched"})),
    responses(
        (status = 201, description = "Proposed; it waits for someone other than the investigator to approve or reject it", body = CommandResult),
        (status = 200, description = "The caller proposed this resolution already", body = CommandResult),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "No exception has that id", body = ErrorBody),
        (status = 409, description = "Not investigated by the caller: `exception_state`", body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 422, description = "A bad body, a blank reason (`invalid_resolution`), a movement not recorded (`unknown_movement`)", body = ErrorBody),
        (status = 503, body = ErrorBody)
    ))]
pub(crate) async fn resolve(
    State(state): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<u64>, PathRejection>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let principal = state.authorize(&headers, RECONCILERS)?;
    let id = path_id(id, "exception")?;
    crate::routes::idempotency_key(&headers)?;
    let (reason, resolution) = resolution_of(raw)?;
    act(&state, &principal, id, "resolve", Action::ProposeResolution { id, reason, resolution }).await
}

#[utoipa::path(post, path = "/v1/exceptions/{id}/approve",
    params(("id" = u64, Path, format = "uint64", minimum = 1, maximum = 18_446_744_073_709_551_615_u64, description = EXCEPTION_ID),
        ("Idempotency-Key" = String, Header, pattern = r"^[A-Za-z0-9._:@/-]{1,128}$", description = "Names the request", example = "approve-resolution-7")),
    responses(
        (status = 201, description = "The resolution is approved: the exception is resolved", body = CommandResult),
        (status = 200, description = "The caller approved it already", body = CommandResult),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "No exception has that id", body = ErrorBody),
        (status = 409, description = "No proposed resolution (`exception_state`), or the caller investigated it (`investigator_cannot_approve`)", body = ErrorBody),
        (status = 503, body = ErrorBody)
    ))]
pub(crate) async fn approve(
    State(state): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<u64>, PathRejection>,
) -> Result<Response, ApiError> {
    let principal = state.authorize(&headers, REVIEWERS)?;
    let id = path_id(id, "exception")?;
    crate::routes::idempotency_key(&headers)?;
    act(&state, &principal, id, "approve", Action::ApproveResolution { id }).await
}

#[utoipa::path(post, path = "/v1/exceptions/{id}/reject",
    params(("id" = u64, Path, format = "uint64", minimum = 1, maximum = 18_446_744_073_709_551_615_u64, description = EXCEPTION_ID),
        ("Idempotency-Key" = String, Header, pattern = r"^[A-Za-z0-9._:@/-]{1,128}$", description = "Names the request", example = "reject-resolution-7")),
    request_body(content = ReasonBody),
    responses(
        (status = 201, description = "Rejected: the exception is investigated again", body = CommandResult),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "No exception has that id", body = ErrorBody),
        (status = 409, description = "No proposed resolution (`exception_state`), or the caller investigated it (`investigator_cannot_approve`)", body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 422, description = "A bad body or a blank reason (`invalid_resolution`)", body = ErrorBody),
        (status = 503, body = ErrorBody)
    ))]
pub(crate) async fn reject(
    State(state): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<u64>, PathRejection>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let principal = state.authorize(&headers, REVIEWERS)?;
    let id = path_id(id, "exception")?;
    crate::routes::idempotency_key(&headers)?;
    let reason = reason_of(raw)?;
    act(&state, &principal, id, "reject", Action::RejectResolution { id, reason }).await
}

// ----- policy -----------------------------------------------------------------------------

#[utoipa::path(get, path = "/v1/policy/exceptions",
    responses((status = 200, description = "The exception policy in force (`seq` null: the defaults)", body = ringfence_wire::views::policy::ExceptionClocksView),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn policy(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<ringfence_wire::views::policy::ExceptionClocksView>, ApiError> {
    state.authorize(&headers, STAFF)?;
    Ok(Json(state.engine.read(|store| ringfence_wire::views::policy::ExceptionClocksView::of(store.register())).await?))
}

#[utoipa::path(put, path = "/v1/policy/exceptions",
    params(("Idempotency-Key" = String, Header, pattern = r"^[A-Za-z0-9._:@/-]{1,128}$", description = "Names the request", example = "exception-policy-2026-11")),
    request_body(content = ExceptionPolicyBody),
    responses(
        (status = 201, description = "Set", body = CommandResult),
        (status = 202, description = "An approval policy is in force: pending approval (`seq` is the instruction's id)", body = CommandResult),
        (status = 200, description = "The same policy is in force (or pending) already", body = CommandResult),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, description = "Another change of the exception policy is pending approval", body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 422, description = "A bad body; hours outside 1 to 720 (`invalid_policy`)", body = ErrorBody),
        (status = 503, body = ErrorBody)
    ))]
pub(crate) async fn set_policy(
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let principal = state.authorize(&headers, COMPLIANCE)?;
    crate::routes::idempotency_key(&headers)?;
    let policy = policy_of(raw)?;
    let command = Command { meta: meta(&principal, "exception-policy")?, action: Action::SetExceptionPolicy(policy) };
    crate::routes::submit_one(&state, command).await
}
