//! Kusto's text forms of `datetime` and `timespan` values: parsing every format the KQL
//! reference documents for `datetime(…)`/`todatetime()` and the formats that Defender and
//! Log Analytics exports use, and printing them the way Kusto prints results.
//!
//! Values are held as Arrow holds them: a `datetime` is nanoseconds since the Unix epoch
//! (UTC), a `timespan` is nanoseconds; both are truncated to Kusto's 100 ns tick.
//! The Arrow nanosecond range limits datetimes to years 1677–2262; values outside it do not
//! parse (Kusto itself accepts years 1–9999).

use crate::types::NANOS_PER_TICK;
use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};

pub const NANOS_PER_SECOND: i64 = 1_000_000_000;
pub const NANOS_PER_MINUTE: i64 = 60 * NANOS_PER_SECOND;
pub const NANOS_PER_HOUR: i64 = 60 * NANOS_PER_MINUTE;
pub const NANOS_PER_DAY: i64 = 24 * NANOS_PER_HOUR;

/// Truncates nanoseconds to a whole number of 100 ns ticks (toward zero, as .NET does).
pub fn truncate_to_tick(nanos: i64) -> i64 {
    nanos - nanos % NANOS_PER_TICK
}

// ---------------------------------------------------------------------------------------
// datetime
// ---------------------------------------------------------------------------------------

/// Prints a datetime as Kusto does in results: ISO 8601 UTC with a `Z`, and a fraction of a
/// second only when it is not zero, without trailing zeros:
/// `2017-01-01T00:00:00Z`, `2017-01-01T10:20:30.25Z`.
pub fn format_datetime(nanos: i64) -> String {
    let dt = DateTime::<Utc>::from_timestamp_nanos(nanos);
    let mut out = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    );
    push_fraction(&mut out, dt.nanosecond() as i64, true);
    out.push('Z');
    out
}

/// Appends `.fffffff` (ticks) for a sub-second nanosecond count; with `trim`, trailing zeros
/// are dropped and nothing is written for zero.
fn push_fraction(out: &mut String, sub_second_nanos: i64, trim: bool) {
    let ticks = sub_second_nanos / NANOS_PER_TICK;
    if ticks == 0 && trim {
        return;
    }
    let digits = format!("{ticks:07}");
    out.push('.');
    out.push_str(if trim { digits.trim_end_matches('0') } else { &digits });
}

/// Parses a datetime in any of the forms Kusto accepts in `datetime(…)` and `todatetime()`:
///
/// * ISO 8601: `2014-05-25T08:20:03.123456Z`, `2014-05-25 08:20`, `2014-05-25`, with an
///   optional `Z`/`UTC`/`GMT` or `+hh:mm` offset, fractions of up to 9 digits (Kusto keeps 7);
/// * RFC 822: `Sat, 8 Nov 14 15:05:02 GMT`, `8 Nov 2014 15:05`;
/// * RFC 850: `Saturday, 08-Nov-14 15:05:02 GMT`;
/// * the US form of Log Analytics portal exports: `5/1/2024, 3:04:05.123 PM`.
///
/// Returns nanoseconds since the epoch, or `None` when the text is not a datetime
/// (`todatetime` then yields null).
pub fn parse_datetime(text: &str) -> Option<i64> {
    let s = text.trim();
    if s.is_empty() {
        return None;
    }
    let mut c = Cursor::new(s);
    let parsed = if s.as_bytes()[0].is_ascii_digit() {
        parse_iso(&mut c)
            .or_else(|| {
                c = Cursor::new(s);
                parse_us(&mut c)
            })
            .or_else(|| {
                c = Cursor::new(s);
                parse_rfc(&mut c)
            })
    } else {
        parse_rfc(&mut c)
    }?;
    c.skip_ws();
    if !c.at_end() {
        return None;
    }
    Some(parsed)
}

