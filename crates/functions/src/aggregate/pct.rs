//! Percentiles and sketches: `percentile`, `percentiles`, `percentiles_array`, their
//! weighted forms `percentilew`, `percentilesw`, `percentilesw_array`, `tdigest`,
//! `tdigest_merge`/`merge_tdigest`, `hll`, `hll_merge`.
//!
//! Percentiles are computed exactly with the nearest-rank definition the reference gives
//! (Kusto estimates them with a t-digest; the exact value is within its error bounds).
//! A `tdigest` value is a dynamic object holding the exact weighted values,
//! `{"tdigest": {"type": "long", "values": [[v, w], …]}}`, and an `hll` value holds the
//! 64-bit hashes of the distinct values, `{"hll": [h, …]}` — exact, so `dcount_hll` is
//! exact. Both merge across partitions and with `*_merge`.

use super::valagg::{AccFactory, ValAcc, ValUdaf, canonical, decode, encode, scalar_of, struct_of};
use crate::ops::compare::compare_vals;
use crate::val::Val;
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::AggregateUDF;
use schema::KqlType;
use serde_json::Value as Json;
use std::cmp::Ordering;
use std::collections::BTreeSet;

/// The value at nearest rank `p` (0..=100) of values sorted ascending with weights.
pub fn nearest_rank(sorted: &[(Val, f64)], p: f64) -> Val {
    let total: f64 = sorted.iter().map(|(_, w)| *w).sum();
    if sorted.is_empty() || total <= 0.0 || p.is_nan() {
        return Val::Null;
    }
    let p = p.clamp(0.0, 100.0);
    if p == 0.0 {
        return sorted[0].0.clone();
    }
    let rank = (p / 100.0 * total).ceil();
    let mut acc = 0.0;
    for (v, w) in sorted {
        acc += w;
        if acc >= rank {
            return v.clone();
        }
    }
    sorted.last().map(|(v, _)| v.clone()).unwrap_or(Val::Null)
}

/// Values with weights, sorted by Kusto's ordering.
pub fn sort_weighted(mut vals: Vec<(Val, f64)>) -> Vec<(Val, f64)> {
    vals.sort_by(|a, b| compare_vals(&a.0, &b.0).unwrap_or(Ordering::Equal));
    vals
}

