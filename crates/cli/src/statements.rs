//! `ringfence statement` (one client's statement of position, optionally issued) and
//! `ringfence statements issue` (every client's for a period, resumable, with a manifest):
//! issue 17. The statement is `ringfence_reports::statement`; this module parses, writes the
//! files and journals the issues.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use ringfence_core::{Action, Actor, ClientId, Command, Currency, InstructionId, Meta, StatementIssue, Status, Timestamp};
use ringfence_reports::statement::{self, Casp, Context, Valuation};
use ringfence_store::{BATCH_MAX, Store};
use ringfence_wire::clock;
use ringfence_wire::views::statement::{OverdueView, StatementView};

use crate::Cli;

/// Who issues statements: from flags or the environment.
#[derive(Debug, Args)]
pub struct CaspArgs {
    /// The CASP's name, printed at the head of every statement.
    #[arg(long, env = "RINGFENCE_CASP_NAME")]
    pub casp_name: Option<String>,
    /// The CASP's Legal Entity Identifier.
    #[arg(long, env = "RINGFENCE_CASP_LEI")]
    pub casp_lei: Option<String>,
    /// The CASP's authorisation reference (its entry in the register of CASPs).
    #[arg(long, env = "RINGFENCE_CASP_AUTHORISATION")]
    pub casp_authorisation: Option<String>,
}

impl CaspArgs {
    /// The CASP configured, if its name is.
    pub fn configured(&self) -> Option<Casp> {
        let name = self.casp_name.clone().filter(|name| !name.trim().is_empty())?;
        Some(Casp { name, lei: self.casp_lei.clone(), authorisation: self.casp_authorisation.clone() })
    }

    fn casp(&self) -> Result<Casp> {
        self.configured()
            .ok_or_else(|| anyhow::anyhow!("name the CASP that issues the statement with --casp-name (or RINGFENCE_CASP_NAME)"))
    }
}

/// How a statement values positions at the period's end.
#[derive(Debug, Args)]
pub struct ValueArgs {
    /// The fiat currency positions are valued in at the period's end.
    #[arg(long, default_value = "EUR")]
    pub currency: String,
    /// How old a price may be at the period's end and still value a position (2d, 24h, 90m).
    #[arg(long, env = "RINGFENCE_MAX_PRICE_AGE", default_value = "24h", value_parser = crate::prices::max_age)]
    pub max_price_age: i64,
}

