//! `quarry check` on rule files: semantic validation against the schemas, diagnostics
//! positioned in the YAML file (snapshots over in-repo fixtures), and the full RMM corpus
//! (when `../shared` exists): every real schema error at its line, no false alarm.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules/tests/fixtures")
}

/// Runs in `cwd` against an empty data directory, so that paths in the output are
/// relative and only the built-in schemas count.
fn check(cwd: &Path, args: &[&str]) -> Output {
    let data = tempfile::tempdir().expect("tmp");
    Command::new(env!("CARGO_BIN_EXE_quarry"))
        .current_dir(cwd)
        .arg("--data")
        .arg(data.path())
        .arg("check")
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("quarry runs")
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn plain_kql_gets_semantic_errors_and_semantic_ok() {
    let tmp = tempfile::tempdir().expect("tmp");
    let q = tmp.path().join("q.kql");
    std::fs::write(
        &q,
        "DeviceNetworkEvents\n| where Timestamp > ago(1d)\n| summarize count() by DeviceId, AccountUpn\n",
    )
    .expect("write");
    let o = check(tmp.path(), &["q.kql"]);
    assert_eq!(o.status.code(), Some(1));
    let text = out(&o);
    assert!(text.contains("q.kql:3:34"), "{text}");
    assert!(
        text.contains("'summarize' operator: Failed to resolve scalar expression named 'AccountUpn'"),
        "{text}"
    );
    let o = check(tmp.path(), &["--json", "q.kql"]);
    let rec: serde_json::Value = serde_json::from_str(out(&o).trim()).expect("JSON");
    assert_eq!(rec["syntax_ok"], true);
    assert_eq!(rec["semantic_ok"], false);
    assert_eq!(rec["diagnostics"][0]["code"], "SEM0100");
    assert_eq!(rec["diagnostics"][0]["line"], 3);

    std::fs::write(&q, "DeviceProcessEvents | summarize count() by AccountUpn").expect("write");
    let o = check(tmp.path(), &["--json", "q.kql"]);
    assert_eq!(o.status.code(), Some(0));
    let rec: serde_json::Value = serde_json::from_str(out(&o).trim()).expect("JSON");
    assert_eq!(
        (rec["syntax_ok"].clone(), rec["semantic_ok"].clone()),
        (true.into(), true.into())
    );
}

#[test]
fn rule_files_snapshot() {
    let o = check(&fixtures(), &["corpus", "seeds/001_e0e45211b8b25f84.txt"]);
    assert_eq!(o.status.code(), Some(1));
    insta::assert_snapshot!("check_rule_fixtures", out(&o));
    let o = check(&fixtures(), &["--json", "corpus"]);
    let records: Vec<serde_json::Value> = out(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    insta::assert_json_snapshot!("check_rule_fixtures_json", records);
}

fn line_of(text: &str, needle: &str) -> u64 {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i as u64 + 1)
        .unwrap_or_else(|| panic!("`{needle}` not found"))
}

/// The real errors of each corpus file, as (line, what the message names), found by
/// reading the rules (see docs/hunt.md for the list).
fn expected(file: &str, text: &str) -> Vec<(u64, String)> {
    let mut e = Vec::new();
    if file.ends_with("_netconn.yaml") {
        // `summarize … by DeviceId, DeviceName, AccountUpn, …`: DeviceNetworkEvents has
        // InitiatingProcessAccountUpn, not AccountUpn.
        e.push((line_of(text, "AccountUpn"), "AccountUpn".to_string()));
    }
    match file {
        "rmm_DWService_createproc.yaml" => {
            e.push((line_of(text, "| Sha1 in"), "Query operator expected".into()));
            e.push((line_of(text, "distinct Sha1"), "Sha1".into()));
        }
        "rmm_DWService_netconn.yaml" => e.push((line_of(text, "distinct Sha1"), "Sha1".into())),
        "rmm_Level_createproc.yaml" => e.push((line_of(text, "has_all has_any"), "Expected: (".into())),
        "rmm_MSP360_CloudBerry_netconn.yaml" => {
            e.push((line_of(text, "'foris.cloudberrylab.com',"), "Missing expression".into()))
        }
        "rmm_ZohoAssist_netconn.yaml" => e.push((line_of(text, "'zohostatic.in',"), "Missing expression".into())),
        _ => {}
    }
    e.sort();
    e
}

#[test]
fn rmm_corpus_real_errors_at_their_lines_and_no_false_alarm() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora/rmm-rules");
    if !corpus.is_dir() {
        eprintln!("skipped: {} is not available", corpus.display());
        return;
    }
    let o = check(&corpus, &["--json", "."]);
    assert_eq!(o.status.code(), Some(1));
    let records: Vec<serde_json::Value> = out(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(records.len(), 168);
    let mut with_errors = 0;
    for rec in &records {
        let path = rec["id"].as_str().expect("path");
        let file = Path::new(path).file_name().and_then(|f| f.to_str()).expect("file name");
        let text = std::fs::read_to_string(corpus.join(path)).expect("read");
        let mut got: Vec<(u64, String)> = rec["diagnostics"]
            .as_array()
            .expect("diagnostics")
            .iter()
            .filter(|d| d["severity"] == "error")
            .map(|d| {
                (
                    d["line"].as_u64().unwrap_or(0),
                    d["message"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        got.sort();
        let want = expected(file, &text);
        assert_eq!(got.len(), want.len(), "{file}: {got:#?} vs {want:#?}");
        for ((gl, gm), (wl, wm)) in got.iter().zip(&want) {
            assert_eq!(gl, wl, "{file}: `{gm}` should be at line {wl}");
            assert!(gm.contains(wm.as_str()), "{file}:{gl}: `{gm}` should name `{wm}`");
        }
        with_errors += usize::from(!want.is_empty());
        let syntax_error = want
            .iter()
            .any(|(_, m)| m.contains("expected") || m.contains("Expected") || m.contains("Missing"));
        assert_eq!(rec["syntax_ok"], !syntax_error, "{file}");
        assert_eq!(rec["semantic_ok"], want.is_empty(), "{file}");
    }
    // The 60 network rules (AccountUpn), DWService's process rule (syntax, Sha1) and Level's
    // process rule (syntax).
    assert_eq!(with_errors, 62);
}
