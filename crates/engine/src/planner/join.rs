//! `join` and `lookup`.
//!
//! Kusto's default join kind is `innerunique`: the left side is first reduced to one row
//! per key. The output has the left columns then the right ones; a right column whose name
//! is taken gets a numeric suffix (`Key1`). `lookup` is a left-outer (or inner) join that
//! does not repeat the right side's key columns.

use super::Planner;
use super::env::Env;
use super::tab::{Col, Tab, col};
use super::union::param_text;
use crate::diag::{PResult, Reported};
use crate::naming::unique_name;
use datafusion::common::{Column, JoinType, TableReference};
use datafusion::logical_expr::{Expr, LogicalPlanBuilder, cast};
use kql::ast::{self, BinaryOp, ExprKind};
use kql::{Diagnostic, Span};
use schema::KqlType;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    InnerUnique,
    Inner,
    LeftOuter,
    RightOuter,
    FullOuter,
    LeftAnti,
    RightAnti,
    LeftSemi,
    RightSemi,
}

impl Kind {
    fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "innerunique" => Kind::InnerUnique,
            "inner" => Kind::Inner,
            "leftouter" => Kind::LeftOuter,
            "rightouter" => Kind::RightOuter,
            "fullouter" | "outer" => Kind::FullOuter,
            "leftanti" | "anti" | "leftantisemi" => Kind::LeftAnti,
            "rightanti" | "rightantisemi" => Kind::RightAnti,
            "leftsemi" | "semi" => Kind::LeftSemi,
            "rightsemi" => Kind::RightSemi,
            _ => return None,
        })
    }

    fn join_type(self) -> JoinType {
        match self {
            Kind::InnerUnique | Kind::Inner => JoinType::Inner,
            Kind::LeftOuter => JoinType::Left,
            Kind::RightOuter => JoinType::Right,
            Kind::FullOuter => JoinType::Full,
            Kind::LeftAnti => JoinType::LeftAnti,
            Kind::RightAnti => JoinType::RightAnti,
            Kind::LeftSemi => JoinType::LeftSemi,
            Kind::RightSemi => JoinType::RightSemi,
        }
    }
}

/// One equality of the `on` clause: left column = right column.
struct KeyPair {
    left: String,
    right: String,
    span: Span,
}

const L: &str = "__quarry_left";
const R: &str = "__quarry_right";

fn side_col(side: &str, name: &str) -> Expr {
    Expr::Column(Column::new(Some(TableReference::bare(side)), name))
}

