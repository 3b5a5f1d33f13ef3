//! Series model fitting and transforms: `series_fit_poly`, `series_fit_2lines(_dynamic)`,
//! `series_outliers`, `series_fft`, `series_ifft`.
//!
//! Functions that Kusto documents as producing several columns (`series_fit_2lines`,
//! `series_fft`…) return a dynamic value here (a bag of the named results, or an array of
//! the output series) that the engine expands into the columns Kusto names.

use super::analytics::fit_line;
use super::arg;
use crate::catalog::{FnDef, P, p, row};
use crate::val::{Val, real_to_json};
use datafusion::common::Result;
use schema::KqlType;
use serde_json::{Map, Value as Json};

fn reals(v: &Val) -> Option<Vec<f64>> {
    match v {
        Val::Dyn(Json::Array(items)) => items.iter().map(Json::as_f64).collect(),
        _ => None,
    }
}

fn arr(v: impl IntoIterator<Item = f64>) -> Json {
    Json::Array(v.into_iter().map(real_to_json).collect())
}

/// Solves `a x = b` by Gaussian elimination with partial pivoting.
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-300 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        let pivot_row = a[col].clone();
        for row in col + 1..n {
            let f = a[row][col] / pivot_row[col];
            for (cell, p) in a[row].iter_mut().zip(&pivot_row).skip(col) {
                *cell -= f * p;
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|k| a[i][k] * x[k]).sum();
        x[i] = (b[i] - s) / a[i][i];
    }
    Some(x)
}

/// Least-squares polynomial of `degree`: coefficients from the highest power down.
pub fn fit_poly(y: &[f64], x: &[f64], degree: usize) -> Option<Map<String, Json>> {
    let n = y.len();
    if n == 0 || x.len() != n {
        return None;
    }
    let m = degree + 1;
    let mut ata = vec![vec![0.0; m]; m];
    let mut aty = vec![0.0; m];
    for (xi, yi) in x.iter().zip(y) {
        let powers: Vec<f64> = (0..m).map(|k| xi.powi(k as i32)).collect();
        for r in 0..m {
            aty[r] += powers[r] * yi;
            for c in 0..m {
                ata[r][c] += powers[r] * powers[c];
            }
        }
    }
    let coef = solve(ata, aty)?;
    let fit: Vec<f64> = x
        .iter()
        .map(|xi| coef.iter().enumerate().map(|(k, c)| c * xi.powi(k as i32)).sum())
        .collect();
    let my = y.iter().sum::<f64>() / n as f64;
    let ss_tot: f64 = y.iter().map(|v| (v - my).powi(2)).sum();
    let ss_res: f64 = y.iter().zip(&fit).map(|(v, f)| (v - f).powi(2)).sum();
    let denom = if n > 1 { n as f64 - 1.0 } else { 1.0 };
    let mut out = Map::new();
    out.insert(
        "rsquare".into(),
        real_to_json(if ss_tot == 0.0 { 1.0 } else { 1.0 - ss_res / ss_tot }),
    );
    out.insert("coefficients".into(), arr(coef.iter().rev().copied()));
    out.insert("variance".into(), real_to_json(ss_tot / denom));
    out.insert("rvariance".into(), real_to_json(ss_res / denom));
    out.insert("poly_fit".into(), arr(fit));
    Some(out)
}

