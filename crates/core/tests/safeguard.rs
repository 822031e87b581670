//! Safeguarding policies in the register (issue 6): the own-account ban, client instructions
//! and encumbrance, the hot/cold floor with risk assessments, sub-custody authorisations,
//! client fiat funds with the TARGET2 calendar; bad input changes nothing; everything replays
//! from the encoded journal to the same decisions.

#![allow(clippy::unwrap_used, reason = "a fixture that fails should fail the test at once")]

use ringfence_core::codec::{decode_command, encode_command};
use ringfence_core::{
    Account, Action, Actor, Address, Amount, ApprovalPolicy, Asset, AssetId, AuthorisationBasis, Beneficiary, ClassKind, Client,
    ClientCategory, ClientId, ClientInstruction, Command, Consent, Currency, Custodian, Date, ExceptionKind, FiatAccount, FiatAccountClass,
    FiatAccountId, FiatPlacement, FiatReceipt, FiatWithdrawal, IdempotencyKey, Institution, InstitutionId, InstitutionKind, InstructionId,
    KeyScheme, KeySet, KeySetId, Meta, MovementKind, OwnAccountUse, Purpose, Register, RiskAssessment, SafeguardAction, SafeguardingPolicy,
    Segregation, Severity, Status, SubCustodian, SubCustodianId, Tier, Timestamp, Wallet, WalletClass, WalletId, build,
};

/// 2026-01-01T00:00:00Z, a Thursday.
const T0: Timestamp = Timestamp::from_micros(1_767_225_600_000_000);
const HOUR: i64 = 3_600_000_000;
const ETH: &str = "eip155:1/slip44:60";

fn at(hours: i64) -> Timestamp {
    Timestamp::from_micros(T0.micros() + hours * HOUR)
}

struct Desk {
    register: Register,
    log: Vec<(Command, Timestamp)>,
    outcomes: Vec<(Status, Option<u64>)>,
}

impl Desk {
    /// Alice (omnibus) with 1 000 wei in a hot and 9 000 in a cold omnibus wallet; a wallet at a
    /// sub-custodian authorised for sixty days; a firm wallet.
    fn new() -> Desk {
        let mut desk = Desk { register: Register::new(), log: Vec::new(), outcomes: Vec::new() };
        desk.ok("setup", Action::RegisterAsset(Asset { id: eth(), scale: 18, symbol: "ETH".into() }));
        for name in ["alice", "bob"] {
            desk.ok(
                "setup",
                Action::RegisterClient(Client { id: cid(name), category: ClientCategory::Retail, segregation: Segregation::Omnibus }),
            );
        }
        desk.ok("setup", Action::RegisterKeySet(key_set("ks-client", ClassKind::ClientOmnibus)));
        desk.ok("setup", Action::RegisterKeySet(key_set("ks-firm", ClassKind::Firm)));
        desk.ok(
            "setup",
            Action::RegisterSubCustodian(SubCustodian {
                id: sub(),
                name: "Nordbank Custody".into(),
                basis: AuthorisationBasis::CrrCreditInstitution,
                reference: "LEI-NORD".into(),
                valid_until: at(60 * 24),
            }),
        );
        desk.ok("setup", Action::RegisterWallet(wallet("hot", 0xa1, WalletClass::ClientOmnibus, Tier::Hot, Custodian::InHouse)));
        desk.ok("setup", Action::RegisterWallet(wallet("cold", 0xa2, WalletClass::ClientOmnibus, Tier::Cold, Custodian::InHouse)));
        desk.ok(
            "setup",
            Action::RegisterWallet(wallet("nord", 0xa3, WalletClass::ClientOmnibus, Tier::Cold, Custodian::SubCustodian(sub()))),
        );
        desk.ok("setup", Action::RegisterWallet(wallet("firm", 0xf1, WalletClass::Firm, Tier::Hot, Custodian::InHouse)));
        desk.ok("setup", deposit("d-hot", "alice", "hot", 1_000));
        desk.ok("setup", deposit("d-cold", "alice", "cold", 9_000));
        desk
    }

    fn run_as(&mut self, actor: &str, instruction: &str, action: Action, when: Timestamp) -> (Status, Option<u64>) {
        let command = Command {
            meta: Meta { actor: Actor::parse(actor).unwrap(), instruction: InstructionId::parse(instruction).unwrap(), effective_at: when },
            action,
        };
        let outcome = self.register.apply_at(&command, when).unwrap();
        if outcome.status.is_journaled() {
            self.log.push((command, when));
            self.outcomes.push((outcome.status, outcome.seq));
        }
        (outcome.status, outcome.seq)
    }

    fn at(&mut self, actor: &str, action: Action, when: Timestamp) -> Status {
        self.run_as(actor, "i-1", action, when).0
    }

    fn status(&mut self, actor: &str, action: Action) -> Status {
        self.at(actor, action, T0)
    }

    fn ok(&mut self, actor: &str, action: Action) -> u64 {
        let (status, seq) = self.run_as(actor, "i-1", action, T0);
        assert_eq!(status, Status::Accepted);
        seq.unwrap()
    }

    /// Asserts the command is refused with `status` and changes nothing.
    fn refused(&mut self, status: Status, action: Action, when: Timestamp) {
        let before = (self.register.seq(), self.register.client_instructions().to_vec(), self.register.fiat_receipts().to_vec());
        let balance = self.register.balance(&Account::Position(cid("alice")), &eth());
        assert_eq!(self.at("ops", action, when), status);
        let after = (self.register.seq(), self.register.client_instructions().to_vec(), self.register.fiat_receipts().to_vec());
        assert_eq!(before, after, "a refused command changed the register");
        assert_eq!(self.register.balance(&Account::Position(cid("alice")), &eth()), balance);
        self.register.audit().unwrap();
    }

