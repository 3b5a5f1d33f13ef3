//! Tabular operators: dispatch and the common relational operators.

use super::Parser;
use crate::ast::*;
use crate::diagnostic::Diagnostic;
use crate::lexer::TokenKind;
use crate::span::Span;

/// Every operator name that may follow `|`.
pub(crate) const OPERATOR_NAMES: &[&str] = &[
    "as",
    "consume",
    "count",
    "distinct",
    "evaluate",
    "extend",
    "facet",
    "filter",
    "find",
    "fork",
    "getschema",
    "graph-mark-components",
    "graph-match",
    "graph-shortest-paths",
    "graph-to-table",
    "invoke",
    "join",
    "limit",
    "lookup",
    "macro-expand",
    "make-graph",
    "make-series",
    "mv-apply",
    "mv-expand",
    "order",
    "parse",
    "parse-kv",
    "parse-where",
    "partition",
    "project",
    "project-away",
    "project-by-names",
    "project-keep",
    "project-rename",
    "project-reorder",
    "reduce",
    "render",
    "sample",
    "sample-distinct",
    "scan",
    "search",
    "serialize",
    "sort",
    "summarize",
    "take",
    "top",
    "top-hitters",
    "top-nested",
    "union",
    "where",
];

/// Hint parameters accepted by most operators.
const HINTS: &[&str] = &["hint.*"];

