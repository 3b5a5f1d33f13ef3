//! Printing of tabular operators.

use super::{Printer, column_decl, ident, join, pad, schema};
use crate::ast::*;

impl Printer {
    pub(crate) fn operator(&self, op: &Operator, indent: usize) -> String {
        let i = indent;
        match op {
            Operator::As(o) => format!("as {}{}", self.params(&o.params, i), ident(&o.name)),
            Operator::Consume(o) => format!("consume {}", self.params(&o.params, i)).trim_end().to_string(),
            Operator::Count(_) => "count".into(),
            Operator::Datatable(o) => self.datatable(o, i),
            Operator::Distinct(o) => {
                format!(
                    "distinct {}{}",
                    self.params(&o.params, i),
                    join(&o.columns, ", ", |e| self.expr(e, i))
                )
            }
            Operator::Evaluate(o) => {
                let mut s = format!("evaluate {}{}", self.params(&o.params, i), self.call(&o.plugin, i));
                if let Some(out) = &o.output_schema {
                    s.push_str(&format!(" : {}", schema(out, self, i)));
                }
                s
            }
            Operator::Extend(o) => format!("extend {}", self.named_list(&o.items, i)),
            Operator::Externaldata(o) => {
                let mut s = format!(
                    "externaldata {}{} [{}]",
                    self.params(&o.params, i),
                    schema(&o.schema, self, i),
                    join(&o.uris, ", ", |e| self.expr(e, i))
                );
                if !o.properties.is_empty() {
                    s.push_str(&format!(" with ({})", self.properties(&o.properties, i)));
                }
                s
            }
            Operator::Facet(o) => {
                let mut s = format!("facet by {}", join(&o.columns, ", ", ident));
                if let Some(w) = &o.with {
                    s.push_str(&format!(" with ({})", self.nested_pipeline(w, i)));
                }
                s
            }
            Operator::Find(o) => self.find(o, i),
            Operator::Fork(o) => {
                let branches = join(&o.branches, " ", |b| {
                    let name = b.name.as_ref().map(|n| format!("{}=", ident(n))).unwrap_or_default();
                    format!("{name}({})", self.nested_pipeline(&b.query, i))
                });
                format!("fork {branches}")
            }
            Operator::Getschema(_) => "getschema".into(),
            Operator::GraphMarkComponents(o) => format!("graph-mark-components {}", self.params(&o.params, i))
                .trim_end()
                .to_string(),
            Operator::GraphMatch(o) => self.graph_query(
                "graph-match",
                &o.params,
                &o.patterns,
                o.where_clause.as_ref(),
                &o.project,
                i,
            ),
            Operator::GraphShortestPaths(o) => self.graph_query(
                "graph-shortest-paths",
                &o.params,
                &o.patterns,
                o.where_clause.as_ref(),
                &o.project,
                i,
            ),
            Operator::GraphToTable(o) => {
                let outputs = join(&o.outputs, ", ", |out| {
                    let mut s = match out.kind {
                        GraphElementKind::Nodes => "nodes".to_string(),
                        GraphElementKind::Edges => "edges".to_string(),
                    };
                    if let Some(n) = &out.as_name {
                        s.push_str(&format!(" as {}", ident(n)));
                    }
                    let params = self.params(&out.params, i);
                    if !params.is_empty() {
                        s.push(' ');
                        s.push_str(params.trim_end());
                    }
                    s
                });
                format!("graph-to-table {outputs}")
            }
            Operator::InlineExternalTable(o) => self.inline_external_table(o, i),
            Operator::Invoke(o) => format!("invoke {}", self.call(&o.function, i)),
            Operator::Join(o) => {
                let kw = if o.where_keyword { "where" } else { "on" };
                let mut s = format!("join {}{}", self.params(&o.params, i), self.expr(&o.right, i));
                if !o.on.is_empty() {
                    s.push_str(&format!(" {kw} {}", join(&o.on, ", ", |e| self.expr(e, i))));
                }
                s
            }
            Operator::Lookup(o) => format!(
                "lookup {}{} on {}",
                self.params(&o.params, i),
                self.expr(&o.right, i),
                join(&o.on, ", ", |e| self.expr(e, i))
            ),
            Operator::MacroExpand(o) => {
                let group = match &o.group {
                    MacroEntityGroup::Name(n) => ident(n),
                    MacroEntityGroup::Inline(g) => self.entity_group(g, i),
                };
                format!(
                    "macro-expand {}{group} as {} ({})",
                    self.params(&o.params, i),
                    ident(&o.alias),
                    self.nested_pipeline(&o.body, i)
                )
            }
            Operator::MakeGraph(o) => self.make_graph(o, i),
            Operator::MakeSeries(o) => self.make_series(o, i),
            Operator::MvApply(o) => {
                let mut s = format!(
                    "mv-apply {}{}",
                    self.params(&o.params, i),
                    join(&o.items, ", ", |m| self.mv_item(m, i))
                );
                if let Some(l) = &o.limit {
                    s.push_str(&format!(" limit {}", self.expr(l, i)));
                }
                s.push_str(&format!(" on ({})", self.nested_pipeline(&o.body, i)));
                s
            }
            Operator::MvExpand(o) => {
                let mut s = format!(
                    "mv-expand {}{}",
                    self.params(&o.params, i),
                    join(&o.items, ", ", |m| self.mv_item(m, i))
                );
                if let Some(l) = &o.limit {
                    s.push_str(&format!(" limit {}", self.expr(l, i)));
                }
                s
            }
            Operator::Parse(o) => {
                let kw = match o.keyword {
                    ParseKeyword::Parse => "parse",
                    ParseKeyword::ParseWhere => "parse-where",
                };
                let parts = join(&o.pattern, " ", |p| match p {
                    ParsePatternPart::Star(_) => "*".to_string(),
                    ParsePatternPart::Text(e) => self.expr(e, i),
                    ParsePatternPart::Column { name, ty, .. } => match ty {
                        Some(t) => format!("{}:{}", ident(name), t.name),
                        None => ident(name),
                    },
                });
                format!(
                    "{kw} {}{} with {parts}",
                    self.params(&o.params, i),
                    self.expr(&o.source, i)
                )
            }
            Operator::ParseKv(o) => {
                let mut s = format!("parse-kv {} as {}", self.expr(&o.source, i), schema(&o.keys, self, i));
                if !o.properties.is_empty() {
                    s.push_str(&format!(" with ({})", self.properties(&o.properties, i)));
                }
                s
            }
            Operator::Partition(o) => {
                let body = self.nested_pipeline(&o.body, i);
                let body = if o.braces {
                    format!("{{{body}}}")
                } else {
                    format!("({body})")
                };
                format!("partition {}by {} {body}", self.params(&o.params, i), ident(&o.by))
            }
            Operator::Print(o) => format!("print {}", self.named_list(&o.items, i)).trim_end().to_string(),
            Operator::Project(o) => format!("project {}", self.named_list(&o.items, i)),
            Operator::ProjectAway(o) => format!("project-away {}", join(&o.columns, ", ", |c| c.pattern.clone())),
            Operator::ProjectByNames(o) => {
                format!("project-by-names {}", join(&o.columns, ", ", |e| self.expr(e, i)))
            }
            Operator::ProjectKeep(o) => format!("project-keep {}", join(&o.columns, ", ", |c| c.pattern.clone())),
            Operator::ProjectRename(o) => format!(
                "project-rename {}",
                join(&o.items, ", ", |r| format!(
                    "{} = {}",
                    ident(&r.new_name),
                    ident(&r.old_name)
                ))
            ),
            Operator::ProjectReorder(o) => format!(
                "project-reorder {}",
                join(&o.items, ", ", |r| {
                    let order = match r.order {
                        None => "",
                        Some(ReorderOrder::Asc) => " asc",
                        Some(ReorderOrder::Desc) => " desc",
                        Some(ReorderOrder::GrannyAsc) => " granny-asc",
                        Some(ReorderOrder::GrannyDesc) => " granny-desc",
                    };
                    format!("{}{order}", r.column.pattern)
                })
            ),
            Operator::Range(o) => format!(
                "range {} from {} to {} step {}",
                ident(&o.column),
                self.expr(&o.from, i),
                self.expr(&o.to, i),
                self.expr(&o.step, i)
            ),
            Operator::Reduce(o) => {
                let mut s = format!("reduce {}by {}", self.params(&o.params, i), self.expr(&o.by, i));
                if !o.properties.is_empty() {
                    s.push_str(&format!(" with {}", self.properties(&o.properties, i)));
                }
                s
            }
            Operator::Render(o) => {
                let mut s = format!("render {}", ident(&o.chart));
                if o.with_keyword {
                    s.push_str(&format!(" with ({})", self.properties(&o.properties, i)));
                } else {
                    for p in &o.properties {
                        s.push_str(&format!(
                            " {}={}",
                            p.name.name,
                            join(&p.values, ", ", |v| self.expr(v, i))
                        ));
                    }
                }
                s
            }
            Operator::Sample(o) => format!("sample {}{}", self.params(&o.params, i), self.expr(&o.count, i)),
            Operator::SampleDistinct(o) => format!(
                "sample-distinct {}{} of {}",
                self.params(&o.params, i),
                self.expr(&o.count, i),
                self.expr(&o.of, i)
            ),
            Operator::Scan(o) => self.scan(o, i),
            Operator::Search(o) => {
                let tables = o
                    .tables
                    .as_ref()
                    .map(|t| format!("in ({}) ", join(t, ", ", |e| self.expr(e, i))))
                    .unwrap_or_default();
                format!(
                    "search {}{tables}{}",
                    self.params(&o.params, i),
                    self.expr(&o.predicate, i)
                )
            }
            Operator::Serialize(o) => format!("serialize {}", self.named_list(&o.items, i))
                .trim_end()
                .to_string(),
            Operator::Sort(o) => {
                let kw = match o.keyword {
                    SortKeyword::Sort => "sort",
                    SortKeyword::Order => "order",
                };
                format!(
                    "{kw} {}by {}",
                    self.params(&o.params, i),
                    join(&o.keys, ", ", |k| self.sort_key(k, i))
                )
            }
            Operator::Summarize(o) => {
                let mut s = format!(
                    "summarize {}{}",
                    self.params(&o.params, i),
                    self.named_list(&o.aggregates, i)
                );
                if !o.by.is_empty() {
                    if !o.aggregates.is_empty() {
                        s.push(' ');
                    }
                    s.push_str(&format!("by {}", self.named_list(&o.by, i)));
                }
                s.trim_end().to_string()
            }
            Operator::Take(o) => {
                let kw = match o.keyword {
                    TakeKeyword::Take => "take",
                    TakeKeyword::Limit => "limit",
                };
                format!("{kw} {}{}", self.params(&o.params, i), self.expr(&o.count, i))
            }
            Operator::Top(o) => format!(
                "top {}{} by {}",
                self.params(&o.params, i),
                self.expr(&o.count, i),
                join(&o.keys, ", ", |k| self.sort_key(k, i))
            ),
            Operator::TopHitters(o) => {
                let mut s = format!("top-hitters {} of {}", self.expr(&o.count, i), self.expr(&o.of, i));
                if let Some(b) = &o.by {
                    s.push_str(&format!(" by {}", self.expr(b, i)));
                }
                s
            }
            Operator::TopNested(o) => join(&o.levels, ", ", |l| {
                let mut s = String::from("top-nested ");
                if let Some(c) = &l.count {
                    s.push_str(&format!("{} ", self.expr(c, i)));
                }
                s.push_str(&format!("of {}", self.named(&l.of, i)));
                if let Some(o) = &l.others {
                    s.push_str(&format!(" with others = {}", self.expr(o, i)));
                }
                s.push_str(&format!(" by {}", self.named(&l.by, i)));
                match l.order {
                    Some(SortOrder::Asc) => s.push_str(" asc"),
                    Some(SortOrder::Desc) => s.push_str(" desc"),
                    None => {}
                }
                s
            }),
            Operator::Union(o) => {
                format!(
                    "union {}{}",
                    self.params(&o.params, i),
                    join(&o.tables, ", ", |e| self.expr(e, i))
                )
            }
            Operator::Where(o) => {
                let kw = match o.keyword {
                    WhereKeyword::Where => "where",
                    WhereKeyword::Filter => "filter",
                };
                format!("{kw} {}{}", self.params(&o.params, i), self.expr(&o.predicate, i))
            }
        }
    }

