//! Hashes and encodings: `hash` (xxhash64), `hash_md5`/`sha1`/`sha256`/`xxhash64`,
//! `hash_combine`, `hash_many`, base64 (`base64_*`), zlib/gzip with base64, and URL
//! encoding. Values are hashed through their `tostring` text in UTF-8, which is what
//! Kusto hashes (`hash_md5(datetime(2020-01-01))` hashes `2020-01-01T00:00:00.0000000Z`).

use super::arg;
use crate::catalog::{FnDef, P, Param, p, row, row_var};
use crate::udf::Ret;
use crate::val::{Val, json_to_val};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use datafusion::common::Result;
use md5::Digest;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str};
use schema::KqlType;
use serde_json::Value as Json;
use std::io::{Read, Write};
use twox_hash::XxHash64;

fn text(a: &[Val], i: usize) -> String {
    arg(a, i).to_kstring()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes `hash()` hashes: strings as UTF-8, numbers in their binary little-endian
/// form, datetimes and timespans as .NET ticks (so `hash(datetime(2015-01-01))` is the
/// xxhash64 of the ticks, as the reference shows); other values as their text.
fn hash_bytes(v: &Val) -> Vec<u8> {
    match v {
        Val::Int(x) => x.to_le_bytes().to_vec(),
        Val::Long(x) => x.to_le_bytes().to_vec(),
        Val::Real(x) => x.to_le_bytes().to_vec(),
        Val::Bool(b) => vec![*b as u8],
        Val::DateTime(n) => (n.div_euclid(100) + super::convert::EPOCH_TICKS).to_le_bytes().to_vec(),
        Val::TimeSpan(n) => (n / 100).to_le_bytes().to_vec(),
        other => other.to_kstring().into_bytes(),
    }
}

/// The 64-bit xxhash of a value, as Kusto's `hash()` computes it.
pub fn xxhash(v: &Val) -> i64 {
    XxHash64::oneshot(0, &hash_bytes(v)) as i64
}

fn hash_with_mod(a: &[Val]) -> Result<Val> {
    if arg(a, 0).is_null() {
        return Ok(Val::Null);
    }
    let h = xxhash(arg(a, 0));
    Ok(match arg(a, 1) {
        Val::Null => Val::Long(h),
        m => match m.as_i64() {
            Some(m) if m > 0 => Val::Long(h.rem_euclid(m)),
            _ => Val::Null,
        },
    })
}

/// Combines hash values. Kusto documents neither its formula nor its stability; this is
/// the xxhash64 of the little-endian bytes of the values, deterministic across runs.
fn combine(hashes: &[i64]) -> i64 {
    let bytes: Vec<u8> = hashes.iter().flat_map(|h| h.to_le_bytes()).collect();
    XxHash64::oneshot(0, &bytes) as i64
}

const V: &[Param] = &[p("source", P::Any)];
const S: &[Param] = &[p("string", P::Str)];

/// What `url_encode_component` leaves alone (RFC 3986 unreserved characters).
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
/// What `url_encode` leaves alone (.NET `HttpUtility.UrlEncode`); space becomes `+`.
const FORM: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'*')
    .remove(b'(')
    .remove(b')')
    .remove(b' ');

/// Percent-encoding with lower-case hex digits, as Kusto prints them.
fn encode(s: &str, set: &'static AsciiSet, plus: bool) -> String {
    let enc = percent_encoding::utf8_percent_encode(s, set).to_string();
    let mut out = String::with_capacity(enc.len());
    let mut chars = enc.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '%' => {
                out.push('%');
                for _ in 0..2 {
                    if let Some(h) = chars.next() {
                        out.push(h.to_ascii_lowercase());
                    }
                }
            }
            ' ' if plus => out.push('+'),
            other => out.push(other),
        }
    }
    out
}

fn b64_decode(s: &str) -> Option<Vec<u8>> {
    STANDARD.decode(s.trim()).ok()
}

