//! The routes, who may call each ([`ROUTES`]), and the OpenAPI document generated from them.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use ringfence_core::{
    Action, AssetId, ClientId, Command, InstructionId, Meta, Outcome, OwnAccount, Role, Status, Timestamp, WalletId, build,
};
use ringfence_store::{BATCH_MAX, HISTORY_LIMIT_MAX, Subject};
use ringfence_wire::clock;
use ringfence_wire::input::{self, Defaults, Parsed};
use ringfence_wire::views::entities::{EntityKind, EntityPageView};
use ringfence_wire::views::journal::{EntriesView, EntryView, HistoryView, VerifyView};
use ringfence_wire::views::{BalancesView, SummaryView};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::error::{ApiError, ErrorBody};
use crate::{AppState, PAGE_LIMIT_MAX, Principal};
use ringfence_wire::schema::{
    AuthorisationBasisCode, BeneficiaryCode, ClassKindCode, ClientCategoryCode, FiatAccountClassCode, InstitutionKindCode,
    KeySchemeKindCode, MovementKindCode, PurposeCode, SegregationCode, SideCode, TierCode,
};

pub(crate) const STAFF: &[Role] = &[Role::Operator, Role::Approver, Role::Compliance, Role::Auditor];
pub(crate) const STAFF_AND_CLIENTS: &[Role] = &[Role::Operator, Role::Approver, Role::Compliance, Role::Auditor, Role::Client];
pub(crate) const OPERATORS: &[Role] = &[Role::Operator];
pub(crate) const APPROVERS: &[Role] = &[Role::Approver];
pub(crate) const COMPLIANCE: &[Role] = &[Role::Compliance];
/// Who makes reconciliation runs and investigates and resolves exceptions.
pub(crate) const RECONCILERS: &[Role] = &[Role::Operator, Role::Compliance];
/// Who approves or rejects the proposed resolution of an exception.
pub(crate) const REVIEWERS: &[Role] = &[Role::Approver, Role::Compliance];
pub(crate) const INSPECTORS: &[Role] = &[Role::Compliance, Role::Auditor];
/// Who may send something to `POST /v1/entities`; each type then needs its own roles
/// ([`entity_roles`]): compliance records risk assessments and safeguarding checks only.
const ENTITY_WRITERS: &[Role] = &[Role::Operator, Role::Compliance];

/// Every route with the roles allowed on it (empty: no token needed). The README's table and
/// the route-by-role test are made from this.
pub const ROUTES: &[(&str, &str, &[Role])] = &[
    ("GET", "/healthz", &[]),
    ("GET", "/readyz", &[]),
    ("GET", "/metrics", &[]),
    ("GET", "/openapi.json", &[]),
    ("POST", "/v1/movements", OPERATORS),
    ("POST", "/v1/movements/batch", OPERATORS),
    ("POST", "/v1/entities", ENTITY_WRITERS),
    ("GET", "/v1/entities/{kind}", STAFF),
    ("GET", "/v1/summary", STAFF),
    ("GET", "/v1/balances", STAFF_AND_CLIENTS),
    ("GET", "/v1/history", STAFF_AND_CLIENTS),
    ("GET", "/v1/journal/verify", INSPECTORS),
    ("GET", "/v1/journal/entries", INSPECTORS),
    ("GET", "/v1/pending", STAFF),
    ("GET", "/v1/pending/{id}", STAFF),
    ("POST", "/v1/pending/{id}/approve", APPROVERS),
    ("POST", "/v1/pending/{id}/reject", APPROVERS),
    ("GET", "/v1/policy/approvals", STAFF),
    ("PUT", "/v1/policy/approvals", COMPLIANCE),
    ("GET", "/v1/recon/runs", STAFF),
    ("POST", "/v1/recon/runs", RECONCILERS),
    ("GET", "/v1/recon/runs/{id}", STAFF),
    ("GET", "/v1/exceptions", STAFF),
    ("GET", "/v1/exceptions/{id}", STAFF),
    ("POST", "/v1/exceptions/{id}/investigate", RECONCILERS),
    ("POST", "/v1/exceptions/{id}/resolve", RECONCILERS),
    ("POST", "/v1/exceptions/{id}/approve", REVIEWERS),
    ("POST", "/v1/exceptions/{id}/reject", REVIEWERS),
    ("GET", "/v1/policy/exceptions", STAFF),
    ("PUT", "/v1/policy/exceptions", COMPLIANCE),
    ("GET", "/v1/policy", STAFF),
    ("GET", "/v1/policy/safeguarding", STAFF),
    ("PUT", "/v1/policy/safeguarding", COMPLIANCE),
    ("GET", "/v1/prices", STAFF),
    ("GET", "/v1/valuation", STAFF_AND_CLIENTS),
    ("GET", "/v1/statements", STAFF_AND_CLIENTS),
    ("GET", "/v1/insolvency/pack", INSPECTORS),
];

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .route("/v1/movements", post(post_movement))
        .route("/v1/movements/batch", post(post_movements))
        .route("/v1/entities", post(post_entity))
        .route("/v1/entities/{kind}", get(list_entities))
        .route("/v1/summary", get(summary))
        .route("/v1/balances", get(balances))
        .route("/v1/history", get(history))
        .route("/v1/journal/verify", get(verify))
        .route("/v1/journal/entries", get(entries))
        .route("/v1/pending", get(crate::approvals::list))
        .route("/v1/pending/{id}", get(crate::approvals::one))
        .route("/v1/pending/{id}/approve", post(crate::approvals::approve))
        .route("/v1/pending/{id}/reject", post(crate::approvals::reject))
        .route("/v1/policy/approvals", get(crate::approvals::policy).put(crate::approvals::set_policy))
        .route("/v1/recon/runs", get(crate::oversight::runs).post(crate::oversight::make_run))
        .route("/v1/recon/runs/{id}", get(crate::oversight::run))
        .route("/v1/exceptions", get(crate::oversight::exceptions))
        .route("/v1/exceptions/{id}", get(crate::oversight::exception))
        .route("/v1/exceptions/{id}/investigate", post(crate::oversight::investigate))
        .route("/v1/exceptions/{id}/resolve", post(crate::oversight::resolve))
        .route("/v1/exceptions/{id}/approve", post(crate::oversight::approve))
        .route("/v1/exceptions/{id}/reject", post(crate::oversight::reject))
        .route("/v1/policy/exceptions", get(crate::oversight::policy).put(crate::oversight::set_policy))
        .route("/v1/policy", get(crate::safeguarding::report))
        .route("/v1/policy/safeguarding", get(crate::safeguarding::policy).put(crate::safeguarding::set_policy))
        .route("/v1/prices", get(crate::prices::list))
        .route("/v1/valuation", get(crate::prices::valuation))
        .route("/v1/statements", get(crate::statements::statement))
        .route("/v1/insolvency/pack", get(crate::insolvency::pack))
        .fallback(|| async { ApiError::not_found("no such route; see /openapi.json") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this route does not take that method; see /openapi.json")
        })
}

