//! ASCII case folding for the kernels, and where it agrees with [`Needle::test`]'s
//! Unicode lower-casing.
//!
//! The case-insensitive forms compare ASCII letters without case; a haystack with
//! non-ASCII characters is lower-cased with Unicode rules first. For a needle whose
//! lower-cased text is ASCII, folding only ASCII letters of the original haystack gives
//! the same answer unless the haystack holds a character whose lower-case form contains
//! ASCII bytes — every other non-ASCII character lower-cases to non-ASCII characters, all
//! of whose bytes are non-term bytes that no ASCII needle byte equals, wherever they
//! are. Only two such characters exist (the test below checks every `char`):
//! `İ` (U+0130, lower-cased to `i` + U+0307) and the Kelvin sign `K` (U+212A, to `k`).
//! Rows holding one of them are evaluated by [`Needle::test`] itself.
//!
//! [`Needle::test`]: super::Needle::test

/// `İ` (U+0130) in UTF-8.
const DOTTED_CAPITAL_I: [u8; 2] = [0xC4, 0xB0];
/// `K` (U+212A KELVIN SIGN) in UTF-8.
const KELVIN_SIGN: [u8; 3] = [0xE2, 0x84, 0xAA];

/// Whether Unicode lower-casing `row` produces ASCII bytes from a non-ASCII character,
/// that is, whether ASCII folding of `row` may disagree with `str::to_lowercase`.
pub(super) fn lowercases_into_ascii(row: &[u8]) -> bool {
    row.windows(2).any(|w| w == DOTTED_CAPITAL_I) || row.windows(3).any(|w| w == KELVIN_SIGN)
}

/// Sets `dst` to `src` with ASCII letters lower-cased (byte offsets are unchanged).
pub(super) fn ascii_lower_into(dst: &mut Vec<u8>, src: &[u8]) {
    dst.clear();
    // Branch-free per byte, so that the loop is vectorised.
    dst.extend(src.iter().map(|s| s | (u8::from(s.is_ascii_uppercase()) << 5)));
}

/// The position of the first byte at or after `from` (and before `to`) that is not
/// ASCII. Checks blocks with the word-at-a-time `is_ascii` first.
pub(super) fn next_non_ascii(b: &[u8], from: usize, to: usize) -> Option<usize> {
    let mut i = from;
    while i < to {
        let block_end = (i + 256).min(to);
        let block = b.get(i..block_end)?;
        if !block.is_ascii() {
            return block.iter().position(|x| !x.is_ascii()).map(|p| i + p);
        }
        i = block_end;
    }
    None
}

/// A hash of `bytes` with ASCII letters folded when `fold` (FNV-1a): equal under
/// `eq_ignore_ascii_case` means equal hashes.
pub(super) fn hash_bytes(bytes: &[u8], fold: bool) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for &b in bytes {
        let b = if fold { b.to_ascii_lowercase() } else { b };
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_two_characters_lowercase_into_ascii() {
        let mut found = Vec::new();
        for c in (0x80u32..=0x10FFFF).filter_map(char::from_u32) {
            if c.to_lowercase().any(|l| l.is_ascii()) {
                found.push(c);
            }
        }
        assert_eq!(found, ['\u{130}', '\u{212A}']);
        assert_eq!("\u{130}".as_bytes(), DOTTED_CAPITAL_I);
        assert_eq!("\u{212A}".as_bytes(), KELVIN_SIGN);
        assert!(lowercases_into_ascii("Go to İstanbul".as_bytes()));
        assert!(lowercases_into_ascii("300\u{212A}".as_bytes()));
        assert!(!lowercases_into_ascii("Grüße aus Köln".as_bytes()));
    }

    #[test]
    fn folded_hashes_agree_with_folded_equality() {
        assert_eq!(hash_bytes(b"Microsoft Corp", true), hash_bytes(b"MICROSOFT corp", true));
        assert_ne!(
            hash_bytes(b"Microsoft Corp", false),
            hash_bytes(b"MICROSOFT corp", false)
        );
        let mut v = b"x".to_vec();
        ascii_lower_into(&mut v, "AbÄ-Z@[`{".as_bytes());
        assert_eq!(v, "abÄ-z@[`{".as_bytes());
        let text = format!("{}é{}", "a".repeat(300), "b".repeat(600));
        let b = text.as_bytes();
        assert_eq!(next_non_ascii(b, 0, b.len()), Some(300));
        assert_eq!(next_non_ascii(b, 301, b.len()), Some(301));
        assert_eq!(next_non_ascii(b, 302, b.len()), None);
        assert_eq!(next_non_ascii(b, 0, 300), None);
    }
}
