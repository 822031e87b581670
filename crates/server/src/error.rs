//! The one error type of the API: a status code, a stable machine-readable code and a human
//! message. Internal details are logged by the caller, never returned.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ringfence_core::Status;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `unauthenticated`, `forbidden`, `invalid_json`,
    /// `idempotency_conflict`, a status of the register such as `segregation_breach`…
    pub code: String,
    /// What was wrong and what to do, for a person.
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        ApiError { status, code: code.to_owned(), message: message.into() }
    }

    pub fn bad_request(code: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthenticated(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn busy() -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", "too many requests are waiting for the store; retry shortly")
    }

    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// A write sent to a server that reads a replica (`serve --read-database-url`).
    pub fn read_only() -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "read_only",
            "this server reads a read-only replica and records nothing; send writes to the writer's server",
        )
    }

    /// A bug in ringfence: the caller logged what happened; the answer says nothing internal.
    pub fn internal() -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "ringfence failed on this request (a bug); the server log says why")
    }

    /// A command the register refused: 404 for an unknown pending instruction or exception
    /// (the path's id); 409 for conflicts with what is recorded (idempotency, entity, a closed
    /// or expired pending instruction, an approver who may not approve, an exception not in the
    /// state the action needs, an investigator reviewing their own resolution, an escalation
    /// before the due time, a client instruction no longer live or given as irrevocable, a
    /// safeguarding check with nothing due); 422 for every broken rule and every unknown entity
    /// a body names (`own_account_use`, `encumbered_position`, `instruction_limit`,
    /// `insufficient_funds`, `instruction_mismatch`, `unknown_instruction`…). The code is the
    /// status's own.
    pub fn rejected(status: Status, detail: &str) -> ApiError {
        let http = match status {
            Status::UnknownPending | Status::UnknownException => StatusCode::NOT_FOUND,
            Status::IdempotencyConflict
            | Status::EntityConflict
            | Status::PendingClosed
            | Status::PendingExpired
            | Status::InitiatorCannotApprove
            | Status::ApproverNotDistinct
            | Status::ExceptionState
            | Status::InvestigatorCannotApprove
            | Status::ExceptionNotDue
            | Status::InstructionNotLive
            | Status::InstructionNotRevocable
            | Status::NothingDue => StatusCode::CONFLICT,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        ApiError::new(http, status.code(), detail)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: ErrorDetail { code: self.code, message: self.message } };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(axum::http::header::WWW_AUTHENTICATE, axum::http::HeaderValue::from_static("Bearer"));
        }
        response
    }
}