    /// Records that alice (who holds assets) was sent her statement for the year up to `to`,
    /// at `to`: a check after issue 17's rules then finds no statement overdue until 92 days
    /// later.
    fn statement_sent(&mut self, to: Timestamp) {
        let issue = ringfence_core::StatementIssue {
            client: cid("alice"),
            from: Timestamp::from_micros(to.micros() - 365 * DAY_MICROS),
            to,
            as_of: self.register.seq(),
            sha256: [7; 32],
        };
        assert_eq!(self.at("compliance", Action::RecordStatement(issue), to), Status::Accepted);
    }

    fn check(&mut self, when: Timestamp) -> Status {
        self.at("ringfence", Action::Safeguard(SafeguardAction::Check), when)
    }

    fn open_kinds(&self) -> Vec<(ExceptionKind, Severity)> {
        self.register.exceptions().iter().filter(|e| !e.is_resolved()).map(|e| (e.kind, e.severity)).collect()
    }

    fn assert_replays(&self) {
        let mut replay = Register::new();
        for ((command, recorded), expected) in self.log.iter().zip(&self.outcomes) {
            let decoded = decode_command(&encode_command(command)).unwrap();
            assert_eq!(&decoded, command);
            let outcome = replay.apply_at(&decoded, *recorded).unwrap();
            assert_eq!((outcome.status, outcome.seq), *expected, "{:?}", command.action);
        }
        assert_eq!(replay.exceptions(), self.register.exceptions());
        assert_eq!(replay.client_instructions(), self.register.client_instructions());
        assert_eq!(replay.fiat_receipts(), self.register.fiat_receipts());
        assert_eq!(replay.fiat_accounts(), self.register.fiat_accounts());
        assert_eq!(replay.risk_assessments(), self.register.risk_assessments());
        assert_eq!(replay.safeguarding_policy(), self.register.safeguarding_policy());
    }
}

fn eth() -> AssetId {
    AssetId::parse(ETH).unwrap()
}
fn cid(text: &str) -> ClientId {
    ClientId::parse(text).unwrap()
}
fn key(text: &str) -> IdempotencyKey {
    IdempotencyKey::parse(text).unwrap()
}
fn iid(text: &str) -> InstructionId {
    InstructionId::parse(text).unwrap()
}
fn sub() -> SubCustodianId {
    SubCustodianId::parse("nordbank").unwrap()
}
fn key_set(id: &str, class: ClassKind) -> KeySet {
    KeySet { id: KeySetId::parse(id).unwrap(), scheme: KeyScheme::Multisig { threshold: 1 }, signers: vec!["s1".into()], class }
}
fn wallet(id: &str, byte: u8, class: WalletClass, tier: Tier, custodian: Custodian) -> Wallet {
    let key_set = if class == WalletClass::Firm { "ks-firm" } else { "ks-client" };
    Wallet {
        id: WalletId::parse(id).unwrap(),
        address: Address::parse(&format!("eip155:1:0x{}", format!("{byte:02x}").repeat(20))).unwrap(),
        class,
        tier,
        custodian,
        key_set: KeySetId::parse(key_set).unwrap(),
    }
}
fn deposit(k: &str, client: &str, wallet: &str, amount: u128) -> Action {
    Action::Movement(build::deposit(key(k), &cid(client), &WalletId::parse(wallet).unwrap(), &eth(), Amount::new(amount)))
}
fn withdrawal(k: &str, wallet: &str, amount: u128) -> Action {
    Action::Movement(build::withdrawal(key(k), &cid("alice"), &WalletId::parse(wallet).unwrap(), &eth(), Amount::new(amount)))
}
fn reward(k: &str, client: &str, amount: u128) -> Action {
    let mut movement = build::deposit(key(k), &cid(client), &WalletId::parse("cold").unwrap(), &eth(), Amount::new(amount));
    movement.kind = MovementKind::Reward;
    Action::Movement(movement)
}
fn instruction(id: &str, beneficiary: Beneficiary, max: u128, until: Timestamp, revocable: bool) -> ClientInstruction {
    ClientInstruction {
        id: iid(id),
        client: cid("alice"),
        asset: eth(),
        purpose: Purpose::Staking,
        beneficiary,
        max_amount: Amount::new(max),
        valid_from: T0,
        valid_until: until,
        revocable,
        evidence: "signed instruction sha256:ab12".into(),
        consent: Consent::Unstated,
    }
}
fn record(instruction: ClientInstruction) -> Action {
    Action::Safeguard(SafeguardAction::RecordInstruction(instruction))
}
fn encumber(k: &str, instruction: &str, amount: u128) -> Action {
    Action::Safeguard(SafeguardAction::Encumber { key: key(k), instruction: iid(instruction), amount: Amount::new(amount) })
}
fn release(k: &str, instruction: &str, amount: u128) -> Action {
    Action::Safeguard(SafeguardAction::Release { key: key(k), instruction: iid(instruction), amount: Amount::new(amount) })
}
fn policy(change: impl FnOnce(&mut SafeguardingPolicy)) -> Action {
    let mut policy = SafeguardingPolicy::default();
    change(&mut policy);
    Action::Safeguard(SafeguardAction::SetPolicy(policy))
}
fn approvals() -> Action {
    Action::SetApprovalPolicy(ApprovalPolicy { approvals: 1, expiry_hours: 48, withdrawal_thresholds: Vec::new() })
}
fn eur() -> Currency {
    Currency::parse("EUR").unwrap()
}
fn institution(id: &str) -> Action {
    Action::Safeguard(SafeguardAction::RegisterInstitution(Institution {
        id: InstitutionId::parse(id).unwrap(),
        name: format!("{id} AG"),
        kind: InstitutionKind::CreditInstitution,
        reference: format!("BIC-{id}"),
    }))
}
fn fiat_account(id: &str, institution: &str, currency: &str, class: FiatAccountClass) -> Action {
    Action::Safeguard(SafeguardAction::RegisterFiatAccount(FiatAccount {
        id: FiatAccountId::parse(id).unwrap(),
        institution: InstitutionId::parse(institution).unwrap(),
        currency: Currency::parse(currency).unwrap(),
        class,
        reference: format!("DE89 {id}"),
    }))
}
fn receive(k: &str, amount: u128) -> Action {
    Action::Safeguard(SafeguardAction::ReceiveFiat(FiatReceipt {
        key: key(k),
        client: cid("alice"),
        currency: eur(),
        amount: Amount::new(amount),
    }))
}
fn place(k: &str, receipt: &str, account: &str, amount: u128) -> Action {
    Action::Safeguard(SafeguardAction::PlaceFiat(FiatPlacement {
        key: key(k),
        receipt: key(receipt),
        account: FiatAccountId::parse(account).unwrap(),
        amount: Amount::new(amount),
    }))
}
fn utc(date: &str, hour: i64) -> Timestamp {
    Timestamp::from_micros(date.parse::<Date>().unwrap().start().micros() + hour * HOUR)
}

