//! The keys of a shared scan: which string-term tests find the rows each rule may see, and
//! which of a rule's keys the scan tests, chosen over the rules together on a sample of
//! the scanned window (docs/hunt.md).

use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::buffer::BooleanBuffer;
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::logical_expr::expr::InList;
use datafusion::logical_expr::utils::{conjunction, split_conjunction};
use datafusion::logical_expr::{BinaryExpr, Expr, Operator};
use datafusion::physical_plan::execute_stream;
use datafusion::physical_plan::filter::FilterExec;
use functions::StrOp;
use futures::StreamExt;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// A string test `(op, needle, case_sensitive)` of `functions::MultiMatcher`.
pub(super) type Test = (StrOp, String, bool);

/// A way to find the rows a predicate may hold on: string-term tests on columns, at least
/// one of which holds whenever the predicate does. Empty: the predicate is never true.
pub(super) type Key = Vec<(String, Test)>;

/// The keys of `e`: one per conjunct that has one (any will do), combinations of both
/// sides' keys for an `or`. Empty when `e` has none (a row may match without any term).
pub(super) fn key_candidates(e: &Expr) -> Vec<Key> {
    match e {
        Expr::BinaryExpr(BinaryExpr { op: Operator::And, .. }) => {
            let mut out: Vec<Key> = Vec::new();
            for key in split_conjunction(e).into_iter().flat_map(key_candidates) {
                if key.is_empty() {
                    // A conjunct that is never true: the predicate needs no row.
                    return vec![key];
                }
                if !out.contains(&key) {
                    out.push(key);
                }
            }
            out
        }
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Or,
            right,
        }) => {
            // Both sides need a key; of many, the likeliest few of each, combined.
            let side = |e: &Expr| {
                let mut keys = key_candidates(e);
                keys.sort_by_key(|k| std::cmp::Reverse(needle_score(k)));
                keys.truncate(OR_SIDE_KEYS);
                keys
            };
            let (l, r) = (side(left), side(right));
            let mut out = Vec::new();
            for a in &l {
                for b in &r {
                    let mut key = a.clone();
                    key.extend(b.iter().cloned());
                    out.push(key);
                }
            }
            out
        }
        other => key_of_test(other).into_iter().collect(),
    }
}

/// Keys kept per side of an `or` (their combinations are the `or`'s keys).
const OR_SIDE_KEYS: usize = 3;

