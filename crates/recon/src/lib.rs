//! Reconciliation of the register against what is observed outside it: sub-custodian
//! statements now, chain balances later. Pure computation: no IO except reading the statement
//! files it is given, and it decides nothing that is journaled.

pub mod linkage;
pub mod reconcile;
pub mod render;
pub mod statement;

pub use linkage::linkage;
pub use reconcile::{
    BalanceAt, Check, Delta, DuplicateObservation, Finding, Observation, Observations, Observed, Report, Severity, Verdict, reconcile,
    reconcile_at,
};
pub use statement::{LineProblem, StatedBalance, Statement, StatementError, StatementFormat};
