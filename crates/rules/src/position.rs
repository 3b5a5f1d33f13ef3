//! Positions inside rule files, and the map from a text value (a rule's query, an exclusion)
//! back to the file it was read from.
//!
//! A rule's query is not a substring of its file: YAML strips indentation, folds lines and
//! turns CRLF into LF, and feed pages flatten indentation. [`TextMap`] records, for every byte
//! of the value, where it came from, so that a diagnostic with a byte span into the query
//! (such as the KQL parser's) can be shown at `file:line:column`.

use serde::{Deserialize, Serialize};

/// A point in a rule file. `line` and `column` are 1-based; the column counts characters
/// (not bytes), as editors do. `offset` is the byte offset into the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Position {
    pub line: u32,
    pub column: u32,
    pub offset: u32,
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Line starts of a file, to turn byte offsets into line/column positions.
#[derive(Clone, Debug)]
pub struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\n' => starts.push(i + 1),
                // A lone CR is a line break in YAML; CRLF counts once (at the LF).
                b'\r' if bytes.get(i + 1) != Some(&b'\n') => starts.push(i + 1),
                _ => {}
            }
            i += 1;
        }
        LineIndex { text, starts }
    }

    pub fn text(&self) -> &'a str {
        self.text
    }

    /// The position of a byte offset (clamped to the text; an offset inside a multi-byte
    /// character counts as that character).
    pub fn position(&self, offset: usize) -> Position {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&s| s <= offset).max(1) - 1;
        let start = self.starts.get(line).copied().unwrap_or(0);
        let column = self
            .text
            .get(start..offset)
            .map(|s| s.chars().count())
            .unwrap_or_else(|| {
                self.text[start..]
                    .char_indices()
                    .take_while(|(i, _)| start + i < offset)
                    .count()
            });
        Position {
            line: to_u32(line + 1),
            column: to_u32(column + 1),
            offset: to_u32(offset),
        }
    }

    /// Byte offset of the start of a 1-based line.
    pub fn line_start(&self, line: u32) -> Option<usize> {
        self.starts.get((line as usize).checked_sub(1)?).copied()
    }
}

pub(crate) fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// One run of a value that came from one place in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "SegmentRepr", from = "SegmentRepr")]
pub struct Segment {
    /// Byte range `[value_start, value_start + len)` of the value.
    pub value_start: u32,
    pub len: u32,
    /// Where the run starts in the file.
    pub at: Position,
    /// The run is a verbatim copy of file text (so byte k of the run is at `at` + k bytes on
    /// the same line). When false the bytes were synthesized by the format (a folded line
    /// break, an escape sequence, CRLF read as LF) and all map to `at`.
    pub verbatim: bool,
}

/// Compact serialized form: `[value_start, len, line, column, offset, verbatim]`.
#[derive(Serialize, Deserialize)]
struct SegmentRepr(u32, u32, u32, u32, u32, bool);

impl From<Segment> for SegmentRepr {
    fn from(s: Segment) -> Self {
        SegmentRepr(s.value_start, s.len, s.at.line, s.at.column, s.at.offset, s.verbatim)
    }
}

impl From<SegmentRepr> for Segment {
    fn from(r: SegmentRepr) -> Self {
        Segment {
            value_start: r.0,
            len: r.1,
            at: Position {
                line: r.2,
                column: r.3,
                offset: r.4,
            },
            verbatim: r.5,
        }
    }
}

/// Maps byte offsets of a value (e.g. a rule's query text) to positions in its file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextMap {
    pub segments: Vec<Segment>,
}

impl TextMap {
    /// Where byte `offset` of `value` came from. `value` must be the text this map was
    /// built for. The offset just past the end maps to the end of the last run.
    pub fn locate(&self, value: &str, offset: usize) -> Option<Position> {
        let offset = to_u32(offset);
        let idx = self
            .segments
            .partition_point(|s| s.value_start + s.len <= offset)
            .min(self.segments.len().checked_sub(1)?);
        let seg = self.segments.get(idx)?;
        if !seg.verbatim || offset <= seg.value_start {
            return Some(seg.at);
        }
        let within = (offset.min(seg.value_start + seg.len) - seg.value_start) as usize;
        let start = seg.value_start as usize;
        let run = value.get(start..start + within)?;
        Some(Position {
            line: seg.at.line,
            column: seg.at.column + to_u32(run.chars().count()),
            offset: seg.at.offset + to_u32(within),
        })
    }

