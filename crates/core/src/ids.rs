//! Validated identifiers, parsed once at the edge: names of entities, CAIP-19 asset ids and
//! CAIP-10 addresses. Fields are private so an invalid value cannot be built.

use std::fmt;

/// Why a string is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{what} must not be empty")]
    Empty { what: &'static str },
    #[error("{what} is {length} characters long; at most {length_max} are allowed")]
    TooLong { what: &'static str, length: usize, length_max: usize },
    #[error("{what} {value:?} contains {character:?}; use letters, digits and {allowed}")]
    BadCharacter { what: &'static str, value: String, character: char, allowed: &'static str },
    #[error("{what} {value:?} is not valid: {reason}")]
    Malformed { what: &'static str, value: String, reason: &'static str },
}

/// The longest entity name (client, wallet, key set, sub-custodian, idempotency key…).
pub const NAME_LENGTH_MAX: usize = 128;

fn check_name(what: &'static str, value: &str) -> Result<(), IdError> {
    if value.is_empty() {
        return Err(IdError::Empty { what });
    }
    if value.len() > NAME_LENGTH_MAX {
        return Err(IdError::TooLong { what, length: value.len(), length_max: NAME_LENGTH_MAX });
    }
    if let Some(character) = value.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '@' | '/'))) {
        return Err(IdError::BadCharacter { what, value: value.to_owned(), character, allowed: "- _ . : @ /" });
    }
    Ok(())
}

/// Identifiers travel in checkpoints as their text and are parsed again on the way in, so a
/// damaged checkpoint cannot bring in an invalid one.
macro_rules! serde_as_text {
    ($name:ident) => {
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(deserializer)?;
                $name::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Parses and validates the name.
            pub fn parse(value: &str) -> Result<Self, IdError> {
                check_name($what, value)?;
                Ok(Self(value.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        serde_as_text!($name);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(value: &str) -> Result<Self, IdError> {
                Self::parse(value)
            }
        }
    };
}

name_type!(
    /// A client of the CASP, whose assets are held.
    ClientId,
    "client id"
);
name_type!(
    /// A wallet registered with the CASP.
    WalletId,
    "wallet id"
);
name_type!(
    /// A key set: the means of access to one or more wallets.
    KeySetId,
    "key set id"
);
name_type!(
    /// A sub-custodian holding assets on the CASP's behalf.
    SubCustodianId,
    "sub-custodian id"
);
name_type!(
    /// The caller-chosen key that makes a movement idempotent; also the movement's name.
    IdempotencyKey,
    "idempotency key"
);
name_type!(
    /// The instruction a journal entry executes (MiCA Art 75(2)).
    InstructionId,
    "instruction id"
);
name_type!(
    /// Who did it: a person or a service account.
    Actor,
    "actor"
);
impl Actor {
    /// The actor recorded on what ringfence does by itself: expiring pending instructions,
    /// escalating overdue exceptions, the safeguarding check and the daily reconciliation.
    pub const SYSTEM: &'static str = "ringfence";

    /// [`Actor::SYSTEM`] as an actor.
    pub fn system() -> Actor {
        Actor(Actor::SYSTEM.to_owned())
    }
}

name_type!(
    /// A credit institution or central bank where client fiat funds are placed.
    InstitutionId,
    "institution id"
);
name_type!(
    /// An account for client fiat funds (or the firm's own, to tell them apart).
    FiatAccountId,
    "fiat account id"
);
name_type!(
    /// A documented risk assessment that allows a deviation from a policy.
    AssessmentId,
    "assessment id"
);
name_type!(
    /// The public half of an API token (the part before the secret), by which it is found
    /// and revoked.
    TokenId,
    "token id"
);

fn check_segment(
    what: &'static str,
    whole: &str,
    segment: &str,
    length_min: usize,
    length_max: usize,
    allowed: fn(char) -> bool,
    reason: &'static str,
) -> Result<(), IdError> {
    let ok = (length_min..=length_max).contains(&segment.len()) && segment.chars().all(allowed);
    if ok { Ok(()) } else { Err(IdError::Malformed { what, value: whole.to_owned(), reason }) }
}

fn is_namespace_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
}

fn is_reference_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

fn is_asset_reference_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '%')
}

/// Parses a CAIP-2 chain id (`namespace:reference`), returning the split position.
fn check_chain_id(what: &'static str, whole: &str, chain: &str) -> Result<(), IdError> {
    let Some((namespace, reference)) = chain.split_once(':') else {
        return Err(IdError::Malformed {
            what,
            value: whole.to_owned(),
            reason: "the chain id must be namespace:reference, as in eip155:1",
        });
    };
    check_segment(what, whole, namespace, 3, 8, is_namespace_char, "the chain namespace must be 3 to 8 of a-z 0-9 -")?;
    check_segment(what, whole, reference, 1, 32, is_reference_char, "the chain reference must be 1 to 32 of a-z A-Z 0-9 - _")
}

/// A crypto-asset on one chain, named by its CAIP-19 id, e.g. `eip155:1/slip44:60`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AssetId {
    value: String,
    chain_length: usize,
}

