//! The conformance runner: KQL reference examples with their documented output
//! (`{"id","query","columns","rows","ordered"}` per line), run and compared.
//!
//! Each case runs on its own thread with a time limit, so that one runaway query cannot
//! hang a run; a case that overruns is reported as failed and its thread left behind.

pub mod compare;

use crate::exec::{Engine, QueryOptions};
use crate::result::QueryResult;
use compare::Cell;
use serde::{Deserialize, Serialize};
use std::sync::mpsc;
use std::time::Duration;

/// One documented example.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Record {
    pub id: String,
    pub query: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
    #[serde(default)]
    pub ordered: bool,
}

/// Reads a `.jsonl` file of records; a malformed line is an error naming its line.
pub fn parse_records(text: &str) -> Result<Vec<Record>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let r: Record = serde_json::from_str(line).map_err(|e| format!("line {}: {e}", i + 1))?;
        out.push(r);
    }
    Ok(out)
}

/// The outcome of one case.
#[derive(Debug, Clone, Serialize)]
pub struct CaseReport {
    pub id: String,
    pub passed: bool,
    /// Why the case failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A coarse cause: `error` (the query was rejected or failed), `columns`, `rows`,
    /// `timeout`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

impl CaseReport {
    fn pass(id: &str) -> Self {
        CaseReport {
            id: id.to_string(),
            passed: true,
            reason: None,
            kind: None,
        }
    }

    fn fail(id: &str, kind: &str, reason: impl Into<String>) -> Self {
        CaseReport {
            id: id.to_string(),
            passed: false,
            reason: Some(reason.into()),
            kind: Some(kind.to_string()),
        }
    }
}

/// The time limit of one case, unless the caller sets another.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs one record: plans and executes its query and compares the (single) result.
pub fn run_case(engine: &Engine, record: &Record, timeout: Duration) -> CaseReport {
    let (tx, rx) = mpsc::channel();
    let engine = engine.clone();
    let query = record.query.clone();
    let spawned = std::thread::Builder::new()
        .name(format!("case {}", record.id))
        .spawn(move || {
            // A fixed `now()` keeps documented examples deterministic.
            let options = QueryOptions { now: Some(0) };
            let _ = tx.send(engine.query_blocking(&query, &options));
        });
    if let Err(e) = spawned {
        return CaseReport::fail(&record.id, "error", format!("cannot start the case: {e}"));
    }
    let outcome = match rx.recv_timeout(timeout) {
        Ok(o) => o,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            return CaseReport::fail(&record.id, "timeout", format!("timed out after {}s", timeout.as_secs()));
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            return CaseReport::fail(&record.id, "error", "the case panicked");
        }
    };
    match outcome {
        Err(e) => {
            let detail = match e.diagnostics().iter().find(|d| d.is_error()) {
                Some(d) => d.one_line(&record.query),
                None => e.to_string(),
            };
            CaseReport::fail(&record.id, "error", detail)
        }
        Ok(results) => match results.last() {
            None => CaseReport::fail(&record.id, "error", "the query produced no result"),
            Some(r) => match compare_result(record, r) {
                Ok(()) => CaseReport::pass(&record.id),
                Err((kind, reason)) => CaseReport::fail(&record.id, kind, reason),
            },
        },
    }
}

/// Compares a result with a record's documented columns and rows.
pub fn compare_result(record: &Record, r: &QueryResult) -> Result<(), (&'static str, String)> {
    let names: Vec<&str> = r.columns.iter().map(|(n, _)| n.as_str()).collect();
    let expected: Vec<&str> = record.columns.iter().map(|c| c.trim()).collect();
    if names != expected {
        return Err((
            "columns",
            format!("columns differ: expected {expected:?}, got {names:?}"),
        ));
    }
    let texts = r.text_rows().map_err(|e| ("error", format!("rendering failed: {e}")))?;
    let jsons = r.json_rows().map_err(|e| ("error", format!("rendering failed: {e}")))?;
    let actual: Vec<Vec<Cell>> = texts
        .into_iter()
        .zip(jsons)
        .map(|(t, j)| {
            t.into_iter()
                .zip(j)
                .zip(&r.columns)
                .map(|((text, json), (_, ty))| Cell { ty: *ty, text, json })
                .collect()
        })
        .collect();
    compare::rows_match(&record.rows, &actual, record.ordered).map_err(|e| ("rows", e))
}

/// Runs every record.
pub fn run_all(engine: &Engine, records: &[Record], timeout: Duration) -> Vec<CaseReport> {
    records.iter().map(|r| run_case(engine, r, timeout)).collect()
}
