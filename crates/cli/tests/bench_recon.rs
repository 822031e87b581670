//! `ringfence bench --recon` runs end to end at tiny sizes and prints its figures (no speed is
//! asserted: speed is measured by the bench itself, in BENCHMARKS.md).

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_ringfence");

#[test]
fn bench_recon_runs_and_prints_its_figures() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let output = Command::new(BIN)
        .args(["bench", "--recon", "--positions", "300", "--wallets", "60", "--dir"])
        .arg(dir.path())
        .output()
        .expect("ringfence runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "stdout: {stdout}\nstderr: {}", String::from_utf8_lossy(&output.stderr));
    for words in [
        "300 positions of 100 clients (1 individually segregated), 60 wallets",
        "parse 10 statements",
        "reconcile (",
        "render JSON",
        "total",
        "peak memory",
    ] {
        assert!(stdout.contains(words), "{words:?} missing from:\n{stdout}");
    }
    // The statements state the register exactly: every finding is a match.
    let findings = stdout.lines().find(|l| l.starts_with("findings: ")).expect("a findings line");
    assert!(findings.ends_with("warning 0, critical 0)"), "{findings}");
    // The scratch directory is removed afterwards.
    assert_eq!(std::fs::read_dir(dir.path()).expect("readable").count(), 0);
}

#[test]
fn bench_recon_refuses_options_of_the_other_benches() {
    let output = Command::new(BIN).args(["bench", "--recon", "--http"]).output().expect("ringfence runs");
    assert!(!output.status.success());
    let output = Command::new(BIN).args(["bench", "--positions", "5"]).output().expect("ringfence runs");
    assert!(!output.status.success());
}
