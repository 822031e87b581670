//! Oversight in the register: chain observations linked to movements leg by leg (in either
//! order), reorganisations rolling links back, corrections cancelling what was never on chain,
//! reconciliation runs opening exceptions once per subject, and the exception lifecycle with
//! its four-eyes resolution and escalation; all of it replayed from the encoded journal.

#![allow(clippy::unwrap_used, reason = "a fixture that fails should fail the test at once")]

use ringfence_core::codec::{decode_command, encode_command};
use ringfence_core::{
    Action, Actor, Address, Amount, ApprovalPolicy, Asset, AssetId, Break, ChainBlock, ChainObservation, ChainTransfer, ClassKind, Client,
    ClientCategory, ClientId, Command, Custodian, Direction, ExceptionKind, ExceptionPolicy, ExceptionState, IdempotencyKey, InstructionId,
    KeyScheme, KeySet, KeySetId, Meta, ReconRun, Register, Resolution, Segregation, Severity, Status, Tier, Timestamp, Wallet, WalletClass,
    WalletId, build,
};

const T0: Timestamp = Timestamp::from_micros(1_767_225_600_000_000);
const HOUR: i64 = 3_600_000_000;
const CHAIN: &str = "eip155:31337";
const TOKEN: &str = "eip155:31337/erc20:0x5fbdb2315678afecb367f032d93f642f64180aa3";
const CLIENT_WALLET: &str = "eip155:31337:0x00000000000000000000000000000000000000c1";
const FIRM_WALLET: &str = "eip155:31337:0x00000000000000000000000000000000000000f1";
const OUTSIDE: &str = "eip155:31337:0x00000000000000000000000000000000000000e1";

fn at(hours: i64) -> Timestamp {
    Timestamp::from_micros(T0.micros() + hours * HOUR)
}

struct Desk {
    register: Register,
    log: Vec<(Command, Timestamp)>,
    outcomes: Vec<(Status, Option<u64>)>,
}

impl Desk {
    fn new() -> Desk {
        let mut desk = Desk { register: Register::new(), log: Vec::new(), outcomes: Vec::new() };
        desk.ok("setup", Action::RegisterAsset(Asset { id: token(), scale: 6, symbol: "TUSD".into() }));
        desk.ok(
            "setup",
            Action::RegisterClient(Client { id: client(), category: ClientCategory::Retail, segregation: Segregation::Omnibus }),
        );
        desk.ok("setup", Action::RegisterKeySet(key_set("ks-client", ClassKind::ClientOmnibus)));
        desk.ok("setup", Action::RegisterKeySet(key_set("ks-firm", ClassKind::Firm)));
        desk.ok("setup", Action::RegisterWallet(wallet("client-hot", CLIENT_WALLET, WalletClass::ClientOmnibus, "ks-client")));
        desk.ok("setup", Action::RegisterWallet(wallet("firm-hot", FIRM_WALLET, WalletClass::Firm, "ks-firm")));
        desk.ok("setup", Action::Movement(build::deposit(key("opening"), &client(), &wid("client-hot"), &token(), Amount::new(1_000))));
        desk.ok("ops", Action::WatchChain { chain: CHAIN.into(), from_block: 10 });
        desk
    }

    fn run(&mut self, actor: &str, action: Action, recorded: Timestamp) -> (Status, Option<u64>) {
        let command = Command {
            meta: Meta { actor: Actor::parse(actor).unwrap(), instruction: InstructionId::parse("i-1").unwrap(), effective_at: recorded },
            action,
        };
        let outcome = self.register.apply_at(&command, recorded).unwrap();
        if outcome.status.is_journaled() {
            self.log.push((command, recorded));
            self.outcomes.push((outcome.status, outcome.seq));
        }
        (outcome.status, outcome.seq)
    }

    fn at(&mut self, actor: &str, action: Action) -> Status {
        self.run(actor, action, T0).0
    }

    fn ok(&mut self, actor: &str, action: Action) -> u64 {
        let (status, seq) = self.run(actor, action, T0);
        assert_eq!(status, Status::Accepted);
        seq.unwrap()
    }

