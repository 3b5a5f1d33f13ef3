//! String functions driven by regular expressions (RE2 syntax, compiled once per thread
//! through [`super::regex_cache`]): `trim`, `trim_start`, `trim_end`, `replace_regex`,
//! `replace`, `extract`, `extract_all`, `indexof_regex`, and `countof` (plain or regex).

use super::arg;
use super::regex_cache;
use super::string::search_range;
use crate::catalog::{FnDef, P, p, row};
use crate::udf::StrArray;
use crate::val::Val;
use datafusion::arrow::array::StringBuilder;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::ColumnarValue;
use schema::KqlType;
use serde_json::Value as Json;
use std::sync::Arc;

fn s(a: &[Val], i: usize) -> String {
    arg(a, i).to_kstring()
}

fn int_arg(a: &[Val], i: usize) -> Option<i64> {
    arg(a, i).as_i64()
}

fn str_val(s: impl Into<String>) -> Result<Val> {
    Ok(Val::Str(s.into()))
}

fn arr(items: Vec<Json>) -> Result<Val> {
    Ok(Val::Dyn(Json::Array(items)))
}

pub static DEFS: &[FnDef] = &[
    row(
        "trim",
        &[p("regex", P::Str), p("source", P::Str)],
        2,
        KqlType::String,
        |a| {
            let t = trim_start(&s(a, 0), &s(a, 1))?;
            str_val(trim_end(&s(a, 0), &t)?)
        },
    ),
    row(
        "trim_start",
        &[p("regex", P::Str), p("source", P::Str)],
        2,
        KqlType::String,
        |a| str_val(trim_start(&s(a, 0), &s(a, 1))?),
    ),
    row(
        "trim_end",
        &[p("regex", P::Str), p("source", P::Str)],
        2,
        KqlType::String,
        |a| str_val(trim_end(&s(a, 0), &s(a, 1))?),
    ),
    row(
        "replace_regex",
        &[
            p("source", P::Str),
            p("lookup_regex", P::Str),
            p("rewrite_pattern", P::Str),
        ],
        3,
        KqlType::String,
        |a| replace_regex(&s(a, 0), &s(a, 1), &s(a, 2)),
    ),
    row(
        "replace",
        &[p("regex", P::Str), p("rewrite", P::Str), p("text", P::Str)],
        3,
        KqlType::String,
        |a| replace_regex(&s(a, 2), &s(a, 0), &s(a, 1)),
    ),
    row(
        "extract",
        &[
            p("regex", P::Str),
            p("captureGroup", P::Int),
            p("source", P::Str),
            p("typeLiteral", P::Str),
        ],
        3,
        KqlType::String,
        extract,
    )
    .with_arrays(extract_array),
    row(
        "extract_all",
        &[p("regex", P::Str), p("captureGroups", P::Any), p("source", P::Str)],
        2,
        KqlType::Dynamic,
        extract_all,
    ),
    row(
        "extractall",
        &[p("regex", P::Str), p("captureGroups", P::Any), p("source", P::Str)],
        2,
        KqlType::Dynamic,
        extract_all,
    ),
    row(
        "indexof_regex",
        &[
            p("string", P::Str),
            p("match", P::Str),
            p("start", P::Int),
            p("length", P::Int),
            p("occurrence", P::Int),
        ],
        2,
        KqlType::Long,
        indexof_regex,
    ),
    row(
        "countof",
        &[p("source", P::Str), p("search", P::Str), p("kind", P::Str)],
        2,
        KqlType::Long,
        countof,
    ),
];

fn trim_start(re: &str, src: &str) -> Result<String> {
    let r = regex_cache::get(&format!("^(?:{re})+"))?;
    Ok(r.replace(src, "").into_owned())
}

fn trim_end(re: &str, src: &str) -> Result<String> {
    let r = regex_cache::get(&format!("(?:{re})+$"))?;
    Ok(r.replace(src, "").into_owned())
}

fn rewrite_pattern(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    let mut chars = p.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some(d) if d.is_ascii_digit() => {
                    out.push_str(&format!("${{{d}}}"));
                    chars.next();
                }
                Some('\\') => {
                    out.push('\\');
                    chars.next();
                }
                _ => out.push('\\'),
            },
            '$' => out.push_str("$$"),
            other => out.push(other),
        }
    }
    out
}

fn replace_regex(src: &str, re: &str, rewrite: &str) -> Result<Val> {
    let r = regex_cache::get(re)?;
    str_val(r.replace_all(src, rewrite_pattern(rewrite).as_str()).into_owned())
}