/// The guid text of 16 bytes as `base64_decode_toguid` prints it: the first two groups
/// little-endian, the rest in byte order. This is what the reference's example shows
/// (`JpbpECu8dUy7Pv5gbeJXAA==` → `10e99626-bc2b-754c-…`), although
/// `base64_encode_fromguid` uses .NET's order (third group little-endian too).
fn guid_from_bytes(b: &[u8]) -> Option<String> {
    if b.len() != 16 {
        return None;
    }
    let g = format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{}-{}-{}",
        b[3],
        b[2],
        b[1],
        b[0],
        b[5],
        b[4],
        hex(&b[6..8]),
        hex(&b[8..10]),
        hex(&b[10..16])
    );
    Some(g)
}

fn guid_to_bytes(g: &str) -> Option<Vec<u8>> {
    let canon = super::convert::parse_guid(g)?;
    let h: String = canon.chars().filter(|c| *c != '-').collect();
    let raw: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&h[i * 2..i * 2 + 2], 16).ok())
        .collect::<Option<_>>()?;
    let mut b = raw.clone();
    b[0..4].copy_from_slice(&[raw[3], raw[2], raw[1], raw[0]]);
    b[4..6].copy_from_slice(&[raw[5], raw[4]]);
    b[6..8].copy_from_slice(&[raw[7], raw[6]]);
    Some(b)
}

fn compress(data: &[u8], gzip: bool) -> Option<String> {
    // Kusto stores the data without compression (deflate "stored" blocks), which is what
    // its documented outputs contain.
    let level = flate2::Compression::none();
    let bytes = if gzip {
        // The header Kusto writes: no mtime, no extra flags, OS "unknown".
        let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), level);
        e.write_all(data).ok()?;
        out.extend(e.finish().ok()?);
        let mut crc = flate2::Crc::new();
        crc.update(data);
        out.extend(crc.sum().to_le_bytes());
        out.extend((data.len() as u32).to_le_bytes());
        out
    } else {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), level);
        e.write_all(data).ok()?;
        e.finish().ok()?
    };
    Some(STANDARD.encode(bytes))
}

fn decompress(b64: &str, gzip: bool) -> Option<String> {
    let bytes = b64_decode(b64)?;
    let mut out = Vec::new();
    if gzip {
        flate2::read::GzDecoder::new(&bytes[..]).read_to_end(&mut out).ok()?;
    } else {
        flate2::read::ZlibDecoder::new(&bytes[..]).read_to_end(&mut out).ok()?;
    }
    String::from_utf8(out).ok()
}

fn str_or_empty(v: Option<String>) -> Result<Val> {
    Ok(Val::Str(v.unwrap_or_default()))
}

