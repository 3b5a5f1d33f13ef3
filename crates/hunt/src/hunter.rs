//! Running a rule set over the data directory: validation, data checks, execution with
//! exclusions, findings, and (optionally) the findings store.

use crate::HuntError;
use crate::analyzer::full_validator;
use crate::catalog::{DataDirCatalog, DataFacts};
use crate::exclusions::{self, ExclusionMode, ExclusionPlan, InputSlice, OUTPUT_TABLE};
use crate::findings::{self, ResultRow};
use crate::report::{ExclusionReport, Finding, RuleReport, RuleStatus, RunReport, RunStatus};
use crate::selection::{LoadedRules, Selection};
use crate::store::FindingsStore;
use engine::{Engine, MemCatalog, QueryError, QueryOptions, QueryResult, TableCatalog};
use rules::diag::codes;
use rules::validate::{KqlAnalyzer, QueryAnalysis, QueryAnalyzer};
use rules::{Level, Rule, RuleDiagnostic};
use schema::values::{format_datetime, parse_datetime};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

/// The `now()` of a hunt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NowSpec {
    /// The wall clock when the hunt starts.
    WallClock,
    /// The newest event in the data directory (replaying an export).
    Latest,
    /// A given instant (nanoseconds since the Unix epoch).
    At(i64),
}

impl NowSpec {
    /// `latest`, `now`, or a datetime in any form Kusto accepts (`2024-05-07T12:00:00Z`).
    pub fn parse(text: &str) -> Result<NowSpec, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "latest" => Ok(NowSpec::Latest),
            "now" | "wall-clock" | "wallclock" => Ok(NowSpec::WallClock),
            _ => parse_datetime(text)
                .map(NowSpec::At)
                .ok_or_else(|| format!("`{text}` is not `latest`, `now` or a datetime (e.g. 2024-05-07T12:00:00Z)")),
        }
    }

    pub fn mode(self) -> &'static str {
        match self {
            NowSpec::WallClock => "wall_clock",
            NowSpec::Latest => "latest",
            NowSpec::At(_) => "explicit",
        }
    }
}

#[derive(Clone, Debug)]
pub struct HuntOptions {
    pub now: NowSpec,
    /// Rules run at the same time (0: one per core). DataFusion parallelizes each scan too.
    pub concurrency: usize,
    /// Result rows kept per rule (the rest are counted); 0: no limit.
    pub max_rows_per_rule: usize,
    /// Store the run and its findings in `<data>/quarry.db`.
    pub persist: bool,
}

impl Default for HuntOptions {
    fn default() -> Self {
        HuntOptions {
            now: NowSpec::WallClock,
            concurrency: 0,
            max_rows_per_rule: 10_000,
            persist: true,
        }
    }
}

/// Progress callbacks (called from worker threads).
pub trait HuntObserver: Sync {
    /// The rules are loaded and about to run.
    fn planned(&self, _rules: usize) {}
    fn rule_started(&self, _rule: &Rule) {}
    fn rule_finished(&self, _report: &RuleReport) {}
}

/// An observer that ignores everything.
pub struct Silent;

impl HuntObserver for Silent {}

/// Runs rule sets over one data directory.
#[derive(Clone, Debug)]
pub struct Hunter {
    data_dir: PathBuf,
}

/// The data facts and the resolved `now()` of a hunt about to run.
struct Prepared {
    facts: DataFacts,
    now: i64,
    mode: NowSpec,
}

