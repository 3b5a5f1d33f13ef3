//! The KQL abstract syntax tree.
//!
//! This tree is a contract between the parser and its consumers (semantic analysis and
//! lowering in `engine`, rule validation in `rules`, the web highlighter). Conventions:
//!
//! - Every node carries a [`Span`] of byte offsets into the parsed text.
//! - Names are [`Ident`]s (text + span + whether they were written `['bracketed']`).
//! - Tabular and scalar expressions share one type, [`Expr`]: the parser cannot know whether
//!   `T` names a table or a scalar, so `T | where x > 1` is an [`ExprKind::Pipe`] like any
//!   other expression. A [`Pipeline`] may have no input expression (its first operator is a
//!   source such as `print`/`range`/`datatable`/`union`, or it is the body of `fork`,
//!   `facet`, `partition`, `mv-apply` that operates on the rows handed to it).
//! - Operator parameters written `name=value` before an operator's body (`kind=inner`,
//!   `hint.strategy=shuffle`, `withsource=T`, `isfuzzy=true`…) are kept generically as
//!   [`OperatorParam`]s in source order; typed accessors live in [`crate::ast_helpers`].
//! - Where Kusto has two spellings for one thing (`sort`/`order`, `take`/`limit`,
//!   `where`/`filter`), the node records which one was written.
//! - Literals are parsed into typed values; datetime text is kept verbatim (its many
//!   formats are parsed by `schema::values::parse_datetime` in the engine), and timespans
//!   keep their source text next to their value in ticks.
//! - After an error the parser still returns a tree: missing parts become
//!   [`ExprKind::Error`] nodes (or are absent), and the diagnostics say what was wrong.

mod expr;
mod operators;

pub use expr::*;
pub use operators::*;

use crate::span::Span;
use serde::Serialize;

// ---------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------

/// A name: a column, table, variable, function, parameter, option or property name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ident {
    /// The name itself (for `['a b']` this is `a b`; for `$left` it is `$left`; for a
    /// dotted option name such as `hint.strategy` it is the whole dotted text).
    pub name: String,
    pub span: Span,
    /// True when written as a bracketed name `['…']` or `["…"]`.
    pub quoted: bool,
}

/// A name that may contain `*` wildcards (`project-away Prop*`, `union Event*`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NamePattern {
    /// The pattern text, e.g. `Prop*` or `*Id` or `*`.
    pub pattern: String,
    pub span: Span,
}

/// A scalar type name as written (`long`, `int64`, `string`, `dynamic`, …).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TypeName {
    /// The type keyword as written, lower-cased by the parser only if written so.
    pub name: String,
    pub span: Span,
}

/// `name: type`, as in `datatable(x:long)`, `parse-kv … as (k:string)`, function parameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnDecl {
    pub name: Ident,
    pub ty: TypeName,
    /// `= value` (scan `declare`, function parameters, query parameters).
    pub default: Option<Expr>,
    pub span: Span,
}

/// A tabular schema `(x:long, y:string)` or `(*)` or `(x:long, *)`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableSchema {
    pub columns: Vec<ColumnDecl>,
    /// True when the schema contains `*` (any further columns are allowed).
    pub wildcard: bool,
    pub span: Span,
}

// ---------------------------------------------------------------------------------------
// Queries and statements
// ---------------------------------------------------------------------------------------

/// A whole query: statements separated by `;`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Query {
    pub statements: Vec<Statement>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Statement {
    /// `let name = …;`
    Let(LetStatement),
    /// `declare query_parameters(name:type [= default], …);`
    QueryParameters(QueryParametersStatement),
    /// `declare pattern name [= (args) [path] { … }];`
    Pattern(PatternStatement),
    /// `set name [= value];`
    Set(SetStatement),
    /// `alias database name = cluster(…).database(…);`
    Alias(AliasStatement),
    /// `restrict access to (entities…);`
    RestrictAccess(RestrictAccessStatement),
    /// A tabular expression statement, the query's result(s).
    Expr(Expr),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LetStatement {
    pub name: Ident,
    pub value: LetValue,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum LetValue {
    /// `let x = <scalar or tabular expression>`
    Expr(Expr),
    /// `let f = [view] (params) { body }`
    Function(FunctionDef),
    /// `let g = entity_group [ref, …]` (for `macro-expand`).
    EntityGroup(EntityGroup),
}

/// A user-defined function or lambda: `(x:long, T:(a:string)) { body }`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunctionDef {
    /// `view` keyword before the parameter list.
    pub view: bool,
    pub params: Vec<FunctionParam>,
    pub body: FunctionBody,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunctionParam {
    pub name: Ident,
    pub kind: FunctionParamKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum FunctionParamKind {
    /// `x:long [= default]`
    Scalar { ty: TypeName, default: Option<Expr> },
    /// `T:(x:long, *)` or `T:(*)`
    Tabular { schema: TableSchema },
}

/// `{ let a = …; <expression> }`: zero or more statements; the last is the result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunctionBody {
    pub statements: Vec<Statement>,
    pub span: Span,
}

/// `entity_group [cluster('a').database('b'), …]`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntityGroup {
    pub entities: Vec<Expr>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueryParametersStatement {
    pub params: Vec<ColumnDecl>,
    pub span: Span,
}

/// `declare pattern P = (a:string, b:string)[path:string] { ('x', 'y').['z'] = { … }; };`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatternStatement {
    pub name: Ident,
    /// Absent for a bare declaration `declare pattern P;`.
    pub definition: Option<PatternDefinition>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatternDefinition {
    pub params: Vec<ColumnDecl>,
    pub path_param: Option<ColumnDecl>,
    pub rules: Vec<PatternRule>,
    pub span: Span,
}

/// `('a', 'b').['path'] = { body };`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatternRule {
    pub args: Vec<Expr>,
    pub path: Option<Expr>,
    pub body: FunctionBody,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SetStatement {
    pub name: Ident,
    pub value: Option<Expr>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AliasStatement {
    pub name: Ident,
    pub value: Expr,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RestrictAccessStatement {
    pub entities: Vec<Expr>,
    pub span: Span,
}