#[derive(OpenApi)]
#[openapi(
    info(title = "ringfence", description = "The client-asset register and safeguarding control plane of a CASP under MiCA (Art 70, 75)."),
    paths(healthz, readyz, metrics, post_movement, post_movements, post_entity, list_entities, summary, balances, history, verify, entries,
        crate::approvals::list, crate::approvals::one, crate::approvals::approve, crate::approvals::reject, crate::approvals::policy,
        crate::approvals::set_policy, crate::oversight::runs, crate::oversight::make_run, crate::oversight::run,
        crate::oversight::exceptions, crate::oversight::exception, crate::oversight::investigate, crate::oversight::resolve,
        crate::oversight::approve, crate::oversight::reject, crate::oversight::policy, crate::oversight::set_policy,
        crate::safeguarding::report, crate::safeguarding::policy, crate::safeguarding::set_policy, crate::prices::list,
        crate::prices::valuation, crate::statements::statement, crate::insolvency::pack),
    components(schemas(CommandResult, BatchResult, BatchItem, ErrorBody, crate::error::ErrorDetail, crate::approvals::RejectBody,
        crate::approvals::PolicyBody, ringfence_wire::schema::PendingStateKindCode, ringfence_wire::schema::ExceptionStateCode,
        ringfence_wire::schema::SeverityCode, ringfence_wire::schema::OwnAccountCode, crate::oversight::RunBody, crate::oversight::ResolveBody,
        crate::oversight::ReasonBody, crate::oversight::ExceptionPolicyBody, crate::safeguarding::SafeguardingPolicyBody, PercentText)),
    modifiers(&BearerAuth, &ClosedBodies, &ShapesByType),
    security(("bearer" = []))
)]
#[derive(Debug)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()));
    }
}

/// Unknown fields of an import-format object are errors, which utoipa does not say of the
/// variants of a tagged enum.
struct ClosedBodies;

impl utoipa::Modify for ClosedBodies {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::RefOr;
        use utoipa::openapi::schema::{AdditionalProperties, Schema};
        let Some(components) = openapi.components.as_mut() else { return };
        for name in ["MovementBody", "BatchMovement", "RegistrationBody", "ResolveBody"] {
            if let Some(RefOr::T(Schema::OneOf(one_of))) = components.schemas.get_mut(name) {
                for variant in &mut one_of.items {
                    if let RefOr::T(Schema::Object(object)) = variant {
                        object.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
                    }
                }
            }
        }
    }
}

/// A pending instruction's `detail` is one of several shapes, chosen by the command's `type`
/// beside it, and two shapes can fit one value (a sub-custodian has every field of an
/// authorisation): `anyOf`, not the `oneOf` utoipa writes for an untagged enum.
struct ShapesByType;

impl utoipa::Modify for ShapesByType {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::RefOr;
        use utoipa::openapi::schema::{AnyOfBuilder, Schema};
        let Some(components) = openapi.components.as_mut() else { return };
        if let Some(RefOr::T(Schema::OneOf(one_of))) = components.schemas.get("PendingDetailView") {
            let any_of = one_of.items.iter().cloned().fold(AnyOfBuilder::new(), AnyOfBuilder::item).description(one_of.description.clone());
            components.schemas.insert("PendingDetailView".to_owned(), RefOr::T(Schema::AnyOf(any_of.build())));
        }
    }
}

pub use ringfence_wire::views::{BatchItem, BatchResult, CommandResult};

// What the writes take, for the OpenAPI document only: the import format
// (docs/import-format.md), which `ringfence_wire::input` parses. The patterns are those of
// `ringfence_core::ids`; crates/cli/tests/fuzz.rs sends bodies made from these schemas.

/// A name: a client, wallet, key set or sub-custodian id, an idempotency key, an instruction.
#[derive(Deserialize, ToSchema)]
#[schema(pattern = r"^[A-Za-z0-9._:@/-]{1,128}$", example = "client-1")]
#[expect(dead_code, reason = "describes JSON parsed by ringfence_wire::input")]
struct Name(String);

/// A CAIP-19 asset id.
#[derive(Deserialize, ToSchema)]
#[schema(pattern = "^[-a-z0-9]{3,8}:[-_a-zA-Z0-9]{1,32}/[-a-z0-9]{3,8}:[-.%a-zA-Z0-9]{1,128}$", example = "eip155:1/slip44:60")]
#[expect(dead_code, reason = "describes JSON parsed by ringfence_wire::input")]
struct AssetIdText(String);

/// A whole number of the asset's smallest unit: a string of digits (up to 2^128 - 1), or a
/// JSON integer up to 2^64 - 1. Never negative or fractional. Zero is read, but the register
/// refuses a movement posting it (`amount_zero`), as it refuses one without postings
/// (`postings_empty`): in a batch, those are the item's status.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
#[expect(dead_code, reason = "describes JSON parsed by ringfence_wire::input")]
enum AmountText {
    Digits(AmountDigits),
    Number(AmountNumber),
}

/// Digits, which may be surrounded by white space and preceded by `+`.
#[derive(Deserialize, ToSchema)]
#[schema(pattern = r"^\s*\+?[0-9]{1,39}\s*$", example = "1500000000000000000")]
#[expect(dead_code, reason = "describes JSON parsed by ringfence_wire::input")]
struct AmountDigits(String);

/// An integer up to 2^64 - 1.
#[derive(Deserialize, ToSchema)]
#[schema(format = "uint64")]
#[expect(dead_code, reason = "describes JSON parsed by ringfence_wire::input")]
struct AmountNumber(u64);

/// An instant: RFC 3339 with an offset (`2026-03-02T09:15:00Z`) or a date (`2026-03-31`,
/// midnight UTC).
#[derive(Deserialize, ToSchema)]
#[schema(
    pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])([Tt ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))?$",
    example = "2026-03-02T09:15:00Z"
)]
#[expect(dead_code, reason = "describes JSON parsed by ringfence_wire::input")]
struct Instant(String);

/// One posting of an explicit movement.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "describes JSON parsed by ringfence_wire::input")]
struct PostingText {
    #[schema(inline)]
    side: SideCode,
    /// `position:CLIENT`, `holding:WALLET`, `own:capital` or `own:fee_income`.
    #[schema(pattern = r"^(position:[A-Za-z0-9._:@/-]{1,128}|holding:[A-Za-z0-9._:@/-]{1,128}|own:capital|own:fee_income)$")]
    account: String,
    asset: AssetIdText,
    amount: AmountText,
}

