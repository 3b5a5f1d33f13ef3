//! Hand-written recursive-descent parser with a Pratt expression parser.
//!
//! Error recovery: a missing piece becomes an [`ExprKind::Error`] node (or is left out)
//! with one diagnostic, and leftover tokens are skipped to the next `|`, `;` or closing
//! bracket of the enclosing construct, so that one mistake gives one diagnostic and later
//! mistakes are still found.
//!
//! Nesting is bounded ([`MAX_NESTING`], [`MAX_EXPR_DEPTH`]) so that no input can overflow
//! the stack, here or in consumers that walk the tree recursively.

mod expr;
mod graph;
mod lists;
mod literal;
mod operators;
mod operators2;
mod statements;

use crate::ast::*;
use crate::diagnostic::Diagnostic;
use crate::lexer::{Token, TokenKind};
use crate::span::Span;

/// Maximum nesting of parentheses, calls, subqueries, unary operators… A deeper query is
/// rejected with a diagnostic.
pub const MAX_NESTING: u32 = 64;
/// Maximum depth of an expression tree (a chain `a or b or c …` counts one level per
/// operator). Consumers may rely on expression trees never being deeper than this (plus
/// [`MAX_NESTING`] levels of wrapping).
pub const MAX_EXPR_DEPTH: u32 = 1000;

/// The result of parsing: a tree (complete or recovered) and the problems found.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub query: Query,
    pub diagnostics: Vec<Diagnostic>,
}

impl Parsed {
    /// True when no diagnostic is an error.
    pub fn is_ok(&self) -> bool {
        !crate::diagnostic::has_errors(&self.diagnostics)
    }
}

/// Parses a whole query (statements separated by `;`). Never panics.
pub fn parse(source: &str) -> Parsed {
    if u32::try_from(source.len()).is_err() {
        let query = Query {
            statements: Vec::new(),
            span: Span::empty(0),
        };
        let diag = Diagnostic::error("QRY001", "The query text is too large (4 GiB or more)", Span::empty(0));
        return Parsed {
            query,
            diagnostics: vec![diag],
        };
    }
    let (all_tokens, mut diagnostics) = crate::lexer::lex(source);
    let tokens: Vec<Token> = all_tokens
        .into_iter()
        .filter(|t| t.kind != TokenKind::Comment)
        .collect();
    let mut p = Parser::new(source, tokens);
    p.lexer_errors = diagnostics.clone();
    let query = p.parse_query();
    diagnostics.append(&mut p.diags);
    diagnostics.sort_by_key(|d| (d.span.start, d.span.end));
    Parsed { query, diagnostics }
}

/// Parses a single scalar or tabular expression (no statements), e.g. a rule's
/// `where` fragment. Leftover text is reported.
pub fn parse_expression(source: &str) -> (Expr, Vec<Diagnostic>) {
    if u32::try_from(source.len()).is_err() {
        let diag = Diagnostic::error("QRY001", "The query text is too large (4 GiB or more)", Span::empty(0));
        return (
            Expr {
                kind: ExprKind::Error,
                span: Span::empty(0),
            },
            vec![diag],
        );
    }
    let (all_tokens, mut diagnostics) = crate::lexer::lex(source);
    let tokens: Vec<Token> = all_tokens
        .into_iter()
        .filter(|t| t.kind != TokenKind::Comment)
        .collect();
    let mut p = Parser::new(source, tokens);
    p.lexer_errors = diagnostics.clone();
    let e = p.parse_pipe_expr(Context::Statement);
    if !p.at_end() {
        p.unexpected_fragment();
    }
    diagnostics.append(&mut p.diags);
    diagnostics.sort_by_key(|d| (d.span.start, d.span.end));
    (e, diagnostics)
}

/// Where a pipeline is being parsed; decides whether a leading non-source operator is
/// allowed (it is in `fork`/`facet`/`partition`/`mv-apply` bodies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Context {
    /// A statement or an expression that must have an input.
    Statement,
    /// The body of `fork`, `facet`, `partition`, `mv-apply`, `make-graph … partitioned-by`.
    SubPipeline,
}

