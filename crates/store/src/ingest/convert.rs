//! Conversion of one exported value to a column's KQL type, with the leniency exports need:
//! numbers and booleans given as strings, `dynamic` given as JSON or as JSON text inside a
//! string, datetimes in every text form `schema::values` knows, GUIDs normalised to
//! lower case. A value that cannot be converted yields a reason for the quarantine.

use super::dom::Json;
use schema::KqlType;
use schema::values::{parse_datetime, parse_timespan, truncate_to_tick};
use std::borrow::Cow;

/// A value converted to its column's physical type.
#[derive(Debug, Clone, PartialEq)]
pub enum Typed<'a> {
    Null,
    Bool(bool),
    Int(i32),
    Long(i64),
    Real(f64),
    Decimal(i128),
    Str(Cow<'a, str>),
    /// Nanoseconds (datetime since the epoch, or a timespan).
    Nanos(i64),
    /// Compact JSON text of a `dynamic` value.
    Dynamic(Cow<'a, str>),
}

/// Shortens a value for an error message.
pub fn excerpt(s: &str) -> String {
    const MAX: usize = 80;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &s[..end], s.len())
}

fn describe(v: &Json) -> String {
    match v {
        Json::Str(s) => format!("\"{}\"", excerpt(s)),
        Json::Array(_) | Json::Object(_) => excerpt(&v.to_compact()),
        other => other.to_compact(),
    }
}

fn not_a(ty: KqlType, v: &Json) -> String {
    format!("{} is not a valid {ty}", describe(v))
}

/// Converts `v` to `ty`. Empty strings and JSON null become null (for `string`, "").
pub fn convert<'a>(ty: KqlType, v: &Json<'a>) -> Result<Typed<'a>, String> {
    if matches!(v, Json::Null) {
        return Ok(if ty == KqlType::String {
            Typed::Str(Cow::Borrowed(""))
        } else {
            Typed::Null
        });
    }
    if ty != KqlType::String && matches!(v, Json::Str(s) if s.trim().is_empty()) {
        return Ok(Typed::Null);
    }
    match ty {
        KqlType::String => Ok(Typed::Str(match v {
            Json::Str(s) => s.clone(),
            Json::Array(_) | Json::Object(_) => Cow::Owned(v.to_compact()),
            other => Cow::Owned(other.to_compact()),
        })),
        KqlType::Bool => to_bool(v).map(Typed::Bool).ok_or_else(|| not_a(ty, v)),
        KqlType::Int => {
            let l = to_long(v).ok_or_else(|| not_a(ty, v))?;
            i32::try_from(l)
                .map(Typed::Int)
                .map_err(|_| format!("{} is out of the range of int", describe(v)))
        }
        KqlType::Long => to_long(v).map(Typed::Long).ok_or_else(|| not_a(ty, v)),
        KqlType::Real => to_real(v).map(Typed::Real).ok_or_else(|| not_a(ty, v)),
        KqlType::Decimal => to_decimal(v).map(Typed::Decimal).ok_or_else(|| not_a(ty, v)),
        KqlType::DateTime => match v {
            Json::Str(s) => parse_datetime(s).map(Typed::Nanos).ok_or_else(|| not_a(ty, v)),
            _ => Err(not_a(ty, v)),
        },
        KqlType::TimeSpan => match v {
            Json::Str(s) => parse_timespan(s).map(Typed::Nanos).ok_or_else(|| not_a(ty, v)),
            // A bare number in a timespan column is a count of ticks, as Kusto's
            // `totimespan(long)` reads it.
            Json::Int(ticks) => ticks
                .checked_mul(schema::types::NANOS_PER_TICK)
                .map(|n| Typed::Nanos(truncate_to_tick(n)))
                .ok_or_else(|| not_a(ty, v)),
            _ => Err(not_a(ty, v)),
        },
        KqlType::Guid => match v {
            Json::Str(s) => normalize_guid(s)
                .map(|g| Typed::Str(Cow::Owned(g)))
                .ok_or_else(|| not_a(ty, v)),
            _ => Err(not_a(ty, v)),
        },
        KqlType::Dynamic => Ok(Typed::Dynamic(match v {
            // JSON text inside a string is stored as the value it encodes; any other string
            // is a JSON string value.
            Json::Str(s) => match Json::parse(s) {
                Ok(inner) => Cow::Owned(inner.to_compact()),
                Err(_) => Cow::Owned(v.to_compact()),
            },
            other => Cow::Owned(other.to_compact()),
        })),
    }
}

