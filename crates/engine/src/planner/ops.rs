//! The operators of a pipeline: dispatch, and the simple row operators (where, take, sort,
//! top, serialize, as, sample, invoke, render).

use super::env::{Binding, Env};
use super::expr::Scope;
use super::tab::{OrderKey, Tab, col};
use super::window::WindowCollector;
use super::{PlannedResult, Planner, Value, finish};
use crate::diag::{self, PResult, Reported};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Expr, LogicalPlanBuilder, SortExpr};
use functions::TypedExpr;
use kql::ast::{self, Operator};
use kql::{Diagnostic, Span};
use schema::KqlType;

/// The span of an operator (its keyword to its last token).
pub fn operator_span(op: &Operator) -> Span {
    use Operator::*;
    match op {
        As(o) => o.span,
        Consume(o) => o.span,
        Count(o) => o.span,
        Datatable(o) => o.span,
        Distinct(o) => o.span,
        Evaluate(o) => o.span,
        Extend(o) => o.span,
        Externaldata(o) => o.span,
        Facet(o) => o.span,
        Find(o) => o.span,
        Fork(o) => o.span,
        Getschema(o) => o.span,
        GraphMarkComponents(o) => o.span,
        GraphMatch(o) => o.span,
        GraphShortestPaths(o) => o.span,
        GraphToTable(o) => o.span,
        InlineExternalTable(o) => o.span,
        Invoke(o) => o.span,
        Join(o) => o.span,
        Lookup(o) => o.span,
        MacroExpand(o) => o.span,
        MakeGraph(o) => o.span,
        MakeSeries(o) => o.span,
        MvApply(o) => o.span,
        MvExpand(o) => o.span,
        Parse(o) => o.span,
        ParseKv(o) => o.span,
        Partition(o) => o.span,
        Print(o) => o.span,
        Project(o) => o.span,
        ProjectAway(o) => o.span,
        ProjectByNames(o) => o.span,
        ProjectKeep(o) => o.span,
        ProjectRename(o) => o.span,
        ProjectReorder(o) => o.span,
        Range(o) => o.span,
        Reduce(o) => o.span,
        Render(o) => o.span,
        Sample(o) => o.span,
        SampleDistinct(o) => o.span,
        Scan(o) => o.span,
        Search(o) => o.span,
        Serialize(o) => o.span,
        Sort(o) => o.span,
        Summarize(o) => o.span,
        Take(o) => o.span,
        Top(o) => o.span,
        TopHitters(o) => o.span,
        TopNested(o) => o.span,
        Union(o) => o.span,
        Where(o) => o.span,
    }
}

/// Operators whose output has their input's columns.
fn keeps_schema(op: &Operator) -> bool {
    matches!(
        op,
        Operator::Where(_)
            | Operator::Sort(_)
            | Operator::Take(_)
            | Operator::Top(_)
            | Operator::Sample(_)
            | Operator::Serialize(_)
            | Operator::Render(_)
            | Operator::As(_)
    )
}

