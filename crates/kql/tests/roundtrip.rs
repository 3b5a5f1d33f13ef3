//! parse → print → parse yields the same tree (spans aside) over both corpora.

use crate::common;
use serde_json::Value;

/// The tree as JSON with every span replaced by null.
fn shape(query: &kql::ast::Query) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(map) => {
                if map.len() == 2 && map.contains_key("start") && map.contains_key("end") {
                    *v = Value::Null;
                    return;
                }
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v = serde_json::to_value(query).expect("AST serializes");
    strip(&mut v);
    v
}

fn check(id: &str, query: &str) -> Result<(), String> {
    let first = kql::parse(query);
    if !first.is_ok() {
        return Ok(()); // only valid queries are printed
    }
    let printed = kql::print(&first.query);
    let second = kql::parse(&printed);
    if !second.is_ok() {
        return Err(format!(
            "{id}: printed text does not parse: {:?}\n{printed}",
            second.diagnostics
        ));
    }
    if shape(&first.query) != shape(&second.query) {
        return Err(format!(
            "{id}: tree changed through printing\n--- source\n{query}\n--- printed\n{printed}"
        ));
    }
    // Printing is stable.
    let again = kql::print(&second.query);
    if again != printed {
        return Err(format!("{id}: printing is not idempotent\n{printed}\n---\n{again}"));
    }
    Ok(())
}

#[test]
fn roundtrip_rmm_rules() {
    let Some(rules) = common::rmm_rules() else {
        return eprintln!("../shared not found: skipped");
    };
    let failures: Vec<String> = rules.iter().filter_map(|(f, q, _)| check(f, q).err()).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn roundtrip_conformance() {
    let Some(records) = common::conformance() else {
        return eprintln!("../shared not found: skipped");
    };
    let failures: Vec<String> = records.iter().filter_map(|(id, q)| check(id, q).err()).collect();
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Found by the fuzzer: names glued by `-` into an operator's name print glued.
#[test]
fn hyphenated_operator_names_as_arithmetic() {
    for q in [
        "parse-where",
        "print x = 1 | extend y = project-away",
        "T | where a-b > 0",
    ] {
        check(q, q).unwrap();
    }
    assert_eq!(kql::print(&kql::parse("parse-where").query).trim(), "parse-where");
}
