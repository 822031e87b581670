//! Chain ingestion and reconciliation runs: the glue between the sources (the chain adapter,
//! sub-custodian statement files) and the journal. It reads, computes with `ringfence-recon`,
//! and records what it found as journal entries through a [`Store`]; the register decides.
//!
//! - [`watch`] starts observing a chain from a block (`WatchChain`).
//! - [`ingest`] reads the confirmed blocks not ingested yet on every watched chain that has a
//!   node, resuming from the block hashes the journal tracks, and records one `ObserveChain`
//!   entry per step (roll-backs of reorganised blocks included).
//! - [`run`] is a reconciliation run at a cut-off: statements parsed first (a malformed one
//!   stops the run before anything is recorded), ingestion, the block at or before the cut-off
//!   per chain, balances at that block, the register as at the cut-off, linkage, and one
//!   `RecordReconRun` entry whose breaks open exceptions. A node that cannot be read makes its
//!   wallets "source unavailable", never zero and never a break.
//! - [`system`] is what the system journals by itself (expiry, escalation, the safeguarding
//!   check, the daily run), with the system actor: the one place for it.
//!
//! Every call blocks; from async code run it on a blocking thread. A [`Store`] is a connection:
//! the server's scheduled runs open their own, like another process would.

pub mod system;
pub mod views;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ringfence_chain::{Block, ChainError, Evm, EvmConfig, Hash};
use ringfence_core::{
    Action, Actor, Address, AssetId, Break, ChainBlock, ChainObservation, ChainTransfer, Command, Custodian, ExceptionKind, InstructionId,
    Meta, Outcome, ReconRun, Register, RunSource, Severity, Status, Timestamp, Wallet,
};
use ringfence_recon::{Check, Finding, Observation, Observations, Observed, Report, Statement, StatementError, StatementFormat, Verdict};
use ringfence_store::{Store, StoreError, hex};
use ringfence_wire::clock;
use ringfence_wire::views::oversight::EvidenceReportView;
use sha2::{Digest as _, Sha256};

/// Observations recorded per ingestion step: the register keeps at most this many block
/// hashes per chain, so reorganisations deeper than this need a new watch.
const TRACKED_BLOCKS: usize = ringfence_core::oversight::TRACKED_BLOCKS_MAX;

/// A node for a chain: `eip155:<chain id>=<JSON-RPC URL>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub chain: String,
    pub chain_id: u64,
    pub url: String,
}

impl std::str::FromStr for Node {
    type Err = String;

    fn from_str(text: &str) -> Result<Node, String> {
        let Some((chain, url)) = text.split_once('=') else {
            return Err(format!("{text:?} is not CHAIN=URL, e.g. eip155:1=http://127.0.0.1:8545"));
        };
        let chain_id = chain
            .strip_prefix("eip155:")
            .and_then(|id| id.parse::<u64>().ok())
            .ok_or_else(|| format!("{chain:?} is not eip155:<chain id>; only EVM chains are read"))?;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!("{url:?} is not an http:// or https:// URL"));
        }
        Ok(Node { chain: chain.to_owned(), chain_id, url: url.to_owned() })
    }
}

/// How the sources are read.
#[derive(Debug, Clone)]
pub struct Settings {
    pub nodes: Vec<Node>,
    /// Blocks below the head before a block counts as confirmed.
    pub confirmations: u64,
    /// Per HTTP request to a node, and attempts per request.
    pub timeout: Duration,
    pub attempts: u32,
    /// Where statements and full run reports are kept as evidence (by SHA-256); none: not kept.
    pub evidence_dir: Option<PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { nodes: Vec::new(), confirmations: 12, timeout: Duration::from_secs(10), attempts: 3, evidence_dir: None }
    }
}

impl Settings {
    fn node(&self, chain: &str) -> Option<&Node> {
        self.nodes.iter().find(|node| node.chain == chain)
    }

