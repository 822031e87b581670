//! `ringfence bench --http`: accepted movements per second through the HTTP API, as a client
//! sees them. The server of `ringfence serve` runs in this process on loopback against a
//! scratch store; a load generator on the same runtime keeps `--connections` keep-alive
//! HTTP/1.1 connections busy, each posting one deposit per request (`POST /v1/movements`, its
//! own `Idempotency-Key`) until `--requests` are answered. Latency is per request, from the
//! first byte written to the last byte of the response read. Afterwards the store is opened
//! again: it must hold exactly one movement per request, and its journal must verify.
//!
//! The client is written on `tokio::net::TcpStream` rather than an HTTP client crate: it
//! sends one fixed shape of request and reads responses framed by `Content-Length`, which is
//! all a load generator needs, and it keeps the client's share of the two cores small.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use ringfence_core::{Action, ApiToken, Command, Role, Status, TokenId};
use ringfence_store::{BATCH_MAX, HISTORY_LIMIT_MAX, Location, Store};
use tokio::net::TcpStream;

use crate::Cli;
use crate::bench::{self, BenchArgs};

/// Connections at most: each is a task and a socket on both sides of loopback.
const CONNECTIONS_MAX: usize = 4_096;
/// Requests at most in one run (the store keeps every movement in memory).
const REQUESTS_MAX: usize = 10_000_000;
/// The largest response head (status line and headers) read.
const RESPONSE_HEAD_BYTES_MAX: usize = 16 * 1024;
/// The largest response body read.
const RESPONSE_BODY_BYTES_MAX: usize = 64 * 1024;
/// How long one request may take before the run fails: above the server's own 30 s wait for
/// the store thread, so the server's answer (503) arrives first.
const RESPONSE_WAIT_MAX: Duration = Duration::from_secs(60);
/// Failed requests described in the error message at most.
const FAILURES_SHOWN_MAX: usize = 5;
/// The wallet and asset of every deposit (registered by `bench::setup`).
const WALLET: &str = "hot-evm";
const ASSET: &str = "eip155:1/slip44:60";

