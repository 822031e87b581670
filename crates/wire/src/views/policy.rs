//! Every policy in force as JSON, with the evidence of how it is met: what `ringfence policy
//! show` prints and `GET /v1/policy` returns, from one place. Four-eyes approvals, exception
//! clocks, the safeguarding policy (own-account use, cold floors, sub-custody notice, fiat
//! calendar and concentration limit), the hot/cold split per asset with the risk assessments,
//! client instructions and what they encumber, sub-custodians with their share of client
//! assets, access separation, and client fiat funds.

use std::collections::BTreeMap;

use ringfence_core::register::{AssessmentRecord, class_name, share_bp};
use ringfence_core::safeguard::percent;
use ringfence_core::{Account, Custodian, KeyScheme, PendingState, Register, Timestamp};
use serde_json::{Value, json};

use crate::clock;

pub fn scheme(scheme: &KeyScheme, signers: usize) -> String {
    match scheme {
        KeyScheme::Multisig { threshold } => format!("multisig {threshold} of {signers}"),
        KeyScheme::Mpc { threshold } => format!("mpc {threshold} of {signers}"),
        KeyScheme::Hsm => format!("hsm under {signers} signer(s)"),
    }
}

/// Who approved the command applied at `seq` (empty when it applied without four-eyes).
fn approvers(register: &Register, seq: u64) -> Vec<String> {
    register
        .pendings()
        .find(|pending| pending.state == PendingState::Applied { seq })
        .map(|pending| pending.approvals.iter().map(|(actor, _)| actor.as_str().to_owned()).collect())
        .unwrap_or_default()
}

fn assessment(register: &Register, record: &AssessmentRecord, now: Timestamp) -> Value {
    let a = &record.assessment;
    json!({
        "id": a.id.as_str(),
        "asset": a.asset.as_str(),
        "cold_floor": percent(a.cold_floor_bp),
        "valid_until": clock::format(a.valid_until),
        "live": now <= a.valid_until,
        "reason": a.reason,
        "recorded_by": record.recorded_by.as_str(),
        "approved_by": approvers(register, record.seq),
        "seq": record.seq,
    })
}

/// The report at `now` (which instructions are live, which authorisations lapse, which fiat is
/// overdue).
pub fn report(register: &Register, now: Timestamp) -> Value {
    let approvals = register.approval_policy().map(|(policy, seq)| {
        json!({
            "seq": seq,
            "approvals": policy.approvals,
            "expiry_hours": policy.expiry_hours,
            "withdrawal_thresholds": policy.withdrawal_thresholds.iter().map(|(asset, amount)| json!({"asset": asset.as_str(), "amount": amount.to_string()})).collect::<Vec<_>>(),
        })
    });
    let (exceptions, exceptions_seq) = register.exception_policy();
    json!({
        "approvals": approvals,
        "exceptions": {"seq": exceptions_seq, "resolution_hours": exceptions.resolution_hours, "confirmation_hours": exceptions.confirmation_hours},
        "safeguarding": safeguarding(register),
        "hot_cold": hot_cold(register, now),
        "risk_assessments": register.risk_assessments().iter().map(|record| assessment(register, record, now)).collect::<Vec<_>>(),
        "client_instructions": instructions(register, now),
        "sub_custody": sub_custody(register, now),
        "access_separation": access(register),
        "fiat": fiat(register, now),
    })
}

/// The safeguarding policy in force (the defaults until one is set, `seq` null), as in the
/// report and `GET /v1/policy/safeguarding`.
pub fn safeguarding(register: &Register) -> Value {
    let (safeguarding, safeguarding_seq) = register.safeguarding_policy();
    json!({
        "seq": safeguarding_seq,
        "own_account_use": safeguarding.own_account_use.code(),
        "cold_floor": percent(safeguarding.cold_floor_bp),
        "cold_floors": safeguarding.cold_floors.iter().map(|(asset, floor)| json!({"asset": asset.as_str(), "cold_floor": percent(*floor)})).collect::<Vec<_>>(),
        "lapse_notice_days": safeguarding.lapse_notice_days,
        "closing_days": safeguarding.closing_days.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "concentration_limit": percent(safeguarding.concentration_limit_bp),
    })
}

