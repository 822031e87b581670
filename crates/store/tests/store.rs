//! The storage test suite, run unchanged on both backends: the embedded SQLite store (a fresh
//! database in a temporary directory per test) and PostgreSQL (a fresh schema per test in a
//! database of a throwaway cluster that `ringfence-testdb` starts, or of the server named by
//! RINGFENCE_TEST_DATABASE_URL). The register and head survive a reopen, resubmission is
//! idempotent, every kind of tampering is found at the first bad sequence number, balances
//! and history at past instants, and two handles on one database never fork the chain.

#![allow(clippy::unwrap_used, reason = "a fixture or a tool that fails should fail the test at once")]

use std::str::FromStr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use proptest::prelude::*;
use proptest::sample::Index;
use ringfence_core::{
    Account, Action, Actor, Address, Amount, Asset, AssetId, ClassKind, Client, ClientCategory, ClientId, Command, Custodian,
    IdempotencyKey, InstructionId, KeyScheme, KeySet, KeySetId, Meta, Movement, MovementKind, Outcome, OwnAccount, Posting, Register,
    Segregation, Side, Status, Tier, Timestamp, Wallet, WalletClass, WalletId, build,
};
use ringfence_journal::Head;
use ringfence_store::{CheckpointPolicy, Location, Net, PostgresTarget, Store, StoreError, Subject, Verification};
use rusqlite::params;
use tempfile::TempDir;

const ETH: &str = "eip155:1/slip44:60";
const USDC: &str = "eip155:1/erc20:0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48";

/// 2026-01-01T00:00:00Z in microseconds.
const BASE_MICROS: i64 = 1_767_225_600_000_000;
const MINUTE_MICROS: i64 = 60_000_000;
const RECORDED_AT: Timestamp = Timestamp::from_micros(BASE_MICROS + 365 * 24 * 60 * MINUTE_MICROS);

/// Omnibus clients first, then the one individually segregated client.
const CLIENTS: [&str; 3] = ["omni-a", "omni-b", "ind-c"];
const ASSETS: [&str; 2] = [ETH, USDC];

fn at_minute(minute: i64) -> Timestamp {
    Timestamp::from_micros(BASE_MICROS + minute * MINUTE_MICROS)
}

fn asset(index: usize) -> AssetId {
    AssetId::parse(ASSETS[index % ASSETS.len()]).unwrap()
}

fn client(index: usize) -> ClientId {
    ClientId::parse(CLIENTS[index % CLIENTS.len()]).unwrap()
}

fn wallet(name: &str) -> WalletId {
    WalletId::parse(name).unwrap()
}

fn key(name: &str) -> IdempotencyKey {
    IdempotencyKey::parse(name).unwrap()
}

/// The wallet that backs a client's positions.
fn wallet_of(client_index: usize) -> WalletId {
    if CLIENTS[client_index % CLIENTS.len()] == "ind-c" { wallet("w-ind") } else { wallet("w-omni-hot") }
}

fn meta(instruction: &str, effective_at: Timestamp) -> Meta {
    Meta { actor: Actor::parse("ops:test").unwrap(), instruction: InstructionId::parse(instruction).unwrap(), effective_at }
}

fn command(instruction: &str, effective_at: Timestamp, action: Action) -> Command {
    Command { meta: meta(instruction, effective_at), action }
}

fn movement_command(movement: Movement, effective_at: Timestamp) -> Command {
    let instruction = format!("ins-{}", movement.key);
    command(&instruction, effective_at, Action::Movement(movement))
}

fn key_set(id: &str, scheme: KeyScheme, class: ClassKind) -> Action {
    Action::RegisterKeySet(KeySet {
        id: KeySetId::parse(id).unwrap(),
        scheme,
        signers: vec!["signer-1".into(), "signer-2".into(), "signer-3".into()],
        class,
    })
}

fn wallet_registration(id: &str, address: u64, class: WalletClass, tier: Tier, key_set: &str) -> Action {
    Action::RegisterWallet(Wallet {
        id: wallet(id),
        address: Address::parse(&format!("eip155:1:0x{address:040x}")).unwrap(),
        class,
        tier,
        custodian: Custodian::InHouse,
        key_set: KeySetId::parse(key_set).unwrap(),
    })
}

/// Two assets, two omnibus clients and an individual one, a key set per class, and wallets:
/// omnibus hot and cold, the individual client's own, and a firm wallet. 12 commands.
fn registrations() -> Vec<Command> {
    let at = at_minute(0);
    let mut actions = vec![
        Action::RegisterAsset(Asset { id: asset(0), scale: 18, symbol: "ETH".into() }),
        Action::RegisterAsset(Asset { id: asset(1), scale: 6, symbol: "USDC".into() }),
    ];
    for (index, name) in CLIENTS.iter().enumerate() {
        let segregation = if *name == "ind-c" { Segregation::Individual } else { Segregation::Omnibus };
        let category = if index == 0 { ClientCategory::Retail } else { ClientCategory::Professional };
        actions.push(Action::RegisterClient(Client { id: client(index), category, segregation }));
    }
    actions.push(key_set("ks-omnibus", KeyScheme::Multisig { threshold: 2 }, ClassKind::ClientOmnibus));
    actions.push(key_set("ks-individual", KeyScheme::Mpc { threshold: 2 }, ClassKind::ClientIndividual));
    actions.push(key_set("ks-firm", KeyScheme::Hsm, ClassKind::Firm));
    actions.push(wallet_registration("w-omni-hot", 1, WalletClass::ClientOmnibus, Tier::Hot, "ks-omnibus"));
    actions.push(wallet_registration("w-omni-cold", 2, WalletClass::ClientOmnibus, Tier::Cold, "ks-omnibus"));
    actions.push(wallet_registration("w-ind", 3, WalletClass::ClientIndividual(client(2)), Tier::Cold, "ks-individual"));
    actions.push(wallet_registration("w-firm", 4, WalletClass::Firm, Tier::Hot, "ks-firm"));
    actions.into_iter().enumerate().map(|(index, action)| command(&format!("register-{index}"), at, action)).collect()
}

/// One step of a random workload. Amounts may be 0 and withdrawals may exceed what is
/// there, so a good share of the commands is rejected.
#[derive(Debug, Clone)]
enum Op {
    Deposit {
        client: usize,
        asset: usize,
        amount: u64,
    },
    Withdrawal {
        client: usize,
        asset: usize,
        amount: u64,
    },
    Transfer {
        from: usize,
        to: usize,
        asset: usize,
        amount: u64,
    },
    Fee {
        client: usize,
        asset: usize,
        amount: u64,
    },
    /// Between the omnibus hot and cold wallets.
    Rebalance {
        to_cold: bool,
        asset: usize,
        amount: u64,
    },
    FirmFunding {
        asset: usize,
        amount: u64,
    },
    FirmWithdrawal {
        asset: usize,
        amount: u64,
    },
    /// From a client wallet into the firm's: always a segregation breach.
    Sweep {
        asset: usize,
        amount: u64,
    },
    /// Corrects the command at this index (modulo the commands so far).
    Correction {
        target: Index,
    },
    /// Submits an earlier command again, byte for byte.
    Repeat {
        earlier: Index,
    },
    /// An earlier movement's key for a different movement: an idempotency conflict.
    ReuseKey {
        earlier: Index,
        amount: u64,
    },
    /// A registration again: identical, or with different details.
    Reregister {
        index: Index,
        conflicting: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let amount = 0u64..400;
    prop_oneof![
        4 => (0..3usize, 0..2usize, amount.clone()).prop_map(|(client, asset, amount)| Op::Deposit { client, asset, amount }),
        2 => (0..3usize, 0..2usize, amount.clone()).prop_map(|(client, asset, amount)| Op::Withdrawal { client, asset, amount }),
        2 => (0..3usize, 0..3usize, 0..2usize, amount.clone()).prop_map(|(from, to, asset, amount)| Op::Transfer { from, to, asset, amount }),
        1 => (0..3usize, 0..2usize, amount.clone()).prop_map(|(client, asset, amount)| Op::Fee { client, asset, amount }),
        1 => (any::<bool>(), 0..2usize, amount.clone()).prop_map(|(to_cold, asset, amount)| Op::Rebalance { to_cold, asset, amount }),
        1 => (0..2usize, amount.clone()).prop_map(|(asset, amount)| Op::FirmFunding { asset, amount }),
        1 => (0..2usize, amount.clone()).prop_map(|(asset, amount)| Op::FirmWithdrawal { asset, amount }),
        1 => (0..2usize, 1u64..50).prop_map(|(asset, amount)| Op::Sweep { asset, amount }),
        1 => any::<Index>().prop_map(|target| Op::Correction { target }),
        1 => any::<Index>().prop_map(|earlier| Op::Repeat { earlier }),
        1 => (any::<Index>(), amount).prop_map(|(earlier, amount)| Op::ReuseKey { earlier, amount }),
        1 => (any::<Index>(), any::<bool>()).prop_map(|(index, conflicting)| Op::Reregister { index, conflicting }),
    ]
}

/// The registrations followed by one command per step; step `n` uses key `m-n` and takes
/// effect at its own minute, so some movements are back-dated before earlier ones.
fn workload(steps: &[(Op, u16)]) -> Vec<Command> {
    let mut commands = registrations();
    let registered = commands.len();
    for (step, (op, minute)) in steps.iter().enumerate() {
        let at = at_minute(i64::from(*minute) + 1);
        let key = key(&format!("m-{step}"));
        let amount = |units: u64| Amount::new(u128::from(units));
        let next = match op {
            Op::Deposit { client: c, asset: a, amount: n } => {
                movement_command(build::deposit(key, &client(*c), &wallet_of(*c), &asset(*a), amount(*n)), at)
            }
            Op::Withdrawal { client: c, asset: a, amount: n } => {
                movement_command(build::withdrawal(key, &client(*c), &wallet_of(*c), &asset(*a), amount(*n)), at)
            }
            Op::Transfer { from, to, asset: a, amount: n } => {
                let (from_wallet, to_wallet) = (wallet_of(*from), wallet_of(*to));
                let wallets = (from_wallet != to_wallet).then_some((&from_wallet, &to_wallet));
                movement_command(build::transfer(key, &client(*from), &client(*to), wallets, &asset(*a), amount(*n)), at)
            }
            Op::Fee { client: c, asset: a, amount: n } => {
                movement_command(build::fee(key, &client(*c), &wallet_of(*c), &wallet("w-firm"), &asset(*a), amount(*n)), at)
            }
            Op::Rebalance { to_cold, asset: a, amount: n } => {
                let (hot, cold) = (wallet("w-omni-hot"), wallet("w-omni-cold"));
                let (from, to) = if *to_cold { (hot, cold) } else { (cold, hot) };
                movement_command(build::rebalance(key, &from, &to, &asset(*a), amount(*n)), at)
            }
            Op::FirmFunding { asset: a, amount: n } => {
                movement_command(build::firm_funding(key, &wallet("w-firm"), &asset(*a), amount(*n)), at)
            }
            Op::FirmWithdrawal { asset: a, amount: n } => {
                movement_command(build::firm_withdrawal(key, &wallet("w-firm"), &asset(*a), amount(*n)), at)
            }
            Op::Sweep { asset: a, amount: n } => {
                movement_command(build::rebalance(key, &wallet("w-omni-hot"), &wallet("w-firm"), &asset(*a), amount(*n)), at)
            }
            Op::Correction { target } => {
                let target = &commands[target.index(commands.len())];
                match &target.action {
                    Action::Movement(original) => movement_command(build::correction(key, original.key.clone(), &original.postings), at),
                    // Names a movement that does not exist: unknown_movement.
                    _ => movement_command(build::correction(key, self::key("no-such-movement"), &[]), at),
                }
            }
            Op::Repeat { earlier } => commands[earlier.index(commands.len())].clone(),
            Op::ReuseKey { earlier, amount: n } => {
                let reused = match &commands[earlier.index(commands.len())].action {
                    Action::Movement(original) => original.key.clone(),
                    _ => key,
                };
                movement_command(build::deposit(reused, &client(0), &wallet_of(0), &asset(0), amount(*n + 1)), at)
            }
            Op::Reregister { index, conflicting } => {
                let mut again = commands[index.index(registered)].clone();
                if *conflicting {
                    match &mut again.action {
                        Action::RegisterAsset(asset) => asset.scale += 1,
                        Action::RegisterClient(client) => {
                            client.category = match client.category {
                                ClientCategory::Retail => ClientCategory::Professional,
                                ClientCategory::Professional => ClientCategory::Retail,
                            }
                        }
                        Action::RegisterKeySet(key_set) => key_set.signers.push("signer-4".into()),
                        Action::RegisterWallet(wallet) => {
                            wallet.tier = match wallet.tier {
                                Tier::Hot => Tier::Cold,
                                Tier::Cold => Tier::Hot,
                            }
                        }
                        _ => {}
                    }
                }
                again
            }
        };
        commands.push(next);
    }
    commands
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// Keeps a test's database alive, and reaches into it beneath ringfence to tamper with it.
struct Fixture {
    _dir: Option<TempDir>,
    raw: Raw,
}

type Param<'a> = dyn ::postgres::types::ToSql + Sync + 'a;

enum Raw {
    /// SQLite: a connection per use, so the file exists only once `Store::create` made it.
    Sqlite(std::path::PathBuf),
    Postgres(Box<std::cell::RefCell<::postgres::Client>>),
}

/// This test process's PostgreSQL database; each fixture gets a schema of its own in it.
fn postgres_database() -> &'static str {
    static DATABASE: OnceLock<String> = OnceLock::new();
    DATABASE.get_or_init(|| ringfence_testdb::server().fresh_database())
}

/// A fresh, empty location on `backend`, and the fixture that keeps it.
fn fresh_location(backend: Backend) -> (Fixture, Location) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let location = Location::data_dir(dir.path());
            let Location::Sqlite(path) = &location else { unreachable!("a data directory is an SQLite location") };
            let raw = Raw::Sqlite(path.clone());
            (Fixture { _dir: Some(dir), raw }, location)
        }
        Backend::Postgres => {
            static SCHEMAS: AtomicU64 = AtomicU64::new(0);
            let url = postgres_database();
            let schema = format!("store_test_{}", SCHEMAS.fetch_add(1, Ordering::Relaxed));
            let target = PostgresTarget::parse(url).unwrap().create_schema(&schema).unwrap();
            let mut config = ::postgres::Config::from_str(url).unwrap();
            config.options(&format!("-c search_path={schema}"));
            let raw = Raw::Postgres(Box::new(std::cell::RefCell::new(config.connect(::postgres::NoTls).unwrap())));
            (Fixture { _dir: None, raw }, Location::Postgres(target))
        }
    }
}

