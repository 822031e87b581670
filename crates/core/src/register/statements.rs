//! Statements issued to clients (issue 17): a statement issue is accepted for a registered
//! client, a period that has ended by the time it is recorded, and an entry the journal holds;
//! the same statement twice is `already_exists`, a new one for the same period (after a
//! correction) is recorded beside it.

use std::collections::{BTreeMap, BTreeSet};

use super::{Check, Register, reject};
use crate::ids::ClientId;
use crate::movement::{Account, Movement, MovementKind, Side};
use crate::statement::{IssuedPack, IssuedStatement, LossEvent, PackIssue, StatementIssue};
use crate::status::{Outcome, Status};
use crate::time::Timestamp;

/// Checks recorded from 2026-12-08T00:00:00Z on find clients whose statements are overdue
/// (issue 17); a check recorded before keeps the decisions it had. A client's first statement
/// is due an interval after its registration or this instant, whichever is later: ringfence
/// could not record statements sent before it.
pub const ISSUE_17_RULES_FROM: Timestamp = Timestamp::from_micros(1_796_688_000_000_000);

/// From when each client's next statement is counted: its registration (or
/// [`ISSUE_17_RULES_FROM`]), then the end of the latest period issued to it; by client index,
/// and ordered by that instant for the overdue check.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(super) struct StatementClock {
    since: Vec<Timestamp>,
    by_since: BTreeSet<(Timestamp, u32)>,
}

impl StatementClock {
    pub(super) fn registered(&mut self, client: u32, at: Timestamp) {
        let since = at.max(ISSUE_17_RULES_FROM);
        self.since.push(since);
        self.by_since.insert((since, client));
    }

    fn issued(&mut self, client: u32, to: Timestamp) {
        if let Some(since) = self.since.get_mut(client as usize)
            && to > *since
        {
            self.by_since.remove(&(*since, client));
            *since = to;
            self.by_since.insert((to, client));
        }
    }

    /// Clients counted from before `limit`, oldest first.
    pub(super) fn before(&self, limit: Timestamp) -> impl Iterator<Item = (Timestamp, u32)> + '_ {
        self.by_since.range(..(limit, 0)).copied()
    }

    pub(super) fn check(&self, clients: usize) -> Result<(), String> {
        let consistent = self.since.len() == clients
            && self.by_since.len() == clients
            && self.by_since.iter().all(|&(since, client)| self.since.get(client as usize) == Some(&since));
        if consistent { Ok(()) } else { Err("the statement clock does not match the clients held".into()) }
    }
}

/// Statements issued, by client, in issue order.
pub(super) type Statements = BTreeMap<ClientId, Vec<IssuedStatement>>;

impl Register {
    pub(super) fn check_statement(&self, issue: &StatementIssue) -> Check<()> {
        if let Some(same) = self.statements.get(&issue.client).and_then(|issued| issued.iter().find(|s| s.issue == *issue)) {
            return Err(Outcome::already_exists(same.seq));
        }
        if !self.client_index.contains_key(&issue.client) {
            return reject(Status::UnknownClient, format!("client {} is not registered", issue.client));
        }
        if issue.from > issue.to {
            return reject(
                Status::InvalidStatement,
                format!("a statement from {} to {}: its period ends before it starts", issue.from, issue.to),
            );
        }
        if issue.to > *self.now {
            return reject(
                Status::InvalidStatement,
                format!("a statement for a period ending {}, after it is issued ({})", issue.to, *self.now),
            );
        }
        if issue.as_of > self.seq {
            return reject(
                Status::InvalidStatement,
                format!("a statement reflecting entry {}, which the journal does not hold yet (it ends at {})", issue.as_of, self.seq),
            );
        }
        Ok(())
    }

    pub(super) fn commit_statement(&mut self, issue: &StatementIssue) -> Outcome {
        let seq = self.next_seq();
        let recorded_at = *self.now;
        if let Some(&client) = self.client_index.get(&issue.client) {
            self.statement_clock.issued(client, issue.to);
        }
        self.statements.entry(issue.client.clone()).or_default().push(IssuedStatement { issue: issue.clone(), seq, recorded_at });
        Outcome::accepted(seq)
    }

