//! `evaluate plugin(…)`: the plugins of the KQL reference that work on the query's own data.
//!
//! Plugins whose output columns depend on the data (`bag_unpack`, `pivot`) look at the data
//! while planning (as Kusto does); in validation (no data) their output is the input minus
//! what they consume, unless the query gives an output schema.

use super::Planner;
use super::env::Env;
use super::expr::Scope;
use super::tab::{Col, Tab, col};
use crate::diag::{self, PResult, Reported};
use crate::naming::unique_name;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Column, JoinType, ScalarValue, TableReference};
use datafusion::logical_expr::{Expr, ExprFunctionExt, LogicalPlan, LogicalPlanBuilder, SortExpr, cast, lit, when};
use functions::{Arg, TypedExpr};
use kql::ast::{self, ExprKind};
use kql::{Diagnostic, Span};
use schema::KqlType;
use serde_json::Value as Json;
use std::collections::BTreeMap;

fn side(s: &str, n: &str) -> Expr {
    Expr::Column(Column::new(Some(TableReference::bare(s)), n))
}

fn df_err(e: functions::FnError) -> datafusion::error::DataFusionError {
    datafusion::error::DataFusionError::Plan(e.to_string())
}

impl Planner<'_> {
    pub(super) fn plan_evaluate(&mut self, e: &ast::EvaluateOp, input: Option<Tab>, env: &Env) -> PResult<Tab> {
        let name = e.plugin.name.name.as_str();
        let Some(t) = input else {
            return Err(self.report(diag::not_first_operator(e.span)));
        };
        let args = &e.plugin.args;
        match name {
            "bag_unpack" => self.plugin_bag_unpack(t, args, e.output_schema.as_ref(), env, e.plugin_span),
            "pivot" => self.plugin_pivot(t, args, env, e.plugin_span),
            "narrow" => self.plugin_narrow(t, e.plugin_span),
            "rolling_percentile" => self.plugin_rolling_percentile(t, args, env, e.plugin_span),
            "active_users_count" => self.plugin_active_users_count(t, args, env, e.plugin_span),
            "activity_counts_metrics" => self.plugin_activity_counts_metrics(t, args, env, e.plugin_span),
            "rows_near" => self.plugin_rows_near(t, args, env, e.plugin_span),
            "ipv4_lookup" => self.plugin_ip_lookup(t, args, env, e.plugin_span, false),
            "ipv6_lookup" => self.plugin_ip_lookup(t, args, env, e.plugin_span, true),
            _ => Err(self.report(diag::unsupported(&format!("The plugin '{name}'"), e.plugin.name.span))),
        }
    }

    /// An argument that must name a column of the input.
    fn column_arg(&mut self, t: &Tab, a: &ast::Arg, op: &'static str) -> PResult<Col> {
        match &a.value.kind {
            ExprKind::Name(id) => match t.column(&id.name) {
                Some(c) => Ok(c.clone()),
                None => Err(self.report(diag::unresolved_column(op, &id.name, id.span))),
            },
            _ => Err(self.report(Diagnostic::error("KS109", "Column name expected.", a.value.span))),
        }
    }

    fn row_arg(&mut self, t: &Tab, a: &ast::Arg, env: &Env, op: &'static str) -> PResult<TypedExpr> {
        let mut sc = Scope::new(env, Some(&t.cols), op);
        self.lower_scalar(&a.value, &mut sc)
    }

    fn arity(&mut self, name: &str, args: &[ast::Arg], min: usize, max: usize, span: Span) -> PResult<()> {
        if args.len() < min || args.len() > max {
            return Err(self.report(Diagnostic::error(
                "KS121",
                format!("The plugin '{name}' expects between {min} and {max} arguments."),
                span,
            )));
        }
        Ok(())
    }

    /// `bag_unpack(column [, prefix] [, columnsConflict] [, ignoredProperties]) [: (schema)]`
    fn plugin_bag_unpack(
        &mut self,
        t: Tab,
        args: &[ast::Arg],
        schema: Option<&ast::TableSchema>,
        env: &Env,
        span: Span,
    ) -> PResult<Tab> {
        let op = "bag_unpack";
        self.arity(op, args, 1, 4, span)?;
        let bag = self.row_arg(&t, &args[0], env, op)?;
        if bag.ty != KqlType::Dynamic {
            return Err(self.report(diag::expected_type("dynamic", args[0].value.span)));
        }
        let bag_column = match &bag.expr {
            Expr::Column(c) => Some(c.name.clone()),
            _ => None,
        };
        let mut prefix = String::new();
        let mut conflict = "error".to_string();
        let mut ignored: Vec<String> = Vec::new();
        for (i, a) in args.iter().enumerate().skip(1) {
            let key = a.name.as_ref().map(|n| n.name.as_str()).unwrap_or(match i {
                1 => "OutputColumnPrefix",
                2 => "columnsConflict",
                _ => "ignoredProperties",
            });
            let (v, _) = self.const_value(&a.value, env, op)?;
            match (key, v) {
                ("OutputColumnPrefix", ScalarValue::Utf8(Some(s))) => prefix = s,
                ("columnsConflict", ScalarValue::Utf8(Some(s))) => conflict = s,
                ("ignoredProperties", ScalarValue::Binary(Some(b))) => {
                    if let Ok(Json::Array(items)) = serde_json::from_slice::<Json>(&b) {
                        ignored = items
                            .into_iter()
                            .filter_map(|j| j.as_str().map(str::to_string))
                            .collect();
                    }
                }
                _ => {
                    return Err(self.report(Diagnostic::error(
                        "KS107",
                        format!("bag_unpack: invalid argument '{key}'"),
                        a.span,
                    )));
                }
            }
        }
        if !matches!(conflict.as_str(), "error" | "replace_source" | "keep_source") {
            return Err(self.report(Diagnostic::error(
                "QE017",
                "bag_unpack: columnsConflict must be error, replace_source or keep_source",
                span,
            )));
        }
        // The slots and their types: from the output schema, else from the data.
        let mut slots: Vec<(String, KqlType)> = Vec::new();
        let mut keep_input = true;
        if let Some(s) = schema {
            keep_input = s.wildcard;
            for c in &s.columns {
                let ty = self.type_name(&c.ty)?;
                slots.push((c.name.name.clone(), ty));
            }
        } else if let Some(exec) = self.exec {
            let plan = LogicalPlanBuilder::from(t.plan.clone())
                .project(vec![bag.expr.clone().alias("bag")])
                .and_then(|b| b.build());
            let plan = match plan {
                Ok(p) => p,
                Err(e) => return Err(self.internal(op, e, span)),
            };
            let batches = exec
                .collect(plan)
                .map_err(|e| self.report(Diagnostic::error("QE100", e.to_string(), span)))?;
            let mut seen: BTreeMap<String, Option<KqlType>> = BTreeMap::new();
            for b in &batches {
                for row in 0..b.num_rows() {
                    let Ok(Json::Object(m)) = functions::render_json(b.column(0).as_ref(), row, KqlType::Dynamic)
                    else {
                        continue;
                    };
                    for (k, v) in m {
                        let ty = json_type(&v);
                        let entry = seen.entry(k).or_insert(ty);
                        if *entry != ty && ty.is_some() {
                            *entry = if entry.is_none() { ty } else { Some(KqlType::Dynamic) };
                        }
                    }
                }
            }
            slots = seen
                .into_iter()
                .filter(|(k, _)| !ignored.contains(k))
                .map(|(k, ty)| (format!("{prefix}{k}"), ty.unwrap_or(KqlType::Dynamic)))
                .collect();
        }
        let mut items: Vec<(Expr, Col)> = Vec::new();
        if keep_input {
            for c in &t.cols {
                if Some(&c.name) != bag_column.as_ref() {
                    items.push((col(&c.name), c.clone()));
                }
            }
        }
        for (name, ty) in slots {
            let key = name.strip_prefix(prefix.as_str()).unwrap_or(&name).to_string();
            let value = functions::lower_member(bag.clone(), &key)
                .and_then(|v| {
                    if ty == KqlType::Dynamic {
                        Ok(v)
                    } else {
                        functions::coerce::convert(v, ty)
                    }
                })
                .map_err(|e| self.report(diag::function_error(&e, span)))?;
            match items.iter().position(|(_, c)| c.name == name) {
                Some(i) => {
                    match conflict.as_str() {
                        "replace_source" => items[i] = (value.expr, Col::new(name, ty)),
                        "keep_source" => {}
                        _ => {
                            return Err(self.report(Diagnostic::error(
                            "QE017",
                            format!("bag_unpack: the slot '{name}' conflicts with an existing column (use columnsConflict)"),
                            span,
                        )));
                        }
                    }
                }
                None => items.push((value.expr, Col::new(name, ty))),
            }
        }
        t.project(items).map_err(|e| self.internal(op, e, span))
    }

    /// `pivot(column [, aggregation] [, group columns…])`: one output column per value.
    fn plugin_pivot(&mut self, t: Tab, args: &[ast::Arg], env: &Env, span: Span) -> PResult<Tab> {
        let op = "pivot";
        self.arity(op, args, 1, 64, span)?;
        let pivot = self.column_arg(&t, &args[0], op)?;
        let (agg_arg, group_args) = match args.get(1) {
            Some(a) if matches!(&a.value.kind, ExprKind::Call(c) if functions::aggregate::is_aggregate(&c.name.name)) => {
                (Some(a), &args[2..])
            }
            _ => (None, &args[1..]),
        };
        let mut groups: Vec<Col> = Vec::new();
        for a in group_args {
            groups.push(self.column_arg(&t, a, op)?);
        }
        if group_args.is_empty() {
            groups = t.cols.iter().filter(|c| c.name != pivot.name).cloned().collect();
            if let Some(ExprKind::Call(c)) = agg_arg.map(|a| &a.value.kind) {
                let used: Vec<String> = c
                    .args
                    .iter()
                    .filter_map(|a| match &a.value.kind {
                        ExprKind::Name(id) => Some(id.name.clone()),
                        _ => None,
                    })
                    .collect();
                groups.retain(|g| !used.contains(&g.name));
            }
        }
        // The values of the pivot column become columns.
        let values: Vec<ScalarValue> = match self.exec {
            Some(exec) => {
                let plan = t.clone().select(std::slice::from_ref(&pivot.name)).and_then(|d| {
                    LogicalPlanBuilder::from(d.plan)
                        .distinct()?
                        .sort(vec![SortExpr::new(col(&pivot.name), true, true)])?
                        .build()
                });
                let plan = plan.map_err(|e| self.internal(op, e, span))?;
                let batches = exec
                    .collect(plan)
                    .map_err(|e| self.report(Diagnostic::error("QE100", e.to_string(), span)))?;
                let mut out = Vec::new();
                for b in &batches {
                    for row in 0..b.num_rows() {
                        if let Ok(v) = ScalarValue::try_from_array(b.column(0), row) {
                            out.push(v);
                        }
                    }
                }
                out
            }
            None => Vec::new(),
        };
        let mut aggs: Vec<(String, Expr)> = Vec::new();
        let mut outputs = Vec::new();
        for v in values {
            let text = match v.to_array() {
                Ok(a) => functions::render_cell(a.as_ref(), 0, pivot.ty).unwrap_or_default(),
                Err(_) => String::new(),
            };
            let (agg, ty) = match agg_arg {
                Some(a) => {
                    let ExprKind::Call(c) = &a.value.kind else {
                        return Err(Reported);
                    };
                    let mut fargs = Vec::new();
                    for x in &c.args {
                        fargs.push(Arg::positional(self.row_arg(&t, x, env, op)?));
                    }
                    let agg = functions::lower_aggregate(&c.name.name, fargs, &self.ctx)
                        .map_err(|e| self.report(diag::function_error(&e, a.span)))?;
                    (agg.expr, agg.ty)
                }
                None => (datafusion::functions_aggregate::count::count_all(), KqlType::Long),
            };
            let cond = if v.is_null() {
                col(&pivot.name).is_null()
            } else {
                col(&pivot.name).eq(Expr::Literal(v, None))
            };
            let agg = match agg {
                Expr::Alias(a) => *a.expr,
                other => other,
            };
            let filtered = agg.filter(cond).build().map_err(|e| self.internal(op, e, span))?;
            let hidden = self.hidden("pivot");
            aggs.push((hidden.clone(), filtered));
            let name = unique_name(&text, |n| {
                groups.iter().any(|g| g.name == n)
                    || outputs.iter().any(|o: &super::summarize::ExprWithName| o.name == n)
            });
            outputs.push(super::summarize::ExprWithName {
                expr: col(&hidden),
                name,
                ty,
            });
        }
        let keys: Vec<(Expr, Col)> = groups.iter().map(|g| (col(&g.name), g.clone())).collect();
        let outputs = outputs.into_iter().map(|o| (None, o)).collect();
        self.aggregate(t, keys, aggs, outputs, span, op)
    }

    /// `narrow()`: every cell as a row (`Row`, `Column`, `Value` as text).
    fn plugin_narrow(&mut self, t: Tab, span: Span) -> PResult<Tab> {
        let op = "narrow";
        let rn = self.hidden("row");
        let build = |this: &mut Self| -> datafusion::common::Result<Tab> {
            let numbered = super::window::window_node(
                t.plan.clone(),
                datafusion::functions_window::expr_fn::row_number().alias(rn.clone()),
            )?;
            let mut parts: Vec<LogicalPlan> = Vec::new();
            for c in &t.cols {
                let text = functions::lower_call(
                    "tostring",
                    vec![Arg::positional(TypedExpr::new(col(&c.name), c.ty))],
                    &this.ctx,
                )
                .map_err(df_err)?;
                let plan = LogicalPlanBuilder::from(numbered.clone())
                    .project(vec![
                        (cast(col(&rn), DataType::Int32) - lit(1i32)).alias("Row"),
                        lit(c.name.clone()).alias("Column"),
                        text.expr.alias("Value"),
                    ])?
                    .build()?;
                parts.push(plan);
            }
            let mut b: Option<LogicalPlanBuilder> = None;
            for p in parts {
                b = Some(match b {
                    None => LogicalPlanBuilder::from(p),
                    Some(b) => b.union(p)?,
                });
            }
            let Some(b) = b else {
                return Err(datafusion::error::DataFusionError::Plan("narrow: no columns".into()));
            };
            Ok(Tab::new(
                b.build()?,
                vec![
                    Col::new("Row", KqlType::Int),
                    Col::new("Column", KqlType::String),
                    Col::new("Value", KqlType::String),
                ],
            ))
        };
        build(self).map_err(|e| self.internal(op, e, span))
    }

    /// `rolling_percentile(value, pct, index, bin_size, bins_per_window [, dims…])`
    fn plugin_rolling_percentile(&mut self, t: Tab, args: &[ast::Arg], env: &Env, span: Span) -> PResult<Tab> {
        let op = "rolling_percentile";
        self.arity(op, args, 5, 64, span)?;
        let value = self.column_arg(&t, &args[0], op)?;
        let (pct, pct_ty) = self.const_value(&args[1].value, env, op)?;
        let index = self.column_arg(&t, &args[2], op)?;
        let (bin_size, _) = self.const_value(&args[3].value, env, op)?;
        let window = self.const_count(&args[4].value, env, op)?.max(1);
        let mut dims = Vec::new();
        for a in &args[5..] {
            dims.push(self.column_arg(&t, a, op)?);
        }
        let pct_text = match pct.to_array() {
            Ok(a) => functions::render_cell(a.as_ref(), 0, pct_ty).unwrap_or_default(),
            Err(_) => String::new(),
        };
        let out_name = format!("rolling_{window}_percentile_{}_{pct_text}", value.name);
        let binned = functions::lower_call(
            "bin",
            vec![
                Arg::positional(TypedExpr::new(col(&index.name), index.ty)),
                Arg::positional(TypedExpr::literal(bin_size.clone(), KqlType::TimeSpan)),
            ],
            &self.ctx,
        );
        let binned = match binned {
            Ok(b) => b,
            Err(_) => functions::lower_call(
                "bin",
                vec![
                    Arg::positional(TypedExpr::new(col(&index.name), index.ty)),
                    Arg::positional(TypedExpr::literal(bin_size.clone(), index.ty)),
                ],
                &self.ctx,
            )
            .map_err(|e| self.report(diag::function_error(&e, args[3].span)))?,
        };
        let percentile = functions::lower_aggregate(
            "percentile",
            vec![
                Arg::positional(TypedExpr::new(col(&value.name), value.ty)),
                Arg::positional(TypedExpr::literal(pct, pct_ty)),
            ],
            &self.ctx,
        )
        .map_err(|e| self.report(diag::function_error(&e, span)))?;
        let (bin, shift, list) = (self.hidden("bin"), self.hidden("shift"), self.hidden("shifts"));
        let step_i64 = match &bin_size {
            ScalarValue::DurationNanosecond(Some(n)) | ScalarValue::Int64(Some(n)) => *n,
            ScalarValue::Int32(Some(n)) => i64::from(*n),
            _ => {
                return Err(self.report(Diagnostic::error(
                    "QE018",
                    "rolling_percentile: the bin size must be a timespan or an integer",
                    args[3].span,
                )));
            }
        };
        let build = || -> datafusion::common::Result<Tab> {
            // Each row counts in the windows of its bin and the next `window - 1` bins.
            let mut proj: Vec<Expr> = dims.iter().map(|d| col(&d.name)).collect();
            proj.push(col(&value.name));
            proj.push(binned.expr.clone().alias(bin.clone()));
            proj.push(
                datafusion::functions_nested::expr_fn::range(lit(0i64), lit(window as i64), lit(1i64))
                    .alias(list.clone()),
            );
            let spread = LogicalPlanBuilder::from(t.plan.clone())
                .project(proj)?
                .unnest_column(Column::new_unqualified(list.clone()))?
                .build()?;
            let target = if index.ty == KqlType::DateTime || index.ty == KqlType::TimeSpan {
                cast(
                    cast(col(&bin), DataType::Int64) + col(&list) * lit(step_i64),
                    index.ty.to_arrow(),
                )
            } else {
                col(&bin) + cast(col(&list) * lit(step_i64), index.ty.to_arrow())
            };
            let mut groups: Vec<Expr> = vec![target.alias(index.name.clone())];
            groups.extend(dims.iter().map(|d| col(&d.name)));
            let agg = LogicalPlanBuilder::from(spread)
                .aggregate(groups, vec![percentile.expr.clone().alias(out_name.clone())])?
                .build()?;
            // Only bins that have data.
            let mut existing: Vec<Expr> = vec![binned.expr.clone().alias(shift.clone())];
            existing.extend(dims.iter().map(|d| col(&d.name)));
            let present = LogicalPlanBuilder::from(t.plan.clone())
                .project(existing)?
                .distinct()?
                .build()?;
            let (l, r) = ("__quarry_rolling", "__quarry_bins");
            let mut lk = vec![side(l, &index.name)];
            let mut rk = vec![side(r, &shift)];
            for d in &dims {
                lk.push(side(l, &d.name));
                rk.push(side(r, &d.name));
            }
            let joined = LogicalPlanBuilder::from(LogicalPlanBuilder::from(agg).alias(l)?.build()?)
                .join_with_expr_keys(
                    LogicalPlanBuilder::from(present).alias(r)?.build()?,
                    JoinType::LeftSemi,
                    (lk, rk),
                    None,
                )?
                .build()?;
            let mut out_cols = vec![index.clone()];
            out_cols.extend(dims.iter().cloned());
            out_cols.push(Col::new(out_name.clone(), percentile.ty));
            let exprs: Vec<Expr> = out_cols
                .iter()
                .map(|c| side(l, &c.name).alias(c.name.clone()))
                .collect();
            Ok(Tab::new(
                LogicalPlanBuilder::from(joined).project(exprs)?.build()?,
                out_cols,
            ))
        };
        build().map_err(|e| self.internal(op, e, span))
    }

    /// The window start of a time for a plugin analysing windows from `start` by `step`.
    fn window_start(&mut self, time: &Col, step: &ScalarValue, start: &ScalarValue, span: Span) -> PResult<TypedExpr> {
        functions::lower_call(
            "bin_at",
            vec![
                Arg::positional(TypedExpr::new(col(&time.name), time.ty)),
                Arg::positional(TypedExpr::literal(step.clone(), KqlType::TimeSpan)),
                Arg::positional(TypedExpr::literal(start.clone(), KqlType::DateTime)),
            ],
            &self.ctx,
        )
        .map_err(|e| self.report(diag::function_error(&e, span)))
    }

    /// `active_users_count(id, time, start, end, lookback, period, active_periods, bin [, dims…])`
    fn plugin_active_users_count(&mut self, t: Tab, args: &[ast::Arg], env: &Env, span: Span) -> PResult<Tab> {
        let op = "active_users_count";
        self.arity(op, args, 8, 64, span)?;
        let id = self.column_arg(&t, &args[0], op)?;
        let time = self.column_arg(&t, &args[1], op)?;
        let start = self.const_value(&args[2].value, env, op)?.0;
        let end = self.const_value(&args[3].value, env, op)?.0;
        let lookback = self.const_value(&args[4].value, env, op)?.0;
        let period = self.const_value(&args[5].value, env, op)?.0;
        let needed = self.const_count(&args[6].value, env, op)? as i64;
        let bin = self.const_value(&args[7].value, env, op)?.0;
        let mut dims = Vec::new();
        for a in &args[8..] {
            dims.push(self.column_arg(&t, a, op)?);
        }
        let (Some(lookback_ns), Some(period_ns)) = (nanos(&lookback), nanos(&period)) else {
            return Err(self.report(Diagnostic::error(
                "QE018",
                format!("{op}: the lookback and period must be timespans"),
                span,
            )));
        };
        let window = self.window_start(&time, &bin, &start, span)?;
        let periods = self.hidden("period");
        let build = || -> datafusion::common::Result<Tab> {
            let (a, b) = ("__quarry_now", "__quarry_before");
            let appearances = LogicalPlanBuilder::from(t.plan.clone())
                .filter(
                    col(&time.name)
                        .gt_eq(Expr::Literal(start.clone(), None))
                        .and(col(&time.name).lt_eq(Expr::Literal(end.clone(), None))),
                )?
                .build()?;
            let all = t.plan.clone();
            let ta = cast(side(a, &time.name), DataType::Int64);
            let tb = cast(side(b, &time.name), DataType::Int64);
            // Appearances of the same user in (t - lookback, t].
            let filter = tb
                .clone()
                .gt(ta.clone() - lit(lookback_ns))
                .and(tb.clone().lt_eq(ta.clone()));
            let mut lk = vec![side(a, &id.name)];
            let mut rk = vec![side(b, &id.name)];
            for d in &dims {
                lk.push(side(a, &d.name));
                rk.push(side(b, &d.name));
            }
            let joined = LogicalPlanBuilder::from(LogicalPlanBuilder::from(appearances).alias(a)?.build()?)
                .join_with_expr_keys(
                    LogicalPlanBuilder::from(all).alias(b)?.build()?,
                    JoinType::Inner,
                    (lk, rk),
                    Some(filter),
                )?
                .build()?;
            // Distinct periods per appearance.
            let period_of = (tb.clone() - (tb.clone() % lit(period_ns))).alias(periods.clone());
            let mut group: Vec<Expr> = vec![
                side(a, &id.name).alias(id.name.clone()),
                side(a, &time.name).alias(time.name.clone()),
            ];
            group.extend(dims.iter().map(|d| side(a, &d.name).alias(d.name.clone())));
            let per_appearance = LogicalPlanBuilder::from(joined)
                .project({
                    let mut p = group.clone();
                    p.push(period_of);
                    p
                })?
                .aggregate(
                    std::iter::once(col(&id.name))
                        .chain(std::iter::once(col(&time.name)))
                        .chain(dims.iter().map(|d| col(&d.name)))
                        .collect::<Vec<_>>(),
                    vec![datafusion::functions_aggregate::count::count_distinct(col(&periods)).alias("n")],
                )?
                .filter(col("n").gt_eq(lit(needed)))?
                .build()?;
            let mut groups = vec![window.expr.clone().alias(time.name.clone())];
            groups.extend(dims.iter().map(|d| col(&d.name)));
            let plan = LogicalPlanBuilder::from(per_appearance)
                .aggregate(
                    groups,
                    vec![datafusion::functions_aggregate::count::count_distinct(col(&id.name)).alias("dcount")],
                )?
                .build()?;
            let mut cols = vec![time.clone()];
            cols.extend(dims.iter().cloned());
            cols.push(Col::new("dcount", KqlType::Long));
            Ok(Tab::new(plan, cols))
        };
        build().map_err(|e| self.internal(op, e, span))
    }

    /// `activity_counts_metrics(id, time, start, end, step [, dims…])`
    fn plugin_activity_counts_metrics(&mut self, t: Tab, args: &[ast::Arg], env: &Env, span: Span) -> PResult<Tab> {
        let op = "activity_counts_metrics";
        self.arity(op, args, 5, 64, span)?;
        let id = self.column_arg(&t, &args[0], op)?;
        let time = self.column_arg(&t, &args[1], op)?;
        let start = self.const_value(&args[2].value, env, op)?.0;
        let end = self.const_value(&args[3].value, env, op)?.0;
        let step = self.const_value(&args[4].value, env, op)?.0;
        let mut dims = Vec::new();
        for a in &args[5..] {
            dims.push(self.column_arg(&t, a, op)?);
        }
        let Some(step_ns) = nanos(&step) else {
            return Err(self.report(Diagnostic::error(
                "QE018",
                format!("{op}: the step must be a timespan"),
                span,
            )));
        };
        let window = self.window_start(&time, &step, &start, span)?;
        let (w, first) = (self.hidden("window"), self.hidden("first"));
        let end_excl = match &end {
            ScalarValue::TimestampNanosecond(Some(n), tz) => {
                ScalarValue::TimestampNanosecond(Some(n.saturating_add(step_ns)), tz.clone())
            }
            other => other.clone(),
        };
        let build = || -> datafusion::common::Result<Tab> {
            let mut proj: Vec<Expr> = vec![col(&id.name), window.expr.clone().alias(w.clone())];
            proj.extend(dims.iter().map(|d| col(&d.name)));
            let rows = LogicalPlanBuilder::from(t.plan.clone())
                .filter(
                    col(&time.name)
                        .gt_eq(Expr::Literal(start.clone(), None))
                        .and(col(&time.name).lt(Expr::Literal(end_excl.clone(), None))),
                )?
                .project(proj)?
                .build()?;
            let dim_cols = || dims.iter().map(|d| col(&d.name)).collect::<Vec<_>>();
            // count and dcount per window.
            let mut g1 = vec![col(&w)];
            g1.extend(dim_cols());
            let counts = LogicalPlanBuilder::from(rows.clone())
                .aggregate(
                    g1,
                    vec![
                        datafusion::functions_aggregate::count::count_all().alias("count"),
                        datafusion::functions_aggregate::count::count_distinct(col(&id.name)).alias("dcount"),
                    ],
                )?
                .build()?;
            // The first window of each id; new ids per window.
            let mut g2 = vec![col(&id.name)];
            g2.extend(dim_cols());
            let firsts = LogicalPlanBuilder::from(rows)
                .aggregate(
                    g2,
                    vec![datafusion::functions_aggregate::min_max::min(col(&w)).alias(first.clone())],
                )?
                .build()?;
            let mut g3 = vec![col(&first)];
            g3.extend(dim_cols());
            let news = LogicalPlanBuilder::from(firsts)
                .aggregate(
                    g3,
                    vec![datafusion::functions_aggregate::count::count_all().alias("new_dcount")],
                )?
                .build()?;
            let (l, r) = ("__quarry_counts", "__quarry_new");
            let mut lk = vec![side(l, &w)];
            let mut rk = vec![side(r, &first)];
            for d in &dims {
                lk.push(side(l, &d.name));
                rk.push(side(r, &d.name));
            }
            let joined = LogicalPlanBuilder::from(LogicalPlanBuilder::from(counts).alias(l)?.build()?)
                .join_with_expr_keys(
                    LogicalPlanBuilder::from(news).alias(r)?.build()?,
                    JoinType::Left,
                    (lk, rk),
                    None,
                )?
                .build()?;
            let new_count = datafusion::functions::core::expr_fn::coalesce(vec![side(r, "new_dcount"), lit(0i64)]);
            let mut proj = vec![side(l, &w).alias(time.name.clone())];
            proj.extend(dims.iter().map(|d| side(l, &d.name).alias(d.name.clone())));
            proj.push(side(l, "count").alias("count"));
            proj.push(side(l, "dcount").alias("dcount"));
            proj.push(new_count.alias("new_dcount"));
            let plan = LogicalPlanBuilder::from(joined).project(proj)?.build()?;
            // The running total of new ids.
            let running = Expr::WindowFunction(Box::new(datafusion::logical_expr::expr::WindowFunction::new(
                datafusion::logical_expr::WindowFunctionDefinition::AggregateUDF(
                    datafusion::functions_aggregate::sum::sum_udaf(),
                ),
                vec![col("new_dcount")],
            )))
            .partition_by(dim_cols())
            .order_by(vec![SortExpr::new(col(&time.name), true, false)])
            .window_frame(datafusion::logical_expr::WindowFrame::new_bounds(
                datafusion::logical_expr::WindowFrameUnits::Rows,
                datafusion::logical_expr::WindowFrameBound::Preceding(ScalarValue::UInt64(None)),
                datafusion::logical_expr::WindowFrameBound::CurrentRow,
            ))
            .build()?
            .alias("aggregated_dcount");
            let plan = super::window::window_node(plan, running)?;
            let mut cols = vec![time.clone()];
            cols.extend(dims.iter().cloned());
            cols.push(Col::new("count", KqlType::Long));
            cols.push(Col::new("dcount", KqlType::Long));
            cols.push(Col::new("new_dcount", KqlType::Long));
            cols.push(Col::new("aggregated_dcount", KqlType::Long));
            let exprs: Vec<Expr> = cols
                .iter()
                .map(|c| cast(col(&c.name), c.ty.to_arrow()).alias(c.name.clone()))
                .collect();
            Ok(Tab::new(LogicalPlanBuilder::from(plan).project(exprs)?.build()?, cols))
        };
        build().map_err(|e| self.internal(op, e, span))
    }

    /// `rows_near(condition, n [, after])`: the rows within `n` rows before (and `after`
    /// rows after) a row where the condition holds, in the input's order.
    fn plugin_rows_near(&mut self, t: Tab, args: &[ast::Arg], env: &Env, span: Span) -> PResult<Tab> {
        let op = "rows_near";
        self.arity(op, args, 2, 3, span)?;
        let cond = self.row_arg(&t, &args[0], env, op)?;
        let cond = self.predicate(cond, args[0].value.span)?;
        let before = self.const_count(&args[1].value, env, op)? as i64;
        let after = match args.get(2) {
            Some(a) => self.const_count(&a.value, env, op)? as i64,
            None => before,
        };
        let (rn, next, prev, hit_name) = (
            self.hidden("rn"),
            self.hidden("next_hit"),
            self.hidden("prev_hit"),
            self.hidden("hit"),
        );
        let order = t.order_exprs();
        let names: Vec<String> = t.cols.iter().map(|c| c.name.clone()).collect();
        let build = || -> datafusion::common::Result<Tab> {
            let number = datafusion::functions_window::expr_fn::row_number();
            let number = if order.is_empty() {
                number
            } else {
                number.order_by(order.clone()).build()?
            };
            let plan = super::window::window_node(t.plan.clone(), number.alias(rn.clone()))?;
            // The row number of a hit, as a column (DataFusion's common-subexpression pass
            // mishandles an expression shared by consecutive windows).
            let hit_expr = when(cond.expr.clone(), cast(col(&rn), DataType::Int64))
                .otherwise(Expr::Literal(ScalarValue::Int64(None), None))?;
            let mut with_hit: Vec<Expr> = names.iter().map(|n| col(n)).collect();
            with_hit.push(col(&rn));
            with_hit.push(hit_expr.alias(hit_name.clone()));
            let plan = LogicalPlanBuilder::from(plan).project(with_hit)?.build()?;
            let hit = col(&hit_name);
            let frame = |following: bool| {
                use datafusion::logical_expr::{WindowFrame, WindowFrameBound as B, WindowFrameUnits};
                if following {
                    WindowFrame::new_bounds(
                        WindowFrameUnits::Rows,
                        B::CurrentRow,
                        B::Following(ScalarValue::UInt64(None)),
                    )
                } else {
                    WindowFrame::new_bounds(
                        WindowFrameUnits::Rows,
                        B::Preceding(ScalarValue::UInt64(None)),
                        B::CurrentRow,
                    )
                }
            };
            let agg = |udaf, following: bool| -> datafusion::common::Result<Expr> {
                Expr::WindowFunction(Box::new(datafusion::logical_expr::expr::WindowFunction::new(
                    datafusion::logical_expr::WindowFunctionDefinition::AggregateUDF(udaf),
                    vec![hit.clone()],
                )))
                .order_by(vec![SortExpr::new(col(&rn), true, false)])
                .window_frame(frame(following))
                .build()
            };
            let plan = super::window::window_node(
                plan,
                agg(datafusion::functions_aggregate::min_max::min_udaf(), true)?.alias(next.clone()),
            )?;
            let plan = super::window::window_node(
                plan,
                agg(datafusion::functions_aggregate::min_max::max_udaf(), false)?.alias(prev.clone()),
            )?;
            let r = cast(col(&rn), DataType::Int64);
            let keep = (col(&next) - r.clone())
                .lt_eq(lit(before))
                .or((r - col(&prev)).lt_eq(lit(after)));
            let plan = LogicalPlanBuilder::from(plan).filter(keep)?.build()?;
            t.clone().with_plan(plan).select(&names)
        };
        build().map_err(|e| self.internal(op, e, span))
    }

    /// `ipv4_lookup(T, ip, range [, extra keys…] [, return_unmatched])` and
    /// `ipv6_lookup(T, ip, range [, return_unmatched])`.
    fn plugin_ip_lookup(&mut self, t: Tab, args: &[ast::Arg], env: &Env, span: Span, v6: bool) -> PResult<Tab> {
        let op = if v6 { "ipv6_lookup" } else { "ipv4_lookup" };
        self.arity(op, args, 3, 64, span)?;
        let lookup = self.lower_tabular(&args[0].value, env)?;
        let ip = self.column_arg(&t, &args[1], op)?;
        let range = self.column_arg(&lookup, &args[2], op)?;
        let mut extra: Vec<(Col, Col)> = Vec::new();
        let mut unmatched = false;
        for a in &args[3..] {
            let is_flag = a.name.as_ref().is_some_and(|n| n.name == "return_unmatched")
                || matches!(&a.value.kind, ExprKind::Literal(l) if matches!(l.value, ast::LiteralValue::Bool(_)));
            if is_flag {
                unmatched = matches!(self.const_value(&a.value, env, op)?.0, ScalarValue::Boolean(Some(true)));
                continue;
            }
            let left = self.column_arg(&t, a, op)?;
            let right = self.column_arg(&lookup, a, op)?;
            extra.push((left, right));
        }
        let (l, r) = ("__quarry_source", "__quarry_ranges");
        let fun = if v6 { "ipv6_is_in_range" } else { "ipv4_is_in_range" };
        let contains = functions::lower_call(
            fun,
            vec![
                Arg::positional(TypedExpr::new(side(l, &ip.name), ip.ty)),
                Arg::positional(TypedExpr::new(side(r, &range.name), range.ty)),
            ],
            &self.ctx,
        )
        .map_err(|e| self.report(diag::function_error(&e, span)))?;
        let build = || -> datafusion::common::Result<Tab> {
            let lk: Vec<Expr> = extra.iter().map(|(a, _)| side(l, &a.name)).collect();
            let rk: Vec<Expr> = extra.iter().map(|(_, b)| side(r, &b.name)).collect();
            let left = LogicalPlanBuilder::from(t.plan.clone()).alias(l)?.build()?;
            let right = LogicalPlanBuilder::from(lookup.plan.clone()).alias(r)?.build()?;
            let kind = if unmatched { JoinType::Left } else { JoinType::Inner };
            let joined = if lk.is_empty() {
                LogicalPlanBuilder::from(left)
                    .join_on(right, kind, vec![contains.expr.clone()])?
                    .build()?
            } else {
                LogicalPlanBuilder::from(left)
                    .join_with_expr_keys(right, kind, (lk, rk), Some(contains.expr.clone()))?
                    .build()?
            };
            let source: Vec<(Expr, Col)> = t.cols.iter().map(|c| (side(l, &c.name), c.clone())).collect();
            let ranges: Vec<(Expr, Col)> = lookup
                .cols
                .iter()
                .filter(|c| !extra.iter().any(|(_, b)| b.name == c.name))
                .map(|c| (side(r, &c.name), c.clone()))
                .collect();
            // As documented: ipv4_lookup lists the source columns first, ipv6_lookup the
            // lookup table's.
            let ordered: Vec<(Expr, Col)> = if v6 {
                ranges.into_iter().chain(source).collect()
            } else {
                source.into_iter().chain(ranges).collect()
            };
            let mut items: Vec<(Expr, Col)> = Vec::new();
            for (e, c) in ordered {
                let name = unique_name(&c.name, |n| items.iter().any(|(_, x)| x.name == n));
                items.push((e, Col::new(name, c.ty)));
            }
            let exprs: Vec<Expr> = items.iter().map(|(e, c)| e.clone().alias(c.name.clone())).collect();
            Ok(Tab::new(
                LogicalPlanBuilder::from(joined).project(exprs)?.build()?,
                items.into_iter().map(|(_, c)| c).collect(),
            ))
        };
        build().map_err(|e| self.internal(op, e, span))
    }
}

/// Nanoseconds of a timespan constant.
fn nanos(v: &ScalarValue) -> Option<i64> {
    match v {
        ScalarValue::DurationNanosecond(Some(n)) => Some(*n),
        _ => None,
    }
}

/// The KQL type of a JSON value found in a bag (`None` for null).
fn json_type(v: &Json) -> Option<KqlType> {
    match v {
        Json::Null => None,
        Json::Bool(_) => Some(KqlType::Bool),
        Json::Number(n) if n.is_i64() || n.is_u64() => Some(KqlType::Long),
        Json::Number(_) => Some(KqlType::Real),
        Json::String(_) => Some(KqlType::String),
        Json::Array(_) | Json::Object(_) => Some(KqlType::Dynamic),
    }
}
