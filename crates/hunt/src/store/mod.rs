//! The findings store: hunt runs, findings and their triage in `<data>/quarry.db`.
//!
//! **Deduplication.** A finding is identified by its rule, its entity key (every entity of
//! its rows, normalized: see [`crate::Entities::key`]), whether and by which exclusion it
//! was suppressed, and its time window. A new result joins a stored finding with the same
//! rule, entities and suppression whose window overlaps its own (the window grows to cover
//! both); otherwise it is a new finding. Windows come from the rows (`FirstSeen`/`LastSeen`
//! or their time column) or, for rows without time, from the hunt's look-back window
//! `[now - lookback, now]` — so re-running a hunt over the same data adds nothing, a daily
//! hunt with a 5-day look-back keeps extending one finding while the activity goes on, and
//! activity that stops for longer than the look-back and comes back is a new finding. A
//! finding keeps its triage status when later runs see it again.

mod migrations;

pub use migrations::{COMPONENT, HUNT_MIGRATIONS};

use crate::entities::Entities;
use crate::report::{Finding, ResultColumn, RuleReport, RunReport, RunStatus, Suppression, TriageStatus, WindowSource};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum FindingsError {
    #[error("findings store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("findings store: {0}")]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Rules(#[from] rules::store::StoreError),
    #[error("findings store: cannot create {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// A stored hunt run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunSummary {
    pub id: i64,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub status: RunStatus,
    pub now: String,
    pub now_mode: String,
    pub selection: String,
    pub rules_total: usize,
    pub rules_ran: usize,
    pub rules_skipped: usize,
    pub rules_invalid: usize,
    pub rules_failed: usize,
    /// Findings (not suppressed) the run produced, and how many were new.
    pub findings: usize,
    pub new_findings: usize,
    pub suppressed_findings: usize,
    pub elapsed_ms: Option<f64>,
    pub error: Option<String>,
}

/// A stored run with its per-rule reports.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunDetail {
    pub run: RunSummary,
    pub rules: Vec<RuleReport>,
    #[serde(default)]
    pub load_diagnostics: Vec<rules::RuleDiagnostic>,
}

/// A stored finding (without its rows).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StoredFinding {
    pub id: i64,
    pub rule_id: String,
    pub rule_name: String,
    pub severity: Option<rules::Severity>,
    pub tactics: Vec<String>,
    pub techniques: Vec<String>,
    pub entities: Entities,
    pub entity_key: String,
    pub first_seen: String,
    pub last_seen: String,
    pub window: WindowSource,
    pub suppressed: Option<Suppression>,
    pub status: TriageStatus,
    pub first_run_id: i64,
    pub last_run_id: i64,
    /// Runs that saw it.
    pub runs_seen: i64,
    pub created_at: String,
    pub updated_at: String,
    pub columns: Vec<ResultColumn>,
    /// Rows the latest run saw.
    pub row_count: usize,
}

impl StoredFinding {
    pub fn device_label(&self) -> &str {
        self.entities
            .device
            .as_ref()
            .and_then(|d| d.label())
            .unwrap_or("(no device)")
    }
}

/// The rows one run saw for a finding.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FindingRun {
    pub run_id: i64,
    pub started_at: String,
    pub row_count: usize,
    pub rows: Vec<Map<String, Json>>,
}

/// One triage change.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StatusChange {
    pub at: String,
    pub old_status: Option<TriageStatus>,
    pub new_status: TriageStatus,
    pub actor: String,
    pub note: Option<String>,
}

/// A finding with everything stored about it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FindingDetail {
    #[serde(flatten)]
    pub finding: StoredFinding,
    /// Per run that saw it, newest first, with the rows.
    pub runs: Vec<FindingRun>,
    pub history: Vec<StatusChange>,
}

/// Filters for [`FindingsStore::findings`]; all given ones must match.
#[derive(Clone, Debug, Default)]
pub struct FindingFilter {
    /// A rule id, id prefix, or part of its name (case-insensitive).
    pub rule: Option<String>,
    pub status: Option<TriageStatus>,
    /// Part of the device name, or its id (case-insensitive).
    pub device: Option<String>,
    /// Findings a run saw.
    pub run: Option<i64>,
    /// `Some(false)`: only findings not suppressed (the default view); `Some(true)`: only
    /// suppressed ones; `None`: both.
    pub suppressed: Option<bool>,
    /// At most this many, newest first (0: no limit).
    pub limit: usize,
}

