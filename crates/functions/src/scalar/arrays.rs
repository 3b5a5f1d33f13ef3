//! Functions on dynamic arrays: `array_*`, `pack_array`, `zip`, `repeat`, `range`. A
//! value that is not an array gives null, as in Kusto.

use super::arg;
use crate::api::TypedExpr;
use crate::catalog::Call;
use crate::catalog::{FnDef, P, Param, custom, p, row, row_var};
use crate::error::FnError;
use crate::ops::compare::compare_vals;
use crate::udf::Ret;
use crate::val::{Val, json_to_val};
use datafusion::common::Result;
use schema::KqlType;
use serde_json::Value as Json;
use std::cmp::Ordering;

fn array(a: &[Val], i: usize) -> Option<&Vec<Json>> {
    match arg(a, i) {
        Val::Dyn(Json::Array(v)) => Some(v),
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

const A1: &[Param] = &[p("array", P::Dynamic)];
const AN: &[Param] = &[p("array", P::Dynamic), p("n", P::Int), p("fill", P::Any)];

pub static DEFS: &[FnDef] = &[
    row("array_length", A1, 1, KqlType::Long, |a| {
        Ok(array(a, 0).map(|v| Val::Long(v.len() as i64)).unwrap_or(Val::Null))
    }),
    row_var(
        "array_concat",
        &[p("array", P::Dynamic)],
        1,
        Ret::Fixed(KqlType::Dynamic),
        |a| {
            let mut out = Vec::new();
            for i in 0..a.len() {
                match array(a, i) {
                    Some(v) => out.extend(v.iter().cloned()),
                    None => return null(),
                }
            }
            arr(out)
        },
    ),
    row(
        "array_iff",
        &[
            p("condition_array", P::Dynamic),
            p("when_true", P::Any),
            p("when_false", P::Any),
        ],
        3,
        KqlType::Dynamic,
        array_iff,
    ),
    row(
        "array_iif",
        &[
            p("condition_array", P::Dynamic),
            p("when_true", P::Any),
            p("when_false", P::Any),
        ],
        3,
        KqlType::Dynamic,
        array_iff,
    ),
    row(
        "array_index_of",
        &[
            p("array", P::Dynamic),
            p("value", P::Any),
            p("start", P::Int),
            p("length", P::Int),
            p("occurrence", P::Int),
        ],
        2,
        KqlType::Long,
        array_index_of,
    ),
    row("array_reverse", A1, 1, KqlType::Dynamic, |a| match array(a, 0) {
        Some(v) => arr(v.iter().rev().cloned().collect()),
        None => null(),
    }),
    row(
        "array_rotate_left",
        &[p("array", P::Dynamic), p("rotate_count", P::Int)],
        2,
        KqlType::Dynamic,
        |a| rotate(a, true),
    ),
    row(
        "array_rotate_right",
        &[p("array", P::Dynamic), p("rotate_count", P::Int)],
        2,
        KqlType::Dynamic,
        |a| rotate(a, false),
    ),
    row("array_shift_left", AN, 2, KqlType::Dynamic, |a| shift(a, true)),
    row("array_shift_right", AN, 2, KqlType::Dynamic, |a| shift(a, false)),
    row(
        "array_slice",
        &[p("array", P::Dynamic), p("start", P::Int), p("end", P::Int)],
        3,
        KqlType::Dynamic,
        |a| {
            let Some(v) = array(a, 0) else { return null() };
            let n = v.len() as i64;
            let norm = |i: i64| if i < 0 { n + i } else { i };
            let (Some(s), Some(e)) = (arg(a, 1).as_i64(), arg(a, 2).as_i64()) else {
                return null();
            };
            let (s, e) = (norm(s).max(0), norm(e).min(n - 1));
            if s > e || s >= n {
                return arr(vec![]);
            }
            arr(v[s as usize..=e as usize].to_vec())
        },
    ),
    custom(
        "array_sort_asc",
        &[p("array", P::Dynamic), p("arrays_or_nulls_last", P::Any)],
        1,
        lower_sort,
    ),
    custom(
        "array_sort_desc",
        &[p("array", P::Dynamic), p("arrays_or_nulls_last", P::Any)],
        1,
        lower_sort,
    ),
    row_var(
        "__array_sort_asc",
        &[p("arg", P::Any)],
        1,
        Ret::Fixed(KqlType::Dynamic),
        |a| sort(a, true),
    ),
    row_var(
        "__array_sort_desc",
        &[p("arg", P::Any)],
        1,
        Ret::Fixed(KqlType::Dynamic),
        |a| sort(a, false),
    ),
    row(
        "array_split",
        &[p("array", P::Dynamic), p("indices", P::Any)],
        2,
        KqlType::Dynamic,
        array_split,
    ),
    row("array_sum", A1, 1, KqlType::Real, |a| {
        let Some(v) = array(a, 0) else { return null() };
        let mut sum = 0.0;
        for j in v {
            match j.as_f64() {
                Some(x) => sum += x,
                None => return null(),
            }
        }
        Ok(Val::Real(sum))
    }),
    row_var(
        "pack_array",
        &[p("value", P::Any)],
        1,
        Ret::Fixed(KqlType::Dynamic),
        |a| arr(a.iter().map(Val::to_json).collect()),
    ),
    row_var("zip", &[p("array", P::Dynamic)], 2, Ret::Fixed(KqlType::Dynamic), |a| {
        let arrays: Vec<&Vec<Json>> = (0..a.len()).filter_map(|i| array(a, i)).collect();
        if arrays.len() != a.len() {
            return null();
        }
        let n = arrays.iter().map(|v| v.len()).max().unwrap_or(0);
        arr((0..n)
            .map(|i| Json::Array(arrays.iter().map(|v| v.get(i).cloned().unwrap_or(Json::Null)).collect()))
            .collect())
    }),
    row(
        "repeat",
        &[p("value", P::Any), p("count", P::Int)],
        2,
        KqlType::Dynamic,
        |a| match arg(a, 1).as_i64() {
            Some(n) if n >= 0 => arr(vec![arg(a, 0).to_json(); n.min(1 << 20) as usize]),
            _ => null(),
        },
    ),
    row(
        "range",
        &[p("start", P::Any), p("stop", P::Any), p("step", P::Any)],
        2,
        KqlType::Dynamic,
        range,
    ),
];

fn array_iff(a: &[Val]) -> Result<Val> {
    let Some(conds) = array(a, 0) else { return null() };
    let pick = |v: &Val, i: usize| match v {
        Val::Dyn(Json::Array(items)) => items.get(i).cloned().unwrap_or(Json::Null),
        other => other.to_json(),
    };
    arr(conds
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let b = match c {
                Json::Bool(b) => Some(*b),
                Json::Number(n) => n.as_f64().map(|x| x != 0.0),
                _ => None,
            };
            match b {
                Some(true) => pick(arg(a, 1), i),
                Some(false) => pick(arg(a, 2), i),
                None => Json::Null,
            }
        })
        .collect())
}

