//! The data directory as DataFusion tables: a [`TableProvider`] per table whose scan reads
//! only the day partitions a query's time predicates can match, and hands the predicates to
//! the Parquet reader for row-group and page pruning on the (sorted) time column.

use crate::datadir::{DataDir, Part, Partition};
use crate::error::{Result, StoreError};
use async_trait::async_trait;
use chrono::NaiveDate;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::DFSchema;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::common::{ScalarValue, project_schema};
use datafusion::datasource::TableType;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{Between, BinaryExpr, Expr, Operator, TableProviderFilterPushDown};
use datafusion::object_store::path::Path;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::{Column as PhysicalColumn, lit as physical_lit};
use datafusion::physical_expr_adapter::{
    DefaultPhysicalExprAdapterFactory, PhysicalExprAdapter, PhysicalExprAdapterFactory,
};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::metrics::MetricValue;
use schema::TableSchema;
use schema::values::{NANOS_PER_DAY, parse_datetime};
use std::any::Any;
use std::sync::Arc;

/// A table of a data directory.
#[derive(Debug)]
pub struct DayPartitionedTable {
    dir: DataDir,
    table: Arc<TableSchema>,
    arrow: SchemaRef,
}

impl DayPartitionedTable {
    pub fn new(dir: DataDir, table: Arc<TableSchema>) -> Self {
        let arrow = Arc::new(table.arrow_schema());
        DayPartitionedTable { dir, table, arrow }
    }

    pub fn table(&self) -> &Arc<TableSchema> {
        &self.table
    }

    /// The parts a scan with these filters reads.
    pub fn parts_for(&self, filters: &[Expr]) -> Result<Vec<Part>> {
        let parts = self.dir.parts(&self.table.name)?;
        let Some(time_col) = self.table.time_column() else {
            return Ok(parts);
        };
        let range = filters
            .iter()
            .fold(TimeRange::ALL, |acc, f| acc.intersect(time_range(f, time_col)));
        Ok(parts.into_iter().filter(|p| range.admits(p.partition)).collect())
    }
}