    fn connect(&self, node: &Node) -> Result<Evm, ChainError> {
        let mut config = EvmConfig::new(&node.url, node.chain_id);
        config.confirmations = self.confirmations;
        config.timeout = self.timeout;
        config.attempts_max = self.attempts.max(1);
        config.tracked_blocks_max = TRACKED_BLOCKS;
        Evm::connect(config)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{path}: {source}")]
    Statement { path: String, source: StatementError },
    #[error(transparent)]
    DuplicateObservation(#[from] ringfence_recon::DuplicateObservation),
    #[error("chain {0} is not watched; start with: ringfence chain watch {0} --node {0}=URL")]
    NotWatched(String),
    #[error("no node is given for chain {0}; pass --node {0}=URL")]
    NoNode(String),
    #[error("{chain}: {source}")]
    Chain { chain: String, source: ChainError },
    #[error("the register refused {what}: {status}: {detail}")]
    Refused { what: String, status: Status, detail: String },
    #[error("the cut-off {cut_off} is in the future (now is {now}); give a cut-off in the past")]
    CutOffInFuture { cut_off: String, now: String },
    #[error(
        "{path} states balances at {statement}, but the run is at {run}; run at the statement's cut-off (--at {statement}), or give statements of one cut-off"
    )]
    CutOffMismatch { path: String, statement: String, run: String },
    #[error("cannot keep evidence in {path}: {source}")]
    Evidence { path: String, source: std::io::Error },
}

fn meta(actor: &Actor, instruction: &str, effective_at: Timestamp) -> Meta {
    Meta {
        actor: actor.clone(),
        instruction: InstructionId::parse(instruction).unwrap_or_else(|_| unreachable!("a fixed instruction id is valid")),
        effective_at,
    }
}

/// Records one command; anything but accepted or already recorded is an error.
fn record(store: &mut Store, actor: &Actor, instruction: &str, action: Action, what: &str) -> Result<Outcome, WatchError> {
    let now = clock::now();
    let command = Command { meta: meta(actor, instruction, now), action };
    let outcome = store.submit(std::slice::from_ref(&command), now)?.remove(0);
    if !outcome.status.is_ok() {
        return Err(WatchError::Refused { what: what.to_owned(), status: outcome.status, detail: outcome.detail });
    }
    Ok(outcome)
}

/// Starts watching `node`'s chain from `from_block`, or from the block after the newest
/// confirmed one: transfers before it are not observed, and movements recorded from now on
/// expect theirs.
pub fn watch(
    store: &mut Store,
    settings: &Settings,
    node: &Node,
    from_block: Option<u64>,
    actor: &Actor,
) -> Result<(Outcome, u64), WatchError> {
    let from_block = match from_block {
        Some(block) => block,
        None => {
            let evm = settings.connect(node).map_err(|source| WatchError::Chain { chain: node.chain.clone(), source })?;
            let confirmed = evm.confirmed_head().map_err(|source| WatchError::Chain { chain: node.chain.clone(), source })?;
            confirmed.map_or(0, |block| block.number + 1)
        }
    };
    let outcome = record(store, actor, "chain-watch", Action::WatchChain { chain: node.chain.clone(), from_block }, "the watch")?;
    Ok((outcome, from_block))
}

/// What ingestion did on one chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingested {
    pub chain: String,
    /// `Err`: the node could not be read (nothing was recorded for it after the error).
    pub result: Result<IngestFigures, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestFigures {
    pub entries: u64,
    pub transfers: u64,
    pub orphaned_blocks: u64,
    /// Transfers whose amount does not fit u128: not recorded, reported.
    pub too_large: u64,
    pub through_block: Option<u64>,
}

fn chain_block(block: &Block) -> ChainBlock {
    ChainBlock {
        number: block.number,
        hash: *block.hash.as_bytes(),
        parent_hash: *block.parent_hash.as_bytes(),
        timestamp: block.timestamp,
    }
}

fn adapter_block(block: &ChainBlock) -> Block {
    Block {
        number: block.number,
        hash: Hash::from_bytes(block.hash),
        parent_hash: Hash::from_bytes(block.parent_hash),
        timestamp: block.timestamp,
    }
}

/// In-house wallets on `chain`: the ones ringfence observes there.
fn chain_wallets<'a>(register: &'a Register, chain: &'a str) -> impl Iterator<Item = &'a Wallet> {
    register.wallets().filter(move |wallet| wallet.custodian == Custodian::InHouse && wallet.address.chain() == chain)
}

