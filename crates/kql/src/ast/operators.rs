//! Pipelines, tabular operators and their building blocks of the KQL syntax tree.

use super::*;
use crate::span::Span;
use serde::Serialize;

// ---------------------------------------------------------------------------------------
// Operator building blocks
// ---------------------------------------------------------------------------------------

/// `[name | (n1, n2) =] expr` as in `extend`, `project`, `summarize`, `print`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NamedExpr {
    pub name: Option<Assignee>,
    pub expr: Expr,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Assignee {
    /// `x = …`
    Single(Ident),
    /// `(a, b) = …`
    Tuple { names: Vec<Ident>, span: Span },
}

/// An operator parameter written `name=value` before the operator's body:
/// `kind=inner`, `hint.strategy=shuffle`, `withsource=Source`, `isfuzzy=true`,
/// `with_itemindex=i`, `decodeblocks=true`, `bagexpansion=array`…
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OperatorParam {
    /// The parameter name as written, dotted names joined (`hint.strategy`).
    pub name: Ident,
    /// A literal or a name (`inner` is an [`ExprKind::Name`]).
    pub value: Expr,
    pub span: Span,
}

/// `name = value [, value…]` inside `with ( … )` (render, externaldata, parse-kv, reduce).
/// Most properties have one value; `render … with (ycolumns=a, b)` has several.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Property {
    pub name: Ident,
    pub values: Vec<Expr>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SortOrder {
    Asc,
    Desc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum NullsOrder {
    First,
    Last,
}

/// `expr [asc|desc] [nulls first|last]`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SortKey {
    pub expr: Expr,
    pub order: Option<SortOrder>,
    pub nulls: Option<NullsOrder>,
    pub span: Span,
}

// ---------------------------------------------------------------------------------------
// Pipelines and tabular operators
// ---------------------------------------------------------------------------------------

/// `input | op1 | op2 …`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pipeline {
    /// The input expression (a table name, a call, a parenthesized query…). `None` when the
    /// first operator is itself a source (`print`, `range`, `datatable`, `union`, `find`,
    /// `search`, `evaluate`…), or inside `fork`/`facet`/`partition`/`mv-apply` bodies.
    pub input: Option<Expr>,
    /// At least one operator (an expression without `|` is not a pipeline).
    pub operators: Vec<Operator>,
    pub span: Span,
}

/// One tabular operator. Each variant's struct carries the operator's span (keyword to
/// last token; the leading `|` excluded).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Operator {
    As(AsOp),
    Consume(ConsumeOp),
    Count(CountOp),
    Datatable(DatatableOp),
    Distinct(DistinctOp),
    Evaluate(EvaluateOp),
    Extend(ExtendOp),
    Externaldata(ExternaldataOp),
    Facet(FacetOp),
    Find(FindOp),
    Fork(ForkOp),
    Getschema(GetschemaOp),
    GraphMarkComponents(GraphMarkComponentsOp),
    GraphMatch(GraphMatchOp),
    GraphShortestPaths(GraphShortestPathsOp),
    GraphToTable(GraphToTableOp),
    InlineExternalTable(InlineExternalTableOp),
    Invoke(InvokeOp),
    Join(JoinOp),
    Lookup(LookupOp),
    MacroExpand(MacroExpandOp),
    MakeGraph(MakeGraphOp),
    MakeSeries(MakeSeriesOp),
    MvApply(MvApplyOp),
    MvExpand(MvExpandOp),
    Parse(ParseOp),
    ParseKv(ParseKvOp),
    Partition(PartitionOp),
    Print(PrintOp),
    Project(ProjectOp),
    ProjectAway(ProjectAwayOp),
    ProjectByNames(ProjectByNamesOp),
    ProjectKeep(ProjectKeepOp),
    ProjectRename(ProjectRenameOp),
    ProjectReorder(ProjectReorderOp),
    Range(RangeOp),
    Reduce(ReduceOp),
    Render(RenderOp),
    Sample(SampleOp),
    SampleDistinct(SampleDistinctOp),
    Scan(ScanOp),
    Search(SearchOp),
    Serialize(SerializeOp),
    Sort(SortOp),
    Summarize(SummarizeOp),
    Take(TakeOp),
    Top(TopOp),
    TopHitters(TopHittersOp),
    TopNested(TopNestedOp),
    Union(UnionOp),
    Where(WhereOp),
}

