//! The register against a reference model, in the style of TigerBeetle's auditor: a
//! deliberately simple re-statement of the rules over plain maps predicts every command's
//! status and every balance, and random command sequences drive both and compare after each
//! batch. The model knows the estate only from the table below, never from the register.
//!
//! The model's rules, checked in `Status` order so that the first broken one is predicted:
//! idempotency, empty and oversized movements, zero amounts, unknown assets, clients and
//! wallets, correction targets, chains, balance per asset, what each kind may post, balance
//! per segregation segment (firm first), sub-custody, then u128 overflow (of the postings,
//! of any balance, and of an asset's client or firm total) and negative balances.

#![allow(clippy::unwrap_used, reason = "a fixture that does not parse should fail the test at once")]

use std::collections::BTreeMap;
use std::fmt::Write as _;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError};
use ringfence_core::{
    Account, Action, Actor, Address, Amount, Asset, AssetId, AuthorisationBasis, ClassKind, Client, ClientCategory, ClientId, Command,
    Custodian, IdempotencyKey, InstructionId, KeyScheme, KeySet, KeySetId, Meta, Movement, MovementKind, OwnAccount, POSTINGS_MAX, Posting,
    Register, Segregation, Side, Status, SubCustodian, SubCustodianId, Tier, Timestamp, Wallet, WalletClass, WalletId, build,
};

// ----- the estate -------------------------------------------------------------------------

const ETH_CHAIN: &str = "eip155:1";
const BTC_CHAIN: &str = "bip122:000000000019d6689c085ae165831e93";

/// (CAIP-19 id, chain, scale, symbol)
const ASSETS: &[(&str, &str, u8, &str)] = &[
    ("eip155:1/slip44:60", ETH_CHAIN, 18, "ETH"),
    ("eip155:1/erc20:0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48", ETH_CHAIN, 6, "USDC"),
    ("bip122:000000000019d6689c085ae165831e93/slip44:0", BTC_CHAIN, 8, "BTC"),
];
const UNKNOWN_ASSET: &str = "eip155:1/erc20:0xdac17f958d2ee523a2206206994597c13d831ec7";

const CLIENTS: &[(&str, Segregation)] = &[
    ("alice", Segregation::Omnibus),
    ("bob", Segregation::Omnibus),
    ("carol", Segregation::Individual),
    ("dave", Segregation::Individual),
];
const UNKNOWN_CLIENT: &str = "mallory";

/// Whose assets a wallet may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Owner {
    Firm,
    Omnibus,
    Individual(&'static str),
}

#[derive(Debug)]
struct WalletSpec {
    id: &'static str,
    chain: &'static str,
    account: &'static str,
    owner: Owner,
    tier: Tier,
    at_sub_custodian: bool,
}

const WALLETS: &[WalletSpec] = &[
    WalletSpec { id: "omnibus-hot", chain: ETH_CHAIN, account: "0x01", owner: Owner::Omnibus, tier: Tier::Hot, at_sub_custodian: false },
    WalletSpec { id: "omnibus-cold", chain: ETH_CHAIN, account: "0x02", owner: Owner::Omnibus, tier: Tier::Cold, at_sub_custodian: false },
    WalletSpec { id: "omnibus-sub", chain: ETH_CHAIN, account: "0x03", owner: Owner::Omnibus, tier: Tier::Cold, at_sub_custodian: true },
    WalletSpec { id: "omnibus-btc", chain: BTC_CHAIN, account: "bc1q01", owner: Owner::Omnibus, tier: Tier::Cold, at_sub_custodian: false },
    WalletSpec {
        id: "carol-eth",
        chain: ETH_CHAIN,
        account: "0x04",
        owner: Owner::Individual("carol"),
        tier: Tier::Hot,
        at_sub_custodian: false,
    },
    WalletSpec {
        id: "carol-btc",
        chain: BTC_CHAIN,
        account: "bc1q02",
        owner: Owner::Individual("carol"),
        tier: Tier::Cold,
        at_sub_custodian: false,
    },
    WalletSpec {
        id: "dave-sub",
        chain: ETH_CHAIN,
        account: "0x05",
        owner: Owner::Individual("dave"),
        tier: Tier::Cold,
        at_sub_custodian: true,
    },
    WalletSpec { id: "firm-hot", chain: ETH_CHAIN, account: "0x06", owner: Owner::Firm, tier: Tier::Hot, at_sub_custodian: false },
    WalletSpec { id: "firm-cold", chain: ETH_CHAIN, account: "0x07", owner: Owner::Firm, tier: Tier::Cold, at_sub_custodian: false },
    WalletSpec { id: "firm-btc", chain: BTC_CHAIN, account: "bc1q03", owner: Owner::Firm, tier: Tier::Hot, at_sub_custodian: false },
];
const UNKNOWN_WALLET: &str = "nowhere";

const SUB_CUSTODIAN: &str = "custody-ag";
const UNKNOWN_SUB_CUSTODIAN: &str = "nobody";
const REFERENCES: [&str; 2] = ["BaFin-0042", "BaFin-0042-renewed"];

const T0: Timestamp = Timestamp::from_micros(1_700_000_000_000_000);
const EXPIRY: Timestamp = Timestamp::from_micros(T0.micros() + 30 * 86_400_000_000);
const LAPSED: Timestamp = Timestamp::from_micros(EXPIRY.micros() + 1);
const LATER: Timestamp = Timestamp::from_micros(EXPIRY.micros() + 90 * 86_400_000_000);
const RENEWED_UNTIL: Timestamp = Timestamp::from_micros(EXPIRY.micros() + 365 * 86_400_000_000);
const TIMES: [Timestamp; 4] = [T0, EXPIRY, LAPSED, LATER];
const VALID_UNTILS: [Timestamp; 3] = [EXPIRY, LAPSED, RENEWED_UNTIL];

fn asset_id(id: &str) -> AssetId {
    AssetId::parse(id).unwrap()
}
fn client_id(id: &str) -> ClientId {
    ClientId::parse(id).unwrap()
}
fn wallet_id(id: &str) -> WalletId {
    WalletId::parse(id).unwrap()
}
fn idempotency_key(id: &str) -> IdempotencyKey {
    IdempotencyKey::parse(id).unwrap()
}
fn sub_custodian_id(id: &str) -> SubCustodianId {
    SubCustodianId::parse(id).unwrap()
}

fn meta(at: Timestamp) -> Meta {
    Meta { actor: Actor::parse("ops@casp").unwrap(), instruction: InstructionId::parse("instr-7").unwrap(), effective_at: at }
}

