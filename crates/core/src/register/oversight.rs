//! Chain observations, linkage, reconciliation runs and exceptions inside the register (see
//! [`crate::oversight`]).

use std::collections::{BTreeMap, BTreeSet};

use super::{Check, HashMap, Register, Registered, Resolved, Slot, reject};
use crate::entity::Custodian;
use crate::ids::Actor;
use crate::movement::{Meta, Movement, MovementKind, Side};
use crate::oversight::{
    BREAKS_MAX, CHAIN_BYTES_MAX, ChainObservation, ChainWatch, Direction, Exception, ExceptionPolicy, ExceptionState, MovementLeg,
    ObservedLeg, Proposal, ReconRun, Resolution, RunSource, SOURCES_MAX, TEXT_BYTES_MAX, TRACKED_BLOCKS_MAX, TRANSFERS_MAX, TransferRef,
};
use crate::status::{Outcome, Status};
use crate::time::Timestamp;

const MICROS_PER_HOUR: i64 = 3_600_000_000;

/// What a leg is matched on: wallet index, asset index, direction, amount.
type LegKey = (u32, u32, Direction, u128);

/// A recorded run with who ran it and when.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RunRecord {
    pub id: u64,
    pub actor: Actor,
    pub recorded_at: Timestamp,
    pub run: ReconRun,
    /// The exceptions its breaks opened or saw again, in break order.
    pub exceptions: Vec<u64>,
}

/// The oversight part of the register's state.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(super) struct Oversight {
    policy: Option<Registered<ExceptionPolicy>>,
    chains: BTreeMap<String, ChainWatch>,
    /// Observed transfers and the ids of their legs.
    transfers: BTreeMap<TransferRef, Vec<u64>>,
    observed: BTreeMap<u64, ObservedLeg>,
    next_observed: u64,
    /// Observed legs not linked yet, oldest block first.
    open_observed: HashMap<LegKey, BTreeSet<(u64, u64)>>,
    /// Movement legs by (sequence number, posting index).
    legs: BTreeMap<(u64, u16), MovementLeg>,
    /// Movement legs not confirmed yet, oldest first.
    open_legs: HashMap<LegKey, BTreeSet<(u64, u16)>>,
    runs: Vec<RunRecord>,
    exceptions: Vec<Exception>,
    /// Unresolved exceptions by subject.
    open_subjects: HashMap<String, u64>,
    /// Unresolved, unescalated exceptions by due time.
    due: BTreeSet<(Timestamp, u64)>,
}

impl Oversight {
    /// For a restored checkpoint: exceptions are numbered from 1 in order, and what names one
    /// names one held; runs are in id order (they are looked up by binary search); every leg
    /// waiting to be linked is held, and every leg names a wallet and an asset the state holds
    /// (linking and rolling back look them up).
    pub(super) fn check_indexes(
        &self,
        wallets: usize,
        assets: usize,
        wallet_known: impl Fn(&crate::ids::WalletId) -> bool,
        asset_known: impl Fn(&crate::ids::AssetId) -> bool,
    ) -> Result<(), String> {
        let key_ok = |&(wallet, asset, _, _): &LegKey| (wallet as usize) < wallets && (asset as usize) < assets;
        let waiting_held =
            self.open_observed.iter().all(|(key, set)| key_ok(key) && set.iter().all(|(_, id)| self.observed.contains_key(id)))
                && self.open_legs.iter().all(|(key, set)| key_ok(key) && set.iter().all(|position| self.legs.contains_key(position)));
        if !waiting_held {
            return Err("a chain leg waiting to be linked is not held".into());
        }
        let named_ok = self.legs.values().all(|leg| wallet_known(&leg.wallet) && asset_known(&leg.asset))
            && self.observed.values().all(|leg| wallet_known(&leg.wallet) && asset_known(&leg.asset));
        if !named_ok {
            return Err("a chain leg names a wallet or an asset the state does not hold".into());
        }
        if self.exceptions.iter().enumerate().any(|(i, exception)| exception.id != i as u64 + 1) {
            return Err("the exceptions are not numbered 1, 2, 3… in order".into());
        }
        let held = |id: u64| id >= 1 && id <= self.exceptions.len() as u64;
        if !self.open_subjects.values().chain(self.due.iter().map(|(_, id)| id)).all(|&id| held(id)) {
            return Err("an open exception is not held".into());
        }
        if !self.runs.windows(2).all(|pair| pair[0].id < pair[1].id) {
            return Err("the reconciliation runs are not in id order".into());
        }
        Ok(())
    }
}

