//! Benchmark results: the JSON written by `--json`, the table printed after a run, and the
//! side-by-side comparison with an earlier run (`--compare`).

use super::data::Dataset;
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// One benchmark run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct BenchReport {
    pub quarry_version: String,
    pub started_at: String,
    pub machine: Machine,
    /// `1m`, `10m`, `100m`…
    pub scale: String,
    pub dataset: Dataset,
    /// The engine's memory limit (bytes).
    pub memory_limit: u64,
    /// Runs of each case (`--repeat`); each case's figures are those of its median run.
    #[serde(default = "one")]
    pub repeat: u32,
    /// Whether the data was dropped from the page cache before every run (`--cold`).
    #[serde(default)]
    pub cold: bool,
    pub cases: Vec<CaseResult>,
}

fn one() -> u32 {
    1
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Machine {
    pub cpus: usize,
    pub memory_bytes: Option<u64>,
    pub cpu_model: Option<String>,
}

impl Machine {
    pub fn this() -> Machine {
        let cpu_model = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        });
        Machine {
            cpus: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            memory_bytes: engine::memory::physical_memory(),
            cpu_model,
        }
    }
}

/// One case of a run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CaseResult {
    pub name: String,
    pub wall_s: f64,
    /// Rows of the tables the case reads (or ingests).
    pub rows: u64,
    pub rows_per_s: f64,
    /// Bytes fetched from Parquet (for ingest: bytes of JSON read).
    pub bytes_scanned: u64,
    pub bytes_per_s: f64,
    pub peak_rss_bytes: Option<u64>,
    /// Bytes read from the storage device rather than the page cache (Linux).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_read_bytes: Option<u64>,
    /// For seed rules: bytes of the `Signer` strings in the window they read, per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_bytes_per_s: Option<f64>,
    /// What the case did (rules, findings, result rows, the slowest rule's name).
    pub detail: String,
    /// Why the case failed (its figures are then meaningless).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// With `--repeat`: the fastest and slowest of the runs (seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_range_s: Option<(f64, f64)>,
}

/// The median run of a case's runs (by wall time; of an even number, the faster of the two
/// middle ones), with the range of their wall times; the first failed run if any failed.
pub fn median_run(mut runs: Vec<CaseResult>) -> Option<CaseResult> {
    if let Some(i) = runs.iter().position(|r| r.error.is_some()) {
        return Some(runs.swap_remove(i));
    }
    if runs.len() < 2 {
        return runs.pop();
    }
    runs.sort_by(|a, b| a.wall_s.total_cmp(&b.wall_s));
    let range = (runs[0].wall_s, runs[runs.len() - 1].wall_s);
    let mut median = runs.swap_remove((runs.len() - 1) / 2);
    median.wall_range_s = Some(range);
    Some(median)
}

/// `1.2 K`, `3.4 M`, `5.6 G` (powers of 1000), for counts.
pub fn si(v: f64) -> String {
    let (value, unit) = if v >= 1e9 {
        (v / 1e9, " G")
    } else if v >= 1e6 {
        (v / 1e6, " M")
    } else if v >= 1e3 {
        (v / 1e3, " K")
    } else {
        (v, "")
    };
    if unit.is_empty() {
        format!("{value:.0}")
    } else {
        format!("{value:.1}{unit}")
    }
}

/// Bytes in MB/GB (powers of 1000, as throughput is usually quoted).
pub fn bytes(v: f64) -> String {
    if v >= 1e9 {
        format!("{:.2} GB", v / 1e9)
    } else if v >= 1e6 {
        format!("{:.1} MB", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1} KB", v / 1e3)
    } else {
        format!("{v:.0} B")
    }
}

fn secs(s: f64) -> String {
    if s >= 100.0 {
        format!("{s:.0} s")
    } else if s >= 10.0 {
        format!("{s:.1} s")
    } else {
        format!("{s:.2} s")
    }
}

fn peak(p: Option<u64>) -> String {
    p.map_or_else(|| "-".to_string(), |b| format!("{} MiB", b >> 20))
}

