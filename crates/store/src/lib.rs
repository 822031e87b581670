//! ringfence's storage: the journal and the derived register, on the embedded SQLite database
//! (the default) or on PostgreSQL (production).
//!
//! The journal table is the truth; the register and the posting index (for balances at a past
//! instant and histories) are rebuilt from it on open, checking its hash chain on the way. A
//! batch of commands is decided by the pure state machine and written as one transaction with
//! one durable commit (group commit).
//!
//! Writers are serialised through the database: a batch first takes the journal's write lock
//! (SQLite's `BEGIN IMMEDIATE`; on PostgreSQL a row lock on the recorded head), then compares
//! the stored journal head with the in-memory one and, when another process has appended
//! meanwhile, replays those entries before deciding anything. So several processes on one
//! database never fork the chain or apply a movement twice.
//!
//! Everything here is the same on both backends; `sqlite.rs` and `postgres.rs` hold the SQL,
//! behind the [`Reader`] and [`writer::Sink`] traits.

mod movement_index;
mod postgres;
mod sqlite;
mod writer;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use ringfence_core::register::{LogSlot, Logged, Taken};
use ringfence_core::{
    Account, Action, Amount, AssetId, ClientId, Command, InvariantViolation, Movement, Outcome, OwnAccount, Register, Status, Timestamp,
    WalletId,
};
use ringfence_journal::signing::{CommitSignature, SignatureCheck};
use ringfence_journal::{Break, Entry, Head, Verifier};

pub use crate::movement_index::MOVEMENT_FORMAT;
pub use crate::postgres::PostgresTarget;
pub use ringfence_core::Net;
pub use ringfence_journal::hex;
pub use ringfence_journal::signing::Signer;

/// The most commands one batch may carry (as many as TigerBeetle's batches).
pub const BATCH_MAX: usize = 8190;
/// The most entries one history page may return.
pub const HISTORY_LIMIT_MAX: u32 = 10_000;
/// A checkpoint's state is stored in parts of at most this many bytes (PostgreSQL refuses a
/// value over 1 GiB, SQLite one over 1 GB by default).
pub const CHECKPOINT_PART_BYTES: usize = 16 << 20;
/// How many checkpoints are kept: the newest, and the one before in case the newest is found
/// damaged.
pub const CHECKPOINTS_KEPT: u64 = 2;
/// Entries between the checkpoints a writer takes on its own, by default.
pub const CHECKPOINT_EVERY_DEFAULT: u64 = 1_000_000;
/// The domain of a checkpoint's hash.
const CHECKPOINT_DOMAIN: &[u8] = b"ringfence register checkpoint 1\n";

/// A stored register checkpoint, without its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointInfo {
    /// The journal entry it was taken after.
    pub seq: u64,
    /// That entry's hash: the checkpoint is bound to it.
    pub head: ringfence_journal::Hash,
    /// The state layout of the build that wrote it ([`ringfence_core::register::STATE_LAYOUT`]).
    pub layout: String,
    /// The state's size in bytes.
    pub size: u64,
    /// SHA-256 over the domain, `seq`, `head`, `layout` and the state.
    pub hash: ringfence_journal::Hash,
    /// When it was taken (the recorded time of the commit it follows, or of the command).
    pub taken_at: Timestamp,
}

/// A checkpoint's hash: SHA-256 over the domain `ringfence register checkpoint 1\n`, the
/// entry (u64 big-endian), that entry's hash, the layout's length (u64 big-endian) and text,
/// and the state.
pub fn checkpoint_hash(head: Head, layout: &str, state: &[u8]) -> ringfence_journal::Hash {
    use sha2::Digest as _;
    let mut hasher = checkpoint_hasher(head, layout);
    hasher.update(state);
    hasher.finalize().into()
}

/// [`checkpoint_hash`] before the state, to feed the state to as it streams.
fn checkpoint_hasher(head: Head, layout: &str) -> sha2::Sha256 {
    use sha2::Digest as _;
    let mut hasher = sha2::Sha256::new();
    hasher.update(CHECKPOINT_DOMAIN);
    hasher.update(head.seq.to_be_bytes());
    hasher.update(head.hash);
    hasher.update((layout.len() as u64).to_be_bytes());
    hasher.update(layout.as_bytes());
    hasher
}

/// Collects a checkpoint's state as it is encoded and writes it in parts, hashing it.
struct PartWriter<'a> {
    reader: &'a mut dyn Reader,
    seq: u64,
    buffer: Vec<u8>,
    part_bytes: usize,
    part: u32,
    size: u64,
    hasher: sha2::Sha256,
    /// The first database error (the encoder sees only that writing failed).
    error: Option<StoreError>,
}

impl<'a> PartWriter<'a> {
    fn new(reader: &'a mut dyn Reader, head: Head, part_bytes: usize) -> PartWriter<'a> {
        PartWriter {
            reader,
            seq: head.seq,
            buffer: Vec::with_capacity(part_bytes),
            part_bytes,
            part: 0,
            size: 0,
            hasher: checkpoint_hasher(head, ringfence_core::register::STATE_LAYOUT),
            error: None,
        }
    }

    fn flush_part(&mut self) -> Result<(), StoreError> {
        use sha2::Digest as _;
        if self.buffer.is_empty() {
            return Ok(());
        }
        self.hasher.update(&self.buffer);
        self.size += self.buffer.len() as u64;
        self.reader.put_checkpoint_part(self.seq, self.part, &self.buffer)?;
        self.part += 1;
        self.buffer.clear();
        Ok(())
    }

    /// Writes the last part; the state's size and hash.
    fn finish(mut self) -> Result<(u64, ringfence_journal::Hash), StoreError> {
        use sha2::Digest as _;
        if let Some(error) = self.error.take() {
            return Err(error);
        }
        self.flush_part()?;
        Ok((self.size, self.hasher.finalize().into()))
    }
}

impl std::io::Write for PartWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if self.error.is_some() {
            return Err(std::io::Error::other("the checkpoint could not be written"));
        }
        let room = self.part_bytes - self.buffer.len();
        let taken = bytes.len().min(room);
        self.buffer.extend_from_slice(&bytes[..taken]);
        if self.buffer.len() == self.part_bytes
            && let Err(error) = self.flush_part()
        {
            self.error = Some(error);
            return Err(std::io::Error::other("the checkpoint could not be written"));
        }
        Ok(taken)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A checkpoint's state, its parts joined, with the size and hash of what was read. Reading
/// stops past `size` bytes (a stored size cannot be trusted, but a state larger than it
/// cannot match the hash either).
fn read_checkpoint_state(reader: &mut dyn Reader, info: &CheckpointInfo) -> Result<(Vec<u8>, ringfence_journal::Hash), StoreError> {
    use sha2::Digest as _;
    let mut hasher = checkpoint_hasher(Head { seq: info.seq, hash: info.head }, &info.layout);
    // The stored size is only a hint until the hash checks out: room for all of it once a
    // full first part shows there is that much to read (at most 1 GiB, grown past that).
    let declared = usize::try_from(info.size).unwrap_or(0).min(1 << 30);
    let mut state = Vec::new();
    let mut part = 0;
    while let Some(bytes) = reader.checkpoint_part(info.seq, part)? {
        if part == 0 && bytes.len() >= declared.min(CHECKPOINT_PART_BYTES) {
            state.reserve_exact(declared);
        }
        hasher.update(&bytes);
        state.extend_from_slice(&bytes);
        if state.len() as u64 > info.size {
            break;
        }
        part += 1;
    }
    Ok((state, hasher.finalize().into()))
}

/// How a store was opened: from which checkpoint, and which were passed over and why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Opened {
    /// The checkpoint the register was restored from; `None`: replayed from entry 1.
    pub checkpoint: Option<u64>,
    /// Entries replayed after it.
    pub replayed: u64,
    /// Checkpoints found and not used, each with why (damaged, edited, another build's).
    pub passed_over: Vec<String>,
}

/// Whether opening a store may start from a checkpoint, and how often a writer takes one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointPolicy {
    /// Replay the whole journal from entry 1, whatever checkpoints there are.
    pub full_replay: bool,
    /// Take a checkpoint between batches ([`Store::checkpoint_if_due`]) once this many entries
    /// follow the last one; 0: never on its own (`ringfence checkpoint` still takes one).
    pub every: u64,
}

impl Default for CheckpointPolicy {
    fn default() -> Self {
        CheckpointPolicy { full_replay: false, every: CHECKPOINT_EVERY_DEFAULT }
    }
}

static FULL_REPLAY: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
static CHECKPOINT_EVERY: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(CHECKPOINT_EVERY_DEFAULT);

impl CheckpointPolicy {
    /// The policy stores opened from now on in this process start with (the command line sets
    /// it once, so that every handle the server opens follows it).
    pub fn set_process_default(self) {
        FULL_REPLAY.store(self.full_replay, std::sync::atomic::Ordering::Relaxed);
        CHECKPOINT_EVERY.store(self.every, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn process_default() -> CheckpointPolicy {
        CheckpointPolicy {
            full_replay: FULL_REPLAY.load(std::sync::atomic::Ordering::Relaxed),
            every: CHECKPOINT_EVERY.load(std::sync::atomic::Ordering::Relaxed),
        }
    }
}

static POSTING_INDEX_DEFAULT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(POSTING_INDEX_EVERY);

/// Sets how many entries' postings the handles this process opens keep in memory before a
/// batch moves them to the posting index (at least 1; [`POSTING_INDEX_EVERY`] unless set).
pub fn set_posting_index_every_default(entries: u64) {
    POSTING_INDEX_DEFAULT.store(entries.max(1), std::sync::atomic::Ordering::Relaxed);
}

/// Entries replayed between two calls of the replay progress report.
pub const REPLAY_PROGRESS_EVERY: u64 = 1 << 16;

static REPLAY_PROGRESS: std::sync::OnceLock<fn(u64)> = std::sync::OnceLock::new();

/// Tells `report` the sequence number reached every [`REPLAY_PROGRESS_EVERY`] entries while a
/// journal is replayed (opening, catching up, verifying), for progress on long work. Set once
/// per process; later calls are ignored.
pub fn set_replay_progress(report: fn(u64)) {
    let _ = REPLAY_PROGRESS.set(report);
}

/// The file name of the embedded database inside the data directory.
pub const DATABASE_FILE: &str = "ringfence.sqlite3";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no ringfence store at {0}; run `ringfence init` first (or pass --data-dir or --database-url)")]
    NotInitialised(String),
    #[error("a ringfence store already exists at {0}")]
    AlreadyInitialised(String),
    #[error(
        "{url:?} is not a database URL ringfence understands ({reason}); use sqlite:///path/to/file.sqlite3 or postgres://user@host:port/database"
    )]
    UnsupportedUrl { url: String, reason: String },
    #[error("the store was written by a newer ringfence (schema {found}, this build knows up to {supported}); upgrade ringfence")]
    SchemaTooNew { found: i64, supported: i64 },
    #[error("the store at {location} has schema {found} but this build needs {supported}; run `ringfence migrate`")]
    SchemaTooOld { location: String, found: i64, supported: i64 },
    #[error("a batch holds at most {max} commands, this one holds {count}; split it")]
    BatchTooLarge { count: usize, max: usize },
    #[error("the journal is damaged: {0}; run `ringfence journal verify` and restore from a backup")]
    // Not `#[from]`: the break is in the message, and an error chain would print it twice.
    Corrupt(Break),
    #[error(
        "journal entry {seq} was accepted when written but is {status} on replay ({detail}); the journal or this build is inconsistent"
    )]
    Replay { seq: u64, status: Status, detail: String },
    #[error(transparent)]
    Invariant(#[from] InvariantViolation),
    #[error("an earlier write failed, so this store's in-memory register may be ahead of the database; open the store again")]
    Poisoned,
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("cannot connect to PostgreSQL at {target}: {reason}; check the URL and that the server is running and accepts connections")]
    Unreachable { target: String, reason: String },
    #[error("PostgreSQL error: {0}")]
    Postgres(String),
    #[error("cannot create the data directory {path}: {source}")]
    Directory { path: PathBuf, source: std::io::Error },
    #[error("cannot start a store thread: {0}")]
    Thread(std::io::Error),
    #[error("{0}")]
    Signing(String),
    #[error("the journal holds entries 1 to {head}; there is no entry {seq} to read the register as of")]
    NoSuchEntry { seq: u64, head: u64 },
    #[error("the journal is empty: there is no register state to checkpoint yet")]
    NothingToCheckpoint,
    #[error("the posting index {0}")]
    PostingIndex(String),
    #[error(
        "the store at {0} was opened read-only (--read-database-url, a replica): it records nothing; send writes to the writer (--database-url)"
    )]
    ReadOnly(String),
    #[error(
        "{0} is a PostgreSQL hot standby (in recovery), which takes no writes: give the primary's URL to --database-url, and the standby's to --read-database-url for read-only commands and `serve`"
    )]
    HotStandby(String),
}

