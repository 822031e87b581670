//! Safeguarding policies (MiCA Art 70 and 75, RTS 2025/305 Art 10): what the register enforces
//! beyond segregation, and reports on.
//!
//! **Own-account ban and client instructions.** Client assets are never used for the firm's
//! own account: a client instruction whose beneficiary is the firm is refused
//! (`own_account_use`), unless the safeguarding policy allows own-account use on the client's
//! express consent, a switch that is off by default because whether consent can ever allow it
//! is legally contested. Encumbrance for the client's own benefit (staking, lending, collateral
//! on the client's instruction) needs a recorded [`ClientInstruction`]: client, asset,
//! purpose, maximum amount, validity period, whether it is revocable, who recorded it and on
//! what evidence. An encumbrance moves part of the client's position into its *encumbered
//! sub-position*: the position (what the firm owes the client) is unchanged, so every report
//! of what a client owns still includes it, but movements cannot take the position below what
//! is encumbered. Rewards are movements of kind `reward` that credit the instructing client's
//! position under the instruction (`instruction` names it); a release returns encumbered
//! assets to the free sub-position. Revocation and expiry stop further encumbrance; what stays
//! encumbered under a lapsed instruction is an exception until released.
//!
//! **Hot/cold.** Per asset, a floor for the share of client-class holdings in cold wallets
//! (default 80 %). A breach is an exception unless a recorded, approved (four-eyes) and
//! unexpired [`RiskAssessment`] allows a lower floor that the current share still meets.
//!
//! **Sub-custody.** A wallet at a sub-custodian needs a live authorisation to be registered or
//! to receive assets (in the movement checks); an authorisation within
//! `lapse_notice_days` of its review date (`valid_until`) raises a warning exception, a lapsed
//! one at a sub-custodian that still holds client assets a critical one.
//!
//! **Client fiat funds (Art 70(3)).** Receipts per client and currency in minor units,
//! placements of a receipt into a client-funds account at a registered credit institution or
//! central bank, and withdrawals back to the client. A receipt not wholly placed by the end of
//! the next business day (TARGET2 calendar plus the policy's closing days, see
//! [`crate::calendar`]) is a critical exception.
//!
//! **Checks.** `Check` entries (journaled by the store after every batch that changed
//! something the policies look at, by the server as time passes, by `ringfence policy check`
//! and after every reconciliation run) turn each breach that has no unresolved exception yet
//! into one.

use crate::amount::Amount;
use crate::calendar::Date;
use crate::entity::ClientCategory;
use crate::ids::{AssessmentId, AssetId, ClientId, FiatAccountId, IdempotencyKey, InstitutionId, InstructionId};
use crate::time::Timestamp;

/// Shares are in basis points: 10 000 is 100 %.
pub const BP_MAX: u16 = 10_000;
/// The default floor for the cold share of client-class holdings.
pub const COLD_FLOOR_DEFAULT_BP: u16 = 8_000;
/// The default notice before a sub-custodian's authorisation lapses, in days.
pub const LAPSE_NOTICE_DAYS_DEFAULT: u32 = 30;
pub const LAPSE_NOTICE_DAYS_MAX: u32 = 365;
/// The default limit on the share of client fiat funds at one institution.
pub const CONCENTRATION_LIMIT_DEFAULT_BP: u16 = 5_000;
/// Bounds on a policy's lists.
pub const COLD_FLOORS_MAX: usize = 1_000;
/// The default longest gap between two reconciliation runs: a daily run, with two hours' grace.
pub const RECON_MAX_GAP_HOURS_DEFAULT: u32 = 26;
pub const RECON_MAX_GAP_HOURS_MAX: u32 = 24 * 31;
/// The default period within which each institution holding client funds is reviewed again.
pub const INSTITUTION_REVIEW_DAYS_DEFAULT: u32 = 365;
pub const INSTITUTION_REVIEW_DAYS_MAX: u32 = 3 * 365;
/// How long after the end of a client's last statement period the next is due, unless the
/// policy says otherwise: 92 days, a quarter at most (MiCA Art 75(5): at least once every three
/// months).
pub const STATEMENT_INTERVAL_DAYS_DEFAULT: u32 = 92;
pub const STATEMENT_INTERVAL_DAYS_MAX: u32 = 366;
pub const CLOSING_DAYS_MAX: usize = 1_000;
/// The longest evidence, reason, name or reference, in bytes.
pub const TEXT_BYTES_MAX: usize = 1024;

