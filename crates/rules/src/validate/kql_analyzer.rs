//! The syntax-level [`QueryAnalyzer`]: what can be learned about a rule from its parsed
//! query alone, without the engine's type checker — syntax errors, the tables the query
//! reads, how far back it looks, and which columns its false-positive exclusions use.
//!
//! The engine's semantic checker (unknown columns, type errors) is a separate analyzer
//! that runs after this one; it reports only what parsing cannot.

use super::{ExclusionAnalysis, QueryAnalysis, QueryAnalyzer, TextSpan};
use crate::model::Rule;
use kql::ast::*;
use kql::visit::{self, Visitor};
use schema::Catalog;
use std::collections::{HashMap, HashSet};

/// Kusto ticks (100 ns) in one second.
const TICKS_PER_SECOND: i64 = 10_000_000;

/// Analyzes a rule's query with the KQL parser only.
#[derive(Debug, Default, Clone, Copy)]
pub struct KqlAnalyzer;

impl QueryAnalyzer for KqlAnalyzer {
    fn name(&self) -> &str {
        "kql"
    }

    fn analyze(&self, rule: &Rule, catalog: &Catalog) -> QueryAnalysis {
        let parsed = kql::parse(&rule.query);
        let ok = parsed.is_ok();
        let facts = QueryFacts::collect(&parsed.query);
        let tables_read = ok.then(|| facts.tables.clone());
        let lookback = if ok { facts.lookback() } else { None };
        let known_columns = ok.then(|| facts.known_columns(catalog));
        let exclusions = rule
            .enrichment
            .false_positives
            .iter()
            .map(|fp| match (&fp.exclusion, &known_columns) {
                (Some(text), Some(known)) => analyze_exclusion(text, known),
                _ => ExclusionAnalysis::NotAnalyzed,
            })
            .collect();
        QueryAnalysis {
            diagnostics: parsed.diagnostics,
            tables_read,
            lookback,
            exclusions,
        }
    }
}

/// Facts gathered in one walk over a query.
#[derive(Default)]
struct QueryFacts {
    /// Names bound by `let`, function parameters and `as`: never tables.
    bound: HashSet<String>,
    /// `let x = <timespan literal>` (ticks), so `ago(x)` resolves.
    timespan_lets: HashMap<String, i64>,
    /// Tables read, in source order, with the span of each mention.
    tables: Vec<(String, TextSpan)>,
    /// Names the query assigns (extend/project/summarize outputs, parse captures…): they
    /// can appear in the rule's output, so exclusions may use them.
    assigned: HashSet<String>,
    /// Every `now(-X)` / `ago(X)` / `now() - X` window: ticks and span.
    windows: Vec<(i64, TextSpan)>,
}

impl QueryFacts {
    fn collect(query: &Query) -> QueryFacts {
        let mut binder = Binder::default();
        visit::walk_query(&mut binder, query);
        let mut facts = QueryFacts {
            bound: binder.bound,
            timespan_lets: binder.timespans,
            ..QueryFacts::default()
        };
        visit::walk_query(&mut facts, query);
        facts
    }

    /// The widest look-back window in seconds, with its span.
    fn lookback(&self) -> Option<(i64, TextSpan)> {
        self.windows
            .iter()
            .max_by_key(|(ticks, _)| *ticks)
            .map(|(ticks, span)| (ticks / TICKS_PER_SECOND, span.clone()))
    }

    /// Columns an exclusion may legitimately use: every column of the tables read, and
    /// every name the query assigns (a superset of its output columns, so a correct
    /// exclusion is never flagged).
    fn known_columns(&self, catalog: &Catalog) -> HashSet<String> {
        let mut known = self.assigned.clone();
        for (t, _) in &self.tables {
            if let Some(schema) = catalog.get(t) {
                known.extend(schema.columns.iter().map(|c| c.name.clone()));
            }
        }
        known
    }

