//! Input slices without planning the rule again: a table restricted to the rows its input
//! exclusions keep (or to those one of them suppresses) is a [`SliceTable`] that stands in
//! for the table in the rule's optimized plan (see [`engine::OptimizedQuery::with_tables`]).
//!
//! Each input exclusion is planned once per table it applies to, as `T | where <predicate>`;
//! the optimizer pushes the filter onto the table scan, where it reads the table's own
//! columns. The slices combine those predicates as the KQL of
//! [`crate::exclusions::input_catalog`] does: kept rows are those no exclusion is true for
//! (`iff(p, false, true)`: null counts as false, as in `where`), and the rows exclusion `i`
//! suppresses are those it is true for and no earlier one is.

use crate::exclusions::{ExclusionMode, ExclusionPlan, InputSlice};
use crate::fused::{has_subquery, unqualified};
use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::DFSchema;
use datafusion::datasource::TableType;
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{Expr, LogicalPlan, TableProviderFilterPushDown};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Column as PhysicalColumn;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::projection::ProjectionExec;
use engine::{Engine, QueryOptions};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

/// The predicates of a rule's input exclusions over the columns of each table they apply
/// to, in exclusion order.
#[derive(Debug, Clone)]
pub(crate) struct SlicePredicates {
    by_table: BTreeMap<String, Vec<(usize, Expr)>>,
}

impl SlicePredicates {
    /// Plans the input exclusions of `plans` over their tables. `None` when one of them
    /// does not reduce to a filter on the table's columns (a subquery, a filter the
    /// optimizer folded away): then the rule is planned again over views of its tables.
    pub fn plan(
        plans: &[ExclusionPlan],
        engine: &Engine,
        options: &QueryOptions,
        planned: &ScanFilters,
    ) -> Option<SlicePredicates> {
        let mut by_table: BTreeMap<String, Vec<(usize, Expr)>> = BTreeMap::new();
        for p in plans {
            let ExclusionMode::Input { tables } = &p.mode else {
                continue;
            };
            for table in tables {
                let filter = planned.get(table, &p.predicate, || {
                    let query = format!("{table}\n| where ({})", p.predicate);
                    let planned = engine.plan(&query, options).ok()?;
                    if !planned.planning_reads.is_empty() {
                        return None;
                    }
                    let optimized = engine.optimize(planned).ok()?;
                    let [result] = optimized.results.as_slice() else {
                        return None;
                    };
                    scan_filter(&result.plan, table)
                })?;
                by_table.entry(table.clone()).or_default().push((p.index, filter));
            }
        }
        Some(SlicePredicates { by_table })
    }

    /// Per table, the columns its input exclusions read: a shared scan of the table must
    /// keep them too, although the rule's plan may not read them.
    pub fn columns(&self) -> BTreeMap<String, BTreeSet<String>> {
        self.by_table
            .iter()
            .map(|(table, predicates)| {
                let columns = predicates
                    .iter()
                    .flat_map(|(_, p)| p.column_refs())
                    .map(|c| c.name.clone())
                    .collect();
                (table.clone(), columns)
            })
            .collect()
    }

    /// The tables `slice` restricts, each as a [`SliceTable`] over `inner(table)` (the
    /// table's provider, or its shared rows).
    pub fn providers(
        &self,
        slice: InputSlice,
        inner: &dyn Fn(&str) -> Option<Arc<dyn TableProvider>>,
    ) -> BTreeMap<String, Arc<dyn TableProvider>> {
        let mut out: BTreeMap<String, Arc<dyn TableProvider>> = BTreeMap::new();
        for (table, predicates) in &self.by_table {
            let not_true = |p: &Expr| Expr::IsNotTrue(Box::new(p.clone()));
            let conds: Vec<Expr> = match slice {
                InputSlice::Kept => predicates.iter().map(|(_, p)| not_true(p)).collect(),
                InputSlice::SuppressedBy(i) => {
                    let Some((_, me)) = predicates.iter().find(|(index, _)| *index == i) else {
                        continue;
                    };
                    std::iter::once(Expr::IsTrue(Box::new(me.clone())))
                        .chain(
                            predicates
                                .iter()
                                .filter(|(index, _)| *index < i)
                                .map(|(_, p)| not_true(p)),
                        )
                        .collect()
                }
            };
            let (Some(predicate), Some(inner)) = (conjunction(conds), inner(table)) else {
                continue;
            };
            out.insert(table.clone(), Arc::new(SliceTable { inner, predicate }));
        }
        out
    }
}

