//! The JSON Lines input format of `ringfence import`: one entity registration, movement or
//! safeguarding command per line, parsed strictly (unknown fields, negative or fractional
//! amounts, amounts beyond u128 and malformed identifiers are errors naming the line) into core
//! commands. The format is documented in docs/import-format.md.

use ringfence_core::{
    Account, Action, Actor, Address, Amount, ApprovalPolicy, AssessmentId, Asset, AssetId, AuthorisationBasis, ClassKind, Client,
    ClientCategory, ClientId, Code, Command, Currency, Custodian, FiatAccountId, FiatPlacement, FiatReceipt, FiatWithdrawal,
    IdempotencyKey, InstitutionId, InstructionId, KeyScheme, KeySchemeKind, KeySet, KeySetId, Meta, Movement, MovementKind, OwnAccount,
    Posting, SafeguardAction, Segregation, Side, SubCustodian, SubCustodianId, Tier, Timestamp, Wallet, WalletClass, WalletId, build,
};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::clock;

mod safeguard;

pub use safeguard::safeguarding_policy_from_json;

/// The default instruction of a price: `price:ASSET:CURRENCY`, or `price:CURRENCY` for an
/// asset id too long to fit an instruction id.
pub fn price_instruction(price: &ringfence_core::Price) -> String {
    let named = format!("price:{}:{}", price.asset, price.currency);
    if InstructionId::parse(&named).is_ok() { named } else { format!("price:{}", price.currency) }
}

/// The currency of a price that names none.
pub const DEFAULT_CURRENCY: Currency = Currency::EUR;

/// The longest line accepted, in bytes.
pub const LINE_LENGTH_MAX: usize = 64 * 1024;

/// A closed enum by its code (`ringfence_core::code`): the core's one spelling, and serde's
/// "unknown variant `x`, expected one of …" for anything else.
pub fn code<'de, D: Deserializer<'de>, T: Code>(deserializer: D) -> Result<T, D::Error> {
    let text = String::deserialize(deserializer)?;
    T::from_code(&text).ok_or_else(|| de::Error::unknown_variant(&text, T::CODES))
}

pub fn optional_code<'de, D: Deserializer<'de>, T: Code>(deserializer: D) -> Result<Option<T>, D::Error> {
    match Option::<String>::deserialize(deserializer)? {
        None => Ok(None),
        Some(text) => T::from_code(&text).map(Some).ok_or_else(|| de::Error::unknown_variant(&text, T::CODES)),
    }
}

fn amount<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Amount, D::Error> {
    struct AmountVisitor;
    impl Visitor<'_> for AmountVisitor {
        type Value = Amount;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a whole number of the asset's smallest unit, as a string of digits such as \"1500\"")
        }
        fn visit_u64<E: de::Error>(self, value: u64) -> Result<Amount, E> {
            Ok(Amount::new(u128::from(value)))
        }
        fn visit_i64<E: de::Error>(self, value: i64) -> Result<Amount, E> {
            u128::try_from(value).map(Amount::new).map_err(|_| E::custom(ringfence_core::AmountError::Negative(value.to_string())))
        }
        fn visit_f64<E: de::Error>(self, value: f64) -> Result<Amount, E> {
            if value < 0.0 {
                Err(E::custom(ringfence_core::AmountError::Negative(value.to_string())))
            } else if value.fract() != 0.0 {
                Err(E::custom(ringfence_core::AmountError::Fractional(value.to_string())))
            } else {
                Err(E::custom(format!(
                    "amount {value} is not exact as a JSON number (a decimal point, an exponent, or more than 2^64 - 1); write it as a string of digits, such as \"1500\""
                )))
            }
        }
        fn visit_str<E: de::Error>(self, value: &str) -> Result<Amount, E> {
            Amount::parse(value).map_err(E::custom)
        }
    }
    deserializer.deserialize_any(AmountVisitor)
}

fn parsed<'de, D: Deserializer<'de>, T, Err: std::fmt::Display>(deserializer: D, parse: fn(&str) -> Result<T, Err>) -> Result<T, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse(&text).map_err(de::Error::custom)
}

macro_rules! id_field {
    ($name:ident, $type:ty) => {
        fn $name<'de, D: Deserializer<'de>>(deserializer: D) -> Result<$type, D::Error> {
            parsed(deserializer, <$type>::parse)
        }
    };
}
id_field!(asset_id, AssetId);
id_field!(client_id, ClientId);
id_field!(wallet_id, WalletId);
id_field!(key_set_id, KeySetId);
id_field!(sub_custodian_id, SubCustodianId);
id_field!(idempotency_key, IdempotencyKey);
id_field!(address, Address);
id_field!(instruction_id, InstructionId);
id_field!(assessment_id, AssessmentId);
id_field!(institution_id, InstitutionId);
id_field!(fiat_account_id, FiatAccountId);
id_field!(currency, Currency);

fn optional_id<'de, D: Deserializer<'de>, T, E: std::fmt::Display>(
    deserializer: D,
    parse: fn(&str) -> Result<T, E>,
) -> Result<Option<T>, D::Error> {
    match Option::<String>::deserialize(deserializer)? {
        None => Ok(None),
        Some(text) => parse(&text).map(Some).map_err(de::Error::custom),
    }
}

fn optional_wallet<'de, D: Deserializer<'de>>(d: D) -> Result<Option<WalletId>, D::Error> {
    optional_id(d, WalletId::parse)
}
fn optional_client<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ClientId>, D::Error> {
    optional_id(d, ClientId::parse)
}
fn optional_sub_custodian<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SubCustodianId>, D::Error> {
    optional_id(d, SubCustodianId::parse)
}
fn optional_currency<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Currency>, D::Error> {
    optional_id(d, Currency::parse)
}
fn optional_actor<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Actor>, D::Error> {
    optional_id(d, Actor::parse)
}
fn optional_instruction<'de, D: Deserializer<'de>>(d: D) -> Result<Option<InstructionId>, D::Error> {
    optional_id(d, InstructionId::parse)
}
fn optional_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
    optional_id(d, clock::parse)
}
/// The end of a validity (`valid_until`): a plain date means the end of that day.
fn end_time_field<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
    parsed(d, clock::parse_end)
}

/// A price as a decimal string (`"3012.45"`): a JSON number is refused, as it may not be
/// exact.
fn price_decimal<'de, D: Deserializer<'de>>(deserializer: D) -> Result<(u128, u8), D::Error> {
    struct PriceVisitor;
    impl Visitor<'_> for PriceVisitor {
        type Value = (u128, u8);
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a price as a decimal string, e.g. \"3012.45\"")
        }
        fn visit_u64<E: de::Error>(self, value: u64) -> Result<(u128, u8), E> {
            Err(E::custom(format!("give the price as a string, \"{value}\", not a JSON number")))
        }
        fn visit_i64<E: de::Error>(self, value: i64) -> Result<(u128, u8), E> {
            Err(E::custom(format!("give the price as a string, \"{value}\", not a JSON number")))
        }
        fn visit_f64<E: de::Error>(self, value: f64) -> Result<(u128, u8), E> {
            Err(E::custom(format!("give the price as a string (like \"{value}\"), not a JSON number: a number may not be exact")))
        }
        fn visit_str<E: de::Error>(self, value: &str) -> Result<(u128, u8), E> {
            ringfence_core::Price::parse_decimal(value).map_err(E::custom)
        }
    }
    deserializer.deserialize_any(PriceVisitor)
}

fn bounded<E: de::Error>(text: String) -> Result<String, E> {
    if text.len() > 512 {
        return Err(E::custom(format!("text of {} bytes is too long; at most 512", text.len())));
    }
    Ok(text)
}

fn bounded_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    bounded(String::deserialize(d)?)
}

/// Optional text: `null` counts as left out, as for every optional field.
fn optional_bounded_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::<String>::deserialize(d)?.map(bounded).transpose()
}

