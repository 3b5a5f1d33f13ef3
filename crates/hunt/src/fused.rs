//! Fused execution of a rule set: rules that read the same table share one scan of it.
//!
//! Each rule is planned and optimized once up front. In the optimized plan every read of a
//! catalog table is a `TableScan`, possibly under a `Filter`; together with the filters
//! pushed into the scan, that predicate says which rows of the table the rule can ever see.
//! For a table read by several rules that all filter it, one scan keeps the rows any rule's
//! key finds (a key: string-term tests its predicate implies; those of all rules are tested
//! in one multi-pattern pass per column, and a predicate without one is evaluated whole),
//! of the columns any of them reads, in memory. Each of those rules then runs unchanged over a catalog in which the
//! table is that in-memory subset: it applies its own filters again, so it sees exactly the
//! rows it would have seen in the whole table, and its results are the same.
//!
//! A table is not shared when fewer than two rules filter it, when a rule reads it without
//! a filter (or with one that is volatile or holds a subquery), or when the kept rows
//! would exceed the memory budget; those rules read the table themselves as before.

use datafusion::arrow::array::{ArrayRef, RecordBatch, new_null_array};
use datafusion::catalog::MemTable;
use datafusion::common::DFSchema;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, ScalarValue};
use datafusion::logical_expr::utils::{conjunction, disjunction, split_conjunction};
use datafusion::logical_expr::{BinaryExpr, Expr, LogicalPlan, Operator, TableScan};
use datafusion::physical_plan::execute_stream;
use datafusion::physical_plan::filter::FilterExec;
use engine::{Engine, OptimizedQuery, TableCatalog};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

mod keys;
use keys::{Key, Test, choose_keys, key_candidates, sample, sample_columns};

/// The engine and catalog a hunt plans with.
pub(crate) struct Source {
    pub engine: Engine,
    pub catalog: Arc<dyn TableCatalog>,
}

#[cfg(test)]
impl Source {
    /// The tables of a data directory, with an engine of the default configuration.
    pub fn of_data_dir(dir: &std::path::Path) -> Source {
        let catalog: Arc<dyn TableCatalog> = Arc::new(crate::catalog::DataDirCatalog::new(store::DataDir::open(dir)));
        Source {
            engine: Engine::new(catalog.clone()).expect("engine"),
            catalog,
        }
    }
}

/// One shared scan of a hunt, for the run report.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SharedScan {
    pub table: String,
    /// The rules that read the shared rows.
    pub rules: usize,
    /// Rows kept (matching at least one rule's filter).
    pub rows: usize,
    /// Bytes of the kept rows in memory.
    pub bytes: usize,
    /// The columns the scan's term pass tests (each read for every row in the time window).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<String>,
    pub elapsed_ms: f64,
    /// Why the table was not shared after all (the rules read it themselves); `None`: shared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abandoned: Option<String>,
}

/// What one read of a table in a rule's plan needs.
#[derive(Debug, Clone)]
struct ScanUse {
    table: String,
    /// The rows the rule can see: `None` when it reads them all.
    predicate: Option<Expr>,
    /// The columns it reads (`None`: all).
    columns: Option<BTreeSet<String>>,
}

impl ScanUse {
    /// Whether the read is filtered by string-term tests (which the shared scan checks in one
    /// pass, and which keep few rows). Reads filtered only by time or numbers would keep
    /// most of the table in memory: they read it themselves.
    fn selective(&self) -> bool {
        self.predicate.as_ref().is_some_and(|p| !key_candidates(p).is_empty())
    }
}

/// What the shared scans need of one prepared rule.
pub(crate) struct ShareInput<'a> {
    /// Its optimized plan.
    pub plan: &'a OptimizedQuery,
    /// How many times the plan runs: input exclusions run it once more per exclusion,
    /// over the rows that exclusion suppresses (so even a rule alone can share a scan).
    pub runs: usize,
    /// Per table: columns its input exclusions read, which the plan may not.
    pub columns: BTreeMap<String, BTreeSet<String>>,
}

/// The shared scans of a hunt and, per rule, the tables it reads from them.
pub(crate) struct SharedScans {
    tables: BTreeMap<String, Arc<MemTable>>,
    /// Per rule (by index in the rule set): the tables it reads from the shared scans.
    per_rule: Vec<BTreeSet<String>>,
    pub report: Vec<SharedScan>,
}