    /// Replays every journaled command into a new register: same outcomes, links and exceptions.
    fn assert_replays(&self) {
        let mut replay = Register::new();
        for ((command, recorded), expected) in self.log.iter().zip(&self.outcomes) {
            let decoded = decode_command(&encode_command(command)).unwrap();
            assert_eq!(&decoded, command);
            let outcome = replay.apply_at(&decoded, *recorded).unwrap();
            assert_eq!((outcome.status, outcome.seq), *expected, "{:?}", command.action);
        }
        assert_eq!(replay.exceptions(), self.register.exceptions());
        assert_eq!(replay.recon_runs(), self.register.recon_runs());
        assert_eq!(replay.observed_legs().collect::<Vec<_>>(), self.register.observed_legs().collect::<Vec<_>>());
        assert_eq!(replay.movement_legs().collect::<Vec<_>>(), self.register.movement_legs().collect::<Vec<_>>());
        assert_eq!(replay.chain_watches().collect::<Vec<_>>(), self.register.chain_watches().collect::<Vec<_>>());
    }
}

fn token() -> AssetId {
    AssetId::parse(TOKEN).unwrap()
}
fn client() -> ClientId {
    ClientId::parse("alice").unwrap()
}
fn key(text: &str) -> IdempotencyKey {
    IdempotencyKey::parse(text).unwrap()
}
fn wid(text: &str) -> WalletId {
    WalletId::parse(text).unwrap()
}
fn key_set(id: &str, class: ClassKind) -> KeySet {
    KeySet { id: KeySetId::parse(id).unwrap(), scheme: KeyScheme::Multisig { threshold: 1 }, signers: vec!["s1".into()], class }
}
fn wallet(id: &str, address: &str, class: WalletClass, key_set: &str) -> Wallet {
    Wallet {
        id: wid(id),
        address: Address::parse(address).unwrap(),
        class,
        tier: Tier::Hot,
        custodian: Custodian::InHouse,
        key_set: KeySetId::parse(key_set).unwrap(),
    }
}
fn block(number: u64) -> ChainBlock {
    block_on(number, 0)
}
/// Block `number` on fork `fork`: a different fork gives different hashes.
fn block_on(number: u64, fork: u8) -> ChainBlock {
    let hash = |n: u64| {
        let mut hash = [0u8; 32];
        hash[..8].copy_from_slice(&n.to_be_bytes());
        hash[31] = if n >= 12 { fork } else { 0 };
        hash
    };
    ChainBlock { number, hash: hash(number), parent_hash: hash(number - 1), timestamp: 1_767_225_600 + number * 12 }
}
fn transfer(block_number: u64, tx: u8, from: &str, to: &str, amount: u128) -> ChainTransfer {
    ChainTransfer {
        block_number,
        tx_hash: [tx; 32],
        log_index: Some(0),
        asset: token(),
        from: Address::parse(from).unwrap(),
        to: Address::parse(to).unwrap(),
        amount: Amount::new(amount),
    }
}
fn observe(blocks: std::ops::RangeInclusive<u64>, orphaned_from: Option<u64>, transfers: Vec<ChainTransfer>) -> Action {
    observe_on(blocks, 0, orphaned_from, transfers)
}
fn observe_on(blocks: std::ops::RangeInclusive<u64>, fork: u8, orphaned_from: Option<u64>, transfers: Vec<ChainTransfer>) -> Action {
    Action::ObserveChain(ChainObservation {
        chain: CHAIN.into(),
        orphaned_from,
        tracked: blocks.map(|n| block_on(n, fork)).collect(),
        transfers,
    })
}
fn deposit(k: &str, amount: u128) -> Action {
    Action::Movement(build::deposit(key(k), &client(), &wid("client-hot"), &token(), Amount::new(amount)))
}
fn withdrawal(k: &str, amount: u128) -> Action {
    Action::Movement(build::withdrawal(key(k), &client(), &wid("client-hot"), &token(), Amount::new(amount)))
}
fn run(breaks: Vec<Break>) -> Action {
    Action::RecordReconRun(ReconRun {
        cut_off: T0,
        sources: vec![ringfence_core::RunSource::Chain { chain: CHAIN.into(), block: block(12) }],
        checked: 3,
        matched: 3 - breaks.len() as u64,
        report_sha256: [7; 32],
        breaks,
    })
}
fn outflow_break(subject: &str) -> Break {
    Break {
        kind: ExceptionKind::UnmatchedOutflow,
        severity: Severity::Critical,
        subject: subject.into(),
        detail: "a transfer out of client wallet client-hot that no movement explains".into(),
    }
}