/// Fields every line may carry: who, under which instruction, effective when.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Common {
    #[serde(default, deserialize_with = "optional_actor")]
    actor: Option<Actor>,
    #[serde(default, deserialize_with = "optional_instruction")]
    instruction: Option<InstructionId>,
    #[serde(default, deserialize_with = "optional_time")]
    effective_at: Option<Timestamp>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PostingText {
    #[serde(deserialize_with = "code")]
    side: Side,
    /// `position:CLIENT`, `holding:WALLET`, `own:capital` or `own:fee_income`.
    account: String,
    #[serde(deserialize_with = "asset_id")]
    asset: AssetId,
    #[serde(deserialize_with = "amount")]
    amount: Amount,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WalletText {
    #[serde(deserialize_with = "wallet_id")]
    id: WalletId,
    #[serde(deserialize_with = "address")]
    address: Address,
    #[serde(deserialize_with = "code")]
    class: ClassKind,
    #[serde(default, deserialize_with = "optional_client")]
    client: Option<ClientId>,
    #[serde(deserialize_with = "code")]
    tier: Tier,
    #[serde(default, deserialize_with = "optional_sub_custodian")]
    sub_custodian: Option<SubCustodianId>,
    #[serde(deserialize_with = "key_set_id")]
    key_set: KeySetId,
}

/// An amount as a threshold: digits, as for movements.
#[derive(Debug, Deserialize)]
struct ThresholdText(#[serde(deserialize_with = "amount")] Amount);

fn default_expiry_hours() -> u32 {
    24
}

/// One line of an import file.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum Line {
    Asset {
        #[serde(deserialize_with = "asset_id")]
        id: AssetId,
        scale: u8,
        #[serde(default, deserialize_with = "optional_bounded_text")]
        symbol: Option<String>,
    },
    Client {
        #[serde(deserialize_with = "client_id")]
        id: ClientId,
        #[serde(deserialize_with = "code")]
        category: ClientCategory,
        #[serde(deserialize_with = "code")]
        segregation: Segregation,
    },
    SubCustodian {
        #[serde(deserialize_with = "sub_custodian_id")]
        id: SubCustodianId,
        #[serde(deserialize_with = "bounded_text")]
        name: String,
        #[serde(deserialize_with = "code")]
        basis: AuthorisationBasis,
        #[serde(deserialize_with = "bounded_text")]
        reference: String,
        #[serde(deserialize_with = "end_time_field")]
        valid_until: Timestamp,
    },
    SubCustodianAuthorisation {
        #[serde(deserialize_with = "sub_custodian_id")]
        id: SubCustodianId,
        #[serde(deserialize_with = "bounded_text")]
        reference: String,
        #[serde(deserialize_with = "end_time_field")]
        valid_until: Timestamp,
    },
    KeySet {
        #[serde(deserialize_with = "key_set_id")]
        id: KeySetId,
        #[serde(deserialize_with = "code")]
        scheme: KeySchemeKind,
        #[serde(default)]
        threshold: Option<u8>,
        signers: Vec<String>,
        #[serde(deserialize_with = "code")]
        class: ClassKind,
    },
    Wallet(WalletText),
    /// A change of a registered wallet's class, custodian or key set (four-eyes approval).
    WalletChange(WalletText),
    /// The four-eyes policy.
    ApprovalPolicy {
        approvals: u8,
        #[serde(default = "default_expiry_hours")]
        expiry_hours: u32,
        #[serde(default)]
        withdrawal_thresholds: std::collections::BTreeMap<String, ThresholdText>,
    },
    /// An approval of a pending instruction.
    Approve {
        pending: u64,
    },
    /// A rejection of a pending instruction, with its reason.
    Reject {
        pending: u64,
        #[serde(deserialize_with = "bounded_text")]
        reason: String,
    },
    /// The expiry of a pending instruction whose time is over.
    Expire {
        pending: u64,
    },
    Deposit {
        #[serde(deserialize_with = "idempotency_key")]
        key: IdempotencyKey,
        #[serde(deserialize_with = "client_id")]
        client: ClientId,
        #[serde(deserialize_with = "wallet_id")]
        wallet: WalletId,
        #[serde(deserialize_with = "asset_id")]
        asset: AssetId,
        #[serde(deserialize_with = "amount")]
        amount: Amount,
    },
    Withdrawal {
        #[serde(deserialize_with = "idempotency_key")]
        key: IdempotencyKey,
        #[serde(deserialize_with = "client_id")]
        client: ClientId,
        #[serde(deserialize_with = "wallet_id")]
        wallet: WalletId,
        #[serde(deserialize_with = "asset_id")]
        asset: AssetId,
        #[serde(deserialize_with = "amount")]
        amount: Amount,
    },
    Transfer {
        #[serde(deserialize_with = "idempotency_key")]
        key: IdempotencyKey,
        #[serde(deserialize_with = "client_id")]
        from_client: ClientId,
        #[serde(deserialize_with = "client_id")]
        to_client: ClientId,
        #[serde(default, deserialize_with = "optional_wallet")]
        from_wallet: Option<WalletId>,
        #[serde(default, deserialize_with = "optional_wallet")]
        to_wallet: Option<WalletId>,
        #[serde(deserialize_with = "asset_id")]
        asset: AssetId,
        #[serde(deserialize_with = "amount")]
        amount: Amount,
    },
    Fee {
        #[serde(deserialize_with = "idempotency_key")]
        key: IdempotencyKey,
        #[serde(deserialize_with = "client_id")]
        client: ClientId,
        #[serde(deserialize_with = "wallet_id")]
        client_wallet: WalletId,
        #[serde(deserialize_with = "wallet_id")]
        firm_wallet: WalletId,
        #[serde(deserialize_with = "asset_id")]
        asset: AssetId,
        #[serde(deserialize_with = "amount")]
        amount: Amount,
    },
    /// Client assets lost from a client wallet, borne by one client (several: a `movement`
    /// of kind `loss`).
    Loss {
        #[serde(deserialize_with = "idempotency_key")]
        key: IdempotencyKey,
        #[serde(deserialize_with = "client_id")]
        client: ClientId,
        #[serde(deserialize_with = "wallet_id")]
        wallet: WalletId,
        #[serde(deserialize_with = "asset_id")]
        asset: AssetId,
        #[serde(deserialize_with = "amount")]
        amount: Amount,
    },
    /// The firm makes a client good from its own assets.
    Compensation {
        #[serde(deserialize_with = "idempotency_key")]
        key: IdempotencyKey,
        #[serde(deserialize_with = "client_id")]
        client: ClientId,
        #[serde(deserialize_with = "wallet_id")]
        client_wallet: WalletId,
        #[serde(deserialize_with = "wallet_id")]
        firm_wallet: WalletId,
        #[serde(deserialize_with = "asset_id")]
        asset: AssetId,
        #[serde(deserialize_with = "amount")]
        amount: Amount,
    },
    Rebalance {
        #[serde(deserialize_with = "idempotency_key")]
        key: IdempotencyKey,
        #[serde(deserialize_with = "wallet_id")]
        from_wallet: WalletId,
        #[serde(deserialize_with = "wallet_id")]
        to_wallet: WalletId,
        #[serde(deserialize_with = "asset_id")]
        asset: AssetId,
        #[serde(deserialize_with = "amount")]
        amount: Amount,
    },
    FirmFunding {
        #[serde(deserialize_with = "idempotency_key")]
        key: IdempotencyKey,
        #[serde(deserialize_with = "wallet_id")]
        wallet: WalletId,
        #[serde(deserialize_with = "asset_id")]
        asset: AssetId,
        #[serde(deserialize_with = "amount")]
        amount: Amount,
    },
    FirmWithdrawal {
        #[serde(deserialize_with = "idempotency_key")]
        key: IdempotencyKey,
        #[serde(deserialize_with = "wallet_id")]
        wallet: WalletId,
        #[serde(deserialize_with = "asset_id")]
        asset: AssetId,
        #[serde(deserialize_with = "amount")]
        amount: Amount,
    },
    Correction {
        #[serde(deserialize_with = "idempotency_key")]
        key: IdempotencyKey,
        #[serde(deserialize_with = "idempotency_key")]
        corrects: IdempotencyKey,
    },
    /// A movement with explicit postings, for shapes the shorthands do not cover.
    Movement {
        #[serde(deserialize_with = "idempotency_key")]
        key: IdempotencyKey,
        #[serde(deserialize_with = "code")]
        kind: MovementKind,
        postings: Vec<PostingText>,
        #[serde(default, deserialize_with = "optional_id_key")]
        corrects: Option<IdempotencyKey>,
    },
    /// A reward earned by encumbered assets, under the client instruction named by the line's
    /// `instruction`: shaped as a deposit.
    Reward {
        #[serde(deserialize_with = "idempotency_key")]
        key: IdempotencyKey,
        #[serde(deserialize_with = "client_id")]
        client: ClientId,
        #[serde(deserialize_with = "wallet_id")]
        wallet: WalletId,
        #[serde(deserialize_with = "asset_id")]
        asset: AssetId,
        #[serde(deserialize_with = "amount")]
        amount: Amount,
    },
    // Safeguarding: each `type` is the `SafeguardAction::code()` of the command it becomes.
    SafeguardingPolicy(safeguard::PolicyText),
    ClientInstruction(safeguard::InstructionText),
    InstructionRevocation {
        #[serde(deserialize_with = "instruction_id")]
        id: InstructionId,
    },
    /// Under the client instruction named by the line's `instruction`.
    Encumbrance {
        #[serde(deserialize_with = "idempotency_key")]
        key: IdempotencyKey,
        #[serde(deserialize_with = "amount")]
        amount: Amount,
    },
    /// Under the client instruction named by the line's `instruction`.
    Release {
        #[serde(deserialize_with = "idempotency_key")]
        key: IdempotencyKey,
        #[serde(deserialize_with = "amount")]
        amount: Amount,
    },
    RiskAssessment(safeguard::AssessmentText),
    Institution(safeguard::InstitutionText),
    FiatAccount(safeguard::FiatAccountText),
    FiatReceipt {
        #[serde(deserialize_with = "idempotency_key")]
        key: IdempotencyKey,
        #[serde(deserialize_with = "client_id")]
        client: ClientId,
        #[serde(deserialize_with = "currency")]
        currency: Currency,
        #[serde(deserialize_with = "amount")]
        amount: Amount,
    },
    FiatPlacement {
        #[serde(deserialize_with = "idempotency_key")]
        key: IdempotencyKey,
        #[serde(deserialize_with = "idempotency_key")]
        receipt: IdempotencyKey,
        #[serde(deserialize_with = "fiat_account_id")]
        account: FiatAccountId,
        #[serde(deserialize_with = "amount")]
        amount: Amount,
    },
    FiatWithdrawal {
        #[serde(deserialize_with = "idempotency_key")]
        key: IdempotencyKey,
        #[serde(deserialize_with = "client_id")]
        client: ClientId,
        #[serde(deserialize_with = "fiat_account_id")]
        account: FiatAccountId,
        #[serde(deserialize_with = "amount")]
        amount: Amount,
    },
    /// A struct variant, not a unit one, so that unknown fields are refused here too.
    SafeguardingCheck {},
    /// A price of one whole unit of `asset` in `currency` (EUR when left out) at the line's
    /// `effective_at`, as `source` gives it.
    Price {
        #[serde(deserialize_with = "asset_id")]
        asset: AssetId,
        #[serde(default, deserialize_with = "optional_currency")]
        currency: Option<Currency>,
        #[serde(deserialize_with = "price_decimal")]
        price: (u128, u8),
        #[serde(deserialize_with = "bounded_text")]
        source: String,
    },
    /// The selection of an institution holding client funds was reviewed (at `effective_at`).
    InstitutionReview {
        #[serde(deserialize_with = "institution_id")]
        institution: InstitutionId,
        #[serde(deserialize_with = "bounded_text")]
        evidence: String,
    },
}

/// Why a reward (a `reward` line, or a `movement` of kind `reward`) needs `instruction`.
const REWARD_WITHOUT_INSTRUCTION: &str = "a reward names the client instruction it accrues under in \"instruction\"";

fn optional_id_key<'de, D: Deserializer<'de>>(d: D) -> Result<Option<IdempotencyKey>, D::Error> {
    optional_id(d, IdempotencyKey::parse)
}

/// What a line asks for, before corrections are resolved against the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Ready(Command),
    /// A correction of `corrects`, whose postings must be looked up in the store.
    Correction {
        meta: Meta,
        key: IdempotencyKey,
        corrects: IdempotencyKey,
    },
}

