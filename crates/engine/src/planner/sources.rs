//! Source operators that build rows from the query itself: `print`, `range`, `datatable`,
//! and `getschema`.

use super::Planner;
use super::env::Env;
use super::expr::Scope;
use super::tab::{Col, Tab, col};
use crate::diag::{self, PResult, Reported};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::{DFSchema, ScalarValue, UnnestOptions};
use datafusion::logical_expr::{EmptyRelation, Expr, LogicalPlan, LogicalPlanBuilder, cast, lit};
use kql::ast;
use kql::{Diagnostic, Span};
use schema::KqlType;
use std::sync::Arc;

/// Rows per generated chunk of `range`, so that a large range streams.
const RANGE_CHUNK: i64 = 8192;
/// The largest `range` we generate.
const MAX_RANGE_ROWS: i64 = 1 << 31;

impl Planner<'_> {
    /// `print a = 1, 2` → columns `a`, `print_1`.
    pub(super) fn plan_print(&mut self, p: &ast::PrintOp, env: &Env) -> PResult<Tab> {
        let mut items = Vec::with_capacity(p.items.len());
        let mut failed = false;
        let mut names: Vec<String> = Vec::new();
        for (i, item) in p.items.iter().enumerate() {
            let v = {
                let mut sc = Scope::new(env, None, "print");
                self.lower_scalar(&item.expr, &mut sc)
            };
            let Ok(v) = v else {
                failed = true;
                continue;
            };
            if let Some(columns) = self.expand_columns(&item.expr, item.name.as_ref(), &v, item.name.is_some()) {
                for (e, c) in columns {
                    if names.contains(&c.name) {
                        failed = true;
                        self.report(diag::duplicate_column(&c.name, item.span));
                        continue;
                    }
                    names.push(c.name.clone());
                    items.push((e, c));
                }
                continue;
            }
            let name = match &item.name {
                Some(ast::Assignee::Single(id)) => id.name.clone(),
                Some(ast::Assignee::Tuple { names: ids, span }) => match ids.as_slice() {
                    [only] => only.name.clone(),
                    _ => {
                        failed = true;
                        self.report(Diagnostic::error(
                            "KS149",
                            "The expression does not have multiple named values.",
                            *span,
                        ));
                        continue;
                    }
                },
                None => format!("print_{i}"),
            };
            if names.contains(&name) {
                failed = true;
                self.report(diag::duplicate_column(&name, item.span));
                continue;
            }
            names.push(name.clone());
            items.push((v.expr, Col::new(name, v.ty)));
        }
        if failed {
            return Err(Reported);
        }
        let one_row = match LogicalPlanBuilder::empty(true).build() {
            Ok(p) => p,
            Err(e) => return Err(self.internal("print", e, p.span)),
        };
        Tab::new(one_row, Vec::new())
            .project(items)
            .map_err(|e| self.internal("print", e, p.span))
    }

    /// `range x from a to b step s` (inclusive of `b` when reached).
    pub(super) fn plan_range(&mut self, r: &ast::RangeOp, env: &Env) -> PResult<Tab> {
        let from = self.const_value(&r.from, env, "range");
        let to = self.const_value(&r.to, env, "range");
        let step = self.const_value(&r.step, env, "range");
        let ((from, from_ty), (to, to_ty), (step, step_ty)) = (from?, to?, step?);
        use KqlType as K;
        let ty = match (from_ty, to_ty, step_ty) {
            (K::DateTime, K::DateTime, K::TimeSpan) => K::DateTime,
            (K::TimeSpan, K::TimeSpan, K::TimeSpan) => K::TimeSpan,
            (a, b, c) if a.is_numeric() && b.is_numeric() && c.is_numeric() => {
                if [a, b, c].iter().any(|t| matches!(t, K::Real | K::Decimal)) {
                    K::Real
                } else {
                    K::Long
                }
            }
            _ => {
                return Err(self.report(Diagnostic::error(
                    "KS178",
                    format!("The type '{step_ty}' is not an appropriate interval type for '{from_ty}'"),
                    r.step.span,
                )));
            }
        };
        let count = match range_count(&from, &to, &step, ty) {
            Ok(n) => n,
            Err(msg) => return Err(self.report(Diagnostic::error("QE007", format!("range: {msg}"), r.step.span))),
        };
        if count > MAX_RANGE_ROWS {
            return Err(self.report(Diagnostic::error(
                "QE007",
                format!("range: {count} rows is more than the {MAX_RANGE_ROWS} supported"),
                r.span,
            )));
        }
        let plan = self.range_plan(count, &from, &step, ty, &r.column.name);
        plan.map(|plan| {
            let mut t = Tab::new(plan, vec![Col::new(r.column.name.clone(), ty)]);
            t.serialized = true;
            t.order = vec![super::tab::OrderKey {
                expr: col(&r.column.name),
                asc: true,
                nulls_first: true,
            }];
            if !is_increasing(&step) {
                t.order.clear();
            }
            t
        })
        .map_err(|e| self.internal("range", e, r.span))
    }

    fn range_plan(
        &mut self,
        count: i64,
        from: &ScalarValue,
        step: &ScalarValue,
        ty: KqlType,
        name: &str,
    ) -> datafusion::common::Result<LogicalPlan> {
        let index = self.hidden("range_index");
        let list = self.hidden("range_list");
        let rows: Vec<Vec<Expr>> = (0..(count + RANGE_CHUNK - 1) / RANGE_CHUNK)
            .map(|c| {
                let lo = c * RANGE_CHUNK;
                let hi = (lo + RANGE_CHUNK).min(count);
                vec![lit(lo), lit(hi)]
            })
            .collect();
        let base = values_plan(
            rows,
            &[("lo".to_string(), DataType::Int64), ("hi".to_string(), DataType::Int64)],
        )?;
        let ranged = LogicalPlanBuilder::from(base)
            .project(vec![
                datafusion::functions_nested::expr_fn::range(col("lo"), col("hi"), lit(1i64)).alias(list.clone()),
            ])?
            .unnest_column_with_options(
                datafusion::common::Column::new_unqualified(list.clone()),
                UnnestOptions::default(),
            )?
            .project(vec![col(&list).alias(index.clone())])?
            .build()?;
        let i = col(&index);
        let value = match (ty, from, step) {
            (KqlType::Real, _, _) => {
                let f = scalar_f64(from).unwrap_or(0.0);
                let s = scalar_f64(step).unwrap_or(0.0);
                lit(f) + cast(i, DataType::Float64) * lit(s)
            }
            (KqlType::Long, _, _) => lit(scalar_i64(from).unwrap_or(0)) + i * lit(scalar_i64(step).unwrap_or(0)),
            (KqlType::DateTime | KqlType::TimeSpan, _, _) => {
                let f = scalar_i64(from).unwrap_or(0);
                let s = scalar_i64(step).unwrap_or(0);
                cast(lit(f) + i * lit(s), ty.to_arrow())
            }
            _ => lit(ScalarValue::Null),
        };
        LogicalPlanBuilder::from(ranged)
            .project(vec![value.alias(name)])?
            .build()
    }

    /// `datatable(a:long, b:string) [1, 'x', …]`
    pub(super) fn plan_datatable(&mut self, d: &ast::DatatableOp, env: &Env) -> PResult<Tab> {
        let mut cols = Vec::with_capacity(d.schema.columns.len());
        for c in &d.schema.columns {
            let ty = self.type_name(&c.ty)?;
            if cols.iter().any(|x: &Col| x.name == c.name.name) {
                return Err(self.report(diag::duplicate_column(&c.name.name, c.name.span)));
            }
            cols.push(Col::new(c.name.name.clone(), ty));
        }
        if cols.is_empty() {
            return Err(self.report(Diagnostic::error("KS190", "The table has no columns", d.schema.span)));
        }
        if !d.values.len().is_multiple_of(cols.len()) {
            return Err(self.report(Diagnostic::error(
                "KS173",
                format!(
                    "Incorrect number of data values. The values should appear in multiples of {}.",
                    cols.len()
                ),
                d.span,
            )));
        }
        let mut rows: Vec<Vec<Expr>> = Vec::with_capacity(d.values.len() / cols.len());
        let mut failed = false;
        for chunk in d.values.chunks(cols.len()) {
            let mut row = Vec::with_capacity(cols.len());
            for (v, c) in chunk.iter().zip(&cols) {
                match self.datatable_value(v, c.ty, env) {
                    Ok(s) => row.push(Expr::Literal(s, None)),
                    Err(_) => failed = true,
                }
            }
            rows.push(row);
        }
        if failed {
            return Err(Reported);
        }
        let fields: Vec<(String, DataType)> = cols.iter().map(|c| (c.name.clone(), c.ty.to_arrow())).collect();
        let plan = values_plan(rows, &fields);
        match plan {
            Ok(plan) => Ok(Tab::new(plan, cols)),
            Err(e) => Err(self.internal("datatable", e, d.span)),
        }
    }

    /// One value of a datatable: a constant of the column's type (numbers widen; a value of
    /// another type is an error, as in Kusto).
    fn datatable_value(&mut self, v: &ast::Expr, ty: KqlType, env: &Env) -> PResult<ScalarValue> {
        let value = self.lower_scalar_const(v, env, "datatable")?;
        let value = self.fold(value);
        let compatible = value.ty == ty
            || functions::coerce::is_null_literal(&value)
            || (value.ty.is_numeric() && ty.is_numeric())
            || (value.ty == KqlType::String && ty == KqlType::Guid)
            || (value.ty == KqlType::Guid && ty == KqlType::String)
            || ty == KqlType::Dynamic;
        if !compatible {
            return Err(self.report(diag::expected_type(ty.name(), v.span)));
        }
        let converted = if value.ty == ty {
            value
        } else {
            match functions::coerce::convert(value, ty) {
                Ok(c) => self.fold(c),
                Err(e) => return Err(self.report(diag::function_error(&e, v.span))),
            }
        };
        match converted.as_literal() {
            Some(s) => match s.cast_to(&ty.to_arrow()) {
                Ok(s) => Ok(s),
                Err(e) => Err(self.internal("a datatable value", e, v.span)),
            },
            None => Err(self.report(diag::constant_expected(v.span))),
        }
    }

    /// `getschema`: one row per column.
    pub(super) fn plan_getschema(&mut self, t: &Tab, span: Span) -> PResult<Tab> {
        let cols = vec![
            Col::new("ColumnName", KqlType::String),
            Col::new("ColumnOrdinal", KqlType::Int),
            Col::new("DataType", KqlType::String),
            Col::new("ColumnType", KqlType::String),
        ];
        let rows: Vec<Vec<Expr>> = t
            .cols
            .iter()
            .enumerate()
            .map(|(i, c)| {
                vec![
                    lit(c.name.clone()),
                    lit(i32::try_from(i).unwrap_or(i32::MAX)),
                    lit(c.ty.dotnet_name()),
                    lit(c.ty.name()),
                ]
            })
            .collect();
        let fields: Vec<(String, DataType)> = cols.iter().map(|c| (c.name.clone(), c.ty.to_arrow())).collect();
        let plan = values_plan(rows, &fields);
        match plan {
            Ok(plan) => {
                let mut out = Tab::new(plan, cols);
                out.serialized = true;
                Ok(out)
            }
            Err(e) => Err(self.internal("getschema", e, span)),
        }
    }

    /// No rows, with the schema of `t`.
    pub(super) fn empty_like(&mut self, t: Tab, span: Span) -> PResult<Tab> {
        match LogicalPlanBuilder::from(t.plan.clone())
            .filter(lit(false))
            .and_then(|b| b.build())
        {
            Ok(plan) => Ok(t.with_plan(plan)),
            Err(e) => Err(self.internal("an empty table", e, span)),
        }
    }
}

