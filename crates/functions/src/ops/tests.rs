//! Operator tests through DataFusion, over literal and column inputs (Utf8, Utf8View,
//! Binary, BinaryView).

use crate::lit;
use crate::testkit::*;
use crate::{lower_between, lower_binary, lower_in, lower_index, lower_member, lower_neg, lower_not};
use datafusion::arrow::array::{ArrayRef, BinaryViewArray, Int64Array, StringArray, StringViewArray};
use schema::KqlType;
use serde_json::json;
use std::sync::Arc;

fn signers() -> Vec<(&'static str, ArrayRef)> {
    let v = vec![
        "Action1 Corporation",
        "Action1 Corporation Ltd",
        "Action1",
        "NANOSYSTEMS S.R.L.",
        "",
        "Remote Utilities LLC",
    ];
    vec![
        ("s", Arc::new(StringArray::from(v.clone())) as ArrayRef),
        ("v", Arc::new(StringViewArray::from(v)) as ArrayRef),
    ]
}

#[test]
fn has_over_utf8_and_utf8view_columns() {
    let b = batch(signers());
    for c in ["s", "v"] {
        let e = lower_binary("has", column(c, KqlType::String), lit::string("Action1 Corporation")).unwrap();
        assert_eq!(
            eval_on(&e, &b),
            ["true", "true", "false", "false", "false", "false"],
            "{c}"
        );
        let e = lower_binary("!has", column(c, KqlType::String), lit::string("action")).unwrap();
        assert_eq!(eval_on(&e, &b), ["true", "true", "true", "true", "true", "true"], "{c}");
        let e = lower_binary("has", column(c, KqlType::String), lit::string("Nanosystems S.R.L.")).unwrap();
        assert_eq!(
            eval_on(&e, &b),
            ["false", "false", "false", "true", "false", "false"],
            "{c}"
        );
        let e = lower_binary("has_cs", column(c, KqlType::String), lit::string("Nanosystems S.R.L.")).unwrap();
        assert_eq!(eval_on(&e, &b), ["false"; 6], "{c}");
        let e = lower_binary("contains", column(c, KqlType::String), lit::string("ACTION")).unwrap();
        assert_eq!(
            eval_on(&e, &b),
            ["true", "true", "true", "false", "false", "false"],
            "{c}"
        );
        let e = lower_binary("startswith_cs", column(c, KqlType::String), lit::string("Remote")).unwrap();
        assert_eq!(
            eval_on(&e, &b),
            ["false", "false", "false", "false", "false", "true"],
            "{c}"
        );
        let e = lower_in(
            "has_any",
            column(c, KqlType::String),
            vec![lit::string("Remote Utilities"), lit::string("Nanosystems S.R.L.")],
        )
        .unwrap();
        assert_eq!(
            eval_on(&e, &b),
            ["false", "false", "false", "true", "false", "true"],
            "{c}"
        );
    }
}

