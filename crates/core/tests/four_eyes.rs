//! Four-eyes control: with an approval policy in force, sensitive commands wait as pending
//! instructions until enough distinct approvers, none of them the initiator, approve them in
//! time; an approved withdrawal applies exactly once; everything is journaled and replays to
//! the same decisions.

#![allow(clippy::unwrap_used, reason = "a fixture that fails should fail the test at once")]

use ringfence_core::codec::{decode_command, encode_command};
use ringfence_core::{
    Account, Action, Actor, Address, Amount, ApprovalPolicy, Asset, AssetId, ClassKind, Client, ClientCategory, ClientId, Command,
    Custodian, InstructionId, KeyScheme, KeySet, KeySetId, Meta, PendingState, Register, Segregation, Status, SubCustodian, SubCustodianId,
    Tier, Timestamp, Wallet, WalletClass, WalletId, build,
};

const T0: Timestamp = Timestamp::from_micros(1_767_225_600_000_000);
const HOUR: i64 = 3_600_000_000;
const ETH: &str = "eip155:1/slip44:60";

fn at(hours: i64) -> Timestamp {
    Timestamp::from_micros(T0.micros() + hours * HOUR)
}

/// A register and every command it was given with its recorded time, for the replay check.
struct Desk {
    register: Register,
    log: Vec<(Command, Timestamp)>,
    seq_of_log: Vec<(Status, Option<u64>)>,
}

impl Desk {
    fn new() -> Desk {
        let mut desk = Desk { register: Register::new(), log: Vec::new(), seq_of_log: Vec::new() };
        desk.ok("setup", Action::RegisterAsset(Asset { id: AssetId::parse(ETH).unwrap(), scale: 18, symbol: "ETH".into() }));
        desk.ok(
            "setup",
            Action::RegisterClient(Client { id: client(), category: ClientCategory::Retail, segregation: Segregation::Omnibus }),
        );
        desk.ok("setup", Action::RegisterKeySet(key_set("ks-client", ClassKind::ClientOmnibus)));
        desk.ok("setup", Action::RegisterKeySet(key_set("ks-firm", ClassKind::Firm)));
        desk.ok(
            "setup",
            Action::RegisterSubCustodian(SubCustodian {
                id: SubCustodianId::parse("sub-1").unwrap(),
                name: "Sub One".into(),
                basis: ringfence_core::AuthorisationBasis::MicaCasp,
                reference: "LEI-1".into(),
                valid_until: at(24 * 365),
            }),
        );
        desk.ok("setup", Action::RegisterWallet(wallet()));
        desk.ok("setup", Action::Movement(build::deposit(key("dep-1"), &client(), &wallet().id, &eth(), Amount::new(1_000))));
        desk
    }

    fn run(&mut self, actor: &str, action: Action, recorded: Timestamp) -> (Status, Option<u64>) {
        let command = Command {
            meta: Meta { actor: Actor::parse(actor).unwrap(), instruction: InstructionId::parse("i-1").unwrap(), effective_at: T0 },
            action,
        };
        let outcome = self.register.apply_at(&command, recorded).unwrap();
        if outcome.status.is_journaled() {
            self.log.push((command, recorded));
            self.seq_of_log.push((outcome.status, outcome.seq));
        }
        (outcome.status, outcome.seq)
    }

    fn at(&mut self, actor: &str, action: Action) -> (Status, Option<u64>) {
        self.run(actor, action, T0)
    }

    fn ok(&mut self, actor: &str, action: Action) -> u64 {
        let (status, seq) = self.at(actor, action);
        assert_eq!(status, Status::Accepted);
        seq.unwrap()
    }

    fn position(&self) -> u128 {
        self.register.balance(&Account::Position(client()), &eth()).unwrap_or_default().units()
    }

    fn policy(&mut self, approvals: u8, threshold: u128) {
        let policy = ApprovalPolicy { approvals, expiry_hours: 24, withdrawal_thresholds: vec![(eth(), Amount::new(threshold))] };
        self.ok("compliance", Action::SetApprovalPolicy(policy));
    }

