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
mod record;
mod rows;

pub use migrations::{COMPONENT, HUNT_MIGRATIONS};

use crate::entities::Entities;
use crate::report::{ResultColumn, RuleReport, RunReport, RunStatus, Suppression, TriageStatus, WindowSource};
use record::record_finding;
use rows::{FINDING_COLUMNS, RUN_COLUMNS, decode_finding, finding_row, run_from_row};
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

/// Whether a process has certainly ended. Only Linux's `/proc` is consulted; elsewhere a
/// process is assumed alive (the run stays `running` rather than being misreported).
fn process_ended(pid: u32) -> bool {
    let proc_root = Path::new("/proc");
    proc_root.join("self").exists() && !proc_root.join(pid.to_string()).exists()
}

fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub(super) fn to_usize(n: i64) -> usize {
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
        let mut store = FindingsStore { conn };
        store.reap_interrupted_runs()?;
        Ok(store)
    }

    /// Records the start of a run; returns its id.
    pub fn begin_run(&mut self, now: &str, now_mode: &str, selection: &str) -> Result<i64, FindingsError> {
        self.conn.execute(
            "INSERT INTO hunt_runs (started_at, status, now, now_mode, selection, pid) VALUES (?1, 'running', ?2, ?3, ?4, ?5)",
            params![now_text(), now, now_mode, selection, std::process::id()],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Runs still marked `running` whose process has ended (killed, crashed, power loss)
    /// never finish: mark them failed as interrupted, so that the run list tells the truth.
    /// A run is only judged where the process table can be read (`/proc`); a reused process
    /// id keeps a dead run `running` until that process ends too.
    fn reap_interrupted_runs(&mut self) -> Result<usize, FindingsError> {
        let running: Vec<(i64, Option<u32>)> = {
            let mut stmt = self
                .conn
                .prepare("SELECT id, pid FROM hunt_runs WHERE status = 'running'")?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?
        };
        let mut reaped = 0;
        for (id, pid) in running {
            let ended = match pid {
                Some(pid) => pid != std::process::id() && process_ended(pid),
                // Recorded before runs kept their process id: no process can still own it
                // under a Quarry that tracks them.
                None => true,
            };
            if ended {
                self.conn.execute(
                    "UPDATE hunt_runs SET status = 'failed', finished_at = ?2, error = ?3 WHERE id = ?1 AND status = 'running'",
                    params![id, now_text(), "interrupted: the process running this hunt ended before it finished"],
                )?;
                reaped += 1;
            }
        }
        Ok(reaped)
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
