//! The engine: a DataFusion session with the KQL functions registered, a catalog, and the
//! entry points to validate, plan and run queries.

use crate::catalog::TableCatalog;
use crate::memory::{EngineConfig, format_bytes};
use crate::planner::{Executor, PlannedResult, Planner};
use crate::result::QueryResult;
use datafusion::arrow::array::RecordBatch;
use datafusion::catalog::TableProvider;
use datafusion::catalog::default_table_source::provider_as_source;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::error::DataFusionError;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::{FairSpillPool, TrackConsumersPool};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::{SessionConfig, SessionContext};
use functions::LowerCtx;
use kql::Diagnostic;
use kql::ast::Query;
use std::collections::BTreeSet;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::{Mutex, PoisonError};

/// Planning walks the query recursively; it runs on a thread with a large stack so that any
/// query the parser accepts plans without overflowing. Callers that plan many queries
/// (a hunt) run them on threads of this stack size, where planning runs in place.
pub const PLANNER_STACK: usize = 256 << 20;
/// The stack left on the current thread with which planning runs in place (what a thread
/// of `PLANNER_STACK` has left after its caller's frames).
const PLANNER_STACK_IN_PLACE: usize = PLANNER_STACK - (16 << 20);
/// The stack of the threads that optimize and run plans.
const WORKER_STACK: usize = 64 << 20;

/// Options of one query.
#[derive(Debug, Clone, Default)]
pub struct QueryOptions {
    /// The query's `now()`, nanoseconds since the Unix epoch; the wall clock when `None`.
    pub now: Option<i64>,
}

impl QueryOptions {
    fn lower_ctx(&self) -> LowerCtx {
        match self.now {
            Some(n) => LowerCtx::new(n),
            None => LowerCtx::wall_clock(),
        }
    }
}

/// Why a query produced no results.
#[derive(Debug, Clone, thiserror::Error)]
pub enum QueryError {
    /// Syntax or semantic errors (with any warnings), with spans into the query text.
    #[error("the query has {} error(s)", .0.iter().filter(|d| d.is_error()).count())]
    Invalid(Vec<Diagnostic>),
    /// The query was valid but failed while running.
    #[error("query execution failed: {0}")]
    Execution(String),
}

impl QueryError {
    /// The diagnostics of an invalid query (empty for execution errors).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            QueryError::Invalid(d) => d,
            QueryError::Execution(_) => &[],
        }
    }
}

/// A planned query: one logical plan per result table, and the warnings planning produced.
#[derive(Debug, Clone)]
pub struct PlannedQuery {
    pub results: Vec<PlannedResult>,
    pub warnings: Vec<Diagnostic>,
    /// The tables planning read: constant subqueries (`toscalar`, `materialize`, tabular
    /// `in` lists, `scan`) ran over them, and their results are constants in the plans.
    pub planning_reads: BTreeSet<String>,
}

/// A planned query whose plans DataFusion has analyzed and optimized (see
/// [`Engine::optimize`]): what [`Engine::execute_optimized`] runs without optimizing again.
#[derive(Debug, Clone)]
pub struct OptimizedQuery {
    pub results: Vec<PlannedResult>,
    pub warnings: Vec<Diagnostic>,
    pub planning_reads: BTreeSet<String>,
}

impl OptimizedQuery {
    /// The query reading some catalog tables from other providers: every scan of a table
    /// `provider(name)` answers for reads that table from it instead. A replacement must
    /// have the schema of the provider it replaces (the optimized scans project and filter
    /// by position); a different one is an error naming the table. Plans made by `scan`,
    /// `datatable` and `materialize` are not catalog tables and are never replaced.
    pub fn with_tables(
        &self,
        provider: &dyn Fn(&str) -> Option<Arc<dyn TableProvider>>,
    ) -> Result<OptimizedQuery, String> {
        let mut results = Vec::with_capacity(self.results.len());
        for r in &self.results {
            let plan = r
                .plan
                .clone()
                .transform_up(|node| {
                    let LogicalPlan::TableScan(scan) = &node else {
                        return Ok(Transformed::no(node));
                    };
                    let Some(replacement) = provider(scan.table_name.table()) else {
                        return Ok(Transformed::no(node));
                    };
                    if replacement.schema() != scan.source.schema() {
                        return Err(DataFusionError::Plan(format!(
                            "the replacement of table {} has another schema",
                            scan.table_name
                        )));
                    }
                    let mut scan = scan.clone();
                    scan.source = provider_as_source(replacement);
                    Ok(Transformed::yes(LogicalPlan::TableScan(scan)))
                })
                .map_err(|e| e.to_string())?
                .data;
            results.push(PlannedResult { plan, ..r.clone() });
        }
        Ok(OptimizedQuery {
            results,
            warnings: self.warnings.clone(),
            planning_reads: self.planning_reads.clone(),
        })
    }
}

