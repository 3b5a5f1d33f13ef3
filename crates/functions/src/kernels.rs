//! Vectorised kernels for the string operators that filters spend their time in (`has`,
//! `contains`, `startswith`, `=~`, `has_any`, `in~`…). They read any string layout
//! without copying, prepare a constant needle once per batch, and return non-null
//! booleans (Kusto strings are never null).

use crate::terms::{Needle, StrOp};
use crate::udf::{StrArray, any_signature};
use crate::val::{Val, parse_dynamic, val_at};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature};
use serde_json::Value as Json;
use std::sync::Arc;

/// `haystack <op> needle` with or without case: `kql_has`, `kql_has_cs`, `kql_contains`…
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct StrPredUdf {
    name: String,
    op: StrOp,
    case_sensitive: bool,
    signature: Signature,
}

impl StrPredUdf {
    pub fn udf_name(op: StrOp, case_sensitive: bool) -> String {
        format!("kql_{}{}", op.name(), if case_sensitive { "_cs" } else { "" })
    }

    fn new(op: StrOp, case_sensitive: bool) -> Self {
        StrPredUdf {
            name: Self::udf_name(op, case_sensitive),
            op,
            case_sensitive,
            signature: any_signature(),
        }
    }
}

/// The text of a string argument (`Utf8`/`LargeUtf8`/`Utf8View` column or scalar).
fn scalar_text(s: &ScalarValue) -> Result<String> {
    Ok(match crate::val::scalar_val(s)? {
        Val::Str(s) => s,
        other => other.to_kstring(),
    })
}

fn bool_result(number_rows: usize, all_scalar: bool, f: impl Fn(usize) -> Result<bool>) -> Result<ColumnarValue> {
    if all_scalar {
        return Ok(ColumnarValue::Scalar(ScalarValue::Boolean(Some(f(0)?))));
    }
    let mut out = Vec::with_capacity(number_rows);
    for i in 0..number_rows {
        out.push(f(i)?);
    }
    Ok(ColumnarValue::Array(Arc::new(BooleanArray::from(out))))
}

impl ScalarUDFImpl for StrPredUdf {
    fn name(&self) -> &str {
        &self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [hay, needle] = args.args.as_slice() else {
            return Err(DataFusionError::Execution(format!("{} takes 2 arguments", self.name)));
        };
        let n = args.number_rows;
        match (hay, needle) {
            (ColumnarValue::Scalar(h), ColumnarValue::Scalar(nd)) => {
                let needle = Needle::new(&scalar_text(nd)?, self.case_sensitive);
                let h = scalar_text(h)?;
                bool_result(n, true, |_| Ok(needle.test(self.op, &h)))
            }
            (ColumnarValue::Array(h), ColumnarValue::Scalar(nd)) => {
                let needle = Needle::new(&scalar_text(nd)?, self.case_sensitive);
                let hs = StrArray::new(h.as_ref())?;
                bool_result(n, false, |i| Ok(needle.test(self.op, hs.get(i))))
            }
            (h, nd) => {
                let h = h.to_array(n)?;
                let nd = nd.to_array(n)?;
                let hs = StrArray::new(h.as_ref())?;
                let ns = StrArray::new(nd.as_ref())?;
                bool_result(n, false, |i| {
                    Ok(Needle::new(ns.get(i), self.case_sensitive).test(self.op, hs.get(i)))
                })
            }
        }
    }
}

/// Which needles a list argument contributes: a string, or each element of a dynamic array.
fn push_needles(v: &Val, case_sensitive: bool, out: &mut Vec<Needle>) {
    match v {
        Val::Dyn(Json::Array(items)) => {
            for it in items {
                push_needles(&crate::val::json_to_val(it), case_sensitive, out)
            }
        }
        Val::Null | Val::Dyn(Json::Null) => {}
        other => out.push(Needle::new(&other.to_kstring(), case_sensitive)),
    }
}

/// `has_any`/`has_all` (and `in~`/`in` over strings, with `StrOp::Equals`) against a list
/// of needles: `kql_has_any(hay, n1, n2, …)`, where each needle may be a dynamic array.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct MultiNeedleUdf {
    name: String,
    op: StrOp,
    all: bool,
    case_sensitive: bool,
    signature: Signature,
}

