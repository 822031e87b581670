//! The SQLite schema, its migrations and connection settings. Released migrations are never
//! edited: add a new one at the end.

use rusqlite::Connection;

use crate::StoreError;

/// Migrations in order; `PRAGMA user_version` records how many have run.
const MIGRATIONS: &[&str] = &[
    // 1: the journal (the truth), the chain head recorded at every commit, and the posting
    // index derived from the journal for queries at a past instant and history.
    "CREATE TABLE journal (
         seq  INTEGER PRIMARY KEY,
         body BLOB NOT NULL,
         hash BLOB NOT NULL
     );
     CREATE TABLE chain_head (
         id        INTEGER PRIMARY KEY CHECK (id = 0),
         head_seq  INTEGER NOT NULL,
         head_hash BLOB NOT NULL
     );
     CREATE TABLE account (
         id    INTEGER PRIMARY KEY,
         kind  TEXT NOT NULL,
         owner TEXT NOT NULL,
         asset TEXT NOT NULL,
         UNIQUE (kind, owner, asset)
     );
     CREATE TABLE posting (
         account      INTEGER NOT NULL,
         effective_at INTEGER NOT NULL,
         seq          INTEGER NOT NULL,
         leg          INTEGER NOT NULL,
         side         INTEGER NOT NULL,
         amount       ANY NOT NULL,
         PRIMARY KEY (account, effective_at, seq, leg)
     ) WITHOUT ROWID;",
];

pub(crate) fn configure(conn: &Connection) -> Result<(), StoreError> {
    // WAL with synchronous=FULL: a committed batch survives a crash or power loss, and readers
    // do not block the writer. A large page cache keeps the posting index in memory.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA cache_size = -262144;
         PRAGMA temp_store = MEMORY;
         PRAGMA wal_autocheckpoint = 16384;",
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    Ok(())
}

pub(crate) fn migrate(conn: &Connection) -> Result<(), StoreError> {
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
    Ok(())
}
