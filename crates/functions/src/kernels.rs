//! Vectorised kernels for the string operators that filters spend their time in (`has`,
//! `contains`, `startswith`, `=~`, `has_any`, `in~`…). They read any string layout
//! without copying, prepare a constant needle once per batch, and return non-null
//! booleans (Kusto strings are never null).

use crate::terms::{MultiMatcher, Needle, StrOp};
use crate::udf::{StrArray, any_signature};
use crate::val::{Val, parse_dynamic, val_at};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray};
use datafusion::arrow::buffer::BooleanBuffer;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::{ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature};
use serde_json::Value as Json;
use std::sync::{Arc, Mutex};

/// `haystack <op> needle` with or without case: `kql_has`, `kql_has_cs`, `kql_contains`…
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct StrPredUdf {
    name: String,
    op: StrOp,
    case_sensitive: bool,
    signature: Signature,
    /// The matcher of the last constant needle (a filter's needle is the same in every
    /// batch).
    last: LastBuilt<MultiMatcher>,
}

/// The values built from a UDF's constant arguments (a matcher per needle list), reused
/// while those arguments come back (building an automaton for every 8192-row batch would
/// cost more than searching it). One UDF instance serves every call in a session: a hunt's
/// shared scan evaluates the `has_any` of each of its rules on every batch, and rules run
/// side by side, so the cache keeps the most recently used [`BUILT_KEEP`] values, not only
/// the last. Not part of the UDF's identity.
struct LastBuilt<T>(Mutex<BuiltCache<T>>);

/// How many built values a UDF keeps (a pack's rules over one table, with room to spare).
const BUILT_KEEP: usize = 256;

struct BuiltCache<T> {
    /// Arguments → the value and when it was last used.
    entries: datafusion::common::HashMap<Vec<ScalarValue>, (Arc<T>, u64)>,
    clock: u64,
}

impl<T> Default for LastBuilt<T> {
    fn default() -> Self {
        LastBuilt(Mutex::new(BuiltCache {
            entries: datafusion::common::HashMap::new(),
            clock: 0,
        }))
    }
}

impl<T> LastBuilt<T> {
    fn get(&self, key: &[ScalarValue], build: impl FnOnce() -> Result<T>) -> Result<Arc<T>> {
        if let Ok(mut guard) = self.0.lock() {
            let cache = &mut *guard;
            cache.clock += 1;
            if let Some((v, used)) = cache.entries.get_mut(key) {
                *used = cache.clock;
                return Ok(v.clone());
            }
        }
        // Built outside the lock: other threads' batches go on meanwhile.
        let built = Arc::new(build()?);
        if let Ok(mut guard) = self.0.lock() {
            let cache = &mut *guard;
            if cache.entries.len() >= BUILT_KEEP
                && let Some(oldest) = cache
                    .entries
                    .iter()
                    .min_by_key(|(_, (_, used))| *used)
                    .map(|(k, _)| k.clone())
            {
                cache.entries.remove(&oldest);
            }
            cache.clock += 1;
            let clock = cache.clock;
            cache.entries.insert(key.to_vec(), (built.clone(), clock));
        }
        Ok(built)
    }

    /// How many values are kept.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.0.lock().map(|c| c.entries.len()).unwrap_or(0)
    }
}

impl<T> std::fmt::Debug for LastBuilt<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LastBuilt")
    }
}
impl<T> PartialEq for LastBuilt<T> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl<T> Eq for LastBuilt<T> {}
impl<T> std::hash::Hash for LastBuilt<T> {
    fn hash<H: std::hash::Hasher>(&self, _: &mut H) {}
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

/// Whether the UDF `udf_name` also takes its haystack (first argument) as a dictionary
/// of strings when every other argument is a constant: the string predicates, the
/// multi-needle ones and `kql_multi_match`, whose constant needles run through a
/// [`MultiMatcher`], which answers a dictionary once per distinct value. A scan may then
/// hand them a dictionary-encoded column as it is instead of decoding every row.
pub fn takes_dictionary_haystack(udf_name: &str) -> bool {
    udf_name == MULTI_MATCH || str_pred_of(udf_name).is_some() || multi_needle_of(udf_name).is_some()
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
/// [`MultiMatcher`] of one test per needle.
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
            last: LastBuilt::default(),
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

fn bool_result(
    number_rows: usize,
    all_scalar: bool,
    mut f: impl FnMut(usize) -> Result<bool>,
) -> Result<ColumnarValue> {
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
                let matcher = self.last.get(std::slice::from_ref(nd), || {
                    Ok(MultiMatcher::new(vec![(
                        self.op,
                        scalar_text(nd)?,
                        self.case_sensitive,
                    )]))
                })?;
                Ok(ColumnarValue::Array(Arc::new(matcher.any_match(h.as_ref())?)))
            }
            (h, nd) => {
                let h = h.to_array(n)?;
                let nd = nd.to_array(n)?;
                let hs = StrArray::new(h.as_ref())?;
                let ns = StrArray::new(nd.as_ref())?;
                // A needle per row (`X has Y` of two columns, often after a join with a
                // small table): each distinct needle is prepared once per batch.
                let mut prepared = NeedleCache::new(self.case_sensitive);
                bool_result(n, false, |i| Ok(prepared.get(ns.get(i)).test(self.op, hs.get(i))))
            }
        }
    }
}

/// Needles prepared for the texts seen so far (up to [`NeedleCache::MAX`] of them; past
/// that, a needle is prepared for every row that brings a new one).
struct NeedleCache<'a> {
    case_sensitive: bool,
    known: datafusion::common::HashMap<&'a str, Needle>,
    spare: Option<Needle>,
}

