//! Fused execution gives the same results as running every rule alone: the whole RMM pack,
//! the seed rules and rules shaped to test the edges of sharing (no filter, joins, `or`,
//! `has_any`, `=~`, negations, `take`, exclusions), over generated telemetry with planted
//! tools and look-alikes.

use hunt::{HuntOptions, Hunter, NowSpec, RunReport, Selection, Silent};
use rules::{FalsePositive, Provenance, Rule, SourceFormat};
use std::collections::BTreeMap;
use store::{GenerateConfig, Output, generate};

fn extra_rules() -> Vec<Rule> {
    let queries = [
        // No filter: reads every row, so it cannot share.
        ("all-devices", "DeviceInfo | summarize count() by OSPlatform"),
        // A join of two shared tables.
        (
            "join",
            "DeviceProcessEvents | where FileName has_any ('AteraAgent.exe', 'ScreenConnect.ClientService.exe', 'rutserv.exe')
             | join kind=inner (DeviceNetworkEvents | where RemotePort == 443) on DeviceId
             | summarize n = count() by DeviceId, FileName",
        ),
        // `or` across columns, `=~`, `!has`, `take` after a sort.
        (
            "or",
            "DeviceProcessEvents | where ProcessVersionInfoCompanyName =~ 'AnyDesk Software GmbH' or FileName has 'TeamViewer'
             | where not(FolderPath has 'Temp')
             | project DeviceName, FileName, Timestamp | order by Timestamp asc, DeviceName asc | take 5",
        ),
        // A term that is also the prefix of look-alikes.
        (
            "prefix",
            "DeviceFileCertificateInfo | where Signer hasprefix 'Screen' | summarize c = count() by Signer",
        ),
        // A filter without any string term.
        ("ports", "DeviceNetworkEvents | where RemotePort in (5938, 5650) | summarize c = count() by RemotePort"),
        // A tabular `in` and a `toscalar` over a shared table: their rows are not the
        // rows the rule's own filter keeps.
        (
            "subquery",
            "let shells = DeviceProcessEvents | where FileName has 'powershell.exe' | distinct DeviceId;
             let total = toscalar(DeviceProcessEvents | count);
             DeviceProcessEvents | where FileName has 'mstsc.exe' and DeviceId in (shells)
             | summarize n = count(), t = take_any(total) by DeviceId",
        ),
        // A list computed while planning that comes out empty: never true, so the rule
        // needs no row of the shared table (and a count of nothing is still one row).
        (
            "empty-list",
            "let none = DeviceFileCertificateInfo | where Signer == 'No Such Signer, Inc.' | distinct SHA1;
             DeviceProcessEvents | where SHA1 in (none) or FileName has_any ((DeviceInfo | where false | project OSPlatform))
             | count",
        ),
        // Input exclusions (set below): on a column no rule reads (the shared rows must
        // still carry it: they once did not, and the exclusion suppressed nothing) and on
        // one the rule reads.
        (
            "excluded",
            "DeviceProcessEvents | where FileName has_any ('mstsc.exe', 'AteraAgent.exe', 'rutserv.exe', 'AnyDesk.exe')
             | summarize n = count() by DeviceId, FileName",
        ),
        // An input exclusion that suppresses nothing (set below): its slice is known to be
        // empty from the shared rows and the rule by keys does not run over it; a count
        // without keys does (a count of nothing is one row).
        (
            "excluded-none",
            "DeviceProcessEvents | where FileName has_any ('mstsc.exe', 'AnyDesk.exe') | summarize n = count() by DeviceId",
        ),
        (
            "excluded-none-count",
            "DeviceProcessEvents | where FileName has_any ('mstsc.exe', 'AnyDesk.exe') | count",
        ),
        // Non-ASCII and case.
        (
            "case",
            "DeviceFileCertificateInfo | where Signer has_cs 'ACTION1' or Signer contains 'ñ' | count",
        ),
    ];
    // A filter nested almost as deep as the parser allows: planned in place on the hunt's
    // planning threads.
    let names: Vec<String> = (0..900)
        .map(|i| format!("FileName == 'tool{i}.exe'"))
        .chain(["FileName == 'mstsc.exe'".to_string()])
        .collect();
    let deep = format!(
        "DeviceProcessEvents | where {} | summarize c = count() by FileName",
        names.join(" or ")
    );
    queries
        .iter()
        .map(|(id, q)| (*id, q.to_string()))
        .chain([("deep-or", deep)])
        .map(|(id, q)| {
            let mut rule = Rule::new(
                format!("edge-{id}"),
                format!("Edge case {id}"),
                q,
                Provenance::new(SourceFormat::BuiltinPack),
            );
            let exclusions: &[&str] = match id {
                "excluded" => &["ProcessCommandLine contains 'mstsc'", "FileName !~ 'mstsc.exe'"],
                "excluded-none" | "excluded-none-count" => &["ProcessCommandLine has 'no-such-command-line'"],
                _ => &[],
            };
            if !exclusions.is_empty() {
                rule.enrichment.false_positives = exclusions
                    .iter()
                    .map(|e| FalsePositive {
                        scenario: format!("edge: {e}"),
                        exclusion: Some((*e).into()),
                    })
                    .collect();
            }
            rule
        })
        .collect()
}

