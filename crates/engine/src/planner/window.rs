//! Window functions of serialized row sets: `row_number`, `prev`, `next`, `row_cumsum`,
//! `row_rank_min`, `row_rank_dense`.
//!
//! Every window is ordered by one row number computed first (stage 0) from the row order
//! the input has (`sort` keys, or the input order), so that all functions of a query see
//! the same order, ties included. Functions built on others (ranks, restarts) use later
//! stages that refer to the hidden columns of earlier ones.

use super::Planner;
use super::expr::Scope;
use super::tab::{Tab, col};
use crate::diag::{PResult, Reported};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::functions_aggregate::min_max::min_udaf;
use datafusion::functions_aggregate::sum::sum_udaf;
use datafusion::functions_window::expr_fn::{lag, lead, row_number};
use datafusion::logical_expr::expr::WindowFunction;
use datafusion::logical_expr::{
    Expr, ExprFunctionExt, LogicalPlan, SortExpr, Window, WindowFrame, WindowFrameBound, WindowFrameUnits,
    WindowFunctionDefinition, cast, lit, when,
};
use functions::TypedExpr;
use kql::Diagnostic;
use kql::ast;
use schema::KqlType;

/// Names of the window functions this module lowers.
pub const WINDOW_FUNCTIONS: &[&str] = &[
    "row_number",
    "prev",
    "next",
    "row_cumsum",
    "row_rank_min",
    "row_rank_dense",
    "row_window_session",
];

/// The window expressions of one operator, by stage.
pub struct WindowCollector {
    /// The ORDER BY of the row number.
    order: Vec<SortExpr>,
    /// The hidden name of the row number, once requested.
    rn: Option<String>,
    stages: Vec<Vec<Expr>>,
}

impl WindowCollector {
    pub fn new(order: Vec<SortExpr>) -> Self {
        WindowCollector {
            order,
            rn: None,
            stages: Vec::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.rn.is_none()
    }

    fn push(&mut self, stage: usize, e: Expr) {
        while self.stages.len() <= stage {
            self.stages.push(Vec::new());
        }
        self.stages[stage].push(e);
    }

    /// Adds the window plans below the operator's projection.
    pub fn apply(self, tab: Tab) -> datafusion::common::Result<Tab> {
        let mut plan = tab.plan;
        for e in self.stages.into_iter().flatten() {
            plan = window_node(plan, e)?;
        }
        Ok(Tab { plan, ..tab })
    }
}

/// A `Window` node computing one (aliased) window expression next to the input columns.
/// (`LogicalPlanBuilder::window_plan` does not accept aliases.)
pub fn window_node(input: LogicalPlan, e: Expr) -> datafusion::common::Result<LogicalPlan> {
    Ok(LogicalPlan::Window(Window::try_new(
        vec![e],
        std::sync::Arc::new(input),
    )?))
}

fn running_frame() -> WindowFrame {
    WindowFrame::new_bounds(
        WindowFrameUnits::Rows,
        WindowFrameBound::Preceding(ScalarValue::UInt64(None)),
        WindowFrameBound::CurrentRow,
    )
}

fn aggregate_window(
    udaf: std::sync::Arc<datafusion::logical_expr::AggregateUDF>,
    arg: Expr,
    partition: Vec<Expr>,
    order: Vec<SortExpr>,
    frame: WindowFrame,
) -> datafusion::common::Result<Expr> {
    let w = Expr::WindowFunction(Box::new(WindowFunction::new(
        WindowFunctionDefinition::AggregateUDF(udaf),
        vec![arg],
    )));
    w.partition_by(partition).order_by(order).window_frame(frame).build()
}

impl Planner<'_> {
    /// The hidden row-number column (stage 0), requested once per operator.
    fn row_number_column(&mut self, w: &mut WindowCollector) -> datafusion::common::Result<String> {
        if let Some(rn) = &w.rn {
            return Ok(rn.clone());
        }
        let name = self.hidden("rn");
        // An empty ORDER BY would make DataFusion expect a RANGE frame's sort key.
        let e = if w.order.is_empty() {
            row_number()
        } else {
            row_number().order_by(w.order.clone()).build()?
        };
        w.push(0, e.alias(name.clone()));
        w.rn = Some(name.clone());
        Ok(name)
    }

