//! Literals of the AST as typed DataFusion values.

use crate::diag::{PResult, Reported};
use datafusion::common::ScalarValue;
use functions::TypedExpr;
use kql::ast::{DynamicValue, Literal, LiteralValue, RealValue};
use kql::{Diagnostic, Span};
use schema::KqlType;
use schema::types::DECIMAL_SCALE;
use serde_json::Value as Json;

/// A typed null of a KQL type.
pub fn null_of(ty: KqlType) -> ScalarValue {
    ScalarValue::try_from(&ty.to_arrow()).unwrap_or(ScalarValue::Null)
}

pub fn typed_null(ty: KqlType) -> TypedExpr {
    TypedExpr::literal(null_of(ty), ty)
}

pub fn string(s: impl Into<String>) -> TypedExpr {
    TypedExpr::literal(ScalarValue::Utf8(Some(s.into())), KqlType::String)
}

pub fn long(v: i64) -> TypedExpr {
    TypedExpr::literal(ScalarValue::Int64(Some(v)), KqlType::Long)
}

pub fn boolean(v: bool) -> TypedExpr {
    TypedExpr::literal(ScalarValue::Boolean(Some(v)), KqlType::Bool)
}

pub fn dynamic(j: &Json) -> TypedExpr {
    TypedExpr::literal(dynamic_scalar(j), KqlType::Dynamic)
}

pub fn dynamic_scalar(j: &Json) -> ScalarValue {
    ScalarValue::Binary(Some(j.to_string().into_bytes()))
}

pub fn datetime(nanos: i64) -> TypedExpr {
    TypedExpr::literal(ScalarValue::TimestampNanosecond(Some(nanos), None), KqlType::DateTime)
}

pub fn timespan(nanos: i64) -> TypedExpr {
    TypedExpr::literal(ScalarValue::DurationNanosecond(Some(nanos)), KqlType::TimeSpan)
}

/// Parses decimal text (`1.5`, `-2`, `1e3`) into the fixed point of `decimal` columns.
pub fn parse_decimal(text: &str) -> Option<i128> {
    let t = text.trim();
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (mantissa, exp) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], t[i + 1..].parse::<i32>().ok()?),
        None => (t, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    if !int_part.bytes().all(|b| b.is_ascii_digit()) || !frac_part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = format!("{int_part}{frac_part}");
    let scale = DECIMAL_SCALE as i32 - frac_part.len() as i32 + exp;
    let mut v: i128 = if digits.is_empty() { 0 } else { digits.parse().ok()? };
    if scale >= 0 {
        v = v.checked_mul(10i128.checked_pow(scale as u32)?)?;
    } else {
        v /= 10i128.checked_pow((-scale) as u32)?;
    }
    Some(if neg { -v } else { v })
}

/// The value of a literal. `now_nanos` is the query's `now()` (for `datetime()`).
pub fn literal(lit: &Literal, now_nanos: i64, diags: &mut Vec<Diagnostic>) -> PResult<TypedExpr> {
    let malformed = |diags: &mut Vec<Diagnostic>, what: &str, span: Span| {
        diags.push(Diagnostic::error("KS004", format!("Malformed {what} literal"), span));
        Reported
    };
    Ok(match &lit.value {
        LiteralValue::Bool(b) => TypedExpr::literal(ScalarValue::Boolean(*b), KqlType::Bool),
        LiteralValue::Int(v) => TypedExpr::literal(ScalarValue::Int32(*v), KqlType::Int),
        LiteralValue::Long(v) => TypedExpr::literal(ScalarValue::Int64(*v), KqlType::Long),
        LiteralValue::Real(r) => TypedExpr::literal(ScalarValue::Float64(real(*r)), KqlType::Real),
        LiteralValue::Decimal(None) => typed_null(KqlType::Decimal),
        LiteralValue::Decimal(Some(text)) => {
            let Some(v) = parse_decimal(text) else {
                return Err(malformed(diags, "decimal", lit.span));
            };
            TypedExpr::literal(
                ScalarValue::Decimal128(Some(v), schema::types::DECIMAL_PRECISION, DECIMAL_SCALE),
                KqlType::Decimal,
            )
        }
        LiteralValue::String(s) => string(s.value.clone()),
        LiteralValue::Datetime(None) => typed_null(KqlType::DateTime),
        LiteralValue::Datetime(Some(text)) if text.trim().is_empty() => datetime(now_nanos),
        LiteralValue::Datetime(Some(text)) => match datetime_text(text) {
            Some(n) => datetime(n),
            None => return Err(malformed(diags, "datetime", lit.span)),
        },
        LiteralValue::Timespan(t) => match t.ticks {
            None => typed_null(KqlType::TimeSpan),
            Some(ticks) => match ticks.checked_mul(schema::types::NANOS_PER_TICK) {
                Some(n) => timespan(n),
                None => return Err(malformed(diags, "timespan", lit.span)),
            },
        },
        LiteralValue::Guid(g) => TypedExpr::literal(ScalarValue::Utf8(g.clone()), KqlType::Guid),
        LiteralValue::Dynamic(d) => {
            if matches!(d, DynamicValue::Null(_)) {
                typed_null(KqlType::Dynamic)
            } else {
                dynamic(&dynamic_json(d, now_nanos, diags)?)
            }
        }
    })
}

