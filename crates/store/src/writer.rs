//! The writer thread: owns the connection that writes the journal. While the state machine
//! decides a batch on the calling thread, this thread chains, hashes and inserts the entries
//! accepted so far, so the two cores share the work. The batch is still one transaction with
//! one fsync; `submit` returns only after the commit.

use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;

use ringfence_core::{InvariantViolation, Timestamp};
use ringfence_journal::Head;
use rusqlite::{Connection, params};

use crate::{StoreError, schema};

/// Accepted commands in their canonical encoding, sharing one buffer.
#[derive(Debug, Default)]
pub(crate) struct Chunk {
    pub(crate) commands: Vec<u8>,
    /// The sequence number the register gave each command, and where its bytes end.
    pub(crate) entries: Vec<(u64, usize)>,
}

/// Entries per chunk handed to the writer: small enough to overlap, large enough that the
/// channel costs nothing.
pub(crate) const CHUNK_ENTRIES_MAX: usize = 512;

#[derive(Debug)]
enum Request {
    /// Take the write lock.
    Begin,
    /// Chain what follows after `head` (sent once the caller has caught up under the lock).
    Chain {
        head: Head,
        recorded_at: Timestamp,
    },
    Entries(Chunk),
    Commit,
    Rollback,
}

#[derive(Debug)]
pub(crate) struct Writer {
    requests: Option<mpsc::Sender<Request>>,
    replies: mpsc::Receiver<Result<Head, StoreError>>,
    thread: Option<JoinHandle<()>>,
}

/// The writer thread stopped (it panicked): the store must be opened again.
fn stopped() -> StoreError {
    StoreError::Poisoned
}

impl Writer {
    pub(crate) fn start(path: &Path) -> Result<Writer, StoreError> {
        let conn = Connection::open(path)?;
        schema::configure(&conn)?;
        let (requests, inbox) = mpsc::channel::<Request>();
        let (outbox, replies) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("ringfence-writer".into())
            .spawn(move || serve(&conn, &inbox, &outbox))
            .map_err(|source| StoreError::Directory { path: path.to_owned(), source })?;
        Ok(Writer { requests: Some(requests), replies, thread: Some(thread) })
    }

    fn send(&self, request: Request) -> Result<(), StoreError> {
        self.requests.as_ref().ok_or_else(stopped)?.send(request).map_err(|_| stopped())
    }

    fn call(&self, request: Request) -> Result<Head, StoreError> {
        self.send(request)?;
        self.replies.recv().map_err(|_| stopped())?
    }

    /// Takes the database's write lock (`BEGIN IMMEDIATE`).
    pub(crate) fn begin(&self) -> Result<(), StoreError> {
        self.call(Request::Begin).map(|_| ())
    }

    /// Entries written from now on chain after `head`.
    pub(crate) fn chain_from(&self, head: Head, recorded_at: Timestamp) -> Result<(), StoreError> {
        self.send(Request::Chain { head, recorded_at })
    }

    /// Hands over accepted commands; errors surface at `commit`.
    pub(crate) fn write(&self, chunk: Chunk) -> Result<(), StoreError> {
        self.send(Request::Entries(chunk))
    }

    /// Records the head and commits: durable when this returns the new head.
    pub(crate) fn commit(&self) -> Result<Head, StoreError> {
        self.call(Request::Commit)
    }

    pub(crate) fn rollback(&self) -> Result<(), StoreError> {
        self.call(Request::Rollback).map(|_| ())
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        drop(self.requests.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(conn: &Connection, inbox: &mpsc::Receiver<Request>, outbox: &mpsc::Sender<Result<Head, StoreError>>) {
    let mut head = Head::EMPTY;
    let mut recorded_at = Timestamp::from_micros(0);
    let mut bodies: Vec<u8> = Vec::new();
    // The first error of a batch; later entries are skipped and the commit reports it.
    let mut failed: Option<StoreError> = None;
    while let Ok(request) = inbox.recv() {
        let reply = match request {
            Request::Begin => {
                failed = None;
                conn.execute_batch("BEGIN IMMEDIATE").map(|()| head).map_err(StoreError::from)
            }
            Request::Chain { head: start, recorded_at: at } => {
                (head, recorded_at) = (start, at);
                continue;
            }
            Request::Entries(chunk) => {
                if failed.is_none()
                    && let Err(error) = insert(conn, &chunk, &mut head, recorded_at, &mut bodies)
                {
                    failed = Some(error);
                }
                continue;
            }
            Request::Commit => match failed.take() {
                Some(error) => {
                    let _ = conn.execute_batch("ROLLBACK");
                    Err(error)
                }
                None => commit(conn, head).map(|()| head).map_err(StoreError::from),
            },
            Request::Rollback => {
                failed = None;
                conn.execute_batch("ROLLBACK").map(|()| head).map_err(StoreError::from)
            }
        };
        if outbox.send(reply).is_err() {
            return;
        }
    }
}

fn insert(conn: &Connection, chunk: &Chunk, head: &mut Head, recorded_at: Timestamp, bodies: &mut Vec<u8>) -> Result<(), StoreError> {
    let mut statement = conn.prepare_cached("INSERT INTO journal (seq, body, hash) VALUES (?1, ?2, ?3)")?;
    let mut start = 0;
    for &(seq, end) in &chunk.entries {
        bodies.clear();
        let (sealed, hash) = head.seal_encoded(recorded_at, &chunk.commands[start..end], bodies);
        // Pair assertion: the chain and the register agree on every sequence number.
        if sealed != seq {
            return Err(InvariantViolation(format!("journal sequence {sealed} but register sequence {seq}")).into());
        }
        statement.execute(params![seq as i64, bodies.as_slice(), hash.as_slice()])?;
        start = end;
    }
    Ok(())
}

fn commit(conn: &Connection, head: Head) -> Result<(), rusqlite::Error> {
    let recorded = conn
        .prepare_cached("INSERT OR REPLACE INTO chain_head (id, head_seq, head_hash) VALUES (0, ?1, ?2)")
        .and_then(|mut statement| statement.execute(params![head.seq as i64, head.hash.as_slice()]));
    match recorded.and_then(|_| conn.execute_batch("COMMIT")) {
        Ok(()) => Ok(()),
        Err(error) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(error)
        }
    }
}
