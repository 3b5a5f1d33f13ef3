//! Time-series analytics and statistical tests: `series_fit_line(_dynamic)`,
//! `series_seasonal`, `welch_test`, and `around`.

use super::arg;
use crate::catalog::{FnDef, P, p, row};
use crate::ops::arith::{ArithOp, arith};
use crate::ops::compare::compare_vals;
use crate::val::{Val, real_to_json};
use datafusion::common::Result;
use schema::KqlType;
use serde_json::{Map, Value as Json};
use std::cmp::Ordering;

fn reals(v: &Val) -> Option<Vec<Option<f64>>> {
    match v {
        Val::Dyn(Json::Array(items)) => Some(items.iter().map(Json::as_f64).collect()),
        _ => None,
    }
}

/// Least-squares line over x = 1..n: `rsquare`, `slope`, `variance` (sample variance of
/// the input), `rvariance` (sample variance of the residuals), `interception`, `line_fit`.
pub fn fit_line(y: &[f64]) -> Option<Map<String, Json>> {
    let n = y.len();
    if n == 0 {
        return None;
    }
    let nf = n as f64;
    let xs: Vec<f64> = (1..=n).map(|i| i as f64).collect();
    let mx = xs.iter().sum::<f64>() / nf;
    let my = y.iter().sum::<f64>() / nf;
    let sxx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    let sxy: f64 = xs.iter().zip(y).map(|(x, v)| (x - mx) * (v - my)).sum();
    let slope = if sxx == 0.0 { 0.0 } else { sxy / sxx };
    let icpt = my - slope * mx;
    let fit: Vec<f64> = xs.iter().map(|x| slope * x + icpt).collect();
    let ss_tot: f64 = y.iter().map(|v| (v - my).powi(2)).sum();
    let ss_res: f64 = y.iter().zip(&fit).map(|(v, f)| (v - f).powi(2)).sum();
    let denom = if n > 1 { nf - 1.0 } else { 1.0 };
    let mut m = Map::new();
    m.insert(
        "rsquare".into(),
        real_to_json(if ss_tot == 0.0 { 1.0 } else { 1.0 - ss_res / ss_tot }),
    );
    m.insert("slope".into(), real_to_json(slope));
    m.insert("variance".into(), real_to_json(ss_tot / denom));
    m.insert("rvariance".into(), real_to_json(ss_res / denom));
    m.insert("interception".into(), real_to_json(icpt));
    m.insert(
        "line_fit".into(),
        Json::Array(fit.into_iter().map(real_to_json).collect()),
    );
    Some(m)
}

fn fit(a: &[Val]) -> Result<Val> {
    let Some(y) = reals(arg(a, 0)) else {
        return Ok(Val::Null);
    };
    let y: Option<Vec<f64>> = y.into_iter().collect();
    Ok(y.and_then(|y| fit_line(&y))
        .map(|m| Val::Dyn(Json::Object(m)))
        .unwrap_or(Val::Null))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(Ordering::Equal));
    let n = v.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The period of a series, for `series_seasonal` without one: the lag between 4 and a
/// third of the series length whose Pearson autocorrelation is highest and at least 0.7
/// (the threshold the reference gives). Kusto detects periods with
/// `series_periods_detect`; this detector agrees with it on clearly periodic series and
/// finds none (0) for series too short to show three periods.
pub fn detect_period(y: &[f64]) -> usize {
    let n = y.len();
    let mut best = (0usize, 0.7f64);
    for lag in 4..=n / 3 {
        let c = pearson(&y[..n - lag], &y[lag..]);
        if c >= best.1 + 1e-12 || (best.0 == 0 && c >= best.1) {
            best = (lag, c);
        }
    }
    best.0
}

fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len()) as f64;
    if n == 0.0 {
        return 0.0;
    }
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    if va == 0.0 || vb == 0.0 {
        0.0
    } else {
        cov / (va * vb).sqrt()
    }
}

fn seasonal(a: &[Val]) -> Result<Val> {
    let Some(y) = reals(arg(a, 0)) else {
        return Ok(Val::Null);
    };
    let vals: Vec<f64> = y.iter().map(|v| v.unwrap_or(f64::NAN)).collect();
    let period = match arg(a, 1).as_i64() {
        Some(p) if p > 0 => p as usize,
        _ => detect_period(&vals),
    };
    if period == 0 || period > vals.len() {
        return Ok(Val::Dyn(Json::Array(vals.iter().map(|_| real_to_json(0.0)).collect())));
    }
    let phase: Vec<f64> = (0..period)
        .map(|ph| {
            median(
                vals.iter()
                    .skip(ph)
                    .step_by(period)
                    .copied()
                    .filter(|v| v.is_finite())
                    .collect(),
            )
        })
        .collect();
    Ok(Val::Dyn(Json::Array(
        (0..vals.len()).map(|i| real_to_json(phase[i % period])).collect(),
    )))
}

/// The two-sided p-value of Welch's t-test.
pub fn welch(m1: f64, v1: f64, c1: f64, m2: f64, v2: f64, c2: f64) -> f64 {
    let s1 = v1 / c1;
    let s2 = v2 / c2;
    let t = (m1 - m2) / (s1 + s2).sqrt();
    let df = (s1 + s2).powi(2) / (s1.powi(2) / (c1 - 1.0) + s2.powi(2) / (c2 - 1.0));
    if !t.is_finite() || !df.is_finite() || df <= 0.0 {
        return f64::NAN;
    }
    // P(|T| > |t|) = I_{df/(df+t²)}(df/2, 1/2).
    statrs::function::beta::beta_reg(df / 2.0, 0.5, df / (df + t * t))
}

