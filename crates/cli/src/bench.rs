//! `ringfence bench`: durable, invariant-checked movements per second on the embedded store
//! or on PostgreSQL, for several batch sizes, and the process's peak memory. Each batch size
//! runs on a fresh store (a scratch directory, or a scratch schema dropped afterwards).
//! Two figures per batch size: `movements/s` times only recording (decide, journal, commit:
//! `Store::submit`), `phase/s` the wall time of the whole phase, generating each batch
//! included, as TigerBeetle's benchmark counts. `--serve` measures client and server apart
//! (crate::bench_serve).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use ringfence_core::{
    Action, Actor, Address, Amount, Asset, AssetId, ClassKind, Client, ClientCategory, ClientId, Command, Custodian, IdempotencyKey,
    InstructionId, KeyScheme, KeySet, KeySetId, Meta, Segregation, Status, Tier, Timestamp, Wallet, WalletClass, WalletId, build,
};
use ringfence_store::{BATCH_MAX, CheckpointPolicy, Location, Store};

use crate::Cli;

use crate::demo::{Sample, Sequence};

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("per_wallet").args(["recon", "chain"])))]
pub struct BenchArgs {
    /// Batch sizes to measure (1 to 8190 each).
    #[arg(long, value_delimiter = ',', default_values_t = vec![1usize, 100, 8190])]
    pub batch_sizes: Vec<usize>,
    /// Movements to record for the largest batch size; smaller sizes record fewer (at most
    /// 2,000 batches each) so a run stays short.
    #[arg(long, default_value_t = 1_000_000)]
    pub movements: usize,
    /// Clients to spread the movements over.
    #[arg(long, default_value_t = 10_000)]
    pub clients: u32,
    /// Directory for the scratch stores (on the disk you want to measure); removed afterwards.
    /// With --database-url postgres://…, the stores are scratch schemas in that database
    /// instead (`ringfence_bench_PID_BATCH`, dropped afterwards).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Measure the HTTP API instead: the server of `ringfence serve` in this process on
    /// loopback, driven by keep-alive HTTP/1.1 connections each posting single deposits.
    #[arg(long, conflicts_with_all = ["batch_sizes", "movements"])]
    pub http: bool,
    /// With --http: concurrent keep-alive connections.
    #[arg(long, default_value_t = 64, requires = "http")]
    pub connections: usize,
    /// With --http: requests (one deposit each) to send over all connections.
    #[arg(long, default_value_t = 200_000, requires = "http")]
    pub requests: usize,
    /// Measure a reconciliation instead: a register built in memory, statement files for its
    /// wallets, then parsing, reconciling and rendering the report are timed.
    #[arg(long, conflicts_with_all = ["batch_sizes", "movements", "http"])]
    pub recon: bool,
    /// With --recon: client positions in the register.
    #[arg(long, default_value_t = 1_000_000, requires = "recon")]
    pub positions: usize,
    /// With --recon: wallets holding them. With --chain: wallets whose balances are fetched.
    #[arg(long, default_value_t = 10_000, requires = "per_wallet")]
    pub wallets: usize,
    /// Measure the chain adapter instead: the balances of --wallets fresh wallets (ether, and
    /// an ERC-20 token with --token) fetched from an EVM node at its head block, three times.
    #[arg(long, conflicts_with_all = ["batch_sizes", "movements", "http", "recon", "dir"])]
    pub chain: bool,
    /// With --chain: the node's JSON-RPC URL.
    #[arg(long, default_value = "http://127.0.0.1:8545", requires = "chain")]
    pub node: String,
    /// With --chain: the EIP-155 chain id the node must serve (31337 is anvil's default).
    #[arg(long, default_value_t = 31_337, requires = "chain")]
    pub chain_id: u64,
    /// With --chain: an ERC-20 token (0x and 40 hex digits) whose balance is fetched for every
    /// wallet as well as ether; without it, ether only.
    #[arg(long, requires = "chain")]
    pub token: Option<String>,
    /// Sign every commit (Ed25519, a key generated for the run and registered in the scratch
    /// store), as a store with a journal signing key does; reopening also checks every
    /// signature.
    #[arg(long, conflicts_with_all = ["http", "recon", "chain"])]
    pub sign: bool,
    /// Measure client and server apart, as TigerBeetle's benchmark does: `ringfence serve` in
    /// its own process on loopback, this process generating each batch as JSON and posting it
    /// to the batch route; the figure is over the whole phase's wall time (the embedded store,
    /// or PostgreSQL with --database-url).
    #[arg(long, conflicts_with_all = ["http", "recon", "chain", "sign"])]
    pub serve: bool,
    /// Measure how opening and reading scale with history: per size, a store of that many
    /// movements with a checkpoint at its head, then `balance`, `history --limit 100`, `serve`
    /// (until it listens) and `journal verify` as separate processes, timed with their peak
    /// memory (the embedded store, or PostgreSQL with --database-url).
    #[arg(long, conflicts_with_all = ["batch_sizes", "movements", "clients", "http", "recon", "chain", "sign", "serve"])]
    pub scale: bool,
    /// Measure statements of position: a store of --movements over --clients (movements in
    /// January 2026, prices at the end of March), then `statements issue --period 2026-Q1`
    /// (every client in JSON, CSV and PDF, issued and journaled) as its own process, timed
    /// with its peak memory (the embedded store, or PostgreSQL with --database-url).
    #[arg(long, conflicts_with_all = ["batch_sizes", "http", "recon", "chain", "sign", "serve", "scale"])]
    pub statements: bool,
    /// Measure the insolvency pack: a store with a deposit of each of the 3 assets to each of
    /// --clients (3 positions a client) and --movements of the mix, then `insolvency pack`
    /// at now as its own process, timed with its peak memory (the embedded store, or
    /// PostgreSQL with --database-url).
    #[arg(long, conflicts_with_all = ["batch_sizes", "http", "recon", "chain", "sign", "serve", "scale", "statements"])]
    pub insolvency: bool,
    /// With --scale: the sizes, in movements.
    #[arg(long, value_delimiter = ',', default_values_t = vec![1_000_000usize, 5_000_000, 20_000_000], requires = "scale")]
    pub scale_movements: Vec<usize>,
    /// With --scale: the clients of each size, one per size.
    #[arg(long, value_delimiter = ',', default_values_t = vec![10_000u32, 100_000, 1_000_000], requires = "scale")]
    pub scale_clients: Vec<u32>,
}

