//! Safeguarding policies inside the register (see [`crate::safeguard`]): the policy, client
//! instructions and encumbrance, risk assessments, client fiat funds, and the checks that turn
//! breaches into exceptions.

use std::collections::{BTreeMap, BTreeSet};

use super::{Check, HashMap, Register, Registered, Slot, reject};
use crate::calendar::Calendar;
use crate::entity::Custodian;
use crate::ids::{Actor, AssessmentId, ClientId, FiatAccountId, IdempotencyKey, InstitutionId, InstructionId};
use crate::movement::{Meta, Movement, MovementKind, Side};
use crate::oversight::{Break, ExceptionKind, Severity};
use crate::safeguard::{
    BP_MAX, Beneficiary, ClientInstruction, Currency, FiatAccount, FiatAccountClass, FiatReceipt, Institution, InstitutionKind,
    OwnAccountUse, RiskAssessment, SafeguardAction, SafeguardingPolicy, TEXT_BYTES_MAX, percent,
};
use crate::status::{Outcome, Status};
use crate::time::Timestamp;

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// A client instruction as recorded, with what it encumbers now.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InstructionRecord {
    pub instruction: ClientInstruction,
    pub recorded_by: Actor,
    pub seq: u64,
    /// The revocation: its sequence number and time.
    pub revoked: Option<(u64, Timestamp)>,
    /// What is encumbered under it now.
    pub encumbered: u128,
    /// Rewards credited under it so far.
    pub rewards: u128,
}

impl InstructionRecord {
    /// Whether further encumbrance is allowed at `at`; else why not.
    pub fn live_at(&self, at: Timestamp) -> Result<(), String> {
        let id = &self.instruction.id;
        if let Some((seq, _)) = self.revoked {
            return Err(format!("client instruction {id} was revoked at sequence {seq}"));
        }
        if at < self.instruction.valid_from {
            return Err(format!("client instruction {id} is not valid yet"));
        }
        if at > self.instruction.valid_until {
            return Err(format!("client instruction {id} expired"));
        }
        Ok(())
    }
}

/// A risk assessment as recorded; it applies only once four-eyes approval completes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AssessmentRecord {
    pub assessment: RiskAssessment,
    pub recorded_by: Actor,
    pub seq: u64,
}

/// A fiat account with its balance.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FiatAccountRecord {
    pub account: FiatAccount,
    pub seq: u64,
    pub balance: u128,
}

/// A fiat receipt with its deadline and what is placed of it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReceiptRecord {
    pub receipt: FiatReceipt,
    pub seq: u64,
    pub received_at: Timestamp,
    /// The end of the next business day after receipt.
    pub deadline: Timestamp,
    pub placed: u128,
}

impl ReceiptRecord {
    pub fn unplaced(&self) -> u128 {
        self.receipt.amount.units() - self.placed
    }
}

/// A recorded safeguarding check.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CheckRecord {
    pub id: u64,
    pub actor: Actor,
    pub recorded_at: Timestamp,
    pub exceptions: Vec<u64>,
}

/// The safeguarding part of the register's state.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(super) struct Safeguards {
    policy: Option<Registered<SafeguardingPolicy>>,
    instructions: Vec<InstructionRecord>,
    instruction_index: HashMap<InstructionId, u32>,
    /// What is encumbered per (client, asset) over all instructions; movements may not take a
    /// position below it.
    pub(super) encumbered: HashMap<(u32, u32), u128>,
    /// Encumbrances, releases and fiat events by key, for idempotency.
    events: HashMap<IdempotencyKey, (u64, SafeguardAction)>,
    assessments: Vec<AssessmentRecord>,
    assessment_index: HashMap<AssessmentId, u32>,
    institutions: Vec<Registered<Institution>>,
    institution_index: HashMap<InstitutionId, u32>,
    /// Per institution (by index): when it was registered or last reviewed, the instant its
    /// review period runs from, and the sequence number of that entry.
    institution_reviewed: Vec<(Timestamp, u64)>,
    accounts: Vec<FiatAccountRecord>,
    account_index: HashMap<FiatAccountId, u32>,
    receipts: Vec<ReceiptRecord>,
    receipt_index: HashMap<IdempotencyKey, u32>,
    /// Receipts not wholly placed, by deadline.
    unplaced: BTreeSet<(Timestamp, u32)>,
    /// Client fiat owed per client and currency.
    fiat_positions: BTreeMap<(ClientId, Currency), u128>,
    checks: Vec<CheckRecord>,
    /// Receipts placed after their deadline whose missed deadline no check has recorded yet.
    placed_late: Vec<u32>,
}

impl Safeguards {
    /// For a restored checkpoint: the indexes point at records held, with the right ids.
    pub(super) fn check_indexes(&self) -> Result<(), String> {
        use super::checkpoint::{index_matches, same_length, within};
        index_matches("client instruction", &self.instruction_index, &self.instructions, |r| &r.instruction.id)?;
        index_matches("risk assessment", &self.assessment_index, &self.assessments, |r| &r.assessment.id)?;
        index_matches("institution", &self.institution_index, &self.institutions, |r| &r.value.id)?;
        index_matches("fiat account", &self.account_index, &self.accounts, |r| &r.account.id)?;
        index_matches("fiat receipt", &self.receipt_index, &self.receipts, |r| &r.receipt.key)?;
        same_length("institution reviews", self.institution_reviewed.len(), self.institutions.len())?;
        within("an unplaced receipt", self.unplaced.iter().map(|&(_, i)| i as usize), self.receipts.len())?;
        within("a receipt placed late", self.placed_late.iter().map(|&i| i as usize), self.receipts.len())
    }
}

fn text_problem(name: &str, value: &str) -> Option<String> {
    if value.trim().is_empty() {
        return Some(format!("{name} is empty"));
    }
    if value.len() > TEXT_BYTES_MAX {
        return Some(format!("{name} is {} bytes; at most {TEXT_BYTES_MAX}", value.len()));
    }
    None
}

/// `a * b` as (high, low) 128-bit halves, for `b` below 2^64.
fn widened(a: u128, b: u128) -> (u128, u128) {
    let (high_half, low_half) = (a >> 64, a & u128::from(u64::MAX));
    let (top, bottom) = (high_half * b, low_half * b);
    let low = (top << 64).wrapping_add(bottom);
    let carry = u128::from(low < bottom);
    ((top >> 64) + carry, low)
}

/// Whether `part / whole` is below `floor_bp / 10 000`, exactly.
pub(crate) fn share_below(part: u128, whole: u128, floor_bp: u16) -> bool {
    widened(part, u128::from(BP_MAX)) < widened(whole, u128::from(floor_bp))
}

/// Issue 15's rules apply to entries recorded from this instant on (2026-12-07T00:00:00Z):
/// checks record placed client funds above the concentration limit, and a fiat placement after
/// its deadline leaves an exception. Entries recorded before it were decided without them,
/// and a replay decides them the same way.
pub const ISSUE_15_RULES_FROM: Timestamp = Timestamp::from_micros(1_796_601_600_000_000);

/// A pool of client assets of one asset, for the cold floor: the omnibus wallets, or one
/// individually segregated client's wallets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColdPool {
    pub asset: crate::ids::AssetId,
    /// The individually segregated client whose wallets these are; `None` for the omnibus pool.
    pub client: Option<ClientId>,
    pub hot: u128,
    pub cold: u128,
    /// The policy's floor for the asset.
    pub floor_bp: u16,
    /// Whether the floor applies: the pool holds assets of a client of a category it protects.
    pub covered: bool,
}

