//! Where each byte of a YAML scalar's value came from.
//!
//! The parser gives a scalar's value and span but not how value bytes relate to source
//! bytes. We rebuild the value from the source text following the YAML 1.2 rules for the
//! scalar's style, recording a run for every piece, and accept the result only when the
//! rebuilt value equals the parser's: the map is then exact by construction.

use saphyr_parser::ScalarStyle;

/// A run of the value: `len` bytes at `value_start`, from byte `src` of the parsed text.
/// Verbatim runs are copies of source bytes; synthesized ones (folds, escapes, CRLF) all
/// point at `src`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Run {
    pub value_start: usize,
    pub len: usize,
    pub src: usize,
    pub verbatim: bool,
}

#[derive(Default)]
struct Builder {
    value: String,
    runs: Vec<Run>,
}

impl Builder {
    fn copy(&mut self, text: &str, range: std::ops::Range<usize>) {
        if range.is_empty() {
            return;
        }
        let Some(piece) = text.get(range.clone()) else { return };
        self.runs.push(Run {
            value_start: self.value.len(),
            len: piece.len(),
            src: range.start,
            verbatim: true,
        });
        self.value.push_str(piece);
    }

    fn synth(&mut self, piece: &str, src: usize) {
        self.runs.push(Run {
            value_start: self.value.len(),
            len: piece.len(),
            src,
            verbatim: false,
        });
        self.value.push_str(piece);
    }

    /// A line break read as `\n`: verbatim when the source has a bare LF.
    fn newline(&mut self, text: &str, at: usize) {
        if text.as_bytes().get(at) == Some(&b'\n') {
            self.copy(text, at..at + 1);
        } else {
            self.synth("\n", at);
        }
    }
}

/// One physical line: `[start, end)` without its break, and where the next line starts.
#[derive(Clone, Copy, Debug)]
struct Line {
    start: usize,
    end: usize,
    next: usize,
}

fn lines(text: &str, from: usize, to: usize) -> Vec<Line> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut start = from;
    let mut i = from;
    while i < to {
        match bytes[i] {
            b'\n' => {
                out.push(Line {
                    start,
                    end: i,
                    next: i + 1,
                });
                i += 1;
                start = i;
            }
            b'\r' => {
                let next = if bytes.get(i + 1) == Some(&b'\n') { i + 2 } else { i + 1 };
                out.push(Line { start, end: i, next });
                i = next;
                start = i;
            }
            _ => i += 1,
        }
    }
    if start < to {
        out.push(Line {
            start,
            end: to,
            next: to,
        });
    }
    out
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Rebuilds the value and its runs; `None` when the rebuilt value differs from `expected`.
pub(crate) fn runs(
    text: &str,
    style: ScalarStyle,
    header_search_from: usize,
    start: usize,
    end: usize,
    expected: &str,
) -> Option<Vec<Run>> {
    let built = match style {
        ScalarStyle::Plain => flow(text, start, end, Quote::None),
        // The parser's end can include blanks after the closing quote: find the quote.
        ScalarStyle::SingleQuoted => flow(text, start + 1, closing_quote(text, start, b'\'')?, Quote::Single),
        ScalarStyle::DoubleQuoted => flow(text, start + 1, closing_quote(text, start, b'"')?, Quote::Double),
        ScalarStyle::Literal | ScalarStyle::Folded => {
            return block(text, style == ScalarStyle::Folded, header_search_from, end, expected);
        }
    }?;
    (built.value == expected).then_some(built.runs)
}

/// The offset of the quote closing the scalar that opens at `start`.
fn closing_quote(text: &str, start: usize, quote: u8) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quote == b'"' => i += 2,
            b'\'' if quote == b'\'' && bytes.get(i + 1) == Some(&b'\'') => i += 2,
            c if c == quote => return Some(i),
            _ => i += 1,
        }
    }
    None
}

#[derive(Clone, Copy, PartialEq)]
enum Quote {
    None,
    Single,
    Double,
}

/// Plain and quoted (flow) scalars: line folding plus, for quoted ones, escapes.
fn flow(text: &str, from: usize, to: usize, quote: Quote) -> Option<Builder> {
    let bytes = text.as_bytes();
    let ls = lines(text, from, to);
    let mut b = Builder::default();
    let mut empty_run = 0usize;
    let mut pending_break: Option<usize> = None;
    let mut escaped_break = false;
    let n = ls.len();
    for (k, line) in ls.iter().enumerate() {
        let mut s = line.start;
        let mut e = line.end;
        if k > 0 {
            while s < e && is_blank(bytes[s]) {
                s += 1;
            }
        }
        if k + 1 < n {
            while e > s && is_blank(bytes[e - 1]) {
                // An escaped blank before the break stays content: `\ ` or `\<tab>`.
                if quote == Quote::Double && e >= s + 2 && bytes[e - 2] == b'\\' && !escaped_backslash(bytes, s, e - 2)
                {
                    break;
                }
                e -= 1;
            }
        }
        if k > 0 && k + 1 < n && s == e {
            empty_run += 1;
            continue;
        }
        if let Some(brk) = pending_break.take() {
            if escaped_break {
                escaped_break = false;
            } else if empty_run == 0 {
                b.synth(" ", brk);
            } else {
                for _ in 0..empty_run {
                    b.synth("\n", brk);
                }
            }
        }
        empty_run = 0;
        let content_end = if quote == Quote::Double
            && k + 1 < n
            && e > s
            && bytes[e - 1] == b'\\'
            && !escaped_backslash(bytes, s, e - 1)
        {
            escaped_break = true;
            e - 1
        } else {
            e
        };
        match quote {
            Quote::None => b.copy(text, s..content_end),
            Quote::Single => single_quoted(text, s, content_end, &mut b),
            Quote::Double => double_quoted(text, s, content_end, &mut b)?,
        }
        pending_break = Some(line.end);
    }
    Some(b)
}

