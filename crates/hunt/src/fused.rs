//! Fused execution of a rule set: rules that read the same table share one scan of it.
//!
//! Each rule is planned and optimized once up front. In the optimized plan every read of a
//! catalog table is a `TableScan`, possibly under a `Filter`; together with the filters
//! pushed into the scan, that predicate says which rows of the table the rule can ever see.
//! For a table read by several rules that all filter it, one scan evaluates the disjunction
//! of their predicates (with the `has`-family terms of all rules tested in one
//! multi-pattern pass per column) and keeps the matching rows, of the columns any of them
//! reads, in memory. Each of those rules then runs unchanged over a catalog in which the
//! table is that in-memory subset: it applies its own filters again, so it sees exactly the
//! rows it would have seen in the whole table, and its results are the same.
//!
//! A table is not shared when fewer than two rules filter it, when a rule reads it without
//! a filter (or with one that is volatile or holds a subquery), or when the kept rows
//! would exceed the memory budget; those rules read the table themselves as before.

use datafusion::arrow::array::{ArrayRef, RecordBatch, new_null_array};
use datafusion::arrow::buffer::BooleanBuffer;
use datafusion::catalog::MemTable;
use datafusion::common::DFSchema;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, ScalarValue};
use datafusion::logical_expr::expr::InList;
use datafusion::logical_expr::utils::{conjunction, disjunction, split_conjunction};
use datafusion::logical_expr::{BinaryExpr, Expr, LogicalPlan, Operator, TableScan};
use datafusion::physical_plan::execute_stream;
use datafusion::physical_plan::filter::FilterExec;
use engine::{Engine, OptimizedQuery, TableCatalog};
use functions::StrOp;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

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

    /// Runs the shared scans for the rules' optimized plans (`None`: the rule does not
    /// run) and notes which rule reads which shared table. `budget` bounds the bytes kept
    /// per table.
    pub fn build(
        plans: &[Option<&OptimizedQuery>],
        base: &Source,
        runtime: &tokio::runtime::Handle,
        budget: usize,
        observer: &dyn crate::HuntObserver,
    ) -> SharedScans {
        let mut out = SharedScans::none(plans.len());
        let catalog_tables: BTreeSet<String> = base.catalog.table_names().into_iter().collect();
        let uses: Vec<Option<Vec<ScanUse>>> = plans.iter().map(|p| scan_uses((*p)?, &catalog_tables)).collect();
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
        groups.retain(|_, m| m.len() >= 2);
        if !groups.is_empty() {
            observer.sharing(&groups.keys().cloned().collect::<Vec<_>>());
        }
        for (table, members) in groups {
            let reads: Vec<&ScanUse> = members
                .iter()
                .filter_map(|&i| uses[i].as_ref())
                .flatten()
                .filter(|s| s.table == table)
                .collect();
            let started = Instant::now();
            let result = runtime.block_on(shared_scan(base, &table, &reads, budget));
            let mut scan = SharedScan {
                table: table.clone(),
                rules: members.len(),
                rows: 0,
                bytes: 0,
                keys: Vec::new(),
                elapsed_ms: 0.0,
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
            scan.elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
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

/// The disjunction of `predicates`, with the string-term tests of each one's key (`keys`,
/// one per predicate) checked first in one multi-pattern pass per column (DataFusion
/// evaluates the rest of an `AND` only on the rows its left side keeps).
fn prefilter(predicates: &[Expr], keys: &[Option<Key>]) -> Expr {
    let mut tests = Vec::new();
    let mut keyed = Vec::new();
    let mut unkeyed = Vec::new();
    for (p, key) in predicates.iter().zip(keys) {
        match key {
            // Never true: no row is kept for it.
            Some(ts) if ts.is_empty() => {}
            Some(ts) => {
                tests.extend(ts.iter().cloned());
                keyed.push(p.clone());
            }
            None => unkeyed.push(p.clone()),
        }
    }
    let mut parts = Vec::new();
    if let Some(rest) = balanced_or(keyed) {
        match matchers(tests) {
            Some(m) => parts.push(m.and(rest)),
            None => parts.push(rest),
        }
    }
    parts.extend(unkeyed);
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

/// A string test `(op, needle, case_sensitive)` of `functions::MultiMatcher`.
type Test = (StrOp, String, bool);

/// A way to find the rows a predicate may hold on: string-term tests on columns, at least
/// one of which holds whenever the predicate does. Empty: the predicate is never true.
type Key = Vec<(String, Test)>;

/// The keys of `e`: one per conjunct that has one (any will do), combinations of both
/// sides' keys for an `or`. Empty when `e` has none (a row may match without any term).
fn key_candidates(e: &Expr) -> Vec<Key> {
    match e {
        Expr::BinaryExpr(BinaryExpr { op: Operator::And, .. }) => {
            let mut out: Vec<Key> = Vec::new();
            for key in split_conjunction(e).into_iter().flat_map(key_candidates) {
                if key.is_empty() {
                    // A conjunct that is never true: the predicate needs no row.
                    return vec![key];
                }
                if !out.contains(&key) {
                    out.push(key);
                }
            }
            out
        }
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Or,
            right,
        }) => {
            // Both sides need a key; of many, the likeliest few of each, combined.
            let side = |e: &Expr| {
                let mut keys = key_candidates(e);
                keys.sort_by_key(|k| std::cmp::Reverse(needle_score(k)));
                keys.truncate(OR_SIDE_KEYS);
                keys
            };
            let (l, r) = (side(left), side(right));
            let mut out = Vec::new();
            for a in &l {
                for b in &r {
                    let mut key = a.clone();
                    key.extend(b.iter().cloned());
                    out.push(key);
                }
            }
            out
        }
        other => key_of_test(other).into_iter().collect(),
    }
}

/// Keys kept per side of an `or` (their combinations are the `or`'s keys).
const OR_SIDE_KEYS: usize = 3;

/// The key of a single string test of a column with constants.
fn key_of_test(e: &Expr) -> Option<Key> {
    match e {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Eq,
            right,
        }) => match (left.as_ref(), right.as_ref()) {
            (Expr::Column(c), Expr::Literal(v, _)) | (Expr::Literal(v, _), Expr::Column(c)) => {
                Some(vec![(c.name.clone(), (StrOp::Equals, string_literal(v)?, true))])
            }
            _ => None,
        },
        Expr::InList(InList {
            expr,
            list,
            negated: false,
        }) => {
            let Expr::Column(c) = expr.as_ref() else { return None };
            list.iter()
                .map(|v| match v {
                    Expr::Literal(v, _) => Some((c.name.clone(), (StrOp::Equals, string_literal(v)?, true))),
                    _ => None,
                })
                .collect()
        }
        Expr::ScalarFunction(f) => {
            let name = f.func.name();
            if let Some((op, case_sensitive)) = functions::str_pred_of(name) {
                match f.args.as_slice() {
                    [Expr::Column(c), Expr::Literal(v, _)] => {
                        Some(vec![(c.name.clone(), (op, string_literal(v)?, case_sensitive))])
                    }
                    _ => None,
                }
            } else if let Some(multi) = functions::multi_needle_of(name) {
                let (Expr::Column(c), needles) = f.args.split_first()? else {
                    return None;
                };
                let lists: Vec<ScalarValue> = needles
                    .iter()
                    .map(|n| match n {
                        Expr::Literal(v, _) => Some(v.clone()),
                        _ => None,
                    })
                    .collect::<Option<_>>()?;
                let mut texts = functions::multi_needle_texts(&lists).ok()?;
                if texts.is_empty() && !multi.all {
                    // `in`/`has_any` over an empty list (a list computed while planning that
                    // came out empty) is never true: the rule needs no row of the table.
                    return Some(Vec::new());
                }
                if multi.all {
                    // Every needle must match: any one of them is implied.
                    texts.truncate(1);
                }
                let out: Vec<_> = texts
                    .into_iter()
                    .map(|t| (c.name.clone(), (multi.op, t, multi.case_sensitive)))
                    .collect();
                (!out.is_empty()).then_some(out)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// How selective a key looks from its needles alone: the length of its shortest needle
/// (`Product has 'Chrome Remote Desktop'` over `Company has 'Google LLC'`); a key that is
/// never true scores highest.
fn needle_score(key: &Key) -> usize {
    key.iter()
        .map(|(_, (_, needle, _))| needle.len())
        .min()
        .unwrap_or(usize::MAX)
}

/// The key of `e` that looks most selective from its needles (the first of equals).
#[cfg(test)]
fn key_tests(e: &Expr) -> Option<Key> {
    let mut best: Option<Key> = None;
    for key in key_candidates(e) {
        if best.as_ref().is_none_or(|b| needle_score(&key) > needle_score(b)) {
            best = Some(key);
        }
    }
    best
}

/// Rows of the scanned window read to measure how many rows each key matches.
const SAMPLE_ROWS: usize = 16_384;

/// What keeping a row costs against testing one more column on every row: a kept row is
/// decoded in every column the rules read (a page decompressed for it in each) and goes
/// through every rule's filter. Measured on the RMM pack at 100 M rows: testing a column
/// of 22 M rows costs about 0.13 s, keeping 1 M more rows about 0.6 s.
const KEEP_COST: f64 = 100.0;

/// The columns the keys of `candidates` test.
fn sample_columns(candidates: &[Vec<Key>]) -> BTreeSet<String> {
    candidates
        .iter()
        .flatten()
        .flatten()
        .map(|(column, _)| column.clone())
        .collect()
}

/// Up to [`SAMPLE_ROWS`] rows of `columns` (schema indices) in the window of `filters`;
/// `None` when the window holds no row.
async fn sample(
    provider: &dyn datafusion::catalog::TableProvider,
    state: &datafusion::execution::SessionState,
    columns: &[usize],
    filters: &[Expr],
) -> Result<Option<RecordBatch>, String> {
    let scan = provider
        .scan(state, Some(&columns.to_vec()), filters, Some(SAMPLE_ROWS))
        .await
        .map_err(|e| e.to_string())?;
    let schema = scan.schema();
    // The range filter may be inexact: apply it, so that the sample is of the window.
    let scan_schema = DFSchema::try_from(schema.as_ref().clone()).map_err(|e| e.to_string())?;
    let plan: Arc<dyn datafusion::physical_plan::ExecutionPlan> = match conjunction(filters.to_vec()) {
        Some(f) => {
            let predicate = state.create_physical_expr(f, &scan_schema).map_err(|e| e.to_string())?;
            Arc::new(FilterExec::try_new(predicate, scan).map_err(|e| e.to_string())?)
        }
        None => scan,
    };
    let mut stream = execute_stream(plan, state.task_ctx()).map_err(|e| e.to_string())?;
    let mut batches = Vec::new();
    let mut rows = 0;
    while rows < SAMPLE_ROWS
        && let Some(batch) = stream.next().await
    {
        let batch = batch.map_err(|e| e.to_string())?;
        rows += batch.num_rows();
        batches.push(batch);
    }
    if rows == 0 {
        return Ok(None);
    }
    let batch = datafusion::arrow::compute::concat_batches(&schema, &batches).map_err(|e| e.to_string())?;
    Ok(Some(batch.slice(0, rows.min(SAMPLE_ROWS))))
}

/// A sampled column as its distinct values (null read as `""` by the matchers, as
/// everywhere) and each row's index among them: a key is tested once per distinct value.
struct SampledColumn {
    values: ArrayRef,
    ids: Vec<u32>,
}

impl SampledColumn {
    fn new(column: &ArrayRef) -> Option<SampledColumn> {
        use datafusion::arrow::array::{AsArray, StringArray};
        let text = datafusion::arrow::compute::cast(column, &datafusion::arrow::datatypes::DataType::Utf8).ok()?;
        let text = text.as_string_opt::<i32>()?;
        let mut index: std::collections::HashMap<Option<&str>, u32> = std::collections::HashMap::new();
        let mut values: Vec<Option<&str>> = Vec::new();
        let ids = text
            .iter()
            .map(|v| {
                *index.entry(v).or_insert_with(|| {
                    values.push(v);
                    (values.len() - 1) as u32
                })
            })
            .collect();
        Some(SampledColumn {
            values: Arc::new(StringArray::from(values)),
            ids,
        })
    }
}

/// The sample rows a key matches (all of them when a column cannot be tested).
fn key_matches(key: &Key, columns: &BTreeMap<String, Option<SampledColumn>>, rows: usize) -> BooleanBuffer {
    let mut by_column: BTreeMap<&str, Vec<Test>> = BTreeMap::new();
    for (column, test) in key {
        by_column.entry(column).or_default().push(test.clone());
    }
    let mut acc = BooleanBuffer::new_unset(rows);
    for (column, tests) in by_column {
        let Some(Some(sampled)) = columns.get(column) else {
            return BooleanBuffer::new_set(rows);
        };
        let Ok(answers) = functions::MultiMatcher::new(tests).any_match(sampled.values.as_ref()) else {
            return BooleanBuffer::new_set(rows);
        };
        let matched = BooleanBuffer::collect_bool(rows, |i| {
            sampled.ids.get(i).is_some_and(|&id| answers.value(id as usize))
        });
        acc = &acc | &matched;
    }
    acc
}

/// One key per predicate (`None`: it has none, and any row may match it), chosen over the
/// predicates together. Each column a key tests is read and tested on every row of the
/// window, and every row a key matches is kept, so the choice weighs the columns tested
/// against the share of rows kept ([`KEEP_COST`]), measured on `sample`: it starts from
/// each predicate's most selective key and drops a column while the predicates keyed by it
/// can be keyed by the other columns for less than the column costs. Without a sample
/// (an empty window), each predicate takes the key whose needles look most selective.
fn choose_keys(candidates: &[Vec<Key>], sample: Option<&RecordBatch>) -> Vec<Option<Key>> {
    let Some(sample) = sample.filter(|s| s.num_rows() > 0) else {
        return candidates
            .iter()
            .map(|keys| {
                let mut best: Option<&Key> = None;
                for k in keys {
                    if best.is_none_or(|b| needle_score(k) > needle_score(b)) {
                        best = Some(k);
                    }
                }
                best.cloned()
            })
            .collect();
    };
    let n = sample.num_rows();
    let rows = n as f64;
    let columns: BTreeMap<String, Option<SampledColumn>> = sample_columns(candidates)
        .into_iter()
        .map(|c| {
            let sampled = sample.column_by_name(&c).and_then(SampledColumn::new);
            (c, sampled)
        })
        .collect();
    let matches: Vec<Vec<BooleanBuffer>> = candidates
        .iter()
        .map(|keys| keys.iter().map(|k| key_matches(k, &columns, n)).collect())
        .collect();
    let columns_of = |k: &Key| k.iter().map(|(c, _)| c.clone()).collect::<BTreeSet<String>>();
    // Per predicate, its best key within `allowed` columns: fewest sample matches, then
    // the most selective-looking needles, then the first.
    let best_within = |i: usize, allowed: Option<&BTreeSet<String>>| -> Option<usize> {
        let mut best: Option<(usize, usize, usize)> = None;
        for (j, k) in candidates[i].iter().enumerate() {
            if allowed.is_some_and(|a| !columns_of(k).is_subset(a)) {
                continue;
            }
            let hits = matches[i][j].count_set_bits();
            let better = match best {
                None => true,
                Some((_, h, s)) => hits < h || (hits == h && needle_score(k) > s),
            };
            if better {
                best = Some((j, hits, needle_score(k)));
            }
        }
        best.map(|(j, _, _)| j)
    };
    let cost = |choice: &[Option<usize>]| -> f64 {
        let mut kept = BooleanBuffer::new_unset(sample.num_rows());
        let mut columns = BTreeSet::new();
        for (i, j) in choice.iter().enumerate() {
            if let Some(j) = *j {
                kept = &kept | &matches[i][j];
                columns.extend(columns_of(&candidates[i][j]));
            }
        }
        columns.len() as f64 + KEEP_COST * kept.count_set_bits() as f64 / rows
    };
    let mut choice: Vec<Option<usize>> = (0..candidates.len()).map(|i| best_within(i, None)).collect();
    loop {
        let used: BTreeSet<String> = choice
            .iter()
            .enumerate()
            .filter_map(|(i, j)| j.map(|j| columns_of(&candidates[i][j])))
            .flatten()
            .collect();
        let current = cost(&choice);
        let mut best: Option<(f64, Vec<Option<usize>>)> = None;
        for dropped in &used {
            let mut allowed = used.clone();
            allowed.remove(dropped);
            let Some(next) = (0..candidates.len())
                .map(|i| match choice[i] {
                    None => Some(None),
                    Some(_) => best_within(i, Some(&allowed)).map(Some),
                })
                .collect::<Option<Vec<_>>>()
            else {
                continue;
            };
            let c = cost(&next);
            if c < current && best.as_ref().is_none_or(|(b, _)| c < *b) {
                best = Some((c, next));
            }
        }
        match best {
            Some((_, next)) => choice = next,
            None => break,
        }
    }
    choice
        .iter()
        .enumerate()
        .map(|(i, j)| j.map(|j| candidates[i][j].clone()))
        .collect()
}

fn string_literal(v: &ScalarValue) -> Option<String> {
    match v {
        ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s)) => {
            Some(s.clone())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
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
        let plans: Vec<Option<&OptimizedQuery>> = plans.iter().map(Option::as_ref).collect();
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
    }

    /// A column as plans name it (DataFusion's `col()` lower-cases).
    fn col(name: &str) -> Expr {
        Expr::Column(Column::new_unqualified(name))
    }

    /// `column has needle`, as the planner lowers it.
    fn has(column: &str, needle: &str) -> Expr {
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

    /// Each predicate's key chosen from its needles alone (no sample).
    fn heuristic_keys(predicates: &[Expr]) -> Vec<Option<Key>> {
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

    /// The keys of an `or` combine a key of each side; a conjunct never true is the key.
    #[test]
    fn keys_of_or_combine_both_sides() {
        let e = has("Company", "Google LLC")
            .and(has("Product", "Chrome Remote Desktop"))
            .or(has("RemoteUrl", "remotedesktop.google.com"));
        let keys = key_candidates(&e);
        let columns: Vec<Vec<&str>> = keys
            .iter()
            .map(|k| k.iter().map(|(c, _)| c.as_str()).collect())
            .collect();
        assert_eq!(columns, [vec!["Product", "RemoteUrl"], vec!["Company", "RemoteUrl"]]);
    }

    /// A sample with `Company`, `Product` and `RemoteUrl` columns: `google` rows of
    /// `Google LLC` (of which `crd` are Chrome Remote Desktop), `teamviewer` rows of
    /// TeamViewer, the rest other software; 10,000 rows.
    fn sample_batch(google: usize, crd: usize, teamviewer: usize) -> RecordBatch {
        use datafusion::arrow::array::StringArray;
        let n = 10_000;
        let (mut company, mut product, mut url) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..n {
            let (c, p, u) = if i < crd {
                ("Google LLC", "Chrome Remote Desktop", "remotedesktop.google.com")
            } else if i < google {
                ("Google LLC", "Google Chrome", "www.google.com")
            } else if i < google + teamviewer {
                ("TeamViewer GmbH", "TeamViewer", "router1.teamviewer.com")
            } else {
                ("Contoso Ltd", "Contoso Agent", "telemetry.contoso.com")
            };
            company.push(c);
            product.push(p);
            url.push(u);
        }
        let array = |v: Vec<&str>| Arc::new(StringArray::from(v)) as ArrayRef;
        RecordBatch::try_from_iter([
            ("Company", array(company)),
            ("Product", array(product)),
            ("RemoteUrl", array(url)),
        ])
        .unwrap()
    }

    /// The columns the chosen keys test, per predicate.
    fn chosen(predicates: &[Expr], sample: &RecordBatch) -> Vec<Vec<String>> {
        let candidates: Vec<Vec<Key>> = predicates.iter().map(key_candidates).collect();
        choose_keys(&candidates, Some(sample))
            .into_iter()
            .map(|k| {
                k.unwrap_or_default()
                    .into_iter()
                    .map(|(c, _)| c)
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect()
            })
            .collect()
    }

    /// Keys are chosen over the predicates together: as few columns as the rows they keep
    /// allow, measured on the sample.
    #[test]
    fn keys_trade_columns_against_kept_rows() {
        let crd = has("Company", "Google LLC").and(has("Product", "Chrome Remote Desktop"));
        let teamviewer = has("Company", "TeamViewer");
        let both = has("Company", "TeamViewer").and(has("Product", "TeamViewer"));
        // Google LLC on 5 % of the rows: keying Chrome Remote Desktop by the company would
        // keep 50 times the rows; two columns are cheaper.
        let sample = sample_batch(500, 10, 10);
        assert_eq!(
            chosen(&[crd.clone(), teamviewer.clone()], &sample),
            [vec!["Product"], vec!["Company"]]
        );
        // On 0.5 %: one column is cheaper than the rows it adds.
        let sample = sample_batch(50, 10, 10);
        assert_eq!(
            chosen(&[crd.clone(), teamviewer.clone()], &sample),
            [vec!["Company"], vec!["Company"]]
        );
        // A predicate that can be keyed by either column follows the one another needs.
        let sample = sample_batch(500, 10, 10);
        assert_eq!(
            chosen(&[crd.clone(), both.clone()], &sample),
            [vec!["Product"], vec!["Product"]]
        );
        // Without a sample, each takes the key with the longest needles.
        let keys = heuristic_keys(&[crd, both]);
        let columns: Vec<&str> = keys.iter().map(|k| k.as_ref().unwrap()[0].0.as_str()).collect();
        assert_eq!(columns, ["Product", "Company"]);
    }

    /// A predicate without a key stays without one; one never true needs no column.
    #[test]
    fn unkeyed_and_never_true_predicates_keep_their_keys() {
        use datafusion::prelude::lit;
        let empty = functions::kernels::kernel_udf(functions::kernels::IN_CS)
            .expect("kernel")
            .call(vec![
                col("Company"),
                engine::literal::dynamic(&serde_json::json!([])).expr,
            ]);
        let sample = sample_batch(500, 10, 10);
        let predicates = [
            col("Timestamp").gt(lit(1i64)),
            empty,
            has("Product", "Chrome Remote Desktop"),
        ];
        let candidates: Vec<Vec<Key>> = predicates.iter().map(key_candidates).collect();
        let keys = choose_keys(&candidates, Some(&sample));
        assert_eq!(keys[0], None);
        assert_eq!(keys[1], Some(Vec::new()));
        assert_eq!(keys[2].as_ref().map(|k| k[0].0.as_str()), Some("Product"));
        // Not every predicate has a key: no term pass.
        assert_eq!(term_filter(&keys), None);
    }
}
