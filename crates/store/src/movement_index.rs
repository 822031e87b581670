//! The movement index: the records idempotency and corrections need of movements the
//! register no longer holds in memory ([`ringfence_core::register::MovementRecord`]), moved
//! with the postings of the same entries, in the same transaction. One row per bucket of keys
//! (the top [`BUCKET_BITS`] bits of the key's digest) per run: a run adds about a thousand
//! rows wherever its keys fall, never a row per movement in a B-tree ordered by random keys.
//! A record corrected after it moved is written again in a later run; the newest wins.

use ringfence_core::register::{Correction, MovedMovements, MovementRecord};

use crate::{PackedRows, StoreError};

/// Buckets of keys, as bits: 1,024 rows per run, each about 65 bytes a movement.
pub(crate) const BUCKET_BITS: u32 = 10;

/// Bytes of one record: digest 16, seq 8, command digest 16, postings digest 16, correction
/// tag 1 (0 open, 1 a correction itself, 2 corrected), the correcting entry 8.
const RECORD_BYTES: usize = 65;

/// How a movement record is stored in a row of the movement index.
pub const MOVEMENT_FORMAT: &str = "65-byte records: key digest (16), seq (u64 LE), command digest (16), postings digest (16), correction tag (0 open, 1 correction, 2 corrected), correcting seq (u64 LE)";

/// The bucket of a key digest.
pub(crate) fn bucket_of(key: &[u8; 16]) -> i64 {
    i64::from(u16::from_be_bytes([key[0], key[1]]) >> (16 - BUCKET_BITS))
}

/// Packs a run's records into rows, bucket by bucket (a counting sort: one pass to count, one
/// to place).
pub(crate) fn pack<'a>(records: impl Iterator<Item = (&'a [u8; 16], &'a MovementRecord)>) -> PackedRows {
    // One pass over the records (a map, slow to walk) into a dense list, then a counting sort
    // of that list.
    let records: Vec<(u16, &[u8; 16], &MovementRecord)> = records.map(|(key, record)| (bucket_of(key) as u16, key, record)).collect();
    let mut starts = vec![0usize; (1 << BUCKET_BITS) + 1];
    for (bucket, _, _) in &records {
        starts[usize::from(*bucket) + 1] += 1;
    }
    for bucket in 1..starts.len() {
        starts[bucket] += starts[bucket - 1];
    }
    let mut rows = PackedRows { bytes: vec![0; records.len() * RECORD_BYTES], rows: Vec::new() };
    let mut next = starts.clone();
    for (bucket, key, record) in records {
        let place = &mut next[usize::from(bucket)];
        put_record(&mut rows.bytes[*place * RECORD_BYTES..(*place + 1) * RECORD_BYTES], key, record);
        *place += 1;
    }
    for (bucket, end) in starts.iter().skip(1).enumerate() {
        if *end > starts[bucket] {
            rows.rows.push((bucket as i64, end * RECORD_BYTES));
        }
    }
    rows
}

/// Writes a record into `out` (exactly [`RECORD_BYTES`] long).
fn put_record(out: &mut [u8], key: &[u8; 16], record: &MovementRecord) {
    let (tag, by) = match record.correction {
        Correction::Open => (0u8, 0u64),
        Correction::Reversal => (1, 0),
        Correction::CorrectedBy(seq) => (2, seq),
    };
    out[..16].copy_from_slice(key);
    out[16..24].copy_from_slice(&record.seq.to_le_bytes());
    out[24..40].copy_from_slice(&record.command_digest);
    out[40..56].copy_from_slice(&record.postings_digest);
    out[56] = tag;
    out[57..65].copy_from_slice(&by.to_le_bytes());
}

