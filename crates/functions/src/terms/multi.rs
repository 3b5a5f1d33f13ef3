//! Many string tests over one column in one pass: the kernel behind every string
//! predicate UDF with constant needles, and the fused filter of a rule set.
//!
//! The tests are split by kind once, when the matcher is built:
//!
//! * substring tests (`has`, `hasprefix`, `hassuffix`, `contains`), and anchored ones
//!   (`==`, `=~`, `startswith`, `endswith`) of needles of 4 bytes or more, go to one
//!   [`SubstringSet`] per case sensitivity, searched over the whole values buffer of a
//!   batch; the case-insensitive set searches an ASCII-lower-cased copy of the buffer
//!   (one reused buffer per thread, same offsets), so that memchr's and Teddy's SIMD
//!   searches apply;
//! * anchored tests of shorter needles (which occur inside rows too often for a search
//!   to pay) go to an [`AnchoredSet`] per case sensitivity, checked row by row, by
//!   length first;
//! * case-insensitive tests whose lower-cased needle is not ASCII can only match rows
//!   that are not ASCII: those few rows are tested with [`Needle::test`], as are the rows
//!   whose ASCII folding may disagree with Unicode lower-casing (see [`super::fold`]).
//!
//! `Utf8View` rows are first gathered into the thread's contiguous buffer. A dictionary
//! array (a column the Parquet reader hands over still dictionary-encoded) is answered
//! per distinct value: the tests run over its values once, and the answers are kept for
//! the following batches of the same column chunk, which share those values.

use super::anchored::AnchoredSet;
use super::fold::{ascii_lower_into, lowercases_into_ascii, next_non_ascii};
use super::search::{SubstringSet, SubstringTest};
use super::{Needle, StrOp};
use crate::udf::StrArray;
use datafusion::arrow::array::ArrayData;
use datafusion::arrow::array::{
    AnyDictionaryArray, Array, ArrayRef, AsArray, BooleanArray, BooleanBufferBuilder, OffsetSizeTrait, StringViewArray,
};
use datafusion::arrow::buffer::{BooleanBuffer, Buffer, NullBuffer};
use datafusion::arrow::datatypes::{DataType, Int32Type};
use datafusion::common::{DataFusionError, HashMap, Result};
use std::cell::RefCell;
use std::sync::{Arc, Mutex, OnceLock};

/// Many `(op, needle, case_sensitive)` tests over one string column, evaluated in one pass.
///
/// A row matches when any test is true of it, with exactly the semantics of the `kql_*`
/// predicate UDFs ([`Needle::test`]). Null rows read as the empty string, as they do for
/// those UDFs (Kusto strings are never null), so a null row is false unless some test
/// matches `""` (an empty needle, or `== ""`): the fused filter then agrees row for row
/// with the rules' own filters.
#[derive(Debug)]
pub struct MultiMatcher {
    /// Every test, for the rows the sets below cannot decide.
    tests: Vec<(StrOp, Needle)>,
    /// Some test matches every string (an empty needle of a non-equality test).
    pub(super) matches_all: bool,
    /// Whether `""` matches (the answer for null rows).
    matches_empty: bool,
    cs_substrings: Option<SubstringSet>,
    ci_substrings: Option<SubstringSet>,
    cs_anchored: Option<AnchoredSet>,
    ci_anchored: Option<AnchoredSet>,
    /// Case-insensitive tests whose lower-cased needle is not ASCII.
    unicode: Vec<UnicodeTest>,
    /// Some test is case-insensitive: rows that are not ASCII may need [`Needle::test`].
    any_ci: bool,
    /// The substring automaton could not be built (beyond Aho-Corasick's limits): every
    /// row is tested with [`Needle::test`].
    row_by_row: bool,
    /// The answers for the values of the dictionaries seen last (most recent first): the
    /// batches of one Parquet column chunk share its dictionary's buffers. Each entry keeps
    /// its values' buffers alive, so they cannot be freed and reused by another array.
    pub(super) dictionaries: Mutex<Vec<(ArrayData, DictionaryAnswers)>>,
}

/// The answers for one dictionary's values, and the same answers one byte per value,
/// spread when a batch first needs them (a row's answer is then one load, not a bit
/// extraction) and shared by the batches that follow.
#[derive(Clone, Debug)]
pub(super) struct DictionaryAnswers {
    bits: BooleanBuffer,
    bytes: Arc<OnceLock<Box<[bool]>>>,
}

