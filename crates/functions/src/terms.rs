//! Kusto's string matching: term-based `has` and its prefix/suffix forms, substring
//! `contains`, `startswith`, `endswith`, with and without case.
//!
//! # How `has` matches (our reading of the reference)
//!
//! Kusto splits strings into *terms*, the maximal runs of alphanumeric characters, and
//! `has` looks the needle up as whole terms. A needle may itself hold several terms and
//! punctuation (`'Action1 Corporation'`, `'Nanosystems S.R.L.'`, `'.exe'`): it matches
//! where it occurs in the haystack such that
//!
//! * if the needle *starts* with an alphanumeric character, the occurrence starts at a
//!   term start (beginning of the string or after a non-alphanumeric character), and
//! * if the needle *ends* with an alphanumeric character, the occurrence ends at a term
//!   end (end of the string or before a non-alphanumeric character).
//!
//! So `"Action1 Corporation Ltd" has "Action1 Corporation"` is true, `"Action1" has
//! "Action"` is false, `"KustoExplorerQueryRun" has "Explorer"` is false, and
//! `"setup.exe" has ".exe"` is true. `hasprefix` applies only the first rule, `hassuffix`
//! only the second. Terms shorter than three characters are not indexed by Kusto, but the
//! operator's result does not depend on the index (Kusto falls back to scanning), so
//! short needles match by the same rule. Alphanumeric means ASCII letters and digits;
//! every other character (punctuation, spaces, `_`, non-ASCII) separates terms. An empty
//! needle matches every string.
//!
//! Case-insensitive forms fold ASCII case cheaply and fall back to Unicode lower-casing
//! when either side has non-ASCII characters.
//!
//! [`Needle::test`] is the reference; the column kernels ([`MultiMatcher`], in the
//! submodules) compute the same answers for whole batches without per-row work where
//! they can (see "String matching kernels" in `docs/functions.md`).

mod anchored;
mod fold;
mod multi;
mod search;

#[cfg(test)]
pub(crate) mod proptests;

pub use multi::MultiMatcher;

/// The operation of a string predicate kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StrOp {
    Has,
    HasPrefix,
    HasSuffix,
    Contains,
    StartsWith,
    EndsWith,
    Equals,
}

impl StrOp {
    /// Every operation.
    pub const ALL: [StrOp; 7] = [
        StrOp::Has,
        StrOp::HasPrefix,
        StrOp::HasSuffix,
        StrOp::Contains,
        StrOp::StartsWith,
        StrOp::EndsWith,
        StrOp::Equals,
    ];

    pub fn name(self) -> &'static str {
        match self {
            StrOp::Has => "has",
            StrOp::HasPrefix => "hasprefix",
            StrOp::HasSuffix => "hassuffix",
            StrOp::Contains => "contains",
            StrOp::StartsWith => "startswith",
            StrOp::EndsWith => "endswith",
            StrOp::Equals => "equals",
        }
    }
}

#[inline]
fn is_term_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

/// A needle prepared once for many haystacks.
#[derive(Clone, Debug)]
pub struct Needle {
    /// The needle as given (case-sensitive forms) or lower-cased (case-insensitive forms).
    text: String,
    case_sensitive: bool,
    ascii: bool,
    starts_term: bool,
    ends_term: bool,
}

impl Needle {
    pub fn new(needle: &str, case_sensitive: bool) -> Self {
        let ascii = needle.is_ascii();
        let text = if case_sensitive {
            needle.to_string()
        } else if ascii {
            needle.to_ascii_lowercase()
        } else {
            needle.to_lowercase()
        };
        let bytes = text.as_bytes();
        Needle {
            starts_term: bytes.first().is_some_and(|b| is_term_byte(*b)),
            ends_term: bytes.last().is_some_and(|b| is_term_byte(*b)),
            text,
            case_sensitive,
            ascii,
        }
    }

