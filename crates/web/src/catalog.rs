//! The rules as the feed shows them: every stored rule with what the pages derive from it
//! (validation diagnostics, the status of each exclusion, the tables it needs), computed
//! once per change of the rule store rather than on every request.

use rules::validate::{ExclusionAnalysis, KqlAnalyzer, QueryAnalyzer};
use rules::{Attack, Level, Rule, RuleDiagnostic, RuleStore, StoredRule};
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// The worst level among a rule's validation diagnostics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Validation {
    Ok,
    Warnings,
    Errors,
}

impl Validation {
    pub fn as_str(self) -> &'static str {
        match self {
            Validation::Ok => "ok",
            Validation::Warnings => "warnings",
            Validation::Errors => "errors",
        }
    }

    pub fn parse(s: &str) -> Option<Validation> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ok" | "valid" => Some(Validation::Ok),
            "warnings" | "warning" => Some(Validation::Warnings),
            "errors" | "error" | "invalid" => Some(Validation::Errors),
            _ => None,
        }
    }
}

/// What validation says about one false-positive exclusion.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum ExclusionStatus {
    /// No exclusion text was given for the scenario.
    Missing,
    /// A KQL predicate over known columns: the hunt can apply it.
    Valid { columns: Vec<String> },
    /// A KQL predicate naming columns neither the table nor the query output has.
    UnknownColumns { columns: Vec<String>, unknown: Vec<String> },
    /// Prose or not parseable as KQL: shown to analysts, never applied.
    NotKql { message: String },
    /// Could not be checked (the rule's query does not parse).
    Unchecked,
}

impl ExclusionStatus {
    pub fn label(&self) -> &'static str {
        match self {
            ExclusionStatus::Missing => "no exclusion",
            ExclusionStatus::Valid { .. } => "valid KQL",
            ExclusionStatus::UnknownColumns { .. } => "unknown columns",
            ExclusionStatus::NotKql { .. } => "not KQL",
            ExclusionStatus::Unchecked => "not checked",
        }
    }

    /// `ok`, `warning` or `error`, for styling.
    pub fn tone(&self) -> &'static str {
        match self {
            ExclusionStatus::Valid { .. } => "ok",
            ExclusionStatus::UnknownColumns { .. } => "error",
            _ => "warning",
        }
    }
}

/// A stored rule and what the feed derives from it.
#[derive(Clone, Debug)]
pub struct Entry {
    pub stored: StoredRule,
    /// The tables the rule needs: those its query reads when the query parses, otherwise
    /// the declared data types.
    pub tables: Vec<String>,
    pub diagnostics: Vec<RuleDiagnostic>,
    pub validation: Validation,
    /// One per `enrichment.false_positives` entry.
    pub exclusions: Vec<ExclusionStatus>,
    /// Where the rule comes from, for the source badge and filter (`Azure-Sentinel`,
    /// `pack:rmm`, `sentinel-yaml`).
    pub source: String,
    /// The date the feed orders by: when the feed retrieved the rule, else when it was
    /// first imported here.
    pub date: String,
    /// Lower-cased text the search matches against.
    search: String,
}

impl Entry {
    pub fn rule(&self) -> &Rule {
        &self.stored.rule
    }

    pub fn build(stored: StoredRule) -> Entry {
        let rule = &stored.rule;
        let catalog = schema::Catalog::builtin();
        let analysis = KqlAnalyzer.analyze(rule, catalog);
        let tables: Vec<String> = match &analysis.tables_read {
            Some(read) if !read.is_empty() => {
                let mut out: Vec<String> = Vec::new();
                for (t, _) in read {
                    if !out.contains(t) {
                        out.push(t.clone());
                    }
                }
                out
            }
            _ => rule.data_types().into_iter().map(str::to_string).collect(),
        };
        let diagnostics = rules::validate(rule);
        let validation = if diagnostics.iter().any(|d| d.level == Level::Error) {
            Validation::Errors
        } else if diagnostics.iter().any(|d| d.level == Level::Warning) {
            Validation::Warnings
        } else {
            Validation::Ok
        };
        let exclusions = rule
            .enrichment
            .false_positives
            .iter()
            .enumerate()
            .map(|(i, fp)| {
                if fp.exclusion.as_deref().is_none_or(|e| e.trim().is_empty()) {
                    return ExclusionStatus::Missing;
                }
                match analysis.exclusions.get(i) {
                    Some(ExclusionAnalysis::Predicate { columns, unknown }) if unknown.is_empty() => {
                        ExclusionStatus::Valid {
                            columns: names(columns),
                        }
                    }
                    Some(ExclusionAnalysis::Predicate { columns, unknown }) => ExclusionStatus::UnknownColumns {
                        columns: names(columns),
                        unknown: names(unknown),
                    },
                    Some(ExclusionAnalysis::NotKql { message, .. }) => ExclusionStatus::NotKql {
                        message: message.clone(),
                    },
                    Some(ExclusionAnalysis::NotAnalyzed) | None => ExclusionStatus::Unchecked,
                }
            })
            .collect();
        let p = &rule.provenance;
        let source = p
            .source_repository
            .clone()
            .or_else(|| p.pack.as_ref().map(|k| format!("pack:{k}")))
            .unwrap_or_else(|| p.format.as_str().to_string());
        let date = p.retrieved.clone().unwrap_or_else(|| stored.imported_at.clone());
        let mut search = String::new();
        for part in [&rule.id, &rule.name, &rule.description, &rule.query, &source] {
            search.push_str(&part.to_lowercase());
            search.push('\n');
        }
        for part in rule.all_techniques().chain(rule.tactics.iter().map(String::as_str)) {
            search.push_str(&part.to_lowercase());
            search.push('\n');
        }
        for t in &tables {
            search.push_str(&t.to_lowercase());
            search.push('\n');
        }
        if let Some(h) = &rule.enrichment.hunt_hypothesis {
            search.push_str(&h.to_lowercase());
        }
        Entry {
            stored,
            tables,
            diagnostics,
            validation,
            exclusions,
            source,
            date,
            search,
        }
    }

