//! The benchmark cases: each seed rule alone, the RMM pack fused and unfused, the pack's
//! slowest rule alone, a heavy query set run through the engine, and ingest of Defender
//! streaming JSON.

use super::data::{Dataset, Work, dir_bytes};
use super::measure::{Measured, measure};
use super::report::CaseResult;
use engine::{Engine, EngineConfig, QueryOptions};
use hunt::{DataDirCatalog, DataFacts, HuntOptions, Hunter, NowSpec, RuleStatus, RunReport, Selection, Silent};
use rules::Rule;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A query of the heavy set: what it exercises, and its text.
pub struct HeavyQuery {
    pub name: &'static str,
    pub text: &'static str,
}

/// Joins, summarize by high-cardinality keys, mv-expand over a dynamic array, regex
/// extraction — over whole tables (no time filter).
pub const HEAVY: &[HeavyQuery] = &[
    HeavyQuery {
        // Launches joined with the connections of the same process: big table by big table.
        name: "query-join",
        text: "DeviceProcessEvents\n\
               | project DeviceId, ProcessId, FileName\n\
               | join kind=inner (DeviceNetworkEvents\n    \
                   | project DeviceId, ProcessId = InitiatingProcessId, RemoteUrl) on DeviceId, ProcessId\n\
               | summarize Connections = count() by FileName, RemoteUrl\n\
               | summarize Pairs = count(), Connections = sum(Connections)",
    },
    HeavyQuery {
        // A group per file hash: most temporary files are unique.
        name: "query-summarize-sha1",
        text: "DeviceFileEvents\n\
               | summarize Events = count(), First = min(Timestamp), Last = max(Timestamp) by SHA1\n\
               | summarize Hashes = count(), Repeated = countif(Events > 1)",
    },
    HeavyQuery {
        // A group per event of the largest table.
        name: "query-summarize-reportid",
        text: "DeviceImageLoadEvents\n\
               | summarize Events = count() by DeviceId, ReportId\n\
               | summarize Groups = count(), MostPerGroup = max(Events)",
    },
    HeavyQuery {
        name: "query-mv-expand",
        text: "DeviceNetworkEvents\n\
               | project Octets = split(RemoteIP, '.')\n\
               | mv-expand Octet = Octets to typeof(string)\n\
               | summarize Rows = count() by Octet\n\
               | summarize Values = count(), Rows = sum(Rows)",
    },
    HeavyQuery {
        name: "query-regex-extract",
        text: "DeviceProcessEvents\n\
               | extend Image = extract(@'\"([^\"]+)\"', 1, ProcessCommandLine), \
                        Switch = extract(@'\\s(/[A-Za-z]+|--?[a-z-]+)', 1, ProcessCommandLine)\n\
               | summarize Launches = count() by Image, Switch\n\
               | summarize Images = dcount(Image), Combinations = count(), Launches = sum(Launches)",
    },
];