fn convert_to(v: String, ty: &Val) -> Val {
    let name = ty.to_kstring();
    let Ok(t) = name.trim().parse::<KqlType>() else {
        return Val::Str(v);
    };
    let sv = Val::Str(v);
    use super::convert::*;
    match t {
        KqlType::Long => to_long(&sv).map(Val::Long).unwrap_or(Val::Null),
        KqlType::Int => to_long(&sv)
            .and_then(|x| i32::try_from(x).ok())
            .map(Val::Int)
            .unwrap_or(Val::Null),
        KqlType::Real => to_real(&sv).map(Val::Real).unwrap_or(Val::Null),
        KqlType::Bool => to_bool(&sv).map(Val::Bool).unwrap_or(Val::Null),
        KqlType::DateTime => to_datetime(&sv).map(Val::DateTime).unwrap_or(Val::Null),
        KqlType::TimeSpan => to_timespan(&sv).map(Val::TimeSpan).unwrap_or(Val::Null),
        KqlType::Dynamic => to_dynamic(&sv),
        _ => sv,
    }
}

fn extract(a: &[Val]) -> Result<Val> {
    let r = regex_cache::get(&s(a, 0))?;
    let group = int_arg(a, 1).unwrap_or(0);
    let src = s(a, 2);
    let found = r
        .captures(&src)
        .and_then(|c| usize::try_from(group).ok().and_then(|g| c.get(g)))
        .map(|m| m.as_str().to_string());
    Ok(match (found, arg(a, 3)) {
        (None, _) => Val::Str(String::new()),
        (Some(v), Val::Null) => Val::Str(v),
        (Some(v), ty) => convert_to(v, ty),
    })
}

