//! `ringfence bench --scale` through the real binary, at toy sizes: a row per size with the
//! entries recorded, every child process run to success and its peak memory reported; sizes
//! and clients that do not pair up are a usage error; on PostgreSQL the scratch schemas are
//! dropped. Speed is for BENCHMARKS.md, never asserted here. Also: plain `bench` times the
//! checkpoint its policy wants apart from recording, and reopens from it.

#![allow(clippy::unwrap_used, reason = "a fixture or a tool that fails should fail the test at once")]

use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_ringfence");

fn ringfence(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("RINGFENCE_DATA_DIR")
        .env_remove("RINGFENCE_DATABASE_URL")
        .env_remove("RINGFENCE_CHECKPOINT_EVERY")
        .env_remove("RINGFENCE_FULL_REPLAY")
        .output()
        .unwrap()
}

fn succeeded(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "exit {:?}\nstdout:\n{stdout}\nstderr:\n{}", output.status, String::from_utf8_lossy(&output.stderr));
    stdout
}

/// The columns of the row whose first column is `first`.
fn row(stdout: &str, first: &str) -> Vec<String> {
    let line =
        stdout.lines().find(|line| line.split_whitespace().next() == Some(first)).unwrap_or_else(|| panic!("no row {first}:\n{stdout}"));
    line.split_whitespace().map(str::to_owned).collect()
}

/// A size's row: movements, clients, entries (setup and seeds included), then figures each
/// with its memory in MiB.
fn check_scale_rows(stdout: &str) {
    assert!(stdout.contains("goals (issue 16)"), "{stdout}");
    for (movements, clients) in [("3000", "20"), ("9000", "60")] {
        let columns = row(stdout, movements);
        assert_eq!(columns[1], clients, "{stdout}");
        let entries: u64 = columns[2].parse().unwrap();
        assert!(entries > movements.parse().unwrap(), "setup and seeds are entries too: {stdout}");
        let memories = columns.iter().filter(|column| column.ends_with("MiB")).count();
        assert_eq!(memories, 5, "checkpoint size, balance, history, serve and verify memory: {stdout}");
    }
}

#[test]
fn bench_scale_builds_each_size_and_runs_each_command_as_its_own_process() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().to_str().unwrap();
    let stdout = succeeded(&ringfence(&["bench", "--scale", "--scale-movements", "3000,9000", "--scale-clients", "20,60", "--dir", dir]));
    check_scale_rows(&stdout);
    assert_eq!(std::fs::read_dir(scratch.path()).unwrap().count(), 0, "the scratch stores were left behind");

    let unpaired = ringfence(&["bench", "--scale", "--scale-movements", "3000,9000", "--scale-clients", "20", "--dir", dir]);
    assert_eq!(unpaired.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&unpaired.stderr);
    assert!(stderr.contains("--scale-movements has 2 sizes and --scale-clients 1"), "{stderr}");
    let with_batches = ringfence(&["bench", "--scale", "--batch-sizes", "5"]);
    assert_eq!(with_batches.status.code(), Some(2), "--scale measures its own sizes");
}

/// On PostgreSQL (a throwaway cluster from `ringfence-testdb`): each child is told of its
/// scratch schema by URL, and the schemas are dropped afterwards.
#[test]
fn bench_scale_runs_on_postgres_in_scratch_schemas() {
    let url = ringfence_testdb::server().fresh_database();
    let stdout =
        succeeded(&ringfence(&["--database-url", &url, "bench", "--scale", "--scale-movements", "3000,9000", "--scale-clients", "20,60"]));
    assert!(stdout.contains("PostgreSQL at"), "{stdout}");
    check_scale_rows(&stdout);
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let left: i64 = client
        .query_one("SELECT count(*) FROM information_schema.schemata WHERE schema_name LIKE 'ringfence_bench_%'", &[])
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "the scratch schemas were dropped");
}

#[test]
fn bench_times_the_due_checkpoint_apart_and_reopens_from_it() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().to_str().unwrap();
    let base = ["bench", "--batch-sizes", "50", "--movements", "400", "--clients", "50", "--dir", dir];
    let stdout = succeeded(&ringfence(&[&["--checkpoint-every", "200"], &base[..]].concat()));
    let columns = row(&stdout, "50");
    assert_ne!(columns[7], "-", "a checkpoint was due after 400 movements: {stdout}");
    assert!(columns[8].starts_with('*'), "reopened from the checkpoint: {stdout}");

    let stdout = succeeded(&ringfence(&[&["--checkpoint-every", "0"], &base[..]].concat()));
    let columns = row(&stdout, "50");
    assert_eq!(columns[7], "-", "no checkpoint with --checkpoint-every 0: {stdout}");
    assert!(!columns[8].starts_with('*'), "reopened by a replay from entry 1: {stdout}");
}
