//! The safeguarding lines' bodies (policy, client instructions, risk assessments,
//! institutions and fiat accounts) and the percentages they carry, parsed as strictly as the
//! other lines. The safeguarding policy's fields are shared with the HTTP API through
//! [`safeguarding_policy_from_json`], so a policy means the same from a file and from a request.

use std::collections::BTreeMap;

use ringfence_core::safeguard::BP_MAX;
use ringfence_core::{
    AssessmentId, AssetId, Beneficiary, ClientCategory, ClientId, ClientInstruction, Consent, Currency, Date, FiatAccount,
    FiatAccountClass, FiatAccountId, Institution, InstitutionId, InstitutionKind, InstructionId, OwnAccountUse, Purpose, RiskAssessment,
    SafeguardingPolicy, Timestamp,
};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use super::{Amount, describe_json_error};

/// A percentage as written, a JSON number or a string; checked by [`basis_points`] where the
/// field's name is known, so that the error can name it.
#[derive(Debug)]
pub(super) struct PercentText(String);

impl<'de> Deserialize<'de> for PercentText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<PercentText, D::Error> {
        struct PercentVisitor;
        impl Visitor<'_> for PercentVisitor {
            type Value = PercentText;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a percentage from 0 to 100 with at most 2 decimals, such as \"80\" or \"80.5\"")
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<PercentText, E> {
                Ok(PercentText(value.to_string()))
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<PercentText, E> {
                Ok(PercentText(value.to_string()))
            }
            // The shortest text that reads back as the same number: 80.5 is "80.5", 1.234 "1.234".
            fn visit_f64<E: de::Error>(self, value: f64) -> Result<PercentText, E> {
                Ok(PercentText(value.to_string()))
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<PercentText, E> {
                Ok(PercentText(value.to_owned()))
            }
        }
        deserializer.deserialize_any(PercentVisitor)
    }
}

/// A percentage (`"80"`, `"80.5"`, `"80.25"`) in basis points (8000, 8050, 8025). `field` names
/// it in the error.
fn basis_points(field: &str, PercentText(text): &PercentText) -> Result<u16, String> {
    let help = "give a percentage from 0 to 100 with at most 2 decimals, such as \"80\" or \"80.5\"";
    if text.starts_with('-') {
        return Err(format!("{field} {text:?} is negative; {help}"));
    }
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) || (fraction.is_empty() && text.contains('.')) {
        return Err(format!("{field} {text:?} is not a percentage; {help}"));
    }
    if fraction.len() > 2 {
        return Err(format!("{field} {text:?} has more than 2 decimals; {help}"));
    }
    let above = || format!("{field} {text:?} is above 100 %; {help}");
    let whole = whole.trim_start_matches('0');
    if whole.len() > 3 {
        return Err(above());
    }
    // Digits only, at most three and two of them (99 999 at most); an empty part is 0.
    let number = |part: &str| part.parse::<u32>().unwrap_or(0);
    let hundredths = if fraction.len() == 1 { number(fraction) * 10 } else { number(fraction) };
    let bp = number(whole) * 100 + hundredths;
    u16::try_from(bp).ok().filter(|bp| *bp <= BP_MAX).ok_or_else(above)
}

/// The fields of the safeguarding policy; each left out (or `null`) keeps the default of
/// [`SafeguardingPolicy::default`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PolicyText {
    #[serde(default, deserialize_with = "super::optional_code")]
    own_account_use: Option<OwnAccountUse>,
    #[serde(default)]
    cold_floor: Option<PercentText>,
    #[serde(default)]
    cold_floors: Option<BTreeMap<String, PercentText>>,
    #[serde(default)]
    lapse_notice_days: Option<u32>,
    #[serde(default)]
    closing_days: Option<Vec<String>>,
    #[serde(default)]
    concentration_limit: Option<PercentText>,
    /// The client categories the cold floor protects (`["retail"]` when left out).
    #[serde(default)]
    cold_floor_categories: Option<Vec<String>>,
    #[serde(default)]
    recon_max_gap_hours: Option<u32>,
    #[serde(default)]
    institution_review_days: Option<u32>,
    #[serde(default)]
    statement_interval_days: Option<u32>,
}

