//! The report as JSON and as CSV (columns in `docs/statement-format.md#the-report`). Amounts
//! are strings of digits in the asset's smallest unit, deltas carry a `-` when negative.

use ringfence_wire::views::oversight::{FindingView, FindingsView, SeverityCountsView};

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

/// The report's view: counts per severity, then every finding in the report's order, empty
/// fields null.
pub fn view(report: &Report) -> FindingsView {
    let empty_is_null = |text: String| (!text.is_empty()).then_some(text);
    let findings = report
        .findings
        .iter()
        .map(|finding| FindingView {
            asset: finding.asset.to_string(),
            check: finding.check.code(),
            client: finding.client.as_ref().map(ToString::to_string),
            delta: finding.delta.map(|d| d.to_string()),
            detail: empty_is_null(finding.detail.clone()),
            observed: finding.observed.map(|a| a.to_string()),
            register: finding.register.map(|a| a.to_string()),
            severity: finding.severity.code(),
            source: finding.source.as_deref().map(str::to_owned),
            verdict: finding.verdict.code(),
            wallet: finding.wallet.as_ref().map(ToString::to_string),
        })
        .collect();
    FindingsView {
        counts: SeverityCountsView {
            critical: report.count(Severity::Critical),
            info: report.count(Severity::Info),
            warning: report.count(Severity::Warning),
        },
        findings,
        worst: report.worst().code(),
    }
}

/// The report's view as one JSON document and a newline.
pub fn to_json(report: &Report) -> String {
    let mut text = serde_json::to_string(&view(report)).unwrap_or_else(|error| unreachable!("a view of strings and numbers: {error}"));
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
