//! Test harness: evaluates lowered expressions over small record batches through a real
//! DataFusion session (type coercion, simplification and physical planning included),
//! and renders the cells as Kusto prints them.

use crate::api::{Arg, LowerCtx, TypedExpr};
use crate::render::render_cell;
use datafusion::arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions};
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::common::DFSchema;
use datafusion::logical_expr::col;
use datafusion::prelude::SessionContext;
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
    let fields: Vec<Field> = cols.iter().map(|(n, a)| Field::new(*n, a.data_type().clone(), true)).collect();
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
