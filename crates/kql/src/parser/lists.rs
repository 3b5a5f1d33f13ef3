//! Lists and declarations: type names, column declarations and schemas, named
//! expressions (`x = e`, `(a, b) = e`), operator argument lists, sort keys, name patterns.

use super::Parser;
use super::expr::TYPE_NAMES;
use crate::ast::*;
use crate::lexer::TokenKind;
use crate::span::Span;

impl Parser<'_> {
    pub(crate) fn parse_type_name(&mut self) -> TypeName {
        match self.peek() {
            Some(t) if t.kind == TokenKind::Ident => {
                self.bump();
                let name = self.text(t).to_string();
                if !TYPE_NAMES.contains(&name.as_str()) {
                    self.error(
                        "KS160",
                        format!("The name '{name}' is not a valid type name that can be used here."),
                        t.span,
                    );
                }
                TypeName { name, span: t.span }
            }
            _ => {
                let span = self.missing_span();
                self.error("KS006", "Missing type name", span);
                TypeName {
                    name: String::new(),
                    span,
                }
            }
        }
    }

    /// `name:type [= default]`
    pub(crate) fn parse_column_decl(&mut self, with_default: bool) -> ColumnDecl {
        let name = self.expect_name();
        let ty = if self.expect(TokenKind::Colon, ":").is_some() {
            self.parse_type_name()
        } else {
            TypeName {
                name: String::new(),
                span: self.missing_span(),
            }
        };
        let default = if with_default && self.eat(TokenKind::Assign).is_some() {
            Some(self.parse_expr())
        } else {
            None
        };
        let end = default.as_ref().map_or(ty.span, |d| d.span);
        ColumnDecl {
            span: name.span.to(end),
            name,
            ty,
            default,
        }
    }

    /// The items of a schema list up to (not including) `)`: `name:type` or `*`.
    pub(crate) fn parse_schema_items(&mut self, open: Span) -> TableSchema {
        let mut wildcard = false;
        let columns = self
            .parse_comma_list(TokenKind::RParen, false, |p| {
                if p.eat(TokenKind::Star).is_some() {
                    wildcard = true;
                    None
                } else {
                    Some(p.parse_column_decl(false))
                }
            })
            .into_iter()
            .flatten()
            .collect();
        TableSchema {
            columns,
            wildcard,
            span: open.to(Span::new(open.start, self.prev_end().max(open.start))),
        }
    }

    /// `( name:type, … )` including the parentheses.
    pub(crate) fn parse_schema(&mut self) -> TableSchema {
        let open = self.cur_span();
        if self.expect(TokenKind::LParen, "(").is_none() {
            return TableSchema {
                columns: Vec::new(),
                wildcard: false,
                span: self.missing_span(),
            };
        }
        let mut schema = self.parse_schema_items(open);
        let close = self.expect(TokenKind::RParen, ")").unwrap_or(schema.span);
        schema.span = open.to(close);
        schema
    }

    // --- operator argument helpers ----------------------------------------------------------

    /// `[name =] expr` or `(a, b) = expr`.
    pub(crate) fn parse_named_expr(&mut self) -> NamedExpr {
        let start = self.cur_span();
        let name = if self.at_name() && self.kind_at(self.name_token_count()) == Some(TokenKind::Assign) {
            let n = self.parse_name();
            self.bump();
            n.map(Assignee::Single)
        } else if self.at(TokenKind::LParen) && self.at_tuple_assignee() {
            let open = self.cur_span();
            self.bump();
            let names = self.parse_comma_list(TokenKind::RParen, false, |p| p.expect_name());
            let close = self.expect(TokenKind::RParen, ")").unwrap_or(open);
            self.bump(); // `=`
            Some(Assignee::Tuple {
                names,
                span: open.to(close),
            })
        } else {
            None
        };
        let expr = self.parse_expr();
        NamedExpr {
            name,
            span: start.to(expr.span),
            expr,
        }
    }

    /// `( name, name ) =` ahead?
    pub(crate) fn at_tuple_assignee(&self) -> bool {
        let mut i = 1;
        loop {
            match self.kind_at(i) {
                Some(TokenKind::Ident) => i += 1,
                Some(TokenKind::LBracket)
                    if self.kind_at(i + 1) == Some(TokenKind::String)
                        && self.kind_at(i + 2) == Some(TokenKind::RBracket) =>
                {
                    i += 3
                }
                _ => return false,
            }
            match self.kind_at(i) {
                Some(TokenKind::Comma) => i += 1,
                Some(TokenKind::RParen) => return self.kind_at(i + 1) == Some(TokenKind::Assign),
                _ => return false,
            }
        }
    }

    pub(crate) fn parse_named_list(&mut self) -> Vec<NamedExpr> {
        self.parse_operator_list(|p| p.parse_named_expr())
    }

    /// A comma-separated list that ends where the operator ends (`|`, `;`, `)`, end).
    pub(crate) fn parse_operator_list<T>(&mut self, mut item: impl FnMut(&mut Self) -> T) -> Vec<T> {
        let mut items = vec![item(self)];
        while self.eat(TokenKind::Comma).is_some() {
            if self.too_deep {
                break;
            }
            items.push(item(self));
        }
        items
    }

    /// `expr [asc|desc] [nulls first|last]`
    pub(crate) fn parse_sort_key(&mut self) -> SortKey {
        let expr = self.parse_expr();
        let mut span = expr.span;
        let order = if let Some(s) = self.eat_word("asc") {
            span = span.to(s);
            Some(SortOrder::Asc)
        } else if let Some(s) = self.eat_word("desc") {
            span = span.to(s);
            Some(SortOrder::Desc)
        } else {
            None
        };
        let nulls = if self.at_word("nulls") && matches!(self.word_at(1), Some("first" | "last")) {
            self.bump();
            let first = self.at_word("first");
            if let Some(t) = self.bump() {
                span = span.to(t.span);
            }
            Some(if first { NullsOrder::First } else { NullsOrder::Last })
        } else {
            None
        };
        SortKey {
            expr,
            order,
            nulls,
            span,
        }
    }

    /// A name that may contain `*` wildcards, from adjacent tokens: `Prop*`, `*Id`, `a*b`.
    pub(crate) fn parse_name_pattern(&mut self) -> Option<NamePattern> {
        let start = self.peek()?;
        if self.at_name() && self.at(TokenKind::LBracket) {
            let id = self.parse_name()?;
            return Some(NamePattern {
                pattern: id.name,
                span: id.span,
            });
        }
        let mut pattern = String::new();
        let mut end = start.span.start;
        while let Some(t) = self.peek() {
            let glued = pattern.is_empty() || t.span.start == end;
            let piece = match t.kind {
                TokenKind::Ident if glued => self.text(t),
                TokenKind::Star if glued => "*",
                _ => break,
            };
            pattern.push_str(piece);
            end = t.span.end;
            self.bump();
        }
        (!pattern.is_empty()).then_some(NamePattern {
            pattern,
            span: Span::new(start.span.start, end),
        })
    }

    pub(crate) fn expect_name_pattern(&mut self) -> NamePattern {
        match self.parse_name_pattern() {
            Some(p) => p,
            None => {
                let span = self.missing_span();
                self.error("KS006", "Missing name", span);
                NamePattern {
                    pattern: String::new(),
                    span,
                }
            }
        }
    }
}
