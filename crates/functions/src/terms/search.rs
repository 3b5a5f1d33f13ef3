//! Many needles over a whole column at once: the substring forms (`has`, `hasprefix`,
//! `hassuffix`, `contains`) and, as occurrences at a row's edges, the anchored ones
//! (`startswith`, `endswith`, `==`).
//!
//! The rows of a `Utf8`/`LargeUtf8` batch lie back to back in one values buffer, so the
//! needles are searched in that buffer — memchr's `memmem` for one needle, Teddy
//! (aho-corasick's packed SIMD searcher) for groups of up to 16, one pass per group, and
//! one Aho-Corasick automaton pass for hundreds — and every occurrence is mapped to its
//! row through the offsets. An occurrence counts when it lies
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

/// Which operations a needle is tested with (one needle can serve several).
#[derive(Clone, Copy, Debug, Default)]
struct Ops {
    contains: bool,
    has: bool,
    prefix: bool,
    suffix: bool,
    starts_with: bool,
    ends_with: bool,
    equals: bool,
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
        let (at_start, at_end) = (s == rs, e == re);
        let start_ok = !self.starts_term || at_start || !is_term_byte(hay[s - 1]);
        let end_ok = !self.ends_term || at_end || !is_term_byte(hay[e]);
        (self.ops.has && start_ok && end_ok)
            || (self.ops.prefix && start_ok)
            || (self.ops.suffix && end_ok)
            || (self.ops.starts_with && at_start)
            || (self.ops.ends_with && at_end)
            || (self.ops.equals && at_start && at_end)
    }
}

/// Needles per Teddy searcher. Teddy's speed falls steeply with more needles per
/// searcher (measured over signer names: ~14 GB/s for 16 lower-cased RMM signers, ~3 for
/// 32, ~1.5 for 64), so many needles are searched in several passes of 16.
const TEDDY_GROUP: usize = 16;

/// Beyond this many needles, one Aho-Corasick automaton pass (~0.5–1 GB/s whatever the
/// number of needles) beats a Teddy pass per group of 16.
const MAX_TEDDY_NEEDLES: usize = 12 * TEDDY_GROUP;

#[derive(Debug)]
enum Searcher {
    One(Box<memmem::Finder<'static>>),
    Teddy(aho_corasick::packed::Searcher),
    /// Many needles, or where Teddy is unavailable (no SIMD support on the target).
    Automaton(AhoCorasick),
}

/// A searcher over some of the patterns, and their indices in the set.
#[derive(Debug)]
struct Finder {
    searcher: Searcher,
    ids: Vec<usize>,
}

impl Finder {
    /// The searchers for `patterns`: Teddy over groups when there are not too many.
    fn all(patterns: &[Pattern]) -> Option<Vec<Finder>> {
        let ids: Vec<usize> = (0..patterns.len()).collect();
        if patterns.len() > MAX_TEDDY_NEEDLES {
            return Some(vec![Finder::automaton(patterns, ids)?]);
        }
        ids.chunks(TEDDY_GROUP)
            .map(|c| Finder::new(patterns, c.to_vec()))
            .collect()
    }

    fn new(patterns: &[Pattern], ids: Vec<usize>) -> Option<Finder> {
        let searcher = match ids.as_slice() {
            [one] => Searcher::One(Box::new(memmem::Finder::new(&patterns.get(*one)?.bytes).into_owned())),
            _ => match aho_corasick::packed::Config::new()
                .match_kind(aho_corasick::packed::MatchKind::LeftmostFirst)
                .builder()
                .extend(ids.iter().filter_map(|&i| patterns.get(i)).map(|p| &p.bytes))
                .build()
            {
                Some(teddy) => Searcher::Teddy(teddy),
                None => return Finder::automaton(patterns, ids),
            },
        };
        Some(Finder { searcher, ids })
    }

    fn automaton(patterns: &[Pattern], ids: Vec<usize>) -> Option<Finder> {
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostFirst)
            .build(ids.iter().filter_map(|&i| patterns.get(i)).map(|p| &p.bytes))
            .ok()?;
        Some(Finder {
            searcher: Searcher::Automaton(ac),
            ids,
        })
    }

