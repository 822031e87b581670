//! `ringfence serve`: the HTTP API on the configured store.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::Cli;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on. Loopback by default; put a TLS-terminating proxy in front of it
    /// before exposing it further.
    #[arg(long, env = "RINGFENCE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Worker threads for HTTP (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
}

pub fn run(cli: &Cli, args: &ServeArgs, out: &mut dyn Write) -> Result<ExitCode> {
    if args.threads == Some(0) {
        bail!("--threads must be at least 1");
    }
    let store = crate::open(cli)?;
    if store.register().tokens().next().is_none() {
        eprintln!("warning: no API token exists yet; every request will get 401. Create one with `ringfence token create`.");
    }
    if store.register().approval_policy().is_none() {
        eprintln!(
            "warning: no approval policy is in force, so nothing waits for four-eyes approval; compliance sets one with PUT /v1/policy/approvals (docs/api.md)."
        );
    }
    let described = store.location().describe();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if let Some(threads) = args.threads {
        runtime.worker_threads(threads);
    }
    let runtime = runtime.build().context("failed to start the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("cannot listen on {}", args.listen))?;
        let state = ringfence_server::AppState::start(store).context("failed to start the store thread")?;
        writeln!(out, "ringfence serving {} on http://{} (OpenAPI at /openapi.json)", described, listener.local_addr()?)?;
        out.flush()?;
        ringfence_server::serve(listener, state, shutdown_signal()).await.context("the HTTP server failed")?;
        writeln!(out, "ringfence stopped")?;
        Ok(ExitCode::SUCCESS)
    })
}

/// Resolves on SIGINT or SIGTERM; requests in flight finish first.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(signal) => signal,
        Err(_) => {
            let _ = interrupt.await;
            return;
        }
    };
    tokio::select! {
        _ = interrupt => {}
        _ = terminate.recv() => {}
    }
}
