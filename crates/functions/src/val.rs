//! One KQL value, as the row-at-a-time functions see it, and its conversion from and to
//! Arrow arrays laid out as `schema::types` fixes.
//!
//! Most of Kusto's several hundred functions are not worth a hand-vectorised kernel: they
//! are written once against [`Val`] and run through [`crate::udf::RowUdf`]. The hot
//! operators (`has`, `contains`, comparisons) have their own kernels.

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryBuilder, BooleanBuilder, Decimal128Builder, DurationNanosecondBuilder,
    Float64Builder, Int32Builder, Int64Builder, StringBuilder, TimestampNanosecondBuilder,
};
use datafusion::arrow::datatypes::{
    DataType, Decimal128Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, TimeUnit, UInt8Type,
    UInt16Type, UInt32Type, UInt64Type,
};
use datafusion::common::{DataFusionError, Result, ScalarValue};
use schema::KqlType;
use schema::types::{DECIMAL_PRECISION, DECIMAL_SCALE};
use serde_json::Value as Json;
use std::sync::Arc;

/// A KQL scalar value. `guid` values are `Str` (they share Arrow's `Utf8`).
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Null,
    Bool(bool),
    Int(i32),
    Long(i64),
    Real(f64),
    /// A `decimal` as a fixed-point integer with [`DECIMAL_SCALE`] fraction digits.
    Decimal(i128),
    Str(String),
    /// Nanoseconds since the Unix epoch, UTC.
    DateTime(i64),
    /// Nanoseconds.
    TimeSpan(i64),
    Dyn(Json),
}

impl Val {
    pub fn is_null(&self) -> bool {
        matches!(self, Val::Null | Val::Dyn(Json::Null))
    }

    /// The number as a `real`, for functions that accept any numeric argument.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Val::Int(v) => Some(*v as f64),
            Val::Long(v) => Some(*v as f64),
            Val::Real(v) => Some(*v),
            Val::Decimal(v) => Some(*v as f64 / 10f64.powi(DECIMAL_SCALE as i32)),
            Val::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
            Val::Dyn(Json::Number(n)) => n.as_f64(),
            _ => None,
        }
    }

    /// The number as a `long`; reals are truncated toward zero (as `tolong` does).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Val::Int(v) => Some(*v as i64),
            Val::Long(v) => Some(*v),
            Val::Real(v) => real_to_i64(*v),
            Val::Decimal(v) => i64::try_from(*v / 10i128.pow(DECIMAL_SCALE as u32)).ok(),
            Val::Bool(b) => Some(*b as i64),
            Val::Dyn(Json::Number(n)) => n.as_i64().or_else(|| n.as_f64().and_then(real_to_i64)),
            _ => None,
        }
    }

    /// The text of a string value (and of a dynamic string), without conversion.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Val::Str(s) => Some(s),
            Val::Dyn(Json::String(s)) => Some(s),
            _ => None,
        }
    }

    /// The value as `tostring()` prints it; null is the empty string.
    pub fn to_kstring(&self) -> String {
        match self {
            Val::Null => String::new(),
            Val::Bool(b) => b.to_string(),
            Val::Int(v) => v.to_string(),
            Val::Long(v) => v.to_string(),
            Val::Real(v) => crate::render::format_real(*v),
            Val::Decimal(v) => crate::render::format_decimal(*v),
            Val::Str(s) => s.clone(),
            // tostring(datetime) keeps all seven fraction digits: 2017-01-01T00:00:00.0000000Z.
            Val::DateTime(n) => crate::render::datetime_json_text(*n),
            Val::TimeSpan(n) => schema::values::format_timespan(*n),
            Val::Dyn(Json::Null) => String::new(),
            Val::Dyn(Json::String(s)) => s.clone(),
            Val::Dyn(j) => j.to_string(),
        }
    }

    /// The value as an element of a dynamic array or bag, as Kusto stores it: datetimes
    /// and timespans become their text, nulls become JSON null.
    pub fn to_json(&self) -> Json {
        match self {
            Val::Null => Json::Null,
            Val::Bool(b) => Json::Bool(*b),
            Val::Int(v) => Json::from(*v),
            Val::Long(v) => Json::from(*v),
            Val::Real(v) => real_to_json(*v),
            Val::Decimal(_) => self.as_f64().map(real_to_json).unwrap_or(Json::Null),
            Val::Str(s) => Json::String(s.clone()),
            Val::DateTime(n) => Json::String(crate::render::datetime_json_text(*n)),
            Val::TimeSpan(n) => Json::String(schema::values::format_timespan(*n)),
            Val::Dyn(j) => j.clone(),
        }
    }

    /// The KQL type of this value (dynamic for null).
    pub fn kql_type(&self) -> KqlType {
        match self {
            Val::Null | Val::Dyn(_) => KqlType::Dynamic,
            Val::Bool(_) => KqlType::Bool,
            Val::Int(_) => KqlType::Int,
            Val::Long(_) => KqlType::Long,
            Val::Real(_) => KqlType::Real,
            Val::Decimal(_) => KqlType::Decimal,
            Val::Str(_) => KqlType::String,
            Val::DateTime(_) => KqlType::DateTime,
            Val::TimeSpan(_) => KqlType::TimeSpan,
        }
    }
}