/// The two-segment line fit with the split that minimises the total squared residual.
pub fn fit_2lines(y: &[f64]) -> Option<Map<String, Json>> {
    let n = y.len();
    if n < 4 {
        return None;
    }
    let sse = |m: &Map<String, Json>| m.get("rvariance").and_then(Json::as_f64).unwrap_or(f64::MAX);
    type Split = (usize, f64, Map<String, Json>, Map<String, Json>);
    let mut best: Option<Split> = None;
    for split in 2..=n - 2 {
        let (l, r) = (fit_line(&y[..split])?, fit_line(&y[split..])?);
        let total = sse(&l) * (split as f64 - 1.0) + sse(&r) * ((n - split) as f64 - 1.0);
        if best.as_ref().is_none_or(|b| total < b.1) {
            best = Some((split, total, l, r));
        }
    }
    let (split, ss_res, l, r) = best?;
    // The right line's x starts at 1 again; shift its interception to the global axis.
    let r_slope = r.get("slope").and_then(Json::as_f64).unwrap_or(0.0);
    let r_icpt = r.get("interception").and_then(Json::as_f64).unwrap_or(0.0) - r_slope * split as f64;
    let mut fit: Vec<f64> = l
        .get("line_fit")
        .and_then(Json::as_array)
        .map(|a| a.iter().filter_map(Json::as_f64).collect())
        .unwrap_or_default();
    fit.extend(
        r.get("line_fit")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(Json::as_f64),
    );
    let my = y.iter().sum::<f64>() / n as f64;
    let ss_tot: f64 = y.iter().map(|v| (v - my).powi(2)).sum();
    let mut out = Map::new();
    out.insert(
        "rsquare".into(),
        real_to_json(if ss_tot == 0.0 { 1.0 } else { 1.0 - ss_res / ss_tot }),
    );
    out.insert("split_idx".into(), Json::from(split - 1));
    out.insert("variance".into(), real_to_json(ss_tot / (n as f64 - 1.0)));
    out.insert("rvariance".into(), real_to_json(ss_res / (n as f64 - 1.0)));
    out.insert("line_fit".into(), arr(fit));
    for (side, m) in [("left", &l), ("right", &r)] {
        for key in ["rsquare", "slope", "variance", "rvariance"] {
            out.insert(format!("{side}_{key}"), m.get(key).cloned().unwrap_or(Json::Null));
        }
    }
    out.insert(
        "left_interception".into(),
        l.get("interception").cloned().unwrap_or(Json::Null),
    );
    out.insert("right_interception".into(), real_to_json(r_icpt));
    Some(out)
}

/// A percentile by linear interpolation between closest ranks.
fn quantile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = p / 100.0 * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi.min(sorted.len() - 1)] - sorted[lo]) * (pos - lo as f64)
}

/// Tukey outlier scores: `(x − Q_high)/IQR` above the upper quantile, `(x − Q_low)/IQR`
/// below the lower one (negative), 0 inside; ±1.5 is Tukey's classic fence.
fn outliers(a: &[Val]) -> Result<Val> {
    let Val::Dyn(Json::Array(items)) = arg(a, 0) else {
        return Ok(Val::Null);
    };
    let kind = match arg(a, 1) {
        Val::Null => "ctukey".to_string(),
        v => v.to_kstring().to_ascii_lowercase(),
    };
    let ignore = arg(a, 2).as_f64();
    let (lo_p, hi_p) = if kind == "tukey" {
        (25.0, 75.0)
    } else {
        (arg(a, 3).as_f64().unwrap_or(10.0), arg(a, 4).as_f64().unwrap_or(90.0))
    };
    let vals: Vec<Option<f64>> = items
        .iter()
        .map(|j| j.as_f64().filter(|v| v.is_finite() && Some(*v) != ignore))
        .collect();
    let mut sorted: Vec<f64> = vals.iter().flatten().copied().collect();
    sorted.sort_by(f64::total_cmp);
    let (q1, q3) = (quantile(&sorted, lo_p), quantile(&sorted, hi_p));
    let iqr = q3 - q1;
    Ok(Val::Dyn(arr(vals.into_iter().map(|v| match v {
        Some(x) if iqr > 0.0 && x > q3 => (x - q3) / iqr,
        Some(x) if iqr > 0.0 && x < q1 => (x - q1) / iqr,
        _ => 0.0,
    }))))
}

/// The discrete Fourier transform (inverse: scaled by 1/n), as `[real, imaginary]`.
fn dft(re: &[f64], im: &[f64], inverse: bool) -> Json {
    let n = re.len();
    let sign = if inverse { 1.0 } else { -1.0 };
    let mut out_re = Vec::with_capacity(n);
    let mut out_im = Vec::with_capacity(n);
    for k in 0..n {
        let (mut sr, mut si) = (0.0, 0.0);
        for (t, xr) in re.iter().enumerate() {
            let angle = sign * 2.0 * std::f64::consts::PI * (k * t % n.max(1)) as f64 / n as f64;
            let (s, c) = angle.sin_cos();
            let xi = im.get(t).copied().unwrap_or(0.0);
            sr += xr * c - xi * s;
            si += xr * s + xi * c;
        }
        if inverse {
            sr /= n as f64;
            si /= n as f64;
        }
        out_re.push(sr);
        out_im.push(si);
    }
    Json::Array(vec![arr(out_re), arr(out_im)])
}

fn fft(a: &[Val], inverse: bool) -> Result<Val> {
    let Some(re) = reals(arg(a, 0)) else {
        return Ok(Val::Null);
    };
    let im = match arg(a, 1) {
        Val::Null => vec![0.0; re.len()],
        v => match reals(v) {
            Some(im) if im.len() == re.len() => im,
            _ => return Ok(Val::Null),
        },
    };
    Ok(Val::Dyn(dft(&re, &im, inverse)))
}