/// Lays out rows of cells in columns: those in `left` left-aligned, the others (numbers)
/// right-aligned.
fn columns(rows: &[Vec<String>], left: &[usize]) -> String {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, cell) in r.iter().enumerate() {
            let pad = widths[i].saturating_sub(cell.chars().count());
            if i > 0 {
                line.push_str("  ");
            }
            if left.contains(&i) {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad));
            } else {
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

impl BenchReport {
    /// Where the data was when the cases ran.
    fn cache(&self) -> &'static str {
        if self.cold {
            "cold: data dropped from the page cache before every run"
        } else {
            "warm page cache"
        }
    }

    /// The results as a table for people.
    pub fn table(&self) -> String {
        let mut rows = vec![
            [
                "case",
                "wall",
                "rows",
                "rows/s",
                "scanned",
                "scanned/s",
                "peak RSS",
                "detail",
            ]
            .map(String::from)
            .to_vec(),
        ];
        for c in &self.cases {
            let mut detail = match (&c.error, c.string_bytes_per_s) {
                (Some(e), _) => format!("FAILED: {e}"),
                (None, Some(s)) => format!("{}; Signer {}/s", c.detail, bytes(s)),
                (None, None) => c.detail.clone(),
            };
            if let (None, Some(b)) = (&c.error, c.disk_read_bytes.filter(|b| *b > 0)) {
                detail.push_str(&format!("; {} read from disk", bytes(b as f64)));
            }
            if let (None, Some((lo, hi))) = (&c.error, c.wall_range_s) {
                detail.push_str(&format!("; {} runs: {}–{}", self.repeat, secs(lo), secs(hi)));
            }
            rows.push(vec![
                c.name.clone(),
                secs(c.wall_s),
                si(c.rows as f64),
                format!("{}/s", si(c.rows_per_s)),
                bytes(c.bytes_scanned as f64),
                format!("{}/s", bytes(c.bytes_per_s)),
                peak(c.peak_rss_bytes),
                detail,
            ]);
        }
        let d = &self.dataset;
        let mut out = format!(
            "scale {}: {} rows ({} devices x {} days, {} of Parquet), generator v{}, seed {}; memory limit {}; {}\n",
            self.scale,
            si(d.rows as f64),
            d.devices,
            d.days,
            bytes(d.bytes as f64),
            d.generator_version,
            d.seed,
            engine::memory::format_bytes(self.memory_limit),
            self.cache(),
        );
        out.push_str(&columns(&rows, &[0, 7]));
        out
    }
}

