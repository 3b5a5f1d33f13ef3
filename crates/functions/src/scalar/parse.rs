//! Parsers of structured text: `parse_url`, `parse_urlquery`, `parse_path`,
//! `parse_version`.

use super::arg;
use crate::catalog::{FnDef, P, p, row};
use crate::val::Val;
use percent_encoding::percent_decode_str;
use schema::KqlType;
use serde_json::{Map, Value as Json};

fn decode(s: &str) -> String {
    let s = s.replace('+', " ");
    percent_decode_str(&s).decode_utf8_lossy().into_owned()
}

/// `k1=v1&k2=v2` as a bag of decoded values.
fn query_bag(q: &str) -> Map<String, Json> {
    let mut m = Map::new();
    for pair in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        m.insert(decode(k), Json::String(decode(v)));
    }
    m
}

/// `scheme://user:password@host:port/path?query#fragment`. Text that is not an absolute
/// URL gives an empty bag.
pub fn parse_url(url: &str) -> Json {
    let u = url.trim();
    let Some((scheme, rest)) = u.split_once("://") else {
        return Json::Object(Map::new());
    };
    if scheme.is_empty() || !scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) {
        return Json::Object(Map::new());
    }
    let (rest, fragment) = rest.split_once('#').unwrap_or((rest, ""));
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (u, h),
        None => ("", authority),
    };
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let (host, port) = if hostport.starts_with('[') {
        match hostport.find(']') {
            Some(i) => (&hostport[..=i], hostport[i + 1..].trim_start_matches(':')),
            None => (hostport, ""),
        }
    } else {
        hostport.rsplit_once(':').unwrap_or((hostport, ""))
    };
    let mut m = Map::new();
    m.insert("Scheme".into(), Json::String(scheme.to_string()));
    m.insert("Host".into(), Json::String(host.to_string()));
    m.insert("Port".into(), Json::String(port.to_string()));
    m.insert("Path".into(), Json::String(path.to_string()));
    m.insert("Username".into(), Json::String(user.to_string()));
    m.insert("Password".into(), Json::String(password.to_string()));
    m.insert("Query Parameters".into(), Json::Object(query_bag(query)));
    m.insert("Fragment".into(), Json::String(fragment.to_string()));
    Json::Object(m)
}

/// A file path split into its parts (Windows, UNC, URL-style and Unix paths).
pub fn parse_path(path: &str) -> Json {
    let mut p = path.trim().to_string();
    let mut scheme = String::new();
    if let Some((s, rest)) = p.split_once("://")
        && !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric())
    {
        scheme = s.to_string();
        p = rest.to_string();
    }
    // An alternate data stream follows a ':' after the drive letter.
    let mut ads = String::new();
    let drive = p.len() >= 2 && p.as_bytes()[1] == b':' && p.as_bytes()[0].is_ascii_alphabetic();
    let search_from = if drive { 2 } else { 0 };
    if let Some(i) = p[search_from..].rfind(':') {
        let i = i + search_from;
        ads = p[i + 1..].to_string();
        p.truncate(i);
    }
    let root = if drive { p[..2].to_string() } else { String::new() };
    let sep = |c: char| c == '\\' || c == '/';
    let (dir, file) = match p.rfind(sep) {
        Some(i) => (p[..i].to_string(), p[i + 1..].to_string()),
        None => (String::new(), p.clone()),
    };
    let dir_name = dir.rsplit(sep).next().unwrap_or("").to_string();
    let ext = file.rsplit_once('.').map(|(_, e)| e.to_string()).unwrap_or_default();
    let mut m = Map::new();
    m.insert("Scheme".into(), Json::String(scheme));
    m.insert("RootPath".into(), Json::String(root));
    m.insert("DirectoryPath".into(), Json::String(dir));
    m.insert("DirectoryName".into(), Json::String(dir_name));
    m.insert("Filename".into(), Json::String(file));
    m.insert("Extension".into(), Json::String(ext));
    m.insert("AlternateDataStreamName".into(), Json::String(ads));
    Json::Object(m)
}

/// `1.2.3.4` as the number Kusto compares versions by (each part padded to 8 digits).
///
/// Kusto returns a 34-digit decimal; Quarry's decimal holds 20 integer digits, so the value
/// is a real here: ordering between versions whose numbers differ only beyond the 16th
/// significant digit (a fourth part under a large first part) is not exact.
pub fn parse_version(v: &str) -> Option<f64> {
    let parts: Vec<&str> = v.trim().split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut value = 0f64;
    for i in 0..4 {
        let n: u64 = match parts.get(i) {
            Some(p) if !p.is_empty() && p.len() <= 8 && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok()?,
            Some(_) => return None,
            None => 0,
        };
        value = value * 1e8 + n as f64;
    }
    Some(value)
}

