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

mod access;
mod checkpoint;
pub use checkpoint::STATE_LAYOUT;
mod four_eyes;
pub use four_eyes::{CORRECTIONS_GATED_FROM, TRANSFERS_BALANCED_FROM};
mod movements;
pub use movements::{MovedMovements, MovementLookup, MovementMap};
mod oversight;
mod prices;
mod safeguard;
mod statements;
pub use statements::ISSUE_17_RULES_FROM;

pub use access::{KeySetAccess, SharedSigner};
pub use oversight::RunRecord;
pub use safeguard::{
    AssessmentRecord, CheckRecord, ColdPool, FiatAccountRecord, ISSUE_15_RULES_FROM, InstitutionReview, InstructionRecord, ReceiptRecord,
    share_bp, share_bp_rounded, share_exceeds,
};

use sha2::{Digest as _, Sha256};

use crate::amount::Amount;
use crate::codec::Encoder;
use crate::entity::{
    ApiToken, Asset, ClassKind, Client, Custodian, KeySet, Segregation, SigningKey, SubCustodian, Tier, Wallet, WalletClass,
};
use crate::ids::{AssetId, ClientId, IdempotencyKey, KeySetId, SubCustodianId, TokenId, WalletId};
use crate::movement::{Account, Action, Command, Meta, Movement, MovementKind, OwnAccount, POSTINGS_MAX, Posting, Side};
use crate::status::{Outcome, Status};
use crate::time::Timestamp;

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

fn key_digest(key: &IdempotencyKey) -> Digest {
    digest(key.as_str().as_bytes())
}

fn postings_digest(encoder: &mut Encoder, postings: &[Posting]) -> Digest {
    encoder.bytes.clear();
    for posting in postings {
        encoder.posting(posting);
    }
    digest(&encoder.bytes)
}

/// What the register keeps between commands without it being state: buffers that save
/// allocations, and the context of the command being applied. Not in a checkpoint, and equal
/// whatever it holds.
#[derive(Debug, Default, Clone)]
struct Transient<T>(T);

impl<T> PartialEq for Transient<T> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl<T> std::ops::Deref for Transient<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> std::ops::DerefMut for Transient<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

/// Buffers reused from one movement to the next, so deciding a movement does not allocate.
#[derive(Debug, Default, Clone)]
struct Scratch {
    resolved: Vec<Resolved>,
    sums: Vec<(u32, Wide, Wide)>,
    segments: Vec<(Segment, u32, Wide, Wide)>,
    deltas: Vec<Delta>,
    /// The net change of each delta, in the same order.
    nets: Vec<Change>,
    /// The balance before the movement of each delta's account, in the same order.
    currents: Vec<u128>,
    /// The new balance for each delta, in the same order.
    updates: Vec<u128>,
    /// The running totals of each touched asset after the movement.
    totals: Vec<(u32, Totals)>,
    /// What each touched individually segregated client's wallets hold after the movement.
    individual: Vec<((u32, u32), u128)>,
    /// Running-total changes per asset and field: increases, decreases.
    fields: Vec<(u32, TotalField, Wide, Wide)>,
    /// Individual clients' wallet changes per client and asset: increases, decreases.
    individual_changes: Vec<((u32, u32), Wide, Wide)>,
    /// A broken invariant noticed while deciding; the commit refuses to proceed.
    bug: Option<String>,
}

/// A sum of at most `POSTINGS_MAX` amounts, which may exceed u128: wide enough that adding
/// postings never overflows, so an overflow is reported only where `Status` order puts it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
struct Wide {
    carry: u32,
    low: u128,
}

/// A net change of one account: up or down by an amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Up(u128),
    Down(u128),
}

impl Wide {
    fn add(&mut self, amount: u128) {
        let (low, carried) = self.low.overflowing_add(amount);
        self.low = low;
        self.carry += u32::from(carried);
    }

    fn add_wide(&mut self, other: Wide) {
        self.add(other.low);
        self.carry += other.carry;
    }

    /// `a - b` when it fits a u128 either way.
    fn net(a: Wide, b: Wide) -> Option<Change> {
        let (big, small, up) = if a >= b { (a, b, true) } else { (b, a, false) };
        let (low, borrowed) = big.low.overflowing_sub(small.low);
        let carry = big.carry - small.carry - u32::from(borrowed);
        if carry != 0 {
            return None;
        }
        Some(if up { Change::Up(low) } else { Change::Down(low) })
    }

    fn difference(a: Wide, b: Wide) -> String {
        match Wide::net(a, b) {
            Some(Change::Up(amount) | Change::Down(amount)) => amount.to_string(),
            None => "more than 2^128 - 1".to_owned(),
        }
    }
}

impl std::fmt::Display for Wide {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.carry == 0 { write!(f, "{}", self.low) } else { f.write_str("more than 2^128 - 1") }
    }
}

/// One of the running totals of an asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TotalField {
    IndividualPositions,
    OmnibusPositions,
    IndividualHoldings,
    OmnibusHoldings,
    FirmHoldings,
    Own,
    ClientHot,
    ClientCold,
    FirmHot,
    FirmCold,
}

/// An account resolved to the register's internal indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
enum Slot {
    Position(u32),
    Holding(u32),
    Own(OwnAccount),
}

/// Which side of the segregation wall an account is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
enum Segment {
    Firm,
    Omnibus,
    Individual(u32),
}

/// Whether a movement was corrected, or is itself a correction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Correction {
    /// An ordinary movement, not (yet) corrected.
    Open,
    /// Reversed by the correction at this sequence number.
    CorrectedBy(u64),
    /// Itself a correction.
    Reversal,
}

/// What idempotency and corrections need of an accepted movement: where it was recorded,
/// digests of its command and of its postings, and whether it was corrected.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MovementRecord {
    pub seq: u64,
    pub command_digest: [u8; 16],
    pub postings_digest: [u8; 16],
    pub correction: Correction,
}

/// Running totals of one asset, kept up to date by every movement.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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

/// A journal signing key with the entries that registered and (if so) retired it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SigningKeyRecord {
    pub key: SigningKey,
    pub registered: u64,
    pub retired: Option<u64>,
}

