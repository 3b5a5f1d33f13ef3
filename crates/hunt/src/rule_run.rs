//! One rule's run within a hunt: validation, the data check, planning and execution with
//! its exclusions, and its result rows turned into findings.

use crate::analyzer::full_validator;
use crate::catalog::DataFacts;
use crate::exclusions::{self, ExclusionMode, ExclusionPlan, InputSlice, OUTPUT_TABLE};
use crate::findings::{self, ResultRow};
use crate::fused::Source;
use crate::report::{ExclusionReport, Finding, RuleReport, RuleStatus};
use engine::{Engine, MemCatalog, QueryError, QueryOptions, QueryResult};
use rules::diag::codes;
use rules::validate::{KqlAnalyzer, QueryAnalysis, QueryAnalyzer};
use rules::{Level, Rule, RuleDiagnostic};
use std::sync::Arc;
use std::time::Instant;

impl RuleReport {
    pub(crate) fn new(rule: &Rule) -> RuleReport {
        RuleReport {
            rule_id: rule.id.clone(),
            rule_name: rule.name.clone(),
            severity: rule.severity,
            status: RuleStatus::Ran,
            message: None,
            missing_tables: Vec::new(),
            diagnostics: Vec::new(),
            rows: 0,
            suppressed_rows: 0,
            truncated: false,
            findings: 0,
            new_findings: 0,
            exclusions: Vec::new(),
            elapsed_ms: 0.0,
        }
    }
}

/// A rule's report and findings.
pub(crate) type RuleOutcome = (RuleReport, Vec<Finding>);

/// Why a rule produced no results.
enum RuleFailure {
    Invalid(Vec<RuleDiagnostic>),
    Failed(String),
}

/// What one rule's run needs.
pub(crate) struct RuleCtx<'a> {
    /// The hunt's engine (its session, workers and memory pool serve every query).
    pub engine: Engine,
    pub schemas: schema::Catalog,
    pub facts: &'a DataFacts,
    pub now: i64,
    pub max_rows: usize,
    pub runtime: tokio::runtime::Handle,
}

/// Result rows of one run of the query, and those beyond the row limit.
#[derive(Default)]
struct Rows {
    rows: Vec<ResultRow>,
    dropped: usize,
}

