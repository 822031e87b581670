//! Signed commits (issue 14) against a journal edited by someone who can write the database
//! but does not hold the signing key, on SQLite and on PostgreSQL:
//! - a forged entry appended, with its hash, link and the head record recomputed: caught at
//!   its sequence number by `journal verify`, and the store no longer opens (`serve`,
//!   `summary`);
//! - a middle entry changed and every later hash recomputed: caught at that entry's commit;
//! - a deleted tail with the head record reset leaves a signed prefix, which signatures alone
//!   cannot tell from the whole: the anchor file catches it (as in `anchors.rs`).
//!
//! And the key rules: commits need an active key's file once a key is registered; a key file
//! others may read is refused; a key that is not registered cannot sign.

#![allow(clippy::unwrap_used, reason = "a fixture or a tool that fails should fail the test at once")]

mod tamper;

use std::path::{Path, PathBuf};
use std::process::Output;

use sha2::{Digest as _, Sha256};
use tamper::{Backend, EXAMPLE, text};

fn ok(output: &Output) -> String {
    assert!(output.status.success(), "{}", text(output));
    text(output)
}

/// The example (26 unsigned entries), a key registered at entry 27 (signed by it), and five
/// deposits committed one by one (entries 28 to 32, each its own signed commit).
fn signed_store(backend: &Backend, dir: &Path) -> PathBuf {
    ok(&backend.run_signed(None, &["init"]));
    ok(&backend.run_signed(None, &["import", EXAMPLE]));
    let key = dir.join(format!("writer-{}.key", std::process::id()));
    let _ = std::fs::remove_file(&key);
    ok(&backend.run_signed(None, &["key", "generate", "--out", key.to_str().unwrap()]));
    let file = key.to_str().unwrap();
    let registered =
        backend.run_signed(Some(&key), &["key", "register", "--key-file", file, "--label", "writer on test", "--actor", "ops"]);
    assert!(ok(&registered).contains("accepted (journal entry 27)"), "{}", text(&registered));
    let lines: String = (1..=5)
        .map(|n| {
            format!(
                "{{\"type\":\"deposit\",\"key\":\"sig-dep-{n}\",\"client\":\"client-1\",\"wallet\":\"omnibus-hot\",\"asset\":\"eip155:1/slip44:60\",\"amount\":\"{n}\"}}\n"
            )
        })
        .collect();
    let file = dir.join("deposits.jsonl");
    std::fs::write(&file, lines).unwrap();
    ok(&backend.run_signed(Some(&key), &["import", file.to_str().unwrap(), "--batch-size", "1"]));
    let verified = ok(&backend.run_signed(None, &["journal", "verify"]));
    assert!(verified.contains("journal intact: 32 entries"), "{verified}");
    key
}

/// The verification result as JSON: (intact, broken_at, message).
fn verify(backend: &Backend) -> (bool, Option<u64>, String) {
    let output = backend.run_signed(None, &["journal", "verify", "--json"]);
    let view: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|_| panic!("{}", text(&output)));
    (view["intact"].as_bool().unwrap(), view["broken_at"].as_u64(), view["message"].as_str().unwrap_or_default().to_owned())
}

