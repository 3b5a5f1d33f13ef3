//! The anchored forms (`==`/`=~`, `in`/`in~`, `startswith`, `endswith`) of many needles,
//! row by row: a row's length selects the few needles it can equal, and its prefix or
//! suffix of each needle length is compared in place (ASCII case folded without copies).

use super::StrOp;
use super::fold::hash_bytes;

/// Needles of one length. Compared one by one when few, through a sorted table of
/// (folded) hashes when many.
#[derive(Debug)]
struct Group {
    len: usize,
    needles: Vec<Vec<u8>>,
    hashes: Vec<(u64, usize)>,
}

const LINEAR_MAX: usize = 8;

impl Group {
    /// Whether `s` (of this group's length) equals one of the needles.
    #[inline]
    fn contains(&self, s: &[u8], fold: bool) -> bool {
        // Most candidates differ in their first or last byte: compare those first
        // (bytes differing only in bit 0x20 may be one letter in two cases).
        let differ = |a: u8, b: u8| if fold { (a ^ b) & !0x20 != 0 } else { a != b };
        let eq = |n: &Vec<u8>| {
            let ends_differ = match (s.first(), n.first(), s.last(), n.last()) {
                (Some(&a0), Some(&b0), Some(&a1), Some(&b1)) => differ(a0, b0) || differ(a1, b1),
                _ => false,
            };
            !ends_differ
                && if fold {
                    s.eq_ignore_ascii_case(n)
                } else {
                    s == n.as_slice()
                }
        };
        if self.hashes.is_empty() {
            return self.needles.iter().any(eq);
        }
        let h = hash_bytes(s, fold);
        let first = self.hashes.partition_point(|(x, _)| *x < h);
        self.hashes[first..]
            .iter()
            .take_while(|(x, _)| *x == h)
            .any(|(_, i)| self.needles.get(*i).is_some_and(eq))
    }
}

/// Needles grouped by length, shortest first.
#[derive(Debug, Default)]
struct ByLen {
    groups: Vec<Group>,
    /// Bit `n` set: a needle of length `n` (lengths below 256), so that most rows are
    /// turned down by their length alone.
    short_lens: [u64; 4],
}

impl ByLen {
    fn build(needles: Vec<Vec<u8>>, fold: bool) -> ByLen {
        let mut needles = needles;
        needles.sort_by_key(|n| n.len());
        needles.dedup();
        let mut groups: Vec<Group> = Vec::new();
        for n in needles {
            match groups.last_mut() {
                Some(g) if g.len == n.len() => g.needles.push(n),
                _ => groups.push(Group {
                    len: n.len(),
                    needles: vec![n],
                    hashes: Vec::new(),
                }),
            }
        }
        for g in &mut groups {
            if g.needles.len() > LINEAR_MAX {
                g.hashes = g
                    .needles
                    .iter()
                    .enumerate()
                    .map(|(i, n)| (hash_bytes(n, fold), i))
                    .collect();
                g.hashes.sort_unstable();
            }
        }
        let mut short_lens = [0u64; 4];
        for g in &groups {
            if let Some(w) = short_lens.get_mut(g.len / 64) {
                *w |= 1 << (g.len % 64);
            }
        }
        ByLen { groups, short_lens }
    }

    #[inline]
    fn of_len(&self, len: usize) -> Option<&Group> {
        if let Some(w) = self.short_lens.get(len / 64)
            && w & (1 << (len % 64)) == 0
        {
            return None;
        }
        self.groups
            .binary_search_by_key(&len, |g| g.len)
            .ok()
            .and_then(|i| self.groups.get(i))
    }
}

/// The anchored tests of one case sensitivity.
#[derive(Debug)]
pub(super) struct AnchoredSet {
    fold: bool,
    /// The length of the shortest needle.
    min_len: usize,
    equals: ByLen,
    prefixes: ByLen,
    suffixes: ByLen,
}

impl AnchoredSet {
    /// `tests` are `(op, needle)` with needles lower-cased when `!case_sensitive`;
    /// non-anchored operations are ignored. `None` when no test is anchored.
    pub(super) fn new<'a>(tests: impl IntoIterator<Item = (StrOp, &'a [u8])>, case_sensitive: bool) -> Option<Self> {
        let (mut eq, mut pre, mut suf) = (Vec::new(), Vec::new(), Vec::new());
        for (op, n) in tests {
            match op {
                StrOp::Equals => eq.push(n.to_vec()),
                StrOp::StartsWith => pre.push(n.to_vec()),
                StrOp::EndsWith => suf.push(n.to_vec()),
                StrOp::Has | StrOp::HasPrefix | StrOp::HasSuffix | StrOp::Contains => {}
            }
        }
        if eq.is_empty() && pre.is_empty() && suf.is_empty() {
            return None;
        }
        let fold = !case_sensitive;
        let min_len = eq.iter().chain(&pre).chain(&suf).map(Vec::len).min().unwrap_or(0);
        Some(AnchoredSet {
            fold,
            min_len,
            equals: ByLen::build(eq, fold),
            prefixes: ByLen::build(pre, fold),
            suffixes: ByLen::build(suf, fold),
        })
    }

    /// Whether one of the tests matches `row` (its original bytes).
    #[inline]
    pub(super) fn matches(&self, row: &[u8]) -> bool {
        let n = row.len();
        if n < self.min_len {
            return false;
        }
        self.equals.of_len(n).is_some_and(|g| g.contains(row, self.fold))
            || self
                .prefixes
                .groups
                .iter()
                .take_while(|g| g.len <= n)
                .any(|g| row.get(..g.len).is_some_and(|p| g.contains(p, self.fold)))
            || self
                .suffixes
                .groups
                .iter()
                .take_while(|g| g.len <= n)
                .any(|g| row.get(n - g.len..).is_some_and(|p| g.contains(p, self.fold)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equality_prefix_and_suffix_sets() {
        let names: Vec<String> = (0..40).map(|i| format!("name{i}")).collect();
        let mut tests: Vec<(StrOp, &[u8])> = names.iter().map(|n| (StrOp::Equals, n.as_bytes())).collect();
        tests.push((StrOp::StartsWith, b"connectwise"));
        tests.push((StrOp::EndsWith, b" llc"));
        tests.push((StrOp::Has, b"ignored"));
        let set = AnchoredSet::new(tests, false).expect("anchored");
        for (row, want) in [
            ("NAME7", true),
            ("name39", true),
            ("name40", false),
            ("name", false),
            ("ConnectWise, Inc.", true),
            ("Connect", false),
            ("Google LLC", true),
            ("LLC", false),
            ("ignored", false),
            ("", false),
        ] {
            assert_eq!(set.matches(row.as_bytes()), want, "{row}");
        }
        let cs = AnchoredSet::new([(StrOp::Equals, &b"AnyDesk"[..]), (StrOp::Equals, b"")], true).expect("anchored");
        assert!(cs.matches(b"AnyDesk"));
        assert!(!cs.matches(b"anydesk"));
        assert!(cs.matches(b""));
        assert!(AnchoredSet::new([(StrOp::Has, &b"x"[..])], true).is_none());
    }
}
