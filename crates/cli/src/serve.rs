//! `ringfence serve`: the HTTP API on the configured store.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::Cli;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on. Loopback by default; put a TLS-terminating proxy in front of it
    /// before exposing it further.
    #[arg(long, env = "RINGFENCE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Worker threads for HTTP (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// When the daily reconciliation run starts, as HH:MM in UTC, or `off` [default: 00:00;
    /// off on a read-only server (--read-database-url), which records nothing].
    #[arg(long, env = "RINGFENCE_RECON_DAILY", value_parser = parse_daily)]
    pub recon_daily: Option<Daily>,
    /// Keep statements and run reports here (default: <data-dir>/evidence).
    #[arg(long)]
    pub evidence_dir: Option<std::path::PathBuf>,
    /// A directory where sub-custodians' statements are dropped (.csv, .jsonl): the daily run
    /// takes those of the newest cut-off that no run has used yet and runs at their cut-off,
    /// so wallets at sub-custodians are observed too. Malformed files are skipped and logged.
    #[arg(long, env = "RINGFENCE_STATEMENTS_INBOX")]
    pub statements_inbox: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub nodes: crate::oversight::NodeArgs,
    /// Seconds a client has to send a request's headers; also how long an idle keep-alive
    /// connection stays open.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout: u64,
    /// Seconds a client has to send a request's body once its headers are in (408 after).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub body_timeout: u64,
    /// Connections open at once; one more is answered 503 and closed.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections: u64,
    /// MiB of request bodies held at once across every connection; a body that does not fit
    /// is answered 503 `busy`.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(8..=65_536))]
    pub body_budget_mib: u64,
    /// Publish the journal head to this anchor file (keep it outside the database: another
    /// volume, another machine's share) every --anchor-every seconds when it moved. At start,
    /// the store must extend every head the file holds, or the server refuses to start.
    #[arg(long)]
    pub anchor_file: Option<std::path::PathBuf>,
    /// Seconds between anchors.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub anchor_every: u64,
    /// Who issues the statements `GET /v1/statements` makes.
    #[command(flatten)]
    pub casp: crate::statements::CaspArgs,
}

impl ServeArgs {
    /// The server's limits from the flags.
    pub fn limits(&self) -> ringfence_server::Limits {
        ringfence_server::Limits {
            header_read: std::time::Duration::from_secs(self.header_timeout),
            body_read: std::time::Duration::from_secs(self.body_timeout),
            body_bytes_in_flight: usize::try_from(self.body_budget_mib * 1024 * 1024).unwrap_or(usize::MAX),
            connections: usize::try_from(self.max_connections).unwrap_or(usize::MAX),
        }
    }
}

/// The daily run's time of day, in seconds after midnight UTC; `None` when off.
#[derive(Debug, Clone, Copy)]
pub struct Daily(Option<u32>);

fn parse_daily(text: &str) -> Result<Daily, String> {
    if text == "off" {
        return Ok(Daily(None));
    }
    let parsed = text.split_once(':').and_then(|(hours, minutes)| {
        let (hours, minutes) = (hours.parse::<u32>().ok()?, minutes.parse::<u32>().ok()?);
        (hours < 24 && minutes < 60 && text.len() == 5).then_some(hours * 3600 + minutes * 60)
    });
    parsed.map(|seconds| Daily(Some(seconds))).ok_or_else(|| format!("{text:?} is not HH:MM (UTC, e.g. 06:30) or `off`"))
}

/// Seconds from `now` (seconds since the epoch) to the next `at` (seconds after midnight UTC).
fn seconds_until(now: u64, at: u32) -> u64 {
    let today = now % 86_400;
    let at = u64::from(at);
    if today < at { at - today } else { 86_400 - today + at }
}