    fn datatable(&self, o: &DatatableOp, i: usize) -> String {
        let cols = o.schema.columns.len().max(1);
        let rows: Vec<String> = o
            .values
            .chunks(cols)
            .map(|row| format!("{}{}", pad(i + 1), join(row, ", ", |e| self.expr(e, i + 1))))
            .collect();
        if rows.is_empty() {
            return format!("datatable{} []", schema(&o.schema, self, i));
        }
        format!(
            "datatable{} [\n{}\n{}]",
            schema(&o.schema, self, i),
            rows.join(",\n"),
            pad(i)
        )
    }

    fn find(&self, o: &FindOp, i: usize) -> String {
        let mut s = format!("find {}", self.params(&o.params, i));
        if let Some(t) = &o.tables {
            s.push_str(&format!("in ({}) ", join(t, ", ", |e| self.expr(e, i))));
        }
        if o.where_keyword {
            s.push_str("where ");
        }
        s.push_str(&self.expr(&o.predicate, i));
        match &o.project {
            Some(FindProject::Smart(_)) => s.push_str(" project-smart"),
            Some(FindProject::Columns { items, .. }) => {
                let items = join(items, ", ", |it| match it {
                    FindProjectItem::Column { name, ty: Some(t), .. } => format!("{}:{}", ident(name), t.name),
                    FindProjectItem::Column { name, ty: None, .. } => ident(name),
                    FindProjectItem::Expr(e) => self.expr(e, i),
                });
                s.push_str(&format!(" project {items}"));
            }
            None => {}
        }
        s
    }