/// A tiny byte cursor for the hand-written date parsers (no regex: this is on the ingest
/// hot path).
struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn new(s: &'a str) -> Self {
        Cursor { b: s.as_bytes(), i: 0 }
    }
    fn at_end(&self) -> bool {
        self.i >= self.b.len()
    }
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn eat(&mut self, ch: u8) -> bool {
        if self.peek() == Some(ch) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }
    /// Reads `min..=max` ASCII digits.
    fn digits(&mut self, min: usize, max: usize) -> Option<(u32, usize)> {
        let start = self.i;
        let mut v: u32 = 0;
        while self.i - start < max {
            match self.peek() {
                Some(d @ b'0'..=b'9') => {
                    v = v * 10 + (d - b'0') as u32;
                    self.i += 1;
                }
                _ => break,
            }
        }
        let n = self.i - start;
        if n < min {
            self.i = start;
            None
        } else {
            Some((v, n))
        }
    }
    fn word(&mut self) -> &'a str {
        let start = self.i;
        while self.peek().is_some_and(|b| b.is_ascii_alphabetic()) {
            self.i += 1;
        }
        std::str::from_utf8(&self.b[start..self.i]).unwrap_or("")
    }
}

/// `hh:mm[:ss[.fffffff]]` → nanoseconds since midnight.
fn parse_time_of_day(c: &mut Cursor) -> Option<i64> {
    let (h, _) = c.digits(1, 2)?;
    if !c.eat(b':') {
        return None;
    }
    let (m, _) = c.digits(2, 2)?;
    let mut s = 0;
    let mut frac = 0i64;
    if c.eat(b':') {
        s = c.digits(2, 2)?.0;
        if c.eat(b'.') || c.eat(b',') {
            frac = parse_fraction(c)?;
        }
    }
    if h > 23 || m > 59 || s > 59 {
        return None;
    }
    Some(h as i64 * NANOS_PER_HOUR + m as i64 * NANOS_PER_MINUTE + s as i64 * NANOS_PER_SECOND + frac)
}

/// Fractional seconds of 1–9 digits (more are accepted and ignored) → nanoseconds,
/// truncated to a tick.
fn parse_fraction(c: &mut Cursor) -> Option<i64> {
    let start = c.i;
    let mut nanos: i64 = 0;
    let mut n = 0;
    while let Some(d @ b'0'..=b'9') = c.peek() {
        if n < 9 {
            nanos = nanos * 10 + (d - b'0') as i64;
        }
        n += 1;
        c.i += 1;
    }
    if c.i == start {
        return None;
    }
    for _ in n..9 {
        nanos *= 10;
    }
    Some(truncate_to_tick(nanos))
}

/// Optional zone suffix: `Z`, `UTC`, `GMT`, `UT`, `+hh:mm`, `-hhmm`, `+hh` → offset in
/// nanoseconds east of UTC. No suffix means UTC (Kusto datetimes carry no zone).
fn parse_zone(c: &mut Cursor) -> Option<i64> {
    let save = c.i;
    c.skip_ws();
    match c.peek() {
        None => Some(0),
        Some(b'Z' | b'z') => {
            c.i += 1;
            Some(0)
        }
        Some(sign @ (b'+' | b'-')) => {
            c.i += 1;
            let (h, n) = c.digits(2, 4)?;
            let (hh, mm) = if n == 4 {
                (h / 100, h % 100)
            } else if n == 2 {
                let mm = if c.eat(b':') { c.digits(2, 2)?.0 } else { 0 };
                (h, mm)
            } else {
                return None;
            };
            if hh > 14 || mm > 59 {
                return None;
            }
            let off = hh as i64 * NANOS_PER_HOUR + mm as i64 * NANOS_PER_MINUTE;
            Some(if sign == b'+' { off } else { -off })
        }
        Some(b) if b.is_ascii_alphabetic() => {
            let w = c.word();
            if w.eq_ignore_ascii_case("gmt") || w.eq_ignore_ascii_case("utc") || w.eq_ignore_ascii_case("ut") {
                // "GMT+2" style is not documented; a bare zone name is.
                Some(0)
            } else {
                c.i = save;
                None
            }
        }
        _ => {
            c.i = save;
            Some(0)
        }
    }
}