crate::codes! {
    /// Whether client assets may ever be used for the firm's own account.
    #[derive(Default)]
    pub enum OwnAccountUse("own-account use") {
        /// Never (the default).
        #[default]
        Forbidden = 0 => "forbidden",
        /// With the client's express consent, recorded as a client instruction whose
        /// beneficiary is the firm. Legally contested; off unless a compliance officer turns it
        /// on.
        ExpressConsent = 1 => "express_consent",
    }
}

/// The safeguarding policy. Set by four-eyes approval once an approval policy is in force.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SafeguardingPolicy {
    pub own_account_use: OwnAccountUse,
    /// The floor for the cold share of client-class holdings, for assets not listed below.
    pub cold_floor_bp: u16,
    /// Per-asset floors, sorted by asset, each asset once.
    pub cold_floors: Vec<(AssetId, u16)>,
    /// How long before a sub-custodian's review date its lapse is raised.
    pub lapse_notice_days: u32,
    /// Days the fiat calendar is closed besides TARGET2's, sorted, each once.
    pub closing_days: Vec<Date>,
    /// The largest share of client fiat funds (per currency) at one institution.
    pub concentration_limit_bp: u16,
    /// The client categories whose assets the cold floor protects (default: retail), sorted,
    /// each once. A pool (the omnibus wallets of an asset, or one individually segregated
    /// client's wallets) is held to the floor when it holds assets of a client of these.
    pub cold_floor_categories: Vec<ClientCategory>,
    /// The longest time after a reconciliation run before the next one is overdue.
    pub recon_max_gap_hours: u32,
    /// How long after its registration or last review an institution holding client funds is
    /// due for review.
    pub institution_review_days: u32,
    /// How long after the end of a client's last statement period (or its registration) the
    /// next statement is due (issue 17).
    pub statement_interval_days: u32,
}

impl std::fmt::Debug for SafeguardingPolicy {
    /// The fields in order; issue 15's only when one of them is not the default, so that the
    /// text of a policy recorded before they existed is what it always was (the golden
    /// journals pin it).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = f.debug_struct("SafeguardingPolicy");
        out.field("own_account_use", &self.own_account_use)
            .field("cold_floor_bp", &self.cold_floor_bp)
            .field("cold_floors", &self.cold_floors)
            .field("lapse_notice_days", &self.lapse_notice_days)
            .field("closing_days", &self.closing_days)
            .field("concentration_limit_bp", &self.concentration_limit_bp);
        if self.states_issue_15_fields() {
            out.field("cold_floor_categories", &self.cold_floor_categories)
                .field("recon_max_gap_hours", &self.recon_max_gap_hours)
                .field("institution_review_days", &self.institution_review_days);
        }
        if self.states_issue_17_fields() {
            out.field("statement_interval_days", &self.statement_interval_days);
        }
        out.finish()
    }
}

impl Default for SafeguardingPolicy {
    fn default() -> Self {
        SafeguardingPolicy {
            own_account_use: OwnAccountUse::Forbidden,
            cold_floor_bp: COLD_FLOOR_DEFAULT_BP,
            cold_floors: Vec::new(),
            lapse_notice_days: LAPSE_NOTICE_DAYS_DEFAULT,
            closing_days: Vec::new(),
            concentration_limit_bp: CONCENTRATION_LIMIT_DEFAULT_BP,
            cold_floor_categories: vec![ClientCategory::Retail],
            recon_max_gap_hours: RECON_MAX_GAP_HOURS_DEFAULT,
            institution_review_days: INSTITUTION_REVIEW_DAYS_DEFAULT,
            statement_interval_days: STATEMENT_INTERVAL_DAYS_DEFAULT,
        }
    }
}

