//! Parsing each RMM hunting rule (`../shared/corpora/rmm-rules`): the time to parse one
//! query. Run with `cargo bench -p kql --bench parse_rules`.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::PathBuf;

fn rules() -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora/rmm-rules");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p: &PathBuf| p.extension().is_some_and(|e| e == "yaml"));
    files.sort();
    files
        .iter()
        .filter_map(|p| {
            let text = std::fs::read_to_string(p).ok()?;
            let lines: Vec<&str> = text.lines().collect();
            let start = lines.iter().position(|l| l.starts_with("query: |"))?;
            let body: Vec<&str> = lines[start + 1..]
                .iter()
                .take_while(|l| l.trim().is_empty() || l.starts_with("  "))
                .map(|l| l.get(2..).unwrap_or(""))
                .collect();
            Some((p.file_stem()?.to_string_lossy().into_owned(), body.join("\n")))
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let rules = rules();
    if rules.is_empty() {
        eprintln!("../shared/corpora/rmm-rules not found: nothing to measure");
        return;
    }
    // The whole corpus, one iteration = every rule once (divide by the count for a mean).
    c.bench_function(&format!("parse all {} rmm rules", rules.len()), |b| {
        b.iter(|| {
            for (_, q) in &rules {
                black_box(kql::parse(black_box(q)));
            }
        })
    });
    // Representative single rules: the typical one, and the largest (a 190-row datatable).
    let mut group = c.benchmark_group("parse rule");
    for name in ["rmm_Action1_filesig", "rmm_ConnectWise_netconn", "rmm__all_netconn"] {
        if let Some((_, q)) = rules.iter().find(|(n, _)| n == name) {
            group.bench_function(name, |b| b.iter(|| black_box(kql::parse(black_box(q)))));
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
