//! A read-only walk over the AST.
//!
//! Consumers (rule validation, the engine, the web highlighter) each need "every expression
//! in this query" or "every tabular source": a [`Visitor`] overrides the hooks it cares
//! about and calls the matching `walk_*` function to keep descending. The walk visits
//! children in source order and reaches every expression, pipeline and statement the tree
//! holds, including those inside operator parameters, `with (…)` properties, function
//! bodies, subqueries and `dynamic(…)` scalars.

use crate::ast::*;

/// Hooks called during a walk. Each default implementation descends into the node's
/// children; an override that still wants the children must call the `walk_*` function.
pub trait Visitor {
    fn visit_statement(&mut self, statement: &Statement) {
        walk_statement(self, statement);
    }
    fn visit_expr(&mut self, expr: &Expr) {
        walk_expr(self, expr);
    }
    fn visit_pipeline(&mut self, pipeline: &Pipeline) {
        walk_pipeline(self, pipeline);
    }
    fn visit_operator(&mut self, operator: &Operator) {
        walk_operator(self, operator);
    }
    fn visit_function(&mut self, function: &FunctionDef) {
        walk_function(self, function);
    }
}

pub fn walk_query<V: Visitor + ?Sized>(v: &mut V, query: &Query) {
    for s in &query.statements {
        v.visit_statement(s);
    }
}

pub fn walk_statement<V: Visitor + ?Sized>(v: &mut V, statement: &Statement) {
    match statement {
        Statement::Let(l) => match &l.value {
            LetValue::Expr(e) => v.visit_expr(e),
            LetValue::Function(f) => v.visit_function(f),
            LetValue::EntityGroup(g) => exprs(v, &g.entities),
        },
        Statement::QueryParameters(q) => column_decls(v, &q.params),
        Statement::Pattern(p) => {
            if let Some(def) = &p.definition {
                column_decls(v, &def.params);
                if let Some(path) = &def.path_param {
                    column_decls(v, std::slice::from_ref(path));
                }
                for rule in &def.rules {
                    exprs(v, &rule.args);
                    opt(v, &rule.path);
                    body(v, &rule.body);
                }
            }
        }
        Statement::Set(s) => opt(v, &s.value),
        Statement::Alias(a) => v.visit_expr(&a.value),
        Statement::RestrictAccess(r) => exprs(v, &r.entities),
        Statement::Expr(e) => v.visit_expr(e),
    }
}

pub fn walk_function<V: Visitor + ?Sized>(v: &mut V, function: &FunctionDef) {
    for p in &function.params {
        match &p.kind {
            FunctionParamKind::Scalar { default, .. } => opt(v, default),
            FunctionParamKind::Tabular { schema } => table_schema(v, schema),
        }
    }
    body(v, &function.body);
}

pub fn walk_expr<V: Visitor + ?Sized>(v: &mut V, expr: &Expr) {
    match &expr.kind {
        ExprKind::Literal(lit) => literal(v, lit),
        ExprKind::Name(_) | ExprKind::Pattern(_) | ExprKind::Star | ExprKind::Error => {}
        ExprKind::Paren(inner) => v.visit_expr(inner),
        ExprKind::Unary(u) => v.visit_expr(&u.operand),
        ExprKind::Binary(b) => {
            v.visit_expr(&b.left);
            v.visit_expr(&b.right);
        }
        ExprKind::In(i) => {
            v.visit_expr(&i.left);
            exprs(v, &i.items);
        }
        ExprKind::Between(b) => {
            v.visit_expr(&b.left);
            v.visit_expr(&b.low);
            v.visit_expr(&b.high);
        }
        ExprKind::Call(c) => call(v, c),
        ExprKind::Member(m) => v.visit_expr(&m.target),
        ExprKind::Index(i) => {
            v.visit_expr(&i.target);
            v.visit_expr(&i.index);
        }
        ExprKind::TypeOf(t) => {
            if let TableSchemaOrType::Schema(s) = t {
                table_schema(v, s);
            }
        }
        ExprKind::Pipe(p) => v.visit_pipeline(p),
    }
}

