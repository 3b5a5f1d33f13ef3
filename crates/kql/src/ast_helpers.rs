//! Convenience accessors on the tree: operator names and spans, parameter lookup, and
//! typed readings of well-known operator parameters.

use crate::ast::*;
use crate::diagnostic::Diagnostic;
use crate::span::Span;

impl Operator {
    /// The operator's span (keyword to last token).
    pub fn span(&self) -> Span {
        match self {
            Operator::As(o) => o.span,
            Operator::Consume(o) => o.span,
            Operator::Count(o) => o.span,
            Operator::Datatable(o) => o.span,
            Operator::Distinct(o) => o.span,
            Operator::Evaluate(o) => o.span,
            Operator::Extend(o) => o.span,
            Operator::Externaldata(o) => o.span,
            Operator::Facet(o) => o.span,
            Operator::Find(o) => o.span,
            Operator::Fork(o) => o.span,
            Operator::Getschema(o) => o.span,
            Operator::GraphMarkComponents(o) => o.span,
            Operator::GraphMatch(o) => o.span,
            Operator::GraphShortestPaths(o) => o.span,
            Operator::GraphToTable(o) => o.span,
            Operator::InlineExternalTable(o) => o.span,
            Operator::Invoke(o) => o.span,
            Operator::Join(o) => o.span,
            Operator::Lookup(o) => o.span,
            Operator::MacroExpand(o) => o.span,
            Operator::MakeGraph(o) => o.span,
            Operator::MakeSeries(o) => o.span,
            Operator::MvApply(o) => o.span,
            Operator::MvExpand(o) => o.span,
            Operator::Parse(o) => o.span,
            Operator::ParseKv(o) => o.span,
            Operator::Partition(o) => o.span,
            Operator::Print(o) => o.span,
            Operator::Project(o) => o.span,
            Operator::ProjectAway(o) => o.span,
            Operator::ProjectByNames(o) => o.span,
            Operator::ProjectKeep(o) => o.span,
            Operator::ProjectRename(o) => o.span,
            Operator::ProjectReorder(o) => o.span,
            Operator::Range(o) => o.span,
            Operator::Reduce(o) => o.span,
            Operator::Render(o) => o.span,
            Operator::Sample(o) => o.span,
            Operator::SampleDistinct(o) => o.span,
            Operator::Scan(o) => o.span,
            Operator::Search(o) => o.span,
            Operator::Serialize(o) => o.span,
            Operator::Sort(o) => o.span,
            Operator::Summarize(o) => o.span,
            Operator::Take(o) => o.span,
            Operator::Top(o) => o.span,
            Operator::TopHitters(o) => o.span,
            Operator::TopNested(o) => o.span,
            Operator::Union(o) => o.span,
            Operator::Where(o) => o.span,
        }
    }

    /// The operator's keyword as written (`where`/`filter`, `sort`/`order`…).
    pub fn name(&self) -> &'static str {
        match self {
            Operator::As(_) => "as",
            Operator::Consume(_) => "consume",
            Operator::Count(_) => "count",
            Operator::Datatable(_) => "datatable",
            Operator::Distinct(_) => "distinct",
            Operator::Evaluate(_) => "evaluate",
            Operator::Extend(_) => "extend",
            Operator::Externaldata(_) => "externaldata",
            Operator::Facet(_) => "facet",
            Operator::Find(_) => "find",
            Operator::Fork(_) => "fork",
            Operator::Getschema(_) => "getschema",
            Operator::GraphMarkComponents(_) => "graph-mark-components",
            Operator::GraphMatch(_) => "graph-match",
            Operator::GraphShortestPaths(_) => "graph-shortest-paths",
            Operator::GraphToTable(_) => "graph-to-table",
            Operator::InlineExternalTable(_) => "inline_external_table",
            Operator::Invoke(_) => "invoke",
            Operator::Join(_) => "join",
            Operator::Lookup(_) => "lookup",
            Operator::MacroExpand(_) => "macro-expand",
            Operator::MakeGraph(_) => "make-graph",
            Operator::MakeSeries(_) => "make-series",
            Operator::MvApply(_) => "mv-apply",
            Operator::MvExpand(_) => "mv-expand",
            Operator::Parse(o) => match o.keyword {
                ParseKeyword::Parse => "parse",
                ParseKeyword::ParseWhere => "parse-where",
            },
            Operator::ParseKv(_) => "parse-kv",
            Operator::Partition(_) => "partition",
            Operator::Print(_) => "print",
            Operator::Project(_) => "project",
            Operator::ProjectAway(_) => "project-away",
            Operator::ProjectByNames(_) => "project-by-names",
            Operator::ProjectKeep(_) => "project-keep",
            Operator::ProjectRename(_) => "project-rename",
            Operator::ProjectReorder(_) => "project-reorder",
            Operator::Range(_) => "range",
            Operator::Reduce(_) => "reduce",
            Operator::Render(_) => "render",
            Operator::Sample(_) => "sample",
            Operator::SampleDistinct(_) => "sample-distinct",
            Operator::Scan(_) => "scan",
            Operator::Search(_) => "search",
            Operator::Serialize(_) => "serialize",
            Operator::Sort(o) => match o.keyword {
                SortKeyword::Sort => "sort",
                SortKeyword::Order => "order",
            },
            Operator::Summarize(_) => "summarize",
            Operator::Take(o) => match o.keyword {
                TakeKeyword::Take => "take",
                TakeKeyword::Limit => "limit",
            },
            Operator::Top(_) => "top",
            Operator::TopHitters(_) => "top-hitters",
            Operator::TopNested(_) => "top-nested",
            Operator::Union(_) => "union",
            Operator::Where(o) => match o.keyword {
                WhereKeyword::Where => "where",
                WhereKeyword::Filter => "filter",
            },
        }
    }
}

