//! Set functions on dynamic arrays: `set_union`, `set_intersect`, `set_difference`,
//! `set_has_element`, `jaccard_index`. Elements compare by their JSON text, so `1` and
//! `1.0` are different elements.

use super::arg;
use crate::catalog::{FnDef, P, Param, p, row, row_var};
use crate::ops::compare::compare_vals;
use crate::udf::Ret;
use crate::val::{Val, json_to_val};
use datafusion::common::Result;
use schema::KqlType;
use serde_json::Value as Json;
use std::cmp::Ordering;
use std::collections::HashSet;

fn array(a: &[Val], i: usize) -> Option<&Vec<Json>> {
    match arg(a, i) {
        Val::Dyn(Json::Array(v)) => Some(v),
        _ => None,
    }
}

fn arr(v: Vec<Json>) -> Result<Val> {
    Ok(Val::Dyn(Json::Array(v)))
}

fn null() -> Result<Val> {
    Ok(Val::Null)
}

const SETS: &[Param] = &[p("set", P::Dynamic)];

pub static DEFS: &[FnDef] = &[
    row_var("set_union", SETS, 2, Ret::Fixed(KqlType::Dynamic), |a| {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for i in 0..a.len() {
            let Some(v) = array(a, i) else { return null() };
            for j in v {
                if seen.insert(j.to_string()) {
                    out.push(j.clone());
                }
            }
        }
        arr(out)
    }),
    row_var("set_intersect", SETS, 2, Ret::Fixed(KqlType::Dynamic), |a| {
        let Some(first) = array(a, 0) else { return null() };
        let mut others = Vec::new();
        for i in 1..a.len() {
            let Some(v) = array(a, i) else { return null() };
            others.push(v.iter().map(Json::to_string).collect::<HashSet<_>>());
        }
        let mut seen = HashSet::new();
        arr(first
            .iter()
            .filter(|j| {
                let k = j.to_string();
                others.iter().all(|o| o.contains(&k)) && seen.insert(k)
            })
            .cloned()
            .collect())
    }),
    row_var("set_difference", SETS, 2, Ret::Fixed(KqlType::Dynamic), |a| {
        let Some(first) = array(a, 0) else { return null() };
        let mut others = HashSet::new();
        for i in 1..a.len() {
            let Some(v) = array(a, i) else { return null() };
            others.extend(v.iter().map(Json::to_string));
        }
        let mut seen = HashSet::new();
        arr(first
            .iter()
            .filter(|j| {
                let k = j.to_string();
                !others.contains(&k) && seen.insert(k)
            })
            .cloned()
            .collect())
    }),
    row(
        "set_has_element",
        &[p("set", P::Dynamic), p("value", P::Any)],
        2,
        KqlType::Bool,
        |a| {
            let Some(v) = array(a, 0) else { return null() };
            let x = arg(a, 1);
            Ok(Val::Bool(
                v.iter()
                    .any(|j| compare_vals(&json_to_val(j), x) == Some(Ordering::Equal)),
            ))
        },
    ),
    row(
        "jaccard_index",
        &[p("set1", P::Dynamic), p("set2", P::Dynamic)],
        2,
        KqlType::Real,
        |a| {
            let (Some(x), Some(y)) = (array(a, 0), array(a, 1)) else {
                return null();
            };
            let x: HashSet<String> = x.iter().map(Json::to_string).collect();
            let y: HashSet<String> = y.iter().map(Json::to_string).collect();
            let union = x.union(&y).count();
            if union == 0 {
                return Ok(Val::Real(f64::NAN));
            }
            Ok(Val::Real(x.intersection(&y).count() as f64 / union as f64))
        },
    ),
];

#[cfg(test)]
mod tests {
    use crate::lit;
    use crate::testkit::call;
    use serde_json::json;

    fn d(v: serde_json::Value) -> crate::api::TypedExpr {
        lit::dynamic(&v)
    }
    #[test]
    fn sets() {
        assert_eq!(
            call(
                "set_union",
                vec![d(json!([1, 2, 1, 4])), d(json!([1, 2])), d(json!([8]))]
            ),
            "[1,2,4,8]"
        );
        assert_eq!(call("set_intersect", vec![d(json!([1, 2, 3])), d(json!([4, 5]))]), "[]");
        assert_eq!(
            call("set_intersect", vec![d(json!([1, 2, 3, 2])), d(json!([2, 3]))]),
            "[2,3]"
        );
        assert_eq!(
            call("set_difference", vec![d(json!([1, 2, 3])), d(json!([1, 2, 3]))]),
            "[]"
        );
        assert_eq!(
            call(
                "set_difference",
                vec![d(json!([1, 2, 3, 4])), d(json!([1])), d(json!([3]))]
            ),
            "[2,4]"
        );
        assert_eq!(
            call(
                "set_has_element",
                vec![d(json!(["this", "example"])), lit::string("example")]
            ),
            "true"
        );
        assert_eq!(
            call("jaccard_index", vec![d(json!([1, 2, 3])), d(json!([1, 2, 3, 4]))]),
            "0.75"
        );
    }
}
