//! The aggregates of `summarize`, lowered to DataFusion aggregate expressions: built-in
//! aggregates where their semantics are Kusto's (`count`, `sum`, `avg`, `min`, `max`,
//! `stdev`, `variance`, `dcount` (exact), `binary_all_*`), the `*if` forms through
//! DataFusion's `FILTER`, and UDAFs for the rest (`make_set`, `arg_max`, `percentiles`…).
//!
//! # Multi-column aggregates
//!
//! `arg_max`, `arg_min`, `percentiles`, `percentilesw` and `take_any` with several
//! arguments produce several columns. Their expression returns a struct whose fields are
//! `f0, f1, …`; [`TypedAgg::columns`] names the output columns and gives their types, and
//! [`MultiColumn::expand`] builds the projection that turns the struct into columns.
//! For `arg_max(by, *)` the engine passes the columns `*` stands for explicitly (every
//! input column except `by` itself and the `by` keys of the summarize), in input order.

mod argmax;
mod collect;
pub mod naming;
mod pct;
mod shape;
pub mod valagg;

use crate::api::{Arg, LowerCtx, TypedAgg, TypedExpr};
use crate::error::FnError;
use datafusion::common::ScalarValue;
use datafusion::functions_aggregate::expr_fn as df;
use datafusion::logical_expr::{AggregateUDF, Expr, ExprFunctionExt, cast};
use datafusion::prelude::lit;
use naming::{default_name, expr_column_name, percent_suffix};
use schema::KqlType;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

pub use pct::{
    digest_json as digest_json_of, digest_values, hll_hash, hll_json, hll_values, nearest_rank, sort_weighted,
};

/// The output columns of a multi-column aggregate.
#[derive(Debug, Clone, PartialEq)]
pub struct MultiColumn {
    /// Output column names, one per struct field `f0, f1, …`.
    pub names: Vec<String>,
    pub types: Vec<KqlType>,
}

impl MultiColumn {
    /// The expressions that take the columns out of the aggregate's struct output
    /// (`agg` is a reference to the aggregate's output column), each aliased to its name.
    pub fn expand(&self, agg: Expr) -> Vec<TypedExpr> {
        self.names
            .iter()
            .zip(&self.types)
            .enumerate()
            .map(|(i, (name, ty))| {
                let e = datafusion::functions::core::expr_fn::get_field(agg.clone(), format!("f{i}"));
                TypedExpr::new(e.alias(name), *ty)
            })
            .collect()
    }
}

struct AggCall<'a> {
    name: &'a str,
    args: Vec<TypedExpr>,
}

type AggLower = fn(&AggCall) -> Result<TypedAgg, FnError>;

struct AggDef {
    name: &'static str,
    min: usize,
    max: usize,
    lower: AggLower,
}

const MANY: usize = 64;

const fn agg_def(name: &'static str, min: usize, max: usize, lower: AggLower) -> AggDef {
    AggDef { name, min, max, lower }
}