/// How far in the future an effective time may be: clock skew between the sender and
/// ringfence, never a movement dated ahead ("now" would count it before it happened).
pub const FUTURE_TOLERANCE_MICROS: i64 = 5 * 60 * 1_000_000;

impl Parsed {
    /// When the line takes effect.
    pub fn effective_at(&self) -> Timestamp {
        match self {
            Parsed::Ready(command) => command.meta.effective_at,
            Parsed::Correction { meta, .. } => meta.effective_at,
        }
    }

    /// Refused when it takes effect more than [`FUTURE_TOLERANCE_MICROS`] after `now`: a
    /// balance "now" would include a movement that has not happened.
    pub fn check_not_future(&self, now: Timestamp) -> Result<(), String> {
        let at = self.effective_at();
        if at.micros() > now.micros().saturating_add(FUTURE_TOLERANCE_MICROS) {
            return Err(format!(
                "effective_at {} is in the future (now is {}); record a movement when it happens, at most 5 minutes ahead of this clock",
                clock::format(at),
                clock::format(now)
            ));
        }
        Ok(())
    }
}

/// Defaults for fields a line leaves out.
#[derive(Debug, Clone)]
pub struct Defaults {
    pub actor: Actor,
    pub effective_at: Timestamp,
}

fn parse_account(text: &str) -> Result<Account, String> {
    let bad = || format!("account {text:?} is not position:CLIENT, holding:WALLET, own:capital or own:fee_income");
    let (kind, owner) = text.split_once(':').ok_or_else(bad)?;
    match kind {
        "position" => ClientId::parse(owner).map(Account::Position).map_err(|e| e.to_string()),
        "holding" => WalletId::parse(owner).map(Account::Holding).map_err(|e| e.to_string()),
        "own" if owner == "capital" => Ok(Account::Own(OwnAccount::Capital)),
        "own" if owner == "fee_income" => Ok(Account::Own(OwnAccount::FeeIncome)),
        _ => Err(bad()),
    }
}

/// Parses one line. The error is a sentence without the line number.
pub fn parse_line(text: &str, defaults: &Defaults) -> Result<Parsed, String> {
    if text.len() > LINE_LENGTH_MAX {
        return Err(format!("the line is {} bytes long; at most {LINE_LENGTH_MAX}", text.len()));
    }
    // Editors on some systems start a UTF-8 file with a byte-order mark; it is not content.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| describe_json_error(&e))?;
    let serde_json::Value::Object(object) = value else {
        return Err("each line must be a JSON object, such as {\"type\": \"deposit\", …}".into());
    };
    parse_object(object, defaults)
}

/// A movement of one of the common shapes, read straight from JSON bytes by
/// [`parse_movement_batch`]. Each field goes through the same parser as in [`Line`] and
/// [`Common`], so what it accepts it reads the same way.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FastMovement {
    #[serde(rename = "type")]
    kind: FastKind,
    #[serde(deserialize_with = "idempotency_key")]
    key: IdempotencyKey,
    #[serde(deserialize_with = "asset_id")]
    asset: AssetId,
    #[serde(deserialize_with = "amount")]
    amount: Amount,
    #[serde(default, deserialize_with = "optional_client")]
    client: Option<ClientId>,
    #[serde(default, deserialize_with = "optional_wallet")]
    wallet: Option<WalletId>,
    #[serde(default, deserialize_with = "optional_client")]
    from_client: Option<ClientId>,
    #[serde(default, deserialize_with = "optional_client")]
    to_client: Option<ClientId>,
    #[serde(default, deserialize_with = "optional_wallet")]
    from_wallet: Option<WalletId>,
    #[serde(default, deserialize_with = "optional_wallet")]
    to_wallet: Option<WalletId>,
    #[serde(default, deserialize_with = "optional_wallet")]
    client_wallet: Option<WalletId>,
    #[serde(default, deserialize_with = "optional_wallet")]
    firm_wallet: Option<WalletId>,
    #[serde(default, deserialize_with = "optional_instruction")]
    instruction: Option<InstructionId>,
    #[serde(default, deserialize_with = "optional_time")]
    effective_at: Option<Timestamp>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum FastKind {
    Deposit,
    Withdrawal,
    Transfer,
    Fee,
    Rebalance,
}

impl FastMovement {
    /// The typed line, when the fields present are exactly those of the type (required ones
    /// present, none of another type's).
    fn into_line(self) -> Option<(Line, Common)> {
        let FastMovement {
            kind,
            key,
            asset,
            amount,
            client,
            wallet,
            from_client,
            to_client,
            from_wallet,
            to_wallet,
            client_wallet,
            firm_wallet,
            instruction,
            effective_at,
        } = self;
        let common = Common { actor: None, instruction, effective_at };
        let line = match (kind, client, wallet, from_client, to_client, from_wallet, to_wallet, client_wallet, firm_wallet) {
            (FastKind::Deposit, Some(client), Some(wallet), None, None, None, None, None, None) => {
                Line::Deposit { key, client, wallet, asset, amount }
            }
            (FastKind::Withdrawal, Some(client), Some(wallet), None, None, None, None, None, None) => {
                Line::Withdrawal { key, client, wallet, asset, amount }
            }
            (FastKind::Transfer, None, None, Some(from_client), Some(to_client), from_wallet, to_wallet, None, None) => {
                Line::Transfer { key, from_client, to_client, from_wallet, to_wallet, asset, amount }
            }
            (FastKind::Fee, Some(client), None, None, None, None, None, Some(client_wallet), Some(firm_wallet)) => {
                Line::Fee { key, client, client_wallet, firm_wallet, asset, amount }
            }
            (FastKind::Rebalance, None, None, None, None, Some(from_wallet), Some(to_wallet), None, None) => {
                Line::Rebalance { key, from_wallet, to_wallet, asset, amount }
            }
            _ => return None,
        };
        Some((line, common))
    }
}

