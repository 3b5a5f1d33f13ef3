//! End-to-end tests of `quarry check` and `quarry fmt`, running the built binary.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn quarry(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_quarry"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("quarry runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("quarry finishes")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn check_valid_query_from_stdin() {
    let o = quarry(&["check", "-"], "DeviceProcessEvents | where ProcessId > 1 | take 5");
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert_eq!(stdout(&o), "");
    assert!(String::from_utf8_lossy(&o.stderr).contains("checked 1 query: 0 with errors"));
}

#[test]
fn check_reports_with_excerpt_and_exit_1() {
    let o = quarry(&["check", "-"], "T\n| Sha1 in (x)");
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.contains("Query operator expected."), "{out}");
    assert!(out.contains("<stdin>:2:3"), "{out}");
    assert!(out.contains("| Sha1 in (x)"), "{out}");
    assert!(out.contains("write `| where Sha1"), "{out}");
}

#[test]
fn check_json_lines_from_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("q.jsonl");
    std::fs::write(
        &path,
        "{\"id\":\"ok\",\"query\":\"print 1\"}\n{\"id\":\"bad\",\"query\":\"T\\n| where x in ('a',)\"}\n{\"id\":\"unknown\",\"query\":\"T\\n| where x in ('a')\"}\n",
    )
    .expect("write");
    let o = quarry(&["check", "--json", path.to_str().expect("utf-8 path")], "");
    assert_eq!(o.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(
        lines[0],
        serde_json::json!({"id": "ok", "syntax_ok": true, "semantic_ok": true, "diagnostics": []})
    );
    assert_eq!(lines[1]["id"], "bad");
    assert_eq!(lines[1]["syntax_ok"], false);
    assert_eq!(lines[1]["semantic_ok"], false);
    // The unknown table `T` (semantic) comes first, then the syntax error.
    assert_eq!(lines[1]["diagnostics"][0]["code"], "SEM0100");
    let d = &lines[1]["diagnostics"][1];
    assert_eq!(d["severity"], "error");
    assert_eq!(d["message"], "Missing expression");
    assert_eq!((d["line"].as_u64(), d["column"].as_u64()), (Some(2), Some(19)));
    assert_eq!((d["start"].as_u64(), d["end"].as_u64()), (Some(20), Some(20)));
    // `T\n| where x in ('a',)`: the missing item is at the `)` (line 2, column 19).
    // Key order as documented.
    assert!(
        stdout(&o).lines().nth(1).is_some_and(
            |l| l.starts_with("{\"id\":\"bad\",\"syntax_ok\":false,\"semantic_ok\":false,\"diagnostics\":[")
        )
    );
    // Semantic errors alone: it parses, but the table is unknown.
    assert_eq!(lines[2]["syntax_ok"], true);
    assert_eq!(lines[2]["semantic_ok"], false);
    assert_eq!(
        lines[2]["diagnostics"][0]["message"],
        "Failed to resolve table or column expression named 'T'"
    );
}

#[test]
fn check_jsonl_from_stdin_and_bad_json() {
    let o = quarry(
        &["check", "--json", "--jsonl", "-"],
        "{\"id\":7,\"query\":\"print 1\"}\n",
    );
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).starts_with("{\"id\":\"7\""), "{}", stdout(&o));
    let o = quarry(&["check", "--jsonl", "-"], "not json\n");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("<stdin>:1: not JSON"));
}

#[test]
fn check_missing_file_is_a_usage_error() {
    let o = quarry(&["check", "/nonexistent/q.kql"], "");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("reading /nonexistent/q.kql"));
}

#[test]
fn fmt_formats_and_keeps_comments() {
    let o = quarry(&["fmt"], "// top\nT|where x==1|summarize count() by y // per y\n");
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        stdout(&o),
        "// top\nT\n| where x == 1\n| summarize count() by y\n// per y\n"
    );
}

#[test]
fn fmt_check_and_errors() {
    let o = quarry(&["fmt", "--check", "-"], "T\n| take 1\n");
    assert_eq!(o.status.code(), Some(0));
    let o = quarry(&["fmt", "--check", "-"], "T | take 1\n");
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("would be reformatted"));
    let o = quarry(&["fmt", "-"], "T | where");
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stdout(&o), "");
    assert!(String::from_utf8_lossy(&o.stderr).contains("Missing expression"));
}

#[test]
fn fmt_write_in_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("q.kql");
    std::fs::write(&path, "T|take 1").expect("write");
    let o = quarry(&["fmt", "--write", path.to_str().expect("utf-8 path")], "");
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert_eq!(std::fs::read_to_string(&path).expect("read"), "T\n| take 1\n");
}