fn attacks_are_caught(fresh: impl Fn(&str) -> Backend, dir: &Path) {
    // A forged append: a copy of entry 32 under a new idempotency key, as entry 33, chained
    // and sealed, with the head record moved to it.
    let forged = fresh("forged");
    let key = signed_store(&forged, dir);
    let entries = forged.entries();
    let (_, last) = entries.last().unwrap();
    let mut body = last.clone();
    body[1..9].copy_from_slice(&33u64.to_le_bytes());
    body[17..49].copy_from_slice(&Sha256::digest(last));
    // The key (and the instruction, which defaults to it) in the command's bytes.
    while let Some(at) = body.windows(9).position(|w| w == b"sig-dep-5") {
        body[at + 8] = b'9';
    }
    forged.put(33, &body, true);
    let (intact, at, message) = verify(&forged);
    assert_eq!((intact, at), (false, Some(33)), "{message}");
    assert!(message.contains("entry 33 is not covered by a commit signature"), "{message}");
    let summary = forged.run_signed(None, &["summary"]);
    assert!(!summary.status.success() && text(&summary).contains("entry 33 is not covered"), "{}", text(&summary));
    let serve = forged.run_signed(Some(&key), &["serve", "--listen", "127.0.0.1:0", "--recon-daily", "off"]);
    assert!(!serve.status.success() && text(&serve).contains("entry 33 is not covered"), "{}", text(&serve));

    // Each on a fresh signed store: the edit, the entry it is caught at, what is said.
    let caught = |name: &str, edit: &dyn Fn(&Backend), seq: u64, said: &str| {
        let backend = fresh(name);
        signed_store(&backend, dir);
        edit(&backend);
        let (intact, at, message) = verify(&backend);
        assert_eq!((intact, at), (false, Some(seq)), "{name}: {message}");
        assert!(message.contains(said), "{name}: {message}");
    };
    // A re-chained middle: entry 30's recorded time moved by a microsecond, every later link,
    // hash and the head recomputed. The chain verifies; the signature of entry 30's commit not.
    caught("rechained", &|b| b.rechain_from(30), 30, "the commit of entries 30 to 30 fails its signature check");
    // A signature removed from its row: the entries of that commit are unsigned.
    caught("stripped", &|b| b.strip_signature(31), 31, "or its signature was removed");

    // A deleted tail with its signatures and the head reset: a signed prefix verifies; the
    // anchor taken at entry 32 catches it.
    let shortened = fresh("shortened");
    signed_store(&shortened, dir);
    let anchors = dir.join(format!("anchors-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&anchors);
    ok(&shortened.run_signed(None, &["journal", "anchor", "--file", anchors.to_str().unwrap()]));
    shortened.delete_after(29);
    assert!(verify(&shortened).0, "signatures cannot tell a signed prefix from the whole journal");
    let caught = shortened.run_signed(None, &["journal", "verify", "--anchors", anchors.to_str().unwrap(), "--json"]);
    let view: serde_json::Value = serde_json::from_slice(&caught.stdout).unwrap();
    assert_eq!((view["intact"].as_bool(), view["broken_at"].as_u64()), (Some(false), Some(32)), "{view}");
}

#[test]
fn signatures_catch_a_forged_sqlite_journal() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().to_owned();
    attacks_are_caught(|name| Backend::Sqlite(base.join(name)), dir.path());
}

#[test]
fn signatures_catch_a_forged_postgres_journal() {
    let dir = tempfile::tempdir().unwrap();
    attacks_are_caught(|_| Backend::Postgres(ringfence_testdb::server().fresh_database()), dir.path());
}

#[test]
fn commits_need_an_active_private_key_once_one_is_registered() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::Sqlite(dir.path().join("data"));
    let key = signed_store(&backend, dir.path());
    let line = dir.path().join("one.jsonl");
    std::fs::write(&line, "{\"type\":\"deposit\",\"key\":\"late\",\"client\":\"client-1\",\"wallet\":\"omnibus-hot\",\"asset\":\"eip155:1/slip44:60\",\"amount\":\"1\"}\n").unwrap();
    // Without the key file: refused before anything is applied.
    let unsigned = backend.run_signed(None, &["import", line.to_str().unwrap()]);
    assert!(!unsigned.status.success() && text(&unsigned).contains("every commit must be signed"), "{}", text(&unsigned));
    // With a key that is not registered: refused at open.
    let stranger = dir.path().join("stranger.key");
    ok(&backend.run_signed(None, &["key", "generate", "--out", stranger.to_str().unwrap()]));
    let refused = backend.run_signed(Some(&stranger), &["import", line.to_str().unwrap()]);
    assert!(!refused.status.success() && text(&refused).contains("is not an active journal signing key"), "{}", text(&refused));
    // A key file others may read: refused.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let open = backend.run_signed(Some(&key), &["import", line.to_str().unwrap()]);
        assert!(!open.status.success() && text(&open).contains("chmod 600"), "{}", text(&open));
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    // The server does not start without it either.
    let serve = backend.run_signed(None, &["serve", "--listen", "127.0.0.1:0", "--recon-daily", "off"]);
    assert!(!serve.status.success() && text(&serve).contains("start the server with --signing-key"), "{}", text(&serve));
    assert!(verify(&backend).0);
    // Rotation: a second key registered, then the first retired; the first no longer signs.
    let second = dir.path().join("second.key");
    ok(&backend.run_signed(None, &["key", "generate", "--out", second.to_str().unwrap()]));
    ok(&backend
        .run_signed(Some(&key), &["key", "register", "--key-file", second.to_str().unwrap(), "--label", "successor", "--actor", "ops"]));
    let first_public = String::from_utf8(backend.run_signed(None, &["key", "list", "--json"]).stdout).unwrap();
    let keys: serde_json::Value = serde_json::from_str(&first_public).unwrap();
    let first = keys["keys"][0]["public_key"].as_str().unwrap().to_owned();
    ok(&backend.run_signed(Some(&second), &["key", "retire", "--public-key", &first, "--actor", "ops"]));
    let old = backend.run_signed(Some(&key), &["import", line.to_str().unwrap()]);
    assert!(!old.status.success() && text(&old).contains("is not an active journal signing key"), "{}", text(&old));
    ok(&backend.run_signed(Some(&second), &["import", line.to_str().unwrap()]));
    let listed = ok(&backend.run_signed(None, &["key", "list"]));
    assert!(listed.contains("retired at entry 34") && listed.contains("successor"), "{listed}");
    assert!(verify(&backend).0);
}

