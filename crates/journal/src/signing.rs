//! Signed commits (issue 14): each commit (one batch, entries `first..=last`) is signed with
//! Ed25519 by the writer's key, held outside the database in a key file. The signature covers
//! the commit's range and the hash of its last entry, which chains to every entry before it,
//! so a signature proves that whoever held the key committed that journal up to there. The
//! public keys are journal entries (`signing_key`, `signing_key_retirement`), four-eyes gated
//! once an approval policy is in force.
//!
//! From the first entry that registers a key, every entry must be covered by the signature of
//! a commit, signed by a key that may sign it ([`SigningKeyRecord::may_sign`]): registered by
//! the end of the commit and not retired before its start. An entry appended by someone
//! without a key is caught at its sequence number ([`Break::Unsigned`]); an entry altered and
//! re-chained is caught at the first commit whose signature no longer verifies
//! ([`Break::BadSignature`]). Commits before the first key are not signed (journals written
//! before issue 14): anchors cover them.
//!
//! The message signed is `DOMAIN | first (u64 LE) | last (u64 LE) | hash of entry last`.

use std::path::Path;

use ed25519_dalek::{Signer as _, Verifier as _};
use ringfence_core::{SigningKey, SigningKeyRecord};

use crate::{Break, Hash, hex};

/// Separates commit signatures from any other use of the same key.
pub const DOMAIN: &[u8] = b"ringfence journal commit v1\0";

/// One commit's signature, as stored beside the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitSignature {
    pub first: u64,
    pub last: u64,
    pub public_key: [u8; 32],
    pub signature: [u8; 64],
}

impl CommitSignature {
    /// The bytes stored in the row of the commit's last entry: `first (u64 LE) | public key |
    /// signature`.
    pub fn to_stored(&self) -> [u8; 104] {
        let mut out = [0u8; 104];
        out[..8].copy_from_slice(&self.first.to_le_bytes());
        out[8..40].copy_from_slice(&self.public_key);
        out[40..].copy_from_slice(&self.signature);
        out
    }

    /// The signature stored in entry `last`'s row; malformed bytes read as zeros (which then
    /// fail verification, naming the commit).
    pub fn from_stored(last: u64, bytes: &[u8]) -> CommitSignature {
        let mut signature = CommitSignature { first: last, last, public_key: [0; 32], signature: [0; 64] };
        if bytes.len() == 104 {
            signature.first = u64::from_le_bytes(bytes[..8].try_into().unwrap_or([0; 8]));
            signature.public_key.copy_from_slice(&bytes[8..40]);
            signature.signature.copy_from_slice(&bytes[40..]);
        }
        signature
    }
}

/// The bytes a commit's signature covers.
pub fn message(first: u64, last: u64, hash: &Hash) -> [u8; 28 + 16 + 32] {
    let mut out = [0u8; 28 + 16 + 32];
    out[..28].copy_from_slice(DOMAIN);
    out[28..36].copy_from_slice(&first.to_le_bytes());
    out[36..44].copy_from_slice(&last.to_le_bytes());
    out[44..].copy_from_slice(hash);
    out
}

/// The writer's private key.
pub struct Signer {
    key: ed25519_dalek::SigningKey,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        f.debug_struct("Signer").field("public_key", &self.fingerprint()).finish()
    }
}

/// The first line of a key file.
const KEY_FILE_HEADER: &str = "ringfence journal signing key (Ed25519), keep secret";

