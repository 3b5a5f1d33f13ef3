//! `extend`, `project` and its variants (`project-away`, `-keep`, `-rename`, `-reorder`,
//! `-by-names`).
//!
//! Output naming follows Kusto's projection rules: an expression that is a column reference
//! or is named declares its column (a second declaration of the same name is an error); an
//! unnamed computed expression gets the name Kusto derives for it, made unique with a
//! numeric suffix (`project` ) or replacing the column of that name (`extend`).

use super::Planner;
use super::env::Env;
use super::expr::Scope;
use super::tab::{Col, Tab, col};
use super::window::WindowCollector;
use crate::diag::{self, PResult, Reported};
use crate::naming::{self, unique_name, wildcard_match};
use datafusion::common::ScalarValue;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::logical_expr::Expr;
use kql::ast::{self, ExprKind};
use kql::{Diagnostic, Span};
use std::collections::{HashMap, HashSet};

/// The columns an operator produces, built item by item.
pub(super) struct Projection {
    pub items: Vec<(Expr, Col)>,
    declared: HashSet<String>,
    /// Definitions made by this operator, substituted into later items that refer to them.
    defined: HashMap<String, Expr>,
}

impl Projection {
    pub fn new() -> Self {
        Projection {
            items: Vec::new(),
            declared: HashSet::new(),
            defined: HashMap::new(),
        }
    }

    /// Starts from the input's columns (for `extend`).
    pub fn from_input(t: &Tab) -> Self {
        let mut p = Projection::new();
        p.items = t.cols.iter().map(|c| (col(&c.name), c.clone())).collect();
        p
    }

    pub fn cols(&self) -> Vec<Col> {
        self.items.iter().map(|(_, c)| c.clone()).collect()
    }

    fn index(&self, name: &str) -> Option<usize> {
        self.items.iter().position(|(_, c)| c.name == name)
    }

    pub fn has(&self, name: &str) -> bool {
        self.index(name).is_some()
    }

    /// Rewrites references to columns defined earlier by this operator into their
    /// definitions.
    pub fn substitute(&self, e: Expr) -> Expr {
        if self.defined.is_empty() {
            return e;
        }
        e.transform(|n| match &n {
            Expr::Column(c) if c.relation.is_none() => match self.defined.get(&c.name) {
                Some(def) => Ok(Transformed::yes(def.clone())),
                None => Ok(Transformed::no(n)),
            },
            _ => Ok(Transformed::no(n)),
        })
        .map(|t| t.data)
        .unwrap_or_else(|_| Expr::Literal(ScalarValue::Null, None))
    }

    fn set(&mut self, e: Expr, c: Col, replace: bool) -> String {
        let is_identity = matches!(&e, Expr::Column(cc) if cc.name == c.name && cc.relation.is_none());
        if !is_identity {
            self.defined.insert(c.name.clone(), e.clone());
        }
        if replace && let Some(i) = self.index(&c.name) {
            let name = c.name.clone();
            self.items[i] = (e, c);
            return name;
        }
        let name = unique_name(&c.name, |n| self.has(n));
        let c = Col::new(name.clone(), c.ty);
        if name != c.name {
            self.defined.insert(name.clone(), e.clone());
        }
        self.items.push((e, c));
        name
    }

    /// A declared column (named, or a plain column reference).
    pub fn declare(&mut self, e: Expr, c: Col, replace: bool) -> Result<(), String> {
        if self.declared.contains(&c.name) {
            return Err(c.name);
        }
        self.declared.insert(c.name.clone());
        self.set(e, c, replace);
        Ok(())
    }

    /// An undeclared (derived-name) column; renamed when its name is taken unless `replace`.
    pub fn add(&mut self, e: Expr, c: Col, replace: bool) -> String {
        self.set(e, c, replace)
    }
}

/// How `extend` and `project` treat an item.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Style {
    Extend,
    Project,
}

