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

use std::path::{Path, PathBuf};

use ringfence_core::{Action, Actor, Command, InstructionId, Meta, Outcome, Register, SafeguardAction, Status, Timestamp};
use ringfence_recon::StatementFormat;
use ringfence_store::{BATCH_MAX, Store, StoreError};
use ringfence_wire::clock;

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

/// What the daily run takes from a statements inbox: the statements of the newest cut-off
/// that no recorded run has used yet, and the files it passed over, with why.
#[derive(Debug, Default)]
pub struct Inbox {
    /// The run's cut-off: these statements' (`None`: no new statement, the run is at now).
    pub cut_off: Option<Timestamp>,
    pub statements: Vec<PathBuf>,
    /// Files not used: malformed, from the future, of an older cut-off, used already, or older
    /// than a statement of the same sub-custodian that a run used.
    pub skipped: Vec<(PathBuf, String)>,
}

/// Reads the statements inbox `dir` (files ending `.csv`, `.jsonl` or `.ndjson`; others are
/// not looked at): every statement that parses against the register, is not in the future at
/// `now`, whose SHA-256 no recorded run holds yet and that is newer than any statement of its
/// sub-custodian a run used is a candidate, and the run takes the candidates of the newest
/// cut-off. A malformed file is skipped with its problem, so that one
/// bad upload does not stop the daily run (its sub-custodian's wallets are then `not_observed`,
/// which the run records as breaks).
pub fn read_inbox(register: &Register, dir: &Path, now: Timestamp) -> Result<Inbox, std::io::Error> {
    // The statements recorded runs used, and per sub-custodian the newest cut-off used.
    let mut used = std::collections::HashSet::new();
    let mut newest_used: std::collections::HashMap<&ringfence_core::SubCustodianId, Timestamp> = std::collections::HashMap::new();
    for record in register.recon_runs() {
        for source in &record.run.sources {
            if let ringfence_core::RunSource::Statement { sha256, sub_custodian, .. } = source {
                used.insert(*sha256);
                let newest = newest_used.entry(sub_custodian).or_insert(record.run.cut_off);
                *newest = (*newest).max(record.run.cut_off);
            }
        }
    }
    // Regular files only: a symbolic link could point the run (and its log) at any file.
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_file()))
        .map(|entry| entry.path())
        .filter(|path| StatementFormat::of_path(path).is_some())
        .collect();
    paths.sort();
    let mut inbox = Inbox::default();
    let mut candidates = Vec::new();
    for path in paths {
        // `read` checks the size before reading (256 MiB at most).
        match ringfence_recon::Statement::read(&path, register).map_err(|e| e.to_string()) {
            Err(problem) => inbox.skipped.push((path, problem)),
            Ok(statement) if used.contains(&statement.sha256) => {
                inbox.skipped.push((path, "a recorded run used this statement already".to_owned()));
            }
            Ok(statement) if newest_used.get(&statement.sub_custodian).is_some_and(|newest| statement.cut_off <= *newest) => {
                inbox.skipped.push((path, format!("a run used a statement of {} at a later or the same cut-off", statement.sub_custodian)));
            }
            Ok(statement) if statement.cut_off > now => {
                inbox.skipped.push((path, format!("its cut-off {} is in the future", clock::format(statement.cut_off))));
            }
            Ok(statement) => candidates.push((statement.cut_off, path)),
        }
    }
    inbox.cut_off = candidates.iter().map(|(cut_off, _)| *cut_off).max();
    for (cut_off, path) in candidates {
        if Some(cut_off) == inbox.cut_off {
            inbox.statements.push(path);
        } else {
            inbox.skipped.push((path, format!("an older cut-off ({}) than the newest statement's", clock::format(cut_off))));
        }
    }
    Ok(inbox)
}

/// The daily reconciliation run, recorded by the system actor: every watched chain and wallet,
/// now or, when the statements inbox holds statements no run has used, at their cut-off with
/// them (so that wallets at sub-custodians are observed too).
pub fn daily_reconciliation(store: &mut Store, settings: &Settings, inbox: &Inbox) -> Result<RunResult, WatchError> {
    crate::run(store, settings, &RunRequest { at: inbox.cut_off, statements: inbox.statements.clone(), actor: Actor::system() })
}