/// Plans and runs KQL over a catalog of tables.
#[derive(Clone)]
pub struct Engine {
    catalog: Arc<dyn TableCatalog>,
    session: SessionContext,
    workers: Arc<Workers>,
    /// The memory limit of the session's pool (bytes), for error messages.
    memory_limit: usize,
    /// Whether operators may spill to disk.
    spill: bool,
}

/// The engine's own runtime: queries run on its worker threads, whose large stacks let
/// DataFusion's optimizer walk any expression the parser accepts.
struct Workers(Option<tokio::runtime::Runtime>);

impl Workers {
    fn new() -> Result<Workers, DataFusionError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .thread_name("quarry-query")
            .thread_stack_size(WORKER_STACK)
            .enable_all()
            .build()
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        Ok(Workers(Some(rt)))
    }

    fn runtime(&self) -> Result<&tokio::runtime::Runtime, QueryError> {
        self.0
            .as_ref()
            .ok_or_else(|| QueryError::Execution("the engine has shut down".into()))
    }
}

impl Drop for Workers {
    /// Dropping a runtime blocks unless it is shut down in the background, which is also
    /// allowed inside an async context (where the last engine may be dropped).
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

/// The DataFusion session every engine uses, with the default [`EngineConfig`].
pub fn new_session() -> Result<SessionContext, DataFusionError> {
    new_session_with(&EngineConfig::default())
}

/// The settings of every session that runs the engine's plans: no round-robin
/// repartitioning, so that row order survives between a `sort` (or an ordered source) and
/// the operators after it; data-directory scans evaluate their filters inside the Parquet
/// reader, cheapest first, and decode the other columns only for matching rows (late
/// materialization, see `store::provider`).
pub fn base_session_config() -> SessionConfig {
    let mut config = SessionConfig::new()
        .with_round_robin_repartition(false)
        .with_information_schema(false);
    config.options_mut().execution.parquet.pushdown_filters = true;
    config.options_mut().execution.parquet.reorder_filters = true;
    config
}

/// The DataFusion session of an engine: [`base_session_config`] (row order survives, as
/// Kusto's serialized row sets require) and KQL functions registered. Its operators share a
/// memory pool of `config`'s limit (a [`FairSpillPool`]: every spilling operator of a query
/// gets an equal share, so sorts and aggregations spill instead of one starving the
/// others) and spill to `config.spill_dir`.
pub fn new_session_with(config: &EngineConfig) -> Result<SessionContext, DataFusionError> {
    let limit = config.effective_memory_limit();
    let mut session_config = base_session_config();
    if config.target_partitions > 0 {
        session_config = session_config.with_target_partitions(config.target_partitions);
    }
    // A sort reserves this much up front for merging what it spilled (10 MiB by default);
    // under a small limit, every partition's reservation would take the whole pool. The
    // reservation also pays for sorting the batches a sort holds before it spills them
    // (about one batch more than they take): an eighth of the pool shared by the
    // partitions fell short of that at a 20 MiB limit when another partition's final merge
    // held a third of the pool; a quarter leaves a batch to spare.
    let partitions = session_config.target_partitions().max(1);
    let merge_reservation = (limit / (4 * partitions)).clamp(64 << 10, 10 << 20);
    session_config = session_config.with_sort_spill_reservation_bytes(merge_reservation);
    let pool = TrackConsumersPool::new(
        FairSpillPool::new(limit),
        NonZeroUsize::new(3).unwrap_or(NonZeroUsize::MIN),
    );
    let disk = DiskManagerBuilder::default().with_mode(match (&config.spill_dir, config.spill) {
        (_, false) => DiskManagerMode::Disabled,
        (Some(dir), true) => DiskManagerMode::Directories(vec![dir.clone()]),
        (None, true) => DiskManagerMode::OsTmpDirectory,
    });
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_pool(Arc::new(pool))
        .with_disk_manager_builder(disk)
        .build_arc()?;
    let mut state = SessionStateBuilder::new()
        .with_config(session_config)
        .with_runtime_env(runtime)
        .with_default_features()
        .build();
    functions::register_all(&mut state)?;
    for udf in crate::udf::udfs() {
        datafusion::execution::FunctionRegistry::register_udf(&mut state, udf)?;
    }
    datafusion::execution::FunctionRegistry::register_udwf(&mut state, crate::udf::row_window_session())?;
    Ok(SessionContext::new_with_state(state))
}

impl Engine {
    /// An engine with the default [`EngineConfig`] (memory limit: half the machine's memory).
    pub fn new(catalog: Arc<dyn TableCatalog>) -> Result<Engine, DataFusionError> {
        Engine::with_config(catalog, &EngineConfig::default())
    }