impl DictionaryAnswers {
    fn new(bits: BooleanBuffer) -> DictionaryAnswers {
        DictionaryAnswers {
            bits,
            bytes: Arc::default(),
        }
    }

    fn bytes(&self) -> &[bool] {
        self.bytes.get_or_init(|| self.bits.iter().collect())
    }
}

/// Dictionaries whose answers a matcher keeps (a few partitions, each reading a chunk).
pub(super) const KEEP_DICTIONARIES: usize = 8;
/// At most this many matching values of a dictionary are compared with each row's key
/// (four `==` per row, which the compiler vectorizes); more are looked up in a table.
const FEW_KEYS: usize = 4;

/// A case-insensitive test whose lower-cased needle is not ASCII. It can only match rows
/// that are not ASCII, and only those holding its longest ASCII run (ASCII case folded):
/// lower-casing maps ASCII to ASCII and, apart from the two characters of
/// [`super::fold`], everything else to non-ASCII, so that run survives in place.
#[derive(Debug)]
struct UnicodeTest {
    op: StrOp,
    needle: Needle,
    fragment: Vec<u8>,
}

impl UnicodeTest {
    /// Whether the test holds of `row`, which has no character whose lower case is ASCII.
    fn test(&self, row: &[u8]) -> bool {
        let f = self.fragment.as_slice();
        let may = f.is_empty() || row.windows(f.len()).any(|w| w.eq_ignore_ascii_case(f));
        may && self.needle.test(self.op, &String::from_utf8_lossy(row))
    }
}

/// The longest run of ASCII bytes in `b`.
fn longest_ascii_run(b: &[u8]) -> &[u8] {
    b.split(|x| !x.is_ascii())
        .max_by_key(|run| run.len())
        .unwrap_or_default()
}

/// Anchored needles at least this long are found by the buffer search; shorter ones
/// occur too often inside rows for that to pay, and are compared row by row.
const SEARCH_ANCHORED_FROM: usize = 4;

/// Whether a test (of a non-empty needle) is decided by the buffer search.
fn searched(op: StrOp, needle: &Needle) -> bool {
    matches!(op, StrOp::Has | StrOp::HasPrefix | StrOp::HasSuffix | StrOp::Contains)
        || needle.text.len() >= SEARCH_ANCHORED_FROM
}

impl MultiMatcher {
    pub fn new(tests: Vec<(StrOp, String, bool)>) -> MultiMatcher {
        let tests: Vec<(StrOp, Needle)> = tests
            .into_iter()
            .map(|(op, needle, cs)| (op, Needle::new(&needle, cs)))
            .collect();
        let matches_all = tests.iter().any(|(op, n)| *op != StrOp::Equals && n.text.is_empty());
        let matches_empty = tests.iter().any(|(op, n)| n.test(*op, ""));
        // The tests decided by ASCII folding (all case-sensitive ones, and the others
        // whose needle is ASCII once lower-cased), by case sensitivity.
        let folded = |cs: bool| {
            tests
                .iter()
                .filter(move |(_, n)| n.case_sensitive == cs && (cs || n.text.is_ascii()))
        };
        let substrings = |cs: bool| {
            let set = folded(cs)
                .filter(|(op, n)| !n.text.is_empty() && searched(*op, n))
                .map(|(op, n)| SubstringTest {
                    op: *op,
                    bytes: n.text.as_bytes(),
                    starts_term: n.starts_term,
                    ends_term: n.ends_term,
                });
            let wanted = folded(cs).any(|(op, n)| !n.text.is_empty() && searched(*op, n));
            (SubstringSet::new(set), wanted)
        };
        let (cs_substrings, cs_wanted) = substrings(true);
        let (ci_substrings, ci_wanted) = substrings(false);
        let row_by_row = (cs_wanted && cs_substrings.is_none()) || (ci_wanted && ci_substrings.is_none());
        // Short anchored needles, including the empty one of `x == ""`.
        let anchored = |cs: bool| {
            AnchoredSet::new(
                folded(cs)
                    .filter(|(op, n)| !searched(*op, n))
                    .map(|(op, n)| (*op, n.text.as_bytes())),
                cs,
            )
        };
        let cs_anchored = anchored(true);
        let ci_anchored = anchored(false);
        let unicode = tests
            .iter()
            .filter(|(_, n)| !n.case_sensitive && !n.text.is_ascii())
            .map(|(op, n)| UnicodeTest {
                op: *op,
                fragment: longest_ascii_run(n.text.as_bytes()).to_vec(),
                needle: n.clone(),
            })
            .collect();
        let any_ci = tests.iter().any(|(_, n)| !n.case_sensitive);
        MultiMatcher {
            tests,
            matches_all,
            matches_empty,
            cs_substrings,
            ci_substrings,
            cs_anchored,
            ci_anchored,
            unicode,
            any_ci,
            row_by_row,
            dictionaries: Mutex::new(Vec::new()),
        }
    }