impl Planner<'_> {
    /// Lowers `extend`/`project` items into a projection.
    pub(super) fn project_items(
        &mut self,
        t: &Tab,
        items: &[ast::NamedExpr],
        env: &Env,
        style: Style,
        op: &'static str,
        windows: Option<&mut WindowCollector>,
    ) -> PResult<Projection> {
        let mut proj = if style == Style::Extend {
            Projection::from_input(t)
        } else {
            Projection::new()
        };
        let mut windows = windows;
        let mut failed = false;
        for item in items {
            // Wildcards and `*` in `project` select input columns.
            if style == Style::Project && item.name.is_none() {
                match &item.expr.kind {
                    ExprKind::Star => {
                        for c in &t.cols {
                            proj.add(col(&c.name), c.clone(), true);
                        }
                        continue;
                    }
                    ExprKind::Pattern(p) => {
                        for c in t.cols.iter().filter(|c| wildcard_match(&p.pattern, &c.name)) {
                            proj.add(col(&c.name), c.clone(), true);
                        }
                        continue;
                    }
                    _ => {}
                }
            }
            // The scope sees the input plus what this operator defined so far.
            let mut scope_cols = t.cols.clone();
            for c in proj.cols() {
                match scope_cols.iter_mut().find(|s| s.name == c.name) {
                    Some(s) => *s = c,
                    None => scope_cols.push(c),
                }
            }
            let value = {
                let mut sc = Scope::new(env, Some(&scope_cols), op);
                sc.windows = windows.as_deref_mut();
                sc.input_row = Some(&t.cols);
                self.lower_scalar(&item.expr, &mut sc)
            };
            let Ok(v) = value else {
                failed = true;
                continue;
            };
            // Functions Kusto documents as producing several columns.
            if let Some(columns) = self.expand_columns(&item.expr, item.name.as_ref(), &v, false) {
                for (e, c) in columns {
                    let e = proj.substitute(e);
                    proj.add(e, c, style == Style::Extend);
                }
                continue;
            }
            let expr = proj.substitute(v.expr.clone());
            match &item.name {
                Some(ast::Assignee::Single(id)) => {
                    if let Err(name) = proj.declare(expr, Col::new(id.name.clone(), v.ty), true) {
                        failed = true;
                        self.report(diag::duplicate_column(&name, id.span));
                    }
                }
                Some(ast::Assignee::Tuple { names, span }) => {
                    if let [only] = names.as_slice() {
                        if let Err(name) = proj.declare(expr, Col::new(only.name.clone(), v.ty), true) {
                            failed = true;
                            self.report(diag::duplicate_column(&name, only.span));
                        }
                    } else {
                        failed = true;
                        self.report(Diagnostic::error(
                            "KS149",
                            "The expression does not have multiple named values.",
                            *span,
                        ));
                    }
                }
                None => {
                    let is_column_ref = matches!(&v.expr, Expr::Column(c) if t.has(&c.name) || proj.has(&c.name))
                        && naming::expression_name(&item.expr)
                            .is_some_and(|n| matches!(&v.expr, Expr::Column(c) if c.name == n));
                    let name = match naming::expression_name(&item.expr) {
                        Some(n) => n,
                        None => {
                            let taken = |n: &str| proj.has(n) || t.has(n);
                            self.default_column_name(&taken)
                        }
                    };
                    if is_column_ref {
                        if let Err(name) = proj.declare(expr, Col::new(name, v.ty), style == Style::Extend) {
                            failed = true;
                            self.report(diag::duplicate_column(&name, item.expr.span));
                        }
                    } else {
                        proj.add(expr, Col::new(name, v.ty), style == Style::Extend);
                    }
                }
            }
        }
        if failed { Err(Reported) } else { Ok(proj) }
    }

    /// Applies a projection, adding the window plans it needs below it.
    fn finish_projection(
        &mut self,
        t: Tab,
        proj: Projection,
        windows: WindowCollector,
        op: &str,
        span: Span,
    ) -> PResult<Tab> {
        let result = if windows.is_empty() { Ok(t) } else { windows.apply(t) };
        match result.and_then(|t| t.project(proj.items)) {
            Ok(t) => Ok(t),
            Err(e) => Err(self.internal(op, e, span)),
        }
    }

    pub(super) fn plan_extend(&mut self, t: Tab, items: &[ast::NamedExpr], env: &Env, span: Span) -> PResult<Tab> {
        let mut windows = WindowCollector::new(t.order_exprs());
        let proj = {
            let w = if t.serialized { Some(&mut windows) } else { None };
            self.project_items(&t, items, env, Style::Extend, "extend", w)?
        };
        self.finish_projection(t, proj, windows, "extend", span)
    }

    pub(super) fn plan_project(&mut self, t: Tab, items: &[ast::NamedExpr], env: &Env, span: Span) -> PResult<Tab> {
        let mut windows = WindowCollector::new(t.order_exprs());
        let proj = {
            let w = if t.serialized { Some(&mut windows) } else { None };
            self.project_items(&t, items, env, Style::Project, "project", w)?
        };
        self.finish_projection(t, proj, windows, "project", span)
    }

    /// The input columns matched by name patterns; an exact name that matches nothing is an
    /// error.
    fn match_patterns(
        &mut self,
        t: &Tab,
        patterns: &[ast::NamePattern],
        op: &'static str,
    ) -> PResult<Vec<Vec<String>>> {
        let mut out = Vec::with_capacity(patterns.len());
        let mut failed = false;
        for p in patterns {
            let names: Vec<String> = t
                .cols
                .iter()
                .filter(|c| wildcard_match(&p.pattern, &c.name))
                .map(|c| c.name.clone())
                .collect();
            if names.is_empty() && !p.pattern.contains('*') {
                failed = true;
                self.report(diag::unresolved_column(op, &p.pattern, p.span));
            }
            out.push(names);
        }
        if failed { Err(Reported) } else { Ok(out) }
    }

    pub(super) fn plan_project_away(&mut self, t: Tab, patterns: &[ast::NamePattern], span: Span) -> PResult<Tab> {
        let matched: HashSet<String> = self
            .match_patterns(&t, patterns, "project-away")?
            .into_iter()
            .flatten()
            .collect();
        let keep: Vec<String> = t
            .cols
            .iter()
            .filter(|c| !matched.contains(&c.name))
            .map(|c| c.name.clone())
            .collect();
        t.select(&keep).map_err(|e| self.internal("project-away", e, span))
    }

    pub(super) fn plan_project_keep(&mut self, t: Tab, patterns: &[ast::NamePattern], span: Span) -> PResult<Tab> {
        let matched: HashSet<String> = self
            .match_patterns(&t, patterns, "project-keep")?
            .into_iter()
            .flatten()
            .collect();
        let keep: Vec<String> = t
            .cols
            .iter()
            .filter(|c| matched.contains(&c.name))
            .map(|c| c.name.clone())
            .collect();
        t.select(&keep).map_err(|e| self.internal("project-keep", e, span))
    }

    pub(super) fn plan_project_rename(&mut self, t: Tab, items: &[ast::RenameItem], span: Span) -> PResult<Tab> {
        let mut renames: Vec<(String, String)> = Vec::new();
        let mut failed = false;
        for r in items {
            if !t.has(&r.old_name.name) {
                failed = true;
                self.report(diag::unresolved_column(
                    "project-rename",
                    &r.old_name.name,
                    r.old_name.span,
                ));
                continue;
            }
            renames.push((r.old_name.name.clone(), r.new_name.name.clone()));
        }
        if failed {
            return Err(Reported);
        }
        let mut items_out = Vec::with_capacity(t.cols.len());
        let mut seen = HashSet::new();
        for c in &t.cols {
            let name = renames
                .iter()
                .rev()
                .find(|(old, _)| *old == c.name)
                .map(|(_, new)| new.clone());
            let out = name.unwrap_or_else(|| c.name.clone());
            if !seen.insert(out.clone()) {
                let at = items
                    .iter()
                    .find(|r| r.new_name.name == out)
                    .map(|r| r.new_name.span)
                    .unwrap_or(span);
                return Err(self.report(diag::duplicate_column(&out, at)));
            }
            items_out.push((col(&c.name), Col::new(out, c.ty)));
        }
        t.project(items_out)
            .map_err(|e| self.internal("project-rename", e, span))
    }

    pub(super) fn plan_project_reorder(&mut self, t: Tab, items: &[ast::ReorderItem], span: Span) -> PResult<Tab> {
        let mut first: Vec<String> = Vec::new();
        let mut failed = false;
        for item in items {
            let mut names: Vec<String> = t
                .cols
                .iter()
                .filter(|c| wildcard_match(&item.column.pattern, &c.name))
                .map(|c| c.name.clone())
                .collect();
            if names.is_empty() && !item.column.pattern.contains('*') {
                failed = true;
                self.report(diag::unresolved_column(
                    "project-reorder",
                    &item.column.pattern,
                    item.column.span,
                ));
                continue;
            }
            match item.order {
                Some(ast::ReorderOrder::Asc) => names.sort_by_key(|n| n.to_lowercase()),
                Some(ast::ReorderOrder::Desc) => {
                    names.sort_by_key(|n| n.to_lowercase());
                    names.reverse();
                }
                Some(ast::ReorderOrder::GrannyAsc) => names.sort_by(|a, b| granny_cmp(a, b)),
                Some(ast::ReorderOrder::GrannyDesc) => names.sort_by(|a, b| granny_cmp(b, a)),
                None => {}
            }
            for n in names {
                if !first.contains(&n) {
                    first.push(n);
                }
            }
        }
        if failed {
            return Err(Reported);
        }
        let rest = t
            .cols
            .iter()
            .filter(|c| !first.contains(&c.name))
            .map(|c| c.name.clone());
        let order: Vec<String> = first.iter().cloned().chain(rest).collect();
        t.select(&order).map_err(|e| self.internal("project-reorder", e, span))
    }

    /// `project-by-names 'a', 'b*', dynamic(['c'])`
    pub(super) fn plan_project_by_names(&mut self, t: Tab, specs: &[ast::Expr], env: &Env, span: Span) -> PResult<Tab> {
        let mut patterns: Vec<String> = Vec::new();
        for s in specs {
            let (v, _) = self.const_value(s, env, "project-by-names")?;
            match v {
                ScalarValue::Utf8(Some(p)) => patterns.push(p),
                ScalarValue::Binary(Some(b)) => match serde_json::from_slice::<serde_json::Value>(&b) {
                    Ok(serde_json::Value::Array(items)) => {
                        for i in items {
                            match i {
                                serde_json::Value::String(p) => patterns.push(p),
                                _ => return Err(self.report(diag::expected_type("string", s.span))),
                            }
                        }
                    }
                    Ok(serde_json::Value::String(p)) => patterns.push(p),
                    _ => return Err(self.report(diag::expected_type("string", s.span))),
                },
                _ => return Err(self.report(diag::expected_type("string", s.span))),
            }
        }
        let mut names: Vec<String> = Vec::new();
        for p in &patterns {
            for c in t.cols.iter().filter(|c| wildcard_match(p, &c.name)) {
                if !names.contains(&c.name) {
                    names.push(c.name.clone());
                }
            }
        }
        t.select(&names).map_err(|e| self.internal("project-by-names", e, span))
    }
}

