//! A reader that stops early (`ringfence history … | head`) is not an error: the binary stops
//! quietly with exit 0 instead of printing "error: Broken pipe".

#![allow(clippy::unwrap_used, reason = "a fixture or a tool that fails should fail the test at once")]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_ringfence");
const EXAMPLE_CASP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/casp.jsonl");

#[test]
fn a_reader_that_stops_early_ends_the_output_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let ringfence = |args: &[&str]| Command::new(BIN).arg("--data-dir").arg(&data).args(args).output().unwrap();
    assert!(ringfence(&["init"]).status.success());
    assert!(ringfence(&["import", EXAMPLE_CASP]).status.success());
    // Enough deposits that the output outgrows the pipe's buffer.
    let mut lines = String::new();
    for n in 0..4_000 {
        lines.push_str(&format!(
            "{{\"type\":\"deposit\",\"key\":\"pipe-{n}\",\"client\":\"client-1\",\"wallet\":\"omnibus-hot\",\"asset\":\"eip155:1/slip44:60\",\"amount\":\"1\"}}\n"
        ));
    }
    let file = dir.path().join("deposits.jsonl");
    std::fs::File::create(&file).unwrap().write_all(lines.as_bytes()).unwrap();
    assert!(ringfence(&["import", "--quiet", file.to_str().unwrap()]).status.success());

    let mut child = Command::new(BIN)
        .arg("--data-dir")
        .arg(&data)
        .args(["history", "--client", "client-1", "--limit", "10000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    // The reader is gone (dropped with the BufReader) long before the output ends.
    let output = child.wait_with_output().unwrap();
    assert!(first.starts_with("movements of"), "{first}");
    assert!(output.status.success(), "exit {:?}, stderr {}", output.status, String::from_utf8_lossy(&output.stderr));
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
}
