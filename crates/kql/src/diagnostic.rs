//! Diagnostics: what went wrong, where, and what to do about it.
//!
//! The type is shared by every stage that reports on a query (syntax here; names, types
//! and schemas in `engine`; rule checks in `rules`), so that the CLI, the web UI and the
//! JSON output render them all the same way.

use crate::span::{LineIndex, Span};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// A secondary location with its own short message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

/// One problem found in a query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// A stable code. Syntax diagnostics use Kusto's codes (`KS005` "Expected: …",
    /// `KS006` "Missing expression"…); other stages choose their own prefixes.
    pub code: String,
    /// The message, in Kusto's wording where Kusto has one.
    pub message: String,
    /// The primary location.
    pub span: Span,
    /// Secondary locations.
    pub labels: Vec<Label>,
    /// A suggestion for fixing it.
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(severity: Severity, code: impl Into<String>, message: impl Into<String>, span: Span) -> Self {
        Diagnostic {
            severity,
            code: code.into(),
            message: message.into(),
            span,
            labels: Vec::new(),
            help: None,
        }
    }

    pub fn error(code: impl Into<String>, message: impl Into<String>, span: Span) -> Self {
        Self::new(Severity::Error, code, message, span)
    }

    pub fn warning(code: impl Into<String>, message: impl Into<String>, span: Span) -> Self {
        Self::new(Severity::Warning, code, message, span)
    }

    pub fn with_label(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The same diagnostic with every span mapped by `f` (e.g. from offsets in a query to
    /// offsets in the file the query was extracted from).
    pub fn map_spans(mut self, mut f: impl FnMut(Span) -> Span) -> Self {
        self.span = f(self.span);
        for label in &mut self.labels {
            label.span = f(label.span);
        }
        self
    }

    /// A one-line summary `line:column: severity[code]: message` (1-based, columns in chars).
    pub fn one_line(&self, source: &str) -> String {
        let pos = LineIndex::new(source).line_col(self.span.start);
        format!(
            "{}:{}: {}[{}]: {}",
            pos.line,
            pos.column,
            self.severity.as_str(),
            self.code,
            self.message
        )
    }
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}[{}]: {}", self.severity.as_str(), self.code, self.message)
    }
}

impl std::error::Error for Diagnostic {}

/// True when any diagnostic is an error.
pub fn has_errors(diagnostics: &[Diagnostic]) -> bool {
    diagnostics.iter().any(Diagnostic::is_error)
}
