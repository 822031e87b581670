//! Four-eyes control inside the register (see [`crate::approval`]): which commands need
//! approval, pending instructions, approvals, rejections and expiries.

use super::{Check, HashMap, Register, Registered, reject};
use crate::approval::{ApprovalPolicy, Pending, PendingState, REASON_BYTES_MAX};
use crate::ids::AssetId;
use crate::movement::{Account, Action, Command, Meta, MovementKind, Side};
use crate::safeguard::SafeguardAction;
use crate::status::{Outcome, Status};
use crate::time::Timestamp;

/// What a pending instruction binds while it waits: nothing else may claim it meanwhile.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub(super) enum Subject {
    Movement(String),
    KeySet(String),
    SubCustodian(String),
    Authorisation(String),
    Wallet(String),
    Policy,
    ExceptionPolicy,
    /// The safeguarding policy, a client instruction, a risk assessment, an institution or a
    /// fiat account, by a prefixed name.
    Safeguard(String),
    /// A journal signing key, by its public key.
    SigningKey([u8; 32]),
}

/// The four-eyes part of the register's state.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(super) struct FourEyes {
    /// The policy in force, with the sequence number that set it.
    pub(super) policy: Option<Registered<ApprovalPolicy>>,
    /// Every pending instruction ever proposed, in order.
    pub(super) pending: Vec<Pending>,
    pub(super) index: HashMap<u64, u32>,
    /// What open (and, for movement keys, closed) instructions bind.
    pub(super) subjects: HashMap<Subject, u32>,
    /// Open instructions by deadline, so finding the overdue ones does not scan them all.
    pub(super) open_by_deadline: std::collections::BTreeSet<(Timestamp, u64)>,
}

/// Corrections that lower a client position need approval when recorded from this instant
/// on (2026-12-06T00:00:00Z, when the rule came in); entries recorded before it were decided
/// without the rule, and a replay decides them the same way.
pub const CORRECTIONS_GATED_FROM: Timestamp = Timestamp::from_micros(1_796_515_200_000_000);

/// A transfer must move as much between positions as between wallets (debits equal credits on
/// each) when recorded from this instant on (2026-12-08T04:00:00Z, when the rule came in), so
/// that a transfer-shaped loss or withdrawal cannot pass four-eyes control; earlier entries
/// replay as they were decided.
pub const TRANSFERS_BALANCED_FROM: Timestamp = Timestamp::from_micros(1_796_702_400_000_000);

// The three dispatches below name every action (no wildcard): a new action does not compile
// until someone decides whether it needs four-eyes approval and what it binds.

impl FourEyes {
    /// For a restored checkpoint: the indexes point at pending instructions held.
    pub(super) fn check_indexes(&self) -> Result<(), String> {
        use super::checkpoint::within;
        super::checkpoint::index_matches("pending instruction", &self.index, &self.pending, |pending| &pending.id)?;
        within("a pending instruction's subject", self.subjects.values().map(|&i| i as usize), self.pending.len())?;
        if self.open_by_deadline.iter().any(|(_, id)| !self.index.contains_key(id)) {
            return Err("an open pending instruction is not held".into());
        }
        Ok(())
    }
}

