//! Conversions: `tostring`, `toint`, `tolong`, `toreal`/`todouble`, `todecimal`, `tobool`,
//! `todatetime`, `totimespan`, `toguid`, `todynamic`/`parse_json`, `gettype`.
//!
//! A value that does not convert gives null (`tolong("abc")`), never an error; strings
//! are never null (`tostring(null)` is "").

use super::arg;
use crate::api::TypedExpr;
use crate::catalog::{Call, FnDef, P, custom, p, row};
use crate::error::FnError;
use crate::val::{Val, json_to_val, real_to_i64};
use datafusion::common::Result;
use datafusion::prelude::lit;
use schema::KqlType;
use schema::types::DECIMAL_SCALE;
use serde_json::Value as Json;

/// Ticks (100 ns) from 0001-01-01 to the Unix epoch: `tolong(datetime)` counts from 0001.
pub const EPOCH_TICKS: i64 = 621_355_968_000_000_000;

const X: &[crate::catalog::Param] = &[p("value", P::Any)];

pub static DEFS: &[FnDef] = &[
    row("tostring", X, 1, KqlType::String, |a| {
        Ok(Val::Str(arg(a, 0).to_kstring()))
    })
    .with_arrays(tostring_dynamic_array),
    row("tolong", X, 1, KqlType::Long, |a| {
        Ok(to_long(arg(a, 0)).map(Val::Long).unwrap_or(Val::Null))
    }),
    row("toint", X, 1, KqlType::Int, |a| Ok(to_int(arg(a, 0)))),
    row("toreal", X, 1, KqlType::Real, |a| {
        Ok(to_real(arg(a, 0)).map(Val::Real).unwrap_or(Val::Null))
    }),
    row("todouble", X, 1, KqlType::Real, |a| {
        Ok(to_real(arg(a, 0)).map(Val::Real).unwrap_or(Val::Null))
    }),
    row("todecimal", X, 1, KqlType::Decimal, |a| Ok(to_decimal(arg(a, 0)))),
    row("tobool", X, 1, KqlType::Bool, |a| {
        Ok(to_bool(arg(a, 0)).map(Val::Bool).unwrap_or(Val::Null))
    }),
    row("toboolean", X, 1, KqlType::Bool, |a| {
        Ok(to_bool(arg(a, 0)).map(Val::Bool).unwrap_or(Val::Null))
    }),
    row("todatetime", X, 1, KqlType::DateTime, |a| {
        Ok(to_datetime(arg(a, 0)).map(Val::DateTime).unwrap_or(Val::Null))
    }),
    row("totimespan", X, 1, KqlType::TimeSpan, |a| {
        Ok(to_timespan(arg(a, 0)).map(Val::TimeSpan).unwrap_or(Val::Null))
    }),
    row("toguid", X, 1, KqlType::Guid, |a| {
        Ok(to_guid(arg(a, 0)).map(Val::Str).unwrap_or(Val::Null))
    }),
    row("todynamic", X, 1, KqlType::Dynamic, |a| Ok(to_dynamic(arg(a, 0)))),
    row("parse_json", X, 1, KqlType::Dynamic, |a| Ok(to_dynamic(arg(a, 0)))),
    row("toobject", X, 1, KqlType::Dynamic, |a| Ok(to_dynamic(arg(a, 0)))),
    custom("gettype", X, 1, lower_gettype),
    row("__gettype_dynamic", X, 1, KqlType::String, gettype_dynamic),
    row("__is_null_dynamic", X, 1, KqlType::Bool, |a| {
        Ok(Val::Bool(arg(a, 0).is_null()))
    }),
];

pub fn parse_long_text(s: &str) -> Option<i64> {
    let t = s.trim();
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return i64::from_str_radix(hex, 16).ok();
    }
    t.parse::<i64>().ok()
}

pub fn parse_real_text(s: &str) -> Option<f64> {
    let t = s.trim();
    match t {
        "NaN" | "nan" => return Some(f64::NAN),
        "Infinity" | "+Infinity" | "inf" => return Some(f64::INFINITY),
        "-Infinity" | "-inf" => return Some(f64::NEG_INFINITY),
        _ => {}
    }
    if t.is_empty() || t.chars().any(|c| c.is_ascii_alphabetic() && c != 'e' && c != 'E') {
        return None;
    }
    t.parse::<f64>().ok()
}

