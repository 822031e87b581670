//! `ringfence insolvency pack`: what an administrator needs on the day of the CASP's
//! insolvency, at a cut-off (issue 18; docs/insolvency.md), made by `ringfence_reports`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use ringfence_reports::insolvency;
use ringfence_wire::clock;

use crate::Cli;

#[derive(Debug, Subcommand)]
pub enum InsolvencyCommand {
    /// Write the insolvency pack at a cut-off into a directory: each client's entitlement per
    /// asset and the pool backing it, each pool's wallets, holdings, means of access and last
    /// reconciliation, the shortfall of each pool shared pro rata with each client's claim on
    /// the estate, the open exceptions, 90 days of reconciliations, and a manifest of every
    /// file's SHA-256 with the journal entry it reflects.
    Pack(PackArgs),
}

#[derive(Debug, Args)]
pub struct PackArgs {
    /// The cut-off of effective time: an instant (RFC 3339) or a date (the end of that day);
    /// not after now.
    #[arg(long)]
    pub at: String,
    /// The directory for the pack (created if missing; its files are replaced).
    #[arg(long)]
    pub out: PathBuf,
    /// Make it from the journal up to this entry (a manifest's journal_seq gives its bytes
    /// again) [default: the head].
    #[arg(long)]
    pub as_of: Option<u64>,
    /// The full JSON report of the last reconciliation run at or before the cut-off (its
    /// SHA-256 must be the one the journal holds): pools' holdings are what it observed
    /// [default: report-<sha256>.json in the evidence directory, if kept there].
    #[arg(long)]
    pub recon_report: Option<PathBuf>,
    /// Where reconciliation runs kept their reports [default: <data-dir>/evidence for the
    /// embedded store].
    #[arg(long)]
    pub evidence_dir: Option<PathBuf>,
}

pub fn run(cli: &Cli, command: &InsolvencyCommand, out: &mut dyn Write) -> Result<ExitCode> {
    match command {
        InsolvencyCommand::Pack(args) => pack(cli, args, out),
    }
}

fn pack(cli: &Cli, args: &PackArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let at = clock::parse_end(&args.at).map_err(anyhow::Error::msg).context("--at")?;
    let now = clock::now();
    if at > now {
        bail!("--at: the cut-off {} is after now ({}): a pack shows what was, not what may be", clock::format(at), clock::format(now));
    }
    let started = Instant::now();
    let store = crate::open_read(cli)?;
    let earlier = match args.as_of {
        Some(0) => bail!("--as-of: a pack reflects a journal entry, numbered from 1"),
        Some(seq) if seq > store.head().seq => {
            bail!("--as-of: the journal holds entries 1 to {}; a pack reflects one of them, not {seq}", store.head().seq)
        }
        Some(seq) if seq < store.head().seq => Some(crate::open_as_of(cli, seq)?),
        _ => None,
    };
    let source = earlier.as_ref().unwrap_or(&store);
    let observed = match insolvency::last_run(source.register(), at) {
        None => None,
        Some(run) => {
            let kept = crate::oversight::evidence_dir(cli, args.evidence_dir.as_ref())
                .map(|dir| dir.join(format!("report-{}.json", ringfence_journal::hex(&run.run.report_sha256))));
            match (&args.recon_report, kept) {
                (Some(path), _) => {
                    let bytes = std::fs::read(path).with_context(|| format!("--recon-report: cannot read {}", path.display()))?;
                    Some(insolvency::Observed::from_report(run, &bytes).context("--recon-report")?)
                }
                (None, Some(path)) if path.exists() => {
                    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
                    Some(insolvency::Observed::from_report(run, &bytes).with_context(|| format!("the kept report {}", path.display()))?)
                }
                _ => {
                    eprintln!(
                        "warning: the report of run {} (the last at or before the cut-off) is not at hand: pools' holdings are the register's; give it with --recon-report",
                        run.id
                    );
                    None
                }
            }
        }
    };
    let made = insolvency::pack(source, at, now, observed.as_ref())?;
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    for file in &made.files {
        crate::statements::write_file(&args.out.join(file.name), &file.bytes)?;
    }
    let head = source.head();
    writeln!(
        out,
        "insolvency pack at {} from journal entry {} (head {}): {} client positions in {} pools, {} of them short; {} files in {}",
        clock::format(at),
        head.seq,
        ringfence_journal::hex(&head.hash),
        made.positions,
        made.pools,
        made.short,
        made.files.len(),
        args.out.display()
    )?;
    if let Some(manifest) = made.files.last() {
        writeln!(
            out,
            "manifest {} (SHA-256 {}) in {:.1?}",
            args.out.join(manifest.name).display(),
            ringfence_reports::sha256_hex(&manifest.bytes),
            started.elapsed()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