fn subject_of(action: &Action) -> Option<Subject> {
    Some(match action {
        Action::Movement(movement) => Subject::Movement(movement.key.as_str().to_owned()),
        Action::RegisterKeySet(key_set) => Subject::KeySet(key_set.id.as_str().to_owned()),
        Action::RegisterSubCustodian(sub) => Subject::SubCustodian(sub.id.as_str().to_owned()),
        Action::UpdateSubCustodianAuthorisation { id, .. } => Subject::Authorisation(id.as_str().to_owned()),
        Action::ChangeWallet(wallet) => Subject::Wallet(wallet.id.as_str().to_owned()),
        Action::SetApprovalPolicy(_) => Subject::Policy,
        Action::SetExceptionPolicy(_) => Subject::ExceptionPolicy,
        Action::Safeguard(action) => Subject::Safeguard(match action {
            SafeguardAction::SetPolicy(_) => "policy".to_owned(),
            SafeguardAction::RecordInstruction(instruction) => format!("instruction:{}", instruction.id),
            SafeguardAction::RecordRiskAssessment(assessment) => format!("assessment:{}", assessment.id),
            SafeguardAction::RegisterInstitution(institution) => format!("institution:{}", institution.id),
            SafeguardAction::RegisterFiatAccount(account) => format!("fiat-account:{}", account.id),
            SafeguardAction::ReviewInstitution { institution, .. } => format!("institution-review:{institution}"),
            SafeguardAction::RevokeInstruction { .. }
            | SafeguardAction::Encumber { .. }
            | SafeguardAction::Release { .. }
            | SafeguardAction::ReceiveFiat(_)
            | SafeguardAction::PlaceFiat(_)
            | SafeguardAction::WithdrawFiat(_)
            | SafeguardAction::Check => return None,
        }),
        Action::RegisterSigningKey(key) => Subject::SigningKey(key.public_key),
        Action::RetireSigningKey { public_key } => Subject::SigningKey(*public_key),
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
        | Action::RecordPrice(_)
        | Action::RecordStatement(_)
        | Action::RecordPack(_) => return None,
    })
}

/// The sum of the client-position debits of each asset in a withdrawal.
fn withdrawn(postings: &[crate::movement::Posting]) -> Vec<(&AssetId, u128)> {
    let mut sums: Vec<(&AssetId, u128)> = Vec::new();
    for posting in postings {
        if posting.side == Side::Debit && matches!(posting.account, Account::Position(_)) {
            match sums.iter_mut().find(|(asset, _)| *asset == &posting.asset) {
                Some((_, sum)) => *sum = sum.saturating_add(posting.amount.units()),
                None => sums.push((&posting.asset, posting.amount.units())),
            }
        }
    }
    sums
}

impl Register {
    /// The approval policy in force and the sequence number that set it.
    pub fn approval_policy(&self) -> Option<(&ApprovalPolicy, u64)> {
        self.four_eyes.policy.as_ref().map(|p| (&p.value, p.seq))
    }

    /// The pending instruction proposed at sequence `id`.
    pub fn pending(&self, id: u64) -> Option<&Pending> {
        self.four_eyes.index.get(&id).map(|&index| &self.four_eyes.pending[index as usize])
    }

    /// Every pending instruction ever proposed (open or closed), in order.
    pub fn pendings(&self) -> impl Iterator<Item = &Pending> {
        self.four_eyes.pending.iter()
    }

    /// Open pending instructions whose time is over at `now`: they should be expired.
    pub fn overdue(&self, now: Timestamp) -> Vec<u64> {
        self.four_eyes.open_by_deadline.range(..=(now, u64::MAX)).map(|&(_, id)| id).collect()
    }

