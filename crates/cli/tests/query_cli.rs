//! `quarry query` and `quarry conformance` end to end, running the binary.

use std::process::Command;

fn quarry(data: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_quarry"));
    c.arg("--data").arg(data).arg("--quiet");
    c
}

fn run(c: &mut Command) -> (i32, String, String) {
    let out = c.output().expect("quarry runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const SEED: &str = "let Time_start = now(-5d);\nlet Time_end = now();\nDeviceFileCertificateInfo\n\
| where Timestamp between (Time_start..Time_end)\n| where Signer has 'Action1 Corporation'\n\
| summarize FirstSeen=min(Timestamp), LastSeen=max(Timestamp), Report=make_set(ReportId), Count=count() by DeviceId, DeviceName";

#[test]
fn query_a_csv_file_as_a_table() {
    let tmp = tempfile::tempdir().expect("tmp");
    let csv = tmp.path().join("certs.csv");
    std::fs::write(
        &csv,
        "Timestamp,DeviceId,DeviceName,Signer,ReportId\n\
         2024-04-30T10:00:00Z,d1,host1,Action1 Corporation Ltd,11\n\
         2024-04-29T10:00:00Z,d1,host1,Action1 Corporation,12\n\
         2024-04-30T10:00:00Z,d2,host2,Action1,21\n\
         2024-04-20T10:00:00Z,d3,host3,Action1 Corporation,31\n",
    )
    .expect("csv");
    let table = format!("DeviceFileCertificateInfo={}", csv.display());
    let (code, out, err) = run(quarry(&tmp.path().join("data")).args([
        "query",
        SEED,
        "--now",
        "2024-05-01T00:00:00Z",
        "--table",
        &table,
        "--format",
        "csv",
    ]));
    assert_eq!(code, 0, "{err}");
    let mut lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.remove(0), "DeviceId,DeviceName,FirstSeen,LastSeen,Report,Count");
    assert_eq!(lines.len(), 1, "{out}");
    assert!(
        lines[0].starts_with("d1,host1,2024-04-29T10:00:00Z,2024-04-30T10:00:00Z,"),
        "{out}"
    );
    assert!(lines[0].ends_with(",2"), "{out}");
}

#[test]
fn formats() {
    let tmp = tempfile::tempdir().expect("tmp");
    let q = "datatable(a:long, s:string, d:dynamic)[1, 'x,y', dynamic({'k':[1]})]";
    let (code, out, err) = run(quarry(tmp.path()).args(["query", q, "--format", "json"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.trim(),
        r#"{"columns":[{"name":"a","type":"long"},{"name":"s","type":"string"},{"name":"d","type":"dynamic"}],"rows":[[1,"x,y",{"k":[1]}]]}"#
    );
    let (_, out, _) = run(quarry(tmp.path()).args(["query", q, "--format", "csv"]));
    assert_eq!(out, "a,s,d\n1,\"x,y\",\"{\"\"k\"\":[1]}\"\n");
    let (_, out, _) = run(quarry(tmp.path()).args(["query", q]));
    assert_eq!(out, "a | s   | d\n--+-----+----------\n1 | x,y | {\"k\":[1]}\n");
}

#[test]
fn query_from_a_file_with_several_results() {
    let tmp = tempfile::tempdir().expect("tmp");
    let f = tmp.path().join("q.kql");
    std::fs::write(&f, "print a = 1;\nprint b = now()").expect("query file");
    let (code, out, err) = run(quarry(tmp.path())
        .args(["query", "-f"])
        .arg(&f)
        .args(["--now", "2024-05-01T00:00:00Z"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "Table_0\na\n-\n1\n\nTable_1\nb\n--------------------\n2024-05-01T00:00:00Z\n"
    );
}

#[test]
fn an_invalid_query_prints_the_diagnostic_and_fails() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (code, out, err) = run(quarry(tmp.path()).args([
        "query",
        "DeviceNetworkEvents | summarize count() by DeviceId, AccountUpn",
    ]));
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert!(
        err.contains("'summarize' operator: Failed to resolve scalar expression named 'AccountUpn'"),
        "{err}"
    );
    assert!(err.contains("query:1:"), "{err}");
}

#[test]
fn conformance_reports_failures_and_totals() {
    let tmp = tempfile::tempdir().expect("tmp");
    let file = tmp.path().join("cases.jsonl");
    std::fs::write(
        &file,
        concat!(
            r#"{"id":"ok#1","query":"print x = 1 + 1","columns":["x"],"rows":[["2"]],"ordered":false}"#,
            "\n",
            r#"{"id":"wrong#1","query":"print x = 1","columns":["x"],"rows":[["3"]],"ordered":false}"#,
            "\n",
            r#"{"id":"bad#1","query":"print x = nope","columns":["x"],"rows":[["1"]],"ordered":false}"#,
            "\n",
        ),
    )
    .expect("cases");
    let (code, out, _) = run(quarry(tmp.path()).arg("conformance").arg(&file));
    assert_eq!(code, 1);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[0].starts_with("FAIL wrong#1: no row matches"), "{out}");
    assert!(lines[1].starts_with("FAIL bad#1: 1:11: error[SEM0100]"), "{out}");
    assert_eq!(lines[2], "1 passed, 2 failed");
    let (_, out, _) = run(quarry(tmp.path()).arg("conformance").arg(&file).arg("--json"));
    let reports: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(reports.len(), 3);
    assert_eq!(reports[0]["passed"], true);
    assert_eq!(reports[2]["kind"], "error");
}
