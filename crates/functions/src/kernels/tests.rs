use super::*;
use datafusion::arrow::array::StringArray;
use datafusion::arrow::datatypes::Field;

fn invoke(udf: &ScalarUDF, args: Vec<ColumnarValue>, number_rows: usize) -> Result<ColumnarValue> {
    let arg_fields = args
        .iter()
        .map(|a| Arc::new(Field::new("a", a.data_type(), true)))
        .collect();
    udf.invoke_with_args(ScalarFunctionArgs {
        args,
        arg_fields,
        number_rows,
        return_field: Arc::new(Field::new("r", DataType::Boolean, true)),
        config_options: Default::default(),
    })
}

#[test]
fn predicate_names_round_trip() {
    for op in StrOp::ALL {
        for cs in [false, true] {
            assert_eq!(str_pred_of(&StrPredUdf::udf_name(op, cs)), Some((op, cs)));
        }
    }
    assert_eq!(str_pred_of("kql_has_cs"), Some((StrOp::Has, true)));
    assert_eq!(str_pred_of("kql_equals"), Some((StrOp::Equals, false)));
    assert_eq!(str_pred_of("kql_has_any"), None);
    assert_eq!(str_pred_of("has"), None);
}

#[test]
fn multi_needle_names() {
    let kind = |op, case_sensitive, all| {
        Some(MultiNeedleKind {
            op,
            case_sensitive,
            all,
        })
    };
    assert_eq!(multi_needle_of(HAS_ANY), kind(StrOp::Has, false, false));
    assert_eq!(multi_needle_of(HAS_ALL), kind(StrOp::Has, false, true));
    assert_eq!(multi_needle_of(IN_CI), kind(StrOp::Equals, false, false));
    assert_eq!(multi_needle_of(IN_CS), kind(StrOp::Equals, true, false));
    assert_eq!(multi_needle_of("kql_has"), None);
    // Every multi-needle UDF of the registry is recognized.
    let names: Vec<String> = kernel_udfs().iter().map(|u| u.name().to_string()).collect();
    for n in [HAS_ANY, HAS_ALL, IN_CI, IN_CS] {
        assert!(names.iter().any(|x| x == n), "{n} registered");
    }
}

