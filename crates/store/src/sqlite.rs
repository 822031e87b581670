//! The embedded SQLite backend: schema and migrations, connection settings, the reader, the
//! write session and the WAL checkpoint thread. Released migrations are never edited: add a
//! new one at the end.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;

use ringfence_journal::Head;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::movement_index::BucketVisit;
use crate::writer::{Rows, Sink};
use crate::{CheckpointInfo, Intent, Migrated, Reader, RowVisit, RunSource, RunVisit, Runs, Scan, StoreError, Visit, Walk, read_hash};
use ringfence_journal::signing::CommitSignature;

/// Migrations in order; `PRAGMA user_version` records how many have run.
const MIGRATIONS: &[&str] = &[
    // 1: the journal (the truth) and the chain head recorded at every commit.
    "CREATE TABLE journal (
         seq  INTEGER PRIMARY KEY,
         body BLOB NOT NULL,
         hash BLOB NOT NULL
     );
     CREATE TABLE chain_head (
         id        INTEGER PRIMARY KEY CHECK (id = 0),
         head_seq  INTEGER NOT NULL,
         head_hash BLOB NOT NULL
     );",
    // 2: commit signatures (issue 14), in the row of each signed commit's last entry: its first
    // entry (u64 LE), the public key and the Ed25519 signature (104 bytes); NULL elsewhere.
    "ALTER TABLE journal ADD COLUMN signature BLOB;",
    // 3: register checkpoints (issue 16): the register's state after entry `seq`, bound to that
    // entry's hash, in parts of at most `CHECKPOINT_PART_BYTES`; `hash` covers all of it.
    "CREATE TABLE register_checkpoint (
         seq       INTEGER PRIMARY KEY,
         head_hash BLOB NOT NULL,
         layout    TEXT NOT NULL,
         size      INTEGER NOT NULL,
         hash      BLOB NOT NULL,
         taken_at  INTEGER NOT NULL
     );
     CREATE TABLE register_checkpoint_part (
         seq   INTEGER NOT NULL,
         part  INTEGER NOT NULL,
         bytes BLOB NOT NULL,
         PRIMARY KEY (seq, part)
     );",
    // 4: the posting index (issue 16): the postings of entries `after_seq + 1 ..= through_seq`
    // to a group of 64 accounts (`accounts`: `LogSlot >> 6`, see `ringfence_core::register`),
    // in every asset, packed (`POSTING_FORMAT`); one row per group per run of entries
    // indexed together.
    // `posting_index.through_seq` is where the index ends.
    "CREATE TABLE posting_run (
         accounts    INTEGER NOT NULL,
         after_seq   INTEGER NOT NULL,
         through_seq INTEGER NOT NULL,
         bytes       BLOB NOT NULL,
         PRIMARY KEY (accounts, after_seq)
     );
     CREATE INDEX posting_run_through ON posting_run (through_seq);
     CREATE TABLE posting_index (
         id          INTEGER PRIMARY KEY CHECK (id = 0),
         through_seq INTEGER NOT NULL
     );
     INSERT INTO posting_index (id, through_seq) VALUES (0, 0);",
    // 5: the movement index (issue 16): the records idempotency and corrections need of the
    // movements of each run (`MOVEMENT_FORMAT`), one row per bucket of keys (the top 10 bits
    // of the key's digest) per run, written with the run's postings. The posting index is
    // emptied: it is built again with the movement index (`ringfence migrate`, or the next
    // writer), so the two always end at the same entry.
    "CREATE TABLE movement_run (
         bucket      INTEGER NOT NULL,
         through_seq INTEGER NOT NULL,
         bytes       BLOB NOT NULL,
         PRIMARY KEY (bucket, through_seq)
     );
     CREATE INDEX movement_run_through ON movement_run (through_seq);
     DELETE FROM posting_run;
     UPDATE posting_index SET through_seq = 0 WHERE id = 0;",
];

/// Commits between checkpoints: fewer, larger checkpoints take less from the two threads
/// that decide and write; SQLite's automatic checkpoint still bounds the WAL at 1 GiB.
const CHECKPOINT_EVERY_COMMITS: u64 = 16;