fn to_bool(v: &Json) -> Option<bool> {
    match v {
        Json::Bool(b) => Some(*b),
        Json::Int(0) => Some(false),
        Json::Int(1) => Some(true),
        Json::Str(s) => {
            let s = s.trim();
            if s.eq_ignore_ascii_case("true") || s == "1" {
                Some(true)
            } else if s.eq_ignore_ascii_case("false") || s == "0" {
                Some(false)
            } else {
                None
            }
        }
        _ => None,
    }
}

fn integral(f: f64) -> Option<i64> {
    // Kusto's tolong("1.0") is 1; a fraction would be lost, so it is an error here.
    (f.is_finite() && f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64).then_some(f as i64)
}

fn to_long(v: &Json) -> Option<i64> {
    match v {
        Json::Int(i) => Some(*i),
        Json::UInt(_) => None,
        Json::Float(f) => integral(*f),
        Json::Bool(b) => Some(*b as i64),
        Json::Str(s) => {
            let s = s.trim();
            s.parse::<i64>()
                .ok()
                .or_else(|| s.parse::<f64>().ok().and_then(integral))
        }
        _ => None,
    }
}

fn to_real(v: &Json) -> Option<f64> {
    match v {
        Json::Int(i) => Some(*i as f64),
        Json::UInt(u) => Some(*u as f64),
        Json::Float(f) => Some(*f),
        Json::Str(s) => {
            let s = s.trim();
            match s {
                "NaN" => Some(f64::NAN),
                "Infinity" | "+Infinity" => Some(f64::INFINITY),
                "-Infinity" => Some(f64::NEG_INFINITY),
                _ => s.parse::<f64>().ok().filter(|f| f.is_finite()),
            }
        }
        _ => None,
    }
}

fn to_decimal(v: &Json) -> Option<i128> {
    let text = match v {
        Json::Int(i) => i.to_string(),
        Json::UInt(u) => u.to_string(),
        Json::Float(f) => f.to_string(),
        Json::Str(s) => s.trim().to_string(),
        _ => return None,
    };
    arrow::compute::kernels::cast_utils::parse_decimal::<arrow::array::types::Decimal128Type>(
        &text,
        schema::types::DECIMAL_PRECISION,
        schema::types::DECIMAL_SCALE,
    )
    .ok()
}

