//! One rule's run within a hunt: validation, the data check, planning and execution with
//! its exclusions, and its result rows turned into findings.

use crate::analyzer::{Analyzed, exclusion_verdicts, full_validator};
use crate::catalog::DataFacts;
use crate::exclusions::{self, ExclusionMode, ExclusionPlan, InputSlice};
use crate::findings::{self, ResultRow};
use crate::fused::Source;
use crate::output_flags;
use crate::report::{ExclusionReport, Finding, RuleReport, RuleStatus};
use crate::slice::{self, SlicePredicates};
use datafusion::catalog::TableProvider;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::logical_expr::LogicalPlan;
use engine::{OptimizedQuery, QueryError, QueryOptions, QueryResult};
use rules::diag::codes;
use rules::validate::{KqlAnalyzer, QueryAnalysis, QueryAnalyzer};
use rules::{Level, Rule, RuleDiagnostic};
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// A rule after validation and planning: decided already (invalid, skipped, or its plan
/// failed), or ready to run.
pub(crate) enum Prepared {
    Done(Box<RuleOutcome>),
    Ready(Box<ReadyRule>),
}

impl Prepared {
    /// What a shared scan needs to know of the rule: its plan, how many times the plan
    /// runs (once, plus once per input exclusion when the slices stand in for the tables)
    /// and the columns the slices read per table. `None` when the rule does not run its
    /// plan over the catalog's tables (it failed, or each slice plans it again).
    pub fn share(&self) -> Option<crate::fused::ShareInput<'_>> {
        let Prepared::Ready(r) = self else {
            return None;
        };
        let input = r
            .exclusions
            .iter()
            .filter(|p| matches!(p.mode, ExclusionMode::Input { .. }))
            .count();
        match (&r.slices, input) {
            (_, 0) => Some(crate::fused::ShareInput {
                plan: &r.plan,
                runs: 1,
                columns: Default::default(),
            }),
            (Some(slices), n) => Some(crate::fused::ShareInput {
                plan: &r.plan,
                runs: 1 + n,
                columns: slices.columns(),
            }),
            (None, _) => None,
        }
    }
}

/// A valid rule, planned once: every run of it (over shared scans, over each input slice)
/// executes this plan with some of its tables replaced.
pub(crate) struct ReadyRule {
    report: RuleReport,
    plan: OptimizedQuery,
    exclusions: Vec<ExclusionPlan>,
    /// The input exclusions as predicates over their tables; `None` when they do not
    /// reduce to such predicates, or when constant subqueries read one of those tables
    /// while planning (they must see the slices too): then each slice plans the rule again.
    slices: Option<SlicePredicates>,
    lookback: Option<i64>,
    /// Time spent validating and planning.
    spent: Duration,
}

/// Why a rule produced no results.
enum RuleFailure {
    Invalid(Vec<RuleDiagnostic>),
    Failed(String),
}

/// What one rule's run needs.
pub(crate) struct RuleCtx<'a> {
    /// The hunt's engine (its session, workers and memory pool serve every query) and the
    /// data directory's tables.
    pub base: &'a Source,
    pub schemas: schema::Catalog,
    pub facts: &'a DataFacts,
    pub now: i64,
    pub max_rows: usize,
    pub runtime: tokio::runtime::Handle,
    /// The input exclusions' filters planned so far in this hunt.
    pub exclusion_filters: crate::slice::ScanFilters,
    /// The output exclusions compiled so far in this hunt.
    pub output_flags: crate::output_flags::OutputFlags,
    /// Whether the shared rows hold rows of the input slices, as far as known in this hunt.
    pub slice_rows: crate::slice::SliceRows,
    /// The engine of plans over shared rows (in one partition when rules run at once).
    pub in_memory: engine::Engine,
}

/// Replacements of catalog tables for one run of a rule (shared scans, input slices).
pub(crate) type Tables<'a> = &'a dyn Fn(&str) -> Option<Arc<dyn TableProvider>>;

/// Result rows of one run of the query, and those beyond the row limit.
#[derive(Default)]
struct Rows {
    rows: Vec<ResultRow>,
    dropped: usize,
}

