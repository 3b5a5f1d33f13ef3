//! Tabular operators, with Kusto's edge cases (nulls, names, duplicates, ordering).

use crate::common::{NOW, columns, errors, eval, ordered_rows, rows};
use engine::MemCatalog;

fn r(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|s| s.to_string()).collect()
}

fn table(rows: &[&[&str]]) -> Vec<Vec<String>> {
    let mut t: Vec<Vec<String>> = rows.iter().map(|x| r(x)).collect();
    t.sort();
    t
}

fn codes(query: &str) -> Vec<String> {
    errors(&MemCatalog::new(), query)
        .into_iter()
        .map(|(c, m)| format!("{c}: {m}"))
        .collect()
}

const T: &str = "let T = datatable(k:string, v:long, d:datetime)['a', 1, datetime(2024-01-01), 'b', 2, datetime(2024-01-02), 'a', 3, datetime(2024-01-03), 'c', long(null), datetime(null)];";

#[test]
fn where_drops_null_predicates_and_wants_a_bool() {
    let q = format!("{T} T | where v > 1 | project k, v");
    assert_eq!(rows(&eval(&q)), table(&[&["a", "3"], &["b", "2"]]));
    assert_eq!(
        codes(&format!("{T} T | where v")),
        ["KS107: A value of type bool expected."]
    );
    assert_eq!(
        codes(&format!("{T} T | where nope > 1")),
        ["SEM0100: 'where' operator: Failed to resolve scalar expression named 'nope'"]
    );
}

#[test]
fn several_errors_are_reported() {
    let errs = codes(&format!("{T} T | where x > 1 | summarize count() by y, z"));
    assert_eq!(errs.len(), 3, "{errs:?}");
}

#[test]
fn extend_names_and_replaces() {
    let q = format!("{T} T | where k == 'b' | extend w = v * 10, v2 = w + 1, strlen(k), tostring(v)");
    let res = eval(&q);
    // `tostring(v)` is named `v` and replaces it in place; `strlen(k)` is `strlen_k`.
    assert_eq!(columns(&res), ["k", "v", "d", "w", "v2", "strlen_k"]);
    assert_eq!(
        rows(&res),
        table(&[&["b", "2", "2024-01-02T00:00:00Z", "20", "21", "1"]])
    );
    let res = eval(&format!("{T} T | take 1 | extend v + 1, v * 2"));
    assert_eq!(columns(&res), ["k", "v", "d", "Column1", "Column2"]);
}

#[test]
fn project_declares_each_name_once() {
    let res = eval(&format!("{T} T | take 1 | project a = k, strlen(k), strlen(k)"));
    assert_eq!(columns(&res), ["a", "strlen_k", "strlen_k1"]);
    assert_eq!(
        codes(&format!("{T} T | project k, k")),
        ["KS171: A column with the name 'k' is already declared."]
    );
}

#[test]
fn project_variants() {
    let q = |op: &str| columns(&eval(&format!("{T} T | extend Prop1 = 1, Prop2 = 2 | {op}")));
    assert_eq!(q("project-away Prop*"), ["k", "v", "d"]);
    assert_eq!(q("project-away v, d"), ["k", "Prop1", "Prop2"]);
    assert_eq!(q("project-keep Prop2, k"), ["k", "Prop2"]);
    assert_eq!(q("project-rename key = k"), ["key", "v", "d", "Prop1", "Prop2"]);
    assert_eq!(q("project-reorder Prop2, d"), ["Prop2", "d", "k", "v", "Prop1"]);
    assert_eq!(q("project-reorder Prop* desc"), ["Prop2", "Prop1", "k", "v", "d"]);
    assert_eq!(
        codes(&format!("{T} T | project-away nope")),
        ["SEM0100: 'project-away' operator: Failed to resolve column or scalar expression named 'nope'"]
    );
    assert_eq!(
        codes(&format!("{T} T | project-rename v = k")),
        ["KS171: A column with the name 'v' is already declared."]
    );
}