/// `8-4-4-4-12` hex digits, optionally in braces or parentheses, or 32 bare hex digits →
/// lower-case canonical text.
pub fn normalize_guid(s: &str) -> Option<String> {
    let s = s.trim();
    let inner = s
        .strip_prefix('{')
        .and_then(|x| x.strip_suffix('}'))
        .or_else(|| s.strip_prefix('(').and_then(|x| x.strip_suffix(')')))
        .unwrap_or(s);
    let hex: Vec<u8> = inner.bytes().filter(|b| *b != b'-').collect();
    if hex.len() != 32 || !hex.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    if inner.len() == 36 {
        let b = inner.as_bytes();
        if b[8] != b'-' || b[13] != b'-' || b[18] != b'-' || b[23] != b'-' {
            return None;
        }
    } else if inner.len() != 32 {
        return None;
    }
    let h = String::from_utf8(hex).ok()?.to_ascii_lowercase();
    Some(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

/// The KQL type given to a column Quarry did not know, from its first value. Columns named
/// like a table's time column are datetimes so that the table can be partitioned by day.
pub fn infer_type(name: &str, v: &Json, from_text: bool) -> KqlType {
    if matches!(name, "Timestamp" | "TimeGenerated") {
        return KqlType::DateTime;
    }
    if from_text {
        // CSV cells are all text; typing them by guesswork would make a later cell fail.
        return KqlType::String;
    }
    match v {
        Json::Bool(_) => KqlType::Bool,
        Json::Int(_) | Json::UInt(_) => KqlType::Long,
        Json::Float(_) => KqlType::Real,
        Json::Array(_) | Json::Object(_) => KqlType::Dynamic,
        Json::Null | Json::Str(_) => KqlType::String,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Json<'_> {
        Json::Str(Cow::Borrowed(v))
    }

    #[test]
    fn numbers_and_booleans_given_as_strings() {
        assert_eq!(convert(KqlType::Long, &s("42")), Ok(Typed::Long(42)));
        assert_eq!(convert(KqlType::Long, &s("42.0")), Ok(Typed::Long(42)));
        assert!(convert(KqlType::Long, &s("42.5")).is_err());
        assert_eq!(convert(KqlType::Int, &Json::Int(7)), Ok(Typed::Int(7)));
        assert!(
            convert(KqlType::Int, &Json::Int(1 << 40))
                .unwrap_err()
                .contains("range of int")
        );
        assert_eq!(convert(KqlType::Real, &s("1e3")), Ok(Typed::Real(1000.0)));
        for t in ["true", "True", "TRUE", "1"] {
            assert_eq!(convert(KqlType::Bool, &s(t)), Ok(Typed::Bool(true)), "{t}");
        }
        assert_eq!(convert(KqlType::Bool, &Json::Int(0)), Ok(Typed::Bool(false)));
        assert_eq!(
            convert(KqlType::Bool, &s("yes")).unwrap_err(),
            "\"yes\" is not a valid bool"
        );
    }

    #[test]
    fn empty_and_null_values() {
        assert_eq!(convert(KqlType::Long, &s("")), Ok(Typed::Null));
        assert_eq!(convert(KqlType::String, &Json::Null), Ok(Typed::Str(Cow::Borrowed(""))));
        assert_eq!(convert(KqlType::DateTime, &Json::Null), Ok(Typed::Null));
    }

    #[test]
    fn dynamic_from_json_or_json_text() {
        let obj = Json::parse(r#"{"a": [1, 2]}"#).unwrap();
        assert_eq!(
            convert(KqlType::Dynamic, &obj),
            Ok(Typed::Dynamic(r#"{"a":[1,2]}"#.into()))
        );
        assert_eq!(
            convert(KqlType::Dynamic, &s(r#"{ "a" : [1, 2] }"#)),
            Ok(Typed::Dynamic(r#"{"a":[1,2]}"#.into()))
        );
        assert_eq!(
            convert(KqlType::Dynamic, &s("plain")),
            Ok(Typed::Dynamic("\"plain\"".into()))
        );
        assert_eq!(convert(KqlType::String, &obj), Ok(Typed::Str(r#"{"a":[1,2]}"#.into())));
    }

    #[test]
    fn datetimes_and_guids() {
        assert_eq!(
            convert(KqlType::DateTime, &s("2024-05-01T00:00:00.1234567Z")),
            Ok(Typed::Nanos(1_714_521_600_123_456_700))
        );
        assert!(
            convert(KqlType::DateTime, &s("yesterday"))
                .unwrap_err()
                .contains("not a valid datetime")
        );
        assert!(convert(KqlType::DateTime, &Json::Int(5)).is_err());
        assert_eq!(
            convert(KqlType::Guid, &s("{8C3F2E1A-0000-4000-8000-ABCDEF012345}")),
            Ok(Typed::Str("8c3f2e1a-0000-4000-8000-abcdef012345".into()))
        );
        assert!(convert(KqlType::Guid, &s("not-a-guid")).is_err());
    }

    #[test]
    fn inferred_types() {
        assert_eq!(infer_type("X", &Json::Int(1), false), KqlType::Long);
        assert_eq!(infer_type("X", &Json::Int(1), true), KqlType::String);
        assert_eq!(infer_type("TimeGenerated", &s("x"), true), KqlType::DateTime);
        assert_eq!(infer_type("X", &Json::Object(vec![]), false), KqlType::Dynamic);
    }
}
