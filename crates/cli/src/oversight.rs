//! `ringfence chain …`, `ringfence recon …` and `ringfence exceptions …`: watching chains,
//! reconciliation runs, and the exception lifecycle (docs/reconciliation.md).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use ringfence_core::{
    Action, Actor, Command, Exception, ExceptionPolicy, ExceptionState, IdempotencyKey, InstructionId, Meta, Register, Resolution,
    RunRecord, Severity, Status,
};
use ringfence_store::{Store, hex};
use ringfence_watch::views::breaks_csv;
use ringfence_watch::{Node, Settings};
use ringfence_wire::clock;
use ringfence_wire::views::oversight::{ChainWatchView, ExceptionView, RunView};

use crate::{Cli, open};

/// Where the chains are read: shared by `chain`, `recon run` and `serve`.
#[derive(Debug, Clone, Args)]
pub struct NodeArgs {
    /// A node for a chain, as CHAIN=URL (repeat for several chains), e.g.
    /// eip155:1=http://127.0.0.1:8545. Chains without a node are "source unavailable".
    #[arg(long = "node", env = "RINGFENCE_NODES", value_delimiter = ',')]
    pub nodes: Vec<Node>,
    /// Blocks below the head before a block counts as confirmed.
    #[arg(long, default_value_t = 12)]
    pub confirmations: u64,
    /// Seconds per request to a node; each request is tried up to 3 times.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub node_timeout: u64,
}

impl NodeArgs {
    pub fn settings(&self, evidence_dir: Option<PathBuf>) -> Settings {
        Settings {
            nodes: self.nodes.clone(),
            confirmations: self.confirmations,
            timeout: Duration::from_secs(self.node_timeout),
            attempts: 3,
            evidence_dir,
        }
    }
}

/// Where evidence goes by default: next to the embedded store; nowhere for a database URL
/// unless `--evidence-dir` says.
pub fn evidence_dir(cli: &Cli, given: Option<&PathBuf>) -> Option<PathBuf> {
    given.cloned().or_else(|| cli.database_url.is_none().then(|| cli.data_dir().join("evidence")))
}

