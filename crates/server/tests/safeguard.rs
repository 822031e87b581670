//! Safeguarding through the API: the policy report, reading and setting the safeguarding
//! policy, and the safeguarding lines sent to `POST /v1/entities` and `POST /v1/movements` with
//! the roles each needs. Every refusal is checked to change nothing (the journal head).

#![allow(clippy::unwrap_used, reason = "a fixture that fails should fail the test at once")]

mod common;

use common::{C1, ETH, OMNIBUS_WALLET, Response, Server, unique};
use ringfence_core::Role;
use serde_json::{Value, json};

fn put(server: &Server, path: &str, token: &str, body: &Value) -> Response {
    let authorization = format!("Bearer {token}");
    let key = unique("put");
    let headers = [("Authorization", authorization.as_str()), ("Idempotency-Key", key.as_str()), ("Content-Type", "application/json")];
    server.call("PUT", path, &headers, Some(body.to_string().as_bytes()))
}

fn entity(server: &Server, role: Role, body: &Value) -> Response {
    server.post("/v1/entities", Some(server.tokens.of(role)), Some(&unique("entity")), body)
}

/// A client instruction of c1 to stake up to 1 ETH, for the firm or for the client.
fn instruction(id: &str, beneficiary: &str) -> Value {
    json!({
        "type": "client_instruction", "id": id, "client": C1, "asset": ETH, "purpose": "staking", "beneficiary": beneficiary,
        "max_amount": "1000000000000000000", "valid_until": "2099-01-01", "evidence": "signed request 2026-42",
    })
}

#[test]
fn staff_read_the_policy_report_and_clients_may_not() {
    let server = Server::start();
    for role in [Role::Compliance, Role::Auditor, Role::Approver, Role::Operator] {
        let response = server.get("/v1/policy", Some(server.tokens.of(role)));
        assert_eq!(response.status, 200, "{role:?}: {response:?}");
    }
    let report = server.get("/v1/policy", Some(server.tokens.of(Role::Compliance))).body;
    let eth = report["hot_cold"].as_array().unwrap().iter().find(|row| row["asset"] == json!(ETH)).expect("an ETH row");
    assert_eq!(eth["client_hot"], json!("2500000000000000000"), "{eth}");
    assert_eq!(eth["client_cold"], json!("40000000000000000000"), "{eth}");
    assert_eq!(eth["cold_floor"], json!("0.00 %"), "the fixture's floor: {eth}");
    assert_eq!(eth["breach"], json!(false), "{eth}");
    let key_sets = report["access_separation"]["key_sets"].as_array().unwrap();
    assert!(key_sets.iter().any(|k| k["id"] == json!("ks-omnibus")), "{report}");
    for key in ["approvals", "exceptions", "safeguarding", "risk_assessments", "client_instructions", "sub_custody", "fiat"] {
        assert!(report.get(key).is_some(), "the report has no {key}: {report}");
    }
    server.get("/v1/policy", Some(server.tokens.of(Role::Client))).assert_error(403, "forbidden");
    server.get("/v1/policy/safeguarding", Some(server.tokens.of(Role::Client))).assert_error(403, "forbidden");
}

