//! Tests of the shared scans: which tables are shared, what a scan keeps, its filters.

use super::keys::key_tests;
use super::*;
use engine::QueryOptions;
use rules::{Provenance, Rule, SourceFormat};

fn rule(id: &str, query: &str) -> Rule {
    Rule::new(id, id, query, Provenance::new(SourceFormat::BuiltinPack))
}

/// Which rules share which tables, and the budget.
#[test]
fn sharing_follows_the_filters_and_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    store::generate(&store::GenerateConfig {
        devices: 20,
        days: 1,
        volume: 0.02,
        rmm_fraction: 0.5,
        seed: 5,
        ..store::GenerateConfig::new(store::Output::DataDir(dir.path().to_path_buf()))
    })
    .unwrap();
    let base = Source::of_data_dir(dir.path());
    let rules = [
        rule("a", "DeviceProcessEvents | where FileName has 'AnyDesk' | count"),
        rule(
            "b",
            "DeviceProcessEvents | where ProcessVersionInfoCompanyName =~ 'TeamViewer GmbH' | count",
        ),
        // Reads the whole table: runs on its own.
        rule("c", "DeviceProcessEvents | summarize count() by FileName"),
        // Filtered by time only: runs on its own.
        rule("d", "DeviceProcessEvents | where Timestamp > ago(1d) | count"),
        // The only rule filtering this table: nothing to share.
        rule("e", "DeviceNetworkEvents | where RemoteUrl has 'anydesk.com' | count"),
        // Does not plan.
        rule("f", "DeviceProcessEvents | where NoSuchColumn has 'x'"),
    ];
    let options = QueryOptions { now: Some(0) };
    let plans: Vec<Option<OptimizedQuery>> = rules
        .iter()
        .map(|r| {
            let planned = base.engine.plan(&r.query, &options).ok()?;
            base.engine.optimize(planned).ok()
        })
        .collect();
    // Rule `e` as if it had an input exclusion on `e_runs - 1` slices.
    let inputs = |e_runs: usize| -> Vec<Option<ShareInput<'_>>> {
        plans
            .iter()
            .zip(&rules)
            .map(|(p, r)| {
                Some(ShareInput {
                    plan: p.as_ref()?,
                    runs: if r.id == "e" { e_runs } else { 1 },
                    columns: BTreeMap::new(),
                })
            })
            .collect()
    };
    let plans = inputs(1);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let shared = SharedScans::build(&plans, &base, rt.handle(), 1 << 30, &crate::Silent);
    assert_eq!(shared.report.len(), 1, "{:?}", shared.report);
    let scan = &shared.report[0];
    assert_eq!(
        (scan.table.as_str(), scan.rules, scan.abandoned.as_deref()),
        ("DeviceProcessEvents", 2, None)
    );
    assert!(scan.rows > 0, "AnyDesk is planted: {scan:?}");
    let on_shared: Vec<bool> = shared.per_rule.iter().map(|t| !t.is_empty()).collect();
    assert_eq!(on_shared, [true, true, false, false, false, false]);

    // Over budget: not shared, and said why.
    let tight = SharedScans::build(&plans, &base, rt.handle(), 1, &crate::Silent);
    assert_eq!(tight.report.len(), 1);
    let why = tight.report[0].abandoned.as_deref().expect("abandoned");
    assert!(why.contains("memory budget"), "{why}");
    assert!(tight.per_rule.iter().all(BTreeSet::is_empty));

    // A rule alone whose plan runs twice (its input slices) shares its table with
    // itself, and the rows keep the columns its exclusions read.
    let mut sliced = inputs(2);
    if let Some(Some(e)) = sliced.get_mut(4) {
        e.columns.insert(
            "DeviceNetworkEvents".into(),
            BTreeSet::from(["InitiatingProcessFileName".to_string()]),
        );
    }
    let shared = SharedScans::build(&sliced, &base, rt.handle(), 1 << 30, &crate::Silent);
    let tables: Vec<(&str, usize)> = shared.report.iter().map(|s| (s.table.as_str(), s.rules)).collect();
    assert_eq!(tables, [("DeviceNetworkEvents", 1), ("DeviceProcessEvents", 2)]);
    let mem = shared.table_for(4, "DeviceNetworkEvents").expect("shared with itself");
    let batches = rt.block_on(async {
        let state = base.engine.session().state();
        let plan = datafusion::catalog::TableProvider::scan(mem.as_ref(), &state, None, &[], None)
            .await
            .unwrap();
        datafusion::physical_plan::collect(plan, state.task_ctx())
            .await
            .unwrap()
    });
    let column = |name: &str| {
        batches
            .iter()
            .map(|b| b.column_by_name(name).expect(name).null_count())
            .sum::<usize>()
    };
    assert!(shared.report[0].rows > 0);
    assert_eq!(column("InitiatingProcessFileName"), 0, "the exclusion's column is kept");
    assert_eq!(column("RemoteUrl"), 0, "the rule's column is kept");
    assert_eq!(column("RemotePort"), shared.report[0].rows, "other columns are not");
}

