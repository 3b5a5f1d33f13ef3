//! IPv4 and IPv6 functions. Addresses may carry a prefix (`192.168.1.1/24`); comparisons
//! use the shortest of the prefixes involved. IPv4 addresses compare with IPv6 ones as
//! IPv4-mapped addresses (`::ffff:a.b.c.d`).

use super::arg;
use crate::catalog::{FnDef, P, Param, p, row, row_var};
use crate::udf::Ret;
use crate::val::{Val, json_to_val};
use datafusion::common::Result;
use schema::KqlType;
use serde_json::Value as Json;
use std::net::{Ipv4Addr, Ipv6Addr};

/// An IPv4 address with its prefix length (32 when none is given).
pub fn parse_v4(s: &str) -> Option<(u32, u32)> {
    let t = s.trim();
    let (addr, prefix) = match t.split_once('/') {
        Some((a, p)) => (a, p.trim().parse::<u32>().ok().filter(|p| *p <= 32)?),
        None => (t, 32),
    };
    let ip: Ipv4Addr = addr.trim().parse().ok()?;
    Some((u32::from(ip), prefix))
}

fn mask4(prefix: u32) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix.min(32))
    }
}

/// An IPv6 (or IPv4, mapped) address with its prefix length over 128 bits.
pub fn parse_v6(s: &str) -> Option<(u128, u32)> {
    if let Some((v4, p)) = parse_v4(s) {
        let mapped = Ipv4Addr::from(v4).to_ipv6_mapped();
        return Some((u128::from(mapped), 96 + p));
    }
    let t = s.trim();
    let (addr, prefix) = match t.split_once('/') {
        Some((a, p)) => (a, p.trim().parse::<u32>().ok().filter(|p| *p <= 128)?),
        None => (t, 128),
    };
    let ip: Ipv6Addr = addr.trim().parse().ok()?;
    let mut value = u128::from(ip);
    let mut prefix = prefix;
    // An embedded dotted IPv4 address (`::192.168.1.1/24`) is read as IPv4-mapped, and
    // its prefix counts IPv4 bits, as Kusto does.
    if addr.contains('.') {
        if value >> 32 == 0 {
            value |= 0xffff << 32;
        }
        if t.contains('/') {
            prefix = (96 + prefix).min(128);
        }
    }
    Some((value, prefix))
}

fn mask6(prefix: u32) -> u128 {
    if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - prefix.min(128))
    }
}

fn text(a: &[Val], i: usize) -> String {
    arg(a, i).to_kstring()
}

/// An optional prefix argument; `Err` when it is given but invalid.
fn prefix_arg(a: &[Val], i: usize, max: u32) -> std::result::Result<Option<u32>, ()> {
    match arg(a, i) {
        Val::Null => Ok(None),
        v => match v.as_i64() {
            Some(p) if (0..=max as i64).contains(&p) => Ok(Some(p as u32)),
            _ => Err(()),
        },
    }
}

fn cmp4(a: &[Val]) -> Option<std::cmp::Ordering> {
    let (x, px) = parse_v4(&text(a, 0))?;
    let (y, py) = parse_v4(&text(a, 1))?;
    let p = prefix_arg(a, 2, 32).ok()?.unwrap_or(32).min(px).min(py);
    let m = mask4(p);
    Some((x & m).cmp(&(y & m)))
}

fn cmp6(a: &[Val]) -> Option<std::cmp::Ordering> {
    let (x, px) = parse_v6(&text(a, 0))?;
    let (y, py) = parse_v6(&text(a, 1))?;
    let p = prefix_arg(a, 2, 128).ok()?.unwrap_or(128).min(px).min(py);
    let m = mask6(p);
    Some((x & m).cmp(&(y & m)))
}

fn ord_val(o: Option<std::cmp::Ordering>) -> Result<Val> {
    Ok(o.map(|o| Val::Long(o as i64)).unwrap_or(Val::Null))
}

fn in_range4(ip: &str, range: &str) -> Option<bool> {
    let (x, _) = parse_v4(ip)?;
    let (r, p) = parse_v4(range)?;
    let m = mask4(p);
    Some(x & m == r & m)
}

