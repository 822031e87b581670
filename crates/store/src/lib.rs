//! ringfence's storage: the journal and the derived register on the embedded SQLite database.
//!
//! The journal table is the truth; the register and the posting index (for balances at a past
//! instant and histories) are rebuilt from it on open, checking its hash chain on the way. A
//! batch of commands is decided by the pure state machine and written as one transaction with
//! one fsync (group commit). WAL checkpoints run on a thread of their own, off the commit path.
//!
//! Writers are serialised by SQLite's write lock: a batch starts with `BEGIN IMMEDIATE`,
//! compares the stored journal head with the in-memory one and, when another process has
//! appended meanwhile, replays those entries first. So two processes on one database never
//! fork the chain or apply a movement twice.

mod schema;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;

use ringfence_core::{
    Account, Action, AssetId, ClientId, Command, InvariantViolation, Movement, Outcome, OwnAccount, Register, Status, Timestamp, WalletId,
};
use ringfence_journal::{Break, Entry, Hash, Head, Verifier};
use rusqlite::{Connection, OptionalExtension, params};

pub use ringfence_journal::hex;

/// The most commands one batch may carry (as many as TigerBeetle's batches).
pub const BATCH_MAX: usize = 8190;
/// The most entries one history page may return.
pub const HISTORY_LIMIT_MAX: u32 = 10_000;
/// The file name of the embedded database inside the data directory.
pub const DATABASE_FILE: &str = "ringfence.sqlite3";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no ringfence store at {0}; run `ringfence init` first (or pass --data-dir)")]
    NotInitialised(PathBuf),
    #[error("a ringfence store already exists at {0}")]
    AlreadyInitialised(PathBuf),
    #[error("{0:?} is not a database URL ringfence understands; use sqlite:///path/to/file.sqlite3 (PostgreSQL is not supported yet)")]
    UnsupportedUrl(String),
    #[error("the store was written by a newer ringfence (schema {found}, this build knows up to {supported}); upgrade ringfence")]
    SchemaTooNew { found: i64, supported: i64 },
    #[error("a batch holds at most {max} commands, this one holds {count}; split it")]
    BatchTooLarge { count: usize, max: usize },
    #[error("the journal is damaged: {0}; run `ringfence journal verify` and restore from a backup")]
    Corrupt(#[from] Break),
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
    #[error("cannot create the data directory {path}: {source}")]
    Directory { path: PathBuf, source: std::io::Error },
}

/// Where the store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Sqlite(PathBuf),
}

impl Location {
    /// The embedded database inside a data directory.
    pub fn data_dir(dir: &Path) -> Location {
        Location::Sqlite(dir.join(DATABASE_FILE))
    }

    /// Parses `sqlite:///absolute/path`, `sqlite://relative/path` or `sqlite:path`.
    pub fn parse_url(url: &str) -> Result<Location, StoreError> {
        let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"));
        match path {
            Some(path) if !path.is_empty() => Ok(Location::Sqlite(PathBuf::from(path))),
            _ => Err(StoreError::UnsupportedUrl(url.to_owned())),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Location::Sqlite(path) => path.display().to_string(),
        }
    }
}

pub use ringfence_core::Net;

/// Whose movements a history query asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Client(ClientId),
    Wallet(WalletId),
    Own(OwnAccount),
}

/// One movement in a history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub seq: u64,
    pub recorded_at: Timestamp,
    pub command: Command,
}

/// The journal and register on SQLite.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    location: Location,
    register: Register,
    head: Head,
    poisoned: bool,
    writer: Option<writer::Writer>,
    checkpointer: Option<Checkpointer>,
}

/// Copies committed WAL frames into the database file on its own thread and connection, so a
/// checkpoint never stalls a commit.
#[derive(Debug)]
struct Checkpointer {
    wake: mpsc::Sender<()>,
    thread: JoinHandle<()>,
    commits: u64,
}

/// Commits between checkpoints: fewer, larger checkpoints take less from the two threads
/// that decide and write; SQLite's automatic checkpoint still bounds the WAL at 1 GiB.
const CHECKPOINT_EVERY_COMMITS: u64 = 16;