/// What a case runs.
#[derive(Clone)]
pub enum Kind {
    /// A seed rule alone.
    Seed(Box<Rule>),
    /// A seed rule's query through the engine alone, without the hunt around it
    /// (validation, data facts, exclusions, findings): the scan and filter of `Signer`.
    SeedQuery(Box<Rule>),
    /// The RMM pack, fused or not.
    Pack {
        fused: bool,
    },
    /// The RMM pack's slowest rule (in an unfused run) alone.
    PackSlowest,
    Query(&'static HeavyQuery),
    Ingest,
}

#[derive(Clone)]
pub struct Case {
    pub name: String,
    pub kind: Kind,
}

/// Every case, in the order they run (the unfused pack before its slowest rule).
pub fn all() -> Vec<Case> {
    let mut cases = Vec::new();
    let (seeds, _) = hunt::seeds::seed_rules();
    let mut seeds: Vec<(String, Rule)> = seeds
        .into_iter()
        .map(|(r, _)| (format!("seed-{}", seed_tool(&r.name)), r))
        .collect();
    seeds.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some((name, rule)) = seeds.first() {
        cases.push(Case {
            name: format!("{name}-query"),
            kind: Kind::SeedQuery(Box::new(rule.clone())),
        });
    }
    for (name, rule) in seeds {
        cases.push(Case {
            name,
            kind: Kind::Seed(Box::new(rule)),
        });
    }
    cases.push(Case {
        name: "pack-rmm-fused".into(),
        kind: Kind::Pack { fused: true },
    });
    cases.push(Case {
        name: "pack-rmm-unfused".into(),
        kind: Kind::Pack { fused: false },
    });
    cases.push(Case {
        name: "pack-rmm-slowest-rule".into(),
        kind: Kind::PackSlowest,
    });
    for q in HEAVY {
        cases.push(Case {
            name: q.name.into(),
            kind: Kind::Query(q),
        });
    }
    cases.push(Case {
        name: "ingest-streaming-json".into(),
        kind: Kind::Ingest,
    });
    cases
}

/// `Remote Management and Montioring tool - Action1 - File Signature` → `action1`.
fn seed_tool(name: &str) -> String {
    let parts: Vec<&str> = name.split(" - ").collect();
    let tool = if parts.len() >= 3 { parts[1] } else { name };
    tool.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase()
}

/// The cases `filter` names (exact names or prefixes: `seed`, `query`, `pack-rmm-fused`),
/// all when it is empty.
pub fn select(cases: Vec<Case>, filter: &[String]) -> Result<Vec<Case>, String> {
    if filter.is_empty() {
        return Ok(cases);
    }
    for f in filter {
        if !cases.iter().any(|c| c.name.starts_with(f.as_str())) {
            let names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
            return Err(format!(
                "--cases: no case is named or starts with '{f}' (cases: {})",
                names.join(", ")
            ));
        }
    }
    Ok(cases
        .into_iter()
        .filter(|c| filter.iter().any(|f| c.name.starts_with(f.as_str())))
        .collect())
}

/// What every case needs: the data, the engine settings, facts about the tables.
pub struct Context<'a> {
    pub work: &'a Work,
    pub dataset: &'a Dataset,
    pub memory_limit: Option<usize>,
    /// The newest event: the `now()` of every rule and query (`--now latest`).
    pub now: i64,
    /// Rows per table with data.
    pub table_rows: BTreeMap<String, u64>,
    /// The pack's slowest rule alone, once chosen (see [`run_slowest`]).
    slowest_rule: Option<String>,
    /// Bytes of `Signer` in the seed rules' window, once measured (see [`signer_bytes`]).
    signer_window_bytes: Option<Option<u64>>,
    /// Drop the benchmark's files from the page cache before every timed run.
    cold: bool,
}

impl<'a> Context<'a> {
    pub fn new(work: &'a Work, dataset: &'a Dataset, memory_limit: Option<usize>, cold: bool) -> Result<Self, String> {
        let dir = super::data::data_dir(work);
        let facts = DataFacts::read(&dir, true).map_err(|e| e.to_string())?;
        let now = facts
            .latest()
            .ok_or_else(|| "the benchmark data has no events".to_string())?;
        let mut table_rows = BTreeMap::new();
        for t in facts.tables.keys() {
            let stats = dir.table_stats(t).map_err(|e| e.to_string())?;
            table_rows.insert(t.clone(), stats.rows);
        }
        Ok(Context {
            work,
            dataset,
            memory_limit,
            now,
            table_rows,
            slowest_rule: None,
            signer_window_bytes: None,
            cold,
        })
    }

    /// [`measure`]s `work`, after dropping the benchmark's files from the page cache when
    /// it is cold. A failure to drop them is the run's error (it would not be cold).
    fn measured<T>(&self, work: impl FnOnce() -> Result<T, String>) -> (Result<T, String>, Measured) {
        if self.cold
            && let Err(e) = store::drop_from_page_cache(&self.work.root)
        {
            let e = format!("cannot drop the data from the page cache: {e}");
            return (Err(e), Measured::default());
        }
        measure(work)
    }

    /// Rows of the tables with data that `query` names.
    fn rows_read(&self, query: &str) -> u64 {
        self.table_rows
            .iter()
            .filter(|(t, _)| names_table(query, t))
            .map(|(_, n)| n)
            .sum()
    }

    fn hunt(&self, selection: &Selection, fused: bool) -> Result<RunReport, String> {
        let options = HuntOptions {
            now: NowSpec::Latest,
            persist: false,
            fused,
            memory_limit: self.memory_limit,
            ..HuntOptions::default()
        };
        Hunter::new(self.work.data())
            .run(selection, &options, &Silent)
            .map_err(|e| e.to_string())
    }
}