#[test]
fn observed_transfers_link_to_movements_leg_by_leg_whichever_comes_first() {
    let mut desk = Desk::new();
    // Recorded before it is seen: waits, then the observation confirms it.
    desk.ok("ops", deposit("dep-1", 250));
    assert_eq!(desk.register.unconfirmed_legs(at(1)).count(), 1);
    desk.ok("ingest", observe(10..=11, None, vec![transfer(11, 1, OUTSIDE, CLIENT_WALLET, 250)]));
    assert_eq!(desk.register.unconfirmed_legs(at(1)).count(), 0);
    let leg = desk.register.observed_legs().next().unwrap();
    assert_eq!((leg.direction, leg.linked.as_ref().map(|l| l.0.as_str())), (Direction::Inflow, Some("dep-1")));

    // Seen before it is recorded: the deposit recorded later links to it.
    desk.ok("ingest", observe(12..=12, None, vec![transfer(12, 2, OUTSIDE, CLIENT_WALLET, 40)]));
    assert_eq!(desk.register.unmatched_legs().count(), 1);
    desk.ok("ops", deposit("dep-2", 40));
    assert_eq!(desk.register.unmatched_legs().count(), 0);

    // A fee sweep from the client wallet to the firm wallet: both legs of one transfer.
    desk.ok("ops", Action::Movement(build::fee(key("fee-1"), &client(), &wid("client-hot"), &wid("firm-hot"), &token(), Amount::new(5))));
    desk.ok("ingest", observe(13..=13, None, vec![transfer(13, 3, CLIENT_WALLET, FIRM_WALLET, 5)]));
    assert_eq!(desk.register.unmatched_legs().count(), 0);
    assert_eq!(desk.register.unconfirmed_legs(at(1)).count(), 0);

    // The opening deposit was recorded before the watch: it expects nothing.
    assert!(desk.register.movement_legs().all(|leg| leg.movement.as_str() != "opening"));

    // An outflow nobody recorded, and a withdrawal never seen on chain.
    desk.ok("ingest", observe(14..=14, None, vec![transfer(14, 4, CLIENT_WALLET, OUTSIDE, 100)]));
    desk.ok("ops", withdrawal("wd-1", 70));
    let unmatched: Vec<_> = desk.register.unmatched_legs().collect();
    assert_eq!((unmatched.len(), unmatched[0].direction, unmatched[0].amount), (1, Direction::Outflow, Amount::new(100)));
    let waiting: Vec<_> = desk.register.unconfirmed_legs(at(1)).collect();
    assert_eq!((waiting.len(), waiting[0].movement.as_str()), (1, "wd-1"));
    // Only legs recorded at or before the limit count.
    assert_eq!(desk.register.unconfirmed_legs(at(-1)).count(), 0);
    desk.assert_replays();
}