static AGGS: &[AggDef] = &[
    agg_def("count", 0, 1, lower_count),
    agg_def("countif", 1, 1, lower_countif),
    agg_def("dcount", 1, 2, lower_dcount),
    agg_def("dcountif", 2, 3, lower_dcountif),
    agg_def("count_distinct", 1, 1, lower_dcount),
    agg_def("count_distinctif", 2, 2, lower_dcountif),
    agg_def("sum", 1, 1, lower_sum),
    agg_def("sumif", 2, 2, lower_sum),
    agg_def("avg", 1, 1, lower_avg),
    agg_def("avgif", 2, 2, lower_avg),
    agg_def("min", 1, 1, lower_minmax),
    agg_def("max", 1, 1, lower_minmax),
    agg_def("minif", 2, 2, lower_minmax),
    agg_def("maxif", 2, 2, lower_minmax),
    agg_def("stdev", 1, 1, lower_stat),
    agg_def("stdevif", 2, 2, lower_stat),
    agg_def("stdevp", 1, 1, lower_stat),
    agg_def("variance", 1, 1, lower_stat),
    agg_def("varianceif", 2, 2, lower_stat),
    agg_def("variancep", 1, 1, lower_stat),
    agg_def("binary_all_and", 1, 1, lower_bits),
    agg_def("binary_all_or", 1, 1, lower_bits),
    agg_def("binary_all_xor", 1, 1, lower_bits),
    agg_def("make_set", 1, 2, lower_collect),
    agg_def("make_set_if", 2, 3, lower_collect),
    agg_def("makeset", 1, 2, lower_collect),
    agg_def("make_list", 1, 2, lower_collect),
    agg_def("make_list_if", 2, 3, lower_collect),
    agg_def("makelist", 1, 2, lower_collect),
    agg_def("make_list_with_nulls", 1, 2, lower_collect),
    agg_def("make_bag", 1, 2, lower_collect),
    agg_def("make_bag_if", 2, 3, lower_collect),
    agg_def("take_any", 1, MANY, lower_take_any),
    agg_def("any", 1, MANY, lower_take_any),
    agg_def("take_anyif", 2, 2, lower_take_any),
    agg_def("anyif", 2, 2, lower_take_any),
    agg_def("arg_max", 1, MANY, lower_arg),
    agg_def("arg_min", 1, MANY, lower_arg),
    agg_def("percentile", 2, 2, lower_percentile),
    agg_def("percentiles", 2, MANY, lower_percentile),
    agg_def("percentiles_array", 2, MANY, lower_percentile),
    agg_def("percentilew", 3, 3, lower_percentile),
    agg_def("percentilesw", 3, MANY, lower_percentile),
    agg_def("percentilesw_array", 3, MANY, lower_percentile),
    agg_def("tdigest", 1, 2, lower_sketch),
    agg_def("tdigest_merge", 1, 1, lower_sketch),
    agg_def("merge_tdigest", 1, 1, lower_sketch),
    agg_def("hll", 1, 2, lower_sketch),
    agg_def("hll_if", 2, 3, lower_sketch),
    agg_def("hll_merge", 1, 1, lower_sketch),
    agg_def("covariance", 2, 2, lower_covariance),
    agg_def("covarianceif", 3, 3, lower_covariance),
    agg_def("covariancep", 2, 2, lower_covariance),
    agg_def("covariancepif", 3, 3, lower_covariance),
    agg_def("variancepif", 2, 2, lower_stat),
    agg_def("stdevpif", 2, 2, lower_stat),
    agg_def("buildschema", 1, 1, lower_buildschema),
];

/// Every aggregate function name, sorted.
pub fn aggregate_function_names() -> Vec<&'static str> {
    let mut v: Vec<_> = AGGS.iter().map(|d| d.name).collect();
    v.sort_unstable();
    v
}

/// True when `name` is an aggregate function (the analyzer uses it to tell `summarize`
/// aggregates from scalar calls).
pub fn is_aggregate(name: &str) -> bool {
    AGGS.iter().any(|d| d.name == name)
}

/// The UDAFs of the library, by DataFusion name.
pub fn udafs() -> &'static HashMap<String, Arc<AggregateUDF>> {
    static MAP: OnceLock<HashMap<String, Arc<AggregateUDF>>> = OnceLock::new();
    MAP.get_or_init(|| {
        let mut map = HashMap::new();
        for u in collect::udafs()
            .into_iter()
            .chain(argmax::udafs())
            .chain(pct::udafs())
            .chain(shape::udafs())
        {
            map.insert(u.name().to_string(), Arc::new(u));
        }
        map
    })
}

fn udaf(name: &str) -> Result<Arc<AggregateUDF>, FnError> {
    udafs()
        .get(name)
        .cloned()
        .ok_or_else(|| FnError::Internal(format!("UDAF {name} is not registered")))
}

/// Lowers an aggregate call of `summarize` (positional arguments; Kusto's aggregates take
/// no named arguments).
pub fn lower_aggregate(name: &str, args: Vec<Arg>, _ctx: &LowerCtx) -> Result<TypedAgg, FnError> {
    let def = AGGS
        .iter()
        .find(|d| d.name == name)
        .ok_or_else(|| FnError::UnknownAggregate(name.to_string()))?;
    if args.iter().any(|a| a.name.is_some()) {
        return Err(FnError::invalid(
            name,
            "Named arguments are not supported for this function.",
        ));
    }
    if args.len() < def.min || args.len() > def.max {
        return Err(FnError::arg_count(
            name,
            def.min,
            if def.max == MANY { usize::MAX } else { def.max },
        ));
    }
    (def.lower)(&AggCall {
        name: def.name,
        args: args.into_iter().map(|a| a.value).collect(),
    })
}

