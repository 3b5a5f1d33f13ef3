//! Planning and running a seed rule over an in-memory DeviceFileCertificateInfo.
//!
//! `cargo bench -p engine`

use criterion::{Criterion, criterion_group, criterion_main};
use datafusion::arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray, TimestampNanosecondArray};
use engine::{Engine, MemCatalog, QueryOptions, SchemaCatalog};
use std::sync::Arc;

const NOW: i64 = 1_714_521_600_000_000_000;
const RULE: &str = "let Time_start = now(-5d);\nlet Time_end = now();\nDeviceFileCertificateInfo\n\
| where Timestamp between (Time_start..Time_end)\n| where Signer has 'Action1 Corporation'\n\
| summarize FirstSeen=min(Timestamp), LastSeen=max(Timestamp), Report=make_set(ReportId), Count=count() by DeviceId, DeviceName";

/// `rows` certificates over the last seven days; one in a thousand signed by Action1.
fn certificates(rows: usize) -> MemCatalog {
    let schema = schema::Catalog::builtin()
        .get("DeviceFileCertificateInfo")
        .expect("table")
        .as_ref()
        .clone();
    let arrow = Arc::new(schema.arrow_schema());
    let hour = 3_600_000_000_000i64;
    let columns: Vec<ArrayRef> = schema
        .columns
        .iter()
        .map(|c| -> ArrayRef {
            match c.name.as_str() {
                "Timestamp" => Arc::new(TimestampNanosecondArray::from_iter_values(
                    (0..rows).map(|i| NOW - (i as i64 % 168) * hour),
                )),
                "DeviceId" => Arc::new(StringArray::from_iter_values(
                    (0..rows).map(|i| format!("d{}", i % 500)),
                )),
                "DeviceName" => Arc::new(StringArray::from_iter_values(
                    (0..rows).map(|i| format!("host{}", i % 500)),
                )),
                "Signer" => Arc::new(StringArray::from_iter_values((0..rows).map(|i| {
                    if i % 1000 == 0 {
                        "Action1 Corporation Ltd"
                    } else {
                        "Microsoft Windows Production PCA 2011"
                    }
                }))),
                "ReportId" => Arc::new(Int64Array::from_iter_values((0..rows).map(|i| i as i64))),
                _ => datafusion::arrow::array::new_null_array(&c.ty.to_arrow(), rows),
            }
        })
        .collect();
    let batch = RecordBatch::try_new(arrow, columns).expect("batch");
    let mut catalog = MemCatalog::new();
    catalog.add_batches(schema, vec![batch]).expect("table");
    catalog
}

fn bench(c: &mut Criterion) {
    let options = QueryOptions { now: Some(NOW) };
    c.bench_function("validate seed rule", |b| {
        let schemas = SchemaCatalog::builtin();
        b.iter(|| engine::validate(RULE, &schemas))
    });
    let engine = Engine::new(Arc::new(certificates(200_000))).expect("engine");
    c.bench_function("plan seed rule", |b| {
        b.iter(|| engine.plan(RULE, &options).expect("plans"))
    });
    c.bench_function("run seed rule over 200k rows", |b| {
        b.iter(|| engine.query_blocking(RULE, &options).expect("runs"))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