impl SharedScans {
    /// No sharing: every rule reads the tables itself.
    pub fn none(rules: usize) -> SharedScans {
        SharedScans {
            tables: BTreeMap::new(),
            per_rule: vec![BTreeSet::new(); rules],
            report: Vec::new(),
        }
    }

    /// The shared rows of `table` for rule `i`, when it reads them from a shared scan.
    pub fn table_for(&self, i: usize, table: &str) -> Option<Arc<MemTable>> {
        if !self.per_rule.get(i)?.contains(table) {
            return None;
        }
        self.tables.get(table).cloned()
    }

    /// Runs the shared scans for the prepared rules (`None`: the rule does not run its plan
    /// over the catalog's tables) and notes which rule reads which shared table. `budget`
    /// bounds the bytes kept per table.
    pub fn build(
        rules: &[Option<ShareInput<'_>>],
        base: &Source,
        runtime: &tokio::runtime::Handle,
        budget: usize,
        observer: &dyn crate::HuntObserver,
    ) -> SharedScans {
        let mut out = SharedScans::none(rules.len());
        let catalog_tables: BTreeSet<String> = base.catalog.table_names().into_iter().collect();
        let uses: Vec<Option<Vec<ScanUse>>> = rules
            .iter()
            .map(|r| {
                let r = r.as_ref()?;
                let mut uses = scan_uses(r.plan, &catalog_tables)?;
                for u in &mut uses {
                    if let (Some(columns), Some(extra)) = (u.columns.as_mut(), r.columns.get(&u.table)) {
                        columns.extend(extra.iter().cloned());
                    }
                }
                Some(uses)
            })
            .collect();
        // Table → the rules whose every read of it is filtered.
        let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, u) in uses.iter().enumerate() {
            let Some(u) = u else { continue };
            let tables: BTreeSet<&str> = u.iter().map(|s| s.table.as_str()).collect();
            for t in tables {
                if u.iter().filter(|s| s.table == t).all(ScanUse::selective) {
                    groups.entry(t.to_string()).or_default().push(i);
                }
            }
        }
        // Shared when its rows are read at least twice: by two rules, or by the runs of one
        // rule's input slices.
        let runs = |i: usize| rules.get(i).and_then(Option::as_ref).map_or(0, |r| r.runs);
        groups.retain(|_, m| m.iter().map(|&i| runs(i)).sum::<usize>() >= 2);
        if !groups.is_empty() {
            observer.sharing(&groups.keys().cloned().collect::<Vec<_>>());
        }
        // The tables' scans run together: each is two partitions on the runtime's workers
        // plus work on this thread (its sample, the choice of keys, collecting the rows),
        // and one table's tail overlaps the next table's start.
        let scans = groups.iter().map(|(table, members)| {
            let reads: Vec<&ScanUse> = members
                .iter()
                .filter_map(|&i| uses[i].as_ref())
                .flatten()
                .filter(|s| &s.table == table)
                .collect();
            async move {
                let started = Instant::now();
                let result = shared_scan(base, table, &reads, budget).await;
                (result, started.elapsed())
            }
        });
        let results = runtime.block_on(futures::future::join_all(scans));
        for ((table, members), (result, elapsed)) in groups.into_iter().zip(results) {
            let mut scan = SharedScan {
                table: table.clone(),
                rules: members.len(),
                rows: 0,
                bytes: 0,
                keys: Vec::new(),
                elapsed_ms: elapsed.as_secs_f64() * 1000.0,
                abandoned: None,
            };
            match result {
                Ok(Kept { mem, rows, bytes, keys }) => {
                    scan.rows = rows;
                    scan.bytes = bytes;
                    scan.keys = keys;
                    out.tables.insert(table.clone(), mem);
                    for &i in &members {
                        out.per_rule[i].insert(table.clone());
                    }
                }
                Err(why) => scan.abandoned = Some(why),
            }
            out.report.push(scan);
        }
        out
    }
}

