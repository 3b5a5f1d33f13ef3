//! The pretty-printer: AST → KQL text.
//!
//! Guarantee (tested over the corpora): for a query without errors, `parse(print(q))`
//! yields the same tree as `q`, spans aside. Statements end with `;` and a newline;
//! pipelines put each operator on its own line; short nested pipelines stay on one line.
//! Comments are not part of the tree: see [`crate::format`] for a formatter that keeps them.

mod operators;

use crate::ast::*;
use crate::literals::quote_string;

/// Nested pipelines longer than this are printed over several lines.
const INLINE_WIDTH: usize = 80;

/// Prints a whole query.
pub fn print(query: &Query) -> String {
    let p = Printer;
    p.statements(&query.statements, 0)
}

/// Prints one expression (scalar or tabular).
pub fn print_expr(expr: &Expr) -> String {
    Printer.expr(expr, 0)
}

/// Prints one statement (without the trailing `;`).
pub fn print_statement(statement: &Statement) -> String {
    Printer.statement(statement, 0)
}

/// Prints one tabular operator (without the leading `|`).
pub fn print_operator(op: &Operator) -> String {
    Printer.operator(op, 0)
}

pub(crate) struct Printer;

pub(crate) fn pad(indent: usize) -> String {
    "    ".repeat(indent)
}

pub(crate) fn join<T>(items: &[T], sep: &str, mut f: impl FnMut(&T) -> String) -> String {
    items.iter().map(&mut f).collect::<Vec<_>>().join(sep)
}

/// A plain (unquoted) name.
fn name_of(e: &Expr) -> Option<&str> {
    match &e.kind {
        ExprKind::Name(n) if !n.quoted => Some(&n.name),
        _ => None,
    }
}

pub(crate) fn ident(id: &Ident) -> String {
    if id.quoted {
        let mut s = String::from("['");
        for c in id.name.chars() {
            match c {
                '\'' => s.push_str("\\'"),
                '\\' => s.push_str("\\\\"),
                '\n' => s.push_str("\\n"),
                '\r' => s.push_str("\\r"),
                '\t' => s.push_str("\\t"),
                c => s.push(c),
            }
        }
        s.push_str("']");
        s
    } else {
        id.name.clone()
    }
}

fn escape_quoted(value: &str, quote: char) -> String {
    let mut s = String::with_capacity(value.len() + 2);
    s.push(quote);
    for c in value.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            c if c == quote => {
                s.push('\\');
                s.push(c);
            }
            c if c.is_control() => s.push_str(&format!("\\u{:04x}", c as u32)),
            c => s.push(c),
        }
    }
    s.push(quote);
    s
}

fn string_part(part: &StringPart) -> String {
    let h = if part.obfuscated { "h" } else { "" };
    let body = match part.kind {
        StringKind::SingleQuoted => escape_quoted(&part.value, '\''),
        StringKind::DoubleQuoted => escape_quoted(&part.value, '"'),
        StringKind::VerbatimSingle => format!("@'{}'", part.value.replace('\'', "''")),
        StringKind::VerbatimDouble => format!("@\"{}\"", part.value.replace('"', "\"\"")),
        StringKind::MultiLine => {
            let fence = if part.value.contains("```") { "~~~" } else { "```" };
            format!("{fence}{}{fence}", part.value)
        }
    };
    format!("{h}{body}")
}

fn real(v: &RealValue) -> String {
    match v {
        RealValue::Null => "real(null)".into(),
        RealValue::NaN => "real(nan)".into(),
        RealValue::PosInf => "real(+inf)".into(),
        RealValue::NegInf => "real(-inf)".into(),
        RealValue::Finite(f) if f.is_sign_negative() => format!("real({f:?})"),
        RealValue::Finite(f) => format!("{f:?}"),
    }
}

pub(crate) fn literal(value: &LiteralValue) -> String {
    match value {
        LiteralValue::Bool(Some(b)) => b.to_string(),
        LiteralValue::Bool(None) => "bool(null)".into(),
        LiteralValue::Int(Some(v)) => format!("int({v})"),
        LiteralValue::Int(None) => "int(null)".into(),
        LiteralValue::Long(Some(v)) if *v >= 0 => v.to_string(),
        LiteralValue::Long(Some(v)) => format!("long({v})"),
        LiteralValue::Long(None) => "long(null)".into(),
        LiteralValue::Real(r) => real(r),
        LiteralValue::Decimal(Some(t)) => format!("decimal({t})"),
        LiteralValue::Decimal(None) => "decimal(null)".into(),
        LiteralValue::String(s) => {
            if s.parts.is_empty() {
                quote_string(&s.value)
            } else {
                join(&s.parts, " ", string_part)
            }
        }
        LiteralValue::Datetime(Some(t)) => format!("datetime({t})"),
        LiteralValue::Datetime(None) => "datetime(null)".into(),
        LiteralValue::Timespan(t) => t.text.clone(),
        LiteralValue::Guid(Some(g)) => format!("guid({g})"),
        LiteralValue::Guid(None) => "guid(null)".into(),
        LiteralValue::Dynamic(d) => format!("dynamic({})", dynamic(d)),
    }
}