/// The schedule thread: the daily reconciliation run. It opens its own connection to the
/// store for each run, as another process would, and closes it afterwards (a register in
/// memory is not kept twice between runs); the server sees what it records at its next
/// refresh. Stops when `stop` is dropped. The run itself, like the expiries and escalations the
/// server's store thread journals when idle, is in `ringfence_watch::system`.
fn schedule(
    location: ringfence_store::Location,
    signer: Option<std::sync::Arc<ringfence_store::Signer>>,
    settings: ringfence_watch::Settings,
    daily: Daily,
    inbox: Option<std::path::PathBuf>,
    stop: std::sync::mpsc::Receiver<()>,
) -> Option<std::thread::JoinHandle<()>> {
    let at = daily.0?;
    Some(std::thread::spawn(move || {
        let log = |value: serde_json::Value| ringfence_server::log(&value);
        let now_seconds = || u64::try_from(ringfence_wire::clock::now().micros() / 1_000_000).unwrap_or(0);
        loop {
            let wait = seconds_until(now_seconds(), at);
            match stop.recv_timeout(std::time::Duration::from_secs(wait)) {
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                _ => return,
            }
            let recorded = ringfence_store::Store::open_with(&location, signer.clone()).map_err(ringfence_watch::WatchError::from).and_then(
                |mut store| {
                    let statements = match &inbox {
                        None => ringfence_watch::system::Inbox::default(),
                        Some(dir) => match ringfence_watch::system::read_inbox(store.register(), dir, ringfence_wire::clock::now()) {
                            Ok(statements) => statements,
                            Err(error) => {
                                log(serde_json::json!({"level": "error", "message": "cannot read the statements inbox; the run goes on without statements", "inbox": dir.display().to_string(), "error": error.to_string()}));
                                ringfence_watch::system::Inbox::default()
                            }
                        },
                    };
                    for (path, why) in &statements.skipped {
                        log(serde_json::json!({"level": "warn", "message": "statement skipped", "file": path.display().to_string(), "why": why}));
                    }
                    ringfence_watch::system::daily_reconciliation(&mut store, &settings, &statements)
                },
            );
            match recorded {
                Ok(result) => log(serde_json::json!({
                    "level": if result.run.is_clean() { "info" } else { "warn" },
                    "message": "daily reconciliation run recorded",
                    "run": result.id,
                    "clean": result.run.is_clean(),
                    "breaks": result.run.breaks.len(),
                    "exceptions": result.exceptions,
                })),
                Err(error) => {
                    log(serde_json::json!({"level": "error", "message": "the daily reconciliation run failed", "error": error.to_string()}))
                }
            }
        }
    }))
}

pub fn run(cli: &Cli, args: &ServeArgs, out: &mut dyn Write) -> Result<ExitCode> {
    if args.threads == Some(0) {
        bail!("--threads must be at least 1");
    }
    let read_only = cli.read_database_url.is_some();
    let daily = args.recon_daily.unwrap_or(if read_only { Daily(None) } else { Daily(Some(0)) });
    if read_only && (daily.0.is_some() || args.statements_inbox.is_some() || args.anchor_file.is_some()) {
        bail!(
            "--recon-daily, --statements-inbox and --anchor-file record runs and anchors, and a server on --read-database-url records nothing: give them to the writer's server"
        );
    }
    let store = crate::open_read(cli)?;
    crate::SHOW_REPLAY_PROGRESS.store(false, std::sync::atomic::Ordering::Relaxed);
    if !read_only && !store.register().signing_keys().is_empty() && store.signer().is_none() {
        bail!(
            "this journal's commits are signed (see `ringfence key list`): start the server with --signing-key FILE (or RINGFENCE_SIGNING_KEY) holding an active key, or it could not record anything"
        );
    }
    if store.register().tokens().next().is_none() {
        eprintln!("warning: no API token exists yet; every request will get 401. Create one with `ringfence token create`.");
    }
    if store.register().approval_policy().is_none() {
        eprintln!(
            "warning: no approval policy is in force, so nothing waits for four-eyes approval; compliance sets one with PUT /v1/policy/approvals (docs/api.md)."
        );
    }
    if let Some(path) = &args.anchor_file {
        check_anchors(&store, path)?;
    }
    let described = store.location().describe();
    let settings = args.nodes.settings(crate::oversight::evidence_dir(cli, args.evidence_dir.as_ref()));
    let (stop_schedule, stopped) = std::sync::mpsc::channel();
    let signer = store.signer();
    if let Some(dir) = &args.statements_inbox
        && !dir.is_dir()
    {
        bail!("--statements-inbox {}: not a directory; create it, or leave the option out", dir.display());
    }
    let scheduler = schedule(store.location().clone(), signer.clone(), settings.clone(), daily, args.statements_inbox.clone(), stopped);
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if let Some(threads) = args.threads {
        runtime.worker_threads(threads);
    }
    let runtime = runtime.build().context("failed to start the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("cannot listen on {}", args.listen))?;
        let state = ringfence_server::AppState::start(store)
            .context("failed to start the store thread")?
            .with_recon(settings.clone())
            .with_limits(args.limits())
            .with_casp(args.casp.configured());
        writeln!(out, "ringfence serving {} on http://{} (OpenAPI at /openapi.json)", described, listener.local_addr()?)?;
        if read_only {
            writeln!(
                out,
                "read-only: the read routes follow this replica as it replays the writer's commits; every write is refused (503 read_only)"
            )?;
        }
        match daily.0 {
            Some(at) => writeln!(
                out,
                "daily reconciliation run at {:02}:{:02} UTC{}; overdue exceptions are escalated as they fall due",
                at / 3600,
                at % 3600 / 60,
                args.statements_inbox.as_ref().map_or_else(String::new, |dir| format!(" with the statements in {}", dir.display()))
            )?,
            None if read_only => writeln!(out, "daily reconciliation run off; the writer's server escalates overdue exceptions")?,
            None => writeln!(out, "daily reconciliation run off; overdue exceptions are escalated as they fall due")?,
        }
        if let Some(path) = args.anchor_file.clone() {
            writeln!(out, "anchoring the journal head to {} every {} s", path.display(), args.anchor_every)?;
            tokio::spawn(anchoring(state.clone(), path, std::time::Duration::from_secs(args.anchor_every), signer.clone()));
        }
        out.flush()?;
        ringfence_server::serve(listener, state, shutdown_signal()).await.context("the HTTP server failed")?;
        drop(stop_schedule);
        if let Some(scheduler) = scheduler {
            let _ = scheduler.join();
        }
        writeln!(out, "ringfence stopped")?;
        Ok(ExitCode::SUCCESS)
    })
}

