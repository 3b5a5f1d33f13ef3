//! KQL syntax highlighting with Quarry's own lexer, and diagnostics underlined at their
//! spans. The output is maud markup: every piece of query text is escaped.

use kql::{LineIndex, TokenKind};
use maud::{Markup, html};
use serde::Serialize;
use std::collections::BTreeSet;

/// A diagnostic to underline: byte span into the text, severity and message.
#[derive(Clone, Debug, Serialize)]
pub struct Mark {
    pub start: usize,
    pub end: usize,
    /// `error`, `warning` or `info`.
    pub severity: &'static str,
    pub message: String,
}

impl Mark {
    pub fn from_diagnostic(d: &kql::Diagnostic) -> Mark {
        Mark {
            start: d.span.start as usize,
            end: d.span.end as usize,
            severity: d.severity.as_str(),
            message: format!("{}: {}", d.code, d.message),
        }
    }
}

/// The CSS class of a token.
fn class_of(kind: TokenKind, text: &str, next_is_paren: bool) -> &'static str {
    match kind {
        TokenKind::Ident if next_is_paren => "k-fn",
        TokenKind::Ident if kql::is_keyword(text) || text.starts_with('!') => "k-kw",
        TokenKind::Ident if schema::Catalog::builtin().get(text).is_some() => "k-tbl",
        TokenKind::Ident => "k-id",
        TokenKind::Long | TokenKind::Real => "k-num",
        TokenKind::Timespan | TokenKind::TypedLiteral => "k-lit",
        TokenKind::String => "k-str",
        TokenKind::Comment => "k-com",
        TokenKind::Pipe => "k-pipe",
        TokenKind::Error => "k-err",
        TokenKind::LParen
        | TokenKind::RParen
        | TokenKind::LBracket
        | TokenKind::RBracket
        | TokenKind::LBrace
        | TokenKind::RBrace
        | TokenKind::Comma
        | TokenKind::Semicolon
        | TokenKind::Colon
        | TokenKind::Dot
        | TokenKind::DotDot => "k-punct",
        _ => "k-op",
    }
}

/// Highlighted KQL with `marks` underlined (their messages in `title`, and listed by the
/// page next to the code).
pub fn kql(text: &str, marks: &[Mark]) -> Markup {
    let (tokens, _) = kql::lex(text);
    // Classes by byte range; text between tokens (whitespace) has none.
    let mut spans: Vec<(usize, usize, &'static str)> = Vec::with_capacity(tokens.len());
    for (i, t) in tokens.iter().enumerate() {
        let r = t.span.range();
        let Some(tok_text) = text.get(r.clone()) else { continue };
        let next_is_paren = tokens.get(i + 1).is_some_and(|n| n.kind == TokenKind::LParen);
        spans.push((r.start, r.end, class_of(t.kind, tok_text, next_is_paren)));
    }
    let mut cuts: BTreeSet<usize> = BTreeSet::new();
    cuts.insert(0);
    cuts.insert(text.len());
    for (s, e, _) in &spans {
        cuts.insert(*s);
        cuts.insert(*e);
    }
    let marks: Vec<Mark> = marks
        .iter()
        .map(|m| {
            let start = m.start.min(text.len());
            Mark {
                start,
                end: m.end.clamp(start, text.len()),
                ..m.clone()
            }
        })
        .collect();
    for m in &marks {
        cuts.insert(m.start);
        cuts.insert(m.end);
    }
    let cuts: Vec<usize> = cuts.into_iter().filter(|c| text.is_char_boundary(*c)).collect();
    let class_at = |pos: usize| {
        spans
            .binary_search_by(|(s, e, _)| {
                if *e <= pos {
                    std::cmp::Ordering::Less
                } else if *s > pos {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Equal
                }
            })
            .ok()
            .and_then(|i| spans.get(i))
            .map(|(_, _, c)| *c)
    };
    html! {
        @for w in cuts.windows(2) {
            @let (a, b) = (w[0], w[1]);
            // Zero-width diagnostics (something missing) get a visible caret.
            @for m in marks.iter().filter(|m| m.start == a && m.end == m.start) {
                mark class={ "diag-point diag-" (m.severity) } title=(m.message) { "\u{2038}" }
            }
            @let piece = text.get(a..b).unwrap_or("");
            @let covering: Vec<&Mark> = marks.iter().filter(|m| m.start <= a && b <= m.end && m.start < m.end).collect();
            @let inner = html! {
                @if let Some(c) = class_at(a) { span class=(c) { (piece) } } @else { (piece) }
            };
            @if let Some(m) = covering.iter().max_by_key(|m| severity_rank(m.severity)) {
                mark class={ "diag diag-" (m.severity) } title=(m.message) { (inner) }
            } @else {
                (inner)
            }
        }
        @for m in marks.iter().filter(|m| m.start == text.len() && m.end == m.start) {
            mark class={ "diag-point diag-" (m.severity) } title=(m.message) { "\u{2038}" }
        }
    }
}

fn severity_rank(s: &str) -> u8 {
    match s {
        "error" => 3,
        "warning" => 2,
        _ => 1,
    }
}

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (u32, u32) {
    let lc = LineIndex::new(text).line_col(u32::try_from(offset).unwrap_or(u32::MAX));
    (lc.line, lc.column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_get_classes_and_text_is_escaped() {
        let out = kql("T | where x == '<script>' // c", &[]).into_string();
        assert!(out.contains(r#"<span class="k-kw">where</span>"#), "{out}");
        assert!(out.contains(r#"<span class="k-str">'&lt;script&gt;'</span>"#), "{out}");
        assert!(out.contains(r#"<span class="k-com">// c</span>"#), "{out}");
        assert!(!out.contains("<script>"));
    }

    #[test]
    fn diagnostics_are_underlined_and_never_cut_chars() {
        let text = "T | where é ==";
        let marks = [Mark {
            start: 10,
            end: 12,
            severity: "error",
            message: "bad \"thing\"".into(),
        }];
        let out = kql(text, &marks).into_string();
        assert!(
            out.contains(r#"<mark class="diag diag-error" title="bad &quot;thing&quot;">"#),
            "{out}"
        );
        // Spans past the end or inside a character are clamped, not a panic.
        let wild = [Mark {
            start: 11,
            end: 999,
            severity: "warning",
            message: "m".into(),
        }];
        let out = kql(text, &wild).into_string();
        assert!(out.contains("é"));
        let point = [Mark {
            start: text.len(),
            end: text.len(),
            severity: "error",
            message: "missing expression".into(),
        }];
        assert!(kql(text, &point).into_string().contains("diag-point"));
        assert!(kql("", &point).into_string().contains("diag-point"));
    }

    #[test]
    fn functions_and_tables() {
        let out = kql("DeviceFileCertificateInfo | summarize count() by DeviceId", &[]).into_string();
        assert!(
            out.contains(r#"<span class="k-tbl">DeviceFileCertificateInfo</span>"#),
            "{out}"
        );
        assert!(out.contains(r#"<span class="k-fn">count</span>"#), "{out}");
        assert_eq!(line_col("a\nbc", 3), (2, 2));
    }
}
