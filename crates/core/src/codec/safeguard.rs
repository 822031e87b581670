//! The canonical form of the safeguarding commands (action tag 24, then a sub-tag).

use super::{DecodeError, Decoder, Encoder};
use crate::amount::Amount;
use crate::calendar::Date;
use crate::ids::{AssessmentId, AssetId, ClientId, FiatAccountId, IdempotencyKey, InstitutionId, InstructionId};
use crate::safeguard::{
    ClientInstruction, Consent, Currency, FiatAccount, FiatPlacement, FiatReceipt, FiatWithdrawal, Institution, RiskAssessment,
    SafeguardAction, SafeguardingPolicy,
};
use crate::time::Timestamp;

const DATE_BYTES: usize = 8;

impl Encoder {
    pub(super) fn safeguard(&mut self, action: &SafeguardAction) {
        match action {
            SafeguardAction::SetPolicy(policy) => {
                // Tag 0 is the encoding from before issue 15's fields; a policy that sets any of
                // them differently from the default is tag 14, the same fields and then those.
                // Tag 15 (issue 17) is tag 14's fields and then the statement interval.
                let stated_17 = policy.states_issue_17_fields();
                let extended = stated_17 || policy.states_issue_15_fields();
                self.u8(if stated_17 {
                    15
                } else if extended {
                    14
                } else {
                    0
                });
                self.code(policy.own_account_use);
                self.u64(u64::from(policy.cold_floor_bp));
                self.u64(policy.cold_floors.len() as u64);
                for (asset, floor) in &policy.cold_floors {
                    self.str(asset.as_str());
                    self.u64(u64::from(*floor));
                }
                self.u64(u64::from(policy.lapse_notice_days));
                self.u64(policy.closing_days.len() as u64);
                for day in &policy.closing_days {
                    self.i64(day.start().micros());
                }
                self.u64(u64::from(policy.concentration_limit_bp));
                if extended {
                    self.u64(policy.cold_floor_categories.len() as u64);
                    for category in &policy.cold_floor_categories {
                        self.code(*category);
                    }
                    self.u64(u64::from(policy.recon_max_gap_hours));
                    self.u64(u64::from(policy.institution_review_days));
                }
                if stated_17 {
                    self.u64(u64::from(policy.statement_interval_days));
                }
            }
            SafeguardAction::RecordInstruction(instruction) => {
                // Tag 1 is the encoding from before the consent kind; an instruction that
                // states one is tag 12, the same fields and then the kind. So an unstated one
                // keeps its bytes.
                self.u8(if instruction.consent == Consent::Unstated { 1 } else { 12 });
                self.str(instruction.id.as_str());
                self.str(instruction.client.as_str());
                self.str(instruction.asset.as_str());
                self.code(instruction.purpose);
                self.code(instruction.beneficiary);
                self.u128(instruction.max_amount.units());
                self.i64(instruction.valid_from.micros());
                self.i64(instruction.valid_until.micros());
                self.u8(u8::from(instruction.revocable));
                self.str(&instruction.evidence);
                if instruction.consent != Consent::Unstated {
                    self.code(instruction.consent);
                }
            }
            SafeguardAction::RevokeInstruction { id } => {
                self.u8(2);
                self.str(id.as_str());
            }
            SafeguardAction::Encumber { key, instruction, amount } | SafeguardAction::Release { key, instruction, amount } => {
                self.u8(if matches!(action, SafeguardAction::Encumber { .. }) { 3 } else { 4 });
                self.str(key.as_str());
                self.str(instruction.as_str());
                self.u128(amount.units());
            }
            SafeguardAction::RecordRiskAssessment(assessment) => {
                self.u8(5);
                self.str(assessment.id.as_str());
                self.str(assessment.asset.as_str());
                self.u64(u64::from(assessment.cold_floor_bp));
                self.i64(assessment.valid_until.micros());
                self.str(&assessment.reason);
            }
            SafeguardAction::RegisterInstitution(institution) => {
                self.u8(6);
                self.str(institution.id.as_str());
                self.str(&institution.name);
                self.code(institution.kind);
                self.str(&institution.reference);
            }
            SafeguardAction::RegisterFiatAccount(account) => {
                self.u8(7);
                self.str(account.id.as_str());
                self.str(account.institution.as_str());
                self.str(account.currency.as_str());
                self.code(account.class);
                self.str(&account.reference);
            }
            SafeguardAction::ReceiveFiat(receipt) => {
                self.u8(8);
                self.str(receipt.key.as_str());
                self.str(receipt.client.as_str());
                self.str(receipt.currency.as_str());
                self.u128(receipt.amount.units());
            }
            SafeguardAction::PlaceFiat(placement) => {
                self.u8(9);
                self.str(placement.key.as_str());
                self.str(placement.receipt.as_str());
                self.str(placement.account.as_str());
                self.u128(placement.amount.units());
            }
            SafeguardAction::WithdrawFiat(withdrawal) => {
                self.u8(10);
                self.str(withdrawal.key.as_str());
                self.str(withdrawal.client.as_str());
                self.str(withdrawal.account.as_str());
                self.u128(withdrawal.amount.units());
            }
            SafeguardAction::Check => self.u8(11),
            SafeguardAction::ReviewInstitution { institution, evidence } => {
                self.u8(13);
                self.str(institution.as_str());
                self.str(evidence);
            }
        }
    }
}