fn agg(expr: Expr, ty: KqlType, default_name: String) -> TypedAgg {
    TypedAgg {
        expr,
        ty,
        default_name,
        columns: None,
    }
}

fn filtered(e: Expr, pred: Option<&TypedExpr>) -> Result<Expr, FnError> {
    match pred {
        None => Ok(e),
        Some(p) => Ok(e.filter(bool_expr(p)?).build()?),
    }
}

fn bool_expr(p: &TypedExpr) -> Result<Expr, FnError> {
    match p.ty {
        KqlType::Bool => Ok(p.expr.clone()),
        KqlType::Dynamic => Ok(crate::catalog::call_row("tobool", vec![p.clone()])?.expr),
        other => Err(FnError::ArgType {
            name: "predicate".into(),
            position: 2,
            expected: "bool".into(),
            actual: other,
        }),
    }
}

fn arg0<'a>(c: &'a AggCall) -> Result<&'a TypedExpr, FnError> {
    c.args.first().ok_or_else(|| FnError::arg_count(c.name, 1, 1))
}

fn lower_count(c: &AggCall) -> Result<TypedAgg, FnError> {
    match c.args.first() {
        None => Ok(agg(df::count(lit(1i64)), KqlType::Long, "count_".into())),
        Some(x) => Ok(agg(
            df::count(x.expr.clone()),
            KqlType::Long,
            default_name("count", Some(&x.expr)),
        )),
    }
}

fn lower_countif(c: &AggCall) -> Result<TypedAgg, FnError> {
    let e = filtered(df::count(lit(1i64)), c.args.first())?;
    Ok(agg(e, KqlType::Long, "countif_".into()))
}

fn lower_dcount(c: &AggCall) -> Result<TypedAgg, FnError> {
    let x = arg0(c)?;
    Ok(agg(
        df::count_distinct(x.expr.clone()),
        KqlType::Long,
        default_name(c.name, Some(&x.expr)),
    ))
}

fn lower_dcountif(c: &AggCall) -> Result<TypedAgg, FnError> {
    let x = arg0(c)?;
    let e = filtered(df::count_distinct(x.expr.clone()), c.args.get(1))?;
    Ok(agg(e, KqlType::Long, default_name(c.name, Some(&x.expr))))
}

fn numeric_or_err(c: &AggCall, x: &TypedExpr, also: &[KqlType]) -> Result<(), FnError> {
    if x.ty.is_numeric() || also.contains(&x.ty) {
        Ok(())
    } else {
        Err(FnError::ArgType {
            name: c.name.into(),
            position: 1,
            expected: "number".into(),
            actual: x.ty,
        })
    }
}

fn lower_sum(c: &AggCall) -> Result<TypedAgg, FnError> {
    let x = arg0(c)?;
    let name = default_name(c.name, Some(&x.expr));
    let pred = c.args.get(1);
    match x.ty {
        KqlType::Int | KqlType::Long => Ok(agg(
            filtered(df::sum(cast(x.expr.clone(), KqlType::Long.to_arrow())), pred)?,
            KqlType::Long,
            name,
        )),
        KqlType::Real | KqlType::Decimal => Ok(agg(filtered(df::sum(x.expr.clone()), pred)?, x.ty, name)),
        KqlType::Dynamic => Ok(agg(
            filtered(df::sum(crate::catalog::call_row("toreal", vec![x.clone()])?.expr), pred)?,
            KqlType::Real,
            name,
        )),
        KqlType::TimeSpan => Err(FnError::Unsupported("sum() of timespan values".into())),
        other => Err(FnError::ArgType {
            name: c.name.into(),
            position: 1,
            expected: "number".into(),
            actual: other,
        }),
    }
}