/// The reads of catalog tables in a rule's optimized plans; `None` when a table is read
/// somewhere this analysis does not follow (subqueries that run with the plan). Tables read
/// by constant subqueries that ran while planning are not among them: their results are
/// constants in the plan, computed over the whole tables.
fn scan_uses(plan: &OptimizedQuery, catalog_tables: &BTreeSet<String>) -> Option<Vec<ScanUse>> {
    let mut out = Vec::new();
    for r in &plan.results {
        let mut all = 0usize;
        r.plan
            .apply_with_subqueries(|p| {
                if matches!(p, LogicalPlan::TableScan(_)) {
                    all += 1;
                }
                Ok(TreeNodeRecursion::Continue)
            })
            .ok()?;
        let before = out.len();
        walk(&r.plan, &mut out);
        if out.len() - before != all {
            return None;
        }
    }
    // Only tables of the catalog (not `datatable`s or materialized results).
    out.retain(|s| catalog_tables.contains(&s.table));
    Some(out)
}

fn walk(plan: &LogicalPlan, out: &mut Vec<ScanUse>) {
    match plan {
        LogicalPlan::Filter(f) => {
            if let LogicalPlan::TableScan(s) = f.input.as_ref() {
                out.push(scan_use(s, Some(&f.predicate)));
                return;
            }
        }
        LogicalPlan::TableScan(s) => {
            out.push(scan_use(s, None));
            return;
        }
        _ => {}
    }
    for input in plan.inputs() {
        walk(input, out);
    }
}

fn scan_use(scan: &TableScan, filter: Option<&Expr>) -> ScanUse {
    // Filters pushed into the scan inexactly are also still above it: each conjunct once.
    let mut predicates: Vec<Expr> = Vec::new();
    for e in scan.filters.iter().chain(filter) {
        for c in split_conjunction(e) {
            let c = unqualified(c);
            if !predicates.contains(&c) {
                predicates.push(c);
            }
        }
    }
    let usable = |e: &Expr| !e.is_volatile() && !has_subquery(e);
    let predicate = if predicates.iter().all(usable) {
        conjunction(predicates)
    } else {
        None
    };
    let schema = scan.source.schema();
    let columns = scan.projection.as_ref().map(|p| {
        let mut c: BTreeSet<String> = p
            .iter()
            .filter_map(|&i| schema.fields().get(i).map(|f| f.name().clone()))
            .collect();
        // Filters pushed into the scan may use columns it does not output.
        for e in &scan.filters {
            c.extend(e.column_refs().into_iter().map(|c| c.name.clone()));
        }
        c
    });
    ScanUse {
        table: scan.table_name.table().to_string(),
        predicate,
        columns,
    }
}

/// Whether `e` holds a subquery or a reference to an outer query's column.
pub(crate) fn has_subquery(e: &Expr) -> bool {
    e.exists(|x| {
        Ok(matches!(
            x,
            Expr::ScalarSubquery(_) | Expr::InSubquery(_) | Expr::Exists(_) | Expr::OuterReferenceColumn(..)
        ))
    })
    .unwrap_or(true)
}

/// `e` with its columns unqualified (the shared scan names the table itself).
pub(crate) fn unqualified(e: &Expr) -> Expr {
    e.clone()
        .transform(|x| match x {
            Expr::Column(c) if c.relation.is_some() => Ok(datafusion::common::tree_node::Transformed::yes(
                Expr::Column(Column::new_unqualified(c.name)),
            )),
            other => Ok(datafusion::common::tree_node::Transformed::no(other)),
        })
        .map(|t| t.data)
        .unwrap_or_else(|_| e.clone())
}

/// What a shared scan kept.
struct Kept {
    mem: Arc<MemTable>,
    rows: usize,
    bytes: usize,
    /// The columns of the term pass.
    keys: Vec<String>,
}

