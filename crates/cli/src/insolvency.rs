//! `ringfence insolvency pack`: what an administrator needs on the day of the CASP's
//! insolvency, at a cut-off (issue 18; docs/insolvency.md), made by `ringfence_reports`.

use std::collections::HashMap;
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
    /// The full JSON report of a reconciliation run of the 90 days to the cut-off (repeat for
    /// several; each is matched to its run by the SHA-256 the journal holds): each wallet
    /// counts what the latest run that observed it saw [default: report-<sha256>.json in the
    /// evidence directory, where kept].
    #[arg(long)]
    pub recon_report: Vec<PathBuf>,
    /// Where the report of a run the pack needs is not at hand, pass over that run (its
    /// wallets count at the register's figure unless an earlier run observed them) instead
    /// of refusing; the manifest names the runs passed over.
    #[arg(long)]
    pub register_holdings: bool,
    /// Where reconciliation runs kept their reports [default: <data-dir>/evidence for the
    /// embedded store].
    #[arg(long)]
    pub evidence_dir: Option<PathBuf>,
    /// Record the pack in the journal: its cut-off, the entry it reflects and its manifest's
    /// SHA-256, as evidence of what was handed over and when.
    #[arg(long)]
    pub record: bool,
    /// Who records it (with --record) [default: the --token's holder, else cli].
    #[arg(long, requires = "record")]
    pub actor: Option<String>,
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
    // The reports given, by SHA-256; each must be the report of a run the pack may use.
    let candidates = insolvency::candidate_runs(source.register(), at);
    let mut given: HashMap<String, (PathBuf, Vec<u8>)> = HashMap::new();
    for path in &args.recon_report {
        let bytes = ringfence_wire::files::read_regular(path, insolvency::REPORT_BYTES_MAX)
            .with_context(|| format!("--recon-report: cannot read {}", path.display()))?;
        let digest = ringfence_reports::sha256_hex(&bytes);
        if !candidates.iter().any(|run| ringfence_journal::hex(&run.run.report_sha256) == digest) {
            bail!(
                "--recon-report: {} (SHA-256 {digest}) is not the report of a reconciliation run with a cut-off in the 90 days to {}: it is not that run's report",
                path.display(),
                clock::format(at)
            );
        }
        given.insert(digest, (path.clone(), bytes));
    }
    let evidence = crate::oversight::evidence_dir(cli, args.evidence_dir.as_ref());
    let mut passed_over = Vec::new();
    let mut reports = |run: &ringfence_core::RunRecord| -> Result<Option<insolvency::Observed>, ringfence_reports::ReportError> {
        let Some((path, bytes)) = given.get(&ringfence_journal::hex(&run.run.report_sha256)) else {
            let kept = insolvency::kept_observations(evidence.as_deref(), run)?;
            if kept.is_none() {
                passed_over.push(run.id);
            }
            return Ok(kept);
        };
        insolvency::Observed::from_report(run, bytes)
            .map(Some)
            .map_err(|e| ringfence_reports::ReportError::Invalid(format!("--recon-report {}: {e}", path.display())))
    };
    let missing = if args.register_holdings { insolvency::MissingReport::RegisterHoldings } else { insolvency::MissingReport::Refuse };
    let made = insolvency::pack(source, at, now, &mut reports, missing).map_err(|e| match e {
        ringfence_reports::ReportError::Invalid(why) if why.contains("is not at hand") => anyhow::anyhow!(
            "{why}; give it with --recon-report FILE, or pass --register-holdings to count the register's holdings where no report is at hand"
        ),
        other => anyhow::Error::new(other),
    })?;
    for run in &passed_over {
        eprintln!(
            "warning: the report of run {run} is not at hand: passed over, its wallets count at the register's figure unless an earlier run observed them"
        );
    }
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    // The manifest is written last: an earlier pack's goes first, so a pack cut short by an
    // error has none and cannot pass for whole.
    match std::fs::remove_file(args.out.join("manifest.json")) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            bail!("cannot remove the earlier manifest {}: {e}", args.out.join("manifest.json").display())
        }
        _ => {}
    }
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
    let Some(manifest) = made.files.last() else { bail!("the pack has no manifest") };
    writeln!(
        out,
        "manifest {} (SHA-256 {}) in {:.1?}",
        args.out.join(manifest.name).display(),
        ringfence_reports::sha256_hex(&manifest.bytes),
        started.elapsed()
    )?;
    if args.record {
        use sha2::Digest as _;
        let issue = ringfence_core::PackIssue { at, as_of: head.seq, sha256: sha2::Sha256::digest(&manifest.bytes).into() };
        return record(cli, args, issue, out);
    }
    Ok(ExitCode::SUCCESS)
}

/// Journals the pack made: refused (nothing recorded, the files stay) as any command is.
fn record(cli: &Cli, args: &PackArgs, issue: ringfence_core::PackIssue, out: &mut dyn Write) -> Result<ExitCode> {
    use ringfence_core::{Action, Command, InstructionId, Meta, Status};
    let asserted = crate::statements::asserted(cli, args.actor.as_deref())?;
    let mut store = crate::open(cli)?;
    let now = clock::now();
    let action = Action::RecordPack(issue);
    let actor = crate::identity::actor_for(store.register(), cli.token.as_deref(), &action, asserted.as_ref(), now)?;
    let instruction = InstructionId::parse("insolvency-pack").context("the instruction id")?;
    let command = Command { meta: Meta { actor, instruction, effective_at: now }, action };
    let outcome = store.submit(&[command], now).context("failed to record the pack; nothing was recorded")?.remove(0);
    match outcome.status {
        Status::Accepted | Status::AlreadyExists => {
            writeln!(out, "recorded: journal entry {} records the pack ({})", outcome.seq.unwrap_or_default(), outcome.status)?;
            Ok(ExitCode::SUCCESS)
        }
        status => {
            eprintln!("not recorded: {status}: {}", outcome.detail);
            Ok(ExitCode::from(1))
        }
    }
}