/// The page cache of each connection, in KiB.
const CACHE_KIB: u32 = 65536;
/// The reader's page cache while it writes a register checkpoint, in KiB.
const CHECKPOINT_CACHE_KIB: u32 = 4096;

fn configure(conn: &Connection) -> Result<(), StoreError> {
    // WAL with synchronous=FULL: a committed batch survives a crash or power loss, and readers
    // do not block the writer. Checkpoints run on the store's checkpoint thread; the automatic
    // one is only a safety valve for a WAL past 1 GiB.
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA cache_size = -{CACHE_KIB};
         PRAGMA temp_store = MEMORY;
         PRAGMA wal_autocheckpoint = 262144;"
    ))?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    Ok(())
}

fn migrate(conn: &Connection) -> Result<Migrated, StoreError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let supported = MIGRATIONS.len() as i64;
    if version > supported {
        return Err(StoreError::SchemaTooNew { found: version, supported });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch(sql)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", index + 1))?;
        tx.commit()?;
    }
    Ok(Migrated { from: version, to: supported })
}

/// `ringfence migrate` on an embedded store: it must exist (`init` creates one).
pub(crate) fn migrate_file(path: &Path) -> Result<Migrated, StoreError> {
    if !path.is_file() {
        return Err(StoreError::NotInitialised(path.display().to_string()));
    }
    let conn = Connection::open(path)?;
    configure(&conn)?;
    migrate(&conn)
}

/// A run's bytes: a BLOB, or the index was edited into something else.
fn run_bytes(value: rusqlite::types::ValueRef<'_>) -> Result<&[u8], StoreError> {
    value.as_blob().map_err(|_| {
        StoreError::PostingIndex(format!(
            "is damaged (a run stored as {:?}, not a BLOB); the journal is the truth: `ringfence migrate --rebuild-index` rebuilds the index from it",
            value.data_type()
        ))
    })
}

/// Inserts the runs of entries `after + 1 ..= through` and moves the index's end to `through`,
/// inside the caller's transaction.
fn insert_runs(conn: &Connection, after: u64, through: u64, runs: &Runs) -> Result<(), StoreError> {
    let mut insert = conn.prepare_cached("INSERT INTO posting_run (accounts, after_seq, through_seq, bytes) VALUES (?1, ?2, ?3, ?4)")?;
    for (accounts, bytes) in runs.postings.iter() {
        insert.execute(params![accounts, after as i64, through as i64, bytes])?;
    }
    let mut insert = conn.prepare_cached("INSERT INTO movement_run (bucket, through_seq, bytes) VALUES (?1, ?2, ?3)")?;
    for (bucket, bytes) in runs.movements.iter() {
        insert.execute(params![bucket, through as i64, bytes])?;
    }
    conn.execute("UPDATE posting_index SET through_seq = ?1 WHERE id = 0", [through as i64])?;
    Ok(())
}

/// The store's own connection, for catching up and queries.
#[derive(Debug)]
pub(crate) struct SqliteReader {
    conn: Connection,
    path: PathBuf,
    checkpointer: Option<Checkpointer>,
}

impl SqliteReader {
    /// The entry numbers a query's first column gives, in its order.
    fn entries_of(&self, sql: &str) -> Result<Vec<u64>, StoreError> {
        let mut statement = self.conn.prepare_cached(sql)?;
        let entries = statement.query_map([], |row| row.get::<_, i64>(0))?.collect::<Result<Vec<i64>, _>>()?;
        Ok(entries.into_iter().map(|entry| entry as u64).collect())
    }