/// The key of a single string test of a column with constants.
fn key_of_test(e: &Expr) -> Option<Key> {
    match e {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Eq,
            right,
        }) => match (left.as_ref(), right.as_ref()) {
            (Expr::Column(c), Expr::Literal(v, _)) | (Expr::Literal(v, _), Expr::Column(c)) => {
                Some(vec![(c.name.clone(), (StrOp::Equals, string_literal(v)?, true))])
            }
            _ => None,
        },
        Expr::InList(InList {
            expr,
            list,
            negated: false,
        }) => {
            let Expr::Column(c) = expr.as_ref() else { return None };
            list.iter()
                .map(|v| match v {
                    Expr::Literal(v, _) => Some((c.name.clone(), (StrOp::Equals, string_literal(v)?, true))),
                    _ => None,
                })
                .collect()
        }
        Expr::ScalarFunction(f) => {
            let name = f.func.name();
            if let Some((op, case_sensitive)) = functions::str_pred_of(name) {
                match f.args.as_slice() {
                    [Expr::Column(c), Expr::Literal(v, _)] => {
                        Some(vec![(c.name.clone(), (op, string_literal(v)?, case_sensitive))])
                    }
                    _ => None,
                }
            } else if let Some(tests) = functions::multi_match_tests(&f.func) {
                // An `or` of tests of the column (see `functions::fold_string_tests`).
                let [Expr::Column(c)] = f.args.as_slice() else {
                    return None;
                };
                Some(tests.iter().map(|t| (c.name.clone(), t.clone())).collect())
            } else if let Some(multi) = functions::multi_needle_of(name) {
                let (Expr::Column(c), needles) = f.args.split_first()? else {
                    return None;
                };
                let lists: Vec<ScalarValue> = needles
                    .iter()
                    .map(|n| match n {
                        Expr::Literal(v, _) => Some(v.clone()),
                        _ => None,
                    })
                    .collect::<Option<_>>()?;
                let mut texts = functions::multi_needle_texts(&lists).ok()?;
                if texts.is_empty() && !multi.all {
                    // `in`/`has_any` over an empty list (a list computed while planning that
                    // came out empty) is never true: the rule needs no row of the table.
                    return Some(Vec::new());
                }
                if multi.all {
                    // Every needle must match: any one of them is implied.
                    texts.truncate(1);
                }
                let out: Vec<_> = texts
                    .into_iter()
                    .map(|t| (c.name.clone(), (multi.op, t, multi.case_sensitive)))
                    .collect();
                (!out.is_empty()).then_some(out)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// How selective a key looks from its needles alone: the length of its shortest needle
/// (`Product has 'Chrome Remote Desktop'` over `Company has 'Google LLC'`); a key that is
/// never true scores highest.
fn needle_score(key: &Key) -> usize {
    key.iter()
        .map(|(_, (_, needle, _))| needle.len())
        .min()
        .unwrap_or(usize::MAX)
}

/// The key of `e` that looks most selective from its needles (the first of equals).
#[cfg(test)]
pub(super) fn key_tests(e: &Expr) -> Option<Key> {
    let mut best: Option<Key> = None;
    for key in key_candidates(e) {
        if best.as_ref().is_none_or(|b| needle_score(&key) > needle_score(b)) {
            best = Some(key);
        }
    }
    best
}

/// Rows of the scanned window read to measure how many rows each key matches.
const SAMPLE_ROWS: usize = 16_384;

/// What keeping a row costs against testing one more column on every row: a kept row is
/// decoded in every column the rules read (a page decompressed for it in each) and goes
/// through every rule's filter. Measured on the RMM pack at 100 M rows: testing a column
/// of 22 M rows costs about 0.13 s, keeping 1 M more rows about 0.6 s.
const KEEP_COST: f64 = 100.0;

/// The columns the keys of `candidates` test.
pub(super) fn sample_columns(candidates: &[Vec<Key>]) -> BTreeSet<String> {
    candidates
        .iter()
        .flatten()
        .flatten()
        .map(|(column, _)| column.clone())
        .collect()
}

/// Whether some predicate has more than one key: otherwise each takes its only one (or
/// none), and a sample would measure nothing that changes the choice.
pub(super) fn any_choice(candidates: &[Vec<Key>]) -> bool {
    candidates.iter().any(|keys| keys.len() > 1)
}

/// Up to [`SAMPLE_ROWS`] rows of `columns` (schema indices) in the window of `filters`;
/// `None` when the window holds no row.
pub(super) async fn sample(
    provider: &dyn datafusion::catalog::TableProvider,
    state: &datafusion::execution::SessionState,
    columns: &[usize],
    filters: &[Expr],
) -> Result<Option<RecordBatch>, String> {
    let scan = provider
        .scan(state, Some(&columns.to_vec()), filters, Some(SAMPLE_ROWS))
        .await
        .map_err(|e| e.to_string())?;
    let schema = scan.schema();
    // The range filter may be inexact: apply it, so that the sample is of the window.
    let scan_schema = DFSchema::try_from(schema.as_ref().clone()).map_err(|e| e.to_string())?;
    let plan: Arc<dyn datafusion::physical_plan::ExecutionPlan> = match conjunction(filters.to_vec()) {
        Some(f) => {
            let predicate = state.create_physical_expr(f, &scan_schema).map_err(|e| e.to_string())?;
            Arc::new(FilterExec::try_new(predicate, scan).map_err(|e| e.to_string())?)
        }
        None => scan,
    };
    let mut stream = execute_stream(plan, state.task_ctx()).map_err(|e| e.to_string())?;
    let mut batches = Vec::new();
    let mut rows = 0;
    while rows < SAMPLE_ROWS
        && let Some(batch) = stream.next().await
    {
        let batch = batch.map_err(|e| e.to_string())?;
        rows += batch.num_rows();
        batches.push(batch);
    }
    if rows == 0 {
        return Ok(None);
    }
    let batch = datafusion::arrow::compute::concat_batches(&schema, &batches).map_err(|e| e.to_string())?;
    Ok(Some(batch.slice(0, rows.min(SAMPLE_ROWS))))
}

/// A sampled column as its distinct values (null read as `""` by the matchers, as
/// everywhere) and each row's index among them: a key is tested once per distinct value.
struct SampledColumn {
    values: ArrayRef,
    ids: Vec<u32>,
}

impl SampledColumn {
    fn new(column: &ArrayRef) -> Option<SampledColumn> {
        use datafusion::arrow::array::{AsArray, StringArray};
        let text = datafusion::arrow::compute::cast(column, &datafusion::arrow::datatypes::DataType::Utf8).ok()?;
        let text = text.as_string_opt::<i32>()?;
        let mut index: std::collections::HashMap<Option<&str>, u32> = std::collections::HashMap::new();
        let mut values: Vec<Option<&str>> = Vec::new();
        let ids = text
            .iter()
            .map(|v| {
                *index.entry(v).or_insert_with(|| {
                    values.push(v);
                    (values.len() - 1) as u32
                })
            })
            .collect();
        Some(SampledColumn {
            values: Arc::new(StringArray::from(values)),
            ids,
        })
    }
}

/// The sample rows a key matches (all of them when a column cannot be tested).
fn key_matches(key: &Key, columns: &BTreeMap<String, Option<SampledColumn>>, rows: usize) -> BooleanBuffer {
    let mut by_column: BTreeMap<&str, Vec<Test>> = BTreeMap::new();
    for (column, test) in key {
        by_column.entry(column).or_default().push(test.clone());
    }
    let mut acc = BooleanBuffer::new_unset(rows);
    for (column, tests) in by_column {
        let Some(Some(sampled)) = columns.get(column) else {
            return BooleanBuffer::new_set(rows);
        };
        let Ok(answers) = functions::MultiMatcher::new(tests).any_match(sampled.values.as_ref()) else {
            return BooleanBuffer::new_set(rows);
        };
        let matched = BooleanBuffer::collect_bool(rows, |i| {
            sampled.ids.get(i).is_some_and(|&id| answers.value(id as usize))
        });
        acc = &acc | &matched;
    }
    acc
}

/// One key per predicate (`None`: it has none, and any row may match it), chosen over the
/// predicates together. Each column a key tests is read and tested on every row of the
/// window, and every row a key matches is kept, so the choice weighs the columns tested
/// against the share of rows kept ([`KEEP_COST`]), measured on `sample`: it starts from
/// each predicate's most selective key and drops a column while the predicates keyed by it
/// can be keyed by the other columns for less than the column costs. Without a sample
/// (an empty window), each predicate takes the key whose needles look most selective.
pub(super) fn choose_keys(candidates: &[Vec<Key>], sample: Option<&RecordBatch>) -> Vec<Option<Key>> {
    let Some(sample) = sample.filter(|s| s.num_rows() > 0) else {
        return candidates
            .iter()
            .map(|keys| {
                let mut best: Option<&Key> = None;
                for k in keys {
                    if best.is_none_or(|b| needle_score(k) > needle_score(b)) {
                        best = Some(k);
                    }
                }
                best.cloned()
            })
            .collect();
    };
    let n = sample.num_rows();
    let rows = n as f64;
    let columns: BTreeMap<String, Option<SampledColumn>> = sample_columns(candidates)
        .into_iter()
        .map(|c| {
            let sampled = sample.column_by_name(&c).and_then(SampledColumn::new);
            (c, sampled)
        })
        .collect();
    let matches: Vec<Vec<BooleanBuffer>> = candidates
        .iter()
        .map(|keys| keys.iter().map(|k| key_matches(k, &columns, n)).collect())
        .collect();
    let columns_of = |k: &Key| k.iter().map(|(c, _)| c.clone()).collect::<BTreeSet<String>>();
    // Per predicate, its best key within `allowed` columns: fewest sample matches, then
    // the most selective-looking needles, then the first.
    let best_within = |i: usize, allowed: Option<&BTreeSet<String>>| -> Option<usize> {
        let mut best: Option<(usize, usize, usize)> = None;
        for (j, k) in candidates[i].iter().enumerate() {
            if allowed.is_some_and(|a| !columns_of(k).is_subset(a)) {
                continue;
            }
            let hits = matches[i][j].count_set_bits();
            let better = match best {
                None => true,
                Some((_, h, s)) => hits < h || (hits == h && needle_score(k) > s),
            };
            if better {
                best = Some((j, hits, needle_score(k)));
            }
        }
        best.map(|(j, _, _)| j)
    };
    let cost = |choice: &[Option<usize>]| -> f64 {
        let mut kept = BooleanBuffer::new_unset(sample.num_rows());
        let mut columns = BTreeSet::new();
        for (i, j) in choice.iter().enumerate() {
            if let Some(j) = *j {
                kept = &kept | &matches[i][j];
                columns.extend(columns_of(&candidates[i][j]));
            }
        }
        columns.len() as f64 + KEEP_COST * kept.count_set_bits() as f64 / rows
    };
    let mut choice: Vec<Option<usize>> = (0..candidates.len()).map(|i| best_within(i, None)).collect();
    loop {
        let used: BTreeSet<String> = choice
            .iter()
            .enumerate()
            .filter_map(|(i, j)| j.map(|j| columns_of(&candidates[i][j])))
            .flatten()
            .collect();
        let current = cost(&choice);
        let mut best: Option<(f64, Vec<Option<usize>>)> = None;
        for dropped in &used {
            let mut allowed = used.clone();
            allowed.remove(dropped);
            let Some(next) = (0..candidates.len())
                .map(|i| match choice[i] {
                    None => Some(None),
                    Some(_) => best_within(i, Some(&allowed)).map(Some),
                })
                .collect::<Option<Vec<_>>>()
            else {
                continue;
            };
            let c = cost(&next);
            if c < current && best.as_ref().is_none_or(|(b, _)| c < *b) {
                best = Some((c, next));
            }
        }
        match best {
            Some((_, next)) => choice = next,
            None => break,
        }
    }
    choice
        .iter()
        .enumerate()
        .map(|(i, j)| j.map(|j| candidates[i][j].clone()))
        .collect()
}

fn string_literal(v: &ScalarValue) -> Option<String> {
    match v {
        ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s)) => {
            Some(s.clone())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fused::term_filter;
    use crate::fused::tests::{col, has, heuristic_keys};

    /// The keys of an `or` combine a key of each side; a conjunct never true is the key.
    #[test]
    fn keys_of_or_combine_both_sides() {
        let e = has("Company", "Google LLC")
            .and(has("Product", "Chrome Remote Desktop"))
            .or(has("RemoteUrl", "remotedesktop.google.com"));
        let keys = key_candidates(&e);
        let columns: Vec<Vec<&str>> = keys
            .iter()
            .map(|k| k.iter().map(|(c, _)| c.as_str()).collect())
            .collect();
        assert_eq!(columns, [vec!["Product", "RemoteUrl"], vec!["Company", "RemoteUrl"]]);
    }

    /// An `or` of tests of one column, folded into one `kql_multi_match` by the planner,
    /// is keyed by all its tests; of a computed value, by none.
    #[test]
    fn a_folded_or_of_a_column_is_keyed_by_its_tests() {
        let tests = vec![
            (StrOp::Equals, "anydesk.exe".to_string(), false),
            (StrOp::EndsWith, ".anydesk.com".to_string(), false),
        ];
        let call = |arg: Expr| functions::multi_match_udf(tests.clone()).call(vec![arg]);
        let expected: Key = tests.iter().map(|t| ("FileName".to_string(), t.clone())).collect();
        assert_eq!(key_candidates(&call(col("FileName"))), vec![expected]);
        let computed = functions::lower_call(
            "tolower",
            vec![functions::Arg::positional(functions::TypedExpr::new(
                col("FileName"),
                schema::KqlType::String,
            ))],
            &functions::LowerCtx::new(0),
        )
        .expect("tolower")
        .expr;
        assert!(key_candidates(&call(computed)).is_empty());
    }

    /// A sample with `Company`, `Product` and `RemoteUrl` columns: `google` rows of
    /// `Google LLC` (of which `crd` are Chrome Remote Desktop), `teamviewer` rows of
    /// TeamViewer, the rest other software; 10,000 rows.
    fn sample_batch(google: usize, crd: usize, teamviewer: usize) -> RecordBatch {
        use datafusion::arrow::array::StringArray;
        let n = 10_000;
        let (mut company, mut product, mut url) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..n {
            let (c, p, u) = if i < crd {
                ("Google LLC", "Chrome Remote Desktop", "remotedesktop.google.com")
            } else if i < google {
                ("Google LLC", "Google Chrome", "www.google.com")
            } else if i < google + teamviewer {
                ("TeamViewer GmbH", "TeamViewer", "router1.teamviewer.com")
            } else {
                ("Contoso Ltd", "Contoso Agent", "telemetry.contoso.com")
            };
            company.push(c);
            product.push(p);
            url.push(u);
        }
        let array = |v: Vec<&str>| Arc::new(StringArray::from(v)) as ArrayRef;
        RecordBatch::try_from_iter([
            ("Company", array(company)),
            ("Product", array(product)),
            ("RemoteUrl", array(url)),
        ])
        .unwrap()
    }

    /// The columns the chosen keys test, per predicate.
    fn chosen(predicates: &[Expr], sample: &RecordBatch) -> Vec<Vec<String>> {
        let candidates: Vec<Vec<Key>> = predicates.iter().map(key_candidates).collect();
        choose_keys(&candidates, Some(sample))
            .into_iter()
            .map(|k| {
                k.unwrap_or_default()
                    .into_iter()
                    .map(|(c, _)| c)
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect()
            })
            .collect()
    }

    /// Keys are chosen over the predicates together: as few columns as the rows they keep
    /// allow, measured on the sample.
    #[test]
    fn keys_trade_columns_against_kept_rows() {
        let crd = has("Company", "Google LLC").and(has("Product", "Chrome Remote Desktop"));
        let teamviewer = has("Company", "TeamViewer");
        let both = has("Company", "TeamViewer").and(has("Product", "TeamViewer"));
        // Google LLC on 5 % of the rows: keying Chrome Remote Desktop by the company would
        // keep 50 times the rows; two columns are cheaper.
        let sample = sample_batch(500, 10, 10);
        assert_eq!(
            chosen(&[crd.clone(), teamviewer.clone()], &sample),
            [vec!["Product"], vec!["Company"]]
        );
        // On 0.5 %: one column is cheaper than the rows it adds.
        let sample = sample_batch(50, 10, 10);
        assert_eq!(
            chosen(&[crd.clone(), teamviewer.clone()], &sample),
            [vec!["Company"], vec!["Company"]]
        );
        // A predicate that can be keyed by either column follows the one another needs.
        let sample = sample_batch(500, 10, 10);
        assert_eq!(
            chosen(&[crd.clone(), both.clone()], &sample),
            [vec!["Product"], vec!["Product"]]
        );
        // Without a sample, each takes the key with the longest needles.
        let keys = heuristic_keys(&[crd, both]);
        let columns: Vec<&str> = keys.iter().map(|k| k.as_ref().unwrap()[0].0.as_str()).collect();
        assert_eq!(columns, ["Product", "Company"]);
    }

    /// A sample is read only when some predicate has keys to choose from.
    #[test]
    fn a_sample_is_needed_only_for_a_choice() {
        let one = |column: &str, needle: &str| key_candidates(&has(column, needle));
        assert!(!any_choice(&[one("Signer", "Action1"), one("Signer", "Kaseya")]));
        let two = key_candidates(&has("Company", "Google LLC").and(has("Product", "Chrome Remote Desktop")));
        assert!(any_choice(&[one("Signer", "Action1"), two]));
    }

    /// A predicate without a key stays without one; one never true needs no column.
    #[test]
    fn unkeyed_and_never_true_predicates_keep_their_keys() {
        use datafusion::prelude::lit;
        let empty = functions::kernels::kernel_udf(functions::kernels::IN_CS)
            .expect("kernel")
            .call(vec![
                col("Company"),
                engine::literal::dynamic(&serde_json::json!([])).expr,
            ]);
        let sample = sample_batch(500, 10, 10);
        let predicates = [
            col("Timestamp").gt(lit(1i64)),
            empty,
            has("Product", "Chrome Remote Desktop"),
        ];
        let candidates: Vec<Vec<Key>> = predicates.iter().map(key_candidates).collect();
        let keys = choose_keys(&candidates, Some(&sample));
        assert_eq!(keys[0], None);
        assert_eq!(keys[1], Some(Vec::new()));
        assert_eq!(keys[2].as_ref().map(|k| k[0].0.as_str()), Some("Product"));
        // Not every predicate has a key: no term pass.
        assert_eq!(term_filter(&keys), None);
    }
}
