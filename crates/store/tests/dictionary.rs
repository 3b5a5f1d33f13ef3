//! Dictionary-encoded string columns are read as dictionaries under the string predicates
//! that take them (see `store::dictionary`), and as strings everywhere else: the answers
//! are those of the plain reading, with and without late materialization.

use arrow::array::{Array, AsArray};
use arrow::datatypes::DataType;
use datafusion::logical_expr::{Expr, lit};
use datafusion::prelude::{SessionConfig, SessionContext, ident};
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use parquet::file::reader::{FileReader, SerializedFileReader};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use store::{DataDir, IngestOptions, ingest};

const ROWS: usize = 3000;
/// Distinct values of `Big`: 300 of 4 KB make a dictionary over Parquet's 1 MB page limit,
/// so its chunks fall back to plain pages part way.
const BIG_DISTINCT: usize = 300;

fn signer(i: usize) -> &'static str {
    [
        "Action1 Corporation",
        "Microsoft Windows",
        "Google LLC",
        "AnyDesk Software GmbH",
        "",
    ][i % 5]
}

fn big(i: usize) -> String {
    format!("{:04} {}", i % BIG_DISTINCT, "x".repeat(4000))
}

/// One part of `App_CL`: `Signer` repeats 5 values (dictionary), `Url` is distinct in
/// every row (written without a dictionary), `Big` overflows its dictionary.
fn data_dir(root: &Path) -> DataDir {
    let input = root.join("in.json");
    let mut f = std::fs::File::create(&input).unwrap();
    for i in 0..ROWS {
        let row = serde_json::json!({
            "Type": "App_CL",
            "TimeGenerated": format!("2024-05-01T00:00:{:02}Z", i % 60),
            "Signer": signer(i),
            "Url": format!("https://host{i}.example.com/p"),
            "Big": big(i),
        });
        writeln!(f, "{row}").unwrap();
    }
    drop(f);
    let data = DataDir::open(root.join("data"));
    ingest(&data, &[input.display().to_string()], &IngestOptions::default()).unwrap();
    data
}

fn part(data: &DataDir) -> std::path::PathBuf {
    let parts = data.parts("App_CL").unwrap();
    assert_eq!(parts.len(), 1);
    parts[0].path.clone()
}

#[test]
fn only_columns_dictionary_encoded_throughout_become_dictionaries() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_dir(tmp.path());
    let file = std::fs::File::open(part(&data)).unwrap();
    let metadata = Arc::new(SerializedFileReader::new(file).unwrap().metadata().clone());
    let plain = ArrowReaderMetadata::try_new(metadata.clone(), ArrowReaderOptions::new()).unwrap();
    let asked = ["Signer", "Url", "Big"].map(str::to_string).into();
    let hinted = ArrowReaderMetadata::try_new(
        store::dictionary::with_dictionary_strings(metadata.clone(), &asked),
        ArrowReaderOptions::new(),
    )
    .unwrap();
    // Asked again (as for the next part of the table: the rewritten schema is kept), the
    // same answer.
    let again = ArrowReaderMetadata::try_new(
        store::dictionary::with_dictionary_strings(metadata.clone(), &asked),
        ArrowReaderOptions::new(),
    )
    .unwrap();
    assert_eq!(again.schema(), hinted.schema());
    // Columns no predicate asks for stay strings.
    let unasked = ArrowReaderMetadata::try_new(
        store::dictionary::with_dictionary_strings(metadata, &["Url".to_string()].into()),
        ArrowReaderOptions::new(),
    )
    .unwrap();
    let ty = |m: &ArrowReaderMetadata, c: &str| m.schema().field_with_name(c).unwrap().data_type().clone();
    for c in ["Signer", "Url", "Big"] {
        assert_eq!(ty(&plain, c), DataType::Utf8, "{c} as written");
    }
    assert_eq!(
        ty(&hinted, "Signer"),
        DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
    );
    assert_eq!(ty(&hinted, "Url"), DataType::Utf8, "written without a dictionary");
    assert_eq!(
        ty(&hinted, "Big"),
        DataType::Utf8,
        "its dictionary overflowed to plain pages"
    );
    assert_eq!(ty(&unasked, "Signer"), DataType::Utf8, "not asked for");
    // Everything else is as it was (names, order, the time column).
    assert_eq!(plain.schema().fields().len(), hinted.schema().fields().len());
    assert_eq!(ty(&plain, "TimeGenerated"), ty(&hinted, "TimeGenerated"));
}

