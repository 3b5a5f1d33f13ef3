//! `make-series`, `top-nested`, `top-hitters`.

use super::Planner;
use super::env::Env;
use super::expr::{AggCollector, Scope};
use super::tab::{Col, Tab, col};
use super::union::param_text;
use crate::diag::{self, PResult, Reported};
use crate::naming;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Column, JoinType, ScalarValue, TableReference};
use datafusion::logical_expr::{Expr, ExprFunctionExt, LogicalPlanBuilder, SortExpr, cast, lit};
use functions::{Arg, TypedExpr};
use kql::ast::{self, MakeSeriesRange};
use kql::{Diagnostic, Span};
use schema::KqlType;
use serde_json::Value as Json;

/// The most bins a series may have.
const MAX_BINS: i64 = 1_000_000;

/// A `make-series` axis value as an `i64` (nanoseconds for datetime/timespan) or `f64`.
#[derive(Clone, Copy, Debug)]
enum AxisValue {
    Int(i64),
    Real(f64),
}

fn axis_value(v: &ScalarValue) -> Option<AxisValue> {
    Some(match v {
        ScalarValue::TimestampNanosecond(Some(n), _) | ScalarValue::DurationNanosecond(Some(n)) => AxisValue::Int(*n),
        ScalarValue::Int64(Some(n)) => AxisValue::Int(*n),
        ScalarValue::Int32(Some(n)) => AxisValue::Int(i64::from(*n)),
        ScalarValue::Float64(Some(f)) => AxisValue::Real(*f),
        ScalarValue::Decimal128(Some(d), _, s) => AxisValue::Real(*d as f64 / 10f64.powi(i32::from(*s))),
        _ => return None,
    })
}

impl AxisValue {
    fn as_f64(self) -> f64 {
        match self {
            AxisValue::Int(n) => n as f64,
            AxisValue::Real(f) => f,
        }
    }
}

/// The JSON of one value of a KQL type (for defaults and the axis of a series).
fn json_of(v: &ScalarValue, ty: KqlType) -> Json {
    match v.to_array() {
        Ok(arr) => functions::render_json(arr.as_ref(), 0, ty).unwrap_or(Json::Null),
        Err(_) => Json::Null,
    }
}

