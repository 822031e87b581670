//! Movements as recorded (`GET /v1/history`) and pending instructions (`GET /v1/pending`,
//! `GET /v1/pending/{id}`): the import format's words and codes, amounts as digit strings.

use std::collections::BTreeMap;

use ringfence_core::{
    Account, Action, Command, Movement, MovementKind, Net, Pending, PendingState, PendingStateKind, Register, SafeguardAction, Side,
    Timestamp,
};
use serde::Serialize;
use utoipa::ToSchema;

use super::entities::{KeySetView, SubCustodianEntityView, WalletView};
use super::{AmountView, account_code, code, digits, hex};
use crate::clock;

/// A movement: its key, kind, the movement it corrects and its postings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct MovementView {
    pub key: String,
    #[serde(serialize_with = "code")]
    #[schema(value_type = crate::schema::MovementKindCode)]
    pub kind: MovementKind,
    /// The corrected movement's key, for a correction; null otherwise.
    pub corrects: Option<String>,
    pub postings: Vec<PostingView>,
}

/// One posting of a movement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PostingView {
    #[serde(serialize_with = "code")]
    #[schema(value_type = crate::schema::SideCode)]
    pub side: Side,
    /// `position:CLIENT`, `holding:WALLET` or `own:ACCOUNT`.
    pub account: String,
    pub asset: String,
    #[serde(serialize_with = "digits")]
    #[schema(value_type = String, pattern = "^[0-9]+$")]
    pub amount: ringfence_core::Amount,
}

impl MovementView {
    pub fn of(movement: &Movement) -> MovementView {
        MovementView {
            key: movement.key.as_str().to_owned(),
            kind: movement.kind,
            corrects: movement.corrects.as_ref().map(|k| k.as_str().to_owned()),
            postings: movement
                .postings
                .iter()
                .map(|p| PostingView {
                    side: p.side,
                    account: account_code(&p.account),
                    asset: p.asset.as_str().to_owned(),
                    amount: p.amount,
                })
                .collect(),
        }
    }
}

/// Who a view is for. Staff see a movement whole; a client sees only what concerns it: the
/// postings on its own position, without the staff member who recorded the movement, the
/// firm's instruction id or pending instruction, other clients' postings, the firm's accounts
/// or the firm's wallet ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Staff,
    Client,
}

/// One journaled movement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RecordedView {
    pub seq: u64,
    pub recorded_at: String,
    pub effective_at: String,
    /// Who recorded it; null in a client's view.
    pub actor: Option<String>,
    /// The firm's instruction id; null in a client's view.
    pub instruction: Option<String>,
    /// The pending instruction this entry applied by approving it; null otherwise, and in a
    /// client's view.
    pub approved_pending: Option<u64>,
    /// What the movement did to the history's subject: one signed amount per posting on it
    /// (`+` when the subject's balance grew).
    pub changes: Vec<AmountView>,
    pub movement: MovementView,
}

impl RecordedView {
    /// The view, for `audience` reading the history of `subject`, of the entry at `seq`
    /// recorded at `recorded_at` with `command`; `None` when the command is not a movement.
    pub fn of(register: &Register, subject: &Account, audience: Audience, entry: HistoryEntry<'_>) -> Option<RecordedView> {
        let (seq, recorded_at, command, approved_pending) = entry;
        let Action::Movement(movement) = &command.action else { return None };
        let staff = audience == Audience::Staff;
        let mut whole = MovementView::of(movement);
        if !staff {
            let own = account_code(subject);
            whole.postings.retain(|posting| posting.account == own);
        }
        let changes = movement
            .postings
            .iter()
            .filter(|p| &p.account == subject)
            .map(|p| {
                // A holding grows with a debit; a position or an own account with a credit.
                let grows = matches!(p.account, Account::Holding(_)) == (p.side == Side::Debit);
                AmountView::of(register, &p.asset, Net { negative: !grows, amount: p.amount })
            })
            .collect();
        Some(RecordedView {
            seq,
            recorded_at: clock::format(recorded_at),
            effective_at: clock::format(command.meta.effective_at),
            actor: staff.then(|| command.meta.actor.as_str().to_owned()),
            instruction: staff.then(|| command.meta.instruction.as_str().to_owned()),
            approved_pending: approved_pending.filter(|_| staff),
            changes,
            movement: whole,
        })
    }
}

/// A page of a subject's movements, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct HistoryView {
    /// `position:CLIENT`, `holding:WALLET` or `own:ACCOUNT`.
    pub subject: String,
    pub movements: Vec<RecordedView>,
    /// The `after` of the next page; null on the last.
    pub next_after: Option<u64>,
    /// For a client: the parts of its positions encumbered (staked, lent, pledged) and
    /// released under its instructions in the period, oldest first (not paged; empty for other
    /// subjects).
    pub encumbrances: Vec<EncumbranceView>,
}

