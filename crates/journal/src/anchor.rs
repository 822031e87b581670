//! Anchors: journal heads published outside the database (a file on another volume, printed
//! for an auditor), so that a journal rewritten by someone who can write the database is
//! caught. The hash chain alone cannot catch it: whoever deletes the tail and resets the head,
//! or changes an entry and recomputes every later hash, leaves a chain that verifies. A
//! journal **extends** an anchor when it holds an entry at the anchor's sequence number with
//! the anchor's hash; every later entry chains to it, so nothing up to it was changed.
//!
//! The anchor file is JSON Lines, one head per line, appended, never rewritten:
//! `{"seq":26,"hash":"<64 hex>","anchored_at":"2026-12-06T23:40:00Z"}`.

use crate::{Hash, Head, hex};

/// One published head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    pub seq: u64,
    pub hash: Hash,
    /// When it was published, RFC 3339 (as written; not checked).
    pub anchored_at: String,
}

/// The line that publishes `head` at `anchored_at`.
pub fn line(head: Head, anchored_at: &str) -> String {
    format!("{{\"seq\":{},\"hash\":\"{}\",\"anchored_at\":\"{anchored_at}\"}}", head.seq, hex(&head.hash))
}

/// Every anchor of an anchor file; an error names the first bad line.
pub fn parse(text: &str) -> Result<Vec<Anchor>, String> {
    let mut anchors = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |what: &str| format!("line {}: {what}", index + 1);
        let value: serde_json::Value = serde_json::from_str(line).map_err(|e| bad(&format!("not JSON: {e}")))?;
        let seq = value["seq"].as_u64().filter(|seq| *seq > 0).ok_or_else(|| bad("no \"seq\" (a whole number above 0)"))?;
        let text = value["hash"].as_str().ok_or_else(|| bad("no \"hash\""))?;
        let hash = unhex(text).ok_or_else(|| bad("\"hash\" is not 64 hex digits"))?;
        let anchored_at = value["anchored_at"].as_str().unwrap_or_default().to_owned();
        anchors.push(Anchor { seq, hash, anchored_at });
    }
    Ok(anchors)
}

fn unhex(text: &str) -> Option<Hash> {
    if text.len() != 64 {
        return None;
    }
    let mut hash = [0u8; 32];
    for (index, byte) in hash.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(index * 2..index * 2 + 2)?, 16).ok()?;
    }
    Some(hash)
}

/// Why a journal does not extend an anchor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnchorBreak {
    #[error("the journal ends at entry {head}, before entry {anchored} that an anchor of {anchored_at} holds: entries were removed")]
    Shortened { head: u64, anchored: u64, anchored_at: String },
    #[error("entry {seq} is not the one anchored at {anchored_at}: the journal was rewritten at or before entry {seq}{}", since.map(|s| format!(" (after entry {s}, which an earlier anchor still matches)")).unwrap_or_default())]
    Rewritten { seq: u64, anchored_at: String, since: Option<u64> },
}

impl AnchorBreak {
    /// The anchored sequence number the journal fails at.
    pub fn seq(&self) -> u64 {
        match self {
            AnchorBreak::Shortened { anchored, .. } => *anchored,
            AnchorBreak::Rewritten { seq, .. } => *seq,
        }
    }
}

/// Whether a journal whose head is `head`, and whose stored entry hashes `hash_at` gives,
/// extends every anchor; the first anchor (by sequence number) it does not extend otherwise.
/// Returns how many anchors it extends. `hash_at` must come from a journal whose chain was
/// verified.
pub fn check(anchors: &[Anchor], head: Head, mut hash_at: impl FnMut(u64) -> Option<Hash>) -> Result<usize, AnchorBreak> {
    let mut sorted: Vec<&Anchor> = anchors.iter().collect();
    sorted.sort_by_key(|anchor| anchor.seq);
    let mut since = None;
    for anchor in sorted {
        if anchor.seq > head.seq {
            return Err(AnchorBreak::Shortened { head: head.seq, anchored: anchor.seq, anchored_at: anchor.anchored_at.clone() });
        }
        if hash_at(anchor.seq) != Some(anchor.hash) {
            return Err(AnchorBreak::Rewritten { seq: anchor.seq, anchored_at: anchor.anchored_at.clone(), since });
        }
        since = Some(anchor.seq);
    }
    Ok(anchors.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_round_trip_and_a_shortened_or_rewritten_journal_is_named() {
        let head = |seq, byte| Head { seq, hash: [byte; 32] };
        let text = format!("{}\n\n{}\n", line(head(3, 3), "t3"), line(head(7, 7), "t7"));
        let anchors = parse(&text).unwrap();
        assert_eq!(anchors.len(), 2);
        assert_eq!((anchors[1].seq, anchors[1].hash, anchors[1].anchored_at.as_str()), (7, [7; 32], "t7"));
        let honest = |seq: u64| Some([u8::try_from(seq).unwrap(); 32]);
        assert_eq!(check(&anchors, head(9, 9), honest), Ok(2));
        assert_eq!(check(&anchors, head(5, 5), honest).unwrap_err().seq(), 7);
        let rewritten = |seq: u64| Some(if seq >= 5 { [0; 32] } else { [u8::try_from(seq).unwrap(); 32] });
        let broken = check(&anchors, head(9, 0), rewritten).unwrap_err();
        assert_eq!(broken, AnchorBreak::Rewritten { seq: 7, anchored_at: "t7".into(), since: Some(3) });
        assert!(parse("{\"seq\":1,\"hash\":\"zz\"}").unwrap_err().starts_with("line 1:"));
        assert!(parse("not json").is_err());
    }
}
