//! The golden journal: entry bodies written by the code of the day they were pinned (format
//! version 1), kept in
//! `tests/golden/journal-v1.*`, that every later build must still verify, decode and replay to
//! the same register. Records are kept for five to seven years and the register is rebuilt
//! from the journal on every open, so a tag that silently changed meaning (a withdrawal read
//! back as a deposit, a critical break as a warning) would rewrite history without an error.
//! A round-trip test cannot see that; these bytes can.
//!
//! What is pinned:
//! - `journal-v1.hex`: one entry body per line, lowercase hex, as `ringfence_journal::Head`
//!   sealed it: `version | seq | recorded_at | prev_hash | command`. Every `Action`, every
//!   `SafeguardAction` and every variant of every enum the codec encodes appears at least once
//!   ([`cover`] marks them with no wildcard arm, so a new variant does not compile until it is
//!   covered).
//! - `journal-v1.commands.txt`: the `Debug` text of each decoded entry: a tag read with
//!   another meaning gives another text.
//! - `journal-v1.state.txt`: the register after the replay, read through its public getters
//!   (balances, entities, pending instructions, exceptions, safeguarding, …), with each entry's
//!   outcome. It pins derived text too (the detail of an exception a safeguarding check opens is
//!   computed, not journaled): rewording it changes what a replay shows for old records, and
//!   this test says so.
//! - [`HEAD_V1`]: the hash of the last entry, so the whole chain is pinned by one constant.
//! - `journal-v2.*`, [`HEAD_V2`]: the same format, v1's entries and then the actions added
//!   since (journal signing keys, issue 14), written by [`generate_v2`].
//!
//! The rule: a change of format is a new FORMAT_VERSION with a migration, never a silent
//! reinterpretation; never edit journal-v1.* — add journal-v2.* beside it.
//!
//! How to add a variant (a new `Action`, a new enum value): the exhaustive matches in
//! [`cover`] stop compiling; add a field to `coverage!` and an arm that sets it. The coverage
//! test then fails until a golden journal contains the variant: write a `generate_v2` that
//! appends entries using it, add `"journal-v2"` to [`FIXTURES`] with its own pinned head, and
//! bless once. v1 stays as it is, and must go on replaying.
//!
//! Derived text changes on purpose (re-pinned, not silently): `RINGFENCE_BLESS_STATE=1 cargo
//! test -p ringfence-journal --test golden golden_journal` rewrites the `state.txt` files from
//! the replay of the pinned bytes; the diff shows what a replay of old records now says. Done
//! for 2026-12-07's wording: instants as RFC 3339, fiat amounts as money.
//!
//! Blessing: `RINGFENCE_BLESS_GOLDEN=1 cargo test -p ringfence-journal --test golden` (re)writes
//! the fixture files from the generator and prints the head to pin in [`HEAD_V1`]. Only for
//! creating a new fixture version; never in CI (refused when `CI` is set), and never for
//! journal-v1 once it is committed.

#![allow(clippy::unwrap_used, reason = "a fixture that fails should fail the test at once")]

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::OnceLock;

use ringfence_core::codec::encode_command;
use ringfence_core::{
    Account, Action, Actor, Address, Amount, ApiToken, ApprovalPolicy, AssessmentId, Asset, AssetId, AuthorisationBasis, Beneficiary,
    Break, ChainBlock, ChainObservation, ChainTransfer, ClassKind, Client, ClientCategory, ClientId, ClientInstruction, Command, Consent,
    Currency, Custodian, Date, ExceptionKind, ExceptionPolicy, FiatAccount, FiatAccountClass, FiatAccountId, FiatPlacement, FiatReceipt,
    FiatWithdrawal, IdempotencyKey, Institution, InstitutionId, InstitutionKind, InstructionId, KeyScheme, KeySet, KeySetId, Meta,
    Movement, MovementKind, OwnAccount, OwnAccountUse, PendingState, Posting, Purpose, ReconRun, Register, Resolution, RiskAssessment,
    Role, RunSource, SafeguardAction, SafeguardingPolicy, Segregation, Severity, Side, SigningKey, Status, SubCustodian, SubCustodianId,
    Tier, Timestamp, TokenId, Wallet, WalletClass, WalletId, build,
};
use ringfence_core::{PackIssue, Price, StatementIssue};
use ringfence_journal::{Entry, Head, Verifier, decode, hex};
use sha2::{Digest as _, Sha256};

/// The hash of the last entry of `journal-v1.hex` (entry 129): the head of the golden chain.
const HEAD_V1: &str = "e8c3562ff5a35dc97305eeb6da4f8a922d14c3dee0a40413b260f9d232906749";

/// The hash of the last entry of `journal-v2.hex` (v1's 129 entries, then the journal signing
/// keys of issue 14, and the exception kinds and consent kinds of issue 15).
const HEAD_V2: &str = "e7874cc2ec7520adc85406144f95971e2cb80cfaff6c5ab5e1f6a1191e38a53c";

/// The hash of the last entry of `journal-v3.hex` (v2's entries, then issue 15's later
/// additions: institution reviews, the policy's new fields, two new exception kinds).
const HEAD_V3: &str = "cf4b4ab7a4db1060e676c7ecd89c8cc5e1fe695f62178f38348bb84f4b7f80ed";

/// The hash of the last entry of `journal-v4.hex` (v3's entries, then issue 17's prices and
/// a statement issued).
const HEAD_V4: &str = "811182a038cb1848abe4f93cb35bbadac1b969d81d911c94bb6369ed93042994";

/// The hash of the last entry of `journal-v5.hex` (v4's entries, then issue 18's loss and
/// compensation, an insolvency pack recorded).
const HEAD_V5: &str = "fb93840f15fbe620b1f9f814f33b2a6ad3517767ff3420bb410ed423cd5ced83";

/// The golden journals, oldest first. Each must verify, decode and replay on every build.
const FIXTURES: &[&str] = &["journal-v1", "journal-v2", "journal-v3", "journal-v4", "journal-v5"];

/// Set to 1 to (re)write the fixture files from the generator (never in CI).
const BLESS: &str = "RINGFENCE_BLESS_GOLDEN";

/// Set to 1 to re-pin every fixture's `state.txt` from the replay of its pinned bytes (never in
/// CI): for a deliberate change of derived text (an exception's wording, a field of derived
/// state), which the commit must name. The `.hex` and `.commands.txt` files, the records
/// themselves, are never rewritten.
const BLESS_STATE: &str = "RINGFENCE_BLESS_STATE";

/// 2026-01-01T00:00:00Z, a Thursday.
const T0: Timestamp = Timestamp::from_micros(1_767_225_600_000_000);
const HOUR: i64 = 3_600_000_000;
/// A day, in the hours that [`at`] takes.
const DAY: i64 = 24;
/// One ETH in wei; one USDC in its smallest unit; one BTC in satoshi.
const ETH_UNIT: u128 = 1_000_000_000_000_000_000;
const USDC_UNIT: u128 = 1_000_000;
const BTC_UNIT: u128 = 100_000_000;
/// The EVM chain watched, from which block, and where the golden reorganisation starts.
const CHAIN: &str = "eip155:1";
const WATCH_FROM: u64 = 19_000_000;
const REORG_AT: u64 = 19_000_002;
const BTC_CHAIN: &str = "bip122:000000000019d6689c085ae165831e93";

/// [`T0`] + `hours`.
fn at(hours: i64) -> Timestamp {
    Timestamp::from_micros(T0.micros() + hours * HOUR)
}

// ----- the generator ---------------------------------------------------------------------

/// Applies commands to a register as the store would, and keeps each journaled one with its
/// recorded time. Entry n is recorded one hour after entry n-1, unless the script waits.
#[derive(Debug)]
struct Script {
    register: Register,
    entries: Vec<(Command, Timestamp)>,
    statuses: Vec<Status>,
    /// The recorded time of the next entry, in hours after [`T0`].
    hour: i64,
}

impl Script {
    fn new() -> Script {
        Script { register: Register::new(), entries: Vec::new(), statuses: Vec::new(), hour: 0 }
    }

    /// Applies `action` recorded now (effective now unless `effective_at` says otherwise) and
    /// asserts that it got the next journal entry.
    fn submit(&mut self, actor: &str, instruction: Option<&str>, effective_at: Option<Timestamp>, action: Action) -> Status {
        let recorded_at = at(self.hour);
        let seq = self.entries.len() as u64 + 1;
        let instruction = instruction.map_or_else(|| format!("golden-{seq:03}"), str::to_owned);
        let meta = Meta {
            actor: Actor::parse(actor).unwrap(),
            instruction: InstructionId::parse(&instruction).unwrap(),
            effective_at: effective_at.unwrap_or(recorded_at),
        };
        let command = Command { meta, action };
        let outcome = self.register.apply_at(&command, recorded_at).unwrap();
        assert!(outcome.status.is_journaled(), "entry {seq} was refused ({}: {}): {:?}", outcome.status, outcome.detail, command.action);
        assert_eq!(outcome.seq, Some(seq), "entry {seq}: {}", outcome.detail);
        self.entries.push((command, recorded_at));
        self.statuses.push(outcome.status);
        self.hour += 1;
        outcome.status
    }

    /// Applies `action` and asserts it was accepted; returns its sequence number.
    fn accept(&mut self, actor: &str, action: Action) -> u64 {
        self.accept_as(actor, None, None, action)
    }

    fn accept_as(&mut self, actor: &str, instruction: Option<&str>, effective_at: Option<Timestamp>, action: Action) -> u64 {
        let status = self.submit(actor, instruction, effective_at, action);
        assert_eq!(status, Status::Accepted, "entry {}", self.entries.len());
        self.entries.len() as u64
    }

    /// Applies `action`, asserts it now waits for four-eyes approval, and returns the pending
    /// instruction's id (its sequence number).
    fn propose(&mut self, actor: &str, action: Action) -> u64 {
        let status = self.submit(actor, None, None, action);
        assert_eq!(status, Status::PendingApproval, "entry {}", self.entries.len());
        self.entries.len() as u64
    }

    /// Proposes `action` and has `approver` approve it at once; the policy in force must need
    /// one approval, so that this one applies the instruction in its own entry.
    fn approved(&mut self, initiator: &str, approver: &str, action: Action) -> u64 {
        let id = self.propose(initiator, action);
        let seq = self.accept(approver, Action::ApprovePending { id });
        assert_eq!(self.register.pending(id).unwrap().state, PendingState::Applied { seq });
        seq
    }

    /// Proposes `action` and has two approvers approve it (the policy v1 ends with needs two).
    fn approved_by_two(&mut self, initiator: &str, approvers: [&str; 2], action: Action) -> u64 {
        let id = self.propose(initiator, action);
        self.accept(approvers[0], Action::ApprovePending { id });
        let seq = self.accept(approvers[1], Action::ApprovePending { id });
        assert_eq!(self.register.pending(id).unwrap().state, PendingState::Applied { seq });
        seq
    }

    /// The next entry is recorded at [`T0`] + `hours`, not earlier than planned.
    fn wait_until(&mut self, hours: i64) {
        assert!(hours >= self.hour, "the script is at hour {} already, after {hours}", self.hour);
        self.hour = hours;
    }
}

