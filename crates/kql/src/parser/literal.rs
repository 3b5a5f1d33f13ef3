//! Literals: numbers, strings, typed literals (`datetime(…)`, `int(null)`…), `dynamic(…)`
//! JSON and `typeof(…)`.

use super::Parser;
use super::expr::lit_expr;
use crate::ast::*;
use crate::lexer::TokenKind;
use crate::literals;
use crate::span::Span;

impl Parser<'_> {
    pub(crate) fn token_literal(&mut self, t: crate::lexer::Token) -> LiteralValue {
        let text = self.text(t);
        match t.kind {
            TokenKind::Long => match parse_long(text) {
                Some(v) => LiteralValue::Long(Some(v)),
                None => match text.parse::<f64>() {
                    Ok(v) if v.is_finite() => LiteralValue::Real(RealValue::Finite(v)),
                    _ => {
                        self.error("KS004", "Malformed literal", t.span);
                        LiteralValue::Long(None)
                    }
                },
            },
            TokenKind::Real => match text.parse::<f64>() {
                Ok(v) if v.is_finite() => LiteralValue::Real(RealValue::Finite(v)),
                _ => {
                    self.error("KS004", "Malformed literal", t.span);
                    LiteralValue::Real(RealValue::Null)
                }
            },
            TokenKind::Timespan => {
                let ticks = literals::timespan_literal_ticks(text);
                if ticks.is_none() {
                    self.error("KS004", format!("Failed to parse timespan literal: '{text}'"), t.span);
                }
                LiteralValue::Timespan(TimespanLiteral {
                    ticks,
                    text: text.to_string(),
                })
            }
            _ => self.raw_typed_literal(t),
        }
    }

    /// `datetime(…)`, `time(…)`, `guid(…)`… lexed as one token.
    pub(crate) fn raw_typed_literal(&mut self, t: crate::lexer::Token) -> LiteralValue {
        let text = self.text(t);
        let (word, rest) = text.split_once('(').unwrap_or((text, ""));
        let inner = rest.strip_suffix(')').unwrap_or(rest).trim();
        let is_null = inner == "null";
        match word.trim() {
            "datetime" | "date" => LiteralValue::Datetime((!is_null).then(|| inner.to_string())),
            "time" | "timespan" => {
                let ticks = if is_null {
                    None
                } else {
                    literals::timespan_text_ticks(inner)
                };
                if !is_null && ticks.is_none() {
                    self.error("KS004", format!("Failed to parse timespan literal: '{text}'"), t.span);
                }
                LiteralValue::Timespan(TimespanLiteral {
                    ticks,
                    text: text.to_string(),
                })
            }
            _ => {
                if is_null {
                    return LiteralValue::Guid(None);
                }
                let canonical = literals::canonical_guid(inner);
                if canonical.is_none() {
                    self.error("KS004", format!("Failed to parse guid literal: '{text}'"), t.span);
                }
                LiteralValue::Guid(canonical)
            }
        }
    }

    /// Adjacent string literals, concatenated.
    pub(crate) fn parse_string_literal(&mut self) -> Literal {
        let mut parts = Vec::new();
        let mut value = String::new();
        let start = self.cur_span();
        while let Some(t) = self.peek().filter(|t| t.kind == TokenKind::String) {
            self.bump();
            if let Some((kind, obfuscated, body)) = literals::string_token_parts(self.text(t)) {
                let v = literals::unescape(kind, body);
                value.push_str(&v);
                parts.push(StringPart {
                    kind,
                    obfuscated,
                    value: v,
                    span: t.span,
                });
            }
        }
        let span = start.to(Span::new(start.start, self.prev_end()));
        Literal {
            value: LiteralValue::String(StringLiteral { value, parts }),
            span,
        }
    }

    /// `int(5)`, `long(-1)`, `real(nan)`, `bool(null)`, `decimal(1.5)`…
    pub(crate) fn parse_typed_number_literal(&mut self, word: &str) -> Expr {
        let start = self.cur_span();
        self.bump();
        self.bump(); // `(`
        let inner_start = self.cur_span().start;
        let mut text = String::new();
        while let Some(t) = self.peek() {
            if t.kind == TokenKind::RParen || t.kind == TokenKind::Pipe || t.kind == TokenKind::Semicolon {
                break;
            }
            text.push_str(self.text(t));
            self.bump();
        }
        let inner_span = Span::new(inner_start, self.prev_end().max(inner_start));
        let close = self.expect(TokenKind::RParen, ")").unwrap_or(inner_span);
        let span = start.to(close);
        let value = typed_number_value(word, &text);
        match value {
            Some(v) => lit_expr(v, span),
            None => {
                self.error("KS004", "Malformed literal", span);
                Expr {
                    kind: ExprKind::Error,
                    span,
                }
            }
        }
    }

    pub(crate) fn parse_dynamic_literal(&mut self) -> Expr {
        let start = self.cur_span();
        self.bump();
        self.bump(); // `(`
        let value = if self.at(TokenKind::RParen) {
            let span = self.missing_span();
            self.error("KS006", "Missing json value", span);
            DynamicValue::Null(span)
        } else {
            self.parse_dynamic_value()
        };
        let close = self
            .expect(TokenKind::RParen, ")")
            .unwrap_or_else(|| self.missing_span());
        lit_expr(LiteralValue::Dynamic(value), start.to(close))
    }

    pub(crate) fn parse_dynamic_value(&mut self) -> DynamicValue {
        if !self.enter() {
            return DynamicValue::Null(self.cur_span());
        }
        let v = self.parse_dynamic_value_inner();
        self.leave();
        v
    }

    pub(crate) fn parse_dynamic_value_inner(&mut self) -> DynamicValue {
        let Some(t) = self.peek() else {
            let span = self.missing_span();
            self.error("KS006", "Missing json value", span);
            return DynamicValue::Null(span);
        };
        match t.kind {
            TokenKind::LBracket => {
                self.bump();
                let items = self.parse_comma_list(TokenKind::RBracket, false, |p| p.parse_dynamic_value());
                let close = self
                    .expect(TokenKind::RBracket, "]")
                    .unwrap_or_else(|| self.missing_span());
                DynamicValue::Array {
                    items,
                    span: t.span.to(close),
                }
            }
            TokenKind::LBrace => {
                self.bump();
                let entries = self.parse_comma_list(TokenKind::RBrace, false, |p| {
                    let key_tok = p.peek();
                    let (key, key_span) = match key_tok {
                        Some(k) if k.kind == TokenKind::String => {
                            p.bump();
                            (p.string_value(k), k.span)
                        }
                        Some(k) if k.kind == TokenKind::Ident => {
                            p.bump();
                            (p.text(k).to_string(), k.span)
                        }
                        _ => {
                            let span = p.missing_span();
                            p.error("KS006", "Missing json key:value pair", span);
                            (String::new(), span)
                        }
                    };
                    let value = if p.expect(TokenKind::Colon, ":").is_some() {
                        p.parse_dynamic_value()
                    } else {
                        DynamicValue::Null(p.missing_span())
                    };
                    DynamicEntry { key, key_span, value }
                });
                let close = self
                    .expect(TokenKind::RBrace, "}")
                    .unwrap_or_else(|| self.missing_span());
                DynamicValue::Object {
                    entries,
                    span: t.span.to(close),
                }
            }
            TokenKind::Ident if self.text(t) == "null" => {
                self.bump();
                DynamicValue::Null(t.span)
            }
            _ => {
                let e = self.parse_unary();
                match fold_literal(e) {
                    Ok(lit) => DynamicValue::Scalar(Box::new(lit)),
                    Err(span) => {
                        self.error("KS006", "Missing json value", span);
                        DynamicValue::Null(span)
                    }
                }
            }
        }
    }

    /// `typeof(long)` or `typeof(x:long, *)`
    pub(crate) fn parse_typeof(&mut self) -> Expr {
        let start = self.cur_span();
        self.bump();
        self.bump(); // `(`
        let value = if self.at(TokenKind::Ident) && self.kind_at(1) == Some(TokenKind::RParen) {
            TableSchemaOrType::Type(self.parse_type_name())
        } else {
            TableSchemaOrType::Schema(self.parse_schema_items(start))
        };
        let close = self
            .expect(TokenKind::RParen, ")")
            .unwrap_or_else(|| self.missing_span());
        Expr {
            kind: ExprKind::TypeOf(value),
            span: start.to(close),
        }
    }

    // --- names, types, schemas ------------------------------------------------------------
}

