//! Many string tests over one column in one pass, for fused rule execution.

use super::{Needle, StrOp};
use crate::udf::StrArray;
use datafusion::arrow::array::{Array, BooleanArray};
use datafusion::common::Result;

/// Many `(op, needle, case_sensitive)` tests over one string column, evaluated in one pass.
///
/// A row matches when any test is true of it, with exactly the semantics of the `kql_*`
/// predicate UDFs ([`Needle::test`]). Null rows read as the empty string, as they do for
/// those UDFs (Kusto strings are never null), so a null row is false unless some test
/// matches `""` (an empty needle, or `== ""`): the fused filter then agrees row for row
/// with the rules' own filters.
#[derive(Clone, Debug)]
pub struct MultiMatcher {
    tests: Vec<(StrOp, Needle)>,
}

impl MultiMatcher {
    pub fn new(tests: Vec<(StrOp, String, bool)>) -> MultiMatcher {
        MultiMatcher {
            tests: tests
                .into_iter()
                .map(|(op, needle, cs)| (op, Needle::new(&needle, cs)))
                .collect(),
        }
    }

    /// Per row: whether any test matches. Errors on arrays that are not strings (`Utf8`,
    /// `LargeUtf8`, `Utf8View`).
    pub fn any_match(&self, array: &dyn Array) -> Result<BooleanArray> {
        let strings = StrArray::new(array)?;
        Ok((0..array.len())
            .map(|i| {
                let h = strings.get(i);
                Some(self.tests.iter().any(|(op, n)| n.test(*op, h)))
            })
            .collect())
    }
}