#[async_trait]
impl TableProvider for DayPartitionedTable {
    fn schema(&self) -> SchemaRef {
        self.arrow.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> datafusion::error::Result<Vec<TableProviderFilterPushDown>> {
        // Filters prune partitions and row groups, but DataFusion must still apply them.
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        let parts = self
            .parts_for(filters)
            .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
        if parts.is_empty() {
            let projected = project_schema(&self.arrow, projection)?;
            return Ok(Arc::new(EmptyExec::new(projected)));
        }
        // Our own scan of the selected parts (rather than a ListingTable): DataFusion's file
        // statistics would turn a column missing from an older part into a constant null
        // before the expression adapter below could make it "".
        let parquet = &state.config_options().execution.parquet;
        let footers = state.runtime_env().cache_manager.get_file_metadata_cache();
        let mut source = ParquetSource::new(self.arrow.clone())
            .with_parquet_file_reader_factory(Arc::new(crate::scan_count::CountingReaderFactory::local(
                crate::dictionary::dictionary_haystacks(filters),
                footers,
            )))
            // One read for the footer and the page index before it: without a hint the
            // reader asks for the last 8 bytes, then the footer, then the page index.
            .with_metadata_size_hint(FOOTER_HINT);
        // Late materialization when the session asks for it (the engine's does): the
        // predicate runs inside the reader on its own columns first, and the other projected
        // columns are decoded only for the rows that pass (whole pages of them are skipped
        // through the page index), which is most of the work of a selective hunt.
        source = source
            .with_pushdown_filters(parquet.pushdown_filters)
            .with_reorder_filters(parquet.reorder_filters)
            // Parts are written by the store's writer, which writes no bloom filters:
            // looking for them in every row group of every part is work for nothing.
            .with_bloom_filter_on_read(false);
        if let Some(predicate) = conjunction(filters.to_vec()) {
            let df_schema = DFSchema::try_from(self.arrow.as_ref().clone())?;
            source = source.with_predicate(state.create_physical_expr(predicate, &df_schema)?);
        }
        let groups_n = state.config().target_partitions().clamp(1, parts.len());
        let mut groups = vec![Vec::new(); groups_n];
        // Parts are sorted by day: deal them out so each group gets a spread of days.
        for (i, p) in parts.iter().enumerate() {
            let location = Path::from_filesystem_path(&p.path)
                .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
            groups[i % groups_n].push(PartitionedFile::new(location.to_string(), p.bytes));
        }
        let config = FileScanConfigBuilder::new(ObjectStoreUrl::local_filesystem(), Arc::new(source))
            .with_file_groups(groups.into_iter().map(FileGroup::new).collect())
            .with_projection_indices(projection.cloned())?
            .with_limit(limit)
            .with_expr_adapter(Some(Arc::new(EmptyStringsForMissingColumns)))
            .build();
        Ok(DataSourceExec::from_data_source(config))
    }
}

/// Bytes read from the end of a part to get its footer and page index in one read (the
/// store's parts have footers of 10–20 KiB; a larger one takes a second read).
const FOOTER_HINT: usize = 64 * 1024;

/// Parts written before a column was added to a table (a column found in later data) do
/// not have it. DataFusion reads a missing column as null; Kusto strings are never null, so
/// a missing string column reads as "" instead, and everything else as null.
#[derive(Debug)]
struct EmptyStringsForMissingColumns;

#[derive(Debug)]
struct EmptyStringsAdapter {
    physical: SchemaRef,
    logical: SchemaRef,
    inner: Arc<dyn PhysicalExprAdapter>,
}

impl PhysicalExprAdapterFactory for EmptyStringsForMissingColumns {
    fn create(
        &self,
        logical_file_schema: SchemaRef,
        physical_file_schema: SchemaRef,
    ) -> datafusion::error::Result<Arc<dyn PhysicalExprAdapter>> {
        let inner =
            DefaultPhysicalExprAdapterFactory.create(logical_file_schema.clone(), physical_file_schema.clone())?;
        Ok(Arc::new(EmptyStringsAdapter {
            physical: physical_file_schema,
            logical: logical_file_schema,
            inner,
        }))
    }
}

impl PhysicalExprAdapter for EmptyStringsAdapter {
    fn rewrite(&self, expr: Arc<dyn PhysicalExpr>) -> datafusion::error::Result<Arc<dyn PhysicalExpr>> {
        let filled = expr
            .transform(|e| {
                if let Some(c) = e.downcast_ref::<PhysicalColumn>()
                    && self.physical.index_of(c.name()).is_err()
                    && self
                        .logical
                        .field_with_name(c.name())
                        .is_ok_and(|f| f.data_type() == &datafusion::arrow::datatypes::DataType::Utf8)
                {
                    return Ok(Transformed::yes(physical_lit(ScalarValue::Utf8(Some(String::new())))));
                }
                Ok(Transformed::no(e))
            })
            .data()?;
        crate::dictionary::keep_dictionary_haystacks(self.inner.rewrite(filled)?, &self.physical)
    }
}

/// An inclusive range of days (days since the epoch) a predicate admits; `None` bounds are
/// open. `null_ok` says whether rows with a null time can match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeRange {
    pub lo: Option<i64>,
    pub hi: Option<i64>,
    pub null_ok: bool,
}

impl TimeRange {
    pub const ALL: TimeRange = TimeRange {
        lo: None,
        hi: None,
        null_ok: true,
    };

    fn between(lo: Option<i64>, hi: Option<i64>) -> TimeRange {
        TimeRange {
            lo: lo.map(|n| n.div_euclid(NANOS_PER_DAY)),
            hi: hi.map(|n| n.div_euclid(NANOS_PER_DAY)),
            null_ok: false,
        }
    }

    pub fn intersect(self, o: TimeRange) -> TimeRange {
        TimeRange {
            lo: match (self.lo, o.lo) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            },
            hi: match (self.hi, o.hi) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
            null_ok: self.null_ok && o.null_ok,
        }
    }

    fn hull(self, o: TimeRange) -> TimeRange {
        TimeRange {
            lo: match (self.lo, o.lo) {
                (Some(a), Some(b)) => Some(a.min(b)),
                _ => None,
            },
            hi: match (self.hi, o.hi) {
                (Some(a), Some(b)) => Some(a.max(b)),
                _ => None,
            },
            null_ok: self.null_ok || o.null_ok,
        }
    }

    pub fn admits(&self, p: Partition) -> bool {
        match p {
            Partition::All => true,
            Partition::NoTime => self.null_ok,
            Partition::Day(d) => {
                let day = d.signed_duration_since(epoch()).num_days();
                self.lo.is_none_or(|lo| day >= lo) && self.hi.is_none_or(|hi| day <= hi)
            }
        }
    }
}

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()
}

