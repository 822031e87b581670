//! A store edited behind a running server's back: the server notices within seconds (its
//! periodic check of the stored journal against the head it holds), stops accepting writes,
//! reports unready and says why. SQLite is edited directly, as an attacker with the file would.

#![allow(clippy::unwrap_used, reason = "a fixture that fails should fail the test at once")]

mod common;

use std::time::{Duration, Instant};

use common::{Server, deposit, unique};
use ringfence_core::Role;
use ringfence_store::Location;

fn database(server: &Server) -> rusqlite::Connection {
    let Location::Sqlite(path) = server.location() else { panic!("the test server is on SQLite") };
    rusqlite::Connection::open(path).unwrap()
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

#[test]
fn a_byte_changed_in_an_old_entry_stops_writes_and_readiness() {
    let server = Server::start();
    let db = database(&server);
    db.execute("UPDATE journal SET body = CAST(body AS BLOB) || x'00' WHERE seq = 3", []).unwrap();
    let refused = writes_stop(&server, Duration::from_secs(15));
    refused.assert_error(503, "unavailable");
    assert!(refused.body["error"]["message"].as_str().unwrap().contains("entry 3"), "{refused:?}");
    let ready = server.get("/readyz", None);
    assert_eq!(ready.status, 503, "{ready:?}");
    assert!(ready.body["error"]["message"].as_str().unwrap().contains("writes are stopped"), "{ready:?}");
    // Reads still answer, so the damage can be looked at.
    let verified = server.get("/v1/journal/verify", Some(server.tokens.of(Role::Auditor)));
    assert_eq!((verified.status, verified.body["intact"].as_bool()), (200, Some(false)), "{verified:?}");
}

#[test]
fn a_deleted_tail_with_a_rewritten_head_stops_writes() {
    let server = Server::start();
    let operator = server.tokens.of(Role::Operator).to_owned();
    let recorded = server.post("/v1/movements", Some(&operator), Some("last-one"), &deposit("7"));
    assert_eq!(recorded.status, 201, "{recorded:?}");
    let last = recorded.body["seq"].as_i64().unwrap();
    let db = database(&server);
    db.execute("DELETE FROM journal WHERE seq = ?1", [last]).unwrap();
    db.execute("UPDATE chain_head SET head_seq = ?1, head_hash = (SELECT hash FROM journal WHERE seq = ?1)", [last - 1]).unwrap();
    // The next write fails against the edited store (or the check finds it first); from then
    // on, writes are stopped and say why.
    writes_stop(&server, Duration::from_secs(15)).assert_error(503, "unavailable");
    let refused = server.post("/v1/movements", Some(&operator), Some("after-stop"), &deposit("1"));
    refused.assert_error(503, "unavailable");
    let message = refused.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("writes are stopped") && message.contains(&format!("entry {last}")), "{refused:?}");
    assert_eq!(server.get("/readyz", None).status, 503);
}
