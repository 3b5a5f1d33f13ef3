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
