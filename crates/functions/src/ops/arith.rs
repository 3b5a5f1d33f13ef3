//! Arithmetic with Kusto's typing: int/long/real promotion, integer division that
//! truncates and yields null on division by zero, datetime and timespan arithmetic in
//! 100 ns ticks, and numbers inside dynamic values.

use crate::api::TypedExpr;
use crate::catalog::call_udf;
use crate::error::FnError;
use crate::udf::{Ret, RowUdf};
use crate::val::{Val, json_to_val};
use datafusion::common::Result;
use datafusion::logical_expr::{Expr, Operator, ScalarUDF, binary_expr, cast};
use schema::KqlType;
use schema::types::NANOS_PER_TICK;
use serde_json::Value as Json;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

impl ArithOp {
    pub fn parse(op: &str) -> Option<Self> {
        Some(match op {
            "+" => ArithOp::Add,
            "-" => ArithOp::Sub,
            "*" => ArithOp::Mul,
            "/" => ArithOp::Div,
            "%" => ArithOp::Mod,
            _ => return None,
        })
    }

    fn symbol(self) -> &'static str {
        match self {
            ArithOp::Add => "+",
            ArithOp::Sub => "-",
            ArithOp::Mul => "*",
            ArithOp::Div => "/",
            ArithOp::Mod => "%",
        }
    }

    fn udf_name(self) -> &'static str {
        match self {
            ArithOp::Add => "kql_op_add",
            ArithOp::Sub => "kql_op_sub",
            ArithOp::Mul => "kql_op_mul",
            ArithOp::Div => "kql_op_div",
            ArithOp::Mod => "kql_op_mod",
        }
    }
}

/// The KQL type of `l op r`, or `None` when Kusto does not define the operator for them.
pub fn arith_type(op: ArithOp, l: KqlType, r: KqlType) -> Option<KqlType> {
    use ArithOp::*;
    use KqlType::*;
    if l == Dynamic || r == Dynamic {
        let other = if l == Dynamic { r } else { l };
        return (other.is_numeric() || other == Dynamic || matches!(other, DateTime | TimeSpan)).then_some(Dynamic);
    }
    if l.is_numeric() && r.is_numeric() {
        return crate::coerce::unify2(l, r);
    }
    match (op, l, r) {
        (Sub, DateTime, DateTime) => Some(TimeSpan),
        (Add | Sub, DateTime, TimeSpan) | (Add, TimeSpan, DateTime) => Some(DateTime),
        (Add | Sub | Mod, TimeSpan, TimeSpan) => Some(TimeSpan),
        (Div, TimeSpan, TimeSpan) => Some(Real),
        (Mul | Div, TimeSpan, n) if n.is_numeric() => Some(TimeSpan),
        (Mul, n, TimeSpan) if n.is_numeric() => Some(TimeSpan),
        _ => None,
    }
}

/// Lowers `l op r` for an arithmetic operator.
pub fn lower_arith(op: ArithOp, l: TypedExpr, r: TypedExpr) -> Result<TypedExpr, FnError> {
    let ty = arith_type(op, l.ty, r.ty).ok_or_else(|| FnError::operator(op.symbol(), &[l.ty, r.ty]))?;
    let native = matches!(op, ArithOp::Add | ArithOp::Sub | ArithOp::Mul)
        && matches!(ty, KqlType::Int | KqlType::Long | KqlType::Real);
    if native {
        let to = ty.to_arrow();
        let df_op = match op {
            ArithOp::Add => Operator::Plus,
            ArithOp::Sub => Operator::Minus,
            _ => Operator::Multiply,
        };
        let le = if l.ty == ty { l.expr } else { cast(l.expr, to.clone()) };
        let re = if r.ty == ty { r.expr } else { cast(r.expr, to) };
        return Ok(TypedExpr::new(binary_expr(le, df_op, re), ty));
    }
    Ok(TypedExpr::new(call_udf(op.udf_name(), vec![l.expr, r.expr])?, ty))
}

