//! Smaller functions: `assert`, `dynamic_to_json`, `format_bytes`, `new_guid`,
//! `regex_quote`, `punycode_domain_from_string`/`punycode_domain_to_string`.

use super::arg;
use crate::api::TypedExpr;
use crate::catalog::{Call, FnDef, P, custom, p, row};
use crate::error::FnError;
use crate::val::Val;
use datafusion::common::{DataFusionError, Result};
use schema::KqlType;

fn lower_new_guid(_: &Call) -> Result<TypedExpr, FnError> {
    // DataFusion's volatile uuid(): a random (v4) lower-case UUID per row.
    Ok(TypedExpr::new(
        datafusion::functions::string::expr_fn::uuid(),
        KqlType::Guid,
    ))
}

/// `size` in bytes as `10.1 KB`, in 1024-based units chosen automatically or given.
pub fn format_bytes(size: f64, precision: usize, units: &str) -> Option<String> {
    const UNITS: [&str; 7] = ["Bytes", "KB", "MB", "GB", "TB", "PB", "EB"];
    let idx = if units.trim().is_empty() {
        let mut i = 0;
        let mut v = size.abs();
        while v >= 1024.0 && i < UNITS.len() - 1 {
            v /= 1024.0;
            i += 1;
        }
        i
    } else {
        UNITS.iter().position(|u| u.eq_ignore_ascii_case(units.trim()))?
    };
    let v = size / 1024f64.powi(idx as i32);
    let rounded = crate::render::format_real((v * 10f64.powi(precision as i32)).round() / 10f64.powi(precision as i32));
    Some(format!("{rounded} {}", UNITS[idx]))
}

/// Applies `f` to each label of a domain; Kusto accepts the ideographic full stops as
/// separators and prints `.`.
fn map_labels(domain: &str, f: impl Fn(&str) -> Option<String>) -> String {
    let labels: Vec<&str> = domain.split(['.', '。', '．', '｡']).collect();
    let mut out = Vec::with_capacity(labels.len());
    for l in labels {
        match f(l) {
            Some(x) => out.push(x),
            None => return String::new(),
        }
    }
    out.join(".")
}

pub static DEFS: &[FnDef] = &[
    row(
        "assert",
        &[p("condition", P::Bool), p("message", P::Str)],
        2,
        KqlType::Bool,
        |a| match arg(a, 0) {
            Val::Bool(true) => Ok(Val::Bool(true)),
            _ => Err(DataFusionError::Execution(format!(
                "assert() has failed with message: '{}'",
                arg(a, 1).to_kstring()
            ))),
        },
    ),
    row("dynamic_to_json", &[p("obj", P::Any)], 1, KqlType::String, |a| {
        // serde_json's maps are sorted by key: the canonical form Kusto documents.
        Ok(Val::Str(match arg(a, 0) {
            Val::Null => "null".to_string(),
            other => other.to_json().to_string(),
        }))
    }),
    row(
        "format_bytes",
        &[p("size", P::Num), p("precision", P::Int), p("units", P::Str)],
        1,
        KqlType::String,
        |a| {
            let Some(size) = arg(a, 0).as_f64() else {
                return Ok(Val::Str(String::new()));
            };
            let precision = arg(a, 1).as_i64().unwrap_or(0).clamp(0, 15) as usize;
            Ok(Val::Str(
                format_bytes(size, precision, &arg(a, 2).to_kstring()).unwrap_or_default(),
            ))
        },
    ),
    custom("new_guid", &[], 0, lower_new_guid),
    row("regex_quote", &[p("string", P::Str)], 1, KqlType::String, |a| {
        Ok(Val::Str(regex::escape(&arg(a, 0).to_kstring())))
    }),
    row(
        "punycode_domain_to_string",
        &[p("domain", P::Str)],
        1,
        KqlType::String,
        |a| {
            Ok(Val::Str(map_labels(&arg(a, 0).to_kstring(), |l| {
                if l.is_ascii() {
                    Some(l.to_string())
                } else {
                    idna::punycode::encode_str(l).map(|e| format!("xn--{e}"))
                }
            })))
        },
    ),
    row(
        "punycode_domain_from_string",
        &[p("encoded", P::Str)],
        1,
        KqlType::String,
        |a| {
            Ok(Val::Str(map_labels(&arg(a, 0).to_kstring(), |l| match l.get(..4) {
                Some(prefix) if prefix.eq_ignore_ascii_case("xn--") => idna::punycode::decode_to_string(&l[4..]),
                _ => Some(l.to_string()),
            })))
        },
    ),
];

#[cfg(test)]
mod tests {
    use crate::lit;
    use crate::testkit::call;

    #[test]
    fn extras() {
        assert_eq!(call("format_bytes", vec![lit::long(564)]), "564 Bytes");
        assert_eq!(call("format_bytes", vec![lit::long(10332), lit::long(1)]), "10.1 KB");
        assert_eq!(call("format_bytes", vec![lit::long(20010332)]), "19 MB");
        assert_eq!(
            call("format_bytes", vec![lit::long(20010332), lit::long(2)]),
            "19.08 MB"
        );
        assert_eq!(
            call(
                "format_bytes",
                vec![lit::long(20010332), lit::long(0), lit::string("KB")]
            ),
            "19541 KB"
        );
        assert_eq!(
            call("regex_quote", vec![lit::string("(so$me.Te^xt)")]),
            r"\(so\$me\.Te\^xt\)"
        );
        assert_eq!(
            call(
                "dynamic_to_json",
                vec![lit::dynamic(&serde_json::json!({"b": 1, "a": [2]}))]
            ),
            r#"{"a":[2],"b":1}"#
        );
        assert_eq!(call("assert", vec![lit::bool(true), lit::string("x")]), "true");
        assert_eq!(
            call("punycode_domain_from_string", vec![lit::string("xn--Ge-mia.Bulg.edu")]),
            "Gáe.Bulg.edu"
        );
        assert_eq!(
            call(
                "punycode_domain_to_string",
                vec![lit::string("Riðill｡Skáldskaparmál｡org")]
            ),
            "xn--Riill-jta.xn--Skldskaparml-dbbj.org"
        );
        assert_eq!(call("new_guid", vec![]).len(), 36);
    }

    #[test]
    fn failed_assert_stops_the_query() {
        let e = crate::lower_call(
            "assert",
            vec![lit::bool(false).into(), lit::string("len > 0").into()],
            &crate::testkit::ctx(),
        )
        .unwrap();
        let err = crate::testkit::try_eval_on(&e, &crate::testkit::one_row())
            .unwrap_err()
            .to_string();
        assert!(err.contains("assert() has failed with message: 'len > 0'"), "{err}");
    }
}
