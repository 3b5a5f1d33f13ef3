//! The hunts and findings pages' contract with the hunt component (runs of rule sets,
//! their findings and triage). The server works without one: the pages then say that
//! this build cannot run hunts, and the API answers 501.

use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;

/// One hunt run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunSummary {
    pub id: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// `running`, `succeeded`, `failed`, …
    pub status: String,
    pub rules: usize,
    pub findings: usize,
    /// The `now()` the rules ran with.
    pub now: Option<String>,
    pub error: Option<String>,
}

/// One finding: a result row of a rule in a run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Finding {
    pub id: String,
    pub run_id: String,
    pub rule_id: String,
    pub rule_name: String,
    pub device: Option<String>,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    /// Triage status (`new`, `investigating`, `benign`, `true-positive`, …).
    pub status: String,
    /// The result row, column name → value.
    pub row: serde_json::Map<String, serde_json::Value>,
}

/// A run with its findings.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunDetail {
    pub run: RunSummary,
    pub findings: Vec<Finding>,
    /// Per rule: (rule id, error) for rules that could not run.
    pub rule_errors: Vec<(String, String)>,
}

/// Everything stored about one finding: what it is about, the result rows each run saw
/// (the evidence), and its triage history.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FindingEvidence {
    pub finding: Finding,
    pub severity: Option<String>,
    pub techniques: Vec<String>,
    /// Entities (device, accounts, files, URLs, IPs) as the hunt derived them.
    pub entities: serde_json::Value,
    /// The exclusion that suppressed it, if any.
    pub suppressed: Option<serde_json::Value>,
    /// The rule's result columns in order: (name, KQL type).
    pub columns: Vec<(String, String)>,
    /// Per run that saw the finding, newest first.
    pub runs: Vec<EvidenceRun>,
    pub history: Vec<TriageChange>,
}

/// The rows one run saw for a finding.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EvidenceRun {
    pub run_id: String,
    pub started_at: String,
    /// Rows the run saw (more than `rows` when the hunt capped what it stored).
    pub row_count: usize,
    pub rows: Vec<serde_json::Map<String, serde_json::Value>>,
}

/// One triage change.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TriageChange {
    pub at: String,
    pub from: Option<String>,
    pub to: String,
    pub actor: String,
    pub note: Option<String>,
}

pub type HuntFuture<T> = Pin<Box<dyn Future<Output = Result<T, String>> + Send>>;

/// What the hunt component offers the web UI.
pub trait HuntBackend: Send + Sync {
    /// Runs, newest first.
    fn runs(&self, limit: usize) -> Result<Vec<RunSummary>, String>;
    fn run(&self, id: &str) -> Result<Option<RunDetail>, String>;
    /// The latest findings of one rule across runs, newest first.
    fn rule_findings(&self, rule_id: &str, limit: usize) -> Result<Vec<Finding>, String>;
    /// The triage statuses a finding may take.
    fn statuses(&self) -> Vec<String>;
    fn set_status(&self, finding_id: &str, status: &str, note: Option<&str>) -> Result<bool, String>;
    /// One finding with its evidence rows and triage history (`None`: no such finding).
    fn finding(&self, finding_id: &str) -> Result<Option<FindingEvidence>, String>;
    /// Runs rules now (all stored rules when `rule_ids` is empty) with `now()` = `now`
    /// (`latest`: the newest event in the data; `now`: the wall clock; or a datetime;
    /// `None`: latest); resolves to the run id while the hunt goes on.
    fn start(&self, rule_ids: Vec<String>, now: Option<String>) -> HuntFuture<String>;
}