/// Part of a client's position encumbered or released under one of its instructions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct EncumbranceView {
    pub seq: u64,
    /// `encumbrance` or `release`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub key: String,
    pub instruction: String,
    pub effective_at: String,
    pub asset: String,
    /// In the smallest unit.
    #[schema(pattern = "^[0-9]+$")]
    pub amount: String,
    /// In whole units, exactly.
    pub decimal: String,
}

/// One stored history entry: its sequence number, when it was recorded, the command that took
/// effect and the pending instruction it applied, if any.
pub type HistoryEntry<'a> = (u64, Timestamp, &'a Command, Option<u64>);

impl HistoryView {
    /// The view, for `audience`, of one page of `subject`'s history asked for with `limit`: a
    /// full page has a next one (which may be empty).
    pub fn of<'a>(
        register: &Register,
        subject: &Account,
        audience: Audience,
        page: impl IntoIterator<Item = HistoryEntry<'a>>,
        limit: usize,
    ) -> HistoryView {
        let mut count = 0;
        let mut last = None;
        let movements = page
            .into_iter()
            .filter_map(|entry| {
                count += 1;
                last = Some(entry.0);
                RecordedView::of(register, subject, audience, entry)
            })
            .collect();
        HistoryView {
            subject: account_code(subject),
            movements,
            next_after: if count == limit { last } else { None },
            encumbrances: Vec::new(),
        }
    }

    /// The same view with the client's encumbrances and releases (`entries`: their journal
    /// entries in the period).
    pub fn with_encumbrances<'a>(mut self, register: &Register, entries: impl IntoIterator<Item = HistoryEntry<'a>>) -> HistoryView {
        for (seq, _, command, _) in entries {
            let Action::Safeguard(
                action @ (SafeguardAction::Encumber { key, instruction, amount } | SafeguardAction::Release { key, instruction, amount }),
            ) = &command.action
            else {
                continue;
            };
            let Some(record) = register.client_instruction(instruction) else { continue };
            let asset = &record.instruction.asset;
            let scale = register.asset(asset).map_or(0, |a| a.scale);
            self.encumbrances.push(EncumbranceView {
                seq,
                kind: action.code(),
                key: key.as_str().to_owned(),
                instruction: instruction.as_str().to_owned(),
                effective_at: clock::format(command.meta.effective_at),
                asset: asset.as_str().to_owned(),
                amount: amount.to_string(),
                decimal: amount.to_decimal(scale),
            });
        }
        self
    }
}

/// The journal checked against its hash chain: intact up to its head, or broken at an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct VerifyView {
    pub intact: bool,
    /// When intact: the last entry's sequence number and hash (hex).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head_seq: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head_hash: Option<String>,
    /// When broken: the first bad entry and what is wrong with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broken_at: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// How many anchors (heads published outside the database) the journal extends, when it
    /// was checked against an anchor file (`journal verify --anchors`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anchors: Option<usize>,
    /// Each stored register checkpoint compared with the state the replay from entry 1
    /// reaches at its entry, oldest first (none stored: absent).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checkpoints: Vec<CheckpointCheckView>,
    /// The incremental check (`journal verify --since-checkpoint`): the register checkpoint
    /// it started from; entries up to it were not checked again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since_checkpoint: Option<u64>,
}

/// One register checkpoint as a full verification found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CheckpointCheckView {
    /// The journal entry it was taken after.
    pub seq: u64,
    /// `matches` (the replay reaches the same state), `differs` (it holds another state: it was
    /// not written by ringfence, and opening the store would use it; discard it with
    /// `ringfence checkpoint --discard`) or `not_compared` (see `detail`).
    pub verdict: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl CheckpointCheckView {
    /// Whether it holds a state the journal does not give: a finding, not a note.
    pub fn differs(&self) -> bool {
        self.verdict == "differs"
    }
}

impl VerifyView {
    /// An intact journal whose last entry is `seq` with `hash`.
    pub fn intact(seq: u64, hash: &[u8; 32]) -> VerifyView {
        VerifyView {
            intact: true,
            head_seq: Some(seq),
            head_hash: Some(hex(hash)),
            broken_at: None,
            message: None,
            anchors: None,
            checkpoints: Vec::new(),
            since_checkpoint: None,
        }
    }

    /// A journal broken at entry `seq`, for the reason `message`.
    pub fn broken(seq: u64, message: String) -> VerifyView {
        VerifyView {
            intact: false,
            head_seq: None,
            head_hash: None,
            broken_at: Some(seq),
            message: Some(message),
            anchors: None,
            checkpoints: Vec::new(),
            since_checkpoint: None,
        }
    }