pub static DEFS: &[FnDef] = &[
    row(
        "series_fit_line_dynamic",
        &[p("series", P::Dynamic)],
        1,
        KqlType::Dynamic,
        fit,
    ),
    row("series_fit_line", &[p("series", P::Dynamic)], 1, KqlType::Dynamic, fit),
    row(
        "series_seasonal",
        &[p("series", P::Dynamic), p("period", P::Int)],
        1,
        KqlType::Dynamic,
        seasonal,
    ),
    row(
        "welch_test",
        &[
            p("mean1", P::Num),
            p("variance1", P::Num),
            p("count1", P::Num),
            p("mean2", P::Num),
            p("variance2", P::Num),
            p("count2", P::Num),
        ],
        6,
        KqlType::Real,
        |a| {
            let v: Option<Vec<f64>> = (0..6).map(|i| arg(a, i).as_f64()).collect();
            Ok(v.map(|v| Val::Real(welch(v[0], v[1], v[2], v[3], v[4], v[5])))
                .unwrap_or(Val::Null))
        },
    ),
    row(
        "around",
        &[p("value", P::Any), p("center", P::Any), p("delta", P::Any)],
        3,
        KqlType::Bool,
        |a| {
            let (v, c, d) = (arg(a, 0), arg(a, 1), arg(a, 2));
            if v.is_null() || c.is_null() || d.is_null() {
                return Ok(Val::Null);
            }
            let lo = arith(ArithOp::Sub, c, d);
            let hi = arith(ArithOp::Add, c, d);
            let ge = compare_vals(v, &lo).map(|o| o != Ordering::Less);
            let le = compare_vals(v, &hi).map(|o| o != Ordering::Greater);
            Ok(match (ge, le) {
                (Some(x), Some(y)) => Val::Bool(x && y),
                _ => Val::Null,
            })
        },
    ),
];

#[cfg(test)]
mod tests {
    use crate::lit;
    use crate::testkit::call;
    use serde_json::json;

    #[test]
    fn line_fit_and_seasonality() {
        let f: serde_json::Value = serde_json::from_str(&call(
            "series_fit_line_dynamic",
            vec![lit::dynamic(&json!([2, 4, 6, 8]))],
        ))
        .unwrap();
        assert_eq!(f["slope"], json!(2.0));
        assert_eq!(f["interception"], json!(0.0));
        assert_eq!(f["rsquare"], json!(1.0));
        assert_eq!(f["line_fit"], json!([2.0, 4.0, 6.0, 8.0]));
        let s = lit::dynamic(&json!([
            2, 5, 3, 4, 3, 2, 1, 2, 3, 4, 3, 2, 1, 2, 3, 4, 3, 2, 1, 2, 3, 4, 3, 2, 1
        ]));
        assert_eq!(
            call("series_seasonal", vec![s]),
            "[1.0,2.0,3.0,4.0,3.0,2.0,1.0,2.0,3.0,4.0,3.0,2.0,1.0,2.0,3.0,4.0,3.0,2.0,1.0,2.0,3.0,4.0,3.0,2.0,1.0]"
        );
        let s = lit::dynamic(&json!([
            8, 12, 14, 12, 10, 10, 12, 14, 12, 10, 10, 12, 14, 12, 10, 10, 12, 14, 12, 10
        ]));
        assert_eq!(
            call("series_seasonal", vec![s]),
            "[10.0,12.0,14.0,12.0,10.0,10.0,12.0,14.0,12.0,10.0,10.0,12.0,14.0,12.0,10.0,10.0,12.0,14.0,12.0,10.0]"
        );
        let s = lit::dynamic(&json!([1, 3, 5, 2, 4, 6, 1, 3, 5, 2, 4, 6]));
        assert_eq!(
            call("series_seasonal", vec![s]),
            "[0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0]"
        );
        let s = lit::dynamic(&json!([1, 3, 5, 1, 3, 5, 2, 4, 6]));
        assert_eq!(
            call("series_seasonal", vec![s, lit::long(3)]),
            "[1.0,3.0,5.0,1.0,3.0,5.0,1.0,3.0,5.0]"
        );
    }

    #[test]
    fn welch_and_around() {
        let p: f64 = call(
            "welch_test",
            vec![
                lit::real(1.0),
                lit::real(1.0),
                lit::long(30),
                lit::real(1.0),
                lit::real(1.0),
                lit::long(30),
            ],
        )
        .parse()
        .unwrap();
        assert!((p - 1.0).abs() < 1e-9);
        let p: f64 = call(
            "welch_test",
            vec![
                lit::real(0.0),
                lit::real(1.0),
                lit::long(50),
                lit::real(1.0),
                lit::real(1.0),
                lit::long(50),
            ],
        )
        .parse()
        .unwrap();
        assert!(p < 0.001);
        let dt = lit::datetime_text("2021-01-01 01:31").unwrap();
        let c = lit::datetime_text("2021-01-01 01:30").unwrap();
        assert_eq!(
            call("around", vec![dt.clone(), c.clone(), lit::timespan(60_000_000_000)]),
            "true"
        );
        assert_eq!(call("around", vec![dt, c, lit::timespan(30_000_000_000)]), "false");
        assert_eq!(call("around", vec![lit::long(5), lit::long(4), lit::long(1)]), "true");
    }
}
