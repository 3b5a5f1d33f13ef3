//! The substring forms (`has`, `hasprefix`, `hassuffix`, `contains`) of many needles over
//! a whole column at once.
//!
//! The rows of a `Utf8`/`LargeUtf8` batch lie back to back in one values buffer, so the
//! needles are searched in that buffer in one pass — memchr's `memmem` for one needle,
//! Aho-Corasick (whose prefilters are SIMD: Teddy, rare bytes) for several — and every
//! occurrence is mapped to its row through the offsets. An occurrence counts when it lies
//! inside one row and its term boundaries hold against that row's bytes (a row edge is a
//! boundary); once a row matches, the search jumps to the next row. With rare matches
//! the cost is that of the SIMD scan, not of a call per row.
//!
//! The search reports the leftmost occurrence start `s` and one needle `k` found there.
//! Any other needle occurring at `s` is a prefix of `k` or has `k` as a prefix, so only
//! those (precomputed per needle) are checked besides `k` before moving on to `s + 1`.

use super::is_term_byte;
use aho_corasick::{AhoCorasick, Input, MatchKind};
use datafusion::arrow::array::{BooleanBufferBuilder, OffsetSizeTrait};
use memchr::memmem;
use std::collections::HashMap;

/// Which substring operations a needle is tested with (one needle can serve several).
#[derive(Clone, Copy, Debug, Default)]
struct Ops {
    contains: bool,
    has: bool,
    prefix: bool,
    suffix: bool,
}

#[derive(Debug)]
struct Pattern {
    bytes: Vec<u8>,
    starts_term: bool,
    ends_term: bool,
    ops: Ops,
}

impl Pattern {
    /// Whether the occurrence `hay[s..e]` inside the row `hay[rs..re]` passes one of the
    /// pattern's operations. Requires `rs <= s < e <= re <= hay.len()`.
    #[inline]
    fn passes(&self, hay: &[u8], s: usize, e: usize, rs: usize, re: usize) -> bool {
        if self.ops.contains {
            return true;
        }
        let start_ok = !self.starts_term || s == rs || !is_term_byte(hay[s - 1]);
        let end_ok = !self.ends_term || e == re || !is_term_byte(hay[e]);
        (self.ops.has && start_ok && end_ok) || (self.ops.prefix && start_ok) || (self.ops.suffix && end_ok)
    }
}

#[derive(Debug)]
enum Finder {
    One(Box<memmem::Finder<'static>>),
    Many(AhoCorasick),
}

/// Non-empty needles (already lower-cased for case-insensitive sets, whose haystacks are
/// lower-cased too) with the substring operations each is tested with.
#[derive(Debug)]
pub(super) struct SubstringSet {
    patterns: Vec<Pattern>,
    /// Per pattern: the other patterns that can occur at the same start.
    related: Vec<Vec<usize>>,
    finder: Finder,
}

/// A needle of a substring operation: its (folded) bytes and term flags.
pub(super) struct SubstringTest<'a> {
    pub op: super::StrOp,
    pub bytes: &'a [u8],
    pub starts_term: bool,
    pub ends_term: bool,
}

