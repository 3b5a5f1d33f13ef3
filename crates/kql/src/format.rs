//! Formatting a query's text: the pretty-printer plus its comments.
//!
//! Comments are not in the tree, so they are put back by position: each comment is
//! written on its own line before the first statement or top-level pipeline operator that
//! starts after it (a comment at the end of an operator's line moves to the line before
//! the next operator). Comments are never dropped.

use crate::ast::{ExprKind, Statement};
use crate::diagnostic::Diagnostic;
use crate::lexer::TokenKind;
use crate::print::{Printer, pad};

/// Formats `source`; `Err` with the diagnostics when it has syntax errors (a query with
/// errors is never rewritten).
pub fn format(source: &str) -> Result<String, Vec<Diagnostic>> {
    let parsed = crate::parse(source);
    if !parsed.is_ok() {
        return Err(parsed.diagnostics);
    }
    let (tokens, _) = crate::lexer::lex(source);
    let comments: Vec<(u32, &str)> = tokens
        .iter()
        .filter(|t| t.kind == TokenKind::Comment)
        .map(|t| (t.span.start, t.span.text(source).trim_end()))
        .collect();
    let mut w = Writer {
        comments,
        next: 0,
        out: String::new(),
    };
    let printer = Printer;
    let statements = &parsed.query.statements;
    for (i, s) in statements.iter().enumerate() {
        let last = i + 1 == statements.len();
        match s {
            Statement::Expr(e) if matches!(e.kind, ExprKind::Pipe(_)) => {
                let ExprKind::Pipe(p) = &e.kind else { continue };
                w.comments_before(e.span.start, 0);
                let mut first = true;
                if let Some(input) = &p.input {
                    w.out.push_str(&printer.expr(input, 0));
                    first = false;
                }
                for op in &p.operators {
                    if !first {
                        w.out.push('\n');
                        w.comments_before(op_span(op).start, 0);
                        w.out.push_str("| ");
                    }
                    first = false;
                    w.out.push_str(&printer.operator(op, 0));
                }
            }
            _ => {
                w.comments_before(statement_start(s), 0);
                w.out.push_str(&printer.statement(s, 0));
            }
        }
        if !last {
            w.out.push(';');
        }
        w.out.push('\n');
    }
    w.comments_before(u32::MAX, 0);
    Ok(w.out)
}

struct Writer<'a> {
    comments: Vec<(u32, &'a str)>,
    next: usize,
    out: String,
}

impl Writer<'_> {
    fn comments_before(&mut self, offset: u32, indent: usize) {
        while let Some((at, text)) = self.comments.get(self.next) {
            if *at >= offset {
                break;
            }
            if !self.out.is_empty() && !self.out.ends_with('\n') {
                self.out.push('\n');
            }
            self.out.push_str(&pad(indent));
            self.out.push_str(text);
            self.out.push('\n');
            self.next += 1;
        }
    }
}

fn statement_start(s: &Statement) -> u32 {
    match s {
        Statement::Let(l) => l.span.start,
        Statement::QueryParameters(q) => q.span.start,
        Statement::Pattern(p) => p.span.start,
        Statement::Set(x) => x.span.start,
        Statement::Alias(a) => a.span.start,
        Statement::RestrictAccess(r) => r.span.start,
        Statement::Expr(e) => e.span.start,
    }
}

fn op_span(op: &crate::ast::Operator) -> crate::span::Span {
    op.span()
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_comments() {
        let src = "// header\nlet a = 1; // one\nT\n// filter\n| where x==a // inline\n| take 5\n// end\n";
        let out = super::format(src).expect("valid");
        assert_eq!(
            out,
            "// header\nlet a = 1;\n// one\nT\n// filter\n| where x == a\n// inline\n| take 5\n// end\n"
        );
        assert_eq!(super::format(&out).expect("valid"), out);
    }

    #[test]
    fn refuses_errors() {
        assert!(super::format("T | where").is_err());
    }
}
