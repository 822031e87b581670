//! The JSON the API returns for movements (histories, pending instructions), still built here
//! with `json!`: the same words and codes as the import format (docs/import-format.md), amounts
//! as decimal strings of the smallest unit (a u128 does not fit a JSON number). Entities,
//! balances and the other reports are typed views in `ringfence_wire::views`.

use ringfence_core::{Action, Movement};
use ringfence_store::Recorded;
use ringfence_wire::clock;
use serde_json::{Value, json};

pub fn movement(movement: &Movement) -> Value {
    let postings: Vec<Value> = movement
        .postings
        .iter()
        .map(|p| {
            json!({
                "side": p.side.code(),
                "account": ringfence_wire::views::account_code(&p.account),
                "asset": p.asset.as_str(),
                "amount": p.amount.to_string(),
            })
        })
        .collect();
    json!({
        "key": movement.key.as_str(),
        "kind": movement.kind.code(),
        "corrects": movement.corrects.as_ref().map(|k| k.as_str()),
        "postings": postings,
    })
}

/// One journaled movement (history).
pub fn recorded(recorded: &Recorded) -> Value {
    let body = match &recorded.command.action {
        Action::Movement(m) => movement(m),
        other => json!({"kind": other.code()}),
    };
    json!({
        "seq": recorded.seq,
        "recorded_at": clock::format(recorded.recorded_at),
        "effective_at": clock::format(recorded.command.meta.effective_at),
        "actor": recorded.command.meta.actor.as_str(),
        "instruction": recorded.command.meta.instruction.as_str(),
        "approved_pending": recorded.pending,
        "movement": body,
    })
}