pub fn run(cli: &Cli, args: &BenchArgs, out: &mut dyn Write) -> Result<ExitCode> {
    if args.connections == 0 || args.connections > CONNECTIONS_MAX {
        bail!("--connections {} is outside 1 to {CONNECTIONS_MAX}", args.connections);
    }
    if args.requests == 0 || args.requests > REQUESTS_MAX {
        bail!("--requests {} is outside 1 to {REQUESTS_MAX}", args.requests);
    }
    if args.clients == 0 {
        bail!("--clients must be at least 1");
    }
    let scratch = bench::scratch(cli, args, out)?;
    let location = scratch.location("http")?;
    let result = measure(&location, args, out);
    scratch.remove(&location);
    result?;
    if let Some(peak) = bench::peak_memory_bytes() {
        writeln!(out, "peak memory (VmHWM, server and load generator): {:.1} MiB", peak as f64 / (1024.0 * 1024.0))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// What every connection needs to build its requests.
struct Plan {
    requests: usize,
    clients: u32,
    /// `Host` and `Authorization` headers, the same on every request.
    headers: String,
}

impl Plan {
    /// Request `n`: a deposit to client `c{n % clients}` under the key `http-{n}`.
    fn write_request(&self, n: usize, request: &mut Vec<u8>) {
        let client = n % self.clients as usize;
        let body = format!(r#"{{"type":"deposit","client":"c{client}","wallet":"{WALLET}","asset":"{ASSET}","amount":"{}"}}"#, 1_000 + n);
        request.clear();
        // Writing into a Vec cannot fail.
        let _ = write!(
            request,
            "POST /v1/movements HTTP/1.1\r\n{}Idempotency-Key: http-{n}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.headers,
            body.len()
        );
    }
}

/// What one connection saw.
#[derive(Default)]
struct Tally {
    /// The latency of every answered request.
    latencies: Vec<Duration>,
    accepted: usize,
    /// Answered, but not 201 accepted.
    refused: usize,
    /// Every failure: refused requests and broken connections (the first few described).
    failures: usize,
    described: Vec<String>,
}

impl Tally {
    fn fail(&mut self, what: String) {
        self.failures += 1;
        if self.described.len() < FAILURES_SHOWN_MAX {
            self.described.push(what);
        }
    }
}

/// An operator token for the load generator: its registration and the string to present.
pub(crate) fn operator_token(n: usize) -> Result<(Command, String)> {
    let mut random = [0u8; 6 + 32 + 16];
    getrandom::fill(&mut random).map_err(|error| anyhow::anyhow!("failed to read random bytes from the operating system: {error}"))?;
    let id = TokenId::parse(&format!("t{}", ringfence_store::hex(&random[..6])))?;
    let secret = ringfence_store::hex(&random[6..38]);
    let mut salt = [0u8; 16];
    salt.copy_from_slice(&random[38..]);
    let token = ApiToken {
        id: id.clone(),
        actor: bench::id(ringfence_core::Actor::parse, "bench-http"),
        roles: vec![Role::Operator],
        client: None,
        salt,
        digest: ApiToken::digest_of(&salt, &secret),
        expires_at: None,
    };
    Ok((Command { meta: bench::meta(n), action: Action::RegisterApiToken(token) }, ApiToken::presented(&id, &secret)))
}

fn measure(location: &Location, args: &BenchArgs, out: &mut dyn Write) -> Result<()> {
    let mut store = Store::create(location)?;
    let mut setup = bench::setup(args.clients);
    let (token, presented) = operator_token(setup.len())?;
    setup.push(token);
    for chunk in setup.chunks(BATCH_MAX) {
        let outcomes = store.submit(chunk, ringfence_core::Timestamp::from_micros(0))?;
        if let Some(refused) = outcomes.iter().find(|o| o.status != Status::Accepted) {
            bail!("the bench's registrations were refused: {}: {}", refused.status, refused.detail);
        }
    }
    let head_before = store.head().seq;
    let movements_before = store.register().movement_count();

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("failed to start the async runtime")?;
    let workers = runtime.metrics().num_workers();
    let (address, elapsed, tallies) = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("cannot listen on 127.0.0.1")?;
        let address = listener.local_addr()?;
        let state = ringfence_server::AppState::start(store).context("failed to start the store thread")?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(ringfence_server::serve(listener, state, async {
            let _ = stopped.await;
        }));
        let plan = Arc::new(Plan {
            requests: args.requests,
            clients: args.clients,
            headers: format!("Host: {address}\r\nAuthorization: Bearer {presented}\r\n"),
        });
        let next = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let connections: Vec<_> =
            (0..args.connections).map(|_| tokio::spawn(connection(address, Arc::clone(&plan), Arc::clone(&next)))).collect();
        let mut tallies = Vec::with_capacity(connections.len());
        for connection in connections {
            tallies.push(connection.await.context("a load generator connection panicked")?);
        }
        let elapsed = started.elapsed();
        let _ = stop.send(());
        server.await.context("the HTTP server panicked")?.context("the HTTP server failed")?;
        anyhow::Ok((address, elapsed, tallies))
    })?;
    // Dropping the runtime drops the server's last handles, so its store thread ends.
    drop(runtime);

    let mut latencies: Vec<Duration> = Vec::with_capacity(args.requests);
    let (mut accepted, mut refused, mut failures, mut described) = (0, 0, 0, Vec::new());
    for tally in tallies {
        latencies.extend(tally.latencies);
        accepted += tally.accepted;
        refused += tally.refused;
        failures += tally.failures;
        described.extend(tally.described);
    }
    writeln!(
        out,
        "the HTTP API on http://{address} in this process ({workers} runtime worker threads, shared with the load generator; \
         its request log goes to stderr): {} keep-alive HTTP/1.1 connections, each posting one deposit per request \
         (POST /v1/movements) to {} clients",
        args.connections, args.clients
    )?;
    if accepted != args.requests || failures > 0 {
        described.truncate(FAILURES_SHOWN_MAX);
        bail!(
            "{} of {} requests were not accepted ({refused} answered otherwise, {} not answered); every request must get 201 \
             accepted. First failures:\n  {}",
            args.requests - accepted,
            args.requests,
            args.requests - accepted - refused,
            described.join("\n  ")
        );
    }

    latencies.sort_unstable();
    let pick = |q: f64| latencies.get(((latencies.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or_default();
    let rate = args.requests as f64 / elapsed.as_secs_f64();
    writeln!(out, "{:>10} {:>9} {:>12} {:>10} {:>10} {:>10} {:>10}", "requests", "seconds", "movements/s", "p50", "p90", "p99", "max")?;
    writeln!(
        out,
        "{:>10} {:>9.2} {:>12.0} {:>10.2?} {:>10.2?} {:>10.2?} {:>10.2?}",
        args.requests,
        elapsed.as_secs_f64(),
        rate,
        pick(0.5),
        pick(0.9),
        pick(0.99),
        latencies.last().copied().unwrap_or_default()
    )?;

    let reopen_started = Instant::now();
    let store = Store::open(location).context("failed to open the store again after the run")?;
    let reopen = reopen_started.elapsed();
    let recorded = store.register().movement_count() - movements_before;
    if recorded != args.requests as u64 {
        bail!("the store holds {recorded} movements from the run, not one per request ({}): a bug", args.requests);
    }
    let head = match store.verify()? {
        Ok(head) => head,
        Err(broken) => bail!("the journal does not verify after the run: sequence {}: {broken}", broken.seq()),
    };
    let commits = commits_after(&store, head_before)?;
    writeln!(
        out,
        "durable commits: {commits} ({:.1} movements per commit; counted from the journal, one recorded time per commit)",
        args.requests as f64 / commits.max(1) as f64
    )?;
    writeln!(
        out,
        "after the run: {recorded} movements recorded (one per request), journal intact ({} entries), reopen+verify {reopen:.2?}",
        head.seq
    )?;
    Ok(())
}

/// The durable commits that recorded the entries after `after`: every commit stamps its
/// entries with one recorded time, read at the commit's start, so consecutive entries of one
/// commit share it and two commits (each with an fsync) never do.
fn commits_after(store: &Store, after: u64) -> Result<usize> {
    let mut commits = 0;
    let mut last = after;
    let mut previous = None;
    loop {
        let page = store.entries(last, HISTORY_LIMIT_MAX)?;
        let Some(end) = page.last() else { break };
        last = end.seq;
        for entry in &page {
            if previous != Some(entry.recorded_at) {
                commits += 1;
                previous = Some(entry.recorded_at);
            }
        }
    }
    Ok(commits)
}

/// One keep-alive connection: takes the next request number until all are taken, sends it
/// and waits for its answer. Stops at the first broken connection; the others take the rest.
async fn connection(address: SocketAddr, plan: Arc<Plan>, next: Arc<AtomicUsize>) -> Tally {
    let mut tally = Tally::default();
    let stream = match TcpStream::connect(address).await.and_then(|stream| stream.set_nodelay(true).map(|()| stream)) {
        Ok(stream) => stream,
        Err(error) => {
            tally.fail(format!("cannot connect to {address}: {error}"));
            return tally;
        }
    };
    let mut request = Vec::with_capacity(512);
    let mut buffer = Vec::with_capacity(4096);
    loop {
        let n = next.fetch_add(1, Ordering::Relaxed);
        if n >= plan.requests {
            return tally;
        }
        plan.write_request(n, &mut request);
        let sent = Instant::now();
        let answer = tokio::time::timeout(RESPONSE_WAIT_MAX, exchange(&stream, &request, &mut buffer)).await;
        let took = sent.elapsed();
        match answer {
            Ok(Ok((201, body))) if accepted(&body) => {
                tally.accepted += 1;
                tally.latencies.push(took);
            }
            Ok(Ok((status, body))) => {
                tally.refused += 1;
                tally.fail(format!("request {n}: {status} {}", String::from_utf8_lossy(&body)));
                tally.latencies.push(took);
            }
            Ok(Err(error)) => {
                tally.fail(format!("request {n}: {error:#}"));
                return tally;
            }
            Err(_) => {
                tally.fail(format!("request {n}: no answer within {RESPONSE_WAIT_MAX:?}"));
                return tally;
            }
        }
    }
}

/// Whether a 201 body is `{"status":"accepted","seq":N,…}`.
fn accepted(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .is_ok_and(|value| value["status"] == "accepted" && value["seq"].as_u64().is_some_and(|seq| seq > 0))
}

/// Sends `request` and reads one response: its status code and body.
async fn exchange(stream: &TcpStream, request: &[u8], buffer: &mut Vec<u8>) -> Result<(u16, Vec<u8>)> {
    write_all(stream, request).await.context("cannot send the request")?;
    loop {
        if let Some(head_end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let (status, length) = parse_head(&buffer[..head_end])?;
            if length > RESPONSE_BODY_BYTES_MAX {
                bail!("the response body is {length} bytes, more than {RESPONSE_BODY_BYTES_MAX}");
            }
            let total = head_end + 4 + length;
            while buffer.len() < total {
                read_some(stream, buffer).await?;
            }
            let body = buffer[head_end + 4..total].to_vec();
            buffer.drain(..total);
            return Ok((status, body));
        }
        if buffer.len() > RESPONSE_HEAD_BYTES_MAX {
            bail!("the response head is longer than {RESPONSE_HEAD_BYTES_MAX} bytes");
        }
        read_some(stream, buffer).await?;
    }
}

/// The status code and `Content-Length` of a response head.
fn parse_head(head: &[u8]) -> Result<(u16, usize)> {
    let head = std::str::from_utf8(head).context("the response head is not text")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse::<u16>().ok())
        .with_context(|| format!("not an HTTP/1.1 status line: {status_line:?}"))?;
    let length = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .map(|(_, value)| value.trim().parse::<usize>())
        .context("the response has no Content-Length (the load generator reads only bodies of known length)")?
        .context("the response's Content-Length is not a number")?;
    Ok((status, length))
}

async fn write_all(stream: &TcpStream, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        match stream.try_write(bytes) {
            Ok(written) => bytes = &bytes[written..],
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => stream.writable().await?,
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// Appends what the socket has to `buffer`, waiting for at least one byte.
async fn read_some(stream: &TcpStream, buffer: &mut Vec<u8>) -> Result<()> {
    let mut chunk = [0u8; 4096];
    loop {
        stream.readable().await?;
        match stream.try_read(&mut chunk) {
            Ok(0) => bail!("the server closed the connection"),
            Ok(read) => {
                buffer.extend_from_slice(&chunk[..read]);
                return Ok(());
            }
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(error) => return Err(error.into()),
        }
    }
}