#[test]
fn own_account_use_needs_a_separate_signed_agreement_not_general_terms() {
    let mut desk = Desk::new();
    desk.ok("compliance", policy(|p| p.own_account_use = OwnAccountUse::ExpressConsent));
    // Recorded after the rule came in (ringfence_core::register::ISSUE_15_RULES_FROM).
    let now = Timestamp::from_micros(ringfence_core::register::ISSUE_15_RULES_FROM.micros() + HOUR);
    let until = Timestamp::from_micros(now.micros() + 24 * 30 * HOUR);
    let firm =
        |id: &str, consent| record(ClientInstruction { consent, valid_from: now, ..instruction(id, Beneficiary::Firm, 500, until, true) });
    desk.refused(Status::OwnAccountUse, firm("stake-terms", Consent::GeneralTerms), now);
    desk.refused(Status::OwnAccountUse, firm("stake-unsaid", Consent::Unstated), now);
    assert_eq!(desk.at("ops", firm("stake-signed", Consent::SeparateAgreement), now), Status::Accepted);
    // For the client's own benefit, the general terms may do.
    let own = ClientInstruction {
        consent: Consent::GeneralTerms,
        valid_from: now,
        ..instruction("stake-own", Beneficiary::Client, 500, until, true)
    };
    assert_eq!(desk.at("ops", record(own), now), Status::Accepted);
    desk.assert_replays();
}

#[test]
fn own_account_staking_is_refused_unless_the_contested_consent_switch_is_on() {
    let mut desk = Desk::new();
    // The firm staking Alice's ETH for itself: refused, and nothing changes.
    desk.refused(Status::OwnAccountUse, record(instruction("stake-firm", Beneficiary::Firm, 500, at(24 * 30), true)), T0);
    // A sweep from a client wallet to the firm without a client debit stays a segregation breach.
    let sweep = Action::Movement(build::rebalance(
        key("sweep"),
        &WalletId::parse("cold").unwrap(),
        &WalletId::parse("firm").unwrap(),
        &eth(),
        Amount::new(100),
    ));
    desk.refused(Status::SegregationBreach, sweep, T0);
    // Express consent is a policy switch, off by default; on, such an instruction is recorded.
    assert_eq!(desk.register.safeguarding_policy().0.own_account_use, OwnAccountUse::Forbidden);
    desk.ok("compliance", policy(|p| p.own_account_use = OwnAccountUse::ExpressConsent));
    desk.ok("ops", record(instruction("stake-firm", Beneficiary::Firm, 500, at(24 * 30), true)));
    desk.assert_replays();
}

#[test]
fn client_instructed_staking_within_limits_is_accepted_and_stays_the_clients() {
    let mut desk = Desk::new();
    desk.ok("ops", record(instruction("stake-1", Beneficiary::Client, 6_000, at(24 * 30), true)));
    desk.ok("ops", encumber("enc-1", "stake-1", 4_000));
    // Still Alice's: her position is unchanged, 4 000 of it in the encumbered sub-position.
    assert_eq!(desk.register.balance(&Account::Position(cid("alice")), &eth()), Some(Amount::new(10_000)));
    assert_eq!(desk.register.encumbered(&cid("alice"), &eth()), 4_000);
    // Above the instruction's maximum: refused, nothing changes.
    desk.refused(Status::InstructionLimit, encumber("enc-2", "stake-1", 2_001), T0);
    // A withdrawal may not reach into what is encumbered.
    desk.refused(Status::EncumberedPosition, withdrawal("w-1", "cold", 6_001), T0);
    desk.ok("ops", withdrawal("w-2", "cold", 6_000));
    // Rewards accrue to Alice under her instruction, and to nobody else.
    assert_eq!(desk.run_as("ops", "stake-1", reward("r-1", "alice", 25), T0).0, Status::Accepted);
    let reward_seq = desk.register.seq();
    assert_eq!(desk.register.balance(&Account::Position(cid("alice")), &eth()), Some(Amount::new(4_025)));
    let (status, _) = desk.run_as("ops", "stake-1", reward("r-2", "bob", 5), T0);
    assert_eq!(status, Status::InstructionMismatch);
    let (status, _) = desk.run_as("ops", "no-such-instruction", reward("r-3", "alice", 5), T0);
    assert_eq!(status, Status::UnknownInstruction);
    assert_eq!(desk.register.seq(), reward_seq);
    // Released, the assets are free again.
    desk.refused(Status::InsufficientFunds, release("rel-1", "stake-1", 4_001), T0);
    desk.ok("ops", release("rel-2", "stake-1", 4_000));
    assert_eq!(desk.register.encumbered(&cid("alice"), &eth()), 0);
    desk.ok("ops", withdrawal("w-3", "cold", 3_000));
    // A retry of the same encumbrance is recognised; its key reused for another is refused.
    assert_eq!(desk.status("ops", encumber("enc-1", "stake-1", 4_000)), Status::AlreadyExists);
    assert_eq!(desk.status("ops", encumber("enc-1", "stake-1", 1)), Status::IdempotencyConflict);
    desk.assert_replays();
}