/// Both movement bodies: `key` is optional in one (the `Idempotency-Key` header gives it),
/// required in a batch's.
macro_rules! movement_body {
    ($(#[$doc:meta])* $name:ident, $key:ty) => {
        $(#[$doc])*
        #[derive(Deserialize, ToSchema)]
        #[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
        #[expect(dead_code, reason = "describes JSON parsed by ringfence_wire::input")]
        enum $name {
            Deposit {
                key: $key,
                client: Name,
                wallet: Name,
                asset: AssetIdText,
                amount: AmountText,
                instruction: Option<Name>,
                effective_at: Option<Instant>,
            },
            Withdrawal {
                key: $key,
                client: Name,
                wallet: Name,
                asset: AssetIdText,
                amount: AmountText,
                instruction: Option<Name>,
                effective_at: Option<Instant>,
            },
            Transfer {
                key: $key,
                from_client: Name,
                to_client: Name,
                from_wallet: Option<Name>,
                to_wallet: Option<Name>,
                asset: AssetIdText,
                amount: AmountText,
                instruction: Option<Name>,
                effective_at: Option<Instant>,
            },
            Fee {
                key: $key,
                client: Name,
                client_wallet: Name,
                firm_wallet: Name,
                asset: AssetIdText,
                amount: AmountText,
                instruction: Option<Name>,
                effective_at: Option<Instant>,
            },
            Rebalance {
                key: $key,
                from_wallet: Name,
                to_wallet: Name,
                asset: AssetIdText,
                amount: AmountText,
                instruction: Option<Name>,
                effective_at: Option<Instant>,
            },
            FirmFunding {
                key: $key,
                wallet: Name,
                asset: AssetIdText,
                amount: AmountText,
                instruction: Option<Name>,
                effective_at: Option<Instant>,
            },
            FirmWithdrawal {
                key: $key,
                wallet: Name,
                asset: AssetIdText,
                amount: AmountText,
                instruction: Option<Name>,
                effective_at: Option<Instant>,
            },
            /// A reward earned by encumbered assets (staking, lending), shaped as a deposit;
            /// `instruction` names the client instruction it accrues under.
            Reward {
                key: $key,
                client: Name,
                wallet: Name,
                asset: AssetIdText,
                amount: AmountText,
                instruction: Name,
                effective_at: Option<Instant>,
            },
            /// Client assets lost from a client wallet, borne by one client (several: a
            /// `movement` of kind `loss`); held for approval whenever a policy is in force.
            Loss {
                key: $key,
                client: Name,
                wallet: Name,
                asset: AssetIdText,
                amount: AmountText,
                instruction: Option<Name>,
                effective_at: Option<Instant>,
            },
            /// The firm makes a client good from its own capital and a firm wallet.
            Compensation {
                key: $key,
                client: Name,
                client_wallet: Name,
                firm_wallet: Name,
                asset: AssetIdText,
                amount: AmountText,
                instruction: Option<Name>,
                effective_at: Option<Instant>,
            },
            /// Reverses the movement `corrects` (not in a batch).
            Correction { key: $key, corrects: Name, instruction: Option<Name>, effective_at: Option<Instant> },
            /// Explicit postings, for shapes the shorthands do not cover.
            Movement {
                key: $key,
                /// `reward` needs `instruction`: the client instruction the reward accrues under.
                #[schema(inline)]
                kind: MovementKindCode,
                postings: Vec<PostingText>,
                corrects: Option<Name>,
                instruction: Option<Name>,
                effective_at: Option<Instant>,
            },
        }
    };
}

movement_body!(
    /// One movement in the import format, without `actor` (the token's holder is the actor).
    /// Unknown fields are errors. `key`, the movement's idempotency key, is the
    /// `Idempotency-Key` header, which the body may repeat.
    MovementBody,
    Option<Name>
);

movement_body!(
    /// One movement of a batch, as for `POST /v1/movements` but with its own `key`; a
    /// correction is refused in a batch.
    BatchMovement,
    Name
);

/// One registration in the import format, without `actor`. Unknown fields are errors.
#[derive(Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[expect(dead_code, reason = "describes JSON parsed by ringfence_wire::input")]
enum RegistrationBody {
    Asset {
        id: AssetIdText,
        /// Decimals of one whole unit.
        #[schema(maximum = 38)]
        scale: u8,
        /// At most 512 bytes; `null` or left out: none.
        #[schema(max_length = 512)]
        symbol: Option<String>,
        instruction: Option<Name>,
        effective_at: Option<Instant>,
    },
    Client {
        id: Name,
        #[schema(inline)]
        category: ClientCategoryCode,
        #[schema(inline)]
        segregation: SegregationCode,
        instruction: Option<Name>,
        effective_at: Option<Instant>,
    },
    SubCustodian {
        id: Name,
        /// At most 512 bytes.
        #[schema(max_length = 512)]
        name: String,
        #[schema(inline)]
        basis: AuthorisationBasisCode,
        /// At most 512 bytes.
        #[schema(max_length = 512)]
        reference: String,
        valid_until: Instant,
        instruction: Option<Name>,
        effective_at: Option<Instant>,
    },
    /// A renewal of a sub-custodian's authorisation.
    SubCustodianAuthorisation {
        id: Name,
        /// At most 512 bytes.
        #[schema(max_length = 512)]
        reference: String,
        valid_until: Instant,
        instruction: Option<Name>,
        effective_at: Option<Instant>,
    },
    KeySet {
        id: Name,
        #[schema(inline)]
        scheme: KeySchemeKindCode,
        /// Signers needed (multisig and mpc).
        #[schema(minimum = 1, maximum = 255)]
        threshold: Option<u8>,
        #[schema(min_items = 1)]
        signers: Vec<String>,
        #[schema(inline)]
        class: ClassKindCode,
        instruction: Option<Name>,
        effective_at: Option<Instant>,
    },
    Wallet {
        id: Name,
        /// CAIP-10.
        #[schema(
            pattern = "^[-a-z0-9]{3,8}:[-_a-zA-Z0-9]{1,32}:[-.%a-zA-Z0-9]{1,128}$",
            example = "eip155:1:0x0000000000000000000000000000000000001001"
        )]
        address: String,
        #[schema(inline)]
        class: ClassKindCode,
        /// The client of an individually segregated wallet.
        client: Option<Name>,
        #[schema(inline)]
        tier: TierCode,
        sub_custodian: Option<Name>,
        key_set: Name,
        instruction: Option<Name>,
        effective_at: Option<Instant>,
    },
    /// A change of a registered wallet's class (only when empty), custodian or key set: same
    /// id, address and tier. Needs four-eyes approval when a policy is in force.
    WalletChange {
        id: Name,
        /// CAIP-10.
        #[schema(
            pattern = "^[-a-z0-9]{3,8}:[-_a-zA-Z0-9]{1,32}:[-.%a-zA-Z0-9]{1,128}$",
            example = "eip155:1:0x0000000000000000000000000000000000001001"
        )]
        address: String,
        #[schema(inline)]
        class: ClassKindCode,
        /// The client of an individually segregated wallet.
        client: Option<Name>,
        #[schema(inline)]
        tier: TierCode,
        sub_custodian: Option<Name>,
        key_set: Name,
        instruction: Option<Name>,
        effective_at: Option<Instant>,
    },
    /// A client's instruction to encumber their assets (operators). Needs four-eyes approval
    /// when a policy is in force; `beneficiary: firm` is own-account use (`own_account_use`).
    ClientInstruction {
        id: Name,
        client: Name,
        asset: AssetIdText,
        #[schema(inline)]
        purpose: PurposeCode,
        /// Default `client`.
        #[schema(inline)]
        beneficiary: Option<BeneficiaryCode>,
        max_amount: AmountText,
        /// Default: the effective time.
        valid_from: Option<Instant>,
        valid_until: Instant,
        /// Default true.
        revocable: Option<bool>,
        /// The client's signed request or its reference (at most 512 bytes).
        #[schema(max_length = 512)]
        evidence: String,
        instruction: Option<Name>,
        effective_at: Option<Instant>,
    },
    /// The revocation of a revocable client instruction (operators).
    InstructionRevocation { id: Name, instruction: Option<Name>, effective_at: Option<Instant> },
    /// Encumbers `amount` of the client's position under the client instruction `instruction`
    /// (operators).
    Encumbrance { key: Name, amount: AmountText, instruction: Name, effective_at: Option<Instant> },
    /// Releases `amount` encumbered under the client instruction `instruction` (operators).
    Release { key: Name, amount: AmountText, instruction: Name, effective_at: Option<Instant> },
    /// A risk assessment allowing a lower cold floor for one asset until `valid_until`
    /// (compliance). Needs four-eyes approval when a policy is in force.
    RiskAssessment {
        id: Name,
        asset: AssetIdText,
        cold_floor: PercentText,
        valid_until: Instant,
        /// At most 512 bytes.
        #[schema(max_length = 512)]
        reason: String,
        instruction: Option<Name>,
        effective_at: Option<Instant>,
    },
    /// A credit institution or central bank holding client fiat funds (operators).
    Institution {
        id: Name,
        /// At most 512 bytes.
        #[schema(max_length = 512)]
        name: String,
        #[schema(inline)]
        kind: InstitutionKindCode,
        /// At most 512 bytes.
        #[schema(max_length = 512)]
        reference: String,
        instruction: Option<Name>,
        effective_at: Option<Instant>,
    },
    /// An account at a registered institution (operators).
    FiatAccount {
        id: Name,
        institution: Name,
        currency: CurrencyText,
        /// Default `client_funds`.
        #[schema(inline)]
        class: Option<FiatAccountClassCode>,
        /// At most 512 bytes.
        #[schema(max_length = 512)]
        reference: String,
        instruction: Option<Name>,
        effective_at: Option<Instant>,
    },
    /// Client fiat funds received (operators).
    FiatReceipt {
        key: Name,
        client: Name,
        currency: CurrencyText,
        amount: AmountText,
        instruction: Option<Name>,
        effective_at: Option<Instant>,
    },
    /// Received client funds placed into a fiat account (operators).
    FiatPlacement { key: Name, receipt: Name, account: Name, amount: AmountText, instruction: Option<Name>, effective_at: Option<Instant> },
    /// Client fiat funds paid out of a fiat account (operators).
    FiatWithdrawal { key: Name, client: Name, account: Name, amount: AmountText, instruction: Option<Name>, effective_at: Option<Instant> },
    /// Opens exceptions for safeguarding breaches that have none (operators or compliance);
    /// 200 `nothing_due` when every breach has one.
    SafeguardingCheck { instruction: Option<Name>, effective_at: Option<Instant> },
    /// A review of the selection of an institution holding client funds, at `effective_at`
    /// (compliance; four-eyes when a policy is in force). The next review is due the policy's
    /// `institution_review_days` later.
    InstitutionReview {
        institution: Name,
        /// Where the review is on file (at most 512 bytes).
        #[schema(max_length = 512)]
        evidence: String,
        instruction: Option<Name>,
        effective_at: Option<Instant>,
    },
}