/// A column as plans name it (DataFusion's `col()` lower-cases).
pub(super) fn col(name: &str) -> Expr {
    Expr::Column(Column::new_unqualified(name))
}

/// `column has needle`, as the planner lowers it.
pub(super) fn has(column: &str, needle: &str) -> Expr {
    functions::lower_binary(
        "has",
        functions::TypedExpr::new(col(column), schema::KqlType::String),
        functions::lit::string(needle),
    )
    .unwrap()
    .expr
}

#[test]
fn term_tests_are_found_in_conjunctions_and_both_sides_of_or() {
    use datafusion::prelude::lit;
    let time = col("Timestamp").gt(lit(1i64));
    let e = time.clone().and(has("Signer", "Action1"));
    assert_eq!(key_tests(&e).unwrap().len(), 1);
    // Of several conjuncts with terms, the one with the longer needles.
    let e = has("Company", "Google LLC").and(has("Product", "Chrome Remote Desktop"));
    assert_eq!(key_tests(&e).unwrap()[0].0, "Product");
    let e = has("Product", "Chrome Remote Desktop").and(has("Company", "Google LLC"));
    assert_eq!(key_tests(&e).unwrap()[0].0, "Product");
    let e = has("FileName", "a").or(has("Signer", "b"));
    assert_eq!(key_tests(&e).unwrap().len(), 2);
    // One side of the `or` has no term test: the row may match without any.
    assert!(key_tests(&has("FileName", "a").or(time.clone())).is_none());
    assert!(key_tests(&time).is_none());
    // A negated test implies nothing.
    assert!(key_tests(&Expr::Not(Box::new(has("FileName", "a")))).is_none());

    // `in`/`has_any` over an empty list is never true: keyed by no test at all, also
    // as a conjunct; `has_all` over an empty list is not keyed.
    let empty = |name: &str| {
        functions::kernels::kernel_udf(name)
            .expect("kernel")
            .call(vec![col("SHA1"), engine::literal::dynamic(&serde_json::json!([])).expr])
    };
    assert_eq!(key_tests(&empty(functions::kernels::IN_CS)), Some(Vec::new()));
    assert_eq!(key_tests(&empty(functions::kernels::HAS_ANY)), Some(Vec::new()));
    assert_eq!(
        key_tests(
            &time
                .clone()
                .and(has("FileName", "a"))
                .and(empty(functions::kernels::IN_CS))
        ),
        Some(Vec::new())
    );
    assert!(key_tests(&empty(functions::kernels::HAS_ALL)).is_none());
    // Such a predicate adds nothing to the scan; alone, nothing is read.
    let prefiltered = |ps: &[Expr]| prefilter(ps, &heuristic_keys(ps));
    assert_eq!(prefiltered(&[empty(functions::kernels::IN_CS)]), lit(false));
    let prefiltered = prefiltered(&[has("FileName", "a"), empty(functions::kernels::IN_CS)]);
    assert!(!prefiltered.to_string().contains("SHA1"), "{prefiltered}");
}

