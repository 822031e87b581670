//! `ringfence bench --http` through the real binary: a short run on a scratch store succeeds,
//! every request is accepted, and the figures are printed. Speed is for BENCHMARKS.md, never
//! asserted here.

#![allow(clippy::unwrap_used, reason = "a fixture or a tool that fails should fail the test at once")]

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_ringfence");

#[test]
fn bench_http_posts_every_request_and_prints_the_figures() {
    let scratch = tempfile::tempdir().unwrap();
    let output = Command::new(BIN)
        .args(["bench", "--http", "--requests", "2000", "--connections", "8", "--clients", "100", "--dir"])
        .arg(scratch.path())
        .env_remove("RINGFENCE_DATA_DIR")
        .env_remove("RINGFENCE_DATABASE_URL")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "exit {:?}\nstdout:\n{stdout}\nstderr (last 2000 bytes):\n{}", output.status, tail(&stderr));
    for figure in ["8 keep-alive HTTP/1.1 connections", "movements/s", "p50", "p90", "p99", "max", "durable commits: ", "peak memory"] {
        assert!(stdout.contains(figure), "no {figure:?} in:\n{stdout}");
    }
    assert!(stdout.contains("after the run: 2000 movements recorded (one per request), journal intact"), "{stdout}");
    let figures = stdout.lines().skip_while(|line| !line.trim_start().starts_with("requests")).nth(1).unwrap_or_default();
    assert_eq!(figures.split_whitespace().next(), Some("2000"), "the figures line counts the requests: {stdout}");
    // The scratch store is removed afterwards.
    assert_eq!(std::fs::read_dir(scratch.path()).unwrap().count(), 0, "the scratch store was left behind");
}

#[test]
fn connections_without_http_is_a_usage_error() {
    let output = Command::new(BIN).args(["bench", "--connections", "8"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--http"), "{}", String::from_utf8_lossy(&output.stderr));
}

fn tail(text: &str) -> &str {
    let start = text.len().saturating_sub(2000);
    let start = (start..text.len()).find(|i| text.is_char_boundary(*i)).unwrap_or(text.len());
    &text[start..]
}