pub static DEFS: &[FnDef] = &[
    row("parse_url", &[p("url", P::Str)], 1, KqlType::Dynamic, |a| {
        Ok(Val::Dyn(parse_url(&arg(a, 0).to_kstring())))
    }),
    row("parse_urlquery", &[p("query", P::Str)], 1, KqlType::Dynamic, |a| {
        let q = arg(a, 0).to_kstring();
        let q = q.trim_start_matches('?');
        let mut m = Map::new();
        m.insert("Query Parameters".into(), Json::Object(query_bag(q)));
        Ok(Val::Dyn(Json::Object(m)))
    }),
    row("parse_path", &[p("path", P::Str)], 1, KqlType::Dynamic, |a| {
        Ok(Val::Dyn(parse_path(&arg(a, 0).to_kstring())))
    }),
    row("parse_version", &[p("version", P::Str)], 1, KqlType::Real, |a| {
        Ok(parse_version(&arg(a, 0).to_kstring())
            .map(Val::Real)
            .unwrap_or(Val::Null))
    }),
];

#[cfg(test)]
mod tests {
    use crate::lit;
    use crate::testkit::call;
    use serde_json::json;

    fn j(s: &str) -> serde_json::Value {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn urls() {
        let r = call(
            "parse_url",
            vec![lit::string(
                "scheme://username:password@host:1234/this/is/a/path?k1=v1&k2=v2#fragment",
            )],
        );
        assert_eq!(
            j(&r),
            json!({"Scheme": "scheme", "Host": "host", "Port": "1234", "Path": "/this/is/a/path", "Username": "username",
                   "Password": "password", "Query Parameters": {"k1": "v1", "k2": "v2"}, "Fragment": "fragment"})
        );
        assert_eq!(j(&call("parse_url", vec![lit::string("not a url")])), json!({}));
        let q = call(
            "parse_urlquery",
            vec![lit::string("view=vs-2019&preserve-view=true&x=a%20b")],
        );
        assert_eq!(
            j(&q),
            json!({"Query Parameters": {"view": "vs-2019", "preserve-view": "true", "x": "a b"}})
        );
    }

    #[test]
    fn paths() {
        let cases = [
            (
                r"C:\temp\file.txt",
                json!({"Scheme":"","RootPath":"C:","DirectoryPath":"C:\\temp","DirectoryName":"temp","Filename":"file.txt","Extension":"txt","AlternateDataStreamName":""}),
            ),
            (
                r"temp\file.txt",
                json!({"Scheme":"","RootPath":"","DirectoryPath":"temp","DirectoryName":"temp","Filename":"file.txt","Extension":"txt","AlternateDataStreamName":""}),
            ),
            (
                "file://C:/temp/file.txt:some.exe",
                json!({"Scheme":"file","RootPath":"C:","DirectoryPath":"C:/temp","DirectoryName":"temp","Filename":"file.txt","Extension":"txt","AlternateDataStreamName":"some.exe"}),
            ),
            (
                r"\\shared\users\temp\file.txt.gz",
                json!({"Scheme":"","RootPath":"","DirectoryPath":"\\\\shared\\users\\temp","DirectoryName":"temp","Filename":"file.txt.gz","Extension":"gz","AlternateDataStreamName":""}),
            ),
            (
                "/usr/lib/temp/file.txt",
                json!({"Scheme":"","RootPath":"","DirectoryPath":"/usr/lib/temp","DirectoryName":"temp","Filename":"file.txt","Extension":"txt","AlternateDataStreamName":""}),
            ),
        ];
        for (p, want) in cases {
            assert_eq!(j(&call("parse_path", vec![lit::string(p)])), want, "{p}");
        }
    }

    #[test]
    fn versions() {
        assert_eq!(super::parse_version("0.0.0.5"), Some(5.0));
        assert_eq!(super::parse_version("0.0.7.0"), Some(700_000_000.0));
        assert_eq!(super::parse_version("0.2"), Some(2e16));
        assert_eq!(super::parse_version("1"), Some(1e24));
        assert_eq!(super::parse_version("1.2.3.4.5"), None);
        assert_eq!(super::parse_version("1.x"), None);
        assert!(super::parse_version("1.10").unwrap() > super::parse_version("1.9").unwrap());
    }
}
