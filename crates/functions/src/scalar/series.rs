//! Series functions over dynamic arrays of numbers: element-wise arithmetic, comparison
//! and math (`series_add`, `series_greater`, `series_abs`…, with a scalar broadcast to
//! every element), filling (`series_fill_*`), statistics (`series_stats_dynamic`,
//! `series_sum`, `series_dot_product`, `series_cosine_similarity`…) and filters
//! (`series_fir`, `series_iir`). Elements that are not numbers give null.

use super::arg;
use crate::catalog::{FnDef, P, Param, p, row};
use crate::val::{Val, real_to_json};
use datafusion::common::Result;
use schema::KqlType;
use serde_json::{Map, Value as Json};

/// An element of a series: an integer stays an integer where Kusto keeps it so.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Num {
    I(i64),
    F(f64),
}

impl Num {
    fn f(self) -> f64 {
        match self {
            Num::I(i) => i as f64,
            Num::F(f) => f,
        }
    }
}

fn num(j: &Json) -> Option<Num> {
    match j {
        Json::Number(n) => Some(
            n.as_i64()
                .map(Num::I)
                .unwrap_or_else(|| Num::F(n.as_f64().unwrap_or(f64::NAN))),
        ),
        Json::String(s) => super::convert::parse_real_text(s).map(Num::F),
        _ => None,
    }
}

/// A series argument, or a scalar broadcast over `len` elements.
enum Operand {
    Series(Vec<Option<Num>>),
    Scalar(Option<Num>),
}

impl Operand {
    fn of(v: &Val) -> Operand {
        match v {
            Val::Dyn(Json::Array(items)) => Operand::Series(items.iter().map(num).collect()),
            Val::Int(_) | Val::Long(_) => Operand::Scalar(v.as_i64().map(Num::I)),
            other => Operand::Scalar(other.as_f64().map(Num::F)),
        }
    }
    fn len(&self) -> Option<usize> {
        match self {
            Operand::Series(v) => Some(v.len()),
            Operand::Scalar(_) => None,
        }
    }
    fn get(&self, i: usize) -> Option<Num> {
        match self {
            Operand::Series(v) => v.get(i).copied().flatten(),
            Operand::Scalar(s) => *s,
        }
    }
}

fn series(a: &[Val], i: usize) -> Option<Vec<Option<Num>>> {
    match arg(a, i) {
        Val::Dyn(Json::Array(items)) => Some(items.iter().map(num).collect()),
        _ => None,
    }
}

fn out(items: Vec<Json>) -> Result<Val> {
    Ok(Val::Dyn(Json::Array(items)))
}

fn binary(a: &[Val], f: fn(Num, Num) -> Json) -> Result<Val> {
    let (x, y) = (Operand::of(arg(a, 0)), Operand::of(arg(a, 1)));
    let Some(n) = x.len().max(y.len()) else {
        return Ok(Val::Null);
    };
    out((0..n)
        .map(|i| match (x.get(i), y.get(i)) {
            (Some(p), Some(q)) => f(p, q),
            _ => Json::Null,
        })
        .collect())
}

fn int_or_real(p: Num, q: Num, fi: fn(i64, i64) -> Option<i64>, ff: fn(f64, f64) -> f64) -> Json {
    match (p, q) {
        (Num::I(a), Num::I(b)) => fi(a, b).map(Json::from).unwrap_or(Json::Null),
        _ => real_to_json(ff(p.f(), q.f())),
    }
}

fn unary(a: &[Val], f: fn(f64) -> f64) -> Result<Val> {
    let Some(s) = series(a, 0) else { return Ok(Val::Null) };
    out(s
        .into_iter()
        .map(|x| x.map(|x| real_to_json(f(x.f()))).unwrap_or(Json::Null))
        .collect())
}

