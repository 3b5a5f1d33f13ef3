//! Datetime and timespan functions: parts (`getyear`, `dayofweek`, `datetime_part`…),
//! calendar arithmetic (`datetime_add`, `datetime_diff`, `startof*`/`endof*` with
//! offsets), construction (`make_datetime`, `make_timespan`, `unixtime_*_todatetime`),
//! time zones (`datetime_utc_to_local`, `datetime_local_to_utc`, IANA names through
//! chrono-tz) and formatting (`format_datetime`, `format_timespan`).

use super::arg;
use crate::catalog::{FnDef, P, Param, p, row};
use crate::val::Val;
use chrono::{DateTime, Datelike, Duration, LocalResult, Months, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};
use datafusion::common::Result;
use schema::KqlType;
use schema::values::{NANOS_PER_DAY, NANOS_PER_HOUR, NANOS_PER_MINUTE, NANOS_PER_SECOND};

const TICK: i64 = 100;

fn dt(a: &[Val], i: usize) -> Option<i64> {
    match arg(a, i) {
        Val::DateTime(n) => Some(*n),
        Val::Str(s) => super::convert::parse_datetime_text(s),
        Val::Dyn(serde_json::Value::String(s)) => super::convert::parse_datetime_text(s),
        _ => None,
    }
}

pub fn naive(nanos: i64) -> NaiveDateTime {
    DateTime::<Utc>::from_timestamp_nanos(nanos).naive_utc()
}

pub fn nanos_of(n: NaiveDateTime) -> Option<i64> {
    n.and_utc().timestamp_nanos_opt()
}

fn date_nanos(d: NaiveDate) -> Option<i64> {
    nanos_of(d.and_hms_opt(0, 0, 0)?)
}

fn dtv(n: Option<i64>) -> Result<Val> {
    Ok(n.map(Val::DateTime).unwrap_or(Val::Null))
}

fn int_part(a: &[Val], f: fn(NaiveDateTime) -> i64) -> Result<Val> {
    Ok(dt(a, 0).map(|n| Val::Int(f(naive(n)) as i32)).unwrap_or(Val::Null))
}

const D: &[Param] = &[p("date", P::DateTime)];
const DO: &[Param] = &[p("date", P::DateTime), p("offset", P::Int)];