impl AssetId {
    pub fn parse(value: &str) -> Result<Self, IdError> {
        const WHAT: &str = "asset id (CAIP-19)";
        if value.is_empty() {
            return Err(IdError::Empty { what: WHAT });
        }
        let Some((chain, asset)) = value.split_once('/') else {
            return Err(IdError::Malformed {
                what: WHAT,
                value: value.to_owned(),
                reason: "expected chain/namespace:reference, as in eip155:1/slip44:60",
            });
        };
        check_chain_id(WHAT, value, chain)?;
        let Some((namespace, reference)) = asset.split_once(':') else {
            return Err(IdError::Malformed {
                what: WHAT,
                value: value.to_owned(),
                reason: "the asset part must be namespace:reference, as in erc20:0x…",
            });
        };
        check_segment(WHAT, value, namespace, 3, 8, is_namespace_char, "the asset namespace must be 3 to 8 of a-z 0-9 -")?;
        check_segment(
            WHAT,
            value,
            reference,
            1,
            128,
            is_asset_reference_char,
            "the asset reference must be 1 to 128 of a-z A-Z 0-9 - . %",
        )?;
        // An EVM token is named by its contract address, which is case-insensitive (EIP-55
        // only checksums): one spelling, so one token cannot be registered as two assets.
        let value = if chain.starts_with("eip155:") && matches!(namespace, "erc20" | "erc721" | "erc1155") {
            format!("{chain}/{namespace}:{}", reference.to_ascii_lowercase())
        } else {
            value.to_owned()
        };
        Ok(Self { value, chain_length: chain.len() })
    }

    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// The CAIP-2 chain the asset lives on, e.g. `eip155:1`.
    pub fn chain(&self) -> &str {
        &self.value[..self.chain_length]
    }
}

serde_as_text!(AssetId);

impl fmt::Display for AssetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

/// A CAIP-10 account address, e.g. `eip155:1:0xab16a96d359ec26a11e2c2b3d8f8b8942d5bfcdb`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address {
    value: String,
    chain_length: usize,
}

impl Address {
    pub fn parse(value: &str) -> Result<Self, IdError> {
        const WHAT: &str = "address (CAIP-10)";
        if value.is_empty() {
            return Err(IdError::Empty { what: WHAT });
        }
        let Some(split) = value.rfind(':') else {
            return Err(IdError::Malformed {
                what: WHAT,
                value: value.to_owned(),
                reason: "expected chain:address, as in eip155:1:0xab16…",
            });
        };
        let (chain, account) = (&value[..split], &value[split + 1..]);
        check_chain_id(WHAT, value, chain)?;
        check_segment(WHAT, value, account, 1, 128, is_asset_reference_char, "the account address must be 1 to 128 of a-z A-Z 0-9 - . %")?;
        // EVM addresses are case-insensitive (EIP-55 only checksums): keep one spelling so the
        // same address cannot be registered twice under two casings.
        let value = if chain.starts_with("eip155:") { value.to_ascii_lowercase() } else { value.to_owned() };
        Ok(Self { value, chain_length: chain.len() })
    }

    pub fn as_str(&self) -> &str {
        &self.value
    }

    pub fn chain(&self) -> &str {
        &self.value[..self.chain_length]
    }
}

serde_as_text!(Address);

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asset_ids_follow_caip19() {
        let eth = AssetId::parse("eip155:1/slip44:60").unwrap();
        assert_eq!(eth.chain(), "eip155:1");
        let usdc = AssetId::parse("eip155:1/erc20:0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48").unwrap();
        assert_eq!(usdc.as_str(), "eip155:1/erc20:0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48");
        let btc = AssetId::parse("bip122:000000000019d6689c085ae165831e93/slip44:0").unwrap();
        assert_eq!(btc.chain(), "bip122:000000000019d6689c085ae165831e93");
        for bad in ["", "eth", "eip155:1", "eip155/slip44:60", "EIP155:1/slip44:60", "eip155:1/slip44", "eip155:1/x:60"] {
            assert!(AssetId::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn addresses_follow_caip10_and_fold_evm_case() {
        let a = Address::parse("eip155:1:0xAB16a96D359eC26a11e2C2b3d8f8B8942d5Bfcdb").unwrap();
        assert_eq!(a.chain(), "eip155:1");
        assert_eq!(a.as_str(), "eip155:1:0xab16a96d359ec26a11e2c2b3d8f8b8942d5bfcdb");
        assert!(Address::parse("0xab16").is_err());
        assert!(Address::parse("eip155:1:").is_err());
    }

    #[test]
    fn names_reject_spaces_and_overlong_values() {
        assert!(ClientId::parse("client-1").is_ok());
        assert!(matches!(ClientId::parse("client 1"), Err(IdError::BadCharacter { character: ' ', .. })));
        assert!(matches!(ClientId::parse(&"x".repeat(129)), Err(IdError::TooLong { .. })));
        assert!(matches!(ClientId::parse(""), Err(IdError::Empty { .. })));
    }
}
