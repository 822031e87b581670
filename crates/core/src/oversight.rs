//! Oversight of the register against the chains (issue 5): chain observations and their
//! linkage to movements, reconciliation runs, and the exceptions they raise, with their
//! lifecycle. Everything here is journaled, so a replay rebuilds the same links, runs and
//! exceptions.
//!
//! **Watching a chain.** `WatchChain` starts observing an EVM chain from a block. From that
//! entry on, every holding posting on a wallet that ringfence keeps itself (in-house custody)
//! on that chain is a *leg* that expects a chain transfer: a debit (the wallet receives) an
//! inflow, a credit (the wallet pays) an outflow. Positions and own accounts have no legs.
//!
//! **Observations.** `ObserveChain` records what ingestion read from confirmed blocks: the
//! transfers touching watched wallets, the newest block hashes (to find reorganisations on
//! resume) and, after a reorganisation, the first orphaned block, whose observations and
//! links are rolled back before the new ones are added.
//!
//! **Linkage.** Each transfer gives a leg per registered in-house wallet it touches (an
//! outflow from the sender, an inflow to the receiver). A leg matches the oldest unconfirmed
//! movement leg with the same wallet, asset, direction and amount, whichever of the two is
//! recorded first; the link names the transaction hash and log index. A correction cancels
//! the unconfirmed legs of the movement it reverses (neither was ever on chain); its own
//! postings expect nothing.
//!
//! **Runs and exceptions.** A reconciliation run is computed outside the core (it reads the
//! chains and statements) and recorded with its inputs, its figures and its breaks. Each break
//! opens an exception, unless an unresolved exception with the same subject is open already:
//! that one is marked as seen again. Exceptions are investigated, resolved with a reason and a
//! correcting movement or an explanation, and the resolution is approved by someone other than
//! the investigator; an exception unresolved past its due time is escalated.

use crate::amount::Amount;
use crate::ids::{Actor, Address, AssetId, IdempotencyKey, SubCustodianId};
use crate::time::Timestamp;

/// The longest chain name (`eip155:<id>`), reason, detail or subject, in bytes.
pub const CHAIN_BYTES_MAX: usize = 64;
pub const TEXT_BYTES_MAX: usize = 1024;
/// The most blocks one observation tracks for reorganisations.
pub const TRACKED_BLOCKS_MAX: usize = 256;
/// The most transfers in one observation entry.
pub const TRANSFERS_MAX: usize = 10_000;
/// The most sources and breaks in one run.
pub const SOURCES_MAX: usize = 1_000;
pub const BREAKS_MAX: usize = 100_000;
/// Bounds of the exception policy's clocks, in hours.
pub const HOURS_MIN: u32 = 1;
pub const HOURS_MAX: u32 = 24 * 30;

/// A block header as ingestion read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChainBlock {
    pub number: u64,
    pub hash: [u8; 32],
    pub parent_hash: [u8; 32],
    /// Seconds since the Unix epoch.
    pub timestamp: u64,
}

/// One observed transfer of value touching a watched wallet.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChainTransfer {
    pub block_number: u64,
    pub tx_hash: [u8; 32],
    /// The `Transfer` log's index in its block; `None` for a native transfer (the
    /// transaction's own value).
    pub log_index: Option<u64>,
    pub asset: AssetId,
    pub from: Address,
    pub to: Address,
    pub amount: Amount,
}

/// What one ingestion step read from one chain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChainObservation {
    /// `eip155:<chain id>`, as watched.
    pub chain: String,
    /// After a reorganisation: the lowest orphaned block. Observations from it on are rolled
    /// back before `transfers` are added.
    pub orphaned_from: Option<u64>,
    /// The newest ingested blocks, oldest first, consecutive, at most [`TRACKED_BLOCKS_MAX`]:
    /// they replace the ones tracked before. Empty when nothing new was ingested.
    pub tracked: Vec<ChainBlock>,
    /// New transfers, in chain order.
    pub transfers: Vec<ChainTransfer>,
}