/// The days a filter can match on `time_col`. Understands comparisons and `BETWEEN` of the
/// column (possibly cast) with timestamp, date or string literals (which is what `ago()`,
/// `now()` and `datetime()` bounds are once DataFusion has simplified them), `AND`, `OR`.
/// Anything else admits every day.
pub fn time_range(filter: &Expr, time_col: &str) -> TimeRange {
    match filter {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => match op {
            Operator::And => time_range(left, time_col).intersect(time_range(right, time_col)),
            Operator::Or => time_range(left, time_col).hull(time_range(right, time_col)),
            _ => {
                let (op, lit) = if is_time_col(left, time_col) {
                    (*op, literal_nanos(right))
                } else if is_time_col(right, time_col) {
                    match op.swap() {
                        Some(swapped) => (swapped, literal_nanos(left)),
                        None => return TimeRange::ALL,
                    }
                } else {
                    return TimeRange::ALL;
                };
                let Some(v) = lit else { return TimeRange::ALL };
                match op {
                    Operator::Eq => TimeRange::between(Some(v), Some(v)),
                    Operator::Gt | Operator::GtEq => TimeRange::between(Some(v), None),
                    Operator::Lt | Operator::LtEq => TimeRange::between(None, Some(v)),
                    _ => TimeRange::ALL,
                }
            }
        },
        Expr::Between(Between {
            expr,
            negated: false,
            low,
            high,
        }) if is_time_col(expr, time_col) => match (literal_nanos(low), literal_nanos(high)) {
            (Some(lo), Some(hi)) => TimeRange::between(Some(lo), Some(hi)),
            (Some(lo), None) => TimeRange::between(Some(lo), None),
            (None, Some(hi)) => TimeRange::between(None, Some(hi)),
            (None, None) => TimeRange::ALL,
        },
        Expr::IsNotNull(e) if is_time_col(e, time_col) => TimeRange {
            null_ok: false,
            ..TimeRange::ALL
        },
        _ => TimeRange::ALL,
    }
}

fn is_time_col(e: &Expr, time_col: &str) -> bool {
    match e {
        Expr::Column(c) => c.name == time_col,
        Expr::Cast(c) => is_time_col(&c.expr, time_col),
        Expr::TryCast(c) => is_time_col(&c.expr, time_col),
        _ => false,
    }
}

fn literal_nanos(e: &Expr) -> Option<i64> {
    match e {
        Expr::Literal(v, _) => scalar_nanos(v),
        Expr::Cast(c) => literal_nanos(&c.expr),
        Expr::TryCast(c) => literal_nanos(&c.expr),
        _ => None,
    }
}

fn scalar_nanos(v: &ScalarValue) -> Option<i64> {
    match v {
        ScalarValue::TimestampNanosecond(Some(n), _) => Some(*n),
        ScalarValue::TimestampMicrosecond(Some(n), _) => n.checked_mul(1_000),
        ScalarValue::TimestampMillisecond(Some(n), _) => n.checked_mul(1_000_000),
        ScalarValue::TimestampSecond(Some(n), _) => n.checked_mul(1_000_000_000),
        ScalarValue::Date32(Some(d)) => (*d as i64).checked_mul(NANOS_PER_DAY),
        ScalarValue::Date64(Some(ms)) => ms.checked_mul(1_000_000),
        ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s)) => {
            parse_datetime(s)
        }
        _ => None,
    }
}

/// What a physical plan read, from DataFusion's metrics (after execution).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScanMetrics {
    /// Parquet files the plan's scans were given.
    pub files: usize,
    /// Bytes the Parquet reader fetched (`bytes_scanned`).
    pub bytes_scanned: usize,
    /// Row groups skipped by statistics (`row_groups_pruned_statistics`).
    pub row_groups_pruned: usize,
}

