//! Every kind of bad request gets the right 4xx with a machine-readable `error.code` and a
//! human message, never a 5xx, and changes nothing: the journal head (read through the API
//! and the database after each request, and through a fresh `Store::open` once the server
//! stopped) is what it was before.

#![allow(clippy::unwrap_used, reason = "a fixture that fails should fail the test at once")]

mod common;

use common::{C1, ETH, OMNIBUS_WALLET, Response, Server, USDC, deposit, unique};
use ringfence_core::Role;
use ringfence_server::{BATCH_BODY_BYTES_MAX, BODY_BYTES_MAX};
use ringfence_store::BATCH_MAX;
use serde_json::{Value, json};

/// One request to send.
#[derive(Debug, Clone)]
struct Request {
    method: &'static str,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

impl Request {
    fn new(method: &'static str, path: &str) -> Request {
        Request { method, path: path.to_owned(), headers: Vec::new(), body: None }
    }

    fn get(path: &str) -> Request {
        Request::new("GET", path)
    }

    fn post(path: &str, body: impl Into<Vec<u8>>) -> Request {
        Request { body: Some(body.into()), ..Request::new("POST", path) }.header("Content-Type", "application/json")
    }

    fn post_json(path: &str, body: &Value) -> Request {
        Request::post(path, body.to_string())
    }

    fn header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    fn token(self, token: &str) -> Request {
        self.header("Authorization", &format!("Bearer {token}"))
    }

    /// With a fresh, valid Idempotency-Key.
    fn keyed(self) -> Request {
        self.header("Idempotency-Key", &unique("invalid"))
    }

