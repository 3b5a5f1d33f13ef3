//! The lexer and parser never panic, and deep nesting is a diagnostic, not a stack
//! overflow. Everything parsed is also printed, rendered and serialized, so that those
//! walks are covered too.

use crate::common;
use proptest::prelude::*;

/// Parses and exercises every consumer of the tree; panics only on a bug.
fn exercise(src: &str) {
    let parsed = kql::parse(src);
    let _ = kql::print(&parsed.query);
    let _ = serde_json::to_string(&parsed.query).expect("serializes");
    for d in parsed.diagnostics.iter().take(5) {
        let _ = kql::render(d, src, &kql::RenderOptions::default());
        assert!(
            d.span.start <= d.span.end && d.span.end as usize <= src.len(),
            "{d:?} out of {}",
            src.len()
        );
    }
    let _ = kql::lex(src);
    let _ = kql::format(src);
}

/// Runs `f` on a thread with the default 2 MiB test stack.
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(f)
        .expect("thread")
        .join()
        .expect("no panic");
}

const TOKENS: &[&str] = &[
    "T",
    "|",
    "where",
    "x",
    "==",
    "'s'",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ";",
    "let",
    "=",
    "1",
    "1.5",
    "5d",
    "datetime(2020-01-01)",
    "dynamic(",
    "summarize",
    "count()",
    "by",
    "and",
    "or",
    "in",
    "has_any",
    "between",
    "..",
    "join",
    "on",
    "$left.a",
    "project",
    "extend",
    "mv-apply",
    "graph-match",
    "-->",
    "-[",
    "]->",
    "scan",
    "step",
    "=>",
    ":",
    "*",
    "-",
    "+",
    "!has",
    "in~",
    "@'v'",
    "```m```",
    "h'x'",
    "\"",
    "'",
    "//c\n",
    "\n",
    "print",
    "range",
    "from",
    "to",
    "datatable",
    "typeof",
    "(x:long)",
    "{",
    "render",
    "with",
    "fork",
    "partition",
    "toscalar(",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        exercise(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn random_text_never_panics(s in "\\PC{0,200}") {
        exercise(&s);
    }

    #[test]
    fn token_soup_never_panics(idx in proptest::collection::vec(0..TOKENS.len(), 0..60)) {
        let src: Vec<&str> = idx.iter().map(|&i| TOKENS[i]).collect();
        exercise(&src.join(" "));
        exercise(&src.concat());
    }
}

#[test]
fn truncations_of_corpus_queries_never_panic() {
    let mut queries: Vec<String> = Vec::new();
    if let Some(rules) = common::rmm_rules() {
        queries.extend(rules.into_iter().map(|(_, q, _)| q));
    }
    if let Some(records) = common::conformance() {
        queries.extend(records.into_iter().map(|(_, q)| q));
    }
    queries
        .push("let f = (T:(x:long)) { T | where x in ('a', 'b') }; f(datatable(x:long)[1]) | render timechart".into());
    for q in &queries {
        let cuts: Vec<usize> = (0..=q.len()).filter(|i| q.is_char_boundary(*i)).collect();
        let step = (cuts.len() / 40).max(1);
        for &cut in cuts.iter().step_by(step) {
            exercise(&q[..cut]);
            exercise(&q[cut..]);
        }
    }
}

#[test]
fn deep_nesting_is_a_diagnostic() {
    on_small_stack(|| {
        for (open, close) in [("(", ")"), ("f(", ")"), ("dynamic([", "])"), ("-", "")] {
            let src = format!("print {}1{}", open.repeat(100_000), close.repeat(100_000));
            let parsed = kql::parse(&src);
            assert!(
                parsed.diagnostics.iter().any(|d| d.code == "QRY002"),
                "{open}: {:?}",
                parsed.diagnostics.first()
            );
            assert!(parsed.diagnostics.len() <= 2, "{open}: {:?}", parsed.diagnostics);
            let _ = kql::print(&parsed.query);
        }
        let src = "T | where ".to_string() + &"(".repeat(100_000);
        assert!(kql::parse(&src).diagnostics.iter().any(|d| d.code == "QRY002"));
        let src = "T | union ".to_string() + &"(T | union ".repeat(10_000);
        assert!(kql::parse(&src).diagnostics.iter().any(|d| d.code == "QRY002"));
    });
}

#[test]
fn nesting_just_under_the_limit_parses() {
    on_small_stack(|| {
        // Each parenthesis level takes two nesting levels (the parenthesis and its content).
        let depth = (kql::MAX_NESTING as usize) / 2 - 2;
        let src = format!("print {}1{}", "(".repeat(depth), ")".repeat(depth));
        let parsed = kql::parse(&src);
        assert!(parsed.is_ok(), "{:?}", parsed.diagnostics);
        let again = kql::parse(&kql::print(&parsed.query));
        assert!(again.is_ok());
    });
}

#[test]
fn long_operator_chains_are_bounded() {
    on_small_stack(|| {
        // A long but reasonable chain parses and can be printed, serialized and dropped.
        let ok = format!("T | where {}", vec!["x == 1"; 950].join(" or "));
        let parsed = kql::parse(&ok);
        assert!(parsed.is_ok(), "{:?}", parsed.diagnostics.first());
        let _ = kql::print(&parsed.query);
        let _ = serde_json::to_string(&parsed.query).expect("serializes");
        // Beyond the depth limit: a diagnostic.
        let too_long = format!("T | where {}", vec!["x"; 50_000].join(" or "));
        let parsed = kql::parse(&too_long);
        assert!(
            parsed.diagnostics.iter().any(|d| d.code == "QRY003"),
            "{:?}",
            parsed.diagnostics.first()
        );
        let members = format!("print a{}", ".b".repeat(50_000));
        assert!(kql::parse(&members).diagnostics.iter().any(|d| d.code == "QRY003"));
    });
}
