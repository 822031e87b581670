//! Reconciliation runs against a real Ethereum node (anvil) and a real ERC-20 (OpenZeppelin's
//! `ERC20PresetMinterPauser`): recorded deposits and withdrawals match and the run is clean; a
//! transfer out of a client wallet that nobody recorded is a critical exception; a recorded
//! withdrawal never seen on chain is an exception once its age limit has passed; a
//! reorganisation rolls observations back; a stopped node is "source unavailable", not a break;
//! a malformed statement stops the run before anything is recorded.

#![allow(clippy::unwrap_used, reason = "a fixture that fails should fail the test at once")]

use std::time::Duration;

use ringfence_core::{
    Action, Actor, Address, Amount, Asset, AssetId, ClassKind, Client, ClientCategory, ClientId, Command, Custodian, ExceptionKind,
    ExceptionPolicy, IdempotencyKey, InstructionId, KeyScheme, KeySet, KeySetId, Meta, RunSource, Segregation, Severity, Status, Tier,
    Timestamp, Wallet, WalletClass, WalletId, build,
};
use ringfence_store::{Location, Store};
use ringfence_testchain::Node;
use ringfence_watch::{RunRequest, Settings, WatchError};
use ringfence_wire::clock;

const HOUR: i64 = 3_600_000_000;

struct Desk {
    node: Node,
    token: String,
    store: Store,
    settings: Settings,
    _dir: tempfile::TempDir,
}

fn actor(name: &str) -> Actor {
    Actor::parse(name).unwrap()
}

impl Desk {
    /// A register with one token, one omnibus client, a client hot wallet (anvil account 1),
    /// a firm wallet (account 2), and the chain watched from the next block on. Account 3 is a
    /// client's own address outside the firm; it holds 10,000 tokens.
    fn new() -> Option<Desk> {
        let node = ringfence_testchain::anvil()?;
        let minter = node.accounts()[0].clone();
        let token = node.deploy_erc20(&minter, "Test Dollar", "TUSD");
        node.mint(&token, &minter, &node.accounts()[3], 10_000);
        let dir = tempfile::tempdir().unwrap();
        let store = Store::create(&Location::data_dir(dir.path())).unwrap();
        let settings = Settings {
            nodes: vec![format!("eip155:{}={}", node.chain_id(), node.url()).parse().unwrap()],
            confirmations: 0,
            timeout: Duration::from_secs(2),
            attempts: 1,
            evidence_dir: Some(dir.path().join("evidence")),
        };
        let mut desk = Desk { node, token, store, settings, _dir: dir };
        let setup = [
            Action::RegisterAsset(Asset { id: desk.asset(), scale: 6, symbol: "TUSD".into() }),
            Action::RegisterClient(Client { id: client(), category: ClientCategory::Retail, segregation: Segregation::Omnibus }),
            Action::RegisterKeySet(key_set("ks-client", ClassKind::ClientOmnibus)),
            Action::RegisterKeySet(key_set("ks-firm", ClassKind::Firm)),
            Action::RegisterWallet(desk.wallet("client-hot", 1, WalletClass::ClientOmnibus, "ks-client")),
            Action::RegisterWallet(desk.wallet("firm-hot", 2, WalletClass::Firm, "ks-firm")),
        ];
        for action in setup {
            desk.ok(action);
        }
        let node_spec = desk.settings.nodes[0].clone();
        ringfence_watch::watch(&mut desk.store, &desk.settings, &node_spec, None, &actor("ops")).unwrap();
        Some(desk)
    }

    fn chain(&self) -> String {
        format!("eip155:{}", self.node.chain_id())
    }

    fn asset(&self) -> AssetId {
        AssetId::parse(&format!("{}/erc20:{}", self.chain(), self.token)).unwrap()
    }

    fn account(&self, index: usize) -> String {
        self.node.accounts()[index].clone()
    }

    fn wallet(&self, id: &str, account: usize, class: WalletClass, key_set: &str) -> Wallet {
        Wallet {
            id: WalletId::parse(id).unwrap(),
            address: Address::parse(&format!("{}:{}", self.chain(), self.account(account))).unwrap(),
            class,
            tier: Tier::Hot,
            custodian: Custodian::InHouse,
            key_set: KeySetId::parse(key_set).unwrap(),
        }
    }

    fn submit(&mut self, action: Action, recorded_at: Timestamp) -> Status {
        let command = Command {
            meta: Meta { actor: actor("ops"), instruction: InstructionId::parse("i-1").unwrap(), effective_at: recorded_at },
            action,
        };
        self.store.submit(&[command], recorded_at).unwrap()[0].status
    }

    fn ok(&mut self, action: Action) {
        assert_eq!(self.submit(action, clock::now()), Status::Accepted);
    }

    fn deposit(&mut self, key: &str, amount: u128) {
        self.node.transfer_erc20(&self.token, &self.account(3), &self.account(1), amount);
        let asset = self.asset();
        self.ok(Action::Movement(build::deposit(idem(key), &client(), &wid("client-hot"), &asset, Amount::new(amount))));
    }