/// The instruction a reward accrues under is the command's instruction id.
#[test]
fn a_reward_is_a_deposit_shaped_movement_under_the_clients_instruction() {
    let mut desk = Desk::new();
    desk.ok("ops", record(instruction("stake-1", Beneficiary::Client, 6_000, at(24 * 30), true)));
    let (status, _) = desk.run_as("ops", "stake-1", reward("r-1", "alice", 25), T0);
    assert_eq!(status, Status::Accepted);
    assert_eq!(desk.register.client_instruction(&iid("stake-1")).unwrap().rewards, 25);
    // A reward credited to the firm's fee income is not a reward shape.
    let mut movement = build::firm_funding(key("r-firm"), &WalletId::parse("firm").unwrap(), &eth(), Amount::new(5));
    movement.kind = MovementKind::Reward;
    let (status, _) = desk.run_as("ops", "stake-1", Action::Movement(movement), T0);
    assert!(matches!(status, Status::PostingNotAllowed | Status::WrongWalletClass));
    desk.assert_replays();
}

#[test]
fn revocation_and_expiry_stop_further_encumbrance() {
    let mut desk = Desk::new();
    desk.ok("ops", record(instruction("stake-1", Beneficiary::Client, 6_000, at(24 * 30), true)));
    desk.ok("ops", record(instruction("lend-1", Beneficiary::Client, 1_000, at(48), false)));
    desk.ok("ops", encumber("enc-1", "stake-1", 1_000));
    desk.ok("client", Action::Safeguard(SafeguardAction::RevokeInstruction { id: iid("stake-1") }));
    desk.refused(Status::InstructionNotLive, encumber("enc-2", "stake-1", 1), T0);
    // What stays encumbered under a revoked instruction is a critical exception until released.
    assert_eq!(desk.check(T0), Status::Accepted);
    assert_eq!(desk.open_kinds(), vec![(ExceptionKind::EncumbranceLapsed, Severity::Critical)]);
    assert_eq!(desk.check(T0), Status::NothingDue, "one exception per breach");
    desk.ok("ops", release("rel-1", "stake-1", 1_000));
    // An irrevocable instruction cannot be revoked; it ends when it expires.
    desk.refused(Status::InstructionNotRevocable, Action::Safeguard(SafeguardAction::RevokeInstruction { id: iid("lend-1") }), T0);
    assert_eq!(desk.at("ops", encumber("enc-3", "lend-1", 500), at(47)), Status::Accepted);
    desk.refused(Status::InstructionNotLive, encumber("enc-4", "lend-1", 1), at(49));
    assert_eq!(desk.at("ops", release("rel-2", "lend-1", 500), at(49)), Status::Accepted, "release is always allowed");
    desk.refused(Status::UnknownInstruction, encumber("enc-5", "nope", 1), T0);
    desk.assert_replays();
}

#[test]
fn a_hot_share_above_the_floor_opens_an_exception_unless_an_approved_assessment_allows_it() {
    let mut desk = Desk::new();
    // 1 000 hot of 10 000: 90 % cold, above the 80 % floor.
    assert!(!desk.register.safeguard_check_due(T0));
    desk.ok("ops", deposit("d-hot-2", "alice", "hot", 5_000));
    // 6 000 hot of 15 000: 60 % cold.
    assert!(desk.register.safeguard_check_due(T0));
    assert_eq!(desk.check(T0), Status::Accepted);
    let exception = desk.register.exceptions().last().unwrap().clone();
    assert_eq!((exception.kind, exception.severity), (ExceptionKind::ColdFloor, Severity::Warning));
    assert!(exception.detail.contains("60.00 %") && exception.detail.contains("80.00 %"), "{}", exception.detail);

    // With four-eyes on, an assessment applies only once someone else approves it.
    let mut desk = Desk::new();
    desk.ok("compliance", approvals());
    let assessment = RiskAssessment {
        id: ringfence_core::AssessmentId::parse("ra-2026-01").unwrap(),
        asset: eth(),
        cold_floor_bp: 5_000,
        valid_until: at(24 * 7),
        reason: "exchange migration: hot float raised for one week (risk file RA-2026-01)".into(),
    };
    let (status, pending) = desk.run_as("compliance", "i-1", Action::Safeguard(SafeguardAction::RecordRiskAssessment(assessment)), T0);
    assert_eq!(status, Status::PendingApproval);
    desk.ok("ops", deposit("d-hot-2", "alice", "hot", 5_000));
    assert!(desk.register.safeguard_check_due(T0), "a proposed assessment does not count");
    assert_eq!(desk.status("compliance", Action::ApprovePending { id: pending.unwrap() }), Status::InitiatorCannotApprove);
    desk.ok("approver", Action::ApprovePending { id: pending.unwrap() });
    assert!(!desk.register.safeguard_check_due(T0), "an approved, live assessment allows 60 % cold");
    assert_eq!(desk.check(T0), Status::NothingDue);
    // Below the assessment's own floor, or once it expired, the breach counts again.
    assert!(desk.register.safeguard_check_due(at(24 * 7 + 1)));
    assert_eq!(desk.check(at(24 * 7 + 1)), Status::Accepted);
    assert_eq!(desk.open_kinds(), vec![(ExceptionKind::ColdFloor, Severity::Warning)]);
    desk.assert_replays();
}

