//! Decoding literal text: string escapes, timespans, guids, numbers.

use crate::ast::StringKind;

pub const TICKS_PER_MICROSECOND: i64 = 10;
pub const TICKS_PER_MILLISECOND: i64 = 10_000;
pub const TICKS_PER_SECOND: i64 = 10_000_000;
pub const TICKS_PER_MINUTE: i64 = 60 * TICKS_PER_SECOND;
pub const TICKS_PER_HOUR: i64 = 60 * TICKS_PER_MINUTE;
pub const TICKS_PER_DAY: i64 = 24 * TICKS_PER_HOUR;

/// Ticks (100 ns) in one timespan-literal unit, case-insensitively. The same unit set as
/// `schema::values::timespan_unit_nanos`.
pub fn timespan_unit_ticks(unit: &str) -> Option<i64> {
    Some(match unit.to_ascii_lowercase().as_str() {
        "d" | "day" | "days" => TICKS_PER_DAY,
        "h" | "hr" | "hrs" | "hour" | "hours" => TICKS_PER_HOUR,
        "m" | "min" | "mins" | "minute" | "minutes" => TICKS_PER_MINUTE,
        "s" | "sec" | "secs" | "second" | "seconds" => TICKS_PER_SECOND,
        "ms" | "milli" | "millis" | "millisec" | "millisecond" | "milliseconds" => TICKS_PER_MILLISECOND,
        "microsec" | "microsecond" | "microseconds" => TICKS_PER_MICROSECOND,
        "tick" | "ticks" => 1,
        _ => return None,
    })
}

/// `digits[.digits]` × `unit` ticks, exactly, truncated toward zero.
fn scale(num: &str, unit: i64) -> Option<i64> {
    let (int_part, frac_part) = num.split_once('.').unwrap_or((num, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    if !int_part.bytes().all(|b| b.is_ascii_digit()) || !frac_part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let int: i128 = if int_part.is_empty() { 0 } else { int_part.parse().ok()? };
    let mut total = int.checked_mul(unit as i128)?;
    let frac = &frac_part[..frac_part.len().min(18)];
    if !frac.is_empty() {
        let f: i128 = frac.parse().ok()?;
        total = total.checked_add(f * unit as i128 / 10i128.pow(frac.len() as u32))?;
    }
    i64::try_from(total).ok()
}

/// A timespan literal `<number><unit>` (`5d`, `1.5h`), also with spaces (`15 seconds`).
pub fn timespan_literal_ticks(text: &str) -> Option<i64> {
    let s = text.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest.trim_start()),
        None => (false, s),
    };
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (num, unit) = s.split_at(split);
    let v = scale(num, timespan_unit_ticks(unit.trim())?)?;
    Some(if neg { -v } else { v })
}