    fn withdrawal(&mut self, key: &str, amount: u128) -> Action {
        Action::Movement(build::withdrawal(idem(key), &client(), &wid("client-hot"), &self.asset(), Amount::new(amount)))
    }

    fn run(&mut self) -> ringfence_watch::RunResult {
        let request = RunRequest { at: None, statements: Vec::new(), actor: actor("recon") };
        ringfence_watch::run(&mut self.store, &self.settings, &request).unwrap()
    }
}

fn client() -> ClientId {
    ClientId::parse("alice").unwrap()
}
fn idem(text: &str) -> IdempotencyKey {
    IdempotencyKey::parse(text).unwrap()
}
fn wid(text: &str) -> WalletId {
    WalletId::parse(text).unwrap()
}
fn key_set(id: &str, class: ClassKind) -> KeySet {
    KeySet { id: KeySetId::parse(id).unwrap(), scheme: KeyScheme::Multisig { threshold: 1 }, signers: vec!["s1".into()], class }
}

fn kinds(result: &ringfence_watch::RunResult) -> Vec<(ExceptionKind, Severity)> {
    result.run.breaks.iter().map(|b| (b.kind, b.severity)).collect()
}

#[test]
fn recorded_deposits_and_withdrawals_match_and_the_run_is_clean() {
    let Some(mut desk) = Desk::new() else { return };
    desk.deposit("dep-1", 500);
    desk.deposit("dep-2", 300);
    let withdrawal = desk.withdrawal("wd-1", 200);
    desk.ok(withdrawal);
    desk.node.transfer_erc20(&desk.token, &desk.account(1), &desk.account(3), 200);

    let result = desk.run();
    assert!(result.run.is_clean(), "breaks: {:#?}", result.run.breaks);
    assert!(result.exceptions.is_empty());
    assert_eq!(result.run.checked, result.run.matched);
    let register = desk.store.register();
    assert_eq!(register.movement_legs().count(), 3);
    assert!(register.movement_legs().all(|leg| leg.confirmed_by.is_some()), "every leg is linked to its transfer");
    assert!(register.unmatched_legs().next().is_none());
    // The run records its inputs: the block it read, by number and hash.
    let RunSource::Chain { block, .. } = &result.run.sources[0] else { panic!("{:?}", result.run.sources) };
    assert_eq!(format!("0x{}", block.hash.iter().map(|b| format!("{b:02x}")).collect::<String>()), desk.node.block_hash(block.number));
    let record = register.recon_run(result.id).unwrap();
    assert_eq!(record.actor.as_str(), "recon");
    // The full report is kept as evidence, and its SHA-256 is the one recorded.
    let sha: String = record.run.report_sha256.iter().map(|b| format!("{b:02x}")).collect();
    let kept = std::fs::read(desk.settings.evidence_dir.as_ref().unwrap().join(format!("report-{sha}.json"))).unwrap();
    assert_eq!(kept, result.report_json.as_bytes());
    use sha2::Digest as _;
    assert_eq!(sha2::Sha256::digest(&kept)[..], record.run.report_sha256[..]);
    assert!(result.report_csv.starts_with("check,severity,verdict,"));
    // The report's keys are sorted at every level, as when it was built as a JSON map: the
    // bytes of a report, and so its journaled SHA-256, do not depend on the views' code.
    let resorted: serde_json::Value = serde_json::from_slice(&kept).unwrap();
    assert_eq!(format!("{resorted}\n"), result.report_json);
}

#[test]
fn a_transfer_out_of_a_client_wallet_with_no_register_entry_is_a_critical_exception() {
    let Some(mut desk) = Desk::new() else { return };
    desk.deposit("dep-1", 500);
    let clean = desk.run();
    assert!(clean.run.is_clean());
    // Every run checks the safeguarding policies too: all of it sits in a hot wallet, below
    // the default cold floor of 80 %.
    let check = clean.safeguards.expect("the run's safeguarding check opened an exception");
    let cold_floor = &desk.store.register().safeguard_checks().iter().find(|c| c.id == check).unwrap().exceptions;
    assert_eq!(desk.store.register().exception(cold_floor[0]).unwrap().kind, ExceptionKind::ColdFloor);

    // Someone with the keys moves 50 out; nobody records it.
    desk.node.transfer_erc20(&desk.token, &desk.account(1), &desk.account(3), 50);
    let result = desk.run();
    let found = kinds(&result);
    assert!(found.contains(&(ExceptionKind::UnmatchedOutflow, Severity::Critical)), "{found:?}");
    assert!(found.contains(&(ExceptionKind::WalletDifference, Severity::Critical)), "{found:?}");
    assert!(found.contains(&(ExceptionKind::CoverageShortfall, Severity::Critical)), "{found:?}");
    let register = desk.store.register();
    let outflow = register.exceptions().iter().find(|e| e.kind == ExceptionKind::UnmatchedOutflow).unwrap();
    assert_eq!((outflow.severity, outflow.run), (Severity::Critical, result.id));
    assert!(outflow.detail.contains("client-hot"), "{}", outflow.detail);

    // The next run sees the same breaks: no new exceptions.
    let again = desk.run();
    assert_eq!(desk.store.register().exceptions().len(), result.exceptions.len() + 1, "the cold floor's and the run's");
    assert_eq!(again.exceptions, result.exceptions);
    assert_eq!(again.safeguards, None, "the cold floor breach has its exception already");
}

