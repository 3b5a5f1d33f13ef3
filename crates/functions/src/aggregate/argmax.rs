//! `arg_max(by, c1, c2, …)` and `arg_min`: the values of the row where `by` is largest
//! (smallest). Rows where `by` is null lose to any other row; on ties the first row seen wins. The
//! result is a struct `{f0: by, f1: c1, …}` that the engine expands into columns.

use super::valagg::{AccFactory, ValAcc, ValUdaf, decode, encode, struct_of, struct_type};
use crate::ops::compare::compare_vals;
use crate::val::Val;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::AggregateUDF;
use schema::KqlType;
use serde_json::Value as Json;
use std::cmp::Ordering;

#[derive(Debug)]
struct ArgExt {
    max: bool,
    types: Vec<KqlType>,
    best: Option<Vec<Val>>,
}

impl ValAcc for ArgExt {
    fn update(&mut self, row: &[Val]) -> Result<()> {
        let Some(by) = row.first() else { return Ok(()) };
        // A row whose `by` is null is kept only until a row with a value comes (Kusto
        // returns the first row of a group whose `by` values are all null).
        let better = match &self.best {
            None => true,
            Some(best) => {
                let cur = best.first().unwrap_or(&Val::Null);
                if by.is_null() {
                    false
                } else if cur.is_null() {
                    true
                } else {
                    let o = compare_vals(by, cur);
                    if self.max {
                        o == Some(Ordering::Greater)
                    } else {
                        o == Some(Ordering::Less)
                    }
                }
            }
        };
        if better {
            self.best = Some(row.to_vec());
        }
        Ok(())
    }
    fn state(&self) -> Json {
        match &self.best {
            None => Json::Null,
            Some(row) => Json::Array(row.iter().map(encode).collect()),
        }
    }
    fn merge(&mut self, state: &Json) -> Result<()> {
        if let Json::Array(items) = state {
            let row: Vec<Val> = items.iter().zip(&self.types).map(|(j, t)| decode(j, *t)).collect();
            self.update(&row)?;
        }
        Ok(())
    }
    fn evaluate(&self, ret: &DataType) -> Result<ScalarValue> {
        struct_of(ret, self.best.as_deref().unwrap_or(&[]))
    }
    fn size(&self) -> usize {
        self.types.len() * 32
    }
}

pub const ARG_MAX: &str = "kql_arg_max";
pub const ARG_MIN: &str = "kql_arg_min";

pub fn udafs() -> Vec<AggregateUDF> {
    let max: AccFactory = |t| {
        Box::new(ArgExt {
            max: true,
            types: t.to_vec(),
            best: None,
        })
    };
    let min: AccFactory = |t| {
        Box::new(ArgExt {
            max: false,
            types: t.to_vec(),
            best: None,
        })
    };
    vec![
        ValUdaf::udaf(ARG_MAX, struct_type, max),
        ValUdaf::udaf(ARG_MIN, struct_type, min),
    ]
}
