//! `ringfence loss share`: a loss from a client wallet (MiCA Art 75(8)) shared among the
//! clients its pool backs, pro rata to their positions at the instant of the loss, written as
//! `loss` movement lines to review and import (four-eyes control applies to them as to any
//! loss), with the loss's value at that instant from the price register (issue 18;
//! docs/insolvency.md).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use ringfence_core::{Account, Amount, AssetId, Currency, IdempotencyKey, Segregation, WalletClass, WalletId};
use ringfence_wire::clock;

use crate::Cli;

#[derive(Debug, Subcommand)]
pub enum LossCommand {
    /// Share a loss from a client wallet among the clients its pool backs (the omnibus clients
    /// of the asset, or the wallet's own client), pro rata to their positions at the instant
    /// of the loss (largest remainders, exact), and write the `loss` movement lines to import.
    Share(ShareArgs),
}

#[derive(Debug, Args)]
pub struct ShareArgs {
    /// The client-class wallet the assets were lost from.
    #[arg(long)]
    pub wallet: String,
    /// The asset lost (CAIP-19).
    #[arg(long)]
    pub asset: String,
    /// How much was lost, in the asset's smallest unit.
    #[arg(long)]
    pub amount: String,
    /// When the loss occurred (RFC 3339, or a date: the end of that day); not after now. The
    /// movements take effect then.
    #[arg(long)]
    pub at: String,
    /// The movements' key (with -1, -2… when the clients need more than one movement).
    #[arg(long)]
    pub key: String,
    /// Write the lines to this file instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The fiat currency (ISO 4217) the loss is valued in.
    #[arg(long, default_value = "EUR")]
    pub currency: String,
    /// How old a price may be and still value the loss (2d, 24h, 90m).
    #[arg(long, default_value = "24h", value_parser = crate::prices::max_age)]
    pub max_price_age: i64,
}

/// Clients per movement: every movement also carries the wallet's credit.
const CLIENTS_PER_MOVEMENT: usize = ringfence_core::POSTINGS_MAX - 1;

pub fn run(cli: &Cli, command: &LossCommand, out: &mut dyn Write) -> Result<ExitCode> {
    match command {
        LossCommand::Share(args) => share(cli, args, out),
    }
}

