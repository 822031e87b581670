//! The JSON the API returns for entities, balances and movements: the same words and codes as
//! the import format (docs/import-format.md), amounts as decimal strings of the smallest unit
//! (a u128 does not fit a JSON number) with the whole-unit decimal beside them.

use ringfence_core::{Action, Asset, Client, Custodian, KeySet, Movement, SubCustodian, Wallet, WalletClass};
use ringfence_store::Recorded;
use ringfence_wire::clock;
use serde_json::{Value, json};

pub fn asset(asset: &Asset) -> Value {
    json!({"id": asset.id.as_str(), "scale": asset.scale, "symbol": asset.symbol})
}

pub fn client(client: &Client) -> Value {
    json!({
        "id": client.id.as_str(),
        "category": client.category.code(),
        "segregation": client.segregation.code(),
    })
}

pub fn wallet(wallet: &Wallet) -> Value {
    let client = match &wallet.class {
        WalletClass::ClientIndividual(client) => Some(client.as_str()),
        _ => None,
    };
    let sub_custodian = match &wallet.custodian {
        Custodian::InHouse => None,
        Custodian::SubCustodian(id) => Some(id.as_str()),
    };
    json!({
        "id": wallet.id.as_str(),
        "address": wallet.address.as_str(),
        "class": wallet.class.kind().code(),
        "client": client,
        "tier": wallet.tier.code(),
        "sub_custodian": sub_custodian,
        "key_set": wallet.key_set.as_str(),
    })
}

pub fn key_set(key_set: &KeySet) -> Value {
    json!({
        "id": key_set.id.as_str(),
        "scheme": key_set.scheme.kind().code(),
        "threshold": key_set.scheme.threshold(),
        "signers": key_set.signers,
        "class": key_set.class.code(),
    })
}

pub fn sub_custodian(sub: &SubCustodian) -> Value {
    json!({
        "id": sub.id.as_str(),
        "name": sub.name,
        "basis": sub.basis.code(),
        "reference": sub.reference,
        "valid_until": clock::format(sub.valid_until),
    })
}

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