fn cmp(a: &[Val], f: fn(f64, f64) -> bool) -> Result<Val> {
    binary(a, |_, _| Json::Null).and_then(|_| {
        let (x, y) = (Operand::of(arg(a, 0)), Operand::of(arg(a, 1)));
        let Some(n) = x.len().max(y.len()) else {
            return Ok(Val::Null);
        };
        out((0..n)
            .map(|i| match (x.get(i), y.get(i)) {
                (Some(p), Some(q)) => Json::Bool(f(p.f(), q.f())),
                _ => Json::Null,
            })
            .collect())
    })
}

/// Which elements are "missing": null, or equal to the given placeholder.
fn missing(j: &Json, placeholder: &Val) -> bool {
    match placeholder {
        Val::Null => j.is_null() || matches!(j, Json::Number(n) if n.as_f64().is_some_and(f64::is_nan)),
        p => p.as_f64().is_some_and(|pv| num(j).is_some_and(|n| n.f() == pv)),
    }
}

fn fill_forward(a: &[Val], backward: bool) -> Result<Val> {
    let Val::Dyn(Json::Array(items)) = arg(a, 0) else {
        return Ok(Val::Null);
    };
    let ph = arg(a, 1);
    let mut v = items.clone();
    if backward {
        v.reverse();
    }
    let mut last: Option<Json> = None;
    for x in v.iter_mut() {
        if missing(x, ph) {
            if let Some(l) = &last {
                *x = l.clone();
            }
        } else {
            last = Some(x.clone());
        }
    }
    if backward {
        v.reverse();
    }
    out(v)
}

fn fill_linear(a: &[Val]) -> Result<Val> {
    let Val::Dyn(Json::Array(items)) = arg(a, 0) else {
        return Ok(Val::Null);
    };
    let ph = arg(a, 1);
    let fill_edges = !matches!(arg(a, 2), Val::Bool(false));
    let constant = arg(a, 3).as_f64().unwrap_or(0.0);
    let ints = items
        .iter()
        .filter(|j| !missing(j, ph))
        .all(|j| matches!(j, Json::Number(n) if n.is_i64()));
    let known: Vec<(usize, f64)> = items
        .iter()
        .enumerate()
        .filter(|(_, j)| !missing(j, ph))
        .filter_map(|(i, j)| num(j).map(|n| (i, n.f())))
        .collect();
    let make = |x: f64| {
        if ints {
            Json::from(x.trunc() as i64)
        } else {
            real_to_json(x)
        }
    };
    if known.is_empty() {
        return out(items.iter().map(|_| make(constant)).collect());
    }
    let mut v = items.clone();
    for (i, slot) in v.iter_mut().enumerate() {
        if !missing(slot, ph) {
            continue;
        }
        let before = known.iter().rev().find(|(k, _)| *k < i);
        let after = known.iter().find(|(k, _)| *k > i);
        *slot = match (before, after) {
            (Some((i0, y0)), Some((i1, y1))) => make(y0 + (y1 - y0) * (i - i0) as f64 / (i1 - i0) as f64),
            (Some((_, y)), None) | (None, Some((_, y))) if fill_edges => make(*y),
            _ => slot.clone(),
        };
    }
    out(v)
}

/// The statistics of `series_stats_dynamic`; non-finite values make the result null
/// unless `ignore_nonfinite`.
fn stats(a: &[Val]) -> Option<Map<String, Json>> {
    let s = series(a, 0)?;
    let ignore = matches!(arg(a, 1), Val::Bool(true));
    let mut vals = Vec::new();
    for x in &s {
        match x.map(Num::f).filter(|f| f.is_finite()) {
            Some(f) => vals.push(f),
            None if ignore => {}
            None => return None,
        }
    }
    let n = vals.len();
    let mut m = Map::new();
    if n == 0 {
        return None;
    }
    let (mut min_i, mut max_i) = (0, 0);
    for (i, v) in vals.iter().enumerate() {
        if *v < vals[min_i] {
            min_i = i;
        }
        if *v > vals[max_i] {
            max_i = i;
        }
    }
    let sum: f64 = vals.iter().sum();
    let avg = sum / n as f64;
    let var = if n > 1 {
        vals.iter().map(|v| (v - avg).powi(2)).sum::<f64>() / (n - 1) as f64
    } else {
        0.0
    };
    m.insert("min".into(), real_to_json(vals[min_i]));
    m.insert("min_idx".into(), Json::from(min_i));
    m.insert("max".into(), real_to_json(vals[max_i]));
    m.insert("max_idx".into(), Json::from(max_i));
    m.insert("avg".into(), real_to_json(avg));
    m.insert("variance".into(), real_to_json(var));
    m.insert("stdev".into(), real_to_json(var.sqrt()));
    m.insert("sum".into(), real_to_json(sum));
    m.insert("len".into(), Json::from(n));
    Some(m)
}