pub static DEFS: &[FnDef] = &[
    row(
        "series_fit_poly",
        &[p("y_series", P::Dynamic), p("x_series", P::Any), p("degree", P::Int)],
        1,
        KqlType::Dynamic,
        |a| {
            let Some(y) = reals(arg(a, 0)) else {
                return Ok(Val::Null);
            };
            let x = match arg(a, 1) {
                Val::Dyn(Json::Array(_)) => match reals(arg(a, 1)) {
                    Some(x) => x,
                    None => return Ok(Val::Null),
                },
                _ => (1..=y.len()).map(|i| i as f64).collect(),
            };
            let degree = arg(a, 2).as_i64().unwrap_or(1).clamp(1, 6) as usize;
            Ok(fit_poly(&y, &x, degree)
                .map(|m| Val::Dyn(Json::Object(m)))
                .unwrap_or(Val::Null))
        },
    ),
    row(
        "series_fit_2lines",
        &[p("series", P::Dynamic)],
        1,
        KqlType::Dynamic,
        |a| {
            Ok(reals(arg(a, 0))
                .and_then(|y| fit_2lines(&y))
                .map(|m| Val::Dyn(Json::Object(m)))
                .unwrap_or(Val::Null))
        },
    ),
    row(
        "series_fit_2lines_dynamic",
        &[p("series", P::Dynamic)],
        1,
        KqlType::Dynamic,
        |a| {
            Ok(reals(arg(a, 0))
                .and_then(|y| fit_2lines(&y))
                .map(|m| Val::Dyn(Json::Object(m)))
                .unwrap_or(Val::Null))
        },
    ),
    row(
        "series_outliers",
        &[
            p("series", P::Dynamic),
            p("kind", P::Str),
            p("ignore_val", P::Num),
            p("min_percentile", P::Num),
            p("max_percentile", P::Num),
        ],
        1,
        KqlType::Dynamic,
        outliers,
    ),
    row(
        "series_fft",
        &[p("x_real", P::Dynamic), p("x_imaginary", P::Dynamic)],
        1,
        KqlType::Dynamic,
        |a| fft(a, false),
    ),
    row(
        "series_ifft",
        &[p("fft_real", P::Dynamic), p("fft_imaginary", P::Dynamic)],
        1,
        KqlType::Dynamic,
        |a| fft(a, true),
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn polynomial_and_two_lines() {
        let y: Vec<f64> = (1..=6).map(|x| (x * x) as f64).collect();
        let x: Vec<f64> = (1..=6).map(|x| x as f64).collect();
        let m = fit_poly(&y, &x, 2).unwrap();
        let c: Vec<f64> = m["coefficients"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert!(
            (c[0] - 1.0).abs() < 1e-9 && c[1].abs() < 1e-9 && c[2].abs() < 1e-9,
            "{c:?}"
        );
        let y = [1.0, 2.0, 3.0, 4.0, 10.0, 8.0, 6.0, 4.0];
        let m = fit_2lines(&y).unwrap();
        assert_eq!(m["split_idx"], json!(3));
        assert!((m["rsquare"].as_f64().unwrap() - 1.0).abs() < 1e-9);
    }

    #[test]
    fn outliers_and_fft() {
        let v = Val::Dyn(json!([1, 2, 3, 2, 1, 2, 3, 100]));
        let Val::Dyn(scores) = outliers(&[v, Val::Str("tukey".into())]).unwrap() else {
            panic!()
        };
        let s: Vec<f64> = scores.as_array().unwrap().iter().map(|j| j.as_f64().unwrap()).collect();
        assert!(s[7] > 1.5 && s[..7].iter().all(|x| x.abs() < 1.5), "{s:?}");
        let Val::Dyn(f) = fft(&[Val::Dyn(json!([1, 0, 0, 0]))], false).unwrap() else {
            panic!()
        };
        assert_eq!(f, json!([[1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]]));
        let Val::Dyn(back) = fft(&[Val::Dyn(f[0].clone()), Val::Dyn(f[1].clone())], true).unwrap() else {
            panic!()
        };
        assert!((back[0][0].as_f64().unwrap() - 1.0).abs() < 1e-12);
        assert!(back[0][1].as_f64().unwrap().abs() < 1e-12);
    }
}
