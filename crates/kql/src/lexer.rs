//! The KQL lexer: source text → tokens with byte spans.
//!
//! Words are all lexed as [`TokenKind::Ident`]: KQL keywords are contextual (most of them
//! are valid column names), so the parser decides what a word means where it stands.
//! Hyphenated operator names (`project-away`) are glued by the parser from adjacent
//! tokens, so that `a-b` stays a subtraction. Two operator spellings are lexed as one
//! word because they cannot be anything else: `in~` and negated operators such as `!has`.

use crate::diagnostic::Diagnostic;
use crate::span::Span;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum TokenKind {
    /// A word: identifier or keyword (`where`, `Timestamp`, `$left`, `in~`, `!has`).
    Ident,
    /// An integer literal (`42`, `0x1F`).
    Long,
    /// A real literal (`1.5`, `1e3`).
    Real,
    /// A timespan literal (`5d`, `1.5h`, `10ms`, `1tick`).
    Timespan,
    /// A string literal of any form (`'…'`, `"…"`, `@'…'`, ```` ```…``` ````, `h'…'`).
    String,
    /// A literal whose text is not tokenized: `datetime(…)`, `date(…)`, `time(…)`,
    /// `timespan(…)`, `guid(…)`, `uuid(…)`, `uniqueid(…)` up to the first `)`.
    TypedLiteral,
    /// `// …` to the end of the line.
    Comment,
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Pipe,
    Comma,
    Semicolon,
    Colon,
    Dot,
    DotDot,
    /// `=`
    Assign,
    /// `==`
    EqEq,
    /// `!=`
    NotEq,
    /// `<>`
    LtGt,
    /// `=~`
    EqTilde,
    /// `!~`
    BangTilde,
    Lt,
    Le,
    Gt,
    Ge,
    /// `=>`
    FatArrow,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    /// `!` not followed by `=`, `~` or a negatable operator word.
    Bang,
    /// `?`
    Question,
    /// A character that starts no token, or a malformed literal (a diagnostic was reported).
    Error,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Token {
    pub kind: TokenKind,
    pub span: Span,
}

/// Words that may follow `!` to form a negated operator.
const NEGATABLE: &[&str] = &[
    "has",
    "has_cs",
    "hasprefix",
    "hasprefix_cs",
    "hassuffix",
    "hassuffix_cs",
    "contains",
    "contains_cs",
    "startswith",
    "startswith_cs",
    "endswith",
    "endswith_cs",
    "in",
    "between",
];

/// Words whose parenthesized argument is raw literal text.
const RAW_LITERAL_WORDS: &[&str] = &["datetime", "date", "time", "timespan", "guid", "uuid", "uniqueid"];

/// Lexes `source` into tokens (comments included; whitespace dropped) and diagnostics for
/// malformed tokens. Never fails: bad characters become [`TokenKind::Error`] tokens.
pub fn lex(source: &str) -> (Vec<Token>, Vec<Diagnostic>) {
    let mut lexer = Lexer {
        src: source.as_bytes(),
        text: source,
        pos: 0,
        tokens: Vec::new(),
        diags: Vec::new(),
    };
    lexer.run();
    (lexer.tokens, lexer.diags)
}

struct Lexer<'a> {
    src: &'a [u8],
    text: &'a str,
    pos: usize,
    tokens: Vec<Token>,
    diags: Vec<Diagnostic>,
}

fn is_word_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_word_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

fn span(start: usize, end: usize) -> Span {
    Span::new(start as u32, end as u32)
}

