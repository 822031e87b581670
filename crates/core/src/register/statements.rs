//! Statements issued to clients (issue 17): a statement issue is accepted for a registered
//! client, a period that has ended by the time it is recorded, and an entry the journal holds;
//! the same statement twice is `already_exists`, a new one for the same period (after a
//! correction) is recorded beside it.

use std::collections::BTreeMap;

use super::{Check, Register, reject};
use crate::ids::ClientId;
use crate::statement::{IssuedStatement, StatementIssue};
use crate::status::{Outcome, Status};

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
}
