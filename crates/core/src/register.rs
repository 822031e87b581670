//! The register state machine: applies commands one by one, in journal order, and returns a
//! closed [`Status`] per command. All checks run against the current state before anything is
//! written, so a rejected command changes nothing. After every accepted movement the
//! segregation invariants are checked on the assets it touched (always on, O(postings)); after
//! every batch in debug builds, and on demand through [`Register::audit`], all of them are
//! recomputed from scratch.
//!
//! Segregation rests on one observation. Split every account into a *segment*: the firm
//! (firm wallets and own accounts), the omnibus pool (omnibus clients' positions and omnibus
//! wallets) and one segment per individually segregated client (their positions and their
//! wallets). A segment's holdings equal its liabilities exactly when, in every movement, its
//! debits equal its credits per asset. So a movement is checked for balance per asset and then
//! per segment and asset: a firm segment out of balance is a segregation breach (value crossed
//! between client and firm without a posting on both sides); a client segment out of balance
//! is an individual segregation breach.

use sha2::{Digest as _, Sha256};

use crate::amount::Amount;
use crate::codec::Encoder;
use crate::entity::{Asset, ClassKind, Client, Custodian, KeySet, Segregation, SubCustodian, Tier, Wallet, WalletClass};
use crate::ids::{AssetId, ClientId, IdempotencyKey, KeySetId, SubCustodianId, WalletId};
use crate::movement::{Account, Action, Command, Meta, Movement, MovementKind, OwnAccount, POSTINGS_MAX, Posting, Side};
use crate::status::{Outcome, Status};

/// A money invariant found broken after a command was applied. This is a bug in ringfence,
/// never a user error: the caller must not commit the batch and must rebuild the register
/// from the journal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("register invariant broken (this is a bug; nothing was committed): {0}")]
pub struct InvariantViolation(pub String);

type Digest = [u8; 16];

/// Maps keyed by identifiers: foldhash is several times faster than SipHash on short keys
/// and still seeded per process.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

fn digest(bytes: &[u8]) -> Digest {
    let full = Sha256::digest(bytes);
    let mut out = [0u8; 16];
    out.copy_from_slice(&full[..16]);
    out
}

fn postings_digest(encoder: &mut Encoder, postings: &[Posting]) -> Digest {
    encoder.bytes.clear();
    for posting in postings {
        encoder.posting(posting);
    }
    digest(&encoder.bytes)
}

/// Buffers reused from one movement to the next, so deciding a movement does not allocate.
#[derive(Debug, Default, Clone)]
struct Scratch {
    resolved: Vec<Resolved>,
    sums: Vec<(u32, u128, u128)>,
    segments: Vec<(Segment, u32, u128, u128)>,
    deltas: Vec<Delta>,
    /// The new balance for each delta, in the same order.
    updates: Vec<u128>,
}

/// An account resolved to the register's internal indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Slot {
    Position(u32),
    Holding(u32),
    Own(OwnAccount),
}

/// Which side of the segregation wall an account is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Segment {
    Firm,
    Omnibus,
    Individual(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Correction {
    /// An ordinary movement, not (yet) corrected.
    Open,
    /// Reversed by the correction at this sequence number.
    CorrectedBy(u64),
    /// Itself a correction.
    IsCorrection,
}

#[derive(Debug, Clone)]
struct MovementRecord {
    seq: u64,
    command_digest: Digest,
    postings_digest: Digest,
    correction: Correction,
}

/// Running totals of one asset, kept up to date by every movement.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub individual_positions: u128,
    pub omnibus_positions: u128,
    pub individual_holdings: u128,
    pub omnibus_holdings: u128,
    pub firm_holdings: u128,
    pub own: u128,
    /// Client-class holdings in hot wallets.
    pub client_hot: u128,
    /// Client-class holdings in cold wallets.
    pub client_cold: u128,
    pub firm_hot: u128,
    pub firm_cold: u128,
}

#[derive(Debug, Clone)]
struct Registered<T> {
    value: T,
    seq: u64,
}

/// The segregation summary of one asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetSummary {
    pub asset: Asset,
    pub client_positions: Amount,
    pub client_holdings: Amount,
    pub firm_holdings: Amount,
    pub own_accounts: Amount,
    pub client_hot: Amount,
    pub client_cold: Amount,
    pub firm_hot: Amount,
    pub firm_cold: Amount,
}

impl AssetSummary {
    /// Client holdings equal client positions and firm holdings equal own accounts.
    pub fn is_segregated(&self) -> bool {
        self.client_positions == self.client_holdings && self.firm_holdings == self.own_accounts
    }
}

