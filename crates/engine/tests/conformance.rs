//! The KQL reference examples of `../shared/conformance/kql-docs-dev.jsonl` (skipped when
//! that directory is absent, as in CI). The pass count may only rise: raise the floor as
//! the engine improves.

use engine::conformance::{self, DEFAULT_TIMEOUT};
use engine::{Engine, MemCatalog};
use std::path::PathBuf;
use std::sync::Arc;

/// Records of the dev corpus that must pass (a floor that only ever rises).
const PASS_FLOOR: usize = 231;

fn corpus() -> Option<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/kql-docs-dev.jsonl");
    std::fs::read_to_string(path).ok()
}

#[test]
fn dev_corpus_pass_count_does_not_regress() {
    let Some(text) = corpus() else {
        eprintln!("../shared/conformance is absent: skipped");
        return;
    };
    let records = conformance::parse_records(&text).expect("the corpus parses");
    let engine = Engine::new(Arc::new(MemCatalog::new())).expect("engine");
    let reports = conformance::run_all(&engine, &records, DEFAULT_TIMEOUT);
    let passed = reports.iter().filter(|r| r.passed).count();
    for r in reports.iter().filter(|r| !r.passed) {
        eprintln!(
            "FAIL {} [{}]: {}",
            r.id,
            r.kind.as_deref().unwrap_or(""),
            r.reason.as_deref().unwrap_or("")
        );
    }
    eprintln!("{passed} passed, {} failed", reports.len() - passed);
    assert!(passed >= PASS_FLOOR, "{passed} passed, below the floor of {PASS_FLOOR}");
}