impl Parser<'_> {
    /// True when the cursor is at a word that starts a (non-source) query operator and is
    /// not used as a name (`where x`, but not `count` alone or `count == 1`).
    pub(crate) fn at_operator_start(&self) -> bool {
        let Some((word, n)) = self.compound_word() else {
            return false;
        };
        if !OPERATOR_NAMES.contains(&word.as_str()) {
            return false;
        }
        let next = self.kind_at(n);
        match word.as_str() {
            "count" | "getschema" | "consume" | "serialize" => {
                // Operators that may stand alone: only an operator when followed by `|`,
                // or nothing that could continue an expression.
                matches!(
                    next,
                    None | Some(TokenKind::Pipe | TokenKind::RParen | TokenKind::Semicolon)
                ) || (word == "serialize" && next == Some(TokenKind::Ident))
                    || (word == "consume" && next == Some(TokenKind::Ident))
            }
            _ => !matches!(
                next,
                None | Some(
                    TokenKind::Comma
                        | TokenKind::RParen
                        | TokenKind::Semicolon
                        | TokenKind::Dot
                        | TokenKind::Assign
                        | TokenKind::EqEq
                        | TokenKind::LBracket
                        | TokenKind::Pipe
                )
            ),
        }
    }

    /// A source operator at the start of a pipeline (`print`, `range`, `datatable`, `union`,
    /// `find`, `search`, `evaluate`, `externaldata`, `macro-expand`, `inline_external_table`).
    pub(crate) fn try_source_operator(&mut self) -> Option<Operator> {
        let (word, n) = self.compound_word()?;
        let next = self.kind_at(n);
        let is_name_use = matches!(
            next,
            None | Some(
                TokenKind::Comma
                    | TokenKind::RParen
                    | TokenKind::Semicolon
                    | TokenKind::Pipe
                    | TokenKind::Dot
                    | TokenKind::Assign
                    | TokenKind::EqEq
                    | TokenKind::LBracket
            )
        );
        let source = match word.as_str() {
            "print" => next != Some(TokenKind::Dot) && next != Some(TokenKind::Assign),
            "range" => next == Some(TokenKind::Ident) || self.at_bracket_name_at(n),
            "datatable" | "externaldata" | "external_data" | "inline_external_table" => {
                next == Some(TokenKind::LParen) || next == Some(TokenKind::Ident)
            }
            "union" | "find" | "search" | "evaluate" | "macro-expand" => !is_name_use,
            _ => false,
        };
        if !source {
            return None;
        }
        self.parse_operator()
    }

    fn at_bracket_name_at(&self, n: usize) -> bool {
        self.kind_at(n) == Some(TokenKind::LBracket)
            && self.kind_at(n + 1) == Some(TokenKind::String)
            && self.kind_at(n + 2) == Some(TokenKind::RBracket)
    }

    /// One operator at the cursor (after `|`). `None` after reporting when there is none.
    pub(crate) fn parse_operator(&mut self) -> Option<Operator> {
        let Some((word, n)) = self.compound_word() else {
            self.report_operator_expected();
            return None;
        };
        let start = self.cur_span().start;
        if !OPERATOR_NAMES.contains(&word.as_str())
            && !matches!(
                word.as_str(),
                "print" | "range" | "datatable" | "externaldata" | "external_data" | "inline_external_table"
            )
        {
            self.report_operator_expected();
            return None;
        }
        self.pos += n;
        let op = match word.as_str() {
            "where" | "filter" => {
                let keyword = if word == "where" {
                    WhereKeyword::Where
                } else {
                    WhereKeyword::Filter
                };
                let params = self.parse_params(HINTS);
                let predicate = self.parse_expr();
                Operator::Where(WhereOp {
                    keyword,
                    params,
                    predicate,
                    span: self.span_from(start),
                })
            }
            "extend" => {
                let items = self.parse_named_list();
                Operator::Extend(ExtendOp {
                    items,
                    span: self.span_from(start),
                })
            }
            "project" => {
                let items = self.parse_named_list();
                Operator::Project(ProjectOp {
                    items,
                    span: self.span_from(start),
                })
            }
            "project-away" => {
                let columns = self.parse_operator_list(|p| p.expect_name_pattern());
                Operator::ProjectAway(ProjectAwayOp {
                    columns,
                    span: self.span_from(start),
                })
            }
            "project-keep" => {
                let columns = self.parse_operator_list(|p| p.expect_name_pattern());
                Operator::ProjectKeep(ProjectKeepOp {
                    columns,
                    span: self.span_from(start),
                })
            }
            "project-by-names" => {
                let columns = self.parse_operator_list(|p| p.parse_expr());
                Operator::ProjectByNames(ProjectByNamesOp {
                    columns,
                    span: self.span_from(start),
                })
            }
            "project-rename" => {
                let items = self.parse_operator_list(|p| {
                    let new_name = p.expect_name();
                    let old_name = if p.expect(TokenKind::Assign, "=").is_some() {
                        p.expect_name()
                    } else {
                        Ident {
                            name: String::new(),
                            span: p.missing_span(),
                            quoted: false,
                        }
                    };
                    RenameItem {
                        span: new_name.span.to(old_name.span),
                        new_name,
                        old_name,
                    }
                });
                Operator::ProjectRename(ProjectRenameOp {
                    items,
                    span: self.span_from(start),
                })
            }
            "project-reorder" => {
                let items = self.parse_operator_list(|p| {
                    let column = p.expect_name_pattern();
                    let mut span = column.span;
                    let order = match p.compound_word().map(|(w, _)| w).as_deref() {
                        Some("asc") => Some(ReorderOrder::Asc),
                        Some("desc") => Some(ReorderOrder::Desc),
                        Some("granny-asc") => Some(ReorderOrder::GrannyAsc),
                        Some("granny-desc") => Some(ReorderOrder::GrannyDesc),
                        _ => None,
                    };
                    if let Some((w, _)) = order.and_then(|_| p.compound_word())
                        && let Some(s) = p.eat_compound(&w)
                    {
                        span = span.to(s);
                    }
                    ReorderItem { column, order, span }
                });
                Operator::ProjectReorder(ProjectReorderOp {
                    items,
                    span: self.span_from(start),
                })
            }
            "summarize" => self.parse_summarize(start),
            "take" | "limit" => {
                let keyword = if word == "take" {
                    TakeKeyword::Take
                } else {
                    TakeKeyword::Limit
                };
                let params = self.parse_params(HINTS);
                let count = self.parse_expr();
                Operator::Take(TakeOp {
                    keyword,
                    params,
                    count,
                    span: self.span_from(start),
                })
            }
            "top" => {
                let params = self.parse_params(HINTS);
                let count = self.parse_expr();
                let keys = if self.expect_word("by").is_some() {
                    self.parse_operator_list(|p| p.parse_sort_key())
                } else {
                    Vec::new()
                };
                Operator::Top(TopOp {
                    params,
                    count,
                    keys,
                    span: self.span_from(start),
                })
            }
            "sort" | "order" => {
                let keyword = if word == "sort" {
                    SortKeyword::Sort
                } else {
                    SortKeyword::Order
                };
                let params = self.parse_params(HINTS);
                let keys = if self.expect_word("by").is_some() {
                    self.parse_operator_list(|p| p.parse_sort_key())
                } else {
                    Vec::new()
                };
                Operator::Sort(SortOp {
                    keyword,
                    params,
                    keys,
                    span: self.span_from(start),
                })
            }
            "count" => Operator::Count(CountOp {
                span: self.span_from(start),
            }),
            "getschema" => Operator::Getschema(GetschemaOp {
                span: self.span_from(start),
            }),
            "consume" => {
                let params = self.parse_params(&["decodeblocks"]);
                Operator::Consume(ConsumeOp {
                    params,
                    span: self.span_from(start),
                })
            }
            "distinct" => {
                let params = self.parse_params(HINTS);
                let columns = self.parse_operator_list(|p| p.parse_expr());
                Operator::Distinct(DistinctOp {
                    params,
                    columns,
                    span: self.span_from(start),
                })
            }
            "serialize" => {
                let items = if self.at_operator_end() {
                    Vec::new()
                } else {
                    self.parse_named_list()
                };
                Operator::Serialize(SerializeOp {
                    items,
                    span: self.span_from(start),
                })
            }
            "as" => {
                let params = self.parse_params(&["hint.*"]);
                let name = self.expect_name();
                Operator::As(AsOp {
                    params,
                    name,
                    span: self.span_from(start),
                })
            }
            "sample" => {
                let params = self.parse_params(HINTS);
                let count = self.parse_expr();
                Operator::Sample(SampleOp {
                    params,
                    count,
                    span: self.span_from(start),
                })
            }
            "sample-distinct" => {
                let params = self.parse_params(HINTS);
                let count = self.parse_expr();
                let of = if self.expect_word("of").is_some() {
                    self.parse_expr()
                } else {
                    self.missing_expr()
                };
                Operator::SampleDistinct(SampleDistinctOp {
                    params,
                    count,
                    of,
                    span: self.span_from(start),
                })
            }
            "join" => self.parse_join(start),
            "lookup" => {
                let params = self.parse_params(&["kind", "hint.*"]);
                let right = self.parse_right_table();
                let on = if self.expect_word("on").is_some() {
                    self.parse_operator_list(|p| p.parse_expr())
                } else {
                    Vec::new()
                };
                Operator::Lookup(LookupOp {
                    params,
                    right,
                    on,
                    span: self.span_from(start),
                })
            }
            "union" => {
                let params = self.parse_params(&["kind", "withsource", "isfuzzy", "hint.*"]);
                let tables = self.parse_operator_list(|p| p.parse_table_ref());
                Operator::Union(UnionOp {
                    params,
                    tables,
                    span: self.span_from(start),
                })
            }
            "print" => {
                let items = if self.at_operator_end() {
                    Vec::new()
                } else {
                    self.parse_named_list()
                };
                Operator::Print(PrintOp {
                    items,
                    span: self.span_from(start),
                })
            }
            "range" => {
                let column = self.expect_name();
                let from = if self.expect_word("from").is_some() {
                    self.parse_expr()
                } else {
                    self.missing_expr()
                };
                let to = if self.expect_word("to").is_some() {
                    self.parse_expr()
                } else {
                    self.missing_expr()
                };
                let step = if self.expect_word("step").is_some() {
                    self.parse_expr()
                } else {
                    self.missing_expr()
                };
                Operator::Range(RangeOp {
                    column,
                    from,
                    to,
                    step,
                    span: self.span_from(start),
                })
            }
            "datatable" => {
                let schema = self.parse_schema();
                let values = if self.expect(TokenKind::LBracket, "[").is_some() {
                    let v = self.parse_comma_list(TokenKind::RBracket, true, |p| p.parse_expr());
                    self.expect(TokenKind::RBracket, "]");
                    v
                } else {
                    Vec::new()
                };
                let columns = schema.columns.len();
                let span = self.span_from(start);
                if columns > 0 && values.len() % columns != 0 {
                    self.push_diag(Diagnostic::error(
                        "KS173",
                        format!("Incorrect number of data values. The values should appear in multiples of {columns}."),
                        span,
                    ));
                }
                Operator::Datatable(DatatableOp { schema, values, span })
            }
            "externaldata" | "external_data" => {
                let params = self.parse_params(&["kind", "hint.*"]);
                let schema = self.parse_schema();
                let uris = if self.expect(TokenKind::LBracket, "[").is_some() {
                    let v = self.parse_comma_list(TokenKind::RBracket, false, |p| p.parse_expr());
                    self.expect(TokenKind::RBracket, "]");
                    v
                } else {
                    Vec::new()
                };
                let properties = self.parse_with_properties();
                Operator::Externaldata(ExternaldataOp {
                    params,
                    schema,
                    uris,
                    properties,
                    span: self.span_from(start),
                })
            }
            "mv-expand" => {
                let params = self.parse_params(&["kind", "bagexpansion", "with_itemindex", "hint.*"]);
                let items = self.parse_operator_list(|p| p.parse_mv_item());
                let limit = if self.eat_word("limit").is_some() {
                    Some(self.parse_expr())
                } else {
                    None
                };
                Operator::MvExpand(MvExpandOp {
                    params,
                    items,
                    limit,
                    span: self.span_from(start),
                })
            }
            "mv-apply" => {
                let params = self.parse_params(&["with_itemindex", "bagexpansion", "kind", "hint.*"]);
                let items = self.parse_operator_list(|p| p.parse_mv_item());
                let limit = if self.eat_word("limit").is_some() {
                    Some(self.parse_expr())
                } else {
                    None
                };
                let body = self.parse_on_subquery();
                Operator::MvApply(MvApplyOp {
                    params,
                    items,
                    limit,
                    body,
                    span: self.span_from(start),
                })
            }
            _ => return self.parse_operator2(&word, start),
        };
        Some(op)
    }

    fn report_operator_expected(&mut self) {
        let span = self.cur_span();
        let mut diag = Diagnostic::error("KS176", "Query operator expected.", span);
        if let Some(t) = self.peek().filter(|t| t.kind == TokenKind::Ident) {
            let word = self
                .compound_word()
                .map(|(w, _)| w)
                .unwrap_or_else(|| self.text(t).to_string());
            diag = diag.with_label(span, format!("'{word}' is not a query operator"));
            if let Some(best) = closest_operator(&word) {
                diag = diag.with_help(format!("did you mean `{best}`?"));
            } else if self.looks_like_predicate_after_name() {
                diag = diag.with_help(format!("to keep only matching rows, write `| where {word} …`"));
            }
        } else if self.at(TokenKind::Pipe) {
            diag = diag.with_label(span, "a second `|` with no operator between");
        } else if self.at_end() {
            let span = self.missing_span();
            diag = Diagnostic::error("KS176", "Query operator expected.", span)
                .with_help("the query ends with `|`: add an operator after it or remove it");
        }
        self.push_diag(diag);
    }

    /// After a name, is there something that continues a predicate (`x in (…)`, `x == 1`)?
    fn looks_like_predicate_after_name(&self) -> bool {
        match self.peek_at(1) {
            Some(t) => match t.kind {
                TokenKind::EqEq
                | TokenKind::NotEq
                | TokenKind::EqTilde
                | TokenKind::BangTilde
                | TokenKind::Lt
                | TokenKind::Le
                | TokenKind::Gt
                | TokenKind::Ge => true,
                TokenKind::Ident => {
                    let w = self.text(t);
                    w.starts_with('!')
                        || matches!(
                            w,
                            "in" | "in~"
                                | "has"
                                | "has_any"
                                | "has_all"
                                | "contains"
                                | "startswith"
                                | "endswith"
                                | "between"
                                | "matches"
                                | "has_cs"
                                | "hasprefix"
                                | "hassuffix"
                        )
                }
                _ => false,
            },
            None => false,
        }
    }

    /// Span from `start` to the end of the last consumed token.
    pub(crate) fn span_from(&self, start: u32) -> Span {
        Span::new(start, self.prev_end().max(start))
    }

    /// At `|`, `;`, a closing bracket or the end: nothing more belongs to this operator.
    pub(crate) fn at_operator_end(&self) -> bool {
        matches!(
            self.peek_kind(),
            None | Some(TokenKind::Pipe | TokenKind::Semicolon | TokenKind::RParen | TokenKind::RBrace)
        )
    }

    fn parse_summarize(&mut self, start: u32) -> Operator {
        let params = self.parse_params(HINTS);
        let aggregates = if self.at_word("by") || self.at_operator_end() {
            Vec::new()
        } else {
            self.parse_named_list()
        };
        let by = if self.eat_word("by").is_some() {
            self.parse_named_list()
        } else {
            Vec::new()
        };
        Operator::Summarize(SummarizeOp {
            params,
            aggregates,
            by,
            span: self.span_from(start),
        })
    }

    fn parse_join(&mut self, start: u32) -> Operator {
        let params = self.parse_params(&["kind", "hint.*", "withsource"]);
        let right = self.parse_right_table();
        let (on, where_keyword) = if self.eat_word("on").is_some() {
            (self.parse_operator_list(|p| p.parse_expr()), false)
        } else if self.eat_word("where").is_some() {
            (self.parse_operator_list(|p| p.parse_expr()), true)
        } else {
            let span = self.missing_span();
            self.push_diag(
                Diagnostic::error("KS006", "Missing join on condition clause", span)
                    .with_help("add `on Column` or `on $left.A == $right.B`"),
            );
            (Vec::new(), false)
        };
        Operator::Join(JoinOp {
            params,
            right,
            on,
            where_keyword,
            span: self.span_from(start),
        })
    }

    /// The right side of `join`/`lookup`: `(subquery)` or a table reference.
    pub(crate) fn parse_right_table(&mut self) -> Expr {
        if self.at(TokenKind::LParen) {
            self.parse_postfix()
        } else {
            self.parse_table_ref()
        }
    }

    /// A table in `union`, `find in (…)`, `search in (…)`, `join`: a name (possibly with
    /// wildcards), a call (`table('x')`, `cluster(…).database(…).T`), or `( query )`.
    pub(crate) fn parse_table_ref(&mut self) -> Expr {
        if self.at(TokenKind::Ident) || self.at(TokenKind::Star) {
            // A wildcard pattern made of adjacent pieces?
            let mut i = 0;
            let mut has_star = false;
            let mut end = self.cur_span().start;
            while let Some(t) = self.peek_at(i) {
                if t.span.start != end && i > 0 {
                    break;
                }
                match t.kind {
                    TokenKind::Ident => {}
                    TokenKind::Star => has_star = true,
                    _ => break,
                }
                end = t.span.end;
                i += 1;
            }
            if has_star && let Some(p) = self.parse_name_pattern() {
                let span = p.span;
                return Expr {
                    kind: ExprKind::Pattern(p),
                    span,
                };
            }
        }
        let mut e = self.parse_postfix();
        // `database("db").*` / `cluster(…).database(…).Event*`: a wildcard member.
        if self.at(TokenKind::Dot) && self.kind_at(1) == Some(TokenKind::Star) {
            self.bump();
            if let Some(p) = self.parse_name_pattern() {
                let span = e.span.to(p.span);
                let name = Ident {
                    name: p.pattern,
                    span: p.span,
                    quoted: false,
                };
                e = Expr {
                    kind: ExprKind::Member(Box::new(MemberExpr { target: e, name })),
                    span,
                };
            }
        } else if let ExprKind::Member(m) = &mut e.kind
            && self.at(TokenKind::Star)
            && self.cur_span().start == m.name.span.end
        {
            // `database("db").T*`
            let star = self.cur_span();
            self.bump();
            m.name.name.push('*');
            m.name.span = m.name.span.to(star);
            e.span = e.span.to(star);
        }
        e
    }

    /// `[name =] expr [to typeof(type)]` in mv-expand/mv-apply.
    fn parse_mv_item(&mut self) -> MvItem {
        let start = self.cur_span();
        let name = if self.at_name() && self.kind_at(self.name_token_count()) == Some(TokenKind::Assign) {
            let n = self.parse_name();
            self.bump();
            n
        } else {
            None
        };
        let expr = self.parse_expr();
        let to_type = if self.at_word("to") && self.word_at(1) == Some("typeof") {
            self.bump();
            self.bump();
            if self.expect(TokenKind::LParen, "(").is_some() {
                let ty = self.parse_type_name();
                self.expect(TokenKind::RParen, ")");
                Some(ty)
            } else {
                None
            }
        } else {
            None
        };
        MvItem {
            name,
            expr,
            to_type,
            span: self.span_from(start.start),
        }
    }

    /// `on ( subquery )` for mv-apply.
    fn parse_on_subquery(&mut self) -> Pipeline {
        if self.expect_word("on").is_none() || self.expect(TokenKind::LParen, "(").is_none() {
            let span = self.missing_span();
            return Pipeline {
                input: None,
                operators: Vec::new(),
                span,
            };
        }
        let body = self.parse_sub_pipeline();
        self.expect(TokenKind::RParen, ")");
        body
    }

    /// Optional `with ( name = value, … )`.
    pub(crate) fn parse_with_properties(&mut self) -> Vec<Property> {
        if !self.at_word("with") || self.kind_at(1) != Some(TokenKind::LParen) {
            return Vec::new();
        }
        self.bump();
        self.bump();
        let props = self.parse_comma_list(TokenKind::RParen, false, |p| p.parse_property(false));
        self.expect(TokenKind::RParen, ")");
        props
    }

    /// `name = value [, value…]`; extra values (`ycolumns=a, b`) only when `multi`.
    pub(crate) fn parse_property(&mut self, multi: bool) -> Property {
        let start = self.cur_span().start;
        let (name, n) = self.dotted_word().unwrap_or_default();
        let name = if n > 0 {
            self.pos += n;
            Ident {
                name,
                span: self.span_from(start),
                quoted: false,
            }
        } else {
            self.expect_name()
        };
        let mut values = Vec::new();
        if self.expect(TokenKind::Assign, "=").is_some() {
            values.push(self.parse_expr());
            while multi
                && self.at(TokenKind::Comma)
                && self.kind_at(1) == Some(TokenKind::Ident)
                && self.kind_at(2) != Some(TokenKind::Assign)
            {
                self.bump();
                values.push(self.parse_expr());
            }
        }
        Property {
            name,
            values,
            span: self.span_from(start),
        }
    }
}

/// The operator name closest to a misspelling (edit distance ≤ 2), if any.
fn closest_operator(word: &str) -> Option<&'static str> {
    if word.len() < 4 {
        return None;
    }
    let all = OPERATOR_NAMES
        .iter()
        .chain(["print", "range", "datatable", "externaldata"].iter());
    all.map(|op| (edit_distance(word, op), *op))
        .filter(|(d, _)| *d > 0 && *d <= 2)
        .min()
        .map(|(_, op)| op)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            let v = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
            cur.push(v);
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn typo_suggestions() {
        assert_eq!(super::closest_operator("summarise"), Some("summarize"));
        assert_eq!(super::closest_operator("Sha1"), None);
        assert_eq!(super::closest_operator("extnd"), Some("extend"));
    }
}