fn eth() -> AssetId {
    AssetId::parse("eip155:1/slip44:60").unwrap()
}
/// Given in EIP-55 mixed case; the id keeps one spelling (lower case).
fn usdc() -> AssetId {
    AssetId::parse("eip155:1/erc20:0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48").unwrap()
}
fn btc() -> AssetId {
    AssetId::parse(&format!("{BTC_CHAIN}/slip44:0")).unwrap()
}
fn cid(id: &str) -> ClientId {
    ClientId::parse(id).unwrap()
}
fn wid(id: &str) -> WalletId {
    WalletId::parse(id).unwrap()
}
fn ksid(id: &str) -> KeySetId {
    KeySetId::parse(id).unwrap()
}
fn sid(id: &str) -> SubCustodianId {
    SubCustodianId::parse(id).unwrap()
}
fn key(id: &str) -> IdempotencyKey {
    IdempotencyKey::parse(id).unwrap()
}
fn iid(id: &str) -> InstructionId {
    InstructionId::parse(id).unwrap()
}
fn amount(units: u128) -> Amount {
    Amount::new(units)
}
/// An EVM address on chain 1 made of one repeated byte.
fn evm(byte: u8) -> Address {
    Address::parse(&format!("{CHAIN}:0x{}", format!("{byte:02x}").repeat(20))).unwrap()
}
fn bitcoin(account: &str) -> Address {
    Address::parse(&format!("{BTC_CHAIN}:{account}")).unwrap()
}
fn signers(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}
fn key_set(id: &str, scheme: KeyScheme, names: &[&str], class: ClassKind) -> Action {
    Action::RegisterKeySet(KeySet { id: ksid(id), scheme, signers: signers(names), class })
}
fn wallet(id: &str, address: Address, class: WalletClass, tier: Tier, custodian: Custodian, key_set: &str) -> Wallet {
    Wallet { id: wid(id), address, class, tier, custodian, key_set: ksid(key_set) }
}
fn sub_custodian(id: &str, name: &str, basis: AuthorisationBasis, reference: &str, valid_until: Timestamp) -> Action {
    Action::RegisterSubCustodian(SubCustodian { id: sid(id), name: name.into(), basis, reference: reference.into(), valid_until })
}
/// A token whose digest is that of a fixed secret, so the state can show it authenticates.
fn token(id: &str, roles: &[Role], client: Option<&str>, salt: u8, expires_at: Option<Timestamp>) -> Action {
    let salt = [salt; 16];
    Action::RegisterApiToken(ApiToken {
        id: TokenId::parse(id).unwrap(),
        actor: Actor::parse(&format!("{id}-holder")).unwrap(),
        roles: roles.to_vec(),
        client: client.map(cid),
        salt,
        digest: ApiToken::digest_of(&salt, &secret_of(id)),
        expires_at,
    })
}
fn secret_of(token: &str) -> String {
    format!("golden-secret-of-{token}")
}
fn movement(movement: Movement) -> Action {
    Action::Movement(movement)
}
fn deposit(k: &str, client: &str, wallet: &str, asset: &AssetId, units: u128) -> Action {
    movement(build::deposit(key(k), &cid(client), &wid(wallet), asset, amount(units)))
}
fn withdrawal(k: &str, client: &str, wallet: &str, asset: &AssetId, units: u128) -> Action {
    movement(build::withdrawal(key(k), &cid(client), &wid(wallet), asset, amount(units)))
}
fn approval_policy(approvals: u8, expiry_hours: u32, withdrawal_thresholds: Vec<(AssetId, Amount)>) -> Action {
    Action::SetApprovalPolicy(ApprovalPolicy { approvals, expiry_hours, withdrawal_thresholds })
}
fn safeguard(action: SafeguardAction) -> Action {
    Action::Safeguard(action)
}
#[allow(clippy::too_many_arguments, reason = "one argument per field of the instruction")]
fn instruction(
    id: &str,
    client: &str,
    asset: AssetId,
    purpose: Purpose,
    beneficiary: Beneficiary,
    max_amount: u128,
    valid_until: Timestamp,
    revocable: bool,
) -> Action {
    safeguard(SafeguardAction::RecordInstruction(ClientInstruction {
        id: iid(id),
        client: cid(client),
        asset,
        purpose,
        beneficiary,
        max_amount: amount(max_amount),
        valid_from: T0,
        valid_until,
        revocable,
        evidence: format!("signed instruction {id}, sha256:5e1f0c2a"),
        consent: Consent::Unstated,
    }))
}
fn encumber(k: &str, instruction: &str, units: u128) -> Action {
    safeguard(SafeguardAction::Encumber { key: key(k), instruction: iid(instruction), amount: amount(units) })
}
fn release(k: &str, instruction: &str, units: u128) -> Action {
    safeguard(SafeguardAction::Release { key: key(k), instruction: iid(instruction), amount: amount(units) })
}
fn institution(id: &str, name: &str, kind: InstitutionKind, reference: &str) -> Action {
    safeguard(SafeguardAction::RegisterInstitution(Institution {
        id: InstitutionId::parse(id).unwrap(),
        name: name.into(),
        kind,
        reference: reference.into(),
    }))
}
fn fiat_account(id: &str, institution: &str, currency: &str, class: FiatAccountClass, reference: &str) -> Action {
    safeguard(SafeguardAction::RegisterFiatAccount(FiatAccount {
        id: FiatAccountId::parse(id).unwrap(),
        institution: InstitutionId::parse(institution).unwrap(),
        currency: Currency::parse(currency).unwrap(),
        class,
        reference: reference.into(),
    }))
}
fn receive(k: &str, client: &str, currency: &str, units: u128) -> Action {
    safeguard(SafeguardAction::ReceiveFiat(FiatReceipt {
        key: key(k),
        client: cid(client),
        currency: Currency::parse(currency).unwrap(),
        amount: amount(units),
    }))
}
fn place(k: &str, receipt: &str, account: &str, units: u128) -> Action {
    safeguard(SafeguardAction::PlaceFiat(FiatPlacement {
        key: key(k),
        receipt: key(receipt),
        account: FiatAccountId::parse(account).unwrap(),
        amount: amount(units),
    }))
}
fn date(text: &str) -> Date {
    text.parse().unwrap()
}
/// Block `number` of the watched chain; from [`REORG_AT`] on, fork 1 has other hashes.
fn block(number: u64, fork: u8) -> ChainBlock {
    let hash = |n: u64| {
        let mut hash = [0u8; 32];
        hash[..8].copy_from_slice(&n.to_be_bytes());
        hash[31] = if n >= REORG_AT { fork } else { 0 };
        hash
    };
    ChainBlock { number, hash: hash(number), parent_hash: hash(number - 1), timestamp: 1_767_225_600 + (number - WATCH_FROM) * 12 }
}
fn transfer(block_number: u64, tx: u8, log_index: Option<u64>, asset: AssetId, from: Address, to: Address, units: u128) -> ChainTransfer {
    ChainTransfer { block_number, tx_hash: [tx; 32], log_index, asset, from, to, amount: amount(units) }
}
fn observe(blocks: std::ops::RangeInclusive<u64>, fork: u8, orphaned_from: Option<u64>, transfers: Vec<ChainTransfer>) -> Action {
    Action::ObserveChain(ChainObservation {
        chain: CHAIN.into(),
        orphaned_from,
        tracked: blocks.map(|number| block(number, fork)).collect(),
        transfers,
    })
}
fn found(kind: ExceptionKind, severity: Severity, subject: &str, detail: &str) -> Break {
    Break { kind, severity, subject: subject.into(), detail: detail.into() }
}

