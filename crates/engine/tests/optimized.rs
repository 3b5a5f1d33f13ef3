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

/// An engine with other partitions runs the same plans to the same answers, over the
/// same catalog and memory pool.
#[test]
fn an_engine_with_one_partition_gives_the_same_answers() {
    let rows: Vec<serde_json::Value> = (0..50)
        .map(|i| json!({"DeviceName": format!("d{}", i % 7), "FileName": format!("f{}.exe", i % 3)}))
        .collect();
    let c = catalog(&[("DeviceProcessEvents", rows)]);
    let engine = Engine::new(Arc::new(c)).unwrap();
    let one = engine.with_target_partitions(1);
    assert_eq!(one.session().state().config().target_partitions(), 1);
    assert_eq!(one.memory_limit(), engine.memory_limit());
    let options = QueryOptions { now: Some(NOW) };
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    for query in [
        "DeviceProcessEvents | summarize c = count() by DeviceName, FileName",
        "DeviceProcessEvents | where FileName has 'f1' | order by DeviceName asc | take 4 | project DeviceName",
        "DeviceProcessEvents | join kind=inner (DeviceProcessEvents | distinct DeviceName) on DeviceName | count",
    ] {
        let optimized = engine.optimize(engine.plan(query, &options).unwrap()).unwrap();
        let mut want = rt.block_on(engine.execute_optimized(&optimized)).unwrap();
        let mut got = rt.block_on(one.execute_optimized(&optimized)).unwrap();
        // A summarize's rows come in no particular order (in Kusto either).
        let text = |r: &mut Vec<engine::QueryResult>| {
            let mut rows = r.pop().unwrap().text_rows().unwrap();
            rows.sort();
            rows
        };
        assert_eq!(text(&mut got), text(&mut want), "{query}");
    }
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

/// The depth of `or`/`and` nodes in `e`.
fn logic_depth(e: &datafusion::logical_expr::Expr) -> usize {
    use datafusion::logical_expr::{BinaryExpr, Expr, Operator};
    match e {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Or | Operator::And,
            right,
        }) => 1 + logic_depth(left).max(logic_depth(right)),
        _ => 0,
    }
}

/// A chain of one logical operator is lowered as a balanced tree (the analyzer's cost of a
/// left-deep chain grows with its square), and still means the chain; a chain with an
/// operand of another type reports the first operator that fails.
#[test]
fn logical_chains_are_balanced_and_keep_their_meaning() {
    use datafusion::common::tree_node::TreeNode;
    use datafusion::logical_expr::LogicalPlan;
    let rows: Vec<serde_json::Value> = ["f3.exe", "f15.exe", "other.exe"]
        .iter()
        .enumerate()
        .map(|(i, f)| json!({"DeviceName": format!("d{i}"), "FileName": f, "ProcessId": i}))
        .collect();
    let c = catalog(&[("DeviceProcessEvents", rows)]);
    let run = |q: &str| cells(&crate::common::run(&c, q));
    let engine = Engine::new(Arc::new(c.clone())).unwrap();
    let options = QueryOptions { now: Some(NOW) };
    let filter_of = |query: &str| {
        let planned = engine.plan(query, &options).unwrap();
        let mut filter = None;
        planned.results[0]
            .plan
            .apply(|p| {
                if let LogicalPlan::Filter(f) = p {
                    filter = Some(f.predicate.clone());
                }
                Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
            })
            .unwrap();
        filter.unwrap_or_else(|| panic!("no filter in {}", planned.results[0].plan.display_indent()))
    };
    // 16 operands: 4 levels of `or` over each `ProcessId IS NOT NULL AND ProcessId = …`
    // (left-deep: 16).
    let any = [0, 1]
        .into_iter()
        .chain(100..114)
        .map(|n| format!("ProcessId == {n}"))
        .collect::<Vec<_>>()
        .join(" or ");
    let query = format!("DeviceProcessEvents | where {any} | project DeviceName");
    assert_eq!(logic_depth(&filter_of(&query)), 5, "{}", filter_of(&query));
    assert_eq!(run(&query), [["d0"], ["d1"]]);
    // Tests of one string against constants are one `kql_multi_match` (`ops::fold`).
    let any = (0..16)
        .map(|i| format!("FileName == 'f{i}.exe'"))
        .collect::<Vec<_>>()
        .join(" or ");
    let query = format!("DeviceProcessEvents | where {any} | project DeviceName");
    let filter = filter_of(&query).to_string();
    assert!(
        filter.starts_with("kql_multi_match(") && !filter.contains(" OR "),
        "{filter}"
    );
    assert_eq!(run(&query), [["d0"], ["d1"]]);
    // Two tests too, with `endswith`'s case-insensitivity.
    let query = "DeviceProcessEvents | where FileName == 'f3.exe' or FileName endswith '15.EXE' | project DeviceName";
    let filter = filter_of(query).to_string();
    assert!(
        filter.starts_with("kql_multi_match(") && !filter.contains(" OR "),
        "{filter}"
    );
    assert_eq!(run(query), [["d0"], ["d1"]]);
    // Negated tests in an `and`: `not(kql_multi_match(…))`.
    let query = "DeviceProcessEvents | where FileName != 'f3.exe' and FileName !endswith '15.EXE' | project DeviceName";
    let filter = filter_of(query).to_string();
    assert!(
        filter.starts_with("NOT kql_multi_match(") && !filter.contains(" AND "),
        "{filter}"
    );
    assert_eq!(run(query), [["d2"]]);
    // `and` chains, mixed with `or` by precedence.
    let query = "DeviceProcessEvents | where FileName != 'x' and ProcessId >= 0 and ProcessId < 2 and DeviceName != 'd9' or DeviceName == 'd2' | project DeviceName";
    assert_eq!(run(query), [["d0"], ["d1"], ["d2"]]);
    // Not a bool: the error is on `FileName == 'x' or 5`, as when lowered left to right.
    let query = "DeviceProcessEvents | where FileName == 'x' or 5 or FileName == 'y'";
    let Err(engine::QueryError::Invalid(diagnostics)) = engine.plan(query, &options) else {
        panic!("an error")
    };
    assert_eq!(diagnostics.len(), 1);
    let d = &diagnostics[0];
    assert!(d.message.contains("bool and long"), "{}", d.message);
    assert_eq!(
        &query[d.span.start as usize..d.span.end as usize],
        "FileName == 'x' or 5"
    );
}