/// The text of `datetime(…)`: any form `schema::values::parse_datetime` reads, also quoted
/// (`datetime("2022-01-01")`), `MM-dd-yyyy`, and the parts form `datetime(2025, 6, 14[, h,
/// m, s])`.
pub fn datetime_text(text: &str) -> Option<i64> {
    let t = text.trim();
    let t = t
        .strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .or_else(|| t.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')))
        .unwrap_or(t)
        .trim();
    if let Some(n) = schema::values::parse_datetime(t) {
        return Some(n);
    }
    // `datetime(2017 - 08 - 01)`: the parts spaced out.
    if t.contains(' ') && !t.contains(':') {
        let compact: String = t.chars().filter(|c| !c.is_whitespace()).collect();
        if let Some(n) = schema::values::parse_datetime(&compact) {
            return Some(n);
        }
    }
    // MM-dd-yyyy
    let dashed: Vec<&str> = t.split('-').collect();
    if let [m, d, y] = dashed.as_slice()
        && y.len() == 4
        && [m, d, y]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    {
        return schema::values::parse_datetime(&format!("{y}-{m:0>2}-{d:0>2}"));
    }
    // year, month, day[, hour, minute, second]
    let parts: Vec<&str> = t.split(',').map(str::trim).collect();
    if (3..=6).contains(&parts.len()) {
        let nums: Option<Vec<u32>> = parts.iter().map(|p| p.parse::<u32>().ok()).collect();
        let nums = nums?;
        let get = |i: usize| nums.get(i).copied().unwrap_or(0);
        return schema::values::parse_datetime(&format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            get(0),
            get(1),
            get(2),
            get(3),
            get(4),
            get(5)
        ));
    }
    None
}

fn real(r: RealValue) -> Option<f64> {
    match r {
        RealValue::Null => None,
        RealValue::Finite(v) => Some(v),
        RealValue::NaN => Some(f64::NAN),
        RealValue::PosInf => Some(f64::INFINITY),
        RealValue::NegInf => Some(f64::NEG_INFINITY),
    }
}

/// The JSON value of a `dynamic(…)` literal. Scalars inside take the forms Kusto stores in
/// dynamic values: datetimes as ISO text with seven fraction digits, timespans as
/// `[d.]hh:mm:ss[.fffffff]` text, guids as text.
pub fn dynamic_json(d: &DynamicValue, now_nanos: i64, diags: &mut Vec<Diagnostic>) -> PResult<Json> {
    Ok(match d {
        DynamicValue::Null(_) => Json::Null,
        DynamicValue::Array { items, .. } => Json::Array(
            items
                .iter()
                .map(|i| dynamic_json(i, now_nanos, diags))
                .collect::<PResult<Vec<_>>>()?,
        ),
        DynamicValue::Object { entries, .. } => {
            let mut map = serde_json::Map::new();
            for e in entries {
                map.insert(e.key.clone(), dynamic_json(&e.value, now_nanos, diags)?);
            }
            Json::Object(map)
        }
        DynamicValue::Scalar(lit) => match &lit.value {
            LiteralValue::Bool(b) => b.map(Json::Bool).unwrap_or(Json::Null),
            LiteralValue::Int(v) => v.map(Json::from).unwrap_or(Json::Null),
            LiteralValue::Long(v) => v.map(Json::from).unwrap_or(Json::Null),
            LiteralValue::Real(r) => match real(*r) {
                Some(v) => functions::val::real_to_json(v),
                None => Json::Null,
            },
            LiteralValue::Decimal(v) => match v {
                Some(text) => match text.parse::<f64>() {
                    Ok(f) => functions::val::real_to_json(f),
                    Err(_) => Json::String(text.clone()),
                },
                None => Json::Null,
            },
            LiteralValue::String(s) => Json::String(s.value.clone()),
            LiteralValue::Guid(g) => g.clone().map(Json::String).unwrap_or(Json::Null),
            LiteralValue::Timespan(t) => match t.ticks {
                Some(ticks) => Json::String(schema::values::format_timespan(ticks.saturating_mul(100))),
                None => Json::Null,
            },
            LiteralValue::Datetime(_) => {
                let v = literal(lit, now_nanos, diags)?;
                match v.as_literal() {
                    Some(ScalarValue::TimestampNanosecond(Some(n), _)) => {
                        Json::String(functions::render::datetime_json_text(*n))
                    }
                    _ => Json::Null,
                }
            }
            LiteralValue::Dynamic(inner) => dynamic_json(inner, now_nanos, diags)?,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetime_forms() {
        let d = schema::values::parse_datetime("2025-06-14").unwrap();
        assert_eq!(datetime_text("2025, 6, 14"), Some(d));
        assert_eq!(datetime_text("\"2025-06-14\""), Some(d));
        assert_eq!(datetime_text("06-14-2025"), Some(d));
        assert_eq!(datetime_text("2025-06-14"), Some(d));
        assert_eq!(datetime_text("nope"), None);
        assert_eq!(datetime_text("2025, 13, 1"), None);
    }

    #[test]
    fn decimals() {
        let one = 10i128.pow(18);
        assert_eq!(parse_decimal("1"), Some(one));
        assert_eq!(parse_decimal("-1.5"), Some(-one * 3 / 2));
        assert_eq!(parse_decimal("2e3"), Some(2000 * one));
        assert_eq!(parse_decimal("0.000000000000000000001"), Some(0));
        assert_eq!(parse_decimal("x"), None);
        assert_eq!(parse_decimal("."), None);
    }
}