    /// The leftmost occurrence starting in `from..` and ending by `to`: its start and
    /// the index of one pattern occurring there.
    #[inline]
    fn find(&self, hay: &[u8], from: usize, to: usize) -> Option<(usize, usize)> {
        let (start, local) = match &self.searcher {
            Searcher::One(f) => (from + f.find(&hay[from..to])?, 0),
            Searcher::Teddy(t) => {
                let m = t.find_in(hay, aho_corasick::Span::from(from..to))?;
                (m.start(), m.pattern().as_usize())
            }
            Searcher::Automaton(ac) => {
                let m = ac.find(Input::new(hay).span(from..to))?;
                (m.start(), m.pattern().as_usize())
            }
        };
        Some((start, *self.ids.get(local)?))
    }
}

/// Non-empty needles (already lower-cased for case-insensitive sets, whose haystacks are
/// lower-cased too) with the operations each is tested with. Anchored operations
/// (`startswith`, `endswith`, `==`) are occurrences at a row's start and/or end.
#[derive(Debug)]
pub(super) struct SubstringSet {
    patterns: Vec<Pattern>,
    /// Per pattern: the other patterns that can occur at the same start.
    related: Vec<Vec<usize>>,
    /// Searchers over the patterns, each pattern in one of them.
    finders: Vec<Finder>,
}

/// A needle and its operation: its (folded) bytes and term flags.
pub(super) struct SubstringTest<'a> {
    pub op: super::StrOp,
    pub bytes: &'a [u8],
    pub starts_term: bool,
    pub ends_term: bool,
}

impl SubstringSet {
    /// `None` when there are no tests, or when no searcher can be built for them (beyond
    /// Aho-Corasick's size limits: the caller then tests row by row).
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
                super::StrOp::StartsWith => ops.starts_with = true,
                super::StrOp::EndsWith => ops.ends_with = true,
                super::StrOp::Equals => ops.equals = true,
            }
        }
        if patterns.is_empty() {
            return None;
        }
        let finders = Finder::all(&patterns)?;
        let related = related_patterns(&patterns);
        Some(SubstringSet {
            patterns,
            related,
            finders,
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
        // Each searcher finds every occurrence of its own patterns, so the passes are
        // independent; a later pass skips the rows an earlier one matched.
        for finder in &self.finders {
            let mut pos = at(0);
            let mut row = 0;
            while pos < end {
                let Some((s, k)) = finder.find(hay, pos, end) else {
                    break;
                };
                row = row_holding(offsets, base, row, s);
                let (rs, re) = (at(row), at(row + 1));
                if out.get_bit(row) {
                    pos = re;
                } else if self.matches_at(hay, s, k, rs, re) {
                    out.set_bit(row, true);
                    pos = re;
                } else {
                    pos = s + 1;
                }
            }
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
    fn anchored_operations_are_occurrences_at_row_edges() {
        let s = set(&[
            (StrOp::Equals, "abc"),
            (StrOp::StartsWith, "xy"),
            (StrOp::EndsWith, "zz"),
        ]);
        assert_eq!(
            scan(&s, &["abc", "abcd", "xabc", "xyq", "qxy", "qzz", "zzq", "ab", "c"]),
            [true, false, false, true, false, true, false, false, false]
        );
    }

    #[test]
    fn searchers_by_number_of_needles() {
        let names: Vec<String> = (0..400).map(|i| format!("needle{i}")).collect();
        let kinds = |n: usize| {
            let tests: Vec<(StrOp, &str)> = names[..n].iter().map(|s| (StrOp::Contains, s.as_str())).collect();
            set(&tests)
                .finders
                .iter()
                .map(|f| match f.searcher {
                    Searcher::One(_) => 'm',
                    Searcher::Teddy(_) => 't',
                    Searcher::Automaton(_) => 'a',
                })
                .collect::<String>()
        };
        assert_eq!(kinds(1), "m");
        // Teddy where the target has it (x86-64, aarch64), else automata.
        let teddy = if cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
            't'
        } else {
            'a'
        };
        assert_eq!(kinds(40), format!("{teddy}{teddy}{teddy}"));
        assert_eq!(kinds(400), "a");
        let rows: Vec<&str> = names
            .iter()
            .map(|s| s.as_str())
            .chain(["needle", "xneedle399x"])
            .collect();
        let s = set(&names.iter().map(|s| (StrOp::Equals, s.as_str())).collect::<Vec<_>>());
        let got = scan(&s, &rows);
        assert!(got[..400].iter().all(|&b| b));
        assert_eq!(got[400..], [false, false]);
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
