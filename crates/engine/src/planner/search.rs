//! `search`: a term search over every column of one or more tables.
//!
//! `[T |] search [kind=case_sensitive] [in (T1, T2*)] predicate`: the sources are unioned
//! (outer) with a `$table` column naming each row's source; a bare string in the predicate
//! matches any column (`"err"` is `* has "err"`, `"err*"` hasprefix, `"*err"` hassuffix,
//! `"*err*"` contains, `"a*b"` a regex over terms, `*` everything); `Col:"x"` (parsed as
//! `Col has "x"`) and any other condition apply as in `where`.

use super::Planner;
use super::env::Env;
use super::expr::Scope;
use super::tab::{Tab, col};
use super::union::param_text;
use crate::diag::{self, PResult};
use datafusion::logical_expr::{LogicalPlanBuilder, lit};
use functions::TypedExpr;
use kql::ast::{self, BinaryOp, ExprKind, LiteralValue};
use kql::{Diagnostic, Span};
use schema::KqlType;

impl Planner<'_> {
    pub(super) fn plan_search(&mut self, s: &ast::SearchOp, input: Option<(String, Tab)>, env: &Env) -> PResult<Tab> {
        let mut case_sensitive = false;
        for p in &s.params {
            if p.name.name.eq_ignore_ascii_case("kind") {
                case_sensitive = match param_text(p).as_deref() {
                    Some("case_sensitive") => true,
                    Some("default" | "case_insensitive") => false,
                    _ => {
                        return Err(self.report(Diagnostic::error(
                            "QE020",
                            "search: kind must be default, case_insensitive or case_sensitive",
                            p.span,
                        )));
                    }
                };
            }
        }
        // The sources, as a union with the `$table` column.
        let union = ast::UnionOp {
            params: vec![ast::OperatorParam {
                name: ast::Ident {
                    name: "withsource".into(),
                    span: s.span,
                    quoted: false,
                },
                value: ast::Expr {
                    kind: ExprKind::Name(ast::Ident {
                        name: "$table".into(),
                        span: s.span,
                        quoted: true,
                    }),
                    span: s.span,
                },
                span: s.span,
            }],
            tables: match (&s.tables, &input) {
                (Some(_), Some(_)) => {
                    return Err(self.report(Diagnostic::error(
                        "QE020",
                        "search: a piped input and 'in (…)' cannot be used together",
                        s.span,
                    )));
                }
                (Some(t), None) => t.clone(),
                (None, Some(_)) => Vec::new(),
                // Every table of the catalog.
                (None, None) if self.catalog.table_names().is_empty() => {
                    return Err(self.report(Diagnostic::error(
                        "QE020",
                        "search: there is no table to search",
                        s.span,
                    )));
                }
                (None, None) => vec![ast::Expr {
                    kind: ExprKind::Pattern(ast::NamePattern {
                        pattern: "*".into(),
                        span: s.span,
                    }),
                    span: s.span,
                }],
            },
            span: s.span,
        };
        let t = self.plan_union_from(&union, input, env)?;
        let pred = self.search_predicate(&s.predicate, &t, env, case_sensitive)?;
        let pred = self.predicate(pred, s.predicate.span)?;
        match LogicalPlanBuilder::from(t.plan.clone())
            .filter(pred.expr)
            .and_then(|b| b.build())
        {
            Ok(plan) => Ok(t.with_plan(plan)),
            Err(e) => Err(self.internal("search", e, s.span)),
        }
    }

    fn search_predicate(&mut self, e: &ast::Expr, t: &Tab, env: &Env, cs: bool) -> PResult<TypedExpr> {
        match &e.kind {
            ExprKind::Paren(inner) => self.search_predicate(inner, t, env, cs),
            ExprKind::Star => Ok(crate::literal::boolean(true)),
            ExprKind::Literal(l) => match &l.value {
                LiteralValue::String(text) => self.any_column_matches(&text.value, t, cs, e.span),
                _ => Err(self.report(diag::expected_type("bool", e.span))),
            },
            ExprKind::Binary(b) if matches!(b.op, BinaryOp::And | BinaryOp::Or) => {
                let l = self.search_predicate(&b.left, t, env, cs);
                let r = self.search_predicate(&b.right, t, env, cs);
                let (l, r) = (l?, r?);
                let op = if b.op == BinaryOp::And { "and" } else { "or" };
                functions::lower_binary(op, l, r).map_err(|err| self.report(diag::function_error(&err, e.span)))
            }
            ExprKind::Call(c) if c.receiver.is_none() && c.name.name == "not" && c.args.len() == 1 => {
                let inner = self.search_predicate(&c.args[0].value, t, env, cs)?;
                functions::lower_not(inner).map_err(|err| self.report(diag::function_error(&err, e.span)))
            }
            // `Col:"x"` arrives as `Col has "x"`, case-sensitive with kind=case_sensitive.
            ExprKind::Binary(b) if b.op == BinaryOp::Has && cs => {
                let mut sc = Scope::new(env, Some(&t.cols), "search");
                let l = self.lower_scalar(&b.left, &mut sc)?;
                let r = self.lower_scalar(&b.right, &mut sc)?;
                functions::lower_binary("has_cs", l, r).map_err(|err| self.report(diag::function_error(&err, e.span)))
            }
            _ => {
                let mut sc = Scope::new(env, Some(&t.cols), "search");
                self.lower_scalar(e, &mut sc)
            }
        }
    }

    /// A term searched in every column (`*` wildcards choose the operator).
    fn any_column_matches(&mut self, text: &str, t: &Tab, cs: bool, span: Span) -> PResult<TypedExpr> {
        let suffix = if cs { "_cs" } else { "" };
        let (op, needle) = match (text.strip_prefix('*'), text.strip_suffix('*')) {
            _ if text == "*" => return Ok(crate::literal::boolean(true)),
            (Some(rest), _) if rest.ends_with('*') && rest.len() > 1 => {
                (format!("contains{suffix}"), rest.trim_end_matches('*').to_string())
            }
            (Some(rest), _) if !rest.contains('*') => (format!("hassuffix{suffix}"), rest.to_string()),
            (None, Some(rest)) if !rest.contains('*') => (format!("hasprefix{suffix}"), rest.to_string()),
            _ if text.contains('*') => {
                // `a*b`: the terms from `a` to `b`.
                let parts: Vec<String> = text.split('*').map(regex::escape).collect();
                let flags = if cs { "" } else { "(?i)" };
                ("matches regex".to_string(), format!(r"{flags}\b{}\b", parts.join(".*")))
            }
            _ => (format!("has{suffix}"), text.to_string()),
        };
        let mut any: Option<TypedExpr> = None;
        for c in t.cols.iter().filter(|c| c.name != "$table") {
            let value = TypedExpr::new(col(&c.name), c.ty);
            let value = if matches!(c.ty, KqlType::String | KqlType::Guid) {
                value
            } else {
                match functions::coerce::convert(value, KqlType::String) {
                    Ok(v) => v,
                    Err(_) => continue,
                }
            };
            let m = functions::lower_binary(&op, value, crate::literal::string(needle.clone()))
                .map_err(|err| self.report(diag::function_error(&err, span)))?;
            any = Some(match any {
                None => m,
                Some(prev) => functions::lower_binary("or", prev, m)
                    .map_err(|err| self.report(diag::function_error(&err, span)))?,
            });
        }
        Ok(any.unwrap_or_else(|| TypedExpr::new(lit(false), KqlType::Bool)))
    }
}
