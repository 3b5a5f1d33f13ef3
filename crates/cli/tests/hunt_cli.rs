//! `quarry hunt`, `quarry findings` and `quarry demo` with the built binary: exit codes,
//! output formats, the findings store and triage, re-run deduplication.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn quarry(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_quarry"))
        .arg("--data")
        .arg(data)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("quarry runs")
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../rules/tests/fixtures/corpus")
        .join(name)
}

/// Two days of telemetry for 12 devices with Action1 and AnyDesk planted (and their
/// look-alikes); returns the planted Action1 file-signature devices.
fn generated(data: &Path) -> Vec<String> {
    let o = quarry(
        data,
        &[
            "--quiet",
            "generate",
            "--devices",
            "12",
            "--days",
            "2",
            "--volume",
            "0.02",
            "--start",
            "2024-05-01",
            "--tools",
            "Action1,AnyDesk",
            "--rmm-fraction",
            "0.5",
            "--lookalike-fraction",
            "0.25",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let truth = std::fs::read_to_string(data.join("ground-truth.jsonl")).expect("ground truth");
    let mut devices: Vec<String> = truth
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["tool"] == "Action1" && v["signal"] == "file_signature" && v["lookalike"] == false)
        .filter_map(|v| v["device_name"].as_str().map(str::to_string))
        .collect();
    devices.sort();
    devices
}

#[test]
fn hunt_exit_codes_formats_and_triage() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    let planted = generated(&data);
    assert!(!planted.is_empty());
    let filesig = fixture("rmm_Action1_filesig.yaml");
    let filesig = filesig.to_str().expect("utf-8");

    // Found something: exit 1, grouped by rule and device.
    let o = quarry(&data, &["hunt", filesig, "--now", "latest"]);
    assert_eq!(o.status.code(), Some(1), "{}{}", out(&o), err(&o));
    let text = out(&o);
    assert!(
        text.contains("Remote Management and Monitoring tool - Action1 - File Signature"),
        "{text}"
    );
    for d in &planted {
        assert!(text.contains(d.as_str()), "{d} in {text}");
    }
    assert!(text.contains("run #1"), "{text}");

    // Nothing in the window: exit 0.
    let o = quarry(&data, &["hunt", filesig, "--now", "2030-01-01T00:00:00Z", "--no-store"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    assert!(out(&o).contains("No findings."));

    // JSON: the whole report.
    let o = quarry(
        &data,
        &["hunt", filesig, "--now", "latest", "--format", "json", "--no-store"],
    );
    assert_eq!(o.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_str(&out(&o)).expect("JSON report");
    assert_eq!(report["rules"][0]["status"], "ran");
    let findings = report["findings"].as_array().expect("findings");
    assert_eq!(findings.len(), planted.len());
    let mut names: Vec<&str> = findings
        .iter()
        .filter_map(|f| f["entities"]["device"]["name"].as_str())
        .collect();
    names.sort();
    assert_eq!(names, planted);
    assert!(findings.iter().all(|f| f["rows"][0]["Report"].is_array()));

    // Timings: each rule's time, and the scans the pack's rules share.
    let o = quarry(
        &data,
        &["hunt", "--pack", "rmm", "--now", "latest", "--no-store", "--timings"],
    );
    let text = out(&o);
    assert!(text.contains("Shared scans"), "{text}");
    let phases = text.lines().find(|l| l.starts_with("Phases:")).expect("a phases line");
    for phase in [
        "setting up ",
        "preparing 172 rule(s) ",
        "shared scans ",
        "running the rules ",
    ] {
        assert!(phases.contains(phase), "{phases}");
    }
    // What the hunt read from the disk rather than the page cache (Linux says).
    assert_eq!(
        phases.contains("; read from the disk: "),
        cfg!(target_os = "linux"),
        "{phases}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("DeviceProcessEvents") && l.contains(" rules ") && l.contains("kept")),
        "{text}"
    );

    // JSON Lines: each finding, each rule, the run.
    let o = quarry(
        &data,
        &["hunt", filesig, "--now", "latest", "--format", "jsonl", "--no-store"],
    );
    let lines: Vec<serde_json::Value> = out(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.iter().filter(|l| l["type"] == "finding").count(), planted.len());
    assert_eq!(lines.iter().filter(|l| l["type"] == "rule").count(), 1);
    assert_eq!(lines.last().map(|l| l["type"].clone()), Some("run".into()));

    // CSV: a header and one line per finding.
    let o = quarry(
        &data,
        &["hunt", filesig, "--now", "latest", "--format", "csv", "--no-store"],
    );
    let csv = out(&o);
    assert!(
        csv.starts_with("run_id,finding_id,new,status,suppressed_by,rule_id,rule_name,"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 1 + planted.len());

    // An invalid rule: exit 2 with the diagnostic at its place in the file; the others run.
    let netconn = fixture("rmm_Action1_netconn.yaml");
    let o = quarry(
        &data,
        &[
            "hunt",
            filesig,
            netconn.to_str().expect("utf-8"),
            "--now",
            "latest",
            "--no-store",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}{}", out(&o), err(&o));
    let text = out(&o);
    assert!(
        text.contains("invalid: Remote Management and Monitoring tool - Action1 - Network Connection"),
        "{text}"
    );
    assert!(text.contains("rmm_Action1_netconn.yaml:23:7: error[Q300]"), "{text}");
    assert!(text.contains("AccountUpn"), "{text}");
    assert!(text.contains(planted[0].as_str()), "the valid rule still ran: {text}");
    let o = quarry(
        &data,
        &[
            "hunt",
            netconn.to_str().expect("utf-8"),
            "--now",
            "latest",
            "--no-store",
            "--ignore-rule-errors",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));

    // Bad usage: exit 2.
    let o = quarry(&data, &["hunt", "--pack", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("unknown pack `nope`"), "{}", err(&o));
    let o = quarry(&data, &["hunt", "--now", "yesterday-ish", filesig]);
    assert_eq!(o.status.code(), Some(2));
    let empty = tmp.path().join("empty");
    let o = quarry(&empty, &["hunt", "--pack", "rmm", "--now", "latest"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("has no events"), "{}", err(&o));
    let o = quarry(&empty, &["hunt"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("no rules in"), "{}", err(&o));

    // The same hunt again: the same findings, none new.
    let o = quarry(&data, &["hunt", filesig, "--now", "latest"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        out(&o).contains(&format!("{} finding(s) (0 new)", planted.len())),
        "{}",
        out(&o)
    );

    // Run history.
    let o = quarry(&data, &["hunt", "--list-runs", "--format", "json"]);
    let runs: serde_json::Value = serde_json::from_str(&out(&o)).expect("runs");
    assert_eq!(runs.as_array().map(Vec::len), Some(2));
    assert_eq!(runs[0]["new_findings"], 0);
    assert_eq!(runs[1]["new_findings"], planted.len());
    let o = quarry(&data, &["hunt", "--show-run", "latest"]);
    assert!(out(&o).contains("run #2  succeeded"), "{}", out(&o));

    // Findings: list, set-status, show.
    let o = quarry(&data, &["findings", "list", "--json"]);
    let listed: Vec<serde_json::Value> = serde_json::from_str(&out(&o)).expect("findings");
    assert_eq!(listed.len(), planted.len());
    let id = listed[0]["id"].as_i64().expect("id").to_string();
    let o = quarry(
        &data,
        &[
            "findings",
            "set-status",
            &id,
            "false-positive",
            "--note",
            "lab machine",
            "--by",
            "tester",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(out(&o).contains("new → false_positive"), "{}", out(&o));
    let o = quarry(&data, &["findings", "show", &id, "--json"]);
    let shown: serde_json::Value = serde_json::from_str(&out(&o)).expect("finding");
    assert_eq!(shown["status"], "false_positive");
    assert_eq!(shown["history"][1]["actor"], "tester");
    assert_eq!(shown["history"][1]["note"], "lab machine");
    assert_eq!(shown["runs"].as_array().map(Vec::len), Some(2));
    let o = quarry(&data, &["findings", "list", "--status", "false_positive"]);
    assert_eq!(out(&o).lines().count(), 2, "{}", out(&o));
    let o = quarry(&data, &["findings", "show", &id]);
    assert!(out(&o).contains("by tester: lab machine"), "{}", out(&o));
    let o = quarry(&data, &["findings", "set-status", "999999", "closed"]);
    assert_eq!(o.status.code(), Some(2));
    let o = quarry(&data, &["findings", "set-status", &id, "maybe"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("unknown status `maybe`"), "{}", err(&o));
    let o = quarry(
        &data,
        &["findings", "list", "--device", &planted[0], "--run", "latest", "--json"],
    );
    let by_device: Vec<serde_json::Value> = serde_json::from_str(&out(&o)).expect("findings");
    assert_eq!(by_device.len(), 1);
}

#[test]
fn hunt_skips_rules_without_data() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    generated(&data);
    let rule = tmp.path().join("email.yaml");
    std::fs::write(
        &rule,
        "id: 0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9\nname: Emails\ndescription: x\nseverity: Low\nrequiredDataConnectors:\n  - connectorId: MicrosoftThreatProtection\n    dataTypes:\n      - EmailEvents\ntactics:\n  - InitialAccess\nrelevantTechniques:\n  - T1566\nquery: |\n  EmailEvents\n  | where Timestamp > ago(1d)\n",
    )
    .expect("write");
    let o = quarry(&data, &["hunt", rule.to_str().expect("utf-8"), "--now", "latest"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    assert!(
        out(&o).contains("skipped: Emails — no data for EmailEvents"),
        "{}",
        out(&o)
    );
    assert!(out(&o).contains("1 skipped (no data)"), "{}", out(&o));
}

#[test]
fn demo_runs_on_a_fresh_directory_and_reruns_without_new_findings() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("demo-data");
    let o = quarry(&data, &["demo", "--devices", "24", "--days", "2"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    let first = out(&o);
    assert!(first.contains("Generating sample Defender telemetry"), "{first}");
    assert!(first.contains("Imported the 4 seed rules"), "{first}");
    assert!(
        first.contains("Remote Management and Montioring tool - Action1 - File Signature"),
        "{first}"
    );
    assert!(first.contains("quarry serve --data"), "{first}");
    assert!(first.contains("http://127.0.0.1:8080/hunts/1"), "{first}");
    let o = quarry(&data, &["findings", "list", "--json", "--limit", "0"]);
    let before: Vec<serde_json::Value> = serde_json::from_str(&out(&o)).expect("findings");
    assert!(!before.is_empty());

    let o = quarry(&data, &["demo"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    let second = out(&o);
    assert!(second.contains("Using the telemetry already in"), "{second}");
    assert!(
        second.contains(&format!("{} finding(s) (0 new)", before.len())),
        "{second}"
    );
    assert!(second.contains("(0 new or changed)"), "{second}");
    let o = quarry(&data, &["findings", "list", "--json", "--limit", "0"]);
    let after: Vec<serde_json::Value> = serde_json::from_str(&out(&o)).expect("findings");
    assert_eq!(after.len(), before.len());
}

/// Timings vary from run to run: `123 ms` / `1.23 s` become `[time]`.
fn without_timings(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split(' ').collect();
        let mut kept: Vec<String> = Vec::new();
        let mut i = 0;
        while i < words.len() {
            let w = words[i];
            let unit = words.get(i + 1).map(|u| u.trim_end_matches([',', ':', ';']));
            let number = !w.is_empty() && w.chars().all(|c| c.is_ascii_digit() || c == '.');
            if number && matches!(unit, Some("ms") | Some("s")) {
                let tail = &words[i + 1][unit.map_or(0, str::len)..];
                kept.push(format!("[time]{tail}"));
                i += 2;
            } else {
                kept.push(w.to_string());
                i += 1;
            }
        }
        out.push_str(&kept.join(" "));
        out.push('\n');
    }
    out
}

#[test]
fn hunt_table_output_snapshot() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    generated(&data);
    let dir = tmp.path().join("rules");
    std::fs::create_dir_all(&dir).expect("mkdir");
    for f in ["rmm_Action1_filesig.yaml", "rmm_Action1_netconn.yaml"] {
        std::fs::copy(fixture(f), dir.join(f)).expect("copy");
    }
    let o = Command::new(env!("CARGO_BIN_EXE_quarry"))
        .current_dir(tmp.path())
        .args(["--data", "data", "hunt", "rules", "--now", "latest"])
        .env("NO_COLOR", "1")
        .output()
        .expect("quarry runs");
    assert_eq!(o.status.code(), Some(2));
    insta::assert_snapshot!("hunt_table", without_timings(&out(&o)));
}
