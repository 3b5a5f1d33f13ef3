//! The query engine: semantic analysis of KQL, its lowering to DataFusion logical plans,
//! execution, and Kusto-style results. See `docs/engine.md`.
//!
//! Entry points:
//! * [`Engine`] — plan and run queries over a [`TableCatalog`];
//! * [`validate`] / [`validate_ast`] — check a query against table schemas without data
//!   (e.g. over [`SchemaCatalog::builtin`]);
//! * [`QueryResult`] — result tables, printable as a table, JSON or CSV;
//! * [`conformance`] — the runner for KQL reference examples with expected output.

pub mod catalog;
pub mod conformance;
pub mod diag;
mod exec;
pub mod literal;
pub mod memory;
pub mod naming;
pub mod planner;
pub mod result;
mod udf;

pub use catalog::{CatalogTable, MemCatalog, SchemaCatalog, TableCatalog};
pub use exec::{
    Engine, OptimizedQuery, PLANNER_STACK, PlannedQuery, QueryError, QueryOptions, base_session_config, new_session,
    new_session_with, prune_columns, validate, validate_ast,
};
pub use memory::{EngineConfig, default_memory_limit, parse_byte_size};
pub use planner::PlannedResult;
pub use result::QueryResult;
