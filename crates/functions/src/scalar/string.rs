//! String functions. Arguments that are not strings are converted as `tostring` does
//! (Kusto forcibly converts them); results are never null strings.

use super::arg;
use crate::catalog::{FnDef, P, Param, p, row, row_var};
use crate::terms::{Needle, StrOp};
use crate::udf::Ret;
use crate::val::{Val, json_to_val};
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

const S1: &[Param] = &[p("source", P::Str)];
const S2: &[Param] = &[p("source", P::Str), p("value", P::Str)];

pub static DEFS: &[FnDef] = &[
    row("strlen", S1, 1, KqlType::Long, |a| {
        Ok(Val::Long(s(a, 0).encode_utf16().count() as i64))
    }),
    row("string_size", S1, 1, KqlType::Long, |a| {
        Ok(Val::Long(s(a, 0).len() as i64))
    }),
    row_var(
        "strcat",
        &[p("argument", P::Any)],
        1,
        Ret::Fixed(KqlType::String),
        |a| str_val(a.iter().map(Val::to_kstring).collect::<String>()),
    ),
    row_var(
        "strcat_delim",
        &[p("delimiter", P::Str), p("argument", P::Any)],
        3,
        Ret::Fixed(KqlType::String),
        |a| {
            let d = s(a, 0);
            str_val(a.iter().skip(1).map(Val::to_kstring).collect::<Vec<_>>().join(&d))
        },
    ),
    row(
        "strcat_array",
        &[p("array", P::Dynamic), p("delimiter", P::Str)],
        2,
        KqlType::String,
        |a| {
            let d = s(a, 1);
            match arg(a, 0) {
                Val::Dyn(Json::Array(items)) => str_val(
                    items
                        .iter()
                        .map(|j| json_to_val(j).to_kstring())
                        .collect::<Vec<_>>()
                        .join(&d),
                ),
                _ => str_val(""),
            }
        },
    ),
    row(
        "substring",
        &[p("source", P::Str), p("startingIndex", P::Int), p("length", P::Int)],
        2,
        KqlType::String,
        |a| {
            let chars: Vec<char> = s(a, 0).chars().collect();
            let n = chars.len() as i64;
            let Some(start) = int_arg(a, 1) else { return str_val("") };
            let start = if start < 0 { (n + start).max(0) } else { start.min(n) };
            let len = match arg(a, 2) {
                Val::Null => n - start,
                v => v.as_i64().unwrap_or(0).max(0),
            };
            let end = (start + len).min(n);
            str_val(
                chars[start as usize..end.max(start) as usize]
                    .iter()
                    .collect::<String>(),
            )
        },
    ),
    row("tolower", S1, 1, KqlType::String, |a| str_val(s(a, 0).to_lowercase())),
    row("toupper", S1, 1, KqlType::String, |a| str_val(s(a, 0).to_uppercase())),
    row(
        "split",
        &[p("source", P::Str), p("delimiter", P::Str), p("requestedIndex", P::Int)],
        2,
        KqlType::Dynamic,
        |a| {
            let src = s(a, 0);
            let d = s(a, 1);
            let parts: Vec<Json> = if d.is_empty() {
                vec![Json::String(src)]
            } else {
                src.split(d.as_str()).map(|x| Json::String(x.to_string())).collect()
            };
            match arg(a, 2) {
                Val::Null => arr(parts),
                v => {
                    let i = v.as_i64().unwrap_or(-1);
                    let len = parts.len() as i64;
                    let i = if i < 0 { len + i } else { i };
                    arr(usize::try_from(i)
                        .ok()
                        .and_then(|i| parts.get(i).cloned())
                        .into_iter()
                        .collect())
                }
            }
        },
    ),
    row(
        "replace_string",
        &[p("text", P::Str), p("lookup", P::Str), p("rewrite", P::Str)],
        3,
        KqlType::String,
        |a| {
            let (t, l, r) = (s(a, 0), s(a, 1), s(a, 2));
            str_val(if l.is_empty() { t } else { t.replace(&l, &r) })
        },
    ),
    row(
        "replace_strings",
        &[p("text", P::Str), p("lookups", P::Dynamic), p("rewrites", P::Dynamic)],
        3,
        KqlType::String,
        |a| str_val(replace_strings(&s(a, 0), arg(a, 1), arg(a, 2))),
    ),
    row(
        "indexof",
        &[
            p("string", P::Str),
            p("match", P::Str),
            p("start", P::Int),
            p("length", P::Int),
            p("occurrence", P::Int),
        ],
        2,
        KqlType::Long,
        indexof,
    ),
    row("reverse", S1, 1, KqlType::String, |a| {
        str_val(s(a, 0).chars().rev().collect::<String>())
    }),
    row(
        "strrep",
        &[p("value", P::Any), p("multiplier", P::Int), p("delimiter", P::Str)],
        2,
        KqlType::String,
        |a| {
            let n = int_arg(a, 1).unwrap_or(0).clamp(0, 1024) as usize;
            str_val(vec![s(a, 0); n].join(&s(a, 2)))
        },
    ),
    row(
        "translate",
        &[
            p("searchList", P::Str),
            p("replacementList", P::Str),
            p("source", P::Str),
        ],
        3,
        KqlType::String,
        |a| str_val(translate(&s(a, 0), &s(a, 1), &s(a, 2))),
    ),
    row("strcmp", S2, 2, KqlType::Int, |a| {
        Ok(Val::Int(match s(a, 0).cmp(&s(a, 1)) {
            std::cmp::Ordering::Less => -1,
            std::cmp::Ordering::Equal => 0,
            std::cmp::Ordering::Greater => 1,
        }))
    }),
    row("unicode_codepoints_from_string", S1, 1, KqlType::Dynamic, |a| {
        arr(s(a, 0).chars().map(|c| Json::from(c as u32)).collect())
    }),
    row_var(
        "unicode_codepoints_to_string",
        &[p("values", P::Any)],
        1,
        Ret::Fixed(KqlType::String),
        |a| {
            let mut out = String::new();
            for v in a {
                let items = match v {
                    Val::Dyn(Json::Array(items)) => items.iter().map(json_to_val).collect(),
                    other => vec![other.clone()],
                };
                for it in items {
                    match it.as_i64().and_then(|c| u32::try_from(c).ok()).and_then(char::from_u32) {
                        Some(c) => out.push(c),
                        None => return Ok(Val::Null),
                    }
                }
            }
            str_val(out)
        },
    ),
    row(
        "has_any_index",
        &[p("source", P::Str), p("values", P::Dynamic)],
        2,
        KqlType::Long,
        |a| {
            let src = s(a, 0);
            let Val::Dyn(Json::Array(items)) = arg(a, 1) else {
                return Ok(Val::Long(-1));
            };
            let idx = items
                .iter()
                .position(|j| Needle::new(&json_to_val(j).to_kstring(), false).test(StrOp::Has, &src));
            Ok(Val::Long(idx.map(|i| i as i64).unwrap_or(-1)))
        },
    ),
    row("isascii", S1, 1, KqlType::Bool, |a| Ok(Val::Bool(s(a, 0).is_ascii()))),
    row("isutf8", S1, 1, KqlType::Bool, |_| Ok(Val::Bool(true))),
    row("parse_csv", S1, 1, KqlType::Dynamic, |a| {
        arr(parse_csv(&s(a, 0)).into_iter().map(Json::String).collect())
    }),
    row(
        "parse_command_line",
        &[p("command_line", P::Str), p("parser_type", P::Str)],
        2,
        KqlType::Dynamic,
        |a| arr(parse_command_line(&s(a, 0)).into_iter().map(Json::String).collect()),
    ),
    row("to_utf8", S1, 1, KqlType::Dynamic, |a| {
        arr(s(a, 0).bytes().map(Json::from).collect())
    }),
];

