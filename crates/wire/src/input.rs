//! The JSON Lines input format of `ringfence import`: one entity registration or movement per
//! line, parsed strictly (unknown fields, negative or fractional amounts, amounts beyond
//! u128 and malformed identifiers are errors naming the line) into core commands.
//! The format is documented in docs/import-format.md.

use ringfence_core::{
    Account, Action, Actor, Address, Amount, ApprovalPolicy, Asset, AssetId, AuthorisationBasis, ClassKind, Client, ClientCategory,
    ClientId, Command, Custodian, IdempotencyKey, InstructionId, KeyScheme, KeySet, KeySetId, Meta, Movement, MovementKind, OwnAccount,
    Posting, Segregation, Side, SubCustodian, SubCustodianId, Tier, Timestamp, Wallet, WalletClass, WalletId, build,
};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::clock;

/// The longest line accepted, in bytes.
pub const LINE_LENGTH_MAX: usize = 64 * 1024;

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
fn optional_actor<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Actor>, D::Error> {
    optional_id(d, Actor::parse)
}
fn optional_instruction<'de, D: Deserializer<'de>>(d: D) -> Result<Option<InstructionId>, D::Error> {
    optional_id(d, InstructionId::parse)
}
fn optional_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
    optional_id(d, clock::parse)
}
fn time_field<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
    parsed(d, clock::parse)
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
#[serde(rename_all = "snake_case")]
enum CategoryText {
    Retail,
    Professional,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum SegregationText {
    Individual,
    Omnibus,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum BasisText {
    MicaCasp,
    CrrCreditInstitution,
    Art60Entity,
    ThirdCountryEquivalent,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum SchemeText {
    Multisig,
    Mpc,
    Hsm,
}

#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum ClassText {
    ClientIndividual,
    ClientOmnibus,
    Firm,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum TierText {
    Hot,
    Cold,
}

#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum KindText {
    Deposit,
    Withdrawal,
    Transfer,
    Fee,
    Rebalance,
    FirmFunding,
    FirmWithdrawal,
    Correction,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum SideText {
    Debit,
    Credit,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PostingText {
    side: SideText,
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
    class: ClassText,
    #[serde(default, deserialize_with = "optional_client")]
    client: Option<ClientId>,
    tier: TierText,
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
        category: CategoryText,
        segregation: SegregationText,
    },
    SubCustodian {
        #[serde(deserialize_with = "sub_custodian_id")]
        id: SubCustodianId,
        #[serde(deserialize_with = "bounded_text")]
        name: String,
        basis: BasisText,
        #[serde(deserialize_with = "bounded_text")]
        reference: String,
        #[serde(deserialize_with = "time_field")]
        valid_until: Timestamp,
    },
    SubCustodianAuthorisation {
        #[serde(deserialize_with = "sub_custodian_id")]
        id: SubCustodianId,
        #[serde(deserialize_with = "bounded_text")]
        reference: String,
        #[serde(deserialize_with = "time_field")]
        valid_until: Timestamp,
    },
    KeySet {
        #[serde(deserialize_with = "key_set_id")]
        id: KeySetId,
        scheme: SchemeText,
        #[serde(default)]
        threshold: Option<u8>,
        signers: Vec<String>,
        class: ClassText,
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
        kind: KindText,
        postings: Vec<PostingText>,
        #[serde(default, deserialize_with = "optional_id_key")]
        corrects: Option<IdempotencyKey>,
    },
}

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

/// Defaults for fields a line leaves out.
#[derive(Debug, Clone)]
pub struct Defaults {
    pub actor: Actor,
    pub effective_at: Timestamp,
}

fn class_kind(class: ClassText) -> ClassKind {
    match class {
        ClassText::ClientIndividual => ClassKind::ClientIndividual,
        ClassText::ClientOmnibus => ClassKind::ClientOmnibus,
        ClassText::Firm => ClassKind::Firm,
    }
}

fn movement_kind(kind: KindText) -> MovementKind {
    match kind {
        KindText::Deposit => MovementKind::Deposit,
        KindText::Withdrawal => MovementKind::Withdrawal,
        KindText::Transfer => MovementKind::Transfer,
        KindText::Fee => MovementKind::Fee,
        KindText::Rebalance => MovementKind::Rebalance,
        KindText::FirmFunding => MovementKind::FirmFunding,
        KindText::FirmWithdrawal => MovementKind::FirmWithdrawal,
        KindText::Correction => MovementKind::Correction,
    }
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
    let mut value: serde_json::Value = serde_json::from_str(text).map_err(|e| describe_json_error(&e))?;
    let Some(object) = value.as_object_mut() else {
        return Err("each line must be a JSON object, such as {\"type\": \"deposit\", …}".into());
    };
    let mut common_fields = serde_json::Map::new();
    for field in ["actor", "instruction", "effective_at"] {
        if let Some(field_value) = object.remove(field) {
            common_fields.insert(field.to_owned(), field_value);
        }
    }
    let common: Common = serde_json::from_value(serde_json::Value::Object(common_fields)).map_err(|e| describe_json_error(&e))?;
    let line = Line::deserialize(value).map_err(|e| describe_json_error(&e))?;
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
        Ok(Parsed::Ready(Command { meta: meta(movement.key.as_str())?, action: Action::Movement(movement) }))
    };
    match line {
        Line::Asset { id, scale, symbol } => {
            let name = id.to_string();
            registration(&name, Action::RegisterAsset(Asset { id, scale, symbol: symbol.unwrap_or_default() }))
        }
        Line::Client { id, category, segregation } => {
            let name = id.to_string();
            let category = match category {
                CategoryText::Retail => ClientCategory::Retail,
                CategoryText::Professional => ClientCategory::Professional,
            };
            let segregation = match segregation {
                SegregationText::Individual => Segregation::Individual,
                SegregationText::Omnibus => Segregation::Omnibus,
            };
            registration(&name, Action::RegisterClient(Client { id, category, segregation }))
        }
        Line::SubCustodian { id, name, basis, reference, valid_until } => {
            let label = id.to_string();
            let basis = match basis {
                BasisText::MicaCasp => AuthorisationBasis::MicaCasp,
                BasisText::CrrCreditInstitution => AuthorisationBasis::CrrCreditInstitution,
                BasisText::Art60Entity => AuthorisationBasis::Art60Entity,
                BasisText::ThirdCountryEquivalent => AuthorisationBasis::ThirdCountryEquivalent,
            };
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
                (SchemeText::Multisig, Some(threshold)) => KeyScheme::Multisig { threshold },
                (SchemeText::Mpc, Some(threshold)) => KeyScheme::Mpc { threshold },
                (SchemeText::Hsm, None) => KeyScheme::Hsm,
                (SchemeText::Hsm, Some(_)) => return Err("an hsm key set has no threshold; leave \"threshold\" out".into()),
                (_, None) => return Err("a multisig or mpc key set needs \"threshold\" (m of the n signers)".into()),
            };
            if signers.len() > ringfence_core::entity::SIGNERS_MAX {
                return Err(format!("{} signers; a key set has at most {}", signers.len(), ringfence_core::entity::SIGNERS_MAX));
            }
            if let Some(long) = signers.iter().find(|s| s.len() > 256) {
                return Err(format!("signer name {long:?} is longer than 256 bytes"));
            }
            registration(&label, Action::RegisterKeySet(KeySet { id, scheme, signers, class: class_kind(class) }))
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
                    let side = match p.side {
                        SideText::Debit => Side::Debit,
                        SideText::Credit => Side::Credit,
                    };
                    Ok(Posting { side, account, asset: p.asset, amount: p.amount })
                })
                .collect::<Result<Vec<_>, String>>()?;
            movement(Movement { key, kind: movement_kind(kind), postings, corrects })
        }
    }
}

fn wallet_of(text: WalletText) -> Result<Wallet, String> {
    let WalletText { id, address, class, client, tier, sub_custodian, key_set } = text;
    let class = match (class, client) {
        (ClassText::ClientIndividual, Some(client)) => WalletClass::ClientIndividual(client),
        (ClassText::ClientIndividual, None) => {
            return Err("a client_individual wallet needs \"client\": the client it belongs to".into());
        }
        (ClassText::ClientOmnibus, None) => WalletClass::ClientOmnibus,
        (ClassText::Firm, None) => WalletClass::Firm,
        (_, Some(_)) => return Err("only a client_individual wallet names a \"client\"".into()),
    };
    let tier = match tier {
        TierText::Hot => Tier::Hot,
        TierText::Cold => Tier::Cold,
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
}