impl SafeguardingPolicy {
    /// What is wrong with the policy, if anything.
    pub fn problem(&self) -> Option<String> {
        if self.cold_floor_bp > BP_MAX {
            return Some(format!("cold_floor is {}; it must be 0 to 100 %", percent(self.cold_floor_bp)));
        }
        if let Some((asset, floor)) = self.cold_floors.iter().find(|(_, floor)| *floor > BP_MAX) {
            return Some(format!("the cold floor of {asset} is {}; it must be 0 to 100 %", percent(*floor)));
        }
        if self.cold_floors.len() > COLD_FLOORS_MAX {
            return Some(format!("{} cold floors; at most {COLD_FLOORS_MAX}", self.cold_floors.len()));
        }
        if self.cold_floors.windows(2).any(|pair| pair[0].0 >= pair[1].0) {
            return Some("cold floors must name each asset once, in order".into());
        }
        if !(1..=LAPSE_NOTICE_DAYS_MAX).contains(&self.lapse_notice_days) {
            return Some(format!("lapse_notice_days is {}; it must be 1 to {LAPSE_NOTICE_DAYS_MAX}", self.lapse_notice_days));
        }
        if self.closing_days.len() > CLOSING_DAYS_MAX {
            return Some(format!("{} closing days; at most {CLOSING_DAYS_MAX}", self.closing_days.len()));
        }
        if self.closing_days.windows(2).any(|pair| pair[0] >= pair[1]) {
            return Some("closing days must name each date once, in order".into());
        }
        if self.concentration_limit_bp == 0 || self.concentration_limit_bp > BP_MAX {
            return Some(format!("concentration_limit is {}; it must be above 0 and at most 100 %", percent(self.concentration_limit_bp)));
        }
        if self.cold_floor_categories.is_empty() {
            return Some(
                "cold_floor_categories is empty; name at least one client category (to drop the floor, set cold_floor to 0)".into(),
            );
        }
        if self.cold_floor_categories.windows(2).any(|pair| pair[0] >= pair[1]) {
            return Some("cold_floor_categories must name each category once, in order".into());
        }
        if !(1..=RECON_MAX_GAP_HOURS_MAX).contains(&self.recon_max_gap_hours) {
            return Some(format!("recon_max_gap_hours is {}; it must be 1 to {RECON_MAX_GAP_HOURS_MAX}", self.recon_max_gap_hours));
        }
        if !(1..=STATEMENT_INTERVAL_DAYS_MAX).contains(&self.statement_interval_days) {
            return Some(format!(
                "statement_interval_days is {}; it must be 1 to {STATEMENT_INTERVAL_DAYS_MAX}",
                self.statement_interval_days
            ));
        }
        if !(1..=INSTITUTION_REVIEW_DAYS_MAX).contains(&self.institution_review_days) {
            return Some(format!(
                "institution_review_days is {}; it must be 1 to {INSTITUTION_REVIEW_DAYS_MAX}",
                self.institution_review_days
            ));
        }
        None
    }

    /// Whether the fields added by issue 15 differ from their defaults (the policy is then
    /// encoded with them; otherwise in the older form, byte for byte).
    pub fn states_issue_15_fields(&self) -> bool {
        let default = SafeguardingPolicy::default();
        self.cold_floor_categories != default.cold_floor_categories
            || self.recon_max_gap_hours != default.recon_max_gap_hours
            || self.institution_review_days != default.institution_review_days
    }

    /// Whether the field added by issue 17 differs from its default (the policy is then
    /// encoded with it, tag 15; otherwise as before, byte for byte).
    pub fn states_issue_17_fields(&self) -> bool {
        self.statement_interval_days != STATEMENT_INTERVAL_DAYS_DEFAULT
    }

    /// The cold floor of `asset`.
    pub fn cold_floor(&self, asset: &AssetId) -> u16 {
        self.cold_floors.binary_search_by(|(id, _)| id.cmp(asset)).map_or(self.cold_floor_bp, |index| self.cold_floors[index].1)
    }
}

/// Basis points as a percentage for people: `8000` is `80.00 %`.
pub fn percent(bp: u16) -> String {
    format!("{}.{:02} %", bp / 100, bp % 100)
}

crate::codes! {
    /// What a client instruction allows the assets to be used for. The tags are the positions
    /// these had in `ALL` when the journal first stored them.
    pub enum Purpose("purpose") {
        Staking = 0 => "staking",
        Lending = 1 => "lending",
        Collateral = 2 => "collateral",
        Trading = 3 => "trading",
    }
}

crate::codes! {
    /// What kind of consent a client instruction's evidence is. Express consent to the firm's
    /// own use of client assets is a separate agreement the client signed, never a clause of
    /// the general terms.
    #[derive(Default)]
    pub enum Consent("consent") {
        /// Not said (instructions recorded before the kind was asked).
        #[default]
        Unstated = 0 => "unstated",
        /// A separate agreement the client signed for this use.
        SeparateAgreement = 1 => "separate_agreement",
        /// A clause of the general terms and conditions.
        GeneralTerms = 2 => "general_terms",
    }
}

