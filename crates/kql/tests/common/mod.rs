//! Test helpers: corpus locations and a tiny extractor for the `query: |` block of a
//! Sentinel YAML rule (tests only; the `rules` crate does real YAML import).
#![allow(dead_code)]

use std::path::PathBuf;

/// `../shared` next to the repository, when it exists (it is not available in CI builds).
pub fn shared_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    dir.is_dir().then_some(dir)
}

/// The query of a rule file and the 1-based file line of the query's first line.
pub fn yaml_query(text: &str) -> Option<(String, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.iter().position(|l| l.starts_with("query: |"))?;
    let body = &lines[start + 1..];
    let indent = body
        .iter()
        .find(|l| !l.trim().is_empty())?
        .chars()
        .take_while(|c| *c == ' ')
        .count();
    let mut out = Vec::new();
    for line in body {
        if !line.trim().is_empty() && line.chars().take_while(|c| *c == ' ').count() < indent {
            break;
        }
        out.push(line.get(indent..).unwrap_or(""));
    }
    while out.last().is_some_and(|l| l.trim().is_empty()) {
        out.pop();
    }
    Some((out.join("\n") + "\n", start + 2))
}

/// All RMM rules: (file name, query, first line of the query in the file).
pub fn rmm_rules() -> Option<Vec<(String, String, usize)>> {
    let dir = shared_dir()?.join("corpora/rmm-rules");
    let mut files: Vec<_> = std::fs::read_dir(&dir).ok()?.flatten().map(|e| e.path()).collect();
    files.retain(|p| p.extension().is_some_and(|e| e == "yaml"));
    files.sort();
    Some(
        files
            .iter()
            .filter_map(|p| {
                let text = std::fs::read_to_string(p).ok()?;
                let (q, line) = yaml_query(&text)?;
                Some((p.file_name()?.to_string_lossy().into_owned(), q, line))
            })
            .collect(),
    )
}

/// The conformance records: (id, query).
pub fn conformance() -> Option<Vec<(String, String)>> {
    let path = shared_dir()?.join("conformance/kql-docs-dev.jsonl");
    let text = std::fs::read_to_string(path).ok()?;
    Some(
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("valid JSON line");
                (
                    v["id"].as_str().unwrap_or("").to_string(),
                    v["query"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect(),
    )
}