fn hunt(dir: &std::path::Path, rules: &[Rule], fused: bool) -> RunReport {
    let options = HuntOptions {
        now: NowSpec::Latest,
        persist: false,
        fused,
        max_rows_per_rule: 0,
        ..HuntOptions::default()
    };
    let selection = Selection::Rules {
        label: "equivalence".into(),
        rules: rules.to_vec(),
    };
    Hunter::new(dir).run(&selection, &options, &Silent).expect("hunt")
}

/// A row with the elements of its arrays sorted: `make_set` and `make_list` have no order
/// (in Kusto either), and the order follows the order rows arrive in.
fn canonical(row: &serde_json::Map<String, serde_json::Value>) -> serde_json::Map<String, serde_json::Value> {
    row.iter()
        .map(|(k, v)| {
            let v = match v {
                serde_json::Value::Array(items) => {
                    let mut items = items.clone();
                    items.sort_by_key(|i| i.to_string());
                    serde_json::Value::Array(items)
                }
                other => other.clone(),
            };
            (k.clone(), v)
        })
        .collect()
}

/// Per rule: status, row counts, and every finding with its rows in a canonical order.
fn outcome(report: &RunReport) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in &report.rules {
        out.entry(r.rule_id.clone()).or_default().push(format!(
            "{:?} rows={} suppressed={} findings={} truncated={} message={:?}",
            r.status, r.rows, r.suppressed_rows, r.findings, r.truncated, r.message
        ));
    }
    for f in &report.findings {
        let mut rows: Vec<String> = f
            .rows
            .iter()
            .map(|r| serde_json::to_string(&canonical(r)).unwrap())
            .collect();
        rows.sort();
        out.entry(f.rule_id.clone()).or_default().push(format!(
            "{} {} {}..{} suppressed={:?} {}",
            f.entity_key,
            f.device_label(),
            f.first_seen,
            f.last_seen,
            f.suppressed.as_ref().map(|s| &s.exclusion),
            rows.join("\n")
        ));
    }
    for v in out.values_mut() {
        v[1..].sort();
    }
    out
}