crate::codes! {
    /// For whose account the encumbered assets are used.
    pub enum Beneficiary("beneficiary") {
        /// The client's own benefit: rewards accrue to the client.
        Client = 0 => "client",
        /// The firm's own account: refused unless the policy allows express consent.
        Firm = 1 => "firm",
    }
}

/// A client's instruction to encumber their assets (staking, lending…), as recorded.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ClientInstruction {
    pub id: InstructionId,
    pub client: ClientId,
    pub asset: AssetId,
    pub purpose: Purpose,
    pub beneficiary: Beneficiary,
    /// The most that may be encumbered under it at any time.
    pub max_amount: Amount,
    pub valid_from: Timestamp,
    /// Encumbrance is allowed up to and including this instant.
    pub valid_until: Timestamp,
    /// Whether the client may revoke it before it expires.
    pub revocable: bool,
    /// Where the instruction is on file: a signed document's reference or SHA-256.
    pub evidence: String,
    /// What kind of consent the evidence is (issue 15); `unstated` for instructions recorded
    /// before it was asked.
    pub consent: Consent,
}

impl std::fmt::Debug for ClientInstruction {
    /// The fields in order; `consent` only when stated, so that the text of an instruction
    /// recorded before the kind was asked is what it always was (the golden journals pin it).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = f.debug_struct("ClientInstruction");
        out.field("id", &self.id)
            .field("client", &self.client)
            .field("asset", &self.asset)
            .field("purpose", &self.purpose)
            .field("beneficiary", &self.beneficiary)
            .field("max_amount", &self.max_amount)
            .field("valid_from", &self.valid_from)
            .field("valid_until", &self.valid_until)
            .field("revocable", &self.revocable)
            .field("evidence", &self.evidence);
        if self.consent != Consent::Unstated {
            out.field("consent", &self.consent);
        }
        out.finish()
    }
}

/// A documented risk assessment that allows a lower cold floor for one asset until it expires.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RiskAssessment {
    pub id: AssessmentId,
    pub asset: AssetId,
    /// The cold share it accepts at least.
    pub cold_floor_bp: u16,
    pub valid_until: Timestamp,
    /// Why, and where the assessment is on file.
    pub reason: String,
}