/// The records of a row; an error names what is malformed.
pub(crate) fn records_in(bytes: &[u8]) -> Result<MovedMovements, StoreError> {
    let malformed = |what: &str| {
        StoreError::PostingIndex(format!(
            "is damaged (its movement records, which idempotency reads: a row with {what}); the journal is the truth: `ringfence migrate --rebuild-index` rebuilds the index from it"
        ))
    };
    if bytes.len() % RECORD_BYTES != 0 {
        return Err(malformed(&format!("{} bytes, not whole records of {RECORD_BYTES}", bytes.len())));
    }
    let field = |chunk: &[u8], from: usize| -> [u8; 16] { chunk[from..from + 16].try_into().unwrap_or_default() };
    let number = |chunk: &[u8], from: usize| -> u64 { u64::from_le_bytes(chunk[from..from + 8].try_into().unwrap_or_default()) };
    bytes
        .chunks_exact(RECORD_BYTES)
        .map(|chunk| {
            let correction = match (chunk[56], number(chunk, 57)) {
                (0, 0) => Correction::Open,
                (1, 0) => Correction::Reversal,
                (2, by) if by > 0 => Correction::CorrectedBy(by),
                (tag, by) => return Err(malformed(&format!("correction tag {tag} with entry {by}"))),
            };
            let seq = number(chunk, 16);
            if seq == 0 {
                return Err(malformed("a movement at entry 0"));
            }
            let record = MovementRecord { seq, command_digest: field(chunk, 24), postings_digest: field(chunk, 40), correction };
            Ok((field(chunk, 0), record))
        })
        .collect()
}

/// Visits the rows of one bucket, newest run first: the run's end, its packed records;
/// returns whether to go on.
pub(crate) type BucketVisit<'a> = &'a mut dyn FnMut(u64, &[u8]) -> Result<bool, StoreError>;

/// The newest record of `key` in its bucket's rows (read with `rows`).
pub(crate) fn find(
    key: &[u8; 16],
    rows: impl FnOnce(i64, BucketVisit<'_>) -> Result<(), StoreError>,
) -> Result<Option<MovementRecord>, StoreError> {
    let mut found = None;
    rows(bucket_of(key), &mut |_, bytes| {
        found = records_in(bytes)?.into_iter().rev().find(|(at, _)| at == key).map(|(_, record)| record);
        Ok(found.is_none())
    })?;
    Ok(found)
}

/// A digest of records whatever their order: the same for the replay's and the index's.
pub(crate) fn records_digest(records: &mut MovedMovements) -> [u8; 32] {
    use sha2::Digest as _;
    records.sort_unstable_by_key(|(key, record)| (*key, record.seq));
    let mut hasher = sha2::Sha256::new();
    let mut bytes = [0u8; RECORD_BYTES];
    for (key, record) in records.iter() {
        put_record(&mut bytes, key, record);
        hasher.update(bytes);
    }
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: u64, correction: Correction) -> MovementRecord {
        MovementRecord { seq, command_digest: [seq as u8; 16], postings_digest: [7; 16], correction }
    }

    #[test]
    fn records_round_trip_bucket_by_bucket() {
        let records: MovedMovements = (1..=500u64)
            .map(|seq| {
                let mut key = [0u8; 16];
                key[..8].copy_from_slice(&seq.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_be_bytes());
                let correction = match seq % 3 {
                    0 => Correction::Open,
                    1 => Correction::Reversal,
                    _ => Correction::CorrectedBy(seq + 1),
                };
                (key, record(seq, correction))
            })
            .collect();
        let rows = pack(records.iter().map(|(key, record)| (key, record)));
        let mut back: MovedMovements = Vec::new();
        for (bucket, bytes) in rows.iter() {
            for (key, record) in records_in(bytes).unwrap() {
                assert_eq!(bucket_of(&key), bucket);
                back.push((key, record));
            }
        }
        back.sort_by_key(|(_, record)| record.seq);
        assert_eq!(back, records);
    }

    #[test]
    fn a_damaged_row_is_named_not_trusted() {
        let one = [([1; 16], record(3, Correction::Open))];
        let rows = pack(one.iter().map(|(key, record)| (key, record)));
        let (_, bytes) = rows.iter().next().unwrap();
        assert!(records_in(&bytes[..64]).unwrap_err().to_string().contains("not whole records"));
        let mut bad = bytes.to_vec();
        bad[56] = 9;
        assert!(records_in(&bad).unwrap_err().to_string().contains("correction tag 9"));
    }
}