impl ColdPool {
    pub fn total(&self) -> u128 {
        self.hot.saturating_add(self.cold)
    }

    /// Whether the cold share is below the floor (exactly).
    pub fn below_floor(&self) -> bool {
        share_below(self.cold, self.total(), self.floor_bp)
    }

    /// The cold share in basis points, rounded half to even.
    pub fn cold_share_bp(&self) -> u16 {
        share_bp_rounded(self.cold, self.total())
    }

    /// The exception subject of a breach: `cold-floor:ASSET` for the omnibus pool (the subject
    /// the whole-asset check used), `cold-floor:ASSET:CLIENT` for an individual one.
    pub fn subject(&self) -> String {
        match &self.client {
            None => format!("cold-floor:{}", self.asset),
            Some(client) => format!("cold-floor:{}:{client}", self.asset),
        }
    }

    /// Whose assets the pool holds, for people.
    pub fn whose(&self) -> String {
        match &self.client {
            None => "omnibus clients".to_owned(),
            Some(client) => format!("individually segregated client {client}"),
        }
    }
}

/// Where an institution's review stands (see [`Register::institution_reviews`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstitutionReview<'a> {
    pub institution: &'a Institution,
    /// When it was registered or last reviewed: the instant its review period runs from.
    pub since: Timestamp,
    /// The entry that registered or last reviewed it.
    pub seq: u64,
    pub due: Timestamp,
    /// Whether a client-funds account is registered there: only those are held to the review.
    pub holds_client_funds: bool,
}

/// The exception subject of a receipt placed after its deadline.
fn placed_late_subject(record: &ReceiptRecord) -> String {
    format!("fiat-placed-late:{}", record.receipt.key)
}

/// Whether `part / whole` is above `bp / 10 000`, exactly.
pub fn share_exceeds(part: u128, whole: u128, bp: u16) -> bool {
    widened(part, u128::from(BP_MAX)) > widened(whole, u128::from(bp))
}

/// `part / whole` in basis points for people, rounded half to even (0 when `whole` is 0), so
/// that shares of one whole add up to 100 % as nearly as rounding allows (truncating made
/// three thirds 99.99 %). Decisions compare exactly ([`share_exceeds`], `share_below`), never
/// on a rounded figure.
pub fn share_bp_rounded(part: u128, whole: u128) -> u16 {
    let down = share_bp(part, whole);
    if whole == 0 || down == BP_MAX {
        return down;
    }
    // part / whole against down + ½, i.e. part × 20 000 against whole × (2 × down + 1).
    let (twice, half) = (widened(part, 2 * u128::from(BP_MAX)), widened(whole, 2 * u128::from(down) + 1));
    match twice.cmp(&half) {
        std::cmp::Ordering::Greater => down + 1,
        std::cmp::Ordering::Equal if down % 2 == 1 => down + 1,
        _ => down,
    }
}

/// `part / whole` in basis points, rounded down (0 when `whole` is 0).
pub fn share_bp(part: u128, whole: u128) -> u16 {
    if whole == 0 {
        return 0;
    }
    // Binary search on the exact comparison: at most 14 steps.
    let (mut low, mut high) = (0u16, BP_MAX);
    while low < high {
        let middle = low + (high - low).div_ceil(2);
        if share_below(part, whole, middle) {
            high = middle - 1;
        } else {
            low = middle;
        }
    }
    low
}

impl Register {
    // ----- reads ---------------------------------------------------------------------

    /// The safeguarding policy in force (the default until one is set) and the entry that set it.
    pub fn safeguarding_policy(&self) -> (SafeguardingPolicy, Option<u64>) {
        match &self.safeguards.policy {
            Some(policy) => (policy.value.clone(), Some(policy.seq)),
            None => (SafeguardingPolicy::default(), None),
        }
    }