fn reals(a: &[Val], i: usize) -> Option<Vec<f64>> {
    series(a, i)?.into_iter().map(|x| x.map(Num::f)).collect()
}

fn dot(x: &[f64], y: &[f64]) -> f64 {
    x.iter().zip(y).map(|(a, b)| a * b).sum()
}

const S: &[Param] = &[p("series", P::Dynamic)];
const S2: &[Param] = &[p("series1", P::Any), p("series2", P::Any)];

macro_rules! unary_defs {
    ($($name:literal => $f:expr),* $(,)?) => {
        [$(row($name, S, 1, KqlType::Dynamic, |a| unary(a, $f))),*]
    };
}

static UNARY: [FnDef; 14] = unary_defs![
    "series_abs" => f64::abs,
    "series_acos" => f64::acos,
    "series_asin" => f64::asin,
    "series_atan" => f64::atan,
    "series_ceiling" => f64::ceil,
    "series_cos" => f64::cos,
    "series_exp" => f64::exp,
    "series_floor" => f64::floor,
    "series_log" => f64::ln,
    "series_sign" => |x: f64| if x == 0.0 { 0.0 } else { x.signum() },
    "series_sin" => f64::sin,
    "series_sqrt" => f64::sqrt,
    "series_tan" => f64::tan,
    "series_negate" => |x: f64| -x,
];

