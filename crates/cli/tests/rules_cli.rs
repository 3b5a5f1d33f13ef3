//! `quarry rules …` end to end, with the built binary.

use std::path::{Path, PathBuf};

use crate::support::run::quarry;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules/tests/fixtures")
}

#[test]
fn import_list_show_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let seeds = fixtures().join("seeds");
    let (code, out, err) = quarry(dir.path(), &["rules", "import", seeds.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("5 file(s): 4 added, 0 updated, 0 unchanged, 0 failed; 4 rule(s)"),
        "{out}"
    );

    // Importing again changes nothing.
    let (code, out, _) = quarry(dir.path(), &["rules", "import", seeds.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(out.contains("0 added, 0 updated, 4 unchanged"), "{out}");

    let (code, out, _) = quarry(dir.path(), &["rules", "list", "--severity", "medium"]);
    assert_eq!(code, 0);
    assert!(out.contains("3 rule(s)"), "{out}");

    // Disabling keeps the rule but takes it out of the enabled set; a typo changes nothing.
    let (code, _, err) = quarry(dir.path(), &["rules", "disable", "a8c85d8f", "no-such-rule"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no rule `no-such-rule`"), "{err}");
    let (_, out, _) = quarry(dir.path(), &["rules", "list", "--disabled"]);
    assert!(out.contains("0 rule(s)"), "{out}");
    let (code, out, _) = quarry(dir.path(), &["rules", "disable", "a8c85d8f"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("disabled a8c85d8f"), "{out}");
    let (_, out, _) = quarry(dir.path(), &["rules", "list", "--disabled"]);
    assert!(out.contains("1 rule(s)") && out.contains("disabled"), "{out}");
    let (_, json, _) = quarry(dir.path(), &["rules", "list", "--enabled", "--json"]);
    let listed: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 3);
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["enabled"] == true && r["id"].is_string())
    );
    let (code, _, _) = quarry(dir.path(), &["rules", "enable", "a8c85d8f"]);
    assert_eq!(code, 0);
    let (_, out, _) = quarry(dir.path(), &["rules", "list", "--enabled"]);
    assert!(out.contains("4 rule(s)"), "{out}");

    let (code, json, _) = quarry(dir.path(), &["rules", "show", "a8c85d8f", "--json"]);
    assert_eq!(code, 0);
    let shown: serde_json::Value = serde_json::from_str(&json).unwrap();
    let parsed = rules::import_text(
        fixtures().join("seeds/002_0862891248454ce4.txt").to_str().unwrap(),
        &std::fs::read_to_string(fixtures().join("seeds/002_0862891248454ce4.txt")).unwrap(),
    )
    .rule
    .unwrap();
    let mut expected = serde_json::to_value(&parsed).unwrap();
    // The stored path is the one given on the command line (directory + file name).
    expected["provenance"]["path"] = shown["provenance"]["path"].clone();
    expected["source"]["path"] = shown["source"]["path"].clone();
    assert_eq!(shown, expected);

    let (code, yaml, _) = quarry(
        dir.path(),
        &[
            "rules",
            "show",
            "Remote Management and Monitoring tool - SupRemo - File Signature",
            "--yaml",
        ],
    );
    assert_eq!(code, 0);
    let back = rules::import_text("x.yaml", &yaml).rule.unwrap();
    assert!(back.same_definition(&parsed), "{yaml}");

    let (code, text, _) = quarry(dir.path(), &["rules", "show", "a8c85d8f"]);
    assert_eq!(code, 0);
    let text = text.replace(&fixtures().to_string_lossy().to_string(), "<fixtures>");
    insta::assert_snapshot!("rules_show_supremo", text);
}

#[test]
fn a_broken_file_fails_the_import_but_not_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let odd = fixtures().join("odd");
    let (code, out, err) = quarry(dir.path(), &["rules", "import", odd.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("broken_yaml.yaml:8:2: error[Q101]"), "{err}");
    assert!(out.contains("1 added, 0 updated, 0 unchanged, 2 failed"), "{out}");
    let (code, _, err) = quarry(dir.path(), &["rules", "show", "nothing-like-this"]);
    assert_eq!(code, 2);
    assert!(err.contains("no rule `nothing-like-this`"), "{err}");
}

#[test]
fn the_rmm_pack_lists_without_files() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, _) = quarry(
        dir.path(),
        &["rules", "list", "--pack", "rmm", "--table", "DeviceNetworkEvents"],
    );
    assert_eq!(code, 0);
    assert!(out.contains("All Tools - Network Connection"), "{out}");
    assert!(!out.contains("File Signature"), "{out}");
    let (code, json, _) = quarry(dir.path(), &["rules", "list", "--pack", "rmm", "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(v.as_array().unwrap().len() > 150);
    let (code, _, err) = quarry(dir.path(), &["rules", "list", "--pack", "nope"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown pack `nope`"), "{err}");
}
