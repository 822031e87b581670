//! The journal as a Merkle log, as Certificate Transparency keeps its logs (RFC 6962 §2.1,
//! verification as RFC 9162 §2.1.3 and §2.1.4). The leaves are the entries' hashes, in
//! sequence order; the tree of the first `n` entries has a root ([`root`]) that an auditor can
//! keep. Later, without reading the journal, the auditor checks:
//! - a **consistency proof** ([`consistency_proof`], [`verify_consistency`]): the journal of
//!   today extends the one whose root they kept (nothing up to it was changed or removed),
//!   in about log2(n) hashes;
//! - an **inclusion proof** ([`inclusion_proof`], [`verify_inclusion`]): one entry is in the
//!   journal whose root they hold.
//!
//! Leaf hash: SHA-256(0x00 | entry hash); node: SHA-256(0x01 | left | right); the empty tree's
//! root is SHA-256 of nothing.

use sha2::{Digest, Sha256};

use crate::Hash;

fn leaf(entry: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0u8]);
    hasher.update(entry);
    hasher.finalize().into()
}

fn node(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([1u8]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// The largest power of two below `n` (n ≥ 2).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// The root of the tree over `entries` (the entries' hashes, in order).
pub fn root(entries: &[Hash]) -> Hash {
    match entries.len() {
        0 => Sha256::digest([]).into(),
        1 => leaf(&entries[0]),
        n => {
            let k = split(n);
            node(&root(&entries[..k]), &root(&entries[k..]))
        }
    }
}

/// The audit path of entry `index` (0-based: sequence number − 1) in the tree over `entries`;
/// `None` when the index is outside it.
pub fn inclusion_proof(index: usize, entries: &[Hash]) -> Option<Vec<Hash>> {
    if index >= entries.len() {
        return None;
    }
    let mut proof = Vec::new();
    path(index, entries, &mut proof);
    Some(proof)
}

fn path(index: usize, entries: &[Hash], out: &mut Vec<Hash>) {
    let n = entries.len();
    if n <= 1 {
        return;
    }
    let k = split(n);
    if index < k {
        path(index, &entries[..k], out);
        out.push(root(&entries[k..]));
    } else {
        path(index - k, &entries[k..], out);
        out.push(root(&entries[..k]));
    }
}

/// The proof that the tree over `entries` extends the tree over its first `first` entries;
/// `None` unless 1 ≤ first ≤ entries.len().
pub fn consistency_proof(first: usize, entries: &[Hash]) -> Option<Vec<Hash>> {
    if first == 0 || first > entries.len() {
        return None;
    }
    let mut proof = Vec::new();
    subproof(first, entries, true, &mut proof);
    Some(proof)
}

fn subproof(m: usize, entries: &[Hash], complete: bool, out: &mut Vec<Hash>) {
    let n = entries.len();
    if m == n {
        if !complete {
            out.push(root(entries));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof(m, &entries[..k], complete, out);
        out.push(root(&entries[k..]));
    } else {
        subproof(m - k, &entries[k..], false, out);
        out.push(root(&entries[..k]));
    }
}

/// Whether `proof` shows that the entry with hash `entry` is entry `index` (0-based) of the
/// tree of `size` entries whose root is `root`.
pub fn verify_inclusion(index: u64, size: u64, entry: &Hash, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = leaf(entry);
    for p in proof {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            r = node(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && r == *root
}

/// Whether `proof` shows that the tree of `second_size` entries with root `second_root`
/// extends the tree of its first `first_size` entries with root `first_root`.
pub fn verify_consistency(first_size: u64, second_size: u64, first_root: &Hash, second_root: &Hash, proof: &[Hash]) -> bool {
    if first_size == 0 || first_size > second_size {
        return false;
    }
    if first_size == second_size {
        return proof.is_empty() && first_root == second_root;
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if first_size.is_power_of_two() {
        path.push(*first_root);
    }
    path.extend_from_slice(proof);
    let Some((start, rest)) = path.split_first() else { return false };
    let (mut f, mut s) = (first_size - 1, second_size - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (*start, *start);
    for c in rest {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            fr = node(c, &fr);
            sr = node(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    fr == *first_root && sr == *second_root && s == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(n: usize) -> Vec<Hash> {
        (0..n).map(|i| Sha256::digest(i.to_le_bytes()).into()).collect()
    }

    #[test]
    fn every_inclusion_proof_verifies_and_a_wrong_one_does_not() {
        for n in 1..=33 {
            let all = entries(n);
            let root = root(&all);
            for index in 0..n {
                let proof = inclusion_proof(index, &all).unwrap();
                assert!(proof.len() <= 6, "a path is at most log2(n) long");
                assert!(verify_inclusion(index as u64, n as u64, &all[index], &proof, &root), "n={n} index={index}");
                let other = (index + 1) % n;
                if other != index {
                    assert!(!verify_inclusion(index as u64, n as u64, &all[other], &proof, &root));
                }
                if let Some(first) = proof.first() {
                    let mut bent = proof.clone();
                    bent[0] = node(first, first);
                    assert!(!verify_inclusion(index as u64, n as u64, &all[index], &bent, &root));
                }
            }
            assert!(inclusion_proof(n, &all).is_none());
        }
    }

    #[test]
    fn every_consistency_proof_verifies_and_a_rewritten_past_does_not() {
        for n in 1..=33 {
            let all = entries(n);
            let second = root(&all);
            for m in 1..=n {
                let proof = consistency_proof(m, &all).unwrap();
                let first = root(&all[..m]);
                assert!(verify_consistency(m as u64, n as u64, &first, &second, &proof), "m={m} n={n}");
                // A journal that changed entry 0 no longer extends the old root.
                let mut rewritten = all.clone();
                rewritten[0] = [0xee; 32];
                let forged = consistency_proof(m, &rewritten).unwrap();
                assert!(!verify_consistency(m as u64, n as u64, &first, &root(&rewritten), &forged), "m={m} n={n}");
            }
        }
    }

    #[test]
    fn the_tree_matches_rfc_6962_by_hand() {
        let all = entries(3);
        let expected = node(&node(&leaf(&all[0]), &leaf(&all[1])), &leaf(&all[2]));
        assert_eq!(root(&all), expected);
        assert_eq!(root(&[]), <Hash>::from(Sha256::digest([])));
    }
}
