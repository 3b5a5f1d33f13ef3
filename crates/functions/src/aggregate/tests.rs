use crate::testkit::*;
use crate::{lit, lower_binary};
use datafusion::arrow::array::{
    ArrayRef, Float64Array, Int32Array, Int64Array, StringArray, StringViewArray, TimestampNanosecondArray,
};
use schema::KqlType;
use std::sync::Arc;

fn fruits() -> datafusion::arrow::array::RecordBatch {
    batch(vec![
        (
            "Fruit",
            Arc::new(StringArray::from(vec![
                "Apple", "Apple", "Banana", "Banana", "Pear", "Pear",
            ])) as ArrayRef,
        ),
        (
            "Color",
            Arc::new(StringViewArray::from(vec![
                "Red", "Green", "Yellow", "Green", "Brown", "Green",
            ])) as ArrayRef,
        ),
        (
            "Version",
            Arc::new(Int32Array::from(vec![Some(1), None, None, None, Some(1), Some(2)])) as ArrayRef,
        ),
    ])
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

#[test]
fn arg_min_star_keeps_the_first_row_when_all_by_values_are_null() {
    let fruit = column("Fruit", KqlType::String);
    let a = agg(
        "arg_min",
        vec![column("Version", KqlType::Int), column("Color", KqlType::String)],
    );
    let (names, rows) = summarize(fruits(), vec![("Fruit", fruit)], vec![a]);
    assert_eq!(names, s(&["Fruit", "Version", "Color"]));
    assert_eq!(
        rows,
        vec![
            s(&["Apple", "1", "Red"]),
            s(&["Banana", "", "Yellow"]),
            s(&["Pear", "1", "Brown"])
        ]
    );
    let a = agg(
        "arg_max",
        vec![column("Version", KqlType::Int), column("Color", KqlType::String)],
    );
    let (_, rows) = summarize(fruits(), vec![("Fruit", column("Fruit", KqlType::String))], vec![a]);
    assert_eq!(rows[2], s(&["Pear", "2", "Green"]));
}

#[test]
fn counts_and_default_names() {
    let b = fruits();
    let aggs = vec![
        agg("count", vec![]),
        agg(
            "countif",
            vec![lower_binary("==", column("Color", KqlType::String), lit::string("Green")).unwrap()],
        ),
        agg("dcount", vec![column("Color", KqlType::String)]),
        agg(
            "dcountif",
            vec![
                column("Color", KqlType::String),
                lower_binary("==", column("Fruit", KqlType::String), lit::string("Pear")).unwrap(),
            ],
        ),
        agg("count", vec![column("Version", KqlType::Int)]),
        agg("make_set", vec![column("Color", KqlType::String)]),
        agg(
            "make_list_if",
            vec![
                column("Fruit", KqlType::String),
                lower_binary("==", column("Color", KqlType::String), lit::string("Green")).unwrap(),
            ],
        ),
        agg("sum", vec![column("Version", KqlType::Int)]),
        agg("avg", vec![column("Version", KqlType::Int)]),
        agg("max", vec![column("Fruit", KqlType::String)]),
    ];
    let (names, rows) = summarize(b, vec![], aggs);
    assert_eq!(
        names,
        s(&[
            "count_",
            "countif_",
            "dcount_Color",
            "dcountif_Color",
            "count_Version",
            "set_Color",
            "list_Fruit",
            "sum_Version",
            "avg_Version",
            "max_Fruit"
        ])
    );
    assert_eq!(
        rows,
        vec![s(&[
            "6",
            "3",
            "4",
            "2",
            "3",
            r#"["Red","Green","Yellow","Brown"]"#,
            r#"["Apple","Banana","Pear"]"#,
            "4",
            "1.3333333333333333",
            "Pear"
        ])]
    );
}

#[test]
fn empty_input_counts_are_zero() {
    let b = batch(vec![("x", Arc::new(Int64Array::from(Vec::<i64>::new())) as ArrayRef)]);
    let x = column("x", KqlType::Long);
    let pos = lower_binary(">", x.clone(), lit::long(0)).unwrap();
    let aggs = vec![
        agg("count", vec![x.clone()]),
        agg("countif", vec![pos.clone()]),
        agg("dcount", vec![x.clone()]),
        agg("dcountif", vec![x, pos]),
    ];
    let (names, rows) = summarize(b, vec![], aggs);
    assert_eq!(names, s(&["count_x", "countif_", "dcount_x", "dcountif_x"]));
    assert_eq!(rows, vec![s(&["0", "0", "0", "0"])]);
}

#[test]
fn statistics_and_percentiles() {
    let b = batch(vec![(
        "x",
        Arc::new(Int64Array::from((1..=5).collect::<Vec<i64>>())) as ArrayRef,
    )]);
    let x = column("x", KqlType::Long);
    let aggs = vec![
        agg("stdevp", vec![x.clone()]),
        agg("variancep", vec![x.clone()]),
        agg("variance", vec![x.clone()]),
        agg("make_list", vec![x.clone()]),
        agg("percentile", vec![x.clone(), lit::long(50)]),
        agg("percentiles", vec![x.clone(), lit::long(0), lit::real(99.9)]),
        agg(
            "percentiles_array",
            vec![x.clone(), lit::dynamic(&serde_json::json!([20, 100]))],
        ),
        agg("binary_all_or", vec![x.clone()]),
    ];
    let (names, rows) = summarize(b, vec![], aggs);
    assert_eq!(
        names,
        s(&[
            "stdevp_x",
            "variance_x",
            "variance_x",
            "list_x",
            "percentile_x_50",
            "percentile_x_0",
            "percentile_x_99_9",
            "percentiles_x",
            "binary_all_or_x"
        ])
    );
    let r = &rows[0];
    assert!(r[0].starts_with("1.414213562373"), "{}", r[0]);
    assert_eq!(
        &r[1..],
        &s(&["2", "2.5", "[1,2,3,4,5]", "3", "1", "5", "[1,5]", "7"])[..]
    );
}

#[test]
fn tdigest_hll_and_merges() {
    let b = batch(vec![
        ("v", Arc::new(Float64Array::from(vec![1.0, 2.0])) as ArrayRef),
        ("w", Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef),
    ]);
    let td = agg("tdigest", vec![column("v", KqlType::Real), column("w", KqlType::Long)]);
    let hll = agg("hll", vec![column("v", KqlType::Real)]);
    let (names, rows) = summarize(b, vec![], vec![td, hll]);
    assert_eq!(names, s(&["tdigest_v", "hll_v"]));
    let td = lit::dynamic(&serde_json::from_str(&rows[0][0]).unwrap());
    assert_eq!(call("percentile_tdigest", vec![td.clone(), lit::long(50)]), "2.0");
    assert_eq!(
        call(
            "percentile_tdigest",
            vec![td.clone(), lit::long(50), lit::string("long")]
        ),
        "2"
    );
    assert_eq!(
        call("percentrank_tdigest", vec![td.clone(), lit::real(1.0)]),
        "33.33333333333333"
    );
    assert!(call("merge_tdigest", vec![td.clone(), td.clone()]).len() > 10);
    let h = lit::dynamic(&serde_json::from_str(&rows[0][1]).unwrap());
    assert_eq!(call("dcount_hll", vec![h]), "2");
}

#[test]
fn make_bag_and_take_any_over_datetimes() {
    let t = TimestampNanosecondArray::from(vec![Some(0), None]);
    let b = batch(vec![("t", Arc::new(t) as ArrayRef)]);
    let (names, rows) = summarize(b, vec![], vec![agg("take_any", vec![column("t", KqlType::DateTime)])]);
    assert_eq!(names, s(&["take_any_t"]));
    assert_eq!(rows, vec![s(&["1970-01-01T00:00:00Z"])]);
    let bag = lit::dynamic(&serde_json::json!({"a": 1}));
    let one = batch(vec![("x", Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef)]);
    let (_, rows) = summarize(one, vec![], vec![agg("make_bag", vec![bag])]);
    assert_eq!(rows, vec![s(&[r#"{"a":1}"#])]);
}

#[test]
fn aggregate_errors() {
    assert_eq!(
        crate::lower_aggregate("foo", vec![], &ctx()).unwrap_err().to_string(),
        "The aggregate function 'foo' is not defined."
    );
    assert_eq!(
        crate::lower_aggregate("sum", vec![], &ctx()).unwrap_err().to_string(),
        "The function 'sum' expects 1 argument."
    );
    assert!(crate::lower_aggregate("sum", vec![lit::string("x").into()], &ctx()).is_err());
}

#[test]
fn covariance_and_buildschema() {
    let b = batch(vec![
        ("x", Arc::new(Int64Array::from(vec![1, 2, 3, 4])) as ArrayRef),
        ("y", Arc::new(Float64Array::from(vec![2.0, 4.0, 6.0, 8.0])) as ArrayRef),
    ]);
    let x = column("x", KqlType::Long);
    let y = column("y", KqlType::Real);
    let aggs = vec![
        agg("covariance", vec![x.clone(), y.clone()]),
        agg("covariancep", vec![x.clone(), y.clone()]),
        agg("buildschema", vec![lit::dynamic(&serde_json::json!({"a": 1}))]),
    ];
    let (names, rows) = summarize(b, vec![], aggs);
    assert_eq!(names, s(&["covariance_x_y", "covariancep_x_y", "schema_"]));
    assert!(rows[0][0].starts_with("3.33333333333333"), "{}", rows[0][0]);
    assert_eq!(rows[0][1], "2.5");
    assert_eq!(rows[0][2], r#"{"a":"long"}"#);
}

#[test]
fn make_set_collects_array_elements() {
    use datafusion::arrow::array::BinaryArray;
    let arrays: Vec<&[u8]> = vec![br#"["A1","A2","A3"]"#, br#"["A2","C1"]"#, br#"["C2","A3"]"#];
    let b = batch(vec![("Arr1", Arc::new(BinaryArray::from(arrays)) as ArrayRef)]);
    let (names, rows) = summarize(
        b,
        vec![],
        vec![
            agg("make_set", vec![column("Arr1", KqlType::Dynamic)]),
            agg("make_list", vec![column("Arr1", KqlType::Dynamic)]),
        ],
    );
    assert_eq!(names, s(&["set_Arr1", "list_Arr1"]));
    assert_eq!(rows[0][0], r#"["A1","A2","A3","C1","C2"]"#);
    assert_eq!(rows[0][1], r#"[["A1","A2","A3"],["A2","C1"],["C2","A3"]]"#);
}