#[test]
fn string_operator_examples_from_the_reference() {
    let t = |op: &str, l: &str, r: &str| binop(op, lit::string(l), lit::string(r));
    assert_eq!(t("==", "aBc", "aBc"), "true");
    assert_eq!(t("!=", "abc", "ABC"), "true");
    assert_eq!(t("=~", "abc", "ABC"), "true");
    assert_eq!(t("!~", "aBc", "xyz"), "true");
    assert_eq!(t("contains", "FabriKam", "BRik"), "true");
    assert_eq!(t("!contains", "Fabrikam", "xyz"), "true");
    assert_eq!(t("contains_cs", "FabriKam", "Kam"), "true");
    assert_eq!(t("!contains_cs", "Fabrikam", "Kam"), "true");
    assert_eq!(t("endswith", "Fabrikam", "Kam"), "true");
    assert_eq!(t("!endswith", "Fabrikam", "brik"), "true");
    assert_eq!(t("endswith_cs", "Fabrikam", "kam"), "true");
    assert_eq!(t("!endswith_cs", "Fabrikam", "brik"), "true");
    assert_eq!(t("has", "North America", "america"), "true");
    assert_eq!(t("!has", "North America", "amer"), "true");
    assert_eq!(t("has_cs", "North America", "America"), "true");
    assert_eq!(t("!has_cs", "North America", "amer"), "true");
    assert_eq!(t("hasprefix", "North America", "ame"), "true");
    assert_eq!(t("!hasprefix", "North America", "mer"), "true");
    assert_eq!(t("hasprefix_cs", "North America", "Ame"), "true");
    assert_eq!(t("!hasprefix_cs", "North America", "CA"), "true");
    assert_eq!(t("hassuffix", "North America", "ica"), "true");
    assert_eq!(t("!hassuffix", "North America", "americ"), "true");
    assert_eq!(t("hassuffix_cs", "North America", "ica"), "true");
    assert_eq!(t("!hassuffix_cs", "North America", "icA"), "true");
    assert_eq!(t("matches regex", "Fabrikam", "b.*k"), "true");
    assert_eq!(t("startswith", "Fabrikam", "fab"), "true");
    assert_eq!(t("!startswith", "Fabrikam", "kam"), "true");
    assert_eq!(t("startswith_cs", "Fabrikam", "Fab"), "true");
    assert_eq!(t("!startswith_cs", "Fabrikam", "fab"), "true");
    let l = |v: &[&str]| v.iter().map(|s| lit::string(s)).collect::<Vec<_>>();
    let e = |op, x, list| eval1(&lower_in(op, lit::string(x), list).unwrap());
    assert_eq!(e("in", "abc", l(&["123", "345", "abc"])), "true");
    assert_eq!(e("!in", "bca", l(&["123", "345", "abc"])), "true");
    assert_eq!(e("in~", "Abc", l(&["123", "345", "abc"])), "true");
    assert_eq!(e("!in~", "bCa", l(&["123", "345", "ABC"])), "true");
    assert_eq!(e("in", "Abc", l(&["abc"])), "false");
    assert_eq!(e("has_all", "North and South America", l(&["south", "north"])), "true");
    assert_eq!(e("has_any", "North America", l(&["south", "north"])), "true");
    assert_eq!(e("has_all", "North America", l(&["south", "north"])), "false");
}

#[test]
fn in_with_dynamic_arrays_and_numbers() {
    let arr = lit::dynamic(&json!(["a", "B"]));
    assert_eq!(
        eval1(&lower_in("in", lit::string("a"), vec![arr.clone()]).unwrap()),
        "true"
    );
    assert_eq!(
        eval1(&lower_in("in", lit::string("b"), vec![arr.clone()]).unwrap()),
        "false"
    );
    assert_eq!(
        eval1(&lower_in("in~", lit::string("b"), vec![arr.clone()]).unwrap()),
        "true"
    );
    assert_eq!(
        eval1(&lower_in("has_any", lit::string("x b y"), vec![arr]).unwrap()),
        "true"
    );
    let nums = lit::dynamic(&json!([4624, 4625]));
    assert_eq!(
        eval1(&lower_in("in", lit::long(4625), vec![nums.clone()]).unwrap()),
        "true"
    );
    assert_eq!(eval1(&lower_in("!in", lit::long(1), vec![nums]).unwrap()), "true");
    assert_eq!(
        eval1(&lower_in("in", lit::int(2), vec![lit::long(1), lit::real(2.0)]).unwrap()),
        "true"
    );
    assert!(lower_in("in", lit::long(1), vec![lit::string("1")]).is_err());
}