    /// With each stored checkpoint's verdict: (entry, code, detail), from
    /// `ringfence_store::CheckpointVerdict::code`.
    pub fn with_checkpoints(mut self, checks: impl IntoIterator<Item = (u64, &'static str, Option<String>)>) -> VerifyView {
        self.checkpoints = checks.into_iter().map(|(seq, verdict, detail)| CheckpointCheckView { seq, verdict, detail }).collect();
        self
    }
}

/// A page of journal entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct EntriesView {
    pub items: Vec<EntryView>,
    /// The `after` of the next page; null on the last.
    pub next_after: Option<u64>,
}

/// One journal entry and the hash of the one before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct EntryView {
    pub seq: u64,
    pub recorded_at: String,
    pub effective_at: String,
    pub actor: String,
    pub instruction: String,
    /// What was recorded: a registration (`client`, `api_token`…) or a movement's kind.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Hex SHA-256.
    pub prev_hash: String,
}

impl EntryView {
    pub fn of(seq: u64, recorded_at: Timestamp, command: &Command, prev_hash: &[u8; 32]) -> EntryView {
        EntryView {
            seq,
            recorded_at: clock::format(recorded_at),
            effective_at: clock::format(command.meta.effective_at),
            actor: command.meta.actor.as_str().to_owned(),
            instruction: command.meta.instruction.as_str().to_owned(),
            kind: command.action.code(),
            prev_hash: hex(prev_hash),
        }
    }
}

/// A pending instruction: a command waiting for four-eyes approval, and what became of it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PendingView {
    pub id: u64,
    #[serde(serialize_with = "code")]
    #[schema(value_type = crate::schema::PendingStateKindCode)]
    pub state: PendingStateKind,
    /// Why it needs approval.
    pub reason: String,
    pub initiator: String,
    pub proposed_at: String,
    /// From this instant on it can no longer be approved.
    pub expires_at: String,
    /// Approvals it needs.
    pub required: u8,
    pub approvals: Vec<ApprovalView>,
    /// How it was closed (applied, rejected or expired); null while open.
    pub closed: Option<ClosedView>,
    pub command: PendingCommandView,
}

/// One approval of a pending instruction.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApprovalView {
    pub actor: String,
    pub seq: u64,
}

/// The entry that closed a pending instruction; who rejected it and why, for a rejection.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClosedView {
    pub seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The command a pending instruction would apply.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PendingCommandView {
    /// The journal entry type, e.g. `withdrawal`, `wallet_change`, `approval_policy`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub instruction: String,
    pub effective_at: String,
    /// What it would register or change, in the import format's words (a movement, a key
    /// set, a wallet's `from` and `to`, a policy…); null for a command without details.
    pub detail: PendingDetailView,
}

/// What a pending instruction's command would register or change: one of these shapes, by
/// the command's `type`, or null.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum PendingDetailView {
    /// A movement (`withdrawal`, `transfer`…).
    Movement(MovementView),
    /// A key set (`key_set`).
    KeySet(KeySetView),
    /// A sub-custodian (`sub_custodian`).
    SubCustodian(SubCustodianEntityView),
    /// A sub-custodian's new authorisation (`sub_custodian_authorisation`).
    Authorisation { id: String, reference: String, valid_until: String },
    /// A wallet change (`wallet_change`): the wallet as it would be and as it is.
    WalletChange { to: WalletView, from: Option<WalletView> },
    /// An approval policy (`approval_policy`); thresholds per asset in the smallest unit.
    ApprovalPolicy { approvals: u8, expiry_hours: u32, withdrawal_thresholds: BTreeMap<String, String> },
    /// The exception clocks (`exception_policy`).
    ExceptionClocks { resolution_hours: u32, confirmation_hours: u32 },
    /// A journal signing key registered (`signing_key`, with its label) or retired
    /// (`signing_key_retirement`): its fingerprint and public key (64 hex digits).
    SigningKey { key: String, public_key: String, label: Option<String> },
    /// A command shown by its type and instruction alone.
    None,
}