impl SigningKeyRecord {
    /// Whether the key may sign a commit whose entries are `first..=last`: registered at or
    /// before `last` (the commit that registers a key may be signed by it) and not retired
    /// before `first` (the commit that retires a key may still be signed by it).
    pub fn may_sign(&self, first: u64, last: u64) -> bool {
        self.registered <= last && self.retired.is_none_or(|retired| retired >= first)
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Registered<T> {
    value: T,
    seq: u64,
}

impl Totals {
    fn field_mut(&mut self, field: TotalField) -> &mut u128 {
        match field {
            TotalField::IndividualPositions => &mut self.individual_positions,
            TotalField::OmnibusPositions => &mut self.omnibus_positions,
            TotalField::IndividualHoldings => &mut self.individual_holdings,
            TotalField::OmnibusHoldings => &mut self.omnibus_holdings,
            TotalField::FirmHoldings => &mut self.firm_holdings,
            TotalField::Own => &mut self.own,
            TotalField::ClientHot => &mut self.client_hot,
            TotalField::ClientCold => &mut self.client_cold,
            TotalField::FirmHot => &mut self.firm_hot,
            TotalField::FirmCold => &mut self.firm_cold,
        }
    }
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
/// It is `Serialize` for checkpoints ([`Register::snapshot`]) and `PartialEq` so that a state
/// restored from one can be compared with the state a full replay gives.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
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
    /// Sub-custodians with their current authorisation.
    sub_custodians: Vec<Registered<SubCustodian>>,
    /// Sub-custodians as first registered, which a repeated registration is compared with.
    sub_custodian_registrations: Vec<Registered<SubCustodian>>,
    sub_custodian_index: HashMap<SubCustodianId, u32>,
    /// API tokens, and the sequence number of each one's revocation.
    tokens: Vec<Registered<ApiToken>>,
    token_revocations: Vec<Option<u64>>,
    token_index: HashMap<TokenId, u32>,
    /// Journal signing keys, in registration order, with the sequence number of each one's
    /// retirement.
    signing_keys: Vec<SigningKeyRecord>,
    balances: HashMap<(Slot, u32), u128>,
    /// Per individually segregated client and asset: what that client's wallets hold.
    individual_holdings: HashMap<(u32, u32), u128>,
    /// Movements after `log_floor` (and older ones corrected since they moved out) by the
    /// SHA-256 (first 16 bytes) of their idempotency key: fixed-size keys hash cheaply and
    /// cannot be made to collide. Older ones are in the store's movement index.
    movements: HashMap<Digest, MovementRecord>,
    /// Every key moved to the movement index, as a filter: a key it does not hold is new.
    filter: movements::KeyFilter,
    /// Movements accepted, in all.
    movement_count: u64,
    /// Records read back since the last move (and, in a verification replay, every record
    /// moved out): not state.
    #[serde(skip)]
    cache: Transient<HashMap<Digest, MovementRecord>>,
    /// The store's index holds every record up to this entry, committed (the last move's
    /// are in `recent` until the batch that writes them commits): not state.
    #[serde(skip)]
    indexed_floor: Transient<u64>,
    /// Records the last move took out (until the next, by then committed): not state.
    #[serde(skip)]
    recent: Transient<std::sync::Arc<movements::MovementMap>>,
    #[serde(skip)]
    lookup: Transient<movements::Lookup>,
    /// Records moved out stay in `cache` (a verification replay).
    #[serde(skip)]
    keep_moved: Transient<bool>,
    /// The key and key digest of the movement the command being applied decides (set by
    /// `prefetch_movements`), so that the key is hashed once.
    #[serde(skip)]
    prefetched: Transient<Option<(IdempotencyKey, Digest)>>,
    /// The accepted postings after `log_floor` by account and asset, in journal order: for
    /// balances at an instant of effective time and for histories. The store moves older ones
    /// to its posting index and raises the floor ([`Register::raise_log_floor`]), so this
    /// holds a bounded tail of history; a register no store manages keeps every posting.
    log: HashMap<(Slot, u32), Vec<Logged>>,
    /// Postings of entries up to here are not in `log` (0: none left out).
    log_floor: u64,
    seq: u64,
    #[serde(skip)]
    encoder: Transient<Encoder>,
    #[serde(skip)]
    postings_encoder: Transient<Encoder>,
    #[serde(skip)]
    scratch: Transient<Scratch>,
    /// Wallets as first registered, for those changed since (a repeated registration is
    /// compared with it), by wallet index.
    wallet_registrations: HashMap<u32, Registered<Wallet>>,
    /// The approval policy and pending instructions.
    four_eyes: four_eyes::FourEyes,
    /// Chain watches, linkage, reconciliation runs and exceptions.
    oversight: oversight::Oversight,
    /// Safeguarding policy, client instructions, encumbrance and client fiat funds.
    safeguards: safeguard::Safeguards,
    /// The recorded time of the command being applied: four-eyes deadlines run on it. Set
    /// before each command is decided, so not state (a refused command sets it too).
    #[serde(skip)]
    now: Transient<Timestamp>,
    /// The latest effective time of any accepted movement.
    latest_effective: Timestamp,
    /// Prices per asset and fiat currency (issue 17).
    prices: prices::Prices,
    /// Statements issued to clients (issue 17).
    statements: statements::Statements,
    /// From when each client's next statement is counted (issue 17).
    statement_clock: statements::StatementClock,
    /// Insolvency packs made (issue 18), in the order recorded.
    packs: Vec<crate::statement::IssuedPack>,
    /// Losses and compensations per client position (issue 18), in journal order: few.
    loss_events: Vec<crate::statement::LossEvent>,
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

    /// Applies one command, recorded at its own effective time (for tests and tools; the store
    /// uses [`Register::apply_at`] with the journal's recorded time).
    pub fn apply(&mut self, command: &Command) -> Result<Outcome, InvariantViolation> {
        self.apply_at(command, command.meta.effective_at)
    }

    /// Applies one command recorded at `recorded_at`. Four-eyes deadlines are measured on the
    /// recorded time, so a replay of the journal decides exactly as the first time.
    pub fn apply_at(&mut self, command: &Command, recorded_at: Timestamp) -> Result<Outcome, InvariantViolation> {
        self.now.0 = recorded_at;
        self.prefetch_movements(command)?;
        let before = self.seq;
        let outcome = match self.four_eyes(command)? {
            Some(outcome) => outcome,
            None => self.decide(command)?,
        };
        // Pair assertion: the sequence advances by one exactly when a command gets an entry.
        let advanced = self.seq - before;
        if advanced != u64::from(outcome.status.is_journaled()) {
            return Err(InvariantViolation(format!("sequence advanced by {advanced} for status {}", outcome.status)));
        }
        Ok(outcome)
    }

    /// Decides a command on its merits, without four-eyes control. Movements, nearly every
    /// command, take a short path of their own so that it stays small enough to inline (a
    /// difference `ringfence bench` measures); every other command goes through the one match.
    fn decide(&mut self, command: &Command) -> Result<Outcome, InvariantViolation> {
        match &command.action {
            Action::Movement(movement) => self.decide_movement(&command.meta, movement),
            _ => self.decide_command(command),
        }
    }

    fn decide_movement(&mut self, meta: &Meta, movement: &Movement) -> Result<Outcome, InvariantViolation> {
        let mut scratch = std::mem::take(&mut self.scratch);
        let decided = match self.check_movement(meta, movement, &mut scratch) {
            Ok(plan) => self.commit_movement(meta, movement, plan, &scratch).map(|()| Outcome::accepted(self.seq)),
            Err(outcome) => Ok(outcome),
        };
        self.scratch = scratch;
        decided
    }

    /// Decides any command: one exhaustive `match` over `Action` with no wildcard, so a new
    /// action does not compile until it is given its decision here. Every decision is check,
    /// then commit: the check half reads the register and refuses with the first rule broken
    /// in `Status` order; the commit half mutates and cannot refuse.
    #[inline(never)]
    fn decide_command(&mut self, command: &Command) -> Result<Outcome, InvariantViolation> {
        let meta = &command.meta;
        let decided = match &command.action {
            Action::Movement(movement) => return self.decide_movement(meta, movement),
            Action::RegisterAsset(asset) => self.check_asset(asset).map(|()| self.commit_asset(asset)),
            Action::RegisterClient(client) => self.check_client(client).map(|()| self.commit_client(client)),
            Action::RegisterSubCustodian(sub) => self.check_sub_custodian(sub).map(|()| self.commit_sub_custodian(sub)),
            Action::UpdateSubCustodianAuthorisation { id, reference, valid_until } => {
                self.check_authorisation(id, reference, *valid_until).map(|index| self.commit_authorisation(index, reference, *valid_until))
            }
            Action::RegisterKeySet(key_set) => self.check_key_set(key_set).map(|()| self.commit_key_set(key_set)),
            Action::RegisterWallet(wallet) => self.check_wallet(meta, wallet).map(|segment| self.commit_wallet(wallet, segment)),
            Action::ChangeWallet(wallet) => self.check_wallet_change(meta, wallet).map(|index| self.commit_wallet_change(wallet, index)),
            Action::RegisterApiToken(token) => self.check_token(token).map(|()| self.commit_token(token)),
            Action::RevokeApiToken { id } => self.check_revocation(id).map(|index| self.commit_revocation(index)),
            Action::SetApprovalPolicy(policy) => self.set_policy(policy),
            Action::ApprovePending { id } | Action::RejectPending { id, .. } | Action::ExpirePending { id } => {
                reject(Status::UnknownPending, format!("pending instruction {id}: approvals are decided by four-eyes control"))
            }
            Action::WatchChain { chain, from_block } => self.watch_chain(chain, *from_block),
            Action::ObserveChain(observation) => self.observe_chain(observation),
            Action::RecordReconRun(run) => self.record_run(meta, run),
            Action::SetExceptionPolicy(policy) => self.set_exception_policy(policy),
            Action::InvestigateException { id } => self.investigate(meta, *id),
            Action::ProposeResolution { id, reason, resolution } => self.propose_resolution(meta, *id, reason, resolution),
            Action::ApproveResolution { id } => self.approve_resolution(meta, *id),
            Action::RejectResolution { id, reason } => self.reject_resolution(meta, *id, reason),
            Action::EscalateException { id } => self.escalate(*id),
            Action::Safeguard(action) => self.decide_safeguard(meta, action),
            Action::RegisterSigningKey(key) => self.check_signing_key(key).map(|()| self.commit_signing_key(key)),
            Action::RetireSigningKey { public_key } => self.check_key_retirement(public_key).map(|index| self.commit_key_retirement(index)),
            Action::RecordPrice(price) => self.check_price(meta, price).map(|()| self.commit_price(meta, price)),
            Action::RecordStatement(issue) => self.check_statement(issue).map(|()| self.commit_statement(issue)),
            Action::RecordPack(issue) => self.check_pack(issue).map(|()| self.commit_pack(issue)),
        };
        Ok(match decided {
            Ok(outcome) | Err(outcome) => outcome,
        })
    }

    /// What idempotency compares: the movement itself (key, kind, postings, correction
    /// target). A retry may come from another operator or with a default time filled in later,
    /// so the actor, instruction and effective time of the original stand and are not compared.
    /// Returns the movement's digest and its postings' digest (kept for corrections); the
    /// postings are hashed once and the movement's digest covers theirs.
    fn movement_digests(&mut self, movement: &Movement) -> (Digest, Digest) {
        let postings = postings_digest(&mut self.postings_encoder, &movement.postings);
        let encoder = &mut self.encoder;
        encoder.bytes.clear();
        encoder.str(movement.key.as_str());
        encoder.u8(movement.kind.tag());
        match &movement.corrects {
            None => encoder.u8(0),
            Some(key) => {
                encoder.u8(1);
                encoder.str(key.as_str());
            }
        }
        encoder.raw(&postings);
        (digest(&encoder.bytes), postings)
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    // ----- registrations ---------------------------------------------------------------

    /// An asset can be registered: `Err` with `already_exists`, `entity_conflict` or
    /// `invalid_scale` otherwise.
    fn check_asset(&self, asset: &Asset) -> Check<()> {
        if let Some(&index) = self.asset_index.get(&asset.id) {
            return existing(&self.assets[index as usize], asset, "asset", asset.id.as_str()).map(|_| ());
        }
        if asset.scale > crate::amount::SCALE_MAX {
            return reject(
                Status::InvalidScale,
                format!("asset {} has scale {}; at most 38 decimals fit in a u128", asset.id, asset.scale),
            );
        }
        Ok(())
    }

    fn commit_asset(&mut self, asset: &Asset) -> Outcome {
        let index = index_of(self.assets.len());
        let seq = self.next_seq();
        self.assets.push(Registered { value: asset.clone(), seq });
        self.totals.push(Totals::default());
        self.asset_index.insert(asset.id.clone(), index);
        Outcome::accepted(seq)
    }

    /// A client can be registered: `Err` with `already_exists` or `entity_conflict` otherwise.
    fn check_client(&self, client: &Client) -> Check<()> {
        match self.client_index.get(&client.id) {
            Some(&index) => existing(&self.clients[index as usize], client, "client", client.id.as_str()).map(|_| ()),
            None => Ok(()),
        }
    }

    fn commit_client(&mut self, client: &Client) -> Outcome {
        let index = index_of(self.clients.len());
        let seq = self.next_seq();
        self.clients.push(Registered { value: client.clone(), seq });
        self.client_segments.push(match client.segregation {
            Segregation::Individual => Segment::Individual(index),
            Segregation::Omnibus => Segment::Omnibus,
        });
        self.client_index.insert(client.id.clone(), index);
        self.statement_clock.registered(index, *self.now);
        Outcome::accepted(seq)
    }

    fn commit_sub_custodian(&mut self, sub: &SubCustodian) -> Outcome {
        let index = index_of(self.sub_custodians.len());
        let seq = self.next_seq();
        self.sub_custodians.push(Registered { value: sub.clone(), seq });
        self.sub_custodian_registrations.push(Registered { value: sub.clone(), seq });
        self.sub_custodian_index.insert(sub.id.clone(), index);
        Outcome::accepted(seq)
    }

    fn commit_authorisation(&mut self, index: u32, reference: &str, valid_until: Timestamp) -> Outcome {
        let seq = self.next_seq();
        let entry = &mut self.sub_custodians[index as usize];
        entry.value.reference = reference.to_owned();
        entry.value.valid_until = valid_until;
        entry.seq = seq;
        Outcome::accepted(seq)
    }

    fn commit_key_set(&mut self, key_set: &KeySet) -> Outcome {
        let index = index_of(self.key_sets.len());
        let seq = self.next_seq();
        self.key_sets.push(Registered { value: key_set.clone(), seq });
        self.key_set_index.insert(key_set.id.clone(), index);
        Outcome::accepted(seq)
    }

    /// An API token can be registered: `Err` with `already_exists`, `entity_conflict`,
    /// `unknown_client` or `invalid_token_roles` otherwise.
    fn check_token(&self, token: &ApiToken) -> Check<()> {
        if let Some(&index) = self.token_index.get(&token.id) {
            return existing(&self.tokens[index as usize], token, "token", token.id.as_str()).map(|_| ());
        }
        if let Some(client) = &token.client
            && !self.client_index.contains_key(client)
        {
            return reject(Status::UnknownClient, format!("client {client} is not registered"));
        }
        if let Some(problem) = token.roles_problem() {
            return reject(Status::InvalidTokenRoles, format!("token {}: {problem}", token.id));
        }
        Ok(())
    }

    fn commit_token(&mut self, token: &ApiToken) -> Outcome {
        let index = index_of(self.tokens.len());
        let seq = self.next_seq();
        self.tokens.push(Registered { value: token.clone(), seq });
        self.token_revocations.push(None);
        self.token_index.insert(token.id.clone(), index);
        Outcome::accepted(seq)
    }

    /// A token can be revoked: its index, or `Err` with `unknown_token` or (revoked before)
    /// `already_exists`.
    fn check_revocation(&self, id: &TokenId) -> Check<u32> {
        let Some(&index) = self.token_index.get(id) else {
            return reject(Status::UnknownToken, format!("token {id} is not registered"));
        };
        match self.token_revocations[index as usize] {
            Some(seq) => Err(Outcome::already_exists(seq)),
            None => Ok(index),
        }
    }

    fn commit_revocation(&mut self, index: u32) -> Outcome {
        let seq = self.next_seq();
        self.token_revocations[index as usize] = Some(seq);
        Outcome::accepted(seq)
    }

    /// A signing key can be registered: `Err` with `already_exists`, or `invalid_signing_key`
    /// (a retired key never comes back; a label is 1 to 200 characters).
    pub(super) fn check_signing_key(&self, key: &SigningKey) -> Check<()> {
        if key.label.trim().is_empty() || key.label.chars().count() > 200 {
            return reject(Status::InvalidSigningKey, "a signing key's label is 1 to 200 characters");
        }
        let Some(record) = self.signing_keys.iter().find(|r| r.key.public_key == key.public_key) else {
            return Ok(());
        };
        let name = SigningKey::fingerprint(&key.public_key);
        match record.retired {
            Some(seq) => reject(
                Status::InvalidSigningKey,
                format!("signing key {name} was retired at entry {seq}; a retired key is not registered again"),
            ),
            None if record.key.label == key.label => Err(Outcome::already_exists(record.registered)),
            None => reject(Status::EntityConflict, format!("signing key {name} is registered with another label")),
        }
    }

    fn commit_signing_key(&mut self, key: &SigningKey) -> Outcome {
        let seq = self.next_seq();
        self.signing_keys.push(SigningKeyRecord { key: key.clone(), registered: seq, retired: None });
        Outcome::accepted(seq)
    }

    /// A signing key can be retired: its index, or `Err` with `unknown_signing_key`,
    /// `already_exists` (retired before) or `invalid_signing_key` (the last active key: the
    /// journal would have no key left to sign with).
    pub(super) fn check_key_retirement(&self, public_key: &[u8; 32]) -> Check<usize> {
        let name = SigningKey::fingerprint(public_key);
        let Some(index) = self.signing_keys.iter().position(|r| r.key.public_key == *public_key) else {
            return reject(Status::UnknownSigningKey, format!("signing key {name} is not registered"));
        };
        if let Some(seq) = self.signing_keys[index].retired {
            return Err(Outcome::already_exists(seq));
        }
        if self.signing_keys.iter().filter(|r| r.retired.is_none()).count() == 1 {
            return reject(
                Status::InvalidSigningKey,
                format!("signing key {name} is the last active key: register its successor first, then retire it"),
            );
        }
        Ok(index)
    }

    fn commit_key_retirement(&mut self, index: usize) -> Outcome {
        let seq = self.next_seq();
        self.signing_keys[index].retired = Some(seq);
        Outcome::accepted(seq)
    }

    // The check halves of the registrations four-eyes control can hold back: the register
    // calls them before it mutates, and `four_eyes::precheck` calls the same ones, so a
    // command that could never apply is refused at once rather than sent for approval.

    /// A key set can be registered: `Err` with `already_exists`, `entity_conflict` or
    /// `invalid_key_scheme` otherwise.
    pub(super) fn check_key_set(&self, key_set: &KeySet) -> Check<()> {
        if let Some(&index) = self.key_set_index.get(&key_set.id) {
            return existing(&self.key_sets[index as usize], key_set, "key set", key_set.id.as_str()).map(|_| ());
        }
        if let Some(problem) = key_set.scheme_problem() {
            return reject(Status::InvalidKeyScheme, format!("key set {}: {problem}", key_set.id));
        }
        Ok(())
    }

    /// A sub-custodian can be registered: `Err` with `already_exists` or `entity_conflict`.
    pub(super) fn check_sub_custodian(&self, sub: &SubCustodian) -> Check<()> {
        match self.sub_custodian_index.get(&sub.id) {
            Some(&index) => existing(&self.sub_custodian_registrations[index as usize], sub, "sub-custodian", sub.id.as_str()).map(|_| ()),
            None => Ok(()),
        }
    }

    /// A sub-custodian's authorisation can be updated: its index, or `Err` with
    /// `unknown_sub_custodian` or `already_exists`.
    pub(super) fn check_authorisation(&self, id: &SubCustodianId, reference: &str, valid_until: Timestamp) -> Check<u32> {
        let Some(&index) = self.sub_custodian_index.get(id) else {
            return reject(Status::UnknownSubCustodian, format!("sub-custodian {id} is not registered"));
        };
        let entry = &self.sub_custodians[index as usize];
        if entry.value.reference == reference && entry.value.valid_until == valid_until {
            return Err(Outcome::already_exists(entry.seq));
        }
        Ok(index)
    }

    /// Whether a wallet change can apply: same address and tier; a class change only when the
    /// wallet is empty; its key set, client and sub-custodian fit as for a registration.
    fn check_wallet_change(&self, meta: &Meta, wallet: &Wallet) -> Check<u32> {
        // In `Status` order: the first rule broken is the one reported (unknown entities, then
        // an invalid change, then a class, key set or authorisation that does not fit).
        let client_segregation = match &wallet.class {
            WalletClass::ClientIndividual(client) => match self.client_index.get(client) {
                None => return reject(Status::UnknownClient, format!("client {client} is not registered")),
                Some(&c) => Some((client, self.clients[c as usize].value.segregation)),
            },
            _ => None,
        };
        let Some(&index) = self.wallet_index.get(&wallet.id) else {
            return reject(Status::UnknownWallet, format!("wallet {} is not registered", wallet.id));
        };
        let current = &self.wallets[index as usize];
        if current.value == *wallet {
            return Err(Outcome::already_exists(current.seq));
        }
        let Some(&key_set) = self.key_set_index.get(&wallet.key_set) else {
            return reject(Status::UnknownKeySet, format!("key set {} is not registered", wallet.key_set));
        };
        let sub_custodian = match &wallet.custodian {
            Custodian::InHouse => None,
            Custodian::SubCustodian(sub) => match self.sub_custodian_index.get(sub) {
                None => return reject(Status::UnknownSubCustodian, format!("sub-custodian {sub} is not registered")),
                Some(&s) => Some((sub, &self.sub_custodians[s as usize].value)),
            },
        };
        if current.value.address != wallet.address || current.value.tier != wallet.tier {
            return reject(
                Status::InvalidWalletChange,
                format!("wallet {} keeps its address and tier; register a new wallet, or rebalance between tiers", wallet.id),
            );
        }
        if current.value.class != wallet.class
            && let Some((asset, amount)) = (0..index_of(self.assets.len()))
                .filter_map(|asset| self.balances.get(&(Slot::Holding(index), asset)).map(|amount| (asset, *amount)))
                .find(|(_, amount)| *amount != 0)
        {
            return reject(
                Status::InvalidWalletChange,
                format!(
                    "wallet {} still holds {amount} of {}; move it out before changing the wallet's class",
                    wallet.id, self.assets[asset as usize].value.id
                ),
            );
        }
        if let Some((client, segregation)) = client_segregation
            && segregation != Segregation::Individual
        {
            return reject(
                Status::WrongWalletClass,
                format!("client {client} is segregated in omnibus wallets; an individual wallet needs an individually segregated client"),
            );
        }
        self.check_key_set_class(key_set, wallet)?;
        if let Some((sub, registered)) = sub_custodian
            && !registered.authorised_at(meta.effective_at)
        {
            return reject(Status::SubCustodianNotAuthorised, format!("sub-custodian {sub} is not authorised at the effective time"));
        }
        Ok(index)
    }

    /// A key set serves wallets of its own class only.
    fn check_key_set_class(&self, key_set: u32, wallet: &Wallet) -> Check<()> {
        let key_set_class = self.key_sets[key_set as usize].value.class;
        if key_set_class != wallet.class.kind() {
            return reject(
                Status::KeySetClassMismatch,
                format!(
                    "key set {} serves {} wallets and cannot serve a {} wallet",
                    wallet.key_set,
                    key_set_class.code(),
                    wallet.class.kind().code()
                ),
            );
        }
        Ok(())
    }

    fn commit_wallet_change(&mut self, wallet: &Wallet, index: u32) -> Outcome {
        let seq = self.next_seq();
        let previous = std::mem::replace(&mut self.wallets[index as usize], Registered { value: wallet.clone(), seq });
        self.wallet_registrations.entry(index).or_insert(previous);
        self.wallet_segments[index as usize] = match &wallet.class {
            WalletClass::Firm => Segment::Firm,
            WalletClass::ClientOmnibus => Segment::Omnibus,
            WalletClass::ClientIndividual(client) => Segment::Individual(self.client_index[client]),
        };
        Outcome::accepted(seq)
    }

    /// A wallet can be registered: the segment its holdings count in, or `Err` with the first
    /// rule broken in `Status` order.
    fn check_wallet(&self, meta: &Meta, wallet: &Wallet) -> Check<Segment> {
        if let Some(&index) = self.wallet_index.get(&wallet.id) {
            let registered = self.wallet_registrations.get(&index).unwrap_or(&self.wallets[index as usize]);
            return existing(registered, wallet, "wallet", wallet.id.as_str()).map(|_| Segment::Firm);
        }
        // Checks in `Status` order.
        let client_index = match &wallet.class {
            WalletClass::ClientIndividual(client) => match self.client_index.get(client) {
                Some(&index) => Some(index),
                None => return reject(Status::UnknownClient, format!("client {client} is not registered")),
            },
            _ => None,
        };
        let Some(&key_set) = self.key_set_index.get(&wallet.key_set) else {
            return reject(Status::UnknownKeySet, format!("key set {} is not registered; register it before the wallet", wallet.key_set));
        };
        let sub_custodian = match &wallet.custodian {
            Custodian::SubCustodian(sub) => match self.sub_custodian_index.get(sub) {
                Some(&index) => Some(&self.sub_custodians[index as usize].value),
                None => return reject(Status::UnknownSubCustodian, format!("sub-custodian {sub} is not registered")),
            },
            Custodian::InHouse => None,
        };
        if let Some(&other) = self.address_index.get(wallet.address.as_str()) {
            return reject(
                Status::AddressInUse,
                format!("address {} already belongs to wallet {}", wallet.address, self.wallets[other as usize].value.id),
            );
        }
        if let Some(client) = client_index
            && self.clients[client as usize].value.segregation != Segregation::Individual
        {
            return reject(
                Status::WrongWalletClass,
                format!(
                    "client {} is segregated in omnibus wallets; an individual wallet needs an individually segregated client",
                    self.clients[client as usize].value.id
                ),
            );
        }
        self.check_key_set_class(key_set, wallet)?;
        if let Some(sub) = sub_custodian
            && !sub.authorised_at(meta.effective_at)
        {
            return reject(Status::SubCustodianNotAuthorised, format!("sub-custodian {} is not authorised at the effective time", sub.id));
        }
        Ok(match client_index {
            Some(client) => Segment::Individual(client),
            None if wallet.class == WalletClass::Firm => Segment::Firm,
            None => Segment::Omnibus,
        })
    }

    fn commit_wallet(&mut self, wallet: &Wallet, segment: Segment) -> Outcome {
        let index = index_of(self.wallets.len());
        let seq = self.next_seq();
        self.wallets.push(Registered { value: wallet.clone(), seq });
        self.wallet_segments.push(segment);
        self.wallet_index.insert(wallet.id.clone(), index);
        self.address_index.insert(wallet.address.as_str().to_owned(), index);
        Outcome::accepted(seq)
    }

    // ----- movements -------------------------------------------------------------------

    fn check_movement(&mut self, meta: &Meta, movement: &Movement, scratch: &mut Scratch) -> Check<Plan> {
        let (command_digest, postings_digest) = self.movement_digests(movement);
        let key = match &*self.prefetched {
            Some((prefetched, digest)) if *prefetched == movement.key => *digest,
            _ => key_digest(&movement.key),
        };
        if let Some(record) = self.known_movement(&key) {
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
        // Each rule is checked across all postings before the next rule, so the status
        // reported is the first broken rule in `Status` order, whatever the posting order.
        self.resolve(&movement.postings, &mut scratch.resolved)?;
        let correction_target = self.check_correction(movement)?;
        self.check_reward(meta, movement)?;
        self.check_chains(&movement.postings, &scratch.resolved)?;
        self.check_balanced(&scratch.resolved, &mut scratch.sums)?;
        self.check_shape(movement.kind, &scratch.resolved)?;
        self.check_segregation(&scratch.resolved, &mut scratch.segments)?;
        net_deltas(&scratch.resolved, &mut scratch.deltas);
        self.check_sub_custody(meta, &scratch.deltas)?;
        self.check_amounts(scratch)?;
        self.check_encumbered(scratch)?;
        Ok(Plan { key, command_digest, postings_digest, correction_target })
    }

    fn resolve(&self, postings: &[Posting], resolved: &mut Vec<Resolved>) -> Check<()> {
        resolved.clear();
        let mut assets = [0u32; POSTINGS_MAX];
        for (index, posting) in postings.iter().enumerate() {
            match self.asset_index.get(&posting.asset) {
                Some(&asset) => assets[index] = asset,
                None => return reject(Status::UnknownAsset, format!("asset {} is not registered", posting.asset)),
            }
        }
        let mut clients = [0u32; POSTINGS_MAX];
        for (index, posting) in postings.iter().enumerate() {
            if let Account::Position(client) = &posting.account {
                match self.client_index.get(client) {
                    Some(&client) => clients[index] = client,
                    None => return reject(Status::UnknownClient, format!("client {client} is not registered")),
                }
            }
        }
        for (index, posting) in postings.iter().enumerate() {
            let slot = match &posting.account {
                Account::Position(_) => Slot::Position(clients[index]),
                Account::Holding(wallet) => match self.wallet_index.get(wallet) {
                    Some(&wallet) => Slot::Holding(wallet),
                    None => return reject(Status::UnknownWallet, format!("wallet {wallet} is not registered")),
                },
                Account::Own(own) => Slot::Own(*own),
            };
            resolved.push(Resolved { side: posting.side, slot, asset: assets[index], amount: posting.amount.units() });
        }
        Ok(())
    }

    fn check_chains(&self, postings: &[Posting], resolved: &[Resolved]) -> Check<()> {
        for (posting, resolved) in postings.iter().zip(resolved) {
            if let Slot::Holding(wallet) = resolved.slot {
                let wallet = &self.wallets[wallet as usize].value;
                if wallet.address.chain() != posting.asset.chain() {
                    return reject(
                        Status::ChainMismatch,
                        format!(
                            "wallet {} is on chain {} but asset {} is on chain {}",
                            wallet.id,
                            wallet.address.chain(),
                            posting.asset,
                            posting.asset.chain()
                        ),
                    );
                }
            }
        }
        Ok(())
    }

    fn check_correction(&self, movement: &Movement) -> Check<Option<IdempotencyKey>> {
        match (movement.kind, &movement.corrects) {
            (MovementKind::Correction, None) => reject(Status::CorrectionTargetMissing, "a correction must name the movement it corrects"),
            (MovementKind::Correction, Some(target)) => {
                let Some(record) = self.known_movement(&key_digest(target)) else {
                    return reject(Status::UnknownMovement, format!("movement {target} does not exist"));
                };
                match record.correction {
                    Correction::Reversal => reject(
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

    fn check_balanced(&self, resolved: &[Resolved], sums: &mut Vec<(u32, Wide, Wide)>) -> Check<()> {
        // Postings are few (at most POSTINGS_MAX), so linear scans beat a map.
        sums.clear();
        for posting in resolved {
            let index = match sums.iter().position(|(asset, _, _)| *asset == posting.asset) {
                Some(index) => index,
                None => {
                    sums.push((posting.asset, Wide::default(), Wide::default()));
                    sums.len() - 1
                }
            };
            let entry = &mut sums[index];
            if posting.side == Side::Debit { entry.1.add(posting.amount) } else { entry.2.add(posting.amount) }
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

    fn holding_class(&self, slot: Slot) -> Option<ClassKind> {
        match slot {
            Slot::Holding(wallet) => Some(self.wallets[wallet as usize].value.class.kind()),
            _ => None,
        }
    }

    /// Which postings a kind of movement may carry: positions, own accounts and holdings of
    /// which class, on which side.
    fn allowed(&self, kind: MovementKind, posting: &Resolved, holding_class: Option<ClassKind>) -> bool {
        let client_holding = holding_class.is_some_and(ClassKind::is_client);
        let firm_holding = holding_class == Some(ClassKind::Firm);
        let position = matches!(posting.slot, Slot::Position(_));
        let debit = posting.side == Side::Debit;
        match kind {
            MovementKind::Deposit | MovementKind::Reward => {
                if debit {
                    client_holding
                } else {
                    position
                }
            }
            MovementKind::Withdrawal | MovementKind::Loss => {
                if debit {
                    position
                } else {
                    client_holding
                }
            }
            MovementKind::Compensation => {
                if debit {
                    posting.slot == Slot::Own(OwnAccount::Capital) || client_holding
                } else {
                    position || firm_holding
                }
            }
            MovementKind::Transfer => position || client_holding,
            MovementKind::Fee => {
                if debit {
                    position || firm_holding
                } else {
                    posting.slot == Slot::Own(OwnAccount::FeeIncome) || client_holding
                }
            }
            // Moves between holdings of any class are judged by the segregation check,
            // which names a client-to-firm sweep for what it is.
            MovementKind::Rebalance => holding_class.is_some(),
            MovementKind::FirmFunding => {
                if debit {
                    firm_holding
                } else {
                    posting.slot == Slot::Own(OwnAccount::Capital)
                }
            }
            MovementKind::FirmWithdrawal => {
                if debit {
                    matches!(posting.slot, Slot::Own(_))
                } else {
                    firm_holding
                }
            }
            MovementKind::Correction => true,
        }
    }

    fn check_shape(&self, kind: MovementKind, resolved: &[Resolved]) -> Check<()> {
        let refuse = |status, posting: &Resolved| {
            let side = if posting.side == Side::Debit { "debit" } else { "credit" };
            reject(status, format!("a {} may not {side} {}", kind.code(), self.slot_name(posting.slot)))
        };
        // Postings on accounts of the wrong kind first, then holdings of the wrong class.
        for posting in resolved {
            let holding_class = self.holding_class(posting.slot);
            if holding_class.is_none() && !self.allowed(kind, posting, None) {
                return refuse(Status::PostingNotAllowed, posting);
            }
        }
        for posting in resolved {
            let holding_class = self.holding_class(posting.slot);
            if holding_class.is_some() && !self.allowed(kind, posting, holding_class) {
                return refuse(Status::WrongWalletClass, posting);
            }
        }
        if kind == MovementKind::Transfer && self.now.0 >= TRANSFERS_BALANCED_FROM {
            // A transfer moves between positions and between wallets: a position debit that a
            // wallet credit balances is a withdrawal or a loss, with their rules (four-eyes).
            // Each asset once, in the order of its first posting (postings are few: no
            // allocation on the write path).
            let assets =
                resolved.iter().enumerate().filter(|(i, p)| resolved[..*i].iter().all(|q| q.asset != p.asset)).map(|(_, p)| p.asset);
            for asset in assets {
                let mut sums = [Wide::default(); 4];
                for posting in resolved.iter().filter(|p| p.asset == asset) {
                    let index = usize::from(matches!(posting.slot, Slot::Holding(_))) * 2 + usize::from(posting.side == Side::Credit);
                    sums[index].add(posting.amount);
                }
                if sums[0] != sums[1] || sums[2] != sums[3] {
                    return reject(
                        Status::PostingNotAllowed,
                        format!(
                            "a transfer moves {} between positions and between wallets: it debits positions {} and credits them {}, debits wallets {} and credits them {}; a withdrawal or a loss is its own kind",
                            self.asset_id(asset),
                            sums[0],
                            sums[1],
                            sums[2],
                            sums[3]
                        ),
                    );
                }
            }
        }
        if kind == MovementKind::Compensation {
            // Each client credit is paid from the firm's capital and moved into a client
            // wallet: capital debited = positions credited = client wallets debited, per asset.
            let assets =
                resolved.iter().enumerate().filter(|(i, p)| resolved[..*i].iter().all(|q| q.asset != p.asset)).map(|(_, p)| p.asset);
            for asset in assets {
                let (mut capital, mut credited, mut into_client_wallets) = (Wide::default(), Wide::default(), Wide::default());
                for posting in resolved.iter().filter(|p| p.asset == asset) {
                    match (posting.slot, posting.side) {
                        (Slot::Own(_), Side::Debit) => capital.add(posting.amount),
                        (Slot::Position(_), Side::Credit) => credited.add(posting.amount),
                        (Slot::Holding(_), Side::Debit) => into_client_wallets.add(posting.amount),
                        _ => {}
                    }
                }
                if capital != credited || into_client_wallets != credited || credited == Wide::default() {
                    return reject(
                        Status::PostingNotAllowed,
                        format!(
                            "a compensation pays each client credit from the firm's capital into a client wallet: {} debits capital {capital}, credits positions {credited} and moves {into_client_wallets} into client wallets",
                            self.asset_id(asset)
                        ),
                    );
                }
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

    fn check_segregation(&self, resolved: &[Resolved], sums: &mut Vec<(Segment, u32, Wide, Wide)>) -> Check<()> {
        sums.clear();
        for posting in resolved {
            let segment = self.segment(posting.slot);
            let index = match sums.iter().position(|(s, asset, _, _)| *s == segment && *asset == posting.asset) {
                Some(index) => index,
                None => {
                    sums.push((segment, posting.asset, Wide::default(), Wide::default()));
                    sums.len() - 1
                }
            };
            let entry = &mut sums[index];
            if posting.side == Side::Debit { entry.2.add(posting.amount) } else { entry.3.add(posting.amount) }
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
                    Wide::difference(*debits, *credits),
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
                    Wide::difference(*debits, *credits),
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

    /// The amount rules: a movement's postings per asset fit u128; then no account may
    /// exceed u128 or go below zero (the first such status in `Status` order); then no running
    /// total may exceed u128. All computed exactly from net changes, so a debit and a credit
    /// of the same account never overflow on the way.
    fn check_amounts(&self, scratch: &mut Scratch) -> Check<()> {
        scratch.nets.clear();
        scratch.updates.clear();
        scratch.totals.clear();
        scratch.individual.clear();
        scratch.bug = None;
        let overflow = |what: String| reject(Status::AmountOverflow, format!("{what} would exceed 2^128 - 1"));
        // A movement's debits (and credits) of one asset add up to at most 2^128 - 1.
        if let Some((asset, ..)) = scratch.sums.iter().find(|(_, debits, credits)| debits.carry > 0 || credits.carry > 0) {
            return overflow(format!("the postings of {}", self.asset_id(*asset)));
        }
        scratch.currents.clear();
        for delta in &scratch.deltas {
            let current = self.balances.get(&(delta.slot, delta.asset)).copied().unwrap_or(0);
            scratch.currents.push(current);
            let account = || format!("{} in {}", self.slot_name(delta.slot), self.asset_id(delta.asset));
            match Wide::net(delta.increase, delta.decrease) {
                None => return overflow(account()),
                Some(Change::Up(amount)) if current.checked_add(amount).is_none() => return overflow(account()),
                Some(net) => scratch.nets.push(net),
            }
        }
        let mut worst: Option<Outcome> = None;
        for ((delta, net), &current) in scratch.deltas.iter().zip(&scratch.nets).zip(&scratch.currents) {
            let next = match *net {
                Change::Up(amount) => current + amount,
                Change::Down(amount) => match current.checked_sub(amount) {
                    Some(next) => next,
                    None => {
                        let status = match delta.slot {
                            Slot::Position(_) => Status::PositionWouldGoNegative,
                            Slot::Holding(_) => Status::HoldingWouldGoNegative,
                            Slot::Own(_) => Status::OwnAccountWouldGoNegative,
                        };
                        if worst.as_ref().is_none_or(|w| status < w.status) {
                            let detail = format!(
                                "{} has {current} of {}; this movement would take it to -{}",
                                self.slot_name(delta.slot),
                                self.asset_id(delta.asset),
                                amount - current
                            );
                            worst = Some(Outcome::rejected(status, detail));
                        }
                        continue;
                    }
                },
            };
            scratch.updates.push(next);
        }
        if let Some(outcome) = worst {
            return Err(outcome);
        }
        // Then the running totals, which exist only once every account is valid: per asset
        // and field, old + increases - decreases, exactly.
        let mut fields = std::mem::take(&mut scratch.fields);
        let mut individual = std::mem::take(&mut scratch.individual_changes);
        fields.clear();
        individual.clear();
        let result = self.check_totals(scratch, &mut fields, &mut individual);
        scratch.fields = fields;
        scratch.individual_changes = individual;
        result
    }

    fn check_totals(
        &self,
        scratch: &mut Scratch,
        fields: &mut Vec<(u32, TotalField, Wide, Wide)>,
        individual: &mut Vec<((u32, u32), Wide, Wide)>,
    ) -> Check<()> {
        let overflow = |what: String| reject(Status::AmountOverflow, format!("{what} would exceed 2^128 - 1"));
        for (delta, net) in scratch.deltas.iter().zip(&scratch.nets) {
            for field in self.total_fields(delta.slot).into_iter().flatten() {
                let index = match fields.iter().position(|(asset, f, _, _)| *asset == delta.asset && *f == field) {
                    Some(index) => index,
                    None => {
                        fields.push((delta.asset, field, Wide::default(), Wide::default()));
                        fields.len() - 1
                    }
                };
                match *net {
                    Change::Up(amount) => fields[index].2.add(amount),
                    Change::Down(amount) => fields[index].3.add(amount),
                }
            }
            if let (Segment::Individual(client), Slot::Holding(_)) = (self.segment(delta.slot), delta.slot) {
                let key = (client, delta.asset);
                let index = match individual.iter().position(|(k, _, _)| *k == key) {
                    Some(index) => index,
                    None => {
                        individual.push((key, Wide::default(), Wide::default()));
                        individual.len() - 1
                    }
                };
                match *net {
                    Change::Up(amount) => individual[index].1.add(amount),
                    Change::Down(amount) => individual[index].2.add(amount),
                }
            }
        }
        let mut any_negative = false;
        for &(asset, field, ups, downs) in fields.iter() {
            if !scratch.totals.iter().any(|(a, _)| *a == asset) {
                scratch.totals.push((asset, self.totals[asset as usize]));
            }
            let Some((_, totals)) = scratch.totals.iter_mut().find(|(a, _)| *a == asset) else { continue };
            let value = totals.field_mut(field);
            let mut raised = Wide { carry: 0, low: *value };
            raised.add_wide(ups);
            match Wide::net(raised, downs) {
                Some(Change::Up(next)) => *value = next,
                Some(Change::Down(_)) => any_negative = true,
                None if raised > downs => return overflow(format!("the register's total of {}", self.asset_id(asset))),
                None => any_negative = true,
            }
        }
        for (asset, totals) in &scratch.totals {
            if totals.individual_positions.checked_add(totals.omnibus_positions).is_none()
                || totals.individual_holdings.checked_add(totals.omnibus_holdings).is_none()
            {
                return overflow(format!("the total of {} held for clients", self.asset_id(*asset)));
            }
        }
        if any_negative {
            scratch.bug = Some("a running total would go below zero while no account does".to_owned());
        }
        for &(key, ups, downs) in individual.iter() {
            let mut raised = Wide { carry: 0, low: self.individual_holdings.get(&key).copied().unwrap_or(0) };
            raised.add_wide(ups);
            match Wide::net(raised, downs) {
                Some(Change::Up(next)) => scratch.individual.push((key, next)),
                _ => scratch.bug = Some("an individual client's holdings would leave the range of u128".to_owned()),
            }
        }
        Ok(())
    }

    /// Which running totals an account counts towards.
    fn total_fields(&self, slot: Slot) -> [Option<TotalField>; 2] {
        match slot {
            Slot::Own(_) => [Some(TotalField::Own), None],
            Slot::Position(client) => match self.client_segments[client as usize] {
                Segment::Individual(_) => [Some(TotalField::IndividualPositions), None],
                _ => [Some(TotalField::OmnibusPositions), None],
            },
            Slot::Holding(wallet) => {
                let wallet = &self.wallets[wallet as usize].value;
                let hot = wallet.tier == Tier::Hot;
                match wallet.class {
                    WalletClass::Firm => {
                        [Some(TotalField::FirmHoldings), Some(if hot { TotalField::FirmHot } else { TotalField::FirmCold })]
                    }
                    WalletClass::ClientOmnibus => {
                        [Some(TotalField::OmnibusHoldings), Some(if hot { TotalField::ClientHot } else { TotalField::ClientCold })]
                    }
                    WalletClass::ClientIndividual(_) => {
                        [Some(TotalField::IndividualHoldings), Some(if hot { TotalField::ClientHot } else { TotalField::ClientCold })]
                    }
                }
            }
        }
    }

    fn commit_movement(&mut self, meta: &Meta, movement: &Movement, plan: Plan, scratch: &Scratch) -> Result<(), InvariantViolation> {
        if let Some(bug) = &scratch.bug {
            return Err(InvariantViolation(bug.clone()));
        }
        let seq = self.next_seq();
        self.latest_effective = self.latest_effective.max(meta.effective_at);
        for posting in &scratch.resolved {
            let increases = matches!(posting.slot, Slot::Holding(_)) == (posting.side == Side::Debit);
            if seq > self.log_floor {
                let logged = Logged { effective_at: meta.effective_at, seq, amount: posting.amount, increases };
                self.log.entry((posting.slot, posting.asset)).or_default().push(logged);
            }
        }
        for (delta, next) in scratch.deltas.iter().zip(&scratch.updates) {
            self.balances.insert((delta.slot, delta.asset), *next);
        }
        for (asset, totals) in &scratch.totals {
            self.totals[*asset as usize] = *totals;
        }
        for (key, held) in &scratch.individual {
            self.individual_holdings.insert(*key, *held);
        }
        if let Some(target) = &plan.correction_target {
            self.mark_corrected(&key_digest(target), seq)?;
        }
        let correction = if plan.correction_target.is_some() { Correction::Reversal } else { Correction::Open };
        let record = MovementRecord { seq, command_digest: plan.command_digest, postings_digest: plan.postings_digest, correction };
        self.remember_movement(plan.key, record)?;
        self.link_movement(seq, movement, &scratch.resolved);
        self.record_reward(meta, movement);
        self.record_loss(seq, meta, movement, plan.correction_target.as_ref());
        self.check_touched(&scratch.deltas)
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
                format!("{} wallet {}", wallet.class.kind().code(), wallet.id)
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

    /// The entry up to which postings are left out of the in-memory log (0: none are).
    pub fn log_floor(&self) -> u64 {
        self.log_floor
    }

    /// Leaves the postings and movement records of entries up to `through` out of memory,
    /// those held and those replayed later: the store calls it once its indexes hold them (or
    /// before replaying a journal whose indexes do). Never lowers the floor.
    pub fn raise_log_floor(&mut self, through: u64) {
        if through <= self.log_floor {
            return;
        }
        self.log.retain(|_, postings| {
            let kept = postings.partition_point(|logged| logged.seq <= through);
            postings.drain(..kept);
            !postings.is_empty()
        });
        self.move_movements(through);
        self.log_floor = through;
    }

    /// Takes every posting and movement record held in memory and raises the log floor to the
    /// last entry: for the store, which moves them to its indexes in the transaction it is
    /// writing (a store whose write fails discards this register). In no particular order.
    pub fn take_log(&mut self) -> Taken {
        let movements = self.take_movements();
        self.log_floor = self.log_floor.max(self.seq);
        let postings = self.log.drain().map(|((slot, asset), postings)| (slot_code(slot), asset, postings)).collect();
        Taken { postings, movements }
    }

    /// The account's key in the posting log and the store's posting index; `None` if unknown.
    pub fn log_slot(&self, account: &Account) -> Option<LogSlot> {
        self.slot_of(account).map(slot_code)
    }

    /// The asset's registration index, its key in the posting index; `None` if unknown.
    pub fn asset_number(&self, asset: &AssetId) -> Option<u32> {
        self.asset_index.get(asset).copied()
    }

    /// The in-memory postings (after the log floor) of one account in one asset, in journal
    /// order.
    pub fn logged(&self, slot: LogSlot, asset: u32) -> &[Logged] {
        slot_of_code(slot).and_then(|slot| self.log.get(&(slot, asset))).map_or(&[], Vec::as_slice)
    }

    /// Every account and asset with in-memory postings, with them (for the store to move to
    /// its posting index), in no particular order.
    pub fn logged_all(&self) -> impl Iterator<Item = (LogSlot, u32, &[Logged])> {
        self.log.iter().map(|((slot, asset), postings)| (slot_code(*slot), *asset, postings.as_slice()))
    }

    /// The balance of an account in an asset at an instant of effective time: the sum of its
    /// postings effective at or before `at`. `None` if the account or asset is unknown, or
    /// when a store moved postings out of memory (log floor above 0): use the store's
    /// `balance_at`, which reads its posting index too.
    pub fn balance_at(&self, account: &Account, asset: &AssetId, at: Timestamp) -> Option<Net> {
        if self.log_floor > 0 {
            return None;
        }
        let slot = self.slot_of(account)?;
        let asset = *self.asset_index.get(asset)?;
        let (mut increases, mut decreases) = (0u128, 0u128);
        for logged in self.log.get(&(slot, asset)).into_iter().flatten().filter(|l| l.effective_at <= at) {
            let total = if logged.increases { &mut increases } else { &mut decreases };
            // Every prefix in journal order fits u128; a prefix in effective-time order may
            // not, in theory, when movements were back-dated: saturate rather than wrap.
            *total = total.saturating_add(logged.amount);
        }
        Some(if increases >= decreases {
            Net { negative: false, amount: Amount::new(increases - decreases) }
        } else {
            Net { negative: true, amount: Amount::new(decreases - increases) }
        })
    }

    /// Sequence numbers of the movements that posted to `account` (any asset) with effective
    /// time in `[from, to]`, ascending, at most `limit`. `None` if the account is unknown.
    /// `None`, as [`Register::balance_at`], when a store moved postings out of memory.
    pub fn movements_of(&self, account: &Account, from: Timestamp, to: Timestamp, limit: usize) -> Option<Vec<u64>> {
        if self.log_floor > 0 {
            return None;
        }
        let slot = self.slot_of(account)?;
        let mut seqs: Vec<u64> = (0..self.assets.len())
            .filter_map(|asset| self.log.get(&(slot, index_of(asset))))
            .flatten()
            .filter(|l| (from..=to).contains(&l.effective_at))
            .map(|l| l.seq)
            .collect();
        seqs.sort_unstable();
        seqs.dedup();
        seqs.truncate(limit);
        Some(seqs)
    }

    /// The latest effective time of any movement (the epoch in an empty register): balances
    /// at or after it are the balances now.
    pub fn latest_effective_at(&self) -> Timestamp {
        self.latest_effective
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
}

/// What [`Register::take_log`] takes out of memory: the postings by account and asset, and
/// the movement records (shared with the register until its next move), in no particular
/// order.
#[derive(Debug, Default)]
pub struct Taken {
    pub postings: Vec<(LogSlot, u32, Vec<Logged>)>,
    pub movements: std::sync::Arc<MovementMap>,
}

/// One posting as the log keeps it (and the store's posting index).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Logged {
    pub effective_at: Timestamp,
    /// The journal entry of the movement.
    pub seq: u64,
    pub amount: u128,
    /// Whether it raised the account's balance (a debit of a holding, a credit of a position or
    /// own account).
    pub increases: bool,
}

/// An account as the posting log and the store's posting index name it: the kind in bits 32
/// and up (0 a client's position, 1 a wallet's holding, 2 an own account), the registration
/// index (or own account code) below. Stable: registrations are never removed or reordered.
pub type LogSlot = i64;

fn slot_code(slot: Slot) -> LogSlot {
    match slot {
        Slot::Position(client) => i64::from(client),
        Slot::Holding(wallet) => (1 << 32) | i64::from(wallet),
        Slot::Own(own) => (2 << 32) | own as i64,
    }
}

fn slot_of_code(code: LogSlot) -> Option<Slot> {
    let index = u32::try_from(code & 0xffff_ffff).ok()?;
    match code >> 32 {
        0 => Some(Slot::Position(index)),
        1 => Some(Slot::Holding(index)),
        2 => OwnAccount::ALL.iter().copied().find(|own| *own as u32 == index).map(Slot::Own),
        _ => None,
    }
}

/// A balance at a past instant, which may be below zero when movements were back-dated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Net {
    pub negative: bool,
    pub amount: Amount,
}

impl std::fmt::Display for Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.negative { write!(f, "-{}", self.amount) } else { write!(f, "{}", self.amount) }
    }
}

/// The checks' verdict, carried to the commit so nothing is computed twice.
#[derive(Debug)]
struct Plan {
    key: Digest,
    command_digest: Digest,
    postings_digest: Digest,
    correction_target: Option<IdempotencyKey>,
}

/// The net change of one account in one asset within a movement.
#[derive(Debug, Clone, Copy)]
struct Delta {
    slot: Slot,
    asset: u32,
    increase: Wide,
    decrease: Wide,
}

fn net_deltas(resolved: &[Resolved], deltas: &mut Vec<Delta>) {
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
                deltas.push(Delta { slot: posting.slot, asset: posting.asset, increase: Wide::default(), decrease: Wide::default() });
                deltas.len() - 1
            }
        };
        let delta = &mut deltas[index];
        if increases { delta.increase.add(posting.amount) } else { delta.decrease.add(posting.amount) }
    }
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

impl Register {
    /// An API token and, if it was revoked, the sequence number of the revocation.
    pub fn token(&self, id: &TokenId) -> Option<(&ApiToken, Option<u64>)> {
        let index = *self.token_index.get(id)? as usize;
        Some((&self.tokens[index].value, self.token_revocations[index]))
    }

    /// The live token a presented `rf_<id>_<secret>` string belongs to, at `now`.
    pub fn authenticate(&self, presented: &str, now: Timestamp) -> Result<&ApiToken, crate::entity::TokenRefusal> {
        ApiToken::authenticate(presented, now, |id| self.token(id))
    }

    /// Every journal signing key, in registration order, with when it was registered and
    /// retired.
    pub fn signing_keys(&self) -> &[SigningKeyRecord] {
        &self.signing_keys
    }

    /// Whether `public_key` is a journal signing key that may sign a commit of entries
    /// `first..=last` ([`SigningKeyRecord::may_sign`]).
    pub fn may_sign(&self, public_key: &[u8; 32], first: u64, last: u64) -> bool {
        self.signing_keys.iter().any(|record| record.key.public_key == *public_key && record.may_sign(first, last))
    }

    /// Every API token, in registration order, with its revocation if any.
    pub fn tokens(&self) -> impl Iterator<Item = (&ApiToken, Option<u64>)> {
        self.tokens.iter().zip(&self.token_revocations).map(|(token, revoked)| (&token.value, *revoked))
    }
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
