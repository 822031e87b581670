//! Journal signing keys in the register (issue 14): registered once, a label that fits, a
//! retired key never back, the last active key not retirable, and both actions held back for
//! approval while an approval policy is in force. Which commit a key may sign is
//! `SigningKeyRecord::may_sign`.

#![allow(clippy::unwrap_used, reason = "a fixture that fails should fail the test at once")]

use ringfence_core::{
    Action, Actor, ApprovalPolicy, Command, InstructionId, Meta, Register, SigningKey, SigningKeyRecord, Status, Timestamp,
};

const T0: Timestamp = Timestamp::from_micros(1_767_225_600_000_000);

fn apply_as(register: &mut Register, actor: &str, action: Action) -> (Status, Option<u64>) {
    let meta = Meta { actor: Actor::parse(actor).unwrap(), instruction: InstructionId::parse("i-1").unwrap(), effective_at: T0 };
    let outcome = register.apply(&Command { meta, action }).unwrap();
    (outcome.status, outcome.seq)
}

fn apply(register: &mut Register, action: Action) -> (Status, Option<u64>) {
    apply_as(register, "ops", action)
}

fn key(byte: u8, label: &str) -> Action {
    Action::RegisterSigningKey(SigningKey { public_key: [byte; 32], label: label.into() })
}

#[test]
fn a_key_is_registered_once_retired_for_good_and_the_last_one_stays() {
    let mut register = Register::new();
    assert_eq!(apply(&mut register, key(1, "writer")), (Status::Accepted, Some(1)));
    assert_eq!(apply(&mut register, key(1, "writer")), (Status::AlreadyExists, Some(1)));
    assert_eq!(apply(&mut register, key(1, "another label")).0, Status::EntityConflict);
    assert_eq!(apply(&mut register, key(2, " ")).0, Status::InvalidSigningKey);
    assert_eq!(apply(&mut register, key(2, &"x".repeat(201))).0, Status::InvalidSigningKey);
    assert_eq!(apply(&mut register, Action::RetireSigningKey { public_key: [9; 32] }).0, Status::UnknownSigningKey);
    assert_eq!(apply(&mut register, Action::RetireSigningKey { public_key: [1; 32] }).0, Status::InvalidSigningKey, "the last active key");
    assert_eq!(apply(&mut register, key(2, "successor")), (Status::Accepted, Some(2)));
    assert_eq!(apply(&mut register, Action::RetireSigningKey { public_key: [1; 32] }), (Status::Accepted, Some(3)));
    assert_eq!(apply(&mut register, Action::RetireSigningKey { public_key: [1; 32] }), (Status::AlreadyExists, Some(3)));
    assert_eq!(apply(&mut register, key(1, "writer")).0, Status::InvalidSigningKey, "a retired key never comes back");
    let records = register.signing_keys();
    assert_eq!(records.len(), 2);
    assert_eq!((records[0].registered, records[0].retired), (1, Some(3)));
    assert_eq!(SigningKey::fingerprint(&[0xab; 32]), "ed25519:abababababababab");
}

#[test]
fn a_key_signs_from_the_commit_that_registers_it_to_the_one_that_retires_it() {
    let record = SigningKeyRecord { key: SigningKey { public_key: [1; 32], label: "k".into() }, registered: 10, retired: Some(20) };
    assert!(!record.may_sign(5, 9), "before it was registered");
    assert!(record.may_sign(8, 10), "the commit that registers it");
    assert!(record.may_sign(11, 19));
    assert!(record.may_sign(20, 25), "the commit that retires it");
    assert!(!record.may_sign(21, 21), "after it was retired");
}

#[test]
fn registering_and_retiring_keys_wait_for_approval_under_a_policy() {
    let mut register = Register::new();
    let policy = ApprovalPolicy { approvals: 1, expiry_hours: 24, withdrawal_thresholds: Vec::new() };
    assert_eq!(apply_as(&mut register, "compliance", Action::SetApprovalPolicy(policy)).0, Status::Accepted);
    let (status, id) = apply(&mut register, key(1, "writer"));
    assert_eq!(status, Status::PendingApproval);
    assert!(register.signing_keys().is_empty(), "not registered before approval");
    // A malformed one is refused at once, not sent for approval.
    assert_eq!(apply(&mut register, key(2, "")).0, Status::InvalidSigningKey);
    assert_eq!(apply_as(&mut register, "ops", Action::ApprovePending { id: id.unwrap() }).0, Status::InitiatorCannotApprove);
    let (status, seq) = apply_as(&mut register, "approver", Action::ApprovePending { id: id.unwrap() });
    assert_eq!(status, Status::Accepted);
    assert_eq!(register.signing_keys()[0].registered, seq.unwrap());
    assert_eq!(apply(&mut register, Action::RetireSigningKey { public_key: [1; 32] }).0, Status::InvalidSigningKey);
}
