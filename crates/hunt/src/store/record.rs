//! Recording a run's findings: each joins the stored finding it continues (same rule,
//! entities and suppression, overlapping window) or becomes a new one.

use super::FindingsError;
use crate::report::{Finding, TriageStatus, WindowSource};
use rusqlite::{OptionalExtension, params};

fn nanos(text: &str) -> i64 {
    schema::values::parse_datetime(text).unwrap_or(0)
}

/// Inserts a finding or merges it into the stored one it continues.
pub(super) fn record_finding(
    tx: &rusqlite::Transaction<'_>,
    run_id: i64,
    f: &mut Finding,
    stamp: &str,
) -> Result<(), FindingsError> {
    let (first, last) = (nanos(&f.first_seen), nanos(&f.last_seen));
    let suppression_key = f.suppressed.as_ref().map(|s| s.exclusion.clone()).unwrap_or_default();
    let existing: Option<(i64, String, i64, i64, String, String)> = tx
        .query_row(
            "SELECT id, status, first_ns, last_ns, first_seen, last_seen FROM findings
             WHERE rule_id = ?1 AND entity_key = ?2 AND suppression_key = ?3 AND first_ns <= ?5 AND last_ns >= ?4
             ORDER BY last_ns DESC, id DESC LIMIT 1",
            params![f.rule_id, f.entity_key, suppression_key, first, last],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
        )
        .optional()?;
    let rows_json = serde_json::to_string(&f.rows)?;
    let device = f.entities.device.clone().unwrap_or_default();
    let id = match existing {
        Some((id, status, old_first, old_last, old_first_text, old_last_text)) => {
            let (first_seen, first_ns) = if old_first <= first {
                (old_first_text, old_first)
            } else {
                (f.first_seen.clone(), first)
            };
            let (last_seen, last_ns) = if old_last >= last {
                (old_last_text, old_last)
            } else {
                (f.last_seen.clone(), last)
            };
            // A run seeing the same finding twice (never by construction) counts once.
            let seen_before: bool = tx.query_row(
                "SELECT COUNT(*) > 0 FROM finding_runs WHERE finding_id = ?1 AND run_id = ?2",
                params![id, run_id],
                |r| r.get(0),
            )?;
            tx.execute(
                "UPDATE findings SET rule_name = ?2, entities_json = ?3, device_id = ?4, device_name = ?5, first_seen = ?6, last_seen = ?7,
                 first_ns = ?8, last_ns = ?9, last_run_id = ?10, runs_seen = runs_seen + ?11, updated_at = ?12, columns_json = ?13, row_count = ?14
                 WHERE id = ?1",
                params![
                    id,
                    f.rule_name,
                    serde_json::to_string(&f.entities)?,
                    device.id,
                    device.name,
                    first_seen,
                    last_seen,
                    first_ns,
                    last_ns,
                    run_id,
                    i64::from(!seen_before),
                    stamp,
                    serde_json::to_string(&f.columns)?,
                    f.rows.len() as i64
                ],
            )?;
            f.is_new = false;
            f.status = TriageStatus::parse(&status).unwrap_or(TriageStatus::New);
            f.first_seen = first_seen;
            f.last_seen = last_seen;
            id
        }
        None => {
            tx.execute(
                "INSERT INTO findings (rule_id, rule_name, severity, tactics, techniques, entity_key, entities_json, device_id, device_name,
                 first_seen, last_seen, first_ns, last_ns, window_source, suppression_key, suppression_json, status, first_run_id, last_run_id,
                 created_at, updated_at, columns_json, row_count)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, 'new', ?17, ?17, ?18, ?18, ?19, ?20)",
                params![
                    f.rule_id,
                    f.rule_name,
                    f.severity.map(|s| s.as_str()),
                    serde_json::to_string(&f.tactics)?,
                    serde_json::to_string(&f.techniques)?,
                    f.entity_key,
                    serde_json::to_string(&f.entities)?,
                    device.id,
                    device.name,
                    f.first_seen,
                    f.last_seen,
                    first,
                    last,
                    match f.window {
                        WindowSource::Rows => "rows",
                        WindowSource::Query => "query",
                    },
                    suppression_key,
                    f.suppressed.as_ref().map(serde_json::to_string).transpose()?,
                    run_id,
                    stamp,
                    serde_json::to_string(&f.columns)?,
                    f.rows.len() as i64
                ],
            )?;
            let id = tx.last_insert_rowid();
            tx.execute(
                "INSERT INTO finding_status_history (finding_id, at, old_status, new_status, actor, note) VALUES (?1, ?2, NULL, 'new', 'quarry hunt', ?3)",
                params![id, stamp, format!("found by run {run_id}")],
            )?;
            f.is_new = true;
            f.status = TriageStatus::New;
            id
        }
    };
    tx.execute(
        "INSERT OR REPLACE INTO finding_runs (finding_id, run_id, row_count, rows_json) VALUES (?1, ?2, ?3, ?4)",
        params![id, run_id, f.rows.len() as i64, rows_json],
    )?;
    f.id = Some(id);
    Ok(())
}