/// `extract(regex, group, column)` with a constant regex and group over a string column
/// and no type literal (how rules call it: `extract(@'…', 1, RemoteUrl)`): the row
/// function's answers, matched with one set of capture slots for every row instead of
/// the row's strings and captures allocated each time.
fn extract_array(args: &[ColumnarValue], rows: usize) -> Option<Result<ColumnarValue>> {
    let [
        ColumnarValue::Scalar(re),
        ColumnarValue::Scalar(group),
        ColumnarValue::Array(src),
    ] = args
    else {
        return None;
    };
    let (ScalarValue::Utf8(Some(re)) | ScalarValue::LargeUtf8(Some(re)) | ScalarValue::Utf8View(Some(re))) = re else {
        return None;
    };
    let group = match group {
        ScalarValue::Int64(Some(g)) => *g,
        ScalarValue::Int32(Some(g)) => i64::from(*g),
        _ => return None,
    };
    let strings = StrArray::new(src.as_ref()).ok()?;
    if src.len() != rows {
        return None;
    }
    let run = || -> Result<ColumnarValue> {
        let r = regex_cache::get(re)?;
        let mut slots = r.capture_locations();
        let group = usize::try_from(group).ok();
        let mut out = StringBuilder::with_capacity(rows, 0);
        for i in 0..rows {
            let text = strings.get(i);
            let found = group.and_then(|g| {
                r.captures_read(&mut slots, text)?;
                slots.get(g)
            });
            out.append_value(found.map_or("", |(start, end)| &text[start..end]));
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    };
    Some(run())
}

fn extract_all(a: &[Val]) -> Result<Val> {
    let (groups, src) = if a.len() >= 3 {
        (Some(arg(a, 1)), s(a, 2))
    } else {
        (None, s(a, 1))
    };
    let r = regex_cache::get(&s(a, 0))?;
    let names: Vec<Option<&str>> = r.capture_names().collect();
    let wanted: Vec<usize> = match groups {
        Some(Val::Dyn(Json::Array(items))) => items
            .iter()
            .filter_map(|j| match j {
                Json::Number(n) => n.as_u64().map(|x| x as usize),
                Json::String(name) => names.iter().position(|n| *n == Some(name.as_str())),
                _ => None,
            })
            .collect(),
        _ => (1..r.captures_len()).collect(),
    };
    let mut out = Vec::new();
    for c in r.captures_iter(&src) {
        let vals: Vec<Json> = if wanted.is_empty() {
            vec![Json::String(c.get(0).map(|m| m.as_str()).unwrap_or("").to_string())]
        } else {
            wanted
                .iter()
                .map(|g| Json::String(c.get(*g).map(|m| m.as_str()).unwrap_or("").to_string()))
                .collect()
        };
        if vals.len() == 1 {
            out.extend(vals);
        } else {
            out.push(Json::Array(vals));
        }
    }
    if out.is_empty() { Ok(Val::Null) } else { arr(out) }
}

fn indexof_regex(a: &[Val]) -> Result<Val> {
    let text = s(a, 0);
    let r = regex_cache::get(&s(a, 1))?;
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    // Unlike `indexof`, a negative start is invalid here (the reference's example).
    if arg(a, 2).as_i64().is_some_and(|s| s < 0) {
        return Ok(Val::Null);
    }
    let Some((start, end, occurrence)) = search_range(chars.len(), a) else {
        return Ok(Val::Null);
    };
    let byte = |ci: usize| chars.get(ci).map(|(b, _)| *b).unwrap_or(text.len());
    let region = &text[byte(start)..byte(end)];
    match r.find_iter(region).nth(occurrence - 1) {
        Some(m) => {
            let ci = region[..m.start()].chars().count() + start;
            Ok(Val::Long(ci as i64))
        }
        None => Ok(Val::Long(-1)),
    }
}

fn countof(a: &[Val]) -> Result<Val> {
    let src = s(a, 0);
    let search = s(a, 1);
    if search.is_empty() {
        return Ok(Val::Long(0));
    }
    if s(a, 2).eq_ignore_ascii_case("regex") {
        let r = regex_cache::get(&search)?;
        return Ok(Val::Long(r.find_iter(&src).count() as i64));
    }
    // Plain matches may overlap.
    let mut n = 0;
    let mut from = 0;
    while let Some(pos) = src[from..].find(&search) {
        n += 1;
        let next = from + pos;
        from = next + src[next..].chars().next().map(char::len_utf8).unwrap_or(1);
    }
    Ok(Val::Long(n))
}

#[cfg(test)]
mod tests {
    use crate::lit;
    use crate::testkit::call;
    use serde_json::json;

    fn st(v: &str) -> crate::api::TypedExpr {
        lit::string(v)
    }

    #[test]
    fn extract_over_a_column_is_the_row_function() {
        use super::*;
        use datafusion::arrow::array::{Array, AsArray, StringArray, StringViewArray};
        let texts = vec![
            None,
            Some("https://cdn.example.com:443/path?q=1"),
            Some("example.org"),
            Some(""),
            Some("x=45.6|y=7"),
            Some("ünïcödé=42 and more"),
            Some("no digits here"),
        ];
        let columns: Vec<Arc<dyn Array>> = vec![
            Arc::new(StringArray::from(texts.clone())),
            Arc::new(StringViewArray::from(texts.clone())),
        ];
        let cases: &[(&str, i64)] = &[
            (r"^(?:[a-z]+://)?([^/:?#]+)", 1),
            (r"(\w+)=([0-9.]+)", 2),
            (r"(\w+)=([0-9.]+)", 0),
            (r"(\w+)=([0-9.]+)", 3),
            (r"(\w+)=([0-9.]+)", -1),
            (r"(a)?(b)?x", 2),
            (r"", 0),
        ];
        for col in &columns {
            for (re, group) in cases {
                let args = [
                    ColumnarValue::Scalar(ScalarValue::Utf8(Some(re.to_string()))),
                    ColumnarValue::Scalar(ScalarValue::Int64(Some(*group))),
                    ColumnarValue::Array(col.clone()),
                ];
                let Some(Ok(ColumnarValue::Array(fast))) = extract_array(&args, col.len()) else {
                    panic!("the array path takes {re} over a string column");
                };
                let fast = fast.as_string::<i32>();
                for i in 0..col.len() {
                    let row = [
                        Val::Str(re.to_string()),
                        Val::Long(*group),
                        crate::val::val_at(col, i).unwrap(),
                    ];
                    let Val::Str(expected) = extract(&row).unwrap() else {
                        panic!("extract gives strings");
                    };
                    assert_eq!(fast.value(i), expected, "{re} group {group} row {i}");
                }
            }
        }
        // An invalid regex is the row function's error; other shapes run row by row.
        let col: Arc<dyn Array> = Arc::new(StringArray::from(vec!["a"]));
        let bad = [
            ColumnarValue::Scalar(ScalarValue::Utf8(Some("(".into()))),
            ColumnarValue::Scalar(ScalarValue::Int64(Some(1))),
            ColumnarValue::Array(col.clone()),
        ];
        assert!(matches!(extract_array(&bad, 1), Some(Err(_))));
        let typed = [
            ColumnarValue::Scalar(ScalarValue::Utf8(Some("a".into()))),
            ColumnarValue::Scalar(ScalarValue::Int64(Some(0))),
            ColumnarValue::Array(col.clone()),
            ColumnarValue::Scalar(ScalarValue::Utf8(Some("long".into()))),
        ];
        assert!(extract_array(&typed, 1).is_none());
        let column_regex = [
            ColumnarValue::Array(col.clone()),
            ColumnarValue::Scalar(ScalarValue::Int64(Some(0))),
            ColumnarValue::Array(col),
        ];
        assert!(extract_array(&column_regex, 1).is_none());
    }
    #[test]
    fn trims() {
        assert_eq!(
            call("trim", vec![st("--"), st("--https://bing.com--")]),
            "https://bing.com"
        );
        assert_eq!(call("trim", vec![st(r"[^\w]+"), st("-  Te st1// $")]), "Te st1");
        assert_eq!(call("trim_start", vec![st("a"), st("aabaa")]), "baa");
        assert_eq!(call("trim_end", vec![st("a"), st("aabaa")]), "aab");
        assert_eq!(
            call("trim", vec![st(r"\s+"), st("    Hello, world!    ")]),
            "Hello, world!"
        );
    }
    #[test]
    fn regex_functions() {
        assert_eq!(
            call("replace_regex", vec![st("abc123"), st(r"(\d)"), st(r"<\1>")]),
            "abc<1><2><3>"
        );
        assert_eq!(
            call("replace_string", vec![st("A magic trick"), st("magic"), st("cool")]),
            "A cool trick"
        );
        assert_eq!(
            call(
                "replace_strings",
                vec![
                    st("Swap words"),
                    lit::dynamic(&json!(["Swap", "words"])),
                    lit::dynamic(&json!(["words", "Swap"]))
                ]
            ),
            "words Swap"
        );
        assert_eq!(
            call("extract", vec![st(r"x=([0-9.]+)"), lit::long(1), st("hello x=45.6|wo")]),
            "45.6"
        );
        assert_eq!(
            call("extract", vec![st(r"x=([0-9.]+)"), lit::long(1), st("nothing")]),
            ""
        );
        let (v, ty) = crate::testkit::call_typed(
            "extract",
            vec![st(r"x=([0-9.]+)"), lit::long(1), st("x=45.6"), st("real")],
        );
        assert_eq!((v.as_str(), ty), ("45.6", schema::KqlType::String));
        let id = st("82b8be2d-dfa7-4bd1-8f63-24ad26d31449");
        assert_eq!(
            call("extract_all", vec![st(r"([\da-f]{2})"), id.clone()]),
            r#"["82","b8","be","2d","df","a7","4b","d1","8f","63","24","ad","26","d3","14","49"]"#
        );
        assert_eq!(
            call(
                "extract_all",
                vec![st(r"(\w)(\w+)(\w)"), lit::dynamic(&json!([1, 3])), id.clone()]
            ),
            r#"[["8","d"],["d","7"],["4","1"],["8","3"],["2","9"]]"#
        );
        assert_eq!(
            call(
                "extract_all",
                vec![
                    st(r"(?P<first>\w)(?P<middle>\w+)(?P<last>\w)"),
                    lit::dynamic(&json!(["first", 2, "last"])),
                    id
                ]
            ),
            r#"[["8","2b8be2","d"],["d","fa","7"],["4","bd","1"],["8","f6","3"],["2","4ad26d3144","9"]]"#
        );
        assert_eq!(call("countof", vec![st("aaaa"), st("aa")]), "3");
        assert_eq!(call("countof", vec![st("ababa"), st("aba"), st("regex")]), "1");
        assert_eq!(call("countof", vec![st("abcabc"), st("a.c"), st("regex")]), "2");
    }

    #[test]
    fn indexof_regex_examples() {
        let c = |args: Vec<crate::api::TypedExpr>| call("indexof_regex", args);
        assert_eq!(c(vec![st("abcabc"), st("a.c")]), "0");
        assert_eq!(
            c(vec![
                st("abcabcdefg"),
                st("a.c"),
                lit::long(0),
                lit::long(9),
                lit::long(2)
            ]),
            "3"
        );
        assert_eq!(
            c(vec![st("abcabc"), st("a.c"), lit::long(1), lit::long(-1), lit::long(2)]),
            "-1"
        );
        assert_eq!(
            c(vec![st("ababaa"), st("a.a"), lit::long(0), lit::long(-1), lit::long(2)]),
            "-1"
        );
        assert_eq!(c(vec![st("abcabc"), st("a|ab"), lit::long(-1)]), "");
    }
}