/// The register: every entity, every balance, and what is needed to decide the next command.
#[derive(Debug, Default, Clone)]
pub struct Register {
    assets: Vec<Registered<Asset>>,
    asset_index: HashMap<AssetId, u32>,
    totals: Vec<Totals>,
    clients: Vec<Registered<Client>>,
    client_index: HashMap<ClientId, u32>,
    /// The segment of each client's position, by client index.
    client_segments: Vec<Segment>,
    wallets: Vec<Registered<Wallet>>,
    wallet_index: HashMap<WalletId, u32>,
    /// The segment of each wallet's holdings, by wallet index.
    wallet_segments: Vec<Segment>,
    address_index: HashMap<String, u32>,
    key_sets: Vec<Registered<KeySet>>,
    key_set_index: HashMap<KeySetId, u32>,
    sub_custodians: Vec<Registered<SubCustodian>>,
    sub_custodian_index: HashMap<SubCustodianId, u32>,
    balances: HashMap<(Slot, u32), u128>,
    /// Per individually segregated client and asset: what that client's wallets hold.
    individual_holdings: HashMap<(u32, u32), u128>,
    movements: HashMap<IdempotencyKey, MovementRecord>,
    seq: u64,
    encoder: Encoder,
    postings_encoder: Encoder,
    scratch: Scratch,
}

/// A posting resolved against the register.
#[derive(Debug, Clone, Copy)]
struct Resolved {
    side: Side,
    slot: Slot,
    asset: u32,
    amount: u128,
}

type Check<T> = Result<T, Outcome>;

fn reject<T>(status: Status, detail: impl Into<String>) -> Check<T> {
    Err(Outcome::rejected(status, detail))
}

impl Register {
    pub fn new() -> Self {
        Self::default()
    }

    /// The sequence number of the last accepted command (0 for an empty register).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Applies a batch in order. Each command gets its own outcome; a rejected one changes
    /// nothing. Returns an error only when an invariant is found broken, which is a bug: the
    /// caller must then discard this register.
    pub fn apply_batch(&mut self, commands: &[Command]) -> Result<Vec<Outcome>, InvariantViolation> {
        let mut outcomes = Vec::with_capacity(commands.len());
        for command in commands {
            outcomes.push(self.apply(command)?);
        }
        #[cfg(debug_assertions)]
        self.audit()?;
        Ok(outcomes)
    }

    /// Applies one command.
    pub fn apply(&mut self, command: &Command) -> Result<Outcome, InvariantViolation> {
        let before = self.seq;
        let outcome = match &command.action {
            Action::Movement(movement) => {
                let mut scratch = std::mem::take(&mut self.scratch);
                let outcome = match self.check_movement(&command.meta, movement, command, &mut scratch) {
                    Ok(plan) => {
                        self.commit_movement(movement, plan, &scratch)?;
                        Outcome::accepted(self.seq)
                    }
                    Err(outcome) => outcome,
                };
                self.scratch = scratch;
                outcome
            }
            action => match self.apply_registration(&command.meta, action) {
                Ok(outcome) | Err(outcome) => outcome,
            },
        };
        // Pair assertion: the sequence advances by one exactly when a command is accepted.
        let advanced = self.seq - before;
        if advanced != u64::from(outcome.status == Status::Accepted) {
            return Err(InvariantViolation(format!("sequence advanced by {advanced} for status {}", outcome.status)));
        }
        Ok(outcome)
    }