/// A percentage from 0 to 100 with at most 2 decimals: a string (`"80"`, `"80.5"`) or a number.
/// The schema is written by hand: utoipa cannot bound the number of an untagged newtype.
#[derive(Deserialize)]
#[expect(dead_code, reason = "describes JSON parsed by ringfence_wire::input")]
pub(crate) struct PercentText(Value);

impl utoipa::PartialSchema for PercentText {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        let text = ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(r"^0*(100(\.0{1,2})?|[0-9]{1,2}(\.[0-9]{1,2})?)$"))
            .examples([json!("80.5")]);
        let number = ObjectBuilder::new()
            .schema_type(Type::Number)
            .minimum(Some(0))
            .maximum(Some(100))
            .description(Some("At most 2 decimals (more are refused)"))
            .examples([json!(80)]);
        OneOfBuilder::new()
            .item(text)
            .item(number)
            .description(Some("A percentage from 0 to 100 with at most 2 decimals: a string (`\"80\"`, `\"80.5\"`) or a number"))
            .into()
    }
}

impl ToSchema for PercentText {}

/// An ISO 4217 currency code.
#[derive(Deserialize, ToSchema)]
#[schema(pattern = "^[A-Z]{3}$", example = "EUR")]
#[expect(dead_code, reason = "describes JSON parsed by ringfence_wire::input")]
struct CurrencyText(String);

pub(crate) fn query<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    query.map(|Query(value)| value).map_err(|rejection| ApiError::bad_request("invalid_query", rejection.body_text()))
}

pub(crate) fn body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the body is larger than {} bytes; split the batch", crate::BATCH_BODY_BYTES_MAX),
        ),
        _ => ApiError::bad_request("invalid_body", rejection.body_text()),
    })
}

pub(crate) fn idempotency_key(headers: &HeaderMap) -> Result<String, ApiError> {
    let value = headers
        .get("idempotency-key")
        .ok_or_else(|| ApiError::bad_request("idempotency_key_missing", "every write needs an Idempotency-Key header"))?;
    let text = value.to_str().map_err(|_| ApiError::bad_request("invalid_idempotency_key", "the Idempotency-Key header is not text"))?;
    ringfence_core::IdempotencyKey::parse(text)
        .map(|key| key.as_str().to_owned())
        .map_err(|error| ApiError::bad_request("invalid_idempotency_key", format!("Idempotency-Key: {error}")))
}

const MOVEMENT_TYPES: &[&str] = &[
    "deposit",
    "withdrawal",
    "transfer",
    "fee",
    "rebalance",
    "firm_funding",
    "firm_withdrawal",
    "correction",
    "movement",
    "reward",
    "loss",
    "compensation",
];
/// What `POST /v1/entities` takes: registrations and the safeguarding records that are not
/// movements (the safeguarding policy has its own route).
const ENTITY_TYPES: &[&str] = &[
    "asset",
    "client",
    "sub_custodian",
    "sub_custodian_authorisation",
    "key_set",
    "wallet",
    "wallet_change",
    "client_instruction",
    "instruction_revocation",
    "encumbrance",
    "release",
    "risk_assessment",
    "institution",
    "fiat_account",
    "fiat_receipt",
    "fiat_placement",
    "fiat_withdrawal",
    "safeguarding_check",
    "institution_review",
    "price",
];