#[test]
fn needle_lists_expand_dynamic_arrays() {
    let dynamic = ScalarValue::Binary(Some(br#"["a", 1, null, ["b"]]"#.to_vec()));
    let lists = [ScalarValue::Utf8(Some("x".into())), dynamic, ScalarValue::Utf8(None)];
    // A null string reads as "" (as every KQL string does); a JSON null is no value.
    assert_eq!(multi_needle_texts(&lists).unwrap(), vec!["x", "a", "1", "b", ""]);
}

#[test]
fn multi_match_udf_compares_by_tests() {
    let t = |n: &str| vec![(StrOp::Has, n.to_string(), false)];
    assert_eq!(multi_match_udf(t("a")), multi_match_udf(t("a")));
    assert_ne!(multi_match_udf(t("a")), multi_match_udf(t("b")));
    assert_eq!(multi_match_udf(t("a")).name(), MULTI_MATCH);
}

#[test]
fn multi_match_udf_evaluates_columns_and_scalars() {
    let udf = multi_match_udf(vec![
        (StrOp::Has, "Action1 Corporation".into(), false),
        (StrOp::Equals, "AnyDesk".into(), true),
    ]);
    let col: ArrayRef = Arc::new(StringArray::from(vec![
        Some("ACTION1 CORPORATION Ltd"),
        Some("anydesk"),
        Some("AnyDesk"),
        None,
    ]));
    let out = invoke(&udf, vec![ColumnarValue::Array(col)], 4).unwrap();
    let ColumnarValue::Array(a) = out else {
        panic!("array expected")
    };
    let got: Vec<bool> = a.as_boolean().iter().map(|b| b.unwrap_or(true)).collect();
    assert_eq!(got, [true, false, true, false]);
    let out = invoke(
        &udf,
        vec![ColumnarValue::Scalar(ScalarValue::Utf8View(Some("AnyDesk".into())))],
        1,
    )
    .unwrap();
    assert!(matches!(out, ColumnarValue::Scalar(ScalarValue::Boolean(Some(true)))));
    // Not a string column.
    let ints: ArrayRef = Arc::new(datafusion::arrow::array::Int64Array::from(vec![1]));
    assert!(invoke(&udf, vec![ColumnarValue::Array(ints)], 1).is_err());
}

/// `X has Y` of two columns: a needle per row, prepared once per distinct needle — also
/// past the cache's capacity, where new needles are prepared row by row.
#[test]
fn a_needle_per_row_agrees_with_needle_test() {
    let n = NeedleCache::MAX + 500;
    let hay: Vec<String> = (0..n).map(|i| format!("Tool{} Corporation", i % 700)).collect();
    // Repeated needles first (cached), then more distinct ones than the cache holds.
    let needles: Vec<String> = (0..n)
        .map(|i| match i {
            0..1000 if i % 2 == 0 => format!("tool{}", i % 700),
            0..1000 => format!("Tool{}", i % 700),
            _ => format!("TOOL{i}"),
        })
        .collect();
    for (op, cs) in [(StrOp::Has, false), (StrOp::Has, true), (StrOp::StartsWith, false)] {
        let udf = ScalarUDF::new_from_impl(StrPredUdf::new(op, cs));
        let h: ArrayRef = Arc::new(StringArray::from(hay.clone()));
        let nd: ArrayRef = Arc::new(StringArray::from(needles.clone()));
        let got = bools(invoke(&udf, vec![ColumnarValue::Array(h), ColumnarValue::Array(nd)], n).unwrap());
        let want: Vec<bool> = hay
            .iter()
            .zip(&needles)
            .map(|(h, nd)| Needle::new(nd, cs).test(op, h))
            .collect();
        assert_eq!(got, want, "{op:?} cs={cs}");
        assert!(
            want.iter().any(|b| *b) && want.iter().any(|b| !*b),
            "{op:?} cs={cs}: both answers occur"
        );
    }
}

fn bools(v: ColumnarValue) -> Vec<bool> {
    let ColumnarValue::Array(a) = v else {
        panic!("array expected")
    };
    assert_eq!(a.null_count(), 0);
    a.as_boolean().values().iter().collect()
}

fn reference(op: StrOp, cs: bool, all: bool, needles: &[String], rows: &[Option<String>]) -> Vec<bool> {
    let needles: Vec<Needle> = needles.iter().map(|n| Needle::new(n, cs)).collect();
    rows.iter()
        .map(|r| {
            let h = r.as_deref().unwrap_or("");
            !needles.is_empty()
                && if all {
                    needles.iter().all(|n| n.test(op, h))
                } else {
                    needles.iter().any(|n| n.test(op, h))
                }
        })
        .collect()
}

mod properties {
    use super::*;
    use crate::terms::proptests::{column, layouts, op, text};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn predicate_udfs_agree_with_needle_test(
            (rows, off, len) in column(),
            op in op(),
            cs in any::<bool>(),
            needles in prop::collection::vec(text(5), 1..3),
        ) {
            let udf = ScalarUDF::new_from_impl(StrPredUdf::new(op, cs));
            for a in layouts(&rows, off, len) {
                // Several needles in turn through one UDF (its matcher is rebuilt).
                for n in &needles {
                    let want = reference(op, cs, false, std::slice::from_ref(n), &rows[off..off + len]);
                    let args = vec![ColumnarValue::Array(a.clone()), ColumnarValue::Scalar(ScalarValue::Utf8(Some(n.clone())))];
                    prop_assert_eq!(bools(invoke(&udf, args, len).unwrap()), want, "{:?} {:?}", a.data_type(), n);
                }
            }
        }

        #[test]
        fn multi_needle_udfs_agree_with_needle_test(
            (rows, off, len) in column(),
            which in prop::sample::select(vec![HAS_ANY, HAS_ALL, IN_CI, IN_CS]),
            needles in prop::collection::vec(text(5), 0..12),
            as_dynamic in any::<bool>(),
        ) {
            let kind = multi_needle_of(which).unwrap();
            let udf = kernel_udf(which).unwrap();
            let lists: Vec<ScalarValue> = if as_dynamic {
                vec![ScalarValue::Binary(Some(serde_json::to_vec(&needles).unwrap()))]
            } else {
                needles.iter().map(|n| ScalarValue::Utf8View(Some(n.clone()))).collect()
            };
            let want = reference(kind.op, kind.case_sensitive, kind.all, &needles, &rows[off..off + len]);
            for a in layouts(&rows, off, len) {
                let mut args = vec![ColumnarValue::Array(a.clone())];
                args.extend(lists.iter().cloned().map(ColumnarValue::Scalar));
                prop_assert_eq!(bools(invoke(&udf, args, len).unwrap()), want.clone(), "{:?}", a.data_type());
            }
        }
    }
}

/// Calls with alternating needle lists (the rules of a shared scan, every batch) build each
/// list's value once; past the cache's size the least recently used goes first.
#[test]
fn built_values_are_kept_per_argument_list() {
    let cache: LastBuilt<String> = LastBuilt::default();
    let builds = std::cell::Cell::new(0);
    let key = |i: usize| vec![ScalarValue::Utf8(Some(format!("needle{i}")))];
    let get = |i: usize| {
        cache
            .get(&key(i), || {
                builds.set(builds.get() + 1);
                Ok(format!("built {i}"))
            })
            .unwrap()
    };
    for _ in 0..3 {
        for i in 0..10 {
            assert_eq!(*get(i), format!("built {i}"));
        }
    }
    assert_eq!(builds.get(), 10);
    // Fill the cache: 0 was used most recently of the first ten after this touch.
    get(0);
    for i in 10..BUILT_KEEP + 1 {
        get(i);
    }
    assert_eq!(cache.len(), BUILT_KEEP);
    let before = builds.get();
    get(0);
    assert_eq!(builds.get(), before, "the recently used list was kept");
    get(1);
    assert_eq!(builds.get(), before + 1, "the least recently used list was dropped");
    // A failed build is not cached.
    let failed = cache.get(&key(9999), || Err(DataFusionError::Execution("no".into())));
    assert!(failed.is_err());
    assert_eq!(*cache.get(&key(9999), || Ok("later".to_string())).unwrap(), "later");
}

/// One `has_any` UDF called with two needle lists in turn answers each with its own list.
#[test]
fn has_any_alternating_lists_answer_each() {
    let udf = kernel_udf(HAS_ANY).expect("has_any");
    let hay: ArrayRef = Arc::new(StringArray::from(vec!["anydesk.com", "teamviewer.com", "example.org"]));
    let list = |s: &str| ColumnarValue::Scalar(ScalarValue::Utf8(Some(s.to_string())));
    for _ in 0..3 {
        for (needle, want) in [
            ("anydesk.com", [true, false, false]),
            ("teamviewer.com", [false, true, false]),
        ] {
            let out = invoke(&udf, vec![ColumnarValue::Array(hay.clone()), list(needle)], 3).unwrap();
            let ColumnarValue::Array(a) = out else { panic!("array") };
            let got: Vec<bool> = a.as_boolean().iter().map(|b| b.unwrap_or(false)).collect();
            assert_eq!(got, want, "{needle}");
        }
    }
}

/// A multi-needle call whose constant lists hold no needle is `false` before it runs (its
/// filter reads nothing), as it is when it runs; lists with a needle, or not constant,
/// are left as they are.
#[test]
fn constant_lists_without_needles_simplify_to_false() {
    use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
    let empty = ScalarValue::Binary(Some(b"[]".to_vec()));
    let only_nulls = ScalarValue::Binary(Some(b"[null]".to_vec()));
    let col = || Expr::Column(datafusion::common::Column::new_unqualified("s"));
    let lit = |v: &ScalarValue| Expr::Literal(v.clone(), None);
    let simplified = |udf: &ScalarUDF, args: Vec<Expr>| match udf.simplify(args, &SimplifyContext::default()).unwrap() {
        ExprSimplifyResult::Simplified(e) => Some(e),
        ExprSimplifyResult::Original(_) => None,
    };
    let hay = ColumnarValue::Array(Arc::new(StringArray::from(vec![Some("a"), None, Some("")])));
    for udf in kernel_udfs().iter().filter(|u| multi_needle_of(u.name()).is_some()) {
        let f = Some(Expr::Literal(ScalarValue::Boolean(Some(false)), None));
        assert_eq!(simplified(udf, vec![col(), lit(&empty)]), f, "{}", udf.name());
        assert_eq!(
            simplified(udf, vec![col(), lit(&empty), lit(&only_nulls)]),
            f,
            "{}",
            udf.name()
        );
        // Run, the same lists match no row.
        let ran = invoke(udf, vec![hay.clone(), ColumnarValue::Scalar(empty.clone())], 3).unwrap();
        let ran = ran.into_array(3).unwrap();
        assert_eq!(
            ran.as_boolean(),
            &BooleanArray::from(vec![false, false, false]),
            "{}",
            udf.name()
        );

        let a = ScalarValue::Utf8(Some("a".into()));
        assert_eq!(
            simplified(udf, vec![col(), lit(&empty), lit(&a)]),
            None,
            "{}",
            udf.name()
        );
        assert_eq!(simplified(udf, vec![col(), col()]), None, "{}", udf.name());
        assert_eq!(simplified(udf, vec![col()]), None, "{}", udf.name());
    }
}
