//! `ringfence bench --recon`: a reconciliation of many client positions against sub-custodian
//! statement files. The register is built in memory by applying the registrations and one
//! deposit per position to a `Register` directly (no store: journaling is not what is measured,
//! and it would take longer than the run); building it and writing the statements are not
//! timed. Timed: reading and parsing the statements, the reconciliation, rendering the report
//! as JSON and CSV and writing both.

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use ringfence_core::{
    Account, Action, Address, Amount, Asset, AuthorisationBasis, ClassKind, Client, ClientCategory, ClientId, Command, Custodian,
    IdempotencyKey, KeyScheme, KeySet, KeySetId, Register, Segregation, Status, SubCustodian, SubCustodianId, Tier, Timestamp, Wallet,
    WalletClass, WalletId, build,
};
use ringfence_recon::{Observations, Severity, Statement, reconcile, render};

use crate::bench::{BenchArgs, id, meta, peak_memory_bytes};
use crate::demo::Sample;

/// Statement files: one per sub-custodian, the wallets spread over them.
const SUB_CUSTODIANS: usize = 10;

struct Built {
    register: Register,
    /// Wallets in registration order.
    wallets: Vec<WalletId>,
    individual_clients: usize,
    clients: usize,
}

fn apply(register: &mut Register, n: &mut usize, action: Action) -> Result<()> {
    let outcome = register.apply(&Command { meta: meta(*n), action })?;
    *n += 1;
    anyhow::ensure!(outcome.status == Status::Accepted, "bench setup command {n} was refused: {outcome:?}");
    Ok(())
}