pub static DEFS: &[FnDef] = &[
    row("series_add", S2, 2, KqlType::Dynamic, |a| {
        binary(a, |p, q| {
            int_or_real(p, q, |x, y| Some(x.wrapping_add(y)), |x, y| x + y)
        })
    }),
    row("series_subtract", S2, 2, KqlType::Dynamic, |a| {
        binary(a, |p, q| {
            int_or_real(p, q, |x, y| Some(x.wrapping_sub(y)), |x, y| x - y)
        })
    }),
    row("series_multiply", S2, 2, KqlType::Dynamic, |a| {
        binary(a, |p, q| {
            int_or_real(p, q, |x, y| Some(x.wrapping_mul(y)), |x, y| x * y)
        })
    }),
    row("series_divide", S2, 2, KqlType::Dynamic, |a| {
        binary(a, |p, q| real_to_json(p.f() / q.f()))
    }),
    row("series_pow", S2, 2, KqlType::Dynamic, |a| {
        binary(a, |p, q| real_to_json(p.f().powf(q.f())))
    }),
    row("series_equals", S2, 2, KqlType::Dynamic, |a| cmp(a, |x, y| x == y)),
    row("series_not_equals", S2, 2, KqlType::Dynamic, |a| cmp(a, |x, y| x != y)),
    row("series_greater", S2, 2, KqlType::Dynamic, |a| cmp(a, |x, y| x > y)),
    row("series_greater_equals", S2, 2, KqlType::Dynamic, |a| {
        cmp(a, |x, y| x >= y)
    }),
    row("series_less", S2, 2, KqlType::Dynamic, |a| cmp(a, |x, y| x < y)),
    row("series_less_equals", S2, 2, KqlType::Dynamic, |a| cmp(a, |x, y| x <= y)),
    row(
        "series_fill_forward",
        &[p("series", P::Dynamic), p("missing_value_placeholder", P::Any)],
        1,
        KqlType::Dynamic,
        |a| fill_forward(a, false),
    ),
    row(
        "series_fill_backward",
        &[p("series", P::Dynamic), p("missing_value_placeholder", P::Any)],
        1,
        KqlType::Dynamic,
        |a| fill_forward(a, true),
    ),
    row(
        "series_fill_linear",
        &[
            p("series", P::Dynamic),
            p("missing_value_placeholder", P::Any),
            p("fill_edges", P::Bool),
            p("constant_value", P::Any),
        ],
        1,
        KqlType::Dynamic,
        fill_linear,
    ),
    row(
        "series_fill_const",
        &[
            p("series", P::Dynamic),
            p("constant_value", P::Any),
            p("missing_value_placeholder", P::Any),
        ],
        2,
        KqlType::Dynamic,
        |a| {
            let Val::Dyn(Json::Array(items)) = arg(a, 0) else {
                return Ok(Val::Null);
            };
            let c = arg(a, 1).to_json();
            out(items
                .iter()
                .map(|j| if missing(j, arg(a, 2)) { c.clone() } else { j.clone() })
                .collect())
        },
    ),
    row(
        "series_stats_dynamic",
        &[p("series", P::Dynamic), p("ignore_nonfinite", P::Bool)],
        1,
        KqlType::Dynamic,
        |a| Ok(stats(a).map(|m| Val::Dyn(Json::Object(m))).unwrap_or(Val::Null)),
    ),
    row(
        "series_stats",
        &[p("series", P::Dynamic), p("ignore_nonfinite", P::Bool)],
        1,
        KqlType::Dynamic,
        |a| {
            Ok(stats(a)
                .map(|mut m| {
                    m.remove("sum");
                    m.remove("len");
                    Val::Dyn(Json::Object(m))
                })
                .unwrap_or(Val::Null))
        },
    ),
    row("series_sum", S, 1, KqlType::Real, |a| {
        Ok(reals(a, 0).map(|v| Val::Real(v.iter().sum())).unwrap_or(Val::Null))
    }),
    row("series_product", S, 1, KqlType::Real, |a| {
        Ok(reals(a, 0).map(|v| Val::Real(v.iter().product())).unwrap_or(Val::Null))
    }),
    row("series_magnitude", S, 1, KqlType::Real, |a| {
        Ok(reals(a, 0).map(|v| Val::Real(dot(&v, &v).sqrt())).unwrap_or(Val::Null))
    }),
    row("series_dot_product", S2, 2, KqlType::Real, |a| {
        let (x, y) = (Operand::of(arg(a, 0)), Operand::of(arg(a, 1)));
        let Some(n) = x.len().max(y.len()) else {
            return Ok(Val::Null);
        };
        let mut sum = 0.0;
        for i in 0..n {
            match (x.get(i), y.get(i)) {
                (Some(p), Some(q)) => sum += p.f() * q.f(),
                _ => return Ok(Val::Null),
            }
        }
        Ok(Val::Real(sum))
    }),
    row(
        "series_cosine_similarity",
        &[
            p("series1", P::Dynamic),
            p("series2", P::Dynamic),
            p("magnitude1", P::Num),
            p("magnitude2", P::Num),
        ],
        2,
        KqlType::Real,
        |a| {
            let (Some(x), Some(y)) = (reals(a, 0), reals(a, 1)) else {
                return Ok(Val::Null);
            };
            if x.len() != y.len() {
                return Ok(Val::Null);
            }
            let m1 = arg(a, 2).as_f64().unwrap_or_else(|| dot(&x, &x).sqrt());
            let m2 = arg(a, 3).as_f64().unwrap_or_else(|| dot(&y, &y).sqrt());
            Ok(Val::Real(dot(&x, &y) / (m1 * m2)))
        },
    ),
    row(
        "series_pearson_correlation",
        &[p("series1", P::Dynamic), p("series2", P::Dynamic)],
        2,
        KqlType::Real,
        |a| {
            let (Some(x), Some(y)) = (reals(a, 0), reals(a, 1)) else {
                return Ok(Val::Null);
            };
            if x.len() != y.len() || x.is_empty() {
                return Ok(Val::Null);
            }
            let n = x.len() as f64;
            let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
            let cov: f64 = x.iter().zip(&y).map(|(a, b)| (a - mx) * (b - my)).sum();
            let vx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
            let vy: f64 = y.iter().map(|b| (b - my).powi(2)).sum();
            Ok(Val::Real(cov / (vx * vy).sqrt()))
        },
    ),
    row(
        "series_fir",
        &[
            p("series", P::Dynamic),
            p("filter", P::Dynamic),
            p("normalize", P::Bool),
            p("center", P::Bool),
        ],
        2,
        KqlType::Dynamic,
        |a| {
            let (Some(x), Some(f)) = (reals(a, 0), reals(a, 1)) else {
                return Ok(Val::Null);
            };
            let normalize = !matches!(arg(a, 2), Val::Bool(false));
            let center = matches!(arg(a, 3), Val::Bool(true));
            let norm: f64 = if normalize { f.iter().sum() } else { 1.0 };
            let shift = if center { (f.len() / 2) as i64 } else { 0 };
            out((0..x.len() as i64)
                .map(|i| {
                    let mut acc = 0.0;
                    for (k, c) in f.iter().enumerate() {
                        let j = i - k as i64 + shift;
                        if let Some(v) = usize::try_from(j).ok().and_then(|j| x.get(j)) {
                            acc += c * v;
                        }
                    }
                    real_to_json(acc / norm)
                })
                .collect())
        },
    ),
    row(
        "series_iir",
        &[
            p("series", P::Dynamic),
            p("numerators", P::Dynamic),
            p("denominators", P::Dynamic),
        ],
        3,
        KqlType::Dynamic,
        |a| {
            let (Some(x), Some(b), Some(den)) = (reals(a, 0), reals(a, 1), reals(a, 2)) else {
                return Ok(Val::Null);
            };
            let Some(a0) = den.first().copied().filter(|v| *v != 0.0) else {
                return Ok(Val::Null);
            };
            let mut y: Vec<f64> = Vec::with_capacity(x.len());
            for i in 0..x.len() {
                let mut acc = 0.0;
                for (k, bk) in b.iter().enumerate() {
                    if i >= k {
                        acc += bk * x[i - k];
                    }
                }
                for (k, ak) in den.iter().enumerate().skip(1) {
                    if i >= k {
                        acc -= ak * y[i - k];
                    }
                }
                y.push(acc / a0);
            }
            out(y.into_iter().map(real_to_json).collect())
        },
    ),
];

