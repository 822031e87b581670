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

/// The SHA-256 of `bytes`, as 64 lowercase hex digits.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    ringfence_journal::hex(&sha2::Sha256::digest(bytes))
}
