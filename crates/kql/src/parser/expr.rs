//! Expressions: the Pratt parser, primaries, calls and names (literals in literal.rs, lists and declarations in lists.rs).

use super::{Context, MAX_EXPR_DEPTH, Parser};
use crate::ast::*;
use crate::diagnostic::Diagnostic;
use crate::lexer::TokenKind;
use crate::span::Span;

/// Binding powers, lowest first.
const PREC_OR: u8 = 1;
const PREC_AND: u8 = 2;
const PREC_EQUALITY: u8 = 3;
const PREC_RELATIONAL: u8 = 4;
const PREC_ADDITIVE: u8 = 5;
const PREC_MULTIPLICATIVE: u8 = 6;

#[derive(Clone, Copy)]
enum Infix {
    Binary(BinaryOp),
    In(InOp),
    Between(bool),
}

/// Type names accepted in schemas, `typeof(…)` and `to typeof(…)`.
pub(crate) const TYPE_NAMES: &[&str] = &[
    "bool", "boolean", "datetime", "date", "decimal", "dynamic", "guid", "uuid", "uniqueid", "int", "int32", "long",
    "int64", "real", "double", "string", "timespan", "time",
];

fn string_op(word: &str) -> Option<BinaryOp> {
    use BinaryOp::*;
    Some(match word {
        "has" => Has,
        "!has" => NotHas,
        "has_cs" => HasCs,
        "!has_cs" => NotHasCs,
        "hasprefix" => HasPrefix,
        "!hasprefix" => NotHasPrefix,
        "hasprefix_cs" => HasPrefixCs,
        "!hasprefix_cs" => NotHasPrefixCs,
        "hassuffix" => HasSuffix,
        "!hassuffix" => NotHasSuffix,
        "hassuffix_cs" => HasSuffixCs,
        "!hassuffix_cs" => NotHasSuffixCs,
        "contains" => Contains,
        "!contains" => NotContains,
        "contains_cs" => ContainsCs,
        "!contains_cs" => NotContainsCs,
        "startswith" => StartsWith,
        "!startswith" => NotStartsWith,
        "startswith_cs" => StartsWithCs,
        "!startswith_cs" => NotStartsWithCs,
        "endswith" => EndsWith,
        "!endswith" => NotEndsWith,
        "endswith_cs" => EndsWithCs,
        "!endswith_cs" => NotEndsWithCs,
        _ => return None,
    })
}