    fn send(&self, server: &Server) -> Response {
        let headers: Vec<(&str, &str)> = self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        server.call(self.method, &self.path, &headers, self.body.as_deref())
    }
}

/// Sends each request and checks that it got `status` with `code` and a message, that nothing
/// is ever a 5xx, and that the journal did not change; then stops the server and checks the
/// head once more through a fresh `Store::open`.
fn all_refused(server: Server, cases: Vec<(&str, Request, u16, &str)>) {
    let before = server.journal_head();
    let mut failures = Vec::new();
    for (name, request, status, code) in &cases {
        let response = request.send(&server);
        let message = response.body["error"]["message"].as_str().unwrap_or_default();
        if response.status >= 500 {
            failures.push(format!("{name}: a 5xx: {} {}", response.status, response.body));
        } else if (response.status, response.error_code()) != (*status, Some(*code)) || message.trim().is_empty() {
            failures.push(format!("{name}: expected {status} {code} with a message, got {} {}", response.status, response.body));
        }
        if server.journal_head() != before {
            failures.push(format!("{name}: the journal changed"));
        }
    }
    assert!(failures.is_empty(), "{} of {} case(s) failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
    let stopped = server.stop();
    assert_eq!(stopped.head(), before, "the reopened store has the head the server had before the refused requests");
}

fn operator(server: &Server) -> String {
    server.tokens.of(Role::Operator).to_owned()
}

fn with(mut body: Value, field: &str, value: Value) -> Value {
    body[field] = value;
    body
}

#[test]
fn malformed_bodies_are_refused_and_change_nothing() {
    let server = Server::start();
    let op = operator(&server);
    let movement = |body: Value| Request::post_json("/v1/movements", &body).token(&op).keyed();
    let entity = |body: Value| Request::post_json("/v1/entities", &body).token(&op).keyed();
    let client = json!({"type": "client", "id": "c-new", "category": "retail", "segregation": "omnibus"});
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let cases = vec![
        ("not JSON", Request::post("/v1/movements", "{\"type\":\"deposit\",").token(&op).keyed(), 400, "invalid_json"),
        ("empty body", Request::post("/v1/movements", "").token(&op).keyed(), 400, "invalid_json"),
        ("not UTF-8", Request::post("/v1/movements", b"{\"type\":\"dep\xffosit\"}".to_vec()).token(&op).keyed(), 400, "invalid_json"),
        ("nested 10,000 deep", Request::post("/v1/movements", deep).token(&op).keyed(), 400, "invalid_json"),
        ("an array, not an object", movement(json!([deposit("5")])), 400, "invalid_json"),
        ("a string, not an object", movement(json!("deposit")), 400, "invalid_json"),
        ("an unknown field", movement(with(deposit("5"), "colour", json!("red"))), 422, "invalid_command"),
        ("an unknown type", movement(with(deposit("5"), "type", json!("teleport"))), 422, "invalid_command"),
        ("no type", movement(json!({"client": C1, "wallet": OMNIBUS_WALLET, "asset": ETH, "amount": "5"})), 422, "invalid_command"),
        ("a missing field", movement(json!({"type": "deposit", "client": C1, "asset": ETH, "amount": "5"})), 422, "invalid_command"),
        ("client of the wrong type", movement(with(deposit("5"), "client", json!(5))), 422, "invalid_command"),
        ("amount of the wrong type", movement(with(deposit("5"), "amount", json!(true))), 422, "invalid_command"),
        ("effective_at of the wrong type", movement(with(deposit("5"), "effective_at", json!(1_767_225_600))), 422, "invalid_command"),
        ("effective_at without offset", movement(with(deposit("5"), "effective_at", json!("2026-03-02T09:15:00"))), 422, "invalid_command"),
        ("a bad client id", movement(with(deposit("5"), "client", json!("c 1"))), 422, "invalid_command"),
        ("a bad asset id", movement(with(deposit("5"), "asset", json!("ether"))), 422, "invalid_command"),
        ("an object over 64 KiB", movement(with(deposit("5"), "instruction", json!("i".repeat(70_000)))), 422, "invalid_command"),
        ("actor in a movement", movement(with(deposit("5"), "actor", json!("ops:mallory"))), 422, "actor_not_allowed"),
        ("actor in a registration", entity(with(client.clone(), "actor", json!("ops:mallory"))), 422, "actor_not_allowed"),
        ("a registration sent as a movement", movement(client.clone()), 422, "wrong_route"),
        ("a movement sent as a registration", entity(deposit("5")), 422, "wrong_route"),
        ("an unknown field in a registration", entity(with(client.clone(), "colour", json!("red"))), 422, "invalid_command"),
        ("an unknown type of registration", entity(with(client.clone(), "type", json!("teleport"))), 422, "invalid_command"),
        (
            "a registration the register refuses",
            entity(json!({"type": "client", "id": C1, "category": "professional", "segregation": "omnibus"})),
            409,
            "entity_conflict",
        ),
        ("an unknown client", movement(with(deposit("5"), "client", json!("nobody"))), 422, "unknown_client"),
        ("an unregistered asset", movement(with(deposit("5"), "asset", json!("eip155:1/slip44:999"))), 422, "unknown_asset"),
        ("a correction of nothing", movement(json!({"type": "correction", "corrects": "no-such-movement"})), 422, "unknown_movement"),
    ];
    all_refused(server, cases);
}

#[test]
fn bad_amounts_are_refused_and_change_nothing() {
    let server = Server::start();
    let op = operator(&server);
    let movement = |amount: Value| Request::post_json("/v1/movements", &with(deposit("5"), "amount", amount)).token(&op).keyed();
    let cases = vec![
        ("a negative amount", movement(json!("-5")), 422, "invalid_command"),
        ("a negative JSON number", movement(json!(-5)), 422, "invalid_command"),
        ("a fractional amount", movement(json!("1.5")), 422, "invalid_command"),
        ("a fractional JSON number", movement(json!(1.5)), 422, "invalid_command"),
        ("a whole JSON float", movement(json!(1.0)), 422, "invalid_command"),
        ("an exponent", movement(json!("1e18")), 422, "invalid_command"),
        ("a separator", movement(json!("1,000")), 422, "invalid_command"),
        ("an empty amount", movement(json!("")), 422, "invalid_command"),
        ("2^128, beyond u128", movement(json!("340282366920938463463374607431768211456")), 422, "invalid_command"),
        ("far beyond u128", movement(json!("9".repeat(200))), 422, "invalid_command"),
        (
            "a JSON number beyond u64",
            Request::post(
                "/v1/movements",
                format!(
                    r#"{{"type":"deposit","client":"{C1}","wallet":"{OMNIBUS_WALLET}","asset":"{ETH}","amount":18446744073709551616}}"#
                ),
            )
            .token(&op)
            .keyed(),
            422,
            "invalid_command",
        ),
        ("zero", movement(json!("0")), 422, "amount_zero"),
        (
            "a withdrawal beyond the position",
            Request::post_json(
                "/v1/movements",
                &json!({"type": "withdrawal", "client": C1, "wallet": OMNIBUS_WALLET, "asset": USDC, "amount": "1"}),
            )
            .token(&op)
            .keyed(),
            422,
            "position_would_go_negative",
        ),
    ];
    all_refused(server, cases);
}

/// A body of exactly `bytes` bytes: a JSON array of movements padded with spaces.
fn body_of(bytes: usize) -> Vec<u8> {
    let mut item = deposit("5");
    item["key"] = json!("padded");
    let mut body = json!([item]).to_string().into_bytes();
    body.resize(bytes, b' ');
    body
}

#[test]
fn oversized_bodies_and_batches_are_refused_and_change_nothing() {
    let server = Server::start();
    let op = operator(&server);
    let batch_over: Vec<Value> = (0..=BATCH_MAX).map(|n| with(deposit("5"), "key", json!(format!("over-{n}")))).collect();
    assert_eq!(batch_over.len(), 8191);
    let batch_over = Request::post_json("/v1/movements/batch", &Value::Array(batch_over)).token(&op).keyed();
    assert!(batch_over.body.as_ref().unwrap().len() < BATCH_BODY_BYTES_MAX, "the batch is refused for its count, not its size");
    let cases = vec![
        (
            "a batch over BATCH_BODY_BYTES_MAX",
            Request::post("/v1/movements/batch", body_of(BATCH_BODY_BYTES_MAX + 1)).token(&op).keyed(),
            413,
            "body_too_large",
        ),
        (
            "a movement over BODY_BYTES_MAX",
            Request::post("/v1/movements", body_of(BODY_BYTES_MAX + 1)).token(&op).keyed(),
            413,
            "body_too_large",
        ),
        (
            "a registration over BODY_BYTES_MAX",
            Request::post("/v1/entities", body_of(BODY_BYTES_MAX + 1)).token(&op).keyed(),
            413,
            "body_too_large",
        ),
        ("a batch of 8191", batch_over, 422, "batch_size"),
        ("an empty batch", Request::post_json("/v1/movements/batch", &json!([])).token(&op).keyed(), 422, "batch_size"),
    ];
    all_refused(server, cases);

    // Each limit itself is accepted: the limits are exact.
    let server = Server::start();
    let response = Request::post("/v1/movements/batch", body_of(BATCH_BODY_BYTES_MAX)).token(&operator(&server)).keyed().send(&server);
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.body["results"][0]["status"], json!("accepted"), "{response:?}");
    let mut single = deposit("5").to_string().into_bytes();
    single.resize(BODY_BYTES_MAX, b' ');
    let response = Request::post("/v1/movements", single).token(&operator(&server)).keyed().send(&server);
    assert_eq!(response.status, 201, "{response:?}");
}

#[test]
fn a_batch_with_one_bad_item_changes_nothing() {
    let server = Server::start();
    let op = operator(&server);
    let good = |n: usize| with(deposit("5"), "key", json!(format!("good-{n}")));
    let batch_with = |bad: Value| {
        let items = vec![good(0), good(1), bad, good(3)];
        Request::post_json("/v1/movements/batch", &Value::Array(items)).token(&op).keyed()
    };
    let cases = vec![
        ("a negative amount", batch_with(with(good(2), "amount", json!("-5"))), 422, "invalid_command"),
        ("a fractional amount", batch_with(with(good(2), "amount", json!("0.5"))), 422, "invalid_command"),
        ("an unknown field", batch_with(with(good(2), "colour", json!("red"))), 422, "invalid_command"),
        ("no key", batch_with(deposit("5")), 422, "invalid_command"),
        ("an actor", batch_with(with(good(2), "actor", json!("ops:mallory"))), 422, "actor_not_allowed"),
        (
            "a registration",
            batch_with(json!({"type": "client", "id": "c9", "category": "retail", "segregation": "omnibus"})),
            422,
            "wrong_route",
        ),
        ("an unknown type", batch_with(with(good(2), "type", json!("teleport"))), 422, "invalid_command"),
        ("a correction", batch_with(json!({"type": "correction", "key": "corr-1", "corrects": "dep-1"})), 422, "correction_in_batch"),
        ("not an object", batch_with(json!(42)), 400, "invalid_json"),
        ("an object, not an array", Request::post_json("/v1/movements/batch", &good(0)).token(&op).keyed(), 400, "invalid_json"),
    ];
    // The message names the bad item.
    let response = cases[0].1.send(&server);
    assert!(response.body["error"]["message"].as_str().unwrap_or_default().starts_with("item 2:"), "{response:?}");
    all_refused(server, cases);
}

/// A long batch names its first bad item by its index in the whole batch, wherever it is, and
/// records nothing.
#[test]
fn a_long_batch_names_its_first_bad_item_in_either_half_and_changes_nothing() {
    let server = Server::start();
    let op = operator(&server);
    let items = |bad: &[usize]| {
        let items: Vec<Value> = (0..3000)
            .map(|n| {
                let item = with(deposit("5"), "key", json!(format!("long-{n}")));
                if bad.contains(&n) { with(item, "amount", json!("-5")) } else { item }
            })
            .collect();
        Request::post_json("/v1/movements/batch", &Value::Array(items)).token(&op).keyed()
    };
    for (bad, named) in
        [(vec![2999], "item 2999:"), (vec![1600, 2100], "item 1600:"), (vec![7, 2500], "item 7:"), (vec![1499], "item 1499:")]
    {
        let response = items(&bad).send(&server);
        assert_eq!(response.status, 422, "{bad:?}: {response:?}");
        let message = response.body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.starts_with(named), "{bad:?}: {message}");
    }
    all_refused(server, vec![("a bad item in the second half", items(&[2000]), 422, "invalid_command")]);
}