impl From<Break> for StoreError {
    fn from(broken: Break) -> StoreError {
        StoreError::Corrupt(broken)
    }
}

/// Where the store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Sqlite(PathBuf),
    Postgres(PostgresTarget),
}

impl Location {
    /// The embedded database inside a data directory.
    pub fn data_dir(dir: &Path) -> Location {
        Location::Sqlite(dir.join(DATABASE_FILE))
    }

    /// Parses `sqlite:///absolute/path`, `sqlite://relative/path`, `sqlite:path`, or a
    /// PostgreSQL URL (`postgres://` or `postgresql://`, as libpq accepts them).
    pub fn parse_url(url: &str) -> Result<Location, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Location::Postgres(PostgresTarget::parse(url)?));
        }
        let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"));
        match path {
            Some(path) if !path.is_empty() => Ok(Location::Sqlite(PathBuf::from(path))),
            Some(_) => Err(StoreError::UnsupportedUrl { url: url.to_owned(), reason: "the path is empty".into() }),
            None => Err(StoreError::UnsupportedUrl { url: url.to_owned(), reason: "unknown scheme".into() }),
        }
    }

    /// The location for messages: a path, or a PostgreSQL URL without its password.
    pub fn describe(&self) -> String {
        match self {
            Location::Sqlite(path) => path.display().to_string(),
            Location::Postgres(target) => target.describe(),
        }
    }
}

/// Whose movements a history query asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Client(ClientId),
    Wallet(WalletId),
    Own(OwnAccount),
}

impl Subject {
    /// The account whose postings make the subject's history.
    pub fn account(&self) -> Account {
        match self {
            Subject::Client(client) => Account::Position(client.clone()),
            Subject::Wallet(wallet) => Account::Holding(wallet.clone()),
            Subject::Own(own) => Account::Own(*own),
        }
    }
}

/// One movement in a history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub seq: u64,
    pub recorded_at: Timestamp,
    /// The command that took effect: for an entry that approved a pending instruction, the
    /// instruction's command (with its initiator and effective time).
    pub command: Command,
    /// The pending instruction this entry applied by approving it, if it did.
    pub pending: Option<u64>,
}

/// What a migration did: the schema version before and after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migrated {
    pub from: i64,
    pub to: i64,
}

/// Called with each stored entry read: sequence number, body, stored hash.
pub(crate) type Visit<'a> = &'a mut dyn FnMut(u64, &[u8], &[u8]) -> Result<(), StoreError>;

/// What a [`Reader::read`] walks through, in one snapshot: each entry with the signature
/// stored in its row (the last entry of a signed commit has one).
pub(crate) trait Walk {
    fn entry(&mut self, seq: u64, body: &[u8], hash: &[u8], signature: Option<&[u8]>) -> Result<(), StoreError>;
}

/// Replays entries into a register while checking the chain and the commit signatures.
struct Replay<'a> {
    verifier: Verifier,
    register: &'a mut Register,
    signatures: SignatureCheck,
    /// Verification only: the register stopped replaying (an entry it refuses); the chain is
    /// still checked, and signatures against the keys known until then.
    lenient: bool,
    stalled: bool,
    /// Verification only: the first break found (the walk reads on to the end).
    broken: Option<Break>,
    /// Verification only: restored checkpoints still to compare with the replay, by entry,
    /// latest first; and what each comparison found.
    compare: Vec<(u64, Register)>,
    compared: Vec<CheckpointCheck>,
    /// Verification only: the ends of the index's runs still to reach, latest first; at each,
    /// the run the replay made is compared with the stored one.
    index_ends: Vec<u64>,
    checker: Option<SharedChecker>,
    /// Where the register's movement lookup leaves why it failed.
    lookup_failure: LookupFailure,
}

impl Replay<'_> {
    fn step(&mut self, seq: u64, body: &[u8], hash: &[u8], signature: Option<&[u8]>) -> Result<(), StoreError> {
        if seq % REPLAY_PROGRESS_EVERY == 0
            && let Some(report) = REPLAY_PROGRESS.get()
        {
            report(seq);
        }
        let entry = self.verifier.check(seq, body, hash)?;
        if !self.stalled {
            match self.register.apply_at(&entry.command, entry.recorded_at) {
                Ok(outcome) if outcome.status.is_journaled() && outcome.seq == Some(seq) => {}
                Ok(_) | Err(_) if self.lenient => self.stalled = true,
                Ok(outcome) => return Err(StoreError::Replay { seq, status: outcome.status, detail: outcome.detail }),
                Err(violation) => return Err(undecided(violation, &self.lookup_failure)),
            }
        }
        let signature = signature.map(|bytes| CommitSignature::from_stored(seq, bytes));
        self.signatures.entry(seq, &self.verifier.head().hash, signature.as_ref(), self.register.signing_keys())?;
        while self.compare.last().is_some_and(|(at, _)| *at == seq) {
            if let Some((_, mut restored)) = self.compare.pop() {
                let verdict = if self.stalled {
                    CheckpointVerdict::NotCompared("is at or after the entry where the replay stopped".into())
                } else {
                    // Which postings each keeps in memory is not state: compare with the same
                    // floor.
                    let floor = restored.log_floor().max(self.register.log_floor());
                    restored.raise_log_floor(floor);
                    let differ = if self.register.log_floor() < floor {
                        // The replay keeps its postings for the posting index's check: compare a
                        // copy.
                        let mut replayed = self.register.clone();
                        replayed.raise_log_floor(floor);
                        restored.differences(&replayed)
                    } else {
                        restored.differences(self.register)
                    };
                    if differ.is_empty() { CheckpointVerdict::Matches } else { CheckpointVerdict::Differs(differ) }
                };
                self.compared.push(CheckpointCheck { seq, verdict });
            }
        }
        while self.index_ends.last() == Some(&seq) {
            self.index_ends.pop();
            if let (false, Some(checker)) = (self.stalled, self.checker.clone()) {
                let Taken { postings, movements } = self.register.take_log();
                let mut movements: ringfence_core::register::MovedMovements =
                    movements.iter().map(|(key, record)| (*key, record.clone())).collect();
                let mut taken: Vec<(i64, u32, Logged)> = postings
                    .into_iter()
                    .flat_map(|(slot, asset, postings)| postings.into_iter().map(move |logged| (slot, asset, logged)))
                    .collect();
                let mut checker = checker.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if !checker.check(seq, &run_digest(&mut taken, &mut movements)) {
                    // Records moved from now on cannot be read back from the index.
                    self.register.keep_moved_movements();
                }
            }
        }
        Ok(())
    }
}

/// The digest of a run: of its postings and of its movement records.
fn run_digest(postings: &mut [(i64, u32, Logged)], movements: &mut ringfence_core::register::MovedMovements) -> [u8; 32] {
    use sha2::Digest as _;
    let mut hasher = sha2::Sha256::new();
    hasher.update(postings_digest(postings));
    hasher.update(movement_index::records_digest(movements));
    hasher.finalize().into()
}

/// A digest of postings whatever the order of their accounts and assets: the same for the
/// replay's and the index's.
fn postings_digest(postings: &mut [(i64, u32, Logged)]) -> [u8; 32] {
    use sha2::Digest as _;
    // Both sides keep each account's postings in an asset in journal order: ordering the
    // accounts and assets (a stable sort) is enough to make the two sequences comparable.
    postings.sort_by_key(|(slot, asset, _)| (*slot, *asset));
    let mut hasher = sha2::Sha256::new();
    for (slot, asset, logged) in postings.iter() {
        hasher.update(slot.to_le_bytes());
        hasher.update(asset.to_le_bytes());
        hasher.update(logged.seq.to_le_bytes());
        hasher.update(logged.effective_at.micros().to_le_bytes());
        hasher.update(logged.amount.to_le_bytes());
        hasher.update([u8::from(logged.increases)]);
    }
    hasher.finalize().into()
}

impl<'a> Replay<'a> {
    /// A replay that applies every entry from `head` on, the commit signatures checked from
    /// entry `covered` on, and stops at the first entry that breaks.
    fn strict(head: Head, covered: u64, register: &'a mut Register, lookup_failure: &LookupFailure) -> Replay<'a> {
        Replay {
            verifier: Verifier::resume(head),
            register,
            signatures: SignatureCheck::resume(covered),
            lenient: false,
            stalled: false,
            broken: None,
            compare: Vec::new(),
            compared: Vec::new(),
            index_ends: Vec::new(),
            checker: None,
            lookup_failure: Arc::clone(lookup_failure),
        }
    }
}

impl Walk for Replay<'_> {
    fn entry(&mut self, seq: u64, body: &[u8], hash: &[u8], signature: Option<&[u8]>) -> Result<(), StoreError> {
        if !self.lenient {
            return self.step(seq, body, hash, signature);
        }
        if self.broken.is_none() {
            match self.step(seq, body, hash, signature) {
                Ok(()) => {}
                Err(StoreError::Corrupt(broken)) => self.broken = Some(broken),
                Err(other) => return Err(other),
            }
        }
        Ok(())
    }
}

/// Replays entries up to `until` into the register; after it, only checks the chain and the
/// commit signature of the commit that holds `until` (its signature is on its last entry, so a
/// register as of an entry inside a commit is still checked against it), then reads on idle.
struct UntilWalk<'a, 'b> {
    replay: &'a mut Replay<'b>,
    until: u64,
    /// The head at `until`, once replayed.
    reached: Option<Head>,
}

impl Walk for UntilWalk<'_, '_> {
    fn entry(&mut self, seq: u64, body: &[u8], hash: &[u8], signature: Option<&[u8]>) -> Result<(), StoreError> {
        if seq <= self.until {
            self.replay.entry(seq, body, hash, signature)?;
            if seq == self.until {
                self.reached = Some(self.replay.verifier.head());
            }
            return Ok(());
        }
        if self.reached.is_none() || self.replay.signatures.covered() >= self.until {
            return Ok(());
        }
        self.replay.verifier.check(seq, body, hash)?;
        let signature = signature.map(|bytes| CommitSignature::from_stored(seq, bytes));
        self.replay.signatures.entry(seq, &self.replay.verifier.head().hash, signature.as_ref(), self.replay.register.signing_keys())?;
        Ok(())
    }
}

/// Which entries a [`Reader::read`] visits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scan {
    /// Entries after the known head, only when the recorded head differs from it.
    Behind(Head),
    /// Every entry (verification).
    All,
    /// Every entry after this sequence number, whatever the recorded head (the incremental
    /// verification: rows past the recorded head are a finding, not something to skip).
    After(u64),
    /// The entries after the known head up to this sequence number (a register as of an
    /// earlier entry, [`Store::open_as_of`]).
    Until(Head, u64),
}

impl Scan {
    /// The entries to read, `(after, through]`; `None`: none (the recorded head is known).
    fn bounds(self, recorded: Head) -> Option<(u64, u64)> {
        match self {
            Scan::Behind(known) if known == recorded => None,
            Scan::Behind(known) => Some((known.seq, u64::MAX)),
            Scan::After(seq) => Some((seq, u64::MAX)),
            Scan::All => Some((0, u64::MAX)),
            Scan::Until(known, through) => Some((known.seq, through)),
        }
    }
}

