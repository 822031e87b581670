//! What the system journals by itself (`ringfence_watch::system`): an overdue exception is
//! escalated once, by the system actor with instruction `escalate:ID`, whoever calls it (the
//! server's store thread or `ringfence exceptions escalate`); an exception not yet due is left
//! alone; a pending instruction past its deadline expires the same way.

#![allow(clippy::unwrap_used, reason = "a fixture that fails should fail the test at once")]

use ringfence_core::{
    Action, Actor, ApprovalPolicy, Break, Command, ExceptionKind, ExceptionPolicy, InstructionId, Meta, ReconRun, Severity, Status,
    Timestamp,
};
use ringfence_store::{Location, Store};
use ringfence_watch::system::{self, Duty};
use ringfence_wire::clock;

const HOUR: i64 = 3_600_000_000;

fn command(actor: &str, instruction: &str, at: Timestamp, action: Action) -> Command {
    Command {
        meta: Meta { actor: Actor::parse(actor).unwrap(), instruction: InstructionId::parse(instruction).unwrap(), effective_at: at },
        action,
    }
}

fn run_with_break(subject: &str) -> Action {
    let found = Break {
        kind: ExceptionKind::UnmatchedOutflow,
        severity: Severity::Critical,
        subject: subject.to_owned(),
        detail: format!("{subject} moved"),
    };
    Action::RecordReconRun(ReconRun {
        cut_off: clock::parse("2026-01-31").unwrap(),
        sources: Vec::new(),
        checked: 1,
        matched: 0,
        report_sha256: [1; 32],
        breaks: vec![found],
    })
}

fn accepted(store: &mut Store, commands: &[Command], at: Timestamp) {
    for outcome in store.submit(commands, at).unwrap() {
        assert_eq!(outcome.status, Status::Accepted, "{}", outcome.detail);
    }
}

#[test]
fn an_overdue_exception_is_escalated_once_by_the_system_actor() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::create(&Location::data_dir(dir.path())).unwrap();
    let now = clock::now();
    let two_days_ago = Timestamp::from_micros(now.micros() - 48 * HOUR);
    // One exception opened two days ago (due a day ago), one opened now (due tomorrow).
    accepted(&mut store, &[command("ops:alice", "recon-run", two_days_ago, run_with_break("wallet:late"))], two_days_ago);
    accepted(&mut store, &[command("ops:alice", "recon-run", now, run_with_break("wallet:fresh"))], now);
    let overdue = store.register().overdue_exceptions(now);
    assert_eq!(overdue.len(), 1, "only the old exception is overdue");

    assert_eq!(system::overdue(store.register(), now), vec![Duty::Escalate { exception: overdue[0] }]);
    assert_eq!(system::escalate_overdue(&mut store, now).unwrap(), overdue);
    let entry = store.entries(store.head().seq - 1, 1).unwrap().remove(0);
    assert_eq!(entry.command.meta.actor, Actor::system());
    assert_eq!(entry.command.meta.instruction.as_str(), format!("escalate:{}", overdue[0]));
    assert_eq!(entry.command.action, Action::EscalateException { id: overdue[0] });

    // Escalated once: nothing is due any more, and a second call records nothing.
    let head = store.head();
    assert!(system::overdue(store.register(), now).is_empty());
    assert_eq!(system::escalate_overdue(&mut store, now).unwrap(), Vec::<u64>::new());
    assert_eq!(system::perform_due(&mut store, now).unwrap(), Vec::new());
    assert_eq!(store.head(), head);
}

#[test]
fn a_pending_instruction_past_its_deadline_is_expired_by_the_system_actor() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::create(&Location::data_dir(dir.path())).unwrap();
    let now = clock::now();
    let two_days_ago = Timestamp::from_micros(now.micros() - 48 * HOUR);
    let policy = ApprovalPolicy { approvals: 2, expiry_hours: 24, withdrawal_thresholds: Vec::new() };
    accepted(&mut store, &[command("compliance:carol", "policy:approvals", two_days_ago, Action::SetApprovalPolicy(policy))], two_days_ago);
    // A change of the exception clocks two days ago waits for approval; it was due to expire a
    // day ago.
    let clocks = ExceptionPolicy { resolution_hours: 48, confirmation_hours: 48 };
    let outcome = store
        .submit(&[command("compliance:carol", "exception-policy", two_days_ago, Action::SetExceptionPolicy(clocks))], two_days_ago)
        .unwrap()
        .remove(0);
    assert_eq!(outcome.status, Status::PendingApproval, "{}", outcome.detail);
    let pending = outcome.seq.unwrap();

    let done = system::perform_due(&mut store, now).unwrap();
    assert_eq!(
        done.iter().map(|(duty, outcome)| (*duty, outcome.status)).collect::<Vec<_>>(),
        vec![(Duty::Expire { pending }, Status::Accepted)]
    );
    let entry = store.entries(store.head().seq - 1, 1).unwrap().remove(0);
    assert_eq!(
        (entry.command.meta.actor, entry.command.meta.instruction.as_str().to_owned()),
        (Actor::system(), format!("expire:{pending}"))
    );
    assert!(system::perform_due(&mut store, now).unwrap().is_empty(), "expired once");
}