    /// Per row: whether any test matches. Errors on arrays that are not strings (`Utf8`,
    /// `LargeUtf8`, `Utf8View`).
    pub fn any_match(&self, array: &dyn Array) -> Result<BooleanArray> {
        if let DataType::Dictionary(..) = array.data_type() {
            return self.any_match_dictionary(array.as_any_dictionary());
        }
        let n = array.len();
        let strings = StrArray::new(array)?;
        let matched = match array.data_type() {
            _ if self.row_by_row => BooleanBuffer::collect_bool(n, |i| self.test_row(strings.get(i))),
            _ if self.matches_all => BooleanBuffer::new_set(n),
            DataType::Utf8 => {
                let a = array.as_string::<i32>();
                self.eval_repeated(a.values(), a.value_offsets()).unwrap_or_else(|| {
                    with_scratch(|s| self.eval_contiguous(a.values(), a.value_offsets(), a.nulls(), &mut s.lower))
                })
            }
            DataType::LargeUtf8 => {
                let a = array.as_string::<i64>();
                self.eval_repeated(a.values(), a.value_offsets()).unwrap_or_else(|| {
                    with_scratch(|s| self.eval_contiguous(a.values(), a.value_offsets(), a.nulls(), &mut s.lower))
                })
            }
            DataType::Utf8View => {
                let a = array.as_string_view();
                with_scratch(|s| self.eval_views(a, s))
            }
            other => {
                return Err(DataFusionError::Execution(format!(
                    "expected a string column, found {other}"
                )));
            }
        };
        let matched = match array.logical_nulls() {
            Some(nulls) if self.matches_empty => &matched | &!nulls.inner(),
            Some(nulls) => &matched & nulls.inner(),
            None => matched,
        };
        Ok(BooleanArray::new(matched, None))
    }

    /// A dictionary-encoded string column: the tests run over the dictionary's values
    /// (once per dictionary, see `dictionaries`) and each row takes its key's answer; a
    /// null row reads as `""`, as everywhere.
    fn any_match_dictionary(&self, dict: &dyn AnyDictionaryArray) -> Result<BooleanArray> {
        let values = dict.values();
        let answers = self.dictionary_answers(values)?;
        let n = dict.keys().len();
        let matching = answers.bits.count_set_bits();
        let matched = match dict.keys().as_primitive_opt::<Int32Type>() {
            // No value of the dictionary matches (a hunt's needles, in most column chunks).
            Some(_) if matching == 0 => BooleanBuffer::new_unset(n),
            // The Parquet reader's keys, read in place; when few values match, each row's
            // key is compared with theirs (branch-free, vectorized) instead of looked up.
            Some(keys) if matching <= FEW_KEYS => {
                // Unused slots repeat a matching key.
                let matching_keys: Vec<i32> = answers
                    .bits
                    .set_indices()
                    .filter_map(|k| i32::try_from(k).ok())
                    .collect();
                let mut few = [matching_keys.first().copied().unwrap_or(-1); FEW_KEYS];
                for (slot, &k) in few.iter_mut().zip(&matching_keys) {
                    *slot = k;
                }
                pack_bits(keys.values(), |k| few.iter().fold(false, |hit, &f| hit | (k == f)))
            }
            Some(keys) => by_key(&answers, keys.values(), |k| usize::try_from(k).unwrap_or(usize::MAX)),
            // (`normalized_keys` needs values: without any, every row of a valid array is null.)
            None if values.is_empty() => BooleanBuffer::new_unset(n),
            None => by_key(&answers, &dict.normalized_keys(), |k| k),
        };
        // A null row reads as `""`, whatever its key.
        let matched = match dict.nulls() {
            Some(nulls) if self.matches_empty => &matched | &!nulls.inner(),
            Some(nulls) => &matched & nulls.inner(),
            None => matched,
        };
        Ok(BooleanArray::new(matched, None))
    }

