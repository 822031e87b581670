//! The `ringfence` command line: argument parsing and the glue between the user, the import
//! format and the store. Everything here is callable from tests through [`run`].

pub mod bench;
mod bench_chain;
mod bench_http;
mod bench_insolvency;
mod bench_recon;
pub mod bench_scale;
mod bench_serve;
mod bench_statements;
pub mod demo;
pub mod identity;
pub mod insolvency;
pub mod key;
pub mod loss;
pub mod oversight;
pub mod policy;
pub mod prices;
pub mod proof;
pub mod report;
pub mod serve;
pub mod statements;
pub mod token;

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use ringfence_core::{Account, Action, Actor, AssetId, ClientId, Code, Command, Outcome, OwnAccount, Status, Timestamp, WalletId, build};
use ringfence_store::{Location, Store, Subject};

use ringfence_wire::clock;
use ringfence_wire::input::{self, Defaults, Parsed};
use ringfence_wire::views::BalancesView;
use ringfence_wire::views::journal::{Audience, HistoryView, VerifyView};

/// ringfence: the client-asset register and safeguarding control plane of a crypto-asset
/// service provider under MiCA (Articles 70 and 75).
#[derive(Debug, Parser)]
#[command(name = "ringfence", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    /// Directory of the embedded store (SQLite) [default: ./ringfence-data].
    #[arg(long, global = true, env = "RINGFENCE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database URL instead of --data-dir: postgres://user[:password]@host[:port]/database for
    /// PostgreSQL, or sqlite:///path/to/file.sqlite3.
    #[arg(long, global = true, env = "RINGFENCE_DATABASE_URL")]
    pub database_url: Option<String>,
    /// A read-only database URL (a PostgreSQL hot standby streaming from --database-url's
    /// primary, or any copy) for the commands that only read: balance, history, summary,
    /// list, policy show, token list, journal verify/head/root/prove, checkpoint --list; and
    /// for `serve`, which then answers the API's read routes from it and refuses writes.
    /// Commands that write still use --database-url (or --data-dir).
    #[arg(long, global = true, env = "RINGFENCE_READ_DATABASE_URL")]
    pub read_database_url: Option<String>,
    /// An API token (`rf_…`, see `ringfence token create`) saying who records what this
    /// command records. Needed, while an approval policy is in force, for four-eyes decisions
    /// and for the commands the policy holds back; a typed --actor is refused for them.
    #[arg(long, global = true, env = "RINGFENCE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The journal signing key file (`ringfence key generate`) this process signs its
    /// commits with. Needed by every command that writes once a signing key is registered.
    #[arg(long, global = true, env = "RINGFENCE_SIGNING_KEY", value_name = "FILE")]
    pub signing_key: Option<PathBuf>,
    /// Rebuild the register by replaying the journal from entry 1, not from the newest
    /// register checkpoint (the result is the same; `journal verify` always replays in full).
    #[arg(long, global = true, env = "RINGFENCE_FULL_REPLAY")]
    pub full_replay: bool,
    /// Take a register checkpoint between batches (a command after a batch it commits, the
    /// server when its queue is empty) once this many journal entries follow the newest one,
    /// so that opening the store replays about that many at most (0: only with `ringfence
    /// checkpoint`).
    #[arg(long, global = true, env = "RINGFENCE_CHECKPOINT_EVERY", value_name = "ENTRIES", default_value_t = ringfence_store::CHECKPOINT_EVERY_DEFAULT)]
    pub checkpoint_every: u64,
    /// Keep the postings of about this many recent journal entries in memory (up to this
    /// many plus a batch): the batch that finds more moves them to the posting index, which
    /// `balance --at`, `history` and cut-off reconciliations read (smaller: less memory, more
    /// and smaller index writes).
    #[arg(long, global = true, env = "RINGFENCE_POSTING_INDEX_EVERY", value_name = "ENTRIES", default_value_t = ringfence_store::POSTING_INDEX_EVERY, value_parser = clap::value_parser!(u64).range(1..))]
    pub posting_index_every: u64,
    #[command(subcommand)]
    pub command: CliCommand,
}

