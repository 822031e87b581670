//! The posting index: every posting of every journaled movement, by account and asset, for
//! balances at a past instant and histories. It lives in memory and is rebuilt from the
//! journal whenever the store opens (the register is rebuilt then anyway), so the durable
//! write path carries only the journal.

use ringfence_core::{Account, Amount, AssetId, Movement, Side, Timestamp};

use crate::Net;

type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

#[derive(Debug, Clone, Copy)]
struct Indexed {
    effective_at: Timestamp,
    seq: u64,
    amount: u128,
    increases: bool,
}

#[derive(Debug, Default)]
pub(crate) struct PostingIndex {
    accounts: HashMap<Account, HashMap<AssetId, Vec<Indexed>>>,
}

impl PostingIndex {
    pub(crate) fn add(&mut self, seq: u64, effective_at: Timestamp, movement: &Movement) {
        for posting in &movement.postings {
            // Holdings are debit-normal; positions and own accounts credit-normal.
            let increases = matches!(posting.account, Account::Holding(_)) == (posting.side == Side::Debit);
            let entry = Indexed { effective_at, seq, amount: posting.amount.units(), increases };
            let by_asset = match self.accounts.get_mut(&posting.account) {
                Some(by_asset) => by_asset,
                None => self.accounts.entry(posting.account.clone()).or_default(),
            };
            match by_asset.get_mut(&posting.asset) {
                Some(list) => list.push(entry),
                None => by_asset.entry(posting.asset.clone()).or_default().push(entry),
            }
        }
    }

    pub(crate) fn balance_at(&self, account: &Account, asset: &AssetId, at: Timestamp) -> Net {
        let (mut increases, mut decreases) = (0u128, 0u128);
        let list = self.accounts.get(account).and_then(|by_asset| by_asset.get(asset));
        for entry in list.into_iter().flatten().filter(|e| e.effective_at <= at) {
            let total = if entry.increases { &mut increases } else { &mut decreases };
            // Every committed prefix fits u128 per account; saturate defensively.
            *total = total.saturating_add(entry.amount);
        }
        if increases >= decreases {
            Net { negative: false, amount: Amount::new(increases - decreases) }
        } else {
            Net { negative: true, amount: Amount::new(decreases - increases) }
        }
    }

    /// Sequence numbers of the movements that posted to `account` (any asset) with effective
    /// time in `[from, to]`, ascending, at most `limit`.
    pub(crate) fn movements(&self, account: &Account, from: Timestamp, to: Timestamp, limit: usize) -> Vec<u64> {
        let mut seqs: Vec<u64> = self
            .accounts
            .get(account)
            .into_iter()
            .flat_map(|by_asset| by_asset.values().flatten())
            .filter(|e| (from..=to).contains(&e.effective_at))
            .map(|e| e.seq)
            .collect();
        seqs.sort_unstable();
        seqs.dedup();
        seqs.truncate(limit);
        seqs
    }
}
