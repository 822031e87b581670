//! ringfence's pure core: the domain of a CASP's client-asset register (assets, clients,
//! wallets, key sets, sub-custodians, movements), the canonical encoding the journal hashes,
//! and the state machine that applies commands and enforces the segregation invariants.
//!
//! Deliberately absent: IO, clocks, threads, async. Callers pass time in and persist what the
//! state machine accepts.

pub mod amount;
pub mod approval;
pub mod calendar;
pub mod code;
pub mod codec;
pub mod entity;
pub mod ids;
pub mod movement;
pub mod oversight;
pub mod price;
pub mod prorata;
pub mod register;
pub mod safeguard;
pub mod statement;
pub mod status;
pub mod time;

/// For the `codes!` macro's checkpoint encoding, in crates that declare codes without serde.
#[doc(hidden)]
pub use serde;

pub use amount::{Amount, AmountError, SCALE_MAX};
pub use approval::{ApprovalPolicy, Pending, PendingState, PendingStateKind};
pub use calendar::{Calendar, Date};
pub use code::Code;
pub use entity::{
    ApiToken, Asset, AuthorisationBasis, ClassKind, Client, ClientCategory, Custodian, KeyScheme, KeySchemeKind, KeySet, Role, Segregation,
    SigningKey, SubCustodian, TOKEN_PREFIX, Tier, TokenRefusal, Wallet, WalletClass,
};
pub use ids::{
    Actor, Address, AssessmentId, AssetId, ClientId, FiatAccountId, IdError, IdempotencyKey, InstitutionId, InstructionId, KeySetId,
    SubCustodianId, TokenId, WalletId,
};
pub use movement::{Account, Action, Command, Meta, Movement, MovementKind, OwnAccount, POSTINGS_MAX, Posting, Side, build};
pub use oversight::{
    Break, ChainBlock, ChainObservation, ChainTransfer, ChainWatch, Direction, Exception, ExceptionKind, ExceptionPolicy, ExceptionState,
    MovementLeg, ObservedLeg, Proposal, ReconRun, Resolution, RunSource, Severity, TransferRef,
};
pub use price::{NotValued, Price, PriceRecord};
pub use register::{AssetSummary, InvariantViolation, KeySetAccess, Net, Register, RunRecord, SharedSigner, SigningKeyRecord};
pub use safeguard::{
    Beneficiary, ClientInstruction, Consent, Currency, FiatAccount, FiatAccountClass, FiatPlacement, FiatReceipt, FiatWithdrawal,
    Institution, InstitutionKind, OwnAccountUse, Purpose, RiskAssessment, SafeguardAction, SafeguardingPolicy,
};
pub use statement::{IssuedPack, IssuedStatement, LossEvent, PackIssue, StatementIssue};
pub use status::{Outcome, Status};
pub use time::Timestamp;
