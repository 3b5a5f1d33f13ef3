//! Tabular operators with their own sub-syntax: evaluate, parse, scan, make-series,
//! top-nested, fork/facet/partition, find/search, render, macro-expand…

use super::Parser;
use crate::ast::*;
use crate::lexer::TokenKind;
use crate::span::Span;

impl Parser<'_> {
    pub(crate) fn parse_operator2(&mut self, word: &str, start: u32) -> Option<Operator> {
        let op = match word {
            "evaluate" => {
                let params = self.parse_params(&["hint.*"]);
                let plugin_start = self.cur_span().start;
                let name = self.expect_name();
                let (args, args_span) = self.parse_call_args();
                let plugin = Call {
                    receiver: None,
                    name,
                    args,
                    args_span,
                };
                let plugin_span = self.span_from(plugin_start);
                let output_schema = if self.eat(TokenKind::Colon).is_some() {
                    Some(self.parse_schema())
                } else {
                    None
                };
                Operator::Evaluate(EvaluateOp {
                    params,
                    plugin,
                    plugin_span,
                    output_schema,
                    span: self.span_from(start),
                })
            }
            "invoke" => {
                let fstart = self.cur_span().start;
                let e = self.parse_postfix();
                let function_span = self.span_from(fstart);
                let function = match e.kind {
                    ExprKind::Call(c) => *c,
                    _ => {
                        self.error("KS006", "Missing function call", function_span);
                        Call {
                            receiver: None,
                            name: Ident {
                                name: String::new(),
                                span: function_span,
                                quoted: false,
                            },
                            args: Vec::new(),
                            args_span: function_span,
                        }
                    }
                };
                Operator::Invoke(InvokeOp {
                    function,
                    function_span,
                    span: self.span_from(start),
                })
            }
            "facet" => {
                self.expect_word("by");
                let columns = self.parse_operator_list(|p| p.expect_name());
                let with = if self.eat_word("with").is_some() {
                    if self.eat(TokenKind::LParen).is_some() {
                        let body = self.parse_sub_pipeline();
                        self.expect(TokenKind::RParen, ")");
                        Some(body)
                    } else {
                        // Legacy form: `with operator` (one operator, no parentheses).
                        let wstart = self.cur_span().start;
                        let op = self.parse_operator();
                        Some(Pipeline {
                            input: None,
                            operators: op.into_iter().collect(),
                            span: self.span_from(wstart),
                        })
                    }
                } else {
                    None
                };
                Operator::Facet(FacetOp {
                    columns,
                    with,
                    span: self.span_from(start),
                })
            }
            "fork" => {
                let mut branches = Vec::new();
                loop {
                    let bstart = self.cur_span().start;
                    let name = if self.at_name() && self.kind_at(self.name_token_count()) == Some(TokenKind::Assign) {
                        let n = self.parse_name();
                        self.bump();
                        n
                    } else {
                        None
                    };
                    if self.eat(TokenKind::LParen).is_none() {
                        if name.is_some() || branches.is_empty() {
                            self.expected("(");
                        }
                        break;
                    }
                    let query = self.parse_sub_pipeline();
                    self.expect(TokenKind::RParen, ")");
                    branches.push(ForkBranch {
                        name,
                        query,
                        span: self.span_from(bstart),
                    });
                    if self.too_deep {
                        break;
                    }
                }
                Operator::Fork(ForkOp {
                    branches,
                    span: self.span_from(start),
                })
            }
            "partition" => {
                let params = self.parse_params(&["hint.*"]);
                self.expect_word("by");
                let by = self.expect_name();
                let (braces, body) = if self.eat(TokenKind::LParen).is_some() {
                    let b = self.parse_sub_pipeline();
                    self.expect(TokenKind::RParen, ")");
                    (false, b)
                } else if self.eat(TokenKind::LBrace).is_some() {
                    let b = self.parse_sub_pipeline();
                    self.expect(TokenKind::RBrace, "}");
                    (true, b)
                } else {
                    self.expected("(");
                    (
                        false,
                        Pipeline {
                            input: None,
                            operators: Vec::new(),
                            span: self.missing_span(),
                        },
                    )
                };
                Operator::Partition(PartitionOp {
                    params,
                    by,
                    braces,
                    body,
                    span: self.span_from(start),
                })
            }
            "reduce" => {
                let params = self.parse_params(&["kind", "hint.*"]);
                self.expect_word("by");
                let by = self.parse_expr();
                let properties = if self.eat_word("with").is_some() {
                    self.parse_operator_list(|p| p.parse_property(false))
                } else {
                    Vec::new()
                };
                Operator::Reduce(ReduceOp {
                    params,
                    by,
                    properties,
                    span: self.span_from(start),
                })
            }
            "render" => {
                let chart = self.expect_name();
                let (properties, with_keyword) = if self.at_word("with") && self.kind_at(1) == Some(TokenKind::LParen) {
                    self.bump();
                    self.bump();
                    let props = self.parse_comma_list(TokenKind::RParen, false, |p| p.parse_property(true));
                    self.expect(TokenKind::RParen, ")");
                    (props, true)
                } else if self.eat_word("with").is_some() {
                    (self.parse_operator_list(|p| p.parse_property(true)), true)
                } else {
                    // Legacy: `render timechart kind=stacked title='x'` (space-separated).
                    let mut props = Vec::new();
                    while self.at(TokenKind::Ident) && self.kind_at(1) == Some(TokenKind::Assign) {
                        props.push(self.parse_property(false));
                    }
                    (props, false)
                };
                Operator::Render(RenderOp {
                    chart,
                    properties,
                    with_keyword,
                    span: self.span_from(start),
                })
            }
            "scan" => self.parse_scan(start),
            "search" => {
                let params = self.parse_params(&["kind", "hint.*"]);
                let tables = self.parse_in_tables();
                let predicate = self.parse_search_predicate();
                Operator::Search(SearchOp {
                    params,
                    tables,
                    predicate,
                    span: self.span_from(start),
                })
            }
            "find" => self.parse_find(start),
            "parse" | "parse-where" => {
                let keyword = if word == "parse" {
                    ParseKeyword::Parse
                } else {
                    ParseKeyword::ParseWhere
                };
                let params = self.parse_params(&["kind", "flags"]);
                let source = self.parse_expr();
                let pattern = if self.expect_word("with").is_some() {
                    self.parse_parse_pattern()
                } else {
                    Vec::new()
                };
                Operator::Parse(ParseOp {
                    keyword,
                    params,
                    source,
                    pattern,
                    span: self.span_from(start),
                })
            }
            "parse-kv" => {
                let source = self.parse_expr();
                let keys = if self.expect_word("as").is_some() {
                    self.parse_schema()
                } else {
                    TableSchema {
                        columns: Vec::new(),
                        wildcard: false,
                        span: self.missing_span(),
                    }
                };
                let properties = self.parse_with_properties();
                Operator::ParseKv(ParseKvOp {
                    source,
                    keys,
                    properties,
                    span: self.span_from(start),
                })
            }
            "make-series" => self.parse_make_series(start),
            "top-nested" => {
                let levels = self.parse_operator_list(|p| p.parse_top_nested_level());
                Operator::TopNested(TopNestedOp {
                    levels,
                    span: self.span_from(start),
                })
            }
            "top-hitters" => {
                let count = self.parse_expr();
                let of = if self.expect_word("of").is_some() {
                    self.parse_expr()
                } else {
                    self.missing_expr()
                };
                let by = if self.eat_word("by").is_some() {
                    Some(self.parse_expr())
                } else {
                    None
                };
                Operator::TopHitters(TopHittersOp {
                    count,
                    of,
                    by,
                    span: self.span_from(start),
                })
            }
            "macro-expand" => self.parse_macro_expand(start),
            "inline_external_table" => self.parse_inline_external_table(start),
            "make-graph" | "graph-match" | "graph-shortest-paths" | "graph-mark-components" | "graph-to-table" => {
                return self.parse_graph_operator(word, start);
            }
            _ => {
                self.error("KS176", "Query operator expected.", Span::new(start, self.prev_end()));
                return None;
            }
        };
        Some(op)
    }

    /// Optional `in ( T1, T2*, … )` of `find`/`search`.
    fn parse_in_tables(&mut self) -> Option<Vec<Expr>> {
        if !self.at_word("in") || self.kind_at(1) != Some(TokenKind::LParen) {
            return None;
        }
        self.bump();
        self.bump();
        let tables = self.parse_comma_list(TokenKind::RParen, false, |p| p.parse_table_ref());
        self.expect(TokenKind::RParen, ")");
        Some(tables)
    }

    /// A `search` predicate; `Column:"term"` is read as `Column has "term"`.
    fn parse_search_predicate(&mut self) -> Expr {
        if self.at(TokenKind::Ident)
            && self.kind_at(1) == Some(TokenKind::Colon)
            && self.kind_at(2) == Some(TokenKind::String)
        {
            let name = self.expect_name();
            let colon = self.cur_span();
            self.bump();
            let lit = self.parse_string_literal();
            let left = Expr {
                span: name.span,
                kind: ExprKind::Name(name),
            };
            let right = Expr {
                span: lit.span,
                kind: ExprKind::Literal(lit),
            };
            let span = left.span.to(right.span);
            let first = Expr {
                kind: ExprKind::Binary(Box::new(BinaryExpr {
                    op: BinaryOp::Has,
                    op_span: colon,
                    left,
                    right,
                })),
                span,
            };
            if !matches!(self.word_at(0), Some("and" | "or")) {
                return first;
            }
            let op = if self.at_word("and") {
                BinaryOp::And
            } else {
                BinaryOp::Or
            };
            let op_span = self.cur_span();
            self.bump();
            let right = self.parse_search_predicate();
            let span = first.span.to(right.span);
            return Expr {
                kind: ExprKind::Binary(Box::new(BinaryExpr {
                    op,
                    op_span,
                    left: first,
                    right,
                })),
                span,
            };
        }
        self.parse_expr()
    }

    fn parse_find(&mut self, start: u32) -> Operator {
        let params = self.parse_params(&["withsource", "datascope", "hint.*"]);
        let tables = self.parse_in_tables();
        let where_keyword = self.eat_word("where").is_some();
        let predicate = self.parse_expr();
        let project = if let Some(s) = self.eat_compound("project-smart") {
            Some(FindProject::Smart(s))
        } else if let Some(s) = self.eat_word("project") {
            let items = self.parse_operator_list(|p| {
                if p.at_name() && !matches!(p.kind_at(p.name_token_count()), Some(TokenKind::LParen)) {
                    let name = p.expect_name();
                    let ty = if p.eat(TokenKind::Colon).is_some() {
                        Some(p.parse_type_name())
                    } else {
                        None
                    };
                    let span = ty.as_ref().map_or(name.span, |t| name.span.to(t.span));
                    FindProjectItem::Column { name, ty, span }
                } else {
                    FindProjectItem::Expr(p.parse_expr())
                }
            });
            Some(FindProject::Columns {
                items,
                span: self.span_from(s.start),
            })
        } else {
            None
        };
        Operator::Find(FindOp {
            params,
            tables,
            where_keyword,
            predicate,
            project,
            span: self.span_from(start),
        })
    }

    /// The pattern after `parse … with`: `*`, string constants and `column[:type]`.
    fn parse_parse_pattern(&mut self) -> Vec<ParsePatternPart> {
        let mut parts = Vec::new();
        loop {
            match self.peek_kind() {
                Some(TokenKind::Star) => {
                    let s = self.cur_span();
                    self.bump();
                    parts.push(ParsePatternPart::Star(s));
                }
                Some(TokenKind::String) => {
                    let lit = self.parse_string_literal();
                    let span = lit.span;
                    parts.push(ParsePatternPart::Text(Expr {
                        kind: ExprKind::Literal(lit),
                        span,
                    }));
                }
                Some(TokenKind::Ident | TokenKind::LBracket) if self.at_name() => {
                    let name = self.expect_name();
                    let ty = if self.eat(TokenKind::Colon).is_some() {
                        Some(self.parse_type_name())
                    } else {
                        None
                    };
                    let span = ty.as_ref().map_or(name.span, |t| name.span.to(t.span));
                    parts.push(ParsePatternPart::Column { name, ty, span });
                }
                _ => break,
            }
            // Elements may be separated by commas (`with * "a" x, "b" y`) in older queries.
            if self.at(TokenKind::Comma)
                && matches!(
                    self.kind_at(1),
                    Some(TokenKind::Star | TokenKind::String | TokenKind::Ident)
                )
            {
                self.bump();
            }
        }
        if parts.is_empty() {
            let span = self.missing_span();
            self.error("KS100", "The pattern must start with a column name or *", span);
        }
        parts
    }

    fn parse_scan(&mut self, start: u32) -> Operator {
        let params = self.parse_params(&["with_match_id", "hint.*"]);
        let declare = if self.eat_word("declare").is_some() {
            if self.expect(TokenKind::LParen, "(").is_some() {
                let d = self.parse_comma_list(TokenKind::RParen, false, |p| p.parse_column_decl(true));
                self.expect(TokenKind::RParen, ")");
                d
            } else {
                Vec::new()
            }
        } else {
            Vec::new()
        };
        let mut steps = Vec::new();
        if self.expect_word("with").is_some() && self.expect(TokenKind::LParen, "(").is_some() {
            while self.at_word("step") && !self.too_deep {
                let sstart = self.cur_span().start;
                self.bump();
                let name = self.expect_name();
                let output = if self.at_word("output") && self.kind_at(1) == Some(TokenKind::Assign) {
                    self.bump();
                    self.bump();
                    Some(self.expect_name())
                } else {
                    None
                };
                self.expect(TokenKind::Colon, ":");
                let condition = self.parse_expr();
                let assignments = if self.eat(TokenKind::FatArrow).is_some() {
                    self.parse_operator_list(|p| {
                        let column = p.expect_name();
                        let value = if p.expect(TokenKind::Assign, "=").is_some() {
                            p.parse_expr()
                        } else {
                            p.missing_expr()
                        };
                        ScanAssignment {
                            span: column.span.to(value.span),
                            column,
                            value,
                        }
                    })
                } else {
                    Vec::new()
                };
                if self.eat(TokenKind::Semicolon).is_none() && !self.at(TokenKind::RParen) {
                    self.expected(";");
                }
                steps.push(ScanStep {
                    name,
                    output,
                    condition,
                    assignments,
                    span: self.span_from(sstart),
                });
            }
            if steps.is_empty() {
                self.expected("step");
            }
            self.expect(TokenKind::RParen, ")");
        }
        Operator::Scan(ScanOp {
            params,
            declare,
            steps,
            span: self.span_from(start),
        })
    }

    fn parse_make_series(&mut self, start: u32) -> Operator {
        let params = self.parse_params(&["kind", "hint.*"]);
        let aggregates = self.parse_operator_list(|p| {
            let item = p.parse_named_expr();
            let default = if p.at_word("default") && p.kind_at(1) == Some(TokenKind::Assign) {
                p.bump();
                p.bump();
                Some(p.parse_expr())
            } else {
                None
            };
            let span = default.as_ref().map_or(item.span, |d| item.span.to(d.span));
            MakeSeriesAggregate { item, default, span }
        });
        let on = if self.expect_word("on").is_some() {
            self.parse_unary()
        } else {
            self.missing_expr()
        };
        let range =
            if self.at_word("in") && self.word_at(1) == Some("range") && self.kind_at(2) == Some(TokenKind::LParen) {
                self.bump();
                self.bump();
                self.bump();
                let start_e = self.parse_expr();
                self.expect(TokenKind::Comma, ",");
                let stop = self.parse_expr();
                self.expect(TokenKind::Comma, ",");
                let step = self.parse_expr();
                self.expect(TokenKind::RParen, ")");
                MakeSeriesRange::InRange {
                    start: start_e,
                    stop,
                    step,
                }
            } else {
                let from = if self.eat_word("from").is_some() {
                    Some(self.parse_expr())
                } else {
                    None
                };
                let to = if self.eat_word("to").is_some() {
                    Some(self.parse_expr())
                } else {
                    None
                };
                let step = if self.expect_word("step").is_some() {
                    self.parse_expr()
                } else {
                    self.missing_expr()
                };
                MakeSeriesRange::FromToStep { from, to, step }
            };
        let by = if self.eat_word("by").is_some() {
            self.parse_named_list()
        } else {
            Vec::new()
        };
        Operator::MakeSeries(MakeSeriesOp {
            params,
            aggregates,
            on,
            range,
            by,
            span: self.span_from(start),
        })
    }

    /// `[top-nested] [N] of [name =] expr [with others = v] by [name =] agg [asc|desc]`;
    /// the first level's `top-nested` was consumed by the caller.
    fn parse_top_nested_level(&mut self) -> TopNestedLevel {
        let start = self.cur_span().start;
        self.eat_compound("top-nested");
        let count = if self.at_word("of") {
            None
        } else {
            Some(self.parse_expr())
        };
        self.expect_word("of");
        let of = self.parse_named_expr();
        let others = if self.at_word("with") && self.word_at(1) == Some("others") {
            self.bump();
            self.bump();
            self.expect(TokenKind::Assign, "=");
            Some(self.parse_expr())
        } else {
            None
        };
        self.expect_word("by");
        let by = self.parse_named_expr();
        let order = if self.eat_word("asc").is_some() {
            Some(SortOrder::Asc)
        } else if self.eat_word("desc").is_some() {
            Some(SortOrder::Desc)
        } else {
            None
        };
        TopNestedLevel {
            count,
            of,
            others,
            by,
            order,
            span: self.span_from(start),
        }
    }

    fn parse_macro_expand(&mut self, start: u32) -> Operator {
        let params = self.parse_params(&["kind", "isfuzzy", "hint.*"]);
        let group = if self.at_word("entity_group") && self.kind_at(1) == Some(TokenKind::LBracket) {
            MacroEntityGroup::Inline(self.parse_entity_group())
        } else {
            MacroEntityGroup::Name(self.expect_name())
        };
        self.expect_word("as");
        let alias = self.expect_name();
        let body = if self.expect(TokenKind::LParen, "(").is_some() {
            let b = self.parse_sub_pipeline();
            self.expect(TokenKind::RParen, ")");
            b
        } else {
            Pipeline {
                input: None,
                operators: Vec::new(),
                span: self.missing_span(),
            }
        };
        Operator::MacroExpand(MacroExpandOp {
            params,
            group,
            alias,
            body,
            span: self.span_from(start),
        })
    }

    /// `entity_group [ e1, e2 ]` (cursor at `entity_group`).
    pub(crate) fn parse_entity_group(&mut self) -> EntityGroup {
        let start = self.cur_span().start;
        self.bump();
        self.expect(TokenKind::LBracket, "[");
        let entities = self.parse_comma_list(TokenKind::RBracket, false, |p| p.parse_postfix());
        self.expect(TokenKind::RBracket, "]");
        EntityGroup {
            entities,
            span: self.span_from(start),
        }
    }

    fn parse_inline_external_table(&mut self, start: u32) -> Operator {
        let schema = if self.at(TokenKind::LParen) {
            Some(self.parse_schema())
        } else {
            None
        };
        let mut params = Vec::new();
        let mut partitions = Vec::new();
        let mut path_format = Vec::new();
        loop {
            params.extend(self.parse_params(&["kind", "dataformat"]));
            if self.at_word("partition") && self.word_at(1) == Some("by") {
                self.bump();
                self.bump();
                if self.expect(TokenKind::LParen, "(").is_some() {
                    partitions = self.parse_comma_list(TokenKind::RParen, false, |p| p.parse_column_decl(true));
                    self.expect(TokenKind::RParen, ")");
                }
            } else if self.at_word("pathformat") && self.kind_at(1) == Some(TokenKind::Assign) {
                self.bump();
                self.bump();
                if self.expect(TokenKind::LParen, "(").is_some() {
                    while !self.at(TokenKind::RParen) && !self.at_end() && !self.too_deep {
                        let before = self.pos;
                        path_format.push(self.parse_postfix());
                        if self.pos == before {
                            break;
                        }
                    }
                    self.expect(TokenKind::RParen, ")");
                }
            } else {
                break;
            }
        }
        let uris = if self.expect(TokenKind::LParen, "(").is_some() {
            let u = self.parse_comma_list(TokenKind::RParen, false, |p| p.parse_expr());
            self.expect(TokenKind::RParen, ")");
            u
        } else {
            Vec::new()
        };
        let properties = self.parse_with_properties();
        Operator::InlineExternalTable(InlineExternalTableOp {
            schema,
            params,
            partitions,
            path_format,
            uris,
            properties,
            span: self.span_from(start),
        })
    }
}