    fn note_table(&mut self, expr: &Expr) {
        match &expr.kind {
            ExprKind::Paren(inner) => self.note_table(inner),
            ExprKind::Name(id) if !self.bound.contains(&id.name) && !id.name.starts_with('$') => {
                self.tables.push((id.name.clone(), id.span.range()));
            }
            ExprKind::Call(c) if c.receiver.is_none() && c.name.name == "table" => {
                if let Some(Arg {
                    value:
                        Expr {
                            kind: ExprKind::Literal(lit),
                            span,
                        },
                    ..
                }) = c.args.first()
                    && let LiteralValue::String(s) = &lit.value
                    && !self.bound.contains(&s.value)
                {
                    self.tables.push((s.value.clone(), span.range()));
                }
            }
            _ => {}
        }
    }

    fn note_assigned(&mut self, items: &[NamedExpr]) {
        for item in items {
            match &item.name {
                Some(Assignee::Single(id)) => {
                    self.assigned.insert(id.name.clone());
                }
                Some(Assignee::Tuple { names, .. }) => {
                    self.assigned.extend(names.iter().map(|n| n.name.clone()));
                }
                None => {}
            }
        }
    }

    /// The ticks of a timespan expression: a literal, `-literal`, or a `let` bound to one.
    fn ticks(&self, expr: &Expr) -> Option<i64> {
        match &expr.kind {
            ExprKind::Literal(Literal {
                value: LiteralValue::Timespan(t),
                ..
            }) => t.ticks,
            ExprKind::Paren(inner) => self.ticks(inner),
            ExprKind::Unary(u) if u.op == UnaryOp::Neg => self.ticks(&u.operand).map(|t| -t),
            ExprKind::Name(id) => self.timespan_lets.get(&id.name).copied(),
            _ => None,
        }
    }
}

fn is_call<'a>(expr: &'a Expr, name: &str) -> Option<&'a Call> {
    match &expr.kind {
        ExprKind::Call(c) if c.receiver.is_none() && c.name.name == name => Some(c),
        _ => None,
    }
}

impl Visitor for QueryFacts {
    fn visit_statement(&mut self, statement: &Statement) {
        match statement {
            Statement::Expr(e) => self.note_table(e),
            Statement::Let(LetStatement {
                value: LetValue::Expr(e),
                ..
            }) => self.note_table(e),
            _ => {}
        }
        visit::walk_statement(self, statement);
    }

    fn visit_pipeline(&mut self, pipeline: &Pipeline) {
        if let Some(input) = &pipeline.input {
            self.note_table(input);
        }
        visit::walk_pipeline(self, pipeline);
    }

    fn visit_operator(&mut self, operator: &Operator) {
        match operator {
            Operator::Join(j) => self.note_table(&j.right),
            Operator::Lookup(l) => self.note_table(&l.right),
            Operator::Union(u) => {
                for t in &u.tables {
                    self.note_table(t);
                }
            }
            Operator::Extend(o) => self.note_assigned(&o.items),
            Operator::Project(o) => self.note_assigned(&o.items),
            Operator::Summarize(o) => {
                self.note_assigned(&o.aggregates);
                self.note_assigned(&o.by);
                // Unnamed aggregates get Kusto's default names (`count_`, `min_X`…);
                // unnamed `by` keys keep their column name, which is already known.
                for item in o.aggregates.iter().filter(|i| i.name.is_none()) {
                    if let ExprKind::Call(c) = &item.expr.kind {
                        self.assigned.insert(format!("{}_", c.name.name));
                        for a in &c.args {
                            if let ExprKind::Name(n) = &a.value.kind {
                                self.assigned.insert(format!("{}_{}", c.name.name, n.name));
                            }
                        }
                    }
                }
            }
            Operator::Print(o) => self.note_assigned(&o.items),
            Operator::Serialize(o) => self.note_assigned(&o.items),
            Operator::ProjectRename(o) => {
                self.assigned.extend(o.items.iter().map(|i| i.new_name.name.clone()));
            }
            Operator::Parse(p) => {
                for part in &p.pattern {
                    if let ParsePatternPart::Column { name, .. } = part {
                        self.assigned.insert(name.name.clone());
                    }
                }
            }
            Operator::Count(_) => {
                self.assigned.insert("Count".into());
            }
            _ => {}
        }
        visit::walk_operator(self, operator);
    }