impl Planner<'_> {
    /// `make-series [kind=nonempty] agg [default=v], … on axis from a to b step s [by keys]`
    pub(super) fn plan_make_series(&mut self, t: Tab, ms: &ast::MakeSeriesOp, env: &Env) -> PResult<Tab> {
        let op = "make-series";
        let nonempty = ms
            .params
            .iter()
            .any(|p| p.name.name.eq_ignore_ascii_case("kind") && param_text(p).as_deref() == Some("nonempty"));
        // Axis.
        let axis = {
            let mut sc = Scope::new(env, Some(&t.cols), op);
            self.lower_scalar(&ms.on, &mut sc)?
        };
        let axis_name = naming::expression_name(&ms.on).unwrap_or_else(|| "Axis".to_string());
        if !(axis.ty.is_numeric() || matches!(axis.ty, KqlType::DateTime | KqlType::TimeSpan)) {
            return Err(self.report(diag::expected_type("datetime, timespan or number", ms.on.span)));
        }
        let (from, to, step, step_span) = match &ms.range {
            MakeSeriesRange::FromToStep { from, to, step } => (from.as_ref(), to.as_ref(), step, step.span),
            MakeSeriesRange::InRange { start, stop, step } => (Some(start), Some(stop), step, step.span),
        };
        let step = self.const_value(step, env, op)?.0;
        let from = match from {
            Some(e) => Some(self.const_value(e, env, op)?.0),
            None => None,
        };
        let to = match to {
            Some(e) => Some(self.const_value(e, env, op)?.0),
            None => None,
        };
        let Some(step_v) = axis_value(&step) else {
            return Err(self.report(Diagnostic::error(
                "QE016",
                "make-series: the step must be a constant",
                step_span,
            )));
        };
        if step_v.as_f64() <= 0.0 {
            return Err(self.report(Diagnostic::error(
                "QE016",
                "make-series: the step must be positive",
                step_span,
            )));
        }
        // Missing bounds come from the data: the first bin of the smallest value, and just past
        // the largest.
        let (from_v, to_v) = match (from.as_ref().and_then(axis_value), to.as_ref().and_then(axis_value)) {
            (Some(f), Some(t)) => (Some(f), Some(t)),
            (given_from, given_to) => {
                let (min, max) = self.axis_bounds(&t, &axis, ms.span)?;
                let f = given_from.or_else(|| min.map(|m| bin_down(m, step_v)));
                let to = given_to.or_else(|| max.map(|m| add(bin_down(m, step_v), step_v)));
                (f, to)
            }
        };
        let bins = match (from_v, to_v) {
            (Some(f), Some(t)) => {
                let n = ((t.as_f64() - f.as_f64()) / step_v.as_f64()).ceil();
                if n > MAX_BINS as f64 {
                    return Err(self.report(Diagnostic::error(
                        "QE016",
                        format!("make-series: {n} bins is more than the {MAX_BINS} supported"),
                        step_span,
                    )));
                }
                n.max(0.0) as i64
            }
            _ => 0,
        };
        let from_v = from_v.unwrap_or(AxisValue::Int(0));

        // Keys.
        let mut keys: Vec<(Expr, Col)> = Vec::new();
        let mut failed = false;
        for item in &ms.by {
            match self.group_key(&t, item, env, op, &keys) {
                Ok(k) => keys.push(k),
                Err(_) => failed = true,
            }
        }
        // Aggregates.
        let mut collector = AggCollector {
            by_names: keys.iter().map(|(_, c)| c.name.clone()).collect(),
            ..Default::default()
        };
        let mut values: Vec<(String, TypedExpr, Json)> = Vec::new();
        for a in &ms.aggregates {
            let before = collector.items.len();
            let v = {
                let mut sc = Scope::new(env, Some(&t.cols), op);
                sc.aggs = Some(&mut collector);
                self.lower_scalar(&a.item.expr, &mut sc)
            };
            let Ok(v) = v else {
                failed = true;
                continue;
            };
            // An item without an aggregate must be a constant: its value in every bin with rows.
            if collector.items.len() == before && super::contains_columns(&v.expr) {
                failed = true;
                self.report(Diagnostic::error(
                    "KS144",
                    "make-series: each item must call an aggregate function",
                    a.item.expr.span,
                ));
                continue;
            }
            let name = match &a.item.name {
                Some(ast::Assignee::Single(id)) => id.name.clone(),
                Some(ast::Assignee::Tuple { span, .. }) => {
                    failed = true;
                    self.report(Diagnostic::error(
                        "KS149",
                        "The expression does not have multiple named values.",
                        *span,
                    ));
                    continue;
                }
                None if collector.items.len() == before + 1 => collector.items[before].1.default_name.clone(),
                None => self.default_column_name(&|n: &str| keys.iter().any(|(_, c)| c.name == n)),
            };
            let default = match &a.default {
                Some(d) => match self.const_value(d, env, op) {
                    Ok((v, ty)) => json_of(&v, ty),
                    Err(_) => {
                        failed = true;
                        continue;
                    }
                },
                None => Json::from(0),
            };
            values.push((name, v, default));
        }
        if failed {
            return Err(Reported);
        }

        // 1. Rows within [from, to), with their bin index.
        let axis_i64 = |e: Expr| cast(e, DataType::Int64);
        let (lower, upper, index) = match from_v {
            AxisValue::Int(f) if !matches!(axis.ty, KqlType::Real | KqlType::Decimal) => {
                let step_i = match step_v {
                    AxisValue::Int(s) => s,
                    AxisValue::Real(s) => s as i64,
                };
                let to_i = to_v.map(|t| match t {
                    AxisValue::Int(t) => t,
                    AxisValue::Real(t) => t as i64,
                });
                let a = axis_i64(axis.expr.clone());
                (
                    a.clone().gt_eq(lit(f)),
                    to_i.map(|t| a.clone().lt(lit(t))),
                    (a - lit(f)) / lit(step_i.max(1)),
                )
            }
            _ => {
                let a = cast(axis.expr.clone(), DataType::Float64);
                let f = from_v.as_f64();
                (
                    a.clone().gt_eq(lit(f)),
                    to_v.map(|t| a.clone().lt(lit(t.as_f64()))),
                    cast(
                        datafusion::functions::math::expr_fn::floor((a - lit(f)) / lit(step_v.as_f64())),
                        DataType::Int64,
                    ),
                )
            }
        };
        let filter = match upper {
            Some(u) => lower.and(u),
            None => lower,
        };
        let idx = self.hidden("bin");
        let count = self.hidden("rows");
        let build = |this: &mut Self| -> datafusion::common::Result<Tab> {
            let filtered = LogicalPlanBuilder::from(t.plan.clone())
                .filter(filter.clone())?
                .build()?;
            // 2. Aggregates per key and bin.
            let mut groups: Vec<Expr> = keys.iter().map(|(e, c)| e.clone().alias(c.name.clone())).collect();
            groups.push(index.clone().alias(idx.clone()));
            let aggs: Vec<Expr> = collector
                .items
                .iter()
                .map(|(h, a)| a.expr.clone().alias(h.clone()))
                .collect();
            let per_bin = LogicalPlanBuilder::from(filtered).aggregate(groups, aggs)?.build()?;
            // 3. One bag {"bin": value} per key and aggregate, then the dense arrays.
            let mut outer: Vec<Expr> = Vec::new();
            let mut bag_names = Vec::new();
            for (i, (_, v, _)) in values.iter().enumerate() {
                let key = functions::lower_call(
                    "tostring",
                    vec![Arg::positional(TypedExpr::new(col(&idx), KqlType::Long))],
                    &this.ctx,
                )
                .map_err(|e| datafusion::error::DataFusionError::Plan(e.to_string()))?;
                let pair = functions::lower_call(
                    "bag_pack",
                    vec![Arg::positional(key), Arg::positional(v.clone())],
                    &this.ctx,
                )
                .map_err(|e| datafusion::error::DataFusionError::Plan(e.to_string()))?;
                let bag = functions::lower_aggregate("make_bag", vec![Arg::positional(pair)], &this.ctx)
                    .map_err(|e| datafusion::error::DataFusionError::Plan(e.to_string()))?;
                let name = format!("{idx}_bag{i}");
                outer.push(bag.expr.alias(name.clone()));
                bag_names.push(name);
            }
            outer.push(datafusion::functions_aggregate::count::count_all().alias(count.clone()));
            let key_cols: Vec<Expr> = keys.iter().map(|(_, c)| col(&c.name)).collect();
            let mut plan = LogicalPlanBuilder::from(per_bin).aggregate(key_cols, outer)?.build()?;
            if !nonempty {
                plan = LogicalPlanBuilder::from(plan)
                    .filter(col(&count).gt(lit(0i64)))?
                    .build()?;
            }
            // 4. Keys, series, axis.
            let mut items: Vec<(Expr, Col)> = keys.iter().map(|(_, c)| (col(&c.name), c.clone())).collect();
            for ((name, _, default), bag) in values.iter().zip(&bag_names) {
                let e = crate::udf::series().call(vec![col(bag), lit(bins), lit(default.to_string())]);
                items.push((e, Col::new(name.clone(), KqlType::Dynamic)));
            }
            let axis_json: Vec<Json> = (0..bins).map(|k| axis_json_value(from_v, step_v, k, axis.ty)).collect();
            items.push((
                Expr::Literal(crate::literal::dynamic_scalar(&Json::Array(axis_json)), None),
                Col::new(axis_name.clone(), KqlType::Dynamic),
            ));
            Tab::new(plan, Vec::new()).project(items)
        };
        build(self).map_err(|e| self.internal(op, e, ms.span))
    }

    /// The smallest and largest axis values of the input (run now; unknown in validation).
    fn axis_bounds(
        &mut self,
        t: &Tab,
        axis: &TypedExpr,
        span: Span,
    ) -> PResult<(Option<AxisValue>, Option<AxisValue>)> {
        let Some(exec) = self.exec else { return Ok((None, None)) };
        let min = datafusion::functions_aggregate::min_max::min(axis.expr.clone()).alias("lo");
        let max = datafusion::functions_aggregate::min_max::max(axis.expr.clone()).alias("hi");
        let plan = match LogicalPlanBuilder::from(t.plan.clone())
            .aggregate(Vec::<Expr>::new(), vec![min, max])
            .and_then(|b| b.build())
        {
            Ok(p) => p,
            Err(e) => return Err(self.internal("make-series", e, span)),
        };
        let batches = exec
            .collect(plan)
            .map_err(|e| self.report(Diagnostic::error("QE100", e.to_string(), span)))?;
        let Some(b) = batches.iter().find(|b| b.num_rows() > 0) else {
            return Ok((None, None));
        };
        let get = |i: usize| {
            ScalarValue::try_from_array(b.column(i), 0)
                .ok()
                .as_ref()
                .and_then(axis_value)
        };
        Ok((get(0), get(1)))
    }

    /// `top-nested [n] of expr [with others=v] by agg [asc|desc], …`
    pub(super) fn plan_top_nested(&mut self, t: Tab, tn: &ast::TopNestedOp, env: &Env) -> PResult<Tab> {
        let op = "top-nested";
        struct Level {
            key: Col,
            key_expr: Expr,
            agg: Col,
            agg_expr: Expr,
            aggs: Vec<(String, Expr)>,
            limit: Option<usize>,
            asc: bool,
        }
        let mut levels: Vec<Level> = Vec::new();
        for l in &tn.levels {
            if let Some(o) = &l.others {
                return Err(self.report(diag::unsupported("top-nested 'with others'", o.span)));
            }
            let limit = match &l.count {
                Some(c) => Some(self.const_count(c, env, op)?),
                None => None,
            };
            let existing: Vec<(Expr, Col)> = levels.iter().map(|l| (l.key_expr.clone(), l.key.clone())).collect();
            let (key_expr, key) = self.group_key(&t, &l.of, env, op, &existing)?;
            let mut collector = AggCollector::default();
            let v = {
                let mut sc = Scope::new(env, Some(&t.cols), op);
                sc.aggs = Some(&mut collector);
                self.lower_scalar(&l.by.expr, &mut sc)?
            };
            if collector.items.is_empty() {
                return Err(self.report(Diagnostic::error(
                    "KS144",
                    "top-nested: 'by' must be an aggregation",
                    l.by.expr.span,
                )));
            }
            let agg_name = match &l.by.name {
                Some(ast::Assignee::Single(id)) => id.name.clone(),
                _ => format!("aggregated_{}", key.name),
            };
            levels.push(Level {
                key,
                key_expr,
                agg: Col::new(agg_name, v.ty),
                agg_expr: v.expr,
                aggs: collector.items.into_iter().map(|(h, a)| (h, a.expr)).collect(),
                limit,
                asc: matches!(l.order, Some(ast::SortOrder::Asc)),
            });
        }
        let build = |this: &mut Self| -> datafusion::common::Result<Tab> {
            // Each level: aggregate by the keys so far, keep the top rows within the parent,
            // then keep only the children of parents that were kept.
            let mut result: Option<(datafusion::logical_expr::LogicalPlan, Vec<Col>)> = None;
            for (i, level) in levels.iter().enumerate() {
                let keys: Vec<&Level> = levels.iter().take(i + 1).collect();
                let groups: Vec<Expr> = keys
                    .iter()
                    .map(|l| l.key_expr.clone().alias(l.key.name.clone()))
                    .collect();
                let aggs: Vec<Expr> = level.aggs.iter().map(|(h, e)| e.clone().alias(h.clone())).collect();
                let mut plan = LogicalPlanBuilder::from(t.plan.clone())
                    .aggregate(groups, aggs)?
                    .build()?;
                let mut proj: Vec<Expr> = keys.iter().map(|l| col(&l.key.name)).collect();
                proj.push(level.agg_expr.clone().alias(level.agg.name.clone()));
                plan = LogicalPlanBuilder::from(plan).project(proj)?.build()?;
                if let Some(n) = level.limit {
                    let rn = this.hidden("nested_rn");
                    let parents: Vec<Expr> = keys.iter().take(i).map(|l| col(&l.key.name)).collect();
                    let w = datafusion::functions_window::expr_fn::row_number()
                        .partition_by(parents)
                        .order_by(vec![SortExpr::new(col(&level.agg.name), level.asc, level.asc)])
                        .build()?
                        .alias(rn.clone());
                    plan = super::window::window_node(plan, w)?;
                    plan = LogicalPlanBuilder::from(plan)
                        .filter(col(&rn).lt_eq(lit(n as u64)))?
                        .build()?;
                    let mut keep: Vec<Expr> = keys.iter().map(|l| col(&l.key.name)).collect();
                    keep.push(col(&level.agg.name));
                    plan = LogicalPlanBuilder::from(plan).project(keep)?.build()?;
                }
                let mut cols: Vec<Col> = Vec::new();
                result = Some(match result {
                    None => {
                        cols.push(level.key.clone());
                        cols.push(level.agg.clone());
                        (plan, cols)
                    }
                    Some((parent, parent_cols)) => {
                        let (pl, ch) = ("__quarry_parent", "__quarry_child");
                        let side = |s: &str, n: &str| Expr::Column(Column::new(Some(TableReference::bare(s)), n));
                        let left = LogicalPlanBuilder::from(parent).alias(pl)?.build()?;
                        let right = LogicalPlanBuilder::from(plan).alias(ch)?.build()?;
                        let lk: Vec<Expr> = keys.iter().take(i).map(|l| side(pl, &l.key.name)).collect();
                        let rk: Vec<Expr> = keys.iter().take(i).map(|l| side(ch, &l.key.name)).collect();
                        let joined = LogicalPlanBuilder::from(left)
                            .join_with_expr_keys(right, JoinType::Inner, (lk, rk), None)?
                            .build()?;
                        let mut proj: Vec<Expr> = parent_cols
                            .iter()
                            .map(|c| side(pl, &c.name).alias(c.name.clone()))
                            .collect();
                        proj.push(side(ch, &level.key.name).alias(level.key.name.clone()));
                        proj.push(side(ch, &level.agg.name).alias(level.agg.name.clone()));
                        cols = parent_cols;
                        cols.push(level.key.clone());
                        cols.push(level.agg.clone());
                        (LogicalPlanBuilder::from(joined).project(proj)?.build()?, cols)
                    }
                });
            }
            match result {
                Some((plan, cols)) => Ok(Tab::new(plan, cols)),
                None => Err(datafusion::error::DataFusionError::Plan(
                    "top-nested without levels".into(),
                )),
            }
        };
        build(self).map_err(|e| self.internal(op, e, tn.span))
    }

    /// `top-hitters n of expr [by sum_expr]`: the values with the largest counts (or sums),
    /// computed exactly.
    pub(super) fn plan_top_hitters(&mut self, t: Tab, th: &ast::TopHittersOp, env: &Env) -> PResult<Tab> {
        let op = "top-hitters";
        let n = self.const_count(&th.count, env, op)?;
        let item = ast::NamedExpr {
            name: None,
            expr: th.of.clone(),
            span: th.of.span,
        };
        let (key_expr, key) = self.group_key(&t, &item, env, op, &[])?;
        let (agg, name, ty) = match &th.by {
            None => (
                datafusion::functions_aggregate::count::count_all(),
                format!("approximate_count_{}", key.name),
                KqlType::Long,
            ),
            Some(by) => {
                let v = {
                    let mut sc = Scope::new(env, Some(&t.cols), op);
                    self.lower_scalar(by, &mut sc)?
                };
                let sum = functions::lower_aggregate("sum", vec![Arg::positional(v)], &self.ctx)
                    .map_err(|e| self.report(diag::function_error(&e, by.span)))?;
                let name = format!(
                    "approximate_sum_{}",
                    naming::expression_name(by).unwrap_or_else(|| key.name.clone())
                );
                (sum.expr, name, sum.ty)
            }
        };
        let build = || -> datafusion::common::Result<Tab> {
            let plan = LogicalPlanBuilder::from(t.plan.clone())
                .aggregate(
                    vec![key_expr.clone().alias(key.name.clone())],
                    vec![agg.clone().alias(name.clone())],
                )?
                .sort(vec![SortExpr::new(col(&name), false, false)])?
                .limit(0, Some(n))?
                .build()?;
            let mut out = Tab::new(plan, vec![key.clone(), Col::new(name.clone(), ty)]);
            out.serialized = true;
            Ok(out)
        };
        build().map_err(|e| self.internal(op, e, th.span))
    }
}