fn lower_avg(c: &AggCall) -> Result<TypedAgg, FnError> {
    let x = arg0(c)?;
    numeric_or_err(c, x, &[KqlType::Dynamic])?;
    let name = default_name(c.name, Some(&x.expr));
    let input = match x.ty {
        KqlType::Decimal => x.expr.clone(),
        KqlType::Dynamic => crate::catalog::call_row("toreal", vec![x.clone()])?.expr,
        _ => cast(x.expr.clone(), KqlType::Real.to_arrow()),
    };
    let ty = if x.ty == KqlType::Decimal {
        KqlType::Decimal
    } else {
        KqlType::Real
    };
    Ok(agg(filtered(df::avg(input), c.args.get(1))?, ty, name))
}

fn lower_minmax(c: &AggCall) -> Result<TypedAgg, FnError> {
    let x = arg0(c)?;
    let name = default_name(c.name, Some(&x.expr));
    let e = if c.name.starts_with("min") {
        df::min(x.expr.clone())
    } else {
        df::max(x.expr.clone())
    };
    Ok(agg(filtered(e, c.args.get(1))?, x.ty, name))
}

fn lower_stat(c: &AggCall) -> Result<TypedAgg, FnError> {
    let x = arg0(c)?;
    numeric_or_err(c, x, &[KqlType::Dynamic])?;
    let input = match x.ty {
        KqlType::Dynamic => crate::catalog::call_row("toreal", vec![x.clone()])?.expr,
        _ => cast(x.expr.clone(), KqlType::Real.to_arrow()),
    };
    let (e, prefix) = match c.name {
        "stdev" | "stdevif" => (df::stddev(input), c.name),
        "stdevp" => (df::stddev_pop(input), "stdevp"),
        "stdevpif" => (df::stddev_pop(input), "stdevpif"),
        "variancepif" => (df::var_pop(input), "variancepif"),
        "variance" | "varianceif" => (df::var_sample(input), c.name),
        // Kusto names variancep's result `variance_x`.
        _ => (df::var_pop(input), "variance"),
    };
    Ok(agg(
        filtered(e, c.args.get(1))?,
        KqlType::Real,
        default_name(prefix, Some(&x.expr)),
    ))
}

fn lower_bits(c: &AggCall) -> Result<TypedAgg, FnError> {
    let x = arg0(c)?;
    if !x.ty.is_integer() {
        return Err(FnError::ArgType {
            name: c.name.into(),
            position: 1,
            expected: "long".into(),
            actual: x.ty,
        });
    }
    let input = cast(x.expr.clone(), KqlType::Long.to_arrow());
    let e = match c.name {
        "binary_all_and" => df::bit_and(input),
        "binary_all_or" => df::bit_or(input),
        _ => df::bit_xor(input),
    };
    Ok(agg(e, KqlType::Long, default_name(c.name, Some(&x.expr))))
}

fn lower_collect(c: &AggCall) -> Result<TypedAgg, FnError> {
    let x = arg0(c)?;
    let is_if = c.name.ends_with("_if");
    let (udaf_name, prefix) = match c.name {
        "make_set" | "make_set_if" | "makeset" => (collect::MAKE_SET, "set"),
        "make_list" | "make_list_if" | "makelist" => (collect::MAKE_LIST, "list"),
        "make_list_with_nulls" => (collect::MAKE_LIST_WITH_NULLS, "list"),
        _ => (collect::MAKE_BAG, "bag"),
    };
    if prefix == "bag" && x.ty != KqlType::Dynamic {
        return Err(FnError::ArgType {
            name: c.name.into(),
            position: 1,
            expected: "dynamic".into(),
            actual: x.ty,
        });
    }
    let max_at = if is_if { 2 } else { 1 };
    let mut args = vec![x.expr.clone()];
    if let Some(m) = c.args.get(max_at) {
        args.push(m.expr.clone());
    }
    let pred = if is_if { c.args.get(1) } else { None };
    let e = filtered(udaf(udaf_name)?.call(args), pred)?;
    Ok(agg(e, KqlType::Dynamic, default_name(prefix, Some(&x.expr))))
}

