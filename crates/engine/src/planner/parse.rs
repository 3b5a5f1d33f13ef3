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
/// Other types take any text (as a string column would) and must then convert.
fn type_pattern(ty: KqlType) -> Option<&'static str> {
    match ty {
        KqlType::Int | KqlType::Long => Some(r"-?\d+"),
        KqlType::Real | KqlType::Decimal => Some(r"-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?"),
        KqlType::Bool => Some(r"(?i:true|false|0|1)"),
        KqlType::Guid => Some(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"),
        _ => None,
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
                // Regex mode is greedy unless the `U` flag is given; the other modes take
                // the shortest text that lets the rest of the pattern match.
                ParsePatternPart::Star(_) => {
                    regex.push_str(if last || kind == ParseKind::Regex { ".*" } else { ".*?" })
                }
                ParsePatternPart::Text(e) => {
                    let (v, _) = self.const_value(e, env, op)?;
                    let ScalarValue::Utf8(Some(text)) = v else {
                        return Err(self.report(diag::expected_type("string", e.span)));
                    };
                    if kind == ParseKind::Regex {
                        // The columns are the numbered groups: the user's own groups must
                        // not shift them.
                        regex.push_str(&non_capturing(&text));
                    } else {
                        regex.push_str(&regex::escape(&text));
                    }
                }
                ParsePatternPart::Column { name, ty, span } => {
                    let ty = match ty {
                        Some(tn) => self.type_name(tn)?,
                        None => KqlType::String,
                    };
                    let next_is_text = matches!(p.pattern.get(i + 1), Some(ParsePatternPart::Text(_)));
                    let any = if last || kind == ParseKind::Regex { ".*" } else { ".*?" };
                    let pattern = if ty == KqlType::String {
                        any
                    } else if kind == ParseKind::Relaxed && next_is_text {
                        // Relaxed: a value that is not of the type becomes null, the rest
                        // of the text still parses.
                        ".*?"
                    } else {
                        type_pattern(ty).unwrap_or(any)
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
        // The match is strict (simple and regex kinds): a typed column whose text does not
        // convert to its type fails the whole row, as the pattern not matching does.
        let matches = functions::lower_binary("matches regex", source.clone(), regex_lit.clone())
            .map_err(|e| self.report(diag::function_error(&e, p.span)))?;
        let mut ok = matches.expr;
        let mut values: Vec<(TypedExpr, Col)> = Vec::new();
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
                let v = functions::coerce::convert(extracted, *ty)
                    .map_err(|e| self.report(diag::function_error(&e, *span)))?;
                if kind != ParseKind::Relaxed {
                    ok = ok.and(v.expr.clone().is_not_null());
                }
                v
            };
            values.push((value, Col::new(name.clone(), *ty)));
        }
        for (value, c) in values {
            let empty = if c.ty == KqlType::String {
                crate::literal::string(String::new()).expr
            } else {
                functions::lit::null(c.ty).expr
            };
            let value = datafusion::logical_expr::when(ok.clone(), value.expr)
                .otherwise(empty)
                .map_err(|e| self.internal(op, e, p.span))?;
            match items.iter_mut().find(|(_, x)| x.name == c.name) {
                Some(slot) => *slot = (value, c),
                None => items.push((value, c)),
            }
        }
        let mut t = t;
        if p.keyword == ParseKeyword::ParseWhere {
            t = match LogicalPlanBuilder::from(t.plan.clone())
                .filter(ok)
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
        let mut spec = KvSpec::default();
        let mut regex_mode: Option<(String, Span)> = None;
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
                "pair_delimiter" => spec.pair_delim = Some(first),
                "kv_delimiter" => spec.kv_delim = Some(first),
                "quote" => {
                    for q in values {
                        let chars: Vec<char> = q.chars().collect();
                        match chars.as_slice() {
                            [c] => spec.quotes.push((*c, *c)),
                            [o, c] => spec.quotes.push((*o, *c)),
                            _ => {
                                return Err(self.report(Diagnostic::error(
                                    "QE015",
                                    "parse-kv: a quote is one or two characters",
                                    prop.span,
                                )));
                            }
                        }
                    }
                }
                "escape" => {
                    for e in values {
                        let mut chars = e.chars();
                        match (chars.next(), chars.next()) {
                            (Some(c), None) => spec.escapes.push(c),
                            _ => {
                                return Err(self.report(Diagnostic::error(
                                    "QE015",
                                    "parse-kv: an escape is one character",
                                    prop.span,
                                )));
                            }
                        }
                    }
                }
                "greedy" => spec.greedy = first == "true",
                "regex" => regex_mode = Some((first, prop.span)),
                other => {
                    return Err(self.report(Diagnostic::error(
                        "QE015",
                        format!("parse-kv: unknown property '{other}'"),
                        prop.name.span,
                    )));
                }
            }
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
            let (regex, groups) = match &regex_mode {
                // The user's two groups (key, value), with the key group pinned to this key.
                Some((r, _)) => (format!("(?:{})", pin_key(r, name)), vec![2]),
                None => spec.regex(name),
            };
            if let Err(e) = regex::Regex::new(&regex) {
                failed = true;
                let at = regex_mode.as_ref().map(|(_, s)| *s).unwrap_or(p.span);
                self.report(Diagnostic::error(
                    "QE014",
                    format!("parse-kv: invalid regular expression: {e}"),
                    at,
                ));
                continue;
            }
            let mut values = Vec::new();
            for group in &groups {
                let args = vec![
                    Arg::positional(crate::literal::string(regex.clone())),
                    Arg::positional(crate::literal::long(*group as i64)),
                    Arg::positional(source.clone()),
                ];
                match functions::lower_call("extract", args, &self.ctx) {
                    Ok(v) => values.push(non_empty(v)),
                    Err(e) => return Err(self.report(diag::function_error(&e, key.span))),
                }
            }
            // One of the alternatives (a quoted value, or a plain one) took part.
            let mut value = if values.len() == 1 {
                values.remove(0)
            } else {
                match functions::lower_call("coalesce", values.into_iter().map(Arg::positional).collect(), &self.ctx) {
                    Ok(v) => v,
                    Err(e) => return Err(self.report(diag::function_error(&e, key.span))),
                }
            };
            for esc in &spec.escapes {
                let pattern = format!("{}(.)", regex::escape(&esc.to_string()));
                let args = vec![
                    Arg::positional(value),
                    Arg::positional(crate::literal::string(pattern)),
                    Arg::positional(crate::literal::string(r"\1")),
                ];
                value = match functions::lower_call("replace_regex", args, &self.ctx) {
                    Ok(v) => v,
                    Err(e) => return Err(self.report(diag::function_error(&e, key.span))),
                };
            }
            let value = match functions::lower_call(
                "trim",
                vec![Arg::positional(crate::literal::string(r"\s+")), Arg::positional(value)],
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

/// A user regex with its capturing groups made non-capturing (`(x)`, `(?P<n>x)` and
/// `(?<n>x)` become `(?:x)`); escapes and character classes are left alone.
fn non_capturing(regex: &str) -> String {
    let mut out = String::with_capacity(regex.len() + 8);
    let mut chars = regex.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                out.push(c);
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push(c);
                // A `]` right after `[` or `[^` is a literal.
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                if chars.peek() == Some(&']') {
                    out.push(']');
                    chars.next();
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            '(' if !in_class => {
                let rest: String = chars.clone().take(3).collect();
                if !rest.starts_with('?') {
                    out.push_str("(?:");
                } else if rest.starts_with("?P<")
                    || (rest.starts_with("?<") && rest[2..].starts_with(|x: char| x.is_alphabetic() || x == '_'))
                {
                    // Drop the group's name.
                    for n in chars.by_ref() {
                        if n == '>' {
                            break;
                        }
                    }
                    out.push_str("(?:");
                } else {
                    out.push(c);
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// `extract` gives "" when a group did not take part; `coalesce` wants nulls there.
fn non_empty(v: TypedExpr) -> TypedExpr {
    use datafusion::logical_expr::{lit, when};
    let e = when(v.expr.clone().eq(lit("")), Expr::Literal(ScalarValue::Utf8(None), None))
        .otherwise(v.expr.clone())
        .unwrap_or(v.expr);
    TypedExpr::new(e, v.ty)
}

/// Replaces the first capture group of a user regex (the key) by the literal key.
fn pin_key(regex: &str, key: &str) -> String {
    let mut out = String::with_capacity(regex.len());
    let mut chars = regex.char_indices().peekable();
    let mut escaped = false;
    while let Some((i, c)) = chars.next() {
        if escaped {
            escaped = false;
            out.push(c);
            continue;
        }
        match c {
            '\\' => {
                escaped = true;
                out.push(c);
            }
            '(' if !regex[i + 1..].starts_with('?') => {
                // Skip to the matching ')'.
                let mut depth = 1;
                let mut esc = false;
                for (_, d) in chars.by_ref() {
                    if esc {
                        esc = false;
                        continue;
                    }
                    match d {
                        '\\' => esc = true,
                        '(' => depth += 1,
                        ')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                out.push_str(&format!("({})", regex::escape(key)));
                let rest: String = chars.map(|(_, c)| c).collect();
                out.push_str(&rest);
                return out;
            }
            _ => out.push(c),
        }
    }
    out
}

/// How `parse-kv` finds a key's value.
#[derive(Default)]
struct KvSpec {
    pair_delim: Option<String>,
    kv_delim: Option<String>,
    quotes: Vec<(char, char)>,
    escapes: Vec<char>,
    greedy: bool,
}

impl KvSpec {
    /// The regex finding `key <kv_delim> value` and the capture groups that may hold the
    /// value: one per quote pair (a quoted value), then the plain value.
    fn regex(&self, key: &str) -> (String, Vec<usize>) {
        let k = regex::escape(key);
        let esc_class: String = self.escapes.iter().map(|e| regex::escape(&e.to_string())).collect();
        let mut key_alts = vec![k.clone()];
        let mut value_alts = Vec::new();
        for (o, c) in &self.quotes {
            let (o, c) = (regex::escape(&o.to_string()), regex::escape(&c.to_string()));
            key_alts.push(format!("{o}{k}{c}"));
            let body = if esc_class.is_empty() {
                format!("[^{c}]*")
            } else {
                format!("(?:[{esc_class}].|[^{c}{esc_class}])*")
            };
            value_alts.push(format!("{o}({body}){c}"));
        }
        let key_re = format!("(?:{})", key_alts.join("|"));
        let (prefix, kd, plain) = match (&self.pair_delim, &self.kv_delim) {
            (Some(pd), Some(kd)) => {
                let pd = regex::escape(pd);
                let kd = regex::escape(kd);
                let plain = if self.greedy {
                    format!(r"(.*?)\s*(?:{pd}[^{pd}]*?{kd}|$)")
                } else {
                    format!(r"(.*?)\s*(?:{pd}|$)")
                };
                (format!(r"(?:^|{pd})\s*"), format!(r"\s*{kd}\s*"), plain)
            }
            // No delimiters: anything that is not alphanumeric separates keys and values.
            _ => (r"(?:^|[^\w])".to_string(), r"[^\w]+?".to_string(), r"(\w+)".to_string()),
        };
        value_alts.push(plain);
        let groups = (1..=value_alts.len()).collect();
        (format!("{prefix}{key_re}{kd}(?:{})", value_alts.join("|")), groups)
    }
}

#[cfg(test)]
mod tests {
    use super::KvSpec;

    fn value(spec: &KvSpec, key: &str, text: &str) -> Option<String> {
        let (r, groups) = spec.regex(key);
        let c = regex::Regex::new(&r).unwrap().captures(text)?;
        groups.iter().find_map(|g| c.get(*g).map(|m| m.as_str().to_string()))
    }

    #[test]
    fn kv_values() {
        let spec = KvSpec {
            pair_delim: Some(",".into()),
            kv_delim: Some(":".into()),
            quotes: vec![('"', '"')],
            ..Default::default()
        };
        assert_eq!(value(&spec, "b", "a:1,b:\"x,y\",c:3").as_deref(), Some("x,y"));
        assert_eq!(value(&spec, "b", "a:1, b:22,c:3").as_deref(), Some("22"));
        assert_eq!(
            value(&spec, "Text", "Text: The service is up, Level: Info").as_deref(),
            Some("The service is up")
        );
        let free = KvSpec::default();
        assert_eq!(
            value(
                &free,
                "Machine",
                "[INFO] ThreadId:458745723, Machine:Node001, Text: Started"
            )
            .as_deref(),
            Some("Node001")
        );
        let quoted = KvSpec {
            pair_delim: Some(" ".into()),
            kv_delim: Some("=".into()),
            quotes: vec![('"', '"')],
            ..Default::default()
        };
        assert_eq!(
            value(&quoted, "event time", "a=1 \"event time\"=2021-01-01T10:00:54").as_deref(),
            Some("2021-01-01T10:00:54")
        );
        assert_eq!(
            value(&quoted, "failure", "failure=\"connection aborted\" b=2").as_deref(),
            Some("connection aborted")
        );
    }
}