/// Sums the scan metrics of every data source in `plan`.
pub fn scan_metrics(plan: &Arc<dyn ExecutionPlan>) -> ScanMetrics {
    let mut m = ScanMetrics::default();
    visit(plan.as_ref(), &mut m);
    m
}

fn visit(plan: &dyn ExecutionPlan, m: &mut ScanMetrics) {
    if let Some(ds) = (plan as &dyn Any).downcast_ref::<DataSourceExec>() {
        let source: &dyn Any = ds.data_source().as_ref();
        if let Some(cfg) = source.downcast_ref::<datafusion::datasource::physical_plan::FileScanConfig>() {
            // A large file may be split into byte ranges over several groups: count it once.
            let distinct: std::collections::HashSet<_> = cfg
                .file_groups
                .iter()
                .flat_map(|g| g.files().iter().map(|f| f.object_meta.location.clone()))
                .collect();
            m.files += distinct.len();
        }
        if let Some(metrics) = plan.metrics() {
            for metric in metrics.iter() {
                match metric.value() {
                    MetricValue::Count { name, count } if name == "bytes_scanned" => m.bytes_scanned += count.value(),
                    MetricValue::PruningMetrics { name, pruning_metrics } if name == "row_groups_pruned_statistics" => {
                        m.row_groups_pruned += pruning_metrics.pruned()
                    }
                    _ => {}
                }
            }
        }
    }
    for child in plan.children() {
        visit(child.as_ref(), m);
    }
}

impl DataDir {
    /// The DataFusion table of `name`: its stored schema, or the built-in schema when the
    /// table has no data yet (then it scans empty). `None` for a table neither knows.
    pub fn table_provider(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        Ok(self
            .schema(name)?
            .map(|s| Arc::new(DayPartitionedTable::new(self.clone(), s)) as Arc<dyn TableProvider>))
    }
}

/// A single file loaded as a table (`quarry query --table T=path`): converted on read to
/// the table's schema when Quarry knows the table (else an inferred one), through the same
/// readers as `quarry ingest`, into a private temporary data directory.
pub struct FileTable {
    pub schema: Arc<TableSchema>,
    pub provider: Arc<dyn TableProvider>,
    /// What was read; records that could not be converted are in `report.quarantine_file`.
    pub report: crate::IngestReport,
    _dir: tempfile::TempDir,
}

impl std::fmt::Debug for FileTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileTable").field("schema", &self.schema).finish()
    }
}

