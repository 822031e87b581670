//! Movement records (what idempotency and corrections need of each accepted movement) held
//! in memory only for the tail of the journal. The store moves older ones to its movement
//! index with the postings ([`Register::take_log`]); a bounded cache keeps those moved last
//! and those read back, and a filter over every moved key says which keys can only be new, so
//! a new movement (nearly every one) costs no read. A key the filter may hold is read back
//! through the lookup the store installs ([`Register::set_movement_lookup`]).

use std::sync::{Arc, Mutex};

use super::{Correction, Digest, InvariantViolation, MovementRecord, Register, key_digest};
use crate::movement::{Action, Command};
use crate::oversight::Resolution;

/// Keys in the first filter segment (2 MiB); each later one holds twice the one before, so a
/// filter holds at most about twice the bits its keys need (a fourfold growth gave a store of
/// 5.3 million keys 42 MiB where 14 do), and one of 20 million keys has 5 segments: a new
/// key costs 5 block reads.
const FIRST_SEGMENT_KEYS: u64 = 1 << 20;
/// Filter bits per key: with 7 probes in one 512-bit block, about 0.1 % of new keys per
/// segment read the index for nothing.
const BITS_PER_KEY: u64 = 16;
/// Probes per key, each 9 bits of the key's digest.
const PROBES: u32 = 7;
/// Records read back from the store that the cache holds at most.
const CACHE_RECORDS_MAX: usize = 65_536;

/// A blocked Bloom filter over the digests of the idempotency keys moved to the store: no
/// false negatives; 2 to 4 bytes a key (its last segment partly filled). Keys are already
/// SHA-256 digests, so their bits are the hash functions. Keys enter in journal order and the segment a key lands in depends only
/// on how many came before it: the filter is state, equal however the register was built.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(super) struct KeyFilter {
    count: u64,
    segments: Vec<Words>,
}

/// A filter segment's words, encoded as bytes (a checkpoint holds them as one run of bytes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Words(Vec<u64>);

impl serde::Serialize for Words {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let bytes: Vec<u8> = self.0.iter().flat_map(|word| word.to_le_bytes()).collect();
        serializer.serialize_bytes(&bytes)
    }
}

impl<'de> serde::Deserialize<'de> for Words {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = Words;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("filter words as bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, bytes: &[u8]) -> Result<Words, E> {
                if bytes.len() % 8 != 0 {
                    return Err(E::custom("filter bytes are not whole words"));
                }
                Ok(Words(bytes.chunks_exact(8).map(|w| u64::from_le_bytes(w.try_into().unwrap_or_default())).collect()))
            }
        }
        deserializer.deserialize_bytes(Visit)
    }
}

impl KeyFilter {
    fn segment_keys(index: usize) -> u64 {
        FIRST_SEGMENT_KEYS << index
    }

    /// Whether inserting `more` keys now would cross into a new segment (then their order
    /// decides which segment each lands in).
    fn crosses_segment(&self, more: u64) -> bool {
        let (mut start, mut index) = (0, 0);
        while self.count >= start + Self::segment_keys(index) {
            start += Self::segment_keys(index);
            index += 1;
        }
        self.count + more > start + Self::segment_keys(index)
    }

    pub(super) fn insert(&mut self, key: &Digest) {
        // The segment this key's place falls in.
        let mut start = 0;
        let mut index = 0;
        while self.count >= start + Self::segment_keys(index) {
            start += Self::segment_keys(index);
            index += 1;
        }
        while self.segments.len() <= index {
            let words = Self::segment_keys(self.segments.len()) * BITS_PER_KEY / 64;
            self.segments.push(Words(vec![0; words as usize]));
        }
        let words = &mut self.segments[index].0;
        let (block, probes) = Self::place(key, words.len());
        for probe in probes {
            words[block + (probe >> 6) as usize] |= 1 << (probe & 63);
        }
        self.count += 1;
    }