impl Planner<'_> {
    /// The columns of a call to a multi-column function (`series_stats(x)`,
    /// `array_sort_asc(a, b)`), named as Kusto names them or by the query's tuple; `None` for
    /// any other expression. `print` keeps only the named (or first) column.
    pub(super) fn expand_columns(
        &mut self,
        e: &ast::Expr,
        assignee: Option<&ast::Assignee>,
        v: &functions::TypedExpr,
        print: bool,
    ) -> Option<Vec<(Expr, Col)>> {
        let call = match &e.kind {
            ExprKind::Call(c) if c.receiver.is_none() => c,
            ExprKind::Paren(inner) => return self.expand_columns(inner, assignee, v, print),
            _ => return None,
        };
        let fname = call.name.name.as_str();
        let expansion = functions::expansion(fname)?;
        let arg_name = |i: usize| call.args.get(i).and_then(|a| naming::expression_name(&a.value));
        let given: Vec<String> = match assignee {
            Some(ast::Assignee::Single(id)) => vec![id.name.clone()],
            Some(ast::Assignee::Tuple { names, .. }) => names.iter().map(|n| n.name.clone()).collect(),
            None => Vec::new(),
        };
        let parts: Vec<(functions::TypedExpr, String)> = match expansion {
            functions::Expansion::BagKeys(keys) => {
                let base = arg_name(0).unwrap_or_default();
                keys.iter()
                    .map(|k| {
                        let value = functions::lower_member(v.clone(), k).ok()?;
                        Some((value, format!("{fname}_{base}_{k}")))
                    })
                    .collect::<Option<Vec<_>>>()?
            }
            functions::Expansion::ArrayItems { fixed } => {
                // The array arguments (a trailing bool is the nulls-last flag of the sorts).
                let arrays = call
                    .args
                    .iter()
                    .filter(|a| !matches!(&a.value.kind, ExprKind::Literal(l) if matches!(l.value, ast::LiteralValue::Bool(_))))
                    .count();
                let n = match fixed {
                    Some(n) => n,
                    None if arrays >= 2 => arrays,
                    None => return None,
                };
                (0..n)
                    .map(|i| {
                        let value = functions::lower_index(v.clone(), crate::literal::long(i as i64)).ok()?;
                        let name = match fixed {
                            None => format!("{}_sorted", arg_name(i).unwrap_or_else(|| format!("Column{i}"))),
                            Some(_) => format!("{fname}_{}_{i}", arg_name(0).unwrap_or_default()),
                        };
                        Some((value, name))
                    })
                    .collect::<Option<Vec<_>>>()?
            }
        };
        let mut out = Vec::with_capacity(parts.len());
        for (i, (value, default)) in parts.into_iter().enumerate() {
            if print && i >= given.len().max(1) {
                break;
            }
            let name = given.get(i).cloned().unwrap_or(default);
            out.push((value.expr, Col::new(name, value.ty)));
        }
        Some(out)
    }
}