fn text_problem(name: &str, value: &str, required: bool) -> Option<String> {
    if required && value.trim().is_empty() {
        return Some(format!("{name} is empty; say why"));
    }
    if value.len() > TEXT_BYTES_MAX {
        return Some(format!("{name} is {} bytes; at most {TEXT_BYTES_MAX}", value.len()));
    }
    None
}

impl Register {
    // ----- reads ---------------------------------------------------------------------

    /// The exception policy in force (the default until one is set) and the entry that set it.
    pub fn exception_policy(&self) -> (ExceptionPolicy, Option<u64>) {
        match &self.oversight.policy {
            Some(policy) => (policy.value, Some(policy.seq)),
            None => (ExceptionPolicy::default(), None),
        }
    }

    /// The chains watched, by name.
    pub fn chain_watches(&self) -> impl Iterator<Item = &ChainWatch> {
        self.oversight.chains.values()
    }

    pub fn chain_watch(&self, chain: &str) -> Option<&ChainWatch> {
        self.oversight.chains.get(chain)
    }

    /// Observed legs of transfers, in ingestion order.
    pub fn observed_legs(&self) -> impl Iterator<Item = &ObservedLeg> {
        self.oversight.observed.values()
    }

    /// Movement legs that expect a chain transfer, in journal order.
    pub fn movement_legs(&self) -> impl Iterator<Item = &MovementLeg> {
        self.oversight.legs.values()
    }

    /// Every recorded run, oldest first.
    pub fn recon_runs(&self) -> &[RunRecord] {
        &self.oversight.runs
    }

    pub fn recon_run(&self, id: u64) -> Option<&RunRecord> {
        let index = self.oversight.runs.binary_search_by_key(&id, |run| run.id).ok()?;
        Some(&self.oversight.runs[index])
    }

    /// Every exception, in the order opened.
    pub fn exceptions(&self) -> &[Exception] {
        &self.oversight.exceptions
    }

    pub fn exception(&self, id: u64) -> Option<&Exception> {
        id.checked_sub(1).and_then(|index| self.oversight.exceptions.get(index as usize))
    }

    /// Unresolved exceptions past their due time and not escalated yet, at `now`.
    pub fn overdue_exceptions(&self, now: Timestamp) -> Vec<u64> {
        self.oversight.due.range(..=(now, u64::MAX)).map(|&(_, id)| id).collect()
    }

    // ----- commands ------------------------------------------------------------------

    /// Decides the oversight commands; `None` for any other.
    pub(super) fn watch_chain(&mut self, chain: &str, from_block: u64) -> Check<Outcome> {
        if !chain.starts_with("eip155:") || chain.len() > CHAIN_BYTES_MAX || chain[7..].parse::<u64>().is_err() {
            return reject(Status::InvalidObservation, format!("chain {chain:?} is not eip155:<chain id>; only EVM chains are watched"));
        }
        if let Some(watch) = self.oversight.chains.get(chain) {
            if watch.from_block == from_block {
                return Ok(Outcome::already_exists(watch.since_seq));
            }
            return reject(
                Status::EntityConflict,
                format!("chain {chain} is watched from block {} already; a watch is not moved", watch.from_block),
            );
        }
        let seq = self.next_seq();
        self.oversight
            .chains
            .insert(chain.to_owned(), ChainWatch { chain: chain.to_owned(), from_block, since_seq: seq, tracked: Vec::new() });
        Ok(Outcome::accepted(seq))
    }