pub static DEFS: &[FnDef] = &[
    row("getyear", D, 1, KqlType::Int, |a| int_part(a, |d| d.year() as i64)),
    row("getmonth", D, 1, KqlType::Int, |a| int_part(a, |d| d.month() as i64)),
    row("monthofyear", D, 1, KqlType::Int, |a| int_part(a, |d| d.month() as i64)),
    row("dayofmonth", D, 1, KqlType::Int, |a| int_part(a, |d| d.day() as i64)),
    row("dayofyear", D, 1, KqlType::Int, |a| int_part(a, |d| d.ordinal() as i64)),
    row("hourofday", D, 1, KqlType::Int, |a| int_part(a, |d| d.hour() as i64)),
    row("week_of_year", D, 1, KqlType::Int, |a| {
        int_part(a, |d| d.iso_week().week() as i64)
    }),
    row("weekofyear", D, 1, KqlType::Int, |a| {
        int_part(a, |d| d.iso_week().week() as i64)
    }),
    row("dayofweek", D, 1, KqlType::TimeSpan, |a| {
        Ok(dt(a, 0)
            .map(|n| Val::TimeSpan(naive(n).weekday().num_days_from_sunday() as i64 * NANOS_PER_DAY))
            .unwrap_or(Val::Null))
    }),
    row("startofday", DO, 1, KqlType::DateTime, |a| dtv(start_of(a, Unit::Day))),
    row("startofweek", DO, 1, KqlType::DateTime, |a| {
        dtv(start_of(a, Unit::Week))
    }),
    row("startofmonth", DO, 1, KqlType::DateTime, |a| {
        dtv(start_of(a, Unit::Month))
    }),
    row("startofyear", DO, 1, KqlType::DateTime, |a| {
        dtv(start_of(a, Unit::Year))
    }),
    row("endofday", DO, 1, KqlType::DateTime, |a| dtv(end_of(a, Unit::Day))),
    row("endofweek", DO, 1, KqlType::DateTime, |a| dtv(end_of(a, Unit::Week))),
    row("endofmonth", DO, 1, KqlType::DateTime, |a| dtv(end_of(a, Unit::Month))),
    row("endofyear", DO, 1, KqlType::DateTime, |a| dtv(end_of(a, Unit::Year))),
    row(
        "datetime_add",
        &[p("period", P::Str), p("amount", P::Int), p("datetime", P::DateTime)],
        3,
        KqlType::DateTime,
        |a| {
            let (Some(unit), Some(n), Some(d)) = (Unit::parse(&arg(a, 0).to_kstring()), arg(a, 1).as_i64(), dt(a, 2))
            else {
                return Ok(Val::Null);
            };
            dtv(add(d, unit, n))
        },
    ),
    row(
        "datetime_diff",
        &[
            p("period", P::Str),
            p("datetime1", P::DateTime),
            p("datetime2", P::DateTime),
        ],
        3,
        KqlType::Long,
        |a| {
            let (Some(unit), Some(d1), Some(d2)) = (Unit::parse(&arg(a, 0).to_kstring()), dt(a, 1), dt(a, 2)) else {
                return Ok(Val::Null);
            };
            Ok(diff(unit, d1, d2).map(Val::Long).unwrap_or(Val::Null))
        },
    ),
    row(
        "datetime_part",
        &[p("part", P::Str), p("datetime", P::DateTime)],
        2,
        KqlType::Int,
        |a| {
            let (Some(d), part) = (dt(a, 1), arg(a, 0).to_kstring().to_ascii_lowercase()) else {
                return Ok(Val::Null);
            };
            let n = naive(d);
            let sub = d.rem_euclid(NANOS_PER_SECOND);
            let v = match part.as_str() {
                "year" => n.year() as i64,
                "quarter" => (n.month() as i64 - 1) / 3 + 1,
                "month" => n.month() as i64,
                "week_of_year" | "weekofyear" | "week" => n.iso_week().week() as i64,
                "day" => n.day() as i64,
                "dayofyear" => n.ordinal() as i64,
                "hour" => n.hour() as i64,
                "minute" => n.minute() as i64,
                "second" => n.second() as i64,
                "millisecond" => sub / 1_000_000,
                "microsecond" => sub / 1_000,
                "nanosecond" => sub,
                _ => return Ok(Val::Null),
            };
            Ok(Val::Int(v as i32))
        },
    ),
    row(
        "make_datetime",
        &[
            p("year", P::Int),
            p("month", P::Int),
            p("day", P::Int),
            p("hour", P::Int),
            p("minute", P::Int),
            p("second", P::Num),
        ],
        3,
        KqlType::DateTime,
        |a| {
            let int = |i| arg(a, i).as_i64().and_then(|x| u32::try_from(x).ok());
            let (Some(y), Some(m), Some(d)) = (arg(a, 0).as_i64(), int(1), int(2)) else {
                return Ok(Val::Null);
            };
            let h = if a.len() > 3 { int(3) } else { Some(0) };
            let mi = if a.len() > 4 { int(4) } else { Some(0) };
            let s = if a.len() > 5 { arg(a, 5).as_f64() } else { Some(0.0) };
            let (Some(h), Some(mi), Some(s)) = (h, mi, s) else {
                return Ok(Val::Null);
            };
            if !(0.0..60.0).contains(&s) {
                return Ok(Val::Null);
            }
            let base = NaiveDate::from_ymd_opt(y as i32, m, d)
                .and_then(|d| d.and_hms_opt(h, mi, 0))
                .and_then(nanos_of);
            dtv(base.and_then(|b| b.checked_add(((s * 1e7).round() as i64) * TICK)))
        },
    ),
    row(
        "make_timespan",
        &[
            p("day", P::Num),
            p("hour", P::Num),
            p("minute", P::Num),
            p("second", P::Num),
        ],
        2,
        KqlType::TimeSpan,
        |a| {
            let vals: Vec<Option<f64>> = a.iter().map(Val::as_f64).collect();
            if vals.iter().any(Option::is_none) {
                return Ok(Val::Null);
            }
            let v: Vec<f64> = vals.into_iter().flatten().collect();
            let (d, h, m, s) = match v.as_slice() {
                [h, m] => (0.0, *h, *m, 0.0),
                [h, m, s] => (0.0, *h, *m, *s),
                [d, h, m, s] => (*d, *h, *m, *s),
                _ => return Ok(Val::Null),
            };
            let ticks = ((d * 86400.0 + h * 3600.0 + m * 60.0 + s) * 1e7).round();
            Ok(crate::val::real_to_i64(ticks)
                .and_then(|t| t.checked_mul(TICK))
                .map(Val::TimeSpan)
                .unwrap_or(Val::Null))
        },
    ),
    row(
        "unixtime_seconds_todatetime",
        &[p("seconds", P::Num)],
        1,
        KqlType::DateTime,
        |a| unix(a, 1e9),
    ),
    row(
        "unixtime_milliseconds_todatetime",
        &[p("milliseconds", P::Num)],
        1,
        KqlType::DateTime,
        |a| unix(a, 1e6),
    ),
    row(
        "unixtime_microseconds_todatetime",
        &[p("microseconds", P::Num)],
        1,
        KqlType::DateTime,
        |a| unix(a, 1e3),
    ),
    row(
        "unixtime_nanoseconds_todatetime",
        &[p("nanoseconds", P::Num)],
        1,
        KqlType::DateTime,
        |a| unix(a, 1.0),
    ),
    row(
        "datetime_utc_to_local",
        &[p("from", P::DateTime), p("timezone", P::Str)],
        2,
        KqlType::DateTime,
        |a| {
            let (Some(d), Some(tz)) = (dt(a, 0), zone(a, 1)?) else {
                return Ok(Val::Null);
            };
            dtv(utc_to_local(d, tz))
        },
    ),
    row(
        "datetime_local_to_utc",
        &[p("from", P::DateTime), p("timezone", P::Str)],
        2,
        KqlType::DateTime,
        |a| {
            let (Some(d), Some(tz)) = (dt(a, 0), zone(a, 1)?) else {
                return Ok(Val::Null);
            };
            dtv(local_to_utc(d, tz))
        },
    ),
    row(
        "format_datetime",
        &[p("date", P::DateTime), p("format", P::Str)],
        2,
        KqlType::String,
        |a| {
            Ok(Val::Str(
                dt(a, 0)
                    .map(|d| super::dtformat::format_datetime(d, &arg(a, 1).to_kstring()))
                    .unwrap_or_default(),
            ))
        },
    ),
    row(
        "format_timespan",
        &[p("timespan", P::TimeSpan), p("format", P::Str)],
        2,
        KqlType::String,
        |a| {
            let ts = match arg(a, 0) {
                Val::TimeSpan(t) => Some(*t),
                other => super::convert::to_timespan(other),
            };
            Ok(Val::Str(
                ts.map(|t| super::dtformat::format_timespan(t, &arg(a, 1).to_kstring()))
                    .unwrap_or_default(),
            ))
        },
    ),
];