impl Hunter {
    pub fn new(data_dir: impl Into<PathBuf>) -> Hunter {
        Hunter {
            data_dir: data_dir.into(),
        }
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    fn prepare(&self, options: &HuntOptions) -> Result<Prepared, HuntError> {
        let dir = store::DataDir::open(&self.data_dir);
        let facts = DataFacts::read(&dir, options.now == NowSpec::Latest)?;
        let now = match options.now {
            NowSpec::WallClock => chrono::Utc::now()
                .timestamp_nanos_opt()
                .ok_or_else(|| HuntError::Selection("the clock is outside the datetime range".into()))?,
            NowSpec::At(n) => n,
            NowSpec::Latest => facts.latest().ok_or_else(|| {
                HuntError::NoData(format!(
                    "--now latest: the data directory {} has no events (generate or ingest telemetry first)",
                    self.data_dir.display()
                ))
            })?,
        };
        // Kusto datetimes have 100 ns ticks.
        let now = now - now.rem_euclid(100);
        Ok(Prepared {
            facts,
            now,
            mode: options.now,
        })
    }

    /// Loads the selection and hunts, blocking the calling thread (which must not be
    /// inside an async runtime; use [`Hunter::spawn`] from async code).
    pub fn run(
        &self,
        selection: &Selection,
        options: &HuntOptions,
        observer: &dyn HuntObserver,
    ) -> Result<RunReport, HuntError> {
        let prepared = self.prepare(options)?;
        let loaded = selection.load(&self.data_dir)?;
        let run_id = if options.persist {
            let mut store = FindingsStore::open(&self.data_dir)?;
            Some(store.begin_run(&format_datetime(prepared.now), prepared.mode.mode(), &loaded.label)?)
        } else {
            None
        };
        self.finish(run_id, prepared, loaded, options, observer)
    }

    /// Records a run in the findings store and hunts on a background thread. Returns the
    /// run id at once (the run shows as `running` until it ends) and the thread's handle.
    pub fn spawn(
        &self,
        selection: Selection,
        options: HuntOptions,
    ) -> Result<(i64, std::thread::JoinHandle<Result<RunReport, HuntError>>), HuntError> {
        let prepared = self.prepare(&options)?;
        let mut store = FindingsStore::open(&self.data_dir)?;
        let run_id = store.begin_run(&format_datetime(prepared.now), prepared.mode.mode(), &selection.label())?;
        let hunter = self.clone();
        let options = HuntOptions {
            persist: true,
            ..options
        };
        let handle = std::thread::Builder::new()
            .name(format!("hunt-{run_id}"))
            .spawn(move || match selection.load(&hunter.data_dir) {
                Ok(loaded) => hunter.finish(Some(run_id), prepared, loaded, &options, &Silent),
                Err(e) => {
                    if let Ok(mut s) = FindingsStore::open(&hunter.data_dir) {
                        let _ = s.fail_run(run_id, &e.to_string());
                    }
                    Err(e)
                }
            })
            .map_err(|e| HuntError::Runtime(format!("cannot start the hunt thread: {e}")))?;
        Ok((run_id, handle))
    }

    fn finish(
        &self,
        run_id: Option<i64>,
        prepared: Prepared,
        loaded: LoadedRules,
        options: &HuntOptions,
        observer: &dyn HuntObserver,
    ) -> Result<RunReport, HuntError> {
        let result = self.hunt(&prepared, loaded, options, observer);
        match (run_id, result) {
            (Some(id), Ok(mut report)) => {
                let mut store = FindingsStore::open(&self.data_dir)?;
                store.finish_run(id, &mut report)?;
                Ok(report)
            }
            (Some(id), Err(e)) => {
                if let Ok(mut s) = FindingsStore::open(&self.data_dir) {
                    let _ = s.fail_run(id, &e.to_string());
                }
                Err(e)
            }
            (None, r) => r,
        }
    }

    fn hunt(
        &self,
        prepared: &Prepared,
        loaded: LoadedRules,
        options: &HuntOptions,
        observer: &dyn HuntObserver,
    ) -> Result<RunReport, HuntError> {
        let started = Instant::now();
        let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let dir = store::DataDir::open(&self.data_dir);
        let schemas = dir.catalog()?;
        let catalog: Arc<dyn TableCatalog> = Arc::new(DataDirCatalog::new(dir));
        let engine = Engine::new(catalog.clone()).map_err(|e| HuntError::Runtime(e.to_string()))?;
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cores)
            .enable_all()
            .build()
            .map_err(|e| HuntError::Runtime(format!("cannot start the query runtime: {e}")))?;
        let ctx = RuleCtx {
            engine,
            catalog,
            schemas,
            facts: &prepared.facts,
            now: prepared.now,
            max_rows: options.max_rows_per_rule,
            runtime: runtime.handle().clone(),
        };
        let rules = loaded.rules;
        observer.planned(rules.len());
        let workers = match options.concurrency {
            0 => cores,
            n => n,
        }
        .clamp(1, rules.len().max(1));
        let next = AtomicUsize::new(0);
        let slots: Mutex<Vec<Option<RuleOutcome>>> = Mutex::new(vec![None; rules.len()]);
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(rule) = rules.get(i) else { break };
                        observer.rule_started(rule);
                        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| ctx.run_rule(rule)))
                            .unwrap_or_else(|_| {
                                let mut r = RuleReport::new(rule);
                                r.status = RuleStatus::Failed;
                                r.message = Some("internal error while running the rule".into());
                                (r, Vec::new())
                            });
                        observer.rule_finished(&out.0);
                        if let Some(slot) = slots.lock().unwrap_or_else(PoisonError::into_inner).get_mut(i) {
                            *slot = Some(out);
                        }
                    }
                });
            }
        });
        drop(runtime);
        let mut reports = Vec::with_capacity(rules.len());
        let mut all_findings = Vec::new();
        for (report, mut findings) in slots
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
            .into_iter()
            .flatten()
        {
            findings.sort_by(|a, b| {
                (a.suppressed.is_some(), a.device_label(), &a.first_seen).cmp(&(
                    b.suppressed.is_some(),
                    b.device_label(),
                    &b.first_seen,
                ))
            });
            reports.push(report);
            all_findings.extend(findings);
        }
        let errors =
            reports.iter().any(|r| r.status.is_error()) || loaded.diagnostics.iter().any(|d| d.level == Level::Error);
        Ok(RunReport {
            run_id: None,
            status: if errors {
                RunStatus::Partial
            } else {
                RunStatus::Succeeded
            },
            started_at,
            finished_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            now: format_datetime(prepared.now),
            now_mode: prepared.mode.mode().to_string(),
            selection: loaded.label,
            load_diagnostics: loaded.diagnostics,
            rules: reports,
            findings: all_findings,
            elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
        })
    }
}