#[test]
fn compliance_sets_the_safeguarding_policy_and_nobody_else_can() {
    let server = Server::start();
    let compliance = server.tokens.of(Role::Compliance);
    let before = server.get("/v1/policy/safeguarding", Some(compliance));
    assert_eq!(before.status, 200, "{before:?}");
    assert_eq!(before.body["cold_floor"], json!("0.00 %"), "{before:?}");

    let head = server.journal_head();
    put(&server, "/v1/policy/safeguarding", server.tokens.of(Role::Operator), &json!({"cold_floor": "25"})).assert_error(403, "forbidden");
    put(&server, "/v1/policy/safeguarding", compliance, &json!({"cold_floor": "101"})).assert_error(422, "invalid_policy");
    put(&server, "/v1/policy/safeguarding", compliance, &json!({"cold_floor": "25", "type": "safeguarding_policy"}))
        .assert_error(422, "field_not_allowed");
    put(&server, "/v1/policy/safeguarding", compliance, &json!({"cold_floor": "25", "colour": "red"})).assert_error(422, "invalid_policy");
    put(&server, "/v1/policy/safeguarding", compliance, &json!([1])).assert_error(400, "invalid_json");
    assert_eq!(server.journal_head(), head, "a refused policy changed the journal");

    let body = json!({"cold_floor": "25", "cold_floors": {ETH: "50.5"}, "lapse_notice_days": 45});
    let set = put(&server, "/v1/policy/safeguarding", compliance, &body);
    assert_eq!((set.status, &set.body["status"]), (201, &json!("accepted")), "{set:?}");
    let seq = set.body["seq"].as_u64().unwrap();
    let again = put(&server, "/v1/policy/safeguarding", compliance, &body);
    assert_eq!((again.status, &again.body["status"], &again.body["seq"]), (200, &json!("already_exists"), &json!(seq)), "{again:?}");

    let after = server.get("/v1/policy/safeguarding", Some(server.tokens.of(Role::Auditor)));
    assert_eq!(after.status, 200, "{after:?}");
    assert_eq!(after.body["seq"], json!(seq), "{after:?}");
    assert_eq!(after.body["cold_floor"], json!("25.00 %"), "{after:?}");
    assert_eq!(after.body["cold_floors"], json!([{"asset": ETH, "cold_floor": "50.50 %"}]), "{after:?}");
    assert_eq!(after.body["lapse_notice_days"], json!(45), "{after:?}");
    let report = server.get("/v1/policy", Some(compliance)).body;
    assert_eq!(report["safeguarding"], after.body, "the route and the report say the same");

    // The policy is not an entity: its line is sent to its own route.
    let head = server.journal_head();
    let misrouted = entity(&server, Role::Compliance, &json!({"type": "safeguarding_policy", "cold_floor": "10"}));
    misrouted.assert_error(422, "wrong_route");
    assert!(misrouted.body["error"]["message"].as_str().unwrap().contains("PUT /v1/policy/safeguarding"), "{misrouted:?}");
    assert_eq!(server.journal_head(), head);
}

#[test]
fn an_operator_encumbers_under_a_client_instruction_and_the_report_shows_it() {
    let server = Server::start();
    let id = unique("staking");
    let recorded = entity(&server, Role::Operator, &instruction(&id, "client"));
    assert_eq!(recorded.status, 201, "{recorded:?}");
    let encumbrance = json!({"type": "encumbrance", "key": unique("enc"), "amount": "400000000000000000", "instruction": id});
    let encumbered = entity(&server, Role::Operator, &encumbrance);
    assert_eq!(encumbered.status, 201, "{encumbered:?}");
    let again = entity(&server, Role::Operator, &encumbrance);
    assert_eq!((again.status, &again.body["status"]), (200, &json!("already_exists")), "{again:?}");

    // A reward is a movement: it goes to /v1/movements, not /v1/entities.
    let reward = json!({"type": "reward", "client": C1, "wallet": OMNIBUS_WALLET, "asset": ETH, "amount": "1000", "instruction": id});
    entity(&server, Role::Operator, &reward).assert_error(422, "wrong_route");
    let rewarded = server.post("/v1/movements", Some(server.tokens.of(Role::Operator)), Some(&unique("reward")), &reward);
    assert_eq!(rewarded.status, 201, "{rewarded:?}");

    let report = server.get("/v1/policy", Some(server.tokens.of(Role::Auditor))).body;
    let row = report["client_instructions"].as_array().unwrap().iter().find(|i| i["id"] == json!(id)).expect("the instruction");
    assert_eq!(row["state"], json!("live"), "{row}");
    assert_eq!(row["encumbered"], json!("400000000000000000"), "{row}");
    assert_eq!(row["rewards"], json!("1000"), "{row}");
    // The instruction is listed among the entities, and the client sees what is encumbered.
    let listed = server.get("/v1/entities/client-instructions", Some(server.tokens.of(Role::Auditor)));
    assert!(listed.body["items"].as_array().unwrap().iter().any(|i| i["id"] == json!(id)), "{listed:?}");
    for kind in ["institutions", "fiat-accounts"] {
        assert_eq!(server.get(&format!("/v1/entities/{kind}"), Some(server.tokens.of(Role::Auditor))).status, 200, "{kind}");
    }
    let own = server.get(&format!("/v1/balances?client={C1}"), Some(server.tokens.of(Role::Client))).body;
    assert_eq!(own["encumbered"][0]["amount"], json!("400000000000000000"), "{own}");

    // More than is free to encumber, and a release of more than is encumbered: refused.
    let head = server.journal_head();
    let too_much = json!({"type": "encumbrance", "key": unique("enc"), "amount": "700000000000000000", "instruction": id});
    entity(&server, Role::Operator, &too_much).assert_error(422, "instruction_limit");
    let release = json!({"type": "release", "key": unique("rel"), "amount": "500000000000000000", "instruction": id});
    entity(&server, Role::Operator, &release).assert_error(422, "insufficient_funds");
    // Compliance does not record client instructions or encumbrances.
    entity(&server, Role::Compliance, &json!({"type": "encumbrance", "key": unique("enc"), "amount": "1", "instruction": id}))
        .assert_error(403, "forbidden");
    assert_eq!(server.journal_head(), head);

    // Revoked: no further encumbrance under it (a conflict with what is recorded).
    let revoked = entity(&server, Role::Operator, &json!({"type": "instruction_revocation", "id": id}));
    assert_eq!(revoked.status, 201, "{revoked:?}");
    let late = json!({"type": "encumbrance", "key": unique("enc"), "amount": "1", "instruction": id});
    entity(&server, Role::Operator, &late).assert_error(409, "instruction_not_live");
}

