//! Movements as recorded (`GET /v1/history`) and pending instructions (`GET /v1/pending`,
//! `GET /v1/pending/{id}`): the import format's words and codes, amounts as digit strings.

use std::collections::BTreeMap;

use ringfence_core::{Action, Command, Movement, MovementKind, Pending, PendingState, PendingStateKind, Register, Side, Timestamp};
use serde::Serialize;
use utoipa::ToSchema;

use super::entities::{KeySetView, SubCustodianEntityView, WalletView};
use super::{account_code, code, digits};
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

/// One journaled movement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RecordedView {
    pub seq: u64,
    pub recorded_at: String,
    pub effective_at: String,
    pub actor: String,
    pub instruction: String,
    /// The pending instruction this entry applied by approving it; null otherwise.
    pub approved_pending: Option<u64>,
    pub movement: MovementView,
}

impl RecordedView {
    /// The view of the entry at `seq` recorded at `recorded_at` with `command`; `None` when
    /// the command is not a movement.
    pub fn of(seq: u64, recorded_at: Timestamp, command: &Command, approved_pending: Option<u64>) -> Option<RecordedView> {
        let Action::Movement(movement) = &command.action else { return None };
        Some(RecordedView {
            seq,
            recorded_at: clock::format(recorded_at),
            effective_at: clock::format(command.meta.effective_at),
            actor: command.meta.actor.as_str().to_owned(),
            instruction: command.meta.instruction.as_str().to_owned(),
            approved_pending,
            movement: MovementView::of(movement),
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
    #[schema(value_type = Option<Object>)]
    pub detail: serde_json::Value,
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

fn to_json<T: Serialize>(value: T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

/// What a command would register or change.
fn detail(register: &Register, action: &Action) -> serde_json::Value {
    #[derive(Serialize)]
    struct Authorisation<'a> {
        id: &'a str,
        reference: &'a str,
        valid_until: String,
    }
    #[derive(Serialize)]
    struct WalletChange {
        to: WalletView,
        from: Option<WalletView>,
    }
    #[derive(Serialize)]
    struct ApprovalPolicyChange {
        approvals: u8,
        expiry_hours: u32,
        withdrawal_thresholds: BTreeMap<String, String>,
    }
    #[derive(Serialize)]
    struct ExceptionClocks {
        resolution_hours: u32,
        confirmation_hours: u32,
    }
    match action {
        Action::Movement(movement) => to_json(MovementView::of(movement)),
        Action::RegisterKeySet(key_set) => to_json(KeySetView::of(key_set)),
        Action::RegisterSubCustodian(sub) => to_json(SubCustodianEntityView::of(sub)),
        Action::UpdateSubCustodianAuthorisation { id, reference, valid_until } => {
            to_json(Authorisation { id: id.as_str(), reference, valid_until: clock::format(*valid_until) })
        }
        Action::ChangeWallet(wallet) => {
            to_json(WalletChange { to: WalletView::of(wallet), from: register.wallet(&wallet.id).map(WalletView::of) })
        }
        Action::SetApprovalPolicy(policy) => to_json(ApprovalPolicyChange {
            approvals: policy.approvals,
            expiry_hours: policy.expiry_hours,
            withdrawal_thresholds: policy
                .withdrawal_thresholds
                .iter()
                .map(|(asset, amount)| (asset.to_string(), amount.to_string()))
                .collect(),
        }),
        Action::SetExceptionPolicy(policy) => {
            to_json(ExceptionClocks { resolution_hours: policy.resolution_hours, confirmation_hours: policy.confirmation_hours })
        }
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
        | Action::Safeguard(_) => serde_json::Value::Null,
    }
}