fn bin_down(v: AxisValue, step: AxisValue) -> AxisValue {
    match (v, step) {
        (AxisValue::Int(x), AxisValue::Int(s)) if s > 0 => AxisValue::Int(x.div_euclid(s) * s),
        _ => {
            let s = step.as_f64();
            AxisValue::Real((v.as_f64() / s).floor() * s)
        }
    }
}

fn add(v: AxisValue, step: AxisValue) -> AxisValue {
    match (v, step) {
        (AxisValue::Int(x), AxisValue::Int(s)) => AxisValue::Int(x.saturating_add(s)),
        _ => AxisValue::Real(v.as_f64() + step.as_f64()),
    }
}

/// The k-th value of a series axis, as it appears in the axis array.
fn axis_json_value(from: AxisValue, step: AxisValue, k: i64, ty: KqlType) -> Json {
    match (ty, from, step) {
        (KqlType::DateTime, AxisValue::Int(f), AxisValue::Int(s)) => Json::String(
            functions::render::datetime_json_text(f.saturating_add(s.saturating_mul(k))),
        ),
        (KqlType::TimeSpan, AxisValue::Int(f), AxisValue::Int(s)) => {
            Json::String(schema::values::format_timespan(f.saturating_add(s.saturating_mul(k))))
        }
        (KqlType::Int | KqlType::Long, AxisValue::Int(f), AxisValue::Int(s)) => {
            Json::from(f.saturating_add(s.saturating_mul(k)))
        }
        _ => functions::val::real_to_json(from.as_f64() + step.as_f64() * k as f64),
    }
}