fn key_set_for(owner: Owner) -> &'static str {
    match owner {
        Owner::Firm => "ks-firm",
        Owner::Omnibus => "ks-omnibus",
        Owner::Individual(_) => "ks-individual",
    }
}

/// The commands that set up the estate, all at `T0`.
fn estate_commands() -> Vec<Command> {
    let mut actions = Vec::new();
    for (id, _, scale, symbol) in ASSETS {
        actions.push(Action::RegisterAsset(Asset { id: asset_id(id), scale: *scale, symbol: (*symbol).to_owned() }));
    }
    for (id, segregation) in CLIENTS {
        actions.push(Action::RegisterClient(Client { id: client_id(id), category: ClientCategory::Retail, segregation: *segregation }));
    }
    actions.push(Action::RegisterSubCustodian(SubCustodian {
        id: sub_custodian_id(SUB_CUSTODIAN),
        name: "Custody AG".to_owned(),
        basis: AuthorisationBasis::CrrCreditInstitution,
        reference: REFERENCES[0].to_owned(),
        valid_until: EXPIRY,
    }));
    for (id, class) in
        [("ks-omnibus", ClassKind::ClientOmnibus), ("ks-individual", ClassKind::ClientIndividual), ("ks-firm", ClassKind::Firm)]
    {
        actions.push(Action::RegisterKeySet(KeySet {
            id: KeySetId::parse(id).unwrap(),
            scheme: KeyScheme::Multisig { threshold: 2 },
            signers: vec!["ana".to_owned(), "ben".to_owned(), "cho".to_owned()],
            class,
        }));
    }
    for spec in WALLETS {
        actions.push(Action::RegisterWallet(Wallet {
            id: wallet_id(spec.id),
            address: Address::parse(&format!("{}:{}", spec.chain, spec.account)).unwrap(),
            class: match spec.owner {
                Owner::Firm => WalletClass::Firm,
                Owner::Omnibus => WalletClass::ClientOmnibus,
                Owner::Individual(client) => WalletClass::ClientIndividual(client_id(client)),
            },
            tier: spec.tier,
            custodian: if spec.at_sub_custodian { Custodian::SubCustodian(sub_custodian_id(SUB_CUSTODIAN)) } else { Custodian::InHouse },
            key_set: KeySetId::parse(key_set_for(spec.owner)).unwrap(),
        }));
    }
    actions.into_iter().map(|action| Command { meta: meta(T0), action }).collect()
}

/// Every account of the estate.
fn all_accounts() -> Vec<Account> {
    CLIENTS
        .iter()
        .map(|(id, _)| Account::Position(client_id(id)))
        .chain(WALLETS.iter().map(|w| Account::Holding(wallet_id(w.id))))
        .chain([Account::Own(OwnAccount::Capital), Account::Own(OwnAccount::FeeIncome)])
        .collect()
}

// ----- the reference model ----------------------------------------------------------------

fn asset_chain(asset: &AssetId) -> Option<&'static str> {
    ASSETS.iter().find(|(id, ..)| *id == asset.as_str()).map(|(_, chain, ..)| *chain)
}
fn client_spec(client: &ClientId) -> Option<(&'static str, Segregation)> {
    CLIENTS.iter().find(|(id, _)| *id == client.as_str()).copied()
}
fn wallet_spec(wallet: &WalletId) -> Option<&'static WalletSpec> {
    WALLETS.iter().find(|w| w.id == wallet.as_str())
}

/// Which side of the segregation wall an account sits on (the model's own statement of it).
fn segment(account: &Account) -> Owner {
    match account {
        Account::Own(_) => Owner::Firm,
        Account::Position(client) => match client_spec(client).expect("resolved before") {
            (_, Segregation::Omnibus) => Owner::Omnibus,
            (name, Segregation::Individual) => Owner::Individual(name),
        },
        Account::Holding(wallet) => wallet_spec(wallet).expect("resolved before").owner,
    }
}

/// Whether a balance grows with a debit (holdings) or a credit (positions, own accounts).
fn debit_normal(account: &Account) -> bool {
    matches!(account, Account::Holding(_))
}

/// A sum that cannot overflow: a count of wraps past 2^128 and the remainder.
type Wide = (u32, u128);

fn wide_add(sum: Wide, amount: u128) -> Wide {
    let (low, carried) = sum.1.overflowing_add(amount);
    (sum.0 + u32::from(carried), low)
}

/// Which accounts each kind of movement may debit and credit.
fn allowed(kind: MovementKind, posting: &Posting) -> bool {
    let owner = match &posting.account {
        Account::Holding(wallet) => Some(wallet_spec(wallet).expect("resolved before").owner),
        _ => None,
    };
    let client_holding = matches!(owner, Some(Owner::Omnibus | Owner::Individual(_)));
    let firm_holding = owner == Some(Owner::Firm);
    let position = matches!(posting.account, Account::Position(_));
    let capital = posting.account == Account::Own(OwnAccount::Capital);
    let fee_income = posting.account == Account::Own(OwnAccount::FeeIncome);
    match (kind, posting.side) {
        (MovementKind::Deposit, Side::Debit) | (MovementKind::Withdrawal | MovementKind::Loss, Side::Credit) => client_holding,
        (MovementKind::Deposit, Side::Credit) | (MovementKind::Withdrawal | MovementKind::Loss, Side::Debit) => position,
        (MovementKind::Compensation, Side::Debit) => capital || client_holding,
        (MovementKind::Compensation, Side::Credit) => position || firm_holding,
        (MovementKind::Transfer, _) => position || client_holding,
        (MovementKind::Fee, Side::Debit) => position || firm_holding,
        (MovementKind::Fee, Side::Credit) => fee_income || client_holding,
        (MovementKind::Rebalance, _) => owner.is_some(),
        (MovementKind::FirmFunding, Side::Debit) | (MovementKind::FirmWithdrawal, Side::Credit) => firm_holding,
        (MovementKind::FirmFunding, Side::Credit) => capital,
        (MovementKind::FirmWithdrawal, Side::Debit) => matches!(posting.account, Account::Own(_)),
        (MovementKind::Correction, _) => true,
        // Rewards are judged against client instructions, which the model does not generate.
        (MovementKind::Reward, _) => unreachable!("the model generates no rewards"),
    }
}

#[derive(Debug, Clone)]
struct Recorded {
    command: Command,
    seq: u64,
    postings: Vec<Posting>,
    is_correction: bool,
    corrected: bool,
}