#[test]
fn an_anchor_is_signed_by_the_writers_key_and_an_edited_one_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::Sqlite(dir.path().join("data"));
    let key = signed_store(&backend, dir.path());
    let anchors = dir.path().join("anchors.jsonl");
    ok(&backend.run_signed(Some(&key), &["journal", "anchor", "--file", anchors.to_str().unwrap()]));
    let line = std::fs::read_to_string(&anchors).unwrap();
    assert!(line.contains("\"key\":\"") && line.contains("\"signature\":\""), "{line}");
    let verified = ok(&backend.run(&["journal", "verify", "--anchors", anchors.to_str().unwrap()]));
    assert!(verified.contains("extends all 1 anchor(s), 1 of them signed by a journal signing key"), "{verified}");
    // The publication time changed by hand: the chain still extends the anchor, but its
    // signature no longer matches.
    let at = line.find("\"anchored_at\":\"").unwrap() + 15;
    let mut edited = line.clone();
    edited.replace_range(at..at + 4, "1999");
    std::fs::write(&anchors, edited).unwrap();
    let caught = backend.run(&["journal", "verify", "--anchors", anchors.to_str().unwrap()]);
    assert_eq!(caught.status.code(), Some(1), "{}", text(&caught));
    assert!(text(&caught).contains("its signature does not match the anchor: the anchor file was edited"), "{}", text(&caught));
}

#[test]
fn a_register_as_of_an_entry_inside_a_signed_commit_is_checked_against_that_commits_signature() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::Sqlite(dir.path().join("data"));
    let key = signed_store(&backend, dir.path());
    // Five more deposits in one signed commit: entries 33 to 37, the signature on 37.
    let lines: String = (1..=5)
        .map(|n| {
            format!(
                "{{\"type\":\"deposit\",\"key\":\"one-commit-{n}\",\"client\":\"client-1\",\"wallet\":\"omnibus-hot\",\"asset\":\"eip155:1/slip44:60\",\"amount\":\"{n}\"}}\n"
            )
        })
        .collect();
    let file = dir.path().join("one-commit.jsonl");
    std::fs::write(&file, lines).unwrap();
    ok(&backend.run_signed(Some(&key), &["import", file.to_str().unwrap()]));
    for as_of in ["30", "35", "37"] {
        let pack = dir.path().join(format!("pack-{as_of}"));
        let made = backend
            .run_signed(None, &["insolvency", "pack", "--at", "2026-06-30T23:59:59Z", "--as-of", as_of, "--out", pack.to_str().unwrap()]);
        assert!(ok(&made).contains(&format!("from journal entry {as_of} ")), "{}", text(&made));
    }
    // The commit's signature removed: the entries inside it are no longer covered.
    backend.strip_signature(37);
    let pack = dir.path().join("pack-unsigned");
    let refused =
        backend.run_signed(None, &["insolvency", "pack", "--at", "2026-06-30T23:59:59Z", "--as-of", "35", "--out", pack.to_str().unwrap()]);
    assert!(!refused.status.success() && text(&refused).contains("entry 33 is not covered"), "{}", text(&refused));
}