    /// Puts the keys of records made after `after` in, in journal order when that decides
    /// which segment each enters (a record made earlier and corrected since is in already).
    pub(super) fn insert_made_after<'a>(&mut self, after: u64, records: impl Iterator<Item = (&'a Digest, &'a MovementRecord)> + Clone) {
        let made = |(_, record): &(&Digest, &MovementRecord)| record.seq > after;
        if self.crosses_segment(records.clone().filter(made).count() as u64) {
            let mut ordered: Vec<(u64, Digest)> = records.filter(made).map(|(key, record)| (record.seq, *key)).collect();
            ordered.sort_unstable();
            for (_, key) in &ordered {
                self.insert(key);
            }
        } else {
            for (key, _) in records.filter(made) {
                self.insert(key);
            }
        }
    }

    /// Whether `key` may have been inserted (`false`: it certainly was not).
    pub(super) fn may_hold(&self, key: &Digest) -> bool {
        self.segments.iter().any(|words| {
            let (block, mut probes) = Self::place(key, words.0.len());
            probes.all(|probe| words.0[block + (probe >> 6) as usize] & (1 << (probe & 63)) != 0)
        })
    }

    /// The first word of the key's 512-bit block among `words`, and its probes (bit offsets).
    fn place(key: &Digest, words: usize) -> (usize, impl Iterator<Item = u64>) {
        let blocks = (words / 8).max(1) as u64;
        let high = u64::from_le_bytes(key[..8].try_into().unwrap_or_default());
        let low = u64::from_le_bytes(key[8..].try_into().unwrap_or_default());
        // Blocks are a power of two.
        let block = ((high & (blocks - 1)) * 8) as usize;
        (block, (0..PROBES).map(move |i| (low >> (9 * i)) & 511))
    }

    pub(super) fn len(&self) -> u64 {
        self.count
    }

    /// Why a restored filter cannot be used: its segments are not those its count of keys
    /// makes (a damaged or forged checkpoint would otherwise make a lookup panic).
    pub(super) fn check(&self) -> Result<(), String> {
        let (mut start, mut index) = (0u64, 0usize);
        while self.count > start {
            if index >= 16 {
                return Err(format!("the key filter claims {} keys", self.count));
            }
            start += Self::segment_keys(index);
            index += 1;
        }
        if self.segments.len() != index {
            return Err(format!("the key filter has {} segments for {} keys, not {index}", self.segments.len(), self.count));
        }
        for (index, words) in self.segments.iter().enumerate() {
            if words.0.len() as u64 != Self::segment_keys(index) * BITS_PER_KEY / 64 {
                return Err(format!("key filter segment {index} has {} words", words.0.len()));
            }
        }
        Ok(())
    }

    /// Bytes the filter holds.
    pub(super) fn bytes(&self) -> usize {
        self.segments.iter().map(|words| words.0.len() * 8).sum()
    }
}

/// Whether the record was made or corrected in entries `after + 1 ..= through`.
fn changed_in(record: &MovementRecord, after: u64, through: u64) -> bool {
    let within = |seq: u64| seq > after && seq <= through;
    within(record.seq) || matches!(record.correction, Correction::CorrectedBy(at) if within(at))
}

/// Whether the record has not changed after `through`.
fn settled_by(record: &MovementRecord, through: u64) -> bool {
    record.seq <= through && !matches!(record.correction, Correction::CorrectedBy(at) if at > through)
}

/// The record as it stood at `through` (made by then).
fn as_of(record: &MovementRecord, through: u64) -> MovementRecord {
    let mut record = record.clone();
    if matches!(record.correction, Correction::CorrectedBy(at) if at > through) {
        record.correction = Correction::Open;
    }
    record
}

/// Reads a moved movement's record back from the store (`None`: the store has none for that
/// key), given the entry up to which the store's index must hold every record this register
/// no longer holds (an index that ends before it, reset behind this register's back, is an
/// error); an error says why the store could not be read.
pub type MovementLookup = Box<dyn FnMut(&[u8; 16], u64) -> Result<Option<MovementRecord>, String> + Send>;