fn to_nanos(year: i32, month: u32, day: u32, time_of_day: i64, offset: i64) -> Option<i64> {
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    let midnight = date.and_hms_opt(0, 0, 0)?.and_utc();
    let secs = midnight.timestamp();
    // Checked arithmetic: dates outside the Arrow nanosecond range must not overflow.
    secs.checked_mul(NANOS_PER_SECOND)?
        .checked_add(time_of_day)?
        .checked_sub(offset)
}

fn parse_iso(c: &mut Cursor) -> Option<i64> {
    let (year, n) = c.digits(4, 4)?;
    let _ = n;
    let sep = c.peek()?;
    if sep != b'-' && sep != b'/' {
        return None;
    }
    c.i += 1;
    let (month, _) = c.digits(1, 2)?;
    if !c.eat(sep) {
        return None;
    }
    let (day, _) = c.digits(1, 2)?;
    let mut tod = 0;
    let save = c.i;
    if c.eat(b'T') || c.eat(b't') || c.eat(b' ') {
        c.skip_ws();
        match parse_time_of_day(c) {
            Some(t) => tod = t,
            None => c.i = save,
        }
    }
    let offset = parse_zone(c)?;
    to_nanos(year as i32, month, day, tod, offset)
}

/// `M/D/YYYY[,] h:mm[:ss[.fff]] [AM|PM]` as the Log Analytics portal exports datetimes.
fn parse_us(c: &mut Cursor) -> Option<i64> {
    let (month, _) = c.digits(1, 2)?;
    if !c.eat(b'/') {
        return None;
    }
    let (day, _) = c.digits(1, 2)?;
    if !c.eat(b'/') {
        return None;
    }
    let (year, _) = c.digits(4, 4)?;
    c.eat(b',');
    c.skip_ws();
    let mut tod = 0;
    if !c.at_end() {
        tod = parse_time_of_day(c)?;
        c.skip_ws();
        let save = c.i;
        let w = c.word();
        let hour = tod / NANOS_PER_HOUR;
        if w.eq_ignore_ascii_case("pm") {
            if !(1..=12).contains(&hour) {
                return None;
            }
            if hour != 12 {
                tod += 12 * NANOS_PER_HOUR;
            }
        } else if w.eq_ignore_ascii_case("am") {
            if !(1..=12).contains(&hour) {
                return None;
            }
            if hour == 12 {
                tod -= 12 * NANOS_PER_HOUR;
            }
        } else {
            c.i = save;
        }
    }
    let offset = parse_zone(c)?;
    to_nanos(year as i32, month, day, tod, offset)
}

fn month_from_name(w: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    if w.len() < 3 {
        return None;
    }
    let lower = w.to_ascii_lowercase();
    let i = MONTHS.iter().position(|m| lower.starts_with(m))?;
    // Accept "Nov" and "November", not "Novx".
    const FULL: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    (lower.len() == 3 || FULL[i] == lower || (i == 8 && lower == "sept")).then_some(i as u32 + 1)
}

fn is_day_name(w: &str) -> bool {
    const DAYS: [&str; 7] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    let lower = w.to_ascii_lowercase();
    DAYS.iter()
        .any(|d| *d == lower || (lower.len() == 3 && d.starts_with(&lower)))
}

/// Two-digit years as .NET reads them (`TwoDigitYearMax` 2049).
fn expand_year(y: u32, digits: usize) -> i32 {
    if digits <= 2 {
        if y < 50 { 2000 + y as i32 } else { 1900 + y as i32 }
    } else {
        y as i32
    }
}

/// RFC 822 (`[Sat, ]8 Nov 14 15:05[:02] [GMT]`) and RFC 850
/// (`[Saturday, ]08-Nov-14 15:05[:02] [GMT]`).
fn parse_rfc(c: &mut Cursor) -> Option<i64> {
    c.skip_ws();
    if c.peek().is_some_and(|b| b.is_ascii_alphabetic()) {
        let w = c.word();
        if !is_day_name(w) {
            return None;
        }
        c.eat(b',');
        c.skip_ws();
    }
    let (day, _) = c.digits(1, 2)?;
    let dash = c.eat(b'-');
    if !dash {
        c.skip_ws();
    }
    let month = month_from_name(c.word())?;
    if dash {
        if !c.eat(b'-') {
            return None;
        }
    } else {
        c.skip_ws();
    }
    let (y, n) = c.digits(2, 4)?;
    if n == 3 {
        return None;
    }
    let year = expand_year(y, n);
    c.skip_ws();
    let tod = if c.at_end() { 0 } else { parse_time_of_day(c)? };
    let offset = parse_zone(c)?;
    to_nanos(year, month, day, tod, offset)
}

