//! The store thread: the one owner of the `Store`. Requests reach it through a bounded queue;
//! every write request waiting when a batch starts joins that batch, so concurrent
//! single-movement requests share one durable commit (group commit). Reads run on the same
//! thread between batches and see every committed batch. It catches up on what other
//! processes committed when idle, at least every [`REFRESH_INTERVAL`] when busy, and at once
//! when asked ([`Engine::refresh`]); then it journals what the server does by itself (the
//! expiry of overdue pending instructions, the escalation of overdue exceptions). It keeps
//! the copy of the API tokens that requests authenticate against. On a store opened read-only
//! (a replica) it only follows: every write is answered [`ApiError::read_only`], and the
//! duties and checkpoints are left to the writer.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use ringfence_core::{Action, ApiToken, Command, Outcome, TokenId};
use ringfence_journal::Head;
use ringfence_store::{BATCH_MAX, Location, Store};
use ringfence_watch::system::Duty;
use ringfence_wire::clock;
use tokio::sync::oneshot;

use crate::error::ApiError;
use crate::metrics::Metrics;

/// Requests waiting for the store thread at most; beyond it a request gets 503.
pub const QUEUE_MAX: usize = 65_536;
/// How long a request waits for the store thread before it gets 503.
const ANSWER_WAIT_MAX: Duration = Duration::from_secs(30);
/// How often the store thread catches up on other processes' commits, idle or busy.
pub const REFRESH_INTERVAL: Duration = Duration::from_millis(500);
/// How often the store thread checks the stored journal against the head it holds, and how
/// many stored entries each check walks on (`Store::check_stored`): a store edited behind the
/// server's back stops its writes within seconds at the head, within a pass at worst.
pub const STORED_CHECK_INTERVAL: Duration = Duration::from_secs(2);
pub const STORED_CHECK_CHUNK: u32 = 4096;

type Reply = oneshot::Sender<Result<Vec<Outcome>, ApiError>>;

pub(crate) enum Job {
    Submit {
        commands: Vec<Command>,
        reply: Reply,
    },
    Read(Box<dyn FnOnce(&Store) + Send>),
    /// Catch up now (another handle on the store recorded something the caller waits for).
    Refresh(oneshot::Sender<()>),
}

/// Every token with its revocation, copied from the register after each change.
pub(crate) type TokenBook = HashMap<TokenId, (ApiToken, Option<u64>)>;

#[derive(Clone)]
pub(crate) struct Engine {
    jobs: SyncSender<Job>,
    pub(crate) tokens: Arc<RwLock<TokenBook>>,
    pub(crate) ready: Arc<AtomicBool>,
    /// Why writes are stopped: the stored journal differs from what this server recorded.
    pub(crate) stopped: Arc<RwLock<Option<String>>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

impl Engine {
    /// Starts the store thread on an opened store.
    pub(crate) fn start(store: Store, metrics: Arc<Metrics>) -> std::io::Result<Engine> {
        let (jobs, inbox) = std::sync::mpsc::sync_channel(QUEUE_MAX);
        let tokens = Arc::new(RwLock::new(token_book(&store)));
        let ready = Arc::new(AtomicBool::new(true));
        metrics.set_head(store.head().seq);
        let stopped = Arc::new(RwLock::new(None));
        let thread_tokens = Arc::clone(&tokens);
        let thread_ready = Arc::clone(&ready);
        let thread_stopped = Arc::clone(&stopped);
        std::thread::Builder::new().name("ringfence-store".into()).spawn(move || {
            serve(store, &inbox, &thread_tokens, &thread_ready, &thread_stopped, &metrics);
        })?;
        Ok(Engine { jobs, tokens, ready, stopped })
    }

    /// Why writes are stopped, if they are.
    pub(crate) fn stopped(&self) -> Option<String> {
        self.stopped.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    fn send(&self, job: Job) -> Result<(), ApiError> {
        self.jobs.try_send(job).map_err(|error| match error {
            TrySendError::Full(_) => ApiError::busy(),
            TrySendError::Disconnected(_) => ApiError::unavailable("the store thread stopped"),
        })
    }

    /// Decides and durably records `commands` (with whatever else is waiting).
    pub(crate) async fn submit(&self, commands: Vec<Command>) -> Result<Vec<Outcome>, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.send(Job::Submit { commands, reply })?;
        wait(answer).await?
    }