    pub(crate) fn open(path: &Path, intent: Intent) -> Result<SqliteReader, StoreError> {
        match intent {
            Intent::Create => {
                if path.exists() {
                    return Err(StoreError::AlreadyInitialised(path.display().to_string()));
                }
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent).map_err(|source| StoreError::Directory { path: parent.to_owned(), source })?;
                }
            }
            Intent::Open | Intent::Inspect | Intent::ReadOnly => {
                if !path.is_file() {
                    return Err(StoreError::NotInitialised(path.display().to_string()));
                }
            }
        }
        if intent == Intent::ReadOnly {
            // The file itself opened read-only: nothing this handle does can change it.
            let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
            conn.busy_timeout(std::time::Duration::from_secs(30))?;
            conn.execute_batch(&format!("PRAGMA cache_size = -{CACHE_KIB}"))?;
            let found: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
            let supported = MIGRATIONS.len() as i64;
            if found == 0 {
                return Err(StoreError::NotInitialised(path.display().to_string()));
            }
            if found > supported {
                return Err(StoreError::SchemaTooNew { found, supported });
            }
            if found < supported {
                return Err(StoreError::SchemaTooOld { location: path.display().to_string(), found, supported });
            }
            return Ok(SqliteReader { conn, path: path.to_owned(), checkpointer: None });
        }
        let conn = Connection::open(path)?;
        let checkpointer = match intent {
            Intent::Inspect | Intent::ReadOnly => {
                // Read only: no schema change and no checkpoints on a store being inspected.
                conn.busy_timeout(std::time::Duration::from_secs(30))?;
                None
            }
            Intent::Create | Intent::Open => {
                if intent == Intent::Create {
                    // Before the first table: 16 KiB pages hold ~45 journal entries each, so a
                    // batch writes fewer pages and WAL frames.
                    conn.execute_batch("PRAGMA page_size = 16384")?;
                }
                configure(&conn)?;
                migrate(&conn)?;
                Some(Checkpointer::start(path)?)
            }
        };
        Ok(SqliteReader { conn, path: path.to_owned(), checkpointer })
    }

    fn recorded_head(&self) -> Result<Head, StoreError> {
        let head = self
            .conn
            .query_row("SELECT head_seq, head_hash FROM chain_head WHERE id = 0", [], |row| {
                Ok(Head { seq: row.get::<_, i64>(0)? as u64, hash: read_hash(&row.get::<_, Vec<u8>>(1)?) })
            })
            .optional()?;
        Ok(head.unwrap_or(Head::EMPTY))
    }

    fn read_snapshot(&self, scan: Scan, walk: &mut dyn Walk) -> Result<Head, StoreError> {
        let recorded = self.recorded_head()?;
        let Some((after, through)) = scan.bounds(recorded) else { return Ok(recorded) };
        // Sequence numbers fit an i64; a bound beyond them is after everything.
        let through = i64::try_from(through).unwrap_or(i64::MAX);
        let mut statement =
            self.conn.prepare_cached("SELECT seq, body, hash, signature FROM journal WHERE seq > ?1 AND seq <= ?2 ORDER BY seq")?;
        let mut rows = statement.query([after as i64, through])?;
        while let Some(row) = rows.next()? {
            let seq = row.get::<_, i64>(0)? as u64;
            // Anything but a blob or NULL is a malformed signature (it then fails verification).
            let signature = match row.get_ref(3)? {
                rusqlite::types::ValueRef::Null => None,
                rusqlite::types::ValueRef::Blob(bytes) => Some(bytes),
                _ => Some(&[][..]),
            };
            walk.entry(seq, row.get_ref(1)?.as_blob().unwrap_or(&[]), row.get_ref(2)?.as_blob().unwrap_or(&[]), signature)?;
        }
        Ok(recorded)
    }
}

impl Reader for SqliteReader {
    fn read(&mut self, scan: Scan, walk: &mut dyn Walk) -> Result<Head, StoreError> {
        // The recorded head, the signatures and the entries must come from one snapshot while
        // other processes commit: a read transaction gives it.
        self.conn.execute_batch("BEGIN")?;
        let result = self.read_snapshot(scan, walk);
        self.conn.execute_batch("COMMIT")?;
        result
    }

    fn entries_at(&mut self, seqs: &[u64], visit: Visit<'_>) -> Result<(), StoreError> {
        let mut statement = self.conn.prepare_cached("SELECT body, hash FROM journal WHERE seq = ?1")?;
        for &seq in seqs {
            let mut rows = statement.query([seq as i64])?;
            if let Some(row) = rows.next()? {
                visit(seq, row.get_ref(0)?.as_blob().unwrap_or(&[]), row.get_ref(1)?.as_blob().unwrap_or(&[]))?;
            }
        }
        Ok(())
    }