    /// The answer for each value of a dictionary, from the cache when the same values were
    /// answered before.
    fn dictionary_answers(&self, values: &ArrayRef) -> Result<DictionaryAnswers> {
        let data = values.to_data();
        if let Ok(cache) = self.dictionaries.lock()
            && let Some((_, answers)) = cache.iter().find(|(v, _)| v.ptr_eq(&data))
        {
            return Ok(answers.clone());
        }
        let answers = DictionaryAnswers::new(self.any_match(values.as_ref())?.values().clone());
        if let Ok(mut cache) = self.dictionaries.lock() {
            cache.insert(0, (data, answers.clone()));
            cache.truncate(KEEP_DICTIONARIES);
        }
        Ok(answers)
    }

    /// A batch whose rows repeat few distinct values (URLs, signers, company names —
    /// what hunting rules filter on), for a matcher of many tests: each distinct value is
    /// tested once, in one buffer search over the distinct values, and the rows take their
    /// value's answer. `None` when the batch is small, the matcher cheap (a few needles
    /// are found by memchr faster than a row is hashed), or the first rows show that
    /// values do not repeat enough. Null rows are answered by the caller.
    pub(super) fn eval_repeated<O: OffsetSizeTrait>(&self, values: &[u8], offsets: &[O]) -> Option<BooleanBuffer> {
        let rows = offsets.len().saturating_sub(1);
        if rows < REPEATED_MIN_ROWS || self.tests.len() < REPEATED_MIN_TESTS {
            return None;
        }
        let row = |i: usize| &values[offsets[i].as_usize()..offsets[i + 1].as_usize()];
        let probe = rows.min(REPEATED_PROBE);
        let mut seen: HashMap<&[u8], ()> = HashMap::with_capacity(probe);
        for i in 0..probe {
            seen.insert(row(i), ());
        }
        if seen.len() * REPEATED_MAX_SHARE > probe {
            return None;
        }
        let mut index: HashMap<&[u8], u32> = HashMap::with_capacity(seen.len() * 2);
        let mut distinct: Vec<u8> = Vec::new();
        let mut distinct_offsets: Vec<i64> = vec![0];
        let mut ids: Vec<u32> = Vec::with_capacity(rows);
        for i in 0..rows {
            let v = row(i);
            let next = index.len() as u32;
            let id = *index.entry(v).or_insert_with(|| {
                distinct.extend_from_slice(v);
                distinct_offsets.push(distinct.len() as i64);
                next
            });
            ids.push(id);
            if index.len() * REPEATED_MAX_SHARE > rows {
                // Values stopped repeating: the whole-buffer search is cheaper.
                return None;
            }
        }
        let answers = with_scratch(|s| self.eval_contiguous(&distinct, &distinct_offsets, None, &mut s.lower));
        Some(BooleanBuffer::collect_bool(rows, |i| answers.value(ids[i] as usize)))
    }

    /// Whether any test matches `s` (one value, no batch machinery).
    pub fn test_row(&self, s: &str) -> bool {
        self.tests.iter().any(|(op, n)| n.test(*op, s))
    }

    /// The rows `values[offsets[i]..offsets[i + 1]]` (of a valid array) that match.
    fn eval_contiguous<O: OffsetSizeTrait>(
        &self,
        values: &[u8],
        offsets: &[O],
        nulls: Option<&NullBuffer>,
        lower: &mut Vec<u8>,
    ) -> BooleanBuffer {
        let (Some(start), Some(end)) = (offsets.first(), offsets.last()) else {
            return BooleanBuffer::new_unset(0);
        };
        let (start, end) = (start.as_usize(), end.as_usize());
        let lower = self.ci_substrings.as_ref().map(|_| {
            ascii_lower_into(lower, &values[start..end]);
            (lower.as_slice(), start)
        });
        let laid = Laid {
            offsets,
            raw: values,
            lower,
        };
        self.eval(&laid, nulls)
    }

    /// A `Utf8View` batch: its rows gathered into the scratch buffer (lower-casing the
    /// gathered buffer in one pass afterwards is faster than row by row).
    fn eval_views(&self, a: &StringViewArray, s: &mut Scratch) -> BooleanBuffer {
        s.raw.clear();
        s.offsets.clear();
        s.offsets.push(0);
        for v in a.bytes_iter() {
            s.raw.extend_from_slice(v);
            s.offsets.push(s.raw.len() as i64);
        }
        self.eval_contiguous(&s.raw, &s.offsets, a.nulls(), &mut s.lower)
    }

