//! `ipv4_lookup` and `ipv6_lookup`: a join on "the address is in the range".

use super::super::Planner;
use super::super::env::Env;
use super::super::tab::{Col, Tab};
use super::side;
use crate::diag::{self, PResult};
use crate::naming::unique_name;
use datafusion::common::{JoinType, ScalarValue};
use datafusion::logical_expr::{Expr, LogicalPlanBuilder};
use functions::{Arg, TypedExpr};
use kql::Span;
use kql::ast::{self, ExprKind};

impl Planner<'_> {
    /// `ipv4_lookup(T, ip, range [, extra keys…] [, return_unmatched])` and
    /// `ipv6_lookup(T, ip, range [, return_unmatched])`.
    pub(super) fn plugin_ip_lookup(
        &mut self,
        t: Tab,
        args: &[ast::Arg],
        env: &Env,
        span: Span,
        v6: bool,
    ) -> PResult<Tab> {
        let op = if v6 { "ipv6_lookup" } else { "ipv4_lookup" };
        self.arity(op, args, 3, 64, span)?;
        let lookup = self.lower_tabular(&args[0].value, env)?;
        let ip = self.column_arg(&t, &args[1], op)?;
        let range = self.column_arg(&lookup, &args[2], op)?;
        let mut extra: Vec<(Col, Col)> = Vec::new();
        let mut unmatched = false;
        for a in &args[3..] {
            let is_flag = a.name.as_ref().is_some_and(|n| n.name == "return_unmatched")
                || matches!(&a.value.kind, ExprKind::Literal(l) if matches!(l.value, ast::LiteralValue::Bool(_)));
            if is_flag {
                unmatched = matches!(self.const_value(&a.value, env, op)?.0, ScalarValue::Boolean(Some(true)));
                continue;
            }
            let left = self.column_arg(&t, a, op)?;
            let right = self.column_arg(&lookup, a, op)?;
            extra.push((left, right));
        }
        let (l, r) = ("__quarry_source", "__quarry_ranges");
        let fun = if v6 { "ipv6_is_in_range" } else { "ipv4_is_in_range" };
        let contains = functions::lower_call(
            fun,
            vec![
                Arg::positional(TypedExpr::new(side(l, &ip.name), ip.ty)),
                Arg::positional(TypedExpr::new(side(r, &range.name), range.ty)),
            ],
            &self.ctx,
        )
        .map_err(|e| self.report(diag::function_error(&e, span)))?;
        let build = || -> datafusion::common::Result<Tab> {
            let lk: Vec<Expr> = extra.iter().map(|(a, _)| side(l, &a.name)).collect();
            let rk: Vec<Expr> = extra.iter().map(|(_, b)| side(r, &b.name)).collect();
            let left = LogicalPlanBuilder::from(t.plan.clone()).alias(l)?.build()?;
            let right = LogicalPlanBuilder::from(lookup.plan.clone()).alias(r)?.build()?;
            let kind = if unmatched { JoinType::Left } else { JoinType::Inner };
            let joined = if lk.is_empty() {
                LogicalPlanBuilder::from(left)
                    .join_on(right, kind, vec![contains.expr.clone()])?
                    .build()?
            } else {
                LogicalPlanBuilder::from(left)
                    .join_with_expr_keys(right, kind, (lk, rk), Some(contains.expr.clone()))?
                    .build()?
            };
            let source: Vec<(Expr, Col)> = t.cols.iter().map(|c| (side(l, &c.name), c.clone())).collect();
            let ranges: Vec<(Expr, Col)> = lookup
                .cols
                .iter()
                .filter(|c| !extra.iter().any(|(_, b)| b.name == c.name))
                .map(|c| (side(r, &c.name), c.clone()))
                .collect();
            // As documented: ipv4_lookup lists the source columns first, ipv6_lookup the
            // lookup table's.
            let ordered: Vec<(Expr, Col)> = if v6 {
                ranges.into_iter().chain(source).collect()
            } else {
                source.into_iter().chain(ranges).collect()
            };
            let mut items: Vec<(Expr, Col)> = Vec::new();
            for (e, c) in ordered {
                let name = unique_name(&c.name, |n| items.iter().any(|(_, x)| x.name == n));
                items.push((e, Col::new(name, c.ty)));
            }
            let exprs: Vec<Expr> = items.iter().map(|(e, c)| e.clone().alias(c.name.clone())).collect();
            Ok(Tab::new(
                LogicalPlanBuilder::from(joined).project(exprs)?.build()?,
                items.into_iter().map(|(_, c)| c).collect(),
            ))
        };
        build().map_err(|e| self.internal(op, e, span))
    }
}