/// `as [hint.materialized=true] Name`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AsOp {
    pub params: Vec<OperatorParam>,
    pub name: Ident,
    pub span: Span,
}

/// `consume [decodeblocks=true]`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConsumeOp {
    pub params: Vec<OperatorParam>,
    pub span: Span,
}

/// `count`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CountOp {
    pub span: Span,
}

/// `datatable(x:long, y:string) [1, 'a', 2, 'b']` (a source).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DatatableOp {
    pub schema: TableSchema,
    /// Values row by row, flattened (`len = rows × columns` when well-formed).
    pub values: Vec<Expr>,
    pub span: Span,
}

/// `distinct a, b` or `distinct *`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DistinctOp {
    pub params: Vec<OperatorParam>,
    pub columns: Vec<Expr>,
    pub span: Span,
}

/// `evaluate [hint.distribution=…] plugin(args) [: (output schema)]`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvaluateOp {
    pub params: Vec<OperatorParam>,
    /// The plugin call (`bag_unpack(d)`); its `receiver` is always `None`.
    pub plugin: Call,
    pub plugin_span: Span,
    pub output_schema: Option<TableSchema>,
    pub span: Span,
}

/// `extend a = x, b, (c, d) = f()`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExtendOp {
    pub items: Vec<NamedExpr>,
    pub span: Span,
}

/// `externaldata (x:long) [ 'uri', h@'uri' ] [with (format='csv')]` (a source).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExternaldataOp {
    pub params: Vec<OperatorParam>,
    pub schema: TableSchema,
    pub uris: Vec<Expr>,
    pub properties: Vec<Property>,
    pub span: Span,
}

/// `facet by a, b [with (operators)]` (or the legacy `with operator` without parentheses)
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FacetOp {
    pub columns: Vec<Ident>,
    pub with: Option<Pipeline>,
    pub span: Span,
}

/// `find [withsource=C] [in (T1, T2*)] where pred [project-smart | project a:type, …]`
/// or `find pred …`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FindOp {
    pub params: Vec<OperatorParam>,
    pub tables: Option<Vec<Expr>>,
    /// True when written `find … where pred` (vs. `find pred`).
    pub where_keyword: bool,
    pub predicate: Expr,
    pub project: Option<FindProject>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum FindProject {
    /// `project-smart`
    Smart(Span),
    /// `project a, b:string, pack_all()`
    Columns { items: Vec<FindProjectItem>, span: Span },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum FindProjectItem {
    Column {
        name: Ident,
        ty: Option<TypeName>,
        span: Span,
    },
    /// `pack_all()` (or another expression Kusto allows there)
    Expr(Expr),
}

/// `fork (where x) (take 3) name=(count)`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ForkOp {
    pub branches: Vec<ForkBranch>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ForkBranch {
    pub name: Option<Ident>,
    pub query: Pipeline,
    pub span: Span,
}

/// `getschema`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GetschemaOp {
    pub span: Span,
}

/// `graph-mark-components [kind=weak] [with_component_id=c]`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GraphMarkComponentsOp {
    pub params: Vec<OperatorParam>,
    pub span: Span,
}

/// `graph-match [cycles=none] pattern, pattern [where pred] project items`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GraphMatchOp {
    pub params: Vec<OperatorParam>,
    pub patterns: Vec<GraphPattern>,
    pub where_clause: Option<Expr>,
    pub project: Vec<NamedExpr>,
    pub span: Span,
}

/// `graph-shortest-paths [output=all] pattern [where pred] project items`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GraphShortestPathsOp {
    pub params: Vec<OperatorParam>,
    pub patterns: Vec<GraphPattern>,
    pub where_clause: Option<Expr>,
    pub project: Vec<NamedExpr>,
    pub span: Span,
}