crate::codes! {
    /// The kinds of break a run finds, and so of exception. Tags are the positions these had
    /// in `ALL` when the journal first stored them.
    pub enum ExceptionKind("exception kind") {
        /// A wallet holds another amount than the register says.
        WalletDifference = 0 => "wallet_difference",
        /// Client-class wallets hold less of an asset than clients are owed.
        CoverageShortfall = 1 => "coverage_shortfall",
        /// Client-class wallets hold more of an asset than clients are owed.
        CoverageSurplus = 2 => "coverage_surplus",
        /// An individually segregated client's wallets differ from its position.
        ClientDifference = 3 => "client_difference",
        /// A wallet that holds an asset in the register was not observed, or a sum is incomplete.
        NotObserved = 4 => "not_observed",
        /// A statement or chain names a wallet or asset the register does not know.
        Unregistered = 5 => "unregistered",
        /// A transfer into a registered wallet that no movement explains.
        UnmatchedInflow = 6 => "unmatched_inflow",
        /// A transfer out of a registered wallet that no movement explains.
        UnmatchedOutflow = 7 => "unmatched_outflow",
        /// A movement whose transfer was not seen on chain within the confirmation time.
        Unconfirmed = 8 => "unconfirmed",
        /// The cold share of an asset's client-class holdings is below its floor, without a live
        /// risk assessment that allows it.
        ColdFloor = 9 => "cold_floor",
        /// A sub-custodian's authorisation reaches its review date within the notice period.
        AuthorisationLapsing = 10 => "authorisation_lapsing",
        /// A sub-custodian whose authorisation lapsed still holds client assets.
        AuthorisationLapsed = 11 => "authorisation_lapsed",
        /// Assets stay encumbered under a client instruction that was revoked or expired.
        EncumbranceLapsed = 12 => "encumbrance_lapsed",
        /// Client fiat funds not placed by the end of the next business day.
        FiatUnplaced = 13 => "fiat_unplaced",
        /// A run's source (a chain's node) could not be read: what it holds was not checked.
        SourceUnavailable = 14 => "source_unavailable",
        /// Placed client funds of a currency at one institution (not a central bank) above the
        /// concentration limit.
        FiatConcentration = 15 => "fiat_concentration",
        /// An institution holding client funds was not reviewed within the policy's review
        /// period (RTS 2025/305 Art 10(1)(e): how often the selection is reviewed).
        InstitutionReviewOverdue = 16 => "institution_review_overdue",
        /// No reconciliation run was recorded within the policy's longest gap after the last one.
        ReconciliationOverdue = 17 => "reconciliation_overdue",
        /// Clients holding assets were sent no statement of position within the policy's
        /// interval (issue 17).
        StatementOverdue = 18 => "statement_overdue",
    }
}

crate::codes! {
    /// How bad a break is. Critical: clients may have lost assets (a shortfall, less in a
    /// client wallet than recorded, a transfer out of a client wallet that nobody recorded).
    pub enum Severity("severity") {
        Warning = 0 => "warning",
        Critical = 1 => "critical",
    }
}

/// One break found by a run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Break {
    pub kind: ExceptionKind,
    pub severity: Severity,
    /// What the break is about, stable from run to run (e.g. `wallet:w-1/asset:…`): a break
    /// whose subject has an unresolved exception does not open another.
    pub subject: String,
    pub detail: String,
}

/// One input of a run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RunSource {
    /// Balances read from a chain at this block (the last at or before the cut-off).
    Chain { chain: String, block: ChainBlock },
    /// The chain's node could not be read: its wallets are "source unavailable", not zero.
    Unavailable { chain: String, reason: String },
    /// A sub-custodian statement: the SHA-256 of the file as imported.
    Statement { sub_custodian: SubCustodianId, reference: String, file: String, sha256: [u8; 32], rows: u64 },
}

/// A reconciliation run as recorded: its cut-off, inputs, figures and breaks.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReconRun {
    pub cut_off: Timestamp,
    pub sources: Vec<RunSource>,
    /// Comparisons made, and how many matched.
    pub checked: u64,
    pub matched: u64,
    /// The SHA-256 of the run's full JSON report.
    pub report_sha256: [u8; 32],
    pub breaks: Vec<Break>,
}

impl ReconRun {
    /// Whether the run found nothing to investigate and read every source.
    pub fn is_clean(&self) -> bool {
        self.breaks.is_empty() && !self.sources.iter().any(|s| matches!(s, RunSource::Unavailable { .. }))
    }
}

/// The exception clocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExceptionPolicy {
    /// Hours from opening to the due time; an exception unresolved then is escalated.
    pub resolution_hours: u32,
    /// Hours a movement leg may wait for its chain transfer (and an observed transfer for its
    /// movement) before it is a break. An outflow from a client wallet is a break at once.
    pub confirmation_hours: u32,
}

