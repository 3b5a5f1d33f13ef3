//! Throughput of ingest (Defender streaming JSON → Parquet, MB/s and rows/s) and of the
//! generator (rows/s). `cargo bench -p store`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::path::Path;
use store::{DataDir, GenerateConfig, IngestOptions, Output, generate, ingest};

fn dir_bytes(p: &Path) -> u64 {
    let mut n = 0;
    for e in std::fs::read_dir(p).unwrap().flatten() {
        let m = e.metadata().unwrap();
        n += if m.is_dir() { dir_bytes(&e.path()) } else { m.len() };
    }
    n
}

fn bench_ingest(c: &mut Criterion) {
    let tmp = tempfile::tempdir().unwrap();
    let exports = tmp.path().join("exports");
    let truth = generate(&GenerateConfig {
        devices: 64,
        days: 2,
        volume: 0.25,
        ..GenerateConfig::new(Output::StreamingJson {
            dir: exports.clone(),
            gzip: false,
        })
    })
    .unwrap();
    std::fs::remove_file(exports.join(store::generate::GROUND_TRUTH_FILE)).unwrap();
    let bytes = dir_bytes(&exports);
    let rows = truth.total_rows();
    eprintln!(
        "ingest input: {rows} rows, {:.1} MB of streaming JSON",
        bytes as f64 / 1e6
    );
    let mut g = c.benchmark_group("ingest");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("defender_streaming_json_to_parquet_bytes", |b| {
        b.iter(|| {
            let data = tempfile::tempdir().unwrap();
            let r = ingest(
                &DataDir::open(data.path()),
                &[exports.display().to_string()],
                &IngestOptions::default(),
            )
            .unwrap();
            assert_eq!(r.rows_written, rows);
        })
    });
    g.throughput(Throughput::Elements(rows));
    g.bench_function("defender_streaming_json_to_parquet_rows", |b| {
        b.iter(|| {
            let data = tempfile::tempdir().unwrap();
            ingest(
                &DataDir::open(data.path()),
                &[exports.display().to_string()],
                &IngestOptions::default(),
            )
            .unwrap();
        })
    });
    g.finish();
}

fn bench_generate(c: &mut Criterion) {
    let cfg = |root: &Path| GenerateConfig {
        devices: 128,
        days: 2,
        volume: 0.5,
        ..GenerateConfig::new(Output::DataDir(root.to_path_buf()))
    };
    let probe = tempfile::tempdir().unwrap();
    let rows = generate(&cfg(probe.path())).unwrap().total_rows();
    let mut g = c.benchmark_group("generate");
    g.sample_size(10);
    g.throughput(Throughput::Elements(rows));
    g.bench_function("defender_tables_to_parquet_rows", |b| {
        b.iter(|| {
            let data = tempfile::tempdir().unwrap();
            generate(&cfg(data.path())).unwrap();
        })
    });
    g.finish();
}

criterion_group!(benches, bench_ingest, bench_generate);
criterion_main!(benches);