impl PolicyText {
    pub(super) fn into_policy(self) -> Result<SafeguardingPolicy, String> {
        let defaults = SafeguardingPolicy::default();
        let own_account_use = self.own_account_use.unwrap_or(defaults.own_account_use);
        let cold_floor_bp = self.cold_floor.as_ref().map_or(Ok(defaults.cold_floor_bp), |text| basis_points("cold_floor", text))?;
        let mut cold_floors = self
            .cold_floors
            .unwrap_or_default()
            .into_iter()
            .map(|(asset, floor)| {
                let asset = AssetId::parse(&asset).map_err(|e| format!("cold_floors: {e}"))?;
                let floor = basis_points(&format!("cold_floors {asset}"), &floor)?;
                Ok((asset, floor))
            })
            .collect::<Result<Vec<_>, String>>()?;
        cold_floors.sort_by(|a, b| a.0.cmp(&b.0));
        if let Some(pair) = cold_floors.windows(2).find(|pair| pair[0].0 == pair[1].0) {
            return Err(format!("cold_floors names {} twice; give each asset once", pair[0].0));
        }
        let mut closing_days = self
            .closing_days
            .unwrap_or_default()
            .iter()
            .map(|text| text.parse::<Date>().map_err(|e| format!("closing_days: {e}")))
            .collect::<Result<Vec<_>, String>>()?;
        closing_days.sort();
        if let Some(pair) = closing_days.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(format!("closing_days names {} twice; give each date once", pair[0]));
        }
        let concentration_limit_bp = self
            .concentration_limit
            .as_ref()
            .map_or(Ok(defaults.concentration_limit_bp), |text| basis_points("concentration_limit", text))?;
        let cold_floor_categories = match self.cold_floor_categories {
            None => defaults.cold_floor_categories,
            Some(texts) => {
                let mut categories = texts
                    .iter()
                    .map(|text| {
                        ClientCategory::from_code(text).ok_or_else(|| {
                            format!(
                                "cold_floor_categories: {text:?} is not a client category; give some of {}",
                                ClientCategory::ALL.iter().map(|c| format!("{:?}", c.code())).collect::<Vec<_>>().join(", ")
                            )
                        })
                    })
                    .collect::<Result<Vec<_>, String>>()?;
                categories.sort();
                if let Some(pair) = categories.windows(2).find(|pair| pair[0] == pair[1]) {
                    return Err(format!("cold_floor_categories names {} twice; give each category once", pair[0].code()));
                }
                categories
            }
        };
        Ok(SafeguardingPolicy {
            own_account_use,
            cold_floor_bp,
            cold_floors,
            lapse_notice_days: self.lapse_notice_days.unwrap_or(defaults.lapse_notice_days),
            closing_days,
            concentration_limit_bp,
            cold_floor_categories,
            recon_max_gap_hours: self.recon_max_gap_hours.unwrap_or(defaults.recon_max_gap_hours),
            institution_review_days: self.institution_review_days.unwrap_or(defaults.institution_review_days),
            statement_interval_days: self.statement_interval_days.unwrap_or(defaults.statement_interval_days),
        })
    }
}

/// Parses a safeguarding policy from the fields of a `safeguarding_policy` import line (without
/// its `type`), as the HTTP API takes it in a request body. The error is a sentence.
pub fn safeguarding_policy_from_json(value: serde_json::Value) -> Result<SafeguardingPolicy, String> {
    PolicyText::deserialize(value).map_err(|e| describe_json_error(&e))?.into_policy()
}

