//! `ringfence journal root | prove | check-proof`: the journal as a Merkle log (RFC 6962), so
//! that an auditor who kept an old root gets a short proof that today's journal extends it,
//! and anyone holding a root a short proof that one entry is in it, without reading the
//! journal (`ringfence_journal::merkle`).

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use ringfence_journal::signing::unhex32;
use ringfence_journal::{Hash, hex, merkle};
use ringfence_wire::views::journal::{MerkleRootView, ProofView};

use crate::Cli;

/// Proof files this build writes and reads.
const PROOF_VERSION: u8 = 1;

/// The entries' hashes up to `size` (default: the head) of a journal whose chain verifies.
fn hashes(cli: &Cli, size: Option<u64>) -> Result<Vec<Hash>> {
    let store = crate::open_for_verify(cli)?;
    let head = match store.verify()? {
        Ok(head) => head,
        Err(broken) => bail!("the journal is damaged at sequence {}: {broken}; no proof is made from it", broken.seq()),
    };
    let size = size.unwrap_or(head.seq);
    if size == 0 || size > head.seq {
        bail!("--size {size} is outside the journal (1 to {})", head.seq);
    }
    Ok(store.entry_hashes(size)?)
}

pub fn root(cli: &Cli, size: Option<u64>, json: bool, out: &mut dyn Write) -> Result<ExitCode> {
    let hashes = hashes(cli, size)?;
    let view = MerkleRootView {
        size: hashes.len() as u64,
        root: hex(&merkle::root(&hashes)),
        head_hash: hashes.last().map(|h| hex(h)).unwrap_or_default(),
    };
    if json {
        writeln!(out, "{}", serde_json::to_string(&view)?)?;
    } else {
        writeln!(out, "journal Merkle root at {} entries: {} (entry {} hash {})", view.size, view.root, view.size, view.head_hash)?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn prove(
    cli: &Cli,
    seq: Option<u64>,
    from: Option<u64>,
    size: Option<u64>,
    file: Option<&Path>,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    let hashes = hashes(cli, size)?;
    let n = hashes.len() as u64;
    let root = hex(&merkle::root(&hashes));
    let hexes = |proof: Vec<Hash>| proof.iter().map(|h| hex(h)).collect::<Vec<_>>();
    let view = match (seq, from) {
        (Some(seq), _) => {
            let index = usize::try_from(seq.wrapping_sub(1)).unwrap_or(usize::MAX);
            let Some(path) = merkle::inclusion_proof(index, &hashes).filter(|_| seq >= 1) else {
                bail!("--seq {seq} is outside the journal of {n} entries");
            };
            ProofView::Inclusion { version: PROOF_VERSION, size: n, root, seq, entry_hash: hex(&hashes[index]), path: hexes(path) }
        }
        (None, Some(first)) => {
            let m = usize::try_from(first).unwrap_or(usize::MAX);
            let Some(proof) = merkle::consistency_proof(m, &hashes) else {
                bail!("--from {first} is outside the journal of {n} entries (1 to {n})");
            };
            let first_root = hex(&merkle::root(&hashes[..m]));
            ProofView::Consistency { version: PROOF_VERSION, first_size: first, first_root, size: n, root, proof: hexes(proof) }
        }
        (None, None) => bail!("give --seq N (inclusion) or --from M (consistency)"),
    };
    let text = serde_json::to_string_pretty(&view)?;
    match file {
        Some(path) => {
            std::fs::write(path, format!("{text}\n")).with_context(|| format!("cannot write {}", path.display()))?;
            writeln!(out, "wrote {} (journal of {n} entries, root {})", path.display(), root_of(&view))?;
        }
        None => writeln!(out, "{text}")?,
    }
    Ok(ExitCode::SUCCESS)
}

fn root_of(view: &ProofView) -> &str {
    match view {
        ProofView::Inclusion { root, .. } | ProofView::Consistency { root, .. } => root,
    }
}

fn hash(text: &str, what: &str) -> Result<Hash> {
    unhex32(text).with_context(|| format!("{what} {text:?} is not 64 hex digits"))
}

/// Checks a proof file with nothing but the file (and, with `trusted`, the root the checker
/// holds: the journal's root for an inclusion proof, the old root for a consistency proof).
pub fn check(path: &Path, trusted: Option<&str>, out: &mut dyn Write) -> Result<ExitCode> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read the proof file {}", path.display()))?;
    let view: ProofView = serde_json::from_str(&text).with_context(|| format!("{} is not a ringfence proof file", path.display()))?;
    let trusted = trusted.map(|t| hash(t, "--root")).transpose()?;
    let (valid, what, held) = match &view {
        ProofView::Inclusion { version, size, root, seq, entry_hash, path: proof } => {
            check_version(*version)?;
            let root = hash(root, "root")?;
            let proof = proof.iter().map(|h| hash(h, "path hash")).collect::<Result<Vec<_>>>()?;
            let valid = *seq >= 1 && merkle::verify_inclusion(seq - 1, *size, &hash(entry_hash, "entry_hash")?, &proof, &root);
            (valid, format!("entry {seq} (hash {entry_hash}) is in the journal of {size} entries with root {}", hex(&root)), root)
        }
        ProofView::Consistency { version, first_size, first_root, size, root, proof } => {
            check_version(*version)?;
            let (first, second) = (hash(first_root, "first_root")?, hash(root, "root")?);
            let proof = proof.iter().map(|h| hash(h, "proof hash")).collect::<Result<Vec<_>>>()?;
            let valid = merkle::verify_consistency(*first_size, *size, &first, &second, &proof);
            (
                valid,
                format!("the journal of {size} entries (root {root}) extends its first {first_size} entries (root {first_root})"),
                first,
            )
        }
    };
    if !valid {
        writeln!(out, "INVALID: the proof does not show that {what}")?;
        return Ok(ExitCode::from(1));
    }
    if let Some(trusted) = trusted
        && trusted != held
    {
        writeln!(out, "INVALID: the proof is consistent, but for the root {}, not the one given ({})", hex(&held), hex(&trusted))?;
        return Ok(ExitCode::from(1));
    }
    let against = if trusted.is_some() { " (against the root given)" } else { " (give --root to check it against a root you hold)" };
    writeln!(out, "valid: {what}{against}")?;
    Ok(ExitCode::SUCCESS)
}

fn check_version(version: u8) -> Result<()> {
    if version != PROOF_VERSION {
        bail!("proof file version {version}; this build reads version {PROOF_VERSION}");
    }
    Ok(())
}