    /// The rows of `laid` that match. Null rows are left to the caller.
    fn eval<O: OffsetSizeTrait>(&self, laid: &Laid<'_, O>, nulls: Option<&NullBuffer>) -> BooleanBuffer {
        let rows = laid.offsets.len().saturating_sub(1);
        let mut out = BooleanBufferBuilder::new(rows);
        out.append_n(rows, false);
        if let Some(set) = &self.cs_substrings {
            set.scan(laid.raw, 0, laid.offsets, &mut out);
        }
        if let (Some(set), Some((lower, base))) = (&self.ci_substrings, laid.lower) {
            set.scan(lower, base, laid.offsets, &mut out);
        }
        let mut matched = out.finish();
        if self.cs_anchored.is_some() || self.ci_anchored.is_some() {
            let anchored = BooleanBuffer::collect_bool(rows, |i| {
                let r = laid.row(i);
                self.cs_anchored.as_ref().is_some_and(|a| a.matches(r))
                    || self.ci_anchored.as_ref().is_some_and(|a| a.matches(r))
            });
            matched = if self.cs_substrings.is_some() || self.ci_substrings.is_some() {
                &matched | &anchored
            } else {
                anchored
            };
        }
        if self.any_ci {
            self.fix_non_ascii_rows(laid, nulls, &mut matched);
        }
        matched
    }

    /// Re-decides the rows that are not ASCII where ASCII folding is not enough: rows
    /// holding a character whose lower case is ASCII (every test by [`Needle::test`]),
    /// and rows false so far when some needle is not ASCII (those needles).
    fn fix_non_ascii_rows<O: OffsetSizeTrait>(
        &self,
        laid: &Laid<'_, O>,
        nulls: Option<&NullBuffer>,
        matched: &mut BooleanBuffer,
    ) {
        let (buf, offsets) = (laid.raw, laid.offsets);
        let rows = offsets.len().saturating_sub(1);
        let at = |i: usize| offsets[i].as_usize();
        let Some(end) = offsets.last().map(|o| o.as_usize()) else {
            return;
        };
        let mut changes: Vec<(usize, bool)> = Vec::new();
        let (mut pos, mut row) = (at(0), 0);
        while let Some(p) = next_non_ascii(buf, pos, end) {
            // Linearly: non-ASCII rows are usually near each other, and the offsets are
            // read in order (a bisection would miss the cache on every probe).
            while row + 1 < rows && at(row + 1) <= p {
                row += 1;
            }
            pos = at(row + 1);
            if nulls.is_some_and(|n| n.is_null(row)) {
                continue;
            }
            let r = laid.row(row);
            if lowercases_into_ascii(r) {
                changes.push((row, self.test_row(&String::from_utf8_lossy(r))));
            } else if !matched.value(row) && self.unicode.iter().any(|u| u.test(r)) {
                changes.push((row, true));
            }
        }
        if changes.is_empty() {
            return;
        }
        let mut b = BooleanBufferBuilder::new(rows);
        b.append_buffer(matched);
        for (i, v) in changes {
            b.set_bit(i, v);
        }
        *matched = b.finish();
    }
}

/// A batch's rows laid out for the searches: row `i` is `raw[offsets[i]..offsets[i +
/// 1]]`, and `lower[offsets[i] - base..offsets[i + 1] - base]` when there is `lower`.
struct Laid<'a, O> {
    offsets: &'a [O],
    /// The original bytes (base 0).
    raw: &'a [u8],
    /// The bytes with ASCII letters lower-cased, and their base.
    lower: Option<(&'a [u8], usize)>,
}

impl<O: OffsetSizeTrait> Laid<'_, O> {
    fn row(&self, i: usize) -> &[u8] {
        &self.raw[self.offsets[i].as_usize()..self.offsets[i + 1].as_usize()]
    }
}

/// [`MultiMatcher::eval_repeated`] is tried on batches of at least this many rows, for
/// matchers of at least this many tests, when at most one row in this many brings a new
/// value (among the first `REPEATED_PROBE` rows, and over the batch).
const REPEATED_MIN_ROWS: usize = 256;
const REPEATED_MIN_TESTS: usize = 8;
const REPEATED_MAX_SHARE: usize = 4;
const REPEATED_PROBE: usize = 512;

/// Buffers reused from batch to batch by each thread.
#[derive(Default)]
struct Scratch {
    /// `Utf8View` rows, back to back, and their offsets.
    raw: Vec<u8>,
    offsets: Vec<i64>,
    /// A batch's values with ASCII letters lower-cased.
    lower: Vec<u8>,
}

