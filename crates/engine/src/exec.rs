//! The engine: a DataFusion session with the KQL functions registered, a catalog, and the
//! entry points to validate, plan and run queries.

use crate::catalog::TableCatalog;
use crate::planner::{Executor, PlannedResult, Planner};
use crate::result::QueryResult;
use datafusion::arrow::array::RecordBatch;
use datafusion::error::DataFusionError;
use datafusion::execution::SessionStateBuilder;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::{SessionConfig, SessionContext};
use functions::LowerCtx;
use kql::Diagnostic;
use kql::ast::Query;
use std::sync::Arc;

/// Planning walks the query recursively; it runs on a thread with a large stack so that any
/// query the parser accepts plans without overflowing.
const PLANNER_STACK: usize = 256 << 20;

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
}

/// Plans and runs KQL over a catalog of tables.
#[derive(Clone)]
pub struct Engine {
    catalog: Arc<dyn TableCatalog>,
    session: SessionContext,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

/// The DataFusion session every engine uses: KQL functions registered, and no round-robin
/// repartitioning so that row order survives between a `sort` (or an ordered source) and
/// the operators after it, as Kusto's serialized row sets require.
pub fn new_session() -> Result<SessionContext, DataFusionError> {
    let config = SessionConfig::new()
        .with_round_robin_repartition(false)
        .with_information_schema(false);
    let mut state = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features()
        .build();
    functions::register_all(&mut state)?;
    for udf in crate::udf::udfs() {
        datafusion::execution::FunctionRegistry::register_udf(&mut state, udf)?;
    }
    Ok(SessionContext::new_with_state(state))
}

impl Engine {
    pub fn new(catalog: Arc<dyn TableCatalog>) -> Result<Engine, DataFusionError> {
        Ok(Engine {
            catalog,
            session: new_session()?,
        })
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
        let parsed = kql::parse(query);
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
        };
        let (results, diagnostics) = plan_on_big_stack(query, self.catalog.as_ref(), options.lower_ctx(), Some(&exec));
        if kql::has_errors(&diagnostics) {
            return Err(QueryError::Invalid(diagnostics));
        }
        Ok(PlannedQuery {
            results,
            warnings: diagnostics,
        })
    }

    /// Runs a planned query.
    pub async fn execute(&self, planned: PlannedQuery) -> Result<Vec<QueryResult>, QueryError> {
        let mut out = Vec::with_capacity(planned.results.len());
        for r in planned.results {
            let batches = collect(&self.session, r.plan)
                .await
                .map_err(|e| QueryError::Execution(e.to_string()))?;
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
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| QueryError::Execution(e.to_string()))?;
        runtime.block_on(self.query(query, options))
    }
}

/// Parses and checks a query against a catalog's schemas, without data.
pub fn validate(query: &str, catalog: &dyn TableCatalog) -> Vec<Diagnostic> {
    let parsed = kql::parse(query);
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

fn plan_on_big_stack(
    query: &Query,
    catalog: &dyn TableCatalog,
    ctx: LowerCtx,
    exec: Option<&(dyn Executor + Sync)>,
) -> (Vec<PlannedResult>, Vec<Diagnostic>) {
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new()
            .stack_size(PLANNER_STACK)
            .spawn_scoped(scope, move || {
                let exec: Option<&dyn Executor> = match exec {
                    Some(e) => Some(e),
                    None => None,
                };
                let mut planner = Planner::new(catalog, ctx, exec);
                let results = planner.plan_query(query);
                (results, planner.into_diagnostics())
            });
        match handle {
            Ok(h) => h.join().unwrap_or_else(|_| {
                (
                    Vec::new(),
                    vec![Diagnostic::error(
                        "QE999",
                        "internal error: the planner failed",
                        query.span,
                    )],
                )
            }),
            Err(e) => (
                Vec::new(),
                vec![Diagnostic::error(
                    "QE999",
                    format!("internal error: cannot start the planner: {e}"),
                    query.span,
                )],
            ),
        }
    })
}

async fn collect(session: &SessionContext, plan: LogicalPlan) -> Result<Vec<RecordBatch>, DataFusionError> {
    session.execute_logical_plan(plan).await?.collect().await
}

/// Runs plans during planning on a private single-threaded runtime (planning happens on its
/// own thread, outside any async runtime).
struct SessionExecutor {
    session: SessionContext,
}

impl Executor for SessionExecutor {
    fn collect(&self, plan: LogicalPlan) -> Result<Vec<RecordBatch>, DataFusionError> {
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
