//! One test per rule of the register: each builds the same small estate, breaks one rule, and
//! checks that the register answers with that rule's status and that a rejection changed
//! nothing (summary, every balance, sequence, registered entities) and left the invariants
//! intact.

#![allow(clippy::unwrap_used, reason = "a fixture that does not parse should fail the test at once")]

use ringfence_core::{
    Account, Action, Actor, Address, Amount, Asset, AssetId, AssetSummary, AuthorisationBasis, ClassKind, Client, ClientCategory, ClientId,
    Command, Custodian, IdempotencyKey, InstructionId, KeyScheme, KeySet, KeySetId, Meta, Movement, MovementKind, Outcome, OwnAccount,
    POSTINGS_MAX, Posting, Register, Segregation, Side, Status, SubCustodian, SubCustodianId, Tier, Timestamp, Wallet, WalletClass,
    WalletId, build,
};

const ETH: &str = "eip155:1/slip44:60";
const USDC: &str = "eip155:1/erc20:0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48";
const BTC: &str = "bip122:000000000019d6689c085ae165831e93/slip44:0";
const UNREGISTERED_ASSET: &str = "eip155:1/erc20:0xdac17f958d2ee523a2206206994597c13d831ec7";

const T0: Timestamp = Timestamp::from_micros(1_700_000_000_000_000);
/// The sub-custodian's authorisation is live up to and including this instant.
const EXPIRY: Timestamp = Timestamp::from_micros(1_700_000_000_000_000 + 30 * 86_400_000_000);
const LAPSED: Timestamp = Timestamp::from_micros(EXPIRY.micros() + 1);
const RENEWED_UNTIL: Timestamp = Timestamp::from_micros(EXPIRY.micros() + 365 * 86_400_000_000);

const SUB: &str = "custody-ag";

fn asset(id: &str) -> AssetId {
    AssetId::parse(id).unwrap()
}
fn client(id: &str) -> ClientId {
    ClientId::parse(id).unwrap()
}
fn wallet(id: &str) -> WalletId {
    WalletId::parse(id).unwrap()
}
fn key(id: &str) -> IdempotencyKey {
    IdempotencyKey::parse(id).unwrap()
}
fn units(value: u128) -> Amount {
    Amount::new(value)
}
fn position(id: &str) -> Account {
    Account::Position(client(id))
}
fn holding(id: &str) -> Account {
    Account::Holding(wallet(id))
}
fn posting(side: Side, account: Account, asset_id: &str, amount: u128) -> Posting {
    Posting { side, account, asset: asset(asset_id), amount: units(amount) }
}

fn command(action: Action, at: Timestamp) -> Command {
    Command {
        meta: Meta { actor: Actor::parse("ops@casp").unwrap(), instruction: InstructionId::parse("instr-1").unwrap(), effective_at: at },
        action,
    }
}

fn movement(m: Movement) -> Action {
    Action::Movement(m)
}
fn deposit(k: &str, c: &str, w: &str, a: &str, amount: u128) -> Action {
    movement(build::deposit(key(k), &client(c), &wallet(w), &asset(a), units(amount)))
}
fn withdrawal(k: &str, c: &str, w: &str, a: &str, amount: u128) -> Action {
    movement(build::withdrawal(key(k), &client(c), &wallet(w), &asset(a), units(amount)))
}
fn rebalance(k: &str, from: &str, to: &str, a: &str, amount: u128) -> Action {
    movement(build::rebalance(key(k), &wallet(from), &wallet(to), &asset(a), units(amount)))
}
fn fee(k: &str, c: &str, client_wallet: &str, firm_wallet: &str, a: &str, amount: u128) -> Action {
    movement(build::fee(key(k), &client(c), &wallet(client_wallet), &wallet(firm_wallet), &asset(a), units(amount)))
}
fn raw(k: &str, kind: MovementKind, postings: Vec<Posting>) -> Action {
    movement(Movement { key: key(k), kind, postings, corrects: None })
}
fn postings_of(action: &Action) -> Vec<Posting> {
    match action {
        Action::Movement(m) => m.postings.clone(),
        other => panic!("not a movement: {other:?}"),
    }
}
fn correction_of(k: &str, target: &str, original: &Action) -> Action {
    movement(build::correction(key(k), key(target), &postings_of(original)))
}

fn eth_asset() -> Asset {
    Asset { id: asset(ETH), scale: 18, symbol: "ETH".to_owned() }
}
fn sub_custodian() -> SubCustodian {
    SubCustodian {
        id: SubCustodianId::parse(SUB).unwrap(),
        name: "Custody AG".to_owned(),
        basis: AuthorisationBasis::MicaCasp,
        reference: "BaFin-CASP-0042".to_owned(),
        valid_until: EXPIRY,
    }
}
fn key_set(id: &str, scheme: KeyScheme, signers: &[&str], class: ClassKind) -> KeySet {
    KeySet { id: KeySetId::parse(id).unwrap(), scheme, signers: signers.iter().map(|s| (*s).to_owned()).collect(), class }
}
fn new_wallet(id: &str, address: &str, class: WalletClass, tier: Tier, custodian: Custodian, key_set: &str) -> Wallet {
    Wallet { id: wallet(id), address: Address::parse(address).unwrap(), class, tier, custodian, key_set: KeySetId::parse(key_set).unwrap() }
}
fn omnibus_hot() -> Wallet {
    new_wallet(
        "omnibus-hot",
        "eip155:1:0x1111111111111111111111111111111111111111",
        WalletClass::ClientOmnibus,
        Tier::Hot,
        Custodian::InHouse,
        "ks-omnibus",
    )
}
fn at_sub_custodian() -> Custodian {
    Custodian::SubCustodian(SubCustodianId::parse(SUB).unwrap())
}

/// Everything observable about the register; a rejected command must leave it equal.
#[derive(Debug, PartialEq)]
struct Snapshot {
    seq: u64,
    movement_count: u64,
    summary: Vec<AssetSummary>,
    balances: Vec<(Account, Vec<(AssetId, Amount)>)>,
    assets: Vec<Asset>,
    clients: Vec<Client>,
    wallets: Vec<Wallet>,
    key_sets: Vec<KeySet>,
    sub_custodians: Vec<SubCustodian>,
}

/// The small estate every test starts from: three assets on two chains, two omnibus and two
/// individually segregated clients, omnibus, individual and firm wallets (one omnibus wallet
/// at a sub-custodian whose authorisation lapses at `EXPIRY`), and key sets of each class.
#[derive(Debug)]
struct Estate {
    register: Register,
    eth_seq: u64,
}

