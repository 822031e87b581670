//! The journal: the append-only, hash-chained sequence of every accepted command, from which
//! the register is derived. This crate defines an entry's bytes, seals entries into the chain
//! and verifies a stored chain; it does no IO (the store crate reads and writes the bytes).
//!
//! An entry's body is `version (1 byte) | seq (u64) | recorded_at (i64 µs) | prev_hash (32) |
//! command (canonical encoding, see ringfence_core::codec)`, and its hash is SHA-256 of the
//! body. Because the body holds the previous entry's hash, changing, removing or reordering
//! any entry breaks the chain at that entry.

pub mod anchor;
pub mod merkle;
pub mod signing;

use ringfence_core::codec::{DecodeError, Decoder, Encoder};
use ringfence_core::{Command, Timestamp};
use sha2::{Digest, Sha256};

/// The format of entry bodies written by this version.
pub const FORMAT_VERSION: u8 = 1;

pub type Hash = [u8; 32];

/// The hash that the first entry chains to.
pub const GENESIS: Hash = [0u8; 32];

/// One journal entry, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub seq: u64,
    pub recorded_at: Timestamp,
    pub prev_hash: Hash,
    pub command: Command,
}

/// One journal entry as stored: its body and the body's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub seq: u64,
    pub body: Vec<u8>,
    pub hash: Hash,
}

/// Where the chain stands: the next sequence number and the hash to chain to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// The sequence number of the last entry (0 when empty).
    pub seq: u64,
    pub hash: Hash,
}

impl Head {
    pub const EMPTY: Head = Head { seq: 0, hash: GENESIS };

    /// Seals `command` as the next entry and moves the head past it.
    pub fn seal(&mut self, recorded_at: Timestamp, command: &Command) -> Sealed {
        let mut body = Vec::with_capacity(256);
        let (seq, hash) = self.seal_into(recorded_at, command, &mut body);
        Sealed { seq, body, hash }
    }

    /// Seals `command` as the next entry, appending its body to `out` (so many entries can
    /// share one buffer), and returns its sequence number and hash.
    pub fn seal_into(&mut self, recorded_at: Timestamp, command: &Command, out: &mut Vec<u8>) -> (u64, Hash) {
        let mut encoder = Encoder::default();
        encoder.command(command);
        self.seal_encoded(recorded_at, &encoder.bytes, out)
    }

    /// Seals a command already in its canonical encoding (see `ringfence_core::codec`).
    pub fn seal_encoded(&mut self, recorded_at: Timestamp, command: &[u8], out: &mut Vec<u8>) -> (u64, Hash) {
        let start = out.len();
        let seq = self.seq + 1;
        out.push(FORMAT_VERSION);
        out.extend_from_slice(&seq.to_le_bytes());
        out.extend_from_slice(&recorded_at.micros().to_le_bytes());
        out.extend_from_slice(&self.hash);
        out.extend_from_slice(command);
        let hash: Hash = Sha256::digest(&out[start..]).into();
        *self = Head { seq, hash };
        (seq, hash)
    }
}

/// Decodes an entry body, checking its format version.
pub fn decode(body: &[u8]) -> Result<Entry, DecodeError> {
    let mut decoder = Decoder::new(body);
    let offset = decoder.offset();
    let version = decoder.u8()?;
    if version != FORMAT_VERSION {
        return Err(DecodeError::BadTag { what: "journal format version", tag: version, offset });
    }
    let seq = decoder.u64()?;
    let recorded_at = Timestamp::from_micros(decoder.i64()?);
    let prev_hash = decoder.hash()?;
    let command = decoder.command()?;
    decoder.finish()?;
    Ok(Entry { seq, recorded_at, prev_hash, command })
}

pub fn hash_of(body: &[u8]) -> Hash {
    Sha256::digest(body).into()
}

/// Why the chain is broken at an entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Break {
    #[error("entry {expected} is missing (the next stored entry is {found})")]
    Missing { expected: u64, found: u64 },
    #[error("entry {seq} does not decode: {source}")]
    Undecodable { seq: u64, source: DecodeError },
    #[error("entry {seq} says it is entry {inside}: entries were moved or reordered")]
    OutOfPlace { seq: u64, inside: u64 },
    #[error("entry {seq}'s content does not match its hash: it was altered")]
    HashMismatch { seq: u64 },
    #[error("entry {seq} does not chain to entry {previous}'s hash: an entry was altered, removed or reordered")]
    ChainMismatch { seq: u64, previous: u64 },
    #[error("entries after {last} are missing: the journal ends at {last} but {expected} entries were committed")]
    Truncated { last: u64, expected: u64 },
    #[error("the journal's recorded head hash does not match entry {seq}")]
    HeadMismatch { seq: u64 },
    #[error(
        "entry {seq} and later are not covered by the recorded head (which ends at {recorded}): they were added outside ringfence, or the head was altered"
    )]
    Unrecorded { seq: u64, recorded: u64 },
    #[error(
        "entry {seq} is not covered by a commit signature of a journal signing key: it was added by someone without the key, or its signature was removed"
    )]
    Unsigned { seq: u64 },
    #[error(
        "the commit of entries {first} to {last} fails its signature check ({reason}): an entry in it was altered, or the signature forged"
    )]
    BadSignature { first: u64, last: u64, reason: String },
}