#[test]
fn an_own_account_instruction_is_refused_and_changes_nothing() {
    let server = Server::start();
    let head = server.journal_head();
    let id = unique("firm-staking");
    let refused = entity(&server, Role::Operator, &instruction(&id, "firm"));
    refused.assert_error(422, "own_account_use");
    assert_eq!(server.journal_head(), head);
    let report = server.get("/v1/policy", Some(server.tokens.of(Role::Compliance))).body;
    assert_eq!(report["client_instructions"], json!([]), "{report}");
}

#[test]
fn risk_assessments_are_compliance_s_and_checks_are_either_s() {
    let server = Server::start();
    let assessment = json!({"type": "risk_assessment", "id": unique("ra"), "asset": ETH, "cold_floor": "10", "valid_until": "2099-01-01", "reason": "staking"});
    let head = server.journal_head();
    entity(&server, Role::Operator, &assessment).assert_error(403, "forbidden");
    entity(&server, Role::Compliance, &json!({"type": "client", "id": "c9", "category": "retail", "segregation": "omnibus"}))
        .assert_error(403, "forbidden");
    // A lower cold floor needs a second person: without an approval policy it cannot be recorded.
    entity(&server, Role::Compliance, &assessment).assert_error(422, "invalid_safeguard");
    assert_eq!(server.journal_head(), head);
    let approvals = put(&server, "/v1/policy/approvals", server.tokens.of(Role::Compliance), &json!({"approvals": 1}));
    assert_eq!(approvals.status, 201, "{approvals:?}");
    let proposed = entity(&server, Role::Compliance, &assessment);
    assert_eq!((proposed.status, &proposed.body["status"]), (202, &json!("pending_approval")), "{proposed:?}");
    // The fixture's floor is 0 %: nothing is due, which is the check's answer, not an error.
    for role in [Role::Operator, Role::Compliance] {
        let check = entity(&server, role, &json!({"type": "safeguarding_check"}));
        assert_eq!((check.status, &check.body["status"]), (200, &json!("nothing_due")), "{role:?}: {check:?}");
    }
    entity(&server, Role::Auditor, &json!({"type": "safeguarding_check"})).assert_error(403, "forbidden");
}