#[derive(Debug)]
enum Decision {
    Rejected(Status),
    AlreadyExists(u64),
    /// The new balance of each account the movement touches, and the movement it corrects.
    AcceptMovement(Vec<((Account, AssetId), u128)>, Option<IdempotencyKey>),
    AcceptAuthorisation(String, Timestamp),
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Totals {
    client_positions: u128,
    client_holdings: u128,
    firm_holdings: u128,
    own: u128,
    client_hot: u128,
    client_cold: u128,
    firm_hot: u128,
    firm_cold: u128,
}

#[derive(Debug)]
struct Model {
    balances: BTreeMap<(Account, AssetId), u128>,
    movements: BTreeMap<IdempotencyKey, Recorded>,
    reference: String,
    valid_until: Timestamp,
    authorisation_seq: u64,
    seq: u64,
}

impl Model {
    fn new(seq: u64, authorisation_seq: u64) -> Self {
        Model {
            balances: BTreeMap::new(),
            movements: BTreeMap::new(),
            reference: REFERENCES[0].to_owned(),
            valid_until: EXPIRY,
            authorisation_seq,
            seq,
        }
    }

    fn balance(&self, account: &Account, asset: &AssetId) -> u128 {
        self.balances.get(&(account.clone(), asset.clone())).copied().unwrap_or(0)
    }

    /// Applies a command to the model; returns the predicted status and sequence number.
    fn apply(&mut self, command: &Command) -> (Status, Option<u64>) {
        match self.decide(command) {
            Decision::Rejected(status) => (status, None),
            Decision::AlreadyExists(seq) => (Status::AlreadyExists, Some(seq)),
            Decision::AcceptMovement(updates, target) => {
                let Action::Movement(movement) = &command.action else { unreachable!() };
                self.seq += 1;
                for (slot, balance) in updates {
                    self.balances.insert(slot, balance);
                }
                if let Some(target) = &target {
                    self.movements.get_mut(target).unwrap().corrected = true;
                }
                let recorded = Recorded {
                    command: command.clone(),
                    seq: self.seq,
                    postings: movement.postings.clone(),
                    is_correction: target.is_some(),
                    corrected: false,
                };
                self.movements.insert(movement.key.clone(), recorded);
                (Status::Accepted, Some(self.seq))
            }
            Decision::AcceptAuthorisation(reference, valid_until) => {
                self.seq += 1;
                self.reference = reference;
                self.valid_until = valid_until;
                self.authorisation_seq = self.seq;
                (Status::Accepted, Some(self.seq))
            }
        }
    }

    fn decide(&self, command: &Command) -> Decision {
        match &command.action {
            Action::Movement(movement) => match self.decide_movement(command, movement) {
                Ok(decision) | Err(decision) => decision,
            },
            Action::UpdateSubCustodianAuthorisation { id, reference, valid_until } => {
                if id.as_str() != SUB_CUSTODIAN {
                    Decision::Rejected(Status::UnknownSubCustodian)
                } else if *reference == self.reference && *valid_until == self.valid_until {
                    Decision::AlreadyExists(self.authorisation_seq)
                } else {
                    Decision::AcceptAuthorisation(reference.clone(), *valid_until)
                }
            }
            other => panic!("the model does not cover {other:?}"),
        }
    }