    fn visit_expr(&mut self, expr: &Expr) {
        if let Some(c) = is_call(expr, "ago")
            && let Some(t) = c.args.first().and_then(|a| self.ticks(&a.value))
            && t > 0
        {
            self.windows.push((t, expr.span.range()));
        }
        if let Some(c) = is_call(expr, "now")
            && let Some(t) = c.args.first().and_then(|a| self.ticks(&a.value))
            && t < 0
        {
            self.windows.push((-t, expr.span.range()));
        }
        if let ExprKind::Binary(b) = &expr.kind
            && b.op == BinaryOp::Sub
            && is_call(&b.left, "now").is_some_and(|c| c.args.is_empty())
            && let Some(t) = self.ticks(&b.right)
            && t > 0
        {
            self.windows.push((t, expr.span.range()));
        }
        match &expr.kind {
            ExprKind::Call(c) if c.receiver.is_none() && matches!(c.name.name.as_str(), "materialize" | "toscalar") => {
                if let Some(a) = c.args.first() {
                    self.note_table(&a.value);
                }
            }
            _ => {}
        }
        visit::walk_expr(self, expr);
    }
}

/// First pass: every name the query binds (so it is not mistaken for a table).
#[derive(Default)]
struct Binder {
    bound: HashSet<String>,
    timespans: HashMap<String, i64>,
}

impl Visitor for Binder {
    fn visit_statement(&mut self, statement: &Statement) {
        match statement {
            Statement::Let(l) => {
                self.bound.insert(l.name.name.clone());
                if let LetValue::Expr(Expr {
                    kind: ExprKind::Literal(lit),
                    ..
                }) = &l.value
                    && let LiteralValue::Timespan(TimespanLiteral { ticks: Some(t), .. }) = &lit.value
                {
                    self.timespans.insert(l.name.name.clone(), *t);
                }
            }
            Statement::QueryParameters(q) => self.bound.extend(q.params.iter().map(|p| p.name.name.clone())),
            _ => {}
        }
        visit::walk_statement(self, statement);
    }

    fn visit_function(&mut self, function: &FunctionDef) {
        self.bound.extend(function.params.iter().map(|p| p.name.name.clone()));
        visit::walk_function(self, function);
    }

    fn visit_operator(&mut self, operator: &Operator) {
        if let Operator::As(a) = operator {
            self.bound.insert(a.name.name.clone());
        }
        visit::walk_operator(self, operator);
    }
}

/// Reads an exclusion as a KQL predicate: `<predicate>`, `where <predicate>` or
/// `| where <predicate>`. Prose, a syntax error or a bare value is not a predicate.
fn analyze_exclusion(text: &str, known: &HashSet<String>) -> ExclusionAnalysis {
    let (offset, predicate) = strip_where(text);
    let (expr, diagnostics) = kql::parse_expression(predicate);
    if let Some(d) = diagnostics.iter().find(|d| d.is_error()) {
        let span = d.span.range();
        return ExclusionAnalysis::NotKql {
            message: d.message.clone(),
            span: span.start + offset..span.end + offset,
        };
    }
    if !is_predicate_shaped(&expr) {
        return ExclusionAnalysis::NotKql {
            message: "a predicate compares or tests columns; this is a single value".into(),
            span: offset..offset + predicate.len(),
        };
    }
    let mut names = ColumnRefs::default();
    names.visit_expr(&expr);
    let shift = |(n, s): (String, TextSpan)| (n, s.start + offset..s.end + offset);
    let columns: Vec<_> = names.0.into_iter().map(shift).collect();
    let unknown = columns.iter().filter(|(n, _)| !known.contains(n)).cloned().collect();
    ExclusionAnalysis::Predicate { columns, unknown }
}

/// Skips leading whitespace, an optional `|` and an optional `where`/`filter` keyword;
/// returns the byte offset of what remains.
fn strip_where(text: &str) -> (usize, &str) {
    let mut rest = text.trim_start();
    if let Some(r) = rest.strip_prefix('|') {
        rest = r.trim_start();
    }
    for kw in ["where", "filter"] {
        if let Some(r) = rest.strip_prefix(kw)
            && r.starts_with(char::is_whitespace)
        {
            rest = r.trim_start();
            break;
        }
    }
    (text.len() - rest.len(), rest)
}

