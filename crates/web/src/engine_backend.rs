//! The console's [`QueryBackend`] over Quarry's engine and the data directory.
//!
//! The engine plans (parse, semantic checks, lowering to a DataFusion logical plan); the
//! plans then run in a session of our own whose runtime has a bounded memory pool, and are
//! streamed so that only `max_rows` rows are kept. Dropping the future drops the stream,
//! which stops DataFusion's work: that is how the timeout and the Cancel button stop a
//! query.

use crate::console::{Column, QueryBackend, QueryFailure, QueryFuture, QueryLimits, QueryOutput, ResultTable};
use datafusion::arrow::array::RecordBatch;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::SessionContext;
use engine::{CatalogTable, Engine, QueryError, QueryOptions, QueryResult, TableCatalog};
use futures::StreamExt;
use std::sync::Arc;
use store::DataDir;

/// The tables of a data directory: stored ones, and built-in schemas (empty) for the rest.
struct DataDirCatalog {
    dir: DataDir,
}

impl TableCatalog for DataDirCatalog {
    fn table(&self, name: &str) -> Option<CatalogTable> {
        let schema = self.dir.schema(name).ok()??;
        let provider = self.dir.table_provider(name).ok()??;
        Some(CatalogTable { schema, provider })
    }

    fn table_names(&self) -> Vec<String> {
        match self.dir.catalog() {
            Ok(c) => c.iter().map(|t| t.name.clone()).collect(),
            Err(_) => Vec::new(),
        }
    }
}

/// Runs console queries with the engine over a data directory.
pub struct EngineBackend {
    engine: Engine,
}

impl EngineBackend {
    pub fn new(data_dir: &std::path::Path) -> Result<EngineBackend, String> {
        let catalog = DataDirCatalog {
            dir: DataDir::open(data_dir),
        };
        let engine = Engine::new(Arc::new(catalog)).map_err(|e| e.to_string())?;
        Ok(EngineBackend { engine })
    }
}

/// A session with the engine's settings (`engine::base_session_config`) whose operators
/// share a memory pool of `bytes`.
fn limited_session(bytes: usize) -> Result<SessionContext, String> {
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_limit(bytes, 1.0)
        .build_arc()
        .map_err(|e| e.to_string())?;
    let config = engine::base_session_config();
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_default_features()
        .build();
    Ok(SessionContext::new_with_state(state))
}

fn invalid(e: QueryError) -> QueryFailure {
    match e {
        QueryError::Invalid(d) => QueryFailure::Invalid(d),
        QueryError::Execution(m) => QueryFailure::Execution(m),
    }
}

/// Keeps the first `max_rows` rows of a stream and counts the rest.
async fn collect_limited(
    session: &SessionContext,
    plan: datafusion::logical_expr::LogicalPlan,
    max_rows: usize,
) -> Result<(Vec<RecordBatch>, usize), QueryFailure> {
    let df = session
        .execute_logical_plan(plan)
        .await
        .map_err(|e| QueryFailure::Execution(e.to_string()))?;
    let mut stream = df
        .execute_stream()
        .await
        .map_err(|e| QueryFailure::Execution(e.to_string()))?;
    let mut kept = Vec::new();
    let (mut n_kept, mut total) = (0usize, 0usize);
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(|e| QueryFailure::Execution(e.to_string()))?;
        total += batch.num_rows();
        if n_kept < max_rows {
            let take = (max_rows - n_kept).min(batch.num_rows());
            kept.push(batch.slice(0, take));
            n_kept += take;
        }
    }
    Ok((kept, total))
}

fn table_of(r: QueryResult, total: usize) -> Result<ResultTable, QueryFailure> {
    let text = r.text_rows().map_err(|e| QueryFailure::Execution(e.to_string()))?;
    let rows = r.json_rows().map_err(|e| QueryFailure::Execution(e.to_string()))?;
    Ok(ResultTable {
        name: r.name.clone(),
        columns: r
            .columns
            .iter()
            .map(|(n, t)| Column {
                name: n.clone(),
                kql_type: t.name().to_string(),
            })
            .collect(),
        truncated: total > rows.len(),
        total_rows: total,
        rows,
        text,
    })
}

impl QueryBackend for EngineBackend {
    fn validate(&self, query: &str) -> Vec<kql::Diagnostic> {
        self.engine.validate(query)
    }

    fn run(&self, query: String, limits: QueryLimits, now: Option<i64>) -> QueryFuture {
        let engine = self.engine.clone();
        Box::pin(async move {
            let options = QueryOptions { now };
            // Planning is synchronous (and may run constant subqueries): off the async threads.
            let plan_engine = engine.clone();
            let planned = tokio::task::spawn_blocking(move || plan_engine.plan(&query, &options))
                .await
                .map_err(|e| QueryFailure::Execution(format!("internal error: {e}")))?
                .map_err(invalid)?;
            let session = limited_session(limits.memory_bytes).map_err(QueryFailure::Execution)?;
            let mut tables = Vec::with_capacity(planned.results.len());
            for r in planned.results {
                let (batches, total) = collect_limited(&session, r.plan, limits.max_rows).await?;
                let result = QueryResult {
                    name: r.name,
                    columns: r.columns,
                    batches,
                };
                tables.push(table_of(result, total)?);
            }
            Ok(QueryOutput {
                tables,
                warnings: planned.warnings,
                elapsed_ms: 0.0,
            })
        })
    }
}
