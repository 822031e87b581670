//! Exceptions: what `ringfence exceptions show|list --json` print and `GET /v1/exceptions` and
//! `GET /v1/exceptions/{id}` return, with the OpenAPI schema taken from the same structs; the
//! CLI's text is rendered from their fields.

use ringfence_core::{Exception, ExceptionKind, ExceptionState, Resolution, Severity, Timestamp};
use serde::Serialize;
use utoipa::ToSchema;

use super::code;
use crate::clock;

/// An exception and its history.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExceptionView {
    /// 1, 2, 3… in the order opened.
    pub id: u64,
    #[serde(serialize_with = "code")]
    #[schema(value_type = crate::schema::ExceptionKindCode)]
    pub kind: ExceptionKind,
    #[serde(serialize_with = "code")]
    #[schema(value_type = crate::schema::SeverityCode)]
    pub severity: Severity,
    #[serde(serialize_with = "code")]
    #[schema(value_type = crate::schema::ExceptionStateCode)]
    pub state: ExceptionState,
    pub subject: String,
    pub detail: String,
    /// The run that opened it.
    pub run: u64,
    /// The runs that saw it again since.
    pub seen_again: Vec<u64>,
    pub opened_at: String,
    pub due_at: String,
    /// Unresolved and past its due time.
    pub overdue: bool,
    pub escalated_at: Option<String>,
    pub escalated_seq: Option<u64>,
    pub investigator: Option<String>,
    pub proposal: Option<ProposalView>,
    /// Proposals rejected before, oldest first.
    pub rejections: Vec<RejectionView>,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<String>,
    pub resolved_seq: Option<u64>,
}

/// A proposed (or, once resolved, the accepted) resolution.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProposalView {
    pub by: String,
    pub seq: u64,
    pub reason: String,
    /// The correcting movement's key, or null.
    pub movement: Option<String>,
    /// Why no movement is needed, or null.
    pub explanation: Option<String>,
}

/// A rejected proposal: who rejected it and why.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RejectionView {
    pub by: String,
    pub reason: String,
}

/// Unresolved and past its due time at `now`.
pub fn is_overdue(exception: &Exception, now: Timestamp) -> bool {
    !exception.is_resolved() && exception.due_at <= now
}

impl ExceptionView {
    pub fn of(exception: &Exception, now: Timestamp) -> ExceptionView {
        let proposal = exception.proposal.as_ref().map(|p| {
            let (movement, explanation) = match &p.resolution {
                Resolution::Movement(key) => (Some(key.as_str().to_owned()), None),
                Resolution::Explanation(text) => (None, Some(text.clone())),
            };
            ProposalView { by: p.by.as_str().to_owned(), seq: p.seq, reason: p.reason.clone(), movement, explanation }
        });
        ExceptionView {
            id: exception.id,
            kind: exception.kind,
            severity: exception.severity,
            state: exception.state,
            subject: exception.subject.clone(),
            detail: exception.detail.clone(),
            run: exception.run,
            seen_again: exception.seen_again.clone(),
            opened_at: clock::format(exception.opened_at),
            due_at: clock::format(exception.due_at),
            overdue: is_overdue(exception, now),
            escalated_at: exception.escalated.map(|(_, at)| clock::format(at)),
            escalated_seq: exception.escalated.map(|(seq, _)| seq),
            investigator: exception.investigator.as_ref().map(|a| a.as_str().to_owned()),
            proposal,
            rejections: exception
                .rejections
                .iter()
                .map(|(by, reason)| RejectionView { by: by.as_str().to_owned(), reason: reason.clone() })
                .collect(),
            resolved_by: exception.resolved.as_ref().map(|(by, _, _)| by.as_str().to_owned()),
            resolved_at: exception.resolved.as_ref().map(|(_, _, at)| clock::format(*at)),
            resolved_seq: exception.resolved.as_ref().map(|(_, seq, _)| *seq),
        }
    }
}
