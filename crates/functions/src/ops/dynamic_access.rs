//! Property and element access on dynamic values: `d.a`, `d['k']`, `d[0]`, `d[-1]`.
//!
//! A chain such as `d.a.b[0]` is lowered to one call `kql_dyn_path(d, 'a', 'b', 0)`, so the
//! JSON of a row is parsed once per chain. Accessing a property of a non-object, an index
//! of a non-array, or anything missing yields null, as in Kusto.

use crate::api::TypedExpr;
use crate::catalog::call_udf;
use crate::error::FnError;
use crate::udf::{Ret, RowUdf};
use crate::val::Val;
use datafusion::logical_expr::{Expr, ScalarUDF};
use schema::KqlType;
use serde_json::Value as Json;

pub const DYN_PATH: &str = "kql_dyn_path";

/// One step of a path.
fn step<'a>(v: &'a Json, seg: &Val) -> Option<&'a Json> {
    match (v, seg) {
        (Json::Object(m), Val::Str(k)) => m.get(k),
        (Json::Array(a), idx) => {
            let i = match idx {
                Val::Int(_) | Val::Long(_) => idx.as_i64()?,
                // Kusto also indexes arrays with a numeric string: d['0'].
                Val::Str(s) => s.parse::<i64>().ok()?,
                _ => return None,
            };
            let len = a.len() as i64;
            let i = if i < 0 { len + i } else { i };
            if i < 0 { None } else { a.get(usize::try_from(i).ok()?) }
        }
        _ => None,
    }
}

fn dyn_path(args: &[Val]) -> datafusion::common::Result<Val> {
    let Some((base, path)) = args.split_first() else {
        return Ok(Val::Null);
    };
    let root = match base {
        Val::Dyn(j) => j,
        _ => return Ok(Val::Null),
    };
    let mut cur = root;
    for seg in path {
        match step(cur, seg) {
            Some(next) => cur = next,
            None => return Ok(Val::Null),
        }
    }
    Ok(Val::Dyn(cur.clone()))
}

pub fn udfs() -> Vec<ScalarUDF> {
    vec![RowUdf::new(DYN_PATH.to_string(), Ret::Fixed(KqlType::Dynamic), dyn_path).into_udf()]
}

fn extend_path(base: TypedExpr, seg: Expr) -> Result<TypedExpr, FnError> {
    if base.ty != KqlType::Dynamic {
        return Err(FnError::OperatorTypes {
            op: "[]".into(),
            types: base.ty.to_string(),
        });
    }
    // Extend an existing chain instead of nesting calls.
    if let Expr::ScalarFunction(f) = &base.expr
        && f.func.name() == DYN_PATH
    {
        let mut args = f.args.clone();
        args.push(seg);
        return Ok(TypedExpr::new(call_udf(DYN_PATH, args)?, KqlType::Dynamic));
    }
    Ok(TypedExpr::new(
        call_udf(DYN_PATH, vec![base.expr, seg])?,
        KqlType::Dynamic,
    ))
}

/// `base.name` (and `base['name']`).
pub fn lower_member(base: TypedExpr, name: &str) -> Result<TypedExpr, FnError> {
    extend_path(base, datafusion::prelude::lit(name))
}

/// `base[index]` where the index is a string (property) or an integer (element, negative
/// from the end).
pub fn lower_index(base: TypedExpr, index: TypedExpr) -> Result<TypedExpr, FnError> {
    match index.ty {
        KqlType::String | KqlType::Int | KqlType::Long | KqlType::Dynamic => extend_path(base, index.expr),
        other => Err(FnError::invalid(
            "[]",
            format!("an index must be a string or an integer, not {other}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_walk_objects_and_arrays() {
        let d = Val::Dyn(json!({"a": {"b": [10, 20, 30]}, "k": "v"}));
        let get = |path: Vec<Val>| {
            let mut args = vec![d.clone()];
            args.extend(path);
            dyn_path(&args).unwrap()
        };
        assert_eq!(get(vec![Val::Str("k".into())]), Val::Dyn(json!("v")));
        assert_eq!(
            get(vec![Val::Str("a".into()), Val::Str("b".into()), Val::Long(0)]),
            Val::Dyn(json!(10))
        );
        assert_eq!(
            get(vec![Val::Str("a".into()), Val::Str("b".into()), Val::Long(-1)]),
            Val::Dyn(json!(30))
        );
        assert_eq!(
            get(vec![Val::Str("a".into()), Val::Str("b".into()), Val::Long(3)]),
            Val::Null
        );
        assert_eq!(get(vec![Val::Str("k".into()), Val::Str("x".into())]), Val::Null);
        assert_eq!(get(vec![Val::Long(0)]), Val::Null);
        assert_eq!(dyn_path(&[Val::Null, Val::Str("a".into())]).unwrap(), Val::Null);
    }
}
