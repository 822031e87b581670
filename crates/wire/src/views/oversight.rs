//! Exceptions: what `ringfence exceptions show|list --json` print and `GET /v1/exceptions` and
//! `GET /v1/exceptions/{id}` return, with the OpenAPI schema taken from the same structs; the
//! CLI's text is rendered from their fields.

use ringfence_core::register::RunRecord;
use ringfence_core::{Exception, ExceptionKind, ExceptionState, Register, Resolution, RunSource, Severity, Timestamp};
use serde::Serialize;
use utoipa::ToSchema;

use super::{code, hex, optional_code};
use crate::clock;

/// An exception and its history.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExceptionView {
    /// 1, 2, 3… in the order opened.
    pub id: u64,
    #[serde(serialize_with = "code")]
    #[schema(value_type = crate::schema::ExceptionKindCode)]
    pub kind: ExceptionKind,
    #[serde(serialize_with = "code")]
    #[schema(value_type = crate::schema::SeverityCode)]
    pub severity: Severity,
    #[serde(serialize_with = "code")]
    #[schema(value_type = crate::schema::ExceptionStateCode)]
    pub state: ExceptionState,
    pub subject: String,
    pub detail: String,
    /// The run that opened it.
    pub run: u64,
    /// The runs that saw it again since.
    pub seen_again: Vec<u64>,
    pub opened_at: String,
    pub due_at: String,
    /// Unresolved and past its due time.
    pub overdue: bool,
    /// Opened by a safeguarding check whose breach no longer stands: the cause is cured, and
    /// the exception waits for a person's resolution note (it never closes by itself).
    pub cause_cured: bool,
    pub escalated_at: Option<String>,
    pub escalated_seq: Option<u64>,
    pub investigator: Option<String>,
    pub proposal: Option<ProposalView>,
    /// Proposals rejected before, oldest first.
    pub rejections: Vec<RejectionView>,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<String>,
    pub resolved_seq: Option<u64>,
}

/// A proposed (or, once resolved, the accepted) resolution.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProposalView {
    pub by: String,
    pub seq: u64,
    pub reason: String,
    /// The correcting movement's key, or null.
    pub movement: Option<String>,
    /// Why no movement is needed, or null.
    pub explanation: Option<String>,
}

/// A rejected proposal: who rejected it and why.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RejectionView {
    pub by: String,
    pub reason: String,
}

/// Unresolved and past its due time at `now`.
pub fn is_overdue(exception: &Exception, now: Timestamp) -> bool {
    !exception.is_resolved() && exception.due_at <= now
}

impl ExceptionView {
    pub fn of(register: &ringfence_core::Register, exception: &Exception, now: Timestamp) -> ExceptionView {
        let proposal = exception.proposal.as_ref().map(|p| {
            let (movement, explanation) = match &p.resolution {
                Resolution::Movement(key) => (Some(key.as_str().to_owned()), None),
                Resolution::Explanation(text) => (None, Some(text.clone())),
            };
            ProposalView { by: p.by.as_str().to_owned(), seq: p.seq, reason: p.reason.clone(), movement, explanation }
        });
        ExceptionView {
            id: exception.id,
            kind: exception.kind,
            severity: exception.severity,
            state: exception.state,
            subject: exception.subject.clone(),
            detail: exception.detail.clone(),
            run: exception.run,
            seen_again: exception.seen_again.clone(),
            opened_at: clock::format(exception.opened_at),
            due_at: clock::format(exception.due_at),
            overdue: is_overdue(exception, now),
            cause_cured: register.safeguard_cause_cured(exception, now),
            escalated_at: exception.escalated.map(|(_, at)| clock::format(at)),
            escalated_seq: exception.escalated.map(|(seq, _)| seq),
            investigator: exception.investigator.as_ref().map(|a| a.as_str().to_owned()),
            proposal,
            rejections: exception
                .rejections
                .iter()
                .map(|(by, reason)| RejectionView { by: by.as_str().to_owned(), reason: reason.clone() })
                .collect(),
            resolved_by: exception.resolved.as_ref().map(|(by, _, _)| by.as_str().to_owned()),
            resolved_at: exception.resolved.as_ref().map(|(_, _, at)| clock::format(*at)),
            resolved_seq: exception.resolved.as_ref().map(|(_, seq, _)| *seq),
        }
    }
}

