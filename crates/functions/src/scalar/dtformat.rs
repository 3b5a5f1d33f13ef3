//! `format_datetime` and `format_timespan`: Kusto's (.NET-style) format specifiers
//! (`yyyy`, `MM`, `dd`, `HH`, `hh`, `mm`, `ss`, `f…`/`F…` fractions, `tt`, `MMM`…); any
//! other character is copied as a delimiter.

use super::datetime::naive;
use chrono::{Datelike, Timelike};
use schema::values::{NANOS_PER_DAY, NANOS_PER_HOUR, NANOS_PER_MINUTE, NANOS_PER_SECOND};

const TICK: i64 = 100;

/// Splits a format string into runs of the same letter and literal text.
fn tokens(fmt: &str) -> Vec<(char, usize)> {
    let mut out: Vec<(char, usize)> = Vec::new();
    for c in fmt.chars() {
        match out.last_mut() {
            Some((last, n)) if *last == c && c.is_ascii_alphabetic() => *n += 1,
            _ => out.push((c, 1)),
        }
    }
    out
}

/// `n` fraction digits of sub-second ticks; `trim` drops trailing zeros (the `F` forms).
fn fraction(ticks: i64, n: usize, trim: bool) -> String {
    let digits = format!("{ticks:07}");
    let s = &digits[..n.min(7)];
    if trim {
        s.trim_end_matches('0').to_string()
    } else {
        s.to_string()
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

pub fn format_datetime(d: i64, fmt: &str) -> String {
    let n = naive(d);
    let ticks = d.rem_euclid(NANOS_PER_SECOND) / TICK;
    let mut out = String::new();
    for (c, k) in tokens(fmt) {
        let h12 = match n.hour() % 12 {
            0 => 12,
            h => h,
        };
        match c {
            'd' if k == 1 => out.push_str(&n.day().to_string()),
            'd' if k == 2 => out.push_str(&format!("{:02}", n.day())),
            'd' if k == 3 => out.push_str(&DAYS[n.weekday().num_days_from_sunday() as usize][..3]),
            'd' => out.push_str(DAYS[n.weekday().num_days_from_sunday() as usize]),
            'f' => out.push_str(&fraction(ticks, k, false)),
            'F' => out.push_str(&fraction(ticks, k, true)),
            'h' if k == 1 => out.push_str(&h12.to_string()),
            'h' => out.push_str(&format!("{h12:02}")),
            'H' if k == 1 => out.push_str(&n.hour().to_string()),
            'H' => out.push_str(&format!("{:02}", n.hour())),
            'm' if k == 1 => out.push_str(&n.minute().to_string()),
            'm' => out.push_str(&format!("{:02}", n.minute())),
            'M' if k == 1 => out.push_str(&n.month().to_string()),
            'M' if k == 2 => out.push_str(&format!("{:02}", n.month())),
            'M' if k == 3 => out.push_str(&MONTHS[n.month0() as usize][..3]),
            'M' => out.push_str(MONTHS[n.month0() as usize]),
            's' if k == 1 => out.push_str(&n.second().to_string()),
            's' => out.push_str(&format!("{:02}", n.second())),
            'y' if k == 1 => out.push_str(&(n.year() % 100).to_string()),
            'y' if k == 2 => out.push_str(&format!("{:02}", n.year() % 100)),
            'y' => out.push_str(&format!("{:0width$}", n.year(), width = k)),
            't' if k == 1 => out.push(if n.hour() < 12 { 'A' } else { 'P' }),
            't' => out.push_str(if n.hour() < 12 { "AM" } else { "PM" }),
            other => out.extend(std::iter::repeat_n(other, k)),
        }
    }
    out
}

pub fn format_timespan(t: i64, fmt: &str) -> String {
    let neg = t < 0;
    let abs = t.unsigned_abs() as i128;
    let days = abs / NANOS_PER_DAY as i128;
    let rem = abs % NANOS_PER_DAY as i128;
    let h = rem / NANOS_PER_HOUR as i128;
    let m = rem % NANOS_PER_HOUR as i128 / NANOS_PER_MINUTE as i128;
    let s = rem % NANOS_PER_MINUTE as i128 / NANOS_PER_SECOND as i128;
    let ticks = (rem % NANOS_PER_SECOND as i128 / TICK as i128) as i64;
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    for (c, k) in tokens(fmt) {
        match c {
            'd' => out.push_str(&format!("{days:0k$}")),
            'f' => out.push_str(&fraction(ticks, k, false)),
            'F' => out.push_str(&fraction(ticks, k, true)),
            'h' | 'H' if k == 1 => out.push_str(&h.to_string()),
            'h' | 'H' => out.push_str(&format!("{h:02}")),
            'm' if k == 1 => out.push_str(&m.to_string()),
            'm' => out.push_str(&format!("{m:02}")),
            's' if k == 1 => out.push_str(&s.to_string()),
            's' => out.push_str(&format!("{s:02}")),
            other => out.extend(std::iter::repeat_n(other, k)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::lit;
    use crate::testkit::call;

    fn d(s: &str) -> crate::api::TypedExpr {
        lit::datetime_text(s).unwrap_or_else(|| panic!("{s}"))
    }
    fn st(s: &str) -> crate::api::TypedExpr {
        lit::string(s)
    }

    #[test]
    fn formatting() {
        let x = || d("2017-01-29 09:00:05");
        assert_eq!(
            call("format_datetime", vec![x(), st("yy-MM-dd [HH:mm:ss]")]),
            "17-01-29 [09:00:05]"
        );
        assert_eq!(
            call("format_datetime", vec![x(), st("yyyy-M-dd [H:mm:ss]")]),
            "2017-1-29 [9:00:05]"
        );
        assert_eq!(
            call("format_datetime", vec![x(), st("yy-MM-dd [hh:mm:ss tt]")]),
            "17-01-29 [09:00:05 AM]"
        );
        let f = || d("2009-06-15T13:45:30.6175425");
        assert_eq!(call("format_datetime", vec![f(), st("fff")]), "617");
        assert_eq!(
            call("format_datetime", vec![d("2009-06-15T13:45:30.0001150"), st("FFFFFFF")]),
            "000115"
        );
        assert_eq!(call("format_datetime", vec![d("2009-06-15T13:45:30.05"), st("F")]), "");
        let t = lit::timespan(29 * 86_400_000_000_000 + 9 * 3_600_000_000_000 + 5_123_450_000);
        assert_eq!(
            call("format_timespan", vec![t.clone(), st("dd.hh:mm:ss:FF")]),
            "29.09:00:05:12"
        );
        assert_eq!(
            call("format_timespan", vec![t, st("ddd.h:mm:ss [fffffff]")]),
            "029.9:00:05 [1234500]"
        );
    }
}
