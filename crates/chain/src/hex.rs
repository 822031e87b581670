//! The hex spellings of JSON-RPC: quantities (`0x1a`), 32-byte words, hashes and addresses.
//! Anything malformed is `None`, which the caller reports as an unavailable source.

use std::fmt;

/// A 32-byte hash (block or transaction), shown as `0x` and 64 lower-case hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hash([u8; 32]);

impl Hash {
    /// Parses `0x` and 64 hex digits.
    pub fn parse(text: &str) -> Option<Hash> {
        let mut bytes = [0; 32];
        decode_exact(text, &mut bytes)?;
        Some(Hash(bytes))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Hash {
        Hash(bytes)
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("0x")?;
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A 20-byte EVM account or contract address.
pub(crate) type EvmAddress = [u8; 20];

pub(crate) fn parse_address(text: &str) -> Option<EvmAddress> {
    let mut bytes = [0; 20];
    decode_exact(text, &mut bytes)?;
    Some(bytes)
}

pub(crate) fn format_address(address: &EvmAddress) -> String {
    let mut text = String::with_capacity(42);
    text.push_str("0x");
    for byte in address {
        text.push_str(&format!("{byte:02x}"));
    }
    text
}

/// `0x` + 40 hex digits → the address; exact length, so a 32-byte word is not silently cut.
fn decode_exact(text: &str, bytes: &mut [u8]) -> Option<()> {
    let digits = text.strip_prefix("0x")?.as_bytes();
    if digits.len() != bytes.len() * 2 {
        return None;
    }
    for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = (digit(pair[0])? << 4) | digit(pair[1])?;
    }
    Some(())
}

fn digit(character: u8) -> Option<u8> {
    match character {
        b'0'..=b'9' => Some(character - b'0'),
        b'a'..=b'f' => Some(character - b'a' + 10),
        b'A'..=b'F' => Some(character - b'A' + 10),
        _ => None,
    }
}

/// A JSON-RPC quantity as a `u64` (block numbers, timestamps, indices).
pub(crate) fn parse_u64(text: &str) -> Option<u64> {
    let digits = text.strip_prefix("0x")?;
    if digits.is_empty() || digits.len() > 16 {
        return None;
    }
    u64::from_str_radix(digits, 16).ok()
}

/// An amount: a JSON-RPC quantity (`0x…`, up to 64 digits) or a 32-byte ABI word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Uint256 {
    Fits(u128),
    /// Beyond `u128`; kept as the node spelled it, for the report.
    TooLarge(String),
}

/// Accepts `0x` with 1 to 64 hex digits (leading zeros allowed, as ABI words have them).
pub(crate) fn parse_u256(text: &str) -> Option<Uint256> {
    let digits = text.strip_prefix("0x")?;
    if digits.is_empty() || digits.len() > 64 || !digits.bytes().all(|character| character.is_ascii_hexdigit()) {
        return None;
    }
    let significant = digits.trim_start_matches('0');
    if significant.len() > 32 {
        return Some(Uint256::TooLarge(text.to_owned()));
    }
    if significant.is_empty() {
        return Some(Uint256::Fits(0));
    }
    u128::from_str_radix(significant, 16).ok().map(Uint256::Fits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_beyond_u128_are_told_apart_from_garbage() {
        assert_eq!(parse_u256("0x0"), Some(Uint256::Fits(0)));
        assert_eq!(parse_u256(&format!("0x{:064x}", u128::MAX)), Some(Uint256::Fits(u128::MAX)));
        let just_beyond = format!("0x1{}", "0".repeat(32));
        assert_eq!(parse_u256(&just_beyond), Some(Uint256::TooLarge(just_beyond.clone())));
        assert_eq!(parse_u256(&format!("0x{}", "f".repeat(64))), Some(Uint256::TooLarge(format!("0x{}", "f".repeat(64)))));
        for garbage in ["", "0x", "12", "0xzz", &format!("0x{}", "0".repeat(65))] {
            assert_eq!(parse_u256(garbage), None, "{garbage:?}");
        }
    }

    #[test]
    fn hashes_and_addresses_need_their_exact_length() {
        let hash = format!("0x{}", "ab".repeat(32));
        assert_eq!(Hash::parse(&hash).map(|hash| hash.to_string()), Some(hash));
        assert_eq!(Hash::parse(&format!("0x{}", "ab".repeat(31))), None);
        let address = "0x00000000000000000000000000000000000000ff";
        assert_eq!(parse_address(address).map(|address| format_address(&address)), Some(address.to_owned()));
        assert_eq!(parse_address(&format!("0x{}", "00".repeat(32))), None);
        assert_eq!(parse_u64("0x10"), Some(16));
        assert_eq!(parse_u64("16"), None);
    }
}
