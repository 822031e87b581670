//! `ringfence bench --serve`: client and server apart, as TigerBeetle's benchmark measures.
//! Per batch size, a scratch store gets the bench's registrations, seeds and an operator
//! token; `ringfence serve` is started on it as a separate process (this same binary) on
//! loopback; this process is the client: it generates each batch of the same mix as `bench`
//! as JSON and posts it to the batch route (`POST /v1/movements/batch`) over one keep-alive
//! connection, one batch in flight: it generates the next batch while the server works on the
//! last, and sends it once the answer (all accepted movements durable) is in.
//! The figure is the wall time of the whole phase, generation, HTTP and JSON on both sides
//! included. Afterwards the server is stopped and the store opened again: it must hold every
//! accepted movement, and its journal must verify. On the embedded store (`--dir`) or on
//! PostgreSQL (`--database-url`: a scratch schema, named to the server by `search_path`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use ringfence_core::{AssetId, Status};
use ringfence_store::{BATCH_MAX, Location, Store};

use crate::Cli;
use crate::bench::{self, BenchArgs, Pick};

/// How long the server may take to say where it listens.
const START_WAIT_MAX: Duration = Duration::from_secs(60);
/// How long one batch may take to be answered.
const ANSWER_WAIT_MAX: Duration = Duration::from_secs(120);
/// The largest response read (a batch's statuses: about 120 bytes per movement).
const RESPONSE_BYTES_MAX: usize = 4 * 1024 * 1024;

pub fn run(cli: &Cli, args: &BenchArgs, out: &mut dyn Write) -> Result<ExitCode> {
    bench::check_sizes(args)?;
    let scratch = bench::scratch(cli, args, out)?;
    writeln!(
        out,
        "client and server apart: `ringfence serve` in its own process on loopback; this process generates each batch as JSON and \
         posts it to POST /v1/movements/batch over one keep-alive connection, the next once the last is answered (durable)"
    )?;
    writeln!(out, "phase/s: movements over the wall time of the whole phase (generation, HTTP, JSON, deciding, commits)")?;
    writeln!(
        out,
        "{:>10} {:>12} {:>12} {:>12} {:>14} {:>14}",
        "batch", "movements", "accepted", "phase/s", "p50 round trip", "p99 round trip"
    )?;
    let mut result = Ok(());
    for &batch_size in &args.batch_sizes {
        let count = args.movements.min(batch_size * 2_000);
        let location = scratch.location(&format!("serve_{batch_size}"))?;
        let measured = measure(&location, batch_size, count, args.clients);
        scratch.remove(&location);
        match measured {
            Ok(run) => {
                let mut trips = run.round_trips.clone();
                trips.sort();
                let pick = |q: f64| bench::quantile(&trips, q);
                writeln!(
                    out,
                    "{:>10} {:>12} {:>12} {:>12.0} {:>14.2?} {:>14.2?}",
                    batch_size,
                    count,
                    run.accepted,
                    count as f64 / run.phase.as_secs_f64(),
                    pick(0.5),
                    pick(0.99)
                )?;
            }
            Err(error) => {
                result = Err(error);
                break;
            }
        }
        out.flush()?;
    }
    result?;
    Ok(ExitCode::SUCCESS)
}

struct Measured {
    accepted: usize,
    phase: Duration,
    round_trips: Vec<Duration>,
}