impl Statement {
    pub fn span(&self) -> Span {
        match self {
            Statement::Let(s) => s.span,
            Statement::QueryParameters(s) => s.span,
            Statement::Pattern(s) => s.span,
            Statement::Set(s) => s.span,
            Statement::Alias(s) => s.span,
            Statement::RestrictAccess(s) => s.span,
            Statement::Expr(e) => e.span,
        }
    }
}

/// Finds a parameter by name (exact, as Kusto's parameter names are case-sensitive).
pub fn find_param<'a>(params: &'a [OperatorParam], name: &str) -> Option<&'a OperatorParam> {
    params.iter().find(|p| p.name.name == name)
}

impl OperatorParam {
    /// The value as a word: a name (`inner`) or a literal's text (`true`, `10`, `'x'`).
    pub fn value_text(&self) -> Option<String> {
        match &self.value.kind {
            ExprKind::Name(id) => Some(id.name.clone()),
            ExprKind::Literal(l) => Some(match &l.value {
                LiteralValue::String(s) => s.value.clone(),
                other => crate::print::literal(other),
            }),
            _ => None,
        }
    }
}

/// `join` kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum JoinKind {
    InnerUnique,
    Inner,
    LeftOuter,
    RightOuter,
    FullOuter,
    LeftAnti,
    RightAnti,
    LeftSemi,
    RightSemi,
}

impl JoinKind {
    fn from_word(word: &str) -> Option<Self> {
        Some(match word {
            "innerunique" => JoinKind::InnerUnique,
            "inner" => JoinKind::Inner,
            "leftouter" => JoinKind::LeftOuter,
            "rightouter" => JoinKind::RightOuter,
            "fullouter" | "outer" => JoinKind::FullOuter,
            "leftanti" | "anti" | "leftantisemi" => JoinKind::LeftAnti,
            "rightanti" | "rightantisemi" => JoinKind::RightAnti,
            "leftsemi" => JoinKind::LeftSemi,
            "rightsemi" => JoinKind::RightSemi,
            _ => return None,
        })
    }
}

fn kind_param<T>(
    params: &[OperatorParam],
    default: T,
    allowed: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T, Diagnostic> {
    let Some(p) = find_param(params, "kind") else {
        return Ok(default);
    };
    let text = p.value_text().unwrap_or_default();
    parse(&text).ok_or_else(|| {
        Diagnostic::error(
            "KS140",
            format!("The expression must be one of the values: {allowed}"),
            p.value.span,
        )
    })
}

impl JoinOp {
    /// The join kind (`innerunique` when not given, as in Kusto).
    pub fn kind(&self) -> Result<JoinKind, Diagnostic> {
        kind_param(
            &self.params,
            JoinKind::InnerUnique,
            "innerunique, inner, leftouter, rightouter, fullouter, leftanti, rightanti, leftsemi, rightsemi",
            JoinKind::from_word,
        )
    }
}

impl LookupOp {
    /// `leftouter` (default) or `inner`.
    pub fn kind(&self) -> Result<JoinKind, Diagnostic> {
        kind_param(&self.params, JoinKind::LeftOuter, "leftouter, inner", |w| match w {
            "leftouter" => Some(JoinKind::LeftOuter),
            "inner" => Some(JoinKind::Inner),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_kind_and_names() {
        let q =
            crate::parse("T | join kind=leftanti (U) on k | join (V) on k | filter x | join kind=bogus (W) on k").query;
        let Some(Statement::Expr(Expr {
            kind: ExprKind::Pipe(p),
            ..
        })) = q.statements.first()
        else {
            panic!()
        };
        let kinds: Vec<_> = p
            .operators
            .iter()
            .filter_map(|o| match o {
                Operator::Join(j) => Some(j.kind().ok()),
                _ => None,
            })
            .collect();
        assert_eq!(kinds, vec![Some(JoinKind::LeftAnti), Some(JoinKind::InnerUnique), None]);
        assert_eq!(p.operators[2].name(), "filter");
    }
}
