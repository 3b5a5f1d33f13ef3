//! The string-matching kernels over a `Signer`-like column: ~1 M rows of realistic
//! certificate signer names (mostly Microsoft and a few large vendors, RMM vendors rare,
//! some non-ASCII), fed to the UDFs in DataFusion's 8192-row batches, as a filter sees
//! them. Throughput is in bytes of string data.
//!
//! `cargo bench -p functions --bench terms`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringArray, StringViewArray};
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF};
use functions::{MultiMatcher, StrOp};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

const ROWS: usize = 1 << 20;
const BATCH: usize = 8192;

/// Signer names with their weights (per 10 000 rows).
const SIGNERS: &[(&str, u32)] = &[
    ("Microsoft Windows", 3000),
    ("Microsoft Corporation", 2000),
    ("Microsoft Windows Publisher", 800),
    ("Google LLC", 600),
    ("Mozilla Corporation", 400),
    ("Intel Corporation", 300),
    ("Adobe Inc.", 300),
    ("Zoom Video Communications, Inc.", 250),
    ("NVIDIA Corporation", 250),
    ("Microsoft 3rd Party Application Component", 250),
    ("Slack Technologies, LLC", 200),
    ("Python Software Foundation", 150),
    ("Oracle America, Inc.", 150),
    ("Apple Inc.", 150),
    ("Cisco Systems, Inc.", 120),
    ("VMware, Inc.", 120),
    ("Citrix Systems, Inc.", 100),
    ("HP Inc.", 100),
    ("Realtek Semiconductor Corp.", 100),
    ("Dell Inc", 80),
    ("Lenovo", 80),
    ("Git for Windows", 60),
    ("", 70),
    ("Ñandú Software S.A.", 20),
    ("Müller & Söhne GmbH", 20),
    ("Action1 Corporation", 10),
    ("AnyDesk Software GmbH", 5),
    ("TeamViewer Germany GmbH", 5),
    ("ConnectWise, LLC", 5),
    ("Splashtop Inc.", 3),
    ("NinjaRMM LLC", 2),
];

fn signers(rows: usize) -> Vec<&'static str> {
    let total: u32 = SIGNERS.iter().map(|s| s.1).sum();
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    (0..rows)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let mut pick = (state % total as u64) as u32;
            for (name, w) in SIGNERS {
                if pick < *w {
                    return *name;
                }
                pick -= w;
            }
            SIGNERS[0].0
        })
        .collect()
}

/// The RMM signers of `data/rmm_indicators.json` (what the RMM rules look for).
fn rmm_signers() -> Vec<String> {
    let json: serde_json::Value =
        serde_json::from_str(include_str!("../../../data/rmm_indicators.json")).expect("indicators");
    let mut out = Vec::new();
    for tool in json["tools"].as_array().expect("tools") {
        for s in tool["signers"].as_array().expect("signers") {
            out.push(s.as_str().expect("signer").to_string());
        }
    }
    out
}

fn udf(name: &str) -> ScalarUDF {
    functions::kernels::kernel_udf(name).expect("udf")
}

fn utf8(s: &str) -> ColumnarValue {
    ColumnarValue::Scalar(ScalarValue::Utf8(Some(s.to_string())))
}

/// Runs `udf(column, constants…)` over every batch; returns the number of true rows.
fn run(udf: &ScalarUDF, batches: &[ArrayRef], constants: &[ColumnarValue]) -> usize {
    let mut hits = 0;
    for b in batches {
        let mut args = vec![ColumnarValue::Array(b.clone())];
        args.extend(constants.iter().cloned());
        let arg_fields = args
            .iter()
            .map(|a| Arc::new(Field::new("a", a.data_type(), true)))
            .collect();
        let out = udf
            .invoke_with_args(ScalarFunctionArgs {
                args,
                arg_fields,
                number_rows: b.len(),
                return_field: Arc::new(Field::new("r", DataType::Boolean, true)),
                config_options: Default::default(),
            })
            .expect("invoke");
        let ColumnarValue::Array(a) = out else { panic!("array") };
        hits += a.as_boolean().true_count();
    }
    hits
}

