//! Development aid: parses every query of a JSON Lines file ({"id","query"}) or every
//! ```kusto block of markdown files given on the command line and prints the diagnostics.
fn main() {
    let mut total = 0;
    let mut bad = 0;
    for path in std::env::args().skip(1) {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let mut queries = Vec::new();
        if path.ends_with(".jsonl") {
            for line in text.lines() {
                let v: serde_json::Value = match serde_json::from_str(line) {
                    Ok(v) => v,
                    Err(_) => continue,
                };
                queries.push((
                    v["id"].as_str().unwrap_or("").to_string(),
                    v["query"].as_str().unwrap_or("").to_string(),
                ));
            }
        } else {
            let mut rest = text.as_str();
            let mut n = 0;
            while let Some(i) = rest.find("```kusto").or_else(|| rest.find("```kql")) {
                let after = &rest[i..];
                let body_start = after.find('\n').map_or(after.len(), |x| x + 1);
                let body = &after[body_start..];
                let end = body.find("```").unwrap_or(body.len());
                n += 1;
                queries.push((format!("{path}#{n}"), body[..end].to_string()));
                rest = &body[(end + 3).min(body.len())..];
            }
        }
        for (id, q) in queries {
            total += 1;
            let parsed = kql::parse(&q);
            let errs: Vec<_> = parsed.diagnostics.iter().filter(|d| d.is_error()).collect();
            if !errs.is_empty() {
                bad += 1;
                println!("=== {id}");
                for d in errs.iter().take(3) {
                    let pos = kql::LineIndex::new(&q).line_col(d.span.start);
                    let line = q.lines().nth(pos.line as usize - 1).unwrap_or("");
                    println!("  {}:{} {} | {}", pos.line, pos.column, d.message, line.trim());
                }
            }
        }
    }
    println!("{bad} of {total} with errors");
}
