//! `scan`: a state machine over the serialized rows (the reference's "scan logic").
//!
//! Each record is checked against the steps from the last to the first. Conditions and
//! assignments are planned like any expression, with `step.column` referring to the state
//! of a step; they are evaluated record by record (the state changes after each one), so the
//! input is collected while planning and the matches become the operator's rows. In
//! validation only the output schema is produced.

use super::Planner;
use super::env::Env;
use super::expr::Scope;
use super::tab::{Col, Tab, col};
use super::union::find_param;
use crate::diag::{self, PResult, Reported};
use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::logical_expr::{Expr, LogicalPlanBuilder};
use datafusion::physical_expr::PhysicalExpr;
use kql::Diagnostic;
use kql::ast;
use schema::KqlType;
use std::sync::Arc;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Output {
    All,
    Last,
    None,
}

/// An assignment of a step: the declared column's index, its value, its type.
type Assignment = (usize, Arc<dyn PhysicalExpr>, KqlType);

/// One step, planned.
struct Step {
    output: Output,
    condition: Expr,
    /// (index into the declared columns, value)
    assignments: Vec<(usize, Expr, KqlType)>,
}

/// The state of a step: the rows of steps 1..=k of the ongoing sequence, and its match id.
#[derive(Clone)]
struct State {
    rows: Vec<Option<Vec<ScalarValue>>>,
    match_id: i64,
}

/// The name of the hidden column holding `step.column` during evaluation.
fn state_column(step: &str, column: &str) -> String {
    format!("{step}.{column}")
}

