//! `in`, `!in`, `in~`, `!in~`, `has_any`, `has_all`, `between`, `!between` and
//! `matches regex`.

use crate::api::TypedExpr;
use crate::catalog::call_udf;
use crate::coerce::{as_string, is_null_literal, unify};
use crate::error::FnError;
use crate::kernels::{HAS_ALL, HAS_ANY, IN_CI, IN_CS};
use crate::ops::arith::{ArithOp, lower_arith};
use crate::ops::compare::{CmpOp, compare_vals, lower_compare};
use crate::udf::{Ret, RowUdf};
use crate::val::{Val, json_to_val};
use datafusion::logical_expr::{Expr, ScalarUDF, and, cast, or};
use schema::KqlType;
use serde_json::Value as Json;
use std::cmp::Ordering;

pub const MATCHES_REGEX: &str = "kql_op_matches_regex";
const IN_VALUES: &str = "kql_op_in";

fn stringish(t: KqlType) -> bool {
    matches!(t, KqlType::String | KqlType::Guid)
}

/// `lhs op (list…)` for `in`, `!in`, `in~`, `!in~`, `has_any`, `has_all`. Elements of the
/// list that are dynamic arrays contribute their elements, as in Kusto
/// (`x in (dynamic([1, 2]))`, `x has_any (let_bound_list)`).
pub fn lower_in(op: &str, lhs: TypedExpr, list: Vec<TypedExpr>) -> Result<TypedExpr, FnError> {
    if list.is_empty() {
        return Err(FnError::invalid(op, "the list of values must not be empty"));
    }
    let (base, negated) = match op {
        "in" => ("in", false),
        "!in" => ("in", true),
        "in~" => ("in~", false),
        "!in~" => ("in~", true),
        "has_any" => ("has_any", false),
        "has_all" => ("has_all", false),
        _ => return Err(FnError::Unsupported(format!("the operator '{op}'"))),
    };
    let any_dynamic = list.iter().any(|e| e.ty == KqlType::Dynamic);
    let expr = match base {
        "has_any" | "has_all" => {
            let mut args = vec![as_string(lhs)?];
            for e in list {
                args.push(if e.ty == KqlType::Dynamic {
                    e.expr
                } else {
                    as_string(e)?
                });
            }
            call_udf(if base == "has_any" { HAS_ANY } else { HAS_ALL }, args)?
        }
        "in~" => {
            if !(stringish(lhs.ty) || lhs.ty == KqlType::Dynamic) {
                return Err(FnError::operator(op, &[lhs.ty]));
            }
            let mut args = vec![as_string(lhs)?];
            for e in list {
                args.push(if e.ty == KqlType::Dynamic {
                    e.expr
                } else {
                    as_string(e)?
                });
            }
            call_udf(IN_CI, args)?
        }
        _ => {
            let types: Vec<KqlType> = list.iter().filter(|e| !is_null_literal(e)).map(|e| e.ty).collect();
            if stringish(lhs.ty) && any_dynamic {
                let mut args = vec![lhs.expr];
                for e in list {
                    args.push(if e.ty == KqlType::Dynamic {
                        e.expr
                    } else {
                        as_string(e)?
                    });
                }
                call_udf(IN_CS, args)?
            } else if !any_dynamic && lhs.ty != KqlType::Dynamic {
                let mut all = types.clone();
                all.push(lhs.ty);
                let common = if all.iter().all(|t| stringish(*t)) {
                    Some(KqlType::String)
                } else {
                    unify(&all)
                };
                let Some(common) = common else {
                    let other = types
                        .iter()
                        .find(|t| unify(&[**t, lhs.ty]).is_none())
                        .copied()
                        .unwrap_or(lhs.ty);
                    return Err(FnError::CannotCompare {
                        left: lhs.ty,
                        right: other,
                    });
                };
                let conv = |e: TypedExpr| {
                    if e.ty == common || (stringish(e.ty) && stringish(common)) {
                        e.expr
                    } else {
                        cast(e.expr, common.to_arrow())
                    }
                };
                let items: Vec<Expr> = list.into_iter().map(conv).collect();
                conv(lhs).in_list(items, false)
            } else {
                let mut args = vec![lhs.expr];
                args.extend(list.into_iter().map(|e| e.expr));
                call_udf(IN_VALUES, args)?
            }
        }
    };
    Ok(TypedExpr::new(
        if negated { Expr::Not(Box::new(expr)) } else { expr },
        KqlType::Bool,
    ))
}

/// `x in (…)` over values of any types, dynamic arrays expanded.
fn in_values(args: &[Val]) -> datafusion::common::Result<Val> {
    let Some((x, list)) = args.split_first() else {
        return Ok(Val::Null);
    };
    if x.is_null() {
        return Ok(Val::Bool(false));
    }
    fn hit(x: &Val, v: &Val) -> bool {
        match v {
            Val::Dyn(Json::Array(items)) => items.iter().any(|it| hit(x, &json_to_val(it))),
            other => compare_vals(x, other) == Some(Ordering::Equal),
        }
    }
    Ok(Val::Bool(list.iter().any(|v| hit(x, v))))
}

fn matches_regex(args: &[Val]) -> datafusion::common::Result<Val> {
    let [s, pat] = args else { return Ok(Val::Null) };
    let re = crate::scalar::regex_cache::get(&pat.to_kstring())?;
    Ok(Val::Bool(re.is_match(&s.to_kstring())))
}

pub fn udfs() -> Vec<ScalarUDF> {
    vec![
        RowUdf::new(IN_VALUES.to_string(), Ret::Fixed(KqlType::Bool), in_values).into_udf(),
        RowUdf::new(MATCHES_REGEX.to_string(), Ret::Fixed(KqlType::Bool), matches_regex).into_udf(),
    ]
}

/// `lhs between (lo .. hi)` (negated: `!between`). For a datetime `lhs`, `hi` may be a
/// timespan, meaning `lo + hi`.
pub fn lower_between(negated: bool, lhs: TypedExpr, lo: TypedExpr, hi: TypedExpr) -> Result<TypedExpr, FnError> {
    let hi = if lhs.ty == KqlType::DateTime && lo.ty == KqlType::DateTime && hi.ty == KqlType::TimeSpan {
        lower_arith(ArithOp::Add, lo.clone(), hi)?
    } else {
        hi
    };
    let e = if negated {
        or(
            lower_compare(CmpOp::Lt, lhs.clone(), lo)?.expr,
            lower_compare(CmpOp::Gt, lhs, hi)?.expr,
        )
    } else {
        and(
            lower_compare(CmpOp::Ge, lhs.clone(), lo)?.expr,
            lower_compare(CmpOp::Le, lhs, hi)?.expr,
        )
    };
    Ok(TypedExpr::new(e, KqlType::Bool))
}