impl<'a> RuleCtx<'a> {
    /// The context of a hunt's rules at `now`, each keeping all its result rows, with
    /// `at_once` rules running at the same time: then a plan over shared rows runs in one
    /// partition (the rules keep the cores busy), else in the engine's.
    pub fn new(
        base: &'a Source,
        schemas: schema::Catalog,
        facts: &'a DataFacts,
        now: i64,
        runtime: tokio::runtime::Handle,
        at_once: usize,
    ) -> RuleCtx<'a> {
        RuleCtx {
            base,
            schemas,
            facts,
            now,
            max_rows: 0,
            runtime,
            exclusion_filters: Default::default(),
            output_flags: Default::default(),
            slice_rows: Default::default(),
            in_memory: if at_once > 1 {
                base.engine.with_target_partitions(1)
            } else {
                base.engine.clone()
            },
        }
    }

    fn options(&self) -> QueryOptions {
        QueryOptions { now: Some(self.now) }
    }

    /// Validates `rule` and plans it over the data directory (on a thread with a large
    /// stack: planning recurses). The checks are those of [`full_validator`], made from
    /// the rule's one plan; a rule that does not plan is validated by the full validator.
    pub fn prepare(&self, rule: &Rule) -> Prepared {
        let started = Instant::now();
        let mut report = RuleReport::new(rule);
        let syntax = KqlAnalyzer.analyze(rule, &self.schemas);
        let lookback = syntax.lookback.as_ref().map(|(s, _)| *s);
        let mut tables: Vec<String> = Vec::new();
        for (t, _) in syntax.tables_read.iter().flatten() {
            if !tables.contains(t) {
                tables.push(t.clone());
            }
        }
        report.missing_tables = tables.iter().filter(|t| !self.facts.has_data(t)).cloned().collect();
        let skipped = !tables.is_empty() && report.missing_tables.len() == tables.len();
        // Nothing runs when no table has data: the rule is not planned (its constant
        // subqueries would run).
        let planned = (!skipped).then(|| self.plan(rule));
        let (diags, exclusions) = match &planned {
            Some(Ok(plan)) => self.validate_planned(rule, syntax, &tables, plan),
            _ => (full_validator(&self.schemas).validate(rule), Vec::new()),
        };
        let invalid = diags
            .iter()
            .find(|d| d.level == Level::Error && d.code == codes::QUERY)
            .map(|d| d.message.clone());
        report.diagnostics = diags.into_iter().filter(|d| d.level >= Level::Warning).collect();
        match planned {
            _ if invalid.is_some() => {
                report.status = RuleStatus::Invalid;
                report.message = invalid;
            }
            None => {
                report.status = RuleStatus::Skipped;
                report.message = Some(format!("no data for {}", report.missing_tables.join(", ")));
            }
            Some(Err(e)) => fail(&mut report, failure(rule, e)),
            Some(Ok(plan)) => {
                // Constant subqueries over a table an input exclusion restricts must see
                // the restriction: such a rule is planned again for each slice.
                let mut input_tables = exclusions.iter().flat_map(|p| match &p.mode {
                    ExclusionMode::Input { tables } => tables.as_slice(),
                    _ => &[],
                });
                let has_input = exclusions.iter().any(|p| matches!(p.mode, ExclusionMode::Input { .. }));
                let slices = if has_input && !input_tables.any(|t| plan.planning_reads.contains(t)) {
                    SlicePredicates::plan(&exclusions, &self.base.engine, &self.options(), &self.exclusion_filters)
                } else {
                    None
                };
                return Prepared::Ready(Box::new(ReadyRule {
                    report,
                    plan,
                    exclusions,
                    slices,
                    lookback,
                    spent: started.elapsed(),
                }));
            }
        }
        report.elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        Prepared::Done(Box::new((report, Vec::new())))
    }

    /// The rule planned over the data directory with the hunt's `now()`, and optimized.
    fn plan(&self, rule: &Rule) -> Result<OptimizedQuery, QueryError> {
        let engine = &self.base.engine;
        let planned = engine.plan(&rule.query, &self.options())?;
        let mut optimized = engine.optimize(planned)?;
        // The parser's warnings are the syntax analyzer's.
        let parsed = kql::parse(&rule.query).diagnostics;
        optimized.warnings.retain(|w| !parsed.contains(w));
        Ok(optimized)
    }

    /// The validator's diagnostics for a rule that planned, from its plan (what
    /// [`crate::EngineAnalyzer`] would find), and where its exclusions apply.
    fn validate_planned(
        &self,
        rule: &Rule,
        syntax: QueryAnalysis,
        tables: &[String],
        plan: &OptimizedQuery,
    ) -> (Vec<RuleDiagnostic>, Vec<ExclusionPlan>) {
        let output = plan.results.first().map(|r| r.columns.as_slice());
        let exclusions = exclusions::classify(rule, &syntax.exclusions, output, tables, self.base.catalog.as_ref());
        let has_exclusions = rule.enrichment.false_positives.iter().any(|fp| fp.exclusion.is_some());
        let engine = QueryAnalysis {
            diagnostics: plan.warnings.clone(),
            tables_read: None,
            lookback: None,
            exclusions: if has_exclusions {
                exclusion_verdicts(rule, &exclusions)
            } else {
                Vec::new()
            },
        };
        let (syntax, engine) = (Analyzed::syntax(syntax), Analyzed::engine(engine));
        let diags = Analyzed::validator(&self.schemas, &syntax, &engine).validate(rule);
        (diags, exclusions)
    }

    /// Runs a prepared rule; `shared` gives the tables it reads from shared scans.
    pub fn run(&self, rule: &Rule, prepared: Prepared, shared: Tables) -> RuleOutcome {
        let mut ready = match prepared {
            Prepared::Done(outcome) => return *outcome,
            Prepared::Ready(r) => *r,
        };
        let started = Instant::now();
        let mut report = std::mem::replace(&mut ready.report, RuleReport::new(rule));
        let findings = match self.execute(rule, &ready, shared, &mut report) {
            Ok(f) => f,
            Err(e) => {
                fail(&mut report, e);
                Vec::new()
            }
        };
        report.elapsed_ms = (ready.spent + started.elapsed()).as_secs_f64() * 1000.0;
        (report, findings)
    }

    fn execute(
        &self,
        rule: &Rule,
        ready: &ReadyRule,
        shared: Tables,
        report: &mut RuleReport,
    ) -> Result<Vec<Finding>, RuleFailure> {
        let plans = &ready.exclusions;
        let input_plans: Vec<&ExclusionPlan> = plans
            .iter()
            .filter(|p| matches!(p.mode, ExclusionMode::Input { .. }))
            .collect();
        let kept = if input_plans.is_empty() {
            self.run_plan(rule, &ready.plan, shared, shared)?
        } else {
            self.run_slice(rule, ready, shared, InputSlice::Kept)?
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
            for result in self.run_slice(rule, ready, shared, InputSlice::SuppressedBy(p.index))? {
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
        let window = findings::query_window(self.now, ready.lookback);
        let found = findings::build(rule, rows.rows, plans, window);
        report.findings = found.iter().filter(|f| f.suppressed.is_none()).count();
        Ok(found)
    }

    fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.runtime.block_on(f)
    }

    /// Runs the rule's plan with `tables` in place of those catalog tables. `shared` says
    /// which tables are rows in memory: a plan that reads nothing else runs in one
    /// partition (it is one rule among others running at the same time, over a few rows).
    fn run_plan(
        &self,
        rule: &Rule,
        plan: &OptimizedQuery,
        tables: Tables,
        shared: Tables,
    ) -> Result<Vec<QueryResult>, RuleFailure> {
        let engine = if plan.results.iter().all(|r| reads_only(&r.plan, shared)) {
            &self.in_memory
        } else {
            &self.base.engine
        };
        let plan = plan.with_tables(tables).map_err(RuleFailure::Failed)?;
        self.block_on(engine.execute_optimized(&plan))
            .map_err(|e| failure(rule, e))
    }

    /// Runs the rule over its input tables restricted to `slice` by the input exclusions
    /// (and the shared scans' rows of the others).
    fn run_slice(
        &self,
        rule: &Rule,
        ready: &ReadyRule,
        shared: Tables,
        slice: InputSlice,
    ) -> Result<Vec<QueryResult>, RuleFailure> {
        let Some(slices) = &ready.slices else {
            return self.run_over(rule, &ready.exclusions, slice);
        };
        if matches!(slice, InputSlice::SuppressedBy(_)) && self.slice_is_empty(&ready.plan, slices, slice, shared) {
            return Ok(ready
                .plan
                .results
                .iter()
                .map(|r| QueryResult {
                    name: r.name.clone(),
                    columns: r.columns.clone(),
                    batches: Vec::new(),
                })
                .collect());
        }
        let inner = |t: &str| shared(t).or_else(|| self.base.catalog.table(t).map(|c| c.provider));
        let restricted = slices.providers(slice, &inner);
        self.run_plan(
            rule,
            &ready.plan,
            &|t| restricted.get(t).cloned().or_else(|| shared(t)),
            shared,
        )
    }

    /// Whether the rule's plan has no result over `slice`, known without running it: the
    /// slice holds none of the shared rows of a table the plan has no rows without (an
    /// exclusion that suppresses nothing, the usual case).
    fn slice_is_empty(
        &self,
        plan: &OptimizedQuery,
        slices: &SlicePredicates,
        slice: InputSlice,
        shared: Tables,
    ) -> bool {
        slices.tables().any(|table| {
            let (Some(predicate), Some(rows)) = (slices.predicate(slice, table), shared(table)) else {
                return false;
            };
            plan.results.iter().all(|r| slice::empty_without(&r.plan, table))
                && self
                    .slice_rows
                    .none_in(&self.base.engine, table, rows.as_ref(), &predicate)
                    == Some(true)
        })
    }

    /// Plans and runs the rule again over views of the data directory's tables restricted
    /// to `slice`.
    fn run_over(
        &self,
        rule: &Rule,
        plans: &[ExclusionPlan],
        slice: InputSlice,
    ) -> Result<Vec<QueryResult>, RuleFailure> {
        let base = self.base;
        let catalog = exclusions::input_catalog(&base.catalog, &base.engine, plans, slice, &self.options())
            .map_err(RuleFailure::Failed)?;
        let engine = base.engine.with_catalog(catalog);
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
        let predicates: Vec<&str> = plans.iter().map(|p| p.predicate.as_str()).collect();
        let engine = &self.base.engine;
        if let Some(flagged) = self.output_flags.flag(engine, &self.options(), result, &predicates) {
            return Ok(flagged);
        }
        self.block_on(output_flags::flag_by_query(
            engine,
            &self.options(),
            result,
            &predicates,
        ))
        .map_err(|e| RuleFailure::Failed(format!("cannot apply the exclusions: {e}")))
    }
}

