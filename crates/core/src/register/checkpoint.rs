//! Register checkpoints: the register's whole state after a journal entry, so that opening a
//! store replays only the entries after it. The journal stays the truth: a checkpoint is
//! trusted only when its hash and its binding to the journal check out (the store's job), and
//! only by the build that wrote it ([`STATE_LAYOUT`]); a state read back is checked here for
//! indexes that point nowhere and for the segregation invariants before it is used.

use std::collections::HashMap as StdHashMap;
use std::hash::Hash;

use super::{Register, Segment, Slot};
use crate::entity::{Custodian, WalletClass};

/// The fingerprint of this build's core source: a checkpoint written by a build with another
/// fingerprint is not read (its state may be laid out differently); the journal is replayed
/// instead.
pub const STATE_LAYOUT: &str = env!("RINGFENCE_STATE_LAYOUT");

impl Register {
    /// The register's state in the checkpoint encoding (postcard) of this build's layout.
    pub fn snapshot(&self) -> Result<Vec<u8>, String> {
        postcard::to_stdvec(self).map_err(|error| format!("cannot encode the register: {error}"))
    }

    /// Writes [`Register::snapshot`]'s bytes to `out` as they are encoded, without holding
    /// them all (a checkpoint of millions of movements is hundreds of MB).
    pub fn snapshot_to<W: std::io::Write>(&self, out: W) -> Result<(), String> {
        postcard::to_io(self, out).map(|_| ()).map_err(|error| format!("cannot encode the register: {error}"))
    }

    /// A register from [`Register::snapshot`]'s bytes. Refused, naming why, when the bytes do
    /// not decode to exactly one state, when an index points at nothing, or when the state
    /// breaks an invariant: a damaged checkpoint is never used.
    pub fn restore(bytes: &[u8]) -> Result<Register, String> {
        let (register, rest): (Register, &[u8]) =
            postcard::take_from_bytes(bytes).map_err(|error| format!("the state does not decode ({error})"))?;
        if !rest.is_empty() {
            return Err(format!("{} bytes follow the state", rest.len()));
        }
        register.check_indexes()?;
        register.audit().map_err(|violation| violation.0)?;
        Ok(register)
    }