    /// Whether every word of `q` occurs in the rule's searchable text.
    pub fn matches_text(&self, q: &str) -> bool {
        q.split_whitespace().all(|w| self.search.contains(&w.to_lowercase()))
    }

    /// Technique ids with ATT&CK names, in the rule's order.
    pub fn techniques(&self) -> Vec<(String, Option<&'static rules::attack::Technique>)> {
        self.rule()
            .all_techniques()
            .map(|t| (t.to_string(), Attack::get().technique(t)))
            .collect()
    }
}

fn names(cols: &[(String, std::ops::Range<usize>)]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (c, _) in cols {
        if !out.contains(c) {
            out.push(c.clone());
        }
    }
    out
}

/// Every rule of the store, newest first.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub entries: Vec<Arc<Entry>>,
    by_id: HashMap<String, usize>,
    /// Identifies the store contents this snapshot was built from.
    pub fingerprint: String,
}

impl Snapshot {
    pub fn build(stored: Vec<StoredRule>, fingerprint: String) -> Snapshot {
        let mut entries: Vec<Arc<Entry>> = stored.into_iter().map(|s| Arc::new(Entry::build(s))).collect();
        entries.sort_by(|a, b| {
            b.date
                .cmp(&a.date)
                .then_with(|| b.stored.updated_at.cmp(&a.stored.updated_at))
                .then_with(|| a.rule().name.to_lowercase().cmp(&b.rule().name.to_lowercase()))
                .then_with(|| a.rule().id.cmp(&b.rule().id))
        });
        let by_id = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.rule().id.to_ascii_lowercase(), i))
            .collect();
        Snapshot {
            entries,
            by_id,
            fingerprint,
        }
    }

    /// A rule by its exact id (case-insensitive: GUIDs are written in either case).
    pub fn get(&self, id: &str) -> Option<&Arc<Entry>> {
        self.by_id
            .get(&id.trim().to_ascii_lowercase())
            .and_then(|&i| self.entries.get(i))
    }
}

/// Reads rules from `<data>/quarry.db`, rebuilding the snapshot only when the store changed.
pub struct RuleSource {
    data_dir: std::path::PathBuf,
    current: std::sync::Mutex<Arc<Snapshot>>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SourceError(pub String);

impl RuleSource {
    pub fn new(data_dir: &Path) -> RuleSource {
        RuleSource {
            data_dir: data_dir.to_path_buf(),
            current: std::sync::Mutex::new(Arc::new(Snapshot::default())),
        }
    }

    /// The current rules (blocking: call from a blocking task).
    pub fn snapshot(&self) -> Result<Arc<Snapshot>, SourceError> {
        let mut store = RuleStore::open(&self.data_dir).map_err(|e| SourceError(e.to_string()))?;
        let fingerprint: String = store
            .connection()
            .query_row(
                // Enabling or disabling changes no revision: the disabled ids are part of the key.
                "SELECT COUNT(*) || '/' || COALESCE(MAX(updated_at), '') || '/' || COALESCE(SUM(revision), 0) || '/' || COALESCE((SELECT group_concat(id) FROM rules WHERE enabled = 0), '') FROM rules",
                [],
                |r| r.get(0),
            )
            .map_err(|e| SourceError(format!("rule store: {e}")))?;
        {
            let cur = self
                .current
                .lock()
                .map_err(|_| SourceError("rule cache poisoned".into()))?;
            if cur.fingerprint == fingerprint && !fingerprint.is_empty() {
                return Ok(cur.clone());
            }
        }
        let stored = store
            .list(&rules::RuleFilter::default())
            .map_err(|e| SourceError(e.to_string()))?;
        let snap = Arc::new(Snapshot::build(stored, fingerprint));
        let mut cur = self
            .current
            .lock()
            .map_err(|_| SourceError("rule cache poisoned".into()))?;
        *cur = snap.clone();
        Ok(snap)
    }
}