fn unix(a: &[Val], nanos_per_unit: f64) -> Result<Val> {
    Ok(match arg(a, 0) {
        Val::Int(_) | Val::Long(_) => arg(a, 0)
            .as_i64()
            .and_then(|x| x.checked_mul(nanos_per_unit as i64))
            .and_then(|n| n.div_euclid(TICK).checked_mul(TICK))
            .map(Val::DateTime)
            .unwrap_or(Val::Null),
        other => match other.as_f64() {
            Some(x) => {
                let n = (x * nanos_per_unit / TICK as f64).floor();
                crate::val::real_to_i64(n)
                    .and_then(|t| t.checked_mul(TICK))
                    .map(Val::DateTime)
                    .unwrap_or(Val::Null)
            }
            None => Val::Null,
        },
    })
}

fn zone(a: &[Val], i: usize) -> Result<Option<chrono_tz::Tz>> {
    let name = arg(a, i).to_kstring();
    match name.trim().parse::<chrono_tz::Tz>() {
        Ok(tz) => Ok(Some(tz)),
        Err(_) => Err(datafusion::common::DataFusionError::Execution(format!(
            "'{name}' is not a supported time zone (use an IANA name such as 'Europe/Paris')"
        ))),
    }
}

fn utc_to_local(d: i64, tz: chrono_tz::Tz) -> Option<i64> {
    let utc = DateTime::<Utc>::from_timestamp_nanos(d);
    nanos_of(utc.with_timezone(&tz).naive_local())
}