    /// Decides `command` if four-eyes control concerns it: approvals, rejections and expiries
    /// always; a command while a pending instruction binds its subject; a command that needs
    /// approval under the policy. `None`: decide it as usual.
    pub(super) fn four_eyes(&mut self, command: &Command) -> Result<Option<Outcome>, super::InvariantViolation> {
        let meta = &command.meta;
        match &command.action {
            Action::ApprovePending { id } => return self.approve(meta, *id).map(Some),
            Action::RejectPending { id, reason } => return Ok(Some(self.reject_pending(meta, *id, reason).unwrap_or_else(|o| o))),
            Action::ExpirePending { id } => return Ok(Some(self.expire(*id).unwrap_or_else(|o| o))),
            // Every other action goes on to the policy below (named, not a wildcard).
            Action::RegisterAsset(_)
            | Action::RegisterClient(_)
            | Action::RegisterSubCustodian(_)
            | Action::UpdateSubCustodianAuthorisation { .. }
            | Action::RegisterKeySet(_)
            | Action::RegisterWallet(_)
            | Action::Movement(_)
            | Action::RegisterApiToken(_)
            | Action::RevokeApiToken { .. }
            | Action::SetApprovalPolicy(_)
            | Action::ChangeWallet(_)
            | Action::WatchChain { .. }
            | Action::ObserveChain(_)
            | Action::RecordReconRun(_)
            | Action::SetExceptionPolicy(_)
            | Action::InvestigateException { .. }
            | Action::ProposeResolution { .. }
            | Action::ApproveResolution { .. }
            | Action::RejectResolution { .. }
            | Action::EscalateException { .. }
            | Action::Safeguard(_)
            | Action::RegisterSigningKey(_)
            | Action::RetireSigningKey { .. }
            | Action::RecordPrice(_)
            | Action::RecordStatement(_)
            | Action::RecordPack(_) => {}
        }
        if self.four_eyes.policy.is_none() && self.four_eyes.subjects.is_empty() {
            return Ok(None);
        }
        // The subject (an owned key) is built only when some instruction binds one.
        let bound = if self.four_eyes.subjects.is_empty() { None } else { subject_of(&command.action) };
        if let Some(subject) = &bound
            && let Some(&index) = self.four_eyes.subjects.get(subject)
        {
            let pending = &self.four_eyes.pending[index as usize];
            match &pending.state {
                PendingState::Open if pending.command.action == command.action => {
                    return Ok(Some(Outcome {
                        status: Status::AlreadyExists,
                        seq: Some(pending.id),
                        detail: format!(
                            "awaiting approval as pending instruction {} ({} of {} approvals)",
                            pending.id,
                            pending.approvals.len(),
                            pending.required
                        ),
                    }));
                }
                PendingState::Open => {
                    let status = if matches!(subject, Subject::Movement(_)) { Status::IdempotencyConflict } else { Status::EntityConflict };
                    return Ok(Some(Outcome::rejected(
                        status,
                        format!("pending instruction {} awaits approval for a different command on the same subject", pending.id),
                    )));
                }
                PendingState::Rejected { seq, .. } | PendingState::Expired { seq } => {
                    return Ok(Some(Outcome::rejected(
                        Status::PendingClosed,
                        format!(
                            "this key belongs to pending instruction {}, {} at sequence {seq}; send it again with a new key",
                            pending.id,
                            pending.state.code()
                        ),
                    )));
                }
                // Applied: the usual decision finds it (already exists, or a conflict).
                PendingState::Applied { .. } => {}
            }
        }
        // Borrowed, not cloned: this runs for every command while a policy is in force.
        let Some(policy) = self.four_eyes.policy.as_ref().map(|p| &p.value) else {
            return Ok(None);
        };
        let Some(reason) = policy.gates(&command.action) else {
            return Ok(None);
        };
        // A rule added later applies to what was recorded after it existed: an entry recorded
        // before decides on replay exactly as it did then.
        if matches!(&command.action, Action::Movement(m) if m.kind == MovementKind::Correction) && self.now.0 < CORRECTIONS_GATED_FROM {
            return Ok(None);
        }
        let (required, expiry) = (policy.approvals, policy.expiry_micros());
        if let Some(refusal) = self.precheck(command) {
            return Ok(Some(refusal));
        }
        let Some(subject) = bound.or_else(|| subject_of(&command.action)) else {
            return Ok(None);
        };
        let seq = self.next_seq();
        let detail = format!(
            "{reason} needs {required} approval{} from someone other than {}; pending instruction {seq}",
            if required == 1 { "" } else { "s" },
            meta.actor
        );
        let index = super::index_of(self.four_eyes.pending.len());
        let expires_at = Timestamp::from_micros(self.now.0.micros().saturating_add(expiry));
        self.four_eyes.open_by_deadline.insert((expires_at, seq));
        self.four_eyes.pending.push(Pending {
            id: seq,
            command: command.clone(),
            reason,
            proposed_at: self.now.0,
            expires_at,
            required,
            approvals: Vec::new(),
            state: PendingState::Open,
        });
        self.four_eyes.index.insert(seq, index);
        self.four_eyes.subjects.insert(subject, index);
        Ok(Some(Outcome::pending(seq, detail)))
    }

