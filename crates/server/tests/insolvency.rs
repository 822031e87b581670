//! The insolvency pack over the API (issue 18): `GET /v1/insolvency/pack` answers each file of
//! the pack for compliance and auditor tokens (the same file twice is the same bytes, its
//! SHA-256 in `x-content-sha256` and in the manifest), and refuses other roles, an unknown
//! file, a cut-off after now and an entry the journal does not hold, recording nothing.

#![allow(clippy::unwrap_used, reason = "a fixture that fails should fail the test at once")]

mod common;

use common::{C1, ETH, OMNIBUS_WALLET, Server, unique};
use ringfence_core::Role;
use serde_json::json;

#[test]
fn compliance_and_auditors_read_each_file_of_the_pack() {
    let server = Server::start();
    let compliance = server.tokens.of(Role::Compliance).to_owned();
    let auditor = server.tokens.of(Role::Auditor).to_owned();
    let manifest = server.get("/v1/insolvency/pack?at=2026-06-30", Some(&compliance));
    assert_eq!((manifest.status, manifest.header("content-type")), (200, Some("application/json")), "{manifest:?}");
    assert_eq!(manifest.body["format"], "ringfence insolvency pack 1");
    assert_eq!(manifest.body["cut_off"], "2026-06-30T23:59:59.999999Z");
    for file in manifest.body["files"].as_array().unwrap() {
        let name = file["file"].as_str().unwrap();
        let got = server.get(&format!("/v1/insolvency/pack?at=2026-06-30&file={name}"), Some(&auditor));
        assert_eq!(got.status, 200, "{name}: {got:?}");
        assert_eq!(got.header("x-content-sha256"), file["sha256"].as_str(), "{name}");
    }
    let positions = server.get("/v1/insolvency/pack?at=2026-06-30&file=client_positions.csv", Some(&auditor));
    assert_eq!(positions.header("content-type"), Some("text/csv; charset=utf-8"));
    assert!(positions.body.as_str().unwrap().contains(&format!("\n{C1},")), "{positions:?}");
    // As of the entry it reflects: the same manifest.
    let seq = manifest.body["journal_seq"].as_u64().unwrap();
    let again = server.get(&format!("/v1/insolvency/pack?at=2026-06-30&as_of={seq}"), Some(&compliance));
    assert_eq!(again.body, manifest.body);

    // A withdrawal awaiting four-eyes approval, effective before the cut-off, is listed with the
    // client's position it would take from.
    let policy = json!({"approvals": 1, "withdrawal_thresholds": {ETH: "10"}});
    let set = server.call(
        "PUT",
        "/v1/policy/approvals",
        &[("Authorization", &format!("Bearer {compliance}")), ("Idempotency-Key", &unique("policy"))],
        Some(policy.to_string().as_bytes()),
    );
    assert!((200..=202).contains(&set.status), "{set:?}");
    let withdrawal = json!({"type": "withdrawal", "client": C1, "wallet": OMNIBUS_WALLET, "asset": ETH, "amount": "11", "effective_at": "2026-06-01T00:00:00Z"});
    let proposed = server.post("/v1/movements", Some(server.tokens.of(Role::Operator)), Some(&unique("pending")), &withdrawal);
    assert_eq!(proposed.status, 202, "{proposed:?}");
    let positions = server.get("/v1/insolvency/pack?at=2026-06-30&file=client_positions.csv", Some(&auditor));
    let text = positions.body.as_str().unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let column = header.iter().position(|c| *c == "pending_withdrawals").unwrap();
    let row = text.lines().find(|line| line.starts_with(&format!("{C1},{ETH},"))).unwrap();
    assert_eq!(row.split(',').nth(column), Some("11"), "{text}");

    let head = server.journal_head();
    for role in [Role::Operator, Role::Approver, Role::Client] {
        server.get("/v1/insolvency/pack?at=2026-06-30", Some(server.tokens.of(role))).assert_error(403, "forbidden");
    }
    server.get("/v1/insolvency/pack?at=2026-06-30&file=../../etc/passwd", Some(&compliance)).assert_error(404, "not_found");
    server.get("/v1/insolvency/pack?at=2999-01-01", Some(&compliance)).assert_error(422, "invalid_pack");
    server.get("/v1/insolvency/pack?at=2026-06-30&as_of=999999", Some(&compliance)).assert_error(422, "invalid_pack");
    server.get("/v1/insolvency/pack?at=2026-06-30&as_of=0", Some(&compliance)).assert_error(422, "invalid_pack");
    server.get("/v1/insolvency/pack?at=yesterday", Some(&compliance)).assert_error(400, "invalid_query");
    server.get("/v1/insolvency/pack", Some(&compliance)).assert_error(400, "invalid_query");
    assert_eq!(server.journal_head(), head, "reading a pack records nothing");
}
