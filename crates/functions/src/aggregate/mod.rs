//! Aggregates of `summarize`.

use crate::api::{Arg, LowerCtx, TypedAgg};
use crate::error::FnError;
use datafusion::logical_expr::AggregateUDF;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// Columns of a multi-column aggregate (see the crate docs).
#[derive(Debug, Clone, PartialEq)]
pub struct MultiColumn {
    pub names: Vec<String>,
}

pub fn aggregate_function_names() -> Vec<&'static str> {
    Vec::new()
}

pub fn udafs() -> &'static HashMap<String, Arc<AggregateUDF>> {
    static MAP: OnceLock<HashMap<String, Arc<AggregateUDF>>> = OnceLock::new();
    MAP.get_or_init(HashMap::new)
}

pub fn lower_aggregate(name: &str, _args: Vec<Arg>, _ctx: &LowerCtx) -> Result<TypedAgg, FnError> {
    Err(FnError::UnknownAggregate(name.to_string()))
}
