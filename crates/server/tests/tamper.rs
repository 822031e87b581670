//! A store edited behind a running server's back: the server notices within seconds (its
//! periodic check of the stored journal against the head it holds), stops accepting writes,
//! reports unready and says why. The database is edited directly, as an attacker with the file
//! (SQLite) or a database login (PostgreSQL) would.

#![allow(clippy::unwrap_used, reason = "a fixture that fails should fail the test at once")]

mod common;

use std::time::{Duration, Instant};

use common::{Server, deposit, unique};
use ringfence_core::Role;
use ringfence_store::Location;

/// Runs SQL on the server's database behind its back (`?1` in SQLite's text is `$1` in
/// PostgreSQL's).
fn edit(server: &Server, sqlite: &str, postgres: &str, param: i64) {
    match server.location() {
        Location::Sqlite(path) => {
            let db = rusqlite::Connection::open(path).unwrap();
            if sqlite.contains("?1") {
                db.execute(sqlite, [param]).unwrap();
            } else {
                db.execute(sqlite, []).unwrap();
            }
        }
        Location::Postgres(_) => {
            let url = POSTGRES_URL.with(|url| url.borrow().clone()).unwrap();
            let mut db = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            if postgres.contains("$1") {
                db.execute(postgres, &[&param]).unwrap();
            } else {
                db.execute(postgres, &[]).unwrap();
            }
        }
    }
}

thread_local! {
    /// The URL of the PostgreSQL database the test's server uses.
    static POSTGRES_URL: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

fn postgres_server() -> Server {
    let url = ringfence_testdb::server().fresh_database();
    POSTGRES_URL.with(|cell| *cell.borrow_mut() = Some(url.clone()));
    Server::start_on(Location::parse_url(&url).unwrap())
}

/// Waits until a write is refused with 503, at most `limit`.
fn writes_stop(server: &Server, limit: Duration) -> common::Response {
    let operator = server.tokens.of(Role::Operator).to_owned();
    let started = Instant::now();
    loop {
        let response = server.post("/v1/movements", Some(&operator), Some(&unique("after-edit")), &deposit("1"));
        if response.status == 503 || started.elapsed() > limit {
            return response;
        }
        assert_eq!(response.status, 201, "{response:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn a_byte_changed_in_an_old_entry(server: &Server) {
    edit(
        server,
        "UPDATE journal SET body = CAST(body AS BLOB) || x'00' WHERE seq = 3",
        "UPDATE journal SET body = body || '\\x00'::bytea WHERE seq = 3",
        0,
    );
    let refused = writes_stop(server, Duration::from_secs(15));
    refused.assert_error(503, "unavailable");
    assert!(refused.body["error"]["message"].as_str().unwrap().contains("entry 3"), "{refused:?}");
    let ready = server.get("/readyz", None);
    assert_eq!(ready.status, 503, "{ready:?}");
    assert!(ready.body["error"]["message"].as_str().unwrap().contains("writes are stopped"), "{ready:?}");
    // Reads still answer, so the damage can be looked at.
    let verified = server.get("/v1/journal/verify", Some(server.tokens.of(Role::Auditor)));
    assert_eq!((verified.status, verified.body["intact"].as_bool()), (200, Some(false)), "{verified:?}");
}

fn a_deleted_tail_with_a_rewritten_head(server: &Server) {
    let operator = server.tokens.of(Role::Operator).to_owned();
    let recorded = server.post("/v1/movements", Some(&operator), Some("last-one"), &deposit("7"));
    assert_eq!(recorded.status, 201, "{recorded:?}");
    let last = recorded.body["seq"].as_i64().unwrap();
    edit(server, "DELETE FROM journal WHERE seq = ?1", "DELETE FROM journal WHERE seq = $1", last);
    edit(
        server,
        "UPDATE chain_head SET head_seq = ?1, head_hash = (SELECT hash FROM journal WHERE seq = ?1)",
        "UPDATE chain_head SET head_seq = $1, head_hash = (SELECT hash FROM journal WHERE seq = $1)",
        last - 1,
    );
    // The next write fails against the edited store (or the check finds it first); from then
    // on, writes are stopped and say why.
    writes_stop(server, Duration::from_secs(15)).assert_error(503, "unavailable");
    let refused = server.post("/v1/movements", Some(&operator), Some("after-stop"), &deposit("1"));
    refused.assert_error(503, "unavailable");
    let message = refused.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("writes are stopped") && message.contains(&format!("entry {last}")), "{refused:?}");
    assert_eq!(server.get("/readyz", None).status, 503);
}

#[test]
fn a_byte_changed_in_an_old_entry_stops_writes_and_readiness() {
    a_byte_changed_in_an_old_entry(&Server::start());
}

#[test]
fn a_byte_changed_in_an_old_postgres_entry_stops_writes_and_readiness() {
    a_byte_changed_in_an_old_entry(&postgres_server());
}

#[test]
fn a_deleted_tail_with_a_rewritten_head_stops_writes() {
    a_deleted_tail_with_a_rewritten_head(&Server::start());
}

#[test]
fn a_deleted_postgres_tail_with_a_rewritten_head_stops_writes() {
    a_deleted_tail_with_a_rewritten_head(&postgres_server());
}