fn chain_assets<'a>(register: &'a Register, chain: &'a str) -> impl Iterator<Item = &'a AssetId> {
    register.assets().map(|asset| &asset.id).filter(move |asset| asset.chain() == chain)
}

/// Ingests every watched chain that has a node, up to its newest confirmed block.
pub fn ingest(store: &mut Store, settings: &Settings, actor: &Actor) -> Result<Vec<Ingested>, WatchError> {
    let chains: Vec<String> = store.register().chain_watches().map(|watch| watch.chain.clone()).collect();
    let mut results = Vec::new();
    for chain in chains {
        let Some(node) = settings.node(&chain) else {
            results.push(Ingested { chain: chain.clone(), result: Err(format!("no node is given for {chain}")) });
            continue;
        };
        let result = match ingest_chain(store, settings, node, actor) {
            Ok(figures) => Ok(figures),
            Err(WatchError::Chain { source, .. }) => Err(source.to_string()),
            Err(other) => return Err(other),
        };
        results.push(Ingested { chain, result });
    }
    Ok(results)
}

fn ingest_chain(store: &mut Store, settings: &Settings, node: &Node, actor: &Actor) -> Result<IngestFigures, WatchError> {
    let chain_error = |source| WatchError::Chain { chain: node.chain.clone(), source };
    let register = store.register();
    let Some(watch) = register.chain_watch(&node.chain) else { return Err(WatchError::NotWatched(node.chain.clone())) };
    let wallets: Vec<Address> = chain_wallets(register, &node.chain).map(|wallet| wallet.address.clone()).collect();
    let assets: Vec<AssetId> = chain_assets(register, &node.chain).cloned().collect();
    let evm = settings.connect(node).map_err(chain_error)?;
    let mut ingestion = if watch.tracked.is_empty() {
        evm.ingestion(&wallets, &assets, watch.from_block)
    } else {
        evm.resume_ingestion(&wallets, &assets, watch.tracked.iter().map(adapter_block).collect())
    }
    .map_err(chain_error)?;
    let mut figures = IngestFigures::default();
    loop {
        let step = evm.ingest(&mut ingestion).map_err(chain_error)?;
        let mut transfers = Vec::with_capacity(step.transfers.len());
        for transfer in &step.transfers {
            let Ok(amount) = &transfer.amount else {
                figures.too_large += 1;
                continue;
            };
            transfers.push(ChainTransfer {
                block_number: transfer.block_number,
                tx_hash: *transfer.transaction_hash.as_bytes(),
                log_index: transfer.log_index,
                asset: transfer.asset.clone(),
                from: transfer.from.clone(),
                to: transfer.to.clone(),
                amount: ringfence_core::Amount::new(*amount),
            });
        }
        let orphaned_from = step.orphaned.first().map(|block| block.number);
        let tracked: Vec<ChainBlock> = ingestion.tracked_blocks().map(chain_block).collect();
        let changed = orphaned_from.is_some()
            || !transfers.is_empty()
            || store.register().chain_watch(&node.chain).map(|w| w.tracked.last()) != Some(tracked.last());
        if changed {
            figures.entries += 1;
            figures.transfers += transfers.len() as u64;
            figures.orphaned_blocks += step.orphaned.len() as u64;
            let observation = ChainObservation { chain: node.chain.clone(), orphaned_from, tracked, transfers };
            record(store, actor, "chain-ingest", Action::ObserveChain(observation), "the chain observation")?;
        }
        figures.through_block = step.ingested_through.map(|block| block.number);
        if step.behind_blocks == 0 {
            return Ok(figures);
        }
    }
}

/// What a run is asked to do.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// The cut-off. `None`: the statements' cut-off when statements are given, else now.
    /// Every statement must be at the run's cut-off.
    pub at: Option<Timestamp>,
    pub statements: Vec<PathBuf>,
    pub actor: Actor,
}

/// A recorded run.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub id: u64,
    pub run: ReconRun,
    /// The exception each break opened or saw again, in break order.
    pub exceptions: Vec<u64>,
    /// The safeguarding check journaled after the run, if a breach had no exception yet.
    pub safeguards: Option<u64>,
    /// The full report (every comparison, matches included), as hashed into the run.
    pub report_json: String,
    pub report_csv: String,
    pub ingested: Vec<Ingested>,
}