fn lower_take_any(c: &AggCall) -> Result<TypedAgg, FnError> {
    let is_if = c.name.ends_with("if");
    let values: Vec<&TypedExpr> = if is_if {
        c.args.iter().take(1).collect()
    } else {
        c.args.iter().collect()
    };
    let pred = if is_if { c.args.get(1) } else { None };
    let e = filtered(
        udaf(collect::TAKE_ANY)?.call(values.iter().map(|v| v.expr.clone()).collect()),
        pred,
    )?;
    let prefix = c.name.trim_end_matches("if");
    if let [one] = values.as_slice() {
        return Ok(agg(e, one.ty, default_name(prefix, Some(&one.expr))));
    }
    let names = values
        .iter()
        .map(|v| expr_column_name(&v.expr).unwrap_or_else(|| default_name(prefix, None)))
        .collect();
    let types = values.iter().map(|v| v.ty).collect();
    Ok(TypedAgg {
        expr: e,
        ty: KqlType::Dynamic,
        default_name: prefix.to_string(),
        columns: Some(MultiColumn { names, types }),
    })
}

fn lower_arg(c: &AggCall) -> Result<TypedAgg, FnError> {
    let by = arg0(c)?;
    let udaf_name = if c.name == "arg_max" {
        argmax::ARG_MAX
    } else {
        argmax::ARG_MIN
    };
    let e = udaf(udaf_name)?.call(c.args.iter().map(|a| a.expr.clone()).collect());
    let prefix = if c.name == "arg_max" { "max" } else { "min" };
    let mut names = vec![match &by.expr {
        Expr::Column(col) => col.name.clone(),
        other => default_name(prefix, Some(other)),
    }];
    for (i, a) in c.args.iter().enumerate().skip(1) {
        names.push(expr_column_name(&a.expr).unwrap_or_else(|| format!("{prefix}_arg{i}")));
    }
    let types = c.args.iter().map(|a| a.ty).collect();
    Ok(TypedAgg {
        expr: e,
        ty: by.ty,
        default_name: names.first().cloned().unwrap_or_default(),
        columns: Some(MultiColumn { names, types }),
    })
}

/// The constant percentiles of arguments `from..` (numbers, or a dynamic array of them).
fn constant_percents(c: &AggCall, from: usize) -> Result<Vec<f64>, FnError> {
    let mut out = Vec::new();
    for (i, a) in c.args.iter().enumerate().skip(from) {
        let v = a.as_literal().ok_or_else(|| FnError::NotConstant {
            name: c.name.into(),
            position: i + 1,
            what: "number".into(),
        })?;
        match crate::val::scalar_val(v)? {
            crate::val::Val::Dyn(serde_json::Value::Array(items)) => {
                out.extend(items.iter().filter_map(serde_json::Value::as_f64))
            }
            other => out.push(
                other
                    .as_f64()
                    .ok_or_else(|| FnError::invalid(c.name, "a percentile must be a number"))?,
            ),
        }
    }
    if let Some(bad) = out.iter().find(|p| !(0.0..=100.0).contains(*p)) {
        return Err(FnError::invalid(
            c.name,
            format!("percentile {bad} is out of the range [0, 100]"),
        ));
    }
    Ok(out)
}