impl Decoder<'_> {
    pub(super) fn safeguard(&mut self) -> Result<SafeguardAction, DecodeError> {
        Ok(match self.tag("safeguarding action", 15)? {
            tag @ (0 | 14 | 15) => {
                let own_account_use = self.code()?;
                let cold_floor_bp = self.bp()?;
                let count = self.count(10)?;
                let cold_floors = (0..count).map(|_| Ok((self.id(AssetId::parse)?, self.bp()?))).collect::<Result<_, DecodeError>>()?;
                let lapse_notice_days = self.small("lapse notice days")?;
                let count = self.count(DATE_BYTES)?;
                let closing_days = (0..count).map(|_| self.date()).collect::<Result<_, _>>()?;
                let concentration_limit_bp = self.bp()?;
                let mut policy = SafeguardingPolicy {
                    own_account_use,
                    cold_floor_bp,
                    cold_floors,
                    lapse_notice_days,
                    closing_days,
                    concentration_limit_bp,
                    ..SafeguardingPolicy::default()
                };
                if tag >= 14 {
                    let count = self.count(1)?;
                    policy.cold_floor_categories = (0..count).map(|_| self.code()).collect::<Result<_, _>>()?;
                    policy.recon_max_gap_hours = self.small("reconciliation gap hours")?;
                    policy.institution_review_days = self.small("institution review days")?;
                }
                if tag == 15 {
                    policy.statement_interval_days = self.small("statement interval days")?;
                }
                SafeguardAction::SetPolicy(policy)
            }
            tag @ (1 | 12) => {
                let mut instruction = ClientInstruction {
                    id: self.id(InstructionId::parse)?,
                    client: self.id(ClientId::parse)?,
                    asset: self.id(AssetId::parse)?,
                    purpose: self.code()?,
                    beneficiary: self.code()?,
                    max_amount: Amount::new(self.u128()?),
                    valid_from: Timestamp::from_micros(self.i64()?),
                    valid_until: Timestamp::from_micros(self.i64()?),
                    revocable: self.tag("revocable flag", 1)? == 1,
                    evidence: self.str()?.to_owned(),
                    consent: Consent::Unstated,
                };
                if tag == 12 {
                    instruction.consent = self.code()?;
                }
                SafeguardAction::RecordInstruction(instruction)
            }
            2 => SafeguardAction::RevokeInstruction { id: self.id(InstructionId::parse)? },
            tag @ (3 | 4) => {
                let (key, instruction, amount) =
                    (self.id(IdempotencyKey::parse)?, self.id(InstructionId::parse)?, Amount::new(self.u128()?));
                if tag == 3 {
                    SafeguardAction::Encumber { key, instruction, amount }
                } else {
                    SafeguardAction::Release { key, instruction, amount }
                }
            }
            5 => SafeguardAction::RecordRiskAssessment(RiskAssessment {
                id: self.id(AssessmentId::parse)?,
                asset: self.id(AssetId::parse)?,
                cold_floor_bp: self.bp()?,
                valid_until: Timestamp::from_micros(self.i64()?),
                reason: self.str()?.to_owned(),
            }),
            6 => SafeguardAction::RegisterInstitution(Institution {
                id: self.id(InstitutionId::parse)?,
                name: self.str()?.to_owned(),
                kind: self.code()?,
                reference: self.str()?.to_owned(),
            }),
            7 => SafeguardAction::RegisterFiatAccount(FiatAccount {
                id: self.id(FiatAccountId::parse)?,
                institution: self.id(InstitutionId::parse)?,
                currency: self.currency()?,
                class: self.code()?,
                reference: self.str()?.to_owned(),
            }),
            8 => SafeguardAction::ReceiveFiat(FiatReceipt {
                key: self.id(IdempotencyKey::parse)?,
                client: self.id(ClientId::parse)?,
                currency: self.currency()?,
                amount: Amount::new(self.u128()?),
            }),
            9 => SafeguardAction::PlaceFiat(FiatPlacement {
                key: self.id(IdempotencyKey::parse)?,
                receipt: self.id(IdempotencyKey::parse)?,
                account: self.id(FiatAccountId::parse)?,
                amount: Amount::new(self.u128()?),
            }),
            10 => SafeguardAction::WithdrawFiat(FiatWithdrawal {
                key: self.id(IdempotencyKey::parse)?,
                client: self.id(ClientId::parse)?,
                account: self.id(FiatAccountId::parse)?,
                amount: Amount::new(self.u128()?),
            }),
            11 => SafeguardAction::Check,
            13 => SafeguardAction::ReviewInstitution { institution: self.id(InstitutionId::parse)?, evidence: self.str()?.to_owned() },
            tag => return Err(DecodeError::BadTag { what: "safeguarding action", tag, offset: self.offset }),
        })
    }

    fn bp(&mut self) -> Result<u16, DecodeError> {
        let offset = self.offset;
        u16::try_from(self.u64()?).map_err(|_| DecodeError::OutOfRange { what: "basis points", offset })
    }

    fn small(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        let offset = self.offset;
        u32::try_from(self.u64()?).map_err(|_| DecodeError::OutOfRange { what, offset })
    }

    fn date(&mut self) -> Result<Date, DecodeError> {
        let offset = self.offset;
        let start = Timestamp::from_micros(self.i64()?);
        let date = Date::of(start);
        if date.start() != start {
            return Err(DecodeError::OutOfRange { what: "date", offset });
        }
        Ok(date)
    }

    pub(crate) fn currency(&mut self) -> Result<Currency, DecodeError> {
        let offset = self.offset;
        let text = self.str()?;
        Currency::parse(text).map_err(|_| DecodeError::OutOfRange { what: "currency", offset })
    }
}