/// `positions` positions: position k is client k / 3 in asset k % 3. One client in 50 wallets'
/// worth is individually segregated, with its own EVM and BTC wallet; the rest are omnibus
/// clients spread over the omnibus wallets of the asset's chain.
fn build_register(positions: usize, wallet_count: usize) -> Result<Built> {
    let sample = Sample::new();
    let assets = [(&sample.eth, 18u8), (&sample.usdc, 6), (&sample.btc, 8)];
    let mut register = Register::new();
    let mut n = 0;
    for (asset, scale) in assets {
        apply(&mut register, &mut n, Action::RegisterAsset(Asset { id: asset.clone(), scale, symbol: String::new() }))?;
    }
    let sub_custodians: Vec<SubCustodianId> = (0..SUB_CUSTODIANS).map(|s| id(SubCustodianId::parse, &format!("sc-{s}"))).collect();
    for sub_custodian in &sub_custodians {
        apply(
            &mut register,
            &mut n,
            Action::RegisterSubCustodian(SubCustodian {
                id: sub_custodian.clone(),
                name: sub_custodian.to_string(),
                basis: AuthorisationBasis::MicaCasp,
                reference: "bench".to_owned(),
                valid_until: Timestamp::from_micros(i64::MAX),
            }),
        )?;
    }
    for (name, class) in [("ks-omnibus", ClassKind::ClientOmnibus), ("ks-individual", ClassKind::ClientIndividual)] {
        apply(
            &mut register,
            &mut n,
            Action::RegisterKeySet(KeySet {
                id: id(KeySetId::parse, name),
                scheme: KeyScheme::Multisig { threshold: 2 },
                signers: vec!["a".into(), "b".into(), "c".into()],
                class,
            }),
        )?;
    }
    let clients = positions.div_ceil(3);
    let individual_clients = (wallet_count / 50).min(clients);
    let omnibus_wallets = wallet_count - 2 * individual_clients;
    let mut wallets = Vec::with_capacity(wallet_count);
    let mut register_wallet = |register: &mut Register, n: &mut usize, evm: bool, class: WalletClass| -> Result<WalletId> {
        let w = wallets.len();
        let wallet = id(WalletId::parse, &format!("w{w}"));
        let address = if evm { format!("eip155:1:0x{w:040x}") } else { format!("bip122:000000000019d6689c085ae165831e93:bc1qw{w}") };
        let key_set = if matches!(class, WalletClass::ClientIndividual(_)) { "ks-individual" } else { "ks-omnibus" };
        apply(
            register,
            n,
            Action::RegisterWallet(Wallet {
                id: wallet.clone(),
                address: id(Address::parse, &address),
                class,
                tier: Tier::Cold,
                custodian: Custodian::SubCustodian(sub_custodians[w % SUB_CUSTODIANS].clone()),
                key_set: id(KeySetId::parse, key_set),
            }),
        )?;
        wallets.push(wallet.clone());
        Ok(wallet)
    };
    let mut omnibus_evm = Vec::new();
    let mut omnibus_btc = Vec::new();
    for w in 0..omnibus_wallets {
        let evm = w % 2 == 0;
        let wallet = register_wallet(&mut register, &mut n, evm, WalletClass::ClientOmnibus)?;
        if evm { omnibus_evm.push(wallet) } else { omnibus_btc.push(wallet) }
    }
    let client_ids: Vec<ClientId> = (0..clients).map(|c| id(ClientId::parse, &format!("c{c}"))).collect();
    let mut individual_wallets = Vec::with_capacity(individual_clients);
    for (c, client) in client_ids.iter().enumerate() {
        let individual = c < individual_clients;
        let segregation = if individual { Segregation::Individual } else { Segregation::Omnibus };
        apply(&mut register, &mut n, Action::RegisterClient(Client { id: client.clone(), category: ClientCategory::Retail, segregation }))?;
        if individual {
            let evm = register_wallet(&mut register, &mut n, true, WalletClass::ClientIndividual(client.clone()))?;
            let btc = register_wallet(&mut register, &mut n, false, WalletClass::ClientIndividual(client.clone()))?;
            individual_wallets.push((evm, btc));
        }
    }
    anyhow::ensure!(!omnibus_evm.is_empty() && !omnibus_btc.is_empty(), "--wallets must leave at least two omnibus wallets");
    for k in 0..positions {
        let (c, a) = (k / 3, k % 3);
        let asset = assets[a].0;
        let wallet = match individual_wallets.get(c) {
            Some((evm, btc)) => {
                if a == 2 {
                    btc
                } else {
                    evm
                }
            }
            None if a == 2 => &omnibus_btc[c % omnibus_btc.len()],
            None => &omnibus_evm[c % omnibus_evm.len()],
        };
        let amount = Amount::new(1_000 + (k as u128 * 7_919) % 1_000_000);
        let key = id(IdempotencyKey::parse, &format!("p{k}"));
        apply(&mut register, &mut n, Action::Movement(build::deposit(key, &client_ids[c], wallet, asset, amount)))?;
    }
    Ok(Built { register, wallets, individual_clients, clients })
}

/// One statement per sub-custodian stating exactly the register's holdings; even-numbered
/// sub-custodians as CSV, odd-numbered as JSON Lines.
fn write_statements(built: &Built, dir: &std::path::Path) -> Result<Vec<std::path::PathBuf>> {
    let mut texts: Vec<String> = (0..SUB_CUSTODIANS)
        .map(|s| {
            if s % 2 == 0 {
                format!("# sub_custodian=sc-{s} cut_off=2026-11-24T00:00:00Z reference=BENCH-{s}\nwallet,asset,balance\n")
            } else {
                format!("{{\"type\":\"statement\",\"sub_custodian\":\"sc-{s}\",\"cut_off\":\"2026-11-24T00:00:00Z\",\"reference\":\"BENCH-{s}\"}}\n")
            }
        })
        .collect();
    for (w, wallet) in built.wallets.iter().enumerate() {
        let s = w % SUB_CUSTODIANS;
        for (asset, balance) in built.register.balances_of(&Account::Holding(wallet.clone())).unwrap_or_default() {
            let line = if s % 2 == 0 {
                format!("{wallet},{asset},{balance}\n")
            } else {
                format!("{{\"type\":\"balance\",\"wallet\":\"{wallet}\",\"asset\":\"{asset}\",\"balance\":\"{balance}\"}}\n")
            };
            texts[s].push_str(&line);
        }
    }
    let mut paths = Vec::with_capacity(SUB_CUSTODIANS);
    for (s, text) in texts.iter().enumerate() {
        let path = dir.join(if s % 2 == 0 { format!("sc-{s}.csv") } else { format!("sc-{s}.jsonl") });
        std::fs::write(&path, text).with_context(|| format!("failed to write {}", path.display()))?;
        paths.push(path);
    }
    Ok(paths)
}

