//! The insolvency pack (issue 18): what an administrator needs on the day, at a cut-off of
//! effective time `at`, from the journal up to the entry the store is at. Each client's
//! entitlement per asset and the pool that backs it (the omnibus pool of that asset, or the
//! client's own wallets when it is individually segregated), what each pool's wallets hold and
//! who holds the means of access, what the last reconciliation at or before the cut-off read,
//! and how a pool's shortfall is shared: pro rata to the entitlements, rounded down in the
//! smallest unit, the units left over to the largest remainders (`ringfence_core::prorata`),
//! the rest of each entitlement a claim against the estate. With the open exceptions and the
//! reconciliations of the 90 days before the cut-off, and a manifest of every file's SHA-256.
//! The same store up to the same entry and the same cut-off give the same bytes.

use std::collections::{BTreeMap, HashMap};

use ringfence_core::oversight::ExceptionState;
use ringfence_core::{
    Account, Action, Amount, ClientId, Custodian, KeyScheme, MovementKind, Net, PendingState, RunRecord, RunSource, Segregation, Side,
    Tier, Timestamp, WalletClass,
};
use ringfence_store::Store;
use ringfence_wire::clock;

use crate::ReportError;

/// The pack's format, written in its manifest.
pub const PACK_FORMAT: &str = "ringfence insolvency pack 1";

/// The largest reconciliation report read (a run over a million wallets writes a few hundred
/// MiB).
pub const REPORT_BYTES_MAX: u64 = 2 << 30;

/// How far back the pack lists reconciliation runs.
const RECON_DAYS: i64 = 90;

/// One file of the pack: its name and bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackFile {
    pub name: &'static str,
    pub bytes: Vec<u8>,
}

/// The pack: its files, the manifest last (its SHA-256 is the pack's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pack {
    pub files: Vec<PackFile>,
    /// Client positions listed, pools, and the pools short.
    pub positions: usize,
    pub pools: usize,
    pub short: usize,
}

/// What one reconciliation run observed in each wallet at its cut-off, by (wallet, asset), from
/// its full report, whose SHA-256 the journal holds.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Observed {
    pub run: u64,
    /// What the run observed, and the register's figure it compared it with (as the register
    /// was when the run was made).
    pub by_wallet: HashMap<(String, String), (u128, Option<u128>)>,
}

impl Observed {
    /// The observations in `bytes`, the JSON report of `run`: refused unless its SHA-256 is
    /// the one the journal recorded for the run.
    pub fn from_report(run: &RunRecord, bytes: &[u8]) -> Result<Observed, ReportError> {
        let digest = crate::sha256_hex(bytes);
        let recorded = ringfence_journal::hex(&run.run.report_sha256);
        if digest != recorded {
            return Err(ReportError::Invalid(format!(
                "the report given has SHA-256 {digest}, not the {recorded} run {} recorded: it is not that run's report",
                run.id
            )));
        }
        let report: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| ReportError::Invalid(format!("the report of run {} is not JSON: {e}", run.id)))?;
        let mut by_wallet = HashMap::new();
        for finding in report["findings"].as_array().map(Vec::as_slice).unwrap_or_default() {
            if finding["check"] != "wallet" {
                continue;
            }
            let (Some(wallet), Some(asset), Some(observed)) =
                (finding["wallet"].as_str(), finding["asset"].as_str(), finding["observed"].as_str())
            else {
                continue;
            };
            let units = observed
                .parse::<u128>()
                .map_err(|_| ReportError::Invalid(format!("the report of run {} observes {observed:?} in {wallet}", run.id)))?;
            let register = finding["register"].as_str().and_then(|text| text.parse::<u128>().ok());
            by_wallet.insert((wallet.to_owned(), asset.to_owned()), (units, register));
        }
        Ok(Observed { run: run.id, by_wallet })
    }
}

