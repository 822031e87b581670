//! What the system journals by itself: the one place for it, called by the server and by the
//! CLI alike. Every entry here has the system actor ([`Actor::system`]) and one instruction id
//! per duty, so the journal reads the same whichever process did the work:
//!
//! | Duty | Instruction | Who calls it |
//! |---|---|---|
//! | expire a pending instruction past its deadline | `expire:ID` | the server's store thread ([`perform_due`]) |
//! | escalate an exception past its due time | `escalate:ID` | the server ([`perform_due`]); `ringfence exceptions escalate` ([`escalate_overdue`]) |
//! | check the safeguarding policies when a breach has no exception yet | `safeguarding-check` | the server after every batch and as time passes; the CLI after an import, a reconciliation run, a policy change ([`check_safeguards`]) |
//! | the daily reconciliation run | `recon-run` | the schedule thread of `ringfence serve` ([`daily_reconciliation`]) |
//!
//! The register decides each of them like any other command: an expiry or escalation that
//! raced with a person's action is refused with a status, never applied twice.

use ringfence_core::{Action, Actor, Command, InstructionId, Meta, Outcome, Register, SafeguardAction, Status, Timestamp};
use ringfence_store::{BATCH_MAX, Store, StoreError};

use crate::{RunRequest, RunResult, Settings, WatchError};

/// One thing the system does by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Duty {
    /// Expire the pending instruction with this id: its deadline passed.
    Expire { pending: u64 },
    /// Escalate the exception with this id: it is past its due time, unresolved.
    Escalate { exception: u64 },
    /// Check the safeguarding policies: a breach has no exception yet.
    SafeguardingCheck,
}

impl Duty {
    /// The command that records the duty at `now`, with the system actor.
    pub fn command(self, now: Timestamp) -> Command {
        let (instruction, action) = match self {
            Duty::Expire { pending } => (format!("expire:{pending}"), Action::ExpirePending { id: pending }),
            Duty::Escalate { exception } => (format!("escalate:{exception}"), Action::EscalateException { id: exception }),
            Duty::SafeguardingCheck => ("safeguarding-check".to_owned(), Action::Safeguard(SafeguardAction::Check)),
        };
        Command {
            meta: Meta {
                actor: Actor::system(),
                instruction: InstructionId::parse(&instruction).expect("a duty's instruction id is valid"),
                effective_at: now,
            },
            action,
        }
    }

    /// What a log line says about it.
    pub fn message(self) -> &'static str {
        match self {
            Duty::Expire { .. } => "pending instruction expired",
            Duty::Escalate { .. } => "overdue exception escalated",
            Duty::SafeguardingCheck => "safeguarding check recorded",
        }
    }

    /// The log field naming its subject, and the subject's id.
    pub fn subject(self) -> Option<(&'static str, u64)> {
        match self {
            Duty::Expire { pending } => Some(("pending", pending)),
            Duty::Escalate { exception } => Some(("exception", exception)),
            Duty::SafeguardingCheck => None,
        }
    }
}

/// The expiries and escalations due at `now`, at most a batch: expiries first, oldest deadline
/// first. The rest are due again at the next call.
pub fn overdue(register: &Register, now: Timestamp) -> Vec<Duty> {
    let expiries = register.overdue(now).into_iter().map(|pending| Duty::Expire { pending });
    let escalations = register.overdue_exceptions(now).into_iter().map(|exception| Duty::Escalate { exception });
    expiries.chain(escalations).take(BATCH_MAX).collect()
}

/// Journals every duty due at `now` (expiries and escalations in one durable batch, then the
/// safeguarding check if a breach has no exception yet) and returns each with its outcome.
/// An error means the write failed: nothing of that batch was applied, and the caller should
/// reopen the store before trying again.
pub fn perform_due(store: &mut Store, now: Timestamp) -> Result<Vec<(Duty, Outcome)>, StoreError> {
    let mut done = perform(store, &overdue(store.register(), now), now)?;
    if let Some(outcome) = check_safeguards(store, now)? {
        done.push((Duty::SafeguardingCheck, outcome));
    }
    Ok(done)
}

/// Journals `duties` in one durable batch; each with its outcome, in order.
pub fn perform(store: &mut Store, duties: &[Duty], now: Timestamp) -> Result<Vec<(Duty, Outcome)>, StoreError> {
    if duties.is_empty() {
        return Ok(Vec::new());
    }
    let commands: Vec<Command> = duties.iter().map(|duty| duty.command(now)).collect();
    let outcomes = store.submit(&commands, now)?;
    Ok(duties.iter().copied().zip(outcomes).collect())
}

/// Escalates every exception past its due time at `now`; returns the ids escalated.
pub fn escalate_overdue(store: &mut Store, now: Timestamp) -> Result<Vec<u64>, StoreError> {
    let due: Vec<Duty> =
        store.register().overdue_exceptions(now).into_iter().take(BATCH_MAX).map(|exception| Duty::Escalate { exception }).collect();
    Ok(perform(store, &due, now)?
        .into_iter()
        .filter(|(_, outcome)| outcome.status == Status::Accepted)
        .filter_map(|(duty, _)| duty.subject().map(|(_, id)| id))
        .collect())
}

/// Journals a safeguarding check at `now` when one is due (a breach without an exception, or a
/// check never made since the policy changed); `None` when nothing is due.
pub fn check_safeguards(store: &mut Store, now: Timestamp) -> Result<Option<Outcome>, StoreError> {
    if !store.register().safeguard_check_due(now) {
        return Ok(None);
    }
    Ok(store.submit(&[Duty::SafeguardingCheck.command(now)], now)?.pop())
}

/// The daily reconciliation run: every watched chain and wallet now, no statements, recorded
/// by the system actor.
pub fn daily_reconciliation(store: &mut Store, settings: &Settings) -> Result<RunResult, WatchError> {
    crate::run(store, settings, &RunRequest { at: None, statements: Vec::new(), actor: Actor::system() })
}