/// A local time to UTC. An ambiguous time (clocks going back) takes the earlier instant;
/// a time in a gap (clocks going forward) takes the offset in force after the transition,
/// as Kusto does (`2022-03-27 02:00` Brussels is `00:00` UTC).
fn local_to_utc(d: i64, tz: chrono_tz::Tz) -> Option<i64> {
    let local = naive(d);
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.timestamp_nanos_opt(),
        LocalResult::Ambiguous(a, b) => a.min(b).timestamp_nanos_opt(),
        LocalResult::None => {
            use chrono::Offset;
            let before = tz.offset_from_utc_datetime(&(local - Duration::days(1))).fix();
            let guess = local - Duration::seconds(before.local_minus_utc() as i64);
            let after = tz.offset_from_utc_datetime(&guess).fix();
            nanos_of(local - Duration::seconds(after.local_minus_utc() as i64))
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Year,
    Quarter,
    Month,
    Week,
    Day,
    Hour,
    Minute,
    Second,
    Millisecond,
    Microsecond,
    Nanosecond,
}

impl Unit {
    pub fn parse(s: &str) -> Option<Unit> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "year" | "years" | "yy" | "yyyy" => Unit::Year,
            "quarter" | "quarters" | "qq" | "q" => Unit::Quarter,
            "month" | "months" | "mm" | "m" => Unit::Month,
            "week" | "weeks" | "wk" | "ww" => Unit::Week,
            "day" | "days" | "dd" | "d" => Unit::Day,
            "hour" | "hours" | "hh" => Unit::Hour,
            "minute" | "minutes" | "mi" | "n" => Unit::Minute,
            "second" | "seconds" | "ss" | "s" => Unit::Second,
            "millisecond" | "milliseconds" | "ms" => Unit::Millisecond,
            "microsecond" | "microseconds" | "mcs" => Unit::Microsecond,
            "nanosecond" | "nanoseconds" | "ns" => Unit::Nanosecond,
            _ => return None,
        })
    }

    fn fixed_nanos(self) -> Option<i64> {
        Some(match self {
            Unit::Week => 7 * NANOS_PER_DAY,
            Unit::Day => NANOS_PER_DAY,
            Unit::Hour => NANOS_PER_HOUR,
            Unit::Minute => NANOS_PER_MINUTE,
            Unit::Second => NANOS_PER_SECOND,
            Unit::Millisecond => 1_000_000,
            Unit::Microsecond => 1_000,
            Unit::Nanosecond => 1,
            _ => return None,
        })
    }
}

fn add_months(d: i64, months: i64) -> Option<i64> {
    let n = naive(d);
    let m = Months::new(u32::try_from(months.unsigned_abs()).ok()?);
    let r = if months >= 0 {
        n.checked_add_months(m)?
    } else {
        n.checked_sub_months(m)?
    };
    nanos_of(r)
}

pub fn add(d: i64, unit: Unit, n: i64) -> Option<i64> {
    match unit {
        Unit::Year => add_months(d, n.checked_mul(12)?),
        Unit::Quarter => add_months(d, n.checked_mul(3)?),
        Unit::Month => add_months(d, n),
        other => d.checked_add(n.checked_mul(other.fixed_nanos()?)?),
    }
}

/// The start of `d`'s day/week (Sunday)/month/year.
fn floor_unit(d: i64, unit: Unit) -> Option<i64> {
    let n = naive(d);
    let date = n.date();
    let start = match unit {
        Unit::Year => NaiveDate::from_ymd_opt(date.year(), 1, 1)?,
        Unit::Quarter => NaiveDate::from_ymd_opt(date.year(), (date.month() - 1) / 3 * 3 + 1, 1)?,
        Unit::Month => NaiveDate::from_ymd_opt(date.year(), date.month(), 1)?,
        Unit::Week => date - Duration::days(date.weekday().num_days_from_sunday() as i64),
        Unit::Day => date,
        other => {
            let u = other.fixed_nanos()?;
            return d.div_euclid(u).checked_mul(u);
        }
    };
    date_nanos(start)
}

fn start_of(a: &[Val], unit: Unit) -> Option<i64> {
    let d = dt(a, 0)?;
    let offset = match arg(a, 1) {
        Val::Null => 0,
        v => v.as_i64()?,
    };
    add(floor_unit(d, unit)?, unit, offset)
}

fn end_of(a: &[Val], unit: Unit) -> Option<i64> {
    let start = start_of(a, unit)?;
    Some(add(start, unit, 1)? - TICK)
}

