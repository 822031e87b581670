//! Reconciliation runs and exceptions through the API: a run made by `POST /v1/recon/runs`
//! is recorded and shown at once (no node given: its chain is "source unavailable", never
//! zero); an exception goes open → investigating → proposed → resolved, the investigator
//! proposes and someone else approves or rejects; retries are recognised; bad bodies and
//! unknown ids are refused and change nothing; the server escalates overdue exceptions
//! itself; the exception policy waits for four-eyes approval once an approval policy is in
//! force; what another process records shows while reads keep coming.

#![allow(clippy::unwrap_used, reason = "a fixture that fails should fail the test at once")]

mod common;

use std::time::{Duration, Instant};

use common::{FIXTURE_EXCEPTIONS, Response, Server, unique};
use ringfence_core::{Action, Actor, Break, Command, ExceptionKind, InstructionId, Meta, ReconRun, Role, Severity, Status, Timestamp};
use ringfence_store::Store;
use ringfence_wire::clock;
use serde_json::{Value, json};

/// How long the server may take to show what another process recorded, or to escalate.
const CATCH_UP_WAIT_MAX: Duration = Duration::from_secs(10);
const HOUR_MICROS: i64 = 3_600_000_000;

/// Sends `body` (raw bytes) with `token` and, when given, an Idempotency-Key.
fn send(server: &Server, method: &str, path: &str, token: Option<&str>, key: Option<&str>, body: Option<&[u8]>) -> Response {
    let authorization = token.map(|t| format!("Bearer {t}"));
    let mut headers: Vec<(&str, &str)> = vec![("Content-Type", "application/json")];
    headers.extend(authorization.iter().map(|a| ("Authorization", a.as_str())));
    headers.extend(key.map(|k| ("Idempotency-Key", k)));
    server.call(method, path, &headers, body)
}

/// A write with a fresh Idempotency-Key.
fn write(server: &Server, method: &str, path: &str, token: &str, body: &Value) -> Response {
    send(server, method, path, Some(token), Some(&unique("oversight")), Some(body.to_string().as_bytes()))
}

fn post(server: &Server, path: &str, token: &str, body: &Value) -> Response {
    write(server, "POST", path, token, body)
}

fn get(server: &Server, path: &str) -> Response {
    let response = server.get(path, Some(server.tokens.of(Role::Auditor)));
    assert_eq!(response.status, 200, "GET {path}: {response:?}");
    response
}

fn exception(server: &Server, id: u64) -> Value {
    get(server, &format!("/v1/exceptions/{id}")).body
}

#[track_caller]
fn assert_status(response: &Response, status: u16, code: &str) {
    assert_eq!((response.status, response.body["status"].as_str()), (status, Some(code)), "{response:?}");
}

/// A run with one break, for a store beside the server (another process).
fn run_with_break(subject: &str, severity: Severity) -> Command {
    let found = Break { kind: ExceptionKind::UnmatchedOutflow, severity, subject: subject.to_owned(), detail: format!("{subject} moved") };
    let run = ReconRun {
        cut_off: clock::parse("2026-01-31").unwrap(),
        sources: Vec::new(),
        checked: 1,
        matched: 0,
        report_sha256: [1; 32],
        breaks: vec![found],
    };
    Command {
        meta: Meta {
            actor: Actor::parse("daily-run").unwrap(),
            instruction: InstructionId::parse("recon-run").unwrap(),
            effective_at: clock::now(),
        },
        action: Action::RecordReconRun(run),
    }
}