/// A real truncated to a long, or `None` when it has no long value (NaN, out of range).
pub fn real_to_i64(v: f64) -> Option<i64> {
    if v.is_finite() && v >= i64::MIN as f64 && v < i64::MAX as f64 {
        Some(v.trunc() as i64)
    } else {
        None
    }
}

/// JSON has no NaN or infinities; Kusto keeps them in dynamic values and prints them as
/// these strings.
pub fn real_to_json(v: f64) -> Json {
    match serde_json::Number::from_f64(v) {
        Some(n) => Json::Number(n),
        None => Json::String(crate::render::format_real(v)),
    }
}

/// Parses the bytes of a dynamic cell. Anything that is not JSON (a store bug or a foreign
/// Parquet file) is taken as a string value rather than failing the query.
pub fn parse_dynamic(bytes: &[u8]) -> Json {
    match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(_) => Json::String(String::from_utf8_lossy(bytes).into_owned()),
    }
}

/// Reads row `i` of an array as a [`Val`].
pub fn val_at(arr: &dyn Array, i: usize) -> Result<Val> {
    if arr.is_null(i) {
        return Ok(match arr.data_type() {
            // Strings are never null in Kusto.
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Val::Str(String::new()),
            _ => Val::Null,
        });
    }
    Ok(match arr.data_type() {
        DataType::Null => Val::Null,
        DataType::Boolean => Val::Bool(arr.as_boolean().value(i)),
        DataType::Int8 => Val::Int(arr.as_primitive::<Int8Type>().value(i) as i32),
        DataType::Int16 => Val::Int(arr.as_primitive::<Int16Type>().value(i) as i32),
        DataType::Int32 => Val::Int(arr.as_primitive::<Int32Type>().value(i)),
        DataType::UInt8 => Val::Int(arr.as_primitive::<UInt8Type>().value(i) as i32),
        DataType::UInt16 => Val::Int(arr.as_primitive::<UInt16Type>().value(i) as i32),
        DataType::Int64 => Val::Long(arr.as_primitive::<Int64Type>().value(i)),
        DataType::UInt32 => Val::Long(arr.as_primitive::<UInt32Type>().value(i) as i64),
        DataType::UInt64 => Val::Long(arr.as_primitive::<UInt64Type>().value(i) as i64),
        DataType::Float32 => Val::Real(arr.as_primitive::<Float32Type>().value(i) as f64),
        DataType::Float64 => Val::Real(arr.as_primitive::<Float64Type>().value(i)),
        DataType::Decimal128(_, scale) => {
            let v = arr.as_primitive::<Decimal128Type>().value(i);
            Val::Decimal(rescale(v, *scale))
        }
        DataType::Utf8 => Val::Str(arr.as_string::<i32>().value(i).to_string()),
        DataType::LargeUtf8 => Val::Str(arr.as_string::<i64>().value(i).to_string()),
        DataType::Utf8View => Val::Str(arr.as_string_view().value(i).to_string()),
        DataType::Binary => Val::Dyn(parse_dynamic(arr.as_binary::<i32>().value(i))),
        DataType::LargeBinary => Val::Dyn(parse_dynamic(arr.as_binary::<i64>().value(i))),
        DataType::BinaryView => Val::Dyn(parse_dynamic(arr.as_binary_view().value(i))),
        DataType::Timestamp(unit, _) => {
            let s = ScalarValue::try_from_array(arr, i)?;
            let raw = match s {
                ScalarValue::TimestampSecond(Some(v), _)
                | ScalarValue::TimestampMillisecond(Some(v), _)
                | ScalarValue::TimestampMicrosecond(Some(v), _)
                | ScalarValue::TimestampNanosecond(Some(v), _) => v,
                _ => return Ok(Val::Null),
            };
            Val::DateTime(raw.saturating_mul(unit_nanos(unit)))
        }
        DataType::Duration(unit) => {
            let s = ScalarValue::try_from_array(arr, i)?;
            let raw = match s {
                ScalarValue::DurationSecond(Some(v))
                | ScalarValue::DurationMillisecond(Some(v))
                | ScalarValue::DurationMicrosecond(Some(v))
                | ScalarValue::DurationNanosecond(Some(v)) => v,
                _ => return Ok(Val::Null),
            };
            Val::TimeSpan(raw.saturating_mul(unit_nanos(unit)))
        }
        DataType::Date32 | DataType::Date64 => {
            let s = ScalarValue::try_from_array(arr, i)?;
            match s.cast_to(&DataType::Timestamp(TimeUnit::Nanosecond, None))? {
                ScalarValue::TimestampNanosecond(Some(v), _) => Val::DateTime(v),
                _ => Val::Null,
            }
        }
        other => {
            return Err(DataFusionError::Execution(format!(
                "the Arrow type {other} has no KQL counterpart"
            )));
        }
    })
}