fn bench(c: &mut Criterion) {
    let rows = signers(ROWS);
    let bytes: usize = rows.iter().map(|s| s.len()).sum();
    let layouts: [(&str, Vec<ArrayRef>); 2] = [
        (
            "utf8",
            rows.chunks(BATCH)
                .map(|c| Arc::new(StringArray::from_iter_values(c)) as ArrayRef)
                .collect(),
        ),
        (
            "utf8view",
            rows.chunks(BATCH)
                .map(|c| Arc::new(StringViewArray::from_iter_values(c)) as ArrayRef)
                .collect(),
        ),
    ];
    let rmm = rmm_signers();
    let has_any: Vec<ColumnarValue> = rmm.iter().take(50).map(|s| utf8(s)).collect();
    let in_ci: Vec<ColumnarValue> = [
        "AnyDesk Software GmbH",
        "TeamViewer Germany GmbH",
        "Action1 Corporation",
        "ConnectWise, LLC",
        "Splashtop Inc.",
        "NinjaRMM LLC",
        "Atera Networks Ltd.",
        "Kaseya Holdings Inc.",
        "N-Able Technologies Ltd",
        "Remote Utilities LLC",
    ]
    .iter()
    .map(|s| utf8(s))
    .collect();
    // A rule pack's worth of tests on one column: every RMM signer (`has`), a few exact
    // names, prefixes and substrings.
    let mut tests: Vec<(StrOp, String, bool)> = rmm.iter().take(50).map(|s| (StrOp::Has, s.clone(), false)).collect();
    for (op, n, cs) in [
        (StrOp::Equals, "AnyDesk Software GmbH", false),
        (StrOp::Equals, "TeamViewer Germany GmbH", false),
        (StrOp::Equals, "Splashtop Inc.", true),
        (StrOp::StartsWith, "ConnectWise", false),
        (StrOp::StartsWith, "Kaseya", false),
        (StrOp::EndsWith, "RMM LLC", false),
        (StrOp::Contains, "TeamViewer", false),
        (StrOp::Contains, "ScreenConnect", true),
        (StrOp::HasPrefix, "Atera", false),
        (StrOp::HasSuffix, "Desk", false),
    ] {
        tests.push((op, n.to_string(), cs));
    }
    let matcher = MultiMatcher::new(tests);

    let kernels: Vec<(&str, ScalarUDF, Vec<ColumnarValue>)> = vec![
        (
            "has 'Action1 Corporation'",
            udf("kql_has"),
            vec![utf8("Action1 Corporation")],
        ),
        (
            "has_cs 'Action1 Corporation'",
            udf("kql_has_cs"),
            vec![utf8("Action1 Corporation")],
        ),
        ("has_any (50 signers)", udf("kql_has_any"), has_any),
        (
            "=~ 'Microsoft Corporation'",
            udf("kql_equals"),
            vec![utf8("Microsoft Corporation")],
        ),
        ("contains 'TeamViewer'", udf("kql_contains"), vec![utf8("TeamViewer")]),
        (
            "contains_cs 'TeamViewer'",
            udf("kql_contains_cs"),
            vec![utf8("TeamViewer")],
        ),
        (
            "startswith 'ConnectWise'",
            udf("kql_startswith"),
            vec![utf8("ConnectWise")],
        ),
        ("in~ (10 names)", udf("kql_in_ci"), in_ci),
    ];

    for (layout, batches) in &layouts {
        let mut g = c.benchmark_group(format!("terms/{layout}"));
        g.throughput(Throughput::Bytes(bytes as u64));
        g.sample_size(10);
        g.warm_up_time(Duration::from_secs(1));
        g.measurement_time(Duration::from_secs(4));
        for (name, f, constants) in &kernels {
            g.bench_function(*name, |b| b.iter(|| black_box(run(f, batches, constants))));
        }
        g.bench_function("MultiMatcher (60 tests)", |b| {
            b.iter(|| {
                let mut hits = 0;
                for a in batches {
                    hits += matcher.any_match(a.as_ref()).expect("match").true_count();
                }
                black_box(hits)
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