pub static DEFS: &[FnDef] = &[
    row(
        "hash",
        &[p("source", P::Any), p("mod", P::Int)],
        1,
        KqlType::Long,
        hash_with_mod,
    ),
    row(
        "hash_xxhash64",
        &[p("source", P::Any), p("mod", P::Int)],
        1,
        KqlType::Long,
        hash_with_mod,
    ),
    row_var("hash_combine", &[p("h", P::Int)], 2, Ret::Fixed(KqlType::Long), |a| {
        let hs: Option<Vec<i64>> = a.iter().map(Val::as_i64).collect();
        Ok(hs.map(|h| Val::Long(combine(&h))).unwrap_or(Val::Null))
    }),
    row_var("hash_many", &[p("s", P::Any)], 2, Ret::Fixed(KqlType::Long), |a| {
        Ok(Val::Long(combine(&a.iter().map(xxhash).collect::<Vec<_>>())))
    }),
    row("hash_md5", V, 1, KqlType::String, |a| {
        Ok(Val::Str(hex(&md5::Md5::digest(text(a, 0).as_bytes()))))
    }),
    row("hash_sha1", V, 1, KqlType::String, |a| {
        Ok(Val::Str(hex(&sha1::Sha1::digest(text(a, 0).as_bytes()))))
    }),
    row("hash_sha256", V, 1, KqlType::String, |a| {
        Ok(Val::Str(hex(&sha2::Sha256::digest(text(a, 0).as_bytes()))))
    }),
    row("base64_encode_tostring", S, 1, KqlType::String, |a| {
        Ok(Val::Str(STANDARD.encode(text(a, 0).as_bytes())))
    }),
    row("base64_encodestring", S, 1, KqlType::String, |a| {
        Ok(Val::Str(STANDARD.encode(text(a, 0).as_bytes())))
    }),
    row("base64_decode_tostring", S, 1, KqlType::String, |a| {
        str_or_empty(b64_decode(&text(a, 0)).and_then(|b| String::from_utf8(b).ok()))
    }),
    row("base64_decodestring", S, 1, KqlType::String, |a| {
        str_or_empty(b64_decode(&text(a, 0)).and_then(|b| String::from_utf8(b).ok()))
    }),
    row("base64_decode_toarray", S, 1, KqlType::Dynamic, |a| {
        Ok(match b64_decode(&text(a, 0)) {
            Some(b) => Val::Dyn(Json::Array(b.into_iter().map(Json::from).collect())),
            None => Val::Null,
        })
    }),
    row(
        "base64_encode_fromarray",
        &[p("base64_string_decoded_as_array", P::Dynamic)],
        1,
        KqlType::String,
        |a| {
            let Val::Dyn(Json::Array(items)) = arg(a, 0) else {
                return Ok(Val::Str(String::new()));
            };
            let bytes: Option<Vec<u8>> = items
                .iter()
                .map(|j| json_to_val(j).as_i64().and_then(|x| u8::try_from(x).ok()))
                .collect();
            str_or_empty(bytes.map(|b| STANDARD.encode(b)))
        },
    ),
    row("base64_decode_toguid", S, 1, KqlType::Guid, |a| {
        Ok(b64_decode(&text(a, 0))
            .and_then(|b| guid_from_bytes(&b))
            .map(Val::Str)
            .unwrap_or(Val::Null))
    }),
    row(
        "base64_encode_fromguid",
        &[p("guid", P::Any)],
        1,
        KqlType::String,
        |a| str_or_empty(guid_to_bytes(&text(a, 0)).map(|b| STANDARD.encode(b))),
    ),
    row("zlib_compress_to_base64_string", S, 1, KqlType::String, |a| {
        str_or_empty(compress(text(a, 0).as_bytes(), false))
    }),
    row("zlib_decompress_from_base64_string", S, 1, KqlType::String, |a| {
        str_or_empty(decompress(&text(a, 0), false))
    }),
    row("gzip_compress_to_base64_string", S, 1, KqlType::String, |a| {
        str_or_empty(compress(text(a, 0).as_bytes(), true))
    }),
    row("gzip_decompress_from_base64_string", S, 1, KqlType::String, |a| {
        str_or_empty(decompress(&text(a, 0), true))
    }),
    row("url_encode", &[p("url", P::Str)], 1, KqlType::String, |a| {
        Ok(Val::Str(encode(&text(a, 0), FORM, true)))
    }),
    row("url_encode_component", &[p("url", P::Str)], 1, KqlType::String, |a| {
        Ok(Val::Str(encode(&text(a, 0), COMPONENT, false)))
    }),
    row("url_decode", &[p("encoded_url", P::Str)], 1, KqlType::String, |a| {
        let s = text(a, 0).replace('+', " ");
        str_or_empty(percent_decode_str(&s).decode_utf8().ok().map(|c| c.into_owned()))
    }),
];

#[cfg(test)]
mod tests {
    use crate::lit;
    use crate::testkit::call;

    fn st(s: &str) -> crate::api::TypedExpr {
        lit::string(s)
    }

    #[test]
    fn hashes() {
        assert_eq!(call("hash", vec![st("World")]), "1846988464401551951");
        assert_eq!(call("hash", vec![st("World"), lit::long(100)]), "51");
        assert_eq!(call("hash_xxhash64", vec![st("World")]), "1846988464401551951");
        assert_eq!(call("hash", vec![st("Hello")]), "753694413698530628");
        assert_eq!(call("hash_xxhash64", vec![st("World"), lit::long(100)]), "51");
        let d2015 = lit::datetime_text("2015-01-01").unwrap();
        assert_eq!(call("hash", vec![d2015.clone()]), "1380966698541616202");
        assert_eq!(call("hash_xxhash64", vec![d2015]), "1380966698541616202");
        let d = || lit::datetime_text("2020-01-01").unwrap();
        assert_eq!(call("hash_md5", vec![st("World")]), "f5a7924e621e84c9280a9a27e1bcb7f6");
        assert_eq!(call("hash_md5", vec![d()]), "786c530672d1f8db31fee25ea8a9390b");
        assert_eq!(
            call("hash_sha1", vec![st("World")]),
            "70c07ec18ef89c5309bbb0937f3a6342411e1fdd"
        );
        assert_eq!(call("hash_sha1", vec![d()]), "e903e533f4d636b4fc0dcf3cf81e7b7f330de776");
        assert_eq!(
            call("hash_sha256", vec![st("World")]),
            "78ae647dc5544d227130a0682a51e30bc7777fbb6d8a8f17007463a3ecd1d524"
        );
        assert_eq!(
            call("hash_sha256", vec![d()]),
            "ba666752dc1a20eb750b0eb64e780cc4c968bc9fb8813461c1d7e750f302d71d"
        );
        assert_eq!(
            call("hash_combine", vec![lit::long(1), lit::long(2)]),
            call("hash_combine", vec![lit::long(1), lit::long(2)])
        );
        assert_ne!(
            call("hash_many", vec![st("a"), st("b")]),
            call("hash_many", vec![st("b"), st("a")])
        );
    }