#[test]
fn a_reorganisation_rolls_observations_and_their_links_back() {
    let mut desk = Desk::new();
    desk.ok("ops", deposit("dep-1", 250));
    desk.ok("ingest", observe(10..=13, None, vec![transfer(12, 1, OUTSIDE, CLIENT_WALLET, 250)]));
    assert_eq!(desk.register.unconfirmed_legs(at(1)).count(), 0);

    // Blocks 12 and 13 were orphaned; the new fork does not carry the deposit.
    desk.ok("ingest", observe_on(10..=14, 1, Some(12), vec![]));
    assert_eq!(desk.register.observed_legs().count(), 0);
    assert_eq!(desk.register.unconfirmed_legs(at(1)).count(), 1, "the deposit waits again");
    assert_eq!(desk.register.chain_watch(CHAIN).unwrap().next_block(), 15);

    // It reappears in block 15: linked again.
    desk.ok("ingest", observe_on(10..=15, 1, None, vec![transfer(15, 1, OUTSIDE, CLIENT_WALLET, 250)]));
    assert_eq!(desk.register.unconfirmed_legs(at(1)).count(), 0);

    // An observation that does not fit is refused and changes nothing.
    let before = desk.register.seq();
    assert_eq!(desk.at("ingest", observe(16..=16, None, vec![transfer(9, 9, OUTSIDE, CLIENT_WALLET, 1)])), Status::InvalidObservation);
    assert_eq!(desk.at("ingest", observe(16..=16, Some(3), vec![])), Status::InvalidObservation);
    let mut gap = observe(16..=17, None, vec![]);
    if let Action::ObserveChain(observation) = &mut gap {
        observation.tracked.remove(0);
        observation.tracked.push(block(19));
    }
    assert_eq!(desk.at("ingest", gap), Status::InvalidObservation);
    let mut other = observe(16..=16, None, vec![]);
    if let Action::ObserveChain(observation) = &mut other {
        observation.chain = "eip155:1".into();
    }
    assert_eq!(desk.at("ingest", other), Status::UnknownChain);
    assert_eq!(desk.register.seq(), before);
    desk.assert_replays();
}

#[test]
fn a_correction_cancels_the_legs_that_were_never_on_chain() {
    let mut desk = Desk::new();
    let original = build::deposit(key("dep-typo"), &client(), &wid("client-hot"), &token(), Amount::new(999));
    desk.ok("ops", Action::Movement(original.clone()));
    assert_eq!(desk.register.unconfirmed_legs(at(1)).count(), 1);
    desk.ok("ops", Action::Movement(build::correction(key("fix-typo"), key("dep-typo"), &original.postings)));
    assert_eq!(desk.register.unconfirmed_legs(at(1)).count(), 0);
    assert_eq!(desk.register.movement_legs().count(), 0);
    desk.assert_replays();
}

#[test]
fn a_run_opens_one_exception_per_subject_and_its_resolution_needs_a_second_person() {
    let mut desk = Desk::new();
    let first_run = desk.ok("recon", run(vec![outflow_break("transfer:x:out")]));
    let exception = desk.register.exception(1).unwrap().clone();
    assert_eq!((exception.state, exception.severity, exception.run), (ExceptionState::Open, Severity::Critical, first_run));
    assert_eq!(exception.due_at, at(24), "the default clock is 24 hours");

    // A run whose figures contradict themselves is refused and opens nothing.
    let mut contradictory = run(vec![outflow_break("transfer:y:out")]);
    if let Action::RecordReconRun(run) = &mut contradictory {
        run.matched = run.checked + 1;
    }
    assert_eq!(desk.at("recon", contradictory), Status::InvalidRun);
    assert_eq!(desk.register.exceptions().len(), 1);

    // Seen again by the next run: the same exception, no second one.
    let second_run = desk.ok("recon", run(vec![outflow_break("transfer:x:out")]));
    assert_eq!(desk.register.exceptions().len(), 1);
    assert_eq!(desk.register.exception(1).unwrap().seen_again, vec![second_run]);
    assert_eq!(desk.register.recon_run(second_run).unwrap().exceptions, vec![1]);

    // Lifecycle rules.
    let explanation =
        |text: &str| Action::ProposeResolution { id: 1, reason: "reviewed".into(), resolution: Resolution::Explanation(text.into()) };
    assert_eq!(desk.at("ann", explanation("too early")), Status::ExceptionState, "nobody investigates yet");
    assert_eq!(desk.at("ann", Action::ApproveResolution { id: 1 }), Status::ExceptionState);
    assert_eq!(desk.at("ann", Action::InvestigateException { id: 9 }), Status::UnknownException);
    desk.ok("ann", Action::InvestigateException { id: 1 });
    assert_eq!(desk.at("bob", explanation("not mine")), Status::ExceptionState, "only the investigator proposes");
    assert_eq!(
        desk.at("ann", Action::ProposeResolution { id: 1, reason: " ".into(), resolution: Resolution::Explanation("x".into()) }),
        Status::InvalidResolution
    );
    assert_eq!(
        desk.at("ann", Action::ProposeResolution { id: 1, reason: "fixed".into(), resolution: Resolution::Movement(key("nope")) }),
        Status::UnknownMovement
    );
    desk.ok("ann", explanation("the transfer was a test of the signing ceremony, returned in block 15"));
    assert_eq!(desk.at("ann", Action::ApproveResolution { id: 1 }), Status::InvestigatorCannotApprove);
    desk.ok("bob", Action::RejectResolution { id: 1, reason: "show the return transaction".into() });
    assert_eq!(desk.register.exception(1).unwrap().state, ExceptionState::Investigating);
    desk.ok("ops", deposit("returned", 100));
    desk.ok("ann", Action::ProposeResolution { id: 1, reason: "returned".into(), resolution: Resolution::Movement(key("returned")) });
    desk.ok("bob", Action::ApproveResolution { id: 1 });
    let resolved = desk.register.exception(1).unwrap();
    assert_eq!((resolved.state, resolved.resolved.as_ref().map(|r| r.0.as_str())), (ExceptionState::Resolved, Some("bob")));
    assert_eq!(resolved.rejections.len(), 1);
    assert_eq!(desk.at("bob", Action::ApproveResolution { id: 1 }), Status::ExceptionState);

    // Once resolved, the same break seen again is a new exception.
    desk.ok("recon", run(vec![outflow_break("transfer:x:out")]));
    assert_eq!(desk.register.exceptions().len(), 2);
    desk.assert_replays();
}

