//! Runs and exceptions as JSON and CSV: what `ringfence recon show`, `ringfence exceptions
//! show` and the HTTP API print, from one place.

use ringfence_core::{Actor, Exception, Register, Resolution, RunRecord, Timestamp};
use ringfence_wire::clock;
use serde_json::{Value, json};

use ringfence_store::hex;

use crate::sources_json;

/// A recorded run as JSON; `ringfence recon show --json` gives the same.
pub fn run_view(register: &Register, record: &RunRecord) -> Value {
    let breaks: Vec<Value> = record
        .run
        .breaks
        .iter()
        .zip(&record.exceptions)
        .map(|(found, exception)| {
            json!({
                "exception": exception,
                "kind": found.kind.code(),
                "severity": found.severity.code(),
                "subject": found.subject,
                "detail": found.detail,
                "state": register.exception(*exception).map(|e| e.state.code()),
            })
        })
        .collect();
    let mut view = run_summary(record);
    if let Value::Object(object) = &mut view {
        object.remove("break_count");
        object.insert("breaks".into(), Value::Array(breaks));
    }
    view
}

pub fn run_summary(record: &RunRecord) -> Value {
    json!({
        "id": record.id,
        "recorded_at": clock::format(record.recorded_at),
        "ran_by": record.actor.as_str(),
        "cut_off": clock::format(record.run.cut_off),
        "clean": record.run.is_clean(),
        "sources": sources_json(&record.run.sources),
        "checked": record.run.checked,
        "matched": record.run.matched,
        "report_sha256": hex(&record.run.report_sha256),
        "break_count": record.run.breaks.len(),
    })
}

/// The breaks of a run as CSV (RFC 4180: text fields quoted, quotes doubled).
pub fn breaks_csv(record: &RunRecord) -> String {
    let quoted = |field: &str| format!("\"{}\"", field.replace('"', "\"\""));
    let mut text = String::from("exception,kind,severity,subject,detail\r\n");
    for (found, exception) in record.run.breaks.iter().zip(&record.exceptions) {
        text.push_str(&format!(
            "{exception},{},{},{},{}\r\n",
            found.kind.code(),
            found.severity.code(),
            quoted(&found.subject),
            quoted(&found.detail)
        ));
    }
    text
}

pub fn is_overdue(exception: &Exception, now: Timestamp) -> bool {
    !exception.is_resolved() && exception.due_at <= now
}

/// An exception as JSON: the fields of `ringfence exceptions show --json` and the entries'
/// sequence numbers.
pub fn exception_view(exception: &Exception, now: Timestamp) -> Value {
    let proposal = exception.proposal.as_ref().map(|p| {
        let (movement, explanation) = match &p.resolution {
            Resolution::Movement(key) => (Some(key.as_str()), None),
            Resolution::Explanation(text) => (None, Some(text.as_str())),
        };
        json!({"by": p.by.as_str(), "seq": p.seq, "reason": p.reason, "movement": movement, "explanation": explanation})
    });
    json!({
        "id": exception.id,
        "kind": exception.kind.code(),
        "severity": exception.severity.code(),
        "state": exception.state.code(),
        "subject": exception.subject,
        "detail": exception.detail,
        "run": exception.run,
        "seen_again": exception.seen_again,
        "opened_at": clock::format(exception.opened_at),
        "due_at": clock::format(exception.due_at),
        "overdue": is_overdue(exception, now),
        "escalated_at": exception.escalated.map(|(_, at)| clock::format(at)),
        "escalated_seq": exception.escalated.map(|(seq, _)| seq),
        "investigator": exception.investigator.as_ref().map(Actor::as_str),
        "proposal": proposal,
        "rejections": exception.rejections.iter().map(|(by, reason)| json!({"by": by.as_str(), "reason": reason})).collect::<Vec<_>>(),
        "resolved_by": exception.resolved.as_ref().map(|(by, _, _)| by.as_str()),
        "resolved_at": exception.resolved.as_ref().map(|(_, _, at)| clock::format(*at)),
        "resolved_seq": exception.resolved.as_ref().map(|(_, seq, _)| *seq),
    })
}
