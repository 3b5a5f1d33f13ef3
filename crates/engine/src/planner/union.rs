//! `union [kind=inner|outer] [withsource=C] [isfuzzy=true] T1, T2*, (query)…`
//!
//! Outer union (the default) has every column of every leg, in order of first appearance;
//! a name with different types in different legs becomes one column per type, named
//! `name_type`. Inner union has only the columns all legs share.

use super::Planner;
use super::env::{Binding, Env};
use super::tab::{Col, Tab, col};
use crate::diag::{self, PResult, Reported};
use crate::naming::wildcard_match;
use datafusion::logical_expr::{Expr, LogicalPlanBuilder, cast};
use kql::ast::{self, ExprKind};
use kql::{Diagnostic, Span};
use schema::KqlType;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum UnionKind {
    Inner,
    Outer,
}

/// An operator parameter's value as text (`kind=inner` → `inner`, `isfuzzy=true` → `true`).
pub(super) fn param_text(p: &ast::OperatorParam) -> Option<String> {
    match &p.value.kind {
        ExprKind::Name(id) => Some(id.name.clone()),
        ExprKind::Literal(l) => match &l.value {
            ast::LiteralValue::String(s) => Some(s.value.clone()),
            ast::LiteralValue::Bool(Some(b)) => Some(b.to_string()),
            ast::LiteralValue::Long(Some(v)) => Some(v.to_string()),
            ast::LiteralValue::Int(Some(v)) => Some(v.to_string()),
            ast::LiteralValue::Real(ast::RealValue::Finite(v)) => Some(v.to_string()),
            _ => None,
        },
        _ => None,
    }
}

/// The name an `as` operator at the end of a (parenthesized) pipeline gives it.
fn as_name(e: &ast::Expr) -> Option<String> {
    match &e.kind {
        ExprKind::Paren(inner) => as_name(inner),
        ExprKind::Pipe(p) => match p.operators.last() {
            Some(ast::Operator::As(a)) => Some(a.name.name.clone()),
            _ => None,
        },
        _ => None,
    }
}

pub(super) fn find_param<'p>(params: &'p [ast::OperatorParam], name: &str) -> Option<&'p ast::OperatorParam> {
    params.iter().find(|p| p.name.name.eq_ignore_ascii_case(name))
}

