//! No query makes the engine panic: random pipelines of real operators over random
//! (often ill-typed or unresolvable) expressions either run or fail with diagnostics.

use engine::{Engine, MemCatalog, QueryError, QueryOptions, SchemaCatalog};
use proptest::prelude::*;
use std::sync::Arc;

const BASE: &str = "datatable(a:long, b:string, c:real, s:string, d:datetime, x:dynamic, g:guid)\
[1, 'one', 1.5, 'Action1 Corporation', datetime(2024-01-01), dynamic({'k': [1, 2]}), guid(74be27de-1e4e-49d9-b579-fe0b331d3642), \
 long(null), '', real(null), 'x', datetime(null), dynamic(null), guid(null), \
 3, 'three', -2.0, 'y z', datetime(2024-02-01T10:00), dynamic([1, 'a', null]), guid(00000000-0000-0000-0000-000000000000)]";

fn column() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "a", "b", "c", "s", "d", "x", "g", "x.k", "x[0]", "NoSuch", "print_0",
    ])
    .prop_map(str::to_string)
}

fn literal() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "1",
        "0",
        "-7",
        "2.5",
        "'one'",
        "''",
        "true",
        "false",
        "datetime(2024-01-01)",
        "1d",
        "dynamic([1,2])",
        "dynamic({'k':1})",
        "long(null)",
        "real(nan)",
        "guid(74be27de-1e4e-49d9-b579-fe0b331d3642)",
        "now()",
    ])
    .prop_map(str::to_string)
}

fn expr() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![column(), literal()];
    leaf.prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            (
                inner.clone(),
                prop::sample::select(vec![
                    "+",
                    "-",
                    "*",
                    "/",
                    "%",
                    "==",
                    "!=",
                    "<",
                    ">=",
                    "and",
                    "or",
                    "has",
                    "!contains",
                    "=~",
                    "startswith",
                    "matches regex"
                ]),
                inner.clone()
            )
                .prop_map(|(l, op, r)| format!("({l} {op} {r})")),
            (
                prop::sample::select(vec![
                    "strlen",
                    "tostring",
                    "toint",
                    "tolong",
                    "isnull",
                    "isempty",
                    "array_length",
                    "parse_json",
                    "bag_keys",
                    "tolower",
                    "not",
                    "typeof_nope"
                ]),
                inner.clone()
            )
                .prop_map(|(f, a)| format!("{f}({a})")),
            (inner.clone(), inner.clone(), inner.clone()).prop_map(|(a, b, c)| format!("iff({a}, {b}, {c})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("strcat({a}, {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("bin({a}, {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} in ({b}, 'x')")),
            (inner.clone(), inner.clone(), inner).prop_map(|(a, b, c)| format!("{a} between ({b} .. {c})")),
        ]
    })
}

fn operator() -> impl Strategy<Value = String> {
    prop_oneof![
        expr().prop_map(|e| format!("where {e}")),
        expr().prop_map(|e| format!("extend n = {e}")),
        (column(), expr()).prop_map(|(c, e)| format!("project {c}, e = {e}")),
        (
            prop::sample::select(vec![
                "count()",
                "sum(a)",
                "max(d)",
                "make_set(b)",
                "dcount(s)",
                "arg_max(a, *)",
                "avg(c)",
                "countif(a > 1)",
                "percentile(a, 50)"
            ]),
            column()
        )
            .prop_map(|(agg, c)| format!("summarize {agg} by {c}")),
        (column(), prop::sample::select(vec!["asc", "desc", ""])).prop_map(|(c, o)| format!("sort by {c} {o}")),
        (0u8..5).prop_map(|n| format!("take {n}")),
        column().prop_map(|c| format!("distinct {c}")),
        (0u8..4, column()).prop_map(|(n, c)| format!("top {n} by {c}")),
        column().prop_map(|c| format!("mv-expand {c}")),
        Just("count".to_string()),
        Just("getschema".to_string()),
        Just("serialize r = row_number(), p = prev(a)".to_string()),
        (
            prop::sample::select(vec!["inner", "leftouter", "rightanti", "innerunique", "fullouter"]),
            column()
        )
            .prop_map(|(k, c)| format!("join kind={k} (T) on {c}")),
        column().prop_map(|c| format!("lookup (T) on {c}")),
        Just("union T".to_string()),
        column().prop_map(|c| format!("project-away {c}")),
        column().prop_map(|c| format!("parse {c} with * 'o' rest")),
        Just("evaluate bag_unpack(x)".to_string()),
        Just("make-series sum(a) on d from datetime(2024-01-01) to datetime(2024-03-01) step 7d by b".to_string()),
        Just("top-nested 2 of b by sum(a)".to_string()),
        column().prop_map(|c| format!("as X | join (X) on {c}")),
    ]
}

fn query() -> impl Strategy<Value = String> {
    prop::collection::vec(operator(), 1..5).prop_map(|ops| format!("let T = {BASE};\nT\n| {}", ops.join("\n| ")))
}

fn check(engine: &Engine, q: &str) -> Result<(), TestCaseError> {
    match engine.query_blocking(q, &QueryOptions { now: Some(0) }) {
        Ok(_) => Ok(()),
        Err(QueryError::Invalid(diags)) => {
            prop_assert!(
                diags.iter().all(|d| !d.message.contains("planner failed")),
                "{q}\n{diags:?}"
            );
            Ok(())
        }
        Err(QueryError::Execution(e)) => {
            prop_assert!(!e.to_lowercase().contains("panic"), "{q}\n{e}");
            Ok(())
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 150, ..ProptestConfig::default() })]

    #[test]
    fn random_pipelines_do_not_panic(q in query()) {
        let engine = Engine::new(Arc::new(MemCatalog::new())).expect("engine");
        check(&engine, &q)?;
        // Validation against the built-in schemas goes through the same planner.
        let _ = engine::validate(&q, &SchemaCatalog::builtin());
    }
}

#[test]
fn hostile_inputs() {
    let engine = Engine::new(Arc::new(MemCatalog::new())).expect("engine");
    for q in [
        "",
        ";;;",
        "print",
        "let f = () { f() }; print f()",
        "let T = view () { T }; T",
        "range x from 1 to 10000000000000 step 1",
        "range x from 0 to 1 step 0",
        "print 1 | take -5",
        "print toscalar(print 1 | where false)",
        "print x = dynamic({'a': {'b': {'c': [1, [2, [3]]]}}}) | mv-expand x | mv-expand x",
        "datatable(a:long)[] | summarize arg_max(a, *) | extend r = a / 0",
        &format!("print x = {}", "1 + ".repeat(900) + "1"),
        &format!("print x = {}", "(".repeat(60) + "1" + &")".repeat(60)),
        &format!("print x = {}", vec!["true"; 1500].join(" or ")),
    ] {
        let _ = engine.query_blocking(q, &QueryOptions { now: Some(0) });
        let _ = engine.validate(q);
    }
}
