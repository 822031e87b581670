//! Every policy in force, with the evidence of how it is met: what `ringfence policy show`
//! prints (its text rendered from these fields, its `--json` these structs) and `GET /v1/policy`
//! returns, with the OpenAPI schema taken from the same structs. Four-eyes approvals, exception
//! clocks, the safeguarding policy (own-account use, cold floors, sub-custody notice, fiat
//! calendar and concentration limit), the hot/cold split per asset with the risk assessments,
//! client instructions and what they encumber, sub-custodians with their share of client
//! assets, access separation, and client fiat funds.

use std::collections::BTreeMap;

use ringfence_core::register::{AssessmentRecord, ISSUE_15_RULES_FROM, InstructionRecord, share_bp, share_bp_rounded, share_exceeds};
use ringfence_core::safeguard::percent;
use ringfence_core::{
    Account, Amount, Beneficiary, ClassKind, Custodian, FiatAccountClass, InstitutionKind, KeyScheme, OwnAccountUse, PendingState, Purpose,
    Register, Timestamp,
};
use serde::Serialize;
use utoipa::ToSchema;

use super::entities::SubCustodianEntityView;
use super::{code, digits, units};
use crate::clock;

/// How a key set signs, for people: `multisig 2 of 3`, `mpc 2 of 3`, `hsm under 2 signer(s)`.
pub fn scheme(scheme: &KeyScheme, signers: usize) -> String {
    match scheme {
        KeyScheme::Multisig { threshold } => format!("multisig {threshold} of {signers}"),
        KeyScheme::Mpc { threshold } => format!("mpc {threshold} of {signers}"),
        KeyScheme::Hsm => format!("hsm under {signers} signer(s)"),
    }
}

/// Every policy in force with the evidence of how it is met.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PolicyReport {
    /// The four-eyes approval policy; null when none is set (nothing waits for approval).
    pub approvals: Option<ApprovalsView>,
    pub exceptions: ExceptionClocksView,
    pub safeguarding: SafeguardingPolicyView,
    /// Per asset: client holdings in hot and cold wallets, the cold share against its floor,
    /// the risk assessment covering a shortfall, and whether it is a breach.
    pub hot_cold: Vec<HotColdRow>,
    /// The cold floor per pool (the omnibus wallets of an asset, or one individually
    /// segregated client's wallets) with anything hot: whether the floor covers the pool
    /// (it holds assets of a client of a protected category) and whether it is met.
    pub cold_pools: Vec<ColdPoolView>,
    /// When the last reconciliation run was recorded and when the next is due.
    pub reconciliation: ReconciliationScheduleView,
    /// Every risk assessment, live or not, with who recorded and approved it.
    pub risk_assessments: Vec<RiskAssessmentView>,
    /// Every client instruction with its state, what it encumbers and the rewards credited
    /// under it.
    pub client_instructions: Vec<InstructionView>,
    pub sub_custody: SubCustodyView,
    pub access_separation: AccessSeparationView,
    pub fiat: FiatView,
}

/// The four-eyes approval policy in force, as the report's `approvals` section and (with
/// `in_force`) `GET /v1/policy/approvals`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApprovalsView {
    /// The entry that set it.
    pub seq: u64,
    /// Approvals needed from others than the initiator.
    pub approvals: u8,
    /// Hours a pending instruction waits before it expires.
    pub expiry_hours: u32,
    /// Per asset (CAIP-19 id), the amount (smallest unit, digits) above which a withdrawal
    /// needs approval: the shape `PUT /v1/policy/approvals` takes.
    #[schema(value_type = BTreeMap<String, String>, example = json!({"eip155:1/slip44:60": "10000000000000000000"}))]
    pub withdrawal_thresholds: BTreeMap<String, String>,
}

/// `GET /v1/policy/approvals`: whether an approval policy is in force and, if so, the fields
/// of [`ApprovalsView`] (the report's section) beside `in_force`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApprovalPolicyView {
    /// False while none is set: nothing waits for approval, and no other field is given.
    pub in_force: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approvals: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiry_hours: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    pub withdrawal_thresholds: Option<BTreeMap<String, String>>,
}