impl ValueArgs {
    fn valuation(&self) -> Result<Valuation> {
        let currency = Currency::parse(&self.currency).map_err(anyhow::Error::msg).context("--currency")?;
        Ok(Valuation { currency, max_price_age_micros: self.max_price_age })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum Format {
    /// The canonical JSON.
    Json,
    /// One row per figure.
    Csv,
    /// A document to send, its text extractable.
    Pdf,
}

impl Format {
    fn extension(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Pdf => "pdf",
        }
    }

    fn render(self, view: &StatementView) -> Result<Vec<u8>> {
        Ok(match self {
            Format::Json => statement::json(view),
            Format::Csv => statement::csv(view)?,
            Format::Pdf => ringfence_reports::pdf::render(view),
        })
    }
}

#[derive(Debug, Args)]
pub struct StatementArgs {
    /// The client.
    #[arg(long)]
    pub client: String,
    /// The period's first day or instant (a date means its start, 00:00 UTC).
    #[arg(long, required_unless_present = "period", conflicts_with = "period", requires = "to")]
    pub from: Option<String>,
    /// The period's last day or instant (a date means its end: `--to 2026-03-31` includes 31
    /// March).
    #[arg(long, requires = "from")]
    pub to: Option<String>,
    /// A calendar period instead of --from and --to: 2026-Q1, 2026-03 or 2026.
    #[arg(long)]
    pub period: Option<String>,
    /// Make the statement as the journal held it up to this entry (the `journal_seq` of a
    /// statement made before gives its same bytes) [default: the head].
    #[arg(long)]
    pub as_of: Option<u64>,
    /// json (canonical: the bytes the issue's SHA-256 is of), csv or pdf.
    #[arg(long, value_enum, default_value = "json")]
    pub format: Format,
    /// Write to this file instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Record in the journal that this statement was issued (client, period, entry, SHA-256
    /// of its JSON).
    #[arg(long)]
    pub issue: bool,
    /// Who issues it (recorded with the issue) [default: the --token's holder, else cli].
    #[arg(long)]
    pub actor: Option<String>,
    #[command(flatten)]
    pub casp: CaspArgs,
    #[command(flatten)]
    pub value: ValueArgs,
}

#[derive(Debug, Subcommand)]
pub enum StatementsCommand {
    /// Make and issue every client's statement for a period into a directory: each client in
    /// JSON, CSV and PDF, its issue journaled, and a manifest of every file with its SHA-256.
    /// Resumable: a client whose statement for the period was issued before is not issued
    /// again (its files are checked, and made again from the entry they reflect if missing).
    Issue(IssueArgs),
    /// The clients whose statements are overdue: the last period issued ended longer ago than
    /// --interval, or none was ever issued to a client that holds something. Exit 1 if any.
    Overdue(OverdueArgs),
}

#[derive(Debug, Args)]
pub struct OverdueArgs {
    /// Days from the end of a client's last statement period (or its registration) to the
    /// next [default: the safeguarding policy's statement_interval_days, 92 unless set].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=366))]
    pub interval_days: Option<u32>,
    /// The report at this instant instead of now (RFC 3339, or a date: the end of that day).
    #[arg(long)]
    pub at: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct IssueArgs {
    /// The period: 2026-Q1, 2026-03 or 2026.
    #[arg(long)]
    pub period: String,
    /// The directory for the statements and the manifest (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Who issues them (recorded with each issue) [default: the --token's holder, else cli].
    #[arg(long)]
    pub actor: Option<String>,
    #[command(flatten)]
    pub casp: CaspArgs,
    #[command(flatten)]
    pub value: ValueArgs,
}

/// A calendar period: `2026-Q1`, `2026-03` or `2026`, as [first instant, last instant].
pub fn period(text: &str) -> Result<(Timestamp, Timestamp)> {
    clock::period(text).map_err(anyhow::Error::msg)
}

/// A client id as a file name: the characters a path cannot hold are percent-encoded.
fn file_safe(client: &ClientId) -> String {
    client
        .as_str()
        .chars()
        .map(|c| match c {
            '/' | ':' | '%' | '@' => format!("%{:02X}", c as u32),
            c => c.to_string(),
        })
        .collect()
}

/// The actor named with --actor; without one and without --token, `cli`.
pub(crate) fn asserted(cli: &Cli, actor: Option<&str>) -> Result<Option<Actor>> {
    match (actor, &cli.token) {
        (Some(text), _) => Actor::parse(text).map(Some).context("--actor is not a valid actor name"),
        (None, Some(_)) => Ok(None),
        (None, None) => Ok(Some(Actor::parse("cli").context("cli")?)),
    }
}

fn issue_command(actor: &Actor, issue: StatementIssue, now: Timestamp) -> Result<Command> {
    // One instruction for every issue: a client id of 128 characters would not fit one that
    // names it (the entry names the client).
    let instruction = InstructionId::parse("statement-issue").context("the instruction id")?;
    Ok(Command { meta: Meta { actor: actor.clone(), instruction, effective_at: now }, action: Action::RecordStatement(issue) })
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).into()
}

pub fn statement(cli: &Cli, args: &StatementArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let client = ClientId::parse(&args.client).context("--client")?;
    let (from, to) = match (&args.period, &args.from, &args.to) {
        (Some(text), _, _) => period(text)?,
        (None, Some(from), Some(to)) => (
            clock::parse(from).map_err(anyhow::Error::msg).context("--from")?,
            clock::parse_end(to).map_err(anyhow::Error::msg).context("--to")?,
        ),
        _ => bail!("give the period: --from and --to, or --period"),
    };
    let casp = args.casp.casp()?;
    let valuation = args.value.valuation()?;
    let asserted = asserted(cli, args.actor.as_deref())?;
    let mut store = if args.issue { crate::open(cli)? } else { crate::open_read(cli)? };
    let as_of = args.as_of.unwrap_or(store.head().seq);
    // As of an earlier entry: made from the register as it was then (wallets, custodians,
    // authorisations, chain links, prices), so that the same entry gives the same bytes.
    let earlier = match as_of {
        0 => bail!("--as-of: a statement reflects a journal entry, numbered from 1"),
        seq if seq > store.head().seq => {
            bail!("--as-of: the journal holds entries 1 to {}; a statement reflects one of them, not {seq}", store.head().seq)
        }
        seq if seq < store.head().seq => Some(crate::open_as_of(cli, seq)?),
        _ => None,
    };
    let source = earlier.as_ref().unwrap_or(&store);
    let context = Context::of(source.register());
    let view = statement::statement(source, &context, &casp, &client, from, to, as_of, valuation, clock::now())?;
    let json = statement::json(&view);
    let bytes = args.format.render(&view)?;
    match &args.out {
        Some(path) => {
            write_file(path, &bytes)?;
            eprintln!("wrote {} ({} bytes, SHA-256 {})", path.display(), bytes.len(), ringfence_reports::sha256_hex(&bytes));
        }
        None => out.write_all(&bytes)?,
    }
    if args.issue {
        let now = clock::now();
        let issue = StatementIssue { client, from, to, as_of, sha256: sha256(&json) };
        let actor = crate::identity::actor_for(
            store.register(),
            cli.token.as_deref(),
            &Action::RecordStatement(issue.clone()),
            asserted.as_ref(),
            now,
        )?;
        let outcome =
            store.submit(&[issue_command(&actor, issue, now)?], now).context("failed to record the issue; nothing was recorded")?.remove(0);
        match outcome.status {
            Status::Accepted | Status::AlreadyExists => eprintln!(
                "issued: journal entry {} records the statement (SHA-256 of its JSON {})",
                outcome.seq.unwrap_or_default(),
                ringfence_reports::sha256_hex(&json)
            ),
            status => {
                eprintln!("not issued: {status}: {}", outcome.detail);
                return Ok(ExitCode::from(1));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes a file whole or not at all: to a new temporary file beside it (created exclusively,
/// so never through a link planted at its name), then renamed over the file. Not synced: a
/// statement lost in a crash is written again by the next run, which checks every issued
/// statement's files (a sync per file made 100,000 statements 70 % slower).
pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let number = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let temporary = path.with_file_name(format!(".{name}.{}.{number}.partial", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temporary)
        .and_then(|mut file| file.write_all(bytes))
        .with_context(|| format!("cannot write {}", temporary.display()));
    let renamed = written.and_then(|()| std::fs::rename(&temporary, path).with_context(|| format!("cannot write {}", path.display())));
    if renamed.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    renamed
}

pub fn run(cli: &Cli, command: &StatementsCommand, out: &mut dyn Write) -> Result<ExitCode> {
    match command {
        StatementsCommand::Issue(args) => issue(cli, args, out),
        StatementsCommand::Overdue(args) => overdue(cli, args, out),
    }
}

/// One row of the manifest.
struct Listed {
    client: String,
    format: Format,
    file: String,
    sha256: String,
    journal_seq: u64,
}

const FORMATS: [Format; 3] = [Format::Json, Format::Csv, Format::Pdf];

fn issue(cli: &Cli, args: &IssueArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let (from, to) = period(&args.period)?;
    let casp = args.casp.casp()?;
    let valuation = args.value.valuation()?;
    let asserted = asserted(cli, args.actor.as_deref())?;
    let now = clock::now();
    if to > now {
        bail!("the period {} ends at {}, in the future: statements are issued for a period that has ended", args.period, clock::format(to));
    }
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let mut store = crate::open(cli)?;
    let probe = StatementIssue { client: ClientId::parse("probe").context("probe")?, from, to, as_of: 0, sha256: [0; 32] };
    let actor =
        crate::identity::actor_for(store.register(), cli.token.as_deref(), &Action::RecordStatement(probe), asserted.as_ref(), now)?;
    let clients: Vec<ClientId> = store.register().clients().map(|c| c.id.clone()).collect();
    let as_of = store.head().seq;
    let context = Context::of(store.register());
    let (mut listed, mut pending, mut issued, mut skipped, mut remade) = (Vec::new(), Vec::new(), 0usize, 0usize, 0usize);
    // Statements issued before are made again from the register as of the entry each
    // reflects (most of a period's share one): the last such register read, with its context.
    let mut earlier: Option<(Store, Context)> = None;
    let mut problems = Vec::new();
    let started = Instant::now();
    let mut shown = Instant::now();
    for (done, client) in clients.iter().enumerate() {
        if shown.elapsed() >= Duration::from_secs(2) {
            eprintln!("statements: {done} of {} clients ({issued} issued, {skipped} issued before)…", clients.len());
            shown = Instant::now();
        }
        let base = format!("statement-{}-{}", args.period, file_safe(client));
        let path = |format: Format| args.out.join(format!("{base}.{}", format.extension()));
        let before =
            store.register().statements_of(client).iter().rev().find(|s| s.issue.from == from && s.issue.to == to).map(|s| s.issue.clone());
        let (view, journal_seq) = match &before {
            // Issued before: made again from the entry it reflects; each file that is missing
            // or not those bytes is written again.
            Some(before) => {
                if earlier.as_ref().is_none_or(|(held, _)| held.head().seq != before.as_of) {
                    let held = crate::open_as_of(cli, before.as_of)?;
                    let context = Context::of(held.register());
                    earlier = Some((held, context));
                }
                let (held, held_context) = earlier.as_ref().context("the register as of an earlier entry")?;
                let view = statement::statement(held, held_context, &casp, client, from, to, before.as_of, valuation, now)?;
                if sha256(&statement::json(&view)) != before.sha256 {
                    let intact = std::fs::read(path(Format::Json)).is_ok_and(|bytes| sha256(&bytes) == before.sha256);
                    problems.push(format!(
                        "{client}: the statement issued from entry {} is not what it gives now ({}); its files are left as they are",
                        before.as_of,
                        if intact {
                            "it was issued with another --casp-name, --casp-lei, --currency or --max-price-age, or by another build of ringfence"
                        } else {
                            "and its JSON file is missing or altered"
                        }
                    ));
                    skipped += 1;
                    continue;
                }
                skipped += 1;
                (view, before.as_of)
            }
            None => {
                let view = statement::statement(&store, &context, &casp, client, from, to, as_of, valuation, now)?;
                pending.push(issue_command(
                    &actor,
                    StatementIssue { client: client.clone(), from, to, as_of, sha256: sha256(&statement::json(&view)) },
                    now,
                )?);
                (view, as_of)
            }
        };
        let mut rewritten = false;
        for format in FORMATS {
            let bytes = format.render(&view)?;
            if before.is_none() || std::fs::read(path(format)).ok().as_deref() != Some(bytes.as_slice()) {
                write_file(&path(format), &bytes)?;
                rewritten = before.is_some();
            }
            listed.push(Listed {
                client: client.as_str().to_owned(),
                format,
                file: format!("{base}.{}", format.extension()),
                sha256: ringfence_reports::sha256_hex(&bytes),
                journal_seq,
            });
        }
        remade += usize::from(rewritten);
        if pending.len() == BATCH_MAX {
            issued += record(&mut store, &mut pending, now)?;
        }
    }
    issued += record(&mut store, &mut pending, now)?;
    listed.sort_by(|a, b| (&a.client, a.format).cmp(&(&b.client, b.format)));
    let mut manifest = String::from("client,format,file,sha256,journal_seq\n");
    for row in &listed {
        manifest.push_str(&format!("{},{},{},{},{}\n", row.client, row.format.extension(), row.file, row.sha256, row.journal_seq));
    }
    let manifest_path = args.out.join(format!("manifest-{}.csv", args.period));
    write_file(&manifest_path, manifest.as_bytes())?;
    writeln!(
        out,
        "statements for {} ({} to {}): {issued} issued now, {skipped} issued before ({remade} of them written again); {} files in {}",
        args.period,
        clock::format(from),
        clock::format(to),
        listed.len(),
        args.out.display()
    )?;
    writeln!(
        out,
        "manifest {} (SHA-256 {}) in {:.1?}",
        manifest_path.display(),
        ringfence_reports::sha256_hex(manifest.as_bytes()),
        started.elapsed()
    )?;
    for problem in &problems {
        writeln!(out, "not in the manifest: {problem}")?;
    }
    Ok(if problems.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn overdue(cli: &Cli, args: &OverdueArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let at = args.at.as_deref().map(clock::parse_end).transpose().map_err(anyhow::Error::msg).context("--at")?;
    let store = crate::open_read(cli)?;
    let last = store.entries(store.head().seq.saturating_sub(1), 1)?.first().map(|entry| entry.recorded_at);
    if let (Some(at), Some(last)) = (at, last)
        && at < last
    {
        bail!(
            "--at {} is before the journal's last entry ({}): the report counts the statements recorded up to now, so it looks forward, not back",
            clock::format(at),
            clock::format(last)
        );
    }
    let view = OverdueView::of(store.register(), at.unwrap_or_else(clock::now), args.interval_days);
    if args.json {
        writeln!(out, "{}", serde_json::to_string(&view)?)?;
    } else {
        writeln!(
            out,
            "statements overdue at {} (a statement within {} days): {} client(s)",
            view.at,
            view.interval_days,
            view.clients.len()
        )?;
        for client in &view.clients {
            match &client.last_period_end {
                Some(end) => writeln!(out, "  {}: last period ended {end}; the next was due {}", client.client, client.due_at)?,
                None => writeln!(out, "  {}: holds assets and was sent no statement; the first was due {}", client.client, client.due_at)?,
            }
        }
    }
    Ok(if view.clients.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// Journals the pending issues in one durable batch; the number accepted.
fn record(store: &mut Store, pending: &mut Vec<Command>, now: Timestamp) -> Result<usize> {
    if pending.is_empty() {
        return Ok(0);
    }
    let outcomes =
        store.submit(pending, now).context("failed to record the statements' issues; the files written are not issued yet, run again")?;
    pending.clear();
    if let Some(refused) = outcomes.iter().find(|o| !matches!(o.status, Status::Accepted | Status::AlreadyExists)) {
        bail!("an issue was refused: {}: {}", refused.status, refused.detail);
    }
    Ok(outcomes.iter().filter(|o| o.status == Status::Accepted).count())
}
