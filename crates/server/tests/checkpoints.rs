//! Register checkpoints under `serve`: the engine takes the one its store's policy wants
//! when its queue is empty (never inside a batch), a handle opened afterwards starts from it,
//! and the verify route compares it with a replay from entry 1.

#![allow(clippy::unwrap_used, reason = "a fixture that fails should fail the test at once")]

mod common;

use std::time::{Duration, Instant};

use common::{Server, deposit, unique};
use ringfence_core::Role;
use ringfence_store::{CheckpointPolicy, Store};

#[test]
fn the_server_takes_a_due_checkpoint_when_idle_and_the_verify_route_compares_it() {
    let server = Server::start_with(|store| store.set_checkpoint_policy(CheckpointPolicy { full_replay: false, every: 5 }));
    let operator = server.tokens.of(Role::Operator);
    for _ in 0..6 {
        let recorded = server.post("/v1/movements", Some(operator), Some(&unique("deposit")), &deposit("1"));
        assert_eq!(recorded.status, 201, "{:?}", recorded.body);
    }
    let head = server.journal_head().seq;
    // Idle: the engine takes the checkpoint within its refresh interval.
    let deadline = Instant::now() + Duration::from_secs(20);
    let taken = loop {
        let checkpoints = Store::open(server.location()).unwrap().checkpoints().unwrap();
        if let Some(newest) = checkpoints.first().filter(|info| info.seq >= head) {
            break newest.clone();
        }
        assert!(Instant::now() < deadline, "no checkpoint at entry {head} or later after 20 s idle: {checkpoints:?}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let opened = Store::open(server.location()).unwrap();
    assert_eq!(opened.opened().checkpoint, Some(taken.seq), "a new handle starts from it");
    assert!(opened.opened().passed_over.is_empty(), "{:?}", opened.opened().passed_over);

    let verified = server.get("/v1/journal/verify", Some(server.tokens.of(Role::Auditor)));
    assert_eq!(verified.status, 200, "{:?}", verified.body);
    assert_eq!(verified.body["intact"], true, "{:?}", verified.body);
    let checks = verified.body["checkpoints"].as_array().unwrap();
    assert!(
        checks.iter().any(|check| check["seq"] == taken.seq && check["verdict"] == "matches"),
        "the checkpoint is compared with the replay: {:?}",
        verified.body
    );
}