pub fn to_long(v: &Val) -> Option<i64> {
    match v {
        Val::Str(s) => parse_long_text(s),
        Val::DateTime(n) => Some(n / 100 + EPOCH_TICKS),
        Val::TimeSpan(n) => Some(n / 100),
        Val::Dyn(Json::String(s)) => parse_long_text(s),
        Val::Dyn(Json::Number(_) | Json::Bool(_)) => to_long(&json_to_val(match v {
            Val::Dyn(j) => j,
            _ => &Json::Null,
        })),
        Val::Dyn(_) | Val::Null => None,
        other => other.as_i64(),
    }
}

fn to_int(v: &Val) -> Val {
    let l = match v {
        Val::Real(r) => real_to_i64(*r),
        other => to_long(other),
    };
    match l.and_then(|x| i32::try_from(x).ok()) {
        Some(x) => Val::Int(x),
        None => Val::Null,
    }
}

pub fn to_real(v: &Val) -> Option<f64> {
    match v {
        Val::Str(s) => parse_real_text(s),
        Val::Dyn(Json::String(s)) => parse_real_text(s),
        Val::DateTime(n) => Some((n / 100 + EPOCH_TICKS) as f64),
        Val::TimeSpan(n) => Some((n / 100) as f64),
        Val::Dyn(Json::Number(n)) => n.as_f64(),
        Val::Dyn(Json::Bool(b)) => Some(*b as i64 as f64),
        Val::Dyn(_) | Val::Null => None,
        other => other.as_f64(),
    }
}

fn to_decimal(v: &Val) -> Val {
    let scale = 10f64.powi(DECIMAL_SCALE as i32);
    match v {
        Val::Decimal(d) => Val::Decimal(*d),
        Val::Int(_) | Val::Long(_) => v
            .as_i64()
            .map(|i| Val::Decimal(i as i128 * 10i128.pow(DECIMAL_SCALE as u32)))
            .unwrap_or(Val::Null),
        Val::Str(s) => parse_decimal_text(s).map(Val::Decimal).unwrap_or(Val::Null),
        Val::Dyn(Json::String(s)) => parse_decimal_text(s).map(Val::Decimal).unwrap_or(Val::Null),
        other => match to_real(other) {
            Some(r) if r.is_finite() => Val::Decimal((r * scale).round() as i128),
            _ => Val::Null,
        },
    }
}

/// Exact decimal text (`123.45678`, `-1e3`) to fixed point.
fn parse_decimal_text(s: &str) -> Option<i128> {
    let t = s.trim();
    if t.contains(['e', 'E']) {
        let r = parse_real_text(t)?;
        return r
            .is_finite()
            .then(|| (r * 10f64.powi(DECIMAL_SCALE as i32)).round() as i128);
    }
    let (neg, body) = match t.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let scale = DECIMAL_SCALE as usize;
    let frac_digits: String = frac.chars().take(scale).collect();
    let int_v: i128 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let frac_v: i128 = if frac_digits.is_empty() {
        0
    } else {
        frac_digits.parse().ok()?
    };
    let v = int_v
        .checked_mul(10i128.pow(scale as u32))?
        .checked_add(frac_v * 10i128.pow((scale - frac_digits.len()) as u32))?;
    Some(if neg { -v } else { v })
}

pub fn to_bool(v: &Val) -> Option<bool> {
    match v {
        Val::Bool(b) => Some(*b),
        Val::Str(s) | Val::Dyn(Json::String(s)) => {
            let t = s.trim();
            if t.eq_ignore_ascii_case("true") {
                Some(true)
            } else if t.eq_ignore_ascii_case("false") {
                Some(false)
            } else {
                parse_long_text(t).map(|n| n != 0)
            }
        }
        Val::Dyn(Json::Bool(b)) => Some(*b),
        Val::Dyn(Json::Number(n)) => n.as_f64().map(|x| x != 0.0),
        Val::Int(_) | Val::Long(_) | Val::Real(_) | Val::Decimal(_) => v.as_f64().map(|x| x != 0.0),
        _ => None,
    }
}

/// `MM-dd-yyyy[ time]`, which `todatetime('12-02-2022')` accepts besides the ISO forms.
fn parse_us_dashed(s: &str) -> Option<i64> {
    let t = s.trim();
    let (date, rest) = t.split_once(' ').unwrap_or((t, ""));
    let parts: Vec<&str> = date.split('-').collect();
    let [m, d, y] = parts.as_slice() else { return None };
    if y.len() != 4 || m.len() > 2 || d.len() > 2 {
        return None;
    }
    let iso = format!("{y}-{m:0>2}-{d:0>2}{}{rest}", if rest.is_empty() { "" } else { " " });
    schema::values::parse_datetime(&iso)
}

pub fn parse_datetime_text(s: &str) -> Option<i64> {
    schema::values::parse_datetime(s).or_else(|| parse_us_dashed(s))
}

