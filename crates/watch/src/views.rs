//! Runs as JSON and CSV: what `ringfence recon show` and the HTTP API print, from one place.
//! (Exceptions are the typed view `ringfence_wire::views::oversight::ExceptionView`.)

use ringfence_core::{Register, RunRecord};
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