    pub(super) fn observe_chain(&mut self, observation: &ChainObservation) -> Check<Outcome> {
        let chain = &observation.chain;
        let Some(watch) = self.oversight.chains.get(chain) else {
            return reject(Status::UnknownChain, format!("chain {chain} is not watched; watch it first"));
        };
        let invalid = |detail: String| reject(Status::InvalidObservation, format!("observation of {chain}: {detail}"));
        if observation.tracked.len() > TRACKED_BLOCKS_MAX {
            return invalid(format!("{} tracked blocks; at most {TRACKED_BLOCKS_MAX}", observation.tracked.len()));
        }
        if observation.transfers.len() > TRANSFERS_MAX {
            return invalid(format!("{} transfers; at most {TRANSFERS_MAX}", observation.transfers.len()));
        }
        if observation.tracked.windows(2).any(|pair| pair[1].number != pair[0].number + 1 || pair[1].parent_hash != pair[0].hash) {
            return invalid("the tracked blocks are not consecutive".to_owned());
        }
        if let Some(from) = observation.orphaned_from
            && from < watch.from_block
        {
            return invalid(format!("block {from} is orphaned, below block {} where the watch began", watch.from_block));
        }
        // New transfers come from blocks after those kept (after the roll-back), up to the
        // newest tracked block.
        let kept_through = match observation.orphaned_from {
            Some(from) => from.checked_sub(1),
            None => watch.tracked.last().map(|block| block.number).or(watch.from_block.checked_sub(1)),
        };
        let newest = observation.tracked.last().map(|block| block.number).or(kept_through);
        for transfer in &observation.transfers {
            let fresh = kept_through.is_none_or(|kept| transfer.block_number > kept) && transfer.block_number >= watch.from_block;
            if !fresh || newest.is_none_or(|newest| transfer.block_number > newest) {
                return invalid(format!("a transfer in block {} is outside the blocks this observation covers", transfer.block_number));
            }
            if transfer.amount.is_zero() {
                return invalid(format!("a transfer of zero in block {}", transfer.block_number));
            }
            if transfer.asset.chain() != chain || transfer.from.chain() != chain || transfer.to.chain() != chain {
                return invalid(format!("a transfer in block {} is not on {chain}", transfer.block_number));
            }
            if !self.asset_index.contains_key(&transfer.asset) {
                return reject(Status::UnknownAsset, format!("asset {} is not registered", transfer.asset));
            }
        }
        let timestamps: HashMap<u64, u64> = observation.tracked.iter().map(|block| (block.number, block.timestamp)).collect();
        let seq = self.next_seq();
        if let Some(from) = observation.orphaned_from {
            self.roll_back(chain, from);
        }
        for transfer in &observation.transfers {
            let reference = TransferRef {
                chain: chain.clone(),
                block_number: transfer.block_number,
                tx_hash: transfer.tx_hash,
                log_index: transfer.log_index,
            };
            if self.oversight.transfers.contains_key(&reference) {
                continue;
            }
            let asset = self.asset_index[&transfer.asset];
            let mut ids = Vec::new();
            for (address, direction) in [(&transfer.from, Direction::Outflow), (&transfer.to, Direction::Inflow)] {
                let Some(&wallet) = self.address_index.get(address.as_str()) else { continue };
                if self.wallets[wallet as usize].value.custodian != Custodian::InHouse {
                    continue;
                }
                let id = self.oversight.next_observed;
                self.oversight.next_observed += 1;
                let key = (wallet, asset, direction, transfer.amount.units());
                let mut leg = ObservedLeg {
                    transfer: reference.clone(),
                    wallet: self.wallets[wallet as usize].value.id.clone(),
                    direction,
                    asset: transfer.asset.clone(),
                    amount: transfer.amount,
                    block_timestamp: timestamps.get(&transfer.block_number).copied().unwrap_or(0),
                    linked: None,
                };
                let waiting = self.oversight.open_legs.get_mut(&key).and_then(|set| set.pop_first());
                if let Some(position) = waiting {
                    let movement = self.oversight.legs.get_mut(&position).expect("an open leg is recorded");
                    movement.confirmed_by = Some(reference.clone());
                    leg.linked = Some((movement.movement.clone(), position.0, position.1));
                } else {
                    self.oversight.open_observed.entry(key).or_default().insert((transfer.block_number, id));
                }
                self.oversight.observed.insert(id, leg);
                ids.push(id);
            }
            self.oversight.transfers.insert(reference, ids);
        }
        let watch = self.oversight.chains.get_mut(chain).expect("checked above");
        if let Some(from) = observation.orphaned_from {
            watch.tracked.retain(|block| block.number < from);
        }
        if !observation.tracked.is_empty() {
            watch.tracked = observation.tracked.clone();
        }
        Ok(Outcome::accepted(seq))
    }