pub fn to_datetime(v: &Val) -> Option<i64> {
    match v {
        Val::DateTime(n) => Some(*n),
        Val::Str(s) | Val::Dyn(Json::String(s)) => parse_datetime_text(s),
        _ => None,
    }
}

pub fn to_timespan(v: &Val) -> Option<i64> {
    match v {
        Val::TimeSpan(n) => Some(*n),
        Val::Str(s) | Val::Dyn(Json::String(s)) => schema::values::parse_timespan(s),
        // A number is a count of ticks.
        Val::Int(_) | Val::Long(_) => v.as_i64().and_then(|t| t.checked_mul(100)),
        Val::Dyn(Json::Number(n)) => n.as_i64().and_then(|t| t.checked_mul(100)),
        _ => None,
    }
}

/// A guid in any of .NET's forms (`N`, `D`, `B`, `P`) to its canonical lower-case form.
pub fn parse_guid(s: &str) -> Option<String> {
    let t = s.trim();
    let t = t.strip_prefix('{').and_then(|x| x.strip_suffix('}')).unwrap_or(t);
    let t = t.strip_prefix('(').and_then(|x| x.strip_suffix(')')).unwrap_or(t);
    let hex: String = t.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let h = hex.to_ascii_lowercase();
    Some(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

fn to_guid(v: &Val) -> Option<String> {
    match v {
        Val::Str(s) | Val::Dyn(Json::String(s)) => parse_guid(s),
        _ => None,
    }
}

/// `todynamic`/`parse_json`: JSON text is parsed, text that is not JSON stays a string,
/// the empty string is null, and other values become their dynamic form.
pub fn to_dynamic(v: &Val) -> Val {
    match v {
        Val::Str(s) => {
            if s.trim().is_empty() {
                return Val::Null;
            }
            match serde_json::from_str::<Json>(s) {
                Ok(j) => Val::Dyn(j),
                Err(_) => Val::Dyn(Json::String(s.clone())),
            }
        }
        Val::Null => Val::Null,
        other => Val::Dyn(other.to_json()),
    }
}

/// The name `gettype` gives a dynamic value's content.
pub fn json_type_name(j: &Json) -> &'static str {
    match j {
        Json::Null => "null",
        Json::Bool(_) => "bool",
        Json::Number(n) => match n.as_i64() {
            Some(i) if i32::try_from(i).is_ok() => "int",
            Some(_) => "long",
            None => "real",
        },
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "dictionary",
    }
}

/// `tostring` of a column of dynamic values (what `mv-expand … to typeof(string)` and
/// `tostring(AdditionalFields.x)` run over every row): a JSON string becomes its text
/// without building the value; anything else goes through the row function.
fn tostring_dynamic_array(
    args: &[datafusion::logical_expr::ColumnarValue],
    rows: usize,
) -> Option<Result<datafusion::logical_expr::ColumnarValue>> {
    use datafusion::arrow::array::{Array, AsArray, StringBuilder};
    let [datafusion::logical_expr::ColumnarValue::Array(arr)] = args else {
        return None;
    };
    if arr.data_type() != &datafusion::arrow::datatypes::DataType::Binary || arr.len() != rows {
        return None;
    }
    let values = arr.as_binary::<i32>();
    let mut out = StringBuilder::with_capacity(rows, values.values().len());
    let mut convert = || -> Result<datafusion::logical_expr::ColumnarValue> {
        for i in 0..rows {
            if values.is_null(i) {
                out.append_value("");
                continue;
            }
            let bytes = values.value(i);
            if bytes.first() == Some(&b'"') {
                if let Ok(s) = serde_json::from_slice::<&str>(bytes) {
                    out.append_value(s);
                    continue;
                }
                // Escapes: the text needs unescaping into a string of its own.
                if let Ok(s) = serde_json::from_slice::<String>(bytes) {
                    out.append_value(s);
                    continue;
                }
            }
            out.append_value(crate::val::val_at(arr, i)?.to_kstring());
        }
        Ok(datafusion::logical_expr::ColumnarValue::Array(std::sync::Arc::new(
            out.finish(),
        )))
    };
    Some(convert())
}

fn lower_gettype(c: &Call) -> Result<TypedExpr, FnError> {
    let Some(a) = c.args.first() else {
        return Err(FnError::arg_count(c.name, 1, 1));
    };
    if a.ty != KqlType::Dynamic {
        return Ok(TypedExpr::new(lit(a.ty.name()), KqlType::String));
    }
    crate::catalog::call_row("__gettype_dynamic", vec![a.clone()])
}

/// The row part of `gettype` for dynamic values (registered as a hidden helper).
pub fn gettype_dynamic(a: &[Val]) -> Result<Val> {
    Ok(Val::Str(
        match arg(a, 0) {
            Val::Dyn(j) => json_type_name(j),
            Val::Null => "null",
            other => other.kql_type().name(),
        }
        .to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tostring_of_dynamic_arrays_is_the_row_function() {
        use datafusion::arrow::array::{Array, AsArray, BinaryArray};
        use datafusion::logical_expr::ColumnarValue;
        use std::sync::Arc;
        let texts: Vec<Option<&[u8]>> = vec![
            None,
            Some(br#""plain""#),
            Some(br#""""#),
            Some(br#""tab\there \"quoted\" \u00e9 \ud83d\ude00""#),
            Some(br#""unterminated"#),
            Some(br#""a" trailing"#),
            Some(br#""\ud800""#),
            Some(b"null"),
            Some(b"42"),
            Some(b"1.5e3"),
            Some(b"true"),
            Some(br#"["a", 1]"#),
            Some(br#"{"k": "v"}"#),
            Some(b"not json"),
            Some(b""),
            Some(b"\xff\xfe"),
        ];
        let arr: Arc<dyn Array> = Arc::new(BinaryArray::from(texts));
        let Some(Ok(ColumnarValue::Array(fast))) =
            tostring_dynamic_array(&[ColumnarValue::Array(arr.clone())], arr.len())
        else {
            panic!("the array path takes a column of dynamic values");
        };
        let fast = fast.as_string::<i32>();
        for i in 0..arr.len() {
            let row = crate::val::val_at(&arr, i).unwrap().to_kstring();
            assert_eq!(fast.value(i), row, "row {i}");
            assert!(fast.is_valid(i), "strings are never null");
        }
        // Other shapes run row by row.
        let strings: Arc<dyn Array> = Arc::new(datafusion::arrow::array::StringArray::from(vec!["x"]));
        assert!(tostring_dynamic_array(&[ColumnarValue::Array(strings)], 1).is_none());
    }

    #[test]
    fn numbers_from_text() {
        assert_eq!(to_long(&Val::Str("123".into())), Some(123));
        assert_eq!(to_long(&Val::Str("abc".into())), None);
        assert_eq!(to_long(&Val::Str("".into())), None);
        assert_eq!(to_int(&Val::Real(2.9)), Val::Int(2));
        assert_eq!(to_int(&Val::Real(-2.9)), Val::Int(-2));
        assert_eq!(to_int(&Val::Long(1 << 40)), Val::Null);
        assert_eq!(to_real(&Val::Str("123.4".into())), Some(123.4));
        assert_eq!(to_real(&Val::Str("1e3".into())), Some(1000.0));
        assert_eq!(to_real(&Val::Str("x1".into())), None);
        assert_eq!(
            to_decimal(&Val::Str("123.45678".into())),
            Val::Decimal(123_456_780_000_000_000_000)
        );
    }

    #[test]
    fn ticks_count_from_year_one() {
        assert_eq!(to_long(&Val::DateTime(0)), Some(EPOCH_TICKS));
        assert_eq!(to_long(&Val::TimeSpan(1_000_000_000)), Some(10_000_000));
    }

    #[test]
    fn bools_guids_datetimes() {
        assert_eq!(to_bool(&Val::Str("TRUE".into())), Some(true));
        assert_eq!(to_bool(&Val::Long(123)), Some(true));
        assert_eq!(to_bool(&Val::Str("yes".into())), None);
        assert_eq!(
            parse_guid("0123456789ab-cdef-0123-456789abcdef").as_deref(),
            Some("01234567-89ab-cdef-0123-456789abcdef")
        );
        assert_eq!(parse_guid("a string that is not a guid"), None);
        assert_eq!(
            parse_datetime_text("12-02-2022"),
            schema::values::parse_datetime("2022-12-02")
        );
    }

    #[test]
    fn dynamic_from_text() {
        assert_eq!(
            to_dynamic(&Val::Str("{\"a\":1}".into())),
            Val::Dyn(serde_json::json!({"a": 1}))
        );
        assert_eq!(
            to_dynamic(&Val::Str("not json".into())),
            Val::Dyn(Json::String("not json".into()))
        );
        assert_eq!(to_dynamic(&Val::Str("".into())), Val::Null);
        assert_eq!(json_type_name(&serde_json::json!(1)), "int");
        assert_eq!(json_type_name(&serde_json::json!({})), "dictionary");
    }
}
