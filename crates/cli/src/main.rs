//! The `ringfence` binary: parse arguments, run, map errors to exit codes.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = ringfence_cli::Cli::parse();
    let mut out = std::io::stdout().lock();
    match ringfence_cli::run(cli, &mut out) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}
