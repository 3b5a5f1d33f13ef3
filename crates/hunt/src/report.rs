//! What a hunt produces: per rule what happened, and the findings.

use crate::entities::Entities;
use crate::exclusions::ExclusionPlan;
use rules::{RuleDiagnostic, Severity};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Still running (only ever seen in the findings store).
    Running,
    /// Every rule ran or was skipped for lack of data.
    Succeeded,
    /// Some rules were invalid or failed; the others ran.
    Partial,
    /// The run itself failed (no rule ran).
    Failed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Partial => "partial",
            RunStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<RunStatus> {
        Some(match s {
            "running" => RunStatus::Running,
            "succeeded" => RunStatus::Succeeded,
            "partial" => RunStatus::Partial,
            "failed" => RunStatus::Failed,
            _ => return None,
        })
    }
}

/// What happened to one rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleStatus {
    /// It ran (with or without results).
    Ran,
    /// Not run: no table it reads has data in the data directory.
    Skipped,
    /// Not run: its query has errors (see the diagnostics).
    Invalid,
    /// It failed while running.
    Failed,
}

impl RuleStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleStatus::Ran => "ran",
            RuleStatus::Skipped => "skipped",
            RuleStatus::Invalid => "invalid",
            RuleStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<RuleStatus> {
        Some(match s {
            "ran" => RuleStatus::Ran,
            "skipped" => RuleStatus::Skipped,
            "invalid" => RuleStatus::Invalid,
            "failed" => RuleStatus::Failed,
            _ => return None,
        })
    }

    pub fn is_error(self) -> bool {
        matches!(self, RuleStatus::Invalid | RuleStatus::Failed)
    }
}

/// One rule of a run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RuleReport {
    pub rule_id: String,
    pub rule_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    pub status: RuleStatus,
    /// Why it was skipped or failed (`no data for DeviceNetworkEvents`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Tables the query reads that have no data (for a skipped rule: all of them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_tables: Vec<String>,
    /// Validation findings about the rule (errors of an invalid rule; warnings otherwise).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<RuleDiagnostic>,
    /// Result rows (not suppressed).
    pub rows: usize,
    /// Result rows suppressed by exclusions.
    pub suppressed_rows: usize,
    /// Rows beyond the per-rule limit were counted but not kept.
    #[serde(default)]
    pub truncated: bool,
    /// Findings (not suppressed) of this rule in this run.
    pub findings: usize,
    /// Of those, how many no earlier run had.
    #[serde(default)]
    pub new_findings: usize,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclusions: Vec<ExclusionReport>,
    /// Wall-clock time of validation, planning and execution.
    pub elapsed_ms: f64,
}

/// One exclusion and what it did.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExclusionReport {
    #[serde(flatten)]
    pub plan: ExclusionPlan,
    pub suppressed_rows: usize,
}

/// Which exclusion suppressed a finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppression {
    /// Index of the false positive in the rule's enrichment.
    pub index: usize,
    pub scenario: String,
    pub exclusion: String,
}

/// Triage state of a finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriageStatus {
    New,
    Confirmed,
    FalsePositive,
    Closed,
}

impl TriageStatus {
    pub const ALL: [TriageStatus; 4] = [
        TriageStatus::New,
        TriageStatus::Confirmed,
        TriageStatus::FalsePositive,
        TriageStatus::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TriageStatus::New => "new",
            TriageStatus::Confirmed => "confirmed",
            TriageStatus::FalsePositive => "false_positive",
            TriageStatus::Closed => "closed",
        }
    }

    /// `false_positive`, `false-positive` and `fp` are the same.
    pub fn parse(s: &str) -> Option<TriageStatus> {
        Some(match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "new" => TriageStatus::New,
            "confirmed" => TriageStatus::Confirmed,
            "false_positive" | "fp" => TriageStatus::FalsePositive,
            "closed" => TriageStatus::Closed,
            _ => return None,
        })
    }
}

impl std::fmt::Display for TriageStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a finding's time window comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowSource {
    /// The rows' `FirstSeen`/`LastSeen` (or their time column).
    Rows,
    /// The rows have no time: the hunt's look-back window `[now - lookback, now]`.
    Query,
}

/// A column of result rows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultColumn {
    pub name: String,
    #[serde(rename = "type")]
    pub kql_type: String,
}

/// Result rows of one rule about the same entities in one time window.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Finding {
    /// Id in the findings store (`None` when the hunt was not stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// No earlier run had it.
    pub is_new: bool,
    /// Triage status (of the stored finding, when it existed before).
    pub status: TriageStatus,
    pub rule_id: String,
    pub rule_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    #[serde(default)]
    pub tactics: Vec<String>,
    #[serde(default)]
    pub techniques: Vec<String>,
    pub entities: Entities,
    /// What makes it the same finding across runs (see [`Entities::key`]).
    pub entity_key: String,
    /// Start and end of the activity (Kusto datetime text).
    pub first_seen: String,
    pub last_seen: String,
    pub window: WindowSource,
    /// Set when an exclusion suppressed these rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<Suppression>,
    pub columns: Vec<ResultColumn>,
    /// The result rows, column name → value (Kusto's JSON forms).
    pub rows: Vec<Map<String, Json>>,
}

impl Finding {
    pub fn device_label(&self) -> &str {
        self.entities
            .device
            .as_ref()
            .and_then(|d| d.label())
            .unwrap_or("(no device)")
    }
}

/// A whole hunt.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunReport {
    /// Id in the findings store (`None` when not stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<i64>,
    pub status: RunStatus,
    pub started_at: String,
    pub finished_at: String,
    /// The `now()` every rule ran with (Kusto datetime text).
    pub now: String,
    /// `wall_clock`, `latest` or `explicit`.
    pub now_mode: String,
    /// What was hunted (`pack rmm`, `rule store`, file paths).
    pub selection: String,
    /// Problems loading the rules (rule files that could not be read).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub load_diagnostics: Vec<RuleDiagnostic>,
    pub rules: Vec<RuleReport>,
    /// Tables read once for several rules (fused execution).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shared_scans: Vec<crate::fused::SharedScan>,
    /// Findings, not suppressed and suppressed, grouped by rule (in rule order) and device.
    pub findings: Vec<Finding>,
    pub elapsed_ms: f64,
    /// Where the hunt's time went.
    #[serde(default)]
    pub phases: HuntPhases,
}

/// Where a hunt's time went, in milliseconds, phase after phase: setting up (the engine,
/// the rules' catalog), preparing the rules (validating and planning them), the shared
/// scans, and running the rules. `RunReport::elapsed_ms` also counts collecting the
/// findings.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct HuntPhases {
    pub setup_ms: f64,
    pub prepare_ms: f64,
    pub scans_ms: f64,
    pub runs_ms: f64,
}

impl RunReport {
    /// Findings not suppressed by an exclusion.
    pub fn active_findings(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.suppressed.is_none())
    }

    pub fn suppressed_findings(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.suppressed.is_some())
    }

    /// A rule was invalid or failed, or a rule file could not be loaded.
    pub fn has_errors(&self) -> bool {
        self.rules.iter().any(|r| r.status.is_error())
            || self.load_diagnostics.iter().any(|d| d.level == rules::Level::Error)
    }

    pub fn count(&self, status: RuleStatus) -> usize {
        self.rules.iter().filter(|r| r.status == status).count()
    }
}