/// The fast path of a batch of movements (the HTTP API's batch route): the body read straight
/// into typed lines, without the general path's JSON tree and buffered tagged enum. `None`
/// unless every item is a deposit, withdrawal, transfer, fee or rebalance that the general
/// path reads the same way, with no `actor`; the caller then takes the general path
/// ([`parse_object`] per item), which accepts or refuses exactly as before, with its messages.
pub fn parse_movement_batch(bytes: &[u8], defaults: &Defaults) -> Option<Vec<Parsed>> {
    let items: Vec<FastMovement> = serde_json::from_slice(bytes).ok()?;
    items
        .into_iter()
        .map(|item| {
            let (line, common) = item.into_line()?;
            parsed_of(line, &common, defaults).ok()
        })
        .collect()
}

/// Parses one line already read as a JSON object (the HTTP API's bodies): the same typed lines
/// and checks as [`parse_line`], without writing the object out and reading it again.
pub fn parse_object(mut object: serde_json::Map<String, serde_json::Value>, defaults: &Defaults) -> Result<Parsed, String> {
    let mut common_fields = serde_json::Map::new();
    for field in ["actor", "instruction", "effective_at"] {
        if let Some(field_value) = object.remove(field) {
            common_fields.insert(field.to_owned(), field_value);
        }
    }
    let common: Common = serde_json::from_value(serde_json::Value::Object(common_fields)).map_err(|e| describe_json_error(&e))?;
    let line = Line::deserialize(serde_json::Value::Object(object)).map_err(|e| describe_json_error(&e))?;
    parsed_of(line, &common, defaults)
}

/// What a typed line asks for, with the fields every line may carry.
fn parsed_of(line: Line, common: &Common, defaults: &Defaults) -> Result<Parsed, String> {
    let meta = |default_instruction: &str| -> Result<Meta, String> {
        let instruction = match common.instruction.clone() {
            Some(instruction) => instruction,
            None => InstructionId::parse(default_instruction).map_err(|e| e.to_string())?,
        };
        Ok(Meta {
            actor: common.actor.clone().unwrap_or_else(|| defaults.actor.clone()),
            instruction,
            effective_at: common.effective_at.unwrap_or(defaults.effective_at),
        })
    };
    let registration =
        |id: &str, action| -> Result<Parsed, String> { Ok(Parsed::Ready(Command { meta: meta(&format!("register:{id}"))?, action })) };
    let movement = |movement: Movement| -> Result<Parsed, String> {
        if movement.kind == MovementKind::Reward && common.instruction.is_none() {
            return Err(REWARD_WITHOUT_INSTRUCTION.into());
        }
        Ok(Parsed::Ready(Command { meta: meta(movement.key.as_str())?, action: Action::Movement(movement) }))
    };
    let safeguard =
        |meta: Meta, action| -> Result<Parsed, String> { Ok(Parsed::Ready(Command { meta, action: Action::Safeguard(action) })) };
    // Encumbrance and release are under a client instruction, which the line's `instruction` names.
    let client_instruction = |missing: &str| common.instruction.clone().ok_or_else(|| missing.to_owned());
    match line {
        Line::Asset { id, scale, symbol } => {
            let name = id.to_string();
            registration(&name, Action::RegisterAsset(Asset { id, scale, symbol: symbol.unwrap_or_default() }))
        }
        Line::Client { id, category, segregation } => {
            let name = id.to_string();
            registration(&name, Action::RegisterClient(Client { id, category, segregation }))
        }
        Line::SubCustodian { id, name, basis, reference, valid_until } => {
            let label = id.to_string();
            registration(&label, Action::RegisterSubCustodian(SubCustodian { id, name, basis, reference, valid_until }))
        }
        Line::SubCustodianAuthorisation { id, reference, valid_until } => {
            let label = format!("authorisation:{id}");
            Ok(Parsed::Ready(Command {
                meta: meta(&label)?,
                action: Action::UpdateSubCustodianAuthorisation { id, reference, valid_until },
            }))
        }
        Line::KeySet { id, scheme, threshold, signers, class } => {
            let label = id.to_string();
            let scheme = match (scheme, threshold) {
                (KeySchemeKind::Multisig, Some(threshold)) => KeyScheme::Multisig { threshold },
                (KeySchemeKind::Mpc, Some(threshold)) => KeyScheme::Mpc { threshold },
                (KeySchemeKind::Hsm, None) => KeyScheme::Hsm,
                (KeySchemeKind::Hsm, Some(_)) => return Err("an hsm key set has no threshold; leave \"threshold\" out".into()),
                (_, None) => return Err("a multisig or mpc key set needs \"threshold\" (m of the n signers)".into()),
            };
            if signers.len() > ringfence_core::entity::SIGNERS_MAX {
                return Err(format!("{} signers; a key set has at most {}", signers.len(), ringfence_core::entity::SIGNERS_MAX));
            }
            if let Some(long) = signers.iter().find(|s| s.len() > 256) {
                return Err(format!("signer name {long:?} is longer than 256 bytes"));
            }
            registration(&label, Action::RegisterKeySet(KeySet { id, scheme, signers, class }))
        }
        Line::Wallet(text) => {
            let wallet = wallet_of(text)?;
            let label = wallet.id.to_string();
            registration(&label, Action::RegisterWallet(wallet))
        }
        Line::WalletChange(text) => {
            let wallet = wallet_of(text)?;
            let label = format!("wallet-change:{}", wallet.id);
            Ok(Parsed::Ready(Command { meta: meta(&label)?, action: Action::ChangeWallet(wallet) }))
        }
        Line::ApprovalPolicy { approvals, expiry_hours, withdrawal_thresholds } => {
            let withdrawal_thresholds = withdrawal_thresholds
                .into_iter()
                .map(|(asset, ThresholdText(amount))| {
                    AssetId::parse(&asset).map(|asset| (asset, amount)).map_err(|e| format!("withdrawal_thresholds: {e}"))
                })
                .collect::<Result<Vec<_>, String>>()?;
            let mut withdrawal_thresholds = withdrawal_thresholds;
            withdrawal_thresholds.sort_by(|a, b| a.0.cmp(&b.0));
            let policy = ApprovalPolicy { approvals, expiry_hours, withdrawal_thresholds };
            Ok(Parsed::Ready(Command { meta: meta("policy:approvals")?, action: Action::SetApprovalPolicy(policy) }))
        }
        Line::Approve { pending } => {
            Ok(Parsed::Ready(Command { meta: meta(&format!("approve:{pending}"))?, action: Action::ApprovePending { id: pending } }))
        }
        Line::Reject { pending, reason } => {
            Ok(Parsed::Ready(Command { meta: meta(&format!("reject:{pending}"))?, action: Action::RejectPending { id: pending, reason } }))
        }
        Line::Expire { pending } => {
            Ok(Parsed::Ready(Command { meta: meta(&format!("expire:{pending}"))?, action: Action::ExpirePending { id: pending } }))
        }
        Line::Deposit { key, client, wallet, asset, amount } => movement(build::deposit(key, &client, &wallet, &asset, amount)),
        Line::Withdrawal { key, client, wallet, asset, amount } => movement(build::withdrawal(key, &client, &wallet, &asset, amount)),
        Line::Transfer { key, from_client, to_client, from_wallet, to_wallet, asset, amount } => {
            let wallets = match (&from_wallet, &to_wallet) {
                (Some(from), Some(to)) => Some((from, to)),
                (None, None) => None,
                _ => return Err("give both \"from_wallet\" and \"to_wallet\", or neither".into()),
            };
            movement(build::transfer(key, &from_client, &to_client, wallets, &asset, amount))
        }
        Line::Fee { key, client, client_wallet, firm_wallet, asset, amount } => {
            movement(build::fee(key, &client, &client_wallet, &firm_wallet, &asset, amount))
        }
        Line::Rebalance { key, from_wallet, to_wallet, asset, amount } => {
            movement(build::rebalance(key, &from_wallet, &to_wallet, &asset, amount))
        }
        Line::Loss { key, client, wallet, asset, amount } => movement(build::loss(key, &client, &wallet, &asset, amount)),
        Line::Compensation { key, client, client_wallet, firm_wallet, asset, amount } => {
            movement(build::compensation(key, &client, &client_wallet, &firm_wallet, &asset, amount))
        }
        Line::FirmFunding { key, wallet, asset, amount } => movement(build::firm_funding(key, &wallet, &asset, amount)),
        Line::FirmWithdrawal { key, wallet, asset, amount } => movement(build::firm_withdrawal(key, &wallet, &asset, amount)),
        Line::Correction { key, corrects } => {
            let meta = meta(key.as_str())?;
            Ok(Parsed::Correction { meta, key, corrects })
        }
        Line::Movement { key, kind, postings, corrects } => {
            if postings.len() > ringfence_core::POSTINGS_MAX {
                return Err(format!("{} postings; a movement has at most {}", postings.len(), ringfence_core::POSTINGS_MAX));
            }
            let postings = postings
                .into_iter()
                .enumerate()
                .map(|(index, p)| {
                    let account = parse_account(&p.account).map_err(|e| format!("posting {}: {e}", index + 1))?;
                    Ok(Posting { side: p.side, account, asset: p.asset, amount: p.amount })
                })
                .collect::<Result<Vec<_>, String>>()?;
            movement(Movement { key, kind, postings, corrects })
        }
        Line::Reward { key, client, wallet, asset, amount } => {
            let mut reward = build::deposit(key, &client, &wallet, &asset, amount);
            reward.kind = MovementKind::Reward;
            movement(reward)
        }
        Line::SafeguardingPolicy(text) => safeguard(meta("policy:safeguarding")?, SafeguardAction::SetPolicy(text.into_policy()?)),
        Line::ClientInstruction(text) => {
            // Recording a client's instruction executes that instruction.
            let meta = meta(text.id().as_str())?;
            let instruction = text.into_instruction(meta.effective_at);
            safeguard(meta, SafeguardAction::RecordInstruction(instruction))
        }
        Line::InstructionRevocation { id } => safeguard(meta(&format!("revocation:{id}"))?, SafeguardAction::RevokeInstruction { id }),
        Line::Encumbrance { key, amount } => {
            let instruction = client_instruction("an encumbrance names the client instruction it is under in \"instruction\"")?;
            safeguard(meta(key.as_str())?, SafeguardAction::Encumber { key, instruction, amount })
        }
        Line::Release { key, amount } => {
            let instruction = client_instruction("a release names the client instruction it releases from in \"instruction\"")?;
            safeguard(meta(key.as_str())?, SafeguardAction::Release { key, instruction, amount })
        }
        Line::RiskAssessment(text) => {
            let assessment = text.into_assessment()?;
            safeguard(meta(&format!("assessment:{}", assessment.id))?, SafeguardAction::RecordRiskAssessment(assessment))
        }
        Line::Institution(text) => {
            let institution = text.into_institution();
            safeguard(meta(&format!("register:{}", institution.id))?, SafeguardAction::RegisterInstitution(institution))
        }
        Line::FiatAccount(text) => {
            let account = text.into_account();
            safeguard(meta(&format!("register:{}", account.id))?, SafeguardAction::RegisterFiatAccount(account))
        }
        Line::FiatReceipt { key, client, currency, amount } => {
            safeguard(meta(key.as_str())?, SafeguardAction::ReceiveFiat(FiatReceipt { key, client, currency, amount }))
        }
        Line::FiatPlacement { key, receipt, account, amount } => {
            safeguard(meta(key.as_str())?, SafeguardAction::PlaceFiat(FiatPlacement { key, receipt, account, amount }))
        }
        Line::FiatWithdrawal { key, client, account, amount } => {
            safeguard(meta(key.as_str())?, SafeguardAction::WithdrawFiat(FiatWithdrawal { key, client, account, amount }))
        }
        Line::SafeguardingCheck {} => safeguard(meta("safeguarding-check")?, SafeguardAction::Check),
        Line::Price { asset, currency, price: (units, scale), source } => {
            let currency = currency.unwrap_or(DEFAULT_CURRENCY);
            let price = ringfence_core::Price { asset, currency, units, scale, source };
            if let Some(problem) = price.problem() {
                return Err(problem);
            }
            let label = price_instruction(&price);
            Ok(Parsed::Ready(Command { meta: meta(&label)?, action: Action::RecordPrice(price) }))
        }
        Line::InstitutionReview { institution, evidence } => {
            safeguard(meta(&format!("review:{institution}"))?, SafeguardAction::ReviewInstitution { institution, evidence })
        }
    }
}