pub(crate) fn id<T>(parse: fn(&str) -> Result<T, ringfence_core::IdError>, text: &str) -> T {
    parse(text).unwrap_or_else(|error| unreachable!("bench identifiers are valid: {error}"))
}

pub(crate) fn meta(n: usize) -> Meta {
    Meta {
        actor: id(Actor::parse, "bench"),
        instruction: id(InstructionId::parse, &format!("i{n}")),
        effective_at: Timestamp::from_micros(1_767_225_600_000_000 + n as i64 * 1_000),
    }
}

/// Registrations for the bench: three assets, omnibus clients, wallets per chain and tier.
pub(crate) fn setup(clients: u32) -> Vec<Command> {
    let sample = Sample::new();
    let mut commands = Vec::new();
    let mut push = |action| {
        let n = commands.len();
        commands.push(Command { meta: meta(n), action });
    };
    for (asset, scale) in [(&sample.eth, 18), (&sample.usdc, 6), (&sample.btc, 8)] {
        push(Action::RegisterAsset(Asset { id: asset.clone(), scale, symbol: String::new() }));
    }
    for (name, class) in [("ks-client", ClassKind::ClientOmnibus), ("ks-firm", ClassKind::Firm)] {
        push(Action::RegisterKeySet(KeySet {
            id: id(KeySetId::parse, name),
            scheme: KeyScheme::Multisig { threshold: 2 },
            signers: vec!["a".into(), "b".into(), "c".into()],
            class,
        }));
    }
    let wallets = [
        ("hot-evm", "eip155:1:0x00000000000000000000000000000000000000a1", WalletClass::ClientOmnibus, Tier::Hot, "ks-client"),
        ("cold-evm", "eip155:1:0x00000000000000000000000000000000000000a2", WalletClass::ClientOmnibus, Tier::Cold, "ks-client"),
        ("firm-evm", "eip155:1:0x00000000000000000000000000000000000000f1", WalletClass::Firm, Tier::Hot, "ks-firm"),
        ("hot-btc", "bip122:000000000019d6689c085ae165831e93:bc1qbenchhot", WalletClass::ClientOmnibus, Tier::Hot, "ks-client"),
        ("cold-btc", "bip122:000000000019d6689c085ae165831e93:bc1qbenchcold", WalletClass::ClientOmnibus, Tier::Cold, "ks-client"),
        ("firm-btc", "bip122:000000000019d6689c085ae165831e93:bc1qbenchfirm", WalletClass::Firm, Tier::Hot, "ks-firm"),
    ];
    for (name, address, class, tier, key_set) in wallets {
        push(Action::RegisterWallet(Wallet {
            id: id(WalletId::parse, name),
            address: id(Address::parse, address),
            class,
            tier,
            custodian: Custodian::InHouse,
            key_set: id(KeySetId::parse, key_set),
        }));
    }
    for n in 0..clients {
        push(Action::RegisterClient(Client {
            id: id(ClientId::parse, &format!("c{n}")),
            category: ClientCategory::Retail,
            segregation: Segregation::Omnibus,
        }));
    }
    commands
}

