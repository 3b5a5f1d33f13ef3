//! Rule-level validation: what is wrong with a rule as a rule (ATT&CK mapping, required
//! fields, schedule, duplicates), plus the checks that need to understand its query, which
//! [`QueryAnalyzer`]s provide.
//!
//! The rules crate cannot type-check KQL (that is the engine's job), so query-aware checks
//! are a plug-in: an analyzer looks at a rule's query and exclusions and returns
//! [`QueryAnalysis`] — diagnostics with byte spans into the query, the tables it reads, how
//! far back it looks, the columns its exclusions use. The [`Validator`] turns all of that
//! into [`RuleDiagnostic`]s positioned in the rule file.

mod attack_checks;
mod fields;
mod kql_analyzer;

pub use kql_analyzer::KqlAnalyzer;

use crate::diag::{Level, RuleDiagnostic, codes};
use crate::model::Rule;
use crate::position::Position;
use schema::Catalog;

/// A byte range into the text an analysis is about (the query, or one exclusion).
pub type TextSpan = std::ops::Range<usize>;

/// What an analyzer learned about one rule. Every part is optional: an analyzer fills in
/// what it can determine, and `None` means "not determined" (then the check is skipped),
/// never "empty".
#[derive(Debug, Default, Clone)]
pub struct QueryAnalysis {
    /// Problems in the query, with byte spans into `rule.query` (parser and semantic
    /// diagnostics).
    pub diagnostics: Vec<kql::Diagnostic>,
    /// The tables the query reads (after resolving `let`s), each with a span where it is
    /// named.
    pub tables_read: Option<Vec<(String, TextSpan)>>,
    /// The widest time window the query looks back from now (`now(-5d)`, `ago(5d)`):
    /// seconds and the span of the expression.
    pub lookback: Option<(i64, TextSpan)>,
    /// Per false-positive entry (same index as `rule.enrichment.false_positives`).
    pub exclusions: Vec<ExclusionAnalysis>,
}

/// What an analyzer found in one false-positive exclusion text.
#[derive(Debug, Clone, Default)]
pub enum ExclusionAnalysis {
    /// Not looked at.
    #[default]
    NotAnalyzed,
    /// The text is not a KQL predicate (prose, or a syntax error at the span).
    NotKql { message: String, span: TextSpan },
    /// A KQL predicate over the named columns; `unknown` lists those that are neither a
    /// column of the tables read nor an output column of the query.
    Predicate {
        columns: Vec<(String, TextSpan)>,
        unknown: Vec<(String, TextSpan)>,
    },
}

/// A query-aware check that plugs into the [`Validator`].
pub trait QueryAnalyzer: Send + Sync {
    /// A short name, for messages (`kql`, `engine`).
    fn name(&self) -> &str;
    /// Analyzes one rule. `catalog` holds the table schemas to check against.
    fn analyze(&self, rule: &Rule, catalog: &Catalog) -> QueryAnalysis;
}

/// Runs every check on rules.
pub struct Validator<'a> {
    catalog: &'a Catalog,
    analyzers: Vec<&'a dyn QueryAnalyzer>,
}

/// The parser-only analyzer every default validator runs.
static KQL_ANALYZER: KqlAnalyzer = KqlAnalyzer;

impl Default for Validator<'static> {
    /// The built-in schemas and the syntax-level [`KqlAnalyzer`].
    fn default() -> Self {
        Validator::new(Catalog::builtin()).with_analyzer(&KQL_ANALYZER)
    }
}

/// Validates one rule with the built-in schemas and the syntax-level query analyzer.
pub fn validate(rule: &Rule) -> Vec<RuleDiagnostic> {
    Validator::default().validate(rule)
}

/// Validates a rule set (each rule, and duplicate ids across the set).
pub fn validate_set(rules: &[Rule]) -> Vec<RuleDiagnostic> {
    Validator::default().validate_set(rules)
}

impl<'a> Validator<'a> {
    pub fn new(catalog: &'a Catalog) -> Self {
        Validator {
            catalog,
            analyzers: Vec::new(),
        }
    }

    /// Adds a query analyzer (its checks run after the rule-level ones, in order added).
    pub fn with_analyzer(mut self, analyzer: &'a dyn QueryAnalyzer) -> Self {
        self.analyzers.push(analyzer);
        self
    }

    pub fn catalog(&self) -> &Catalog {
        self.catalog
    }

    pub fn validate(&self, rule: &Rule) -> Vec<RuleDiagnostic> {
        let mut out = Out {
            rule,
            diags: Vec::new(),
        };
        fields::check(rule, &mut out);
        attack_checks::check(rule, &mut out);
        for a in &self.analyzers {
            let analysis = a.analyze(rule, self.catalog);
            query_checks(rule, a.name(), &analysis, &mut out);
        }
        out.diags
    }

    pub fn validate_set(&self, rules: &[Rule]) -> Vec<RuleDiagnostic> {
        let mut diags: Vec<RuleDiagnostic> = rules.iter().flat_map(|r| self.validate(r)).collect();
        let mut seen: std::collections::HashMap<&str, &Rule> = std::collections::HashMap::new();
        for r in rules {
            if let Some(first) = seen.get(r.id.as_str()) {
                let mut out = Out {
                    rule: r,
                    diags: Vec::new(),
                };
                out.push(
                    Level::Error,
                    codes::DUPLICATE_ID,
                    format!(
                        "rule id {} is already used by `{}` ({})",
                        r.id,
                        first.name,
                        first.provenance.path.as_deref().unwrap_or("built in")
                    ),
                    r.field_position("id"),
                );
                diags.extend(out.diags);
            } else {
                seen.insert(&r.id, r);
            }
        }
        diags
    }
}

