//! The kernels agree with [`Needle::test`], the reference semantics, on random columns:
//! ASCII and non-ASCII text (with the characters whose lower case is ASCII), nulls, every
//! array layout, sliced arrays, empty needles and needles with punctuation at their ends.

use super::multi::KEEP_DICTIONARIES;
use super::{MultiMatcher, Needle, StrOp};
use datafusion::arrow::array::{Array, ArrayRef, DictionaryArray, LargeStringArray, StringArray, StringViewArray};
use datafusion::arrow::datatypes::{DataType, Int32Type};
use proptest::prelude::*;
use std::sync::Arc;

/// Text from a small alphabet, so that needles occur often: letters in both cases,
/// digits, separators, and non-ASCII letters (`İ` and the Kelvin sign lower-case to
/// ASCII; `ß`, `Ä`, `Σ` do not).
pub(crate) fn text(max: usize) -> impl Strategy<Value = String> {
    let ch = prop_oneof![
        6 => prop::sample::select(vec!['a', 'b', 'A', 'B', 'k', 'K', 'i', 'I']),
        3 => prop::sample::select(vec![' ', '.', '-', '_', '1']),
        1 => prop::sample::select(vec!['İ', '\u{212A}', 'ß', 'Ä', 'ä', 'Σ', 'ς', '\u{307}']),
    ];
    prop::collection::vec(ch, 0..=max).prop_map(|cs| cs.into_iter().collect())
}

pub(crate) fn op() -> impl Strategy<Value = StrOp> {
    prop::sample::select(StrOp::ALL.to_vec())
}

/// A column: rows (None is null), and the slice `(offset, len)` to test.
pub(crate) fn column() -> impl Strategy<Value = (Vec<Option<String>>, usize, usize)> {
    // Rows longer than 12 bytes live outside the views of a `Utf8View` array.
    prop::collection::vec(prop::option::weighted(0.9, text(16)), 0..40).prop_flat_map(|rows| {
        let n = rows.len();
        (Just(rows), 0..=n).prop_flat_map(|(rows, off)| {
            let n = rows.len();
            (Just(rows), Just(off), 0..=n - off)
        })
    })
}

/// The column in each layout, sliced: the three string layouts, and dictionaries of
/// them (null rows as null keys; the Parquet reader's layout is `Int32` keys over `Utf8`).
pub(crate) fn layouts(rows: &[Option<String>], off: usize, len: usize) -> Vec<ArrayRef> {
    let utf8: ArrayRef = Arc::new(StringArray::from(rows.to_vec()));
    let large: ArrayRef = Arc::new(LargeStringArray::from(rows.to_vec()));
    let view: ArrayRef = Arc::new(StringViewArray::from(rows.to_vec()));
    let dict: ArrayRef = Arc::new(
        rows.iter()
            .map(|r| r.as_deref())
            .collect::<DictionaryArray<Int32Type>>(),
    );
    let dict_large = datafusion::arrow::compute::cast(
        &large,
        &DataType::Dictionary(Box::new(DataType::UInt16), Box::new(DataType::LargeUtf8)),
    )
    .expect("a dictionary of large strings");
    [utf8, large, view, dict, dict_large]
        .into_iter()
        .map(|a| a.slice(off, len))
        .collect()
}

/// The reference: every test by [`Needle::test`], nulls read as "".
fn expected(tests: &[(StrOp, String, bool)], rows: &[Option<String>]) -> Vec<bool> {
    let needles: Vec<(StrOp, Needle)> = tests.iter().map(|(op, n, cs)| (*op, Needle::new(n, *cs))).collect();
    rows.iter()
        .map(|r| {
            let h = r.as_deref().unwrap_or("");
            needles.iter().any(|(op, n)| n.test(*op, h))
        })
        .collect()
}