pub static UNARY_DEFS: &[FnDef] = &UNARY;

#[cfg(test)]
mod tests {
    use crate::lit;
    use crate::testkit::call;
    use serde_json::json;

    fn d(v: serde_json::Value) -> crate::api::TypedExpr {
        lit::dynamic(&v)
    }

    #[test]
    fn element_wise() {
        assert_eq!(
            call("series_add", vec![d(json!([1, 2, 4])), d(json!([4, 2, 1]))]),
            "[5,4,5]"
        );
        assert_eq!(
            call("series_divide", vec![d(json!([1, 2, 4])), d(json!([4, 2, 1]))]),
            "[0.25,1.0,4.0]"
        );
        assert_eq!(
            call("series_multiply", vec![d(json!([1, 2, 4])), lit::long(2)]),
            "[2,4,8]"
        );
        assert_eq!(
            call("series_pow", vec![d(json!([1, 2, 3, 4])), d(json!([1, 2, 3, 0.5]))]),
            "[1.0,4.0,27.0,2.0]"
        );
        assert_eq!(
            call("series_equals", vec![d(json!([1, 2, 4])), d(json!([4, 2, 1]))]),
            "[false,true,false]"
        );
        assert_eq!(
            call("series_greater_equals", vec![d(json!([1, 2, 4])), d(json!([4, 2, 1]))]),
            "[false,true,true]"
        );
        assert_eq!(call("series_ceiling", vec![d(json!([-1.5, 1, 2.5]))]), "[-1.0,1.0,3.0]");
        assert_eq!(call("series_abs", vec![d(json!([-1, "x", null]))]), "[1.0,null,null]");
        assert_eq!(
            call("series_dot_product", vec![d(json!([1, 2, 4])), d(json!([4, 2, 1]))]),
            "12"
        );
        assert_eq!(call("series_dot_product", vec![d(json!([1, 2, 4])), lit::long(1)]), "7");
    }