/// The golden journal v1, as the code of the day it was pinned decides it. Fixed times, ids, salts and hashes:
/// no clock, no randomness. Every command must be journaled (accepted, or pending approval).
fn generate_v1() -> Script {
    let mut s = Script::new();
    let (eth, usdc, btc) = (eth(), usdc(), btc());

    // ----- Registrations, before any four-eyes policy: they apply directly.
    s.accept("setup", Action::RegisterAsset(Asset { id: eth.clone(), scale: 18, symbol: "ETH".into() }));
    s.accept("setup", Action::RegisterAsset(Asset { id: usdc.clone(), scale: 6, symbol: "USDC".into() }));
    s.accept("setup", Action::RegisterAsset(Asset { id: btc.clone(), scale: 8, symbol: "BTC".into() }));
    for (id, category, segregation) in [
        ("alice", ClientCategory::Retail, Segregation::Omnibus),
        ("bob", ClientCategory::Professional, Segregation::Omnibus),
        ("carol", ClientCategory::Retail, Segregation::Individual),
        ("dave", ClientCategory::Professional, Segregation::Individual),
    ] {
        s.accept("setup", Action::RegisterClient(Client { id: cid(id), category, segregation }));
    }
    s.accept(
        "setup",
        sub_custodian("nordbank", "Nordbank Zürich AG", AuthorisationBasis::CrrCreditInstitution, "LEI-NORDBANK-ZH", at(60 * DAY)),
    );
    s.accept("setup", sub_custodian("casp-one", "CASP One SA", AuthorisationBasis::MicaCasp, "ESMA-CASP-0001", at(730 * DAY)));
    s.accept("setup", sub_custodian("art60-bank", "Art 60 Bank AG", AuthorisationBasis::Art60Entity, "BaFin-60-1234", at(365 * DAY)));
    s.accept(
        "setup",
        sub_custodian("offshore", "Offshore Custody Ltd", AuthorisationBasis::ThirdCountryEquivalent, "CIMA-77", at(20 * DAY)),
    );
    s.accept(
        "compliance",
        Action::UpdateSubCustodianAuthorisation {
            id: sid("nordbank"),
            reference: "LEI-NORDBANK-ZH/2026".into(),
            valid_until: at(90 * DAY),
        },
    );
    s.accept("setup", key_set("ks-omnibus", KeyScheme::Multisig { threshold: 2 }, &["s1", "s2", "s3"], ClassKind::ClientOmnibus));
    s.accept("setup", key_set("ks-carol", KeyScheme::Mpc { threshold: 2 }, &["m1", "m2", "m3"], ClassKind::ClientIndividual));
    s.accept("setup", key_set("ks-dave", KeyScheme::Hsm, &["hsm-a", "hsm-b"], ClassKind::ClientIndividual));
    // s1 and hsm-a sign on both sides of the segregation wall: access separation flags them.
    s.accept("setup", key_set("ks-firm", KeyScheme::Multisig { threshold: 1 }, &["s1", "f1"], ClassKind::Firm));
    s.accept("setup", key_set("ks-firm-vault", KeyScheme::Hsm, &["hsm-a"], ClassKind::Firm));
    let omnibus = WalletClass::ClientOmnibus;
    for wallet in [
        // Given in EIP-55 mixed case; the address keeps one spelling (lower case).
        wallet(
            "omni-hot",
            Address::parse("eip155:1:0xAB16a96D359eC26a11e2C2b3d8f8B8942d5Bfcdb").unwrap(),
            omnibus.clone(),
            Tier::Hot,
            Custodian::InHouse,
            "ks-omnibus",
        ),
        wallet("omni-cold", evm(0xa2), omnibus.clone(), Tier::Cold, Custodian::InHouse, "ks-omnibus"),
        wallet("omni-nord", evm(0xa3), omnibus.clone(), Tier::Cold, Custodian::SubCustodian(sid("nordbank")), "ks-omnibus"),
        wallet("omni-offshore", evm(0xa4), omnibus.clone(), Tier::Cold, Custodian::SubCustodian(sid("offshore")), "ks-omnibus"),
        wallet("spare", evm(0xa5), omnibus.clone(), Tier::Hot, Custodian::InHouse, "ks-omnibus"),
        wallet("omni-btc", bitcoin("bc1qgoldenomnibus"), omnibus.clone(), Tier::Hot, Custodian::InHouse, "ks-omnibus"),
        wallet("carol-hot", evm(0xc1), WalletClass::ClientIndividual(cid("carol")), Tier::Hot, Custodian::InHouse, "ks-carol"),
        wallet(
            "carol-cold",
            evm(0xc2),
            WalletClass::ClientIndividual(cid("carol")),
            Tier::Cold,
            Custodian::SubCustodian(sid("casp-one")),
            "ks-carol",
        ),
        wallet(
            "dave-btc",
            bitcoin("bc1qgoldendave"),
            WalletClass::ClientIndividual(cid("dave")),
            Tier::Cold,
            Custodian::SubCustodian(sid("art60-bank")),
            "ks-dave",
        ),
        wallet("firm-hot", evm(0xf1), WalletClass::Firm, Tier::Hot, Custodian::InHouse, "ks-firm"),
        wallet("firm-vault", evm(0xf2), WalletClass::Firm, Tier::Cold, Custodian::InHouse, "ks-firm-vault"),
        wallet("firm-btc", bitcoin("bc1qgoldenfirm"), WalletClass::Firm, Tier::Hot, Custodian::InHouse, "ks-firm"),
    ] {
        s.accept("setup", Action::RegisterWallet(wallet));
    }
    s.accept("setup", Action::ChangeWallet(wallet("firm-vault", evm(0xf2), WalletClass::Firm, Tier::Cold, Custodian::InHouse, "ks-firm")));
    s.accept("admin", token("tok-ops", &[Role::Operator, Role::Approver], None, 0x11, None));
    s.accept("admin", token("tok-compliance", &[Role::Compliance, Role::Auditor], None, 0x22, Some(at(365 * DAY))));
    s.accept("admin", token("tok-alice", &[Role::Client], Some("alice"), 0x33, Some(at(14 * DAY))));
    s.accept("admin", token("tok-audit", &[Role::Auditor], None, 0x44, None));
    s.accept("admin", Action::RevokeApiToken { id: TokenId::parse("tok-audit").unwrap() });
    s.accept("compliance", Action::SetExceptionPolicy(ExceptionPolicy { resolution_hours: 4, confirmation_hours: 2 }));
    s.accept(
        "compliance",
        safeguard(SafeguardAction::SetPolicy(SafeguardingPolicy {
            own_account_use: OwnAccountUse::Forbidden,
            cold_floor_bp: 7_500,
            cold_floors: Vec::new(),
            lapse_notice_days: 14,
            closing_days: Vec::new(),
            concentration_limit_bp: 4_000,
            ..SafeguardingPolicy::default()
        })),
    );
    s.accept("compliance", institution("nordbank-ag", "Nordbank Zürich AG", InstitutionKind::CreditInstitution, "BIC NORDCHZZ"));
    s.accept("compliance", fiat_account("client-eur", "nordbank-ag", "EUR", FiatAccountClass::ClientFunds, "CH93 0076 2011 6238 5295 7"));
    s.accept("compliance", fiat_account("firm-eur", "nordbank-ag", "EUR", FiatAccountClass::Firm, "CH56 0483 5012 3456 7800 9"));
    s.accept("ops", instruction("stake-1", "alice", eth.clone(), Purpose::Staking, Beneficiary::Client, 5 * ETH_UNIT, at(30 * DAY), true));
    s.accept(
        "ops",
        instruction("lend-1", "bob", usdc.clone(), Purpose::Lending, Beneficiary::Client, 1_000 * USDC_UNIT, at(10 * DAY), false),
    );
    s.accept(
        "ops",
        instruction("coll-1", "carol", eth.clone(), Purpose::Collateral, Beneficiary::Client, 2 * ETH_UNIT, at(60 * DAY), true),
    );

    // ----- Movements before the chain is watched: no legs.
    s.accept("ops", deposit("dep-alice-hot", "alice", "omni-hot", &eth, 2 * ETH_UNIT));
    s.accept("ops", deposit("dep-alice-cold", "alice", "omni-cold", &eth, 8 * ETH_UNIT));
    s.accept("ops", deposit("dep-bob-usdc", "bob", "omni-hot", &usdc, 2_500 * USDC_UNIT));
    s.accept("ops", deposit("dep-carol-hot", "carol", "carol-hot", &eth, 3 * ETH_UNIT));
    s.accept("ops", deposit("dep-carol-cold", "carol", "carol-cold", &eth, ETH_UNIT));
    s.accept("ops", deposit("dep-dave-btc", "dave", "dave-btc", &btc, 5 * BTC_UNIT / 10));
    s.accept("ops", deposit("dep-alice-btc", "alice", "omni-btc", &btc, BTC_UNIT / 10));
    s.accept("ops", deposit("dep-bob-offshore", "bob", "omni-offshore", &eth, ETH_UNIT));
    s.accept("ops", deposit("dep-bob-nord", "bob", "omni-nord", &eth, ETH_UNIT / 2));
    s.accept("treasury", movement(build::firm_funding(key("fund-vault"), &wid("firm-vault"), &eth, amount(10 * ETH_UNIT))));
    s.accept("treasury", movement(build::firm_funding(key("fund-btc"), &wid("firm-btc"), &btc, amount(BTC_UNIT))));
    // Back-dated: effective 30 hours before it was recorded.
    let late = at(s.hour - 30);
    s.accept_as("ops", None, Some(late), deposit("dep-bob-late", "bob", "omni-cold", &eth, 2 * ETH_UNIT));

    // ----- The chain is watched: in-house holding postings on it become legs.
    s.accept("ops", Action::WatchChain { chain: CHAIN.into(), from_block: WATCH_FROM });
    s.accept("ops", movement(build::transfer(key("tr-alice-bob"), &cid("alice"), &cid("bob"), None, &eth, amount(ETH_UNIT / 10))));
    s.accept(
        "ops",
        movement(build::transfer(
            key("tr-carol-alice"),
            &cid("carol"),
            &cid("alice"),
            Some((&wid("carol-hot"), &wid("omni-hot"))),
            &eth,
            amount(ETH_UNIT / 2),
        )),
    );
    s.accept(
        "ops",
        movement(build::fee(key("fee-alice"), &cid("alice"), &wid("omni-hot"), &wid("firm-hot"), &eth, amount(ETH_UNIT / 100))),
    );
    s.accept("ops", movement(build::rebalance(key("reb-hot-cold"), &wid("omni-hot"), &wid("omni-cold"), &eth, amount(ETH_UNIT / 2))));
    // The firm takes its fee income out: a firm withdrawal debiting FeeIncome.
    s.accept(
        "treasury",
        movement(Movement {
            key: key("draw-fees"),
            kind: MovementKind::FirmWithdrawal,
            postings: vec![
                Posting {
                    side: Side::Debit,
                    account: Account::Own(OwnAccount::FeeIncome),
                    asset: eth.clone(),
                    amount: amount(ETH_UNIT / 200),
                },
                Posting {
                    side: Side::Credit,
                    account: Account::Holding(wid("firm-hot")),
                    asset: eth.clone(),
                    amount: amount(ETH_UNIT / 200),
                },
            ],
            corrects: None,
        }),
    );
    s.accept("treasury", movement(build::firm_withdrawal(key("draw-capital"), &wid("firm-vault"), &eth, amount(ETH_UNIT))));
    s.accept("ops", withdrawal("wd-alice-small", "alice", "omni-hot", &eth, 3 * ETH_UNIT / 10));
    let typo = build::deposit(key("dep-typo"), &cid("alice"), &wid("omni-hot"), &eth, amount(999));
    s.accept("ops", movement(typo.clone()));
    s.accept("ops", movement(build::correction(key("fix-typo"), key("dep-typo"), &typo.postings)));

    // ----- Observations: links in either order, a reorganisation, an empty step.
    let outside = evm(0xe1);
    let omni_hot = Address::parse("eip155:1:0xab16a96d359ec26a11e2c2b3d8f8b8942d5bfcdb").unwrap();
    s.accept(
        "ingest",
        observe(
            WATCH_FROM..=REORG_AT,
            0,
            None,
            vec![
                transfer(WATCH_FROM + 1, 0x61, None, eth.clone(), evm(0xc1), omni_hot.clone(), ETH_UNIT / 2),
                transfer(WATCH_FROM + 1, 0x64, None, eth.clone(), outside.clone(), omni_hot.clone(), 123),
                transfer(REORG_AT, 0x62, None, eth.clone(), omni_hot.clone(), evm(0xf1), ETH_UNIT / 100),
                transfer(REORG_AT, 0x63, Some(7), usdc.clone(), outside.clone(), omni_hot.clone(), 7 * USDC_UNIT),
            ],
        ),
    );
    // Recorded after its transfer was seen: links at once.
    s.accept("ops", deposit("dep-bob-usdc-2", "bob", "omni-hot", &usdc, 7 * USDC_UNIT));
    s.accept(
        "ingest",
        observe(
            WATCH_FROM + 1..=REORG_AT + 1,
            1,
            Some(REORG_AT),
            vec![
                transfer(REORG_AT + 1, 0x62, None, eth.clone(), omni_hot.clone(), evm(0xf1), ETH_UNIT / 100),
                transfer(REORG_AT + 1, 0x63, Some(2), usdc.clone(), outside.clone(), omni_hot, 7 * USDC_UNIT),
            ],
        ),
    );
    // A step that read nothing new.
    s.accept(
        "ingest",
        Action::ObserveChain(ChainObservation { chain: CHAIN.into(), orphaned_from: None, tracked: Vec::new(), transfers: Vec::new() }),
    );

    // ----- Reconciliation runs: every kind of break, every kind of source.
    let run_hour = s.hour;
    let chain_source = RunSource::Chain { chain: CHAIN.into(), block: block(REORG_AT + 1, 1) };
    let breaks = vec![
        found(
            ExceptionKind::WalletDifference,
            Severity::Critical,
            "wallet:omni-hot/asset:eip155:1/slip44:60",
            "the chain holds 123 wei more",
        ),
        found(ExceptionKind::CoverageShortfall, Severity::Critical, "coverage:run-1:usdc", "client-class wallets hold less USDC than owed"),
        found(ExceptionKind::CoverageSurplus, Severity::Warning, "coverage:run-1:eth", "client-class wallets hold more ETH than owed"),
        found(ExceptionKind::ClientDifference, Severity::Critical, "client:carol/asset:eip155:1/slip44:60", "carol's wallets differ"),
        found(ExceptionKind::NotObserved, Severity::Warning, "wallet:omni-btc", "the bitcoin node was unavailable"),
        found(ExceptionKind::Unregistered, Severity::Warning, "address:eip155:1:0xe1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1", ""),
        found(
            ExceptionKind::UnmatchedInflow,
            Severity::Warning,
            "transfer:0x64:native:in",
            "123 wei into omni-hot that no movement explains",
        ),
        found(ExceptionKind::UnmatchedOutflow, Severity::Critical, "transfer:0x65:native:out", "a transfer out of omni-hot"),
        found(ExceptionKind::Unconfirmed, Severity::Warning, "movement:wd-alice-small", "not seen on chain within 2 hours"),
        found(ExceptionKind::ColdFloor, Severity::Warning, "run-1:cold-floor", "the cold share is below its floor"),
        found(ExceptionKind::AuthorisationLapsing, Severity::Warning, "run-1:lapsing", "a review date is near"),
        found(ExceptionKind::AuthorisationLapsed, Severity::Critical, "run-1:lapsed", "an authorisation lapsed"),
        found(ExceptionKind::EncumbranceLapsed, Severity::Critical, "run-1:encumbrance", "encumbered under a lapsed instruction"),
        found(ExceptionKind::FiatUnplaced, Severity::Critical, "run-1:fiat", "client fiat not placed in time"),
    ];
    s.accept(
        "recon",
        Action::RecordReconRun(ReconRun {
            cut_off: at(run_hour - 1),
            sources: vec![
                chain_source.clone(),
                RunSource::Unavailable { chain: BTC_CHAIN.into(), reason: "node unreachable: connection refused".into() },
                RunSource::Statement {
                    sub_custodian: sid("casp-one"),
                    reference: "STMT-2026-01-03".into(),
                    file: "casp-one-2026-01-03.csv".into(),
                    sha256: [0x5a; 32],
                    rows: 3,
                },
            ],
            checked: 20,
            matched: 6,
            report_sha256: [0x42; 32],
            breaks,
        }),
    );
    // The next run sees exception 1's subject again; the third is clean.
    s.accept(
        "recon",
        Action::RecordReconRun(ReconRun {
            cut_off: at(s.hour - 1),
            sources: vec![chain_source.clone()],
            checked: 5,
            matched: 4,
            report_sha256: [0x43; 32],
            breaks: vec![found(
                ExceptionKind::WalletDifference,
                Severity::Critical,
                "wallet:omni-hot/asset:eip155:1/slip44:60",
                "the chain holds 123 wei more",
            )],
        }),
    );
    s.accept(
        "recon",
        Action::RecordReconRun(ReconRun {
            cut_off: at(s.hour - 1),
            sources: vec![chain_source],
            checked: 5,
            matched: 5,
            report_sha256: [0x44; 32],
            breaks: Vec::new(),
        }),
    );
    s.accept("ann", Action::InvestigateException { id: 1 });
    s.accept(
        "ann",
        Action::ProposeResolution {
            id: 1,
            reason: "dust sent by a third party".into(),
            resolution: Resolution::Explanation("123 wei of unsolicited dust; no client is owed it".into()),
        },
    );
    s.accept("bob-reviewer", Action::RejectResolution { id: 1, reason: "record the dust as firm income instead".into() });
    s.accept(
        "ann",
        Action::ProposeResolution {
            id: 1,
            reason: "the USDC inflow was bob's deposit".into(),
            resolution: Resolution::Movement(key("dep-bob-usdc-2")),
        },
    );
    s.accept("bob-reviewer", Action::ApproveResolution { id: 1 });
    s.accept("ann", Action::InvestigateException { id: 2 });
    s.wait_until(s.hour.max(run_hour + 4));
    s.accept("ringfence", Action::EscalateException { id: 3 });

    // ----- Four-eyes: pending instructions approved, rejected, expired; two approvers.
    s.accept("compliance", approval_policy(1, 48, Vec::new()));
    let unused_hour = s.hour;
    let unused = s.propose("ops", key_set("ks-unused", KeyScheme::Hsm, &["hsm-c"], ClassKind::Firm));
    s.approved("compliance", "approver-1", approval_policy(1, 48, vec![(eth.clone(), amount(ETH_UNIT))]));
    s.approved("ops", "approver-1", withdrawal("wd-alice-big", "alice", "omni-cold", &eth, 2 * ETH_UNIT));
    let rejected = s.propose("ops", withdrawal("wd-bob-big", "bob", "omni-cold", &eth, 3 * ETH_UNIT / 2));
    s.accept("approver-1", Action::RejectPending { id: rejected, reason: "the client withdrew the request by phone (ticket 4711)".into() });
    s.approved(
        "ops",
        "approver-2",
        key_set("ks-omnibus-2", KeyScheme::Mpc { threshold: 3 }, &["m1", "m2", "m3", "m4"], ClassKind::ClientOmnibus),
    );
    s.approved(
        "compliance",
        "approver-1",
        sub_custodian("custody-four", "Custody Four SE", AuthorisationBasis::MicaCasp, "ESMA-CASP-0004", at(30 * DAY)),
    );
    let renewal = s.propose(
        "compliance",
        Action::UpdateSubCustodianAuthorisation { id: sid("offshore"), reference: "CIMA-77/renewal".into(), valid_until: at(400 * DAY) },
    );
    s.accept("approver-2", Action::RejectPending { id: renewal, reason: "the renewal is not evidenced".into() });
    s.approved(
        "ops",
        "approver-1",
        Action::ChangeWallet(wallet("spare", evm(0xa5), WalletClass::Firm, Tier::Hot, Custodian::InHouse, "ks-firm")),
    );
    s.approved("compliance", "approver-2", Action::SetExceptionPolicy(ExceptionPolicy { resolution_hours: 8, confirmation_hours: 4 }));
    s.approved(
        "compliance",
        "approver-1",
        safeguard(SafeguardAction::SetPolicy(SafeguardingPolicy {
            own_account_use: OwnAccountUse::ExpressConsent,
            cold_floor_bp: 7_500,
            cold_floors: vec![(btc.clone(), 5_000), (eth.clone(), 7_000)],
            lapse_notice_days: 14,
            closing_days: vec![date("2026-01-07"), date("2026-12-31")],
            concentration_limit_bp: 4_000,
            ..SafeguardingPolicy::default()
        })),
    );
    s.approved(
        "ops",
        "approver-2",
        instruction("trade-1", "alice", eth.clone(), Purpose::Trading, Beneficiary::Firm, ETH_UNIT, at(45 * DAY), false),
    );
    s.approved(
        "compliance",
        "approver-1",
        safeguard(SafeguardAction::RecordRiskAssessment(RiskAssessment {
            id: AssessmentId::parse("ra-usdc-2026-01").unwrap(),
            asset: usdc.clone(),
            cold_floor_bp: 0,
            valid_until: at(8 * DAY),
            reason: "USDC float kept hot for one week of exchange settlement (risk file RA-2026-01)".into(),
        })),
    );
    s.approved("compliance", "approver-2", institution("bcl", "Banque centrale du Luxembourg", InstitutionKind::CentralBank, "BCLXLULL"));
    s.approved(
        "compliance",
        "approver-1",
        fiat_account("client-usd", "bcl", "USD", FiatAccountClass::ClientFunds, "LU28 0019 4006 4475 0000"),
    );
    s.approved(
        "compliance",
        "approver-1",
        approval_policy(2, 24, vec![(usdc.clone(), amount(1_000 * USDC_UNIT)), (eth.clone(), amount(ETH_UNIT))]),
    );
    let big = s.propose("ops", withdrawal("wd-alice-big-2", "alice", "omni-cold", &eth, 3 * ETH_UNIT / 2));
    s.accept("approver-1", Action::ApprovePending { id: big });
    assert_eq!(s.register.pending(big).unwrap().state, PendingState::Open, "one approval of two");
    let applied = s.accept("approver-2", Action::ApprovePending { id: big });
    assert_eq!(s.register.pending(big).unwrap().state, PendingState::Applied { seq: applied });

    // ----- Safeguarding: encumbrance, a reward, revocation, client fiat funds.
    s.accept("ops", encumber("enc-stake-1", "stake-1", 3 * ETH_UNIT));
    let mut reward = build::deposit(key("reward-stake-1"), &cid("alice"), &wid("omni-cold"), &eth, amount(ETH_UNIT / 100));
    reward.kind = MovementKind::Reward;
    s.accept_as("staking", Some("stake-1"), None, movement(reward));
    s.accept("ops", release("rel-stake-1", "stake-1", ETH_UNIT));
    s.accept("ops", encumber("enc-lend-1", "lend-1", 1_000 * USDC_UNIT));
    s.accept("ops", encumber("enc-coll-1", "coll-1", ETH_UNIT));
    s.accept("client-portal", safeguard(SafeguardAction::RevokeInstruction { id: iid("stake-1") }));
    // Tuesday 6 January 2026, 09:00: Wednesday the 7th is a closing day of the policy, so the
    // receipt must be placed by the end of Thursday the 8th.
    s.wait_until(5 * DAY + 9);
    s.accept("ops", receive("rcpt-alice-1", "alice", "EUR", 250_000));
    s.accept("ops", place("pl-alice-1", "rcpt-alice-1", "client-eur", 100_000));
    s.accept("ops", receive("rcpt-bob-1", "bob", "USD", 50_000));
    s.accept("ops", place("pl-bob-1", "rcpt-bob-1", "client-usd", 50_000));
    s.wait_until(s.hour.max(unused_hour + 48));
    s.accept("ringfence", Action::ExpirePending { id: unused });

    // ----- Day 21: the offshore authorisation lapsed with bob's ETH there, custody-four's is
    // within its notice, stake-1 was revoked and lend-1 expired with assets encumbered, alice's
    // receipt is half placed after its deadline, and the USDC assessment expired.
    s.wait_until(21 * DAY);
    s.accept("ringfence", safeguard(SafeguardAction::Check));
    let opened: Vec<ExceptionKind> = s.register.exceptions().iter().skip(14).map(|exception| exception.kind).collect();
    for kind in [
        ExceptionKind::AuthorisationLapsed,
        ExceptionKind::AuthorisationLapsing,
        ExceptionKind::EncumbranceLapsed,
        ExceptionKind::FiatUnplaced,
        ExceptionKind::ColdFloor,
    ] {
        assert!(opened.contains(&kind), "the day-21 check opens {kind:?}: {opened:?}");
    }
    s.accept("ops", place("pl-alice-2", "rcpt-alice-1", "client-eur", 150_000));
    s.accept(
        "ops",
        safeguard(SafeguardAction::WithdrawFiat(FiatWithdrawal {
            key: key("wf-alice-1"),
            client: cid("alice"),
            account: FiatAccountId::parse("client-eur").unwrap(),
            amount: amount(50_000),
        })),
    );
    s.accept("ops", release("rel-stake-2", "stake-1", 2 * ETH_UNIT));
    s.accept("ops", movement(build::rebalance(key("out-of-offshore"), &wid("omni-offshore"), &wid("omni-cold"), &eth, amount(ETH_UNIT))));
    s.accept("ops", deposit("dep-carol-late", "carol", "carol-hot", &eth, ETH_UNIT / 4));
    s
}