/// A number taken out of a dynamic value (other dynamic values are not numbers).
fn unwrap_dyn(v: &Val) -> Val {
    match v {
        Val::Dyn(j @ (Json::Number(_) | Json::Null | Json::Bool(_))) => json_to_val(j),
        Val::Dyn(Json::String(s)) => {
            // Datetimes and timespans inside dynamic values are strings.
            if let Some(n) = schema::values::parse_datetime(s) {
                Val::DateTime(n)
            } else if let Some(n) = schema::values::parse_timespan(s) {
                Val::TimeSpan(n)
            } else {
                Val::Null
            }
        }
        Val::Dyn(_) => Val::Null,
        other => other.clone(),
    }
}

fn int_op(op: ArithOp, a: i64, b: i64) -> Option<i64> {
    Some(match op {
        ArithOp::Add => a.wrapping_add(b),
        ArithOp::Sub => a.wrapping_sub(b),
        ArithOp::Mul => a.wrapping_mul(b),
        ArithOp::Div => {
            if b == 0 {
                return None;
            }
            a.wrapping_div(b)
        }
        ArithOp::Mod => {
            if b == 0 {
                return None;
            }
            a.wrapping_rem(b)
        }
    })
}

fn real_op(op: ArithOp, a: f64, b: f64) -> f64 {
    match op {
        ArithOp::Add => a + b,
        ArithOp::Sub => a - b,
        ArithOp::Mul => a * b,
        ArithOp::Div => a / b,
        ArithOp::Mod => a % b,
    }
}

fn tick(n: i64) -> i64 {
    n - n % NANOS_PER_TICK
}

/// `l op r` on values, with Kusto's semantics (the row function behind the UDFs).
pub fn arith(op: ArithOp, l: &Val, r: &Val) -> Val {
    use ArithOp::*;
    let dynamic = matches!(l, Val::Dyn(_)) || matches!(r, Val::Dyn(_));
    let (l, r) = (unwrap_dyn(l), unwrap_dyn(r));
    if l.is_null() || r.is_null() {
        return Val::Null;
    }
    let out = match (&l, &r) {
        (Val::Int(a), Val::Int(b)) => int_op(op, *a as i64, *b as i64)
            .map(|v| Val::Int(v as i32))
            .unwrap_or(Val::Null),
        (Val::Int(_) | Val::Long(_), Val::Int(_) | Val::Long(_)) => match (l.as_i64(), r.as_i64()) {
            (Some(a), Some(b)) => int_op(op, a, b).map(Val::Long).unwrap_or(Val::Null),
            _ => Val::Null,
        },
        (Val::Decimal(a), Val::Decimal(_) | Val::Int(_) | Val::Long(_))
        | (Val::Int(_) | Val::Long(_), Val::Decimal(a)) => {
            let _ = a;
            decimal_op(op, &l, &r)
        }
        (Val::DateTime(a), Val::DateTime(b)) if op == Sub => Val::TimeSpan(a.wrapping_sub(*b)),
        (Val::DateTime(a), Val::TimeSpan(b)) if op == Add => Val::DateTime(a.wrapping_add(*b)),
        (Val::DateTime(a), Val::TimeSpan(b)) if op == Sub => Val::DateTime(a.wrapping_sub(*b)),
        (Val::TimeSpan(a), Val::DateTime(b)) if op == Add => Val::DateTime(a.wrapping_add(*b)),
        (Val::TimeSpan(a), Val::TimeSpan(b)) => match op {
            Add => Val::TimeSpan(a.wrapping_add(*b)),
            Sub => Val::TimeSpan(a.wrapping_sub(*b)),
            Div => Val::Real(*a as f64 / *b as f64),
            Mod => int_op(Mod, *a, *b).map(Val::TimeSpan).unwrap_or(Val::Null),
            Mul => Val::Null,
        },
        (Val::TimeSpan(a), n) if matches!(op, Mul | Div) && n.as_f64().is_some() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            let v = real_op(op, *a as f64, f);
            crate::val::real_to_i64(v)
                .map(|x| Val::TimeSpan(tick(x)))
                .unwrap_or(Val::Null)
        }
        (n, Val::TimeSpan(a)) if op == Mul && n.as_f64().is_some() => {
            let v = *a as f64 * n.as_f64().unwrap_or(f64::NAN);
            crate::val::real_to_i64(v)
                .map(|x| Val::TimeSpan(tick(x)))
                .unwrap_or(Val::Null)
        }
        (a, b) => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) if !matches!(a, Val::Bool(_)) && !matches!(b, Val::Bool(_)) => {
                Val::Real(real_op(op, x, y))
            }
            _ => Val::Null,
        },
    };
    if dynamic && !out.is_null() {
        Val::Dyn(out.to_json())
    } else {
        out
    }
}