#[test]
fn an_overdue_exception_is_escalated_once_on_the_recorded_time() {
    let mut desk = Desk::new();
    desk.ok("compliance", Action::SetExceptionPolicy(ExceptionPolicy { resolution_hours: 4, confirmation_hours: 2 }));
    desk.ok("recon", run(vec![outflow_break("a"), outflow_break("b")]));
    assert_eq!(desk.register.exception(1).unwrap().due_at, at(4));
    assert!(desk.register.overdue_exceptions(at(3)).is_empty());
    assert_eq!(desk.register.overdue_exceptions(at(4)), vec![1, 2]);
    assert_eq!(desk.run("ringfence", Action::EscalateException { id: 1 }, at(3)).0, Status::ExceptionNotDue);
    assert_eq!(desk.run("ringfence", Action::EscalateException { id: 1 }, at(5)).0, Status::Accepted);
    assert_eq!(desk.run("ringfence", Action::EscalateException { id: 1 }, at(6)).0, Status::AlreadyExists);
    assert_eq!(desk.register.overdue_exceptions(at(9)), vec![2]);
    // A resolved exception is not escalated.
    desk.run("ann", Action::InvestigateException { id: 2 }, at(1));
    desk.run("ann", Action::ProposeResolution { id: 2, reason: "r".into(), resolution: Resolution::Explanation("e".into()) }, at(1));
    desk.run("bob", Action::ApproveResolution { id: 2 }, at(1));
    assert!(desk.register.overdue_exceptions(at(9)).is_empty());
    assert_eq!(desk.run("ringfence", Action::EscalateException { id: 2 }, at(9)).0, Status::ExceptionState);
    desk.assert_replays();
}

#[test]
fn the_exception_policy_is_bounded_and_needs_approval_once_four_eyes_is_on() {
    let mut desk = Desk::new();
    let bad = ExceptionPolicy { resolution_hours: 0, confirmation_hours: 2 };
    assert_eq!(desk.at("compliance", Action::SetExceptionPolicy(bad)), Status::InvalidPolicy);
    desk.ok("compliance", Action::SetApprovalPolicy(ApprovalPolicy { approvals: 1, expiry_hours: 24, withdrawal_thresholds: vec![] }));
    let policy = ExceptionPolicy { resolution_hours: 48, confirmation_hours: 6 };
    assert_eq!(desk.at("compliance", Action::SetExceptionPolicy(policy)), Status::PendingApproval);
    assert_eq!(desk.register.exception_policy().0, ExceptionPolicy::default());
    let pending = desk.register.pendings().last().unwrap().id;
    desk.ok("approver", Action::ApprovePending { id: pending });
    assert_eq!(desk.register.exception_policy().0, policy);
    desk.assert_replays();
}