impl Planner<'_> {
    pub(super) fn plan_union(&mut self, u: &ast::UnionOp, input: Option<Tab>, env: &Env) -> PResult<Tab> {
        self.plan_union_from(u, input.map(|t| ("union_arg0".to_string(), t)), env)
    }

    /// `union` whose piped input (if any) is named `name` in the `withsource` column (the
    /// table or `let` name it was read from).
    pub(super) fn plan_union_from(
        &mut self,
        u: &ast::UnionOp,
        input: Option<(String, Tab)>,
        env: &Env,
    ) -> PResult<Tab> {
        let mut kind = UnionKind::Outer;
        let mut source: Option<String> = None;
        let mut fuzzy = false;
        for p in &u.params {
            let value = param_text(p);
            match p.name.name.to_ascii_lowercase().as_str() {
                "kind" => match value.as_deref() {
                    Some("inner") => kind = UnionKind::Inner,
                    Some("outer") => kind = UnionKind::Outer,
                    _ => {
                        return Err(self.report(Diagnostic::error(
                            "QE008",
                            "union: kind must be inner or outer",
                            p.span,
                        )));
                    }
                },
                "withsource" | "source" => source = value,
                "isfuzzy" => fuzzy = value.as_deref() == Some("true"),
                n if n.starts_with("hint.") => {}
                _ => {
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
        }
        let mut legs: Vec<(String, Tab)> = Vec::new();
        if let Some(leg) = input {
            legs.push(leg);
        }
        let mut failed = false;
        for e in &u.tables {
            // A leg that ends with `as Name` is named Name (the `as` operator's purpose).
            let arg_name = as_name(e).unwrap_or_else(|| format!("union_arg{}", legs.len()));
            match &e.kind {
                ExprKind::Name(id) => match self.union_leg_by_name(&id.name, env, id.span) {
                    Ok(t) => legs.push((id.name.clone(), t)),
                    Err(_) if fuzzy => {
                        self.diags.retain(|d| d.span != id.span);
                    }
                    Err(_) => failed = true,
                },
                ExprKind::Pattern(p) => {
                    // Views (`let V = view () {…}`) take part in wildcards, as tables do.
                    let mut names: Vec<String> = env
                        .names()
                        .into_iter()
                        .filter(|(n, b, _)| {
                            matches!(b, Binding::Function(f) if f.def.view && f.def.params.is_empty())
                                && wildcard_match(&p.pattern, n)
                        })
                        .map(|(n, _, _)| n.to_string())
                        .collect();
                    for n in self.catalog.table_names() {
                        if wildcard_match(&p.pattern, &n) && !names.contains(&n) {
                            names.push(n);
                        }
                    }
                    names.sort();
                    if names.is_empty() && !fuzzy {
                        failed = true;
                        self.report(diag::unresolved_table_or_column("union", &p.pattern, p.span));
                    }
                    for n in names {
                        match self.union_leg_by_name(&n, env, p.span) {
                            Ok(t) => legs.push((n, t)),
                            Err(_) => failed = true,
                        }
                    }
                }
                _ => {
                    let before = self.diags.len();
                    match self.lower_tabular(e, env) {
                        Ok(t) => legs.push((arg_name, t)),
                        // A leg that names a missing table is skipped by a fuzzy union.
                        Err(_)
                            if fuzzy
                                && self.diags[before..]
                                    .iter()
                                    .all(|d| d.message.contains("Failed to resolve table")) =>
                        {
                            self.diags.truncate(before);
                        }
                        Err(_) => failed = true,
                    }
                }
            }
        }
        if failed {
            return Err(Reported);
        }
        if legs.is_empty() {
            return Err(self.report(Diagnostic::error("QE009", "union: no table to union", u.span)));
        }
        self.union_named(legs, kind, source, u.span)
    }

    fn union_leg_by_name(&mut self, name: &str, env: &Env, span: Span) -> PResult<Tab> {
        match env.lookup(name) {
            Some(Binding::Tabular(t)) => Ok(t.clone()),
            Some(Binding::Function(f)) => {
                let f = f.clone();
                match self.invoke(&f, &[], span, env, None, None)? {
                    super::Value::Tabular(t) => Ok(t),
                    super::Value::Scalar(_) => Err(self.report(diag::tabular_expected(span))),
                }
            }
            Some(Binding::Scalar(_)) => Err(self.report(diag::tabular_expected(span))),
            Some(Binding::Poisoned) => Err(Reported),
            None => match self.catalog.table(name) {
                Some(t) => self.scan(&t, span),
                None => Err(self.report(diag::unresolved_table_or_column("union", name, span))),
            },
        }
    }

    pub(super) fn union_tabs(&mut self, parts: Vec<Tab>, kind: UnionKind, span: Span) -> PResult<Tab> {
        let legs = parts
            .into_iter()
            .enumerate()
            .map(|(i, t)| (format!("union_arg{i}"), t))
            .collect();
        self.union_named(legs, kind, None, span)
    }

    fn union_named(
        &mut self,
        legs: Vec<(String, Tab)>,
        kind: UnionKind,
        source: Option<String>,
        span: Span,
    ) -> PResult<Tab> {
        // The output columns: (output name, input name, type).
        let mut seen: Vec<(String, KqlType)> = Vec::new();
        for (_, t) in &legs {
            for c in &t.cols {
                if !seen.iter().any(|(n, ty)| *n == c.name && *ty == c.ty) {
                    seen.push((c.name.clone(), c.ty));
                }
            }
        }
        // Names: a column whose name has several types is suffixed with its type; a
        // suffixed name that collides with a plain one is made unique (`x_long1`).
        let mut out: Vec<(String, String, KqlType)> = Vec::new();
        let plain: Vec<String> = seen
            .iter()
            .filter(|(n, _)| seen.iter().filter(|(m, _)| m == n).count() == 1)
            .map(|(n, _)| n.clone())
            .collect();
        for (name, ty) in &seen {
            let in_all = legs
                .iter()
                .all(|(_, t)| t.cols.iter().any(|c| c.name == *name && c.ty == *ty));
            if kind == UnionKind::Inner && !in_all {
                continue;
            }
            let out_name = if plain.contains(name) {
                name.clone()
            } else {
                let suffixed = format!("{name}_{}", ty.name());
                crate::naming::unique_name(&suffixed, |n| {
                    plain.iter().any(|p| p == n) || out.iter().any(|(o, _, _)| o == n)
                })
            };
            out.push((out_name, name.clone(), *ty));
        }
        let mut result: Option<LogicalPlanBuilder> = None;
        for (leg_name, t) in legs {
            let schema = t.plan.schema().clone();
            let mut exprs: Vec<Expr> = Vec::with_capacity(out.len() + 1);
            if let Some(s) = &source {
                exprs.push(datafusion::logical_expr::lit(leg_name.clone()).alias(s.clone()));
            }
            for (out_name, in_name, ty) in &out {
                let e = match t.cols.iter().position(|c| c.name == *in_name && c.ty == *ty) {
                    Some(i) => {
                        let e = col(in_name);
                        if schema.fields().get(i).is_some_and(|f| f.data_type() == &ty.to_arrow()) {
                            e
                        } else {
                            cast(e, ty.to_arrow())
                        }
                    }
                    None => Expr::Literal(crate::literal::null_of(*ty), None),
                };
                exprs.push(e.alias(out_name.clone()));
            }
            let leg = LogicalPlanBuilder::from(t.plan).project(exprs).and_then(|b| b.build());
            let leg = match leg {
                Ok(l) => l,
                Err(e) => return Err(self.internal("union", e, span)),
            };
            result = Some(match result {
                None => LogicalPlanBuilder::from(leg),
                Some(b) => match b.union(leg) {
                    Ok(b) => b,
                    Err(e) => return Err(self.internal("union", e, span)),
                },
            });
        }
        let plan = match result.map(|b| b.build()) {
            Some(Ok(p)) => p,
            Some(Err(e)) => return Err(self.internal("union", e, span)),
            None => return Err(self.report(Diagnostic::error("QE009", "union: no table to union", span))),
        };
        let mut cols: Vec<Col> = Vec::new();
        if let Some(s) = source {
            cols.push(Col::new(s, KqlType::String));
        }
        cols.extend(out.into_iter().map(|(n, _, ty)| Col::new(n, ty)));
        Ok(Tab::new(plan, cols))
    }
}