#[test]
fn bad_idempotency_keys_are_refused_and_change_nothing() {
    let server = Server::start();
    let op = operator(&server);
    let body = deposit("5");
    let entity = json!({"type": "client", "id": "c-new", "category": "retail", "segregation": "omnibus"});
    let batch = json!([with(deposit("5"), "key", json!("batch-key"))]);
    let cases = vec![
        ("no key, movement", Request::post_json("/v1/movements", &body).token(&op), 400, "idempotency_key_missing"),
        ("no key, batch", Request::post_json("/v1/movements/batch", &batch).token(&op), 400, "idempotency_key_missing"),
        ("no key, registration", Request::post_json("/v1/entities", &entity).token(&op), 400, "idempotency_key_missing"),
        (
            "a space",
            Request::post_json("/v1/movements", &body).token(&op).header("Idempotency-Key", "dep 1"),
            400,
            "invalid_idempotency_key",
        ),
        ("empty", Request::post_json("/v1/movements", &body).token(&op).header("Idempotency-Key", ""), 400, "invalid_idempotency_key"),
        (
            "129 characters",
            Request::post_json("/v1/movements", &body).token(&op).header("Idempotency-Key", &"k".repeat(129)),
            400,
            "invalid_idempotency_key",
        ),
        (
            "not ASCII",
            Request::post_json("/v1/movements", &body).token(&op).header("Idempotency-Key", "dép-1"),
            400,
            "invalid_idempotency_key",
        ),
        (
            "malformed, batch",
            Request::post_json("/v1/movements/batch", &batch).token(&op).header("Idempotency-Key", "a b"),
            400,
            "invalid_idempotency_key",
        ),
        (
            "malformed, registration",
            Request::post_json("/v1/entities", &entity).token(&op).header("Idempotency-Key", "a b"),
            400,
            "invalid_idempotency_key",
        ),
        (
            "a body key differing from the header",
            Request::post_json("/v1/movements", &with(deposit("5"), "key", json!("dep-other")))
                .token(&op)
                .header("Idempotency-Key", "dep-this"),
            422,
            "idempotency_key_mismatch",
        ),
        (
            "a body key of another type",
            Request::post_json("/v1/movements", &with(deposit("5"), "key", json!(7))).token(&op).header("Idempotency-Key", "7"),
            422,
            "idempotency_key_mismatch",
        ),
        (
            "a recorded key with another movement",
            Request::post_json("/v1/movements", &deposit("6")).token(&op).header("Idempotency-Key", "dep-1"),
            409,
            "idempotency_conflict",
        ),
    ];
    all_refused(server, cases);
}