/// Version 2: journal v1, then what came after it was pinned. Issue 14: journal signing keys
/// registered and retired under the approval policy v1 leaves in force (two approvals).
fn generate_v2() -> Script {
    let mut s = generate_v1();
    let (first, second) = ([0x11; 32], [0x22; 32]);
    s.wait_until(s.hour + DAY);
    let key = |public_key, label: &str| Action::RegisterSigningKey(SigningKey { public_key, label: label.into() });
    let approvers = ["approver-1", "approver-2"];
    s.approved_by_two("ops", approvers, key(first, "writer on db-1"));
    s.approved_by_two("ops", approvers, key(second, "writer on db-2 (rotation)"));
    s.approved_by_two("ops", approvers, Action::RetireSigningKey { public_key: first });
    // Issue 15: a run whose node was unreachable records it as a break of its own, and placed
    // client funds above the concentration limit are one too.
    let btc_down = RunSource::Unavailable { chain: BTC_CHAIN.into(), reason: "node unreachable: connection refused".into() };
    s.accept(
        "recon",
        Action::RecordReconRun(ReconRun {
            cut_off: at(s.hour - 1),
            sources: vec![btc_down],
            checked: 2,
            matched: 0,
            report_sha256: [0x44; 32],
            breaks: vec![
                found(ExceptionKind::SourceUnavailable, Severity::Warning, &format!("source-unavailable:{BTC_CHAIN}"), "not reconciled"),
                found(ExceptionKind::FiatConcentration, Severity::Warning, "fiat-concentration:EUR:bank-1", "above the limit"),
            ],
        }),
    );
    // Client instructions that state their consent's kind (encoded with tag 12).
    for (id, beneficiary, consent) in
        [("consent-signed", Beneficiary::Firm, Consent::SeparateAgreement), ("consent-terms", Beneficiary::Client, Consent::GeneralTerms)]
    {
        let Action::Safeguard(SafeguardAction::RecordInstruction(mut recorded)) =
            instruction(id, "bob", eth(), Purpose::Lending, beneficiary, ETH_UNIT, at(60 * DAY), true)
        else {
            unreachable!("instruction() records an instruction")
        };
        recorded.consent = consent;
        recorded.valid_from = at(s.hour);
        s.approved_by_two("ops", ["approver-1", "approver-2"], safeguard(SafeguardAction::RecordInstruction(recorded)));
    }
    s
}

/// v2's entries, then issue 15's later additions, recorded from 2026-12-07 when its rules came
/// in: a safeguarding check under them (each cold-floor pool, institution reviews, the gap since
/// the last reconciliation run), a review of an institution, a policy stating the new fields
/// (encoded with tag 14), and a run whose breaks are of the two new exception kinds.
fn generate_v3() -> Script {
    let mut s = generate_v2();
    // ISSUE_15_RULES_FROM, 2026-12-07T00:00:00Z, is 340 days after T0.
    s.wait_until(340 * DAY);
    let approvers = ["approver-1", "approver-2"];
    // The last run was in January: the next was due long ago, and nordbank-ag's review (365
    // days after its registration) is not due yet.
    s.accept("ringfence", safeguard(SafeguardAction::Check));
    let review = SafeguardAction::ReviewInstitution {
        institution: InstitutionId::parse("nordbank-ag").unwrap(),
        evidence: "bank selection review 2026 (minutes BSR-2026-11)".into(),
    };
    s.approved_by_two("compliance", approvers, safeguard(review));
    let (policy, _) = s.register.safeguarding_policy();
    let policy = SafeguardingPolicy {
        cold_floor_categories: vec![ClientCategory::Retail, ClientCategory::Professional],
        recon_max_gap_hours: 50,
        institution_review_days: 180,
        ..policy
    };
    s.approved_by_two("compliance", approvers, safeguard(SafeguardAction::SetPolicy(policy)));
    s.accept(
        "recon",
        casp_one_run(
            at(s.hour - 1),
            "2026-12-07",
            [0x5b, 0x55],
            vec![
                found(
                    ExceptionKind::InstitutionReviewOverdue,
                    Severity::Warning,
                    "institution-review-overdue:nordbank-ag:1799193600000000",
                    "review due",
                ),
                found(ExceptionKind::ReconciliationOverdue, Severity::Warning, "reconciliation-overdue:1769990400000000", "no run"),
            ],
        ),
    );
    s
}

