//! `parse_xml`: XML to a dynamic value with the conversion the reference gives — an
//! element becomes a property of its parent (repeated elements become an array),
//! attributes become `@name` properties, text becomes the value or, next to attributes or
//! child elements, `#text`; an empty element is null. Invalid XML gives null.

use super::arg;
use crate::catalog::{FnDef, P, p, row};
use crate::val::Val;
use schema::KqlType;
use serde_json::{Map, Value as Json};

/// Kusto's limit on the input length.
const MAX_LEN: usize = 1_048_576;
/// Deeper documents are rejected (null) rather than recursed into without bound.
const MAX_DEPTH: usize = 256;

fn element(node: roxmltree::Node, depth: usize) -> Option<Json> {
    if depth > MAX_DEPTH {
        return None;
    }
    let mut m = Map::new();
    for a in node.attributes() {
        m.insert(format!("@{}", a.name()), Json::String(a.value().to_string()));
    }
    let mut text = String::new();
    for child in node.children() {
        if child.is_element() {
            let name = child.tag_name().name().to_string();
            let value = element(child, depth + 1)?;
            match m.get_mut(&name) {
                Some(Json::Array(items)) if node.children().filter(|c| c.tag_name().name() == name).count() > 1 => {
                    items.push(value)
                }
                Some(existing) => {
                    let first = existing.take();
                    *existing = Json::Array(vec![first, value]);
                }
                None => {
                    m.insert(name, value);
                }
            }
        } else if child.is_text() {
            text.push_str(child.text().unwrap_or(""));
        }
    }
    let text = text.trim();
    if m.is_empty() {
        return Some(if text.is_empty() {
            Json::Null
        } else {
            Json::String(text.to_string())
        });
    }
    if !text.is_empty() {
        m.insert("#text".into(), Json::String(text.to_string()));
    }
    Some(Json::Object(m))
}

pub fn parse_xml(text: &str) -> Option<Json> {
    if text.len() > MAX_LEN {
        return None;
    }
    let doc = roxmltree::Document::parse(text).ok()?;
    let root = doc.root_element();
    let mut m = Map::new();
    m.insert(root.tag_name().name().to_string(), element(root, 0)?);
    Some(Json::Object(m))
}

pub static DEFS: &[FnDef] = &[row("parse_xml", &[p("xml", P::Str)], 1, KqlType::Dynamic, |a| {
    Ok(parse_xml(&arg(a, 0).to_kstring()).map(Val::Dyn).unwrap_or(Val::Null))
})];

#[cfg(test)]
mod tests {
    use super::parse_xml;
    use serde_json::json;

    #[test]
    fn documented_conversions() {
        let cases = [
            ("<e/>", json!({"e": null})),
            ("<e>text</e>", json!({"e": "text"})),
            (r#"<e name="value" />"#, json!({"e": {"@name": "value"}})),
            (
                r#"<e name="value">text</e>"#,
                json!({"e": {"@name": "value", "#text": "text"}}),
            ),
            (
                "<e> <a>text</a> <b>text</b> </e>",
                json!({"e": {"a": "text", "b": "text"}}),
            ),
            (
                "<e> <a>text</a> <a>text</a> </e>",
                json!({"e": {"a": ["text", "text"]}}),
            ),
            (
                "<e> <a>1</a> <a>2</a> <a>3</a> </e>",
                json!({"e": {"a": ["1", "2", "3"]}}),
            ),
            (
                "<e> text <a>text</a> </e>",
                json!({"e": {"#text": "text", "a": "text"}}),
            ),
        ];
        for (xml, want) in cases {
            assert_eq!(parse_xml(xml), Some(want), "{xml}");
        }
        assert_eq!(parse_xml("<unclosed>"), None);
        let deep = format!("{}{}", "<a>".repeat(5000), "</a>".repeat(5000));
        assert_eq!(parse_xml(&deep), None);
        let doc = r#"<?xml version="1.0" encoding="UTF-8"?><duration><value>118.0</value><min>100.0</min></duration>"#;
        assert_eq!(
            parse_xml(doc),
            Some(json!({"duration": {"value": "118.0", "min": "100.0"}}))
        );
    }
}