    /// An engine whose queries stay within `config`'s memory limit, spilling sorts and
    /// aggregations to disk past it.
    pub fn with_config(catalog: Arc<dyn TableCatalog>, config: &EngineConfig) -> Result<Engine, DataFusionError> {
        Ok(Engine {
            catalog,
            session: new_session_with(config)?,
            workers: Arc::new(Workers::new()?),
            memory_limit: config.effective_memory_limit(),
            spill: config.spill,
        })
    }

    /// An engine over another catalog sharing this one's session, worker threads and
    /// memory pool: engines made this way stay within one memory limit together.
    pub fn with_catalog(&self, catalog: Arc<dyn TableCatalog>) -> Engine {
        Engine {
            catalog,
            session: self.session.clone(),
            workers: self.workers.clone(),
            memory_limit: self.memory_limit,
            spill: self.spill,
        }
    }

    /// An engine sharing this one's catalog, functions, worker threads and memory pool
    /// whose plans run in `partitions` partitions: a query over a few rows in memory runs
    /// faster in one than split and merged again.
    pub fn with_target_partitions(&self, partitions: usize) -> Engine {
        let mut state = self.session.state();
        state.config_mut().options_mut().execution.target_partitions = partitions.max(1);
        Engine {
            catalog: self.catalog.clone(),
            session: SessionContext::new_with_state(state),
            workers: self.workers.clone(),
            memory_limit: self.memory_limit,
            spill: self.spill,
        }
    }

    /// The memory limit of the engine's pool, in bytes.
    pub fn memory_limit(&self) -> usize {
        self.memory_limit
    }

    pub fn catalog(&self) -> &Arc<dyn TableCatalog> {
        &self.catalog
    }

    /// The DataFusion session (for registering further functions or inspecting plans).
    pub fn session(&self) -> &SessionContext {
        &self.session
    }

    /// Parses and checks a query against the catalog's schemas without running anything
    /// (`toscalar`, `materialize` and tabular `in` lists are not evaluated). Returns every
    /// diagnostic found: syntax errors, then semantic ones.
    pub fn validate(&self, query: &str) -> Vec<Diagnostic> {
        validate(query, self.catalog.as_ref())
    }

    /// Plans a query. Constant subqueries (`toscalar`, `materialize`, tabular `in` lists)
    /// run now, as in Kusto.
    pub fn plan(&self, query: &str, options: &QueryOptions) -> Result<PlannedQuery, QueryError> {
        // Parsing recurses too: it runs on the planner's stack.
        let parsed = on_big_stack(|| kql::parse(query)).map_err(|e| QueryError::Invalid(vec![e]))?;
        if !parsed.is_ok() {
            return Err(QueryError::Invalid(parsed.diagnostics));
        }
        let mut planned = self.plan_ast(&parsed.query, options)?;
        planned.warnings.splice(0..0, parsed.diagnostics);
        Ok(planned)
    }

    /// Plans an already parsed query.
    pub fn plan_ast(&self, query: &Query, options: &QueryOptions) -> Result<PlannedQuery, QueryError> {
        let exec = SessionExecutor {
            session: self.session.clone(),
            read: Mutex::new(BTreeSet::new()),
        };
        let (results, diagnostics) = plan_on_big_stack(query, self.catalog.as_ref(), options.lower_ctx(), Some(&exec));
        if kql::has_errors(&diagnostics) {
            return Err(QueryError::Invalid(diagnostics));
        }
        Ok(PlannedQuery {
            results,
            warnings: diagnostics,
            planning_reads: exec.read.into_inner().unwrap_or_else(PoisonError::into_inner),
        })
    }