impl Planner<'_> {
    pub(super) fn plan_scan(&mut self, t: Tab, s: &ast::ScanOp, env: &Env) -> PResult<Tab> {
        let op = "scan";
        let match_id = find_param(&s.params, "with_match_id").and_then(super::union::param_text);
        // Declared columns and their defaults.
        let mut declared: Vec<(Col, ScalarValue)> = Vec::new();
        for d in &s.declare {
            let ty = self.type_name(&d.ty)?;
            if t.has(&d.name.name) || declared.iter().any(|(c, _)| c.name == d.name.name) {
                return Err(self.report(diag::duplicate_column(&d.name.name, d.name.span)));
            }
            let default = match &d.default {
                Some(e) => {
                    let (v, vty) = self.const_value(e, env, op)?;
                    let v = if vty == ty {
                        v
                    } else {
                        let conv = functions::coerce::convert(functions::TypedExpr::literal(v, vty), ty)
                            .map_err(|err| self.report(diag::function_error(&err, e.span)))?;
                        self.eval_const(conv, e.span)?.0
                    };
                    v.cast_to(&ty.to_arrow())
                        .map_err(|err| self.internal(op, err, e.span))?
                }
                None => crate::literal::null_of(ty),
            };
            declared.push((Col::new(d.name.name.clone(), ty), default));
        }
        let mut extended: Vec<Col> = t.cols.clone();
        extended.extend(declared.iter().map(|(c, _)| c.clone()));
        // The evaluation row: the record (with declared columns at their defaults), then
        // `step.column` for every step and column.
        let step_names: Vec<String> = s.steps.iter().map(|st| st.name.name.clone()).collect();
        let mut scope_cols = extended.clone();
        for st in &step_names {
            for c in &extended {
                scope_cols.push(Col::new(state_column(st, &c.name), c.ty));
            }
        }
        let mut steps = Vec::with_capacity(s.steps.len());
        let mut failed = false;
        for st in &s.steps {
            let output = match st.output.as_ref().map(|o| o.name.as_str()) {
                None | Some("all") => Output::All,
                Some("last") => Output::Last,
                Some("none") => Output::None,
                Some(other) => {
                    failed = true;
                    self.report(Diagnostic::error(
                        "QE019",
                        format!("scan: unknown output kind '{other}'"),
                        st.span,
                    ));
                    continue;
                }
            };
            let condition = {
                let mut sc = Scope::new(env, Some(&scope_cols), op);
                sc.qualified = Some(&step_names);
                self.lower_scalar(&st.condition, &mut sc)
                    .and_then(|c| self.predicate(c, st.condition.span))
            };
            let mut assignments = Vec::new();
            for a in &st.assignments {
                let Some(i) = declared.iter().position(|(c, _)| c.name == a.column.name) else {
                    failed = true;
                    self.report(Diagnostic::error(
                        "QE019",
                        format!("scan: '{}' is not a declared column", a.column.name),
                        a.column.span,
                    ));
                    continue;
                };
                let ty = declared[i].0.ty;
                let v = {
                    let mut sc = Scope::new(env, Some(&scope_cols), op);
                    sc.qualified = Some(&step_names);
                    self.lower_scalar(&a.value, &mut sc)
                };
                match v.and_then(|v| {
                    functions::coerce::convert(v, ty).map_err(|e| self.report(diag::function_error(&e, a.value.span)))
                }) {
                    Ok(v) => assignments.push((i, v.expr, ty)),
                    Err(_) => failed = true,
                }
            }
            match condition {
                Ok(c) => steps.push(Step {
                    output,
                    condition: c.expr,
                    assignments,
                }),
                Err(_) => failed = true,
            }
        }
        if failed {
            return Err(Reported);
        }
        let mut out_cols = extended.clone();
        if let Some(m) = &match_id {
            out_cols.push(Col::new(m.clone(), KqlType::Long));
        }
        let Some(exec) = self.exec else {
            // Validation: the schema, no rows.
            let mut items: Vec<(Expr, Col)> = t.cols.iter().map(|c| (col(&c.name), c.clone())).collect();
            for (c, d) in &declared {
                items.push((Expr::Literal(d.clone(), None), c.clone()));
            }
            if let Some(m) = &match_id {
                items.push((
                    Expr::Literal(ScalarValue::Int64(None), None),
                    Col::new(m.clone(), KqlType::Long),
                ));
            }
            let t = t.project(items).map_err(|e| self.internal(op, e, s.span))?;
            return self.empty_like(t, s.span);
        };
        // Run the state machine over the collected input.
        let batches = exec
            .collect(t.plan.clone())
            .map_err(|e| self.report(Diagnostic::error("QE100", e.to_string(), s.span)))?;
        let input_schema = t.plan.schema().inner().clone();
        let input = match concat_batches(&input_schema, &batches) {
            Ok(b) => b,
            Err(e) => return Err(self.internal(op, e, s.span)),
        };
        let result = run_scan(
            exec,
            &input,
            &t.cols,
            &declared,
            &steps,
            &step_names,
            match_id.is_some(),
        );
        let rows = match result {
            Ok(r) => r,
            Err(e) => return Err(self.report(Diagnostic::error("QE100", format!("scan: {e}"), s.span))),
        };
        // The matches as a table.
        let fields: Vec<Field> = out_cols
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let dt = if i < t.cols.len() {
                    input_schema
                        .fields()
                        .get(i)
                        .map(|f| f.data_type().clone())
                        .unwrap_or(c.ty.to_arrow())
                } else {
                    c.ty.to_arrow()
                };
                Field::new(&c.name, dt, true)
            })
            .collect();
        let schema: SchemaRef = Arc::new(Schema::new(fields));
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(out_cols.len());
        for (i, f) in schema.fields().iter().enumerate() {
            let values: Vec<ScalarValue> = rows.iter().map(|r| r[i].clone()).collect();
            let arr = if values.is_empty() {
                datafusion::arrow::array::new_empty_array(f.data_type())
            } else {
                match ScalarValue::iter_to_array(values) {
                    Ok(a) => a,
                    Err(e) => return Err(self.internal(op, e, s.span)),
                }
            };
            columns.push(arr);
        }
        let batch = RecordBatch::try_new(schema.clone(), columns).map_err(|e| self.internal(op, e, s.span))?;
        let mem = datafusion::catalog::MemTable::try_new(schema, vec![vec![batch]])
            .map_err(|e| self.internal(op, e, s.span))?;
        let name = self.hidden("scan");
        let plan = LogicalPlanBuilder::scan(
            datafusion::common::TableReference::bare(name),
            datafusion::catalog::default_table_source::provider_as_source(Arc::new(mem)),
            None,
        )
        .and_then(|b| b.build())
        .map_err(|e| self.internal(op, e, s.span))?;
        let mut out = Tab::new(plan, out_cols);
        out.serialized = true;
        Ok(out)
    }
}

