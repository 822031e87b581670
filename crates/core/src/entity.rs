//! The registered entities: assets, clients, sub-custodians, key sets and wallets.

use crate::ids::{Address, AssetId, ClientId, KeySetId, SubCustodianId, WalletId};
use crate::time::Timestamp;

/// A crypto-asset and how many decimals its smallest unit has.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Asset {
    pub id: AssetId,
    /// Decimals: 18 for ETH, 8 for BTC, 6 for USDC. At most [`crate::SCALE_MAX`].
    pub scale: u8,
    /// A short name for people, e.g. `ETH`.
    pub symbol: String,
}

crate::codes! {
    /// A client's category under MiCA (retail clients get the cold-floor protection).
    pub enum ClientCategory("client category") {
        Retail = 0 => "retail",
        Professional = 1 => "professional",
    }
}

crate::codes! {
    /// How a client's assets are kept apart on chain.
    pub enum Segregation("segregation") {
        /// Only in wallets of this client.
        Individual = 0 => "individual",
        /// In omnibus wallets shared by omnibus clients only.
        Omnibus = 1 => "omnibus",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Client {
    pub id: ClientId,
    pub category: ClientCategory,
    pub segregation: Segregation,
}

crate::codes! {
    /// The legal ground on which a sub-custodian may hold client crypto-assets (MiCA Art 75(9)).
    pub enum AuthorisationBasis("authorisation basis") {
        MicaCasp = 0 => "mica_casp",
        CrrCreditInstitution = 1 => "crr_credit_institution",
        Art60Entity = 2 => "art60_entity",
        ThirdCountryEquivalent = 3 => "third_country_equivalent",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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

crate::codes! {
    /// The three classes of wallet and key set. No address or key set serves two classes.
    pub enum ClassKind("class") {
        ClientIndividual = 0 => "client_individual",
        ClientOmnibus = 1 => "client_omnibus",
        Firm = 2 => "firm",
    }
}

impl ClassKind {
    pub fn is_client(self) -> bool {
        self != ClassKind::Firm
    }
}

/// A wallet's class: whose assets it may hold.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
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

crate::codes! {
    /// A wallet's storage tier.
    pub enum Tier("tier") {
        Hot = 0 => "hot",
        Cold = 1 => "cold",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Custodian {
    InHouse,
    SubCustodian(SubCustodianId),
}

/// How a key set authorises a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum KeyScheme {
    /// On-chain multi-signature, `threshold` of `signers`.
    Multisig { threshold: u8 },
    /// Threshold signing (MPC), `threshold` of `signers`.
    Mpc { threshold: u8 },
    /// A hardware security module under the named signers' dual control.
    Hsm,
}

crate::codes! {
    /// A key scheme without its threshold: what the journal tags and the API spells.
    pub enum KeySchemeKind("key scheme") {
        Multisig = 0 => "multisig",
        Mpc = 1 => "mpc",
        Hsm = 2 => "hsm",
    }
}

impl KeyScheme {
    pub fn kind(self) -> KeySchemeKind {
        match self {
            KeyScheme::Multisig { .. } => KeySchemeKind::Multisig,
            KeyScheme::Mpc { .. } => KeySchemeKind::Mpc,
            KeyScheme::Hsm => KeySchemeKind::Hsm,
        }
    }

    /// The threshold of a multisig or MPC scheme; None for an HSM.
    pub fn threshold(self) -> Option<u8> {
        match self {
            KeyScheme::Multisig { threshold } | KeyScheme::Mpc { threshold } => Some(threshold),
            KeyScheme::Hsm => None,
        }
    }
}

/// The most signers a key set may have.
pub const SIGNERS_MAX: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Wallet {
    pub id: WalletId,
    pub address: Address,
    pub class: WalletClass,
    pub tier: Tier,
    pub custodian: Custodian,
    pub key_set: KeySetId,
}

crate::codes! {
    /// What the holder of an API token may do. The server maps each route to the roles allowed
    /// on it; the register only records who holds which.
    pub enum Role("role") {
        /// Records movements and registrations.
        Operator = 0 => "operator",
        /// Approves or rejects others' pending instructions (four-eyes).
        Approver = 1 => "approver",
        /// Policies, exceptions and reports.
        Compliance = 2 => "compliance",
        /// Reads everything, the journal included; changes nothing.
        Auditor = 3 => "auditor",
        /// Reads one client's own positions and history only.
        Client = 4 => "client",
    }
}

/// An API token as the register keeps it: never the secret, only a salted SHA-256 of it. The
/// secret is 256 random bits, so a fast hash is enough: there is nothing to guess.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ApiToken {
    pub id: crate::ids::TokenId,
    /// Recorded as the actor of everything done with the token.
    pub actor: crate::ids::Actor,
    pub roles: Vec<Role>,
    /// The client whose data a client-role token reads; None for every other role.
    pub client: Option<crate::ids::ClientId>,
    pub salt: [u8; 16],
    pub digest: [u8; 32],
    /// After this instant the token is refused; None for no expiry.
    pub expires_at: Option<Timestamp>,
}

/// A journal signing key (issue 14): an Ed25519 public key whose holder may sign the
/// journal's commits. Registered and retired by journal entries, four-eyes gated; the private
/// half never enters the register (it stays in the writer's key file).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SigningKey {
    pub public_key: [u8; 32],
    /// Who holds it or where it lives, for people ("writer on db-1, key file /etc/…").
    pub label: String,
}

impl SigningKey {
    /// How the key is named in outputs: `ed25519:` and the first 16 hex digits of the public key.
    pub fn fingerprint(public_key: &[u8; 32]) -> String {
        let mut text = String::from("ed25519:");
        for byte in &public_key[..8] {
            text.push_str(&format!("{byte:02x}"));
        }
        text
    }
}

/// Why a presented token is refused. Deliberately coarse towards the caller (all are "not a
/// valid token"); the variants are for logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefusal {
    Malformed,
    Unknown,
    WrongSecret,
    Revoked,
    Expired,
}

/// The prefix of every token string, so a leaked one is recognisable (secret scanners).
pub const TOKEN_PREFIX: &str = "rf_";

impl ApiToken {
    /// The string the holder presents: `rf_<id>_<secret>`. Ids made by ringfence contain no
    /// `_`, so the string splits back unambiguously.
    pub fn presented(id: &crate::ids::TokenId, secret: &str) -> String {
        format!("{TOKEN_PREFIX}{id}_{secret}")
    }

    /// Splits a presented token into its id and secret.
    pub fn split_presented(presented: &str) -> Result<(crate::ids::TokenId, &str), TokenRefusal> {
        let rest = presented.strip_prefix(TOKEN_PREFIX).ok_or(TokenRefusal::Malformed)?;
        let (id, secret) = rest.split_once('_').ok_or(TokenRefusal::Malformed)?;
        if secret.is_empty() {
            return Err(TokenRefusal::Malformed);
        }
        Ok((crate::ids::TokenId::parse(id).map_err(|_| TokenRefusal::Malformed)?, secret))
    }

    /// The live token a presented `rf_<id>_<secret>` string belongs to, at `now`, given how
    /// to look a token (and its revocation) up: the register, or a copy of its tokens.
    pub fn authenticate<'a>(
        presented: &str,
        now: Timestamp,
        lookup: impl FnOnce(&crate::ids::TokenId) -> Option<(&'a ApiToken, Option<u64>)>,
    ) -> Result<&'a ApiToken, TokenRefusal> {
        let (id, secret) = ApiToken::split_presented(presented)?;
        let (token, revoked) = lookup(&id).ok_or(TokenRefusal::Unknown)?;
        if !token.matches(secret) {
            return Err(TokenRefusal::WrongSecret);
        }
        if revoked.is_some() {
            return Err(TokenRefusal::Revoked);
        }
        if token.expires_at.is_some_and(|expiry| now > expiry) {
            return Err(TokenRefusal::Expired);
        }
        Ok(token)
    }

    /// The digest stored for `secret` with `salt`.
    pub fn digest_of(salt: &[u8; 16], secret: &str) -> [u8; 32] {
        use sha2::Digest as _;
        let mut hasher = sha2::Sha256::new();
        hasher.update(salt);
        hasher.update(secret.as_bytes());
        hasher.finalize().into()
    }

    /// Whether `secret` is this token's, compared in constant time.
    pub fn matches(&self, secret: &str) -> bool {
        let presented = Self::digest_of(&self.salt, secret);
        presented.iter().zip(&self.digest).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }

    /// What is wrong with the roles, if anything.
    pub fn roles_problem(&self) -> Option<String> {
        if self.roles.is_empty() {
            return Some("a token needs at least one role".into());
        }
        let mut sorted = self.roles.clone();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != self.roles.len() {
            return Some("a role is listed twice".into());
        }
        let client_role = self.roles.contains(&Role::Client);
        match (client_role, &self.client) {
            (true, _) if self.roles.len() > 1 => Some("the client role cannot be combined with other roles".into()),
            (true, None) => Some("a client-role token must name its client".into()),
            (false, Some(_)) => Some("only a client-role token names a client".into()),
            _ => None,
        }
    }
}