pub fn run(args: &BenchArgs, out: &mut dyn Write) -> Result<ExitCode> {
    if args.positions == 0 || args.wallets < 2 {
        anyhow::bail!("--positions must be at least 1 and --wallets at least 2");
    }
    let parent = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let dir = parent.join(format!("ringfence-bench-recon-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("failed to create {}", dir.display()))?;
    let result = measure(args, &dir, out);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn measure(args: &BenchArgs, dir: &std::path::Path, out: &mut dyn Write) -> Result<ExitCode> {
    writeln!(out, "ringfence bench --recon: statements in {}", dir.display())?;
    let started = Instant::now();
    let built = build_register(args.positions, args.wallets)?;
    let paths = write_statements(&built, dir)?;
    let setup = started.elapsed();
    let assets = built.register.assets().count();
    writeln!(
        out,
        "register built in memory (not timed, {:.2?}): {} positions of {} clients ({} individually segregated), {} wallets at {} sub-custodians, {} assets",
        setup,
        args.positions,
        built.clients,
        built.individual_clients,
        built.wallets.len(),
        SUB_CUSTODIANS,
        assets
    )?;

    let phase = Instant::now();
    let mut observations = Observations::new();
    let mut rows = 0;
    for path in &paths {
        let statement = Statement::read(path, &built.register)?;
        rows += statement.balances.len();
        observations.add_statement(&statement, &built.register)?;
    }
    let parse = phase.elapsed();

    let phase = Instant::now();
    let report = reconcile(&built.register, &observations);
    let reconcile_time = phase.elapsed();

    let phase = Instant::now();
    let json = render::to_json(&report);
    let csv = render::to_csv(&report);
    std::fs::write(dir.join("report.json"), &json).context("failed to write the JSON report")?;
    std::fs::write(dir.join("report.csv"), &csv).context("failed to write the CSV report")?;
    let render_time = phase.elapsed();

    let total: Duration = parse + reconcile_time + render_time;
    writeln!(out, "{:<34} {:>10}", "phase", "seconds")?;
    writeln!(out, "{:<34} {:>10.3}", format!("parse {} statements ({rows} rows)", paths.len()), parse.as_secs_f64())?;
    writeln!(out, "{:<34} {:>10.3}", format!("reconcile ({} observations)", observations.len()), reconcile_time.as_secs_f64())?;
    writeln!(
        out,
        "{:<34} {:>10.3}",
        format!("render JSON {} KiB + CSV {} KiB", json.len() / 1024, csv.len() / 1024),
        render_time.as_secs_f64()
    )?;
    writeln!(out, "{:<34} {:>10.3}", "total", total.as_secs_f64())?;
    writeln!(
        out,
        "findings: {} (info {}, warning {}, critical {})",
        report.findings.len(),
        report.count(Severity::Info),
        report.count(Severity::Warning),
        report.count(Severity::Critical)
    )?;
    if let Some(peak) = peak_memory_bytes() {
        writeln!(out, "peak memory (VmHWM): {:.1} MiB", peak as f64 / (1024.0 * 1024.0))?;
    }
    Ok(ExitCode::SUCCESS)
}
