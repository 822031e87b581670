//! Linkage findings: what the chain shows and the register does not, and the reverse, as at a
//! cut-off. The links themselves are made in the register as observations and movements are
//! journaled (see `ringfence_core::oversight`); this reads what is left unlinked.

use std::sync::Arc;

use ringfence_core::{Direction, Register, Timestamp};

use crate::reconcile::{Check, Finding, Severity, Verdict};

const MICROS_PER_HOUR: i64 = 3_600_000_000;

/// The linkage findings at `cut_off`, given how long a leg may wait (`confirmation_hours`):
/// - a transfer out of a **client-class** wallet that no movement explains: critical at once
///   (potential misappropriation);
/// - a transfer into a wallet, or out of a firm wallet, unexplained for longer than the
///   confirmation time: a warning;
/// - a movement leg not confirmed on chain for longer than the confirmation time: a warning.
///
/// Transfers in blocks after the cut-off and legs recorded after it are left out. In journal
/// order (movements) and chain order (transfers).
pub fn linkage(register: &Register, cut_off: Timestamp, confirmation_hours: u32) -> Vec<Finding> {
    let limit = Timestamp::from_micros(cut_off.micros().saturating_sub(i64::from(confirmation_hours) * MICROS_PER_HOUR));
    let cut_off_seconds = u64::try_from(cut_off.micros().div_euclid(1_000_000)).unwrap_or(0);
    let limit_seconds = u64::try_from(limit.micros().div_euclid(1_000_000)).unwrap_or(0);
    let mut findings = Vec::new();
    for leg in register.unmatched_legs() {
        if leg.block_timestamp > cut_off_seconds {
            continue;
        }
        let client_class = register.wallet(&leg.wallet).is_some_and(|wallet| wallet.class.kind().is_client());
        let (verdict, severity, detail) = match leg.direction {
            Direction::Outflow if client_class => (
                Verdict::UnmatchedOutflow,
                Severity::Critical,
                format!("{} left client wallet {} on chain and no movement records it: potential misappropriation", leg.amount, leg.wallet),
            ),
            _ if leg.block_timestamp > limit_seconds => continue,
            Direction::Outflow => (
                Verdict::UnmatchedOutflow,
                Severity::Warning,
                format!("{} left firm wallet {} on chain and no movement records it after {confirmation_hours} h", leg.amount, leg.wallet),
            ),
            Direction::Inflow => (
                Verdict::UnmatchedInflow,
                Severity::Warning,
                format!("{} arrived in wallet {} on chain and no movement records it after {confirmation_hours} h", leg.amount, leg.wallet),
            ),
        };
        findings.push(Finding {
            check: Check::Linkage,
            verdict,
            severity,
            asset: leg.asset.clone(),
            wallet: Some(leg.wallet.clone()),
            client: None,
            register: None,
            observed: Some(leg.amount),
            delta: None,
            source: Some(Arc::from(leg.transfer.to_string())),
            detail,
        });
    }
    for leg in register.unconfirmed_legs(limit) {
        findings.push(Finding {
            check: Check::Linkage,
            verdict: Verdict::Unconfirmed,
            severity: Severity::Warning,
            asset: leg.asset.clone(),
            wallet: Some(leg.wallet.clone()),
            client: None,
            register: Some(leg.amount),
            observed: None,
            delta: None,
            source: Some(Arc::from(format!("movement {} posting {}", leg.movement, leg.posting))),
            detail: format!(
                "the {} of {} recorded by movement {} has no chain transfer after {confirmation_hours} h",
                leg.direction.code(),
                leg.amount,
                leg.movement
            ),
        });
    }
    findings
}