/// Runs the shared scan of `table` for `reads`: the rows any of them can see, of the columns
/// any of them reads, as a table with the full schema (other columns null).
async fn shared_scan(base: &Source, table: &str, reads: &[&ScanUse], budget: usize) -> Result<Kept, String> {
    let provider = base
        .catalog
        .table(table)
        .ok_or_else(|| format!("{table} is not in the catalog"))?
        .provider;
    let schema = provider.schema();
    let mut predicates: Vec<Expr> = Vec::new();
    for r in reads {
        let p = r.predicate.clone().ok_or("a rule reads every row")?;
        if !predicates.contains(&p) {
            predicates.push(p);
        }
    }
    let wanted: Option<BTreeSet<String>> = reads.iter().try_fold(BTreeSet::new(), |mut acc, r| {
        acc.extend(r.columns.clone()?);
        for p in r.predicate.iter() {
            acc.extend(p.column_refs().into_iter().map(|c| c.name.clone()));
        }
        Some(acc)
    });
    let projection: Option<Vec<usize>> = wanted.map(|w| {
        (0..schema.fields().len())
            .filter(|&i| w.contains(schema.field(i).name()))
            .collect()
    });
    // The scan itself gets only what is cheap to evaluate per file and per row: the
    // comparisons of columns with constants every rule makes (time ranges: partition,
    // row-group and page pruning) and the multi-pattern term pass. The whole disjunction
    // runs above it, on the rows those keep — handed to the scan, it would be rewritten and
    // turned into pruning predicates for every file, which for a pack costs more than the
    // scan.
    let state = base.engine.session().state();
    let ranges = range_filter(&predicates);
    let candidates: Vec<Vec<Key>> = predicates.iter().map(key_candidates).collect();
    let sample = match sample_columns(&candidates) {
        // No rule has two keys to choose from: nothing to measure.
        _ if !keys::any_choice(&candidates) => None,
        columns if columns.is_empty() => None,
        mut columns => {
            // The window's columns too, to apply its filter.
            columns.extend(ranges.iter().flat_map(|e| e.column_refs()).map(|c| c.name.clone()));
            let sampled: Vec<usize> = (0..schema.fields().len())
                .filter(|&i| columns.contains(schema.field(i).name()))
                .collect();
            // A sample that cannot be read leaves the choice to the needles.
            sample(provider.as_ref(), &state, &sampled, ranges.as_slice())
                .await
                .unwrap_or_default()
        }
    };
    let keys = choose_keys(&candidates, sample.as_ref());
    let filter = prefilter(&predicates, &keys);
    if matches!(filter, Expr::Literal(ScalarValue::Boolean(Some(false)), _)) {
        // No predicate can hold: nothing to read.
        let mem = MemTable::try_new(schema, vec![Vec::new()]).map_err(|e| e.to_string())?;
        return Ok(Kept {
            mem: Arc::new(mem),
            rows: 0,
            bytes: 0,
            keys: Vec::new(),
        });
    }
    let term_pass = term_filter(&keys);
    let key_columns: Vec<String> = term_pass
        .iter()
        .flat_map(|e| e.column_refs())
        .map(|c| c.name.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let scan_filters: Vec<Expr> = ranges.into_iter().chain(term_pass).collect();
    let scan = provider
        .scan(&state, projection.as_ref(), &scan_filters, None)
        .await
        .map_err(|e| e.to_string())?;
    let scan_schema = DFSchema::try_from(scan.schema().as_ref().clone()).map_err(|e| e.to_string())?;
    let predicate = state
        .create_physical_expr(filter, &scan_schema)
        .map_err(|e| e.to_string())?;
    let plan = Arc::new(FilterExec::try_new(predicate, scan).map_err(|e| e.to_string())?);
    let mut stream = execute_stream(plan, state.task_ctx()).map_err(|e| e.to_string())?;
    let mut batches = Vec::new();
    let (mut rows, mut bytes) = (0usize, 0usize);
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(|e| e.to_string())?;
        if batch.num_rows() == 0 {
            continue;
        }
        let batch = widen(&batch, &schema, projection.as_deref()).map_err(|e| e.to_string())?;
        rows += batch.num_rows();
        bytes += batch.get_array_memory_size();
        if bytes > budget {
            return Err(format!(
                "the rows the rules share exceed the memory budget of {} MiB",
                budget >> 20
            ));
        }
        batches.push(batch);
    }
    let mem = MemTable::try_new(schema, vec![batches]).map_err(|e| e.to_string())?;
    Ok(Kept {
        mem: Arc::new(mem),
        rows,
        bytes,
        keys: key_columns,
    })
}

/// A batch of the projected columns as a batch of the full schema (the others null).
fn widen(
    batch: &RecordBatch,
    schema: &datafusion::arrow::datatypes::SchemaRef,
    projection: Option<&[usize]>,
) -> Result<RecordBatch, datafusion::arrow::error::ArrowError> {
    let Some(projection) = projection else {
        return RecordBatch::try_new(schema.clone(), batch.columns().to_vec());
    };
    let n = batch.num_rows();
    let columns: Vec<ArrayRef> = (0..schema.fields().len())
        .map(|i| match projection.iter().position(|&p| p == i) {
            Some(k) => batch.column(k).clone(),
            None => new_null_array(schema.field(i).data_type(), n),
        })
        .collect();
    RecordBatch::try_new(schema.clone(), columns)
}

