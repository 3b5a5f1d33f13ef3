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
use datafusion::arrow::array::{Array, BooleanArray};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::DFSchema;
use datafusion::datasource::{MemTable, TableType};
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
        for table in self.by_table.keys() {
            let (Some(predicate), Some(inner)) = (self.predicate(slice, table), inner(table)) else {
                continue;
            };
            out.insert(table.clone(), Arc::new(SliceTable { inner, predicate }));
        }
        out
    }

    /// The rows of `table` in `slice`: none of the exclusions is true for them (kept), or
    /// exclusion `i` is and no earlier one (suppressed by `i`). `None`: `slice` does not
    /// restrict `table`.
    pub fn predicate(&self, slice: InputSlice, table: &str) -> Option<Expr> {
        let predicates = self.by_table.get(table)?;
        let not_true = |p: &Expr| Expr::IsNotTrue(Box::new(p.clone()));
        let conds: Vec<Expr> = match slice {
            InputSlice::Kept => predicates.iter().map(|(_, p)| not_true(p)).collect(),
            InputSlice::SuppressedBy(i) => {
                let (_, me) = predicates.iter().find(|(index, _)| *index == i)?;
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
        conjunction(conds)
    }

    /// The tables the exclusions restrict.
    pub fn tables(&self) -> impl Iterator<Item = &str> {
        self.by_table.keys().map(String::as_str)
    }
}

/// Whether `plan` has no result rows when its scans of `table` have none: every operator
/// from the result down to those scans gives no rows for no input (a filter, a
/// projection, a summarize by keys, an inner join…), unlike a summarize without keys
/// (`count()` is 0) or a left join without right rows (its left rows stay unmatched),
/// which answer over no rows.
pub(crate) fn empty_without(plan: &LogicalPlan, table: &str) -> bool {
    use datafusion::logical_expr::{Expr as E, JoinType};
    match plan {
        LogicalPlan::TableScan(scan) => scan.table_name.table() == table,
        LogicalPlan::Projection(p) => empty_without(&p.input, table),
        LogicalPlan::Filter(f) => empty_without(&f.input, table),
        LogicalPlan::Sort(s) => empty_without(&s.input, table),
        LogicalPlan::Limit(l) => empty_without(&l.input, table),
        LogicalPlan::SubqueryAlias(a) => empty_without(&a.input, table),
        LogicalPlan::Window(w) => empty_without(&w.input, table),
        LogicalPlan::Unnest(u) => empty_without(&u.input, table),
        LogicalPlan::Repartition(r) => empty_without(&r.input, table),
        LogicalPlan::Distinct(d) => empty_without(d.input(), table),
        LogicalPlan::Aggregate(a) => {
            !a.group_expr.is_empty()
                && !a.group_expr.iter().any(|e| matches!(e, E::GroupingSet(_)))
                && empty_without(&a.input, table)
        }
        LogicalPlan::Join(j) => {
            let left = || empty_without(&j.left, table);
            let right = || empty_without(&j.right, table);
            match j.join_type {
                JoinType::Inner => left() || right(),
                JoinType::Left | JoinType::LeftSemi | JoinType::LeftAnti | JoinType::LeftMark => left(),
                JoinType::Right | JoinType::RightSemi | JoinType::RightAnti | JoinType::RightMark => right(),
                JoinType::Full => left() && right(),
            }
        }
        LogicalPlan::Union(u) => u.inputs.iter().all(|i| empty_without(i, table)),
        _ => false,
    }
}

/// Per hunt, whether the shared rows of a table hold any row a slice predicate is true for
/// (the rules of a pack share their exclusions: each is evaluated once).
#[derive(Default)]
pub(crate) struct SliceRows(Mutex<HashMap<(String, Expr), bool>>);

impl SliceRows {
    /// Whether no row of `rows` (the shared rows of `table`) satisfies `predicate`.
    /// `None` when `rows` is not a table of rows in memory or the predicate does not
    /// evaluate over them.
    pub fn none_in(&self, engine: &Engine, table: &str, rows: &dyn TableProvider, predicate: &Expr) -> Option<bool> {
        let key = (table.to_string(), predicate.clone());
        if let Some(hit) = self.0.lock().unwrap_or_else(PoisonError::into_inner).get(&key) {
            return Some(*hit);
        }
        let mem = (rows as &dyn std::any::Any).downcast_ref::<MemTable>()?;
        let schema = DFSchema::try_from(mem.schema().as_ref().clone()).ok()?;
        let expr = engine
            .session()
            .state()
            .create_physical_expr(predicate.clone(), &schema)
            .ok()?;
        let mut none = true;
        for partition in &mem.batches {
            let batches = partition.try_read().ok()?;
            for batch in batches.iter() {
                let value = expr.evaluate(batch).ok()?.into_array(batch.num_rows()).ok()?;
                let flags = value.as_any().downcast_ref::<BooleanArray>()?;
                if flags.true_count() > 0 {
                    none = false;
                }
            }
        }
        self.0.lock().unwrap_or_else(PoisonError::into_inner).insert(key, none);
        Some(none)
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

    /// Which plans have no rows without those of a table: the operators that answer over
    /// no rows (a summarize without keys, the right side of a left join, unions) keep the rule
    /// running over an empty slice.
    #[test]
    fn plans_empty_without_a_table() {
        let catalog: Arc<dyn TableCatalog> = Arc::new(engine::SchemaCatalog::new(schema::Catalog::builtin().clone()));
        let engine = Engine::new(catalog).unwrap();
        let options = QueryOptions { now: Some(0) };
        let p = "DeviceProcessEvents";
        let n = "DeviceNetworkEvents";
        let cases = [
            (
                "DeviceProcessEvents | where FileName has 'x' | summarize c = count() by DeviceId",
                p,
                true,
            ),
            (
                "DeviceProcessEvents | extend y = strlen(FileName) | top 5 by y | project DeviceId, y",
                p,
                true,
            ),
            ("DeviceProcessEvents | distinct DeviceId, FileName", p, true),
            ("DeviceProcessEvents | summarize c = count()", p, false),
            ("DeviceProcessEvents | count", p, false),
            (
                "DeviceProcessEvents | where FileName has 'x' | summarize c = count() by DeviceId",
                n,
                false,
            ),
            (
                "DeviceProcessEvents | join kind=inner (DeviceNetworkEvents) on DeviceId",
                n,
                true,
            ),
            (
                "DeviceProcessEvents | join kind=leftouter (DeviceNetworkEvents) on DeviceId",
                p,
                true,
            ),
            (
                "DeviceProcessEvents | join kind=leftouter (DeviceNetworkEvents) on DeviceId",
                n,
                false,
            ),
            (
                "DeviceProcessEvents | join kind=leftanti (DeviceNetworkEvents) on DeviceId",
                n,
                false,
            ),
            (
                "DeviceProcessEvents | join kind=rightsemi (DeviceNetworkEvents) on DeviceId",
                n,
                true,
            ),
            (
                "union DeviceProcessEvents, DeviceNetworkEvents | summarize c = count() by DeviceId",
                p,
                false,
            ),
            (
                "union DeviceProcessEvents, (DeviceProcessEvents | where FileName has 'y') | take 3",
                p,
                true,
            ),
        ];
        for (query, table, want) in cases {
            let optimized = engine.optimize(engine.plan(query, &options).unwrap()).unwrap();
            let [result] = optimized.results.as_slice() else {
                panic!("one result: {query}");
            };
            assert_eq!(empty_without(&result.plan, table), want, "{query} without {table}");
        }
    }

    /// Whether a slice holds any of the shared rows, from the rows in memory; other
    /// providers are not known.
    #[test]
    fn slice_rows_are_found_in_the_shared_rows() {
        use datafusion::arrow::array::StringArray;
        use datafusion::arrow::datatypes::{DataType, Field, Schema};
        use datafusion::arrow::record_batch::RecordBatch;
        use datafusion::prelude::{ident, lit};
        let catalog: Arc<dyn TableCatalog> = Arc::new(engine::SchemaCatalog::new(schema::Catalog::builtin().clone()));
        let engine = Engine::new(catalog).unwrap();
        let schema = Arc::new(Schema::new(vec![Field::new("FileName", DataType::Utf8, true)]));
        let batch = |names: &[Option<&str>]| {
            RecordBatch::try_new(schema.clone(), vec![Arc::new(StringArray::from(names.to_vec()))]).unwrap()
        };
        let mem = MemTable::try_new(
            schema.clone(),
            vec![vec![batch(&[Some("a.exe"), None])], vec![batch(&[Some("b.exe")])]],
        )
        .unwrap();
        let rows = SliceRows::default();
        let is = |name: &str| Expr::IsTrue(Box::new(ident("FileName").eq(lit(name))));
        assert_eq!(rows.none_in(&engine, "T", &mem, &is("b.exe")), Some(false));
        assert_eq!(rows.none_in(&engine, "T", &mem, &is("c.exe")), Some(true));
        // Null is not true: the row with no name is in no suppressed slice.
        let null = Expr::IsTrue(Box::new(
            ident("FileName").eq(lit("a.exe")).and(ident("FileName").is_null()),
        ));
        assert_eq!(rows.none_in(&engine, "T", &mem, &null), Some(true));
        // Known once per table and predicate.
        let other = MemTable::try_new(schema.clone(), vec![vec![batch(&[Some("c.exe")])]]).unwrap();
        assert_eq!(rows.none_in(&engine, "T", &other, &is("c.exe")), Some(true));
        assert_eq!(rows.none_in(&engine, "U", &other, &is("c.exe")), Some(false));
        let empty = datafusion::catalog::empty::EmptyTable::new(schema);
        assert_eq!(rows.none_in(&engine, "V", &empty, &is("c.exe")), None);
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