    #[test]
    fn fills() {
        assert_eq!(
            call(
                "series_fill_backward",
                vec![d(json!([111, null, 36, 41, null, null, 16, 61, 33, null, null]))]
            ),
            "[111,36,36,41,16,16,16,61,33,null,null]"
        );
        assert_eq!(
            call(
                "series_fill_forward",
                vec![d(json!([null, null, 36, 41, null, null, 16, 61, 33, null, null]))]
            ),
            "[null,null,36,41,41,41,16,61,33,33,33]"
        );
        assert_eq!(
            call(
                "series_fill_linear",
                vec![d(json!([null, 111, null, 36, 41, null, null, 16, 61, 33, null, null]))]
            ),
            "[111,111,73,36,41,32,24,16,61,33,33,33]"
        );
        assert_eq!(
            call(
                "series_fill_linear",
                vec![
                    d(json!([null, 111, null, 36]),),
                    lit::null(schema::KqlType::Real),
                    lit::bool(false)
                ]
            ),
            "[null,111,73,36]"
        );
        assert_eq!(call("series_fill_linear", vec![d(json!([null, null]))]), "[0,0]");
        assert_eq!(
            call("series_fill_const", vec![d(json!([111, null, 36])), lit::long(-1)]),
            "[111,-1,36]"
        );
    }

    #[test]
    fn statistics_and_filters() {
        let x = || d(json!([23, 46, 23, 87, 4, 8, 3, 75, 2, 56, 13, 75, 32, 16, 29]));
        let s: serde_json::Value = serde_json::from_str(&call("series_stats_dynamic", vec![x()])).unwrap();
        assert_eq!(s["min"], json!(2.0));
        assert_eq!(s["min_idx"], json!(8));
        assert_eq!(s["max_idx"], json!(3));
        assert_eq!(s["len"], json!(15));
        assert!((s["stdev"].as_f64().unwrap() - 28.503_633_853_548_27).abs() < 1e-9);
        assert_eq!(
            call("series_magnitude", vec![d(json!([1, 2, 3, 4]))]),
            "5.477225575051661"
        );
        assert_eq!(
            call(
                "series_iir",
                vec![d(json!([1, 2, 3, 4])), d(json!([1])), d(json!([1, -1]))]
            ),
            "[1.0,3.0,6.0,10.0]"
        );
        assert_eq!(
            call(
                "series_fir",
                vec![d(json!([0, 0, 2, 2])), d(json!([1, -1])), lit::bool(false)]
            ),
            "[0.0,0.0,2.0,0.0]"
        );
        assert_eq!(
            call(
                "series_pearson_correlation",
                vec![d(json!([1, 2, 3, 4, 5])), d(json!([2, 4, 6, 8, 10]))]
            ),
            "1"
        );
        assert!(
            call(
                "series_cosine_similarity",
                vec![d(json!([0.1, 0.2, 0.1, 0.2])), d(json!([1, 2, 3, 4]))]
            )
            .starts_with("0.92376043070340")
        );
    }
}
