//! The engine's diagnostics, worded as Kusto words them.
//!
//! Name-resolution errors follow the Kusto engine (`SEM0100: 'where' operator: Failed to
//! resolve scalar expression named 'AccountUpn'`), which is what analysts see in the portal;
//! other semantic errors use the Kusto language service's codes and texts (`KS…`) where one
//! exists, and `QE…` codes of our own otherwise.

use kql::{Diagnostic, Span};

/// Marker: an error was reported (pushed to the planner's diagnostics) and planning of the
/// enclosing construct stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reported;

pub type PResult<T> = Result<T, Reported>;

/// `'where' operator: ` or nothing when there is no operator context (a `let`, `print`…).
fn prefix(op: &str) -> String {
    if op.is_empty() {
        String::new()
    } else {
        format!("'{op}' operator: ")
    }
}

pub fn unresolved_scalar(op: &str, name: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        "SEM0100",
        format!("{}Failed to resolve scalar expression named '{name}'", prefix(op)),
        span,
    )
}

pub fn unresolved_column(op: &str, name: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        "SEM0100",
        format!(
            "{}Failed to resolve column or scalar expression named '{name}'",
            prefix(op)
        ),
        span,
    )
}

pub fn unresolved_table_or_column(op: &str, name: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        "SEM0100",
        format!(
            "{}Failed to resolve table or column expression named '{name}'",
            prefix(op)
        ),
        span,
    )
}

pub fn unresolved_table(op: &str, name: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        "SEM0100",
        format!("{}Failed to resolve table expression named '{name}'", prefix(op)),
        span,
    )
}

pub fn unknown_function(name: &str, span: Span) -> Diagnostic {
    Diagnostic::error("SEM0219", format!("Unknown function: '{name}'."), span)
}

/// A documented construct this engine does not implement: rejected by name.
pub fn unsupported(what: &str, span: Span) -> Diagnostic {
    Diagnostic::error("QE001", format!("{what} is not supported by Quarry"), span)
}

/// A value of the wrong KQL type.
pub fn expected_type(expected: &str, span: Span) -> Diagnostic {
    Diagnostic::error("KS107", format!("A value of type {expected} expected."), span)
}

pub fn scalar_expected(span: Span) -> Diagnostic {
    Diagnostic::error("KS108", "Scalar value expected.", span)
}

pub fn tabular_expected(span: Span) -> Diagnostic {
    Diagnostic::error("KS111", "Tabular value expected.", span)
}

pub fn constant_expected(span: Span) -> Diagnostic {
    Diagnostic::error("KS129", "The expression must be a constant.", span)
}

pub fn duplicate_column(name: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        "KS171",
        format!("A column with the name '{name}' is already declared."),
        span,
    )
}

pub fn not_first_operator(span: Span) -> Diagnostic {
    Diagnostic::error("KS174", "The operator cannot be the first operator in a query.", span)
}

pub fn must_be_first_operator(span: Span) -> Diagnostic {
    Diagnostic::error("KS175", "The operator must be the first operator in the query.", span)
}

/// An error from the function library (already worded as Kusto words it).
pub fn function_error(err: &functions::FnError, span: Span) -> Diagnostic {
    let code = match err {
        functions::FnError::UnknownFunction(_) => "KS122",
        functions::FnError::UnknownAggregate(_) => "KS123",
        functions::FnError::ArgCount { .. } => "KS121",
        functions::FnError::ArgTypes { .. } => "KS127",
        functions::FnError::NotConstant { .. } => "KS129",
        functions::FnError::Unsupported(_) => "QE001",
        functions::FnError::Internal(_) => "QE999",
        _ => "SEM0001",
    };
    Diagnostic::error(code, err.to_string(), span)
}

/// A failure inside DataFusion while building a plan: a bug of ours rather than of the
/// query, reported with the operator's location instead of a panic.
pub fn internal(what: &str, err: impl std::fmt::Display, span: Span) -> Diagnostic {
    Diagnostic::error("QE999", format!("internal error while planning {what}: {err}"), span)
}
