//! Test helpers: in-memory tables built from JSON rows, and queries run over them.
#![allow(dead_code)]

use datafusion::arrow::array::RecordBatch;
use engine::{Engine, MemCatalog, QueryOptions, QueryResult};
use functions::val::{Val, build_array};
use schema::{KqlType, TableSchema};
use serde_json::Value as Json;
use std::sync::Arc;

/// 2024-05-01T00:00:00Z, the `now()` of these tests.
pub const NOW: i64 = 1_714_521_600_000_000_000;
pub const HOUR: i64 = 3_600_000_000_000;
pub const DAY: i64 = 24 * HOUR;

/// A datetime `offset` nanoseconds from [`NOW`], as the ISO text tests write in rows.
pub fn at(offset: i64) -> String {
    schema::values::format_datetime(NOW + offset)
}

fn val(ty: KqlType, v: Option<&Json>) -> Val {
    let Some(v) = v else {
        return if ty == KqlType::String {
            Val::Str(String::new())
        } else {
            Val::Null
        };
    };
    match (ty, v) {
        (_, Json::Null) => Val::Null,
        (KqlType::Bool, Json::Bool(b)) => Val::Bool(*b),
        (KqlType::Int, Json::Number(n)) => Val::Int(n.as_i64().unwrap_or(0) as i32),
        (KqlType::Long, Json::Number(n)) => Val::Long(n.as_i64().unwrap_or(0)),
        (KqlType::Real, Json::Number(n)) => Val::Real(n.as_f64().unwrap_or(0.0)),
        (KqlType::String | KqlType::Guid, Json::String(s)) => Val::Str(s.clone()),
        (KqlType::DateTime, Json::String(s)) => Val::DateTime(schema::values::parse_datetime(s).expect("datetime")),
        (KqlType::TimeSpan, Json::String(s)) => Val::TimeSpan(schema::values::parse_timespan(s).expect("timespan")),
        (KqlType::Dynamic, j) => Val::Dyn(j.clone()),
        (ty, v) => panic!("test row: {v} is not a {ty}"),
    }
}

/// A batch of a table from JSON objects (missing columns: "" for strings, null otherwise).
pub fn batch(schema: &TableSchema, rows: &[Json]) -> RecordBatch {
    let arrow = Arc::new(schema.arrow_schema());
    let columns = schema
        .columns
        .iter()
        .map(|c| {
            let vals: Vec<Val> = rows.iter().map(|r| val(c.ty, r.get(&c.name))).collect();
            build_array(c.ty, &vals).expect("column")
        })
        .collect();
    RecordBatch::try_new(arrow, columns).expect("batch")
}

/// A catalog with built-in tables holding the given rows (other built-in tables empty).
pub fn catalog(tables: &[(&str, Vec<Json>)]) -> MemCatalog {
    let mut c = MemCatalog::with_fallback(Arc::new(engine::SchemaCatalog::builtin()));
    for (name, rows) in tables {
        let schema = schema::Catalog::builtin()
            .get(name)
            .expect("built-in table")
            .as_ref()
            .clone();
        let b = batch(&schema, rows);
        c.add_batches(schema, vec![b]).expect("table");
    }
    c
}

/// Runs a query at [`NOW`]; panics with the diagnostics if it fails.
pub fn run(catalog: &MemCatalog, query: &str) -> Vec<QueryResult> {
    let engine = Engine::new(Arc::new(catalog.clone())).expect("engine");
    match engine.query_blocking(query, &QueryOptions { now: Some(NOW) }) {
        Ok(r) => r,
        Err(e) => panic!("{e}: {:#?}", e.diagnostics()),
    }
}

/// The rows of the (last) result as text cells, sorted.
pub fn rows(results: &[QueryResult]) -> Vec<Vec<String>> {
    let mut rows = results.last().expect("a result").text_rows().expect("rows");
    rows.sort();
    rows
}

/// The rows of the (last) result in result order.
pub fn ordered_rows(results: &[QueryResult]) -> Vec<Vec<String>> {
    results.last().expect("a result").text_rows().expect("rows")
}

pub fn columns(results: &[QueryResult]) -> Vec<String> {
    results
        .last()
        .expect("a result")
        .columns
        .iter()
        .map(|(n, _)| n.clone())
        .collect()
}

/// Runs a self-contained query (no tables).
pub fn eval(query: &str) -> Vec<QueryResult> {
    run(&MemCatalog::new(), query)
}

/// The error diagnostics of a query that must fail to plan.
pub fn errors(catalog: &MemCatalog, query: &str) -> Vec<(String, String)> {
    let engine = Engine::new(Arc::new(catalog.clone())).expect("engine");
    match engine.plan(query, &QueryOptions { now: Some(NOW) }) {
        Ok(_) => panic!("expected the query to be rejected: {query}"),
        Err(e) => e
            .diagnostics()
            .iter()
            .filter(|d| d.is_error())
            .map(|d| (d.code.clone(), d.message.clone()))
            .collect(),
    }
}
