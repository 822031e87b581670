//! `ringfence bench --chain`: the chain adapter fetching the balances of many wallets from a
//! real EVM node (anvil in BENCHMARKS.md), as a reconciliation against the chain would. The
//! wallets are fresh, deterministic addresses (wallet n is `0x…be4c0000000` + n), so the node
//! needs no setup; with `--token` every wallet is asked for ether and that ERC-20 token, two
//! calls each. Connecting and reading the head block are not timed; each run times one
//! `Evm::balances` call for every pair at that block (JSON-RPC batches of
//! `EvmConfig::batch_size_max` calls, one HTTP request each).
//!
//! The node is reached only through `ringfence-chain`, the one crate that talks to nodes: the
//! bench does not deploy or fund anything. A token to measure is deployed beforehand (the
//! recipe is in BENCHMARKS.md).

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use ringfence_chain::{ChainError, Evm, EvmConfig};
use ringfence_core::{Address, AssetId};

use crate::bench::{BenchArgs, peak_memory_bytes};

/// Runs measured, each over every wallet.
const RUNS: usize = 3;
/// Wallets at most: the pairs and the answers are held in memory.
const WALLETS_MAX: usize = 1_000_000;
/// Wallet n is this address plus n: well above the precompiles (0x1…0x11) and anvil's dev
/// accounts, and far from any address anyone holds keys for.
const FIRST_WALLET: u64 = 0xbe4c_0000_0000;

pub fn run(args: &BenchArgs, out: &mut dyn Write) -> Result<ExitCode> {
    if args.wallets == 0 || args.wallets > WALLETS_MAX {
        bail!("--wallets {} is outside 1 to {WALLETS_MAX}", args.wallets);
    }
    let chain = format!("eip155:{}", args.chain_id);
    let mut assets = vec![AssetId::parse(&format!("{chain}/slip44:60")).context("failed to name ether on the chain of --chain-id")?];
    if let Some(token) = &args.token {
        assets.push(
            AssetId::parse(&format!("{chain}/erc20:{token}"))
                .with_context(|| format!("--token {token} is not an ERC-20 address; give 0x and 40 hex digits"))?,
        );
    }
    let mut pairs = Vec::with_capacity(args.wallets * assets.len());
    for n in 0..args.wallets as u64 {
        let wallet = Address::parse(&format!("{chain}:0x{:040x}", FIRST_WALLET + n)).context("failed to build a bench wallet's address")?;
        for asset in &assets {
            pairs.push((wallet.clone(), asset.clone()));
        }
    }

    let config = EvmConfig::new(&args.node, args.chain_id);
    let batch_size = config.batch_size_max;
    let evm = match Evm::connect(config) {
        Ok(evm) => evm,
        Err(ChainError::WrongChain { actual, .. }) => {
            bail!("the node at {} serves chain eip155:{actual}, not {chain}; pass --chain-id {actual} to measure it", args.node)
        }
        Err(error) => return Err(error).with_context(|| format!("failed to connect to the node at {}", args.node)),
    };
    let head = evm.head().with_context(|| format!("failed to read the head block from {}", args.node))?;
    // The first wallet alone, untimed: a token address without a contract is refused here,
    // before the table starts.
    evm.balances(&pairs[..assets.len()], &head)
        .with_context(|| format!("failed to fetch the first wallet's balances from {}", args.node))?;
    let what = match &args.token {
        Some(token) => format!("ether and the token {token}"),
        None => "ether".to_owned(),
    };
    writeln!(out, "ringfence bench --chain: node {} ({chain}), head block {} ({})", args.node, head.number, head.hash)?;
    writeln!(
        out,
        "{} wallets (0x{:040x} to 0x{:040x}) × {what}: {} balance calls per run, in JSON-RPC batches of at most {batch_size} calls (one HTTP request each)",
        args.wallets,
        FIRST_WALLET,
        FIRST_WALLET + args.wallets as u64 - 1,
        pairs.len(),
    )?;
    writeln!(out, "{:>4} {:>10} {:>12} {:>12} {:>10}", "run", "calls", "wall time", "calls/s", "non-zero")?;
    let mut walls = Vec::with_capacity(RUNS);
    for run in 1..=RUNS {
        let started = Instant::now();
        let balances = evm.balances(&pairs, &head).with_context(|| format!("failed to fetch the balances from {}", args.node))?;
        let wall = started.elapsed();
        ensure!(balances.len() == pairs.len(), "the adapter answered {} balances for {} pairs", balances.len(), pairs.len());
        // A balance beyond u128 (`Err(TooLarge)`) is not zero either.
        let non_zero = balances.iter().filter(|balance| **balance != Ok(0)).count();
        writeln!(
            out,
            "{run:>4} {:>10} {:>10.3} s {:>12.0} {non_zero:>10}",
            pairs.len(),
            wall.as_secs_f64(),
            pairs.len() as f64 / wall.as_secs_f64()
        )?;
        out.flush()?;
        walls.push(wall);
    }
    let fastest = walls.iter().min().copied().unwrap_or(Duration::ZERO);
    let slowest = walls.iter().max().copied().unwrap_or(Duration::ZERO);
    writeln!(out, "wall time per run: {:.3}–{:.3} s", fastest.as_secs_f64(), slowest.as_secs_f64())?;
    if let Some(peak) = peak_memory_bytes() {
        writeln!(out, "peak memory (VmHWM): {:.1} MiB", peak as f64 / (1024.0 * 1024.0))?;
    }
    Ok(ExitCode::SUCCESS)
}
