//! Four-eyes control: the approval policy and pending instructions.
//!
//! Once an approval policy is set, the sensitive commands (withdrawals above a per-asset
//! threshold, sub-custodian and key-set registrations and changes, wallet class, custodian or
//! key-set changes, and policy changes) are not applied when submitted: they are journaled as
//! a *pending instruction* that takes effect only when enough distinct approvers, none of them
//! its initiator, approve it before it expires. The approval that completes the count applies
//! the instruction in the same journal entry, so an approved instruction applies exactly once;
//! if it can no longer be applied (the client's position has gone down meanwhile), that
//! approval is refused with the register's reason and the instruction stays open, to be
//! rejected or to expire. Proposals, approvals, rejections and expiries are all journal
//! entries, decided on the journal's recorded time so that a replay decides the same.
//!
//! Without a policy nothing needs approval: that is how a new register is set up (assets,
//! clients, key sets, wallets) before the control is switched on.

use crate::amount::Amount;
use crate::ids::{Actor, AssetId};
use crate::movement::Command;
use crate::time::Timestamp;

/// The most approvals a policy may require.
pub const APPROVALS_MAX: u8 = 9;
/// The shortest and longest time a pending instruction waits for its approvals, in hours.
pub const EXPIRY_HOURS_MIN: u32 = 1;
pub const EXPIRY_HOURS_MAX: u32 = 24 * 90;
/// The longest rejection reason, in bytes.
pub const REASON_BYTES_MAX: usize = 512;

/// The four-eyes policy in force.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ApprovalPolicy {
    /// Approvals needed from distinct approvers, none the initiator (1 to [`APPROVALS_MAX`]).
    pub approvals: u8,
    /// How long a pending instruction waits for its approvals before it expires.
    pub expiry_hours: u32,
    /// A withdrawal of more than this amount of the asset needs approval; withdrawals of
    /// assets not listed do not. Sorted by asset, each asset once.
    pub withdrawal_thresholds: Vec<(AssetId, Amount)>,
}

impl ApprovalPolicy {
    /// What is wrong with the policy, if anything.
    pub fn problem(&self) -> Option<String> {
        if self.approvals == 0 || self.approvals > APPROVALS_MAX {
            return Some(format!("approvals is {}; it must be 1 to {APPROVALS_MAX}", self.approvals));
        }
        if !(EXPIRY_HOURS_MIN..=EXPIRY_HOURS_MAX).contains(&self.expiry_hours) {
            return Some(format!("expiry_hours is {}; it must be {EXPIRY_HOURS_MIN} to {EXPIRY_HOURS_MAX}", self.expiry_hours));
        }
        if self.withdrawal_thresholds.windows(2).any(|pair| pair[0].0 >= pair[1].0) {
            return Some("withdrawal thresholds must name each asset once, in order".into());
        }
        None
    }

    /// The withdrawal threshold of `asset`, if withdrawals of it need approval.
    pub fn threshold(&self, asset: &AssetId) -> Option<Amount> {
        self.withdrawal_thresholds.binary_search_by(|(id, _)| id.cmp(asset)).ok().map(|index| self.withdrawal_thresholds[index].1)
    }

    /// The policy's expiry as a span of time, in microseconds.
    pub fn expiry_micros(&self) -> i64 {
        i64::from(self.expiry_hours) * 3_600 * 1_000_000
    }
}

/// Where a pending instruction stands.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum PendingState {
    /// Waiting for approvals.
    Open,
    /// Approved; applied by the journal entry at this sequence number.
    Applied { seq: u64 },
    /// Rejected by `by` at this sequence number.
    Rejected { seq: u64, by: Actor, reason: String },
    /// Expired unapproved; the expiry was journaled at this sequence number.
    Expired { seq: u64 },
}

crate::codes! {
    /// A pending instruction's state without its details: what the API filters on and spells.
    pub enum PendingStateKind("pending state") {
        Open = 0 => "open",
        Applied = 1 => "applied",
        Rejected = 2 => "rejected",
        Expired = 3 => "expired",
    }
}

impl PendingState {
    pub fn kind(&self) -> PendingStateKind {
        match self {
            PendingState::Open => PendingStateKind::Open,
            PendingState::Applied { .. } => PendingStateKind::Applied,
            PendingState::Rejected { .. } => PendingStateKind::Rejected,
            PendingState::Expired { .. } => PendingStateKind::Expired,
        }
    }

    pub fn code(&self) -> &'static str {
        self.kind().code()
    }
}

/// A command waiting for four-eyes approval. Its id is the sequence number of the journal
/// entry that proposed it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Pending {
    pub id: u64,
    /// The command as proposed; its actor is the initiator.
    pub command: Command,
    /// Why it needs approval, for people.
    pub reason: String,
    /// When it was proposed (recorded time).
    pub proposed_at: Timestamp,
    /// From this instant on it can no longer be approved; it can be expired.
    pub expires_at: Timestamp,
    /// Approvals it needs (from the policy in force when it was proposed).
    pub required: u8,
    /// Approvals so far: the approver and the sequence number of the approval.
    pub approvals: Vec<(Actor, u64)>,
    pub state: PendingState,
}

impl Pending {
    pub fn initiator(&self) -> &Actor {
        &self.command.meta.actor
    }
}
