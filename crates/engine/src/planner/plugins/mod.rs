//! `evaluate plugin(…)`: the plugins of the KQL reference that work on the query's own data.
//!
//! Plugins whose output columns depend on the data (`bag_unpack`, `pivot`) look at the data
//! while planning (as Kusto does); in validation (no data) their output is the input minus
//! what they consume, unless the query gives an output schema.

mod activity;
mod lookup;

use super::Planner;
use super::env::Env;
use super::expr::Scope;
use super::tab::{Col, Tab, col};
use crate::diag::{self, PResult, Reported};
use crate::naming::unique_name;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Column, ScalarValue, TableReference};
use datafusion::logical_expr::{Expr, ExprFunctionExt, LogicalPlan, LogicalPlanBuilder, SortExpr, cast, lit};
use functions::{Arg, TypedExpr};
use kql::ast::{self, ExprKind};
use kql::{Diagnostic, Span};
use schema::KqlType;
use serde_json::Value as Json;
use std::collections::BTreeMap;

pub(super) fn side(s: &str, n: &str) -> Expr {
    Expr::Column(Column::new(Some(TableReference::bare(s)), n))
}

pub(super) fn df_err(e: functions::FnError) -> datafusion::error::DataFusionError {
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
            "sliding_window_counts" => self.plugin_sliding_window_counts(t, args, env, e.plugin_span),
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