/// Polls `path` (as the auditor) until `done` holds of its body, for at most
/// [`CATCH_UP_WAIT_MAX`]; returns the last body.
fn poll(server: &Server, path: &str, done: impl Fn(&Response) -> bool) -> Response {
    let started = Instant::now();
    loop {
        let response = server.get(path, Some(server.tokens.of(Role::Auditor)));
        if done(&response) {
            return response;
        }
        assert!(started.elapsed() < CATCH_UP_WAIT_MAX, "GET {path} did not change in {CATCH_UP_WAIT_MAX:?}: {response:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_run_made_through_the_api_is_recorded_and_shown_at_once() {
    let server = Server::start();
    let operator = server.tokens.of(Role::Operator);
    let made = post(&server, "/v1/recon/runs", operator, &json!({"at": "2026-02-01T00:00:00Z"}));
    assert_eq!(made.status, 201, "{made:?}");
    let run = &made.body;
    let id = run["id"].as_u64().unwrap();
    assert!(id > server.fixture_run, "{run}");
    assert_eq!(run["ran_by"], json!("holder-of-t-operator"));
    assert_eq!(run["cut_off"], json!("2026-02-01T00:00:00Z"));
    // No node is given: the in-house wallets' chain is unavailable, a break of its own
    // (source_unavailable) that keeps the run from being clean.
    assert_eq!(run["sources"], json!([{"kind": "unavailable", "chain": "eip155:1", "reason": "no node is given for eip155:1"}]), "{run}");
    assert_eq!((run["clean"].as_bool(), run["breaks"].as_array().map(Vec::len)), (Some(false), Some(1)), "{run}");
    assert_eq!(run["breaks"][0]["kind"], json!("source_unavailable"), "{run}");
    assert!(run["report_sha256"].as_str().is_some_and(|hex| hex.len() == 64), "{run}");

    // Read right after the answer: the server shows what the run's own store handle recorded.
    let shown = get(&server, &format!("/v1/recon/runs/{id}"));
    assert_eq!(&shown.body, run);
    let entries = get(&server, &format!("/v1/journal/entries?after={}", id - 1));
    assert_eq!(
        (entries.body["items"][0]["type"].as_str(), entries.body["items"][0]["actor"].as_str()),
        (Some("recon_run"), Some("holder-of-t-operator"))
    );

    // An empty body, as `null`, is a run at now; compliance may make runs too.
    let now = send(&server, "POST", "/v1/recon/runs", Some(server.tokens.of(Role::Compliance)), Some(&unique("run")), None);
    assert_eq!(now.status, 201, "{now:?}");
    let null = send(&server, "POST", "/v1/recon/runs", Some(operator), Some(&unique("run")), Some(b"null"));
    assert_eq!(null.status, 201, "{null:?}");
    let latest = null.body["id"].as_u64().unwrap();

    // Listed oldest first, in pages.
    let page = get(&server, "/v1/recon/runs?limit=2");
    let ids: Vec<u64> = page.body["items"].as_array().unwrap().iter().map(|r| r["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, [server.fixture_run, id]);
    assert_eq!(page.body["items"][0]["break_count"], json!(FIXTURE_EXCEPTIONS));
    assert!(page.body["items"][0].get("breaks").is_none(), "a list gives the number of breaks, not the breaks");
    let next = get(&server, &format!("/v1/recon/runs?limit=2&after={}", page.body["next_after"].as_u64().unwrap()));
    let ids: Vec<u64> = next.body["items"].as_array().unwrap().iter().map(|r| r["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, [now.body["id"].as_u64().unwrap(), latest]);
    let last = get(&server, &format!("/v1/recon/runs?limit=2&after={latest}"));
    assert_eq!(last.body, json!({"items": [], "next_after": null}));
}

#[test]
fn a_run_is_given_as_csv_with_each_break_and_its_exception() {
    let server = Server::start();
    let csv = get(&server, &format!("/v1/recon/runs/{}?format=csv", server.fixture_run));
    assert!(csv.header("content-type").is_some_and(|t| t.starts_with("text/csv")), "{csv:?}");
    let text = csv.body.as_str().unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len() as u64, FIXTURE_EXCEPTIONS + 1, "{text}");
    assert_eq!(lines[0], "exception,kind,severity,subject,detail");
    assert_eq!(lines[1], r#"1,coverage_shortfall,critical,"fixture:1","fixture break 1, ""quoted"", with a comma""#);
    assert_eq!(lines[2], r#"2,wallet_difference,warning,"fixture:2","fixture break 2, ""quoted"", with a comma""#);

    let json = get(&server, &format!("/v1/recon/runs/{}?format=json", server.fixture_run));
    assert_eq!(
        json.body["breaks"][1],
        json!({
            "exception": 2, "kind": "wallet_difference", "severity": "warning", "subject": "fixture:2",
            "detail": "fixture break 2, \"quoted\", with a comma", "state": "open",
        })
    );
    assert_eq!(
        (json.body["checked"].as_u64(), json.body["matched"].as_u64(), json.body["clean"].as_bool()),
        (Some(100), Some(36), Some(false))
    );
    assert_eq!(json.body["report_sha256"], json!("07".repeat(32)));
}

#[test]
fn an_exception_is_investigated_proposed_and_approved_by_someone_else() {
    let server = Server::start();
    let (operator, compliance, approver) =
        (server.tokens.of(Role::Operator), server.tokens.of(Role::Compliance), server.tokens.of(Role::Approver));
    let both = server.tokens.operator_approver.as_str();

    let id = server.open_exception();
    let opened = exception(&server, id);
    assert_eq!(
        (opened["state"].as_str(), opened["severity"].as_str(), opened["kind"].as_str()),
        (Some("open"), Some("critical"), Some("coverage_shortfall"))
    );
    assert_eq!(
        (opened["run"].as_u64(), opened["overdue"].as_bool(), &opened["investigator"]),
        (Some(server.fixture_run), Some(false), &Value::Null)
    );
    let opened_at = clock::parse(opened["opened_at"].as_str().unwrap()).unwrap();
    let due_at = clock::parse(opened["due_at"].as_str().unwrap()).unwrap();
    assert_eq!(due_at.micros() - opened_at.micros(), 24 * HOUR_MICROS, "the default policy: due 24 hours after opening");

    // Nothing to review before a proposal.
    post(&server, &format!("/v1/exceptions/{id}/approve"), approver, &json!({})).assert_error(409, "exception_state");

    // The holder of both roles investigates; a retry is recognised.
    assert_status(&post(&server, &format!("/v1/exceptions/{id}/investigate"), both, &json!({})), 201, "accepted");
    assert_status(&post(&server, &format!("/v1/exceptions/{id}/investigate"), both, &json!({})), 200, "already_exists");
    assert_eq!(exception(&server, id)["investigator"], json!("holder-of-t-ops-approver"));

    // Only the investigator proposes the resolution.
    let resolution = json!({"reason": "the deposit was booked late", "movement": "dep-1"});
    post(&server, &format!("/v1/exceptions/{id}/resolve"), compliance, &resolution).assert_error(409, "exception_state");
    let proposed = post(&server, &format!("/v1/exceptions/{id}/resolve"), both, &resolution);
    assert_status(&proposed, 201, "accepted");
    let retried = post(&server, &format!("/v1/exceptions/{id}/resolve"), both, &resolution);
    assert_eq!((retried.status, &retried.body["status"], &retried.body["seq"]), (200, &json!("already_exists"), &proposed.body["seq"]));
    let shown = exception(&server, id);
    assert_eq!(shown["state"], json!("proposed"));
    assert_eq!(
        shown["proposal"],
        json!({"by": "holder-of-t-ops-approver", "seq": proposed.body["seq"], "reason": "the deposit was booked late", "movement": "dep-1", "explanation": null})
    );

    // The investigator cannot approve their own resolution, even holding the approver role.
    let head = server.journal_head();
    post(&server, &format!("/v1/exceptions/{id}/approve"), both, &json!({})).assert_error(409, "investigator_cannot_approve");
    assert_eq!(server.journal_head(), head, "a refused approval changes nothing");

    // Someone else approves: resolved. A retry is recognised.
    let approved = post(&server, &format!("/v1/exceptions/{id}/approve"), approver, &json!({}));
    assert_status(&approved, 201, "accepted");
    let again = post(&server, &format!("/v1/exceptions/{id}/approve"), approver, &json!({}));
    assert_eq!((again.status, &again.body["status"], &again.body["seq"]), (200, &json!("already_exists"), &approved.body["seq"]));
    let resolved = exception(&server, id);
    assert_eq!((resolved["state"].as_str(), resolved["resolved_by"].as_str()), (Some("resolved"), Some("holder-of-t-approver")));
    assert_eq!((&resolved["resolved_seq"], resolved["overdue"].as_bool()), (&approved.body["seq"], Some(false)));
    assert!(resolved["resolved_at"].as_str().is_some_and(|at| clock::parse(at).is_ok()), "{resolved}");
    // The run shows the exception's state now.
    let run = get(&server, &format!("/v1/recon/runs/{}", server.fixture_run));
    assert_eq!(run.body["breaks"][(id - 1) as usize]["state"], json!("resolved"));
    // Resolved is final.
    post(&server, &format!("/v1/exceptions/{id}/investigate"), operator, &json!({})).assert_error(409, "exception_state");
    server.journal_head();
}

#[test]
fn a_rejected_resolution_goes_back_to_the_investigator() {
    let server = Server::start();
    let (operator, compliance) = (server.tokens.of(Role::Operator), server.tokens.of(Role::Compliance));
    let id = server.proposed_exception(operator);
    let rejected = post(&server, &format!("/v1/exceptions/{id}/reject"), compliance, &json!({"reason": "the amounts do not match"}));
    assert_status(&rejected, 201, "accepted");
    let shown = exception(&server, id);
    assert_eq!((shown["state"].as_str(), &shown["proposal"]), (Some("investigating"), &Value::Null));
    assert_eq!(shown["rejections"], json!([{"by": "holder-of-t-compliance", "reason": "the amounts do not match"}]));
    // A rejection retried finds nothing proposed.
    post(&server, &format!("/v1/exceptions/{id}/reject"), compliance, &json!({"reason": "the amounts do not match"}))
        .assert_error(409, "exception_state");

    // Compliance takes the investigation over, proposes, and the operator cannot review it
    // (the operator role does not approve); an approver does.
    assert_status(&post(&server, &format!("/v1/exceptions/{id}/investigate"), compliance, &json!({})), 201, "accepted");
    let proposal = json!({"reason": "a second look", "explanation": "the statement was of the day before"});
    assert_status(&post(&server, &format!("/v1/exceptions/{id}/resolve"), compliance, &proposal), 201, "accepted");
    post(&server, &format!("/v1/exceptions/{id}/approve"), operator, &json!({})).assert_error(403, "forbidden");
    assert_status(&post(&server, &format!("/v1/exceptions/{id}/approve"), server.tokens.of(Role::Approver), &json!({})), 201, "accepted");
    let resolved = exception(&server, id);
    assert_eq!(
        (resolved["state"].as_str(), resolved["proposal"]["explanation"].as_str()),
        (Some("resolved"), Some("the statement was of the day before"))
    );
}

#[test]
fn exceptions_are_paged_and_filtered() {
    let server = Server::start();
    let ids = |response: &Response| -> Vec<u64> {
        response.body["items"].as_array().unwrap().iter().map(|e| e["id"].as_u64().unwrap()).collect()
    };
    let first = get(&server, "/v1/exceptions?limit=10");
    assert_eq!(ids(&first), (1..=10).collect::<Vec<_>>());
    assert_eq!(first.body["next_after"], json!(10));
    let second = get(&server, "/v1/exceptions?limit=10&after=10");
    assert_eq!(ids(&second), (11..=20).collect::<Vec<_>>());
    let last = get(&server, &format!("/v1/exceptions?after={}", FIXTURE_EXCEPTIONS - 1));
    assert_eq!((ids(&last), &last.body["next_after"]), (vec![FIXTURE_EXCEPTIONS], &Value::Null));
    assert_eq!(ids(&get(&server, "/v1/exceptions?after=18446744073709551615")), Vec::<u64>::new());

    let critical = get(&server, "/v1/exceptions?severity=critical&limit=3");
    assert_eq!((ids(&critical), &critical.body["next_after"]), (vec![1, 5, 9], &json!(9)));
    assert_eq!(ids(&get(&server, "/v1/exceptions?severity=critical&limit=3&after=9")), [13, 17, 21]);

    let investigated = server.investigated_exception(server.tokens.of(Role::Operator));
    assert_eq!(ids(&get(&server, "/v1/exceptions?state=investigating")), [investigated]);
    assert_eq!(ids(&get(&server, "/v1/exceptions?state=open&limit=1000")).len() as u64, FIXTURE_EXCEPTIONS - 1);
    assert_eq!(ids(&get(&server, "/v1/exceptions?state=resolved")), Vec::<u64>::new());
    assert_eq!(ids(&get(&server, "/v1/exceptions?overdue=true")), Vec::<u64>::new());
    assert_eq!(ids(&get(&server, "/v1/exceptions?overdue=false&limit=1000")).len() as u64, FIXTURE_EXCEPTIONS);
}

/// Each request is refused with this status and code, with a message, and the journal does
/// not change (checked after each, and in a fresh `Store::open` once the server stopped).
fn all_refused(server: Server, cases: Vec<(&str, Response, u16, &str)>, before: ringfence_journal::Head) {
    let mut failures = Vec::new();
    for (name, response, status, code) in &cases {
        let message = response.body["error"]["message"].as_str().unwrap_or_default();
        if (response.status, response.error_code()) != (*status, Some(*code)) || message.trim().is_empty() || message.ends_with('.') {
            failures.push(format!("{name}: expected {status} {code} with a message, got {} {}", response.status, response.body));
        }
    }
    assert_eq!(server.journal_head(), before, "a refused request changed the journal");
    assert!(failures.is_empty(), "{} of {} case(s) failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
    let stopped = server.stop();
    assert_eq!(stopped.head(), before, "the reopened store has the head the server had before the refused requests");
}

#[test]
fn bad_oversight_requests_are_refused_and_change_nothing() {
    let server = Server::start();
    let (operator, compliance, approver) = (
        server.tokens.of(Role::Operator).to_owned(),
        server.tokens.of(Role::Compliance).to_owned(),
        server.tokens.of(Role::Approver).to_owned(),
    );
    let investigating = server.investigated_exception(&operator);
    let proposed = server.proposed_exception(&operator);
    let own = server.proposed_exception(&server.tokens.operator_approver);
    let open = server.open_exception();
    let before = server.journal_head();

    let resolve = |body: &[u8]| {
        send(&server, "POST", &format!("/v1/exceptions/{investigating}/resolve"), Some(&operator), Some(&unique("r")), Some(body))
    };
    let reject = |body: &Value| post(&server, &format!("/v1/exceptions/{proposed}/reject"), &approver, body);
    let run = |body: &[u8]| send(&server, "POST", "/v1/recon/runs", Some(&operator), Some(&unique("run")), Some(body));
    let policy = |body: &Value| write(&server, "PUT", "/v1/policy/exceptions", &compliance, body);
    let future = clock::format(Timestamp::from_micros(clock::now().micros() + 24 * HOUR_MICROS));
    let cases = vec![
        (
            "resolve: both movement and explanation",
            resolve(br#"{"reason": "r", "movement": "dep-1", "explanation": "e"}"#),
            422,
            "invalid_resolution",
        ),
        ("resolve: neither movement nor explanation", resolve(br#"{"reason": "r"}"#), 422, "invalid_resolution"),
        ("resolve: a blank reason", resolve(br#"{"reason": "  ", "explanation": "e"}"#), 422, "invalid_resolution"),
        ("resolve: a blank explanation", resolve(br#"{"reason": "r", "explanation": ""}"#), 422, "invalid_resolution"),
        (
            "resolve: a reason over 1024 bytes",
            resolve(json!({"reason": "r".repeat(1025), "explanation": "e"}).to_string().as_bytes()),
            422,
            "invalid_resolution",
        ),
        ("resolve: no reason", resolve(br#"{"explanation": "e"}"#), 422, "invalid_command"),
        ("resolve: an unknown field", resolve(br#"{"reason": "r", "explanation": "e", "colour": "red"}"#), 422, "invalid_command"),
        ("resolve: a null explanation", resolve(br#"{"reason": "r", "movement": "dep-1", "explanation": null}"#), 422, "invalid_command"),
        ("resolve: a reason of the wrong type", resolve(br#"{"reason": 5, "explanation": "e"}"#), 422, "invalid_command"),
        ("resolve: a movement not recorded", resolve(br#"{"reason": "r", "movement": "no-such-movement"}"#), 422, "unknown_movement"),
        ("resolve: a malformed movement key", resolve(br#"{"reason": "r", "movement": "a b"}"#), 422, "invalid_resolution"),
        ("resolve: not JSON", resolve(b"{\"reason\":"), 400, "invalid_json"),
        ("resolve: an array", resolve(b"[]"), 400, "invalid_json"),
        ("resolve: an empty body", resolve(b""), 400, "invalid_json"),
        (
            "resolve: not the investigator",
            post(&server, &format!("/v1/exceptions/{investigating}/resolve"), &compliance, &json!({"reason": "r", "explanation": "e"})),
            409,
            "exception_state",
        ),
        (
            "resolve: an open exception",
            post(&server, &format!("/v1/exceptions/{open}/resolve"), &operator, &json!({"reason": "r", "explanation": "e"})),
            409,
            "exception_state",
        ),
        ("reject: a blank reason", reject(&json!({"reason": " "})), 422, "invalid_resolution"),
        ("reject: no reason", reject(&json!({})), 422, "invalid_command"),
        (
            "reject: by the investigator",
            post(&server, &format!("/v1/exceptions/{own}/reject"), &server.tokens.operator_approver, &json!({"reason": "r"})),
            409,
            "investigator_cannot_approve",
        ),
        (
            "approve: by the investigator",
            post(&server, &format!("/v1/exceptions/{own}/approve"), &server.tokens.operator_approver, &json!({})),
            409,
            "investigator_cannot_approve",
        ),
        (
            "investigate: a proposed exception",
            post(&server, &format!("/v1/exceptions/{proposed}/investigate"), &operator, &json!({})),
            409,
            "exception_state",
        ),
        (
            "approve: an open exception",
            post(&server, &format!("/v1/exceptions/{open}/approve"), &approver, &json!({})),
            409,
            "exception_state",
        ),
        (
            "investigate: an unknown exception",
            post(&server, "/v1/exceptions/9999/investigate", &operator, &json!({})),
            404,
            "unknown_exception",
        ),
        ("approve: an unknown exception", post(&server, "/v1/exceptions/9999/approve", &approver, &json!({})), 404, "unknown_exception"),
        (
            "reject: an unknown exception",
            post(&server, "/v1/exceptions/0/reject", &approver, &json!({"reason": "r"})),
            404,
            "unknown_exception",
        ),
        (
            "resolve: an unknown exception",
            post(&server, "/v1/exceptions/9999/resolve", &operator, &json!({"reason": "r", "explanation": "e"})),
            404,
            "unknown_exception",
        ),
        (
            "investigate: an id that is not a number",
            post(&server, "/v1/exceptions/seven/investigate", &operator, &json!({})),
            400,
            "invalid_path",
        ),
        (
            "investigate: no Idempotency-Key",
            send(&server, "POST", &format!("/v1/exceptions/{open}/investigate"), Some(&operator), None, None),
            400,
            "idempotency_key_missing",
        ),
        ("read: an unknown exception", server.get("/v1/exceptions/9999", Some(&operator)), 404, "not_found"),
        ("read: an unknown run", server.get("/v1/recon/runs/9999", Some(&operator)), 404, "not_found"),
        (
            "read: a run in an unknown format",
            server.get(&format!("/v1/recon/runs/{}?format=xml", server.fixture_run), Some(&operator)),
            400,
            "invalid_query",
        ),
        ("list: an unknown state", server.get("/v1/exceptions?state=closed", Some(&operator)), 400, "invalid_query"),
        ("list: an unknown severity", server.get("/v1/exceptions?severity=high", Some(&operator)), 400, "invalid_query"),
        ("list: overdue not a boolean", server.get("/v1/exceptions?overdue=yes", Some(&operator)), 400, "invalid_query"),
        ("list: a limit of 0", server.get("/v1/exceptions?limit=0", Some(&operator)), 400, "invalid_query"),
        ("list runs: a limit over 1000", server.get("/v1/recon/runs?limit=1001", Some(&operator)), 400, "invalid_query"),
        ("list runs: an unknown parameter", server.get("/v1/recon/runs?state=open", Some(&operator)), 400, "invalid_query"),
        ("run: a cut-off in the future", run(json!({"at": future}).to_string().as_bytes()), 422, "cut_off_in_future"),
        ("run: a cut-off that is no time", run(br#"{"at": "yesterday"}"#), 422, "invalid_command"),
        ("run: a cut-off that is a number", run(br#"{"at": 1767225600}"#), 422, "invalid_command"),
        ("run: an unknown field", run(br#"{"at": "2026-01-31", "nodes": []}"#), 422, "invalid_command"),
        ("run: not JSON", run(b"at=2026-01-31"), 400, "invalid_json"),
        (
            "run: no Idempotency-Key",
            send(&server, "POST", "/v1/recon/runs", Some(&operator), None, Some(b"{}")),
            400,
            "idempotency_key_missing",
        ),
        ("run: by an approver", post(&server, "/v1/recon/runs", &approver, &json!({})), 403, "forbidden"),
        ("policy: zero hours", policy(&json!({"resolution_hours": 0, "confirmation_hours": 24})), 422, "invalid_policy"),
        ("policy: over 720 hours", policy(&json!({"resolution_hours": 24, "confirmation_hours": 721})), 422, "invalid_policy"),
        (
            "policy: hours beyond u32",
            policy(&json!({"resolution_hours": 4_294_967_296_u64, "confirmation_hours": 24})),
            422,
            "invalid_policy",
        ),
        ("policy: hours as a string", policy(&json!({"resolution_hours": "24", "confirmation_hours": 24})), 422, "invalid_policy"),
        ("policy: a missing field", policy(&json!({"resolution_hours": 24})), 422, "invalid_command"),
        (
            "policy: an unknown field",
            policy(&json!({"resolution_hours": 24, "confirmation_hours": 24, "actor": "x"})),
            422,
            "invalid_command",
        ),
    ];
    all_refused(server, cases, before);
}

#[test]
fn overdue_exceptions_are_escalated_by_the_server_and_listed_as_overdue() {
    // A run recorded two days ago (by another process): its exception was due a day ago.
    let two_days_ago = Timestamp::from_micros(clock::now().micros() - 48 * HOUR_MICROS);
    let server = Server::start_with(|store| {
        let outcome = store.submit(&[run_with_break("wallet:late", Severity::Critical)], two_days_ago).unwrap().remove(0);
        assert_eq!(outcome.status, Status::Accepted, "{}", outcome.detail);
    });
    let id = FIXTURE_EXCEPTIONS + 1;
    let escalated = poll(&server, &format!("/v1/exceptions/{id}"), |r| r.status == 200 && !r.body["escalated_at"].is_null()).body;
    assert_eq!((escalated["overdue"].as_bool(), escalated["state"].as_str()), (Some(true), Some("open")), "{escalated}");
    let seq = escalated["escalated_seq"].as_u64().unwrap();
    let entry = get(&server, &format!("/v1/journal/entries?after={}&limit=1", seq - 1));
    assert_eq!(
        (entry.body["items"][0]["type"].as_str(), entry.body["items"][0]["actor"].as_str(), entry.body["items"][0]["instruction"].as_str()),
        (Some("exception_escalate"), Some("ringfence"), Some(format!("escalate:{id}").as_str()))
    );
    let overdue = get(&server, "/v1/exceptions?overdue=true&severity=critical");
    assert_eq!(
        overdue.body["items"].as_array().map(|items| items.iter().map(|e| e["id"].clone()).collect::<Vec<_>>()),
        Some(vec![json!(id)])
    );
    // Escalated once: the head stays where it is.
    let head = server.journal_head();
    std::thread::sleep(ringfence_server::engine::REFRESH_INTERVAL * 2);
    assert_eq!(server.journal_head(), head, "an escalated exception is not escalated again");
}

#[test]
fn a_run_recorded_by_another_process_shows_while_reads_keep_coming() {
    let server = Server::start();
    let id = FIXTURE_EXCEPTIONS + 1;
    server.get(&format!("/v1/exceptions/{id}"), Some(server.tokens.of(Role::Auditor))).assert_error(404, "not_found");
    let mut beside = Store::open(server.location()).unwrap();
    assert_eq!(beside.submit(&[run_with_break("wallet:beside", Severity::Warning)], clock::now()).unwrap()[0].status, Status::Accepted);
    drop(beside);
    // Reads back to back never leave the store thread idle; it catches up all the same.
    let started = Instant::now();
    loop {
        let response = server.get(&format!("/v1/exceptions/{id}"), Some(server.tokens.of(Role::Auditor)));
        if response.status == 200 {
            assert_eq!(response.body["subject"], json!("wallet:beside"));
            break;
        }
        assert!(started.elapsed() < CATCH_UP_WAIT_MAX, "the server did not catch up while busy: {response:?}");
    }
}

#[test]
fn the_exception_policy_is_set_and_waits_for_approval_under_four_eyes() {
    let server = Server::start();
    let compliance = server.tokens.of(Role::Compliance);
    assert_eq!(get(&server, "/v1/policy/exceptions").body, json!({"resolution_hours": 24, "confirmation_hours": 24, "seq": null}));
    let set = write(&server, "PUT", "/v1/policy/exceptions", compliance, &json!({"resolution_hours": 48, "confirmation_hours": 12}));
    assert_status(&set, 201, "accepted");
    assert_eq!(
        get(&server, "/v1/policy/exceptions").body,
        json!({"resolution_hours": 48, "confirmation_hours": 12, "seq": set.body["seq"]})
    );
    let same = write(&server, "PUT", "/v1/policy/exceptions", compliance, &json!({"resolution_hours": 48, "confirmation_hours": 12}));
    assert_eq!((same.status, &same.body["status"], &same.body["seq"]), (200, &json!("already_exists"), &set.body["seq"]));

    // With an approval policy in force, a change waits for an approver.
    let approvals = write(&server, "PUT", "/v1/policy/approvals", compliance, &json!({"approvals": 1}));
    assert_status(&approvals, 201, "accepted");
    let change = write(&server, "PUT", "/v1/policy/exceptions", compliance, &json!({"resolution_hours": 72, "confirmation_hours": 12}));
    assert_status(&change, 202, "pending_approval");
    let pending = change.body["seq"].as_u64().unwrap();
    let shown = get(&server, &format!("/v1/pending/{pending}"));
    assert_eq!(shown.body["command"]["type"], json!("exception_policy"));
    assert_eq!(shown.body["command"]["detail"], json!({"resolution_hours": 72, "confirmation_hours": 12}));
    assert_eq!(get(&server, "/v1/policy/exceptions").body["resolution_hours"], json!(48), "nothing changes before the approval");
    assert_status(&post(&server, &format!("/v1/pending/{pending}/approve"), server.tokens.of(Role::Approver), &json!({})), 201, "accepted");
    assert_eq!(get(&server, "/v1/policy/exceptions").body["resolution_hours"], json!(72));
}
