//! Prices over the API (issue 17): recorded as `price` entities by an operator or compliance
//! (the token's holder is the actor), listed, and used by `GET /v1/valuation`, where a client
//! token values its own positions only and sees no staff names; bad input is a 400 or 422 that
//! changes nothing.

#![allow(clippy::unwrap_used, reason = "a fixture that fails should fail the test at once")]

mod common;

use common::{C1, C2, ETH, Server, USDC, unique};
use ringfence_core::Role;
use serde_json::json;

fn price(asset: &str, price: &str, source: &str, at: &str) -> serde_json::Value {
    json!({"type": "price", "asset": asset, "price": price, "source": source, "effective_at": at})
}

#[test]
fn prices_recorded_over_the_api_value_a_clients_positions() {
    let server = Server::start();
    let operator = server.tokens.of(Role::Operator).to_owned();
    let compliance = server.tokens.of(Role::Compliance).to_owned();
    let recorded = server.post("/v1/entities", Some(&operator), Some(&unique("p")), &price(ETH, "3012.45", "ecb", "2026-01-31T16:00:00Z"));
    assert_eq!(recorded.status, 201, "{recorded:?}");
    let again = server.post("/v1/entities", Some(&operator), Some(&unique("p")), &price(ETH, "3012.450", "ecb", "2026-01-31T16:00:00Z"));
    assert_eq!((again.status, again.body["status"].as_str()), (200, Some("already_exists")), "{again:?}");
    let conflict = server.post("/v1/entities", Some(&operator), Some(&unique("p")), &price(ETH, "3012.46", "ecb", "2026-01-31T16:00:00Z"));
    conflict.assert_error(409, "entity_conflict");
    let by_compliance =
        server.post("/v1/entities", Some(&compliance), Some(&unique("p")), &price(USDC, "0.92", "ecb", "2026-01-31T16:00:00Z"));
    assert_eq!(by_compliance.status, 201, "{by_compliance:?}");
    for role in [Role::Approver, Role::Auditor, Role::Client] {
        let refused =
            server.post("/v1/entities", Some(server.tokens.of(role)), Some(&unique("p")), &price(ETH, "1", "x", "2026-01-31T00:00:00Z"));
        refused.assert_error(403, "forbidden");
    }

    let listed = server.get(&format!("/v1/prices?asset={ETH}"), Some(&operator));
    assert_eq!(listed.status, 200, "{listed:?}");
    assert_eq!(listed.body["total"], 1);
    assert_eq!(listed.body["prices"][0]["money"], "EUR 3012.45");
    assert_eq!(listed.body["prices"][0]["actor"], json!("holder-of-t-operator"), "{listed:?}");

    // c1 holds 2.5 ETH: EUR 7531.125 → 7531.13 (halves up).
    let staff = server.get(&format!("/v1/valuation?client={C1}&at=2026-02-01T12:00:00Z"), Some(&operator));
    assert_eq!(staff.status, 200, "{staff:?}");
    assert_eq!(staff.body["assets"][0]["value"]["money"], "EUR 7531.13", "{staff:?}");
    assert_eq!(staff.body["assets"][0]["price"]["source"], "ecb");
    assert!(staff.body["assets"][0]["price"]["actor"].is_string());
    let own = server.get(&format!("/v1/valuation?client={C1}&at=2026-02-01T12:00:00Z"), Some(server.tokens.of(Role::Client)));
    assert_eq!(own.status, 200, "{own:?}");
    assert_eq!(own.body["total"]["money"], "EUR 7531.13");
    assert_eq!(own.body["assets"][0]["price"]["actor"], json!(null), "a client sees no staff name: {own:?}");
    // c2's USDC on 3 February: the price of 31 January is stale.
    let stale = server.get(&format!("/v1/valuation?client={C2}&at=2026-02-03"), Some(&server.tokens.client_c2));
    assert_eq!(stale.body["assets"][0]["not_valued"]["code"], "stale_price", "{stale:?}");
    assert_eq!(stale.body["complete"], false);
    let longer = server.get(&format!("/v1/valuation?client={C2}&at=2026-02-03&max_price_age=4d"), Some(&server.tokens.client_c2));
    assert_eq!(longer.body["total"]["money"], "EUR 1104.00", "1200 USDC at EUR 0.92: {longer:?}");
}

#[test]
fn bad_prices_and_queries_are_refused_naming_what_is_wrong() {
    let server = Server::start();
    let operator = server.tokens.of(Role::Operator).to_owned();
    let head = server.journal_head();
    for (body, status, code, words) in [
        (price(ETH, "0", "ecb", "2026-01-31"), 422, "invalid_command", "zero"),
        (json!({"type": "price", "asset": ETH, "price": 3012.45, "source": "ecb"}), 422, "invalid_command", "not a JSON number"),
        (price("eip155:1/slip44:61", "1", "ecb", "2026-01-31"), 422, "unknown_asset", "not registered"),
        (price(ETH, "1", "ecb", "2999-01-01"), 422, "invalid_command", "future"),
    ] {
        let response = server.post("/v1/entities", Some(&operator), Some(&unique("bad")), &body);
        assert_eq!((response.status, response.error_code()), (status, Some(code)), "{body}: {response:?}");
        assert!(response.body["error"]["message"].as_str().unwrap().contains(words), "{body}: {response:?}");
    }
    assert_eq!(server.journal_head(), head, "nothing was recorded");
    for path in [
        format!("/v1/valuation?client={C1}&currency=euro"),
        format!("/v1/valuation?client={C1}&max_price_age=1w"),
        format!("/v1/valuation?client={C1}&at=yesterday"),
        format!("/v1/valuation?client={C1}&colour=red"),
        "/v1/valuation".to_owned(),
        "/v1/prices?currency=eur".to_owned(),
    ] {
        server.get(&path, Some(&operator)).assert_error(400, "invalid_query");
    }
    server.get("/v1/valuation?client=nobody", Some(&operator)).assert_error(404, "not_found");
    server.get("/v1/prices?asset=eip155:1/slip44:61", Some(&operator)).assert_error(404, "not_found");
}

