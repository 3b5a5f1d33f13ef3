//! The KQL function and operator library: Kusto's scalar functions, operators and
//! aggregates as DataFusion expressions, UDFs and UDAFs, typed by KQL types.
//!
//! The engine lowers every scalar expression of a query through this crate:
//!
//! * [`lower_call`] — a scalar function call by its KQL name (`strlen`, `iff`, `now`…);
//! * [`lower_binary`] — a binary operator (`+`, `==`, `has`, `!contains_cs`, `and`…);
//! * [`lower_in`], [`lower_between`], [`lower_not`], [`lower_neg`];
//! * [`lower_member`], [`lower_index`] — `d.a`, `d['k']`, `d[0]` on dynamic values;
//! * [`lower_aggregate`] — a `summarize` aggregate (`count()`, `make_set(x)`…);
//! * [`coerce::unify`] / [`coerce::convert`] — Kusto's implicit conversions;
//! * [`render`] — printing result cells as Kusto prints them.
//!
//! Every UDF must be registered with the DataFusion session that runs the plans
//! ([`register_all`]). See `docs/functions.md` for the contract and the semantics.

pub mod aggregate;
pub mod api;
pub mod catalog;
pub mod coerce;
pub mod error;
pub mod kernels;
pub mod lit;
pub mod ops;
pub mod render;
pub mod scalar;
pub mod terms;
pub mod udf;
pub mod val;

/// Evaluation helpers for tests (the engine's tests can enable them with the `testkit`
/// feature).
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;

pub use aggregate::{aggregate_function_names, lower_aggregate};
pub use api::{Arg, LowerCtx, TypedAgg, TypedExpr};
pub use catalog::{Expansion, expansion, lower_call, scalar_function_names};
pub use error::FnError;
pub use kernels::{
    MultiNeedleKind, multi_match_tests, multi_match_udf, multi_needle_of, multi_needle_texts, str_pred_of,
    takes_dictionary_haystack,
};
pub use ops::{
    BINARY_OPERATORS, fold_negated_string_tests, fold_string_tests, lower_between, lower_binary, lower_in, lower_index,
    lower_member, lower_neg, lower_not,
};
pub use render::{format_real, render_cell, render_json};
pub use terms::{MultiMatcher, StrOp};

use datafusion::execution::FunctionRegistry;

/// Registers every UDF and UDAF of the library with a DataFusion registry (a
/// `SessionContext` or `SessionState`), so that plans built by the engine execute (and
/// serialize by name, for distributed execution).
pub fn register_all(registry: &mut dyn FunctionRegistry) -> datafusion::common::Result<()> {
    for udf in catalog::udfs().values() {
        registry.register_udf(udf.clone())?;
    }
    for udaf in aggregate::udafs().values() {
        registry.register_udaf(udaf.clone())?;
    }
    Ok(())
}