    /// Why `command` needs approval under `policy`, if it does.
    /// The refusal (or `already_exists`) `command` would get now, so that a command that
    /// cannot apply is refused at once rather than sent for approval.
    fn precheck(&mut self, command: &Command) -> Option<Outcome> {
        match &command.action {
            Action::Movement(movement) => {
                let mut scratch = std::mem::take(&mut self.scratch);
                let result = self.check_movement(&command.meta, movement, &mut scratch);
                self.scratch = scratch;
                result.err()
            }
            // The same check halves the register runs before it applies each of these.
            Action::RegisterKeySet(key_set) => self.check_key_set(key_set).err(),
            Action::RegisterSubCustodian(sub) => self.check_sub_custodian(sub).err(),
            Action::UpdateSubCustodianAuthorisation { id, reference, valid_until } => {
                self.check_authorisation(id, reference, *valid_until).err()
            }
            Action::ChangeWallet(wallet) => self.check_wallet_change(&command.meta, wallet).err(),
            Action::Safeguard(action) => self.check_safeguard(&command.meta, action).err(),
            Action::SetApprovalPolicy(policy) => self.check_policy(policy).err(),
            Action::SetExceptionPolicy(policy) => self.check_exception_policy(policy).err(),
            Action::RegisterSigningKey(key) => self.check_signing_key(key).err(),
            Action::RetireSigningKey { public_key } => self.check_key_retirement(public_key).err(),
            // Never gated by `needs_approval`, so never prechecked.
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
            | Action::RecordPrice(_)
            | Action::RecordStatement(_)
            | Action::RecordPack(_) => None,
        }
    }

    pub(super) fn check_policy(&self, policy: &ApprovalPolicy) -> Check<()> {
        if let Some(problem) = policy.problem() {
            return reject(Status::InvalidPolicy, problem);
        }
        if let Some((asset, _)) = policy.withdrawal_thresholds.iter().find(|(asset, _)| !self.asset_index.contains_key(asset)) {
            return reject(Status::UnknownAsset, format!("asset {asset} is not registered"));
        }
        if let Some(current) = &self.four_eyes.policy
            && current.value == *policy
        {
            return Err(Outcome::already_exists(current.seq));
        }
        Ok(())
    }

    /// Applies an approval policy (directly when none is in force, else once approved).
    pub(super) fn set_policy(&mut self, policy: &ApprovalPolicy) -> Check<Outcome> {
        self.check_policy(policy)?;
        let seq = self.next_seq();
        self.four_eyes.policy = Some(Registered { value: policy.clone(), seq });
        Ok(Outcome::accepted(seq))
    }

    /// The open pending instruction `id`, at index, if it can still be acted on.
    fn open_pending(&self, id: u64) -> Check<usize> {
        let Some(&index) = self.four_eyes.index.get(&id) else {
            return reject(Status::UnknownPending, format!("no pending instruction has id {id}"));
        };
        let pending = &self.four_eyes.pending[index as usize];
        match &pending.state {
            PendingState::Open => Ok(index as usize),
            PendingState::Applied { seq } | PendingState::Rejected { seq, .. } | PendingState::Expired { seq } => {
                reject(Status::PendingClosed, format!("pending instruction {id} was {} at sequence {seq}", pending.state.code()))
            }
        }
    }