/// Who may send an entity of type `kind`: a risk assessment lowers a cold floor, which is
/// compliance's call; a safeguarding check only opens exceptions, which either may ask for.
/// An unknown type goes on to the parser, which names the types there are.
fn entity_roles(kind: &str) -> &'static [Role] {
    match kind {
        "risk_assessment" | "institution_review" => COMPLIANCE,
        "safeguarding_check" | "price" => ENTITY_WRITERS,
        kind if ENTITY_TYPES.contains(&kind) => OPERATORS,
        _ => ENTITY_WRITERS,
    }
}

/// Checks one JSON object of the import format for the API: the actor is the token's, the
/// type is of the expected family, and (for a single movement) the key is the header's.
fn object_for_api(value: Value, movement: bool, header_key: Option<&str>) -> Result<Map<String, Value>, ApiError> {
    let Value::Object(mut object) = value else {
        return Err(ApiError::bad_request("invalid_json", "the body must be a JSON object such as {\"type\": \"deposit\", …}"));
    };
    if object.contains_key("actor") {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "actor_not_allowed",
            "leave out \"actor\": everything is recorded with the token's holder as the actor",
        ));
    }
    let kind = object.get("type").and_then(Value::as_str).unwrap_or_default().to_owned();
    if let Some(route) = match kind.as_str() {
        "approve" | "reject" => Some("/v1/pending/{id}/approve or /reject"),
        "expire" => Some("nowhere: the server expires pending instructions itself"),
        "approval_policy" => Some("PUT /v1/policy/approvals"),
        "safeguarding_policy" => Some("PUT /v1/policy/safeguarding"),
        _ => None,
    } {
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "wrong_route", format!("type {kind:?} goes to {route}")));
    }
    let is_movement = MOVEMENT_TYPES.contains(&kind.as_str());
    // An unknown type is neither: the parser then names the types there are.
    let is_entity = ENTITY_TYPES.contains(&kind.as_str());
    if (movement && is_entity) || (!movement && is_movement) {
        let (what, route) = if movement { ("not a movement", "/v1/entities") } else { ("a movement", "/v1/movements") };
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "wrong_route", format!("type {kind:?} is {what}; send it to {route}")));
    }
    if let Some(header_key) = header_key {
        // An optional field given as null counts as left out (docs/import-format.md).
        match object.get("key") {
            None | Some(Value::Null) => {
                object.insert("key".into(), Value::String(header_key.to_owned()));
            }
            Some(Value::String(key)) if key == header_key => {}
            Some(_) => {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "idempotency_key_mismatch",
                    "the body's \"key\" differs from the Idempotency-Key header; leave it out or send the same",
                ));
            }
        }
    }
    Ok(object)
}

/// Fields a policy body may not carry: the actor and time are the server's, the type the route's.
const POLICY_FIELDS_DENIED: &[&str] = &["actor", "instruction", "effective_at", "type"];

/// The body of a policy route (`PUT /v1/policy/…`): a JSON object without the fields the
/// server sets. `example` shows the body in the error.
pub(crate) fn policy_fields(raw: Result<Bytes, BytesRejection>, example: &str) -> Result<Map<String, Value>, ApiError> {
    let Value::Object(object) = parse_json(&body(raw)?)? else {
        return Err(ApiError::bad_request("invalid_json", format!("the body must be a JSON object such as {example}")));
    };
    if let Some(field) = POLICY_FIELDS_DENIED.iter().find(|field| object.contains_key(**field)) {
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "field_not_allowed", format!("leave out {field:?}")));
    }
    Ok(object)
}

/// What a command the server makes for the caller carries: their actor, now, `instruction`.
pub(crate) fn meta(principal: &Principal, instruction: &str) -> Result<Meta, ApiError> {
    Ok(Meta {
        actor: principal.actor.clone(),
        instruction: InstructionId::parse(instruction).map_err(|e| ApiError::bad_request("invalid_instruction", e.to_string()))?,
        effective_at: clock::now(),
    })
}

pub(crate) fn parse_json(bytes: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(bytes).map_err(|error| ApiError::bad_request("invalid_json", format!("the body is not JSON: {error}")))
}

/// Parses an API object (read from the body once) into the import format's typed line, with
/// the token's holder as the actor and now as the effective time.
pub(crate) fn parse_object(object: Map<String, Value>, principal: &Principal) -> Result<Parsed, ApiError> {
    let now = clock::now();
    let defaults = Defaults { actor: principal.actor.clone(), effective_at: now };
    input::parse_object(object, &defaults)
        .and_then(|parsed| parsed.check_not_future(now).map(|()| parsed))
        .map_err(|error| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_command", error))
}

/// Parses an API object into a command; corrections are resolved against the store.
pub(crate) async fn command_of(state: &AppState, object: Map<String, Value>, principal: &Principal) -> Result<Command, ApiError> {
    resolve(state, parse_object(object, principal)?).await
}

/// The command of a parsed line: a correction is resolved against the movement it corrects.
async fn resolve(state: &AppState, parsed: Parsed) -> Result<Command, ApiError> {
    match parsed {
        Parsed::Ready(command) => Ok(command),
        Parsed::Correction { meta, key, corrects } => {
            let target = corrects.clone();
            let original = state.engine.read(move |store| store.movement(&target).map_err(|e| e.to_string())).await?;
            match original {
                Ok(Some(original)) => Ok(Command { meta, action: Action::Movement(build::correction(key, corrects, &original.postings)) }),
                Ok(None) => Err(ApiError::rejected(Status::UnknownMovement, &format!("movement {corrects} does not exist"))),
                Err(error) => Err(ApiError::unavailable(format!("the journal could not be read: {error}"))),
            }
        }
    }
}

pub(crate) fn single_result(outcome: Outcome) -> Result<Response, ApiError> {
    match outcome.status {
        Status::Accepted => Ok((StatusCode::CREATED, Json(CommandResult::of(outcome))).into_response()),
        Status::PendingApproval => Ok((StatusCode::ACCEPTED, Json(CommandResult::of(outcome))).into_response()),
        // A safeguarding check that found every breach with an exception already: nothing to
        // record is the check's answer, not a refusal.
        Status::AlreadyExists | Status::NothingDue => Ok((StatusCode::OK, Json(CommandResult::of(outcome))).into_response()),
        status => Err(ApiError::rejected(status, &outcome.detail)),
    }
}

pub(crate) async fn submit_one(state: &AppState, command: Command) -> Result<Response, ApiError> {
    let outcome = state.engine.submit(vec![command]).await?.pop().ok_or_else(|| ApiError::unavailable("no outcome"))?;
    single_result(outcome)
}

#[utoipa::path(get, path = "/healthz", security(()), responses((status = 200, description = "The process is up", body = String, content_type = "text/plain")))]
async fn healthz() -> &'static str {
    "ok"
}