    fn mv_item(&self, m: &MvItem, i: usize) -> String {
        let mut s = match &m.name {
            Some(n) => format!("{} = {}", ident(n), self.expr(&m.expr, i)),
            None => self.expr(&m.expr, i),
        };
        if let Some(t) = &m.to_type {
            s.push_str(&format!(" to typeof({})", t.name));
        }
        s
    }

    fn graph_query(
        &self,
        kw: &str,
        params: &[OperatorParam],
        patterns: &[GraphPattern],
        where_clause: Option<&Expr>,
        project: &[NamedExpr],
        i: usize,
    ) -> String {
        let mut s = format!("{kw} {}{}", self.params(params, i), join(patterns, ", ", graph_pattern));
        if let Some(w) = where_clause {
            s.push_str(&format!("\n{}    where {}", pad(i), self.expr(w, i)));
        }
        s.push_str(&format!("\n{}    project {}", pad(i), self.named_list(project, i)));
        s
    }

    fn make_graph(&self, o: &MakeGraphOp, i: usize) -> String {
        let arrow = if o.directed { "-->" } else { "--" };
        let mut s = format!(
            "make-graph {}{} {arrow} {}",
            self.params(&o.params, i),
            self.expr(&o.source, i),
            self.expr(&o.target, i)
        );
        if !o.nodes.is_empty() {
            let nodes = join(&o.nodes, ", ", |n| {
                format!("{} on {}", self.expr(&n.table, i), self.expr(&n.key, i))
            });
            s.push_str(&format!(" with {nodes}"));
        }
        let trailing = self.params(&o.trailing_params, i);
        if !trailing.is_empty() {
            s.push(' ');
            s.push_str(trailing.trim_end());
        }
        if let Some(p) = &o.partitioned_by {
            s.push_str(&format!(
                " partitioned-by {} ({})",
                ident(&p.column),
                self.nested_pipeline(&p.body, i)
            ));
        }
        s
    }

