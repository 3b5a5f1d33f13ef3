//! Output exclusions over a rule's result rows. Each predicate is planned once per hunt and
//! result schema — as `QuarryRuleOutput | extend f = iff((p), true, false)` over an empty
//! table with the result's columns — and its expression is then evaluated on each result's
//! batches. Planning and running that query for every result cost a rule of the RMM pack
//! more than its own run over the shared rows; the rules of a pack share their exclusions
//! and their result columns, so one plan serves them all.
//!
//! The optimizer may factor common subexpressions out into projections below the flag's:
//! they are put back into the expression. A predicate whose plan is not projections of the
//! table (a volatile function, a subquery) has no expression: the caller plans and runs the
//! query instead ([`flag_by_query`]), which gives the same answer.

use crate::exclusions::{self, OUTPUT_TABLE};
use crate::fused::{has_subquery, unqualified};
use datafusion::arrow::array::{Array, ArrayRef, BooleanArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::DFSchema;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::physical_expr::PhysicalExpr;
use engine::{Engine, MemCatalog, QueryOptions, QueryResult};
use schema::KqlType;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// A predicate compiled over a result schema: its expression binds the schema's columns
/// by position.
struct Compiled {
    schema: SchemaRef,
    expr: Arc<dyn PhysicalExpr>,
}

type Key = (String, Vec<(String, KqlType)>);

/// The output exclusions compiled so far in a hunt, by predicate and result columns
/// (`None`: the predicate has no expression over those columns).
#[derive(Default)]
pub(crate) struct OutputFlags(Mutex<HashMap<Key, Option<Arc<Compiled>>>>);

impl OutputFlags {
    /// `result` with one boolean column per predicate appended (true: the exclusion
    /// matches the row; null counts as false). `None` when a predicate has no expression
    /// over the result's columns, or a batch does not have the schema it was compiled for.
    pub fn flag(
        &self,
        engine: &Engine,
        options: &QueryOptions,
        result: &QueryResult,
        predicates: &[&str],
    ) -> Option<QueryResult> {
        let compiled: Vec<Arc<Compiled>> = predicates
            .iter()
            .map(|p| self.compiled(engine, options, &result.columns, p))
            .collect::<Option<_>>()?;
        let names = flag_names(&result.columns, predicates.len());
        let mut columns = result.columns.clone();
        columns.extend(names.iter().map(|n| (n.clone(), KqlType::Bool)));
        let mut batches = Vec::with_capacity(result.batches.len());
        for batch in &result.batches {
            let mut arrays: Vec<ArrayRef> = batch.columns().to_vec();
            let mut fields: Vec<Field> = batch.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
            for (c, name) in compiled.iter().zip(&names) {
                if !same_columns(&batch.schema(), &c.schema) {
                    return None;
                }
                let value = c.expr.evaluate(batch).ok()?.into_array(batch.num_rows()).ok()?;
                let flags = value.as_any().downcast_ref::<BooleanArray>()?;
                // `iff(p, true, false)` is never null; a null would count as false.
                let flags: BooleanArray = flags.iter().map(|v| Some(v == Some(true))).collect();
                arrays.push(Arc::new(flags));
                fields.push(Field::new(name, DataType::Boolean, false));
            }
            batches.push(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).ok()?);
        }
        Some(QueryResult {
            name: result.name.clone(),
            columns,
            batches,
        })
    }

    fn compiled(
        &self,
        engine: &Engine,
        options: &QueryOptions,
        columns: &[(String, KqlType)],
        predicate: &str,
    ) -> Option<Arc<Compiled>> {
        let key = (predicate.to_string(), columns.to_vec());
        if let Some(hit) = self.0.lock().unwrap_or_else(PoisonError::into_inner).get(&key) {
            return hit.clone();
        }
        // Compiled outside the lock: two rules may compile the same predicate at once.
        let compiled = compile(engine, options, columns, predicate).map(Arc::new);
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, compiled.clone());
        compiled
    }
}