/// What the store reads from its database: the same queries on every backend.
pub(crate) trait Reader: Send + std::fmt::Debug {
    /// In one snapshot: the recorded head and the entries `scan` asks for, in order, each with
    /// the commit signature stored in its row.
    fn read(&mut self, scan: Scan, walk: &mut dyn Walk) -> Result<Head, StoreError>;
    /// The stored entries with these sequence numbers, in the order given; a missing one is
    /// not visited.
    fn entries_at(&mut self, seqs: &[u64], visit: Visit<'_>) -> Result<(), StoreError>;
    /// At most `limit` entries after `after`, in order.
    fn entries_after(&mut self, after: u64, limit: u32, visit: Visit<'_>) -> Result<(), StoreError>;
    /// The register checkpoints stored, newest first (without their state).
    fn checkpoints(&mut self) -> Result<Vec<CheckpointInfo>, StoreError>;
    /// Part `part` of a checkpoint's state, if stored.
    fn checkpoint_part(&mut self, seq: u64, part: u32) -> Result<Option<Vec<u8>>, StoreError>;
    /// Opens the transaction that writes a checkpoint at entry `seq` (and drops any parts
    /// stored for it before).
    fn begin_checkpoint(&mut self, seq: u64) -> Result<(), StoreError>;
    /// Writes one part inside that transaction.
    fn put_checkpoint_part(&mut self, seq: u64, part: u32, bytes: &[u8]) -> Result<(), StoreError>;
    /// Records the checkpoint, removes all but the newest `keep`, and commits: a crash leaves
    /// the old ones or the new one, never half of it.
    fn finish_checkpoint(&mut self, info: &CheckpointInfo, keep: u64) -> Result<(), StoreError>;
    /// Abandons the checkpoint being written.
    fn abort_checkpoint(&mut self);
    /// Removes every stored checkpoint; returns how many there were.
    fn discard_checkpoints(&mut self) -> Result<u64, StoreError>;
    /// The entry up to which the posting index holds postings (0: none).
    fn posting_index_through(&mut self) -> Result<u64, StoreError>;
    /// Where each run of the posting index ends, ascending (the last is where it ends).
    fn posting_run_ends(&mut self) -> Result<Vec<u64>, StoreError>;
    /// Every row of the run ending at `through`: its group of accounts, where it starts, its
    /// packed postings.
    fn posting_runs_ending(&mut self, through: u64, visit: RowVisit<'_>) -> Result<(), StoreError>;
    /// Every entry at which rows of the movement index end, ascending (verification).
    fn movement_run_ends(&mut self) -> Result<Vec<u64>, StoreError>;
    /// The rows of the movement index ending at `through` (verification): bucket, records.
    fn movement_rows_ending(&mut self, through: u64, visit: RowVisit<'_>) -> Result<(), StoreError>;
    /// The rows of one bucket of the movement index up to where the index ends, newest first,
    /// until `visit` says to stop.
    fn movement_rows(&mut self, bucket: i64, visit: movement_index::BucketVisit<'_>) -> Result<(), StoreError>;
    /// Removes every run (of postings and of movement records) and sets the index's end to 0,
    /// in one transaction; returns how many posting runs there were.
    fn reset_posting_index(&mut self) -> Result<u64, StoreError>;
    /// In one transaction, under the index's lock: reads where the index ends (`indexed`),
    /// and when that is before `through`, inserts `runs(indexed)` (the postings of entries
    /// `indexed + 1 ..= through`) and moves the end to `through`. Returns the end after: on
    /// `through`, or later when another process indexed further.
    fn index_postings(&mut self, through: u64, runs: RunSource<'_>) -> Result<u64, StoreError>;
    /// The runs of the group of accounts `accounts` ([`account_group`]) that end at or before
    /// `floor` and after entry `after`, in entry order, until `visit` says to stop.
    fn posting_runs(&mut self, accounts: i64, floor: u64, after: u64, visit: RunVisit<'_>) -> Result<(), StoreError>;
    /// A new write session on the same database, for the writer thread.
    fn sink(&self) -> Result<Box<dyn writer::Sink>, StoreError>;
    /// Told after every commit (SQLite checkpoints the WAL now and then).
    fn committed(&mut self) {}
}

/// Visits one run of the posting index: the entry it starts after, its packed postings;
/// returns whether to go on.
pub(crate) type RunVisit<'a> = &'a mut dyn FnMut(u64, &[u8]) -> Result<bool, StoreError>;

/// Visits each row of one run: its group of accounts, where it starts, its packed postings.
pub(crate) type RowVisit<'a> = &'a mut dyn FnMut(i64, u64, &[u8]) -> Result<(), StoreError>;

/// What a verification replay found: the chain's verdict, each checkpoint compared.
type ReplayFindings = (Result<Head, Break>, Vec<CheckpointCheck>);

/// Gives the runs of the postings after the entry it is told (where the index ends).
pub(crate) type RunSource<'a> = &'a mut dyn FnMut(u64) -> Result<Runs, StoreError>;

/// Accounts per row of the posting index, as a shift: 64 accounts of a kind share a row, so a
/// batch that moves postings writes a few hundred rows, not one per account touched.
const GROUP_SHIFT: u32 = 6;

/// The row group of an account of the posting log ([`ringfence_core::register::LogSlot`]).
pub(crate) fn account_group(slot: i64) -> i64 {
    slot >> GROUP_SHIFT
}

/// A balance from what raised it and what lowered it.
fn net_of((increases, decreases): (u128, u128)) -> Net {
    if increases >= decreases {
        Net { negative: false, amount: Amount::new(increases - decreases) }
    } else {
        Net { negative: true, amount: Amount::new(decreases - increases) }
    }
}

/// An account's place in its row group (the low bits of its slot).
fn group_place(slot: i64) -> u8 {
    (slot & ((1 << GROUP_SHIFT) - 1)) as u8
}

/// Rows packed into one buffer: each row's key (a group of accounts, a bucket of keys) and
/// where its bytes end.
#[derive(Debug, Default)]
pub(crate) struct PackedRows {
    pub(crate) bytes: Vec<u8>,
    pub(crate) rows: Vec<(i64, usize)>,
}

impl PackedRows {
    /// Each row as (key, bytes), in the order packed.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (i64, &[u8])> {
        let mut start = 0;
        self.rows.iter().map(move |&(key, end)| {
            let bytes = &self.bytes[start..end];
            start = end;
            (key, bytes)
        })
    }
}

/// One run of entries for the indexes: the posting index's rows (a group's postings in every
/// asset, in group order) and the movement index's (a bucket's records, in bucket order).
#[derive(Debug, Default)]
pub(crate) struct Runs {
    pub(crate) postings: PackedRows,
    pub(crate) movements: PackedRows,
}

/// How a posting is packed in a run, each field an unsigned LEB128 varint: the entry after
/// the run's start (`seq - after_seq`); the effective time as a zigzag difference from the
/// previous posting's in the run (the first from 0), in microseconds; the amount; a tag:
/// the asset's registration index, then the account's place in its group (6 bits), then 1
/// bit set when the posting raised the balance. Within a run, each account's postings in
/// each asset are in journal order. About 12 bytes a posting.
pub const POSTING_FORMAT: &str =
    "varint(seq - after_seq), zigzag varint(effective_at delta), varint(amount), varint((asset << 6 | slot & 63) << 1 | increases)";

/// Entries the register's in-memory posting log may hold before a writer moves them to the
/// posting index (in the transaction of the next batch). Small enough that the batch which
/// moves a run is not much slower than the others, and that a checkpoint's tail is small;
/// large enough that moves are rare among small batches (each writes about 1,300 rows
/// whatever its length): BENCHMARKS.md, "Shorter runs and the batch that moves one".
pub const POSTING_INDEX_EVERY: u64 = 65_536;

/// Packs postings grouped by account (in any order) into one row per group of accounts, in
/// group order: `parts` yields (account, asset, that asset's postings in journal order).
fn pack_runs<'a>(after: u64, parts: impl Iterator<Item = (i64, u32, &'a [Logged])>) -> PackedRows {
    let mut parts: Vec<(i64, u32, &[Logged])> = parts.filter(|(_, _, postings)| !postings.is_empty()).collect();
    parts.sort_unstable_by_key(|(slot, asset, _)| (*slot, *asset));
    let mut runs = PackedRows { bytes: Vec::with_capacity(parts.iter().map(|(_, _, p)| p.len()).sum::<usize>() * 16), rows: Vec::new() };
    let mut previous = 0i64;
    for (slot, asset, postings) in parts {
        let group = account_group(slot);
        if runs.rows.last().is_none_or(|(last, _)| *last != group) {
            previous = 0;
        }
        let place = u128::from(group_place(slot));
        for logged in postings {
            let effective = logged.effective_at.micros();
            put_varint(&mut runs.bytes, u128::from(logged.seq.saturating_sub(after)));
            let delta = effective.wrapping_sub(previous);
            put_varint(&mut runs.bytes, u128::from(((delta << 1) ^ (delta >> 63)) as u64));
            put_varint(&mut runs.bytes, logged.amount);
            put_varint(&mut runs.bytes, (((u128::from(asset) << GROUP_SHIFT) | place) << 1) | u128::from(logged.increases));
            previous = effective;
        }
        match runs.rows.last_mut() {
            Some((last, end)) if *last == group => *end = runs.bytes.len(),
            _ => runs.rows.push((group, runs.bytes.len())),
        }
    }
    runs
}

fn put_varint(out: &mut Vec<u8>, mut value: u128) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// The varint at the front of `bytes`, and the rest; `None` when truncated or over 128 bits.
fn take_varint(bytes: &[u8]) -> Option<(u128, &[u8])> {
    let mut value = 0u128;
    for (index, byte) in bytes.iter().enumerate().take(19) {
        let bits = u128::from(byte & 0x7f);
        let shift = 7 * index as u32;
        if shift == 126 && bits > 0b11 {
            return None;
        }
        value |= bits << shift;
        if byte & 0x80 == 0 {
            return Some((value, &bytes[index + 1..]));
        }
    }
    None
}

/// The runs of the register's in-memory postings of entries `after + 1 ..= through`, and of
/// its movement records changed in those entries.
fn runs_of(register: &Register, after: u64, through: u64) -> Runs {
    let changed = register.movements_changed(after, through);
    Runs {
        postings: pack_runs(
            after,
            register.logged_all().map(|(slot, asset, postings)| {
                let start = postings.partition_point(|logged| logged.seq <= after);
                let end = postings.partition_point(|logged| logged.seq <= through);
                (slot, asset, &postings[start..end.max(start)])
            }),
        ),
        movements: movement_index::pack(changed.iter().map(|(key, record)| (key, record))),
    }
}

/// The runs of postings and movement records taken from the register ([`Register::take_log`]).
pub(crate) fn runs_from(after: u64, taken: &Taken) -> Runs {
    Runs {
        postings: pack_runs(after, taken.postings.iter().map(|(slot, asset, postings)| (*slot, *asset, postings.as_slice()))),
        movements: movement_index::pack(taken.movements.iter()),
    }
}

/// The posting index ends before a handle's floor: it was reset while the process ran.
fn behind(indexed: u64, floor: u64) -> StoreError {
    StoreError::PostingIndex(format!(
        "ends at entry {indexed}, before entry {floor}, up to which this process keeps no postings in memory: it was reset (`migrate --rebuild-index`) while this process ran; open the store again"
    ))
}

/// The posting index ended elsewhere than the batch read under the journal's lock.
pub(crate) fn moved(indexed: u64, expected: u64) -> StoreError {
    StoreError::PostingIndex(format!(
        "ends at entry {indexed}, not at entry {expected} as this batch read under the journal's lock (a bug in ringfence, or an edit behind its back); nothing of the batch was recorded"
    ))
}

/// The postings of a run that starts after entry `after`, each with the account's place in
/// its group and the asset; an error names what is malformed.
fn postings_in(after: u64, bytes: &[u8]) -> Result<Vec<(u8, u32, Logged)>, StoreError> {
    let malformed = |what: &str| {
        StoreError::PostingIndex(format!(
            "is damaged (a run starting after entry {after}: {what}); the journal is the truth: `ringfence migrate --rebuild-index` rebuilds the index from it"
        ))
    };
    let mut postings = Vec::new();
    let (mut rest, mut previous) = (bytes, 0i64);
    while !rest.is_empty() {
        let mut field = |what: &str| -> Result<u128, StoreError> {
            let (value, after_field) = take_varint(rest).ok_or_else(|| malformed(&format!("a truncated or oversized {what}")))?;
            rest = after_field;
            Ok(value)
        };
        let offset = u64::try_from(field("entry")?).map_err(|_| malformed("an entry beyond 64 bits"))?;
        let zigzag = u64::try_from(field("effective time")?).map_err(|_| malformed("an effective time beyond 64 bits"))?;
        let amount = field("amount")?;
        let tagged = u64::try_from(field("asset")?).map_err(|_| malformed("an asset beyond 32 bits"))?;
        let place = ((tagged >> 1) & ((1 << GROUP_SHIFT) - 1)) as u8;
        let asset = u32::try_from(tagged >> (GROUP_SHIFT + 1)).map_err(|_| malformed("an asset beyond 32 bits"))?;
        let delta = ((zigzag >> 1) as i64) ^ -((zigzag & 1) as i64);
        let effective = previous.wrapping_add(delta);
        previous = effective;
        let seq = after.checked_add(offset).filter(|seq| *seq > after).ok_or_else(|| malformed("an entry not after its start"))?;
        postings.push((place, asset, Logged { seq, effective_at: Timestamp::from_micros(effective), amount, increases: tagged & 1 == 1 }));
    }
    Ok(postings)
}

/// Reads movement records back from the movement index at `location`, on a read-only
/// connection of its own opened on first need.
///
/// A failure of that read keeps its `StoreError` in `failed`, for the caller to report as it
/// is (the register can only say it could not decide).
fn movement_lookup(location: Location, failed: LookupFailure) -> ringfence_core::register::MovementLookup {
    let mut reader: Option<Box<dyn Reader>> = None;
    Box::new(move |key, floor| {
        let found = match &mut reader {
            Some(reader) => Ok(reader),
            None => reader_for(&location, Intent::ReadOnly).map(|opened| reader.insert(opened)),
        }
        .and_then(|reader| {
            // An index reset behind the register's back lacks records it no longer holds.
            let indexed = reader.posting_index_through()?;
            if indexed < floor {
                return Err(behind(indexed, floor));
            }
            movement_index::find(key, |bucket, visit| reader.movement_rows(bucket, visit))
        });
        found.map_err(|error| {
            let why = error.to_string();
            *failed.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(error);
            why
        })
    })
}

/// Where a movement lookup leaves the store error that stopped it.
type LookupFailure = Arc<Mutex<Option<StoreError>>>;

/// The error to report for a register that could not decide: the store error behind it when a
/// movement lookup failed (a damaged index, a lost connection), else the violation itself.
fn undecided(violation: InvariantViolation, failed: &LookupFailure) -> StoreError {
    failed.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take().unwrap_or_else(|| violation.into())
}

fn reader_for(location: &Location, intent: Intent) -> Result<Box<dyn Reader>, StoreError> {
    Ok(match location {
        Location::Sqlite(path) => Box::new(sqlite::SqliteReader::open(path, intent)?),
        Location::Postgres(target) => Box::new(postgres::PostgresReader::open(target, intent)?),
    })
}

/// What opening a database is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Intent {
    /// A new store: fail if one exists, create the schema.
    Create,
    /// An existing store, to record and query.
    Open,
    /// An existing store, to read its journal only (it may be damaged).
    Inspect,
    /// An existing store, to query and follow only: no schema change, no write session, the
    /// database session itself read-only (a PostgreSQL hot standby, a read-only copy).
    ReadOnly,
}

/// Brings an existing store's schema to this build's version (PostgreSQL: creates it in an
/// empty database).
pub fn migrate(location: &Location) -> Result<Migrated, StoreError> {
    match location {
        Location::Sqlite(path) => sqlite::migrate_file(path),
        Location::Postgres(target) => postgres::migrate(target),
    }
}

/// Empties the posting index (every run, its end back to entry 0); returns how many runs
/// there were. The next open keeps every posting in memory until it is indexed again
/// ([`Store::index_postings`]); checkpoints that left postings out are passed over.
pub fn reset_posting_index(location: &Location) -> Result<u64, StoreError> {
    reader_for(location, Intent::Open)?.reset_posting_index()
}

/// The journal and register.
#[derive(Debug)]
pub struct Store {
    reader: Mutex<Box<dyn Reader>>,
    location: Location,
    register: Register,
    head: Head,
    poisoned: bool,
    writer: Option<writer::Writer>,
    /// The key commits are signed with, if this process holds one.
    signer: Option<Arc<Signer>>,
    /// The last entry whose commit signature was checked (or that needs none).
    covered: u64,
    policy: CheckpointPolicy,
    /// The size of a checkpoint's parts ([`CHECKPOINT_PART_BYTES`]; smaller in tests).
    part_bytes: usize,
    /// The entry the newest checkpoint this handle knows of was taken after.
    last_checkpoint: u64,
    opened: Opened,
    /// Opened with [`Store::open_read_only`]: no write session, nothing recorded.
    read_only: bool,
    /// Entries of postings kept in memory before `submit` moves them to the posting index.
    index_every: u64,
    /// The batch being written found more postings in memory than a run: index them after.
    index_backlog: bool,
    /// Why the register's last movement lookup failed, if it did.
    lookup_failure: LookupFailure,
}

impl Drop for Store {
    fn drop(&mut self) {
        // The writer's session goes before the reader (which may own helper threads).
        drop(self.writer.take());
    }
}

impl Store {
    /// Creates a new, empty store. Fails if one exists there already.
    pub fn create(location: &Location) -> Result<Store, StoreError> {
        Self::load(reader_for(location, Intent::Create)?, location.clone())
    }

    /// Opens an existing store and rebuilds the register from its journal, verifying the hash
    /// chain on the way.
    pub fn open(location: &Location) -> Result<Store, StoreError> {
        Self::load(reader_for(location, Intent::Open)?, location.clone())
    }

    /// Opens an existing store (as [`Store::open`]) whose commits this handle signs with
    /// `signer`, when given (see [`Store::set_signer`]).
    pub fn open_with(location: &Location, signer: Option<Arc<Signer>>) -> Result<Store, StoreError> {
        Self::open_configured(location, signer, CheckpointPolicy::process_default())
    }

    /// As [`Store::open_with`], with this checkpoint policy rather than the process default.
    pub fn open_configured(location: &Location, signer: Option<Arc<Signer>>, policy: CheckpointPolicy) -> Result<Store, StoreError> {
        let mut store = Self::load_with(reader_for(location, Intent::Open)?, location.clone(), policy)?;
        if let Some(signer) = signer {
            store.set_signer(signer)?;
        }
        Ok(store)
    }

    /// Opens an existing store to query and follow only (a PostgreSQL hot standby, or any
    /// database this process should not write): the register is rebuilt as on any open (from
    /// the newest checkpoint that checks out, the tail replayed and verified), the database
    /// session is read-only, and [`Store::submit`] and [`Store::checkpoint`] answer
    /// [`StoreError::ReadOnly`]. [`Store::refresh`] follows what the writer commits, as it
    /// reaches this database.
    pub fn open_read_only(location: &Location, policy: CheckpointPolicy) -> Result<Store, StoreError> {
        let mut store = Self::assemble(reader_for(location, Intent::ReadOnly)?, location.clone(), policy);
        store.read_only = true;
        store.rebuild()?;
        Ok(store)
    }

    /// A read-only handle whose register is the state right after entry `until`: the newest
    /// usable checkpoint at or before it, then the journal up to it and no further. Reports
    /// made as of an earlier entry read it, so that wallets, custodians, authorisations,
    /// chain links and prices are those the journal held then, not today's. Costs a replay
    /// from that checkpoint (or from entry 1). An `until` the journal does not hold is
    /// refused.
    pub fn open_as_of(location: &Location, policy: CheckpointPolicy, until: u64) -> Result<Store, StoreError> {
        let mut store = Self::assemble(reader_for(location, Intent::ReadOnly)?, location.clone(), policy);
        store.read_only = true;
        store.rebuild_until(until)?;
        Ok(store)
    }

    /// Whether this handle was opened with [`Store::open_read_only`].
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    fn load(reader: Box<dyn Reader>, location: Location) -> Result<Store, StoreError> {
        Self::load_with(reader, location, CheckpointPolicy::process_default())
    }

    fn load_with(reader: Box<dyn Reader>, location: Location, policy: CheckpointPolicy) -> Result<Store, StoreError> {
        let mut store = Self::assemble(reader, location, policy);
        store.rebuild()?;
        let sink = store.reader().sink()?;
        store.writer = Some(writer::Writer::start(sink)?);
        Ok(store)
    }

    fn assemble(reader: Box<dyn Reader>, location: Location, policy: CheckpointPolicy) -> Store {
        Store {
            reader: Mutex::new(reader),
            location,
            register: Register::new(),
            head: Head::EMPTY,
            poisoned: false,
            writer: None,
            signer: None,
            covered: 0,
            policy,
            part_bytes: CHECKPOINT_PART_BYTES,
            last_checkpoint: 0,
            opened: Opened::default(),
            read_only: false,
            index_every: POSTING_INDEX_DEFAULT.load(std::sync::atomic::Ordering::Relaxed),
            index_backlog: false,
            lookup_failure: LookupFailure::default(),
        }
    }

    /// The register from the newest usable checkpoint and the journal after it.
    fn rebuild(&mut self) -> Result<(), StoreError> {
        self.start_from_checkpoint()?;
        // Postings the posting index holds are not kept in memory, those replayed included.
        let indexed = self.reader_mut().posting_index_through()?;
        if self.register.log_floor() > indexed {
            // A checkpoint that left out postings the index does not hold (the index was
            // rebuilt since): the journal from entry 1 instead.
            self.opened.passed_over.push(format!(
                "register checkpoint at entry {}: it leaves out the postings up to entry {}, and the posting index holds them only up to entry {indexed}",
                self.head.seq,
                self.register.log_floor()
            ));
            self.register = Register::new();
            self.head = Head::EMPTY;
            self.covered = 0;
            self.opened.checkpoint = None;
            self.last_checkpoint = 0;
        }
        self.install_lookup();
        self.register.raise_log_floor(indexed);
        let from = self.head.seq;
        self.catch_up()?;
        self.opened.replayed = self.head.seq - from;
        self.register.audit()?;
        Ok(())
    }

    /// As [`Store::rebuild`], stopping after entry `until`; postings the posting index holds
    /// up to a run's end at or before it are not kept in memory.
    fn rebuild_until(&mut self, until: u64) -> Result<(), StoreError> {
        let reader = self.reader.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !self.policy.full_replay {
            for info in reader.checkpoints()?.into_iter().filter(|info| info.seq <= until) {
                match restore_checkpoint(reader.as_mut(), &info)? {
                    Ok(register) => {
                        self.register = register;
                        self.head = Head { seq: info.seq, hash: info.head };
                        self.covered = info.seq;
                        self.opened.checkpoint = Some(info.seq);
                        break;
                    }
                    Err(why) => self.opened.passed_over.push(format!("the register checkpoint at entry {} {why}", info.seq)),
                }
            }
        }
        let indexed = reader.posting_run_ends()?.into_iter().filter(|&end| end <= until).max().unwrap_or(0);
        if self.register.log_floor() > indexed {
            self.register = Register::new();
            self.head = Head::EMPTY;
            self.covered = 0;
            self.opened.checkpoint = None;
        }
        self.install_lookup();
        self.register.raise_log_floor(indexed);
        let from = self.head.seq;
        let mut replay = Replay::strict(self.head, self.covered, &mut self.register, &self.lookup_failure);
        // A checkpoint at `until` leaves nothing to replay.
        let reached = (self.head.seq == until).then_some(self.head);
        let mut walk = UntilWalk { replay: &mut replay, until, reached };
        // A commit holds at most BATCH_MAX entries: the one holding `until` ends by then.
        let reader = self.reader.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner);
        let recorded = reader.read(Scan::Until(self.head, until.saturating_add(BATCH_MAX as u64)), &mut walk)?;
        let Some(head) = walk.reached.filter(|head| head.seq == until) else {
            return Err(StoreError::NoSuchEntry { seq: until, head: recorded.seq });
        };
        replay.signatures.finish(until)?;
        self.covered = until;
        self.head = head;
        self.opened.replayed = self.head.seq - from;
        self.register.audit()?;
        Ok(())
    }

    /// Gives the register its way to read back movement records it moved to the movement
    /// index: a read-only connection of its own, opened on first need (reads of committed
    /// rows only; what this handle moved in the batch being written stays readable in memory).
    fn install_lookup(&mut self) {
        self.register.set_movement_lookup(movement_lookup(self.location.clone(), Arc::clone(&self.lookup_failure)));
    }

    /// Restores the register from the newest checkpoint that checks out: its hash over what is
    /// stored, the build that wrote it, its binding to the journal entry it names (stored, with
    /// that hash), and the state itself (decodes, indexes, invariants). One that does not is
    /// passed over, with why, for the caller to report; the journal is then replayed from the
    /// next older one, or from entry 1. Entries after the checkpoint are replayed and checked
    /// as on any open, chaining from the entry it is bound to.
    fn start_from_checkpoint(&mut self) -> Result<(), StoreError> {
        let reader = self.reader.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner);
        // The interval counts from the checkpoint this handle opened from: one passed over
        // (damaged, another build's, a forged far-off entry) does not put the next one off.
        self.last_checkpoint = 0;
        if self.policy.full_replay {
            return Ok(());
        }
        if let Some((info, register)) = newest_usable_checkpoint(reader.as_mut(), &mut self.opened.passed_over)? {
            self.register = register;
            self.head = Head { seq: info.seq, hash: info.head };
            // Checkpoints are taken after a whole commit: its signature was checked when the
            // state was built.
            self.covered = info.seq;
            self.opened.checkpoint = Some(info.seq);
            self.last_checkpoint = info.seq;
        }
        Ok(())
    }

    /// How this handle was opened: from which checkpoint, and any passed over.
    pub fn opened(&self) -> &Opened {
        &self.opened
    }

    /// Writes this handle's checkpoints in parts of `bytes` (at least 1, at most
    /// [`CHECKPOINT_PART_BYTES`]): for tests of states that span many parts.
    #[doc(hidden)]
    pub fn set_checkpoint_part_bytes(&mut self, bytes: usize) {
        self.part_bytes = bytes.clamp(1, CHECKPOINT_PART_BYTES);
    }

    /// This handle's checkpoint policy (the process default when opened).
    pub fn set_checkpoint_policy(&mut self, policy: CheckpointPolicy) {
        self.policy = policy;
    }

    /// Takes a checkpoint of the register at the head now and returns it. `taken_at` is
    /// recorded with it. The state goes to the database a part at a time as it is encoded.
    pub fn checkpoint(&mut self, taken_at: Timestamp) -> Result<CheckpointInfo, StoreError> {
        self.writable()?;
        self.catch_up()?;
        if self.head.seq == 0 {
            return Err(StoreError::NothingToCheckpoint);
        }
        let head = self.head;
        let reader = self.reader.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner);
        reader.begin_checkpoint(head.seq)?;
        let mut parts = PartWriter::new(reader.as_mut(), head, self.part_bytes);
        let encoded = self.register.snapshot_to(&mut parts);
        let written = parts.finish();
        let info = match (encoded, written) {
            (_, Err(error)) => Err(error),
            (Err(why), Ok(_)) => Err(StoreError::Invariant(InvariantViolation(why))),
            (Ok(()), Ok((size, hash))) => Ok(CheckpointInfo {
                seq: head.seq,
                head: head.hash,
                layout: ringfence_core::register::STATE_LAYOUT.to_owned(),
                size,
                hash,
                taken_at,
            }),
        };
        let finished = info.and_then(|info| reader.finish_checkpoint(&info, CHECKPOINTS_KEPT).map(|()| info));
        if finished.is_err() {
            reader.abort_checkpoint();
        }
        let info = finished?;
        self.last_checkpoint = info.seq;
        Ok(info)
    }