fn lower_percentile(c: &AggCall) -> Result<TypedAgg, FnError> {
    let x = arg0(c)?;
    let weighted = c.name.starts_with("percentilew") || c.name.starts_with("percentilesw");
    let from = if weighted { 2 } else { 1 };
    let percents = constant_percents(c, from)?;
    let mut args = vec![x.expr.clone()];
    if weighted {
        args.push(c.args.get(1).map(|w| w.expr.clone()).unwrap_or_else(|| lit(1i64)));
    }
    // Percentiles are passed one per argument so that the struct has one field each.
    args.extend(percents.iter().map(|p| lit(ScalarValue::Float64(Some(*p)))));
    let col = expr_column_name(&x.expr).unwrap_or_default();
    // Weighted percentiles are named like unweighted ones (`percentile_x_50`).
    let base = "percentile";
    let ret = match x.ty {
        KqlType::Int | KqlType::Long | KqlType::Real | KqlType::Decimal | KqlType::DateTime | KqlType::TimeSpan => x.ty,
        other => {
            return Err(FnError::ArgType {
                name: c.name.into(),
                position: 1,
                expected: "number, datetime or timespan".into(),
                actual: other,
            });
        }
    };
    match c.name {
        "percentile" | "percentilew" => {
            let e = udaf(if weighted { pct::PERCENTILEW } else { pct::PERCENTILE })?.call(args);
            let p = percents.first().copied().unwrap_or(50.0);
            Ok(agg(e, ret, format!("{base}_{col}_{}", percent_suffix(p))))
        }
        "percentiles" | "percentilesw" => {
            let e = udaf(if weighted { pct::PERCENTILESW } else { pct::PERCENTILES })?.call(args);
            let names = percents
                .iter()
                .map(|p| format!("{base}_{col}_{}", percent_suffix(*p)))
                .collect::<Vec<_>>();
            let types = vec![ret; names.len()];
            Ok(TypedAgg {
                expr: e,
                ty: ret,
                default_name: names.first().cloned().unwrap_or_default(),
                columns: Some(MultiColumn { names, types }),
            })
        }
        _ => {
            let e = udaf(if weighted {
                pct::PERCENTILESW_ARRAY
            } else {
                pct::PERCENTILES_ARRAY
            })?
            .call(args);
            // `percentiles_array` names its column `percentiles_x`, the weighted form
            // `percentile_x` (both as the reference shows).
            let name = if weighted {
                format!("percentile_{col}")
            } else {
                format!("percentiles_{col}")
            };
            Ok(agg(e, KqlType::Dynamic, name))
        }
    }
}

fn lower_sketch(c: &AggCall) -> Result<TypedAgg, FnError> {
    let x = arg0(c)?;
    let name = default_name(c.name, Some(&x.expr));
    let e = match c.name {
        "tdigest" => {
            let mut args = vec![x.expr.clone()];
            args.push(c.args.get(1).map(|w| w.expr.clone()).unwrap_or_else(|| lit(1i64)));
            udaf(pct::TDIGEST)?.call(args)
        }
        "tdigest_merge" | "merge_tdigest" => udaf(pct::TDIGEST_MERGE)?.call(vec![x.expr.clone()]),
        "hll" => udaf(pct::HLL)?.call(vec![x.expr.clone()]),
        "hll_if" => filtered(udaf(pct::HLL)?.call(vec![x.expr.clone()]), c.args.get(1))?,
        _ => udaf(pct::HLL_MERGE)?.call(vec![x.expr.clone()]),
    };
    Ok(agg(e, KqlType::Dynamic, name))
}

fn lower_covariance(c: &AggCall) -> Result<TypedAgg, FnError> {
    let (Some(x), Some(y)) = (c.args.first(), c.args.get(1)) else {
        return Err(FnError::arg_count(c.name, 2, 2));
    };
    let mut inputs = Vec::new();
    for (i, a) in [x, y].into_iter().enumerate() {
        if !(a.ty.is_numeric() || a.ty == KqlType::Dynamic) {
            return Err(FnError::ArgType {
                name: c.name.into(),
                position: i + 1,
                expected: "number".into(),
                actual: a.ty,
            });
        }
        inputs.push(if a.ty == KqlType::Dynamic {
            crate::catalog::call_row("toreal", vec![a.clone()])?.expr
        } else {
            cast(a.expr.clone(), KqlType::Real.to_arrow())
        });
    }
    let (ix, iy) = (inputs[0].clone(), inputs[1].clone());
    let population = c.name.starts_with("covariancep");
    let e = if population {
        df::covar_pop(ix, iy)
    } else {
        df::covar_samp(ix, iy)
    };
    let prefix = c.name;
    let name = format!(
        "{prefix}_{}_{}",
        expr_column_name(&x.expr).unwrap_or_default(),
        expr_column_name(&y.expr).unwrap_or_default()
    );
    Ok(agg(filtered(e, c.args.get(2))?, KqlType::Real, name))
}

fn lower_buildschema(c: &AggCall) -> Result<TypedAgg, FnError> {
    let x = arg0(c)?;
    let e = udaf(shape::BUILDSCHEMA)?.call(vec![x.expr.clone()]);
    Ok(agg(e, KqlType::Dynamic, default_name("schema", Some(&x.expr))))
}

#[cfg(test)]
mod tests;