/// One movement of the bench's mix: what [`movements`] builds and `bench --serve` sends as JSON.
pub(crate) enum Pick {
    Deposit { client: usize, asset: usize, amount: u128 },
    Transfer { from: usize, to: usize, asset: usize, amount: u128 },
    Withdrawal { client: usize, asset: usize, amount: u128 },
    Fee { client: usize, asset: usize, amount: u128 },
    Rebalance { asset: usize, amount: u128 },
}

/// The generator of movement `n`'s successors from `first`, seeded as [`movements`] is.
pub(crate) fn picker(first: usize, seed: u64) -> Sequence {
    Sequence::new(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ first as u64)
}

/// The next movement of the mix: deposits (50 %), client-to-client transfers (20 %),
/// withdrawals (15 %), fees with their sweep (5 %), rebalances (10 %); clients by index, assets
/// by index into [`ASSET_WALLETS`].
pub(crate) fn pick(rng: &mut Sequence, clients: u32) -> Pick {
    let client = rng.below(u64::from(clients)) as usize;
    let asset = rng.below(3) as usize;
    let small = u128::from(1 + rng.below(100));
    match rng.below(20) {
        0..=9 => Pick::Deposit { client, asset, amount: u128::from(1_000 + rng.below(1_000_000)) },
        10..=13 => Pick::Transfer { from: client, to: rng.below(u64::from(clients)) as usize, asset, amount: small },
        14..=16 => Pick::Withdrawal { client, asset, amount: small },
        17 => Pick::Fee { client, asset, amount: small },
        _ => Pick::Rebalance { asset, amount: small },
    }
}

/// Per asset of the mix (ETH, USDC, BTC): its hot, cold and firm wallets.
pub(crate) const ASSET_WALLETS: [[&str; 3]; 3] =
    [["hot-evm", "cold-evm", "firm-evm"], ["hot-evm", "cold-evm", "firm-evm"], ["hot-btc", "cold-btc", "firm-btc"]];

/// The identifiers the mix draws from, built once per run (not per batch: at batch size 1 that
/// would be most of the phase).
pub(crate) struct Mix {
    assets: [AssetId; 3],
    wallet_ids: Vec<[WalletId; 3]>,
    client_ids: Vec<ClientId>,
}

/// The mix's assets, in the order [`Pick`] indexes them: ETH, USDC, BTC.
pub(crate) fn mix_assets() -> [AssetId; 3] {
    let sample = Sample::new();
    [sample.eth, sample.usdc, sample.btc]
}

impl Mix {
    pub(crate) fn new(clients: u32) -> Mix {
        Mix {
            assets: mix_assets(),
            wallet_ids: ASSET_WALLETS.iter().map(|names| names.map(|name| id(WalletId::parse, name))).collect(),
            client_ids: (0..clients).map(|n| id(ClientId::parse, &format!("c{n}"))).collect(),
        }
    }

