//! Throughput of ingest (Defender streaming JSON → Parquet, MB/s and rows/s), of the
//! generator (rows/s), and of scanning a string column of the data directory (bytes of
//! string data per second: the floor under any filter on it). `cargo bench -p store`.

use arrow::array::AsArray;
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

/// Reads every `Signer` of a week of certificate rows through the table provider (a count
/// of non-empty values, which decodes the whole column), in bytes of string data per second.
fn bench_scan(c: &mut Criterion) {
    use datafusion::prelude::{SessionContext, ident, lit};
    let data = tempfile::tempdir().unwrap();
    generate(&GenerateConfig {
        devices: 64,
        days: 7,
        volume: 2.0,
        rmm_fraction: 0.2,
        ..GenerateConfig::new(Output::DataDir(data.path().to_path_buf()))
    })
    .unwrap();
    let dir = DataDir::open(data.path());
    let t = "DeviceFileCertificateInfo";
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let ctx = SessionContext::new();
    ctx.register_table(t, dir.table_provider(t).unwrap().unwrap()).unwrap();
    let query = || async {
        ctx.table(t)
            .await
            .unwrap()
            .filter(ident("Signer").not_eq(lit("")))
            .unwrap()
            .count()
            .await
            .unwrap()
    };
    let signer_bytes: u64 = runtime.block_on(async {
        let batches = ctx
            .table(t)
            .await
            .unwrap()
            .select(vec![ident("Signer")])
            .unwrap()
            .collect()
            .await
            .unwrap();
        batches
            .iter()
            .map(|b| {
                let a = b.column(0).as_string::<i32>();
                let o = a.value_offsets();
                (o[o.len() - 1] - o[0]) as u64
            })
            .sum()
    });
    let rows = dir.table_stats(t).unwrap().rows;
    eprintln!(
        "scan input: {rows} rows, {:.1} MB of Signer strings",
        signer_bytes as f64 / 1e6
    );
    let mut g = c.benchmark_group("scan");
    g.sample_size(20);
    g.throughput(Throughput::Bytes(signer_bytes));
    g.bench_function("signer_column_string_bytes", |b| {
        b.iter(|| assert!(runtime.block_on(query()) > 0))
    });
    g.finish();
}

criterion_group!(benches, bench_ingest, bench_generate, bench_scan);
criterion_main!(benches);
