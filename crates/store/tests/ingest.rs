//! Ingest of every export format from small fixtures, and of corrupted variants:
//! `read = loaded + quarantined` with the right reasons.

use std::io::Write;
use std::path::{Path, PathBuf};
use store::quarantine::read_quarantine;
use store::{Counts, DataDir, Format, IngestOptions, IngestReport, ingest};

fn write(dir: &Path, name: &str, content: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

fn gzip(content: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(content).unwrap();
    e.finish().unwrap()
}

fn run(data: &DataDir, paths: &[&Path], opts: &IngestOptions) -> IngestReport {
    let args: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    ingest(data, &args, opts).unwrap()
}

fn counts(read: u64, loaded: u64, quarantined: u64) -> Counts {
    Counts {
        read,
        loaded,
        quarantined,
    }
}

fn check_balance(r: &IngestReport) {
    for (t, c) in r.totals() {
        assert_eq!(c.read, c.loaded + c.quarantined, "table {t:?}: {c:?}");
    }
}

const STREAMING: &str = r#"{"time":"2024-05-01T10:00:00.1234567Z","tenantId":"TENANT-1","operationName":"Publish","category":"AdvancedHunting-DeviceFileCertificateInfo","properties":{"Timestamp":"2024-05-01T10:00:00.1234567Z","DeviceId":"dev1","DeviceName":"host1","SHA1":"aa","IsSigned":true,"Signer":"Action1 Corporation","ReportId":"1"}}
{"time":"2024-05-02T11:00:00Z","tenantId":"TENANT-1","operationName":"Publish","category":"AdvancedHunting-DeviceProcessEvents","properties":{"Timestamp":"2024-05-02T11:00:00Z","DeviceId":"dev1","FileName":"a.exe","ProcessId":"42","AdditionalFields":"{\"k\": 1}","ReportId":2}}
"#;

#[test]
fn defender_streaming_lines_and_gzip() {
    let tmp = tempfile::tempdir().unwrap();
    let data = DataDir::open(tmp.path().join("data"));
    let f = write(tmp.path(), "PT1H.json.gz", &gzip(STREAMING.as_bytes()));
    let r = run(&data, &[&f], &IngestOptions::default());
    check_balance(&r);
    assert_eq!(r.totals()["DeviceFileCertificateInfo"], counts(1, 1, 0));
    assert_eq!(r.totals()["DeviceProcessEvents"], counts(1, 1, 0));
    assert_eq!(r.inputs[0].format, "json-lines");
    let stats = data.table_stats("DeviceProcessEvents").unwrap();
    assert_eq!(stats.rows, 1);
    assert_eq!(stats.partitions, 1);
    let parts = data.parts("DeviceFileCertificateInfo").unwrap();
    assert!(parts[0].path.to_string_lossy().contains("day=2024-05-01"));
}

#[test]
fn event_hub_documents_and_log_analytics_arrays() {
    let tmp = tempfile::tempdir().unwrap();
    let data = DataDir::open(tmp.path().join("data"));
    let hub = r#"{
  "records": [
    {"time": "2024-05-01T00:00:00Z", "category": "AdvancedHunting-DeviceInfo", "properties": {"Timestamp": "2024-05-01T00:00:00Z", "DeviceId": "d1", "OSPlatform": "Windows11"}},
    {"time": "2024-05-01T00:00:01Z", "category": "AdvancedHunting-DeviceInfo", "properties": {"Timestamp": "not a time", "DeviceId": "d2"}}
  ]
}"#;
    let hub_lines = "{\"records\":[{\"category\":\"AdvancedHunting-DeviceInfo\",\"properties\":{\"Timestamp\":\"2024-05-03T00:00:00Z\",\"DeviceId\":\"d3\"}}]}\n";
    let la = r#"[
 {"TenantId": "t", "TimeGenerated": "5/1/2024, 3:04:05.120 PM", "Type": "SigninLogs", "UserPrincipalName": "a@b.c", "ResultType": "0"},
 {"TimeGenerated": "2024-05-01T10:00:00Z", "Type": "MyApp_CL", "Count": 3, "Ok": true}
]"#;
    let f1 = write(tmp.path(), "hub.json", hub.as_bytes());
    let f2 = write(tmp.path(), "hub-lines.json", hub_lines.as_bytes());
    let f3 = write(tmp.path(), "la.json", la.as_bytes());
    let r = run(&data, &[&f1, &f2, &f3], &IngestOptions::default());
    check_balance(&r);
    let t = r.totals();
    assert_eq!(t["DeviceInfo"], counts(3, 2, 1));
    assert_eq!(t["SigninLogs"], counts(1, 1, 0));
    assert_eq!(t["MyApp_CL"], counts(1, 1, 0));
    let q = read_quarantine(r.quarantine_file.as_ref().unwrap()).unwrap();
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].table, "DeviceInfo");
    assert!(q[0].reason.contains("'Timestamp' (datetime)"), "{}", q[0].reason);
    // The inferred table keeps its JSON types.
    let s = data.schema("MyApp_CL").unwrap().unwrap();
    assert_eq!(s.product, schema::Product::Inferred);
    assert_eq!(s.column("Count").unwrap().ty, schema::KqlType::Long);
    assert_eq!(s.column("TimeGenerated").unwrap().ty, schema::KqlType::DateTime);
}