impl Checkpointer {
    fn start(path: &Path) -> Result<Checkpointer, StoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let (wake, signals) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("ringfence-checkpoint".into())
            .spawn(move || {
                while signals.recv().is_ok() {
                    // Coalesce the wake-ups that arrived while the last checkpoint ran.
                    while signals.try_recv().is_ok() {}
                    // A passive checkpoint never blocks the writer; a failure only leaves the
                    // WAL longer, and the next wake-up tries again.
                    let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                }
            })
            .map_err(|source| StoreError::Directory { path: path.to_owned(), source })?;
        Ok(Checkpointer { wake, thread, commits: 0 })
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        drop(self.writer.take());
        if let Some(checkpointer) = self.checkpointer.take() {
            drop(checkpointer.wake);
            let _ = checkpointer.thread.join();
        }
    }
}

fn read_hash(bytes: &[u8]) -> Hash {
    let mut hash = [0u8; 32];
    if bytes.len() == 32 {
        hash.copy_from_slice(bytes);
    }
    hash
}

impl Store {
    /// Creates a new, empty store. Fails if one exists there already.
    pub fn create(location: &Location) -> Result<Store, StoreError> {
        let Location::Sqlite(path) = location;
        if path.exists() {
            return Err(StoreError::AlreadyInitialised(path.clone()));
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::Directory { path: parent.to_owned(), source })?;
        }
        let conn = Connection::open(path)?;
        // Before the first table: 16 KiB pages hold ~45 journal entries each, so a batch
        // writes fewer pages and WAL frames.
        conn.execute_batch("PRAGMA page_size = 16384")?;
        schema::configure(&conn)?;
        schema::migrate(&conn)?;
        Self::load(conn, location.clone(), path)
    }

    /// Opens an existing store and rebuilds the register from its journal, verifying the hash
    /// chain on the way.
    pub fn open(location: &Location) -> Result<Store, StoreError> {
        let Location::Sqlite(path) = location;
        if !path.is_file() {
            return Err(StoreError::NotInitialised(path.clone()));
        }
        let conn = Connection::open(path)?;
        schema::configure(&conn)?;
        schema::migrate(&conn)?;
        Self::load(conn, location.clone(), path)
    }

    fn load(conn: Connection, location: Location, path: &Path) -> Result<Store, StoreError> {
        let mut store =
            Store { conn, location, register: Register::new(), head: Head::EMPTY, poisoned: false, writer: None, checkpointer: None };
        store.catch_up()?;
        store.register.audit()?;
        store.writer = Some(writer::Writer::start(path)?);
        store.checkpointer = Some(Checkpointer::start(path)?);
        Ok(store)
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

    fn recorded_head(conn: &Connection) -> Result<Head, StoreError> {
        let head = conn
            .query_row("SELECT head_seq, head_hash FROM chain_head WHERE id = 0", [], |row| {
                Ok(Head { seq: row.get::<_, i64>(0)? as u64, hash: read_hash(&row.get::<_, Vec<u8>>(1)?) })
            })
            .optional()?;
        Ok(head.unwrap_or(Head::EMPTY))
    }

    /// Replays journal entries this process has not seen (all of them on open), verifying the
    /// chain and re-deciding every command: each must be accepted again at its own sequence.
    fn catch_up(&mut self) -> Result<(), StoreError> {
        // The recorded head and the entries must come from one snapshot while other processes
        // commit: inside a batch the write transaction gives it, otherwise a read transaction.
        if self.conn.is_autocommit() {
            self.conn.execute_batch("BEGIN")?;
            let result = self.catch_up_in_snapshot();
            self.conn.execute_batch("COMMIT")?;
            return result;
        }
        self.catch_up_in_snapshot()
    }

    fn catch_up_in_snapshot(&mut self) -> Result<(), StoreError> {
        let recorded = Self::recorded_head(&self.conn)?;
        if recorded == self.head {
            return Ok(());
        }
        let mut verifier = Verifier::resume(self.head);
        {
            let mut statement = self.conn.prepare_cached("SELECT seq, body, hash FROM journal WHERE seq > ?1 ORDER BY seq")?;
            let mut rows = statement.query([self.head.seq as i64])?;
            while let Some(row) = rows.next()? {
                let seq = row.get::<_, i64>(0)? as u64;
                let body = row.get_ref(1)?.as_blob().unwrap_or(&[]);
                let hash = row.get_ref(2)?.as_blob().unwrap_or(&[]);
                let entry = verifier.check(seq, body, hash)?;
                let outcome = self.register.apply(&entry.command)?;
                if outcome.status != Status::Accepted || outcome.seq != Some(seq) {
                    return Err(StoreError::Replay { seq, status: outcome.status, detail: outcome.detail });
                }
            }
        }
        self.head = verifier.finish(recorded)?;
        Ok(())
    }

    /// Decides and durably records a batch: one outcome per command, in order. Accepted
    /// commands are journaled in one transaction; when this returns Ok they are on disk.
    pub fn submit(&mut self, commands: &[Command], recorded_at: Timestamp) -> Result<Vec<Outcome>, StoreError> {
        if self.poisoned {
            return Err(StoreError::Poisoned);
        }
        if commands.len() > BATCH_MAX {
            return Err(StoreError::BatchTooLarge { count: commands.len(), max: BATCH_MAX });
        }
        // Until the commit succeeds, the in-memory register may be ahead of the database.
        self.poisoned = true;
        let outcomes = self.submit_locked(commands, recorded_at)?;
        self.poisoned = false;
        Ok(outcomes)
    }

    fn submit_locked(&mut self, commands: &[Command], recorded_at: Timestamp) -> Result<Vec<Outcome>, StoreError> {
        let Some(writer) = self.writer.take() else { return Err(StoreError::Poisoned) };
        let result = self.write_batch(&writer, commands, recorded_at);
        self.writer = Some(writer);
        let outcomes = result?;
        if let Some(checkpointer) = &mut self.checkpointer {
            checkpointer.commits += 1;
            if checkpointer.commits % CHECKPOINT_EVERY_COMMITS == 0 {
                // The thread is gone only if it panicked; commits stay correct without it.
                let _ = checkpointer.wake.send(());
            }
        }
        Ok(outcomes)
    }

    /// Decides each command and seals the accepted ones here, while the writer thread inserts
    /// the sealed entries; then commits once.
    fn write_batch(&mut self, writer: &writer::Writer, commands: &[Command], recorded_at: Timestamp) -> Result<Vec<Outcome>, StoreError> {
        writer.begin()?;
        match self.decide(writer, commands, recorded_at) {
            Ok((outcomes, accepted)) => {
                let head = writer.commit()?;
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
        let mut outcomes = Vec::with_capacity(commands.len());
        let mut chunk = writer::Chunk::default();
        let mut encoder = ringfence_core::codec::Encoder::default();
        let mut accepted = 0;
        for command in commands {
            let outcome = self.register.apply(command)?;
            if let (Status::Accepted, Some(seq)) = (outcome.status, outcome.seq) {
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
        Ok(self.register.balance_at(account, asset, at).unwrap_or_default())
    }

    /// Movements that touched a client's positions, a wallet's holdings or an own account,
    /// with effective time in `[from, to]`, oldest first, at most `limit`.
    pub fn history(&self, subject: &Subject, from: Timestamp, to: Timestamp, limit: u32) -> Result<Vec<Recorded>, StoreError> {
        let limit = limit.min(HISTORY_LIMIT_MAX);
        let account = match subject {
            Subject::Client(client) => Account::Position(client.clone()),
            Subject::Wallet(wallet) => Account::Holding(wallet.clone()),
            Subject::Own(own) => Account::Own(*own),
        };
        let seqs = self.register.movements_of(&account, from, to, limit as usize).unwrap_or_default();
        let mut statement = self.conn.prepare_cached("SELECT body, hash FROM journal WHERE seq = ?1")?;
        let mut out = Vec::with_capacity(seqs.len());
        for seq in seqs {
            let mut rows = statement.query([seq as i64])?;
            let Some(row) = rows.next()? else {
                return Err(Break::Missing { expected: seq, found: 0 }.into());
            };
            let entry = decode_checked(seq, row.get_ref(0)?.as_blob().unwrap_or(&[]), row.get_ref(1)?.as_blob().unwrap_or(&[]))?;
            out.push(Recorded { seq, recorded_at: entry.recorded_at, command: entry.command });
        }
        Ok(out)
    }

    /// The movement recorded under an idempotency key, if any.
    pub fn movement(&self, key: &ringfence_core::IdempotencyKey) -> Result<Option<Movement>, StoreError> {
        let Some(seq) = self.register.movement_seq(key) else { return Ok(None) };
        let (body, hash): (Vec<u8>, Vec<u8>) =
            self.conn.query_row("SELECT body, hash FROM journal WHERE seq = ?1", [seq as i64], |row| Ok((row.get(0)?, row.get(1)?)))?;
        match decode_checked(seq, &body, &hash)?.command.action {
            Action::Movement(movement) => Ok(Some(movement)),
            _ => Err(StoreError::Replay { seq, status: Status::Accepted, detail: "the entry is not a movement".into() }),
        }
    }

    /// Reads the whole stored journal and checks its hash chain against the recorded head.
    /// `Ok(Err(break))` names the first bad entry.
    pub fn verify(&self) -> Result<Result<Head, Break>, StoreError> {
        verify_connection(&self.conn)
    }

    /// Entries from `after` (exclusive), at most `limit`, for export and inspection.
    pub fn entries(&self, after: u64, limit: u32) -> Result<Vec<Entry>, StoreError> {
        let mut statement = self.conn.prepare_cached("SELECT seq, body, hash FROM journal WHERE seq > ?1 ORDER BY seq LIMIT ?2")?;
        let mut rows = statement.query(params![after as i64, i64::from(limit.min(HISTORY_LIMIT_MAX))])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let seq = row.get::<_, i64>(0)? as u64;
            out.push(decode_checked(seq, row.get_ref(1)?.as_blob().unwrap_or(&[]), row.get_ref(2)?.as_blob().unwrap_or(&[]))?);
        }
        Ok(out)
    }

    /// Direct access to the database, for tests that tamper with it.
    #[doc(hidden)]
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

/// A store opened only to verify its journal: unlike [`Store::open`] it does not rebuild the
/// register, so it opens a damaged journal too.
#[derive(Debug)]
pub struct Verification {
    conn: Connection,
}

impl Verification {
    pub fn open(location: &Location) -> Result<Verification, StoreError> {
        let Location::Sqlite(path) = location;
        if !path.is_file() {
            return Err(StoreError::NotInitialised(path.clone()));
        }
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        Ok(Verification { conn })
    }

    pub fn verify(&self) -> Result<Result<Head, Break>, StoreError> {
        verify_connection(&self.conn)
    }
}

fn verify_connection(conn: &Connection) -> Result<Result<Head, Break>, StoreError> {
    // One read transaction, so the head and the entries are one snapshot even while another
    // process commits.
    let transaction = conn.unchecked_transaction()?;
    let result = verify_snapshot(&transaction);
    transaction.finish()?;
    result
}

fn verify_snapshot(conn: &Connection) -> Result<Result<Head, Break>, StoreError> {
    let recorded = Store::recorded_head(conn)?;
    let mut verifier = Verifier::new();
    let mut statement = conn.prepare("SELECT seq, body, hash FROM journal ORDER BY seq")?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let seq = row.get::<_, i64>(0)? as u64;
        let body = row.get_ref(1)?.as_blob().unwrap_or(&[]);
        let hash = row.get_ref(2)?.as_blob().unwrap_or(&[]);
        if let Err(broken) = verifier.check(seq, body, hash) {
            return Ok(Err(broken));
        }
    }
    Ok(verifier.finish(recorded))
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