crate::codes! {
    /// What kind of institution holds client fiat funds (MiCA Art 70(3)).
    pub enum InstitutionKind("institution kind") {
        CreditInstitution = 0 => "credit_institution",
        CentralBank = 1 => "central_bank",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Institution {
    pub id: InstitutionId,
    pub name: String,
    pub kind: InstitutionKind,
    /// Its identifier in a public register: a BIC, an LEI or the supervisor's licence number.
    pub reference: String,
}

/// An ISO 4217 currency code: three capital letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Currency([u8; 3]);

impl Currency {
    pub const EUR: Currency = Currency(*b"EUR");

    pub fn parse(text: &str) -> Result<Currency, String> {
        match text.as_bytes() {
            &[a, b, c] if [a, b, c].iter().all(u8::is_ascii_uppercase) => Ok(Currency([a, b, c])),
            _ => Err(format!("currency {text:?} is not an ISO 4217 code of three capital letters, e.g. EUR")),
        }
    }

    pub fn as_str(&self) -> &str {
        // Three ASCII capitals, checked on parse.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }

    /// The exponent of the currency's minor unit (ISO 4217): amounts are kept in minor units,
    /// 100 to the euro. 0 for the currencies without one (JPY, KRW, ISK…), 3 for BHD, KWD…,
    /// 4 for CLF and UYW, 2 for every other code.
    pub fn exponent(&self) -> u32 {
        match self.as_str() {
            "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX" | "UYI" | "VND" | "VUV" | "XAF"
            | "XOF" | "XPF" => 0,
            "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
            "CLF" | "UYW" => 4,
            _ => 2,
        }
    }

    /// An amount in minor units as money: `EUR 999.00` for 99900, `JPY 5000` for 5000.
    pub fn money(&self, minor: u128) -> String {
        let exponent = self.exponent();
        if exponent == 0 {
            return format!("{self} {minor}");
        }
        let unit = 10u128.pow(exponent);
        format!("{self} {}.{:0width$}", minor / unit, minor % unit, width = exponent as usize)
    }
}

impl std::fmt::Display for Currency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

crate::codes! {
    /// Whose money a fiat account holds. Client funds go only to client-funds accounts; firm
    /// accounts are registered so that the two can be told apart (and placing there is
    /// refused).
    pub enum FiatAccountClass("fiat account class") {
        ClientFunds = 0 => "client_funds",
        Firm = 1 => "firm",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FiatAccount {
    pub id: FiatAccountId,
    pub institution: InstitutionId,
    pub currency: Currency,
    pub class: FiatAccountClass,
    /// The account's number at the institution (an IBAN).
    pub reference: String,
}

/// Fiat received for a client, at the command's effective time.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FiatReceipt {
    pub key: IdempotencyKey,
    pub client: ClientId,
    pub currency: Currency,
    /// In minor units (cents for EUR).
    pub amount: Amount,
}

/// Part or all of a receipt placed into a client-funds account.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FiatPlacement {
    pub key: IdempotencyKey,
    pub receipt: IdempotencyKey,
    pub account: FiatAccountId,
    pub amount: Amount,
}

/// Client fiat paid out of a client-funds account back to the client.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FiatWithdrawal {
    pub key: IdempotencyKey,
    pub client: ClientId,
    pub account: FiatAccountId,
    pub amount: Amount,
}

/// The safeguarding commands.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SafeguardAction {
    /// Sets the safeguarding policy (four-eyes once an approval policy is in force).
    SetPolicy(SafeguardingPolicy),
    /// Records a client's encumbrance instruction (four-eyes).
    RecordInstruction(ClientInstruction),
    /// The client revokes a revocable instruction: no further encumbrance under it.
    RevokeInstruction {
        id: InstructionId,
    },
    /// Moves `amount` of the instructing client's position into its encumbered sub-position.
    Encumber {
        key: IdempotencyKey,
        instruction: InstructionId,
        amount: Amount,
    },
    /// Returns `amount` from the encumbered sub-position to the free one.
    Release {
        key: IdempotencyKey,
        instruction: InstructionId,
        amount: Amount,
    },
    /// Records a risk assessment allowing a lower cold floor (four-eyes).
    RecordRiskAssessment(RiskAssessment),
    /// Registers a credit institution or central bank (four-eyes).
    RegisterInstitution(Institution),
    /// Registers an account at a registered institution (four-eyes).
    RegisterFiatAccount(FiatAccount),
    ReceiveFiat(FiatReceipt),
    PlaceFiat(FiatPlacement),
    WithdrawFiat(FiatWithdrawal),
    /// Turns every breach without an unresolved exception into one.
    Check,
    /// Records that the selection of an institution holding client funds was reviewed (at
    /// the entry's effective time), on the evidence named (four-eyes).
    ReviewInstitution {
        institution: InstitutionId,
        evidence: String,
    },
}

impl SafeguardAction {
    /// What kind of journal entry it is, for people and the API (the import line's `type`).
    pub fn code(&self) -> &'static str {
        match self {
            SafeguardAction::SetPolicy(_) => "safeguarding_policy",
            SafeguardAction::RecordInstruction(_) => "client_instruction",
            SafeguardAction::RevokeInstruction { .. } => "instruction_revocation",
            SafeguardAction::Encumber { .. } => "encumbrance",
            SafeguardAction::Release { .. } => "release",
            SafeguardAction::RecordRiskAssessment(_) => "risk_assessment",
            SafeguardAction::RegisterInstitution(_) => "institution",
            SafeguardAction::RegisterFiatAccount(_) => "fiat_account",
            SafeguardAction::ReceiveFiat(_) => "fiat_receipt",
            SafeguardAction::PlaceFiat(_) => "fiat_placement",
            SafeguardAction::WithdrawFiat(_) => "fiat_withdrawal",
            SafeguardAction::Check => "safeguarding_check",
            SafeguardAction::ReviewInstitution { .. } => "institution_review",
        }
    }

    /// The idempotency key of an event (encumbrance, release, fiat receipt, placement,
    /// withdrawal); these share one namespace.
    pub fn key(&self) -> Option<&IdempotencyKey> {
        match self {
            SafeguardAction::Encumber { key, .. } | SafeguardAction::Release { key, .. } => Some(key),
            SafeguardAction::ReceiveFiat(receipt) => Some(&receipt.key),
            SafeguardAction::PlaceFiat(placement) => Some(&placement.key),
            SafeguardAction::WithdrawFiat(withdrawal) => Some(&withdrawal.key),
            _ => None,
        }
    }
}