fn replace_strings(text: &str, lookups: &Val, rewrites: &Val) -> String {
    let (Val::Dyn(Json::Array(l)), Val::Dyn(Json::Array(r))) = (lookups, rewrites) else {
        return text.to_string();
    };
    let pairs: Vec<(&str, Option<&str>)> = l
        .iter()
        .enumerate()
        .filter_map(|(i, k)| Some((k.as_str().filter(|k| !k.is_empty())?, r.get(i).and_then(Json::as_str))))
        .collect();
    // Each lookup, in order, claims its (non-overlapping) matches in the original text
    // that do not overlap a match claimed by an earlier lookup; replacements are never
    // re-scanned. This reproduces the reference's examples ('is' before 'This' turns
    // "This" into "Thwas").
    let mut claimed: Vec<(usize, usize, usize)> = Vec::new();
    for (li, (k, _)) in pairs.iter().enumerate() {
        let mut from = 0;
        while let Some(pos) = text[from..].find(k) {
            let start = from + pos;
            let end = start + k.len();
            if !claimed.iter().any(|(s, e, _)| start < *e && *s < end) {
                claimed.push((start, end, li));
                from = end;
            } else {
                from = start + text[start..].chars().next().map(char::len_utf8).unwrap_or(1);
            }
        }
    }
    claimed.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end, li) in claimed {
        out.push_str(&text[at..start]);
        match pairs[li].1 {
            Some(rw) => out.push_str(rw),
            None => out.push_str(&text[start..end]),
        }
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

pub(super) fn search_range(n: usize, a: &[Val]) -> Option<(usize, usize, usize)> {
    let n = n as i64;
    let start = match arg(a, 2) {
        Val::Null => 0,
        v => v.as_i64()?,
    };
    let start = if start < 0 { (n + start).max(0) } else { start };
    let length = match arg(a, 3) {
        Val::Null => -1,
        v => v.as_i64()?,
    };
    let occurrence = match arg(a, 4) {
        Val::Null => 1,
        v => v.as_i64()?,
    };
    if length < -1 || occurrence < 0 {
        return None;
    }
    // Kusto examines `length` positions after `start` inclusive (its own examples show it).
    let end = if length == -1 { n } else { (start + length + 1).min(n) };
    Some((
        start.min(n) as usize,
        end.max(start.min(n)) as usize,
        occurrence.max(1) as usize,
    ))
}

fn indexof(a: &[Val]) -> Result<Val> {
    let chars: Vec<char> = s(a, 0).chars().collect();
    let needle: Vec<char> = s(a, 1).chars().collect();
    let Some((start, end, occurrence)) = search_range(chars.len(), a) else {
        return Ok(Val::Null);
    };
    let mut seen = 0;
    let mut i = start;
    while i + needle.len() <= end {
        if chars[i..i + needle.len()] == needle[..] {
            seen += 1;
            if seen == occurrence {
                return Ok(Val::Long(i as i64));
            }
        }
        i += 1;
    }
    Ok(Val::Long(-1))
}

fn translate(search: &str, replace: &str, src: &str) -> String {
    let from: Vec<char> = search.chars().collect();
    let to: Vec<char> = replace.chars().collect();
    src.chars()
        .filter_map(|c| match from.iter().position(|f| *f == c) {
            None => Some(c),
            // An empty replacement list deletes; a short one repeats its last character.
            Some(i) => to.get(i).or(to.last()).copied(),
        })
        .collect()
}

pub fn parse_csv(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    cur.push('"');
                    chars.next();
                } else {
                    quoted = false;
                }
            } else {
                cur.push(c);
            }
        } else {
            match c {
                '"' => quoted = true,
                ',' => out.push(std::mem::take(&mut cur)),
                '\n' => break,
                '\r' if chars.peek() == Some(&'\n') => break,
                _ => cur.push(c),
            }
        }
    }
    out.push(cur);
    out
}