/// The approval policy in force, if any.
pub fn approvals(register: &Register) -> Option<ApprovalsView> {
    register.approval_policy().map(|(policy, seq)| ApprovalsView {
        seq,
        approvals: policy.approvals,
        expiry_hours: policy.expiry_hours,
        withdrawal_thresholds: policy.withdrawal_thresholds.iter().map(|(asset, amount)| (asset.to_string(), amount.to_string())).collect(),
    })
}

impl ApprovalPolicyView {
    pub fn of(register: &Register) -> ApprovalPolicyView {
        match approvals(register) {
            None => ApprovalPolicyView { in_force: false, seq: None, approvals: None, expiry_hours: None, withdrawal_thresholds: None },
            Some(policy) => ApprovalPolicyView {
                in_force: true,
                seq: Some(policy.seq),
                approvals: Some(policy.approvals),
                expiry_hours: Some(policy.expiry_hours),
                withdrawal_thresholds: Some(policy.withdrawal_thresholds),
            },
        }
    }
}

/// The exception clocks: the report's `exceptions` section, `GET /v1/policy/exceptions` and
/// `ringfence exceptions policy --json`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExceptionClocksView {
    /// The entry that set them; null while the defaults apply.
    pub seq: Option<u64>,
    /// Hours from opening to the due time; an exception unresolved then is escalated.
    pub resolution_hours: u32,
    /// Hours a movement leg may wait for its chain transfer.
    pub confirmation_hours: u32,
}

impl ExceptionClocksView {
    pub fn of(register: &Register) -> ExceptionClocksView {
        let (policy, seq) = register.exception_policy();
        ExceptionClocksView { seq, resolution_hours: policy.resolution_hours, confirmation_hours: policy.confirmation_hours }
    }
}

/// The safeguarding policy in force; percentages as text (`"80.00 %"`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SafeguardingPolicyView {
    /// The entry that set it; null while the defaults apply.
    pub seq: Option<u64>,
    #[serde(serialize_with = "code")]
    #[schema(value_type = crate::schema::OwnAccountUseCode)]
    pub own_account_use: OwnAccountUse,
    pub cold_floor: String,
    pub cold_floors: Vec<ColdFloorView>,
    pub lapse_notice_days: u32,
    /// Days on which client fiat funds need not be placed, `YYYY-MM-DD`.
    pub closing_days: Vec<String>,
    pub concentration_limit: String,
    /// The client categories whose assets the cold floor protects.
    #[schema(value_type = Vec<crate::schema::ClientCategoryCode>)]
    pub cold_floor_categories: Vec<&'static str>,
    /// The longest time after a reconciliation run before the next is overdue.
    pub recon_max_gap_hours: u32,
    /// Days after its registration or last review by which an institution holding client
    /// funds is due for review.
    pub institution_review_days: u32,
    /// Days after the end of a client's last statement period (or its registration) by which
    /// its next statement of position is due.
    pub statement_interval_days: u32,
}

/// One pool of client assets against the cold floor.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ColdPoolView {
    pub asset: String,
    pub symbol: String,
    /// `omnibus`, or the individually segregated client whose wallets these are.
    pub pool: String,
    #[serde(serialize_with = "units")]
    #[schema(value_type = String, pattern = "^[0-9]+$")]
    pub hot: u128,
    #[serde(serialize_with = "units")]
    #[schema(value_type = String, pattern = "^[0-9]+$")]
    pub cold: u128,
    /// Rounded half to even to 0.01 % (the breach is decided on the exact share).
    pub cold_share: String,
    pub cold_floor: String,
    /// Whether the floor applies: the pool holds assets of a client of a protected category.
    pub floor_applies: bool,
    /// The live risk assessment allowing a share below the floor, if any.
    pub covered_by: Option<String>,
    /// The floor applies, the share is below it and no live risk assessment allows it.
    pub breach: bool,
}

/// The reconciliation schedule: a run is overdue once the policy's longest gap has passed
/// since the last one.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReconciliationScheduleView {
    /// Null when no run was ever recorded.
    pub last_run_at: Option<String>,
    pub last_run: Option<u64>,
    /// Null when no run was ever recorded (nothing is due before the first).
    pub next_due: Option<String>,
    pub overdue: bool,
    pub max_gap_hours: u32,
}