/// What [`FindingsStore::set_status`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusUpdate {
    Changed {
        from: TriageStatus,
        to: TriageStatus,
    },
    /// It already had that status (a note, if given, is still recorded).
    Unchanged,
    NotFound,
}

pub struct FindingsStore {
    conn: Connection,
}

fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn to_usize(n: i64) -> usize {
    usize::try_from(n).unwrap_or(0)
}

impl FindingsStore {
    /// Opens (creating if needed) `<data_dir>/quarry.db` with the rules and hunt tables up to
    /// date.
    pub fn open(data_dir: &Path) -> Result<FindingsStore, FindingsError> {
        // The rule store creates the directory and the database and brings its own tables
        // up to date; the hunt tables live next to them.
        drop(rules::RuleStore::open(data_dir)?);
        Self::from_connection(Connection::open(data_dir.join(rules::store::DB_FILE))?)
    }

    pub fn open_in_memory() -> Result<FindingsStore, FindingsError> {
        Self::from_connection(Connection::open_in_memory()?)
    }

    fn from_connection(mut conn: Connection) -> Result<FindingsStore, FindingsError> {
        conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000;")?;
        rules::store::migrate(&mut conn, COMPONENT, HUNT_MIGRATIONS)?;
        Ok(FindingsStore { conn })
    }