/// A path pattern `(a)-[e*1..3]->(b)<--(c)`: nodes alternating with edges.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GraphPattern {
    /// `nodes.len() == edges.len() + 1`
    pub nodes: Vec<GraphNode>,
    pub edges: Vec<GraphEdge>,
    pub span: Span,
}

/// `(name)` or `()` or `(name:Label)`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GraphNode {
    pub name: Option<Ident>,
    pub labels: Vec<Ident>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum EdgeDirection {
    /// `-->` / `-[e]->`
    Right,
    /// `<--` / `<-[e]-`
    Left,
    /// `--` / `-[e]-`
    Any,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GraphEdge {
    pub direction: EdgeDirection,
    pub name: Option<Ident>,
    pub labels: Vec<Ident>,
    /// `*min..max` for a variable-length edge.
    pub range: Option<EdgeRange>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EdgeRange {
    pub min: Expr,
    pub max: Expr,
    pub span: Span,
}

/// `graph-to-table nodes [as N] [with_node_id=c], edges [as E] [with_source_id=s] …`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GraphToTableOp {
    pub outputs: Vec<GraphToTableOutput>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum GraphElementKind {
    Nodes,
    Edges,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GraphToTableOutput {
    pub kind: GraphElementKind,
    pub as_name: Option<Ident>,
    pub params: Vec<OperatorParam>,
    pub span: Span,
}

/// `inline_external_table (schema) kind=storage [partition by (…)] [pathformat=(…)]
/// dataformat=csv ( 'uri', … ) [with (…)]` (a source).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InlineExternalTableOp {
    pub schema: Option<TableSchema>,
    /// `kind=…`, `dataformat=…`
    pub params: Vec<OperatorParam>,
    pub partitions: Vec<ColumnDecl>,
    /// The elements of `pathformat=( … )`: strings and `datetime_pattern(…)` calls.
    pub path_format: Vec<Expr>,
    pub uris: Vec<Expr>,
    pub properties: Vec<Property>,
    pub span: Span,
}

/// `invoke f(args)`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InvokeOp {
    pub function: Call,
    pub function_span: Span,
    pub span: Span,
}

/// `join [kind=…] [hint.…=…] (right) on cond, …` (or `on` omitted → error) / `where`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JoinOp {
    pub params: Vec<OperatorParam>,
    pub right: Expr,
    /// `on a, $left.b == $right.c` — names or equality conditions.
    pub on: Vec<Expr>,
    /// True when the condition was written `where …` (legacy synonym of `on`).
    pub where_keyword: bool,
    pub span: Span,
}

/// `lookup [kind=leftouter|inner] (right) on cond, …`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LookupOp {
    pub params: Vec<OperatorParam>,
    pub right: Expr,
    pub on: Vec<Expr>,
    pub span: Span,
}

/// `macro-expand [kind=…] [isfuzzy=…] group as X ( subquery )`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MacroExpandOp {
    pub params: Vec<OperatorParam>,
    /// A name of an entity group, or `entity_group [...]` inline ([`ExprKind::Call`] named
    /// `entity_group` is not used: inline groups are `MacroEntityGroup::Inline`).
    pub group: MacroEntityGroup,
    pub alias: Ident,
    pub body: Pipeline,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum MacroEntityGroup {
    Name(Ident),
    Inline(EntityGroup),
}