    fn policy_ref(&self) -> std::borrow::Cow<'_, SafeguardingPolicy> {
        match &self.safeguards.policy {
            Some(policy) => std::borrow::Cow::Borrowed(&policy.value),
            None => std::borrow::Cow::Owned(SafeguardingPolicy::default()),
        }
    }

    /// Every client instruction, in the order recorded.
    pub fn client_instructions(&self) -> &[InstructionRecord] {
        &self.safeguards.instructions
    }

    pub fn client_instruction(&self, id: &InstructionId) -> Option<&InstructionRecord> {
        self.safeguards.instruction_index.get(id).map(|&index| &self.safeguards.instructions[index as usize])
    }

    /// The journal entries that encumbered or released part of `client`'s positions, in order.
    pub fn encumbrance_events(&self, client: &ClientId) -> Vec<u64> {
        let mut seqs: Vec<u64> = self
            .safeguards
            .events
            .values()
            .filter_map(|(seq, action)| match action {
                SafeguardAction::Encumber { instruction, .. } | SafeguardAction::Release { instruction, .. } => {
                    self.client_instruction(instruction).filter(|record| &record.instruction.client == client).map(|_| *seq)
                }
                _ => None,
            })
            .collect();
        seqs.sort_unstable();
        seqs
    }

    /// What is encumbered of a client's position in an asset, over all instructions.
    pub fn encumbered(&self, client: &ClientId, asset: &crate::ids::AssetId) -> u128 {
        let (Some(&client), Some(&asset)) = (self.client_index.get(client), self.asset_index.get(asset)) else { return 0 };
        self.safeguards.encumbered.get(&(client, asset)).copied().unwrap_or(0)
    }

    pub fn risk_assessments(&self) -> &[AssessmentRecord] {
        &self.safeguards.assessments
    }

    pub fn institutions(&self) -> impl Iterator<Item = &Institution> {
        self.safeguards.institutions.iter().map(|r| &r.value)
    }

    /// Each registered institution (in registration order) with when it was registered or last
    /// reviewed and when its next review is due under the policy.
    pub fn institution_reviews(&self) -> impl Iterator<Item = InstitutionReview<'_>> {
        let days = i64::from(self.policy_ref().institution_review_days);
        self.safeguards.institutions.iter().zip(&self.safeguards.institution_reviewed).map(move |(registered, &(since, seq))| {
            InstitutionReview {
                institution: &registered.value,
                since,
                seq,
                due: Timestamp::from_micros(since.micros().saturating_add(days * MICROS_PER_DAY)),
                holds_client_funds: self.holds_client_funds(&registered.value.id),
            }
        })
    }

    /// Whether a client-funds account is registered at the institution.
    fn holds_client_funds(&self, institution: &InstitutionId) -> bool {
        self.safeguards
            .accounts
            .iter()
            .any(|record| record.account.class == FiatAccountClass::ClientFunds && record.account.institution == *institution)
    }

    /// When the next reconciliation run is due: the last run's recorded time plus the policy's
    /// longest gap; `None` before the first run.
    pub fn reconciliation_due(&self) -> Option<Timestamp> {
        let last = self.recon_runs().last()?;
        let gap = i64::from(self.policy_ref().recon_max_gap_hours) * 3_600_000_000;
        Some(Timestamp::from_micros(last.recorded_at.micros().saturating_add(gap)))
    }

    pub fn fiat_accounts(&self) -> &[FiatAccountRecord] {
        &self.safeguards.accounts
    }

    pub fn fiat_receipts(&self) -> &[ReceiptRecord] {
        &self.safeguards.receipts
    }

    /// Every fiat withdrawal recorded, with the entry that recorded it, in entry order.
    pub fn fiat_withdrawals(&self) -> Vec<(u64, &crate::safeguard::FiatWithdrawal)> {
        let mut withdrawals: Vec<(u64, &crate::safeguard::FiatWithdrawal)> = self
            .safeguards
            .events
            .values()
            .filter_map(|(seq, action)| match action {
                SafeguardAction::WithdrawFiat(withdrawal) => Some((*seq, withdrawal)),
                _ => None,
            })
            .collect();
        withdrawals.sort_by_key(|(seq, _)| *seq);
        withdrawals
    }

    /// What moved in and out of the fiat accounts: each placement (in) and withdrawal (out),
    /// with the entry that recorded it, in entry order.
    pub fn fiat_account_movements(&self) -> Vec<(u64, &crate::ids::FiatAccountId, bool, u128)> {
        let mut moved: Vec<_> = self
            .safeguards
            .events
            .values()
            .filter_map(|(seq, action)| match action {
                SafeguardAction::PlaceFiat(placement) => Some((*seq, &placement.account, true, placement.amount.units())),
                SafeguardAction::WithdrawFiat(withdrawal) => Some((*seq, &withdrawal.account, false, withdrawal.amount.units())),
                _ => None,
            })
            .collect();
        moved.sort_by_key(|(seq, ..)| *seq);
        moved
    }

    /// Client fiat owed, per client and currency (non-zero only).
    pub fn fiat_positions(&self) -> impl Iterator<Item = (&ClientId, &Currency, u128)> {
        self.safeguards
            .fiat_positions
            .iter()
            .filter(|(_, amount)| **amount != 0)
            .map(|((client, currency), amount)| (client, currency, *amount))
    }

    pub fn safeguard_checks(&self) -> &[CheckRecord] {
        &self.safeguards.checks
    }

    /// The placement deadline of fiat received at `received_at` under the policy in force.
    pub fn placement_deadline(&self, received_at: Timestamp) -> Timestamp {
        let policy = self.policy_ref();
        Calendar { closing_days: &policy.closing_days }.placement_deadline(received_at)
    }

    /// Whether the risk assessment `record` lets an asset's cold share stand at `now`.
    fn assessment_allows(record: &AssessmentRecord, now: Timestamp, cold: u128, total: u128) -> bool {
        now <= record.assessment.valid_until && !share_below(cold, total, record.assessment.cold_floor_bp)
    }

    /// The live, approved risk assessment that allows the asset's current cold share, if any.
    pub fn covering_assessment(&self, asset: u32, now: Timestamp) -> Option<&AssessmentRecord> {
        let totals = &self.totals[asset as usize];
        let id = &self.assets[asset as usize].value.id;
        self.safeguards.assessments.iter().rev().find(|record| {
            record.assessment.asset == *id
                && Self::assessment_allows(record, now, totals.client_cold, totals.client_hot + totals.client_cold)
        })
    }

    /// Where a sub-custodian's authorisation stands at `now` under the policy's notice period:
    /// `live`, `lapsing` (within the notice) or `lapsed`.
    pub fn authorisation_status(&self, sub: &crate::entity::SubCustodian, now: Timestamp) -> &'static str {
        let notice = i64::from(self.policy_ref().lapse_notice_days) * MICROS_PER_DAY;
        if !sub.authorised_at(now) {
            "lapsed"
        } else if sub.valid_until.micros().saturating_sub(now.micros()) <= notice {
            "lapsing"
        } else {
            "live"
        }
    }

    /// Every safeguarding breach at `now`, with or without an exception. `with_details`
    /// false leaves the details empty (cheap, for deciding whether a check is due).
    fn breaches(&self, now: Timestamp, with_details: bool, found: &mut dyn FnMut(Break) -> bool) {
        let policy = self.policy_ref();
        let detail = |text: &dyn Fn() -> String| if with_details { text() } else { String::new() };
        // The cold floor: per pool under issue 15's rules, over all client holdings of the
        // asset for checks recorded before them.
        if now >= ISSUE_15_RULES_FROM {
            for pool in self.cold_pools() {
                if !pool.covered || !pool.below_floor() || self.assessment_for_pool(&pool, now).is_some() {
                    continue;
                }
                let stop = found(Break {
                    kind: ExceptionKind::ColdFloor,
                    severity: Severity::Warning,
                    subject: pool.subject(),
                    detail: detail(&|| {
                        format!(
                            "{} of {} of {} held for {} is in cold wallets ({}), below the floor of {}, and no live approved risk assessment allows it",
                            pool.cold,
                            pool.total(),
                            pool.asset,
                            pool.whose(),
                            percent(share_bp(pool.cold, pool.total())),
                            percent(pool.floor_bp)
                        )
                    }),
                });
                if stop {
                    return;
                }
            }
        } else {
            for (index, totals) in self.totals.iter().enumerate() {
                let total = totals.client_hot + totals.client_cold;
                let asset = &self.assets[index].value.id;
                let floor = policy.cold_floor(asset);
                if total == 0 || !share_below(totals.client_cold, total, floor) {
                    continue;
                }
                if self.covering_assessment(index as u32, now).is_some() {
                    continue;
                }
                let stop = found(Break {
                    kind: ExceptionKind::ColdFloor,
                    severity: Severity::Warning,
                    subject: format!("cold-floor:{asset}"),
                    detail: detail(&|| {
                        format!(
                            "{} of {} of client-class {asset} is in cold wallets ({}), below the floor of {}, and no live approved risk assessment allows it",
                            totals.client_cold,
                            total,
                            percent(share_bp(totals.client_cold, total)),
                            percent(floor)
                        )
                    }),
                });
                if stop {
                    return;
                }
            }
        }
        for registered in &self.sub_custodians {
            let sub = &registered.value;
            let until = sub.valid_until;
            let status = self.authorisation_status(sub, now);
            if status == "lapsed" {
                // The server checks every 500 ms: stop at the first client asset found.
                if !self.holds_client_assets(&sub.id) {
                    continue;
                }
                let stop = found(Break {
                    kind: ExceptionKind::AuthorisationLapsed,
                    severity: Severity::Critical,
                    subject: format!("authorisation-lapsed:{}:{}", sub.id, until.micros()),
                    detail: detail(&|| {
                        let held: Vec<String> =
                            self.client_assets_at(&sub.id).iter().map(|(asset, amount)| format!("{amount} of {asset}")).collect();
                        format!(
                            "the authorisation of sub-custodian {} ({}) lapsed, and its wallets still hold client assets: {}",
                            sub.id,
                            sub.reference,
                            held.join(", ")
                        )
                    }),
                });
                if stop {
                    return;
                }
            } else if status == "lapsing" {
                let stop = found(Break {
                    kind: ExceptionKind::AuthorisationLapsing,
                    severity: Severity::Warning,
                    subject: format!("authorisation-lapsing:{}:{}", sub.id, until.micros()),
                    detail: detail(&|| {
                        format!(
                            "the authorisation of sub-custodian {} ({}) reaches its review date within {} days; renew it or move the assets",
                            sub.id, sub.reference, policy.lapse_notice_days
                        )
                    }),
                });
                if stop {
                    return;
                }
            }
        }
        for record in &self.safeguards.instructions {
            if record.encumbered == 0 || record.live_at(now).is_ok() || now < record.instruction.valid_from {
                continue;
            }
            let stop = found(Break {
                kind: ExceptionKind::EncumbranceLapsed,
                severity: Severity::Critical,
                subject: format!("encumbrance-lapsed:{}", record.instruction.id),
                detail: detail(&|| {
                    format!(
                        "{} of {} of client {} stays encumbered under client instruction {}, which {}; release it",
                        record.encumbered,
                        record.instruction.asset,
                        record.instruction.client,
                        record.instruction.id,
                        if record.revoked.is_some() { "was revoked" } else { "expired" }
                    )
                }),
            });
            if stop {
                return;
            }
        }
        for &(deadline, index) in self.safeguards.unplaced.range(..=(now, u32::MAX)) {
            let record = &self.safeguards.receipts[index as usize];
            let stop = found(Break {
                kind: ExceptionKind::FiatUnplaced,
                severity: Severity::Critical,
                subject: format!("fiat-unplaced:{}", record.receipt.key),
                detail: detail(&|| {
                    format!(
                        "{} ({} minor units) of {} received for client {} is not placed with a credit institution or central bank; the deadline was {}",
                        record.receipt.currency.money(record.unplaced()),
                        record.unplaced(),
                        record.receipt.currency.money(record.receipt.amount.units()),
                        record.receipt.client,
                        deadline
                    )
                }),
            });
            if stop {
                return;
            }
        }
        for &index in &self.safeguards.placed_late {
            let record = &self.safeguards.receipts[index as usize];
            let stop = found(Break {
                kind: ExceptionKind::FiatUnplaced,
                severity: Severity::Warning,
                subject: placed_late_subject(record),
                detail: detail(&|| {
                    format!(
                        "{} received for client {} at {} was placed after its deadline of {}: the deadline was missed, although the funds are placed now",
                        record.receipt.currency.money(record.receipt.amount.units()),
                        record.receipt.client,
                        record.received_at,
                        record.deadline
                    )
                }),
            });
            if stop {
                return;
            }
        }
        if now >= ISSUE_15_RULES_FROM {
            if self.concentration_breaches(policy.concentration_limit_bp, with_details, found) {
                return;
            }
            for InstitutionReview { institution, since, due, holds_client_funds, .. } in self.institution_reviews() {
                if now <= due || !holds_client_funds {
                    continue;
                }
                let stop = found(Break {
                    kind: ExceptionKind::InstitutionReviewOverdue,
                    severity: Severity::Warning,
                    subject: format!("institution-review-overdue:{}:{}", institution.id, due.micros()),
                    detail: detail(&|| {
                        format!(
                            "institution {} ({}) holds client funds and was last registered or reviewed at {since}; its review was due at {due} (every {} days under the policy); record a review",
                            institution.name, institution.id, policy.institution_review_days
                        )
                    }),
                });
                if stop {
                    return;
                }
            }
            if let Some(due) = self.reconciliation_due()
                && now > due
            {
                let stop = found(Break {
                    kind: ExceptionKind::ReconciliationOverdue,
                    severity: Severity::Warning,
                    subject: format!("reconciliation-overdue:{}", due.micros()),
                    detail: detail(&|| {
                        format!(
                            "no reconciliation run was recorded after {}; the next was due at {due} (at most {} hours apart under the policy)",
                            self.recon_runs().last().map_or(Timestamp::MIN, |run| run.recorded_at),
                            policy.recon_max_gap_hours
                        )
                    }),
                });
                if stop {
                    return;
                }
            }
        }
        if now >= super::ISSUE_17_RULES_FROM {
            self.statement_breach(now, policy.statement_interval_days, with_details, found);
        }
    }

    /// One break while any client holding assets was sent no statement within the interval:
    /// its subject names the oldest such client's instant, so issuing its statement cures it
    /// (and a check then opens one for the next, if any is still overdue).
    fn statement_breach(&self, now: Timestamp, interval_days: u32, with_details: bool, found: &mut dyn FnMut(Break) -> bool) {
        let mut overdue = self.overdue_clients(now, interval_days);
        let Some((oldest, first)) = overdue.next() else { return };
        let detail = if with_details {
            let rest: Vec<(Timestamp, u32)> = overdue.collect();
            let names: Vec<&str> = std::iter::once(first)
                .chain(rest.iter().map(|&(_, c)| c))
                .take(10)
                .map(|c| self.clients[c as usize].value.id.as_str())
                .collect();
            format!(
                "{} client(s) holding assets were sent no statement of position within {interval_days} days of their last statement period's end (or of their registration): {}{}; the oldest since {oldest}; `ringfence statements overdue` lists them, `ringfence statements issue` sends them",
                rest.len() + 1,
                names.join(", "),
                if rest.len() + 1 > names.len() { ", …" } else { "" }
            )
        } else {
            String::new()
        };
        found(Break {
            kind: ExceptionKind::StatementOverdue,
            severity: Severity::Warning,
            subject: format!("statement-overdue:{}:{}", self.clients[first as usize].value.id, oldest.micros()),
            detail,
        });
    }

    /// The hot and cold holdings of each pool of client assets with anything hot (a pool with
    /// nothing hot meets any floor): per asset, the omnibus wallets, then each individually
    /// segregated client's wallets, in registration order. Each says whether the policy's
    /// cold floor covers it: the omnibus pool when any omnibus client is of a category the
    /// floor protects (the pool is shared, so each of its clients depends on its share), an
    /// individual pool when its client is.
    pub fn cold_pools(&self) -> Vec<ColdPool> {
        let policy = self.policy_ref();
        let covers = |category| policy.cold_floor_categories.contains(&category);
        let omnibus_covered = self
            .clients
            .iter()
            .any(|client| client.value.segregation == crate::entity::Segregation::Omnibus && covers(client.value.category));
        // (asset index, 0 for the omnibus pool or 1 + the client's index) → (hot, cold)
        let mut sums: BTreeMap<(u32, u32), (u128, u128)> = BTreeMap::new();
        let hot_assets: Vec<u32> =
            (0..self.totals.len()).filter(|&asset| self.totals[asset].client_hot != 0).map(|asset| asset as u32).collect();
        if hot_assets.is_empty() {
            return Vec::new();
        }
        for (index, wallet) in self.wallets.iter().enumerate() {
            let pool = match &wallet.value.class {
                crate::entity::WalletClass::Firm => continue,
                crate::entity::WalletClass::ClientOmnibus => 0,
                crate::entity::WalletClass::ClientIndividual(client) => self.client_index[client] + 1,
            };
            for &asset in &hot_assets {
                let held = self.balances.get(&(Slot::Holding(index as u32), asset)).copied().unwrap_or(0);
                if held == 0 {
                    continue;
                }
                let sum = sums.entry((asset, pool)).or_default();
                let part = if wallet.value.tier == crate::entity::Tier::Hot { &mut sum.0 } else { &mut sum.1 };
                *part = part.saturating_add(held);
            }
        }
        sums.into_iter()
            .filter(|(_, (hot, _))| *hot != 0)
            .map(|((asset, pool), (hot, cold))| {
                let id = self.assets[asset as usize].value.id.clone();
                let floor_bp = policy.cold_floor(&id);
                let (client, covered) = if pool == 0 {
                    (None, omnibus_covered)
                } else {
                    let client = &self.clients[pool as usize - 1].value;
                    (Some(client.id.clone()), covers(client.category))
                };
                ColdPool { asset: id, client, hot, cold, floor_bp, covered }
            })
            .collect()
    }

    /// The live, approved risk assessment of the pool's asset that allows its cold share, if any.
    pub fn assessment_for_pool(&self, pool: &ColdPool, now: Timestamp) -> Option<&AssessmentRecord> {
        self.safeguards
            .assessments
            .iter()
            .rev()
            .find(|record| record.assessment.asset == pool.asset && Self::assessment_allows(record, now, pool.cold, pool.total()))
    }

    /// Placed client funds above the concentration limit at an institution that is not a
    /// central bank (a central bank is no concentration risk), per currency.
    /// Returns whether `found` asked to stop.
    fn concentration_breaches(&self, limit_bp: u16, with_details: bool, found: &mut dyn FnMut(Break) -> bool) -> bool {
        // (currency, institution index) → placed, in the order the accounts were registered.
        let mut placed: Vec<(Currency, u32, u128)> = Vec::new();
        let mut totals: BTreeMap<Currency, u128> = BTreeMap::new();
        for record in self.safeguards.accounts.iter().filter(|r| r.account.class == FiatAccountClass::ClientFunds) {
            let Some(&institution) = self.safeguards.institution_index.get(&record.account.institution) else { continue };
            let currency = record.account.currency;
            let total = totals.entry(currency).or_default();
            *total = total.saturating_add(record.balance);
            match placed.iter_mut().find(|(c, i, _)| *c == currency && *i == institution) {
                Some((_, _, sum)) => *sum = sum.saturating_add(record.balance),
                None => placed.push((currency, institution, record.balance)),
            }
        }
        for (currency, index, amount) in placed {
            let institution = &self.safeguards.institutions[index as usize].value;
            let total = totals.get(&currency).copied().unwrap_or(0);
            if institution.kind == InstitutionKind::CentralBank || !share_exceeds(amount, total, limit_bp) {
                continue;
            }
            let stop = found(Break {
                kind: ExceptionKind::FiatConcentration,
                severity: Severity::Warning,
                subject: format!("fiat-concentration:{currency}:{}", institution.id),
                detail: if with_details {
                    format!(
                        "{} of {} of placed client {currency} ({}) is at {} ({}), above the concentration limit of {}",
                        currency.money(amount),
                        currency.money(total),
                        percent(share_bp_rounded(amount, total)),
                        institution.name,
                        institution.id,
                        percent(limit_bp)
                    )
                } else {
                    String::new()
                },
            });
            if stop {
                return true;
            }
        }
        false
    }

    /// Every safeguarding breach at `now`, with details, whether it has an exception or not.
    pub fn safeguard_breaches(&self, now: Timestamp) -> Vec<Break> {
        let mut breaks = Vec::new();
        self.breaches(now, true, &mut |found| {
            breaks.push(found);
            false
        });
        breaks
    }

    /// Whether an unresolved exception that a safeguarding check opened has lost its cause at
    /// `now` (the breach no longer stands: the funds are placed, the floor met again…). It
    /// stays open: a person resolves it with a note, so the breach stays on the record.
    pub fn safeguard_cause_cured(&self, exception: &crate::oversight::Exception, now: Timestamp) -> bool {
        if exception.is_resolved() || !self.safeguards.checks.iter().any(|check| check.exceptions.contains(&exception.id)) {
            return false;
        }
        let mut stands = false;
        self.breaches(now, false, &mut |found| {
            stands = found.subject == exception.subject;
            stands
        });
        !stands
    }

    /// Clients holding assets counted from before `now` less the interval, oldest first: by
    /// client index, with the instant their next statement is counted from.
    fn overdue_clients(&self, now: Timestamp, interval_days: u32) -> impl Iterator<Item = (Timestamp, u32)> + '_ {
        let interval = i64::from(interval_days) * 86_400_000_000;
        let limit = Timestamp::from_micros(now.micros().saturating_sub(interval));
        self.statement_clock.before(limit).filter(|&(_, client)| {
            (0..self.assets.len() as u32).any(|asset| self.balances.get(&(Slot::Position(client), asset)).is_some_and(|units| *units != 0))
        })
    }

    /// The clients holding assets whose statement of position is overdue at `at` with
    /// statements every `interval_days` (the policy's when None): each with the instant its
    /// next statement is counted from (the end of its last statement period, or its
    /// registration, or [`super::ISSUE_17_RULES_FROM`], the latest) and when it was due. The
    /// safeguarding check raises the same clients as one breach.
    pub fn statements_overdue(&self, at: Timestamp, interval_days: Option<u32>) -> Vec<(&ClientId, Timestamp, Timestamp)> {
        let days = interval_days.unwrap_or(self.policy_ref().statement_interval_days);
        let interval = i64::from(days) * 86_400_000_000;
        self.overdue_clients(at, days)
            .map(|(since, client)| {
                (&self.clients[client as usize].value.id, since, Timestamp::from_micros(since.micros().saturating_add(interval)))
            })
            .collect()
    }

    /// Whether a check at `now` would open an exception: some breach has no unresolved one.
    pub fn safeguard_check_due(&self, now: Timestamp) -> bool {
        let mut due = false;
        self.breaches(now, false, &mut |found| {
            due = !self.exception_open_for(&found.subject);
            due
        });
        due
    }

    /// Whether any client-class wallet at a sub-custodian holds anything.
    fn holds_client_assets(&self, sub: &crate::ids::SubCustodianId) -> bool {
        self.wallets.iter().enumerate().any(|(index, wallet)| {
            wallet.value.class.kind().is_client()
                && matches!(&wallet.value.custodian, Custodian::SubCustodian(id) if id == sub)
                && (0..self.assets.len())
                    .any(|asset| self.balances.get(&(Slot::Holding(index as u32), asset as u32)).is_some_and(|b| *b != 0))
        })
    }

    /// What client-class wallets at a sub-custodian hold, per asset (non-zero only).
    pub fn client_assets_at(&self, sub: &crate::ids::SubCustodianId) -> Vec<(&crate::ids::AssetId, u128)> {
        let mut held: Vec<(&crate::ids::AssetId, u128)> = Vec::new();
        for (index, wallet) in self.wallets.iter().enumerate() {
            if !wallet.value.class.kind().is_client() || !matches!(&wallet.value.custodian, Custodian::SubCustodian(id) if id == sub) {
                continue;
            }
            for (asset, registered) in self.assets.iter().enumerate() {
                let amount = self.balances.get(&(Slot::Holding(index as u32), asset as u32)).copied().unwrap_or(0);
                if amount == 0 {
                    continue;
                }
                match held.iter_mut().find(|(id, _)| **id == registered.value.id) {
                    Some((_, sum)) => *sum = sum.saturating_add(amount),
                    None => held.push((&registered.value.id, amount)),
                }
            }
        }
        held
    }

    // ----- movement hooks --------------------------------------------------------------

    /// A reward must be under a recorded client instruction (named by the command's
    /// `instruction`) and credit only that client's position in that asset.
    pub(super) fn check_reward(&self, meta: &Meta, movement: &Movement) -> Check<()> {
        if movement.kind != MovementKind::Reward {
            return Ok(());
        }
        let Some(record) = self.client_instruction(&meta.instruction) else {
            return reject(
                Status::UnknownInstruction,
                format!("a reward names the client instruction it accrues under as its instruction; {} is not one", meta.instruction),
            );
        };
        let instruction = &record.instruction;
        for posting in &movement.postings {
            let fits = posting.asset == instruction.asset
                && match &posting.account {
                    crate::movement::Account::Position(client) => *client == instruction.client,
                    _ => true,
                };
            if !fits {
                return reject(
                    Status::InstructionMismatch,
                    format!(
                        "rewards under client instruction {} accrue to client {} in {} only",
                        instruction.id, instruction.client, instruction.asset
                    ),
                );
            }
        }
        Ok(())
    }

    /// A movement may not take a client's position below what is encumbered of it.
    pub(super) fn check_encumbered(&self, scratch: &super::Scratch) -> Check<()> {
        if self.safeguards.encumbered.is_empty() {
            return Ok(());
        }
        for (delta, &next) in scratch.deltas.iter().zip(&scratch.updates) {
            let Slot::Position(client) = delta.slot else { continue };
            let encumbered = self.safeguards.encumbered.get(&(client, delta.asset)).copied().unwrap_or(0);
            if next < encumbered {
                return reject(
                    Status::EncumberedPosition,
                    format!(
                        "client {}'s position in {} would fall to {next}, below the {encumbered} encumbered under client instructions; release it first",
                        self.clients[client as usize].value.id,
                        self.asset_id(delta.asset)
                    ),
                );
            }
        }
        Ok(())
    }

    /// After a reward is committed: credit it to its instruction's record.
    pub(super) fn record_reward(&mut self, meta: &Meta, movement: &Movement) {
        if movement.kind != MovementKind::Reward {
            return;
        }
        let credited: u128 = movement
            .postings
            .iter()
            .filter(|p| p.side == Side::Credit && matches!(p.account, crate::movement::Account::Position(_)))
            .fold(0u128, |sum, p| sum.saturating_add(p.amount.units()));
        if let Some(&index) = self.safeguards.instruction_index.get(&meta.instruction) {
            let record = &mut self.safeguards.instructions[index as usize];
            record.rewards = record.rewards.saturating_add(credited);
        }
    }

    // ----- commands ------------------------------------------------------------------

    /// Decides the safeguarding commands; `None` for any other.
    pub(super) fn decide_safeguard(&mut self, meta: &Meta, action: &SafeguardAction) -> Check<Outcome> {
        if let SafeguardAction::Check = action {
            return self.record_check(meta);
        }
        self.check_safeguard(meta, action)?;
        let seq = self.next_seq();
        let now = meta.effective_at;
        if let Some(key) = action.key() {
            self.safeguards.events.insert(key.clone(), (seq, action.clone()));
        }
        // A placement after its receipt's deadline leaves a trace even though it cures the
        // breach: the next check opens an exception for the missed deadline (issue 15; for
        // placements recorded from ISSUE_15_RULES_FROM on, so replays of older ones decide as
        // they did), unless the missed deadline has an exception already.
        let placed_late = match action {
            SafeguardAction::PlaceFiat(placement) if self.now.0 >= ISSUE_15_RULES_FROM => {
                let index = self.safeguards.receipt_index[&placement.receipt];
                let record = &self.safeguards.receipts[index as usize];
                let unplaced = format!("fiat-unplaced:{}", record.receipt.key);
                (now > record.deadline && !self.exceptions().iter().any(|e| e.subject == unplaced)).then_some(index)
            }
            _ => None,
        };
        let safeguards = &mut self.safeguards;
        if let Some(index) = placed_late
            && !safeguards.placed_late.contains(&index)
        {
            safeguards.placed_late.push(index);
        }
        match action {
            SafeguardAction::SetPolicy(policy) => safeguards.policy = Some(Registered { value: policy.clone(), seq }),
            SafeguardAction::RecordInstruction(instruction) => {
                safeguards.instruction_index.insert(instruction.id.clone(), super::index_of(safeguards.instructions.len()));
                safeguards.instructions.push(InstructionRecord {
                    instruction: instruction.clone(),
                    recorded_by: meta.actor.clone(),
                    seq,
                    revoked: None,
                    encumbered: 0,
                    rewards: 0,
                });
            }
            SafeguardAction::RevokeInstruction { id } => {
                let index = safeguards.instruction_index[id];
                safeguards.instructions[index as usize].revoked = Some((seq, now));
            }
            SafeguardAction::Encumber { instruction, amount, .. } | SafeguardAction::Release { instruction, amount, .. } => {
                let index = safeguards.instruction_index[instruction] as usize;
                let record = &mut safeguards.instructions[index];
                let key = (self.client_index[&record.instruction.client], self.asset_index[&record.instruction.asset]);
                let total = safeguards.encumbered.entry(key).or_default();
                if matches!(action, SafeguardAction::Encumber { .. }) {
                    record.encumbered += amount.units();
                    *total += amount.units();
                } else {
                    record.encumbered -= amount.units();
                    *total -= amount.units();
                    if *total == 0 {
                        safeguards.encumbered.remove(&key);
                    }
                }
            }
            SafeguardAction::RecordRiskAssessment(assessment) => {
                safeguards.assessment_index.insert(assessment.id.clone(), super::index_of(safeguards.assessments.len()));
                safeguards.assessments.push(AssessmentRecord { assessment: assessment.clone(), recorded_by: meta.actor.clone(), seq });
            }
            SafeguardAction::RegisterInstitution(institution) => {
                safeguards.institution_index.insert(institution.id.clone(), super::index_of(safeguards.institutions.len()));
                safeguards.institutions.push(Registered { value: institution.clone(), seq });
                safeguards.institution_reviewed.push((now, seq));
            }
            SafeguardAction::ReviewInstitution { institution, .. } => {
                let index = safeguards.institution_index[institution];
                safeguards.institution_reviewed[index as usize] = (now, seq);
            }
            SafeguardAction::RegisterFiatAccount(account) => {
                safeguards.account_index.insert(account.id.clone(), super::index_of(safeguards.accounts.len()));
                safeguards.accounts.push(FiatAccountRecord { account: account.clone(), seq, balance: 0 });
            }
            SafeguardAction::ReceiveFiat(receipt) => {
                let policy = safeguards.policy.as_ref().map(|p| p.value.closing_days.as_slice()).unwrap_or(&[]);
                let deadline = Calendar { closing_days: policy }.placement_deadline(now);
                let index = super::index_of(safeguards.receipts.len());
                safeguards.receipt_index.insert(receipt.key.clone(), index);
                safeguards.receipts.push(ReceiptRecord { receipt: receipt.clone(), seq, received_at: now, deadline, placed: 0 });
                safeguards.unplaced.insert((deadline, index));
                *safeguards.fiat_positions.entry((receipt.client.clone(), receipt.currency)).or_default() += receipt.amount.units();
            }
            SafeguardAction::PlaceFiat(placement) => {
                let index = safeguards.receipt_index[&placement.receipt];
                let record = &mut safeguards.receipts[index as usize];
                record.placed += placement.amount.units();
                if record.unplaced() == 0 {
                    safeguards.unplaced.remove(&(record.deadline, index));
                }
                let account = safeguards.account_index[&placement.account];
                safeguards.accounts[account as usize].balance += placement.amount.units();
            }
            SafeguardAction::WithdrawFiat(withdrawal) => {
                let account = &mut safeguards.accounts[safeguards.account_index[&withdrawal.account] as usize];
                account.balance -= withdrawal.amount.units();
                let currency = account.account.currency;
                if let Some(owed) = safeguards.fiat_positions.get_mut(&(withdrawal.client.clone(), currency)) {
                    *owed -= withdrawal.amount.units();
                }
            }
            SafeguardAction::Check => unreachable!("decided above"),
        }
        Ok(Outcome::accepted(seq))
    }

    fn record_check(&mut self, meta: &Meta) -> Check<Outcome> {
        let mut fresh = Vec::new();
        let now = self.now.0;
        let breaches = self.safeguard_breaches(now);
        for found in breaches {
            if !self.exception_open_for(&found.subject) {
                fresh.push(found);
            }
        }
        if fresh.is_empty() {
            return reject(Status::NothingDue, "every safeguarding breach has an unresolved exception already; nothing to record");
        }
        let seq = self.next_seq();
        let exceptions = self.open_exceptions(seq, &fresh);
        self.safeguards.checks.push(CheckRecord { id: seq, actor: meta.actor.clone(), recorded_at: now, exceptions });
        // A missed deadline is recorded once: its exception is the trace.
        let opened: Vec<u32> = self
            .safeguards
            .placed_late
            .iter()
            .copied()
            .filter(|&index| self.exception_open_for(&placed_late_subject(&self.safeguards.receipts[index as usize])))
            .collect();
        self.safeguards.placed_late.retain(|index| !opened.contains(index));
        Ok(Outcome::accepted(seq))
    }

    /// Whether a safeguarding command can apply now (`already_exists` as an `Err` when it
    /// applied before). Changes nothing: four-eyes control calls it before proposing.
    pub(super) fn check_safeguard(&self, meta: &Meta, action: &SafeguardAction) -> Check<()> {
        let now = meta.effective_at;
        if let Some(key) = action.key()
            && let Some((seq, before)) = self.safeguards.events.get(key)
        {
            return if before == action {
                Err(Outcome::already_exists(*seq))
            } else {
                reject(Status::IdempotencyConflict, format!("key {key} was used at sequence {seq} for a different safeguarding event"))
            };
        }
        let invalid = |detail: String| reject(Status::InvalidSafeguard, detail);
        match action {
            SafeguardAction::SetPolicy(policy) => {
                if let Some(problem) = policy.problem() {
                    return reject(Status::InvalidPolicy, problem);
                }
                if let Some((asset, _)) = policy.cold_floors.iter().find(|(asset, _)| !self.asset_index.contains_key(asset)) {
                    return reject(Status::UnknownAsset, format!("asset {asset} is not registered"));
                }
                if let Some(current) = &self.safeguards.policy
                    && current.value == *policy
                {
                    return Err(Outcome::already_exists(current.seq));
                }
                Ok(())
            }
            SafeguardAction::RecordInstruction(instruction) => self.check_instruction(now, instruction),
            SafeguardAction::RevokeInstruction { id } => {
                let record = self.known_instruction(id)?;
                if let Some((seq, _)) = record.revoked {
                    return Err(Outcome::already_exists(seq));
                }
                if !record.instruction.revocable {
                    return reject(
                        Status::InstructionNotRevocable,
                        format!("client instruction {id} was given as irrevocable; it ends when it expires"),
                    );
                }
                Ok(())
            }
            SafeguardAction::Encumber { instruction, amount, .. } => {
                let record = self.known_instruction(instruction)?;
                if amount.is_zero() {
                    return reject(Status::AmountZero, "an encumbrance of 0");
                }
                if let Err(why) = record.live_at(now) {
                    return reject(Status::InstructionNotLive, format!("{why}; no further encumbrance under it"));
                }
                let max = record.instruction.max_amount.units();
                if record.encumbered.checked_add(amount.units()).is_none_or(|after| after > max) {
                    return reject(
                        Status::InstructionLimit,
                        format!(
                            "{} more of {} would take client instruction {} to {}, above its maximum of {max} ({} encumbered now)",
                            amount,
                            record.instruction.asset,
                            instruction,
                            record.encumbered.saturating_add(amount.units()),
                            record.encumbered
                        ),
                    );
                }
                let client = self.client_index[&record.instruction.client];
                let asset = self.asset_index[&record.instruction.asset];
                let position = self.balances.get(&(Slot::Position(client), asset)).copied().unwrap_or(0);
                let encumbered = self.safeguards.encumbered.get(&(client, asset)).copied().unwrap_or(0);
                let free = position - encumbered.min(position);
                if amount.units() > free {
                    return reject(
                        Status::EncumberedPosition,
                        format!(
                            "client {} has {free} of {} free to encumber (position {position}, encumbered {encumbered}); {} asked",
                            record.instruction.client, record.instruction.asset, amount
                        ),
                    );
                }
                Ok(())
            }
            SafeguardAction::Release { instruction, amount, .. } => {
                let record = self.known_instruction(instruction)?;
                if amount.is_zero() {
                    return reject(Status::AmountZero, "a release of 0");
                }
                if amount.units() > record.encumbered {
                    return reject(
                        Status::InsufficientFunds,
                        format!(
                            "{} is encumbered under client instruction {instruction}; {} cannot be released",
                            record.encumbered, amount
                        ),
                    );
                }
                Ok(())
            }
            SafeguardAction::RecordRiskAssessment(assessment) => {
                if let Some(&index) = self.safeguards.assessment_index.get(&assessment.id) {
                    let record = &self.safeguards.assessments[index as usize];
                    return if record.assessment == *assessment {
                        Err(Outcome::already_exists(record.seq))
                    } else {
                        reject(
                            Status::EntityConflict,
                            format!("risk assessment {} is recorded already with different details", assessment.id),
                        )
                    };
                }
                if !self.asset_index.contains_key(&assessment.asset) {
                    return reject(Status::UnknownAsset, format!("asset {} is not registered", assessment.asset));
                }
                if assessment.cold_floor_bp > BP_MAX {
                    return invalid(format!("the assessment's cold floor is {}; at most 100 %", percent(assessment.cold_floor_bp)));
                }
                if assessment.valid_until <= now {
                    return invalid(format!("risk assessment {} would end before it starts: its validity is in the past", assessment.id));
                }
                if let Some(problem) = text_problem("the reason", &assessment.reason) {
                    return invalid(problem);
                }
                if self.four_eyes.policy.is_none() {
                    return invalid("a risk assessment takes effect only with four-eyes approval; set an approval policy first".into());
                }
                Ok(())
            }
            SafeguardAction::RegisterInstitution(institution) => {
                if let Some(&index) = self.safeguards.institution_index.get(&institution.id) {
                    return super::existing(
                        &self.safeguards.institutions[index as usize],
                        institution,
                        "institution",
                        institution.id.as_str(),
                    )
                    .map(|_| ());
                }
                if let Some(problem) =
                    text_problem("the name", &institution.name).or_else(|| text_problem("the reference", &institution.reference))
                {
                    return invalid(format!("institution {}: {problem}", institution.id));
                }
                Ok(())
            }
            SafeguardAction::RegisterFiatAccount(account) => {
                if let Some(&index) = self.safeguards.account_index.get(&account.id) {
                    let record = &self.safeguards.accounts[index as usize];
                    return if record.account == *account {
                        Err(Outcome::already_exists(record.seq))
                    } else {
                        reject(Status::EntityConflict, format!("fiat account {} is registered already with different details", account.id))
                    };
                }
                if !self.safeguards.institution_index.contains_key(&account.institution) {
                    return reject(
                        Status::UnknownInstitution,
                        format!("institution {} is not registered; register it first", account.institution),
                    );
                }
                if let Some(problem) = text_problem("the account reference", &account.reference) {
                    return invalid(format!("fiat account {}: {problem}", account.id));
                }
                Ok(())
            }
            SafeguardAction::ReceiveFiat(receipt) => {
                if !self.client_index.contains_key(&receipt.client) {
                    return reject(Status::UnknownClient, format!("client {} is not registered", receipt.client));
                }
                if receipt.amount.is_zero() {
                    return reject(Status::AmountZero, "a fiat receipt of 0");
                }
                let owed = self.safeguards.fiat_positions.get(&(receipt.client.clone(), receipt.currency)).copied().unwrap_or(0);
                if owed.checked_add(receipt.amount.units()).is_none() {
                    return reject(Status::AmountOverflow, "the client's fiat balance would exceed 2^128 - 1");
                }
                Ok(())
            }
            SafeguardAction::PlaceFiat(placement) => {
                // In `Status` order: the first rule broken is the one reported.
                if placement.amount.is_zero() {
                    return reject(Status::AmountZero, "a placement of 0");
                }
                let account = self.known_account(&placement.account)?;
                let Some(&receipt) = self.safeguards.receipt_index.get(&placement.receipt) else {
                    return reject(Status::UnknownReceipt, format!("no fiat receipt has key {}", placement.receipt));
                };
                let receipt = &self.safeguards.receipts[receipt as usize];
                if account.account.currency != receipt.receipt.currency {
                    return invalid(format!(
                        "fiat account {} is in {}, the receipt in {}",
                        account.account.id, account.account.currency, receipt.receipt.currency
                    ));
                }
                if account.account.class != FiatAccountClass::ClientFunds {
                    return reject(
                        Status::OwnAccountUse,
                        format!("fiat account {} is the firm's own; client funds go only to client-funds accounts", account.account.id),
                    );
                }
                if account.balance.checked_add(placement.amount.units()).is_none() {
                    return reject(Status::AmountOverflow, "the account's balance would exceed 2^128 - 1");
                }
                if placement.amount.units() > receipt.unplaced() {
                    return reject(
                        Status::InsufficientFunds,
                        format!(
                            "{} of receipt {} is unplaced; {} cannot be placed",
                            receipt.unplaced(),
                            receipt.receipt.key,
                            placement.amount
                        ),
                    );
                }
                Ok(())
            }
            SafeguardAction::WithdrawFiat(withdrawal) => {
                if !self.client_index.contains_key(&withdrawal.client) {
                    return reject(Status::UnknownClient, format!("client {} is not registered", withdrawal.client));
                }
                let account = self.known_account(&withdrawal.account)?;
                if withdrawal.amount.is_zero() {
                    return reject(Status::AmountZero, "a fiat withdrawal of 0");
                }
                let currency = account.account.currency;
                let owed = self.safeguards.fiat_positions.get(&(withdrawal.client.clone(), currency)).copied().unwrap_or(0);
                if withdrawal.amount.units() > owed {
                    return reject(
                        Status::InsufficientFunds,
                        format!("client {} is owed {owed} {currency}; {} cannot be withdrawn", withdrawal.client, withdrawal.amount),
                    );
                }
                if withdrawal.amount.units() > account.balance {
                    return reject(
                        Status::InsufficientFunds,
                        format!(
                            "fiat account {} holds {} {currency}; {} cannot be withdrawn",
                            account.account.id, account.balance, withdrawal.amount
                        ),
                    );
                }
                Ok(())
            }
            SafeguardAction::Check => Ok(()),
            SafeguardAction::ReviewInstitution { institution, evidence } => {
                let Some(&index) = self.safeguards.institution_index.get(institution) else {
                    return reject(Status::UnknownInstitution, format!("institution {institution} is not registered"));
                };
                // Importing the same review again (same institution, same effective time) is a no-op.
                let (since, seq) = self.safeguards.institution_reviewed[index as usize];
                if since == now && self.safeguards.institutions[index as usize].seq != seq {
                    return Err(Outcome::already_exists(seq));
                }
                if now < since {
                    return invalid(format!(
                        "institution {institution} was registered or last reviewed at {since}; a review effective at {now} is older"
                    ));
                }
                if let Some(problem) = text_problem("the review's evidence", evidence) {
                    return invalid(format!("institution {institution}: {problem}"));
                }
                Ok(())
            }
        }
    }

    fn known_instruction(&self, id: &InstructionId) -> Check<&InstructionRecord> {
        match self.client_instruction(id) {
            Some(record) => Ok(record),
            None => reject(Status::UnknownInstruction, format!("client instruction {id} is not recorded")),
        }
    }

    fn known_account(&self, id: &FiatAccountId) -> Check<&FiatAccountRecord> {
        match self.safeguards.account_index.get(id) {
            Some(&index) => Ok(&self.safeguards.accounts[index as usize]),
            None => reject(Status::UnknownFiatAccount, format!("fiat account {id} is not registered")),
        }
    }

    fn check_instruction(&self, now: Timestamp, instruction: &ClientInstruction) -> Check<()> {
        if let Some(record) = self.client_instruction(&instruction.id) {
            return if record.instruction == *instruction {
                Err(Outcome::already_exists(record.seq))
            } else {
                reject(Status::EntityConflict, format!("client instruction {} is recorded already with different details", instruction.id))
            };
        }
        if !self.asset_index.contains_key(&instruction.asset) {
            return reject(Status::UnknownAsset, format!("asset {} is not registered", instruction.asset));
        }
        if !self.client_index.contains_key(&instruction.client) {
            return reject(Status::UnknownClient, format!("client {} is not registered", instruction.client));
        }
        let invalid = |detail: String| reject(Status::InvalidInstruction, format!("client instruction {}: {detail}", instruction.id));
        if instruction.max_amount.is_zero() {
            return invalid("the maximum amount is 0".into());
        }
        if instruction.valid_until <= now {
            return invalid("its validity ends in the past".into());
        }
        if instruction.valid_until <= instruction.valid_from {
            return invalid("its validity ends before it starts".into());
        }
        if let Some(problem) = text_problem("the evidence", &instruction.evidence) {
            return invalid(format!("{problem}; name the signed instruction or its SHA-256"));
        }
        if instruction.beneficiary == Beneficiary::Firm && self.policy_ref().own_account_use == OwnAccountUse::Forbidden {
            return reject(
                Status::OwnAccountUse,
                format!(
                    "client assets may not be used for the firm's own account ({} for the firm); the safeguarding policy forbids it",
                    instruction.purpose.code()
                ),
            );
        }
        // Express consent is a separate agreement the client signed: a clause of the general
        // terms (or a kind not stated) is not, for instructions recorded from issue 15 on.
        if instruction.beneficiary == Beneficiary::Firm
            && self.now.0 >= ISSUE_15_RULES_FROM
            && instruction.consent != crate::safeguard::Consent::SeparateAgreement
        {
            return reject(
                Status::OwnAccountUse,
                format!(
                    "using client assets for the firm's own account ({} for the firm) needs the client's express consent: a separate agreement it signed (consent: separate_agreement), not {}",
                    instruction.purpose.code(),
                    match instruction.consent {
                        crate::safeguard::Consent::GeneralTerms => "a clause of the general terms",
                        _ => "a consent whose kind is not stated",
                    }
                ),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod share_tests {
    use super::*;

    #[test]
    fn shares_for_people_round_half_to_even_and_decisions_stay_exact() {
        // Two thirds truncated to 66.66 % made shares of one whole add to 99.99 %; rounded, it
        // is 66.67 %, and a third stays 33.33 %.
        assert_eq!((share_bp(1, 3), share_bp_rounded(1, 3)), (3333, 3333));
        assert_eq!((share_bp(2, 3), share_bp_rounded(2, 3)), (6666, 6667));
        // Exactly half a basis point: to the even neighbour.
        assert_eq!(share_bp_rounded(1, 20_000), 0);
        assert_eq!(share_bp_rounded(3, 20_000), 2);
        assert_eq!(share_bp_rounded(u128::MAX, u128::MAX), 10_000);
        assert_eq!(share_bp_rounded(5, 0), 0);
        // 40.004 % is above a 40 % limit although it prints as 40.00 %.
        assert!(share_exceeds(40_004, 100_000, 4_000));
        assert!(!share_exceeds(40_000, 100_000, 4_000));
    }
}
