//! Comparisons: `== != < <= > >=` (strings compare case-sensitively and ordinally) and
//! the case-insensitive `=~ !~`. Values of types Kusto cannot compare are an error, not
//! `false`. Dynamic operands compare by their content (`d.name == "x"` works as in Kusto).

use crate::api::TypedExpr;
use crate::catalog::call_udf;
use crate::coerce::{as_string, is_null_literal, unify2};
use crate::error::FnError;
use crate::kernels::StrPredUdf;
use crate::terms::StrOp;
use crate::udf::{Ret, RowUdf};
use crate::val::{Val, json_to_val};
use datafusion::logical_expr::{Expr, Operator, ScalarUDF, binary_expr, cast, when};
use schema::KqlType;
use serde_json::Value as Json;
use std::cmp::Ordering;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub fn parse(op: &str) -> Option<Self> {
        Some(match op {
            "==" => CmpOp::Eq,
            "!=" | "<>" => CmpOp::Ne,
            "<" => CmpOp::Lt,
            "<=" => CmpOp::Le,
            ">" => CmpOp::Gt,
            ">=" => CmpOp::Ge,
            _ => return None,
        })
    }

    fn operator(self) -> Operator {
        match self {
            CmpOp::Eq => Operator::Eq,
            CmpOp::Ne => Operator::NotEq,
            CmpOp::Lt => Operator::Lt,
            CmpOp::Le => Operator::LtEq,
            CmpOp::Gt => Operator::Gt,
            CmpOp::Ge => Operator::GtEq,
        }
    }

    fn udf_name(self) -> &'static str {
        match self {
            CmpOp::Eq => "kql_op_eq",
            CmpOp::Ne => "kql_op_ne",
            CmpOp::Lt => "kql_op_lt",
            CmpOp::Le => "kql_op_le",
            CmpOp::Gt => "kql_op_gt",
            CmpOp::Ge => "kql_op_ge",
        }
    }

    fn holds(self, o: Ordering) -> bool {
        match self {
            CmpOp::Eq => o == Ordering::Equal,
            CmpOp::Ne => o != Ordering::Equal,
            CmpOp::Lt => o == Ordering::Less,
            CmpOp::Le => o != Ordering::Greater,
            CmpOp::Gt => o == Ordering::Greater,
            CmpOp::Ge => o != Ordering::Less,
        }
    }
}

fn stringish(t: KqlType) -> bool {
    matches!(t, KqlType::String | KqlType::Guid)
}

/// Lowers `l op r` for a comparison operator.
pub fn lower_compare(op: CmpOp, l: TypedExpr, r: TypedExpr) -> Result<TypedExpr, FnError> {
    // A typed null compares with anything (the result is null).
    let (lt, rt) = (l.ty, r.ty);
    if lt == KqlType::Dynamic || rt == KqlType::Dynamic {
        return Ok(TypedExpr::new(
            call_udf(op.udf_name(), vec![l.expr, r.expr])?,
            KqlType::Bool,
        ));
    }
    let common = if is_null_literal(&l) {
        Some(rt)
    } else if is_null_literal(&r) {
        Some(lt)
    } else if stringish(lt) && stringish(rt) {
        Some(KqlType::String)
    } else {
        unify2(lt, rt)
    };
    let Some(common) = common else {
        return Err(FnError::CannotCompare { left: lt, right: rt });
    };
    let (l_null, r_null) = (is_null_literal(&l), is_null_literal(&r));
    let (l_lit, r_lit) = (l.as_literal().is_some(), r.as_literal().is_some());
    let conv = |e: TypedExpr| {
        if e.ty == common || (stringish(e.ty) && stringish(common)) {
            e.expr
        } else {
            cast(e.expr, common.to_arrow())
        }
    };
    let (le, re) = (conv(l), conv(r));
    if !matches!(op, CmpOp::Eq | CmpOp::Ne) {
        return Ok(TypedExpr::new(binary_expr(le, op.operator(), re), KqlType::Bool));
    }
    // Kusto's equality with nulls: one null side makes `==` false and `!=` true; two null
    // sides give null. Comparisons with a constant keep a plain `=`/`!=` conjunct so that
    // scans can still prune on it.
    let eq = op == CmpOp::Eq;
    let null_bool = || datafusion::prelude::lit(datafusion::common::ScalarValue::Boolean(None));
    let e = if l_null && r_null {
        null_bool()
    } else if l_null || r_null {
        let other = if l_null { re } else { le };
        when(other.is_null(), null_bool()).otherwise(datafusion::prelude::lit(!eq))?
    } else if l_lit || r_lit {
        let (col, constant) = if r_lit { (le, re) } else { (re, le) };
        if eq {
            col.clone().is_not_null().and(col.eq(constant))
        } else {
            col.clone().is_null().or(col.not_eq(constant))
        }
    } else {
        let both_null = le.clone().is_null().and(re.clone().is_null());
        let distinct = if eq {
            binary_expr(le, Operator::IsNotDistinctFrom, re)
        } else {
            binary_expr(le, Operator::IsDistinctFrom, re)
        };
        when(both_null, null_bool()).otherwise(distinct)?
    };
    Ok(TypedExpr::new(e, KqlType::Bool))
}