fn unit_nanos(unit: &TimeUnit) -> i64 {
    match unit {
        TimeUnit::Second => 1_000_000_000,
        TimeUnit::Millisecond => 1_000_000,
        TimeUnit::Microsecond => 1_000,
        TimeUnit::Nanosecond => 1,
    }
}

/// A decimal of another scale, as a fixed-point integer of [`DECIMAL_SCALE`].
fn rescale(v: i128, scale: i8) -> i128 {
    let diff = DECIMAL_SCALE as i32 - scale as i32;
    if diff >= 0 {
        v.saturating_mul(10i128.saturating_pow(diff as u32))
    } else {
        v / 10i128.saturating_pow((-diff) as u32)
    }
}

/// Builds an array of KQL type `ty` from values. Numbers are converted between the numeric
/// types; a value of any other mismatched type becomes null (never a panic), and a null
/// string becomes "" (Kusto strings are never null).
pub fn build_array(ty: KqlType, vals: &[Val]) -> Result<ArrayRef> {
    let n = vals.len();
    Ok(match ty {
        KqlType::Bool => {
            let mut b = BooleanBuilder::with_capacity(n);
            for v in vals {
                b.append_option(match v {
                    Val::Bool(x) => Some(*x),
                    Val::Dyn(Json::Bool(x)) => Some(*x),
                    _ => None,
                });
            }
            Arc::new(b.finish())
        }
        KqlType::Int => {
            let mut b = Int32Builder::with_capacity(n);
            for v in vals {
                b.append_option(match v {
                    Val::Int(x) => Some(*x),
                    other => other
                        .as_i64()
                        .map(|x| x as i32)
                        .filter(|_| !matches!(other, Val::Bool(_))),
                });
            }
            Arc::new(b.finish())
        }
        KqlType::Long => {
            let mut b = Int64Builder::with_capacity(n);
            for v in vals {
                b.append_option(match v {
                    Val::Bool(_) => None,
                    other => other.as_i64(),
                });
            }
            Arc::new(b.finish())
        }
        KqlType::Real => {
            let mut b = Float64Builder::with_capacity(n);
            for v in vals {
                b.append_option(match v {
                    Val::Bool(_) => None,
                    other => other.as_f64(),
                });
            }
            Arc::new(b.finish())
        }
        KqlType::Decimal => {
            let mut b = Decimal128Builder::with_capacity(n);
            for v in vals {
                b.append_option(match v {
                    Val::Decimal(x) => Some(*x),
                    Val::Int(_) | Val::Long(_) => v
                        .as_i64()
                        .map(|x| (x as i128).saturating_mul(10i128.pow(DECIMAL_SCALE as u32))),
                    Val::Real(x) => {
                        let scaled = x * 10f64.powi(DECIMAL_SCALE as i32);
                        scaled.is_finite().then_some(scaled as i128)
                    }
                    _ => None,
                });
            }
            Arc::new(b.finish().with_precision_and_scale(DECIMAL_PRECISION, DECIMAL_SCALE)?)
        }
        KqlType::String | KqlType::Guid => {
            let mut b = StringBuilder::with_capacity(n, n * 8);
            for v in vals {
                match v {
                    Val::Str(s) => b.append_value(s),
                    Val::Null if ty == KqlType::Guid => b.append_null(),
                    other => b.append_value(other.to_kstring()),
                }
            }
            Arc::new(b.finish())
        }
        KqlType::DateTime => {
            let mut b = TimestampNanosecondBuilder::with_capacity(n);
            for v in vals {
                b.append_option(match v {
                    Val::DateTime(x) => Some(*x),
                    _ => None,
                });
            }
            Arc::new(b.finish())
        }
        KqlType::TimeSpan => {
            let mut b = DurationNanosecondBuilder::with_capacity(n);
            for v in vals {
                b.append_option(match v {
                    Val::TimeSpan(x) => Some(*x),
                    _ => None,
                });
            }
            Arc::new(b.finish())
        }
        KqlType::Dynamic => {
            let mut b = BinaryBuilder::with_capacity(n, n * 8);
            for v in vals {
                if v.is_null() {
                    b.append_null();
                } else {
                    b.append_value(v.to_json().to_string().as_bytes());
                }
            }
            Arc::new(b.finish())
        }
    })
}