impl MultiNeedleUdf {
    fn new(name: &str, op: StrOp, all: bool, case_sensitive: bool) -> Self {
        MultiNeedleUdf {
            name: name.to_string(),
            op,
            all,
            case_sensitive,
            signature: any_signature(),
        }
    }
}

impl ScalarUDFImpl for MultiNeedleUdf {
    fn name(&self) -> &str {
        &self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let Some((hay, lists)) = args.args.split_first() else {
            return Err(DataFusionError::Execution(format!("{} needs arguments", self.name)));
        };
        let const_lists = lists.iter().all(|l| matches!(l, ColumnarValue::Scalar(_)));
        let test = |needles: &[Needle], h: &str| {
            if self.all {
                needles.iter().all(|nd| nd.test(self.op, h))
            } else {
                needles.iter().any(|nd| nd.test(self.op, h))
            }
        };
        if const_lists {
            let mut needles = Vec::new();
            for l in lists {
                if let ColumnarValue::Scalar(s) = l {
                    push_needles(&crate::val::scalar_val(s)?, self.case_sensitive, &mut needles);
                }
            }
            // `has_all` of nothing is vacuously true in logic, but Kusto requires a
            // non-empty list; an empty runtime list matches nothing.
            if needles.is_empty() {
                return bool_result(n, matches!(hay, ColumnarValue::Scalar(_)), |_| Ok(false));
            }
            return match hay {
                ColumnarValue::Scalar(h) => {
                    let h = scalar_text(h)?;
                    bool_result(n, true, |_| Ok(test(&needles, &h)))
                }
                ColumnarValue::Array(h) => {
                    let hs = StrArray::new(h.as_ref())?;
                    bool_result(n, false, |i| Ok(test(&needles, hs.get(i))))
                }
            };
        }
        let h = hay.to_array(n)?;
        let hs = StrArray::new(h.as_ref())?;
        let arrays: Vec<ArrayRef> = lists.iter().map(|l| l.to_array(n)).collect::<Result<_>>()?;
        bool_result(n, false, |i| {
            let mut needles = Vec::new();
            for a in &arrays {
                push_needles(&val_at(a.as_ref(), i)?, self.case_sensitive, &mut needles);
            }
            Ok(!needles.is_empty() && test(&needles, hs.get(i)))
        })
    }
}

/// Reads a dynamic cell of any binary layout (for kernels that walk JSON).
pub fn dynamic_at(arr: &dyn Array, i: usize) -> Option<Json> {
    if arr.is_null(i) {
        return None;
    }
    Some(match arr.data_type() {
        DataType::Binary => parse_dynamic(arr.as_binary::<i32>().value(i)),
        DataType::LargeBinary => parse_dynamic(arr.as_binary::<i64>().value(i)),
        DataType::BinaryView => parse_dynamic(arr.as_binary_view().value(i)),
        _ => return None,
    })
}

/// Every kernel UDF, for the registry.
pub fn kernel_udfs() -> Vec<ScalarUDF> {
    let mut out = Vec::new();
    for op in [
        StrOp::Has,
        StrOp::HasPrefix,
        StrOp::HasSuffix,
        StrOp::Contains,
        StrOp::StartsWith,
        StrOp::EndsWith,
        StrOp::Equals,
    ] {
        for cs in [false, true] {
            out.push(ScalarUDF::new_from_impl(StrPredUdf::new(op, cs)));
        }
    }
    out.push(ScalarUDF::new_from_impl(MultiNeedleUdf::new(
        HAS_ANY,
        StrOp::Has,
        false,
        false,
    )));
    out.push(ScalarUDF::new_from_impl(MultiNeedleUdf::new(
        HAS_ALL,
        StrOp::Has,
        true,
        false,
    )));
    out.push(ScalarUDF::new_from_impl(MultiNeedleUdf::new(
        IN_CI,
        StrOp::Equals,
        false,
        false,
    )));
    out.push(ScalarUDF::new_from_impl(MultiNeedleUdf::new(
        IN_CS,
        StrOp::Equals,
        false,
        true,
    )));
    out.extend(crate::ops::udfs());
    out
}

pub const HAS_ANY: &str = "kql_has_any";
pub const HAS_ALL: &str = "kql_has_all";
/// `x in~ (…)` over strings (also with dynamic arrays in the list).
pub const IN_CI: &str = "kql_in_ci";
/// `x in (…)` over strings when the list holds dynamic arrays.
pub const IN_CS: &str = "kql_in_cs";