/// The lowest projection over a table scan, as the number of its expressions.
fn scan_projection_width(plan: &datafusion::logical_expr::LogicalPlan) -> Option<usize> {
    use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
    use datafusion::logical_expr::LogicalPlan;
    let mut width = None;
    plan.apply(|p| {
        if let LogicalPlan::Projection(proj) = p
            && matches!(proj.input.as_ref(), LogicalPlan::TableScan(_))
        {
            width = Some(proj.expr.len());
        }
        Ok(TreeNodeRecursion::Continue)
    })
    .unwrap();
    width
}

/// Planned queries are pruned to the columns they use before DataFusion analyzes them: the
/// scan's projection of every column narrows, the output stays the same, and the optimized
/// plan is the one the optimizer makes from the unpruned plan.
#[test]
fn planned_queries_are_pruned_to_the_columns_they_use() {
    let engine = Engine::new(Arc::new(engine::SchemaCatalog::builtin())).unwrap();
    let options = QueryOptions { now: Some(NOW) };
    let queries = [
        "DeviceProcessEvents | where Timestamp > ago(1d) and FileName has 'anydesk' | summarize c = count() by DeviceName",
        "DeviceNetworkEvents | extend Host = tolower(extract(@'^([^/:]+)', 1, RemoteUrl)) | where Host endswith '.example.com' | project DeviceName, Host",
        "DeviceProcessEvents | join kind=inner (DeviceNetworkEvents | where RemotePort == 443) on DeviceId | project DeviceId, FileName, RemoteUrl",
        "union DeviceProcessEvents, DeviceFileEvents | where FileName =~ 'x.exe' | take 5 | project DeviceName, FileName",
        "DeviceProcessEvents | where SHA1 in ((DeviceFileCertificateInfo | where Signer has 'x' | distinct SHA1)) | count",
    ];
    let state = engine.session().state();
    for query in queries {
        let planned = engine.plan(query, &options).unwrap();
        for r in &planned.results {
            let wide = scan_projection_width(&r.plan).expect("a projection over the scan");
            let pruned = engine::prune_columns(r.plan.clone());
            assert_eq!(pruned.schema(), r.plan.schema(), "{query}");
            let narrow = scan_projection_width(&pruned).unwrap_or(0);
            assert!(
                narrow < wide / 4,
                "{query}: {narrow} of {wide} columns read\n{}",
                pruned.display_indent()
            );
            assert_eq!(
                state.optimize(&pruned).unwrap().display_indent_schema().to_string(),
                state.optimize(&r.plan).unwrap().display_indent_schema().to_string(),
                "{query}"
            );
        }
    }
}
