//! Activity plugins over time windows and row neighbourhoods: `rolling_percentile`,
//! `active_users_count`, `activity_counts_metrics`, `rows_near`.

use super::super::Planner;
use super::super::env::Env;
use super::super::tab::{Col, Tab, col};
use super::side;
use crate::diag::{self, PResult};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Column, JoinType, ScalarValue};
use datafusion::logical_expr::{Expr, ExprFunctionExt, LogicalPlanBuilder, SortExpr, cast, lit, when};
use functions::{Arg, TypedExpr};
use kql::ast;
use kql::{Diagnostic, Span};
use schema::KqlType;

impl Planner<'_> {
    /// `rolling_percentile(value, pct, index, bin_size, bins_per_window [, dims…])`
    pub(super) fn plugin_rolling_percentile(
        &mut self,
        t: Tab,
        args: &[ast::Arg],
        env: &Env,
        span: Span,
    ) -> PResult<Tab> {
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
    pub(super) fn window_start(
        &mut self,
        time: &Col,
        step: &ScalarValue,
        start: &ScalarValue,
        span: Span,
    ) -> PResult<TypedExpr> {
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
    pub(super) fn plugin_active_users_count(
        &mut self,
        t: Tab,
        args: &[ast::Arg],
        env: &Env,
        span: Span,
    ) -> PResult<Tab> {
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
    pub(super) fn plugin_activity_counts_metrics(
        &mut self,
        t: Tab,
        args: &[ast::Arg],
        env: &Env,
        span: Span,
    ) -> PResult<Tab> {
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
            let plan = super::super::window::window_node(plan, running)?;
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
    pub(super) fn plugin_rows_near(&mut self, t: Tab, args: &[ast::Arg], env: &Env, span: Span) -> PResult<Tab> {
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
            let plan = super::super::window::window_node(t.plan.clone(), number.alias(rn.clone()))?;
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
            let plan = super::super::window::window_node(
                plan,
                agg(datafusion::functions_aggregate::min_max::min_udaf(), true)?.alias(next.clone()),
            )?;
            let plan = super::super::window::window_node(
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

    /// `sliding_window_counts(id, time, start, end, lookback, bin [, dims…])`: per bin, the
    /// rows and distinct ids of the `lookback` window that ends with the bin.
    pub(super) fn plugin_sliding_window_counts(
        &mut self,
        t: Tab,
        args: &[ast::Arg],
        env: &Env,
        span: Span,
    ) -> PResult<Tab> {
        let op = "sliding_window_counts";
        self.arity(op, args, 6, 64, span)?;
        let id = self.column_arg(&t, &args[0], op)?;
        let time = self.column_arg(&t, &args[1], op)?;
        let start = self.const_value(&args[2].value, env, op)?.0;
        let end = self.const_value(&args[3].value, env, op)?.0;
        let lookback = self.const_value(&args[4].value, env, op)?.0;
        let bin = self.const_value(&args[5].value, env, op)?.0;
        let mut dims = Vec::new();
        for a in &args[6..] {
            dims.push(self.column_arg(&t, a, op)?);
        }
        let (Some(lookback_ns), Some(bin_ns)) = (nanos(&lookback), nanos(&bin)) else {
            return Err(self.report(Diagnostic::error(
                "QE018",
                format!("{op}: the lookback window and the bin must be timespans"),
                span,
            )));
        };
        if bin_ns <= 0 || lookback_ns <= 0 {
            return Err(self.report(Diagnostic::error(
                "QE018",
                format!("{op}: the bin and lookback must be positive"),
                span,
            )));
        }
        let bins = (lookback_ns + bin_ns - 1) / bin_ns;
        let window = self.window_start(&time, &bin, &start, span)?;
        let (w, list) = (self.hidden("bin"), self.hidden("shifts"));
        let build = || -> datafusion::common::Result<Tab> {
            // Each row counts in the windows of its bin and of the next `bins - 1` bins.
            let mut proj: Vec<Expr> = dims.iter().map(|d| col(&d.name)).collect();
            proj.push(col(&id.name));
            proj.push(window.expr.clone().alias(w.clone()));
            proj.push(
                datafusion::functions_nested::expr_fn::range(lit(0i64), lit(bins), lit(1i64)).alias(list.clone()),
            );
            let spread = LogicalPlanBuilder::from(t.plan.clone())
                .project(proj)?
                .unnest_column(Column::new_unqualified(list.clone()))?
                .build()?;
            let target = cast(
                cast(col(&w), DataType::Int64) + col(&list) * lit(bin_ns),
                time.ty.to_arrow(),
            );
            let mut groups = vec![target.alias(time.name.clone())];
            groups.extend(dims.iter().map(|d| col(&d.name)));
            let plan = LogicalPlanBuilder::from(spread)
                .aggregate(
                    groups,
                    vec![
                        datafusion::functions_aggregate::count::count_all().alias("Count"),
                        datafusion::functions_aggregate::count::count_distinct(col(&id.name)).alias("dcount"),
                    ],
                )?
                .filter(
                    col(&time.name)
                        .gt_eq(Expr::Literal(start.clone(), None))
                        .and(col(&time.name).lt_eq(Expr::Literal(end.clone(), None))),
                )?
                .build()?;
            let mut cols = vec![time.clone()];
            cols.extend(dims.iter().cloned());
            cols.push(Col::new("Count", KqlType::Long));
            cols.push(Col::new("dcount", KqlType::Long));
            Ok(Tab::new(plan, cols))
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