    /// Replays every journaled command into a new register: the same statuses and sequences.
    fn assert_replays(&self) {
        let mut replay = Register::new();
        for ((command, recorded), expected) in self.log.iter().zip(&self.seq_of_log) {
            let bytes = encode_command(command);
            let decoded = decode_command(&bytes).unwrap();
            assert_eq!(&decoded, command);
            let outcome = replay.apply_at(&decoded, *recorded).unwrap();
            assert_eq!((outcome.status, outcome.seq), *expected, "{:?}", command.action);
        }
        assert_eq!(replay.seq(), self.register.seq());
        assert_eq!(replay.balance(&Account::Position(client()), &eth()), self.register.balance(&Account::Position(client()), &eth()));
        replay.audit().unwrap();
    }
}

fn eth() -> AssetId {
    AssetId::parse(ETH).unwrap()
}
fn client() -> ClientId {
    ClientId::parse("alice").unwrap()
}
fn key(text: &str) -> ringfence_core::IdempotencyKey {
    ringfence_core::IdempotencyKey::parse(text).unwrap()
}
fn key_set(id: &str, class: ClassKind) -> KeySet {
    KeySet {
        id: KeySetId::parse(id).unwrap(),
        scheme: KeyScheme::Multisig { threshold: 2 },
        signers: vec!["s1".into(), "s2".into(), "s3".into()],
        class,
    }
}
fn wallet() -> Wallet {
    Wallet {
        id: WalletId::parse("omnibus-cold").unwrap(),
        address: Address::parse("eip155:1:0x00000000000000000000000000000000000000c1").unwrap(),
        class: WalletClass::ClientOmnibus,
        tier: Tier::Cold,
        custodian: Custodian::InHouse,
        key_set: KeySetId::parse("ks-client").unwrap(),
    }
}
fn withdrawal(k: &str, amount: u128) -> Action {
    Action::Movement(build::withdrawal(key(k), &client(), &wallet().id, &eth(), Amount::new(amount)))
}

#[test]
fn without_a_policy_nothing_waits_for_approval() {
    let mut desk = Desk::new();
    assert!(desk.register.approval_policy().is_none());
    assert_eq!(desk.at("ops", withdrawal("w-1", 900)).0, Status::Accepted);
    assert_eq!(desk.position(), 100);
    assert_eq!(desk.at("ops", Action::RegisterKeySet(key_set("ks-2", ClassKind::Firm))).0, Status::Accepted);
}

#[test]
fn an_approved_withdrawal_applies_exactly_once_after_two_distinct_approvers_other_than_the_initiator() {
    let mut desk = Desk::new();
    desk.policy(2, 100);

    // Below the threshold: applies at once.
    assert_eq!(desk.at("ops", withdrawal("small", 100)).0, Status::Accepted);
    assert_eq!(desk.position(), 900);

    // Above it: journaled as pending, nothing moves.
    let (status, id) = desk.at("ops", withdrawal("big", 300));
    assert_eq!(status, Status::PendingApproval);
    let id = id.unwrap();
    assert_eq!(desk.register.seq(), id);
    assert_eq!(desk.position(), 900);
    let pending = desk.register.pending(id).unwrap();
    assert_eq!((pending.required, pending.initiator().as_str(), &pending.state), (2, "ops", &PendingState::Open));

    // A retry of the same request is the same pending instruction; another movement under its
    // key is a conflict.
    assert_eq!(desk.at("ops", withdrawal("big", 300)), (Status::AlreadyExists, Some(id)));
    assert_eq!(desk.at("ops", withdrawal("big", 301)).0, Status::IdempotencyConflict);

    // The initiator cannot approve; one approval is not enough when two are required.
    assert_eq!(desk.at("ops", Action::ApprovePending { id }).0, Status::InitiatorCannotApprove);
    let first = desk.ok("bob", Action::ApprovePending { id });
    assert_eq!(desk.position(), 900);
    assert_eq!(desk.register.pending(id).unwrap().approvals, vec![(Actor::parse("bob").unwrap(), first)]);
    assert_eq!(desk.at("bob", Action::ApprovePending { id }).0, Status::ApproverNotDistinct);
    assert_eq!(desk.position(), 900);

    // The second distinct approval applies it, in its own entry, once.
    let applied = desk.ok("carol", Action::ApprovePending { id });
    assert_eq!(desk.position(), 600);
    assert_eq!(desk.register.pending(id).unwrap().state, PendingState::Applied { seq: applied });
    assert_eq!(desk.register.movement_seq(&key("big")), Some(applied));
    assert_eq!(desk.at("dave", Action::ApprovePending { id }).0, Status::PendingClosed);
    assert_eq!(desk.at("ops", withdrawal("big", 300)), (Status::AlreadyExists, Some(applied)));
    assert_eq!(desk.position(), 600);
    desk.register.audit().unwrap();
    desk.assert_replays();
}

