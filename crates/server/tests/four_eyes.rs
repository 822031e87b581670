//! Four-eyes control through the API: the initiator cannot approve; one approval is not
//! enough when two are required; an approved withdrawal applies exactly once, retries
//! included; rejections and policy changes are journaled; the journal verifies afterwards.

#![allow(clippy::unwrap_used, reason = "a fixture that fails should fail the test at once")]

mod common;

use common::{C1, ETH, OMNIBUS_WALLET, Response, Server, unique};
use ringfence_core::Role;
use serde_json::{Value, json};

const ONE_ETH: u128 = 1_000_000_000_000_000_000;

fn post(server: &Server, token: &str, path: &str, body: &Value) -> Response {
    // A movement's key is its Idempotency-Key; other writes get a fresh one.
    let key = body["key"].as_str().map_or_else(|| unique("four-eyes"), str::to_owned);
    server.post(path, Some(token), Some(&key), body)
}

fn put_policy(server: &Server, body: &Value) -> Response {
    let token = format!("Bearer {}", server.tokens.of(Role::Compliance));
    let key = unique("policy");
    server.call("PUT", "/v1/policy/approvals", &[("Authorization", &token), ("Idempotency-Key", &key)], Some(body.to_string().as_bytes()))
}

fn eth_position(server: &Server) -> u128 {
    let response = server.get(&format!("/v1/balances?client={C1}&asset={ETH}"), Some(server.tokens.of(Role::Auditor)));
    assert_eq!(response.status, 200, "{}", response.body);
    response.body["balances"][0]["amount"].as_str().unwrap().parse().unwrap()
}

fn withdrawal(key: &str, amount: u128) -> Value {
    json!({"type": "withdrawal", "key": key, "client": C1, "wallet": OMNIBUS_WALLET, "asset": ETH, "amount": amount.to_string()})
}

#[test]
fn an_approved_withdrawal_applies_once_after_two_approvers_neither_of_them_the_initiator() {
    let server = Server::start();
    let initiator = server.tokens.operator_approver.clone();
    let (first, second) = (server.tokens.of(Role::Approver).to_owned(), server.tokens.second_approver.clone());

    let policy = json!({"approvals": 2, "expiry_hours": 24, "withdrawal_thresholds": {ETH: ONE_ETH.to_string()}});
    let set = put_policy(&server, &policy);
    assert_eq!((set.status, set.body["status"].as_str()), (201, Some("accepted")), "{}", set.body);
    let shown = server.get("/v1/policy/approvals", Some(server.tokens.of(Role::Operator)));
    assert_eq!(shown.body["approvals"], json!(2));
    assert_eq!(shown.body["withdrawal_thresholds"][ETH], json!(ONE_ETH.to_string()));
    // The policy report's section is the same view, without `in_force`.
    let mut section = shown.body.clone();
    assert_eq!(section.as_object_mut().and_then(|s| s.remove("in_force")), Some(json!(true)));
    assert_eq!(server.get("/v1/policy", Some(server.tokens.of(Role::Compliance))).body["approvals"], section);

    let start = eth_position(&server);
    // A withdrawal at the threshold applies at once; above it, it waits.
    let small = post(&server, &initiator, "/v1/movements", &withdrawal(&unique("small"), ONE_ETH / 2));
    assert_eq!(small.status, 201, "{}", small.body);
    let start = start - ONE_ETH / 2;
    let key = unique("big");
    let proposed = post(&server, &initiator, "/v1/movements", &withdrawal(&key, ONE_ETH + 1));
    assert_eq!((proposed.status, proposed.body["status"].as_str()), (202, Some("pending_approval")), "{}", proposed.body);
    let id = proposed.body["seq"].as_u64().unwrap();
    assert_eq!(eth_position(&server), start);

    // The initiator cannot approve, even holding the approver role.
    let own = post(&server, &initiator, &format!("/v1/pending/{id}/approve"), &json!({}));
    own.assert_error(409, "initiator_cannot_approve");

    // One approval of two: recorded, nothing moves; the same approver again is the same approval.
    let one = post(&server, &first, &format!("/v1/pending/{id}/approve"), &json!({}));
    assert_eq!(one.status, 201, "{}", one.body);
    assert_eq!(eth_position(&server), start);
    let again = post(&server, &first, &format!("/v1/pending/{id}/approve"), &json!({}));
    assert_eq!((again.status, again.body["status"].as_str(), &again.body["seq"]), (200, Some("already_exists"), &one.body["seq"]));
    assert_eq!(eth_position(&server), start);

    // The second distinct approver applies it, once.
    let two = post(&server, &second, &format!("/v1/pending/{id}/approve"), &json!({}));
    assert_eq!(two.status, 201, "{}", two.body);
    let applied = two.body["seq"].as_u64().unwrap();
    assert_eq!(eth_position(&server), start - ONE_ETH - 1);
    let retry = post(&server, &second, &format!("/v1/pending/{id}/approve"), &json!({}));
    assert_eq!((retry.status, retry.body["seq"].as_u64()), (200, Some(applied)));
    let resubmitted = post(&server, &initiator, "/v1/movements", &withdrawal(&key, ONE_ETH + 1));
    assert_eq!((resubmitted.status, resubmitted.body["seq"].as_u64()), (200, Some(applied)), "{}", resubmitted.body);
    assert_eq!(eth_position(&server), start - ONE_ETH - 1);

    let pending = server.get(&format!("/v1/pending/{id}"), Some(server.tokens.of(Role::Auditor)));
    assert_eq!(pending.body["state"], json!("applied"));
    assert_eq!(pending.body["approvals"].as_array().unwrap().len(), 2);
    assert_eq!(pending.body["initiator"], json!("holder-of-t-ops-approver"));
    let history = server.get(&format!("/v1/history?client={C1}&limit=1000"), Some(server.tokens.of(Role::Auditor)));
    let applied_rows: Vec<&Value> =
        history.body["movements"].as_array().unwrap().iter().filter(|m| m["movement"]["key"] == json!(key)).collect();
    assert_eq!(applied_rows.len(), 1);
    assert_eq!((applied_rows[0]["seq"].as_u64(), applied_rows[0]["approved_pending"].as_u64()), (Some(applied), Some(id)));
    let head = server.journal_head();
    assert!(head.seq >= applied);
}