    fn approve(&mut self, meta: &Meta, id: u64) -> Result<Outcome, super::InvariantViolation> {
        let index = match self.open_pending(id) {
            Ok(index) => index,
            Err(outcome) => return Ok(outcome),
        };
        let pending = &self.four_eyes.pending[index];
        if self.now.0 >= pending.expires_at {
            return Ok(Outcome::rejected(
                Status::PendingExpired,
                format!("pending instruction {id} can no longer be approved: its time is over"),
            ));
        }
        if meta.actor == *pending.initiator() {
            return Ok(Outcome::rejected(
                Status::InitiatorCannotApprove,
                format!("{} proposed pending instruction {id} and cannot approve it", meta.actor),
            ));
        }
        if let Some((_, seq)) = pending.approvals.iter().find(|(actor, _)| *actor == meta.actor) {
            return Ok(Outcome::rejected(
                Status::ApproverNotDistinct,
                format!("{} approved pending instruction {id} already (sequence {seq}); it needs someone else", meta.actor),
            ));
        }
        let (have, required) = (pending.approvals.len() + 1, usize::from(pending.required));
        if have < required {
            let seq = self.next_seq();
            self.four_eyes.pending[index].approvals.push((meta.actor.clone(), seq));
            return Ok(Outcome {
                status: Status::Accepted,
                seq: Some(seq),
                detail: format!("approval {have} of {required} of pending instruction {id}"),
            });
        }
        // The last approval: the instruction takes effect in this very entry.
        let command = pending.command.clone();
        let outcome = self.decide(&command)?;
        match outcome.status {
            Status::Accepted => {
                let seq = outcome.seq.unwrap_or(self.seq);
                let pending = &mut self.four_eyes.pending[index];
                pending.approvals.push((meta.actor.clone(), seq));
                pending.state = PendingState::Applied { seq };
                self.four_eyes.open_by_deadline.remove(&(pending.expires_at, id));
                Ok(Outcome {
                    status: Status::Accepted,
                    seq: Some(seq),
                    detail: format!("approval {have} of {required}: pending instruction {id} applied"),
                })
            }
            Status::AlreadyExists => Ok(Outcome::rejected(
                Status::PendingClosed,
                format!("what pending instruction {id} asks is in place already (sequence {}); reject it", outcome.seq.unwrap_or(0)),
            )),
            status => Ok(Outcome::rejected(status, format!("pending instruction {id} cannot take effect now: {}", outcome.detail))),
        }
    }

    fn close(&mut self, index: usize, state: PendingState) {
        let pending = &mut self.four_eyes.pending[index];
        pending.state = state;
        self.four_eyes.open_by_deadline.remove(&(pending.expires_at, pending.id));
        // A rejected or expired movement key stays taken (a retry must not re-propose it
        // unnoticed); an entity may be proposed again.
        if let Some(subject) = subject_of(&pending.command.action)
            && !matches!(subject, Subject::Movement(_))
        {
            self.four_eyes.subjects.remove(&subject);
        }
    }

    fn reject_pending(&mut self, meta: &Meta, id: u64, reason: &str) -> Check<Outcome> {
        let index = self.open_pending(id)?;
        if reason.trim().is_empty() || reason.len() > REASON_BYTES_MAX {
            return reject(Status::InvalidPolicy, format!("a rejection needs a reason of 1 to {REASON_BYTES_MAX} bytes"));
        }
        if self.now.0 >= self.four_eyes.pending[index].expires_at {
            return reject(
                Status::PendingExpired,
                format!("pending instruction {id}'s time is over; it expires rather than being rejected"),
            );
        }
        let seq = self.next_seq();
        self.close(index, PendingState::Rejected { seq, by: meta.actor.clone(), reason: reason.to_owned() });
        Ok(Outcome { status: Status::Accepted, seq: Some(seq), detail: format!("pending instruction {id} rejected") })
    }

    fn expire(&mut self, id: u64) -> Check<Outcome> {
        let index = self.open_pending(id)?;
        if self.now.0 < self.four_eyes.pending[index].expires_at {
            return reject(Status::PendingNotExpired, format!("pending instruction {id} can still be approved"));
        }
        let seq = self.next_seq();
        self.close(index, PendingState::Expired { seq });
        Ok(Outcome { status: Status::Accepted, seq: Some(seq), detail: format!("pending instruction {id} expired") })
    }
}

