//! The engine's own UDFs: operator machinery rather than KQL functions (those live in the
//! `functions` crate). `mv-expand` turns dynamic values into Arrow lists that DataFusion's
//! `Unnest` expands.

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BinaryBuilder, Int64Builder, ListBuilder};
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};
use serde_json::Value as Json;
use std::sync::{Arc, OnceLock};

pub const MV_ELEMENTS: &str = "__quarry_mv_elements";
pub const MV_INDEXES: &str = "__quarry_mv_indexes";
pub const SERIES: &str = "__quarry_series";

/// Every UDF of the engine, for the session registry.
pub fn udfs() -> Vec<Arc<ScalarUDF>> {
    vec![mv_elements(), mv_indexes(), series()]
}

pub fn series() -> Arc<ScalarUDF> {
    static UDF: OnceLock<Arc<ScalarUDF>> = OnceLock::new();
    UDF.get_or_init(|| Arc::new(ScalarUDF::new_from_impl(Series::new())))
        .clone()
}

pub fn mv_elements() -> Arc<ScalarUDF> {
    static UDF: OnceLock<Arc<ScalarUDF>> = OnceLock::new();
    UDF.get_or_init(|| Arc::new(ScalarUDF::new_from_impl(MvElements::new())))
        .clone()
}

pub fn mv_indexes() -> Arc<ScalarUDF> {
    static UDF: OnceLock<Arc<ScalarUDF>> = OnceLock::new();
    UDF.get_or_init(|| Arc::new(ScalarUDF::new_from_impl(MvIndexes::new())))
        .clone()
}

/// The dynamic value of row `i` of a binary (or binary view) array, `None` for null.
fn json_at(arr: &dyn Array, i: usize) -> Option<Json> {
    dynamic_bytes(arr, i).map(functions::val::parse_dynamic)
}

/// The JSON text of row `i` of a binary (or binary view) array, `None` for null.
fn dynamic_bytes(arr: &dyn Array, i: usize) -> Option<&[u8]> {
    if arr.is_null(i) {
        return None;
    }
    match arr.data_type() {
        DataType::Binary => Some(arr.as_binary::<i32>().value(i)),
        DataType::LargeBinary => Some(arr.as_binary::<i64>().value(i)),
        DataType::BinaryView => Some(arr.as_binary_view().value(i)),
        _ => None,
    }
}

/// The elements `mv-expand` produces from one value: array items, bag entries (as
/// single-entry bags, or `[key, value]` arrays with `kind=array`), or the value itself.
/// `None` for null, which expands to one null row.
fn elements(v: Option<Json>, bag_as_array: bool) -> Option<Vec<Json>> {
    match v? {
        Json::Null => None,
        Json::Array(items) => Some(items),
        Json::Object(map) => Some(
            map.into_iter()
                .map(|(k, v)| {
                    if bag_as_array {
                        Json::Array(vec![Json::String(k), v])
                    } else {
                        let mut m = serde_json::Map::new();
                        m.insert(k, v);
                        Json::Object(m)
                    }
                })
                .collect(),
        ),
        other => Some(vec![other]),
    }
}

fn scalar_arg_i64(args: &[ColumnarValue], i: usize) -> Option<i64> {
    match args.get(i) {
        Some(ColumnarValue::Scalar(ScalarValue::Int64(v))) => *v,
        _ => None,
    }
}

fn scalar_arg_bool(args: &[ColumnarValue], i: usize) -> bool {
    matches!(
        args.get(i),
        Some(ColumnarValue::Scalar(ScalarValue::Boolean(Some(true))))
    )
}

/// `__quarry_mv_elements(value: dynamic, bag_as_array: bool, limit: long) -> List<Binary>`
#[derive(Debug, PartialEq, Eq, Hash)]
struct MvElements {
    signature: Signature,
}

