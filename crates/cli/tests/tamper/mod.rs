//! A store edited behind ringfence's back, as someone who can write the database (but holds
//! no signing key) would: shared by the tamper tests (`anchors.rs`, `signing.rs`).

#![allow(dead_code, reason = "each test file uses part of it")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha2::{Digest as _, Sha256};

pub const BIN: &str = env!("CARGO_BIN_EXE_ringfence");
pub const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/casp.jsonl");

/// Where the store is, as the command line names it.
pub enum Backend {
    Sqlite(PathBuf),
    Postgres(String),
}

pub fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

impl Backend {
    /// Runs the binary on this store, signing with `key` when given, with none of the
    /// environment's ringfence settings.
    pub fn run_signed(&self, key: Option<&Path>, args: &[&str]) -> Output {
        let mut command = Command::new(BIN);
        match self {
            Backend::Sqlite(dir) => command.arg("--data-dir").arg(dir),
            Backend::Postgres(url) => command.arg("--database-url").arg(url),
        };
        if let Some(key) = key {
            command.arg("--signing-key").arg(key);
        }
        command
            .args(args)
            .env_remove("RINGFENCE_DATA_DIR")
            .env_remove("RINGFENCE_DATABASE_URL")
            .env_remove("RINGFENCE_TOKEN")
            .env_remove("RINGFENCE_SIGNING_KEY")
            .output()
            .unwrap()
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.run_signed(None, args)
    }

    /// Every stored entry: its sequence number and body.
    pub fn entries(&self) -> Vec<(i64, Vec<u8>)> {
        match self {
            Backend::Sqlite(dir) => {
                let db = rusqlite::Connection::open(dir.join("ringfence.sqlite3")).unwrap();
                let mut statement = db.prepare("SELECT seq, body FROM journal ORDER BY seq").unwrap();
                statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?))).unwrap().map(Result::unwrap).collect()
            }
            Backend::Postgres(url) => {
                let mut db = postgres::Client::connect(url, postgres::NoTls).unwrap();
                db.query("SELECT seq, body FROM journal ORDER BY seq", &[]).unwrap().iter().map(|row| (row.get(0), row.get(1))).collect()
            }
        }
    }

    /// Writes entry `seq` (inserted, or its body and hash replaced, the rest of the row kept)
    /// with `body` and its hash, and points the head record at it when it is the last.
    pub fn put(&self, seq: i64, body: &[u8], last: bool) {
        let hash = Sha256::digest(body).to_vec();
        match self {
            Backend::Sqlite(dir) => {
                let db = rusqlite::Connection::open(dir.join("ringfence.sqlite3")).unwrap();
                db.execute(
                    "INSERT INTO journal (seq, body, hash) VALUES (?1, ?2, ?3) ON CONFLICT (seq) DO UPDATE SET body = excluded.body, hash = excluded.hash",
                    rusqlite::params![seq, body, hash],
                )
                .unwrap();
                if last {
                    db.execute("UPDATE chain_head SET head_seq = ?1, head_hash = ?2", rusqlite::params![seq, hash]).unwrap();
                }
            }
            Backend::Postgres(url) => {
                let mut db = postgres::Client::connect(url, postgres::NoTls).unwrap();
                db.execute(
                    "INSERT INTO journal (seq, body, hash) VALUES ($1, $2, $3) ON CONFLICT (seq) DO UPDATE SET body = excluded.body, hash = excluded.hash",
                    &[&seq, &body, &hash],
                )
                .unwrap();
                if last {
                    db.execute("UPDATE chain_head SET head_seq = $1, head_hash = $2", &[&seq, &hash]).unwrap();
                }
            }
        }
    }

    /// Removes the commit signature stored in entry `seq`'s row.
    pub fn strip_signature(&self, seq: i64) {
        match self {
            Backend::Sqlite(dir) => {
                let db = rusqlite::Connection::open(dir.join("ringfence.sqlite3")).unwrap();
                db.execute("UPDATE journal SET signature = NULL WHERE seq = ?1", [seq]).unwrap();
            }
            Backend::Postgres(url) => {
                let mut db = postgres::Client::connect(url, postgres::NoTls).unwrap();
                db.execute("UPDATE journal SET signature = NULL WHERE seq = $1", &[&seq]).unwrap();
            }
        }
    }

    /// Deletes every entry after `keep` (with their commits' signatures, kept in their rows)
    /// and points the
    /// head record at it, as an attacker hiding the last entries would.
    pub fn delete_after(&self, keep: i64) {
        let hash = Sha256::digest(&self.entries()[usize::try_from(keep - 1).unwrap()].1).to_vec();
        match self {
            Backend::Sqlite(dir) => {
                let db = rusqlite::Connection::open(dir.join("ringfence.sqlite3")).unwrap();
                db.execute("DELETE FROM journal WHERE seq > ?1", [keep]).unwrap();
                db.execute("UPDATE chain_head SET head_seq = ?1, head_hash = ?2", rusqlite::params![keep, hash]).unwrap();
            }
            Backend::Postgres(url) => {
                let mut db = postgres::Client::connect(url, postgres::NoTls).unwrap();
                db.execute("DELETE FROM journal WHERE seq > $1", &[&keep]).unwrap();
                db.execute("UPDATE chain_head SET head_seq = $1, head_hash = $2", &[&keep, &hash]).unwrap();
            }
        }
    }

    /// Changes entry `seq` (its recorded time, by one microsecond: it still decodes) and
    /// recomputes every later entry's link and hash, and the head record.
    pub fn rechain_from(&self, seq: i64) {
        let entries = self.entries();
        let count = entries.len();
        let mut previous: Option<Vec<u8>> = None;
        for (index, (at, mut body)) in entries.into_iter().enumerate() {
            if at >= seq {
                if at == seq {
                    body[9] = body[9].wrapping_add(1);
                }
                body[17..49].copy_from_slice(previous.as_ref().unwrap());
                self.put(at, &body, index + 1 == count);
            }
            previous = Some(Sha256::digest(&body).to_vec());
        }
    }
}