// ---------------------------------------------------------------------------------------
// timespan
// ---------------------------------------------------------------------------------------

/// Prints a timespan as Kusto does: `[-][d.]hh:mm:ss[.fffffff]` (the .NET "c" format, with
/// seven fraction digits when there is a fraction).
pub fn format_timespan(nanos: i64) -> String {
    let neg = nanos < 0;
    let abs = nanos.unsigned_abs() as i128;
    let days = abs / NANOS_PER_DAY as i128;
    let rem = abs % NANOS_PER_DAY as i128;
    let h = rem / NANOS_PER_HOUR as i128;
    let m = (rem % NANOS_PER_HOUR as i128) / NANOS_PER_MINUTE as i128;
    let s = (rem % NANOS_PER_MINUTE as i128) / NANOS_PER_SECOND as i128;
    let sub = (rem % NANOS_PER_SECOND as i128) as i64;
    let mut out = String::with_capacity(24);
    if neg {
        out.push('-');
    }
    if days > 0 {
        out.push_str(&format!("{days}."));
    }
    out.push_str(&format!("{h:02}:{m:02}:{s:02}"));
    if sub / NANOS_PER_TICK != 0 {
        push_fraction(&mut out, sub, false);
    }
    out
}

/// The length in nanoseconds of one timespan-literal unit (`d`, `h`, `m`, `s`, `ms`,
/// `microsecond`, `tick` and their documented long forms), case-insensitively.
pub fn timespan_unit_nanos(unit: &str) -> Option<i64> {
    Some(match unit.to_ascii_lowercase().as_str() {
        "d" | "day" | "days" => NANOS_PER_DAY,
        "h" | "hr" | "hrs" | "hour" | "hours" => NANOS_PER_HOUR,
        "m" | "min" | "mins" | "minute" | "minutes" => NANOS_PER_MINUTE,
        "s" | "sec" | "secs" | "second" | "seconds" => NANOS_PER_SECOND,
        "ms" | "milli" | "millis" | "millisec" | "millisecond" | "milliseconds" => 1_000_000,
        "microsec" | "microsecond" | "microseconds" => 1_000,
        "tick" | "ticks" => NANOS_PER_TICK,
        _ => return None,
    })
}

/// A timespan literal `<number><unit>` such as `5d`, `1.5h`, `10ms`, `1tick`, also with a
/// space as in `time(15 seconds)`. The number may be fractional; the result is truncated to
/// a tick.
pub fn parse_timespan_literal(text: &str) -> Option<i64> {
    let s = text.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest.trim_start()),
        None => (false, s),
    };
    let split = s.find(|ch: char| !(ch.is_ascii_digit() || ch == '.'))?;
    let (num, unit) = s.split_at(split);
    if num.is_empty() {
        return None;
    }
    let unit_nanos = timespan_unit_nanos(unit.trim())?;
    let nanos = scale_decimal(num, unit_nanos)?;
    Some(if neg { -nanos } else { nanos })
}