/// One value as a single-row scalar of KQL type `ty`.
pub fn to_scalar(ty: KqlType, v: &Val) -> Result<ScalarValue> {
    let arr = build_array(ty, std::slice::from_ref(v))?;
    ScalarValue::try_from_array(&arr, 0)
}

/// The value of a scalar (a literal) as a [`Val`].
pub fn scalar_val(s: &ScalarValue) -> Result<Val> {
    let arr = s.to_array()?;
    val_at(&arr, 0)
}

/// A JSON value read as a KQL value of its natural type (numbers stay dynamic-typed
/// longs/reals, strings stay strings); used by functions that take elements out of arrays.
pub fn json_to_val(j: &Json) -> Val {
    match j {
        Json::Null => Val::Null,
        Json::Bool(b) => Val::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Val::Long(i),
            None => Val::Real(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Val::Str(s.clone()),
        other => Val::Dyn(other.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{BinaryViewArray, StringViewArray};

    #[test]
    fn views_read_like_plain_arrays() {
        let s = StringViewArray::from(vec![Some("abc"), None]);
        assert_eq!(val_at(&s, 0).unwrap(), Val::Str("abc".into()));
        assert_eq!(val_at(&s, 1).unwrap(), Val::Str(String::new()));
        let d = BinaryViewArray::from(vec![Some(&b"{\"a\":1}"[..]), None]);
        assert_eq!(val_at(&d, 0).unwrap(), Val::Dyn(serde_json::json!({"a": 1})));
        assert_eq!(val_at(&d, 1).unwrap(), Val::Null);
    }

    #[test]
    fn building_converts_numbers_and_never_nulls_strings() {
        let a = build_array(KqlType::Real, &[Val::Long(2), Val::Null]).unwrap();
        assert_eq!(val_at(&a, 0).unwrap(), Val::Real(2.0));
        assert!(a.is_null(1));
        let s = build_array(KqlType::String, &[Val::Null]).unwrap();
        assert!(!s.is_null(0));
        let g = build_array(KqlType::Guid, &[Val::Null]).unwrap();
        assert!(g.is_null(0));
    }
}