#[test]
fn summarize_names_and_orders_its_columns() {
    let res = eval(&format!(
        "{T} T | summarize count(), sum(v), max(d), avg_v = avg(v) by k"
    ));
    assert_eq!(columns(&res), ["k", "count_", "sum_v", "max_d", "avg_v"]);
    assert_eq!(
        rows(&res),
        table(&[
            &["a", "2", "4", "2024-01-03T00:00:00Z", "2"],
            &["b", "1", "2", "2024-01-02T00:00:00Z", "2"],
            &["c", "1", "", "", ""],
        ])
    );
    // Aggregates inside expressions; `bin` keys are named after their column.
    let res = eval(&format!("{T} T | summarize r = sum(v) * 1.0 / count() by bin(d, 2d)"));
    assert_eq!(columns(&res), ["d", "r"]);
    // No `by` over no rows: one row.
    let res = eval(&format!("{T} T | where v > 100 | summarize count(), sum(v)"));
    assert_eq!(rows(&res), table(&[&["0", ""]]));
    // With `by` over no rows: none.
    assert!(rows(&eval(&format!("{T} T | where v > 100 | summarize count() by k"))).is_empty());
    assert_eq!(
        codes(&format!("{T} T | summarize count() by k, k")),
        ["KS171: A column with the name 'k' is already declared."]
    );
}

#[test]
fn arg_max_star_returns_the_row() {
    let res = eval(&format!("{T} T | summarize arg_max(v, *) by k | where isnotnull(v)"));
    assert_eq!(columns(&res), ["k", "v", "d"]);
    assert_eq!(
        rows(&res),
        table(&[&["a", "3", "2024-01-03T00:00:00Z"], &["b", "2", "2024-01-02T00:00:00Z"]])
    );
}

#[test]
fn count_distinct_take() {
    assert_eq!(rows(&eval(&format!("{T} T | count"))), table(&[&["4"]]));
    assert_eq!(columns(&eval(&format!("{T} T | count"))), ["Count"]);
    assert_eq!(
        rows(&eval(&format!("{T} T | distinct k"))),
        table(&[&["a"], &["b"], &["c"]])
    );
    assert_eq!(eval(&format!("{T} T | take 2"))[0].row_count(), 2);
    assert_eq!(eval(&format!("{T} T | limit 0"))[0].row_count(), 0);
}