#[test]
fn advanced_hunting_csv_named_by_file_or_table_option() {
    let tmp = tempfile::tempdir().unwrap();
    let data = DataDir::open(tmp.path().join("data"));
    let csv = "\u{feff}Timestamp,DeviceId,DeviceName,Signer,IsSigned,ReportId\n\
2024-05-01T10:00:00.1234567Z,d1,h1,\"Action1 Corporation\",True,7\n\
2024-05-01T11:00:00Z,d2,h2,\"Microsoft Windows\",1,\n\
2024-05-01T12:00:00Z,d3,h3,x,maybe,9\n\
2024-05-01T12:00:00Z,d4\n";
    let f = write(tmp.path(), "DeviceFileCertificateInfo_2024-05-01.csv", csv.as_bytes());
    let r = run(&data, &[&f], &IngestOptions::default());
    check_balance(&r);
    assert_eq!(r.totals()["DeviceFileCertificateInfo"], counts(4, 2, 2));
    let q = read_quarantine(r.quarantine_file.as_ref().unwrap()).unwrap();
    assert!(q[0].reason.contains("'IsSigned' (bool)"), "{}", q[0].reason);
    assert_eq!(q[0].line, 4);
    assert!(q[1].reason.contains("expected 6 fields"), "{}", q[1].reason);

    let g = write(
        tmp.path(),
        "export.csv",
        b"TimeGenerated [UTC],Computer\n\"5/1/2024, 3:04:05.120 PM\",c1\n",
    );
    let opts = IngestOptions {
        table: Some("Heartbeat".into()),
        ..IngestOptions::default()
    };
    let r = run(&data, &[&g], &opts);
    assert_eq!(r.totals()["Heartbeat"], counts(1, 1, 0));
    // Without --table a file named "export.csv" does not say which table it holds.
    let h = write(tmp.path(), "export2.csv", b"Computer\nc1\n");
    let r = run(&data, &[&h], &IngestOptions::default());
    assert_eq!(r.totals()[""], counts(1, 0, 1));
}

#[test]
fn corrupted_json_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let data = DataDir::open(tmp.path().join("data"));
    let good = STREAMING.lines().next().unwrap();
    let truncated = &good[..good.len() / 2];
    let wrong_type = good.replace("\"IsSigned\":true", "\"IsSigned\":\"perhaps\"");
    let bad_date = good.replace(
        "\"Timestamp\":\"2024-05-01T10:00:00.1234567Z\"",
        "\"Timestamp\":\"2024-13-45\"",
    );
    let unknown_category = good.replace("AdvancedHunting-", "Other-");
    let huge = format!("{{\"pad\":\"{}\"", "x".repeat(10 * 1024 * 1024));
    let text = [
        good,
        truncated,
        &wrong_type,
        &bad_date,
        &unknown_category,
        &huge,
        "",
        good,
    ]
    .join("\n");
    let f = write(tmp.path(), "bad.json", text.as_bytes());
    let empty = write(tmp.path(), "empty.json", b"");
    let r = run(&data, &[&f, &empty], &IngestOptions::default());
    check_balance(&r);
    let t = r.totals();
    assert_eq!(t["DeviceFileCertificateInfo"], counts(4, 2, 2));
    assert_eq!(t[""], counts(3, 0, 3));
    assert!(r.inputs[1].tables.is_empty(), "an empty file reads 0 = 0 + 0");
    let q = read_quarantine(r.quarantine_file.as_ref().unwrap()).unwrap();
    let by_line: Vec<(u64, &str)> = q.iter().map(|e| (e.line, e.reason.as_str())).collect();
    let reason = |line: u64| by_line.iter().find(|(l, _)| *l == line).map(|(_, r)| *r).unwrap_or("");
    assert!(reason(2).starts_with("invalid JSON"), "{by_line:?}");
    assert!(reason(3).contains("\"perhaps\" is not a valid bool"), "{by_line:?}");
    assert!(reason(4).contains("is not a valid datetime"), "{by_line:?}");
    assert!(
        reason(5).starts_with("unknown category 'Other-DeviceFileCertificateInfo'"),
        "{by_line:?}"
    );
    assert!(reason(6).starts_with("invalid JSON"), "{by_line:?}");
    let huge_entry = q.iter().find(|e| e.line == 6).unwrap();
    assert!(huge_entry.truncated);
    assert_eq!(huge_entry.raw_bytes, huge.len() as u64);
}