fn dynamic(d: &DynamicValue) -> String {
    match d {
        DynamicValue::Null(_) => "null".into(),
        DynamicValue::Scalar(lit) => match &lit.value {
            // Inside dynamic, a negative number is written plainly.
            LiteralValue::Long(Some(v)) => v.to_string(),
            LiteralValue::Real(RealValue::Finite(f)) => format!("{f:?}"),
            v => literal(v),
        },
        DynamicValue::Array { items, .. } => format!("[{}]", join(items, ", ", dynamic)),
        DynamicValue::Object { entries, .. } => {
            format!(
                "{{{}}}",
                join(entries, ", ", |e| format!(
                    "{}: {}",
                    quote_string(&e.key),
                    dynamic(&e.value)
                ))
            )
        }
    }
}

pub(crate) fn binary_op(op: BinaryOp) -> &'static str {
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

pub(crate) fn in_op(op: InOp) -> &'static str {
    match op {
        InOp::In => "in",
        InOp::NotIn => "!in",
        InOp::InCi => "in~",
        InOp::NotInCi => "!in~",
        InOp::HasAny => "has_any",
        InOp::HasAll => "has_all",
    }
}

pub(crate) fn column_decl(d: &ColumnDecl, printer: &Printer, indent: usize) -> String {
    let mut s = format!("{}:{}", ident(&d.name), d.ty.name);
    if let Some(def) = &d.default {
        s.push_str(&format!(" = {}", printer.expr(def, indent)));
    }
    s
}

pub(crate) fn schema(s: &TableSchema, printer: &Printer, indent: usize) -> String {
    let mut items: Vec<String> = s.columns.iter().map(|c| column_decl(c, printer, indent)).collect();
    if s.wildcard {
        items.push("*".into());
    }
    format!("({})", items.join(", "))
}

impl Printer {
    pub(crate) fn statements(&self, statements: &[Statement], indent: usize) -> String {
        let mut out = String::new();
        for (i, s) in statements.iter().enumerate() {
            if i > 0 {
                out.push_str(&pad(indent));
            }
            out.push_str(&self.statement(s, indent));
            if i + 1 < statements.len() {
                out.push(';');
            }
            out.push('\n');
        }
        out
    }

    pub(crate) fn statement(&self, s: &Statement, indent: usize) -> String {
        match s {
            Statement::Let(l) => {
                let value = match &l.value {
                    LetValue::Expr(e) => self.top_expr(e, indent),
                    LetValue::Function(f) => self.function_def(f, indent),
                    LetValue::EntityGroup(g) => self.entity_group(g, indent),
                };
                format!("let {} = {value}", ident(&l.name))
            }
            Statement::QueryParameters(q) => format!(
                "declare query_parameters({})",
                join(&q.params, ", ", |d| column_decl(d, self, indent))
            ),
            Statement::Pattern(p) => self.pattern(p, indent),
            Statement::Set(s) => match &s.value {
                Some(v) => format!("set {} = {}", s.name.name, self.expr(v, indent)),
                None => format!("set {}", s.name.name),
            },
            Statement::Alias(a) => format!("alias database {} = {}", ident(&a.name), self.expr(&a.value, indent)),
            Statement::RestrictAccess(r) => {
                format!(
                    "restrict access to ({})",
                    join(&r.entities, ", ", |e| self.expr(e, indent))
                )
            }
            Statement::Expr(e) => self.top_expr(e, indent),
        }
    }

    pub(crate) fn entity_group(&self, g: &EntityGroup, indent: usize) -> String {
        format!("entity_group [{}]", join(&g.entities, ", ", |e| self.expr(e, indent)))
    }

