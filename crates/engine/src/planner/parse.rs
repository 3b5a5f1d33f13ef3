//! `parse`, `parse-where`, `parse-kv`: string extraction operators, lowered to a regular
//! expression whose capture groups feed the function library's `extract`.

use super::Planner;
use super::env::Env;
use super::expr::Scope;
use super::tab::{Col, Tab};
use super::union::param_text;
use crate::diag::{self, PResult, Reported};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Expr, LogicalPlanBuilder};
use functions::{Arg, TypedExpr};
use kql::ast::{self, ParseKeyword, ParsePatternPart};
use kql::{Diagnostic, Span};
use schema::KqlType;

#[derive(Clone, Copy, PartialEq, Eq)]
enum ParseKind {
    Simple,
    Regex,
    Relaxed,
}

/// The regex that matches a value of a typed `parse` column (simple and regex kinds).
fn type_pattern(ty: KqlType) -> &'static str {
    match ty {
        KqlType::Int | KqlType::Long => r"-?\d+",
        KqlType::Real | KqlType::Decimal => r"-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?",
        KqlType::Bool => r"(?i:true|false|0|1)",
        KqlType::Guid => r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}",
        _ => ".*?",
    }
}

impl Planner<'_> {
    pub(super) fn plan_parse(&mut self, t: Tab, p: &ast::ParseOp, env: &Env) -> PResult<Tab> {
        let op: &'static str = if p.keyword == ParseKeyword::ParseWhere {
            "parse-where"
        } else {
            "parse"
        };
        let mut kind = ParseKind::Simple;
        let mut flags = String::new();
        for param in &p.params {
            match param.name.name.to_ascii_lowercase().as_str() {
                "kind" => {
                    kind = match param_text(param).as_deref() {
                        Some("simple") => ParseKind::Simple,
                        Some("regex") => ParseKind::Regex,
                        Some("relaxed") => ParseKind::Relaxed,
                        _ => {
                            return Err(self.report(Diagnostic::error(
                                "QE013",
                                format!("{op}: kind must be simple, regex or relaxed"),
                                param.span,
                            )));
                        }
                    }
                }
                "flags" => flags = param_text(param).unwrap_or_default(),
                _ => {}
            }
        }
        let source = {
            let mut sc = Scope::new(env, Some(&t.cols), op);
            self.lower_scalar(&p.source, &mut sc)?
        };
        let source = functions::coerce::convert(source, KqlType::String)
            .map_err(|e| self.report(diag::function_error(&e, p.source.span)))?;

        // Build the regex and the list of columns it captures.
        let mut regex = String::from("^");
        if !flags.is_empty() && kind == ParseKind::Regex {
            let flags: String = flags.chars().filter(|c| "imsxU".contains(*c)).collect();
            if !flags.is_empty() {
                regex = format!("(?{flags})^");
            }
        }
        let mut columns: Vec<(String, KqlType, Span)> = Vec::new();
        let n = p.pattern.len();
        for (i, part) in p.pattern.iter().enumerate() {
            let last = i + 1 == n;
            match part {
                ParsePatternPart::Star(_) => regex.push_str(if last { ".*" } else { ".*?" }),
                ParsePatternPart::Text(e) => {
                    let (v, _) = self.const_value(e, env, op)?;
                    let ScalarValue::Utf8(Some(text)) = v else {
                        return Err(self.report(diag::expected_type("string", e.span)));
                    };
                    if kind == ParseKind::Regex {
                        regex.push_str(&text);
                    } else {
                        regex.push_str(&regex::escape(&text));
                    }
                }
                ParsePatternPart::Column { name, ty, span } => {
                    let ty = match ty {
                        Some(tn) => self.type_name(tn)?,
                        None => KqlType::String,
                    };
                    let pattern = if kind == ParseKind::Relaxed || ty == KqlType::String {
                        if last { ".*" } else { ".*?" }
                    } else {
                        type_pattern(ty)
                    };
                    regex.push('(');
                    regex.push_str(pattern);
                    regex.push(')');
                    columns.push((name.name.clone(), ty, *span));
                }
            }
        }
        if let Err(e) = regex::Regex::new(&regex) {
            return Err(self.report(Diagnostic::error(
                "QE014",
                format!("{op}: invalid regular expression: {e}"),
                p.span,
            )));
        }
        let regex_lit = crate::literal::string(regex.clone());
        let mut items: Vec<(Expr, Col)> = t.cols.iter().map(|c| (super::col(&c.name), c.clone())).collect();
        for (group, (name, ty, span)) in columns.iter().enumerate() {
            let args = vec![
                Arg::positional(regex_lit.clone()),
                Arg::positional(crate::literal::long(group as i64 + 1)),
                Arg::positional(source.clone()),
            ];
            let extracted = functions::lower_call("extract", args, &self.ctx)
                .map_err(|e| self.report(diag::function_error(&e, *span)))?;
            let value = if *ty == KqlType::String {
                extracted
            } else {
                functions::coerce::convert(extracted, *ty).map_err(|e| self.report(diag::function_error(&e, *span)))?
            };
            let c = Col::new(name.clone(), *ty);
            match items.iter_mut().find(|(_, x)| x.name == *name) {
                Some(slot) => *slot = (value.expr, c),
                None => items.push((value.expr, c)),
            }
        }
        let mut t = t;
        if p.keyword == ParseKeyword::ParseWhere {
            let matches = functions::lower_binary("matches regex", source.clone(), regex_lit)
                .map_err(|e| self.report(diag::function_error(&e, p.span)))?;
            t = match LogicalPlanBuilder::from(t.plan.clone())
                .filter(matches.expr)
                .and_then(|b| b.build())
            {
                Ok(plan) => t.with_plan(plan),
                Err(e) => return Err(self.internal(op, e, p.span)),
            };
        }
        t.project(items).map_err(|e| self.internal(op, e, p.span))
    }

    /// `parse-kv expr as (k:type, …) with (pair_delimiter=…, kv_delimiter=…, quote=…, …)`
    pub(super) fn plan_parse_kv(&mut self, t: Tab, p: &ast::ParseKvOp, env: &Env) -> PResult<Tab> {
        let source = {
            let mut sc = Scope::new(env, Some(&t.cols), "parse-kv");
            self.lower_scalar(&p.source, &mut sc)?
        };
        let source = functions::coerce::convert(source, KqlType::String)
            .map_err(|e| self.report(diag::function_error(&e, p.source.span)))?;
        let mut pair_delim = " ".to_string();
        let mut kv_delim = "=".to_string();
        let mut quotes = String::new();
        let mut escapes = String::new();
        let mut greedy = false;
        let mut regex_mode: Option<String> = None;
        for prop in &p.properties {
            let mut values = Vec::new();
            for v in &prop.values {
                let (value, _) = self.const_value(v, env, "parse-kv")?;
                values.push(match value {
                    ScalarValue::Utf8(Some(s)) => s,
                    ScalarValue::Boolean(Some(b)) => b.to_string(),
                    _ => return Err(self.report(diag::expected_type("string", v.span))),
                });
            }
            let first = values.first().cloned().unwrap_or_default();
            match prop.name.name.as_str() {
                "pair_delimiter" => pair_delim = first,
                "kv_delimiter" => kv_delim = first,
                "quote" => quotes = values.concat(),
                "escape" => escapes = values.concat(),
                "greedy" => greedy = first == "true",
                "regex" => regex_mode = Some(first),
                other => {
                    return Err(self.report(Diagnostic::error(
                        "QE015",
                        format!("parse-kv: unknown property '{other}'"),
                        prop.name.span,
                    )));
                }
            }
        }
        if regex_mode.is_some() {
            return Err(self.report(diag::unsupported("parse-kv with a regex", p.span)));
        }
        if !escapes.is_empty() {
            return Err(self.report(diag::unsupported("parse-kv with escape characters", p.span)));
        }
        let mut items: Vec<(Expr, Col)> = t.cols.iter().map(|c| (super::col(&c.name), c.clone())).collect();
        let mut failed = false;
        for key in &p.keys.columns {
            let ty = match self.type_name(&key.ty) {
                Ok(ty) => ty,
                Err(_) => {
                    failed = true;
                    continue;
                }
            };
            let name = &key.name.name;
            let regex = kv_regex(name, &pair_delim, &kv_delim, &quotes, greedy);
            if let Err(e) = regex::Regex::new(&regex) {
                failed = true;
                self.report(Diagnostic::error(
                    "QE014",
                    format!("parse-kv: invalid regular expression: {e}"),
                    p.span,
                ));
                continue;
            }
            let mut values = Vec::new();
            for group in 1..=3 {
                let args = vec![
                    Arg::positional(crate::literal::string(regex.clone())),
                    Arg::positional(crate::literal::long(group)),
                    Arg::positional(source.clone()),
                ];
                match functions::lower_call("extract", args, &self.ctx) {
                    Ok(v) => values.push(v),
                    Err(e) => return Err(self.report(diag::function_error(&e, key.span))),
                }
            }
            // One of the alternatives (quoted, or plain) matched.
            let value = match functions::lower_call(
                "coalesce",
                values.into_iter().map(non_empty).map(Arg::positional).collect(),
                &self.ctx,
            ) {
                Ok(v) => v,
                Err(e) => return Err(self.report(diag::function_error(&e, key.span))),
            };
            let value = if ty == KqlType::String {
                value
            } else {
                match functions::coerce::convert(value, ty) {
                    Ok(v) => v,
                    Err(e) => return Err(self.report(diag::function_error(&e, key.span))),
                }
            };
            let c = Col::new(name.clone(), ty);
            match items.iter_mut().find(|(_, x)| x.name == *name) {
                Some(slot) => *slot = (value.expr, c),
                None => items.push((value.expr, c)),
            }
        }
        if failed {
            return Err(Reported);
        }
        t.project(items).map_err(|e| self.internal("parse-kv", e, p.span))
    }
}