fn call(name: &str, args: Vec<Expr>) -> Expr {
    let udf = functions::kernels::kernel_udf(name).expect("a kernel UDF");
    Expr::ScalarFunction(datafusion::logical_expr::expr::ScalarFunction::new_udf(
        Arc::new(udf),
        args,
    ))
}

/// The rows a filter keeps, and the types of the columns the scan returns.
async fn run(data: &DataDir, pushdown: bool, filter: Expr) -> (Vec<String>, Vec<DataType>) {
    let mut config = SessionConfig::new().with_target_partitions(2);
    config.options_mut().execution.parquet.pushdown_filters = pushdown;
    config.options_mut().execution.parquet.reorder_filters = pushdown;
    let ctx = SessionContext::new_with_config(config);
    ctx.register_table("App_CL", data.table_provider("App_CL").unwrap().unwrap())
        .unwrap();
    let batches = ctx
        .table("App_CL")
        .await
        .unwrap()
        .filter(filter)
        .unwrap()
        .select(vec![ident("Signer"), ident("Url"), ident("Big")])
        .unwrap()
        .collect()
        .await
        .unwrap();
    let mut rows = Vec::new();
    let mut types = Vec::new();
    for b in &batches {
        types = b.columns().iter().map(|c| c.data_type().clone()).collect();
        let (s, u, g) = (
            b.column(0).as_string::<i32>(),
            b.column(1).as_string::<i32>(),
            b.column(2).as_string::<i32>(),
        );
        for i in 0..b.num_rows() {
            rows.push(format!("{}|{}|{}", s.value(i), u.value(i), &g.value(i)[..4]));
        }
    }
    rows.sort();
    (rows, types)
}

fn expected(keep: impl Fn(usize) -> bool) -> Vec<String> {
    let mut rows: Vec<String> = (0..ROWS)
        .filter(|&i| keep(i))
        .map(|i| format!("{}|https://host{i}.example.com/p|{}", signer(i), &big(i)[..4]))
        .collect();
    rows.sort();
    rows
}

#[tokio::test]
async fn predicates_over_dictionaries_agree_with_the_plain_reading() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_dir(tmp.path());
    let signer_col = || ident("Signer");
    let cases: Vec<(Expr, Vec<String>)> = vec![
        (
            call("kql_has", vec![signer_col(), lit("action1 corporation")]),
            expected(|i| i % 5 == 0),
        ),
        (
            call("kql_has_any", vec![signer_col(), lit("google"), lit("ANYDESK")]),
            expected(|i| i % 5 == 2 || i % 5 == 3),
        ),
        // `== ""` matches the empty value.
        (
            call("kql_equals_cs", vec![signer_col(), lit("")]),
            expected(|i| i % 5 == 4),
        ),
        // Through a dictionary and a plain column together.
        (
            call("kql_has", vec![signer_col(), lit("Microsoft")])
                .and(call("kql_contains", vec![ident("Url"), lit("host1")])),
            expected(|i| i % 5 == 1 && format!("{i}").starts_with('1')),
        ),
        // The fallen-back column, and an operator that is not one of those predicates.
        (
            call("kql_startswith", vec![ident("Big"), lit("0007")]).or(signer_col().eq(lit("Google LLC"))),
            expected(|i| i % BIG_DISTINCT == 7 || i % 5 == 2),
        ),
        // A needle per row is not a constant: the column is decoded.
        (
            call("kql_has", vec![ident("Url"), signer_col()]),
            expected(|i| i % 5 == 4),
        ),
    ];
    for (filter, want) in cases {
        for pushdown in [false, true] {
            let (rows, types) = run(&data, pushdown, filter.clone()).await;
            assert_eq!(rows.len(), want.len(), "{filter} (pushdown {pushdown})");
            assert_eq!(rows, want, "{filter} (pushdown {pushdown})");
            if !rows.is_empty() {
                assert_eq!(types, vec![DataType::Utf8; 3], "the scan returns the table's types");
            }
        }
    }
}
