//! The HTTP API's test harness: the real server, in process, on a loopback port of its own,
//! over a fresh SQLite store in a temporary directory with a small book already recorded (two
//! assets, omnibus and individually segregated clients, key sets, wallets, deposits), one API
//! token per role and a reconciliation run whose breaks opened [`FIXTURE_EXCEPTIONS`] open
//! exceptions (handed out one per test step by [`Server::open_exception`]); a tiny blocking
//! HTTP/1.1 client over `std::net::TcpStream`; and the journal head read through the API or
//! through a fresh `Store::open` after the server stopped, so a test can prove a refused
//! request changed nothing.

#![allow(dead_code, reason = "each test file uses its own part of the harness")]
#![allow(clippy::unwrap_used, reason = "a fixture that fails should fail the test at once")]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use ringfence_core::{
    Action, Actor, ApiToken, Break, ClientId, Command, ExceptionKind, InstructionId, Meta, ReconRun, Role, SafeguardAction,
    SafeguardingPolicy, Severity, Status, Timestamp, TokenId,
};
use ringfence_journal::Head;
use ringfence_store::{Location, Store};
use ringfence_wire::clock;
use ringfence_wire::input::{self, Defaults, Parsed};
use serde_json::{Value, json};
use tempfile::TempDir;

pub const ETH: &str = "eip155:1/slip44:60";
pub const USDC: &str = "eip155:1/erc20:0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48";
/// Omnibus clients.
pub const C1: &str = "c1";
pub const C2: &str = "c2";
/// An individually segregated client with its own wallet.
pub const C3: &str = "c3";
pub const OMNIBUS_WALLET: &str = "omnibus-hot";
pub const C3_WALLET: &str = "c3-cold";
pub const FIRM_WALLET: &str = "firm-hot";

/// The open exceptions the fixture's run opened: ids 1 to this. Every fourth one (1, 5, 9…) is
/// critical (`coverage_shortfall`), the others are warnings (`wallet_difference`).
pub const FIXTURE_EXCEPTIONS: u64 = 64;

/// How long a request may take before the test fails (a hung server must not hang the suite).
const RESPONSE_WAIT_MAX: Duration = Duration::from_secs(60);
/// How long the server may take to bind its port.
const START_WAIT_MAX: Duration = Duration::from_secs(30);

/// What is recorded before the server starts, in the import format (docs/import-format.md).
const BOOK: &[&str] = &[
    r#"{"type":"asset","id":"eip155:1/slip44:60","scale":18,"symbol":"ETH"}"#,
    r#"{"type":"asset","id":"eip155:1/erc20:0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48","scale":6,"symbol":"USDC"}"#,
    r#"{"type":"client","id":"c1","category":"retail","segregation":"omnibus"}"#,
    r#"{"type":"client","id":"c2","category":"professional","segregation":"omnibus"}"#,
    r#"{"type":"client","id":"c3","category":"professional","segregation":"individual"}"#,
    r#"{"type":"key_set","id":"ks-omnibus","scheme":"mpc","threshold":2,"signers":["hsm-a","ops-b","ops-c"],"class":"client_omnibus"}"#,
    r#"{"type":"key_set","id":"ks-c3","scheme":"multisig","threshold":2,"signers":["vault-1","vault-2","cco"],"class":"client_individual"}"#,
    r#"{"type":"key_set","id":"ks-firm","scheme":"hsm","signers":["treasury-1"],"class":"firm"}"#,
    r#"{"type":"wallet","id":"omnibus-hot","address":"eip155:1:0x0000000000000000000000000000000000001001","class":"client_omnibus","tier":"hot","key_set":"ks-omnibus"}"#,
    r#"{"type":"wallet","id":"c3-cold","address":"eip155:1:0x0000000000000000000000000000000000002001","class":"client_individual","client":"c3","tier":"cold","key_set":"ks-c3"}"#,
    r#"{"type":"wallet","id":"firm-hot","address":"eip155:1:0x000000000000000000000000000000000000f001","class":"firm","tier":"hot","key_set":"ks-firm"}"#,
    r#"{"type":"firm_funding","key":"fund-1","wallet":"firm-hot","asset":"eip155:1/slip44:60","amount":"5000000000000000000","effective_at":"2026-01-02T09:00:00Z"}"#,
    r#"{"type":"deposit","key":"dep-1","client":"c1","wallet":"omnibus-hot","asset":"eip155:1/slip44:60","amount":"2500000000000000000","effective_at":"2026-01-05T10:00:00Z"}"#,
    r#"{"type":"deposit","key":"dep-2","client":"c2","wallet":"omnibus-hot","asset":"eip155:1/erc20:0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48","amount":"1200000000","effective_at":"2026-01-06T11:00:00Z"}"#,
    r#"{"type":"deposit","key":"dep-3","client":"c3","wallet":"c3-cold","asset":"eip155:1/slip44:60","amount":"40000000000000000000","effective_at":"2026-01-07T09:30:00Z"}"#,
];

