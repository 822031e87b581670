//! Who may call what. Every entry of `ROUTES` is called with each role's token and with none:
//! an allowed role gets a success, any other role exactly 403 `forbidden`, no token exactly
//! 401 `unauthenticated` (open routes excepted), and a refused write changes nothing. A client
//! token reads its own client only. The route × role table of docs/api.md and the OpenAPI
//! document are checked against `ROUTES`, so neither can drift from the code.
//!
//! Adding a route: add its entry to `ROUTES`, a valid request for it to [`sample`], its row to
//! the table in docs/api.md and its path to the OpenAPI document; these tests say which is
//! missing.

#![allow(clippy::unwrap_used, reason = "a fixture that fails should fail the test at once")]

mod common;

use std::collections::BTreeSet;

use common::{C1, C2, C3, ETH, OMNIBUS_WALLET, Response, Server, deposit, unique};
use ringfence_core::Role;
use ringfence_server::ROUTES;
use serde_json::{Value, json};

/// One request: its path (with the query) and, for a write, its JSON body.
#[derive(Debug)]
struct Sample {
    path: String,
    body: Option<Value>,
}

fn read(path: &str) -> Sample {
    Sample { path: path.to_owned(), body: None }
}

fn write(path: &str, body: Value) -> Sample {
    Sample { path: path.to_owned(), body: Some(body) }
}

/// A valid request for each route: path parameters filled with registered values, writes
/// with a fresh valid body (each call a new movement or entity). A route of `ROUTES` missing
/// here fails the test by name. `server` is there for a sample that needs something recorded
/// first (an instruction to approve, an exception to investigate): record it through `server`
/// and name it in the path. `caller` is who will send it (`None`: no token), for a sample that
/// is valid only from its own actor (a resolution is proposed by the investigator).
fn sample(server: &Server, method: &str, route: &str, caller: Option<Role>) -> Sample {
    let operator = server.tokens.of(Role::Operator);
    // The token that investigates: the caller's, when it may.
    let investigator = match caller {
        Some(role @ (Role::Operator | Role::Compliance)) => server.tokens.of(role),
        _ => operator,
    };
    match (method, route) {
        ("GET", "/v1/recon/runs") => read("/v1/recon/runs?limit=5"),
        ("POST", "/v1/recon/runs") => write(route, json!({"at": "2026-02-01T00:00:00Z"})),
        ("GET", "/v1/recon/runs/{id}") => read(&format!("/v1/recon/runs/{}?format=csv", server.fixture_run)),
        ("GET", "/v1/exceptions") => read("/v1/exceptions?state=open&severity=critical&overdue=false&limit=5"),
        ("GET", "/v1/exceptions/{id}") => read("/v1/exceptions/1"),
        ("POST", "/v1/exceptions/{id}/investigate") => write(&format!("/v1/exceptions/{}/investigate", server.open_exception()), json!({})),
        ("POST", "/v1/exceptions/{id}/resolve") => write(
            &format!("/v1/exceptions/{}/resolve", server.investigated_exception(investigator)),
            json!({"reason": "the node was behind", "explanation": "a later block matched"}),
        ),
        ("POST", "/v1/exceptions/{id}/approve") => {
            write(&format!("/v1/exceptions/{}/approve", server.proposed_exception(operator)), json!({}))
        }
        ("POST", "/v1/exceptions/{id}/reject") => write(
            &format!("/v1/exceptions/{}/reject", server.proposed_exception(operator)),
            json!({"reason": "the explanation does not fit the amounts"}),
        ),
        ("GET", "/v1/policy/exceptions") => read(route),
        ("PUT", "/v1/policy/exceptions") => write(route, json!({"resolution_hours": 48, "confirmation_hours": 12})),
        ("GET", "/v1/pending") => read("/v1/pending?state=open&limit=5"),
        ("GET", "/v1/pending/{id}") => read(&format!("/v1/pending/{}", pending_withdrawal(server))),
        ("POST", "/v1/pending/{id}/approve") => write(&format!("/v1/pending/{}/approve", pending_withdrawal(server)), json!({})),
        ("POST", "/v1/pending/{id}/reject") => {
            write(&format!("/v1/pending/{}/reject", pending_withdrawal(server)), json!({"reason": "not instructed by the client"}))
        }
        ("GET", "/v1/policy/approvals") => read(route),
        ("PUT", "/v1/policy/approvals") => write(route, json!({"approvals": 1, "withdrawal_thresholds": {ETH: "10"}})),
        ("GET", "/healthz" | "/readyz" | "/metrics" | "/openapi.json" | "/v1/summary" | "/v1/journal/verify") => read(route),
        ("GET", "/v1/entities/{kind}") => read("/v1/entities/clients?limit=2"),
        ("GET", "/v1/balances") => read(&format!("/v1/balances?client={C1}&asset={ETH}")),
        ("GET", "/v1/history") => read(&format!("/v1/history?client={C1}&from=2026-01-01&limit=10")),
        ("GET", "/v1/journal/entries") => read("/v1/journal/entries?after=2&limit=5"),
        ("POST", "/v1/movements") => write(route, deposit("1000")),
        ("POST", "/v1/movements/batch") => {
            let mut first = deposit("1000");
            first["key"] = json!(unique("batch-item"));
            let mut second = deposit("2000");
            second["key"] = json!(unique("batch-item"));
            write(route, json!([first, second]))
        }
        // Compliance records no registrations: it asks for a safeguarding check (200 nothing_due).
        ("POST", "/v1/entities") if caller == Some(Role::Compliance) => write(route, json!({"type": "safeguarding_check"})),
        ("POST", "/v1/entities") => {
            write(route, json!({"type": "client", "id": unique("client"), "category": "retail", "segregation": "omnibus"}))
        }
        ("GET", "/v1/policy" | "/v1/policy/safeguarding") => read(route),
        ("PUT", "/v1/policy/safeguarding") => write(route, json!({"cold_floor": "0", "lapse_notice_days": 30})),
        ("GET", "/v1/prices") => read(&format!("/v1/prices?asset={ETH}&currency=EUR&limit=5")),
        ("GET", "/v1/valuation") => read(&format!("/v1/valuation?client={C1}&currency=EUR&max_price_age=24h")),
        ("GET", "/v1/statements") => read(&format!("/v1/statements?client={C1}&period=2026-Q1&format=csv")),
        ("GET", "/v1/insolvency/pack") => read("/v1/insolvency/pack?at=2026-06-30&file=shortfall.csv"),
        _ => panic!("add a sample request for {method} {route} to `sample` in crates/server/tests/roles.rs"),
    }
}