#[derive(Debug, Subcommand)]
pub enum CliCommand {
    /// Create an empty store (in --data-dir, or at --database-url), schema included.
    Init,
    /// Bring the store's schema to this version of ringfence (on PostgreSQL, also creates it
    /// in an empty database), move the postings the register holds in memory to the posting
    /// index, and take a register checkpoint. Safe to run again and from several processes at
    /// once.
    Migrate(MigrateArgs),
    /// Apply a JSON Lines file of registrations and movements (see docs/import-format.md).
    ///
    /// Every line is parsed first; if any line is malformed, the errors are listed with their
    /// line numbers and nothing is applied (exit 2). Otherwise lines are applied in order, in
    /// batches, and each gets a status. Exit 1 if any line was rejected.
    Import(ImportArgs),
    /// Balances of a client, a wallet or a firm own account, now or at an instant.
    Balance(BalanceArgs),
    /// The balances of a client, a wallet or a firm own account valued in a fiat currency,
    /// now or at an instant, each value naming its price, source and instant (docs/prices.md).
    Valuation(prices::ValuationArgs),
    /// The price register: import a price provider's CSV file, list the prices recorded.
    #[command(subcommand)]
    Prices(prices::PricesCommand),
    /// A client's statement of position for a period (JSON, CSV or PDF), made from the journal
    /// up to one entry; with --issue, its issue is journaled (docs/statements.md).
    Statement(Box<statements::StatementArgs>),
    /// Every client's statement for a period, issued into a directory with a manifest.
    #[command(subcommand)]
    Statements(statements::StatementsCommand),
    /// What an administrator needs if the CASP fails: the insolvency pack at a cut-off
    /// (docs/insolvency.md).
    #[command(subcommand)]
    Insolvency(insolvency::InsolvencyCommand),
    /// A loss of client assets (MiCA Art 75(8)): share one among the clients of a wallet's
    /// pool, pro rata, as `loss` movements to import (docs/insolvency.md).
    #[command(subcommand)]
    Loss(loss::LossCommand),
    /// Movements of a client, a wallet or a firm own account over a period.
    History(HistoryArgs),
    /// The segregation summary per asset: client positions against client-class holdings,
    /// firm holdings against own accounts, and the hot/cold split.
    Summary(SummaryArgs),
    /// Journal integrity.
    #[command(subcommand)]
    Journal(JournalCommand),
    /// Build a sample CASP with a few thousand movements, misappropriation attempts included,
    /// and print the summary and what was refused and why.
    Demo(demo::DemoArgs),
    /// API tokens for the HTTP API: create (shown once), list, revoke.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Measure durable, invariant-checked movements per second on the embedded store, or on
    /// PostgreSQL with --database-url (in scratch schemas, dropped afterwards).
    Bench(bench::BenchArgs),
    /// Serve the HTTP API (docs/api.md) until SIGINT or SIGTERM.
    Serve(serve::ServeArgs),
    /// Watch EVM chains: start a watch, ingest confirmed blocks, show what is not linked.
    #[command(subcommand)]
    Chain(oversight::ChainCommand),
    /// Reconciliation runs against the chains and sub-custodian statements, recorded with
    /// their inputs (docs/reconciliation.md).
    #[command(subcommand)]
    Recon(oversight::ReconCommand),
    /// Exceptions raised by reconciliation runs: list, investigate, resolve, approve, escalate.
    #[command(subcommand)]
    Exceptions(oversight::ExceptionsCommand),
    /// The policies in force: four-eyes approvals, exception clocks, access separation.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// List registered entities of one kind, in registration order: assets, clients, wallets,
    /// key-sets, sub-custodians, institutions, fiat-accounts or client-instructions (the
    /// same pages as `GET /v1/entities/{kind}`).
    List(ListArgs),
    /// Journal signing keys: generate a key file, register or retire a public key, list them.
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// Take a register checkpoint at the journal's head now: opening the store then restores
    /// it and replays only the entries after it. Writers also take one on their own (see
    /// --checkpoint-every). With --list, show the stored ones; with --discard, remove them.
    Checkpoint(CheckpointArgs),
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Empty the posting index and build it again from the journal (for one that a query
    /// found damaged; stop the other ringfence processes on the store first).
    #[arg(long)]
    pub rebuild_index: bool,
}

#[derive(Debug, Args)]
pub struct CheckpointArgs {
    /// List the stored checkpoints instead of taking one.
    #[arg(long, conflicts_with = "discard")]
    pub list: bool,
    /// Remove every stored checkpoint (the next open replays from entry 1), for one that
    /// `journal verify` found to differ from the replay.
    #[arg(long)]
    pub discard: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// assets, clients, wallets, key-sets, sub-custodians, institutions, fiat-accounts or
    /// client-instructions.
    pub kind: String,
    /// At most this many (1 to 1000).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub limit: u32,
    /// Skip the first N (the `next_after` of the page before).
    #[arg(long, default_value_t = 0)]
    pub after: u32,
    /// Print the page as `GET /v1/entities/{kind}` answers it.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The file to import; `-` reads standard input.
    pub file: PathBuf,
    /// Actor recorded for lines without an "actor".
    #[arg(long, default_value = "cli")]
    pub actor: String,
    /// Commands per durable batch (1 to 8190).
    #[arg(long, default_value_t = 8190, value_parser = clap::value_parser!(u16).range(1..=8190))]
    pub batch_size: u16,
    /// Print only rejected lines and the totals.
    #[arg(long)]
    pub quiet: bool,
    /// Print one JSON object per line instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct SubjectArgs {
    /// A client's positions.
    #[arg(long)]
    pub client: Option<String>,
    /// A wallet's holdings.
    #[arg(long)]
    pub wallet: Option<String>,
    /// One of the firm's own accounts: capital or fee_income.
    #[arg(long, value_parser = own_account)]
    pub own: Option<OwnAccount>,
}

/// An own account by its code; `fee-income`, the spelling before codes were unified, is still
/// read so that scripts written for it keep working.
fn own_account(text: &str) -> Result<OwnAccount, String> {
    OwnAccount::from_code(&text.replace('-', "_")).ok_or_else(|| format!("expected one of {}", OwnAccount::expected()))
}

#[derive(Debug, Args)]
pub struct BalanceArgs {
    #[command(flatten)]
    pub subject: SubjectArgs,
    /// Only this asset (CAIP-19).
    #[arg(long)]
    pub asset: Option<String>,
    /// The balance at this instant of effective time instead of now: RFC 3339, or a date,
    /// which means the end of that day (2026-03-31 is 2026-03-31T23:59:59.999999Z).
    #[arg(long)]
    pub at: Option<String>,
    /// Print JSON (the same view as the API's) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub subject: SubjectArgs,
    /// From this instant of effective time (inclusive): RFC 3339, or a date, which means the
    /// start of that day.
    #[arg(long)]
    pub from: Option<String>,
    /// Up to this instant of effective time (inclusive): RFC 3339, or a date, which means the
    /// end of that day (`--to 2026-03-31` includes 31 March).
    #[arg(long)]
    pub to: Option<String>,
    /// At most this many movements (at most 10000).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub limit: u32,
    /// Only movements recorded after this journal sequence number: the `next_after` of the
    /// page before (as `GET /v1/history`).
    #[arg(long, default_value_t = 0)]
    pub after: u64,
    /// The page as `GET /v1/history` answers it.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SummaryArgs {
    /// The summary at this instant of effective time (RFC 3339, or a date: the end of that
    /// day), from every account's balance then, instead of now.
    #[arg(long)]
    pub at: Option<String>,
    /// Print JSON (the same view as the API's) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum JournalCommand {
    /// Check every stored entry against the hash chain. Exit 0 when intact; otherwise exit 1
    /// and name the first bad sequence number.
    Verify {
        /// The result as `GET /v1/journal/verify` answers it.
        #[arg(long)]
        json: bool,
        /// Also check that the journal extends every head in this anchor file (written by
        /// `journal anchor` or `serve --anchor-file`): a deleted tail or a rewritten middle,
        /// which the hash chain alone cannot show, fails here at the anchor's entry.
        #[arg(long)]
        anchors: Option<PathBuf>,
        /// The incremental (daily) check: start from the newest register checkpoint that
        /// checks out and read only the entries after it (chain, signatures, each re-decided),
        /// as opening the store does. Entries up to the checkpoint, and the checkpoint's state
        /// against a replay, are left to the full check (without this flag).
        #[arg(long)]
        since_checkpoint: bool,
    },
    /// Append the journal head (sequence number, hash, time) to an anchor file kept outside
    /// the database (another volume, another machine's share): `journal verify --anchors`
    /// then checks the journal still extends it. Run it on a schedule, or let `serve
    /// --anchor-file` do it.
    Anchor {
        /// The anchor file (JSON Lines, appended; created if missing).
        #[arg(long)]
        file: PathBuf,
    },
    /// Print the journal head (last sequence number and its hash), to anchor it elsewhere.
    Head,
    /// The journal's Merkle root (RFC 6962, over the entries' hashes) at its head or at
    /// --size. Keep it: `journal prove --from` later shows the journal still extends it.
    Root {
        /// The number of entries to take (default: all).
        #[arg(long)]
        size: Option<u64>,
        /// Print JSON (the same view as the API's) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Write a Merkle proof (JSON): that entry --seq is in the journal (inclusion), or that the
    /// journal extends its first --from entries (consistency), in about log2(entries) hashes.
    /// `journal check-proof` (or any RFC 9162 verifier) checks it without the journal.
    Prove {
        /// The entry to prove included.
        #[arg(long, conflicts_with = "from", required_unless_present = "from")]
        seq: Option<u64>,
        /// The size of the older journal (whose root the auditor kept) to prove extended.
        #[arg(long)]
        from: Option<u64>,
        /// The size of the journal the proof is for (default: all entries).
        #[arg(long)]
        size: Option<u64>,
        /// Write the proof to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check a proof file from `journal prove`, offline: exit 0 when valid, 1 when not.
    CheckProof {
        /// The proof file (JSON, from `journal prove`).
        file: PathBuf,
        /// The root you hold: the journal's for an inclusion proof, the older journal's (from
        /// `journal root` then) for a consistency proof. Without it, the proof is only checked
        /// against the roots it carries.
        #[arg(long)]
        root: Option<String>,
    },
}

/// The embedded store's directory when no --data-dir (or RINGFENCE_DATA_DIR) names one.
pub const DEFAULT_DATA_DIR: &str = "./ringfence-data";

impl Cli {
    /// The embedded store's directory: --data-dir, or the default.
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR))
    }

