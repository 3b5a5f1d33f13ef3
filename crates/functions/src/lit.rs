//! Literals of every KQL type, as typed expressions (for the engine's literals and for
//! tests).

use crate::api::TypedExpr;
use datafusion::common::ScalarValue;
use schema::KqlType;
use schema::types::{DECIMAL_PRECISION, DECIMAL_SCALE};

pub fn string(s: &str) -> TypedExpr {
    TypedExpr::literal(ScalarValue::Utf8(Some(s.to_string())), KqlType::String)
}

pub fn long(v: i64) -> TypedExpr {
    TypedExpr::literal(ScalarValue::Int64(Some(v)), KqlType::Long)
}

pub fn int(v: i32) -> TypedExpr {
    TypedExpr::literal(ScalarValue::Int32(Some(v)), KqlType::Int)
}

pub fn real(v: f64) -> TypedExpr {
    TypedExpr::literal(ScalarValue::Float64(Some(v)), KqlType::Real)
}

pub fn bool(v: bool) -> TypedExpr {
    TypedExpr::literal(ScalarValue::Boolean(Some(v)), KqlType::Bool)
}

/// A datetime from nanoseconds since the epoch.
pub fn datetime(nanos: i64) -> TypedExpr {
    TypedExpr::literal(ScalarValue::TimestampNanosecond(Some(nanos), None), KqlType::DateTime)
}

/// A datetime from Kusto text (`2017-01-01`, `2017-01-01T10:20:30.5Z`…); `None` if it does
/// not parse.
pub fn datetime_text(text: &str) -> Option<TypedExpr> {
    crate::scalar::convert::parse_datetime_text(text).map(datetime)
}

/// A timespan from nanoseconds.
pub fn timespan(nanos: i64) -> TypedExpr {
    TypedExpr::literal(ScalarValue::DurationNanosecond(Some(nanos)), KqlType::TimeSpan)
}

/// A decimal from its fixed-point integer (scale 18).
pub fn decimal(fixed: i128) -> TypedExpr {
    TypedExpr::literal(
        ScalarValue::Decimal128(Some(fixed), DECIMAL_PRECISION, DECIMAL_SCALE),
        KqlType::Decimal,
    )
}

pub fn guid(text: &str) -> TypedExpr {
    TypedExpr::literal(ScalarValue::Utf8(Some(text.to_ascii_lowercase())), KqlType::Guid)
}

/// A dynamic value (`dynamic(null)` is a null of type dynamic).
pub fn dynamic(v: &serde_json::Value) -> TypedExpr {
    let s = if v.is_null() {
        ScalarValue::Binary(None)
    } else {
        ScalarValue::Binary(Some(v.to_string().into_bytes()))
    };
    TypedExpr::literal(s, KqlType::Dynamic)
}

/// A typed null (`int(null)`, `datetime(null)`…). Null strings do not exist in Kusto:
/// `string(null)` is "".
pub fn null(ty: KqlType) -> TypedExpr {
    if ty == KqlType::String {
        return string("");
    }
    let s = ScalarValue::try_from(&ty.to_arrow()).unwrap_or(ScalarValue::Null);
    TypedExpr::literal(s, ty)
}
