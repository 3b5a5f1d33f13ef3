//! Scalar expressions: names, literals, operators, member access. Calls are in `calls.rs`.

use super::env::{Binding, Env};
use super::tab::{Col, col};
use super::window::WindowCollector;
use super::{Planner, Value};
use crate::diag::{self, PResult, Reported};
use functions::{TypedAgg, TypedExpr};
use kql::Diagnostic;
use kql::ast::{self, BinaryOp, ExprKind, InOp, UnaryOp};
use schema::KqlType;

/// Aggregates met while lowering a `summarize` item, replaced by references to hidden
/// columns that the aggregation computes.
#[derive(Default)]
pub struct AggCollector {
    pub items: Vec<(String, TypedAgg)>,
    /// The `by` keys of the summarize (which `arg_max(x, *)`'s `*` leaves out).
    pub by_names: Vec<String>,
}

/// What a scalar expression can see.
pub struct Scope<'s> {
    pub env: &'s Env,
    /// The columns of the input rows (`None` outside a row context: `let`, `print`).
    pub row: Option<&'s [Col]>,
    /// The operator being planned, for messages (`'where' operator: …`).
    pub op: &'static str,
    /// Set in `summarize` (and alike): aggregate calls are allowed.
    pub aggs: Option<&'s mut AggCollector>,
    /// Set on serialized input: window functions (`row_number()`, `prev()`…) are allowed.
    pub windows: Option<&'s mut WindowCollector>,
    /// `scan` step names: `step.column` is the row column named `step.column`.
    pub qualified: Option<&'s [String]>,
    /// The input's own columns when `row` also holds columns the operator defined
    /// (`pack_all()` in `extend` packs only the input's).
    pub input_row: Option<&'s [Col]>,
}

impl<'s> Scope<'s> {
    pub fn new(env: &'s Env, row: Option<&'s [Col]>, op: &'static str) -> Self {
        Scope {
            env,
            row,
            op,
            aggs: None,
            windows: None,
            qualified: None,
            input_row: None,
        }
    }

    pub fn column(&self, name: &str) -> Option<&Col> {
        self.row.and_then(|r| r.iter().find(|c| c.name == name))
    }
}

/// The KQL operator text of a binary operator, as the function library names it.
pub fn binary_op_name(op: BinaryOp) -> &'static str {
    use BinaryOp::*;
    match op {
        Or => "or",
        And => "and",
        Eq => "==",
        NotEq => "!=",
        EqTilde => "=~",
        NotEqTilde => "!~",
        Lt => "<",
        Le => "<=",
        Gt => ">",
        Ge => ">=",
        Add => "+",
        Sub => "-",
        Mul => "*",
        Div => "/",
        Mod => "%",
        Has => "has",
        NotHas => "!has",
        HasCs => "has_cs",
        NotHasCs => "!has_cs",
        HasPrefix => "hasprefix",
        NotHasPrefix => "!hasprefix",
        HasPrefixCs => "hasprefix_cs",
        NotHasPrefixCs => "!hasprefix_cs",
        HasSuffix => "hassuffix",
        NotHasSuffix => "!hassuffix",
        HasSuffixCs => "hassuffix_cs",
        NotHasSuffixCs => "!hassuffix_cs",
        Contains => "contains",
        NotContains => "!contains",
        ContainsCs => "contains_cs",
        NotContainsCs => "!contains_cs",
        StartsWith => "startswith",
        NotStartsWith => "!startswith",
        StartsWithCs => "startswith_cs",
        NotStartsWithCs => "!startswith_cs",
        EndsWith => "endswith",
        NotEndsWith => "!endswith",
        EndsWithCs => "endswith_cs",
        NotEndsWithCs => "!endswith_cs",
        MatchesRegex => "matches regex",
    }
}

fn in_op_name(op: InOp) -> &'static str {
    match op {
        InOp::In => "in",
        InOp::NotIn => "!in",
        InOp::InCi => "in~",
        InOp::NotInCi => "!in~",
        InOp::HasAny => "has_any",
        InOp::HasAll => "has_all",
    }
}

