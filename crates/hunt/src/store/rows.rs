//! Reading runs and findings back from their SQLite rows.

use super::{FindingsError, RunSummary, StoredFinding, to_usize};
use crate::report::{RunStatus, TriageStatus, WindowSource};

pub(super) const RUN_COLUMNS: &str = "id, started_at, finished_at, status, now, now_mode, selection, rules_total, rules_ran, rules_skipped, rules_invalid, rules_failed, findings, new_findings, suppressed_findings, elapsed_ms, error";

pub(super) fn run_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RunSummary> {
    let status: String = r.get(3)?;
    Ok(RunSummary {
        id: r.get(0)?,
        started_at: r.get(1)?,
        finished_at: r.get(2)?,
        status: RunStatus::parse(&status).unwrap_or(RunStatus::Failed),
        now: r.get(4)?,
        now_mode: r.get(5)?,
        selection: r.get(6)?,
        rules_total: to_usize(r.get(7)?),
        rules_ran: to_usize(r.get(8)?),
        rules_skipped: to_usize(r.get(9)?),
        rules_invalid: to_usize(r.get(10)?),
        rules_failed: to_usize(r.get(11)?),
        findings: to_usize(r.get(12)?),
        new_findings: to_usize(r.get(13)?),
        suppressed_findings: to_usize(r.get(14)?),
        elapsed_ms: r.get(15)?,
        error: r.get(16)?,
    })
}

pub(super) const FINDING_COLUMNS: &str = "f.id, f.rule_id, f.rule_name, f.severity, f.tactics, f.techniques, f.entity_key, f.entities_json, f.first_seen, f.last_seen, f.window_source, f.suppression_json, f.status, f.first_run_id, f.last_run_id, f.runs_seen, f.created_at, f.updated_at, f.columns_json, f.row_count";

/// The raw columns of a finding row; decoded outside rusqlite's closure so JSON errors
/// keep their type.
pub(super) struct FindingRow {
    id: i64,
    rule_id: String,
    rule_name: String,
    severity: Option<String>,
    tactics: String,
    techniques: String,
    entity_key: String,
    entities: String,
    first_seen: String,
    last_seen: String,
    window: String,
    suppression: Option<String>,
    status: String,
    first_run_id: i64,
    last_run_id: i64,
    runs_seen: i64,
    created_at: String,
    updated_at: String,
    columns: String,
    row_count: i64,
}

pub(super) fn finding_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<FindingRow> {
    Ok(FindingRow {
        id: r.get(0)?,
        rule_id: r.get(1)?,
        rule_name: r.get(2)?,
        severity: r.get(3)?,
        tactics: r.get(4)?,
        techniques: r.get(5)?,
        entity_key: r.get(6)?,
        entities: r.get(7)?,
        first_seen: r.get(8)?,
        last_seen: r.get(9)?,
        window: r.get(10)?,
        suppression: r.get(11)?,
        status: r.get(12)?,
        first_run_id: r.get(13)?,
        last_run_id: r.get(14)?,
        runs_seen: r.get(15)?,
        created_at: r.get(16)?,
        updated_at: r.get(17)?,
        columns: r.get(18)?,
        row_count: r.get(19)?,
    })
}

pub(super) fn decode_finding(r: FindingRow) -> Result<StoredFinding, FindingsError> {
    Ok(StoredFinding {
        id: r.id,
        rule_id: r.rule_id,
        rule_name: r.rule_name,
        severity: r.severity.as_deref().and_then(rules::Severity::parse),
        tactics: serde_json::from_str(&r.tactics)?,
        techniques: serde_json::from_str(&r.techniques)?,
        entities: serde_json::from_str(&r.entities)?,
        entity_key: r.entity_key,
        first_seen: r.first_seen,
        last_seen: r.last_seen,
        window: if r.window == "query" {
            WindowSource::Query
        } else {
            WindowSource::Rows
        },
        suppressed: r.suppression.as_deref().map(serde_json::from_str).transpose()?,
        status: TriageStatus::parse(&r.status).unwrap_or(TriageStatus::New),
        first_run_id: r.first_run_id,
        last_run_id: r.last_run_id,
        runs_seen: r.runs_seen,
        created_at: r.created_at,
        updated_at: r.updated_at,
        columns: serde_json::from_str(&r.columns)?,
        row_count: to_usize(r.row_count),
    })
}
