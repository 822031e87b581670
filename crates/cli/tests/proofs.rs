//! The journal as a Merkle log: an auditor keeps the root of the journal at some size; later a
//! consistency proof shows that today's journal extends it, and an inclusion proof that one
//! entry is in it, each checked offline with `journal check-proof`. A journal rewritten before
//! the kept size cannot give a proof against the kept root.

#![allow(clippy::unwrap_used, reason = "a fixture or a tool that fails should fail the test at once")]

use std::path::Path;
use std::process::{Command, Output};

use sha2::{Digest as _, Sha256};

const BIN: &str = env!("CARGO_BIN_EXE_ringfence");
const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/casp.jsonl");

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("RINGFENCE_DATA_DIR")
        .env_remove("RINGFENCE_DATABASE_URL")
        .env_remove("RINGFENCE_SIGNING_KEY")
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

fn ok(output: &Output) -> String {
    assert!(output.status.success(), "{}", text(output));
    text(output)
}

#[test]
fn an_auditor_checks_that_the_journal_extends_a_kept_root_and_holds_an_entry() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(&run(&data, &["init"]));
    ok(&run(&data, &["import", EXAMPLE]));
    // The auditor keeps the root at 10 entries.
    let kept: serde_json::Value = serde_json::from_str(&ok(&run(&data, &["journal", "root", "--size", "10", "--json"]))).unwrap();
    assert_eq!(kept["size"], 10);
    let kept_root = kept["root"].as_str().unwrap().to_owned();
    let whole = ok(&run(&data, &["journal", "root"]));
    assert!(whole.starts_with("journal Merkle root at 26 entries: "), "{whole}");

    // Consistency: today's 26 entries extend the kept 10.
    let proof = dir.path().join("consistency.json");
    ok(&run(&data, &["journal", "prove", "--from", "10", "--out", proof.to_str().unwrap()]));
    let file: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&proof).unwrap()).unwrap();
    assert_eq!((file["kind"].as_str(), file["first_size"].as_u64(), file["size"].as_u64()), (Some("consistency"), Some(10), Some(26)));
    assert!(file["proof"].as_array().unwrap().len() <= 6, "{file}");
    let checked = run(&data, &["journal", "check-proof", proof.to_str().unwrap(), "--root", &kept_root]);
    assert!(ok(&checked).contains("valid: the journal of 26 entries"), "{}", text(&checked));

    // Inclusion: entry 7 is in the journal of 26 entries.
    let inclusion = dir.path().join("inclusion.json");
    ok(&run(&data, &["journal", "prove", "--seq", "7", "--out", inclusion.to_str().unwrap()]));
    let root26 = serde_json::from_str::<serde_json::Value>(&ok(&run(&data, &["journal", "root", "--json"]))).unwrap()["root"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(&run(&data, &["journal", "check-proof", inclusion.to_str().unwrap(), "--root", &root26]));
    // A proof edited to claim another entry fails.
    let mut edited: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&inclusion).unwrap()).unwrap();
    edited["entry_hash"] = serde_json::Value::String("00".repeat(32));
    std::fs::write(&inclusion, edited.to_string()).unwrap();
    let refused = run(&data, &["journal", "check-proof", inclusion.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(text(&refused).contains("INVALID"), "{}", text(&refused));

    // Someone who can write the database changes entry 5 and re-chains everything after it:
    // the chain verifies, but no proof against the kept root can be made.
    let db = rusqlite::Connection::open(data.join("ringfence.sqlite3")).unwrap();
    let entries: Vec<(i64, Vec<u8>)> = {
        let mut statement = db.prepare("SELECT seq, body FROM journal ORDER BY seq").unwrap();
        statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?))).unwrap().map(Result::unwrap).collect()
    };
    let mut previous: Vec<u8> = Vec::new();
    for (seq, mut body) in entries {
        if seq >= 5 {
            if seq == 5 {
                body[9] = body[9].wrapping_add(1);
            }
            body[17..49].copy_from_slice(&previous);
            let hash = Sha256::digest(&body).to_vec();
            db.execute("UPDATE journal SET body = ?2, hash = ?3 WHERE seq = ?1", rusqlite::params![seq, body, hash]).unwrap();
            db.execute("UPDATE chain_head SET head_hash = ?2 WHERE head_seq = ?1", rusqlite::params![seq, hash]).unwrap();
        }
        previous = Sha256::digest(&body).to_vec();
    }
    drop(db);
    assert!(ok(&run(&data, &["journal", "verify"])).contains("journal intact"), "the chain alone cannot show it");
    let forged = dir.path().join("forged.json");
    ok(&run(&data, &["journal", "prove", "--from", "10", "--out", forged.to_str().unwrap()]));
    let caught = run(&data, &["journal", "check-proof", forged.to_str().unwrap(), "--root", &kept_root]);
    assert_eq!(caught.status.code(), Some(1), "{}", text(&caught));
    assert!(text(&caught).contains("not the one given"), "{}", text(&caught));

    // Bad requests name what is wrong.
    let outside = run(&data, &["journal", "prove", "--seq", "27"]);
    assert!(!outside.status.success() && text(&outside).contains("--seq 27 is outside the journal of 26 entries"), "{}", text(&outside));
    let size = run(&data, &["journal", "root", "--size", "0"]);
    assert!(!size.status.success() && text(&size).contains("--size 0 is outside the journal"), "{}", text(&size));
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "{}").unwrap();
    let unreadable = run(&data, &["journal", "check-proof", junk.to_str().unwrap()]);
    assert!(!unreadable.status.success() && text(&unreadable).contains("is not a ringfence proof file"), "{}", text(&unreadable));
}