#[test]
fn a_retried_write_is_recorded_once() {
    let server = Server::start();
    let op = operator(&server);
    let first = Request::post_json("/v1/movements", &deposit("7")).token(&op).header("Idempotency-Key", "dep-retry");
    let response = first.send(&server);
    assert_eq!((response.status, &response.body["status"]), (201, &json!("accepted")), "{response:?}");
    let seq = response.body["seq"].clone();
    let head = server.journal_head();
    // The same movement again, with the key in the body this time: the original answer.
    let again = Request::post_json("/v1/movements", &with(deposit("7"), "key", json!("dep-retry")))
        .token(&op)
        .header("Idempotency-Key", "dep-retry");
    let response = again.send(&server);
    assert_eq!((response.status, &response.body["status"], &response.body["seq"]), (200, &json!("already_exists"), &seq), "{response:?}");
    assert_eq!(server.journal_head(), head);
}

#[test]
fn bad_tokens_are_refused_and_change_nothing() {
    let server = Server::start();
    let tokens = server.tokens.clone();
    let write = || Request::post_json("/v1/movements", &deposit("5")).keyed();
    let read = || Request::get("/v1/summary");
    let valid = tokens.of(Role::Operator);
    let mut cases = Vec::new();
    for (name, request) in [("a write", write()), ("a read", read())] {
        cases.extend([
            (format!("{name}: no token"), request.clone(), 401, "unauthenticated"),
            (format!("{name}: an expired token"), request.clone().token(&tokens.expired), 401, "unauthenticated"),
            (format!("{name}: a revoked token"), request.clone().token(&tokens.revoked), 401, "unauthenticated"),
            (format!("{name}: a wrong secret"), request.clone().token(&tokens.wrong_secret), 401, "unauthenticated"),
            (format!("{name}: an unknown token"), request.clone().token("rf_tnobody_0123456789abcdef"), 401, "unauthenticated"),
            (format!("{name}: no rf_ prefix"), request.clone().token(valid.trim_start_matches("rf_")), 401, "unauthenticated"),
            (format!("{name}: no secret"), request.clone().token("rf_t-operator_"), 401, "unauthenticated"),
            (format!("{name}: no separator"), request.clone().token("rf_t-operator"), 401, "unauthenticated"),
            (format!("{name}: Basic"), request.clone().header("Authorization", "Basic dXNlcjpwYXNz"), 401, "unauthenticated"),
            (format!("{name}: no scheme"), request.clone().header("Authorization", valid), 401, "unauthenticated"),
            (format!("{name}: scheme only"), request.clone().header("Authorization", "Bearer"), 401, "unauthenticated"),
            (format!("{name}: empty token"), request.clone().header("Authorization", "Bearer "), 401, "unauthenticated"),
            (format!("{name}: empty header"), request.clone().header("Authorization", ""), 401, "unauthenticated"),
            (format!("{name}: not ASCII"), request.clone().header("Authorization", "Bearer rf_tö_secret"), 401, "unauthenticated"),
        ]);
    }
    let cases: Vec<(&str, Request, u16, &str)> =
        cases.iter().map(|(name, request, status, code)| (name.as_str(), request.clone(), *status, *code)).collect();
    all_refused(server, cases);
}