/// Whether `query` names `table` as a whole word.
fn names_table(query: &str, table: &str) -> bool {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    query
        .match_indices(table)
        .any(|(i, _)| !word(query[..i].chars().next_back()) && !word(query[i + table.len()..].chars().next()))
}

/// `3 rules (3 ran), 4 findings`; rule failures are named.
fn hunt_detail(r: &RunReport) -> (String, Option<String>) {
    let ran = r.count(RuleStatus::Ran);
    let skipped = r.count(RuleStatus::Skipped);
    let findings = r.active_findings().count();
    let mut detail = format!("{} rule(s): {ran} ran", r.rules.len());
    if skipped > 0 {
        detail.push_str(&format!(", {skipped} skipped"));
    }
    detail.push_str(&format!("; {findings} finding(s)"));
    let failed: Vec<String> = r
        .rules
        .iter()
        .filter(|x| x.status.is_error())
        .map(|x| format!("{} ({})", x.rule_name, x.message.clone().unwrap_or_default()))
        .collect();
    let error = (!failed.is_empty()).then(|| format!("{} rule(s) failed: {}", failed.len(), failed.join("; ")));
    (detail, error)
}

fn result(name: &str, m: Measured, rows: u64, detail: String, error: Option<String>) -> CaseResult {
    let per_s = |v: u64| if m.wall_s > 0.0 { v as f64 / m.wall_s } else { 0.0 };
    CaseResult {
        name: name.to_string(),
        wall_s: m.wall_s,
        rows,
        rows_per_s: per_s(rows),
        bytes_scanned: m.bytes_scanned,
        bytes_per_s: per_s(m.bytes_scanned),
        peak_rss_bytes: m.peak_rss_bytes,
        disk_read_bytes: m.disk_read_bytes,
        string_bytes_per_s: None,
        detail,
        error,
        wall_range_s: None,
    }
}

/// Runs one case.
pub fn run(case: &Case, cx: &mut Context) -> CaseResult {
    match &case.kind {
        Kind::Seed(rule) => {
            let rows = cx.rows_read(&rule.query);
            let signer = signer_bytes(cx, rule);
            let selection = Selection::Rules {
                label: case.name.clone(),
                rules: vec![rule.as_ref().clone()],
            };
            let (out, m) = cx.measured(|| cx.hunt(&selection, true));
            let mut r = match out {
                Ok(report) => {
                    let (detail, error) = hunt_detail(&report);
                    result(&case.name, m, rows, detail, error)
                }
                Err(e) => result(&case.name, m, rows, String::new(), Some(e)),
            };
            if let Some(b) = signer
                && m.wall_s > 0.0
            {
                r.string_bytes_per_s = Some(b as f64 / m.wall_s);
            }
            r
        }
        Kind::Pack { fused } => {
            let pack = rules::packs::by_name("rmm").unwrap_or_default();
            let rows: u64 = cx
                .table_rows
                .iter()
                .filter(|(t, _)| pack.iter().any(|r| names_table(&r.query, t)))
                .map(|(_, n)| n)
                .sum();
            let (out, m) = cx.measured(|| cx.hunt(&Selection::Pack("rmm".into()), *fused));
            match out {
                Ok(report) => {
                    let (mut detail, error) = hunt_detail(&report);
                    if *fused {
                        let shared = report.shared_scans.iter().filter(|s| s.abandoned.is_none()).count();
                        detail.push_str(&format!("; {shared} shared scan(s)"));
                    }
                    result(&case.name, m, rows, detail, error)
                }
                Err(e) => result(&case.name, m, rows, String::new(), Some(e)),
            }
        }
        Kind::PackSlowest => run_slowest(case, cx),
        Kind::SeedQuery(rule) => {
            let mut r = run_query(&case.name, &rule.query, cx);
            if let Some(b) = signer_bytes(cx, rule)
                && r.wall_s > 0.0
                && r.error.is_none()
            {
                r.string_bytes_per_s = Some(b as f64 / r.wall_s);
            }
            r
        }
        Kind::Query(q) => run_query(&case.name, q.text, cx),
        Kind::Ingest => run_ingest(case, cx),
    }
}