    /// Analyzes and optimizes the plans of a query as running it would (type coercion,
    /// filter and projection pushdown…), so that it can run several times, over other
    /// tables ([`OptimizedQuery::with_tables`]), without optimizing again. Call it on a
    /// thread with a large stack: optimizing recurses over the plan.
    pub fn optimize(&self, planned: PlannedQuery) -> Result<OptimizedQuery, QueryError> {
        let state = self.session.state();
        let mut results = Vec::with_capacity(planned.results.len());
        for r in planned.results {
            let plan = state
                .optimize(&prune_columns(r.plan))
                .map_err(|e| execution_error(&e, self.memory_limit, self.spill))?;
            results.push(PlannedResult { plan, ..r });
        }
        Ok(OptimizedQuery {
            results,
            warnings: planned.warnings,
            planning_reads: planned.planning_reads,
        })
    }

    /// Runs an optimized query (see [`Engine::execute`]): only the physical plans are made.
    pub async fn execute_optimized(&self, query: &OptimizedQuery) -> Result<Vec<QueryResult>, QueryError> {
        let runtime = self.workers.runtime()?;
        let mut out = Vec::with_capacity(query.results.len());
        for r in &query.results {
            let state = self.session.state();
            let plan = r.plan.clone();
            let batches = runtime
                .spawn(async move {
                    let physical = state.query_planner().create_physical_plan(&plan, &state).await?;
                    datafusion::physical_plan::collect(physical, state.task_ctx()).await
                })
                .await
                .map_err(|e| QueryError::Execution(format!("the query task failed: {e}")))?
                .map_err(|e| execution_error(&e, self.memory_limit, self.spill))?;
            out.push(QueryResult {
                name: r.name.clone(),
                columns: r.columns.clone(),
                batches,
            });
        }
        Ok(out)
    }

    /// Runs a planned query (on the engine's worker threads; the returned future only
    /// waits for them, so any runtime may await it).
    pub async fn execute(&self, planned: PlannedQuery) -> Result<Vec<QueryResult>, QueryError> {
        let runtime = self.workers.runtime()?;
        let mut out = Vec::with_capacity(planned.results.len());
        for r in planned.results {
            let session = self.session.clone();
            let batches = runtime
                .spawn(async move { collect(&session, r.plan).await })
                .await
                .map_err(|e| QueryError::Execution(format!("the query task failed: {e}")))?
                .map_err(|e| execution_error(&e, self.memory_limit, self.spill))?;
            out.push(QueryResult {
                name: r.name,
                columns: r.columns,
                batches,
            });
        }
        Ok(out)
    }

    /// Plans and runs a query.
    pub async fn query(&self, query: &str, options: &QueryOptions) -> Result<Vec<QueryResult>, QueryError> {
        let planned = self.plan(query, options)?;
        self.execute(planned).await
    }

    /// Plans and runs a query, blocking the calling thread (which must not be inside an
    /// async runtime).
    pub fn query_blocking(&self, query: &str, options: &QueryOptions) -> Result<Vec<QueryResult>, QueryError> {
        let planned = self.plan(query, options)?;
        self.workers.runtime()?.block_on(self.execute(planned))
    }
}

/// Parses and checks a query against a catalog's schemas, without data.
pub fn validate(query: &str, catalog: &dyn TableCatalog) -> Vec<Diagnostic> {
    let parsed = match on_big_stack(|| kql::parse(query)) {
        Ok(p) => p,
        Err(d) => return vec![d],
    };
    let mut diagnostics = parsed.diagnostics;
    if kql::has_errors(&diagnostics) {
        return diagnostics;
    }
    diagnostics.extend(validate_ast(&parsed.query, catalog));
    diagnostics
}

/// Checks a parsed query against a catalog's schemas, without data.
pub fn validate_ast(query: &Query, catalog: &dyn TableCatalog) -> Vec<Diagnostic> {
    let (_, diagnostics) = plan_on_big_stack(query, catalog, LowerCtx::new(0), None);
    diagnostics
}

/// Runs `f` with a large stack: in place when the current thread has that much left (a
/// hunt's planning threads; starting a thread costs more than planning a small query),
/// else on a thread of its own. A panic becomes an internal-error diagnostic.
fn on_big_stack<T: Send>(f: impl FnOnce() -> T + Send) -> Result<T, Diagnostic> {
    let panicked = || Diagnostic::error("QE999", "internal error: the planner failed", kql::Span::empty(0));
    if stacker::remaining_stack().is_some_and(|left| left >= PLANNER_STACK_IN_PLACE) {
        return std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|_| panicked());
    }
    std::thread::scope(|scope| {
        match std::thread::Builder::new()
            .stack_size(PLANNER_STACK)
            .spawn_scoped(scope, f)
        {
            Ok(h) => h.join().map_err(|_| panicked()),
            Err(e) => Err(Diagnostic::error(
                "QE999",
                format!("internal error: cannot start the planner: {e}"),
                kql::Span::empty(0),
            )),
        }
    })
}