/// A `Values` plan whose columns have the given names and types (DataFusion names the
/// columns of `Values` `column1`, `column2`…).
pub(super) fn values_plan(
    rows: Vec<Vec<Expr>>,
    fields: &[(String, DataType)],
) -> datafusion::common::Result<LogicalPlan> {
    let arrow = Schema::new(
        fields
            .iter()
            .enumerate()
            .map(|(i, (_, t))| Field::new(format!("column{}", i + 1), t.clone(), true))
            .collect::<Vec<_>>(),
    );
    let schema = Arc::new(DFSchema::try_from(arrow)?);
    let base = if rows.is_empty() {
        LogicalPlan::EmptyRelation(EmptyRelation {
            produce_one_row: false,
            schema,
        })
    } else {
        LogicalPlanBuilder::values_with_schema(rows, &schema)?.build()?
    };
    let aliases: Vec<Expr> = fields
        .iter()
        .enumerate()
        .map(|(i, (name, _))| col(&format!("column{}", i + 1)).alias(name.clone()))
        .collect();
    LogicalPlanBuilder::from(base).project(aliases)?.build()
}

fn scalar_f64(v: &ScalarValue) -> Option<f64> {
    match v {
        ScalarValue::Float64(Some(f)) => Some(*f),
        ScalarValue::Int64(Some(i)) => Some(*i as f64),
        ScalarValue::Int32(Some(i)) => Some(f64::from(*i)),
        ScalarValue::Decimal128(Some(d), _, s) => Some(*d as f64 / 10f64.powi(i32::from(*s))),
        _ => None,
    }
}