    /// Drops the observations of `chain` from block `from` on; their links go back to waiting.
    fn roll_back(&mut self, chain: &str, from: u64) {
        let start = TransferRef { chain: chain.to_owned(), block_number: from, tx_hash: [0; 32], log_index: None };
        let orphaned: Vec<TransferRef> =
            self.oversight.transfers.range(start..).take_while(|(reference, _)| reference.chain == chain).map(|(r, _)| r.clone()).collect();
        for reference in orphaned {
            let ids = self.oversight.transfers.remove(&reference).unwrap_or_default();
            for id in ids {
                let Some(leg) = self.oversight.observed.remove(&id) else { continue };
                let wallet = self.wallet_index[&leg.wallet];
                let asset = self.asset_index[&leg.asset];
                let key = (wallet, asset, leg.direction, leg.amount.units());
                match leg.linked {
                    Some((_, seq, posting)) => {
                        if let Some(movement) = self.oversight.legs.get_mut(&(seq, posting)) {
                            movement.confirmed_by = None;
                            self.oversight.open_legs.entry(key).or_default().insert((seq, posting));
                        }
                    }
                    None => {
                        if let Some(set) = self.oversight.open_observed.get_mut(&key) {
                            set.remove(&(reference.block_number, id));
                        }
                    }
                }
            }
        }
    }

    /// After a movement is committed at `seq`: its holding postings on watched chains become
    /// legs, linked at once to a waiting observed transfer if one matches. A correction
    /// cancels the waiting legs of the movement it reverses.
    pub(super) fn link_movement(&mut self, seq: u64, movement: &Movement, resolved: &[Resolved]) {
        if self.oversight.chains.is_empty() {
            return;
        }
        if movement.kind == MovementKind::Correction {
            let Some(target) = movement.corrects.as_ref().and_then(|key| self.known_movement_seq(key)) else { return };
            let cancelled: Vec<((u64, u16), LegKey)> = self
                .oversight
                .legs
                .range((target, 0)..=(target, u16::MAX))
                .filter(|(_, leg)| leg.confirmed_by.is_none())
                .map(|(&position, leg)| {
                    (position, (self.wallet_index[&leg.wallet], self.asset_index[&leg.asset], leg.direction, leg.amount.units()))
                })
                .collect();
            for (position, key) in cancelled {
                self.oversight.legs.remove(&position);
                if let Some(set) = self.oversight.open_legs.get_mut(&key) {
                    set.remove(&position);
                }
            }
            return;
        }
        for (index, posting) in resolved.iter().enumerate() {
            let Slot::Holding(wallet) = posting.slot else { continue };
            let registered = &self.wallets[wallet as usize].value;
            if registered.custodian != Custodian::InHouse || !self.oversight.chains.contains_key(registered.address.chain()) {
                continue;
            }
            let direction = if posting.side == Side::Debit { Direction::Inflow } else { Direction::Outflow };
            let key = (wallet, posting.asset, direction, posting.amount);
            let position = (seq, index as u16);
            let mut leg = MovementLeg {
                movement: movement.key.clone(),
                seq,
                posting: index as u16,
                wallet: registered.id.clone(),
                direction,
                asset: self.assets[posting.asset as usize].value.id.clone(),
                amount: crate::amount::Amount::new(posting.amount),
                recorded_at: self.now.0,
                confirmed_by: None,
            };
            let waiting = self.oversight.open_observed.get_mut(&key).and_then(|set| set.pop_first());
            match waiting {
                Some((_, id)) => {
                    let observed = self.oversight.observed.get_mut(&id).expect("an open observed leg is recorded");
                    observed.linked = Some((movement.key.clone(), seq, index as u16));
                    leg.confirmed_by = Some(observed.transfer.clone());
                }
                None => {
                    self.oversight.open_legs.entry(key).or_default().insert(position);
                }
            }
            self.oversight.legs.insert(position, leg);
        }
    }

