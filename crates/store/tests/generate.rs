//! The generator: determinism, consistency of planted RMM activity, look-alikes, and a
//! round trip of its file outputs through ingest.

use arrow::util::pretty::pretty_format_batches;
use datafusion::prelude::{DataFrame, Expr, SessionContext, ident, lit};
use std::collections::BTreeSet;
use store::generate::rmm::Signal;
use store::generate::{GROUND_TRUTH_FILE, GroundTruth, TABLES};
use store::{DataDir, GenerateConfig, IngestOptions, Output, generate, ingest};

fn small(output: Output) -> GenerateConfig {
    GenerateConfig {
        devices: 12,
        days: 3,
        volume: 0.02,
        rmm_fraction: 0.5,
        lookalike_fraction: 0.25,
        seed: 7,
        ..GenerateConfig::new(output)
    }
}

async fn table(dir: &DataDir, t: &str) -> DataFrame {
    let ctx = SessionContext::new();
    ctx.register_table(t, dir.table_provider(t).unwrap().unwrap()).unwrap();
    ctx.table(t).await.unwrap()
}

async fn text(df: DataFrame) -> String {
    pretty_format_batches(&df.collect().await.unwrap()).unwrap().to_string()
}

fn cols(names: &[&str]) -> Vec<Expr> {
    names.iter().map(|n| ident(*n)).collect()
}

#[tokio::test]
async fn same_seed_same_data_whatever_the_threads() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    let ta = generate(&GenerateConfig {
        threads: 1,
        ..small(Output::DataDir(a.clone()))
    })
    .unwrap();
    let tb = generate(&GenerateConfig {
        threads: 2,
        ..small(Output::DataDir(b.clone()))
    })
    .unwrap();
    assert_eq!(ta.planted, tb.planted);
    assert_eq!(ta.rows, tb.rows);
    for t in [
        "DeviceProcessEvents",
        "DeviceNetworkEvents",
        "DeviceFileCertificateInfo",
    ] {
        let sorted = |df: DataFrame| {
            df.sort(vec![
                ident("ReportId").sort(true, true),
                ident("DeviceId").sort(true, true),
            ])
            .unwrap()
        };
        let ra = text(sorted(table(&DataDir::open(&a), t).await)).await;
        let rb = text(sorted(table(&DataDir::open(&b), t).await)).await;
        assert_eq!(ra, rb, "{t}");
    }
    let other = generate(&GenerateConfig {
        seed: 8,
        ..small(Output::DataDir(tmp.path().join("c")))
    })
    .unwrap();
    assert_ne!(other.planted, ta.planted);
}