/// The operator's name as Kusto writes it, for messages.
pub fn operator_name(op: &Operator) -> &'static str {
    use Operator::*;
    match op {
        As(_) => "as",
        Consume(_) => "consume",
        Count(_) => "count",
        Datatable(_) => "datatable",
        Distinct(_) => "distinct",
        Evaluate(_) => "evaluate",
        Extend(_) => "extend",
        Externaldata(_) => "externaldata",
        Facet(_) => "facet",
        Find(_) => "find",
        Fork(_) => "fork",
        Getschema(_) => "getschema",
        GraphMarkComponents(_) => "graph-mark-components",
        GraphMatch(_) => "graph-match",
        GraphShortestPaths(_) => "graph-shortest-paths",
        GraphToTable(_) => "graph-to-table",
        InlineExternalTable(_) => "inline_external_table",
        Invoke(_) => "invoke",
        Join(_) => "join",
        Lookup(_) => "lookup",
        MacroExpand(_) => "macro-expand",
        MakeGraph(_) => "make-graph",
        MakeSeries(_) => "make-series",
        MvApply(_) => "mv-apply",
        MvExpand(_) => "mv-expand",
        Parse(p) if p.keyword == ast::ParseKeyword::ParseWhere => "parse-where",
        Parse(_) => "parse",
        ParseKv(_) => "parse-kv",
        Partition(_) => "partition",
        Print(_) => "print",
        Project(_) => "project",
        ProjectAway(_) => "project-away",
        ProjectByNames(_) => "project-by-names",
        ProjectKeep(_) => "project-keep",
        ProjectRename(_) => "project-rename",
        ProjectReorder(_) => "project-reorder",
        Range(_) => "range",
        Reduce(_) => "reduce",
        Render(_) => "render",
        Sample(_) => "sample",
        SampleDistinct(_) => "sample-distinct",
        Scan(_) => "scan",
        Search(_) => "search",
        Serialize(_) => "serialize",
        Sort(s) if s.keyword == ast::SortKeyword::Order => "order",
        Sort(_) => "sort",
        Summarize(_) => "summarize",
        Take(t) if t.keyword == ast::TakeKeyword::Limit => "limit",
        Take(_) => "take",
        Top(_) => "top",
        TopHitters(_) => "top-hitters",
        TopNested(_) => "top-nested",
        Union(_) => "union",
        Where(w) if w.keyword == ast::WhereKeyword::Filter => "filter",
        Where(_) => "where",
    }
}

