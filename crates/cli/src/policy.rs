//! `ringfence policy show`: the policies in force, with evidence of how they are met: the
//! four-eyes approval policy, the exception clocks, and access separation (key sets, their
//! schemes, signers and wallets; signers who hold keys on both sides of the wall).

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use ringfence_core::{KeyScheme, Register};
use serde_json::{Value, json};

use crate::{Cli, open};

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Print every policy in force and the access-separation report. Exit 1 when a signer
    /// holds keys for client assets and for the firm's own.
    Show {
        #[arg(long)]
        json: bool,
    },
}

fn scheme(scheme: &KeyScheme, signers: usize) -> String {
    match scheme {
        KeyScheme::Multisig { threshold } => format!("multisig {threshold} of {signers}"),
        KeyScheme::Mpc { threshold } => format!("mpc {threshold} of {signers}"),
        KeyScheme::Hsm => format!("hsm under {signers} signer(s)"),
    }
}

fn report(register: &Register) -> Value {
    let approvals = register.approval_policy().map(|(policy, seq)| {
        json!({
            "seq": seq,
            "approvals": policy.approvals,
            "expiry_hours": policy.expiry_hours,
            "withdrawal_thresholds": policy.withdrawal_thresholds.iter().map(|(asset, amount)| json!({"asset": asset.as_str(), "amount": amount.to_string()})).collect::<Vec<_>>(),
        })
    });
    let (exceptions, exceptions_seq) = register.exception_policy();
    let (access, shared) = register.access_separation();
    json!({
        "approvals": approvals,
        "exceptions": {"seq": exceptions_seq, "resolution_hours": exceptions.resolution_hours, "confirmation_hours": exceptions.confirmation_hours},
        "access_separation": {
            "key_sets": access.iter().map(|a| json!({
                "id": a.key_set.id.as_str(),
                "class": ringfence_core::register::class_name(a.key_set.class),
                "scheme": scheme(&a.key_set.scheme, a.key_set.signers.len()),
                "signers": a.key_set.signers,
                "wallets": a.wallets.iter().map(|w| w.as_str()).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "signers_on_both_sides": shared.iter().map(|s| json!({
                "signer": s.signer,
                "client_key_sets": s.client_key_sets.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
                "firm_key_sets": s.firm_key_sets.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        },
    })
}

pub fn run(cli: &Cli, command: &PolicyCommand, out: &mut dyn Write) -> Result<ExitCode> {
    let PolicyCommand::Show { json } = command;
    let store = open(cli)?;
    let value = report(store.register());
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
    }
    Ok(if shared > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