/// Loads `path` (CSV, JSON of any export shape, Parquet; gzip or not) as table `name`.
pub fn file_table(name: &str, path: &std::path::Path) -> Result<FileTable> {
    let tmp = tempfile::tempdir().map_err(|source| StoreError::Io {
        path: std::env::temp_dir(),
        source,
    })?;
    let dir = DataDir::create(tmp.path())?;
    let opts = crate::IngestOptions {
        table: Some(name.to_string()),
        force: true,
        ..crate::IngestOptions::default()
    };
    let report = crate::ingest(&dir, &[path.display().to_string()], &opts)?;
    let schema = dir
        .schema(name)?
        .unwrap_or_else(|| Arc::new(TableSchema::new(name, schema::Product::Inferred, Vec::new())));
    let provider: Arc<dyn TableProvider> = Arc::new(DayPartitionedTable::new(dir, schema.clone()));
    Ok(FileTable {
        schema,
        provider,
        report,
        _dir: tmp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::logical_expr::lit;

    /// `col()` would lower-case the name, as SQL does.
    fn col(name: &str) -> Expr {
        Expr::Column(datafusion::common::Column::new_unqualified(name))
    }

    const DAY: i64 = NANOS_PER_DAY;

    fn ts(days: i64) -> Expr {
        lit(ScalarValue::TimestampNanosecond(Some(days * DAY + 5), None))
    }

    #[test]
    fn ranges_from_comparisons_between_and_or() {
        let t = "Timestamp";
        assert_eq!(
            time_range(&col(t).gt_eq(ts(10)), t),
            TimeRange::between(Some(10 * DAY), None)
        );
        assert_eq!(
            time_range(&ts(10).gt(col(t)), t),
            TimeRange::between(None, Some(10 * DAY))
        );
        let b = col(t).between(ts(3), ts(4));
        assert_eq!(time_range(&b, t), TimeRange::between(Some(3 * DAY), Some(4 * DAY)));
        let and = col(t).gt(ts(3)).and(col(t).lt(ts(7)));
        let r = time_range(&and, t);
        assert_eq!((r.lo, r.hi), (Some(3), Some(7)));
        let or = col(t).eq(ts(3)).or(col(t).eq(ts(9)));
        assert_eq!((time_range(&or, t).lo, time_range(&or, t).hi), (Some(3), Some(9)));
        // Other columns and negations admit everything.
        assert_eq!(time_range(&col("Other").gt(ts(3)), t), TimeRange::ALL);
        assert_eq!(time_range(&col(t).not_between(ts(3), ts(4)), t), TimeRange::ALL);
        let s = col(t).gt(lit("2024-05-01T00:00:00Z"));
        assert_eq!(time_range(&s, t).lo, Some(19844));
    }

    #[test]
    fn partitions_admitted() {
        let r = TimeRange::between(Some(19844 * DAY), Some(19844 * DAY + 1));
        let day = |d: &str| Partition::Day(NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap());
        assert!(r.admits(day("2024-05-01")));
        assert!(!r.admits(day("2024-05-02")));
        assert!(!r.admits(Partition::NoTime));
        assert!(TimeRange::ALL.admits(Partition::NoTime));
        assert!(r.admits(Partition::All));
    }

    /// The adapter of a file whose `Signer` is a dictionary hands that column, uncast, to
    /// a string predicate with a constant needle, and casts it everywhere else.
    #[test]
    fn dictionary_columns_reach_constant_string_predicates_uncast() {
        use datafusion::arrow::datatypes::{DataType, Field, Schema};
        use datafusion::physical_expr::ScalarFunctionExpr;
        use datafusion::physical_expr::expressions::CastExpr;
        let logical = Arc::new(Schema::new(vec![
            Field::new("Signer", DataType::Utf8, true),
            Field::new("Url", DataType::Utf8, true),
        ]));
        let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
        let physical = Arc::new(Schema::new(vec![
            Field::new("Signer", dict, true),
            Field::new("Url", DataType::Utf8, true),
        ]));
        let adapter = EmptyStringsForMissingColumns
            .create(logical.clone(), physical.clone())
            .unwrap();
        let df_schema = DFSchema::try_from(logical.as_ref().clone()).unwrap();
        let state = datafusion::prelude::SessionContext::new().state();
        let physical_expr = |e: Expr| state.create_physical_expr(e, &df_schema).unwrap();
        let call = crate::dictionary::tests::call;
        let first_arg = |e: &Arc<dyn PhysicalExpr>| {
            let f = e.downcast_ref::<ScalarFunctionExpr>().expect("a call");
            f.args()[0].clone()
        };
        // A constant needle: the dictionary column as it is.
        for e in [
            call("kql_has", vec![col("Signer"), lit("Action1")]),
            call("kql_has_any", vec![col("Signer"), lit("a"), lit("b")]),
        ] {
            let out = adapter.rewrite(physical_expr(e)).unwrap();
            let arg = first_arg(&out);
            assert!(arg.downcast_ref::<PhysicalColumn>().is_some(), "{out}");
        }
        // A needle per row, and a column that is not a dictionary: cast or left alone.
        let out = adapter
            .rewrite(physical_expr(call("kql_has", vec![col("Signer"), col("Url")])))
            .unwrap();
        assert!(first_arg(&out).downcast_ref::<CastExpr>().is_some(), "{out}");
        let out = adapter
            .rewrite(physical_expr(call("kql_has", vec![col("Url"), lit("x")])))
            .unwrap();
        assert!(first_arg(&out).downcast_ref::<PhysicalColumn>().is_some(), "{out}");
        // Elsewhere (the scan's output, other operators) the column is cast to the table's type.
        let out = adapter.rewrite(physical_expr(col("Signer"))).unwrap();
        assert!(out.downcast_ref::<CastExpr>().is_some(), "{out}");
        let out = adapter.rewrite(physical_expr(col("Signer").eq(lit("x")))).unwrap();
        assert!(out.to_string().contains("CAST"), "{out}");
    }
}
