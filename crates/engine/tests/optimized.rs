//! Plans optimized once and run over other tables (`Engine::optimize`,
//! `OptimizedQuery::with_tables`, `Engine::execute_optimized`), and the tables planning
//! read (`planning_reads`).

use crate::common::{NOW, batch, catalog};
use datafusion::catalog::{MemTable, TableProvider};
use engine::{Engine, QueryOptions};
use serde_json::json;
use std::sync::Arc;

fn table(name: &str, rows: &[serde_json::Value]) -> Arc<dyn TableProvider> {
    let schema = schema::Catalog::builtin().get(name).expect("built-in").as_ref().clone();
    let b = batch(&schema, rows);
    Arc::new(MemTable::try_new(b.schema(), vec![vec![b]]).expect("table"))
}

fn cells(results: &[engine::QueryResult]) -> Vec<Vec<String>> {
    let mut rows = results.last().expect("a result").text_rows().expect("rows");
    rows.sort();
    rows
}

#[test]
fn an_optimized_plan_runs_over_replaced_tables() {
    let c = catalog(&[(
        "DeviceProcessEvents",
        vec![
            json!({"DeviceName": "a", "FileName": "AnyDesk.exe"}),
            json!({"DeviceName": "b", "FileName": "cmd.exe"}),
        ],
    )]);
    let engine = Engine::new(Arc::new(c)).unwrap();
    let options = QueryOptions { now: Some(NOW) };
    let query = "let names = datatable(n:string) ['AnyDesk.exe', 'TeamViewer.exe'];
        DeviceProcessEvents | where FileName in (names) | summarize c = count() by DeviceName";
    let planned = engine.plan(query, &options).unwrap();
    assert!(
        planned.planning_reads.iter().all(|t| t.starts_with("__quarry_")),
        "{:?}",
        planned.planning_reads
    );
    let optimized = engine.optimize(planned).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let run = |q: &engine::OptimizedQuery| cells(&rt.block_on(engine.execute_optimized(q)).unwrap());
    assert_eq!(run(&optimized), [["a", "1"]]);

    let other = table(
        "DeviceProcessEvents",
        &[
            json!({"DeviceName": "x", "FileName": "TeamViewer.exe"}),
            json!({"DeviceName": "x", "FileName": "AnyDesk.exe"}),
            json!({"DeviceName": "y", "FileName": "notepad.exe"}),
        ],
    );
    let replaced = optimized
        .with_tables(&|t| (t == "DeviceProcessEvents").then(|| other.clone()))
        .unwrap();
    assert_eq!(run(&replaced), [["x", "2"]]);
    // The original is unchanged.
    assert_eq!(run(&optimized), [["a", "1"]]);

    // A table of another shape cannot stand in.
    let wrong = table("DeviceNetworkEvents", &[]);
    let err = optimized
        .with_tables(&|t| (t == "DeviceProcessEvents").then(|| wrong.clone()))
        .unwrap_err();
    assert!(err.contains("DeviceProcessEvents"), "{err}");
}

#[test]
fn planning_reads_names_the_tables_constant_subqueries_read() {
    let c = catalog(&[
        (
            "DeviceFileCertificateInfo",
            vec![json!({"SHA1": "s1", "Signer": "Action1 Corporation"})],
        ),
        ("DeviceProcessEvents", vec![json!({"SHA1": "s1", "DeviceName": "a"})]),
    ]);
    let engine = Engine::new(Arc::new(c)).unwrap();
    let options = QueryOptions { now: Some(NOW) };
    let planned = engine
        .plan(
            "let signed = DeviceFileCertificateInfo | where Signer has 'Action1' | distinct SHA1;
             DeviceProcessEvents | where SHA1 in (signed) | project DeviceName",
            &options,
        )
        .unwrap();
    assert!(planned.planning_reads.contains("DeviceFileCertificateInfo"));
    assert!(!planned.planning_reads.contains("DeviceProcessEvents"));
    let planned = engine.plan("DeviceProcessEvents | take 1", &options).unwrap();
    assert!(planned.planning_reads.is_empty());
}