impl Lexer<'_> {
    fn peek(&self, ahead: usize) -> u8 {
        self.src.get(self.pos + ahead).copied().unwrap_or(0)
    }

    fn char_at(&self, pos: usize) -> Option<char> {
        self.text.get(pos..).and_then(|s| s.chars().next())
    }

    fn push(&mut self, kind: TokenKind, start: usize) {
        self.tokens.push(Token {
            kind,
            span: span(start, self.pos),
        });
    }

    fn run(&mut self) {
        while self.pos < self.src.len() {
            let start = self.pos;
            let b = self.src[self.pos];
            match b {
                b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c => self.pos += 1,
                b'/' if self.peek(1) == b'/' => {
                    while self.pos < self.src.len() && self.src[self.pos] != b'\n' {
                        self.pos += 1;
                    }
                    self.push(TokenKind::Comment, start);
                }
                b'\'' | b'"' => self.string(start, false),
                b'@' if matches!(self.peek(1), b'\'' | b'"') => {
                    self.pos += 1;
                    self.string(start, true);
                }
                b'`' if self.peek(1) == b'`' && self.peek(2) == b'`' => self.multiline(start, b'`'),
                b'~' if self.peek(1) == b'~' && self.peek(2) == b'~' => self.multiline(start, b'~'),
                b'h' | b'H' if matches!(self.peek(1), b'\'' | b'"') => {
                    self.pos += 1;
                    self.string(start, false);
                }
                b'h' | b'H' if self.peek(1) == b'@' && matches!(self.peek(2), b'\'' | b'"') => {
                    self.pos += 2;
                    self.string(start, true);
                }
                b'0'..=b'9' => self.number(start),
                b'.' if self.peek(1).is_ascii_digit() && !self.prev_is_value() => self.number(start),
                b'$' if self.char_at(self.pos + 1).is_some_and(is_word_start) => {
                    self.pos += 1;
                    self.word_chars();
                    self.push(TokenKind::Ident, start);
                }
                b'!' => self.bang(start),
                _ => {
                    if self.char_at(self.pos).is_some_and(is_word_start) {
                        self.word_chars();
                        let word = &self.text[start..self.pos];
                        if word == "in" && self.peek(0) == b'~' {
                            self.pos += 1;
                        } else if RAW_LITERAL_WORDS.contains(&word) && self.typed_literal(start) {
                            continue;
                        }
                        self.push(TokenKind::Ident, start);
                    } else {
                        self.punct(start);
                    }
                }
            }
        }
    }

    /// True when the previous token ends where we are and is something `.5` could not follow
    /// (so `a.5` is not lexed as `a` `.5`).
    fn prev_is_value(&self) -> bool {
        self.tokens.last().is_some_and(|t| {
            t.span.end as usize == self.pos
                && matches!(
                    t.kind,
                    TokenKind::Ident | TokenKind::RParen | TokenKind::RBracket | TokenKind::Long
                )
        })
    }

    /// After a word such as `datetime`: when `(` follows, takes everything up to the first
    /// `)` as one token, since datetime and timespan texts (`2015-12-31 23:59:59.9`,
    /// `1.02:03:04`) are not made of KQL tokens.
    fn typed_literal(&mut self, start: usize) -> bool {
        let mut p = self.pos;
        while matches!(self.src.get(p), Some(b' ' | b'\t')) {
            p += 1;
        }
        if self.src.get(p) != Some(&b'(') {
            return false;
        }
        let mut q = p + 1;
        loop {
            match self.src.get(q).copied() {
                Some(b')') => {
                    self.pos = q + 1;
                    self.push(TokenKind::TypedLiteral, start);
                    return true;
                }
                None | Some(b'\n') => {
                    self.pos = q;
                    self.diags.push(
                        Diagnostic::error("KS005", "Expected: )", span(q, q))
                            .with_label(span(p, p + 1), "this parenthesis is not closed on its line"),
                    );
                    self.push(TokenKind::Error, start);
                    return true;
                }
                Some(_) => q += 1,
            }
        }
    }

    fn word_chars(&mut self) {
        while let Some(c) = self.char_at(self.pos) {
            if is_word_char(c) {
                self.pos += c.len_utf8();
            } else {
                break;
            }
        }
    }

    fn bang(&mut self, start: usize) {
        match self.peek(1) {
            b'=' => {
                self.pos += 2;
                self.push(TokenKind::NotEq, start);
            }
            b'~' => {
                self.pos += 2;
                self.push(TokenKind::BangTilde, start);
            }
            _ => {
                let word_start = start + 1;
                if self.char_at(word_start).is_some_and(is_word_start) {
                    let save = self.pos;
                    self.pos = word_start;
                    self.word_chars();
                    let word = self.text[word_start..self.pos].to_ascii_lowercase();
                    if NEGATABLE.contains(&word.as_str()) {
                        if word == "in" && self.peek(0) == b'~' {
                            self.pos += 1;
                        }
                        self.push(TokenKind::Ident, start);
                        return;
                    }
                    self.pos = save;
                }
                self.pos += 1;
                self.push(TokenKind::Bang, start);
            }
        }
    }

    fn punct(&mut self, start: usize) {
        let b = self.src[self.pos];
        let next = self.peek(1);
        let (kind, len) = match (b, next) {
            (b'(', _) => (TokenKind::LParen, 1),
            (b')', _) => (TokenKind::RParen, 1),
            (b'[', _) => (TokenKind::LBracket, 1),
            (b']', _) => (TokenKind::RBracket, 1),
            (b'{', _) => (TokenKind::LBrace, 1),
            (b'}', _) => (TokenKind::RBrace, 1),
            (b'|', _) => (TokenKind::Pipe, 1),
            (b',', _) => (TokenKind::Comma, 1),
            (b';', _) => (TokenKind::Semicolon, 1),
            (b':', _) => (TokenKind::Colon, 1),
            (b'.', b'.') => (TokenKind::DotDot, 2),
            (b'.', _) => (TokenKind::Dot, 1),
            (b'=', b'=') => (TokenKind::EqEq, 2),
            (b'=', b'~') => (TokenKind::EqTilde, 2),
            (b'=', b'>') => (TokenKind::FatArrow, 2),
            (b'=', _) => (TokenKind::Assign, 1),
            (b'<', b'=') => (TokenKind::Le, 2),
            (b'<', b'>') => (TokenKind::LtGt, 2),
            (b'<', _) => (TokenKind::Lt, 1),
            (b'>', b'=') => (TokenKind::Ge, 2),
            (b'>', _) => (TokenKind::Gt, 1),
            (b'+', _) => (TokenKind::Plus, 1),
            (b'-', _) => (TokenKind::Minus, 1),
            (b'*', _) => (TokenKind::Star, 1),
            (b'/', _) => (TokenKind::Slash, 1),
            (b'%', _) => (TokenKind::Percent, 1),
            (b'?', _) => (TokenKind::Question, 1),
            _ => {
                let c = self.char_at(self.pos).unwrap_or('\u{fffd}');
                let len = self.char_at(self.pos).map_or(1, char::len_utf8);
                self.pos += len;
                self.diags.push(Diagnostic::error(
                    "KS002",
                    format!("Unexpected: {}", c.escape_debug()),
                    span(start, self.pos),
                ));
                self.push(TokenKind::Error, start);
                return;
            }
        };
        self.pos += len;
        self.push(kind, start);
    }

    /// A quoted string; `self.pos` is at the opening quote. Single-line.
    fn string(&mut self, start: usize, verbatim: bool) {
        let quote = self.src[self.pos];
        self.pos += 1;
        loop {
            match self.src.get(self.pos).copied() {
                None | Some(b'\n') | Some(b'\r') => {
                    self.unterminated(start, quote);
                    return;
                }
                Some(b'\\') if !verbatim => {
                    // An escape: skip the next char whatever it is (unless the line ends).
                    self.pos += 1;
                    if let Some(c) = self.char_at(self.pos).filter(|c| *c != '\n' && *c != '\r') {
                        self.pos += c.len_utf8();
                    }
                }
                Some(q) if q == quote => {
                    if verbatim && self.peek(1) == quote {
                        self.pos += 2;
                    } else {
                        self.pos += 1;
                        self.push(TokenKind::String, start);
                        return;
                    }
                }
                Some(_) => self.pos += 1,
            }
        }
    }

    fn unterminated(&mut self, start: usize, quote: u8) {
        let q = quote as char;
        self.diags.push(
            Diagnostic::error("KS003", "Malformed string literal", span(start, self.pos))
                .with_label(span(start, self.pos), format!("this string has no closing {q}"))
                .with_help(format!(
                    "close the string with {q} on the same line, or use a multi-line string ```…```"
                )),
        );
        self.push(TokenKind::Error, start);
    }

    fn multiline(&mut self, start: usize, fence: u8) {
        self.pos += 3;
        loop {
            if self.pos >= self.src.len() {
                let f = if fence == b'`' { "```" } else { "~~~" };
                self.diags.push(
                    Diagnostic::error("KS003", "Malformed string literal", span(start, self.pos)).with_label(
                        span(start, (start + 3).min(self.pos)),
                        format!("this string has no closing {f}"),
                    ),
                );
                self.push(TokenKind::Error, start);
                return;
            }
            if self.src[self.pos] == fence && self.peek(1) == fence && self.peek(2) == fence {
                self.pos += 3;
                self.push(TokenKind::String, start);
                return;
            }
            self.pos += 1;
        }
    }

    fn number(&mut self, start: usize) {
        let mut kind = TokenKind::Long;
        if self.src[self.pos] == b'0' && matches!(self.peek(1), b'x' | b'X') && self.peek(2).is_ascii_hexdigit() {
            self.pos += 2;
            while self.peek(0).is_ascii_hexdigit() {
                self.pos += 1;
            }
        } else {
            while self.peek(0).is_ascii_digit() {
                self.pos += 1;
            }
            if self.peek(0) == b'.' && self.peek(1).is_ascii_digit() {
                kind = TokenKind::Real;
                self.pos += 1;
                while self.peek(0).is_ascii_digit() {
                    self.pos += 1;
                }
            } else if self.peek(0) == b'.'
                && self.peek(1) != b'.'
                && !self.char_at(self.pos + 1).is_some_and(is_word_start)
            {
                // `0.` is a real.
                kind = TokenKind::Real;
                self.pos += 1;
            }
            let exp_digits = match (self.peek(0), self.peek(1), self.peek(2)) {
                (b'e' | b'E', d, _) if d.is_ascii_digit() => Some(1),
                (b'e' | b'E', b'+' | b'-', d) if d.is_ascii_digit() => Some(2),
                _ => None,
            };
            if let Some(skip) = exp_digits {
                kind = TokenKind::Real;
                self.pos += skip;
                while self.peek(0).is_ascii_digit() {
                    self.pos += 1;
                }
            }
        }
        // A unit suffix makes a timespan; any other letters glued to a number are malformed.
        if self.char_at(self.pos).is_some_and(is_word_start) {
            let suffix_start = self.pos;
            self.word_chars();
            let suffix = &self.text[suffix_start..self.pos];
            let number = &self.text[start..suffix_start];
            let plain_decimal = !number.contains(['e', 'E', 'x', 'X']);
            if plain_decimal && crate::literals::timespan_unit_ticks(suffix).is_some() {
                self.push(TokenKind::Timespan, start);
                return;
            }
            if number.bytes().all(|b| b.is_ascii_digit()) {
                // Kusto accepts names that start with digits (`5h_MovingAvg`).
                self.push(TokenKind::Ident, start);
                return;
            }
            self.diags.push(
                Diagnostic::error("KS004", "Malformed literal", span(start, self.pos))
                    .with_help("a number can only be followed by a timespan unit: d, h, m, s, ms, microsecond, tick"),
            );
            self.push(TokenKind::Error, start);
            return;
        }
        self.push(kind, start);
    }
}

