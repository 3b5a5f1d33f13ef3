//! Scalar functions over the `tdigest` and `hll` values that the aggregates produce:
//! `percentile_tdigest`, `percentiles_array_tdigest`, `percentrank_tdigest`,
//! `rank_tdigest`, `merge_tdigest`/`tdigest_merge`, `dcount_hll`, `hll_merge`.

use super::arg;
use crate::aggregate::{digest_values, hll_json, hll_values, nearest_rank, sort_weighted};
use crate::api::TypedExpr;
use crate::catalog::{Call, FnDef, P, custom, p, row, row_var};
use crate::error::FnError;
use crate::ops::compare::compare_vals;
use crate::udf::Ret;
use crate::val::Val;
use datafusion::common::Result;
use schema::KqlType;
use serde_json::Value as Json;
use std::cmp::Ordering;
use std::collections::BTreeSet;

fn digest(a: &[Val], i: usize) -> Option<(KqlType, Vec<(Val, f64)>)> {
    match arg(a, i) {
        Val::Dyn(j) => digest_values(j),
        _ => None,
    }
}

fn percentile(a: &[Val]) -> Result<Val> {
    let (Some((_, vals)), Some(p)) = (digest(a, 0), arg(a, 1).as_f64()) else {
        return Ok(Val::Null);
    };
    Ok(nearest_rank(&sort_weighted(vals), p))
}

fn lower_percentile(c: &Call) -> Result<TypedExpr, FnError> {
    let ty = match c.args.get(2) {
        None => KqlType::Dynamic,
        Some(t) => {
            let name = t
                .as_literal()
                .and_then(|v| crate::val::scalar_val(v).ok())
                .map(|v| v.to_kstring())
                .ok_or_else(|| FnError::NotConstant {
                    name: c.name.into(),
                    position: 3,
                    what: "type literal".into(),
                })?;
            name.parse::<KqlType>()
                .map_err(|e| FnError::invalid(c.name, e.to_string()))?
        }
    };
    let e = crate::catalog::call_row("__percentile_tdigest", c.args.iter().take(2).cloned().collect())?;
    if ty == KqlType::Dynamic {
        return Ok(e);
    }
    crate::coerce::convert(e, ty)
}

fn percentiles_array(a: &[Val]) -> Result<Val> {
    let Some((_, vals)) = digest(a, 0) else {
        return Ok(Val::Null);
    };
    let sorted = sort_weighted(vals);
    let mut ps = Vec::new();
    for v in a.iter().skip(1) {
        match v {
            Val::Dyn(Json::Array(items)) => ps.extend(items.iter().filter_map(Json::as_f64)),
            other => ps.extend(other.as_f64()),
        }
    }
    Ok(Val::Dyn(Json::Array(
        ps.iter().map(|p| nearest_rank(&sorted, *p).to_json()).collect(),
    )))
}

pub static DEFS: &[FnDef] = &[
    custom(
        "percentile_tdigest",
        &[p("expr", P::Dynamic), p("percentile", P::Num), p("typeLiteral", P::Str)],
        2,
        lower_percentile,
    ),
    row(
        "__percentile_tdigest",
        &[p("expr", P::Dynamic), p("percentile", P::Num)],
        2,
        KqlType::Dynamic,
        |a| {
            Ok(match percentile(a)? {
                Val::Null => Val::Null,
                v => Val::Dyn(v.to_json()),
            })
        },
    ),
    row_var(
        "percentiles_array_tdigest",
        &[p("expr", P::Dynamic), p("percentile", P::Any)],
        2,
        Ret::Fixed(KqlType::Dynamic),
        percentiles_array,
    ),
    row_var(
        "percentile_array_tdigest",
        &[p("expr", P::Dynamic), p("percentile", P::Any)],
        2,
        Ret::Fixed(KqlType::Dynamic),
        percentiles_array,
    ),
    row(
        "percentrank_tdigest",
        &[p("digest", P::Dynamic), p("value", P::Any)],
        2,
        KqlType::Real,
        |a| {
            let Some((_, vals)) = digest(a, 0) else {
                return Ok(Val::Null);
            };
            let total: f64 = vals.iter().map(|(_, w)| w).sum();
            if total <= 0.0 {
                return Ok(Val::Null);
            }
            let below: f64 = vals
                .iter()
                .filter(|(v, _)| compare_vals(v, arg(a, 1)) != Some(Ordering::Greater))
                .map(|(_, w)| w)
                .sum();
            Ok(Val::Real(below / total * 100.0))
        },
    ),
    row(
        "rank_tdigest",
        &[p("digest", P::Dynamic), p("value", P::Any)],
        2,
        KqlType::Long,
        |a| {
            let Some((_, vals)) = digest(a, 0) else {
                return Ok(Val::Null);
            };
            let below: f64 = vals
                .iter()
                .filter(|(v, _)| compare_vals(v, arg(a, 1)) != Some(Ordering::Greater))
                .map(|(_, w)| w)
                .sum();
            Ok(Val::Long(below as i64))
        },
    ),
    row_var(
        "merge_tdigest",
        &[p("digest", P::Dynamic)],
        1,
        Ret::Fixed(KqlType::Dynamic),
        merge_digests,
    ),
    row_var(
        "tdigest_merge",
        &[p("digest", P::Dynamic)],
        1,
        Ret::Fixed(KqlType::Dynamic),
        merge_digests,
    ),
    row("dcount_hll", &[p("hll", P::Dynamic)], 1, KqlType::Long, |a| {
        Ok(match arg(a, 0) {
            Val::Dyn(j) => hll_values(j).map(|v| Val::Long(v.len() as i64)).unwrap_or(Val::Null),
            _ => Val::Null,
        })
    }),
    row_var(
        "hll_merge",
        &[p("hll", P::Dynamic)],
        1,
        Ret::Fixed(KqlType::Dynamic),
        |a| {
            let mut set = BTreeSet::new();
            for v in a {
                if let Val::Dyn(j) = v {
                    set.extend(hll_values(j).unwrap_or_default());
                }
            }
            Ok(Val::Dyn(hll_json(&set)))
        },
    ),
];

fn merge_digests(a: &[Val]) -> Result<Val> {
    let mut ty = None;
    let mut vals = Vec::new();
    for i in 0..a.len() {
        if let Some((t, v)) = digest(a, i) {
            ty.get_or_insert(t);
            vals.extend(v);
        }
    }
    Ok(match ty {
        Some(t) => Val::Dyn(crate::aggregate::digest_json_of(t, &vals)),
        None => Val::Null,
    })
}
