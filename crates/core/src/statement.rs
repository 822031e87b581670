//! Statements of position issued to clients (issue 17): the journal keeps, for each statement
//! that went out, its client, its period, the journal entry it reflects and the SHA-256 of its
//! canonical JSON, as the evidence that statements were sent.

use crate::ids::ClientId;
use crate::time::Timestamp;

/// A statement issued: the client, the period `[from, to]` of effective time, the journal
/// sequence number it reflects (`as_of`: the statement is the same bytes whenever it is made
/// again from the same journal up to that entry) and the SHA-256 of its canonical JSON.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StatementIssue {
    pub client: ClientId,
    pub from: Timestamp,
    pub to: Timestamp,
    pub as_of: u64,
    pub sha256: [u8; 32],
}

/// An insolvency pack made (issue 18): its cut-off of effective time, the journal entry it
/// reflects (`as_of`: the pack is the same bytes whenever it is made again from the journal up
/// to that entry) and the SHA-256 of its manifest, which names every file's SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PackIssue {
    pub at: Timestamp,
    pub as_of: u64,
    pub sha256: [u8; 32],
}

/// A change of what the firm owes a client for a loss of its assets (MiCA Art 75(8); issue 18):
/// a `loss` movement's debit of the client's position adds to it (`owed`), a `compensation`'s
/// credit takes from it, and a correction of either reverses it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LossEvent {
    pub seq: u64,
    pub key: crate::ids::IdempotencyKey,
    pub effective_at: Timestamp,
    pub client: crate::ids::ClientId,
    pub asset: crate::ids::AssetId,
    pub amount: u128,
    pub owed: bool,
}

/// A pack as recorded: by which entry, when.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IssuedPack {
    pub issue: PackIssue,
    pub seq: u64,
    pub recorded_at: Timestamp,
}

/// A statement issue as recorded: by which entry, when.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IssuedStatement {
    pub issue: StatementIssue,
    pub seq: u64,
    pub recorded_at: Timestamp,
}