    fn make_series(&self, o: &MakeSeriesOp, i: usize) -> String {
        let aggs = join(&o.aggregates, ", ", |a| match &a.default {
            Some(d) => format!("{} default={}", self.named(&a.item, i), self.expr(d, i)),
            None => self.named(&a.item, i),
        });
        let mut s = format!(
            "make-series {}{aggs} on {}",
            self.params(&o.params, i),
            self.expr(&o.on, i)
        );
        match &o.range {
            MakeSeriesRange::FromToStep { from, to, step } => {
                if let Some(f) = from {
                    s.push_str(&format!(" from {}", self.expr(f, i)));
                }
                if let Some(t) = to {
                    s.push_str(&format!(" to {}", self.expr(t, i)));
                }
                s.push_str(&format!(" step {}", self.expr(step, i)));
            }
            MakeSeriesRange::InRange { start, stop, step } => s.push_str(&format!(
                " in range({}, {}, {})",
                self.expr(start, i),
                self.expr(stop, i),
                self.expr(step, i)
            )),
        }
        if !o.by.is_empty() {
            s.push_str(&format!(" by {}", self.named_list(&o.by, i)));
        }
        s
    }

    fn scan(&self, o: &ScanOp, i: usize) -> String {
        let mut s = format!("scan {}", self.params(&o.params, i));
        if !o.declare.is_empty() {
            s.push_str(&format!(
                "declare ({}) ",
                join(&o.declare, ", ", |d| column_decl(d, self, i))
            ));
        }
        s.push_str("with (\n");
        for step in &o.steps {
            s.push_str(&pad(i + 1));
            s.push_str(&format!("step {}", ident(&step.name)));
            if let Some(out) = &step.output {
                s.push_str(&format!(" output={}", ident(out)));
            }
            s.push_str(&format!(": {}", self.expr(&step.condition, i + 1)));
            if !step.assignments.is_empty() {
                let a = join(&step.assignments, ", ", |a| {
                    format!("{} = {}", ident(&a.column), self.expr(&a.value, i + 1))
                });
                s.push_str(&format!(" => {a}"));
            }
            s.push_str(";\n");
        }
        s.push_str(&pad(i));
        s.push(')');
        s
    }

