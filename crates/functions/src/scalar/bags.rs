//! Functions on property bags: `bag_*`, `pack`/`bag_pack`, `bag_pack_columns`,
//! `treepath`, `extract_json`. A value that is not a bag gives null, as in Kusto.

use super::arg;
use super::jsonpath;
use crate::api::TypedExpr;
use crate::catalog::Call;
use crate::catalog::{FnDef, P, custom_var, p, row, row_var};
use crate::error::FnError;
use crate::udf::Ret;
use crate::val::{Val, json_to_val};
use datafusion::common::Result;
use schema::KqlType;
use serde_json::{Map, Value as Json};

fn array(a: &[Val], i: usize) -> Option<&Vec<Json>> {
    match arg(a, i) {
        Val::Dyn(Json::Array(v)) => Some(v),
        _ => None,
    }
}

fn bag(a: &[Val], i: usize) -> Option<&Map<String, Json>> {
    match arg(a, i) {
        Val::Dyn(Json::Object(m)) => Some(m),
        _ => None,
    }
}

fn dynv(j: Json) -> Result<Val> {
    Ok(Val::Dyn(j))
}

fn arr(v: Vec<Json>) -> Result<Val> {
    Ok(Val::Dyn(Json::Array(v)))
}

fn null() -> Result<Val> {
    Ok(Val::Null)
}