impl PendingView {
    pub fn of(register: &Register, pending: &Pending) -> PendingView {
        let closed = match &pending.state {
            PendingState::Open => None,
            PendingState::Applied { seq } | PendingState::Expired { seq } => Some(ClosedView { seq: *seq, by: None, reason: None }),
            PendingState::Rejected { seq, by, reason } => {
                Some(ClosedView { seq: *seq, by: Some(by.as_str().to_owned()), reason: Some(reason.clone()) })
            }
        };
        PendingView {
            id: pending.id,
            state: pending.state.kind(),
            reason: pending.reason.clone(),
            initiator: pending.initiator().as_str().to_owned(),
            proposed_at: clock::format(pending.proposed_at),
            expires_at: clock::format(pending.expires_at),
            required: pending.required,
            approvals: pending.approvals.iter().map(|(actor, seq)| ApprovalView { actor: actor.as_str().to_owned(), seq: *seq }).collect(),
            closed,
            command: PendingCommandView {
                kind: pending.command.action.code(),
                instruction: pending.command.meta.instruction.as_str().to_owned(),
                effective_at: clock::format(pending.command.meta.effective_at),
                detail: detail(register, &pending.command.action),
            },
        }
    }
}

/// What a command would register or change.
fn detail(register: &Register, action: &Action) -> PendingDetailView {
    match action {
        Action::Movement(movement) => PendingDetailView::Movement(MovementView::of(movement)),
        Action::RegisterKeySet(key_set) => PendingDetailView::KeySet(KeySetView::of(key_set)),
        Action::RegisterSubCustodian(sub) => PendingDetailView::SubCustodian(SubCustodianEntityView::of(sub)),
        Action::UpdateSubCustodianAuthorisation { id, reference, valid_until } => PendingDetailView::Authorisation {
            id: id.as_str().to_owned(),
            reference: reference.clone(),
            valid_until: clock::format(*valid_until),
        },
        Action::ChangeWallet(wallet) => {
            PendingDetailView::WalletChange { to: WalletView::of(wallet), from: register.wallet(&wallet.id).map(WalletView::of) }
        }
        Action::SetApprovalPolicy(policy) => PendingDetailView::ApprovalPolicy {
            approvals: policy.approvals,
            expiry_hours: policy.expiry_hours,
            withdrawal_thresholds: policy
                .withdrawal_thresholds
                .iter()
                .map(|(asset, amount)| (asset.to_string(), amount.to_string()))
                .collect(),
        },
        Action::SetExceptionPolicy(policy) => {
            PendingDetailView::ExceptionClocks { resolution_hours: policy.resolution_hours, confirmation_hours: policy.confirmation_hours }
        }
        Action::RegisterSigningKey(key) => PendingDetailView::SigningKey {
            key: ringfence_core::SigningKey::fingerprint(&key.public_key),
            public_key: hex(&key.public_key),
            label: Some(key.label.clone()),
        },
        Action::RetireSigningKey { public_key } => PendingDetailView::SigningKey {
            key: ringfence_core::SigningKey::fingerprint(public_key),
            public_key: hex(public_key),
            label: None,
        },
        // Safeguarding commands and registrations that never wait for approval: no details
        // shown yet (the type and instruction say what it is).
        Action::RegisterAsset(_)
        | Action::RegisterClient(_)
        | Action::RegisterWallet(_)
        | Action::RegisterApiToken(_)
        | Action::RevokeApiToken { .. }
        | Action::ApprovePending { .. }
        | Action::RejectPending { .. }
        | Action::ExpirePending { .. }
        | Action::WatchChain { .. }
        | Action::ObserveChain(_)
        | Action::RecordReconRun(_)
        | Action::InvestigateException { .. }
        | Action::ProposeResolution { .. }
        | Action::ApproveResolution { .. }
        | Action::RejectResolution { .. }
        | Action::EscalateException { .. }
        | Action::Safeguard(_)
        | Action::RecordPrice(_)
        | Action::RecordStatement(_)
        | Action::RecordPack(_) => PendingDetailView::None,
    }
}

/// The Merkle root of the journal's first `size` entries (`ringfence journal root`): what an
/// auditor keeps, to ask later for a consistency proof (docs/signing.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct MerkleRootView {
    pub size: u64,
    /// The root, 64 hex digits (RFC 6962 tree over the entries' hashes).
    pub root: String,
    /// The hash of entry `size`, the chain head at that size.
    pub head_hash: String,
}

/// A Merkle proof file (`ringfence journal prove`), checked offline by `ringfence journal
/// check-proof` or any RFC 9162 verifier (leaves: SHA-256(0x00 | entry hash)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProofView {
    /// Entry `seq` (hash `entry_hash`) is in the journal of `size` entries whose root is `root`.
    Inclusion { version: u8, size: u64, root: String, seq: u64, entry_hash: String, path: Vec<String> },
    /// The journal of `size` entries (root `root`) extends its first `first_size` entries
    /// (root `first_root`): nothing up to entry `first_size` was changed or removed.
    Consistency { version: u8, first_size: u64, first_root: String, size: u64, root: String, proof: Vec<String> },
}
