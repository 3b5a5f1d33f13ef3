//! The names Kusto gives to result columns that a query does not name.
//!
//! `extend`/`project`/`summarize by` name an unnamed expression after what it computes:
//! a column reference keeps its name, `d.a` and `d['a']` on a dynamic value become `d_a`,
//! some functions pass the name of their first argument through (`bin(Timestamp, 1h)` is
//! `Timestamp`, `tostring(x)` is `x`), a few prefix it (`strlen(Name)` is `strlen_Name`),
//! and anything else is `Column1`, `Column2`… (a counter per query, skipping names in use).
//! `print` names unnamed expressions `print_0`, `print_1`… by position.
//! The function lists are the Kusto language service's result-name kinds.

use kql::ast::{Expr, ExprKind, LiteralValue};

/// Functions whose result column is named after their first argument.
const FIRST_ARGUMENT: &[&str] = &[
    "abs",
    "acos",
    "asin",
    "atan",
    "atan2",
    "bin",
    "bin_at",
    "binary_and",
    "binary_not",
    "binary_or",
    "binary_shift_left",
    "binary_shift_right",
    "binary_xor",
    "bitset_count_ones",
    "ceiling",
    "cos",
    "erf",
    "erfc",
    "exp",
    "exp10",
    "exp2",
    "floor",
    "format_bytes",
    "format_datetime",
    "format_timespan",
    "gamma",
    "log",
    "log10",
    "log2",
    "loggamma",
    "parse_csv",
    "parse_json",
    "parse_xml",
    "parsejson",
    "pow",
    "rand",
    "round",
    "series_fill_backward",
    "series_fill_const",
    "series_fill_forward",
    "series_fill_linear",
    "series_fir",
    "series_iir",
    "series_outliers",
    "sin",
    "split",
    "sqrt",
    "startofday",
    "tan",
    "tobool",
    "toboolean",
    "todatetime",
    "todecimal",
    "todouble",
    "todynamic",
    "toguid",
    "tohex",
    "toint",
    "tolong",
    "toobject",
    "toreal",
    "tostring",
    "totime",
    "totimespan",
];

/// Functions whose result column is `<function>_<first argument name>`.
const NAME_AND_FIRST_ARGUMENT: &[&str] = &["dcount_hll", "percentile_tdigest", "string_size", "strlen"];

/// Functions whose result column is named after their only argument.
const ONLY_ARGUMENT: &[&str] = &["make_datetime", "make_timespan"];

/// Functions with a fixed prefix before their first argument's name.
const PREFIX_AND_FIRST_ARGUMENT: &[(&str, &str)] = &[
    ("gettype", "type"),
    ("treepath", "tree"),
    ("repeat", "repeat"),
    ("percentiles_array_tdigest", "percentile_tdigest"),
];

/// The name Kusto derives from an expression, or `None` when it falls back to `ColumnN`.
pub fn expression_name(e: &Expr) -> Option<String> {
    match &e.kind {
        ExprKind::Paren(inner) => expression_name(inner),
        ExprKind::Name(id) => Some(id.name.clone()),
        ExprKind::Member(m) => {
            let right = m.name.name.clone();
            if is_side(&m.target) {
                return Some(right);
            }
            match expression_name(&m.target) {
                Some(left) if !left.trim().is_empty() => Some(format!("{left}_{right}")),
                _ => Some(right),
            }
        }
        ExprKind::Index(ix) => {
            let right = match &ix.index.kind {
                ExprKind::Literal(l) => match &l.value {
                    LiteralValue::String(s) => Some(s.value.clone()),
                    LiteralValue::Long(Some(v)) => Some(v.to_string()),
                    LiteralValue::Int(Some(v)) => Some(v.to_string()),
                    _ => None,
                },
                ExprKind::Unary(u) if u.op == kql::ast::UnaryOp::Neg => match &u.operand.kind {
                    ExprKind::Literal(l) => match &l.value {
                        LiteralValue::Long(Some(v)) => Some(format!("-{v}")),
                        LiteralValue::Int(Some(v)) => Some(format!("-{v}")),
                        _ => None,
                    },
                    _ => None,
                },
                _ => expression_name(&ix.index),
            };
            let left = expression_name(&ix.target);
            match (left, right) {
                (Some(l), Some(r)) if !l.trim().is_empty() => Some(format!("{l}_{r}")),
                (_, r) => r,
            }
        }
        ExprKind::Call(c) if c.receiver.is_none() => {
            let name = c.name.name.as_str();
            let first = c.args.first().map(|a| &a.value);
            if FIRST_ARGUMENT.contains(&name) {
                return first.and_then(expression_name);
            }
            if NAME_AND_FIRST_ARGUMENT.contains(&name) {
                return first.and_then(expression_name).map(|n| format!("{name}_{n}"));
            }
            if ONLY_ARGUMENT.contains(&name) && c.args.len() == 1 {
                return first.and_then(expression_name);
            }
            if let Some((_, prefix)) = PREFIX_AND_FIRST_ARGUMENT.iter().find(|(f, _)| *f == name) {
                return match first.and_then(expression_name) {
                    Some(n) => Some(format!("{prefix}_{n}")),
                    None if c.args.is_empty() => Some(format!("{prefix}_")),
                    None => None,
                };
            }
            None
        }
        _ => None,
    }
}

/// Whether a call to `name` is named after its first argument (`tostring(x)` is `x`).
pub fn passes_first_argument_name(name: &str) -> bool {
    FIRST_ARGUMENT.contains(&name)
}

/// `$left` / `$right` (join conditions): `$left.x` is named `x`.
fn is_side(e: &Expr) -> bool {
    matches!(&e.kind, ExprKind::Name(id) if id.name == "$left" || id.name == "$right")
}

/// `name`, or `name1`, `name2`… — the first that `taken` does not hold. Kusto makes
/// generated and duplicated names unique this way (`x1` for the right side's `x` in a join).
pub fn unique_name(name: &str, taken: impl Fn(&str) -> bool) -> String {
    if !taken(name) {
        return name.to_string();
    }
    (1..)
        .map(|i| format!("{name}{i}"))
        .find(|n| !taken(n))
        .unwrap_or_else(|| name.to_string())
}

/// Matches `name` against a pattern with `*` wildcards (`Prop*`, `*Id`, `*`), case-sensitively.
pub fn wildcard_match(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let mut rest = name;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else if let Some(pos) = rest.find(part) {
            rest = &rest[pos + part.len()..];
        } else {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("Prop*", "Property"));
        assert!(wildcard_match("*Id", "DeviceId"));
        assert!(wildcard_match("*", "x"));
        assert!(wildcard_match("a*b*c", "axxbyyc"));
        assert!(!wildcard_match("a*b*c", "axxbyy"));
        assert!(!wildcard_match("Prop", "Property"));
        assert!(wildcard_match("Prop", "Prop"));
        assert!(!wildcard_match("ab*ba", "aba"));
    }

    #[test]
    fn unique_names() {
        let taken = ["x", "x1"];
        assert_eq!(unique_name("x", |n| taken.contains(&n)), "x2");
        assert_eq!(unique_name("y", |n| taken.contains(&n)), "y");
    }
}
