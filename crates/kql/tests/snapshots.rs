//! Snapshot tests: trees of representative constructs, and rendered diagnostics of bad
//! queries (review changes with `cargo insta review`).

fn ast(query: &str) -> kql::ast::Query {
    let parsed = kql::parse(query);
    assert!(parsed.diagnostics.is_empty(), "{query}\n{:?}", parsed.diagnostics);
    parsed.query
}

fn diagnostics(query: &str) -> String {
    let parsed = kql::parse(query);
    assert!(!parsed.is_ok(), "expected errors for {query}");
    let rendered = kql::render_all(&parsed.diagnostics, query, &kql::RenderOptions::named("query.kql"));
    format!("{query}\n=====\n{rendered}")
}

macro_rules! ast_snapshot {
    ($name:ident, $query:expr) => {
        #[test]
        fn $name() {
            insta::assert_json_snapshot!(stringify!($name), ast($query));
        }
    };
}

macro_rules! diag_snapshot {
    ($name:ident, $query:expr) => {
        #[test]
        fn $name() {
            insta::assert_snapshot!(stringify!($name), diagnostics($query));
        }
    };
}

ast_snapshot!(
    ast_let_and_pipeline,
    "let start = ago(5d);\nT | where Timestamp between (start .. now()) and Name has_cs 'x' | take 10"
);
ast_snapshot!(ast_precedence, "print a or b and not(c) or d == 1 + 2 * -3 < 4");
ast_snapshot!(
    ast_string_forms,
    r#"print 'a\'b' "c" @'d''e', h'secret', H@"x", ```multi
line```"#
);
ast_snapshot!(
    ast_numeric_literals,
    "print 0x1F, 1e3, int(5), long(null), real(nan), real(+inf), real(-inf), decimal(1.5), 1.5, bool(null), true"
);
ast_snapshot!(
    ast_time_literals,
    "print datetime(2015-12-31 23:59:59.9), datetime(null), 5d, 1.5h, 10ms, 1tick, 3microsecond, time(1.02:03:04), timespan(2), timespan(null), guid(74be27de-1e4e-49d9-b579-fe0b331d3642)"
);
ast_snapshot!(
    ast_dynamic,
    r#"print dynamic({"a": [1, -2.5, null, true, datetime(2020-01-01)], "b": {"c": "d"}}), dynamic(null), typeof(long), typeof(x:string, *)"#
);
ast_snapshot!(
    ast_in_and_has_any,
    "T | where x in~ ('a', 'b') and y !in (T2 | project y) and z has_any (dynamic(['p'])) and w !between (1 .. 5)"
);
ast_snapshot!(
    ast_names_and_access,
    r#"T | extend a = ['my col'].b['k'][0], c = x[-1], d = $left.k, e = cluster('c').database('d').Table, f = bag.['where']"#
);
ast_snapshot!(
    ast_summarize,
    "T | summarize hint.strategy=shuffle (a, b) = arg_max(t, *), count() by bin(Timestamp, 1h), k = tostring(x)"
);
ast_snapshot!(
    ast_join_lookup_union,
    "T | join kind=leftouter hint.remote=auto (U | where x > 1) on $left.a == $right.b, c | lookup kind=inner (V) on k | union kind=outer withsource=Src isfuzzy=true W*, (X)"
);
ast_snapshot!(
    ast_function_let,
    "let f = (T:(x:long, *), n:int = 5) { T | where x > n };\nlet v = view () { print 1 };\nf(datatable(x:long)[1, 2], 3)"
);
ast_snapshot!(
    ast_statements,
    "declare query_parameters(p:string = 'a', n:long);\nset notruncation;\nset query_now = datetime(2020-01-01);\nalias database db = cluster('c').database('d');\nrestrict access to (T1, database('x').*);\nT1"
);
ast_snapshot!(
    ast_mv_and_parse,
    r#"T | mv-expand kind=array with_itemindex=i a = arr to typeof(long), b limit 10 | mv-apply x = arr to typeof(long) on (top 1 by x | project x) | parse kind=regex flags=Ui msg with * "id=" id:long " " rest | parse-kv kv as (a:string, b:long) with (pair_delimiter=',', kv_delimiter=':')"#
);
ast_snapshot!(
    ast_sources,
    "union (range x from 1 to 3 step 1), (print y = 1), (datatable(z:string)['a']), (externaldata(s:string)[h@'https://x/y.csv'] with (format='csv'))"
);
ast_snapshot!(
    ast_make_series_and_top_nested,
    "T | make-series kind=nonempty avg(v) default=0 on t from datetime(2020-01-01) to now() step 1d by k | top-nested 3 of a with others = 'other' by s = sum(v) desc, top-nested of b by max(v)"
);
ast_snapshot!(
    ast_scan,
    "T | scan with_match_id=m declare (s:long = 0) with (step a output=last: x > 1 => s = s + 1; step b: x < s;)"
);
ast_snapshot!(
    ast_graph,
    "E | make-graph src --> dst with N on id | graph-match cycles=none (a)-[e*1..3]->(b)<--(c), (a)--(d) where a.x == 1 project a.name, n = b.id | graph-to-table nodes as N with_node_id=id, edges as E"
);
ast_snapshot!(
    ast_fork_facet_partition_evaluate,
    "T | fork (where x | take 1) named=(count) | facet by a, b with (take 3) | partition hint.strategy=native by k (top 1 by t) | evaluate hint.distribution=per_node bag_unpack(d, 'p_') : (*, Name:string) | invoke f(1) | render timechart with (title='t', ycolumns=a, b)"
);
ast_snapshot!(
    ast_find_search,
    r#"find withsource=S in (T1, T*) where x == 1 project a, b:string; search in (T) Col:"v" and "w"; T | search kind=case_sensitive * has "x""#
);
ast_snapshot!(
    ast_misc_operators,
    "T | project-away a*, b | project-keep c | project-rename n = o | project-reorder d desc, e* granny-asc | project-by-names 'f', 'g*' | sample 5 | sample-distinct 2 of h | serialize rn = row_number() | reduce by msg with threshold=0.5 | top-hitters 3 of q by w | getschema | consume | as hint.materialized=true M | distinct * | count"
);

diag_snapshot!(diag_unterminated_string, "T\n| where Name == 'abc\n| take 10");
diag_snapshot!(diag_missing_operand, "T | where x == ");
diag_snapshot!(diag_unknown_operator, "T\n| summarise count() by x");
diag_snapshot!(diag_not_an_operator, "T\n| Sha1 in (x)");
diag_snapshot!(diag_stray_pipe, "T\n| where x > 1\n|\n| take 1");
diag_snapshot!(diag_trailing_pipe, "T | take 1 |");
diag_snapshot!(diag_unbalanced_open, "T | where (x > 1 and (y < 2)\n| take 1");
diag_snapshot!(diag_unbalanced_close, "T | where x > 1)\n| take 1");
diag_snapshot!(diag_three_mistakes, "T\n| where x == \n| summarize count( by y\n| take");
diag_snapshot!(diag_trailing_comma, "T | where x in ('a', 'b',)");
diag_snapshot!(diag_operator_first, "where x > 1");
diag_snapshot!(diag_keyword_as_name, "T | project by");
diag_snapshot!(diag_bad_literals, "print 5zz, time(abc), guid(xyz), int(1.5), x:lng");
diag_snapshot!(diag_missing_join_on, "T | join (U)");
diag_snapshot!(diag_management_command, ".show tables");
diag_snapshot!(diag_datatable_values, "datatable(a:long, b:string)[1, 'x', 2]");
diag_snapshot!(diag_bad_type, "datatable(a:lng)[1]");