fn share(cli: &Cli, args: &ShareArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let at = clock::parse_end(&args.at).map_err(anyhow::Error::msg).context("--at")?;
    if at > clock::now() {
        bail!("--at: the loss at {} is after now: record a loss that occurred", clock::format(at));
    }
    let wallet_id = WalletId::parse(&args.wallet).map_err(|e| anyhow::anyhow!("--wallet: {e}"))?;
    let asset_id = AssetId::parse(&args.asset).map_err(|e| anyhow::anyhow!("--asset: {e}"))?;
    let amount = Amount::parse(&args.amount).map_err(|e| anyhow::anyhow!("--amount: {e}"))?.units();
    if amount == 0 {
        bail!("--amount: a loss of 0 is no loss");
    }
    let key = IdempotencyKey::parse(&args.key).map_err(|e| anyhow::anyhow!("--key: {e}"))?;
    let currency = Currency::parse(&args.currency).map_err(anyhow::Error::msg).context("--currency")?;
    let store = crate::open_read(cli)?;
    let register = store.register();
    let Some(asset) = register.asset(&asset_id) else { bail!("--asset: asset {asset_id} is not registered") };
    let Some(wallet) = register.wallet(&wallet_id) else { bail!("--wallet: wallet {wallet_id} is not registered") };
    let held = store.balance_at(&Account::Holding(wallet_id.clone()), &asset_id, at)?;
    let held = if held.negative { 0 } else { held.amount.units() };
    if amount > held {
        bail!(
            "--amount: wallet {wallet_id} held {} of {asset_id} at {}; a loss of {amount} is larger than what it held",
            held,
            clock::format(at)
        );
    }
    // The clients the wallet's pool backs, with their positions at the instant.
    let mut clients: Vec<_> = match &wallet.class {
        WalletClass::Firm => bail!("--wallet: {wallet_id} is a firm wallet: a loss of the firm's own assets is not the clients'"),
        WalletClass::ClientIndividual(client) => register.client(client).into_iter().collect(),
        WalletClass::ClientOmnibus => register.clients().filter(|c| c.segregation == Segregation::Omnibus).collect(),
    };
    clients.sort_by(|a, b| a.id.cmp(&b.id));
    let mut owed = Vec::new();
    for client in clients {
        let position = store.balance_at(&Account::Position(client.id.clone()), &asset_id, at)?;
        if !position.negative && !position.amount.is_zero() {
            owed.push((client.id.clone(), position.amount.units()));
        }
    }
    let total: u128 = owed.iter().map(|(_, units)| *units).sum();
    if total < amount {
        bail!(
            "--amount: the clients of wallet {wallet_id}'s pool held {total} of {asset_id} at {}; a loss of {amount} is more than they held",
            clock::format(at)
        );
    }
    let positions: Vec<u128> = owed.iter().map(|(_, units)| *units).collect();
    let Some(shares) = ringfence_core::prorata::shares(amount, &positions) else { bail!("the positions do not fit in 128 bits") };
    let parts: Vec<(&ringfence_core::ClientId, u128)> =
        owed.iter().zip(&shares).filter(|(_, share)| **share > 0).map(|((client, _), share)| (client, *share)).collect();
    // Every line must apply to the register as it is now (each is decided on its own): a
    // client who withdrew since, or whose assets are encumbered, would leave the loss half
    // recorded.
    let now_held = register.balance(&Account::Holding(wallet_id.clone()), &asset_id).map_or(0, Amount::units);
    if now_held < amount {
        bail!("--amount: wallet {wallet_id} holds {now_held} of {asset_id} now; a loss of {amount} recorded now would take it below zero");
    }
    for (client, share) in &parts {
        let position = register.balance(&Account::Position((*client).clone()), &asset_id).map_or(0, Amount::units);
        let free = position.saturating_sub(register.encumbered(client, &asset_id));
        if free < *share {
            bail!(
                "client {client}'s part of the loss is {share} of {asset_id}, but its free position now is {free} (position {position}, the rest encumbered): release the encumbrance or share the loss by hand with a movement line"
            );
        }
    }
    let chunks: Vec<_> = parts.chunks(CLIENTS_PER_MOVEMENT).collect();
    if chunks.len() > 1 {
        IdempotencyKey::parse(&format!("{key}-{}", chunks.len()))
            .map_err(|e| anyhow::anyhow!("--key: with -{} appended: {e}", chunks.len()))?;
    }
    let mut lines = String::new();
    for (number, chunk) in chunks.iter().enumerate() {
        let key = if chunks.len() == 1 { key.as_str().to_owned() } else { format!("{key}-{}", number + 1) };
        let mut postings: Vec<serde_json::Value> = chunk
            .iter()
            .map(|(client, share)| {
                serde_json::json!({"side": "debit", "account": format!("position:{client}"), "asset": asset_id.as_str(), "amount": share.to_string()})
            })
            .collect();
        let sum: u128 = chunk.iter().map(|(_, share)| *share).sum();
        postings.push(serde_json::json!({"side": "credit", "account": format!("holding:{wallet_id}"), "asset": asset_id.as_str(), "amount": sum.to_string()}));
        let line =
            serde_json::json!({"type": "movement", "key": key, "kind": "loss", "postings": postings, "effective_at": clock::format(at)});
        lines.push_str(&line.to_string());
        lines.push('\n');
    }
    match &args.out {
        Some(path) => std::fs::write(path, &lines).with_context(|| format!("cannot write {}", path.display()))?,
        None => out.write_all(lines.as_bytes())?,
    }
    let value = match register.price_at(&asset_id, currency, at, args.max_price_age) {
        Ok(record) => match ringfence_core::price::value(amount, asset.scale, &record.price) {
            Some(minor) => format!(
                "{} at {} {} per {} ({}, {})",
                currency.money(minor),
                currency.as_str(),
                record.price.decimal(),
                if asset.symbol.is_empty() { asset_id.as_str() } else { asset.symbol.as_str() },
                record.price.source,
                clock::format(record.at)
            ),
            None => format!("not valued: {}", ringfence_core::price::NotValued::TooLarge),
        },
        Err(why) => format!("not valued: {why}"),
    };
    eprintln!(
        "loss of {} {} from {wallet_id} at {} shared among {} client(s) holding {} at the instant ({} movement line(s){}); valued {value}",
        Amount::new(amount).to_decimal(asset.scale),
        if asset.symbol.is_empty() { asset_id.as_str() } else { asset.symbol.as_str() },
        clock::format(at),
        parts.len(),
        Amount::new(total).to_decimal(asset.scale),
        chunks.len(),
        args.out.as_ref().map(|path| format!(" in {}", path.display())).unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}