#[tokio::test]
async fn planted_activity_is_consistent_and_recorded() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("d");
    let truth = generate(&small(Output::DataDir(root.clone()))).unwrap();
    let dir = DataDir::open(&root);
    assert_eq!(truth.path.as_deref(), Some(root.join(GROUND_TRUTH_FILE).as_path()));
    let read_back = GroundTruth::read_jsonl(&root.join(GROUND_TRUTH_FILE)).unwrap();
    assert_eq!(read_back, truth.planted);
    let real: Vec<_> = truth.planted.iter().filter(|p| !p.lookalike).collect();
    let fake: Vec<_> = truth.planted.iter().filter(|p| p.lookalike).collect();
    assert_eq!(real.iter().map(|p| &p.device_id).collect::<BTreeSet<_>>().len(), 6);
    assert_eq!(fake.iter().map(|p| &p.device_id).collect::<BTreeSet<_>>().len(), 3);
    for p in &truth.planted {
        let ids: Vec<Expr> = p.report_ids.iter().map(|r| lit(*r)).collect();
        let (t, names): (&str, &[&str]) = match p.signal {
            Signal::FileSignature => ("DeviceFileCertificateInfo", &["Signer", "SHA1"]),
            Signal::ProcessCreation => (
                "DeviceProcessEvents",
                &[
                    "ProcessVersionInfoCompanyName",
                    "ProcessVersionInfoProductName",
                    "FileName",
                    "SHA1",
                ],
            ),
            Signal::NetworkConnection => (
                "DeviceNetworkEvents",
                &[
                    "InitiatingProcessVersionInfoCompanyName",
                    "InitiatingProcessVersionInfoProductName",
                    "InitiatingProcessFileName",
                    "InitiatingProcessSHA1",
                    "RemoteUrl",
                ],
            ),
        };
        let df = table(&dir, t)
            .await
            .filter(
                ident("DeviceId")
                    .eq(lit(p.device_id.clone()))
                    .and(ident("ReportId").in_list(ids, false)),
            )
            .unwrap();
        let n = df.clone().count().await.unwrap();
        assert_eq!(n as u64, p.count, "{p:?}");
        let out = text(df.select(cols(names)).unwrap().distinct().unwrap()).await;
        let expected = match p.signal {
            Signal::FileSignature => vec![p.signer.clone(), p.sha1.clone()],
            Signal::ProcessCreation => vec![
                p.company.clone(),
                p.product.clone(),
                p.file_name.clone(),
                p.sha1.clone(),
            ],
            Signal::NetworkConnection => vec![
                p.company.clone(),
                p.product.clone(),
                p.file_name.clone(),
                p.sha1.clone(),
                p.remote_url.clone(),
            ],
        };
        // One distinct row, holding exactly the planted values.
        assert_eq!(out.lines().count(), 5, "{p:?}\n{out}");
        for v in expected.iter().filter(|v| !v.is_empty()) {
            assert!(out.contains(v.as_str()), "{v} not in\n{out}");
        }
        // The signed binary is on disk too: its SHA1 appears in the file events.
        if p.signal == Signal::FileSignature {
            let n = table(&dir, "DeviceFileEvents")
                .await
                .filter(
                    ident("DeviceId")
                        .eq(lit(p.device_id.clone()))
                        .and(ident("SHA1").eq(lit(p.sha1.clone()))),
                )
                .unwrap()
                .count()
                .await
                .unwrap();
            assert!(n > 0, "no file event for {}", p.tool);
        }
        assert_eq!(p.count as usize, p.report_ids.len());
        assert!(p.first_seen <= p.last_seen);
    }
}

#[test]
fn streaming_json_and_csv_outputs_ingest_back_whole() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, output) in [
        (
            "json",
            Output::StreamingJson {
                dir: tmp.path().join("json"),
                gzip: true,
            },
        ),
        ("csv", Output::Csv(tmp.path().join("csv"))),
    ] {
        let truth = generate(&GenerateConfig {
            devices: 3,
            days: 2,
            ..small(output)
        })
        .unwrap();
        let data = DataDir::open(tmp.path().join(format!("data-{name}")));
        let src = tmp.path().join(name);
        // The ground truth file lives next to the exports; ingest only the tables.
        let args: Vec<String> = TABLES
            .iter()
            .map(|t| match name {
                "json" => src.join(t).display().to_string(),
                _ => format!("{}/{t}_*.csv", src.display()),
            })
            .collect();
        let report = ingest(&data, &args, &IngestOptions::default()).unwrap();
        assert_eq!(report.quarantined(), 0, "{name}: {:?}", report.quarantine_file);
        for (t, n) in &truth.rows {
            assert_eq!(report.totals()[t].loaded, *n, "{name} {t}");
            assert_eq!(data.table_stats(t).unwrap().rows, *n, "{name} {t}");
        }
    }
}

#[test]
fn unknown_tools_are_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let err = generate(&GenerateConfig {
        tools: Some(vec!["NotATool".into()]),
        ..small(Output::Csv(tmp.path().to_path_buf()))
    })
    .unwrap_err();
    assert!(err.to_string().contains("unknown RMM tool 'NotATool'"));
}