#[test]
fn a_rejected_instruction_never_applies_and_policy_changes_wait_for_approval() {
    let server = Server::start();
    let operator = server.tokens.of(Role::Operator).to_owned();
    let approver = server.tokens.of(Role::Approver).to_owned();
    let policy = json!({"approvals": 1, "withdrawal_thresholds": {ETH: "0"}});
    assert_eq!(put_policy(&server, &policy).status, 201);
    let start = eth_position(&server);

    let proposed = post(&server, &operator, "/v1/movements", &withdrawal(&unique("no"), 5));
    assert_eq!(proposed.status, 202, "{}", proposed.body);
    let id = proposed.body["seq"].as_u64().unwrap();
    post(&server, &approver, &format!("/v1/pending/{id}/reject"), &json!({"reason": ""})).assert_error(422, "invalid_policy");
    post(&server, &approver, &format!("/v1/pending/{id}/reject"), &json!({"why": "x"})).assert_error(400, "invalid_json");
    let rejected = post(&server, &approver, &format!("/v1/pending/{id}/reject"), &json!({"reason": "the client did not ask"}));
    assert_eq!(rejected.status, 201, "{}", rejected.body);
    post(&server, &server.tokens.second_approver, &format!("/v1/pending/{id}/approve"), &json!({})).assert_error(409, "pending_closed");
    post(&server, &approver, "/v1/pending/999999/approve", &json!({})).assert_error(404, "unknown_pending");
    assert_eq!(eth_position(&server), start);
    let shown = server.get(&format!("/v1/pending/{id}"), Some(&operator));
    assert_eq!((&shown.body["state"], &shown.body["closed"]["reason"]), (&json!("rejected"), &json!("the client did not ask")));

    put_policy(&server, &json!({"approvals": 0})).assert_error(422, "invalid_policy");
    put_policy(&server, &json!({"approvals": 1, "actor": "me"})).assert_error(422, "field_not_allowed");
    // A change of the policy in force is itself a pending instruction.
    let stricter = put_policy(&server, &json!({"approvals": 2, "withdrawal_thresholds": {ETH: "0"}}));
    assert_eq!(stricter.status, 202, "{}", stricter.body);
    let open = server.get("/v1/pending?state=open", Some(&operator));
    assert_eq!(open.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(open.body["items"][0]["command"]["type"], json!("approval_policy"));
    assert_eq!(server.get("/v1/policy/approvals", Some(&operator)).body["approvals"], json!(1));
    // While it waits, another change of the policy is a conflict.
    put_policy(&server, &json!({"approvals": 3})).assert_error(409, "entity_conflict");
    server.journal_head();
}

#[test]
fn without_an_approval_policy_the_policy_route_says_none_is_in_force_and_the_report_says_null() {
    let server = Server::start();
    let shown = server.get("/v1/policy/approvals", Some(server.tokens.of(Role::Operator)));
    assert_eq!((shown.status, &shown.body), (200, &json!({"in_force": false})));
    assert_eq!(server.get("/v1/policy", Some(server.tokens.of(Role::Compliance))).body["approvals"], Value::Null);
}

#[test]
fn a_correction_that_lowers_a_client_position_waits_for_approval() {
    let server = Server::start();
    let operator = server.tokens.of(Role::Operator).to_owned();
    let approver = server.tokens.of(Role::Approver).to_owned();
    let set = put_policy(&server, &json!({"approvals": 1, "expiry_hours": 24, "withdrawal_thresholds": {}}));
    assert_eq!(set.status, 201, "{}", set.body);
    let start = eth_position(&server);
    // The fixture's dep-1 credited c1 2.5 ETH; its correction would take them back.
    let correction = json!({"type": "correction", "key": "fix-dep-1", "corrects": "dep-1"});
    let proposed = post(&server, &operator, "/v1/movements", &correction);
    assert_eq!((proposed.status, proposed.body["status"].as_str()), (202, Some("pending_approval")), "{}", proposed.body);
    assert!(proposed.body["detail"].as_str().unwrap().contains("correction lowering client c1"), "{}", proposed.body);
    assert_eq!(eth_position(&server), start, "nothing moved");
    let id = proposed.body["seq"].as_u64().unwrap();
    let approved = post(&server, &approver, &format!("/v1/pending/{id}/approve"), &json!({}));
    assert_eq!(approved.status, 201, "{}", approved.body);
    assert_eq!(eth_position(&server), start - 2_500_000_000_000_000_000);
}