#[test]
fn every_oversight_action_round_trips_through_the_codec_and_damage_is_reported() {
    let run = ReconRun {
        cut_off: T0,
        sources: vec![
            ringfence_core::RunSource::Chain { chain: CHAIN.into(), block: block(12) },
            ringfence_core::RunSource::Unavailable { chain: "eip155:1".into(), reason: "the node at http://x is unavailable".into() },
            ringfence_core::RunSource::Statement {
                sub_custodian: ringfence_core::SubCustodianId::parse("nordbank").unwrap(),
                reference: "STMT-1".into(),
                file: "nordbank.csv".into(),
                sha256: [9; 32],
                rows: 42,
            },
        ],
        checked: 10,
        matched: 8,
        report_sha256: [3; 32],
        breaks: ExceptionKind::ALL
            .iter()
            .map(|&kind| Break { kind, severity: Severity::Warning, subject: kind.code().into(), detail: String::new() })
            .collect(),
    };
    let mut native = transfer(11, 1, OUTSIDE, CLIENT_WALLET, 5);
    native.log_index = None;
    let actions = [
        Action::WatchChain { chain: CHAIN.into(), from_block: 7 },
        observe(10..=11, Some(10), vec![native, transfer(11, 2, CLIENT_WALLET, OUTSIDE, 6)]),
        Action::RecordReconRun(run),
        Action::SetExceptionPolicy(ExceptionPolicy { resolution_hours: 48, confirmation_hours: 6 }),
        Action::InvestigateException { id: 1 },
        Action::ProposeResolution { id: 1, reason: "r".into(), resolution: Resolution::Movement(key("m-1")) },
        Action::ProposeResolution { id: 1, reason: "r".into(), resolution: Resolution::Explanation("e".into()) },
        Action::ApproveResolution { id: 1 },
        Action::RejectResolution { id: 1, reason: "no".into() },
        Action::EscalateException { id: 1 },
    ];
    for action in actions {
        let command = Command {
            meta: Meta { actor: Actor::parse("a").unwrap(), instruction: InstructionId::parse("i").unwrap(), effective_at: T0 },
            action,
        };
        let bytes = encode_command(&command);
        assert_eq!(decode_command(&bytes).unwrap(), command);
        // Every truncation is an error, never a panic or a different command.
        for cut in 0..bytes.len() {
            assert!(decode_command(&bytes[..cut]).is_err(), "{:?} cut at {cut}", command.action);
        }
    }
}

mod random {
    //! Random interleavings of movements, observations and reorganisations: links are always a
    //! bijection between observed legs and movement legs, nothing that could link stays apart,
    //! and a replay of the journal rebuilds exactly the same links.

    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Deposit(u128),
        Withdrawal(u128),
        SeenIn(u128),
        SeenOut(u128),
        /// Orphan the newest `n` blocks (a reorganisation), replacing them with a new fork.
        Reorg(u64),
        /// A new empty block.
        Mine,
        /// Correct the n-th movement recorded (if any, and not corrected yet).
        Correct(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        // Few distinct amounts, so that matches and near-misses are frequent.
        let amount = 1u128..4;
        prop_oneof![
            amount.clone().prop_map(Op::Deposit),
            amount.clone().prop_map(Op::Withdrawal),
            amount.clone().prop_map(Op::SeenIn),
            amount.prop_map(Op::SeenOut),
            (1u64..4).prop_map(Op::Reorg),
            Just(Op::Mine),
            (0usize..8).prop_map(Op::Correct),
        ]
    }