/// A fresh store on `backend`.
fn fresh(backend: Backend) -> (Fixture, Location, Store) {
    let (fixture, location) = fresh_location(backend);
    let store = Store::create(&location).unwrap();
    (fixture, location, store)
}

fn submit_in_batches(store: &mut Store, commands: &[Command], batch_sizes: &[usize]) -> Vec<Outcome> {
    let mut outcomes = Vec::with_capacity(commands.len());
    let mut rest = commands;
    let mut sizes = batch_sizes.iter().cycle();
    while !rest.is_empty() {
        let size = (*sizes.next().unwrap()).clamp(1, rest.len());
        let (batch, after) = rest.split_at(size);
        let results = store.submit(batch, RECORDED_AT).unwrap();
        assert_eq!(results.len(), batch.len());
        outcomes.extend(results);
        rest = after;
    }
    outcomes
}

fn accounts(register: &Register) -> Vec<Account> {
    let mut accounts: Vec<Account> = register.clients().map(|c| Account::Position(c.id.clone())).collect();
    accounts.extend(register.wallets().map(|w| Account::Holding(w.id.clone())));
    accounts.push(Account::Own(OwnAccount::Capital));
    accounts.push(Account::Own(OwnAccount::FeeIncome));
    accounts
}

/// Everything a reader of the store can observe, for comparing two stores.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    head: Head,
    seq: u64,
    movement_count: u64,
    summary: Vec<ringfence_core::AssetSummary>,
    /// Every account in every asset: the register's balance now and the store's balance at
    /// the end of time (which must agree).
    balances: Vec<(Account, AssetId, Option<Amount>, Net)>,
}

fn snapshot(store: &Store) -> Snapshot {
    let register = store.register();
    let mut balances = Vec::new();
    for account in accounts(register) {
        for asset in register.assets() {
            let now = register.balance(&account, &asset.id);
            let at_end = store.balance_at(&account, &asset.id, Timestamp::MAX).unwrap();
            assert_eq!(at_end, Net { negative: false, amount: now.unwrap_or_default() }, "{account:?} {}", asset.id);
            balances.push((account.clone(), asset.id.clone(), now, at_end));
        }
    }
    Snapshot { head: store.head(), seq: register.seq(), movement_count: register.movement_count(), summary: register.summary(), balances }
}

fn stored_head_matches(store: &Store) {
    assert_eq!(store.head().seq, store.register().seq());
    assert_eq!(store.verify().unwrap(), Ok(store.head()));
}

fn reopen_case(backend: Backend, steps: &[(Op, u16)], split: Index, batch_sizes: &[usize]) -> Result<(), TestCaseError> {
    let commands = workload(steps);
    let (prefix, rest) = commands.split_at(split.index(commands.len() + 1));

    let (dir, location, mut store) = fresh(backend);
    let prefix_outcomes = submit_in_batches(&mut store, prefix, batch_sizes);
    let before = snapshot(&store);
    stored_head_matches(&store);
    drop(store);

    let mut reopened = Store::open(&location).unwrap();
    prop_assert_eq!(&snapshot(&reopened), &before);
    stored_head_matches(&reopened);

    // A store that never closed, given the same prefix in one batch: batching does not
    // change outcomes or the chain.
    let (_other_dir, _other_location, mut never_closed) = fresh(backend);
    prop_assert_eq!(&never_closed.submit(prefix, RECORDED_AT).unwrap(), &prefix_outcomes);
    prop_assert_eq!(never_closed.head(), before.head);

    let reopened_outcomes = submit_in_batches(&mut reopened, rest, batch_sizes);
    let never_closed_outcomes = submit_in_batches(&mut never_closed, rest, &[rest.len().max(1)]);
    prop_assert_eq!(&reopened_outcomes, &never_closed_outcomes);
    prop_assert_eq!(reopened.head(), never_closed.head());
    prop_assert_eq!(snapshot(&reopened), snapshot(&never_closed));
    stored_head_matches(&reopened);
    stored_head_matches(&never_closed);
    drop(dir);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn a_reopened_store_has_the_same_register_and_head_and_continues_the_same_chain_on_sqlite(
        steps in prop::collection::vec((op(), 0u16..600), 1..48),
        split in any::<Index>(),
        batch_sizes in prop::collection::vec(1usize..9, 1..8),
    ) {
        reopen_case(Backend::Sqlite, &steps, split, &batch_sizes)?;
    }

    #[test]
    fn a_reopened_store_has_the_same_register_and_head_and_continues_the_same_chain_on_postgres(
        steps in prop::collection::vec((op(), 0u16..600), 1..48),
        split in any::<Index>(),
        batch_sizes in prop::collection::vec(1usize..9, 1..8),
    ) {
        reopen_case(Backend::Postgres, &steps, split, &batch_sizes)?;
    }
}

// ----- the posting index -------------------------------------------------------------------

/// Instants to ask balances at: before everything, at and between the workload's minutes,
/// after everything.
fn instants() -> Vec<Timestamp> {
    let mut instants = vec![Timestamp::MIN, Timestamp::MAX];
    instants.extend((0..620).step_by(31).flat_map(|minute| [at_minute(minute), Timestamp::from_micros(at_minute(minute).micros() - 1)]));
    instants
}

fn subjects(register: &Register) -> Vec<Subject> {
    let mut subjects: Vec<Subject> = register.clients().map(|c| Subject::Client(c.id.clone())).collect();
    subjects.extend(register.wallets().map(|w| Subject::Wallet(w.id.clone())));
    subjects.extend([Subject::Own(OwnAccount::Capital), Subject::Own(OwnAccount::FeeIncome)]);
    subjects
}

/// Balances at every instant and histories in pages, from the store (its posting index and
/// what it holds in memory), against a register that kept every posting in memory.
fn answers_like(store: &Store, reference: &Register) -> Result<(), TestCaseError> {
    prop_assert_eq!(store.head().seq, reference.seq());
    for subject in subjects(reference) {
        let account = subject.account();
        for asset in reference.assets() {
            for at in instants() {
                let expected = reference.balance_at(&account, &asset.id, at).unwrap_or_default();
                prop_assert_eq!(store.balance_at(&account, &asset.id, at).unwrap(), expected, "{:?} {} at {:?}", account, asset.id, at);
            }
        }
        for (from, to) in [(Timestamp::MIN, Timestamp::MAX), (at_minute(100), at_minute(400)), (at_minute(250), at_minute(250))] {
            let expected = reference.movements_of(&account, from, to, usize::MAX).unwrap();
            prop_assert_eq!(&seqs(&store.history(&subject, from, to, 10_000).unwrap()), &expected, "{:?}", account);
            // In pages of 3, each after the last of the page before.
            let mut paged = Vec::new();
            loop {
                let page = seqs(&store.history_after(&subject, from, to, paged.last().copied().unwrap_or(0), 3).unwrap());
                if page.is_empty() {
                    break;
                }
                paged.extend(page);
            }
            prop_assert_eq!(&paged, &expected, "{:?} in pages", account);
        }
    }
    Ok(())
}

fn seqs(recorded: &[ringfence_store::Recorded]) -> Vec<u64> {
    recorded.iter().map(|r| r.seq).collect()
}

