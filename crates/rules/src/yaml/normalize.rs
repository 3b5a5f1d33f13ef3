//! The one malformation that Sentinel tooling accepts and real rule files contain:
//!
//! ```yaml
//! requiredDataConnectors:
//!     - connectorId: MicrosoftThreatProtection
//!     dataTypes:                 # a key at the column of the `-`
//!         - DeviceNetworkEvents
//! ```
//!
//! Strict YAML rejects this (a block sequence at column 4 cannot be followed by a mapping
//! key at column 4), and the author plainly meant `dataTypes` to belong to the list item.
//! When the list is more indented than its parent key, such a key can mean nothing else,
//! so we re-indent it (and the lines nested under it) by two spaces and report where.
//! Nothing else is rewritten: a file that is valid YAML never matches this pattern.

/// Text inserted into the parsed copy of a file: `len` bytes at byte `at` of the copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Insertion {
    pub at: usize,
    pub len: usize,
}

struct LineInfo<'a> {
    start: usize,
    indent: usize,
    rest: &'a str,
}

fn line_infos(text: &str) -> Vec<LineInfo<'_>> {
    let mut out = Vec::new();
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let indent = body.bytes().take_while(|&b| b == b' ').count();
        out.push(LineInfo {
            start,
            indent,
            rest: &body[indent..],
        });
        start += line.len();
    }
    out
}

fn is_key_line(rest: &str) -> bool {
    let Some(colon) = rest.find(':') else { return false };
    let key = &rest[..colon];
    !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
        && rest[colon + 1..].chars().next().is_none_or(|c| c == ' ' || c == '\t')
}

fn opens_block_scalar(rest: &str) -> bool {
    let value = rest.split_once(": ").map(|(_, v)| v).unwrap_or("");
    let value = value.split(" #").next().unwrap_or("").trim();
    value.starts_with('|') || value.starts_with('>')
}

/// A fixed copy of `text` and the insertions made, plus the start offsets (in `text`) of the
/// re-indented key lines; `None` when the pattern does not occur.
pub(crate) fn fix_sequence_item_keys(text: &str) -> Option<(String, Vec<Insertion>, Vec<usize>)> {
    let lines = line_infos(text);
    let mut shift = vec![false; lines.len()];
    let mut fixed_keys = Vec::new();
    // (indent of the `-` items, indent of the key that owns the list)
    let mut seq: Option<(usize, usize)> = None;
    let mut prev_key_indent: Option<usize> = None;
    let mut block_scalar_indent: Option<usize> = None;
    let mut i = 0;
    while i < lines.len() {
        let l = &lines[i];
        let blank = l.rest.trim().is_empty() || l.rest.starts_with('#');
        if let Some(bi) = block_scalar_indent {
            if blank || l.indent > bi {
                i += 1;
                continue;
            }
            block_scalar_indent = None;
        }
        if blank {
            i += 1;
            continue;
        }
        let dash = l.rest.starts_with("- ") || l.rest == "-";
        if dash {
            match (seq, prev_key_indent) {
                (Some((d, _)), _) if d == l.indent => {}
                (_, Some(p)) if p < l.indent => seq = Some((l.indent, p)),
                _ => seq = None,
            }
            if opens_block_scalar(l.rest.trim_start_matches("- ")) {
                block_scalar_indent = Some(l.indent);
            }
        } else if is_key_line(l.rest) {
            match seq {
                Some((d, p)) if l.indent == d && d > p => {
                    fixed_keys.push(l.start + l.indent);
                    shift[i] = true;
                    // Everything nested under the key moves with it.
                    let mut j = i + 1;
                    while j < lines.len() {
                        let n = &lines[j];
                        if !(n.rest.trim().is_empty() || n.indent > d) {
                            break;
                        }
                        shift[j] = true;
                        j += 1;
                    }
                    i = j;
                    block_scalar_indent = None;
                    continue;
                }
                Some((d, _)) if l.indent < d => seq = None,
                _ => {}
            }
            prev_key_indent = Some(l.indent);
            if opens_block_scalar(l.rest) {
                block_scalar_indent = Some(l.indent);
            }
        } else {
            seq = seq.filter(|(d, _)| l.indent > *d);
        }
        i += 1;
    }
    if fixed_keys.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(text.len() + 2 * lines.len());
    let mut insertions = Vec::new();
    for (k, l) in lines.iter().enumerate() {
        let end = lines.get(k + 1).map(|n| n.start).unwrap_or(text.len());
        if shift[k] {
            insertions.push(Insertion { at: out.len(), len: 2 });
            out.push_str("  ");
        }
        out.push_str(&text[l.start..end]);
    }
    Some((out, insertions, fixed_keys))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reindents_the_misplaced_key_and_its_children() {
        let text = "requiredDataConnectors:\r\n    - connectorId: X\r\n    dataTypes:\r\n        - T\r\ntactics: C\r\n";
        let (fixed, ins, keys) = fix_sequence_item_keys(text).unwrap();
        assert_eq!(
            fixed,
            "requiredDataConnectors:\r\n    - connectorId: X\r\n      dataTypes:\r\n          - T\r\ntactics: C\r\n"
        );
        assert_eq!(ins.len(), 2);
        assert_eq!(keys, vec![text.find("dataTypes").unwrap()]);
    }

    #[test]
    fn leaves_valid_yaml_alone() {
        for text in [
            "r:\n- connectorId: X\n  dataTypes:\n  - T\n",
            "r:\n  - a: 1\n    b: 2\n  - a: 3\nq: |\n  - x: 1\n  y: 2\n",
            "r:\n- a: 1\nb: 2\n",
        ] {
            assert!(fix_sequence_item_keys(text).is_none(), "{text}");
        }
    }

    #[test]
    fn ignores_block_scalar_content() {
        let text = "description: |\n    - a: 1\n    b: 2\nq: 1\n";
        assert!(fix_sequence_item_keys(text).is_none());
    }
}