pub fn walk_pipeline<V: Visitor + ?Sized>(v: &mut V, pipeline: &Pipeline) {
    opt(v, &pipeline.input);
    for op in &pipeline.operators {
        v.visit_operator(op);
    }
}

/// Descends into every expression and nested pipeline of one tabular operator.
pub fn walk_operator<V: Visitor + ?Sized>(v: &mut V, operator: &Operator) {
    match operator {
        Operator::As(o) => params(v, &o.params),
        Operator::Consume(o) => params(v, &o.params),
        Operator::Count(_) | Operator::Getschema(_) => {}
        Operator::Datatable(o) => {
            table_schema(v, &o.schema);
            exprs(v, &o.values);
        }
        Operator::Distinct(o) => {
            params(v, &o.params);
            exprs(v, &o.columns);
        }
        Operator::Evaluate(o) => {
            params(v, &o.params);
            call(v, &o.plugin);
            if let Some(s) = &o.output_schema {
                table_schema(v, s);
            }
        }
        Operator::Extend(o) => named(v, &o.items),
        Operator::Externaldata(o) => {
            params(v, &o.params);
            table_schema(v, &o.schema);
            exprs(v, &o.uris);
            properties(v, &o.properties);
        }
        Operator::Facet(o) => {
            if let Some(p) = &o.with {
                v.visit_pipeline(p);
            }
        }
        Operator::Find(o) => {
            params(v, &o.params);
            if let Some(t) = &o.tables {
                exprs(v, t);
            }
            v.visit_expr(&o.predicate);
            if let Some(FindProject::Columns { items, .. }) = &o.project {
                for item in items {
                    if let FindProjectItem::Expr(e) = item {
                        v.visit_expr(e);
                    }
                }
            }
        }
        Operator::Fork(o) => {
            for b in &o.branches {
                v.visit_pipeline(&b.query);
            }
        }
        Operator::GraphMarkComponents(o) => params(v, &o.params),
        Operator::GraphMatch(o) => {
            params(v, &o.params);
            graph_patterns(v, &o.patterns);
            opt(v, &o.where_clause);
            named(v, &o.project);
        }
        Operator::GraphShortestPaths(o) => {
            params(v, &o.params);
            graph_patterns(v, &o.patterns);
            opt(v, &o.where_clause);
            named(v, &o.project);
        }
        Operator::GraphToTable(o) => {
            for out in &o.outputs {
                params(v, &out.params);
            }
        }
        Operator::InlineExternalTable(o) => {
            if let Some(s) = &o.schema {
                table_schema(v, s);
            }
            params(v, &o.params);
            column_decls(v, &o.partitions);
            exprs(v, &o.path_format);
            exprs(v, &o.uris);
            properties(v, &o.properties);
        }
        Operator::Invoke(o) => call(v, &o.function),
        Operator::Join(o) => {
            params(v, &o.params);
            v.visit_expr(&o.right);
            exprs(v, &o.on);
        }
        Operator::Lookup(o) => {
            params(v, &o.params);
            v.visit_expr(&o.right);
            exprs(v, &o.on);
        }
        Operator::MacroExpand(o) => {
            params(v, &o.params);
            if let MacroEntityGroup::Inline(g) = &o.group {
                exprs(v, &g.entities);
            }
            v.visit_pipeline(&o.body);
        }
        Operator::MakeGraph(o) => {
            params(v, &o.params);
            v.visit_expr(&o.source);
            v.visit_expr(&o.target);
            for n in &o.nodes {
                v.visit_expr(&n.table);
                v.visit_expr(&n.key);
            }
            params(v, &o.trailing_params);
            if let Some(p) = &o.partitioned_by {
                v.visit_pipeline(&p.body);
            }
        }
        Operator::MakeSeries(o) => {
            params(v, &o.params);
            for a in &o.aggregates {
                v.visit_expr(&a.item.expr);
                opt(v, &a.default);
            }
            v.visit_expr(&o.on);
            match &o.range {
                MakeSeriesRange::FromToStep { from, to, step } => {
                    opt(v, from);
                    opt(v, to);
                    v.visit_expr(step);
                }
                MakeSeriesRange::InRange { start, stop, step } => {
                    v.visit_expr(start);
                    v.visit_expr(stop);
                    v.visit_expr(step);
                }
            }
            named(v, &o.by);
        }
        Operator::MvApply(o) => {
            params(v, &o.params);
            mv_items(v, &o.items);
            opt(v, &o.limit);
            v.visit_pipeline(&o.body);
        }
        Operator::MvExpand(o) => {
            params(v, &o.params);
            mv_items(v, &o.items);
            opt(v, &o.limit);
        }
        Operator::Parse(o) => {
            params(v, &o.params);
            v.visit_expr(&o.source);
            for part in &o.pattern {
                if let ParsePatternPart::Text(e) = part {
                    v.visit_expr(e);
                }
            }
        }
        Operator::ParseKv(o) => {
            v.visit_expr(&o.source);
            table_schema(v, &o.keys);
            properties(v, &o.properties);
        }
        Operator::Partition(o) => {
            params(v, &o.params);
            v.visit_pipeline(&o.body);
        }
        Operator::Print(o) => named(v, &o.items),
        Operator::Project(o) => named(v, &o.items),
        Operator::ProjectAway(_)
        | Operator::ProjectKeep(_)
        | Operator::ProjectRename(_)
        | Operator::ProjectReorder(_) => {}
        Operator::ProjectByNames(o) => exprs(v, &o.columns),
        Operator::Range(o) => {
            v.visit_expr(&o.from);
            v.visit_expr(&o.to);
            v.visit_expr(&o.step);
        }
        Operator::Reduce(o) => {
            params(v, &o.params);
            v.visit_expr(&o.by);
            properties(v, &o.properties);
        }
        Operator::Render(o) => properties(v, &o.properties),
        Operator::Sample(o) => {
            params(v, &o.params);
            v.visit_expr(&o.count);
        }
        Operator::SampleDistinct(o) => {
            params(v, &o.params);
            v.visit_expr(&o.count);
            v.visit_expr(&o.of);
        }
        Operator::Scan(o) => {
            params(v, &o.params);
            column_decls(v, &o.declare);
            for step in &o.steps {
                v.visit_expr(&step.condition);
                for a in &step.assignments {
                    v.visit_expr(&a.value);
                }
            }
        }
        Operator::Search(o) => {
            params(v, &o.params);
            if let Some(t) = &o.tables {
                exprs(v, t);
            }
            v.visit_expr(&o.predicate);
        }
        Operator::Serialize(o) => named(v, &o.items),
        Operator::Sort(o) => {
            params(v, &o.params);
            sort_keys(v, &o.keys);
        }
        Operator::Summarize(o) => {
            params(v, &o.params);
            named(v, &o.aggregates);
            named(v, &o.by);
        }
        Operator::Take(o) => {
            params(v, &o.params);
            v.visit_expr(&o.count);
        }
        Operator::Top(o) => {
            params(v, &o.params);
            v.visit_expr(&o.count);
            sort_keys(v, &o.keys);
        }
        Operator::TopHitters(o) => {
            v.visit_expr(&o.count);
            v.visit_expr(&o.of);
            opt(v, &o.by);
        }
        Operator::TopNested(o) => {
            for level in &o.levels {
                opt(v, &level.count);
                v.visit_expr(&level.of.expr);
                opt(v, &level.others);
                v.visit_expr(&level.by.expr);
            }
        }
        Operator::Union(o) => {
            params(v, &o.params);
            exprs(v, &o.tables);
        }
        Operator::Where(o) => {
            params(v, &o.params);
            v.visit_expr(&o.predicate);
        }
    }
}