    /// Movements `first..first + count` of the mix seeded with `seed` (see [`pick`]): almost
    /// always accepted.
    pub(crate) fn movements(&self, first: usize, count: usize, seed: u64) -> Vec<Command> {
        let clients = self.client_ids.len() as u32;
        let (assets, wallets, ids) = (&self.assets, &self.wallet_ids, &self.client_ids);
        let mut rng = picker(first, seed);
        let mut commands = Vec::with_capacity(count);
        for n in first..first + count {
            let key = id(IdempotencyKey::parse, &format!("m{seed}-{n}"));
            let movement = match pick(&mut rng, clients) {
                Pick::Deposit { client, asset, amount } => {
                    build::deposit(key, &ids[client], &wallets[asset][0], &assets[asset], Amount::new(amount))
                }
                Pick::Transfer { from, to, asset, amount } => {
                    build::transfer(key, &ids[from], &ids[to], None, &assets[asset], Amount::new(amount))
                }
                Pick::Withdrawal { client, asset, amount } => {
                    build::withdrawal(key, &ids[client], &wallets[asset][0], &assets[asset], Amount::new(amount))
                }
                Pick::Fee { client, asset, amount } => {
                    build::fee(key, &ids[client], &wallets[asset][0], &wallets[asset][2], &assets[asset], Amount::new(amount))
                }
                Pick::Rebalance { asset, amount } => {
                    build::rebalance(key, &wallets[asset][0], &wallets[asset][1], &assets[asset], Amount::new(amount))
                }
            };
            commands.push(Command { meta: meta(n), action: Action::Movement(movement) });
        }
        commands
    }
}

/// Deposits that seed every client in each asset (to its hot wallet), so most debits find
/// funds; keys from the mix seeded with 7.
pub(crate) fn seeds(clients: u32) -> Vec<Command> {
    let mix = Mix::new(clients);
    mix.movements(0, clients as usize * 3, 7)
        .into_iter()
        .enumerate()
        .map(|(n, mut c)| {
            if let Action::Movement(m) = &mut c.action {
                let asset = n % 3;
                let client = &mix.client_ids[n % clients as usize];
                *m = build::deposit(m.key.clone(), client, &mix.wallet_ids[asset][0], &mix.assets[asset], Amount::new(1_000_000_000));
            }
            c
        })
        .collect()
}

/// Checks the batch sizes and counts a throughput bench takes.
pub(crate) fn check_sizes(args: &BenchArgs) -> Result<()> {
    if let Some(bad) = args.batch_sizes.iter().find(|b| **b == 0 || **b > BATCH_MAX) {
        anyhow::bail!("batch size {bad} is outside 1 to {BATCH_MAX}");
    }
    if args.clients == 0 || args.movements == 0 {
        anyhow::bail!("--clients and --movements must be at least 1");
    }
    Ok(())
}

/// The `q` quantile (0 to 1) of sorted durations, by the nearest rank below; zero when empty.
pub(crate) fn quantile(sorted: &[Duration], q: f64) -> Duration {
    sorted.get(((sorted.len() as f64 - 1.0) * q) as usize).copied().unwrap_or_default()
}

/// The process's peak resident memory, from /proc (Linux).
pub fn peak_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

struct Run {
    batch_size: usize,
    recorded: usize,
    accepted: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
    /// The wall time of the whole phase: generating and recording every batch.
    phase: Duration,
    /// Taking the checkpoint due after the phase (none when fewer entries than the policy's
    /// interval were written).
    checkpoint: Option<Duration>,
    /// Opening as every command does, and whether that was from a checkpoint the run took.
    reopen: Duration,
    from_checkpoint: bool,
    /// Opening with a replay from entry 1.
    reopen_full: Duration,
}

/// Where the scratch stores go.
pub(crate) enum Scratch {
    Directory(PathBuf),
    Postgres(ringfence_store::PostgresTarget),
}

impl Scratch {
    /// A fresh store named `name` (letters, digits and `_`).
    pub(crate) fn location(&self, name: &str) -> Result<Location> {
        Ok(match self {
            Scratch::Directory(dir) => Location::data_dir(&dir.join(format!("batch-{name}"))),
            Scratch::Postgres(target) => {
                let schema = format!("ringfence_bench_{}_{name}", std::process::id());
                Location::Postgres(target.create_schema(&schema).context("failed to create a scratch schema for the benchmark")?)
            }
        })
    }