/// Runs `text` through an engine over the data directory (memory limit and spill
/// directory of the benchmark), with the newest event as `now()`.
fn run_query(name: &str, text: &str, cx: &Context) -> CaseResult {
    let rows = cx.rows_read(text);
    let config = EngineConfig {
        memory_limit: cx.memory_limit,
        spill_dir: Some(cx.work.spill()),
        ..EngineConfig::default()
    };
    let _ = std::fs::create_dir_all(cx.work.spill());
    let catalog = Arc::new(DataDirCatalog::new(super::data::data_dir(cx.work)));
    let options = QueryOptions { now: Some(cx.now) };
    let engine = match Engine::with_config(catalog, &config) {
        Ok(e) => e,
        Err(e) => return result(name, Measured::default(), rows, String::new(), Some(e.to_string())),
    };
    let (out, m) = cx.measured(|| {
        engine
            .query_blocking(text, &options)
            .map_err(|e| match e.diagnostics() {
                [] => e.to_string(),
                d => format!(
                    "{e}: {}",
                    d.iter().map(|d| d.message.clone()).collect::<Vec<_>>().join("; ")
                ),
            })
    });
    match out {
        Ok(results) => {
            let detail = results
                .last()
                .and_then(|r| r.text_rows().ok())
                .and_then(|rows| rows.into_iter().next())
                .map(|row| format!("result: {}", clip(&row.join(", "), 60)))
                .unwrap_or_default();
            result(name, m, rows, detail, None)
        }
        Err(e) => result(name, m, rows, String::new(), Some(e)),
    }
}

/// `text`, or its first `max` characters and `…`.
fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// Rules of the pack, by their time alone in one pass, that are timed again to choose the
/// slowest: one run of a rule on a busy machine may be slow by chance.
const SLOWEST_CANDIDATES: usize = 6;
/// Times each candidate runs alone again; its best time counts (noise only adds).
const SLOWEST_TRIES: usize = 2;

/// The pack's slowest rule alone, as `quarry hunt` runs one rule: every rule of the pack
/// runs alone once, the [`SLOWEST_CANDIDATES`] slowest run [`SLOWEST_TRIES`] more times,
/// and the one with the longest best time is the slowest; chosen once per benchmark run.
///
/// (The rules' times in the unfused pack, which the choice was once made from, are two
/// rules at a time and without shared scans: a rule with an input exclusion reads its
/// table once per slice there, but once alone.)
fn run_slowest(case: &Case, cx: &mut Context) -> CaseResult {
    let pack = rules::packs::by_name("rmm").unwrap_or_default();
    let alone = |cx: &Context, rule: &Rule| {
        let selection = Selection::Rules {
            label: case.name.clone(),
            rules: vec![rule.clone()],
        };
        cx.measured(|| cx.hunt(&selection, true)).1.wall_s
    };
    if cx.slowest_rule.is_none() {
        let mut times: Vec<(&Rule, f64)> = pack.iter().map(|r| (r, alone(cx, r))).collect();
        times.sort_by(|a, b| b.1.total_cmp(&a.1));
        cx.slowest_rule = times
            .iter()
            .take(SLOWEST_CANDIDATES)
            .map(|(rule, once)| {
                let best = (0..SLOWEST_TRIES).map(|_| alone(cx, rule)).fold(*once, f64::min);
                (rule.id.clone(), best)
            })
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(id, _)| id);
    }
    let Some(rule) = cx
        .slowest_rule
        .as_ref()
        .and_then(|id| pack.iter().find(|r| &r.id == id))
        .cloned()
    else {
        return result(
            &case.name,
            Measured::default(),
            0,
            String::new(),
            Some("no rule of the pack ran".into()),
        );
    };
    let rows = cx.rows_read(&rule.query);
    let selection = Selection::Rules {
        label: case.name.clone(),
        rules: vec![rule.clone()],
    };
    let (out, m) = cx.measured(|| cx.hunt(&selection, true));
    match out {
        Ok(report) => {
            let (detail, error) = hunt_detail(&report);
            result(&case.name, m, rows, format!("{}: {detail}", rule.name), error)
        }
        Err(e) => result(&case.name, m, rows, rule.name.clone(), Some(e)),
    }
}