impl Default for ExceptionPolicy {
    fn default() -> Self {
        ExceptionPolicy { resolution_hours: 24, confirmation_hours: 24 }
    }
}

impl ExceptionPolicy {
    pub fn problem(&self) -> Option<String> {
        for (name, value) in [("resolution_hours", self.resolution_hours), ("confirmation_hours", self.confirmation_hours)] {
            if !(HOURS_MIN..=HOURS_MAX).contains(&value) {
                return Some(format!("{name} is {value}; it must be {HOURS_MIN} to {HOURS_MAX}"));
            }
        }
        None
    }
}

/// How an exception was resolved.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Resolution {
    /// A movement recorded to correct the register (a correction, a late deposit…).
    Movement(IdempotencyKey),
    /// Why no movement is needed.
    Explanation(String),
}

crate::codes! {
    /// Where an exception is in its lifecycle (derived from the journal, never stored).
    pub enum ExceptionState("exception state") {
        Open = 0 => "open",
        Investigating = 1 => "investigating",
        /// A resolution is proposed and awaits approval by someone other than the investigator.
        Proposed = 2 => "proposed",
        Resolved = 3 => "resolved",
    }
}

/// A proposed (or accepted) resolution.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Proposal {
    pub by: Actor,
    pub seq: u64,
    pub reason: String,
    pub resolution: Resolution,
}

/// An exception and its history.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Exception {
    /// 1, 2, 3… in the order opened.
    pub id: u64,
    pub kind: ExceptionKind,
    pub severity: Severity,
    pub subject: String,
    pub detail: String,
    /// The run that opened it, and the runs that saw it again since.
    pub run: u64,
    pub seen_again: Vec<u64>,
    pub opened_at: Timestamp,
    pub due_at: Timestamp,
    pub state: ExceptionState,
    pub investigator: Option<Actor>,
    pub proposal: Option<Proposal>,
    /// The rejected proposals' reasons, with who rejected them.
    pub rejections: Vec<(Actor, String)>,
    /// Who approved the resolution, at which entry and when.
    pub resolved: Option<(Actor, u64, Timestamp)>,
    /// When it was escalated for being overdue, at which entry.
    pub escalated: Option<(u64, Timestamp)>,
}

impl Exception {
    pub fn is_resolved(&self) -> bool {
        self.state == ExceptionState::Resolved
    }
}

/// What one chain watch knows.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChainWatch {
    pub chain: String,
    pub from_block: u64,
    /// The entry that started the watch: movements after it have legs.
    pub since_seq: u64,
    /// The newest ingested blocks, oldest first.
    pub tracked: Vec<ChainBlock>,
}

impl ChainWatch {
    /// The next block to ingest.
    pub fn next_block(&self) -> u64 {
        self.tracked.last().map_or(self.from_block, |block| block.number + 1)
    }
}

/// Identifies an observed transfer: chain, block, transaction and log (native: `None`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct TransferRef {
    pub chain: String,
    pub block_number: u64,
    pub tx_hash: [u8; 32],
    pub log_index: Option<u64>,
}

impl std::fmt::Display for TransferRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:0x", self.chain)?;
        for byte in self.tx_hash {
            write!(f, "{byte:02x}")?;
        }
        match self.log_index {
            Some(index) => write!(f, ":{index}"),
            None => write!(f, ":native"),
        }
    }
}

/// A direction of value through a wallet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum Direction {
    Inflow,
    Outflow,
}

impl Direction {
    pub fn code(self) -> &'static str {
        match self {
            Direction::Inflow => "inflow",
            Direction::Outflow => "outflow",
        }
    }
}

/// An observed transfer's leg on one registered wallet, and the movement it is linked to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ObservedLeg {
    pub transfer: TransferRef,
    pub wallet: crate::ids::WalletId,
    pub direction: Direction,
    pub asset: AssetId,
    pub amount: Amount,
    pub block_timestamp: u64,
    /// The movement (key, sequence number, posting index) it is linked to.
    pub linked: Option<(IdempotencyKey, u64, u16)>,
}

/// A movement's leg that expects a chain transfer, and the transfer that confirmed it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MovementLeg {
    pub movement: IdempotencyKey,
    pub seq: u64,
    pub posting: u16,
    pub wallet: crate::ids::WalletId,
    pub direction: Direction,
    pub asset: AssetId,
    pub amount: Amount,
    pub recorded_at: Timestamp,
    pub confirmed_by: Option<TransferRef>,
}