/// The API tokens the harness registers, as their holders present them.
#[derive(Debug, Clone)]
pub struct Tokens {
    /// One live single-role token per role; the client-role one is client c1's.
    by_role: BTreeMap<Role, String>,
    /// Client c2's client-role token.
    pub client_c2: String,
    /// An operator token whose expiry has passed.
    pub expired: String,
    /// An operator token registered and then revoked.
    pub revoked: String,
    /// The operator token's id with a secret that is not its own.
    pub wrong_secret: String,
    /// A token with both the operator and the approver role (to show that an initiator
    /// cannot approve their own instruction).
    pub operator_approver: String,
    /// A second approver, another person than the approver role's token.
    pub second_approver: String,
}

impl Tokens {
    /// The live token of `role` (for `Role::Client`: client c1's).
    pub fn of(&self, role: Role) -> &str {
        &self.by_role[&role]
    }
}

/// A running server over its own store. Dropping it stops the server.
#[derive(Debug)]
pub struct Server {
    pub address: SocketAddr,
    pub tokens: Tokens,
    /// The id of the fixture's reconciliation run.
    pub fixture_run: u64,
    /// The next fixture exception [`Server::open_exception`] hands out.
    next_exception: AtomicU64,
    location: Location,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    // Last: the directory goes after the server stopped using it.
    dir: Option<TempDir>,
}

/// A server that has stopped; its store can be opened again.
#[derive(Debug)]
pub struct Stopped {
    location: Location,
    dir: TempDir,
}

fn meta(instruction: &str) -> Meta {
    Meta {
        actor: Actor::parse("test-setup").unwrap(),
        instruction: InstructionId::parse(instruction).unwrap(),
        effective_at: clock::parse("2026-01-02T08:00:00Z").unwrap(),
    }
}

/// Registers a token; returns the string its holder presents.
fn token(commands: &mut Vec<Command>, id: &str, roles: &[Role], client: Option<&str>, expires_at: Option<Timestamp>) -> String {
    let number = u8::try_from(commands.len()).unwrap();
    let salt = [number; 16];
    let secret = format!("secret-of-{id}-0123456789abcdef");
    let id = TokenId::parse(id).unwrap();
    let token = ApiToken {
        id: id.clone(),
        actor: Actor::parse(&format!("holder-of-{id}")).unwrap(),
        roles: roles.to_vec(),
        client: client.map(|c| ClientId::parse(c).unwrap()),
        salt,
        digest: ApiToken::digest_of(&salt, &secret),
        expires_at,
    };
    commands.push(Command { meta: meta(&format!("token-{id}")), action: Action::RegisterApiToken(token) });
    ApiToken::presented(&id, &secret)
}

/// The fixture's run: one break per exception to open, each with a subject of its own.
fn fixture_run() -> Command {
    let breaks = (1..=FIXTURE_EXCEPTIONS)
        .map(|id| {
            let (kind, severity) = if id % 4 == 1 {
                (ExceptionKind::CoverageShortfall, Severity::Critical)
            } else {
                (ExceptionKind::WalletDifference, Severity::Warning)
            };
            Break { kind, severity, subject: format!("fixture:{id}"), detail: format!("fixture break {id}, \"quoted\", with a comma") }
        })
        .collect();
    let run = ReconRun {
        cut_off: clock::parse("2026-01-31").unwrap(),
        sources: Vec::new(),
        checked: 100,
        matched: 36,
        report_sha256: [7; 32],
        breaks,
    };
    Command { meta: meta("fixture-run"), action: Action::RecordReconRun(run) }
}