impl Planner<'_> {
    /// `input | op | op …`
    pub(super) fn lower_pipeline(&mut self, p: &ast::Pipeline, input: Option<Tab>, env: &mut Env) -> PResult<Tab> {
        let mut cur = match &p.input {
            Some(e) => Some(self.lower_tabular(e, env)?),
            None => input,
        };
        let mut failed = false;
        for (i, op) in p.operators.iter().enumerate() {
            // `T | union …`: the first leg is named after `T`.
            if i == 0
                && let (
                    Operator::Union(u),
                    Some(ast::Expr {
                        kind: ast::ExprKind::Name(id),
                        ..
                    }),
                    Some(t),
                ) = (op, &p.input, &cur)
            {
                cur = Some(self.plan_union_from(u, Some((id.name.clone(), t.clone())), env)?);
                continue;
            }
            if i == 0
                && let (
                    Operator::Search(s),
                    Some(ast::Expr {
                        kind: ast::ExprKind::Name(id),
                        ..
                    }),
                    Some(t),
                ) = (op, &p.input, &cur)
            {
                cur = Some(self.plan_search(s, Some((id.name.clone(), t.clone())), env)?);
                continue;
            }
            match self.apply_operator(op, cur.clone(), env) {
                Ok(t) => cur = Some(t),
                // An operator that keeps its input's columns: check the rest of the pipeline
                // against them, to report its errors too.
                Err(_) if cur.is_some() && keeps_schema(op) => failed = true,
                Err(e) => return Err(e),
            }
        }
        match cur {
            Some(_) if failed => Err(Reported),
            Some(t) => Ok(t),
            None => Err(self.report(diag::tabular_expected(p.span))),
        }
    }

    /// A result statement ending in `fork`/`facet`, which produce several tables.
    pub(super) fn try_multi_result(&mut self, p: &ast::Pipeline, env: &mut Env) -> PResult<Option<Vec<PlannedResult>>> {
        let Some((last, init)) = p.operators.split_last() else {
            return Ok(None);
        };
        if !matches!(last, Operator::Fork(_) | Operator::Facet(_)) {
            return Ok(None);
        }
        let mut cur = match &p.input {
            Some(e) => Some(self.lower_tabular(e, env)?),
            None => None,
        };
        for op in init {
            cur = Some(self.apply_operator(op, cur, env)?);
        }
        let Some(input) = cur else {
            return Err(self.report(diag::not_first_operator(operator_span(last))));
        };
        let mut out = Vec::new();
        match last {
            Operator::Fork(f) => {
                let mut failed = false;
                for (i, b) in f.branches.iter().enumerate() {
                    let mut local = env.clone();
                    match self.lower_pipeline(&b.query, Some(input.clone()), &mut local) {
                        Ok(t) => {
                            let name = b
                                .name
                                .as_ref()
                                .map(|n| n.name.clone())
                                .unwrap_or_else(|| format!("GenericResult{i}"));
                            out.push(finish(Some(name), t));
                        }
                        Err(_) => failed = true,
                    }
                }
                if failed {
                    return Err(Reported);
                }
            }
            Operator::Facet(f) => {
                for c in &f.columns {
                    let mut t = input.clone();
                    if !t.has(&c.name) {
                        return Err(self.report(diag::unresolved_column("facet", &c.name, c.span)));
                    }
                    let name = c.name.clone();
                    t = self.summarize_count_by(t, &name, f.span)?;
                    out.push(finish(Some(name), t));
                }
                if let Some(w) = &f.with {
                    let mut local = env.clone();
                    let t = self.lower_pipeline(w, Some(input), &mut local)?;
                    out.push(finish(Some("facet".into()), t));
                }
            }
            _ => {}
        }
        Ok(Some(out))
    }

    pub(super) fn apply_operator(&mut self, op: &Operator, input: Option<Tab>, env: &mut Env) -> PResult<Tab> {
        let span = operator_span(op);
        let name = operator_name(op);
        // Sources take no input.
        match op {
            Operator::Print(p) => return self.with_no_input(input, span, |s| s.plan_print(p, env)),
            Operator::Range(r) => return self.with_no_input(input, span, |s| s.plan_range(r, env)),
            Operator::Datatable(d) => return self.with_no_input(input, span, |s| s.plan_datatable(d, env)),
            Operator::Union(u) => return self.plan_union(u, input, env),
            Operator::Search(s) => return self.plan_search(s, input.map(|t| ("union_arg0".to_string(), t)), env),
            Operator::Externaldata(_)
            | Operator::InlineExternalTable(_)
            | Operator::Find(_)
            | Operator::MacroExpand(_)
            | Operator::MakeGraph(_)
            | Operator::GraphMatch(_)
            | Operator::GraphShortestPaths(_)
            | Operator::GraphToTable(_)
            | Operator::GraphMarkComponents(_) => {
                return Err(self.report(diag::unsupported(&format!("The '{name}' operator"), span)));
            }
            _ => {}
        }
        let Some(t) = input else {
            if let Operator::Evaluate(e) = op {
                return self.plan_evaluate(e, None, env);
            }
            return Err(self.report(diag::not_first_operator(span)));
        };
        match op {
            Operator::Where(w) => self.plan_where(t, &w.predicate, env, "where"),
            Operator::Extend(e) => self.plan_extend(t, &e.items, env, span),
            Operator::Project(p) => self.plan_project(t, &p.items, env, span),
            Operator::ProjectAway(p) => self.plan_project_away(t, &p.columns, span),
            Operator::ProjectKeep(p) => self.plan_project_keep(t, &p.columns, span),
            Operator::ProjectRename(p) => self.plan_project_rename(t, &p.items, span),
            Operator::ProjectReorder(p) => self.plan_project_reorder(t, &p.items, span),
            Operator::ProjectByNames(p) => self.plan_project_by_names(t, &p.columns, env, span),
            Operator::Summarize(s) => self.plan_summarize(t, s, env),
            Operator::Count(c) => self.plan_count(t, c.span),
            Operator::Distinct(d) => self.plan_distinct(t, &d.columns, env, span),
            Operator::Take(tk) => self.plan_take(t, &tk.count, env, span),
            Operator::Sort(s) => self.plan_sort(t, &s.keys, None, env, "sort"),
            Operator::Top(top) => {
                let n = self.const_count(&top.count, env, "top")?;
                self.plan_sort(t, &top.keys, Some(n), env, "top")
            }
            Operator::Join(j) => self.plan_join(t, j, env),
            Operator::Lookup(l) => self.plan_lookup(t, l, env),
            Operator::MvExpand(m) => self.plan_mv_expand(t, m, env),
            Operator::MvApply(m) => self.plan_mv_apply(t, m, env),
            Operator::Parse(p) => self.plan_parse(t, p, env),
            Operator::ParseKv(p) => self.plan_parse_kv(t, p, env),
            Operator::Evaluate(e) => self.plan_evaluate(e, Some(t), env),
            Operator::Serialize(s) => {
                let t = Tab { serialized: true, ..t };
                if s.items.is_empty() {
                    Ok(t)
                } else {
                    self.plan_extend(t, &s.items, env, span)
                }
            }
            Operator::As(a) => {
                *env = env.bind(a.name.name.clone(), Binding::Tabular(t.clone()));
                Ok(t)
            }
            Operator::Getschema(g) => self.plan_getschema(&t, g.span),
            Operator::Render(_) => Ok(t),
            Operator::Invoke(i) => self.plan_invoke(t, i, env),
            Operator::Sample(s) => self.plan_sample(t, &s.count, env, span),
            Operator::SampleDistinct(s) => self.plan_sample_distinct(t, s, env),
            Operator::TopNested(tn) => self.plan_top_nested(t, tn, env),
            Operator::TopHitters(th) => self.plan_top_hitters(t, th, env),
            Operator::MakeSeries(ms) => self.plan_make_series(t, ms, env),
            Operator::Partition(p) => self.plan_partition(t, p, env),
            Operator::Fork(_) | Operator::Facet(_) => Err(self.report(Diagnostic::error(
                "QE005",
                format!("The '{name}' operator must be the last operator of a result statement"),
                span,
            ))),
            Operator::Scan(s) => self.plan_scan(t, s, env),
            Operator::Reduce(_) | Operator::Consume(_) => {
                Err(self.report(diag::unsupported(&format!("The '{name}' operator"), span)))
            }
            // Sources and unsupported operators were handled above.
            _ => Err(self.report(diag::unsupported(&format!("The '{name}' operator"), span))),
        }
    }

    fn with_no_input(
        &mut self,
        input: Option<Tab>,
        span: Span,
        f: impl FnOnce(&mut Self) -> PResult<Tab>,
    ) -> PResult<Tab> {
        if input.is_some() {
            return Err(self.report(diag::must_be_first_operator(span)));
        }
        f(self)
    }

    /// A count from a constant expression (`take n`, `top n`).
    pub(super) fn const_count(&mut self, e: &ast::Expr, env: &Env, op: &'static str) -> PResult<usize> {
        let (v, _) = self.const_value(e, env, op)?;
        let n = match v {
            ScalarValue::Int64(Some(n)) => n,
            ScalarValue::Int32(Some(n)) => i64::from(n),
            ScalarValue::Float64(Some(f)) if f.is_finite() => f as i64,
            ScalarValue::Int64(None) | ScalarValue::Int32(None) => 0,
            _ => return Err(self.report(diag::expected_type("long", e.span))),
        };
        Ok(usize::try_from(n.max(0)).unwrap_or(usize::MAX))
    }

    /// `where predicate` (also used by `parse-where` and `mv-apply`).
    pub(super) fn plan_where(&mut self, t: Tab, pred: &ast::Expr, env: &Env, op: &'static str) -> PResult<Tab> {
        let mut windows = WindowCollector::new(t.order_exprs());
        let p = {
            let mut sc = Scope::new(env, Some(&t.cols), op);
            if t.serialized {
                sc.windows = Some(&mut windows);
            }
            self.lower_scalar(pred, &mut sc)?
        };
        let p = self.predicate(p, pred.span)?;
        if windows.is_empty() {
            return match LogicalPlanBuilder::from(t.plan.clone())
                .filter(p.expr)
                .and_then(|b| b.build())
            {
                Ok(plan) => Ok(t.with_plan(plan)),
                Err(e) => Err(self.internal(op, e, pred.span)),
            };
        }
        let cols = t.cols.clone();
        let names: Vec<String> = cols.iter().map(|c| c.name.clone()).collect();
        let result = windows.apply(t).and_then(|t| {
            let plan = LogicalPlanBuilder::from(t.plan.clone()).filter(p.expr)?.build()?;
            t.with_plan(plan).select(&names)
        });
        result.map_err(|e| self.internal(op, e, pred.span))
    }

    /// A predicate must be a bool (a dynamic value is converted as `tobool` does).
    pub(super) fn predicate(&mut self, p: TypedExpr, span: Span) -> PResult<TypedExpr> {
        match p.ty {
            KqlType::Bool => Ok(p),
            KqlType::Dynamic => {
                functions::coerce::convert(p, KqlType::Bool).map_err(|e| self.report(diag::function_error(&e, span)))
            }
            _ => Err(self.report(diag::expected_type("bool", span))),
        }
    }

    fn plan_take(&mut self, t: Tab, count: &ast::Expr, env: &Env, span: Span) -> PResult<Tab> {
        let n = self.const_count(count, env, "take")?;
        match LogicalPlanBuilder::from(t.plan.clone())
            .limit(0, Some(n))
            .and_then(|b| b.build())
        {
            Ok(plan) => Ok(t.with_plan(plan)),
            Err(e) => Err(self.internal("take", e, span)),
        }
    }

    /// `sort by` / `top n by`: Kusto sorts descending by default, with nulls last when
    /// descending and first when ascending.
    pub(super) fn plan_sort(
        &mut self,
        t: Tab,
        keys: &[ast::SortKey],
        limit: Option<usize>,
        env: &Env,
        op: &'static str,
    ) -> PResult<Tab> {
        let mut order: Vec<OrderKey> = Vec::with_capacity(keys.len());
        let mut failed = false;
        for k in keys {
            let mut sc = Scope::new(env, Some(&t.cols), op);
            let v = match self.lower_scalar(&k.expr, &mut sc) {
                Ok(v) => v,
                Err(_) => {
                    failed = true;
                    continue;
                }
            };
            let asc = matches!(k.order, Some(ast::SortOrder::Asc));
            let nulls_first = match k.nulls {
                Some(ast::NullsOrder::First) => true,
                Some(ast::NullsOrder::Last) => false,
                None => asc,
            };
            // Kusto places NaN next to the nulls: `null, NaN, -inf … +inf` with nulls first,
            // `… -inf, NaN, null` with nulls last.
            if v.ty == KqlType::Real {
                let nan = datafusion::functions::math::expr_fn::isnan(v.expr.clone());
                order.push(OrderKey {
                    expr: nan,
                    asc: !nulls_first,
                    nulls_first,
                });
            }
            order.push(OrderKey {
                expr: v.expr,
                asc,
                nulls_first,
            });
        }
        if failed {
            return Err(Reported);
        }
        let sorts: Vec<SortExpr> = order
            .iter()
            .map(|k| SortExpr::new(k.expr.clone(), k.asc, k.nulls_first))
            .collect();
        let span = keys.first().map(|k| k.span).unwrap_or_default();
        let plan = LogicalPlanBuilder::from(t.plan.clone())
            .sort(sorts)
            .and_then(|b| b.limit(0, limit))
            .and_then(|b| b.build());
        match plan {
            Ok(plan) => Ok(Tab {
                plan,
                cols: t.cols,
                order,
                serialized: true,
            }),
            Err(e) => Err(self.internal(op, e, span)),
        }
    }

    /// `sample n`: n rows chosen at random.
    fn plan_sample(&mut self, t: Tab, count: &ast::Expr, env: &Env, span: Span) -> PResult<Tab> {
        let n = self.const_count(count, env, "sample")?;
        let random = datafusion::functions::math::expr_fn::random();
        let plan = LogicalPlanBuilder::from(t.plan.clone())
            .sort(vec![SortExpr::new(random, true, false)])
            .and_then(|b| b.limit(0, Some(n)))
            .and_then(|b| b.build());
        match plan {
            Ok(plan) => Ok(Tab {
                plan,
                order: Vec::new(),
                ..t
            }),
            Err(e) => Err(self.internal("sample", e, span)),
        }
    }

    /// `sample-distinct n of column`
    fn plan_sample_distinct(&mut self, t: Tab, s: &ast::SampleDistinctOp, env: &Env) -> PResult<Tab> {
        let n = self.const_count(&s.count, env, "sample-distinct")?;
        let t = self.plan_distinct(t, std::slice::from_ref(&s.of), env, s.span)?;
        let random = datafusion::functions::math::expr_fn::random();
        let plan = LogicalPlanBuilder::from(t.plan.clone())
            .sort(vec![SortExpr::new(random, true, false)])
            .and_then(|b| b.limit(0, Some(n)))
            .and_then(|b| b.build());
        match plan {
            Ok(plan) => Ok(t.with_plan(plan)),
            Err(e) => Err(self.internal("sample-distinct", e, s.span)),
        }
    }

    /// `T | invoke f(args)`: `T` is the function's first tabular argument.
    fn plan_invoke(&mut self, t: Tab, i: &ast::InvokeOp, env: &Env) -> PResult<Tab> {
        let name = &i.function.name;
        let Some(Binding::Function(f)) = env.lookup(&name.name) else {
            return Err(self.report(Diagnostic::error(
                "KS211",
                format!("The name '{}' does not refer to any known function.", name.name),
                name.span,
            )));
        };
        let f = f.clone();
        match self.invoke(&f, &i.function.args, i.span, env, None, Some(t))? {
            Value::Tabular(t) => Ok(t),
            Value::Scalar(_) => Err(self.report(diag::tabular_expected(i.span))),
        }
    }

    /// `partition by col ( subquery )`: the subquery runs once per value of the column and
    /// the results are unioned.
    fn plan_partition(&mut self, t: Tab, p: &ast::PartitionOp, env: &Env) -> PResult<Tab> {
        let Some(key) = t.column(&p.by.name).cloned() else {
            return Err(self.report(diag::unresolved_column("partition", &p.by.name, p.by.span)));
        };
        let values = match self.exec {
            Some(exec) => {
                let distinct = t
                    .clone()
                    .select(std::slice::from_ref(&key.name))
                    .and_then(|d| LogicalPlanBuilder::from(d.plan).distinct()?.build());
                let plan = match distinct {
                    Ok(p) => p,
                    Err(e) => return Err(self.internal("partition", e, p.span)),
                };
                let batches = match exec.collect(plan) {
                    Ok(b) => b,
                    Err(e) => return Err(self.report(Diagnostic::error("QE100", e.to_string(), p.span))),
                };
                let mut values = Vec::new();
                for b in &batches {
                    for row in 0..b.num_rows() {
                        match ScalarValue::try_from_array(b.column(0), row) {
                            Ok(v) => values.push(v),
                            Err(e) => return Err(self.internal("partition", e, p.span)),
                        }
                    }
                }
                Some(values)
            }
            None => None,
        };
        const MAX_PARTITIONS: usize = 1024;
        let Some(values) = values else {
            // Validation: the subquery's schema over the whole input.
            let mut local = env.clone();
            return self.lower_pipeline(&p.body, Some(t), &mut local);
        };
        if values.len() > MAX_PARTITIONS {
            return Err(self.report(Diagnostic::error(
                "QE006",
                format!(
                    "partition: the column '{}' has {} values; at most {MAX_PARTITIONS} are supported",
                    key.name,
                    values.len()
                ),
                p.by.span,
            )));
        }
        let mut parts = Vec::with_capacity(values.len());
        for v in values {
            let filter = if v.is_null() {
                col(&key.name).is_null()
            } else {
                col(&key.name).eq(Expr::Literal(v, None))
            };
            let sub = match LogicalPlanBuilder::from(t.plan.clone())
                .filter(filter)
                .and_then(|b| b.build())
            {
                Ok(plan) => t.clone().with_plan(plan),
                Err(e) => return Err(self.internal("partition", e, p.span)),
            };
            let mut local = env.clone();
            parts.push(self.lower_pipeline(&p.body, Some(sub), &mut local)?);
        }
        if parts.is_empty() {
            let mut local = env.clone();
            let shape = self.lower_pipeline(&p.body, Some(t), &mut local)?;
            return self.empty_like(shape, p.span);
        }
        self.union_tabs(parts, super::union::UnionKind::Outer, p.span)
    }
}