#[test]
fn a_final_approval_that_can_no_longer_apply_is_refused_and_the_instruction_stays_open() {
    let mut desk = Desk::new();
    desk.policy(1, 0);
    let (status, id) = desk.at("ops", withdrawal("all", 1_000));
    assert_eq!(status, Status::PendingApproval);
    let id = id.unwrap();
    // Meanwhile another approved withdrawal takes half the position.
    let (_, other) = desk.at("ops", withdrawal("half", 500));
    desk.ok("bob", Action::ApprovePending { id: other.unwrap() });
    assert_eq!(desk.position(), 500);
    let before = desk.register.seq();
    assert_eq!(desk.at("bob", Action::ApprovePending { id }).0, Status::PositionWouldGoNegative);
    assert_eq!(desk.register.seq(), before);
    assert_eq!(desk.register.pending(id).unwrap().state, PendingState::Open);
    assert_eq!(desk.at("bob", Action::RejectPending { id, reason: " ".into() }).0, Status::InvalidPolicy);
    let rejected = desk.ok("bob", Action::RejectPending { id, reason: "the client's balance changed".into() });
    assert!(matches!(desk.register.pending(id).unwrap().state, PendingState::Rejected { seq, .. } if seq == rejected));
    assert_eq!(desk.at("carol", Action::ApprovePending { id }).0, Status::PendingClosed);
    // The rejected key stays taken.
    assert_eq!(desk.at("ops", withdrawal("all", 1_000)).0, Status::PendingClosed);
    assert_eq!(desk.position(), 500);
    desk.assert_replays();
}

#[test]
fn pending_instructions_expire_on_recorded_time_and_the_expiry_is_journaled() {
    let mut desk = Desk::new();
    desk.policy(1, 10);
    let (_, id) = desk.run("ops", withdrawal("late", 20), at(1));
    let id = id.unwrap();
    assert_eq!(desk.register.pending(id).unwrap().expires_at, at(25));
    assert_eq!(desk.register.overdue(at(24)), Vec::<u64>::new());
    assert_eq!(desk.run("system", Action::ExpirePending { id }, at(24)).0, Status::PendingNotExpired);
    assert_eq!(desk.register.overdue(at(25)), vec![id]);
    assert_eq!(desk.run("bob", Action::ApprovePending { id }, at(25)).0, Status::PendingExpired);
    let (status, expired) = desk.run("system", Action::ExpirePending { id }, at(25));
    assert_eq!(status, Status::Accepted);
    assert_eq!(desk.register.pending(id).unwrap().state, PendingState::Expired { seq: expired.unwrap() });
    assert_eq!(desk.run("bob", Action::ApprovePending { id }, at(26)).0, Status::PendingClosed);
    assert_eq!(desk.at("bob", Action::ApprovePending { id: 9_999 }).0, Status::UnknownPending);
    assert_eq!(desk.position(), 1_000);
    desk.assert_replays();
}