/// Collects diagnostics for one rule, filling in its file and id.
pub(crate) struct Out<'r> {
    pub rule: &'r Rule,
    pub diags: Vec<RuleDiagnostic>,
}

impl Out<'_> {
    pub fn push(
        &mut self,
        level: Level,
        code: &str,
        message: impl Into<String>,
        at: Option<Position>,
    ) -> &mut RuleDiagnostic {
        let path = self
            .rule
            .source
            .as_ref()
            .map(|s| s.path.as_str())
            .or(self.rule.provenance.path.as_deref());
        self.diags.push(
            RuleDiagnostic::new(level, code, message)
                .at(at)
                .in_file(path)
                .for_rule(&self.rule.id),
        );
        let last = self.diags.len() - 1;
        &mut self.diags[last]
    }
}

fn level_of(s: kql::Severity) -> Level {
    match s {
        kql::Severity::Error => Level::Error,
        kql::Severity::Warning => Level::Warning,
        kql::Severity::Info => Level::Info,
    }
}

/// Turns an analysis into positioned diagnostics.
fn query_checks(rule: &Rule, analyzer: &str, a: &QueryAnalysis, out: &mut Out<'_>) {
    let query_pos = |span: &TextSpan| rule.query_span_positions(span.clone());
    for d in &a.diagnostics {
        let (start, end) = query_pos(&d.span.range())
            .map(|(s, e)| (Some(s), Some(e)))
            .unwrap_or((rule.field_position("query"), None));
        let diag = out.push(
            level_of(d.severity),
            codes::QUERY,
            format!("{}[{}]: {}", analyzer, d.code, d.message),
            start,
        );
        diag.end = end;
        diag.help = d.help.clone();
    }
    if let Some(tables) = &a.tables_read {
        let declared = rule.data_types();
        let mut read: Vec<&str> = Vec::new();
        for (t, _) in tables {
            if !read.contains(&t.as_str()) {
                read.push(t);
            }
        }
        for (t, span) in tables {
            if !declared.contains(&t.as_str()) && !declared.is_empty() {
                out.push(
                    Level::Warning,
                    codes::DATA_TYPES_MISMATCH,
                    format!(
                        "the query reads `{t}`, which is not among the declared data types ({})",
                        declared.join(", ")
                    ),
                    query_pos(span).map(|p| p.0),
                )
                .help = Some(format!("add `{t}` to requiredDataConnectors[].dataTypes"));
            }
        }
        if declared.is_empty() && !read.is_empty() {
            out.push(
                Level::Warning,
                codes::DATA_TYPES_MISMATCH,
                format!("no data types are declared; the query reads {}", read.join(", ")),
                rule.field_position("requiredDataConnectors")
                    .or(rule.field_position("id")),
            );
        }
        for (i, d) in declared.iter().enumerate() {
            if !read.contains(d) {
                let at = declared_position(rule, d).or(rule.field_position("requiredDataConnectors"));
                let _ = i;
                out.push(
                    Level::Warning,
                    codes::DATA_TYPES_MISMATCH,
                    format!("data type `{d}` is declared but the query does not read it"),
                    at,
                );
            }
        }
    }
    if let (Some((secs, span)), Some(period)) = (&a.lookback, &rule.query_period)
        && *secs > period.seconds
    {
        out.push(
            Level::Warning,
            codes::WINDOW_EXCEEDS_PERIOD,
            format!(
                "the query looks back {} but its queryPeriod is {}: Sentinel only gives it the last {}",
                human(*secs),
                period.text,
                period.text
            ),
            query_pos(span).map(|p| p.0).or(rule.field_position("query")),
        )
        .help = Some("make queryPeriod at least as long as the query's window, or shorten the window".into());
    }
    for (i, ex) in a.exclusions.iter().enumerate() {
        let pos = |span: &TextSpan| rule.exclusion_position(i, span.start);
        let path_override = rule.source.as_ref().and_then(|s| s.exclusion_path.clone());
        let mut pushed = Vec::new();
        match ex {
            ExclusionAnalysis::NotAnalyzed => {}
            ExclusionAnalysis::NotKql { message, span } => {
                out.push(Level::Warning, codes::EXCLUSION_NOT_KQL, format!("false positive #{}: the exclusion is not a KQL predicate ({message}); it is shown to analysts but cannot be applied", i + 1), pos(span));
                pushed.push(out.diags.len() - 1);
            }
            ExclusionAnalysis::Predicate { unknown, .. } => {
                for (col, span) in unknown {
                    out.push(
                        Level::Error,
                        codes::EXCLUSION_UNKNOWN_COLUMN,
                        format!("false positive #{}: the exclusion references `{col}`, which is not a column of {} nor of the query's output", i + 1, rule.data_types().join(", ")),
                        pos(span),
                    );
                    pushed.push(out.diags.len() - 1);
                }
            }
        }
        if let Some(p) = path_override {
            for k in pushed {
                out.diags[k].path = Some(p.clone());
            }
        }
    }
}

fn declared_position(rule: &Rule, table: &str) -> Option<Position> {
    for (ci, c) in rule.required_data_connectors.iter().enumerate() {
        for (ti, t) in c.data_types.iter().enumerate() {
            if t == table {
                return rule.field_position(&format!("requiredDataConnectors[{ci}].dataTypes[{ti}]"));
            }
        }
    }
    None
}

/// `432000` → `5d`, `5400` → `1h30m`.
pub(crate) fn human(secs: i64) -> String {
    let mut s = String::new();
    let mut rest = secs;
    for (unit, n) in [("d", 86400), ("h", 3600), ("m", 60), ("s", 1)] {
        if rest >= n {
            s.push_str(&format!("{}{unit}", rest / n));
            rest %= n;
        }
    }
    if s.is_empty() { "0s".into() } else { s }
}