impl Server {
    /// A fresh store with the book, the tokens and the fixture's run recorded, served on
    /// 127.0.0.1:0.
    pub fn start() -> Server {
        Server::start_with(|_| {})
    }

    /// As [`Server::start`], with `setup` recording more on the store before the server starts.
    pub fn start_with(setup: impl FnOnce(&mut Store)) -> Server {
        Server::start_limited(ringfence_server::Limits::default(), setup)
    }

    /// As [`Server::start_with`], serving with `limits`.
    pub fn start_limited(limits: ringfence_server::Limits, setup: impl FnOnce(&mut Store)) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let location = Location::data_dir(dir.path());
        Server::start_at(location, Some(dir), limits, setup)
    }

    /// As [`Server::start`], on a store at `location` (a fresh PostgreSQL database, say).
    pub fn start_on(location: Location) -> Server {
        Server::start_at(location, None, ringfence_server::Limits::default(), |_| {})
    }

    fn start_at(location: Location, dir: Option<TempDir>, limits: ringfence_server::Limits, setup: impl FnOnce(&mut Store)) -> Server {
        let mut store = Store::create(&location).unwrap();

        let defaults = Defaults { actor: Actor::parse("test-setup").unwrap(), effective_at: clock::parse("2026-01-02T08:00:00Z").unwrap() };
        let mut commands: Vec<Command> = BOOK
            .iter()
            .map(|line| match input::parse_line(line, &defaults).unwrap() {
                Parsed::Ready(command) => command,
                Parsed::Correction { .. } => panic!("the book holds no corrections"),
            })
            .collect();
        let mut by_role = BTreeMap::new();
        for &role in Role::ALL {
            let client = (role == Role::Client).then_some(C1);
            by_role.insert(role, token(&mut commands, &format!("t-{}", role.code()), &[role], client, None));
        }
        let client_c2 = token(&mut commands, "t-client-c2", &[Role::Client], Some(C2), None);
        let an_hour_ago = Timestamp::from_micros(clock::now().micros() - 3_600_000_000);
        let expired = token(&mut commands, "t-expired", &[Role::Operator], None, Some(an_hour_ago));
        let revoked = token(&mut commands, "t-revoked", &[Role::Operator], None, None);
        commands
            .push(Command { meta: meta("revoke-t-revoked"), action: Action::RevokeApiToken { id: TokenId::parse("t-revoked").unwrap() } });
        let operator_approver = token(&mut commands, "t-ops-approver", &[Role::Operator, Role::Approver], None, None);
        let second_approver = token(&mut commands, "t-approver-2", &[Role::Approver], None, None);
        let wrong_secret = ApiToken::presented(&TokenId::parse("t-operator").unwrap(), "not-the-secret-0123456789abcdef");
        // The book keeps client assets in hot wallets; these tests are not about the cold floor
        // (crates/core/tests/safeguard.rs is), so it is 0 % here and checks open nothing.
        let policy = SafeguardingPolicy { cold_floor_bp: 0, ..SafeguardingPolicy::default() };
        commands.push(Command { meta: meta("safeguarding-policy"), action: Action::Safeguard(SafeguardAction::SetPolicy(policy)) });

        for (outcome, command) in store.submit(&commands, clock::now()).unwrap().iter().zip(&commands) {
            assert_eq!(outcome.status, Status::Accepted, "setting up {command:?}: {}", outcome.detail);
        }
        let tokens = Tokens { by_role, client_c2, expired, revoked, wrong_secret, operator_approver, second_approver };
        let run = store.submit(&[fixture_run()], clock::now()).unwrap().remove(0);
        assert_eq!(run.status, Status::Accepted, "recording the fixture's run: {}", run.detail);
        let fixture_run = run.seq.unwrap();
        assert_eq!(store.register().exceptions().len() as u64, FIXTURE_EXCEPTIONS);
        setup(&mut store);

        let casp = ringfence_reports::statement::Casp { name: "Test CASP".into(), lei: None, authorisation: Some("AFM-TEST-1".into()) };
        let state = ringfence_server::AppState::start(store).unwrap().with_limits(limits).with_casp(Some(casp));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (bound, address) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("test-server".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                    bound.send(listener.local_addr().unwrap()).unwrap();
                    ringfence_server::serve(listener, state, async {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
                });
            })
            .unwrap();
        let address = address.recv_timeout(START_WAIT_MAX).expect("the server did not bind a port in time");
        Server { address, tokens, fixture_run, next_exception: AtomicU64::new(1), location, stop: Some(stop), thread: Some(thread), dir }
    }

    /// A fixture exception no test step used yet: open.
    pub fn open_exception(&self) -> u64 {
        let id = self.next_exception.fetch_add(1, Ordering::Relaxed);
        assert!(id <= FIXTURE_EXCEPTIONS, "the fixture has only {FIXTURE_EXCEPTIONS} exceptions; raise FIXTURE_EXCEPTIONS");
        id
    }

    /// A fresh exception investigated by `token`'s holder.
    pub fn investigated_exception(&self, token: &str) -> u64 {
        let id = self.open_exception();
        let response = self.post(&format!("/v1/exceptions/{id}/investigate"), Some(token), Some(&unique("investigate")), &json!({}));
        assert_eq!(response.status, 201, "investigating exception {id}: {response:?}");
        id
    }

    /// A fresh exception investigated by `token`'s holder, with a resolution they proposed.
    pub fn proposed_exception(&self, token: &str) -> u64 {
        let id = self.investigated_exception(token);
        let body = json!({"reason": "the node was behind", "explanation": "a later block matched"});
        let response = self.post(&format!("/v1/exceptions/{id}/resolve"), Some(token), Some(&unique("resolve")), &body);
        assert_eq!(response.status, 201, "proposing a resolution of exception {id}: {response:?}");
        id
    }

    /// Where the store is, to open a second handle beside the server (another process).
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// Sends one request and reads the whole response.
    pub fn call(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Response {
        http(self.address, method, path, headers, body)
    }

    /// GET with an optional token.
    pub fn get(&self, path: &str, token: Option<&str>) -> Response {
        let authorization = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = authorization.iter().map(|a| ("Authorization", a.as_str())).collect();
        self.call("GET", path, &headers, None)
    }

    /// POST a JSON body with an optional token and Idempotency-Key.
    pub fn post(&self, path: &str, token: Option<&str>, idempotency_key: Option<&str>, body: &Value) -> Response {
        self.post_bytes(path, token, idempotency_key, body.to_string().as_bytes())
    }

    /// POST raw bytes (which need not be JSON) with an optional token and Idempotency-Key.
    pub fn post_bytes(&self, path: &str, token: Option<&str>, idempotency_key: Option<&str>, body: &[u8]) -> Response {
        let authorization = token.map(|t| format!("Bearer {t}"));
        let mut headers: Vec<(&str, &str)> = vec![("Content-Type", "application/json")];
        headers.extend(authorization.iter().map(|a| ("Authorization", a.as_str())));
        headers.extend(idempotency_key.map(|k| ("Idempotency-Key", k)));
        self.call("POST", path, &headers, Some(body))
    }

    /// The journal head as the API reports it (`/v1/journal/verify`, which also checks the
    /// whole chain) and as the database holds it (a verification opened beside the server):
    /// the two must agree.
    pub fn journal_head(&self) -> Head {
        let response = self.get("/v1/journal/verify", Some(self.tokens.of(Role::Auditor)));
        assert_eq!(response.status, 200, "verify: {response:?}");
        assert_eq!(response.body["intact"], json!(true), "verify: {response:?}");
        let on_disk = ringfence_store::Verification::open(&self.location).unwrap().verify().unwrap().unwrap();
        assert_eq!(response.body["head_seq"], json!(on_disk.seq), "the API and the database disagree on the head");
        assert_eq!(response.body["head_hash"], json!(ringfence_store::hex(&on_disk.hash)), "the API and the database disagree on the head");
        on_disk
    }

    /// Stops the server (requests in flight finish first) and waits for it.
    pub fn stop(mut self) -> Stopped {
        self.shut_down();
        Stopped { location: self.location.clone(), dir: self.dir.take().unwrap() }
    }

    fn shut_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let result = thread.join();
            // Do not panic while already panicking: the first failure is the one to read.
            if !std::thread::panicking() {
                result.expect("the server thread panicked");
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shut_down();
    }
}

