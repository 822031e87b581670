//! Access separation (issue 6): which key sets control which wallets, and which signers hold
//! keys on both sides of the segregation wall.

use std::collections::BTreeMap;

use super::Register;
use crate::entity::KeySet;
use crate::ids::{KeySetId, WalletId};

/// One key set and the wallets it controls, in registration order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySetAccess<'a> {
    pub key_set: &'a KeySet,
    pub wallets: Vec<&'a WalletId>,
}

/// A signer who holds keys in client-class and in firm-class key sets: the means of access
/// to client assets and to the firm's own are not separated for this person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedSigner<'a> {
    pub signer: &'a str,
    pub client_key_sets: Vec<&'a KeySetId>,
    pub firm_key_sets: Vec<&'a KeySetId>,
}

impl Register {
    /// Every key set with its wallets, and the signers found on both sides (by name, sorted).
    pub fn access_separation(&self) -> (Vec<KeySetAccess<'_>>, Vec<SharedSigner<'_>>) {
        let mut access: Vec<KeySetAccess<'_>> =
            self.key_sets.iter().map(|registered| KeySetAccess { key_set: &registered.value, wallets: Vec::new() }).collect();
        for wallet in &self.wallets {
            if let Some(&index) = self.key_set_index.get(&wallet.value.key_set) {
                access[index as usize].wallets.push(&wallet.value.id);
            }
        }
        let mut sides: BTreeMap<&str, (Vec<&KeySetId>, Vec<&KeySetId>)> = BTreeMap::new();
        for registered in &self.key_sets {
            let key_set = &registered.value;
            for signer in &key_set.signers {
                let entry = sides.entry(signer.as_str()).or_default();
                if key_set.class.is_client() {
                    entry.0.push(&key_set.id);
                } else {
                    entry.1.push(&key_set.id);
                }
            }
        }
        let shared = sides
            .into_iter()
            .filter(|(_, (client, firm))| !client.is_empty() && !firm.is_empty())
            .map(|(signer, (client_key_sets, firm_key_sets))| SharedSigner { signer, client_key_sets, firm_key_sets })
            .collect();
        (access, shared)
    }
}