/// Whether every table `plan` scans is one of `tables` (its scans are replaced by them),
/// and no subquery reads another.
fn reads_only(plan: &LogicalPlan, tables: Tables) -> bool {
    let mut only = true;
    let walked = plan.apply(|node| {
        let replaced = match node {
            LogicalPlan::TableScan(scan) => tables(scan.table_name.table()).is_some(),
            other => !other.expressions().iter().any(crate::fused::has_subquery),
        };
        if replaced {
            Ok(TreeNodeRecursion::Continue)
        } else {
            only = false;
            Ok(TreeNodeRecursion::Stop)
        }
    });
    walked.is_ok() && only
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

/// Records why the rule produced no results.
fn fail(report: &mut RuleReport, failure: RuleFailure) {
    match failure {
        RuleFailure::Invalid(d) => {
            report.status = RuleStatus::Invalid;
            report.message = d.iter().find(|x| x.level == Level::Error).map(|x| x.message.clone());
            report.diagnostics.extend(d);
        }
        RuleFailure::Failed(m) => {
            report.status = RuleStatus::Failed;
            report.message = Some(m);
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use rules::{FalsePositive, Provenance, SourceFormat};

    /// A plan runs over rows in memory when each table it scans is replaced by them.
    #[test]
    fn plans_that_read_only_the_shared_rows() {
        let catalog: Arc<dyn engine::TableCatalog> =
            Arc::new(engine::SchemaCatalog::new(schema::Catalog::builtin().clone()));
        let engine = engine::Engine::new(catalog.clone()).unwrap();
        let options = QueryOptions { now: Some(0) };
        let shared = |t: &str| {
            (t == "DeviceProcessEvents" || t == "DeviceNetworkEvents")
                .then(|| catalog.table(t).map(|c| c.provider).expect("a table of the catalog"))
        };
        let cases = [
            (
                "DeviceProcessEvents | where FileName has 'x' | summarize count() by DeviceId",
                true,
            ),
            (
                "DeviceProcessEvents | join kind=inner (DeviceNetworkEvents) on DeviceId",
                true,
            ),
            ("DeviceProcessEvents | join kind=inner (DeviceInfo) on DeviceId", false),
            ("union DeviceProcessEvents, DeviceFileEvents", false),
            ("DeviceInfo | take 1", false),
        ];
        for (query, want) in cases {
            let optimized = engine.optimize(engine.plan(query, &options).unwrap()).unwrap();
            let got = optimized.results.iter().all(|r| reads_only(&r.plan, &shared));
            assert_eq!(got, want, "{query}");
        }
    }

    fn rule(id: &str, query: &str, exclusions: &[&str]) -> Rule {
        let mut r = Rule::new(id, id, query, Provenance::new(SourceFormat::BuiltinPack));
        r.enrichment.false_positives = exclusions
            .iter()
            .map(|e| FalsePositive {
                scenario: format!("scenario of {e}"),
                exclusion: Some((*e).into()),
            })
            .collect();
        r
    }

    /// A hunt validates each rule from its one plan: the diagnostics are those of the full
    /// validator (which plans the query and each exclusion on its own), for the whole pack
    /// and for rules with warnings, broken exclusions, errors and no data.
    #[test]
    fn validation_from_the_plan_is_the_full_validation() {
        let dir = tempfile::tempdir().unwrap();
        store::generate(&store::GenerateConfig {
            devices: 6,
            days: 1,
            volume: 0.01,
            seed: 3,
            ..store::GenerateConfig::new(store::Output::DataDir(dir.path().to_path_buf()))
        })
        .unwrap();
        let data = store::DataDir::open(dir.path());
        let base = Source::of_data_dir(dir.path());
        let facts = DataFacts::read(&data, false).unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let ctx = RuleCtx {
            max_rows: 0,
            ..RuleCtx::new(&base, data.catalog().unwrap(), &facts, 0, rt.handle().clone(), 2)
        };
        let mut rules = rules::packs::rmm();
        rules.extend([
            rule("warnings", "set notruncation;\nDeviceProcessEvents | take 1", &[]),
            rule(
                "exclusions",
                "DeviceProcessEvents | where FileName has 'AnyDesk' | project DeviceName, FileName",
                &[
                    "| where strlen(DeviceName, 2) > 1",
                    "NoSuchColumn == 1",
                    "Exclude the build servers",
                    "ProcessCommandLine has 'x' and",
                    "FileName =~ 'x.exe'",
                    "AccountName == 'svc'",
                ],
            ),
            rule("semantic-error", "DeviceProcessEvents | where NoSuchColumn > 1", &[]),
            rule("syntax-error", "DeviceProcessEvents | where (FileName ==", &[]),
            rule("no-data", "EmailEvents | where Subject has 'x'", &[]),
        ]);
        let validator = full_validator(&ctx.schemas);
        for r in &rules {
            let want: Vec<String> = validator
                .validate(r)
                .iter()
                .filter(|d| d.level >= Level::Warning)
                .map(|d| d.to_string())
                .collect();
            let report = match ctx.prepare(r) {
                Prepared::Done(outcome) => outcome.0,
                Prepared::Ready(ready) => ready.report,
            };
            let got: Vec<String> = report.diagnostics.iter().map(|d| d.to_string()).collect();
            assert_eq!(got, want, "{}", r.id);
            match r.id.as_str() {
                // The planner's warning; the engine's verdict on an exclusion.
                "warnings" | "exclusions" => {
                    let engine_found = if r.id == "warnings" { "QE002" } else { "strlen" };
                    assert!(got.iter().any(|d| d.contains(engine_found)), "{}: {got:#?}", r.id);
                    assert_eq!(report.status, RuleStatus::Ran);
                }
                "semantic-error" | "syntax-error" => assert_eq!(report.status, RuleStatus::Invalid),
                "no-data" => assert_eq!(report.status, RuleStatus::Skipped),
                _ => {}
            }
        }
    }
}
