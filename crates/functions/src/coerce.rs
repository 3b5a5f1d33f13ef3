//! KQL's implicit conversions: the common type of several values (for `iff`, `case`,
//! `coalesce`, `union` columns, comparisons) and the expressions that convert a value to
//! another type.

use crate::api::TypedExpr;
use crate::catalog::call_row;
use crate::error::{FnError, join_types};
use datafusion::logical_expr::{Expr, cast};
use schema::KqlType;

/// The rank of a numeric type in Kusto's promotion order (int < long < decimal < real).
fn numeric_rank(t: KqlType) -> Option<u8> {
    match t {
        KqlType::Int => Some(0),
        KqlType::Long => Some(1),
        KqlType::Decimal => Some(2),
        KqlType::Real => Some(3),
        _ => None,
    }
}

/// The common type of two types, if Kusto converts one to the other implicitly: numbers
/// widen (int → long → decimal → real), string and guid meet in string.
pub fn unify2(a: KqlType, b: KqlType) -> Option<KqlType> {
    if a == b {
        return Some(a);
    }
    if let (Some(x), Some(y)) = (numeric_rank(a), numeric_rank(b)) {
        return Some(if x >= y { a } else { b });
    }
    match (a, b) {
        (KqlType::String, KqlType::Guid) | (KqlType::Guid, KqlType::String) => Some(KqlType::String),
        _ => None,
    }
}

/// The common type of several types (see [`unify2`]).
pub fn unify(types: &[KqlType]) -> Option<KqlType> {
    let (first, rest) = types.split_first()?;
    rest.iter().try_fold(*first, |acc, t| unify2(acc, *t))
}

/// Like [`unify`], but an error worded for `context` (a function or operator name).
pub fn unify_or_err(context: &str, types: &[KqlType]) -> Result<KqlType, FnError> {
    unify(types).ok_or_else(|| FnError::NoCommonType {
        context: context.to_string(),
        types: join_types(types),
    })
}

/// True when `e` is a null literal, which takes any type in Kusto's typing.
pub fn is_null_literal(e: &TypedExpr) -> bool {
    e.as_literal().is_some_and(|v| v.is_null())
}

/// Converts a value to type `to` implicitly (numeric widening, string/guid) or, for any
/// other pair, as the matching `to<type>()` function does.
pub fn convert(e: TypedExpr, to: KqlType) -> Result<TypedExpr, FnError> {
    if e.ty == to {
        return Ok(e);
    }
    if is_null_literal(&e) {
        return Ok(TypedExpr::new(cast(e.expr, to.to_arrow()), to));
    }
    match (e.ty, to) {
        (KqlType::String, KqlType::Guid) | (KqlType::Guid, KqlType::String) => Ok(TypedExpr::new(e.expr, to)),
        (from, _) if from.is_numeric() && to.is_numeric() => Ok(TypedExpr::new(cast(e.expr, to.to_arrow()), to)),
        (_, KqlType::Dynamic) => call_row("todynamic", vec![e]),
        (_, KqlType::String) => call_row("tostring", vec![e]),
        (_, KqlType::Long) => call_row("tolong", vec![e]),
        (_, KqlType::Int) => call_row("toint", vec![e]),
        (_, KqlType::Real) => call_row("toreal", vec![e]),
        (_, KqlType::Decimal) => call_row("todecimal", vec![e]),
        (_, KqlType::Bool) => call_row("tobool", vec![e]),
        (_, KqlType::DateTime) => call_row("todatetime", vec![e]),
        (_, KqlType::TimeSpan) => call_row("totimespan", vec![e]),
        (_, KqlType::Guid) => call_row("toguid", vec![e]),
    }
}

/// Converts every value to their common type (null literals take the others' type).
pub fn convert_all(context: &str, values: Vec<TypedExpr>) -> Result<(Vec<TypedExpr>, KqlType), FnError> {
    let typed: Vec<KqlType> = values.iter().filter(|v| !is_null_literal(v)).map(|v| v.ty).collect();
    let ty = if typed.is_empty() {
        values.first().map(|v| v.ty).unwrap_or(KqlType::Dynamic)
    } else {
        unify_or_err(context, &typed)?
    };
    let out = values
        .into_iter()
        .map(|v| convert(v, ty))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((out, ty))
}

/// The expression as a string: strings and guids as they are, other types through
/// `tostring` (for the string operators, which Kusto applies to any scalar).
pub fn as_string(e: TypedExpr) -> Result<Expr, FnError> {
    match e.ty {
        KqlType::String | KqlType::Guid => Ok(e.expr),
        _ => Ok(call_row("tostring", vec![e])?.expr),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_promotion_and_strings() {
        assert_eq!(unify(&[KqlType::Int, KqlType::Long]), Some(KqlType::Long));
        assert_eq!(
            unify(&[KqlType::Long, KqlType::Real, KqlType::Int]),
            Some(KqlType::Real)
        );
        assert_eq!(unify(&[KqlType::Long, KqlType::Decimal]), Some(KqlType::Decimal));
        assert_eq!(unify(&[KqlType::Guid, KqlType::String]), Some(KqlType::String));
        assert_eq!(unify(&[KqlType::String, KqlType::Long]), None);
        assert_eq!(unify(&[KqlType::DateTime, KqlType::TimeSpan]), None);
        assert_eq!(
            unify_or_err("iff", &[KqlType::String, KqlType::Long])
                .unwrap_err()
                .to_string(),
            "iff: all arguments must have the same type, but got string and long."
        );
    }
}