/// The exception a finding becomes, if any. Unavailable sources and sums left incomplete by
/// them are not breaks: the run records the source as unavailable.
fn break_of(finding: &Finding) -> Option<Break> {
    let kind = match (finding.check, finding.verdict) {
        (_, Verdict::Match | Verdict::Unavailable | Verdict::Incomplete) => return None,
        (Check::Wallet, Verdict::Difference) => ExceptionKind::WalletDifference,
        (Check::Coverage, Verdict::Shortfall) => ExceptionKind::CoverageShortfall,
        (Check::Coverage, _) => ExceptionKind::CoverageSurplus,
        (Check::Client, _) => ExceptionKind::ClientDifference,
        (_, Verdict::NotObserved) => ExceptionKind::NotObserved,
        (_, Verdict::UnmatchedInflow) => ExceptionKind::UnmatchedInflow,
        (_, Verdict::UnmatchedOutflow) => ExceptionKind::UnmatchedOutflow,
        (_, Verdict::Unconfirmed) => ExceptionKind::Unconfirmed,
        _ => ExceptionKind::Unregistered,
    };
    let severity = match finding.severity {
        ringfence_recon::Severity::Info => return None,
        ringfence_recon::Severity::Warning => Severity::Warning,
        ringfence_recon::Severity::Critical => Severity::Critical,
    };
    let mut subject = format!("{}:{}", finding.check.code(), finding.asset);
    for part in [finding.wallet.as_ref().map(|w| w.to_string()), finding.client.as_ref().map(|c| c.to_string())].into_iter().flatten() {
        subject.push(':');
        subject.push_str(&part);
    }
    if finding.check == Check::Linkage {
        subject = format!("{subject}:{}:{}", finding.verdict.code(), finding.source.as_deref().unwrap_or(""));
    }
    let mut place = match (&finding.wallet, &finding.client) {
        (Some(wallet), _) => format!("wallet {wallet}, {}", finding.asset),
        (None, Some(client)) => format!("client {client}, {}", finding.asset),
        (None, None) => format!("all clients, {}", finding.asset),
    };
    if finding.detail.is_empty() {
        place.push_str(&format!(": {} {}", finding.check.code(), finding.verdict.code()));
    } else {
        place.push_str(&format!(": {}", finding.detail));
    }
    if finding.check != Check::Linkage {
        place.push_str(&format!(" (register {}, observed {})", text(finding.register), text(finding.observed)));
    }
    let detail = place;
    Some(Break { kind, severity, subject, detail: truncated(detail) })
}

fn text<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "nothing".to_owned(), |v| v.to_string())
}

fn truncated(mut text: String) -> String {
    let max = ringfence_core::oversight::TEXT_BYTES_MAX;
    if text.len() > max {
        let mut cut = max - 3;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("...");
    }
    text
}

