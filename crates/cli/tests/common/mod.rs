//! What the command-line tests share: running this binary on a data directory, with nothing
//! from the caller's environment that would change what it does, and reading its output.

#![allow(dead_code, reason = "each test file uses some of these")]
#![allow(clippy::unwrap_used, reason = "a tool that fails should fail the test at once")]

use std::path::Path;
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_ringfence");

/// `ringfence --data-dir DIR ARGS…` with `env` set, run to its end.
pub fn run_with(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(BIN);
    command
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("RINGFENCE_DATA_DIR")
        .env_remove("RINGFENCE_DATABASE_URL")
        .env_remove("RINGFENCE_MAX_PRICE_AGE")
        .env_remove("RINGFENCE_CASP_NAME");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().unwrap()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Standard output then standard error, for a message.
pub fn both(output: &Output) -> String {
    format!("{}{}", stdout(output), String::from_utf8_lossy(&output.stderr))
}