#[test]
fn a_statement_over_the_api_is_the_clients_own_in_json_csv_or_pdf() {
    let server = Server::start();
    let operator = server.tokens.of(Role::Operator).to_owned();
    let recorded = server.post("/v1/entities", Some(&operator), Some(&unique("p")), &price(ETH, "3012.45", "ecb", "2026-03-31T16:00:00Z"));
    assert_eq!(recorded.status, 201, "{recorded:?}");
    let c1 = server.tokens.of(Role::Client).to_owned();
    let own = server.get(&format!("/v1/statements?client={C1}&period=2026-Q1"), Some(&c1));
    assert_eq!(own.status, 200, "{own:?}");
    assert_eq!(own.header("content-type"), Some("application/json"));
    assert_eq!(own.body["casp"]["name"], "Test CASP");
    assert_eq!(own.body["casp"]["authorisation"], "AFM-TEST-1");
    assert_eq!(own.body["assets"][0]["closing"]["amount"], "2500000000000000000", "{own:?}");
    assert_eq!(own.body["assets"][0]["movements"][0]["reference"], "dep-1");
    // 2.5 ETH at EUR 3012.45: EUR 7531.125 → 7531.13.
    assert_eq!(own.body["valuation"]["total"]["money"], "EUR 7531.13");
    let seq = own.body["journal_seq"].as_u64().unwrap();
    // The same statement made again from the entry it reflects: the same bytes and digest.
    let again = server.get(&format!("/v1/statements?client={C1}&period=2026-Q1&as_of={seq}"), Some(&operator));
    assert_eq!(again.body, own.body);
    assert_eq!(again.header("x-content-sha256"), own.header("x-content-sha256"));
    for (format, content_type) in [("csv", "text/csv; charset=utf-8"), ("pdf", "application/pdf")] {
        let made = server.get(&format!("/v1/statements?client={C1}&period=2026-Q1&format={format}"), Some(&c1));
        assert_eq!((made.status, made.header("content-type")), (200, Some(content_type)), "{made:?}");
    }
    let head = server.journal_head();
    for path in [
        format!("/v1/statements?client={C1}"),
        format!("/v1/statements?client={C1}&period=2026-Q5"),
        format!("/v1/statements?client={C1}&period=2026-Q1&format=docx"),
        format!("/v1/statements?client={C1}&period=2026-Q1&from=2026-01-01"),
        format!("/v1/statements?client={C1}&from=2026-02-01&to=2026-01-01"),
    ] {
        let refused = server.get(&path, Some(&operator));
        assert!(matches!(refused.status, 400 | 422), "{path}: {refused:?}");
    }
    server.get(&format!("/v1/statements?client={C1}&period=2099-Q1"), Some(&operator)).assert_error(422, "invalid_statement");
    server.get("/v1/statements?client=nobody&period=2026-Q1", Some(&operator)).assert_error(404, "not_found");
    server.get(&format!("/v1/statements?client={C2}&period=2026-Q1"), Some(&c1)).assert_error(403, "forbidden");
    assert_eq!(server.journal_head(), head, "making a statement records nothing");

    // A later price for the same instant changes today's statement, not one made as of the
    // entry the first reflects (from the register replayed up to it).
    let later = server.post("/v1/entities", Some(&operator), Some(&unique("p")), &price(ETH, "3100", "ecb", "2026-03-31T20:00:00Z"));
    assert_eq!(later.status, 201, "{later:?}");
    let today = server.get(&format!("/v1/statements?client={C1}&period=2026-Q1"), Some(&c1));
    assert_eq!(today.body["valuation"]["total"]["money"], "EUR 7750.00", "{today:?}");
    let then = server.get(&format!("/v1/statements?client={C1}&period=2026-Q1&as_of={seq}"), Some(&operator));
    assert_eq!((then.status, &then.body), (200, &own.body), "{then:?}");
    assert_eq!(then.header("x-content-sha256"), own.header("x-content-sha256"));
    // A client may ask only for the entries its issued statements reflect (each costs a replay).
    server.get(&format!("/v1/statements?client={C1}&period=2026-Q1&as_of={seq}"), Some(&c1)).assert_error(403, "forbidden");
    server.get(&format!("/v1/statements?client={C1}&period=2026-Q1&as_of=999999"), Some(&operator)).assert_error(422, "invalid_statement");
    server.get(&format!("/v1/statements?client={C1}&period=2026-Q1&as_of=0"), Some(&operator)).assert_error(422, "invalid_statement");
}