impl Estate {
    fn new() -> Self {
        let mut estate = Estate { register: Register::new(), eth_seq: 0 };
        estate.eth_seq = estate.accept(Action::RegisterAsset(eth_asset()));
        estate.accept(Action::RegisterAsset(Asset { id: asset(USDC), scale: 6, symbol: "USDC".to_owned() }));
        estate.accept(Action::RegisterAsset(Asset { id: asset(BTC), scale: 8, symbol: "BTC".to_owned() }));
        for (id, category, segregation) in [
            ("alice", ClientCategory::Retail, Segregation::Omnibus),
            ("bob", ClientCategory::Professional, Segregation::Omnibus),
            ("carol", ClientCategory::Professional, Segregation::Individual),
            ("dave", ClientCategory::Retail, Segregation::Individual),
        ] {
            estate.accept(Action::RegisterClient(Client { id: client(id), category, segregation }));
        }
        estate.accept(Action::RegisterSubCustodian(sub_custodian()));
        for key_set in [
            key_set("ks-omnibus", KeyScheme::Multisig { threshold: 2 }, &["ana", "ben", "cho"], ClassKind::ClientOmnibus),
            key_set("ks-carol", KeyScheme::Mpc { threshold: 2 }, &["ana", "ben", "cho"], ClassKind::ClientIndividual),
            key_set("ks-dave", KeyScheme::Mpc { threshold: 1 }, &["ana", "dan"], ClassKind::ClientIndividual),
            key_set("ks-firm", KeyScheme::Hsm, &["cfo", "ciso"], ClassKind::Firm),
        ] {
            estate.accept(Action::RegisterKeySet(key_set));
        }
        let carol = WalletClass::ClientIndividual(client("carol"));
        let dave = WalletClass::ClientIndividual(client("dave"));
        let btc_chain = "bip122:000000000019d6689c085ae165831e93";
        for wallet in [
            omnibus_hot(),
            new_wallet(
                "omnibus-cold",
                "eip155:1:0x2222222222222222222222222222222222222222",
                WalletClass::ClientOmnibus,
                Tier::Cold,
                Custodian::InHouse,
                "ks-omnibus",
            ),
            new_wallet(
                "omnibus-btc",
                &format!("{btc_chain}:bc1qomnibus0000000000000000000000000000"),
                WalletClass::ClientOmnibus,
                Tier::Cold,
                Custodian::InHouse,
                "ks-omnibus",
            ),
            new_wallet(
                "omnibus-sub",
                "eip155:1:0x3333333333333333333333333333333333333333",
                WalletClass::ClientOmnibus,
                Tier::Cold,
                at_sub_custodian(),
                "ks-omnibus",
            ),
            new_wallet(
                "carol-eth",
                "eip155:1:0x4444444444444444444444444444444444444444",
                carol,
                Tier::Hot,
                Custodian::InHouse,
                "ks-carol",
            ),
            new_wallet("dave-eth", "eip155:1:0x5555555555555555555555555555555555555555", dave, Tier::Cold, Custodian::InHouse, "ks-dave"),
            new_wallet(
                "firm-hot",
                "eip155:1:0x6666666666666666666666666666666666666666",
                WalletClass::Firm,
                Tier::Hot,
                Custodian::InHouse,
                "ks-firm",
            ),
            new_wallet(
                "firm-btc",
                &format!("{btc_chain}:bc1qfirm00000000000000000000000000000000"),
                WalletClass::Firm,
                Tier::Cold,
                Custodian::InHouse,
                "ks-firm",
            ),
        ] {
            estate.accept(Action::RegisterWallet(wallet));
        }
        estate.register.audit().unwrap();
        estate
    }

    fn apply_at(&mut self, action: Action, at: Timestamp) -> Outcome {
        self.register.apply(&command(action, at)).expect("no invariant is broken")
    }

    fn apply(&mut self, action: Action) -> Outcome {
        self.apply_at(action, T0)
    }

    /// Applies `action` at `at`, expects it accepted with the next sequence number, returns it.
    fn accept_at(&mut self, action: Action, at: Timestamp) -> u64 {
        let seq = self.register.seq();
        let outcome = self.apply_at(action, at);
        assert_eq!(outcome.status, Status::Accepted, "{}", outcome.detail);
        assert_eq!(outcome.seq, Some(seq + 1));
        assert_eq!(self.register.seq(), seq + 1);
        self.register.audit().unwrap();
        seq + 1
    }

    fn accept(&mut self, action: Action) -> u64 {
        self.accept_at(action, T0)
    }

    /// Applies `action` at `at`, expects `status`, and checks that nothing changed.
    fn reject_at(&mut self, action: Action, at: Timestamp, status: Status) -> Outcome {
        let before = self.snapshot();
        let outcome = self.apply_at(action, at);
        assert_eq!(outcome.status, status, "{}", outcome.detail);
        assert_eq!(outcome.seq, None);
        assert!(!outcome.detail.is_empty(), "a rejection says what was wrong");
        assert_eq!(self.snapshot(), before, "a rejected command changed the register");
        self.register.audit().unwrap();
        outcome
    }

    fn reject(&mut self, action: Action, status: Status) -> Outcome {
        self.reject_at(action, T0, status)
    }

    fn balance(&self, account: &Account, asset_id: &str) -> u128 {
        self.register.balance(account, &asset(asset_id)).expect("account and asset are registered").units()
    }

    fn summary_of(&self, asset_id: &str) -> AssetSummary {
        self.register.summary().into_iter().find(|s| s.asset.id.as_str() == asset_id).unwrap()
    }

    fn snapshot(&self) -> Snapshot {
        let r = &self.register;
        let accounts = r
            .clients()
            .map(|c| Account::Position(c.id.clone()))
            .chain(r.wallets().map(|w| Account::Holding(w.id.clone())))
            .chain([Account::Own(OwnAccount::Capital), Account::Own(OwnAccount::FeeIncome)]);
        Snapshot {
            seq: r.seq(),
            movement_count: r.movement_count(),
            summary: r.summary(),
            balances: accounts.map(|a| (a.clone(), r.balances_of(&a).unwrap())).collect(),
            assets: r.assets().cloned().collect(),
            clients: r.clients().cloned().collect(),
            wallets: r.wallets().cloned().collect(),
            key_sets: r.key_sets().cloned().collect(),
            sub_custodians: r.sub_custodians().cloned().collect(),
        }
    }

    fn assert_segregated(&self) {
        for summary in self.register.summary() {
            assert!(summary.is_segregated(), "{summary:?}");
        }
        self.register.audit().unwrap();
    }
}

// ----- accepted, already_exists, idempotency_conflict, entity_conflict ------------------

#[test]
fn client_deposit_into_a_wallet_of_its_class_is_accepted() {
    let mut estate = Estate::new();
    let seq = estate.accept(deposit("d1", "alice", "omnibus-hot", ETH, 1_000));
    assert_eq!(estate.register.movement_seq(&key("d1")), Some(seq));
    assert_eq!(estate.balance(&position("alice"), ETH), 1_000);
    assert_eq!(estate.balance(&holding("omnibus-hot"), ETH), 1_000);
    let eth = estate.summary_of(ETH);
    assert_eq!((eth.client_positions, eth.client_holdings, eth.client_hot), (units(1_000), units(1_000), units(1_000)));
    estate.accept(deposit("d2", "carol", "carol-eth", USDC, 5));
    estate.accept(deposit("d3", "bob", "omnibus-btc", BTC, 7));
    assert_eq!(estate.balance(&position("bob"), BTC), 7);
    estate.assert_segregated();
}