    /// Records the start of a run; returns its id.
    pub fn begin_run(&mut self, now: &str, now_mode: &str, selection: &str) -> Result<i64, FindingsError> {
        self.conn.execute(
            "INSERT INTO hunt_runs (started_at, status, now, now_mode, selection) VALUES (?1, 'running', ?2, ?3, ?4)",
            params![now_text(), now, now_mode, selection],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Marks a run as failed (the hunt could not complete).
    pub fn fail_run(&mut self, run_id: i64, error: &str) -> Result<(), FindingsError> {
        self.conn.execute(
            "UPDATE hunt_runs SET status = 'failed', finished_at = ?2, error = ?3 WHERE id = ?1",
            params![run_id, now_text(), error],
        )?;
        Ok(())
    }

    /// Stores a finished run: its rules, and its findings deduplicated against the stored
    /// ones. Fills in the findings' ids, `is_new` and triage status, and the rules'
    /// `new_findings`.
    pub fn finish_run(&mut self, run_id: i64, report: &mut RunReport) -> Result<(), FindingsError> {
        let tx = self.conn.transaction()?;
        let stamp = now_text();
        for f in report.findings.iter_mut() {
            record_finding(&tx, run_id, f, &stamp)?;
        }
        for r in report.rules.iter_mut() {
            r.new_findings = report
                .findings
                .iter()
                .filter(|f| f.rule_id == r.rule_id && f.is_new && f.suppressed.is_none())
                .count();
        }
        for (i, r) in report.rules.iter().enumerate() {
            tx.execute(
                "INSERT INTO hunt_run_rules (run_id, position, rule_id, rule_name, status, rows, suppressed_rows, findings, elapsed_ms, report_json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    run_id,
                    i as i64,
                    r.rule_id,
                    r.rule_name,
                    r.status.as_str(),
                    r.rows as i64,
                    r.suppressed_rows as i64,
                    r.findings as i64,
                    r.elapsed_ms,
                    serde_json::to_string(r)?
                ],
            )?;
        }
        let active = report.active_findings().count() as i64;
        let new = report.active_findings().filter(|f| f.is_new).count() as i64;
        let suppressed = report.suppressed_findings().count() as i64;
        tx.execute(
            "UPDATE hunt_runs SET status = ?2, finished_at = ?3, rules_total = ?4, rules_ran = ?5, rules_skipped = ?6,
             rules_invalid = ?7, rules_failed = ?8, findings = ?9, new_findings = ?10, suppressed_findings = ?11,
             elapsed_ms = ?12, load_diagnostics = ?13 WHERE id = ?1",
            params![
                run_id,
                report.status.as_str(),
                report.finished_at,
                report.rules.len() as i64,
                report.count(crate::RuleStatus::Ran) as i64,
                report.count(crate::RuleStatus::Skipped) as i64,
                report.count(crate::RuleStatus::Invalid) as i64,
                report.count(crate::RuleStatus::Failed) as i64,
                active,
                new,
                suppressed,
                report.elapsed_ms,
                serde_json::to_string(&report.load_diagnostics)?
            ],
        )?;
        tx.commit()?;
        report.run_id = Some(run_id);
        Ok(())
    }

    /// Runs, newest first (`limit` 0: all).
    pub fn runs(&self, limit: usize) -> Result<Vec<RunSummary>, FindingsError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {RUN_COLUMNS} FROM hunt_runs ORDER BY id DESC LIMIT ?1"
        ))?;
        let rows = stmt
            .query_map(params![limit_arg(limit)], run_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    pub fn run(&self, id: i64) -> Result<Option<RunDetail>, FindingsError> {
        let found: Option<(RunSummary, Option<String>)> = self
            .conn
            .query_row(
                &format!("SELECT {RUN_COLUMNS}, load_diagnostics FROM hunt_runs WHERE id = ?1"),
                params![id],
                |r| Ok((run_from_row(r)?, r.get(17)?)),
            )
            .optional()?;
        let Some((run, load)) = found else { return Ok(None) };
        let mut stmt = self
            .conn
            .prepare("SELECT report_json FROM hunt_run_rules WHERE run_id = ?1 ORDER BY position")?;
        let rules = stmt
            .query_map(params![id], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .map(|j| serde_json::from_str(&j))
            .collect::<Result<Vec<RuleReport>, _>>()?;
        let load_diagnostics = match load {
            Some(j) => serde_json::from_str(&j)?,
            None => Vec::new(),
        };
        Ok(Some(RunDetail {
            run,
            rules,
            load_diagnostics,
        }))
    }

    /// The newest run, if any.
    pub fn latest_run(&self) -> Result<Option<i64>, FindingsError> {
        Ok(self
            .conn
            .query_row("SELECT MAX(id) FROM hunt_runs", [], |r| r.get::<_, Option<i64>>(0))?)
    }

    /// Findings matching the filter, newest activity first.
    pub fn findings(&self, filter: &FindingFilter) -> Result<Vec<StoredFinding>, FindingsError> {
        let mut sql = format!("SELECT {FINDING_COLUMNS} FROM findings f WHERE 1 = 1");
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        let arg = |v: rusqlite::types::Value, args: &mut Vec<rusqlite::types::Value>| {
            args.push(v);
            args.len()
        };
        if let Some(rule) = &filter.rule {
            let q = rule.trim().to_string();
            let n = arg(q.clone().into(), &mut args);
            let like = arg(format!("%{}%", escape_like(&q)).into(), &mut args);
            let prefix = arg(format!("{}%", escape_like(&q)).into(), &mut args);
            sql.push_str(&format!(
                " AND (f.rule_id = ?{n} COLLATE NOCASE OR f.rule_id LIKE ?{prefix} ESCAPE '\\' OR f.rule_name LIKE ?{like} ESCAPE '\\')"
            ));
        }
        if let Some(s) = filter.status {
            let n = arg(s.as_str().to_string().into(), &mut args);
            sql.push_str(&format!(" AND f.status = ?{n}"));
        }
        if let Some(d) = &filter.device {
            let like = arg(format!("%{}%", escape_like(d.trim())).into(), &mut args);
            let exact = arg(d.trim().to_string().into(), &mut args);
            sql.push_str(&format!(
                " AND (f.device_name LIKE ?{like} ESCAPE '\\' OR f.device_id = ?{exact} COLLATE NOCASE)"
            ));
        }
        if let Some(run) = filter.run {
            let n = arg(run.into(), &mut args);
            sql.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM finding_runs x WHERE x.finding_id = f.id AND x.run_id = ?{n})"
            ));
        }
        match filter.suppressed {
            Some(true) => sql.push_str(" AND f.suppression_key <> ''"),
            Some(false) => sql.push_str(" AND f.suppression_key = ''"),
            None => {}
        }
        let n = arg(limit_arg(filter.limit).into(), &mut args);
        sql.push_str(&format!(" ORDER BY f.last_ns DESC, f.id DESC LIMIT ?{n}"));
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args.iter()), finding_row)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(decode_finding).collect()
    }

    pub fn finding(&self, id: i64) -> Result<Option<FindingDetail>, FindingsError> {
        let row = self
            .conn
            .query_row(
                &format!("SELECT {FINDING_COLUMNS} FROM findings f WHERE f.id = ?1"),
                params![id],
                finding_row,
            )
            .optional()?;
        let Some(row) = row else { return Ok(None) };
        let finding = decode_finding(row)?;
        let mut stmt = self.conn.prepare(
            "SELECT x.run_id, r.started_at, x.row_count, x.rows_json FROM finding_runs x JOIN hunt_runs r ON r.id = x.run_id
             WHERE x.finding_id = ?1 ORDER BY x.run_id DESC",
        )?;
        let runs = stmt
            .query_map(params![id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .map(|(run_id, started_at, n, rows)| {
                Ok(FindingRun {
                    run_id,
                    started_at,
                    row_count: to_usize(n),
                    rows: serde_json::from_str(&rows)?,
                })
            })
            .collect::<Result<Vec<_>, FindingsError>>()?;
        Ok(Some(FindingDetail {
            finding,
            runs,
            history: self.history(id)?,
        }))
    }

    /// Triage changes of a finding, oldest first.
    pub fn history(&self, id: i64) -> Result<Vec<StatusChange>, FindingsError> {
        let mut stmt = self.conn.prepare(
            "SELECT at, old_status, new_status, actor, note FROM finding_status_history WHERE finding_id = ?1 ORDER BY id",
        )?;
        let rows = stmt
            .query_map(params![id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<String>>(4)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows
            .into_iter()
            .map(|(at, old, new, actor, note)| StatusChange {
                at,
                old_status: old.as_deref().and_then(TriageStatus::parse),
                new_status: TriageStatus::parse(&new).unwrap_or(TriageStatus::New),
                actor,
                note,
            })
            .collect())
    }

    /// Sets a finding's triage status, recording who, when and why.
    pub fn set_status(
        &mut self,
        id: i64,
        status: TriageStatus,
        actor: &str,
        note: Option<&str>,
    ) -> Result<StatusUpdate, FindingsError> {
        let tx = self.conn.transaction()?;
        let old: Option<String> = tx
            .query_row("SELECT status FROM findings WHERE id = ?1", params![id], |r| r.get(0))
            .optional()?;
        let Some(old) = old else {
            return Ok(StatusUpdate::NotFound);
        };
        let old = TriageStatus::parse(&old).unwrap_or(TriageStatus::New);
        let stamp = now_text();
        let outcome = if old == status {
            StatusUpdate::Unchanged
        } else {
            tx.execute(
                "UPDATE findings SET status = ?2, updated_at = ?3 WHERE id = ?1",
                params![id, status.as_str(), stamp],
            )?;
            StatusUpdate::Changed { from: old, to: status }
        };
        if outcome != StatusUpdate::Unchanged || note.is_some() {
            tx.execute(
                "INSERT INTO finding_status_history (finding_id, at, old_status, new_status, actor, note) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id, stamp, old.as_str(), status.as_str(), actor, note],
            )?;
        }
        tx.commit()?;
        Ok(outcome)
    }
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// SQLite's `LIMIT -1` is "no limit".
fn limit_arg(limit: usize) -> i64 {
    if limit == 0 {
        -1
    } else {
        i64::try_from(limit).unwrap_or(i64::MAX)
    }
}

const RUN_COLUMNS: &str = "id, started_at, finished_at, status, now, now_mode, selection, rules_total, rules_ran, rules_skipped, rules_invalid, rules_failed, findings, new_findings, suppressed_findings, elapsed_ms, error";

fn run_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RunSummary> {
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

const FINDING_COLUMNS: &str = "f.id, f.rule_id, f.rule_name, f.severity, f.tactics, f.techniques, f.entity_key, f.entities_json, f.first_seen, f.last_seen, f.window_source, f.suppression_json, f.status, f.first_run_id, f.last_run_id, f.runs_seen, f.created_at, f.updated_at, f.columns_json, f.row_count";

/// The raw columns of a finding row; decoded outside rusqlite's closure so JSON errors
/// keep their type.
struct FindingRow {
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

fn finding_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<FindingRow> {
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

fn decode_finding(r: FindingRow) -> Result<StoredFinding, FindingsError> {
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

fn nanos(text: &str) -> i64 {
    schema::values::parse_datetime(text).unwrap_or(0)
}

/// Inserts a finding or merges it into the stored one it continues.
fn record_finding(
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