/// `datetime_diff`: the number of unit boundaries between the two datetimes.
pub fn diff(unit: Unit, d1: i64, d2: i64) -> Option<i64> {
    let (a, b) = (naive(d1), naive(d2));
    Some(match unit {
        Unit::Year => (a.year() - b.year()) as i64,
        Unit::Quarter => {
            let q = |n: NaiveDateTime| n.year() as i64 * 4 + (n.month() as i64 - 1) / 3;
            q(a) - q(b)
        }
        Unit::Month => {
            let m = |n: NaiveDateTime| n.year() as i64 * 12 + n.month() as i64;
            m(a) - m(b)
        }
        Unit::Week => (floor_unit(d1, Unit::Week)? - floor_unit(d2, Unit::Week)?) / (7 * NANOS_PER_DAY),
        other => {
            let u = other.fixed_nanos()?;
            d1.div_euclid(u) - d2.div_euclid(u)
        }
    })
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
    fn parts() {
        assert_eq!(call("getyear", vec![d("2015-10-12")]), "2015");
        assert_eq!(call("monthofyear", vec![d("2015-12-14")]), "12");
        assert_eq!(call("hourofday", vec![d("2015-12-14 18:54")]), "18");
        assert_eq!(call("dayofweek", vec![d("1947-11-30 10:00:05")]), "00:00:00");
        assert_eq!(call("dayofweek", vec![d("1970-05-11")]), "1.00:00:00");
        assert_eq!(call("week_of_year", vec![d("2020-12-31")]), "53");
        assert_eq!(call("week_of_year", vec![d("2000-01-01")]), "52");
        assert_eq!(call("week_of_year", vec![d("1970-01-01")]), "1");
        assert_eq!(call("dayofyear", vec![d("2015-12-14")]), "348");
        let t = d("2017-10-30 01:02:03.7654321");
        assert_eq!(call("datetime_part", vec![st("Quarter"), t.clone()]), "4");
        assert_eq!(call("datetime_part", vec![st("week_of_year"), t.clone()]), "44");
        assert_eq!(call("datetime_part", vec![st("Millisecond"), t.clone()]), "765");
        assert_eq!(call("datetime_part", vec![st("Microsecond"), t.clone()]), "765432");
        assert_eq!(call("datetime_part", vec![st("Nanosecond"), t]), "765432100");
    }

    #[test]
    fn start_and_end_with_offsets() {
        let x = || d("2017-01-01 10:10:17");
        assert_eq!(call("startofweek", vec![x(), lit::long(-1)]), "2016-12-25T00:00:00Z");
        assert_eq!(call("startofweek", vec![x()]), "2017-01-01T00:00:00Z");
        assert_eq!(
            call("endofweek", vec![x(), lit::long(1)]),
            "2017-01-14T23:59:59.9999999Z"
        );
        assert_eq!(call("startofmonth", vec![x(), lit::long(-1)]), "2016-12-01T00:00:00Z");
        assert_eq!(
            call("endofmonth", vec![x(), lit::long(1)]),
            "2017-02-28T23:59:59.9999999Z"
        );
        assert_eq!(call("startofyear", vec![x(), lit::long(1)]), "2018-01-01T00:00:00Z");
        assert_eq!(call("endofyear", vec![x()]), "2017-12-31T23:59:59.9999999Z");
        assert_eq!(
            call("endofday", vec![x(), lit::long(-1)]),
            "2016-12-31T23:59:59.9999999Z"
        );
        assert_eq!(call("startofday", vec![x()]), "2017-01-01T00:00:00Z");
    }

    #[test]
    fn add_and_diff() {
        let base = || call_dt("make_datetime", vec![lit::long(2017), lit::long(1), lit::long(1)]);
        assert_eq!(
            call("datetime_add", vec![st("year"), lit::long(-5), base()]),
            "2012-01-01T00:00:00Z"
        );
        assert_eq!(
            call("datetime_add", vec![st("quarter"), lit::long(12), base()]),
            "2020-01-01T00:00:00Z"
        );
        assert_eq!(
            call("datetime_add", vec![st("month"), lit::long(-15), base()]),
            "2015-10-01T00:00:00Z"
        );
        assert_eq!(
            call("datetime_add", vec![st("week"), lit::long(100), base()]),
            "2018-12-02T00:00:00Z"
        );
        assert_eq!(
            call("datetime_add", vec![st("month"), lit::long(1), d("2017-01-31")]),
            "2017-02-28T00:00:00Z"
        );
        let cases = [
            ("year", "2017-01-01", "2000-12-31", "17"),
            ("quarter", "2017-07-01", "2017-03-30", "2"),
            ("month", "2017-01-01", "2015-12-30", "13"),
            ("week", "2017-10-29 00:00", "2017-09-30 23:59", "5"),
            ("day", "2017-10-29 00:00", "2017-09-30 23:59", "29"),
            ("hour", "2017-10-31 01:00", "2017-10-30 23:59", "2"),
            ("minute", "2017-10-30 23:05:01", "2017-10-30 23:00:59", "5"),
            ("second", "2017-10-30 23:00:10.100", "2017-10-30 23:00:00.900", "10"),
            (
                "millisecond",
                "2017-10-30 23:00:00.200100",
                "2017-10-30 23:00:00.100900",
                "100",
            ),
            (
                "microsecond",
                "2017-10-30 23:00:00.1009001",
                "2017-10-30 23:00:00.1008009",
                "100",
            ),
            (
                "nanosecond",
                "2017-10-30 23:00:00.0000000",
                "2017-10-30 23:00:00.0000007",
                "-700",
            ),
        ];
        for (unit, a, b, want) in cases {
            assert_eq!(call("datetime_diff", vec![st(unit), d(a), d(b)]), want, "{unit}");
        }
    }

    fn call_dt(name: &str, args: Vec<crate::api::TypedExpr>) -> crate::api::TypedExpr {
        crate::lower_call(
            name,
            args.into_iter().map(crate::Arg::positional).collect(),
            &crate::testkit::ctx(),
        )
        .unwrap()
    }

    #[test]
    fn construction() {
        assert_eq!(
            call("make_datetime", vec![lit::long(2017), lit::long(10), lit::long(1)]),
            "2017-10-01T00:00:00Z"
        );
        assert_eq!(
            call(
                "make_datetime",
                vec![
                    lit::long(2017),
                    lit::long(10),
                    lit::long(1),
                    lit::long(12),
                    lit::long(11),
                    lit::real(0.1234567)
                ]
            ),
            "2017-10-01T12:11:00.1234567Z"
        );
        assert_eq!(
            call("make_datetime", vec![lit::long(2017), lit::long(13), lit::long(1)]),
            ""
        );
        assert_eq!(
            call(
                "make_timespan",
                vec![lit::long(1), lit::long(12), lit::long(30), lit::real(55.123)]
            ),
            "1.12:30:55.1230000"
        );
        assert_eq!(call("make_timespan", vec![lit::long(12), lit::long(30)]), "12:30:00");
        assert_eq!(
            call("unixtime_microseconds_todatetime", vec![lit::long(1546300800000000)]),
            "2019-01-01T00:00:00Z"
        );
        assert_eq!(
            call("unixtime_seconds_todatetime", vec![lit::real(1546300800.5)]),
            "2019-01-01T00:00:00.5Z"
        );
        assert_eq!(
            call("unixtime_nanoseconds_todatetime", vec![lit::long(1546300800000000123)]),
            "2019-01-01T00:00:00.0000001Z"
        );
    }

    #[test]
    fn time_zones() {
        let x = || d("2020-02-02 20:02:20");
        assert_eq!(
            call("datetime_local_to_utc", vec![x(), st("Europe/Paris")]),
            "2020-02-02T19:02:20Z"
        );
        assert_eq!(
            call("datetime_local_to_utc", vec![x(), st("America/Chicago")]),
            "2020-02-03T02:02:20Z"
        );
        assert_eq!(
            call("datetime_local_to_utc", vec![x(), st("US/Pacific")]),
            "2020-02-03T04:02:20Z"
        );
        assert_eq!(
            call(
                "datetime_local_to_utc",
                vec![d("2022-03-27 02:00"), st("Europe/Brussels")]
            ),
            "2022-03-27T00:00:00Z"
        );
        assert_eq!(
            call(
                "datetime_local_to_utc",
                vec![d("2022-03-27 03:00"), st("Europe/Brussels")]
            ),
            "2022-03-27T01:00:00Z"
        );
        assert_eq!(
            call(
                "datetime_utc_to_local",
                vec![d("2022-07-11 22:18:48"), st("Australia/Canberra")]
            ),
            "2022-07-12T08:18:48Z"
        );
        assert_eq!(
            call(
                "datetime_utc_to_local",
                vec![d("2022-07-11 22:18:48"), st("US/Pacific")]
            ),
            "2022-07-11T15:18:48Z"
        );
    }
}