impl Stopped {
    /// Opens the store again, which replays and re-decides every journal entry and checks the
    /// hash chain: the state the server left, as a restart would see it.
    pub fn open(&self) -> Store {
        Store::open(&self.location).unwrap()
    }

    pub fn head(&self) -> Head {
        self.open().head()
    }

    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }
}

/// One HTTP response: the body parsed as JSON, or as a JSON string when it is not JSON.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Header names in lower case, in order.
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    /// `error.code` of an error body.
    pub fn error_code(&self) -> Option<&str> {
        self.body["error"]["code"].as_str()
    }

    /// Asserts an error response: this status, this code, a non-empty message, JSON.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!((self.status, self.error_code()), (status, Some(code)), "expected {status} {code}, got {self:#?}");
        let message = self.body["error"]["message"].as_str().unwrap_or_default();
        assert!(!message.trim().is_empty(), "the error has no message: {self:#?}");
        assert!(!message.ends_with('.'), "an error message ends without a period (STYLE.md): {message:?}");
        assert!(self.header("content-type").is_some_and(|t| t.starts_with("application/json")), "an error is JSON: {self:#?}");
    }
}

/// A blocking HTTP/1.1 request on a new connection (`Connection: close`). The body is written
/// on a second thread while the response is read, so a server that answers before reading
/// the whole body (413) is still heard.
pub fn http(address: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Response {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(RESPONSE_WAIT_MAX)).unwrap();
    stream.set_write_timeout(Some(RESPONSE_WAIT_MAX)).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = body {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let raw = std::thread::scope(|scope| {
        // No half-close after the body: the server would take it for a client gone away.
        scope.spawn(move || {
            // The server may answer and close before it has read everything (a body too
            // large): a failed write is then expected, and the response says why.
            if let Some(body) = body {
                let _ = writer.write_all(body);
            }
        });
        let mut raw = Vec::new();
        let mut buffer = [0u8; 64 * 1024];
        loop {
            match stream.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => raw.extend_from_slice(&buffer[..n]),
                // A reset after the whole response arrived (the server closed with unread
                // body bytes) loses nothing.
                Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset && complete(&raw) => break,
                Err(error) => {
                    panic!("{method} {path}: reading the response failed: {error} (read so far: {:?})", String::from_utf8_lossy(&raw))
                }
            }
        }
        raw
    });
    parse_response(&raw).unwrap_or_else(|| panic!("{method} {path}: not an HTTP response: {:?}", String::from_utf8_lossy(&raw)))
}