    /// Whether the policy wants a checkpoint now: `every` entries or more since the last one
    /// this handle took or opened from.
    pub fn checkpoint_due(&self) -> bool {
        !self.read_only && self.intervals_since_checkpoint(1)
    }

    /// Whether a checkpoint is overdue: twice `every` entries since the last one (a writer
    /// that never idles takes it anyway).
    pub fn checkpoint_overdue(&self) -> bool {
        !self.read_only && self.intervals_since_checkpoint(2)
    }

    /// Whether `intervals` times `every` entries or more follow the last checkpoint.
    fn intervals_since_checkpoint(&self, intervals: u64) -> bool {
        self.policy.every > 0 && self.head.seq >= self.last_checkpoint.saturating_add(self.policy.every.saturating_mul(intervals))
    }

    /// Takes a checkpoint when one is due. Called between batches, never inside one: by the
    /// CLI after each batch it commits, by the server when its queue is empty. A checkpoint
    /// that cannot be written is not tried again until `every` more entries (the journal
    /// stays the truth; the next open replays a longer tail).
    pub fn checkpoint_if_due(&mut self, taken_at: Timestamp) -> Result<Option<CheckpointInfo>, StoreError> {
        if !self.checkpoint_due() {
            return Ok(None);
        }
        self.last_checkpoint = self.head.seq;
        self.checkpoint(taken_at).map(Some)
    }