/// A reconciliation run against casp-one's statement of `day` (one row, matched), with the
/// statement's and the report's hash bytes and these breaks.
fn casp_one_run(cut_off: Timestamp, day: &str, [statement, report]: [u8; 2], breaks: Vec<Break>) -> Action {
    Action::RecordReconRun(ReconRun {
        cut_off,
        sources: vec![RunSource::Statement {
            sub_custodian: sid("casp-one"),
            reference: format!("STMT-{day}"),
            file: format!("casp-one-{day}.csv"),
            sha256: [statement; 32],
            rows: 1,
        }],
        checked: 1,
        matched: 1,
        report_sha256: [report; 32],
        breaks,
    })
}

/// journal-v4: v3, then issue 17's price register: prices of ETH and BTC in EUR from two
/// sources (one given for an instant before it was recorded), and one of USDC in JPY (a
/// currency without a minor unit); then a statement of position issued to alice for January.
fn generate_v4() -> Script {
    let mut s = generate_v3();
    let eur = Currency::parse("EUR").unwrap();
    let price = |asset: AssetId, currency: Currency, units: u128, scale: u8, source: &str| {
        Action::RecordPrice(Price { asset, currency, units, scale, source: source.into() })
    };
    let now = at(s.hour);
    s.accept_as("ops", None, Some(at(s.hour - 2)), price(eth(), eur, 301_245, 2, "ecb-reference"));
    s.accept_as("ops", None, Some(now), price(eth(), eur, 30_125, 1, "kraken-close"));
    s.accept("compliance", price(btc(), eur, 8_512_345_678, 2, "kraken-close"));
    s.accept("ops", price(usdc(), Currency::parse("JPY").unwrap(), 14_512, 2, "mufg-ttm"));
    let as_of = s.entries.len() as u64;
    let issue = StatementIssue { client: cid("alice"), from: at(0), to: at(31 * DAY - 1), as_of, sha256: [0x17; 32] };
    s.accept("compliance", Action::RecordStatement(issue));
    // ISSUE_17_RULES_FROM, 2026-12-08T00:00:00Z, is 341 days after T0: a policy stating the
    // statement interval (tag 15), then a check 40 days later finds clients holding assets with
    // no statement within 35 days.
    let (policy, _) = s.register.safeguarding_policy();
    let policy = SafeguardingPolicy { statement_interval_days: 35, ..policy };
    s.approved_by_two("compliance", ["approver-1", "approver-2"], safeguard(SafeguardAction::SetPolicy(policy)));
    s.wait_until(381 * DAY);
    s.accept("ringfence", safeguard(SafeguardAction::Check));
    // A run whose break is of the new kind, so its tag is pinned.
    s.accept(
        "recon",
        casp_one_run(
            at(s.hour - 1),
            "2027-01-17",
            [0x5c, 0x56],
            vec![found(ExceptionKind::StatementOverdue, Severity::Warning, "statement-overdue:golden", "statements due")],
        ),
    );
    s
}

/// journal-v5: v4, then issue 18's loss and compensation: half an ETH of alice's lost from
/// the omnibus hot wallet (four-eyes gated), then made good by the firm from its vault; and an
/// insolvency pack recorded.
fn generate_v5() -> Script {
    let mut s = generate_v4();
    let half = amount(ETH_UNIT / 2);
    s.approved_by_two(
        "ops",
        ["approver-1", "approver-2"],
        movement(build::loss(key("loss-alice"), &cid("alice"), &wid("omni-hot"), &eth(), half)),
    );
    s.accept(
        "treasury",
        movement(build::compensation(key("comp-alice"), &cid("alice"), &wid("omni-hot"), &wid("firm-vault"), &eth(), half)),
    );
    let as_of = s.entries.len() as u64;
    s.accept("compliance", Action::RecordPack(PackIssue { at: at(s.hour - 1), as_of, sha256: [0x18; 32] }));
    s
}

// ----- coverage --------------------------------------------------------------------------

/// Declares [`Coverage`]: one flag per variant that the golden journals must contain.
macro_rules! coverage {
    ($($field:ident),* $(,)?) => {
        /// Which variants the decoded entries contain. Set only by [`cover`], whose matches have
        /// no wildcard: a new variant does not compile until it has a flag here.
        #[derive(Debug, Default)]
        struct Coverage {
            $($field: bool,)*
        }

        impl Coverage {
            fn missing(&self) -> Vec<&'static str> {
                let mut missing = Vec::new();
                $(if !self.$field {
                    missing.push(stringify!($field));
                })*
                missing
            }
        }
    };
}

coverage! {
    // Action
    register_asset, register_client, register_sub_custodian, update_sub_custodian_authorisation, register_key_set,
    register_wallet, movement, register_api_token, revoke_api_token, set_approval_policy, approve_pending, reject_pending,
    expire_pending, change_wallet, watch_chain, observe_chain, record_recon_run, set_exception_policy, investigate_exception,
    propose_resolution, approve_resolution, reject_resolution, escalate_exception, safeguard,
    register_signing_key, retire_signing_key, record_price, record_statement, record_pack,
    // SafeguardAction
    set_safeguarding_policy, record_instruction, revoke_instruction, encumber, release, record_risk_assessment,
    register_institution, register_fiat_account, receive_fiat, place_fiat, withdraw_fiat, check, review_institution,
    // ClientCategory, Segregation, AuthorisationBasis
    retail, professional, individual, omnibus,
    mica_casp, crr_credit_institution, art60_entity, third_country_equivalent,
    // KeyScheme, ClassKind, WalletClass, Tier, Custodian
    multisig, mpc, hsm, class_client_individual, class_client_omnibus, class_firm,
    wallet_client_individual, wallet_client_omnibus, wallet_firm, hot, cold, in_house, at_sub_custodian,
    // MovementKind, the correction target, Side, Account, OwnAccount
    deposit, withdrawal, transfer, fee, rebalance, firm_funding, firm_withdrawal, correction, reward, loss, compensation,
    corrects_none, corrects_some, debit, credit, position, holding, own, capital, fee_income,
    // Role and the token's optional fields
    operator, approver, compliance, auditor, client_role,
    token_client_none, token_client_some, token_expiry_none, token_expiry_some,
    // ApprovalPolicy
    thresholds_none, thresholds_listed,
    // ChainObservation
    orphaned_none, orphaned_some, tracked_none, tracked_listed, transfers_none, transfers_listed, log_index_none, log_index_some,
    // ReconRun: RunSource, ExceptionKind, Severity
    source_chain, source_unavailable, source_statement, breaks_none, breaks_listed,
    wallet_difference, coverage_shortfall, coverage_surplus, client_difference, not_observed, unregistered,
    unmatched_inflow, unmatched_outflow, unconfirmed, cold_floor, authorisation_lapsing, authorisation_lapsed,
    encumbrance_lapsed, fiat_unplaced, unavailable_source, fiat_concentration, institution_review_overdue, reconciliation_overdue, statement_overdue,
    warning, critical,
    // Resolution
    resolution_movement, resolution_explanation,
    // SafeguardingPolicy: OwnAccountUse and its lists
    forbidden, express_consent, cold_floors_none, cold_floors_listed, closing_days_none, closing_days_listed,
    policy_issue_15_default, policy_issue_15_stated, policy_issue_17_stated,
    // ClientInstruction: Purpose, Beneficiary, revocable
    staking, lending, collateral, trading, beneficiary_client, beneficiary_firm, revocable, irrevocable,
    consent_unstated, consent_separate_agreement, consent_general_terms,
    // InstitutionKind, FiatAccountClass
    credit_institution, central_bank, client_funds, firm_account,
}

/// Marks what `command` contains. No wildcard arm anywhere: adding a variant to any enum the
/// codec encodes stops this from compiling until the variant has a flag (and then a golden
/// entry, appended in a new fixture version; journal-v1 is never rewritten).
fn cover(seen: &mut Coverage, command: &Command) {
    match &command.action {
        Action::RegisterAsset(_) => seen.register_asset = true,
        Action::RegisterClient(client) => {
            seen.register_client = true;
            match client.category {
                ClientCategory::Retail => seen.retail = true,
                ClientCategory::Professional => seen.professional = true,
            }
            match client.segregation {
                Segregation::Individual => seen.individual = true,
                Segregation::Omnibus => seen.omnibus = true,
            }
        }
        Action::RegisterSubCustodian(sub) => {
            seen.register_sub_custodian = true;
            match sub.basis {
                AuthorisationBasis::MicaCasp => seen.mica_casp = true,
                AuthorisationBasis::CrrCreditInstitution => seen.crr_credit_institution = true,
                AuthorisationBasis::Art60Entity => seen.art60_entity = true,
                AuthorisationBasis::ThirdCountryEquivalent => seen.third_country_equivalent = true,
            }
        }
        Action::UpdateSubCustodianAuthorisation { .. } => seen.update_sub_custodian_authorisation = true,
        Action::RegisterKeySet(key_set) => {
            seen.register_key_set = true;
            match key_set.scheme {
                KeyScheme::Multisig { .. } => seen.multisig = true,
                KeyScheme::Mpc { .. } => seen.mpc = true,
                KeyScheme::Hsm => seen.hsm = true,
            }
            match key_set.class {
                ClassKind::ClientIndividual => seen.class_client_individual = true,
                ClassKind::ClientOmnibus => seen.class_client_omnibus = true,
                ClassKind::Firm => seen.class_firm = true,
            }
        }
        Action::RegisterWallet(wallet) => {
            seen.register_wallet = true;
            cover_wallet(seen, wallet);
        }
        Action::ChangeWallet(wallet) => {
            seen.change_wallet = true;
            cover_wallet(seen, wallet);
        }
        Action::Movement(movement) => {
            seen.movement = true;
            cover_movement(seen, movement);
        }
        Action::RegisterApiToken(token) => {
            seen.register_api_token = true;
            for role in &token.roles {
                match role {
                    Role::Operator => seen.operator = true,
                    Role::Approver => seen.approver = true,
                    Role::Compliance => seen.compliance = true,
                    Role::Auditor => seen.auditor = true,
                    Role::Client => seen.client_role = true,
                }
            }
            match token.client {
                None => seen.token_client_none = true,
                Some(_) => seen.token_client_some = true,
            }
            match token.expires_at {
                None => seen.token_expiry_none = true,
                Some(_) => seen.token_expiry_some = true,
            }
        }
        Action::RevokeApiToken { .. } => seen.revoke_api_token = true,
        Action::SetApprovalPolicy(policy) => {
            seen.set_approval_policy = true;
            if policy.withdrawal_thresholds.is_empty() {
                seen.thresholds_none = true;
            } else {
                seen.thresholds_listed = true;
            }
        }
        Action::ApprovePending { .. } => seen.approve_pending = true,
        Action::RejectPending { .. } => seen.reject_pending = true,
        Action::ExpirePending { .. } => seen.expire_pending = true,
        Action::WatchChain { .. } => seen.watch_chain = true,
        Action::ObserveChain(observation) => {
            seen.observe_chain = true;
            match observation.orphaned_from {
                None => seen.orphaned_none = true,
                Some(_) => seen.orphaned_some = true,
            }
            if observation.tracked.is_empty() {
                seen.tracked_none = true;
            } else {
                seen.tracked_listed = true;
            }
            if observation.transfers.is_empty() {
                seen.transfers_none = true;
            } else {
                seen.transfers_listed = true;
            }
            for transfer in &observation.transfers {
                match transfer.log_index {
                    None => seen.log_index_none = true,
                    Some(_) => seen.log_index_some = true,
                }
            }
        }
        Action::RecordReconRun(run) => {
            seen.record_recon_run = true;
            cover_run(seen, run);
        }
        Action::SetExceptionPolicy(_) => seen.set_exception_policy = true,
        Action::InvestigateException { .. } => seen.investigate_exception = true,
        Action::ProposeResolution { resolution, .. } => {
            seen.propose_resolution = true;
            match resolution {
                Resolution::Movement(_) => seen.resolution_movement = true,
                Resolution::Explanation(_) => seen.resolution_explanation = true,
            }
        }
        Action::ApproveResolution { .. } => seen.approve_resolution = true,
        Action::RejectResolution { .. } => seen.reject_resolution = true,
        Action::EscalateException { .. } => seen.escalate_exception = true,
        Action::Safeguard(action) => {
            seen.safeguard = true;
            cover_safeguard(seen, action);
        }
        Action::RegisterSigningKey(_) => seen.register_signing_key = true,
        Action::RetireSigningKey { .. } => seen.retire_signing_key = true,
        Action::RecordPrice(_) => seen.record_price = true,
        Action::RecordStatement(_) => seen.record_statement = true,
        Action::RecordPack(_) => seen.record_pack = true,
    }
}