fn got(m: &MultiMatcher, a: &dyn Array) -> Vec<bool> {
    let out = m.any_match(a).expect("string array");
    assert_eq!(out.null_count(), 0);
    assert_eq!(out.len(), a.len());
    out.values().iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn one_test_agrees_with_needle_test(
        (rows, off, len) in column(),
        op in op(),
        needle in text(5),
        cs in any::<bool>(),
    ) {
        let tests = vec![(op, needle, cs)];
        let want = expected(&tests, &rows[off..off + len]);
        let m = MultiMatcher::new(tests);
        for a in layouts(&rows, off, len) {
            prop_assert_eq!(got(&m, a.as_ref()), want.clone(), "{:?}", a.data_type());
        }
    }

    #[test]
    fn many_tests_agree_with_needle_test(
        (rows, off, len) in column(),
        tests in prop::collection::vec((op(), text(5), any::<bool>()), 1..8),
    ) {
        let want = expected(&tests, &rows[off..off + len]);
        let m = MultiMatcher::new(tests);
        for a in layouts(&rows, off, len) {
            prop_assert_eq!(got(&m, a.as_ref()), want.clone(), "{:?}", a.data_type());
        }
    }

    #[test]
    fn many_needles_of_one_operation(
        (rows, off, len) in column(),
        op in op(),
        cs in any::<bool>(),
        needles in prop::collection::vec(text(4), 1..30),
    ) {
        let tests: Vec<_> = needles.into_iter().map(|n| (op, n, cs)).collect();
        let want = expected(&tests, &rows[off..off + len]);
        let m = MultiMatcher::new(tests);
        for a in layouts(&rows, off, len) {
            prop_assert_eq!(got(&m, a.as_ref()), want.clone(), "{:?}", a.data_type());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20))]

    /// Enough needles for one automaton instead of Teddy groups.
    #[test]
    fn hundreds_of_needles(
        (rows, off, len) in column(),
        op in op(),
        cs in any::<bool>(),
        needles in prop::collection::vec(text(7), 200..260),
    ) {
        // No empty needle (one would match every row).
        let tests: Vec<_> = needles.into_iter().filter(|n| !n.is_empty()).map(|n| (op, n, cs)).collect();
        let m = MultiMatcher::new(tests.clone());
        prop_assert!(!m.matches_all);
        let want = expected(&tests, &rows[off..off + len]);
        for a in layouts(&rows, off, len) {
            prop_assert_eq!(got(&m, a.as_ref()), want.clone(), "{:?}", a.data_type());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Rows glued from the needles themselves (in other cases too) and separators, so that
    /// equalities, prefixes, suffixes and near-misses at row edges are frequent.
    #[test]
    fn rows_made_of_needles(
        tests in prop::collection::vec((op(), text(6), any::<bool>()), 1..6),
        picks in prop::collection::vec(
            prop::collection::vec((any::<prop::sample::Index>(), 0u8..4), 0..4),
            0..30,
        ),
        off in 0usize..3,
    ) {
        let pieces: Vec<String> = tests.iter().map(|t| t.1.clone()).collect();
        let rows: Vec<Option<String>> = picks
            .iter()
            .map(|row| {
                let mut r = String::new();
                for (i, how) in row {
                    let p = i.get(&pieces);
                    match how {
                        0 => r.push_str(p),
                        1 => r.push_str(&p.to_uppercase()),
                        2 => { r.push(' '); r.push_str(p) }
                        _ => { r.push_str(p); r.push('x') }
                    }
                }
                (!r.is_empty() || row.is_empty()).then_some(r)
            })
            .collect();
        let off = off.min(rows.len());
        let len = rows.len() - off;
        let want = expected(&tests, &rows[off..]);
        let m = MultiMatcher::new(tests);
        for a in layouts(&rows, off, len) {
            prop_assert_eq!(got(&m, a.as_ref()), want.clone(), "{:?}", a.data_type());
        }
    }
}

#[test]
fn rmm_signers_against_realistic_rows() {
    let rows: Vec<Option<String>> = [
        Some("Action1 Corporation"),
        Some("ACTION1 CORPORATION LTD"),
        Some("MyAction1 Corporation"),
        None,
        Some(""),
        Some("Nanosystems S.R.L."),
        Some("NANOSYSTEMS S.R.L. (Italy)"),
        Some("DWSNET OÜ"),
        Some("dwsnet oü"),
        Some("Krämer IT Solutions GmbH"),
        Some("KRÄMER IT SOLUTIONS GMBH"),
        Some("\u{212A}aseya"),
        Some("Microsoft Windows"),
        Some("Atera Networks Ltd."),
    ]
    .into_iter()
    .map(|r| r.map(str::to_string))
    .collect();
    let tests: Vec<(StrOp, String, bool)> = [
        "Action1 Corporation",
        "Nanosystems S.R.L.",
        "DWSNET OÜ",
        "Krämer IT Solutions GmbH",
        "Kaseya",
        "Atera Networks",
        "Atera",
    ]
    .into_iter()
    .map(|n| (StrOp::Has, n.to_string(), false))
    .collect();
    let want = expected(&tests, &rows);
    assert_eq!(
        want,
        [
            true, true, false, false, false, true, true, true, true, true, true, true, false, true
        ]
    );
    let m = MultiMatcher::new(tests);
    for a in layouts(&rows, 0, rows.len()) {
        assert_eq!(got(&m, a.as_ref()), want, "{:?}", a.data_type());
    }
    // Sliced inside the rows.
    for a in layouts(&rows, 5, 6) {
        assert_eq!(got(&m, a.as_ref()), want[5..11], "{:?}", a.data_type());
    }
}

/// Batches of one Parquet column chunk share its dictionary's values (new arrays over the
/// same buffers): the answers computed for the first batch serve the next ones, and a
/// dictionary with other values (even of the same length) is answered afresh.
#[test]
fn dictionary_answers_are_kept_for_the_same_values_only() {
    let values: ArrayRef = Arc::new(StringArray::from(vec!["Action1 Corporation", "Microsoft Windows", ""]));
    let keys = |k: Vec<Option<i32>>| datafusion::arrow::array::Int32Array::from(k);
    let batch = |k: Vec<Option<i32>>, v: &ArrayRef| -> ArrayRef {
        // A new values array over the same buffers, as the reader makes for each batch.
        let v = datafusion::arrow::array::make_array(v.to_data());
        Arc::new(DictionaryArray::<Int32Type>::try_new(keys(k), v).expect("valid keys"))
    };
    let m = MultiMatcher::new(vec![(StrOp::Has, "action1".to_string(), false)]);
    assert_eq!(
        got(&m, batch(vec![Some(0), Some(1), None], &values).as_ref()),
        [true, false, false]
    );
    assert_eq!(m.dictionaries.lock().unwrap().len(), 1);
    assert_eq!(
        got(&m, batch(vec![Some(1), Some(0), Some(0), Some(2)], &values).as_ref()),
        [false, true, true, false]
    );
    assert_eq!(
        m.dictionaries.lock().unwrap().len(),
        1,
        "the same values: answered from the cache"
    );
    let other: ArrayRef = Arc::new(StringArray::from(vec!["Microsoft Windows", "ACTION1 CORPORATION", "x"]));
    assert_eq!(got(&m, batch(vec![Some(0), Some(1)], &other).as_ref()), [false, true]);
    assert_eq!(m.dictionaries.lock().unwrap().len(), 2);
    // A slice of the values is other values.
    let sliced = values.slice(1, 2);
    assert_eq!(got(&m, batch(vec![Some(0), Some(1)], &sliced).as_ref()), [false, false]);
    // Past the limit, the oldest answers go.
    for i in 0..2 * KEEP_DICTIONARIES {
        let v: ArrayRef = Arc::new(StringArray::from(vec![format!("Action1 {i}")]));
        assert_eq!(got(&m, batch(vec![Some(0)], &v).as_ref()), [true]);
    }
    assert_eq!(m.dictionaries.lock().unwrap().len(), KEEP_DICTIONARIES);
    // Dictionaries of other values than strings are refused, as other arrays are.
    let ints: ArrayRef = Arc::new(datafusion::arrow::array::Int64Array::from(vec![1, 2]));
    let dict = DictionaryArray::<Int32Type>::try_new(keys(vec![Some(0)]), ints).expect("valid keys");
    assert!(m.any_match(&dict).is_err());
}

/// A dictionary's rows take their value's answer however many values match: none (no
/// row is tested), up to four (each key compared with theirs) or more (a table), with
/// null rows and keys that repeat.
#[test]
fn dictionary_rows_take_their_values_answers() {
    let values: Vec<String> = (0..10).map(|i| format!("tool{i} vendor{}", i % 3)).collect();
    let rows: Vec<Option<String>> = (0..300)
        .map(|i| (i % 11 != 0).then(|| values[(i * 7) % values.len()].clone()))
        .collect();
    for (needles, matching) in [
        (vec!["nothing"], 0),
        (vec!["tool4"], 1),
        (vec!["tool1", "tool2", "tool3"], 3),
        (vec!["tool1", "tool2", "tool3", "tool9"], 4),
        (vec!["tool1", "tool2", "tool3", "tool9", "tool0"], 5),
        (vec!["vendor1"], 3),
        (vec!["vendor0", "vendor1", "vendor2"], 10),
    ] {
        let tests: Vec<(StrOp, String, bool)> = needles.iter().map(|n| (StrOp::Has, n.to_string(), false)).collect();
        let found = values.iter().filter(|v| needles.iter().any(|n| v.contains(n))).count();
        assert_eq!(found, matching, "{needles:?}");
        let want = expected(&tests, &rows);
        let m = MultiMatcher::new(tests);
        // Whole, sliced, and a slice shorter than the dictionary (its answers are looked
        // up as bits, not spread into a table first).
        for a in layouts(&rows, 0, rows.len())
            .iter()
            .chain(&layouts(&rows, 13, 200))
            .chain(&layouts(&rows, 13, 5))
        {
            let off = if a.len() == rows.len() { 0 } else { 13 };
            assert_eq!(
                got(&m, a.as_ref()),
                want[off..off + a.len()],
                "{needles:?} {:?}",
                a.data_type()
            );
        }
    }
}

#[test]
fn null_rows_read_as_empty_strings() {
    let rows = vec![None, Some("x".to_string()), Some(String::new())];
    for (tests, want) in [
        (vec![(StrOp::Has, "x".to_string(), false)], [false, true, false]),
        (vec![(StrOp::Equals, String::new(), true)], [true, false, true]),
        (vec![(StrOp::Contains, String::new(), false)], [true, true, true]),
    ] {
        let m = MultiMatcher::new(tests);
        for a in layouts(&rows, 0, 3) {
            assert_eq!(got(&m, a.as_ref()), want, "{:?}", a.data_type());
        }
    }
}

#[test]
fn non_string_columns_are_errors() {
    let m = MultiMatcher::new(vec![(StrOp::Contains, String::new(), false)]);
    let ints: ArrayRef = Arc::new(datafusion::arrow::array::Int64Array::from(vec![1]));
    let err = m.any_match(ints.as_ref()).expect_err("not strings");
    assert!(
        err.to_string().contains("expected a string column, found Int64"),
        "{err}"
    );
}

/// A column of `rows` rows drawn from a few distinct values (and nulls), as hunting
/// columns are: the batch path that tests each distinct value once.
fn repeated_column() -> impl Strategy<Value = Vec<Option<String>>> {
    prop::collection::vec(text(12), 1..24).prop_flat_map(|pool| {
        let n = pool.len();
        prop::collection::vec(prop::option::weighted(0.95, 0..n), 256..700)
            .prop_map(move |picks| picks.into_iter().map(|p| p.map(|i| pool[i].clone())).collect())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(60))]

    #[test]
    fn repeated_values_agree_with_needle_test(
        rows in repeated_column(),
        tests in prop::collection::vec((op(), text(4), any::<bool>()), 8..20),
    ) {
        let want = expected(&tests, &rows);
        let m = MultiMatcher::new(tests);
        let utf8 = StringArray::from(rows.clone());
        prop_assert!(
            m.eval_repeated(utf8.values(), utf8.value_offsets()).is_some(),
            "a column of at most 23 values takes the repeated-values path"
        );
        for a in layouts(&rows, 0, rows.len()) {
            prop_assert_eq!(got(&m, a.as_ref()), want.clone(), "{:?}", a.data_type());
        }
        // Sliced: the offsets no longer start at 0.
        let (off, len) = (rows.len() / 3, rows.len() - rows.len() / 3);
        let want = want[off..].to_vec();
        for a in layouts(&rows, off, len) {
            prop_assert_eq!(got(&m, a.as_ref()), want.clone(), "{:?} sliced", a.data_type());
        }
    }
}