#[utoipa::path(get, path = "/readyz", security(()), responses(
    (status = 200, description = "The store is open and answering", body = String, content_type = "text/plain"),
    (status = 503, description = "The store is being reopened", body = ErrorBody)
))]
async fn readyz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    if let Some(why) = state.engine.stopped() {
        return Err(ApiError::unavailable(format!("writes are stopped: {why}")));
    }
    if !state.engine.ready.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(ApiError::unavailable("the store is being reopened"));
    }
    state.engine.read(|_| ()).await?;
    Ok("ready")
}

#[utoipa::path(get, path = "/metrics", security(()), responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")))]
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render())
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

#[utoipa::path(post, path = "/v1/movements",
    params(("Idempotency-Key" = String, Header, pattern = r"^[A-Za-z0-9._:@/-]{1,128}$", description = "The movement's idempotency key", example = "dep-2026-03-02-0001")),
    request_body(content = MovementBody, description = "One movement in the import format (docs/import-format.md), without \"actor\"",
        example = json!({"type": "deposit", "client": "client-1", "wallet": "omnibus-hot", "asset": "eip155:1/slip44:60", "amount": "1500000000000000000"})),
    responses(
        (status = 201, description = "Accepted and durable", body = CommandResult),
        (status = 202, description = "Needs four-eyes approval: journaled as a pending instruction (`seq` is its id)", body = CommandResult),
        (status = 200, description = "Recorded before with the same content: the original result", body = CommandResult),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, description = "Idempotency conflict", body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 422, description = "Refused by a rule of the register (the code is its status)", body = ErrorBody),
        (status = 503, body = ErrorBody)
    ))]
async fn post_movement(
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let principal = state.authorize(&headers, OPERATORS)?;
    let key = idempotency_key(&headers)?;
    let object = object_for_api(parse_json(&body(raw)?)?, true, Some(&key))?;
    let command = command_of(&state, object, &principal).await?;
    submit_one(&state, command).await
}

/// The commands of a batch read by the fast path (`input::parse_movement_batch`: deposits,
/// withdrawals, transfers, fees and rebalances read straight from the bytes), when it applies
/// and every item passes the checks the general path makes; `None` sends the batch down the
/// general path, which answers exactly as it always did (errors included).
fn fast_batch(bytes: &[u8], principal: &Principal) -> Option<Vec<Command>> {
    let now = clock::now();
    let defaults = Defaults { actor: principal.actor.clone(), effective_at: now };
    let parsed = input::parse_movement_batch(bytes, &defaults)?;
    if parsed.is_empty() || parsed.len() > BATCH_MAX {
        return None;
    }
    parsed
        .into_iter()
        .map(|parsed| {
            parsed.check_not_future(now).ok()?;
            match parsed {
                Parsed::Ready(command) => Some(command),
                Parsed::Correction { .. } => None,
            }
        })
        .collect()
}

/// The commands of a batch's items, in order; the error of the first bad item.
fn batch_commands(items: Vec<Value>, principal: &Principal) -> Result<Vec<Command>, ApiError> {
    let mut commands = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let in_item = |e: ApiError| ApiError { message: format!("item {index}: {}", e.message), ..e };
        let object = object_for_api(item, true, None).map_err(in_item)?;
        match parse_object(object, principal).map_err(in_item)? {
            Parsed::Ready(command) => commands.push(command),
            Parsed::Correction { .. } => {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "correction_in_batch",
                    format!("item {index}: send corrections one at a time to /v1/movements"),
                ));
            }
        }
    }
    Ok(commands)
}

#[utoipa::path(post, path = "/v1/movements/batch",
    params(("Idempotency-Key" = String, Header, pattern = r"^[A-Za-z0-9._:@/-]{1,128}$", description = "Names the request; each movement carries its own \"key\"", example = "batch-2026-03-02-01")),
    request_body(content = Vec<BatchMovement>, description = "1 to 8190 movements in the import format, each with its \"key\"; no corrections",
        example = json!([
            {"type": "deposit", "key": "dep-2026-03-02-0002", "client": "client-2", "wallet": "omnibus-hot", "asset": "eip155:1/slip44:60", "amount": "250000000000000000"},
            {"type": "transfer", "key": "xfer-2026-03-02-0001", "from_client": "client-2", "to_client": "client-1", "asset": "eip155:1/slip44:60", "amount": "50000000000000000"}
        ])),
    responses(
        (status = 200, description = "Each movement's status, in order; all accepted ones are durable", body = BatchResult),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)
    ))]
async fn post_movements(
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let principal = state.authorize(&headers, OPERATORS)?;
    idempotency_key(&headers)?;
    let bytes = body(raw)?;
    // Every item is checked before anything is submitted: one bad item changes nothing.
    let commands = match fast_batch(&bytes, &principal) {
        Some(commands) => commands,
        None => general_batch(&bytes, &principal)?,
    };
    let outcomes = state.engine.submit(commands).await?;
    let results = outcomes.into_iter().enumerate().map(|(index, o)| BatchItem::of(index, o)).collect();
    Ok(Json(BatchResult { results }).into_response())
}

/// A batch's commands through the general path: the body as a JSON array, then each item as
/// `/v1/movements` reads it; the error of the first thing wrong.
fn general_batch(bytes: &[u8], principal: &Principal) -> Result<Vec<Command>, ApiError> {
    let Value::Array(items) = parse_json(bytes)? else {
        return Err(ApiError::bad_request("invalid_json", "the body must be a JSON array of movements"));
    };
    if items.is_empty() || items.len() > BATCH_MAX {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "batch_size",
            format!("a batch holds 1 to {BATCH_MAX} movements, this one {}", items.len()),
        ));
    }
    batch_commands(items, principal)
}

#[utoipa::path(post, path = "/v1/entities",
    params(("Idempotency-Key" = String, Header, pattern = r"^[A-Za-z0-9._:@/-]{1,128}$", description = "Names the request; a registration is idempotent by its entity id", example = "onboard-client-3")),
    request_body(content = RegistrationBody, description = "One line of the import format that is not a movement: a registration (asset, client, sub_custodian, sub_custodian_authorisation, key_set, wallet, wallet_change) or a safeguarding record (client_instruction, instruction_revocation, encumbrance, release, institution, fiat_account, fiat_receipt, fiat_placement, fiat_withdrawal: operators; risk_assessment, institution_review: compliance; safeguarding_check: either). The safeguarding policy goes to PUT /v1/policy/safeguarding",
        example = json!({"type": "client", "id": "client-3", "category": "retail", "segregation": "omnibus"})),
    responses(
        (status = 201, body = CommandResult),
        (status = 200, description = "Recorded before (`already_exists`), or a safeguarding check with nothing to record (`nothing_due`)", body = CommandResult),
        (status = 202, description = "Needs four-eyes approval: journaled as a pending instruction (`seq` is its id)", body = CommandResult),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "The token lacks the role the type needs", body = ErrorBody),
        (status = 409, description = "An entity or key taken with other details, a pending instruction on the same subject, a client instruction revoked or irrevocable (`instruction_not_live`, `instruction_not_revocable`)", body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 422, description = "A bad line, a wrong route, or a rule of the register (`own_account_use`, `encumbered_position`, `instruction_limit`, `insufficient_funds`, `unknown_instruction`…)", body = ErrorBody),
        (status = 503, body = ErrorBody)
    ))]