fn cover_wallet(seen: &mut Coverage, wallet: &Wallet) {
    match wallet.class {
        WalletClass::ClientIndividual(_) => seen.wallet_client_individual = true,
        WalletClass::ClientOmnibus => seen.wallet_client_omnibus = true,
        WalletClass::Firm => seen.wallet_firm = true,
    }
    match wallet.tier {
        Tier::Hot => seen.hot = true,
        Tier::Cold => seen.cold = true,
    }
    match wallet.custodian {
        Custodian::InHouse => seen.in_house = true,
        Custodian::SubCustodian(_) => seen.at_sub_custodian = true,
    }
}

fn cover_movement(seen: &mut Coverage, movement: &Movement) {
    match movement.kind {
        MovementKind::Deposit => seen.deposit = true,
        MovementKind::Withdrawal => seen.withdrawal = true,
        MovementKind::Transfer => seen.transfer = true,
        MovementKind::Fee => seen.fee = true,
        MovementKind::Rebalance => seen.rebalance = true,
        MovementKind::FirmFunding => seen.firm_funding = true,
        MovementKind::FirmWithdrawal => seen.firm_withdrawal = true,
        MovementKind::Correction => seen.correction = true,
        MovementKind::Reward => seen.reward = true,
        MovementKind::Loss => seen.loss = true,
        MovementKind::Compensation => seen.compensation = true,
    }
    match movement.corrects {
        None => seen.corrects_none = true,
        Some(_) => seen.corrects_some = true,
    }
    for posting in &movement.postings {
        match posting.side {
            Side::Debit => seen.debit = true,
            Side::Credit => seen.credit = true,
        }
        match posting.account {
            Account::Position(_) => seen.position = true,
            Account::Holding(_) => seen.holding = true,
            Account::Own(own) => {
                seen.own = true;
                match own {
                    OwnAccount::Capital => seen.capital = true,
                    OwnAccount::FeeIncome => seen.fee_income = true,
                }
            }
        }
    }
}

fn cover_run(seen: &mut Coverage, run: &ReconRun) {
    for source in &run.sources {
        match source {
            RunSource::Chain { .. } => seen.source_chain = true,
            RunSource::Unavailable { .. } => seen.source_unavailable = true,
            RunSource::Statement { .. } => seen.source_statement = true,
        }
    }
    if run.breaks.is_empty() {
        seen.breaks_none = true;
    } else {
        seen.breaks_listed = true;
    }
    for found in &run.breaks {
        match found.kind {
            ExceptionKind::WalletDifference => seen.wallet_difference = true,
            ExceptionKind::CoverageShortfall => seen.coverage_shortfall = true,
            ExceptionKind::CoverageSurplus => seen.coverage_surplus = true,
            ExceptionKind::ClientDifference => seen.client_difference = true,
            ExceptionKind::NotObserved => seen.not_observed = true,
            ExceptionKind::Unregistered => seen.unregistered = true,
            ExceptionKind::UnmatchedInflow => seen.unmatched_inflow = true,
            ExceptionKind::UnmatchedOutflow => seen.unmatched_outflow = true,
            ExceptionKind::Unconfirmed => seen.unconfirmed = true,
            ExceptionKind::ColdFloor => seen.cold_floor = true,
            ExceptionKind::AuthorisationLapsing => seen.authorisation_lapsing = true,
            ExceptionKind::AuthorisationLapsed => seen.authorisation_lapsed = true,
            ExceptionKind::EncumbranceLapsed => seen.encumbrance_lapsed = true,
            ExceptionKind::FiatUnplaced => seen.fiat_unplaced = true,
            ExceptionKind::SourceUnavailable => seen.unavailable_source = true,
            ExceptionKind::FiatConcentration => seen.fiat_concentration = true,
            ExceptionKind::InstitutionReviewOverdue => seen.institution_review_overdue = true,
            ExceptionKind::ReconciliationOverdue => seen.reconciliation_overdue = true,
            ExceptionKind::StatementOverdue => seen.statement_overdue = true,
        }
        match found.severity {
            Severity::Warning => seen.warning = true,
            Severity::Critical => seen.critical = true,
        }
    }
}

fn cover_safeguard(seen: &mut Coverage, action: &SafeguardAction) {
    match action {
        SafeguardAction::SetPolicy(policy) => {
            seen.set_safeguarding_policy = true;
            match policy.own_account_use {
                OwnAccountUse::Forbidden => seen.forbidden = true,
                OwnAccountUse::ExpressConsent => seen.express_consent = true,
            }
            if policy.cold_floors.is_empty() {
                seen.cold_floors_none = true;
            } else {
                seen.cold_floors_listed = true;
            }
            if policy.closing_days.is_empty() {
                seen.closing_days_none = true;
            } else {
                seen.closing_days_listed = true;
            }
            if policy.states_issue_15_fields() {
                seen.policy_issue_15_stated = true;
            } else {
                seen.policy_issue_15_default = true;
            }
            if policy.states_issue_17_fields() {
                seen.policy_issue_17_stated = true;
            }
        }
        SafeguardAction::RecordInstruction(instruction) => {
            seen.record_instruction = true;
            match instruction.purpose {
                Purpose::Staking => seen.staking = true,
                Purpose::Lending => seen.lending = true,
                Purpose::Collateral => seen.collateral = true,
                Purpose::Trading => seen.trading = true,
            }
            match instruction.beneficiary {
                Beneficiary::Client => seen.beneficiary_client = true,
                Beneficiary::Firm => seen.beneficiary_firm = true,
            }
            match instruction.consent {
                Consent::Unstated => seen.consent_unstated = true,
                Consent::SeparateAgreement => seen.consent_separate_agreement = true,
                Consent::GeneralTerms => seen.consent_general_terms = true,
            }
            if instruction.revocable {
                seen.revocable = true;
            } else {
                seen.irrevocable = true;
            }
        }
        SafeguardAction::RevokeInstruction { .. } => seen.revoke_instruction = true,
        SafeguardAction::Encumber { .. } => seen.encumber = true,
        SafeguardAction::Release { .. } => seen.release = true,
        SafeguardAction::RecordRiskAssessment(_) => seen.record_risk_assessment = true,
        SafeguardAction::RegisterInstitution(institution) => {
            seen.register_institution = true;
            match institution.kind {
                InstitutionKind::CreditInstitution => seen.credit_institution = true,
                InstitutionKind::CentralBank => seen.central_bank = true,
            }
        }
        SafeguardAction::RegisterFiatAccount(account) => {
            seen.register_fiat_account = true;
            match account.class {
                FiatAccountClass::ClientFunds => seen.client_funds = true,
                FiatAccountClass::Firm => seen.firm_account = true,
            }
        }
        SafeguardAction::ReceiveFiat(_) => seen.receive_fiat = true,
        SafeguardAction::PlaceFiat(_) => seen.place_fiat = true,
        SafeguardAction::WithdrawFiat(_) => seen.withdraw_fiat = true,
        SafeguardAction::Check => seen.check = true,
        SafeguardAction::ReviewInstitution { .. } => seen.review_institution = true,
    }
}

// ----- what the fixtures hold ------------------------------------------------------------

/// `journal-vN.commands.txt`: each decoded entry's sequence number, recorded time and command.
fn describe(name: &str, entries: &[Entry]) -> String {
    let mut out = format!(
        "# ringfence golden {name}: the Debug text of each entry of {name}.hex as decoded \
         (seq, recorded_at, command). Written by crates/journal/tests/golden.rs; never edit.\n"
    );
    for entry in entries {
        writeln!(out, "{} {:?} {:?}", entry.seq, entry.recorded_at, entry.command).unwrap();
    }
    out
}

