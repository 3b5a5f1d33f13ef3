//! The engine-backed [`QueryAnalyzer`]: the semantic half of rule validation.
//!
//! [`rules::validate::KqlAnalyzer`] (in every default validator) reports what the parser
//! sees. This analyzer adds what only the engine's analysis knows — unknown tables and
//! columns, type errors, functions called wrongly — by planning the query against the
//! table schemas without data, and checks each false-positive exclusion the same way
//! (over the query's output or over the table it filters; see [`crate::exclusions`]).
//!
//! Syntax errors are never reported twice: the parser's diagnostics are the syntax
//! analyzer's. When a query has syntax errors, the parser's recovered tree is still
//! analyzed, and only semantic diagnostics away from every syntax error are kept (a
//! column misspelled three lines below a missing parenthesis is still worth knowing;
//! whatever touches the broken text is a consequence of it).
//!
//! It lives in the hunt crate rather than in `rules` so that the rule model, the importers
//! and their tests build without DataFusion; everything that runs rules links it anyway.

use crate::exclusions;
use engine::{Engine, QueryOptions, SchemaCatalog};
use kql::{Diagnostic, Span};
use rules::Rule;
use rules::validate::{ExclusionAnalysis, KqlAnalyzer, QueryAnalysis, QueryAnalyzer, Validator};
use schema::Catalog;
use std::sync::Arc;

/// Semantic analysis of a rule's query (and its exclusions) by the engine.
#[derive(Debug, Default, Clone, Copy)]
pub struct EngineAnalyzer;

static KQL: KqlAnalyzer = KqlAnalyzer;
static ENGINE: EngineAnalyzer = EngineAnalyzer;

/// A validator with every check: rule-level checks, syntax ([`KqlAnalyzer`]) and semantics
/// ([`EngineAnalyzer`]) against `catalog` (e.g. `schema::Catalog::builtin()`).
pub fn full_validator(catalog: &Catalog) -> Validator<'_> {
    Validator::new(catalog).with_analyzer(&KQL).with_analyzer(&ENGINE)
}

fn overlaps(a: Span, b: Span) -> bool {
    a.start <= b.end && b.start <= a.end
}

/// Semantic diagnostics of a query (spans into `query`), without the parser's: names,
/// types, functions, against the tables of `catalog`.
pub fn semantic_diagnostics(query: &str, catalog: &Catalog) -> Vec<Diagnostic> {
    let parsed = kql::parse(query);
    let semantic = engine::validate_ast(&parsed.query, &SchemaCatalog::new(catalog.clone()));
    if parsed.is_ok() {
        return semantic;
    }
    let broken: Vec<Span> = parsed
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.span)
        .collect();
    semantic
        .into_iter()
        // An internal planner error on a recovered tree says nothing about the query.
        .filter(|d| d.code != "QE999")
        .filter(|d| !broken.iter().any(|b| overlaps(d.span, *b)))
        .collect()
}

impl QueryAnalyzer for EngineAnalyzer {
    fn name(&self) -> &str {
        "engine"
    }

    fn analyze(&self, rule: &Rule, catalog: &Catalog) -> QueryAnalysis {
        let diagnostics = semantic_diagnostics(&rule.query, catalog);
        let has_exclusions = rule.enrichment.false_positives.iter().any(|fp| fp.exclusion.is_some());
        let exclusions = if has_exclusions && !kql::has_errors(&diagnostics) && kql::parse(&rule.query).is_ok() {
            check_exclusions(rule, catalog)
        } else {
            Vec::new()
        };
        QueryAnalysis {
            diagnostics,
            tables_read: None,
            lookback: None,
            exclusions,
        }
    }
}

/// An engine over `catalog` for planning. The DataFusion session (every KQL function
/// registered) and the worker threads are made once per process and shared: making them is
/// most of the cost of checking a small rule.
fn planning_engine(catalog: Arc<dyn engine::TableCatalog>) -> Option<Engine> {
    static TEMPLATE: std::sync::OnceLock<Option<Engine>> = std::sync::OnceLock::new();
    TEMPLATE
        .get_or_init(|| Engine::new(Arc::new(engine::MemCatalog::new())).ok())
        .as_ref()
        .map(|t| t.with_catalog(catalog))
}

/// Engine verdicts on the exclusions, for what the syntax analyzer cannot see (type
/// errors, columns that exist in the query but not where the exclusion would apply).
/// What the syntax analyzer reports already is left `NotAnalyzed` here.
fn check_exclusions(rule: &Rule, catalog: &Catalog) -> Vec<ExclusionAnalysis> {
    let syntax = KQL.analyze(rule, catalog);
    let schemas: Arc<dyn engine::TableCatalog> = Arc::new(SchemaCatalog::new(catalog.clone()));
    let output = planning_engine(schemas.clone())
        .and_then(|e| e.plan(&rule.query, &QueryOptions { now: Some(0) }).ok())
        .and_then(|p| p.results.into_iter().next())
        .map(|r| r.columns);
    let mut tables: Vec<String> = Vec::new();
    for (t, _) in syntax.tables_read.iter().flatten() {
        if !tables.contains(t) {
            tables.push(t.clone());
        }
    }
    let plans = exclusions::classify(rule, &syntax.exclusions, output.as_deref(), &tables, schemas.as_ref());
    exclusion_verdicts(rule, &plans)
}

