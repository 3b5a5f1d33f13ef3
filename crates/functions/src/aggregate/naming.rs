//! Kusto's default names for aggregate results (`count_`, `sum_x`, `set_x`,
//! `percentile_x_95`…) and for the columns of multi-column aggregates.

use datafusion::common::ScalarValue;
use datafusion::logical_expr::Expr;

/// The column an expression is named after: a column itself, the column under a
/// conversion or function call (`dcount(tolower(Account))` → `Account`), or a dynamic
/// path (`d.a.b` → `d_a_b`).
pub fn expr_column_name(e: &Expr) -> Option<String> {
    match e {
        Expr::Column(c) => Some(c.name.clone()),
        Expr::Alias(a) => expr_column_name(&a.expr),
        Expr::Cast(c) => expr_column_name(&c.expr),
        Expr::TryCast(c) => expr_column_name(&c.expr),
        Expr::Not(x) | Expr::Negative(x) | Expr::IsNull(x) | Expr::IsNotNull(x) => expr_column_name(x),
        Expr::BinaryExpr(b) => expr_column_name(&b.left).or_else(|| expr_column_name(&b.right)),
        Expr::ScalarFunction(f) => {
            if f.func.name() == crate::ops::dynamic_access::DYN_PATH {
                let mut parts = vec![expr_column_name(f.args.first()?)?];
                for seg in f.args.iter().skip(1) {
                    match seg {
                        Expr::Literal(ScalarValue::Utf8(Some(s)), _) => parts.push(s.clone()),
                        Expr::Literal(ScalarValue::Int64(Some(i)), _) => parts.push(i.to_string()),
                        _ => {}
                    }
                }
                return Some(parts.join("_"));
            }
            f.args.iter().find_map(expr_column_name)
        }
        Expr::Case(c) => c
            .when_then_expr
            .iter()
            .find_map(|(w, t)| expr_column_name(t).or_else(|| expr_column_name(w)))
            .or_else(|| c.else_expr.as_deref().and_then(expr_column_name)),
        _ => None,
    }
}

/// `prefix_column`, or `prefix_` when the argument names no column.
pub fn default_name(prefix: &str, arg: Option<&Expr>) -> String {
    format!("{prefix}_{}", arg.and_then(expr_column_name).unwrap_or_default())
}

/// A percentile as it appears in a column name: `95`, `99_9`.
pub fn percent_suffix(p: f64) -> String {
    crate::render::format_real(p).replace(['.', '-'], "_")
}