fn wallet_of(text: WalletText) -> Result<Wallet, String> {
    let WalletText { id, address, class, client, tier, sub_custodian, key_set } = text;
    let class = match (class, client) {
        (ClassKind::ClientIndividual, Some(client)) => WalletClass::ClientIndividual(client),
        (ClassKind::ClientIndividual, None) => {
            return Err("a client_individual wallet needs \"client\": the client it belongs to".into());
        }
        (ClassKind::ClientOmnibus, None) => WalletClass::ClientOmnibus,
        (ClassKind::Firm, None) => WalletClass::Firm,
        (_, Some(_)) => return Err("only a client_individual wallet names a \"client\"".into()),
    };
    let custodian = sub_custodian.map_or(Custodian::InHouse, Custodian::SubCustodian);
    Ok(Wallet { id, address, class, tier, custodian, key_set })
}

/// serde_json's message, without its own "at line 1 column N" (we report the file's line).
fn describe_json_error(error: &serde_json::Error) -> String {
    let message = error.to_string();
    let message = match message.rfind(" at line ") {
        Some(index) => message[..index].to_owned(),
        None => message,
    };
    match error.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
            format!("not valid JSON: {message} (column {})", error.column())
        }
        _ => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Defaults {
        Defaults { actor: Actor::parse("tester").unwrap(), effective_at: Timestamp::from_micros(0) }
    }

    fn error(line: &str) -> String {
        parse_line(line, &defaults()).unwrap_err()
    }

    const ETH: &str = "eip155:1/slip44:60";

    /// The general path, item by item, as the batch route takes it.
    fn general(items: &[serde_json::Value]) -> Vec<Result<Parsed, String>> {
        items
            .iter()
            .map(|item| match item.clone() {
                serde_json::Value::Object(object) => parse_object(object, &defaults()),
                _ => Err("not an object".into()),
            })
            .collect()
    }

    fn fast(items: &[serde_json::Value]) -> Option<Vec<Parsed>> {
        parse_movement_batch(serde_json::to_string(items).unwrap().as_bytes(), &defaults())
    }

    #[test]
    fn the_fast_batch_path_reads_what_the_general_path_reads_and_nothing_else() {
        let eth = ETH;
        let items: Vec<serde_json::Value> = vec![
            serde_json::json!({"type": "deposit", "key": "d-1", "client": "c1", "wallet": "hot", "asset": eth, "amount": "1500"}),
            serde_json::json!({"type": "deposit", "key": "d-2", "client": "c2", "wallet": "hot", "asset": eth, "amount": 7, "instruction": "req-9", "effective_at": "2026-03-01"}),
            serde_json::json!({"type": "withdrawal", "key": "w-1", "client": "c1", "wallet": "hot", "asset": eth, "amount": "5", "instruction": null}),
            serde_json::json!({"type": "transfer", "key": "t-1", "from_client": "c1", "to_client": "c2", "asset": eth, "amount": "1"}),
            serde_json::json!({"type": "transfer", "key": "t-2", "from_client": "c1", "to_client": "c2", "from_wallet": "w1", "to_wallet": "w2", "asset": eth, "amount": "1", "effective_at": "2026-03-01T10:00:00+01:00"}),
            serde_json::json!({"type": "fee", "key": "f-1", "client": "c1", "client_wallet": "hot", "firm_wallet": "firm", "asset": eth, "amount": "2"}),
            serde_json::json!({"type": "rebalance", "key": "r-1", "from_wallet": "hot", "to_wallet": "cold", "asset": eth, "amount": "3"}),
        ];
        let expected: Vec<Parsed> = general(&items).into_iter().map(Result::unwrap).collect();
        assert_eq!(fast(&items), Some(expected));
        // Anything the fast path does not read exactly as the general path goes down the
        // general path (None), whether the general path accepts it or not.
        let deposit = |field: &str, value: serde_json::Value| {
            let mut item = items[0].clone();
            item[field] = value;
            item
        };
        for (why, item) in [
            ("an actor", deposit("actor", serde_json::json!("ops:mallory"))),
            ("an unknown field", deposit("colour", serde_json::json!("red"))),
            ("a field of another type", deposit("from_wallet", serde_json::json!("w1"))),
            ("a required field null", deposit("client", serde_json::Value::Null)),
            ("a bad amount", deposit("amount", serde_json::json!("-1"))),
            ("another type", deposit("type", serde_json::json!("firm_funding"))),
            ("a correction", serde_json::json!({"type": "correction", "key": "c-1", "corrects": "d-1"})),
            (
                "one wallet of a transfer",
                serde_json::json!({"type": "transfer", "key": "t-3", "from_client": "c1", "to_client": "c2", "from_wallet": "w1", "asset": eth, "amount": "1"}),
            ),
            ("not an object", serde_json::json!(42)),
        ] {
            let batch = vec![items[0].clone(), item];
            assert_eq!(fast(&batch), None, "{why}");
        }
        // A field given twice: the general path keeps the last; the fast path leaves it to it.
        let twice =
            br#"[{"type":"deposit","key":"d-1","client":"c1","client":"c2","wallet":"hot","asset":"eip155:1/slip44:60","amount":"1"}]"#;
        assert_eq!(parse_movement_batch(twice, &defaults()), None);
        assert_eq!(parse_movement_batch(b"{}", &defaults()), None, "not an array");
        // An escaped character reads the same on both paths.
        let escaped = r#"{"type":"deposit","key":"d-9","client":"c\u0031","wallet":"hot","asset":"eip155:1/slip44:60","amount":"1"}"#;
        let general = parse_line(escaped, &defaults()).unwrap();
        assert_eq!(parse_movement_batch(format!("[{escaped}]").as_bytes(), &defaults()), Some(vec![general]));
    }

    #[test]
    fn a_deposit_line_becomes_a_balanced_deposit() {
        let line = format!(
            r#"{{"type":"deposit","key":"d1","client":"c1","wallet":"w1","asset":"{ETH}","amount":"1500","actor":"ops:alice","effective_at":"2026-03-01T10:00:00+01:00"}}"#
        );
        let Parsed::Ready(command) = parse_line(&line, &defaults()).unwrap() else { panic!("not ready") };
        assert_eq!(command.meta.actor.as_str(), "ops:alice");
        assert_eq!(command.meta.instruction.as_str(), "d1");
        assert_eq!(command.meta.effective_at, clock::parse("2026-03-01T09:00:00Z").unwrap());
        let Action::Movement(movement) = command.action else { panic!("not a movement") };
        assert_eq!(movement.postings.len(), 2);
    }

    #[test]
    fn malformed_amounts_are_named() {
        let with = |amount: &str| {
            error(&format!(r#"{{"type":"deposit","key":"d1","client":"c1","wallet":"w1","asset":"{ETH}","amount":{amount}}}"#))
        };
        assert!(with("-5").contains("negative"), "{}", with("-5"));
        assert!(with("\"-5\"").contains("negative"));
        assert!(with("1.5").contains("fraction"), "{}", with("1.5"));
        assert!(with("\"1.5\"").contains("fraction"));
        assert!(with("\"340282366920938463463374607431768211456\"").contains("larger than the largest"));
        assert!(with("340282366920938463463374607431768211456").contains("string of digits"));
        assert!(with("\"12a\"").contains("digits"));
    }

    #[test]
    fn a_byte_order_mark_before_the_first_line_is_not_content() {
        let line = format!("\u{feff}{{\"type\":\"asset\",\"id\":\"{ETH}\",\"scale\":18}}");
        assert!(parse_line(&line, &defaults()).is_ok());
    }

    #[test]
    fn an_optional_field_given_as_null_counts_as_left_out() {
        let line = r#"{"type":"asset","id":"eip155:1/slip44:60","scale":18,"symbol":null}"#;
        match parse_line(line, &defaults()).unwrap() {
            Parsed::Ready(Command { action: Action::RegisterAsset(asset), .. }) => assert_eq!(asset.symbol, ""),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_fields_types_and_bad_json_are_named() {
        assert!(
            error(r#"{"type":"client","id":"c1","category":"retail","segregation":"omnibus","colour":"red"}"#)
                .contains("unknown field `colour`")
        );
        assert!(error(r#"{"type":"spaceship"}"#).contains("unknown variant `spaceship`"));
        assert!(error(r#"{"type":"client","id":"c1","category":"retail""#).contains("not valid JSON"));
        assert!(error(r#"{"type":"client","id":"c 1","category":"retail","segregation":"omnibus"}"#).contains("client id"));
        assert!(error(r#"{"type":"client","id":"c1","category":"retail"}"#).contains("missing field `segregation`"));
        assert!(error(r#"{"type":"asset","id":"ETH","scale":18}"#).contains("CAIP-19"));
    }

    fn command(line: &str) -> Command {
        match parse_line(line, &defaults()) {
            Ok(Parsed::Ready(command)) => command,
            other => panic!("{line}: {other:?}"),
        }
    }

    fn safeguard_action(line: &str) -> (Meta, SafeguardAction) {
        match command(line) {
            Command { meta, action: Action::Safeguard(action) } => (meta, action),
            other => panic!("{line}: {other:?}"),
        }
    }

    fn time(text: &str) -> Timestamp {
        clock::parse(text).unwrap()
    }

    fn key(text: &str) -> IdempotencyKey {
        IdempotencyKey::parse(text).unwrap()
    }

    fn instruction_id(text: &str) -> InstructionId {
        InstructionId::parse(text).unwrap()
    }

    #[test]
    fn a_safeguarding_policy_line_left_empty_is_the_default_policy() {
        let (meta, action) = safeguard_action(r#"{"type":"safeguarding_policy"}"#);
        assert_eq!(action, SafeguardAction::SetPolicy(ringfence_core::SafeguardingPolicy::default()));
        assert_eq!(action.code(), "safeguarding_policy");
        assert_eq!(meta.instruction.as_str(), "policy:safeguarding");
    }

    #[test]
    fn a_safeguarding_policy_line_sets_every_field() {
        let usdc = "eip155:1/erc20:0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48";
        let line = format!(
            r#"{{"type":"safeguarding_policy","own_account_use":"express_consent","cold_floor":"85.5","cold_floors":{{"{usdc}":60,"{ETH}":"90.25"}},"lapse_notice_days":45,"closing_days":["2026-12-31","2026-12-24"],"concentration_limit":40,"cold_floor_categories":["retail","professional"],"recon_max_gap_hours":48,"institution_review_days":180,"statement_interval_days":31}}"#
        );
        let expected = ringfence_core::SafeguardingPolicy {
            own_account_use: ringfence_core::OwnAccountUse::ExpressConsent,
            cold_floor_bp: 8550,
            cold_floors: {
                let mut floors = vec![(AssetId::parse(ETH).unwrap(), 9025), (AssetId::parse(usdc).unwrap(), 6000)];
                floors.sort_by(|a, b| a.0.cmp(&b.0));
                floors
            },
            lapse_notice_days: 45,
            closing_days: vec!["2026-12-24".parse().unwrap(), "2026-12-31".parse().unwrap()],
            concentration_limit_bp: 4000,
            cold_floor_categories: vec![ringfence_core::ClientCategory::Retail, ringfence_core::ClientCategory::Professional],
            recon_max_gap_hours: 48,
            institution_review_days: 180,
            statement_interval_days: 31,
        };
        assert_eq!(safeguard_action(&line).1, SafeguardAction::SetPolicy(expected.clone()));
        // The same fields, as the HTTP API would pass them, give the same policy.
        let mut body: serde_json::Value = serde_json::from_str(&line).unwrap();
        body.as_object_mut().unwrap().remove("type");
        assert_eq!(safeguarding_policy_from_json(body), Ok(expected));
    }

    #[test]
    fn percentages_take_at_most_two_decimals_from_0_to_100() {
        let floor = |written: &str| safeguarding_policy_from_json(serde_json::from_str(&format!(r#"{{"cold_floor":{written}}}"#)).unwrap());
        for (written, bp) in
            [("80", 8000), ("\"80\"", 8000), ("\"80.25\"", 8025), ("80.5", 8050), ("\"100\"", 10_000), ("0", 0), ("\"0.01\"", 1)]
        {
            assert_eq!(floor(written).map(|policy| policy.cold_floor_bp), Ok(bp), "{written}");
        }
        for (written, why) in [
            ("\"100.01\"", "above 100 %"),
            ("101", "above 100 %"),
            ("\"1000\"", "above 100 %"),
            ("\"-1\"", "negative"),
            ("-1", "negative"),
            ("\"1.234\"", "more than 2 decimals"),
            ("1.234", "more than 2 decimals"),
            ("\"80.\"", "not a percentage"),
            ("\" 80\"", "not a percentage"),
            ("\"eighty\"", "not a percentage"),
        ] {
            let message = floor(written).unwrap_err();
            assert!(message.starts_with("cold_floor ") && message.contains(why), "{written}: {message}");
        }
        let message = safeguarding_policy_from_json(serde_json::json!({"concentration_limit": "100.5"})).unwrap_err();
        assert!(message.starts_with("concentration_limit "), "{message}");
        let message = safeguarding_policy_from_json(serde_json::json!({"cold_floors": {ETH: "-5"}})).unwrap_err();
        assert!(message.starts_with(&format!("cold_floors {ETH} ")), "{message}");
        let message = safeguarding_policy_from_json(serde_json::json!({"cold_floor": true})).unwrap_err();
        assert!(message.contains("a percentage from 0 to 100"), "{message}");
    }

    #[test]
    fn closing_days_must_be_dates_each_given_once() {
        assert!(error(r#"{"type":"safeguarding_policy","closing_days":["2026-12-24","2026-12-24"]}"#).contains("2026-12-24 twice"));
        assert!(error(r#"{"type":"safeguarding_policy","closing_days":["2026-02-30"]}"#).contains("closing_days: date"));
        assert!(error(r#"{"type":"safeguarding_policy","cold_floors":{"ETH":80}}"#).contains("cold_floors: "));
    }

    #[test]
    fn a_client_instruction_line_records_the_instruction() {
        let line = format!(
            r#"{{"type":"client_instruction","id":"ci-7","client":"c1","asset":"{ETH}","purpose":"staking","max_amount":"5000","valid_until":"2027-01-01","evidence":"sha256:ab12","effective_at":"2026-03-01T00:00:00Z"}}"#
        );
        let (meta, action) = safeguard_action(&line);
        assert_eq!(meta.instruction.as_str(), "ci-7");
        let expected = ringfence_core::ClientInstruction {
            id: instruction_id("ci-7"),
            client: ClientId::parse("c1").unwrap(),
            asset: AssetId::parse(ETH).unwrap(),
            purpose: ringfence_core::Purpose::Staking,
            beneficiary: ringfence_core::Beneficiary::Client,
            max_amount: Amount::new(5000),
            valid_from: time("2026-03-01T00:00:00Z"),
            valid_until: clock::parse_end("2027-01-01").unwrap(),
            revocable: true,
            evidence: "sha256:ab12".into(),
            consent: ringfence_core::Consent::Unstated,
        };
        assert_eq!(action, SafeguardAction::RecordInstruction(expected.clone()));
        let line = format!(
            r#"{{"type":"client_instruction","id":"ci-7","client":"c1","asset":"{ETH}","purpose":"lending","beneficiary":"firm","max_amount":5000,"valid_from":"2026-04-01","valid_until":"2027-01-01","revocable":false,"evidence":"sha256:ab12"}}"#
        );
        let firm = ringfence_core::ClientInstruction {
            purpose: ringfence_core::Purpose::Lending,
            beneficiary: ringfence_core::Beneficiary::Firm,
            valid_from: time("2026-04-01"),
            revocable: false,
            ..expected
        };
        assert_eq!(safeguard_action(&line).1, SafeguardAction::RecordInstruction(firm.clone()));
        // The consent's kind, when the line states it.
        let signed = line.replace("\"evidence\"", "\"consent\":\"separate_agreement\",\"evidence\"");
        let expected = ringfence_core::ClientInstruction { consent: ringfence_core::Consent::SeparateAgreement, ..firm };
        assert_eq!(safeguard_action(&signed).1, SafeguardAction::RecordInstruction(expected));
        assert!(error(&line.replace("\"evidence\"", "\"consent\":\"a handshake\",\"evidence\"")).contains("unknown variant"));
        assert!(error(&line.replace("lending", "speculation")).contains("unknown variant `speculation`"));
        assert!(error(&line.replace("\"valid_until\":\"2027-01-01\"", "\"valid_until\":\"2027-01-01T00:00\"")).contains("RFC 3339"));
    }

    #[test]
    fn revocation_encumbrance_and_release_lines_name_the_instruction() {
        let (meta, action) = safeguard_action(r#"{"type":"instruction_revocation","id":"ci-7"}"#);
        assert_eq!(action, SafeguardAction::RevokeInstruction { id: instruction_id("ci-7") });
        assert_eq!(meta.instruction.as_str(), "revocation:ci-7");
        let (meta, action) = safeguard_action(r#"{"type":"encumbrance","key":"enc-1","instruction":"ci-7","amount":"300"}"#);
        assert_eq!(action, SafeguardAction::Encumber { key: key("enc-1"), instruction: instruction_id("ci-7"), amount: Amount::new(300) });
        assert_eq!(meta.instruction.as_str(), "ci-7");
        let (_, action) = safeguard_action(r#"{"type":"release","key":"rel-1","instruction":"ci-7","amount":"100"}"#);
        assert_eq!(action, SafeguardAction::Release { key: key("rel-1"), instruction: instruction_id("ci-7"), amount: Amount::new(100) });
        assert!(
            error(r#"{"type":"encumbrance","key":"enc-1","amount":"300"}"#).contains("client instruction it is under in \"instruction\"")
        );
        assert!(error(r#"{"type":"release","key":"rel-1","amount":"100"}"#).contains("client instruction it releases from"));
        assert!(error(r#"{"type":"encumbrance","key":"enc-1","instruction":"ci-7","amount":"-3"}"#).contains("negative"));
    }

    #[test]
    fn a_risk_assessment_line_takes_its_floor_as_a_percentage() {
        let line = format!(
            r#"{{"type":"risk_assessment","id":"ra-1","asset":"{ETH}","cold_floor":"70.5","valid_until":"2026-06-30","reason":"staking desk, memo RISK-12"}}"#
        );
        let (meta, action) = safeguard_action(&line);
        assert_eq!(meta.instruction.as_str(), "assessment:ra-1");
        let expected = ringfence_core::RiskAssessment {
            id: AssessmentId::parse("ra-1").unwrap(),
            asset: AssetId::parse(ETH).unwrap(),
            cold_floor_bp: 7050,
            valid_until: clock::parse_end("2026-06-30").unwrap(),
            reason: "staking desk, memo RISK-12".into(),
        };
        assert_eq!(action, SafeguardAction::RecordRiskAssessment(expected));
        assert!(error(&line.replace("\"70.5\"", "\"170\"")).starts_with("cold_floor \"170\" is above 100 %"));
    }

    #[test]
    fn institution_and_fiat_account_lines_register_them() {
        let (meta, action) = safeguard_action(
            r#"{"type":"institution","id":"nordbank","name":"Nordbank AG","kind":"credit_institution","reference":"NORDDEFFXXX"}"#,
        );
        assert_eq!(meta.instruction.as_str(), "register:nordbank");
        let institution = ringfence_core::Institution {
            id: InstitutionId::parse("nordbank").unwrap(),
            name: "Nordbank AG".into(),
            kind: ringfence_core::InstitutionKind::CreditInstitution,
            reference: "NORDDEFFXXX".into(),
        };
        assert_eq!(action, SafeguardAction::RegisterInstitution(institution));
        let (meta, action) = safeguard_action(
            r#"{"type":"fiat_account","id":"eur-1","institution":"nordbank","currency":"EUR","reference":"DE89370400440532013000"}"#,
        );
        assert_eq!(meta.instruction.as_str(), "register:eur-1");
        let account = ringfence_core::FiatAccount {
            id: FiatAccountId::parse("eur-1").unwrap(),
            institution: InstitutionId::parse("nordbank").unwrap(),
            currency: Currency::parse("EUR").unwrap(),
            class: ringfence_core::FiatAccountClass::ClientFunds,
            reference: "DE89370400440532013000".into(),
        };
        assert_eq!(action, SafeguardAction::RegisterFiatAccount(account.clone()));
        let (_, action) = safeguard_action(
            r#"{"type":"fiat_account","id":"eur-1","institution":"nordbank","currency":"EUR","class":"firm","reference":"DE89370400440532013000"}"#,
        );
        assert_eq!(
            action,
            SafeguardAction::RegisterFiatAccount(ringfence_core::FiatAccount { class: ringfence_core::FiatAccountClass::Firm, ..account })
        );
        assert!(
            error(r#"{"type":"fiat_account","id":"eur-1","institution":"nordbank","currency":"eur","reference":"x"}"#).contains("ISO 4217")
        );
    }

    #[test]
    fn fiat_receipt_placement_and_withdrawal_lines_become_fiat_events() {
        let (meta, action) = safeguard_action(r#"{"type":"fiat_receipt","key":"rcv-1","client":"c1","currency":"EUR","amount":"125000"}"#);
        assert_eq!(meta.instruction.as_str(), "rcv-1");
        let receipt = FiatReceipt {
            key: key("rcv-1"),
            client: ClientId::parse("c1").unwrap(),
            currency: Currency::parse("EUR").unwrap(),
            amount: Amount::new(125_000),
        };
        assert_eq!(action, SafeguardAction::ReceiveFiat(receipt));
        let (_, action) =
            safeguard_action(r#"{"type":"fiat_placement","key":"plc-1","receipt":"rcv-1","account":"eur-1","amount":"125000"}"#);
        let placement = FiatPlacement {
            key: key("plc-1"),
            receipt: key("rcv-1"),
            account: FiatAccountId::parse("eur-1").unwrap(),
            amount: Amount::new(125_000),
        };
        assert_eq!(action, SafeguardAction::PlaceFiat(placement));
        let (_, action) = safeguard_action(r#"{"type":"fiat_withdrawal","key":"fwd-1","client":"c1","account":"eur-1","amount":"5000"}"#);
        let withdrawal = FiatWithdrawal {
            key: key("fwd-1"),
            client: ClientId::parse("c1").unwrap(),
            account: FiatAccountId::parse("eur-1").unwrap(),
            amount: Amount::new(5000),
        };
        assert_eq!(action, SafeguardAction::WithdrawFiat(withdrawal));
        assert!(error(r#"{"type":"fiat_receipt","key":"rcv-1","client":"c1","currency":"EUR","amount":"12.50"}"#).contains("fraction"));
    }

    #[test]
    fn a_safeguarding_check_line_has_no_fields() {
        let (meta, action) = safeguard_action(r#"{"type":"safeguarding_check","actor":"compliance:jan"}"#);
        assert_eq!(action, SafeguardAction::Check);
        assert_eq!(meta.instruction.as_str(), "safeguarding-check");
        assert!(error(r#"{"type":"safeguarding_check","now":"2026-03-01"}"#).contains("unknown field `now`"));
    }

    #[test]
    fn a_reward_accrues_under_the_instruction_the_line_names() {
        let line =
            format!(r#"{{"type":"reward","key":"rwd-1","client":"c1","wallet":"w1","asset":"{ETH}","amount":"42","instruction":"ci-7"}}"#);
        let command = command(&line);
        assert_eq!(command.meta.instruction.as_str(), "ci-7");
        let mut expected = build::deposit(
            key("rwd-1"),
            &ClientId::parse("c1").unwrap(),
            &WalletId::parse("w1").unwrap(),
            &AssetId::parse(ETH).unwrap(),
            Amount::new(42),
        );
        expected.kind = MovementKind::Reward;
        assert_eq!(command.action, Action::Movement(expected));
        let explicit = format!(
            r#"{{"type":"movement","key":"rwd-1","kind":"reward","postings":[{{"side":"debit","account":"holding:w1","asset":"{ETH}","amount":"42"}},{{"side":"credit","account":"position:c1","asset":"{ETH}","amount":"42"}}],"instruction":"ci-7"}}"#
        );
        assert_eq!(self::command(&explicit), command);
    }

    #[test]
    fn a_reward_without_instruction_is_refused() {
        let line = format!(r#"{{"type":"reward","key":"rwd-1","client":"c1","wallet":"w1","asset":"{ETH}","amount":"42"}}"#);
        assert_eq!(error(&line), REWARD_WITHOUT_INSTRUCTION);
        let explicit = format!(
            r#"{{"type":"movement","key":"rwd-1","kind":"reward","postings":[{{"side":"debit","account":"holding:w1","asset":"{ETH}","amount":"42"}},{{"side":"credit","account":"position:c1","asset":"{ETH}","amount":"42"}}]}}"#
        );
        assert_eq!(error(&explicit), REWARD_WITHOUT_INSTRUCTION);
    }

    #[test]
    fn safeguarding_lines_refuse_unknown_fields() {
        for line in [
            r#"{"type":"safeguarding_policy","cold_floor_bp":8000}"#.to_owned(),
            format!(
                r#"{{"type":"client_instruction","id":"ci-7","client":"c1","asset":"{ETH}","purpose":"staking","max_amount":"5","valid_until":"2027-01-01","evidence":"e","colour":"red"}}"#
            ),
            r#"{"type":"instruction_revocation","id":"ci-7","colour":"red"}"#.to_owned(),
            r#"{"type":"encumbrance","key":"e1","instruction":"ci-7","amount":"1","colour":"red"}"#.to_owned(),
            r#"{"type":"release","key":"r1","instruction":"ci-7","amount":"1","colour":"red"}"#.to_owned(),
            format!(
                r#"{{"type":"risk_assessment","id":"ra-1","asset":"{ETH}","cold_floor":70,"valid_until":"2026-06-30","reason":"r","colour":"red"}}"#
            ),
            r#"{"type":"institution","id":"b","name":"B","kind":"central_bank","reference":"r","colour":"red"}"#.to_owned(),
            r#"{"type":"fiat_account","id":"a","institution":"b","currency":"EUR","reference":"r","colour":"red"}"#.to_owned(),
            r#"{"type":"fiat_receipt","key":"k","client":"c1","currency":"EUR","amount":"1","colour":"red"}"#.to_owned(),
            r#"{"type":"fiat_placement","key":"k","receipt":"r","account":"a","amount":"1","colour":"red"}"#.to_owned(),
            r#"{"type":"fiat_withdrawal","key":"k","client":"c1","account":"a","amount":"1","colour":"red"}"#.to_owned(),
            r#"{"type":"safeguarding_check","colour":"red"}"#.to_owned(),
            format!(r#"{{"type":"price","asset":"{ETH}","price":"1","source":"s","colour":"red"}}"#),
            format!(
                r#"{{"type":"reward","key":"k","client":"c1","wallet":"w1","asset":"{ETH}","amount":"1","instruction":"ci-7","colour":"red"}}"#
            ),
        ] {
            let message = error(&line);
            let expected = if line.contains("cold_floor_bp") { "unknown field `cold_floor_bp`" } else { "unknown field `colour`" };
            assert!(message.contains(expected), "{line}: {message}");
        }
    }

    #[test]
    fn a_price_line_records_a_price_at_its_effective_time() {
        let line = format!(r#"{{"type":"price","asset":"{ETH}","price":"3012.450","source":"ecb","effective_at":"2026-03-31T16:00:00Z"}}"#);
        let Command { meta, action } = command(&line);
        let expected = ringfence_core::Price {
            asset: AssetId::parse(ETH).unwrap(),
            currency: Currency::EUR,
            units: 301_245,
            scale: 2,
            source: "ecb".into(),
        };
        assert_eq!(action, Action::RecordPrice(expected));
        assert_eq!(meta.effective_at, time("2026-03-31T16:00:00Z"));
        assert_eq!(meta.instruction.as_str(), format!("price:{ETH}:EUR"));
        let yen = command(&format!(r#"{{"type":"price","asset":"{ETH}","currency":"JPY","price":"452000","source":"s"}}"#));
        assert!(matches!(yen.action, Action::RecordPrice(p) if p.currency.as_str() == "JPY" && p.units == 452_000 && p.scale == 0));
        for (bad, words) in [
            (format!(r#"{{"type":"price","asset":"{ETH}","price":3012.45,"source":"s"}}"#), "not a JSON number"),
            (format!(r#"{{"type":"price","asset":"{ETH}","price":"0","source":"s"}}"#), "zero"),
            (format!(r#"{{"type":"price","asset":"{ETH}","price":"-1","source":"s"}}"#), "not a decimal number"),
            (format!(r#"{{"type":"price","asset":"{ETH}","price":"1e3","source":"s"}}"#), "not a decimal number"),
            (format!(r#"{{"type":"price","asset":"{ETH}","currency":"eur","price":"1","source":"s"}}"#), "ISO 4217"),
            (format!(r#"{{"type":"price","asset":"{ETH}","price":"1","source":""}}"#), "without a source"),
            (format!(r#"{{"type":"price","asset":"{ETH}","price":"1"}}"#), "missing field `source`"),
        ] {
            let message = error(&bad);
            assert!(message.contains(words), "{bad}: {message}");
        }
    }
}