pub(crate) struct Parser<'a> {
    src: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    diags: Vec<Diagnostic>,
    nesting: u32,
    /// Set once the nesting limit was hit: everything after is skipped silently.
    too_deep: bool,
    /// Depth of the deepest expression completed in the current scope (see `expr.rs`).
    depth_acc: u32,
    /// Spans of lexer errors, so that the parser does not report them twice.
    lexer_errors: Vec<Diagnostic>,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str, tokens: Vec<Token>) -> Self {
        Parser {
            src,
            tokens,
            pos: 0,
            diags: Vec::new(),
            nesting: 0,
            too_deep: false,
            depth_acc: 0,
            lexer_errors: Vec::new(),
        }
    }

    // --- cursor -------------------------------------------------------------------------

    fn eof_span(&self) -> Span {
        Span::empty(self.src.len() as u32)
    }

    pub(crate) fn peek(&self) -> Option<Token> {
        self.tokens.get(self.pos).copied()
    }

    pub(crate) fn peek_at(&self, ahead: usize) -> Option<Token> {
        self.tokens.get(self.pos + ahead).copied()
    }

    pub(crate) fn peek_kind(&self) -> Option<TokenKind> {
        self.peek().map(|t| t.kind)
    }

    pub(crate) fn kind_at(&self, ahead: usize) -> Option<TokenKind> {
        self.peek_at(ahead).map(|t| t.kind)
    }

    pub(crate) fn at(&self, kind: TokenKind) -> bool {
        self.peek_kind() == Some(kind)
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.tokens.len()
    }

    /// Span of the current token, or an empty span at the end of the text.
    pub(crate) fn cur_span(&self) -> Span {
        self.peek().map_or_else(|| self.eof_span(), |t| t.span)
    }

    /// End offset of the previous token (where something missing "should have been").
    pub(crate) fn prev_end(&self) -> u32 {
        match self.pos.checked_sub(1).and_then(|i| self.tokens.get(i)) {
            Some(t) => t.span.end,
            None => 0,
        }
    }

    pub(crate) fn text(&self, t: Token) -> &'a str {
        t.span.text(self.src)
    }

    pub(crate) fn bump(&mut self) -> Option<Token> {
        let t = self.peek();
        if t.is_some() {
            self.pos += 1;
        }
        t
    }

    pub(crate) fn eat(&mut self, kind: TokenKind) -> Option<Span> {
        if self.at(kind) {
            self.bump().map(|t| t.span)
        } else {
            None
        }
    }

    /// True when the current token is the word `word` (case-sensitive, as in Kusto).
    pub(crate) fn at_word(&self, word: &str) -> bool {
        self.word_at(0) == Some(word)
    }

    pub(crate) fn word_at(&self, ahead: usize) -> Option<&'a str> {
        let t = self.peek_at(ahead)?;
        (t.kind == TokenKind::Ident).then(|| self.text(t))
    }

    pub(crate) fn eat_word(&mut self, word: &str) -> Option<Span> {
        if self.at_word(word) {
            self.bump().map(|t| t.span)
        } else {
            None
        }
    }

    /// A hyphenated word made of adjacent tokens starting here (`project-away`,
    /// `granny-asc`), and how many tokens it spans. Plain words give themselves.
    pub(crate) fn compound_word(&self) -> Option<(String, usize)> {
        let first = self.peek().filter(|t| t.kind == TokenKind::Ident)?;
        let mut word = self.text(first).to_string();
        let mut n = 1;
        let mut end = first.span.end;
        loop {
            match (self.peek_at(n), self.peek_at(n + 1)) {
                (Some(dash), Some(next))
                    if dash.kind == TokenKind::Minus
                        && next.kind == TokenKind::Ident
                        && dash.span.start == end
                        && next.span.start == dash.span.end =>
                {
                    word.push('-');
                    word.push_str(self.text(next));
                    end = next.span.end;
                    n += 2;
                }
                _ => return Some((word, n)),
            }
        }
    }

    /// Consumes the hyphenated word `word` if it is next; returns its span.
    pub(crate) fn eat_compound(&mut self, word: &str) -> Option<Span> {
        let (w, n) = self.compound_word()?;
        if w != word {
            return None;
        }
        let start = self.cur_span().start;
        self.pos += n;
        Some(Span::new(start, self.prev_end()))
    }

    // --- diagnostics --------------------------------------------------------------------

    pub(crate) fn error(&mut self, code: &str, message: impl Into<String>, span: Span) {
        if !self.too_deep {
            self.diags.push(Diagnostic::error(code, message, span));
        }
    }

    pub(crate) fn push_diag(&mut self, diag: Diagnostic) {
        if !self.too_deep {
            self.diags.push(diag);
        }
    }

    /// Where to report something missing: the current token, or just after the previous
    /// one at the end of the text.
    pub(crate) fn missing_span(&self) -> Span {
        let prev = self.prev_end();
        match self.peek() {
            // On a later line: the thing is missing at the end of the previous line.
            Some(t)
                if self.pos > 0
                    && self
                        .src
                        .get(prev as usize..t.span.start as usize)
                        .is_some_and(|g| g.contains('\n')) =>
            {
                Span::empty(prev)
            }
            Some(t) => Span::empty(t.span.start),
            None => Span::empty(prev),
        }
    }

    /// "Expected: {what}" at the current position.
    pub(crate) fn expected(&mut self, what: &str) {
        let span = self.missing_span();
        self.error("KS005", format!("Expected: {what}"), span);
    }

    /// Consumes `kind` or reports "Expected: {what}" (without consuming anything).
    pub(crate) fn expect(&mut self, kind: TokenKind, what: &str) -> Option<Span> {
        let got = self.eat(kind);
        if got.is_none() {
            self.expected(what);
        }
        got
    }

    /// Consumes the closing bracket `kind` matching `open`, or reports it missing with a
    /// label on the opening one.
    pub(crate) fn expect_close(&mut self, kind: TokenKind, what: &str, open: Span) -> Option<Span> {
        let got = self.eat(kind);
        if got.is_none() {
            let span = self.missing_span();
            self.push_diag(
                Diagnostic::error("KS005", format!("Expected: {what}"), span)
                    .with_label(open, "this bracket is not closed"),
            );
        }
        got
    }

    pub(crate) fn expect_word(&mut self, word: &str) -> Option<Span> {
        let got = self.eat_word(word);
        if got.is_none() {
            self.expected(word);
        }
        got
    }

    /// An error node at the current position, after reporting "Missing expression".
    pub(crate) fn missing_expr(&mut self) -> Expr {
        let span = self.missing_span();
        let mut diag = Diagnostic::error("KS006", "Missing expression", span);
        if let Some(t) = self.peek()
            && t.kind == TokenKind::Ident
        {
            let word = self.text(t);
            if crate::lexer::is_keyword(word) {
                diag = Diagnostic::error(
                    "KS006",
                    format!(
                        "Missing expression: If the keyword '{word}' is intended to be part of an expression it needs to be bracketted as ['{word}']."
                    ),
                    span,
                );
            }
        }
        self.push_diag(diag);
        Expr {
            kind: ExprKind::Error,
            span,
        }
    }

    /// Reports the tokens from here to the next recovery point as unexpected and skips them.
    pub(crate) fn unexpected_fragment(&mut self) {
        let start = self.cur_span().start;
        let before = self.pos;
        let first = self.peek();
        self.skip_to_recovery();
        if self.pos == before {
            return;
        }
        // Tokens right after an error already reported (an unterminated string, a missing
        // operand) are its consequence, not a new mistake.
        let already = self
            .diags
            .iter()
            .chain(self.lexer_errors.iter())
            .any(|d| d.span.start == start || (d.span.start <= start && start < d.span.end.max(d.span.start + 1)))
            || first.is_some_and(|t| t.kind == TokenKind::Error);
        if already {
            return;
        }
        let end = self.prev_end().max(start);
        self.error("KS198", "The incomplete fragment is unexpected.", Span::new(start, end));
    }

    /// Skips tokens (balancing brackets) up to, not including, the next `|` or `;` at this
    /// level, or a closing bracket that belongs to an enclosing construct.
    pub(crate) fn skip_to_recovery(&mut self) {
        let mut depth = 0usize;
        while let Some(t) = self.peek() {
            match t.kind {
                TokenKind::LParen | TokenKind::LBracket | TokenKind::LBrace => depth += 1,
                TokenKind::RParen | TokenKind::RBracket | TokenKind::RBrace => {
                    if depth == 0 {
                        return;
                    }
                    depth -= 1;
                }
                TokenKind::Pipe | TokenKind::Semicolon if depth == 0 => return,
                _ => {}
            }
            self.pos += 1;
        }
    }

    // --- nesting ------------------------------------------------------------------------

    /// Enters one nesting level; false (with one diagnostic for the whole query) when the
    /// limit is reached, in which case the caller must not recurse.
    pub(crate) fn enter(&mut self) -> bool {
        if self.too_deep {
            return false;
        }
        if self.nesting >= MAX_NESTING {
            let span = self.cur_span();
            self.diags.push(
                Diagnostic::error(
                    "QRY002",
                    format!("The query is nested too deeply (more than {MAX_NESTING} levels)"),
                    span,
                )
                .with_help("simplify the query, for example with `let` statements"),
            );
            self.too_deep = true;
            // Nothing after this point can be parsed reliably.
            self.pos = self.tokens.len();
            return false;
        }
        self.nesting += 1;
        true
    }

    pub(crate) fn leave(&mut self) {
        self.nesting = self.nesting.saturating_sub(1);
    }

    pub(crate) fn error_expr(&self, span: Span) -> Expr {
        Expr {
            kind: ExprKind::Error,
            span,
        }
    }

    // --- names --------------------------------------------------------------------------

    /// A name: a word, or a bracketed name `['…']`/`["…"]`.
    pub(crate) fn at_name(&self) -> bool {
        match self.peek_kind() {
            Some(TokenKind::Ident) => true,
            Some(TokenKind::LBracket) => {
                self.kind_at(1) == Some(TokenKind::String) && self.kind_at(2) == Some(TokenKind::RBracket)
            }
            _ => false,
        }
    }

    pub(crate) fn parse_name(&mut self) -> Option<Ident> {
        match self.peek_kind() {
            Some(TokenKind::Ident) => {
                let t = self.bump()?;
                Some(Ident {
                    name: self.text(t).to_string(),
                    span: t.span,
                    quoted: false,
                })
            }
            Some(TokenKind::LBracket) if self.at_name() => {
                let open = self.bump()?;
                let s = self.bump()?;
                let close = self.bump()?;
                let value = self.string_value(s);
                Some(Ident {
                    name: value,
                    span: open.span.to(close.span),
                    quoted: true,
                })
            }
            _ => None,
        }
    }

    /// A name or "Missing name" (an empty name at the current position).
    pub(crate) fn expect_name(&mut self) -> Ident {
        match self.parse_name() {
            Some(id) => id,
            None => {
                let span = self.missing_span();
                self.error("KS006", "Missing name", span);
                Ident {
                    name: String::new(),
                    span,
                    quoted: false,
                }
            }
        }
    }

    pub(crate) fn string_value(&self, t: Token) -> String {
        match crate::literals::string_token_parts(self.text(t)) {
            Some((kind, _, body)) => crate::literals::unescape(kind, body),
            None => String::new(),
        }
    }

    /// Parses `name = value` parameters whose names match `allowed` (an entry ending in
    /// `*` matches by prefix: `hint.*`).
    pub(crate) fn parse_params(&mut self, allowed: &[&str]) -> Vec<OperatorParam> {
        let mut params = Vec::new();
        while let Some((name, n)) = self.dotted_word() {
            let matches = allowed.iter().any(|a| match a.strip_suffix('*') {
                Some(prefix) => name.starts_with(prefix),
                None => *a == name,
            });
            if !matches || self.kind_at(n) != Some(TokenKind::Assign) {
                break;
            }
            let start = self.cur_span().start;
            self.pos += n;
            let name_span = Span::new(start, self.prev_end());
            self.bump(); // `=`
            let value = self.parse_param_value();
            let span = name_span.to(value.span);
            params.push(OperatorParam {
                name: Ident {
                    name,
                    span: name_span,
                    quoted: false,
                },
                value,
                span,
            });
        }
        params
    }

    /// A word with adjacent `.word` parts (`hint.strategy`) and the number of tokens.
    pub(crate) fn dotted_word(&self) -> Option<(String, usize)> {
        let first = self.peek().filter(|t| t.kind == TokenKind::Ident)?;
        let mut word = self.text(first).to_string();
        let mut n = 1;
        let mut end = first.span.end;
        while let (Some(dot), Some(next)) = (self.peek_at(n), self.peek_at(n + 1)) {
            if dot.kind == TokenKind::Dot
                && next.kind == TokenKind::Ident
                && dot.span.start == end
                && next.span.start == dot.span.end
            {
                word.push('.');
                word.push_str(self.text(next));
                end = next.span.end;
                n += 2;
            } else {
                break;
            }
        }
        Some((word, n))
    }

    /// The value of an operator parameter: a literal, a (possibly negative) number or a name.
    pub(crate) fn parse_param_value(&mut self) -> Expr {
        match self.peek_kind() {
            Some(TokenKind::Ident) if !self.at_typed_literal_word() => {
                // Names may be dotted (`hint.remote=auto` has plain names; keep it simple).
                let t = self.bump();
                match t {
                    Some(t) => Expr {
                        kind: ExprKind::Name(Ident {
                            name: self.text(t).to_string(),
                            span: t.span,
                            quoted: false,
                        }),
                        span: t.span,
                    },
                    None => self.missing_expr(),
                }
            }
            _ => self.parse_unary(),
        }
    }
}

/// Whether `word` is the name of a tabular operator (`where`, `project-away`…).
pub(crate) fn is_operator_name(word: &str) -> bool {
    operators::OPERATOR_NAMES.contains(&word)
}