/// `journal-vN.state.txt`: the register after the journal, through its public getters, at
/// `now` (the last entry's recorded time). Every list is in registration or journal order,
/// which the register keeps; nothing here iterates a hash map.
fn fingerprint(name: &str, register: &Register, statuses: &[Status], now: Timestamp) -> String {
    let mut out = format!(
        "# ringfence golden {name}: the register after replaying {name}.hex, at the last entry's \
         recorded time. Written by crates/journal/tests/golden.rs; never edit.\n"
    );
    let o = &mut out;
    let later = Timestamp::from_micros(now.micros() + 365 * DAY * HOUR);
    writeln!(o, "seq {}", register.seq()).unwrap();
    writeln!(o, "now {now:?}").unwrap();
    writeln!(o, "latest_effective_at {:?}", register.latest_effective_at()).unwrap();
    writeln!(o, "movement_count {}", register.movement_count()).unwrap();

    writeln!(o, "\n## outcome of each entry").unwrap();
    for (index, status) in statuses.iter().enumerate() {
        writeln!(o, "{} {status}", index + 1).unwrap();
    }

    writeln!(o, "\n## assets").unwrap();
    let assets: Vec<Asset> = register.assets().cloned().collect();
    for asset in &assets {
        writeln!(o, "{asset:?}").unwrap();
    }
    writeln!(o, "\n## clients").unwrap();
    for client in register.clients() {
        writeln!(o, "{client:?}").unwrap();
    }
    writeln!(o, "\n## sub-custodians: authorisation now and a year later; client assets held").unwrap();
    for sub in register.sub_custodians() {
        writeln!(
            o,
            "{sub:?} now={} later={} holds={:?}",
            register.authorisation_status(sub, now),
            register.authorisation_status(sub, later),
            register.client_assets_at(&sub.id)
        )
        .unwrap();
    }
    writeln!(o, "\n## key sets and the wallets they control; signers on both sides").unwrap();
    let (access, shared) = register.access_separation();
    for entry in access {
        writeln!(o, "{:?} wallets={:?}", entry.key_set, entry.wallets).unwrap();
    }
    for signer in shared {
        writeln!(o, "shared {signer:?}").unwrap();
    }
    writeln!(o, "\n## wallets").unwrap();
    let wallets: Vec<Wallet> = register.wallets().cloned().collect();
    for wallet in &wallets {
        writeln!(o, "{wallet:?}").unwrap();
    }
    writeln!(o, "\n## API tokens: revocation; the fixed secret presented now").unwrap();
    for (token, revoked) in register.tokens() {
        let presented = ApiToken::presented(&token.id, &secret_of(token.id.as_str()));
        let result = register.authenticate(&presented, now).map(|live| live.id.clone());
        writeln!(o, "{token:?} revoked={revoked:?} authenticate={result:?}").unwrap();
    }

    if !register.signing_keys().is_empty() {
        writeln!(o, "\n## journal signing keys (printed only when there are any: journal-v1 has none)").unwrap();
        for record in register.signing_keys() {
            writeln!(o, "{record:?} may_sign_last_entry={}", record.may_sign(register.seq(), register.seq())).unwrap();
        }
    }

    writeln!(o, "\n## balances now, at T0 + 2 days and at T0 + 6 days (effective time); movements posting to it").unwrap();
    let mut accounts: Vec<(String, Account)> = Vec::new();
    for client in register.clients() {
        accounts.push((format!("position {}", client.id), Account::Position(client.id.clone())));
    }
    for wallet in &wallets {
        accounts.push((format!("holding {}", wallet.id), Account::Holding(wallet.id.clone())));
    }
    for own in [OwnAccount::Capital, OwnAccount::FeeIncome] {
        accounts.push((format!("own {own:?}"), Account::Own(own)));
    }
    for (name, account) in &accounts {
        writeln!(o, "{name}: balances={:?}", register.balances_of(account).unwrap()).unwrap();
        for asset in &assets {
            let balance = register.balance(account, &asset.id).unwrap();
            let earlier = [at(2 * DAY), at(6 * DAY)].map(|instant| register.balance_at(account, &asset.id, instant).unwrap().to_string());
            if !balance.is_zero() || earlier.iter().any(|net| net != "0") {
                writeln!(o, "  {}: now={balance} at_day_2={} at_day_6={}", asset.id, earlier[0], earlier[1]).unwrap();
            }
        }
        let seqs = register.movements_of(account, Timestamp::MIN, Timestamp::MAX, 10_000).unwrap();
        writeln!(o, "  movements={seqs:?}").unwrap();
    }
    writeln!(o, "\n## segregation summary").unwrap();
    for summary in register.summary() {
        writeln!(o, "{summary:?} segregated={}", summary.is_segregated()).unwrap();
    }

    writeln!(o, "\n## four-eyes: the policy, every pending instruction, those overdue now").unwrap();
    writeln!(o, "{:?}", register.approval_policy()).unwrap();
    for pending in register.pendings() {
        writeln!(o, "{pending:?}").unwrap();
    }
    writeln!(o, "overdue now={:?}", register.overdue(now)).unwrap();

    writeln!(o, "\n## oversight: the exception policy, chain watches, legs, runs, exceptions").unwrap();
    writeln!(o, "{:?}", register.exception_policy()).unwrap();
    for watch in register.chain_watches() {
        writeln!(o, "{watch:?} next_block={}", watch.next_block()).unwrap();
    }
    for leg in register.movement_legs() {
        writeln!(o, "movement leg {leg:?}").unwrap();
    }
    for leg in register.observed_legs() {
        writeln!(o, "observed leg {leg:?}").unwrap();
    }
    let unconfirmed: Vec<_> = register.unconfirmed_legs(now).map(|leg| (leg.seq, leg.posting)).collect();
    writeln!(o, "unconfirmed now={unconfirmed:?}").unwrap();
    let unmatched: Vec<_> = register.unmatched_legs().map(|leg| leg.transfer.to_string()).collect();
    writeln!(o, "unmatched={unmatched:?}").unwrap();
    for run in register.recon_runs() {
        writeln!(o, "{run:?} clean={}", run.run.is_clean()).unwrap();
    }
    for exception in register.exceptions() {
        writeln!(o, "{exception:?}").unwrap();
    }
    writeln!(o, "overdue exceptions now={:?}", register.overdue_exceptions(now)).unwrap();

    writeln!(o, "\n## safeguarding: policy, instructions, encumbrance, assessments, fiat, checks, breaches").unwrap();
    writeln!(o, "{:?}", register.safeguarding_policy()).unwrap();
    for record in register.client_instructions() {
        writeln!(o, "{record:?} live_now={:?}", record.live_at(now)).unwrap();
    }
    for client in register.clients() {
        for asset in &assets {
            let encumbered = register.encumbered(&client.id, &asset.id);
            if encumbered != 0 {
                writeln!(o, "encumbered {} {}={encumbered}", client.id, asset.id).unwrap();
            }
        }
    }
    for record in register.risk_assessments() {
        writeln!(o, "{record:?}").unwrap();
    }
    // The register names assets by index here: 0, 1, 2… in registration order.
    for (index, asset) in assets.iter().enumerate() {
        let covering = register.covering_assessment(u32::try_from(index).unwrap(), now).map(|record| &record.assessment.id);
        writeln!(o, "covering assessment of {} now={covering:?}", asset.id).unwrap();
    }
    for institution in register.institutions() {
        writeln!(o, "{institution:?}").unwrap();
    }
    for pool in register.cold_pools() {
        writeln!(
            o,
            "{pool:?} below_floor={} assessment_now={:?}",
            pool.below_floor(),
            register.assessment_for_pool(&pool, now).map(|r| &r.assessment.id)
        )
        .unwrap();
    }
    for review in register.institution_reviews() {
        writeln!(o, "{review:?}").unwrap();
    }
    writeln!(o, "reconciliation due {:?}", register.reconciliation_due()).unwrap();
    for record in register.fiat_accounts() {
        writeln!(o, "{record:?}").unwrap();
    }
    for record in register.fiat_receipts() {
        writeln!(o, "{record:?} unplaced={}", record.unplaced()).unwrap();
    }
    for (client, currency, owed) in register.fiat_positions() {
        writeln!(o, "fiat position {client} {currency}={owed}").unwrap();
    }
    for check in register.safeguard_checks() {
        writeln!(o, "{check:?}").unwrap();
    }
    for instant in [now, at(6 * DAY)] {
        writeln!(o, "placement deadline of a receipt at {instant:?}={:?}", register.placement_deadline(instant)).unwrap();
    }
    for found in register.safeguard_breaches(now) {
        writeln!(o, "breach now {found:?}").unwrap();
    }
    writeln!(o, "check due now={} later={}", register.safeguard_check_due(now), register.safeguard_check_due(later)).unwrap();

    for (client, issued) in register.issued_statements() {
        for statement in issued {
            writeln!(o, "statement of {client}: {statement:?}").unwrap();
        }
    }
    if register.price_series().next().is_some() {
        writeln!(o, "\n## prices (printed only when there are any: journal-v4 has the first); valuation now and a day later").unwrap();
        for (asset, currency, series) in register.price_series() {
            for record in series {
                writeln!(o, "{record:?}").unwrap();
            }
            for instant in [now, Timestamp::from_micros(now.micros() + DAY * HOUR)] {
                let price = register.price_at(asset, currency, instant, ringfence_core::price::MAX_AGE_DEFAULT_MICROS);
                let valued = price.map(|r| (r.seq, ringfence_core::price::value(10u128.pow(18) + 5, 18, &r.price)));
                writeln!(o, "{asset} in {currency} at {instant}: {valued:?}").unwrap();
            }
        }
    }
    out
}

// ----- reading and writing the fixtures --------------------------------------------------

fn fixture_path(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests").join("golden").join(file)
}

fn read(file: &str) -> String {
    let path = fixture_path(file);
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

fn blessing() -> bool {
    std::env::var(BLESS).is_ok_and(|value| value == "1")
}

/// The entry bodies of a `.hex` fixture, in order.
fn bodies(name: &str) -> Vec<Vec<u8>> {
    read(&format!("{name}.hex"))
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            assert!(line.len() % 2 == 0 && line.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')), "{name}.hex: not lowercase hex");
            (0..line.len()).step_by(2).map(|index| u8::from_str_radix(&line[index..index + 2], 16).unwrap()).collect()
        })
        .collect()
}

/// Seals the generated commands as the store would: the bodies of the golden chain.
fn seal(entries: &[(Command, Timestamp)]) -> (Vec<Vec<u8>>, Head) {
    let mut head = Head::EMPTY;
    let bodies = entries.iter().map(|(command, recorded_at)| head.seal(*recorded_at, command).body).collect();
    (bodies, head)
}

fn hex_file(name: &str, bodies: &[Vec<u8>]) -> String {
    let mut out = format!(
        "# ringfence golden {name}: journal format 1, one entry body per line in lowercase hex \
         (version | seq | recorded_at | prev_hash | command). Written by crates/journal/tests/golden.rs; \
         never edit: add the next version beside it.\n"
    );
    for body in bodies {
        writeln!(out, "{}", hex(body)).unwrap();
    }
    out
}

/// In bless mode, once per test run: writes the newest fixture (journal-v5) from its generator.
/// Older fixtures are committed and never rewritten (their generators must still write them:
/// see `generator_still_writes_*`).
fn bless_once() {
    static BLESSED: OnceLock<()> = OnceLock::new();
    BLESSED.get_or_init(|| {
        if !blessing() {
            return;
        }
        assert!(std::env::var_os("CI").is_none(), "{BLESS} is refused in CI: a pinned fixture is never rewritten there");
        let name = "journal-v5";
        let script = generate_v5();
        let (bodies, head) = seal(&script.entries);
        let entries: Vec<Entry> = bodies.iter().map(|body| decode(body).unwrap()).collect();
        let now = script.entries.last().unwrap().1;
        std::fs::create_dir_all(fixture_path("")).unwrap();
        std::fs::write(fixture_path(&format!("{name}.hex")), hex_file(name, &bodies)).unwrap();
        std::fs::write(fixture_path(&format!("{name}.commands.txt")), describe(name, &entries)).unwrap();
        std::fs::write(fixture_path(&format!("{name}.state.txt")), fingerprint(name, &script.register, &script.statuses, now)).unwrap();
        eprintln!("{BLESS}: wrote {name}.* with {} entries; pin HEAD_V5 = \"{}\"", bodies.len(), hex(&head.hash));
    });
}

/// The pinned head of a fixture.
fn pinned_head(name: &str) -> &'static str {
    match name {
        "journal-v1" => HEAD_V1,
        "journal-v2" => HEAD_V2,
        "journal-v3" => HEAD_V3,
        "journal-v4" => HEAD_V4,
        "journal-v5" => HEAD_V5,
        _ => panic!("{name} has no pinned head"),
    }
}

/// Verifies a fixture's chain independently of the journal crate (the layout, read by hand,
/// and SHA-256), then with `Verifier` as the store does, and decodes it.
fn verified(name: &str) -> Vec<Entry> {
    let bodies = bodies(name);
    assert!(!bodies.is_empty(), "{name}.hex has no entries");
    let mut previous = [0u8; 32];
    let mut verifier = Verifier::new();
    let mut entries = Vec::with_capacity(bodies.len());
    for (index, body) in bodies.iter().enumerate() {
        let expected_seq = index as u64 + 1;
        assert!(body.len() > 49, "{name}: entry {expected_seq} is shorter than its header");
        assert_eq!(body[0], 1, "{name}: entry {expected_seq} is not format version 1");
        let seq = u64::from_le_bytes(body[1..9].try_into().unwrap());
        let recorded_at = i64::from_le_bytes(body[9..17].try_into().unwrap());
        assert_eq!(seq, expected_seq, "{name}: sequence numbers are consecutive from 1");
        assert_eq!(body[17..49], previous, "{name}: entry {seq} chains to the previous entry's hash");
        let hash: [u8; 32] = Sha256::digest(body).into();
        let entry = verifier.check(seq, body, &hash).unwrap_or_else(|broken| panic!("{name}: {broken}"));
        assert_eq!((entry.seq, entry.recorded_at.micros(), entry.prev_hash), (seq, recorded_at, previous));
        assert_eq!(decode(body).unwrap(), entry);
        previous = hash;
        entries.push(entry);
    }
    if blessing() {
        eprintln!("{BLESS}: {name} ends at {} with head {} (pinned: {:?})", entries.len(), hex(&previous), pinned_head(name));
    } else {
        assert_eq!(hex(&previous), pinned_head(name), "{name}: the head hash differs from the pinned one");
        let head = Head { seq: entries.len() as u64, hash: previous };
        assert_eq!(verifier.finish(head), Ok(head));
    }
    entries
}

/// Compares a fixture text with what this build produces, line by line (so a checkout with
/// other line endings compares equal); on a difference, shows the first differing line around
/// its first differing character.
fn assert_same_text(file: &str, expected: &str, actual: &str) {
    let (mut pinned, mut now) = (expected.lines(), actual.lines());
    for line in 1.. {
        let (p, n) = match (pinned.next(), now.next()) {
            (None, None) => return,
            (Some(p), Some(n)) if p == n => continue,
            (p, n) => (p.unwrap_or("<end of file>"), n.unwrap_or("<end of file>")),
        };
        let column = p.chars().zip(n.chars()).take_while(|(a, b)| a == b).count();
        let window = |text: &str| -> String { text.chars().skip(column.saturating_sub(60)).take(160).collect() };
        panic!(
            "{file} differs from what this build produces, first at line {line}, character {}:\n  pinned: …{}\n  now:    …{}",
            column + 1,
            window(p),
            window(n)
        );
    }
}