#[test]
fn an_expired_sub_custodian_authorisation_blocks_new_allocations_and_is_raised_ahead() {
    let mut desk = Desk::new();
    desk.ok("ops", deposit("d-nord", "alice", "nord", 100));
    assert!(!desk.register.safeguard_check_due(T0), "sixty days ahead is outside the notice");
    let shortened = Action::UpdateSubCustodianAuthorisation { id: sub(), reference: "LEI-NORD".into(), valid_until: at(10 * 24) };
    desk.ok("compliance", shortened);
    // Ten days before the review date is within the 30-day notice: a warning.
    assert_eq!(desk.check(T0), Status::Accepted);
    assert_eq!(desk.open_kinds(), vec![(ExceptionKind::AuthorisationLapsing, Severity::Warning)]);
    // After it lapsed: no new allocation, and the assets still there are critical.
    desk.refused(Status::SubCustodianNotAuthorised, deposit("d-nord-2", "alice", "nord", 1), at(24 * 11));
    assert_eq!(desk.check(at(24 * 11)), Status::Accepted);
    assert_eq!(
        desk.open_kinds(),
        vec![(ExceptionKind::AuthorisationLapsing, Severity::Warning), (ExceptionKind::AuthorisationLapsed, Severity::Critical)]
    );
    // Moving the assets out is still allowed.
    let out = Action::Movement(build::rebalance(
        key("out"),
        &WalletId::parse("nord").unwrap(),
        &WalletId::parse("cold").unwrap(),
        &eth(),
        Amount::new(100),
    ));
    assert_eq!(desk.at("ops", out, at(24 * 11)), Status::Accepted);
    assert!(desk.register.client_assets_at(&sub()).is_empty());
    desk.assert_replays();
}

#[test]
fn a_fiat_receipt_on_a_friday_before_a_target2_holiday_gets_the_right_deadline() {
    let mut desk = Desk::new();
    desk.ok("ops", institution("nordbank"));
    desk.ok("ops", fiat_account("client-eur", "nordbank", "EUR", FiatAccountClass::ClientFunds));
    desk.ok("ops", fiat_account("firm-eur", "nordbank", "EUR", FiatAccountClass::Firm));
    desk.ok("ops", fiat_account("client-usd", "nordbank", "USD", FiatAccountClass::ClientFunds));
    desk.ok("ops", fiat_account("firm-usd", "nordbank", "USD", FiatAccountClass::Firm));
    // Friday 28 April 2028; Monday 1 May is a TARGET2 holiday: the end of Tuesday 2 May.
    let friday = utc("2028-04-28", 15);
    assert_eq!(desk.at("ops", receive("rcpt-1", 25000), friday), Status::Accepted);
    let receipt = desk.register.fiat_receipts()[0].clone();
    assert_eq!(receipt.deadline, utc("2028-05-03", 0));
    // Friday 22 December 2028; 25 and 26 December are closed: the end of Wednesday 27th.
    assert_eq!(desk.register.placement_deadline(utc("2028-12-22", 9)), utc("2028-12-28", 0));
    // Thursday before Easter 2026: Good Friday and Easter Monday closed, so Tuesday 7 April.
    assert_eq!(desk.register.placement_deadline(utc("2026-04-02", 9)), utc("2026-04-08", 0));
    // The policy's own closing days count too (a national holiday, say).
    // (One bank holds everything here: the concentration limit, not this test's subject, is
    // raised to 100 %, and the bank's review period to three years.)
    desk.ok(
        "compliance",
        policy(|p| {
            p.closing_days = vec!["2028-05-02".parse().unwrap()];
            p.concentration_limit_bp = 10_000;
            p.institution_review_days = 1095;
        }),
    );
    assert_eq!(desk.register.placement_deadline(friday), utc("2028-05-04", 0));
    // Client money never goes to the firm's account, nor to an account in another currency.
    desk.refused(Status::OwnAccountUse, place("p-1", "rcpt-1", "firm-eur", 25000), friday);
    desk.refused(Status::InvalidSafeguard, place("p-2", "rcpt-1", "client-usd", 25000), friday);
    desk.refused(Status::InsufficientFunds, place("p-3", "rcpt-1", "client-eur", 25001), friday);
    desk.refused(Status::UnknownReceipt, place("p-4", "rcpt-9", "client-eur", 1), friday);
    // Several rules broken: the first in `Status` order is reported, as for movements.
    desk.refused(Status::AmountZero, place("p-4a", "rcpt-9", "no-such-account", 0), friday);
    desk.refused(Status::UnknownFiatAccount, place("p-4b", "rcpt-9", "no-such-account", 1), friday);
    desk.refused(Status::InvalidSafeguard, place("p-4c", "rcpt-1", "client-usd", 25001), friday);
    desk.refused(Status::InvalidSafeguard, place("p-4d", "rcpt-1", "firm-usd", 25001), friday);
    desk.refused(Status::OwnAccountUse, place("p-4e", "rcpt-1", "firm-eur", 25001), friday);
    assert_eq!(desk.at("ops", place("p-5", "rcpt-1", "client-eur", 10000), friday), Status::Accepted);
    // Not wholly placed by the deadline: a critical exception.
    desk.statement_sent(utc("2028-04-28", 16));
    assert!(!desk.register.safeguard_check_due(utc("2028-05-02", 23)));
    assert_eq!(desk.check(utc("2028-05-03", 0)), Status::Accepted);
    assert_eq!(desk.open_kinds(), vec![(ExceptionKind::FiatUnplaced, Severity::Critical)]);
    assert_eq!(desk.at("ops", place("p-6", "rcpt-1", "client-eur", 15000), utc("2028-05-03", 1)), Status::Accepted);
    assert_eq!(desk.register.fiat_accounts()[0].balance, 25000);
    // Withdrawals return it to the client, never more than the client is owed.
    let withdraw = |k: &str, amount: u128| {
        Action::Safeguard(SafeguardAction::WithdrawFiat(FiatWithdrawal {
            key: key(k),
            client: cid("alice"),
            account: FiatAccountId::parse("client-eur").unwrap(),
            amount: Amount::new(amount),
        }))
    };
    desk.refused(Status::InsufficientFunds, withdraw("w-1", 25001), utc("2028-05-04", 0));
    assert_eq!(desk.at("ops", withdraw("w-2", 5000), utc("2028-05-04", 0)), Status::Accepted);
    assert_eq!(desk.register.fiat_positions().collect::<Vec<_>>(), vec![(&cid("alice"), &eur(), 20000)]);
    desk.assert_replays();
}