#[test]
fn key_sets_sub_custodians_wallet_changes_and_policy_changes_wait_for_approval() {
    let mut desk = Desk::new();
    desk.policy(1, 1_000_000);

    let (status, id) = desk.at("ops", Action::RegisterKeySet(key_set("ks-new", ClassKind::Firm)));
    assert_eq!(status, Status::PendingApproval);
    assert_eq!(desk.at("bob", Action::RegisterKeySet(key_set("ks-new", ClassKind::ClientOmnibus))).0, Status::EntityConflict);
    desk.ok("bob", Action::ApprovePending { id: id.unwrap() });
    assert_eq!(desk.at("ops", Action::RegisterKeySet(key_set("ks-new", ClassKind::Firm))).0, Status::AlreadyExists);

    // A key set that could never apply is refused at once, not sent for approval.
    let broken = KeySet { scheme: KeyScheme::Multisig { threshold: 0 }, ..key_set("ks-broken", ClassKind::Firm) };
    assert_eq!(desk.at("ops", Action::RegisterKeySet(broken)).0, Status::InvalidKeyScheme);

    // Wallet changes: a class change of a wallet holding assets is refused; a custodian change
    // waits for approval and then applies.
    let to_firm = Wallet { class: WalletClass::Firm, key_set: KeySetId::parse("ks-firm").unwrap(), ..wallet() };
    assert_eq!(desk.at("ops", Action::ChangeWallet(to_firm)).0, Status::InvalidWalletChange);
    let hot = Wallet { tier: Tier::Hot, ..wallet() };
    assert_eq!(desk.at("ops", Action::ChangeWallet(hot)).0, Status::InvalidWalletChange);
    // Several rules broken: the first in `Status` order is reported (unknown entities first,
    // then an invalid change, then a class or authorisation that does not fit).
    let nobody = ClientId::parse("nobody").unwrap();
    let unknown_both = Wallet { id: WalletId::parse("nowhere").unwrap(), class: WalletClass::ClientIndividual(nobody), ..wallet() };
    assert_eq!(desk.at("ops", Action::ChangeWallet(unknown_both)).0, Status::UnknownClient);
    let unknown_keys = Wallet { id: WalletId::parse("nowhere").unwrap(), key_set: KeySetId::parse("ks-none").unwrap(), ..wallet() };
    assert_eq!(desk.at("ops", Action::ChangeWallet(unknown_keys)).0, Status::UnknownWallet);
    let hot_unknown_keys = Wallet { tier: Tier::Hot, key_set: KeySetId::parse("ks-none").unwrap(), ..wallet() };
    assert_eq!(desk.at("ops", Action::ChangeWallet(hot_unknown_keys)).0, Status::UnknownKeySet);
    let hot_unknown_sub =
        Wallet { tier: Tier::Hot, custodian: Custodian::SubCustodian(SubCustodianId::parse("sub-none").unwrap()), ..wallet() };
    assert_eq!(desk.at("ops", Action::ChangeWallet(hot_unknown_sub)).0, Status::UnknownSubCustodian);
    let to_firm_with_client_keys = Wallet { class: WalletClass::Firm, ..wallet() };
    assert_eq!(desk.at("ops", Action::ChangeWallet(to_firm_with_client_keys)).0, Status::InvalidWalletChange);
    let at_sub = Wallet { custodian: Custodian::SubCustodian(SubCustodianId::parse("sub-1").unwrap()), ..wallet() };
    let (status, id) = desk.at("ops", Action::ChangeWallet(at_sub.clone()));
    assert_eq!(status, Status::PendingApproval);
    assert_eq!(desk.register.wallet(&wallet().id).unwrap().custodian, Custodian::InHouse);
    desk.ok("bob", Action::ApprovePending { id: id.unwrap() });
    assert_eq!(desk.register.wallet(&wallet().id).unwrap(), &at_sub);
    // Importing the original registration again is still "already exists".
    assert_eq!(desk.at("ops", Action::RegisterWallet(wallet())).0, Status::AlreadyExists);

    // Sub-custodian authorisation changes and policy changes wait too.
    let renew = Action::UpdateSubCustodianAuthorisation {
        id: SubCustodianId::parse("sub-1").unwrap(),
        reference: "LEI-1".into(),
        valid_until: at(24 * 800),
    };
    assert_eq!(desk.at("ops", renew).0, Status::PendingApproval);
    let stricter = ApprovalPolicy { approvals: 2, expiry_hours: 48, withdrawal_thresholds: vec![] };
    let (status, id) = desk.at("compliance", Action::SetApprovalPolicy(stricter.clone()));
    assert_eq!(status, Status::PendingApproval);
    assert_eq!(desk.register.approval_policy().unwrap().0.approvals, 1);
    desk.ok("bob", Action::ApprovePending { id: id.unwrap() });
    assert_eq!(desk.register.approval_policy().unwrap().0, &stricter);
    let bad = ApprovalPolicy { approvals: 0, expiry_hours: 24, withdrawal_thresholds: vec![] };
    assert_eq!(desk.at("compliance", Action::SetApprovalPolicy(bad)).0, Status::InvalidPolicy);
    desk.assert_replays();
}