#[test]
fn sort_defaults_to_descending_with_nulls_last() {
    let q = |s: &str| {
        ordered_rows(&eval(&format!("{T} T | {s} | project v")))
            .into_iter()
            .map(|r| r[0].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(q("sort by v"), ["3", "2", "1", ""]);
    assert_eq!(q("order by v asc"), ["", "1", "2", "3"]);
    assert_eq!(q("sort by v asc nulls last"), ["1", "2", "3", ""]);
    assert_eq!(q("top 2 by v"), ["3", "2"]);
    assert_eq!(q("top 2 by v asc"), ["", "1"]);
    // NaN sorts next to the nulls, as the reference documents.
    let reals = "datatable(x:real)[1.0, real(null), real(nan), -1.0, real(+inf)]";
    let s = |o: &str| {
        ordered_rows(&eval(&format!("{reals} | sort by x {o}")))
            .into_iter()
            .map(|r| r[0].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(s("asc"), ["", "NaN", "-1", "1", "Infinity"]);
    assert_eq!(s("desc"), ["Infinity", "1", "-1", "NaN", ""]);
    assert_eq!(s("asc nulls last"), ["-1", "1", "Infinity", "NaN", ""]);
}

#[test]
fn joins_by_kind() {
    let lr = "let L = datatable(k:string, x:long)['a',1,'a',2,'b',3,'d',4]; let R = datatable(k:string, y:long)['a',10,'b',20,'b',21,'c',30];";
    let j = |kind: &str| rows(&eval(&format!("{lr} L | join {kind} (R) on k")));
    // innerunique (the default): one left row per key.
    assert_eq!(j("").len(), 3);
    assert_eq!(
        columns(&eval(&format!("{lr} L | join (R) on k"))),
        ["k", "x", "k1", "y"]
    );
    assert_eq!(
        j("kind=inner"),
        table(&[
            &["a", "1", "a", "10"],
            &["a", "2", "a", "10"],
            &["b", "3", "b", "20"],
            &["b", "3", "b", "21"]
        ])
    );
    assert_eq!(j("kind=leftouter").len(), 5);
    assert!(j("kind=leftouter").contains(&r(&["d", "4", "", ""])));
    assert_eq!(j("kind=rightouter").len(), 5);
    assert_eq!(j("kind=fullouter").len(), 6);
    assert_eq!(j("kind=leftanti"), table(&[&["d", "4"]]));
    assert_eq!(j("kind=rightanti"), table(&[&["c", "30"]]));
    assert_eq!(j("kind=leftsemi"), table(&[&["a", "1"], &["a", "2"], &["b", "3"]]));
    assert_eq!(j("kind=rightsemi"), table(&[&["a", "10"], &["b", "20"], &["b", "21"]]));
    let res = eval(&format!(
        "{lr} L | join kind=inner (R | project key = k, y) on $left.k == $right.key"
    ));
    assert_eq!(columns(&res), ["k", "x", "key", "y"]);
    assert_eq!(
        codes(&format!("{lr} L | join (R) on x")),
        ["KS145: The column 'x' must exist on both sides of the join."]
    );
}

#[test]
fn lookup_does_not_repeat_keys() {
    let q = "let F = datatable(k:string, x:long)['a',1,'z',2]; let D = datatable(k:string, name:string, x:long)['a','A',9]; F | lookup (D) on k";
    let res = eval(q);
    assert_eq!(columns(&res), ["k", "x", "name", "x1"]);
    assert_eq!(rows(&res), table(&[&["a", "1", "A", "9"], &["z", "2", "", ""]]));
}

#[test]
fn union_columns_and_sources() {
    let q = "let A = datatable(x:long, s:string)[1,'a']; let B = datatable(x:long, t:string)[2,'b'];";
    let res = eval(&format!("{q} union withsource=Source A, B"));
    assert_eq!(columns(&res), ["Source", "x", "s", "t"]);
    assert_eq!(rows(&res), table(&[&["A", "1", "a", ""], &["B", "2", "", "b"]]));
    assert_eq!(columns(&eval(&format!("{q} union kind=inner A, B"))), ["x"]);
    assert_eq!(rows(&eval(&format!("{q} A | union B | count"))), table(&[&["2"]]));
    assert_eq!(
        rows(&eval(&format!("{q} union isfuzzy=true A, Missing | count"))),
        table(&[&["1"]])
    );
    assert_eq!(
        codes(&format!("{q} union A, Missing")),
        ["SEM0100: 'union' operator: Failed to resolve table or column expression named 'Missing'"]
    );
}

#[test]
fn mv_expand_arrays_bags_and_types() {
    let res = eval(
        "datatable(a:int, b:dynamic)[1, dynamic([10, 20]), 2, dynamic(['x']), 3, dynamic([]), 4, dynamic(null)] | mv-expand b",
    );
    assert_eq!(
        rows(&res),
        table(&[&["1", "10"], &["1", "20"], &["2", "x"], &["4", ""]])
    );
    let res = eval("print d = dynamic({'p': 1, 'q': 'x'}) | mv-expand d");
    assert_eq!(rows(&res), table(&[&[r#"{"p":1}"#], &[r#"{"q":"x"}"#]]));
    let res = eval("print d = dynamic({'p': 1}) | mv-expand kind=array d");
    assert_eq!(rows(&res), table(&[&[r#"["p",1]"#]]));
    let res = eval("print d = dynamic([1, 2, 3]) | mv-expand with_itemindex=i x = d to typeof(long) limit 2");
    assert_eq!(columns(&res), ["d", "x", "i"]);
    assert_eq!(res[0].columns[1].1, schema::KqlType::Long);
    assert_eq!(rows(&res), table(&[&["[1,2,3]", "1", "0"], &["[1,2,3]", "2", "1"]]));
    // Several columns expand in parallel; the shorter is padded with nulls.
    let res = eval("print a = dynamic([1, 2, 3]), b = dynamic(['x']) | mv-expand a, b");
    assert_eq!(rows(&res), table(&[&["1", "x"], &["2", ""], &["3", ""]]));
    assert_eq!(
        codes("print a = 1 | mv-expand a"),
        ["KS107: A value of type dynamic expected."]
    );
}

#[test]
fn parse_kinds() {
    let res = eval(r#"print s = "name=Bob, age=42" | parse s with "name=" name ", age=" age:long"#);
    assert_eq!(columns(&res), ["s", "name", "age"]);
    assert_eq!(rows(&res), table(&[&["name=Bob, age=42", "Bob", "42"]]));
    // No match: empty strings and nulls.
    let res = eval(r#"print s = "other" | parse s with "name=" name ", age=" age:long | project name, age"#);
    assert_eq!(rows(&res), table(&[&["", ""]]));
    let res = eval(r#"print s = "a1b22" | parse kind=regex s with "a" x:long "b" y:long"#);
    assert_eq!(rows(&res), table(&[&["a1b22", "1", "22"]]));
    let res = eval(r#"datatable(s:string)["k=1", "k=x"] | parse-where s with "k=" v:long"#);
    assert_eq!(rows(&res), table(&[&["k=1", "1"]]));
    // The user's own regex groups do not shift the columns.
    let res = eval(r#"print s = "xb12" | parse kind=regex s with "(a|x)b" n:long | project n"#);
    assert_eq!(rows(&res), table(&[&["12"]]));
    // Typed columns of other types convert; text that does not convert fails the row.
    let res = eval(r#"print s = "at 2024-01-02 end" | parse s with "at " d:datetime " end" | project d"#);
    assert_eq!(rows(&res), table(&[&["2024-01-02T00:00:00Z"]]));
    let res = eval(
        r#"datatable(s:string)["at 2024-01-02 end", "at never end"] | parse-where s with "at " d:datetime " end""#,
    );
    assert_eq!(rows(&res), table(&[&["at 2024-01-02 end", "2024-01-02T00:00:00Z"]]));
}

#[test]
fn union_legs_named_by_as() {
    let res = eval("union withsource = Src (print x = 1 | as First), (print x = 2) | order by x asc");
    assert_eq!(ordered_rows(&res), [r(&["First", "1"]), r(&["union_arg1", "2"])]);
}

#[test]
fn sources() {
    let res = eval("print 1, x = 'a', 2");
    assert_eq!(columns(&res), ["print_0", "x", "print_2"]);
    let res = eval("range t from datetime(2024-01-01) to datetime(2024-01-02) step 12h");
    assert_eq!(
        ordered_rows(&res),
        [
            r(&["2024-01-01T00:00:00Z"]),
            r(&["2024-01-01T12:00:00Z"]),
            r(&["2024-01-02T00:00:00Z"])
        ]
    );
    assert_eq!(
        ordered_rows(&eval("range x from 5 to 1 step -2")),
        [r(&["5"]), r(&["3"]), r(&["1"])]
    );
    assert!(ordered_rows(&eval("range x from 5 to 1 step 1")).is_empty());
    assert_eq!(
        codes("datatable(a:long, b:string)[1, 'x', 2]"),
        ["KS173: Incorrect number of data values. The values should appear in multiples of 2."]
    );
    assert_eq!(
        codes("datatable(a:long)['x']"),
        ["KS107: A value of type long expected."]
    );
    assert!(eval("datatable(a:long)[] | count")[0].row_count() == 1);
}

#[test]
fn let_functions_and_invocation() {
    let q = "let n = 2 * 3; let f = (x:long, y:long = 10) { x + y }; let g = (T:(v:long)) { T | summarize s = sum(v) }; \
             let Data = datatable(v:long)[1, 2]; Data | invoke g() | extend a = f(s), b = f(s, n)";
    assert_eq!(rows(&eval(q)), table(&[&["3", "13", "9"]]));
    let res = eval("let T = datatable(v:long)[5, 7]; print m = toscalar(T | summarize max(v))");
    assert_eq!(rows(&res), table(&[&["7"]]));
    let res = eval("let T = materialize(datatable(v:long)[1, 2]); T | union T | count");
    assert_eq!(rows(&res), table(&[&["4"]]));
    let res = eval("let V1 = view () { print x = 1 }; let V2 = view () { print x = 2 }; union V* | count");
    assert_eq!(rows(&res), table(&[&["2"]]));
    assert_eq!(
        codes("let g = (T:(v:long)) { T | count }; datatable(w:long)[1] | invoke g()"),
        ["KS249: The tabular value does not have the required columns: 'v' is missing."]
    );
    assert_eq!(
        codes("let f = (x:long) { x }; print f('a')"),
        ["KS107: A value of type long expected."]
    );
}

#[test]
fn window_functions_need_serialized_rows() {
    let res = eval(
        "datatable(v:long)[3, 1, 2] | sort by v asc | extend n = row_number(), p = prev(v), c = row_cumsum(v), nx = next(v, 1, -1)",
    );
    assert_eq!(
        ordered_rows(&res),
        [
            r(&["1", "1", "", "1", "2"]),
            r(&["2", "2", "1", "3", "3"]),
            r(&["3", "3", "2", "6", "-1"])
        ]
    );
    assert_eq!(
        codes("datatable(v:long)[1] | extend n = row_number()"),
        [
            "SEM0063: Function 'row_number' cannot be invoked in current context. Details: the row set must be serialized"
        ]
    );
    let res = eval(
        "datatable(id:string, t:datetime)['a', datetime(2024-01-01 10:00), 'a', datetime(2024-01-01 10:03), \
         'a', datetime(2024-01-01 10:20), 'b', datetime(2024-01-01 10:21)] \
         | sort by id asc, t asc | extend s = row_window_session(t, 1h, 5m, id != prev(id)) | project s",
    );
    assert_eq!(
        ordered_rows(&res),
        [
            r(&["2024-01-01T10:00:00Z"]),
            r(&["2024-01-01T10:00:00Z"]),
            r(&["2024-01-01T10:20:00Z"]),
            r(&["2024-01-01T10:21:00Z"])
        ]
    );
    let res = eval("datatable(v:long)[1, 2] | serialize | extend n = row_number(10)");
    assert_eq!(rows(&res), table(&[&["1", "10"], &["2", "11"]]));
}

#[test]
fn as_getschema_render_now() {
    let res = eval("datatable(a:long, g:guid, d:dynamic)[] | getschema");
    assert_eq!(
        ordered_rows(&res),
        [
            r(&["a", "0", "System.Int64", "long"]),
            r(&["g", "1", "System.Guid", "guid"]),
            r(&["d", "2", "System.Object", "dynamic"]),
        ]
    );
    let res = eval("range x from 1 to 3 step 1 | as X | join kind=inner (X | where x > 1) on x | count");
    assert_eq!(rows(&res), table(&[&["2"]]));
    assert_eq!(rows(&eval("print 1 | render table")), table(&[&["1"]]));
    let now = schema::values::format_datetime(NOW);
    assert_eq!(
        rows(&eval("print now(), ago(1d) < now()")),
        table(&[&[now.as_str(), "true"]])
    );
}

#[test]
fn several_results() {
    let res = eval("print a = 1; print b = 2");
    assert_eq!(res.len(), 2);
    let res = eval("range x from 1 to 4 step 1 | fork (where x > 2) (count)");
    assert_eq!(res.len(), 2);
    assert_eq!(res[1].name.as_deref(), Some("GenericResult1"));
}

#[test]
fn top_nested_make_series_top_hitters() {
    let q = "datatable(s:string, c:string, n:long)['x','p',1,'x','q',5,'y','p',2,'y','p',2,'z','r',9]";
    let res = eval(&format!(
        "{q} | top-nested 2 of s by total = sum(n), top-nested 1 of c by sum(n)"
    ));
    assert_eq!(columns(&res), ["s", "total", "c", "aggregated_c"]);
    assert_eq!(rows(&res), table(&[&["x", "6", "q", "5"], &["z", "9", "r", "9"]]));
    let res = eval(&format!("{q} | top-hitters 1 of s"));
    assert_eq!(rows(&res), table(&[&["x", "2"]]));
    let ms = "datatable(t:datetime, v:long)[datetime(2024-01-01), 1, datetime(2024-01-01T05:00), 2, datetime(2024-01-03), 4]";
    let res = eval(&format!(
        "{ms} | make-series sum(v) default=-1 on t from datetime(2024-01-01) to datetime(2024-01-04) step 1d"
    ));
    assert_eq!(columns(&res), ["sum_v", "t"]);
    assert_eq!(
        rows(&res),
        table(&[&[
            "[3,-1,4]",
            r#"["2024-01-01T00:00:00.0000000Z","2024-01-02T00:00:00.0000000Z","2024-01-03T00:00:00.0000000Z"]"#
        ]])
    );
}

#[test]
fn plugins() {
    let res = eval("datatable(d:dynamic)[dynamic({'b': 1, 'a': 'x'}), dynamic({'a': 'y'})] | evaluate bag_unpack(d)");
    assert_eq!(columns(&res), ["a", "b"]);
    assert_eq!(res[0].columns[1].1, schema::KqlType::Long);
    assert_eq!(rows(&res), table(&[&["x", "1"], &["y", ""]]));
    let res = eval("datatable(k:string, c:string)['a','x','a','y','b','x'] | evaluate pivot(c)");
    assert_eq!(columns(&res), ["k", "x", "y"]);
    assert_eq!(rows(&res), table(&[&["a", "1", "1"], &["b", "1", "0"]]));
    let res = eval("datatable(a:long, b:string)[1, 'x'] | evaluate narrow()");
    assert_eq!(rows(&res), table(&[&["0", "a", "1"], &["0", "b", "x"]]));
}

#[test]
fn scan_sessions() {
    let q = "datatable(t:long, e:string)[1,'Start',2,'x',3,'Stop',4,'y',5,'Start',6,'Stop'] | sort by t asc \
             | scan with_match_id=m with (step s1: e == 'Start'; step s2: e == 'Stop';)";
    let res = eval(q);
    assert_eq!(
        ordered_rows(&res),
        [
            r(&["1", "Start", "0"]),
            r(&["3", "Stop", "0"]),
            r(&["5", "Start", "1"]),
            r(&["6", "Stop", "1"])
        ]
    );
}

#[test]
fn search_terms_in_every_column() {
    let q = "let T = datatable(a:string, b:long)['Error here', 1, 'fine', 2, 'an errorcode', 3];";
    let s = |p: &str| {
        rows(&eval(&format!("{q} T | search {p} | project b")))
            .into_iter()
            .map(|r| r[0].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(s("'error'"), ["1"]);
    assert_eq!(s("'error*'"), ["1", "3"]);
    assert_eq!(s("'*ror*'"), ["1", "3"]);
    assert_eq!(s("kind=case_sensitive 'error*'"), ["3"]);
    assert_eq!(s("'fine' or b == 3"), ["2", "3"]);
    assert_eq!(s("a:'here'"), ["1"]);
    assert_eq!(s("*"), ["1", "2", "3"]);
    assert_eq!(
        columns(&eval(&format!("{q} search in (T) 'fine'"))),
        ["$table", "a", "b"]
    );
    assert_eq!(
        rows(&eval(&format!("{q} search in (T) 'fine' | project $table"))),
        table(&[&["T"]])
    );
}

#[test]
fn unsupported_features_fail_by_name() {
    assert_eq!(codes("search 'x'"), ["QE020: search: there is no table to search"]);
    assert_eq!(
        codes("find 'x'"),
        ["QE001: The 'find' operator is not supported by Quarry"]
    );
    assert_eq!(
        codes("externaldata(x:string)['https://example.com/x.csv']"),
        ["QE001: The 'externaldata' operator is not supported by Quarry"]
    );
    assert_eq!(
        codes("print 1 | evaluate python('x')"),
        ["QE001: The plugin 'python' is not supported by Quarry"]
    );
    assert_eq!(
        codes("print 1 | reduce by print_0"),
        ["QE001: The 'reduce' operator is not supported by Quarry"]
    );
}

#[test]
fn names_resolve_columns_before_lets() {
    // A column shadows a `let` of the same name.
    let res = eval("let x = 100; datatable(x:long)[1] | extend y = x");
    assert_eq!(rows(&res), table(&[&["1", "1"]]));
    assert_eq!(
        codes("Nope | count"),
        ["SEM0100: Failed to resolve table or column expression named 'Nope'"]
    );
    let errs = errors(&MemCatalog::new(), "datatable(Name:string)['a'] | where name == 'a'");
    assert_eq!(errs.len(), 1);
}