#[test]
fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let mut desk = Desk::new();
    desk.ok("ops", record(instruction("stake-1", Beneficiary::Client, 1_000, at(24 * 30), true)));
    // An amount over the instruction's maximum.
    desk.refused(Status::InstructionLimit, encumber("enc-1", "stake-1", 1_001), T0);
    // An unknown institution.
    desk.refused(Status::UnknownInstitution, fiat_account("acct", "no-such-bank", "EUR", FiatAccountClass::ClientFunds), T0);
    // A placement into an account that was never registered.
    desk.ok("ops", receive("r-bad", 100));
    desk.refused(Status::UnknownFiatAccount, place("p-bad", "r-bad", "no-such-account", 100), T0);
    // A deadline in the past: an instruction or an assessment whose validity ended.
    desk.refused(Status::InvalidInstruction, record(instruction("stake-2", Beneficiary::Client, 1_000, at(-1), true)), T0);
    let past = RiskAssessment {
        id: ringfence_core::AssessmentId::parse("ra-old").unwrap(),
        asset: eth(),
        cold_floor_bp: 0,
        valid_until: at(-1),
        reason: "stale".into(),
    };
    desk.refused(Status::InvalidSafeguard, Action::Safeguard(SafeguardAction::RecordRiskAssessment(past)), T0);
    // An instruction without evidence, or with a maximum of zero; a policy out of bounds.
    let mut no_evidence = instruction("stake-3", Beneficiary::Client, 1_000, at(24), true);
    no_evidence.evidence = " ".into();
    desk.refused(Status::InvalidInstruction, record(no_evidence), T0);
    desk.refused(Status::InvalidInstruction, record(instruction("stake-4", Beneficiary::Client, 0, at(24), true)), T0);
    desk.refused(Status::InvalidPolicy, policy(|p| p.cold_floor_bp = 10_001), T0);
    desk.refused(Status::InvalidPolicy, policy(|p| p.lapse_notice_days = 0), T0);
    let unknown_asset = AssetId::parse("eip155:1/erc20:0x00000000000000000000000000000000000000aa").unwrap();
    desk.refused(Status::UnknownAsset, policy(|p| p.cold_floors = vec![(unknown_asset, 5_000)]), T0);
    desk.refused(
        Status::UnknownClient,
        record(ClientInstruction { client: cid("carol"), ..instruction("s-5", Beneficiary::Client, 1, at(24), true) }),
        T0,
    );
    assert!(desk.register.exceptions().is_empty());
    desk.assert_replays();
}

#[test]
fn policies_instructions_and_institutions_need_four_eyes_once_it_is_on() {
    let mut desk = Desk::new();
    desk.ok("compliance", approvals());
    for action in [
        policy(|p| p.cold_floor_bp = 9_000),
        record(instruction("stake-1", Beneficiary::Client, 1_000, at(24 * 30), true)),
        institution("nordbank"),
    ] {
        let (status, pending) = desk.run_as("compliance", "i-1", action, T0);
        assert_eq!(status, Status::PendingApproval);
        desk.ok("approver", Action::ApprovePending { id: pending.unwrap() });
    }
    assert_eq!(desk.register.safeguarding_policy().0.cold_floor_bp, 9_000);
    assert!(desk.register.client_instruction(&iid("stake-1")).is_some());
    // A bad one is refused at once, not sent for approval.
    desk.refused(Status::OwnAccountUse, record(instruction("stake-2", Beneficiary::Firm, 1_000, at(24 * 30), true)), T0);
    // Encumbrance under a recorded instruction is an operation, not a policy change.
    desk.ok("ops", encumber("enc-1", "stake-1", 500));
    desk.assert_replays();
}