/// When an institution holding client funds is due for review.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InstitutionReviewView {
    pub institution: String,
    /// Whether a client-funds account is registered there (only those are held to the review).
    pub holds_client_funds: bool,
    /// When it was registered or last reviewed, and that entry.
    pub reviewed_at: String,
    pub seq: u64,
    pub review_due: String,
    pub overdue: bool,
}
/// An asset's own cold floor.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ColdFloorView {
    pub asset: String,
    pub cold_floor: String,
}

/// One asset's hot/cold split of client holdings (smallest unit, as digits).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HotColdRow {
    pub asset: String,
    pub symbol: String,
    #[serde(serialize_with = "digits")]
    #[schema(value_type = String, pattern = "^[0-9]+$")]
    pub client_hot: Amount,
    #[serde(serialize_with = "digits")]
    #[schema(value_type = String, pattern = "^[0-9]+$")]
    pub client_cold: Amount,
    /// Null when the asset has no client holdings. Rounded half to even to 0.01 % (the breach
    /// is decided on the exact share).
    pub cold_share: Option<String>,
    pub cold_floor: String,
    /// The live risk assessment allowing a share below the floor, if any.
    pub covered_by: Option<String>,
    /// Below the floor with no live risk assessment.
    pub breach: bool,
}

/// A risk assessment allowing a lower cold floor for an asset.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RiskAssessmentView {
    pub id: String,
    pub asset: String,
    pub cold_floor: String,
    pub valid_until: String,
    /// Still valid now.
    pub live: bool,
    pub reason: String,
    pub recorded_by: String,
    /// Who approved it (empty when it applied without four-eyes).
    pub approved_by: Vec<String>,
    pub seq: u64,
}

/// Where a client instruction stands now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InstructionState {
    Live,
    Revoked,
    NotYetValid,
    Expired,
}

impl InstructionState {
    pub fn code(self) -> &'static str {
        match self {
            InstructionState::Live => "live",
            InstructionState::Revoked => "revoked",
            InstructionState::NotYetValid => "not_yet_valid",
            InstructionState::Expired => "expired",
        }
    }

    fn of(record: &InstructionRecord, now: Timestamp) -> InstructionState {
        match (record.revoked, record.live_at(now)) {
            (Some(_), _) => InstructionState::Revoked,
            (None, Ok(())) => InstructionState::Live,
            (None, Err(_)) if now < record.instruction.valid_from => InstructionState::NotYetValid,
            (None, Err(_)) => InstructionState::Expired,
        }
    }
}

/// A client instruction for encumbrance and what it encumbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct InstructionView {
    pub id: String,
    pub client: String,
    pub asset: String,
    #[serde(serialize_with = "code")]
    #[schema(value_type = crate::schema::PurposeCode)]
    pub purpose: Purpose,
    #[serde(serialize_with = "code")]
    #[schema(value_type = crate::schema::BeneficiaryCode)]
    pub beneficiary: Beneficiary,
    #[serde(serialize_with = "digits")]
    #[schema(value_type = String, pattern = "^[0-9]+$")]
    pub max_amount: Amount,
    pub valid_from: String,
    pub valid_until: String,
    pub revocable: bool,
    pub evidence: String,
    /// What kind of consent the evidence is: `separate_agreement`, `general_terms`, or
    /// `unstated` (recorded before the kind was asked).
    #[serde(serialize_with = "code")]
    #[schema(value_type = crate::schema::ConsentCode)]
    pub consent: ringfence_core::Consent,
    pub recorded_by: String,
    pub approved_by: Vec<String>,
    pub seq: u64,
    pub state: InstructionState,
    pub revoked_at: Option<String>,
    #[serde(serialize_with = "units")]
    #[schema(value_type = String, pattern = "^[0-9]+$")]
    pub encumbered: u128,
    #[serde(serialize_with = "units")]
    #[schema(value_type = String, pattern = "^[0-9]+$")]
    pub rewards: u128,
}

/// Client holdings in house and at each sub-custodian.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SubCustodyView {
    pub in_house: Vec<HoldingShare>,
    pub sub_custodians: Vec<SubCustodianView>,
}

/// What one custodian holds of an asset, and its share of all client holdings of it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HoldingShare {
    pub asset: String,
    #[serde(serialize_with = "units")]
    #[schema(value_type = String, pattern = "^[0-9]+$")]
    pub amount: u128,
    /// Rounded half to even to 0.01 %.
    pub share_of_client_holdings: String,
}