/// The engine's verdicts on a rule's exclusions from how they were placed: the problems
/// found, the rest `NotAnalyzed` (the syntax analyzer speaks for them).
pub(crate) fn exclusion_verdicts(rule: &Rule, plans: &[exclusions::ExclusionPlan]) -> Vec<ExclusionAnalysis> {
    let mut out = vec![ExclusionAnalysis::NotAnalyzed; rule.enrichment.false_positives.len()];
    for p in plans {
        if let (Some((message, span)), Some(slot)) = (p.problem.clone(), out.get_mut(p.index)) {
            *slot = ExclusionAnalysis::NotKql { message, span };
        }
    }
    out
}

/// An analysis made already (by a hunt, which plans each rule once), presented to the
/// [`Validator`] under the name of the analyzer that would have made it.
pub(crate) struct Analyzed {
    name: &'static str,
    analysis: QueryAnalysis,
}

impl QueryAnalyzer for Analyzed {
    fn name(&self) -> &str {
        self.name
    }

    fn analyze(&self, _rule: &Rule, _catalog: &Catalog) -> QueryAnalysis {
        self.analysis.clone()
    }
}

impl Analyzed {
    /// What [`KqlAnalyzer`] found.
    pub fn syntax(analysis: QueryAnalysis) -> Analyzed {
        Analyzed {
            name: KQL.name(),
            analysis,
        }
    }

    /// What [`EngineAnalyzer`] would find, from the rule's plan.
    pub fn engine(analysis: QueryAnalysis) -> Analyzed {
        Analyzed {
            name: ENGINE.name(),
            analysis,
        }
    }

    /// A validator with every check of [`full_validator`], from analyses made already.
    pub fn validator<'a>(catalog: &'a Catalog, syntax: &'a Analyzed, engine: &'a Analyzed) -> Validator<'a> {
        Validator::new(catalog).with_analyzer(syntax).with_analyzer(engine)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sem(q: &str) -> Vec<String> {
        semantic_diagnostics(q, Catalog::builtin())
            .iter()
            .map(|d| format!("{} {}", d.code, d.span.text(q)))
            .collect()
    }

    #[test]
    fn unknown_columns_and_tables() {
        assert_eq!(
            sem("DeviceNetworkEvents | summarize count() by DeviceId, AccountUpn"),
            ["SEM0100 AccountUpn"]
        );
        assert_eq!(sem("DeviceNetworkEvent | take 1"), ["SEM0100 DeviceNetworkEvent"]);
        assert!(sem("DeviceProcessEvents | summarize count() by AccountUpn").is_empty());
    }

    #[test]
    fn the_rmm_pack_is_valid_and_its_exclusions_apply() {
        let v = full_validator(Catalog::builtin());
        for rule in rules::packs::rmm() {
            let problems: Vec<String> = v
                .validate(&rule)
                .iter()
                .filter(|d| d.level >= rules::Level::Warning)
                .map(|d| d.to_string())
                .collect();
            assert!(problems.is_empty(), "{}: {problems:#?}", rule.name);
            let ex = check_exclusions(&rule, Catalog::builtin());
            assert!(
                matches!(ex.as_slice(), [ExclusionAnalysis::NotAnalyzed]),
                "{}: {ex:?}",
                rule.name
            );
        }
    }

    #[test]
    fn exclusion_type_errors_are_reported_where_they_are() {
        let mut rule = rules::packs::rmm().into_iter().next().expect("a pack rule");
        rule.enrichment.false_positives[0].exclusion = Some("| where strlen(DeviceName, 2) > 1".into());
        match &check_exclusions(&rule, Catalog::builtin())[0] {
            ExclusionAnalysis::NotKql { message, span } => {
                assert!(message.contains("strlen"), "{message}");
                let text = rule.enrichment.false_positives[0].exclusion.as_deref().unwrap_or("");
                assert!(text[span.clone()].starts_with("strlen"), "{:?}", &text[span.clone()]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn syntax_errors_are_not_repeated_but_far_errors_are_kept() {
        // A trailing comma (syntax) and a wrong column five lines below it.
        let q = "DeviceNetworkEvents\n| where RemoteUrl has_any (\n    'a.example',\n)\n| summarize count() by\n    AccountUpn";
        assert!(!kql::parse(q).is_ok());
        assert_eq!(sem(q), ["SEM0100 AccountUpn"]);
        // Whatever touches the broken text is dropped.
        let q = "DeviceProcessEvents\n| where FolderPath has_all has_any ('x')";
        assert!(!kql::parse(q).is_ok());
        assert!(sem(q).is_empty(), "{:?}", sem(q));
    }
}