#[test]
fn every_safeguarding_action_round_trips_through_the_codec() {
    let actions = vec![
        policy(|p| {
            p.own_account_use = OwnAccountUse::ExpressConsent;
            p.cold_floors = vec![(eth(), 7_500)];
            p.closing_days = vec!["2026-10-03".parse().unwrap()];
        }),
        record(instruction("stake-1", Beneficiary::Client, 1_000, at(24), false)),
        Action::Safeguard(SafeguardAction::RevokeInstruction { id: iid("stake-1") }),
        encumber("e", "stake-1", 1),
        release("r", "stake-1", 1),
        institution("nordbank"),
        fiat_account("acct", "nordbank", "EUR", FiatAccountClass::Firm),
        receive("rc", 1),
        place("pl", "rc", "acct", 1),
        Action::Safeguard(SafeguardAction::Check),
        reward("rw", "alice", 1),
    ];
    for action in actions {
        let command = Command { meta: Meta { actor: Actor::parse("ops").unwrap(), instruction: iid("i-1"), effective_at: T0 }, action };
        let bytes = encode_command(&command);
        assert_eq!(decode_command(&bytes).unwrap(), command);
        assert!(decode_command(&bytes[..bytes.len() - 1]).is_err(), "a truncated entry is reported");
    }
}

fn review(institution: &str, evidence: &str) -> Action {
    Action::Safeguard(SafeguardAction::ReviewInstitution {
        institution: InstitutionId::parse(institution).unwrap(),
        evidence: evidence.into(),
    })
}

const DAY_MICROS: i64 = 24 * HOUR;

/// Issue 15: RTS 2025/305 Art 10(1)(e) asks how often the selection of the institutions that
/// hold client funds is reviewed. Past its review date such an institution is a breach; a
/// recorded review moves the date on and cures the cause (the exception stays for a person).
#[test]
fn an_institution_holding_client_funds_past_its_review_date_is_a_breach_until_it_is_reviewed() {
    let mut desk = Desk::new();
    let registered = utc("2027-01-04", 9);
    for action in [
        institution("nordbank"),
        institution("idle"),
        fiat_account("client-eur", "nordbank", "EUR", FiatAccountClass::ClientFunds),
        fiat_account("firm-eur", "idle", "EUR", FiatAccountClass::Firm),
    ] {
        assert_eq!(desk.at("ops", action, registered), Status::Accepted);
    }
    let due = Timestamp::from_micros(registered.micros() + 365 * DAY_MICROS);
    desk.statement_sent(Timestamp::from_micros(due.micros() - DAY_MICROS));
    // Statements once a year at most, so that none is due within the test's 300 days.
    assert_eq!(desk.at("compliance", policy(|p| p.statement_interval_days = 366), registered), Status::Accepted);
    let nordbank = desk.register.institution_reviews().next().unwrap();
    assert_eq!((nordbank.due, nordbank.holds_client_funds), (due, true));
    assert!(!desk.register.institution_reviews().nth(1).unwrap().holds_client_funds, "idle holds no client funds");
    assert!(!desk.register.safeguard_check_due(due), "due at, not before");
    let late = Timestamp::from_micros(due.micros() + HOUR);
    assert!(desk.register.safeguard_check_due(late));
    assert_eq!(desk.check(late), Status::Accepted);
    // Only the bank with a client-funds account: the other holds none.
    assert_eq!(desk.open_kinds(), vec![(ExceptionKind::InstitutionReviewOverdue, Severity::Warning)]);
    let exception = desk.register.exceptions().last().unwrap().clone();
    assert_eq!(exception.subject, format!("institution-review-overdue:nordbank:{}", due.micros()));

    // Refused: an unknown institution, no evidence; nothing changes.
    let reviewed = Timestamp::from_micros(late.micros() + HOUR);
    assert_eq!(desk.at("compliance", review("no-such-bank", "minutes"), reviewed), Status::UnknownInstitution);
    assert_eq!(desk.at("compliance", review("nordbank", "  "), reviewed), Status::InvalidSafeguard);
    assert_eq!(desk.at("compliance", review("nordbank", "bank selection review, minutes BSR-2028-01"), reviewed), Status::Accepted);
    // The same review again is a no-op; one older than the last is refused.
    assert_eq!(desk.at("compliance", review("nordbank", "bank selection review, minutes BSR-2028-01"), reviewed), Status::AlreadyExists);
    assert_eq!(desk.at("compliance", review("nordbank", "an older review"), late), Status::InvalidSafeguard);
    let nordbank = desk.register.institution_reviews().next().unwrap();
    assert_eq!((nordbank.since, nordbank.due), (reviewed, Timestamp::from_micros(reviewed.micros() + 365 * DAY_MICROS)));
    assert!(desk.register.safeguard_cause_cured(&exception, reviewed), "the review cures the cause");
    assert!(!exception.is_resolved(), "a person still resolves the exception");
    assert!(!desk.register.safeguard_check_due(Timestamp::from_micros(reviewed.micros() + 300 * DAY_MICROS)));
    // A shorter review period in the policy brings the next review forward.
    assert_eq!(desk.at("compliance", policy(|p| p.institution_review_days = 90), reviewed), Status::Accepted);
    assert!(desk.register.safeguard_check_due(Timestamp::from_micros(reviewed.micros() + 91 * DAY_MICROS)));
    desk.assert_replays();
}

fn recon_run(cut_off: Timestamp) -> Action {
    Action::RecordReconRun(ringfence_core::ReconRun {
        cut_off,
        sources: Vec::new(),
        checked: 0,
        matched: 0,
        report_sha256: [0; 32],
        breaks: Vec::new(),
    })
}