/// Names for `n` flag columns that no result column has.
fn flag_names(columns: &[(String, KqlType)], n: usize) -> Vec<String> {
    let mut names = Vec::with_capacity(n);
    let mut k = 0usize;
    while names.len() < n {
        let name = format!("QuarryExcluded{k}");
        k += 1;
        if !columns.iter().any(|(c, _)| *c == name) {
            names.push(name);
        }
    }
    names
}

/// The query that flags the rows of a result table each predicate matches.
fn flag_query(columns: &[(String, KqlType)], predicates: &[&str]) -> String {
    let assignments: Vec<String> = predicates
        .iter()
        .zip(flag_names(columns, predicates.len()))
        .map(|(p, n)| format!("{n} = iff(({p}), true, false)"))
        .collect();
    format!("{OUTPUT_TABLE}\n| extend {}", assignments.join(",\n    "))
}

/// The same column names and types in the same order (nullability and metadata aside).
fn same_columns(a: &Schema, b: &Schema) -> bool {
    a.fields().len() == b.fields().len()
        && a.fields()
            .iter()
            .zip(b.fields())
            .all(|(x, y)| x.name() == y.name() && x.data_type() == y.data_type())
}

/// The expression of `predicate`'s flag over a result with `columns`, as the engine plans
/// and optimizes it.
fn compile(
    engine: &Engine,
    options: &QueryOptions,
    columns: &[(String, KqlType)],
    predicate: &str,
) -> Option<Compiled> {
    let mut catalog = MemCatalog::new();
    catalog.add_provider(exclusions::output_schema(columns), exclusions::empty_provider(columns));
    let engine = engine.with_catalog(Arc::new(catalog));
    let planned = engine.plan(&flag_query(columns, &[predicate]), options).ok()?;
    if !planned.planning_reads.is_empty() {
        return None;
    }
    let optimized = engine.optimize(planned).ok()?;
    let [result] = optimized.results.as_slice() else {
        return None;
    };
    let LogicalPlan::Projection(projection) = &result.plan else {
        return None;
    };
    let mut expr = projection.expr.last()?.clone().unalias();
    let mut input = projection.input.as_ref();
    // The common subexpressions the optimizer factored out are projections below: put
    // them back into the expression.
    while let LogicalPlan::Projection(below) = input {
        let defined: HashMap<String, Expr> = below
            .expr
            .iter()
            .map(|e| (e.schema_name().to_string(), e.clone().unalias()))
            .collect();
        expr = expr
            .transform(|x| match x {
                Expr::Column(c) => match defined.get(&c.name) {
                    Some(e) => Ok(Transformed::yes(e.clone())),
                    None => Ok(Transformed::no(Expr::Column(c))),
                },
                other => Ok(Transformed::no(other)),
            })
            .ok()?
            .data;
        input = below.input.as_ref();
    }
    let LogicalPlan::TableScan(scan) = input else {
        return None;
    };
    if scan.table_name.table() != OUTPUT_TABLE || !scan.filters.is_empty() {
        return None;
    }
    if expr.is_volatile() || has_subquery(&expr) {
        return None;
    }
    let schema: SchemaRef = Arc::new(exclusions::output_schema(columns).arrow_schema());
    let df_schema = DFSchema::try_from(schema.as_ref().clone()).ok()?;
    let expr = engine
        .session()
        .state()
        .create_physical_expr(unqualified(&expr), &df_schema)
        .ok()?;
    Some(Compiled { schema, expr })
}