async fn post_entity(State(state): State<AppState>, headers: HeaderMap, raw: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let principal = state.authorize(&headers, ENTITY_WRITERS)?;
    idempotency_key(&headers)?;
    let value = parse_json(&body(raw)?)?;
    let kind = value.get("type").and_then(Value::as_str).unwrap_or_default().to_owned();
    let object = object_for_api(value, false, None)?;
    let allowed = entity_roles(&kind);
    if !principal.roles.iter().any(|role| allowed.contains(role)) {
        let allowed: Vec<&str> = allowed.iter().map(|role| role.code()).collect();
        return Err(ApiError::forbidden(format!("type {kind:?} needs one of the roles: {}", allowed.join(", "))));
    }
    let command = command_of(&state, object, &principal).await?;
    submit_one(&state, command).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct PageQuery {
    /// Items after this position (the `next_after` of the previous page).
    #[param(format = "uint32", maximum = 4_294_967_295_u32)]
    after: Option<u32>,
    /// At most this many (1 to 1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// A page of the journal: `after` is a sequence number, which a `u32` cannot hold.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct EntriesQuery {
    /// Entries after this sequence number (the `next_after` of the previous page).
    #[param(format = "uint64", maximum = 18_446_744_073_709_551_615_u64)]
    after: Option<u64>,
    /// At most this many (1 to 1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

// The document's `maximum = 1000` on every `limit` (an attribute takes only a literal).
const _: () = assert!(PAGE_LIMIT_MAX == 1000);

pub(crate) fn page_limit(limit: Option<u32>) -> Result<usize, ApiError> {
    match limit.unwrap_or(100) {
        limit @ 1..=PAGE_LIMIT_MAX => Ok(limit as usize),
        limit => Err(ApiError::bad_request("invalid_query", format!("limit {limit} is outside 1 to {PAGE_LIMIT_MAX}"))),
    }
}

#[utoipa::path(get, path = "/v1/entities/{kind}",
    params(("kind" = inline(EntityKind), Path, description = "The kind of entity"), PageQuery),
    responses((status = 200, description = "One page of the entities, in registration order", body = EntityPageView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
async fn list_entities(
    State(state): State<AppState>,
    headers: HeaderMap,
    kind: Result<Path<EntityKind>, PathRejection>,
    page: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<EntityPageView>, ApiError> {
    state.authorize(&headers, STAFF)?;
    let page = query(page)?;
    let limit = page_limit(page.limit)?;
    let after = page.after.unwrap_or(0) as usize;
    let Path(kind) = kind.map_err(|_| ApiError::not_found(format!("no such entities; use one of {}", EntityKind::names())))?;
    let page = state.engine.read(move |store| EntityPageView::of(store.register(), kind, after, limit, clock::now())).await?;
    Ok(Json(page))
}

#[utoipa::path(get, path = "/v1/summary",
    responses((status = 200, description = "The segregation summary per asset", body = SummaryView),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn summary(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<SummaryView>, ApiError> {
    state.authorize(&headers, STAFF)?;
    Ok(Json(state.engine.read(|store| SummaryView::of(store.register())).await?))
}

/// A firm own account, as a query parameter.
// Exactly one of `client`, `wallet` and `own` names the subject: OpenAPI cannot say this of
// query parameters, so only the descriptions do. The patterns are those of
// `ringfence_core::ids` (a name: 1 to 128 of A-Z a-z 0-9 . _ : @ / -; a CAIP-19 asset id).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct BalancesQuery {
    /// A client's positions (exactly one of client, wallet and own).
    #[param(pattern = r"^[A-Za-z0-9._:@/-]{1,128}$", example = "client-1")]
    client: Option<String>,
    /// A wallet's holdings (exactly one of client, wallet and own).
    #[param(pattern = r"^[A-Za-z0-9._:@/-]{1,128}$", example = "omnibus-hot")]
    wallet: Option<String>,
    /// A firm own account (exactly one of client, wallet and own).
    #[param(value_type = Option<ringfence_wire::schema::OwnAccountCode>)]
    #[serde(default, deserialize_with = "ringfence_wire::input::optional_code")]
    own: Option<OwnAccount>,
    /// Only this asset (CAIP-19).
    #[param(pattern = "^[-a-z0-9]{3,8}:[-_a-zA-Z0-9]{1,32}/[-a-z0-9]{3,8}:[-.%a-zA-Z0-9]{1,128}$", example = "eip155:1/slip44:60")]
    asset: Option<String>,
    /// Balances at this instant of effective time: RFC 3339 with an offset, or a date (midnight UTC).
    #[param(
        pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])([Tt ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))?$",
        example = "2026-03-31T23:59:59Z"
    )]
    at: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct HistoryQuery {
    /// A client's movements (exactly one of client, wallet and own).
    #[param(pattern = r"^[A-Za-z0-9._:@/-]{1,128}$", example = "client-1")]
    client: Option<String>,
    /// A wallet's movements (exactly one of client, wallet and own).
    #[param(pattern = r"^[A-Za-z0-9._:@/-]{1,128}$", example = "omnibus-hot")]
    wallet: Option<String>,
    /// A firm own account's movements (exactly one of client, wallet and own).
    #[param(value_type = Option<ringfence_wire::schema::OwnAccountCode>)]
    #[serde(default, deserialize_with = "ringfence_wire::input::optional_code")]
    own: Option<OwnAccount>,
    /// From this instant of effective time: RFC 3339 with an offset, or a date (midnight UTC).
    #[param(
        pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])([Tt ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))?$",
        example = "2026-01-01"
    )]
    from: Option<String>,
    /// Up to this instant of effective time, like `from`.
    #[param(
        pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])([Tt ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))?$",
        example = "2026-12-31T23:59:59Z"
    )]
    to: Option<String>,
    /// Movements after this sequence number (the `next_after` of the previous page).
    #[param(format = "uint64", maximum = 18_446_744_073_709_551_615_u64)]
    after: Option<u64>,
    /// At most this many (1 to 1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

pub(crate) fn subject_of(
    client: &Option<String>,
    wallet: &Option<String>,
    own: Option<OwnAccount>,
    principal: &Principal,
) -> Result<Subject, ApiError> {
    let subject = match (client, wallet, own) {
        (Some(client), None, None) => {
            Subject::Client(ClientId::parse(client).map_err(|e| ApiError::bad_request("invalid_query", e.to_string()))?)
        }
        (None, Some(wallet), None) => {
            Subject::Wallet(WalletId::parse(wallet).map_err(|e| ApiError::bad_request("invalid_query", e.to_string()))?)
        }
        (None, None, Some(own)) => Subject::Own(own),
        _ => return Err(ApiError::bad_request("invalid_query", "name exactly one of client, wallet or own")),
    };
    // A client-role token reads its own client only.
    if principal.roles == [Role::Client] {
        match (&subject, &principal.client) {
            (Subject::Client(client), Some(own)) if client == own => {}
            _ => return Err(ApiError::forbidden("a client token reads its own client's positions and history only")),
        }
    }
    Ok(subject)
}

