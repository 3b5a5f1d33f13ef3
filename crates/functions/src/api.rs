//! The types of the contract between the engine and this library.

use datafusion::common::ScalarValue;
use datafusion::logical_expr::Expr;
use schema::KqlType;

/// A DataFusion expression together with its KQL type.
///
/// The Arrow type of `expr` is `ty.to_arrow()`, except that strings read from Parquet may be
/// `Utf8View`/`LargeUtf8` and dynamic values `BinaryView`; every function here accepts those.
#[derive(Debug, Clone, PartialEq)]
pub struct TypedExpr {
    pub expr: Expr,
    pub ty: KqlType,
}

impl TypedExpr {
    pub fn new(expr: Expr, ty: KqlType) -> Self {
        TypedExpr { expr, ty }
    }

    /// A literal of the given KQL type. `value` must already have the Arrow type of `ty`
    /// (use the helpers in [`crate::lit`] to build one).
    pub fn literal(value: ScalarValue, ty: KqlType) -> Self {
        TypedExpr {
            expr: Expr::Literal(value, None),
            ty,
        }
    }

    /// The constant value of this expression when it is a literal (possibly under a cast
    /// or alias), as the functions that need constant arguments (formats, units,
    /// percentiles) read it.
    pub fn as_literal(&self) -> Option<&ScalarValue> {
        let mut e = &self.expr;
        loop {
            match e {
                Expr::Literal(v, _) => return Some(v),
                Expr::Alias(a) => e = &a.expr,
                _ => return None,
            }
        }
    }
}

/// One argument of a function call: its value and, for `f(name = value)`, its name.
#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    pub name: Option<String>,
    pub value: TypedExpr,
}

impl Arg {
    pub fn positional(value: TypedExpr) -> Self {
        Arg { name: None, value }
    }

    pub fn named(name: impl Into<String>, value: TypedExpr) -> Self {
        Arg {
            name: Some(name.into()),
            value,
        }
    }
}

impl From<TypedExpr> for Arg {
    fn from(value: TypedExpr) -> Self {
        Arg::positional(value)
    }
}

/// What lowering needs to know about the query being lowered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LowerCtx {
    /// The query's `now()`, in nanoseconds since the Unix epoch (a multiple of 100 ns).
    /// Fixed once per query so that every `now()`/`ago()` in it sees the same instant.
    pub now_nanos: i64,
}

impl LowerCtx {
    pub fn new(now_nanos: i64) -> Self {
        LowerCtx {
            now_nanos: schema::values::truncate_to_tick(now_nanos),
        }
    }

    /// A context whose `now()` is the wall clock at this call.
    pub fn wall_clock() -> Self {
        let nanos = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
        LowerCtx::new(nanos)
    }
}

/// A lowered aggregate call of `summarize`.
#[derive(Debug, Clone, PartialEq)]
pub struct TypedAgg {
    /// An `Expr::AggregateFunction` (possibly with a filter for the `*if` variants).
    pub expr: Expr,
    /// The KQL type of the aggregate's value.
    pub ty: KqlType,
    /// The column name Kusto gives the result when the query does not name it
    /// (`count_`, `sum_x`, `percentile_x_95`, …).
    pub default_name: String,
    /// Set for aggregates that produce several columns (`arg_max`, `arg_min`,
    /// `percentiles`): the expression returns a struct and the engine expands it into
    /// these columns (see [`crate::aggregate::MultiColumn`]).
    pub columns: Option<crate::aggregate::MultiColumn>,
}
