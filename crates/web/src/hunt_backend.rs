//! The hunts pages' [`HuntBackend`] over the `hunt` crate: runs and findings from
//! `<data>/quarry.db`, triage through its findings store, and "run now" as a background
//! hunt over the stored rules.

use crate::hunts::{
    EvidenceRun, Finding, FindingEvidence, HuntBackend, HuntFuture, RunDetail, RunSummary, TriageChange,
};
use hunt::{
    FindingFilter, FindingsStore, HuntOptions, Hunter, NowSpec, Selection, StatusUpdate, StoredFinding, TriageStatus,
};
use serde_json::{Map, Value};
use std::path::PathBuf;

pub struct HuntStore {
    data_dir: PathBuf,
}

impl HuntStore {
    pub fn new(data_dir: PathBuf) -> HuntStore {
        HuntStore { data_dir }
    }

    fn open(&self) -> Result<FindingsStore, String> {
        FindingsStore::open(&self.data_dir).map_err(|e| e.to_string())
    }
}

fn summary(r: &hunt::RunSummary) -> RunSummary {
    RunSummary {
        id: r.id.to_string(),
        started_at: r.started_at.clone(),
        finished_at: r.finished_at.clone(),
        status: r.status.as_str().to_string(),
        rules: r.rules_total,
        findings: r.findings,
        now: Some(format!("{} ({})", r.now, r.now_mode.replace('_', " "))),
        error: r.error.clone(),
    }
}

fn finding(f: &StoredFinding, run_id: &str) -> Finding {
    let mut row = Map::new();
    if let Ok(Value::Object(m)) = serde_json::to_value(&f.entities) {
        row.extend(m);
    }
    row.insert("rows".into(), Value::from(f.row_count));
    row.insert("runs_seen".into(), Value::from(f.runs_seen));
    if let Some(s) = &f.suppressed {
        row.insert("suppressed".into(), serde_json::to_value(s).unwrap_or(Value::Null));
    }
    Finding {
        id: f.id.to_string(),
        run_id: run_id.to_string(),
        rule_id: f.rule_id.clone(),
        rule_name: f.rule_name.clone(),
        device: Some(f.device_label().to_string()),
        first_seen: Some(f.first_seen.clone()),
        last_seen: Some(f.last_seen.clone()),
        status: f.status.as_str().to_string(),
        row,
    }
}

impl HuntBackend for HuntStore {
    fn runs(&self, limit: usize) -> Result<Vec<RunSummary>, String> {
        let runs = self.open()?.runs(limit).map_err(|e| e.to_string())?;
        Ok(runs.iter().map(summary).collect())
    }

    fn run(&self, id: &str) -> Result<Option<RunDetail>, String> {
        let Ok(n) = id.trim().parse::<i64>() else {
            return Ok(None);
        };
        let store = self.open()?;
        let Some(detail) = store.run(n).map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        let findings = store
            .findings(&FindingFilter {
                run: Some(n),
                suppressed: Some(false),
                ..FindingFilter::default()
            })
            .map_err(|e| e.to_string())?;
        let rule_errors = detail
            .rules
            .iter()
            .filter(|r| {
                matches!(
                    r.status,
                    hunt::RuleStatus::Failed | hunt::RuleStatus::Invalid | hunt::RuleStatus::Skipped
                )
            })
            .map(|r| {
                let why = r.message.clone().unwrap_or_else(|| {
                    let errs: Vec<String> = r
                        .diagnostics
                        .iter()
                        .filter(|d| d.level == rules::Level::Error)
                        .map(|d| d.message.clone())
                        .collect();
                    if errs.is_empty() {
                        r.status.as_str().to_string()
                    } else {
                        errs.join("; ")
                    }
                });
                (r.rule_id.clone(), format!("{}: {why}", r.status.as_str()))
            })
            .collect();
        Ok(Some(RunDetail {
            run: summary(&detail.run),
            findings: findings.iter().map(|f| finding(f, id)).collect(),
            rule_errors,
        }))
    }

    fn rule_findings(&self, rule_id: &str, limit: usize) -> Result<Vec<Finding>, String> {
        let found = self
            .open()?
            .findings(&FindingFilter {
                rule: Some(rule_id.to_string()),
                suppressed: Some(false),
                limit,
                ..FindingFilter::default()
            })
            .map_err(|e| e.to_string())?;
        Ok(found
            .iter()
            .filter(|f| f.rule_id.eq_ignore_ascii_case(rule_id))
            .map(|f| finding(f, &f.last_run_id.to_string()))
            .collect())
    }

    fn statuses(&self) -> Vec<String> {
        TriageStatus::ALL.iter().map(|s| s.as_str().to_string()).collect()
    }

    fn finding(&self, finding_id: &str) -> Result<Option<FindingEvidence>, String> {
        let Ok(id) = finding_id.trim().parse::<i64>() else {
            return Ok(None);
        };
        let Some(d) = self.open()?.finding(id).map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        let f = &d.finding;
        Ok(Some(FindingEvidence {
            finding: finding(f, &f.last_run_id.to_string()),
            severity: f.severity.map(|s| s.as_str().to_string()),
            techniques: f.techniques.clone(),
            entities: serde_json::to_value(&f.entities).unwrap_or(Value::Null),
            suppressed: f.suppressed.as_ref().and_then(|s| serde_json::to_value(s).ok()),
            columns: f.columns.iter().map(|c| (c.name.clone(), c.kql_type.clone())).collect(),
            runs: d
                .runs
                .iter()
                .map(|r| EvidenceRun {
                    run_id: r.run_id.to_string(),
                    started_at: r.started_at.clone(),
                    row_count: r.row_count,
                    rows: r.rows.clone(),
                })
                .collect(),
            history: d
                .history
                .iter()
                .map(|h| TriageChange {
                    at: h.at.clone(),
                    from: h.old_status.map(|s| s.as_str().to_string()),
                    to: h.new_status.as_str().to_string(),
                    actor: h.actor.clone(),
                    note: h.note.clone(),
                })
                .collect(),
        }))
    }

    fn set_status(&self, finding_id: &str, status: &str, note: Option<&str>) -> Result<bool, String> {
        let Ok(id) = finding_id.trim().parse::<i64>() else {
            return Ok(false);
        };
        let status = TriageStatus::parse(status).ok_or_else(|| format!("unknown triage status `{status}`"))?;
        let note = note.map(str::trim).filter(|n| !n.is_empty());
        match self
            .open()?
            .set_status(id, status, "web", note)
            .map_err(|e| e.to_string())?
        {
            StatusUpdate::NotFound => Ok(false),
            StatusUpdate::Changed { .. } | StatusUpdate::Unchanged => Ok(true),
        }
    }

    fn start(&self, rule_ids: Vec<String>, now: Option<String>) -> HuntFuture<String> {
        let dir = self.data_dir.clone();
        Box::pin(async move {
            let now = match now.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                None => NowSpec::Latest,
                Some(t) => NowSpec::parse(t)?,
            };
            tokio::task::spawn_blocking(move || {
                let options = HuntOptions {
                    now,
                    ..HuntOptions::default()
                };
                // The hunt goes on in its own thread; the run shows as `running` until it ends.
                Hunter::new(dir)
                    .spawn(Selection::Store(rule_ids), options)
                    .map(|(id, _handle)| id.to_string())
                    .map_err(|e| e.to_string())
            })
            .await
            .map_err(|e| e.to_string())?
        })
    }
}