fn in_range6(ip: &str, range: &str) -> Option<bool> {
    let (x, _) = parse_v6(ip)?;
    let (r, p) = parse_v6(range)?;
    let m = mask6(p);
    Some(x & m == r & m)
}

/// The string arguments from `from` on, with dynamic arrays expanded.
fn list(a: &[Val], from: usize) -> Vec<String> {
    let mut out = Vec::new();
    for v in a.iter().skip(from) {
        match v {
            Val::Dyn(Json::Array(items)) => out.extend(items.iter().map(|j| json_to_val(j).to_kstring())),
            Val::Null => {}
            other => out.push(other.to_kstring()),
        }
    }
    out
}

fn in_any_range(a: &[Val], v6: bool) -> Result<Val> {
    let ip = text(a, 0);
    let parsed = if v6 {
        parse_v6(&ip).is_some()
    } else {
        parse_v4(&ip).is_some()
    };
    if !parsed {
        return Ok(Val::Null);
    }
    let hit = list(a, 1)
        .iter()
        .any(|r| if v6 { in_range6(&ip, r) } else { in_range4(&ip, r) } == Some(true));
    Ok(Val::Bool(hit))
}

fn v6_text(x: u128) -> String {
    let segs: Vec<String> = (0..8)
        .map(|i| format!("{:04x}", (x >> (112 - 16 * i)) & 0xffff))
        .collect();
    segs.join(":")
}

/// The IPv4 addresses that appear in `text` delimited by non-alphanumeric characters.
pub fn addresses_in(text: &str) -> Vec<u32> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'.')) {
            let start = i;
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                i += 1;
            }
            let mut end = i;
            while end > start && b[end - 1] == b'.' {
                end -= 1;
            }
            let delimited = i >= b.len() || !b[i].is_ascii_alphanumeric();
            if delimited && let Ok(ip) = text[start..end].parse::<Ipv4Addr>() {
                out.push(u32::from(ip));
            }
        } else {
            i += 1;
        }
    }
    out
}

/// A valid IPv4 prefix: a full address, or 1–3 complete octets followed by a dot.
fn parse_prefix(p: &str) -> Option<(u32, u32)> {
    let t = p.trim();
    if let Ok(ip) = t.parse::<Ipv4Addr>() {
        return Some((u32::from(ip), 32));
    }
    let body = t.strip_suffix('.')?;
    let octets: Vec<u8> = body.split('.').map(|o| o.parse::<u8>().ok()).collect::<Option<_>>()?;
    if octets.is_empty() || octets.len() > 3 {
        return None;
    }
    let mut v = 0u32;
    for (i, o) in octets.iter().enumerate() {
        v |= (*o as u32) << (24 - 8 * i);
    }
    Some((v, 8 * octets.len() as u32))
}

fn has_any(a: &[Val], prefixes: bool) -> Result<Val> {
    let found = addresses_in(&text(a, 0));
    let wanted: Vec<(u32, u32)> = list(a, 1)
        .iter()
        .filter_map(|s| {
            if prefixes {
                parse_prefix(s)
            } else {
                s.trim().parse::<Ipv4Addr>().ok().map(|ip| (u32::from(ip), 32))
            }
        })
        .collect();
    Ok(Val::Bool(
        found
            .iter()
            .any(|ip| wanted.iter().any(|(w, p)| ip & mask4(*p) == w & mask4(*p))),
    ))
}

const TWO: &[Param] = &[p("ip1", P::Str), p("ip2", P::Str), p("prefix", P::Int)];

