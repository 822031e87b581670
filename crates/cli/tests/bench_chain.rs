//! `ringfence bench --chain` against a real node (a throwaway anvil with OpenZeppelin's ERC-20)
//! at a tiny size: it prints its three runs with the balances it found; an unreachable node or
//! a node of another chain is a clear error, not a panic. No speed is asserted: speed is
//! measured by the bench itself, in BENCHMARKS.md.

use std::net::TcpListener;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_ringfence");
const WALLETS: u64 = 50;

/// The bench's wallet `n` (`FIRST_WALLET` in `src/bench_chain.rs`).
fn bench_wallet(n: u64) -> String {
    format!("0x{:040x}", 0xbe4c_0000_0000_u64 + n)
}

fn bench(args: &[&str]) -> Output {
    Command::new(BIN).arg("bench").args(args).output().expect("ringfence runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn bench_chain_fetches_ether_and_token_balances_of_every_wallet_three_times() {
    let Some(node) = ringfence_testchain::anvil() else { return };
    let minter = &node.accounts()[0];
    let token = node.deploy_erc20(minter, "Bench Dollar", "BUSD");
    // Two of the 100 balances are not zero: the first wallet's ether, the last wallet's token.
    node.set_balance(&bench_wallet(0), 7);
    node.mint(&token, minter, &bench_wallet(WALLETS - 1), 11);
    node.mine(1);

    let output = bench(&["--chain", "--node", node.url(), "--wallets", &WALLETS.to_string(), "--token", &token]);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "stdout: {stdout}\nstderr: {}", text(&output.stderr));
    for words in [
        format!("node {} (eip155:31337), head block", node.url()),
        format!(
            "50 wallets ({} to {}) × ether and the token {token}: 100 balance calls per run",
            bench_wallet(0),
            bench_wallet(WALLETS - 1)
        ),
        "wall time per run: ".to_owned(),
        "peak memory".to_owned(),
    ] {
        assert!(stdout.contains(&words), "{words:?} missing from:\n{stdout}");
    }
    // run, calls, wall time, "s", calls/s, non-zero
    let runs: Vec<Vec<&str>> = stdout
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .filter(|words| words.len() == 6 && words[3] == "s")
        .collect();
    assert_eq!(runs.iter().map(|run| run[0]).collect::<Vec<_>>(), ["1", "2", "3"], "{stdout}");
    for run in &runs {
        assert_eq!((run[1], run[5]), ("100", "2"), "calls and non-zero balances of run {}:\n{stdout}", run[0]);
    }

    let output = bench(&["--chain", "--node", node.url(), "--chain-id", "1", "--wallets", "3"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("serves chain eip155:31337, not eip155:1; pass --chain-id 31337"), "{stderr}");
}

#[test]
fn bench_chain_refuses_a_token_address_without_a_contract_before_timing() {
    let Some(node) = ringfence_testchain::anvil() else { return };
    let output = bench(&["--chain", "--node", node.url(), "--wallets", "3", "--token", &bench_wallet(0)]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("holds no contract"), "{stderr}");
    assert!(!text(&output.stdout).contains("wall time"), "{}", text(&output.stdout));
}

#[test]
fn bench_chain_reports_an_unreachable_node_as_unavailable() {
    // A loopback port that was free a moment ago: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0").and_then(|listener| listener.local_addr()).expect("a free loopback port").port();
    let url = format!("http://127.0.0.1:{port}");
    let output = bench(&["--chain", "--node", &url, "--wallets", "3"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(stderr.contains(&format!("the node at {url} is unavailable")), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn bench_chain_options_need_chain() {
    for args in
        [&["--node", "http://127.0.0.1:8545"][..], &["--token", "0x5fbdb2315678afecb367f032d93f642f64180aa3"], &["--chain", "--recon"]]
    {
        let output = bench(args);
        assert!(!output.status.success(), "bench {args:?} was accepted");
    }
}
