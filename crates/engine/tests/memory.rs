//! Bounded memory: under a small limit, a summarize by a high-cardinality key and a full
//! sort complete by spilling to disk, with the same results; when spilling is impossible
//! they fail with an error naming the limit and `--memory-limit`.

use datafusion::arrow::array::{
    ArrayRef, Int64Array, RecordBatch, StringArray, TimestampNanosecondArray, new_null_array,
};
use engine::{Engine, EngineConfig, MemCatalog, QueryError, QueryOptions};
use std::sync::Arc;

const NOW: i64 = 1_714_521_600_000_000_000;
const ROWS: usize = 300_000;
const BATCH: usize = 8_192;
const LIMIT: usize = 20 << 20;

/// `DeviceFileEvents` with a distinct SHA1 per row (in no particular order).
fn files() -> MemCatalog {
    let schema = schema::Catalog::builtin()
        .get("DeviceFileEvents")
        .expect("table")
        .as_ref()
        .clone();
    let arrow = Arc::new(schema.arrow_schema());
    let batches = (0..ROWS)
        .step_by(BATCH)
        .map(|start| {
            let rows = start..(start + BATCH).min(ROWS);
            let n = rows.len();
            // A permutation of 0..ROWS, so that the keys arrive unsorted.
            let key = |i: usize| (i * 7_919) % ROWS;
            let columns: Vec<ArrayRef> = schema
                .columns
                .iter()
                .map(|c| -> ArrayRef {
                    match c.name.as_str() {
                        "Timestamp" => Arc::new(TimestampNanosecondArray::from_iter_values(
                            rows.clone().map(|i| NOW - i as i64 * 1_000_000),
                        )),
                        "SHA1" => Arc::new(StringArray::from_iter_values(
                            rows.clone()
                                .map(|i| format!("{:040x}", key(i) as u128 * 0x9E37_79B9_7F4A_7C15)),
                        )),
                        "FileName" => Arc::new(StringArray::from_iter_values(
                            rows.clone().map(|i| format!("file-{}.tmp", key(i))),
                        )),
                        "ReportId" => Arc::new(Int64Array::from_iter_values(rows.clone().map(|i| key(i) as i64))),
                        _ if c.ty.to_arrow() == datafusion::arrow::datatypes::DataType::Utf8 => {
                            Arc::new(StringArray::from_iter_values(std::iter::repeat_n("", n)))
                        }
                        _ => new_null_array(&c.ty.to_arrow(), n),
                    }
                })
                .collect();
            RecordBatch::try_new(arrow.clone(), columns).expect("batch")
        })
        .collect();
    let mut catalog = MemCatalog::new();
    catalog.add_batches(schema, batches).expect("table");
    catalog
}

fn engine(spill: bool, dir: &tempfile::TempDir) -> Engine {
    let config = EngineConfig {
        memory_limit: Some(LIMIT),
        spill_dir: Some(dir.path().to_path_buf()),
        spill,
        target_partitions: 2,
    };
    Engine::with_config(Arc::new(files()), &config).expect("engine")
}

const SUMMARIZE: &str = "DeviceFileEvents | summarize n = count(), first = min(Timestamp), name = take_any(FileName) by SHA1 \
    | summarize groups = count(), rows = sum(n)";
const SORT: &str = "DeviceFileEvents | sort by SHA1 asc | project SHA1, ReportId";

fn run(engine: &Engine, query: &str) -> Result<Vec<Vec<String>>, QueryError> {
    let results = engine.query_blocking(query, &QueryOptions { now: Some(NOW) })?;
    Ok(results.last().expect("a result").text_rows().expect("rows"))
}

#[test]
fn a_high_cardinality_summarize_spills_within_the_limit() {
    let dir = tempfile::tempdir().expect("tmp");
    let rows = run(&engine(true, &dir), SUMMARIZE).expect("completes by spilling");
    assert_eq!(rows, vec![vec![ROWS.to_string(), ROWS.to_string()]]);
}

#[test]
fn a_sort_of_everything_spills_within_the_limit() {
    let dir = tempfile::tempdir().expect("tmp");
    let rows = run(&engine(true, &dir), SORT).expect("completes by spilling");
    assert_eq!(rows.len(), ROWS);
    assert!(rows.windows(2).all(|w| w[0][0] < w[1][0]), "not sorted");
}

#[test]
fn without_spilling_they_fail_naming_the_limit() {
    let dir = tempfile::tempdir().expect("tmp");
    let engine = engine(false, &dir);
    for query in [SUMMARIZE, SORT] {
        let err = run(&engine, query).expect_err(query).to_string();
        assert!(err.contains("20.0 MiB"), "{err}");
        assert!(err.contains("--memory-limit"), "{err}");
        assert!(err.contains("Resources exhausted"), "{err}");
    }
}

#[test]
fn the_default_limit_is_a_fraction_of_the_machine() {
    let engine = Engine::new(Arc::new(MemCatalog::new())).expect("engine");
    assert_eq!(engine.memory_limit(), engine::default_memory_limit());
    if let Some(m) = engine::memory::physical_memory() {
        assert_eq!(
            engine.memory_limit(),
            (m as f64 * engine::memory::DEFAULT_MEMORY_FRACTION) as usize
        );
    }
    // Small queries run under the default as before.
    let rows = engine
        .query_blocking("print x = 1", &QueryOptions { now: Some(NOW) })
        .expect("runs");
    assert_eq!(rows[0].text_rows().expect("rows"), vec![vec!["1".to_string()]]);
}
