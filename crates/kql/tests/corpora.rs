//! Agreement with Kusto on the corpora: the RMM hunting rules and the documentation's
//! conformance examples.

use crate::common;
/// The four RMM rules that Kusto rejects, with the first diagnostic Quarry reports:
/// (file, code, message, file line, file column).
const INVALID_RMM: &[(&str, &str, &str, usize, usize)] = &[
    // `| Sha1 in (rmmInitialFileSet)`: the `where` is missing.
    (
        "rmm_DWService_createproc.yaml",
        "KS176",
        "Query operator expected.",
        25,
        5,
    ),
    // `FolderPath has_all has_any (`: two operators in a row.
    ("rmm_Level_createproc.yaml", "KS005", "Expected: (", 19, 30),
    // `'foris.cloudberrylab.com',\t// MSP360` then `)`: trailing comma in the list.
    (
        "rmm_MSP360_CloudBerry_netconn.yaml",
        "KS006",
        "Missing expression",
        23,
        37,
    ),
    // `'zohostatic.in',` then `)`: trailing comma in the list.
    ("rmm_ZohoAssist_netconn.yaml", "KS006", "Missing expression", 36, 27),
];

#[test]
fn rmm_rules_agree_with_kusto() {
    let Some(rules) = common::rmm_rules() else {
        return eprintln!("../shared not found: skipped");
    };
    assert_eq!(rules.len(), 168);
    let mut rejected = Vec::new();
    for (file, query, first_line) in &rules {
        let parsed = kql::parse(query);
        let errors: Vec<_> = parsed.diagnostics.iter().filter(|d| d.is_error()).collect();
        if errors.is_empty() {
            assert!(parsed.diagnostics.is_empty(), "{file}: {:?}", parsed.diagnostics);
            continue;
        }
        assert_eq!(errors.len(), 1, "{file}: one mistake, one diagnostic: {errors:?}");
        let d = errors[0];
        let pos = kql::LineIndex::new(query).line_col(d.span.start);
        // The query block is indented by two spaces in the file.
        let (line, column) = (pos.line as usize + first_line - 1, pos.column as usize + 2);
        rejected.push((file.clone(), d.code.clone(), d.message.clone(), line, column));
    }
    let expected: Vec<_> = INVALID_RMM
        .iter()
        .map(|(f, c, m, l, col)| (f.to_string(), c.to_string(), m.to_string(), *l, *col))
        .collect();
    assert_eq!(rejected, expected);
}

#[test]
fn conformance_queries_parse() {
    let Some(records) = common::conformance() else {
        return eprintln!("../shared not found: skipped");
    };
    let gaps_text = include_str!("data/conformance_known_gaps.txt");
    let known: Vec<&str> = gaps_text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let failing: Vec<&str> = records
        .iter()
        .filter(|(_, q)| !kql::parse(q).diagnostics.is_empty())
        .map(|(id, _)| id.as_str())
        .collect();
    let unlisted: Vec<_> = failing.iter().filter(|id| !known.contains(id)).collect();
    let fixed: Vec<_> = known.iter().filter(|id| !failing.contains(id)).collect();
    assert!(
        unlisted.is_empty(),
        "records with diagnostics, not in the known gaps: {unlisted:?}"
    );
    assert!(fixed.is_empty(), "listed as gaps but now parse: {fixed:?}");
    let rate = 1.0 - failing.len() as f64 / records.len() as f64;
    assert!(rate >= 0.99, "parse rate {rate}");
}