    pub(crate) fn remove(&self, location: &Location) {
        if let Location::Postgres(target) = location {
            // A leftover scratch schema is named after the run; failing to drop it is harmless.
            let _ = target.drop_schema();
        }
        if let Scratch::Directory(dir) = self {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn run_one(scratch: &Scratch, batch_size: usize, count: usize, clients: u32, sign: bool) -> Result<Run> {
    let location = scratch.location(&batch_size.to_string())?;
    let result = measure(&location, batch_size, count, clients, sign);
    scratch.remove(&location);
    result
}

fn measure(location: &Location, batch_size: usize, count: usize, clients: u32, sign: bool) -> Result<Run> {
    let mut store = Store::create(location)?;
    let mut registrations = setup(clients);
    let mut signer = None;
    if sign {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|error| anyhow::anyhow!("failed to read random bytes from the operating system: {error}"))?;
        let key = std::sync::Arc::new(ringfence_store::Signer::from_seed(seed));
        let n = registrations.len();
        registrations.push(Command {
            meta: meta(n),
            action: Action::RegisterSigningKey(ringfence_core::SigningKey { public_key: key.public_key(), label: "bench".into() }),
        });
        store.set_signer(std::sync::Arc::clone(&key))?;
        signer = Some(key);
    }
    for chunk in registrations.chunks(BATCH_MAX) {
        store.submit(chunk, Timestamp::from_micros(0))?;
    }
    // Seed every client so most debits find funds.
    let seeds = seeds(clients);
    for chunk in seeds.chunks(BATCH_MAX) {
        store.submit(chunk, Timestamp::from_micros(0))?;
    }
    // Each batch is generated just before it is submitted, as traffic would arrive; only
    // `submit` (decide, journal, fsync) is timed.
    let mut accepted = 0;
    let mut latencies = Vec::with_capacity(count / batch_size + 1);
    let mut elapsed = Duration::ZERO;
    let mix = Mix::new(clients);
    let phase_started = Instant::now();
    for first in (0..count).step_by(batch_size) {
        let batch = mix.movements(first, batch_size.min(count - first), 42);
        let batch_started = Instant::now();
        let outcomes = store.submit(&batch, Timestamp::from_micros(0))?;
        let took = batch_started.elapsed();
        elapsed += took;
        latencies.push(took);
        accepted += outcomes.iter().filter(|o| o.status == Status::Accepted).count();
    }
    let phase = phase_started.elapsed();
    // The checkpoint the policy wants after this many entries, taken between batches as the
    // server does when its queue empties: timed on its own, not in the recording rate.
    let checkpoint_started = Instant::now();
    let checkpoint = store.checkpoint_if_due(Timestamp::from_micros(0))?.map(|_| checkpoint_started.elapsed());
    drop(store);
    // Opening as every command does (from the newest checkpoint, if the run took one), then
    // from entry 1.
    let reopen_started = Instant::now();
    let reopened = Store::open_with(location, signer.clone())?;
    let reopen = reopen_started.elapsed();
    let from_checkpoint = reopened.opened().checkpoint.is_some();
    drop(reopened);
    let full_started = Instant::now();
    let full = Store::open_configured(location, signer, CheckpointPolicy { full_replay: true, every: 0 })?;
    let reopen_full = full_started.elapsed();
    drop(full);
    Ok(Run { batch_size, recorded: count, accepted, elapsed, latencies, phase, checkpoint, reopen, reopen_full, from_checkpoint })
}

/// The scratch stores of this run (`--dir` or `--database-url`), announced on `out`.
pub(crate) fn scratch(cli: &Cli, args: &BenchArgs, out: &mut dyn Write) -> Result<Scratch> {
    Ok(match (&cli.database_url, &args.dir) {
        (Some(url), None) => match Location::parse_url(url)? {
            Location::Postgres(target) => {
                writeln!(
                    out,
                    "ringfence bench: PostgreSQL at {} (scratch schemas; synchronous_commit=on: one durable commit per batch)",
                    target.describe()
                )?;
                Scratch::Postgres(target)
            }
            Location::Sqlite(_) => anyhow::bail!("bench makes its own scratch SQLite stores; pass --dir DIR instead of a sqlite: URL"),
        },
        (Some(_), Some(_)) => anyhow::bail!("--dir is for the embedded store; leave it out with --database-url"),
        (None, dir) => {
            let parent = dir.clone().unwrap_or_else(std::env::temp_dir);
            let dir = parent.join(format!("ringfence-bench-{}", std::process::id()));
            std::fs::create_dir_all(&dir).with_context(|| format!("failed to create {}", dir.display()))?;
            writeln!(out, "ringfence bench: embedded SQLite store in {} (WAL, synchronous=FULL: one fsync per batch)", dir.display())?;
            Scratch::Directory(dir)
        }
    })
}

pub fn run(cli: &Cli, args: &BenchArgs, out: &mut dyn Write) -> Result<ExitCode> {
    if args.http {
        return crate::bench_http::run(cli, args, out);
    }
    if args.recon {
        return crate::bench_recon::run(args, out);
    }
    if args.chain {
        return crate::bench_chain::run(args, out);
    }
    if args.serve {
        return crate::bench_serve::run(cli, args, out);
    }
    if args.scale {
        return crate::bench_scale::run(cli, args, out);
    }
    if args.statements {
        return crate::bench_statements::run(cli, args, out);
    }
    if args.insolvency {
        return crate::bench_insolvency::run(cli, args, out);
    }
    check_sizes(args)?;
    let scratch = scratch(cli, args, out)?;
    writeln!(out, "each movement is decided by the state machine (all invariants checked), hash-chained and indexed")?;
    writeln!(out, "movements/s: recording only (Store::submit); phase/s: the whole phase's wall time, generating each batch included")?;
    if args.sign {
        writeln!(out, "every commit is signed (Ed25519); reopening checks every signature")?;
    }
    writeln!(
        out,
        "checkpoint: the register checkpoint due after the phase (every {} entries; - none due), taken between batches as the server does when idle",
        cli.checkpoint_every
    )?;
    writeln!(out, "reopen: opening the store as every command does (* from the checkpoint, then the tail); full replay: from entry 1")?;
    writeln!(
        out,
        "{:>10} {:>12} {:>12} {:>14} {:>12} {:>12} {:>12} {:>12} {:>12} {:>12}",
        "batch", "movements", "accepted", "movements/s", "phase/s", "p50 batch", "p99 batch", "checkpoint", "reopen", "full replay"
    )?;
    let mut result = Ok(());
    for &batch_size in &args.batch_sizes {
        let count = args.movements.min(batch_size * 2_000);
        match run_one(&scratch, batch_size, count, args.clients, args.sign) {
            Ok(run) => {
                let mut latencies = run.latencies.clone();
                latencies.sort();
                let pick = |q: f64| quantile(&latencies, q);
                let rate = run.recorded as f64 / run.elapsed.as_secs_f64();
                let phase_rate = run.recorded as f64 / run.phase.as_secs_f64();
                let reopen = format!("{}{:.2?}", if run.from_checkpoint { "*" } else { "" }, run.reopen);
                let checkpoint = run.checkpoint.map_or_else(|| "-".to_owned(), |took| format!("{took:.2?}"));
                writeln!(
                    out,
                    "{:>10} {:>12} {:>12} {:>14.0} {:>12.0} {:>12.2?} {:>12.2?} {:>12} {:>12} {:>12.2?}",
                    run.batch_size,
                    run.recorded,
                    run.accepted,
                    rate,
                    phase_rate,
                    pick(0.5),
                    pick(0.99),
                    checkpoint,
                    reopen,
                    run.reopen_full
                )?;
            }
            Err(error) => {
                result = Err(error);
                break;
            }
        }
        out.flush()?;
    }
    result?;
    if let Some(peak) = peak_memory_bytes() {
        writeln!(out, "peak memory (VmHWM): {:.1} MiB", peak as f64 / (1024.0 * 1024.0))?;
    }
    Ok(ExitCode::SUCCESS)
}