    /// An exception policy can be set: `Err` with `invalid_policy` or `already_exists`
    /// (also four-eyes control's precheck).
    pub(super) fn check_exception_policy(&self, policy: &ExceptionPolicy) -> Check<()> {
        if let Some(problem) = policy.problem() {
            return reject(Status::InvalidPolicy, problem);
        }
        if let Some(current) = &self.oversight.policy
            && current.value == *policy
        {
            return Err(Outcome::already_exists(current.seq));
        }
        Ok(())
    }

    pub(super) fn set_exception_policy(&mut self, policy: &ExceptionPolicy) -> Check<Outcome> {
        self.check_exception_policy(policy)?;
        let seq = self.next_seq();
        self.oversight.policy = Some(Registered { value: *policy, seq });
        Ok(Outcome::accepted(seq))
    }

    pub(super) fn record_run(&mut self, meta: &Meta, run: &ReconRun) -> Check<Outcome> {
        let invalid = |detail: String| reject(Status::InvalidRun, detail);
        if run.sources.len() > SOURCES_MAX {
            return invalid(format!("{} sources; at most {SOURCES_MAX}", run.sources.len()));
        }
        if run.breaks.len() > BREAKS_MAX {
            return invalid(format!("{} breaks; at most {BREAKS_MAX}", run.breaks.len()));
        }
        if run.matched > run.checked {
            return invalid(format!("{} matched of {} checked", run.matched, run.checked));
        }
        for source in &run.sources {
            let problem = match source {
                RunSource::Chain { chain, .. } => (chain.len() > CHAIN_BYTES_MAX).then(|| "a chain name is too long".to_owned()),
                RunSource::Unavailable { chain, reason } => (chain.len() > CHAIN_BYTES_MAX)
                    .then(|| "a chain name is too long".to_owned())
                    .or_else(|| text_problem("an unavailable source's reason", reason, true)),
                RunSource::Statement { sub_custodian, reference, file, .. } => {
                    if !self.sub_custodian_index.contains_key(sub_custodian) {
                        return reject(Status::UnknownSubCustodian, format!("sub-custodian {sub_custodian} is not registered"));
                    }
                    text_problem("a statement reference", reference, true).or_else(|| text_problem("a statement file name", file, true))
                }
            };
            if let Some(problem) = problem {
                return invalid(problem);
            }
        }
        for found in &run.breaks {
            if let Some(problem) =
                text_problem("a break's subject", &found.subject, true).or_else(|| text_problem("a break's detail", &found.detail, false))
            {
                return invalid(problem);
            }
        }
        let seq = self.next_seq();
        let opened = self.open_exceptions(seq, &run.breaks);
        self.oversight.runs.push(RunRecord {
            id: seq,
            actor: meta.actor.clone(),
            recorded_at: self.now.0,
            run: run.clone(),
            exceptions: opened,
        });
        Ok(Outcome::accepted(seq))
    }

