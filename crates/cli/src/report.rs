//! What the command line prints: tables for people, JSON for programs. Amounts are shown in
//! the smallest unit and, exactly, in whole units with the asset's scale.

use std::io::Write;

use anyhow::Result;
use ringfence_core::{Amount, AssetId, OwnAccount, Register, Status};
use ringfence_store::Subject;

use crate::LineOutcome;
use ringfence_wire::views::journal::HistoryView;
use ringfence_wire::views::prices::ValuationView;
use ringfence_wire::views::{BalancesView, LineResult, SummaryView};

fn subject_name(register: &Register, subject: &Subject) -> String {
    match subject {
        Subject::Client(client) => match register.client(client) {
            Some(c) => format!("client {client} ({}, {} segregation)", c.category, c.segregation),
            None => format!("client {client}"),
        },
        Subject::Wallet(wallet) => match register.wallet(wallet) {
            Some(w) => format!("wallet {wallet} ({}, {}, {})", w.class.kind(), w.tier, w.address),
            None => format!("wallet {wallet}"),
        },
        Subject::Own(OwnAccount::Capital) => "the firm's capital account".into(),
        Subject::Own(OwnAccount::FeeIncome) => "the firm's fee income account".into(),
    }
}

/// An account's balances: `--json` is the view as the API returns it; the text adds the
/// subject's description and each asset's symbol.
pub fn balances(register: &Register, subject: &Subject, view: &BalancesView, as_json: bool, out: &mut dyn Write) -> Result<()> {
    if as_json {
        writeln!(out, "{}", serde_json::to_string(view)?)?;
        return Ok(());
    }
    let when = view.at.as_ref().map_or_else(|| "now".to_owned(), |at| format!("at {at}"));
    writeln!(out, "{} {when}:", subject_name(register, subject))?;
    if view.balances.is_empty() {
        writeln!(out, "  no balances")?;
    }
    for row in &view.balances {
        writeln!(out, "  {:<48} {:>40}  {}", row.asset, row.amount, with_symbol(register, &row.asset, &row.decimal))?;
    }
    for row in &view.encumbered {
        writeln!(
            out,
            "  of which encumbered under the client's instructions: {} ({} in the smallest unit)",
            with_symbol(register, &row.asset, &row.decimal),
            row.amount
        )?;
    }
    for row in &view.fiat {
        writeln!(out, "  client fiat funds owed: {} ({} minor units)", row.money, row.amount)?;
    }
    Ok(())
}

/// An account's balances valued in a fiat currency: `--json` is the view as the API returns
/// it; the text shows each asset's price, source and instant, or why it is not valued.
pub fn valuation(register: &Register, subject: &Subject, view: &ValuationView, as_json: bool, out: &mut dyn Write) -> Result<()> {
    if as_json {
        writeln!(out, "{}", serde_json::to_string(view)?)?;
        return Ok(());
    }
    writeln!(out, "{} valued in {} at {}:", subject_name(register, subject), view.currency, view.at)?;
    writeln!(out, "  (prices at most {} old; {})", view.max_price_age, view.rounding)?;
    if view.assets.is_empty() {
        writeln!(out, "  no balances")?;
    }
    for row in &view.assets {
        let amount = with_symbol(register, &row.asset, &row.decimal);
        match (&row.price, &row.value, &row.not_valued) {
            (Some(price), Some(value), _) => writeln!(
                out,
                "  {:<48} {:>32} × {} ({}, {}, entry #{}) = {}",
                row.asset, amount, price.money, price.source, price.at, price.seq, value.money
            )?,
            (_, _, Some(why)) => writeln!(out, "  {:<48} {:>32}   not valued: {}", row.asset, amount, why.reason)?,
            _ => writeln!(out, "  {:<48} {:>32}   not valued", row.asset, amount)?,
        }
    }
    let left_out = view.assets.iter().filter(|row| row.not_valued.is_some()).count();
    if view.complete {
        writeln!(out, "  total: {}", view.total.money)?;
    } else {
        writeln!(out, "  total of the assets valued: {} (not complete: {left_out} asset(s) not valued)", view.total.money)?;
    }
    Ok(())
}

