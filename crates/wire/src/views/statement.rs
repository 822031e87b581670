//! A client's statement of position for a period (issue 17, MiCA Art 75(5)): the canonical
//! JSON every other format (CSV, PDF) is rendered from, and whose SHA-256 the journal records
//! when the statement is issued. Built by `ringfence_reports::statement`; the same bytes
//! whenever it is made again from the journal up to the entry it reflects.

use serde::Serialize;
use utoipa::ToSchema;

use super::prices::{MoneyView, ValuationView};

/// The version of the statement's layout, first in every statement.
pub const STATEMENT_FORMAT: &str = "ringfence statement of position 1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct StatementView {
    pub format: &'static str,
    pub casp: CaspView,
    pub client: StatementClientView,
    /// The period, inclusive: RFC 3339 instants of effective time.
    pub from: String,
    pub to: String,
    /// When it was produced: the recorded time of the journal entry it reflects.
    pub produced_at: String,
    /// The journal entry it reflects (every entry up to it, none after) and that entry's hash.
    pub journal_seq: u64,
    pub journal_head_hash: String,
    pub assets: Vec<StatementAssetView>,
    /// Client fiat funds the CASP owes the client, per currency.
    pub fiat: Vec<StatementFiatView>,
    /// The valuation at the period's end.
    pub valuation: ValuationView,
}

/// Who issues the statement, from configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CaspView {
    pub name: String,
    /// The Legal Entity Identifier, when configured.
    pub lei: Option<String>,
    /// The authorisation reference (the register of CASPs), when configured.
    pub authorisation: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct StatementClientView {
    pub id: String,
    /// `retail` or `professional`.
    pub category: String,
    /// `omnibus` or `individual`.
    pub segregation: String,
}

/// An amount of an asset: the smallest unit and whole units, exactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct UnitsView {
    #[schema(pattern = "^-?[0-9]+$")]
    pub amount: String,
    pub decimal: String,
}

/// One asset of the statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct StatementAssetView {
    pub asset: String,
    pub symbol: String,
    pub opening: UnitsView,
    /// Every movement of the period that changed the position, in journal order.
    pub movements: Vec<StatementMovementView>,
    pub closing: UnitsView,
    /// Of the closing position, what is encumbered under the client's instructions.
    pub encumbered: Vec<EncumberedView>,
    /// The closing position less what is encumbered.
    pub free: UnitsView,
    /// Rewards credited in the period (under the client's instructions).
    pub rewards: UnitsView,
    /// Where the position is held at the period's end.
    pub custody: CustodyView,
}

/// A movement as the client sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct StatementMovementView {
    pub seq: u64,
    pub effective_at: String,
    /// `deposit`, `withdrawal`, `transfer`, `fee`, `reward`, `correction`…
    #[serde(rename = "type")]
    pub kind: String,
    /// The movement's reference (its idempotency key).
    pub reference: String,
    /// The client instruction it was made under, for a reward.
    pub client_instruction: Option<String>,
    /// The change to the client's position, signed.
    pub change: UnitsView,
    /// Chain transactions that confirmed it (`chain:block:tx`), where linked.
    pub chain_transactions: Vec<String>,
}

/// What is encumbered under one client instruction at the period's end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct EncumberedView {
    pub instruction: String,
    /// `staking`, `lending`, `collateral`, `trading`.
    pub purpose: String,
    pub amount: UnitsView,
}

/// Where a position is held: the client's own wallets or the omnibus pool, hot and cold, and
/// the sub-custodians that hold part of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CustodyView {
    /// `omnibus pool` or `individual wallets`.
    pub segregation: String,
    /// Shares of the holdings in hot and cold wallets, as percentages with two decimals;
    /// null when nothing is held.
    pub hot_percent: Option<String>,
    pub cold_percent: Option<String>,
    pub sub_custodians: Vec<SubCustodianShareView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SubCustodianShareView {
    pub name: String,
    /// The basis of its authorisation: `mica_casp`, `crr_credit_institution`…
    pub basis: String,
    pub reference: String,
}

/// Client fiat funds of one currency over the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct StatementFiatView {
    pub currency: String,
    pub opening: MoneyView,
    pub receipts: Vec<FiatEventView>,
    pub withdrawals: Vec<FiatEventView>,
    pub closing: MoneyView,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FiatEventView {
    pub seq: u64,
    pub effective_at: String,
    pub reference: String,
    pub amount: MoneyView,
}

/// Clients whose statements are overdue (`ringfence statements overdue`): clients holding
/// assets whose next statement was due before the instant, counted from the end of their last
/// statement period or their registration (the safeguarding check's rule).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct OverdueView {
    /// The instant of the report.
    pub at: String,
    /// Days from the end of a client's last statement period (or its registration) to the next.
    pub interval_days: u32,
    pub clients: Vec<OverdueClientView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct OverdueClientView {
    pub client: String,
    /// The end of the last period a statement was issued for; null when none was.
    pub last_period_end: Option<String>,
    /// The instant the next statement is counted from, and when it was due.
    pub counted_from: String,
    pub due_at: String,
}

impl OverdueView {
    /// The clients of `register` overdue at `at`, with statements every `interval_days` (the
    /// safeguarding policy's when None).
    pub fn of(register: &ringfence_core::Register, at: ringfence_core::Timestamp, interval_days: Option<u32>) -> OverdueView {
        let days = interval_days.unwrap_or(register.safeguarding_policy().0.statement_interval_days);
        let clients = register
            .statements_overdue(at, Some(days))
            .into_iter()
            .map(|(client, since, due)| OverdueClientView {
                client: client.as_str().to_owned(),
                last_period_end: register.statements_of(client).iter().map(|s| s.issue.to).max().map(crate::clock::format),
                counted_from: crate::clock::format(since),
                due_at: crate::clock::format(due),
            })
            .collect();
        OverdueView { at: crate::clock::format(at), interval_days: days, clients }
    }
}