    /// The stored checkpoints, newest first.
    pub fn checkpoints(&self) -> Result<Vec<CheckpointInfo>, StoreError> {
        self.reader().checkpoints()
    }

    /// Removes every stored checkpoint (the next open replays the journal from entry 1);
    /// returns how many there were.
    pub fn discard_checkpoints(&mut self) -> Result<u64, StoreError> {
        self.writable()?;
        let discarded = self.reader_mut().discard_checkpoints()?;
        self.last_checkpoint = 0;
        Ok(discarded)
    }

    /// Refuses a write on a read-only or poisoned handle.
    fn writable(&self) -> Result<(), StoreError> {
        if self.read_only {
            return Err(StoreError::ReadOnly(self.location.describe()));
        }
        if self.poisoned {
            return Err(StoreError::Poisoned);
        }
        Ok(())
    }

    /// The reader, on a handle borrowed mutably (no lock to take).
    fn reader_mut(&mut self) -> &mut Box<dyn Reader> {
        self.reader.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn reader(&self) -> MutexGuard<'_, Box<dyn Reader>> {
        // A panic while holding the lock leaves no half-done state in the reader: recover it.
        self.reader.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn location(&self) -> &Location {
        &self.location
    }

    /// The register as of the last committed batch.
    pub fn register(&self) -> &Register {
        &self.register
    }

    /// The journal's head: last sequence number and its hash.
    pub fn head(&self) -> Head {
        self.head
    }

    /// Replays journal entries this process has not seen (all of them on open), verifying the
    /// chain and the commit signatures and re-deciding every command: each must be accepted
    /// again at its own sequence.
    fn catch_up(&mut self) -> Result<(), StoreError> {
        let (recorded, verifier, signatures) = self.replay(Scan::Behind(self.head))?;
        let head = verifier.finish(recorded)?;
        signatures.finish(head.seq)?;
        self.covered = signatures.covered();
        self.head = head;
        Ok(())
    }

    /// Replays the entries `scan` reads into the register, from this handle's head, checking
    /// the chain and the commit signatures as it goes: the recorded head, and the checks where
    /// the replay ended.
    fn replay(&mut self, scan: Scan) -> Result<(Head, Verifier, SignatureCheck), StoreError> {
        let mut replay = Replay::strict(self.head, self.covered, &mut self.register, &self.lookup_failure);
        let reader = self.reader.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner);
        let recorded = reader.read(scan, &mut replay)?;
        Ok((recorded, replay.verifier, replay.signatures))
    }

    /// Signs this handle's commits with `signer` from now on. Refused when the journal has
    /// signing keys and this is not one that may sign now (registered and not retired).
    pub fn set_signer(&mut self, signer: Arc<Signer>) -> Result<(), StoreError> {
        let next = self.head.seq + 1;
        if let Some(problem) = self.signing_problem(Some(&signer), next, next) {
            return Err(StoreError::Signing(problem));
        }
        self.signer = Some(signer);
        Ok(())
    }

    /// The key this handle signs with, if any (to open another handle with it).
    pub fn signer(&self) -> Option<Arc<Signer>> {
        self.signer.clone()
    }

    /// Why a batch that appends entries `first..=last` cannot be signed by `signer` as the
    /// journal needs, with the register as it is (after deciding the batch, it may register
    /// the first key). `None`: it can.
    fn signing_problem(&self, signer: Option<&Signer>, first: u64, last: u64) -> Option<String> {
        if self.register.signing_keys().is_empty() || last < first {
            return None;
        }
        match signer {
            None => Some(format!(
                "from the first journal signing key on, every commit must be signed (keys: {}); pass --signing-key FILE (or set RINGFENCE_SIGNING_KEY) with an active key's file",
                active_keys(&self.register)
            )),
            Some(signer) if !self.register.may_sign(&signer.public_key(), first, last) => Some(format!(
                "the signing key {} is not an active journal signing key of this store for entries {first} to {last} (active: {}); register it with `ringfence key register` and have it approved, or use the key file of an active key",
                signer.fingerprint(),
                active_keys(&self.register)
            )),
            Some(_) => None,
        }
    }

    /// Catches up on entries other processes committed since this store last looked (a
    /// long-running reader, such as the HTTP server, calls it when idle).
    pub fn refresh(&mut self) -> Result<(), StoreError> {
        if self.poisoned {
            return Err(StoreError::Poisoned);
        }
        self.catch_up()?;
        // Another process may have moved postings this handle holds to the posting index.
        let indexed = self.reader_mut().posting_index_through()?;
        if indexed <= self.head.seq {
            self.register.raise_log_floor(indexed);
        }
        Ok(())
    }

    /// Entries whose postings the in-memory log may hold before [`Store::submit`] moves them
    /// to the posting index ([`POSTING_INDEX_EVERY`]; smaller in tests).
    pub fn set_posting_index_every(&mut self, entries: u64) {
        self.index_every = entries.max(1);
    }