impl RuleReport {
    fn new(rule: &Rule) -> RuleReport {
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
type RuleOutcome = (RuleReport, Vec<Finding>);

/// Why a rule produced no results.
enum RuleFailure {
    Invalid(Vec<RuleDiagnostic>),
    Failed(String),
}

/// What one rule's run needs.
struct RuleCtx<'a> {
    engine: Engine,
    catalog: Arc<dyn TableCatalog>,
    schemas: schema::Catalog,
    facts: &'a DataFacts,
    now: i64,
    max_rows: usize,
    runtime: tokio::runtime::Handle,
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

    fn run_rule(&self, rule: &Rule) -> RuleOutcome {
        let started = Instant::now();
        let mut report = RuleReport::new(rule);
        let findings = self.run_rule_into(rule, &mut report);
        report.elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        (report, findings)
    }

    fn run_rule_into(&self, rule: &Rule, report: &mut RuleReport) -> Vec<Finding> {
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
        match self.execute(rule, &analysis, &tables, report) {
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
        analysis: &QueryAnalysis,
        tables: &[String],
        report: &mut RuleReport,
    ) -> Result<Vec<Finding>, RuleFailure> {
        let planned = self
            .engine
            .plan(&rule.query, &self.options())
            .map_err(|e| failure(rule, e))?;
        let output = planned.results.first().map(|r| r.columns.clone());
        let plans = exclusions::classify(
            rule,
            &analysis.exclusions,
            output.as_deref(),
            tables,
            self.catalog.as_ref(),
        );
        let input_plans: Vec<&ExclusionPlan> = plans
            .iter()
            .filter(|p| matches!(p.mode, ExclusionMode::Input { .. }))
            .collect();
        let kept = if input_plans.is_empty() {
            self.block_on(self.engine.execute(planned))
                .map_err(|e| failure(rule, e))?
        } else {
            drop(planned);
            self.run_over(rule, &plans, InputSlice::Kept)?
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
            for result in self.run_over(rule, &plans, InputSlice::SuppressedBy(p.index))? {
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
        plans: &[ExclusionPlan],
        slice: InputSlice,
    ) -> Result<Vec<QueryResult>, RuleFailure> {
        let catalog =
            exclusions::input_catalog(&self.catalog, &self.engine, plans, slice).map_err(RuleFailure::Failed)?;
        let engine = Engine::new(catalog).map_err(|e| RuleFailure::Failed(e.to_string()))?;
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
        let engine = Engine::new(Arc::new(catalog)).map_err(|e| fail(e.to_string()))?;
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