    /// Catches up on what other handles on the store committed: a read sent after this
    /// returns sees it.
    pub(crate) async fn refresh(&self) -> Result<(), ApiError> {
        let (reply, answer) = oneshot::channel();
        self.send(Job::Refresh(reply))?;
        wait(answer).await
    }

    /// Runs `read` on the store thread and returns its result.
    pub(crate) async fn read<T: Send + 'static>(&self, read: impl FnOnce(&Store) -> T + Send + 'static) -> Result<T, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.send(Job::Read(Box::new(move |store| {
            let _ = reply.send(read(store));
        })))?;
        wait(answer).await
    }
}

async fn wait<T>(answer: oneshot::Receiver<T>) -> Result<T, ApiError> {
    match tokio::time::timeout(ANSWER_WAIT_MAX, answer).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(_)) => Err(ApiError::unavailable("the store thread stopped")),
        Err(_) => Err(ApiError::unavailable("the store did not answer in time; retry (writes are idempotent)")),
    }
}

fn token_book(store: &Store) -> TokenBook {
    store.register().tokens().map(|(token, revoked)| (token.id.clone(), (token.clone(), revoked))).collect()
}

fn refresh_tokens(store: &Store, tokens: &RwLock<TokenBook>) {
    let book = token_book(store);
    let mut shared = tokens.write().unwrap_or_else(std::sync::PoisonError::into_inner);
    *shared = book;
}

