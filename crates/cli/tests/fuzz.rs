//! Fuzzes the live HTTP API with schemathesis, against the OpenAPI document the server itself
//! serves: the real `ringfence serve` on a free loopback port, a store holding the example
//! CASP (examples/casp.jsonl, whose ids the document's examples use), and a token with every
//! staff role so that every handler is reached. No request may get a 5xx, and every status
//! code, content type, header and body must be the document's. Afterwards the journal that
//! the fuzzer wrote to must still verify.
//!
//! schemathesis comes from PyPI: scripts/test installs it (pinned) and sets
//! `RINGFENCE_SCHEMATHESIS`; without it (or `schemathesis` on `PATH`) this test says so and
//! passes, except under CI, where it fails. `RINGFENCE_FUZZ_SEED` and
//! `RINGFENCE_FUZZ_EXAMPLES` change the fixed seed and the examples per operation.

#![allow(clippy::unwrap_used, reason = "a fixture or a tool that fails should fail the test at once")]

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_ringfence");
const EXAMPLE_CASP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/casp.jsonl");
/// Test cases per operation and phase: about half a minute for the whole run on two cores.
const EXAMPLES_DEFAULT: u32 = 500;
const SEED_DEFAULT: u64 = 20_261_124;
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// What schemathesis is told beyond the command line. Each exception says why: the
/// document cannot say these things, so the check would report the register's rules.
const CONFIG: &str = r#"
# A schema-valid write can still be refused by a rule of the register (422: an unknown client,
# a segregation breach…) or conflict with an earlier one (409): only 400 and 5xx are wrong.
[[operations]]
include-method = ["POST", "PUT"]
[operations.checks.positive_data_acceptance]
expected-statuses = ["2XX", "401", "403", "404", "409", "422"]

# Balances, history and valuations name exactly one of client, wallet or own, and a statement
# a period or both from and to, which OpenAPI cannot say of query parameters: a request naming
# none or two is schema-valid and rightly refused with 400 (and a statement of a period not yet
# ended with 422). An insolvency pack's cut-off must not be after now and its `as_of` must be
# an entry the journal holds, which depend on the clock and the journal: 422 otherwise.
[[operations]]
include-path = ["/v1/balances", "/v1/history", "/v1/valuation", "/v1/statements", "/v1/insolvency/pack"]
[operations.checks.positive_data_acceptance]
enabled = false
"#;

/// The schemathesis executable: `RINGFENCE_SCHEMATHESIS`, else `schemathesis` on `PATH`.
fn schemathesis() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("RINGFENCE_SCHEMATHESIS").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        assert!(path.is_file(), "RINGFENCE_SCHEMATHESIS={} is not a file; run scripts/test to install schemathesis", path.display());
        return Some(path);
    }
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).map(|dir| dir.join("schemathesis")).find(|path| path.is_file())
}

fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(text) => text.parse().unwrap_or_else(|_| panic!("{name}={text:?} is not a number")),
        Err(_) => default,
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn ringfence(data_dir: &Path, args: &[&str]) -> Output {
    let output = Command::new(BIN)
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("RINGFENCE_DATA_DIR")
        .env_remove("RINGFENCE_DATABASE_URL")
        .output()
        .unwrap();
    // `policy show` exits 1 when what it shows is a breach (the example's USDC is all in hot
    // wallets, below the cold floor); its output is still the whole report.
    let breach = args.starts_with(&["policy", "show"]) && output.status.code() == Some(1);
    assert!(output.status.success() || breach, "ringfence {args:?} failed:\n{}\n{}", text(&output.stdout), text(&output.stderr));
    output
}

/// `ringfence serve`, stopped (SIGTERM, then SIGKILL) when dropped.
struct Server {
    child: Child,
    address: SocketAddr,
    stdout: Option<JoinHandle<String>>,
    log: PathBuf,
}