impl SubstringSet {
    /// `None` when there are no tests, or when Aho-Corasick cannot be built for them
    /// (beyond its size limits: the caller then tests row by row).
    pub(super) fn new<'a>(tests: impl IntoIterator<Item = SubstringTest<'a>>) -> Option<SubstringSet> {
        let mut index: HashMap<&[u8], usize> = HashMap::new();
        let mut patterns: Vec<Pattern> = Vec::new();
        for t in tests {
            let i = *index.entry(t.bytes).or_insert_with(|| {
                patterns.push(Pattern {
                    bytes: t.bytes.to_vec(),
                    starts_term: t.starts_term,
                    ends_term: t.ends_term,
                    ops: Ops::default(),
                });
                patterns.len() - 1
            });
            let ops = &mut patterns[i].ops;
            match t.op {
                super::StrOp::Contains => ops.contains = true,
                super::StrOp::Has => ops.has = true,
                super::StrOp::HasPrefix => ops.prefix = true,
                super::StrOp::HasSuffix => ops.suffix = true,
                // Anchored operations are not substring searches.
                super::StrOp::StartsWith | super::StrOp::EndsWith | super::StrOp::Equals => {}
            }
        }
        if patterns.is_empty() {
            return None;
        }
        let finder = if let [p] = patterns.as_slice() {
            Finder::One(Box::new(memmem::Finder::new(&p.bytes).into_owned()))
        } else {
            let ac = AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostFirst)
                .build(patterns.iter().map(|p| &p.bytes))
                .ok()?;
            Finder::Many(ac)
        };
        let related = related_patterns(&patterns);
        Some(SubstringSet {
            patterns,
            related,
            finder,
        })
    }

    /// Sets the bit of every row of `hay` that one of the tests matches. Row `i` is
    /// `hay[offsets[i] - base..offsets[i + 1] - base]`; `offsets` are those of a valid
    /// Arrow array, and `hay` holds at least the bytes of its rows.
    pub(super) fn scan<O: OffsetSizeTrait>(
        &self,
        hay: &[u8],
        base: usize,
        offsets: &[O],
        out: &mut BooleanBufferBuilder,
    ) {
        let rows = offsets.len().saturating_sub(1);
        let at = |i: usize| offsets[i].as_usize() - base;
        if rows == 0 {
            return;
        }
        let end = at(rows);
        let mut pos = at(0);
        let mut row = 0;
        while pos < end {
            let Some((s, k)) = self.find(hay, pos, end) else {
                break;
            };
            row = row_holding(offsets, base, row, s);
            let (rs, re) = (at(row), at(row + 1));
            if self.matches_at(hay, s, k, rs, re) {
                out.set_bit(row, true);
                pos = re;
            } else {
                pos = s + 1;
            }
        }
    }

    #[inline]
    fn find(&self, hay: &[u8], from: usize, to: usize) -> Option<(usize, usize)> {
        match &self.finder {
            Finder::One(f) => f.find(&hay[from..to]).map(|i| (from + i, 0)),
            Finder::Many(ac) => ac
                .find(Input::new(hay).span(from..to))
                .map(|m| (m.start(), m.pattern().as_usize())),
        }
    }

    /// Whether pattern `k` (found at `s`) or one of its relatives passes there.
    fn matches_at(&self, hay: &[u8], s: usize, k: usize, rs: usize, re: usize) -> bool {
        let check = |p: &Pattern| {
            let e = s + p.bytes.len();
            e <= re && hay[s..e] == p.bytes[..] && p.passes(hay, s, e, rs, re)
        };
        self.patterns.get(k).is_some_and(check)
            || self
                .related
                .get(k)
                .is_some_and(|rel| rel.iter().filter_map(|&j| self.patterns.get(j)).any(check))
    }
}

/// The row holding byte `s` (`offsets[row] - base <= s < offsets[row + 1] - base`),
/// searching forward from `from`, which must start at or before `s`; `s` must lie before
/// the end of the last row. Rows move forward only and hits are usually near, so it
/// gallops (steps of 1, 2, 4…) and then bisects the last step.
#[inline]
pub(super) fn row_holding<O: OffsetSizeTrait>(offsets: &[O], base: usize, from: usize, s: usize) -> usize {
    let rows = offsets.len().saturating_sub(1);
    let after = |i: usize| offsets[i].as_usize() - base > s;
    // Invariant: row `lo` starts at or before `s`; the answer is below `hi`.
    let mut lo = from;
    let mut step = 1;
    let hi = loop {
        let probe = lo + step;
        if probe >= rows {
            break rows;
        }
        if after(probe) {
            break probe;
        }
        lo = probe;
        step *= 2;
    };
    // The first row in (lo, hi) starting after `s`, minus one.
    lo + offsets[lo + 1..hi].partition_point(|o| o.as_usize() - base <= s)
}