/// A sub-custodian (as `GET /v1/entities/sub-custodians` shows it) with where its
/// authorisation stands and what it holds.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SubCustodianView {
    #[serde(flatten)]
    pub registration: SubCustodianEntityView,
    /// `live`, `lapsing` (within the notice period) or `lapsed`.
    #[schema(value_type = String)]
    pub status: &'static str,
    pub holdings: Vec<HoldingShare>,
}

/// Key sets with their signers and wallets, and signers on both client and firm key sets.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccessSeparationView {
    pub key_sets: Vec<KeySetAccessView>,
    pub signers_on_both_sides: Vec<SharedSignerView>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KeySetAccessView {
    pub id: String,
    #[serde(serialize_with = "code")]
    #[schema(value_type = crate::schema::ClassKindCode)]
    pub class: ClassKind,
    /// How it signs, e.g. `multisig 2 of 3`.
    pub scheme: String,
    pub signers: Vec<String>,
    pub wallets: Vec<String>,
}

/// A signer holding keys for client assets and for the firm's own.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SharedSignerView {
    pub signer: String,
    pub client_key_sets: Vec<String>,
    pub firm_key_sets: Vec<String>,
}

/// Institutions, fiat accounts, what is owed to clients, unplaced receipts and the
/// concentration per institution.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FiatView {
    pub institutions: Vec<InstitutionView>,
    /// Per institution, when it was last reviewed and when its next review is due.
    pub reviews: Vec<InstitutionReviewView>,
    pub accounts: Vec<FiatAccountView>,
    pub owed_to_clients: Vec<OwedView>,
    pub unplaced: Vec<UnplacedView>,
    pub concentration: Vec<ConcentrationView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct InstitutionView {
    pub id: String,
    pub name: String,
    #[serde(serialize_with = "code")]
    #[schema(value_type = crate::schema::InstitutionKindCode)]
    pub kind: InstitutionKind,
    pub reference: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FiatAccountView {
    pub id: String,
    pub institution: String,
    pub currency: String,
    #[serde(serialize_with = "code")]
    #[schema(value_type = crate::schema::FiatAccountClassCode)]
    pub class: FiatAccountClass,
    pub reference: String,
    #[serde(serialize_with = "units")]
    #[schema(value_type = String, pattern = "^[0-9]+$")]
    pub balance: u128,
}

/// Per currency: what clients are owed and what is placed for them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OwedView {
    pub currency: String,
    #[serde(serialize_with = "units")]
    #[schema(value_type = String, pattern = "^[0-9]+$")]
    pub owed: u128,
    #[serde(serialize_with = "units")]
    #[schema(value_type = String, pattern = "^[0-9]+$")]
    pub placed: u128,
}

/// A fiat receipt not wholly placed yet.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UnplacedView {
    pub key: String,
    pub client: String,
    pub currency: String,
    #[serde(serialize_with = "digits")]
    #[schema(value_type = String, pattern = "^[0-9]+$")]
    pub amount: Amount,
    #[serde(serialize_with = "units")]
    #[schema(value_type = String, pattern = "^[0-9]+$")]
    pub unplaced: u128,
    pub received_at: String,
    pub deadline: String,
    pub overdue: bool,
}

/// Placed client funds of a currency at one institution against the concentration limit.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConcentrationView {
    pub currency: String,
    pub institution: String,
    #[serde(serialize_with = "units")]
    #[schema(value_type = String, pattern = "^[0-9]+$")]
    pub placed: u128,
    /// Rounded half to even to 0.01 % (`over_limit` is decided on the exact share).
    pub share: String,
    pub limit: String,
    pub over_limit: bool,
}

/// Who approved the command applied at `seq` (empty when it applied without four-eyes).
fn approvers(register: &Register, seq: u64) -> Vec<String> {
    register
        .pendings()
        .find(|pending| pending.state == PendingState::Applied { seq })
        .map(|pending| pending.approvals.iter().map(|(actor, _)| actor.as_str().to_owned()).collect())
        .unwrap_or_default()
}

