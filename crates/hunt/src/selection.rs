//! Which rules a hunt runs: a built-in pack, rule files, or the data directory's rule store.

use rules::{Level, Rule, RuleDiagnostic, RuleStore};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub enum Selection {
    /// A built-in pack by name (`rmm`).
    Pack(String),
    /// Rule files, directories (recursively) and glob patterns, imported for this hunt only.
    Files(Vec<PathBuf>),
    /// Rules of the data directory's rule store: these ids (or id prefixes, or names), or
    /// every stored rule when empty.
    Store(Vec<String>),
    /// Rules given directly, with a label for the run history.
    Rules { label: String, rules: Vec<Rule> },
}

/// The rules a selection names, and what went wrong reading them.
#[derive(Clone, Debug, Default)]
pub struct LoadedRules {
    pub rules: Vec<Rule>,
    /// Files that could not be read, unknown ids (errors).
    pub diagnostics: Vec<RuleDiagnostic>,
    /// For the run history (`pack rmm`, `rule store`, `files: a.yaml, b/`).
    pub label: String,
}

impl Selection {
    /// How the run history names it.
    pub fn label(&self) -> String {
        match self {
            Selection::Pack(name) => format!("pack {name}"),
            Selection::Files(paths) => {
                let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
                format!("files: {}", shown.join(", "))
            }
            Selection::Store(ids) if ids.is_empty() => "rule store".into(),
            Selection::Store(ids) => format!("rule store: {}", ids.join(", ")),
            Selection::Rules { label, .. } => label.clone(),
        }
    }

    pub fn load(&self, data_dir: &Path) -> Result<LoadedRules, crate::HuntError> {
        match self {
            Selection::Pack(name) => {
                let rules = rules::packs::by_name(name).ok_or_else(|| {
                    crate::HuntError::Selection(format!(
                        "unknown pack `{name}` (available: {})",
                        rules::packs::NAMES.join(", ")
                    ))
                })?;
                Ok(LoadedRules {
                    rules,
                    diagnostics: Vec::new(),
                    label: self.label(),
                })
            }
            Selection::Files(paths) => {
                let report = rules::import_paths(paths);
                let diagnostics = report
                    .all_diagnostics()
                    .into_iter()
                    .filter(|d| d.level == Level::Error)
                    .collect();
                Ok(LoadedRules {
                    rules: report.rules(),
                    diagnostics,
                    label: self.label(),
                })
            }
            Selection::Store(ids) => {
                let store = RuleStore::open(data_dir)?;
                if ids.is_empty() {
                    // Every enabled rule; a disabled one runs only when named.
                    let rules = store
                        .list(&rules::RuleFilter {
                            enabled: Some(true),
                            ..Default::default()
                        })?
                        .into_iter()
                        .map(|s| s.rule)
                        .collect();
                    return Ok(LoadedRules {
                        rules,
                        diagnostics: Vec::new(),
                        label: self.label(),
                    });
                }
                let mut rules: Vec<Rule> = Vec::new();
                let mut diagnostics = Vec::new();
                for id in ids {
                    match store.get(id) {
                        Ok(Some(s)) => {
                            if !rules.iter().any(|r| r.id == s.rule.id) {
                                rules.push(s.rule);
                            }
                        }
                        Ok(None) => diagnostics.push(RuleDiagnostic::new(
                            Level::Error,
                            "Q100",
                            format!("no rule `{id}` in the rule store"),
                        )),
                        Err(e) => diagnostics.push(RuleDiagnostic::new(Level::Error, "Q100", e.to_string())),
                    }
                }
                Ok(LoadedRules {
                    rules,
                    diagnostics,
                    label: self.label(),
                })
            }
            Selection::Rules { label, rules } => Ok(LoadedRules {
                rules: rules.clone(),
                diagnostics: Vec::new(),
                label: label.clone(),
            }),
        }
    }
}
