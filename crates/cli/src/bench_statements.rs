//! `ringfence bench --statements`: statements of position for every client (issue 17; goal:
//! 100,000 clients in JSON, CSV and PDF in under 5 minutes). A scratch store gets the bench's
//! registrations, seeds and mix (effective in January 2026) and a price per asset at the end
//! of March; then `ringfence statements issue --period 2026-Q1` runs as its own process, as
//! an operator runs it, and is timed with its peak memory.

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use ringfence_core::{Action, Command, Currency, Price, Status};
use ringfence_store::{BATCH_MAX, CheckpointPolicy, Store};
use ringfence_wire::clock;

use crate::Cli;
use crate::bench::{self, BenchArgs};
use crate::bench_scale::{child, mib};

pub fn run(cli: &Cli, args: &BenchArgs, out: &mut dyn Write) -> Result<ExitCode> {
    on_scratch(cli, args, out, "statements", measure)
}

/// Runs `measure` on a scratch store named `name` (for --clients of at least 2), removed after.
pub(crate) fn on_scratch(
    cli: &Cli,
    args: &BenchArgs,
    out: &mut dyn Write,
    name: &str,
    measure: fn(&ringfence_store::Location, &BenchArgs, &mut dyn Write) -> Result<()>,
) -> Result<ExitCode> {
    if args.clients < 2 {
        bail!("--clients {}: at least 2 clients (transfers need two)", args.clients);
    }
    let scratch = bench::scratch(cli, args, out)?;
    let location = scratch.location(name)?;
    let measured = measure(&location, args, out);
    scratch.remove(&location);
    measured?;
    Ok(ExitCode::SUCCESS)
}

/// A new store at `location` with the bench's registrations and a deposit of each asset to
/// each of `clients`, recorded at `now`, without checkpoints of its own.
pub(crate) fn seeded(location: &ringfence_store::Location, clients: u32, now: ringfence_core::Timestamp) -> Result<Store> {
    let mut store = Store::create(location)?;
    store.set_checkpoint_policy(CheckpointPolicy { full_replay: false, every: 0 });
    let mut setup = bench::setup(clients);
    setup.extend(bench::seeds(clients));
    for chunk in setup.chunks(BATCH_MAX) {
        let outcomes = store.submit(chunk, now)?;
        if let Some(refused) = outcomes.iter().find(|o| o.status != Status::Accepted) {
            bail!("the bench's registrations were refused: {}: {}", refused.status, refused.detail);
        }
    }
    Ok(store)
}

fn measure(location: &ringfence_store::Location, args: &BenchArgs, out: &mut dyn Write) -> Result<()> {
    let now = clock::now();
    let mut store = seeded(location, args.clients, now)?;
    let mix = bench::Mix::new(args.clients);
    let started = Instant::now();
    let mut reported = Instant::now();
    for first in (0..args.movements).step_by(BATCH_MAX) {
        let batch = mix.movements(first, BATCH_MAX.min(args.movements - first), 42);
        store.submit(&batch, now)?;
        if reported.elapsed() >= Duration::from_secs(10) {
            eprintln!("bench --statements: {} of {} movements recorded…", first + batch.len(), args.movements);
            reported = Instant::now();
        }
    }
    let build = started.elapsed();
    let at = clock::parse("2026-03-31T16:00:00Z").map_err(anyhow::Error::msg)?;
    let prices: Vec<Command> = store
        .register()
        .assets()
        .enumerate()
        .map(|(n, asset)| Command {
            meta: ringfence_core::Meta { effective_at: at, ..bench::meta(n) },
            action: Action::RecordPrice(Price {
                asset: asset.id.clone(),
                currency: Currency::EUR,
                units: 123_456 + n as u128,
                scale: 2,
                source: "bench".into(),
            }),
        })
        .collect();
    store.submit(&prices, now)?;
    store.checkpoint(now)?;
    let entries = store.head().seq;
    drop(store);

    let dir = std::env::temp_dir().join(format!("ringfence-bench-statements-{}", std::process::id()));
    let dir_text = dir.to_string_lossy().into_owned();
    let issued = child(location, &["statements", "issue", "--period", "2026-Q1", "--out", &dir_text, "--casp-name", "Bench CASP"]);
    let (mut files, mut bytes) = (0u64, 0u64);
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        files += 1;
        bytes += entry.metadata().map(|m| m.len()).unwrap_or_default();
    }
    let _ = std::fs::remove_dir_all(&dir);
    let issued = issued?;
    let per = issued.took.as_secs_f64() * 1000.0 / f64::from(args.clients);
    writeln!(
        out,
        "statements of position: `ringfence statements issue --period 2026-Q1` (JSON, CSV and PDF per client, issues journaled), its own process"
    )?;
    writeln!(out, "goal (issue 17): 100,000 clients in under 5 minutes")?;
    writeln!(
        out,
        "{:>9} {:>10} {:>10} {:>9} {:>12} {:>14} {:>8} {:>10} {:>10}",
        "clients", "movements", "entries", "build/s", "statements", "per client", "files", "bytes", "peak"
    )?;
    writeln!(
        out,
        "{:>9} {:>10} {:>10} {:>9.0} {:>12} {:>14} {:>8} {:>10} {:>10}",
        args.clients,
        args.movements,
        entries,
        args.movements as f64 / build.as_secs_f64(),
        format!("{:.1?}", issued.took),
        format!("{per:.2}ms"),
        files,
        mib(bytes),
        mib(issued.peak)
    )?;
    Ok(())
}
