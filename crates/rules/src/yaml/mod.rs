//! A YAML document as a tree of nodes that remember where they are in the file.
//!
//! Built on `saphyr-parser`'s event stream. The text handed to the parser may differ from
//! the file: it can be a region of a larger file (the rule definition embedded in a feed
//! page) and can have had indentation inserted (see [`normalize`]); [`Source`] maps every
//! parsed position back to the file.

mod normalize;
pub(crate) mod scalar;

pub(crate) use normalize::{Insertion, fix_sequence_item_keys};

use crate::position::{LineIndex, Position, Segment, TextMap, to_u32};
use saphyr_parser::{Event, Parser, ScalarStyle};

/// The text the parser saw and how it relates to the file.
pub(crate) struct Source<'a> {
    pub file: &'a LineIndex<'a>,
    /// Byte offset in the file where the parsed region starts.
    pub base: usize,
    /// The parsed text (the region, possibly with inserted indentation).
    pub text: String,
    /// Insertions into the region, sorted by position in `text`.
    pub insertions: Vec<Insertion>,
    char_starts: Vec<usize>,
}

impl<'a> Source<'a> {
    pub fn new(file: &'a LineIndex<'a>, base: usize, text: String, insertions: Vec<Insertion>) -> Self {
        let char_starts = text.char_indices().map(|(i, _)| i).chain([text.len()]).collect();
        Source {
            file,
            base,
            text,
            insertions,
            char_starts,
        }
    }

    fn byte_of_char(&self, char_index: usize) -> usize {
        self.char_starts.get(char_index).copied().unwrap_or(self.text.len())
    }

    /// File byte offset of a byte offset in the parsed text.
    pub fn file_offset(&self, offset: usize) -> usize {
        let mut removed = 0;
        for ins in &self.insertions {
            if ins.at + ins.len <= offset {
                removed += ins.len;
            } else if ins.at <= offset {
                // Inside inserted text: it stands at the insertion point.
                return self.base + ins.at - removed;
            } else {
                break;
            }
        }
        self.base + offset - removed
    }

    pub fn position(&self, offset: usize) -> Position {
        self.file.position(self.file_offset(offset))
    }
}

#[derive(Clone, Debug)]
pub(crate) enum NodeKind {
    Scalar {
        value: String,
        style: ScalarStyle,
        tagged: Option<String>,
    },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
    /// `*alias`: rule files have no use for them; reported, not resolved.
    Alias,
}

#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub kind: NodeKind,
    /// Byte range in the parsed text.
    pub start: usize,
    pub end: usize,
    /// End of the previous event, where a block scalar's header search starts.
    prev_end: usize,
}

impl Node {
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(&self.kind, NodeKind::Scalar { value, style: ScalarStyle::Plain, tagged: None } if matches!(value.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            NodeKind::Map(entries) => entries.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn kind_name(&self) -> &'static str {
        match &self.kind {
            NodeKind::Scalar { .. } => "a scalar",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
            NodeKind::Alias => "an alias",
        }
    }
}

/// A parse failure at a position in the file.
#[derive(Clone, Debug)]
pub(crate) struct YamlError {
    pub at: Position,
    pub message: String,
}

/// Parses one YAML document (the first; rule files hold one).
pub(crate) fn parse(source: &Source<'_>) -> Result<Node, YamlError> {
    let mut stack: Vec<(Node, Option<Node>)> = Vec::new();
    let mut prev_end = 0;
    let mut root = None;
    for event in Parser::new_from_str(&source.text) {
        let (event, span) = event.map_err(|e| YamlError {
            at: source.position(source.byte_of_char(e.marker().index())),
            message: e.info().to_string(),
        })?;
        let (start, end) = (
            source.byte_of_char(span.start.index()),
            source.byte_of_char(span.end.index()),
        );
        let node = match event {
            Event::Scalar(value, style, _, tag) => Some(Node {
                kind: NodeKind::Scalar {
                    value: value.into_owned(),
                    style,
                    tagged: tag.map(|t| t.to_string()),
                },
                start,
                end,
                prev_end,
            }),
            Event::Alias(_) => Some(Node {
                kind: NodeKind::Alias,
                start,
                end,
                prev_end,
            }),
            Event::SequenceStart(..) => {
                stack.push((
                    Node {
                        kind: NodeKind::Seq(Vec::new()),
                        start,
                        end,
                        prev_end,
                    },
                    None,
                ));
                None
            }
            Event::MappingStart(..) => {
                stack.push((
                    Node {
                        kind: NodeKind::Map(Vec::new()),
                        start,
                        end,
                        prev_end,
                    },
                    None,
                ));
                None
            }
            Event::SequenceEnd | Event::MappingEnd => stack.pop().map(|(mut n, _)| {
                n.end = end.max(n.start);
                n
            }),
            Event::DocumentEnd if root.is_some() => break,
            _ => None,
        };
        prev_end = end;
        if let Some(node) = node {
            match stack.last_mut() {
                None => {
                    root.get_or_insert(node);
                }
                Some((parent, pending_key)) => match &mut parent.kind {
                    NodeKind::Seq(items) => items.push(node),
                    NodeKind::Map(entries) => match pending_key.take() {
                        None => *pending_key = Some(node),
                        Some(key) => entries.push((key, node)),
                    },
                    _ => {}
                },
            }
        }
    }
    root.ok_or_else(|| YamlError {
        at: source.position(0),
        message: "the document is empty".into(),
    })
}

/// The file map of a scalar's value; `None` for non-scalars or when the value cannot be
/// rebuilt from the source (then callers point at the scalar's start).
pub(crate) fn scalar_map(source: &Source<'_>, node: &Node) -> Option<TextMap> {
    let NodeKind::Scalar { value, style, .. } = &node.kind else {
        return None;
    };
    let runs = scalar::runs(&source.text, *style, node.prev_end, node.start, node.end, value)?;
    let mut segments = Vec::with_capacity(runs.len());
    for run in runs {
        // A verbatim run never spans a line break except its own trailing LF, so one
        // position and a column count describe it.
        segments.push(Segment {
            value_start: to_u32(run.value_start),
            len: to_u32(run.len),
            at: source.position(run.src),
            verbatim: run.verbatim,
        });
    }
    Some(TextMap { segments })
}