    /// Moves the postings the register holds in memory to the posting index (the tables that
    /// balances at an instant and histories read), up to the head, and returns where the index
    /// ends. Done by `submit` on its own every [`POSTING_INDEX_EVERY`] entries, and by
    /// `ringfence migrate` for a store written before the index.
    pub fn index_postings(&mut self) -> Result<u64, StoreError> {
        self.writable()?;
        // In runs of `index_every` entries at most, each in its own transaction: a store
        // indexed for the first time (after an upgrade, a rebuild) does not make one row the
        // size of its history.
        let head = self.head.seq;
        loop {
            let floor = self.register.log_floor();
            let through = head.min(floor.saturating_add(self.index_every));
            let register = &self.register;
            let reader = self.reader.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner);
            let end = reader.index_postings(through, &mut |indexed| {
                if indexed < floor {
                    return Err(behind(indexed, floor));
                }
                Ok(runs_of(register, indexed, through))
            })?;
            // Another process may have indexed past this handle's head: it keeps its postings
            // until it has caught up with that end.
            if end > head {
                return Ok(end);
            }
            self.register.raise_log_floor(end);
            if end >= head {
                return Ok(end);
            }
        }
    }

    /// Refuses to answer from the posting index when it ends before this handle's floor (it
    /// was reset while this process ran: its rows up to the floor are not there) or when a
    /// failed write left the in-memory register unsure.
    fn index_usable(&self) -> Result<(), StoreError> {
        if self.poisoned {
            return Err(StoreError::Poisoned);
        }
        let floor = self.register.log_floor();
        if floor > 0 {
            let indexed = self.reader().posting_index_through()?;
            if indexed < floor {
                return Err(behind(indexed, floor));
            }
        }
        Ok(())
    }

    /// Decides and durably records a batch: one outcome per command, in order. Accepted
    /// commands are journaled in one transaction; when this returns Ok they are on disk.
    pub fn submit(&mut self, commands: &[Command], recorded_at: Timestamp) -> Result<Vec<Outcome>, StoreError> {
        self.writable()?;
        if commands.len() > BATCH_MAX {
            return Err(StoreError::BatchTooLarge { count: commands.len(), max: BATCH_MAX });
        }
        // Refused before anything is decided when this handle cannot sign what the journal
        // needs signed (checked again after deciding: the batch may register a key).
        let next = self.head.seq + 1;
        if let Some(problem) = self.signing_problem(self.signer.as_deref(), next, next) {
            return Err(StoreError::Signing(problem));
        }
        // Until the commit succeeds, the in-memory register may be ahead of the database.
        self.poisoned = true;
        let outcomes = self.submit_locked(commands, recorded_at)?;
        self.poisoned = false;
        if std::mem::take(&mut self.index_backlog) {
            // The batch is durable whatever happens here: what is not indexed now stays in
            // memory and is tried again after the next batch.
            let _ = self.index_postings();
        }
        Ok(outcomes)
    }

    fn submit_locked(&mut self, commands: &[Command], recorded_at: Timestamp) -> Result<Vec<Outcome>, StoreError> {
        let Some(writer) = self.writer.take() else { return Err(StoreError::Poisoned) };
        let result = self.write_batch(&writer, commands, recorded_at);
        self.writer = Some(writer);
        let outcomes = result?;
        self.reader_mut().committed();
        Ok(outcomes)
    }

    /// Decides each command and seals the accepted ones here, while the writer thread inserts
    /// the sealed entries; then commits once.
    fn write_batch(&mut self, writer: &writer::Writer, commands: &[Command], recorded_at: Timestamp) -> Result<Vec<Outcome>, StoreError> {
        writer.begin()?;
        match self.decide(writer, commands, recorded_at) {
            Ok((outcomes, accepted)) => {
                let first = self.head.seq + 1;
                if let Some(problem) = self.signing_problem(self.signer.as_deref(), first, self.register.seq()) {
                    let _ = writer.rollback();
                    return Err(StoreError::Signing(problem));
                }
                let signer = if self.register.signing_keys().is_empty() { None } else { self.signer.clone() };
                let head = writer.commit(signer)?;
                // Pair assertion: the writer chained exactly the commands the register accepted.
                if head.seq != self.head.seq + accepted || head.seq != self.register.seq() {
                    return Err(InvariantViolation(format!(
                        "the journal ends at {} but the register at {}",
                        head.seq,
                        self.register.seq()
                    ))
                    .into());
                }
                self.head = head;
                self.covered = head.seq;
                Ok(outcomes)
            }
            Err(error) => {
                let _ = writer.rollback();
                Err(error)
            }
        }
    }

    /// Decides each command; hands the accepted ones, encoded, to the writer thread as it goes.
    fn decide(&mut self, writer: &writer::Writer, commands: &[Command], recorded_at: Timestamp) -> Result<(Vec<Outcome>, u64), StoreError> {
        // The writer holds the write lock, so what is committed now is all there is.
        self.catch_up()?;
        writer.chain_from(self.head, recorded_at)?;
        // Every `index_every` entries, the postings held in memory go to the posting index in
        // this batch's transaction: the writer thread packs and inserts them while this one
        // decides. Read under the journal's lock, which every indexer holds, where the index
        // ends cannot move before this batch commits.
        let (floor, through) = (self.register.log_floor(), self.head.seq);
        let held = through.saturating_sub(floor);
        if held >= self.index_every {
            let indexed = self.reader_mut().posting_index_through()?;
            if indexed < floor {
                return Err(behind(indexed, floor));
            } else if indexed > floor && indexed <= through {
                // Another process indexed them already.
                self.register.raise_log_floor(indexed);
            } else if indexed == floor && held <= 2 * self.index_every {
                writer.index(floor, through, self.register.take_log())?;
            } else if indexed == floor {
                // Far more than a run (the first index of an older store): after this batch,
                // run by run, each in its own transaction.
                self.index_backlog = true;
            }
        }
        let mut outcomes = Vec::with_capacity(commands.len());
        let mut chunk = writer::Chunk::default();
        let mut encoder = ringfence_core::codec::Encoder::default();
        let mut accepted = 0;
        for command in commands {
            let outcome = self.register.apply_at(command, recorded_at).map_err(|violation| undecided(violation, &self.lookup_failure))?;
            if let (true, Some(seq)) = (outcome.status.is_journaled(), outcome.seq) {
                encoder.bytes = std::mem::take(&mut chunk.commands);
                encoder.command(command);
                chunk.commands = std::mem::take(&mut encoder.bytes);
                chunk.entries.push((seq, chunk.commands.len()));
                accepted += 1;
                if chunk.entries.len() == writer::CHUNK_ENTRIES_MAX {
                    writer.write(std::mem::take(&mut chunk))?;
                }
            }
            outcomes.push(outcome);
        }
        if !chunk.entries.is_empty() {
            writer.write(chunk)?;
        }
        #[cfg(debug_assertions)]
        self.register.audit()?;
        Ok((outcomes, accepted))
    }

    /// The balance of an account in an asset at an instant of effective time: the sum of the
    /// postings effective at or before `at`.
    pub fn balance_at(&self, account: &Account, asset: &AssetId, at: Timestamp) -> Result<Net, StoreError> {
        let Some(number) = self.register.asset_number(asset) else { return Ok(Net::default()) };
        Ok(self.balances_at(account, at)?.get(number as usize).copied().unwrap_or_default())
    }

    /// The balances of an account in every asset at an instant of effective time, by the
    /// asset's registration index (all zero for an unknown account): the posting index's rows
    /// of the account's group are read and decoded once for all assets.
    pub fn balances_at(&self, account: &Account, at: Timestamp) -> Result<Vec<Net>, StoreError> {
        self.index_usable()?;
        let register = &self.register;
        let assets = register.assets().count();
        let Some(slot) = register.log_slot(account) else { return Ok(vec![Net::default(); assets]) };
        // Per asset: what raised the balance and what lowered it.
        let mut totals = vec![(0u128, 0u128); assets];
        let mut add = |asset: u32, logged: &Logged| {
            if let Some((increases, decreases)) = totals.get_mut(asset as usize)
                && logged.effective_at <= at
            {
                let total = if logged.increases { increases } else { decreases };
                // Every prefix in journal order fits u128; a prefix in effective-time order may
                // not, in theory, when movements were back-dated: saturate rather than wrap.
                *total = total.saturating_add(logged.amount);
            }
        };
        let floor = register.log_floor();
        if floor > 0 {
            let place = group_place(slot);
            self.reader().posting_runs(account_group(slot), floor, 0, &mut |start, bytes| {
                for (of, asset, logged) in postings_in(start, bytes)? {
                    if of == place {
                        add(asset, &logged);
                    }
                }
                Ok(true)
            })?;
        }
        for asset in 0..u32::try_from(assets).unwrap_or(u32::MAX) {
            for logged in register.logged(slot, asset) {
                add(asset, logged);
            }
        }
        Ok(totals.into_iter().map(net_of).collect())
    }

    /// Every account's balance in every asset at an instant of effective time, by (the
    /// account's log slot, the asset's registration index), the zero ones left out: the posting
    /// index read once, run by run, then the postings in memory. For reports over every
    /// account at a cut-off (the insolvency pack); memory follows the accounts, not the
    /// history.
    pub fn all_balances_at(&self, at: Timestamp) -> Result<HashMap<(LogSlot, u32), Net>, StoreError> {
        self.index_usable()?;
        let register = &self.register;
        let mut totals: HashMap<(LogSlot, u32), (u128, u128)> = HashMap::new();
        let mut add = |slot: LogSlot, asset: u32, logged: &Logged| {
            if logged.effective_at <= at {
                let (increases, decreases) = totals.entry((slot, asset)).or_default();
                let total = if logged.increases { increases } else { decreases };
                *total = total.saturating_add(logged.amount);
            }
        };
        let floor = register.log_floor();
        if floor > 0 {
            let ends = self.reader().posting_run_ends()?;
            for end in ends.into_iter().filter(|&end| end <= floor) {
                self.reader().posting_runs_ending(end, &mut |group, start, bytes| {
                    for (place, asset, logged) in postings_in(start, bytes)? {
                        add((group << GROUP_SHIFT) | i64::from(place), asset, &logged);
                    }
                    Ok(())
                })?;
            }
        }
        for (slot, asset, postings) in register.logged_all() {
            for logged in postings {
                add(slot, asset, logged);
            }
        }
        Ok(totals.into_iter().map(|(key, sums)| (key, net_of(sums))).filter(|(_, net)| !net.amount.is_zero()).collect())
    }

    /// The segregation summary per asset at an instant of effective time, as
    /// [`Register::summary`] gives it now: from every account's balance at `at`
    /// ([`Store::all_balances_at`]). A balance below zero there (only backdated movements make
    /// one) counts as nothing, as reconciliation counts it.
    pub fn summary_at(&self, at: Timestamp) -> Result<Vec<ringfence_core::AssetSummary>, StoreError> {
        let register = &self.register;
        let balances = self.all_balances_at(at)?;
        let held = |account: &Account, asset: u32| -> u128 {
            register
                .log_slot(account)
                .and_then(|slot| balances.get(&(slot, asset)))
                .filter(|net| !net.negative)
                .map_or(0, |net| net.amount.units())
        };
        let mut rows = register.summary();
        for (number, row) in rows.iter_mut().enumerate() {
            let asset = number as u32;
            let add = |total: &mut Amount, units: u128| *total = Amount::new(total.units().saturating_add(units));
            for total in [
                &mut row.client_positions,
                &mut row.client_holdings,
                &mut row.firm_holdings,
                &mut row.own_accounts,
                &mut row.client_hot,
                &mut row.client_cold,
                &mut row.firm_hot,
                &mut row.firm_cold,
            ] {
                *total = Amount::ZERO;
            }
            for client in register.clients() {
                add(&mut row.client_positions, held(&Account::Position(client.id.clone()), asset));
            }
            for wallet in register.wallets() {
                let units = held(&Account::Holding(wallet.id.clone()), asset);
                let hot = wallet.tier == ringfence_core::Tier::Hot;
                if wallet.class == ringfence_core::WalletClass::Firm {
                    add(&mut row.firm_holdings, units);
                    add(if hot { &mut row.firm_hot } else { &mut row.firm_cold }, units);
                } else {
                    add(&mut row.client_holdings, units);
                    add(if hot { &mut row.client_hot } else { &mut row.client_cold }, units);
                }
            }
            for account in ringfence_core::OwnAccount::ALL {
                add(&mut row.own_accounts, held(&Account::Own(*account), asset));
            }
        }
        Ok(rows)
    }

    /// Entries after `after` that posted to `account` with effective time in `[from, to]`,
    /// ascending, at most `limit`: from the posting index, then the postings in memory.
    fn movements_of(&self, account: &Account, from: Timestamp, to: Timestamp, after: u64, limit: usize) -> Result<Vec<u64>, StoreError> {
        self.index_usable()?;
        let register = &self.register;
        let Some(slot) = register.log_slot(account) else { return Ok(Vec::new()) };
        let wanted = |logged: &Logged| logged.seq > after && (from..=to).contains(&logged.effective_at);
        let mut seqs: Vec<u64> = Vec::new();
        let floor = register.log_floor();
        if floor > after {
            // A run holds its entries' postings asset by asset: each run is sorted on its own
            // (its entries all come after the previous run's).
            let place = group_place(slot);
            self.reader().posting_runs(account_group(slot), floor, after, &mut |start, bytes| {
                let mut run: Vec<u64> = postings_in(start, bytes)?
                    .into_iter()
                    .filter(|(at, _, logged)| *at == place && wanted(logged))
                    .map(|(_, _, logged)| logged.seq)
                    .collect();
                run.sort_unstable();
                run.dedup();
                seqs.append(&mut run);
                Ok(seqs.len() < limit)
            })?;
        }
        if seqs.len() < limit {
            let mut held: Vec<u64> = (0..u32::try_from(register.assets().count()).unwrap_or(u32::MAX))
                .flat_map(|asset| register.logged(slot, asset))
                .filter(|logged| wanted(logged))
                .map(|logged| logged.seq)
                .collect();
            held.sort_unstable();
            held.dedup();
            seqs.extend(held);
        }
        seqs.truncate(limit);
        Ok(seqs)
    }

    /// Movements that touched a client's positions, a wallet's holdings or an own account,
    /// with effective time in `[from, to]`, oldest first, at most `limit`.
    pub fn history(&self, subject: &Subject, from: Timestamp, to: Timestamp, limit: u32) -> Result<Vec<Recorded>, StoreError> {
        self.history_after(subject, from, to, 0, limit)
    }

    /// One page of a history: as [`Store::history`], only movements after sequence `after`.
    pub fn history_after(
        &self,
        subject: &Subject,
        from: Timestamp,
        to: Timestamp,
        after: u64,
        limit: u32,
    ) -> Result<Vec<Recorded>, StoreError> {
        let limit = limit.min(HISTORY_LIMIT_MAX) as usize;
        let seqs = self.movements_of(&subject.account(), from, to, after, limit)?;
        let entries = self.entries_checked(&seqs)?;
        Ok(entries.into_iter().map(|entry| self.resolved(entry)).collect())
    }

    /// The encumbrances and releases of `client`'s positions with effective time in
    /// `[from, to]`, oldest first (each an entry of its own; an approval that applied one
    /// stands for it).
    pub fn encumbrance_history(&self, client: &ClientId, from: Timestamp, to: Timestamp) -> Result<Vec<Recorded>, StoreError> {
        let seqs = self.register.encumbrance_events(client);
        let entries = self.entries_checked(&seqs)?;
        Ok(entries
            .into_iter()
            .map(|entry| self.resolved(entry))
            .filter(|recorded| (from..=to).contains(&recorded.command.meta.effective_at))
            .collect())
    }

    /// The entry with the command that took effect in it: an approval that applied a pending
    /// instruction stands for the instruction's command.
    fn resolved(&self, entry: Entry) -> Recorded {
        if let Action::ApprovePending { id } = entry.command.action
            && let Some(pending) = self.register.pending(id)
            && pending.state == (ringfence_core::PendingState::Applied { seq: entry.seq })
        {
            return Recorded { seq: entry.seq, recorded_at: entry.recorded_at, command: pending.command.clone(), pending: Some(id) };
        }
        Recorded { seq: entry.seq, recorded_at: entry.recorded_at, command: entry.command, pending: None }
    }

    /// The entries at these sequence numbers, each checked against its own hash; a missing one
    /// is a damaged journal.
    fn entries_checked(&self, seqs: &[u64]) -> Result<Vec<Entry>, StoreError> {
        let mut out = Vec::with_capacity(seqs.len());
        self.reader().entries_at(seqs, &mut |seq, body, hash| {
            out.push(decode_checked(seq, body, hash)?);
            Ok(())
        })?;
        if let Some((expected, found)) = seqs.iter().zip(&out).find(|(seq, entry)| **seq != entry.seq) {
            return Err(Break::Missing { expected: *expected, found: found.seq }.into());
        }
        if let Some(&expected) = seqs.get(out.len()) {
            return Err(Break::Missing { expected, found: 0 }.into());
        }
        Ok(out)
    }

    /// The sequence number at which the movement with this idempotency key was recorded, if
    /// it was: from memory, or from the movement index.
    pub fn movement_seq(&self, key: &ringfence_core::IdempotencyKey) -> Result<Option<u64>, StoreError> {
        if let Some(held) = self.register.held_movement_seq(key) {
            return Ok(held);
        }
        self.index_usable()?;
        let digest = Register::movement_key_digest(key);
        let found = movement_index::find(&digest, |bucket, visit| self.reader().movement_rows(bucket, visit))?;
        // The index may run ahead of this handle (another process indexed further).
        Ok(found.map(|record| record.seq).filter(|seq| *seq <= self.head.seq))
    }

    /// The movement recorded under an idempotency key, if any.
    pub fn movement(&self, key: &ringfence_core::IdempotencyKey) -> Result<Option<Movement>, StoreError> {
        let Some(seq) = self.movement_seq(key)? else { return Ok(None) };
        match self.entries_checked(&[seq])?.pop().map(|entry| self.resolved(entry).command.action) {
            Some(Action::Movement(movement)) if movement.key == *key => Ok(Some(movement)),
            Some(Action::Movement(movement)) => Err(StoreError::PostingIndex(format!(
                "is damaged (its movement records: {key} points at entry {seq}, the movement {}); the journal is the truth: `ringfence migrate --rebuild-index` rebuilds the index from it",
                movement.key
            ))),
            _ => Err(StoreError::Replay { seq, status: Status::Accepted, detail: "the entry is not a movement".into() }),
        }
    }

    /// Reads the whole stored journal and checks its hash chain against the recorded head.
    /// `Ok(Err(break))` names the first bad entry.
    pub fn verify(&self) -> Result<Result<Head, Break>, StoreError> {
        Ok(self.verify_all()?.chain)
    }

    /// As [`Store::verify`], with each stored checkpoint compared with the replay.
    pub fn verify_all(&self) -> Result<Verified, StoreError> {
        verify_reader(self.reader().as_mut(), &self.location)
    }

    /// Checks the stored journal against what this handle holds in memory, a part at a time,
    /// so that a long-running process notices the store being edited behind its back. Each
    /// call checks that the entry at the head this handle holds is stored with the same hash
    /// (a deleted tail, or a re-chained middle, changes it), then walks on from `cursor` (the last entry it checked, empty at first) over
    /// at most `chunk` stored entries up to that head: each body must hash to its stored hash
    /// and chain to the one before it; at the head the walk starts again from the first entry.
    /// `Ok(Err(why))` names the first difference. Entries other processes committed after
    /// this handle's head are not checked here (catching up reads them).
    pub fn check_stored(&self, cursor: &mut Head, chunk: u32) -> Result<Result<(), String>, StoreError> {
        let head = self.head();
        if head.seq == 0 {
            return Ok(Ok(()));
        }
        let mut found = None;
        self.reader().entries_at(&[head.seq], &mut |_, body, hash| {
            found = Some((ringfence_journal::hash_of(body), read_hash(hash)));
            Ok(())
        })?;
        match found {
            None => return Ok(Err(format!("entry {}, the head this server holds, is no longer in the store", head.seq))),
            Some((body_hash, stored)) if body_hash != head.hash || stored != head.hash => {
                return Ok(Err(format!("entry {} in the store is not the one this server recorded (its hash differs)", head.seq)));
            }
            Some(_) => {}
        }
        if cursor.seq >= head.seq {
            *cursor = Head::EMPTY;
        }
        let limit = chunk.min(u32::try_from(head.seq - cursor.seq).unwrap_or(u32::MAX)).max(1);
        let mut verifier = Verifier::resume(*cursor);
        let mut problem = None;
        self.reader().entries_after(cursor.seq, limit, &mut |seq, body, hash| {
            if problem.is_none()
                && let Err(broken) = verifier.check(seq, body, hash)
            {
                problem = Some(broken.to_string());
            }
            Ok(())
        })?;
        if let Some(problem) = problem {
            return Ok(Err(problem));
        }
        *cursor = verifier.head();
        if cursor.seq == head.seq && cursor.hash != head.hash {
            return Ok(Err(format!("the stored chain does not end at the head this server holds (entry {})", head.seq)));
        }
        Ok(Ok(()))
    }

    /// Whether the stored journal still holds `head`: an entry at its sequence number whose
    /// body hashes to its hash (every journal holds the empty head).
    pub fn holds(&self, head: Head) -> Result<bool, StoreError> {
        if head.seq == 0 {
            return Ok(true);
        }
        let mut held = false;
        self.reader().entries_at(&[head.seq], &mut |_, body, hash| {
            held = ringfence_journal::hash_of(body) == head.hash && read_hash(hash) == head.hash;
            Ok(())
        })?;
        Ok(held)
    }

    /// Entries from `after` (exclusive), at most `limit`, for export and inspection.
    pub fn entries(&self, after: u64, limit: u32) -> Result<Vec<Entry>, StoreError> {
        let mut out = Vec::new();
        self.reader().entries_after(after, limit.min(HISTORY_LIMIT_MAX), &mut |seq, body, hash| {
            out.push(decode_checked(seq, body, hash)?);
            Ok(())
        })?;
        Ok(out)
    }

    /// As [`Store::entries`], each with the command that took effect in it (an approval that
    /// applied a pending instruction stands for the instruction's command), as histories give.
    pub fn recorded_after(&self, after: u64, limit: u32) -> Result<Vec<Recorded>, StoreError> {
        Ok(self.entries(after, limit)?.into_iter().map(|entry| self.resolved(entry)).collect())
    }
}