/// A predicate is an operator application or a call (`isnotempty(x)`, `not(…)`), not a
/// lone name or literal — a single word of prose parses as a name.
fn is_predicate_shaped(expr: &Expr) -> bool {
    match &expr.kind {
        ExprKind::Paren(inner) => is_predicate_shaped(inner),
        ExprKind::Binary(_) | ExprKind::In(_) | ExprKind::Between(_) | ExprKind::Call(_) => true,
        _ => false,
    }
}

/// The column names an expression reads: bare names and the root of dotted paths.
#[derive(Default)]
struct ColumnRefs(Vec<(String, TextSpan)>);

impl Visitor for ColumnRefs {
    fn visit_expr(&mut self, expr: &Expr) {
        if let ExprKind::Name(id) = &expr.kind
            && !id.name.starts_with('$')
        {
            self.0.push((id.name.clone(), id.span.range()));
        }
        visit::walk_expr(self, expr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(q: &str) -> QueryFacts {
        let parsed = kql::parse(q);
        assert!(parsed.is_ok(), "{:?}", parsed.diagnostics);
        QueryFacts::collect(&parsed.query)
    }

    fn tables(q: &str) -> Vec<String> {
        facts(q).tables.into_iter().map(|(t, _)| t).collect()
    }

    #[test]
    fn tables_read_skip_lets_and_parameters() {
        let q = "let Time_start = now(-5d);\nlet x = DeviceInfo | take 1;\nDeviceFileCertificateInfo\n| where Timestamp between (Time_start..now())\n| join kind=inner (x) on DeviceId\n| union DeviceNetworkEvents, (table('DeviceProcessEvents') | take 1)";
        assert_eq!(
            tables(q),
            [
                "DeviceInfo",
                "DeviceFileCertificateInfo",
                "DeviceNetworkEvents",
                "DeviceProcessEvents"
            ]
        );
        assert_eq!(
            tables("let f = (T:(a:long)) { T | take 1 }; print 1"),
            Vec::<String>::new()
        );
        assert_eq!(tables("DeviceInfo"), ["DeviceInfo"]);
        assert_eq!(tables("T | where x in ((U | project y))"), ["T", "U"]);
    }

    #[test]
    fn lookback_finds_the_widest_window() {
        let q = "let Time_start = now(-5d);\nlet w = 7d;\nT | where Timestamp > ago(1h) or Timestamp > ago(w) or Timestamp > now() - 2d";
        let f = facts(q);
        let (secs, span) = f.lookback().unwrap();
        assert_eq!(secs, 7 * 86400);
        assert_eq!(&q[span], "ago(w)");
        let f = facts("let Time_start = now(-5d); T | where Timestamp between (Time_start..now())");
        assert_eq!(f.lookback().unwrap().0, 5 * 86400);
        assert!(facts("T | where Timestamp > now(1d)").lookback().is_none());
    }

    #[test]
    fn exclusions_are_predicates_over_known_columns() {
        let known: HashSet<String> = ["DeviceName", "FolderPath"].iter().map(|s| s.to_string()).collect();
        match analyze_exclusion("| where DeviceName has 'sccm' and process.name == 'x.exe'", &known) {
            ExclusionAnalysis::Predicate { columns, unknown } => {
                assert_eq!(columns.len(), 2);
                assert_eq!(unknown.len(), 1);
                assert_eq!(unknown[0].0, "process");
                let text = "| where DeviceName has 'sccm' and process.name == 'x.exe'";
                assert_eq!(&text[unknown[0].1.clone()], "process");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            analyze_exclusion("Exclude files with the .log extension", &known),
            ExclusionAnalysis::NotKql { .. }
        ));
        assert!(matches!(
            analyze_exclusion("Exclude", &known),
            ExclusionAnalysis::NotKql { .. }
        ));
        assert!(matches!(
            analyze_exclusion("isnotempty(FolderPath)", &known),
            ExclusionAnalysis::Predicate { ref unknown, .. } if unknown.is_empty()
        ));
    }

    #[test]
    fn output_columns_count_as_known() {
        let f = facts("DeviceInfo | summarize FirstSeen=min(Timestamp), count() by DeviceId | extend X = 1");
        let known = f.known_columns(Catalog::builtin());
        for c in ["FirstSeen", "count_", "X", "DeviceId", "OSPlatform"] {
            assert!(known.contains(c), "{c}");
        }
        assert!(!known.contains("AccountUpn"));
    }
}