#[test]
fn the_bearer_scheme_is_case_insensitive() {
    // RFC 9110 §11.1: the authentication scheme is case-insensitive.
    let server = Server::start();
    let token = server.tokens.of(Role::Auditor).to_owned();
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let response = Request::get("/v1/summary").header("Authorization", &format!("{scheme} {token}")).send(&server);
        assert_eq!(response.status, 200, "{scheme}: {response:?}");
    }
}

#[test]
fn unknown_routes_and_wrong_methods_are_refused_and_change_nothing() {
    let server = Server::start();
    let op = operator(&server);
    let auditor = server.tokens.of(Role::Auditor).to_owned();
    let cases = vec![
        ("an unknown route", Request::get("/v1/nothing").token(&auditor), 404, "not_found"),
        ("an unknown route, no token", Request::get("/nothing"), 404, "not_found"),
        ("an unknown version", Request::post_json("/v2/movements", &deposit("5")).token(&op).keyed(), 404, "not_found"),
        ("a trailing slash", Request::get("/v1/summary/").token(&auditor), 404, "not_found"),
        ("an unknown kind of entity", Request::get("/v1/entities/widgets").token(&auditor), 404, "not_found"),
        ("GET on a write", Request::get("/v1/movements").token(&op), 405, "method_not_allowed"),
        ("DELETE on a write", Request::new("DELETE", "/v1/movements").token(&op), 405, "method_not_allowed"),
        ("PUT on a write", Request::new("PUT", "/v1/entities").token(&op).keyed(), 405, "method_not_allowed"),
        ("POST on a read", Request::post_json("/v1/balances", &json!({"client": C1})).token(&op).keyed(), 405, "method_not_allowed"),
        ("POST on an open route", Request::post("/healthz", "{}"), 405, "method_not_allowed"),
        ("PATCH on the journal", Request::new("PATCH", "/v1/journal/entries").token(&auditor), 405, "method_not_allowed"),
    ];
    all_refused(server, cases);
}