fn hot_cold(register: &Register, now: Timestamp) -> Vec<Value> {
    let (policy, _) = register.safeguarding_policy();
    register
        .summary()
        .iter()
        .enumerate()
        .map(|(index, row)| {
            let (hot, cold) = (row.client_hot.units(), row.client_cold.units());
            let total = hot + cold;
            let floor = policy.cold_floor(&row.asset.id);
            let below = total > 0 && share_bp(cold, total) < floor;
            let covering = register.covering_assessment(index as u32, now);
            json!({
                "asset": row.asset.id.as_str(),
                "symbol": row.asset.symbol,
                "client_hot": hot.to_string(),
                "client_cold": cold.to_string(),
                "cold_share": if total == 0 { Value::Null } else { json!(percent(share_bp(cold, total))) },
                "cold_floor": percent(floor),
                "covered_by": if below { covering.map(|record| json!(record.assessment.id.as_str())) } else { None },
                "breach": below && covering.is_none(),
            })
        })
        .collect()
}

fn instructions(register: &Register, now: Timestamp) -> Vec<Value> {
    register
        .client_instructions()
        .iter()
        .map(|record| {
            let i = &record.instruction;
            let state = match (record.revoked, record.live_at(now)) {
                (Some(_), _) => "revoked",
                (None, Ok(())) => "live",
                (None, Err(_)) if now < i.valid_from => "not_yet_valid",
                (None, Err(_)) => "expired",
            };
            json!({
                "id": i.id.as_str(),
                "client": i.client.as_str(),
                "asset": i.asset.as_str(),
                "purpose": i.purpose.code(),
                "beneficiary": i.beneficiary.code(),
                "max_amount": i.max_amount.to_string(),
                "valid_from": clock::format(i.valid_from),
                "valid_until": clock::format(i.valid_until),
                "revocable": i.revocable,
                "evidence": i.evidence,
                "recorded_by": record.recorded_by.as_str(),
                "approved_by": approvers(register, record.seq),
                "seq": record.seq,
                "state": state,
                "revoked_at": record.revoked.map(|(_, at)| clock::format(at)),
                "encumbered": record.encumbered.to_string(),
                "rewards": record.rewards.to_string(),
            })
        })
        .collect()
}

fn sub_custody(register: &Register, now: Timestamp) -> Value {
    // Client-class holdings per asset and custodian (None: in-house).
    let mut held: BTreeMap<(String, Option<String>), u128> = BTreeMap::new();
    let mut totals: BTreeMap<String, u128> = BTreeMap::new();
    for wallet in register.wallets().filter(|wallet| wallet.class.kind().is_client()) {
        let custodian = match &wallet.custodian {
            Custodian::InHouse => None,
            Custodian::SubCustodian(id) => Some(id.as_str().to_owned()),
        };
        for (asset, amount) in register.balances_of(&Account::Holding(wallet.id.clone())).unwrap_or_default() {
            *held.entry((asset.as_str().to_owned(), custodian.clone())).or_default() += amount.units();
            *totals.entry(asset.as_str().to_owned()).or_default() += amount.units();
        }
    }
    let shares = |custodian: Option<&str>| -> Vec<Value> {
        held.iter()
            .filter(|((_, c), _)| c.as_deref() == custodian)
            .map(|((asset, _), amount)| {
                let total = totals.get(asset).copied().unwrap_or(0);
                json!({"asset": asset, "amount": amount.to_string(), "share_of_client_holdings": percent(share_bp(*amount, total))})
            })
            .collect()
    };
    let subs: Vec<Value> = register
        .sub_custodians()
        .map(|sub| {
            let status = register.authorisation_status(sub, now);
            json!({
                "id": sub.id.as_str(),
                "name": sub.name,
                "basis": sub.basis.code(),
                "reference": sub.reference,
                "valid_until": clock::format(sub.valid_until),
                "status": status,
                "holdings": shares(Some(sub.id.as_str())),
            })
        })
        .collect();
    json!({"in_house": shares(None), "sub_custodians": subs})
}