impl RuleCtx<'_> {
    fn options(&self) -> QueryOptions {
        QueryOptions { now: Some(self.now) }
    }

    /// Runs `rule` with the engine and catalog of `source`.
    pub fn run_rule(&self, rule: &Rule, source: &Source) -> RuleOutcome {
        let started = Instant::now();
        let mut report = RuleReport::new(rule);
        let findings = self.run_rule_into(rule, source, &mut report);
        report.elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        (report, findings)
    }

    fn run_rule_into(&self, rule: &Rule, source: &Source, report: &mut RuleReport) -> Vec<Finding> {
        let diags = full_validator(&self.schemas).validate(rule);
        let invalid = diags.iter().any(|d| d.level == Level::Error && d.code == codes::QUERY);
        report.diagnostics = diags.into_iter().filter(|d| d.level >= Level::Warning).collect();
        if invalid {
            report.status = RuleStatus::Invalid;
            report.message = report
                .diagnostics
                .iter()
                .find(|d| d.level == Level::Error && d.code == codes::QUERY)
                .map(|d| d.message.clone());
            return Vec::new();
        }
        let analysis = KqlAnalyzer.analyze(rule, &self.schemas);
        let mut tables: Vec<String> = Vec::new();
        for (t, _) in analysis.tables_read.iter().flatten() {
            if !tables.contains(t) {
                tables.push(t.clone());
            }
        }
        report.missing_tables = tables.iter().filter(|t| !self.facts.has_data(t)).cloned().collect();
        if !tables.is_empty() && report.missing_tables.len() == tables.len() {
            report.status = RuleStatus::Skipped;
            report.message = Some(format!("no data for {}", report.missing_tables.join(", ")));
            return Vec::new();
        }
        match self.execute(rule, source, &analysis, &tables, report) {
            Ok(f) => f,
            Err(RuleFailure::Invalid(d)) => {
                report.status = RuleStatus::Invalid;
                report.message = d.iter().find(|x| x.level == Level::Error).map(|x| x.message.clone());
                report.diagnostics.extend(d);
                Vec::new()
            }
            Err(RuleFailure::Failed(m)) => {
                report.status = RuleStatus::Failed;
                report.message = Some(m);
                Vec::new()
            }
        }
    }

    fn execute(
        &self,
        rule: &Rule,
        source: &Source,
        analysis: &QueryAnalysis,
        tables: &[String],
        report: &mut RuleReport,
    ) -> Result<Vec<Finding>, RuleFailure> {
        let planned = source
            .engine
            .plan(&rule.query, &self.options())
            .map_err(|e| failure(rule, e))?;
        let output = planned.results.first().map(|r| r.columns.clone());
        let plans = exclusions::classify(
            rule,
            &analysis.exclusions,
            output.as_deref(),
            tables,
            source.catalog.as_ref(),
        );
        let input_plans: Vec<&ExclusionPlan> = plans
            .iter()
            .filter(|p| matches!(p.mode, ExclusionMode::Input { .. }))
            .collect();
        let kept = if input_plans.is_empty() {
            self.block_on(source.engine.execute(planned))
                .map_err(|e| failure(rule, e))?
        } else {
            drop(planned);
            self.run_over(rule, source, &plans, InputSlice::Kept)?
        };
        let output_plans: Vec<&ExclusionPlan> = plans
            .iter()
            .filter(|p| matches!(p.mode, ExclusionMode::Output))
            .collect();
        let mut rows = Rows::default();
        for result in &kept {
            self.collect_rows(result, &output_plans, None, &mut rows)?;
        }
        for p in &input_plans {
            for result in self.run_over(rule, source, &plans, InputSlice::SuppressedBy(p.index))? {
                self.collect_rows(&result, &[], Some(p.index), &mut rows)?;
            }
        }
        report.truncated = rows.dropped > 0;
        report.exclusions = plans
            .iter()
            .map(|p| ExclusionReport {
                plan: p.clone(),
                suppressed_rows: rows.rows.iter().filter(|r| r.suppressed_by == Some(p.index)).count(),
            })
            .collect();
        report.suppressed_rows = rows.rows.iter().filter(|r| r.suppressed_by.is_some()).count();
        report.rows = rows.rows.len() - report.suppressed_rows + rows.dropped;
        let window = findings::query_window(self.now, analysis.lookback.as_ref().map(|(s, _)| *s));
        let found = findings::build(rule, rows.rows, &plans, window);
        report.findings = found.iter().filter(|f| f.suppressed.is_none()).count();
        Ok(found)
    }

    fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.runtime.block_on(f)
    }

    /// Runs the rule over the input tables restricted to `slice` by the input exclusions.
    fn run_over(
        &self,
        rule: &Rule,
        source: &Source,
        plans: &[ExclusionPlan],
        slice: InputSlice,
    ) -> Result<Vec<QueryResult>, RuleFailure> {
        let catalog = exclusions::input_catalog(&source.catalog, &source.engine, plans, slice, &self.options())
            .map_err(RuleFailure::Failed)?;
        let engine = source.engine.with_catalog(catalog);
        self.block_on(engine.query(&rule.query, &self.options()))
            .map_err(|e| failure(rule, e))
    }

    /// Converts a result to rows (up to the limit), marking those an output exclusion
    /// suppresses.
    fn collect_rows(
        &self,
        result: &QueryResult,
        output_plans: &[&ExclusionPlan],
        suppressed_by: Option<usize>,
        rows: &mut Rows,
    ) -> Result<(), RuleFailure> {
        let total = result.row_count();
        let room = if self.max_rows == 0 {
            total
        } else {
            self.max_rows.saturating_sub(rows.rows.len()).min(total)
        };
        rows.dropped += total - room;
        if room == 0 {
            return Ok(());
        }
        let limited = limit(result, room);
        let applicable: Vec<&ExclusionPlan> = output_plans
            .iter()
            .copied()
            .filter(|p| p.columns.iter().all(|c| limited.columns.iter().any(|(n, _)| n == c)))
            .collect();
        let (flagged, flags) = if applicable.is_empty() {
            (limited, 0)
        } else {
            (self.flag_output(&limited, &applicable)?, applicable.len())
        };
        let keep = flagged.columns.len().saturating_sub(flags);
        let columns: findings::Columns = Arc::new(flagged.columns.iter().take(keep).cloned().collect());
        let json = flagged
            .json_rows()
            .map_err(|e| RuleFailure::Failed(format!("cannot read the results: {e}")))?;
        for values in json {
            let mut map = serde_json::Map::new();
            let mut by = suppressed_by;
            for (i, v) in values.into_iter().enumerate() {
                if i < keep {
                    if let Some((name, _)) = columns.get(i) {
                        map.insert(name.clone(), v);
                    }
                } else if by.is_none() && v == serde_json::Value::Bool(true) {
                    by = applicable.get(i - keep).map(|p| p.index);
                }
            }
            rows.rows.push(ResultRow {
                columns: columns.clone(),
                values: map,
                suppressed_by: by,
            });
        }
        Ok(())
    }

    /// The result with one boolean column per output exclusion appended (true: the
    /// exclusion matches the row).
    fn flag_output(&self, result: &QueryResult, plans: &[&ExclusionPlan]) -> Result<QueryResult, RuleFailure> {
        let fail = |e: String| RuleFailure::Failed(format!("cannot apply the exclusions: {e}"));
        let Some(first) = result.batches.first() else {
            return Ok(result.clone());
        };
        let table = datafusion::datasource::MemTable::try_new(first.schema(), vec![result.batches.clone()])
            .map_err(|e| fail(e.to_string()))?;
        let mut catalog = MemCatalog::new();
        catalog.add_provider(exclusions::output_schema(&result.columns), Arc::new(table));
        let taken: Vec<&str> = result.columns.iter().map(|(n, _)| n.as_str()).collect();
        let mut names = Vec::new();
        let mut k = 0usize;
        while names.len() < plans.len() {
            let n = format!("QuarryExcluded{k}");
            k += 1;
            if !taken.contains(&n.as_str()) {
                names.push(n);
            }
        }
        let assignments: Vec<String> = plans
            .iter()
            .zip(&names)
            .map(|(p, n)| format!("{n} = iff(({}), true, false)", p.predicate))
            .collect();
        let query = format!("{OUTPUT_TABLE}\n| extend {}", assignments.join(",\n    "));
        let engine = self.engine.with_catalog(Arc::new(catalog));
        let mut results = self
            .block_on(engine.query(&query, &self.options()))
            .map_err(|e| fail(e.to_string()))?;
        if results.is_empty() {
            return Err(fail("no result".into()));
        }
        Ok(results.swap_remove(0))
    }
}