// ----- the tests -------------------------------------------------------------------------

/// The pinned bytes verify, decode to the pinned commands, and replay into a fresh register
/// entry by entry (each journaled at its own sequence number) to the pinned state.
fn replays_to_the_same_state_and_head(name: &str) {
    bless_once();
    let entries = verified(name);
    assert_same_text(&format!("{name}.commands.txt"), &read(&format!("{name}.commands.txt")), &describe(name, &entries));
    let mut register = Register::new();
    let mut statuses = Vec::with_capacity(entries.len());
    for entry in &entries {
        let outcome = register.apply_at(&entry.command, entry.recorded_at).unwrap();
        assert!(outcome.status.is_journaled(), "entry {} is refused on replay ({}: {})", entry.seq, outcome.status, outcome.detail);
        assert_eq!(outcome.seq, Some(entry.seq), "entry {} replays at another sequence number", entry.seq);
        statuses.push(outcome.status);
    }
    register.audit().unwrap();
    let now = entries.last().unwrap().recorded_at;
    let state = fingerprint(name, &register, &statuses, now);
    if std::env::var(BLESS_STATE).is_ok_and(|value| value == "1") {
        assert!(std::env::var_os("CI").is_none(), "{BLESS_STATE} is refused in CI");
        std::fs::write(fixture_path(&format!("{name}.state.txt")), &state).unwrap();
        eprintln!("{BLESS_STATE}: re-pinned {name}.state.txt from the replay of the pinned bytes");
        return;
    }
    assert_same_text(&format!("{name}.state.txt"), &read(&format!("{name}.state.txt")), &state);
}

#[test]
fn golden_journal_v1_replays_to_the_same_state_and_head() {
    replays_to_the_same_state_and_head("journal-v1");
}

#[test]
fn golden_journal_v2_replays_to_the_same_state_and_head() {
    replays_to_the_same_state_and_head("journal-v2");
}

#[test]
fn golden_journal_v3_replays_to_the_same_state_and_head() {
    replays_to_the_same_state_and_head("journal-v3");
}

#[test]
fn golden_journal_v4_replays_to_the_same_state_and_head() {
    replays_to_the_same_state_and_head("journal-v4");
}

/// Today's encoder writes the decoded commands back to the very same bytes, and sealing them
/// again gives the same bodies and head. When FORMAT_VERSION moves on, this becomes a test of
/// the old encoding kept for the migration (or is limited to the command bytes); the fixture
/// stays as it is.
fn reencodes_byte_for_byte(name: &str) {
    bless_once();
    let bodies = bodies(name);
    let mut head = Head::EMPTY;
    for body in &bodies {
        let entry = decode(body).unwrap();
        let command = encode_command(&entry.command);
        assert_eq!(command.as_slice(), &body[49..], "{name} entry {}: the command re-encodes to other bytes", entry.seq);
        let mut resealed = Vec::new();
        let (seq, hash) = head.seal_encoded(entry.recorded_at, &command, &mut resealed);
        assert_eq!((seq, &resealed), (entry.seq, body), "{name} entry {}: sealing again gives another body", entry.seq);
        assert_eq!(hash, ringfence_journal::hash_of(body));
    }
    if !blessing() {
        assert_eq!(hex(&head.hash), pinned_head(name));
    }
}

#[test]
fn golden_journal_v1_reencodes_byte_for_byte() {
    reencodes_byte_for_byte("journal-v1");
}

#[test]
fn golden_journal_v2_reencodes_byte_for_byte() {
    reencodes_byte_for_byte("journal-v2");
}

#[test]
fn golden_journal_v3_reencodes_byte_for_byte() {
    reencodes_byte_for_byte("journal-v3");
}

#[test]
fn golden_journal_v4_reencodes_byte_for_byte() {
    reencodes_byte_for_byte("journal-v4");
}

/// The generator, run by today's code, still writes exactly the pinned journal, commands and
/// state. Unlike the tests above, this one may legitimately fail when the format or the rules
/// change on purpose: then the generator's output is a new fixture version (written beside
/// the others by a new `generate_vN`), and the old ones stay pinned by the replay tests.
fn generator_still_writes(name: &str, script: &Script) {
    bless_once();
    let (bodies, head) = seal(&script.entries);
    assert_same_text(&format!("{name}.hex"), &read(&format!("{name}.hex")), &hex_file(name, &bodies));
    let entries: Vec<Entry> = bodies.iter().map(|body| decode(body).unwrap()).collect();
    assert_same_text(&format!("{name}.commands.txt"), &read(&format!("{name}.commands.txt")), &describe(name, &entries));
    let now = script.entries.last().unwrap().1;
    let state = fingerprint(name, &script.register, &script.statuses, now);
    assert_same_text(&format!("{name}.state.txt"), &read(&format!("{name}.state.txt")), &state);
    if !blessing() {
        assert_eq!(hex(&head.hash), pinned_head(name));
    }
}

#[test]
fn generator_still_writes_journal_v1() {
    generator_still_writes("journal-v1", &generate_v1());
}

#[test]
fn generator_still_writes_journal_v2() {
    generator_still_writes("journal-v2", &generate_v2());
}

#[test]
fn generator_still_writes_journal_v3() {
    generator_still_writes("journal-v3", &generate_v3());
}

#[test]
fn generator_still_writes_journal_v4() {
    generator_still_writes("journal-v4", &generate_v4());
}

#[test]
fn generator_still_writes_journal_v5() {
    generator_still_writes("journal-v5", &generate_v5());
}

/// Every variant of `Action`, `SafeguardAction` and every enum the codec encodes is in some
/// golden journal, so each tag's meaning is pinned.
#[test]
fn golden_journals_cover_every_variant() {
    bless_once();
    let mut seen = Coverage::default();
    for name in FIXTURES {
        for body in bodies(name) {
            cover(&mut seen, &decode(&body).unwrap().command);
        }
    }
    assert_eq!(seen.missing(), Vec::<&str>::new(), "variants no golden journal contains; add them in a new fixture version");
}

/// Every action, and whether four-eyes control holds it back while an approval policy is in
/// force (with thresholds of 0, so any withdrawal counts): the table docs/four-eyes.md shows.
/// An action missing here fails the test by name, so a new one is not left undecided.
const GATED: &[(&str, bool)] = &[
    ("asset", false),
    ("client", false),
    ("wallet", false),
    ("key_set", true),
    ("sub_custodian", true),
    ("sub_custodian_authorisation", true),
    ("wallet_change", true),
    ("api_token", false),
    ("api_token_revocation", false),
    ("approval_policy", true),
    ("approve", false),
    ("reject", false),
    ("expire", false),
    ("deposit", false),
    ("withdrawal", true),
    ("transfer", false),
    ("fee", false),
    ("rebalance", false),
    ("firm_funding", false),
    ("firm_withdrawal", false),
    ("reward", false),
    ("loss", true),
    ("compensation", false),
    ("correction lowering a client position", true),
    ("correction not lowering a client position", false),
    ("chain_watch", false),
    ("chain_observation", false),
    ("recon_run", false),
    ("exception_policy", true),
    ("exception_investigate", false),
    ("exception_resolve", false),
    ("exception_approve", false),
    ("exception_reject", false),
    ("exception_escalate", false),
    ("safeguarding_policy", true),
    ("client_instruction", true),
    ("instruction_revocation", false),
    ("encumbrance", false),
    ("release", false),
    ("risk_assessment", true),
    ("institution", true),
    ("institution_review", true),
    ("fiat_account", true),
    ("fiat_receipt", false),
    ("fiat_placement", false),
    ("fiat_withdrawal", false),
    ("safeguarding_check", false),
    ("signing_key", true),
    ("signing_key_retirement", true),
    ("price", false),
    ("statement_issued", false),
    ("insolvency_pack", false),
];

#[test]
fn every_action_states_whether_four_eyes_control_holds_it_back() {
    let policy = ApprovalPolicy {
        approvals: 1,
        expiry_hours: 24,
        withdrawal_thresholds: {
            let mut thresholds = vec![(eth(), Amount::new(0)), (usdc(), Amount::new(0)), (btc(), Amount::new(0))];
            thresholds.sort();
            thresholds
        },
    };
    let mut seen = std::collections::BTreeMap::new();
    for entry in verified(FIXTURES[FIXTURES.len() - 1]) {
        let action = &entry.command.action;
        let label = match action {
            Action::Movement(movement) if movement.kind == MovementKind::Correction => {
                if movement.postings.iter().any(|p| p.side == Side::Debit && matches!(p.account, Account::Position(_))) {
                    "correction lowering a client position"
                } else {
                    "correction not lowering a client position"
                }
            }
            action => action.code(),
        };
        let expected = GATED.iter().find(|(name, _)| *name == label).unwrap_or_else(|| panic!("{label} is not in GATED: decide it"));
        assert_eq!(policy.gates(action).is_some(), expected.1, "{label}: {:?}", policy.gates(action));
        seen.insert(label, expected.1);
    }
    // The golden journal holds a correction of each kind except, possibly, one that raises a
    // position; every other action is in it.
    let missing: Vec<&str> = GATED.iter().map(|(name, _)| *name).filter(|name| !seen.contains_key(name)).collect();
    assert!(missing.iter().all(|name| *name == "correction not lowering a client position"), "not in the golden journal: {missing:?}");
}

/// A register checkpoint taken after any entry of the newest golden journal (which holds
/// every action) restores to the same register, and replaying the rest from it gives the same
/// outcomes and the same register as replaying the whole journal.
#[test]
fn a_checkpoint_after_any_golden_entry_plus_the_tail_equals_the_full_replay() {
    bless_once();
    let name = FIXTURES.last().unwrap();
    let entries: Vec<Entry> = bodies(name).iter().map(|body| decode(body).unwrap()).collect();
    let mut full = Register::new();
    let mut outcomes = Vec::with_capacity(entries.len());
    for entry in &entries {
        outcomes.push(full.apply_at(&entry.command, entry.recorded_at).unwrap());
    }
    let mut prefix = Register::new();
    for cut in 0..=entries.len() {
        if cut > 0 {
            let entry = &entries[cut - 1];
            prefix.apply_at(&entry.command, entry.recorded_at).unwrap();
        }
        let mut restored = Register::restore(&prefix.snapshot().unwrap()).unwrap_or_else(|why| panic!("{name} after {cut}: {why}"));
        assert!(restored == prefix, "{name}: the checkpoint after entry {cut} restores to another register");
        for (entry, expected) in entries[cut..].iter().zip(&outcomes[cut..]) {
            let outcome = restored.apply_at(&entry.command, entry.recorded_at).unwrap();
            assert_eq!(&outcome, expected, "{name}: entry {} decided otherwise after a checkpoint at {cut}", entry.seq);
        }
        assert!(restored == full, "{name}: checkpoint after {cut} + tail differs from the full replay");
    }
}

/// No single flipped bit in a checkpoint of the newest golden journal's register makes
/// restoring it panic, or passes as the same state (the store's SHA-256 refuses them first;
/// this is the second line).
#[test]
fn a_flipped_bit_in_a_golden_checkpoint_never_panics_and_never_passes_unnoticed() {
    bless_once();
    let name = FIXTURES.last().unwrap();
    let mut register = Register::new();
    for body in bodies(name) {
        let entry = decode(&body).unwrap();
        register.apply_at(&entry.command, entry.recorded_at).unwrap();
    }
    let bytes = register.snapshot().unwrap();
    for position in 0..bytes.len() {
        for bit in [0x01u8, 0x80] {
            let mut flipped = bytes.clone();
            flipped[position] ^= bit;
            if let Ok(restored) = Register::restore(&flipped) {
                assert!(restored != register, "{name}: bit {bit:#x} of byte {position} flipped restores the same state");
            }
        }
    }
}