/// The text inside `time(…)`/`timespan(…)`: a unit literal, a number of days, or
/// `[-][d.]hh:mm[:ss[.fffffff]]`.
pub fn timespan_text_ticks(text: &str) -> Option<i64> {
    let s = text.trim();
    if !s.contains(':') {
        if let Some(v) = timespan_literal_ticks(s) {
            return Some(v);
        }
        let (neg, digits) = match s.strip_prefix('-') {
            Some(rest) => (true, rest.trim_start()),
            None => (false, s),
        };
        let v = scale(digits, TICKS_PER_DAY)?;
        return Some(if neg { -v } else { v });
    }
    let (neg, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (days, clock) = match body.split_once(':') {
        Some((head, _)) if head.contains('.') => {
            let (d, _) = head.split_once('.')?;
            (d.parse::<i64>().ok()?, &body[d.len() + 1..])
        }
        _ => (0, body),
    };
    let mut parts = clock.split(':');
    let h: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let sec_text = parts.next().unwrap_or("0");
    if parts.next().is_some() || h > 23 || m > 59 {
        return None;
    }
    let sec_ticks = scale(sec_text, TICKS_PER_SECOND)?;
    if sec_ticks >= 60 * TICKS_PER_SECOND {
        return None;
    }
    let total = (days as i128) * TICKS_PER_DAY as i128
        + (h as i128) * TICKS_PER_HOUR as i128
        + (m as i128) * TICKS_PER_MINUTE as i128
        + sec_ticks as i128;
    let total = i64::try_from(total).ok()?;
    Some(if neg { -total } else { total })
}

/// Validates a guid and returns its canonical lower-case `8-4-4-4-12` form. Accepts the
/// hyphenated form and 32 bare hex digits.
pub fn canonical_guid(text: &str) -> Option<String> {
    let t = text.trim();
    let hex: String = t.chars().filter(|c| *c != '-').collect();
    let hyphens_ok =
        !t.contains('-') || (t.len() == 36 && [8, 13, 18, 23].iter().all(|&i| t.as_bytes().get(i) == Some(&b'-')));
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) || !hyphens_ok {
        return None;
    }
    let h = hex.to_ascii_lowercase();
    Some(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

/// Splits the raw text of a string token into (kind, obfuscated, body between the quotes).
pub fn string_token_parts(raw: &str) -> Option<(StringKind, bool, &str)> {
    let (obfuscated, rest) = match raw.as_bytes().first() {
        Some(b'h' | b'H') => (true, &raw[1..]),
        _ => (false, raw),
    };
    let (kind, open) = if rest.starts_with("```") || rest.starts_with("~~~") {
        (StringKind::MultiLine, 3)
    } else if rest.starts_with("@'") {
        (StringKind::VerbatimSingle, 2)
    } else if rest.starts_with("@\"") {
        (StringKind::VerbatimDouble, 2)
    } else if rest.starts_with('\'') {
        (StringKind::SingleQuoted, 1)
    } else if rest.starts_with('"') {
        (StringKind::DoubleQuoted, 1)
    } else {
        return None;
    };
    let close = if kind == StringKind::MultiLine { 3 } else { 1 };
    let body = rest.get(open..rest.len().checked_sub(close)?)?;
    Some((kind, obfuscated, body))
}

/// The value of a string body. Unknown backslash escapes are kept as written.
pub fn unescape(kind: StringKind, body: &str) -> String {
    match kind {
        StringKind::MultiLine => body.to_string(),
        StringKind::VerbatimSingle => body.replace("''", "'"),
        StringKind::VerbatimDouble => body.replace("\"\"", "\""),
        StringKind::SingleQuoted | StringKind::DoubleQuoted => {
            let mut out = String::with_capacity(body.len());
            let mut chars = body.chars().peekable();
            while let Some(c) = chars.next() {
                if c != '\\' {
                    out.push(c);
                    continue;
                }
                match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some('r') => out.push('\r'),
                    Some('0') => out.push('\0'),
                    Some('a') => out.push('\u{7}'),
                    Some('b') => out.push('\u{8}'),
                    Some('f') => out.push('\u{c}'),
                    Some('v') => out.push('\u{b}'),
                    Some(q @ ('\\' | '\'' | '"' | '?')) => out.push(q),
                    Some(u @ ('u' | 'U' | 'x')) => {
                        let want = match u {
                            'u' => 4,
                            'U' => 8,
                            _ => 2,
                        };
                        let digits: String = chars.clone().take(want).collect();
                        match (digits.len() == want)
                            .then(|| u32::from_str_radix(&digits, 16).ok())
                            .flatten()
                        {
                            Some(code) if char::from_u32(code).is_some() => {
                                out.extend(char::from_u32(code));
                                for _ in 0..want {
                                    chars.next();
                                }
                            }
                            _ => {
                                out.push('\\');
                                out.push(u);
                            }
                        }
                    }
                    Some(other) => {
                        out.push('\\');
                        out.push(other);
                    }
                    None => out.push('\\'),
                }
            }
            out
        }
    }
}

/// Quotes `value` as a KQL string literal that reads back as `value`.
pub fn quote_string(value: &str) -> String {
    if value.contains('\n') && !value.contains("```") {
        return format!("```{value}```");
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timespans() {
        assert_eq!(timespan_literal_ticks("5d"), Some(5 * TICKS_PER_DAY));
        assert_eq!(timespan_literal_ticks("1.5h"), Some(90 * TICKS_PER_MINUTE));
        assert_eq!(timespan_literal_ticks("10ms"), Some(100_000));
        assert_eq!(timespan_literal_ticks("1tick"), Some(1));
        assert_eq!(timespan_literal_ticks("15 seconds"), Some(15 * TICKS_PER_SECOND));
        assert_eq!(timespan_text_ticks("2"), Some(2 * TICKS_PER_DAY));
        assert_eq!(
            timespan_text_ticks("0.12:34:56.7"),
            Some(12 * TICKS_PER_HOUR + 34 * TICKS_PER_MINUTE + 567 * TICKS_PER_SECOND / 10)
        );
        assert_eq!(timespan_text_ticks("00:01:00"), Some(TICKS_PER_MINUTE));
        assert_eq!(timespan_text_ticks("-1d"), Some(-TICKS_PER_DAY));
        assert_eq!(timespan_text_ticks("1:99"), None);
        assert_eq!(timespan_text_ticks("abc"), None);
    }

    #[test]
    fn strings() {
        assert_eq!(
            string_token_parts("h@'a''b'"),
            Some((StringKind::VerbatimSingle, true, "a''b"))
        );
        assert_eq!(unescape(StringKind::VerbatimSingle, "a''b"), "a'b");
        assert_eq!(unescape(StringKind::SingleQuoted, r"a\'b\n\u00A0\d"), "a'b\n\u{a0}\\d");
        assert_eq!(string_token_parts("```x```"), Some((StringKind::MultiLine, false, "x")));
        assert_eq!(quote_string("a\"b\\"), r#""a\"b\\""#);
    }

    #[test]
    fn guids() {
        assert_eq!(
            canonical_guid("74BE27DE-1E4E-49D9-B579-FE0B331D3642").as_deref(),
            Some("74be27de-1e4e-49d9-b579-fe0b331d3642")
        );
        assert!(canonical_guid("74be27de1e4e49d9b579fe0b331d3642").is_some());
        assert!(canonical_guid("nope").is_none());
    }
}