/// A new pending instruction (a withdrawal above the threshold, by the operator), with the
/// approval policy set first if it is not.
fn pending_withdrawal(server: &Server) -> u64 {
    let policy = json!({"approvals": 1, "withdrawal_thresholds": {ETH: "10"}});
    let set = server.call(
        "PUT",
        "/v1/policy/approvals",
        &[("Authorization", &format!("Bearer {}", server.tokens.of(Role::Compliance))), ("Idempotency-Key", &unique("policy"))],
        Some(policy.to_string().as_bytes()),
    );
    assert!((200..=202).contains(&set.status), "{}", set.body);
    let withdrawal = json!({"type": "withdrawal", "client": C1, "wallet": OMNIBUS_WALLET, "asset": ETH, "amount": "11"});
    let proposed = server.post("/v1/movements", Some(server.tokens.of(Role::Operator)), Some(&unique("pending")), &withdrawal);
    assert_eq!(proposed.status, 202, "{}", proposed.body);
    proposed.body["seq"].as_u64().unwrap()
}

/// Whether `path` (query left out) is an instance of the route template `route`.
fn instance_of(path: &str, route: &str) -> bool {
    let path = path.split('?').next().unwrap_or_default();
    let (segments, template): (Vec<&str>, Vec<&str>) = (path.split('/').collect(), route.split('/').collect());
    segments.len() == template.len()
        && segments
            .iter()
            .zip(&template)
            .all(|(segment, pattern)| (pattern.starts_with('{') && pattern.ends_with('}') && !segment.is_empty()) || segment == pattern)
}