/// A query's instant; a plain date means the start of that day for `from` and the end of it
/// for `to` and `at` (one rule: `ringfence_wire::clock`).
pub(crate) fn instant(text: &Option<String>, name: &str) -> Result<Option<Timestamp>, ApiError> {
    let parse = if name == "from" { clock::parse } else { clock::parse_end };
    text.as_deref().map(parse).transpose().map_err(|error| ApiError::bad_request("invalid_query", format!("{name}: {error}")))
}

fn known(store: &ringfence_store::Store, subject: &Subject) -> Result<(), ApiError> {
    let register = store.register();
    match subject {
        Subject::Client(client) if register.client(client).is_none() => {
            Err(ApiError::not_found(format!("client {client} is not registered")))
        }
        Subject::Wallet(wallet) if register.wallet(wallet).is_none() => {
            Err(ApiError::not_found(format!("wallet {wallet} is not registered")))
        }
        _ => Ok(()),
    }
}

#[utoipa::path(get, path = "/v1/balances", params(BalancesQuery),
    responses((status = 200, description = "Balances per asset, now or at an instant", body = BalancesView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
async fn balances(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<BalancesQuery>, QueryRejection>,
) -> Result<Json<BalancesView>, ApiError> {
    let principal = state.authorize(&headers, STAFF_AND_CLIENTS)?;
    let q = query(q)?;
    let subject = subject_of(&q.client, &q.wallet, q.own, &principal)?;
    let at = instant(&q.at, "at")?;
    let asset = q.asset.as_deref().map(AssetId::parse).transpose().map_err(|e| ApiError::bad_request("invalid_query", e.to_string()))?;
    state.engine.read(move |store| balances_of(store, &subject, asset.as_ref(), at).map(Json)).await?
}

/// The subject's balances now or at `at`, of `asset` alone when given.
pub(crate) fn balances_of(
    store: &ringfence_store::Store,
    subject: &Subject,
    asset: Option<&AssetId>,
    at: Option<Timestamp>,
) -> Result<BalancesView, ApiError> {
    known(store, subject)?;
    let account = subject.account();
    // Past balances of every asset from one read of the posting index.
    let past = at.map(|at| store.balances_at(&account, at)).transpose().map_err(store_unavailable)?.unwrap_or_default();
    BalancesView::of(store.register(), &account, asset, at, &past).map_err(ApiError::not_found)
}

#[utoipa::path(get, path = "/v1/history", params(HistoryQuery),
    responses((status = 200, description = "One page of the subject's movements, oldest first", body = HistoryView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
async fn history(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<HistoryQuery>, QueryRejection>,
) -> Result<Json<HistoryView>, ApiError> {
    let principal = state.authorize(&headers, STAFF_AND_CLIENTS)?;
    let q = query(q)?;
    let subject = subject_of(&q.client, &q.wallet, q.own, &principal)?;
    let from = instant(&q.from, "from")?.unwrap_or(Timestamp::MIN);
    let to = instant(&q.to, "to")?.unwrap_or(Timestamp::MAX);
    if from > to {
        return Err(ApiError::bad_request("invalid_query", "from is after to"));
    }
    let limit = page_limit(q.limit)? as u32;
    let after = q.after.unwrap_or(0);
    let audience = principal.audience();
    state
        .engine
        .read(move |store| {
            known(store, &subject)?;
            let limit = limit.min(HISTORY_LIMIT_MAX);
            let page = store.history_after(&subject, from, to, after, limit).map_err(store_unavailable)?;
            let entries = page.iter().map(|r| (r.seq, r.recorded_at, &r.command, r.pending));
            let view = HistoryView::of(store.register(), &subject.account(), audience, entries, limit as usize);
            let encumbrances = match &subject {
                Subject::Client(client) => store.encumbrance_history(client, from, to).map_err(store_unavailable)?,
                _ => Vec::new(),
            };
            let events = encumbrances.iter().map(|r| (r.seq, r.recorded_at, &r.command, r.pending));
            Ok(Json(view.with_encumbrances(store.register(), events)))
        })
        .await?
}

#[utoipa::path(get, path = "/v1/journal/verify",
    responses((status = 200, description = "The whole journal checked against its hash chain, and each stored register checkpoint against the replay", body = VerifyView),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn verify(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<VerifyView>, ApiError> {
    state.authorize(&headers, INSPECTORS)?;
    state
        .engine
        .read(|store| match store.verify_all() {
            Ok(verified) => {
                let view = match verified.chain {
                    Ok(head) => VerifyView::intact(head.seq, &head.hash),
                    Err(broken) => VerifyView::broken(broken.seq(), broken.to_string()),
                };
                Ok(Json(view.with_checkpoints(verified.checkpoints.iter().map(ringfence_store::CheckpointCheck::code))))
            }
            Err(error) => Err(ApiError::unavailable(format!("the journal could not be read: {error}"))),
        })
        .await?
}

#[utoipa::path(get, path = "/v1/journal/entries", params(EntriesQuery),
    responses((status = 200, description = "Journal entries after a sequence number, with their hashes", body = EntriesView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn entries(
    State(state): State<AppState>,
    headers: HeaderMap,
    page: Result<Query<EntriesQuery>, QueryRejection>,
) -> Result<Json<EntriesView>, ApiError> {
    state.authorize(&headers, INSPECTORS)?;
    let page = query(page)?;
    let limit = page_limit(page.limit)? as u32;
    // No sequence number exceeds i64::MAX (the stores keep them as signed 64-bit integers), and
    // the store's query casts `after` to i64: beyond it, it wrapped to a negative number and
    // answered the first page instead of the empty last one.
    let after = page.after.unwrap_or(0).min(i64::MAX as u64);
    state
        .engine
        .read(move |store| {
            let entries = store.entries(after, limit).map_err(|e| ApiError::unavailable(format!("the journal could not be read: {e}")))?;
            let next = (entries.len() == limit as usize).then(|| entries.last().map(|e| e.seq)).flatten();
            let items = entries.iter().map(|e| EntryView::of(e.seq, e.recorded_at, &e.command, &e.prev_hash)).collect();
            Ok(Json(EntriesView { items, next_after: next }))
        })
        .await?
}

/// A store that could not answer a read: the reason goes to the server log (it may be an
/// operator's matter, such as a damaged posting index), the caller gets 503.
pub(crate) fn store_unavailable(error: ringfence_store::StoreError) -> ApiError {
    crate::log(&serde_json::json!({"level": "error", "message": "a read from the store failed", "error": error.to_string()}));
    ApiError::unavailable("the store could not answer this read (the server log says why); retry, or tell the operator if it persists")
}
