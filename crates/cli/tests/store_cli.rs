//! `quarry generate`, `ingest`, `tables` and `schema` end to end, running the binary.

use std::io::Write;
use std::process::{Command, Stdio};

fn quarry(data: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_quarry"));
    c.arg("--data").arg(data).arg("--quiet");
    c
}

fn ok(c: &mut Command) -> String {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{:?}: {}",
        c,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn generate_exports_then_ingest_them() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let exports = tmp.path().join("exports");
    let out = ok(quarry(&data)
        .args([
            "generate",
            "--format",
            "streaming-json",
            "--gzip",
            "--devices",
            "4",
            "--days",
            "2",
            "--volume",
            "0.02",
            "--start",
            "2024-05-01",
            "--rmm-fraction",
            "0.5",
        ])
        .arg("--out")
        .arg(&exports));
    assert!(out.contains("ground truth:"), "{out}");
    let out = ok(quarry(&data).args(["ingest"]).arg(exports.join("DeviceProcessEvents")));
    assert!(out.starts_with("DeviceProcessEvents  "), "{out}");
    assert!(out.contains(" quarantined"), "{out}");
    // Again: skipped, nothing loaded twice.
    let again = ok(quarry(&data).args(["ingest"]).arg(exports.join("DeviceProcessEvents")));
    assert!(again.contains("skipped") && again.contains("--force"), "{again}");
    let tables = ok(quarry(&data).args(["tables"]));
    assert!(
        tables.contains("DeviceProcessEvents") && tables.contains("2024-05-01T"),
        "{tables}"
    );
    let json = ok(quarry(&data).args(["tables", "--json"]));
    let v: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert_eq!(v["table"], "DeviceProcessEvents");
    assert_eq!(v["partitions"], 2);
}

#[test]
fn quarantine_sets_the_exit_code_unless_allowed() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let input = "{\"Type\":\"MyApp_CL\",\"TimeGenerated\":\"2024-05-01T00:00:00Z\",\"Count\":1}\n{\"Type\":\"MyApp_CL\",\"TimeGenerated\":\"nope\"}\n";
    let mut child = quarry(&data)
        .args(["ingest", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("MyApp_CL  2 read = 1 loaded + 1 quarantined"),
        "{stdout}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("quarantine/"));

    let file = tmp.path().join("bad.json");
    std::fs::write(&file, input.replace("nope", "still not a date")).unwrap();
    let out = quarry(&data)
        .args(["ingest", "--allow-quarantine"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    // The inferred table is listed with its stored row count.
    let schema = quarry(&data).args(["schema", "MyApp_CL"]).output().unwrap();
    assert!(schema.status.success());
    assert!(String::from_utf8_lossy(&schema.stdout).contains("Count\tlong"));
    assert!(String::from_utf8_lossy(&schema.stderr).contains("MyApp_CL: 2 rows"));
}

#[test]
fn bad_arguments_are_usage_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let out = quarry(&data).args(["ingest", "--format", "xml", "x"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown format 'xml'"));
    let out = quarry(&data)
        .args(["ingest"])
        .arg(tmp.path().join("missing.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such file"));
    let out = quarry(&data).args(["generate", "--format", "csv"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--out"));
}