#[test]
fn arithmetic_types_and_values() {
    let e = lower_binary("+", lit::int(1), lit::long(2)).unwrap();
    assert_eq!(e.ty, KqlType::Long);
    assert_eq!(eval1(&e), "3");
    let e = lower_binary("/", lit::long(7), lit::long(2)).unwrap();
    assert_eq!((eval1(&e), e.ty), ("3".to_string(), KqlType::Long));
    assert_eq!(binop("/", lit::long(1), lit::long(0)), "");
    assert_eq!(binop("/", lit::real(1.0), lit::long(2)), "0.5");
    assert_eq!(binop("/", lit::real(1.0), lit::long(0)), "Infinity");
    assert_eq!(binop("%", lit::long(-7), lit::long(3)), "-1");
    assert_eq!(binop("*", lit::long(i64::MAX), lit::long(2)), "-2");
    let day = 86_400_000_000_000i64;
    let d = lit::datetime_text("2017-01-01").unwrap();
    assert_eq!(binop("+", d.clone(), lit::timespan(day)), "2017-01-02T00:00:00Z");
    assert_eq!(
        binop("-", lit::datetime_text("2017-01-03").unwrap(), d.clone()),
        "2.00:00:00"
    );
    assert_eq!(binop("*", lit::timespan(day), lit::long(3)), "3.00:00:00");
    assert_eq!(binop("/", lit::timespan(day), lit::timespan(day / 4)), "4");
    assert_eq!(
        lower_binary("+", d.clone(), d).unwrap_err().to_string(),
        "The operator '+' is not defined for the operand types datetime and datetime."
    );
    assert_eq!(eval1(&lower_neg(lit::timespan(day)).unwrap()), "-1.00:00:00");
    assert_eq!(eval1(&lower_neg(lit::long(5)).unwrap()), "-5");
}

#[test]
fn comparisons_and_logic() {
    assert_eq!(binop("<", lit::int(1), lit::real(1.5)), "true");
    assert_eq!(binop(">=", lit::string("b"), lit::string("a")), "true");
    assert_eq!(binop("==", lit::long(1), lit::null(KqlType::Long)), "false");
    assert_eq!(binop("and", lit::bool(true), lit::bool(false)), "false");
    assert_eq!(binop("or", lit::bool(true), lit::bool(false)), "true");
    assert_eq!(eval1(&lower_not(lit::bool(false)).unwrap()), "true");
    let d = lit::dynamic(&json!({"name": "x", "n": 5}));
    assert_eq!(
        binop("==", lower_member(d.clone(), "name").unwrap(), lit::string("x")),
        "true"
    );
    assert_eq!(binop(">", lower_member(d.clone(), "n").unwrap(), lit::long(4)), "true");
    assert_eq!(binop("+", lower_member(d, "n").unwrap(), lit::long(1)), "6");
}

#[test]
fn between_including_datetime_with_timespan() {
    let lo = lit::datetime_text("2017-01-01").unwrap();
    let x = lit::datetime_text("2017-01-01T12:00").unwrap();
    let e = lower_between(false, x.clone(), lo.clone(), lit::timespan(86_400_000_000_000)).unwrap();
    assert_eq!(eval1(&e), "true");
    let e = lower_between(true, x, lo, lit::timespan(3_600_000_000_000)).unwrap();
    assert_eq!(eval1(&e), "true");
    assert_eq!(
        eval1(&lower_between(false, lit::long(5), lit::long(1), lit::long(5)).unwrap()),
        "true"
    );
}