/// `result` flagged by planning and running the flag query over it (the general path).
pub(crate) async fn flag_by_query(
    engine: &Engine,
    options: &QueryOptions,
    result: &QueryResult,
    predicates: &[&str],
) -> Result<QueryResult, String> {
    let Some(first) = result.batches.first() else {
        return Ok(result.clone());
    };
    let table = datafusion::datasource::MemTable::try_new(first.schema(), vec![result.batches.clone()])
        .map_err(|e| e.to_string())?;
    let mut catalog = MemCatalog::new();
    catalog.add_provider(exclusions::output_schema(&result.columns), Arc::new(table));
    let engine = engine.with_catalog(Arc::new(catalog));
    let mut results = engine
        .query(&flag_query(&result.columns, predicates), options)
        .await
        .map_err(|e| e.to_string())?;
    if results.is_empty() {
        return Err("no result".into());
    }
    Ok(results.swap_remove(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(engine: &Engine, options: &QueryOptions) -> QueryResult {
        let query = "datatable(DeviceName:string, Count:long, Seen:datetime, Tags:dynamic)[
            'sccm-01.contoso.com', 3, datetime(2024-05-01), dynamic(['a']),
            'ws-0001.contoso.com', 12, datetime(2024-05-06), dynamic(['b', 'c']),
            '', 0, datetime(null), dynamic(null),
            'WSUS.contoso.com', long(null), datetime(2024-05-07), dynamic([]),
        ]";
        let mut results = engine.query_blocking(query, options).unwrap();
        results.swap_remove(0)
    }

    fn rows(r: &QueryResult) -> Vec<Vec<serde_json::Value>> {
        r.json_rows().unwrap()
    }

    /// The compiled expressions flag exactly the rows the flag query does: several
    /// predicates at once, nulls, `now()`, dynamic values; a predicate with no expression
    /// over the result is left to the query.
    #[test]
    fn compiled_flags_are_those_of_the_query() {
        let engine = Engine::new(Arc::new(MemCatalog::new())).unwrap();
        let now = schema::values::parse_datetime("2024-05-08T00:00:00Z").unwrap();
        let options = QueryOptions { now: Some(now) };
        let r = result(&engine, &options);
        let cases: &[&[&str]] = &[
            &["DeviceName has_any ('sccm', 'mecm', 'wsus', 'deploy')"],
            &["Count > 5", "isempty(DeviceName)"],
            &[
                "Seen < ago(3d)",
                "array_length(Tags) > 1",
                "DeviceName endswith '.com' and Count < 10",
            ],
            &["toint(DeviceName) > 0 or Count == 0"],
        ];
        let flags = OutputFlags::default();
        for predicates in cases {
            let compiled = flags.flag(&engine, &options, &r, predicates).expect("compiles");
            let by_query = futures::executor::block_on(flag_by_query(&engine, &options, &r, predicates)).unwrap();
            assert_eq!(compiled.columns, by_query.columns, "{predicates:?}");
            assert_eq!(rows(&compiled), rows(&by_query), "{predicates:?}");
            let flagged: usize = rows(&compiled)
                .iter()
                .map(|row| row[4..].iter().filter(|v| **v == serde_json::Value::Bool(true)).count())
                .sum();
            assert!(flagged > 0, "{predicates:?} flags some row");
        }
        // The optimizer factors a repeated subexpression out into a projection below:
        // it is put back into the expression.
        let repeated = ["tolower(DeviceName) has 'sccm' or tolower(DeviceName) startswith 'ws-'"];
        let compiled = flags.flag(&engine, &options, &r, &repeated).expect("compiles");
        assert_eq!(
            rows(&compiled).iter().map(|row| row[4].clone()).collect::<Vec<_>>(),
            [true, true, false, false].map(serde_json::Value::Bool)
        );
        // A volatile predicate has no expression to keep: the query answers.
        let volatile = ["rand() < 2"];
        assert!(flags.flag(&engine, &options, &r, &volatile).is_none());
        let by_query = futures::executor::block_on(flag_by_query(&engine, &options, &r, &volatile)).unwrap();
        assert!(
            rows(&by_query)
                .iter()
                .all(|row| row[4] == serde_json::Value::Bool(true))
        );
        // A result with another column's type is compiled again, not evaluated with the
        // expression of the first.
        let other = engine
            .query_blocking(
                "datatable(DeviceName:string, Count:real)['a-sccm', 7.5, 'b', 1.0]",
                &options,
            )
            .unwrap()
            .swap_remove(0);
        let compiled = flags.flag(&engine, &options, &other, &["Count > 5"]).unwrap();
        assert_eq!(
            rows(&compiled).iter().map(|row| row[2].clone()).collect::<Vec<_>>(),
            [true, false].map(serde_json::Value::Bool)
        );
    }
}
