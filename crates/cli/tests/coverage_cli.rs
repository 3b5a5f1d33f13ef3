//! `quarry coverage` and `--navigator FILE` (ATT&CK Navigator layer format), end to end.

use serde_json::{Value, json};
use std::path::{Path, PathBuf};

use crate::support::run::quarry;

fn seeds() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules/tests/fixtures/seeds")
}

fn layer(data: &Path) -> Value {
    let file = data.join("layer.json");
    let (code, out, err) = quarry(data, &["coverage", "--navigator", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("wrote an ATT&CK Navigator layer"), "{err}");
    serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
}

fn check_format(v: &Value) {
    assert!(v["name"].is_string());
    assert_eq!(v["versions"]["layer"], "4.5");
    assert_eq!(v["versions"]["navigator"], "5.1.0");
    assert_eq!(v["versions"]["attack"], "18");
    assert_eq!(v["domain"], "enterprise-attack");
    for t in v["techniques"].as_array().unwrap() {
        let id = t["techniqueID"].as_str().unwrap();
        assert!(rules::Attack::get().technique(id).is_some(), "{id}");
        assert!(t["score"].is_u64());
        assert!(t["comment"].is_string());
        assert_eq!(t["enabled"], true);
        if let Some(tac) = t.get("tactic") {
            assert!(rules::Attack::get().tactic(tac.as_str().unwrap()).is_some());
        }
        if let Some(c) = t.get("color") {
            assert!(c.as_str().unwrap().starts_with('#'));
        }
    }
    let g = &v["gradient"];
    assert!(
        g["colors"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c.as_str().unwrap().starts_with('#'))
    );
    assert!(g["minValue"].as_u64().unwrap() < g["maxValue"].as_u64().unwrap());
    for item in v["legendItems"].as_array().unwrap() {
        assert!(item["label"].is_string() && item["color"].is_string());
    }
}

#[test]
fn navigator_layer_follows_data_presence() {
    let data = tempfile::tempdir().unwrap();
    let (code, out, err) = quarry(data.path(), &["rules", "import", seeds().to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");

    // No telemetry: T1219 is covered, but by rules that cannot run.
    let v = layer(data.path());
    check_format(&v);
    assert_eq!(v["techniques"].as_array().unwrap().len(), 1);
    let t = &v["techniques"][0];
    assert_eq!(t["techniqueID"], "T1219");
    assert_eq!(t["score"], 0);
    assert_eq!(t["color"], "#f59e0b");
    assert!(t["comment"].as_str().unwrap().starts_with("Missing data: "));
    assert!(t.get("tactic").is_none(), "T1219 has one tactic");

    // With DeviceFileCertificateInfo rows every seed rule can run.
    let (code, out, err) = quarry(
        data.path(),
        &[
            "--quiet",
            "generate",
            "--devices",
            "5",
            "--days",
            "1",
            "--volume",
            "0.05",
            "--start",
            "2026-05-22",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let v = layer(data.path());
    check_format(&v);
    let t = &v["techniques"][0];
    assert_eq!(t["score"], 4);
    assert!(t.get("color").is_none());
    assert_eq!(t["metadata"][1], json!({"name": "rules that can run", "value": "4"}));

    // The table form, and stdout.
    let (code, out, _) = quarry(data.path(), &["coverage"]);
    assert_eq!(code, 0);
    assert!(out.contains("T1219 (4/0)"), "{out}");
    let (code, out, _) = quarry(data.path(), &["coverage", "--navigator", "-"]);
    assert_eq!(code, 0);
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["techniques"],
        v["techniques"]
    );
}

#[test]
fn serve_refuses_a_public_address_without_a_token() {
    let data = tempfile::tempdir().unwrap();
    let (code, _, err) = quarry(data.path(), &["serve", "--addr", "0.0.0.0:0"]);
    assert_eq!(code, 2);
    assert!(err.contains("without an access token"), "{err}");
}