#[test]
fn small_tables_are_gathered_into_a_part_per_day_and_thread() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("d");
    // 130 devices make three blocks a day: six units, each a part per table before.
    let truth = generate(&GenerateConfig {
        devices: 130,
        days: 2,
        volume: 0.02,
        threads: 2,
        ..small(Output::DataDir(root.clone()))
    })
    .unwrap();
    let dir = DataDir::open(&root);
    for t in TABLES {
        let stats = dir.table_stats(t).unwrap();
        assert_eq!(stats.rows, truth.rows[t], "{t}");
        assert_eq!(stats.partitions, 2, "{t}");
        assert!(stats.files <= 4, "{t}: {} parts", stats.files);
        // The newest time, from the newest day's parts alone, is the whole table's.
        let newest = dir.newest_time(t).unwrap();
        assert_eq!(newest, stats.time_range.map(|(_, hi)| hi), "{t}");
        assert!(newest.is_some(), "{t}");
    }
    // What a hunt asks of every table before it starts: present (and its newest time),
    // from the newest partition that has a committed part.
    let committed = dir.manifest().unwrap().committed_ids();
    let schema = dir.schema("DeviceProcessEvents").unwrap().unwrap();
    let newest = dir.newest_time("DeviceProcessEvents").unwrap();
    assert_eq!(
        dir.presence_and_newest_time(&schema, &committed, true).unwrap(),
        Some(newest)
    );
    assert_eq!(
        dir.presence_and_newest_time(&schema, &committed, false).unwrap(),
        Some(None)
    );
    // A newer day holding only a part of no committed ingest changes nothing.
    let stray = root.join("tables/DeviceProcessEvents/day=2030-01-01");
    std::fs::create_dir_all(&stray).unwrap();
    std::fs::write(stray.join("part-never-committed-00001.parquet"), b"not parquet").unwrap();
    assert_eq!(
        dir.presence_and_newest_time(&schema, &committed, true).unwrap(),
        Some(newest)
    );
    // A table without data is absent.
    let empty = dir.schema("DeviceEvents").unwrap().expect("a built-in table");
    assert_eq!(dir.presence_and_newest_time(&empty, &committed, true).unwrap(), None);
}

/// The rows and time ranges recorded in `_parts.json` when parts are put in place are
/// exactly what their footers say, and a data directory without those files (written
/// before them, or with them removed) answers the same from the footers.
#[test]
fn recorded_part_stats_are_the_footers() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("d");
    generate(&GenerateConfig {
        devices: 40,
        days: 3,
        volume: 0.05,
        threads: 2,
        ..small(Output::DataDir(root.clone()))
    })
    .unwrap();
    let dir = DataDir::open(&root);
    let answers = |dir: &DataDir| {
        TABLES
            .iter()
            .map(|t| (dir.table_stats(t).unwrap(), dir.newest_time(t).unwrap()))
            .collect::<Vec<_>>()
    };
    let recorded = answers(&dir);
    let mut stats_files = Vec::new();
    for t in TABLES {
        for part in dir.parts(t).unwrap() {
            let file = part.path.parent().unwrap().join(store::part_stats::STATS_FILE);
            assert!(file.is_file(), "{t}: no {}", file.display());
            stats_files.push(file);
        }
    }
    stats_files.sort();
    stats_files.dedup();
    assert!(recorded.iter().all(|(s, newest)| s.rows > 0 && newest.is_some()));
    // The files are what answers: an entry changed by hand changes the count.
    let first = &stats_files[0];
    let table = first
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap();
    let original = std::fs::read(first).unwrap();
    let mut entries: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&original).unwrap();
    let (_, entry) = entries.iter_mut().next().unwrap();
    entry["rows"] = (entry["rows"].as_u64().unwrap() + 1000).into();
    std::fs::write(first, serde_json::to_vec(&entries).unwrap()).unwrap();
    let t = TABLES.iter().position(|t| *t == table).unwrap();
    assert_eq!(dir.table_stats(table).unwrap().rows, recorded[t].0.rows + 1000);
    std::fs::write(first, original).unwrap();
    for f in &stats_files {
        std::fs::remove_file(f).unwrap();
    }
    assert_eq!(answers(&dir), recorded, "from the footers");
    // A damaged stats file is passed over too.
    std::fs::write(&stats_files[0], b"[1,2").unwrap();
    assert_eq!(answers(&dir), recorded, "past a damaged file");
}