/// A store opened only to verify its journal: unlike [`Store::open`] it does not rebuild the
/// register, so it opens a damaged journal too.
#[derive(Debug)]
pub struct Verification {
    reader: Mutex<Box<dyn Reader>>,
    location: Location,
}

impl Verification {
    pub fn open(location: &Location) -> Result<Verification, StoreError> {
        Ok(Verification { reader: Mutex::new(reader_for(location, Intent::Inspect)?), location: location.clone() })
    }

    pub fn verify(&self) -> Result<Result<Head, Break>, StoreError> {
        Ok(self.verify_with_keys()?.chain)
    }

    /// As [`Verification::verify`], with the journal signing keys the replay found (to check
    /// signed anchors against) and each stored checkpoint compared with the replay.
    pub fn verify_with_keys(&self) -> Result<Verified, StoreError> {
        verify_reader(self.reader.lock().unwrap_or_else(std::sync::PoisonError::into_inner).as_mut(), &self.location)
    }

    /// The daily, incremental check: as [`Verification::verify_with_keys`], but from the
    /// newest register checkpoint that checks out, reading only the entries after it (the
    /// full check remains the auditor's; it compares the checkpoints themselves).
    pub fn verify_since_checkpoint(&self) -> Result<Verified, StoreError> {
        verify_reader_since_checkpoint(self.reader.lock().unwrap_or_else(std::sync::PoisonError::into_inner).as_mut(), &self.location)
    }

    /// The stored hashes of entries 1 to `upto`, in order, for the Merkle tree (after
    /// [`Verification::verify`] found the chain intact).
    pub fn entry_hashes(&self, upto: u64) -> Result<Vec<ringfence_journal::Hash>, StoreError> {
        let mut hashes = Vec::with_capacity(usize::try_from(upto).unwrap_or(0));
        let mut reader = self.reader.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        while (hashes.len() as u64) < upto {
            let before = hashes.len();
            let limit = u32::try_from((upto - before as u64).min(HISTORY_LIMIT_MAX.into())).unwrap_or(HISTORY_LIMIT_MAX);
            reader.entries_after(before as u64, limit, &mut |_, _, hash| {
                hashes.push(read_hash(hash));
                Ok(())
            })?;
            if hashes.len() == before {
                return Err(Break::Missing { expected: before as u64 + 1, found: 0 }.into());
            }
        }
        Ok(hashes)
    }

    /// The stored hashes of the entries `seqs` names (those stored), for checking anchors
    /// after [`Verification::verify`] found the chain intact.
    pub fn hashes_at(&self, seqs: &[u64]) -> Result<HashMap<u64, ringfence_journal::Hash>, StoreError> {
        let mut hashes = HashMap::new();
        self.reader.lock().unwrap_or_else(std::sync::PoisonError::into_inner).entries_at(seqs, &mut |seq, _, hash| {
            hashes.insert(seq, read_hash(hash));
            Ok(())
        })?;
        Ok(hashes)
    }
}

/// The newest stored checkpoint that restores, with its register; each newer one passed over
/// is told to `passed_over`, with why.
fn newest_usable_checkpoint(
    reader: &mut dyn Reader,
    passed_over: &mut Vec<String>,
) -> Result<Option<(CheckpointInfo, Register)>, StoreError> {
    for info in reader.checkpoints()? {
        match restore_checkpoint(reader, &info)? {
            Ok(register) => return Ok(Some((info, register))),
            Err(why) => passed_over.push(format!("the register checkpoint at entry {} {why}", info.seq)),
        }
    }
    Ok(None)
}

/// A checkpoint's register, or why it cannot be used (`Ok(Err(why))`, phrased to follow "the
/// register checkpoint at entry N"). Only a database error is an error.
fn restore_checkpoint(reader: &mut dyn Reader, info: &CheckpointInfo) -> Result<Result<Register, String>, StoreError> {
    let layout = ringfence_core::register::STATE_LAYOUT;
    if info.layout != layout {
        return Ok(Err(format!(
            "was written by another build of ringfence (state layout {}, this build {layout}); run `ringfence checkpoint` to take one this build reads",
            info.layout
        )));
    }
    let mut bound = false;
    reader.entries_at(&[info.seq], &mut |_, body, hash| {
        bound = ringfence_journal::hash_of(body) == info.head && read_hash(hash) == info.head;
        Ok(())
    })?;
    if !bound {
        return Ok(Err(format!("is not bound to the journal: entry {} is not stored with the hash it names", info.seq)));
    }
    // Every stored byte is checked against the hash before anything is decoded.
    let (state, hash) = read_checkpoint_state(reader, info)?;
    if state.len() as u64 != info.size || hash != info.hash {
        return Ok(Err("does not match its hash: it is damaged or was edited".to_owned()));
    }
    let register = match Register::restore(&state) {
        Ok(register) => register,
        Err(why) => return Ok(Err(format!("holds a state that is refused: {why}"))),
    };
    if register.seq() != info.seq {
        return Ok(Err(format!("holds the state after entry {}, not after {}", register.seq(), info.seq)));
    }
    Ok(Ok(register))
}