/// Evaluates the steps record by record (see the module docs and the reference).
fn run_scan(
    exec: &dyn super::Executor,
    input: &RecordBatch,
    input_cols: &[Col],
    declared: &[(Col, ScalarValue)],
    steps: &[Step],
    step_names: &[String],
    with_match_id: bool,
) -> datafusion::common::Result<Vec<Vec<ScalarValue>>> {
    let n_in = input_cols.len();
    let width = n_in + declared.len();
    // The evaluation schema: record, declared, then every step's copy of both.
    let mut fields: Vec<Field> = Vec::new();
    for (i, c) in input_cols.iter().enumerate() {
        let dt = input
            .schema()
            .fields()
            .get(i)
            .map(|f| f.data_type().clone())
            .unwrap_or(c.ty.to_arrow());
        fields.push(Field::new(&c.name, dt, true));
    }
    for (c, _) in declared {
        fields.push(Field::new(&c.name, c.ty.to_arrow(), true));
    }
    let row_fields = fields.clone();
    for st in step_names {
        for f in &row_fields {
            fields.push(Field::new(state_column(st, f.name()), f.data_type().clone(), true));
        }
    }
    let schema = Arc::new(Schema::new(fields));
    let dfschema = DFSchema::try_from(schema.as_ref().clone())?;
    let conditions: Vec<Arc<dyn PhysicalExpr>> = steps
        .iter()
        .map(|s| exec.physical_expr(s.condition.clone(), &dfschema))
        .collect::<datafusion::common::Result<_>>()?;
    let assignments: Vec<Vec<Assignment>> = steps
        .iter()
        .map(|s| {
            s.assignments
                .iter()
                .map(|(i, e, ty)| Ok((*i, exec.physical_expr(e.clone(), &dfschema)?, *ty)))
                .collect::<datafusion::common::Result<Vec<_>>>()
        })
        .collect::<datafusion::common::Result<_>>()?;
    // A step's row when its state is empty: nulls, declared columns at their defaults.
    let empty_row: Vec<ScalarValue> = row_fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            if i < n_in {
                ScalarValue::try_from(f.data_type()).unwrap_or(ScalarValue::Null)
            } else {
                declared[i - n_in].1.clone()
            }
        })
        .collect();
    let n = steps.len();
    let mut state: Vec<Option<State>> = vec![None; n];
    let mut pending: Vec<Option<Vec<ScalarValue>>> = vec![None; n];
    let mut out: Vec<Vec<ScalarValue>> = Vec::new();
    let mut next_match_id: i64 = 0;
    let emit = |row: &[ScalarValue], id: i64, out: &mut Vec<Vec<ScalarValue>>| {
        let mut r = row.to_vec();
        if with_match_id {
            r.push(ScalarValue::Int64(Some(id)));
        }
        out.push(r);
    };
    for r in 0..input.num_rows() {
        let mut record: Vec<ScalarValue> = Vec::with_capacity(width);
        for c in 0..n_in {
            record.push(ScalarValue::try_from_array(input.column(c), r)?);
        }
        for (_, d) in declared {
            record.push(d.clone());
        }
        for k in (0..n).rev() {
            // Check 1: the previous step has a sequence and the record meets this step.
            if k > 0
                && let Some(prev) = state[k - 1].clone()
            {
                let own = state[k].as_ref().and_then(|s| s.rows.get(k).cloned().flatten());
                let ctx = context(&prev.rows, own.as_ref(), k, n, &empty_row);
                if eval_bool(&conditions[k], &schema, &record, &ctx)? {
                    let extended = assign(&assignments[k], &schema, &record, &ctx, n_in)?;
                    if let Some(p) = pending[k].take() {
                        emit(
                            &p,
                            state[k].as_ref().map(|s| s.match_id).unwrap_or(prev.match_id),
                            &mut out,
                        );
                    }
                    if let Some(p) = pending[k - 1].take() {
                        emit(&p, prev.match_id, &mut out);
                    }
                    let mut rows = prev.rows.clone();
                    rows.push(Some(extended.clone()));
                    state[k] = Some(State {
                        rows,
                        match_id: prev.match_id,
                    });
                    state[k - 1] = None;
                    match steps[k].output {
                        Output::All => emit(&extended, prev.match_id, &mut out),
                        Output::Last => pending[k] = Some(extended),
                        Output::None => {}
                    }
                    continue;
                }
            }
            // Check 2: this step has a sequence (or is the first) and the record meets it.
            if state[k].is_some() || k == 0 {
                let current = state[k].clone();
                let rows = current
                    .as_ref()
                    .map(|s| s.rows.clone())
                    .unwrap_or_else(|| vec![None; k + 1]);
                let ctx = context(
                    &rows[..rows.len().min(k)],
                    rows.get(k).cloned().flatten().as_ref(),
                    k,
                    n,
                    &empty_row,
                );
                if eval_bool(&conditions[k], &schema, &record, &ctx)? {
                    let extended = assign(&assignments[k], &schema, &record, &ctx, n_in)?;
                    let id = match &current {
                        Some(s) => s.match_id,
                        None => {
                            let id = next_match_id;
                            next_match_id += 1;
                            id
                        }
                    };
                    let mut rows = rows;
                    rows.resize(k + 1, None);
                    rows[k] = Some(extended.clone());
                    state[k] = Some(State { rows, match_id: id });
                    match steps[k].output {
                        Output::All => emit(&extended, id, &mut out),
                        Output::Last => pending[k] = Some(extended),
                        Output::None => {}
                    }
                }
            }
        }
    }
    for (k, p) in pending.into_iter().enumerate() {
        if let Some(p) = p {
            let id = state[k].as_ref().map(|s| s.match_id).unwrap_or(0);
            emit(&p, id, &mut out);
        }
    }
    Ok(out)
}