/// Bytes of `Signer` in the five days before the newest event, which a seed rule reads
/// (`now(-5d)..now()`); `None` for a rule with another window. Measured once per run of
/// the benchmark (every seed rule has that window).
fn signer_bytes(cx: &mut Context, rule: &Rule) -> Option<u64> {
    if !(rule.query.contains("now(-5d)") && rule.query.contains("Signer")) {
        return None;
    }
    if let Some(known) = cx.signer_window_bytes {
        return known;
    }
    let measured = measure_signer_bytes(cx);
    cx.signer_window_bytes = Some(measured);
    measured
}

fn measure_signer_bytes(cx: &Context) -> Option<u64> {
    let engine = Engine::new(Arc::new(DataDirCatalog::new(super::data::data_dir(cx.work)))).ok()?;
    let q = "DeviceFileCertificateInfo | where Timestamp between (now(-5d)..now()) | summarize sum(strlen(Signer))";
    let results = engine.query_blocking(q, &QueryOptions { now: Some(cx.now) }).ok()?;
    let rows = results.last()?.text_rows().ok()?;
    rows.first()?.first()?.parse().ok()
}

/// Ingest of the streaming JSON into a fresh data directory.
fn run_ingest(case: &Case, cx: &mut Context) -> CaseResult {
    let out_dir = cx.work.ingest_out();
    if let Err(e) = cx.work.clear(&out_dir) {
        return result(&case.name, Measured::default(), 0, String::new(), Some(format!("{e}")));
    }
    let input = cx.work.streaming_json();
    let input_bytes = dir_bytes(&input);
    let (out, mut m) = cx.measured(|| {
        store::ingest(
            &store::DataDir::open(&out_dir),
            &[input.display().to_string()],
            &store::IngestOptions::default(),
        )
        .map_err(|e| e.to_string())
    });
    // Throughput of ingest is the JSON it reads.
    m.bytes_scanned = input_bytes;
    let r = match out {
        Ok(report) => {
            let quarantined = report.quarantined();
            let error = (quarantined > 0).then(|| format!("{quarantined} record(s) quarantined"));
            result(
                &case.name,
                m,
                report.rows_written,
                format!(
                    "{} of streaming JSON -> {} of Parquet",
                    super::report::bytes(input_bytes as f64),
                    super::report::bytes(report.bytes_written as f64)
                ),
                error,
            )
        }
        Err(e) => result(&case.name, m, cx.dataset.ingest_rows, String::new(), Some(e)),
    };
    let _ = cx.work.clear(&out_dir);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_names_and_selection() {
        let names: Vec<String> = all().into_iter().map(|c| c.name).collect();
        assert_eq!(
            names,
            [
                "seed-action1-query",
                "seed-action1",
                "seed-connectwise",
                "seed-remoteutilities",
                "seed-supremo",
                "pack-rmm-fused",
                "pack-rmm-unfused",
                "pack-rmm-slowest-rule",
                "query-join",
                "query-summarize-sha1",
                "query-summarize-reportid",
                "query-mv-expand",
                "query-regex-extract",
                "ingest-streaming-json",
            ]
        );
        let picked = |f: &[&str]| {
            select(all(), &f.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .map(|cs| cs.into_iter().map(|c| c.name).collect::<Vec<_>>())
        };
        assert_eq!(picked(&[]).map(|v| v.len()), Ok(14));
        assert_eq!(
            picked(&["seed-connectwise", "query-mv"]),
            Ok(vec!["seed-connectwise".to_string(), "query-mv-expand".to_string()])
        );
        assert_eq!(picked(&["seed"]).map(|v| v.len()), Ok(5));
        let err = picked(&["nope"]).expect_err("unknown");
        assert!(
            err.contains("no case is named or starts with 'nope'") && err.contains("seed-action1"),
            "{err}"
        );
    }

    #[test]
    fn tables_named_by_a_query() {
        assert!(names_table("DeviceInfo | take 1", "DeviceInfo"));
        assert!(!names_table("DeviceInfoExtra | take 1", "DeviceInfo"));
        assert!(names_table("union (DeviceFileEvents), DeviceInfo", "DeviceFileEvents"));
        assert!(!names_table("MyDeviceInfo", "DeviceInfo"));
        assert_eq!(
            seed_tool("Remote Management and Montioring tool - Action1 - File Signature"),
            "action1"
        );
        assert_eq!(seed_tool("odd"), "odd");
        assert_eq!(clip("abcdef", 3), "abc…");
        assert_eq!(clip("abc", 3), "abc");
        assert_eq!(clip("éèàü", 2), "éè…");
    }
}
