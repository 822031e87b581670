//! `ringfence policy show`: every policy in force, with evidence of how it is met (the report
//! is the typed view `ringfence_wire::views::policy`, shared with `GET /v1/policy`; the text is
//! rendered from its fields); `ringfence policy
//! check`: the safeguarding check on demand.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Subcommand;
use ringfence_core::OwnAccountUse;
use ringfence_wire::clock;
use ringfence_wire::views::policy::{self, HoldingShare, PolicyReport};

use crate::{Cli, open};

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Print every policy in force and the access-separation report. Exit 1 when anything it
    /// shows is a breach: a signer holding keys for client assets and for the firm's own, a
    /// cold share below its floor without a risk assessment, a lapsed sub-custodian
    /// authorisation, an overdue fiat placement, placed funds above the concentration limit,
    /// an institution holding client funds past its review date, an overdue reconciliation run.
    Show {
        /// Print JSON (the same view as the API's) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Check the safeguarding policies now (cold floors, sub-custodian authorisations,
    /// encumbrance under lapsed instructions, fiat placement deadlines) and open an exception
    /// for each breach that has none. Exit 1 when any breach stands, with or without one.
    Check,
}

pub fn run(cli: &Cli, command: &PolicyCommand, out: &mut dyn Write) -> Result<ExitCode> {
    let json = match command {
        PolicyCommand::Show { json } => json,
        PolicyCommand::Check => return check(cli, out),
    };
    let store = crate::open_read(cli)?;
    let report = policy::report(store.register(), clock::now());
    let shared = report.access_separation.signers_on_both_sides.len();
    let breached = shared > 0
        || report.hot_cold.iter().any(|row| row.breach)
        || report.sub_custody.sub_custodians.iter().any(|sub| sub.status == "lapsed")
        || report.fiat.unplaced.iter().any(|r| r.overdue)
        || report.fiat.concentration.iter().any(|c| c.over_limit)
        || report.fiat.reviews.iter().any(|r| r.overdue)
        || report.reconciliation.overdue;
    if *json {
        writeln!(out, "{}", serde_json::to_string(&report)?)?;
    } else {
        match &report.approvals {
            None => writeln!(out, "four-eyes approvals: none in force (nothing waits for approval)")?,
            Some(policy) => {
                let thresholds: Vec<String> =
                    policy.withdrawal_thresholds.iter().map(|(asset, amount)| format!("{asset} above {amount}")).collect();
                writeln!(
                    out,
                    "four-eyes approvals: {} approval(s) from others than the initiator, within {} h (entry {}); withdrawals needing approval: {}",
                    policy.approvals,
                    policy.expiry_hours,
                    policy.seq,
                    if thresholds.is_empty() { "none".to_owned() } else { thresholds.join(", ") }
                )?;
            }
        }
        let exceptions = &report.exceptions;
        writeln!(
            out,
            "exceptions: due {} h after they open, then escalated; legs wait {} h for their counterpart{}",
            exceptions.resolution_hours,
            exceptions.confirmation_hours,
            if exceptions.seq.is_none() { " (defaults)" } else { "" }
        )?;
        writeln!(out, "access separation: a key set serves one class of wallet (enforced at registration)")?;
        for key_set in &report.access_separation.key_sets {
            writeln!(
                out,
                "  {} ({}, {}): signers {}; wallets {}",
                key_set.id,
                key_set.class.code(),
                key_set.scheme,
                key_set.signers.join(", "),
                if key_set.wallets.is_empty() { "none".to_owned() } else { key_set.wallets.join(", ") }
            )?;
        }
        for signer in &report.access_separation.signers_on_both_sides {
            writeln!(
                out,
                "  FLAG: signer {} holds keys in client key set(s) {} and firm key set(s) {}",
                signer.signer,
                signer.client_key_sets.join(", "),
                signer.firm_key_sets.join(", ")
            )?;
        }
        if shared == 0 {
            writeln!(out, "  no signer holds keys for both client assets and the firm's own")?;
        }
        safeguarding_text(&report, out)?;
        writeln!(out, "(percentages are rounded half to even to 0.01 %; breaches are decided on exact figures)")?;
    }
    Ok(if breached { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// Minor units of a currency as money (`EUR 999.00`), with the minor units beside it.
fn money(currency: &str, minor: u128) -> String {
    match ringfence_core::Currency::parse(currency) {
        Ok(currency) => format!("{} ({minor} minor units)", currency.money(minor)),
        Err(_) => format!("{minor} minor units of {currency}"),
    }
}

/// The safeguarding sections of the report, for people.
fn safeguarding_text(report: &PolicyReport, out: &mut dyn Write) -> Result<()> {
    let policy = &report.safeguarding;
    let defaults = if policy.seq.is_none() { " (defaults)" } else { "" };
    writeln!(
        out,
        "own-account use of client assets: {}{defaults}",
        match policy.own_account_use {
            OwnAccountUse::Forbidden => "forbidden",
            OwnAccountUse::ExpressConsent => "allowed with the client's express consent (legally contested; see docs/safeguarding.md)",
        }
    )?;
    let mut floors = vec![format!("{} for every asset", policy.cold_floor)];
    floors.extend(policy.cold_floors.iter().map(|f| format!("{} for {}", f.cold_floor, f.asset)));
    writeln!(
        out,
        "hot/cold: cold share of client holdings at least {}, in each pool holding assets of {} clients",
        floors.join(", "),
        policy.cold_floor_categories.join(" or ")
    )?;
    for row in &report.hot_cold {
        let verdict = if row.breach && report.cold_pools.iter().any(|pool| pool.asset == row.asset && pool.breach) {
            "a pool below its floor: BREACH (see per pool; an exception is opened)".to_owned()
        } else if row.breach {
            "BREACH (an exception is opened)".to_owned()
        } else if let Some(id) = &row.covered_by {
            format!("below the floor, allowed by risk assessment {id}")
        } else {
            "ok".to_owned()
        };
        writeln!(
            out,
            "  {} ({}): {} hot, {} cold, {} cold against a floor of {}: {verdict}",
            row.symbol,
            row.asset,
            row.client_hot,
            row.client_cold,
            row.cold_share.as_deref().unwrap_or("no client holdings"),
            row.cold_floor
        )?;
    }
    if !report.cold_pools.is_empty() {
        writeln!(
            out,
            "  per pool (the omnibus wallets of an asset, or one segregated client's wallets; pools with nothing hot always meet it):"
        )?;
    }
    for pool in &report.cold_pools {
        let verdict = if !pool.floor_applies {
            format!("the floor does not apply (no {} client's assets)", policy.cold_floor_categories.join(" or "))
        } else if pool.breach {
            "BREACH (an exception is opened)".to_owned()
        } else if let Some(id) = &pool.covered_by {
            format!("below the floor, allowed by risk assessment {id}")
        } else {
            "ok".to_owned()
        };
        writeln!(
            out,
            "    {} {}: {} hot, {} cold, {} cold against a floor of {}: {verdict}",
            pool.symbol, pool.pool, pool.hot, pool.cold, pool.cold_share, pool.cold_floor
        )?;
    }
    let recon = &report.reconciliation;
    match (&recon.last_run_at, &recon.next_due) {
        (Some(last), Some(due)) => writeln!(
            out,
            "reconciliation: at most {} h between runs; last run {} at {last}; next due by {due}{}",
            recon.max_gap_hours,
            recon.last_run.unwrap_or_default(),
            if recon.overdue { ": OVERDUE (an exception is opened)" } else { "" }
        )?,
        _ => writeln!(
            out,
            "reconciliation: at most {} h between runs; no run recorded yet (run `ringfence recon run`)",
            recon.max_gap_hours
        )?,
    }
    for a in &report.risk_assessments {
        writeln!(
            out,
            "  risk assessment {} for {}: cold floor {} until {}{}, recorded by {}, approved by {}: {}",
            a.id,
            a.asset,
            a.cold_floor,
            a.valid_until,
            if a.live { "" } else { " (expired)" },
            a.recorded_by,
            a.approved_by.join(", "),
            a.reason
        )?;
    }
    writeln!(out, "client instructions for encumbrance: {}", report.client_instructions.len())?;
    for i in &report.client_instructions {
        writeln!(
            out,
            "  {} [{}]: {} of client {} for {} ({} benefit), up to {}, {} to {}, {}; {} encumbered, {} rewards; recorded by {} on {} (consent: {})",
            i.id,
            i.state.code(),
            i.asset,
            i.client,
            i.purpose.code(),
            i.beneficiary.code(),
            i.max_amount,
            i.valid_from,
            i.valid_until,
            if i.revocable { "revocable" } else { "irrevocable" },
            i.encumbered,
            i.rewards,
            i.recorded_by,
            i.evidence,
            i.consent.code()
        )?;
    }
    let custody = &report.sub_custody;
    writeln!(out, "sub-custody: authorisations raised {} days before their review date", policy.lapse_notice_days)?;
    let shares = |holdings: &[HoldingShare]| -> String {
        let parts: Vec<String> =
            holdings.iter().map(|h| format!("{} of {} ({} of client holdings)", h.amount, h.asset, h.share_of_client_holdings)).collect();
        if parts.is_empty() { "nothing".to_owned() } else { parts.join(", ") }
    };
    writeln!(out, "  in-house: {}", shares(&custody.in_house))?;
    for sub in &custody.sub_custodians {
        writeln!(
            out,
            "  {} ({}, {} {}): authorisation {} until {}; holds {}",
            sub.registration.id,
            sub.registration.name,
            sub.registration.basis.code(),
            sub.registration.reference,
            sub.status,
            sub.registration.valid_until,
            shares(&sub.holdings)
        )?;
    }
    let fiat = &report.fiat;
    writeln!(
        out,
        "client fiat funds: placed by the end of the next TARGET2 business day{}; at most {} per institution",
        if policy.closing_days.is_empty() { String::new() } else { format!(" (also closed: {})", policy.closing_days.join(", ")) },
        policy.concentration_limit
    )?;
    writeln!(out, "  institutions holding client funds are reviewed every {} days", policy.institution_review_days)?;
    writeln!(
        out,
        "  each client holding assets is sent a statement of position within {} days of its last one",
        policy.statement_interval_days
    )?;
    for review in fiat.reviews.iter().filter(|r| r.holds_client_funds) {
        writeln!(
            out,
            "  {}: registered or last reviewed {} (entry {}), review due by {}{}",
            review.institution,
            review.reviewed_at,
            review.seq,
            review.review_due,
            if review.overdue { ": OVERDUE (an exception is opened)" } else { "" }
        )?;
    }
    for owed in &fiat.owed_to_clients {
        writeln!(
            out,
            "  {}: {} owed to clients, {} placed",
            owed.currency,
            money(&owed.currency, owed.owed),
            money(&owed.currency, owed.placed)
        )?;
    }
    for c in &fiat.concentration {
        writeln!(
            out,
            "  {} at {}: {} ({} of placed client {}){}",
            c.currency,
            c.institution,
            money(&c.currency, c.placed),
            c.share,
            c.currency,
            if c.over_limit { format!(", ABOVE the limit of {}", c.limit) } else { String::new() }
        )?;
    }
    for r in &fiat.unplaced {
        writeln!(
            out,
            "  unplaced: {} of receipt {} for client {}, received {}, due {}{}",
            money(&r.currency, r.unplaced),
            r.key,
            r.client,
            r.received_at,
            r.deadline,
            if r.overdue { " OVERDUE" } else { "" }
        )?;
    }
    Ok(())
}

/// `ringfence policy check`.
fn check(cli: &Cli, out: &mut dyn Write) -> Result<ExitCode> {
    let mut store = open(cli)?;
    let now = clock::now();
    let outcome = ringfence_watch::system::check_safeguards(&mut store, now).context("failed to record the safeguarding check")?;
    let breaches = crate::report::safeguarding_result(&store, outcome.as_ref(), now, out)?;
    Ok(if breaches == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