pub static DEFS: &[FnDef] = &[
    row("parse_ipv4", &[p("ip", P::Str)], 1, KqlType::Long, |a| {
        Ok(parse_v4(&text(a, 0))
            .map(|(x, p)| Val::Long((x & mask4(p)) as i64))
            .unwrap_or(Val::Null))
    }),
    row(
        "parse_ipv4_mask",
        &[p("ip", P::Str), p("prefix", P::Int)],
        2,
        KqlType::Long,
        |a| {
            let (Some((x, own)), Ok(Some(p))) = (parse_v4(&text(a, 0)), prefix_arg(a, 1, 32)) else {
                return Ok(Val::Null);
            };
            Ok(Val::Long((x & mask4(p.min(own))) as i64))
        },
    ),
    row("parse_ipv6", &[p("ip", P::Str)], 1, KqlType::String, |a| {
        Ok(parse_v6(&text(a, 0))
            .map(|(x, p)| Val::Str(v6_text(x & mask6(p))))
            .unwrap_or(Val::Str(String::new())))
    }),
    row(
        "parse_ipv6_mask",
        &[p("ip", P::Str), p("prefix", P::Int)],
        2,
        KqlType::String,
        |a| {
            let Some((x, own)) = parse_v6(&text(a, 0)) else {
                return Ok(Val::Str(String::new()));
            };
            // The prefix counts IPv6 bits, also for an IPv4 address (120 keeps a /24).
            let Ok(Some(p)) = prefix_arg(a, 1, 128) else {
                return Ok(Val::Str(String::new()));
            };
            Ok(Val::Str(v6_text(x & mask6(p.min(own)))))
        },
    ),
    row(
        "format_ipv4",
        &[p("ip", P::Any), p("mask", P::Int)],
        1,
        KqlType::String,
        |a| Ok(Val::Str(format_v4(a, false))),
    ),
    row(
        "format_ipv4_mask",
        &[p("ip", P::Any), p("mask", P::Int)],
        1,
        KqlType::String,
        |a| Ok(Val::Str(format_v4(a, true))),
    ),
    row("ipv4_compare", TWO, 2, KqlType::Int, |a| ord_val(cmp4(a))),
    row("ipv4_is_match", TWO, 2, KqlType::Bool, |a| {
        Ok(cmp4(a).map(|o| Val::Bool(o.is_eq())).unwrap_or(Val::Null))
    }),
    row("ipv6_compare", TWO, 2, KqlType::Int, |a| ord_val(cmp6(a))),
    row("ipv6_is_match", TWO, 2, KqlType::Bool, |a| {
        Ok(cmp6(a).map(|o| Val::Bool(o.is_eq())).unwrap_or(Val::Null))
    }),
    row(
        "ipv4_is_in_range",
        &[p("ip", P::Str), p("range", P::Str)],
        2,
        KqlType::Bool,
        |a| Ok(in_range4(&text(a, 0), &text(a, 1)).map(Val::Bool).unwrap_or(Val::Null)),
    ),
    row(
        "ipv6_is_in_range",
        &[p("ip", P::Str), p("range", P::Str)],
        2,
        KqlType::Bool,
        |a| Ok(in_range6(&text(a, 0), &text(a, 1)).map(Val::Bool).unwrap_or(Val::Null)),
    ),
    row_var(
        "ipv4_is_in_any_range",
        &[p("ip", P::Str), p("range", P::Any)],
        2,
        Ret::Fixed(KqlType::Bool),
        |a| in_any_range(a, false),
    ),
    row_var(
        "ipv6_is_in_any_range",
        &[p("ip", P::Str), p("range", P::Any)],
        2,
        Ret::Fixed(KqlType::Bool),
        |a| in_any_range(a, true),
    ),
    row("ipv4_is_private", &[p("ip", P::Str)], 1, KqlType::Bool, |a| {
        let Some((x, _)) = parse_v4(&text(a, 0)) else {
            return Ok(Val::Null);
        };
        let private = [(0x0a00_0000u32, 8u32), (0xac10_0000, 12), (0xc0a8_0000, 16)]
            .iter()
            .any(|(net, p)| x & mask4(*p) == *net);
        Ok(Val::Bool(private))
    }),
    row("ipv4_netmask_suffix", &[p("ip", P::Str)], 1, KqlType::Int, |a| {
        Ok(parse_v4(&text(a, 0))
            .map(|(_, p)| Val::Int(p as i32))
            .unwrap_or(Val::Null))
    }),
    row(
        "ipv4_range_to_cidr_list",
        &[p("start", P::Str), p("end", P::Str)],
        2,
        KqlType::Dynamic,
        |a| {
            let (Some((s, _)), Some((e, _))) = (parse_v4(&text(a, 0)), parse_v4(&text(a, 1))) else {
                return Ok(Val::Null);
            };
            Ok(Val::Dyn(Json::Array(
                cidrs(s, e).into_iter().map(Json::String).collect(),
            )))
        },
    ),
    row(
        "has_ipv4",
        &[p("source", P::Str), p("ip_address", P::Str)],
        2,
        KqlType::Bool,
        |a| has_any(a, false),
    ),
    row(
        "has_ipv4_prefix",
        &[p("source", P::Str), p("ip_address_prefix", P::Str)],
        2,
        KqlType::Bool,
        |a| has_any(a, true),
    ),
    row_var(
        "has_any_ipv4",
        &[p("source", P::Str), p("ip_address", P::Any)],
        2,
        Ret::Fixed(KqlType::Bool),
        |a| has_any(a, false),
    ),
    row_var(
        "has_any_ipv4_prefix",
        &[p("source", P::Str), p("ip_address_prefix", P::Any)],
        2,
        Ret::Fixed(KqlType::Bool),
        |a| has_any(a, true),
    ),
];