/// True for words that are KQL keywords in some context (operators, clause words, literal
/// type names). Meant for syntax highlighting: the parser itself treats keywords
/// contextually, and most of them are valid column names.
pub fn is_keyword(word: &str) -> bool {
    let w = word.strip_prefix('!').unwrap_or(word).to_ascii_lowercase();
    KEYWORDS.binary_search(&w.as_str()).is_ok()
}

/// Sorted for binary search.
const KEYWORDS: &[&str] = &[
    "access",
    "alias",
    "and",
    "as",
    "asc",
    "between",
    "bool",
    "boolean",
    "by",
    "consume",
    "contains",
    "contains_cs",
    "count",
    "database",
    "datatable",
    "date",
    "datetime",
    "decimal",
    "declare",
    "default",
    "desc",
    "distinct",
    "double",
    "dynamic",
    "endswith",
    "endswith_cs",
    "evaluate",
    "extend",
    "externaldata",
    "facet",
    "false",
    "filter",
    "find",
    "first",
    "fork",
    "from",
    "getschema",
    "guid",
    "has",
    "has_all",
    "has_any",
    "has_cs",
    "hasprefix",
    "hasprefix_cs",
    "hassuffix",
    "hassuffix_cs",
    "in",
    "int",
    "invoke",
    "in~",
    "join",
    "kind",
    "last",
    "let",
    "limit",
    "long",
    "lookup",
    "matches",
    "materialize",
    "nulls",
    "of",
    "on",
    "or",
    "order",
    "parse",
    "partition",
    "pattern",
    "print",
    "project",
    "query_parameters",
    "range",
    "real",
    "reduce",
    "regex",
    "render",
    "restrict",
    "sample",
    "scan",
    "search",
    "serialize",
    "set",
    "sort",
    "startswith",
    "startswith_cs",
    "step",
    "string",
    "summarize",
    "take",
    "time",
    "timespan",
    "to",
    "top",
    "toscalar",
    "true",
    "typeof",
    "union",
    "view",
    "where",
    "with",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(TokenKind, &str)> {
        let (tokens, diags) = lex(src);
        assert!(diags.is_empty(), "{diags:?}");
        tokens.iter().map(|t| (t.kind, t.span.text(src))).collect()
    }

    #[test]
    fn keywords_sorted() {
        let mut sorted = KEYWORDS.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, KEYWORDS);
        assert!(is_keyword("where") && is_keyword("!has") && !is_keyword("Timestamp"));
    }

    #[test]
    fn numbers_and_timespans() {
        use TokenKind::*;
        assert_eq!(
            kinds("1 1.5 1e3 2.5e-3 0x1F 5d 1.5h 10ms 1tick 3microsecond 1..5"),
            vec![
                (Long, "1"),
                (Real, "1.5"),
                (Real, "1e3"),
                (Real, "2.5e-3"),
                (Long, "0x1F"),
                (Timespan, "5d"),
                (Timespan, "1.5h"),
                (Timespan, "10ms"),
                (Timespan, "1tick"),
                (Timespan, "3microsecond"),
                (Long, "1"),
                (DotDot, ".."),
                (Long, "5"),
            ]
        );
    }

    #[test]
    fn strings_and_operators() {
        use TokenKind::*;
        assert_eq!(
            kinds(
                r#"'a\'b' "c" @'d''e' h'x' H@"y" ```m
l``` x !has y !in~ z in~ w !contains_cs v a != b =~ c !~ d // done"#
            ),
            vec![
                (String, r"'a\'b'"),
                (String, "\"c\""),
                (String, "@'d''e'"),
                (String, "h'x'"),
                (String, "H@\"y\""),
                (String, "```m\nl```"),
                (Ident, "x"),
                (Ident, "!has"),
                (Ident, "y"),
                (Ident, "!in~"),
                (Ident, "z"),
                (Ident, "in~"),
                (Ident, "w"),
                (Ident, "!contains_cs"),
                (Ident, "v"),
                (Ident, "a"),
                (NotEq, "!="),
                (Ident, "b"),
                (EqTilde, "=~"),
                (Ident, "c"),
                (BangTilde, "!~"),
                (Ident, "d"),
                (Comment, "// done"),
            ]
        );
    }

    #[test]
    fn typed_literals_are_one_token() {
        use TokenKind::*;
        assert_eq!(
            kinds("datetime(2015-12-31 23:59:59.9) time (1.02:03) guid(null) x:datetime"),
            vec![
                (TypedLiteral, "datetime(2015-12-31 23:59:59.9)"),
                (TypedLiteral, "time (1.02:03)"),
                (TypedLiteral, "guid(null)"),
                (Ident, "x"),
                (Colon, ":"),
                (Ident, "datetime"),
            ]
        );
    }

    #[test]
    fn errors_are_tokens_with_diagnostics() {
        let (tokens, diags) = lex("x == 'abc\n| take 1 # 5.5zz");
        assert_eq!(diags.len(), 3, "{diags:?}");
        assert_eq!(diags[0].message, "Malformed string literal");
        assert_eq!(diags[1].message, "Unexpected: #");
        assert_eq!(diags[2].message, "Malformed literal");
        assert!(tokens.iter().any(|t| t.kind == TokenKind::Pipe));
    }
}