/// A client's instruction to encumber their assets.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct InstructionText {
    #[serde(deserialize_with = "super::instruction_id")]
    id: InstructionId,
    #[serde(deserialize_with = "super::client_id")]
    client: ClientId,
    #[serde(deserialize_with = "super::asset_id")]
    asset: AssetId,
    #[serde(deserialize_with = "super::code")]
    purpose: Purpose,
    #[serde(default, deserialize_with = "super::optional_code")]
    beneficiary: Option<Beneficiary>,
    #[serde(deserialize_with = "super::amount")]
    max_amount: Amount,
    #[serde(default, deserialize_with = "super::optional_time")]
    valid_from: Option<Timestamp>,
    #[serde(deserialize_with = "super::end_time_field")]
    valid_until: Timestamp,
    #[serde(default)]
    revocable: Option<bool>,
    #[serde(deserialize_with = "super::bounded_text")]
    evidence: String,
    /// `separate_agreement` or `general_terms` (`unstated` when left out).
    #[serde(default, deserialize_with = "super::optional_code")]
    consent: Option<Consent>,
}

impl InstructionText {
    pub(super) fn id(&self) -> &InstructionId {
        &self.id
    }

    /// The instruction, valid from `effective_at` unless it says otherwise.
    pub(super) fn into_instruction(self, effective_at: Timestamp) -> ClientInstruction {
        let InstructionText { id, client, asset, purpose, beneficiary, max_amount, valid_from, valid_until, revocable, evidence, consent } =
            self;
        let beneficiary = beneficiary.unwrap_or(Beneficiary::Client);
        ClientInstruction {
            id,
            client,
            asset,
            purpose,
            beneficiary,
            max_amount,
            valid_from: valid_from.unwrap_or(effective_at),
            valid_until,
            revocable: revocable.unwrap_or(true),
            evidence,
            consent: consent.unwrap_or_default(),
        }
    }
}

/// A risk assessment allowing a lower cold floor for one asset.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AssessmentText {
    #[serde(deserialize_with = "super::assessment_id")]
    id: AssessmentId,
    #[serde(deserialize_with = "super::asset_id")]
    asset: AssetId,
    cold_floor: PercentText,
    #[serde(deserialize_with = "super::end_time_field")]
    valid_until: Timestamp,
    #[serde(deserialize_with = "super::bounded_text")]
    reason: String,
}

impl AssessmentText {
    pub(super) fn into_assessment(self) -> Result<RiskAssessment, String> {
        let cold_floor_bp = basis_points("cold_floor", &self.cold_floor)?;
        Ok(RiskAssessment { id: self.id, asset: self.asset, cold_floor_bp, valid_until: self.valid_until, reason: self.reason })
    }
}

/// A credit institution or central bank that holds client fiat funds.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct InstitutionText {
    #[serde(deserialize_with = "super::institution_id")]
    id: InstitutionId,
    #[serde(deserialize_with = "super::bounded_text")]
    name: String,
    #[serde(deserialize_with = "super::code")]
    kind: InstitutionKind,
    #[serde(deserialize_with = "super::bounded_text")]
    reference: String,
}

impl InstitutionText {
    pub(super) fn into_institution(self) -> Institution {
        Institution { id: self.id, name: self.name, kind: self.kind, reference: self.reference }
    }
}

/// An account at a registered institution.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FiatAccountText {
    #[serde(deserialize_with = "super::fiat_account_id")]
    id: FiatAccountId,
    #[serde(deserialize_with = "super::institution_id")]
    institution: InstitutionId,
    #[serde(deserialize_with = "super::currency")]
    currency: Currency,
    #[serde(default, deserialize_with = "super::optional_code")]
    class: Option<FiatAccountClass>,
    #[serde(deserialize_with = "super::bounded_text")]
    reference: String,
}

impl FiatAccountText {
    pub(super) fn into_account(self) -> FiatAccount {
        let class = self.class.unwrap_or(FiatAccountClass::ClientFunds);
        FiatAccount { id: self.id, institution: self.institution, currency: self.currency, class, reference: self.reference }
    }
}