fn decimal_op(op: ArithOp, l: &Val, r: &Val) -> Val {
    let scale = 10i128.pow(schema::types::DECIMAL_SCALE as u32);
    let as_dec = |v: &Val| match v {
        Val::Decimal(d) => Some(*d),
        other => other.as_i64().map(|i| i as i128 * scale),
    };
    let (Some(a), Some(b)) = (as_dec(l), as_dec(r)) else {
        return Val::Null;
    };
    let out = match op {
        ArithOp::Add => a.checked_add(b),
        ArithOp::Sub => a.checked_sub(b),
        ArithOp::Mul => a.checked_mul(b).map(|x| x / scale),
        ArithOp::Div => (b != 0).then(|| a.checked_mul(scale).map(|x| x / b)).flatten(),
        ArithOp::Mod => (b != 0).then(|| a.checked_rem(b)).flatten(),
    };
    out.map(Val::Decimal).unwrap_or(Val::Null)
}

fn row_udf(op: ArithOp, ret: fn(&[KqlType]) -> KqlType, f: fn(&[Val]) -> Result<Val>) -> ScalarUDF {
    let _ = op;
    RowUdf::new(op.udf_name().to_string(), Ret::Fn(ret), f).into_udf()
}

fn ty_of(op: ArithOp, t: &[KqlType]) -> KqlType {
    match t {
        [l, r] => arith_type(op, *l, *r).unwrap_or(KqlType::Dynamic),
        _ => KqlType::Dynamic,
    }
}

fn two(v: &[Val]) -> (&Val, &Val) {
    match v {
        [a, b, ..] => (a, b),
        [a] => (a, &Val::Null),
        [] => (&Val::Null, &Val::Null),
    }
}

pub fn udfs() -> Vec<ScalarUDF> {
    vec![
        row_udf(
            ArithOp::Add,
            |t| ty_of(ArithOp::Add, t),
            |v| {
                let (a, b) = two(v);
                Ok(arith(ArithOp::Add, a, b))
            },
        ),
        row_udf(
            ArithOp::Sub,
            |t| ty_of(ArithOp::Sub, t),
            |v| {
                let (a, b) = two(v);
                Ok(arith(ArithOp::Sub, a, b))
            },
        ),
        row_udf(
            ArithOp::Mul,
            |t| ty_of(ArithOp::Mul, t),
            |v| {
                let (a, b) = two(v);
                Ok(arith(ArithOp::Mul, a, b))
            },
        ),
        row_udf(
            ArithOp::Div,
            |t| ty_of(ArithOp::Div, t),
            |v| {
                let (a, b) = two(v);
                Ok(arith(ArithOp::Div, a, b))
            },
        ),
        row_udf(
            ArithOp::Mod,
            |t| ty_of(ArithOp::Mod, t),
            |v| {
                let (a, b) = two(v);
                Ok(arith(ArithOp::Mod, a, b))
            },
        ),
    ]
}