/// A page of an account's movements: `--json` is the page as the API returns it; the text
/// shows each movement's changes to the subject with the asset's symbol.
pub fn history(register: &Register, subject: &Subject, view: &HistoryView, as_json: bool, out: &mut dyn Write) -> Result<()> {
    if as_json {
        writeln!(out, "{}", serde_json::to_string(view)?)?;
        return Ok(());
    }
    writeln!(out, "movements of {} ({}):", subject_name(register, subject), view.movements.len())?;
    for entry in &view.movements {
        let changes: Vec<String> = entry
            .changes
            .iter()
            .map(|change| {
                let sign = if change.decimal.starts_with('-') { "" } else { "+" };
                format!("{sign}{}", with_symbol(register, &change.asset, &change.decimal))
            })
            .collect();
        let movement = &entry.movement;
        let corrects = movement.corrects.as_ref().map(|k| format!(" (corrects {k})")).unwrap_or_default();
        writeln!(
            out,
            "  #{:<8} {}  {:<15} {:<24} {}  instruction {} by {}{corrects}",
            entry.seq,
            entry.effective_at,
            movement.kind.code(),
            movement.key,
            changes.join(", "),
            entry.instruction.as_deref().unwrap_or("-"),
            entry.actor.as_deref().unwrap_or("-"),
        )?;
    }
    if let Some(after) = view.next_after {
        writeln!(out, "  (more: --after {after})")?;
    }
    if !view.encumbrances.is_empty() {
        writeln!(out, "encumbered and released under the client's instructions ({}):", view.encumbrances.len())?;
        for event in &view.encumbrances {
            writeln!(
                out,
                "  #{:<8} {}  {:<11} {:<24} {}  instruction {}",
                event.seq,
                event.effective_at,
                event.kind,
                event.key,
                with_symbol(register, &event.asset, &event.decimal),
                event.instruction
            )?;
        }
    }
    Ok(())
}

/// An amount in whole units followed by its asset's symbol, when the asset has one.
fn with_symbol(register: &Register, asset: &str, decimal: &str) -> String {
    let symbol = AssetId::parse(asset).ok().and_then(|id| register.asset(&id)).map(|a| a.symbol.as_str()).unwrap_or_default();
    if symbol.is_empty() { decimal.to_owned() } else { format!("{decimal} {symbol}") }
}

fn percent(part: u128, whole: u128) -> String {
    if whole == 0 {
        return "-".into();
    }
    // Integer arithmetic to one decimal, rounded down; exact enough for a share.
    let tenths = part.saturating_mul(1000) / whole;
    format!("{}.{}%", tenths / 10, tenths % 10)
}

pub fn summary(view: &SummaryView, as_json: bool, out: &mut dyn Write) -> Result<()> {
    if as_json {
        writeln!(out, "{}", serde_json::to_string(view)?)?;
        return Ok(());
    }
    let at = view.at.as_deref().map(|at| format!(" at {at}")).unwrap_or_default();
    writeln!(out, "segregation summary{at} ({} assets, journal at sequence {}):", view.assets.len(), view.journal_seq)?;
    if view.assets.is_empty() {
        writeln!(out, "  no assets registered yet; import registrations with `ringfence import FILE`")?;
    }
    for r in &view.assets {
        let d = |amount: Amount| match r.asset.symbol.as_str() {
            "" => amount.to_decimal(r.asset.scale),
            symbol => format!("{} {symbol}", amount.to_decimal(r.asset.scale)),
        };
        let verdict = if r.segregated { "segregated" } else { "NOT SEGREGATED" };
        writeln!(out, "  {} ({}): {verdict}", r.asset.id, if r.asset.symbol.is_empty() { "-" } else { &r.asset.symbol })?;
        writeln!(out, "    client positions   {:>32}", d(r.client_positions))?;
        writeln!(
            out,
            "    client holdings    {:>32}   hot {} / cold {} ({} cold)",
            d(r.client_holdings),
            d(r.client_hot),
            d(r.client_cold),
            percent(r.client_cold.units(), r.client_holdings.units())
        )?;
        writeln!(out, "    firm holdings      {:>32}   hot {} / cold {}", d(r.firm_holdings), d(r.firm_hot), d(r.firm_cold))?;
        writeln!(out, "    own accounts       {:>32}", d(r.own_accounts))?;
    }
    Ok(())
}