    fn check(desk: &Desk) {
        let register = &desk.register;
        let legs: Vec<_> = register.movement_legs().collect();
        let observed: Vec<_> = register.observed_legs().collect();
        for leg in &observed {
            if let Some((key, seq, posting)) = &leg.linked {
                let movement = legs.iter().find(|m| m.seq == *seq && m.posting == *posting).expect("a link names a recorded leg");
                assert_eq!(&movement.movement, key);
                assert_eq!(movement.confirmed_by.as_ref(), Some(&leg.transfer));
                assert_eq!((movement.wallet.clone(), movement.direction, movement.amount), (leg.wallet.clone(), leg.direction, leg.amount));
            }
        }
        for movement in &legs {
            if let Some(reference) = &movement.confirmed_by {
                let linked = observed.iter().filter(|o| &o.transfer == reference && o.wallet == movement.wallet).count();
                assert_eq!(linked, 1, "a confirmation names exactly one observed leg");
            }
        }
        for leg in observed.iter().filter(|o| o.linked.is_none()) {
            assert!(
                !legs
                    .iter()
                    .any(|m| m.confirmed_by.is_none() && m.wallet == leg.wallet && m.direction == leg.direction && m.amount == leg.amount),
                "an unmatched transfer and an unconfirmed movement that match were left apart"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn links_stay_a_bijection_through_any_interleaving(ops in proptest::collection::vec(op(), 1..40)) {
            let mut desk = Desk::new();
            // The chain as the node has it: per block, its fork tag and its transfers.
            let mut chain: Vec<(u8, Vec<ChainTransfer>)> = vec![(0, vec![]); 10];
            let mut fork = 0u8;
            let mut next_tx = 1u8;
            let mut keys: Vec<(String, Vec<ringfence_core::Posting>)> = Vec::new();
            let mut corrected = std::collections::HashSet::new();
            for (index, op) in ops.into_iter().enumerate() {
                let number = chain.len() as u64;
                match op {
                    Op::Deposit(amount) | Op::Withdrawal(amount) => {
                        let k = format!("m-{index}");
                        let action = if matches!(op, Op::Deposit(_)) { deposit(&k, amount) } else { withdrawal(&k, amount) };
                        let postings = match &action { Action::Movement(m) => m.postings.clone(), _ => unreachable!() };
                        if desk.at("ops", action) == Status::Accepted {
                            keys.push((k, postings));
                        }
                    }
                    Op::SeenIn(amount) | Op::SeenOut(amount) => {
                        let (from, to) = if matches!(op, Op::SeenIn(_)) { (OUTSIDE, CLIENT_WALLET) } else { (CLIENT_WALLET, OUTSIDE) };
                        let transfer = transfer(number, next_tx, from, to, amount);
                        next_tx = next_tx.wrapping_add(1);
                        chain.push((fork, vec![transfer.clone()]));
                        desk.ok("ingest", observe_on(10..=number, fork, None, vec![transfer]));
                    }
                    Op::Mine => {
                        chain.push((fork, vec![]));
                        desk.ok("ingest", observe_on(10..=number, fork, None, vec![]));
                    }
                    Op::Reorg(depth) => {
                        let keep = (chain.len() as u64).saturating_sub(depth).max(12);
                        if keep >= chain.len() as u64 {
                            continue;
                        }
                        fork = fork.wrapping_add(1);
                        chain.truncate(keep as usize);
                        // The new fork is one block longer, and empty.
                        chain.push((fork, vec![]));
                        let newest = chain.len() as u64 - 1;
                        let mut tracked: Vec<ChainBlock> = (10..=newest).map(|n| block_on(n, chain[n as usize].0)).collect();
                        // Hashes chain through the forks: recompute parents from the blocks kept.
                        for i in 1..tracked.len() {
                            tracked[i].parent_hash = tracked[i - 1].hash;
                        }
                        let action = Action::ObserveChain(ChainObservation { chain: CHAIN.into(), orphaned_from: Some(keep), tracked, transfers: vec![] });
                        desk.ok("ingest", action);
                    }
                    Op::Correct(n) => {
                        let Some((k, postings)) = keys.get(n).cloned() else { continue };
                        if !corrected.insert(k.clone()) {
                            continue;
                        }
                        let correction = build::correction(key(&format!("fix-{k}")), key(&k), &postings);
                        desk.ok("ops", Action::Movement(correction));
                    }
                }
                check(&desk);
            }
            desk.assert_replays();
        }
    }
}