    fn entries_after(&mut self, after: u64, limit: u32, visit: Visit<'_>) -> Result<(), StoreError> {
        let mut statement = self.conn.prepare_cached("SELECT seq, body, hash FROM journal WHERE seq > ?1 ORDER BY seq LIMIT ?2")?;
        // Sequence numbers fit an i64; an `after` beyond them is after everything.
        let mut rows = statement.query(params![i64::try_from(after).unwrap_or(i64::MAX), i64::from(limit)])?;
        while let Some(row) = rows.next()? {
            let seq = row.get::<_, i64>(0)? as u64;
            visit(seq, row.get_ref(1)?.as_blob().unwrap_or(&[]), row.get_ref(2)?.as_blob().unwrap_or(&[]))?;
        }
        Ok(())
    }

    fn checkpoints(&mut self) -> Result<Vec<CheckpointInfo>, StoreError> {
        // A store inspected before `migrate` may not have the table yet: no checkpoints.
        let exists: bool = self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'register_checkpoint')",
            [],
            |row| row.get(0),
        )?;
        if !exists {
            return Ok(Vec::new());
        }
        let mut statement =
            self.conn.prepare_cached("SELECT seq, head_hash, layout, size, hash, taken_at FROM register_checkpoint ORDER BY seq DESC")?;
        let rows = statement.query_map([], |row| {
            Ok(CheckpointInfo {
                seq: row.get::<_, i64>(0)? as u64,
                head: read_hash(&row.get::<_, Vec<u8>>(1)?),
                layout: row.get(2)?,
                size: row.get::<_, i64>(3)? as u64,
                hash: read_hash(&row.get::<_, Vec<u8>>(4)?),
                taken_at: ringfence_core::Timestamp::from_micros(row.get(5)?),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn checkpoint_part(&mut self, seq: u64, part: u32) -> Result<Option<Vec<u8>>, StoreError> {
        let mut statement = self.conn.prepare_cached("SELECT bytes FROM register_checkpoint_part WHERE seq = ?1 AND part = ?2")?;
        Ok(statement.query_row(params![seq as i64, i64::from(part)], |row| row.get(0)).optional()?)
    }

    fn begin_checkpoint(&mut self, seq: u64) -> Result<(), StoreError> {
        // A small page cache while the state is written: its pages spill to the WAL as they
        // fill instead of staying in memory until the commit (the state is hundreds of MB).
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        let begun = self
            .conn
            .execute_batch(&format!("PRAGMA cache_size = -{CHECKPOINT_CACHE_KIB}"))
            .and_then(|()| self.conn.execute("DELETE FROM register_checkpoint_part WHERE seq = ?1", [seq as i64]));
        if let Err(error) = begun {
            self.abort_checkpoint();
            return Err(error.into());
        }
        Ok(())
    }

    fn put_checkpoint_part(&mut self, seq: u64, part: u32, bytes: &[u8]) -> Result<(), StoreError> {
        let mut statement = self.conn.prepare_cached("INSERT INTO register_checkpoint_part (seq, part, bytes) VALUES (?1, ?2, ?3)")?;
        statement.execute(params![seq as i64, i64::from(part), bytes])?;
        Ok(())
    }

    fn finish_checkpoint(&mut self, info: &CheckpointInfo, keep: u64) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO register_checkpoint (seq, head_hash, layout, size, hash, taken_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![info.seq as i64, info.head.as_slice(), info.layout, info.size as i64, info.hash.as_slice(), info.taken_at.micros()],
        )?;
        // Only the newest `keep`: older ones would never be read.
        let oldest_kept: Option<i64> = self
            .conn
            .query_row("SELECT seq FROM register_checkpoint ORDER BY seq DESC LIMIT 1 OFFSET ?1", [keep.saturating_sub(1) as i64], |row| {
                row.get(0)
            })
            .optional()?;
        if let Some(oldest) = oldest_kept {
            self.conn.execute("DELETE FROM register_checkpoint WHERE seq < ?1", [oldest])?;
            self.conn.execute("DELETE FROM register_checkpoint_part WHERE seq < ?1", [oldest])?;
        }
        self.conn.execute_batch(&format!("COMMIT; PRAGMA cache_size = -{CACHE_KIB}"))?;
        Ok(())
    }

    fn abort_checkpoint(&mut self) {
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        let _ = self.conn.execute_batch(&format!("PRAGMA cache_size = -{CACHE_KIB}"));
    }

    fn discard_checkpoints(&mut self) -> Result<u64, StoreError> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let discarded = tx.execute("DELETE FROM register_checkpoint", [])?;
        tx.execute("DELETE FROM register_checkpoint_part", [])?;
        tx.commit()?;
        Ok(discarded as u64)
    }

    fn posting_index_through(&mut self) -> Result<u64, StoreError> {
        let through: i64 = self.conn.query_row("SELECT through_seq FROM posting_index WHERE id = 0", [], |row| row.get(0))?;
        Ok(through as u64)
    }

    fn posting_run_ends(&mut self) -> Result<Vec<u64>, StoreError> {
        self.entries_of(
            "SELECT DISTINCT through_seq FROM posting_run WHERE through_seq <= (SELECT through_seq FROM posting_index WHERE id = 0) ORDER BY through_seq",
        )
    }

    fn posting_runs_ending(&mut self, through: u64, visit: RowVisit<'_>) -> Result<(), StoreError> {
        let mut statement = self.conn.prepare_cached("SELECT accounts, after_seq, bytes FROM posting_run WHERE through_seq = ?1")?;
        let mut rows = statement.query([through as i64])?;
        while let Some(row) = rows.next()? {
            visit(row.get(0)?, row.get::<_, i64>(1)? as u64, run_bytes(row.get_ref(2)?)?)?;
        }
        Ok(())
    }

    fn movement_run_ends(&mut self) -> Result<Vec<u64>, StoreError> {
        self.entries_of("SELECT DISTINCT through_seq FROM movement_run ORDER BY through_seq")
    }

    fn movement_rows_ending(&mut self, through: u64, visit: RowVisit<'_>) -> Result<(), StoreError> {
        let mut statement = self.conn.prepare_cached("SELECT bucket, bytes FROM movement_run WHERE through_seq = ?1")?;
        let mut rows = statement.query([through as i64])?;
        while let Some(row) = rows.next()? {
            visit(row.get(0)?, through, run_bytes(row.get_ref(1)?)?)?;
        }
        Ok(())
    }

    fn movement_rows(&mut self, bucket: i64, visit: BucketVisit<'_>) -> Result<(), StoreError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT through_seq, bytes FROM movement_run WHERE bucket = ?1 AND through_seq <= (SELECT through_seq FROM posting_index WHERE id = 0) ORDER BY through_seq DESC",
        )?;
        let mut rows = statement.query([bucket])?;
        while let Some(row) = rows.next()? {
            let through: i64 = row.get(0)?;
            if !visit(through as u64, run_bytes(row.get_ref(1)?)?)? {
                break;
            }
        }
        Ok(())
    }

    fn reset_posting_index(&mut self) -> Result<u64, StoreError> {
        let tx = rusqlite::Transaction::new_unchecked(&self.conn, rusqlite::TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM movement_run", [])?;
        let runs = tx.execute("DELETE FROM posting_run", [])?;
        tx.execute("UPDATE posting_index SET through_seq = 0 WHERE id = 0", [])?;
        tx.commit()?;
        Ok(runs as u64)
    }

    fn index_postings(&mut self, through: u64, runs: RunSource<'_>) -> Result<u64, StoreError> {
        // The write lock first: two processes indexing at once take turns, the second sees
        // the first's end.
        let tx = rusqlite::Transaction::new_unchecked(&self.conn, rusqlite::TransactionBehavior::Immediate)?;
        let indexed: i64 = tx.query_row("SELECT through_seq FROM posting_index WHERE id = 0", [], |row| row.get(0))?;
        let indexed = indexed as u64;
        if indexed >= through {
            return Ok(indexed);
        }
        insert_runs(&tx, indexed, through, &runs(indexed)?)?;
        tx.commit()?;
        Ok(through)
    }

    fn posting_runs(&mut self, accounts: i64, floor: u64, after: u64, visit: RunVisit<'_>) -> Result<(), StoreError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT after_seq, bytes FROM posting_run WHERE accounts = ?1 AND through_seq <= ?2 AND through_seq > ?3 ORDER BY after_seq",
        )?;
        let mut rows = statement.query(params![accounts, floor as i64, after as i64])?;
        while let Some(row) = rows.next()? {
            let after_seq: i64 = row.get(0)?;
            if !visit(after_seq as u64, run_bytes(row.get_ref(1)?)?)? {
                break;
            }
        }
        Ok(())
    }

    fn sink(&self) -> Result<Box<dyn Sink>, StoreError> {
        let conn = Connection::open(&self.path)?;
        configure(&conn)?;
        Ok(Box::new(SqliteSink { conn }))
    }

    fn committed(&mut self) {
        if let Some(checkpointer) = &mut self.checkpointer {
            checkpointer.commits += 1;
            if checkpointer.commits % CHECKPOINT_EVERY_COMMITS == 0 {
                // The thread is gone only if it panicked; commits stay correct without it.
                let _ = checkpointer.wake.send(());
            }
        }
    }
}

