//! Anchors against a journal rewritten by someone who can write the database, on SQLite and on
//! PostgreSQL: a deleted tail with its head record reset, and a middle entry changed with every
//! later hash recomputed. Both leave a hash chain that `journal verify` finds intact; `journal
//! verify --anchors` names the anchored entry the journal no longer extends, and `serve
//! --anchor-file` refuses to start on it. (A forged entry appended after the last anchor is
//! not caught by anchors: that needs signed commits.)

#![allow(clippy::unwrap_used, reason = "a fixture or a tool that fails should fail the test at once")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha2::{Digest as _, Sha256};

const BIN: &str = env!("CARGO_BIN_EXE_ringfence");
const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/casp.jsonl");

/// Where the store is, as the command line names it, and how to edit it behind its back.
enum Backend {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Backend {
    fn args(&self) -> Vec<String> {
        match self {
            Backend::Sqlite(dir) => vec!["--data-dir".into(), dir.display().to_string()],
            Backend::Postgres(url) => vec!["--database-url".into(), url.clone()],
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(self.args())
            .args(args)
            .env_remove("RINGFENCE_DATA_DIR")
            .env_remove("RINGFENCE_DATABASE_URL")
            .env_remove("RINGFENCE_TOKEN")
            .output()
            .unwrap()
    }

    /// Every stored entry: its sequence number and body.
    fn entries(&self) -> Vec<(i64, Vec<u8>)> {
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

    /// Runs one statement with a sequence number and two byte strings as parameters.
    fn execute(&self, sqlite: &str, postgres: &str, seq: i64, first: &[u8], second: &[u8]) {
        match self {
            Backend::Sqlite(dir) => {
                let db = rusqlite::Connection::open(dir.join("ringfence.sqlite3")).unwrap();
                db.execute(sqlite, rusqlite::params![seq, first, second]).unwrap();
            }
            Backend::Postgres(url) => {
                let mut db = postgres::Client::connect(url, postgres::NoTls).unwrap();
                db.execute(postgres, &[&seq, &first, &second]).unwrap();
            }
        }
    }

    /// Deletes every entry after `keep` and points the head record at it, as an attacker
    /// hiding the last entries would.
    fn delete_tail(&self, keep: i64) {
        let hash: Vec<u8> = Sha256::digest(&self.entries()[usize::try_from(keep - 1).unwrap()].1).to_vec();
        self.execute(
            "DELETE FROM journal WHERE seq > ?1 AND length(?2) = length(?3)",
            "DELETE FROM journal WHERE seq > $1 AND length($2::bytea) = length($3::bytea)",
            keep,
            &hash,
            &hash,
        );
        self.execute(
            "UPDATE chain_head SET head_seq = ?1, head_hash = ?2 WHERE length(?3) > 0",
            "UPDATE chain_head SET head_seq = $1, head_hash = $2 WHERE length($3::bytea) > 0",
            keep,
            &hash,
            &hash,
        );
    }

    /// Changes entry `seq` (its recorded time, by one microsecond: it still decodes) and
    /// recomputes every later entry's link and hash, and the head record.
    fn rechain_from(&self, seq: i64) {
        let mut previous: Option<Vec<u8>> = None;
        for (at, mut body) in self.entries() {
            if at < seq {
                previous = Some(Sha256::digest(&body).to_vec());
                continue;
            }
            if at == seq {
                body[9] = body[9].wrapping_add(1);
            }
            body[17..49].copy_from_slice(previous.as_ref().unwrap());
            let hash = Sha256::digest(&body).to_vec();
            self.execute(
                "UPDATE journal SET body = ?2, hash = ?3 WHERE seq = ?1",
                "UPDATE journal SET body = $2, hash = $3 WHERE seq = $1",
                at,
                &body,
                &hash,
            );
            self.execute(
                "UPDATE chain_head SET head_hash = ?3 WHERE head_seq = ?1 AND length(?2) > 0",
                "UPDATE chain_head SET head_hash = $3 WHERE head_seq = $1 AND length($2::bytea) > 0",
                at,
                &body,
                &hash,
            );
            previous = Some(hash);
        }
    }
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// A store with the example imported (26 entries) and its head anchored to `anchors`.
fn anchored(backend: &Backend, anchors: &Path) {
    assert!(backend.run(&["init"]).status.success());
    let import = backend.run(&["import", EXAMPLE]);
    assert!(import.status.success(), "{}", text(&import));
    let anchor = backend.run(&["journal", "anchor", "--file", anchors.to_str().unwrap()]);
    assert!(anchor.status.success() && text(&anchor).contains("anchored entry 26"), "{}", text(&anchor));
    let verified = backend.run(&["journal", "verify", "--anchors", anchors.to_str().unwrap()]);
    assert!(verified.status.success() && text(&verified).contains("extends all 1 anchor(s)"), "{}", text(&verified));
}

/// Both attacks on `fresh()` stores: each verifies without anchors and is caught with them.
fn attacks_are_caught(fresh: impl Fn(&str) -> Backend, dir: &Path) {
    let anchors = dir.join("anchors.jsonl");
    let shortened = fresh("shortened");
    anchored(&shortened, &anchors);
    shortened.delete_tail(20);
    assert!(shortened.run(&["journal", "verify"]).status.success(), "the chain alone cannot show a deleted tail");
    let caught = shortened.run(&["journal", "verify", "--anchors", anchors.to_str().unwrap(), "--json"]);
    assert_eq!(caught.status.code(), Some(1), "{}", text(&caught));
    let view: serde_json::Value = serde_json::from_slice(&caught.stdout).unwrap();
    assert_eq!((view["intact"].as_bool(), view["broken_at"].as_u64()), (Some(false), Some(26)), "{view}");
    assert!(view["message"].as_str().unwrap().contains("ends at entry 20"), "{view}");

    let anchors = dir.join("anchors-2.jsonl");
    let rewritten = fresh("rewritten");
    anchored(&rewritten, &anchors);
    rewritten.rechain_from(10);
    assert!(rewritten.run(&["journal", "verify"]).status.success(), "the chain alone cannot show a re-chained middle");
    let caught = rewritten.run(&["journal", "verify", "--anchors", anchors.to_str().unwrap()]);
    assert_eq!(caught.status.code(), Some(1), "{}", text(&caught));
    assert!(text(&caught).contains("journal damaged at sequence 26") && text(&caught).contains("rewritten"), "{}", text(&caught));
    // The server refuses to serve it.
    let serve = rewritten.run(&["serve", "--listen", "127.0.0.1:0", "--recon-daily", "off", "--anchor-file", anchors.to_str().unwrap()]);
    assert!(!serve.status.success() && text(&serve).contains("does not extend the anchor file"), "{}", text(&serve));
}

#[test]
fn anchors_catch_a_rewritten_sqlite_journal() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().to_owned();
    attacks_are_caught(|name| Backend::Sqlite(base.join(name)), dir.path());
}

#[test]
fn anchors_catch_a_rewritten_postgres_journal() {
    let dir = tempfile::tempdir().unwrap();
    attacks_are_caught(|_| Backend::Postgres(ringfence_testdb::server().fresh_database()), dir.path());
}

#[test]
fn a_bad_anchor_file_is_an_error_that_checks_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::Sqlite(dir.path().join("data"));
    assert!(backend.run(&["init"]).status.success());
    let missing = backend.run(&["journal", "verify", "--anchors", dir.path().join("nope").to_str().unwrap()]);
    assert!(!missing.status.success() && text(&missing).contains("cannot read the anchor file"), "{}", text(&missing));
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"seq\":1,\"hash\":\"xyz\"}\n").unwrap();
    let refused = backend.run(&["journal", "verify", "--anchors", bad.to_str().unwrap()]);
    assert!(!refused.status.success() && text(&refused).contains("line 1: \"hash\" is not 64 hex digits"), "{}", text(&refused));
}