/// Whether the backslash at `at` is itself escaped (preceded by an odd run of backslashes).
fn escaped_backslash(bytes: &[u8], from: usize, at: usize) -> bool {
    let mut count = 0;
    let mut i = at;
    while i > from && bytes[i - 1] == b'\\' {
        count += 1;
        i -= 1;
    }
    count % 2 == 1
}

fn single_quoted(text: &str, from: usize, to: usize, b: &mut Builder) {
    let mut run_start = from;
    let mut i = from;
    let bytes = text.as_bytes();
    while i < to {
        if bytes[i] == b'\'' && bytes.get(i + 1) == Some(&b'\'') {
            b.copy(text, run_start..i);
            b.synth("'", i);
            i += 2;
            run_start = i;
        } else {
            i += 1;
        }
    }
    b.copy(text, run_start..to);
}

fn double_quoted(text: &str, from: usize, to: usize, b: &mut Builder) -> Option<()> {
    let bytes = text.as_bytes();
    let mut run_start = from;
    let mut i = from;
    while i < to {
        if bytes[i] != b'\\' {
            i += 1;
            continue;
        }
        b.copy(text, run_start..i);
        let esc = *bytes.get(i + 1)?;
        let (decoded, width): (String, usize) = match esc {
            b'0' => ("\0".into(), 2),
            b'a' => ("\x07".into(), 2),
            b'b' => ("\x08".into(), 2),
            b't' | b'\t' => ("\t".into(), 2),
            b'n' => ("\n".into(), 2),
            b'v' => ("\x0b".into(), 2),
            b'f' => ("\x0c".into(), 2),
            b'r' => ("\r".into(), 2),
            b'e' => ("\x1b".into(), 2),
            b' ' => (" ".into(), 2),
            b'"' => ("\"".into(), 2),
            b'/' => ("/".into(), 2),
            b'\\' => ("\\".into(), 2),
            b'N' => ("\u{85}".into(), 2),
            b'_' => ("\u{a0}".into(), 2),
            b'L' => ("\u{2028}".into(), 2),
            b'P' => ("\u{2029}".into(), 2),
            b'x' | b'u' | b'U' => {
                let digits = match esc {
                    b'x' => 2,
                    b'u' => 4,
                    _ => 8,
                };
                let hex = text.get(i + 2..i + 2 + digits)?;
                let c = char::from_u32(u32::from_str_radix(hex, 16).ok()?)?;
                (c.to_string(), 2 + digits)
            }
            _ => return None,
        };
        b.synth(&decoded, i);
        i += width;
        run_start = i;
    }
    b.copy(text, run_start..to);
    Some(())
}

/// Literal (`|`) and folded (`>`) block scalars.
fn block(text: &str, folded: bool, search_from: usize, end: usize, expected: &str) -> Option<Vec<Run>> {
    let bytes = text.as_bytes();
    // Find the header indicator after the key/`-` that precedes the scalar.
    let mut i = search_from;
    loop {
        match *bytes.get(i)? {
            b'|' | b'>' => break,
            b'&' | b'!' => {
                while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
            }
            _ => i += 1,
        }
        if i >= end {
            return None;
        }
    }
    let mut chomp = Chomp::Clip;
    let mut j = i + 1;
    while let Some(&c) = bytes.get(j) {
        match c {
            b'-' => chomp = Chomp::Strip,
            b'+' => chomp = Chomp::Keep,
            b'1'..=b'9' => {}
            _ => break,
        }
        j += 1;
    }
    // Skip the rest of the header line (blanks and an optional comment).
    let header_end = lines(text, j, end.max(j)).first().map(|l| l.next).unwrap_or(end);
    let body = lines(text, header_end, end);
    let first_text = body
        .iter()
        .find(|l| bytes[l.start..l.end].iter().any(|&c| !is_blank(c)));
    let max_indent = first_text
        .map(|l| bytes[l.start..l.end].iter().take_while(|&&c| c == b' ').count())
        .unwrap_or(0);
    // The indentation is implied by the first text line unless an indicator set it; try the
    // implied one first, then smaller ones (an explicit indicator keeps extra spaces).
    for indent in (0..=max_indent).rev() {
        if let Some(b) = block_with_indent(text, &body, indent, folded, chomp)
            && b.value == expected
        {
            return Some(b.runs);
        }
    }
    None
}

