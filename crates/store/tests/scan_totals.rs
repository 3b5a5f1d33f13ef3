//! The process-wide scan totals count what data-directory scans read, whoever runs them.
//! (Its own test binary: the totals are process-wide, other tests' scans would add to them.)

use datafusion::physical_plan::collect;
use datafusion::prelude::{SessionContext, ident, lit};
use store::{DataDir, GenerateConfig, Output, generate, scan_metrics, scan_totals};

#[tokio::test]
async fn totals_grow_by_what_a_scan_reads() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("data");
    generate(&GenerateConfig {
        devices: 8,
        days: 3,
        volume: 0.1,
        ..GenerateConfig::new(Output::DataDir(root.clone()))
    })
    .unwrap();
    let dir = DataDir::open(&root);
    let ctx = SessionContext::new();
    let t = "DeviceNetworkEvents";
    ctx.register_table(t, dir.table_provider(t).unwrap().unwrap()).unwrap();

    let before = scan_totals();
    let df = ctx
        .table(t)
        .await
        .unwrap()
        .filter(ident("RemotePort").eq(lit(443i64)))
        .unwrap()
        .select(vec![ident("RemoteUrl"), ident("DeviceId")])
        .unwrap();
    let plan = df.create_physical_plan().await.unwrap();
    collect(plan.clone(), ctx.task_ctx()).await.unwrap();
    let read = scan_totals().since(before);
    let metrics = scan_metrics(&plan);
    eprintln!("{read:?} {metrics:?}");
    assert!(read.bytes > 0);
    assert_eq!(
        read.bytes, metrics.bytes_scanned as u64,
        "the same fetches as DataFusion's metric"
    );

    // A second scan adds to the totals; nothing else does.
    let again = scan_totals();
    assert_eq!(again.since(scan_totals()), store::ScanTotals::default());
    let names = ctx
        .table(t)
        .await
        .unwrap()
        .select(vec![ident("DeviceName")])
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert!(!names.is_empty());
    assert!(scan_totals().since(again).bytes > 0);
}