/// The filters input exclusions plan to, by table and predicate, for one hunt (one `now()`):
/// rules of a pack share their exclusions (every process rule of the RMM pack has the same
/// uninstaller exclusion), and each is planned once. `None`: it does not reduce to a filter.
#[derive(Default)]
pub(crate) struct ScanFilters(Mutex<HashMap<(String, String), Option<Expr>>>);

impl ScanFilters {
    /// The filter of `predicate` over `table`, planned by `plan` the first time.
    fn get(&self, table: &str, predicate: &str, plan: impl FnOnce() -> Option<Expr>) -> Option<Expr> {
        let key = (table.to_string(), predicate.to_string());
        if let Some(hit) = self.0.lock().unwrap_or_else(PoisonError::into_inner).get(&key) {
            return hit.clone();
        }
        // Planned outside the lock: two rules may plan the same exclusion at once, and agree.
        let filter = plan();
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, filter.clone());
        filter
    }
}

/// The predicate of `plan` when it is projections over a filter directly on a scan of
/// `table`, with its columns unqualified (the scan's own columns).
fn scan_filter(plan: &LogicalPlan, table: &str) -> Option<Expr> {
    let mut node = plan;
    while let LogicalPlan::Projection(p) = node {
        node = p.input.as_ref();
    }
    let LogicalPlan::Filter(filter) = node else {
        return None;
    };
    let LogicalPlan::TableScan(scan) = filter.input.as_ref() else {
        return None;
    };
    if scan.table_name.table() != table || filter.predicate.is_volatile() || has_subquery(&filter.predicate) {
        return None;
    }
    Some(unqualified(&filter.predicate))
}

/// A table restricted to the rows `predicate` (over its columns) is true for.
#[derive(Debug)]
pub(crate) struct SliceTable {
    inner: Arc<dyn TableProvider>,
    predicate: Expr,
}