    /// Evaluates `haystack <op> needle`.
    pub fn test(&self, op: StrOp, haystack: &str) -> bool {
        if self.case_sensitive || (self.ascii && haystack.is_ascii()) {
            self.test_folded(op, haystack)
        } else {
            self.test_folded(op, &haystack.to_lowercase())
        }
    }

    /// `haystack` is either the original (case-sensitive, or ASCII on both sides, where
    /// comparisons fold ASCII case) or already lower-cased.
    fn test_folded(&self, op: StrOp, hay: &str) -> bool {
        let n = self.text.as_bytes();
        let h = hay.as_bytes();
        let eq = |a: &[u8], b: &[u8]| {
            if self.case_sensitive {
                a == b
            } else {
                a.eq_ignore_ascii_case(b)
            }
        };
        match op {
            StrOp::Equals => h.len() == n.len() && eq(h, n),
            StrOp::StartsWith => h.len() >= n.len() && eq(&h[..n.len()], n),
            StrOp::EndsWith => h.len() >= n.len() && eq(&h[h.len() - n.len()..], n),
            StrOp::Contains => n.is_empty() || self.occurrences(h).next().is_some(),
            StrOp::Has | StrOp::HasPrefix | StrOp::HasSuffix => {
                if n.is_empty() {
                    return true;
                }
                let check_start = self.starts_term && op != StrOp::HasSuffix;
                let check_end = self.ends_term && op != StrOp::HasPrefix;
                self.occurrences(h).any(|start| {
                    let end = start + n.len();
                    (!check_start || start == 0 || !is_term_byte(h[start - 1]))
                        && (!check_end || end == h.len() || !is_term_byte(h[end]))
                })
            }
        }
    }

    /// Start offsets of every (possibly overlapping) occurrence of the needle.
    fn occurrences<'h>(&'h self, h: &'h [u8]) -> impl Iterator<Item = usize> + 'h {
        let n = self.text.as_bytes();
        let first = n.first().copied().unwrap_or(0);
        let cs = self.case_sensitive;
        let last_start = h.len().checked_sub(n.len());
        (0..=last_start.unwrap_or(0)).filter(move |&i| {
            if last_start.is_none() || n.is_empty() {
                return false;
            }
            let b = h[i];
            let first_ok = if cs { b == first } else { b.eq_ignore_ascii_case(&first) };
            first_ok && {
                let w = &h[i..i + n.len()];
                if cs { w == n } else { w.eq_ignore_ascii_case(n) }
            }
        })
    }
}