/// `-x`.
pub fn lower_neg(e: TypedExpr) -> Result<TypedExpr, FnError> {
    match e.ty {
        KqlType::Int | KqlType::Long | KqlType::Real => Ok(TypedExpr::new(Expr::Negative(Box::new(e.expr)), e.ty)),
        KqlType::TimeSpan | KqlType::Decimal | KqlType::Dynamic => {
            let zero = match e.ty {
                KqlType::TimeSpan => {
                    TypedExpr::literal(datafusion::common::ScalarValue::DurationNanosecond(Some(0)), e.ty)
                }
                KqlType::Decimal => TypedExpr::literal(
                    datafusion::common::ScalarValue::Decimal128(
                        Some(0),
                        schema::types::DECIMAL_PRECISION,
                        schema::types::DECIMAL_SCALE,
                    ),
                    e.ty,
                ),
                _ => TypedExpr::literal(datafusion::common::ScalarValue::Int64(Some(0)), KqlType::Long),
            };
            lower_arith(ArithOp::Sub, zero, e)
        }
        other => Err(FnError::OperatorTypes {
            op: "-".into(),
            types: other.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_division_truncates_and_zero_is_null() {
        assert_eq!(arith(ArithOp::Div, &Val::Long(7), &Val::Long(2)), Val::Long(3));
        assert_eq!(arith(ArithOp::Div, &Val::Long(-7), &Val::Long(2)), Val::Long(-3));
        assert_eq!(arith(ArithOp::Mod, &Val::Long(-7), &Val::Long(3)), Val::Long(-1));
        assert_eq!(arith(ArithOp::Div, &Val::Long(1), &Val::Long(0)), Val::Null);
        assert_eq!(arith(ArithOp::Mod, &Val::Int(1), &Val::Int(0)), Val::Null);
        assert_eq!(
            arith(ArithOp::Div, &Val::Real(1.0), &Val::Long(0)),
            Val::Real(f64::INFINITY)
        );
        assert_eq!(
            arith(ArithOp::Add, &Val::Long(i64::MAX), &Val::Long(1)),
            Val::Long(i64::MIN)
        );
    }

    #[test]
    fn temporal_arithmetic() {
        let day = 86_400_000_000_000;
        assert_eq!(
            arith(ArithOp::Sub, &Val::DateTime(day), &Val::DateTime(0)),
            Val::TimeSpan(day)
        );
        assert_eq!(
            arith(ArithOp::Add, &Val::DateTime(0), &Val::TimeSpan(day)),
            Val::DateTime(day)
        );
        assert_eq!(
            arith(ArithOp::Div, &Val::TimeSpan(day), &Val::TimeSpan(day / 2)),
            Val::Real(2.0)
        );
        assert_eq!(
            arith(ArithOp::Mul, &Val::TimeSpan(day), &Val::Real(0.5)),
            Val::TimeSpan(day / 2)
        );
        assert_eq!(
            arith(ArithOp::Mul, &Val::Long(2), &Val::TimeSpan(day)),
            Val::TimeSpan(2 * day)
        );
        // A third of a second is truncated to a whole tick.
        assert_eq!(
            arith(ArithOp::Div, &Val::TimeSpan(1_000_000_000), &Val::Long(3)),
            Val::TimeSpan(333_333_300)
        );
        assert_eq!(arith_type(ArithOp::Add, KqlType::DateTime, KqlType::DateTime), None);
        assert_eq!(
            arith_type(ArithOp::Add, KqlType::Int, KqlType::Real),
            Some(KqlType::Real)
        );
    }

    #[test]
    fn dynamic_numbers() {
        let d = Val::Dyn(serde_json::json!(5));
        assert_eq!(arith(ArithOp::Add, &d, &Val::Long(1)), Val::Dyn(serde_json::json!(6)));
        assert_eq!(
            arith(ArithOp::Add, &Val::Dyn(serde_json::json!("x")), &Val::Long(1)),
            Val::Null
        );
    }
}
