//! Semantic analysis and lowering of KQL to DataFusion logical plans, in one pass.
//!
//! The [`Planner`] owns the catalog and the query context and turns one AST node into one
//! plan node, the way InfluxDB 3's InfluxQL planner does. Every tabular step carries its KQL
//! schema next to the plan ([`Tab`]); that schema is the source of truth for result types
//! (guid vs string) and for `getschema`. Validation without data is planning against
//! tables without rows; both report the same diagnostics.

mod calls;
mod env;
mod expr;
mod invoke;
mod join;
mod mv;
mod nested;
mod ops;
mod parse;
mod plugins;
mod project;
mod scan;
mod search;
mod sources;
mod summarize;
mod tab;
mod union;
mod window;

pub use tab::{Col, Tab, col};

use crate::catalog::{CatalogTable, TableCatalog};
use crate::diag::{self, PResult, Reported};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::catalog::default_table_source::provider_as_source;
use datafusion::common::{Column, DFSchema, DataFusionError, ScalarValue, TableReference};
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, Projection, cast};
use env::{Binding, Env, UserFn};
use expr::Scope;
use functions::{LowerCtx, TypedExpr};
use kql::Diagnostic;
use kql::Span;
use kql::ast::{self, ExprKind, Statement};
use schema::KqlType;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

/// Runs a plan to completion during planning (`toscalar`, `materialize`, tabular `in`
/// lists). Absent in validation, where those values are typed placeholders.
pub trait Executor {
    fn collect(&self, plan: LogicalPlan) -> Result<Vec<RecordBatch>, DataFusionError>;
    /// A physical expression over `schema` (types coerced as in a plan), for operators
    /// that evaluate row by row (`scan`).
    fn physical_expr(
        &self,
        expr: Expr,
        schema: &datafusion::common::DFSchema,
    ) -> Result<std::sync::Arc<dyn datafusion::physical_expr::PhysicalExpr>, DataFusionError>;
}

/// One result table of a query, planned.
#[derive(Debug, Clone)]
pub struct PlannedResult {
    /// The name of the result (`fork` branch names, `as` names), if any.
    pub name: Option<String>,
    pub plan: LogicalPlan,
    pub columns: Vec<(String, KqlType)>,
}

/// Nesting of user-defined function calls; Kusto does not allow recursion.
const MAX_CALL_DEPTH: u32 = 32;

pub struct Planner<'a> {
    catalog: &'a dyn TableCatalog,
    ctx: LowerCtx,
    exec: Option<&'a dyn Executor>,
    diags: Vec<Diagnostic>,
    /// Suffix of the next generated `ColumnN` name (one counter per query, as Kusto).
    next_column: usize,
    call_depth: u32,
    /// Results of `materialize(…)`, by the span of the call.
    materialized: HashMap<Span, Tab>,
    /// Counter for hidden column names.
    next_hidden: usize,
}

/// An evaluated name or expression: a scalar or a tabular value.
pub enum Value {
    Scalar(TypedExpr),
    Tabular(Tab),
}

