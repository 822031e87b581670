//! The JSON the API returns for entities, balances and movements: the same words and codes as
//! the import format (docs/import-format.md), amounts as decimal strings of the smallest unit
//! (a u128 does not fit a JSON number) with the whole-unit decimal beside them.

use ringfence_core::register::kind_name;
use ringfence_core::{
    Account, Action, Asset, AssetId, ClassKind, Client, ClientCategory, Custodian, KeyScheme, KeySet, Movement, Net, OwnAccount, Register,
    Segregation, Side, SubCustodian, Tier, Wallet, WalletClass,
};
use ringfence_store::Recorded;
use ringfence_wire::clock;
use serde_json::{Value, json};

pub fn class_code(class: ClassKind) -> &'static str {
    match class {
        ClassKind::ClientIndividual => "client_individual",
        ClassKind::ClientOmnibus => "client_omnibus",
        ClassKind::Firm => "firm",
    }
}

pub fn asset(asset: &Asset) -> Value {
    json!({"id": asset.id.as_str(), "scale": asset.scale, "symbol": asset.symbol})
}

pub fn client(client: &Client) -> Value {
    json!({
        "id": client.id.as_str(),
        "category": match client.category { ClientCategory::Retail => "retail", ClientCategory::Professional => "professional" },
        "segregation": match client.segregation { Segregation::Individual => "individual", Segregation::Omnibus => "omnibus" },
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
        "class": class_code(wallet.class.kind()),
        "client": client,
        "tier": match wallet.tier { Tier::Hot => "hot", Tier::Cold => "cold" },
        "sub_custodian": sub_custodian,
        "key_set": wallet.key_set.as_str(),
    })
}

pub fn key_set(key_set: &KeySet) -> Value {
    let (scheme, threshold) = match key_set.scheme {
        KeyScheme::Multisig { threshold } => ("multisig", Some(threshold)),
        KeyScheme::Mpc { threshold } => ("mpc", Some(threshold)),
        KeyScheme::Hsm => ("hsm", None),
    };
    json!({
        "id": key_set.id.as_str(),
        "scheme": scheme,
        "threshold": threshold,
        "signers": key_set.signers,
        "class": class_code(key_set.class),
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

/// A signed amount of an asset: smallest units and whole units.
pub fn amount(register: &Register, asset: &AssetId, net: Net) -> Value {
    let scale = register.asset(asset).map_or(0, |a| a.scale);
    let sign = if net.negative && !net.amount.is_zero() { "-" } else { "" };
    json!({"asset": asset.as_str(), "amount": format!("{sign}{}", net.amount), "decimal": format!("{sign}{}", net.amount.to_decimal(scale))})
}

pub fn account(account: &Account) -> String {
    match account {
        Account::Position(client) => format!("position:{client}"),
        Account::Holding(wallet) => format!("holding:{wallet}"),
        Account::Own(OwnAccount::Capital) => "own:capital".into(),
        Account::Own(OwnAccount::FeeIncome) => "own:fee_income".into(),
    }
}

pub fn movement(movement: &Movement) -> Value {
    let postings: Vec<Value> = movement
        .postings
        .iter()
        .map(|p| {
            json!({
                "side": if p.side == Side::Debit { "debit" } else { "credit" },
                "account": account(&p.account),
                "asset": p.asset.as_str(),
                "amount": p.amount.to_string(),
            })
        })
        .collect();
    json!({
        "key": movement.key.as_str(),
        "kind": kind_name(movement.kind),
        "corrects": movement.corrects.as_ref().map(|k| k.as_str()),
        "postings": postings,
    })
}

/// What kind of entry a journal entry is.
pub fn action_code(action: &Action) -> &'static str {
    match action {
        Action::RegisterAsset(_) => "asset",
        Action::RegisterClient(_) => "client",
        Action::RegisterSubCustodian(_) => "sub_custodian",
        Action::UpdateSubCustodianAuthorisation { .. } => "sub_custodian_authorisation",
        Action::RegisterKeySet(_) => "key_set",
        Action::RegisterWallet(_) => "wallet",
        Action::Movement(m) => kind_name(m.kind),
        Action::RegisterApiToken(_) => "api_token",
        Action::RevokeApiToken { .. } => "api_token_revocation",
        Action::SetApprovalPolicy(_) => "approval_policy",
        Action::ApprovePending { .. } => "approve",
        Action::RejectPending { .. } => "reject",
        Action::ExpirePending { .. } => "expire",
        Action::ChangeWallet(_) => "wallet_change",
        Action::WatchChain { .. } => "chain_watch",
        Action::ObserveChain(_) => "chain_observation",
        Action::RecordReconRun(_) => "recon_run",
        Action::SetExceptionPolicy(_) => "exception_policy",
        Action::InvestigateException { .. } => "exception_investigate",
        Action::ProposeResolution { .. } => "exception_resolve",
        Action::ApproveResolution { .. } => "exception_approve",
        Action::RejectResolution { .. } => "exception_reject",
        Action::EscalateException { .. } => "exception_escalate",
        Action::Safeguard(action) => action.code(),
    }
}

/// One journaled movement (history).
pub fn recorded(recorded: &Recorded) -> Value {
    let body = match &recorded.command.action {
        Action::Movement(m) => movement(m),
        other => json!({"kind": action_code(other)}),
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
