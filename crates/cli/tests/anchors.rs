//! Anchors against a journal rewritten by someone who can write the database, on SQLite and on
//! PostgreSQL: a deleted tail with its head record reset, and a middle entry changed with every
//! later hash recomputed. Both leave a hash chain that `journal verify` finds intact; `journal
//! verify --anchors` names the anchored entry the journal no longer extends, and `serve
//! --anchor-file` refuses to start on it. (A forged entry appended after the last anchor is
//! not caught by anchors: that needs signed commits.)

#![allow(clippy::unwrap_used, reason = "a fixture or a tool that fails should fail the test at once")]

mod tamper;

use std::path::Path;

use tamper::{Backend, EXAMPLE, text};

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
    shortened.delete_after(20);
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