/// The values of every step's state as seen from step `k`: steps before `k` from `rows`,
/// step `k` itself from `own`, later steps empty.
fn context(
    rows: &[Option<Vec<ScalarValue>>],
    own: Option<&Vec<ScalarValue>>,
    k: usize,
    n: usize,
    empty: &[ScalarValue],
) -> Vec<ScalarValue> {
    let mut ctx = Vec::with_capacity(n * empty.len());
    for j in 0..n {
        let row = if j < k {
            rows.get(j).and_then(|r| r.as_ref())
        } else if j == k {
            own
        } else {
            None
        };
        ctx.extend(row.map(|r| r.as_slice()).unwrap_or(empty).iter().cloned());
    }
    ctx
}

fn one_row(schema: &SchemaRef, record: &[ScalarValue], ctx: &[ScalarValue]) -> datafusion::common::Result<RecordBatch> {
    let mut cols: Vec<ArrayRef> = Vec::with_capacity(record.len() + ctx.len());
    for (v, f) in record.iter().chain(ctx).zip(schema.fields()) {
        let v = if v.data_type() == *f.data_type() {
            v.clone()
        } else {
            v.cast_to(f.data_type())?
        };
        cols.push(v.to_array()?);
    }
    Ok(RecordBatch::try_new(schema.clone(), cols)?)
}

fn eval_bool(
    e: &Arc<dyn PhysicalExpr>,
    schema: &SchemaRef,
    record: &[ScalarValue],
    ctx: &[ScalarValue],
) -> datafusion::common::Result<bool> {
    let batch = one_row(schema, record, ctx)?;
    let v = e.evaluate(&batch)?.into_array(1)?;
    let b = v.as_any().downcast_ref::<BooleanArray>();
    Ok(b.is_some_and(|b| b.is_valid(0) && b.value(0)))
}

fn assign(
    assignments: &[Assignment],
    schema: &SchemaRef,
    record: &[ScalarValue],
    ctx: &[ScalarValue],
    n_in: usize,
) -> datafusion::common::Result<Vec<ScalarValue>> {
    let mut extended = record.to_vec();
    if assignments.is_empty() {
        return Ok(extended);
    }
    let batch = one_row(schema, record, ctx)?;
    for (i, e, ty) in assignments {
        let v = e.evaluate(&batch)?.into_array(1)?;
        let v = ScalarValue::try_from_array(&v, 0)?;
        extended[n_in + i] = if v.data_type() == ty.to_arrow() {
            v
        } else {
            v.cast_to(&ty.to_arrow())?
        };
    }
    Ok(extended)
}