pub fn parse_command_line(cmd: &str) -> Vec<String> {
    let mut args = Vec::new();
    let chars: Vec<char> = cmd.chars().collect();
    let mut i = 0;
    let n = chars.len();
    let mut first = true;
    while i < n {
        while i < n && (chars[i] == ' ' || chars[i] == '\t') {
            i += 1;
        }
        if i >= n {
            break;
        }
        let mut cur = String::new();
        if first {
            // The program name: quotes toggle, backslashes are literal.
            first = false;
            if chars[i] == '"' {
                i += 1;
                while i < n && chars[i] != '"' {
                    cur.push(chars[i]);
                    i += 1;
                }
                i += 1;
            } else {
                while i < n && chars[i] != ' ' && chars[i] != '\t' {
                    cur.push(chars[i]);
                    i += 1;
                }
            }
            args.push(cur);
            continue;
        }
        let mut in_quotes = false;
        while i < n {
            let c = chars[i];
            if (c == ' ' || c == '\t') && !in_quotes {
                break;
            }
            if c == '\\' {
                let mut k = 0;
                while i < n && chars[i] == '\\' {
                    k += 1;
                    i += 1;
                }
                if i < n && chars[i] == '"' {
                    cur.extend(std::iter::repeat_n('\\', k / 2));
                    if k % 2 == 1 {
                        cur.push('"');
                        i += 1;
                    }
                } else {
                    cur.extend(std::iter::repeat_n('\\', k));
                }
                continue;
            }
            if c == '"' {
                if in_quotes && i + 1 < n && chars[i + 1] == '"' {
                    cur.push('"');
                    i += 2;
                    continue;
                }
                in_quotes = !in_quotes;
                i += 1;
                continue;
            }
            cur.push(c);
            i += 1;
        }
        args.push(cur);
    }
    args
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
    fn lengths_and_concatenation() {
        assert_eq!(call("strlen", vec![st("hello")]), "5");
        assert_eq!(call("strlen", vec![st("⒦⒰⒮⒯⒪")]), "5");
        assert_eq!(call("strlen", vec![st("C\u{327}edilla")]), "8");
        assert_eq!(call("string_size", vec![st("⒦⒰⒮⒯⒪")]), "15");
        assert_eq!(call("strcat", vec![st("a"), lit::long(1), lit::bool(true)]), "a1true");
        assert_eq!(call("strcat_delim", vec![st("-"), st("a"), lit::long(2)]), "a-2");
        assert_eq!(
            call("strcat_array", vec![lit::dynamic(&json!([1, 2, 3])), st("->")]),
            "1->2->3"
        );
    }
    #[test]
    fn substring_examples() {
        assert_eq!(call("substring", vec![st("123456"), lit::long(1)]), "23456");
        assert_eq!(call("substring", vec![st("123456"), lit::long(2), lit::long(2)]), "34");
        assert_eq!(call("substring", vec![st("ABCD"), lit::long(0), lit::long(2)]), "AB");
        assert_eq!(call("substring", vec![st("123456"), lit::long(-2), lit::long(2)]), "56");
        assert_eq!(call("substring", vec![st("abc"), lit::long(10)]), "");
    }
    #[test]
    fn split_examples() {
        assert_eq!(call("split", vec![st("aa_bb"), st("_")]), r#"["aa","bb"]"#);
        assert_eq!(
            call("split", vec![st("aaa_bbb_ccc"), st("_"), lit::long(1)]),
            r#"["bbb"]"#
        );
        assert_eq!(call("split", vec![st(""), st("_")]), r#"[""]"#);
        assert_eq!(call("split", vec![st("a__b"), st("_")]), r#"["a","","b"]"#);
        assert_eq!(call("split", vec![st("aabbcc"), st("bb")]), r#"["aa","cc"]"#);
    }
    #[test]
    fn indexof_examples() {
        let s = || st("abcdefg");
        assert_eq!(call("indexof", vec![s(), st("cde")]), "2");
        assert_eq!(call("indexof", vec![s(), st("cde"), lit::long(1), lit::long(4)]), "2");
        assert_eq!(call("indexof", vec![s(), st("cde"), lit::long(1), lit::long(2)]), "-1");
        assert_eq!(call("indexof", vec![s(), st("cde"), lit::long(3), lit::long(4)]), "-1");
        assert_eq!(call("indexof", vec![s(), st("cde"), lit::long(-5)]), "2");
        assert_eq!(
            call(
                "indexof",
                vec![lit::long(1234567), lit::long(5), lit::long(1), lit::long(4)]
            ),
            "4"
        );
        assert_eq!(call("indexof", vec![s(), st("cde"), lit::long(2), lit::long(-1)]), "2");
        assert_eq!(
            call(
                "indexof",
                vec![
                    st("abcdefgabcdefg"),
                    st("cde"),
                    lit::long(1),
                    lit::long(10),
                    lit::long(2)
                ]
            ),
            "9"
        );
        assert_eq!(
            call(
                "indexof",
                vec![
                    st("abcdefgabcdefg"),
                    st("cde"),
                    lit::long(1),
                    lit::long(-1),
                    lit::long(3)
                ]
            ),
            "-1"
        );
    }
    #[test]
    fn replace_strings_claims_matches_in_lookup_order() {
        let msg = || st("This is an example of using replace_strings()");
        let d = |v: serde_json::Value| lit::dynamic(&v);
        assert_eq!(
            call(
                "replace_strings",
                vec![msg(), d(json!(["This", "is"])), d(json!(["This", "was"]))]
            ),
            "This was an example of using replace_strings()"
        );
        assert_eq!(
            call(
                "replace_strings",
                vec![msg(), d(json!(["is", "This"])), d(json!(["was", "This"]))]
            ),
            "Thwas was an example of using replace_strings()"
        );
    }

    #[test]
    fn misc_string_functions() {
        assert_eq!(call("reverse", vec![st("ABC")]), "CBA");
        assert_eq!(call("reverse", vec![lit::real(123.45)]), "54.321");
        assert_eq!(
            call("strrep", vec![lit::long(123), lit::long(3), st(".")]),
            "123.123.123"
        );
        assert_eq!(
            call("strrep", vec![lit::timespan(3_000_000_000), lit::long(2), st(" ")]),
            "00:00:03 00:00:03"
        );
        assert_eq!(call("translate", vec![st("krasp"), st("otsku"), st("spark")]), "kusto");
        assert_eq!(call("translate", vec![st("abc"), st("x"), st("abc")]), "xxx");
        assert_eq!(call("translate", vec![st("abc"), st(""), st("ab")]), "");
        assert_eq!(call("strcmp", vec![st("ABC"), st("ABD")]), "-1");
        assert_eq!(call("unicode_codepoints_from_string", vec![st("⒦⒰")]), "[9382,9392]");
        assert_eq!(
            call(
                "unicode_codepoints_to_string",
                vec![lit::long(75), lit::dynamic(&json!([117, 115]))]
            ),
            "Kus"
        );
        assert_eq!(
            call(
                "has_any_index",
                vec![st("this is an example"), lit::dynamic(&json!(["not", "example"]))]
            ),
            "1"
        );
        assert_eq!(
            call(
                "has_any_index",
                vec![st("Example number 2"), lit::dynamic(&json!([1, 2, 3]))]
            ),
            "1"
        );
        assert_eq!(call("has_any_index", vec![st("x"), lit::dynamic(&json!([]))]), "-1");
        assert_eq!(call("tolower", vec![st("ÄBC")]), "äbc");
        assert_eq!(
            call(
                "parse_csv",
                vec![st(
                    "aa,\"b,b,b\",cc,\"Escaping quotes: \"\"Title\"\"\",\"line1\nline2\""
                )]
            ),
            r#"["aa","b,b,b","cc","Escaping quotes: \"Title\"","line1\nline2"]"#
        );
        assert_eq!(
            call("parse_csv", vec![st("record1,a\nrecord2,x")]),
            r#"["record1","a"]"#
        );
        assert_eq!(
            call(
                "parse_command_line",
                vec![st(r#"echo "hello world" a\"b"#), st("windows")]
            ),
            r#"["echo","hello world","a\"b"]"#
        );
    }
}