fn assessment(register: &Register, record: &AssessmentRecord, now: Timestamp) -> RiskAssessmentView {
    let a = &record.assessment;
    RiskAssessmentView {
        id: a.id.as_str().to_owned(),
        asset: a.asset.as_str().to_owned(),
        cold_floor: percent(a.cold_floor_bp),
        valid_until: clock::format(a.valid_until),
        live: now <= a.valid_until,
        reason: a.reason.clone(),
        recorded_by: record.recorded_by.as_str().to_owned(),
        approved_by: approvers(register, record.seq),
        seq: record.seq,
    }
}

/// The report at `now` (which instructions are live, which authorisations lapse, which fiat is
/// overdue).
pub fn report(register: &Register, now: Timestamp) -> PolicyReport {
    let approvals = approvals(register);
    let pools = cold_pools(register, now);
    PolicyReport {
        approvals,
        exceptions: ExceptionClocksView::of(register),
        safeguarding: safeguarding(register),
        hot_cold: hot_cold(register, now, &pools),
        cold_pools: pools,
        reconciliation: reconciliation(register, now),
        risk_assessments: register.risk_assessments().iter().map(|record| assessment(register, record, now)).collect(),
        client_instructions: instructions(register, now),
        sub_custody: sub_custody(register, now),
        access_separation: access(register),
        fiat: fiat(register, now),
    }
}

/// The safeguarding policy in force (the defaults until one is set, `seq` null), as in the
/// report and `GET /v1/policy/safeguarding`.
pub fn safeguarding(register: &Register) -> SafeguardingPolicyView {
    let (safeguarding, seq) = register.safeguarding_policy();
    SafeguardingPolicyView {
        seq,
        own_account_use: safeguarding.own_account_use,
        cold_floor: percent(safeguarding.cold_floor_bp),
        cold_floors: safeguarding
            .cold_floors
            .iter()
            .map(|(asset, floor)| ColdFloorView { asset: asset.as_str().to_owned(), cold_floor: percent(*floor) })
            .collect(),
        lapse_notice_days: safeguarding.lapse_notice_days,
        closing_days: safeguarding.closing_days.iter().map(ToString::to_string).collect(),
        concentration_limit: percent(safeguarding.concentration_limit_bp),
        cold_floor_categories: safeguarding.cold_floor_categories.iter().map(|category| category.code()).collect(),
        recon_max_gap_hours: safeguarding.recon_max_gap_hours,
        institution_review_days: safeguarding.institution_review_days,
        statement_interval_days: safeguarding.statement_interval_days,
    }
}

fn cold_pools(register: &Register, now: Timestamp) -> Vec<ColdPoolView> {
    register
        .cold_pools()
        .iter()
        .map(|pool| {
            let covering = if pool.below_floor() { register.assessment_for_pool(pool, now) } else { None };
            ColdPoolView {
                asset: pool.asset.as_str().to_owned(),
                symbol: register.asset(&pool.asset).map(|asset| asset.symbol.clone()).unwrap_or_default(),
                pool: pool.client.as_ref().map_or_else(|| "omnibus".to_owned(), |client| client.as_str().to_owned()),
                hot: pool.hot,
                cold: pool.cold,
                cold_share: percent(pool.cold_share_bp()),
                cold_floor: percent(pool.floor_bp),
                floor_applies: pool.covered,
                covered_by: covering.map(|record| record.assessment.id.as_str().to_owned()),
                breach: pool.covered && pool.below_floor() && covering.is_none(),
            }
        })
        .collect()
}

fn reconciliation(register: &Register, now: Timestamp) -> ReconciliationScheduleView {
    let last = register.recon_runs().last();
    let due = register.reconciliation_due();
    ReconciliationScheduleView {
        last_run_at: last.map(|run| clock::format(run.recorded_at)),
        last_run: last.map(|run| run.id),
        next_due: due.map(clock::format),
        overdue: due.is_some_and(|due| now > due),
        max_gap_hours: register.safeguarding_policy().0.recon_max_gap_hours,
    }
}