impl Parser<'_> {
    // --- pipelines ----------------------------------------------------------------------

    /// An expression that may be a pipeline (`T | where …`), where a `|` cannot belong to an
    /// enclosing operator: statements, parentheses, call arguments, list items.
    pub(crate) fn parse_pipe_expr(&mut self, ctx: Context) -> Expr {
        if !self.enter() {
            return self.error_expr(self.cur_span());
        }
        let e = self.parse_pipe_expr_inner(ctx);
        self.leave();
        if !matches!(
            self.peek_kind(),
            None | Some(
                TokenKind::Comma
                    | TokenKind::RParen
                    | TokenKind::RBracket
                    | TokenKind::RBrace
                    | TokenKind::Semicolon
                    | TokenKind::Pipe
            )
        ) {
            self.unexpected_fragment();
        }
        e
    }

    fn parse_pipe_expr_inner(&mut self, ctx: Context) -> Expr {
        let start = self.cur_span().start;
        let mut operators = Vec::new();
        let input = if let Some(op) = self.try_source_operator() {
            operators.push(op);
            None
        } else if self.at_operator_start() {
            if ctx == Context::Statement {
                let span = self.cur_span();
                self.error("KS174", "The operator cannot be the first operator in a query.", span);
            }
            match self.parse_operator() {
                Some(op) => operators.push(op),
                None => self.skip_to_recovery(),
            }
            None
        } else if self.at(TokenKind::Pipe) {
            Some(self.missing_expr())
        } else {
            Some(self.parse_expr())
        };
        while self.at(TokenKind::Pipe) {
            let pipe = self.cur_span();
            self.bump();
            match self.parse_operator() {
                Some(op) => operators.push(op),
                None => self.skip_to_recovery(),
            }
            if !matches!(
                self.peek_kind(),
                None | Some(
                    TokenKind::Pipe
                        | TokenKind::Semicolon
                        | TokenKind::RParen
                        | TokenKind::RBracket
                        | TokenKind::RBrace
                        | TokenKind::Comma
                )
            ) {
                self.unexpected_fragment();
            }
            let _ = pipe;
        }
        let end = self.prev_end().max(start);
        match (input, operators.is_empty()) {
            (Some(e), true) => e,
            (None, true) => self.error_expr(Span::new(start, end)),
            (input, false) => {
                let span = Span::new(start, end);
                Expr {
                    kind: ExprKind::Pipe(Box::new(Pipeline { input, operators, span })),
                    span,
                }
            }
        }
    }

    /// A pipeline body in parentheses or braces for `fork`, `facet`, `partition`, `mv-apply`:
    /// operators applied to the rows handed in, or a full query with its own source.
    pub(crate) fn parse_sub_pipeline(&mut self) -> Pipeline {
        let start = self.cur_span().start;
        let e = self.parse_pipe_expr(Context::SubPipeline);
        match e.kind {
            ExprKind::Pipe(p) => *p,
            _ => {
                let span = e.span;
                if !matches!(e.kind, ExprKind::Error) {
                    // A bare expression is a source with no operators: keep it as the input.
                    Pipeline {
                        input: Some(e),
                        operators: Vec::new(),
                        span,
                    }
                } else {
                    Pipeline {
                        input: None,
                        operators: Vec::new(),
                        span: Span::new(start, self.prev_end().max(start)),
                    }
                }
            }
        }
    }

    // --- expressions --------------------------------------------------------------------

    /// A scalar expression (no `|`).
    pub(crate) fn parse_expr(&mut self) -> Expr {
        if !self.enter() {
            return self.error_expr(self.cur_span());
        }
        let e = self.parse_binary(PREC_OR);
        self.leave();
        e
    }

    /// Runs `f` and returns the depth of the deepest expression it completed.
    fn measured<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> (T, u32) {
        let saved = self.depth_acc;
        self.depth_acc = 0;
        let r = f(self);
        let d = self.depth_acc;
        self.depth_acc = saved;
        (r, d)
    }

    fn record_depth(&mut self, depth: u32) -> bool {
        self.depth_acc = self.depth_acc.max(depth);
        if depth > MAX_EXPR_DEPTH && !self.too_deep {
            let span = self.cur_span();
            self.diags.push(
                Diagnostic::error(
                    "QRY003",
                    format!("The expression is too complex (deeper than {MAX_EXPR_DEPTH} levels)"),
                    span,
                )
                .with_help("split it, for example `x in (…)` instead of a long chain of `or`"),
            );
            self.too_deep = true;
            self.pos = self.tokens.len();
            return false;
        }
        true
    }

    fn peek_infix(&self) -> Option<(Infix, u8, usize)> {
        let t = self.peek()?;
        let bin = |op, prec| Some((Infix::Binary(op), prec, 1));
        match t.kind {
            TokenKind::EqEq => bin(BinaryOp::Eq, PREC_EQUALITY),
            TokenKind::NotEq | TokenKind::LtGt => bin(BinaryOp::NotEq, PREC_EQUALITY),
            TokenKind::EqTilde => bin(BinaryOp::EqTilde, PREC_EQUALITY),
            TokenKind::BangTilde => bin(BinaryOp::NotEqTilde, PREC_EQUALITY),
            TokenKind::Lt => bin(BinaryOp::Lt, PREC_RELATIONAL),
            TokenKind::Le => bin(BinaryOp::Le, PREC_RELATIONAL),
            TokenKind::Gt => bin(BinaryOp::Gt, PREC_RELATIONAL),
            TokenKind::Ge => bin(BinaryOp::Ge, PREC_RELATIONAL),
            TokenKind::Plus => bin(BinaryOp::Add, PREC_ADDITIVE),
            TokenKind::Minus => bin(BinaryOp::Sub, PREC_ADDITIVE),
            TokenKind::Star => bin(BinaryOp::Mul, PREC_MULTIPLICATIVE),
            TokenKind::Slash => bin(BinaryOp::Div, PREC_MULTIPLICATIVE),
            TokenKind::Percent => bin(BinaryOp::Mod, PREC_MULTIPLICATIVE),
            TokenKind::Ident => {
                let word = self.text(t);
                match word {
                    "or" => bin(BinaryOp::Or, PREC_OR),
                    "and" => bin(BinaryOp::And, PREC_AND),
                    "matches" if self.word_at(1) == Some("regex") => {
                        Some((Infix::Binary(BinaryOp::MatchesRegex), PREC_EQUALITY, 2))
                    }
                    "in" => Some((Infix::In(InOp::In), PREC_EQUALITY, 1)),
                    "!in" => Some((Infix::In(InOp::NotIn), PREC_EQUALITY, 1)),
                    "in~" => Some((Infix::In(InOp::InCi), PREC_EQUALITY, 1)),
                    "!in~" => Some((Infix::In(InOp::NotInCi), PREC_EQUALITY, 1)),
                    "has_any" => Some((Infix::In(InOp::HasAny), PREC_EQUALITY, 1)),
                    "has_all" => Some((Infix::In(InOp::HasAll), PREC_EQUALITY, 1)),
                    "between" => Some((Infix::Between(false), PREC_EQUALITY, 1)),
                    "!between" => Some((Infix::Between(true), PREC_EQUALITY, 1)),
                    w => string_op(w).map(|op| (Infix::Binary(op), PREC_EQUALITY, 1)),
                }
            }
            _ => None,
        }
    }

    fn parse_binary(&mut self, min_prec: u8) -> Expr {
        let (mut left, mut depth) = self.measured(|p| p.parse_unary());
        while let Some((infix, prec, ntokens)) = self.peek_infix() {
            if prec < min_prec {
                break;
            }
            let op_start = self.cur_span().start;
            self.pos += ntokens;
            let op_span = Span::new(op_start, self.prev_end());
            let (node, right_depth) = self.measured(|p| match infix {
                Infix::Binary(op) => {
                    let right = p.parse_binary(prec + 1);
                    let span = left.span.to(right.span);
                    let left = std::mem::replace(&mut left, p.error_expr(span));
                    Expr {
                        kind: ExprKind::Binary(Box::new(BinaryExpr {
                            op,
                            op_span,
                            left,
                            right,
                        })),
                        span,
                    }
                }
                Infix::In(op) => {
                    let (items, list_span) = p.parse_in_list();
                    let span = left.span.to(list_span).to(op_span);
                    let left = std::mem::replace(&mut left, p.error_expr(span));
                    Expr {
                        kind: ExprKind::In(Box::new(InExpr {
                            op,
                            op_span,
                            left,
                            items,
                            list_span,
                        })),
                        span,
                    }
                }
                Infix::Between(negated) => {
                    let (low, high, end) = p.parse_between_range();
                    let span = left.span.to(end).to(op_span);
                    let left = std::mem::replace(&mut left, p.error_expr(span));
                    Expr {
                        kind: ExprKind::Between(Box::new(BetweenExpr {
                            negated,
                            op_span,
                            left,
                            low,
                            high,
                        })),
                        span,
                    }
                }
            });
            left = node;
            depth = depth.max(right_depth) + 1;
            if depth > MAX_EXPR_DEPTH {
                break;
            }
        }
        if !self.record_depth(depth) {
            return self.error_expr(left.span);
        }
        left
    }

    /// `( item, … )` after `in`, `has_any`…
    fn parse_in_list(&mut self) -> (Vec<Expr>, Span) {
        let Some(open) = self.eat(TokenKind::LParen) else {
            self.expected("(");
            return (Vec::new(), self.missing_span());
        };
        let items = self.parse_comma_list(TokenKind::RParen, false, |p| p.parse_pipe_expr(Context::Statement));
        let close = self
            .expect_close(TokenKind::RParen, ")", open)
            .unwrap_or_else(|| self.missing_span());
        (items, open.to(close))
    }

    /// `(low .. high)` after `between`; returns the end span too.
    fn parse_between_range(&mut self) -> (Expr, Expr, Span) {
        if self.eat(TokenKind::LParen).is_none() {
            self.expected("(");
            let e = self.missing_span();
            return (self.error_expr(e), self.error_expr(e), e);
        }
        let low = self.parse_expr();
        let high = if self.expect(TokenKind::DotDot, "..").is_some() {
            self.parse_expr()
        } else {
            self.error_expr(self.missing_span())
        };
        let end = self.expect(TokenKind::RParen, ")").unwrap_or(high.span);
        (low, high, end)
    }

    /// Items separated by commas up to (not including) `close`. A trailing comma is allowed
    /// only when `allow_trailing` (datatable values); otherwise it is "Missing expression".
    pub(crate) fn parse_comma_list<T>(
        &mut self,
        close: TokenKind,
        allow_trailing: bool,
        mut item: impl FnMut(&mut Self) -> T,
    ) -> Vec<T> {
        let mut items = Vec::new();
        if self.at(close) {
            return items;
        }
        loop {
            if self.too_deep {
                break;
            }
            let before = self.pos;
            items.push(item(self));
            if self.eat(TokenKind::Comma).is_some() {
                if self.at(close) {
                    if !allow_trailing {
                        let comma = Span::new(self.prev_end() - 1, self.prev_end());
                        let span = self.missing_span();
                        self.push_diag(
                            Diagnostic::error("KS006", "Missing expression", span)
                                .with_label(comma, "this comma must be followed by another item")
                                .with_help("remove the trailing comma"),
                        );
                    }
                    break;
                }
                continue;
            }
            if self.pos == before
                || !matches!(self.peek_kind(), Some(k) if k != close && k != TokenKind::Pipe && k != TokenKind::Semicolon)
            {
                break;
            }
            // Something that is neither `,` nor the closer: report and resynchronize.
            self.unexpected_fragment();
            if !self.at(TokenKind::Comma) {
                break;
            }
            self.bump();
        }
        items
    }

    /// Prefix `-`/`+`, then a postfix expression.
    pub(crate) fn parse_unary(&mut self) -> Expr {
        let op = match self.peek_kind() {
            Some(TokenKind::Minus) => UnaryOp::Neg,
            Some(TokenKind::Plus) => UnaryOp::Plus,
            _ => return self.parse_postfix(),
        };
        let start = self.cur_span().start;
        self.bump();
        if !self.enter() {
            return self.error_expr(self.cur_span());
        }
        let (operand, d) = self.measured(|p| p.parse_unary());
        self.leave();
        self.record_depth(d + 1);
        let span = Span::new(start, operand.span.end.max(start));
        Expr {
            kind: ExprKind::Unary(Box::new(UnaryExpr { op, operand })),
            span,
        }
    }

    /// A primary followed by `.name`, `.f(args)`, `[index]`.
    pub(crate) fn parse_postfix(&mut self) -> Expr {
        let (mut e, inner) = self.measured(|p| p.parse_primary());
        let mut depth = inner + 1;
        loop {
            if self.at(TokenKind::Dot) && !matches!(e.kind, ExprKind::Error) {
                let next = self.kind_at(1);
                let name_next = next == Some(TokenKind::Ident)
                    || (next == Some(TokenKind::LBracket)
                        && self.kind_at(2) == Some(TokenKind::String)
                        && self.kind_at(3) == Some(TokenKind::RBracket));
                if next == Some(TokenKind::LBracket) && !name_next {
                    // `x.[expr]` is an element access like `x[expr]`.
                    self.bump();
                    continue;
                }
                if !name_next {
                    break;
                }
                self.bump();
                let Some(name) = self.parse_name() else { break };
                if self.at(TokenKind::LParen) && !name.quoted {
                    let (args, args_span, d) = {
                        let ((a, s), d) = self.measured(|p| p.parse_call_args());
                        (a, s, d)
                    };
                    let span = e.span.to(args_span);
                    depth = depth.max(d) + 1;
                    e = Expr {
                        kind: ExprKind::Call(Box::new(Call {
                            receiver: Some(e),
                            name,
                            args,
                            args_span,
                        })),
                        span,
                    };
                } else {
                    let span = e.span.to(name.span);
                    e = Expr {
                        kind: ExprKind::Member(Box::new(MemberExpr { target: e, name })),
                        span,
                    };
                    depth += 1;
                }
            } else if self.at(TokenKind::LBracket) && !matches!(e.kind, ExprKind::Error) {
                self.bump();
                let (index, d) = self.measured(|p| p.parse_expr());
                let close = self.expect(TokenKind::RBracket, "]").unwrap_or(index.span);
                let span = e.span.to(close);
                depth = depth.max(d) + 1;
                e = Expr {
                    kind: ExprKind::Index(Box::new(IndexExpr { target: e, index })),
                    span,
                };
            } else {
                break;
            }
            if depth > MAX_EXPR_DEPTH {
                break;
            }
        }
        if !self.record_depth(depth) {
            return self.error_expr(e.span);
        }
        e
    }

    /// True for a word that starts a literal: `true`, `false`, `int(`, `dynamic(`, `typeof(`…
    pub(crate) fn at_typed_literal_word(&self) -> bool {
        let Some(w) = self.word_at(0) else { return false };
        matches!(w, "true" | "false" | "True" | "False" | "TRUE" | "FALSE")
            || (self.kind_at(1) == Some(TokenKind::LParen)
                && matches!(
                    w,
                    "bool" | "boolean" | "int" | "long" | "real" | "double" | "decimal" | "dynamic" | "typeof"
                ))
    }

    fn parse_primary(&mut self) -> Expr {
        let Some(t) = self.peek() else {
            return self.missing_expr();
        };
        match t.kind {
            TokenKind::Long | TokenKind::Real | TokenKind::Timespan | TokenKind::TypedLiteral => {
                self.bump();
                let value = self.token_literal(t);
                Expr {
                    kind: ExprKind::Literal(Literal { value, span: t.span }),
                    span: t.span,
                }
            }
            TokenKind::String => {
                let lit = self.parse_string_literal();
                let span = lit.span;
                Expr {
                    kind: ExprKind::Literal(lit),
                    span,
                }
            }
            TokenKind::Star => {
                self.bump();
                Expr {
                    kind: ExprKind::Star,
                    span: t.span,
                }
            }
            TokenKind::LParen => {
                self.bump();
                let inner = self.parse_pipe_expr(Context::Statement);
                let close = self.expect_close(TokenKind::RParen, ")", t.span).unwrap_or(inner.span);
                let span = t.span.to(close);
                Expr {
                    kind: ExprKind::Paren(Box::new(inner)),
                    span,
                }
            }
            TokenKind::LBracket if self.at_name() => {
                let name = self.parse_name().unwrap_or(Ident {
                    name: String::new(),
                    span: t.span,
                    quoted: true,
                });
                let span = name.span;
                Expr {
                    kind: ExprKind::Name(name),
                    span,
                }
            }
            TokenKind::Ident => self.parse_word_primary(),
            TokenKind::Error => {
                // A malformed token: the lexer reported it.
                self.bump();
                Expr {
                    kind: ExprKind::Error,
                    span: t.span,
                }
            }
            _ => self.missing_expr(),
        }
    }

    fn parse_word_primary(&mut self) -> Expr {
        let Some(t) = self.peek() else {
            return self.missing_expr();
        };
        let word = self.text(t);
        if let Some(b) = match word {
            "true" | "True" | "TRUE" => Some(true),
            "false" | "False" | "FALSE" => Some(false),
            _ => None,
        } {
            self.bump();
            return lit_expr(LiteralValue::Bool(Some(b)), t.span);
        }
        if self.kind_at(1) == Some(TokenKind::LParen) {
            match word {
                "bool" | "boolean" | "int" | "long" | "real" | "double" | "decimal" => {
                    return self.parse_typed_number_literal(word);
                }
                "dynamic" => return self.parse_dynamic_literal(),
                "typeof" => return self.parse_typeof(),
                _ => {}
            }
            let name = Ident {
                name: word.to_string(),
                span: t.span,
                quoted: false,
            };
            self.bump();
            let (args, args_span) = self.parse_call_args();
            let span = t.span.to(args_span);
            return Expr {
                kind: ExprKind::Call(Box::new(Call {
                    receiver: None,
                    name,
                    args,
                    args_span,
                })),
                span,
            };
        }
        if let Some(lit) = self.source_word_as_name_guard() {
            return lit;
        }
        self.bump();
        let name = Ident {
            name: word.to_string(),
            span: t.span,
            quoted: false,
        };
        Expr {
            kind: ExprKind::Name(name),
            span: t.span,
        }
    }

    /// Words that can never be a plain name in expression position (`by`, `on`…) are
    /// reported as a missing expression instead of being silently taken as column names.
    fn source_word_as_name_guard(&mut self) -> Option<Expr> {
        let word = self.word_at(0)?;
        if matches!(
            word,
            "and" | "or" | "by" | "on" | "with" | "of" | "to" | "step" | "from"
        ) {
            // `from`/`to`/`step` are allowed names in Kusto only when bracketed in
            // expressions that also use those keywords; everywhere they would end an
            // expression, so a missing operand is the better report.
            let next = self.kind_at(1);
            let looks_like_name = matches!(
                next,
                Some(
                    TokenKind::Comma
                        | TokenKind::RParen
                        | TokenKind::EqEq
                        | TokenKind::NotEq
                        | TokenKind::Dot
                        | TokenKind::Assign
                        | TokenKind::Plus
                        | TokenKind::Star
                        | TokenKind::Slash
                        | TokenKind::Lt
                        | TokenKind::Gt
                        | TokenKind::Le
                        | TokenKind::Ge
                )
            );
            if !looks_like_name || matches!(word, "and" | "or" | "by" | "on" | "with") {
                return Some(self.missing_expr());
            }
        }
        None
    }

    /// `( [name =] arg, … )`
    pub(crate) fn parse_call_args(&mut self) -> (Vec<Arg>, Span) {
        let Some(open) = self.eat(TokenKind::LParen) else {
            self.expected("(");
            return (Vec::new(), self.missing_span());
        };
        let args = self.parse_comma_list(TokenKind::RParen, false, |p| {
            let name = if p.at_name() && p.kind_at(p.name_token_count()) == Some(TokenKind::Assign) {
                let n = p.parse_name();
                p.bump();
                n
            } else {
                None
            };
            let value = p.parse_pipe_expr(Context::Statement);
            let span = name.as_ref().map_or(value.span, |n| n.span.to(value.span));
            Arg { name, value, span }
        });
        let close = self
            .expect_close(TokenKind::RParen, ")", open)
            .unwrap_or_else(|| self.missing_span());
        (args, open.to(close))
    }

    /// Number of tokens of the name at the cursor (1 for a word, 3 for `['…']`).
    pub(crate) fn name_token_count(&self) -> usize {
        if self.at(TokenKind::LBracket) { 3 } else { 1 }
    }
}

pub(crate) fn lit_expr(value: LiteralValue, span: Span) -> Expr {
    Expr {
        kind: ExprKind::Literal(Literal { value, span }),
        span,
    }
}
