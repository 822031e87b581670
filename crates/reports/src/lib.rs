//! Reports read from the store for the people outside the firm: statements of position to
//! clients (issue 17), the insolvency pack for an administrator (issue 18). A report is a typed view (`ringfence_wire::views`) built from the store
//! up to one journal entry, then rendered: canonical JSON, CSV and PDF. The same journal up to
//! the same entry gives the same bytes.

pub mod insolvency;
pub mod pdf;
pub mod statement;

/// Why a report cannot be made: input that names what is wrong, or the store.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] ringfence_store::StoreError),
}

/// A CSV cell as a spreadsheet will show and not run: text that starts with `=`, `+`, `-`,
/// `@`, a tab or a carriage return (a formula to Excel, LibreOffice and Sheets) gets a leading
/// `'`; a number (`-5`, `-0.25`) is kept as it is. Names, references and details are typed by
/// people and sub-custodians, and a pack or statement is opened by someone else.
pub fn csv_cell(cell: &str) -> std::borrow::Cow<'_, str> {
    let number = |rest: &str| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    match cell.as_bytes().first() {
        Some(b'-') if number(&cell[1..]) => std::borrow::Cow::Borrowed(cell),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => std::borrow::Cow::Owned(format!("'{cell}")),
        _ => std::borrow::Cow::Borrowed(cell),
    }
}

/// Writes one CSV record, each cell through [`csv_cell`] (borrowed as it is unless quoted: a
/// pack writes millions of cells).
pub fn write_row<W: std::io::Write, S: AsRef<str>>(out: &mut csv::Writer<W>, cells: impl AsRef<[S]>) -> csv::Result<()> {
    out.write_record(cells.as_ref().iter().map(|cell| match csv_cell(cell.as_ref()) {
        std::borrow::Cow::Borrowed(text) => std::borrow::Cow::Borrowed(text.as_bytes()),
        std::borrow::Cow::Owned(text) => std::borrow::Cow::Owned(text.into_bytes()),
    }))
}

/// The SHA-256 of `bytes`, as 64 lowercase hex digits.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    ringfence_journal::hex(&sha2::Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_a_spreadsheet_would_run_is_quoted_and_a_number_is_kept() {
        for (cell, shown) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+1+1", "'+1+1"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("-", "'-"),
            ("-1000000000000000000", "-1000000000000000000"),
            ("-0.25", "-0.25"),
            ("VaultCo Custody B.V.", "VaultCo Custody B.V."),
            ("", ""),
        ] {
            assert_eq!(csv_cell(cell), shown, "{cell:?}");
        }
    }
}