impl<'a> NeedleCache<'a> {
    const MAX: usize = 4096;

    fn new(case_sensitive: bool) -> Self {
        NeedleCache {
            case_sensitive,
            known: datafusion::common::HashMap::new(),
            spare: None,
        }
    }

    fn get(&mut self, text: &'a str) -> &Needle {
        if self.known.len() < Self::MAX {
            let cs = self.case_sensitive;
            return self.known.entry(text).or_insert_with(|| Needle::new(text, cs));
        }
        match self.known.get(text) {
            Some(n) => n,
            None => self.spare.insert(Needle::new(text, self.case_sensitive)),
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
    last: LastBuilt<Prepared>,
}

/// Constant needle lists, prepared: one matcher for any, one per needle for all.
enum Prepared {
    Nothing,
    Any(Box<MultiMatcher>),
    All(Vec<MultiMatcher>),
}

impl Prepared {
    fn new(op: StrOp, all: bool, case_sensitive: bool, needles: Vec<String>) -> Prepared {
        if needles.is_empty() {
            Prepared::Nothing
        } else if all {
            Prepared::All(
                needles
                    .into_iter()
                    .map(|n| MultiMatcher::new(vec![(op, n, case_sensitive)]))
                    .collect(),
            )
        } else {
            Prepared::Any(Box::new(MultiMatcher::new(
                needles.into_iter().map(|n| (op, n, case_sensitive)).collect(),
            )))
        }
    }

    fn test_row(&self, h: &str) -> bool {
        match self {
            Prepared::Nothing => false,
            Prepared::Any(m) => m.test_row(h),
            Prepared::All(ms) => ms.iter().all(|m| m.test_row(h)),
        }
    }

    fn eval(&self, hay: &dyn Array) -> Result<BooleanArray> {
        match self {
            Prepared::Nothing => {
                match hay.data_type() {
                    DataType::Dictionary(..) => StrArray::new(hay.as_any_dictionary().values().as_ref())?,
                    _ => StrArray::new(hay)?,
                };
                Ok(BooleanArray::new(BooleanBuffer::new_unset(hay.len()), None))
            }
            Prepared::Any(m) => m.any_match(hay),
            Prepared::All(ms) => {
                let mut acc = BooleanBuffer::new_set(hay.len());
                for m in ms {
                    acc = &acc & m.any_match(hay)?.values();
                }
                Ok(BooleanArray::new(acc, None))
            }
        }
    }
}

impl MultiNeedleUdf {
    fn new(name: &str, op: StrOp, all: bool, case_sensitive: bool) -> Self {
        MultiNeedleUdf {
            name: name.to_string(),
            op,
            all,
            case_sensitive,
            signature: any_signature(),
            last: LastBuilt::default(),
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

    /// Constant lists with no needles (`SHA1 in (T | where … | distinct SHA1)` where the
    /// subquery found nothing) match no row: the call is `false`, and a filter on it
    /// reads nothing (the optimizer drops its scan).
    fn simplify(&self, args: Vec<Expr>, _info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        let lists: Option<Vec<ScalarValue>> = args
            .iter()
            .skip(1)
            .map(|a| match a {
                Expr::Literal(s, _) => Some(s.clone()),
                _ => None,
            })
            .collect();
        match lists {
            Some(lists) if !lists.is_empty() && multi_needle_texts(&lists)?.is_empty() => Ok(
                ExprSimplifyResult::Simplified(Expr::Literal(ScalarValue::Boolean(Some(false)), None)),
            ),
            _ => Ok(ExprSimplifyResult::Original(args)),
        }
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
            let scalars: Vec<ScalarValue> = lists
                .iter()
                .filter_map(|l| match l {
                    ColumnarValue::Scalar(s) => Some(s.clone()),
                    ColumnarValue::Array(_) => None,
                })
                .collect();
            // `has_all` of nothing is vacuously true in logic, but Kusto requires a
            // non-empty list; an empty runtime list matches nothing (`Prepared::Nothing`).
            let prepared = self.last.get(&scalars, || {
                Ok(Prepared::new(
                    self.op,
                    self.all,
                    self.case_sensitive,
                    multi_needle_texts(&scalars)?,
                ))
            })?;
            return match hay {
                ColumnarValue::Scalar(h) => {
                    let h = scalar_text(h)?;
                    bool_result(n, true, |_| Ok(prepared.test_row(&h)))
                }
                ColumnarValue::Array(h) => Ok(ColumnarValue::Array(Arc::new(prepared.eval(h.as_ref())?))),
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

/// The tests of a [`multi_match_udf`] UDF; `None` for any other UDF.
pub fn multi_match_tests(udf: &ScalarUDF) -> Option<&[(StrOp, String, bool)]> {
    udf.inner().downcast_ref::<MultiMatchUdf>().map(|m| m.tests.as_slice())
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

/// The kernel UDF named `name` (`kql_has`, `kql_has_any`…), if there is one.
pub fn kernel_udf(name: &str) -> Option<ScalarUDF> {
    kernel_udfs().into_iter().find(|u| u.name() == name)
}

pub const HAS_ANY: &str = "kql_has_any";
pub const HAS_ALL: &str = "kql_has_all";
/// `x in~ (…)` over strings (also with dynamic arrays in the list).
pub const IN_CI: &str = "kql_in_ci";
/// `x in (…)` over strings when the list holds dynamic arrays.
pub const IN_CS: &str = "kql_in_cs";

#[cfg(test)]
mod tests;