    /// Opens an exception for each break at entry `seq`, or marks the unresolved one with the
    /// same subject as seen again. Returns the exceptions, in break order.
    pub(super) fn open_exceptions(&mut self, seq: u64, breaks: &[crate::oversight::Break]) -> Vec<u64> {
        let (policy, _) = self.exception_policy();
        let due_at = Timestamp::from_micros(self.now.0.micros().saturating_add(i64::from(policy.resolution_hours) * MICROS_PER_HOUR));
        let mut opened = Vec::with_capacity(breaks.len());
        for found in breaks {
            if let Some(&id) = self.oversight.open_subjects.get(&found.subject) {
                let exception = &mut self.oversight.exceptions[(id - 1) as usize];
                if exception.seen_again.last() != Some(&seq) && exception.run != seq {
                    exception.seen_again.push(seq);
                }
                opened.push(id);
                continue;
            }
            let id = self.oversight.exceptions.len() as u64 + 1;
            self.oversight.exceptions.push(Exception {
                id,
                kind: found.kind,
                severity: found.severity,
                subject: found.subject.clone(),
                detail: found.detail.clone(),
                run: seq,
                seen_again: Vec::new(),
                opened_at: self.now.0,
                due_at,
                state: ExceptionState::Open,
                investigator: None,
                proposal: None,
                rejections: Vec::new(),
                resolved: None,
                escalated: None,
            });
            self.oversight.open_subjects.insert(found.subject.clone(), id);
            self.oversight.due.insert((due_at, id));
            opened.push(id);
        }
        opened
    }

    /// Whether an unresolved exception has this subject.
    pub(super) fn exception_open_for(&self, subject: &str) -> bool {
        self.oversight.open_subjects.contains_key(subject)
    }

    fn exception_mut(&mut self, id: u64) -> Check<&mut Exception> {
        match id.checked_sub(1).and_then(|index| self.oversight.exceptions.get_mut(index as usize)) {
            Some(exception) => Ok(exception),
            None => reject(Status::UnknownException, format!("exception {id} does not exist")),
        }
    }

    pub(super) fn investigate(&mut self, meta: &Meta, id: u64) -> Check<Outcome> {
        let exception = self.exception_mut(id)?;
        match exception.state {
            ExceptionState::Open => {}
            ExceptionState::Investigating if exception.investigator.as_ref() == Some(&meta.actor) => {
                return reject(Status::ExceptionState, format!("exception {id} is investigated by {} already", meta.actor));
            }
            ExceptionState::Investigating => {}
            state => {
                return reject(Status::ExceptionState, format!("exception {id} is {}; only an open one is taken up", state.code()));
            }
        }
        let seq = self.next_seq();
        let exception = self.exception_mut(id)?;
        exception.state = ExceptionState::Investigating;
        exception.investigator = Some(meta.actor.clone());
        Ok(Outcome::accepted(seq))
    }

    pub(super) fn propose_resolution(&mut self, meta: &Meta, id: u64, reason: &str, resolution: &Resolution) -> Check<Outcome> {
        if let Some(problem) = text_problem("the reason", reason, true) {
            return reject(Status::InvalidResolution, problem);
        }
        match resolution {
            Resolution::Explanation(text) => {
                if let Some(problem) = text_problem("the explanation", text, true) {
                    return reject(Status::InvalidResolution, problem);
                }
            }
            Resolution::Movement(key) => {
                if self.known_movement_seq(key).is_none() {
                    return reject(
                        Status::UnknownMovement,
                        format!("movement {key} is not recorded; record the correcting movement first"),
                    );
                }
            }
        }
        let exception = self.exception_mut(id)?;
        if exception.state != ExceptionState::Investigating {
            return reject(
                Status::ExceptionState,
                format!("exception {id} is {}; a resolution is proposed while it is investigated", exception.state.code()),
            );
        }
        if exception.investigator.as_ref() != Some(&meta.actor) {
            return reject(
                Status::ExceptionState,
                format!(
                    "exception {id} is investigated by {}; the investigator proposes its resolution",
                    exception.investigator.as_ref().map_or("nobody", |a| a.as_str())
                ),
            );
        }
        let seq = self.next_seq();
        let exception = self.exception_mut(id)?;
        exception.state = ExceptionState::Proposed;
        exception.proposal = Some(Proposal { by: meta.actor.clone(), seq, reason: reason.to_owned(), resolution: resolution.clone() });
        Ok(Outcome::accepted(seq))
    }