impl Server {
    /// Starts the server on a free loopback port and returns once it printed its address.
    fn start(data_dir: &Path, log: PathBuf) -> Server {
        let mut child = Command::new(BIN)
            .arg("--data-dir")
            .arg(data_dir)
            .args(["serve", "--listen", "127.0.0.1:0", "--casp-name", "Fuzz CASP"])
            .env_remove("RINGFENCE_DATA_DIR")
            .env_remove("RINGFENCE_DATABASE_URL")
            .env_remove("RINGFENCE_LISTEN")
            .stdout(Stdio::piped())
            // One log line per request: a file, so that a full pipe never stalls the server.
            .stderr(File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, receiver) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let first = lines.next().and_then(Result::ok).unwrap_or_default();
            let _ = sender.send(first.clone());
            lines.map_while(Result::ok).fold(first, |all, line| all + "\n" + &line)
        });
        let first = receiver.recv_timeout(STARTUP_TIMEOUT).unwrap_or_default();
        let mut server = Server { child, address: SocketAddr::from(([127, 0, 0, 1], 0)), stdout: Some(reader), log };
        // "ringfence serving DIR on http://127.0.0.1:PORT (OpenAPI at /openapi.json)"
        let address = first.split_once(" on http://").and_then(|(_, rest)| rest.split_whitespace().next()).and_then(|a| a.parse().ok());
        server.address = address.unwrap_or_else(|| panic!("the server printed {first:?}, not its address; log:\n{}", server.log()));
        server
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Polls `path` until it answers 200, at most `STARTUP_TIMEOUT`.
    fn wait_until_ok(&self, path: &str) {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            match get(self.address, path, None) {
                Ok(response) if response.starts_with("HTTP/1.1 200") => return,
                outcome => assert!(Instant::now() < deadline, "{path} did not answer 200 in time: {outcome:?}; log:\n{}", self.log()),
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends SIGTERM and waits for a clean exit; returns what the server printed.
    fn stop(mut self) -> String {
        let terminated = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status().unwrap();
        assert!(terminated.success(), "kill -TERM {} failed", self.child.id());
        let deadline = Instant::now() + SHUTDOWN_TIMEOUT;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "the server did not stop within {SHUTDOWN_TIMEOUT:?} of SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        };
        let printed = self.stdout.take().unwrap().join().unwrap();
        assert!(status.success(), "the server exited with {status} after SIGTERM; stdout:\n{printed}\nlog:\n{}", self.log());
        printed
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A minimal HTTP/1.1 GET, with a token or without: the whole response as text.
fn get(address: SocketAddr, path: &str, token: Option<&str>) -> std::io::Result<String> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let authorization = token.map(|token| format!("Authorization: Bearer {token}\r\n")).unwrap_or_default();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {address}\r\n{authorization}Connection: close\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response)
}

/// The number of operations in the served OpenAPI document.
fn operations(address: SocketAddr) -> usize {
    let document = json_body(&get(address, "/openapi.json", None).unwrap());
    let methods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
    document["paths"].as_object().unwrap().values().map(|item| methods.iter().filter(|m| item.get(**m).is_some()).count()).sum()
}

/// The JSON body of a response.
fn json_body(response: &str) -> serde_json::Value {
    let (_, body) = response.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no body in {response:?}"));
    serde_json::from_str(body).unwrap_or_else(|error| panic!("not JSON ({error}): {body}"))
}

/// A store with the example CASP, a token with every staff role (the client role stands
/// alone) and the server on it, answering.
struct Fixture {
    dir: TempDir,
    data_dir: PathBuf,
    token: String,
    server: Server,
}

fn fixture() -> Fixture {
    let dir = TempDir::new().unwrap();
    let data_dir = dir.path().join("data");
    ringfence(&data_dir, &["init"]);
    ringfence(&data_dir, &["import", "--quiet", EXAMPLE_CASP]);
    let created = ringfence(&data_dir, &["token", "create", "--actor", "fuzz", "--role", "operator,approver,compliance,auditor"]);
    let token = text(&created.stdout).lines().nth(1).unwrap().trim().to_owned();
    assert!(token.starts_with("rf_"), "no token on the second line of:\n{}", text(&created.stdout));
    let server = Server::start(&data_dir, dir.path().join("server.log"));
    server.wait_until_ok("/healthz");
    Fixture { dir, data_dir, token, server }
}

#[test]
fn every_fuzzed_request_is_answered_as_the_openapi_document_says_and_the_journal_stays_intact() {
    let Some(schemathesis) = schemathesis() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "schemathesis is not installed: scripts/test installs it and sets RINGFENCE_SCHEMATHESIS"
        );
        eprintln!("SKIPPED: the API fuzz test needs schemathesis; run scripts/test, which installs it and sets RINGFENCE_SCHEMATHESIS");
        return;
    };
    let Fixture { dir, data_dir, token, server } = fixture();
    let head_before = text(&ringfence(&data_dir, &["journal", "head"]).stdout);
    let operations = operations(server.address);

    let config = dir.path().join("schemathesis.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let seed = env_number("RINGFENCE_FUZZ_SEED", SEED_DEFAULT);
    let examples = env_number("RINGFENCE_FUZZ_EXAMPLES", EXAMPLES_DEFAULT);
    let started = Instant::now();
    let run = Command::new(&schemathesis)
        .arg("--config-file")
        .arg(&config)
        .args(["run", &format!("http://{}/openapi.json", server.address)])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        // Every check runs (schemathesis's default; `--checks all` would override CONFIG).
        .args(["--max-examples", &examples.to_string(), "--seed", &seed.to_string()])
        .args(["--generation-database", "none", "--continue-on-failure", "--no-color", "--request-timeout", "30"])
        // schemathesis keeps state in its working directory: the temporary one.
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let report = format!("{}{}", text(&run.stdout), text(&run.stderr));
    println!("schemathesis (seed {seed}, {examples} examples, {:.0?}):\n{report}", started.elapsed());
    assert!(run.status.success(), "schemathesis found failures (seed {seed}):\n{report}\nserver log (tail):\n{}", tail(&server.log(), 40));
    assert!(
        report.contains(&format!("Tested: {operations}")),
        "schemathesis did not test all {operations} operations of the document:\n{report}"
    );
    let log = server.log();
    assert!(!log.contains("panicked"), "the server panicked:\n{log}");

    let printed = server.stop();
    assert!(printed.contains("ringfence stopped"), "{printed}");
    let verified = ringfence(&data_dir, &["journal", "verify"]);
    assert!(text(&verified.stdout).contains("journal intact"), "{}", text(&verified.stdout));
    let head_after = text(&ringfence(&data_dir, &["journal", "head"]).stdout);
    assert_ne!(head_before, head_after, "the fuzzer recorded nothing: the document's examples no longer reach the register");
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Found while fuzzing: the store's query cast `after` to i64, so a sequence number beyond
/// i64::MAX wrapped to a negative one and the journal's first page came back instead of none.
#[test]
fn journal_entries_after_a_sequence_number_beyond_i64_are_an_empty_page_not_the_first() {
    let Fixture { token, server, .. } = fixture();
    for after in [i64::MAX as u64, i64::MAX as u64 + 1, u64::MAX] {
        let page = json_body(&get(server.address, &format!("/v1/journal/entries?after={after}"), Some(&token)).unwrap());
        assert_eq!(page, serde_json::json!({"items": [], "next_after": null}), "after={after}");
    }
    let first = json_body(&get(server.address, "/v1/journal/entries?limit=1", Some(&token)).unwrap());
    assert_eq!(first["items"][0]["seq"], 1, "{first}");
}

/// `ringfence summary --json` and `GET /v1/summary` serialize one view: the same bytes for the
/// same store (the CLI adds a newline).
#[test]
fn the_cli_and_the_api_give_the_same_summary_balances_history_policies_and_verification_byte_for_byte() {
    let Fixture { dir: _dir, data_dir, token, server } = fixture();
    // Each view: the API's route and the CLI command that shows the same thing.
    let views: [(&str, &[&str]); 9] = [
        ("/v1/summary", &["summary", "--json"]),
        ("/v1/policy", &["policy", "show", "--json"]),
        ("/v1/policy/exceptions", &["exceptions", "policy", "--json"]),
        ("/v1/balances?client=client-1", &["balance", "--client", "client-1", "--json"]),
        (
            "/v1/balances?wallet=omnibus-hot&at=2026-03-01T00:00:00Z",
            &["balance", "--wallet", "omnibus-hot", "--at", "2026-03-01T00:00:00Z", "--json"],
        ),
        (
            "/v1/balances?own=fee_income&asset=eip155:1/slip44:60",
            &["balance", "--own", "fee_income", "--asset", "eip155:1/slip44:60", "--json"],
        ),
        ("/v1/history?client=client-1&limit=3", &["history", "--client", "client-1", "--limit", "3", "--json"]),
        (
            "/v1/history?wallet=omnibus-hot&after=3&limit=500",
            &["history", "--wallet", "omnibus-hot", "--after", "3", "--limit", "500", "--json"],
        ),
        ("/v1/journal/verify", &["journal", "verify", "--json"]),
    ];
    let mut answers = Vec::new();
    for (path, _) in &views {
        let response = get(server.address, path, Some(&token)).unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "{path}: {response}");
        answers.push(response.split_once("\r\n\r\n").unwrap().1.to_owned());
    }
    server.stop();
    for ((path, args), api) in views.iter().zip(&answers) {
        let cli = ringfence(&data_dir, args);
        assert_eq!(text(&cli.stdout), format!("{api}\n"), "{path} and ringfence {args:?} differ");
    }
    let summary: serde_json::Value = serde_json::from_str(&answers[0]).unwrap();
    assert!(summary["journal_seq"].as_u64().unwrap() > 0, "{summary}");
    assert_eq!(summary["assets"][0]["asset"]["id"], "eip155:1/slip44:60", "{summary}");
    let balances: serde_json::Value = serde_json::from_str(&answers[3]).unwrap();
    assert_eq!(balances["subject"], "position:client-1", "{balances}");
    assert!(!balances["balances"].as_array().unwrap().is_empty(), "{balances}");
    let history: serde_json::Value = serde_json::from_str(&answers[6]).unwrap();
    assert_eq!(history["movements"].as_array().unwrap().len(), 3, "{history}");
    assert!(history["next_after"].is_u64(), "{history}");
    let verified: serde_json::Value = serde_json::from_str(&answers[8]).unwrap();
    assert_eq!(verified["intact"], true, "{verified}");
}