fn send(server: &Server, method: &str, sample: &Sample, token: Option<&str>) -> Response {
    match &sample.body {
        None => {
            let authorization = token.map(|t| format!("Bearer {t}"));
            let headers: Vec<(&str, &str)> = authorization.iter().map(|a| ("Authorization", a.as_str())).collect();
            server.call(method, &sample.path, &headers, None)
        }
        Some(body) => {
            let key = unique("roles");
            let body = body.to_string();
            let authorization = token.map(|t| format!("Bearer {t}"));
            let mut headers: Vec<(&str, &str)> = vec![("Content-Type", "application/json"), ("Idempotency-Key", &key)];
            headers.extend(authorization.iter().map(|a| ("Authorization", a.as_str())));
            server.call(method, &sample.path, &headers, Some(body.as_bytes()))
        }
    }
}

/// What is wrong with an error response, if anything: not this status and code, or no
/// human message.
fn error_mismatch(response: &Response, status: u16, code: &str) -> Option<String> {
    let message = response.body["error"]["message"].as_str().unwrap_or_default();
    if response.status != status || response.error_code() != Some(code) || message.trim().is_empty() {
        return Some(format!("expected {status} {code} with a message, got {} {}", response.status, response.body));
    }
    if status == 401 && response.header("www-authenticate") != Some("Bearer") {
        return Some("a 401 names its scheme: WWW-Authenticate: Bearer".into());
    }
    None
}