impl Planner<'_> {
    /// Lowers a scalar expression in a scope, reporting what is wrong with it.
    pub(super) fn lower_scalar(&mut self, e: &ast::Expr, sc: &mut Scope<'_>) -> PResult<TypedExpr> {
        match &e.kind {
            ExprKind::Literal(l) => crate::literal::literal(l, self.ctx.now_nanos, &mut self.diags),
            ExprKind::Name(id) => self.lower_name(id, e.span, sc),
            ExprKind::Paren(inner) => self.lower_scalar(inner, sc),
            ExprKind::Unary(u) => {
                let v = self.lower_scalar(&u.operand, sc)?;
                match u.op {
                    UnaryOp::Neg => {
                        functions::lower_neg(v).map_err(|err| self.report(diag::function_error(&err, e.span)))
                    }
                    UnaryOp::Plus => {
                        if v.ty.is_numeric() || matches!(v.ty, KqlType::TimeSpan | KqlType::Dynamic) {
                            Ok(v)
                        } else {
                            Err(self.report(Diagnostic::error(
                                "KS127",
                                format!("The operator '+' is not defined for the operand type {}.", v.ty),
                                e.span,
                            )))
                        }
                    }
                }
            }
            ExprKind::Binary(_) => self.lower_binary_chain(e, sc),
            ExprKind::In(i) => self.lower_in(i, e.span, sc),
            ExprKind::Between(b) => {
                let l = self.lower_scalar(&b.left, sc);
                let lo = self.lower_scalar(&b.low, sc);
                let hi = self.lower_scalar(&b.high, sc);
                let (l, lo, hi) = (l?, lo?, hi?);
                functions::lower_between(b.negated, l, lo, hi)
                    .map_err(|err| self.report(diag::function_error(&err, e.span)))
            }
            ExprKind::Call(c) => self.lower_call(c, e.span, sc),
            ExprKind::Member(m) => {
                if let ExprKind::Name(id) = &m.target.kind
                    && sc.qualified.is_some_and(|steps| steps.contains(&id.name))
                    && sc.column(&id.name).is_none()
                {
                    let name = format!("{}.{}", id.name, m.name.name);
                    return match sc.column(&name) {
                        Some(c) => Ok(TypedExpr::new(col(&c.name), c.ty)),
                        None => Err(self.report(diag::unresolved_scalar(sc.op, &name, e.span))),
                    };
                }
                if let ExprKind::Name(id) = &m.target.kind
                    && (id.name == "$left" || id.name == "$right")
                {
                    return Err(self.report(Diagnostic::error(
                        "KS183",
                        format!("{}.<column> is only allowed in join conditions", id.name),
                        e.span,
                    )));
                }
                let target = self.lower_scalar(&m.target, sc)?;
                if target.ty != KqlType::Dynamic {
                    return Err(self.report(Diagnostic::error(
                        "KS107",
                        format!(
                            "A value of type dynamic expected: '{}' is of type {}",
                            m.name.name, target.ty
                        ),
                        m.target.span,
                    )));
                }
                functions::lower_member(target, &m.name.name)
                    .map_err(|err| self.report(diag::function_error(&err, e.span)))
            }
            ExprKind::Index(ix) => {
                let target = self.lower_scalar(&ix.target, sc)?;
                let index = self.lower_scalar(&ix.index, sc)?;
                if target.ty != KqlType::Dynamic {
                    return Err(self.report(Diagnostic::error(
                        "KS107",
                        format!(
                            "A value of type dynamic expected, but the indexed value is of type {}",
                            target.ty
                        ),
                        ix.target.span,
                    )));
                }
                functions::lower_index(target, index).map_err(|err| self.report(diag::function_error(&err, e.span)))
            }
            ExprKind::Pipe(_) => Err(self.report(diag::scalar_expected(e.span))),
            ExprKind::Star => Err(self.report(Diagnostic::error("KS191", "The * syntax is not allowed here.", e.span))),
            ExprKind::Pattern(p) => Err(self.report(Diagnostic::error(
                "KS268",
                format!("Wildcarded names not allowed in this context: '{}'", p.pattern),
                e.span,
            ))),
            // `typeof(long)` as a function argument is the type's name (the library's contract).
            ExprKind::TypeOf(ast::TableSchemaOrType::Type(t)) => {
                let ty = self.type_name(t)?;
                Ok(crate::literal::string(ty.name()))
            }
            ExprKind::TypeOf(ast::TableSchemaOrType::Schema(s)) => Err(self.report(Diagnostic::error(
                "KS108",
                "A scalar type expected in typeof(…)",
                s.span,
            ))),
            ExprKind::Error => Err(Reported),
        }
    }

    /// A name in a scalar context: a column of the row, then a `let` binding.
    fn lower_name(&mut self, id: &ast::Ident, span: kql::Span, sc: &mut Scope<'_>) -> PResult<TypedExpr> {
        if let Some(c) = sc.column(&id.name) {
            return Ok(TypedExpr::new(col(&c.name), c.ty));
        }
        match sc.env.lookup(&id.name) {
            Some(Binding::Scalar(v)) => Ok(v.clone()),
            Some(Binding::Poisoned) => Err(Reported),
            Some(Binding::Tabular(_)) => Err(self.report(diag::scalar_expected(span))),
            Some(Binding::Function(f)) => {
                let f = f.clone();
                let env = sc.env.clone();
                match self.invoke(&f, &[], span, &env, sc.row, None)? {
                    Value::Scalar(v) => Ok(v),
                    Value::Tabular(_) => Err(self.report(diag::scalar_expected(span))),
                }
            }
            None => {
                if self.catalog.table(&id.name).is_some() {
                    return Err(self.report(diag::scalar_expected(span)));
                }
                let d = diag::unresolved_scalar(sc.op, &id.name, id.span);
                let d = match sc
                    .row
                    .and_then(|r| r.iter().find(|c| c.name.eq_ignore_ascii_case(&id.name)))
                {
                    Some(c) => d.with_help(format!("column names are case-sensitive: did you mean '{}'?", c.name)),
                    None => d,
                };
                Err(self.report(d))
            }
        }
    }

    /// Binary operators. A left-deep chain (`a or b or c …`) is flattened and lowered
    /// iteratively so that long generated predicates cannot exhaust the stack. A chain of
    /// one logical operator (`or` only, or `and` only) becomes a balanced tree of it, which
    /// means the same (both are associative, also with nulls) and evaluates its operands in
    /// the same order: DataFusion's analyzer and optimizer compute the type of every node's
    /// operands, so a left-deep chain of n operands costs n² (a generated rule's 36-term
    /// `or` took a fifth of its planning time).
    fn lower_binary_chain(&mut self, e: &ast::Expr, sc: &mut Scope<'_>) -> PResult<TypedExpr> {
        let mut chain: Vec<&ast::BinaryExpr> = Vec::new();
        let mut cur = e;
        while let ExprKind::Binary(b) = &cur.kind {
            chain.push(b);
            cur = &b.left;
        }
        // The leading run of one logical operator: `a or b or c` with `a` any expression.
        let run = chain
            .iter()
            .take_while(|b| matches!(b.op, BinaryOp::Or | BinaryOp::And) && b.op == chain[0].op)
            .count();
        // Two operands are folded too (`h == 'x' or h endswith '.x'`).
        if run >= 1 {
            let first = &chain[run - 1].left;
            let mut operands = vec![self.lower_scalar(first, sc)];
            operands.extend(chain[..run].iter().rev().map(|b| self.lower_scalar(&b.right, sc)));
            let operands: Vec<TypedExpr> = operands.into_iter().collect::<PResult<_>>()?;
            if operands.iter().all(|o| o.ty == KqlType::Bool) {
                // Tests of one value against constants, negated in an `and`: one pass
                // (`functions::ops::fold`).
                let exprs = operands.into_iter().map(|o| o.expr).collect();
                let folded = if chain[0].op == BinaryOp::Or {
                    functions::fold_string_tests(exprs)
                } else {
                    functions::fold_negated_string_tests(exprs)
                };
                let operands = folded.into_iter().map(|e| TypedExpr::new(e, KqlType::Bool)).collect();
                return self.balanced(chain[0].op, operands, e.span);
            }
            // An operand that is not a bool: combined left to right, the error names the
            // first operator that fails.
            let mut operands = operands.into_iter();
            let mut acc = operands.next().ok_or(Reported)?;
            for (b, right) in chain[..run].iter().rev().zip(operands) {
                acc = functions::lower_binary(binary_op_name(b.op), acc, right).map_err(|err| {
                    let span = b.op_span.to(b.left.span).to(b.right.span);
                    self.report(diag::function_error(&err, span))
                })?;
            }
            return Ok(acc);
        }
        let mut acc = self.lower_scalar(cur, sc);
        let mut ok = true;
        for b in chain.into_iter().rev() {
            let right = self.lower_scalar(&b.right, sc);
            match (acc, right) {
                (Ok(l), Ok(r)) => {
                    acc = functions::lower_binary(binary_op_name(b.op), l, r).map_err(|err| {
                        let span = b.op_span.to(b.left.span).to(b.right.span);
                        self.report(diag::function_error(&err, span))
                    });
                    if acc.is_err() {
                        ok = false;
                    }
                }
                _ => {
                    ok = false;
                    acc = Err(Reported);
                }
            }
            if !ok {
                // Keep checking the remaining operands for further errors.
                acc = Err(Reported);
            }
        }
        acc
    }

    /// `operands` combined with `op` as a balanced tree, in order.
    fn balanced(&mut self, op: BinaryOp, mut operands: Vec<TypedExpr>, span: kql::Span) -> PResult<TypedExpr> {
        if operands.len() == 1 {
            return operands.pop().ok_or(Reported);
        }
        let right = operands.split_off(operands.len() / 2);
        let (l, r) = (self.balanced(op, operands, span)?, self.balanced(op, right, span)?);
        functions::lower_binary(binary_op_name(op), l, r).map_err(|err| self.report(diag::function_error(&err, span)))
    }

    /// `x in (…)`, `has_any (…)`: the list may hold scalars, dynamic arrays, or one tabular
    /// expression whose first column gives the values.
    fn lower_in(&mut self, i: &ast::InExpr, span: kql::Span, sc: &mut Scope<'_>) -> PResult<TypedExpr> {
        let left = self.lower_scalar(&i.left, sc);
        let mut items = Vec::with_capacity(i.items.len());
        let mut failed = false;
        for item in &i.items {
            match self.in_item(item, sc) {
                Ok(v) => items.push(v),
                Err(_) => failed = true,
            }
        }
        let left = left?;
        if failed {
            return Err(Reported);
        }
        functions::lower_in(in_op_name(i.op), left, items).map_err(|err| self.report(diag::function_error(&err, span)))
    }

    fn in_item(&mut self, item: &ast::Expr, sc: &mut Scope<'_>) -> PResult<TypedExpr> {
        if self.is_tabular_expr(item, sc) {
            let env = sc.env.clone();
            let t = self.lower_tabular(item, &env)?;
            return self.tabular_to_list(t, item.span);
        }
        self.lower_scalar(item, sc)
    }

    /// Whether an expression denotes a table (a pipeline, a tabular `let`, a table name).
    pub(super) fn is_tabular_expr(&self, e: &ast::Expr, sc: &Scope<'_>) -> bool {
        match &e.kind {
            ExprKind::Pipe(_) => true,
            ExprKind::Paren(inner) => self.is_tabular_expr(inner, sc),
            ExprKind::Name(id) => {
                if sc.column(&id.name).is_some() {
                    return false;
                }
                match sc.env.lookup(&id.name) {
                    Some(Binding::Tabular(_)) => true,
                    Some(Binding::Function(f)) => f.def.params.is_empty() && body_is_tabular(&f.def.body),
                    Some(_) => false,
                    None => self.catalog.table(&id.name).is_some(),
                }
            }
            ExprKind::Call(c) => {
                matches!(c.name.name.as_str(), "materialize" | "table" | "view")
                    || matches!(sc.env.lookup(&c.name.name), Some(Binding::Function(f)) if body_is_tabular(&f.def.body))
            }
            _ => false,
        }
    }

    /// The values of a one-column table as a dynamic array (for `in`, `has_any`). Run now
    /// when we can execute; in validation it is an empty array of the right type.
    pub(super) fn tabular_to_list(&mut self, t: super::Tab, span: kql::Span) -> PResult<TypedExpr> {
        let Some(first) = t.cols.first().cloned() else {
            return Err(self.report(Diagnostic::error(
                "KS113",
                "A tabular value with only one column expected.",
                span,
            )));
        };
        let Some(exec) = self.exec else {
            return Ok(crate::literal::dynamic(&serde_json::Value::Array(Vec::new())));
        };
        let plan = match t.select(std::slice::from_ref(&first.name)) {
            Ok(t) => t.plan,
            Err(e) => return Err(self.internal("a list of values", e, span)),
        };
        let batches = match exec.collect(plan) {
            Ok(b) => b,
            Err(e) => return Err(self.report(Diagnostic::error("QE100", e.to_string(), span))),
        };
        let mut values = Vec::new();
        for b in &batches {
            let arr = b.column(0);
            for row in 0..b.num_rows() {
                match functions::render_json(arr.as_ref(), row, first.ty) {
                    Ok(serde_json::Value::Null) => {}
                    Ok(v) => values.push(v),
                    Err(e) => return Err(self.internal("a list of values", e, span)),
                }
            }
        }
        Ok(crate::literal::dynamic(&serde_json::Value::Array(values)))
    }
}

/// Whether a function body's result is tabular, judged from its syntax.
pub(super) fn body_is_tabular(body: &ast::FunctionBody) -> bool {
    match body.statements.last() {
        Some(ast::Statement::Expr(e)) => expr_is_pipe(e),
        _ => false,
    }
}

fn expr_is_pipe(e: &ast::Expr) -> bool {
    match &e.kind {
        ExprKind::Pipe(_) => true,
        ExprKind::Paren(inner) => expr_is_pipe(inner),
        _ => false,
    }
}