fn exprs<V: Visitor + ?Sized>(v: &mut V, items: &[Expr]) {
    for e in items {
        v.visit_expr(e);
    }
}

fn opt<V: Visitor + ?Sized>(v: &mut V, e: &Option<Expr>) {
    if let Some(e) = e {
        v.visit_expr(e);
    }
}

fn body<V: Visitor + ?Sized>(v: &mut V, body: &FunctionBody) {
    for s in &body.statements {
        v.visit_statement(s);
    }
}

fn call<V: Visitor + ?Sized>(v: &mut V, c: &Call) {
    opt(v, &c.receiver);
    for a in &c.args {
        v.visit_expr(&a.value);
    }
}

fn named<V: Visitor + ?Sized>(v: &mut V, items: &[NamedExpr]) {
    for item in items {
        v.visit_expr(&item.expr);
    }
}

fn params<V: Visitor + ?Sized>(v: &mut V, params: &[OperatorParam]) {
    for p in params {
        v.visit_expr(&p.value);
    }
}

fn properties<V: Visitor + ?Sized>(v: &mut V, props: &[Property]) {
    for p in props {
        exprs(v, &p.values);
    }
}

fn column_decls<V: Visitor + ?Sized>(v: &mut V, decls: &[ColumnDecl]) {
    for d in decls {
        opt(v, &d.default);
    }
}