    fn pattern(&self, p: &PatternStatement, indent: usize) -> String {
        let Some(def) = &p.definition else {
            return format!("declare pattern {}", ident(&p.name));
        };
        let mut s = format!(
            "declare pattern {} = ({})",
            ident(&p.name),
            join(&def.params, ", ", |d| column_decl(d, self, indent))
        );
        if let Some(path) = &def.path_param {
            s.push_str(&format!("[{}]", column_decl(path, self, indent)));
        }
        s.push_str(" {\n");
        for rule in &def.rules {
            s.push_str(&pad(indent + 1));
            s.push_str(&format!("({})", join(&rule.args, ", ", |e| self.expr(e, indent + 1))));
            if let Some(path) = &rule.path {
                s.push_str(&format!(".[{}]", self.expr(path, indent + 1)));
            }
            s.push_str(&format!(" = {};\n", self.function_body(&rule.body, indent + 1)));
        }
        s.push_str(&pad(indent));
        s.push('}');
        s
    }

    pub(crate) fn function_def(&self, f: &FunctionDef, indent: usize) -> String {
        let params = join(&f.params, ", ", |p| match &p.kind {
            FunctionParamKind::Scalar { ty, default } => match default {
                Some(d) => format!("{}:{} = {}", ident(&p.name), ty.name, self.expr(d, indent)),
                None => format!("{}:{}", ident(&p.name), ty.name),
            },
            FunctionParamKind::Tabular { schema: s } => format!("{}:{}", ident(&p.name), schema(s, self, indent)),
        });
        let view = if f.view { "view " } else { "" };
        format!("{view}({params}) {}", self.function_body(&f.body, indent))
    }

    pub(crate) fn function_body(&self, body: &FunctionBody, indent: usize) -> String {
        if body.statements.is_empty() {
            return "{ }".into();
        }
        let inner = self.statements(&body.statements, indent + 1);
        format!("{{\n{}{}{}}}", pad(indent + 1), inner, pad(indent))
    }

    /// A statement-level expression: pipelines always one operator per line.
    pub(crate) fn top_expr(&self, e: &Expr, indent: usize) -> String {
        match &e.kind {
            ExprKind::Pipe(p) => self.pipeline_multiline(p, indent),
            _ => self.expr(e, indent),
        }
    }

    pub(crate) fn pipeline_inline(&self, p: &Pipeline, indent: usize) -> String {
        let mut parts = Vec::new();
        if let Some(input) = &p.input {
            parts.push(self.expr(input, indent));
        }
        parts.extend(p.operators.iter().map(|op| self.operator(op, indent)));
        parts.join(" | ")
    }

    pub(crate) fn pipeline_multiline(&self, p: &Pipeline, indent: usize) -> String {
        let mut s = String::new();
        let mut first = true;
        if let Some(input) = &p.input {
            s.push_str(&self.expr(input, indent));
            first = false;
        }
        for op in &p.operators {
            if !first {
                s.push('\n');
                s.push_str(&pad(indent));
                s.push_str("| ");
            }
            first = false;
            s.push_str(&self.operator(op, indent));
        }
        s
    }

    /// A nested pipeline (inside parentheses): inline when short.
    pub(crate) fn nested_pipeline(&self, p: &Pipeline, indent: usize) -> String {
        let inline = self.pipeline_inline(p, indent);
        if inline.len() <= INLINE_WIDTH && !inline.contains('\n') {
            return inline;
        }
        format!(
            "\n{}{}\n{}",
            pad(indent + 1),
            self.pipeline_multiline(p, indent + 1),
            pad(indent)
        )
    }

    pub(crate) fn expr(&self, e: &Expr, indent: usize) -> String {
        match &e.kind {
            ExprKind::Literal(l) => literal(&l.value),
            ExprKind::Name(id) => ident(id),
            ExprKind::Pattern(p) => p.pattern.clone(),
            ExprKind::Star => "*".into(),
            ExprKind::Paren(inner) => match &inner.kind {
                ExprKind::Pipe(p) => format!("({})", self.nested_pipeline(p, indent)),
                _ => format!("({})", self.expr(inner, indent)),
            },
            ExprKind::Unary(u) => {
                let op = match u.op {
                    UnaryOp::Neg => "-",
                    UnaryOp::Plus => "+",
                };
                let operand = self.expr(&u.operand, indent);
                // `- -x` must not print as `--x` (that reads as an edge in graph patterns).
                if operand.starts_with(['-', '+']) {
                    format!("{op} {operand}")
                } else {
                    format!("{op}{operand}")
                }
            }
            ExprKind::Binary(_)
            | ExprKind::In(_)
            | ExprKind::Between(_)
            | ExprKind::Member(_)
            | ExprKind::Index(_)
            | ExprKind::Call(_) => self.spine(e, indent),
            ExprKind::TypeOf(TableSchemaOrType::Type(t)) => format!("typeof({})", t.name),
            ExprKind::TypeOf(TableSchemaOrType::Schema(s)) => format!("typeof{}", schema(s, self, indent)),
            ExprKind::Pipe(p) => self.nested_pipeline(p, indent),
            ExprKind::Error => "<error>".into(),
        }
    }

