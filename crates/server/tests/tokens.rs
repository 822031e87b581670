//! A token revoked by another process (`ringfence token revoke` beside the server) is refused
//! from the server's next request on, even when the server was busy writing meanwhile.

#![allow(clippy::unwrap_used, reason = "a fixture that fails should fail the test at once")]

mod common;

use common::{Server, deposit, unique};
use ringfence_core::{Action, Actor, Command, InstructionId, Meta, Role, Status, TokenId};
use ringfence_store::Store;
use ringfence_wire::clock;

#[test]
fn a_revocation_by_another_process_bites_at_the_next_write() {
    let server = Server::start();
    let auditor = server.tokens.of(Role::Auditor).to_owned();
    assert_eq!(server.get("/v1/summary", Some(&auditor)).status, 200);

    let mut beside = Store::open(server.location()).unwrap();
    let revoke = Command {
        meta: Meta {
            actor: Actor::parse("security").unwrap(),
            instruction: InstructionId::parse("revoke").unwrap(),
            effective_at: clock::now(),
        },
        action: Action::RevokeApiToken { id: TokenId::parse("t-auditor").unwrap() },
    };
    assert_eq!(beside.submit(&[revoke], clock::now()).unwrap()[0].status, Status::Accepted);
    drop(beside);

    // The server writes before it is ever idle: the write catches up on the revocation.
    let key = unique("after-revoke");
    let written = server.post("/v1/movements", Some(server.tokens.of(Role::Operator)), Some(&key), &deposit("5"));
    assert_eq!(written.status, 201, "{}", written.body);
    server.get("/v1/summary", Some(&auditor)).assert_error(401, "unauthenticated");
}