#[test]
fn too_long_records_are_quarantined_without_parsing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = DataDir::open(tmp.path().join("data"));
    let good = STREAMING.lines().next().unwrap();
    let text = format!("{good}\n{}\n{good}\n", "y".repeat(100_000));
    let f = write(tmp.path(), "long.json", text.as_bytes());
    let opts = IngestOptions {
        max_record_bytes: 10_000,
        ..IngestOptions::default()
    };
    let r = run(&data, &[&f], &opts);
    check_balance(&r);
    assert_eq!(r.totals()["DeviceFileCertificateInfo"], counts(2, 2, 0));
    let q = read_quarantine(r.quarantine_file.as_ref().unwrap()).unwrap();
    assert_eq!(
        (q[0].line, q[0].offset, q[0].raw_bytes),
        (2, good.len() as u64 + 1, 100_000)
    );
    assert!(q[0].reason.contains("longer than the limit"));
}

#[test]
fn reingest_is_skipped_unless_forced() {
    let tmp = tempfile::tempdir().unwrap();
    let data = DataDir::open(tmp.path().join("data"));
    let f = write(tmp.path(), "a.json", STREAMING.as_bytes());
    let copy = write(tmp.path(), "copy.json", STREAMING.as_bytes());
    let r1 = run(&data, &[&f], &IngestOptions::default());
    assert!(r1.inputs[0].skipped.is_none());
    let r2 = run(&data, &[&f, &copy], &IngestOptions::default());
    assert!(
        r2.inputs
            .iter()
            .all(|i| i.skipped.as_deref().unwrap_or("").contains(&r1.id))
    );
    assert_eq!(data.table_stats("DeviceProcessEvents").unwrap().rows, 1);
    let forced = IngestOptions {
        force: true,
        ..IngestOptions::default()
    };
    run(&data, &[&f], &forced);
    assert_eq!(data.table_stats("DeviceProcessEvents").unwrap().rows, 2);
}

