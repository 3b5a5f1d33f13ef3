//! Comparing a result with a documented output table, by the rules of
//! `conformance/README.md`: cells compare as text after normalisation by the actual
//! column's type (numbers, datetimes, timespans, booleans, guids), dynamic values
//! structurally, nulls as empty/`null`/`(null)`; rows in order or as a multiset.

use schema::KqlType;
use serde_json::Value as Json;

/// One actual cell: its KQL type, Kusto text and JSON value.
#[derive(Debug, Clone)]
pub struct Cell {
    pub ty: KqlType,
    pub text: String,
    pub json: Json,
}

/// Whether a documented cell matches an actual one.
pub fn cell_matches(expected: &str, actual: &Cell) -> bool {
    let e = expected.trim();
    if actual.json.is_null() {
        return matches!(e, "" | "null" | "(null)");
    }
    // Documented cells are trimmed, so surrounding whitespace is not compared.
    if e == actual.text.trim() {
        return true;
    }
    match actual.ty {
        KqlType::Int | KqlType::Long | KqlType::Real | KqlType::Decimal => number_text_matches(e, &actual.text),
        KqlType::Bool => bool_matches(e, &actual.json),
        KqlType::DateTime => datetime_matches(e, &actual.text),
        KqlType::TimeSpan => timespan_matches(e, &actual.text),
        KqlType::Guid => unquote(e).eq_ignore_ascii_case(&actual.text),
        KqlType::String => {
            if unquote(e) == actual.text || (e.is_empty() && actual.text.is_empty()) {
                return true;
            }
            // JSON text in a string column (from `tostring(dynamic)`) compares structurally.
            match (lenient_json(e), serde_json::from_str::<Json>(&actual.text)) {
                (Some(x), Ok(y)) if x.is_object() || x.is_array() => json_matches(&x, &y),
                _ => false,
            }
        }
        KqlType::Dynamic => match lenient_json(e) {
            Some(x) => json_matches(&x, &actual.json),
            // A bare documented value (`abc`) against a dynamic string.
            None => leaf_text_matches(e, &actual.json),
        },
    }
}

fn unquote(s: &str) -> &str {
    s.strip_prefix('"').and_then(|x| x.strip_suffix('"')).unwrap_or(s)
}

fn bool_matches(e: &str, actual: &Json) -> bool {
    let Json::Bool(b) = actual else { return false };
    match e.to_ascii_lowercase().as_str() {
        "true" | "1" => *b,
        "false" | "0" => !*b,
        _ => false,
    }
}

/// A number as documented: `1,048,576`, `1e3`, `NaN`, `Infinity`.
fn parse_number(s: &str) -> Option<f64> {
    let t = s.trim();
    match t {
        "NaN" | "nan" => return Some(f64::NAN),
        "Infinity" | "+Infinity" | "inf" | "∞" => return Some(f64::INFINITY),
        "-Infinity" | "-inf" | "-∞" => return Some(f64::NEG_INFINITY),
        _ => {}
    }
    let cleaned: String = if t.contains(',') && !t.contains(['e', 'E']) {
        t.replace(',', "")
    } else {
        t.to_string()
    };
    cleaned.parse::<f64>().ok()
}

/// Decimal places written in a documented number (`0.33` → 2).
fn decimals(s: &str) -> Option<usize> {
    let t = s.trim();
    if t.contains(['e', 'E']) {
        return None;
    }
    t.split_once('.').map(|(_, f)| f.len())
}

pub fn number_text_matches(expected: &str, actual: &str) -> bool {
    let (Some(x), Some(y)) = (parse_number(expected), parse_number(actual)) else {
        return false;
    };
    numbers_match(x, y, decimals(expected))
}

fn numbers_match(x: f64, y: f64, expected_decimals: Option<usize>) -> bool {
    if x.is_nan() || y.is_nan() {
        return x.is_nan() && y.is_nan();
    }
    if x == y {
        return true;
    }
    if x.is_infinite() || y.is_infinite() {
        return false;
    }
    let scale = x.abs().max(y.abs());
    if (x - y).abs() <= 1e-9 * scale {
        return true;
    }
    // The docs print fewer digits: the actual value rounds to the documented one.
    if let Some(d) = expected_decimals {
        let d = d.min(15) as i32;
        let p = 10f64.powi(d);
        let rounded = (y * p).round() / p;
        if (rounded - x).abs() <= 1e-9 * scale.max(1.0) || (rounded - x).abs() < 0.5 / p {
            return true;
        }
    }
    false
}

