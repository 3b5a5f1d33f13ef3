//! Test harness: evaluates lowered expressions over small record batches through a real
//! DataFusion session (type coercion, simplification and physical planning included),
//! and renders the cells as Kusto prints them.

use crate::api::{Arg, LowerCtx, TypedExpr};
use crate::render::render_cell;
use datafusion::arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions};
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::common::DFSchema;
use datafusion::prelude::SessionContext;
use datafusion::prelude::ident as col;
use schema::KqlType;
use std::sync::Arc;

/// A fixed `now()` for tests: 2024-05-01T00:00:00Z.
pub const NOW: i64 = 1_714_521_600_000_000_000;

pub fn ctx() -> LowerCtx {
    LowerCtx::new(NOW)
}

pub fn session() -> SessionContext {
    let mut ctx = SessionContext::new();
    crate::register_all(&mut ctx).expect("register");
    ctx
}

/// A batch of named columns.
pub fn batch(cols: Vec<(&str, ArrayRef)>) -> RecordBatch {
    let fields: Vec<Field> = cols
        .iter()
        .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
        .collect();
    let arrays = cols.into_iter().map(|(_, a)| a).collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).expect("batch")
}

/// A batch with one row and no columns (what `print` evaluates over).
pub fn one_row() -> RecordBatch {
    RecordBatch::try_new_with_options(
        Arc::new(Schema::empty()),
        vec![],
        &RecordBatchOptions::new().with_row_count(Some(1)),
    )
    .expect("batch")
}

/// Evaluates `e` over `b` and renders every cell.
pub fn eval_on(e: &TypedExpr, b: &RecordBatch) -> Vec<String> {
    try_eval_on(e, b).unwrap_or_else(|err| panic!("evaluation failed: {err}"))
}

pub fn try_eval_on(e: &TypedExpr, b: &RecordBatch) -> datafusion::common::Result<Vec<String>> {
    let s = session();
    let schema = DFSchema::try_from(b.schema().as_ref().clone())?;
    let phys = s.create_physical_expr(e.expr.clone(), &schema)?;
    let arr = phys.evaluate(b)?.into_array(b.num_rows())?;
    (0..b.num_rows()).map(|i| render_cell(arr.as_ref(), i, e.ty)).collect()
}

/// Evaluates a constant expression (`print e`).
pub fn eval1(e: &TypedExpr) -> String {
    eval_on(e, &one_row()).into_iter().next().unwrap_or_default()
}

/// `print f(args…)`, rendered.
pub fn call(name: &str, args: Vec<TypedExpr>) -> String {
    let e = crate::lower_call(name, args.into_iter().map(Arg::positional).collect(), &ctx())
        .unwrap_or_else(|err| panic!("{name}: {err}"));
    eval1(&e)
}

/// `print f(args…)` with its KQL type.
pub fn call_typed(name: &str, args: Vec<TypedExpr>) -> (String, KqlType) {
    let e = crate::lower_call(name, args.into_iter().map(Arg::positional).collect(), &ctx())
        .unwrap_or_else(|err| panic!("{name}: {err}"));
    (eval1(&e), e.ty)
}

/// A column reference of a given KQL type.
pub fn column(name: &str, ty: KqlType) -> TypedExpr {
    TypedExpr::new(col(name), ty)
}

/// `print l op r`, rendered.
pub fn binop(op: &str, l: TypedExpr, r: TypedExpr) -> String {
    let e = crate::lower_binary(op, l, r).unwrap_or_else(|err| panic!("{op}: {err}"));
    eval1(&e)
}

/// `T | summarize aggs by keys`, rendered as rows sorted by their text (multi-column
/// aggregates expanded as the engine expands them). Returns (column names, rows).
pub fn summarize(
    b: RecordBatch,
    keys: Vec<(&str, TypedExpr)>,
    aggs: Vec<crate::api::TypedAgg>,
) -> (Vec<String>, Vec<Vec<String>>) {
    try_summarize(b, keys, aggs).unwrap_or_else(|e| panic!("summarize failed: {e}"))
}

pub fn try_summarize(
    b: RecordBatch,
    keys: Vec<(&str, TypedExpr)>,
    aggs: Vec<crate::api::TypedAgg>,
) -> datafusion::common::Result<(Vec<String>, Vec<Vec<String>>)> {
    let rt = tokio::runtime::Builder::new_current_thread().build()?;
    rt.block_on(async move {
        let s = session();
        let df = s.read_batch(b)?;
        let group: Vec<_> = keys.iter().map(|(n, e)| e.expr.clone().alias(*n)).collect();
        let agg_exprs: Vec<_> = aggs
            .iter()
            .enumerate()
            .map(|(i, a)| a.expr.clone().alias(format!("__agg{i}")))
            .collect();
        let df = df.aggregate(group, agg_exprs)?;
        let mut projection = Vec::new();
        let mut names = Vec::new();
        let mut types = Vec::new();
        for (n, e) in &keys {
            projection.push(col(*n));
            names.push(n.to_string());
            types.push(e.ty);
        }
        for (i, a) in aggs.iter().enumerate() {
            let c = col(format!("__agg{i}"));
            match &a.columns {
                Some(mc) => {
                    for te in mc.expand(c) {
                        projection.push(te.expr);
                        types.push(te.ty);
                    }
                    names.extend(mc.names.iter().cloned());
                }
                None => {
                    projection.push(c);
                    names.push(a.default_name.clone());
                    types.push(a.ty);
                }
            }
        }
        let batches = df.select(projection)?.collect().await?;
        let mut rows = Vec::new();
        for batch in batches {
            for r in 0..batch.num_rows() {
                let mut row = Vec::new();
                for (c, ty) in types.iter().enumerate() {
                    row.push(render_cell(batch.column(c).as_ref(), r, *ty)?);
                }
                rows.push(row);
            }
        }
        rows.sort();
        Ok((names, rows))
    })
}

/// Lowers an aggregate call with positional arguments.
pub fn agg(name: &str, args: Vec<TypedExpr>) -> crate::api::TypedAgg {
    crate::lower_aggregate(name, args.into_iter().map(Arg::positional).collect(), &ctx())
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}
