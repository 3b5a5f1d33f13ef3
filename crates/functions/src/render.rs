//! Cell rendering: one Arrow cell of a known KQL type printed as Kusto prints it.
//!
//! * text (tables, CSV): datetime `2017-01-01T00:00:00Z` with a fraction only when present,
//!   timespan `1.02:03:04.5000000`, real in .NET's shortest round-trip form (`1`, `0.5`,
//!   `1E+20`, `NaN`, `Infinity`), bool `true`/`false`, dynamic as compact JSON, guid lower
//!   case, null as the empty string;
//! * JSON: the same, with numbers and booleans as JSON numbers and booleans, dynamic values
//!   as JSON values, null as `null`.

use crate::val::{Val, val_at};
use datafusion::arrow::array::Array;
use datafusion::common::Result;
use schema::KqlType;
use schema::types::DECIMAL_SCALE;
use serde_json::Value as Json;

/// Renders row `row` of `arr` (holding values of KQL type `ty`) as text.
pub fn render_cell(arr: &dyn Array, row: usize, ty: KqlType) -> Result<String> {
    if arr.is_null(row) {
        return Ok(String::new());
    }
    let v = val_at(arr, row)?;
    Ok(match (ty, &v) {
        (KqlType::Guid, Val::Str(s)) => s.to_ascii_lowercase(),
        (KqlType::Bool, Val::Long(x)) => (*x != 0).to_string(),
        (_, Val::DateTime(n)) => schema::values::format_datetime(*n),
        _ => v.to_kstring(),
    })
}

/// Renders row `row` of `arr` (holding values of KQL type `ty`) as a JSON value.
pub fn render_json(arr: &dyn Array, row: usize, ty: KqlType) -> Result<Json> {
    if arr.is_null(row) {
        return Ok(Json::Null);
    }
    let v = val_at(arr, row)?;
    Ok(match v {
        Val::Null => Json::Null,
        Val::Bool(b) => Json::Bool(b),
        Val::Int(x) => Json::from(x),
        Val::Long(x) => Json::from(x),
        Val::Real(x) => crate::val::real_to_json(x),
        Val::Decimal(_) => Json::String(v.to_kstring()),
        Val::Str(s) if ty == KqlType::Guid => Json::String(s.to_ascii_lowercase()),
        Val::Str(s) => Json::String(s),
        Val::DateTime(n) => Json::String(schema::values::format_datetime(n)),
        Val::TimeSpan(n) => Json::String(schema::values::format_timespan(n)),
        Val::Dyn(j) => j,
    })
}

/// A real as .NET's `double.ToString()` prints it (shortest round-trip digits; scientific
/// notation from 1E+15 up and below 1E-05), which is how Kusto prints reals.
pub fn format_real(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.to_string();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    let abs = v.abs();
    if (1e-4..1e15).contains(&abs) {
        return format!("{v}");
    }
    // `{:e}` gives the shortest round-trip mantissa: "1.2345e20", "1e-7".
    let sci = format!("{v:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mantissa}E{sign}{:02}", exp.unsigned_abs())
}

/// A decimal (fixed point with [`DECIMAL_SCALE`] digits) without trailing zeros.
pub fn format_decimal(v: i128) -> String {
    let scale = 10i128.pow(DECIMAL_SCALE as u32);
    let neg = v < 0;
    let abs = v.unsigned_abs();
    let int = abs / scale as u128;
    let frac = abs % scale as u128;
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    out.push_str(&int.to_string());
    if frac != 0 {
        let digits = format!("{frac:0width$}", width = DECIMAL_SCALE as usize);
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    out
}

/// A datetime inside a dynamic value: Kusto stores it as ISO text with all seven fraction
/// digits (`2017-01-01T00:00:00.0000000Z`).
pub fn datetime_json_text(nanos: i64) -> String {
    use chrono::{Datelike, Timelike};
    let dt = chrono::DateTime::<chrono::Utc>::from_timestamp_nanos(nanos);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:07}Z",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second(),
        dt.nanosecond() / 100
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::val::build_array;

    #[test]
    fn reals_print_like_dotnet() {
        assert_eq!(format_real(1.0), "1");
        assert_eq!(format_real(0.5), "0.5");
        assert_eq!(format_real(-2.25), "-2.25");
        assert_eq!(format_real(1e20), "1E+20");
        assert_eq!(format_real(1.5e15), "1.5E+15");
        assert_eq!(format_real(123456789012345.0), "123456789012345");
        assert_eq!(format_real(0.0001), "0.0001");
        assert_eq!(format_real(0.00001), "1E-05");
        assert_eq!(format_real(f64::NAN), "NaN");
        assert_eq!(format_real(f64::INFINITY), "Infinity");
        assert_eq!(format_real(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(format_real(0.1 + 0.2), "0.30000000000000004");
    }

    #[test]
    fn decimals_trim_zeros() {
        let one = 10i128.pow(18);
        assert_eq!(format_decimal(one), "1");
        assert_eq!(format_decimal(one / 4), "0.25");
        assert_eq!(format_decimal(-one * 3 / 2), "-1.5");
    }

    #[test]
    fn cells_render_by_type() {
        let dt = build_array(
            KqlType::DateTime,
            &[Val::DateTime(1_483_228_800_000_000_000), Val::Null],
        )
        .unwrap();
        assert_eq!(render_cell(&dt, 0, KqlType::DateTime).unwrap(), "2017-01-01T00:00:00Z");
        assert_eq!(render_cell(&dt, 1, KqlType::DateTime).unwrap(), "");
        assert_eq!(render_json(&dt, 1, KqlType::DateTime).unwrap(), Json::Null);
        let ts = build_array(KqlType::TimeSpan, &[Val::TimeSpan(93_784_500_000_000)]).unwrap();
        assert_eq!(render_cell(&ts, 0, KqlType::TimeSpan).unwrap(), "1.02:03:04.5000000");
        let d = build_array(KqlType::Dynamic, &[Val::Dyn(serde_json::json!({"a": [1, "x"]}))]).unwrap();
        assert_eq!(render_cell(&d, 0, KqlType::Dynamic).unwrap(), r#"{"a":[1,"x"]}"#);
        assert_eq!(
            render_json(&d, 0, KqlType::Dynamic).unwrap(),
            serde_json::json!({"a": [1, "x"]})
        );
        let g = build_array(KqlType::Guid, &[Val::Str("ABC-DEF".into())]).unwrap();
        assert_eq!(render_cell(&g, 0, KqlType::Guid).unwrap(), "abc-def");
        let b = build_array(KqlType::Bool, &[Val::Bool(true)]).unwrap();
        assert_eq!(render_cell(&b, 0, KqlType::Bool).unwrap(), "true");
        assert_eq!(render_json(&b, 0, KqlType::Bool).unwrap(), Json::Bool(true));
        let r = build_array(KqlType::Real, &[Val::Real(f64::NAN)]).unwrap();
        assert_eq!(render_json(&r, 0, KqlType::Real).unwrap(), Json::String("NaN".into()));
    }

    #[test]
    fn datetimes_in_dynamic_keep_seven_digits() {
        assert_eq!(
            datetime_json_text(1_483_228_800_000_000_000),
            "2017-01-01T00:00:00.0000000Z"
        );
        assert_eq!(
            datetime_json_text(1_483_228_800_500_000_000),
            "2017-01-01T00:00:00.5000000Z"
        );
    }
}
