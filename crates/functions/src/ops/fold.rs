//! `h == 'a' or h endswith '.a' or h == 'b' or h endswith '.b' …`: the operands of an `or`
//! that test one string value against constants become one `kql_multi_match(h)` call.
//!
//! Hunting rules spell a list of domains or file names this way, dozens of tests long, and
//! often over a computed value (`RemoteHost = tolower(extract(…, RemoteUrl))`). Left as it
//! is, every test is a node of its own: the value is computed once per test when the scan
//! evaluates the filter (a pushed-down filter is not de-duplicated), and the Parquet
//! reader rewrites and simplifies the whole tree again for every file it opens. One call
//! computes the value once and runs all its tests in one pass ([`crate::MultiMatcher`]).
//!
//! The call means what the `or` meant, row for row, nulls included: the `kql_*` string
//! predicates already read a null as `""`, as `kql_multi_match` does; `h == 'a'` is
//! lowered as `h IS NOT NULL AND h = 'a'`, false for a null `h`, which is what the matcher
//! answers for a non-empty needle (an empty one, `h == ''`, is true of a null in the
//! matcher and false in `==`, so it is left as it is).
//!
//! The negated tests of an `and` fold the same way, into `not(kql_multi_match(h))`:
//! `h != 'a' and h !startswith 'b'`. `h != 'a'` is lowered as `h IS NULL OR h <> 'a'`, true
//! for a null, as `not` of the matcher's false is; `!startswith` and the like are `not`
//! of a `kql_*` predicate.

use crate::kernels::{multi_match_udf, str_pred_of};
use crate::terms::StrOp;
use datafusion::common::{HashMap, ScalarValue};
use datafusion::logical_expr::{BinaryExpr, Expr, Operator};

/// A string test `(op, needle, case_sensitive)`.
type Test = (StrOp, String, bool);

/// The test `e` makes of a string value against a constant, and that value.
fn string_test(e: &Expr) -> Option<(&Expr, Test)> {
    match e {
        // `h == 'a'`: `h IS NOT NULL AND h = 'a'` (see `compare::lower_compare`).
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::And,
            right,
        }) => {
            let (Expr::IsNotNull(checked), Expr::BinaryExpr(eq)) = (left.as_ref(), right.as_ref()) else {
                return None;
            };
            let needle = string_literal(&eq.right)?;
            (eq.op == Operator::Eq && eq.left == *checked && !needle.is_empty())
                .then(|| (eq.left.as_ref(), (StrOp::Equals, needle, true)))
        }
        Expr::ScalarFunction(call) => {
            let (op, case_sensitive) = str_pred_of(call.name())?;
            let [haystack, needle] = call.args.as_slice() else {
                return None;
            };
            Some((haystack, (op, string_literal(needle)?, case_sensitive)))
        }
        _ => None,
    }
}

/// The test whose negation `e` is, of a string value against a constant, and that value.
fn negated_string_test(e: &Expr) -> Option<(&Expr, Test)> {
    match e {
        // `h != 'a'`: `h IS NULL OR h <> 'a'` (see `compare::lower_compare`).
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Or,
            right,
        }) => {
            let (Expr::IsNull(checked), Expr::BinaryExpr(ne)) = (left.as_ref(), right.as_ref()) else {
                return None;
            };
            let needle = string_literal(&ne.right)?;
            (ne.op == Operator::NotEq && ne.left == *checked && !needle.is_empty())
                .then(|| (ne.left.as_ref(), (StrOp::Equals, needle, true)))
        }
        Expr::Not(inner) if matches!(inner.as_ref(), Expr::ScalarFunction(_)) => string_test(inner),
        _ => None,
    }
}

fn string_literal(e: &Expr) -> Option<String> {
    match e {
        Expr::Literal(
            ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s)),
            _,
        ) => Some(s.clone()),
        _ => None,
    }
}

/// The operands of an `or`, with those that test one value against constants (two or more
/// of them) replaced by one `kql_multi_match` of the value, where the first of them was.
/// The others keep their places. Nothing to fold: `operands` as they were.
pub fn fold_string_tests(operands: Vec<Expr>) -> Vec<Expr> {
    fold(operands, string_test, |call| call)
}