#[test]
fn same_key_with_same_content_is_already_exists_and_keeps_the_original_sequence() {
    let mut estate = Estate::new();
    let seq = estate.accept(deposit("d1", "alice", "omnibus-hot", ETH, 1_000));
    estate.accept(deposit("d2", "bob", "omnibus-hot", ETH, 1));
    let before = estate.snapshot();
    let outcome = estate.apply(deposit("d1", "alice", "omnibus-hot", ETH, 1_000));
    assert_eq!(outcome.status, Status::AlreadyExists);
    assert_eq!(outcome.seq, Some(seq));
    assert_eq!(estate.snapshot(), before);
    assert_eq!(estate.balance(&position("alice"), ETH), 1_000);

    // A retry at another effective time (a default filled in later) is the same movement:
    // the original's meta stands.
    let outcome = estate.apply_at(deposit("d1", "alice", "omnibus-hot", ETH, 1_000), LAPSED);
    assert_eq!((outcome.status, outcome.seq), (Status::AlreadyExists, Some(seq)));
    assert_eq!(estate.snapshot(), before);

    // Registrations are idempotent too.
    let outcome = estate.apply(Action::RegisterAsset(eth_asset()));
    assert_eq!((outcome.status, outcome.seq), (Status::AlreadyExists, Some(estate.eth_seq)));
    let outcome = estate.apply(Action::UpdateSubCustodianAuthorisation {
        id: SubCustodianId::parse(SUB).unwrap(),
        reference: sub_custodian().reference,
        valid_until: EXPIRY,
    });
    assert_eq!(outcome.status, Status::AlreadyExists);
    assert_eq!(estate.snapshot(), before);
    estate.assert_segregated();
}

#[test]
fn same_key_with_different_content_is_an_idempotency_conflict() {
    let mut estate = Estate::new();
    estate.accept(deposit("d1", "alice", "omnibus-hot", ETH, 1_000));
    estate.reject(deposit("d1", "alice", "omnibus-hot", ETH, 999), Status::IdempotencyConflict);
    estate.reject(withdrawal("d1", "alice", "omnibus-hot", ETH, 1_000), Status::IdempotencyConflict);
    assert_eq!(estate.balance(&position("alice"), ETH), 1_000);
}

#[test]
fn registering_a_taken_id_with_other_details_is_an_entity_conflict() {
    let mut estate = Estate::new();
    estate.accept(deposit("d1", "alice", "omnibus-hot", ETH, 1_000));
    estate.reject(Action::RegisterAsset(Asset { scale: 6, ..eth_asset() }), Status::EntityConflict);
    estate.reject(
        Action::RegisterClient(Client { id: client("alice"), category: ClientCategory::Retail, segregation: Segregation::Individual }),
        Status::EntityConflict,
    );
    estate.reject(Action::RegisterKeySet(key_set("ks-firm", KeyScheme::Hsm, &["cfo"], ClassKind::Firm)), Status::EntityConflict);
    estate.reject(Action::RegisterWallet(Wallet { tier: Tier::Cold, ..omnibus_hot() }), Status::EntityConflict);
    estate.reject(Action::RegisterSubCustodian(SubCustodian { name: "Other AG".to_owned(), ..sub_custodian() }), Status::EntityConflict);
}

// ----- shape of the movement ------------------------------------------------------------

#[test]
fn movement_without_postings_is_postings_empty() {
    let mut estate = Estate::new();
    estate.reject(raw("m1", MovementKind::Deposit, Vec::new()), Status::PostingsEmpty);
}

#[test]
fn movement_with_more_than_postings_max_postings_is_postings_too_many() {
    let mut estate = Estate::new();
    let pairs = |count: usize| -> Vec<Posting> {
        (0..count)
            .flat_map(|_| [posting(Side::Debit, holding("omnibus-hot"), ETH, 1), posting(Side::Credit, position("alice"), ETH, 1)])
            .collect()
    };
    estate.reject(raw("m1", MovementKind::Deposit, pairs(POSTINGS_MAX / 2 + 1)), Status::PostingsTooMany);
    estate.accept(raw("m2", MovementKind::Deposit, pairs(POSTINGS_MAX / 2)));
    assert_eq!(estate.balance(&position("alice"), ETH), (POSTINGS_MAX / 2) as u128);
}

#[test]
fn posting_of_zero_is_amount_zero() {
    let mut estate = Estate::new();
    estate.reject(deposit("d1", "alice", "omnibus-hot", ETH, 0), Status::AmountZero);
}

// ----- unknown references ---------------------------------------------------------------

#[test]
fn posting_in_an_unregistered_asset_is_unknown_asset() {
    let mut estate = Estate::new();
    estate.reject(deposit("d1", "alice", "omnibus-hot", UNREGISTERED_ASSET, 1), Status::UnknownAsset);
}

#[test]
fn posting_on_an_unregistered_client_is_unknown_client() {
    let mut estate = Estate::new();
    estate.reject(deposit("d1", "mallory", "omnibus-hot", ETH, 1), Status::UnknownClient);
    // An individual wallet for a client nobody registered.
    let wallet = new_wallet(
        "mallory-eth",
        "eip155:1:0x7777777777777777777777777777777777777777",
        WalletClass::ClientIndividual(client("mallory")),
        Tier::Hot,
        Custodian::InHouse,
        "ks-carol",
    );
    estate.reject(Action::RegisterWallet(wallet), Status::UnknownClient);
}

#[test]
fn posting_on_an_unregistered_wallet_is_unknown_wallet() {
    let mut estate = Estate::new();
    estate.reject(deposit("d1", "alice", "nowhere", ETH, 1), Status::UnknownWallet);
}

#[test]
fn wallet_with_an_unregistered_key_set_is_unknown_key_set() {
    let mut estate = Estate::new();
    let wallet = Wallet {
        id: wallet("omnibus-2"),
        address: Address::parse("eip155:1:0x7777777777777777777777777777777777777777").unwrap(),
        key_set: KeySetId::parse("ks-missing").unwrap(),
        ..omnibus_hot()
    };
    estate.reject(Action::RegisterWallet(wallet), Status::UnknownKeySet);
}

#[test]
fn wallet_at_an_unregistered_sub_custodian_is_unknown_sub_custodian() {
    let mut estate = Estate::new();
    let wallet = Wallet {
        id: wallet("omnibus-2"),
        address: Address::parse("eip155:1:0x7777777777777777777777777777777777777777").unwrap(),
        custodian: Custodian::SubCustodian(SubCustodianId::parse("nobody").unwrap()),
        ..omnibus_hot()
    };
    estate.reject(Action::RegisterWallet(wallet), Status::UnknownSubCustodian);
    estate.reject(
        Action::UpdateSubCustodianAuthorisation {
            id: SubCustodianId::parse("nobody").unwrap(),
            reference: "x".to_owned(),
            valid_until: RENEWED_UNTIL,
        },
        Status::UnknownSubCustodian,
    );
}

#[test]
fn correction_of_an_unrecorded_movement_is_unknown_movement() {
    let mut estate = Estate::new();
    let never = deposit("never", "alice", "omnibus-hot", ETH, 1);
    estate.reject(correction_of("c1", "never", &never), Status::UnknownMovement);
    // A rejected movement is not recorded either, so it cannot be corrected.
    let refused = withdrawal("refused", "alice", "omnibus-hot", ETH, 1);
    estate.reject(refused.clone(), Status::PositionWouldGoNegative);
    estate.reject(correction_of("c2", "refused", &refused), Status::UnknownMovement);
}

// ----- corrections ----------------------------------------------------------------------

