//! `ringfence prices` (the price register: import a price provider's CSV file, list) and
//! `ringfence valuation` (an account's balances valued in a fiat currency): issue 17.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use ringfence_core::{Action, Actor, AssetId, Command, Currency, InstructionId, Meta, Price, Timestamp};
use ringfence_wire::clock;
use ringfence_wire::input::{DEFAULT_CURRENCY, Parsed};
use ringfence_wire::views::journal::Audience;
use ringfence_wire::views::prices::{PricesView, ValuationView};

use crate::{Cli, Recording, SubjectArgs};

#[derive(Debug, Subcommand)]
pub enum PricesCommand {
    /// Record the prices of a price provider's CSV file (see docs/prices.md). Every row is
    /// read and checked first; if any is malformed, each is listed with its line number and
    /// nothing is recorded (exit 2). A price already recorded (same asset, currency, source
    /// and instant) is answered `already_exists`, so a file can be imported again.
    Import(ImportArgs),
    /// The prices recorded, oldest instant first per asset and currency.
    List(ListArgs),
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The CSV file; `-` reads standard input. Columns by header: an instant (`at`,
    /// `instant`, `timestamp`, `date` or `snapped_at`), `price`, and `asset`, `currency`
    /// and `source` unless given below.
    pub file: PathBuf,
    /// Where the prices come from, recorded with each (for a file without a `source` column).
    #[arg(long)]
    pub source: Option<String>,
    /// The asset (CAIP-19) of every row, for a file without an `asset` column.
    #[arg(long)]
    pub asset: Option<String>,
    /// The ISO 4217 currency of every row, for a file without a `currency` column [default: EUR].
    #[arg(long)]
    pub currency: Option<String>,
    /// The actor recorded with each price.
    #[arg(long, default_value = "cli")]
    pub actor: String,
    /// Print only refused rows and the totals.
    #[arg(long)]
    pub quiet: bool,
    /// Print one JSON object per row instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this asset (CAIP-19).
    #[arg(long)]
    pub asset: Option<String>,
    /// Only this currency (ISO 4217).
    #[arg(long)]
    pub currency: Option<String>,
    /// At most this many (1 to 1000).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub limit: u32,
    /// Skip the first N (the `next_after` of the page before).
    #[arg(long, default_value_t = 0)]
    pub after: usize,
    /// Print the page as `GET /v1/prices` answers it.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ValuationArgs {
    #[command(flatten)]
    pub subject: SubjectArgs,
    /// Value the balances at this instant of effective time instead of now: RFC 3339, or a
    /// date, which means the end of that day.
    #[arg(long)]
    pub at: Option<String>,
    /// The fiat currency (ISO 4217) to value in.
    #[arg(long, default_value = "EUR")]
    pub currency: String,
    /// How old a price may be and still value a balance (days, hours, minutes or seconds:
    /// 2d, 24h, 90m); an older one leaves the asset "not valued".
    #[arg(long, env = "RINGFENCE_MAX_PRICE_AGE", default_value = "24h", value_parser = max_age)]
    pub max_price_age: i64,
    /// Print JSON (the same view as `GET /v1/valuation`) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The allowed age of a price, for clap.
pub fn max_age(text: &str) -> Result<i64, String> {
    clock::parse_age(text)
}

pub fn run(cli: &Cli, command: &PricesCommand, out: &mut dyn Write) -> Result<ExitCode> {
    match command {
        PricesCommand::Import(args) => import(cli, args, out),
        PricesCommand::List(args) => list(cli, args, out),
    }
}

fn list(cli: &Cli, args: &ListArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let asset = args.asset.as_deref().map(AssetId::parse).transpose().context("--asset")?;
    let currency = args.currency.as_deref().map(Currency::parse).transpose().map_err(anyhow::Error::msg).context("--currency")?;
    let store = crate::open_read(cli)?;
    if let Some(asset) = &asset
        && store.register().asset(asset).is_none()
    {
        bail!("asset {asset} is not registered");
    }
    let view = PricesView::of(store.register(), asset.as_ref(), currency, args.after, args.limit as usize);
    if args.json {
        writeln!(out, "{}", serde_json::to_string(&view)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    if view.prices.is_empty() {
        writeln!(out, "no prices recorded{}", if asset.is_some() || currency.is_some() { " for that asset or currency" } else { "" })?;
    }
    for price in &view.prices {
        writeln!(
            out,
            "#{:<8} {}  {:<48} {:>28}  source {:?} by {}",
            price.seq,
            price.at,
            price.asset,
            price.money,
            price.source,
            price.actor.as_deref().unwrap_or("-")
        )?;
    }
    if let Some(next) = view.next_after {
        writeln!(out, "(more: --after {next}; {} in all)", view.total)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The columns of a price file, by position.
struct Columns {
    at: usize,
    price: usize,
    asset: Option<usize>,
    currency: Option<usize>,
    source: Option<usize>,
}

impl Columns {
    fn of(header: &csv::StringRecord) -> Result<Columns> {
        let find = |names: &[&str]| header.iter().position(|name| names.contains(&name.trim().to_ascii_lowercase().as_str()));
        let at = find(&["at", "instant", "timestamp", "date", "snapped_at"])
            .context("the header names no instant column (at, instant, timestamp, date or snapped_at)")?;
        let price = find(&["price"]).context("the header names no price column")?;
        Ok(Columns { at, price, asset: find(&["asset"]), currency: find(&["currency"]), source: find(&["source"]) })
    }
}

/// An instant as price providers write it: RFC 3339, a date (its start), or
/// `2026-03-31 00:00:00 UTC` (CoinGecko's export).
fn instant(text: &str) -> Result<Timestamp, String> {
    let text = text.trim();
    match text.strip_suffix(" UTC") {
        Some(bare) => clock::parse(&format!("{}Z", bare.replacen(' ', "T", 1))),
        None => clock::parse(text),
    }
}

fn import(cli: &Cli, args: &ImportArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let now = clock::now();
    let actor = Actor::parse(&args.actor).context("--actor is not a valid actor name")?;
    let asset = args.asset.as_deref().map(AssetId::parse).transpose().context("--asset")?;
    let currency = args.currency.as_deref().map(Currency::parse).transpose().map_err(anyhow::Error::msg).context("--currency")?;
    let reader: Box<dyn std::io::Read> = if args.file.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::fs::File::open(&args.file).with_context(|| format!("failed to open {}", args.file.display()))?)
    };
    let mut csv = csv::ReaderBuilder::new().flexible(false).from_reader(reader);
    let header = csv.headers().with_context(|| format!("{}: cannot read the header line", args.file.display()))?.clone();
    let columns = Columns::of(&header).with_context(|| format!("{}: line 1", args.file.display()))?;
    if columns.asset.is_none() && asset.is_none() {
        bail!("{} has no asset column: give the asset of every row with --asset", args.file.display());
    }
    if columns.source.is_none() && args.source.is_none() {
        bail!("{} has no source column: say where the prices come from with --source", args.file.display());
    }
    let (mut parsed, mut errors) = (Vec::new(), Vec::new());
    for record in csv.records() {
        let (line, row) = match record {
            Ok(row) => (row.position().map_or(0, |p| p.line() as usize), row),
            Err(error) => {
                let line = error.position().map_or(0, |p| p.line() as usize);
                errors.push((line, format!("cannot be read: {error}")));
                continue;
            }
        };
        match row_command(&row, &columns, &actor, asset.as_ref(), currency, args.source.as_deref(), now) {
            Ok(command) => parsed.push((line, Parsed::Ready(command))),
            Err(error) => errors.push((line, error)),
        }
    }
    if parsed.is_empty() && errors.is_empty() {
        bail!("{} has no rows of prices under its header", args.file.display());
    }
    let recording = Recording { actor: &actor, batch_size: ringfence_store::BATCH_MAX, quiet: args.quiet, json: args.json };
    Ok(match crate::record_parsed(cli, &recording, parsed, &errors, now, out)? {
        Some((_, outcomes)) => crate::exit_code(&outcomes),
        None => ExitCode::from(2),
    })
}

/// The command that records one row's price; an error names what is wrong with the row.
fn row_command(
    row: &csv::StringRecord,
    columns: &Columns,
    actor: &Actor,
    asset: Option<&AssetId>,
    currency: Option<Currency>,
    source: Option<&str>,
    now: Timestamp,
) -> Result<Command, String> {
    let field = |index: usize| row.get(index).map(str::trim).unwrap_or_default();
    let at = instant(field(columns.at))?;
    if at > now {
        return Err(format!("the instant {} is in the future", clock::format(at)));
    }
    let (units, scale) = Price::parse_decimal(field(columns.price))?;
    let asset = match (columns.asset, asset) {
        (Some(index), _) => AssetId::parse(field(index)).map_err(|e| e.to_string())?,
        (None, Some(asset)) => asset.clone(),
        (None, None) => return Err("no asset".into()),
    };
    let currency = match columns.currency.map(field).filter(|cell| !cell.is_empty()) {
        Some(text) => Currency::parse(text)?,
        None => currency.unwrap_or(DEFAULT_CURRENCY),
    };
    let source = columns.source.map(field).filter(|cell| !cell.is_empty()).or(source).unwrap_or_default().to_owned();
    let price = Price { asset, currency, units, scale, source };
    if let Some(problem) = price.problem() {
        return Err(problem);
    }
    let instruction = InstructionId::parse(&ringfence_wire::input::price_instruction(&price)).map_err(|e| e.to_string())?;
    Ok(Command { meta: Meta { actor: actor.clone(), instruction, effective_at: at }, action: Action::RecordPrice(price) })
}

pub fn valuation(cli: &Cli, args: &ValuationArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let currency = Currency::parse(&args.currency).map_err(anyhow::Error::msg).context("--currency")?;
    let at = args.at.as_deref().map(clock::parse_end).transpose().map_err(anyhow::Error::msg)?;
    let store = crate::open_read(cli)?;
    let (subject, balances) = crate::balances_view(&store, &args.subject, None, at)?;
    let at = at.unwrap_or_else(clock::now);
    let view = ValuationView::of(store.register(), &balances, at, currency, args.max_price_age, u64::MAX, Audience::Staff);
    crate::report::valuation(store.register(), &subject, &view, args.json, out)?;
    Ok(ExitCode::SUCCESS)
}