/// The operands of an `and`, with those that negate tests of one value against constants
/// (two or more of them) replaced by `not(kql_multi_match(value))`, as
/// [`fold_string_tests`] does for an `or`.
pub fn fold_negated_string_tests(operands: Vec<Expr>) -> Vec<Expr> {
    fold(operands, negated_string_test, |call| Expr::Not(Box::new(call)))
}

/// `operands` with the tests `recognize` finds grouped by value, each group of two or more
/// made one `wrap(kql_multi_match(value))` where its first member was.
fn fold(
    operands: Vec<Expr>,
    recognize: impl Fn(&Expr) -> Option<(&Expr, Test)>,
    wrap: impl Fn(Expr) -> Expr,
) -> Vec<Expr> {
    // Each tested value, in order of first appearance, with its tests and operands.
    let mut groups: Vec<(&Expr, Vec<Test>, Vec<usize>)> = Vec::new();
    let mut by_value: HashMap<&Expr, usize> = HashMap::new();
    for (i, e) in operands.iter().enumerate() {
        if let Some((value, test)) = recognize(e) {
            let g = *by_value.entry(value).or_insert_with(|| {
                groups.push((value, Vec::new(), Vec::new()));
                groups.len() - 1
            });
            let (_, tests, members) = &mut groups[g];
            if !tests.contains(&test) {
                tests.push(test);
            }
            members.push(i);
        }
    }
    let mut replaced: HashMap<usize, Option<Expr>> = HashMap::new();
    for (value, tests, members) in groups.into_iter().filter(|(_, _, m)| m.len() >= 2) {
        let call = wrap(multi_match_udf(tests).call(vec![value.clone()]));
        for (k, &i) in members.iter().enumerate() {
            replaced.insert(i, (k == 0).then(|| call.clone()));
        }
    }
    drop(by_value);
    if replaced.is_empty() {
        return operands;
    }
    operands
        .into_iter()
        .enumerate()
        .filter_map(|(i, e)| match replaced.remove(&i) {
            Some(folded) => folded,
            None => Some(e),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::TypedExpr;
    use crate::kernels::multi_match_tests;
    use crate::lit::string;
    use crate::testkit::{batch, column, eval_on};
    use datafusion::arrow::array::{ArrayRef, StringArray};
    use datafusion::logical_expr::{and, or};
    use schema::KqlType;
    use std::sync::Arc;

    /// `h <op> 'needle'` as the planner lowers it.
    fn test(h: &str, op: &str, needle: &str) -> Expr {
        crate::lower_binary(op, column(h, KqlType::String), string(needle))
            .unwrap_or_else(|e| panic!("{op}: {e}"))
            .expr
    }

    fn any(operands: Vec<Expr>) -> TypedExpr {
        let e = operands.into_iter().reduce(or).expect("operands");
        TypedExpr::new(e, KqlType::Bool)
    }

    #[test]
    fn tests_of_one_value_become_one_call_where_the_first_was() {
        let other = test("FileName", "==", "x");
        let folded = fold_string_tests(vec![
            other.clone(),
            test("RemoteHost", "==", "a.com"),
            test("RemoteHost", "endswith", ".a.com"),
            test("Other", "=~", "z"),
            test("RemoteHost", "==", "a.com"),
            test("RemoteHost", "has_cs", "b"),
        ]);
        assert_eq!(folded.len(), 3, "{folded:?}");
        assert_eq!(folded[0], other);
        let Expr::ScalarFunction(call) = &folded[1] else {
            panic!("{:?}", folded[1])
        };
        assert_eq!(call.args, vec![column("RemoteHost", KqlType::String).expr]);
        let expected = [
            (StrOp::Equals, "a.com".to_string(), true),
            (StrOp::EndsWith, ".a.com".to_string(), false),
            (StrOp::Has, "b".to_string(), true),
        ];
        assert_eq!(multi_match_tests(&call.func), Some(&expected[..]));
        assert_eq!(
            folded[2],
            test("Other", "=~", "z"),
            "a value tested once is left as it is"
        );
    }

    #[test]
    fn what_is_not_a_test_against_a_constant_is_left_as_it_is() {
        let h = || column("h", KqlType::String);
        let operands = vec![
            test("h", "==", ""),
            test("h", "==", ""),
            test("h", "!endswith", "x"),
            test("h", "!endswith", "y"),
            crate::lower_binary("==", h(), column("g", KqlType::String))
                .expect("==")
                .expr,
            crate::lower_binary("endswith", h(), column("g", KqlType::String))
                .expect("endswith")
                .expr,
            crate::lower_binary("<", h(), string("m")).expect("<").expr,
            crate::lower_binary("<", h(), string("n")).expect("<").expr,
        ];
        assert_eq!(fold_string_tests(operands.clone()), operands);
    }

    fn every(operands: Vec<Expr>) -> TypedExpr {
        let e = operands.into_iter().reduce(and).expect("operands");
        TypedExpr::new(e, KqlType::Bool)
    }

    /// Rows of awkward strings: case, an empty string, a null, non-ASCII.
    fn rows() -> datafusion::arrow::array::RecordBatch {
        let rows: ArrayRef = Arc::new(StringArray::from(vec![
            Some("a.com"),
            Some("x.A.COM"),
            Some(""),
            None,
            Some("b"),
            Some("ab c"),
            Some("A.com"),
            Some("ünï.a.com"),
        ]));
        batch(vec![("h", rows)])
    }

    /// Folds `or`s of the cases' tests (or `and`s of their negations) and checks that each
    /// folded into a call (`not` of one) that agrees with the original row for row.
    fn check_folds(negated: bool) {
        let cases: [&[(&str, &str)]; 4] = [
            &[("==", "a.com"), ("endswith", ".a.com")],
            &[("has", "b"), ("==", "a.com"), ("startswith_cs", "")],
            &[("=~", "A.COM"), ("contains_cs", "c"), ("==", "")],
            &[("hasprefix", "ÜN"), ("hassuffix_cs", "com")],
        ];
        let b = rows();
        for case in cases {
            let operands: Vec<Expr> = case
                .iter()
                .map(|&(op, needle)| match (negated, op) {
                    (false, _) => test("h", op, needle),
                    (true, "==") => test("h", "!=", needle),
                    (true, "=~") => test("h", "!~", needle),
                    (true, _) => test("h", &format!("!{op}"), needle),
                })
                .collect();
            let combine = |ops: Vec<Expr>| if negated { every(ops) } else { any(ops) };
            let original = combine(operands.clone());
            let folded = if negated {
                fold_negated_string_tests(operands)
            } else {
                fold_string_tests(operands)
            };
            let is_call = |e: &Expr| matches!(e, Expr::ScalarFunction(f) if f.name() == crate::kernels::MULTI_MATCH);
            assert!(
                folded.iter().any(|e| match e {
                    Expr::Not(inner) if negated => is_call(inner),
                    _ => !negated && is_call(e),
                }),
                "{folded:?}"
            );
            assert_eq!(
                eval_on(&combine(folded), &b),
                eval_on(&original, &b),
                "{}",
                original.expr
            );
        }
    }

    /// The folded `or` and the original agree row for row, nulls and empty strings
    /// included.
    #[test]
    fn the_call_means_what_the_or_meant() {
        check_folds(false);
    }

    /// The negated tests of an `and` fold into `not(kql_multi_match(…))`, meaning what the
    /// `and` meant row for row; `h != ''` and tests that are not negated are left alone.
    #[test]
    fn negated_tests_of_an_and_fold_into_not_of_one_call() {
        check_folds(true);
        let left = vec![
            test("h", "!=", ""),
            test("h", "!=", ""),
            test("h", "endswith", "x"),
            test("h", "endswith", "y"),
        ];
        assert_eq!(fold_negated_string_tests(left.clone()), left);
    }
}