fn datetime_matches(expected: &str, actual: &str) -> bool {
    match (
        schema::values::parse_datetime(expected),
        schema::values::parse_datetime(actual),
    ) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

fn timespan_matches(expected: &str, actual: &str) -> bool {
    match (
        schema::values::parse_timespan(expected),
        schema::values::parse_timespan(actual),
    ) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// A JSON leaf against a documented text.
fn leaf_text_matches(e: &str, actual: &Json) -> bool {
    match actual {
        Json::String(s) => {
            s == e
                || s == unquote(e)
                || s.eq_ignore_ascii_case(unquote(e)) && looks_like_guid(s)
                || datetime_matches(e, s)
                || timespan_matches(e, s) && e.contains(':')
        }
        Json::Number(n) => n
            .as_f64()
            .is_some_and(|y| parse_number(e).is_some_and(|x| numbers_match(x, y, decimals(e)))),
        Json::Bool(b) => bool_matches(e, &Json::Bool(*b)),
        Json::Null => matches!(e, "" | "null" | "(null)"),
        _ => false,
    }
}

fn looks_like_guid(s: &str) -> bool {
    s.len() == 36 && s.chars().filter(|c| *c == '-').count() == 4
}

/// Structural comparison: object key order does not matter, array order does, leaves use
/// the cell rules.
pub fn json_matches(expected: &Json, actual: &Json) -> bool {
    match (expected, actual) {
        (Json::Object(a), Json::Object(b)) => {
            a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| json_matches(v, w)))
        }
        (Json::Array(a), Json::Array(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| json_matches(x, y)),
        (Json::Number(x), Json::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => numbers_match(x, y, None),
            _ => false,
        },
        (Json::String(s), other) => leaf_text_matches(s, other),
        (Json::Number(n), other) => leaf_text_matches(&n.to_string(), other),
        (Json::Bool(b), Json::Bool(c)) => b == c,
        (Json::Null, Json::Null) => true,
        _ => false,
    }
}

/// Parses documented JSON, tolerating single-quoted strings and trailing commas. Only
/// objects and arrays (and `null`, numbers, quoted strings) count as JSON here.
pub fn lenient_json(s: &str) -> Option<Json> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    if let Ok(v) = serde_json::from_str::<Json>(t) {
        return Some(v);
    }
    if !(t.starts_with('{') || t.starts_with('[')) {
        return None;
    }
    // Rewrite single-quoted strings as double-quoted ones and drop trailing commas.
    let mut out = String::with_capacity(t.len());
    let mut chars = t.chars().peekable();
    let mut in_double = false;
    while let Some(c) = chars.next() {
        if in_double {
            out.push(c);
            if c == '\\' {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            } else if c == '"' {
                in_double = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_double = true;
                out.push(c);
            }
            '\'' => {
                out.push('"');
                while let Some(n) = chars.next() {
                    match n {
                        '\'' => break,
                        '"' => out.push_str("\\\""),
                        '\\' => {
                            out.push('\\');
                            if let Some(m) = chars.next() {
                                out.push(m);
                            }
                        }
                        other => out.push(other),
                    }
                }
                out.push('"');
            }
            ',' => {
                let rest: String = chars.clone().collect();
                let next = rest.trim_start().chars().next();
                if !matches!(next, Some(']' | '}')) {
                    out.push(',');
                }
            }
            other => out.push(other),
        }
    }
    serde_json::from_str(&out).ok()
}

