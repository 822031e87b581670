//! `ringfence policy show`: every policy in force, with evidence of how it is met (the report
//! is built by `ringfence_wire::policy`, shared with `GET /v1/policy`); `ringfence policy
//! check`: the safeguarding check on demand.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Subcommand;
use ringfence_wire::clock;
use serde_json::Value;

use crate::{Cli, open};

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Print every policy in force and the access-separation report. Exit 1 when a signer
    /// holds keys for client assets and for the firm's own.
    Show {
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
    let store = open(cli)?;
    let value = ringfence_wire::policy::report(store.register(), clock::now());
    let shared = value["access_separation"]["signers_on_both_sides"].as_array().map_or(0, Vec::len);
    if *json {
        writeln!(out, "{value}")?;
    } else {
        match &value["approvals"] {
            Value::Null => writeln!(out, "four-eyes approvals: none in force (nothing waits for approval)")?,
            policy => {
                let thresholds: Vec<String> = policy["withdrawal_thresholds"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|t| format!("{} above {}", t["asset"].as_str().unwrap_or_default(), t["amount"].as_str().unwrap_or_default()))
                    .collect();
                writeln!(
                    out,
                    "four-eyes approvals: {} approval(s) from others than the initiator, within {} h (entry {}); withdrawals needing approval: {}",
                    policy["approvals"],
                    policy["expiry_hours"],
                    policy["seq"],
                    if thresholds.is_empty() { "none".to_owned() } else { thresholds.join(", ") }
                )?;
            }
        }
        let exceptions = &value["exceptions"];
        writeln!(
            out,
            "exceptions: due {} h after they open, then escalated; legs wait {} h for their counterpart{}",
            exceptions["resolution_hours"],
            exceptions["confirmation_hours"],
            if exceptions["seq"].is_null() { " (defaults)" } else { "" }
        )?;
        writeln!(out, "access separation: a key set serves one class of wallet (enforced at registration)")?;
        for key_set in value["access_separation"]["key_sets"].as_array().into_iter().flatten() {
            let strings = |field: &str| -> String {
                key_set[field].as_array().into_iter().flatten().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")
            };
            let wallets = strings("wallets");
            writeln!(
                out,
                "  {} ({}, {}): signers {}; wallets {}",
                key_set["id"].as_str().unwrap_or_default(),
                key_set["class"].as_str().unwrap_or_default(),
                key_set["scheme"].as_str().unwrap_or_default(),
                strings("signers"),
                if wallets.is_empty() { "none".to_owned() } else { wallets }
            )?;
        }
        for signer in value["access_separation"]["signers_on_both_sides"].as_array().into_iter().flatten() {
            writeln!(
                out,
                "  FLAG: signer {} holds keys in client key set(s) {} and firm key set(s) {}",
                signer["signer"].as_str().unwrap_or_default(),
                signer["client_key_sets"],
                signer["firm_key_sets"]
            )?;
        }
        if shared == 0 {
            writeln!(out, "  no signer holds keys for both client assets and the firm's own")?;
        }
        safeguarding_text(&value, out)?;
    }
    Ok(if shared > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

/// The safeguarding sections of the report, for people.
fn safeguarding_text(value: &Value, out: &mut dyn Write) -> Result<()> {
    let policy = &value["safeguarding"];
    let defaults = if policy["seq"].is_null() { " (defaults)" } else { "" };
    writeln!(
        out,
        "own-account use of client assets: {}{defaults}",
        if text(&policy["own_account_use"]) == "forbidden" {
            "forbidden"
        } else {
            "allowed with the client's express consent (legally contested; see docs/safeguarding.md)"
        }
    )?;
    let mut floors = vec![format!("{} for every asset", text(&policy["cold_floor"]))];
    floors.extend(
        policy["cold_floors"].as_array().into_iter().flatten().map(|f| format!("{} for {}", text(&f["cold_floor"]), text(&f["asset"]))),
    );
    writeln!(out, "hot/cold: cold share of client holdings at least {}", floors.join(", "))?;
    for row in value["hot_cold"].as_array().into_iter().flatten() {
        let verdict = if row["breach"] == true {
            "BREACH (an exception is opened)".to_owned()
        } else if let Some(id) = row["covered_by"].as_str() {
            format!("below the floor, allowed by risk assessment {id}")
        } else {
            "ok".to_owned()
        };
        writeln!(
            out,
            "  {} ({}): {} hot, {} cold, {} cold against a floor of {}: {verdict}",
            text(&row["symbol"]),
            text(&row["asset"]),
            text(&row["client_hot"]),
            text(&row["client_cold"]),
            row["cold_share"].as_str().unwrap_or("no client holdings"),
            text(&row["cold_floor"])
        )?;
    }
    for a in value["risk_assessments"].as_array().into_iter().flatten() {
        writeln!(
            out,
            "  risk assessment {} for {}: cold floor {} until {}{}, recorded by {}, approved by {}: {}",
            text(&a["id"]),
            text(&a["asset"]),
            text(&a["cold_floor"]),
            text(&a["valid_until"]),
            if a["live"] == true { "" } else { " (expired)" },
            text(&a["recorded_by"]),
            a["approved_by"].as_array().into_iter().flatten().filter_map(Value::as_str).collect::<Vec<_>>().join(", "),
            text(&a["reason"])
        )?;
    }
    let instructions = value["client_instructions"].as_array().map_or(&[][..], Vec::as_slice);
    writeln!(out, "client instructions for encumbrance: {}", instructions.len())?;
    for i in instructions {
        writeln!(
            out,
            "  {} [{}]: {} of client {} for {} ({} benefit), up to {}, {} to {}, {}; {} encumbered, {} rewards; recorded by {} on {}",
            text(&i["id"]),
            text(&i["state"]),
            text(&i["asset"]),
            text(&i["client"]),
            text(&i["purpose"]),
            text(&i["beneficiary"]),
            text(&i["max_amount"]),
            text(&i["valid_from"]),
            text(&i["valid_until"]),
            if i["revocable"] == true { "revocable" } else { "irrevocable" },
            text(&i["encumbered"]),
            text(&i["rewards"]),
            text(&i["recorded_by"]),
            text(&i["evidence"])
        )?;
    }
    let custody = &value["sub_custody"];
    writeln!(out, "sub-custody: authorisations raised {} days before their review date", policy["lapse_notice_days"])?;
    let shares = |holdings: &Value| -> String {
        let parts: Vec<String> = holdings
            .as_array()
            .into_iter()
            .flatten()
            .map(|h| {
                format!("{} of {} ({} of client holdings)", text(&h["amount"]), text(&h["asset"]), text(&h["share_of_client_holdings"]))
            })
            .collect();
        if parts.is_empty() { "nothing".to_owned() } else { parts.join(", ") }
    };
    writeln!(out, "  in-house: {}", shares(&custody["in_house"]))?;
    for sub in custody["sub_custodians"].as_array().into_iter().flatten() {
        writeln!(
            out,
            "  {} ({}, {} {}): authorisation {} until {}; holds {}",
            text(&sub["id"]),
            text(&sub["name"]),
            text(&sub["basis"]),
            text(&sub["reference"]),
            text(&sub["status"]),
            text(&sub["valid_until"]),
            shares(&sub["holdings"])
        )?;
    }
    let fiat = &value["fiat"];
    let closing: Vec<&str> = policy["closing_days"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    writeln!(
        out,
        "client fiat funds: placed by the end of the next TARGET2 business day{}; at most {} per institution",
        if closing.is_empty() { String::new() } else { format!(" (also closed: {})", closing.join(", ")) },
        text(&policy["concentration_limit"])
    )?;
    for owed in fiat["owed_to_clients"].as_array().into_iter().flatten() {
        writeln!(out, "  {}: {} owed to clients, {} placed", text(&owed["currency"]), text(&owed["owed"]), text(&owed["placed"]))?;
    }
    for c in fiat["concentration"].as_array().into_iter().flatten() {
        writeln!(
            out,
            "  {} at {}: {} ({} of placed client {}){}",
            text(&c["currency"]),
            text(&c["institution"]),
            text(&c["placed"]),
            text(&c["share"]),
            text(&c["currency"]),
            if c["over_limit"] == true { format!(", ABOVE the limit of {}", text(&c["limit"])) } else { String::new() }
        )?;
    }
    for r in fiat["unplaced"].as_array().into_iter().flatten() {
        writeln!(
            out,
            "  unplaced: {} {} of receipt {} for client {}, received {}, due {}{}",
            text(&r["unplaced"]),
            text(&r["currency"]),
            text(&r["key"]),
            text(&r["client"]),
            text(&r["received_at"]),
            text(&r["deadline"]),
            if r["overdue"] == true { " OVERDUE" } else { "" }
        )?;
    }
    Ok(())
}

/// `ringfence policy check`.
fn check(cli: &Cli, out: &mut dyn Write) -> Result<ExitCode> {
    let mut store = open(cli)?;
    let now = clock::now();
    let outcome = store.check_safeguards(now).context("failed to record the safeguarding check")?;
    crate::report::safeguard_check(&store, outcome.as_ref(), out)?;
    let breaches = store.register().safeguard_breaches(now);
    if breaches.is_empty() {
        writeln!(out, "safeguarding: no breach")?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(out, "safeguarding: {} breach(es) stand, each with an unresolved exception:", breaches.len())?;
    for found in &breaches {
        writeln!(out, "  [{}] {}: {}", found.severity.code(), found.kind.code(), found.detail)?;
    }
    Ok(ExitCode::from(1))
}