/// Runs a reconciliation at the request's cut-off and records it. See the crate documentation.
pub fn run(store: &mut Store, settings: &Settings, request: &RunRequest) -> Result<RunResult, WatchError> {
    let now = clock::now();
    if let Some(at) = request.at
        && at > now
    {
        return Err(WatchError::CutOffInFuture { cut_off: clock::format(at), now: clock::format(now) });
    }
    // Statements first: a malformed one stops the run before anything is recorded.
    let mut statements = Vec::new();
    for path in &request.statements {
        let failed = |source| WatchError::Statement { path: path.display().to_string(), source };
        let Some(format) = StatementFormat::of_path(path) else {
            return Err(failed(StatementError::UnknownFormat { path: path.display().to_string() }));
        };
        // The bytes parsed are the bytes kept: the file may change after it is read.
        let bytes = ringfence_wire::files::read_regular(path, ringfence_recon::statement::STATEMENT_BYTES_MAX as u64)
            .map_err(|source| failed(StatementError::Io { path: path.display().to_string(), source }))?;
        let statement = Statement::parse(format, &bytes, store.register()).map_err(failed)?;
        statements.push((path.clone(), statement, bytes));
    }
    // A statement states balances at its own cut-off: the run is at that cut-off too.
    let cut_off = match (request.at, statements.first()) {
        (Some(at), _) => at,
        (None, Some((_, statement, _))) => statement.cut_off,
        (None, None) => now,
    };
    if let Some((path, statement, _)) = statements.iter().find(|(_, statement, _)| statement.cut_off != cut_off) {
        return Err(WatchError::CutOffMismatch {
            path: path.display().to_string(),
            statement: clock::format(statement.cut_off),
            run: clock::format(cut_off),
        });
    }
    if cut_off > now {
        return Err(WatchError::CutOffInFuture { cut_off: clock::format(cut_off), now: clock::format(now) });
    }
    let mut observations = Observations::new();
    let mut sources = Vec::new();
    for (path, statement, bytes) in &statements {
        observations.add_statement(statement, store.register())?;
        let sha256 = statement.sha256;
        sources.push(RunSource::Statement {
            sub_custodian: statement.sub_custodian.clone(),
            reference: statement.reference.clone(),
            file: path.file_name().map_or_else(|| path.display().to_string(), |name| name.to_string_lossy().into_owned()),
            sha256,
            rows: statement.balances.len() as u64,
        });
        keep_evidence(settings, &format!("statement-{}.{}", statement.sha256_hex(), statement.format.code()), bytes)?;
    }

    let ingested = ingest(store, settings, &request.actor)?;
    let unavailable: HashMap<&str, &str> =
        ingested.iter().filter_map(|i| i.result.as_ref().err().map(|reason| (i.chain.as_str(), reason.as_str()))).collect();

    // Balances per chain with in-house wallets, at the block at or before the cut-off.
    let register = store.register();
    let mut chains: Vec<&str> = register.wallets().filter(|w| w.custodian == Custodian::InHouse).map(|w| w.address.chain()).collect();
    chains.sort_unstable();
    chains.dedup();
    for chain in chains {
        let node = settings.node(chain);
        let (ids, pairs): (Vec<ringfence_core::WalletId>, Vec<(Address, AssetId)>) = chain_wallets(register, chain)
            .flat_map(|wallet| chain_assets(register, chain).map(move |asset| (wallet.id.clone(), (wallet.address.clone(), asset.clone()))))
            .unzip();
        if pairs.is_empty() {
            continue;
        }
        let read = match (node, unavailable.get(chain)) {
            (None, _) => Err(format!("no node is given for {chain}")),
            (Some(_), Some(reason)) => Err((*reason).to_owned()),
            (Some(node), None) => balances_at(settings, node, &pairs, cut_off),
        };
        match read {
            Ok((block, balances)) => {
                let source: Arc<str> = Arc::from(format!("{chain} block {} {}", block.number, block.hash));
                for ((wallet, (_, asset)), balance) in ids.into_iter().zip(&pairs).zip(balances) {
                    let observed = match balance {
                        Ok(amount) => Observed::Amount(ringfence_core::Amount::new(amount)),
                        Err(too_large) => Observed::Unavailable(too_large.to_string()),
                    };
                    observations.insert(wallet, asset.clone(), Observation { observed, source: source.clone() })?;
                }
                sources.push(RunSource::Chain { chain: chain.to_owned(), block: chain_block(&block) });
            }
            Err(reason) => {
                let source: Arc<str> = Arc::from(format!("{chain} (unavailable)"));
                for (wallet, (_, asset)) in ids.into_iter().zip(&pairs) {
                    let observed = Observed::Unavailable(format!("source unavailable: {reason}"));
                    observations.insert(wallet, asset.clone(), Observation { observed, source: source.clone() })?;
                }
                sources.push(RunSource::Unavailable { chain: chain.to_owned(), reason: truncated(reason) });
            }
        }
    }

    // Past balances from the store (its posting index and the register's postings in memory);
    // a read that fails fails the run, rather than counting as nothing held.
    let failed = std::cell::RefCell::new(None);
    let balance_at = |account: &ringfence_core::Account, asset: &AssetId, at: Timestamp| match store.balance_at(account, asset, at) {
        Ok(net) => Some(net),
        Err(error) => {
            failed.borrow_mut().get_or_insert(error);
            None
        }
    };
    let mut report = ringfence_recon::reconcile_at(register, &observations, cut_off, &balance_at);
    if let Some(error) = failed.into_inner() {
        return Err(error.into());
    }
    let (policy, _) = register.exception_policy();
    report.findings.extend(ringfence_recon::linkage(register, cut_off, policy.confirmation_hours));
    let mut breaks: Vec<Break> = report.findings.iter().filter_map(break_of).collect();
    // A source that could not be read is a break of its own: its wallets were not reconciled,
    // and a run after run of "not clean" must leave something to resolve.
    for source in &sources {
        if let RunSource::Unavailable { chain, reason } = source {
            breaks.push(Break {
                kind: ExceptionKind::SourceUnavailable,
                severity: Severity::Warning,
                subject: format!("source-unavailable:{chain}"),
                detail: format!("{chain} could not be read ({reason}): its wallets were not reconciled in this run"),
            });
        }
    }
    let matched = report.findings.iter().filter(|f| f.verdict == Verdict::Match).count() as u64;
    let report_json = full_report(cut_off, &sources, &report);
    let mut report_sha256 = [0u8; 32];
    report_sha256.copy_from_slice(&Sha256::digest(report_json.as_bytes())[..]);
    // Evidence first: a run is never recorded with a report that was not kept.
    keep_evidence(settings, &format!("report-{}.json", hex(&report_sha256)), report_json.as_bytes())?;
    let run = ReconRun { cut_off, sources, checked: report.findings.len() as u64, matched, report_sha256, breaks };
    let outcome = record(store, &request.actor, "recon-run", Action::RecordReconRun(run.clone()), "the reconciliation run")?;
    let id = outcome.seq.unwrap_or_default();
    let exceptions = store.register().recon_run(id).map(|record| record.exceptions.clone()).unwrap_or_default();
    // Every reconciliation also checks the safeguarding policies (the cold floor among them).
    let safeguards =
        system::check_safeguards(store, clock::now())?.filter(|outcome| outcome.status.is_journaled()).and_then(|outcome| outcome.seq);
    Ok(RunResult { id, run, exceptions, safeguards, report_csv: ringfence_recon::render::to_csv(&report), report_json, ingested })
}

