//! Typed views: what the program shows, in one shape for every edge. The CLI's `--json`
//! serializes them, the HTTP API serializes the same structs (and takes its OpenAPI schema from
//! them), and the CLI's text is rendered from their fields, so two edges cannot disagree about
//! a report. Amounts are strings of digits in the asset's smallest unit: a u128 does not fit a
//! JSON number.
//!
//! Adding a view: a struct here deriving `Serialize` and `ToSchema`, built by one function
//! from the register; the CLI and the server call that function and nothing builds the JSON
//! by hand.

pub mod policy;

use ringfence_core::{Amount, Asset, AssetSummary, Code, Register};
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
        SummaryView { journal_seq: register.seq(), assets: register.summary().iter().map(SummaryRow::of).collect() }
    }
}