/// `make-graph src --> dst [with T on id, …] [with_node_id=name] [partitioned-by c ( ops )]`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MakeGraphOp {
    pub params: Vec<OperatorParam>,
    pub source: Expr,
    /// `-->` (directed) or `--` (undirected)
    pub directed: bool,
    pub target: Expr,
    pub nodes: Vec<MakeGraphNodes>,
    /// `with_node_id=name` after the edge spec.
    pub trailing_params: Vec<OperatorParam>,
    pub partitioned_by: Option<MakeGraphPartition>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MakeGraphNodes {
    pub table: Expr,
    pub key: Expr,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MakeGraphPartition {
    pub column: Ident,
    pub body: Pipeline,
    pub span: Span,
}

/// `make-series [kind=nonempty] agg [default=v], … on axis (from a to b step s | in range(a,b,s)) [by …]`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MakeSeriesOp {
    pub params: Vec<OperatorParam>,
    pub aggregates: Vec<MakeSeriesAggregate>,
    pub on: Expr,
    pub range: MakeSeriesRange,
    pub by: Vec<NamedExpr>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MakeSeriesAggregate {
    pub item: NamedExpr,
    pub default: Option<Expr>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum MakeSeriesRange {
    /// `[from a] [to b] step s`
    FromToStep {
        from: Option<Expr>,
        to: Option<Expr>,
        step: Expr,
    },
    /// `in range(a, b, s)`
    InRange { start: Expr, stop: Expr, step: Expr },
}

/// An item of `mv-expand`/`mv-apply`: `[name =] expr [to typeof(type)]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MvItem {
    pub name: Option<Ident>,
    pub expr: Expr,
    pub to_type: Option<TypeName>,
    pub span: Span,
}

/// `mv-apply [with_itemindex=i] items [limit n] on ( subquery )`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MvApplyOp {
    pub params: Vec<OperatorParam>,
    pub items: Vec<MvItem>,
    pub limit: Option<Expr>,
    pub body: Pipeline,
    pub span: Span,
}

/// `mv-expand [kind=bag|array] [with_itemindex=i] items [limit n]`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MvExpandOp {
    pub params: Vec<OperatorParam>,
    pub items: Vec<MvItem>,
    pub limit: Option<Expr>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ParseKeyword {
    Parse,
    ParseWhere,
}

/// `parse [kind=simple|regex|relaxed [flags=Ui]] expr with [*] "lit" col[:type] …`
/// (also `parse-where`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParseOp {
    pub keyword: ParseKeyword,
    pub params: Vec<OperatorParam>,
    pub source: Expr,
    pub pattern: Vec<ParsePatternPart>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum ParsePatternPart {
    /// `*`
    Star(Span),
    /// A string constant (or a name bound by `let` to one).
    Text(Expr),
    /// `name[:type]`
    Column {
        name: Ident,
        ty: Option<TypeName>,
        span: Span,
    },
}

/// `parse-kv expr as (k:type, …) with (pair_delimiter=',', kv_delimiter=':', …)`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParseKvOp {
    pub source: Expr,
    pub keys: TableSchema,
    pub properties: Vec<Property>,
    pub span: Span,
}

/// `partition [hint.strategy=…] by col ( subquery )` or `… by col { subquery }`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PartitionOp {
    pub params: Vec<OperatorParam>,
    pub by: Ident,
    /// True for the legacy `{ … }` form.
    pub braces: bool,
    pub body: Pipeline,
    pub span: Span,
}

/// `print [name =] expr, …` (a source).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrintOp {
    pub items: Vec<NamedExpr>,
    pub span: Span,
}

/// `project [name =] expr, …`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProjectOp {
    pub items: Vec<NamedExpr>,
    pub span: Span,
}

/// `project-away a, b*`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProjectAwayOp {
    pub columns: Vec<NamePattern>,
    pub span: Span,
}

/// `project-keep a, b*`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProjectKeepOp {
    pub columns: Vec<NamePattern>,
    pub span: Span,
}

/// `project-by-names 'a', 'b*', dynamic_expr…`: column specifiers are string expressions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProjectByNamesOp {
    pub columns: Vec<Expr>,
    pub span: Span,
}

/// `project-rename new = old, …`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProjectRenameOp {
    pub items: Vec<RenameItem>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RenameItem {
    pub new_name: Ident,
    pub old_name: Ident,
    pub span: Span,
}

/// `project-reorder a, b* desc, c granny-asc`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProjectReorderOp {
    pub items: Vec<ReorderItem>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ReorderOrder {
    Asc,
    Desc,
    GrannyAsc,
    GrannyDesc,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReorderItem {
    pub column: NamePattern,
    pub order: Option<ReorderOrder>,
    pub span: Span,
}

/// `range x from a to b step s` (a source).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RangeOp {
    pub column: Ident,
    pub from: Expr,
    pub to: Expr,
    pub step: Expr,
    pub span: Span,
}