#[test]
fn fused_hunts_find_exactly_what_separate_rules_find() {
    let dir = tempfile::tempdir().unwrap();
    generate(&GenerateConfig {
        devices: 80,
        days: 2,
        volume: 0.02,
        rmm_fraction: 0.4,
        lookalike_fraction: 0.3,
        seed: 23,
        ..GenerateConfig::new(Output::DataDir(dir.path().to_path_buf()))
    })
    .expect("generate");
    let mut rules = rules::packs::rmm();
    rules.extend(hunt::seeds::seed_rules().0.into_iter().map(|(r, _)| r));
    rules.extend(extra_rules());

    let separate = hunt(dir.path(), &rules, false);
    let fused = hunt(dir.path(), &rules, true);
    assert!(separate.shared_scans.is_empty());
    assert!(
        separate.active_findings().count() > 50,
        "the data has planted tools to find"
    );

    // The tables the pack reads were each scanned once for many rules.
    let shared: BTreeMap<&str, &hunt::SharedScan> = fused.shared_scans.iter().map(|s| (s.table.as_str(), s)).collect();
    for table in [
        "DeviceFileCertificateInfo",
        "DeviceProcessEvents",
        "DeviceNetworkEvents",
    ] {
        let s = shared
            .get(table)
            .unwrap_or_else(|| panic!("{table} shared: {:#?}", fused.shared_scans));
        assert!(s.abandoned.is_none(), "{s:?}");
        assert!(s.rules > 50, "{s:?}");
        assert!(s.rows > 0, "{s:?}");
        assert!(!s.keys.is_empty(), "a term pass: {s:?}");
    }
    // The phases follow each other within the hunt's time.
    for report in [&separate, &fused] {
        let p = &report.phases;
        let sum = p.setup_ms + p.prepare_ms + p.scans_ms + p.runs_ms;
        assert!(p.prepare_ms > 0.0 && p.runs_ms > 0.0, "{p:?}");
        assert!(sum <= report.elapsed_ms, "{p:?} within {}", report.elapsed_ms);
    }
    assert!(fused.phases.scans_ms > 0.0, "{:?}", fused.phases);
    // DeviceInfo is read whole by one rule only: not shared.
    assert!(!shared.contains_key("DeviceInfo"));

    for r in fused.rules.iter().filter(|r| r.rule_id.starts_with("edge-")) {
        assert_eq!(r.status, hunt::RuleStatus::Ran, "{}: {:?}", r.rule_id, r.message);
    }
    // The report of the fused hunt's rule `id`.
    let rule = |id: &str| {
        fused
            .rules
            .iter()
            .find(|r| r.rule_id == id)
            .unwrap_or_else(|| panic!("{id} ran"))
    };
    let empty = rule("edge-empty-list");
    assert_eq!(empty.rows, 1, "one row: a count of 0");
    // Both exclusions of the edge rule suppress something when it runs alone.
    let excluded = |report: &RunReport, index: usize| {
        report
            .findings
            .iter()
            .filter(|f| f.rule_id == "edge-excluded" && f.suppressed.as_ref().is_some_and(|s| s.index == index))
            .count()
    };
    assert!(
        excluded(&separate, 0) > 0 && excluded(&separate, 1) > 0,
        "both exclusions suppress: {} and {}",
        excluded(&separate, 0),
        excluded(&separate, 1)
    );
    let none = rule("edge-excluded-none");
    assert!(none.rows > 0 && none.suppressed_rows == 0, "{none:?}");
    let count = rule("edge-excluded-none-count");
    assert_eq!(count.rows, 1, "the count of the kept rows");
    let deep = rule("edge-deep-or");
    assert!(deep.rows > 0, "mstsc.exe is common");
    let (a, b) = (outcome(&separate), outcome(&fused));
    assert_eq!(a.len(), rules.len());
    for (rule, want) in &a {
        assert_eq!(Some(want), b.get(rule), "rule {rule}");
    }
    assert_eq!(a, b);

    // Alone, the rule with input exclusions runs three times (kept rows, and the rows each
    // exclusion suppresses) over one shared scan, with the same results.
    let alone: Vec<Rule> = rules.iter().filter(|r| r.id == "edge-excluded").cloned().collect();
    let (separate, fused) = (hunt(dir.path(), &alone, false), hunt(dir.path(), &alone, true));
    let scans: Vec<(&str, usize)> = fused.shared_scans.iter().map(|s| (s.table.as_str(), s.rules)).collect();
    assert_eq!(scans, [("DeviceProcessEvents", 1)]);
    assert_eq!(outcome(&separate), outcome(&fused));
    assert_eq!(outcome(&fused).get("edge-excluded"), a.get("edge-excluded"));
}