    fn command_digest(&mut self, command: &Command) -> Digest {
        self.encoder.bytes.clear();
        self.encoder.command(command);
        digest(&self.encoder.bytes)
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    // ----- registrations ---------------------------------------------------------------

    fn apply_registration(&mut self, meta: &Meta, action: &Action) -> Check<Outcome> {
        match action {
            Action::RegisterAsset(asset) => {
                if let Some(&index) = self.asset_index.get(&asset.id) {
                    return existing(&self.assets[index as usize], asset, "asset", asset.id.as_str());
                }
                if asset.scale > crate::amount::SCALE_MAX {
                    return reject(
                        Status::InvalidScale,
                        format!("asset {} has scale {}; at most 38 decimals fit in a u128", asset.id, asset.scale),
                    );
                }
                let index = index_of(self.assets.len());
                let seq = self.next_seq();
                self.assets.push(Registered { value: asset.clone(), seq });
                self.totals.push(Totals::default());
                self.asset_index.insert(asset.id.clone(), index);
                Ok(Outcome::accepted(seq))
            }
            Action::RegisterClient(client) => {
                if let Some(&index) = self.client_index.get(&client.id) {
                    return existing(&self.clients[index as usize], client, "client", client.id.as_str());
                }
                let index = index_of(self.clients.len());
                let seq = self.next_seq();
                self.clients.push(Registered { value: client.clone(), seq });
                self.client_segments.push(match client.segregation {
                    Segregation::Individual => Segment::Individual(index),
                    Segregation::Omnibus => Segment::Omnibus,
                });
                self.client_index.insert(client.id.clone(), index);
                Ok(Outcome::accepted(seq))
            }
            Action::RegisterSubCustodian(sub) => {
                if let Some(&index) = self.sub_custodian_index.get(&sub.id) {
                    return existing(&self.sub_custodians[index as usize], sub, "sub-custodian", sub.id.as_str());
                }
                let index = index_of(self.sub_custodians.len());
                let seq = self.next_seq();
                self.sub_custodians.push(Registered { value: sub.clone(), seq });
                self.sub_custodian_index.insert(sub.id.clone(), index);
                Ok(Outcome::accepted(seq))
            }
            Action::UpdateSubCustodianAuthorisation { id, reference, valid_until } => {
                let Some(&index) = self.sub_custodian_index.get(id) else {
                    return reject(Status::UnknownSubCustodian, format!("sub-custodian {id} is not registered"));
                };
                let entry = &self.sub_custodians[index as usize];
                if entry.value.reference == *reference && entry.value.valid_until == *valid_until {
                    return Ok(Outcome::already_exists(entry.seq));
                }
                let seq = self.next_seq();
                let entry = &mut self.sub_custodians[index as usize];
                entry.value.reference = reference.clone();
                entry.value.valid_until = *valid_until;
                entry.seq = seq;
                Ok(Outcome::accepted(seq))
            }
            Action::RegisterKeySet(key_set) => {
                if let Some(&index) = self.key_set_index.get(&key_set.id) {
                    return existing(&self.key_sets[index as usize], key_set, "key set", key_set.id.as_str());
                }
                if let Some(problem) = key_set.scheme_problem() {
                    return reject(Status::InvalidKeyScheme, format!("key set {}: {problem}", key_set.id));
                }
                let index = index_of(self.key_sets.len());
                let seq = self.next_seq();
                self.key_sets.push(Registered { value: key_set.clone(), seq });
                self.key_set_index.insert(key_set.id.clone(), index);
                Ok(Outcome::accepted(seq))
            }
            Action::RegisterWallet(wallet) => self.register_wallet(meta, wallet),
            Action::Movement(_) => unreachable!("movements are applied by apply()"),
        }
    }

    fn register_wallet(&mut self, meta: &Meta, wallet: &Wallet) -> Check<Outcome> {
        if let Some(&index) = self.wallet_index.get(&wallet.id) {
            return existing(&self.wallets[index as usize], wallet, "wallet", wallet.id.as_str());
        }
        let Some(&key_set) = self.key_set_index.get(&wallet.key_set) else {
            return reject(Status::UnknownKeySet, format!("key set {} is not registered; register it before the wallet", wallet.key_set));
        };
        if let WalletClass::ClientIndividual(client) = &wallet.class {
            let Some(&client_index) = self.client_index.get(client) else {
                return reject(Status::UnknownClient, format!("client {client} is not registered"));
            };
            if self.clients[client_index as usize].value.segregation != Segregation::Individual {
                return reject(
                    Status::WrongWalletClass,
                    format!(
                        "client {client} is segregated in omnibus wallets; an individual wallet needs an individually segregated client"
                    ),
                );
            }
        }
        if let Some(&other) = self.address_index.get(wallet.address.as_str()) {
            return reject(
                Status::AddressInUse,
                format!("address {} already belongs to wallet {}", wallet.address, self.wallets[other as usize].value.id),
            );
        }
        let key_set_class = self.key_sets[key_set as usize].value.class;
        if key_set_class != wallet.class.kind() {
            return reject(
                Status::KeySetClassMismatch,
                format!(
                    "key set {} serves {} wallets and cannot serve a {} wallet",
                    wallet.key_set,
                    class_name(key_set_class),
                    class_name(wallet.class.kind())
                ),
            );
        }
        if let Custodian::SubCustodian(sub) = &wallet.custodian {
            let Some(&sub_index) = self.sub_custodian_index.get(sub) else {
                return reject(Status::UnknownSubCustodian, format!("sub-custodian {sub} is not registered"));
            };
            let sub = &self.sub_custodians[sub_index as usize].value;
            if !sub.authorised_at(meta.effective_at) {
                return reject(
                    Status::SubCustodianNotAuthorised,
                    format!("sub-custodian {} is not authorised at the effective time", sub.id),
                );
            }
        }
        let index = index_of(self.wallets.len());
        let seq = self.next_seq();
        let segment = match &wallet.class {
            WalletClass::Firm => Segment::Firm,
            WalletClass::ClientOmnibus => Segment::Omnibus,
            WalletClass::ClientIndividual(client) => Segment::Individual(self.client_index[client]),
        };
        self.wallets.push(Registered { value: wallet.clone(), seq });
        self.wallet_segments.push(segment);
        self.wallet_index.insert(wallet.id.clone(), index);
        self.address_index.insert(wallet.address.as_str().to_owned(), index);
        Ok(Outcome::accepted(seq))
    }

    // ----- movements -------------------------------------------------------------------

    fn check_movement(&mut self, meta: &Meta, movement: &Movement, command: &Command, scratch: &mut Scratch) -> Check<Plan> {
        let command_digest = self.command_digest(command);
        if let Some(record) = self.movements.get(&movement.key) {
            return if record.command_digest == command_digest {
                Err(Outcome::already_exists(record.seq))
            } else {
                reject(
                    Status::IdempotencyConflict,
                    format!("idempotency key {} was used at sequence {} for a different movement", movement.key, record.seq),
                )
            };
        }
        if movement.postings.is_empty() {
            return reject(Status::PostingsEmpty, "a movement needs at least one posting");
        }
        if movement.postings.len() > POSTINGS_MAX {
            return reject(Status::PostingsTooMany, format!("{} postings; a movement has at most {POSTINGS_MAX}", movement.postings.len()));
        }
        if let Some(index) = movement.postings.iter().position(|p| p.amount.is_zero()) {
            return reject(Status::AmountZero, format!("posting {} has amount 0", index + 1));
        }
        self.resolve(&movement.postings, &mut scratch.resolved)?;
        let correction_target = self.check_correction(movement)?;
        self.check_balanced(&scratch.resolved, &mut scratch.sums)?;
        self.check_shape(movement.kind, &scratch.resolved)?;
        self.check_segregation(&scratch.resolved, &mut scratch.segments)?;
        net_deltas(&scratch.resolved, &mut scratch.deltas)?;
        self.check_sub_custody(meta, &scratch.deltas)?;
        self.check_balances(&scratch.deltas, &mut scratch.updates)?;
        let postings_digest = postings_digest(&mut self.postings_encoder, &movement.postings);
        Ok(Plan { command_digest, postings_digest, correction_target })
    }

    fn resolve(&self, postings: &[Posting], resolved: &mut Vec<Resolved>) -> Check<()> {
        resolved.clear();
        for posting in postings {
            let Some(&asset) = self.asset_index.get(&posting.asset) else {
                return reject(Status::UnknownAsset, format!("asset {} is not registered", posting.asset));
            };
            let slot = match &posting.account {
                Account::Position(client) => match self.client_index.get(client) {
                    Some(&index) => Slot::Position(index),
                    None => return reject(Status::UnknownClient, format!("client {client} is not registered")),
                },
                Account::Holding(wallet) => match self.wallet_index.get(wallet) {
                    Some(&index) => {
                        let address = &self.wallets[index as usize].value.address;
                        if address.chain() != posting.asset.chain() {
                            return reject(
                                Status::ChainMismatch,
                                format!(
                                    "wallet {wallet} is on chain {} but asset {} is on chain {}",
                                    address.chain(),
                                    posting.asset,
                                    posting.asset.chain()
                                ),
                            );
                        }
                        Slot::Holding(index)
                    }
                    None => return reject(Status::UnknownWallet, format!("wallet {wallet} is not registered")),
                },
                Account::Own(own) => Slot::Own(*own),
            };
            resolved.push(Resolved { side: posting.side, slot, asset, amount: posting.amount.units() });
        }
        Ok(())
    }

    fn check_correction(&self, movement: &Movement) -> Check<Option<IdempotencyKey>> {
        match (movement.kind, &movement.corrects) {
            (MovementKind::Correction, None) => reject(Status::CorrectionTargetMissing, "a correction must name the movement it corrects"),
            (MovementKind::Correction, Some(target)) => {
                let Some(record) = self.movements.get(target) else {
                    return reject(Status::UnknownMovement, format!("movement {target} does not exist"));
                };
                match record.correction {
                    Correction::IsCorrection => reject(
                        Status::CorrectionOfCorrection,
                        format!("{target} is itself a correction; record the movement again instead"),
                    ),
                    Correction::CorrectedBy(seq) => {
                        reject(Status::AlreadyCorrected, format!("{target} was already corrected at sequence {seq}"))
                    }
                    Correction::Open => {
                        let reversal = Movement::reversal_of(&movement.postings);
                        if postings_digest(&mut Encoder::default(), &reversal) != record.postings_digest {
                            reject(Status::CorrectionMismatch, format!("the postings are not the exact reversal of {target}'s postings"))
                        } else {
                            Ok(Some(target.clone()))
                        }
                    }
                }
            }
            (_, Some(_)) => reject(Status::CorrectionTargetMissing, "only a correction may name a movement in \"corrects\""),
            (_, None) => Ok(None),
        }
    }

    fn check_balanced(&self, resolved: &[Resolved], sums: &mut Vec<(u32, u128, u128)>) -> Check<()> {
        // Postings are few (at most POSTINGS_MAX), so linear scans beat a map.
        sums.clear();
        for posting in resolved {
            let index = match sums.iter().position(|(asset, _, _)| *asset == posting.asset) {
                Some(index) => index,
                None => {
                    sums.push((posting.asset, 0, 0));
                    sums.len() - 1
                }
            };
            let entry = &mut sums[index];
            let total = if posting.side == Side::Debit { &mut entry.1 } else { &mut entry.2 };
            *total = total
                .checked_add(posting.amount)
                .ok_or_else(|| Outcome::rejected(Status::AmountOverflow, "the postings add up to more than 2^128 - 1"))?;
        }
        for &(asset, debits, credits) in sums.iter() {
            if debits != credits {
                return reject(
                    Status::Unbalanced,
                    format!("debits {debits} and credits {credits} of {} differ; every movement balances per asset", self.asset_id(asset)),
                );
            }
        }
        Ok(())
    }

    fn check_shape(&self, kind: MovementKind, resolved: &[Resolved]) -> Check<()> {
        for posting in resolved {
            let holding_class = match posting.slot {
                Slot::Holding(wallet) => Some(self.wallets[wallet as usize].value.class.kind()),
                _ => None,
            };
            let client_holding = holding_class.is_some_and(ClassKind::is_client);
            let firm_holding = holding_class == Some(ClassKind::Firm);
            let position = matches!(posting.slot, Slot::Position(_));
            let debit = posting.side == Side::Debit;
            let allowed = match kind {
                MovementKind::Deposit => (debit && client_holding) || (!debit && position),
                MovementKind::Withdrawal => (debit && position) || (!debit && client_holding),
                MovementKind::Transfer => position || client_holding,
                MovementKind::Fee => {
                    (debit && position)
                        || (!debit && posting.slot == Slot::Own(OwnAccount::FeeIncome))
                        || (debit && firm_holding)
                        || (!debit && client_holding)
                }
                // Moves between holdings of any class are judged by the segregation check,
                // which names a client-to-firm sweep for what it is.
                MovementKind::Rebalance => holding_class.is_some(),
                MovementKind::FirmFunding => (debit && firm_holding) || (!debit && posting.slot == Slot::Own(OwnAccount::Capital)),
                MovementKind::FirmWithdrawal => (debit && posting.slot == Slot::Own(OwnAccount::Capital)) || (!debit && firm_holding),
                MovementKind::Correction => true,
            };
            if !allowed {
                let side = if debit { "debit" } else { "credit" };
                let account = self.slot_name(posting.slot);
                let status = if holding_class.is_some() { Status::WrongWalletClass } else { Status::PostingNotAllowed };
                return reject(status, format!("a {} may not {side} {account}", kind_name(kind)));
            }
        }
        Ok(())
    }

    fn segment(&self, slot: Slot) -> Segment {
        match slot {
            Slot::Own(_) => Segment::Firm,
            Slot::Position(client) => self.client_segments[client as usize],
            Slot::Holding(wallet) => self.wallet_segments[wallet as usize],
        }
    }

    fn check_segregation(&self, resolved: &[Resolved], sums: &mut Vec<(Segment, u32, u128, u128)>) -> Check<()> {
        sums.clear();
        for posting in resolved {
            let segment = self.segment(posting.slot);
            let index = match sums.iter().position(|(s, asset, _, _)| *s == segment && *asset == posting.asset) {
                Some(index) => index,
                None => {
                    sums.push((segment, posting.asset, 0, 0));
                    sums.len() - 1
                }
            };
            let entry = &mut sums[index];
            let total = if posting.side == Side::Debit { &mut entry.2 } else { &mut entry.3 };
            // Cannot overflow: the per-asset sums, which include these, did not.
            *total += posting.amount;
        }
        if let Some((_, asset, debits, credits)) =
            sums.iter().find(|(segment, _, debits, credits)| *segment == Segment::Firm && debits != credits)
        {
            let direction =
                if debits > credits { "from client assets into the firm's" } else { "from the firm's assets into client assets" };
            return reject(
                Status::SegregationBreach,
                format!(
                    "{} of {} would move {direction} without a posting on both sides (a client debit for a fee is such a posting)",
                    debits.abs_diff(*credits),
                    self.asset_id(*asset)
                ),
            );
        }
        if let Some((segment, asset, debits, credits)) = sums.iter().find(|(_, _, debits, credits)| debits != credits) {
            let whose = match segment {
                Segment::Individual(client) => format!("individually segregated client {}'s", self.clients[*client as usize].value.id),
                _ => "the omnibus clients'".to_owned(),
            };
            return reject(
                Status::IndividualSegregationBreach,
                format!(
                    "{} of {} of {whose} assets would sit outside their wallets; move the holding between the clients' wallets in the same movement",
                    debits.abs_diff(*credits),
                    self.asset_id(*asset)
                ),
            );
        }
        Ok(())
    }

    fn check_sub_custody(&self, meta: &Meta, deltas: &[Delta]) -> Check<()> {
        for delta in deltas {
            let Slot::Holding(wallet) = delta.slot else { continue };
            if delta.increase <= delta.decrease {
                continue;
            }
            let wallet = &self.wallets[wallet as usize].value;
            if let Custodian::SubCustodian(sub) = &wallet.custodian {
                let sub = &self.sub_custodians[self.sub_custodian_index[sub] as usize].value;
                if !sub.authorised_at(meta.effective_at) {
                    return reject(
                        Status::SubCustodianNotAuthorised,
                        format!(
                            "wallet {} is held at sub-custodian {}, whose authorisation is not live at the effective time",
                            wallet.id, sub.id
                        ),
                    );
                }
            }
        }
        Ok(())
    }

    fn check_balances(&self, deltas: &[Delta], updates: &mut Vec<u128>) -> Check<()> {
        let mut worst: Option<Outcome> = None;
        updates.clear();
        for delta in deltas {
            let current = self.balances.get(&(delta.slot, delta.asset)).copied().unwrap_or(0);
            let next = current.checked_add(delta.increase).map(|raised| raised.checked_sub(delta.decrease));
            let outcome = match next {
                Some(Some(next)) => {
                    updates.push(next);
                    continue;
                }
                None => Outcome::rejected(Status::AmountOverflow, format!("{} would exceed 2^128 - 1", self.slot_name(delta.slot))),
                Some(None) => {
                    let status = match delta.slot {
                        Slot::Position(_) => Status::PositionWouldGoNegative,
                        Slot::Holding(_) => Status::HoldingWouldGoNegative,
                        Slot::Own(_) => Status::OwnAccountWouldGoNegative,
                    };
                    let asset = self.asset_id(delta.asset);
                    Outcome::rejected(
                        status,
                        format!(
                            "{} has {current} of {asset}; this movement would take it to -{}",
                            self.slot_name(delta.slot),
                            (delta.decrease - delta.increase) - current
                        ),
                    )
                }
            };
            if worst.as_ref().is_none_or(|w| outcome.status < w.status) {
                worst = Some(outcome);
            }
        }
        match worst {
            Some(outcome) => Err(outcome),
            None => Ok(()),
        }
    }

    fn commit_movement(&mut self, movement: &Movement, plan: Plan, scratch: &Scratch) -> Result<(), InvariantViolation> {
        let seq = self.next_seq();
        for (delta, next) in scratch.deltas.iter().zip(&scratch.updates) {
            self.balances.insert((delta.slot, delta.asset), *next);
            self.update_totals(delta)?;
        }
        if let Some(target) = &plan.correction_target {
            let record =
                self.movements.get_mut(target).ok_or_else(|| InvariantViolation(format!("corrected movement {target} vanished")))?;
            record.correction = Correction::CorrectedBy(seq);
        }
        let correction = if plan.correction_target.is_some() { Correction::IsCorrection } else { Correction::Open };
        let record = MovementRecord { seq, command_digest: plan.command_digest, postings_digest: plan.postings_digest, correction };
        if self.movements.insert(movement.key.clone(), record).is_some() {
            return Err(InvariantViolation(format!("movement {} was recorded twice", movement.key)));
        }
        self.check_touched(&scratch.deltas)
    }

    fn update_totals(&mut self, delta: &Delta) -> Result<(), InvariantViolation> {
        fn apply(total: &mut u128, delta: &Delta) -> Result<(), InvariantViolation> {
            *total = total
                .checked_add(delta.increase)
                .and_then(|t| t.checked_sub(delta.decrease))
                .ok_or_else(|| InvariantViolation("a running total left the range of u128".to_owned()))?;
            Ok(())
        }
        let asset = delta.asset as usize;
        match delta.slot {
            Slot::Own(_) => apply(&mut self.totals[asset].own, delta),
            Slot::Position(client) => match self.clients[client as usize].value.segregation {
                Segregation::Individual => apply(&mut self.totals[asset].individual_positions, delta),
                Segregation::Omnibus => apply(&mut self.totals[asset].omnibus_positions, delta),
            },
            Slot::Holding(wallet) => {
                let wallet = &self.wallets[wallet as usize].value;
                let totals = &mut self.totals[asset];
                let hot = wallet.tier == Tier::Hot;
                match &wallet.class {
                    WalletClass::Firm => {
                        apply(&mut totals.firm_holdings, delta)?;
                        apply(if hot { &mut totals.firm_hot } else { &mut totals.firm_cold }, delta)
                    }
                    class => {
                        apply(if hot { &mut totals.client_hot } else { &mut totals.client_cold }, delta)?;
                        if let WalletClass::ClientIndividual(client) = class {
                            apply(&mut totals.individual_holdings, delta)?;
                            let client = self.client_index[client];
                            apply(self.individual_holdings.entry((client, delta.asset)).or_default(), delta)
                        } else {
                            apply(&mut totals.omnibus_holdings, delta)
                        }
                    }
                }
            }
        }
    }

    /// The always-on check: after each movement, the segregation equalities hold for every
    /// asset and individually segregated client it touched.
    fn check_touched(&self, deltas: &[Delta]) -> Result<(), InvariantViolation> {
        for delta in deltas {
            let totals = &self.totals[delta.asset as usize];
            check_totals(self.asset_id(delta.asset), totals)?;
            if let Segment::Individual(client) = self.segment(delta.slot) {
                let position = self.balances.get(&(Slot::Position(client), delta.asset)).copied().unwrap_or(0);
                let held = self.individual_holdings.get(&(client, delta.asset)).copied().unwrap_or(0);
                if position != held {
                    return Err(InvariantViolation(format!(
                        "client {} has a position of {position} of {} but their wallets hold {held}",
                        self.clients[client as usize].value.id,
                        self.asset_id(delta.asset)
                    )));
                }
            }
        }
        Ok(())
    }

    /// Recomputes every total from the balances and checks all six invariants of the
    /// register. O(accounts); run after every batch in debug builds, on open, and by tests.
    pub fn audit(&self) -> Result<(), InvariantViolation> {
        let mut totals = vec![Totals::default(); self.assets.len()];
        let mut individual: HashMap<(u32, u32), u128> = HashMap::default();
        let mut individual_positions: HashMap<(u32, u32), u128> = HashMap::default();
        let overflow = || InvariantViolation("a recomputed total exceeds 2^128 - 1".to_owned());
        for (&(slot, asset), &balance) in &self.balances {
            let t = &mut totals[asset as usize];
            let add = |total: &mut u128| -> Result<(), InvariantViolation> {
                *total = total.checked_add(balance).ok_or_else(overflow)?;
                Ok(())
            };
            match slot {
                Slot::Own(_) => add(&mut t.own)?,
                Slot::Position(client) => match self.clients[client as usize].value.segregation {
                    Segregation::Individual => {
                        add(&mut t.individual_positions)?;
                        add(individual_positions.entry((client, asset)).or_default())?;
                    }
                    Segregation::Omnibus => add(&mut t.omnibus_positions)?,
                },
                Slot::Holding(wallet) => {
                    let wallet = &self.wallets[wallet as usize].value;
                    let hot = wallet.tier == Tier::Hot;
                    match &wallet.class {
                        WalletClass::Firm => {
                            add(&mut t.firm_holdings)?;
                            add(if hot { &mut t.firm_hot } else { &mut t.firm_cold })?;
                        }
                        WalletClass::ClientOmnibus => {
                            add(&mut t.omnibus_holdings)?;
                            add(if hot { &mut t.client_hot } else { &mut t.client_cold })?;
                        }
                        WalletClass::ClientIndividual(client) => {
                            add(&mut t.individual_holdings)?;
                            add(if hot { &mut t.client_hot } else { &mut t.client_cold })?;
                            add(individual.entry((self.client_index[client], asset)).or_default())?;
                        }
                    }
                }
            }
        }
        for (index, (recomputed, running)) in totals.iter().zip(&self.totals).enumerate() {
            let asset = self.asset_id(index_of(index));
            if recomputed != running {
                return Err(InvariantViolation(format!(
                    "running totals of {asset} drifted: {running:?} but balances add up to {recomputed:?}"
                )));
            }
            check_totals(asset, recomputed)?;
        }
        for (key, &position) in &individual_positions {
            let held = individual.get(key).copied().unwrap_or(0);
            if held != position {
                let (client, asset) = *key;
                return Err(InvariantViolation(format!(
                    "client {} has {position} of {} but their wallets hold {held}",
                    self.clients[client as usize].value.id,
                    self.asset_id(asset)
                )));
            }
        }
        for (key, &held) in &individual {
            if held != 0 && !individual_positions.contains_key(key) {
                return Err(InvariantViolation("an individual wallet holds assets its client has no position for".to_owned()));
            }
        }
        for wallet in &self.wallets {
            let key_set = &self.key_sets[self.key_set_index[&wallet.value.key_set] as usize].value;
            if key_set.class != wallet.value.class.kind() {
                return Err(InvariantViolation(format!("wallet {} is served by key set {} of another class", wallet.value.id, key_set.id)));
            }
        }
        Ok(())
    }

    // ----- queries ---------------------------------------------------------------------

    fn asset_id(&self, index: u32) -> &AssetId {
        &self.assets[index as usize].value.id
    }

    fn slot_name(&self, slot: Slot) -> String {
        match slot {
            Slot::Position(client) => format!("client {}'s position", self.clients[client as usize].value.id),
            Slot::Holding(wallet) => {
                let wallet = &self.wallets[wallet as usize].value;
                format!("{} wallet {}", class_name(wallet.class.kind()), wallet.id)
            }
            Slot::Own(OwnAccount::Capital) => "the firm's capital account".to_owned(),
            Slot::Own(OwnAccount::FeeIncome) => "the firm's fee income account".to_owned(),
        }
    }

    fn slot_of(&self, account: &Account) -> Option<Slot> {
        Some(match account {
            Account::Position(client) => Slot::Position(*self.client_index.get(client)?),
            Account::Holding(wallet) => Slot::Holding(*self.wallet_index.get(wallet)?),
            Account::Own(own) => Slot::Own(*own),
        })
    }

    /// The balance of an account in an asset now; `None` if the account or asset is unknown.
    pub fn balance(&self, account: &Account, asset: &AssetId) -> Option<Amount> {
        let slot = self.slot_of(account)?;
        let asset = *self.asset_index.get(asset)?;
        Some(Amount::new(self.balances.get(&(slot, asset)).copied().unwrap_or(0)))
    }

    /// Every non-zero balance of an account, by asset; `None` if the account is unknown.
    pub fn balances_of(&self, account: &Account) -> Option<Vec<(AssetId, Amount)>> {
        let slot = self.slot_of(account)?;
        Some(
            self.assets
                .iter()
                .enumerate()
                .filter_map(|(index, asset)| {
                    let balance = self.balances.get(&(slot, index_of(index))).copied().unwrap_or(0);
                    (balance != 0).then(|| (asset.value.id.clone(), Amount::new(balance)))
                })
                .collect(),
        )
    }

    /// The segregation summary, one row per asset in registration order.
    pub fn summary(&self) -> Vec<AssetSummary> {
        self.assets
            .iter()
            .zip(&self.totals)
            .map(|(asset, t)| AssetSummary {
                asset: asset.value.clone(),
                client_positions: Amount::new(t.individual_positions + t.omnibus_positions),
                client_holdings: Amount::new(t.individual_holdings + t.omnibus_holdings),
                firm_holdings: Amount::new(t.firm_holdings),
                own_accounts: Amount::new(t.own),
                client_hot: Amount::new(t.client_hot),
                client_cold: Amount::new(t.client_cold),
                firm_hot: Amount::new(t.firm_hot),
                firm_cold: Amount::new(t.firm_cold),
            })
            .collect()
    }

    pub fn asset(&self, id: &AssetId) -> Option<&Asset> {
        self.asset_index.get(id).map(|&i| &self.assets[i as usize].value)
    }
    pub fn assets(&self) -> impl Iterator<Item = &Asset> {
        self.assets.iter().map(|r| &r.value)
    }
    pub fn client(&self, id: &ClientId) -> Option<&Client> {
        self.client_index.get(id).map(|&i| &self.clients[i as usize].value)
    }
    pub fn clients(&self) -> impl Iterator<Item = &Client> {
        self.clients.iter().map(|r| &r.value)
    }
    pub fn wallet(&self, id: &WalletId) -> Option<&Wallet> {
        self.wallet_index.get(id).map(|&i| &self.wallets[i as usize].value)
    }
    pub fn wallets(&self) -> impl Iterator<Item = &Wallet> {
        self.wallets.iter().map(|r| &r.value)
    }
    pub fn key_sets(&self) -> impl Iterator<Item = &KeySet> {
        self.key_sets.iter().map(|r| &r.value)
    }
    pub fn sub_custodians(&self) -> impl Iterator<Item = &SubCustodian> {
        self.sub_custodians.iter().map(|r| &r.value)
    }
    /// The sequence number at which a movement was recorded.
    pub fn movement_seq(&self, key: &IdempotencyKey) -> Option<u64> {
        self.movements.get(key).map(|r| r.seq)
    }
    /// How many movements have been accepted.
    pub fn movement_count(&self) -> usize {
        self.movements.len()
    }
}

/// The checks' verdict, carried to the commit so nothing is computed twice.
#[derive(Debug)]
struct Plan {
    command_digest: Digest,
    postings_digest: Digest,
    correction_target: Option<IdempotencyKey>,
}

/// The net change of one account in one asset within a movement.
#[derive(Debug, Clone, Copy)]
struct Delta {
    slot: Slot,
    asset: u32,
    increase: u128,
    decrease: u128,
}

fn net_deltas(resolved: &[Resolved], deltas: &mut Vec<Delta>) -> Check<()> {
    deltas.clear();
    for posting in resolved {
        // Holdings are debit-normal; positions and own accounts credit-normal.
        let increases = match posting.slot {
            Slot::Holding(_) => posting.side == Side::Debit,
            Slot::Position(_) | Slot::Own(_) => posting.side == Side::Credit,
        };
        let index = match deltas.iter().position(|d| d.slot == posting.slot && d.asset == posting.asset) {
            Some(index) => index,
            None => {
                deltas.push(Delta { slot: posting.slot, asset: posting.asset, increase: 0, decrease: 0 });
                deltas.len() - 1
            }
        };
        let delta = &mut deltas[index];
        let side = if increases { &mut delta.increase } else { &mut delta.decrease };
        *side = side
            .checked_add(posting.amount)
            .ok_or_else(|| Outcome::rejected(Status::AmountOverflow, "the postings add up to more than 2^128 - 1"))?;
    }
    Ok(())
}

fn check_totals(asset: &AssetId, t: &Totals) -> Result<(), InvariantViolation> {
    if t.omnibus_positions != t.omnibus_holdings {
        return Err(InvariantViolation(format!(
            "{asset}: omnibus positions {} but omnibus wallets hold {}",
            t.omnibus_positions, t.omnibus_holdings
        )));
    }
    if t.individual_positions != t.individual_holdings {
        return Err(InvariantViolation(format!(
            "{asset}: individual positions {} but individual wallets hold {}",
            t.individual_positions, t.individual_holdings
        )));
    }
    if t.firm_holdings != t.own {
        return Err(InvariantViolation(format!("{asset}: firm wallets hold {} but own accounts are {}", t.firm_holdings, t.own)));
    }
    let client_holdings = t.individual_holdings + t.omnibus_holdings;
    if t.client_hot + t.client_cold != client_holdings || t.firm_hot + t.firm_cold != t.firm_holdings {
        return Err(InvariantViolation(format!("{asset}: hot and cold holdings do not add up to the holdings")));
    }
    Ok(())
}

fn existing<T: PartialEq>(registered: &Registered<T>, candidate: &T, what: &str, id: &str) -> Check<Outcome> {
    if registered.value == *candidate {
        Err(Outcome::already_exists(registered.seq))
    } else {
        reject(Status::EntityConflict, format!("{what} {id} is already registered (sequence {}) with different details", registered.seq))
    }
}

fn index_of(length: usize) -> u32 {
    u32::try_from(length).expect("fewer than 2^32 entities of one kind")
}

pub fn class_name(class: ClassKind) -> &'static str {
    match class {
        ClassKind::ClientIndividual => "client-individual",
        ClassKind::ClientOmnibus => "client-omnibus",
        ClassKind::Firm => "firm",
    }
}

pub fn kind_name(kind: MovementKind) -> &'static str {
    match kind {
        MovementKind::Deposit => "deposit",
        MovementKind::Withdrawal => "withdrawal",
        MovementKind::Transfer => "transfer",
        MovementKind::Fee => "fee",
        MovementKind::Rebalance => "rebalance",
        MovementKind::FirmFunding => "firm_funding",
        MovementKind::FirmWithdrawal => "firm_withdrawal",
        MovementKind::Correction => "correction",
    }
}