    fn decide_movement(&self, command: &Command, movement: &Movement) -> Result<Decision, Decision> {
        let reject = |status| Err(Decision::Rejected(status));
        let postings = &movement.postings;
        if let Some(recorded) = self.movements.get(&movement.key) {
            // Idempotency compares the movement, not who sent it when: the original's meta stands.
            let recorded_movement = match &recorded.command.action {
                Action::Movement(recorded_movement) => recorded_movement,
                _ => unreachable!("only movements are recorded by key"),
            };
            return if recorded_movement == movement {
                Ok(Decision::AlreadyExists(recorded.seq))
            } else {
                reject(Status::IdempotencyConflict)
            };
        }
        if postings.is_empty() {
            return reject(Status::PostingsEmpty);
        }
        if postings.len() > POSTINGS_MAX {
            return reject(Status::PostingsTooMany);
        }
        if postings.iter().any(|p| p.amount.is_zero()) {
            return reject(Status::AmountZero);
        }
        if postings.iter().any(|p| asset_chain(&p.asset).is_none()) {
            return reject(Status::UnknownAsset);
        }
        if postings.iter().any(|p| matches!(&p.account, Account::Position(c) if client_spec(c).is_none())) {
            return reject(Status::UnknownClient);
        }
        if postings.iter().any(|p| matches!(&p.account, Account::Holding(w) if wallet_spec(w).is_none())) {
            return reject(Status::UnknownWallet);
        }
        let target = match (movement.kind, &movement.corrects) {
            (MovementKind::Correction, Some(target)) => match self.movements.get(target) {
                None => return reject(Status::UnknownMovement),
                Some(recorded) => Some((target, recorded)),
            },
            (MovementKind::Correction, None) | (_, Some(_)) => return reject(Status::CorrectionTargetMissing),
            (_, None) => None,
        };
        if let Some((_, recorded)) = target {
            if recorded.is_correction {
                return reject(Status::CorrectionOfCorrection);
            }
            if recorded.corrected {
                return reject(Status::AlreadyCorrected);
            }
            let reversal: Vec<Posting> = recorded
                .postings
                .iter()
                .map(|p| Posting { side: if p.side == Side::Debit { Side::Credit } else { Side::Debit }, ..p.clone() })
                .collect();
            if *postings != reversal {
                return reject(Status::CorrectionMismatch);
            }
        }
        if postings
            .iter()
            .any(|p| matches!(&p.account, Account::Holding(w) if Some(wallet_spec(w).unwrap().chain) != asset_chain(&p.asset)))
        {
            return reject(Status::ChainMismatch);
        }

        // Debits and credits per asset, and per segment and asset.
        let mut per_asset: BTreeMap<&AssetId, (Wide, Wide)> = BTreeMap::new();
        let mut per_segment: BTreeMap<(Owner, &AssetId), (Wide, Wide)> = BTreeMap::new();
        for p in postings {
            for sums in [per_asset.entry(&p.asset).or_default(), per_segment.entry((segment(&p.account), &p.asset)).or_default()] {
                match p.side {
                    Side::Debit => sums.0 = wide_add(sums.0, p.amount.units()),
                    Side::Credit => sums.1 = wide_add(sums.1, p.amount.units()),
                }
            }
        }
        if per_asset.values().any(|(debits, credits)| debits != credits) {
            return reject(Status::Unbalanced);
        }
        if postings.iter().any(|p| !matches!(p.account, Account::Holding(_)) && !allowed(movement.kind, p)) {
            return reject(Status::PostingNotAllowed);
        }
        if postings.iter().any(|p| matches!(p.account, Account::Holding(_)) && !allowed(movement.kind, p)) {
            return reject(Status::WrongWalletClass);
        }
        if movement.kind == MovementKind::Compensation {
            // Per asset: capital debited = positions credited = client wallets debited.
            let mut legs: BTreeMap<&AssetId, (Wide, Wide, Wide)> = BTreeMap::new();
            for p in postings {
                let sums = legs.entry(&p.asset).or_default();
                match (&p.account, p.side) {
                    (Account::Own(_), Side::Debit) => sums.0 = wide_add(sums.0, p.amount.units()),
                    (Account::Position(_), Side::Credit) => sums.1 = wide_add(sums.1, p.amount.units()),
                    (Account::Holding(_), Side::Debit) => sums.2 = wide_add(sums.2, p.amount.units()),
                    _ => {}
                }
            }
            if legs.values().any(|(capital, credited, moved)| capital != credited || moved != credited || *credited == Wide::default()) {
                return reject(Status::PostingNotAllowed);
            }
        }
        if per_segment.iter().any(|((owner, _), (debits, credits))| *owner == Owner::Firm && debits != credits) {
            return reject(Status::SegregationBreach);
        }
        if per_segment.values().any(|(debits, credits)| debits != credits) {
            return reject(Status::IndividualSegregationBreach);
        }

        // What each account gains and loses, in its own direction.
        let mut changes: BTreeMap<(Account, AssetId), (Wide, Wide)> = BTreeMap::new();
        for p in postings {
            let change = changes.entry((p.account.clone(), p.asset.clone())).or_default();
            if (p.side == Side::Debit) == debit_normal(&p.account) {
                change.0 = wide_add(change.0, p.amount.units());
            } else {
                change.1 = wide_add(change.1, p.amount.units());
            }
        }
        let lapsed = command.meta.effective_at > self.valid_until;
        let allocates_to_lapsed = changes.iter().any(|((account, _), (increase, decrease))| {
            matches!(account, Account::Holding(w) if wallet_spec(w).unwrap().at_sub_custodian) && increase > decrease && lapsed
        });
        if allocates_to_lapsed {
            return reject(Status::SubCustodianNotAuthorised);
        }

        if per_asset.values().any(|(debits, credits)| debits.0 > 0 || credits.0 > 0) {
            return reject(Status::AmountOverflow);
        }
        let mut worst: Option<Status> = None;
        let mut updates = Vec::new();
        for ((account, asset), (increase, decrease)) in &changes {
            // No wraps: the per-asset sums did not wrap.
            let (increase, decrease) = (increase.1, decrease.1);
            let current = self.balance(account, asset);
            let next = if increase >= decrease {
                current.checked_add(increase - decrease).ok_or(Status::AmountOverflow)
            } else {
                current.checked_sub(decrease - increase).ok_or(match account {
                    Account::Position(_) => Status::PositionWouldGoNegative,
                    Account::Holding(_) => Status::HoldingWouldGoNegative,
                    Account::Own(_) => Status::OwnAccountWouldGoNegative,
                })
            };
            match next {
                Ok(next) => updates.push(((account.clone(), asset.clone()), next)),
                Err(status) => worst = Some(worst.map_or(status, |w| w.min(status))),
            }
        }
        if let Some(status) = worst {
            return reject(status);
        }
        // An asset's client total and firm total are amounts too.
        let mut after = self.balances.clone();
        after.extend(updates.iter().cloned());
        for asset in per_asset.keys() {
            if totals_of(&after, asset).is_none() {
                return reject(Status::AmountOverflow);
            }
        }
        Ok(Decision::AcceptMovement(updates, target.map(|(key, _)| key.clone())))
    }

    fn totals(&self, asset: &AssetId) -> Totals {
        totals_of(&self.balances, asset).expect("the model never accepts a total past u128::MAX")
    }

