//! The SQLite schema, its migrations and connection settings. Released migrations are never
//! edited: add a new one at the end.

use rusqlite::Connection;

use crate::StoreError;

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
];

pub(crate) fn configure(conn: &Connection) -> Result<(), StoreError> {
    // WAL with synchronous=FULL: a committed batch survives a crash or power loss, and readers
    // do not block the writer. Checkpoints run on the store's checkpoint thread; the automatic
    // one is only a safety valve for a WAL past 1 GiB.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA cache_size = -65536;
         PRAGMA temp_store = MEMORY;
         PRAGMA wal_autocheckpoint = 262144;",
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