/// `l =~ r` (negated: `!~`): case-insensitive string equality.
pub fn lower_equals_ci(negated: bool, l: TypedExpr, r: TypedExpr) -> Result<TypedExpr, FnError> {
    let e = call_udf(
        &StrPredUdf::udf_name(StrOp::Equals, false),
        vec![as_string(l)?, as_string(r)?],
    )?;
    Ok(TypedExpr::new(
        if negated { Expr::Not(Box::new(e)) } else { e },
        KqlType::Bool,
    ))
}

/// A dynamic scalar as a plain value; arrays and bags stay dynamic.
fn unwrap(v: &Val) -> Val {
    match v {
        Val::Dyn(j @ (Json::Number(_) | Json::String(_) | Json::Bool(_) | Json::Null)) => json_to_val(j),
        other => other.clone(),
    }
}

/// Kusto's ordering of two values of possibly different types (dynamic content included),
/// or `None` when they do not compare (or either is null).
pub fn compare_vals(l: &Val, r: &Val) -> Option<Ordering> {
    let (l, r) = (unwrap(l), unwrap(r));
    match (&l, &r) {
        (Val::Null, _) | (_, Val::Null) => None,
        (Val::Str(a), Val::Str(b)) => Some(a.cmp(b)),
        (Val::Bool(a), Val::Bool(b)) => Some(a.cmp(b)),
        (Val::DateTime(a), Val::DateTime(b)) | (Val::TimeSpan(a), Val::TimeSpan(b)) => Some(a.cmp(b)),
        (Val::DateTime(a), Val::Str(s)) => schema::values::parse_datetime(s).map(|b| a.cmp(&b)),
        (Val::Str(s), Val::DateTime(b)) => schema::values::parse_datetime(s).map(|a| a.cmp(b)),
        (Val::TimeSpan(a), Val::Str(s)) => schema::values::parse_timespan(s).map(|b| a.cmp(&b)),
        (Val::Str(s), Val::TimeSpan(b)) => schema::values::parse_timespan(s).map(|a| a.cmp(b)),
        (Val::Long(a), Val::Long(b)) => Some(a.cmp(b)),
        (Val::Dyn(a), Val::Dyn(b)) => (a == b).then_some(Ordering::Equal).or(Some(Ordering::Less)),
        (a, b) => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) if !matches!(a, Val::Bool(_)) && !matches!(b, Val::Bool(_)) => x.partial_cmp(&y),
            _ => None,
        },
    }
}

fn cmp_row(op: CmpOp, v: &[Val]) -> Val {
    match v {
        [a, b] => match compare_vals(a, b) {
            Some(o) => Val::Bool(op.holds(o)),
            // One null side: `==` is false and `!=` true (Kusto's rule); otherwise null.
            None if a.is_null() != b.is_null() && matches!(op, CmpOp::Eq | CmpOp::Ne) => Val::Bool(op == CmpOp::Ne),
            None => Val::Null,
        },
        _ => Val::Null,
    }
}

pub fn udfs() -> Vec<ScalarUDF> {
    let make = |op: CmpOp, f: crate::udf::RowFn| {
        RowUdf::new(op.udf_name().to_string(), Ret::Fixed(KqlType::Bool), f).into_udf()
    };
    vec![
        make(CmpOp::Eq, |v| Ok(cmp_row(CmpOp::Eq, v))),
        make(CmpOp::Ne, |v| Ok(cmp_row(CmpOp::Ne, v))),
        make(CmpOp::Lt, |v| Ok(cmp_row(CmpOp::Lt, v))),
        make(CmpOp::Le, |v| Ok(cmp_row(CmpOp::Le, v))),
        make(CmpOp::Gt, |v| Ok(cmp_row(CmpOp::Gt, v))),
        make(CmpOp::Ge, |v| Ok(cmp_row(CmpOp::Ge, v))),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dynamic_content_compares_with_scalars() {
        assert_eq!(
            compare_vals(&Val::Dyn(json!("x")), &Val::Str("x".into())),
            Some(Ordering::Equal)
        );
        assert_eq!(
            compare_vals(&Val::Dyn(json!(5)), &Val::Long(3)),
            Some(Ordering::Greater)
        );
        assert_eq!(compare_vals(&Val::Dyn(json!(2.5)), &Val::Long(3)), Some(Ordering::Less));
        assert_eq!(compare_vals(&Val::Dyn(json!(null)), &Val::Long(3)), None);
        assert_eq!(
            compare_vals(&Val::Dyn(json!([1])), &Val::Dyn(json!([1]))),
            Some(Ordering::Equal)
        );
    }

    #[test]
    fn incomparable_types_are_an_error() {
        let s = TypedExpr::new(datafusion::prelude::lit("a"), KqlType::String);
        let n = TypedExpr::new(datafusion::prelude::lit(1i64), KqlType::Long);
        assert_eq!(
            lower_compare(CmpOp::Eq, s, n).unwrap_err().to_string(),
            "Cannot compare values of types string and long. Try adding explicit casts"
        );
    }
}