impl Planner<'_> {
    pub(super) fn plan_join(&mut self, left: Tab, j: &ast::JoinOp, env: &Env) -> PResult<Tab> {
        let mut kind = Kind::InnerUnique;
        for p in &j.params {
            let name = p.name.name.to_ascii_lowercase();
            if name == "kind" {
                match param_text(p).as_deref().and_then(Kind::parse) {
                    Some(k) => kind = k,
                    None => {
                        return Err(self.report(Diagnostic::error(
                            "QE010",
                            format!("join: unknown kind '{}'", param_text(p).unwrap_or_default()),
                            p.value.span,
                        )));
                    }
                }
            } else if !name.starts_with("hint.") {
                self.diags.push(Diagnostic::warning(
                    "KS179",
                    format!(
                        "The name '{}' is not a recognized parameter for this operator.",
                        p.name.name
                    ),
                    p.name.span,
                ));
            }
        }
        let right = self.lower_tabular(&j.right, env)?;
        let keys = self.join_keys(&left, &right, &j.on, j.span)?;
        self.join(left, right, kind, keys, false, j.span)
    }

    pub(super) fn plan_lookup(&mut self, left: Tab, l: &ast::LookupOp, env: &Env) -> PResult<Tab> {
        let mut kind = Kind::LeftOuter;
        for p in &l.params {
            if p.name.name.eq_ignore_ascii_case("kind") {
                kind = match param_text(p).as_deref() {
                    Some("leftouter") => Kind::LeftOuter,
                    Some("inner") => Kind::Inner,
                    _ => {
                        return Err(self.report(Diagnostic::error(
                            "QE010",
                            "lookup: kind must be leftouter or inner",
                            p.value.span,
                        )));
                    }
                };
            }
        }
        let right = self.lower_tabular(&l.right, env)?;
        let keys = self.join_keys(&left, &right, &l.on, l.span)?;
        self.join(left, right, kind, keys, true, l.span)
    }

    /// The equalities of `on a, $left.b == $right.c, …`.
    fn join_keys(&mut self, left: &Tab, right: &Tab, on: &[ast::Expr], span: Span) -> PResult<Vec<KeyPair>> {
        let mut keys = Vec::new();
        let mut failed = false;
        let mut stack: Vec<&ast::Expr> = on.iter().rev().collect();
        while let Some(e) = stack.pop() {
            match &e.kind {
                ExprKind::Paren(inner) => stack.push(inner),
                ExprKind::Name(id) => {
                    if !left.has(&id.name) || !right.has(&id.name) {
                        failed = true;
                        self.report(Diagnostic::error(
                            "KS145",
                            format!("The column '{}' must exist on both sides of the join.", id.name),
                            id.span,
                        ));
                        continue;
                    }
                    keys.push(KeyPair {
                        left: id.name.clone(),
                        right: id.name.clone(),
                        span: id.span,
                    });
                }
                ExprKind::Binary(b) if b.op == BinaryOp::And => {
                    stack.push(&b.right);
                    stack.push(&b.left);
                }
                ExprKind::Binary(b) if b.op == BinaryOp::Eq => {
                    let l = side_member(&b.left);
                    let r = side_member(&b.right);
                    let (lname, rname) = match (l, r) {
                        (Some(("$left", a)), Some(("$right", c))) => (a, c),
                        (Some(("$right", c)), Some(("$left", a))) => (a, c),
                        _ => {
                            failed = true;
                            self.report(join_condition_error(e.span));
                            continue;
                        }
                    };
                    let mut ok = true;
                    if !left.has(&lname.name) {
                        ok = false;
                        self.report(crate::diag::unresolved_column("join", &lname.name, lname.span));
                    }
                    if !right.has(&rname.name) {
                        ok = false;
                        self.report(crate::diag::unresolved_column("join", &rname.name, rname.span));
                    }
                    if ok {
                        keys.push(KeyPair {
                            left: lname.name.clone(),
                            right: rname.name.clone(),
                            span: e.span,
                        });
                    } else {
                        failed = true;
                    }
                }
                _ => {
                    failed = true;
                    self.report(join_condition_error(e.span));
                }
            }
        }
        if failed {
            return Err(Reported);
        }
        if keys.is_empty() {
            return Err(self.report(join_condition_error(span)));
        }
        Ok(keys)
    }

    fn join(
        &mut self,
        left: Tab,
        right: Tab,
        kind: Kind,
        keys: Vec<KeyPair>,
        lookup: bool,
        span: Span,
    ) -> PResult<Tab> {
        // Key expressions, converted to a common type when they differ.
        let mut lkeys = Vec::with_capacity(keys.len());
        let mut rkeys = Vec::with_capacity(keys.len());
        for k in &keys {
            let (Some(lc), Some(rc)) = (left.column(&k.left), right.column(&k.right)) else {
                return Err(Reported);
            };
            let common = functions::coerce::unify2(lc.ty, rc.ty);
            let Some(common) = common.filter(|t| *t != KqlType::Dynamic) else {
                let msg = if lc.ty == KqlType::Dynamic || rc.ty == KqlType::Dynamic {
                    "Join keys cannot be dynamic".to_string()
                } else {
                    format!("Inconsistent data types for join keys: ({}, {})", lc.ty, rc.ty)
                };
                return Err(self.report(Diagnostic::error("KS242", msg, k.span)));
            };
            let key = |side: &str, name: &str, ty: KqlType| {
                if ty == common || (ty == KqlType::Guid && common == KqlType::String) {
                    side_col(side, name)
                } else {
                    cast(side_col(side, name), common.to_arrow())
                }
            };
            lkeys.push(key(L, &k.left, lc.ty));
            rkeys.push(key(R, &k.right, rc.ty));
        }
        let build = || -> datafusion::common::Result<(datafusion::logical_expr::LogicalPlan, Vec<Col>)> {
            let mut lplan = left.plan.clone();
            if kind == Kind::InnerUnique {
                let on: Vec<Expr> = keys.iter().map(|k| col(&k.left)).collect();
                let select: Vec<Expr> = left.cols.iter().map(|c| col(&c.name)).collect();
                lplan = LogicalPlanBuilder::from(lplan).distinct_on(on, select, None)?.build()?;
            }
            let lplan = LogicalPlanBuilder::from(lplan).alias(L)?.build()?;
            let rplan = LogicalPlanBuilder::from(right.plan.clone()).alias(R)?.build()?;
            let joined = LogicalPlanBuilder::from(lplan)
                .join_with_expr_keys(rplan, kind.join_type(), (lkeys.clone(), rkeys.clone()), None)?
                .build()?;
            let mut items: Vec<(Expr, Col)> = Vec::new();
            let left_visible = !matches!(kind, Kind::RightAnti | Kind::RightSemi);
            let right_visible = !matches!(kind, Kind::LeftAnti | Kind::LeftSemi);
            if left_visible {
                for c in &left.cols {
                    items.push((side_col(L, &c.name), c.clone()));
                }
            }
            if right_visible {
                for c in &right.cols {
                    if lookup && keys.iter().any(|k| k.right == c.name) {
                        continue;
                    }
                    let name = unique_name(&c.name, |n| items.iter().any(|(_, x)| x.name == n));
                    items.push((side_col(R, &c.name), Col::new(name, c.ty)));
                }
            }
            // Lookup keeps the left keys, filled from the right for rows only the right has.
            let exprs: Vec<Expr> = items.iter().map(|(e, c)| e.clone().alias(c.name.clone())).collect();
            let plan = LogicalPlanBuilder::from(joined).project(exprs)?.build()?;
            Ok((plan, items.into_iter().map(|(_, c)| c).collect()))
        };
        match build() {
            Ok((plan, cols)) => Ok(Tab::new(plan, cols)),
            Err(e) => Err(self.internal("join", e, span)),
        }
    }
}

/// `$left.name` / `$right.name` → (side, name).
fn side_member(e: &ast::Expr) -> Option<(&'static str, &ast::Ident)> {
    let ExprKind::Member(m) = &e.kind else { return None };
    let ExprKind::Name(side) = &m.target.kind else {
        return None;
    };
    match side.name.as_str() {
        "$left" => Some(("$left", &m.name)),
        "$right" => Some(("$right", &m.name)),
        _ => None,
    }
}

fn join_condition_error(span: Span) -> Diagnostic {
    Diagnostic::error(
        "KS182",
        "The join condition must be either the name of a column common to both tables or in the form $left.<column> == $right.<column>.",
        span,
    )
}