/// What a full verification found of one stored checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointCheck {
    pub seq: u64,
    pub verdict: CheckpointVerdict,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointVerdict {
    /// The state restored from it equals the state the replay from entry 1 reached there.
    Matches,
    /// It checks out on its own (hash, binding, invariants) but holds another state than the
    /// replay: it was written or edited by something other than ringfence. Opening the store
    /// would use it: discard it (`ringfence checkpoint --discard`). Names the parts of the
    /// state that differ.
    Differs(Vec<&'static str>),
    /// It could not be compared: why (another build's, damaged, the replay stopped early).
    NotCompared(String),
}

impl CheckpointCheck {
    /// The verdict's code (`matches`, `differs`, `not_compared`) and detail, for views.
    pub fn code(&self) -> (u64, &'static str, Option<String>) {
        match &self.verdict {
            CheckpointVerdict::Matches => (self.seq, "matches", None),
            CheckpointVerdict::Differs(parts) => (self.seq, "differs", Some(format!("it differs in: {}", parts.join(", ")))),
            CheckpointVerdict::NotCompared(why) => (self.seq, "not_compared", Some(why.clone())),
        }
    }
}

/// What [`Verification::verify_with_keys`] found.
#[derive(Debug)]
pub struct Verified {
    /// The head the chain verified to, or its first break.
    pub chain: Result<Head, Break>,
    /// The journal signing keys the replay found (to check signed anchors against).
    pub keys: Vec<ringfence_core::SigningKeyRecord>,
    /// Each stored checkpoint against the replay, oldest first (none compared when the
    /// check started from one).
    pub checkpoints: Vec<CheckpointCheck>,
    /// The checkpoint the check started from ([`Verification::verify_since_checkpoint`]):
    /// entries up to it were not checked again.
    pub since: Option<u64>,
    /// The newer checkpoints passed over on the way to it, with why.
    pub passed_over: Vec<String>,
    /// The posting index against the replay (the full check only).
    pub index: IndexCheck,
}

/// Reads the whole journal in one snapshot (so the head and the entries agree even while
/// another process commits), checking the chain and, replaying it into a scratch register to
/// know the signing keys, every commit signature; compares each stored checkpoint with the
/// state the replay reaches at its entry, and each run of the indexes with the run the replay
/// makes, as it reaches the run's end (on a second connection to `location`).
fn verify_reader(reader: &mut dyn Reader, location: &Location) -> Result<Verified, StoreError> {
    let mut compare = Vec::new();
    let mut checkpoints = Vec::new();
    for info in reader.checkpoints()? {
        match restore_checkpoint(reader, &info)? {
            Ok(register) => compare.push((info.seq, register)),
            Err(why) => checkpoints.push(CheckpointCheck { seq: info.seq, verdict: CheckpointVerdict::NotCompared(why) }),
        }
    }
    // Latest first, so the next to compare is last.
    compare.sort_by_key(|(seq, _)| std::cmp::Reverse(*seq));
    let mut register = Register::new();
    let ends = reader.posting_run_ends();
    // The replay logs the postings and records of each run and compares them with the stored
    // run at its end, so memory holds one run at a time. It decides from the journal alone:
    // a record it moved out is read back only from a run already found equal; once one is
    // not, it keeps what it moves out in memory instead.
    let checker = match &ends {
        Ok(_) => reader_for(location, Intent::Inspect).map(|reader| Arc::new(Mutex::new(IndexChecker::new(reader)))),
        Err(_) => Err(StoreError::PostingIndex("cannot be read".into())),
    };
    let index_ends = match (&ends, &checker) {
        (Ok(ends), Ok(checker)) => {
            register.set_movement_lookup(checked_lookup(Arc::clone(checker)));
            Some((ends.clone(), Arc::clone(checker)))
        }
        _ => {
            register.keep_moved_movements();
            None
        }
    };
    let (chain, compared) = verify_replay(reader, &mut register, Head::EMPTY, Scan::All, compare, index_ends)?;
    checkpoints.extend(compared);
    checkpoints.sort_by_key(|check| check.seq);
    let index = match (&chain, ends, checker) {
        (_, Err(error), _) => IndexCheck::NotChecked(format!("the posting index cannot be read: {error}")),
        (_, _, Err(error)) => IndexCheck::NotChecked(format!("the index cannot be read on a second connection: {error}")),
        (Err(_), _, _) => IndexCheck::NotChecked("the journal is damaged".into()),
        (Ok(_), Ok(ends), Ok(checker)) => match reader.movement_run_ends() {
            Err(error) => IndexCheck::NotChecked(format!("the movement index cannot be read: {error}")),
            // Every run of movement records must end where a run of postings does: rows at
            // another entry would be read by lookups and compared with nothing.
            Ok(movement_ends) => match movement_ends.iter().find(|end| ends.binary_search(end).is_err()) {
                Some(&end) => {
                    IndexCheck::Differs { end, why: "it holds movement records at an entry where no run of the index ends".into() }
                }
                None => checker.lock().unwrap_or_else(std::sync::PoisonError::into_inner).finding(&ends),
            },
        },
    };
    Ok(Verified { chain, keys: register.signing_keys().to_vec(), checkpoints, since: None, passed_over: Vec::new(), index })
}

/// The incremental check: from the newest checkpoint that checks out (its hash, its binding
/// to the entry it names, this build's layout, a state that restores), the chain from that
/// entry to the recorded head, the signatures after it and every later entry re-decided, as
/// opening the store does; reads only the tail. With no usable checkpoint, the full check.
fn verify_reader_since_checkpoint(reader: &mut dyn Reader, location: &Location) -> Result<Verified, StoreError> {
    let mut passed_over = Vec::new();
    let Some((info, mut register)) = newest_usable_checkpoint(reader, &mut passed_over)? else {
        let mut full = verify_reader(reader, location)?;
        full.passed_over = passed_over;
        return Ok(full);
    };
    // A correction in the tail of a movement older than the checkpoint reads its record from
    // the movement index (the full check replays from entry 1 and needs none).
    register.set_movement_lookup(movement_lookup(location.clone(), LookupFailure::default()));
    let from = Head { seq: info.seq, hash: info.head };
    register.raise_log_floor(reader.posting_index_through().unwrap_or(0));
    let (chain, _) = verify_replay(reader, &mut register, from, Scan::After(from.seq), Vec::new(), None)?;
    let index = IndexCheck::NotChecked("the incremental check leaves the posting index to the full one".into());
    Ok(Verified { chain, keys: register.signing_keys().to_vec(), checkpoints: Vec::new(), since: Some(info.seq), passed_over, index })
}

/// Replays what `scan` reads onto `register` (at `from`) as a verification does: on past a
/// refused entry, to the first break and then to the end; each of `compare` (restored
/// checkpoints, latest first) compared when the replay reaches its entry; with `index`, each
/// run of the indexes (their ends, ascending) checked when the replay reaches its end. The
/// chain's verdict against the recorded head and signatures, and each comparison.
fn verify_replay(
    reader: &mut dyn Reader,
    register: &mut Register,
    from: Head,
    scan: Scan,
    compare: Vec<(u64, Register)>,
    index: Option<(Vec<u64>, SharedChecker)>,
) -> Result<ReplayFindings, StoreError> {
    let (mut index_ends, checker) = index.map_or((Vec::new(), None), |(ends, checker)| (ends, Some(checker)));
    index_ends.reverse();
    let mut replay = Replay {
        verifier: Verifier::resume(from),
        register,
        signatures: SignatureCheck::resume(from.seq),
        lenient: true,
        stalled: false,
        broken: None,
        compare,
        compared: Vec::new(),
        index_ends,
        checker,
        lookup_failure: LookupFailure::default(),
    };
    let recorded = reader.read(scan, &mut replay)?;
    let chain = match replay.broken {
        Some(broken) => Err(broken),
        None => replay.verifier.finish(recorded).and_then(|head| replay.signatures.finish(head.seq).map(|()| head)),
    };
    let mut compared = replay.compared;
    for (seq, _) in replay.compare {
        compared.push(CheckpointCheck { seq, verdict: CheckpointVerdict::NotCompared("is after the journal's last entry".into()) });
    }
    Ok((chain, compared))
}

/// A full verification's second connection: checks each run of the indexes when the replay
/// reaches its end, and reads back the movement records of runs found equal.
struct IndexChecker {
    reader: Box<dyn Reader>,
    /// Where the last run found equal to the replay's ends (0: none yet).
    verified: u64,
    matched: usize,
    /// The first run found different, or not checked: no later run is checked.
    finding: Option<IndexCheck>,
}

type SharedChecker = Arc<Mutex<IndexChecker>>;

impl IndexChecker {
    fn new(reader: Box<dyn Reader>) -> IndexChecker {
        IndexChecker { reader, verified: 0, matched: 0, finding: None }
    }

    /// Compares the stored run ending at `end` (its postings and movement records) with the
    /// replay's digest of the same entries; whether it is equal (false too once a run was not).
    fn check(&mut self, end: u64, replayed: &[u8; 32]) -> bool {
        if self.finding.is_some() {
            return false;
        }
        let mut stored: Vec<(i64, u32, Logged)> = Vec::new();
        let read = self.reader.posting_runs_ending(end, &mut |accounts, after, bytes| {
            for (place, asset, logged) in postings_in(after, bytes)? {
                stored.push(((accounts << GROUP_SHIFT) | i64::from(place), asset, logged));
            }
            Ok(())
        });
        let mut records = Vec::new();
        let read = read.and_then(|()| {
            self.reader.movement_rows_ending(end, &mut |bucket, _, bytes| {
                for (key, record) in movement_index::records_in(bytes)? {
                    if movement_index::bucket_of(&key) != bucket {
                        return Err(StoreError::PostingIndex(format!("holds a movement record in bucket {bucket} that belongs elsewhere")));
                    }
                    records.push((key, record));
                }
                Ok(())
            })
        });
        self.finding = match read {
            Err(StoreError::PostingIndex(why)) => Some(IndexCheck::Differs { end, why }),
            Err(error) => Some(IndexCheck::NotChecked(error.to_string())),
            Ok(()) if run_digest(&mut stored, &mut records) != *replayed => {
                Some(IndexCheck::Differs { end, why: "its postings or movement records are not those the journal's entries made".into() })
            }
            Ok(()) => {
                self.verified = end;
                self.matched += 1;
                None
            }
        };
        self.finding.is_none()
    }

    /// What the check found of the runs ending at `ends` (ascending).
    fn finding(&mut self, ends: &[u64]) -> IndexCheck {
        match (self.finding.take(), ends.get(self.matched)) {
            (Some(finding), _) => finding,
            (None, Some(end)) => IndexCheck::NotChecked(format!("the replay did not reach the run ending at entry {end}")),
            (None, None) => IndexCheck::Matches { runs: self.matched, through: ends.last().copied().unwrap_or(0) },
        }
    }
}

/// A verification replay's movement lookup: reads only the rows of runs the checker found
/// equal to the replay (a later row, not yet compared, is not trusted).
fn checked_lookup(checker: SharedChecker) -> ringfence_core::register::MovementLookup {
    Box::new(move |key, _| {
        let mut checker = checker.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let IndexChecker { reader, verified, .. } = &mut *checker;
        let verified = *verified;
        movement_index::find(key, |bucket, visit| {
            reader.movement_rows(bucket, &mut |through, bytes| if through > verified { Ok(true) } else { visit(through, bytes) })
        })
        .map_err(|error| error.to_string())
    })
}

/// What the full verification found of the posting index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexCheck {
    /// Every run holds exactly the postings the replay made for its entries.
    Matches { runs: usize, through: u64 },
    /// The run ending at `end` (and so everything read through it) is wrong.
    Differs { end: u64, why: String },
    /// Not checked, with why (no index in this schema, a damaged journal…).
    NotChecked(String),
}

/// The active signing keys, for messages.
fn active_keys(register: &Register) -> String {
    let active: Vec<String> = register
        .signing_keys()
        .iter()
        .filter(|r| r.retired.is_none())
        .map(|r| ringfence_core::SigningKey::fingerprint(&r.key.public_key))
        .collect();
    if active.is_empty() { "none".into() } else { active.join(", ") }
}

/// Decodes a stored entry after checking it against its own hash (not the whole chain).
fn decode_checked(seq: u64, body: &[u8], hash: &[u8]) -> Result<Entry, StoreError> {
    if ringfence_journal::hash_of(body).as_slice() != hash {
        return Err(Break::HashMismatch { seq }.into());
    }
    let entry = ringfence_journal::decode(body).map_err(|source| Break::Undecodable { seq, source })?;
    if entry.seq != seq {
        return Err(Break::OutOfPlace { seq, inside: entry.seq }.into());
    }
    Ok(entry)
}

/// Reads a stored 32-byte hash; anything else reads as zeros (and then fails verification).
fn read_hash(bytes: &[u8]) -> ringfence_journal::Hash {
    let mut hash = [0u8; 32];
    if bytes.len() == 32 {
        hash.copy_from_slice(bytes);
    }
    hash
}

/// The outcome summary of many batches, for reports.
pub fn count_statuses(outcomes: &[Outcome]) -> Vec<(Status, usize)> {
    let mut counts: Vec<(Status, usize)> = Vec::new();
    for outcome in outcomes {
        match counts.iter_mut().find(|(s, _)| *s == outcome.status) {
            Some((_, n)) => *n += 1,
            None => counts.push((outcome.status, 1)),
        }
    }
    counts.sort();
    counts
}
