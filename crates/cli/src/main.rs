//! The `ringfence` binary: parse arguments, run, map errors to exit codes.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = ringfence_cli::Cli::parse();
    let mut out = std::io::stdout().lock();
    let result = ringfence_cli::run(cli, &mut out);
    ringfence_cli::bench_scale::report_peak_memory();
    match result {
        Ok(code) => code,
        // The reader went away (`ringfence history … | head`): nothing is wrong, stop quietly.
        Err(error) if broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| cause.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}