/// `extract` gives "" when a group did not take part; `coalesce` wants nulls there.
fn non_empty(v: TypedExpr) -> TypedExpr {
    use datafusion::logical_expr::{lit, when};
    let e = when(v.expr.clone().eq(lit("")), Expr::Literal(ScalarValue::Utf8(None), None))
        .otherwise(v.expr.clone())
        .unwrap_or(v.expr);
    TypedExpr::new(e, v.ty)
}

/// The regex finding `key<kv_delim>value` in a list of pairs. Group 1: a double-quoted
/// value, 2: a single-quoted one, 3: a plain one.
fn kv_regex(key: &str, pair_delim: &str, kv_delim: &str, quotes: &str, greedy: bool) -> String {
    let pd = regex::escape(pair_delim);
    let kd = regex::escape(kv_delim);
    let k = regex::escape(key);
    let plain = if greedy {
        // The value runs until the next `pair_delim key kv_delim` or the end.
        format!(r"(.*?)(?:{pd}\S+?{kd}|$)")
    } else if pair_delim.is_empty() {
        "(.*)".to_string()
    } else {
        format!("((?:(?!{pd}).)*)")
    };
    let alternatives = match (quotes.contains('"'), quotes.contains('\'')) {
        (true, true) => format!(r#"(?:"([^"]*)"|'([^']*)'|{plain})"#),
        (true, false) => format!(r#"(?:"([^"]*)"|(){plain})"#),
        (false, true) => format!(r"(?:()'([^']*)'|{plain})"),
        (false, false) => format!("()(){plain}"),
    };
    format!(r"(?:^|{pd})\s*{k}\s*{kd}\s*{alternatives}")
}

#[cfg(test)]
mod tests {
    use super::kv_regex;

    #[test]
    fn kv_regex_finds_values() {
        let r = regex::Regex::new(&kv_regex("b", ",", ":", "\"", false)).unwrap();
        let c = r.captures("a:1,b:\"x,y\",c:3").unwrap();
        assert_eq!(c.get(1).map(|m| m.as_str()), Some("x,y"));
        let c = r.captures("a:1, b:22,c:3").unwrap();
        assert_eq!(c.get(3).map(|m| m.as_str()), Some("22"));
    }
}