fn scalar_i64(v: &ScalarValue) -> Option<i64> {
    match v {
        ScalarValue::Int64(Some(i)) => Some(*i),
        ScalarValue::Int32(Some(i)) => Some(i64::from(*i)),
        ScalarValue::TimestampNanosecond(Some(n), _) => Some(*n),
        ScalarValue::DurationNanosecond(Some(n)) => Some(*n),
        _ => None,
    }
}

fn is_increasing(step: &ScalarValue) -> bool {
    scalar_f64(step)
        .or_else(|| scalar_i64(step).map(|v| v as f64))
        .is_some_and(|s| s > 0.0)
}

/// How many values `range` produces (0 when the step goes away from `to`).
fn range_count(from: &ScalarValue, to: &ScalarValue, step: &ScalarValue, ty: KqlType) -> Result<i64, String> {
    if from.is_null() || to.is_null() || step.is_null() {
        return Ok(0);
    }
    if ty == KqlType::Real {
        let (f, t, s) = match (scalar_f64(from), scalar_f64(to), scalar_f64(step)) {
            (Some(f), Some(t), Some(s)) => (f, t, s),
            _ => return Err("the bounds must be numbers".into()),
        };
        if s == 0.0 || !s.is_finite() || !f.is_finite() || !t.is_finite() {
            return Err("the step must be a finite non-zero number".into());
        }
        let n = ((t - f) / s + 1e-9).floor();
        return Ok(if n < 0.0 { 0 } else { (n as i64).saturating_add(1) });
    }
    let (f, t, s) = match (scalar_i64(from), scalar_i64(to), scalar_i64(step)) {
        (Some(f), Some(t), Some(s)) => (i128::from(f), i128::from(t), i128::from(s)),
        _ => return Err("the bounds must be constants".into()),
    };
    if s == 0 {
        return Err("the step must not be zero".into());
    }
    if (t - f) != 0 && (t - f).signum() != s.signum() {
        return Ok(0);
    }
    // Same signs: the quotient is not negative and truncation is the floor.
    let n = (t - f) / s;
    Ok(i64::try_from(n.saturating_add(1)).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_counts() {
        let l = |v: i64| ScalarValue::Int64(Some(v));
        assert_eq!(range_count(&l(1), &l(10), &l(1), KqlType::Long), Ok(10));
        assert_eq!(range_count(&l(1), &l(10), &l(3), KqlType::Long), Ok(4));
        assert_eq!(range_count(&l(10), &l(1), &l(1), KqlType::Long), Ok(0));
        assert_eq!(range_count(&l(10), &l(1), &l(-2), KqlType::Long), Ok(5));
        assert_eq!(range_count(&l(5), &l(5), &l(1), KqlType::Long), Ok(1));
        assert!(range_count(&l(1), &l(5), &l(0), KqlType::Long).is_err());
        let r = |v: f64| ScalarValue::Float64(Some(v));
        assert_eq!(range_count(&r(0.1), &r(1.0), &r(0.1), KqlType::Real), Ok(10));
    }
}