impl<'a> Planner<'a> {
    pub fn new(catalog: &'a dyn TableCatalog, ctx: LowerCtx, exec: Option<&'a dyn Executor>) -> Self {
        Planner {
            catalog,
            ctx,
            exec,
            diags: Vec::new(),
            next_column: 1,
            call_depth: 0,
            materialized: HashMap::new(),
            next_hidden: 0,
        }
    }

    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diags
    }

    pub fn into_diagnostics(self) -> Vec<Diagnostic> {
        self.diags
    }

    fn report(&mut self, d: Diagnostic) -> Reported {
        self.diags.push(d);
        Reported
    }

    fn internal(&mut self, what: &str, err: impl std::fmt::Display, span: Span) -> Reported {
        self.report(diag::internal(what, err, span))
    }

    /// A fresh name for an intermediate column that never reaches a result.
    fn hidden(&mut self, what: &str) -> String {
        self.next_hidden += 1;
        format!("__quarry_{what}_{}", self.next_hidden)
    }

    /// The next `ColumnN` name not in `taken`.
    fn default_column_name(&mut self, taken: &dyn Fn(&str) -> bool) -> String {
        loop {
            let name = format!("Column{}", self.next_column);
            self.next_column += 1;
            if !taken(&name) {
                return name;
            }
        }
    }

    /// Plans every statement of a query; returns the result tables in order. Diagnostics
    /// accumulate in the planner: a statement with an error contributes no result.
    pub fn plan_query(&mut self, q: &ast::Query) -> Vec<PlannedResult> {
        let mut env = Env::default();
        let mut results = Vec::new();
        for st in &q.statements {
            match st {
                Statement::Let(l) => env = self.bind_let(l, &env),
                Statement::Expr(e) => {
                    let mut local = env.clone();
                    if let Ok(outs) = self.lower_result(e, &mut local) {
                        results.extend(outs);
                    }
                }
                Statement::QueryParameters(qp) => {
                    for p in &qp.params {
                        let b = self.query_parameter(p, &env);
                        env = env.bind(p.name.name.clone(), b);
                    }
                }
                Statement::Set(s) => {
                    self.diags.push(Diagnostic::warning(
                        "QE002",
                        format!("The request property '{}' is ignored", s.name.name),
                        s.span,
                    ));
                }
                Statement::Pattern(p) => {
                    self.report(diag::unsupported("The 'declare pattern' statement", p.span));
                }
                Statement::Alias(a) => {
                    self.report(diag::unsupported("The 'alias database' statement", a.span));
                }
                Statement::RestrictAccess(r) => {
                    self.report(diag::unsupported("The 'restrict access' statement", r.span));
                }
            }
        }
        results
    }

    fn query_parameter(&mut self, p: &ast::ColumnDecl, env: &Env) -> Binding {
        let Ok(ty) = self.type_name(&p.ty) else {
            return Binding::Poisoned;
        };
        let Some(default) = &p.default else {
            self.report(Diagnostic::error(
                "QE003",
                format!(
                    "The query parameter '{}' has no value: give it a default value",
                    p.name.name
                ),
                p.span,
            ));
            return Binding::Poisoned;
        };
        match self.lower_scalar_const(default, env, "declare query_parameters") {
            Ok(v) => match functions::coerce::convert(v, ty) {
                Ok(v) => Binding::Scalar(self.fold(v)),
                Err(e) => {
                    self.report(diag::function_error(&e, default.span));
                    Binding::Poisoned
                }
            },
            Err(_) => Binding::Poisoned,
        }
    }

    /// `let name = …`
    fn bind_let(&mut self, l: &ast::LetStatement, env: &Env) -> Env {
        let name = l.name.name.clone();
        match &l.value {
            ast::LetValue::Function(def) => {
                let f = UserFn {
                    name: name.clone(),
                    def: def.clone(),
                    env: env.clone(),
                };
                env.bind_with(name, Binding::Function(Rc::new(f)), def.view)
            }
            ast::LetValue::EntityGroup(g) => {
                self.report(diag::unsupported("entity_group", g.span));
                env.bind(name, Binding::Poisoned)
            }
            ast::LetValue::Expr(e) => match self.lower_value(e, env, None) {
                Ok(Value::Scalar(s)) => {
                    let s = self.fold(s);
                    env.bind(name, Binding::Scalar(s))
                }
                Ok(Value::Tabular(t)) => env.bind_with(name, Binding::Tabular(t), false),
                Err(_) => env.bind(name, Binding::Poisoned),
            },
        }
    }

    /// A result statement: one table, or several for `fork`/`facet`.
    fn lower_result(&mut self, e: &ast::Expr, env: &mut Env) -> PResult<Vec<PlannedResult>> {
        if let ExprKind::Pipe(p) = &e.kind
            && let Some(outs) = self.try_multi_result(p, env)?
        {
            return Ok(outs);
        }
        let tab = match self.lower_value(e, env, None)? {
            Value::Tabular(t) => t,
            Value::Scalar(_) => return Err(self.report(diag::tabular_expected(e.span))),
        };
        Ok(vec![finish(None, tab)])
    }

    /// Evaluates a name or expression that may be scalar or tabular (`let` values, function
    /// bodies). `row` is the row scope of the caller when a function is invoked in one.
    fn lower_value(&mut self, e: &ast::Expr, env: &Env, row: Option<&[Col]>) -> PResult<Value> {
        match &e.kind {
            ExprKind::Pipe(p) => {
                let mut local = env.clone();
                Ok(Value::Tabular(self.lower_pipeline(p, None, &mut local)?))
            }
            ExprKind::Paren(inner) => self.lower_value(inner, env, row),
            ExprKind::Name(id) if row.is_none_or(|r| !r.iter().any(|c| c.name == id.name)) => {
                match env.lookup(&id.name) {
                    Some(Binding::Scalar(s)) => Ok(Value::Scalar(s.clone())),
                    Some(Binding::Tabular(t)) => Ok(Value::Tabular(t.clone())),
                    Some(Binding::Function(f)) => {
                        let f = f.clone();
                        self.invoke(&f, &[], e.span, env, row, None)
                    }
                    Some(Binding::Poisoned) => Err(Reported),
                    None => match self.catalog.table(&id.name) {
                        Some(t) => Ok(Value::Tabular(self.scan(&t, id.span)?)),
                        None => Err(self.report(diag::unresolved_table_or_column("", &id.name, id.span))),
                    },
                }
            }
            ExprKind::Call(c) if c.receiver.is_none() => {
                if let Some(Binding::Function(f)) = env.lookup(&c.name.name) {
                    let f = f.clone();
                    return self.invoke(&f, &c.args, e.span, env, row, None);
                }
                if let Some(t) = self.tabular_call(c, e.span, env)? {
                    return Ok(Value::Tabular(t));
                }
                let mut sc = Scope::new(env, row, "");
                Ok(Value::Scalar(self.lower_scalar(e, &mut sc)?))
            }
            _ => {
                let mut sc = Scope::new(env, row, "");
                Ok(Value::Scalar(self.lower_scalar(e, &mut sc)?))
            }
        }
    }

    /// A tabular expression: a table or `let` name, a pipeline, a tabular function call.
    fn lower_tabular(&mut self, e: &ast::Expr, env: &Env) -> PResult<Tab> {
        match &e.kind {
            ExprKind::Name(id) => match env.lookup(&id.name) {
                Some(Binding::Tabular(t)) => Ok(t.clone()),
                Some(Binding::Function(f)) => {
                    let f = f.clone();
                    match self.invoke(&f, &[], e.span, env, None, None)? {
                        Value::Tabular(t) => Ok(t),
                        Value::Scalar(_) => Err(self.report(diag::tabular_expected(e.span))),
                    }
                }
                Some(Binding::Scalar(_)) => Err(self.report(diag::tabular_expected(e.span))),
                Some(Binding::Poisoned) => Err(Reported),
                None => match self.catalog.table(&id.name) {
                    Some(t) => self.scan(&t, id.span),
                    None => Err(self.report(diag::unresolved_table_or_column("", &id.name, id.span))),
                },
            },
            _ => match self.lower_value(e, env, None)? {
                Value::Tabular(t) => Ok(t),
                Value::Scalar(_) => Err(self.report(diag::tabular_expected(e.span))),
            },
        }
    }

    /// Calls that produce tables: `materialize(T)`, `table('T')`, `view`s. `None` when the
    /// call is not one of them.
    fn tabular_call(&mut self, c: &ast::Call, span: Span, env: &Env) -> PResult<Option<Tab>> {
        match c.name.name.as_str() {
            "materialize" => {
                let [arg] = c.args.as_slice() else {
                    return Err(self.report(Diagnostic::error(
                        "KS121",
                        "The function 'materialize' expects 1 argument.",
                        c.args_span,
                    )));
                };
                if let Some(t) = self.materialized.get(&span) {
                    return Ok(Some(t.clone()));
                }
                let t = self.lower_tabular(&arg.value, env)?;
                let t = self.materialize(t, span)?;
                self.materialized.insert(span, t.clone());
                Ok(Some(t))
            }
            "table" | "view" => {
                let [arg] = c.args.as_slice() else {
                    return Err(self.report(Diagnostic::error(
                        "KS121",
                        format!("The function '{}' expects 1 argument.", c.name.name),
                        c.args_span,
                    )));
                };
                let v = self.lower_scalar_const(&arg.value, env, "")?;
                let Some(ScalarValue::Utf8(Some(name))) = self.fold(v).as_literal().cloned() else {
                    return Err(self.report(diag::constant_expected(arg.value.span)));
                };
                if let Some(Binding::Tabular(t)) = env.lookup(&name) {
                    return Ok(Some(t.clone()));
                }
                match self.catalog.table(&name) {
                    Some(t) => Ok(Some(self.scan(&t, arg.value.span)?)),
                    None => Err(self.report(diag::unresolved_table("table", &name, arg.value.span))),
                }
            }
            "cluster" | "database" | "external_table" | "materialized_view" | "stored_query_result" => Err(self
                .report(diag::unsupported(
                    &format!("The function '{}()'", c.name.name),
                    c.name.span,
                ))),
            _ => Ok(None),
        }
    }

    /// Executes a tabular value once and replaces it by its rows (`materialize`). In
    /// validation (no executor) the plan is kept as it is.
    fn materialize(&mut self, t: Tab, span: Span) -> PResult<Tab> {
        let Some(exec) = self.exec else { return Ok(t) };
        let batches = match exec.collect(t.plan.clone()) {
            Ok(b) => b,
            Err(e) => return Err(self.report(Diagnostic::error("QE100", format!("materialize(): {e}"), span))),
        };
        let schema = t.plan.schema().inner().clone();
        let mem = match datafusion::catalog::MemTable::try_new(schema, vec![batches]) {
            Ok(m) => m,
            Err(e) => return Err(self.internal("materialize()", e, span)),
        };
        let name = self.hidden("materialized");
        let plan = LogicalPlanBuilder::scan(TableReference::bare(name), provider_as_source(Arc::new(mem)), None)
            .and_then(|b| b.build());
        match plan {
            Ok(plan) => Ok(Tab { plan, ..t }),
            Err(e) => Err(self.internal("materialize()", e, span)),
        }
    }

    /// Reads a catalog table, presenting its columns with the Arrow types of their KQL
    /// types (views of strings and binaries are kept as they are; missing columns are nulls).
    fn scan(&mut self, t: &CatalogTable, span: Span) -> PResult<Tab> {
        let source = provider_as_source(t.provider.clone());
        let built =
            LogicalPlanBuilder::scan(TableReference::bare(t.schema.name.clone()), source, None).and_then(|b| b.build());
        let plan = match built {
            Ok(p) => p,
            Err(e) => return Err(self.internal("a table scan", e, span)),
        };
        // The projection is built directly rather than through `LogicalPlanBuilder::project`,
        // which qualifies each column by searching the scan's schema: with tables of 60 to
        // 90 columns that search was a tenth of planning a hunting rule.
        let provided = t.provider.schema();
        let table = TableReference::bare(t.schema.name.clone());
        let mut exprs = Vec::with_capacity(t.schema.columns.len());
        let mut fields = Vec::with_capacity(t.schema.columns.len());
        let mut cols = Vec::with_capacity(t.schema.columns.len());
        for c in &t.schema.columns {
            let column = || Expr::Column(Column::new(Some(table.clone()), c.name.clone()));
            let (e, field) = match provided.field_with_name(&c.name) {
                Ok(f) if arrow_compatible(c.ty, f.data_type()) => (column(), f.clone().with_name(c.name.clone())),
                Ok(f) => (
                    cast(column(), c.ty.to_arrow()),
                    Field::new(c.name.clone(), c.ty.to_arrow(), f.is_nullable()),
                ),
                Err(_) => (
                    Expr::Literal(crate::literal::null_of(c.ty), None),
                    Field::new(c.name.clone(), c.ty.to_arrow(), true),
                ),
            };
            exprs.push(e.alias(c.name.clone()));
            fields.push(Arc::new(field));
            cols.push(Col::new(c.name.clone(), c.ty));
        }
        let projected = DFSchema::from_unqualified_fields(fields.into(), provided.metadata().clone())
            .and_then(|schema| Projection::try_new_with_schema(exprs, Arc::new(plan), Arc::new(schema)));
        match projected {
            Ok(p) => Ok(Tab::new(LogicalPlan::Projection(p), cols)),
            Err(e) => Err(self.internal("a table scan", e, span)),
        }
    }

    /// A KQL type name (`long`, `int64`, `string`, …).
    fn type_name(&mut self, t: &ast::TypeName) -> PResult<KqlType> {
        t.name.parse::<KqlType>().map_err(|_| {
            self.report(Diagnostic::error(
                "KS160",
                format!("The name '{}' is not a valid type name that can be used here.", t.name),
                t.span,
            ))
        })
    }

    /// A scalar expression without row scope (constants, `let` values).
    fn lower_scalar_const(&mut self, e: &ast::Expr, env: &Env, op: &'static str) -> PResult<TypedExpr> {
        let mut sc = Scope::new(env, None, op);
        self.lower_scalar(e, &mut sc)
    }

    /// Folds constant sub-expressions (so that `let n = 5 * 2;` is a literal).
    fn fold(&self, e: TypedExpr) -> TypedExpr {
        use datafusion::logical_expr::simplify::SimplifyContext;
        use datafusion::optimizer::simplify_expressions::ExprSimplifier;
        if e.as_literal().is_some() || contains_columns(&e.expr) {
            return e;
        }
        let simplifier = ExprSimplifier::new(SimplifyContext::default());
        match simplifier.simplify(e.expr.clone()) {
            Ok(folded @ Expr::Literal(..)) => TypedExpr::new(folded, e.ty),
            _ => e,
        }
    }

    /// The value of a constant scalar expression, evaluated now (`take n`, `range` bounds…).
    fn const_value(&mut self, e: &ast::Expr, env: &Env, op: &'static str) -> PResult<(ScalarValue, KqlType)> {
        let v = self.lower_scalar_const(e, env, op)?;
        self.eval_const(v, e.span)
    }

    fn eval_const(&mut self, v: TypedExpr, span: Span) -> PResult<(ScalarValue, KqlType)> {
        let v = self.fold(v);
        if let Some(s) = v.as_literal() {
            return Ok((s.clone(), v.ty));
        }
        // Not foldable by the simplifier (a scalar subquery): run it when we can.
        if let Some(exec) = self.exec {
            let plan = LogicalPlanBuilder::empty(true)
                .project(vec![v.expr.clone().alias("v")])
                .and_then(|b| b.build());
            let plan = match plan {
                Ok(p) => p,
                Err(e) => return Err(self.internal("a constant", e, span)),
            };
            match exec.collect(plan) {
                Ok(batches) => {
                    for b in batches {
                        if b.num_rows() > 0 {
                            return match ScalarValue::try_from_array(b.column(0), 0) {
                                Ok(s) => Ok((s, v.ty)),
                                Err(e) => Err(self.internal("a constant", e, span)),
                            };
                        }
                    }
                    return Ok((crate::literal::null_of(v.ty), v.ty));
                }
                Err(e) => return Err(self.report(Diagnostic::error("QE100", e.to_string(), span))),
            }
        }
        if contains_subquery(&v.expr) {
            // Validation without data: the value is unknown but typed.
            return Ok((crate::literal::null_of(v.ty), v.ty));
        }
        Err(self.report(diag::constant_expected(span)))
    }
}