#[test]
fn a_recorded_withdrawal_that_never_happens_on_chain_is_an_exception_after_its_age_limit() {
    let Some(mut desk) = Desk::new() else { return };
    desk.ok(Action::SetExceptionPolicy(ExceptionPolicy { resolution_hours: 24, confirmation_hours: 1 }));
    desk.deposit("dep-1", 500);
    // Recorded two hours ago, never sent.
    let old = desk.withdrawal("wd-old", 100);
    assert_eq!(desk.submit(old, Timestamp::from_micros(clock::now().micros() - 2 * HOUR)), Status::Accepted);
    // Recorded just now: still within its hour.
    let new = desk.withdrawal("wd-new", 40);
    desk.ok(new);

    let result = desk.run();
    let unconfirmed: Vec<_> = result.run.breaks.iter().filter(|b| b.kind == ExceptionKind::Unconfirmed).collect();
    assert_eq!(unconfirmed.len(), 1, "{:#?}", result.run.breaks);
    assert!(unconfirmed[0].subject.contains("wd-old"), "{}", unconfirmed[0].subject);
    assert_eq!(unconfirmed[0].severity, Severity::Warning);
    assert!(desk.store.register().exceptions().iter().any(|e| e.kind == ExceptionKind::Unconfirmed));
}

#[test]
fn a_reorganisation_rolls_observations_back() {
    let Some(mut desk) = Desk::new() else { return };
    let before = desk.node.snapshot();
    desk.deposit("dep-1", 500);
    ringfence_watch::ingest(&mut desk.store, &desk.settings, &actor("ingest")).unwrap();
    assert_eq!(desk.store.register().observed_legs().count(), 1);
    assert!(desk.store.register().movement_legs().all(|leg| leg.confirmed_by.is_some()));

    // The block with the transfer leaves the chain; a longer fork without it replaces it.
    desk.node.revert(&before);
    desk.node.mine(3);
    let ingested = ringfence_watch::ingest(&mut desk.store, &desk.settings, &actor("ingest")).unwrap();
    let figures = ingested[0].result.as_ref().unwrap();
    assert!(figures.orphaned_blocks >= 1, "{figures:?}");
    let register = desk.store.register();
    assert_eq!(register.observed_legs().count(), 0, "the orphaned transfer is rolled back");
    assert!(register.movement_legs().all(|leg| leg.confirmed_by.is_none()), "the deposit waits for its transfer again");
}

#[test]
fn a_stopped_node_gives_source_unavailable_not_a_difference() {
    let Some(mut desk) = Desk::new() else { return };
    desk.deposit("dep-1", 500);
    assert!(desk.run().run.is_clean());
    desk.node.stop();

    let result = desk.run();
    assert!(matches!(&result.run.sources[..], [RunSource::Unavailable { .. }]), "{:?}", result.run.sources);
    // An unavailable node is no difference of any wallet; it is one break of its own, so that
    // a run after run against a dead node leaves an exception to resolve.
    let kinds: Vec<ExceptionKind> = result.run.breaks.iter().map(|b| b.kind).collect();
    assert_eq!(kinds, [ExceptionKind::SourceUnavailable], "{:#?}", result.run.breaks);
    assert!(!result.run.is_clean(), "and the run is not clean");
    let again = desk.run();
    let exceptions = desk.store.register().exceptions();
    let unavailable: Vec<_> = exceptions.iter().filter(|e| e.kind == ExceptionKind::SourceUnavailable).collect();
    assert_eq!(unavailable.len(), 1, "one exception, seen again by the next run");
    assert_eq!(unavailable[0].seen_again, [again.id]);
    assert!(result.report_json.contains("source unavailable"));
    let RunSource::Unavailable { reason, .. } = &result.run.sources[0] else { unreachable!() };
    assert!(reason.contains("unavailable"), "{reason}");
}

#[test]
fn a_malformed_statement_stops_the_run_before_anything_is_recorded() {
    let Some(mut desk) = Desk::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("statement.csv");
    std::fs::write(&path, "wallet,asset\n\"unterminated\n").unwrap();
    let seq = desk.store.register().seq();
    let request = RunRequest { at: None, statements: vec![path], actor: actor("recon") };
    let error = ringfence_watch::run(&mut desk.store, &desk.settings, &request).unwrap_err();
    assert!(matches!(error, WatchError::Statement { .. }), "{error}");
    assert!(error.to_string().contains("line 1"), "{error}");
    assert_eq!(desk.store.register().seq(), seq);

    // A cut-off in the future is refused too.
    let request = RunRequest { at: Some(Timestamp::from_micros(clock::now().micros() + HOUR)), statements: vec![], actor: actor("recon") };
    assert!(matches!(ringfence_watch::run(&mut desk.store, &desk.settings, &request), Err(WatchError::CutOffInFuture { .. })));
    assert_eq!(desk.store.register().seq(), seq);
}
