//! `ringfence bench --insolvency`: the insolvency pack over every client position (issue 18;
//! goal: 1,000,000 client positions in under 10 s). A scratch store gets the bench's
//! registrations, a deposit of each asset to each client (3 positions a client) and the mix;
//! then `ringfence insolvency pack` runs as its own process, as an operator runs it, and is
//! timed with its peak memory.

use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use ringfence_store::BATCH_MAX;
use ringfence_wire::clock;

use crate::Cli;
use crate::bench::{self, BenchArgs};
use crate::bench_scale::{child, mib};

pub fn run(cli: &Cli, args: &BenchArgs, out: &mut dyn Write) -> Result<ExitCode> {
    crate::bench_statements::on_scratch(cli, args, out, "insolvency", measure)
}

fn measure(location: &ringfence_store::Location, args: &BenchArgs, out: &mut dyn Write) -> Result<()> {
    let now = clock::now();
    let started = Instant::now();
    let mut store = crate::bench_statements::seeded(location, args.clients, now)?;
    let mix = bench::Mix::new(args.clients);
    for first in (0..args.movements).step_by(BATCH_MAX) {
        let batch = mix.movements(first, BATCH_MAX.min(args.movements - first), 42);
        store.submit(&batch, now)?;
    }
    let build = started.elapsed();
    store.checkpoint(now)?;
    let entries = store.head().seq;
    drop(store);

    let dir = std::env::temp_dir().join(format!("ringfence-bench-insolvency-{}", std::process::id()));
    let dir_text = dir.to_string_lossy().into_owned();
    let at = clock::format(clock::now());
    let made = child(location, &["insolvency", "pack", "--at", &at, "--out", &dir_text]);
    let positions =
        std::fs::read_to_string(dir.join("client_positions.csv")).map(|text| text.lines().count().saturating_sub(1)).unwrap_or(0);
    let bytes: u64 =
        std::fs::read_dir(&dir).into_iter().flatten().flatten().map(|entry| entry.metadata().map(|m| m.len()).unwrap_or_default()).sum();
    let _ = std::fs::remove_dir_all(&dir);
    let made = made?;
    writeln!(out, "insolvency pack: `ringfence insolvency pack --at <now>` over every client position, its own process")?;
    writeln!(out, "goal (issue 18): 1,000,000 client positions in under 10 s")?;
    writeln!(out, "{:>9} {:>10} {:>10} {:>9} {:>10} {:>10} {:>10}", "clients", "positions", "entries", "build", "pack", "bytes", "peak")?;
    writeln!(
        out,
        "{:>9} {:>10} {:>10} {:>9} {:>10} {:>10} {:>10}",
        args.clients,
        positions,
        entries,
        format!("{:.1?}", build),
        format!("{:.2?}", made.took),
        mib(bytes),
        mib(made.peak)
    )?;
    Ok(())
}