/// Whether rows match: in order, or as a multiset (a perfect matching of expected rows to
/// actual rows).
pub fn rows_match(expected: &[Vec<String>], actual: &[Vec<Cell>], ordered: bool) -> Result<(), String> {
    if expected.len() != actual.len() {
        return Err(format!("expected {} rows, got {}", expected.len(), actual.len()));
    }
    let row_ok =
        |e: &Vec<String>, a: &Vec<Cell>| e.len() == a.len() && e.iter().zip(a).all(|(x, y)| cell_matches(x, y));
    if ordered {
        for (i, (e, a)) in expected.iter().zip(actual).enumerate() {
            if !row_ok(e, a) {
                return Err(format!("row {i}: expected {e:?}, got {:?}", texts(a)));
            }
        }
        return Ok(());
    }
    // Kuhn's augmenting paths over the bipartite "row matches" graph.
    let n = expected.len();
    let adj: Vec<Vec<usize>> = expected
        .iter()
        .map(|e| {
            actual
                .iter()
                .enumerate()
                .filter(|(_, a)| row_ok(e, a))
                .map(|(j, _)| j)
                .collect()
        })
        .collect();
    if let Some(i) = adj.iter().position(|a| a.is_empty()) {
        return Err(format!("no row matches expected row {i}: {:?}", expected[i]));
    }
    let mut owner: Vec<Option<usize>> = vec![None; n];
    for (i, row) in expected.iter().enumerate() {
        let mut seen = vec![false; n];
        if !augment(i, &adj, &mut owner, &mut seen) {
            return Err(format!("rows do not match as a multiset (expected row {i}: {row:?})"));
        }
    }
    Ok(())
}

fn augment(i: usize, adj: &[Vec<usize>], owner: &mut [Option<usize>], seen: &mut [bool]) -> bool {
    for &j in &adj[i] {
        if seen[j] {
            continue;
        }
        seen[j] = true;
        let free = match owner[j] {
            None => true,
            Some(k) => augment(k, adj, owner, seen),
        };
        if free {
            owner[j] = Some(i);
            return true;
        }
    }
    false
}

fn texts(cells: &[Cell]) -> Vec<String> {
    cells.iter().map(|c| c.text.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cell(ty: KqlType, text: &str, json: Json) -> Cell {
        Cell {
            ty,
            text: text.to_string(),
            json,
        }
    }

    #[test]
    fn numbers() {
        assert!(cell_matches("1.0", &cell(KqlType::Real, "1", json!(1.0))));
        assert!(cell_matches(
            "1,048,576",
            &cell(KqlType::Long, "1048576", json!(1048576))
        ));
        assert!(cell_matches(
            "0.33",
            &cell(KqlType::Real, "0.3333333", json!(0.3333333))
        ));
        assert!(!cell_matches(
            "0.34",
            &cell(KqlType::Real, "0.3333333", json!(0.3333333))
        ));
        assert!(cell_matches("NaN", &cell(KqlType::Real, "NaN", json!("NaN"))));
        assert!(cell_matches("1e3", &cell(KqlType::Long, "1000", json!(1000))));
    }

    #[test]
    fn datetimes_timespans_bools_guids_nulls() {
        let dt = cell(KqlType::DateTime, "2016-02-17T08:40:00Z", json!("2016-02-17T08:40:00Z"));
        assert!(cell_matches("2016-02-17 08:40:00.0000000", &dt));
        let ts = cell(KqlType::TimeSpan, "01:00:00", json!("01:00:00"));
        assert!(cell_matches("01:00:00.0000000", &ts));
        assert!(cell_matches("True", &cell(KqlType::Bool, "true", json!(true))));
        assert!(cell_matches("1", &cell(KqlType::Bool, "true", json!(true))));
        assert!(cell_matches("ABC-1", &cell(KqlType::Guid, "abc-1", json!("abc-1"))));
        assert!(cell_matches("", &cell(KqlType::Long, "", Json::Null)));
        assert!(cell_matches("(null)", &cell(KqlType::Long, "", Json::Null)));
        assert!(!cell_matches("0", &cell(KqlType::Long, "", Json::Null)));
    }

    #[test]
    fn dynamic_values() {
        let d = cell(KqlType::Dynamic, r#"{"a":1,"b":[1,2]}"#, json!({"a": 1, "b": [1, 2]}));
        assert!(cell_matches(r#"{"b": [1, 2], "a": 1}"#, &d));
        assert!(cell_matches("{'b': [1, 2,], 'a': 1.0}", &d));
        assert!(!cell_matches(r#"{"b": [2, 1], "a": 1}"#, &d));
        let s = cell(KqlType::Dynamic, "abc", json!("abc"));
        assert!(cell_matches("abc", &s));
    }

    #[test]
    fn multiset_rows() {
        let a = vec![
            vec![cell(KqlType::Long, "1", json!(1))],
            vec![cell(KqlType::Long, "2", json!(2))],
        ];
        let e = vec![vec!["2".to_string()], vec!["1".to_string()]];
        assert!(rows_match(&e, &a, false).is_ok());
        assert!(rows_match(&e, &a, true).is_err());
    }
}