/// The store's lookup, when one is installed; not state (a clone has none).
#[derive(Default)]
pub(super) struct Lookup(Option<Mutex<MovementLookup>>);

impl Clone for Lookup {
    fn clone(&self) -> Self {
        Lookup(None)
    }
}

impl std::fmt::Debug for Lookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Lookup(installed)" } else { "Lookup(none)" })
    }
}

/// Movement records with their keys' digests.
pub type MovedMovements = Vec<([u8; 16], MovementRecord)>;

/// Movement records by their keys' digests.
pub type MovementMap = std::collections::HashMap<[u8; 16], MovementRecord, foldhash::fast::RandomState>;

impl Register {
    /// Installs how this register reads back a movement record it moved to the store: the
    /// store does, on every handle it opens.
    pub fn set_movement_lookup(&mut self, lookup: MovementLookup) {
        self.lookup.0 = Lookup(Some(Mutex::new(lookup)));
    }

    /// Keeps every record this register moves out in memory from now on (a verification
    /// replay, which must decide from the journal alone, not from an index it has not found
    /// equal to it); those the last move took out stay readable, as nothing replaces them.
    pub fn keep_moved_movements(&mut self) {
        *self.keep_moved = true;
    }

    /// The record of the movement with this key digest, as of the last applied entry: held,
    /// cached, or (when the filter may hold the key) read back from the store and cached.
    pub(super) fn find_movement(&mut self, key: &Digest) -> Result<Option<MovementRecord>, InvariantViolation> {
        if let Some(record) = self.movements.get(key) {
            return Ok(Some(record.clone()));
        }
        // Every key out of `movements` (cached or not) is in the filter: most new keys stop here.
        if !self.filter.may_hold(key) {
            return Ok(None);
        }
        if let Some(record) = self.cache.get(key).or_else(|| self.recent.get(key)) {
            return Ok(Some(record.clone()));
        }
        if *self.keep_moved {
            return Ok(None);
        }
        let Some(lookup) = &self.lookup.0.0 else {
            return Err(InvariantViolation(
                "a movement key may be in the store's movement index, and this register has no way to read it".into(),
            ));
        };
        let mut lookup = lookup.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let found =
            (*lookup)(key, *self.indexed_floor).map_err(|why| InvariantViolation(format!("the movement index cannot be read: {why}")))?;
        drop(lookup);
        // The index may be ahead of a replay: what it holds is taken as of this register's
        // last entry (a movement recorded later does not exist yet; a later correction has not
        // happened yet).
        let seq = self.seq;
        let found = found.filter(|record| record.seq <= seq).map(|record| as_of(&record, seq));
        if let Some(record) = &found {
            self.cache.insert(*key, record.clone());
        }
        Ok(found)
    }

    /// The record of a movement held or cached: after [`Register::prefetch_movements`], every
    /// record the command being applied can need.
    pub(super) fn known_movement(&self, key: &Digest) -> Option<&MovementRecord> {
        self.movements.get(key).or_else(|| self.cache.get(key)).or_else(|| self.recent.get(key))
    }

    /// Reads back (into the cache) the records of every movement `command` names, before it is
    /// decided: deciding is then pure, on what is held and cached.
    pub(super) fn prefetch_movements(&mut self, command: &Command) -> Result<(), InvariantViolation> {
        // Bounded: resubmissions of old keys record nothing, so never move a run, and would
        // otherwise grow it without end. What it holds is committed, read again when needed;
        // emptied only here, before a command's records are read, never between them.
        if self.cache.len() >= CACHE_RECORDS_MAX && !*self.keep_moved {
            self.cache.clear();
        }
        let pending;
        let movement = match &command.action {
            Action::Movement(movement) => Some(movement),
            Action::ApprovePending { id } => {
                pending = self.pending(*id).map(|pending| pending.command.clone());
                match pending.as_ref().map(|command| &command.action) {
                    Some(Action::Movement(movement)) => Some(movement),
                    _ => None,
                }
            }
            Action::ProposeResolution { resolution: Resolution::Movement(key), .. } => {
                self.find_movement(&key_digest(key))?;
                None
            }
            _ => None,
        };
        *self.prefetched = None;
        if let Some(movement) = movement {
            let key = key_digest(&movement.key);
            self.find_movement(&key)?;
            if let Some(target) = &movement.corrects {
                self.find_movement(&key_digest(target))?;
            }
            *self.prefetched = Some((movement.key.clone(), key));
        }
        Ok(())
    }

