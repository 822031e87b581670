//! Anchors: journal heads published outside the database (a file on another volume, printed
//! for an auditor), so that a journal rewritten by someone who can write the database is
//! caught. The hash chain alone cannot catch it: whoever deletes the tail and resets the head,
//! or changes an entry and recomputes every later hash, leaves a chain that verifies. A
//! journal **extends** an anchor when it holds an entry at the anchor's sequence number with
//! the anchor's hash; every later entry chains to it, so nothing up to it was changed.
//!
//! The anchor file is JSON Lines, one head per line, appended, never rewritten:
//! `{"seq":26,"hash":"<64 hex>","anchored_at":"2026-12-06T23:40:00Z"}`. A process that holds a
//! journal signing key signs the head it publishes: `"key"` (the public key, 64 hex digits) and
//! `"signature"` (Ed25519, 128 hex digits) over `DOMAIN | seq (u64 LE) | hash | anchored_at`,
//! so that an auditor holding the public key knows who published it.

use crate::signing::{Signer, unhex32};
use crate::{Hash, Head, hex};

/// Separates anchor signatures from commit signatures.
pub const DOMAIN: &[u8] = b"ringfence journal anchor v1\0";

/// One published head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    pub seq: u64,
    pub hash: Hash,
    /// When it was published, RFC 3339 (as written; not checked).
    pub anchored_at: String,
    /// The publisher's public key and signature, when it was signed.
    pub signed: Option<([u8; 32], [u8; 64])>,
}

/// The bytes an anchor's signature covers.
fn message(seq: u64, hash: &Hash, anchored_at: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(DOMAIN.len() + 8 + 32 + anchored_at.len());
    out.extend_from_slice(DOMAIN);
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(hash);
    out.extend_from_slice(anchored_at.as_bytes());
    out
}

/// The line that publishes `head` at `anchored_at`, signed by `signer` when given.
pub fn line(head: Head, anchored_at: &str, signer: Option<&Signer>) -> String {
    let signed = signer.map_or_else(String::new, |signer| {
        let signature = signer.sign_bytes(&message(head.seq, &head.hash, anchored_at));
        format!(",\"key\":\"{}\",\"signature\":\"{}\"", hex(&signer.public_key()), hex(&signature))
    });
    format!("{{\"seq\":{},\"hash\":\"{}\",\"anchored_at\":\"{anchored_at}\"{signed}}}", head.seq, hex(&head.hash))
}

impl Anchor {
    /// Whether the signature (when there is one) is the named key's over this anchor; `Err`
    /// says why not. An unsigned anchor is `Ok(None)`; a signed one `Ok(Some(public key))`.
    pub fn verify_signature(&self) -> Result<Option<[u8; 32]>, String> {
        let Some((key, signature)) = &self.signed else { return Ok(None) };
        let verifying = ed25519_dalek::VerifyingKey::from_bytes(key).map_err(|_| "its key is not an Ed25519 public key".to_owned())?;
        let signature = ed25519_dalek::Signature::from_bytes(signature);
        verifying
            .verify_strict(&message(self.seq, &self.hash, &self.anchored_at), &signature)
            .map_err(|_| "its signature does not match the anchor".to_owned())?;
        Ok(Some(*key))
    }
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
        let signed = match (value.get("key"), value.get("signature")) {
            (None, None) => None,
            (Some(key), Some(signature)) => {
                let key = key.as_str().and_then(unhex32).ok_or_else(|| bad("\"key\" is not 64 hex digits"))?;
                let signature = signature.as_str().and_then(unhex64).ok_or_else(|| bad("\"signature\" is not 128 hex digits"))?;
                Some((key, signature))
            }
            _ => return Err(bad("\"key\" and \"signature\" go together")),
        };
        anchors.push(Anchor { seq, hash, anchored_at, signed });
    }
    Ok(anchors)
}

fn unhex64(text: &str) -> Option<[u8; 64]> {
    if text.len() != 128 {
        return None;
    }
    let mut out = [0u8; 64];
    for (index, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(index * 2..index * 2 + 2)?, 16).ok()?;
    }
    Some(out)
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
        let text = format!("{}\n\n{}\n", line(head(3, 3), "t3", None), line(head(7, 7), "t7", None));
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

    #[test]
    fn a_signed_anchor_verifies_and_an_edited_one_does_not() {
        let signer = Signer::from_seed([9; 32]);
        let text = line(Head { seq: 5, hash: [5; 32] }, "2026-12-07T00:00:00Z", Some(&signer));
        let anchor = parse(&text).unwrap().remove(0);
        assert_eq!(anchor.verify_signature(), Ok(Some(signer.public_key())));
        let edited = parse(&text.replace("\"seq\":5", "\"seq\":6")).unwrap().remove(0);
        assert!(edited.verify_signature().is_err());
        let unsigned = parse(&line(Head { seq: 5, hash: [5; 32] }, "t", None)).unwrap().remove(0);
        assert_eq!(unsigned.verify_signature(), Ok(None));
        assert!(parse(&text.replace(",\"signature\"", ",\"sig\"")).is_err());
    }
}