#[test]
fn correction_without_a_target_or_a_target_on_another_kind_is_correction_target_missing() {
    let mut estate = Estate::new();
    let original = deposit("d1", "alice", "omnibus-hot", ETH, 1_000);
    estate.accept(original.clone());
    let reversal = Movement::reversal_of(&postings_of(&original));
    estate.reject(
        movement(Movement { key: key("c1"), kind: MovementKind::Correction, postings: reversal.clone(), corrects: None }),
        Status::CorrectionTargetMissing,
    );
    estate.reject(
        movement(Movement { key: key("c2"), kind: MovementKind::Withdrawal, postings: reversal, corrects: Some(key("d1")) }),
        Status::CorrectionTargetMissing,
    );
    assert_eq!(estate.balance(&position("alice"), ETH), 1_000);
}

#[test]
fn correction_of_a_correction_is_correction_of_correction() {
    let mut estate = Estate::new();
    let original = deposit("d1", "alice", "omnibus-hot", ETH, 1_000);
    estate.accept(original.clone());
    let correction = correction_of("c1", "d1", &original);
    estate.accept(correction.clone());
    estate.reject(correction_of("c2", "c1", &correction), Status::CorrectionOfCorrection);
    assert_eq!(estate.balance(&position("alice"), ETH), 0);
}

#[test]
fn second_correction_of_one_movement_is_already_corrected() {
    let mut estate = Estate::new();
    let original = deposit("d1", "alice", "omnibus-hot", ETH, 1_000);
    estate.accept(original.clone());
    estate.accept(deposit("d2", "alice", "omnibus-hot", ETH, 1_000));
    estate.accept(correction_of("c1", "d1", &original));
    estate.reject(correction_of("c2", "d1", &original), Status::AlreadyCorrected);
    assert_eq!(estate.balance(&position("alice"), ETH), 1_000);
}

#[test]
fn correction_that_is_not_the_exact_reversal_is_correction_mismatch() {
    let mut estate = Estate::new();
    estate.accept(deposit("d1", "alice", "omnibus-hot", ETH, 1_000));
    let smaller = deposit("x", "alice", "omnibus-hot", ETH, 999);
    estate.reject(correction_of("c1", "d1", &smaller), Status::CorrectionMismatch);
    let other_client = deposit("x", "bob", "omnibus-hot", ETH, 1_000);
    estate.reject(correction_of("c2", "d1", &other_client), Status::CorrectionMismatch);
    // Posting by posting: the reversal lists the postings in the original's order.
    let mut reordered = Movement::reversal_of(&postings_of(&deposit("d1", "alice", "omnibus-hot", ETH, 1_000)));
    reordered.reverse();
    estate.reject(
        movement(Movement { key: key("c3"), kind: MovementKind::Correction, postings: reordered, corrects: Some(key("d1")) }),
        Status::CorrectionMismatch,
    );
}

#[test]
fn correction_reverses_a_movement_exactly() {
    let mut estate = Estate::new();
    estate.accept(deposit("d1", "alice", "omnibus-hot", ETH, 1_000));
    estate.accept(deposit("d2", "carol", "carol-eth", ETH, 500));
    let before = estate.snapshot();
    let transfer = movement(build::transfer(
        key("t1"),
        &client("carol"),
        &client("alice"),
        Some((&wallet("carol-eth"), &wallet("omnibus-hot"))),
        &asset(ETH),
        units(200),
    ));
    estate.accept(transfer.clone());
    assert_eq!(estate.balance(&position("carol"), ETH), 300);
    assert_eq!(estate.balance(&holding("omnibus-hot"), ETH), 1_200);
    estate.accept(correction_of("c1", "t1", &transfer));
    let after = estate.snapshot();
    assert_eq!(after.balances, before.balances);
    assert_eq!(after.summary, before.summary);
    assert_eq!(after.seq, before.seq + 2);
    assert_eq!(after.movement_count, before.movement_count + 2);
    estate.assert_segregated();
}

// ----- registrations --------------------------------------------------------------------

