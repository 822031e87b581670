//! Typed views: what the program shows, in one shape for every edge. The CLI's `--json`
//! serializes them, the HTTP API serializes the same structs (and takes its OpenAPI schema from
//! them), and the CLI's text is rendered from their fields, so two edges cannot disagree about
//! a report. Amounts are strings of digits in the asset's smallest unit: a u128 does not fit a
//! JSON number.
//!
//! Adding a view: a struct here deriving `Serialize` and `ToSchema`, built by one function
//! from the register; the CLI and the server call that function and nothing builds the JSON
//! by hand.

pub mod entities;
pub mod journal;
pub mod oversight;
pub mod policy;
pub mod prices;
pub mod statement;

use ringfence_core::{Account, Amount, Asset, AssetId, AssetSummary, Code, Net, Outcome, Register, Timestamp};
use serde::{Serialize, Serializer};
use utoipa::ToSchema;

/// An amount as a string of digits.
fn digits<S: Serializer>(amount: &Amount, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(amount)
}

/// A sum of amounts in the smallest unit as a string of digits (JSON numbers lose precision
/// above 2^53).
fn units<S: Serializer>(units: &u128, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(units)
}

/// A closed enum as its one code.
fn code<S: Serializer, T: Code>(value: &T, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(value.code())
}

/// An optional closed enum as its code, or null.
fn optional_code<S: Serializer, T: Code>(value: &Option<T>, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => serializer.serialize_str(value.code()),
        None => serializer.serialize_none(),
    }
}

/// Bytes (a hash) as lowercase hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A registered asset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AssetView {
    /// The CAIP-19 id.
    pub id: String,
    /// Decimals of one whole unit.
    pub scale: u8,
    /// The ticker; empty when none was registered.
    pub symbol: String,
}

impl AssetView {
    pub fn of(asset: &Asset) -> AssetView {
        AssetView { id: asset.id.as_str().to_owned(), scale: asset.scale, symbol: asset.symbol.clone() }
    }
}

/// The segregation summary: per asset, client positions against client-class holdings and
/// firm holdings against own accounts, with the hot/cold split of each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SummaryView {
    /// The journal sequence number the summary is at.
    pub journal_seq: u64,
    /// The instant of effective time it is at (`summary --at`); absent: now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// Every registered asset, in registration order.
    pub assets: Vec<SummaryRow>,
}

/// One asset of the summary; amounts in the smallest unit, as strings of digits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SummaryRow {
    pub asset: AssetView,
    /// Whether client holdings equal client positions and firm holdings equal own accounts.
    pub segregated: bool,
    /// What the register owes clients.
    #[serde(serialize_with = "digits")]
    #[schema(value_type = String, pattern = "^[0-9]+$")]
    pub client_positions: Amount,
    /// What client-class wallets hold.
    #[serde(serialize_with = "digits")]
    #[schema(value_type = String, pattern = "^[0-9]+$")]
    pub client_holdings: Amount,
    #[serde(serialize_with = "digits")]
    #[schema(value_type = String, pattern = "^[0-9]+$")]
    pub client_hot: Amount,
    #[serde(serialize_with = "digits")]
    #[schema(value_type = String, pattern = "^[0-9]+$")]
    pub client_cold: Amount,
    /// What firm-class wallets hold.
    #[serde(serialize_with = "digits")]
    #[schema(value_type = String, pattern = "^[0-9]+$")]
    pub firm_holdings: Amount,
    #[serde(serialize_with = "digits")]
    #[schema(value_type = String, pattern = "^[0-9]+$")]
    pub firm_hot: Amount,
    #[serde(serialize_with = "digits")]
    #[schema(value_type = String, pattern = "^[0-9]+$")]
    pub firm_cold: Amount,
    /// The firm's own accounts (capital and fee income).
    #[serde(serialize_with = "digits")]
    #[schema(value_type = String, pattern = "^[0-9]+$")]
    pub own_accounts: Amount,
}

impl SummaryRow {
    fn of(row: &AssetSummary) -> SummaryRow {
        SummaryRow {
            asset: AssetView::of(&row.asset),
            segregated: row.is_segregated(),
            client_positions: row.client_positions,
            client_holdings: row.client_holdings,
            client_hot: row.client_hot,
            client_cold: row.client_cold,
            firm_holdings: row.firm_holdings,
            firm_hot: row.firm_hot,
            firm_cold: row.firm_cold,
            own_accounts: row.own_accounts,
        }
    }
}

impl SummaryView {
    pub fn of(register: &Register) -> SummaryView {
        SummaryView::at(register.seq(), None, &register.summary())
    }

    /// The summary of `rows` at journal entry `seq`, at an instant of effective time if given.
    pub fn at(seq: u64, at: Option<Timestamp>, rows: &[AssetSummary]) -> SummaryView {
        SummaryView { journal_seq: seq, at: at.map(crate::clock::format), assets: rows.iter().map(SummaryRow::of).collect() }
    }
}

/// An account as the API and the CLI's `--json` name it: `position:CLIENT`, `holding:WALLET`
/// or `own:capital`/`own:fee_income`.
pub fn account_code(account: &Account) -> String {
    match account {
        Account::Position(client) => format!("position:{client}"),
        Account::Holding(wallet) => format!("holding:{wallet}"),
        Account::Own(own) => format!("own:{}", own.code()),
    }
}

