//! Aggregates that collect values: `make_set`, `make_list`, `make_list_with_nulls`,
//! `make_bag` (and their `_if` forms, through DataFusion's FILTER), `take_any`.

use super::valagg::{AccFactory, ValAcc, ValUdaf, decode, encode, scalar_of, struct_of, struct_type};
use crate::val::Val;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::AggregateUDF;
use schema::KqlType;
use serde_json::{Map, Value as Json};
use std::collections::HashSet;

/// Kusto's default cap on the number of elements of `make_set`/`make_list`/`make_bag`.
pub const DEFAULT_MAX_SIZE: usize = 1_048_576;

fn max_size(row: &[Val], at: usize) -> usize {
    row.get(at)
        .and_then(|v| v.as_i64())
        .filter(|n| *n > 0)
        .map(|n| n as usize)
        .unwrap_or(DEFAULT_MAX_SIZE)
}

/// `make_list`/`make_set`/`make_list_with_nulls`: the values as a dynamic array.
#[derive(Debug)]
struct Collect {
    distinct: bool,
    keep_nulls: bool,
    max: usize,
    items: Vec<Json>,
    seen: HashSet<String>,
}

impl Collect {
    fn new(distinct: bool, keep_nulls: bool) -> Self {
        Collect {
            distinct,
            keep_nulls,
            max: DEFAULT_MAX_SIZE,
            items: Vec::new(),
            seen: HashSet::new(),
        }
    }

    fn push(&mut self, j: Json) {
        if self.items.len() >= self.max {
            return;
        }
        if self.distinct && !self.seen.insert(j.to_string()) {
            return;
        }
        self.items.push(j);
    }
}

impl ValAcc for Collect {
    fn update(&mut self, row: &[Val]) -> Result<()> {
        self.max = max_size(row, 1);
        let v = row.first().unwrap_or(&Val::Null);
        if v.is_null() && !self.keep_nulls {
            return Ok(());
        }
        match v {
            // `make_set` of an array column collects the arrays' elements.
            Val::Dyn(Json::Array(items)) if self.distinct => {
                for it in items {
                    self.push(it.clone());
                }
            }
            other => self.push(other.to_json()),
        }
        Ok(())
    }
    fn state(&self) -> Json {
        serde_json::json!({"max": self.max, "items": self.items})
    }
    fn merge(&mut self, state: &Json) -> Result<()> {
        if let Some(m) = state.get("max").and_then(Json::as_u64) {
            self.max = self.max.min(m as usize);
        }
        if let Some(Json::Array(items)) = state.get("items") {
            for it in items {
                self.push(it.clone());
            }
        }
        Ok(())
    }
    fn evaluate(&self, _ret: &DataType) -> Result<ScalarValue> {
        Ok(ScalarValue::Binary(Some(
            Json::Array(self.items.clone()).to_string().into_bytes(),
        )))
    }
    fn size(&self) -> usize {
        self.items.len() * 32
    }
}

/// `make_bag`: the union of the property bags (later duplicates of a key are ignored).
#[derive(Debug, Default)]
struct Bag {
    max: usize,
    bag: Map<String, Json>,
}

impl Bag {
    fn add(&mut self, m: &Map<String, Json>) {
        for (k, v) in m {
            if self.bag.len() >= self.max {
                break;
            }
            self.bag.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
}

impl ValAcc for Bag {
    fn update(&mut self, row: &[Val]) -> Result<()> {
        self.max = max_size(row, 1);
        if let Some(Val::Dyn(Json::Object(m))) = row.first() {
            let m = m.clone();
            self.add(&m);
        }
        Ok(())
    }
    fn state(&self) -> Json {
        serde_json::json!({"max": self.max, "bag": self.bag})
    }
    fn merge(&mut self, state: &Json) -> Result<()> {
        if let Some(m) = state.get("max").and_then(Json::as_u64) {
            self.max = if self.max == 0 {
                m as usize
            } else {
                self.max.min(m as usize)
            };
        }
        if let Some(Json::Object(m)) = state.get("bag") {
            self.add(m);
        }
        Ok(())
    }
    fn evaluate(&self, _ret: &DataType) -> Result<ScalarValue> {
        Ok(ScalarValue::Binary(Some(
            Json::Object(self.bag.clone()).to_string().into_bytes(),
        )))
    }
    fn size(&self) -> usize {
        self.bag.len() * 48
    }
}

/// `take_any(x, …)`: the values of some row, preferring non-null values per argument.
#[derive(Debug)]
struct TakeAny {
    types: Vec<KqlType>,
    vals: Vec<Val>,
}

impl ValAcc for TakeAny {
    fn update(&mut self, row: &[Val]) -> Result<()> {
        if self.vals.is_empty() {
            self.vals = vec![Val::Null; row.len()];
        }
        for (slot, v) in self.vals.iter_mut().zip(row) {
            let empty = slot.is_null() || matches!(slot, Val::Str(s) if s.is_empty());
            if empty {
                *slot = v.clone();
            }
        }
        Ok(())
    }
    fn state(&self) -> Json {
        Json::Array(self.vals.iter().map(encode).collect())
    }
    fn merge(&mut self, state: &Json) -> Result<()> {
        if let Json::Array(items) = state {
            let row: Vec<Val> = items.iter().zip(&self.types).map(|(j, t)| decode(j, *t)).collect();
            if row.len() == self.types.len() {
                self.update(&row)?;
            }
        }
        Ok(())
    }
    fn evaluate(&self, ret: &DataType) -> Result<ScalarValue> {
        if matches!(ret, DataType::Struct(_)) {
            struct_of(ret, &self.vals)
        } else {
            scalar_of(ret, self.vals.first().unwrap_or(&Val::Null))
        }
    }
    fn size(&self) -> usize {
        self.vals.len() * 32
    }
}

fn dynamic(_: &[DataType]) -> DataType {
    DataType::Binary
}

pub fn udafs() -> Vec<AggregateUDF> {
    let set: AccFactory = |_| Box::new(Collect::new(true, false));
    let list: AccFactory = |_| Box::new(Collect::new(false, false));
    let list_nulls: AccFactory = |_| Box::new(Collect::new(false, true));
    let bag: AccFactory = |_| {
        Box::new(Bag {
            max: DEFAULT_MAX_SIZE,
            bag: Map::new(),
        })
    };
    let any: AccFactory = |t| {
        Box::new(TakeAny {
            types: t.to_vec(),
            vals: Vec::new(),
        })
    };
    vec![
        ValUdaf::udaf(MAKE_SET, dynamic, set),
        ValUdaf::udaf(MAKE_LIST, dynamic, list),
        ValUdaf::udaf(MAKE_LIST_WITH_NULLS, dynamic, list_nulls),
        ValUdaf::udaf(MAKE_BAG, dynamic, bag),
        ValUdaf::udaf(
            TAKE_ANY,
            |t| match t {
                [one] => super::valagg::canonical(one),
                many => struct_type(many),
            },
            any,
        ),
    ]
}

pub const MAKE_SET: &str = "kql_make_set";
pub const MAKE_LIST: &str = "kql_make_list";
pub const MAKE_LIST_WITH_NULLS: &str = "kql_make_list_with_nulls";
pub const MAKE_BAG: &str = "kql_make_bag";
pub const TAKE_ANY: &str = "kql_take_any";