#[test]
fn an_interrupted_ingest_leaves_nothing_visible() {
    let tmp = tempfile::tempdir().unwrap();
    let data = DataDir::open(tmp.path().join("data"));
    let f = write(tmp.path(), "a.json", STREAMING.as_bytes());
    let crash = IngestOptions {
        fail_before_commit: true,
        ..IngestOptions::default()
    };
    let err = ingest(&data, &[f.display().to_string()], &crash).unwrap_err();
    assert!(err.to_string().contains("simulated failure"));
    // The parts are on disk but belong to no committed ingest: invisible.
    assert!(data.parts("DeviceProcessEvents").unwrap().is_empty());
    assert_eq!(data.table_stats("DeviceProcessEvents").unwrap().rows, 0);
    // The next ingest cleans them up and is not skipped (the crashed one never committed).
    let r = run(&data, &[&f], &IngestOptions::default());
    assert!(r.inputs[0].skipped.is_none());
    assert_eq!(data.table_stats("DeviceProcessEvents").unwrap().rows, 1);
    let files: Vec<_> = walk(&data.table_dir("DeviceProcessEvents"));
    assert_eq!(
        files
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
            .count(),
        1
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

#[test]
fn parquet_and_plain_json_with_table_option() {
    let tmp = tempfile::tempdir().unwrap();
    let data = DataDir::open(tmp.path().join("data"));
    let f = write(tmp.path(), "a.json", STREAMING.as_bytes());
    run(&data, &[&f], &IngestOptions::default());
    // Re-ingest our own Parquet part into another data directory.
    let part = data.parts("DeviceProcessEvents").unwrap()[0].path.clone();
    let other = DataDir::open(tmp.path().join("other"));
    let r = run(
        &other,
        &[&part],
        &IngestOptions {
            table: Some("DeviceProcessEvents".into()),
            ..IngestOptions::default()
        },
    );
    assert_eq!(r.inputs[0].format, "parquet");
    assert_eq!(r.totals()["DeviceProcessEvents"], counts(1, 1, 0));
    let plain = write(
        tmp.path(),
        "rows.jsonl",
        b"{\"Timestamp\":\"2024-05-01\",\"Signer\":\"x\"}\n",
    );
    let r = run(
        &other,
        &[&plain],
        &IngestOptions {
            table: Some("DeviceFileCertificateInfo".into()),
            format: Format::Json,
            ..IngestOptions::default()
        },
    );
    assert_eq!(r.totals()["DeviceFileCertificateInfo"], counts(1, 1, 0));
}

#[test]
fn directories_and_globs_expand() {
    let tmp = tempfile::tempdir().unwrap();
    let data = DataDir::open(tmp.path().join("data"));
    let sub = tmp.path().join("in/sub");
    std::fs::create_dir_all(&sub).unwrap();
    write(&sub, "one.json", STREAMING.as_bytes());
    write(
        &tmp.path().join("in"),
        "two.json",
        STREAMING.replace("dev1", "dev2").as_bytes(),
    );
    let r = run(&data, &[&tmp.path().join("in")], &IngestOptions::default());
    assert_eq!(r.inputs.len(), 2);
    let pattern = format!("{}/in/*.json", tmp.path().display());
    let r = ingest(&data, &[pattern], &IngestOptions::default()).unwrap();
    assert_eq!(r.inputs.len(), 1);
    assert!(r.inputs[0].skipped.is_some());
}

#[tokio::test]
async fn a_column_added_later_reads_as_empty_string_in_older_parts() {
    use datafusion::prelude::SessionContext;
    let tmp = tempfile::tempdir().unwrap();
    let data = DataDir::open(tmp.path().join("data"));
    let a = write(
        tmp.path(),
        "a.json",
        b"{\"Type\":\"App_CL\",\"TimeGenerated\":\"2024-05-01\",\"A\":\"x\"}\n",
    );
    let b = write(
        tmp.path(),
        "b.json",
        b"{\"Type\":\"App_CL\",\"TimeGenerated\":\"2024-05-01\",\"A\":\"y\",\"B\":\"new\",\"N\":5}\n",
    );
    run(&data, &[&a], &IngestOptions::default());
    run(&data, &[&b], &IngestOptions::default());
    // Without and with late materialization (filters evaluated inside the Parquet reader,
    // as the engine's session does): the filter on the missing column is rewritten to ""
    // in both places.
    for pushdown in [false, true] {
        let mut config = datafusion::prelude::SessionConfig::new();
        config.options_mut().execution.parquet.pushdown_filters = pushdown;
        config.options_mut().execution.parquet.reorder_filters = pushdown;
        added_column_reads_as_empty(&data, SessionContext::new_with_config(config)).await;
    }
}

async fn added_column_reads_as_empty(data: &DataDir, ctx: datafusion::prelude::SessionContext) {
    use datafusion::prelude::ident;
    ctx.register_table("App_CL", data.table_provider("App_CL").unwrap().unwrap())
        .unwrap();
    let df = ctx
        .table("App_CL")
        .await
        .unwrap()
        .select(vec![ident("A"), ident("B"), ident("N")])
        .unwrap()
        .sort(vec![ident("A").sort(true, true)])
        .unwrap();
    let text = arrow::util::pretty::pretty_format_batches(&df.collect().await.unwrap())
        .unwrap()
        .to_string();
    let expected =
        "+---+-----+---+\n| A | B   | N |\n+---+-----+---+\n| x |     |   |\n| y | new | 5 |\n+---+-----+---+";
    assert_eq!(text, expected);
    // The empty string is a value, not a null.
    let nulls = ctx
        .table("App_CL")
        .await
        .unwrap()
        .filter(ident("B").is_null())
        .unwrap()
        .count()
        .await
        .unwrap();
    assert_eq!(nulls, 0);
    let empty = ctx
        .table("App_CL")
        .await
        .unwrap()
        .filter(ident("B").eq(datafusion::prelude::lit("")))
        .unwrap()
        .count()
        .await
        .unwrap();
    assert_eq!(empty, 1, "old rows match B == \"\"");
}