fn plan_on_big_stack(
    query: &Query,
    catalog: &dyn TableCatalog,
    ctx: LowerCtx,
    exec: Option<&(dyn Executor + Sync)>,
) -> (Vec<PlannedResult>, Vec<Diagnostic>) {
    let planned = on_big_stack(move || {
        let exec: Option<&dyn Executor> = match exec {
            Some(e) => Some(e),
            None => None,
        };
        let mut planner = Planner::new(catalog, ctx, exec);
        let results = planner.plan_query(query);
        (results, planner.into_diagnostics())
    });
    match planned {
        Ok(p) => p,
        Err(mut d) => {
            d.span = query.span;
            (Vec::new(), vec![d])
        }
    }
}

/// The error of a failed query; running out of memory says which limit and how to raise it.
fn execution_error(e: &DataFusionError, memory_limit: usize, spill: bool) -> QueryError {
    let root = e.find_root();
    if !matches!(root, DataFusionError::ResourcesExhausted(_)) {
        return QueryError::Execution(e.to_string());
    }
    QueryError::Execution(format!(
        "the query needs more memory than its limit of {}{}; raise the limit with --memory-limit \
         (e.g. --memory-limit 8GiB) or narrow the query (a shorter time range, fewer columns or \
         groups). DataFusion: {root}",
        format_bytes(memory_limit as u64),
        if spill {
            ", even spilling sorts and aggregations to disk"
        } else {
            " and spilling to disk is off"
        },
    ))
}

async fn collect(session: &SessionContext, plan: LogicalPlan) -> Result<Vec<RecordBatch>, DataFusionError> {
    session.execute_logical_plan(prune_columns(plan)).await?.collect().await
}

/// The plan reading only the columns it uses, before DataFusion analyzes and optimizes it.
///
/// A planned query reads each table through a projection of every column (60 to 90 in the
/// Defender tables). The optimizer narrows it, but only with its last rule: until then the
/// analyzer (type coercion) and every other rule of the first pass walk, rebuild and hash
/// all those columns. Pruned first, they see the few the query uses. This is DataFusion's
/// own projection pruning, run once more, so the plan means the same; where it fails, the
/// plan goes on unpruned and the optimizer prunes it as before.
pub fn prune_columns(plan: LogicalPlan) -> LogicalPlan {
    use datafusion::optimizer::{OptimizerContext, OptimizerRule, optimize_projections::OptimizeProjections};
    match OptimizeProjections::new().rewrite(plan.clone(), &OptimizerContext::new()) {
        Ok(pruned) => pruned.data,
        Err(_) => plan,
    }
}

/// Runs plans during planning on a private single-threaded runtime (planning happens on its
/// own thread, outside any async runtime).
struct SessionExecutor {
    session: SessionContext,
    /// The tables the plans that ran read.
    read: Mutex<BTreeSet<String>>,
}

impl Executor for SessionExecutor {
    fn collect(&self, plan: LogicalPlan) -> Result<Vec<RecordBatch>, DataFusionError> {
        let mut tables = Vec::new();
        plan.apply_with_subqueries(|p| {
            if let LogicalPlan::TableScan(scan) = p {
                tables.push(scan.table_name.table().to_string());
            }
            Ok(TreeNodeRecursion::Continue)
        })?;
        self.read.lock().unwrap_or_else(PoisonError::into_inner).extend(tables);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        runtime.block_on(collect(&self.session, plan))
    }

    fn physical_expr(
        &self,
        expr: datafusion::logical_expr::Expr,
        schema: &datafusion::common::DFSchema,
    ) -> Result<Arc<dyn datafusion::physical_expr::PhysicalExpr>, DataFusionError> {
        self.session.state().create_physical_expr(expr, schema)
    }
}
