//! User-defined functions and views: binding arguments to parameters and expanding the
//! body at the call.

use super::env::{Binding, Env, UserFn};
use super::expr::Scope;
use super::tab::{Col, Tab};
use super::{MAX_CALL_DEPTH, Planner, Value, statement_span};
use crate::diag::{self, PResult, Reported};
use kql::ast::{self, Statement};
use kql::{Diagnostic, Span};
use schema::KqlType;

impl Planner<'_> {
    /// Invokes a user-defined function: binds its parameters (tabular ones first; the piped
    /// input of `invoke` is the first tabular argument) and plans its body.
    pub(super) fn invoke(
        &mut self,
        f: &UserFn,
        args: &[ast::Arg],
        span: Span,
        caller_env: &Env,
        row: Option<&[Col]>,
        piped: Option<Tab>,
    ) -> PResult<Value> {
        if self.call_depth >= MAX_CALL_DEPTH {
            return Err(self.report(Diagnostic::error(
                "QE004",
                format!(
                    "The function '{}' calls itself too deeply: recursion is not allowed",
                    f.name
                ),
                span,
            )));
        }
        let params = &f.def.params;
        let mut body_env = f.env.clone();
        let mut positional = args.iter().filter(|a| a.name.is_none());
        let mut piped = piped;
        let mut failed = false;
        for p in params {
            let named = args
                .iter()
                .find(|a| a.name.as_ref().is_some_and(|n| n.name == p.name.name));
            match &p.kind {
                ast::FunctionParamKind::Tabular { schema } => {
                    let value = if let Some(t) = piped.take() {
                        Ok(t)
                    } else if let Some(a) = named.or_else(|| positional.next()) {
                        self.lower_tabular(&a.value, caller_env)
                    } else {
                        Err(self.report(Diagnostic::error(
                            "KS197",
                            format!("The argument for parameter '{}' is missing.", p.name.name),
                            span,
                        )))
                    };
                    match value.and_then(|t| self.check_tabular_param(t, schema, span)) {
                        Ok(t) => body_env = body_env.bind(p.name.name.clone(), Binding::Tabular(t)),
                        Err(_) => {
                            failed = true;
                            body_env = body_env.bind(p.name.name.clone(), Binding::Poisoned);
                        }
                    }
                }
                ast::FunctionParamKind::Scalar { ty, default } => {
                    let value = match named.or_else(|| positional.next()) {
                        Some(a) => {
                            let mut sc = Scope::new(caller_env, row, "");
                            self.lower_scalar(&a.value, &mut sc).map(|v| (v, a.value.span))
                        }
                        None => match default {
                            Some(d) => self.lower_scalar_const(d, &f.env, "").map(|v| (v, d.span)),
                            None => Err(self.report(Diagnostic::error(
                                "KS197",
                                format!("The argument for parameter '{}' is missing.", p.name.name),
                                span,
                            ))),
                        },
                    };
                    let converted = value.and_then(|(v, vspan)| {
                        let ty = self.type_name(ty)?;
                        if v.ty == ty || functions::coerce::is_null_literal(&v) || v.ty.is_numeric() && ty.is_numeric()
                        {
                            functions::coerce::convert(v, ty).map_err(|e| self.report(diag::function_error(&e, vspan)))
                        } else if ty == KqlType::Dynamic || (ty == KqlType::String && v.ty == KqlType::Guid) {
                            functions::coerce::convert(v, ty).map_err(|e| self.report(diag::function_error(&e, vspan)))
                        } else {
                            Err(self.report(diag::expected_type(ty.name(), vspan)))
                        }
                    });
                    match converted {
                        // Constant arguments stay literals (percentiles, formats… need them).
                        Ok(v) => body_env = body_env.bind(p.name.name.clone(), Binding::Scalar(self.fold(v))),
                        Err(_) => {
                            failed = true;
                            body_env = body_env.bind(p.name.name.clone(), Binding::Poisoned);
                        }
                    }
                }
            }
        }
        if let Some(extra) = positional.next() {
            return Err(self.report(Diagnostic::error(
                "KS121",
                format!("The function '{}' expects {} argument(s).", f.name, params.len()),
                extra.span,
            )));
        }
        if failed {
            return Err(Reported);
        }
        self.call_depth += 1;
        let result = self.lower_body(&f.def.body, body_env, row);
        self.call_depth -= 1;
        result
    }
    /// `{ let …; expr }`
    pub(super) fn lower_body(&mut self, body: &ast::FunctionBody, mut env: Env, row: Option<&[Col]>) -> PResult<Value> {
        let mut result = None;
        for st in &body.statements {
            match st {
                Statement::Let(l) => env = self.bind_let(l, &env),
                Statement::Expr(e) => result = Some(self.lower_value(e, &env, row)),
                other => {
                    let span = statement_span(other);
                    return Err(self.report(diag::unsupported("This statement inside a function body", span)));
                }
            }
        }
        match result {
            Some(r) => r,
            None => Err(self.report(Diagnostic::error("KS006", "Missing expression", body.span))),
        }
    }
    /// Checks a tabular argument against a parameter schema `(x:long, *)`: the declared
    /// columns must exist with those types.
    pub(super) fn check_tabular_param(&mut self, t: Tab, schema: &ast::TableSchema, span: Span) -> PResult<Tab> {
        let mut ok = true;
        for c in &schema.columns {
            let ty = self.type_name(&c.ty)?;
            match t.column(&c.name.name) {
                Some(have) if have.ty == ty || (ty == KqlType::String && have.ty == KqlType::Guid) => {}
                Some(have) => {
                    ok = false;
                    self.report(Diagnostic::error(
                        "KS249",
                        format!(
                            "The tabular value does not have the required columns: '{}' is {} but {} is required.",
                            c.name.name, have.ty, ty
                        ),
                        span,
                    ));
                }
                None => {
                    ok = false;
                    self.report(Diagnostic::error(
                        "KS249",
                        format!(
                            "The tabular value does not have the required columns: '{}' is missing.",
                            c.name.name
                        ),
                        span,
                    ));
                }
            }
        }
        if ok { Ok(t) } else { Err(Reported) }
    }
}