/// Refuses to serve a store that does not extend every head of the anchor file (a missing
/// file is a new one: nothing to check yet).
fn check_anchors(store: &ringfence_store::Store, path: &std::path::Path) -> Result<()> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(error).with_context(|| format!("cannot read the anchor file {}", path.display())),
    };
    let anchors = ringfence_journal::anchor::parse(&text).map_err(|e| anyhow::anyhow!("the anchor file {}: {e}", path.display()))?;
    let mut failure = None;
    let extended = ringfence_journal::anchor::check(&anchors, store.head(), |seq| {
        let hash = anchors.iter().find(|a| a.seq == seq).map(|a| a.hash)?;
        match store.holds(ringfence_journal::Head { seq, hash }) {
            Ok(true) => Some(hash),
            Ok(false) => None,
            Err(error) => {
                failure = Some(error);
                None
            }
        }
    });
    if let Some(error) = failure {
        return Err(error).context("cannot read the journal to check the anchors");
    }
    if let Err(broken) = extended {
        bail!(
            "the store does not extend the anchor file {}: {broken}; not serving it (run `ringfence journal verify --anchors`)",
            path.display()
        );
    }
    Ok(())
}

/// Appends the head to the anchor file every `every` when it moved; a failure is logged and
/// tried again at the next tick.
async fn anchoring(
    state: ringfence_server::AppState,
    path: std::path::PathBuf,
    every: std::time::Duration,
    signer: Option<std::sync::Arc<ringfence_store::Signer>>,
) {
    let mut last = None;
    let mut ticks = tokio::time::interval(every);
    loop {
        ticks.tick().await;
        let Ok(head) = state.head().await else { continue };
        if head.seq == 0 || last == Some(head) {
            continue;
        }
        let (path, signer) = (path.clone(), signer.clone());
        match tokio::task::spawn_blocking(move || crate::anchor_to(&path, head, signer.as_deref())).await {
            Ok(Ok(())) => last = Some(head),
            Ok(Err(error)) => ringfence_server::log(
                &serde_json::json!({"level": "error", "message": "anchoring the journal head failed", "error": format!("{error:#}")}),
            ),
            Err(_) => {}
        }
    }
}

/// Resolves on SIGINT or SIGTERM; requests in flight finish first.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(signal) => signal,
        Err(_) => {
            let _ = interrupt.await;
            return;
        }
    };
    tokio::select! {
        _ = interrupt => {}
        _ = terminate.recv() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_daily_time_is_parsed_and_the_wait_computed() {
        assert_eq!(parse_daily("06:30").unwrap().0, Some(6 * 3600 + 30 * 60));
        assert_eq!(parse_daily("off").unwrap().0, None);
        for bad in ["6:30", "24:00", "12:60", "noon", "12:3x"] {
            assert!(parse_daily(bad).is_err(), "{bad}");
        }
        // At 05:00 the 06:30 run is 1.5 h away; at 07:00 it is tomorrow's.
        assert_eq!(seconds_until(86_400 * 10 + 5 * 3600, 6 * 3600 + 1800), 5400);
        assert_eq!(seconds_until(86_400 * 10 + 7 * 3600, 6 * 3600 + 1800), 86_400 - 1800);
        assert_eq!(seconds_until(86_400 * 10 + 6 * 3600 + 1800, 6 * 3600 + 1800), 86_400);
    }
}