/// The percentiles requested by arguments `from..` of a row: numbers, or a dynamic array.
fn requested(row: &[Val], from: usize) -> Vec<f64> {
    let mut out = Vec::new();
    for v in row.iter().skip(from) {
        match v {
            Val::Dyn(Json::Array(items)) => out.extend(items.iter().filter_map(Json::as_f64)),
            other => out.extend(other.as_f64()),
        }
    }
    out
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Output {
    /// One value of the input's type.
    Single,
    /// A struct of values, one per requested percentile.
    Columns,
    /// A dynamic array of the values.
    Array,
    /// A tdigest dynamic value.
    Digest,
}

#[derive(Debug)]
struct Percentiles {
    weighted: bool,
    output: Output,
    ty: KqlType,
    values: Vec<(Val, f64)>,
    percents: Vec<f64>,
}

impl Percentiles {
    fn new(types: &[KqlType], weighted: bool, output: Output) -> Self {
        Percentiles {
            weighted,
            output,
            ty: types.first().copied().unwrap_or(KqlType::Real),
            values: Vec::new(),
            percents: Vec::new(),
        }
    }

    fn results(&self) -> Vec<Val> {
        let sorted = sort_weighted(self.values.clone());
        self.percents.iter().map(|p| nearest_rank(&sorted, *p)).collect()
    }
}

impl ValAcc for Percentiles {
    fn update(&mut self, row: &[Val]) -> Result<()> {
        let from = if self.weighted { 2 } else { 1 };
        if self.percents.is_empty() {
            self.percents = requested(row, from);
        }
        let Some(v) = row.first() else { return Ok(()) };
        if v.is_null() {
            return Ok(());
        }
        let w = if self.weighted {
            row.get(1).and_then(Val::as_f64).unwrap_or(0.0)
        } else {
            1.0
        };
        if w > 0.0 {
            self.values.push((v.clone(), w));
        }
        Ok(())
    }
    fn state(&self) -> Json {
        serde_json::json!({
            "p": self.percents,
            "v": self.values.iter().map(|(v, w)| serde_json::json!([encode(v), w])).collect::<Vec<_>>(),
        })
    }
    fn merge(&mut self, state: &Json) -> Result<()> {
        if self.percents.is_empty()
            && let Some(Json::Array(p)) = state.get("p")
        {
            self.percents = p.iter().filter_map(Json::as_f64).collect();
        }
        if let Some(Json::Array(vals)) = state.get("v") {
            for pair in vals {
                if let Some([v, w]) = pair.as_array().map(Vec::as_slice) {
                    self.values.push((decode(v, self.ty), w.as_f64().unwrap_or(1.0)));
                }
            }
        }
        Ok(())
    }
    fn evaluate(&self, ret: &DataType) -> Result<ScalarValue> {
        match self.output {
            Output::Single => scalar_of(ret, self.results().first().unwrap_or(&Val::Null)),
            Output::Columns => struct_of(ret, &self.results()),
            Output::Array => {
                if self.values.is_empty() {
                    return Ok(ScalarValue::Binary(None));
                }
                let arr: Vec<Json> = self.results().iter().map(Val::to_json).collect();
                Ok(ScalarValue::Binary(Some(Json::Array(arr).to_string().into_bytes())))
            }
            Output::Digest => {
                if self.values.is_empty() {
                    return Ok(ScalarValue::Binary(None));
                }
                let digest = digest_json(self.ty, &self.values);
                Ok(ScalarValue::Binary(Some(digest.to_string().into_bytes())))
            }
        }
    }
    fn size(&self) -> usize {
        self.values.len() * 40
    }
}

/// The dynamic value of a t-digest over weighted values of type `ty`.
pub fn digest_json(ty: KqlType, values: &[(Val, f64)]) -> Json {
    serde_json::json!({"tdigest": {
        "type": ty.name(),
        "values": values.iter().map(|(v, w)| serde_json::json!([encode(v), w])).collect::<Vec<_>>(),
    }})
}

/// The type and weighted values of a t-digest value, if it is one.
pub fn digest_values(j: &Json) -> Option<(KqlType, Vec<(Val, f64)>)> {
    let d = j.get("tdigest")?;
    let ty: KqlType = d.get("type")?.as_str()?.parse().ok()?;
    let vals = d
        .get("values")?
        .as_array()?
        .iter()
        .filter_map(|pair| {
            let [v, w] = pair.as_array()?.as_slice() else {
                return None;
            };
            Some((decode(v, ty), w.as_f64()?))
        })
        .collect();
    Some((ty, vals))
}

/// `tdigest_merge(td)`: the union of t-digests.
#[derive(Debug, Default)]
struct DigestMerge {
    ty: Option<KqlType>,
    values: Vec<(Val, f64)>,
}

impl ValAcc for DigestMerge {
    fn update(&mut self, row: &[Val]) -> Result<()> {
        if let Some(Val::Dyn(j)) = row.first()
            && let Some((ty, vals)) = digest_values(j)
        {
            self.ty.get_or_insert(ty);
            self.values.extend(vals);
        }
        Ok(())
    }
    fn state(&self) -> Json {
        match self.ty {
            Some(ty) => digest_json(ty, &self.values),
            None => Json::Null,
        }
    }
    fn merge(&mut self, state: &Json) -> Result<()> {
        self.update(&[Val::Dyn(state.clone())])
    }
    fn evaluate(&self, _ret: &DataType) -> Result<ScalarValue> {
        Ok(ScalarValue::Binary(
            self.ty.map(|ty| digest_json(ty, &self.values).to_string().into_bytes()),
        ))
    }
    fn size(&self) -> usize {
        self.values.len() * 40
    }
}

/// The 64-bit hash `hll` keeps for a value.
pub fn hll_hash(v: &Val) -> u64 {
    twox_hash::XxHash64::oneshot(0, encode(v).to_string().as_bytes())
}

/// The hashes of an `hll` value, if it is one.
pub fn hll_values(j: &Json) -> Option<Vec<u64>> {
    Some(j.get("hll")?.as_array()?.iter().filter_map(Json::as_u64).collect())
}

pub fn hll_json(set: &BTreeSet<u64>) -> Json {
    serde_json::json!({ "hll": set.iter().collect::<Vec<_>>() })
}

/// `hll(x)` (merge = false) and `hll_merge(h)` (merge = true).
#[derive(Debug)]
struct Hll {
    merge_input: bool,
    set: BTreeSet<u64>,
}

impl ValAcc for Hll {
    fn update(&mut self, row: &[Val]) -> Result<()> {
        let Some(v) = row.first() else { return Ok(()) };
        if self.merge_input {
            if let Val::Dyn(j) = v {
                self.set.extend(hll_values(j).unwrap_or_default());
            }
        } else if !v.is_null() {
            self.set.insert(hll_hash(v));
        }
        Ok(())
    }
    fn state(&self) -> Json {
        hll_json(&self.set)
    }
    fn merge(&mut self, state: &Json) -> Result<()> {
        self.set.extend(hll_values(state).unwrap_or_default());
        Ok(())
    }
    fn evaluate(&self, _ret: &DataType) -> Result<ScalarValue> {
        Ok(ScalarValue::Binary(Some(hll_json(&self.set).to_string().into_bytes())))
    }
    fn size(&self) -> usize {
        self.set.len() * 16
    }
}

fn struct_n(t: &[DataType], from: usize) -> DataType {
    // One field per requested percentile; the count is the number of percentile
    // arguments (a dynamic array argument is expanded by the lowering).
    let n = t.len().saturating_sub(from).max(1);
    let ty = t.first().map(canonical).unwrap_or(DataType::Float64);
    DataType::Struct(
        (0..n)
            .map(|i| Field::new(format!("f{i}"), ty.clone(), true))
            .collect::<Vec<_>>()
            .into(),
    )
}

pub const PERCENTILE: &str = "kql_percentile";
pub const PERCENTILES: &str = "kql_percentiles";
pub const PERCENTILES_ARRAY: &str = "kql_percentiles_array";
pub const PERCENTILEW: &str = "kql_percentilew";
pub const PERCENTILESW: &str = "kql_percentilesw";
pub const PERCENTILESW_ARRAY: &str = "kql_percentilesw_array";
pub const TDIGEST: &str = "kql_tdigest";
pub const TDIGEST_MERGE: &str = "kql_tdigest_merge";
pub const HLL: &str = "kql_hll";
pub const HLL_MERGE: &str = "kql_hll_merge";

pub fn udafs() -> Vec<AggregateUDF> {
    let single: AccFactory = |t| Box::new(Percentiles::new(t, false, Output::Single));
    let columns: AccFactory = |t| Box::new(Percentiles::new(t, false, Output::Columns));
    let array: AccFactory = |t| Box::new(Percentiles::new(t, false, Output::Array));
    let single_w: AccFactory = |t| Box::new(Percentiles::new(t, true, Output::Single));
    let columns_w: AccFactory = |t| Box::new(Percentiles::new(t, true, Output::Columns));
    let array_w: AccFactory = |t| Box::new(Percentiles::new(t, true, Output::Array));
    let digest: AccFactory = |t| Box::new(Percentiles::new(t, true, Output::Digest));
    let digest_merge: AccFactory = |_| Box::new(DigestMerge::default());
    let hll: AccFactory = |_| {
        Box::new(Hll {
            merge_input: false,
            set: BTreeSet::new(),
        })
    };
    let hll_merge: AccFactory = |_| {
        Box::new(Hll {
            merge_input: true,
            set: BTreeSet::new(),
        })
    };
    let first = |t: &[DataType]| t.first().map(canonical).unwrap_or(DataType::Float64);
    let dynamic = |_: &[DataType]| DataType::Binary;
    vec![
        ValUdaf::udaf(PERCENTILE, first, single),
        ValUdaf::udaf(PERCENTILES, |t| struct_n(t, 1), columns),
        ValUdaf::udaf(PERCENTILES_ARRAY, dynamic, array),
        ValUdaf::udaf(PERCENTILEW, first, single_w),
        ValUdaf::udaf(PERCENTILESW, |t| struct_n(t, 2), columns_w),
        ValUdaf::udaf(PERCENTILESW_ARRAY, dynamic, array_w),
        ValUdaf::udaf(TDIGEST, dynamic, digest),
        ValUdaf::udaf(TDIGEST_MERGE, dynamic, digest_merge),
        ValUdaf::udaf(HLL, dynamic, hll),
        ValUdaf::udaf(HLL_MERGE, dynamic, hll_merge),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let vals: Vec<(Val, f64)> = (1..=10).map(|i| (Val::Long(i), 1.0)).collect();
        let s = sort_weighted(vals);
        assert_eq!(nearest_rank(&s, 0.0), Val::Long(1));
        assert_eq!(nearest_rank(&s, 50.0), Val::Long(5));
        assert_eq!(nearest_rank(&s, 95.0), Val::Long(10));
        assert_eq!(nearest_rank(&s, 100.0), Val::Long(10));
        assert_eq!(nearest_rank(&s, 10.0), Val::Long(1));
        assert_eq!(nearest_rank(&s, 11.0), Val::Long(2));
        let w = sort_weighted(vec![(Val::Real(2.0), 2.0), (Val::Real(1.0), 1.0)]);
        assert_eq!(nearest_rank(&w, 50.0), Val::Real(2.0));
        assert_eq!(nearest_rank(&[], 50.0), Val::Null);
    }
}