    /// The read-only database of --read-database-url, if one is given.
    pub fn read_location(&self) -> Result<Option<Location>> {
        self.read_database_url.as_deref().map(|url| Location::parse_url(url).context("--read-database-url")).transpose()
    }

    pub fn location(&self) -> Result<Location> {
        match &self.database_url {
            Some(url) => Ok(Location::parse_url(url)?),
            None => Ok(Location::data_dir(&self.data_dir())),
        }
    }
}

/// Opens the store for a command that only reads: read-only on --read-database-url when
/// given, otherwise as [`open`] does.
pub(crate) fn open_read(cli: &Cli) -> Result<Store> {
    let Some(location) = cli.read_location()? else { return open(cli) };
    let store = Store::open_read_only(&location, ringfence_store::CheckpointPolicy::process_default())
        .with_context(|| format!("failed to open the read-only store at {}", location.describe()))?;
    warn_passed_over(&store);
    Ok(store)
}

/// Opens a read-only handle whose register is as it was right after entry `seq` (on
/// --read-database-url when given): for reports made as of an earlier entry.
pub(crate) fn open_as_of(cli: &Cli, seq: u64) -> Result<Store> {
    let location = match cli.read_location()? {
        Some(location) => location,
        None => cli.location()?,
    };
    let store = Store::open_as_of(&location, ringfence_store::CheckpointPolicy::process_default(), seq)
        .with_context(|| format!("failed to read the register as of entry {seq} at {}", location.describe()))?;
    warn_passed_over(&store);
    Ok(store)
}