/// "Granny" order: case-insensitive, with runs of digits compared as numbers
/// (`a2` before `a10`).
fn granny_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    fn chunks(s: &str) -> Vec<(bool, String)> {
        let mut out: Vec<(bool, String)> = Vec::new();
        for ch in s.chars() {
            let digit = ch.is_ascii_digit();
            match out.last_mut() {
                Some((d, text)) if *d == digit => text.push(ch),
                _ => out.push((digit, ch.to_string())),
            }
        }
        out
    }
    let (ca, cb) = (chunks(a), chunks(b));
    for (x, y) in ca.iter().zip(cb.iter()) {
        let ord = match (x.0, y.0) {
            (true, true) => {
                let (tx, ty) = (x.1.trim_start_matches('0'), y.1.trim_start_matches('0'));
                tx.len().cmp(&ty.len()).then_with(|| tx.cmp(ty))
            }
            _ => x.1.to_lowercase().cmp(&y.1.to_lowercase()),
        };
        if ord != std::cmp::Ordering::Equal {
            return ord;
        }
    }
    ca.len().cmp(&cb.len())
}

#[cfg(test)]
mod tests {
    use super::granny_cmp;

    #[test]
    fn granny_order_compares_numbers() {
        let mut v = vec!["a10", "A2", "a1", "b"];
        v.sort_by(|a, b| granny_cmp(a, b));
        assert_eq!(v, vec!["a1", "A2", "a10", "b"]);
    }
}
