//! Diagnostics about rule files: import problems and validation findings, each with a code,
//! a severity and the place in the file it is about.

use crate::position::Position;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Worth knowing; nothing is wrong.
    Info,
    /// Probably wrong, or read with a repair; the rule still loads and runs.
    Warning,
    /// The rule is wrong (or could not be read).
    Error,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleDiagnostic {
    pub level: Level,
    /// Stable identifier (`Q1xx` import, `Q2xx` rule checks, `Q3xx` query checks).
    pub code: String,
    pub message: String,
    /// The file the diagnostic is about, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
    /// End of the offending text, when known (same line or later).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<Position>,
    /// The rule concerned, once its id is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<String>,
    /// Extra explanation or a suggested fix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

impl RuleDiagnostic {
    pub fn new(level: Level, code: &str, message: impl Into<String>) -> Self {
        RuleDiagnostic {
            level,
            code: code.to_string(),
            message: message.into(),
            path: None,
            position: None,
            end: None,
            rule_id: None,
            help: None,
        }
    }

    pub fn at(mut self, position: Option<Position>) -> Self {
        self.position = position;
        self
    }

    pub fn to(mut self, end: Option<Position>) -> Self {
        self.end = end;
        self
    }

    pub fn in_file(mut self, path: Option<&str>) -> Self {
        self.path = path.map(str::to_string);
        self
    }

    pub fn for_rule(mut self, id: &str) -> Self {
        self.rule_id = Some(id.to_string());
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// `path:line:col` (or as much of it as is known).
    pub fn location(&self) -> String {
        match (&self.path, &self.position) {
            (Some(p), Some(pos)) => format!("{p}:{}:{}", pos.line, pos.column),
            (Some(p), None) => p.clone(),
            (None, Some(pos)) => format!("{}:{}", pos.line, pos.column),
            (None, None) => "<rule>".to_string(),
        }
    }
}

impl std::fmt::Display for RuleDiagnostic {
    /// One line, compiler style: `path:line:col: error[Q201]: message (help: …)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {}[{}]: {}",
            self.location(),
            self.level.as_str(),
            self.code,
            self.message
        )?;
        if let Some(help) = &self.help {
            write!(f, " (help: {help})")?;
        }
        Ok(())
    }
}

/// Diagnostic codes, in one place so they stay unique and documented (docs/rules.md).
pub mod codes {
    /// The file could not be read (I/O, not UTF-8).
    pub const UNREADABLE: &str = "Q100";
    /// The YAML is malformed.
    pub const YAML_SYNTAX: &str = "Q101";
    /// The file is not a rule in a format Quarry reads.
    pub const UNKNOWN_FORMAT: &str = "Q102";
    /// A required field is missing or empty.
    pub const MISSING_FIELD: &str = "Q103";
    /// A field has the wrong shape or an invalid value.
    pub const BAD_FIELD: &str = "Q104";
    /// A key at a list item's `-` column was read as part of that item (Sentinel accepts it).
    pub const REINDENTED_KEY: &str = "Q105";
    /// A top-level key Quarry does not know; kept verbatim.
    pub const UNKNOWN_KEY: &str = "Q106";
    /// A feed page's sections disagree or are incomplete.
    pub const PAGE_STRUCTURE: &str = "Q107";
    /// The same rule id twice in one import.
    pub const DUPLICATE_IN_IMPORT: &str = "Q108";
    /// A condensed feed page's flattened indentation was reconstructed.
    pub const REINDENTED_PAGE: &str = "Q109";

    /// Unknown ATT&CK technique id.
    pub const UNKNOWN_TECHNIQUE: &str = "Q201";
    /// Unknown tactic name.
    pub const UNKNOWN_TACTIC: &str = "Q202";
    /// A technique whose tactics are not among the rule's tactics.
    pub const TECHNIQUE_TACTIC_MISMATCH: &str = "Q203";
    /// A required field is missing or empty.
    pub const REQUIRED_FIELD: &str = "Q204";
    /// Two rules with the same id in a rule set.
    pub const DUPLICATE_ID: &str = "Q205";
    /// A tactic spelled with the wrong case.
    pub const TACTIC_CASE: &str = "Q206";
    /// Scheduled-rule settings that contradict each other.
    pub const SCHEDULE: &str = "Q207";
    /// The id is not a GUID.
    pub const BAD_ID: &str = "Q208";
    /// A tactic without any technique, or techniques without tactics.
    pub const TACTIC_WITHOUT_TECHNIQUE: &str = "Q209";
    /// A false-positive scenario without an exclusion.
    pub const EXCLUSION_MISSING: &str = "Q210";

    /// Declared data types differ from the tables the query reads.
    pub const DATA_TYPES_MISMATCH: &str = "Q301";
    /// The query looks back further than its query period.
    pub const WINDOW_EXCEEDS_PERIOD: &str = "Q302";
    /// An exclusion references a column the rule's table does not have.
    pub const EXCLUSION_UNKNOWN_COLUMN: &str = "Q303";
    /// An exclusion is prose, not a KQL predicate; it cannot be applied automatically.
    pub const EXCLUSION_NOT_KQL: &str = "Q304";
    /// A query-level diagnostic from a [`crate::validate::QueryAnalyzer`] (parser, semantic
    /// analysis); the analyzer's own code is in the message.
    pub const QUERY: &str = "Q300";
    /// A check that needs the KQL front-end could not run.
    pub const CHECK_UNAVAILABLE: &str = "Q399";
}