/// A keyed predicate keeps the rows its key finds (each rule filters them again); an
/// unkeyed one is evaluated whole.
#[test]
fn the_scan_keeps_what_the_keys_find() {
    let prefiltered = |ps: &[Expr]| prefilter(ps, &heuristic_keys(ps)).to_string();
    let computed = col("FileName").eq(col("FolderPath"));
    let keyed = has("FileName", "a").and(computed.clone());
    let kept = prefiltered(std::slice::from_ref(&keyed));
    assert!(
        kept.starts_with("kql_multi_match(FileName)") && !kept.contains("FolderPath"),
        "{kept}"
    );
    let kept = prefiltered(&[keyed, computed.clone()]);
    assert!(kept.contains("kql_multi_match(FileName) OR"), "{kept}");
    assert!(kept.contains(&computed.to_string()), "{kept}");
}

/// Each predicate's key chosen from its needles alone (no sample).
pub(super) fn heuristic_keys(predicates: &[Expr]) -> Vec<Option<Key>> {
    choose_keys(&predicates.iter().map(key_candidates).collect::<Vec<_>>(), None)
}

/// What the shared scan gets: the range filter and the term pass.
fn scan_filters(predicates: &[Expr]) -> Vec<Expr> {
    range_filter(predicates)
        .into_iter()
        .chain(term_filter(&heuristic_keys(predicates)))
        .collect()
}

/// What the shared scan itself evaluates: constant comparisons every predicate makes
/// (or-ed across predicates) and the term pass, only when each predicate has them.
#[test]
fn the_scan_gets_the_cheap_filters_every_predicate_implies() {
    use datafusion::prelude::lit;
    let recent = col("Timestamp").gt_eq(lit(10i64));
    let older = col("Timestamp").between(lit(1i64), lit(5i64));
    // Neither a comparison with a constant nor a term test.
    let computed = col("FileName").eq(col("FolderPath"));
    let a = recent.clone().and(has("Signer", "Action1")).and(computed.clone());
    let b = older.clone().and(has("FileName", "b"));
    let names = |fs: &[Expr]| fs.iter().map(|f| f.to_string()).collect::<Vec<_>>();
    let filters = scan_filters(&[a.clone(), b.clone()]);
    assert_eq!(filters.len(), 2, "{:?}", names(&filters));
    assert_eq!(filters[0], recent.clone().or(older.clone()));
    let matcher = filters[1].to_string();
    assert!(
        matcher.contains("kql_multi_match(FileName)") && matcher.contains("kql_multi_match(Signer)"),
        "{matcher}"
    );
    // A column under a cast compared with a constant counts too.
    let cast = Expr::Cast(datafusion::logical_expr::Cast::new(
        Box::new(col("Timestamp")),
        datafusion::arrow::datatypes::DataType::Int64,
    ))
    .gt(lit(3i64));
    assert_eq!(scan_filters(&[cast.clone().and(has("FileName", "e"))])[0], cast);
    // The same time filter in every rule is one comparison.
    let c = recent.clone().and(has("FileName", "c"));
    assert_eq!(scan_filters(&[a.clone(), c])[0], recent);
    // A predicate without a constant comparison: no range for the scan; one without a
    // term test: no term pass.
    let filters = scan_filters(&[a.clone(), has("FileName", "d")]);
    assert_eq!(filters.len(), 1);
    assert!(
        filters[0].to_string().starts_with("kql_multi_match"),
        "{:?}",
        names(&filters)
    );
    let filters = scan_filters(&[a, older.clone()]);
    assert_eq!(filters, vec![recent.or(older)]);
    assert!(scan_filters(&[computed]).is_empty());
}
