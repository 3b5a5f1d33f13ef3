//! Function calls in scalar expressions: user-defined functions, the calls the planner
//! itself lowers (`toscalar`, `pack_all`, `column_ifexists`, window functions, aggregates in
//! `summarize`), and everything else through the function library.

use super::env::Binding;
use super::expr::Scope;
use super::tab::col;
use super::window::WINDOW_FUNCTIONS;
use super::{Planner, Value};
use crate::diag::{self, PResult, Reported};
use datafusion::common::ScalarValue;
use functions::{Arg, TypedExpr};
use kql::Diagnostic;
use kql::ast::{self, ExprKind};
use schema::KqlType;

impl Planner<'_> {
    pub(super) fn lower_call(&mut self, c: &ast::Call, span: kql::Span, sc: &mut Scope<'_>) -> PResult<TypedExpr> {
        if c.receiver.is_some() {
            return Err(self.report(diag::unsupported(
                &format!("The call '{}()' on a value (cluster/database references)", c.name.name),
                span,
            )));
        }
        let name = c.name.name.as_str();
        if let Some(Binding::Function(f)) = sc.env.lookup(name) {
            let f = f.clone();
            let env = sc.env.clone();
            return match self.invoke(&f, &c.args, span, &env, sc.row, None)? {
                Value::Scalar(v) => Ok(v),
                Value::Tabular(_) => Err(self.report(diag::scalar_expected(span))),
            };
        }
        match name {
            "toscalar" => return self.lower_toscalar(c, span, sc),
            "materialize" | "table" | "view" => return Err(self.report(diag::scalar_expected(span))),
            "pack_all" => return self.lower_pack_all(c, span, sc),
            "column_names_of" => return self.lower_column_names_of(c, sc),
            "column_ifexists" | "columnifexists" => return self.lower_column_ifexists(c, span, sc),
            "ingestion_time" if c.args.is_empty() => {
                // No table here has an ingestion-time policy; Kusto then returns null.
                return Ok(crate::literal::typed_null(KqlType::DateTime));
            }
            "cursor_after"
            | "cursor_before_or_at"
            | "cursor_current"
            | "current_cursor"
            | "extent_id"
            | "extent_tags"
            | "current_principal"
            | "current_principal_details"
            | "current_principal_is_member_of"
            | "current_cluster_endpoint"
            | "current_database" => {
                return Err(self.report(diag::unsupported(&format!("The function '{name}()'"), c.name.span)));
            }
            _ => {}
        }
        if WINDOW_FUNCTIONS.contains(&name) {
            return self.lower_window_call(c, span, sc);
        }
        let is_aggregate = functions::aggregate::is_aggregate(name);
        if is_aggregate && sc.aggs.is_some() {
            return self.lower_aggregate_call(c, span, sc);
        }
        let args = self.lower_args(&c.args, sc)?;
        match functions::lower_call(name, args, &self.ctx) {
            Ok(v) => Ok(v),
            Err(functions::FnError::UnknownFunction(_)) if is_aggregate => Err(self.report(Diagnostic::error(
                "KS144",
                format!("The aggregate function '{name}' is not allowed in this context."),
                c.name.span,
            ))),
            Err(e @ functions::FnError::UnknownFunction(_)) => Err(self.report(diag::function_error(&e, c.name.span))),
            Err(e) => Err(self.report(diag::function_error(&e, span))),
        }
    }

    /// Lowers call arguments; `*` stands for every column of the row, in order.
    pub(super) fn lower_args(&mut self, args: &[ast::Arg], sc: &mut Scope<'_>) -> PResult<Vec<Arg>> {
        let mut out = Vec::with_capacity(args.len());
        let mut failed = false;
        for a in args {
            if matches!(a.value.kind, ExprKind::Star) {
                match sc.row {
                    Some(row) => {
                        for c in row {
                            out.push(Arg::positional(TypedExpr::new(col(&c.name), c.ty)));
                        }
                    }
                    None => {
                        failed = true;
                        self.report(Diagnostic::error(
                            "KS199",
                            "No columns are currently in scope.",
                            a.value.span,
                        ));
                    }
                }
                continue;
            }
            match self.lower_scalar(&a.value, sc) {
                Ok(v) => out.push(match &a.name {
                    Some(n) => Arg::named(n.name.clone(), v),
                    None => Arg::positional(v),
                }),
                Err(_) => failed = true,
            }
        }
        if failed { Err(Reported) } else { Ok(out) }
    }

    /// An aggregate inside `summarize`: lowered by the library and replaced by a reference
    /// to the hidden column the aggregation produces.
    fn lower_aggregate_call(&mut self, c: &ast::Call, span: kql::Span, sc: &mut Scope<'_>) -> PResult<TypedExpr> {
        // Aggregates do not nest: their arguments are plain row expressions. `*` stands for
        // the columns other than the first argument and the `by` keys.
        let args = {
            let excluded: Vec<String> = {
                let mut ex = sc.aggs.as_deref().map(|a| a.by_names.clone()).unwrap_or_default();
                if let Some(first) = c.args.first()
                    && let ExprKind::Name(id) = &first.value.kind
                {
                    ex.push(id.name.clone());
                }
                ex
            };
            let mut out = Vec::with_capacity(c.args.len());
            let mut failed = false;
            for a in &c.args {
                if matches!(a.value.kind, ExprKind::Star) {
                    for col_ in sc.row.unwrap_or(&[]).iter().filter(|x| !excluded.contains(&x.name)) {
                        out.push(Arg::positional(TypedExpr::new(col(&col_.name), col_.ty)));
                    }
                    continue;
                }
                let mut inner = Scope::new(sc.env, sc.row, sc.op);
                match self.lower_scalar(&a.value, &mut inner) {
                    Ok(v) => out.push(match &a.name {
                        Some(n) => Arg::named(n.name.clone(), v),
                        None => Arg::positional(v),
                    }),
                    Err(_) => failed = true,
                }
            }
            if failed {
                return Err(Reported);
            }
            out
        };
        let agg = match functions::lower_aggregate(&c.name.name, args, &self.ctx) {
            Ok(a) => a,
            Err(e) => return Err(self.report(diag::function_error(&e, span))),
        };
        let hidden = self.hidden("agg");
        let ty = agg.ty;
        if let Some(aggs) = sc.aggs.as_deref_mut() {
            aggs.items.push((hidden.clone(), agg));
        }
        Ok(TypedExpr::new(col(&hidden), ty))
    }

    /// `toscalar(T)`: the first column of the first row of a table, computed before the
    /// query runs (as Kusto does). In validation it is a typed null.
    fn lower_toscalar(&mut self, c: &ast::Call, span: kql::Span, sc: &mut Scope<'_>) -> PResult<TypedExpr> {
        let [arg] = c.args.as_slice() else {
            return Err(self.report(Diagnostic::error(
                "KS121",
                "The function 'toscalar' expects 1 argument.",
                c.args_span,
            )));
        };
        if !self.is_tabular_expr(&arg.value, sc) {
            return self.lower_scalar(&arg.value, sc);
        }
        let env = sc.env.clone();
        let t = self.lower_tabular(&arg.value, &env)?;
        let Some(first) = t.cols.first().cloned() else {
            return Err(self.report(Diagnostic::error("KS190", "The table has no columns", arg.value.span)));
        };
        let Some(exec) = self.exec else {
            return Ok(crate::literal::typed_null(first.ty));
        };
        let plan = match t.select(std::slice::from_ref(&first.name)).and_then(|t| {
            datafusion::logical_expr::LogicalPlanBuilder::from(t.plan)
                .limit(0, Some(1))?
                .build()
        }) {
            Ok(p) => p,
            Err(e) => return Err(self.internal("toscalar()", e, span)),
        };
        let batches = match exec.collect(plan) {
            Ok(b) => b,
            Err(e) => return Err(self.report(Diagnostic::error("QE100", format!("toscalar(): {e}"), span))),
        };
        for b in batches {
            if b.num_rows() > 0 {
                let value = match ScalarValue::try_from_array(b.column(0), 0) {
                    Ok(v) => v,
                    Err(e) => return Err(self.internal("toscalar()", e, span)),
                };
                // Views of strings/binaries become their plain forms so literals compare simply.
                let value = match value {
                    ScalarValue::Utf8View(s) | ScalarValue::LargeUtf8(s) => ScalarValue::Utf8(s),
                    ScalarValue::BinaryView(b) | ScalarValue::LargeBinary(b) => ScalarValue::Binary(b),
                    v => v,
                };
                return Ok(TypedExpr::literal(value, first.ty));
            }
        }
        Ok(crate::literal::typed_null(first.ty))
    }

    /// `column_names_of(T)`: the column names of a table, known when planning.
    fn lower_column_names_of(&mut self, c: &ast::Call, sc: &mut Scope<'_>) -> PResult<TypedExpr> {
        let [arg] = c.args.as_slice() else {
            return Err(self.report(Diagnostic::error(
                "KS121",
                "The function 'column_names_of' expects 1 argument.",
                c.args_span,
            )));
        };
        let env = sc.env.clone();
        let t = self.lower_tabular(&arg.value, &env)?;
        let names: Vec<serde_json::Value> = t
            .cols
            .iter()
            .map(|c| serde_json::Value::String(c.name.clone()))
            .collect();
        Ok(crate::literal::dynamic(&serde_json::Value::Array(names)))
    }

    /// `pack_all([ignore_null_empty])`: a bag of every column of the row.
    fn lower_pack_all(&mut self, c: &ast::Call, span: kql::Span, sc: &mut Scope<'_>) -> PResult<TypedExpr> {
        let Some(row) = sc.input_row.or(sc.row) else {
            return Err(self.report(Diagnostic::error("KS199", "No columns are currently in scope.", span)));
        };
        let ignore_empty = match c.args.first() {
            None => false,
            Some(a) => {
                let v = self.lower_scalar(&a.value, sc)?;
                match self.fold(v).as_literal() {
                    Some(ScalarValue::Boolean(Some(b))) => *b,
                    _ => return Err(self.report(diag::expected_type("bool", a.value.span))),
                }
            }
        };
        if !ignore_empty {
            let mut args = Vec::with_capacity(row.len() * 2);
            for c in row {
                args.push(Arg::positional(crate::literal::string(c.name.clone())));
                args.push(Arg::positional(TypedExpr::new(col(&c.name), c.ty)));
            }
            return functions::lower_call("bag_pack", args, &self.ctx)
                .map_err(|e| self.report(diag::function_error(&e, span)));
        }
        // Without null and empty values: one single-key bag per column (empty when the
        // value is), merged.
        let mut bags = Vec::with_capacity(row.len());
        for c in row {
            let value = TypedExpr::new(col(&c.name), c.ty);
            let one = functions::lower_call(
                "bag_pack",
                vec![
                    Arg::positional(crate::literal::string(c.name.clone())),
                    Arg::positional(value.clone()),
                ],
                &self.ctx,
            );
            let empty = functions::lower_call("bag_pack", Vec::new(), &self.ctx);
            let is_empty = functions::lower_call("isempty", vec![Arg::positional(value)], &self.ctx);
            let bag = match (one, empty, is_empty) {
                (Ok(one), Ok(empty), Ok(test)) => functions::lower_call(
                    "iff",
                    vec![Arg::positional(test), Arg::positional(empty), Arg::positional(one)],
                    &self.ctx,
                ),
                (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => Err(e),
            };
            bags.push(Arg::positional(
                bag.map_err(|e| self.report(diag::function_error(&e, span)))?,
            ));
        }
        if bags.len() == 1 {
            return Ok(bags.remove(0).value);
        }
        functions::lower_call("bag_merge", bags, &self.ctx).map_err(|e| self.report(diag::function_error(&e, span)))
    }

    /// `column_ifexists('name', default)`: the column when the row has it, else the default.
    fn lower_column_ifexists(&mut self, c: &ast::Call, span: kql::Span, sc: &mut Scope<'_>) -> PResult<TypedExpr> {
        let [name_arg, default_arg] = c.args.as_slice() else {
            return Err(self.report(Diagnostic::error(
                "KS121",
                "The function 'column_ifexists' expects 2 arguments.",
                c.args_span,
            )));
        };
        let name = self.lower_scalar(&name_arg.value, sc)?;
        let Some(ScalarValue::Utf8(Some(name))) = self.fold(name).as_literal().cloned() else {
            return Err(self.report(diag::constant_expected(name_arg.value.span)));
        };
        let default = self.lower_scalar(&default_arg.value, sc)?;
        match sc.column(&name) {
            Some(column) => Ok(TypedExpr::new(col(&column.name), column.ty)),
            None => {
                let _ = span;
                Ok(default)
            }
        }
    }
}