    /// The statements issued to `client`, in issue order.
    pub fn statements_of(&self, client: &ClientId) -> &[IssuedStatement] {
        self.statements.get(client).map_or(&[], Vec::as_slice)
    }

    /// Every client's issued statements.
    pub fn issued_statements(&self) -> impl Iterator<Item = (&ClientId, &[IssuedStatement])> {
        self.statements.iter().map(|(client, issued)| (client, issued.as_slice()))
    }

    /// Every statement names a registered client and an entry the journal holds.
    pub(super) fn check_statements(&self) -> Result<(), String> {
        self.statement_clock.check(self.clients.len())?;
        for (client, issued) in &self.statements {
            if !self.client_index.contains_key(client) || issued.is_empty() {
                return Err(format!("statements are filed under client {client}, which the state does not hold"));
            }
            if issued.iter().any(|s| s.issue.client != *client || s.seq > self.seq || s.issue.as_of >= s.seq) {
                return Err(format!("a statement of client {client} is misfiled or reflects an entry after its own"));
            }
        }
        Ok(())
    }

    pub(super) fn check_pack(&self, issue: &PackIssue) -> Check<()> {
        if let Some(same) = self.packs.iter().find(|p| p.issue == *issue) {
            return Err(Outcome::already_exists(same.seq));
        }
        if issue.at > *self.now {
            return reject(Status::InvalidPack, format!("a pack at a cut-off of {}, after it is recorded ({})", issue.at, *self.now));
        }
        if issue.as_of == 0 || issue.as_of > self.seq {
            return reject(
                Status::InvalidPack,
                format!("a pack reflecting entry {}, which the journal does not hold (it ends at {})", issue.as_of, self.seq),
            );
        }
        Ok(())
    }

    pub(super) fn commit_pack(&mut self, issue: &PackIssue) -> Outcome {
        let seq = self.next_seq();
        self.packs.push(IssuedPack { issue: issue.clone(), seq, recorded_at: *self.now });
        Outcome::accepted(seq)
    }

    /// The insolvency packs recorded, in the order recorded.
    pub fn issued_packs(&self) -> &[IssuedPack] {
        &self.packs
    }

    /// Every pack reflects an entry before its own, and packs are in journal order.
    pub(super) fn check_packs(&self) -> Result<(), String> {
        let ordered = self.packs.windows(2).all(|pair| pair[0].seq < pair[1].seq);
        if !ordered || self.packs.iter().any(|p| p.seq > self.seq || p.issue.as_of >= p.seq) {
            return Err("an insolvency pack is out of order or reflects an entry after its own".into());
        }
        Ok(())
    }

    /// Records what a `loss` or `compensation` movement (or a correction of one) changes in
    /// what the firm owes each client for its losses.
    pub(super) fn record_loss(
        &mut self,
        seq: u64,
        meta: &crate::movement::Meta,
        movement: &Movement,
        corrects: Option<&crate::ids::IdempotencyKey>,
    ) {
        let event = |client: &crate::ids::ClientId, asset: &crate::ids::AssetId, amount: u128, owed: bool| LossEvent {
            seq,
            key: movement.key.clone(),
            effective_at: meta.effective_at,
            client: client.clone(),
            asset: asset.clone(),
            amount,
            owed,
        };
        let fresh: Vec<LossEvent> = match (movement.kind, corrects) {
            (MovementKind::Loss | MovementKind::Compensation, _) => {
                let (side, owed) = if movement.kind == MovementKind::Loss { (Side::Debit, true) } else { (Side::Credit, false) };
                movement
                    .postings
                    .iter()
                    .filter_map(|p| match &p.account {
                        Account::Position(client) if p.side == side => Some(event(client, &p.asset, p.amount.units(), owed)),
                        _ => None,
                    })
                    .collect()
            }
            (MovementKind::Correction, Some(target)) => {
                self.loss_events.iter().filter(|e| e.key == *target).map(|e| event(&e.client, &e.asset, e.amount, !e.owed)).collect()
            }
            _ => Vec::new(),
        };
        self.loss_events.extend(fresh);
    }

    /// Every change of what the firm owes clients for their losses, in journal order.
    pub fn loss_events(&self) -> &[LossEvent] {
        &self.loss_events
    }
}