fn access(register: &Register) -> Value {
    let (access, shared) = register.access_separation();
    json!({
        "key_sets": access.iter().map(|a| json!({
            "id": a.key_set.id.as_str(),
            "class": class_name(a.key_set.class),
            "scheme": scheme(&a.key_set.scheme, a.key_set.signers.len()),
            "signers": a.key_set.signers,
            "wallets": a.wallets.iter().map(|w| w.as_str()).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "signers_on_both_sides": shared.iter().map(|s| json!({
            "signer": s.signer,
            "client_key_sets": s.client_key_sets.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
            "firm_key_sets": s.firm_key_sets.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

fn fiat(register: &Register, now: Timestamp) -> Value {
    let (policy, _) = register.safeguarding_policy();
    // Placed client funds per currency and institution.
    let mut placed: BTreeMap<(String, String), u128> = BTreeMap::new();
    let mut placed_total: BTreeMap<String, u128> = BTreeMap::new();
    for record in register.fiat_accounts().iter().filter(|r| r.account.class == ringfence_core::FiatAccountClass::ClientFunds) {
        let currency = record.account.currency.as_str().to_owned();
        *placed.entry((currency.clone(), record.account.institution.as_str().to_owned())).or_default() += record.balance;
        *placed_total.entry(currency).or_default() += record.balance;
    }
    let concentration: Vec<Value> = placed
        .iter()
        .map(|((currency, institution), amount)| {
            let share = share_bp(*amount, placed_total.get(currency).copied().unwrap_or(0));
            json!({
                "currency": currency,
                "institution": institution,
                "placed": amount.to_string(),
                "share": percent(share),
                "limit": percent(policy.concentration_limit_bp),
                "over_limit": share > policy.concentration_limit_bp,
            })
        })
        .collect();
    let mut owed: BTreeMap<String, u128> = BTreeMap::new();
    for (_, currency, amount) in register.fiat_positions() {
        *owed.entry(currency.as_str().to_owned()).or_default() += amount;
    }
    json!({
        "institutions": register.institutions().map(|i| json!({"id": i.id.as_str(), "name": i.name, "kind": i.kind.code(), "reference": i.reference})).collect::<Vec<_>>(),
        "accounts": register.fiat_accounts().iter().map(|r| json!({
            "id": r.account.id.as_str(),
            "institution": r.account.institution.as_str(),
            "currency": r.account.currency.as_str(),
            "class": r.account.class.code(),
            "reference": r.account.reference,
            "balance": r.balance.to_string(),
        })).collect::<Vec<_>>(),
        "owed_to_clients": owed.iter().map(|(currency, amount)| json!({
            "currency": currency,
            "owed": amount.to_string(),
            "placed": placed_total.get(currency).copied().unwrap_or(0).to_string(),
        })).collect::<Vec<_>>(),
        "unplaced": register.fiat_receipts().iter().filter(|r| r.unplaced() > 0).map(|r| json!({
            "key": r.receipt.key.as_str(),
            "client": r.receipt.client.as_str(),
            "currency": r.receipt.currency.as_str(),
            "amount": r.receipt.amount.to_string(),
            "unplaced": r.unplaced().to_string(),
            "received_at": clock::format(r.received_at),
            "deadline": clock::format(r.deadline),
            "overdue": now >= r.deadline,
        })).collect::<Vec<_>>(),
        "concentration": concentration,
    })
}