/// The server process; killed when dropped (after the run it has answered everything, and
/// every answered batch is durable).
pub(crate) struct Server(pub(crate) Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn measure(location: &Location, batch_size: usize, count: usize, clients: u32) -> Result<Measured> {
    let mut store = Store::create(location)?;
    let mut setup = bench::setup(clients);
    let (token, presented) = crate::bench_http::operator_token(setup.len())?;
    setup.push(token);
    setup.extend(bench::seeds(clients));
    for chunk in setup.chunks(BATCH_MAX) {
        let outcomes = store.submit(chunk, ringfence_core::Timestamp::from_micros(0))?;
        if let Some(refused) = outcomes.iter().find(|o| o.status != Status::Accepted) {
            bail!("the bench's registrations were refused: {}: {}", refused.status, refused.detail);
        }
    }
    let movements_before = store.register().movement_count();
    drop(store);

    let (server, address) = start_server(location, START_WAIT_MAX)?;

    let mut connection = TcpStream::connect(address).with_context(|| format!("cannot connect to the server at {address}"))?;
    connection.set_nodelay(true)?;
    connection.set_read_timeout(Some(ANSWER_WAIT_MAX))?;
    let headers = format!("Host: {address}\r\nAuthorization: Bearer {presented}\r\nContent-Type: application/json\r\n");
    let assets = bench::mix_assets();
    let mut body = Vec::with_capacity(batch_size * 200);
    let mut request = Vec::with_capacity(batch_size * 200 + 256);
    let mut response = Response::default();
    let mut round_trips = Vec::with_capacity(count / batch_size + 1);
    let mut accepted = 0;
    let started = Instant::now();
    let firsts: Vec<usize> = (0..count).step_by(batch_size).collect();
    batch_json(0, batch_size.min(count), clients, &assets, &mut body);
    for (index, &first) in firsts.iter().enumerate() {
        request.clear();
        write!(
            request,
            "POST /v1/movements/batch HTTP/1.1\r\n{headers}Idempotency-Key: batch-{first}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )?;
        request.extend_from_slice(&body);
        let sent = Instant::now();
        connection.write_all(&request).context("the server closed the connection")?;
        // As a client with its own core would: the next batch is generated while the server
        // decides and commits this one (one batch in flight, as TigerBeetle's client).
        if let Some(&next) = firsts.get(index + 1) {
            batch_json(next, batch_size.min(count - next), clients, &assets, &mut body);
        }
        response.read(&mut connection)?;
        round_trips.push(sent.elapsed());
        if response.status != 200 {
            bail!("batch at movement {first}: the server answered {}: {}", response.status, String::from_utf8_lossy(&response.body));
        }
        accepted += count_accepted(&response.body);
    }
    let phase = started.elapsed();
    drop(connection);
    drop(server);

    let reopened = Store::open(location)?;
    let recorded = reopened.register().movement_count() - movements_before;
    if recorded != accepted as u64 {
        bail!("the server acknowledged {accepted} accepted movements, but the store holds {recorded}");
    }
    if let Err(broken) = reopened.verify()? {
        bail!("the journal does not verify after the run: {broken}");
    }
    Ok(Measured { accepted, phase, round_trips })
}

/// Starts `ringfence serve` on the scratch store, on a free loopback port, and waits up to
/// `wait` until it listens (its store opened).
pub(crate) fn start_server(location: &Location, wait: Duration) -> Result<(Server, SocketAddr)> {
    let mut child = crate::bench_scale::this_binary(location)?
        .args(["serve", "--listen", "127.0.0.1:0", "--recon-daily", "off"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start `ringfence serve`")?;
    let stdout = child.stdout.take().context("the server's output is not piped")?;
    let server = Server(child);
    let address = listening_address(stdout, wait)?;
    Ok((server, address))
}

/// Reads the server's first lines until it says where it listens.
fn listening_address(stdout: std::process::ChildStdout, wait: Duration) -> Result<SocketAddr> {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.split(" on http://").nth(1)
                && let Some(address) = rest.split_whitespace().next()
            {
                let _ = sender.send(address.to_owned());
            }
        }
    });
    let address =
        receiver.recv_timeout(wait).with_context(|| format!("the server did not say where it listens within {} s", wait.as_secs()))?;
    address.parse().with_context(|| format!("the server printed an address that is not one: {address}"))
}

/// The batch starting at movement `first`, as the JSON array the batch route takes: the same
/// mix and keys as `bench` records.
fn batch_json(first: usize, count: usize, clients: u32, assets: &[AssetId; 3], body: &mut Vec<u8>) {
    let mut rng = bench::picker(first, 42);
    body.clear();
    body.push(b'[');
    for n in first..first + count {
        if n > first {
            body.push(b',');
        }
        let key = format!("m42-{n}");
        // Writing into a Vec cannot fail.
        let _ = match bench::pick(&mut rng, clients) {
            Pick::Deposit { client, asset, amount } => write!(
                body,
                r#"{{"type":"deposit","key":"{key}","client":"c{client}","wallet":"{}","asset":"{}","amount":"{amount}"}}"#,
                bench::ASSET_WALLETS[asset][0],
                assets[asset]
            ),
            Pick::Transfer { from, to, asset, amount } => write!(
                body,
                r#"{{"type":"transfer","key":"{key}","from_client":"c{from}","to_client":"c{to}","asset":"{}","amount":"{amount}"}}"#,
                assets[asset]
            ),
            Pick::Withdrawal { client, asset, amount } => write!(
                body,
                r#"{{"type":"withdrawal","key":"{key}","client":"c{client}","wallet":"{}","asset":"{}","amount":"{amount}"}}"#,
                bench::ASSET_WALLETS[asset][0],
                assets[asset]
            ),
            Pick::Fee { client, asset, amount } => write!(
                body,
                r#"{{"type":"fee","key":"{key}","client":"c{client}","client_wallet":"{}","firm_wallet":"{}","asset":"{}","amount":"{amount}"}}"#,
                bench::ASSET_WALLETS[asset][0],
                bench::ASSET_WALLETS[asset][2],
                assets[asset]
            ),
            Pick::Rebalance { asset, amount } => write!(
                body,
                r#"{{"type":"rebalance","key":"{key}","from_wallet":"{}","to_wallet":"{}","asset":"{}","amount":"{amount}"}}"#,
                bench::ASSET_WALLETS[asset][0],
                bench::ASSET_WALLETS[asset][1],
                assets[asset]
            ),
        };
    }
    body.push(b']');
}

/// How many statuses in a batch answer are `accepted`.
fn count_accepted(body: &[u8]) -> usize {
    let needle = br#""status":"accepted""#;
    body.windows(needle.len()).filter(|window| *window == needle).count()
}

/// One HTTP/1.1 response, framed by `Content-Length`.
#[derive(Default)]
struct Response {
    status: u16,
    body: Vec<u8>,
    buffer: Vec<u8>,
}

impl Response {
    fn read(&mut self, connection: &mut TcpStream) -> Result<()> {
        self.buffer.clear();
        let mut chunk = [0u8; 64 * 1024];
        let head_end = loop {
            if let Some(end) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            if self.buffer.len() > RESPONSE_BYTES_MAX {
                bail!("the server's response head is larger than {RESPONSE_BYTES_MAX} bytes");
            }
            let read = connection.read(&mut chunk).context("reading the server's answer failed")?;
            if read == 0 {
                bail!("the server closed the connection before answering");
            }
            self.buffer.extend_from_slice(&chunk[..read]);
        };
        let head = String::from_utf8_lossy(&self.buffer[..head_end]).into_owned();
        self.status = head.split_whitespace().nth(1).and_then(|code| code.parse().ok()).context("the answer has no status code")?;
        let length: usize = head
            .lines()
            .find_map(|line| line.split_once(':').filter(|(name, _)| name.eq_ignore_ascii_case("content-length")))
            .and_then(|(_, value)| value.trim().parse().ok())
            .context("the answer has no Content-Length")?;
        if length > RESPONSE_BYTES_MAX {
            bail!("the server's answer of {length} bytes is larger than {RESPONSE_BYTES_MAX}");
        }
        while self.buffer.len() < head_end + length {
            let read = connection.read(&mut chunk).context("reading the server's answer failed")?;
            if read == 0 {
                bail!("the server closed the connection in the middle of its answer");
            }
            self.buffer.extend_from_slice(&chunk[..read]);
        }
        self.body.clear();
        self.body.extend_from_slice(&self.buffer[head_end..head_end + length]);
        Ok(())
    }
}