/// The observations of `run` from its report kept in `dir` (as `report-<sha256>.json`, where
/// reconciliation runs keep them); `None` when it is not there.
pub fn kept_observations(dir: Option<&std::path::Path>, run: &RunRecord) -> Result<Option<Observed>, ReportError> {
    let Some(dir) = dir else { return Ok(None) };
    let path = dir.join(format!("report-{}.json", ringfence_journal::hex(&run.run.report_sha256)));
    match ringfence_wire::files::read_regular(&path, REPORT_BYTES_MAX) {
        Ok(bytes) => Observed::from_report(run, &bytes)
            .map(Some)
            .map_err(|e| ReportError::Invalid(format!("the kept report {}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ReportError::Invalid(format!("cannot read the kept report {}: {e}", path.display()))),
    }
}

/// What to do when the report of a run the pack needs is not at hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingReport {
    /// Refuse: without it a shortfall that run saw would not show.
    Refuse,
    /// Pass over that run: the wallets no other run observed count at the register's figure,
    /// and the manifest names the runs passed over.
    RegisterHoldings,
}

/// Gives the observations of a run from its report, `None` when the report is not at hand.
pub type Reports<'a> = dyn FnMut(&RunRecord) -> Result<Option<Observed>, ReportError> + 'a;

/// The reconciliation runs the pack may take observations from: a cut-off at or before `at`
/// and within the 90 days before it, the latest first (of two at one cut-off, the one
/// recorded later first).
pub fn candidate_runs(register: &ringfence_core::Register, at: Timestamp) -> Vec<&RunRecord> {
    let since = since(at);
    let mut runs: Vec<&RunRecord> =
        register.recon_runs().iter().filter(|record| record.run.cut_off <= at && record.run.cut_off > since).collect();
    runs.sort_by_key(|record| std::cmp::Reverse((record.run.cut_off, record.id)));
    runs
}

fn since(at: Timestamp) -> Timestamp {
    Timestamp::from_micros(at.micros().saturating_sub(RECON_DAYS * 86_400_000_000))
}

/// What a wallet holds at the pack's cut-off from what a run observed at its own: `observed`
/// plus the register's movements of the wallet in between (`now` − `then`), not below zero.
fn roll_forward(observed: u128, now: Net, then: Net) -> u128 {
    let part = |net: Net, negative: bool| if net.negative == negative { net.amount.units() } else { 0 };
    let up = observed.saturating_add(part(now, false)).saturating_add(part(then, true));
    let down = part(now, true).saturating_add(part(then, false));
    up.saturating_sub(down)
}

/// A signed balance in the smallest unit, as text (`-5` for a negative one).
fn signed(net: Net) -> String {
    if net.negative && !net.amount.is_zero() { format!("-{}", net.amount.units()) } else { net.amount.units().to_string() }
}

fn decimal(units: u128, scale: u8) -> String {
    Amount::new(units).to_decimal(scale)
}

/// A CSV file written row by row as the pack is made (a million rows are not held twice).
struct Table {
    out: csv::Writer<Vec<u8>>,
    rows: usize,
}

fn csv_error(e: impl std::fmt::Display) -> ReportError {
    ReportError::Invalid(format!("the CSV could not be written: {e}"))
}

impl Table {
    fn new(header: &[&str]) -> Result<Table, ReportError> {
        let mut out = csv::Writer::from_writer(Vec::new());
        out.write_record(header).map_err(csv_error)?;
        Ok(Table { out, rows: 0 })
    }

    fn row(&mut self, cells: Vec<String>) -> Result<(), ReportError> {
        self.rows += 1;
        crate::write_row(&mut self.out, &cells).map_err(csv_error)
    }

    fn finish(self) -> Result<Vec<u8>, ReportError> {
        self.out.into_inner().map_err(csv_error)
    }
}

fn csv_bytes(header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> Result<Vec<u8>, ReportError> {
    let mut table = Table::new(header)?;
    for row in rows {
        table.row(row)?;
    }
    table.finish()
}

/// The pool a client's position in an asset is backed by.
fn client_pool(client: &ClientId, segregation: Segregation) -> String {
    match segregation {
        Segregation::Omnibus => "omnibus".into(),
        Segregation::Individual => format!("individual:{client}"),
    }
}

/// The pack at cut-off `at` (which must not be after `now`), from `store` as it is. Each
/// wallet of a client pool counts what the latest run of the 90 days to `at` that observed it
/// saw, rolled forward to `at` by the register's movements of the wallet since that run's
/// cut-off; the register's figure where no run observed it. `reports` gives a run's
/// observations; runs are read latest first until every wallet holding something is observed,
/// and a run whose report is not at hand is refused or passed over as `missing` says.
pub fn pack(store: &Store, at: Timestamp, now: Timestamp, reports: &mut Reports<'_>, missing: MissingReport) -> Result<Pack, ReportError> {
    if at > now {
        return Err(ReportError::Invalid(format!(
            "the cut-off {} is after now ({}): a pack shows what was, not what may be",
            clock::format(at),
            clock::format(now)
        )));
    }
    let register = store.register();
    let head = store.head();
    let balances = store.all_balances_at(at)?;
    let balance = |account: &Account, asset: u32| -> Net {
        register.log_slot(account).and_then(|slot| balances.get(&(slot, asset)).copied()).unwrap_or_default()
    };
    let assets: Vec<_> = register.assets().cloned().collect();

    // Withdrawals awaiting approval (four eyes) effective by the cut-off, per client and asset:
    // what each would take from the position.
    let mut pending: HashMap<(ClientId, ringfence_core::AssetId), u128> = HashMap::new();
    for instruction in register.pendings().filter(|p| matches!(p.state, PendingState::Open) && p.command.meta.effective_at <= at) {
        if let Action::Movement(movement) = &instruction.command.action
            && movement.kind == MovementKind::Withdrawal
        {
            for posting in &movement.postings {
                if let (Account::Position(client), Side::Debit) = (&posting.account, posting.side) {
                    let sum = pending.entry((client.clone(), posting.asset.clone())).or_default();
                    *sum = sum.saturating_add(posting.amount.units());
                }
            }
        }
    }

    // Entitlements, by (asset, pool), each client's in client id order.
    let mut clients: Vec<_> = register.clients().collect();
    clients.sort_by(|a, b| a.id.cmp(&b.id));
    let mut entitled: BTreeMap<(usize, String), Vec<(ClientId, u128)>> = BTreeMap::new();
    // Negative positions (only backdated movements make them): what those clients owe the pool.
    let mut owed_to_pool: HashMap<(usize, String), u128> = HashMap::new();
    let mut position_rows = Table::new(&[
        "client",
        "asset",
        "pool",
        "entitlement",
        "entitlement_decimal",
        "encumbered",
        "encumbered_under",
        "pending_withdrawals",
        "uncompensated_loss",
        "basis",
    ])?;
    // What the firm owes each client for losses of its assets not compensated by the cut-off
    // (Art 75(8)): a claim on the firm, beside the client's share of its pool.
    let mut lost: HashMap<(&ClientId, &ringfence_core::AssetId), (u128, u128)> = HashMap::new();
    for event in register.loss_events().iter().filter(|e| e.seq <= head.seq && e.effective_at <= at) {
        let (owed, paid) = lost.entry((&event.client, &event.asset)).or_default();
        if event.owed { *owed = owed.saturating_add(event.amount) } else { *paid = paid.saturating_add(event.amount) }
    }
    for client in &clients {
        let account = Account::Position(client.id.clone());
        let encumbered = crate::statement::encumbered_at(store, &client.id, at, head.seq)?;
        for (number, asset) in assets.iter().enumerate() {
            let net = balance(&account, number as u32);
            let uncompensated = lost.get(&(&client.id, &asset.id)).map_or(0, |(owed, paid)| owed.saturating_sub(*paid));
            if net.amount.is_zero() && uncompensated == 0 {
                continue;
            }
            let pool = client_pool(&client.id, client.segregation);
            let entitlement = if net.negative { 0 } else { net.amount.units() };
            let held: Vec<(&(String, String), &u128)> = encumbered.get(&asset.id).map(|m| m.iter().collect()).unwrap_or_default();
            let encumbered_units: u128 = held.iter().map(|(_, amount)| **amount).sum();
            let under: Vec<String> = held.iter().map(|((instruction, purpose), _)| format!("{instruction} ({purpose})")).collect();
            position_rows.row(vec![
                client.id.as_str().to_owned(),
                asset.id.as_str().to_owned(),
                pool.clone(),
                signed(net),
                if net.negative { format!("-{}", decimal(net.amount.units(), asset.scale)) } else { decimal(entitlement, asset.scale) },
                encumbered_units.to_string(),
                under.join("; "),
                pending.get(&(client.id.clone(), asset.id.clone())).copied().unwrap_or(0).to_string(),
                uncompensated.to_string(),
                "custody".to_owned(),
            ])?;
            if entitlement > 0 {
                entitled.entry((number, pool)).or_default().push((client.id.clone(), entitlement));
            } else {
                let debt = owed_to_pool.entry((number, pool)).or_default();
                *debt = debt.saturating_add(net.amount.units());
            }
        }
    }

    // What the wallets of client pools held: the latest observation of each, rolled forward.
    let mut wallets: Vec<_> = register.wallets().collect();
    wallets.sort_by(|a, b| a.id.cmp(&b.id));
    let mut unobserved: std::collections::BTreeSet<(String, String)> = std::collections::BTreeSet::new();
    for wallet in wallets.iter().filter(|wallet| wallet.class != WalletClass::Firm) {
        for (number, asset) in assets.iter().enumerate() {
            if !balance(&Account::Holding(wallet.id.clone()), number as u32).amount.is_zero() {
                unobserved.insert((wallet.id.as_str().to_owned(), asset.id.as_str().to_owned()));
            }
        }
    }
    let candidates = candidate_runs(register, at);
    let mut read: Vec<(&RunRecord, Observed)> = Vec::new();
    let mut passed_over: Vec<u64> = Vec::new();
    for run in &candidates {
        if unobserved.is_empty() {
            break;
        }
        match reports(run)? {
            Some(observed) => {
                unobserved.retain(|key| !observed.by_wallet.contains_key(key));
                read.push((run, observed));
            }
            None if missing == MissingReport::RegisterHoldings => passed_over.push(run.id),
            None => {
                return Err(ReportError::Invalid(format!(
                    "the report of reconciliation run {} (cut-off {}) is not at hand, and it may be the latest to have observed a wallet of a client pool ({} not observed by a later run): without it a shortfall it saw would not show",
                    run.id,
                    clock::format(run.run.cut_off),
                    unobserved.len()
                )));
            }
        }
    }
    // The latest observation of a wallet in an asset: the run, what it saw, and that rolled
    // forward to the cut-off.
    let latest = |wallet: &ringfence_core::WalletId, asset: &ringfence_core::AssetId| -> Option<(&RunRecord, (u128, Option<u128>))> {
        let key = (wallet.as_str().to_owned(), asset.as_str().to_owned());
        read.iter().find_map(|(run, observed)| observed.by_wallet.get(&key).map(|seen| (*run, *seen)))
    };
    let runs: Vec<&RunRecord> = candidates.clone();
    let last_run = candidates.first().copied();
    // Per pool: what its wallets hold (observed where the run observed them), and how many
    // wallets were counted at the register's figure.
    let mut held: BTreeMap<(usize, String), (u128, usize, std::collections::BTreeSet<u64>)> = BTreeMap::new();
    let mut holding_rows = Table::new(&[
        "pool",
        "asset",
        "wallet",
        "address",
        "tier",
        "custodian",
        "means_of_access",
        "holding",
        "holding_decimal",
        "observed",
        "recorded_since_run",
        "rolled_forward",
        "last_reconciliation",
        "reconciliation_source",
        "reconciliation_breaks",
    ])?;
    let mut used: std::collections::BTreeSet<u64> = std::collections::BTreeSet::new();
    for wallet in &wallets {
        let pool = match &wallet.class {
            WalletClass::ClientOmnibus => "omnibus".to_owned(),
            WalletClass::ClientIndividual(client) => format!("individual:{client}"),
            WalletClass::Firm => "firm".to_owned(),
        };
        let account = Account::Holding(wallet.id.clone());
        let custodian = match &wallet.custodian {
            Custodian::InHouse => "in house".to_owned(),
            Custodian::SubCustodian(id) => {
                let name = register.sub_custodians().find(|s| &s.id == id).map_or_else(|| id.to_string(), |s| s.name.clone());
                format!("sub-custodian {id} ({name})")
            }
        };
        let source = |run: Option<&RunRecord>| match &wallet.custodian {
            Custodian::InHouse => chain_source(run, wallet.address.as_str()),
            Custodian::SubCustodian(id) => statement_source(run, id.as_str()),
        };
        let access = match register.key_sets().find(|k| k.id == wallet.key_set) {
            Some(key_set) => {
                let scheme = match key_set.scheme {
                    KeyScheme::Multisig { threshold } => format!("multisig {threshold} of {}", key_set.signers.len()),
                    KeyScheme::Mpc { threshold } => format!("mpc {threshold} of {}", key_set.signers.len()),
                    KeyScheme::Hsm => "hsm".to_owned(),
                };
                format!("{} ({scheme}: {})", key_set.id, key_set.signers.join(", "))
            }
            None => wallet.key_set.to_string(),
        };
        for (number, asset) in assets.iter().enumerate() {
            let net = balance(&account, number as u32);
            if net.amount.is_zero() {
                continue;
            }
            let observation = latest(&wallet.id, &asset.id);
            let seen = observation.map(|(run, (units, _))| (run, units));
            // From when the observation counts: the block the chain was read at (confirmations
            // before the run's cut-off), or the statement's cut-off (the run's).
            let (mut rolled, mut since_run) = (None, None);
            if let Some((run, (units, register_then))) = observation {
                used.insert(run.id);
                let read_at = match &wallet.custodian {
                    Custodian::InHouse => block_time(run, wallet.address.as_str()).unwrap_or(run.run.cut_off),
                    Custodian::SubCustodian(_) => run.run.cut_off,
                };
                let forward = roll_forward(units, net, store.balance_at(&account, &asset.id, read_at)?);
                // Movements recorded after the run but effective before its cut-off: the
                // register at the cut-off today against what the run compared with. What they
                // took out is not counted as held (the observation may not reflect it).
                let today = store.balance_at(&account, &asset.id, run.run.cut_off)?;
                let (taken, shown) = match register_then {
                    Some(then) => {
                        let today_units = if today.negative { 0 } else { today.amount.units() };
                        let shown = if today_units >= then { (today_units - then).to_string() } else { format!("-{}", then - today_units) };
                        (then.saturating_sub(today_units), Some(shown))
                    }
                    None => (0, None),
                };
                rolled = Some(forward.saturating_sub(taken));
                since_run = shown;
            }
            // The run that last observed the wallet, else the latest of the 90 days.
            let run = seen.map(|(run, _)| run).or(last_run);
            // A run's wallet breaks are about `wallet:<asset>:<wallet>`.
            let breaks = run.map_or_else(String::new, |record| {
                let subject = format!("wallet:{}:{}", asset.id, wallet.id);
                record
                    .run
                    .breaks
                    .iter()
                    .filter(|b| b.subject == subject)
                    .map(|b| format!("{}: {}", b.kind.code(), b.detail))
                    .collect::<Vec<_>>()
                    .join("; ")
            });
            if wallet.class != WalletClass::Firm {
                let (sum, from_register, by_runs) = held.entry((number, pool.clone())).or_default();
                let counted = match (rolled, seen) {
                    (Some(units), Some((run, _))) => {
                        by_runs.insert(run.id);
                        units
                    }
                    _ => {
                        *from_register += 1;
                        if net.negative { 0 } else { net.amount.units() }
                    }
                };
                *sum = sum.saturating_add(counted);
            }
            holding_rows.row(vec![
                pool.clone(),
                asset.id.as_str().to_owned(),
                wallet.id.as_str().to_owned(),
                wallet.address.as_str().to_owned(),
                match wallet.tier {
                    Tier::Hot => "hot".to_owned(),
                    Tier::Cold => "cold".to_owned(),
                },
                custodian.clone(),
                access.clone(),
                signed(net),
                if net.negative {
                    format!("-{}", decimal(net.amount.units(), asset.scale))
                } else {
                    decimal(net.amount.units(), asset.scale)
                },
                seen.map_or_else(String::new, |(_, units)| units.to_string()),
                since_run.unwrap_or_default(),
                rolled.map_or_else(String::new, |units| units.to_string()),
                match (seen, last_run) {
                    (Some((r, _)), _) => format!("run {} (cut-off {})", r.id, clock::format(r.run.cut_off)),
                    (None, Some(r)) => format!("not observed; latest run {} (cut-off {})", r.id, clock::format(r.run.cut_off)),
                    (None, None) => "none in the 90 days to the cut-off".to_owned(),
                },
                source(run),
                breaks,
            ])?;
        }
    }

    // Shortfalls: per client pool and asset with entitlements.
    let mut shortfall_rows = Table::new(&[
        "asset",
        "pool",
        "client",
        "entitlement",
        "holdings",
        "share",
        "residual_claim",
        "share_percent",
        "surplus",
        "owed_by_clients",
        "holdings_from",
    ])?;
    let mut short = 0usize;
    let mut pools: Vec<(usize, String)> = entitled.keys().cloned().collect();
    for key in held.keys() {
        if !entitled.contains_key(key) {
            pools.push(key.clone());
        }
    }
    pools.sort();
    for key in &pools {
        let (number, pool) = key;
        let asset = &assets[*number];
        let owed: &[(ClientId, u128)] = entitled.get(key).map_or(&[], Vec::as_slice);
        let amounts: Vec<u128> = owed.iter().map(|(_, amount)| *amount).collect();
        let (holdings, from_register, by_runs) = held.get(key).cloned().unwrap_or_default();
        let observed_by = match by_runs.len() {
            0 => String::new(),
            1 => format!("observed by run {}", by_runs.iter().map(u64::to_string).collect::<String>()),
            _ => format!("observed by runs {}", by_runs.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")),
        };
        let passed = if passed_over.is_empty() {
            String::new()
        } else {
            format!("; run(s) {} passed over (report not at hand)", passed_over.iter().map(u64::to_string).collect::<Vec<_>>().join(", "))
        };
        let counted = match (held.contains_key(key), from_register, by_runs.is_empty()) {
            (false, _, _) => "no wallet of the pool holds it in the register".to_owned(),
            (true, 0, _) => format!("{observed_by}, rolled forward to the cut-off"),
            (true, n, true) => format!("the register's ({n} wallet(s) not observed by a run of the 90 days to the cut-off)"),
            (true, n, false) => format!("{observed_by}, rolled forward to the cut-off; {n} wallet(s) at the register's figure"),
        };
        let Some(shares) = ringfence_core::prorata::shares(holdings, &amounts) else {
            return Err(ReportError::Invalid(format!("the entitlements of pool {pool} in {} do not fit in 128 bits", asset.id)));
        };
        let total: u128 = amounts.iter().sum();
        let shortfall = total.saturating_sub(holdings);
        short += usize::from(shortfall > 0);
        shortfall_rows.row(vec![
            asset.id.as_str().to_owned(),
            pool.clone(),
            "*".to_owned(),
            total.to_string(),
            holdings.to_string(),
            holdings.min(total).to_string(),
            shortfall.to_string(),
            ringfence_core::prorata::percent(holdings.min(total), total),
            holdings.saturating_sub(total).to_string(),
            owed_to_pool.get(key).copied().unwrap_or(0).to_string(),
            format!("{counted}{passed}"),
        ])?;
        for ((client, entitlement), share) in owed.iter().zip(&shares) {
            shortfall_rows.row(vec![
                asset.id.as_str().to_owned(),
                pool.clone(),
                client.as_str().to_owned(),
                entitlement.to_string(),
                String::new(),
                share.to_string(),
                (entitlement - share).to_string(),
                ringfence_core::prorata::percent(*share, *entitlement),
                String::new(),
                String::new(),
                String::new(),
            ])?;
        }
    }

    // Client fiat funds owed at the cut-off, and the institutions holding client funds.
    let context = crate::statement::Context::of(register);
    let mut fiat_rows = Table::new(&["client", "currency", "owed", "owed_money"])?;
    for ((client, currency), (negative, amount)) in crate::statement::fiat_owed(store, &context, at, head.seq)? {
        if amount == 0 {
            continue;
        }
        let money = ringfence_wire::views::prices::MoneyView::of(currency, negative, amount);
        fiat_rows.row(vec![client.as_str().to_owned(), currency.as_str().to_owned(), money.amount.clone(), money.money])?;
    }
    let mut accounts = Table::new(&[
        "account",
        "currency",
        "class",
        "reference",
        "institution",
        "institution_name",
        "institution_kind",
        "institution_reference",
        "balance",
        "balance_money",
    ])?;
    // Each account's balance at the cut-off: placements in, withdrawals out, effective by then.
    let mut account_balances: HashMap<&ringfence_core::FiatAccountId, (u128, u128)> = HashMap::new();
    for (seq, account, placed, amount) in register.fiat_account_movements() {
        if seq > head.seq || store.entries(seq - 1, 1)?.into_iter().next().is_none_or(|e| e.command.meta.effective_at > at) {
            continue;
        }
        let (inflow, outflow) = account_balances.entry(account).or_default();
        if placed { *inflow = inflow.saturating_add(amount) } else { *outflow = outflow.saturating_add(amount) }
    }
    let mut fiat_accounts: Vec<_> = register.fiat_accounts().iter().collect();
    fiat_accounts.sort_by(|a, b| a.account.id.cmp(&b.account.id));
    for record in fiat_accounts {
        let account = &record.account;
        let institution = register.institutions().find(|i| i.id == account.institution);
        let (inflow, outflow) = account_balances.get(&account.id).copied().unwrap_or_default();
        let balance = ringfence_wire::views::prices::MoneyView::of(account.currency, outflow > inflow, inflow.abs_diff(outflow));
        accounts.row(vec![
            account.id.as_str().to_owned(),
            account.currency.as_str().to_owned(),
            account.class.code().to_owned(),
            account.reference.clone(),
            account.institution.as_str().to_owned(),
            institution.map_or_else(String::new, |i| i.name.clone()),
            institution.map_or_else(String::new, |i| i.kind.code().to_owned()),
            institution.map_or_else(String::new, |i| i.reference.clone()),
            balance.amount,
            balance.money,
        ])?;
    }

    // The exceptions not resolved by the cut-off (those opened later too: a run after the
    // cut-off may find what was wrong at it); reconciliations of the 90 days before it.
    let exception_rows = register.exceptions().iter().filter(|e| e.resolved.as_ref().is_none_or(|(_, _, when)| *when > at)).map(|e| {
        vec![
            e.id.to_string(),
            e.kind.code().to_owned(),
            e.severity.code().to_owned(),
            e.subject.clone(),
            clock::format(e.opened_at),
            clock::format(e.due_at),
            if e.state == ExceptionState::Resolved { "resolved after the cut-off".to_owned() } else { e.state.code().to_owned() },
            e.detail.clone(),
        ]
    });
    let exceptions = csv_bytes(&["exception", "kind", "severity", "subject", "opened_at", "due_at", "state", "detail"], exception_rows)?;
    let recon_rows = runs.iter().rev().map(|record| {
        let sources: Vec<String> = record.run.sources.iter().map(describe_source).collect();
        vec![
            record.id.to_string(),
            clock::format(record.run.cut_off),
            record.run.checked.to_string(),
            record.run.matched.to_string(),
            record.run.breaks.len().to_string(),
            ringfence_journal::hex(&record.run.report_sha256),
            sources.join("; "),
        ]
    });
    let reconciliations = csv_bytes(&["run", "cut_off", "checked", "matched", "breaks", "report_sha256", "sources"], recon_rows)?;

    let positions = position_rows.rows;
    let mut files = vec![
        PackFile { name: "client_positions.csv", bytes: position_rows.finish()? },
        PackFile { name: "pool_holdings.csv", bytes: holding_rows.finish()? },
        PackFile { name: "shortfall.csv", bytes: shortfall_rows.finish()? },
        PackFile { name: "client_fiat.csv", bytes: fiat_rows.finish()? },
        PackFile { name: "fiat_accounts.csv", bytes: accounts.finish()? },
        PackFile { name: "exceptions.csv", bytes: exceptions },
        PackFile { name: "reconciliations.csv", bytes: reconciliations },
    ];
    let mut manifest = serde_json::json!({
        "format": PACK_FORMAT,
        "cut_off": clock::format(at),
        "journal_seq": head.seq,
        "journal_head_hash": ringfence_journal::hex(&head.hash),
        "holdings": if candidates.is_empty() {
            "the register's: no reconciliation in the 90 days to the cut-off".to_owned()
        } else {
            "each wallet of a client pool: what the latest run of the 90 days to the cut-off that observed it saw, plus the register's movements of the wallet from that run's cut-off to the pack's; the register's figure where no run observed it".to_owned()
        },
        "observations_from_runs": used.iter().collect::<Vec<_>>(),
        "runs_passed_over": passed_over,
        "allocation": "a pool short of its entitlements gives each client entitlement × holdings / entitlements, rounded down in the smallest unit; the units left go one each to the largest remainders, equal remainders in client id order; the rest of each entitlement is a claim against the estate",
    });
    manifest["files"] = files
        .iter()
        .map(|file| serde_json::json!({"file": file.name, "bytes": file.bytes.len(), "sha256": crate::sha256_hex(&file.bytes)}))
        .collect();
    let mut manifest = serde_json::to_vec_pretty(&manifest).map_err(|e| ReportError::Invalid(format!("the manifest: {e}")))?;
    manifest.push(b'\n');
    files.push(PackFile { name: "manifest.json", bytes: manifest });
    Ok(Pack { files, positions, pools: pools.len(), short })
}

/// When the run read `address`'s chain: the timestamp of the block it read at, not after the
/// run's cut-off.
fn block_time(run: &RunRecord, address: &str) -> Option<Timestamp> {
    let chain = address.rsplit_once(':').map_or(address, |(chain, _)| chain);
    run.run.sources.iter().find_map(|source| match source {
        RunSource::Chain { chain: read, block } if read == chain => {
            let micros = i64::try_from(block.timestamp).ok()?.checked_mul(1_000_000)?;
            Some(Timestamp::from_micros(micros).min(run.run.cut_off))
        }
        _ => None,
    })
}

/// Where the last run read an in-house wallet on `address`'s chain.
fn chain_source(run: Option<&ringfence_core::RunRecord>, address: &str) -> String {
    let Some(run) = run else { return String::new() };
    let chain = address.rsplit_once(':').map_or(address, |(chain, _)| chain);
    run.run
        .sources
        .iter()
        .find(|source| match source {
            RunSource::Chain { chain: read, .. } | RunSource::Unavailable { chain: read, .. } => read == chain,
            RunSource::Statement { .. } => false,
        })
        .map_or_else(|| format!("{chain}: not read by that run"), describe_source)
}

/// Where the last run read a sub-custodian's wallet: its statement.
fn statement_source(run: Option<&ringfence_core::RunRecord>, sub_custodian: &str) -> String {
    let Some(run) = run else { return String::new() };
    run.run
        .sources
        .iter()
        .find(|source| matches!(source, RunSource::Statement { sub_custodian: id, .. } if id.as_str() == sub_custodian))
        .map_or_else(|| format!("no statement of {sub_custodian} in that run"), describe_source)
}

fn describe_source(source: &RunSource) -> String {
    match source {
        RunSource::Chain { chain, block } => format!("{chain} block {} hash {}", block.number, ringfence_journal::hex(&block.hash)),
        RunSource::Unavailable { chain, reason } => format!("{chain} unavailable: {reason}"),
        RunSource::Statement { sub_custodian, reference, file, sha256, .. } => {
            format!("statement {reference} of {sub_custodian} ({file}, SHA-256 {})", ringfence_journal::hex(sha256))
        }
    }
}