#[test]
fn policies_out_of_bounds_are_refused_and_change_nothing() {
    let mut desk = Desk::new();
    for (policy, status) in [
        (ApprovalPolicy { approvals: 0, expiry_hours: 24, withdrawal_thresholds: vec![] }, Status::InvalidPolicy),
        (ApprovalPolicy { approvals: 10, expiry_hours: 24, withdrawal_thresholds: vec![] }, Status::InvalidPolicy),
        (ApprovalPolicy { approvals: 2, expiry_hours: 0, withdrawal_thresholds: vec![] }, Status::InvalidPolicy),
        (
            ApprovalPolicy {
                approvals: 2,
                expiry_hours: 24,
                withdrawal_thresholds: vec![(
                    AssetId::parse("eip155:1/erc20:0x00000000000000000000000000000000000000aa").unwrap(),
                    Amount::new(1),
                )],
            },
            Status::UnknownAsset,
        ),
    ] {
        let before = desk.register.seq();
        assert_eq!(desk.at("compliance", Action::SetApprovalPolicy(policy)), (status, None));
        assert_eq!(desk.register.seq(), before);
    }
    assert!(desk.register.approval_policy().is_none());
}

mod random {
    //! Random interleavings of withdrawals, deposits, approvals, rejections and expiries by
    //! several actors over several days: every pending instruction applies at most once, the
    //! position is exactly the deposits minus the withdrawals that took effect, the register
    //! audits clean, and a replay of the journal decides everything the same way.

    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Step {
        Deposit(u16),
        Withdraw {
            actor: u8,
            amount: u16,
        },
        Approve {
            actor: u8,
            pick: u8,
        },
        Reject {
            actor: u8,
            pick: u8,
        },
        Expire {
            pick: u8,
        },
        /// Hours pass.
        Wait(u8),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            2 => any::<u16>().prop_map(Step::Deposit),
            4 => (0..4u8, any::<u16>()).prop_map(|(actor, amount)| Step::Withdraw { actor, amount }),
            6 => (0..4u8, any::<u8>()).prop_map(|(actor, pick)| Step::Approve { actor, pick }),
            1 => (0..4u8, any::<u8>()).prop_map(|(actor, pick)| Step::Reject { actor, pick }),
            1 => any::<u8>().prop_map(|pick| Step::Expire { pick }),
            1 => (1..30u8).prop_map(Step::Wait),
        ]
    }

    const ACTORS: [&str; 4] = ["ops", "bob", "carol", "dave"];

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn pending_instructions_apply_at_most_once_and_replay_the_same(steps in proptest::collection::vec(step(), 1..120)) {
            let mut desk = Desk::new();
            desk.policy(2, 300);
            let mut deposited: u128 = 1_000;
            let mut now = T0;
            let mut proposed: Vec<u64> = Vec::new();
            let mut amounts = std::collections::HashMap::new();
            for (n, step) in steps.iter().enumerate() {
                let pick = |pick: u8| proposed.get(usize::from(pick) % proposed.len().max(1)).copied().unwrap_or(1);
                match step {
                    Step::Deposit(amount) => {
                        let action = Action::Movement(build::deposit(
                            key(&format!("dep-{n}")), &client(), &wallet().id, &eth(), Amount::new(u128::from(*amount) + 1)));
                        if desk.run("ops", action, now).0 == Status::Accepted {
                            deposited += u128::from(*amount) + 1;
                        }
                    }
                    Step::Withdraw { actor, amount } => {
                        let amount = u128::from(*amount % 1_000) + 1;
                        let (status, seq) = desk.run(ACTORS[usize::from(*actor)], withdrawal(&format!("wd-{n}"), amount), now);
                        if status == Status::PendingApproval {
                            proposed.push(seq.unwrap());
                            amounts.insert(seq.unwrap(), amount);
                        }
                    }
                    Step::Approve { actor, pick: p } => {
                        desk.run(ACTORS[usize::from(*actor)], Action::ApprovePending { id: pick(*p) }, now);
                    }
                    Step::Reject { actor, pick: p } => {
                        desk.run(ACTORS[usize::from(*actor)], Action::RejectPending { id: pick(*p), reason: "no".into() }, now);
                    }
                    Step::Expire { pick: p } => {
                        desk.run("ringfence", Action::ExpirePending { id: pick(*p) }, now);
                    }
                    Step::Wait(hours) => now = Timestamp::from_micros(now.micros() + i64::from(*hours) * HOUR),
                }
            }
            // Withdrawals that took effect: the direct ones (at or under the threshold) and the
            // applied instructions, each once.
            let mut withdrawn: u128 = 0;
            for ((command, _), (status, _)) in desk.log.iter().zip(&desk.seq_of_log) {
                if let Action::Movement(movement) = &command.action
                    && movement.kind == ringfence_core::MovementKind::Withdrawal
                    && *status == Status::Accepted
                {
                    withdrawn += movement.postings[0].amount.units();
                }
            }
            for pending in desk.register.pendings() {
                prop_assert!(pending.approvals.len() <= usize::from(pending.required));
                let distinct: std::collections::BTreeSet<_> = pending.approvals.iter().map(|(a, _)| a.clone()).collect();
                prop_assert_eq!(distinct.len(), pending.approvals.len());
                prop_assert!(!distinct.contains(pending.initiator()));
                if let PendingState::Applied { seq } = pending.state {
                    prop_assert_eq!(pending.approvals.len(), usize::from(pending.required));
                    prop_assert_eq!(pending.approvals.last().map(|(_, s)| *s), Some(seq));
                    let Action::Movement(movement) = &pending.command.action else { unreachable!() };
                    prop_assert_eq!(desk.register.movement_seq(&movement.key), Some(seq));
                    withdrawn += amounts[&pending.id];
                }
            }
            prop_assert_eq!(desk.position(), deposited - withdrawn);
            for later in [0, 12, 24, 48, 24 * 30] {
                let at = Timestamp::from_micros(now.micros() + later * HOUR);
                let open_and_over: Vec<u64> = desk.register.pendings()
                    .filter(|p| p.state == PendingState::Open && at >= p.expires_at).map(|p| p.id).collect();
                let mut overdue = desk.register.overdue(at);
                overdue.sort_unstable();
                prop_assert_eq!(overdue, open_and_over);
            }
            desk.register.audit().unwrap();
            desk.assert_replays();
        }
    }
}