pub(crate) fn parse_long(text: &str) -> Option<i64> {
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        return u64::from_str_radix(hex, 16).ok().map(|v| v as i64);
    }
    text.parse().ok()
}

/// The value of `word(text)` for the numeric/bool typed literals.
pub(crate) fn typed_number_value(word: &str, text: &str) -> Option<LiteralValue> {
    let t = text.trim();
    let null = t == "null";
    Some(match word {
        "bool" | "boolean" => LiteralValue::Bool(match t {
            "null" => None,
            "true" | "True" | "TRUE" | "1" => Some(true),
            "false" | "False" | "FALSE" | "0" => Some(false),
            _ => return None,
        }),
        "int" => LiteralValue::Int(if null {
            None
        } else {
            Some(i32::try_from(parse_signed(t)?).ok()?)
        }),
        "long" => LiteralValue::Long(if null {
            None
        } else {
            Some(i64::try_from(parse_signed(t)?).ok()?)
        }),
        "real" | "double" => LiteralValue::Real(match t {
            "null" => RealValue::Null,
            "nan" | "NaN" => RealValue::NaN,
            "inf" | "+inf" => RealValue::PosInf,
            "-inf" => RealValue::NegInf,
            _ => {
                let v: f64 = t.parse().ok()?;
                if !v.is_finite() {
                    return None;
                }
                RealValue::Finite(v)
            }
        }),
        "decimal" => {
            if null {
                LiteralValue::Decimal(None)
            } else {
                let ok = t.parse::<f64>().is_ok_and(f64::is_finite)
                    && t.bytes()
                        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'));
                if !ok {
                    return None;
                }
                LiteralValue::Decimal(Some(t.to_string()))
            }
        }
        _ => return None,
    })
}

