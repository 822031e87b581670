//! `ringfence bench --scale`: what opening and reading cost as history grows (issue 16).
//! Per size, a scratch store is built with the bench's mix in batches of 8,190 (seeds first,
//! as `bench` does) and a register checkpoint taken at its head, as `ringfence checkpoint`
//! would; then each figure is a separate process of this same binary, as a user runs it:
//! `balance --client X` and `history --client X --limit 100` (cold start: a new process, the
//! page cache warm), `serve` until it listens (its store opened) and its resident memory then,
//! and `journal verify` (a replay from entry 1, every checkpoint compared). A child's peak
//! memory is the kernel's high-water mark (VmHWM) that the child reports on standard error
//! when `RINGFENCE_REPORT_PEAK_MEMORY` is set; the server's is read from /proc while it runs.

use std::io::Write;
use std::process::{Command as Process, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use ringfence_core::{Status, Timestamp};
use ringfence_store::{BATCH_MAX, CheckpointPolicy, Location, Store};

use crate::Cli;
use crate::bench::{self, BenchArgs};

/// The environment variable that makes the binary report its peak memory on exit.
pub const REPORT_PEAK_MEMORY: &str = "RINGFENCE_REPORT_PEAK_MEMORY";
/// What the binary prints before the figure, in KiB.
const PEAK_PREFIX: &str = "ringfence: peak memory (VmHWM) KiB: ";
/// Runs of each short command; the median is shown.
const RUNS: usize = 3;
/// How long the server may take to open its store and listen.
const SERVE_WAIT_MAX: Duration = Duration::from_secs(600);

/// Prints the binary's peak memory on standard error when asked (for `bench --scale`).
pub fn report_peak_memory() {
    if std::env::var_os(REPORT_PEAK_MEMORY).is_some()
        && let Some(peak) = bench::peak_memory_bytes()
    {
        eprintln!("{PEAK_PREFIX}{}", peak / 1024);
    }
}

pub fn run(cli: &Cli, args: &BenchArgs, out: &mut dyn Write) -> Result<ExitCode> {
    if args.scale_movements.len() != args.scale_clients.len() {
        bail!(
            "--scale-movements has {} sizes and --scale-clients {}: give one number of clients per size",
            args.scale_movements.len(),
            args.scale_clients.len()
        );
    }
    if let Some(&zero) = args.scale_clients.iter().find(|&&clients| clients < 2) {
        bail!("--scale-clients {zero}: at least 2 clients per store (transfers need two)");
    }
    let scratch = bench::scratch(cli, args, out)?;
    writeln!(
        out,
        "each size: a store built with the bench's mix (batches of {BATCH_MAX}) and a register checkpoint at its head; each figure below is a \
         separate process of this binary (balance and history: median of {RUNS}; the page cache warm)"
    )?;
    writeln!(
        out,
        "goals (issue 16): balance and history under 100 ms and 64 MiB at every size; serve ready under 1 s, its memory flat in history; \
         verify at least 1,000,000 entries/s in under 128 MiB"
    )?;
    writeln!(
        out,
        "{:>10} {:>9} {:>10} {:>9} {:>14} {:>16} {:>16} {:>16} {:>18}",
        "movements", "clients", "entries", "build/s", "checkpoint", "balance", "history 100", "serve ready", "journal verify"
    )?;
    for (&movements, &clients) in args.scale_movements.iter().zip(&args.scale_clients) {
        let location = scratch.location(&format!("scale_{movements}"))?;
        let measured = measure(&location, movements, clients);
        scratch.remove(&location);
        let size = measured?;
        writeln!(
            out,
            "{:>10} {:>9} {:>10} {:>9.0} {:>14} {:>16} {:>16} {:>16} {:>18}",
            movements,
            clients,
            size.entries,
            movements as f64 / size.build.as_secs_f64(),
            format!("{:.2?} {}", size.checkpoint, mib(size.checkpoint_bytes)),
            size.balance.show(),
            size.history.show(),
            size.serve.show(),
            format!("{:.0}/s {}", size.entries as f64 / size.verify.took.as_secs_f64(), mib(size.verify.peak))
        )?;
        out.flush()?;
    }
    writeln!(out, "checkpoint: time to take it and its size; balance, history, serve ready: wall time and peak memory (serve: resident)")?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn mib(bytes: u64) -> String {
    format!("{:.0}MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// One process's wall time and memory.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Took {
    pub(crate) took: Duration,
    pub(crate) peak: u64,
}

impl Took {
    fn show(&self) -> String {
        format!("{:.0?} {}", self.took, mib(self.peak))
    }
}

struct Size {
    entries: u64,
    build: Duration,
    checkpoint: Duration,
    checkpoint_bytes: u64,
    balance: Took,
    history: Took,
    serve: Took,
    verify: Took,
}

fn measure(location: &Location, movements: usize, clients: u32) -> Result<Size> {
    let mut store = Store::create(location)?;
    // Built without checkpoints on the way (they would only slow the build): one at the end.
    store.set_checkpoint_policy(CheckpointPolicy { full_replay: false, every: 0 });
    let mut setup = bench::setup(clients);
    setup.extend(bench::seeds(clients));
    for chunk in setup.chunks(BATCH_MAX) {
        let outcomes = store.submit(chunk, Timestamp::from_micros(0))?;
        if let Some(refused) = outcomes.iter().find(|o| o.status != Status::Accepted) {
            bail!("the bench's registrations were refused: {}: {}", refused.status, refused.detail);
        }
    }
    let mix = bench::Mix::new(clients);
    let started = Instant::now();
    let mut reported = Instant::now();
    for first in (0..movements).step_by(BATCH_MAX) {
        let batch = mix.movements(first, BATCH_MAX.min(movements - first), 42);
        store.submit(&batch, Timestamp::from_micros(0))?;
        if reported.elapsed() >= Duration::from_secs(10) {
            eprintln!("bench --scale: {} of {movements} movements recorded…", first + batch.len());
            reported = Instant::now();
        }
    }
    let build = started.elapsed();
    let checkpoint_started = Instant::now();
    let info = store.checkpoint(Timestamp::from_micros(0))?;
    let checkpoint = checkpoint_started.elapsed();
    let entries = store.head().seq;
    drop(store);

    let client = format!("c{}", clients / 2);
    let balance = median(location, &["balance", "--client", &client])?;
    let history = median(location, &["history", "--client", &client, "--limit", "100"])?;
    let serve = serve(location)?;
    let verify = child(location, &["journal", "verify"])?;
    Ok(Size { entries, build, checkpoint, checkpoint_bytes: info.size, balance, history, serve, verify })
}

/// The median of [`RUNS`] runs of a command (by wall time).
fn median(location: &Location, args: &[&str]) -> Result<Took> {
    let mut runs = (0..RUNS).map(|_| child(location, args)).collect::<Result<Vec<_>>>()?;
    runs.sort_by_key(|run| run.took);
    Ok(runs[RUNS / 2])
}

/// This binary, pointed at the scratch store (a data directory, or a URL naming the scratch
/// schema in the environment: it may hold a password), with nothing else from the caller's
/// environment that would change what it does.
pub(crate) fn this_binary(location: &Location) -> Result<Process> {
    let executable = std::env::current_exe().context("cannot find this program to start it again")?;
    let mut process = Process::new(executable);
    process
        .env_remove("RINGFENCE_DATA_DIR")
        .env_remove("RINGFENCE_SIGNING_KEY")
        .env_remove("RINGFENCE_STATEMENTS_INBOX")
        .env_remove("RINGFENCE_FULL_REPLAY")
        .env_remove("RINGFENCE_CHECKPOINT_EVERY");
    match location {
        Location::Sqlite(path) => {
            let data_dir = path.parent().context("the scratch store has no directory")?;
            process.arg("--data-dir").arg(data_dir).env_remove("RINGFENCE_DATABASE_URL");
        }
        Location::Postgres(target) => {
            let url = target.url_for_process().context("bench cannot name a scratch schema in a URL that sets options=")?;
            process.env("RINGFENCE_DATABASE_URL", url);
        }
    }
    Ok(process)
}

/// Runs one command to its end: its wall time and the peak memory it reported.
pub(crate) fn child(location: &Location, args: &[&str]) -> Result<Took> {
    let started = Instant::now();
    let output = this_binary(location)?
        .args(args)
        .env(REPORT_PEAK_MEMORY, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("cannot run `ringfence {}`", args.join(" ")))?;
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        bail!("`ringfence {}` failed ({}): {}", args.join(" "), output.status, stderr.trim());
    }
    let peak = stderr
        .lines()
        .find_map(|line| line.strip_prefix(PEAK_PREFIX))
        .and_then(|kib| kib.trim().parse::<u64>().ok())
        .with_context(|| format!("`ringfence {}` did not report its peak memory", args.join(" ")))?;
    Ok(Took { took, peak: peak * 1024 })
}

/// Starts `serve`: the time until it listens (its store opened, the register restored) and
/// its resident memory then.
fn serve(location: &Location) -> Result<Took> {
    let started = Instant::now();
    let (server, _) = crate::bench_serve::start_server(location, SERVE_WAIT_MAX)?;
    let took = started.elapsed();
    let resident = resident_bytes(server.0.id()).context("cannot read the server's memory from /proc")?;
    drop(server);
    Ok(Took { took, peak: resident })
}

/// A running process's resident memory (VmRSS).
fn resident_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