fn array_index_of(a: &[Val]) -> Result<Val> {
    let Some(v) = array(a, 0) else { return null() };
    let n = v.len() as i64;
    let start = match arg(a, 2) {
        Val::Null => 0,
        x => x.as_i64().unwrap_or(0),
    };
    let start = if start < 0 { (n + start).max(0) } else { start };
    let length = match arg(a, 3) {
        Val::Null => -1,
        x => x.as_i64().unwrap_or(-1),
    };
    let occurrence = match arg(a, 4) {
        Val::Null => 1,
        x => x.as_i64().unwrap_or(1),
    };
    if length < -1 || occurrence < 0 {
        return null();
    }
    let end = if length == -1 { n } else { (start + length).min(n) };
    let needle = arg(a, 1);
    let mut seen = 0;
    for i in start..end.max(start) {
        let Some(j) = v.get(i as usize) else { break };
        if compare_vals(&json_to_val(j), needle) == Some(Ordering::Equal) {
            seen += 1;
            if seen >= occurrence.max(1) {
                return Ok(Val::Long(i));
            }
        }
    }
    Ok(Val::Long(-1))
}

fn rotate(a: &[Val], left: bool) -> Result<Val> {
    let Some(v) = array(a, 0) else { return null() };
    let n = v.len() as i64;
    if n == 0 {
        return arr(vec![]);
    }
    let k = arg(a, 1).as_i64().unwrap_or(0);
    let k = if left { k } else { k.saturating_neg() };
    let k = k.rem_euclid(n) as usize;
    let mut out = v.clone();
    out.rotate_left(k);
    arr(out)
}