fn serve(
    mut store: Store,
    inbox: &Receiver<Job>,
    tokens: &RwLock<TokenBook>,
    ready: &AtomicBool,
    stopped: &RwLock<Option<String>>,
    metrics: &Metrics,
) {
    let location: Location = store.location().clone();
    let mut carried: Option<Job> = None;
    let mut caught_up = Instant::now();
    let mut cursor = Head::EMPTY;
    let mut checked = Instant::now();
    let is_stopped = || stopped.read().unwrap_or_else(std::sync::PoisonError::into_inner).is_some();
    loop {
        if checked.elapsed() >= STORED_CHECK_INTERVAL && !is_stopped() {
            check_stored(&store, &mut cursor, ready, stopped);
            checked = Instant::now();
        }
        let job = match carried.take() {
            Some(job) => job,
            None => match inbox.recv_timeout(REFRESH_INTERVAL.saturating_sub(caught_up.elapsed())) {
                Ok(job) => job,
                Err(RecvTimeoutError::Timeout) => {
                    store = catch_up(store, &location, tokens, ready, stopped, metrics);
                    caught_up = Instant::now();
                    store = take_checkpoint_if_due(store, &location, ready, stopped);
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => return,
            },
        };
        // A steady stream of reads never leaves the queue empty: catch up between them anyway,
        // so that what another process recorded shows within the interval.
        if caught_up.elapsed() >= REFRESH_INTERVAL {
            store = catch_up(store, &location, tokens, ready, stopped, metrics);
            caught_up = Instant::now();
        }
        match job {
            Job::Read(read) => read(&store),
            Job::Refresh(reply) => {
                store = catch_up(store, &location, tokens, ready, stopped, metrics);
                caught_up = Instant::now();
                let _ = reply.send(());
            }
            Job::Submit { reply, .. } if store.is_read_only() => {
                let _ = reply.send(Err(ApiError::read_only()));
            }
            Job::Submit { reply, .. } if is_stopped() => {
                let why = stopped.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone().unwrap_or_default();
                let _ = reply.send(Err(ApiError::unavailable(format!(
                    "writes are stopped: {why}; the store was changed behind this server's back (run `ringfence journal verify`)"
                ))));
            }
            Job::Submit { commands, reply } => {
                // Gather every write already waiting, up to one batch; reads wait for the commit.
                let mut batch = commands;
                let mut replies = vec![(reply, batch.len())];
                let mut reads = Vec::new();
                let mut refreshes = Vec::new();
                while batch.len() < BATCH_MAX {
                    match inbox.try_recv() {
                        Ok(Job::Submit { commands, reply }) if batch.len() + commands.len() <= BATCH_MAX => {
                            replies.push((reply, commands.len()));
                            batch.extend(commands);
                        }
                        Ok(job @ Job::Submit { .. }) => {
                            carried = Some(job);
                            break;
                        }
                        Ok(Job::Read(read)) => reads.push(read),
                        // A refresh waits for the commit like a read: the commit catches up too.
                        Ok(Job::Refresh(reply)) => refreshes.push(reply),
                        Err(_) => break,
                    }
                }
                let touches_tokens = batch.iter().any(|c| matches!(c.action, Action::RegisterApiToken(_) | Action::RevokeApiToken { .. }));
                let held = store.head();
                let before = held.seq;
                match store.submit(&batch, clock::now()) {
                    Ok(outcomes) => {
                        metrics.record_outcomes(&outcomes);
                        metrics.set_head(store.head().seq);
                        // Tokens change with this batch, or with what other processes
                        // committed before it (a revocation must bite at once).
                        let own = outcomes.iter().filter(|o| o.status.is_journaled()).count() as u64;
                        let foreign = store.head().seq != before + own;
                        if own > 0 {
                            check_safeguards(&mut store, metrics);
                        }
                        if foreign || (touches_tokens && own > 0) {
                            refresh_tokens(&store, tokens);
                        }
                        let mut rest = outcomes.into_iter();
                        for (reply, count) in replies {
                            let _ = reply.send(Ok(rest.by_ref().take(count).collect()));
                        }
                    }
                    Err(error) => {
                        crate::log(
                            &serde_json::json!({"level": "error", "message": "a batch was not recorded", "error": error.to_string()}),
                        );
                        for (reply, _) in replies {
                            let _ = reply.send(Err(ApiError::unavailable("the batch was not recorded; nothing of it was applied; retry")));
                        }
                        store = reopen(store, &location, ready, stopped, held);
                    }
                }
                for read in reads {
                    read(&store);
                }
                for reply in refreshes {
                    let _ = reply.send(());
                }
                // Between batches, when nothing waits (a writer that never idles takes it
                // once twice the interval of entries has passed): requests wait meanwhile.
                if store.checkpoint_overdue() {
                    store = take_checkpoint_if_due(store, &location, ready, stopped);
                } else if carried.is_none() && store.checkpoint_due() {
                    match inbox.try_recv() {
                        Ok(job) => carried = Some(job),
                        Err(_) => store = take_checkpoint_if_due(store, &location, ready, stopped),
                    }
                }
            }
        }
    }
}

/// Takes a register checkpoint when the store's policy wants one (not while writes are
/// stopped: the store may have been changed behind the server's back). A failure is logged
/// and the store reopened (taking one catches up first, which may have failed half-way); the
/// journal stays the truth and the next open replays a longer tail.
fn take_checkpoint_if_due(store: Store, location: &Location, ready: &AtomicBool, stopped: &RwLock<Option<String>>) -> Store {
    if stopped.read().unwrap_or_else(std::sync::PoisonError::into_inner).is_some() {
        return store;
    }
    let mut store = store;
    let held = store.head();
    let started = Instant::now();
    match store.checkpoint_if_due(clock::now()) {
        Ok(Some(info)) => crate::log(&serde_json::json!({
            "level": "info",
            "message": "register checkpoint taken",
            "seq": info.seq,
            "bytes": info.size,
            "ms": started.elapsed().as_millis() as u64,
        })),
        Ok(None) => {}
        Err(error) => {
            crate::log(
                &serde_json::json!({"level": "warn", "message": "a register checkpoint was not written", "error": error.to_string()}),
            );
            store = reopen(store, location, ready, stopped, held);
        }
    }
    store
}

/// Catches up on what other processes committed, then journals what the server does by
/// itself; reopens the store when a read or write failed. Keeps the token book and the head
/// metric current.
fn catch_up(
    mut store: Store,
    location: &Location,
    tokens: &RwLock<TokenBook>,
    ready: &AtomicBool,
    stopped: &RwLock<Option<String>>,
    metrics: &Metrics,
) -> Store {
    if stopped.read().unwrap_or_else(std::sync::PoisonError::into_inner).is_some() {
        // Nothing is read into or written on a store that was edited behind our back.
        ready.store(false, Ordering::Relaxed);
        return store;
    }
    let before = store.head();
    match store.refresh() {
        Ok(()) => ready.store(true, Ordering::Relaxed),
        Err(error) => {
            crate::log(&serde_json::json!({"level": "error", "message": "catching up failed", "error": error.to_string()}));
            ready.store(false, Ordering::Relaxed);
            store = reopen(store, location, ready, stopped, before);
        }
    }
    // A read-only server follows the writer; the writer does the duties.
    let due = if store.is_read_only() { Ok(Vec::new()) } else { ringfence_watch::system::perform_due(&mut store, clock::now()) };
    match due {
        Ok(done) => {
            for (duty, outcome) in &done {
                log_duty(*duty, outcome);
            }
            let outcomes: Vec<Outcome> = done.into_iter().map(|(_, outcome)| outcome).collect();
            metrics.record_outcomes(&outcomes);
        }
        Err(error) => {
            crate::log(
                &serde_json::json!({"level": "error", "message": "journaling what the server does by itself failed", "error": error.to_string()}),
            );
            store = reopen(store, location, ready, stopped, before);
        }
    }
    if store.head() != before {
        refresh_tokens(&store, tokens);
        metrics.set_head(store.head().seq);
    }
    store
}

/// Checks the stored journal against the head this server holds; on a difference, stops
/// writes, reports unready and logs why. A failure to read is not a difference: the next
/// check tries again.
fn check_stored(store: &Store, cursor: &mut Head, ready: &AtomicBool, stopped: &RwLock<Option<String>>) {
    match store.check_stored(cursor, STORED_CHECK_CHUNK) {
        Ok(Ok(())) => {}
        Ok(Err(why)) => {
            crate::log(&serde_json::json!({
                "level": "error",
                "message": "the stored journal differs from what this server recorded: writes stopped",
                "why": why,
            }));
            ready.store(false, Ordering::Relaxed);
            *stopped.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(why);
        }
        Err(error) => {
            crate::log(&serde_json::json!({"level": "warn", "message": "checking the stored journal failed", "error": error.to_string()}));
        }
    }
}

/// Journals a safeguarding check when a breach has no exception yet (after every batch; the
/// idle catch-up covers time passing: a fiat placement deadline, an authorisation's notice
/// period). A failure is logged; the next batch or catch-up tries again.
fn check_safeguards(store: &mut Store, metrics: &Metrics) {
    match ringfence_watch::system::check_safeguards(store, clock::now()) {
        Ok(None) => {}
        Ok(Some(outcome)) => {
            metrics.record_outcomes(std::slice::from_ref(&outcome));
            metrics.set_head(store.head().seq);
            log_duty(Duty::SafeguardingCheck, &outcome);
        }
        Err(error) => {
            crate::log(&serde_json::json!({"level": "error", "message": "the safeguarding check failed", "error": error.to_string()}));
        }
    }
}

/// One log line for a duty the server did by itself, with its subject's id when it has one.
fn log_duty(duty: Duty, outcome: &Outcome) {
    let mut line = serde_json::json!({"level": "info", "message": duty.message(), "status": outcome.status.code(), "seq": outcome.seq});
    if let Some((field, id)) = duty.subject() {
        line[field] = serde_json::json!(id);
    }
    crate::log(&line);
}

/// After a failed write the in-memory register may be ahead of the database: open the store
/// again (rebuilding the register from the journal), retrying until it opens.
/// `held` is the last head this server knows to be committed: the reopened store must still
/// hold it (an entry at its sequence number with its hash), or the store was rolled back or
/// rewritten behind the server's back, and writes stop.
fn reopen(store: Store, location: &Location, ready: &AtomicBool, stopped: &RwLock<Option<String>>, held: Head) -> Store {
    let signer = store.signer();
    let read_only = store.is_read_only();
    drop(store);
    let mut wait = Duration::from_millis(100);
    loop {
        let opened = if read_only {
            Store::open_read_only(location, ringfence_store::CheckpointPolicy::process_default())
        } else {
            Store::open_with(location, signer.clone())
        };
        match opened {
            Ok(store) => {
                match store.holds(held) {
                    Ok(true) => ready.store(true, Ordering::Relaxed),
                    Ok(false) => {
                        let why = format!(
                            "the store no longer holds entry {}, which this server recorded (a deleted or rewritten tail)",
                            held.seq
                        );
                        crate::log(
                            &serde_json::json!({"level": "error", "message": "the stored journal differs from what this server recorded: writes stopped", "why": why}),
                        );
                        ready.store(false, Ordering::Relaxed);
                        *stopped.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(why);
                    }
                    Err(error) => {
                        crate::log(
                            &serde_json::json!({"level": "warn", "message": "checking the reopened store failed", "error": error.to_string()}),
                        );
                        ready.store(true, Ordering::Relaxed);
                    }
                }
                return store;
            }
            Err(error) => {
                ready.store(false, Ordering::Relaxed);
                crate::log(&serde_json::json!({"level": "error", "message": "reopening the store failed", "error": error.to_string()}));
                std::thread::sleep(wait);
                wait = (wait * 2).min(Duration::from_secs(10));
            }
        }
    }
}
