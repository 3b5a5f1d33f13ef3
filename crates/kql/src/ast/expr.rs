//! Expressions (scalar and tabular alike) and literals of the KQL syntax tree.

use super::*;
use crate::span::Span;
use serde::Serialize;

// ---------------------------------------------------------------------------------------
// Expressions
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum ExprKind {
    Literal(Literal),
    /// A column, table, variable or parameter reference (also `$left`, `$right`).
    Name(Ident),
    /// A wildcard name in a table list (`union T*`, `find in (Event*)`).
    Pattern(NamePattern),
    /// `*` as an argument or projection item (`arg_max(x, *)`, `distinct *`, `pack_all(*)`).
    Star,
    /// `( expr )`: kept so that printing and subquery boundaries are faithful.
    Paren(Box<Expr>),
    Unary(Box<UnaryExpr>),
    Binary(Box<BinaryExpr>),
    /// `x in (…)`, `x !in~ (…)`, `x has_any (…)`, `x has_all (…)`
    In(Box<InExpr>),
    /// `x between (a .. b)`, `x !between (a .. b)`
    Between(Box<BetweenExpr>),
    /// `f(args)` or `receiver.f(args)` (`cluster('c').database('d')`).
    Call(Box<Call>),
    /// `target.name` (dynamic property, `$left.x`, `cluster(…).database(…).Table`).
    Member(Box<MemberExpr>),
    /// `target[index]` (`a[0]`, `a[-1]`, `a['key']`, `a[col]`).
    Index(Box<IndexExpr>),
    /// `typeof(long)` or `typeof(x:long, y:string)`
    TypeOf(TableSchemaOrType),
    /// A tabular pipeline: `input | op | op…`.
    Pipe(Box<Pipeline>),
    /// A placeholder where an expression was required but could not be parsed; a diagnostic
    /// was reported for it.
    Error,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum TableSchemaOrType {
    Type(TypeName),
    Schema(TableSchema),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum UnaryOp {
    /// `-x`
    Neg,
    /// `+x`
    Plus,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnaryExpr {
    pub op: UnaryOp,
    pub operand: Expr,
}

/// Binary operators, grouped by precedence (lowest first):
/// `or` < `and` < equality and string operators < relational < additive < multiplicative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum BinaryOp {
    Or,
    And,
    // equality
    /// `==` (case-sensitive on strings)
    Eq,
    /// `!=` (also written `<>`)
    NotEq,
    /// `=~` case-insensitive equality
    EqTilde,
    /// `!~` case-insensitive inequality
    NotEqTilde,
    // relational
    Lt,
    Le,
    Gt,
    Ge,
    // arithmetic
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    // string operators (equality precedence). `Cs` = case-sensitive, `Not` = negated (`!`).
    Has,
    NotHas,
    HasCs,
    NotHasCs,
    HasPrefix,
    NotHasPrefix,
    HasPrefixCs,
    NotHasPrefixCs,
    HasSuffix,
    NotHasSuffix,
    HasSuffixCs,
    NotHasSuffixCs,
    Contains,
    NotContains,
    ContainsCs,
    NotContainsCs,
    StartsWith,
    NotStartsWith,
    StartsWithCs,
    NotStartsWithCs,
    EndsWith,
    NotEndsWith,
    EndsWithCs,
    NotEndsWithCs,
    /// `matches regex`
    MatchesRegex,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BinaryExpr {
    pub op: BinaryOp,
    /// Span of the operator token(s).
    pub op_span: Span,
    pub left: Expr,
    pub right: Expr,
}

/// List-membership operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum InOp {
    /// `in` (case-sensitive)
    In,
    /// `!in`
    NotIn,
    /// `in~` (case-insensitive)
    InCi,
    /// `!in~`
    NotInCi,
    /// `has_any`
    HasAny,
    /// `has_all`
    HasAll,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InExpr {
    pub op: InOp,
    pub op_span: Span,
    pub left: Expr,
    /// The parenthesized items. A single item may be a tabular expression (`in (T | …)`,
    /// `has_any (T)`) or a dynamic array (`in (dynamic([1,2]))`).
    pub items: Vec<Expr>,
    /// Span of `( … )`.
    pub list_span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BetweenExpr {
    pub negated: bool,
    pub op_span: Span,
    pub left: Expr,
    pub low: Expr,
    pub high: Expr,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Call {
    /// `cluster('x')` in `cluster('x').database('y')`; `None` for a plain call.
    pub receiver: Option<Expr>,
    pub name: Ident,
    pub args: Vec<Arg>,
    /// Span of `( … )`.
    pub args_span: Span,
}

/// A call argument, possibly named (`f(x=1)`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Arg {
    pub name: Option<Ident>,
    pub value: Expr,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemberExpr {
    pub target: Expr,
    pub name: Ident,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IndexExpr {
    pub target: Expr,
    pub index: Expr,
}

// ---------------------------------------------------------------------------------------
// Literals
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Literal {
    pub value: LiteralValue,
    pub span: Span,
}

/// A typed literal value. `None` payloads are typed nulls (`long(null)`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum LiteralValue {
    /// `true`, `false`, `bool(null)`, `boolean(true)`
    Bool(Option<bool>),
    /// `int(5)`, `int(null)`
    Int(Option<i32>),
    /// `5`, `0x1F`, `long(5)`, `long(null)`
    Long(Option<i64>),
    /// `1.5`, `1e3`, `real(nan)`, `real(+inf)`, `double(null)`
    Real(RealValue),
    /// `decimal(1.5)`: the number text as written (no decimal type in std), or null.
    Decimal(Option<String>),
    /// One or more adjacent string literals (`'a' "b"` is one string `ab`).
    String(StringLiteral),
    /// `datetime(…)`/`date(…)`: the text between the parentheses, trimmed; `None` = null.
    /// An empty text (`datetime()`) means "now" in Kusto.
    Datetime(Option<String>),
    Timespan(TimespanLiteral),
    /// `guid(…)`: the canonical lower-case `8-4-4-4-12` text; `None` = null.
    Guid(Option<String>),
    /// `dynamic(…)`
    Dynamic(DynamicValue),
}

/// A `real` value; NaN and infinities are explicit so that the tree has a total equality.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum RealValue {
    Null,
    /// Always finite (never NaN or infinite).
    Finite(f64),
    NaN,
    PosInf,
    NegInf,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StringLiteral {
    /// The value after unescaping and concatenation.
    pub value: String,
    /// The literals as written, in order (at least one).
    pub parts: Vec<StringPart>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StringPart {
    pub kind: StringKind,
    /// `h'…'` / `H"…"`: obfuscated (hidden in logs).
    pub obfuscated: bool,
    /// The unescaped value of this part.
    pub value: String,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum StringKind {
    /// `'…'` with backslash escapes
    SingleQuoted,
    /// `"…"` with backslash escapes
    DoubleQuoted,
    /// `@'…'` (quote doubled to escape)
    VerbatimSingle,
    /// `@"…"`
    VerbatimDouble,
    /// ```` ```…``` ```` multi-line, no escapes
    MultiLine,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimespanLiteral {
    /// Value in ticks of 100 ns; `None` = `timespan(null)`.
    pub ticks: Option<i64>,
    /// The source text: `5d`, `1.5h`, `time(1.02:03:04)`, `timespan(null)`…
    pub text: String,
}

/// A value inside `dynamic(…)`: JSON plus KQL scalar literals.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum DynamicValue {
    /// `null` (also the whole `dynamic(null)`)
    Null(Span),
    /// A scalar (number, string, bool, `datetime(…)`, `timespan`, `guid(…)`, `long(5)`…).
    Scalar(Box<Literal>),
    Array {
        items: Vec<DynamicValue>,
        span: Span,
    },
    Object {
        entries: Vec<DynamicEntry>,
        span: Span,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DynamicEntry {
    pub key: String,
    pub key_span: Span,
    pub value: DynamicValue,
}