    fn inline_external_table(&self, o: &InlineExternalTableOp, i: usize) -> String {
        let mut s = String::from("inline_external_table");
        if let Some(sc) = &o.schema {
            s.push_str(&schema(sc, self, i));
        }
        s.push(' ');
        s.push_str(&self.params(&o.params, i));
        if !o.partitions.is_empty() {
            s.push_str(&format!(
                "partition by ({}) ",
                join(&o.partitions, ", ", |d| column_decl(d, self, i))
            ));
        }
        if !o.path_format.is_empty() {
            s.push_str(&format!(
                "pathformat=({}) ",
                join(&o.path_format, " ", |e| self.expr(e, i))
            ));
        }
        s.push_str(&format!("({})", join(&o.uris, ", ", |e| self.expr(e, i))));
        if !o.properties.is_empty() {
            s.push_str(&format!(" with ({})", self.properties(&o.properties, i)));
        }
        s
    }
}

fn graph_pattern(p: &GraphPattern) -> String {
    let mut s = graph_node(p.nodes.first());
    for (k, edge) in p.edges.iter().enumerate() {
        s.push_str(&graph_edge(edge));
        s.push_str(&graph_node(p.nodes.get(k + 1)));
    }
    s
}

fn labels(l: &[Ident]) -> String {
    if l.is_empty() {
        String::new()
    } else {
        format!(":{}", join(l, "|", ident))
    }
}

fn graph_node(n: Option<&GraphNode>) -> String {
    match n {
        Some(n) => format!(
            "({}{})",
            n.name.as_ref().map(ident).unwrap_or_default(),
            labels(&n.labels)
        ),
        None => "()".into(),
    }
}

fn graph_edge(e: &GraphEdge) -> String {
    let inner_empty = e.name.is_none() && e.labels.is_empty() && e.range.is_none();
    if inner_empty {
        return match e.direction {
            EdgeDirection::Right => "-->".into(),
            EdgeDirection::Left => "<--".into(),
            EdgeDirection::Any => "--".into(),
        };
    }
    let mut inner = e.name.as_ref().map(ident).unwrap_or_default();
    inner.push_str(&labels(&e.labels));
    if let Some(r) = &e.range {
        inner.push_str(&format!(
            "*{}..{}",
            super::Printer.expr(&r.min, 0),
            super::Printer.expr(&r.max, 0)
        ));
    }
    match e.direction {
        EdgeDirection::Right => format!("-[{inner}]->"),
        EdgeDirection::Left => format!("<-[{inner}]-"),
        EdgeDirection::Any => format!("-[{inner}]-"),
    }
}