/// Buffers above this size are given back after use rather than kept for the next batch.
const KEEP_SCRATCH: usize = 64 << 20;

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::default();
}

/// Each row's answer by its key's value (`index(key)`; out of range reads as no match).
/// For a dictionary no longer than the batch, the answers spread one byte per value are
/// looked up (spread once per dictionary, for all the batches of its column chunk); a
/// longer one (a column chunk's URLs for a batch of a few thousand rows) would cost more
/// to spread than the batch's lookups.
fn by_key<K: Copy>(answers: &DictionaryAnswers, keys: &[K], index: impl Fn(K) -> usize) -> BooleanBuffer {
    let bits = &answers.bits;
    if bits.len() > keys.len() {
        return pack_bits(keys, |k| {
            let k = index(k);
            k < bits.len() && bits.value(k)
        });
    }
    let table = answers.bytes();
    pack_bits(keys, |k| table.get(index(k)).copied().unwrap_or(false))
}

/// `test` of each key, as bits. The keys are taken 64 at a time, without bounds checks,
/// so that simple tests vectorize; each eight answers (a byte apiece) become eight bits
/// with one multiplication: for bytes `b0..b7` of 0 or 1, the top byte of
/// `u64::from_le_bytes([b0, …, b7]) * 0x0102_0408_1020_4080` is `b0 | b1 << 1 | … | b7 << 7`
/// (the products `b_i · 2^(8i + 7j + 7)` land on distinct bits, none carries, and
/// `i + j = 7` puts `b_i` at bit `56 + i`).
fn pack_bits<K: Copy>(keys: &[K], test: impl Fn(K) -> bool) -> BooleanBuffer {
    const GATHER: u64 = 0x0102_0408_1020_4080;
    let pack = |bytes: &[u8; 64]| {
        let (eights, _) = bytes.as_chunks::<8>();
        eights.iter().enumerate().fold(0u64, |packed, (j, eight)| {
            packed | ((u64::from_le_bytes(*eight).wrapping_mul(GATHER) >> 56) << (8 * j))
        })
    };
    let chunks = keys.chunks_exact(64);
    let rest = chunks.remainder();
    let mut words: Vec<u64> = Vec::with_capacity(keys.len().div_ceil(64));
    let mut bytes = [0u8; 64];
    for chunk in chunks {
        for (b, &k) in bytes.iter_mut().zip(chunk) {
            *b = u8::from(test(k));
        }
        words.push(pack(&bytes));
    }
    if !rest.is_empty() {
        bytes = [0u8; 64];
        for (b, &k) in bytes.iter_mut().zip(rest) {
            *b = u8::from(test(k));
        }
        words.push(pack(&bytes));
    }
    BooleanBuffer::new(Buffer::from_vec(words), 0, keys.len())
}

fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut s) => {
            let r = f(&mut s);
            if s.raw.capacity() + s.lower.capacity() + 8 * s.offsets.capacity() > KEEP_SCRATCH {
                *s = Scratch::default();
            }
            r
        }
        Err(_) => f(&mut Scratch::default()),
    })
}

#[cfg(test)]
mod tests {
    use super::pack_bits;
    use proptest::prelude::*;

    proptest! {
        /// Each row's bit is its key's answer, whatever the length (whole words of 64
        /// rows and a remainder) and wherever the answers fall within a byte.
        #[test]
        fn packed_bits_are_the_keys_answers(keys in proptest::collection::vec(-3i32..40, 0..300), few in proptest::array::uniform4(-3i32..40)) {
            let test = |k: i32| few.contains(&k);
            let packed = pack_bits(&keys, test);
            prop_assert_eq!(packed.len(), keys.len());
            let expected: Vec<bool> = keys.iter().map(|&k| test(k)).collect();
            prop_assert_eq!(packed.iter().collect::<Vec<_>>(), expected);
            // The bits past the last row are clear.
            let last = packed.inner().as_slice().last().copied().unwrap_or(0);
            let used = keys.len() % 8;
            prop_assert!(used == 0 || last >> used == 0);
        }
    }

    #[test]
    fn every_byte_pattern_packs_to_its_bits() {
        for pattern in 0u32..256 {
            let keys: Vec<u32> = (0..64).map(|i| (pattern >> (i % 8)) & 1).collect();
            let packed = pack_bits(&keys, |k| k == 1);
            let bytes = packed.inner().as_slice();
            assert!(
                bytes.iter().all(|&b| u32::from(b) == pattern),
                "pattern {pattern:#010b}: {bytes:?}"
            );
        }
    }
}