fn split_head(raw: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    Some((&raw[..end], &raw[end + 4..]))
}

fn complete(raw: &[u8]) -> bool {
    let Some((head, body)) = split_head(raw) else { return false };
    let head = String::from_utf8_lossy(head).to_ascii_lowercase();
    head.lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|n| n.trim().parse::<usize>().ok())
        .is_some_and(|n| body.len() >= n)
}

pub fn parse_response(raw: &[u8]) -> Option<Response> {
    let (head, rest) = split_head(raw)?;
    let head = std::str::from_utf8(head).ok()?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let mut parts = status_line.splitn(3, ' ');
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let status = parts.next()?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .map(|line| {
            let (name, value) = line.split_once(':').unwrap_or((line, ""));
            (name.trim().to_ascii_lowercase(), value.trim().to_owned())
        })
        .collect();
    let find = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    let body = if find("transfer-encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked")) {
        dechunk(rest)?
    } else if let Some(length) = find("content-length") {
        rest.get(..length.parse::<usize>().ok()?)?.to_vec()
    } else {
        rest.to_vec()
    };
    let body = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(_) => Value::String(String::from_utf8_lossy(&body).into_owned()),
    };
    Some(Response { status, headers, body })
}

fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&rest[..end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[end + 2..];
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

/// A deposit body of `amount` for client c1 into the omnibus wallet (no key: the header's).
pub fn deposit(amount: &str) -> Value {
    json!({"type": "deposit", "client": C1, "wallet": OMNIBUS_WALLET, "asset": ETH, "amount": amount})
}

/// A unique name for this test process, for idempotency keys and entity ids.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("{prefix}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}
