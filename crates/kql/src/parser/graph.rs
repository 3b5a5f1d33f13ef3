//! Graph operators: make-graph, graph-match, graph-shortest-paths, graph-mark-components,
//! graph-to-table, and graph path patterns `(a)-[e*1..3]->(b)`.

use super::Parser;
use crate::ast::*;
use crate::lexer::TokenKind;
use crate::span::Span;

impl Parser<'_> {
    pub(crate) fn parse_graph_operator(&mut self, word: &str, start: u32) -> Option<Operator> {
        let op = match word {
            "make-graph" => {
                let params = self.parse_params(&["kind", "hint.*"]);
                let source = self.parse_postfix();
                let directed = if self.eat_arrow(&[TokenKind::Minus, TokenKind::Minus, TokenKind::Gt]) {
                    true
                } else if self.eat_arrow(&[TokenKind::Minus, TokenKind::Minus]) {
                    false
                } else {
                    self.expected("-->");
                    true
                };
                let target = self.parse_postfix();
                let mut nodes = Vec::new();
                if self.eat_word("with").is_some() {
                    nodes = self.parse_operator_list(|p| {
                        let table = p.parse_right_table();
                        let key = if p.expect_word("on").is_some() {
                            p.parse_postfix()
                        } else {
                            p.missing_expr()
                        };
                        MakeGraphNodes {
                            span: table.span.to(key.span),
                            table,
                            key,
                        }
                    });
                }
                let trailing_params = self.parse_params(&["with_node_id"]);
                let partitioned_by = if let Some(s) = self.eat_compound("partitioned-by") {
                    let column = self.expect_name();
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
                    Some(MakeGraphPartition {
                        column,
                        body,
                        span: self.span_from(s.start),
                    })
                } else {
                    None
                };
                Operator::MakeGraph(MakeGraphOp {
                    params,
                    source,
                    directed,
                    target,
                    nodes,
                    trailing_params,
                    partitioned_by,
                    span: self.span_from(start),
                })
            }
            "graph-match" | "graph-shortest-paths" => {
                let allowed: &[&str] = if word == "graph-match" {
                    &["cycles"]
                } else {
                    &["output"]
                };
                let params = self.parse_params(allowed);
                let patterns = self.parse_operator_list(|p| p.parse_graph_pattern());
                let where_clause = if self.eat_word("where").is_some() {
                    Some(self.parse_expr())
                } else {
                    None
                };
                let project = if self.expect_word("project").is_some() {
                    self.parse_named_list()
                } else {
                    Vec::new()
                };
                let span = self.span_from(start);
                if word == "graph-match" {
                    Operator::GraphMatch(GraphMatchOp {
                        params,
                        patterns,
                        where_clause,
                        project,
                        span,
                    })
                } else {
                    Operator::GraphShortestPaths(GraphShortestPathsOp {
                        params,
                        patterns,
                        where_clause,
                        project,
                        span,
                    })
                }
            }
            "graph-mark-components" => {
                let params = self.parse_params(&["kind", "with_component_id"]);
                Operator::GraphMarkComponents(GraphMarkComponentsOp {
                    params,
                    span: self.span_from(start),
                })
            }
            _ => {
                let outputs = self.parse_operator_list(|p| {
                    let ostart = p.cur_span().start;
                    let kind = if p.eat_word("nodes").is_some() {
                        GraphElementKind::Nodes
                    } else if p.eat_word("edges").is_some() {
                        GraphElementKind::Edges
                    } else {
                        p.expected("nodes");
                        GraphElementKind::Nodes
                    };
                    let mut as_name = None;
                    let mut params = Vec::new();
                    loop {
                        let more = p.parse_params(&["with_node_id", "with_source_id", "with_target_id"]);
                        let got = !more.is_empty();
                        params.extend(more);
                        if p.eat_word("as").is_some() {
                            as_name = Some(p.expect_name());
                        } else if !got {
                            break;
                        }
                    }
                    GraphToTableOutput {
                        kind,
                        as_name,
                        params,
                        span: p.span_from(ostart),
                    }
                });
                Operator::GraphToTable(GraphToTableOp {
                    outputs,
                    span: self.span_from(start),
                })
            }
        };
        Some(op)
    }

    /// Consumes the adjacent punctuation sequence `kinds` if it is next.
    fn eat_arrow(&mut self, kinds: &[TokenKind]) -> bool {
        let Some(first) = self.peek() else { return false };
        let mut end = first.span.start;
        for (i, k) in kinds.iter().enumerate() {
            match self.peek_at(i) {
                Some(t) if t.kind == *k && (i == 0 || t.span.start == end) => end = t.span.end,
                _ => return false,
            }
        }
        self.pos += kinds.len();
        true
    }

    /// `(n)-[e]->(m)…`
    fn parse_graph_pattern(&mut self) -> GraphPattern {
        let start = self.cur_span().start;
        let mut nodes = vec![self.parse_graph_node()];
        let mut edges = Vec::new();
        while let Some(edge) = self.parse_graph_edge() {
            edges.push(edge);
            nodes.push(self.parse_graph_node());
            if self.too_deep {
                break;
            }
        }
        GraphPattern {
            nodes,
            edges,
            span: self.span_from(start),
        }
    }

    fn parse_graph_node(&mut self) -> GraphNode {
        let start = self.cur_span();
        if self.expect(TokenKind::LParen, "(").is_none() {
            return GraphNode {
                name: None,
                labels: Vec::new(),
                span: self.missing_span(),
            };
        }
        let name = if self.at_name() { self.parse_name() } else { None };
        let labels = self.parse_graph_labels();
        let close = self.expect(TokenKind::RParen, ")").unwrap_or(start);
        GraphNode {
            name,
            labels,
            span: start.to(close),
        }
    }

    /// `:Label` or `:A|B` (labels from graph models).
    fn parse_graph_labels(&mut self) -> Vec<Ident> {
        let mut labels = Vec::new();
        if self.eat(TokenKind::Colon).is_some() {
            labels.push(self.expect_name());
            while self.eat(TokenKind::Pipe).is_some() {
                labels.push(self.expect_name());
            }
        }
        labels
    }

    fn parse_graph_edge(&mut self) -> Option<GraphEdge> {
        use TokenKind::{Gt, LBracket, Lt, Minus};
        let start = self.cur_span().start;
        // Anonymous edges first: `-->`, `<--`, `--`.
        if self.eat_arrow(&[Minus, Minus, Gt]) {
            return Some(self.anonymous_edge(EdgeDirection::Right, start));
        }
        if self.eat_arrow(&[Lt, Minus, Minus]) {
            return Some(self.anonymous_edge(EdgeDirection::Left, start));
        }
        if self.eat_arrow(&[Minus, Minus]) {
            return Some(self.anonymous_edge(EdgeDirection::Any, start));
        }
        let left = if self.eat_arrow(&[Lt, Minus, LBracket]) {
            true
        } else if self.eat_arrow(&[Minus, LBracket]) {
            false
        } else {
            return None;
        };
        let name = if self.at_name() && !self.at(TokenKind::LBracket) {
            self.parse_name()
        } else {
            None
        };
        let labels = self.parse_graph_labels();
        let range = if let Some(star) = self.eat(TokenKind::Star) {
            let min = self.parse_unary();
            let max = if self.eat(TokenKind::DotDot).is_some() {
                self.parse_unary()
            } else {
                min.clone()
            };
            Some(EdgeRange {
                span: star.to(max.span),
                min,
                max,
            })
        } else {
            None
        };
        self.expect(TokenKind::RBracket, "]");
        let direction = if left {
            self.expect(TokenKind::Minus, "-");
            EdgeDirection::Left
        } else if self.eat_arrow(&[Minus, Gt]) {
            EdgeDirection::Right
        } else {
            self.expect(TokenKind::Minus, "-");
            EdgeDirection::Any
        };
        Some(GraphEdge {
            direction,
            name,
            labels,
            range,
            span: self.span_from(start),
        })
    }

    fn anonymous_edge(&self, direction: EdgeDirection, start: u32) -> GraphEdge {
        GraphEdge {
            direction,
            name: None,
            labels: Vec::new(),
            range: None,
            span: Span::new(start, self.prev_end()),
        }
    }
}
