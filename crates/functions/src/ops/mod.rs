//! KQL's operators: arithmetic, comparison, logic, the string operators, `in` and
//! `between`, and dynamic member access.

pub mod arith;
pub mod compare;
pub mod dynamic_access;
pub mod fold;
pub mod membership;

use crate::api::TypedExpr;
use crate::catalog::call_udf;
use crate::coerce::as_string;
use crate::error::FnError;
use crate::kernels::StrPredUdf;
use crate::terms::StrOp;
use datafusion::logical_expr::{Expr, ScalarUDF, and, or};
use schema::KqlType;

pub use arith::lower_neg;
pub use dynamic_access::{lower_index, lower_member};
pub use fold::{fold_negated_string_tests, fold_string_tests};
pub use membership::{lower_between, lower_in};

/// The string predicates, by operator name: (operation, case-sensitive, negated).
fn string_operator(op: &str) -> Option<(StrOp, bool, bool)> {
    let (negated, rest) = match op.strip_prefix('!') {
        Some(r) => (true, r),
        None => (false, op),
    };
    let (base, cs) = match rest.strip_suffix("_cs") {
        Some(b) => (b, true),
        None => (rest, false),
    };
    let sop = match base {
        "has" => StrOp::Has,
        "hasprefix" => StrOp::HasPrefix,
        "hassuffix" => StrOp::HasSuffix,
        "contains" => StrOp::Contains,
        "startswith" => StrOp::StartsWith,
        "endswith" => StrOp::EndsWith,
        _ => return None,
    };
    Some((sop, cs, negated))
}

/// Every binary operator name [`lower_binary`] accepts.
pub const BINARY_OPERATORS: &[&str] = &[
    "+",
    "-",
    "*",
    "/",
    "%",
    "==",
    "!=",
    "<>",
    "<",
    "<=",
    ">",
    ">=",
    "=~",
    "!~",
    "and",
    "or",
    "has",
    "!has",
    "has_cs",
    "!has_cs",
    "hasprefix",
    "!hasprefix",
    "hasprefix_cs",
    "!hasprefix_cs",
    "hassuffix",
    "!hassuffix",
    "hassuffix_cs",
    "!hassuffix_cs",
    "contains",
    "!contains",
    "contains_cs",
    "!contains_cs",
    "startswith",
    "!startswith",
    "startswith_cs",
    "!startswith_cs",
    "endswith",
    "!endswith",
    "endswith_cs",
    "!endswith_cs",
    "matches regex",
];

/// Lowers `l op r` for every binary operator of KQL (see [`BINARY_OPERATORS`]).
pub fn lower_binary(op: &str, l: TypedExpr, r: TypedExpr) -> Result<TypedExpr, FnError> {
    if let Some(a) = arith::ArithOp::parse(op) {
        return arith::lower_arith(a, l, r);
    }
    if let Some(c) = compare::CmpOp::parse(op) {
        return compare::lower_compare(c, l, r);
    }
    match op {
        "=~" => return compare::lower_equals_ci(false, l, r),
        "!~" => return compare::lower_equals_ci(true, l, r),
        "and" | "or" => {
            for t in [l.ty, r.ty] {
                if !matches!(t, KqlType::Bool | KqlType::Dynamic) {
                    return Err(FnError::operator(op, &[l.ty, r.ty]));
                }
            }
            let (le, re) = (to_bool(l)?, to_bool(r)?);
            return Ok(TypedExpr::new(
                if op == "and" { and(le, re) } else { or(le, re) },
                KqlType::Bool,
            ));
        }
        "matches regex" => {
            return Ok(TypedExpr::new(
                call_udf(membership::MATCHES_REGEX, vec![as_string(l)?, as_string(r)?])?,
                KqlType::Bool,
            ));
        }
        _ => {}
    }
    if let Some((sop, cs, negated)) = string_operator(op) {
        let e = call_udf(&StrPredUdf::udf_name(sop, cs), vec![as_string(l)?, as_string(r)?])?;
        return Ok(TypedExpr::new(
            if negated { Expr::Not(Box::new(e)) } else { e },
            KqlType::Bool,
        ));
    }
    Err(FnError::Unsupported(format!("the operator '{op}'")))
}

fn to_bool(e: TypedExpr) -> Result<Expr, FnError> {
    if e.ty == KqlType::Bool {
        Ok(e.expr)
    } else {
        Ok(crate::catalog::call_row("tobool", vec![e])?.expr)
    }
}

/// `not(x)`.
pub fn lower_not(e: TypedExpr) -> Result<TypedExpr, FnError> {
    match e.ty {
        KqlType::Bool | KqlType::Dynamic => Ok(TypedExpr::new(Expr::Not(Box::new(to_bool(e)?)), KqlType::Bool)),
        other => Err(FnError::ArgType {
            name: "not".into(),
            position: 1,
            expected: "bool".into(),
            actual: other,
        }),
    }
}

/// The operator UDFs, for the registry.
pub fn udfs() -> Vec<ScalarUDF> {
    let mut out = arith::udfs();
    out.extend(compare::udfs());
    out.extend(dynamic_access::udfs());
    out.extend(membership::udfs());
    out
}

#[cfg(test)]
mod tests;
