//! Fingerprints the core's source, so that a register checkpoint written by one build is not
//! read by another whose state may be laid out differently (see `register::checkpoint`).

use std::path::Path;

fn visit(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            visit(&path, files);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = root.join("src");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=Cargo.toml");
    let mut files = Vec::new();
    visit(&src, &mut files);
    files.sort();
    // FNV-1a, 64 bits: a fingerprint, not a defence (the checkpoint has its own SHA-256).
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &byte in bytes {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for file in &files {
        let relative = file.strip_prefix(root).unwrap_or(file);
        eat(relative.to_string_lossy().as_bytes());
        eat(&[0]);
        eat(&std::fs::read(file).unwrap_or_default());
        eat(&[0]);
    }
    eat(&std::fs::read(root.join("Cargo.toml")).unwrap_or_default());
    println!("cargo:rustc-env=RINGFENCE_STATE_LAYOUT={hash:016x}");
}