impl Signer {
    /// A signer from a 32-byte Ed25519 seed.
    pub fn from_seed(seed: [u8; 32]) -> Signer {
        Signer { key: ed25519_dalek::SigningKey::from_bytes(&seed) }
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// `ed25519:` and the first 16 hex digits of the public key.
    pub fn fingerprint(&self) -> String {
        SigningKey::fingerprint(&self.public_key())
    }

    /// Signs the commit of entries `first..=last` whose last entry hashes to `hash`.
    pub fn sign(&self, first: u64, last: u64, hash: &Hash) -> CommitSignature {
        let signature = self.key.sign(&message(first, last, hash)).to_bytes();
        CommitSignature { first, last, public_key: self.public_key(), signature }
    }

    /// Signs other bytes under another domain (an anchor line, say).
    pub fn sign_bytes(&self, bytes: &[u8]) -> [u8; 64] {
        self.key.sign(bytes).to_bytes()
    }

    /// The text of a key file holding this key.
    pub fn key_file_text(&self) -> String {
        format!("# {KEY_FILE_HEADER}\n# public key {} ({})\n{}\n", hex(&self.public_key()), self.fingerprint(), hex(self.key.as_bytes()))
    }

    /// Reads a key file: refused when group or others may read or write it (on Unix), or when
    /// it holds anything but the comment lines and one line of 64 hex digits.
    pub fn load(path: &Path) -> Result<Signer, String> {
        let shown = path.display();
        let metadata = std::fs::metadata(path).map_err(|e| format!("cannot read the signing key file {shown}: {e}"))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = metadata.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(format!(
                    "the signing key file {shown} may be read or written by others (mode {mode:03o}); run `chmod 600 {shown}` (only its owner may read it)"
                ));
            }
        }
        #[cfg(not(unix))]
        let _ = metadata;
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read the signing key file {shown}: {e}"))?;
        let mut lines = text.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with('#'));
        let seed = lines.next().and_then(unhex32);
        match (seed, lines.next()) {
            (Some(seed), None) => Ok(Signer::from_seed(seed)),
            _ => Err(format!(
                "{shown} is not a ringfence signing key file (one line of 64 hex digits after `#` comments; `ringfence key generate` writes one)"
            )),
        }
    }
}

