//! The writer thread: owns the database session that writes the journal. While the state
//! machine decides a batch on the calling thread, this thread chains, hashes and inserts the
//! entries accepted so far, so the two cores share the work. The batch is still one
//! transaction with one durable commit; `submit` returns only after the commit.
//!
//! The thread is the same for every backend; what differs (SQL, round trips, locking) is
//! behind [`Sink`].

use std::sync::mpsc;
use std::thread::JoinHandle;

use ringfence_core::{InvariantViolation, Timestamp};
use std::sync::Arc;

use ringfence_journal::signing::{CommitSignature, Signer};
use ringfence_journal::{Hash, Head};

use ringfence_core::register::Taken;

use crate::{Runs, StoreError};

/// Accepted commands in their canonical encoding, sharing one buffer.
#[derive(Debug, Default)]
pub(crate) struct Chunk {
    pub(crate) commands: Vec<u8>,
    /// The sequence number the register gave each command, and where its bytes end.
    pub(crate) entries: Vec<(u64, usize)>,
}

/// Sealed entries ready to insert: bodies share one buffer.
#[derive(Debug, Default)]
pub(crate) struct Rows {
    pub(crate) bodies: Vec<u8>,
    /// Sequence number, end of the body in `bodies`, and the body's hash.
    pub(crate) rows: Vec<(u64, usize, Hash)>,
}

impl Rows {
    /// Each row as (seq, body, hash).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, &[u8], &Hash)> {
        let mut start = 0;
        self.rows.iter().map(move |(seq, end, hash)| {
            let body = &self.bodies[start..*end];
            start = *end;
            (*seq, body, hash)
        })
    }
}

/// Entries per chunk handed to the writer: small enough to overlap, large enough that the
/// channel and a round trip to the database cost little.
pub(crate) const CHUNK_ENTRIES_MAX: usize = 512;