#[test]
fn bad_query_parameters_are_refused_and_change_nothing() {
    let server = Server::start();
    let auditor = server.tokens.of(Role::Auditor).to_owned();
    let get = |path: &str| Request::get(path).token(&auditor);
    let cases = vec![
        ("an unknown parameter, balances", get("/v1/balances?client=c1&colour=red"), 400, "invalid_query"),
        ("an unknown parameter, history", get("/v1/history?client=c1&page=2"), 400, "invalid_query"),
        ("an unknown parameter, entities", get("/v1/entities/clients?offset=2"), 400, "invalid_query"),
        ("an unknown parameter, entries", get("/v1/journal/entries?from=2026-01-01"), 400, "invalid_query"),
        ("limit 0, entities", get("/v1/entities/clients?limit=0"), 400, "invalid_query"),
        ("limit 5000, entities", get("/v1/entities/clients?limit=5000"), 400, "invalid_query"),
        ("limit 0, history", get("/v1/history?client=c1&limit=0"), 400, "invalid_query"),
        ("limit 5000, history", get("/v1/history?client=c1&limit=5000"), 400, "invalid_query"),
        ("limit 0, entries", get("/v1/journal/entries?limit=0"), 400, "invalid_query"),
        ("limit 5000, entries", get("/v1/journal/entries?limit=5000"), 400, "invalid_query"),
        ("a negative limit", get("/v1/history?client=c1&limit=-1"), 400, "invalid_query"),
        ("a limit that is not a number", get("/v1/entities/clients?limit=ten"), 400, "invalid_query"),
        ("a limit beyond u32", get("/v1/journal/entries?limit=4294967296"), 400, "invalid_query"),
        ("a negative after", get("/v1/journal/entries?after=-1"), 400, "invalid_query"),
        ("an after that is not a number", get("/v1/history?client=c1&after=last"), 400, "invalid_query"),
        ("a bad date", get("/v1/balances?client=c1&at=yesterday"), 400, "invalid_query"),
        ("a date that does not exist", get("/v1/balances?client=c1&at=2026-02-30"), 400, "invalid_query"),
        ("a month 13", get("/v1/history?client=c1&from=2026-13-01"), 400, "invalid_query"),
        ("a time without offset", get("/v1/history?client=c1&to=2026-03-02T09:15:00"), 400, "invalid_query"),
        ("from after to", get("/v1/history?client=c1&from=2026-03-01&to=2026-02-01"), 400, "invalid_query"),
        ("two subjects", get("/v1/balances?client=c1&wallet=omnibus-hot"), 400, "invalid_query"),
        ("three subjects", get("/v1/history?client=c1&wallet=omnibus-hot&own=capital"), 400, "invalid_query"),
        ("no subject, balances", get("/v1/balances"), 400, "invalid_query"),
        ("no subject, history", get("/v1/history?limit=5"), 400, "invalid_query"),
        ("a subject twice", get("/v1/balances?client=c1&client=c2"), 400, "invalid_query"),
        ("a bad client id", get("/v1/balances?client=c%201"), 400, "invalid_query"),
        ("a bad wallet id", get("/v1/history?wallet=%2F%2F%20"), 400, "invalid_query"),
        ("an unknown own account", get("/v1/balances?own=savings"), 400, "invalid_query"),
        ("a bad asset id", get("/v1/balances?client=c1&asset=ether"), 400, "invalid_query"),
        ("a history parameter on balances", get("/v1/balances?client=c1&from=2026-01-01"), 400, "invalid_query"),
        ("limit on balances", get("/v1/balances?client=c1&limit=10"), 400, "invalid_query"),
        ("a balances parameter on history", get("/v1/history?client=c1&at=2026-01-01"), 400, "invalid_query"),
        ("asset on history", get(&format!("/v1/history?client=c1&asset={ETH}")), 400, "invalid_query"),
        ("an unregistered client", get("/v1/balances?client=nobody"), 404, "not_found"),
        ("an unregistered wallet", get("/v1/history?wallet=nowhere"), 404, "not_found"),
        ("an unregistered asset", get("/v1/balances?client=c1&asset=eip155:1/slip44:999"), 404, "not_found"),
    ];
    all_refused(server, cases);
}

