//! Registered entities as `GET /v1/entities/{kind}` returns them (and a pending instruction
//! shows what it would register or change): the fields of their import-format line
//! (docs/import-format.md), codes as the import format spells them.

use ringfence_core::{
    AuthorisationBasis, ClassKind, Client, ClientCategory, Custodian, KeySchemeKind, KeySet, Segregation, SubCustodian, Tier, Wallet,
    WalletClass,
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
}
