//! String functions driven by regular expressions (RE2 syntax, compiled once per thread
//! through [`super::regex_cache`]): `trim`, `trim_start`, `trim_end`, `replace_regex`,
//! `replace`, `extract`, `extract_all`, `indexof_regex`, and `countof` (plain or regex).

use super::arg;
use super::regex_cache;
use super::string::search_range;
use crate::catalog::{FnDef, P, p, row};
use crate::val::Val;
use datafusion::common::Result;
use schema::KqlType;
use serde_json::Value as Json;

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
    ),
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