    /// Records a movement accepted at `record.seq`: held in memory when after the log floor;
    /// otherwise (a replay of entries the index holds already) only its key enters the filter.
    pub(super) fn remember_movement(&mut self, key: Digest, record: MovementRecord) -> Result<(), InvariantViolation> {
        self.movement_count += 1;
        if record.seq <= self.log_floor {
            self.filter.insert(&key);
            return Ok(());
        }
        if self.movements.insert(key, record).is_some() {
            return Err(InvariantViolation("a movement was recorded twice".into()));
        }
        Ok(())
    }

    /// Marks the movement `key` as corrected at `seq` (found with [`Register::find_movement`]
    /// just before).
    pub(super) fn mark_corrected(&mut self, key: &Digest, seq: u64) -> Result<(), InvariantViolation> {
        let mut record = match self.known_movement(key) {
            Some(record) => record.clone(),
            None => return Err(InvariantViolation("a corrected movement vanished".into())),
        };
        record.correction = Correction::CorrectedBy(seq);
        if seq <= self.log_floor {
            // Replaying entries the index holds: it has the record as corrected already. The
            // records the last move took out must not keep the older copy (the cache, which
            // shadows them, may be emptied): at open, that map is this register's alone.
            if self.recent.contains_key(key) {
                Arc::make_mut(&mut self.recent).insert(*key, record.clone());
            }
            self.cache.insert(*key, record);
        } else {
            self.cache.remove(key);
            self.movements.insert(*key, record);
        }
        Ok(())
    }

    /// Takes out of memory the records that settled by `through` (made or corrected in
    /// entries up to it, not corrected after): the store's index holds them, committed. A
    /// record corrected after `through` stays held until the run of its correction. The keys
    /// of records made in `log_floor + 1 ..= through` enter the filter; the records taken out
    /// stay readable until the next move, replacing those read back.
    pub(super) fn move_movements(&mut self, through: u64) {
        let after = self.log_floor;
        let (settled, kept): (MovementMap, MovementMap) =
            std::mem::take(&mut self.movements).into_iter().partition(|(_, record)| settled_by(record, through));
        self.movements = kept;
        let made = |(_, record): &(&Digest, &MovementRecord)| record.seq <= through;
        self.filter.insert_made_after(after, settled.iter().chain(self.movements.iter().filter(made)));
        self.keep_readable(Arc::new(settled));
        // Raised to where the store's index ends, committed: it holds every record up to it.
        *self.indexed_floor = through;
    }

    /// [`Register::move_movements`] at the head (a writer's batch, [`Register::take_log`]):
    /// every record held has settled, so the whole map is taken out as it is, shared with the
    /// writer thread that packs it, and stays readable from memory without a copy.
    pub(super) fn take_movements(&mut self) -> Arc<MovementMap> {
        let after = self.log_floor;
        let taken = Arc::new(std::mem::take(&mut self.movements));
        self.filter.insert_made_after(after, taken.iter());
        self.keep_readable(Arc::clone(&taken));
        // Until the batch that writes them commits, the index holds the records up to `after`
        // only (the rest are readable in `recent`).
        *self.indexed_floor = after;
        taken
    }

    /// Records just taken out stay readable until the next move (a verification replay keeps
    /// them all).
    fn keep_readable(&mut self, moved: Arc<MovementMap>) {
        if *self.keep_moved {
            self.cache.extend(moved.iter().map(|(key, record)| (*key, record.clone())));
        } else {
            self.cache.clear();
            *self.recent = moved;
        }
    }