/// 64 hex digits as 32 bytes.
pub fn unhex32(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (index, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(index * 2..index * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Whether 32 bytes are an Ed25519 public key (a point on the curve).
pub fn is_public_key(bytes: &[u8; 32]) -> bool {
    ed25519_dalek::VerifyingKey::from_bytes(bytes).is_ok()
}

/// Verifies one commit signature against the hash of the commit's last entry and the keys the
/// register knows; `Err` says why not.
pub fn verify_commit(signature: &CommitSignature, hash: &Hash, keys: &[SigningKeyRecord]) -> Result<(), String> {
    let name = SigningKey::fingerprint(&signature.public_key);
    let Some(record) = keys.iter().find(|record| record.key.public_key == signature.public_key) else {
        return Err(format!("it is signed by {name}, which is not a registered journal signing key"));
    };
    if !record.may_sign(signature.first, signature.last) {
        return Err(match record.retired {
            Some(retired) if retired < signature.first => format!("it is signed by {name}, retired at entry {retired}"),
            _ => format!("it is signed by {name}, registered only at entry {}", record.registered),
        });
    }
    let key = ed25519_dalek::VerifyingKey::from_bytes(&signature.public_key).map_err(|_| format!("{name} is not an Ed25519 key"))?;
    let parsed = ed25519_dalek::Signature::from_bytes(&signature.signature);
    key.verify(&message(signature.first, signature.last, hash), &parsed)
        .map_err(|_| format!("the signature by {name} does not match the entries"))
}

/// Checks commit signatures while a journal is replayed: fed each entry's sequence number,
/// hash and stored signature (only the last entry of a signed commit has one) after the
/// register applied it, with the keys the register then knows.
#[derive(Debug, Clone, Copy)]
pub struct SignatureCheck {
    /// The last entry covered: by a verified signature, or written before any key existed.
    covered: u64,
}

impl SignatureCheck {
    /// Continues after entry `covered`.
    pub fn resume(covered: u64) -> SignatureCheck {
        SignatureCheck { covered }
    }

    /// The last entry covered so far.
    pub fn covered(&self) -> u64 {
        self.covered
    }

    /// After entry `seq` (whose stored and verified hash is `hash`, and stored signature
    /// `signature`) was applied.
    pub fn entry(&mut self, seq: u64, hash: &Hash, signature: Option<&CommitSignature>, keys: &[SigningKeyRecord]) -> Result<(), Break> {
        if keys.is_empty() {
            // Before the first key: not signed.
            self.covered = seq;
            return Ok(());
        }
        let Some(signature) = signature else { return Ok(()) };
        if signature.first > self.covered + 1 || signature.first > seq || signature.last != seq {
            return Err(Break::Unsigned { seq: self.covered + 1 });
        }
        if let Err(reason) = verify_commit(signature, hash, keys) {
            return Err(Break::BadSignature { first: signature.first.max(self.covered + 1), last: seq, reason });
        }
        self.covered = seq;
        Ok(())
    }

    /// After the last entry `head_seq`: every entry since the first key must be covered.
    pub fn finish(&self, head_seq: u64) -> Result<(), Break> {
        if self.covered < head_seq { Err(Break::Unsigned { seq: self.covered + 1 }) } else { Ok(()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(signer: &Signer, registered: u64, retired: Option<u64>) -> SigningKeyRecord {
        SigningKeyRecord { key: SigningKey { public_key: signer.public_key(), label: "test".into() }, registered, retired }
    }

    #[test]
    fn a_commit_signature_verifies_only_for_its_range_hash_and_key() {
        let signer = Signer::from_seed([7; 32]);
        let other = Signer::from_seed([8; 32]);
        let keys = [record(&signer, 1, None)];
        let signature = signer.sign(3, 5, &[9; 32]);
        assert_eq!(verify_commit(&signature, &[9; 32], &keys), Ok(()));
        assert!(verify_commit(&signature, &[8; 32], &keys).unwrap_err().contains("does not match"));
        let moved = CommitSignature { first: 2, ..signature.clone() };
        assert!(verify_commit(&moved, &[9; 32], &keys).is_err());
        let forged = other.sign(3, 5, &[9; 32]);
        assert!(verify_commit(&forged, &[9; 32], &keys).unwrap_err().contains("not a registered"));
        let retired = [record(&signer, 1, Some(2))];
        assert!(verify_commit(&signature, &[9; 32], &retired).unwrap_err().contains("retired at entry 2"));
        let late = [record(&signer, 6, None)];
        assert!(verify_commit(&signature, &[9; 32], &late).unwrap_err().contains("registered only at entry 6"));
    }

    #[test]
    fn every_entry_from_the_first_key_on_must_be_covered() {
        let signer = Signer::from_seed([7; 32]);
        let hash = |seq: u64| [u8::try_from(seq).unwrap(); 32];
        // Entries 1-2 before any key; entry 3 registers the key, committed with 4; 5 alone.
        let signatures = vec![signer.sign(3, 4, &hash(4)), signer.sign(5, 5, &hash(5))];
        let keys = [record(&signer, 3, None)];
        let walk = |signatures: Vec<CommitSignature>, head: u64| -> Result<(), Break> {
            let mut check = SignatureCheck::resume(0);
            for seq in 1..=head {
                let known: &[SigningKeyRecord] = if seq >= 3 { &keys } else { &[] };
                let stored = signatures.iter().find(|s| s.last == seq).map(|s| CommitSignature::from_stored(seq, &s.to_stored()));
                check.entry(seq, &hash(seq), stored.as_ref(), known)?;
            }
            check.finish(head)
        };
        assert_eq!(walk(signatures.clone(), 5), Ok(()));
        // A forged append (entry 6, no signature) is caught at 6.
        assert_eq!(walk(signatures.clone(), 6), Err(Break::Unsigned { seq: 6 }));
        // A removed signature leaves its entries unsigned, caught at the first of them.
        assert_eq!(walk(vec![signatures[1].clone()], 5), Err(Break::Unsigned { seq: 3 }));
        // A signature over other entries than those stored is caught at its commit.
        let wrong = vec![signatures[0].clone(), signer.sign(5, 5, &[0; 32])];
        assert!(matches!(walk(wrong, 5), Err(Break::BadSignature { first: 5, last: 5, .. })));
    }

    #[test]
    fn a_key_file_round_trips_and_must_be_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("writer.key");
        let signer = Signer::from_seed([3; 32]);
        std::fs::write(&path, signer.key_file_text()).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(Signer::load(&path).unwrap_err().contains("chmod 600"));
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        assert_eq!(Signer::load(&path).unwrap().public_key(), signer.public_key());
        std::fs::write(&path, "nonsense\n").unwrap();
        assert!(Signer::load(&path).unwrap_err().contains("not a ringfence signing key file"));
        assert!(!format!("{signer:?}").contains(&hex(&[3; 32])));
    }
}