#[test]
fn every_route_admits_exactly_its_roles() {
    let server = Server::start();
    let mut failures = Vec::new();
    for &(method, route, allowed) in ROUTES {
        let probe = sample(&server, method, route, None);
        assert!(instance_of(&probe.path, route), "the sample {} is not a request for {route}", probe.path);
        let write = probe.body.is_some();
        let callers = Role::ALL.iter().copied().map(Some).chain([None]);
        for role in callers {
            let token = role.map(|role| server.tokens.of(role).to_owned());
            let who = role.map_or("no token", Role::code);
            // The sample may record something first (an instruction to approve): before `before`.
            let request = sample(&server, method, route, role);
            let before = write.then(|| server.journal_head());
            let response = send(&server, method, &request, token.as_deref());
            let admitted = allowed.is_empty() || role.is_some_and(|role| allowed.contains(&role));
            // A batch answers 200 even when the register refuses its items: those must pass too.
            let refused_items = response.body["results"].as_array().is_some_and(|items| items.iter().any(|i| i["status"] != "accepted"));
            let problem = if admitted {
                (!(200..300).contains(&response.status) || refused_items)
                    .then(|| format!("expected a success (the sample is valid), got {} {}", response.status, response.body))
            } else if role.is_some() {
                error_mismatch(&response, 403, "forbidden")
            } else {
                error_mismatch(&response, 401, "unauthenticated")
            };
            if let Some(problem) = problem {
                failures.push(format!("{method} {route} as {who}: {problem}"));
            }
            if let Some(before) = before
                && !admitted
                && server.journal_head() != before
            {
                failures.push(format!("{method} {route} as {who}: a refused write changed the journal"));
            }
        }
    }
    assert!(failures.is_empty(), "{} failure(s):\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn every_route_has_a_sample_for_its_own_path() {
    let server = Server::start();
    for &(method, route, _) in ROUTES {
        let probe = sample(&server, method, route, None);
        assert!(instance_of(&probe.path, route), "the sample {} is not a request for {route}", probe.path);
        assert_eq!(probe.body.is_some(), method != "GET", "{method} {route}: a write's sample has a body, a read's has none");
    }
}

#[test]
fn a_client_token_reads_its_own_client_only() {
    let server = Server::start();
    let c1 = server.tokens.of(Role::Client).to_owned();
    let c2 = server.tokens.client_c2.clone();
    let refused = [
        (&c1, format!("/v1/balances?client={C2}")),
        (&c1, format!("/v1/history?client={C2}")),
        (&c1, format!("/v1/balances?client={C3}&asset={ETH}")),
        (&c1, format!("/v1/balances?wallet={OMNIBUS_WALLET}")),
        (&c1, format!("/v1/history?wallet={OMNIBUS_WALLET}")),
        (&c1, "/v1/balances?own=capital".to_owned()),
        (&c1, "/v1/history?own=fee_income".to_owned()),
        // An unregistered client is refused the same way, so a client cannot probe for ids.
        (&c1, "/v1/balances?client=nobody".to_owned()),
        (&c2, format!("/v1/balances?client={C1}")),
        (&c2, format!("/v1/history?client={C1}")),
        (&c1, format!("/v1/valuation?client={C2}")),
        (&c1, format!("/v1/valuation?wallet={OMNIBUS_WALLET}")),
        (&c2, format!("/v1/valuation?client={C1}&at=2026-01-31")),
        (&c1, format!("/v1/statements?client={C2}&period=2026-Q1")),
        (&c2, format!("/v1/statements?client={C1}&from=2026-01-01&to=2026-01-31&format=pdf")),
    ];
    for (token, path) in &refused {
        let response = server.get(path, Some(token));
        response.assert_error(403, "forbidden");
    }
    let own = server.get(&format!("/v1/balances?client={C1}"), Some(&c1));
    assert_eq!(own.status, 200, "{own:?}");
    assert_eq!(own.body["balances"][0]["amount"], json!("2500000000000000000"), "{own:?}");
    let own = server.get(&format!("/v1/history?client={C2}"), Some(&c2));
    assert_eq!(own.status, 200, "{own:?}");
    assert_eq!(own.body["movements"].as_array().map(Vec::len), Some(1), "{own:?}");
}

#[test]
fn a_client_sees_its_own_postings_only_never_another_clients_the_firms_wallets_or_staff_names() {
    let server = Server::start();
    let operator = server.tokens.of(Role::Operator).to_owned();
    let c1 = server.tokens.of(Role::Client).to_owned();
    let c2 = server.tokens.client_c2.clone();
    // A transfer between two clients: a movement they share.
    let transfer = json!({"type": "transfer", "from_client": C1, "to_client": C2, "asset": ETH, "amount": "700"});
    let recorded = server.post("/v1/movements", Some(&operator), Some("privacy-transfer-1"), &transfer);
    assert_eq!(recorded.status, 201, "{recorded:?}");

    for (token, me, other) in [(&c1, C1, C2), (&c2, C2, C1)] {
        let page = server.get(&format!("/v1/history?client={me}"), Some(token));
        assert_eq!(page.status, 200, "{page:?}");
        let text = page.body.to_string();
        for hidden in [
            format!("position:{other}"),
            "holding:".to_owned(),
            OMNIBUS_WALLET.to_owned(),
            "own:".to_owned(),
            "holder-of-".to_owned(),
            "test-setup".to_owned(),
        ] {
            assert!(!text.contains(&hidden), "{me}'s history shows {hidden:?}: {text}");
        }
        let movements = page.body["movements"].as_array().unwrap();
        let shared = movements.iter().find(|m| m["movement"]["key"] == "privacy-transfer-1").expect("the transfer");
        let postings = shared["movement"]["postings"].as_array().unwrap();
        assert_eq!(postings.len(), 1, "{shared}");
        assert_eq!(postings[0]["account"], format!("position:{me}"), "{shared}");
        assert_eq!((&shared["actor"], &shared["instruction"]), (&Value::Null, &Value::Null), "{shared}");
        let sign = if me == C1 { "-" } else { "" };
        assert_eq!(shared["changes"][0]["amount"], format!("{sign}700"), "{shared}");
    }
    // Staff see the whole movement, with who recorded it.
    let staff = server.get(&format!("/v1/history?client={C1}"), Some(server.tokens.of(Role::Auditor)));
    let text = staff.body.to_string();
    assert!(text.contains(&format!("position:{C2}")) && text.contains("holding:") && text.contains("holder-of-"), "{text}");
}

/// The route × role table of docs/api.md, as (method, route, roles).
fn documented_routes() -> Vec<(String, String, BTreeSet<Role>)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/api.md");
    let text = std::fs::read_to_string(path).unwrap();
    let cells = |line: &str| -> Vec<String> {
        line.trim().trim_matches('|').split('|').map(|cell| cell.trim().trim_matches('`').trim().to_owned()).collect()
    };
    let mut lines = text.lines().skip_while(|line| !line.replace(' ', "").starts_with("|Method|Route|Token|"));
    let header = cells(lines.next().expect("docs/api.md has no table starting `| Method | Route | Token |`"));
    let roles: Vec<Role> =
        header[3..].iter().map(|code| Role::from_code(code).unwrap_or_else(|| panic!("{code:?} is not a role"))).collect();
    assert_eq!(roles.iter().copied().collect::<BTreeSet<_>>(), Role::ALL.iter().copied().collect(), "the table has a column per role");
    let separator = lines.next().unwrap_or_default();
    assert!(separator.trim_start().starts_with("|-") || separator.trim_start().starts_with("|:"), "a table separator: {separator}");
    let mut rows = Vec::new();
    for line in lines.take_while(|line| line.trim_start().starts_with('|')) {
        let row = cells(line);
        assert_eq!(row.len(), header.len(), "every row has every column: {line}");
        let marked: BTreeSet<Role> = roles.iter().zip(&row[3..]).filter(|(_, cell)| !cell.is_empty()).map(|(role, _)| *role).collect();
        for cell in row[3..].iter().filter(|cell| !cell.is_empty()) {
            assert_eq!(cell, "✓", "a role cell is ✓ or empty: {line}");
        }
        let allowed = match row[2].as_str() {
            "none" => {
                assert_eq!(marked.len(), roles.len(), "an open route (token none) is marked ✓ for every role: {line}");
                BTreeSet::new()
            }
            "required" => marked,
            other => panic!("the Token column says none or required, not {other:?}: {line}"),
        };
        rows.push((row[0].clone(), row[1].clone(), allowed));
    }
    rows
}