fn shift(a: &[Val], left: bool) -> Result<Val> {
    let Some(v) = array(a, 0) else { return null() };
    let n = v.len() as i64;
    let k = arg(a, 1).as_i64().unwrap_or(0);
    let k = if left { k } else { k.saturating_neg() };
    let fill = arg(a, 2).to_json();
    arr((0..n)
        .map(|i| {
            let src = i.saturating_add(k);
            if (0..n).contains(&src) {
                v[src as usize].clone()
            } else {
                fill.clone()
            }
        })
        .collect())
}

fn sort(a: &[Val], asc: bool) -> Result<Val> {
    let (arrays, nulls_last) = match a.last() {
        Some(Val::Bool(b)) => (&a[..a.len() - 1], *b),
        _ => (a, true),
    };
    let Some(first) = array(arrays, 0) else { return null() };
    let mut order: Vec<usize> = (0..first.len()).collect();
    let vals: Vec<Val> = first.iter().map(json_to_val).collect();
    order.sort_by(|&x, &y| {
        let (vx, vy) = (&vals[x], &vals[y]);
        match (vx.is_null(), vy.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => {
                if nulls_last {
                    Ordering::Greater
                } else {
                    Ordering::Less
                }
            }
            (false, true) => {
                if nulls_last {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            }
            _ => {
                let o = compare_vals(vx, vy).unwrap_or(Ordering::Equal);
                if asc { o } else { o.reverse() }
            }
        }
    });
    let reorder = |v: &Vec<Json>| Json::Array(order.iter().map(|&i| v.get(i).cloned().unwrap_or(Json::Null)).collect());
    if arrays.len() == 1 {
        return dynv(reorder(first));
    }
    let mut out = Vec::new();
    for i in 0..arrays.len() {
        match array(arrays, i) {
            Some(v) if v.len() == first.len() => out.push(reorder(v)),
            _ => return null(),
        }
    }
    arr(out)
}

fn lower_sort(c: &Call) -> Result<TypedExpr, FnError> {
    let hidden = if c.name == "array_sort_asc" {
        "__array_sort_asc"
    } else {
        "__array_sort_desc"
    };
    crate::catalog::call_row(hidden, c.args.clone())
}

fn array_split(a: &[Val]) -> Result<Val> {
    let Some(v) = array(a, 0) else { return null() };
    let n = v.len() as i64;
    let mut idx: Vec<i64> = match arg(a, 1) {
        Val::Dyn(Json::Array(items)) => items.iter().filter_map(Json::as_i64).collect(),
        other => other.as_i64().into_iter().collect(),
    };
    for i in idx.iter_mut() {
        if *i < 0 {
            *i += n;
        }
        *i = (*i).clamp(0, n);
    }
    let mut out = Vec::new();
    let mut prev = 0;
    for i in idx {
        let i = i.max(prev);
        out.push(Json::Array(v[prev as usize..i as usize].to_vec()));
        prev = i;
    }
    out.push(Json::Array(v[prev as usize..].to_vec()));
    arr(out)
}

fn range(a: &[Val]) -> Result<Val> {
    const MAX: usize = 1_048_576;
    let (start, stop, step) = (arg(a, 0), arg(a, 1), arg(a, 2));
    let mut out = Vec::new();
    match (start, stop) {
        (Val::DateTime(s), Val::DateTime(e)) => {
            let st = match step {
                Val::TimeSpan(t) => *t,
                Val::Null => 3_600_000_000_000,
                _ => return null(),
            };
            if st == 0 {
                return null();
            }
            let mut t = *s;
            while (st > 0 && t <= *e) || (st < 0 && t >= *e) {
                out.push(Val::DateTime(t).to_json());
                if out.len() >= MAX {
                    break;
                }
                t += st;
            }
        }
        (Val::TimeSpan(s), Val::TimeSpan(e)) => {
            let st = match step {
                Val::TimeSpan(t) => *t,
                Val::Null => 3_600_000_000_000,
                _ => return null(),
            };
            if st == 0 {
                return null();
            }
            let mut t = *s;
            while (st > 0 && t <= *e) || (st < 0 && t >= *e) {
                out.push(Val::TimeSpan(t).to_json());
                if out.len() >= MAX {
                    break;
                }
                t += st;
            }
        }
        (s, e)
            if matches!(s, Val::Int(_) | Val::Long(_))
                && matches!(e, Val::Int(_) | Val::Long(_))
                && !matches!(step, Val::Real(_)) =>
        {
            let (s, e) = (s.as_i64().unwrap_or(0), e.as_i64().unwrap_or(0));
            let st = if step.is_null() { 1 } else { step.as_i64().unwrap_or(0) };
            if st == 0 {
                return null();
            }
            let mut x = s;
            while (st > 0 && x <= e) || (st < 0 && x >= e) {
                out.push(Json::from(x));
                if out.len() >= MAX {
                    break;
                }
                x += st;
            }
        }
        (s, e) => {
            let (Some(s), Some(e)) = (s.as_f64(), e.as_f64()) else {
                return null();
            };
            let st = if step.is_null() {
                1.0
            } else {
                step.as_f64().unwrap_or(0.0)
            };
            if st == 0.0 || !st.is_finite() {
                return null();
            }
            let mut i = 0.0;
            loop {
                let x = s + i * st;
                if (st > 0.0 && x > e) || (st < 0.0 && x < e) || out.len() >= MAX {
                    break;
                }
                out.push(crate::val::real_to_json(x));
                i += 1.0;
            }
        }
    }
    arr(out)
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
    fn arrays() {
        assert_eq!(call("array_length", vec![d(json!([1, 2, 3, "four"]))]), "4");
        assert_eq!(call("array_length", vec![d(json!({"a": 1}))]), "");
        assert_eq!(call("array_concat", vec![d(json!([1, 2])), d(json!([3]))]), "[1,2,3]");
        assert_eq!(
            call(
                "array_iff",
                vec![d(json!([true, false, true])), d(json!([1, 2, 3])), d(json!([4, 5, 6]))]
            ),
            "[1,5,3]"
        );
        assert_eq!(
            call("array_iff", vec![d(json!(["s", null])), lit::long(1), lit::long(0)]),
            "[null,null]"
        );
        assert_eq!(
            call("array_rotate_left", vec![d(json!([1, 2, 3, 4, 5])), lit::long(2)]),
            "[3,4,5,1,2]"
        );
        assert_eq!(
            call("array_rotate_left", vec![d(json!([1, 2, 3, 4, 5])), lit::long(-2)]),
            "[4,5,1,2,3]"
        );
        assert_eq!(
            call("array_rotate_right", vec![d(json!([1, 2, 3, 4, 5])), lit::long(2)]),
            "[4,5,1,2,3]"
        );
        assert_eq!(
            call(
                "array_shift_left",
                vec![d(json!([1, 2, 3, 4, 5])), lit::long(2), lit::long(-1)]
            ),
            "[3,4,5,-1,-1]"
        );
        assert_eq!(
            call(
                "array_shift_right",
                vec![d(json!([1, 2, 3, 4, 5])), lit::long(2), lit::long(-1)]
            ),
            "[-1,-1,1,2,3]"
        );
        assert_eq!(
            call("array_shift_left", vec![d(json!([1, 2, 3])), lit::long(1)]),
            "[2,3,null]"
        );
        assert_eq!(
            call("array_slice", vec![d(json!([1, 2, 3])), lit::long(1), lit::long(2)]),
            "[2,3]"
        );
        assert_eq!(
            call(
                "array_slice",
                vec![d(json!([1, 2, 3, 4, 5])), lit::long(2), lit::long(-1)]
            ),
            "[3,4,5]"
        );
        assert_eq!(
            call(
                "array_slice",
                vec![d(json!([1, 2, 3, 4, 5])), lit::long(-3), lit::long(-2)]
            ),
            "[3,4]"
        );
        assert_eq!(
            call("array_split", vec![d(json!([1, 2, 3, 4, 5])), lit::long(2)]),
            "[[1,2],[3,4,5]]"
        );
        assert_eq!(
            call("array_split", vec![d(json!([1, 2, 3, 4, 5])), d(json!([1, 3]))]),
            "[[1],[2,3],[4,5]]"
        );
        assert_eq!(call("array_sum", vec![d(json!([1, 2, 3, 4]))]), "10");
        assert_eq!(call("array_reverse", vec![d(json!([1, "a"]))]), r#"["a",1]"#);
        let arr = || d(json!(["this", "is", "an", "example", "an", "example"]));
        assert_eq!(call("array_index_of", vec![arr(), lit::string("an")]), "2");
        assert_eq!(
            call(
                "array_index_of",
                vec![arr(), lit::string("example"), lit::long(1), lit::long(3), lit::long(1)]
            ),
            "3"
        );
        assert_eq!(
            call("array_index_of", vec![arr(), lit::string("example"), lit::long(-2)]),
            "5"
        );
        assert_eq!(call("array_index_of", vec![arr(), lit::string("x")]), "-1");
        assert_eq!(
            call("pack_array", vec![lit::long(1), lit::string("a"), lit::datetime(0)]),
            r#"[1,"a","1970-01-01T00:00:00.0000000Z"]"#
        );
        assert_eq!(
            call("zip", vec![d(json!(["A", 1, 1.5])), d(json!([{}, "B"]))]),
            r#"[["A",{}],[1,"B"],[1.5,null]]"#
        );
        assert_eq!(call("repeat", vec![lit::long(1), lit::long(3)]), "[1,1,1]");
        assert_eq!(call("repeat", vec![lit::long(1), lit::long(-1)]), "");
        assert_eq!(call("range", vec![lit::long(1), lit::long(8), lit::long(3)]), "[1,4,7]");
        assert_eq!(call("range", vec![lit::long(1), lit::long(3)]), "[1,2,3]");
        let day = 86_400_000_000_000;
        assert_eq!(
            call("range", vec![lit::datetime(0), lit::datetime(day), lit::timespan(day)]),
            r#"["1970-01-01T00:00:00.0000000Z","1970-01-02T00:00:00.0000000Z"]"#
        );
    }

    #[test]
    fn sorting() {
        assert_eq!(
            call(
                "array_sort_asc",
                vec![d(json!([null, "blue", "yellow", "green", null]))]
            ),
            r#"["blue","green","yellow",null,null]"#
        );
        assert_eq!(
            call(
                "array_sort_asc",
                vec![d(json!([null, "blue", "yellow", "green", null])), lit::bool(false)]
            ),
            r#"[null,null,"blue","green","yellow"]"#
        );
        assert_eq!(
            call(
                "array_sort_desc",
                vec![d(json!([1, 3, 4, 5, 2])), d(json!(["a", "b", "c", "d", "e"]))]
            ),
            r#"[[5,4,3,2,1],["d","c","b","e","a"]]"#
        );
        assert_eq!(
            call("array_sort_desc", vec![d(json!(["John", "Paul", "Jane", "Kayo"]))]),
            r#"["Paul","Kayo","John","Jane"]"#
        );
    }
}