pub static DEFS: &[FnDef] = &[
    row_var(
        "bag_pack",
        &[p("key", P::Any), p("value", P::Any)],
        0,
        Ret::Fixed(KqlType::Dynamic),
        pack,
    ),
    row_var(
        "pack",
        &[p("key", P::Any), p("value", P::Any)],
        0,
        Ret::Fixed(KqlType::Dynamic),
        pack,
    ),
    row_var(
        "pack_dictionary",
        &[p("key", P::Any), p("value", P::Any)],
        0,
        Ret::Fixed(KqlType::Dynamic),
        pack,
    ),
    custom_var("bag_pack_columns", &[p("column", P::Any)], 1, lower_pack_columns),
    row(
        "bag_keys",
        &[p("object", P::Dynamic)],
        1,
        KqlType::Dynamic,
        |a| match bag(a, 0) {
            Some(m) => arr(m.keys().map(|k| Json::String(k.clone())).collect()),
            None => null(),
        },
    ),
    row_var(
        "bag_merge",
        &[p("bag", P::Dynamic)],
        1,
        Ret::Fixed(KqlType::Dynamic),
        |a| {
            let mut out = Map::new();
            for i in 0..a.len() {
                if let Some(m) = bag(a, i) {
                    for (k, v) in m {
                        out.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                }
            }
            dynv(Json::Object(out))
        },
    ),
    row(
        "bag_has_key",
        &[p("bag", P::Dynamic), p("key", P::Str)],
        2,
        KqlType::Bool,
        |a| {
            let Val::Dyn(root @ Json::Object(_)) = arg(a, 0) else {
                return null();
            };
            let path = jsonpath::parse(&arg(a, 1).to_kstring());
            Ok(Val::Bool(path.is_some_and(|p| jsonpath::get(root, &p).is_some())))
        },
    ),
    row(
        "bag_set_key",
        &[p("bag", P::Dynamic), p("key", P::Str), p("value", P::Any)],
        3,
        KqlType::Dynamic,
        |a| {
            let Val::Dyn(root @ Json::Object(_)) = arg(a, 0) else {
                return null();
            };
            let Some(path) = jsonpath::parse(&arg(a, 1).to_kstring()) else {
                return null();
            };
            let mut out = root.clone();
            jsonpath::set(&mut out, &path, arg(a, 2).to_json());
            dynv(out)
        },
    ),
    row(
        "bag_remove_keys",
        &[p("bag", P::Dynamic), p("keys", P::Dynamic)],
        2,
        KqlType::Dynamic,
        |a| {
            let Val::Dyn(root @ Json::Object(_)) = arg(a, 0) else {
                return null();
            };
            let mut out = root.clone();
            for k in array(a, 1).into_iter().flatten() {
                if let Some(path) = k.as_str().and_then(jsonpath::parse) {
                    jsonpath::remove(&mut out, &path);
                }
            }
            dynv(out)
        },
    ),
    row(
        "bag_zip",
        &[p("keys", P::Dynamic), p("values", P::Dynamic)],
        2,
        KqlType::Dynamic,
        |a| {
            let Some(keys) = array(a, 0) else { return null() };
            let values = array(a, 1);
            let mut out = Map::new();
            for (i, k) in keys.iter().enumerate() {
                if let Some(k) = k.as_str() {
                    out.insert(
                        k.to_string(),
                        values.and_then(|v| v.get(i)).cloned().unwrap_or(Json::Null),
                    );
                }
            }
            dynv(Json::Object(out))
        },
    ),
    row("treepath", &[p("object", P::Dynamic)], 1, KqlType::Dynamic, |a| {
        let Val::Dyn(root) = arg(a, 0) else { return null() };
        let mut out = Vec::new();
        treepath(root, String::new(), &mut out);
        arr(out.into_iter().map(Json::String).collect())
    }),
    row(
        "extract_json",
        &[p("jsonPath", P::Str), p("dataSource", P::Any), p("type", P::Str)],
        2,
        KqlType::String,
        extract_json,
    ),
    row(
        "extractjson",
        &[p("jsonPath", P::Str), p("dataSource", P::Any), p("type", P::Str)],
        2,
        KqlType::String,
        extract_json,
    ),
];

fn pack(a: &[Val]) -> Result<Val> {
    let mut out = Map::new();
    for kv in a.chunks(2) {
        if let [k, v] = kv {
            out.insert(k.to_kstring(), v.to_json());
        }
    }
    dynv(Json::Object(out))
}

fn lower_pack_columns(c: &Call) -> Result<TypedExpr, FnError> {
    let mut args = Vec::new();
    for (i, a) in c.args.iter().enumerate() {
        let Some(name) = crate::aggregate::naming::expr_column_name(&a.expr)
            .filter(|_| matches!(a.expr, datafusion::logical_expr::Expr::Column(_)))
        else {
            return Err(FnError::invalid(
                c.name,
                format!("argument #{} must be a column", i + 1),
            ));
        };
        args.push(crate::lit::string(&name));
        args.push(a.clone());
    }
    crate::catalog::call_row("bag_pack", args)
}

fn treepath(v: &Json, prefix: String, out: &mut Vec<String>) {
    let push = |p: String, out: &mut Vec<String>| {
        if !out.contains(&p) {
            out.push(p);
        }
    };
    match v {
        Json::Object(m) => {
            for (k, child) in m {
                let p = format!("{prefix}['{k}']");
                push(p.clone(), out);
                treepath(child, p, out);
            }
        }
        Json::Array(items) if !items.is_empty() => {
            let p = format!("{prefix}[0]");
            push(p.clone(), out);
            for item in items {
                treepath(item, p.clone(), out);
            }
        }
        _ => {}
    }
}

fn extract_json(a: &[Val]) -> Result<Val> {
    let doc = match arg(a, 1) {
        Val::Dyn(j) => j.clone(),
        other => match serde_json::from_str::<Json>(&other.to_kstring()) {
            Ok(j) => j,
            Err(_) => return Ok(Val::Str(String::new())),
        },
    };
    let Some(path) = jsonpath::parse(&arg(a, 0).to_kstring()) else {
        return Ok(Val::Str(String::new()));
    };
    let found = jsonpath::get(&doc, &path)
        .map(|j| json_to_val(j).to_kstring())
        .unwrap_or_default();
    // A type literal converts the text (the result column stays a string column here; the
    // typed form is lowered by the engine as `to<type>(extract_json(…))`).
    Ok(Val::Str(found))
}

#[cfg(test)]
mod tests {
    use crate::lit;
    use crate::testkit::call;
    use serde_json::json;

    fn d(v: serde_json::Value) -> crate::api::TypedExpr {
        lit::dynamic(&v)
    }
    #[test]
    fn bags() {
        assert_eq!(call("bag_keys", vec![d(json!({"a": "b", "c": 123}))]), r#"["a","c"]"#);
        assert_eq!(call("bag_keys", vec![d(json!({}))]), "[]");
        assert_eq!(call("bag_keys", vec![d(json!([]))]), "");
        assert_eq!(
            call(
                "bag_has_key",
                vec![d(json!({"key1": 123, "key2": "abc"})), lit::string("key2")]
            ),
            "true"
        );
        assert_eq!(
            call(
                "bag_has_key",
                vec![d(json!({"key2": {"prop1": "abc"}})), lit::string("$.key2.prop1")]
            ),
            "true"
        );
        assert_eq!(
            call(
                "bag_set_key",
                vec![d(json!({"key1": 1, "key3": "abc"})), lit::string("key3"), lit::long(3)]
            ),
            r#"{"key1":1,"key3":3}"#
        );
        assert_eq!(
            call(
                "bag_remove_keys",
                vec![
                    d(json!({"key1": 123, "key2": {"prop1": "abc", "prop2": "xyz"}, "key3": [100, 200]})),
                    d(json!(["$.key2.prop1", "key3"]))
                ]
            ),
            r#"{"key1":123,"key2":{"prop2":"xyz"}}"#
        );
        assert_eq!(
            call("bag_zip", vec![d(json!(["a", 8, "b"])), d(json!([1, "2", 2.5]))]),
            r#"{"a":1,"b":2.5}"#
        );
        assert_eq!(
            call("bag_zip", vec![d(json!(["a", "b"])), d(json!(1))]),
            r#"{"a":null,"b":null}"#
        );
        assert_eq!(
            call(
                "bag_merge",
                vec![d(json!({"A1": 12, "B1": 2})), d(json!({"A1": 81, "C1": 3}))]
            ),
            r#"{"A1":12,"B1":2,"C1":3}"#
        );
        assert_eq!(
            call(
                "bag_pack",
                vec![
                    lit::string("Level"),
                    lit::string("Information"),
                    lit::string("ProcessID"),
                    lit::long(1234)
                ]
            ),
            r#"{"Level":"Information","ProcessID":1234}"#
        );
        assert_eq!(
            call("treepath", vec![d(json!({"prop1": [1, 2, 3, 4], "prop2": "value2"}))]),
            r#"["['prop1']","['prop1'][0]","['prop2']"]"#
        );
        assert_eq!(
            call(
                "treepath",
                vec![d(json!({"listProperty": [100, 200, 300, "abcde", {"x": "y"}]}))]
            ),
            r#"["['listProperty']","['listProperty'][0]","['listProperty'][0]['x']"]"#
        );
        assert_eq!(
            call(
                "extract_json",
                vec![lit::string("$.name"), lit::string(r#"{"name": "John", "age": 30}"#)]
            ),
            "John"
        );
    }
}