/// Each case of either run with its old and new wall time, `new/old` (below 1: faster),
/// and both peaks; cases only one run has show `-` for the other.
pub fn compare(old: &BenchReport, new: &BenchReport) -> String {
    let mut names: Vec<&str> = new.cases.iter().map(|c| c.name.as_str()).collect();
    for c in &old.cases {
        if !names.contains(&c.name.as_str()) {
            names.push(&c.name);
        }
    }
    let find = |r: &'_ BenchReport, n: &str| r.cases.iter().find(|c| c.name == n).cloned();
    let mut rows = vec![
        [
            "case",
            "old wall",
            "new wall",
            "new/old",
            "old rows/s",
            "new rows/s",
            "old peak",
            "new peak",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for name in names {
        let (o, n) = (find(old, name), find(new, name));
        let wall = |c: &Option<CaseResult>| match c {
            Some(c) if c.error.is_some() => "failed".to_string(),
            Some(c) => secs(c.wall_s),
            None => "-".to_string(),
        };
        let ratio = match (&o, &n) {
            (Some(o), Some(n)) if o.error.is_none() && n.error.is_none() && o.wall_s > 0.0 => {
                format!("{:.2}", n.wall_s / o.wall_s)
            }
            _ => "-".to_string(),
        };
        let rate = |c: &Option<CaseResult>| {
            c.as_ref()
                .map_or("-".to_string(), |c| format!("{}/s", si(c.rows_per_s)))
        };
        let pk = |c: &Option<CaseResult>| c.as_ref().map_or("-".to_string(), |c| peak(c.peak_rss_bytes));
        rows.push(vec![
            name.to_string(),
            wall(&o),
            wall(&n),
            ratio,
            rate(&o),
            rate(&n),
            pk(&o),
            pk(&n),
        ]);
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "old: {} ({}, scale {}); new: {} ({}, scale {}); new/old below 1 is faster",
        old.started_at, old.quarry_version, old.scale, new.started_at, new.quarry_version, new.scale
    );
    if old.scale != new.scale {
        let _ = writeln!(out, "warning: the runs are of different scales");
    }
    if old.cold != new.cold {
        let _ = writeln!(out, "warning: old: {}; new: {}", old.cache(), new.cache());
    }
    out.push_str(&columns(&rows, &[0]));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(name: &str, wall_s: f64, peak_mib: u64) -> CaseResult {
        CaseResult {
            name: name.into(),
            wall_s,
            rows: 1_000_000,
            rows_per_s: 1_000_000.0 / wall_s,
            bytes_scanned: 25_000_000,
            bytes_per_s: 25_000_000.0 / wall_s,
            peak_rss_bytes: Some(peak_mib << 20),
            disk_read_bytes: None,
            string_bytes_per_s: None,
            detail: "1 rule, 2 findings".into(),
            error: None,
            wall_range_s: None,
        }
    }

    fn report(started: &str, cases: Vec<CaseResult>) -> BenchReport {
        BenchReport {
            quarry_version: "0.1.0".into(),
            started_at: started.into(),
            machine: Machine {
                cpus: 2,
                memory_bytes: Some(24 << 30),
                cpu_model: None,
            },
            scale: "1m".into(),
            dataset: Dataset {
                generator_version: 1,
                seed: 1,
                devices: 16,
                days: 7,
                start: "2024-05-01".into(),
                tables: Default::default(),
                rows: 989_408,
                bytes: 48_000_000,
                generated_in_s: None,
                ingest_rows: 141_000,
                ingest_bytes: 350_000_000,
            },
            memory_limit: 12 << 30,
            repeat: 1,
            cold: false,
            cases,
        }
    }

    #[test]
    fn the_median_run_of_several_and_their_range() {
        let runs = vec![
            case("a", 0.30, 1),
            case("a", 0.10, 1),
            case("a", 0.20, 1),
            case("a", 0.50, 1),
        ];
        let m = median_run(runs).unwrap();
        assert_eq!(m.wall_s, 0.20);
        assert_eq!(m.wall_range_s, Some((0.10, 0.50)));
        let m = median_run(vec![case("a", 0.3, 1), case("a", 0.1, 1), case("a", 0.2, 1)]).unwrap();
        assert_eq!(m.wall_s, 0.2);
        // One run: no range; a failed run is reported as it is.
        assert_eq!(median_run(vec![case("a", 0.3, 1)]).unwrap().wall_range_s, None);
        let mut failed = case("a", 0.9, 1);
        failed.error = Some("out of memory".into());
        let m = median_run(vec![case("a", 0.1, 1), failed]).unwrap();
        assert_eq!(m.error.as_deref(), Some("out of memory"));
        assert!(median_run(Vec::new()).is_none());
        let mut r = report(
            "2026-11-22T12:00:00Z",
            vec![median_run(vec![case("a", 0.1, 1), case("a", 0.3, 1)]).unwrap()],
        );
        r.repeat = 2;
        assert!(r.table().contains("2 runs: 0.10 s–0.30 s"), "{}", r.table());
    }

    #[test]
    fn table_of_a_run() {
        let mut seed = case("seed-action1", 0.25, 130);
        seed.string_bytes_per_s = Some(2.5e9);
        let mut failed = case("query-join", 1.0, 200);
        failed.error = Some("the query needs more memory than its limit".into());
        let r = report(
            "2026-11-22T12:00:00Z",
            vec![seed, case("pack-rmm-fused", 12.5, 820), failed],
        );
        insta::assert_snapshot!(r.table(), @r"
        scale 1m: 989.4 K rows (16 devices x 7 days, 48.0 MB of Parquet), generator v1, seed 1; memory limit 12.0 GiB; warm page cache
        case              wall   rows    rows/s  scanned   scanned/s  peak RSS  detail
        seed-action1    0.25 s  1.0 M   4.0 M/s  25.0 MB  100.0 MB/s   130 MiB  1 rule, 2 findings; Signer 2.50 GB/s
        pack-rmm-fused  12.5 s  1.0 M  80.0 K/s  25.0 MB    2.0 MB/s   820 MiB  1 rule, 2 findings
        query-join      1.00 s  1.0 M   1.0 M/s  25.0 MB   25.0 MB/s   200 MiB  FAILED: the query needs more memory than its limit
        ");
    }

    #[test]
    fn comparison_side_by_side() {
        let old = report(
            "2026-11-21T12:00:00Z",
            vec![
                case("seed-action1", 0.5, 150),
                case("pack-rmm-fused", 20.0, 900),
                case("gone", 1.0, 10),
            ],
        );
        let mut new = report(
            "2026-11-22T12:00:00Z",
            vec![
                case("seed-action1", 0.25, 130),
                case("pack-rmm-fused", 25.0, 800),
                case("added", 2.0, 50),
            ],
        );
        new.quarry_version = "0.2.0".into();
        new.cold = true;
        insta::assert_snapshot!(compare(&old, &new), @r"
        old: 2026-11-21T12:00:00Z (0.1.0, scale 1m); new: 2026-11-22T12:00:00Z (0.2.0, scale 1m); new/old below 1 is faster
        warning: old: warm page cache; new: cold: data dropped from the page cache before every run
        case            old wall  new wall  new/old  old rows/s  new rows/s  old peak  new peak
        seed-action1      0.50 s    0.25 s     0.50     2.0 M/s     4.0 M/s   150 MiB   130 MiB
        pack-rmm-fused    20.0 s    25.0 s     1.25    50.0 K/s    40.0 K/s   900 MiB   800 MiB
        added                  -    2.00 s        -           -   500.0 K/s         -    50 MiB
        gone              1.00 s         -        -     1.0 M/s           -    10 MiB         -
        ");
    }

    #[test]
    fn reports_survive_json() {
        let r = report("2026-11-22T12:00:00Z", vec![case("seed-action1", 0.25, 130)]);
        let text = serde_json::to_string(&r).expect("json");
        assert_eq!(serde_json::from_str::<BenchReport>(&text).expect("parse"), r);
        // A cold run says so, and what its cases read from the disk; a report written
        // before `--cold` existed was warm.
        let mut cold = BenchReport {
            cold: true,
            ..r.clone()
        };
        cold.cases[0].disk_read_bytes = Some(227_000_000);
        assert!(cold.table().contains("cold: data dropped"), "{}", cold.table());
        assert!(cold.table().contains("; 227.0 MB read from disk"), "{}", cold.table());
        let text = serde_json::to_string(&cold).expect("json");
        assert_eq!(serde_json::from_str::<BenchReport>(&text).expect("parse"), cold);
        cold.cases[0].disk_read_bytes = None;
        let mut older: serde_json::Value = serde_json::to_value(&cold).expect("json");
        older.as_object_mut().expect("object").remove("cold");
        assert_eq!(serde_json::from_value::<BenchReport>(older).expect("parse"), r);
    }

    #[test]
    fn numbers_for_people() {
        assert_eq!(si(999.0), "999");
        assert_eq!(si(1_500.0), "1.5 K");
        assert_eq!(si(2_345_678.0), "2.3 M");
        assert_eq!(bytes(1.2e9), "1.20 GB");
        assert_eq!(bytes(512.0), "512 B");
        assert_eq!(secs(123.4), "123 s");
        assert_eq!(peak(None), "-");
    }
}