/// The result of a result statement.
fn finish(name: Option<String>, t: Tab) -> PlannedResult {
    PlannedResult {
        name,
        plan: t.plan,
        columns: t.cols.into_iter().map(|c| (c.name, c.ty)).collect(),
    }
}

fn statement_span(st: &Statement) -> Span {
    match st {
        Statement::Let(l) => l.span,
        Statement::QueryParameters(q) => q.span,
        Statement::Pattern(p) => p.span,
        Statement::Set(s) => s.span,
        Statement::Alias(a) => a.span,
        Statement::RestrictAccess(r) => r.span,
        Statement::Expr(e) => e.span,
    }
}

/// True when the Arrow type is a physical form of the KQL type that our functions accept.
pub fn arrow_compatible(ty: KqlType, dt: &DataType) -> bool {
    match ty {
        KqlType::String | KqlType::Guid => matches!(dt, DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8),
        KqlType::Dynamic => matches!(dt, DataType::Binary | DataType::BinaryView | DataType::LargeBinary),
        _ => *dt == ty.to_arrow(),
    }
}

pub(super) fn contains_columns(e: &Expr) -> bool {
    let mut found = false;
    let _ = e.apply(|n| {
        if matches!(n, Expr::Column(_) | Expr::OuterReferenceColumn(..)) {
            found = true;
            return Ok(datafusion::common::tree_node::TreeNodeRecursion::Stop);
        }
        Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
    });
    found
}

fn contains_subquery(e: &Expr) -> bool {
    let mut found = false;
    let _ = e.apply(|n| {
        if matches!(n, Expr::ScalarSubquery(_) | Expr::InSubquery(_) | Expr::Exists(_)) {
            found = true;
            return Ok(datafusion::common::tree_node::TreeNodeRecursion::Stop);
        }
        Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
    });
    found
}

use datafusion::common::tree_node::TreeNode;
