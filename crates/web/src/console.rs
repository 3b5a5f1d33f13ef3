//! The query console's contract with whatever runs KQL (the engine over the data
//! directory), its limits, and a small cache of recent results so that paging through a
//! result does not run the query again.

use serde::Serialize;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Largest query text the console accepts.
pub const MAX_QUERY_BYTES: usize = 64 * 1024;

/// Limits on one console query.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct QueryLimits {
    /// Wall-clock limit; the query is cancelled (its execution dropped) when reached.
    #[serde(serialize_with = "secs")]
    pub timeout: Duration,
    /// Memory the query's operators may hold (a DataFusion memory pool).
    pub memory_bytes: usize,
    /// Rows kept per result table; the rest are counted, not kept.
    pub max_rows: usize,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl Default for QueryLimits {
    fn default() -> Self {
        QueryLimits {
            timeout: Duration::from_secs(30),
            memory_bytes: 512 << 20,
            max_rows: 10_000,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Column {
    pub name: String,
    /// KQL type name (`string`, `datetime`, …).
    #[serde(rename = "type")]
    pub kql_type: String,
}

/// One result table. Cells are JSON values (Kusto's JSON forms: datetimes as text, dynamic
/// as JSON) and their Kusto text forms for display.
#[derive(Clone, Debug, Serialize)]
pub struct ResultTable {
    pub name: Option<String>,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<serde_json::Value>>,
    #[serde(skip)]
    pub text: Vec<Vec<String>>,
    /// Rows the query produced (may exceed `rows.len()` when truncated).
    pub total_rows: usize,
    pub truncated: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct QueryOutput {
    pub tables: Vec<ResultTable>,
    /// Warnings (with spans into the query).
    pub warnings: Vec<kql::Diagnostic>,
    pub elapsed_ms: f64,
}

#[derive(Clone, Debug)]
pub enum QueryFailure {
    /// Syntax or semantic errors with spans into the query text.
    Invalid(Vec<kql::Diagnostic>),
    /// The query was valid but failed while running.
    Execution(String),
    /// It ran longer than the limit and was cancelled.
    Timeout(Duration),
    /// The user cancelled it.
    Cancelled,
    /// Nothing can run queries in this server (no engine, or no data directory).
    Unavailable(String),
}

pub type QueryFuture = Pin<Box<dyn Future<Output = Result<QueryOutput, QueryFailure>> + Send>>;

/// What runs console queries. Dropping the returned future must cancel the query.
pub trait QueryBackend: Send + Sync {
    /// Syntax and semantic diagnostics without running anything.
    fn validate(&self, query: &str) -> Vec<kql::Diagnostic>;
    /// Runs a query within `limits.memory_bytes` and `limits.max_rows` (the caller enforces
    /// the timeout by dropping the future). `now` is the query's `now()` in nanoseconds since
    /// the Unix epoch; the wall clock when `None`.
    fn run(&self, query: String, limits: QueryLimits, now: Option<i64>) -> QueryFuture;
}

/// Used when the engine cannot be set up: it finds syntax errors, and says why nothing
/// can run.
pub struct Unavailable(pub String);

impl QueryBackend for Unavailable {
    fn validate(&self, query: &str) -> Vec<kql::Diagnostic> {
        kql::parse(query).diagnostics
    }

    fn run(&self, _query: String, _limits: QueryLimits, _now: Option<i64>) -> QueryFuture {
        let why = self.0.clone();
        Box::pin(async move { Err(QueryFailure::Unavailable(why)) })
    }
}

/// Runs a query with the time limit; `cancel` stops it early. Either way the backend's
/// future is dropped, which stops its execution.
pub async fn run_limited(
    backend: &Arc<dyn QueryBackend>,
    query: String,
    now: Option<i64>,
    limits: QueryLimits,
    cancel: Option<Arc<tokio::sync::Notify>>,
) -> Result<QueryOutput, QueryFailure> {
    let started = Instant::now();
    let cancelled = async {
        match cancel {
            Some(n) => n.notified().await,
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        r = tokio::time::timeout(limits.timeout, backend.run(query, limits, now)) => match r {
            Ok(Ok(mut out)) => {
                out.elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
                Ok(out)
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err(QueryFailure::Timeout(limits.timeout)),
        },
        _ = cancelled => Err(QueryFailure::Cancelled),
    }
}

/// Queries running now, by the id the client gave them, so that they can be cancelled.
#[derive(Default)]
pub struct Running {
    map: Mutex<std::collections::HashMap<String, Arc<tokio::sync::Notify>>>,
}

/// Most concurrent cancellable queries tracked (older ids are simply not cancellable).
const MAX_RUNNING: usize = 256;

impl Running {
    pub fn register(&self, id: &str) -> Option<Arc<tokio::sync::Notify>> {
        let mut m = self.map.lock().ok()?;
        if m.len() >= MAX_RUNNING || id.is_empty() || id.len() > 100 {
            return None;
        }
        let n = Arc::new(tokio::sync::Notify::new());
        m.insert(id.to_string(), n.clone());
        Some(n)
    }

    pub fn finish(&self, id: &str) {
        if let Ok(mut m) = self.map.lock() {
            m.remove(id);
        }
    }

    /// Cancels a running query; false when none has that id.
    pub fn cancel(&self, id: &str) -> bool {
        match self.map.lock().ok().and_then(|m| m.get(id).cloned()) {
            Some(n) => {
                n.notify_one();
                true
            }
            None => false,
        }
    }
}

/// Recent results by id, for paging.
pub struct ResultCache {
    entries: Mutex<VecDeque<(String, Instant, Arc<CachedResult>)>>,
    counter: std::sync::atomic::AtomicU64,
    salt: u64,
}

pub struct CachedResult {
    pub query: String,
    pub output: QueryOutput,
}

const CACHE_ENTRIES: usize = 16;
const CACHE_TTL: Duration = Duration::from_secs(15 * 60);

impl Default for ResultCache {
    fn default() -> Self {
        let salt = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
            ^ u64::from(std::process::id());
        ResultCache {
            entries: Mutex::new(VecDeque::new()),
            counter: std::sync::atomic::AtomicU64::new(1),
            salt,
        }
    }
}

impl ResultCache {
    pub fn insert(&self, query: String, output: QueryOutput) -> String {
        let n = self.counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let id = format!(
            "r{:x}{:x}",
            self.salt.rotate_left(17) ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15),
            n
        );
        if let Ok(mut e) = self.entries.lock() {
            e.retain(|(_, at, _)| at.elapsed() < CACHE_TTL);
            while e.len() >= CACHE_ENTRIES {
                e.pop_front();
            }
            e.push_back((id.clone(), Instant::now(), Arc::new(CachedResult { query, output })));
        }
        id
    }

    pub fn get(&self, id: &str) -> Option<Arc<CachedResult>> {
        let e = self.entries.lock().ok()?;
        e.iter()
            .find(|(k, at, _)| k == id && at.elapsed() < CACHE_TTL)
            .map(|(_, _, r)| r.clone())
    }
}

/// A time chart's series: the result has exactly one datetime column and at least one
/// numeric column.
pub struct Chart {
    pub time_column: usize,
    pub value_columns: Vec<usize>,
}

pub fn chart_of(table: &ResultTable) -> Option<Chart> {
    let times: Vec<usize> = table
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| c.kql_type == "datetime")
        .map(|(i, _)| i)
        .collect();
    let values: Vec<usize> = table
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| matches!(c.kql_type.as_str(), "long" | "int" | "real" | "decimal"))
        .map(|(i, _)| i)
        .collect();
    match (times.as_slice(), values.is_empty(), table.rows.len()) {
        ([t], false, 2..) => Some(Chart {
            time_column: *t,
            value_columns: values,
        }),
        _ => None,
    }
}