/// What a reconciliation run read. The fields are in alphabetical order, the order the
/// evidence report has always written them in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(untagged)]
pub enum SourceView {
    /// Balances read from a chain at a block (the last at or before the cut-off).
    Chain {
        /// `0x` and the block hash in hex.
        block_hash: String,
        block_number: u64,
        block_time: String,
        chain: String,
        /// `chain`.
        #[schema(value_type = String)]
        kind: &'static str,
    },
    /// A chain whose node could not be read: its wallets are unknown, never zero.
    Unavailable {
        chain: String,
        /// `unavailable`.
        #[schema(value_type = String)]
        kind: &'static str,
        reason: String,
    },
    /// A sub-custodian statement and the SHA-256 of the file as imported.
    Statement {
        file: String,
        /// `statement`.
        #[schema(value_type = String)]
        kind: &'static str,
        reference: String,
        rows: u64,
        sha256: String,
        sub_custodian: String,
    },
}

impl SourceView {
    pub fn of(source: &RunSource) -> SourceView {
        match source {
            RunSource::Chain { chain, block } => SourceView::Chain {
                block_hash: format!("0x{}", hex(&block.hash)),
                block_number: block.number,
                block_time: clock::format(Timestamp::from_micros(
                    i64::try_from(block.timestamp).unwrap_or(i64::MAX / 1_000_000).saturating_mul(1_000_000),
                )),
                chain: chain.clone(),
                kind: "chain",
            },
            RunSource::Unavailable { chain, reason } => {
                SourceView::Unavailable { chain: chain.clone(), kind: "unavailable", reason: reason.clone() }
            }
            RunSource::Statement { sub_custodian, reference, file, sha256, rows } => SourceView::Statement {
                file: file.clone(),
                kind: "statement",
                reference: reference.clone(),
                rows: *rows,
                sha256: hex(sha256),
                sub_custodian: sub_custodian.as_str().to_owned(),
            },
        }
    }
}

/// What every view of a recorded run shows.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunHead {
    /// The run's id: the sequence number of its journal entry.
    pub id: u64,
    pub recorded_at: String,
    /// Who made the run (`ringfence` for the daily run).
    pub ran_by: String,
    pub cut_off: String,
    /// No breaks, and every source was read.
    pub clean: bool,
    /// What was read: a chain at a block, a chain that could not be read, a statement.
    pub sources: Vec<SourceView>,
    /// Comparisons made, and how many matched.
    pub checked: u64,
    pub matched: u64,
    /// Hex SHA-256 of the run's full report.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub report_sha256: String,
}

impl RunHead {
    fn of(record: &RunRecord) -> RunHead {
        RunHead {
            id: record.id,
            recorded_at: clock::format(record.recorded_at),
            ran_by: record.actor.as_str().to_owned(),
            cut_off: clock::format(record.run.cut_off),
            clean: record.run.is_clean(),
            sources: record.run.sources.iter().map(SourceView::of).collect(),
            checked: record.run.checked,
            matched: record.run.matched,
            report_sha256: hex(&record.run.report_sha256),
        }
    }
}

/// A recorded reconciliation run with its breaks: `GET /v1/recon/runs/{id}`, `POST
/// /v1/recon/runs`, `ringfence recon show --json`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunView {
    #[serde(flatten)]
    pub head: RunHead,
    pub breaks: Vec<BreakView>,
}

/// A run in a list (`GET /v1/recon/runs`): the number of breaks instead of the breaks.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunSummaryView {
    #[serde(flatten)]
    pub head: RunHead,
    pub break_count: u64,
}

/// One break of a run and the exception it opened (or saw again).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BreakView {
    pub exception: u64,
    #[serde(serialize_with = "code")]
    #[schema(value_type = crate::schema::ExceptionKindCode)]
    pub kind: ExceptionKind,
    #[serde(serialize_with = "code")]
    #[schema(value_type = crate::schema::SeverityCode)]
    pub severity: Severity,
    pub subject: String,
    pub detail: String,
    /// The exception's state now.
    #[schema(value_type = Option<crate::schema::ExceptionStateCode>)]
    #[serde(serialize_with = "optional_code")]
    pub state: Option<ExceptionState>,
}

