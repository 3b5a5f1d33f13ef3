//! `summarize`, `count`, `distinct`.
//!
//! Output columns: the `by` keys first, then the aggregates, named as Kusto names them
//! (`count_`, `min_Timestamp`… from the function library) unless the query names them.
//! Aggregates may appear inside expressions (`summarize r = sum(x) / count()`): each call
//! becomes a hidden aggregate column and the expression is computed after the grouping.

use super::Planner;
use super::env::Env;
use super::expr::{AggCollector, Scope};
use super::tab::{Col, Tab, col};
use crate::diag::{self, PResult, Reported};
use crate::naming::{self, unique_name};
use datafusion::logical_expr::{Expr, LogicalPlanBuilder};
use kql::ast::{self, ExprKind};
use kql::{Diagnostic, Span};
use schema::KqlType;

impl Planner<'_> {
    pub(super) fn plan_summarize(&mut self, t: Tab, s: &ast::SummarizeOp, env: &Env) -> PResult<Tab> {
        let mut failed = false;
        // Group keys.
        let mut keys: Vec<(Expr, Col)> = Vec::new();
        for item in &s.by {
            match self.group_key(&t, item, env, "summarize", &keys) {
                Ok(k) => keys.push(k),
                Err(_) => failed = true,
            }
        }
        // Aggregates.
        let mut collector = AggCollector {
            by_names: keys.iter().map(|(_, c)| c.name.clone()).collect(),
            ..Default::default()
        };
        let mut outputs: Vec<(Option<ast::Ident>, ExprWithName)> = Vec::new();
        for item in &s.aggregates {
            let before = collector.items.len();
            let v = {
                let mut sc = Scope::new(env, Some(&t.cols), "summarize");
                sc.aggs = Some(&mut collector);
                self.lower_scalar(&item.expr, &mut sc)
            };
            let Ok(v) = v else {
                failed = true;
                continue;
            };
            let new_aggs = collector.items.len() - before;
            if new_aggs == 0 {
                failed = true;
                self.report(Diagnostic::error(
                    "KS144",
                    "summarize: each aggregate expression must call an aggregate function".to_string(),
                    item.expr.span,
                ));
                continue;
            }
            let explicit = match &item.name {
                Some(ast::Assignee::Single(id)) => vec![id.clone()],
                Some(ast::Assignee::Tuple { names, .. }) => names.clone(),
                None => Vec::new(),
            };
            // A lone aggregate call (possibly under a name-preserving conversion) is named by
            // the library; a multi-column one expands into its columns.
            let single = new_aggs == 1 && is_name_preserving(&item.expr);
            let agg_index = collector.items.len() - 1;
            let multi = single.then(|| collector.items[agg_index].1.columns.clone()).flatten();
            if let Some(multi) = multi {
                let hidden = collector.items[agg_index].0.clone();
                for (i, (field, ty)) in multi.names.iter().zip(&multi.types).enumerate() {
                    let name = explicit
                        .get(i)
                        .map(|id| id.name.clone())
                        .unwrap_or_else(|| field.clone());
                    outputs.push((
                        explicit.get(i).cloned(),
                        ExprWithName {
                            expr: datafusion::functions::core::expr_fn::get_field(col(&hidden), format!("f{i}")),
                            name,
                            ty: *ty,
                        },
                    ));
                }
                continue;
            }
            let name = match explicit.first() {
                Some(id) => id.name.clone(),
                None if single => collector.items[agg_index].1.default_name.clone(),
                None => {
                    let taken = |n: &str| keys.iter().any(|(_, c)| c.name == n);
                    self.default_column_name(&taken)
                }
            };
            outputs.push((
                explicit.first().cloned(),
                ExprWithName {
                    expr: v.expr,
                    name,
                    ty: v.ty,
                },
            ));
        }
        if failed {
            return Err(Reported);
        }
        if keys.is_empty() && outputs.is_empty() {
            return Err(self.report(Diagnostic::error(
                "KS006",
                "summarize: missing aggregates or 'by' keys",
                s.span,
            )));
        }
        let aggs: Vec<(String, Expr)> = collector.items.into_iter().map(|(h, a)| (h, a.expr)).collect();
        self.aggregate(t, keys, aggs, outputs, s.span, "summarize")
    }

    /// A `by` key: its expression and output column.
    pub(super) fn group_key(
        &mut self,
        t: &Tab,
        item: &ast::NamedExpr,
        env: &Env,
        op: &'static str,
        keys: &[(Expr, Col)],
    ) -> PResult<(Expr, Col)> {
        let v = {
            let mut sc = Scope::new(env, Some(&t.cols), op);
            self.lower_scalar(&item.expr, &mut sc)?
        };
        let name = match &item.name {
            Some(ast::Assignee::Single(id)) => id.name.clone(),
            Some(ast::Assignee::Tuple { names, span }) => match names.as_slice() {
                [only] => only.name.clone(),
                _ => {
                    return Err(self.report(Diagnostic::error(
                        "KS149",
                        "The expression does not have multiple named values.",
                        *span,
                    )));
                }
            },
            None => match naming::expression_name(&item.expr) {
                Some(n) => n,
                None => {
                    let taken = |n: &str| keys.iter().any(|(_, c)| c.name == n) || t.has(n);
                    self.default_column_name(&taken)
                }
            },
        };
        if keys.iter().any(|(_, c)| c.name == name) {
            return Err(self.report(diag::duplicate_column(&name, item.span)));
        }
        if v.ty == KqlType::Dynamic && !matches!(item.expr.kind, ExprKind::Name(_)) {
            // Kusto groups by dynamic values too (by their JSON); nothing to do.
        }
        Ok((v.expr, Col::new(name, v.ty)))
    }

    /// Builds `Aggregate(keys, aggs)` and the projection that names its outputs.
    pub(super) fn aggregate(
        &mut self,
        t: Tab,
        keys: Vec<(Expr, Col)>,
        aggs: Vec<(String, Expr)>,
        outputs: Vec<(Option<ast::Ident>, ExprWithName)>,
        span: Span,
        op: &str,
    ) -> PResult<Tab> {
        let group_exprs: Vec<Expr> = keys.iter().map(|(e, c)| e.clone().alias(c.name.clone())).collect();
        let agg_exprs: Vec<Expr> = aggs.iter().map(|(h, e)| e.clone().alias(h.clone())).collect();
        let plan = match LogicalPlanBuilder::from(t.plan.clone())
            .aggregate(group_exprs, agg_exprs)
            .and_then(|b| b.build())
        {
            Ok(p) => p,
            Err(e) => return Err(self.internal(op, e, span)),
        };
        let mut items: Vec<(Expr, Col)> = keys.iter().map(|(_, c)| (col(&c.name), c.clone())).collect();
        let mut failed = false;
        for (explicit, out) in outputs {
            let ty = out.ty;
            let name = if explicit.is_some() {
                if items.iter().any(|(_, c)| c.name == out.name) {
                    failed = true;
                    let at = explicit.map(|i| i.span).unwrap_or(span);
                    self.report(diag::duplicate_column(&out.name, at));
                    continue;
                }
                out.name
            } else {
                unique_name(&out.name, |n| items.iter().any(|(_, c)| c.name == n))
            };
            items.push((out.expr, Col::new(name, ty)));
        }
        if failed {
            return Err(Reported);
        }
        Tab::new(plan, Vec::new())
            .project(items)
            .map_err(|e| self.internal(op, e, span))
    }

    pub(super) fn plan_count(&mut self, t: Tab, span: Span) -> PResult<Tab> {
        let count = datafusion::functions_aggregate::count::count_all();
        let hidden = self.hidden("count");
        let out = ExprWithName {
            expr: col(&hidden),
            name: "Count".into(),
            ty: KqlType::Long,
        };
        self.aggregate(t, Vec::new(), vec![(hidden, count)], vec![(None, out)], span, "count")
    }

    /// `distinct a, b` / `distinct *`
    pub(super) fn plan_distinct(&mut self, t: Tab, columns: &[ast::Expr], env: &Env, span: Span) -> PResult<Tab> {
        let mut keys: Vec<(Expr, Col)> = Vec::new();
        let mut failed = false;
        for c in columns {
            if matches!(c.kind, ExprKind::Star) {
                for tc in &t.cols {
                    if !keys.iter().any(|(_, k)| k.name == tc.name) {
                        keys.push((col(&tc.name), tc.clone()));
                    }
                }
                continue;
            }
            let item = ast::NamedExpr {
                name: None,
                expr: c.clone(),
                span: c.span,
            };
            match self.group_key(&t, &item, env, "distinct", &keys) {
                Ok(k) => keys.push(k),
                Err(_) => failed = true,
            }
        }
        if failed {
            return Err(Reported);
        }
        self.aggregate(t, keys, Vec::new(), Vec::new(), span, "distinct")
    }

    /// `summarize count() by column` (facets).
    pub(super) fn summarize_count_by(&mut self, t: Tab, column: &str, span: Span) -> PResult<Tab> {
        let Some(c) = t.column(column).cloned() else {
            return Err(self.report(diag::unresolved_column("facet", column, span)));
        };
        let count = datafusion::functions_aggregate::count::count_all();
        let hidden = self.hidden("count");
        let out = ExprWithName {
            expr: col(&hidden),
            name: "count_".into(),
            ty: KqlType::Long,
        };
        self.aggregate(
            t,
            vec![(col(&c.name), c)],
            vec![(hidden, count)],
            vec![(None, out)],
            span,
            "facet",
        )
    }
}

/// An output expression with its name and KQL type.
pub(super) struct ExprWithName {
    pub expr: Expr,
    pub name: String,
    pub ty: KqlType,
}

/// Whether the column named after an aggregate keeps the aggregate's name: the item is the
/// aggregate call itself, or a conversion/first-argument function of it.
fn is_name_preserving(e: &ast::Expr) -> bool {
    match &e.kind {
        ExprKind::Paren(inner) => is_name_preserving(inner),
        ExprKind::Call(c) => {
            if functions::aggregate::is_aggregate(&c.name.name) {
                return true;
            }
            naming::passes_first_argument_name(&c.name.name)
                && c.args.first().is_some_and(|a| is_name_preserving(&a.value))
        }
        _ => false,
    }
}