    /// The invariants of PRODUCT.md, checked on the model's own balances.
    fn check_invariants(&self) -> Result<(), String> {
        for (id, ..) in ASSETS {
            let asset = asset_id(id);
            let t = self.totals(&asset);
            if t.client_positions != t.client_holdings {
                return Err(format!("{id}: client positions {} but client wallets hold {}", t.client_positions, t.client_holdings));
            }
            if t.firm_holdings != t.own {
                return Err(format!("{id}: firm wallets hold {} but own accounts are {}", t.firm_holdings, t.own));
            }
            for (client, segregation) in CLIENTS {
                let position = self.balance(&Account::Position(client_id(client)), &asset);
                if *segregation == Segregation::Individual {
                    let held: u128 = WALLETS
                        .iter()
                        .filter(|w| w.owner == Owner::Individual(client))
                        .map(|w| self.balance(&Account::Holding(wallet_id(w.id)), &asset))
                        .sum();
                    if held != position {
                        return Err(format!("{id}: {client} has {position} but their wallets hold {held}"));
                    }
                }
            }
            let omnibus_positions: u128 = CLIENTS
                .iter()
                .filter(|(_, s)| *s == Segregation::Omnibus)
                .map(|(c, _)| self.balance(&Account::Position(client_id(c)), &asset))
                .sum();
            let omnibus_holdings: u128 = WALLETS
                .iter()
                .filter(|w| w.owner == Owner::Omnibus)
                .map(|w| self.balance(&Account::Holding(wallet_id(w.id)), &asset))
                .sum();
            if omnibus_positions != omnibus_holdings {
                return Err(format!("{id}: omnibus positions {omnibus_positions} but omnibus wallets hold {omnibus_holdings}"));
            }
        }
        Ok(())
    }
}

/// An asset's totals over `balances`; `None` when one exceeds u128::MAX.
fn totals_of(balances: &BTreeMap<(Account, AssetId), u128>, asset: &AssetId) -> Option<Totals> {
    let mut t = Totals::default();
    for ((account, of), &balance) in balances {
        if of != asset {
            continue;
        }
        let add = |total: &mut u128| -> Option<()> {
            *total = total.checked_add(balance)?;
            Some(())
        };
        match account {
            Account::Position(_) => add(&mut t.client_positions)?,
            Account::Own(_) => add(&mut t.own)?,
            Account::Holding(wallet) => {
                let spec = wallet_spec(wallet).unwrap();
                let hot = spec.tier == Tier::Hot;
                if spec.owner == Owner::Firm {
                    add(&mut t.firm_holdings)?;
                    add(if hot { &mut t.firm_hot } else { &mut t.firm_cold })?;
                } else {
                    add(&mut t.client_holdings)?;
                    add(if hot { &mut t.client_hot } else { &mut t.client_cold })?;
                }
            }
        }
    }
    Some(t)
}

// ----- random command sequences -----------------------------------------------------------

/// A wallet chosen either among those that fit (same owner and chain), or any at all.
#[derive(Debug, Clone, Copy)]
enum Pick {
    Fitting(usize),
    Any(usize),
}

#[derive(Debug, Clone, Copy)]
enum AccountPick {
    Position(usize),
    Holding(usize),
    Own(OwnAccount),
}

#[derive(Debug, Clone, Copy)]
enum FeeShape {
    DebitAndSweep,
    SweepOnly,
    DebitOnly,
}

#[derive(Debug, Clone, Copy)]
enum CorrectionShape {
    Exact,
    AmountOff,
    Reordered,
    WithoutTarget,
    OtherKind,
    UnknownTarget,
    /// Corrects again what the last correction issued corrected.
    Again,
    /// Corrects the last correction issued.
    OfCorrection,
}

#[derive(Debug, Clone, Copy)]
enum ReplayShape {
    Same,
    OtherAmount,
    OtherTime,
}

type RawPosting = (AccountPick, usize, u128);

#[derive(Debug, Clone)]
enum Op {
    Deposit {
        client: usize,
        wallet: Pick,
        asset: usize,
        amount: u128,
    },
    Withdrawal {
        client: usize,
        wallet: Pick,
        asset: usize,
        amount: u128,
    },
    Transfer {
        from: usize,
        to: usize,
        wallets: Option<(Pick, Pick)>,
        asset: usize,
        amount: u128,
    },
    Fee {
        client: usize,
        client_wallet: Pick,
        firm_wallet: Pick,
        asset: usize,
        amount: u128,
        shape: FeeShape,
    },
    Rebalance {
        from: usize,
        to: Pick,
        asset: usize,
        amount: u128,
    },
    FirmFunding {
        wallet: Pick,
        asset: usize,
        amount: u128,
    },
    FirmWithdrawal {
        wallet: Pick,
        asset: usize,
        amount: u128,
    },
    Correct {
        target: usize,
        shape: CorrectionShape,
    },
    Replay {
        target: usize,
        shape: ReplayShape,
    },
    /// Balanced pairs (debit, credit) of random accounts, perhaps with one lone posting.
    Raw {
        kind: MovementKind,
        pairs: Vec<(AccountPick, AccountPick, usize, u128)>,
        lone: Option<(Side, RawPosting)>,
        corrects: Option<usize>,
    },
    Authorise {
        sub_custodian_known: bool,
        reference: usize,
        valid_until: usize,
    },
}

#[derive(Debug, Clone)]
struct Step {
    op: Op,
    at: usize,
    /// Moves one posting of the movement to another account: near-valid movements that
    /// break one shape or segregation rule.
    misdirect: Option<(usize, AccountPick)>,
}

fn client_index() -> impl Strategy<Value = usize> {
    prop_oneof![16 => 0..CLIENTS.len(), 1 => Just(CLIENTS.len())]
}
fn wallet_index() -> impl Strategy<Value = usize> {
    prop_oneof![16 => 0..WALLETS.len(), 1 => Just(WALLETS.len())]
}
fn asset_index() -> impl Strategy<Value = usize> {
    prop_oneof![16 => 0..ASSETS.len(), 1 => Just(ASSETS.len())]
}
fn amount() -> impl Strategy<Value = u128> {
    prop_oneof![
        1 => Just(0u128),
        24 => 1u128..=1_000,
        4 => 1_001u128..=1_000_000_000_000,
        1 => (u128::MAX - 1_000)..=u128::MAX,
        1 => Just(u128::MAX / 2 + 1),
    ]
}
fn pick() -> impl Strategy<Value = Pick> {
    prop_oneof![6 => (0usize..4).prop_map(Pick::Fitting), 1 => wallet_index().prop_map(Pick::Any)]
}
fn account_pick() -> impl Strategy<Value = AccountPick> {
    prop_oneof![
        3 => client_index().prop_map(AccountPick::Position),
        4 => wallet_index().prop_map(AccountPick::Holding),
        1 => Just(AccountPick::Own(OwnAccount::Capital)),
        1 => Just(AccountPick::Own(OwnAccount::FeeIncome)),
    ]
}
fn kind() -> impl Strategy<Value = MovementKind> {
    prop::sample::select(vec![
        MovementKind::Deposit,
        MovementKind::Withdrawal,
        MovementKind::Transfer,
        MovementKind::Fee,
        MovementKind::Rebalance,
        MovementKind::FirmFunding,
        MovementKind::FirmWithdrawal,
        MovementKind::Correction,
        MovementKind::Loss,
        MovementKind::Compensation,
    ])
}
fn raw_posting() -> impl Strategy<Value = RawPosting> {
    (account_pick(), asset_index(), amount())
}

fn op() -> impl Strategy<Value = Op> {
    let pairs_length = prop_oneof![1 => Just(0usize), 12 => 1usize..=3, 2 => 8usize..=9];
    prop_oneof![
        10 => (client_index(), pick(), asset_index(), amount())
            .prop_map(|(client, wallet, asset, amount)| Op::Deposit { client, wallet, asset, amount }),
        7 => (client_index(), pick(), asset_index(), amount())
            .prop_map(|(client, wallet, asset, amount)| Op::Withdrawal { client, wallet, asset, amount }),
        5 => (client_index(), client_index(), prop::option::of((pick(), pick())), asset_index(), amount())
            .prop_map(|(from, to, wallets, asset, amount)| Op::Transfer { from, to, wallets, asset, amount }),
        4 => (
            client_index(),
            pick(),
            pick(),
            asset_index(),
            amount(),
            prop_oneof![4 => Just(FeeShape::DebitAndSweep), 1 => Just(FeeShape::SweepOnly), 1 => Just(FeeShape::DebitOnly)],
        )
            .prop_map(|(client, client_wallet, firm_wallet, asset, amount, shape)| Op::Fee {
                client,
                client_wallet,
                firm_wallet,
                asset,
                amount,
                shape
            }),
        4 => (wallet_index(), pick(), asset_index(), amount())
            .prop_map(|(from, to, asset, amount)| Op::Rebalance { from, to, asset, amount }),
        3 => (pick(), asset_index(), amount()).prop_map(|(wallet, asset, amount)| Op::FirmFunding { wallet, asset, amount }),
        2 => (pick(), asset_index(), amount()).prop_map(|(wallet, asset, amount)| Op::FirmWithdrawal { wallet, asset, amount }),
        4 => (
            any::<usize>(),
            prop_oneof![
                6 => Just(CorrectionShape::Exact),
                1 => Just(CorrectionShape::AmountOff),
                1 => Just(CorrectionShape::Reordered),
                1 => Just(CorrectionShape::WithoutTarget),
                1 => Just(CorrectionShape::OtherKind),
                1 => Just(CorrectionShape::UnknownTarget),
                2 => Just(CorrectionShape::Again),
                2 => Just(CorrectionShape::OfCorrection),
            ],
        )
            .prop_map(|(target, shape)| Op::Correct { target, shape }),
        3 => (
            any::<usize>(),
            prop_oneof![2 => Just(ReplayShape::Same), 1 => Just(ReplayShape::OtherAmount), 1 => Just(ReplayShape::OtherTime)],
        )
            .prop_map(|(target, shape)| Op::Replay { target, shape }),
        4 => (
            kind(),
            pairs_length.prop_flat_map(|length| prop::collection::vec((account_pick(), account_pick(), asset_index(), amount()), length)),
            prop::option::weighted(0.2, (prop_oneof![Just(Side::Debit), Just(Side::Credit)], raw_posting())),
            prop::option::weighted(0.1, any::<usize>()),
        )
            .prop_map(|(kind, pairs, lone, corrects)| Op::Raw { kind, pairs, lone, corrects }),
        1 => (prop::bool::weighted(0.9), 0..REFERENCES.len(), 0..VALID_UNTILS.len())
            .prop_map(|(sub_custodian_known, reference, valid_until)| Op::Authorise { sub_custodian_known, reference, valid_until }),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    (
        op(),
        prop_oneof![6 => Just(0usize), 1 => Just(1), 2 => Just(2), 1 => Just(3)],
        prop::option::weighted(0.1, (0usize..4, account_pick())),
    )
        .prop_map(|(op, at, misdirect)| Step { op, at, misdirect })
}

fn asset_at(index: usize) -> AssetId {
    asset_id(ASSETS.get(index).map_or(UNKNOWN_ASSET, |(id, ..)| id))
}
fn client_at(index: usize) -> ClientId {
    client_id(CLIENTS.get(index).map_or(UNKNOWN_CLIENT, |(id, _)| id))
}
fn wallet_at(index: usize) -> WalletId {
    wallet_id(WALLETS.get(index).map_or(UNKNOWN_WALLET, |w| w.id))
}
fn client_owner(index: usize) -> Owner {
    match CLIENTS.get(index) {
        Some((name, Segregation::Individual)) => Owner::Individual(name),
        _ => Owner::Omnibus,
    }
}
fn asset_chain_at(index: usize) -> &'static str {
    ASSETS.get(index).map_or(ETH_CHAIN, |(_, chain, ..)| chain)
}

/// Resolves a pick for assets of `owner` in the asset at `asset`.
fn resolve(pick: Pick, owner: Owner, asset: usize) -> WalletId {
    match pick {
        Pick::Fitting(n) => {
            let fitting: Vec<&WalletSpec> = WALLETS.iter().filter(|w| w.owner == owner && w.chain == asset_chain_at(asset)).collect();
            if fitting.is_empty() { wallet_at(n) } else { wallet_id(fitting[n % fitting.len()].id) }
        }
        Pick::Any(index) => wallet_at(index),
    }
}

fn account_at(pick: AccountPick) -> Account {
    match pick {
        AccountPick::Position(index) => Account::Position(client_at(index)),
        AccountPick::Holding(index) => Account::Holding(wallet_at(index)),
        AccountPick::Own(own) => Account::Own(own),
    }
}

fn movement_of(command: &Command) -> &Movement {
    match &command.action {
        Action::Movement(movement) => movement,
        other => panic!("not a movement: {other:?}"),
    }
}

fn with_first_amount_changed(mut postings: Vec<Posting>) -> Vec<Posting> {
    if let Some(first) = postings.first_mut() {
        first.amount = Amount::new(first.amount.units().wrapping_add(1));
    }
    postings
}

/// Turns step number `index` into a command; `issued` holds the movement commands issued so
/// far (accepted or not), which corrections and replays refer to.
fn materialise(index: usize, step: &Step, issued: &[Command]) -> Command {
    let key = idempotency_key(&format!("m{index}"));
    let at = TIMES[step.at];
    let units = Amount::new;
    // Counted back from the latest, so that shrinking (which removes earlier steps and pulls
    // `target` towards 0) keeps pointing at the same recent movement.
    let target_of = |target: usize| (!issued.is_empty()).then(|| &issued[issued.len() - 1 - target % issued.len()]);
    let movement = match &step.op {
        Op::Deposit { client, wallet, asset, amount } => {
            build::deposit(key, &client_at(*client), &resolve(*wallet, client_owner(*client), *asset), &asset_at(*asset), units(*amount))
        }
        Op::Withdrawal { client, wallet, asset, amount } => {
            build::withdrawal(key, &client_at(*client), &resolve(*wallet, client_owner(*client), *asset), &asset_at(*asset), units(*amount))
        }
        Op::Transfer { from, to, wallets, asset, amount } => {
            let wallets = wallets.map(|(f, t)| (resolve(f, client_owner(*from), *asset), resolve(t, client_owner(*to), *asset)));
            build::transfer(
                key,
                &client_at(*from),
                &client_at(*to),
                wallets.as_ref().map(|(f, t)| (f, t)),
                &asset_at(*asset),
                units(*amount),
            )
        }
        Op::Fee { client, client_wallet, firm_wallet, asset, amount, shape } => {
            let client_wallet = resolve(*client_wallet, client_owner(*client), *asset);
            let firm_wallet = resolve(*firm_wallet, Owner::Firm, *asset);
            let mut fee = build::fee(key, &client_at(*client), &client_wallet, &firm_wallet, &asset_at(*asset), units(*amount));
            match shape {
                FeeShape::DebitAndSweep => {}
                FeeShape::SweepOnly => fee.postings.drain(..2).for_each(drop),
                FeeShape::DebitOnly => fee.postings.truncate(2),
            }
            fee
        }
        Op::Rebalance { from, to, asset, amount } => {
            let owner = WALLETS.get(*from).map_or(Owner::Omnibus, |w| w.owner);
            build::rebalance(key, &wallet_at(*from), &resolve(*to, owner, *asset), &asset_at(*asset), units(*amount))
        }
        Op::FirmFunding { wallet, asset, amount } => {
            build::firm_funding(key, &resolve(*wallet, Owner::Firm, *asset), &asset_at(*asset), units(*amount))
        }
        Op::FirmWithdrawal { wallet, asset, amount } => {
            build::firm_withdrawal(key, &resolve(*wallet, Owner::Firm, *asset), &asset_at(*asset), units(*amount))
        }
        Op::Correct { target, shape } => {
            let last_correction = issued.iter().rev().map(movement_of).find(|m| m.kind == MovementKind::Correction && m.corrects.is_some());
            let target = match shape {
                CorrectionShape::Again => last_correction
                    .and_then(|c| issued.iter().map(movement_of).find(|m| Some(&m.key) == c.corrects.as_ref()))
                    .or_else(|| target_of(*target).map(movement_of)),
                CorrectionShape::OfCorrection => last_correction.or_else(|| target_of(*target).map(movement_of)),
                _ => target_of(*target).map(movement_of),
            };
            match target {
                None => build::correction(
                    key,
                    idempotency_key("never-issued"),
                    &build::deposit(idempotency_key("x"), &client_at(0), &wallet_at(0), &asset_at(0), units(1)).postings,
                ),
                Some(target) => {
                    let mut correction = build::correction(key, target.key.clone(), &target.postings);
                    match shape {
                        CorrectionShape::Exact | CorrectionShape::Again | CorrectionShape::OfCorrection => {}
                        CorrectionShape::AmountOff => correction.postings = with_first_amount_changed(correction.postings),
                        CorrectionShape::Reordered => correction.postings.reverse(),
                        CorrectionShape::WithoutTarget => correction.corrects = None,
                        CorrectionShape::OtherKind => {
                            correction.kind = if target.kind == MovementKind::Correction { MovementKind::Deposit } else { target.kind };
                        }
                        CorrectionShape::UnknownTarget => correction.corrects = Some(idempotency_key("never-issued")),
                    }
                    correction
                }
            }
        }
        Op::Replay { target, shape } => match target_of(*target) {
            None => build::deposit(key, &client_at(0), &wallet_at(0), &asset_at(0), units(1)),
            Some(original) => {
                let mut command = original.clone();
                match shape {
                    ReplayShape::Same => {}
                    ReplayShape::OtherAmount => {
                        let Action::Movement(movement) = &mut command.action else { unreachable!() };
                        movement.postings = with_first_amount_changed(std::mem::take(&mut movement.postings));
                    }
                    ReplayShape::OtherTime => {
                        command.meta.effective_at = Timestamp::from_micros(command.meta.effective_at.micros() + 1);
                    }
                }
                return command;
            }
        },
        Op::Raw { kind, pairs, lone, corrects } => {
            let posting = |side, account: AccountPick, asset: usize, amount: u128| Posting {
                side,
                account: account_at(account),
                asset: asset_at(asset),
                amount: units(amount),
            };
            let mut postings: Vec<Posting> = pairs
                .iter()
                .flat_map(|&(debit, credit, asset, amount)| {
                    [posting(Side::Debit, debit, asset, amount), posting(Side::Credit, credit, asset, amount)]
                })
                .collect();
            if let Some((side, (account, asset, amount))) = lone {
                postings.push(posting(*side, *account, *asset, *amount));
            }
            let corrects = corrects.map(|t| target_of(t).map_or_else(|| idempotency_key("never-issued"), |c| movement_of(c).key.clone()));
            Movement { key, kind: *kind, postings, corrects }
        }
        Op::Authorise { sub_custodian_known, reference, valid_until } => {
            let id = if *sub_custodian_known { SUB_CUSTODIAN } else { UNKNOWN_SUB_CUSTODIAN };
            return Command {
                meta: meta(at),
                action: Action::UpdateSubCustodianAuthorisation {
                    id: sub_custodian_id(id),
                    reference: REFERENCES[*reference].to_owned(),
                    valid_until: VALID_UNTILS[*valid_until],
                },
            };
        }
    };
    let mut movement = movement;
    if let Some((index, account)) = step.misdirect {
        if let Some(posting) = movement.postings.get_mut(index) {
            posting.account = account_at(account);
        }
    }
    Command { meta: meta(at), action: Action::Movement(movement) }
}

// ----- the comparison ---------------------------------------------------------------------

fn describe(command: &Command) -> String {
    let mut out = format!("@{} ", command.meta.effective_at.micros() - T0.micros());
    match &command.action {
        Action::Movement(m) => {
            let _ = write!(out, "{} {:?}", m.key, m.kind);
            if let Some(target) = &m.corrects {
                let _ = write!(out, " corrects {target}");
            }
            for p in &m.postings {
                let side = if p.side == Side::Debit { "Dr" } else { "Cr" };
                let account = match &p.account {
                    Account::Position(c) => format!("pos:{c}"),
                    Account::Holding(w) => format!("hold:{w}"),
                    Account::Own(o) => format!("own:{o:?}"),
                };
                let symbol = ASSETS.iter().find(|(id, ..)| *id == p.asset.as_str()).map_or("???", |(.., s)| s);
                let _ = write!(out, " | {side} {account} {symbol} {}", p.amount);
            }
        }
        other => {
            let _ = write!(out, "{other:?}");
        }
    }
    out
}

fn compare_balances(register: &Register, model: &Model) -> Result<(), String> {
    for account in all_accounts() {
        for (id, ..) in ASSETS {
            let asset = asset_id(id);
            let actual = register.balance(&account, &asset).map(Amount::units);
            let expected = model.balance(&account, &asset);
            if actual != Some(expected) {
                return Err(format!("balance of {account:?} in {id}: register {actual:?}, model {expected}"));
            }
        }
    }
    for summary in register.summary() {
        let t = model.totals(&summary.asset.id);
        let actual = [
            summary.client_positions,
            summary.client_holdings,
            summary.firm_holdings,
            summary.own_accounts,
            summary.client_hot,
            summary.client_cold,
            summary.firm_hot,
            summary.firm_cold,
        ]
        .map(Amount::units);
        let expected =
            [t.client_positions, t.client_holdings, t.firm_holdings, t.own, t.client_hot, t.client_cold, t.firm_hot, t.firm_cold];
        if actual != expected {
            return Err(format!("summary of {}: register {actual:?}, model {expected:?}", summary.asset.id));
        }
    }
    if register.seq() != model.seq {
        return Err(format!("sequence: register {}, model {}", register.seq(), model.seq));
    }
    if register.movement_count() != model.movements.len() as u64 {
        return Err(format!("movements: register {}, model {}", register.movement_count(), model.movements.len()));
    }
    for (key, recorded) in &model.movements {
        if register.movement_seq(key) != Some(recorded.seq) {
            return Err(format!("movement {key}: register at {:?}, model at {}", register.movement_seq(key), recorded.seq));
        }
    }
    Ok(())
}

/// A register with the estate registered, and the sequence number of the sub-custodian's
/// registration.
fn estate_register() -> (Register, u64) {
    let mut register = Register::new();
    let mut authorisation_seq = 0;
    for command in estate_commands() {
        let outcome = register.apply(&command).unwrap();
        assert_eq!(outcome.status, Status::Accepted, "{}", outcome.detail);
        if matches!(command.action, Action::RegisterSubCustodian(_)) {
            authorisation_seq = register.seq();
        }
    }
    (register, authorisation_seq)
}

/// The commands of `steps`, each correction naming a movement issued before it.
fn materialise_all(steps: &[Step]) -> Vec<Command> {
    let mut issued: Vec<Command> = Vec::new();
    let mut commands = Vec::with_capacity(steps.len());
    for (index, step) in steps.iter().enumerate() {
        let command = materialise(index, step, &issued);
        if matches!(command.action, Action::Movement(_)) {
            issued.push(command.clone());
        }
        commands.push(command);
    }
    commands
}

fn run(steps: &[Step], batch_size: usize) -> Result<(), TestCaseError> {
    let (mut register, authorisation_seq) = estate_register();
    let mut model = Model::new(register.seq(), authorisation_seq);
    let commands = materialise_all(steps);

    // One command at a time, compared with the model after each.
    let mut trace = String::new();
    let mut outcomes = Vec::with_capacity(commands.len());
    for command in &commands {
        let outcome = register
            .apply(command)
            .map_err(|violation| TestCaseError::fail(format!("{violation}\nafter:\n{trace}while applying: {}", describe(command))))?;
        let (status, seq) = model.apply(command);
        let _ = writeln!(trace, "  {} -> {}", describe(command), outcome.status);
        if (outcome.status, outcome.seq) != (status, seq) {
            return Err(TestCaseError::fail(format!(
                "register said {} ({:?}, {:?}), model predicted {status} ({seq:?})\ntrace:\n{trace}",
                outcome.status, outcome.seq, outcome.detail
            )));
        }
        compare_balances(&register, &model).map_err(|e| TestCaseError::fail(format!("{e}\ntrace:\n{trace}")))?;
        register.audit().map_err(|e| TestCaseError::fail(format!("{e}\ntrace:\n{trace}")))?;
        model.check_invariants().map_err(|e| TestCaseError::fail(format!("model: {e}\ntrace:\n{trace}")))?;
        outcomes.push(outcome);
    }
    prop_assert!(register.balance(&Account::Position(client_id(UNKNOWN_CLIENT)), &asset_at(0)).is_none());
    prop_assert!(register.balance(&Account::Holding(wallet_id(UNKNOWN_WALLET)), &asset_at(0)).is_none());
    prop_assert!(register.balance(&Account::Own(OwnAccount::Capital), &asset_id(UNKNOWN_ASSET)).is_none());

    // The same commands in batches: the same outcomes and the same register.
    let (mut batched, _) = estate_register();
    let mut batched_outcomes = Vec::with_capacity(commands.len());
    for batch in commands.chunks(batch_size) {
        batched_outcomes.extend(batched.apply_batch(batch).map_err(|violation| TestCaseError::fail(violation.to_string()))?);
    }
    prop_assert_eq!(batched_outcomes, outcomes);
    prop_assert_eq!(batched.summary(), register.summary());
    prop_assert_eq!(batched.seq(), register.seq());
    for account in all_accounts() {
        prop_assert_eq!(batched.balances_of(&account), register.balances_of(&account));
    }
    Ok(())
}

proptest! {
    #![proptest_config(Config { cases: 64, max_shrink_iters: 4096, failure_persistence: None, ..Config::default() })]

    #[test]
    fn register_agrees_with_the_reference_model(steps in prop::collection::vec(step(), 1..=200), batch_size in 1usize..=4) {
        run(&steps, batch_size)?;
    }
}

/// A register restored from a checkpoint taken after `cut` commands, then given the rest,
/// decides every command of the rest as the register that applied them all does, and ends in
/// the same state (field by field).
fn checkpoint_and_tail(steps: &[Step], cut: usize) -> Result<(), TestCaseError> {
    let (mut whole, _) = estate_register();
    let commands = materialise_all(steps);
    let cut = cut.min(commands.len());
    let (head, tail) = commands.split_at(cut);
    whole.apply_batch(head).map_err(|violation| TestCaseError::fail(violation.to_string()))?;
    let bytes = whole.snapshot().map_err(TestCaseError::fail)?;
    let mut restored = Register::restore(&bytes).map_err(TestCaseError::fail)?;
    prop_assert!(restored == whole, "the restored register differs from the one snapshotted");
    let expected = whole.apply_batch(tail).map_err(|violation| TestCaseError::fail(violation.to_string()))?;
    let outcomes = restored.apply_batch(tail).map_err(|violation| TestCaseError::fail(violation.to_string()))?;
    prop_assert_eq!(outcomes, expected);
    prop_assert!(restored == whole, "checkpoint + tail differs from the full replay");
    Ok(())
}

proptest! {
    #![proptest_config(Config { cases: 64, max_shrink_iters: 1024, failure_persistence: None, ..Config::default() })]

    #[test]
    fn checkpoint_plus_tail_equals_full_replay(steps in prop::collection::vec(step(), 1..=200), cut in 0usize..=200) {
        checkpoint_and_tail(&steps, cut)?;
    }
}

#[test]
fn a_damaged_checkpoint_is_refused_with_a_reason() {
    let (register, _) = estate_register();
    let bytes = register.snapshot().unwrap();
    assert!(Register::restore(&bytes).is_ok());
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(Register::restore(&longer).unwrap_err().contains("bytes follow"), "trailing bytes");
    assert!(Register::restore(&bytes[..bytes.len() / 2]).unwrap_err().contains("does not decode"), "truncated");
    // Every single flipped bit either fails to decode, fails a check, or decodes to a state
    // that differs; none panics. (The store's SHA-256 refuses all of them first.)
    for position in 0..bytes.len() {
        let mut flipped = bytes.clone();
        flipped[position] ^= 0x01;
        if let Ok(restored) = Register::restore(&flipped) {
            assert!(restored != register || flipped == bytes, "bit 0 of byte {position} flipped gives the same state");
        }
    }
}
