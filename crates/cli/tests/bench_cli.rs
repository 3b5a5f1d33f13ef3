//! `quarry bench` and the `--memory-limit` flags end to end, with the built binary.

use crate::support::run::quarry_args as quarry;
use std::path::Path;

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn bad_flags_are_refused_with_the_reason() {
    for (args, says) in [
        (vec!["bench", "--scale", "3x"], "'3x' is not a scale"),
        (vec!["bench", "--scale", "1k"], "at least 10k rows"),
        (vec!["bench", "--memory-limit", "4gigs"], "unknown unit 'gigs'"),
        (vec!["query", "--memory-limit", "0", "print 1"], "at least one byte"),
        (vec!["hunt", "--pack", "rmm", "--memory-limit", "lots"], "is not a size"),
        (vec!["bench", "--results", "new.json"], "--compare"),
    ] {
        let (code, out, err) = quarry(&args);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let (code, _, err) = quarry(&["bench", "--cases", "nope", "--work", "/nonexistent/quarry-bench"]);
    assert_eq!(code, 2);
    assert!(err.contains("no case is named or starts with 'nope'"), "{err}");
}

#[test]
fn a_query_over_its_memory_limit_names_it() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    let q = "range x from 1 to 300000 step 1 | summarize count() by x | count";
    let (code, out, err) = quarry(&["--data", s(&data), "query", "--memory-limit", "1KiB", q]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("limit of 1.0") && err.contains("--memory-limit"), "{err}");
    let (code, out, err) = quarry(&[
        "--data",
        s(&data),
        "query",
        "--memory-limit",
        "64MiB",
        "--format",
        "csv",
        q,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("300000"), "{out}");
}

#[test]
fn list_run_reuse_and_compare() {
    let (code, out, _) = quarry(&["bench", "--list"]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 14, "{out}");
    assert!(out.lines().any(|l| l == "pack-rmm-slowest-rule"));

    let tmp = tempfile::tempdir().expect("tmp");
    let work = tmp.path().join("work");
    let first = tmp.path().join("first.json");
    let args = |json: &Path| {
        vec![
            "bench".to_string(),
            "--scale".into(),
            "10k".into(),
            "--work".into(),
            s(&work).into(),
            "--cases".into(),
            "seed-action1,query-summarize".into(),
            "--memory-limit".into(),
            "256MiB".into(),
            "--json".into(),
            s(json).into(),
        ]
    };
    let run = |a: Vec<String>| quarry(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let (code, out, err) = run(args(&first));
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("generating about 10000 rows"), "{err}");
    for case in [
        "seed-action1-query",
        "seed-action1",
        "query-summarize-sha1",
        "query-summarize-reportid",
    ] {
        assert!(out.lines().any(|l| l.starts_with(case)), "{case}: {out}");
    }
    assert!(out.contains("memory limit 256.0 MiB"), "{out}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&first).expect("json")).expect("json");
    let cases = report["cases"].as_array().expect("cases");
    // `seed-action1` names two cases by prefix: the rule and its query alone.
    assert_eq!(cases.len(), 4);
    assert!(
        cases
            .iter()
            .all(|c| c["error"].is_null() && c["wall_s"].as_f64() > Some(0.0))
    );
    assert_eq!(report["scale"], "10k");
    assert_eq!(
        report["dataset"]["generator_version"],
        store::generate::GENERATOR_VERSION
    );

    // The data is reused, and the run is compared with the first.
    let second = tmp.path().join("second.json");
    let mut again = args(&second);
    again.extend(["--compare".to_string(), s(&first).to_string()]);
    let (code, out, err) = run(again);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("reusing"), "{err}");
    assert!(!err.contains("generating"), "{err}");
    assert!(out.contains("new/old below 1 is faster"), "{out}");

    // Two result files compared without running.
    let (code, out, _) = quarry(&["bench", "--compare", s(&first), "--results", s(&second)]);
    assert_eq!(code, 0);
    assert!(out.lines().any(|l| l.starts_with("seed-action1")), "{out}");
    let bad = tmp.path().join("bad.json");
    std::fs::write(&bad, "{\"cases\": 3}").expect("write");
    let (code, _, err) = quarry(&["bench", "--compare", s(&bad), "--results", s(&second)]);
    assert_eq!(code, 2);
    assert!(err.contains("not the JSON of quarry bench --json"), "{err}");
}

#[test]
fn ingest_data_is_written_when_its_case_runs() {
    let tmp = tempfile::tempdir().expect("tmp");
    let work = tmp.path().join("work");
    let base = ["bench", "--scale", "10k", "--work", s(&work), "--quiet"];
    let (code, out, err) = quarry(&[&base[..], &["--cases", "query-summarize-sha1"]].concat());
    assert_eq!(code, 0, "{out}{err}");
    assert!(!work.join("streaming-json").exists());
    assert!(out.contains("; warm page cache"), "{out}");
    // Cold: the files are dropped from the page cache before every run (Linux only).
    let (code, out, err) = quarry(&[&base[..], &["--cases", "query-summarize-sha1", "--cold"]].concat());
    if cfg!(target_os = "linux") {
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains("; cold: data dropped from the page cache"), "{out}");
        assert!(out.lines().any(|l| l.starts_with("query-summarize-sha1")), "{out}");
    } else {
        assert_ne!(code, 0);
        assert!(err.contains("Linux"), "{err}");
    }
    let (code, out, err) = quarry(&[&base[..], &["--cases", "ingest"]].concat());
    assert_eq!(code, 0, "{out}{err}");
    assert!(work.join("streaming-json").exists());
    let line = out
        .lines()
        .find(|l| l.starts_with("ingest-streaming-json"))
        .expect("ingest line");
    assert!(line.contains("of streaming JSON ->"), "{line}");
    assert!(!work.join("ingest-out").exists(), "the ingested copy is removed");
}

/// The slowest rule alone: chosen among the unfused run's slowest (which runs first when
/// not selected), the same rule in every repeat.
#[test]
fn the_slowest_rule_runs_alone() {
    let tmp = tempfile::tempdir().expect("tmp");
    let work = tmp.path().join("work");
    let json = tmp.path().join("slowest.json");
    let (code, out, err) = quarry(&[
        "bench",
        "--scale",
        "10k",
        "--work",
        s(&work),
        "--cases",
        "pack-rmm-slowest-rule",
        "--repeat",
        "2",
        "--json",
        s(&json),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).expect("json")).expect("json");
    let cases = report["cases"].as_array().expect("cases");
    let slowest = cases
        .iter()
        .find(|c| c["name"] == "pack-rmm-slowest-rule")
        .unwrap_or_else(|| panic!("{report}"));
    assert!(slowest["error"].is_null(), "{slowest}");
    let detail = slowest["detail"].as_str().expect("detail");
    assert!(
        detail.starts_with("Remote Management and Monitoring tool - ") && detail.contains("1 rule(s): 1 ran"),
        "{detail}"
    );
}
