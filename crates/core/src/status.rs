//! The closed set of results of applying one command, ordered by precedence: when a command
//! breaks several rules, the first in this order is reported.

use std::fmt;

macro_rules! statuses {
    ($($(#[$doc:meta])* $name:ident => $code:literal,)*) => {
        /// The result of applying one command.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Status {
            $($(#[$doc])* $name,)*
        }

        impl Status {
            /// Every status, in precedence order.
            pub const ALL: &'static [Status] = &[$(Status::$name,)*];

            /// The stable machine-readable code, e.g. `segregation_breach`.
            pub fn code(self) -> &'static str {
                match self {
                    $(Status::$name => $code,)*
                }
            }

            pub fn from_code(code: &str) -> Option<Status> {
                match code {
                    $($code => Some(Status::$name),)*
                    _ => None,
                }
            }
        }
    };
}

statuses! {
    /// Applied and journaled.
    Accepted => "accepted",
    /// The same idempotency key (or entity id) with the same content was applied before;
    /// nothing changed and the original result stands.
    AlreadyExists => "already_exists",
    /// Needs four-eyes approval: journaled as a pending instruction (its id is the `seq`),
    /// applied only once approved.
    PendingApproval => "pending_approval",
    /// The same idempotency key was used before for a different movement.
    IdempotencyConflict => "idempotency_conflict",
    /// The entity id is taken by an entity with different details.
    EntityConflict => "entity_conflict",
    /// A movement without postings.
    PostingsEmpty => "postings_empty",
    /// More than `POSTINGS_MAX` postings.
    PostingsTooMany => "postings_too_many",
    /// A posting of zero.
    AmountZero => "amount_zero",
    UnknownAsset => "unknown_asset",
    UnknownClient => "unknown_client",
    UnknownWallet => "unknown_wallet",
    UnknownKeySet => "unknown_key_set",
    UnknownSubCustodian => "unknown_sub_custodian",
    /// A correction names a movement that does not exist.
    UnknownMovement => "unknown_movement",
    /// An API token that is not registered.
    UnknownToken => "unknown_token",
    /// A retirement names a journal signing key that is not registered.
    UnknownSigningKey => "unknown_signing_key",
    /// No pending instruction has that id.
    UnknownPending => "unknown_pending",
    /// An observation of a chain that is not watched.
    UnknownChain => "unknown_chain",
    /// No exception has that id.
    UnknownException => "unknown_exception",
    /// No client instruction has that id (encumbrance, release, reward, revocation).
    UnknownInstruction => "unknown_instruction",
    /// No credit institution or central bank has that id.
    UnknownInstitution => "unknown_institution",
    /// No fiat account has that id.
    UnknownFiatAccount => "unknown_fiat_account",
    /// No fiat receipt has that key.
    UnknownReceipt => "unknown_receipt",
    /// Nothing to record: no safeguarding breach lacks an exception.
    NothingDue => "nothing_due",
    /// The exception is not in a state that allows the action (e.g. approving a resolution
    /// nobody proposed, proposing one while someone else investigates).
    ExceptionState => "exception_state",
    /// The investigator of an exception cannot review its resolution.
    InvestigatorCannotApprove => "investigator_cannot_approve",
    /// An escalation recorded before the exception is due.
    ExceptionNotDue => "exception_not_due",
    /// The pending instruction was applied, rejected or expired already; or the movement's key
    /// belongs to one that was rejected or expired (use a new key).
    PendingClosed => "pending_closed",
    /// The pending instruction's time for approval is over; it can only be expired.
    PendingExpired => "pending_expired",
    /// An expiry recorded before the pending instruction's time is over.
    PendingNotExpired => "pending_not_expired",
    /// The initiator of a pending instruction cannot approve it.
    InitiatorCannotApprove => "initiator_cannot_approve",
    /// This approver has approved the instruction already; approvals come from distinct people.
    ApproverNotDistinct => "approver_not_distinct",
    /// A correction without `corrects`, or `corrects` on another kind.
    CorrectionTargetMissing => "correction_target_missing",
    /// A correction of a correction: enter the movement again instead.
    CorrectionOfCorrection => "correction_of_correction",
    /// The named movement was corrected already.
    AlreadyCorrected => "already_corrected",
    /// A correction whose postings are not the exact reversal of the corrected movement.
    CorrectionMismatch => "correction_mismatch",
    /// A key set whose scheme and signers do not fit (threshold 0, above the signer count…).
    InvalidKeyScheme => "invalid_key_scheme",
    /// An asset with more decimals than a u128 can carry.
    InvalidScale => "invalid_scale",
    /// An approval policy out of bounds (approvals, expiry, thresholds) or a rejection
    /// without a reason.
    InvalidPolicy => "invalid_policy",
    /// A wallet change that would alter its address or tier (a different wallet, or a
    /// rebalance), or a class change of a wallet that still holds assets.
    InvalidWalletChange => "invalid_wallet_change",
    /// A resolution without a reason or explanation, or with one too long.
    InvalidResolution => "invalid_resolution",
    /// A chain observation that does not fit the watch: blocks not consecutive, transfers
    /// outside its blocks, a chain that is not `eip155:<id>`.
    InvalidObservation => "invalid_observation",
    /// A client instruction out of bounds: no evidence, a maximum of zero, a validity that
    /// ends before it starts or before now.
    InvalidInstruction => "invalid_instruction",
    /// A client instruction that is not live at the effective time: revoked, expired or not
    /// yet valid. Further encumbrance under it is refused.
    InstructionNotLive => "instruction_not_live",
    /// The client instruction was given as irrevocable.
    InstructionNotRevocable => "instruction_not_revocable",
    /// A reward, encumbrance or release that does not fit its instruction's client or asset.
    InstructionMismatch => "instruction_mismatch",
    /// A risk assessment, institution or fiat account out of bounds, or a fiat amount that does
    /// not fit (a placement above what is unplaced, another currency).
    InvalidSafeguard => "invalid_safeguard",
    /// A reconciliation run out of bounds (too many sources or breaks, empty subjects).
    InvalidRun => "invalid_run",
    /// An API token whose roles do not fit: none, repeated, or the client role mixed with
    /// others or without its client.
    InvalidTokenRoles => "invalid_token_roles",
    /// A price that cannot be recorded: zero, too many decimals, not in its shortest form,
    /// without a source, or at an instant after it was recorded.
    InvalidPrice => "invalid_price",
    /// A statement issue that cannot be recorded: a period that ends before it starts or after
    /// the statement is issued, or an entry the journal does not hold.
    InvalidStatement => "invalid_statement",
    /// An insolvency pack that cannot be recorded: a cut-off after it is recorded, or an entry
    /// the journal does not hold.
    InvalidPack => "invalid_pack",
    /// A signing key that cannot be registered or retired: a retired key registered again,
    /// the last active key retired, or a label that is empty or too long.
    InvalidSigningKey => "invalid_signing_key",
    /// The address is registered to another wallet.
    AddressInUse => "address_in_use",
    /// A wallet and an asset on different chains.
    ChainMismatch => "chain_mismatch",
    /// Debits and credits differ for some asset.
    Unbalanced => "unbalanced",
    /// A posting on an account this kind of movement may not touch.
    PostingNotAllowed => "posting_not_allowed",
    /// A wallet of the wrong class for the movement or registration (e.g. a client deposit
    /// into a firm wallet, an individual wallet for an omnibus client).
    WrongWalletClass => "wrong_wallet_class",
    /// A key set serving a wallet of another class.
    KeySetClassMismatch => "key_set_class_mismatch",
    /// Value would cross between client and firm without a posting on both sides
    /// (invariant 3): misappropriation or commingling.
    SegregationBreach => "segregation_breach",
    /// An individually segregated client's assets would sit outside their wallets, or an
    /// omnibus wallet would hold other than omnibus clients' assets (invariant 4).
    IndividualSegregationBreach => "individual_segregation_breach",
    /// Use of client assets for the firm's own account (staking, lending, collateral or
    /// trading for the firm), or client fiat placed into the firm's own account.
    OwnAccountUse => "own_account_use",
    /// Allocation to a wallet at a sub-custodian whose authorisation is not live at the
    /// effective time (invariant 6).
    SubCustodianNotAuthorised => "sub_custodian_not_authorised",
    /// A balance would exceed 2^128 - 1.
    AmountOverflow => "amount_overflow",
    /// A client position would go below zero (invariant 2).
    PositionWouldGoNegative => "position_would_go_negative",
    /// A wallet would hold less than zero.
    HoldingWouldGoNegative => "holding_would_go_negative",
    /// A firm own account would go below zero.
    OwnAccountWouldGoNegative => "own_account_would_go_negative",
    /// The movement would take a client's position below what is encumbered under client
    /// instructions (release it first), or an encumbrance would exceed the free position.
    EncumberedPosition => "encumbered_position",
    /// An encumbrance that would take the instruction above its maximum amount.
    InstructionLimit => "instruction_limit",
    /// A release of more than is encumbered, a placement of more than is unplaced, or a
    /// withdrawal of more than the client or the account has.
    InsufficientFunds => "insufficient_funds",
}

impl Status {
    /// Whether the command was recorded: applied (now or before) or journaled as a pending
    /// instruction awaiting approval. Anything else is a refusal.
    pub fn is_ok(self) -> bool {
        matches!(self, Status::Accepted | Status::AlreadyExists | Status::PendingApproval)
    }

    /// Whether the command got a journal entry of its own.
    pub fn is_journaled(self) -> bool {
        matches!(self, Status::Accepted | Status::PendingApproval)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The result of one command: its status, the journal sequence number it got (or had, for
/// `AlreadyExists`), and for a rejection a sentence saying what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: Status,
    pub seq: Option<u64>,
    pub detail: String,
}

impl Outcome {
    pub fn accepted(seq: u64) -> Self {
        Self { status: Status::Accepted, seq: Some(seq), detail: String::new() }
    }

    pub fn already_exists(seq: u64) -> Self {
        Self { status: Status::AlreadyExists, seq: Some(seq), detail: String::new() }
    }

    pub fn pending(seq: u64, detail: impl Into<String>) -> Self {
        Self { status: Status::PendingApproval, seq: Some(seq), detail: detail.into() }
    }

    pub fn rejected(status: Status, detail: impl Into<String>) -> Self {
        debug_assert!(!status.is_ok());
        Self { status, seq: None, detail: detail.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_unique() {
        for status in Status::ALL {
            assert_eq!(Status::from_code(status.code()), Some(*status));
        }
        let mut codes: Vec<_> = Status::ALL.iter().map(|s| s.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), Status::ALL.len());
    }
}