#[test]
fn key_set_whose_scheme_does_not_fit_its_signers_is_invalid_key_scheme() {
    let mut estate = Estate::new();
    let bad = [
        key_set("ks-zero", KeyScheme::Multisig { threshold: 0 }, &["ana", "ben"], ClassKind::Firm),
        key_set("ks-above", KeyScheme::Mpc { threshold: 3 }, &["ana", "ben"], ClassKind::ClientOmnibus),
        key_set("ks-none", KeyScheme::Hsm, &[], ClassKind::Firm),
        key_set("ks-twice", KeyScheme::Multisig { threshold: 1 }, &["ana", "ana"], ClassKind::Firm),
        key_set("ks-blank", KeyScheme::Multisig { threshold: 1 }, &["ana", " "], ClassKind::Firm),
    ];
    for key_set in bad {
        estate.reject(Action::RegisterKeySet(key_set), Status::InvalidKeyScheme);
    }
    let many: Vec<String> = (0..33).map(|i| format!("signer-{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    estate.reject(Action::RegisterKeySet(key_set("ks-many", KeyScheme::Hsm, &many, ClassKind::Firm)), Status::InvalidKeyScheme);
    estate.accept(Action::RegisterKeySet(key_set("ks-fits", KeyScheme::Multisig { threshold: 2 }, &["ana", "ben"], ClassKind::Firm)));
}

#[test]
fn asset_with_more_decimals_than_a_u128_carries_is_invalid_scale() {
    let mut estate = Estate::new();
    let usdt = |scale| Asset { id: asset(UNREGISTERED_ASSET), scale, symbol: "USDT".to_owned() };
    estate.reject(Action::RegisterAsset(usdt(39)), Status::InvalidScale);
    estate.accept(Action::RegisterAsset(usdt(38)));
}

#[test]
fn wallet_at_an_address_of_another_wallet_is_address_in_use() {
    let mut estate = Estate::new();
    // EVM addresses are compared without case.
    let twin = Wallet {
        id: wallet("omnibus-twin"),
        address: Address::parse("eip155:1:0x1111111111111111111111111111111111111111".to_uppercase().replace("EIP", "eip").as_str())
            .unwrap(),
        ..omnibus_hot()
    };
    estate.reject(Action::RegisterWallet(twin), Status::AddressInUse);
    let firm_twin = new_wallet(
        "firm-twin",
        "eip155:1:0x1111111111111111111111111111111111111111",
        WalletClass::Firm,
        Tier::Hot,
        Custodian::InHouse,
        "ks-firm",
    );
    estate.reject(Action::RegisterWallet(firm_twin), Status::AddressInUse);
}

#[test]
fn posting_of_an_asset_on_a_wallet_of_another_chain_is_chain_mismatch() {
    let mut estate = Estate::new();
    estate.reject(deposit("d1", "alice", "omnibus-hot", BTC, 1), Status::ChainMismatch);
    estate.reject(deposit("d2", "alice", "omnibus-btc", ETH, 1), Status::ChainMismatch);
}

#[test]
fn individual_wallet_for_an_omnibus_client_is_wrong_wallet_class() {
    let mut estate = Estate::new();
    let wallet = new_wallet(
        "alice-eth",
        "eip155:1:0x7777777777777777777777777777777777777777",
        WalletClass::ClientIndividual(client("alice")),
        Tier::Hot,
        Custodian::InHouse,
        "ks-carol",
    );
    estate.reject(Action::RegisterWallet(wallet), Status::WrongWalletClass);
}

#[test]
fn wallet_served_by_a_key_set_of_another_class_is_key_set_class_mismatch() {
    let mut estate = Estate::new();
    let omnibus_with_firm_keys = Wallet {
        id: wallet("omnibus-2"),
        address: Address::parse("eip155:1:0x7777777777777777777777777777777777777777").unwrap(),
        key_set: KeySetId::parse("ks-firm").unwrap(),
        ..omnibus_hot()
    };
    estate.reject(Action::RegisterWallet(omnibus_with_firm_keys), Status::KeySetClassMismatch);
    let firm_with_client_keys = new_wallet(
        "firm-2",
        "eip155:1:0x8888888888888888888888888888888888888888",
        WalletClass::Firm,
        Tier::Cold,
        Custodian::InHouse,
        "ks-omnibus",
    );
    estate.reject(Action::RegisterWallet(firm_with_client_keys), Status::KeySetClassMismatch);
    let carol_with_omnibus_keys = new_wallet(
        "carol-2",
        "eip155:1:0x9999999999999999999999999999999999999999",
        WalletClass::ClientIndividual(client("carol")),
        Tier::Cold,
        Custodian::InHouse,
        "ks-omnibus",
    );
    estate.reject(Action::RegisterWallet(carol_with_omnibus_keys), Status::KeySetClassMismatch);
}

// ----- balance and shape rules ----------------------------------------------------------

#[test]
fn movement_whose_debits_and_credits_differ_is_unbalanced() {
    let mut estate = Estate::new();
    estate.reject(
        raw(
            "m1",
            MovementKind::Deposit,
            vec![posting(Side::Debit, holding("omnibus-hot"), ETH, 1_000), posting(Side::Credit, position("alice"), ETH, 999)],
        ),
        Status::Unbalanced,
    );
    // Balanced in total but not per asset.
    estate.reject(
        raw(
            "m2",
            MovementKind::Deposit,
            vec![posting(Side::Debit, holding("omnibus-hot"), ETH, 1_000), posting(Side::Credit, position("alice"), USDC, 1_000)],
        ),
        Status::Unbalanced,
    );
}

#[test]
fn posting_on_an_account_the_kind_may_not_touch_is_posting_not_allowed() {
    let mut estate = Estate::new();
    // A "deposit" that credits the firm's fee income instead of a client position.
    estate.reject(
        raw(
            "m1",
            MovementKind::Deposit,
            vec![
                posting(Side::Debit, holding("omnibus-hot"), ETH, 10),
                posting(Side::Credit, Account::Own(OwnAccount::FeeIncome), ETH, 10),
            ],
        ),
        Status::PostingNotAllowed,
    );
    // Firm funding that credits a client position.
    estate.reject(
        raw(
            "m2",
            MovementKind::FirmFunding,
            vec![posting(Side::Debit, holding("firm-hot"), ETH, 10), posting(Side::Credit, position("alice"), ETH, 10)],
        ),
        Status::PostingNotAllowed,
    );
    // A fee that credits capital rather than fee income.
    estate.accept(deposit("d1", "alice", "omnibus-hot", ETH, 100));
    estate.reject(
        raw(
            "m3",
            MovementKind::Fee,
            vec![
                posting(Side::Debit, position("alice"), ETH, 10),
                posting(Side::Credit, Account::Own(OwnAccount::Capital), ETH, 10),
                posting(Side::Debit, holding("firm-hot"), ETH, 10),
                posting(Side::Credit, holding("omnibus-hot"), ETH, 10),
            ],
        ),
        Status::PostingNotAllowed,
    );
}

#[test]
fn client_deposit_into_a_firm_wallet_is_wrong_wallet_class() {
    let mut estate = Estate::new();
    estate.reject(deposit("d1", "alice", "firm-hot", ETH, 1_000), Status::WrongWalletClass);
    estate.accept(deposit("d2", "alice", "omnibus-hot", ETH, 1_000));
    estate.reject(withdrawal("w1", "alice", "firm-hot", ETH, 1), Status::WrongWalletClass);
    estate.reject(movement(build::firm_funding(key("f1"), &wallet("omnibus-hot"), &asset(ETH), units(5))), Status::WrongWalletClass);
}

// ----- segregation ----------------------------------------------------------------------

#[test]
fn client_to_firm_sweep_without_client_debit_is_a_segregation_breach() {
    let mut estate = Estate::new();
    estate.accept(deposit("d1", "alice", "omnibus-hot", ETH, 1_000));
    estate.accept(deposit("d2", "carol", "carol-eth", ETH, 1_000));
    estate.reject(rebalance("r1", "omnibus-hot", "firm-hot", ETH, 100), Status::SegregationBreach);
    estate.reject(rebalance("r2", "carol-eth", "firm-hot", ETH, 100), Status::SegregationBreach);
    assert_eq!(estate.balance(&holding("omnibus-hot"), ETH), 1_000);
    assert_eq!(estate.balance(&holding("firm-hot"), ETH), 0);
}

#[test]
fn fee_carrying_only_the_sweep_is_a_segregation_breach() {
    let mut estate = Estate::new();
    estate.accept(deposit("d1", "alice", "omnibus-hot", ETH, 1_000));
    estate.reject(
        raw(
            "fee1",
            MovementKind::Fee,
            vec![posting(Side::Debit, holding("firm-hot"), ETH, 10), posting(Side::Credit, holding("omnibus-hot"), ETH, 10)],
        ),
        Status::SegregationBreach,
    );
    // And the client debit without the sweep: fee income the firm's wallets do not hold.
    estate.reject(
        raw(
            "fee2",
            MovementKind::Fee,
            vec![posting(Side::Debit, position("alice"), ETH, 10), posting(Side::Credit, Account::Own(OwnAccount::FeeIncome), ETH, 10)],
        ),
        Status::SegregationBreach,
    );
}

#[test]
fn firm_to_client_wallet_without_a_posting_is_a_segregation_breach() {
    let mut estate = Estate::new();
    estate.accept(movement(build::firm_funding(key("f1"), &wallet("firm-hot"), &asset(ETH), units(500))));
    estate.reject(rebalance("r1", "firm-hot", "omnibus-hot", ETH, 100), Status::SegregationBreach);
    assert_eq!(estate.balance(&Account::Own(OwnAccount::Capital), ETH), 500);
}

#[test]
fn fee_with_client_debit_and_sweep_is_accepted_and_stays_segregated() {
    let mut estate = Estate::new();
    estate.accept(deposit("d1", "alice", "omnibus-hot", ETH, 1_000));
    estate.accept(fee("fee1", "alice", "omnibus-hot", "firm-hot", ETH, 10));
    assert_eq!(estate.balance(&position("alice"), ETH), 990);
    assert_eq!(estate.balance(&holding("omnibus-hot"), ETH), 990);
    assert_eq!(estate.balance(&holding("firm-hot"), ETH), 10);
    assert_eq!(estate.balance(&Account::Own(OwnAccount::FeeIncome), ETH), 10);
    let eth = estate.summary_of(ETH);
    assert_eq!((eth.client_positions, eth.firm_holdings, eth.own_accounts, eth.firm_hot), (units(990), units(10), units(10), units(10)));
    estate.assert_segregated();
}

#[test]
fn a_loss_debits_positions_and_a_compensation_from_the_firm_makes_them_good_segregated_at_each_step() {
    let mut estate = Estate::new();
    estate.accept(deposit("d1", "alice", "omnibus-hot", ETH, 1_000));
    estate.accept(movement(build::firm_funding(key("f1"), &wallet("firm-hot"), &asset(ETH), units(500))));
    // More than the position: refused.
    estate.reject(
        movement(build::loss(key("l0"), &client("alice"), &wallet("omnibus-hot"), &asset(ETH), units(1_001))),
        Status::PositionWouldGoNegative,
    );
    estate.accept(movement(build::loss(key("l1"), &client("alice"), &wallet("omnibus-hot"), &asset(ETH), units(300))));
    assert_eq!((estate.balance(&position("alice"), ETH), estate.balance(&holding("omnibus-hot"), ETH)), (700, 700));
    estate.assert_segregated();
    // A loss may not touch the firm's wallets or accounts.
    estate.reject(
        raw(
            "l2",
            MovementKind::Loss,
            vec![posting(Side::Debit, position("alice"), ETH, 1), posting(Side::Credit, holding("firm-hot"), ETH, 1)],
        ),
        Status::WrongWalletClass,
    );
    let compensate = |k: &str, amount: u128| {
        movement(build::compensation(key(k), &client("alice"), &wallet("omnibus-hot"), &wallet("firm-hot"), &asset(ETH), units(amount)))
    };
    // More than the firm wallet holds: refused.
    estate.reject(compensate("c0", 501), Status::HoldingWouldGoNegative);
    estate.accept(compensate("c1", 300));
    assert_eq!((estate.balance(&position("alice"), ETH), estate.balance(&holding("omnibus-hot"), ETH)), (1_000, 1_000));
    assert_eq!((estate.balance(&holding("firm-hot"), ETH), estate.balance(&Account::Own(OwnAccount::Capital), ETH)), (200, 200));
    estate.assert_segregated();
    // The client credited without the asset moved: the firm's books alone would back it.
    estate.reject(
        raw(
            "c2",
            MovementKind::Compensation,
            vec![posting(Side::Debit, Account::Own(OwnAccount::Capital), ETH, 10), posting(Side::Credit, position("alice"), ETH, 10)],
        ),
        Status::PostingNotAllowed,
    );
    // Nor a deposit out of nowhere labelled a compensation (client legs only).
    estate.reject(
        raw(
            "c4",
            MovementKind::Compensation,
            vec![posting(Side::Debit, holding("omnibus-hot"), ETH, 10), posting(Side::Credit, position("alice"), ETH, 10)],
        ),
        Status::PostingNotAllowed,
    );
    // A compensation never debits a position nor credits fee income.
    estate.reject(
        raw(
            "c3",
            MovementKind::Compensation,
            vec![posting(Side::Debit, position("alice"), ETH, 10), posting(Side::Credit, Account::Own(OwnAccount::FeeIncome), ETH, 10)],
        ),
        Status::PostingNotAllowed,
    );
}

#[test]
fn a_transfer_that_debits_a_position_into_a_wallet_is_refused_from_the_rule_on_and_replays_before_it() {
    let mut estate = Estate::new();
    estate.accept(deposit("d1", "alice", "omnibus-hot", ETH, 1_000));
    estate.accept(deposit("d2", "bob", "omnibus-hot", ETH, 1_000));
    let shaped_as_a_loss = |k: &str| {
        raw(
            k,
            MovementKind::Transfer,
            vec![posting(Side::Debit, position("alice"), ETH, 10), posting(Side::Credit, holding("omnibus-hot"), ETH, 10)],
        )
    };
    let after = ringfence_core::register::TRANSFERS_BALANCED_FROM;
    // Recorded before the rule: decided as it was then.
    estate.accept_at(shaped_as_a_loss("t0"), Timestamp::from_micros(after.micros() - 1));
    estate.reject_at(shaped_as_a_loss("t1"), after, Status::PostingNotAllowed);
    // A transfer between two clients' positions is still a transfer.
    estate.accept_at(
        raw(
            "t2",
            MovementKind::Transfer,
            vec![posting(Side::Debit, position("alice"), ETH, 5), posting(Side::Credit, position("bob"), ETH, 5)],
        ),
        after,
    );
    assert_eq!((estate.balance(&position("alice"), ETH), estate.balance(&position("bob"), ETH)), (985, 1_005));
}

#[test]
fn rebalance_within_a_class_is_accepted() {
    let mut estate = Estate::new();
    estate.accept(deposit("d1", "alice", "omnibus-hot", ETH, 1_000));
    estate.accept(rebalance("r1", "omnibus-hot", "omnibus-cold", ETH, 800));
    let eth = estate.summary_of(ETH);
    assert_eq!((eth.client_hot, eth.client_cold), (units(200), units(800)));
    estate.assert_segregated();
}

#[test]
fn transfer_from_individual_to_omnibus_client_without_the_wallet_move_is_an_individual_segregation_breach() {
    let mut estate = Estate::new();
    estate.accept(deposit("d1", "carol", "carol-eth", ETH, 1_000));
    let without = build::transfer(key("t1"), &client("carol"), &client("alice"), None, &asset(ETH), units(100));
    estate.reject(movement(without), Status::IndividualSegregationBreach);
    // Between two individually segregated clients, the holding must move too.
    let between = build::transfer(key("t2"), &client("carol"), &client("dave"), None, &asset(ETH), units(100));
    estate.reject(movement(between), Status::IndividualSegregationBreach);
    // A client's deposit into a wallet of the other segment.
    estate.reject(deposit("d2", "carol", "omnibus-hot", ETH, 1), Status::IndividualSegregationBreach);
    estate.reject(deposit("d3", "alice", "carol-eth", ETH, 1), Status::IndividualSegregationBreach);
    estate.reject(deposit("d4", "dave", "carol-eth", ETH, 1), Status::IndividualSegregationBreach);
    assert_eq!(estate.balance(&position("carol"), ETH), 1_000);
    assert_eq!(estate.balance(&position("alice"), ETH), 0);
}

#[test]
fn transfer_from_individual_to_omnibus_client_with_the_wallet_move_is_accepted() {
    let mut estate = Estate::new();
    estate.accept(deposit("d1", "carol", "carol-eth", ETH, 1_000));
    let with = build::transfer(
        key("t1"),
        &client("carol"),
        &client("alice"),
        Some((&wallet("carol-eth"), &wallet("omnibus-hot"))),
        &asset(ETH),
        units(100),
    );
    estate.accept(movement(with));
    assert_eq!(estate.balance(&position("carol"), ETH), 900);
    assert_eq!(estate.balance(&holding("carol-eth"), ETH), 900);
    assert_eq!(estate.balance(&position("alice"), ETH), 100);
    assert_eq!(estate.balance(&holding("omnibus-hot"), ETH), 100);
    // Between omnibus clients no wallet moves.
    estate.accept(movement(build::transfer(key("t2"), &client("alice"), &client("bob"), None, &asset(ETH), units(40))));
    assert_eq!(estate.balance(&position("bob"), ETH), 40);
    estate.assert_segregated();
}

// ----- sub-custody ----------------------------------------------------------------------

#[test]
fn deposit_into_a_wallet_at_a_lapsed_sub_custodian_is_sub_custodian_not_authorised() {
    let mut estate = Estate::new();
    estate.accept(deposit("d1", "alice", "omnibus-sub", ETH, 1_000));
    // Live up to and including the expiry instant.
    estate.accept_at(deposit("d2", "alice", "omnibus-sub", ETH, 1), EXPIRY);
    estate.reject_at(deposit("d3", "alice", "omnibus-sub", ETH, 1), LAPSED, Status::SubCustodianNotAuthorised);
    estate.reject_at(rebalance("r1", "omnibus-cold", "omnibus-sub", ETH, 1), LAPSED, Status::SubCustodianNotAuthorised);
    // Taking assets out of it is not an allocation: it stays possible.
    estate.accept_at(withdrawal("w1", "alice", "omnibus-sub", ETH, 100), LAPSED);
    estate.accept_at(rebalance("r2", "omnibus-sub", "omnibus-cold", ETH, 500), LAPSED);
    assert_eq!(estate.balance(&holding("omnibus-sub"), ETH), 401);
    assert_eq!(estate.balance(&position("alice"), ETH), 901);
    estate.assert_segregated();
}

#[test]
fn registering_a_wallet_at_a_lapsed_sub_custodian_is_sub_custodian_not_authorised_until_renewed() {
    let mut estate = Estate::new();
    let wallet = Wallet {
        id: wallet("omnibus-sub-2"),
        address: Address::parse("eip155:1:0x7777777777777777777777777777777777777777").unwrap(),
        custodian: at_sub_custodian(),
        ..omnibus_hot()
    };
    estate.reject_at(Action::RegisterWallet(wallet.clone()), LAPSED, Status::SubCustodianNotAuthorised);
    estate.reject_at(deposit("d1", "alice", "omnibus-sub", ETH, 1), LAPSED, Status::SubCustodianNotAuthorised);

    estate.accept_at(
        Action::UpdateSubCustodianAuthorisation {
            id: SubCustodianId::parse(SUB).unwrap(),
            reference: "BaFin-CASP-0042-renewed".to_owned(),
            valid_until: RENEWED_UNTIL,
        },
        LAPSED,
    );
    estate.accept_at(Action::RegisterWallet(wallet), LAPSED);
    estate.accept_at(deposit("d1", "alice", "omnibus-sub", ETH, 1), LAPSED);
    estate.accept_at(deposit("d2", "bob", "omnibus-sub-2", ETH, 1), LAPSED);
    assert_eq!(estate.balance(&holding("omnibus-sub-2"), ETH), 1);
    estate.assert_segregated();
}

// ----- balances -------------------------------------------------------------------------

#[test]
fn balance_past_u128_max_is_amount_overflow() {
    let mut estate = Estate::new();
    estate.accept(deposit("d1", "alice", "omnibus-hot", ETH, u128::MAX - 1));
    // Alice's position would overflow.
    estate.reject(deposit("d2", "alice", "omnibus-cold", ETH, 2), Status::AmountOverflow);
    // The wallet's holding would overflow.
    estate.reject(deposit("d3", "bob", "omnibus-hot", ETH, 2), Status::AmountOverflow);
    // The postings themselves add up past u128::MAX.
    estate.reject(
        raw(
            "m4",
            MovementKind::Deposit,
            vec![
                posting(Side::Debit, holding("omnibus-cold"), USDC, u128::MAX),
                posting(Side::Debit, holding("omnibus-cold"), USDC, 1),
                posting(Side::Credit, position("bob"), USDC, u128::MAX),
                posting(Side::Credit, position("bob"), USDC, 1),
            ],
        ),
        Status::AmountOverflow,
    );
    estate.accept(deposit("d5", "alice", "omnibus-hot", ETH, 1));
    assert_eq!(estate.balance(&position("alice"), ETH), u128::MAX);
}

// Each account below stays within u128, but an asset's total (which the segregation summary
// reports as one amount) would not: that is an overflow to reject, not a broken invariant.

#[test]
fn deposit_that_would_push_the_omnibus_total_past_u128_max_is_amount_overflow() {
    let mut estate = Estate::new();
    estate.accept(deposit("d1", "alice", "omnibus-hot", ETH, u128::MAX));
    estate.reject(deposit("d2", "bob", "omnibus-cold", ETH, 1), Status::AmountOverflow);
    estate.reject(deposit("d3", "carol", "carol-eth", ETH, 1), Status::AmountOverflow);
}

#[test]
fn deposit_that_would_push_the_client_total_past_u128_max_is_amount_overflow() {
    let mut estate = Estate::new();
    // Individual and omnibus totals, and hot and cold, each fit; their sum does not.
    estate.accept(deposit("d1", "carol", "carol-eth", USDC, u128::MAX));
    estate.reject(deposit("d2", "alice", "omnibus-cold", USDC, 1), Status::AmountOverflow);
    assert_eq!(estate.summary_of(USDC).client_positions, units(u128::MAX));
}

#[test]
fn fee_that_would_push_the_own_accounts_past_u128_max_is_amount_overflow() {
    let mut estate = Estate::new();
    let firm_cold = new_wallet(
        "firm-cold",
        "eip155:1:0x7777777777777777777777777777777777777777",
        WalletClass::Firm,
        Tier::Cold,
        Custodian::InHouse,
        "ks-firm",
    );
    estate.accept(Action::RegisterWallet(firm_cold));
    estate.accept(movement(build::firm_funding(key("f1"), &wallet("firm-cold"), &asset(ETH), units(u128::MAX))));
    estate.accept(deposit("d1", "bob", "omnibus-hot", ETH, 10));
    // Capital and fee income each fit, and so does each firm wallet; the own total does not.
    estate.reject(fee("fee1", "bob", "omnibus-hot", "firm-hot", ETH, 1), Status::AmountOverflow);
}

#[test]
fn rebalance_within_a_class_near_u128_max_is_accepted() {
    // The totals after the movement fit; only a total taken half-way through would not.
    let mut estate = Estate::new();
    estate.accept(deposit("d1", "alice", "omnibus-hot", ETH, u128::MAX - 10));
    estate.accept(rebalance("r1", "omnibus-hot", "omnibus-cold", ETH, 20));
    assert_eq!(estate.balance(&holding("omnibus-cold"), ETH), 20);
    estate.assert_segregated();
}

#[test]
fn transfer_to_oneself_near_u128_max_changes_nothing_and_is_accepted() {
    // Accepted at any other balance, so also here: no balance would exceed u128::MAX.
    let mut estate = Estate::new();
    estate.accept(movement(build::transfer(key("t0"), &client("alice"), &client("alice"), None, &asset(ETH), units(5))));
    estate.accept(deposit("d1", "alice", "omnibus-hot", ETH, u128::MAX));
    let before = estate.snapshot();
    estate.accept(movement(build::transfer(key("t1"), &client("alice"), &client("alice"), None, &asset(ETH), units(5))));
    assert_eq!(estate.snapshot().balances, before.balances);
}

#[test]
fn withdrawal_beyond_the_position_is_position_would_go_negative() {
    let mut estate = Estate::new();
    estate.accept(deposit("d1", "alice", "omnibus-hot", ETH, 1_000));
    estate.accept(deposit("d2", "bob", "omnibus-hot", ETH, 1_000));
    // The wallet holds enough (bob's assets are there too), alice's position does not.
    estate.reject(withdrawal("w1", "alice", "omnibus-hot", ETH, 1_500), Status::PositionWouldGoNegative);
    // Both would go negative: the position is reported first.
    estate.reject(withdrawal("w2", "alice", "omnibus-hot", ETH, 3_000), Status::PositionWouldGoNegative);
    estate.reject(withdrawal("w3", "dave", "dave-eth", ETH, 1), Status::PositionWouldGoNegative);
    let transfer = build::transfer(key("t1"), &client("alice"), &client("bob"), None, &asset(ETH), units(1_001));
    estate.reject(movement(transfer), Status::PositionWouldGoNegative);
    assert_eq!(estate.balance(&position("alice"), ETH), 1_000);
}

#[test]
fn withdrawal_from_a_wallet_that_does_not_hold_it_is_holding_would_go_negative() {
    let mut estate = Estate::new();
    estate.accept(deposit("d1", "alice", "omnibus-hot", ETH, 1_000));
    estate.reject(withdrawal("w1", "alice", "omnibus-cold", ETH, 500), Status::HoldingWouldGoNegative);
    estate.reject(rebalance("r1", "omnibus-cold", "omnibus-hot", ETH, 1), Status::HoldingWouldGoNegative);
    estate.reject(rebalance("r2", "omnibus-hot", "omnibus-cold", ETH, 1_001), Status::HoldingWouldGoNegative);
    assert_eq!(estate.balance(&holding("omnibus-hot"), ETH), 1_000);
}

#[test]
fn firm_withdrawal_beyond_capital_is_own_account_would_go_negative() {
    let mut estate = Estate::new();
    estate.accept(deposit("d1", "alice", "omnibus-hot", ETH, 1_000));
    estate.accept(fee("fee1", "alice", "omnibus-hot", "firm-hot", ETH, 10));
    // The firm wallet holds 10, all of it fee income: the capital account has nothing.
    estate.reject(
        movement(build::firm_withdrawal(key("fw1"), &wallet("firm-hot"), &asset(ETH), units(5))),
        Status::OwnAccountWouldGoNegative,
    );
    estate.accept(movement(build::firm_funding(key("ff1"), &wallet("firm-hot"), &asset(ETH), units(5))));
    estate.accept(movement(build::firm_withdrawal(key("fw2"), &wallet("firm-hot"), &asset(ETH), units(5))));
    assert_eq!(estate.balance(&Account::Own(OwnAccount::Capital), ETH), 0);
    assert_eq!(estate.balance(&holding("firm-hot"), ETH), 10);
    estate.assert_segregated();
}

// ----- precedence: several rules broken, the first in `Status` order is reported ----------

#[test]
fn movement_breaking_several_rules_reports_the_first_in_status_order() {
    let mut estate = Estate::new();
    // Zero amount and unknown client: amount_zero comes first.
    estate.reject(deposit("p1", "mallory", "omnibus-hot", ETH, 0), Status::AmountZero);
    // Unbalanced and a firm wallet in a deposit: unbalanced comes first.
    estate.reject(
        raw(
            "p2",
            MovementKind::Deposit,
            vec![posting(Side::Debit, holding("firm-hot"), ETH, 2), posting(Side::Credit, position("alice"), ETH, 1)],
        ),
        Status::Unbalanced,
    );
    // A client-to-firm sweep that also overdraws the client wallet: the breach comes first.
    estate.reject(rebalance("p3", "omnibus-hot", "firm-hot", ETH, 5), Status::SegregationBreach);
}

#[test]
fn unknown_asset_is_reported_before_an_unknown_wallet_in_an_earlier_posting() {
    let mut estate = Estate::new();
    estate.reject(
        raw(
            "p1",
            MovementKind::Deposit,
            vec![posting(Side::Debit, holding("nowhere"), ETH, 1), posting(Side::Credit, position("alice"), UNREGISTERED_ASSET, 1)],
        ),
        Status::UnknownAsset,
    );
}

#[test]
fn unknown_client_is_reported_before_a_chain_mismatch_in_an_earlier_posting() {
    let mut estate = Estate::new();
    estate.reject(
        raw(
            "p1",
            MovementKind::Deposit,
            vec![posting(Side::Debit, holding("omnibus-hot"), BTC, 1), posting(Side::Credit, position("mallory"), BTC, 1)],
        ),
        Status::UnknownClient,
    );
}

#[test]
fn correction_rules_are_reported_before_a_chain_mismatch() {
    let mut estate = Estate::new();
    let mismatched = deposit("x", "alice", "omnibus-hot", BTC, 1);
    estate.reject(correction_of("c1", "never", &mismatched), Status::UnknownMovement);
}

#[test]
fn posting_not_allowed_is_reported_before_a_wrong_wallet_class_in_an_earlier_posting() {
    let mut estate = Estate::new();
    estate.reject(
        raw(
            "p1",
            MovementKind::Deposit,
            vec![posting(Side::Debit, holding("firm-hot"), ETH, 1), posting(Side::Credit, Account::Own(OwnAccount::Capital), ETH, 1)],
        ),
        Status::PostingNotAllowed,
    );
}

#[test]
fn postings_adding_up_past_u128_max_are_reported_after_shape_and_segregation_rules() {
    let mut estate = Estate::new();
    estate.reject(
        raw(
            "p1",
            MovementKind::Rebalance,
            vec![
                posting(Side::Debit, holding("firm-hot"), ETH, u128::MAX),
                posting(Side::Debit, holding("firm-hot"), ETH, 1),
                posting(Side::Credit, holding("omnibus-hot"), ETH, u128::MAX),
                posting(Side::Credit, holding("omnibus-hot"), ETH, 1),
            ],
        ),
        Status::SegregationBreach,
    );
    estate.reject(
        raw(
            "p2",
            MovementKind::Deposit,
            vec![
                posting(Side::Debit, holding("omnibus-hot"), ETH, u128::MAX),
                posting(Side::Debit, holding("omnibus-hot"), ETH, 1),
                posting(Side::Credit, position("alice"), ETH, 5),
            ],
        ),
        Status::Unbalanced,
    );
}

#[test]
fn wallet_registration_breaking_several_rules_reports_the_first_in_status_order() {
    let mut estate = Estate::new();
    // unknown_client comes before unknown_key_set.
    let candidate = new_wallet(
        "mallory-eth",
        "eip155:1:0x7777777777777777777777777777777777777777",
        WalletClass::ClientIndividual(client("mallory")),
        Tier::Hot,
        Custodian::InHouse,
        "ks-missing",
    );
    estate.reject(Action::RegisterWallet(candidate), Status::UnknownClient);
    // address_in_use comes before wrong_wallet_class.
    let candidate = new_wallet(
        "alice-eth",
        "eip155:1:0x1111111111111111111111111111111111111111",
        WalletClass::ClientIndividual(client("alice")),
        Tier::Hot,
        Custodian::InHouse,
        "ks-carol",
    );
    estate.reject(Action::RegisterWallet(candidate), Status::AddressInUse);
    // unknown_sub_custodian comes before key_set_class_mismatch.
    let candidate = Wallet {
        id: wallet("omnibus-2"),
        address: Address::parse("eip155:1:0x7777777777777777777777777777777777777777").unwrap(),
        custodian: Custodian::SubCustodian(SubCustodianId::parse("nobody").unwrap()),
        key_set: KeySetId::parse("ks-firm").unwrap(),
        ..omnibus_hot()
    };
    estate.reject(Action::RegisterWallet(candidate), Status::UnknownSubCustodian);
}