fn format_v4(a: &[Val], with_mask: bool) -> String {
    let (x, own) = match arg(a, 0) {
        Val::Int(_) | Val::Long(_) => match arg(a, 0).as_i64().and_then(|v| u32::try_from(v).ok()) {
            Some(v) => (v, 32),
            None => return String::new(),
        },
        other => match parse_v4(&other.to_kstring()) {
            Some(v) => v,
            None => return String::new(),
        },
    };
    let Ok(p) = prefix_arg(a, 1, 32) else {
        return String::new();
    };
    let p = p.unwrap_or(32).min(own);
    let ip = Ipv4Addr::from(x & mask4(p));
    if with_mask { format!("{ip}/{p}") } else { ip.to_string() }
}

/// The smallest list of CIDR blocks covering `start..=end`.
fn cidrs(start: u32, end: u32) -> Vec<String> {
    let mut out = Vec::new();
    let (mut s, e) = (start as u64, end as u64);
    while s <= e {
        let mut size = if s == 0 { 32 } else { (s.trailing_zeros()).min(32) };
        while size > 0 && s + (1u64 << size) - 1 > e {
            size -= 1;
        }
        out.push(format!("{}/{}", Ipv4Addr::from(s as u32), 32 - size));
        s += 1u64 << size;
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::lit;
    use crate::testkit::call;
    use serde_json::json;

    fn st(s: &str) -> crate::api::TypedExpr {
        lit::string(s)
    }

    #[test]
    fn ipv4() {
        assert_eq!(call("parse_ipv4", vec![st("192.168.1.1")]), "3232235777");
        assert_eq!(call("parse_ipv4", vec![st("192.168.1.1/24")]), "3232235776");
        assert_eq!(call("parse_ipv4", vec![st("255.255.255.255/31")]), "4294967294");
        assert_eq!(call("parse_ipv4", vec![st("not an ip")]), "");
        assert_eq!(
            call("parse_ipv4_mask", vec![st("127.0.0.1"), lit::long(24)]),
            "2130706432"
        );
        assert_eq!(
            call("format_ipv4", vec![st("192.168.1.1"), lit::long(24)]),
            "192.168.1.0"
        );
        assert_eq!(
            call("format_ipv4_mask", vec![st("192.168.1.1/24"), lit::long(32)]),
            "192.168.1.0/24"
        );
        assert_eq!(call("format_ipv4", vec![st("192.168.1.1/24"), lit::long(-1)]), "");
        assert_eq!(call("format_ipv4", vec![lit::long(3232235777)]), "192.168.1.1");
        assert_eq!(
            call(
                "ipv4_compare",
                vec![st("192.168.1.1"), st("192.168.1.0"), lit::long(31)]
            ),
            "0"
        );
        assert_eq!(call("ipv4_compare", vec![st("192.168.1.1"), st("192.168.1.0")]), "1");
        assert_eq!(
            call("ipv4_is_match", vec![st("192.168.1.1/30"), st("192.168.1.255/24")]),
            "true"
        );
        assert_eq!(
            call("ipv4_is_in_range", vec![st("192.168.1.1"), st("192.168.1.255/24")]),
            "true"
        );
        assert_eq!(
            call(
                "ipv4_is_in_any_range",
                vec![st("192.168.1.6"), st("192.168.1.1/24"), st("10.0.0.1/8")]
            ),
            "true"
        );
        assert_eq!(
            call(
                "ipv4_is_in_any_range",
                vec![st("1.1.1.1"), lit::dynamic(&json!(["192.168.1.1/16", "10.0.0.1/8"]))]
            ),
            "false"
        );
        assert_eq!(call("ipv4_is_private", vec![st("192.168.1.1/24")]), "true");
        assert_eq!(call("ipv4_is_private", vec![st("127.0.0.1")]), "false");
        assert_eq!(call("ipv4_is_private", vec![st("172.31.0.1")]), "true");
        assert_eq!(call("ipv4_netmask_suffix", vec![st("127.0.0.1/16")]), "16");
        assert_eq!(
            call("ipv4_range_to_cidr_list", vec![st("1.1.128.0"), st("1.1.140.255")]),
            r#"["1.1.128.0/21","1.1.136.0/22","1.1.140.0/24"]"#
        );
    }

    #[test]
    fn ipv4_in_text() {
        let log = "05:04:54 127.0.0.1 GET /favicon.ico 404";
        assert_eq!(call("has_ipv4", vec![st(log), st("127.0.0.1")]), "true");
        assert_eq!(
            call("has_ipv4", vec![st("05:04:54 127.0.0.256 GET"), st("127.0.0.256")]),
            "false"
        );
        assert_eq!(
            call("has_ipv4", vec![st("05:04:54127.0.0.1 GET"), st("127.0.0.1")]),
            "false"
        );
        assert_eq!(call("has_ipv4_prefix", vec![st(log), st("127.0.")]), "true");
        assert_eq!(call("has_ipv4_prefix", vec![st(log), st("127.0")]), "false");
        assert_eq!(
            call("has_any_ipv4", vec![st(log), st("127.0.0.1"), st("127.0.0.2")]),
            "true"
        );
        assert_eq!(
            call(
                "has_any_ipv4",
                vec![st(log), lit::dynamic(&json!(["127.0.0.1", "127.0.0.2"]))]
            ),
            "true"
        );
        assert_eq!(
            call(
                "has_any_ipv4_prefix",
                vec![st("05:04:54127.0.0.1 GET"), st("127.0."), st("192.")]
            ),
            "false"
        );
        assert_eq!(call("has_ipv4", vec![st("ip 10.0.0.1."), st("10.0.0.1")]), "true");
    }

    #[test]
    fn ipv6() {
        assert_eq!(
            call("parse_ipv6", vec![st("192.168.255.255/24")]),
            "0000:0000:0000:0000:0000:ffff:c0a8:ff00"
        );
        assert_eq!(
            call("parse_ipv6_mask", vec![st("::192.168.255.255"), lit::long(128)]),
            "0000:0000:0000:0000:0000:ffff:c0a8:ffff"
        );
        assert_eq!(
            call("parse_ipv6_mask", vec![st("::192.168.255.255/24"), lit::long(128)]),
            "0000:0000:0000:0000:0000:ffff:c0a8:ff00"
        );
        assert_eq!(
            call("parse_ipv6", vec![st("fe80::85d:e82c:9446:7994")]),
            "fe80:0000:0000:0000:085d:e82c:9446:7994"
        );
        assert_eq!(
            call(
                "ipv6_compare",
                vec![st("fe80::85d:e82c:9446:7994/120"), st("fe80::85d:e82c:9446:7998")]
            ),
            "0"
        );
        assert_eq!(
            call("ipv6_compare", vec![st("192.168.1.1"), st("::ffff:c0a8:0101")]),
            "0"
        );
        assert_eq!(
            call("ipv6_compare", vec![st("::192.168.1.1/30"), st("192.168.1.255/24")]),
            "0"
        );
        assert_eq!(
            call("ipv6_is_match", vec![st("192.168.1.1/24"), st("::ffff:c0a8:01ff")]),
            "true"
        );
        assert_eq!(
            call(
                "ipv6_is_in_range",
                vec![st("fe80::85d:e82c:9446:7994"), st("fe80::/10")]
            ),
            "true"
        );
        assert_eq!(
            call("parse_ipv6_mask", vec![st("192.168.255.255"), lit::long(120)]),
            "0000:0000:0000:0000:0000:ffff:c0a8:ff00"
        );
    }
}
