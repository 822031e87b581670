//! The report as JSON and as CSV (columns in `docs/statement-format.md#the-report`). Amounts
//! are strings of digits in the asset's smallest unit, deltas carry a `-` when negative.

use serde_json::{Value, json};

use crate::reconcile::{Finding, Report, Severity};

/// The CSV report's columns, in order.
pub const CSV_COLUMNS: [&str; 11] =
    ["check", "severity", "verdict", "asset", "wallet", "client", "register", "observed", "delta", "source", "detail"];

fn text<T: ToString>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

fn fields(finding: &Finding) -> [String; 11] {
    [
        finding.check.code().to_owned(),
        finding.severity.code().to_owned(),
        finding.verdict.code().to_owned(),
        finding.asset.to_string(),
        text(finding.wallet.as_ref()),
        text(finding.client.as_ref()),
        text(finding.register),
        text(finding.observed),
        text(finding.delta),
        text(finding.source.as_deref()),
        finding.detail.clone(),
    ]
}

/// One JSON document: counts per severity, then every finding in the report's order. Empty
/// fields are `null`.
pub fn to_json(report: &Report) -> String {
    let findings: Vec<Value> = report
        .findings
        .iter()
        .map(|finding| {
            let mut object = serde_json::Map::new();
            for (column, value) in CSV_COLUMNS.iter().zip(fields(finding)) {
                object.insert((*column).to_owned(), if value.is_empty() { Value::Null } else { Value::String(value) });
            }
            Value::Object(object)
        })
        .collect();
    let document = json!({
        "worst": report.worst().code(),
        "counts": {
            "info": report.count(Severity::Info),
            "warning": report.count(Severity::Warning),
            "critical": report.count(Severity::Critical),
        },
        "findings": findings,
    });
    let mut text = document.to_string();
    text.push('\n');
    text
}

/// CSV with a header row of [`CSV_COLUMNS`], one row per finding; empty fields are empty.
pub fn to_csv(report: &Report) -> String {
    let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(Vec::new());
    let written = writer.write_record(CSV_COLUMNS).and_then(|()| report.findings.iter().try_for_each(|f| writer.write_record(fields(f))));
    // Writing to memory cannot fail, and every field is UTF-8.
    written.unwrap_or_else(|error| unreachable!("CSV into memory: {error}"));
    let bytes = writer.into_inner().unwrap_or_else(|error| unreachable!("CSV into memory: {error}"));
    String::from_utf8(bytes).unwrap_or_else(|error| unreachable!("CSV of UTF-8 fields: {error}"))
}