/// The range filter of a shared scan, which never drops a row one of `predicates` keeps:
/// the disjunction over the predicates of their comparisons of a column with constants,
/// when every predicate has some (time windows: what partitions, row groups and pages are
/// pruned by).
fn range_filter(predicates: &[Expr]) -> Option<Expr> {
    let simple: Vec<Expr> = predicates
        .iter()
        .map(|p| {
            conjunction(
                split_conjunction(p)
                    .into_iter()
                    .filter(|c| is_simple_comparison(c))
                    .cloned(),
            )
        })
        .collect::<Option<_>>()?;
    let mut distinct: Vec<Expr> = Vec::new();
    for e in simple {
        if !distinct.contains(&e) {
            distinct.push(e);
        }
    }
    balanced_or(distinct)
}

/// The term pass of a shared scan: one multi-pattern test per column over the chosen keys,
/// when every predicate has one (a predicate without a key may hold on any row).
fn term_filter(keys: &[Option<Key>]) -> Option<Expr> {
    let keys: Vec<&Key> = keys.iter().map(Option::as_ref).collect::<Option<_>>()?;
    matchers(keys.into_iter().flatten().cloned())
}

/// `column <cmp> constant` (or `between` constants, or `is not null`): cheap per row, and
/// what Parquet statistics and the day partitions prune by.
fn is_simple_comparison(e: &Expr) -> bool {
    let constant = |e: &Expr| matches!(e, Expr::Literal(..));
    // A column, also under a cast (a time column compared with a date).
    let column = |e: &Expr| match e {
        Expr::Cast(c) => matches!(c.expr.as_ref(), Expr::Column(_)),
        Expr::TryCast(c) => matches!(c.expr.as_ref(), Expr::Column(_)),
        e => matches!(e, Expr::Column(_)),
    };
    match e {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            matches!(
                op,
                Operator::Eq | Operator::NotEq | Operator::Lt | Operator::LtEq | Operator::Gt | Operator::GtEq
            ) && ((column(left) && constant(right)) || (constant(left) && column(right)))
        }
        Expr::Between(b) => column(&b.expr) && constant(&b.low) && constant(&b.high),
        Expr::IsNotNull(x) => column(x),
        _ => false,
    }
}

/// One `kql_multi_match` per column over `tests`, or-ed.
fn matchers(tests: impl IntoIterator<Item = (String, Test)>) -> Option<Expr> {
    let mut by_column: BTreeMap<String, Vec<Test>> = BTreeMap::new();
    for (column, test) in tests {
        let list = by_column.entry(column).or_default();
        if !list.contains(&test) {
            list.push(test);
        }
    }
    balanced_or(
        by_column
            .into_iter()
            .map(|(column, ts)| {
                functions::multi_match_udf(ts).call(vec![Expr::Column(Column::new_unqualified(column))])
            })
            .collect(),
    )
}

/// What a shared scan keeps: the rows of the window one of the keys (`keys`, one per
/// predicate) finds, and the rows of an unkeyed predicate, which is evaluated whole. A
/// keyed predicate is implied by its key, and each rule applies its own filters again to
/// the kept rows, so its exact predicate need not run here: with the pack's regexes over
/// `RemoteUrl`, evaluating the 60 network predicates over the rows the keys found cost
/// more than the rules' own filters over them.
fn prefilter(predicates: &[Expr], keys: &[Option<Key>]) -> Expr {
    let mut tests = Vec::new();
    let mut unkeyed = Vec::new();
    for (p, key) in predicates.iter().zip(keys) {
        match key {
            // `Some(empty)`: never true, no row is kept for it.
            Some(ts) => tests.extend(ts.iter().cloned()),
            None => unkeyed.push(p.clone()),
        }
    }
    let parts: Vec<Expr> = matchers(tests).into_iter().chain(unkeyed).collect();
    balanced_or(parts).unwrap_or(Expr::Literal(ScalarValue::Boolean(Some(false)), None))
}

/// `a or b or …` as a balanced tree (shallow for many rules).
fn balanced_or(mut exprs: Vec<Expr>) -> Option<Expr> {
    if exprs.len() <= 2 {
        return disjunction(exprs);
    }
    let right = exprs.split_off(exprs.len() / 2);
    Some(balanced_or(exprs)?.or(balanced_or(right)?))
}

#[cfg(test)]
pub(super) mod tests;