impl MvElements {
    fn new() -> Self {
        MvElements {
            signature: Signature::any(3, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for MvElements {
    fn name(&self) -> &str {
        MV_ELEMENTS
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::List(Arc::new(Field::new_list_field(DataType::Binary, true))))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let bag_as_array = scalar_arg_bool(&args.args, 1);
        let limit = scalar_arg_i64(&args.args, 2).unwrap_or(i64::MAX).max(0) as usize;
        let Some(first) = args.args.first() else {
            return exec_err!("{MV_ELEMENTS}: missing argument");
        };
        let arr = first.to_array(args.number_rows)?;
        let mut out = ListBuilder::new(BinaryBuilder::new());
        let mut text = Vec::new();
        for i in 0..arr.len() {
            match elements(json_at(arr.as_ref(), i), bag_as_array) {
                None => out.append_null(),
                Some(items) => {
                    for item in items.into_iter().take(limit) {
                        // The compact text `Json::to_string` makes, without a String per item.
                        text.clear();
                        serde_json::to_writer(&mut text, &item)
                            .map_err(|e| datafusion::error::DataFusionError::Execution(e.to_string()))?;
                        out.values().append_value(&text);
                    }
                    out.append(true);
                }
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish()) as ArrayRef))
    }
}

/// How many rows the expansion of row `i` of a dynamic array produces, as
/// `elements(json_at(arr, i), _).map_or(1, |e| e.len())` would say, without building the
/// value: items of an array, distinct keys of a bag (a parsed bag keeps the last of equal
/// keys), one for null, a scalar or text that is not JSON.
fn element_count(arr: &dyn Array, i: usize) -> usize {
    dynamic_bytes(arr, i).map_or(1, |bytes| {
        serde_json::from_slice::<ElementCount>(bytes).map_or(1, |c| c.0)
    })
}

/// The number of rows a dynamic value expands to (see [`element_count`]).
struct ElementCount(usize);

impl<'de> serde::Deserialize<'de> for ElementCount {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Counter;
        impl<'de> serde::de::Visitor<'de> for Counter {
            type Value = ElementCount;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<ElementCount, A::Error> {
                let mut n = 0;
                // Each element is visited like the top (not skipped as `IgnoredAny`, which
                // does not check that numbers are in range, as a parse into a value does).
                while seq.next_element::<ElementCount>()?.is_some() {
                    n += 1;
                }
                Ok(ElementCount(n))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<ElementCount, A::Error> {
                let mut keys = std::collections::HashSet::new();
                while let Some(k) = map.next_key::<String>()? {
                    map.next_value::<ElementCount>()?;
                    keys.insert(k);
                }
                Ok(ElementCount(keys.len()))
            }
            fn visit_unit<E>(self) -> std::result::Result<ElementCount, E> {
                Ok(ElementCount(1))
            }
            fn visit_bool<E>(self, _: bool) -> std::result::Result<ElementCount, E> {
                Ok(ElementCount(1))
            }
            fn visit_i64<E>(self, _: i64) -> std::result::Result<ElementCount, E> {
                Ok(ElementCount(1))
            }
            fn visit_u64<E>(self, _: u64) -> std::result::Result<ElementCount, E> {
                Ok(ElementCount(1))
            }
            fn visit_f64<E>(self, _: f64) -> std::result::Result<ElementCount, E> {
                Ok(ElementCount(1))
            }
            fn visit_str<E>(self, _: &str) -> std::result::Result<ElementCount, E> {
                Ok(ElementCount(1))
            }
        }
        d.deserialize_any(Counter)
    }
}

/// `__quarry_mv_indexes(limit: long, v1: dynamic, v2: dynamic, …) -> List<Int64>`: `0..n`
/// where n is the number of rows the expansion of the values produces (at least one when
/// any value is null, zero when all are empty).
#[derive(Debug, PartialEq, Eq, Hash)]
struct MvIndexes {
    signature: Signature,
}

impl MvIndexes {
    fn new() -> Self {
        MvIndexes {
            signature: Signature::variadic_any(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for MvIndexes {
    fn name(&self) -> &str {
        MV_INDEXES
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::List(Arc::new(Field::new_list_field(DataType::Int64, true))))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let limit = scalar_arg_i64(&args.args, 0).unwrap_or(i64::MAX).max(0) as usize;
        let arrays: Vec<ArrayRef> = args
            .args
            .iter()
            .skip(1)
            .map(|a| a.to_array(args.number_rows))
            .collect::<Result<_>>()?;
        let mut out = ListBuilder::new(Int64Builder::new());
        for i in 0..args.number_rows {
            let mut n = 0usize;
            for a in &arrays {
                n = n.max(element_count(a.as_ref(), i).min(limit));
            }
            for k in 0..n {
                out.values().append_value(k as i64);
            }
            out.append(true);
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish()) as ArrayRef))
    }
}

/// `__quarry_series(bins: dynamic bag {"i": value}, n: long, default: JSON text) -> dynamic`:
/// the dense array of `make-series`, `default` where a bin has no value.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Series {
    signature: Signature,
}

impl Series {
    fn new() -> Self {
        Series {
            signature: Signature::any(3, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for Series {
    fn name(&self) -> &str {
        SERIES
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Binary)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = scalar_arg_i64(&args.args, 1).unwrap_or(0).max(0) as usize;
        let default = match args.args.get(2) {
            Some(ColumnarValue::Scalar(ScalarValue::Utf8(Some(t)))) => serde_json::from_str(t).unwrap_or(Json::Null),
            _ => Json::Null,
        };
        let Some(first) = args.args.first() else {
            return exec_err!("{SERIES}: missing argument");
        };
        let arr = first.to_array(args.number_rows)?;
        let mut out = BinaryBuilder::new();
        for i in 0..arr.len() {
            let bins = match json_at(arr.as_ref(), i) {
                Some(Json::Object(m)) => m,
                _ => serde_json::Map::new(),
            };
            let series: Vec<Json> = (0..n)
                .map(|k| bins.get(&k.to_string()).cloned().unwrap_or_else(|| default.clone()))
                .collect();
            out.append_value(Json::Array(series).to_string().as_bytes());
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish()) as ArrayRef))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn element_counts_are_the_lengths_of_the_elements() {
        use datafusion::arrow::array::BinaryArray;
        let texts: Vec<Option<&[u8]>> = vec![
            None,
            Some(b"null"),
            Some(b"[]"),
            Some(b"[1, 2, [3, 4], {\"a\": 1}]"),
            Some(b"{\"a\": 1, \"b\": [1, 2]}"),
            Some(b"{\"a\": 1, \"a\": 2, \"b\": 3}"),
            Some(b"{}"),
            Some(b"\"text\""),
            Some(b"42"),
            Some(b"-1.5e3"),
            Some(b"true"),
            Some(b"not json ["),
            Some(b"[1, 2"),
            Some(b"[1] trailing"),
            Some(b""),
            Some(b"[1e400, 2]"),
            Some(b"{\"a\": [1e400]}"),
            Some(b"[\"\\u00e9\", \"\\ud800\"]"),
        ];
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let texts: Vec<Option<&[u8]>> = texts.into_iter().chain([Some(deep.as_bytes())]).collect();
        let arr = BinaryArray::from(texts);
        for i in 0..arr.len() {
            let expected = elements(json_at(&arr, i), false).map_or(1, |e| e.len());
            assert_eq!(element_count(&arr, i), expected, "row {i}");
        }
    }

    #[test]
    fn elements_of_values() {
        assert_eq!(elements(Some(json!([1, 2])), false), Some(vec![json!(1), json!(2)]));
        assert_eq!(elements(Some(json!({"a": 1})), false), Some(vec![json!({"a": 1})]));
        assert_eq!(elements(Some(json!({"a": 1})), true), Some(vec![json!(["a", 1])]));
        assert_eq!(elements(Some(json!([])), false), Some(vec![]));
        assert_eq!(elements(Some(json!(null)), false), None);
        assert_eq!(elements(None, false), None);
        assert_eq!(elements(Some(json!("x")), false), Some(vec![json!("x")]));
    }
}

/// `row_window_session(expr, max_from_first, max_between_neighbors [, restart])` as a
/// window function over the serialized rows: the value that started the current session
/// (a new one starts at the first row, after a null, when the value reaches the session's
/// start plus `max_from_first` or the previous value plus `max_between_neighbors`, or when
/// `restart` is true).
pub fn row_window_session() -> Arc<datafusion::logical_expr::WindowUDF> {
    static UDF: OnceLock<Arc<datafusion::logical_expr::WindowUDF>> = OnceLock::new();
    UDF.get_or_init(|| {
        Arc::new(datafusion::logical_expr::WindowUDF::new_from_impl(
            RowWindowSession::new(),
        ))
    })
    .clone()
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct RowWindowSession {
    signature: Signature,
}

impl RowWindowSession {
    fn new() -> Self {
        RowWindowSession {
            signature: Signature::variadic_any(Volatility::Immutable),
        }
    }
}

impl datafusion::logical_expr::WindowUDFImpl for RowWindowSession {
    fn name(&self) -> &str {
        "__quarry_row_window_session"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn partition_evaluator(
        &self,
        _args: datafusion::logical_expr::function::PartitionEvaluatorArgs,
    ) -> Result<Box<dyn datafusion::logical_expr::PartitionEvaluator>> {
        Ok(Box::new(SessionEvaluator))
    }
    fn field(
        &self,
        args: datafusion::logical_expr::function::WindowUDFFieldArgs,
    ) -> Result<datafusion::arrow::datatypes::FieldRef> {
        let dt = args
            .input_fields()
            .first()
            .map(|f| f.data_type().clone())
            .unwrap_or(DataType::Null);
        Ok(Arc::new(Field::new(args.name(), dt, true)))
    }
}

#[derive(Debug)]
struct SessionEvaluator;

/// The `i64` nanoseconds of a datetime (or timespan) cell.
fn nanos_at(arr: &dyn Array, i: usize) -> Option<i64> {
    if arr.is_null(i) {
        return None;
    }
    match arr.data_type() {
        DataType::Timestamp(datafusion::arrow::datatypes::TimeUnit::Nanosecond, _) => Some(
            arr.as_primitive::<datafusion::arrow::datatypes::TimestampNanosecondType>()
                .value(i),
        ),
        DataType::Duration(datafusion::arrow::datatypes::TimeUnit::Nanosecond) => Some(
            arr.as_primitive::<datafusion::arrow::datatypes::DurationNanosecondType>()
                .value(i),
        ),
        DataType::Int64 => Some(arr.as_primitive::<datafusion::arrow::datatypes::Int64Type>().value(i)),
        _ => None,
    }
}

impl datafusion::logical_expr::PartitionEvaluator for SessionEvaluator {
    fn evaluate_all(&mut self, values: &[ArrayRef], num_rows: usize) -> Result<ArrayRef> {
        let (Some(value), Some(first), Some(neighbor)) = (values.first(), values.get(1), values.get(2)) else {
            return exec_err!("row_window_session(): expects 3 or 4 arguments");
        };
        let restart = values.get(3).map(|r| r.as_boolean().clone());
        let mut session: Option<i64> = None;
        let mut previous: Option<i64> = None;
        let mut out = datafusion::arrow::array::TimestampNanosecondBuilder::with_capacity(num_rows);
        for i in 0..num_rows {
            let v = nanos_at(value.as_ref(), i);
            let restarts = restart.as_ref().is_some_and(|r| r.is_valid(i) && r.value(i));
            let new_session = match (v, session, previous) {
                (None, ..) => true,
                (_, None, _) | (_, _, None) => true,
                (Some(v), Some(s), Some(p)) => {
                    let from_first = nanos_at(first.as_ref(), i);
                    let between = nanos_at(neighbor.as_ref(), i);
                    restarts
                        || from_first.is_some_and(|d| v >= s.saturating_add(d))
                        || between.is_some_and(|d| v >= p.saturating_add(d))
                }
            };
            if new_session {
                session = v;
            }
            previous = v;
            match session {
                Some(s) if v.is_some() => out.append_value(s),
                _ => out.append_null(),
            }
        }
        let arr: ArrayRef = Arc::new(out.finish());
        // The result has the value's type (datetime; timespans and longs are cast back).
        Ok(datafusion::arrow::compute::cast(&arr, value.data_type())?)
    }
}
