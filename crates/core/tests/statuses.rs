//! Every status the register can answer is asserted by some test: a new `Status` fails this
//! test until a test reaches it (by `Status::Name` in a Rust test, or by its code in a test of
//! the API or the command line). Precedence (the first rule broken in `Status` order is the one
//! reported) is asserted per family where the rules are: movements in `rules.rs`, fiat
//! placements in `safeguard.rs`, wallet changes in `four_eyes.rs`.

#![allow(clippy::unwrap_used, reason = "a fixture that fails should fail the test at once")]

use std::path::{Path, PathBuf};

use ringfence_core::Status;

/// Every `.rs` file under each crate's `tests` folder.
fn test_sources(crates: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut folders: Vec<PathBuf> =
        std::fs::read_dir(crates).unwrap().map(|entry| entry.unwrap().path().join("tests")).filter(|path| path.is_dir()).collect();
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                found.push(path);
            }
        }
    }
    found
}

#[test]
fn every_status_is_asserted_by_some_test() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let text: String = test_sources(crates).iter().map(|path| std::fs::read_to_string(path).unwrap()).collect();
    let this = include_str!("statuses.rs");
    let text = text.replace(this, "");
    let missing: Vec<Status> = Status::ALL
        .iter()
        .copied()
        .filter(|status| !text.contains(&format!("Status::{status:?}")) && !text.contains(&format!("\"{}\"", status.code())))
        .collect();
    assert!(missing.is_empty(), "no test asserts these statuses: {missing:?}");
}