impl ApprovalPolicy {
    /// Why `action` needs approval under this policy, or `None` when it does not. Gated: a
    /// withdrawal above its asset's threshold; a correction that lowers a client position
    /// (whatever the amount: a correction takes from a client what the register said it had);
    /// every change of the firm's custody set-up (key sets, sub-custodians and their
    /// authorisations, wallet changes), of a policy (approval, exception, safeguarding) and
    /// every client instruction, risk assessment, institution and fiat account. The table in
    /// docs/four-eyes.md lists every action; `crates/journal/tests/golden.rs` checks it.
    pub fn gates(&self, action: &Action) -> Option<String> {
        let policy = self;
        match action {
            Action::Movement(movement) if movement.kind == MovementKind::Withdrawal => {
                withdrawn(&movement.postings).into_iter().find_map(|(asset, amount)| {
                    let threshold = policy.threshold(asset)?;
                    (amount > threshold.units())
                        .then(|| format!("a withdrawal of {amount} of {asset}, above the threshold of {}", threshold.units()))
                })
            }
            Action::RegisterKeySet(key_set) => Some(format!("the new key set {}", key_set.id)),
            Action::RegisterSubCustodian(sub) => Some(format!("the new sub-custodian {}", sub.id)),
            Action::UpdateSubCustodianAuthorisation { id, .. } => Some(format!("the change of sub-custodian {id}'s authorisation")),
            Action::ChangeWallet(wallet) => Some(format!("the change of wallet {}", wallet.id)),
            Action::SetApprovalPolicy(_) => Some("the change of the approval policy".into()),
            Action::SetExceptionPolicy(_) => Some("the change of the exception policy".into()),
            Action::RegisterSigningKey(key) => {
                Some(format!("the new journal signing key {}", crate::entity::SigningKey::fingerprint(&key.public_key)))
            }
            Action::RetireSigningKey { public_key } => {
                Some(format!("the retirement of journal signing key {}", crate::entity::SigningKey::fingerprint(public_key)))
            }
            Action::Safeguard(action) => match action {
                SafeguardAction::SetPolicy(_) => Some("the change of the safeguarding policy".into()),
                SafeguardAction::RecordInstruction(instruction) => Some(format!("the client instruction {}", instruction.id)),
                SafeguardAction::RecordRiskAssessment(assessment) => Some(format!("the risk assessment {}", assessment.id)),
                SafeguardAction::RegisterInstitution(institution) => Some(format!("the new institution {}", institution.id)),
                SafeguardAction::RegisterFiatAccount(account) => Some(format!("the new fiat account {}", account.id)),
                SafeguardAction::ReviewInstitution { institution, .. } => Some(format!("the review of institution {institution}")),
                SafeguardAction::RevokeInstruction { .. }
                | SafeguardAction::Encumber { .. }
                | SafeguardAction::Release { .. }
                | SafeguardAction::ReceiveFiat(_)
                | SafeguardAction::PlaceFiat(_)
                | SafeguardAction::WithdrawFiat(_)
                | SafeguardAction::Check => None,
            },
            // A correction lowering a position, or a loss, takes from a client what the register
            // said it had, whatever the amount.
            Action::Movement(movement) if matches!(movement.kind, MovementKind::Correction | MovementKind::Loss) => {
                let what = if movement.kind == MovementKind::Loss { "a loss taken from" } else { "a correction lowering" };
                movement
                    .postings
                    .iter()
                    .find_map(|p| match &p.account {
                        Account::Position(client) if p.side == Side::Debit => Some((client, &p.asset)),
                        _ => None,
                    })
                    .map(|(client, asset)| format!("{what} client {client}'s position in {asset}"))
            }
            Action::Movement(_) => None,
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
            | Action::RecordPrice(_)
            | Action::RecordStatement(_)
            | Action::RecordPack(_) => None,
        }
    }

    /// While this policy is in force, the roles of a verified identity (an API token) that
    /// may record `action`, when it needs one: a four-eyes decision (approving or rejecting a
    /// pending instruction, the exception lifecycle) or a command this policy holds back,
    /// whose initiator no approver may be. `None`: the action needs no identity beyond the
    /// actor named. The roles are those of the API's routes for the same action.
    pub fn identity_roles(&self, action: &Action) -> Option<&'static [crate::Role]> {
        use crate::Role::{Approver, Compliance, Operator};
        match action {
            Action::ApprovePending { .. } | Action::RejectPending { .. } => Some(&[Approver]),
            Action::InvestigateException { .. } | Action::ProposeResolution { .. } => Some(&[Operator, Compliance]),
            Action::ApproveResolution { .. } | Action::RejectResolution { .. } => Some(&[Approver, Compliance]),
            Action::SetApprovalPolicy(_)
            | Action::SetExceptionPolicy(_)
            | Action::Safeguard(SafeguardAction::SetPolicy(_) | SafeguardAction::RecordRiskAssessment(_)) => Some(&[Compliance]),
            action => self.gates(action).map(|_| &[Operator][..]),
        }
    }
}
