//! Conditionals and null tests: `iff`/`iif`, `case`, `coalesce`, `isnull`, `isnotnull`,
//! `isempty`, `isnotempty`, `not`; and the query clock: `now`, `ago`.

use super::arg;
use crate::api::TypedExpr;
use crate::catalog::{Call, FnDef, P, custom, custom_var, p, row};
use crate::coerce::convert_all;
use crate::error::FnError;
use crate::ops::arith::{ArithOp, lower_arith};
use crate::val::Val;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Expr, when};
use datafusion::prelude::lit;
use schema::KqlType;
use serde_json::Value as Json;

const COND3: &[crate::catalog::Param] = &[p("if", P::Bool), p("then", P::Any), p("else", P::Any)];
const X: &[crate::catalog::Param] = &[p("value", P::Any)];

pub static DEFS: &[FnDef] = &[
    custom("iff", COND3, 3, lower_iff),
    custom("iif", COND3, 3, lower_iff),
    custom_var("case", &[p("predicate", P::Any)], 3, lower_case),
    custom_var("coalesce", &[p("arg", P::Any)], 1, lower_coalesce),
    custom("isnull", X, 1, |c| lower_null_test(c, false)),
    custom("isnotnull", X, 1, |c| lower_null_test(c, true)),
    custom("isempty", X, 1, |c| lower_empty_test(c, false)),
    custom("isnotempty", X, 1, |c| lower_empty_test(c, true)),
    custom("not", &[p("expr", P::Bool)], 1, |c| crate::ops::lower_not(first(c)?)),
    custom("now", &[p("offset", P::TimeSpan)], 0, lower_now),
    custom("ago", &[p("timespan", P::TimeSpan)], 1, lower_ago),
    row("__is_empty_dynamic", X, 1, KqlType::Bool, |a| {
        Ok(Val::Bool(match arg(a, 0) {
            Val::Null | Val::Dyn(Json::Null) => true,
            Val::Dyn(Json::String(s)) => s.is_empty(),
            Val::Str(s) => s.is_empty(),
            _ => false,
        }))
    }),
];

fn first(c: &Call) -> Result<TypedExpr, FnError> {
    c.args.first().cloned().ok_or_else(|| FnError::arg_count(c.name, 1, 1))
}

fn cond_expr(c: TypedExpr) -> Result<Expr, FnError> {
    match c.ty {
        KqlType::Bool => Ok(c.expr),
        KqlType::Dynamic => Ok(crate::catalog::call_row("tobool", vec![c])?.expr),
        other => Err(FnError::ArgType {
            name: "iff".into(),
            position: 1,
            expected: "bool".into(),
            actual: other,
        }),
    }
}

fn lower_iff(c: &Call) -> Result<TypedExpr, FnError> {
    let [cond, then, els] = c.args.as_slice() else {
        return Err(FnError::arg_count(c.name, 3, 3));
    };
    let (vals, ty) = convert_all(c.name, vec![then.clone(), els.clone()])?;
    let [t, e] = <[TypedExpr; 2]>::try_from(vals).map_err(|_| FnError::Internal("iff arity".into()))?;
    let expr = when(cond_expr(cond.clone())?, t.expr).otherwise(e.expr)?;
    Ok(TypedExpr::new(expr, ty))
}

fn lower_case(c: &Call) -> Result<TypedExpr, FnError> {
    if c.args.len() < 3 || c.args.len().is_multiple_of(2) {
        return Err(FnError::invalid(
            c.name,
            "expects pairs of predicate and value followed by an else value (an odd number of arguments, at least 3)",
        ));
    }
    let n = c.args.len();
    // Branch values sit at odd positions; the else value is the last argument.
    let values: Vec<TypedExpr> = c.args.iter().skip(1).step_by(2).chain(c.args.last()).cloned().collect();
    let (values, ty) = convert_all(c.name, values)?;
    let mut preds = Vec::new();
    for i in (0..n - 1).step_by(2) {
        preds.push(cond_expr(c.args[i].clone())?);
    }
    let (else_v, branch_vals) = values.split_last().ok_or_else(|| FnError::Internal("case".into()))?;
    let mut it = preds.into_iter().zip(branch_vals.iter());
    let Some((p0, v0)) = it.next() else {
        return Err(FnError::Internal("case".into()));
    };
    let mut builder = when(p0, v0.expr.clone());
    for (p, v) in it {
        builder = builder.when(p, v.expr.clone());
    }
    Ok(TypedExpr::new(builder.otherwise(else_v.expr.clone())?, ty))
}

fn lower_coalesce(c: &Call) -> Result<TypedExpr, FnError> {
    let (vals, ty) = convert_all(c.name, c.args.clone())?;
    if vals.len() == 1 {
        return Ok(vals
            .into_iter()
            .next()
            .unwrap_or_else(|| TypedExpr::new(lit(""), KqlType::String)));
    }
    // For strings "non-null" means non-empty. Built as CASE (not DataFusion's coalesce,
    // which only executes after the optimizer has rewritten it).
    let present = |e: &Expr| {
        if ty == KqlType::String {
            e.clone().is_not_null().and(e.clone().not_eq(lit("")))
        } else {
            e.clone().is_not_null()
        }
    };
    let (last, init) = vals.split_last().ok_or_else(|| FnError::Internal("coalesce".into()))?;
    let mut it = init.iter();
    let Some(first) = it.next() else {
        return Ok(last.clone());
    };
    let mut b = when(present(&first.expr), first.expr.clone());
    for v in it {
        b = b.when(present(&v.expr), v.expr.clone());
    }
    Ok(TypedExpr::new(b.otherwise(last.expr.clone())?, ty))
}

fn lower_null_test(c: &Call, negated: bool) -> Result<TypedExpr, FnError> {
    let a = first(c)?;
    let e = match a.ty {
        // Strings are never null in Kusto.
        KqlType::String => lit(negated),
        KqlType::Dynamic => {
            let isnull = crate::catalog::call_row("__is_null_dynamic", vec![a])?.expr;
            if negated { Expr::Not(Box::new(isnull)) } else { isnull }
        }
        _ => {
            if negated {
                a.expr.is_not_null()
            } else {
                a.expr.is_null()
            }
        }
    };
    Ok(TypedExpr::new(e, KqlType::Bool))
}

fn lower_empty_test(c: &Call, negated: bool) -> Result<TypedExpr, FnError> {
    let a = first(c)?;
    let e = match a.ty {
        KqlType::String | KqlType::Guid => a.expr.clone().is_null().or(a.expr.eq(lit(""))),
        KqlType::Dynamic => crate::catalog::call_row("__is_empty_dynamic", vec![a])?.expr,
        _ => a.expr.is_null(),
    };
    Ok(TypedExpr::new(
        if negated { Expr::Not(Box::new(e)) } else { e },
        KqlType::Bool,
    ))
}

fn now_literal(c: &Call) -> TypedExpr {
    TypedExpr::literal(
        ScalarValue::TimestampNanosecond(Some(c.ctx.now_nanos), None),
        KqlType::DateTime,
    )
}

fn lower_now(c: &Call) -> Result<TypedExpr, FnError> {
    match c.args.first() {
        None => Ok(now_literal(c)),
        Some(offset) => lower_arith(ArithOp::Add, now_literal(c), offset.clone()),
    }
}

fn lower_ago(c: &Call) -> Result<TypedExpr, FnError> {
    lower_arith(ArithOp::Sub, now_literal(c), first(c)?)
}