impl RunView {
    pub fn of(register: &Register, record: &RunRecord) -> RunView {
        let breaks = record
            .run
            .breaks
            .iter()
            .zip(&record.exceptions)
            .map(|(found, exception)| BreakView {
                exception: *exception,
                kind: found.kind,
                severity: found.severity,
                subject: found.subject.clone(),
                detail: found.detail.clone(),
                state: register.exception(*exception).map(|e| e.state),
            })
            .collect();
        RunView { head: RunHead::of(record), breaks }
    }
}

impl RunSummaryView {
    pub fn of(record: &RunRecord) -> RunSummaryView {
        RunSummaryView { head: RunHead::of(record), break_count: record.run.breaks.len() as u64 }
    }
}

/// A watched chain: where its watch started, the next block to ingest, and what is still
/// unconfirmed or unmatched (`chain status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ChainWatchView {
    /// The CAIP-2 chain id.
    pub chain: String,
    pub from_block: u64,
    pub next_block: u64,
    /// Movement legs on this chain not yet seen on it.
    pub unconfirmed_legs: usize,
    /// Of those, the ones older than the exception policy's confirmation clock.
    pub unconfirmed_past_limit: usize,
    /// Transfers seen on the chain that match no movement.
    pub unmatched_transfers: usize,
}

impl ChainWatchView {
    /// Every watched chain, at `now`.
    pub fn all(register: &Register, now: Timestamp) -> Vec<ChainWatchView> {
        let (policy, _) = register.exception_policy();
        let limit = Timestamp::from_micros(now.micros().saturating_sub(i64::from(policy.confirmation_hours) * 3_600_000_000));
        register
            .chain_watches()
            .map(|watch| ChainWatchView {
                chain: watch.chain.clone(),
                from_block: watch.from_block,
                next_block: watch.next_block(),
                unconfirmed_legs: register.unconfirmed_legs(Timestamp::MAX).filter(|l| l.asset.chain() == watch.chain).count(),
                unconfirmed_past_limit: register.unconfirmed_legs(limit).filter(|l| l.asset.chain() == watch.chain).count(),
                unmatched_transfers: register.unmatched_legs().filter(|l| l.transfer.chain == watch.chain).count(),
            })
            .collect()
    }
}

/// A reconciliation report's findings (`docs/statement-format.md#the-report`): the count per
/// severity, the worst severity, and every finding in the report's order. The fields of this
/// struct and of those below are in alphabetical order, the order the report has always been
/// written in: a report's SHA-256 is journaled, so its bytes must not move.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FindingsView {
    pub counts: SeverityCountsView,
    pub findings: Vec<FindingView>,
    /// `info`, `warning` or `critical`.
    pub worst: &'static str,
}

/// How many findings have each severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct SeverityCountsView {
    pub critical: usize,
    pub info: usize,
    pub warning: usize,
}

/// One finding of a reconciliation: the CSV report's columns, empty ones null; amounts in the
/// smallest unit, a delta with `-` when negative.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FindingView {
    pub asset: String,
    pub check: &'static str,
    pub client: Option<String>,
    pub delta: Option<String>,
    pub detail: Option<String>,
    pub observed: Option<String>,
    pub register: Option<String>,
    pub severity: &'static str,
    pub source: Option<String>,
    pub verdict: &'static str,
    pub wallet: Option<String>,
}

/// The whole report of a run as kept in the evidence directory (`report-SHA256.json`): the
/// cut-off, what was read, and the findings. Its SHA-256 is the run's `report_sha256`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct EvidenceReportView {
    pub counts: SeverityCountsView,
    pub cut_off: String,
    pub findings: Vec<FindingView>,
    pub sources: Vec<SourceView>,
    pub worst: &'static str,
}

impl EvidenceReportView {
    pub fn of(cut_off: Timestamp, sources: &[RunSource], findings: FindingsView) -> EvidenceReportView {
        EvidenceReportView {
            counts: findings.counts,
            cut_off: clock::format(cut_off),
            findings: findings.findings,
            sources: sources.iter().map(SourceView::of).collect(),
            worst: findings.worst,
        }
    }
}