/// A backend's write session, driven by the writer thread.
pub(crate) trait Sink: Send {
    /// Opens the batch's transaction and takes the journal's write lock, which every
    /// ringfence process takes before it reads the head it will chain to.
    fn begin(&mut self) -> Result<(), StoreError>;
    /// Inserts sealed entries inside the open transaction.
    fn insert(&mut self, rows: &Rows) -> Result<(), StoreError>;
    /// Records the commit's signature (when signed) and the new head, and commits: durable
    /// when this returns Ok. On failure the transaction is rolled back.
    fn commit(&mut self, head: Head, signature: Option<&CommitSignature>) -> Result<(), StoreError>;
    fn rollback(&mut self) -> Result<(), StoreError>;
    /// Inside the open transaction: inserts `runs` (the postings of entries `after + 1 ..=
    /// through`) and moves the posting index's end to `through`; an error if it does not end
    /// at `after` (the caller read it under the same lock).
    fn index(&mut self, after: u64, through: u64, runs: &Runs) -> Result<(), StoreError>;
}

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
    /// Move these postings and movement records to the indexes in the batch's transaction.
    Index {
        after: u64,
        through: u64,
        postings: Taken,
    },
    /// Commit, signing the commit with this key when given.
    Commit(Option<Arc<Signer>>),
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
    pub(crate) fn start(sink: Box<dyn Sink>) -> Result<Writer, StoreError> {
        let (requests, inbox) = mpsc::channel::<Request>();
        let (outbox, replies) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("ringfence-writer".into())
            .spawn(move || serve(sink, &inbox, &outbox))
            .map_err(StoreError::Thread)?;
        Ok(Writer { requests: Some(requests), replies, thread: Some(thread) })
    }

    fn send(&self, request: Request) -> Result<(), StoreError> {
        self.requests.as_ref().ok_or_else(stopped)?.send(request).map_err(|_| stopped())
    }

    fn call(&self, request: Request) -> Result<Head, StoreError> {
        self.send(request)?;
        self.replies.recv().map_err(|_| stopped())?
    }

    /// Takes the database's write lock.
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

    /// Hands over the postings and movement records of entries `after + 1 ..= through`, to go into the posting
    /// index in this batch's transaction; errors surface at `commit`.
    pub(crate) fn index(&self, after: u64, through: u64, postings: Taken) -> Result<(), StoreError> {
        self.send(Request::Index { after, through, postings })
    }

    /// Records the head (and the commit's signature by `signer`) and commits: durable when
    /// this returns the new head.
    pub(crate) fn commit(&self, signer: Option<Arc<Signer>>) -> Result<Head, StoreError> {
        self.call(Request::Commit(signer))
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

fn serve(mut sink: Box<dyn Sink>, inbox: &mpsc::Receiver<Request>, outbox: &mpsc::Sender<Result<Head, StoreError>>) {
    let mut head = Head::EMPTY;
    // The first entry of the batch is the one after this.
    let mut start = Head::EMPTY;
    let mut recorded_at = Timestamp::from_micros(0);
    let mut rows = Rows::default();
    // The first error of a batch; later entries are skipped and the commit reports it.
    let mut failed: Option<StoreError> = None;
    // Postings moved to the posting index in this batch, freed once it is answered (off
    // this thread).
    let mut taken = Taken::default();
    while let Ok(request) = inbox.recv() {
        let reply = match request {
            Request::Begin => {
                failed = None;
                sink.begin().map(|()| head)
            }
            Request::Chain { head: from, recorded_at: at } => {
                (head, start, recorded_at) = (from, from, at);
                continue;
            }
            Request::Entries(chunk) => {
                if failed.is_none()
                    && let Err(error) = seal(&chunk, &mut head, recorded_at, &mut rows).and_then(|()| sink.insert(&rows))
                {
                    failed = Some(error);
                }
                continue;
            }
            Request::Index { after, through, postings } => {
                if failed.is_none()
                    && let Err(error) = sink.index(after, through, &crate::runs_from(after, &postings))
                {
                    failed = Some(error);
                }
                // Freed after the commit is answered, off the batch's path.
                taken = postings;
                continue;
            }
            Request::Commit(signer) => match failed.take() {
                Some(error) => {
                    let _ = sink.rollback();
                    Err(error)
                }
                None => {
                    // Signed only when the batch appended entries (a batch of refusals commits
                    // nothing new).
                    let signature = signer.filter(|_| head.seq > start.seq).map(|signer| signer.sign(start.seq + 1, head.seq, &head.hash));
                    sink.commit(head, signature.as_ref()).map(|()| head)
                }
            },
            Request::Rollback => {
                failed = None;
                sink.rollback().map(|()| head)
            }
        };
        if outbox.send(reply).is_err() {
            return;
        }
        // Thousands of small allocations: freed on a thread of their own, so that the next
        // batch does not wait for them.
        if !taken.postings.is_empty() {
            let taken = std::mem::take(&mut taken);
            // When no thread can be started, the closure, and the postings, are dropped here.
            let _ = std::thread::Builder::new().name("ringfence-free".into()).spawn(move || drop(taken));
        }
    }
}

/// Chains and hashes a chunk's entries after `head`.
fn seal(chunk: &Chunk, head: &mut Head, recorded_at: Timestamp, rows: &mut Rows) -> Result<(), StoreError> {
    rows.bodies.clear();
    rows.rows.clear();
    let mut start = 0;
    for &(seq, end) in &chunk.entries {
        let (sealed, hash) = head.seal_encoded(recorded_at, &chunk.commands[start..end], &mut rows.bodies);
        // Pair assertion: the chain and the register agree on every sequence number.
        if sealed != seq {
            return Err(InvariantViolation(format!("journal sequence {sealed} but register sequence {seq}")).into());
        }
        rows.rows.push((seq, rows.bodies.len(), hash));
        start = end;
    }
    Ok(())
}
