//! The breaks of a run as CSV, for `ringfence recon show --csv` and the API. (Runs and
//! exceptions as JSON are the typed views of `ringfence_wire::views::oversight`.)

use ringfence_core::RunRecord;

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
