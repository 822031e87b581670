//! Registered entities as `GET /v1/entities/{kind}` returns them (and a pending instruction
//! shows what it would register or change): the fields of their import-format line
//! (docs/import-format.md), codes as the import format spells them.

use ringfence_core::{
    ApiToken, AuthorisationBasis, ClassKind, Client, ClientCategory, Custodian, KeySchemeKind, KeySet, Segregation, SubCustodian, Tier,
    Wallet, WalletClass,
};
use serde::Serialize;
use utoipa::ToSchema;

use super::{AssetView, code};
use crate::clock;

/// A registered client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ClientView {
    pub id: String,
    #[serde(serialize_with = "code")]
    #[schema(value_type = crate::schema::ClientCategoryCode)]
    pub category: ClientCategory,
    #[serde(serialize_with = "code")]
    #[schema(value_type = crate::schema::SegregationCode)]
    pub segregation: Segregation,
}

impl ClientView {
    pub fn of(client: &Client) -> ClientView {
        ClientView { id: client.id.as_str().to_owned(), category: client.category, segregation: client.segregation }
    }
}

/// A registered wallet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct WalletView {
    pub id: String,
    /// CAIP-10: the chain and the address.
    pub address: String,
    #[serde(serialize_with = "code")]
    #[schema(value_type = crate::schema::ClassKindCode)]
    pub class: ClassKind,
    /// The client of a `client_individual` wallet; null otherwise.
    pub client: Option<String>,
    #[serde(serialize_with = "code")]
    #[schema(value_type = crate::schema::TierCode)]
    pub tier: Tier,
    /// The sub-custodian holding it; null when held in house.
    pub sub_custodian: Option<String>,
    pub key_set: String,
}

impl WalletView {
    pub fn of(wallet: &Wallet) -> WalletView {
        WalletView {
            id: wallet.id.as_str().to_owned(),
            address: wallet.address.as_str().to_owned(),
            class: wallet.class.kind(),
            client: match &wallet.class {
                WalletClass::ClientIndividual(client) => Some(client.as_str().to_owned()),
                _ => None,
            },
            tier: wallet.tier,
            sub_custodian: match &wallet.custodian {
                Custodian::InHouse => None,
                Custodian::SubCustodian(id) => Some(id.as_str().to_owned()),
            },
            key_set: wallet.key_set.as_str().to_owned(),
        }
    }
}

/// A registered key set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct KeySetView {
    pub id: String,
    #[serde(serialize_with = "code")]
    #[schema(value_type = crate::schema::KeySchemeKindCode)]
    pub scheme: KeySchemeKind,
    /// m of the n signers; null for `hsm`.
    pub threshold: Option<u8>,
    pub signers: Vec<String>,
    #[serde(serialize_with = "code")]
    #[schema(value_type = crate::schema::ClassKindCode)]
    pub class: ClassKind,
}

impl KeySetView {
    pub fn of(key_set: &KeySet) -> KeySetView {
        KeySetView {
            id: key_set.id.as_str().to_owned(),
            scheme: key_set.scheme.kind(),
            threshold: key_set.scheme.threshold(),
            signers: key_set.signers.clone(),
            class: key_set.class,
        }
    }
}

/// A registered sub-custodian and its authorisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SubCustodianEntityView {
    pub id: String,
    pub name: String,
    #[serde(serialize_with = "code")]
    #[schema(value_type = crate::schema::AuthorisationBasisCode)]
    pub basis: AuthorisationBasis,
    pub reference: String,
    pub valid_until: String,
}

impl SubCustodianEntityView {
    pub fn of(sub: &SubCustodian) -> SubCustodianEntityView {
        SubCustodianEntityView {
            id: sub.id.as_str().to_owned(),
            name: sub.name.clone(),
            basis: sub.basis,
            reference: sub.reference.clone(),
            valid_until: clock::format(sub.valid_until),
        }
    }
}

/// One registered entity of any kind (each kind has fields the others lack).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(untagged)]
pub enum EntityView {
    Asset(AssetView),
    Client(ClientView),
    Wallet(WalletView),
    KeySet(KeySetView),
    SubCustodian(SubCustodianEntityView),
    Institution(super::policy::InstitutionView),
    FiatAccount(super::policy::FiatAccountView),
    ClientInstruction(super::policy::InstructionView),
}

/// What `GET /v1/entities/{kind}` and `ringfence list KIND` list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum EntityKind {
    Assets,
    Clients,
    Wallets,
    KeySets,
    SubCustodians,
    Institutions,
    FiatAccounts,
    ClientInstructions,
}