/// An account's balances per asset, now or at an instant of effective time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct BalancesView {
    /// The account: `position:CLIENT`, `holding:WALLET` or `own:ACCOUNT`.
    pub subject: String,
    /// The instant asked for; null for now.
    pub at: Option<String>,
    /// One row per asset with a balance (or the one asset asked for), in registration order.
    pub balances: Vec<AmountView>,
    /// For a client's positions now: the part of each balance encumbered under the client's
    /// instructions (staked, lent, pledged), per asset with any. Empty otherwise (the
    /// register keeps encumbrance as it stands now, not at past instants).
    pub encumbered: Vec<AmountView>,
    /// For a client's positions now: the client fiat funds the CASP owes it, per currency.
    pub fiat: Vec<FiatAmountView>,
}

/// Client fiat funds of one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FiatAmountView {
    /// ISO 4217, e.g. `EUR`.
    pub currency: String,
    /// In minor units (cents), e.g. `"99900"`.
    #[schema(pattern = "^[0-9]+$")]
    pub amount: String,
    /// As money, e.g. `"EUR 999.00"`.
    pub money: String,
}

/// A signed amount of an asset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AmountView {
    pub asset: String,
    /// In the smallest unit, e.g. `"-1500"`.
    #[schema(pattern = "^-?[0-9]+$")]
    pub amount: String,
    /// In whole units, exactly, e.g. `"-0.0000000000000015"`.
    pub decimal: String,
}

impl AmountView {
    pub fn of(register: &Register, asset: &AssetId, net: Net) -> AmountView {
        let scale = register.asset(asset).map_or(0, |a| a.scale);
        let sign = if net.negative && !net.amount.is_zero() { "-" } else { "" };
        AmountView {
            asset: asset.as_str().to_owned(),
            amount: format!("{sign}{}", net.amount),
            decimal: format!("{sign}{}", net.amount.to_decimal(scale)),
        }
    }
}

impl BalancesView {
    /// The balances of `account` now (`at` None) or at `at` (from `past`: the store's
    /// balances of the account at `at`, by asset registration index, which read its posting
    /// index): of `asset` alone when given (even when zero), else of every registered asset
    /// with a balance that is not zero. An `asset` not registered is an error naming it.
    pub fn of(
        register: &Register,
        account: &Account,
        asset: Option<&AssetId>,
        at: Option<Timestamp>,
        past: &[Net],
    ) -> Result<BalancesView, String> {
        let assets: Vec<&AssetId> = match asset {
            Some(asset) if register.asset(asset).is_none() => return Err(format!("asset {asset} is not registered")),
            Some(asset) => vec![asset],
            None => register.assets().map(|a| &a.id).collect(),
        };
        let mut balances = Vec::new();
        for id in assets {
            let net = match at {
                Some(_) => register.asset_number(id).and_then(|number| past.get(number as usize)).copied().unwrap_or_default(),
                None => Net { negative: false, amount: register.balance(account, id).unwrap_or_default() },
            };
            if asset.is_some() || !net.amount.is_zero() {
                balances.push(AmountView::of(register, id, net));
            }
        }
        let (mut encumbered, mut fiat) = (Vec::new(), Vec::new());
        if let (Account::Position(client), None) = (account, at) {
            for id in register.assets().map(|a| &a.id).filter(|id| asset.is_none_or(|asked| asked == *id)) {
                let units = register.encumbered(client, id);
                if units != 0 {
                    encumbered.push(AmountView::of(register, id, Net { negative: false, amount: ringfence_core::Amount::new(units) }));
                }
            }
            let mut owed: Vec<(&ringfence_core::Currency, u128)> =
                register.fiat_positions().filter(|(owner, _, _)| *owner == client).map(|(_, currency, units)| (currency, units)).collect();
            owed.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
            fiat = owed
                .into_iter()
                .map(|(currency, units)| FiatAmountView {
                    currency: currency.to_string(),
                    amount: units.to_string(),
                    money: currency.money(units),
                })
                .collect();
        }
        Ok(BalancesView { subject: account_code(account), at: at.map(crate::clock::format), balances, encumbered, fiat })
    }
}

/// The register's verdict on one command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CommandResult {
    /// `accepted`, `already_exists`, `pending_approval` or, for a safeguarding check that found
    /// nothing to record, `nothing_due` (over the API, a rejection is an error response).
    pub status: String,
    /// The journal sequence number of the command (the original one for `already_exists`; the
    /// pending instruction's id for `pending_approval`).
    pub seq: Option<u64>,
    pub detail: String,
}

impl CommandResult {
    pub fn of(outcome: Outcome) -> CommandResult {
        CommandResult { status: outcome.status.code().to_owned(), seq: outcome.seq, detail: outcome.detail }
    }
}

/// The results of a batch of movements, in the batch's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct BatchResult {
    pub results: Vec<BatchItem>,
}

/// One movement of a batch: its own status, which may be a rejection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct BatchItem {
    /// Its position in the batch, from 0.
    pub index: usize,
    /// Any status of the register: `accepted`, `already_exists`, `segregation_breach`…
    pub status: String,
    pub seq: Option<u64>,
    pub detail: String,
}

impl BatchItem {
    pub fn of(index: usize, outcome: Outcome) -> BatchItem {
        BatchItem { index, status: outcome.status.code().to_owned(), seq: outcome.seq, detail: outcome.detail }
    }
}

/// One line of an import file (`import --json`): its own status, which may be a rejection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct LineResult {
    /// Its line number in the file, from 1.
    pub line: usize,
    /// Any status of the register: `accepted`, `already_exists`, `segregation_breach`…
    pub status: String,
    pub seq: Option<u64>,
    pub detail: String,
}

impl LineResult {
    pub fn of(line: usize, outcome: &Outcome) -> LineResult {
        LineResult { line, status: outcome.status.code().to_owned(), seq: outcome.seq, detail: outcome.detail.clone() }
    }
}