impl Break {
    /// The first sequence number at which the journal is bad.
    pub fn seq(&self) -> u64 {
        match self {
            Break::Missing { expected: seq, .. }
            | Break::Undecodable { seq, .. }
            | Break::OutOfPlace { seq, .. }
            | Break::HashMismatch { seq }
            | Break::ChainMismatch { seq, .. }
            | Break::HeadMismatch { seq }
            | Break::Unrecorded { seq, .. }
            | Break::Unsigned { seq } => *seq,
            Break::BadSignature { first, .. } => *first,
            Break::Truncated { last, .. } => last + 1,
        }
    }
}

/// Checks stored entries one by one, in the order of their stored sequence numbers.
#[derive(Debug, Clone)]
pub struct Verifier {
    head: Head,
}

impl Default for Verifier {
    fn default() -> Self {
        Self { head: Head::EMPTY }
    }
}

impl Verifier {
    pub fn new() -> Self {
        Self::default()
    }

    /// Continues verification after entries already checked up to `head`.
    pub fn resume(head: Head) -> Self {
        Self { head }
    }

    pub fn head(&self) -> Head {
        self.head
    }

    /// Checks the entry stored under `seq` with `body` and `hash`, returning it decoded.
    pub fn check(&mut self, seq: u64, body: &[u8], hash: &[u8]) -> Result<Entry, Break> {
        let expected = self.head.seq + 1;
        if seq != expected {
            return Err(Break::Missing { expected, found: seq });
        }
        let entry = decode(body).map_err(|source| Break::Undecodable { seq, source })?;
        if entry.seq != seq {
            return Err(Break::OutOfPlace { seq, inside: entry.seq });
        }
        let computed = hash_of(body);
        if computed.as_slice() != hash {
            return Err(Break::HashMismatch { seq });
        }
        if entry.prev_hash != self.head.hash {
            return Err(Break::ChainMismatch { seq, previous: self.head.seq });
        }
        self.head = Head { seq, hash: computed };
        Ok(entry)
    }

    /// After the last entry: checks the chain against the head the store recorded at commit.
    pub fn finish(&self, recorded: Head) -> Result<Head, Break> {
        if self.head.seq < recorded.seq {
            return Err(Break::Truncated { last: self.head.seq, expected: recorded.seq });
        }
        if self.head.seq > recorded.seq {
            return Err(Break::Unrecorded { seq: recorded.seq + 1, recorded: recorded.seq });
        }
        if self.head.hash != recorded.hash {
            return Err(Break::HeadMismatch { seq: self.head.seq });
        }
        Ok(self.head)
    }
}

/// Lower-case hex, for printing hashes.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 15)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringfence_core::{Action, Actor, Asset, AssetId, InstructionId, Meta};

    fn command(n: u8) -> Command {
        Command {
            meta: Meta {
                actor: Actor::parse("ops").unwrap(),
                instruction: InstructionId::parse("i").unwrap(),
                effective_at: Timestamp::from_micros(5),
            },
            action: Action::RegisterAsset(Asset { id: AssetId::parse("eip155:1/slip44:60").unwrap(), scale: n, symbol: "ETH".into() }),
        }
    }

    fn chain(count: u8) -> Vec<Sealed> {
        let mut head = Head::EMPTY;
        (0..count).map(|n| head.seal(Timestamp::from_micros(i64::from(n)), &command(n))).collect()
    }

    fn verify(entries: &[Sealed], recorded: Head) -> Result<Head, Break> {
        let mut verifier = Verifier::new();
        for entry in entries {
            verifier.check(entry.seq, &entry.body, &entry.hash)?;
        }
        verifier.finish(recorded)
    }

    #[test]
    fn a_sealed_chain_verifies_and_decodes() {
        let entries = chain(5);
        let head = Head { seq: 5, hash: entries[4].hash };
        assert_eq!(verify(&entries, head), Ok(head));
        assert_eq!(decode(&entries[2].body).unwrap().command, command(2));
    }

    #[test]
    fn every_altered_byte_is_found_at_its_entry() {
        let entries = chain(3);
        let head = Head { seq: 3, hash: entries[2].hash };
        for index in 0..entries[1].body.len() {
            let mut altered = entries.clone();
            altered[1].body[index] ^= 0x01;
            let result = verify(&altered, head);
            assert_eq!(result.map_err(|b| b.seq()), Err(2), "byte {index}");
        }
    }

    #[test]
    fn removal_reordering_and_truncation_are_found() {
        let entries = chain(4);
        let head = Head { seq: 4, hash: entries[3].hash };
        let removed: Vec<_> = entries.iter().filter(|e| e.seq != 2).cloned().collect();
        assert_eq!(verify(&removed, head).unwrap_err().seq(), 2);
        let mut swapped = entries.clone();
        let (a, b) = (swapped[1].body.clone(), swapped[1].hash);
        swapped[1].body = swapped[2].body.clone();
        swapped[1].hash = swapped[2].hash;
        swapped[2].body = a;
        swapped[2].hash = b;
        assert_eq!(verify(&swapped, head).unwrap_err().seq(), 2);
        assert_eq!(verify(&entries[..3], head).unwrap_err(), Break::Truncated { last: 3, expected: 4 });
    }
}