#[derive(Debug, Subcommand)]
pub enum ChainCommand {
    /// Start observing a chain from a block (default: the block after the newest confirmed
    /// one). Movements recorded from now on expect their chain transfers.
    Watch {
        /// The chain, eip155:<chain id>; its node comes from --node.
        chain: String,
        /// The first block to ingest (default: the block after the node's newest confirmed
        /// one; needs no --node when given).
        #[arg(long)]
        from_block: Option<u64>,
        #[command(flatten)]
        nodes: NodeArgs,
        /// Who records it (the actor in the journal).
        #[arg(long, default_value = "cli")]
        actor: String,
    },
    /// Read the confirmed blocks not ingested yet on every watched chain and record the
    /// transfers touching registered wallets (reorganised blocks are rolled back).
    Ingest {
        #[command(flatten)]
        nodes: NodeArgs,
        /// Who records it (the actor in the journal).
        #[arg(long, default_value = "cli")]
        actor: String,
    },
    /// Watched chains, how far they are ingested, and what is not linked yet.
    Status {
        /// Print JSON (the same view as the API's) instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReconCommand {
    /// Reconcile the register with the chains and sub-custodian statements at a cut-off, and
    /// record the run: every break opens an exception. Exit 0 when clean, 1 when not.
    Run(Box<RunArgs>),
    /// The latest runs recorded (oldest of them first, as the API lists them).
    Runs {
        /// How many of the latest runs to list.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Print JSON (the same view as the API's) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// One run: inputs, figures and breaks with their exceptions.
    Show {
        /// The run's id (`recon runs` lists them).
        id: u64,
        /// Print JSON (the same view as the API's) instead of text.
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        /// The breaks as CSV.
        #[arg(long)]
        csv: bool,
    },
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The cut-off (RFC 3339 or a date; default: the statements' cut-off, else now). Each
    /// chain is read at the newest confirmed block at or before it, the register as at it
    /// (effective time). Every statement must be at this cut-off.
    #[arg(long)]
    pub at: Option<String>,
    /// A sub-custodian statement (.csv or .jsonl, docs/statement-format.md); repeat for several.
    #[arg(long = "statement")]
    pub statements: Vec<PathBuf>,
    /// Take the statements from this inbox directory as the daily run of `serve` does: those
    /// of the newest cut-off that no recorded run has used (the run is at their cut-off).
    #[arg(long, conflicts_with_all = ["statements", "at"])]
    pub statements_inbox: Option<PathBuf>,
    #[command(flatten)]
    pub nodes: NodeArgs,
    /// Write the full report (every comparison) as JSON to this file.
    #[arg(long)]
    pub report_json: Option<PathBuf>,
    /// Write the full report as CSV to this file.
    #[arg(long)]
    pub report_csv: Option<PathBuf>,
    /// Keep statements and full reports here, by SHA-256 (default: <data-dir>/evidence).
    #[arg(long)]
    pub evidence_dir: Option<PathBuf>,
    /// Who runs it (recorded in the journal).
    #[arg(long, default_value = "cli")]
    pub actor: String,
    /// Print the run as JSON (the same view as the API's) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ExceptionsCommand {
    /// Exceptions, oldest first; by default the unresolved ones.
    List {
        /// open, investigating, proposed, resolved, or all.
        #[arg(long, default_value = "unresolved")]
        state: String,
        /// warning or critical.
        #[arg(long)]
        severity: Option<String>,
        /// Only those past their due time.
        #[arg(long)]
        overdue: bool,
        /// Print JSON (the same view as the API's) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// One exception and its history.
    Show {
        /// The exception's id (`exceptions list` shows them).
        id: u64,
        /// Print JSON (the same view as the API's) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Take an exception up (you become its investigator).
    Investigate {
        /// The exception's id (`exceptions list` shows them).
        id: u64,
        /// Who you are, when no --token says it (refused for this while an approval policy
        /// is in force).
        #[arg(long)]
        actor: Option<String>,
    },
    /// Propose the resolution, as its investigator: a reason and a correcting movement (by
    /// its idempotency key, recorded first) or an explanation.
    Resolve {
        /// The exception's id (`exceptions list` shows them).
        id: u64,
        /// Who you are, when no --token says it (refused for this while an approval policy
        /// is in force).
        #[arg(long)]
        actor: Option<String>,
        /// Why: what caused the break, for the approver and the record.
        #[arg(long)]
        reason: String,
        /// The idempotency key of the correcting movement (recorded first) that cures it.
        #[arg(long, required_unless_present = "explanation", conflicts_with = "explanation")]
        movement: Option<String>,
        /// Why no movement is needed (e.g. a later block matched).
        #[arg(long)]
        explanation: Option<String>,
    },
    /// Approve the proposed resolution (someone other than the investigator).
    Approve {
        /// The exception's id (`exceptions list` shows them).
        id: u64,
        /// Who you are, when no --token says it (refused for this while an approval policy
        /// is in force).
        #[arg(long)]
        actor: Option<String>,
    },
    /// Send the proposed resolution back to the investigator, saying why.
    Reject {
        /// The exception's id (`exceptions list` shows them).
        id: u64,
        /// Who you are, when no --token says it (refused for this while an approval policy
        /// is in force).
        #[arg(long)]
        actor: Option<String>,
        /// Why it goes back to the investigator.
        #[arg(long)]
        reason: String,
    },
    /// Record the escalation of every exception past its due time, as the server does by
    /// itself: the system actor records it (`ringfence`, instruction `escalate:ID`).
    Escalate,
    /// Show the exception clocks, or set them (needs four-eyes approval once a policy is on).
    Policy {
        /// Hours from an exception's opening to its due time (then it is escalated).
        #[arg(long, requires = "confirmation_hours")]
        resolution_hours: Option<u32>,
        /// Hours a movement leg waits for its chain transfer (and a transfer for its
        /// movement) before it is a break.
        #[arg(long, requires = "resolution_hours")]
        confirmation_hours: Option<u32>,
        /// Who sets them, when no --token says it (default `cli`; refused while an approval
        /// policy is in force).
        #[arg(long)]
        actor: Option<String>,
        /// Print JSON (the same view as the API's) instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn actor(text: &str) -> Result<Actor> {
    Actor::parse(text).with_context(|| format!("--actor {text:?} is not a valid actor name"))
}

/// Records one command; prints its status. Exit 1 when refused.
pub(crate) fn submit(
    store: &mut Store,
    cli: &Cli,
    who: Option<&str>,
    instruction: &str,
    action: Action,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    let now = clock::now();
    let asserted = who.map(actor).transpose()?;
    let actor = crate::identity::actor_for(store.register(), cli.token.as_deref(), &action, asserted.as_ref(), now)?;
    let command = Command {
        meta: Meta { actor, instruction: InstructionId::parse(instruction).unwrap_or_else(|_| unreachable!()), effective_at: now },
        action,
    };
    let outcome = store.submit(&[command], now).context("failed to record the command; nothing was applied")?.remove(0);
    match outcome.status {
        Status::Accepted => writeln!(out, "accepted (journal entry {})", outcome.seq.unwrap_or_default())?,
        Status::PendingApproval => {
            writeln!(out, "pending approval as instruction {}: {}", outcome.seq.unwrap_or_default(), outcome.detail)?
        }
        Status::AlreadyExists => writeln!(out, "already recorded (journal entry {})", outcome.seq.unwrap_or_default())?,
        status => {
            writeln!(out, "refused: {status}: {}", outcome.detail)?;
            return Ok(ExitCode::from(1));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What a listed run's figures do not say by themselves: clean, or why not.
fn run_verdict(run: &ringfence_core::ReconRun) -> String {
    if run.is_clean() {
        return "  clean".into();
    }
    let unavailable: Vec<&str> = run
        .sources
        .iter()
        .filter_map(|source| match source {
            ringfence_core::RunSource::Unavailable { chain, .. } => Some(chain.as_str()),
            _ => None,
        })
        .collect();
    if unavailable.is_empty() {
        "  NOT clean".into()
    } else {
        format!("  NOT clean: source unavailable ({}), so what it holds was not checked", unavailable.join(", "))
    }
}

pub fn chain(cli: &Cli, command: &ChainCommand, out: &mut dyn Write) -> Result<ExitCode> {
    let mut store = open(cli)?;
    match command {
        ChainCommand::Watch { chain, from_block, nodes, actor: who } => {
            let settings = nodes.settings(None);
            let node = match settings.nodes.iter().find(|node| &node.chain == chain) {
                Some(node) => node.clone(),
                None if from_block.is_some() => {
                    // No node needed when the block is given.
                    Node { chain: chain.clone(), chain_id: 0, url: String::new() }
                }
                None => bail!("no node is given for {chain}; pass --node {chain}=URL, or --from-block"),
            };
            let (outcome, from) = ringfence_watch::watch(&mut store, &settings, &node, *from_block, &actor(who)?)?;
            let what = if outcome.status == Status::AlreadyExists { "already watched" } else { "watching" };
            writeln!(out, "{what} {chain} from block {from} (journal entry {})", outcome.seq.unwrap_or_default())?;
            Ok(ExitCode::SUCCESS)
        }
        ChainCommand::Ingest { nodes, actor: who } => {
            if store.register().chain_watches().next().is_none() {
                bail!("no chain is watched; start with: ringfence chain watch eip155:<id> --node eip155:<id>=URL");
            }
            let results = ringfence_watch::ingest(&mut store, &nodes.settings(None), &actor(who)?)?;
            let mut failed = false;
            for result in results {
                match result.result {
                    Ok(figures) => writeln!(
                        out,
                        "{}: ingested through block {}, {} transfer(s), {} orphaned block(s) rolled back, {} journal entr(ies){}",
                        result.chain,
                        figures.through_block.map_or_else(|| "none yet".to_owned(), |b| b.to_string()),
                        figures.transfers,
                        figures.orphaned_blocks,
                        figures.entries,
                        if figures.too_large > 0 {
                            format!(", {} transfer(s) beyond 2^128 not recorded", figures.too_large)
                        } else {
                            String::new()
                        },
                    )?,
                    Err(reason) => {
                        failed = true;
                        writeln!(out, "{}: source unavailable: {reason}", result.chain)?;
                    }
                }
            }
            Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
        }
        ChainCommand::Status { json } => {
            let register = store.register();
            let rows = ChainWatchView::all(register, clock::now());
            if *json {
                writeln!(out, "{}", serde_json::to_string(&rows)?)?;
            } else if rows.is_empty() {
                writeln!(out, "no chain is watched")?;
            } else {
                let (policy, _) = register.exception_policy();
                for row in rows {
                    writeln!(
                        out,
                        "{}: watched from block {}, next block {}; {} movement leg(s) unconfirmed ({} past {} h), {} observed leg(s) unmatched",
                        row.chain,
                        row.from_block,
                        row.next_block,
                        row.unconfirmed_legs,
                        row.unconfirmed_past_limit,
                        policy.confirmation_hours,
                        row.unmatched_transfers,
                    )?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub fn recon(cli: &Cli, command: &ReconCommand, out: &mut dyn Write) -> Result<ExitCode> {
    let mut store = open(cli)?;
    match command {
        ReconCommand::Run(args) => {
            let at = args.at.as_deref().map(clock::parse_end).transpose().map_err(|e| anyhow::anyhow!("--at: {e}"))?;
            let settings = args.nodes.settings(evidence_dir(cli, args.evidence_dir.as_ref()));
            let mut request = ringfence_watch::RunRequest { at, statements: args.statements.clone(), actor: actor(&args.actor)? };
            if let Some(dir) = &args.statements_inbox {
                let inbox = ringfence_watch::system::read_inbox(store.register(), dir, clock::now())
                    .with_context(|| format!("cannot read the statements inbox {}", dir.display()))?;
                for (path, why) in &inbox.skipped {
                    writeln!(out, "inbox: skipped {}: {why}", path.display())?;
                }
                for path in &inbox.statements {
                    writeln!(out, "inbox: using {}", path.display())?;
                }
                if inbox.statements.is_empty() {
                    writeln!(out, "inbox: no statement that a run has not used yet; the run is at now, without statements")?;
                }
                (request.at, request.statements) = (inbox.cut_off, inbox.statements);
            }
            let result = ringfence_watch::run(&mut store, &settings, &request)?;
            if let Some(path) = &args.report_json {
                std::fs::write(path, &result.report_json).with_context(|| format!("failed to write {}", path.display()))?;
            }
            if let Some(path) = &args.report_csv {
                std::fs::write(path, &result.report_csv).with_context(|| format!("failed to write {}", path.display()))?;
            }
            let register = store.register();
            let record = register.recon_run(result.id).context("the run just recorded is not in the register")?;
            if args.json {
                writeln!(out, "{}", serde_json::to_string(&RunView::of(register, record))?)?;
            } else {
                for ingested in &result.ingested {
                    if let Ok(figures) = &ingested.result {
                        writeln!(
                            out,
                            "ingested {} through block {}: {} transfer(s), {} orphaned block(s)",
                            ingested.chain,
                            figures.through_block.map_or_else(|| "none".to_owned(), |b| b.to_string()),
                            figures.transfers,
                            figures.orphaned_blocks
                        )?;
                    }
                }
                print_run(register, record, out)?;
                let check = result.safeguards.map(ringfence_core::Outcome::accepted);
                crate::report::safeguard_check(&store, check.as_ref(), out)?;
            }
            Ok(if record.run.is_clean() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        ReconCommand::Runs { limit, json } => {
            let register = store.register();
            let all = register.recon_runs();
            let runs: Vec<&RunRecord> = all[all.len().saturating_sub(*limit)..].iter().collect();
            if *json {
                let views: Vec<RunView> = runs.iter().map(|r| RunView::of(register, r)).collect();
                writeln!(out, "{}", serde_json::to_string(&views)?)?;
            } else if runs.is_empty() {
                writeln!(out, "no reconciliation run is recorded yet; run: ringfence recon run")?;
            } else {
                for run in runs {
                    writeln!(
                        out,
                        "run {}  cut-off {}  by {}  {} checked, {} matched, {} break(s){}",
                        run.id,
                        clock::format(run.run.cut_off),
                        run.actor,
                        run.run.checked,
                        run.run.matched,
                        run.run.breaks.len(),
                        run_verdict(&run.run)
                    )?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ReconCommand::Show { id, json, csv } => {
            let register = store.register();
            let Some(record) = register.recon_run(*id) else {
                bail!("no reconciliation run has id {id}; `ringfence recon runs` lists them");
            };
            if *json {
                writeln!(out, "{}", serde_json::to_string(&RunView::of(register, record))?)?;
            } else if *csv {
                out.write_all(breaks_csv(record).as_bytes())?;
            } else {
                print_run(register, record, out)?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn print_run(register: &Register, record: &RunRecord, out: &mut dyn Write) -> Result<()> {
    let run = &record.run;
    writeln!(
        out,
        "reconciliation run {} at cut-off {}, recorded {} by {}",
        record.id,
        clock::format(run.cut_off),
        clock::format(record.recorded_at),
        record.actor
    )?;
    for source in &run.sources {
        match source {
            ringfence_core::RunSource::Chain { chain, block } => {
                writeln!(out, "  source {chain}: block {} 0x{}", block.number, hex(&block.hash))?
            }
            ringfence_core::RunSource::Unavailable { chain, reason } => writeln!(out, "  source {chain}: UNAVAILABLE: {reason}")?,
            ringfence_core::RunSource::Statement { sub_custodian, reference, file, sha256, rows } => {
                writeln!(out, "  source statement {reference} of {sub_custodian}: {file}, {rows} row(s), sha256 {}", hex(sha256))?
            }
        }
    }
    writeln!(out, "  {} comparison(s), {} matched; report sha256 {}", run.checked, run.matched, hex(&run.report_sha256))?;
    if run.breaks.is_empty() {
        writeln!(out, "  no breaks{}", if run.is_clean() { ": clean" } else { "; but a source was unavailable, so the run is not clean" })?;
    }
    for (found, id) in run.breaks.iter().zip(&record.exceptions) {
        let state = register.exception(*id).map_or("?", |e| e.state.code());
        writeln!(out, "  {:8} exception {id} ({state}) {}: {}", found.severity.code(), found.kind.code(), found.detail)?;
    }
    Ok(())
}

pub fn exceptions(cli: &Cli, command: &ExceptionsCommand, out: &mut dyn Write) -> Result<ExitCode> {
    let mut store = open(cli)?;
    let now = clock::now();
    match command {
        ExceptionsCommand::List { state, severity, overdue, json } => {
            let state_filter = match state.as_str() {
                "all" | "unresolved" => None,
                code => Some(ExceptionState::from_code(code).with_context(|| {
                    format!("--state {code:?} is not one of: open, investigating, proposed, resolved, unresolved, all")
                })?),
            };
            let severity_filter = match severity.as_deref() {
                None => None,
                Some("warning") => Some(Severity::Warning),
                Some("critical") => Some(Severity::Critical),
                Some(other) => bail!("--severity {other:?} is not warning or critical"),
            };
            let register = store.register();
            let chosen: Vec<&Exception> = register
                .exceptions()
                .iter()
                .filter(|e| match state_filter {
                    Some(wanted) => e.state == wanted,
                    None => state != "unresolved" || !e.is_resolved(),
                })
                .filter(|e| severity_filter.is_none_or(|s| e.severity == s))
                .filter(|e| !overdue || (!e.is_resolved() && e.due_at <= now))
                .collect();
            if *json {
                let views: Vec<ExceptionView> = chosen.iter().map(|e| ExceptionView::of(register, e, now)).collect();
                writeln!(out, "{}", serde_json::to_string(&views)?)?;
            } else if chosen.is_empty() {
                writeln!(out, "no exceptions match")?;
            } else {
                for e in chosen {
                    let overdue = if !e.is_resolved() && e.due_at <= now { "  OVERDUE" } else { "" };
                    let cured = if register.safeguard_cause_cured(e, now) { "  CAUSE CURED: resolve it with a note" } else { "" };
                    writeln!(
                        out,
                        "{:>5}  {:8}  {:13}  {:18}  due {}{overdue}{cured}  {}",
                        e.id,
                        e.severity.code(),
                        e.state.code(),
                        e.kind.code(),
                        clock::format(e.due_at),
                        e.detail
                    )?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ExceptionsCommand::Show { id, json } => {
            let Some(exception) = store.register().exception(*id) else {
                bail!("no exception has id {id}; `ringfence exceptions list --state all` lists them");
            };
            let view = ExceptionView::of(store.register(), exception, now);
            if *json {
                writeln!(out, "{}", serde_json::to_string(&view)?)?;
            } else {
                writeln!(out, "{}", serde_json::to_string_pretty(&view)?)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        ExceptionsCommand::Investigate { id, actor: who } => {
            submit(&mut store, cli, who.as_deref(), "exception", Action::InvestigateException { id: *id }, out)
        }
        ExceptionsCommand::Resolve { id, actor: who, reason, movement, explanation } => {
            let resolution = match (movement, explanation) {
                (Some(key), None) => Resolution::Movement(IdempotencyKey::parse(key).with_context(|| format!("--movement {key:?}"))?),
                (None, Some(text)) => Resolution::Explanation(text.clone()),
                _ => bail!("give exactly one of --movement and --explanation"),
            };
            submit(
                &mut store,
                cli,
                who.as_deref(),
                "exception",
                Action::ProposeResolution { id: *id, reason: reason.clone(), resolution },
                out,
            )
        }
        ExceptionsCommand::Approve { id, actor: who } => {
            submit(&mut store, cli, who.as_deref(), "exception", Action::ApproveResolution { id: *id }, out)
        }
        ExceptionsCommand::Reject { id, actor: who, reason } => {
            submit(&mut store, cli, who.as_deref(), "exception", Action::RejectResolution { id: *id, reason: reason.clone() }, out)
        }
        ExceptionsCommand::Escalate => {
            let escalated = ringfence_watch::system::escalate_overdue(&mut store, clock::now())?;
            if escalated.is_empty() {
                writeln!(out, "no exception is overdue")?;
            } else {
                let ids: Vec<String> = escalated.iter().map(u64::to_string).collect();
                writeln!(out, "escalated {} overdue exception(s): {}", escalated.len(), ids.join(", "))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        ExceptionsCommand::Policy { resolution_hours, confirmation_hours, actor: who, json } => {
            match (resolution_hours, confirmation_hours) {
                (Some(resolution_hours), Some(confirmation_hours)) => {
                    let policy = ExceptionPolicy { resolution_hours: *resolution_hours, confirmation_hours: *confirmation_hours };
                    submit(
                        &mut store,
                        cli,
                        who.as_deref().or(cli.token.is_none().then_some("cli")),
                        "exception-policy",
                        Action::SetExceptionPolicy(policy),
                        out,
                    )
                }
                _ => {
                    let clocks = ringfence_wire::views::policy::ExceptionClocksView::of(store.register());
                    if *json {
                        writeln!(out, "{}", serde_json::to_string(&clocks)?)?;
                    } else {
                        writeln!(
                            out,
                            "exceptions are due {} h after they open (then escalated); a movement or transfer may wait {} h for its counterpart{}",
                            clocks.resolution_hours,
                            clocks.confirmation_hours,
                            if clocks.seq.is_none() { " (defaults)" } else { "" }
                        )?;
                    }
                    Ok(ExitCode::SUCCESS)
                }
            }
        }
    }
}