    fn check_reviewer(&mut self, meta: &Meta, id: u64) -> Check<()> {
        let exception = self.exception_mut(id)?;
        if exception.state != ExceptionState::Proposed {
            return reject(
                Status::ExceptionState,
                format!("exception {id} is {}; there is no proposed resolution to review", exception.state.code()),
            );
        }
        if exception.investigator.as_ref() == Some(&meta.actor) {
            return reject(
                Status::InvestigatorCannotApprove,
                format!("{} investigated exception {id}; someone else reviews its resolution", meta.actor),
            );
        }
        Ok(())
    }

    pub(super) fn approve_resolution(&mut self, meta: &Meta, id: u64) -> Check<Outcome> {
        self.check_reviewer(meta, id)?;
        let seq = self.next_seq();
        let now = self.now.0;
        let exception = self.exception_mut(id)?;
        exception.state = ExceptionState::Resolved;
        exception.resolved = Some((meta.actor.clone(), seq, now));
        let (subject, due_at, escalated) = (exception.subject.clone(), exception.due_at, exception.escalated.is_some());
        self.oversight.open_subjects.remove(&subject);
        if !escalated {
            self.oversight.due.remove(&(due_at, id));
        }
        Ok(Outcome::accepted(seq))
    }

    pub(super) fn reject_resolution(&mut self, meta: &Meta, id: u64, reason: &str) -> Check<Outcome> {
        if let Some(problem) = text_problem("the reason", reason, true) {
            return reject(Status::InvalidResolution, problem);
        }
        self.check_reviewer(meta, id)?;
        let seq = self.next_seq();
        let exception = self.exception_mut(id)?;
        exception.state = ExceptionState::Investigating;
        exception.proposal = None;
        exception.rejections.push((meta.actor.clone(), reason.to_owned()));
        Ok(Outcome::accepted(seq))
    }

    pub(super) fn escalate(&mut self, id: u64) -> Check<Outcome> {
        let now = self.now.0;
        let exception = self.exception_mut(id)?;
        if let Some((seq, _)) = exception.escalated {
            return Ok(Outcome::already_exists(seq));
        }
        if exception.is_resolved() {
            return reject(Status::ExceptionState, format!("exception {id} is resolved; it is not escalated"));
        }
        if now < exception.due_at {
            return reject(Status::ExceptionNotDue, format!("exception {id} is due at {}; it is escalated only after", exception.due_at));
        }
        let due_at = exception.due_at;
        let seq = self.next_seq();
        let exception = self.exception_mut(id)?;
        exception.escalated = Some((seq, now));
        self.oversight.due.remove(&(due_at, id));
        Ok(Outcome::accepted(seq))
    }

    /// Movement legs waiting for their chain transfer, recorded at or before `before`.
    pub fn unconfirmed_legs(&self, before: Timestamp) -> impl Iterator<Item = &MovementLeg> {
        self.oversight.legs.values().filter(move |leg| leg.confirmed_by.is_none() && leg.recorded_at <= before)
    }

    /// Observed legs that no movement explains.
    pub fn unmatched_legs(&self) -> impl Iterator<Item = &ObservedLeg> {
        self.oversight.observed.values().filter(|leg| leg.linked.is_none())
    }
}
