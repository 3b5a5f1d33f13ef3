//! Statements: `let`, `declare query_parameters`, `declare pattern`, `set`, `alias`,
//! `restrict access`, and tabular expression statements, separated by `;`.

use super::{Context, Parser};
use crate::ast::*;
use crate::diagnostic::Diagnostic;
use crate::lexer::TokenKind;
use crate::span::Span;

impl Parser<'_> {
    pub(crate) fn parse_query(&mut self) -> Query {
        let statements = self.parse_statements(None);
        Query {
            statements,
            span: Span::new(0, self.src.len() as u32),
        }
    }

    /// Statements up to the end (or up to `close`, for function bodies).
    fn parse_statements(&mut self, close: Option<TokenKind>) -> Vec<Statement> {
        let mut statements = Vec::new();
        loop {
            while self.eat(TokenKind::Semicolon).is_some() {}
            if self.at_end() || self.too_deep || (close.is_some() && self.peek_kind() == close) {
                break;
            }
            let before = self.pos;
            if let Some(s) = self.parse_statement() {
                statements.push(s);
            }
            match self.peek_kind() {
                None | Some(TokenKind::Semicolon) => {}
                Some(k) if Some(k) == close => {}
                _ => {
                    if self.at(TokenKind::RParen) || self.at(TokenKind::RBracket) || self.at(TokenKind::RBrace) {
                        let span = self.cur_span();
                        let text = self.peek().map(|t| self.text(t)).unwrap_or_default();
                        self.push_diag(
                            Diagnostic::error("KS002", format!("Unexpected: {text}"), span)
                                .with_label(span, "this closing bracket has no opening one"),
                        );
                        // The rest of this statement cannot be trusted: resume at the next `;`.
                        self.skip_statement();
                    } else {
                        self.unexpected_fragment();
                    }
                }
            }
            if self.pos == before {
                // No progress: drop one token so that the loop always ends.
                self.bump();
            }
        }
        statements
    }

    fn parse_statement(&mut self) -> Option<Statement> {
        let t = self.peek()?;
        let start = t.span.start;
        if t.kind == TokenKind::Dot && self.kind_at(1) == Some(TokenKind::Ident) {
            let word = self.word_at(1).unwrap_or_default().to_string();
            self.push_diag(
                Diagnostic::error(
                    "QRY010",
                    format!("Management commands are not supported: '.{word}'"),
                    t.span.to(self.peek_at(1).map_or(t.span, |t| t.span)),
                )
                .with_help("Quarry runs queries; control commands (`.show`, `.create`…) need a Kusto cluster"),
            );
            self.skip_statement();
            return None;
        }
        if t.kind == TokenKind::Error && self.text(t).starts_with('#') {
            self.skip_statement();
            return None;
        }
        match self.word_at(0) {
            Some("let") if self.at_name_at(1) => Some(Statement::Let(self.parse_let())),
            Some("declare") if self.word_at(1) == Some("query_parameters") => {
                self.bump();
                self.bump();
                let params = if self.expect(TokenKind::LParen, "(").is_some() {
                    let p = self.parse_comma_list(TokenKind::RParen, false, |p| p.parse_column_decl(true));
                    self.expect(TokenKind::RParen, ")");
                    p
                } else {
                    Vec::new()
                };
                Some(Statement::QueryParameters(QueryParametersStatement {
                    params,
                    span: self.span_from(start),
                }))
            }
            Some("declare") if self.word_at(1) == Some("pattern") => Some(Statement::Pattern(self.parse_pattern())),
            Some("set") if self.at(TokenKind::Ident) && self.kind_at(1) == Some(TokenKind::Ident) => {
                self.bump();
                let (name, n) = self.dotted_word().unwrap_or_default();
                let name_start = self.cur_span().start;
                self.pos += n;
                let name = Ident {
                    name,
                    span: self.span_from(name_start),
                    quoted: false,
                };
                let value = if self.eat(TokenKind::Assign).is_some() {
                    Some(self.parse_expr())
                } else {
                    None
                };
                Some(Statement::Set(SetStatement {
                    name,
                    value,
                    span: self.span_from(start),
                }))
            }
            Some("alias") if self.word_at(1) == Some("database") => {
                self.bump();
                self.bump();
                let name = self.expect_name();
                let value = if self.expect(TokenKind::Assign, "=").is_some() {
                    self.parse_postfix()
                } else {
                    self.missing_expr()
                };
                Some(Statement::Alias(AliasStatement {
                    name,
                    value,
                    span: self.span_from(start),
                }))
            }
            Some("restrict") if self.word_at(1) == Some("access") => {
                self.bump();
                self.bump();
                self.expect_word("to");
                let entities = if self.expect(TokenKind::LParen, "(").is_some() {
                    let e = self.parse_comma_list(TokenKind::RParen, false, |p| p.parse_table_ref());
                    self.expect(TokenKind::RParen, ")");
                    e
                } else {
                    Vec::new()
                };
                Some(Statement::RestrictAccess(RestrictAccessStatement {
                    entities,
                    span: self.span_from(start),
                }))
            }
            _ => Some(Statement::Expr(self.parse_pipe_expr(Context::Statement))),
        }
    }

    fn at_name_at(&self, n: usize) -> bool {
        match self.kind_at(n) {
            Some(TokenKind::Ident) => true,
            Some(TokenKind::LBracket) => {
                self.kind_at(n + 1) == Some(TokenKind::String) && self.kind_at(n + 2) == Some(TokenKind::RBracket)
            }
            _ => false,
        }
    }

    fn skip_statement(&mut self) {
        while let Some(t) = self.peek() {
            if t.kind == TokenKind::Semicolon {
                break;
            }
            self.bump();
        }
    }

    fn parse_let(&mut self) -> LetStatement {
        let start = self.cur_span().start;
        self.bump(); // let
        let name = self.expect_name();
        if self.expect(TokenKind::Assign, "=").is_none() {
            let span = self.missing_span();
            return LetStatement {
                name,
                value: LetValue::Expr(self.error_expr(span)),
                span: self.span_from(start),
            };
        }
        let value = if self.at_word("view") && self.kind_at(1) == Some(TokenKind::LParen) {
            self.bump();
            LetValue::Function(self.parse_function_def(true))
        } else if self.at(TokenKind::LParen) && self.at_function_def() {
            LetValue::Function(self.parse_function_def(false))
        } else if self.at_word("entity_group") && self.kind_at(1) == Some(TokenKind::LBracket) {
            LetValue::EntityGroup(self.parse_entity_group())
        } else {
            LetValue::Expr(self.parse_pipe_expr(Context::Statement))
        };
        LetStatement {
            name,
            value,
            span: self.span_from(start),
        }
    }

    /// At `(`: is this `( params ) {` (a function) rather than a parenthesized expression?
    fn at_function_def(&self) -> bool {
        let mut depth = 0usize;
        let mut i = 0;
        while let Some(k) = self.kind_at(i) {
            match k {
                TokenKind::LParen => depth += 1,
                TokenKind::RParen => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return self.kind_at(i + 1) == Some(TokenKind::LBrace);
                    }
                }
                TokenKind::Semicolon | TokenKind::Pipe if depth <= 1 => return false,
                _ => {}
            }
            i += 1;
        }
        false
    }

    /// `( params ) { body }` (cursor at `(`).
    fn parse_function_def(&mut self, view: bool) -> FunctionDef {
        let start = self.cur_span().start;
        self.bump(); // `(`
        let params = self.parse_comma_list(TokenKind::RParen, false, |p| p.parse_function_param());
        self.expect(TokenKind::RParen, ")");
        let mut seen_scalar = false;
        for param in &params {
            match param.kind {
                FunctionParamKind::Scalar { .. } => seen_scalar = true,
                FunctionParamKind::Tabular { .. } if seen_scalar => {
                    self.push_diag(Diagnostic::error(
                        "KS226",
                        "Tabular parameters must be declared first.",
                        param.span,
                    ));
                }
                FunctionParamKind::Tabular { .. } => {}
            }
        }
        let body = self.parse_function_body();
        FunctionDef {
            view,
            params,
            body,
            span: self.span_from(start),
        }
    }

    fn parse_function_param(&mut self) -> FunctionParam {
        let name = self.expect_name();
        if self.expect(TokenKind::Colon, ":").is_none() {
            let span = name.span;
            let ty = TypeName {
                name: String::new(),
                span: self.missing_span(),
            };
            return FunctionParam {
                name,
                kind: FunctionParamKind::Scalar { ty, default: None },
                span,
            };
        }
        if self.at(TokenKind::LParen) {
            let schema = self.parse_schema();
            let span = name.span.to(schema.span);
            return FunctionParam {
                name,
                kind: FunctionParamKind::Tabular { schema },
                span,
            };
        }
        let ty = self.parse_type_name();
        let default = if self.eat(TokenKind::Assign).is_some() {
            Some(self.parse_expr())
        } else {
            None
        };
        let end = default.as_ref().map_or(ty.span, |d| d.span);
        FunctionParam {
            span: name.span.to(end),
            name,
            kind: FunctionParamKind::Scalar { ty, default },
        }
    }

    /// `{ statements }`
    pub(crate) fn parse_function_body(&mut self) -> FunctionBody {
        let start = self.cur_span();
        if self.expect(TokenKind::LBrace, "{").is_none() {
            return FunctionBody {
                statements: Vec::new(),
                span: self.missing_span(),
            };
        }
        if !self.enter() {
            return FunctionBody {
                statements: Vec::new(),
                span: start,
            };
        }
        let statements = self.parse_statements(Some(TokenKind::RBrace));
        self.leave();
        let close = self.expect(TokenKind::RBrace, "}").unwrap_or(start);
        FunctionBody {
            statements,
            span: start.to(close),
        }
    }

    fn parse_pattern(&mut self) -> PatternStatement {
        let start = self.cur_span().start;
        self.bump();
        self.bump();
        let name = self.expect_name();
        if self.eat(TokenKind::Assign).is_none() {
            return PatternStatement {
                name,
                definition: None,
                span: self.span_from(start),
            };
        }
        let dstart = self.cur_span().start;
        let params = if self.expect(TokenKind::LParen, "(").is_some() {
            let p = self.parse_comma_list(TokenKind::RParen, false, |p| p.parse_column_decl(false));
            self.expect(TokenKind::RParen, ")");
            p
        } else {
            Vec::new()
        };
        let path_param = if self.eat(TokenKind::LBracket).is_some() {
            let d = self.parse_column_decl(false);
            self.expect(TokenKind::RBracket, "]");
            Some(d)
        } else {
            None
        };
        let mut rules = Vec::new();
        if self.expect(TokenKind::LBrace, "{").is_some() {
            while self.at(TokenKind::LParen) && !self.too_deep {
                let rstart = self.cur_span().start;
                self.bump();
                let args = self.parse_comma_list(TokenKind::RParen, false, |p| p.parse_expr());
                self.expect(TokenKind::RParen, ")");
                let path = if self.at(TokenKind::Dot) && self.kind_at(1) == Some(TokenKind::LBracket) {
                    self.bump();
                    self.bump();
                    let e = self.parse_expr();
                    self.expect(TokenKind::RBracket, "]");
                    Some(e)
                } else {
                    None
                };
                self.expect(TokenKind::Assign, "=");
                let body = self.parse_function_body();
                self.expect(TokenKind::Semicolon, ";");
                rules.push(PatternRule {
                    args,
                    path,
                    body,
                    span: self.span_from(rstart),
                });
            }
            self.expect(TokenKind::RBrace, "}");
        }
        let definition = PatternDefinition {
            params,
            path_param,
            rules,
            span: self.span_from(dstart),
        };
        PatternStatement {
            name,
            definition: Some(definition),
            span: self.span_from(start),
        }
    }
}
