//! Limits before work. A request is authenticated from its headers before a byte of its body
//! is read; its body is read whole under the route's size limit, a deadline and a budget of
//! bytes shared by every request in flight; headers must arrive within a deadline (which also
//! closes idle keep-alive connections); and the number of open connections is capped. What an
//! unauthenticated caller can make the server hold is its headers, nothing more.
//!
//! | limit | default | answer |
//! |---|---|---|
//! | headers sent, idle keep-alive | 10 s | the connection is closed |
//! | body sent | 30 s | 408 `request_timeout` |
//! | body size | 8 MiB for `POST /v1/movements/batch`, 256 KiB elsewhere | 413 `body_too_large` |
//! | bodies being read, all connections | 64 MiB | 503 `busy` |
//! | open connections | 1,024 | 503 `busy`, then closed |
//! | `Authorization` headers | one | 400 `invalid_header` |

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use crate::AppState;
use crate::error::ApiError;

/// The largest body of `POST /v1/movements/batch`: a full batch of 8,190 movements fits.
pub const BATCH_BODY_BYTES_MAX: usize = 8 * 1024 * 1024;
/// The largest body of every other route: one movement, entity, policy or decision.
pub const BODY_BYTES_MAX: usize = 256 * 1024;

/// The server's limits; [`Limits::default`] is what `ringfence serve` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Time a client has to send a request's headers; also the longest an idle keep-alive
    /// connection stays open.
    pub header_read: Duration,
    /// Time a client has to send a request's whole body, once its headers are in.
    pub body_read: Duration,
    /// Bytes of request bodies held at once, across every connection.
    pub body_bytes_in_flight: usize,
    /// Connections open at once; one more is answered 503 and closed.
    pub connections: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_read: Duration::from_secs(10),
            body_read: Duration::from_secs(30),
            body_bytes_in_flight: 64 * 1024 * 1024,
            connections: 1024,
        }
    }
}

/// The limits with what enforces them.
#[derive(Debug)]
pub(crate) struct Enforced {
    pub(crate) limits: Limits,
    /// The body budget in KiB.
    bodies: Arc<Semaphore>,
}

impl Enforced {
    pub(crate) fn new(limits: Limits) -> Enforced {
        let kib = limits.body_bytes_in_flight.div_ceil(1024).clamp(1, Semaphore::MAX_PERMITS);
        Enforced { limits, bodies: Arc::new(Semaphore::new(kib)) }
    }
}

/// The body limit of a route.
pub fn body_limit(method: &str, route: &str) -> usize {
    if method == "POST" && route == "/v1/movements/batch" { BATCH_BODY_BYTES_MAX } else { BODY_BYTES_MAX }
}

fn too_large(limit: usize) -> ApiError {
    let hint = if limit == BATCH_BODY_BYTES_MAX { "; split the batch" } else { "" };
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", format!("the body is larger than {limit} bytes{hint}"))
}

/// The gate every matched route passes before its handler: one `Authorization` header, a
/// token with one of the route's roles (for a route that needs one), then the body read whole
/// within the limits. The handler still checks the roles itself (a route may need more than
/// the table says, as `POST /v1/entities` does per line type).
pub(crate) async fn gate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match admit(&state, request).await {
        Ok((request, permit)) => {
            let response = next.run(request).await;
            drop(permit);
            response
        }
        Err(error) => error.into_response(),
    }
}

async fn admit(state: &AppState, request: Request) -> Result<(Request, Option<tokio::sync::OwnedSemaphorePermit>), ApiError> {
    if request.headers().get_all(header::AUTHORIZATION).iter().nth(1).is_some() {
        return Err(ApiError::bad_request("invalid_header", "send one Authorization header, not several"));
    }
    // What the route needs, read without copying anything out of the request.
    let (roles, limit, has_body) = {
        let method = request.method().as_str();
        let route = request.extensions().get::<MatchedPath>().map_or("", MatchedPath::as_str);
        let roles: &[ringfence_core::Role] =
            crate::ROUTES.iter().find(|(m, r, _)| *m == method && *r == route).map_or(&[], |(_, _, roles)| roles);
        (roles, body_limit(method, route), method == "POST" || method == "PUT")
    };
    if !roles.is_empty() {
        state.authorize(request.headers(), roles)?;
    }
    if !has_body {
        return Ok((request, None));
    }
    let declared = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large(limit));
    }
    // Reserve what the body may take (what it declares, else the route's limit) from the
    // budget shared by every request, before reading it.
    let reserve = declared.map_or(limit, |length| length as usize).div_ceil(1024).max(1);
    let permit = Arc::clone(&state.limits.bodies)
        .try_acquire_many_owned(u32::try_from(reserve).unwrap_or(u32::MAX))
        .map_err(|_| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", "too many request bodies are being received; retry shortly"))?;
    let (parts, body) = request.into_parts();
    let bytes = match tokio::time::timeout(state.limits.limits.body_read, axum::body::to_bytes(body, limit)).await {
        Err(_) => {
            return Err(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                format!("the body did not arrive within {} s", state.limits.limits.body_read.as_secs()),
            ));
        }
        Ok(Err(error)) => {
            let length_limit = std::error::Error::source(&error).is_some_and(|source| source.is::<http_body_util::LengthLimitError>())
                || error.to_string().contains("length limit");
            return Err(if length_limit {
                too_large(limit)
            } else {
                ApiError::bad_request("invalid_body", "the body could not be read (the connection failed or the body was malformed)")
            });
        }
        Ok(Ok(bytes)) => bytes,
    };
    Ok((Request::from_parts(parts, Body::from(bytes)), Some(permit)))
}

/// The answer to a connection over the cap, written before it is closed.
pub(crate) fn busy_response() -> Vec<u8> {
    let body = r#"{"error":{"code":"busy","message":"too many connections are open; retry shortly"}}"#;
    format!(
        "HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}