/// Issue 15: nothing detected a missed daily run. After the first run, no run within the
/// policy's longest gap (26 hours by default) is a breach; the next run cures it.
#[test]
fn a_missed_reconciliation_run_is_a_breach_once_the_longest_gap_has_passed() {
    let mut desk = Desk::new();
    let first = utc("2027-01-04", 9);
    assert!(!desk.register.safeguard_check_due(first), "nothing is due before the first run");
    assert_eq!(desk.at("recon", recon_run(first), first), Status::Accepted);
    let due = Timestamp::from_micros(first.micros() + 26 * HOUR);
    assert_eq!(desk.register.reconciliation_due(), Some(due));
    assert!(!desk.register.safeguard_check_due(due));
    let missed = Timestamp::from_micros(due.micros() + 1);
    assert!(desk.register.safeguard_check_due(missed));
    assert_eq!(desk.check(missed), Status::Accepted);
    assert_eq!(desk.open_kinds(), vec![(ExceptionKind::ReconciliationOverdue, Severity::Warning)]);
    let exception = desk.register.exceptions().last().unwrap().clone();
    assert_eq!(exception.subject, format!("reconciliation-overdue:{}", due.micros()));
    assert!(exception.detail.contains("at most 26 hours apart"), "{}", exception.detail);
    // The late run cures the cause; the next gap is a new breach with its own subject.
    let late = Timestamp::from_micros(missed.micros() + HOUR);
    assert_eq!(desk.at("recon", recon_run(late), late), Status::Accepted);
    assert!(desk.register.safeguard_cause_cured(&exception, late));
    assert!(!desk.register.safeguard_check_due(late));
    // A weekly schedule: 7 days' gap allowed.
    assert_eq!(desk.at("compliance", policy(|p| p.recon_max_gap_hours = 7 * 24), late), Status::Accepted);
    assert!(!desk.register.safeguard_check_due(Timestamp::from_micros(late.micros() + 6 * DAY_MICROS)));
    assert!(desk.register.safeguard_check_due(Timestamp::from_micros(late.micros() + 7 * DAY_MICROS + 1)));
    desk.assert_replays();
}

/// Issue 15: the floor protects retail clients (by default) pool by pool: an individually
/// segregated professional's cold wallet no longer hides a retail omnibus pool below it.
#[test]
fn the_cold_floor_holds_per_pool_and_a_professional_pool_does_not_lift_a_retail_one() {
    let mut desk = Desk::new();
    let when = utc("2027-01-04", 9);
    assert_eq!(
        desk.at(
            "setup",
            Action::RegisterClient(Client {
                id: cid("fund"),
                category: ClientCategory::Professional,
                segregation: Segregation::Individual
            }),
            when
        ),
        Status::Accepted
    );
    desk.at("setup", Action::RegisterKeySet(key_set("ks-fund", ClassKind::ClientIndividual)), when);
    let fund_wallet = |id: &str, byte: u8, tier: Tier| Wallet {
        key_set: KeySetId::parse("ks-fund").unwrap(),
        ..wallet(id, byte, WalletClass::ClientIndividual(cid("fund")), tier, Custodian::InHouse)
    };
    let (fund_cold, fund_hot) = (fund_wallet("fund-cold", 0xb1, Tier::Cold), fund_wallet("fund-hot", 0xb2, Tier::Hot));
    assert_eq!(desk.at("setup", Action::RegisterWallet(fund_cold), when), Status::Accepted);
    assert_eq!(desk.at("setup", Action::RegisterWallet(fund_hot), when), Status::Accepted);
    // Retail omnibus: 1 000 hot, 9 000 cold (90 %). Then 9 000 more hot: 47.4 % cold.
    assert_eq!(desk.at("ops", deposit("d-hot-2", "alice", "hot", 9_000), when), Status::Accepted);
    // The fund: 100 000 cold, 40 000 hot (71 %): over all client holdings 81.2 %, above 80 %.
    assert_eq!(desk.at("ops", deposit("d-fund-cold", "fund", "fund-cold", 100_000), when), Status::Accepted);
    assert_eq!(desk.at("ops", deposit("d-fund-hot", "fund", "fund-hot", 40_000), when), Status::Accepted);
    let pools = desk.register.cold_pools();
    let subjects: Vec<(String, bool, bool)> = pools.iter().map(|p| (p.subject(), p.covered, p.below_floor())).collect();
    assert_eq!(
        subjects,
        vec![(format!("cold-floor:{ETH}"), true, true), (format!("cold-floor:{ETH}:fund"), false, true)],
        "the omnibus pool (retail) is held to the floor; the professional fund's is not"
    );
    let breaches = desk.register.safeguard_breaches(when);
    assert_eq!(breaches.len(), 1, "{breaches:?}");
    assert_eq!(breaches[0].subject, format!("cold-floor:{ETH}"));
    assert!(breaches[0].detail.contains("9000 of 19000 of eip155:1/slip44:60 held for omnibus clients"), "{}", breaches[0].detail);
    // Covering professionals too: the fund's pool is a breach of its own.
    let both = vec![ClientCategory::Retail, ClientCategory::Professional];
    assert_eq!(desk.at("compliance", policy(|p| p.cold_floor_categories = both), when), Status::Accepted);
    let subjects: Vec<String> = desk.register.safeguard_breaches(when).into_iter().map(|b| b.subject).collect();
    assert_eq!(subjects, vec![format!("cold-floor:{ETH}"), format!("cold-floor:{ETH}:fund")]);
    // An empty or repeated category list is refused.
    assert_eq!(desk.at("compliance", policy(|p| p.cold_floor_categories = Vec::new()), when), Status::InvalidPolicy);
    let twice = vec![ClientCategory::Retail, ClientCategory::Retail];
    assert_eq!(desk.at("compliance", policy(|p| p.cold_floor_categories = twice), when), Status::InvalidPolicy);
    desk.assert_replays();
}