/// `num` (digits with at most one '.') times `unit` nanoseconds, exactly, truncated to a tick.
fn scale_decimal(num: &str, unit: i64) -> Option<i64> {
    let (int_part, frac_part) = match num.split_once('.') {
        Some((i, f)) => (i, f),
        None => (num, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    if !int_part.bytes().all(|b| b.is_ascii_digit()) || !frac_part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let int: i128 = if int_part.is_empty() { 0 } else { int_part.parse().ok()? };
    let mut total = int.checked_mul(unit as i128)?;
    // Fraction digits beyond 18 cannot change a nanosecond count of any unit we have.
    let frac_digits = &frac_part[..frac_part.len().min(18)];
    if !frac_digits.is_empty() {
        let f: i128 = frac_digits.parse().ok()?;
        let scale = 10i128.pow(frac_digits.len() as u32);
        total = total.checked_add(f * unit as i128 / scale)?;
    }
    let total = i64::try_from(total).ok()?;
    Some(truncate_to_tick(total))
}

/// Parses a timespan as `totimespan()` and `time(…)` do: `[-][d.]hh:mm[:ss[.fffffff]]`,
/// a bare number of days (`time(2)`), or a literal with a unit (`1.5h`, `15 seconds`).
pub fn parse_timespan(text: &str) -> Option<i64> {
    let s = text.trim();
    if s.is_empty() {
        return None;
    }
    if !s.contains(':') {
        if let Some(v) = parse_timespan_literal(s) {
            return Some(v);
        }
        // A bare number means days, as in .NET's TimeSpan.Parse("2").
        let (neg, digits) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let v = scale_decimal(digits, NANOS_PER_DAY)?;
        return Some(if neg { -v } else { v });
    }
    let (neg, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let mut c = Cursor::new(body);
    let (first, _) = c.digits(1, 8)?;
    let (days, hours) = if c.eat(b'.') {
        let (h, _) = c.digits(1, 2)?;
        (first as i64, h as i64)
    } else {
        (0, first as i64)
    };
    if !c.eat(b':') {
        return None;
    }
    let (m, _) = c.digits(1, 2)?;
    let mut secs = 0i64;
    let mut frac = 0i64;
    if c.eat(b':') {
        secs = c.digits(1, 2)?.0 as i64;
        if c.eat(b'.') {
            frac = parse_fraction(&mut c)?;
        }
    }
    if !c.at_end() || hours > 23 || m > 59 || secs > 59 {
        return None;
    }
    let total = (days as i128) * NANOS_PER_DAY as i128
        + hours as i128 * NANOS_PER_HOUR as i128
        + m as i128 * NANOS_PER_MINUTE as i128
        + secs as i128 * NANOS_PER_SECOND as i128
        + frac as i128;
    let total = i64::try_from(total).ok()?;
    Some(if neg { -total } else { total })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(s: &str) -> String {
        format_datetime(parse_datetime(s).unwrap_or_else(|| panic!("did not parse {s:?}")))
    }

    #[test]
    fn documented_iso_forms() {
        assert_eq!(dt("2014-05-25T08:20:03.123456Z"), "2014-05-25T08:20:03.123456Z");
        assert_eq!(dt("2014-05-25T08:20:03.123456"), "2014-05-25T08:20:03.123456Z");
        assert_eq!(dt("2014-05-25T08:20"), "2014-05-25T08:20:00Z");
        assert_eq!(dt("2014-11-08 15:55:55.123456Z"), "2014-11-08T15:55:55.123456Z");
        assert_eq!(dt("2014-11-08 15:55:55"), "2014-11-08T15:55:55Z");
        assert_eq!(dt("2014-11-08 15:55"), "2014-11-08T15:55:00Z");
        assert_eq!(dt("2014-11-08"), "2014-11-08T00:00:00Z");
        assert_eq!(dt("2015-12-31 23:59:59.9"), "2015-12-31T23:59:59.9Z");
    }

    #[test]
    fn export_forms_with_seven_digit_fractions_and_offsets() {
        assert_eq!(dt("2024-05-01T12:34:56.1234567Z"), "2024-05-01T12:34:56.1234567Z");
        // Digits beyond the tick are truncated, not rounded.
        assert_eq!(dt("2024-05-01T12:34:56.123456789Z"), "2024-05-01T12:34:56.1234567Z");
        assert_eq!(dt("2024-05-01T12:00:00+02:00"), "2024-05-01T10:00:00Z");
        assert_eq!(dt("2024-05-01T12:00:00-0130"), "2024-05-01T13:30:00Z");
        assert_eq!(dt("5/1/2024, 3:04:05.120 PM"), "2024-05-01T15:04:05.12Z");
        assert_eq!(dt("5/1/2024, 12:00:00 AM"), "2024-05-01T00:00:00Z");
        assert_eq!(dt("5/1/2024 13:00"), "2024-05-01T13:00:00Z");
    }

    #[test]
    fn documented_rfc_forms() {
        for s in [
            "Sat, 8 Nov 14 15:05:02 GMT",
            "Sat, 8 Nov 14 15:05:02",
            "8 Nov 14 15:05:02 GMT",
            "8 Nov 14 15:05:02",
            "Saturday, 08-Nov-14 15:05:02 GMT",
            "Saturday, 08-Nov-14 15:05:02",
            "08-Nov-14 15:05:02 GMT",
            "08-Nov-14 15:05:02",
        ] {
            assert_eq!(dt(s), "2014-11-08T15:05:02Z", "{s}");
        }
        for s in [
            "Sat, 8 Nov 14 15:05",
            "8 Nov 14 15:05 GMT",
            "Saturday, 08-Nov-14 15:05",
            "08-Nov-14 15:05 GMT",
        ] {
            assert_eq!(dt(s), "2014-11-08T15:05:00Z", "{s}");
        }
    }

    #[test]
    fn invalid_datetimes() {
        for s in [
            "",
            "hello",
            "2014-13-01",
            "2014-02-30",
            "2014-05-25T25:00",
            "2014-05-25 junk",
            "8 Foo 14 15:05",
            "9999999-01-01",
        ] {
            assert_eq!(parse_datetime(s), None, "{s:?}");
        }
        // Outside the Arrow nanosecond range.
        assert_eq!(parse_datetime("0001-01-01"), None);
    }

    #[test]
    fn timespan_formatting() {
        assert_eq!(format_timespan(0), "00:00:00");
        assert_eq!(
            format_timespan(NANOS_PER_DAY + 2 * NANOS_PER_HOUR + 3 * NANOS_PER_MINUTE + 4 * NANOS_PER_SECOND),
            "1.02:03:04"
        );
        assert_eq!(format_timespan(500_000_000), "00:00:00.5000000");
        assert_eq!(format_timespan(-90 * NANOS_PER_MINUTE), "-01:30:00");
        assert_eq!(format_timespan(100), "00:00:00.0000001");
        // The extremes must format without overflow.
        assert_eq!(format_timespan(i64::MIN), "-106751.23:47:16.8547758");
        assert_eq!(format_timespan(i64::MAX), "106751.23:47:16.8547758");
    }

    #[test]
    fn timespan_literals() {
        assert_eq!(parse_timespan_literal("5d"), Some(5 * NANOS_PER_DAY));
        assert_eq!(parse_timespan_literal("1.5h"), Some(90 * NANOS_PER_MINUTE));
        assert_eq!(parse_timespan_literal("10ms"), Some(10_000_000));
        assert_eq!(parse_timespan_literal("1tick"), Some(100));
        assert_eq!(parse_timespan_literal("10microsecond"), Some(10_000));
        assert_eq!(parse_timespan_literal("0.1s"), Some(100_000_000));
        assert_eq!(parse_timespan_literal("15 seconds"), Some(15 * NANOS_PER_SECOND));
        assert_eq!(parse_timespan_literal("30m"), Some(30 * NANOS_PER_MINUTE));
        assert_eq!(parse_timespan_literal("5x"), None);
        assert_eq!(parse_timespan_literal("d"), None);
    }

    #[test]
    fn timespan_text_forms() {
        assert_eq!(
            parse_timespan("0.12:34:56.7"),
            Some(12 * NANOS_PER_HOUR + 34 * NANOS_PER_MINUTE + 56 * NANOS_PER_SECOND + 700_000_000)
        );
        assert_eq!(parse_timespan("2"), Some(2 * NANOS_PER_DAY));
        assert_eq!(parse_timespan("00:01"), Some(NANOS_PER_MINUTE));
        assert_eq!(parse_timespan("-1.00:00:00"), Some(-NANOS_PER_DAY));
        assert_eq!(parse_timespan("1h"), Some(NANOS_PER_HOUR));
        assert_eq!(parse_timespan("24:00:00"), None);
        assert_eq!(parse_timespan("abc"), None);
        assert_eq!(parse_timespan(&format_timespan(123_456_789_000)), Some(123_456_789_000));
    }
}