/// `reduce [kind=source] by expr [with threshold=0.1, characters='…']`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReduceOp {
    pub params: Vec<OperatorParam>,
    pub by: Expr,
    pub properties: Vec<Property>,
    pub span: Span,
}

/// `render chart [with (k=v, …)]` (legacy trailing `k=v` properties are accepted too).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RenderOp {
    pub chart: Ident,
    pub properties: Vec<Property>,
    /// True when the properties were written inside `with ( … )`.
    pub with_keyword: bool,
    pub span: Span,
}

/// `sample n`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SampleOp {
    pub params: Vec<OperatorParam>,
    pub count: Expr,
    pub span: Span,
}

/// `sample-distinct n of col`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SampleDistinctOp {
    pub params: Vec<OperatorParam>,
    pub count: Expr,
    pub of: Expr,
    pub span: Span,
}

/// `scan [with_match_id=id] [declare (c:type [= v], …)] with ( step … ; … )`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScanOp {
    pub params: Vec<OperatorParam>,
    pub declare: Vec<ColumnDecl>,
    pub steps: Vec<ScanStep>,
    pub span: Span,
}

/// `step name [output=all|last|none]: condition [=> col = expr, …];`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScanStep {
    pub name: Ident,
    pub output: Option<Ident>,
    pub condition: Expr,
    pub assignments: Vec<ScanAssignment>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScanAssignment {
    pub column: Ident,
    pub value: Expr,
    pub span: Span,
}

/// `search [kind=case_sensitive] [in (T1, T2*)] predicate`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchOp {
    pub params: Vec<OperatorParam>,
    pub tables: Option<Vec<Expr>>,
    pub predicate: Expr,
    pub span: Span,
}

/// `serialize [name = expr, …]`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SerializeOp {
    pub items: Vec<NamedExpr>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SortKeyword {
    Sort,
    Order,
}

/// `sort by k [asc|desc] [nulls first|last], …` (or `order by`)
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SortOp {
    pub keyword: SortKeyword,
    pub params: Vec<OperatorParam>,
    pub keys: Vec<SortKey>,
    pub span: Span,
}

/// `summarize [hint.…=…] [aggs] [by keys]`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SummarizeOp {
    pub params: Vec<OperatorParam>,
    pub aggregates: Vec<NamedExpr>,
    pub by: Vec<NamedExpr>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TakeKeyword {
    Take,
    Limit,
}

/// `take n` / `limit n`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TakeOp {
    pub keyword: TakeKeyword,
    pub params: Vec<OperatorParam>,
    pub count: Expr,
    pub span: Span,
}

/// `top n by k [asc|desc] [nulls first|last], …`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopOp {
    pub params: Vec<OperatorParam>,
    pub count: Expr,
    pub keys: Vec<SortKey>,
    pub span: Span,
}

/// `top-hitters n of expr [by sum_expr]`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopHittersOp {
    pub count: Expr,
    pub of: Expr,
    pub by: Option<Expr>,
    pub span: Span,
}

/// `top-nested [n] of expr [with others=v] by agg [asc|desc], top-nested …`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopNestedOp {
    pub levels: Vec<TopNestedLevel>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopNestedLevel {
    pub count: Option<Expr>,
    pub of: NamedExpr,
    pub others: Option<Expr>,
    pub by: NamedExpr,
    pub order: Option<SortOrder>,
    pub span: Span,
}

/// `union [kind=inner|outer] [withsource=C] [isfuzzy=true] T1, (T2 | …), T3*`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnionOp {
    pub params: Vec<OperatorParam>,
    pub tables: Vec<Expr>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum WhereKeyword {
    Where,
    Filter,
}

/// `where pred` / `filter pred`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WhereOp {
    pub keyword: WhereKeyword,
    pub params: Vec<OperatorParam>,
    pub predicate: Expr,
    pub span: Span,
}