#[test]
fn a_correction_that_lowers_a_client_position_waits_for_approval_but_one_recorded_before_the_rule_replays_as_it_was() {
    let after_rule = ringfence_core::register::CORRECTIONS_GATED_FROM;
    let mut desk = Desk::new();
    let deposit = build::deposit(key("dep-1"), &client(), &wallet().id, &eth(), Amount::new(1_000)).postings;
    desk.policy(1, 1_000_000);
    // Recorded before the rule existed (a journal written by an earlier ringfence): applied at
    // once, and so on every replay.
    let early = Action::Movement(build::correction(key("fix-early"), key("dep-1"), &deposit));
    assert_eq!(desk.run("ops", early, at(1)).0, Status::Accepted);
    assert_eq!(desk.position(), 0);
    // A new deposit, and its correction recorded under the rule: it waits, nothing moves.
    let second = build::deposit(key("dep-2"), &client(), &wallet().id, &eth(), Amount::new(500));
    let postings = second.postings.clone();
    assert_eq!(desk.run("ops", Action::Movement(second), after_rule).0, Status::Accepted);
    assert_eq!(desk.position(), 500);
    let late = Action::Movement(build::correction(key("fix-late"), key("dep-2"), &postings));
    let (status, id) = desk.run("ops", late.clone(), after_rule);
    assert_eq!(status, Status::PendingApproval);
    assert_eq!(desk.position(), 500);
    assert!(desk.register.pending(id.unwrap()).unwrap().reason.contains("correction lowering client alice"), "the reason names it");
    // Another approver applies it.
    assert_eq!(desk.run("ops", Action::ApprovePending { id: id.unwrap() }, after_rule).0, Status::InitiatorCannotApprove);
    assert_eq!(desk.run("bob", Action::ApprovePending { id: id.unwrap() }, after_rule).0, Status::Accepted);
    assert_eq!(desk.position(), 0);
    desk.register.audit().unwrap();
    desk.assert_replays();
}