    /// The parts of the state in which two registers differ, by field name (for a report that
    /// says where a checkpoint departs from the replay); empty when they are equal.
    pub fn differences(&self, other: &Register) -> Vec<&'static str> {
        macro_rules! compare {
            ($($field:ident),* $(,)?) => {{
                let mut differ = Vec::new();
                $(if self.$field != other.$field { differ.push(stringify!($field)); })*
                differ
            }};
        }
        let mut differ = compare!(
            assets,
            asset_index,
            totals,
            clients,
            client_index,
            client_segments,
            wallets,
            wallet_index,
            wallet_segments,
            address_index,
            key_sets,
            key_set_index,
            sub_custodians,
            sub_custodian_registrations,
            sub_custodian_index,
            tokens,
            token_revocations,
            token_index,
            signing_keys,
            balances,
            individual_holdings,
            movements,
            filter,
            movement_count,
            log,
            seq,
            wallet_registrations,
            four_eyes,
            oversight,
            safeguards,
            latest_effective,
            prices,
            statements,
            statement_clock,
            packs,
            loss_events,
        );
        if differ.is_empty() && self != other {
            differ.push("state");
        }
        differ
    }

    /// Every internal index points at an entity of the right id, every stored slot at an
    /// entity: a restored state must not make a later lookup panic.
    fn check_indexes(&self) -> Result<(), String> {
        self.filter.check()?;
        index_matches("asset", &self.asset_index, &self.assets, |a| &a.value.id)?;
        index_matches("client", &self.client_index, &self.clients, |c| &c.value.id)?;
        index_matches("wallet", &self.wallet_index, &self.wallets, |w| &w.value.id)?;
        index_matches("key set", &self.key_set_index, &self.key_sets, |k| &k.value.id)?;
        index_matches("sub-custodian", &self.sub_custodian_index, &self.sub_custodians, |s| &s.value.id)?;
        index_matches("token", &self.token_index, &self.tokens, |t| &t.value.id)?;
        let (assets, clients, wallets) = (self.assets.len(), self.clients.len(), self.wallets.len());
        same_length("asset totals", self.totals.len(), assets)?;
        same_length("client segments", self.client_segments.len(), clients)?;
        same_length("wallet segments", self.wallet_segments.len(), wallets)?;
        same_length("token revocations", self.token_revocations.len(), self.tokens.len())?;
        same_length("sub-custodian registrations", self.sub_custodian_registrations.len(), self.sub_custodians.len())?;
        let slot_ok = |slot: &Slot| match *slot {
            Slot::Position(client) => (client as usize) < clients,
            Slot::Holding(wallet) => (wallet as usize) < wallets,
            Slot::Own(_) => true,
        };
        let segment_ok = |segment: &Segment| !matches!(*segment, Segment::Individual(client) if client as usize >= clients);
        let pair_ok = |(client, asset): &(u32, u32)| (*client as usize) < clients && (*asset as usize) < assets;
        let checks = [
            ("a balance", self.balances.keys().all(|(slot, asset)| slot_ok(slot) && (*asset as usize) < assets)),
            ("a posting log", self.log.keys().all(|(slot, asset)| slot_ok(slot) && (*asset as usize) < assets)),
            (
                "a logged posting",
                self.log_floor <= self.seq
                    && self.log.values().all(|postings| {
                        !postings.is_empty()
                            && postings.iter().all(|l| l.seq > self.log_floor && l.seq <= self.seq)
                            && postings.windows(2).all(|pair| pair[0].seq <= pair[1].seq)
                    }),
            ),
            ("an individual holding", self.individual_holdings.keys().all(pair_ok)),
            ("a segment", self.client_segments.iter().chain(&self.wallet_segments).all(segment_ok)),
            ("an address", self.address_index.values().all(|&wallet| (wallet as usize) < wallets)),
            ("a wallet registration", self.wallet_registrations.keys().all(|&wallet| (wallet as usize) < wallets)),
            ("an encumbrance", self.safeguards.encumbered.keys().all(pair_ok)),
            (
                "a wallet",
                self.wallets.iter().chain(self.wallet_registrations.values()).all(|wallet| {
                    let wallet = &wallet.value;
                    self.key_set_index.contains_key(&wallet.key_set)
                        && match &wallet.class {
                            WalletClass::ClientIndividual(client) => self.client_index.contains_key(client),
                            WalletClass::Firm | WalletClass::ClientOmnibus => true,
                        }
                        && match &wallet.custodian {
                            Custodian::SubCustodian(sub) => self.sub_custodian_index.contains_key(sub),
                            Custodian::InHouse => true,
                        }
                }),
            ),
        ];
        if let Some((what, _)) = checks.iter().find(|(_, ok)| !ok) {
            return Err(format!("{what} names an entity the state does not hold"));
        }
        self.four_eyes.check_indexes()?;
        self.safeguards.check_indexes()?;
        self.check_prices()?;
        self.check_statements()?;
        self.check_packs()?;
        self.oversight.check_indexes(
            wallets,
            assets,
            |wallet| self.wallet_index.contains_key(wallet),
            |asset| self.asset_index.contains_key(asset),
        )
    }
}

/// `index` maps each item's id to its position, and nothing else.
pub(super) fn index_matches<K: Eq + Hash, T, S>(
    what: &str,
    index: &StdHashMap<K, u32, S>,
    items: &[T],
    id: impl Fn(&T) -> &K,
) -> Result<(), String>
where
    S: std::hash::BuildHasher,
{
    if index.len() != items.len() {
        return Err(format!("the {what} index holds {} ids for {} {what}s", index.len(), items.len()));
    }
    for (position, item) in items.iter().enumerate() {
        if index.get(id(item)).is_none_or(|&at| at as usize != position) {
            return Err(format!("the {what} index does not point at {what} {position}"));
        }
    }
    Ok(())
}

pub(super) fn same_length(what: &str, found: usize, expected: usize) -> Result<(), String> {
    if found == expected { Ok(()) } else { Err(format!("{found} {what} for {expected} entities")) }
}

/// Every position `positions` yields is below `length`.
pub(super) fn within(what: &str, mut positions: impl Iterator<Item = usize>, length: usize) -> Result<(), String> {
    if positions.all(|position| position < length) { Ok(()) } else { Err(format!("{what} points past the {length} held")) }
}
