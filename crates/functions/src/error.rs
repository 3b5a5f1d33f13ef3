//! Errors of the function library, worded as Kusto words them.
//!
//! The messages follow Kusto's language service (`Kusto.Language` diagnostics) and, for
//! comparisons, the Kusto engine's own message, so that an analyst who knows the portal's
//! errors recognises ours. The engine attaches the source span; this crate has none.

use schema::KqlType;
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FnError {
    /// A scalar function name that is not in the library.
    #[error("The name '{0}' does not refer to any known function.")]
    UnknownFunction(String),

    /// An aggregate function name that is not in the library.
    #[error("The aggregate function '{0}' is not defined.")]
    UnknownAggregate(String),

    /// The wrong number of arguments; `expected` is already worded (`2`, `between 1 and 3`).
    #[error("The function '{name}' expects {expected}.")]
    ArgCount { name: String, expected: String },

    /// An argument of a type the function does not accept.
    #[error("The function '{name}' is not compatible with arguments ({types})")]
    ArgTypes { name: String, types: String },

    /// An argument that must have a given type.
    #[error("{name}(): argument #{position} must have the type {expected}, but has the type {actual}.")]
    ArgType {
        name: String,
        position: usize,
        expected: String,
        actual: KqlType,
    },

    /// An argument that must be a constant (format strings, units, percentiles…).
    #[error("{name}(): argument #{position} must be a constant {what}.")]
    NotConstant {
        name: String,
        position: usize,
        what: String,
    },

    /// A constant argument with a value the function does not accept.
    #[error("{name}(): {message}")]
    InvalidArgument { name: String, message: String },

    /// An operator applied to operand types it is not defined for.
    #[error("The operator '{op}' is not defined for the operand types {types}.")]
    OperatorTypes { op: String, types: String },

    /// A comparison between incomparable types (the Kusto engine's message).
    #[error("Cannot compare values of types {left} and {right}. Try adding explicit casts")]
    CannotCompare { left: KqlType, right: KqlType },

    /// Values of types that have no common type (iff/case/coalesce branches, union columns).
    #[error("{context}: all arguments must have the same type, but got {types}.")]
    NoCommonType { context: String, types: String },

    /// A named argument that the function does not declare.
    #[error("{name}(): the argument name '{arg}' does not refer to a declared parameter.")]
    UnknownArgumentName { name: String, arg: String },

    /// A documented Kusto feature this library does not implement (yet). Never silently
    /// approximated.
    #[error("{0} is not supported")]
    Unsupported(String),

    /// An error from DataFusion while building an expression.
    #[error("internal error: {0}")]
    Internal(String),
}

impl FnError {
    pub(crate) fn arg_count(name: &str, min: usize, max: usize) -> FnError {
        let expected = match (min, max) {
            (0, 0) => "no arguments".to_string(),
            (1, 1) => "1 argument".to_string(),
            (a, b) if a == b => format!("{a} arguments"),
            (a, usize::MAX) => format!("at least {a} argument{}", if a == 1 { "" } else { "s" }),
            (a, b) => format!("between {a} and {b} arguments"),
        };
        FnError::ArgCount {
            name: name.to_string(),
            expected,
        }
    }

    pub(crate) fn invalid(name: &str, message: impl Into<String>) -> FnError {
        FnError::InvalidArgument {
            name: name.to_string(),
            message: message.into(),
        }
    }

    pub(crate) fn operator(op: &str, types: &[KqlType]) -> FnError {
        FnError::OperatorTypes {
            op: op.to_string(),
            types: join_types(types),
        }
    }
}

/// `string, long and real`, as Kusto lists types.
pub(crate) fn join_types(types: &[KqlType]) -> String {
    match types {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => {
            let head: Vec<String> = init.iter().map(|t| t.to_string()).collect();
            format!("{} and {last}", head.join(", "))
        }
    }
}

impl From<datafusion::error::DataFusionError> for FnError {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        FnError::Internal(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_use_kusto_wording() {
        assert_eq!(
            FnError::UnknownFunction("foo".into()).to_string(),
            "The name 'foo' does not refer to any known function."
        );
        assert_eq!(
            FnError::arg_count("strlen", 1, 1).to_string(),
            "The function 'strlen' expects 1 argument."
        );
        assert_eq!(
            FnError::arg_count("substring", 2, 3).to_string(),
            "The function 'substring' expects between 2 and 3 arguments."
        );
        assert_eq!(
            FnError::arg_count("now", 0, 0).to_string(),
            "The function 'now' expects no arguments."
        );
        assert_eq!(
            FnError::operator("+", &[KqlType::String, KqlType::Long]).to_string(),
            "The operator '+' is not defined for the operand types string and long."
        );
        assert_eq!(
            FnError::CannotCompare {
                left: KqlType::String,
                right: KqlType::Long
            }
            .to_string(),
            "Cannot compare values of types string and long. Try adding explicit casts"
        );
    }
}
