//! Byte spans into the query text and their conversion to lines and columns.

use serde::Serialize;

/// A half-open byte range `start..end` into the source text the node was parsed from.
///
/// Offsets are `u32`: [`crate::parse`] rejects sources of 4 GiB or more with a diagnostic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub const fn new(start: u32, end: u32) -> Self {
        Span { start, end }
    }

    /// A zero-width span at `offset` (used for "missing" things).
    pub const fn empty(offset: u32) -> Self {
        Span {
            start: offset,
            end: offset,
        }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    pub fn len(self) -> u32 {
        self.end.saturating_sub(self.start)
    }

    pub fn is_empty(self) -> bool {
        self.end <= self.start
    }

    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }

    /// The text this span covers, or `""` when it is out of bounds or not on char boundaries.
    pub fn text(self, source: &str) -> &str {
        source.get(self.range()).unwrap_or("")
    }

    /// This span moved `delta` bytes to the right (e.g. into the file a query was taken from).
    pub fn shifted(self, delta: u32) -> Span {
        Span {
            start: self.start.saturating_add(delta),
            end: self.end.saturating_add(delta),
        }
    }
}

/// A 1-based line and column; the column counts Unicode scalar values (chars), not bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct LineCol {
    pub line: u32,
    pub column: u32,
}

/// Converts byte offsets into 1-based line/column positions.
///
/// Lines end at `\n` (a preceding `\r` belongs to the line ending, not the text).
#[derive(Debug, Clone)]
pub struct LineIndex<'a> {
    text: &'a str,
    /// Byte offset of the start of each line.
    line_starts: Vec<u32>,
}

impl<'a> LineIndex<'a> {
    pub fn new(text: &'a str) -> Self {
        let mut line_starts = vec![0u32];
        for (i, b) in text.bytes().enumerate() {
            if b == b'\n' {
                line_starts.push(u32::try_from(i + 1).unwrap_or(u32::MAX));
            }
        }
        LineIndex { text, line_starts }
    }

    /// Position of `offset`; offsets past the end map to the end, offsets inside a UTF-8
    /// sequence to the char that contains them.
    pub fn line_col(&self, offset: u32) -> LineCol {
        let offset = (offset as usize).min(self.text.len());
        let line = match self.line_starts.binary_search(&(offset as u32)) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let start = self.line_starts.get(line).copied().unwrap_or(0) as usize;
        let mut column = 1u32;
        for (i, _) in self.text.get(start..).unwrap_or("").char_indices() {
            if start + i >= offset {
                break;
            }
            column += 1;
        }
        LineCol {
            line: line as u32 + 1,
            column,
        }
    }

    /// Number of lines (a text without newline has one line).
    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }

    /// Byte offset of the start of 1-based `line`, if it exists.
    pub fn line_start(&self, line: u32) -> Option<u32> {
        self.line_starts.get((line as usize).checked_sub(1)?).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_char_columns() {
        let text = "ab\nçd\r\nx";
        let idx = LineIndex::new(text);
        assert_eq!(idx.line_col(0), LineCol { line: 1, column: 1 });
        assert_eq!(idx.line_col(2), LineCol { line: 1, column: 3 });
        assert_eq!(idx.line_col(3), LineCol { line: 2, column: 1 });
        // 'ç' is two bytes: 'd' is the second char.
        assert_eq!(idx.line_col(5), LineCol { line: 2, column: 2 });
        assert_eq!(idx.line_col(8), LineCol { line: 3, column: 1 });
        assert_eq!(idx.line_col(100), LineCol { line: 3, column: 2 });
        assert_eq!(idx.line_count(), 3);
        assert_eq!(idx.line_start(3), Some(8));
        assert_eq!(idx.line_start(0), None);
    }

    #[test]
    fn span_helpers() {
        let s = Span::new(2, 5).to(Span::new(1, 3));
        assert_eq!(s, Span::new(1, 5));
        assert_eq!(s.text("abcdef"), "bcde");
        assert_eq!(Span::new(4, 90).text("abc"), "");
        assert_eq!(s.shifted(10), Span::new(11, 15));
    }
}