/// Per asset over all client holdings; under issue 15's rules an asset's breach is a breach of
/// one of its `pools`.
fn hot_cold(register: &Register, now: Timestamp, pools: &[ColdPoolView]) -> Vec<HotColdRow> {
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
            HotColdRow {
                asset: row.asset.id.as_str().to_owned(),
                symbol: row.asset.symbol.clone(),
                client_hot: row.client_hot,
                client_cold: row.client_cold,
                cold_share: (total > 0).then(|| percent(share_bp_rounded(cold, total))),
                cold_floor: percent(floor),
                covered_by: if below { covering.map(|record| record.assessment.id.as_str().to_owned()) } else { None },
                // Under issue 15's rules the floor holds per pool (see `cold_pools`).
                breach: if now >= ISSUE_15_RULES_FROM {
                    pools.iter().any(|pool| pool.asset == row.asset.id.as_str() && pool.breach)
                } else {
                    below && covering.is_none()
                },
            }
        })
        .collect()
}

fn instructions(register: &Register, now: Timestamp) -> Vec<InstructionView> {
    register.client_instructions().iter().map(|record| InstructionView::of(register, record, now)).collect()
}

impl InstructionView {
    /// A client instruction as recorded, with its state at `now` and what it encumbers.
    pub fn of(register: &Register, record: &InstructionRecord, now: Timestamp) -> InstructionView {
        let i = &record.instruction;
        InstructionView {
            id: i.id.as_str().to_owned(),
            client: i.client.as_str().to_owned(),
            asset: i.asset.as_str().to_owned(),
            purpose: i.purpose,
            beneficiary: i.beneficiary,
            max_amount: i.max_amount,
            valid_from: clock::format(i.valid_from),
            valid_until: clock::format(i.valid_until),
            revocable: i.revocable,
            evidence: i.evidence.clone(),
            consent: i.consent,
            recorded_by: record.recorded_by.as_str().to_owned(),
            approved_by: approvers(register, record.seq),
            seq: record.seq,
            state: InstructionState::of(record, now),
            revoked_at: record.revoked.map(|(_, at)| clock::format(at)),
            encumbered: record.encumbered,
            rewards: record.rewards,
        }
    }
}

impl InstitutionView {
    pub fn of(i: &ringfence_core::Institution) -> InstitutionView {
        InstitutionView { id: i.id.as_str().to_owned(), name: i.name.clone(), kind: i.kind, reference: i.reference.clone() }
    }
}

impl FiatAccountView {
    pub fn of(r: &ringfence_core::register::FiatAccountRecord) -> FiatAccountView {
        FiatAccountView {
            id: r.account.id.as_str().to_owned(),
            institution: r.account.institution.as_str().to_owned(),
            currency: r.account.currency.as_str().to_owned(),
            class: r.account.class,
            reference: r.account.reference.clone(),
            balance: r.balance,
        }
    }
}

fn sub_custody(register: &Register, now: Timestamp) -> SubCustodyView {
    // Client-class holdings per asset and custodian (None: in-house).
    let mut held: BTreeMap<(String, Option<String>), u128> = BTreeMap::new();
    let mut totals: BTreeMap<String, u128> = BTreeMap::new();
    for wallet in register.wallets().filter(|wallet| wallet.class.kind().is_client()) {
        let custodian = match &wallet.custodian {
            Custodian::InHouse => None,
            Custodian::SubCustodian(id) => Some(id.as_str().to_owned()),
        };
        for (asset, amount) in register.balances_of(&Account::Holding(wallet.id.clone())).unwrap_or_default() {
            let held = held.entry((asset.as_str().to_owned(), custodian.clone())).or_default();
            *held = held.checked_add(amount.units()).expect("client holdings of an asset fit in u128");
            let total = totals.entry(asset.as_str().to_owned()).or_default();
            *total = total.checked_add(amount.units()).expect("client holdings of an asset fit in u128");
        }
    }
    let shares = |custodian: Option<&str>| -> Vec<HoldingShare> {
        held.iter()
            .filter(|((_, c), _)| c.as_deref() == custodian)
            .map(|((asset, _), amount)| {
                let total = totals.get(asset).copied().unwrap_or(0);
                HoldingShare { asset: asset.clone(), amount: *amount, share_of_client_holdings: percent(share_bp_rounded(*amount, total)) }
            })
            .collect()
    };
    let sub_custodians = register
        .sub_custodians()
        .map(|sub| SubCustodianView {
            registration: SubCustodianEntityView::of(sub),
            status: register.authorisation_status(sub, now),
            holdings: shares(Some(sub.id.as_str())),
        })
        .collect();
    SubCustodyView { in_house: shares(None), sub_custodians }
}