#[async_trait]
impl TableProvider for SliceTable {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> DfResult<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    /// The inner table's scan of the projected columns and those the predicate reads
    /// (with the query's filters, which it may prune by), filtered by the predicate and
    /// projected. The limit is not passed on: it holds for the filtered rows.
    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        _limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let schema = self.inner.schema();
        let mut columns: Vec<usize> = match projection {
            Some(p) => p.clone(),
            None => (0..schema.fields().len()).collect(),
        };
        let wanted = columns.len();
        for c in self.predicate.column_refs() {
            let i = schema.index_of(&c.name)?;
            if !columns.contains(&i) {
                columns.push(i);
            }
        }
        let input = self.inner.scan(state, Some(&columns), filters, None).await?;
        let input_schema = DFSchema::try_from(input.schema().as_ref().clone())?;
        let predicate = state.create_physical_expr(self.predicate.clone(), &input_schema)?;
        let filtered: Arc<dyn ExecutionPlan> = Arc::new(FilterExec::try_new(predicate, input)?);
        if wanted == columns.len() {
            return Ok(filtered);
        }
        let output = filtered.schema();
        let exprs: Vec<(Arc<dyn PhysicalExpr>, String)> = (0..wanted)
            .map(|i| {
                let name = output.field(i).name().clone();
                (Arc::new(PhysicalColumn::new(&name, i)) as Arc<dyn PhysicalExpr>, name)
            })
            .collect();
        Ok(Arc::new(ProjectionExec::try_new(exprs, filtered)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exclusions::input_catalog;
    use crate::fused::Source;
    use engine::TableCatalog;

    fn input(index: usize, predicate: &str) -> ExclusionPlan {
        ExclusionPlan {
            index,
            scenario: String::new(),
            exclusion: predicate.into(),
            predicate: predicate.into(),
            columns: Vec::new(),
            mode: ExclusionMode::Input {
                tables: vec!["DeviceProcessEvents".into()],
            },
            problem: None,
        }
    }

    fn rows(results: &[engine::QueryResult]) -> Vec<String> {
        let mut out: Vec<String> = results
            .iter()
            .flat_map(|r| r.json_rows().unwrap())
            .map(|r| serde_json::to_string(&r).unwrap())
            .collect();
        out.sort();
        out
    }

    /// Every slice holds exactly the rows of the KQL views the rule would otherwise be
    /// planned over: null-valued predicates, `now()`, several exclusions in order.
    #[test]
    fn slices_hold_the_rows_of_the_exclusion_views() {
        let dir = tempfile::tempdir().unwrap();
        store::generate(&store::GenerateConfig {
            devices: 12,
            days: 2,
            volume: 0.02,
            rmm_fraction: 0.5,
            seed: 9,
            ..store::GenerateConfig::new(store::Output::DataDir(dir.path().to_path_buf()))
        })
        .unwrap();
        let Source { engine, catalog } = Source::of_data_dir(dir.path());
        let now = store::DataDir::open(dir.path())
            .newest_time("DeviceProcessEvents")
            .unwrap()
            .unwrap();
        let options = QueryOptions { now: Some(now) };
        let plans = [
            input(0, "ProcessCommandLine has_any ('powershell', '/c')"),
            input(1, "FileName =~ 'SVCHOST.exe' or FileName =~ 'Explorer.EXE'"),
            // Null for rows without a company (`toint("")`): kept, not suppressed.
            input(
                2,
                "strlen(ProcessVersionInfoCompanyName) > 9 or toint(ProcessVersionInfoCompanyName) > 0",
            ),
            input(3, "Timestamp < ago(1d)"),
        ];
        let slices =
            SlicePredicates::plan(&plans, &engine, &options, &ScanFilters::default()).expect("plain predicates");
        let query = "DeviceProcessEvents | project Timestamp, DeviceId, FileName, ProcessCommandLine, ProcessVersionInfoCompanyName";
        let optimized = engine.optimize(engine.plan(query, &options).unwrap()).unwrap();
        let table = |t: &str| catalog.table(t).map(|c| c.provider);
        let mut total = 0;
        for slice in [
            InputSlice::Kept,
            InputSlice::SuppressedBy(0),
            InputSlice::SuppressedBy(1),
            InputSlice::SuppressedBy(2),
            InputSlice::SuppressedBy(3),
        ] {
            let providers = slices.providers(slice, &table);
            assert_eq!(providers.keys().collect::<Vec<_>>(), ["DeviceProcessEvents"]);
            let q = optimized.with_tables(&|t| providers.get(t).cloned()).unwrap();
            let got = rows(&futures::executor::block_on(engine.execute_optimized(&q)).unwrap());
            let views = input_catalog(&catalog, &engine, &plans, slice, &options).unwrap();
            let want = rows(&engine.with_catalog(views).query_blocking(query, &options).unwrap());
            assert_eq!(got, want, "{slice:?}");
            assert!(!got.is_empty(), "{slice:?} has rows");
            total += got.len();
        }
        // Rows a null predicate leaves in no suppressed slice are kept.
        let all = rows(&engine.query_blocking(query, &options).unwrap());
        assert_eq!(total, all.len());
    }

    #[test]
    fn subqueries_and_folded_filters_are_not_slices() {
        let catalog: Arc<dyn TableCatalog> = Arc::new(engine::SchemaCatalog::new(schema::Catalog::builtin().clone()));
        let engine = Engine::new(catalog).unwrap();
        let options = QueryOptions { now: Some(0) };
        for predicate in [
            "DeviceId in ((DeviceInfo | where OSPlatform == 'Windows10' | project DeviceId))",
            "1 == 1",
        ] {
            assert!(
                SlicePredicates::plan(&[input(0, predicate)], &engine, &options, &ScanFilters::default()).is_none(),
                "{predicate}"
            );
        }
    }

    /// An exclusion is planned once per table in a hunt, also when it plans to nothing.
    #[test]
    fn exclusion_filters_are_planned_once_per_table() {
        use datafusion::prelude::{col, lit};
        let filters = ScanFilters::default();
        let planned = std::cell::Cell::new(0);
        let plan = |e: Option<Expr>| {
            planned.set(planned.get() + 1);
            e
        };
        let e = col("FileName").eq(lit("a"));
        let predicate = "FileName == 'a'";
        for _ in 0..3 {
            assert_eq!(
                filters.get("DeviceProcessEvents", predicate, || plan(Some(e.clone()))),
                Some(e.clone())
            );
        }
        assert_eq!(planned.get(), 1);
        assert_eq!(filters.get("DeviceFileEvents", predicate, || plan(None)), None);
        assert_eq!(
            filters.get("DeviceFileEvents", predicate, || plan(Some(e.clone()))),
            None
        );
        assert_eq!(planned.get(), 2);
    }
}