#[test]
fn extreme_but_valid_queries_are_answered() {
    let server = Server::start();
    let auditor = server.tokens.of(Role::Auditor).to_owned();
    for path in [
        "/v1/balances?client=c1&at=0000-01-01",
        "/v1/balances?client=c1&at=9999-12-31T23:59:59.999999Z",
        "/v1/balances?wallet=omnibus-hot&at=2026-01-05T10:00:00%2B14:00",
        "/v1/history?client=c1&from=0000-01-01&to=9999-12-31",
        "/v1/history?own=capital&after=18446744073709551615&limit=1000",
        "/v1/journal/entries?after=4294967295&limit=1000",
        "/v1/entities/wallets?after=4294967295&limit=1",
    ] {
        let response = Request::get(path).token(&auditor).send(&server);
        assert_eq!(response.status, 200, "{path}: {response:?}");
    }
}

#[test]
fn an_unknown_type_is_reported_as_unknown_not_as_a_registration() {
    // It was once answered 422 `wrong_route`, "type \"teleport\" is a registration; send it
    // to /v1/entities": every type that was not a movement was taken for a registration.
    let server = Server::start();
    let response =
        Request::post_json("/v1/movements", &with(deposit("5"), "type", json!("teleport"))).token(&operator(&server)).keyed().send(&server);
    response.assert_error(422, "invalid_command");
    let message = response.body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("teleport") && !message.contains("/v1/entities"), "{message}");
}