impl EntityKind {
    pub const ALL: [(EntityKind, &'static str); 8] = [
        (EntityKind::Assets, "assets"),
        (EntityKind::Clients, "clients"),
        (EntityKind::Wallets, "wallets"),
        (EntityKind::KeySets, "key-sets"),
        (EntityKind::SubCustodians, "sub-custodians"),
        (EntityKind::Institutions, "institutions"),
        (EntityKind::FiatAccounts, "fiat-accounts"),
        (EntityKind::ClientInstructions, "client-instructions"),
    ];

    /// The kind named `text` (as in the route), if any.
    pub fn parse(text: &str) -> Option<EntityKind> {
        Self::ALL.iter().find(|(_, name)| *name == text).map(|(kind, _)| *kind)
    }

    /// Every kind's name, for messages: `assets, clients, …`.
    pub fn names() -> String {
        Self::ALL.iter().map(|(_, name)| *name).collect::<Vec<_>>().join(", ")
    }
}

impl EntityPageView {
    /// The entities of `kind` after position `after`, at most `limit`, in registration order;
    /// client instructions with their state at `now`. Only the page is built.
    pub fn of(register: &ringfence_core::Register, kind: EntityKind, after: usize, limit: usize, now: ringfence_core::Timestamp) -> Self {
        use super::policy::{FiatAccountView, InstitutionView, InstructionView};
        let (items, total) = match kind {
            EntityKind::Assets => page(register.assets(), after, limit, |a| EntityView::Asset(AssetView::of(a))),
            EntityKind::Clients => page(register.clients(), after, limit, |c| EntityView::Client(ClientView::of(c))),
            EntityKind::Wallets => page(register.wallets(), after, limit, |w| EntityView::Wallet(WalletView::of(w))),
            EntityKind::KeySets => page(register.key_sets(), after, limit, |k| EntityView::KeySet(KeySetView::of(k))),
            EntityKind::SubCustodians => {
                page(register.sub_custodians(), after, limit, |s| EntityView::SubCustodian(SubCustodianEntityView::of(s)))
            }
            EntityKind::Institutions => page(register.institutions(), after, limit, |i| EntityView::Institution(InstitutionView::of(i))),
            EntityKind::FiatAccounts => {
                page(register.fiat_accounts().iter(), after, limit, |r| EntityView::FiatAccount(FiatAccountView::of(r)))
            }
            EntityKind::ClientInstructions => page(register.client_instructions().iter(), after, limit, |r| {
                EntityView::ClientInstruction(InstructionView::of(register, r, now))
            }),
        };
        let next_after = (after + items.len() < total).then(|| u32::try_from(after + items.len()).unwrap_or(u32::MAX));
        EntityPageView { items, next_after }
    }
}

/// The views of the entities after position `after`, at most `limit`, and how many there are.
fn page<'a, T: 'a>(
    all: impl Iterator<Item = &'a T>,
    after: usize,
    limit: usize,
    view: impl Fn(&T) -> EntityView,
) -> (Vec<EntityView>, usize) {
    let mut items = Vec::new();
    let mut total = 0;
    for (index, entity) in all.enumerate() {
        total = index + 1;
        if index >= after && items.len() < limit {
            items.push(view(entity));
        }
    }
    (items, total)
}

/// A page of registered entities, in registration order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct EntityPageView {
    /// The entities, as registered (the fields of their import-format line).
    pub items: Vec<EntityView>,
    /// The `after` of the next page; null on the last.
    pub next_after: Option<u32>,
}

/// An API token as `token list --json` shows it: never its secret or digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TokenView {
    pub id: String,
    /// Recorded as the actor of everything done with the token.
    pub actor: String,
    /// Role codes: `operator`, `compliance`, `auditor`, `client`…
    pub roles: Vec<&'static str>,
    /// The client whose data a client-role token reads; null for every other role.
    pub client: Option<String>,
    /// After this instant the token is refused; null for no expiry.
    pub expires_at: Option<String>,
    /// The journal entry that revoked it; null while it is in force.
    pub revoked_at_seq: Option<u64>,
}

impl TokenView {
    pub fn of(token: &ApiToken, revoked_at_seq: Option<u64>) -> TokenView {
        TokenView {
            id: token.id.as_str().to_owned(),
            actor: token.actor.as_str().to_owned(),
            roles: token.roles.iter().map(|role| ringfence_core::Code::code(*role)).collect(),
            client: token.client.as_ref().map(|c| c.as_str().to_owned()),
            expires_at: token.expires_at.map(clock::format),
            revoked_at_seq,
        }
    }
}

/// Every API token, in the order they were created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TokensView {
    pub tokens: Vec<TokenView>,
}

/// A journal signing key as `key list --json` shows it (issue 14).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SigningKeyView {
    /// `ed25519:` and the first 16 hex digits of the public key.
    pub key: String,
    /// The Ed25519 public key, 64 hex digits.
    pub public_key: String,
    pub label: String,
    /// The journal entry from which it may sign.
    pub registered_seq: u64,
    /// The journal entry that retired it; null while it is active.
    pub retired_seq: Option<u64>,
}

impl SigningKeyView {
    pub fn of(record: &ringfence_core::SigningKeyRecord) -> SigningKeyView {
        SigningKeyView {
            key: ringfence_core::SigningKey::fingerprint(&record.key.public_key),
            public_key: super::hex(&record.key.public_key),
            label: record.key.label.clone(),
            registered_seq: record.registered,
            retired_seq: record.retired,
        }
    }
}

/// Every journal signing key, in the order they were registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SigningKeysView {
    pub keys: Vec<SigningKeyView>,
}