fn table_schema<V: Visitor + ?Sized>(v: &mut V, schema: &TableSchema) {
    column_decls(v, &schema.columns);
}

fn sort_keys<V: Visitor + ?Sized>(v: &mut V, keys: &[SortKey]) {
    for k in keys {
        v.visit_expr(&k.expr);
    }
}

fn mv_items<V: Visitor + ?Sized>(v: &mut V, items: &[MvItem]) {
    for item in items {
        v.visit_expr(&item.expr);
    }
}

fn graph_patterns<V: Visitor + ?Sized>(v: &mut V, patterns: &[GraphPattern]) {
    for p in patterns {
        for e in &p.edges {
            if let Some(r) = &e.range {
                v.visit_expr(&r.min);
                v.visit_expr(&r.max);
            }
        }
    }
}

/// `dynamic(…)` may hold scalar literals (`datetime(…)`, `long(5)`) but no expressions, so
/// there is nothing further to visit; the hook exists so the match above stays exhaustive
/// if literals ever gain sub-expressions.
fn literal<V: Visitor + ?Sized>(_v: &mut V, _lit: &Literal) {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Collects every name and every call, to check the walk reaches nested places.
    #[derive(Default)]
    struct Names(Vec<String>);

    impl Visitor for Names {
        fn visit_expr(&mut self, expr: &Expr) {
            match &expr.kind {
                ExprKind::Name(id) => self.0.push(id.name.clone()),
                ExprKind::Call(c) => self.0.push(format!("{}()", c.name.name)),
                _ => {}
            }
            walk_expr(self, expr);
        }
    }

    fn names(src: &str) -> Vec<String> {
        let parsed = crate::parse(src);
        assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
        let mut v = Names::default();
        walk_query(&mut v, &parsed.query);
        v.0
    }

    #[test]
    fn reaches_lets_functions_subqueries_and_operator_bodies() {
        let got = names(
            "let f = (x:long = 5) { x + a };\n\
             let t = T | where b has_any ((U | project c));\n\
             t | join kind=inner (V | summarize d = count() by e) on k\n\
             | mv-apply m on (take 1 | extend n = toupper(o))\n\
             | where Ts between (ago(5d) .. now())",
        );
        for expected in [
            "x",
            "a",
            "T",
            "b",
            "U",
            "c",
            "V",
            "count()",
            "e",
            "k",
            "m",
            "o",
            "toupper()",
            "Ts",
            "ago()",
            "now()",
            "inner",
        ] {
            assert!(got.contains(&expected.to_string()), "{expected} missing from {got:?}");
        }
    }

    #[test]
    fn visits_in_source_order() {
        assert_eq!(names("T | where a == b | project c, d"), ["T", "a", "b", "c", "d"]);
    }

    #[test]
    fn an_override_can_stop_the_descent() {
        struct TopLevelOnly(usize);
        impl Visitor for TopLevelOnly {
            fn visit_pipeline(&mut self, _p: &Pipeline) {
                self.0 += 1;
            }
        }
        let parsed = crate::parse("T | where x in ((U | project y))");
        let mut v = TopLevelOnly(0);
        walk_query(&mut v, &parsed.query);
        assert_eq!(v.0, 1, "the nested pipeline is not visited when the hook does not walk");
    }
}