    /// File positions of a byte span of the value: the start, and the position of its last
    /// byte's end.
    pub fn locate_span(&self, value: &str, span: std::ops::Range<usize>) -> Option<(Position, Position)> {
        let start = self.locate(value, span.start)?;
        let end = if span.end > span.start {
            self.locate(value, span.end)?
        } else {
            start
        };
        Some((start, end))
    }

    /// A map for a value copied verbatim from one place of a file (one line or many).
    pub fn verbatim(value: &str, start_offset: usize, index: &LineIndex<'_>) -> TextMap {
        let mut segments = Vec::new();
        let mut pos = 0;
        for line in value.split_inclusive('\n') {
            let at = index.position(start_offset + pos);
            segments.push(Segment {
                value_start: to_u32(pos),
                len: to_u32(line.len()),
                at,
                verbatim: true,
            });
            pos += line.len();
        }
        TextMap { segments }
    }

    /// The map of `value[range]` when that slice is treated as a value of its own.
    pub fn slice(&self, range: std::ops::Range<usize>, value: &str) -> TextMap {
        let mut segments = Vec::new();
        let (lo, hi) = (to_u32(range.start), to_u32(range.end));
        for seg in &self.segments {
            let (s, e) = (seg.value_start.max(lo), (seg.value_start + seg.len).min(hi));
            if s >= e {
                continue;
            }
            let at = if seg.verbatim {
                self.locate(value, s as usize).unwrap_or(seg.at)
            } else {
                seg.at
            };
            segments.push(Segment {
                value_start: s - lo,
                len: e - s,
                at,
                verbatim: seg.verbatim,
            });
        }
        TextMap { segments }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_index_counts_characters_and_crlf() {
        let text = "ab\r\nOÜx\ny";
        let idx = LineIndex::new(text);
        assert_eq!(
            idx.position(0),
            Position {
                line: 1,
                column: 1,
                offset: 0
            }
        );
        assert_eq!(idx.position(4).line, 2);
        // 'x' is after two characters (Ü is two bytes).
        let x = text.find('x').unwrap();
        assert_eq!(
            idx.position(x),
            Position {
                line: 2,
                column: 3,
                offset: x as u32
            }
        );
        assert_eq!(idx.position(text.len()).line, 3);
    }

    #[test]
    fn verbatim_map_locates_every_byte() {
        let file = "key: |\n  line one\n  two\n";
        let value = "line one\ntwo\n";
        let idx = LineIndex::new(file);
        // Simulate a block scalar: each line comes from an indented line.
        let map = TextMap {
            segments: vec![
                Segment {
                    value_start: 0,
                    len: 9,
                    at: idx.position(9),
                    verbatim: true,
                },
                Segment {
                    value_start: 9,
                    len: 4,
                    at: idx.position(20),
                    verbatim: true,
                },
            ],
        };
        assert_eq!(
            map.locate(value, 5).unwrap(),
            Position {
                line: 2,
                column: 8,
                offset: 14
            }
        );
        assert_eq!(
            map.locate(value, 9).unwrap(),
            Position {
                line: 3,
                column: 3,
                offset: 20
            }
        );
        let (s, e) = map.locate_span(value, 9..12).unwrap();
        assert_eq!((s.line, s.column, e.column), (3, 3, 6));
        let sliced = map.slice(9..13, value);
        assert_eq!(sliced.locate("two\n", 1).unwrap().column, 4);
    }

    #[test]
    fn segments_serialize_compactly() {
        let seg = Segment {
            value_start: 1,
            len: 2,
            at: Position {
                line: 3,
                column: 4,
                offset: 5,
            },
            verbatim: true,
        };
        assert_eq!(serde_json::to_string(&seg).unwrap(), "[1,2,3,4,5,true]");
        let back: Segment = serde_json::from_str("[1,2,3,4,5,true]").unwrap();
        assert_eq!(back, seg);
    }
}
