//! The registered entities: assets, clients, sub-custodians, key sets and wallets.

use crate::ids::{Address, AssetId, ClientId, KeySetId, SubCustodianId, WalletId};
use crate::time::Timestamp;

/// A crypto-asset and how many decimals its smallest unit has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    pub id: AssetId,
    /// Decimals: 18 for ETH, 8 for BTC, 6 for USDC. At most [`crate::SCALE_MAX`].
    pub scale: u8,
    /// A short name for people, e.g. `ETH`.
    pub symbol: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientCategory {
    Retail,
    Professional,
}

/// How a client's assets are kept apart on chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Segregation {
    /// Only in wallets of this client.
    Individual,
    /// In omnibus wallets shared by omnibus clients only.
    Omnibus,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub id: ClientId,
    pub category: ClientCategory,
    pub segregation: Segregation,
}

/// The legal ground on which a sub-custodian may hold client crypto-assets (MiCA Art 75(9)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthorisationBasis {
    MicaCasp,
    CrrCreditInstitution,
    Art60Entity,
    ThirdCountryEquivalent,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubCustodian {
    pub id: SubCustodianId,
    pub name: String,
    pub basis: AuthorisationBasis,
    /// The authorisation's reference in its register (e.g. the NCA's licence number).
    pub reference: String,
    /// The authorisation is live up to and including this instant.
    pub valid_until: Timestamp,
}

impl SubCustodian {
    pub fn authorised_at(&self, at: Timestamp) -> bool {
        at <= self.valid_until
    }
}

/// The three classes of wallet and key set. No address or key set serves two classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ClassKind {
    ClientIndividual,
    ClientOmnibus,
    Firm,
}

impl ClassKind {
    pub fn is_client(self) -> bool {
        self != ClassKind::Firm
    }
}

/// A wallet's class: whose assets it may hold.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum WalletClass {
    /// Holds only the assets of this one individually segregated client.
    ClientIndividual(ClientId),
    /// Holds only assets of omnibus clients.
    ClientOmnibus,
    /// Holds only the firm's own assets.
    Firm,
}

impl WalletClass {
    pub fn kind(&self) -> ClassKind {
        match self {
            WalletClass::ClientIndividual(_) => ClassKind::ClientIndividual,
            WalletClass::ClientOmnibus => ClassKind::ClientOmnibus,
            WalletClass::Firm => ClassKind::Firm,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tier {
    Hot,
    Cold,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Custodian {
    InHouse,
    SubCustodian(SubCustodianId),
}

/// How a key set authorises a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyScheme {
    /// On-chain multi-signature, `threshold` of `signers`.
    Multisig { threshold: u8 },
    /// Threshold signing (MPC), `threshold` of `signers`.
    Mpc { threshold: u8 },
    /// A hardware security module under the named signers' dual control.
    Hsm,
}

/// The most signers a key set may have.
pub const SIGNERS_MAX: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySet {
    pub id: KeySetId,
    pub scheme: KeyScheme,
    pub signers: Vec<String>,
    pub class: ClassKind,
}

impl KeySet {
    /// Why the scheme and signers do not fit together, if they do not.
    pub fn scheme_problem(&self) -> Option<&'static str> {
        if self.signers.is_empty() {
            return Some("a key set needs at least one signer");
        }
        if self.signers.len() > SIGNERS_MAX {
            return Some("a key set has at most 32 signers");
        }
        let mut sorted: Vec<&String> = self.signers.iter().collect();
        sorted.sort();
        if sorted.windows(2).any(|pair| pair[0] == pair[1]) {
            return Some("a signer appears twice");
        }
        if sorted.iter().any(|signer| signer.trim().is_empty()) {
            return Some("a signer name is empty");
        }
        match self.scheme {
            KeyScheme::Multisig { threshold } | KeyScheme::Mpc { threshold } => {
                if threshold == 0 {
                    Some("the threshold must be at least 1")
                } else if usize::from(threshold) > self.signers.len() {
                    Some("the threshold is larger than the number of signers")
                } else {
                    None
                }
            }
            KeyScheme::Hsm => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wallet {
    pub id: WalletId,
    pub address: Address,
    pub class: WalletClass,
    pub tier: Tier,
    pub custodian: Custodian,
    pub key_set: KeySetId,
}
