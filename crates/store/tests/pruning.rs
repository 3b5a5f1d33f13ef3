//! A one-day time range over 30 generated days reads about 1/30 of the data, as DataFusion's
//! scan metrics show.

use datafusion::common::ScalarValue;
use datafusion::functions::datetime::expr_fn::now;
use datafusion::functions_aggregate::expr_fn::{count, max};
use datafusion::physical_plan::collect;
use datafusion::prelude::{Expr, SessionContext, ident, lit};
use store::{DataDir, GenerateConfig, Output, ScanMetrics, generate, scan_metrics};

fn ts(s: &str) -> Expr {
    let n = schema::values::parse_datetime(s).unwrap();
    lit(ScalarValue::TimestampNanosecond(Some(n), None))
}

/// Runs `SELECT count(*), max(FileName) FROM t WHERE filter` and returns what it scanned.
async fn run(ctx: &SessionContext, t: &str, filter: Option<Expr>) -> (ScanMetrics, i64) {
    let mut df = ctx.table(t).await.unwrap();
    if let Some(f) = filter {
        df = df.filter(f).unwrap();
    }
    let df = df
        .aggregate(
            vec![],
            vec![count(lit(1)).alias("n"), max(ident("FileName")).alias("f")],
        )
        .unwrap();
    let plan = df.create_physical_plan().await.unwrap();
    let batches = collect(plan.clone(), ctx.task_ctx()).await.unwrap();
    let n = batches[0]
        .column(0)
        .as_any()
        .downcast_ref::<arrow::array::Int64Array>()
        .unwrap()
        .value(0);
    (scan_metrics(&plan), n)
}

#[tokio::test]
async fn one_day_of_thirty_reads_a_thirtieth() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("data");
    // Thirty days ending today, so that now()-relative bounds select recent days.
    let today = chrono::Utc::now().date_naive();
    let start = today - chrono::Duration::days(29);
    generate(&GenerateConfig {
        devices: 4,
        days: 30,
        start,
        volume: 0.2,
        rmm_fraction: 0.0,
        lookalike_fraction: 0.0,
        ..GenerateConfig::new(Output::DataDir(root.clone()))
    })
    .unwrap();
    let dir = DataDir::open(&root);
    let ctx = SessionContext::new();
    let t = "DeviceProcessEvents";
    ctx.register_table(t, dir.table_provider(t).unwrap().unwrap()).unwrap();
    let time = || ident("Timestamp");

    // The same columns as the one-day query, through a filter that prunes nothing.
    let (all, total) = run(&ctx, t, Some(time().gt_eq(ts(&format!("{start}T00:00:00Z"))))).await;
    assert_eq!(all.files, 30);

    let day = start + chrono::Duration::days(10);
    let between = time().between(ts(&format!("{day}T00:00:00Z")), ts(&format!("{day}T23:59:59.9999999Z")));
    let (one, rows) = run(&ctx, t, Some(between)).await;
    eprintln!("all: {all:?} ({total} rows)\none day: {one:?} ({rows} rows)");
    assert_eq!(one.files, 1, "one day partition of 30");
    assert!(rows > 0 && rows < total);
    let ratio = one.bytes_scanned as f64 / all.bytes_scanned as f64;
    assert!(ratio > 0.0 && ratio < 1.5 / 30.0, "read {ratio:.4} of the bytes");

    // now()-relative bounds (ago(1d)) prune too.
    let interval = lit(ScalarValue::IntervalMonthDayNano(Some(
        arrow::datatypes::IntervalMonthDayNano::new(0, 1, 0),
    )));
    let (recent, _) = run(&ctx, t, Some(time().gt(now() - interval))).await;
    assert!(recent.files <= 2, "{recent:?}");
    let (before, _) = run(&ctx, t, Some(time().lt(ts(&format!("{start}T12:00:00Z"))))).await;
    assert_eq!(before.files, 1);
    let (eq, _) = run(&ctx, t, Some(time().eq(ts(&format!("{day}T10:00:00Z"))))).await;
    assert_eq!(eq.files, 1);
    // A filter on another column reads every day.
    let (other, _) = run(&ctx, t, Some(ident("FileName").eq(lit("cmd.exe")))).await;
    assert_eq!(other.files, 30);
}

#[tokio::test]
async fn row_groups_prune_within_a_day() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("data");
    // One day with enough rows for several row groups (128 Ki rows) in its part.
    generate(&GenerateConfig {
        devices: 64,
        days: 1,
        start: chrono::NaiveDate::from_ymd_opt(2024, 5, 1).unwrap(),
        volume: 1.6,
        rmm_fraction: 0.0,
        lookalike_fraction: 0.0,
        ..GenerateConfig::new(Output::DataDir(root.clone()))
    })
    .unwrap();
    let dir = DataDir::open(&root);
    let ctx = SessionContext::new();
    let t = "DeviceImageLoadEvents";
    ctx.register_table(t, dir.table_provider(t).unwrap().unwrap()).unwrap();
    let f = ident("Timestamp")
        .gt_eq(ts("2024-05-01T03:00:00Z"))
        .and(ident("Timestamp").lt(ts("2024-05-01T03:10:00Z")));
    let (m, _) = run(&ctx, t, Some(f)).await;
    assert_eq!(m.files, 1);
    assert!(m.row_groups_pruned > 0, "{m:?}");
}
