//! `mv-expand` and `mv-apply`.
//!
//! `mv-expand` turns each dynamic value into a list of its elements (engine UDF
//! [`crate::udf::MV_ELEMENTS`]) and lets DataFusion's `Unnest` expand all lists in parallel:
//! a null value gives one null row, an empty array none, shorter lists are padded with
//! nulls — Kusto's rules.

use super::Planner;
use super::env::Env;
use super::expr::Scope;
use super::tab::{Col, Tab, col};
use super::union::{find_param, param_text};
use crate::diag::{self, PResult, Reported};
use crate::naming;
use datafusion::common::{Column, UnnestOptions};
use datafusion::logical_expr::{Expr, LogicalPlanBuilder, lit};
use functions::TypedExpr;
use kql::ast::{self, ExprKind};
use kql::{Diagnostic, Span};
use schema::KqlType;

/// One expanded item: where its values go and their final type.
struct Expansion {
    /// The output column (replacing an input column of that name, or appended).
    name: String,
    list: String,
    value: TypedExpr,
    to: Option<KqlType>,
}

impl Planner<'_> {
    pub(super) fn plan_mv_expand(&mut self, t: Tab, m: &ast::MvExpandOp, env: &Env) -> PResult<Tab> {
        let mut bag_as_array = false;
        let mut index_name: Option<String> = None;
        for p in &m.params {
            match p.name.name.to_ascii_lowercase().as_str() {
                "kind" | "bagexpansion" => match param_text(p).as_deref() {
                    Some("bag") => bag_as_array = false,
                    Some("array") => bag_as_array = true,
                    _ => {
                        return Err(self.report(Diagnostic::error(
                            "QE011",
                            "mv-expand: kind must be bag or array",
                            p.span,
                        )));
                    }
                },
                "with_itemindex" => index_name = param_text(p),
                _ => {}
            }
        }
        let limit = match &m.limit {
            Some(l) => Some(self.const_count(l, env, "mv-expand")? as i64),
            None => None,
        };
        self.mv_expand(t, &m.items, bag_as_array, index_name, limit, env, m.span, "mv-expand")
    }

    #[allow(clippy::too_many_arguments)]
    fn mv_expand(
        &mut self,
        t: Tab,
        items: &[ast::MvItem],
        bag_as_array: bool,
        index_name: Option<String>,
        limit: Option<i64>,
        env: &Env,
        span: Span,
        op: &'static str,
    ) -> PResult<Tab> {
        let mut expansions: Vec<Expansion> = Vec::new();
        let mut failed = false;
        for item in items {
            let v = {
                let mut sc = Scope::new(env, Some(&t.cols), op);
                self.lower_scalar(&item.expr, &mut sc)
            };
            let Ok(v) = v else {
                failed = true;
                continue;
            };
            if v.ty != KqlType::Dynamic {
                failed = true;
                self.report(diag::expected_type("dynamic", item.expr.span));
                continue;
            }
            let name = match &item.name {
                Some(id) => id.name.clone(),
                None => match naming::expression_name(&item.expr) {
                    Some(n) => n,
                    None => {
                        let taken = |n: &str| t.has(n);
                        self.default_column_name(&taken)
                    }
                },
            };
            let to = match &item.to_type {
                Some(tn) => match self.type_name(tn) {
                    Ok(ty) => Some(ty),
                    Err(_) => {
                        failed = true;
                        continue;
                    }
                },
                None => None,
            };
            let list = self.hidden("mv_list");
            expansions.push(Expansion {
                name,
                list,
                value: v,
                to,
            });
        }
        if failed {
            return Err(Reported);
        }
        let limit_lit = lit(limit.unwrap_or(i64::MAX));
        let index_list = index_name.as_ref().map(|_| self.hidden("mv_index"));
        let build = || -> datafusion::common::Result<Tab> {
            // 1. The lists next to the input columns.
            let mut exprs: Vec<Expr> = t.cols.iter().map(|c| col(&c.name)).collect();
            for x in &expansions {
                let e =
                    crate::udf::mv_elements().call(vec![x.value.expr.clone(), lit(bag_as_array), limit_lit.clone()]);
                exprs.push(e.alias(x.list.clone()));
            }
            if let Some(ix) = &index_list {
                let mut args = vec![limit_lit.clone()];
                args.extend(expansions.iter().map(|x| x.value.expr.clone()));
                exprs.push(crate::udf::mv_indexes().call(args).alias(ix.clone()));
            }
            let mut unnest_cols: Vec<Column> = expansions
                .iter()
                .map(|x| Column::new_unqualified(x.list.clone()))
                .collect();
            if let Some(ix) = &index_list {
                unnest_cols.push(Column::new_unqualified(ix.clone()));
            }
            let plan = LogicalPlanBuilder::from(t.plan.clone())
                .project(exprs)?
                .unnest_columns_with_options(unnest_cols, UnnestOptions::default())?
                .build()?;
            // 2. Expanded values replace their columns or are appended.
            let mut items: Vec<(Expr, Col)> = Vec::new();
            for c in &t.cols {
                match expansions.iter().find(|x| x.name == c.name) {
                    Some(x) => items.push(expanded(x)?),
                    None => items.push((col(&c.name), c.clone())),
                }
            }
            for x in &expansions {
                if !t.has(&x.name) && !items.iter().any(|(_, c)| c.name == x.name) {
                    items.push(expanded(x)?);
                }
            }
            if let (Some(ix), Some(name)) = (&index_list, &index_name) {
                items.push((col(ix), Col::new(name.clone(), KqlType::Long)));
            }
            Tab::new(plan, Vec::new()).project(items)
        };
        let out = build().map_err(|e| self.internal(op, e, span))?;
        Ok(Tab {
            serialized: t.serialized,
            ..out
        })
    }

    /// `mv-apply items on (subquery)`: the subquery runs on the expanded rows of each input
    /// row separately; its result is joined back to that row's other columns.
    pub(super) fn plan_mv_apply(&mut self, t: Tab, m: &ast::MvApplyOp, env: &Env) -> PResult<Tab> {
        let index_name = find_param(&m.params, "with_itemindex").and_then(param_text);
        let limit = match &m.limit {
            Some(l) => Some(self.const_count(l, env, "mv-apply")? as i64),
            None => None,
        };
        // A hidden key identifies the input row through the subquery.
        let key = self.hidden("row");
        let keyed = {
            let rn = datafusion::functions_window::expr_fn::row_number().alias(key.clone());
            match super::window::window_node(t.plan.clone(), rn) {
                Ok(p) => {
                    let mut cols = t.cols.clone();
                    cols.push(Col::new(key.clone(), KqlType::Long));
                    Tab::new(p, cols)
                }
                Err(e) => return Err(self.internal("mv-apply", e, m.span)),
            }
        };
        let expanded = self.mv_expand(
            keyed.clone(),
            &m.items,
            false,
            index_name,
            limit,
            env,
            m.span,
            "mv-apply",
        )?;
        // The subquery sees the expanded columns and the other columns of the row.
        let mut local = env.clone();
        let result = self.keyed_pipeline(expanded, &m.body, &key, &mut local)?;
        // Its rows are joined back to the other columns of their input row.
        let build = || -> datafusion::common::Result<Tab> {
            let missing: Vec<&Col> = t.cols.iter().filter(|c| !result.has(&c.name)).collect();
            let mut items: Vec<(Expr, Col)> = Vec::new();
            let plan = if missing.is_empty() {
                for c in &result.cols {
                    if c.name != key {
                        items.push((col(&c.name), c.clone()));
                    }
                }
                result.plan.clone()
            } else {
                let (l, r) = ("__quarry_row", "__quarry_applied");
                let side =
                    |s: &str, n: &str| Expr::Column(Column::new(Some(datafusion::common::TableReference::bare(s)), n));
                let left = LogicalPlanBuilder::from(keyed.plan.clone()).alias(l)?.build()?;
                let right = LogicalPlanBuilder::from(result.plan.clone()).alias(r)?.build()?;
                let joined = LogicalPlanBuilder::from(left)
                    .join_with_expr_keys(
                        right,
                        datafusion::common::JoinType::Inner,
                        (vec![side(l, &key)], vec![side(r, &key)]),
                        None,
                    )?
                    .build()?;
                for c in &t.cols {
                    let from = if result.has(&c.name) { r } else { l };
                    items.push((side(from, &c.name), c.clone()));
                }
                for c in &result.cols {
                    if c.name != key && !t.has(&c.name) {
                        items.push((side(r, &c.name), c.clone()));
                    }
                }
                joined
            };
            let exprs: Vec<Expr> = items.iter().map(|(e, c)| e.clone().alias(c.name.clone())).collect();
            let plan = LogicalPlanBuilder::from(plan).project(exprs)?.build()?;
            Ok(Tab::new(plan, items.into_iter().map(|(_, c)| c).collect()))
        };
        build().map_err(|e| self.internal("mv-apply", e, m.span))
    }

    /// Runs a subquery separately for each value of `key` (kept as a column throughout): the
    /// operators that combine rows (summarize, top, take, sort…) are made per key.
    fn keyed_pipeline(&mut self, t: Tab, body: &ast::Pipeline, key: &str, env: &mut Env) -> PResult<Tab> {
        if body.input.is_some() {
            return Err(self.report(Diagnostic::error(
                "QE012",
                "mv-apply: the subquery must start with an operator",
                body.span,
            )));
        }
        let mut cur = t;
        for op in &body.operators {
            cur = self.keyed_operator(cur, op, key, env)?;
            if !cur.has(key) {
                return Err(self.report(diag::unsupported(
                    "In mv-apply, an operator that drops the row context",
                    super::ops::operator_span(op),
                )));
            }
        }
        Ok(cur)
    }

    fn keyed_operator(&mut self, t: Tab, op: &ast::Operator, key: &str, env: &mut Env) -> PResult<Tab> {
        use ast::Operator as O;
        let span = super::ops::operator_span(op);
        let key_ident = ast::Ident {
            name: key.to_string(),
            span,
            quoted: true,
        };
        let key_expr = ast::Expr {
            kind: ExprKind::Name(key_ident.clone()),
            span,
        };
        match op {
            O::Where(_)
            | O::Extend(_)
            | O::ProjectAway(_)
            | O::ProjectRename(_)
            | O::ProjectReorder(_)
            | O::Parse(_)
            | O::MvExpand(_)
            | O::Serialize(_)
            | O::Render(_) => self.apply_operator(op, Some(t), env),
            O::Project(p) => {
                let mut items = p.items.clone();
                items.push(ast::NamedExpr {
                    name: None,
                    expr: key_expr,
                    span,
                });
                self.plan_project(t, &items, env, span)
            }
            O::ProjectKeep(p) => {
                let mut cols = p.columns.clone();
                cols.push(ast::NamePattern {
                    pattern: key.to_string(),
                    span,
                });
                self.plan_project_keep(t, &cols, span)
            }
            O::Summarize(s) => {
                let mut s = s.clone();
                s.by.insert(
                    0,
                    ast::NamedExpr {
                        name: None,
                        expr: key_expr,
                        span,
                    },
                );
                let out = self.plan_summarize(t, &s, env)?;
                Ok(out)
            }
            O::Count(_) => {
                let s = ast::SummarizeOp {
                    params: Vec::new(),
                    aggregates: vec![ast::NamedExpr {
                        name: Some(ast::Assignee::Single(ast::Ident {
                            name: "Count".into(),
                            span,
                            quoted: false,
                        })),
                        expr: call_expr("count", span),
                        span,
                    }],
                    by: vec![ast::NamedExpr {
                        name: None,
                        expr: key_expr,
                        span,
                    }],
                    span,
                };
                self.plan_summarize(t, &s, env)
            }
            O::Distinct(d) => {
                let mut cols = d.columns.clone();
                cols.insert(0, key_expr);
                self.plan_distinct(t, &cols, env, span)
            }
            O::Sort(s) => {
                let mut keys = s.keys.clone();
                keys.insert(
                    0,
                    ast::SortKey {
                        expr: key_expr,
                        order: Some(ast::SortOrder::Asc),
                        nulls: None,
                        span,
                    },
                );
                self.plan_sort(t, &keys, None, env, "sort")
            }
            O::Take(tk) => {
                let n = self.const_count(&tk.count, env, "take")?;
                self.per_key_limit(t, key, &[], n, span)
            }
            O::Top(top) => {
                let n = self.const_count(&top.count, env, "top")?;
                let sorted = {
                    let mut keys = top.keys.clone();
                    keys.insert(
                        0,
                        ast::SortKey {
                            expr: key_expr,
                            order: Some(ast::SortOrder::Asc),
                            nulls: None,
                            span,
                        },
                    );
                    self.plan_sort(t, &keys, None, env, "top")?
                };
                let order: Vec<ast::SortKey> = top.keys.clone();
                self.per_key_limit_sorted(sorted, key, &order, n, env, span)
            }
            other => Err(self.report(diag::unsupported(
                &format!("The '{}' operator inside mv-apply", super::ops::operator_name(other)),
                span,
            ))),
        }
    }

    /// Keeps the first `n` rows of each key (in the input order).
    fn per_key_limit(&mut self, t: Tab, key: &str, _order: &[ast::SortKey], n: usize, span: Span) -> PResult<Tab> {
        let rn = self.hidden("key_rn");
        let names: Vec<String> = t.cols.iter().map(|c| c.name.clone()).collect();
        let order = t.order_exprs();
        let build = || -> datafusion::common::Result<Tab> {
            use datafusion::logical_expr::ExprFunctionExt;
            let w = datafusion::functions_window::expr_fn::row_number().partition_by(vec![col(key)]);
            let w = if order.is_empty() {
                w.build()?
            } else {
                w.order_by(order.clone()).build()?
            };
            let w = w.alias(rn.clone());
            let plan = super::window::window_node(t.plan.clone(), w)?;
            let plan = LogicalPlanBuilder::from(plan)
                .filter(col(&rn).lt_eq(lit(n as u64)))?
                .build()?;
            t.clone().with_plan(plan).select(&names)
        };
        build().map_err(|e| self.internal("take", e, span))
    }

    fn per_key_limit_sorted(
        &mut self,
        t: Tab,
        key: &str,
        order: &[ast::SortKey],
        n: usize,
        env: &Env,
        span: Span,
    ) -> PResult<Tab> {
        // Number the rows of each key by the `top` keys.
        let mut sorts = Vec::new();
        for k in order {
            let mut sc = Scope::new(env, Some(&t.cols), "top");
            let v = self.lower_scalar(&k.expr, &mut sc)?;
            let asc = matches!(k.order, Some(ast::SortOrder::Asc));
            let nulls_first = match k.nulls {
                Some(ast::NullsOrder::First) => true,
                Some(ast::NullsOrder::Last) => false,
                None => asc,
            };
            sorts.push(datafusion::logical_expr::SortExpr::new(v.expr, asc, nulls_first));
        }
        let rn = self.hidden("key_rn");
        let names: Vec<String> = t.cols.iter().map(|c| c.name.clone()).collect();
        let build = || -> datafusion::common::Result<Tab> {
            use datafusion::logical_expr::ExprFunctionExt;
            let w = datafusion::functions_window::expr_fn::row_number()
                .partition_by(vec![col(key)])
                .order_by(sorts.clone())
                .build()?
                .alias(rn.clone());
            let plan = super::window::window_node(t.plan.clone(), w)?;
            let plan = LogicalPlanBuilder::from(plan)
                .filter(col(&rn).lt_eq(lit(n as u64)))?
                .build()?;
            t.clone().with_plan(plan).select(&names)
        };
        build().map_err(|e| self.internal("top", e, span))
    }
}

/// The projection of an expanded list element to its final column.
fn expanded(x: &Expansion) -> datafusion::common::Result<(Expr, Col)> {
    let element = TypedExpr::new(col(&x.list), KqlType::Dynamic);
    match x.to {
        None | Some(KqlType::Dynamic) => Ok((element.expr, Col::new(x.name.clone(), KqlType::Dynamic))),
        Some(ty) => {
            let converted = functions::coerce::convert(element, ty)
                .map_err(|e| datafusion::error::DataFusionError::Plan(e.to_string()))?;
            Ok((converted.expr, Col::new(x.name.clone(), ty)))
        }
    }
}

fn call_expr(name: &str, span: Span) -> ast::Expr {
    ast::Expr {
        kind: ExprKind::Call(Box::new(ast::Call {
            receiver: None,
            name: ast::Ident {
                name: name.to_string(),
                span,
                quoted: false,
            },
            args: Vec::new(),
            args_span: span,
        })),
        span,
    }
}