/// The lines of one durable batch, printed as soon as the batch is committed: whatever an
/// interrupted import printed is on disk.
pub fn import_lines(outcomes: &[LineOutcome], quiet: bool, as_json: bool, out: &mut dyn Write) -> Result<()> {
    for LineOutcome { line, outcome } in outcomes {
        if quiet && outcome.status.is_ok() {
            continue;
        }
        if as_json {
            writeln!(out, "{}", serde_json::to_string(&LineResult::of(*line, outcome))?)?;
            continue;
        }
        match (outcome.status, outcome.seq) {
            (Status::Accepted, Some(seq)) => writeln!(out, "line {line}: accepted (sequence {seq})")?,
            (Status::AlreadyExists, Some(seq)) => {
                writeln!(out, "line {line}: already_exists (recorded at sequence {seq}; nothing changed)")?
            }
            (Status::PendingApproval, _) => writeln!(out, "line {line}: pending_approval: {}", outcome.detail)?,
            (status, _) => writeln!(out, "line {line}: rejected: {status}: {}", outcome.detail)?,
        }
    }
    out.flush()?;
    Ok(())
}

/// The totals line after an import (text only).
pub fn import_totals(outcomes: &[LineOutcome], as_json: bool, out: &mut dyn Write) -> Result<()> {
    if !as_json {
        let all: Vec<_> = outcomes.iter().map(|o| o.outcome.clone()).collect();
        let counts = ringfence_store::count_statuses(&all);
        let parts: Vec<String> = counts.iter().map(|(status, n)| format!("{n} {status}")).collect();
        writeln!(out, "{} line(s): {}", outcomes.len(), if parts.is_empty() { "nothing to do".to_owned() } else { parts.join(", ") })?;
    }
    Ok(())
}

/// What a safeguarding check opened, if it opened anything.
/// The safeguarding check's result, as `import`, `demo` and `policy check` end with it: the
/// exceptions it opened, then every breach that stands (each has an unresolved exception), or
/// that none does. Returns how many breaches stand.
pub fn safeguarding_result(
    store: &ringfence_store::Store,
    check: Option<&ringfence_core::Outcome>,
    now: ringfence_core::Timestamp,
    out: &mut dyn Write,
) -> Result<usize> {
    safeguard_check(store, check, out)?;
    let breaches = store.register().safeguard_breaches(now);
    if breaches.is_empty() {
        writeln!(out, "safeguarding: no breach")?;
    } else {
        writeln!(out, "safeguarding: {} breach(es) stand, each with an unresolved exception:", breaches.len())?;
        for found in &breaches {
            writeln!(out, "  [{}] {}: {}", found.severity.code(), found.kind.code(), found.detail)?;
        }
    }
    Ok(breaches.len())
}

pub fn safeguard_check(store: &ringfence_store::Store, check: Option<&ringfence_core::Outcome>, out: &mut dyn Write) -> Result<()> {
    let Some(seq) = check.filter(|outcome| outcome.status == ringfence_core::Status::Accepted).and_then(|outcome| outcome.seq) else {
        return Ok(());
    };
    let register = store.register();
    let Some(record) = register.safeguard_checks().iter().find(|record| record.id == seq) else { return Ok(()) };
    writeln!(out, "safeguarding check (sequence {seq}) opened {} exception(s):", record.exceptions.len())?;
    for id in &record.exceptions {
        if let Some(exception) = register.exception(*id) {
            writeln!(out, "  exception {id} [{}] {}: {}", exception.severity.code(), exception.kind.code(), exception.detail)?;
        }
    }
    Ok(())
}