/// The block a cut-off maps to (the newest at or before it, but no newer than the newest
/// confirmed block) and the balances there.
fn balances_at(
    settings: &Settings,
    node: &Node,
    pairs: &[(Address, AssetId)],
    cut_off: Timestamp,
) -> Result<(Block, Vec<Result<u128, ringfence_chain::TooLarge>>), String> {
    let evm = settings.connect(node).map_err(|e| e.to_string())?;
    let seconds = u64::try_from(cut_off.micros().div_euclid(1_000_000)).unwrap_or(0);
    let Some(mut block) = evm.block_at_or_before(seconds).map_err(|e| e.to_string())? else {
        return Err(format!("{} has no block at or before the cut-off", node.chain));
    };
    if let Some(confirmed) = evm.confirmed_head().map_err(|e| e.to_string())?
        && confirmed.number < block.number
    {
        block = confirmed;
    }
    let balances = evm.balances(pairs, &block).map_err(|e| e.to_string())?;
    Ok((block, balances))
}

/// The whole report of a run (what its SHA-256 covers): cut-off, sources, counts and every
/// finding, matches included.
fn full_report(cut_off: Timestamp, sources: &[RunSource], report: &Report) -> String {
    let view = EvidenceReportView::of(cut_off, sources, ringfence_recon::render::view(report));
    let mut text = serde_json::to_string(&view).unwrap_or_else(|error| unreachable!("a view of strings and numbers: {error}"));
    text.push('\n');
    text
}

fn keep_evidence(settings: &Settings, name: &str, bytes: &[u8]) -> Result<(), WatchError> {
    let Some(dir) = &settings.evidence_dir else { return Ok(()) };
    let evidence = |source| WatchError::Evidence { path: dir.display().to_string(), source };
    std::fs::create_dir_all(dir).map_err(evidence)?;
    let path: &Path = &dir.join(name);
    let temporary = dir.join(format!(".{name}.partial"));
    std::fs::write(&temporary, bytes).map_err(evidence)?;
    std::fs::rename(&temporary, path).map_err(evidence)?;
    Ok(())
}