impl Drop for SqliteReader {
    fn drop(&mut self) {
        if let Some(checkpointer) = self.checkpointer.take() {
            drop(checkpointer.wake);
            let _ = checkpointer.thread.join();
        }
    }
}

/// The writer thread's connection.
struct SqliteSink {
    conn: Connection,
}

impl Sink for SqliteSink {
    fn begin(&mut self) -> Result<(), StoreError> {
        Ok(self.conn.execute_batch("BEGIN IMMEDIATE")?)
    }

    fn insert(&mut self, rows: &Rows) -> Result<(), StoreError> {
        let mut statement = self.conn.prepare_cached("INSERT INTO journal (seq, body, hash) VALUES (?1, ?2, ?3)")?;
        for (seq, body, hash) in rows.iter() {
            statement.execute(params![seq as i64, body, hash.as_slice()])?;
        }
        Ok(())
    }

    fn commit(&mut self, head: Head, signature: Option<&CommitSignature>) -> Result<(), StoreError> {
        // The last entry's row was written by this transaction: its page is already dirty, so
        // the signature costs no page of its own.
        let signed = match signature {
            None => Ok(0),
            Some(signature) => self
                .conn
                .prepare_cached("UPDATE journal SET signature = ?1 WHERE seq = ?2")
                .and_then(|mut statement| statement.execute(params![signature.to_stored().as_slice(), signature.last as i64])),
        };
        let recorded = signed.and_then(|_| {
            self.conn
                .prepare_cached("INSERT OR REPLACE INTO chain_head (id, head_seq, head_hash) VALUES (0, ?1, ?2)")
                .and_then(|mut statement| statement.execute(params![head.seq as i64, head.hash.as_slice()]))
        });
        match recorded.and_then(|_| self.conn.execute_batch("COMMIT")) {
            Ok(()) => Ok(()),
            Err(error) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(error.into())
            }
        }
    }

    fn rollback(&mut self) -> Result<(), StoreError> {
        Ok(self.conn.execute_batch("ROLLBACK")?)
    }

    fn index(&mut self, after: u64, through: u64, runs: &Runs) -> Result<(), StoreError> {
        let indexed: i64 = self.conn.query_row("SELECT through_seq FROM posting_index WHERE id = 0", [], |row| row.get(0))?;
        if indexed as u64 != after {
            return Err(crate::moved(indexed as u64, after));
        }
        insert_runs(&self.conn, after, through, runs)
    }
}

/// Copies committed WAL frames into the database file on its own thread and connection, so a
/// checkpoint never stalls a commit.
#[derive(Debug)]
struct Checkpointer {
    wake: mpsc::Sender<()>,
    thread: JoinHandle<()>,
    commits: u64,
}

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
            .map_err(StoreError::Thread)?;
        Ok(Checkpointer { wake, thread, commits: 0 })
    }
}