fn table_row(method: &str, route: &str, allowed: &[Role]) -> String {
    let token = if allowed.is_empty() { "none" } else { "required" };
    let marks: Vec<&str> = Role::ALL.iter().map(|role| if allowed.is_empty() || allowed.contains(role) { "✓" } else { "" }).collect();
    format!("| {method} | `{route}` | {token} | {} |", marks.join(" | "))
}

#[test]
fn the_route_table_in_docs_api_md_is_routes() {
    let documented = documented_routes();
    let expected: Vec<(String, String, BTreeSet<Role>)> =
        ROUTES.iter().map(|(method, route, roles)| ((*method).to_owned(), (*route).to_owned(), roles.iter().copied().collect())).collect();
    if documented != expected {
        let table: Vec<String> = ROUTES.iter().map(|(method, route, roles)| table_row(method, route, roles)).collect();
        panic!(
            "the route × role table in docs/api.md differs from ROUTES (crates/server/src/routes.rs); its rows should be, in this order:\n{}",
            table.join("\n")
        );
    }
}

#[test]
fn the_openapi_document_lists_every_route_with_its_security() {
    let server = Server::start();
    let response = server.get("/openapi.json", None);
    assert_eq!(response.status, 200, "{response:?}");
    let paths = response.body["paths"].as_object().expect("paths");
    let mut documented = BTreeSet::new();
    for (path, operations) in paths {
        for (method, operation) in operations.as_object().expect("operations") {
            let method = method.to_ascii_uppercase();
            let Some((_, _, roles)) = ROUTES.iter().find(|(m, r, _)| *m == method && r == path) else {
                panic!("/openapi.json documents {method} {path}, which is not in ROUTES");
            };
            // An open route says it needs no token (`security: [{}]`), the others inherit bearer.
            let open = operation["security"] == json!([{}]);
            assert_eq!(open, roles.is_empty(), "{method} {path}: the OpenAPI security says open = {open}");
            documented.insert((method, path.clone()));
        }
    }
    for &(method, route, _) in ROUTES {
        if route != "/openapi.json" {
            assert!(documented.contains(&(method.to_owned(), route.to_owned())), "{method} {route} is missing from /openapi.json");
        }
    }
}