fn access(register: &Register) -> AccessSeparationView {
    let (access, shared) = register.access_separation();
    let names = |ids: &[&ringfence_core::KeySetId]| ids.iter().map(|id| id.as_str().to_owned()).collect();
    AccessSeparationView {
        key_sets: access
            .iter()
            .map(|a| KeySetAccessView {
                id: a.key_set.id.as_str().to_owned(),
                class: a.key_set.class,
                scheme: scheme(&a.key_set.scheme, a.key_set.signers.len()),
                signers: a.key_set.signers.clone(),
                wallets: a.wallets.iter().map(|w| w.as_str().to_owned()).collect(),
            })
            .collect(),
        signers_on_both_sides: shared
            .iter()
            .map(|s| SharedSignerView {
                signer: s.signer.to_owned(),
                client_key_sets: names(&s.client_key_sets),
                firm_key_sets: names(&s.firm_key_sets),
            })
            .collect(),
    }
}

fn fiat(register: &Register, now: Timestamp) -> FiatView {
    let (policy, _) = register.safeguarding_policy();
    // Placed client funds per currency and institution.
    let mut placed: BTreeMap<(String, String), u128> = BTreeMap::new();
    let mut placed_total: BTreeMap<String, u128> = BTreeMap::new();
    for record in register.fiat_accounts().iter().filter(|r| r.account.class == FiatAccountClass::ClientFunds) {
        let currency = record.account.currency.as_str().to_owned();
        let at = placed.entry((currency.clone(), record.account.institution.as_str().to_owned())).or_default();
        *at = at.checked_add(record.balance).expect("placed client funds of a currency fit in u128");
        let total = placed_total.entry(currency).or_default();
        *total = total.checked_add(record.balance).expect("placed client funds of a currency fit in u128");
    }
    let concentration = placed
        .iter()
        .map(|((currency, institution), amount)| {
            let total = placed_total.get(currency).copied().unwrap_or(0);
            // A central bank is no concentration risk: the limit does not apply to it.
            let central_bank = register
                .institutions()
                .any(|i| i.id.as_str() == institution.as_str() && i.kind == ringfence_core::InstitutionKind::CentralBank);
            ConcentrationView {
                currency: currency.clone(),
                institution: institution.clone(),
                placed: *amount,
                share: percent(share_bp_rounded(*amount, total)),
                limit: if central_bank { "none (central bank)".to_owned() } else { percent(policy.concentration_limit_bp) },
                over_limit: !central_bank && share_exceeds(*amount, total, policy.concentration_limit_bp),
            }
        })
        .collect();
    let mut owed: BTreeMap<String, u128> = BTreeMap::new();
    for (_, currency, amount) in register.fiat_positions() {
        let sum = owed.entry(currency.as_str().to_owned()).or_default();
        *sum = sum.checked_add(amount).expect("client fiat positions of a currency fit in u128");
    }
    FiatView {
        institutions: register.institutions().map(InstitutionView::of).collect(),
        reviews: register
            .institution_reviews()
            .map(|review| InstitutionReviewView {
                institution: review.institution.id.as_str().to_owned(),
                holds_client_funds: review.holds_client_funds,
                reviewed_at: clock::format(review.since),
                seq: review.seq,
                review_due: clock::format(review.due),
                overdue: review.holds_client_funds && now > review.due,
            })
            .collect(),
        accounts: register.fiat_accounts().iter().map(FiatAccountView::of).collect(),
        owed_to_clients: owed
            .iter()
            .map(|(currency, amount)| OwedView {
                currency: currency.clone(),
                owed: *amount,
                placed: placed_total.get(currency).copied().unwrap_or(0),
            })
            .collect(),
        unplaced: register
            .fiat_receipts()
            .iter()
            .filter(|r| r.unplaced() > 0)
            .map(|r| UnplacedView {
                key: r.receipt.key.as_str().to_owned(),
                client: r.receipt.client.as_str().to_owned(),
                currency: r.receipt.currency.as_str().to_owned(),
                amount: r.receipt.amount,
                unplaced: r.unplaced(),
                received_at: clock::format(r.received_at),
                deadline: clock::format(r.deadline),
                overdue: now >= r.deadline,
            })
            .collect(),
        concentration,
    }
}
