//! `ringfence bench --serve` through the real binary: client and server in separate
//! processes, a short run per batch size succeeds, every movement is accepted and found in the
//! store afterwards, and the whole phase's figure is printed; plain `bench` prints the figure
//! over the whole phase beside the recording-only one. Speed is for BENCHMARKS.md, never
//! asserted here.

#![allow(clippy::unwrap_used, reason = "a fixture or a tool that fails should fail the test at once")]

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_ringfence");

fn bench(args: &[&str], scratch: &std::path::Path) -> String {
    let output = Command::new(BIN)
        .arg("bench")
        .args(args)
        .arg("--dir")
        .arg(scratch)
        .env_remove("RINGFENCE_DATA_DIR")
        .env_remove("RINGFENCE_DATABASE_URL")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "exit {:?}\nstdout:\n{stdout}\nstderr:\n{}", output.status, String::from_utf8_lossy(&output.stderr));
    stdout
}

/// The figures row of a batch size: its columns.
fn row(stdout: &str, batch: &str) -> Vec<String> {
    let line =
        stdout.lines().find(|line| line.split_whitespace().next() == Some(batch)).unwrap_or_else(|| panic!("no row {batch}:\n{stdout}"));
    line.split_whitespace().map(str::to_owned).collect()
}

#[test]
fn bench_serve_posts_batches_to_a_separate_server_and_counts_the_whole_phase() {
    let scratch = tempfile::tempdir().unwrap();
    let stdout = bench(&["--serve", "--batch-sizes", "50,1", "--movements", "400", "--clients", "50"], scratch.path());
    assert!(stdout.contains("`ringfence serve` in its own process on loopback"), "{stdout}");
    assert!(stdout.contains("phase/s") && stdout.contains("p99 round trip"), "{stdout}");
    for batch in ["50", "1"] {
        let columns = row(&stdout, batch);
        assert_eq!((columns[1].as_str(), columns[2].as_str()), ("400", "400"), "every movement accepted: {stdout}");
    }
    assert_eq!(std::fs::read_dir(scratch.path()).unwrap().count(), 0, "the scratch store was left behind");

    let stdout = bench(&["--batch-sizes", "50", "--movements", "400", "--clients", "50"], scratch.path());
    assert!(stdout.contains("phase/s: the whole phase's wall time, generating each batch included"), "{stdout}");
    let columns = row(&stdout, "50");
    let (submit, phase): (f64, f64) = (columns[3].parse().unwrap(), columns[4].parse().unwrap());
    assert!(phase <= submit, "the whole phase takes at least as long as recording alone: {stdout}");
}

/// On PostgreSQL: the server runs on a scratch schema it is told of by URL, and the schema is
/// dropped afterwards. PostgreSQL is a throwaway cluster from `ringfence-testdb`.
#[test]
fn bench_serve_runs_on_postgres_in_a_scratch_schema() {
    let url = ringfence_testdb::server().fresh_database();
    let output = Command::new(BIN)
        .args(["--database-url", &url, "bench", "--serve", "--batch-sizes", "50", "--movements", "200", "--clients", "20"])
        .env_remove("RINGFENCE_DATA_DIR")
        .env_remove("RINGFENCE_DATABASE_URL")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("PostgreSQL at"), "{stdout}");
    let columns = row(&stdout, "50");
    assert_eq!((columns[1].as_str(), columns[2].as_str()), ("200", "200"), "{stdout}");
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let left: i64 = client
        .query_one("SELECT count(*) FROM information_schema.schemata WHERE schema_name LIKE 'ringfence_bench_%'", &[])
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "the scratch schema was dropped");
}

#[test]
fn serve_with_http_is_a_usage_error() {
    let output = Command::new(BIN).args(["bench", "--serve", "--http"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
}