/// For each pattern, the others that are a prefix of it or have it as a prefix.
fn related_patterns(patterns: &[Pattern]) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..patterns.len()).collect();
    order.sort_by(|&a, &b| patterns[a].bytes.cmp(&patterns[b].bytes));
    let mut related = vec![Vec::new(); patterns.len()];
    // In sorted order, the patterns having `a` as a prefix follow `a` directly.
    for (i, &a) in order.iter().enumerate() {
        for &b in order[i + 1..]
            .iter()
            .take_while(|&&b| patterns[b].bytes.starts_with(&patterns[a].bytes))
        {
            related[a].push(b);
            related[b].push(a);
        }
    }
    related
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::terms::StrOp;

    fn set(tests: &[(StrOp, &str)]) -> SubstringSet {
        SubstringSet::new(tests.iter().map(|(op, n)| SubstringTest {
            op: *op,
            bytes: n.as_bytes(),
            starts_term: n.as_bytes().first().is_some_and(|b| is_term_byte(*b)),
            ends_term: n.as_bytes().last().is_some_and(|b| is_term_byte(*b)),
        }))
        .expect("set")
    }

    fn scan(s: &SubstringSet, rows: &[&str]) -> Vec<bool> {
        let values: String = rows.concat();
        let mut offsets = vec![0i32];
        for r in rows {
            offsets.push(offsets[offsets.len() - 1] + r.len() as i32);
        }
        let mut out = BooleanBufferBuilder::new(rows.len());
        out.append_n(rows.len(), false);
        s.scan(values.as_bytes(), 0, &offsets, &mut out);
        let out = out.finish();
        (0..rows.len()).map(|i| out.value(i)).collect()
    }

    #[test]
    fn rows_holding_bytes() {
        let mut offsets = vec![0i64, 0, 3, 3, 3, 5, 9];
        offsets.extend((10..200).map(|i| i * 2));
        let rows = offsets.len() - 1;
        let end = offsets[rows] as usize;
        for s in 0..end {
            let want = (0..rows)
                .find(|&r| offsets[r] as usize <= s && s < offsets[r + 1] as usize)
                .expect("row");
            for from in (0..=want).filter(|&r| offsets[r] as usize <= s) {
                assert_eq!(row_holding(&offsets, 0, from, s), want, "s={s} from={from}");
            }
        }
        // With a base (a lower-cased copy of a slice of the values).
        let shifted: Vec<i64> = offsets.iter().map(|o| o + 7).collect();
        assert_eq!(row_holding(&shifted, 7, 0, 4), 4);
    }

    #[test]
    fn occurrences_across_rows_do_not_count() {
        let s = set(&[(StrOp::Has, "ab cd")]);
        assert_eq!(scan(&s, &["xx ab", " cd", "ab cd"]), [false, false, true]);
        let s = set(&[(StrOp::Contains, "abc")]);
        assert_eq!(scan(&s, &["ab", "c", "", "zabcz"]), [false, false, false, true]);
    }

    #[test]
    fn row_edges_are_term_boundaries() {
        let s = set(&[(StrOp::Has, "corp")]);
        // The byte before "corp" in the buffer is a letter of the previous row.
        assert_eq!(scan(&s, &["x", "corp", "corpx", "a corp"]), [false, true, false, true]);
    }

    #[test]
    fn related_needles_at_one_start_are_all_checked() {
        // Leftmost-first reports "atera" at 0; "atera networks" must still be found.
        let s = set(&[(StrOp::Has, "atera"), (StrOp::Has, "atera networks")]);
        assert_eq!(
            scan(&s, &["atera networks", "ateraX", "ateras networks"]),
            [true, false, false]
        );
        let s = set(&[(StrOp::Has, "atera networks ltd"), (StrOp::Has, "atera")]);
        assert_eq!(scan(&s, &["atera networks", "xatera"]), [true, false]);
        // The needle reported first fails (a term continues; the row ends), a relative
        // at the same start passes.
        let s = set(&[(StrOp::Has, "ab"), (StrOp::Contains, "abc")]);
        assert_eq!(scan(&s, &["abcd", "abd"]), [true, false]);
        let s = set(&[(StrOp::Contains, "abcdef"), (StrOp::Contains, "abc")]);
        assert_eq!(scan(&s, &["abc", "def", "ab"]), [true, false, false]);
        // A later occurrence on boundaries after a failing one (overlapping).
        let s = set(&[(StrOp::Has, "aaa")]);
        assert_eq!(scan(&s, &["aaaa aaa", "aaaa"]), [true, false]);
    }

    #[test]
    fn many_rows_between_hits() {
        let mut rows = vec!["Microsoft Windows"; 5000];
        rows[17] = "Action1 Corporation";
        rows[4096] = "x Action1 Corporation y";
        rows[4999] = "Action1 Corporation";
        let s = set(&[(StrOp::Has, "Action1 Corporation"), (StrOp::HasPrefix, "Windo")]);
        let got = scan(&s, &rows);
        assert!(got.iter().all(|&b| b));
        let s = set(&[(StrOp::Has, "Action1 Corporation")]);
        let got = scan(&s, &rows);
        let hits: Vec<usize> = (0..rows.len()).filter(|&i| got[i]).collect();
        assert_eq!(hits, [17, 4096, 4999]);
    }
}