    /// Lowers a call to a window function. `args` are the call's arguments, unlowered.
    pub(super) fn lower_window_call(
        &mut self,
        c: &ast::Call,
        span: kql::Span,
        sc: &mut Scope<'_>,
    ) -> PResult<TypedExpr> {
        let name = c.name.name.as_str();
        if sc.windows.is_none() {
            return Err(self.report(Diagnostic::error(
                "SEM0063",
                format!(
                    "Function '{name}' cannot be invoked in current context. Details: the row set must be serialized"
                ),
                span,
            )));
        }
        let mut args = Vec::with_capacity(c.args.len());
        for a in &c.args {
            args.push(self.lower_scalar(&a.value, sc)?);
        }
        let Some(w) = sc.windows.as_deref_mut() else {
            return Err(Reported);
        };
        match self.window_expr(name, args, w) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(message)) => Err(self.report(Diagnostic::error("KS127", message, span))),
            Err(e) => Err(self.internal(&format!("{name}()"), e, span)),
        }
    }

    /// `Ok(Err(message))` for a misuse of the function by the query.
    fn window_expr(
        &mut self,
        name: &str,
        mut args: Vec<TypedExpr>,
        w: &mut WindowCollector,
    ) -> datafusion::common::Result<Result<TypedExpr, String>> {
        let rn = self.row_number_column(w)?;
        let by_rn = || vec![SortExpr::new(col(&rn), true, false)];
        let arity = |min: usize, max: usize| -> Result<(), String> {
            if args.len() < min || args.len() > max {
                Err(format!(
                    "The function '{name}' expects between {min} and {max} arguments."
                ))
            } else {
                Ok(())
            }
        };
        match name {
            "row_number" => {
                if let Err(m) = arity(0, 2) {
                    return Ok(Err(m));
                }
                let start = match args.first() {
                    None => lit(1i64),
                    Some(s) if s.ty.is_integer() => cast(s.expr.clone(), DataType::Int64),
                    Some(_) => return Ok(Err("row_number(): the start index must be an integer".into())),
                };
                let base = cast(col(&rn), DataType::Int64) + start - lit(1i64);
                let Some(restart) = args.get(1) else {
                    return Ok(Ok(TypedExpr::new(base, KqlType::Long)));
                };
                if restart.ty != KqlType::Bool {
                    return Ok(Err("row_number(): the restart argument must be a bool".into()));
                }
                let group = self.restart_group(restart.expr.clone(), &rn, w)?;
                let first = self.hidden("first_rn");
                let e = aggregate_window(min_udaf(), col(&rn), vec![col(&group)], vec![], WindowFrame::new(None))?;
                w.push(2, e.alias(first.clone()));
                // rn - first_rn_of_segment + start == (rn + start - 1) - first + 1
                Ok(Ok(TypedExpr::new(
                    base - cast(col(&first), DataType::Int64) + lit(1i64),
                    KqlType::Long,
                )))
            }
            "prev" | "next" => {
                if let Err(m) = arity(1, 3) {
                    return Ok(Err(m));
                }
                let value = args.remove(0);
                let offset = match args.first().map(|a| a.as_literal().cloned()) {
                    None => 1,
                    Some(Some(ScalarValue::Int64(Some(n)))) => n,
                    Some(Some(ScalarValue::Int32(Some(n)))) => i64::from(n),
                    Some(_) => return Ok(Err(format!("{name}(): the offset must be a constant integer"))),
                };
                let default = match args.get(1) {
                    None => None,
                    Some(d) => match functions::coerce::convert(d.clone(), value.ty).map(|d| self.fold(d)) {
                        Ok(d) => match d.as_literal() {
                            Some(v) => Some(v.clone()),
                            None => return Ok(Err(format!("{name}(): the default value must be a constant"))),
                        },
                        Err(e) => return Ok(Err(e.to_string())),
                    },
                };
                let f = if name == "prev" {
                    lag(value.expr, Some(offset), default)
                } else {
                    lead(value.expr, Some(offset), default)
                };
                let hidden = self.hidden(name);
                w.push(1, f.order_by(by_rn()).build()?.alias(hidden.clone()));
                Ok(Ok(TypedExpr::new(col(&hidden), value.ty)))
            }
            "row_cumsum" => {
                if let Err(m) = arity(1, 2) {
                    return Ok(Err(m));
                }
                let term = args.remove(0);
                if !(term.ty.is_numeric() || term.ty == KqlType::TimeSpan) {
                    return Ok(Err(format!("row_cumsum(): the term must be a number, not {}", term.ty)));
                }
                let (stage, partition) = match args.first() {
                    None => (1, vec![]),
                    Some(r) if r.ty == KqlType::Bool => (2, vec![col(&self.restart_group(r.expr.clone(), &rn, w)?)]),
                    Some(_) => return Ok(Err("row_cumsum(): the restart argument must be a bool".into())),
                };
                let ty = if term.ty == KqlType::Int {
                    KqlType::Long
                } else {
                    term.ty
                };
                let hidden = self.hidden("cumsum");
                let e = aggregate_window(sum_udaf(), term.expr, partition, by_rn(), running_frame())?;
                w.push(stage, e.alias(hidden.clone()));
                Ok(Ok(TypedExpr::new(cast(col(&hidden), ty.to_arrow()), ty)))
            }
            "row_rank_min" | "row_rank_dense" => {
                if let Err(m) = arity(1, 2) {
                    return Ok(Err(m));
                }
                let term = args.remove(0);
                // Rows restart their ranking where `restart` is true: a segment number
                // partitions the ranks.
                let (segment, base_stage) = match args.first() {
                    None => (None, 1),
                    Some(r) if r.ty == KqlType::Bool => (Some(self.restart_group(r.expr.clone(), &rn, w)?), 2),
                    Some(_) => return Ok(Err(format!("{name}(): the restart argument must be a bool"))),
                };
                let partition: Vec<Expr> = segment.iter().map(|g| col(g)).collect();
                if name == "row_rank_min" {
                    // The first row number of the term's rows, counted from the segment start.
                    let hidden = self.hidden("rank_min");
                    let mut by_term = partition.clone();
                    by_term.push(term.expr.clone());
                    let e = aggregate_window(min_udaf(), col(&rn), by_term, vec![], WindowFrame::new(None))?;
                    w.push(base_stage, e.alias(hidden.clone()));
                    let first_of_segment = match &segment {
                        None => lit(1i64),
                        Some(g) => {
                            let first = self.hidden("segment_start");
                            let e =
                                aggregate_window(min_udaf(), col(&rn), vec![col(g)], vec![], WindowFrame::new(None))?;
                            w.push(base_stage, e.alias(first.clone()));
                            cast(col(&first), DataType::Int64)
                        }
                    };
                    let rank = cast(col(&hidden), DataType::Int64) - first_of_segment + lit(1i64);
                    return Ok(Ok(TypedExpr::new(rank, KqlType::Long)));
                }
                // Dense rank: how many times the term changed since the segment start.
                let previous = self.hidden("prev_term");
                let prev = lag(term.expr.clone(), Some(1), None)
                    .partition_by(partition.clone())
                    .order_by(by_rn())
                    .build()?;
                w.push(base_stage, prev.alias(previous.clone()));
                let first_row = self.hidden("first_in_segment");
                let first = lag(lit(1i64), Some(1), None)
                    .partition_by(partition.clone())
                    .order_by(by_rn())
                    .build()?;
                w.push(base_stage, first.alias(first_row.clone()));
                let changed = when(col(&first_row).is_null(), lit(1i64))
                    .when(
                        Expr::BinaryExpr(datafusion::logical_expr::BinaryExpr::new(
                            Box::new(col(&previous)),
                            datafusion::logical_expr::Operator::IsNotDistinctFrom,
                            Box::new(term.expr),
                        )),
                        lit(0i64),
                    )
                    .otherwise(lit(1i64))?;
                let hidden = self.hidden("rank_dense");
                let e = aggregate_window(sum_udaf(), changed, partition, by_rn(), running_frame())?;
                w.push(base_stage + 1, e.alias(hidden.clone()));
                Ok(Ok(TypedExpr::new(cast(col(&hidden), DataType::Int64), KqlType::Long)))
            }
            "row_window_session" => {
                if let Err(m) = arity(3, 4) {
                    return Ok(Err(m));
                }
                let value = &args[0];
                if !matches!(value.ty, KqlType::DateTime | KqlType::TimeSpan) {
                    return Ok(Err("row_window_session(): the value must be a datetime".into()));
                }
                if args[1..3].iter().any(|a| a.ty != KqlType::TimeSpan) {
                    return Ok(Err("row_window_session(): the distances must be timespans".into()));
                }
                if args.get(3).is_some_and(|r| r.ty != KqlType::Bool) {
                    return Ok(Err("row_window_session(): the restart argument must be a bool".into()));
                }
                let hidden = self.hidden("session");
                let udf = crate::udf::row_window_session();
                let call: Vec<Expr> = args.iter().map(|a| a.expr.clone()).collect();
                let e = Expr::WindowFunction(Box::new(WindowFunction::new(
                    WindowFunctionDefinition::WindowUDF(udf),
                    call,
                )))
                .order_by(by_rn())
                .build()?;
                w.push(1, e.alias(hidden.clone()));
                Ok(Ok(TypedExpr::new(col(&hidden), value.ty)))
            }
            _ => Ok(Err(format!("The function '{name}' is not supported by Quarry"))),
        }
    }

    /// A hidden column numbering the segments that start at each row where `restart` is
    /// true (stage 1).
    fn restart_group(
        &mut self,
        restart: Expr,
        rn: &str,
        w: &mut WindowCollector,
    ) -> datafusion::common::Result<String> {
        let name = self.hidden("segment");
        let flag = when(restart, lit(1i64)).otherwise(lit(0i64))?;
        let e = aggregate_window(
            sum_udaf(),
            flag,
            vec![],
            vec![SortExpr::new(col(rn), true, false)],
            running_frame(),
        )?;
        w.push(1, e.alias(name.clone()));
        Ok(name)
    }
}