/// The first `n` rows of a result.
fn limit(result: &QueryResult, n: usize) -> QueryResult {
    let mut left = n;
    let mut batches = Vec::new();
    for b in &result.batches {
        if left == 0 {
            break;
        }
        let take = b.num_rows().min(left);
        batches.push(b.slice(0, take));
        left -= take;
    }
    QueryResult {
        name: result.name.clone(),
        columns: result.columns.clone(),
        batches,
    }
}

/// An engine error on the rule's own query, positioned in the rule file.
fn failure(rule: &Rule, e: QueryError) -> RuleFailure {
    match e {
        QueryError::Invalid(diags) => RuleFailure::Invalid(
            diags
                .iter()
                .filter(|d| d.is_error())
                .map(|d| {
                    let (start, end) = rule
                        .query_span_positions(d.span.range())
                        .map(|(s, e)| (Some(s), Some(e)))
                        .unwrap_or((rule.field_position("query"), None));
                    RuleDiagnostic::new(Level::Error, codes::QUERY, format!("engine[{}]: {}", d.code, d.message))
                        .at(start)
                        .to(end)
                        .in_file(rule.provenance.path.as_deref())
                        .for_rule(&rule.id)
                })
                .collect(),
        ),
        QueryError::Execution(m) => RuleFailure::Failed(m),
    }
}