    /// Operator chains (`a or b or c`) and postfix chains (`a.b[0].c`) are left-deep trees
    /// as long as the query: walk them with a loop, not recursion.
    fn spine(&self, e: &Expr, indent: usize) -> String {
        let mut suffixes = Vec::new();
        let mut cur = e;
        loop {
            match &cur.kind {
                ExprKind::Binary(b) => {
                    let right = self.expr(&b.right, indent);
                    if b.op == BinaryOp::Sub
                        && name_of(&b.left).is_some_and(crate::parser::is_operator_name)
                        && right.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                    {
                        // `parse-where` read as `parse - where` (names, not the operator,
                        // because the glued word is not one): spaced, `parse` would start
                        // the operator.
                        suffixes.push(format!("-{right}"));
                    } else {
                        suffixes.push(format!(" {} {right}", binary_op(b.op)));
                    }
                    cur = &b.left;
                }
                ExprKind::In(i) => {
                    let items = join(&i.items, ", ", |x| self.list_item(x, indent));
                    suffixes.push(format!(" {} ({items})", in_op(i.op)));
                    cur = &i.left;
                }
                ExprKind::Between(b) => {
                    let kw = if b.negated { "!between" } else { "between" };
                    suffixes.push(format!(
                        " {kw} ({} .. {})",
                        self.expr(&b.low, indent),
                        self.expr(&b.high, indent)
                    ));
                    cur = &b.left;
                }
                ExprKind::Member(m) => {
                    suffixes.push(format!(".{}", ident(&m.name)));
                    cur = &m.target;
                }
                ExprKind::Index(i) => {
                    suffixes.push(format!("[{}]", self.expr(&i.index, indent)));
                    cur = &i.target;
                }
                ExprKind::Call(c) => {
                    suffixes.push(self.call_suffix(c, indent));
                    match &c.receiver {
                        Some(r) => {
                            suffixes.push(".".into());
                            cur = r;
                        }
                        None => return suffixes.iter().rev().map(String::as_str).collect(),
                    }
                }
                _ => break,
            }
        }
        let mut s = self.expr(cur, indent);
        for suffix in suffixes.iter().rev() {
            s.push_str(suffix);
        }
        s
    }

    /// `name(args)` without the receiver.
    fn call_suffix(&self, c: &Call, indent: usize) -> String {
        let args = join(&c.args, ", ", |a| match &a.name {
            Some(n) => format!("{}={}", ident(n), self.list_item(&a.value, indent)),
            None => self.list_item(&a.value, indent),
        });
        format!("{}({args})", ident(&c.name))
    }

    /// A list item or argument, which may be a bare pipeline.
    pub(crate) fn list_item(&self, e: &Expr, indent: usize) -> String {
        self.expr(e, indent)
    }

    pub(crate) fn call(&self, c: &Call, indent: usize) -> String {
        match &c.receiver {
            Some(r) => format!("{}.{}", self.expr(r, indent), self.call_suffix(c, indent)),
            None => self.call_suffix(c, indent),
        }
    }

    pub(crate) fn named(&self, n: &NamedExpr, indent: usize) -> String {
        let e = self.expr(&n.expr, indent);
        match &n.name {
            None => e,
            Some(Assignee::Single(id)) => format!("{} = {e}", ident(id)),
            Some(Assignee::Tuple { names, .. }) => format!("({}) = {e}", join(names, ", ", ident)),
        }
    }

    pub(crate) fn named_list(&self, items: &[NamedExpr], indent: usize) -> String {
        join(items, ", ", |n| self.named(n, indent))
    }

    pub(crate) fn params(&self, params: &[OperatorParam], indent: usize) -> String {
        params
            .iter()
            .map(|p| format!("{}={} ", p.name.name, self.expr(&p.value, indent)))
            .collect()
    }

    pub(crate) fn properties(&self, props: &[Property], indent: usize) -> String {
        join(props, ", ", |p| {
            format!("{}={}", p.name.name, join(&p.values, ", ", |v| self.expr(v, indent)))
        })
    }

    pub(crate) fn sort_key(&self, k: &SortKey, indent: usize) -> String {
        let mut s = self.expr(&k.expr, indent);
        match k.order {
            Some(SortOrder::Asc) => s.push_str(" asc"),
            Some(SortOrder::Desc) => s.push_str(" desc"),
            None => {}
        }
        match k.nulls {
            Some(NullsOrder::First) => s.push_str(" nulls first"),
            Some(NullsOrder::Last) => s.push_str(" nulls last"),
            None => {}
        }
        s
    }
}