    #[test]
    fn base64_and_compression() {
        assert_eq!(call("base64_encode_tostring", vec![st("Kusto")]), "S3VzdG8=");
        assert_eq!(call("base64_decode_tostring", vec![st("S3VzdG8=")]), "Kusto");
        assert_eq!(
            call("base64_decode_toarray", vec![st("S3VzdG8=")]),
            "[75,117,115,116,111]"
        );
        assert_eq!(
            call("base64_decode_toarray", vec![st("U3RyaW5n0KHR0tGA0L7Rh9C60LA")]),
            ""
        );
        assert_eq!(
            call(
                "base64_encode_fromarray",
                vec![lit::dynamic(&serde_json::json!([75, 117, 115, 116, 111]))]
            ),
            "S3VzdG8="
        );
        assert_eq!(
            call("base64_encode_fromarray", vec![lit::null(schema::KqlType::Dynamic)]),
            ""
        );
        assert_eq!(
            call("base64_decode_toguid", vec![st("JpbpECu8dUy7Pv5gbeJXAA==")]),
            "10e99626-bc2b-754c-bb3e-fe606de25700"
        );
        assert_eq!(
            call(
                "base64_encode_fromguid",
                vec![lit::guid("ae3133f2-6e22-49ae-b06a-16e6a9b212eb")]
            ),
            "8jMxriJurkmwahbmqbIS6w=="
        );
        assert_eq!(
            call("zlib_compress_to_base64_string", vec![st("1234567890qwertyuiop")]),
            "eAEBFADr/zEyMzQ1Njc4OTBxd2VydHl1aW9wOAkGdw=="
        );
        assert_eq!(
            call(
                "zlib_decompress_from_base64_string",
                vec![st("eJwLSS0uUSguKcrMS1cwNDIGACxqBQ4=")]
            ),
            "Test string 123"
        );
        assert_eq!(call("zlib_decompress_from_base64_string", vec![st("x0x0x0")]), "");
        assert_eq!(
            call("gzip_compress_to_base64_string", vec![st("1234567890qwertyuiop")]),
            "H4sIAAAAAAAA/wEUAOv/MTIzNDU2Nzg5MHF3ZXJ0eXVpb3A6m7f2FAAAAA=="
        );
        assert_eq!(
            call(
                "gzip_decompress_from_base64_string",
                vec![st("H4sIAAAAAAAA/wEUAOv/MTIzNDU2Nzg5MHF3ZXJ0eXVpb3A6m7f2FAAAAA==")]
            ),
            "1234567890qwertyuiop"
        );
        assert_eq!(call("gzip_decompress_from_base64_string", vec![st("x0x0x0")]), "");
    }

    #[test]
    fn urls() {
        assert_eq!(
            call("url_encode_component", vec![st("https://www.bing.com/hello world")]),
            "https%3a%2f%2fwww.bing.com%2fhello%20world"
        );
        assert_eq!(
            call("url_encode", vec![st("https://www.bing.com/hello world")]),
            "https%3a%2f%2fwww.bing.com%2fhello+world"
        );
        assert_eq!(
            call("url_decode", vec![st("https%3a%2f%2fwww.bing.com%2f")]),
            "https://www.bing.com/"
        );
    }
}
