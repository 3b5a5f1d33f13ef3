//! Vectorised kernels for the string operators that filters spend their time in (`has`,
//! `contains`, `startswith`, `=~`, `has_any`, `in~`…). They read any string layout
//! without copying, prepare a constant needle once per batch, and return non-null
//! booleans (Kusto strings are never null).

use crate::terms::{MultiMatcher, Needle, StrOp};
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

/// The `(op, case_sensitive)` of a string-predicate UDF name such as `"kql_has_cs"`
/// (`kql_equals` is `=~`, `kql_equals_cs` is `==` over strings), if it is one. The UDF
/// takes `(haystack, needle)` and is exactly [`Needle::test`] with null haystacks read
/// as `""`.
pub fn str_pred_of(udf_name: &str) -> Option<(StrOp, bool)> {
    StrOp::ALL
        .into_iter()
        .flat_map(|op| [(op, false), (op, true)])
        .find(|&(op, cs)| StrPredUdf::udf_name(op, cs) == udf_name)
}

/// What a multi-needle UDF (`has_any`, `has_all`, `in~`, `in` with dynamic lists) tests.
///
/// A call `name(haystack, list1, list2, …)` is true of a row when the haystack passes
/// `op` against any needle (`all`: every needle) of the lists, each list argument being
/// a string or a dynamic array of values ([`multi_needle_texts`] reads constant lists).
/// An empty list of needles matches no row, for `has_all` too.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MultiNeedleKind {
    /// `StrOp::Has` for `has_any`/`has_all`, `StrOp::Equals` for `in~`/`in`.
    pub op: StrOp,
    pub case_sensitive: bool,
    /// `has_all`: every needle must pass; otherwise any.
    pub all: bool,
}

/// The kind of a multi-needle UDF by name (`kql_has_any`, `kql_has_all`, `kql_in_ci`,
/// `kql_in_cs`), if it is one. With constant lists, `has_any`/`in~` is the same as a
/// [`MultiMatcher`](crate::terms::MultiMatcher) of one test per needle.
pub fn multi_needle_of(udf_name: &str) -> Option<MultiNeedleKind> {
    let (op, case_sensitive, all) = match udf_name {
        HAS_ANY => (StrOp::Has, false, false),
        HAS_ALL => (StrOp::Has, false, true),
        IN_CI => (StrOp::Equals, false, false),
        IN_CS => (StrOp::Equals, true, false),
        _ => return None,
    };
    Some(MultiNeedleKind {
        op,
        case_sensitive,
        all,
    })
}

/// The needles of a multi-needle call's constant list arguments (everything after the
/// haystack), as the UDF reads them: strings as they are, other scalars as their KQL
/// text, dynamic arrays element by element, nulls skipped.
pub fn multi_needle_texts(lists: &[ScalarValue]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for l in lists {
        push_needle_texts(&crate::val::scalar_val(l)?, &mut out);
    }
    Ok(out)
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

/// Which needles a list argument contributes: a string, or each element of a dynamic array
/// (nulls contribute nothing).
fn push_needle_texts(v: &Val, out: &mut Vec<String>) {
    match v {
        Val::Dyn(Json::Array(items)) => {
            for it in items {
                push_needle_texts(&crate::val::json_to_val(it), out)
            }
        }
        Val::Null | Val::Dyn(Json::Null) => {}
        other => out.push(other.to_kstring()),
    }
}

fn push_needles(v: &Val, case_sensitive: bool, out: &mut Vec<Needle>) {
    let mut texts = Vec::new();
    push_needle_texts(v, &mut texts);
    out.extend(texts.iter().map(|t| Needle::new(t, case_sensitive)));
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

/// `kql_multi_match(haystack)`: true where any of a fixed set of tests matches (the
/// fused filter of several rules over one column). Plans compare by the tests.
#[derive(Debug)]
struct MultiMatchUdf {
    tests: Vec<(StrOp, String, bool)>,
    matcher: MultiMatcher,
    signature: Signature,
}

impl PartialEq for MultiMatchUdf {
    fn eq(&self, other: &Self) -> bool {
        self.tests == other.tests
    }
}
impl Eq for MultiMatchUdf {}
impl std::hash::Hash for MultiMatchUdf {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.tests.hash(state)
    }
}

/// The name of [`multi_match_udf`]'s UDFs.
pub const MULTI_MATCH: &str = "kql_multi_match";

/// A `ScalarUDF` of one string argument that is true where any of `tests` (`(op,
/// needle, case_sensitive)`) matches, row for row the OR of the `kql_*` predicates; see
/// [`MultiMatcher`]. Named `kql_multi_match`; two such UDFs are equal when their tests
/// are, so plans holding them compare properly. It is not in the registry (each one is
/// built for its tests), so plans holding it do not serialize by name.
pub fn multi_match_udf(tests: Vec<(StrOp, String, bool)>) -> ScalarUDF {
    ScalarUDF::new_from_impl(MultiMatchUdf {
        matcher: MultiMatcher::new(tests.clone()),
        tests,
        signature: any_signature(),
    })
}

impl ScalarUDFImpl for MultiMatchUdf {
    fn name(&self) -> &str {
        MULTI_MATCH
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [hay] = args.args.as_slice() else {
            return Err(DataFusionError::Execution(format!("{MULTI_MATCH} takes 1 argument")));
        };
        match hay {
            ColumnarValue::Array(a) => Ok(ColumnarValue::Array(Arc::new(self.matcher.any_match(a.as_ref())?))),
            ColumnarValue::Scalar(s) => {
                let a = s.to_array()?;
                let r = self.matcher.any_match(a.as_ref())?;
                Ok(ColumnarValue::Scalar(ScalarValue::Boolean(Some(
                    r.len() == 1 && r.value(0),
                ))))
            }
        }
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
    for op in StrOp::ALL {
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

#[cfg(test)]
mod tests;