fn posting_index_case(backend: Backend, steps: &[(Op, u16)], every: u64, split: Index, batch_sizes: &[usize]) -> Result<(), TestCaseError> {
    let commands = workload(steps);
    let mut reference = Register::new();
    let expected: Vec<(Status, Option<u64>)> = commands
        .iter()
        .map(|command| reference.apply_at(command, RECORDED_AT).map(|outcome| (outcome.status, outcome.seq)).unwrap())
        .collect();
    let (prefix, rest) = commands.split_at(split.index(commands.len() + 1));
    let (_db, location, mut store) = fresh(backend);
    store.set_posting_index_every(every);
    let mut outcomes = submit_in_batches(&mut store, prefix, batch_sizes);
    // A checkpoint in the middle holds the floor and the postings above it.
    if store.head().seq > 0 {
        store.checkpoint(RECORDED_AT).unwrap();
    }
    drop(store);
    let mut reopened = Store::open(&location).unwrap();
    reopened.set_posting_index_every(every);
    // A second handle that never indexes: it follows the first's index when it refreshes.
    let mut follower = Store::open_read_only(&location, CheckpointPolicy::default()).unwrap();
    outcomes.extend(submit_in_batches(&mut reopened, rest, batch_sizes));
    // Repeats, reused keys and corrections of movements the register moved to the movement
    // index are decided as by a register holding every record.
    let decided: Vec<(Status, Option<u64>)> = outcomes.iter().map(|outcome| (outcome.status, outcome.seq)).collect();
    prop_assert_eq!(decided, expected);
    // A batch that finds `every` entries or more in memory moves them to the index in its own
    // transaction: after one more (empty) batch, fewer are left.
    reopened.submit(&[], RECORDED_AT).unwrap();
    follower.refresh().unwrap();
    prop_assert!(reopened.register().log_floor() <= reopened.head().seq);
    prop_assert!(
        reopened.head().seq - reopened.register().log_floor() < every,
        "floor {} at head {}",
        reopened.register().log_floor(),
        reopened.head().seq
    );
    answers_like(&reopened, &reference)?;
    answers_like(&follower, &reference)?;
    prop_assert_eq!(follower.register().log_floor(), reopened.register().log_floor());
    // Opened again, from the checkpoint or from entry 1: the same answers.
    answers_like(&Store::open(&location).unwrap(), &reference)?;
    answers_like(&full_replay(&location), &reference)?;
    // Verification compares the checkpoint with its replay at equal floors: it matches.
    let verified = Verification::open(&location).unwrap().verify_with_keys().unwrap();
    prop_assert!(
        verified.checkpoints.iter().all(|check| matches!(check.verdict, ringfence_store::CheckpointVerdict::Matches)),
        "{:?}",
        verified.checkpoints
    );
    // And every run of the posting index holds exactly the postings its entries made.
    let indexed = reopened.register().log_floor();
    match &verified.index {
        // (A run of registrations only moves the end without a row.)
        ringfence_store::IndexCheck::Matches { through, .. } => prop_assert!(*through <= indexed),
        other => prop_assert!(false, "posting index: {:?}", other),
    }
    // Every account's balance at an instant from one pass over the index: each account's own.
    for at in instants() {
        let all = reopened.all_balances_at(at).unwrap();
        let mut nonzero = 0;
        for subject in subjects(&reference) {
            let account = subject.account();
            let slot = reopened.register().log_slot(&account).unwrap();
            for (number, asset) in reference.assets().enumerate() {
                let expected = reference.balance_at(&account, &asset.id, at).unwrap_or_default();
                let found = all.get(&(slot, number as u32)).copied().unwrap_or_default();
                prop_assert_eq!(found, expected, "{:?} {} at {:?}", account, asset.id, at);
                nonzero += usize::from(!expected.amount.is_zero());
            }
        }
        prop_assert_eq!(all.len(), nonzero, "only the accounts with a balance");
    }
    // The summary at the end of time is the summary now.
    prop_assert_eq!(reopened.summary_at(Timestamp::MAX).unwrap(), reopened.register().summary());
    // As of an earlier entry (before or after the checkpoint, inside a run of the index or at
    // its end): the register a replay up to it reaches, and the store's answers as of it.
    let head = reopened.head().seq;
    for until in [1, split.index(head as usize + 1) as u64, head / 2, head.saturating_sub(1), head] {
        if until == 0 {
            continue;
        }
        let mut then = Register::new();
        for command in &commands {
            if then.seq() == until {
                break;
            }
            then.apply_at(command, RECORDED_AT).unwrap();
        }
        let as_of = Store::open_as_of(&location, CheckpointPolicy::default(), until).unwrap();
        prop_assert_eq!(as_of.head().seq, until);
        let mut replayed = then.clone();
        replayed.raise_log_floor(as_of.register().log_floor());
        prop_assert_eq!(as_of.register().differences(&replayed), Vec::<&str>::new(), "as of entry {}", until);
        answers_like(&as_of, &then)?;
    }
    match Store::open_as_of(&location, CheckpointPolicy::default(), head + 1) {
        Err(StoreError::NoSuchEntry { seq, head: held }) => prop_assert_eq!((seq, held), (head + 1, head)),
        other => prop_assert!(false, "as of an entry beyond the head: {:?}", other.map(|store| store.head())),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_posting_index_answers_balances_at_instants_and_histories_as_a_register_holding_every_posting_on_sqlite(
        steps in prop::collection::vec((op(), 0u16..600), 1..64),
        every in 1u64..24,
        split in any::<Index>(),
        batch_sizes in prop::collection::vec(1usize..9, 1..8),
    ) {
        posting_index_case(Backend::Sqlite, &steps, every, split, &batch_sizes)?;
    }

    #[test]
    fn the_posting_index_answers_balances_at_instants_and_histories_as_a_register_holding_every_posting_on_postgres(
        steps in prop::collection::vec((op(), 0u16..600), 1..64),
        every in 1u64..24,
        split in any::<Index>(),
        batch_sizes in prop::collection::vec(1usize..9, 1..8),
    ) {
        posting_index_case(Backend::Postgres, &steps, every, split, &batch_sizes)?;
    }
}

fn a_damaged_posting_run_is_a_clear_error_and_the_journal_is_untouched(backend: Backend) {
    let (db, location, mut store) = fresh(backend);
    store.set_posting_index_every(1);
    all_accepted(&store.submit(&twenty_entries(), RECORDED_AT).unwrap());
    // The next batch moves them to the index, in its transaction.
    assert_eq!(store.register().log_floor(), 0);
    store.submit(&[], RECORDED_AT).unwrap();
    assert_eq!(store.register().log_floor(), 20);
    let head = store.head();
    match &db.raw {
        Raw::Sqlite(path) => {
            rusqlite::Connection::open(path).unwrap().execute("UPDATE posting_run SET bytes = X'0102'", []).unwrap();
        }
        Raw::Postgres(client) => {
            client.borrow_mut().batch_execute("UPDATE posting_run SET bytes = '\\x0102'").unwrap();
        }
    }
    let position = Account::Position(client(0));
    let refused = store.balance_at(&position, &asset(0), Timestamp::MAX).unwrap_err();
    assert!(matches!(refused, StoreError::PostingIndex(_)), "{refused}");
    assert!(refused.to_string().contains("a truncated or oversized"), "{refused}");
    assert!(matches!(store.history(&Subject::Client(client(0)), Timestamp::MIN, Timestamp::MAX, 10), Err(StoreError::PostingIndex(_))));
    // Balances now do not read the index; the journal still verifies, and the full check
    // names the run.
    assert!(store.register().balance(&position, &asset(0)).is_some());
    assert_eq!(Verification::open(&location).unwrap().verify().unwrap(), Ok(head));
    let verified = Verification::open(&location).unwrap().verify_with_keys().unwrap();
    assert!(
        matches!(&verified.index, ringfence_store::IndexCheck::Differs { why, .. } if why.contains("truncated")),
        "{:?}",
        verified.index
    );
}

/// Someone who can write the database swaps two accounts' rows: both decode, so queries answer
/// wrong figures without an error; the full verification finds the run.
fn a_posting_run_edited_consistently_is_found_by_the_full_verify(backend: Backend) {
    let (db, location, _store) = twenty_entries_in_the_index(backend);
    let intact = Verification::open(&location).unwrap().verify_with_keys().unwrap();
    assert!(matches!(intact.index, ringfence_store::IndexCheck::Matches { through: 20, .. }), "{:?}", intact.index);
    // Positions (group 0) take the bytes of the wallets' group.
    let swap =
        "UPDATE posting_run SET bytes = (SELECT bytes FROM posting_run WHERE accounts <> 0 ORDER BY accounts LIMIT 1) WHERE accounts = 0";
    match &db.raw {
        Raw::Sqlite(path) => {
            rusqlite::Connection::open(path).unwrap().execute(swap, []).unwrap();
        }
        Raw::Postgres(client) => {
            client.borrow_mut().batch_execute(swap).unwrap();
        }
    }
    let verified = Verification::open(&location).unwrap().verify_with_keys().unwrap();
    assert!(verified.chain.is_ok(), "the journal itself is intact");
    assert!(matches!(&verified.index, ringfence_store::IndexCheck::Differs { .. }), "{:?}", verified.index);
}

fn a_backlog_is_indexed_run_by_run_and_a_reset_behind_a_running_handle_is_refused(backend: Backend) {
    let (_db, location, mut store) = fresh(backend);
    store.set_posting_index_every(4);
    all_accepted(&store.submit(&twenty_entries(), RECORDED_AT).unwrap());
    assert_eq!(store.register().log_floor(), 0);
    // Twenty entries held: five runs of four, each in its own transaction (the first three
    // are registrations only, without a row).
    assert_eq!(store.index_postings().unwrap(), 20);
    assert_eq!(store.register().log_floor(), 20);
    let verified = Verification::open(&location).unwrap().verify_with_keys().unwrap();
    assert_eq!(verified.index, ringfence_store::IndexCheck::Matches { runs: 2, through: 20 });
    let position = Account::Position(client(0));
    assert_eq!(store.balance_at(&position, &asset(0), Timestamp::MAX).unwrap(), net(false, 890));

    // Reset behind the handle's back: it no longer answers from an index without its rows.
    assert_eq!(ringfence_store::reset_posting_index(&location).unwrap(), 5, "rows: positions and wallets, then also the own accounts");
    let refused = store.balance_at(&position, &asset(0), Timestamp::MAX).unwrap_err();
    assert!(matches!(refused, StoreError::PostingIndex(_)) && refused.to_string().contains("open the store again"), "{refused}");
    assert!(store.history(&Subject::Client(client(0)), Timestamp::MIN, Timestamp::MAX, 10).is_err());
    // Opened again, it replays from entry 1 and answers from memory.
    let reopened = Store::open(&location).unwrap();
    assert_eq!(reopened.balance_at(&position, &asset(0), Timestamp::MAX).unwrap(), net(false, 890));
}

/// The register keeps only the records of the last run in memory: a key used long before
/// (its record in the movement index, out of memory and out of the cache) still answers with
/// its original result, is still refused for a different movement, and is still corrected
/// exactly once; after a reopen too.
fn an_idempotency_key_older_than_the_cache_answers_with_its_original_result(backend: Backend) {
    let (_db, location, mut store) = fresh(backend);
    store.set_posting_index_every(2);
    let batch = twenty_entries();
    let first = store.submit(&batch, RECORDED_AT).unwrap();
    all_accepted(&first);
    let original = first[batch.len() - 6].seq.unwrap();
    // Forty more movements, one batch each: the first batch's records move out run by run and
    // leave the cache.
    for n in 0..40 {
        let deposit = build::deposit(key(&format!("later-{n}")), &client(2), &wallet_of(2), &asset(0), Amount::new(1));
        all_accepted(&store.submit(&[movement_command(deposit, at_minute(30))], RECORDED_AT).unwrap());
    }
    let (held, cached, filtered, _) = store.register().movement_memory();
    assert!(held + cached < 10 && filtered >= 40, "held {held}, cached {cached}, in the filter {filtered}");
    let later = Timestamp::from_micros(RECORDED_AT.micros() + 1);
    let check = |store: &mut Store| {
        let head = store.head();
        let again = store.submit(&batch[batch.len() - 6..batch.len() - 5], later).unwrap();
        assert_eq!((again[0].status, again[0].seq), (Status::AlreadyExists, Some(original)), "{}", again[0].detail);
        let different = build::deposit(key("d-3"), &client(0), &wallet_of(0), &asset(0), Amount::new(999));
        let refused = store.submit(&[movement_command(different, at_minute(31))], later).unwrap();
        assert_eq!(refused[0].status, Status::IdempotencyConflict);
        assert!(refused[0].detail.contains(&format!("sequence {original}")), "{}", refused[0].detail);
        assert_eq!(store.head(), head, "nothing was recorded");
        assert_eq!(store.movement_seq(&key("d-3")).unwrap(), Some(original));
        assert_eq!(store.movement_seq(&key("never-used")).unwrap(), None);
        assert_eq!(store.movement(&key("d-3")).unwrap().map(|movement| movement.key), Some(key("d-3")));
    };
    check(&mut store);
    // A correction of the old movement finds it in the index; a second one is refused.
    let Action::Movement(d3) = &batch[batch.len() - 6].action else { panic!("d-3 is a movement") };
    let correction = movement_command(build::correction(key("c-1"), key("d-3"), &d3.postings), at_minute(32));
    let corrected = store.submit(std::slice::from_ref(&correction), RECORDED_AT).unwrap();
    all_accepted(&corrected);
    let twice = movement_command(build::correction(key("c-2"), key("d-3"), &d3.postings), at_minute(33));
    let refused = store.submit(std::slice::from_ref(&twice), RECORDED_AT).unwrap();
    assert_eq!(refused[0].status, Status::AlreadyCorrected, "{}", refused[0].detail);
    // Past another run, reopened (from a checkpoint, and from entry 1): the same answers.
    for n in 0..6 {
        let deposit = build::deposit(key(&format!("after-{n}")), &client(2), &wallet_of(2), &asset(0), Amount::new(1));
        all_accepted(&store.submit(&[movement_command(deposit, at_minute(34))], RECORDED_AT).unwrap());
    }
    store.checkpoint(RECORDED_AT).unwrap();
    drop(store);
    for mut reopened in [Store::open(&location).unwrap(), full_replay(&location)] {
        reopened.set_posting_index_every(2);
        check(&mut reopened);
        let refused = reopened.submit(std::slice::from_ref(&twice), RECORDED_AT).unwrap();
        assert_eq!(refused[0].status, Status::AlreadyCorrected, "{}", refused[0].detail);
        let again = reopened.submit(std::slice::from_ref(&correction), RECORDED_AT).unwrap();
        assert_eq!((again[0].status, again[0].seq), (Status::AlreadyExists, corrected[0].seq));
    }
    // The full verification checks the movement index run by run.
    let verified = Verification::open(&location).unwrap().verify_with_keys().unwrap();
    assert!(matches!(verified.index, ringfence_store::IndexCheck::Matches { .. }), "{:?}", verified.index);
}

/// The full verification reads a moved movement record back, as a correction needs it, from
/// a run it has found equal to its replay; once a run differs (a record deleted from the
/// first), the replay keeps what it moves out instead, so the correction is still decided from
/// the journal, and the replay reaches the end.
fn a_damaged_early_run_leaves_the_verify_replay_deciding_from_the_journal(backend: Backend) {
    let (db, location, mut store) = fresh(backend);
    store.set_posting_index_every(1);
    let entries = twenty_entries();
    let Action::Movement(d3) = &entries[entries.len() - 6].action else { panic!("d-3 is a movement") };
    all_accepted(&store.submit(&entries, RECORDED_AT).unwrap());
    // The next batch moves the first run (every record of the twenty entries), the one after
    // it a second, then corrects d-3.
    let deposit = build::deposit(key("after"), &client(2), &wallet_of(2), &asset(0), Amount::new(1));
    all_accepted(&store.submit(&[movement_command(deposit, at_minute(40))], RECORDED_AT).unwrap());
    let correction = movement_command(build::correction(key("c-1"), key("d-3"), &d3.postings), at_minute(41));
    all_accepted(&store.submit(std::slice::from_ref(&correction), RECORDED_AT).unwrap());
    store.submit(&[], RECORDED_AT).unwrap();
    // A checkpoint at the head: compared only when the replay reaches it.
    store.checkpoint(RECORDED_AT).unwrap();
    let head = store.head();
    let intact = Verification::open(&location).unwrap().verify_with_keys().unwrap();
    // Intact: the correction's replay reads d-3's record back from the first run, found equal.
    assert!(matches!(intact.index, ringfence_store::IndexCheck::Matches { runs, .. } if runs >= 2), "{:?}", intact.index);
    let verdicts: Vec<_> = intact.checkpoints.iter().map(|check| check.code().1).collect();
    assert_eq!(verdicts, ["matches"], "{:?}", intact.checkpoints);
    let first = "DELETE FROM movement_run WHERE through_seq = (SELECT min(through_seq) FROM movement_run)";
    raw_batch(&db, first);
    let verified = Verification::open(&location).unwrap().verify_with_keys().unwrap();
    assert_eq!(verified.chain, Ok(head), "the journal is intact");
    let verdicts: Vec<_> = verified.checkpoints.iter().map(|check| check.code().1).collect();
    assert_eq!(verdicts, ["matches"], "the replay decided every entry: {:?}", verified.checkpoints);
    assert!(matches!(&verified.index, ringfence_store::IndexCheck::Differs { end, .. } if *end < head.seq), "{:?}", verified.index);
}

/// Someone who can write the database deletes a movement record from the index (so that a
/// key could be used twice): the full verification names the run.
fn a_movement_record_deleted_from_the_index_is_found_by_the_full_verify(backend: Backend) {
    let (db, location, store) = twenty_entries_in_the_index(backend);
    let cut = "DELETE FROM movement_run WHERE through_seq = (SELECT max(through_seq) FROM movement_run)";
    raw_batch(&db, cut);
    let verified = Verification::open(&location).unwrap().verify_with_keys().unwrap();
    assert!(verified.chain.is_ok(), "the journal itself is intact");
    assert!(
        matches!(&verified.index, ringfence_store::IndexCheck::Differs { why, .. } if why.contains("movement records")),
        "{:?}",
        verified.index
    );
    // A row that does not decode: a resubmission that must read it is refused with the
    // damage named (not as a bug in ringfence), and nothing is recorded.
    let head = store.head();
    let garble = "UPDATE movement_run SET bytes = X'00'";
    let garble_pg = "UPDATE movement_run SET bytes = '\\x00'";
    match &db.raw {
        Raw::Sqlite(path) => {
            rusqlite::Connection::open(path).unwrap().execute(garble, []).unwrap();
        }
        Raw::Postgres(client) => {
            client.borrow_mut().batch_execute(garble_pg).unwrap();
        }
    }
    let mut reopened = Store::open(&location).unwrap();
    let refused = reopened.submit(&twenty_entries()[12..13], RECORDED_AT).unwrap_err();
    assert!(matches!(refused, StoreError::PostingIndex(_)) && refused.to_string().contains("movement records"), "{refused}");
    assert!(refused.to_string().contains("migrate --rebuild-index"), "{refused}");
    assert_eq!(Verification::open(&location).unwrap().verify().unwrap(), Ok(head));
    drop(store);
}

/// The index is reset (`migrate --rebuild-index`) while a writer runs: a resubmission whose
/// record that writer no longer holds is refused, never decided as new.
fn a_resubmission_after_a_reset_behind_a_running_writer_is_refused_not_recorded_again(backend: Backend) {
    let (_db, location, mut store) = fresh(backend);
    store.set_posting_index_every(2);
    all_accepted(&store.submit(&twenty_entries(), RECORDED_AT).unwrap());
    for n in 0..8 {
        let deposit = build::deposit(key(&format!("later-{n}")), &client(2), &wallet_of(2), &asset(0), Amount::new(1));
        all_accepted(&store.submit(&[movement_command(deposit, at_minute(30))], RECORDED_AT).unwrap());
    }
    // The next batch reads nothing of the index before deciding: only the lookup of the
    // resubmitted key can see the reset.
    assert_eq!(store.head().seq - store.register().log_floor(), 1);
    ringfence_store::reset_posting_index(&location).unwrap();
    let head = store.head();
    let again = store.submit(&twenty_entries()[14..15], RECORDED_AT);
    assert!(matches!(&again, Err(StoreError::PostingIndex(why)) if why.contains("open the store again")), "{again:?}");
    assert_eq!(Store::open(&location).unwrap().head(), head, "nothing was recorded");
    // Opened again (it replays from entry 1), the key answers as before.
    let mut reopened = Store::open(&location).unwrap();
    let answer = reopened.submit(&twenty_entries()[14..15], RECORDED_AT).unwrap();
    assert_eq!(answer[0].status, Status::AlreadyExists);
}

/// Someone who can write the database slips an older copy of a record in between its runs
/// (at an entry where no run ends), which lookups would read: the full verification finds it.
fn a_movement_row_at_an_entry_where_no_run_ends_is_found_by_the_full_verify(backend: Backend) {
    let (db, location, _store) = twenty_entries_in_the_index(backend);
    let slip = "INSERT INTO movement_run (bucket, through_seq, bytes) SELECT bucket, 5, bytes FROM movement_run WHERE through_seq = (SELECT min(through_seq) FROM movement_run)";
    raw_batch(&db, slip);
    let verified = Verification::open(&location).unwrap().verify_with_keys().unwrap();
    assert!(
        matches!(&verified.index, ringfence_store::IndexCheck::Differs { end: 5, why } if why.contains("no run of the index ends")),
        "{:?}",
        verified.index
    );
}

/// Registrations plus eight movements: 20 journal entries.
fn twenty_entries() -> Vec<Command> {
    let mut commands = registrations();
    let eth = asset(0);
    let (a, b, c) = (client(0), client(1), client(2));
    let movements = vec![
        build::deposit(key("d-1"), &a, &wallet_of(0), &eth, Amount::new(1_000)),
        build::deposit(key("d-2"), &b, &wallet_of(1), &eth, Amount::new(500)),
        build::deposit(key("d-3"), &c, &wallet_of(2), &eth, Amount::new(300)),
        build::transfer(key("t-1"), &a, &b, None, &eth, Amount::new(100)),
        build::fee(key("f-1"), &a, &wallet_of(0), &wallet("w-firm"), &eth, Amount::new(10)),
        build::rebalance(key("r-1"), &wallet("w-omni-hot"), &wallet("w-omni-cold"), &eth, Amount::new(700)),
        build::firm_funding(key("ff-1"), &wallet("w-firm"), &eth, Amount::new(50)),
        build::withdrawal(key("w-1"), &b, &wallet_of(1), &eth, Amount::new(200)),
    ];
    for (index, movement) in movements.into_iter().enumerate() {
        commands.push(movement_command(movement, at_minute(index as i64 + 1)));
    }
    commands
}

/// A fresh store whose twenty entries a second (empty) batch moved to the indexes as one run.
fn twenty_entries_in_the_index(backend: Backend) -> (Fixture, Location, Store) {
    let (fixture, location, mut store) = fresh(backend);
    store.set_posting_index_every(1);
    all_accepted(&store.submit(&twenty_entries(), RECORDED_AT).unwrap());
    store.submit(&[], RECORDED_AT).unwrap();
    (fixture, location, store)
}

fn all_accepted(outcomes: &[Outcome]) {
    for (index, outcome) in outcomes.iter().enumerate() {
        assert_eq!(outcome.status, Status::Accepted, "command {index}: {}", outcome.detail);
    }
}

fn resubmitting_a_batch_returns_the_original_sequence_numbers_and_changes_nothing(backend: Backend) {
    let (_dir, location, mut store) = fresh(backend);
    let batch = twenty_entries();
    let first = store.submit(&batch, RECORDED_AT).unwrap();
    all_accepted(&first);
    let head = store.head();
    let before = snapshot(&store);

    let later = Timestamp::from_micros(RECORDED_AT.micros() + 1);
    let second = store.submit(&batch, later).unwrap();
    for ((command, original), again) in batch.iter().zip(&first).zip(&second) {
        assert_eq!(again.status, Status::AlreadyExists, "{command:?}");
        assert_eq!(again.seq, original.seq, "{command:?}");
    }
    assert_eq!(store.head(), head);
    assert_eq!(snapshot(&store), before);

    // The same after a reopen, when the idempotency record comes from the journal.
    drop(store);
    let mut store = Store::open(&location).unwrap();
    let third = store.submit(&batch[12..], later).unwrap();
    for (original, again) in first[12..].iter().zip(&third) {
        assert_eq!((again.status, again.seq), (Status::AlreadyExists, original.seq));
    }
    assert_eq!(store.head(), head);
    assert_eq!(store.verify().unwrap(), Ok(head));
}

// ----- tampering ---------------------------------------------------------------------

const ENTRIES: u64 = 20;
const MIDDLE: u64 = 10;

fn tamper_fixture(backend: Backend) -> (Fixture, Location, Store) {
    let (db, location, mut store) = fresh(backend);
    all_accepted(&store.submit(&twenty_entries(), RECORDED_AT).unwrap());
    assert_eq!(store.head().seq, ENTRIES);
    (db, location, store)
}

fn stored(db: &Fixture, seq: u64) -> (Vec<u8>, Vec<u8>) {
    match &db.raw {
        Raw::Sqlite(path) => rusqlite::Connection::open(path)
            .unwrap()
            .query_row("SELECT body, hash FROM journal WHERE seq = ?1", [seq as i64], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap(),
        Raw::Postgres(client) => {
            let row = client.borrow_mut().query_one("SELECT body, hash FROM journal WHERE seq = $1", &[&(seq as i64)]).unwrap();
            (row.get(0), row.get(1))
        }
    }
}

fn overwrite(db: &Fixture, seq: u64, body: &[u8], hash: &[u8]) {
    let changed = match &db.raw {
        Raw::Sqlite(path) => rusqlite::Connection::open(path)
            .unwrap()
            .execute("UPDATE journal SET body = ?1, hash = ?2 WHERE seq = ?3", params![body, hash, seq as i64])
            .unwrap() as u64,
        Raw::Postgres(client) => client
            .borrow_mut()
            .execute("UPDATE journal SET body = $1, hash = $2 WHERE seq = $3", &[&body as &Param<'_>, &hash, &(seq as i64)])
            .unwrap(),
    };
    assert_eq!(changed, 1);
}

fn delete(db: &Fixture, seq: u64) {
    let changed = match &db.raw {
        Raw::Sqlite(path) => {
            rusqlite::Connection::open(path).unwrap().execute("DELETE FROM journal WHERE seq = ?1", [seq as i64]).unwrap() as u64
        }
        Raw::Postgres(client) => client.borrow_mut().execute("DELETE FROM journal WHERE seq = $1", &[&(seq as i64)]).unwrap(),
    };
    assert_eq!(changed, 1);
}

fn insert(db: &Fixture, seq: u64, (body, hash): &(Vec<u8>, Vec<u8>)) {
    match &db.raw {
        Raw::Sqlite(path) => {
            rusqlite::Connection::open(path)
                .unwrap()
                .execute("INSERT INTO journal (seq, body, hash) VALUES (?1, ?2, ?3)", params![seq as i64, body, hash])
                .unwrap();
        }
        Raw::Postgres(client) => {
            client
                .borrow_mut()
                .execute("INSERT INTO journal (seq, body, hash) VALUES ($1, $2, $3)", &[&(seq as i64) as &Param<'_>, body, hash])
                .unwrap();
        }
    }
}

/// Rewrites the head recorded at commit.
fn set_recorded_head(db: &Fixture, seq: u64, hash: &[u8]) {
    let changed = match &db.raw {
        Raw::Sqlite(path) => rusqlite::Connection::open(path)
            .unwrap()
            .execute("UPDATE chain_head SET head_seq = ?1, head_hash = ?2 WHERE id = 0", params![seq as i64, hash])
            .unwrap() as u64,
        Raw::Postgres(client) => client
            .borrow_mut()
            .execute("UPDATE chain_head SET head_seq = $1, head_hash = $2 WHERE id = 0", &[&(seq as i64) as &Param<'_>, &hash])
            .unwrap(),
    };
    assert_eq!(changed, 1);
}

/// The journal is found broken at `expected` by a verification-only open, by the tampered
/// store's own `verify`, and `Store::open` refuses to load it.
fn assert_broken_at(location: &Location, store: &Store, expected: u64, what: &str) {
    let verification = Verification::open(location).unwrap();
    match verification.verify().unwrap() {
        Err(broken) => assert_eq!(broken.seq(), expected, "{what}: {broken}"),
        Ok(head) => panic!("{what}: verified as intact up to {}", head.seq),
    }
    match store.verify().unwrap() {
        Err(broken) => assert_eq!(broken.seq(), expected, "{what} (own handle): {broken}"),
        Ok(head) => panic!("{what}: the tampered store's handle verified it as intact up to {}", head.seq),
    }
    match Store::open(location) {
        Err(StoreError::Corrupt(broken)) => assert_eq!(broken.seq(), expected, "{what} (open): {broken}"),
        Err(other) => panic!("{what}: Store::open failed, but not as a damaged journal: {other}"),
        Ok(_) => panic!("{what}: Store::open loaded a tampered journal"),
    }
}

fn assert_intact(location: &Location, head: Head) {
    assert_eq!(Verification::open(location).unwrap().verify().unwrap(), Ok(head));
    assert_eq!(Store::open(location).unwrap().head(), head);
}

fn an_untampered_store_verifies_with_its_head(backend: Backend) {
    let (db, location, store) = tamper_fixture(backend);
    let head = store.head();
    let (_, last_hash) = stored(&db, ENTRIES);
    assert_eq!(head.seq, ENTRIES);
    assert_eq!(head.hash.as_slice(), last_hash.as_slice());
    assert_eq!(store.verify().unwrap(), Ok(head));
    assert_intact(&location, head);
}

fn every_flipped_byte_of_an_entry_body_is_found_at_that_entry(backend: Backend) {
    let (db, location, store) = tamper_fixture(backend);
    let head = store.head();
    let (body, hash) = stored(&db, MIDDLE);
    for offset in 0..body.len() {
        let mut altered = body.clone();
        altered[offset] ^= 0xff;
        overwrite(&db, MIDDLE, &altered, &hash);
        assert_broken_at(&location, &store, MIDDLE, &format!("entry {MIDDLE}, byte {offset} of {}", body.len()));
        overwrite(&db, MIDDLE, &body, &hash);
    }
    for seq in [1, 2, 13, ENTRIES - 1, ENTRIES] {
        let (body, hash) = stored(&db, seq);
        for offset in [0, 1, 9, 17, 49, body.len() / 2, body.len() - 1] {
            let mut altered = body.clone();
            altered[offset] ^= 0x01;
            overwrite(&db, seq, &altered, &hash);
            assert_broken_at(&location, &store, seq, &format!("entry {seq}, byte {offset}"));
            overwrite(&db, seq, &body, &hash);
        }
    }
    assert_intact(&location, head);
}

fn an_altered_stored_hash_is_found_at_its_entry(backend: Backend) {
    let (db, location, store) = tamper_fixture(backend);
    let head = store.head();
    for seq in [1, 7, MIDDLE, ENTRIES] {
        let (body, hash) = stored(&db, seq);
        let mut flipped = hash.clone();
        flipped[31] ^= 0x80;
        for (what, altered) in [("flipped", flipped), ("shortened", hash[..31].to_vec()), ("emptied", Vec::new())] {
            overwrite(&db, seq, &body, &altered);
            assert_broken_at(&location, &store, seq, &format!("hash of entry {seq} {what}"));
        }
        overwrite(&db, seq, &body, &hash);
    }
    assert_intact(&location, head);
}

fn a_deleted_entry_is_found_at_its_sequence_number(backend: Backend) {
    let (db, location, store) = tamper_fixture(backend);
    let head = store.head();
    for seq in [1, MIDDLE, ENTRIES] {
        let entry = stored(&db, seq);
        delete(&db, seq);
        assert_broken_at(&location, &store, seq, &format!("entry {seq} deleted"));
        insert(&db, seq, &entry);
    }
    assert_intact(&location, head);
}

fn swapped_entries_are_found_at_the_first_of_them(backend: Backend) {
    let (db, location, store) = tamper_fixture(backend);
    let head = store.head();
    for (first, second) in [(MIDDLE, MIDDLE + 1), (3, 15), (1, ENTRIES), (ENTRIES - 1, ENTRIES)] {
        let (a, b) = (stored(&db, first), stored(&db, second));
        overwrite(&db, first, &b.0, &b.1);
        overwrite(&db, second, &a.0, &a.1);
        assert_broken_at(&location, &store, first, &format!("entries {first} and {second} swapped"));
        overwrite(&db, first, &a.0, &a.1);
        overwrite(&db, second, &b.0, &b.1);
    }
    assert_intact(&location, head);
}

fn an_altered_recorded_head_is_found_at_the_last_entry(backend: Backend) {
    let (db, location, store) = tamper_fixture(backend);
    let head = store.head();
    let mut altered = head.hash;
    altered[0] ^= 0x01;
    set_recorded_head(&db, ENTRIES, &altered);
    assert_broken_at(&location, &store, ENTRIES, "recorded head hash altered");
    set_recorded_head(&db, ENTRIES, &head.hash);
    assert_intact(&location, head);
}

/// Regression: entries beyond the head recorded at commit (appended outside ringfence, or a
/// lowered recorded head) used to verify as intact.
fn entries_beyond_the_recorded_head_are_found_at_the_first_of_them(backend: Backend) {
    let (db, location, store) = tamper_fixture(backend);
    let head = store.head();
    let (_, previous_hash) = stored(&db, ENTRIES - 1);
    set_recorded_head(&db, ENTRIES - 1, &previous_hash);
    assert_broken_at(&location, &store, ENTRIES, "recorded head lowered by one entry");
    set_recorded_head(&db, ENTRIES, &head.hash);
    assert_intact(&location, head);
}

/// An entry re-sealed with a valid hash of its altered body is caught by the next entry's
/// link to it; re-sealing the whole tail is caught by the head recorded at commit. (Only an
/// attacker who also rewrites the recorded head gets past `verify`, which is why the head is
/// to be anchored elsewhere with `ringfence journal head`.)
fn a_resealed_entry_breaks_the_chain_at_the_next_entry_and_a_resealed_tail_at_the_head(backend: Backend) {
    let (db, location, store) = tamper_fixture(backend);
    let head = store.head();
    let originals: Vec<_> = (1..=ENTRIES).map(|seq| stored(&db, seq)).collect();
    let reseal = |seq: u64, previous: Head| -> Head {
        let entry = ringfence_journal::decode(&originals[seq as usize - 1].0).unwrap();
        let mut chain = previous;
        let sealed = chain.seal(Timestamp::from_micros(entry.recorded_at.micros() + 1), &entry.command);
        assert_eq!(sealed.seq, seq);
        overwrite(&db, seq, &sealed.body, &sealed.hash);
        chain
    };
    let before_middle = Head { seq: MIDDLE - 1, hash: originals[MIDDLE as usize - 2].1.as_slice().try_into().unwrap() };

    reseal(MIDDLE, before_middle);
    assert_broken_at(&location, &store, MIDDLE + 1, "entry re-sealed");

    let mut chain = before_middle;
    for seq in MIDDLE..=ENTRIES {
        chain = reseal(seq, chain);
    }
    assert_ne!(chain.hash, head.hash);
    assert_broken_at(&location, &store, ENTRIES, "tail re-sealed");

    for (index, (body, hash)) in originals.iter().enumerate() {
        overwrite(&db, index as u64 + 1, body, hash);
    }
    assert_intact(&location, head);
}

// ----- balances at an instant and history ----------------------------------------------

fn net(negative: bool, units: u128) -> Net {
    Net { negative, amount: Amount::new(units) }
}

fn balance_at_sums_the_movements_effective_up_to_that_instant(backend: Backend) {
    let (_dir, _location, mut store) = fresh(backend);
    all_accepted(&store.submit(&registrations(), RECORDED_AT).unwrap());
    let (eth, usdc, a) = (asset(0), asset(1), client(0));
    let hot = wallet("w-omni-hot");
    let (t1, t2, t3) = (at_minute(100), at_minute(200), at_minute(300));
    let movements = [
        movement_command(build::deposit(key("d-1"), &a, &hot, &eth, Amount::new(1_000)), t1),
        movement_command(build::deposit(key("d-2"), &a, &hot, &eth, Amount::new(200)), t2),
        movement_command(build::withdrawal(key("w-1"), &a, &hot, &eth, Amount::new(50)), t3),
        movement_command(build::deposit(key("u-1"), &a, &hot, &usdc, Amount::new(7)), t2),
    ];
    all_accepted(&store.submit(&movements, RECORDED_AT).unwrap());
    let position = Account::Position(a.clone());
    let holding = Account::Holding(hot.clone());
    let before = |t: Timestamp| Timestamp::from_micros(t.micros() - 1);
    let expected = [
        (Timestamp::MIN, 0),
        (before(t1), 0),
        (t1, 1_000),
        (before(t2), 1_000),
        (t2, 1_200),
        (before(t3), 1_200),
        (t3, 1_150),
        (Timestamp::MAX, 1_150),
    ];
    for (at, units) in expected {
        assert_eq!(store.balance_at(&position, &eth, at).unwrap(), net(false, units), "position at {at}");
        assert_eq!(store.balance_at(&holding, &eth, at).unwrap(), net(false, units), "holding at {at}");
    }
    assert_eq!(store.balance_at(&position, &usdc, before(t2)).unwrap(), net(false, 0));
    assert_eq!(store.balance_at(&position, &usdc, t2).unwrap(), net(false, 7));
    // Accounts that never moved, and a client nobody registered.
    assert_eq!(store.balance_at(&Account::Position(client(1)), &eth, Timestamp::MAX).unwrap(), net(false, 0));
    assert_eq!(store.balance_at(&Account::Own(OwnAccount::Capital), &eth, Timestamp::MAX).unwrap(), net(false, 0));
    assert_eq!(store.balance_at(&Account::Position(ClientId::parse("nobody").unwrap()), &eth, t3).unwrap(), net(false, 0));

    // A withdrawal back-dated before the deposits it draws on leaves the past balance
    // negative at that instant; it is accepted because today's balance covers it.
    let t0 = at_minute(50);
    all_accepted(
        &store.submit(&[movement_command(build::withdrawal(key("w-0"), &a, &hot, &eth, Amount::new(30)), t0)], RECORDED_AT).unwrap(),
    );
    assert_eq!(store.balance_at(&position, &eth, t0).unwrap(), net(true, 30));
    assert_eq!(store.balance_at(&holding, &eth, t0).unwrap(), net(true, 30));
    assert_eq!(store.balance_at(&position, &eth, t1).unwrap(), net(false, 970));
    assert_eq!(store.balance_at(&position, &eth, Timestamp::MAX).unwrap(), net(false, 1_120));
    assert_eq!(store.register().balance(&position, &eth), Some(Amount::new(1_120)));
}

fn keys_of(recorded: &[ringfence_store::Recorded]) -> Vec<String> {
    recorded
        .iter()
        .map(|r| match &r.command.action {
            Action::Movement(movement) => movement.key.to_string(),
            other => panic!("history returned a registration: {other:?}"),
        })
        .collect()
}

fn history_lists_a_subjects_movements_in_the_period_oldest_first_up_to_the_limit(backend: Backend) {
    let (_dir, _location, mut store) = fresh(backend);
    all_accepted(&store.submit(&registrations(), RECORDED_AT).unwrap());
    let (eth, a, b, c) = (asset(0), client(0), client(1), client(2));
    let (hot, firm, ind) = (wallet("w-omni-hot"), wallet("w-firm"), wallet("w-ind"));
    // b appears twice in one movement: it must still be listed once.
    let split_transfer = Movement {
        key: key("t-split"),
        kind: MovementKind::Transfer,
        postings: vec![
            Posting { side: Side::Debit, account: Account::Position(a.clone()), asset: eth.clone(), amount: Amount::new(5) },
            Posting { side: Side::Credit, account: Account::Position(b.clone()), asset: eth.clone(), amount: Amount::new(3) },
            Posting { side: Side::Credit, account: Account::Position(b.clone()), asset: eth.clone(), amount: Amount::new(2) },
        ],
        corrects: None,
    };
    let movements = [
        movement_command(build::deposit(key("d-a"), &a, &hot, &eth, Amount::new(1_000)), at_minute(10)),
        movement_command(build::deposit(key("d-b"), &b, &hot, &eth, Amount::new(100)), at_minute(20)),
        movement_command(build::deposit(key("d-c"), &c, &ind, &eth, Amount::new(100)), at_minute(25)),
        movement_command(build::transfer(key("t-ab"), &a, &b, None, &eth, Amount::new(10)), at_minute(30)),
        movement_command(build::fee(key("f-a"), &a, &hot, &firm, &eth, Amount::new(1)), at_minute(40)),
        movement_command(split_transfer, at_minute(50)),
        movement_command(build::transfer(key("t-ca"), &c, &a, Some((&ind, &hot)), &eth, Amount::new(20)), at_minute(60)),
    ];
    all_accepted(&store.submit(&movements, RECORDED_AT).unwrap());
    // A rejected movement leaves no trace in history.
    let refused = store
        .submit(&[movement_command(build::withdrawal(key("w-b"), &b, &hot, &eth, Amount::new(1_000_000)), at_minute(70))], RECORDED_AT);
    assert_eq!(refused.unwrap()[0].status, Status::PositionWouldGoNegative);

    let all = |subject: &Subject| keys_of(&store.history(subject, Timestamp::MIN, Timestamp::MAX, 100).unwrap());
    assert_eq!(all(&Subject::Client(a.clone())), ["d-a", "t-ab", "f-a", "t-split", "t-ca"]);
    assert_eq!(all(&Subject::Client(b.clone())), ["d-b", "t-ab", "t-split"]);
    assert_eq!(all(&Subject::Client(c.clone())), ["d-c", "t-ca"]);
    assert_eq!(all(&Subject::Wallet(hot.clone())), ["d-a", "d-b", "f-a", "t-ca"]);
    assert_eq!(all(&Subject::Wallet(firm.clone())), ["f-a"]);
    assert_eq!(all(&Subject::Wallet(wallet("w-omni-cold"))), Vec::<String>::new());
    assert_eq!(all(&Subject::Own(OwnAccount::FeeIncome)), ["f-a"]);
    assert_eq!(all(&Subject::Own(OwnAccount::Capital)), Vec::<String>::new());

    // The period is inclusive at both ends.
    let period = store.history(&Subject::Client(a.clone()), at_minute(30), at_minute(50), 100).unwrap();
    assert_eq!(keys_of(&period), ["t-ab", "f-a", "t-split"]);
    assert!(period.windows(2).all(|pair| pair[0].seq < pair[1].seq));
    assert!(period.iter().all(|r| r.recorded_at == RECORDED_AT));
    let period =
        store.history(&Subject::Client(a.clone()), Timestamp::from_micros(at_minute(30).micros() + 1), at_minute(40), 100).unwrap();
    assert_eq!(keys_of(&period), ["f-a"]);
    assert!(store.history(&Subject::Client(a.clone()), at_minute(61), Timestamp::MAX, 100).unwrap().is_empty());

    // The limit keeps the oldest.
    let limited = store.history(&Subject::Client(a.clone()), Timestamp::MIN, Timestamp::MAX, 2).unwrap();
    assert_eq!(keys_of(&limited), ["d-a", "t-ab"]);
    let seq_of_deposit = store.register().movement_seq(&key("d-a")).unwrap();
    assert_eq!(limited[0].seq, seq_of_deposit);
    assert!(store.history(&Subject::Client(a), Timestamp::MIN, Timestamp::MAX, 0).unwrap().is_empty());
}

// ----- two handles on one database -------------------------------------------------------

fn deposit_of(name: &str, units: u128) -> Command {
    movement_command(build::deposit(key(name), &client(0), &wallet_of(0), &asset(0), Amount::new(units)), at_minute(1))
}

fn two_handles_on_one_database_interleave_without_forking_the_chain(backend: Backend) {
    let (_dir, location, mut first) = fresh(backend);
    all_accepted(&first.submit(&registrations(), RECORDED_AT).unwrap());
    let mut second = Store::open(&location).unwrap();
    assert_eq!(second.head(), first.head());

    let mut expected_total = 0u128;
    for round in 0..6u128 {
        let from_first = [deposit_of(&format!("first-{round}"), round + 1)];
        let outcome = &first.submit(&from_first, RECORDED_AT).unwrap()[0];
        assert_eq!(outcome.status, Status::Accepted, "{}", outcome.detail);
        let from_second = [deposit_of(&format!("second-{round}"), 100 * (round + 1)), deposit_of(&format!("first-{round}"), round + 1)];
        let outcomes = second.submit(&from_second, RECORDED_AT).unwrap();
        assert_eq!(outcomes[0].status, Status::Accepted, "{}", outcomes[0].detail);
        // The second handle caught up with the first's entry before deciding.
        assert_eq!(outcomes[1], Outcome::already_exists(outcome.seq.unwrap()));
        expected_total += (round + 1) + 100 * (round + 1);
    }

    // One key through both handles: accepted once, already_exists once, same sequence.
    let shared = [deposit_of("shared", 7)];
    let accepted = first.submit(&shared, RECORDED_AT).unwrap().remove(0);
    let again = second.submit(&shared, RECORDED_AT).unwrap().remove(0);
    assert_eq!(accepted.status, Status::Accepted, "{}", accepted.detail);
    assert_eq!(again, Outcome::already_exists(accepted.seq.unwrap()));
    expected_total += 7;

    assert_eq!(first.head(), second.head());
    assert_eq!(snapshot(&first), snapshot(&second));
    assert_eq!(first.verify().unwrap(), Ok(first.head()));
    let reopened = Store::open(&location).unwrap();
    assert_eq!(snapshot(&reopened), snapshot(&first));
    assert_eq!(reopened.register().movement_count(), 6 * 2 + 1);
    let position = Account::Position(client(0));
    assert_eq!(reopened.register().balance(&position, &asset(0)), Some(Amount::new(expected_total)));
}

fn two_handles_in_two_threads_apply_every_movement_exactly_once(backend: Backend) {
    const ROUNDS: usize = 12;
    let (_dir, location, mut setup) = fresh(backend);
    all_accepted(&setup.submit(&registrations(), RECORDED_AT).unwrap());
    drop(setup);

    // Both threads submit the same keys, in opposite orders, two per batch.
    let keys: Vec<String> = (0..ROUNDS * 2).map(|n| format!("k-{n}")).collect();
    let run = |location: &Location, reverse: bool| -> Vec<(String, Outcome)> {
        let mut store = Store::open(location).unwrap();
        let mut order: Vec<&String> = keys.iter().collect();
        if reverse {
            order.reverse();
        }
        let mut results = Vec::new();
        for pair in order.chunks(2) {
            let batch: Vec<Command> = pair.iter().map(|name| deposit_of(name, 1 + name[2..].parse::<u128>().unwrap())).collect();
            for (name, outcome) in pair.iter().zip(store.submit(&batch, RECORDED_AT).unwrap()) {
                results.push(((*name).clone(), outcome));
            }
        }
        results
    };
    let (forward, backward) = std::thread::scope(|scope| {
        let forward = scope.spawn(|| run(&location, false));
        let backward = scope.spawn(|| run(&location, true));
        (forward.join().unwrap(), backward.join().unwrap())
    });

    let store = Store::open(&location).unwrap();
    assert_eq!(store.verify().unwrap(), Ok(store.head()));
    assert_eq!(store.head().seq, 12 + keys.len() as u64);
    for name in &keys {
        let seq = store.register().movement_seq(&key(name)).unwrap();
        let outcomes: Vec<&Outcome> = forward.iter().chain(&backward).filter(|(n, _)| n == name).map(|(_, o)| o).collect();
        let accepted = outcomes.iter().filter(|o| o.status == Status::Accepted).count();
        let existing = outcomes.iter().filter(|o| o.status == Status::AlreadyExists).count();
        assert_eq!((accepted, existing), (1, 1), "{name}: {outcomes:?}");
        assert!(outcomes.iter().all(|o| o.seq == Some(seq)), "{name}: {outcomes:?}");
    }
    let total: u128 = (0..keys.len() as u128).map(|n| n + 1).sum();
    assert_eq!(store.register().balance(&Account::Position(client(0)), &asset(0)), Some(Amount::new(total)));
}

/// Every test above, once per backend.
fn journal_pages_end_after_the_last_entry_even_for_an_after_beyond_every_sequence(backend: Backend) {
    let (_fixture, _location, mut store) = fresh(backend);
    let commands = registrations();
    store.submit(&commands, at_minute(0)).unwrap();
    let head = store.head().seq;
    assert_eq!(store.entries(0, 2).unwrap().iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2]);
    assert!(store.entries(head, 10).unwrap().is_empty());
    for after in [u64::try_from(i64::MAX).unwrap(), u64::try_from(i64::MAX).unwrap() + 1, u64::MAX] {
        assert!(store.entries(after, 10).unwrap().is_empty(), "after {after}");
    }
}

// ----- register checkpoints ----------------------------------------------------------

fn policy(every: u64) -> CheckpointPolicy {
    CheckpointPolicy { full_replay: false, every }
}

fn open_policy(location: &Location, policy: CheckpointPolicy) -> Store {
    Store::open_configured(location, None, policy).unwrap()
}

fn full_replay(location: &Location) -> Store {
    open_policy(location, CheckpointPolicy { full_replay: true, every: 0 })
}

/// Twenty entries in batches of five on a handle that takes a checkpoint every 7 entries
/// between batches, as the CLI does: checkpoints after entries 10 and 20 (the two kept; the
/// one after entry 5 was not due, the one at 15 not yet due again).
fn checkpointed(backend: Backend) -> (Fixture, Location) {
    let (db, location, store) = fresh(backend);
    drop(store);
    let mut store = open_policy(&location, policy(7));
    let mut taken = Vec::new();
    for batch in twenty_entries().chunks(5) {
        all_accepted(&store.submit(batch, RECORDED_AT).unwrap());
        assert!(!store.checkpoint_overdue(), "never twice the interval behind when checked after each batch");
        taken.extend(store.checkpoint_if_due(RECORDED_AT).unwrap().map(|info| info.seq));
    }
    assert_eq!(taken, [10, 20], "taken after the batches that passed 7 entries since the last");
    let seqs: Vec<u64> = store.checkpoints().unwrap().iter().map(|info| info.seq).collect();
    assert_eq!(seqs, [20, 10], "newest first");
    assert!(store.checkpoint_if_due(RECORDED_AT).unwrap().is_none(), "none due right after one");
    (db, location)
}

/// Runs `sql` with a blob as `$1` and an entry as `$2` (written `?1`, `?2` for SQLite) on the
/// fixture's database, beneath ringfence.
fn raw_execute(db: &Fixture, sql: &str, blob: &[u8], seq: u64) {
    match &db.raw {
        Raw::Sqlite(path) => {
            rusqlite::Connection::open(path).unwrap().execute(&sql.replace('$', "?"), params![blob, seq as i64]).unwrap();
        }
        Raw::Postgres(client) => {
            client.borrow_mut().execute(sql, &[&blob as &Param<'_>, &(seq as i64)]).unwrap();
        }
    }
}

fn checkpoint_state(db: &Fixture, seq: u64) -> Vec<u8> {
    match &db.raw {
        Raw::Sqlite(path) => rusqlite::Connection::open(path)
            .unwrap()
            .query_row("SELECT bytes FROM register_checkpoint_part WHERE seq = ?1 AND part = 0", [seq as i64], |row| row.get(0))
            .unwrap(),
        Raw::Postgres(client) => client
            .borrow_mut()
            .query_one("SELECT bytes FROM register_checkpoint_part WHERE seq = $1 AND part = 0", &[&(seq as i64)])
            .unwrap()
            .get(0),
    }
}

/// Replaces a checkpoint's state and seals it again as ringfence would (a forger with write
/// access to the database can do this).
fn reseal_checkpoint(db: &Fixture, seq: u64, state: &[u8]) {
    let (_, stored_hash) = stored(db, seq);
    let head = Head { seq, hash: stored_hash.try_into().unwrap() };
    let hash = ringfence_store::checkpoint_hash(head, ringfence_core::register::STATE_LAYOUT, state);
    raw_execute(db, "UPDATE register_checkpoint_part SET bytes = $1 WHERE seq = $2 AND part = 0", state, seq);
    raw_execute(db, "UPDATE register_checkpoint SET hash = $1 WHERE seq = $2", &hash, seq);
    raw_batch(db, &format!("UPDATE register_checkpoint SET size = {} WHERE seq = {seq}", state.len()));
}

/// Runs literal SQL on the fixture's database, beneath ringfence.
fn raw_batch(db: &Fixture, sql: &str) {
    match &db.raw {
        Raw::Sqlite(path) => rusqlite::Connection::open(path).unwrap().execute_batch(sql).unwrap(),
        Raw::Postgres(client) => client.borrow_mut().batch_execute(sql).unwrap(),
    }
}

fn opening_from_the_newest_checkpoint_replays_only_the_tail_and_equals_a_full_replay(backend: Backend) {
    let (_db, location) = checkpointed(backend);
    let store = open_policy(&location, policy(0));
    assert_eq!(store.opened().checkpoint, Some(20));
    assert_eq!(store.opened().replayed, 0);
    assert!(store.opened().passed_over.is_empty());
    drop(store);
    let mut writer = open_policy(&location, policy(0));
    all_accepted(&writer.submit(&[deposit_of("after-checkpoint-1", 5), deposit_of("after-checkpoint-2", 6)], RECORDED_AT).unwrap());
    drop(writer);
    let from_checkpoint = open_policy(&location, policy(0));
    assert_eq!((from_checkpoint.opened().checkpoint, from_checkpoint.opened().replayed), (Some(20), 2));
    let full = full_replay(&location);
    assert_eq!(full.opened().checkpoint, None);
    assert_eq!(full.opened().replayed, 22);
    assert!(from_checkpoint.register() == full.register(), "checkpoint + tail differs from the full replay");
    assert_eq!(snapshot(&from_checkpoint), snapshot(&full));
    // And both go on deciding alike.
    let verified = Verification::open(&location).unwrap().verify_with_keys().unwrap();
    assert_eq!(verified.chain.unwrap().seq, 22);
    let verdicts: Vec<(u64, &str)> = verified.checkpoints.iter().map(|c| (c.seq, c.code().1)).collect();
    assert_eq!(verdicts, [(10, "matches"), (20, "matches")]);
}

fn the_incremental_verify_reads_from_the_newest_usable_checkpoint_and_finds_a_changed_tail(backend: Backend) {
    let (db, location) = checkpointed(backend);
    let mut writer = open_policy(&location, policy(0));
    all_accepted(&writer.submit(&[deposit_of("after-checkpoint-1", 5), deposit_of("after-checkpoint-2", 6)], RECORDED_AT).unwrap());
    let head = writer.head();
    drop(writer);
    let since = |location: &Location| Verification::open(location).unwrap().verify_since_checkpoint().unwrap();
    let verified = since(&location);
    assert_eq!((verified.since, verified.chain.clone()), (Some(20), Ok(head)), "from entry 20, the two after it");
    assert!(verified.passed_over.is_empty() && verified.checkpoints.is_empty());

    // A byte of entry 21 changed: the incremental check finds it there.
    let (mut body, hash) = stored(&db, 21);
    let last = body.len() - 1;
    body[last] ^= 0x01;
    overwrite(&db, 21, &body, &hash);
    assert_eq!(since(&location).chain.unwrap_err().seq(), 21);
    body[last] ^= 0x01;
    overwrite(&db, 21, &body, &hash);

    // The recorded head set back to the checkpoint's entry: entries stored past it are found.
    let (_, hash_20) = stored(&db, 20);
    raw_execute(&db, "UPDATE chain_head SET head_hash = $1, head_seq = $2 WHERE id = 0", &hash_20, 20);
    assert!(since(&location).chain.is_err(), "entries 21 and 22 lie past the recorded head");
    raw_execute(&db, "UPDATE chain_head SET head_hash = $1, head_seq = $2 WHERE id = 0", &head.hash, head.seq);
    assert_eq!(since(&location).chain, Ok(head));

    // A byte of entry 15, before the checkpoint, is the full check's to find.
    let (mut early, early_hash) = stored(&db, 15);
    let last = early.len() - 1;
    early[last] ^= 0x01;
    overwrite(&db, 15, &early, &early_hash);
    assert_eq!(since(&location).chain, Ok(head), "entries up to the checkpoint are not read again");
    assert_eq!(Verification::open(&location).unwrap().verify().unwrap().unwrap_err().seq(), 15);
    early[last] ^= 0x01;
    overwrite(&db, 15, &early, &early_hash);

    // A damaged newest checkpoint is passed over (with why) for the older one.
    let mut state = checkpoint_state(&db, 20);
    state[0] ^= 0x40;
    raw_execute(&db, "UPDATE register_checkpoint_part SET bytes = $1 WHERE seq = $2 AND part = 0", &state, 20);
    let verified = since(&location);
    assert_eq!((verified.since, verified.chain), (Some(10), Ok(head)));
    assert_eq!(verified.passed_over.len(), 1, "{:?}", verified.passed_over);
    // None usable: the whole journal.
    raw_batch(&db, "DELETE FROM register_checkpoint_part WHERE seq = 10");
    let verified = since(&location);
    assert_eq!((verified.since, verified.chain, verified.passed_over.len()), (None, Ok(head), 2));
}

fn a_flipped_byte_in_a_checkpoint_is_passed_over_and_the_journal_replayed(backend: Backend) {
    let (db, location) = checkpointed(backend);
    let full = full_replay(&location);
    let mut state = checkpoint_state(&db, 20);
    let middle = state.len() / 2;
    state[middle] ^= 0x40;
    raw_execute(&db, "UPDATE register_checkpoint_part SET bytes = $1 WHERE seq = $2 AND part = 0", &state, 20);
    let store = open_policy(&location, policy(0));
    assert_eq!(store.opened().checkpoint, Some(10), "the older checkpoint");
    assert_eq!(store.opened().replayed, 10);
    assert_eq!(store.opened().passed_over.len(), 1);
    assert!(store.opened().passed_over[0].contains("entry 20 does not match its hash"), "{:?}", store.opened().passed_over);
    assert!(store.register() == full.register());
    drop(store);
    let mut older = checkpoint_state(&db, 10);
    older[3] ^= 0x01;
    raw_execute(&db, "UPDATE register_checkpoint_part SET bytes = $1 WHERE seq = $2 AND part = 0", &older, 10);
    let store = open_policy(&location, policy(0));
    assert_eq!((store.opened().checkpoint, store.opened().replayed, store.opened().passed_over.len()), (None, 20, 2));
    assert!(store.register() == full.register());
    let verified = Verification::open(&location).unwrap().verify_with_keys().unwrap();
    assert!(verified.checkpoints.iter().all(|c| c.code().1 == "not_compared"), "{:?}", verified.checkpoints);
}

fn a_checkpoint_not_bound_to_its_entry_or_of_another_build_is_passed_over(backend: Backend) {
    let (db, location) = checkpointed(backend);
    // Bound to a hash entry 20 does not have, and sealed again to match.
    let state = checkpoint_state(&db, 20);
    let forged_head = Head { seq: 20, hash: [7; 32] };
    let hash = ringfence_store::checkpoint_hash(forged_head, ringfence_core::register::STATE_LAYOUT, &state);
    raw_execute(&db, "UPDATE register_checkpoint SET head_hash = $1 WHERE seq = $2", &forged_head.hash, 20);
    raw_execute(&db, "UPDATE register_checkpoint SET hash = $1 WHERE seq = $2", &hash, 20);
    let store = open_policy(&location, policy(0));
    assert_eq!(store.opened().checkpoint, Some(10));
    assert!(store.opened().passed_over[0].contains("is not bound to the journal"), "{:?}", store.opened().passed_over);
    drop(store);
    raw_batch(&db, "UPDATE register_checkpoint SET layout = '0000000000000000' WHERE seq = 10");
    let store = open_policy(&location, policy(0));
    assert_eq!(store.opened().checkpoint, None);
    assert!(store.opened().passed_over[1].contains("another build"), "{:?}", store.opened().passed_over);
}

fn a_forged_checkpoint_is_used_on_open_but_a_full_verification_finds_it(backend: Backend) {
    let (db, location) = checkpointed(backend);
    // Another history of the same length: a different register at entry 20.
    let (_other_db, _other_location, mut other) = fresh(backend);
    let mut commands = registrations();
    while commands.len() < 20 {
        commands.push(deposit_of(&format!("forged-{}", commands.len()), 1_000_000));
    }
    all_accepted(&other.submit(&commands, RECORDED_AT).unwrap());
    let forged = other.register().snapshot().unwrap();
    reseal_checkpoint(&db, 20, &forged);
    // Opening trusts a checkpoint whose hash and binding check out: that is what makes it fast.
    let store = open_policy(&location, policy(0));
    assert_eq!(store.opened().checkpoint, Some(20));
    assert!(store.register() != full_replay(&location).register());
    drop(store);
    // The full verification replays from entry 1 and compares.
    let verified = Verification::open(&location).unwrap().verify_with_keys().unwrap();
    assert!(verified.chain.is_ok(), "the journal itself is intact");
    let verdicts: Vec<(u64, &str)> = verified.checkpoints.iter().map(|c| (c.seq, c.code().1)).collect();
    assert_eq!(verdicts, [(10, "matches"), (20, "differs")]);
    // Discarding them brings back the replay.
    let mut store = open_policy(&location, policy(0));
    assert_eq!(store.discard_checkpoints().unwrap(), 2);
    drop(store);
    let store = open_policy(&location, policy(0));
    assert_eq!(store.opened().checkpoint, None);
    assert!(store.register() == full_replay(&location).register());
}

/// A state stored in many parts (256 bytes each here, 16 MiB in use) restores whole, and a
/// flipped byte or a missing part in the middle is found.
fn a_checkpoint_in_many_parts_restores_and_a_damaged_or_missing_part_is_found(backend: Backend) {
    let (db, location, mut store) = fresh(backend);
    all_accepted(&store.submit(&twenty_entries(), RECORDED_AT).unwrap());
    store.set_checkpoint_part_bytes(256);
    let info = store.checkpoint(RECORDED_AT).unwrap();
    let parts = info.size.div_ceil(256);
    assert!(parts >= 3, "{} bytes in {parts} parts", info.size);
    drop(store);
    let full = full_replay(&location);
    let opened = open_policy(&location, policy(0));
    assert_eq!(opened.opened().checkpoint, Some(20));
    assert!(opened.register() == full.register());
    drop(opened);
    raw_batch(&db, "DELETE FROM register_checkpoint_part WHERE seq = 20 AND part = 1");
    let opened = open_policy(&location, policy(0));
    assert_eq!(opened.opened().checkpoint, None);
    assert!(opened.opened().passed_over[0].contains("does not match its hash"), "{:?}", opened.opened().passed_over);
    assert!(opened.register() == full.register());
}

fn a_checkpoint_of_an_empty_journal_is_refused(backend: Backend) {
    let (_db, _location, mut store) = fresh(backend);
    assert!(matches!(store.checkpoint(RECORDED_AT), Err(StoreError::NothingToCheckpoint)));
}

// ----- read-only handles and hot standbys --------------------------------------------------

fn a_read_only_handle_follows_the_writer_and_refuses_to_write(backend: Backend) {
    let (_db, location, mut writer) = fresh(backend);
    all_accepted(&writer.submit(&registrations(), RECORDED_AT).unwrap());
    // Even a policy that wants a checkpoint after every entry takes none on a read-only handle.
    let mut reader = Store::open_read_only(&location, policy(1)).unwrap();
    assert!(reader.is_read_only() && !writer.is_read_only());
    assert_eq!((reader.head(), snapshot(&reader)), (writer.head(), snapshot(&writer)));

    all_accepted(&writer.submit(&[deposit_of("after-the-reader-opened", 5)], RECORDED_AT).unwrap());
    reader.refresh().unwrap();
    assert_eq!((reader.head(), snapshot(&reader)), (writer.head(), snapshot(&writer)));

    let head = reader.head();
    let refused = reader.submit(&[deposit_of("sent-to-the-reader", 9)], RECORDED_AT).unwrap_err();
    assert!(matches!(refused, StoreError::ReadOnly(_)), "{refused}");
    assert!(refused.to_string().contains("--database-url"), "{refused}");
    assert!(matches!(reader.checkpoint(RECORDED_AT), Err(StoreError::ReadOnly(_))));
    assert!(matches!(reader.discard_checkpoints(), Err(StoreError::ReadOnly(_))));
    assert!(!reader.checkpoint_due() && reader.checkpoint_if_due(RECORDED_AT).unwrap().is_none());
    // Refusing poisons nothing: the reader still follows, and the writer saw nothing of it.
    reader.refresh().unwrap();
    assert_eq!(reader.head(), head);
    assert!(writer.checkpoints().unwrap().is_empty());
    assert_eq!(Store::open(&location).unwrap().register().movement_seq(&key("sent-to-the-reader")), None);
}

/// A real streaming replica: a hot standby of the test cluster (pg_basebackup -R), not a
/// second connection to the primary.
#[test]
fn a_hot_standby_is_refused_as_a_writer_and_followed_by_a_read_only_handle() {
    let Some(standby) = ringfence_testdb::hot_standby() else {
        eprintln!("skipped: RINGFENCE_TEST_DATABASE_URL names an external server, of which no standby can be made here");
        return;
    };
    let (_db, primary, mut writer) = fresh(Backend::Postgres);
    all_accepted(&writer.submit(&registrations(), RECORDED_AT).unwrap());
    writer.checkpoint(RECORDED_AT).unwrap();
    all_accepted(&writer.submit(&[deposit_of("before-the-standby-opened", 5)], RECORDED_AT).unwrap());
    let Location::Postgres(target) = &primary else { unreachable!("a PostgreSQL fixture") };
    let on_standby = PostgresTarget::parse(&standby.url_of(postgres_database())).unwrap();
    let replica = Location::Postgres(on_standby.with_schema(target.schema().unwrap()));
    standby.wait_for_replay();

    let refused = Store::open(&replica).unwrap_err();
    assert!(matches!(refused, StoreError::HotStandby(_)), "{refused}");
    assert!(refused.to_string().contains("--read-database-url"), "{refused}");

    let mut reader = Store::open_read_only(&replica, CheckpointPolicy::default()).unwrap();
    assert_eq!(reader.opened().checkpoint, Some(writer.head().seq - 1), "opened from the writer's checkpoint, replicated");
    assert_eq!((reader.head(), snapshot(&reader)), (writer.head(), snapshot(&writer)));

    all_accepted(&writer.submit(&[deposit_of("after-the-standby-opened", 7)], RECORDED_AT).unwrap());
    standby.wait_for_replay();
    reader.refresh().unwrap();
    assert_eq!((reader.head(), snapshot(&reader)), (writer.head(), snapshot(&writer)));
    assert!(matches!(reader.submit(&[deposit_of("sent-to-the-standby", 9)], RECORDED_AT), Err(StoreError::ReadOnly(_))));
    assert_eq!(Verification::open(&replica).unwrap().verify().unwrap(), Ok(writer.head()));
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { super::$name(super::Backend::Sqlite) })*
        }
        mod postgres {
            $(#[test] fn $name() { super::$name(super::Backend::Postgres) })*
        }
    };
}

on_both_backends!(
    resubmitting_a_batch_returns_the_original_sequence_numbers_and_changes_nothing,
    an_untampered_store_verifies_with_its_head,
    every_flipped_byte_of_an_entry_body_is_found_at_that_entry,
    an_altered_stored_hash_is_found_at_its_entry,
    a_deleted_entry_is_found_at_its_sequence_number,
    swapped_entries_are_found_at_the_first_of_them,
    an_altered_recorded_head_is_found_at_the_last_entry,
    entries_beyond_the_recorded_head_are_found_at_the_first_of_them,
    a_resealed_entry_breaks_the_chain_at_the_next_entry_and_a_resealed_tail_at_the_head,
    balance_at_sums_the_movements_effective_up_to_that_instant,
    history_lists_a_subjects_movements_in_the_period_oldest_first_up_to_the_limit,
    two_handles_on_one_database_interleave_without_forking_the_chain,
    two_handles_in_two_threads_apply_every_movement_exactly_once,
    journal_pages_end_after_the_last_entry_even_for_an_after_beyond_every_sequence,
    opening_from_the_newest_checkpoint_replays_only_the_tail_and_equals_a_full_replay,
    the_incremental_verify_reads_from_the_newest_usable_checkpoint_and_finds_a_changed_tail,
    a_flipped_byte_in_a_checkpoint_is_passed_over_and_the_journal_replayed,
    a_checkpoint_not_bound_to_its_entry_or_of_another_build_is_passed_over,
    a_forged_checkpoint_is_used_on_open_but_a_full_verification_finds_it,
    a_checkpoint_of_an_empty_journal_is_refused,
    a_checkpoint_in_many_parts_restores_and_a_damaged_or_missing_part_is_found,
    a_read_only_handle_follows_the_writer_and_refuses_to_write,
    a_damaged_posting_run_is_a_clear_error_and_the_journal_is_untouched,
    a_posting_run_edited_consistently_is_found_by_the_full_verify,
    a_backlog_is_indexed_run_by_run_and_a_reset_behind_a_running_handle_is_refused,
    an_idempotency_key_older_than_the_cache_answers_with_its_original_result,
    a_movement_record_deleted_from_the_index_is_found_by_the_full_verify,
    a_damaged_early_run_leaves_the_verify_replay_deciding_from_the_journal,
    a_movement_row_at_an_entry_where_no_run_ends_is_found_by_the_full_verify,
    a_resubmission_after_a_reset_behind_a_running_writer_is_refused_not_recorded_again,
);