/// `haystack <op> needle`, for one pair (tests and row functions).
pub fn str_test(op: StrOp, haystack: &str, needle: &str, case_sensitive: bool) -> bool {
    Needle::new(needle, case_sensitive).test(op, haystack)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has(h: &str, n: &str) -> bool {
        str_test(StrOp::Has, h, n, false)
    }

    #[test]
    fn has_matches_whole_terms() {
        let cases: &[(&str, &str, bool)] = &[
            // The seed rules.
            ("Action1 Corporation", "Action1 Corporation", true),
            ("Action1 Corporation Ltd", "Action1 Corporation", true),
            ("action1 corporation ltd", "Action1 Corporation", true),
            ("Action1", "Action", false),
            ("Action1 Corp", "Action1 Corporation", false),
            ("MyAction1 Corporation", "Action1 Corporation", false),
            ("Nanosystems S.R.L.", "Nanosystems S.R.L.", true),
            ("NANOSYSTEMS S.R.L. (Italy)", "Nanosystems S.R.L.", true),
            ("Remote Utilities LLC", "Remote Utilities", true),
            ("RemoteUtilities", "Remote Utilities", false),
            // The reference's examples.
            ("North America", "america", true),
            ("North America", "amer", false),
            ("KustoExplorerQueryRun", "Explorer", false),
            (
                "Kusto: ad67d136-c1db-4f9f-88ef-d94f3b6b0b5a;KustoExplorerQueryRun",
                "c1db",
                true,
            ),
            (
                "Kusto: ad67d136-c1db-4f9f-88ef-d94f3b6b0b5a;KustoExplorerQueryRun",
                "KustoExplorerQueryRun",
                true,
            ),
            // Needles with punctuation at their ends.
            ("C:\\Windows\\setup.exe", ".exe", true),
            ("C:\\Windows\\setup.exe", "setup.exe", true),
            ("C:\\Windows\\mysetup.exe", "setup.exe", false),
            ("a-foo", "-foo", true),
            // Short terms and separators.
            ("a b c", "b", true),
            ("abc", "b", false),
            ("foo_bar", "bar", true),
            ("", "x", false),
            ("anything", "", true),
            // Overlapping occurrences: the second one is on term boundaries.
            ("aa aaa", "aaa", true),
        ];
        for (h, n, want) in cases {
            assert_eq!(has(h, n), *want, "{h:?} has {n:?}");
        }
    }

    #[test]
    fn case_sensitivity() {
        assert!(str_test(StrOp::Has, "North America", "America", true));
        assert!(!str_test(StrOp::Has, "North America", "america", true));
        assert!(str_test(StrOp::Contains, "FabriKam", "BRik", false));
        assert!(!str_test(StrOp::Contains, "FabriKam", "BRik", true));
        assert!(str_test(StrOp::Contains, "FabriKam", "Kam", true));
        assert!(str_test(StrOp::Equals, "abc", "ABC", false));
        assert!(!str_test(StrOp::Equals, "abc", "ABC", true));
        // Unicode case folding for the insensitive forms.
        assert!(str_test(StrOp::Contains, "ÄRGER", "ärg", false));
        assert!(str_test(StrOp::Has, "Grüße aus Köln", "KÖLN", false));
    }

    #[test]
    fn prefix_and_suffix_forms() {
        assert!(str_test(StrOp::HasPrefix, "North America", "ame", false));
        assert!(!str_test(StrOp::HasPrefix, "North America", "mer", false));
        assert!(str_test(StrOp::HasPrefix, "North America", "Ame", true));
        assert!(!str_test(StrOp::HasPrefix, "North America", "CA", true));
        assert!(str_test(StrOp::HasSuffix, "North America", "ica", false));
        assert!(!str_test(StrOp::HasSuffix, "North America", "americ", false));
        assert!(!str_test(StrOp::HasSuffix, "North America", "icA", true));
        assert!(str_test(StrOp::StartsWith, "Fabrikam", "fab", false));
        assert!(!str_test(StrOp::StartsWith, "Fabrikam", "fab", true));
        assert!(str_test(StrOp::EndsWith, "Fabrikam", "Kam", false));
        assert!(str_test(StrOp::EndsWith, "Fabrikam", "kam", true));
        assert!(!str_test(StrOp::EndsWith, "Fabrikam", "brik", false));
        assert!(str_test(StrOp::StartsWith, "x", "", false));
    }
}

#[cfg(test)]
mod robustness {
    use super::*;

    #[test]
    fn every_operation_on_awkward_strings() {
        let texts = [
            "",
            "a",
            "İstanbul",
            "ß",
            "ǅ",
            "x\u{0}y",
            "日本語テキスト",
            "..",
            "Ab-c_d",
            "ΣΑΣ ς",
        ];
        let ops = StrOp::ALL;
        for h in texts {
            for n in texts {
                for op in ops {
                    for cs in [false, true] {
                        let r = std::panic::catch_unwind(|| str_test(op, h, n, cs));
                        assert!(r.is_ok(), "{op:?} {h:?} {n:?} {cs}");
                    }
                }
            }
        }
        // Case folding that changes byte lengths still finds the term.
        assert!(str_test(StrOp::Has, "Go to İstanbul now", "i̇stanbul", false));
    }
}
