//! Rendering diagnostics as rustc-style reports with a source excerpt (via miette).
//!
//! Works for a query on its own, for a query inside a larger file (give the whole file
//! and map the spans with [`Diagnostic::map_spans`]), or for a query excerpt whose first
//! character sits at a known line/column of a file (`base_line`/`base_column`: every
//! line of the excerpt is shifted, as for an indented YAML block scalar).

use crate::diagnostic::{Diagnostic, Severity};
use crate::span::LineIndex;
use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError, SourceCode, SourceSpan, SpanContents};

/// How to render.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    /// A name for the source shown in the header (`query.kql`, `rules/x.yaml`).
    pub name: Option<String>,
    /// The file line of the source's first line (1 = the source is the whole file).
    pub base_line: u32,
    /// The file column of each source line's first character (1 = not indented).
    pub base_column: u32,
    /// ANSI colours.
    pub color: bool,
    /// Wrap width.
    pub width: usize,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            name: None,
            base_line: 1,
            base_column: 1,
            color: false,
            width: 100,
        }
    }
}

impl RenderOptions {
    pub fn named(name: impl Into<String>) -> Self {
        RenderOptions {
            name: Some(name.into()),
            ..Self::default()
        }
    }
}

/// Renders one diagnostic against `source`.
pub fn render(diag: &Diagnostic, source: &str, options: &RenderOptions) -> String {
    let theme = if options.color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(options.width)
        .with_context_lines(1)
        .with_links(false)
        .without_syntax_highlighting();
    // A span at the very end gets a visible position: render against the text plus a space.
    let padded;
    let text = if diag.span.end as usize >= source.len() {
        padded = format!("{source} ");
        padded.as_str()
    } else {
        source
    };
    let report = Report {
        diag,
        source: Source {
            text,
            options,
            index: LineIndex::new(text),
        },
    };
    let mut out = String::new();
    if handler.render_report(&mut out, &report).is_err() {
        // A span out of bounds: fall back to the one-line form rather than failing.
        return format!("{}\n", diag.one_line(source));
    }
    out
}

/// Renders several diagnostics, one after the other.
pub fn render_all(diags: &[Diagnostic], source: &str, options: &RenderOptions) -> String {
    diags
        .iter()
        .map(|d| render(d, source, options))
        .collect::<Vec<_>>()
        .join("\n")
}

struct Source<'a> {
    text: &'a str,
    options: &'a RenderOptions,
    index: LineIndex<'a>,
}

impl SourceCode for Source<'_> {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let inner = self.text.read_span(span, context_lines_before, context_lines_after)?;
        let start = inner.span().offset() as u32;
        // Line and column (in chars) of the excerpt's first byte, shifted to the file.
        let pos = self.index.line_col(start);
        let line = (pos.line + self.options.base_line.saturating_sub(1)).saturating_sub(1) as usize;
        let column = (pos.column + self.options.base_column.saturating_sub(1)).saturating_sub(1) as usize;
        let data = inner.data();
        let span = *inner.span();
        let count = inner.line_count();
        Ok(Box::new(match &self.options.name {
            Some(name) => miette::MietteSpanContents::new_named(name.clone(), data, span, line, column, count),
            None => miette::MietteSpanContents::new(data, span, line, column, count),
        }))
    }
}

struct Report<'a> {
    diag: &'a Diagnostic,
    source: Source<'a>,
}

impl std::fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.diag.message)
    }
}

impl std::fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.diag.message)
    }
}

impl std::error::Error for Report<'_> {}

fn source_span(span: crate::span::Span, len: usize) -> SourceSpan {
    let start = (span.start as usize).min(len);
    let end = (span.end as usize).clamp(start, len);
    SourceSpan::new(start.into(), end - start)
}

impl miette::Diagnostic for Report<'_> {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        Some(Box::new(&self.diag.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diag.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
            Severity::Info => miette::Severity::Advice,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.diag
            .help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn std::fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let len = self.source.text.len();
        let primary_text = self
            .diag
            .labels
            .iter()
            .find(|l| l.span == self.diag.span)
            .map(|l| l.message.clone())
            .or(Some("here".into()));
        let mut labels = vec![LabeledSpan::new_primary_with_span(
            primary_text,
            source_span(self.diag.span, len),
        )];
        for l in self.diag.labels.iter().filter(|l| l.span != self.diag.span) {
            labels.push(LabeledSpan::new_with_span(
                Some(l.message.clone()),
                source_span(l.span, len),
            ));
        }
        Some(Box::new(labels.into_iter()))
    }
}