pub(crate) fn open(cli: &Cli) -> Result<Store> {
    let location = cli.location()?;
    let signer = key::signer(cli)?;
    let store = Store::open_with(&location, signer).with_context(|| format!("failed to open the store at {}", location.describe()))?;
    warn_passed_over(&store);
    Ok(store)
}

/// Whether replays show their progress: `serve` stops once its store is open (its later
/// catch-ups and verifications are not a user's wait).
pub(crate) static SHOW_REPLAY_PROGRESS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// How long a replay runs before progress is shown, and then how often.
const PROGRESS_AFTER: std::time::Duration = std::time::Duration::from_secs(2);

/// Says on standard error how far a long replay of the journal has come: from two seconds
/// into the process, at most every two seconds.
fn replay_progress(seq: u64) {
    if !SHOW_REPLAY_PROGRESS.load(std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    static SHOWN_AT_MS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let started = STARTED.get_or_init(std::time::Instant::now);
    let now = started.elapsed();
    let now_ms = u64::try_from(now.as_millis()).unwrap_or(u64::MAX);
    let shown = SHOWN_AT_MS.load(std::sync::atomic::Ordering::Relaxed);
    let after = u64::try_from(PROGRESS_AFTER.as_millis()).unwrap_or(u64::MAX);
    if now_ms >= after && now_ms.saturating_sub(shown) >= after {
        SHOWN_AT_MS.store(now_ms, std::sync::atomic::Ordering::Relaxed);
        eprintln!("replaying the journal: entry {seq}…");
    }
}

/// Takes a register checkpoint between batches when the policy wants one. What is committed
/// stays committed if it fails: say so on standard error and go on (the next open replays a
/// longer tail of the journal).
pub(crate) fn take_checkpoint_if_due(store: &mut Store, now: Timestamp) {
    if let Err(error) = store.checkpoint_if_due(now) {
        eprintln!("warning: the register checkpoint due at entry {} was not written: {error:#}", store.head().seq);
    }
}

/// Says on standard error which checkpoints opening the store passed over, and why: a
/// damaged or edited one is worth knowing about, and the open was slower for it.
pub(crate) fn warn_passed_over(store: &Store) {
    for why in &store.opened().passed_over {
        eprintln!("warning: {why}; replayed the journal instead");
    }
}

fn checkpoint(cli: &Cli, args: &CheckpointArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let mut store = if args.list { open_read(cli)? } else { open(cli)? };
    if args.discard {
        let discarded = store.discard_checkpoints()?;
        writeln!(out, "discarded {discarded} register checkpoint(s); the next open replays the journal from entry 1")?;
        return Ok(ExitCode::SUCCESS);
    }
    if !args.list {
        let info = store.checkpoint(clock::now())?;
        writeln!(
            out,
            "register checkpoint at entry {} (head hash {}): {} bytes of state, SHA-256 {}; opening the store now replays only the entries after it",
            info.seq,
            ringfence_store::hex(&info.head),
            info.size,
            ringfence_store::hex(&info.hash)
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let checkpoints = store.checkpoints()?;
    if checkpoints.is_empty() {
        writeln!(out, "no register checkpoints: opening the store replays the journal from entry 1")?;
    }
    let opened = store.opened().checkpoint;
    for info in checkpoints {
        let build = if info.layout == ringfence_core::register::STATE_LAYOUT { "this build" } else { "another build" };
        let used = if opened == Some(info.seq) { ", used to open the store" } else { "" };
        writeln!(
            out,
            "entry {}  taken {}  {} bytes  SHA-256 {}  ({build}{used})",
            info.seq,
            clock::format(info.taken_at),
            info.size,
            ringfence_store::hex(&info.hash)
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs one command, writing to `out`.
pub fn run(cli: Cli, out: &mut dyn Write) -> Result<ExitCode> {
    ringfence_store::CheckpointPolicy { full_replay: cli.full_replay, every: cli.checkpoint_every }.set_process_default();
    ringfence_store::set_posting_index_every_default(cli.posting_index_every);
    replay_progress(0);
    ringfence_store::set_replay_progress(replay_progress);
    match &cli.command {
        CliCommand::Init => {
            let location = cli.location()?;
            Store::create(&location).with_context(|| format!("failed to initialise a store at {}", location.describe()))?;
            writeln!(out, "initialised an empty ringfence store at {}", location.describe())?;
            Ok(ExitCode::SUCCESS)
        }
        CliCommand::Migrate(args) => {
            let location = cli.location()?;
            let migrated =
                ringfence_store::migrate(&location).with_context(|| format!("failed to migrate the store at {}", location.describe()))?;
            if migrated.from == migrated.to {
                writeln!(out, "the store at {} is up to date (schema {})", location.describe(), migrated.to)?;
            } else {
                writeln!(out, "migrated the store at {} from schema {} to {}", location.describe(), migrated.from, migrated.to)?;
            }
            if args.rebuild_index {
                let runs = ringfence_store::reset_posting_index(&location)
                    .with_context(|| format!("failed to empty the posting index at {}", location.describe()))?;
                writeln!(out, "emptied the posting index ({runs} runs); it is built again from the journal below")?;
            }
            // A first checkpoint for this build, so that the next open does not replay the
            // whole journal (opening now does, once: say so, it is the long part).
            eprintln!("opening the store (on a first run of this build, a replay of the whole journal: seconds per million entries)…");
            let mut store = open(&cli)?;
            let head = store.head();
            let floor = store.register().log_floor();
            let indexed = floor < head.seq;
            if indexed {
                eprintln!("moving the postings and movement records of entries {} to {} to the posting index…", floor + 1, head.seq);
                let end = store.index_postings()?;
                writeln!(
                    out,
                    "the posting index holds the postings up to entry {end}: past balances and histories read it, and idempotency the movement records"
                )?;
            }
            // Opened from a checkpoint at the head that holds no posting the index has: this
            // build reads it, nothing to take.
            if head.seq > 0 && (indexed || store.opened().checkpoint != Some(head.seq)) {
                let info = store.checkpoint(clock::now())?;
                writeln!(
                    out,
                    "took a register checkpoint at entry {} ({} bytes of state): opening the store now replays only what follows it",
                    info.seq, info.size
                )?;
            }
            Ok(ExitCode::SUCCESS)
        }
        CliCommand::Import(args) => import(&cli, args, out),
        CliCommand::Balance(args) => balance(&cli, args, out),
        CliCommand::Valuation(args) => prices::valuation(&cli, args, out),
        CliCommand::Prices(command) => prices::run(&cli, command, out),
        CliCommand::Statement(args) => statements::statement(&cli, args, out),
        CliCommand::Statements(command) => statements::run(&cli, command, out),
        CliCommand::Insolvency(command) => insolvency::run(&cli, command, out),
        CliCommand::Loss(command) => loss::run(&cli, command, out),
        CliCommand::History(args) => history(&cli, args, out),
        CliCommand::Summary(args) => {
            let at = args.at.as_deref().map(clock::parse_end).transpose().map_err(anyhow::Error::msg).context("--at")?;
            let store = open_read(&cli)?;
            let view = match at {
                Some(at) => ringfence_wire::views::SummaryView::at(store.head().seq, Some(at), &store.summary_at(at)?),
                None => ringfence_wire::views::SummaryView::of(store.register()),
            };
            report::summary(&view, args.json, out)?;
            Ok(ExitCode::SUCCESS)
        }
        CliCommand::Journal(JournalCommand::Verify { json, anchors, since_checkpoint }) => {
            // The anchor file first: a file that cannot be read or parsed is an error before
            // anything is checked.
            let anchors = anchors
                .as_ref()
                .map(|path| {
                    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read the anchor file {}", path.display()))?;
                    ringfence_journal::anchor::parse(&text).map_err(|e| anyhow::anyhow!("the anchor file {}: {e}", path.display()))
                })
                .transpose()?;
            let store = open_for_verify(&cli)?;
            let verified = if *since_checkpoint { store.verify_since_checkpoint()? } else { store.verify_with_keys()? };
            for why in &verified.passed_over {
                eprintln!("warning: {why}; it was passed over");
            }
            let keys = &verified.keys;
            let mut view = match &verified.chain {
                Ok(head) => VerifyView::intact(head.seq, &head.hash),
                Err(broken) => VerifyView::broken(broken.seq(), broken.to_string()),
            };
            let mut signed = 0;
            if let (Some(anchors), true, Some(seq), Some(_)) = (&anchors, view.intact, view.head_seq, &view.head_hash) {
                let seqs: Vec<u64> = anchors.iter().map(|a| a.seq).collect();
                let hashes = store.hashes_at(&seqs)?;
                let head = ringfence_journal::Head { seq, hash: hashes.get(&seq).copied().unwrap_or_default() };
                match ringfence_journal::anchor::check(anchors, head, |seq| hashes.get(&seq).copied()) {
                    Ok(extended) => view.anchors = Some(extended),
                    Err(broken) => view = VerifyView::broken(broken.seq(), broken.to_string()),
                }
                // A signed anchor must carry a valid signature of a key the journal registered.
                for anchor in anchors {
                    let problem = match anchor.verify_signature() {
                        Ok(None) => continue,
                        Ok(Some(key)) if keys.iter().any(|r| r.key.public_key == key) => {
                            signed += 1;
                            continue;
                        }
                        Ok(Some(key)) => format!(
                            "is signed by {}, which this journal never registered as a signing key",
                            ringfence_core::SigningKey::fingerprint(&key)
                        ),
                        Err(why) => why,
                    };
                    if view.intact {
                        view = VerifyView::broken(
                            anchor.seq,
                            format!(
                                "the anchor of entry {} published at {} {problem}: the anchor file was edited",
                                anchor.seq, anchor.anchored_at
                            ),
                        );
                    }
                }
            }
            view = view.with_checkpoints(verified.checkpoints.iter().map(ringfence_store::CheckpointCheck::code));
            view.since_checkpoint = verified.since;
            let forged = view.checkpoints.iter().any(|check| check.differs());
            if *json {
                writeln!(out, "{}", serde_json::to_string(&view)?)?;
            } else if let (Some(seq), Some(hash)) = (view.head_seq, &view.head_hash) {
                let anchored = view
                    .anchors
                    .map(|n| format!("; extends all {n} anchor(s), {signed} of them signed by a journal signing key"))
                    .unwrap_or_default();
                match (verified.since, *since_checkpoint) {
                    (Some(from), _) => writeln!(
                        out,
                        "journal intact from the register checkpoint at entry {from}: {} entries after it checked, head {seq}, head hash {hash}{anchored} (the checkpoint is trusted, its signing keys included: it and entries 1 to {from} are for the full check, `ringfence journal verify`)",
                        seq - from
                    )?,
                    (None, true) => writeln!(
                        out,
                        "journal intact: {seq} entries, head hash {hash}{anchored} (no usable register checkpoint: the whole journal was checked)"
                    )?,
                    (None, false) => writeln!(out, "journal intact: {seq} entries, head hash {hash}{anchored}")?,
                }
            } else {
                writeln!(out, "journal damaged at sequence {}: {}", view.broken_at.unwrap_or(0), view.message.as_deref().unwrap_or(""))?;
            }
            if !*json {
                for check in &view.checkpoints {
                    let said = match (check.verdict, &check.detail) {
                        ("matches", _) => "matches the replay from entry 1".to_owned(),
                        ("differs", detail) => format!(
                            "DIFFERS from the replay from entry 1 ({}): it was not written by ringfence, and opening the store would use it; discard it with `ringfence checkpoint --discard`",
                            detail.as_deref().unwrap_or("")
                        ),
                        (_, detail) => format!("not compared: it {}", detail.as_deref().unwrap_or("could not be read")),
                    };
                    writeln!(out, "register checkpoint at entry {}: {said}", check.seq)?;
                }
                match &verified.index {
                    ringfence_store::IndexCheck::Matches { runs: 0, .. } => {}
                    ringfence_store::IndexCheck::Matches { runs, through } => writeln!(
                        out,
                        "posting index: {runs} run(s) through entry {through} match the postings and movement records the replay made"
                    )?,
                    ringfence_store::IndexCheck::Differs { end, why } => writeln!(
                        out,
                        "posting index: the run ending at entry {end} DIFFERS from the replay ({why}): balances at past instants, histories and idempotency answers read from it are wrong; rebuild it with `ringfence migrate --rebuild-index`"
                    )?,
                    ringfence_store::IndexCheck::NotChecked(why) if !*since_checkpoint => {
                        writeln!(out, "posting index: not checked ({why})")?
                    }
                    ringfence_store::IndexCheck::NotChecked(_) => {}
                }
            }
            let index_differs = matches!(verified.index, ringfence_store::IndexCheck::Differs { .. });
            Ok(if view.intact && !forged && !index_differs { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        CliCommand::Journal(JournalCommand::Anchor { file }) => {
            let store = open(&cli)?;
            let head = store.head();
            anchor_to(file, head, store.signer().as_deref())?;
            writeln!(out, "anchored entry {} (head hash {}) to {}", head.seq, ringfence_store::hex(&head.hash), file.display())?;
            Ok(ExitCode::SUCCESS)
        }
        CliCommand::Journal(JournalCommand::Head) => {
            let store = open_read(&cli)?;
            let head = store.head();
            writeln!(out, "{} {}", head.seq, ringfence_store::hex(&head.hash))?;
            Ok(ExitCode::SUCCESS)
        }
        CliCommand::Journal(JournalCommand::Root { size, json }) => proof::root(&cli, *size, *json, out),
        CliCommand::Journal(JournalCommand::Prove { seq, from, size, out: file }) => {
            proof::prove(&cli, *seq, *from, *size, file.as_deref(), out)
        }
        CliCommand::Journal(JournalCommand::CheckProof { file, root }) => proof::check(file, root.as_deref(), out),
        CliCommand::Demo(args) => demo::run(&cli, args, out),
        CliCommand::Token(command) => token::run(&cli, command, out),
        CliCommand::Bench(args) => bench::run(&cli, args, out),
        CliCommand::Serve(args) => serve::run(&cli, args, out),
        CliCommand::Chain(command) => oversight::chain(&cli, command, out),
        CliCommand::Recon(command) => oversight::recon(&cli, command, out),
        CliCommand::Exceptions(command) => oversight::exceptions(&cli, command, out),
        CliCommand::Policy(command) => policy::run(&cli, command, out),
        CliCommand::Key(command) => key::run(&cli, command, out),
        CliCommand::List(args) => list(&cli, args, out),
        CliCommand::Checkpoint(args) => checkpoint(&cli, args, out),
    }
}

/// `journal verify` must work on a damaged journal, which `Store::open` refuses to load.
/// Appends `head` to the anchor file at `path` (created if missing) and makes it durable.
/// Signed by `signer` when given (docs/signing.md).
pub fn anchor_to(path: &std::path::Path, head: ringfence_journal::Head, signer: Option<&ringfence_store::Signer>) -> Result<()> {
    use std::io::Write as _;
    let line = ringfence_journal::anchor::line(head, &clock::format(clock::now()), signer);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open the anchor file {}", path.display()))?;
    file.write_all(format!("{line}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write the anchor file {}", path.display()))?;
    Ok(())
}

pub(crate) fn open_for_verify(cli: &Cli) -> Result<ringfence_store::Verification> {
    let location = match cli.read_location()? {
        Some(location) => location,
        None => cli.location()?,
    };
    ringfence_store::Verification::open(&location).with_context(|| format!("failed to open the store at {}", location.describe()))
}

fn subject(args: &SubjectArgs) -> Result<Subject> {
    Ok(match (&args.client, &args.wallet, args.own) {
        (Some(client), _, _) => Subject::Client(ClientId::parse(client)?),
        (_, Some(wallet), _) => Subject::Wallet(WalletId::parse(wallet)?),
        (_, _, Some(own)) => Subject::Own(own),
        _ => bail!("name a --client, a --wallet or an --own account"),
    })
}

fn account_of(subject: &Subject) -> Account {
    match subject {
        Subject::Client(client) => Account::Position(client.clone()),
        Subject::Wallet(wallet) => Account::Holding(wallet.clone()),
        Subject::Own(own) => Account::Own(*own),
    }
}

fn check_known(store: &Store, subject: &Subject) -> Result<()> {
    let register = store.register();
    match subject {
        Subject::Client(client) if register.client(client).is_none() => bail!("client {client} is not registered"),
        Subject::Wallet(wallet) if register.wallet(wallet).is_none() => bail!("wallet {wallet} is not registered"),
        _ => Ok(()),
    }
}

fn list(cli: &Cli, args: &ListArgs, out: &mut dyn Write) -> Result<ExitCode> {
    use ringfence_wire::views::entities::{EntityKind, EntityPageView};
    let Some(kind) = EntityKind::parse(&args.kind) else {
        bail!("no such entities: {:?}; use one of {}", args.kind, EntityKind::names());
    };
    let store = open_read(cli)?;
    let page = EntityPageView::of(store.register(), kind, args.after as usize, args.limit as usize, clock::now());
    if args.json {
        writeln!(out, "{}", serde_json::to_string(&page)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    if page.items.is_empty() {
        writeln!(
            out,
            "no {} registered{}",
            args.kind,
            if args.after > 0 { format!(" after the first {}", args.after) } else { String::new() }
        )?;
    }
    for item in &page.items {
        // Each entity's fields as the API names them, `name=value`: the id first, then the
        // others in alphabetical order.
        let fields = match serde_json::to_value(item)? {
            serde_json::Value::Object(fields) => fields,
            _ => continue,
        };
        let mut ordered: Vec<(&String, &serde_json::Value)> = fields.iter().collect();
        ordered.sort_by_key(|(name, _)| name.as_str() != "id");
        let text: Vec<String> = ordered
            .into_iter()
            .map(|(name, value)| match value {
                serde_json::Value::String(text) => format!("{name}={text}"),
                other => format!("{name}={other}"),
            })
            .collect();
        writeln!(out, "{}", text.join("  "))?;
    }
    if let Some(next) = page.next_after {
        writeln!(out, "(more: --after {next})")?;
    }
    Ok(ExitCode::SUCCESS)
}

fn balance(cli: &Cli, args: &BalanceArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let store = open_read(cli)?;
    let asset = args.asset.as_deref().map(AssetId::parse).transpose()?;
    let at = args.at.as_deref().map(clock::parse_end).transpose().map_err(anyhow::Error::msg)?;
    let (subject, view) = balances_view(&store, &args.subject, asset.as_ref(), at)?;
    report::balances(store.register(), &subject, &view, args.json, out)?;
    Ok(ExitCode::SUCCESS)
}

/// The balances of the subject named, now or at `at`: of `asset` alone when given.
pub(crate) fn balances_view(
    store: &Store,
    args: &SubjectArgs,
    asset: Option<&AssetId>,
    at: Option<Timestamp>,
) -> Result<(Subject, BalancesView)> {
    let subject = subject(args)?;
    check_known(store, &subject)?;
    let account = account_of(&subject);
    // Past balances of every asset from one read of the posting index.
    let past = at.map(|at| store.balances_at(&account, at)).transpose()?.unwrap_or_default();
    let view = BalancesView::of(store.register(), &account, asset, at, &past).map_err(anyhow::Error::msg)?;
    Ok((subject, view))
}

fn history(cli: &Cli, args: &HistoryArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let store = open_read(cli)?;
    let subject = subject(&args.subject)?;
    check_known(&store, &subject)?;
    let from = args.from.as_deref().map(clock::parse).transpose().map_err(anyhow::Error::msg)?.unwrap_or(Timestamp::MIN);
    let to = args.to.as_deref().map(clock::parse_end).transpose().map_err(anyhow::Error::msg)?.unwrap_or(Timestamp::MAX);
    if from > to {
        bail!("--from is after --to; give a period that starts before it ends");
    }
    let page = store.history_after(&subject, from, to, args.after, args.limit)?;
    let entries = page.iter().map(|r| (r.seq, r.recorded_at, &r.command, r.pending));
    let view = HistoryView::of(store.register(), &subject.account(), Audience::Staff, entries, args.limit as usize);
    let encumbrances = match &subject {
        Subject::Client(client) => store.encumbrance_history(client, from, to)?,
        _ => Vec::new(),
    };
    let view = view.with_encumbrances(store.register(), encumbrances.iter().map(|r| (r.seq, r.recorded_at, &r.command, r.pending)));
    report::history(store.register(), &subject, &view, args.json, out)?;
    Ok(ExitCode::SUCCESS)
}

/// One line's result in an import.
#[derive(Debug, Clone)]
pub struct LineOutcome {
    pub line: usize,
    pub outcome: Outcome,
}

/// Told the outcomes of each batch once it is durable (and of lines decided without one).
pub type OnDurable<'a> = &'a mut dyn FnMut(&[LineOutcome]) -> Result<()>;

/// Records the pending batch and tells `on_durable` its outcomes.
fn flush(
    store: &mut Store,
    now: Timestamp,
    batch: &mut Vec<(usize, Command)>,
    outcomes: &mut Vec<LineOutcome>,
    on_durable: OnDurable<'_>,
) -> Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let commands: Vec<Command> = batch.iter().map(|(_, c)| c.clone()).collect();
    let results = store.submit(&commands, now).context("failed to record a batch; nothing of that batch was applied")?;
    take_checkpoint_if_due(store, now);
    let first = outcomes.len();
    outcomes.extend(batch.drain(..).zip(results).map(|((line, _), outcome)| LineOutcome { line, outcome }));
    on_durable(&outcomes[first..])
}

/// Applies parsed lines to the store in batches, resolving corrections against what is
/// already recorded. Returns one outcome per line; `on_durable` sees them batch by batch as
/// each batch commits.
pub fn apply_lines(
    store: &mut Store,
    lines: Vec<(usize, Parsed)>,
    batch_size: usize,
    now: Timestamp,
    on_durable: OnDurable<'_>,
) -> Result<Vec<LineOutcome>> {
    let mut outcomes = Vec::with_capacity(lines.len());
    let mut batch: Vec<(usize, Command)> = Vec::with_capacity(batch_size);
    for (line, parsed) in lines {
        let command = match parsed {
            Parsed::Ready(command) => command,
            Parsed::Correction { meta, key, corrects } => {
                // The corrected movement may be in the pending batch: record that first.
                flush(store, now, &mut batch, &mut outcomes, on_durable)?;
                match store.movement(&corrects)? {
                    Some(original) => Command { meta, action: Action::Movement(build::correction(key, corrects, &original.postings)) },
                    None => {
                        let detail = format!("movement {corrects} does not exist");
                        outcomes.push(LineOutcome { line, outcome: Outcome::rejected(Status::UnknownMovement, detail) });
                        on_durable(&outcomes[outcomes.len() - 1..])?;
                        continue;
                    }
                }
            }
        };
        batch.push((line, command));
        if batch.len() >= batch_size {
            flush(store, now, &mut batch, &mut outcomes, on_durable)?;
        }
    }
    flush(store, now, &mut batch, &mut outcomes, on_durable)?;
    Ok(outcomes)
}

fn import(cli: &Cli, args: &ImportArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let now = clock::now();
    let defaults = Defaults { actor: Actor::parse(&args.actor).context("--actor is not a valid actor name")?, effective_at: now };
    let reader: Box<dyn BufRead> = if args.file.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let file = std::fs::File::open(&args.file).with_context(|| format!("failed to open {}", args.file.display()))?;
        Box::new(std::io::BufReader::new(file))
    };
    let mut parsed = Vec::new();
    let mut errors = Vec::new();
    for (index, line) in reader.lines().enumerate() {
        let number = index + 1;
        let line = match line {
            Ok(line) => line,
            Err(error) => {
                errors.push((number, format!("cannot be read: {error}")));
                continue;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        match input::parse_line(&line, &defaults).and_then(|command| command.check_not_future(now).map(|()| command)) {
            Ok(command) => parsed.push((number, command)),
            Err(error) => errors.push((number, error)),
        }
    }
    let recording = Recording { actor: &defaults.actor, batch_size: usize::from(args.batch_size), quiet: args.quiet, json: args.json };
    let Some((mut store, outcomes)) = record_parsed(cli, &recording, parsed, &errors, now, out)? else {
        return Ok(ExitCode::from(2));
    };
    // The imported movements may breach a safeguarding policy (the cold floor, say): the
    // import ends with the check's result.
    let checked_at = clock::now();
    let check = ringfence_watch::system::check_safeguards(&mut store, checked_at)
        .context("failed to check the safeguarding policies after the import")?;
    if !args.json {
        report::safeguarding_result(&store, check.as_ref(), checked_at, out)?;
    }
    Ok(exit_code(&outcomes))
}

/// Who records parsed lines and how they are reported.
pub(crate) struct Recording<'a> {
    /// The actor of lines that name none.
    pub actor: &'a Actor,
    pub batch_size: usize,
    /// Print only refused lines and the totals.
    pub quiet: bool,
    pub json: bool,
}

/// Records parsed lines (each with its number in the file) in batches, printing each batch's
/// outcomes once it is durable, then the totals. Nothing is recorded, and `None` returned
/// (exit 2), when `errors` lists malformed lines or a line needs an identity this process
/// does not have: each is printed with its number.
pub(crate) fn record_parsed(
    cli: &Cli,
    recording: &Recording,
    mut parsed: Vec<(usize, Parsed)>,
    errors: &[(usize, String)],
    now: Timestamp,
    out: &mut dyn Write,
) -> Result<Option<(Store, Vec<LineOutcome>)>> {
    if !errors.is_empty() {
        for (line, error) in errors {
            writeln!(out, "line {line}: error: {error}")?;
        }
        writeln!(out, "nothing was imported: {} malformed line(s); fix them and import the file again", errors.len())?;
        return Ok(None);
    }
    let mut store = open(cli)?;
    let refused = identity::check_import(store.register(), cli.token.as_deref(), recording.actor, &mut parsed, now)?;
    if !refused.is_empty() {
        for (line, error) in &refused {
            writeln!(out, "line {line}: error: {error}")?;
        }
        writeln!(out, "nothing was imported: {} line(s) need an identity; import the file again with --token", refused.len())?;
        return Ok(None);
    }
    let total = parsed.len();
    let outcomes = apply_lines(&mut store, parsed, recording.batch_size, now, &mut |durable| {
        report::import_lines(durable, recording.quiet, recording.json, out)
    })?;
    debug_assert_eq!(outcomes.len(), total);
    report::import_totals(&outcomes, recording.json, out)?;
    Ok(Some((store, outcomes)))
}

/// Exit 1 when a line was refused (not when one waits for approval), else 0.
pub(crate) fn exit_code(outcomes: &[LineOutcome]) -> ExitCode {
    let refused = outcomes.iter().any(|o| !o.outcome.status.is_ok() && o.outcome.status != Status::PendingApproval);
    if refused { ExitCode::from(1) } else { ExitCode::SUCCESS }
}