    /// The records held in memory that changed in entries `after + 1 ..= through`, as they
    /// stood at `through`, in no particular order: the movement index's run of those entries
    /// (then [`Register::raise_log_floor`] from `after` to `through` takes the settled ones out).
    pub fn movements_changed(&self, after: u64, through: u64) -> MovedMovements {
        self.movements
            .iter()
            .filter(|(_, record)| changed_in(record, after, through))
            .map(|(key, record)| (*key, as_of(record, through)))
            .collect()
    }

    /// The sequence number at which the movement with this key was recorded, as far as memory
    /// knows: `Some(Some(seq))` held or cached, `Some(None)` certainly never recorded, `None`
    /// perhaps in the store's movement index (the store reads it: `Store::movement_seq`).
    pub fn held_movement_seq(&self, key: &crate::ids::IdempotencyKey) -> Option<Option<u64>> {
        let digest = key_digest(key);
        match self.known_movement(&digest) {
            Some(record) => Some(Some(record.seq)),
            None if *self.keep_moved || !self.filter.may_hold(&digest) => Some(None),
            None => None,
        }
    }

    /// The sequence number at which the movement with this key was recorded, from memory
    /// only: exact for a register no store manages (it keeps every record); a store's
    /// register may have moved it out (use `Store::movement_seq`).
    pub fn movement_seq(&self, key: &crate::ids::IdempotencyKey) -> Option<u64> {
        self.held_movement_seq(key).flatten()
    }

    /// How many movements have been accepted.
    pub fn movement_count(&self) -> u64 {
        self.movement_count
    }

    /// Movement records held in memory, cached, and the filter's keys and bytes: what the
    /// idempotency check costs in memory.
    pub fn movement_memory(&self) -> (usize, usize, u64, usize) {
        (self.movements.len(), self.cache.len() + self.recent.len(), self.filter.len(), self.filter.bytes())
    }

    /// The digest of an idempotency key, as the movement index keys it.
    pub fn movement_key_digest(key: &crate::ids::IdempotencyKey) -> [u8; 16] {
        key_digest(key)
    }

    /// The sequence number of a movement held or cached (no read of the store).
    pub(super) fn known_movement_seq(&self, key: &crate::ids::IdempotencyKey) -> Option<u64> {
        self.known_movement(&key_digest(key)).map(|record| record.seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u64) -> Digest {
        super::super::digest(&n.to_le_bytes())
    }

    #[test]
    fn the_filter_never_forgets_a_key_and_rarely_claims_one() {
        let mut filter = KeyFilter::default();
        for n in 0..190_000 {
            filter.insert(&key(n));
        }
        assert_eq!(filter.segments.len(), 1, "the first segment holds 1,048,576 keys");
        assert!(!filter.crosses_segment(1_048_576 - 190_000) && filter.crosses_segment(1_048_576 - 189_999));
        assert!((0..190_000).all(|n| filter.may_hold(&key(n))));
        let false_positives = (1_000_000..1_100_000).filter(|n| filter.may_hold(&key(*n))).count();
        assert!(false_positives < 500, "{false_positives} of 100,000 new keys claimed");
    }

    #[test]
    fn the_filter_survives_a_checkpoint() {
        let mut filter = KeyFilter::default();
        assert_eq!(filter.check(), Ok(()));
        for n in 0..1000 {
            filter.insert(&key(n));
        }
        assert_eq!(filter.check(), Ok(()));
        let mut short = filter.clone();
        short.segments[0].0.truncate(3);
        assert!(short.check().unwrap_err().contains("segment 0 has 3 words"));
        let mut claims = filter.clone();
        claims.count = u64::MAX;
        assert!(claims.check().is_err());
        let mut none = filter.clone();
        none.segments.clear();
        assert!(none.check().is_err());
        let bytes = postcard::to_stdvec(&filter).unwrap();
        let back: KeyFilter = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back, filter);
        assert!(bytes.len() < filter.bytes() + 64, "{} bytes for {} of words", bytes.len(), filter.bytes());
    }
}