/// An optionally signed decimal or hex integer.
pub(crate) fn parse_signed(t: &str) -> Option<i128> {
    let (neg, digits) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let v = if let Some(hex) = digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
        i128::from(u64::from_str_radix(hex, 16).ok()?)
    } else {
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse::<i128>().ok()?
    };
    Some(if neg { -v } else { v })
}

/// A literal inside `dynamic(…)`: folds a signed number into one literal.
pub(crate) fn fold_literal(e: Expr) -> Result<Literal, Span> {
    match e.kind {
        ExprKind::Literal(lit) => Ok(lit),
        ExprKind::Unary(u) => {
            let UnaryExpr { op, operand } = *u;
            let ExprKind::Literal(lit) = operand.kind else {
                return Err(e.span);
            };
            let value = match (op, lit.value) {
                (UnaryOp::Plus, v @ (LiteralValue::Long(_) | LiteralValue::Real(_) | LiteralValue::Int(_))) => v,
                (UnaryOp::Neg, LiteralValue::Long(Some(v))) => LiteralValue::Long(Some(v.checked_neg().ok_or(e.span)?)),
                (UnaryOp::Neg, LiteralValue::Int(Some(v))) => LiteralValue::Int(Some(v.checked_neg().ok_or(e.span)?)),
                (UnaryOp::Neg, LiteralValue::Real(RealValue::Finite(v))) => LiteralValue::Real(RealValue::Finite(-v)),
                (UnaryOp::Neg, LiteralValue::Timespan(TimespanLiteral { ticks: Some(t), text })) => {
                    LiteralValue::Timespan(TimespanLiteral {
                        ticks: Some(-t),
                        text: format!("-{text}"),
                    })
                }
                _ => return Err(e.span),
            };
            Ok(Literal { value, span: e.span })
        }
        _ => Err(e.span),
    }
}