#[derive(Clone, Copy, PartialEq)]
enum Chomp {
    Strip,
    Clip,
    Keep,
}

fn block_with_indent(text: &str, body: &[Line], indent: usize, folded: bool, chomp: Chomp) -> Option<Builder> {
    let bytes = text.as_bytes();
    let mut b = Builder::default();
    // Breaks after the last text line, for chomping: (position of each break).
    let mut trailing: Vec<usize> = Vec::new();
    let mut last_text_break: Option<usize> = None;
    let mut prev_more_indented = false;
    let mut seen_text = false;
    for line in body {
        let content = &bytes[line.start..line.end];
        let spaces = content.iter().take_while(|&&c| c == b' ').count();
        if spaces == content.len() && spaces <= indent {
            trailing.push(line.end);
            continue;
        }
        if spaces < indent {
            // Less indented text ends the scalar; the parser's span never includes it.
            return None;
        }
        let s = line.start + indent;
        let more_indented = is_blank(bytes[s]);
        if seen_text {
            // Resolve the breaks between the previous text line and this one.
            let brk = last_text_break.unwrap_or(line.start);
            if folded && !prev_more_indented && !more_indented {
                if trailing.is_empty() {
                    b.synth(" ", brk);
                }
                for &t in &trailing {
                    b.newline(text, t);
                }
            } else {
                b.newline(text, brk);
                for &t in &trailing {
                    b.newline(text, t);
                }
            }
        } else {
            for &t in &trailing {
                b.newline(text, t);
            }
        }
        trailing.clear();
        b.copy(text, s..line.end);
        // At the end of input the parser still reads a final line break.
        last_text_break = Some(line.end);
        prev_more_indented = more_indented;
        seen_text = true;
    }
    match chomp {
        Chomp::Strip => {}
        Chomp::Clip => {
            if let Some(brk) = last_text_break.filter(|_| seen_text) {
                b.newline(text, brk);
            }
        }
        Chomp::Keep => {
            if let Some(brk) = last_text_break.filter(|_| seen_text) {
                b.newline(text, brk);
            }
            for &t in &trailing {
                b.newline(text, t);
            }
        }
    }
    Some(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use saphyr_parser::{Event, Parser};

    /// Parses `yaml`, and checks for every scalar that the runs rebuild the value and that
    /// verbatim runs really are copies of the source.
    fn check_all(yaml: &str) -> Vec<(String, Vec<Run>)> {
        let chars: Vec<usize> = yaml.char_indices().map(|(i, _)| i).chain([yaml.len()]).collect();
        let mut prev_end = 0;
        let mut out = Vec::new();
        for ev in Parser::new_from_str(yaml) {
            let (ev, span) = ev.expect("valid yaml");
            let (s, e) = (chars[span.start.index()], chars[span.end.index()]);
            if let Event::Scalar(v, style, _, _) = ev {
                let runs = runs(yaml, style, prev_end, s, e, &v)
                    .unwrap_or_else(|| panic!("no map for {v:?} ({style:?}) in {yaml:?}"));
                let mut rebuilt = String::new();
                for r in &runs {
                    assert_eq!(r.value_start, rebuilt.len());
                    let piece = &v[r.value_start..r.value_start + r.len];
                    if r.verbatim {
                        assert_eq!(&yaml[r.src..r.src + r.len], piece);
                    }
                    rebuilt.push_str(piece);
                }
                assert_eq!(rebuilt, v.as_ref());
                out.push((v.into_owned(), runs));
            }
            prev_end = e;
        }
        out
    }

    #[test]
    fn literal_block_with_crlf_maps_lines() {
        let yaml = "query: |\r\n  let a = 1;\r\n    T | take 1\r\n\r\nnext: x\r\n";
        let got = check_all(yaml);
        let (value, runs) = &got[1];
        assert_eq!(value, "let a = 1;\n  T | take 1\n");
        assert_eq!(runs[0].src, yaml.find("let").unwrap());
        assert!(!runs[1].verbatim, "CRLF is read as LF");
    }

    #[test]
    fn every_block_style_and_chomping() {
        for header in ["|", "|-", "|+", ">", ">-", ">+", "|2", ">1-"] {
            let yaml = format!("a: {header}\n  one\n  two\n\n   more\n  three\n\n\nb: 1\n");
            check_all(&yaml);
            let yaml = format!("- {header}\n\n  x y\n  z\n- end\n");
            check_all(&yaml);
        }
    }

    #[test]
    fn block_at_end_of_input_without_line_break() {
        let got = check_all("q: |\r\n  a \r\n  b ");
        assert_eq!(got[1].0, "a \nb \n");
        let got = check_all("q: |-\n  a\n  b");
        assert_eq!(got[1].0, "a\nb");
    }

    #[test]
    fn plain_and_quoted_scalars() {
        check_all(
            "a: plain text\n  continued here\n\n  after empty\nb: 'it''s\n  folded'\nc: \"esc \\u00e9\\t\\\"q\\\" \\\n   joined\"\nd: \"x\\n  y\"\ne: [ 'f', \"g\" ]\n",
        );
        check_all("k: Krämer IT — OÜ\nv: 'Ünïcode  spaced '\n");
    }
}