#[test]
fn dynamic_access_over_binary_view_columns() {
    let docs = BinaryViewArray::from(vec![
        Some(&br#"{"a":{"b":[1,2,3]}}"#[..]),
        Some(&br#"[10,20]"#[..]),
        None,
    ]);
    let b = batch(vec![
        ("d", Arc::new(docs) as ArrayRef),
        ("i", Arc::new(Int64Array::from(vec![0, -1, 0]))),
    ]);
    let d = column("d", KqlType::Dynamic);
    let e = lower_index(
        lower_member(lower_member(d.clone(), "a").unwrap(), "b").unwrap(),
        lit::long(-1),
    )
    .unwrap();
    assert_eq!(eval_on(&e, &b), ["3", "", ""]);
    let e = lower_index(d, column("i", KqlType::Long)).unwrap();
    assert_eq!(eval_on(&e, &b), ["", "20", ""]);
    assert!(lower_member(lit::string("x"), "a").is_err());
}

#[test]
fn equality_with_nulls_follows_kusto() {
    use datafusion::arrow::array::Int32Array;
    let b = batch(vec![(
        "val",
        Arc::new(Int32Array::from(vec![Some(5), None])) as ArrayRef,
    )]);
    let val = || column("val", KqlType::Int);
    let null = || lit::null(KqlType::Int);
    assert_eq!(eval_on(&lower_binary("==", val(), null()).unwrap(), &b), ["false", ""]);
    assert_eq!(eval_on(&lower_binary("!=", val(), null()).unwrap(), &b), ["true", ""]);
    assert_eq!(
        eval_on(&lower_binary("!=", val(), lit::long(5)).unwrap(), &b),
        ["false", "true"]
    );
    assert_eq!(
        eval_on(&lower_binary("==", val(), lit::long(5)).unwrap(), &b),
        ["true", "false"]
    );
    assert_eq!(
        eval_on(&lower_binary(">", val(), lit::long(3)).unwrap(), &b),
        ["true", ""]
    );
    assert_eq!(eval_on(&lower_binary("==", val(), val()).unwrap(), &b), ["true", ""]);
    let other = batch(vec![
        ("a", Arc::new(Int32Array::from(vec![Some(1), None, None])) as ArrayRef),
        (
            "b",
            Arc::new(Int32Array::from(vec![Some(2), Some(1), None])) as ArrayRef,
        ),
    ]);
    let e = lower_binary("!=", column("a", KqlType::Int), column("b", KqlType::Int)).unwrap();
    assert_eq!(eval_on(&e, &other), ["true", "true", ""]);
}

#[test]
fn native_comparisons_accept_every_string_layout() {
    use datafusion::arrow::array::LargeStringArray;
    let v = vec!["a", "B", ""];
    let b = batch(vec![
        ("u", Arc::new(StringArray::from(v.clone())) as ArrayRef),
        ("l", Arc::new(LargeStringArray::from(v.clone())) as ArrayRef),
        ("w", Arc::new(StringViewArray::from(v)) as ArrayRef),
    ]);
    for c in ["u", "l", "w"] {
        let x = || column(c, KqlType::String);
        let e = lower_binary("==", x(), lit::string("a")).unwrap();
        assert_eq!(eval_on(&e, &b), ["true", "false", "false"], "{c}");
        let e = lower_binary("=~", x(), lit::string("b")).unwrap();
        assert_eq!(eval_on(&e, &b), ["false", "true", "false"], "{c}");
        let e = lower_in("in", x(), vec![lit::string("a"), lit::string("")]).unwrap();
        assert_eq!(eval_on(&e, &b), ["true", "false", "true"], "{c}");
        let e = lower_in("!in~", x(), vec![lit::string("b")]).unwrap();
        assert_eq!(eval_on(&e, &b), ["true", "false", "true"], "{c}");
        let e = lower_binary("<", x(), lit::string("b")).unwrap();
        assert_eq!(eval_on(&e, &b), ["true", "true", "true"], "{c}");
        let e = lower_binary("matches regex", x(), lit::string("^[A-Z]$")).unwrap();
        assert_eq!(eval_on(&e, &b), ["false", "true", "false"], "{c}");
        let e = crate::lower_call("strlen", vec![x().into()], &ctx()).unwrap();
        assert_eq!(eval_on(&e, &b), ["1", "1", "0"], "{c}");
    }
}

#[test]
fn unknown_and_unimplemented_functions() {
    let err = |n: &str| crate::lower_call(n, vec![], &ctx()).unwrap_err().to_string();
    assert_eq!(
        err("no_such_fn"),
        "The name 'no_such_fn' does not refer to any known function."
    );
    assert_eq!(
        err("geo_distance_2points"),
        "the function 'geo_distance_2points' is not supported"
    );
    assert_eq!(
        err("series_decompose"),
        "the function 'series_decompose' is not supported"
    );
    assert_eq!(
        err("__gettype_dynamic"),
        "The name '__gettype_dynamic' does not refer to any known function."
    );
    assert_eq!(
        crate::lower_call("strlen", vec![], &ctx()).unwrap_err().to_string(),
        "The function 'strlen' expects 1 argument."
    );
    assert_eq!(
        crate::lower_call("substring", vec![lit::string("a").into()], &ctx())
            .unwrap_err()
            .to_string(),
        "The function 'substring' expects between 2 and 3 arguments."
    );
    assert_eq!(
        crate::lower_call("strcat_delim", vec![lit::string("a").into()], &ctx())
            .unwrap_err()
            .to_string(),
        "The function 'strcat_delim' expects at least 3 arguments."
    );
    assert_eq!(
        crate::lower_call("sqrt", vec![lit::string("a").into()], &ctx())
            .unwrap_err()
            .to_string(),
        "sqrt(): argument #1 must have the type number, but has the type string."
    );
}

#[test]
fn named_arguments_are_placed_by_parameter_name() {
    use crate::Arg;
    let e = crate::lower_call(
        "substring",
        vec![
            Arg::named("startingIndex", lit::long(1)),
            Arg::named("source", lit::string("abc")),
        ],
        &ctx(),
    )
    .unwrap();
    assert_eq!(eval1(&e), "bc");
    let err = crate::lower_call("substring", vec![Arg::named("nope", lit::long(1))], &ctx()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "substring(): the argument name 'nope' does not refer to a declared parameter."
    );
}

#[test]
fn now_and_ago_are_constant_per_query() {
    let now = crate::lower_call("now", vec![], &ctx()).unwrap();
    assert_eq!(eval1(&now), "2024-05-01T00:00:00Z");
    assert!(now.as_literal().is_some());
    let ago = crate::lower_call("ago", vec![lit::timespan(86_400_000_000_000).into()], &ctx()).unwrap();
    assert_eq!(eval1(&ago), "2024-04-30T00:00:00Z");
    let later = crate::lower_call("now", vec![lit::timespan(3_600_000_000_000).into()], &ctx()).unwrap();
    assert_eq!(eval1(&later), "2024-05-01T01:00:00Z");
}

#[test]
fn conditionals() {
    use crate::Arg;
    let call = |n: &str, a: Vec<crate::api::TypedExpr>| {
        crate::lower_call(n, a.into_iter().map(Arg::positional).collect(), &ctx()).unwrap()
    };
    let e = call("iff", vec![lit::bool(false), lit::int(1), lit::real(2.5)]);
    assert_eq!((eval1(&e), e.ty), ("2.5".to_string(), KqlType::Real));
    let e = call(
        "iff",
        vec![lit::null(KqlType::Bool), lit::string("a"), lit::string("b")],
    );
    assert_eq!(eval1(&e), "b");
    let e = call(
        "case",
        vec![
            lit::bool(false),
            lit::long(1),
            lit::bool(true),
            lit::long(2),
            lit::long(3),
        ],
    );
    assert_eq!(eval1(&e), "2");
    // No predicate holds: the else value (the reference's case-function example).
    let e = call(
        "case",
        vec![
            lit::bool(false),
            lit::string("a"),
            lit::bool(false),
            lit::string("b"),
            lit::string("c"),
        ],
    );
    assert_eq!(eval1(&e), "c");
    let e = call("case", vec![lit::bool(true), lit::string("x"), lit::string("y")]);
    assert_eq!(eval1(&e), "x");
    let e = call("case", vec![lit::bool(false), lit::string("x"), lit::string("y")]);
    assert_eq!(eval1(&e), "y");
    let e = call("coalesce", vec![lit::string(""), lit::string("x"), lit::string("y")]);
    assert_eq!(eval1(&e), "x");
    let e = call("coalesce", vec![lit::null(KqlType::Long), lit::long(42), lit::long(33)]);
    assert_eq!(eval1(&e), "42");
    let e = call("isempty", vec![lit::string("")]);
    assert_eq!(eval1(&e), "true");
    let e = call("isnull", vec![lit::string("")]);
    assert_eq!(eval1(&e), "false");
    let e = call("isnull", vec![lit::dynamic(&json!(null))]);
    assert_eq!(eval1(&e), "true");
    let e = call("isempty", vec![lit::dynamic(&json!([]))]);
    assert_eq!(eval1(&e), "false");
    let e = call("gettype", vec![lit::dynamic(&json!({"a": 1}))]);
    assert_eq!(eval1(&e), "dictionary");
    let e = call("gettype", vec![lit::guid("12e8b78d-55b4-46ae-b068-26d7a0080254")]);
    assert_eq!(eval1(&e), "guid");
    assert!(
        crate::lower_call(
            "iff",
            vec![lit::bool(true).into(), lit::string("a").into(), lit::long(1).into()],
            &ctx()
        )
        .is_err()
    );
}
