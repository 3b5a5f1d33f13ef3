//! End to end: generated telemetry with planted RMM tools and look-alikes, hunted with the
//! seed rules and the built-in RMM pack; the findings are checked against the generator's
//! ground truth.

use hunt::{Finding, HuntOptions, Hunter, NowSpec, RuleStatus, RunReport, Selection, Silent};
use rules::packs::rmm::{Signal as PackSignal, rule_id, tools};
use std::collections::{BTreeMap, BTreeSet};
use store::generate::kusto_has;
use store::generate::rmm::Signal;
use store::{GenerateConfig, GroundTruth, Output, generate};

fn data(dir: &std::path::Path, devices: usize, rmm: f64, lookalike: f64) -> GroundTruth {
    generate(&GenerateConfig {
        devices,
        days: 4,
        volume: 0.02,
        rmm_fraction: rmm,
        lookalike_fraction: lookalike,
        seed: 11,
        ..GenerateConfig::new(Output::DataDir(dir.to_path_buf()))
    })
    .expect("generate")
}

/// Every tool planted (60 devices) next to a look-alike of every tool (60 devices) among
/// 200 devices, generated once for the tests of this file.
fn shared() -> &'static (std::path::PathBuf, GroundTruth) {
    static DATA: std::sync::OnceLock<(std::path::PathBuf, GroundTruth)> = std::sync::OnceLock::new();
    DATA.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("hunt-e2e-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let truth = data(&dir, 200, 0.3, 0.3);
        (dir, truth)
    })
}

fn hunt(dir: &std::path::Path, selection: Selection) -> RunReport {
    let options = HuntOptions {
        now: NowSpec::Latest,
        persist: false,
        ..HuntOptions::default()
    };
    Hunter::new(dir).run(&selection, &options, &Silent).expect("hunt")
}

fn pack_signal(s: Signal) -> PackSignal {
    match s {
        Signal::FileSignature => PackSignal::FileSignature,
        Signal::ProcessCreation => PackSignal::ProcessCreation,
        Signal::NetworkConnection => PackSignal::NetworkConnection,
    }
}

/// Devices (by id) each rule found, not suppressed.
fn found(report: &RunReport) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in report.active_findings() {
        let dev = f
            .entities
            .device
            .as_ref()
            .and_then(|d| d.id.clone())
            .unwrap_or_default();
        out.entry(f.rule_id.clone()).or_default().insert(dev);
    }
    out
}

fn no_errors(report: &RunReport) {
    let bad: Vec<String> = report
        .rules
        .iter()
        .filter(|r| r.status != RuleStatus::Ran)
        .map(|r| format!("{} {:?} {:?} {:?}", r.rule_name, r.status, r.message, r.diagnostics))
        .collect();
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn seed_rules_find_exactly_the_planted_devices() {
    let (dir, truth) = shared();
    let (seeds, _) = hunt::seeds::seed_rules();
    let rules: Vec<rules::Rule> = seeds.into_iter().map(|(r, _)| r).collect();
    let report = hunt(
        dir,
        Selection::Rules {
            label: "seeds".into(),
            rules: rules.clone(),
        },
    );
    no_errors(&report);
    let found = found(&report);
    for (tool, needle) in [
        ("Action1", "- Action1 -"),
        ("SupRemo", "- SupRemo -"),
        ("RemoteUtilities", "- RemoteUtilities -"),
        ("ConnectWise", "- ConnectWise -"),
    ] {
        let rule = rules.iter().find(|r| r.name.contains(needle)).expect("seed rule");
        let planted: BTreeSet<String> = truth
            .planted
            .iter()
            .filter(|p| p.tool == tool && p.signal == Signal::FileSignature && !p.lookalike)
            .map(|p| p.device_id.clone())
            .collect();
        let lookalikes: BTreeSet<String> = truth
            .planted
            .iter()
            .filter(|p| p.tool == tool && p.lookalike)
            .map(|p| p.device_id.clone())
            .collect();
        assert!(!planted.is_empty(), "{tool} is planted");
        assert!(!lookalikes.is_empty(), "{tool} has a look-alike");
        let got = found.get(&rule.id).cloned().unwrap_or_default();
        assert_eq!(got, planted, "{tool}: found vs planted");
        assert!(got.is_disjoint(&lookalikes));
    }
}

#[test]
fn rmm_pack_recall_and_precision() {
    let (dir, truth) = shared();
    let report = hunt(dir, Selection::Pack("rmm".into()));
    no_errors(&report);
    let found = found(&report);
    let planted: Vec<_> = truth.planted.iter().filter(|p| !p.lookalike).collect();
    let tools_planted: BTreeSet<&str> = planted.iter().map(|p| p.tool.as_str()).collect();
    assert_eq!(tools_planted.len(), tools().len(), "every tool is planted");
    let mut missed = Vec::new();
    let mut expected: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for p in &planted {
        let id = rule_id(&p.tool, pack_signal(p.signal));
        expected.entry(id.clone()).or_default().insert(p.device_id.clone());
        if !found.get(&id).is_some_and(|d| d.contains(&p.device_id)) {
            missed.push(format!("{} {:?} on {}", p.tool, p.signal, p.device_name));
        }
    }
    assert!(
        missed.is_empty(),
        "recall: missed {} of {}: {missed:#?}",
        missed.len(),
        planted.len()
    );
    // The combined rules find every planted signal their datatable covers: signers, version
    // information, domains.
    for p in &planted {
        let tool = tools().iter().find(|t| t.tool == p.tool).expect("known tool");
        let covered = match p.signal {
            Signal::FileSignature => !tool.signers.is_empty(),
            Signal::ProcessCreation => !(tool.company_names.is_empty() && tool.product_names.is_empty()),
            Signal::NetworkConnection => tool.domains.iter().any(|d| d.contains('.')),
        };
        let id = rule_id("All Tools", pack_signal(p.signal));
        if covered && !found.get(&id).is_some_and(|d| d.contains(&p.device_id)) {
            missed.push(format!("All Tools {:?}: {} on {}", p.signal, p.tool, p.device_name));
        }
    }
    assert!(missed.is_empty(), "combined rules missed: {missed:#?}");
    // Precision: a per-tool rule finds only devices where that tool and signal are planted;
    // a combined rule only devices where some tool's signal is planted.
    let combined: BTreeMap<String, Signal> = [
        Signal::FileSignature,
        Signal::ProcessCreation,
        Signal::NetworkConnection,
    ]
    .into_iter()
    .map(|s| (rule_id("All Tools", pack_signal(s)), s))
    .collect();
    // Indicator sets overlap: RPort's process names RealVNC as its company, so RealVNC's
    // process rule (company `realvnc`, like the public rule) rightly fires on it too. A
    // per-tool rule may fire where another tool is planted whose planted values satisfy
    // this tool's indicators — and nowhere else.
    let per_tool: BTreeMap<String, (&rules::packs::rmm::RmmTool, Signal)> = tools()
        .iter()
        .flat_map(|t| {
            [
                Signal::FileSignature,
                Signal::ProcessCreation,
                Signal::NetworkConnection,
            ]
            .into_iter()
            .map(move |s| (rule_id(&t.tool, pack_signal(s)), (t, s)))
        })
        .collect();
    let satisfies = |t: &rules::packs::rmm::RmmTool, s: Signal, p: &store::Planted| {
        let any = |v: &str, needles: &[String]| !v.is_empty() && needles.iter().any(|n| kusto_has(v, n));
        match s {
            Signal::FileSignature => any(&p.signer, &t.signers),
            Signal::ProcessCreation | Signal::NetworkConnection => {
                (!t.company_names.is_empty() || !t.product_names.is_empty())
                    && (t.company_names.is_empty() || any(&p.company, &t.company_names))
                    && (t.product_names.is_empty() || any(&p.product, &t.product_names))
            }
        }
    };
    let mut overlaps = Vec::new();
    let mut false_alarms = Vec::new();
    for (rule, devices) in &found {
        let allowed: BTreeSet<String> = match (combined.get(rule), per_tool.get(rule)) {
            (Some(sig), _) => planted
                .iter()
                .filter(|p| p.signal == *sig)
                .map(|p| p.device_id.clone())
                .collect(),
            (None, Some((t, sig))) => {
                let mut ok = expected.get(rule).cloned().unwrap_or_default();
                for p in planted
                    .iter()
                    .filter(|p| p.signal == *sig && p.tool != t.tool && satisfies(t, *sig, p))
                {
                    if devices.contains(&p.device_id) {
                        overlaps.push(format!("{} {:?} rule on {}'s device", t.tool, sig, p.tool));
                    }
                    ok.insert(p.device_id.clone());
                }
                ok
            }
            (None, None) => BTreeSet::new(),
        };
        for d in devices.difference(&allowed) {
            let name = report
                .findings
                .iter()
                .find(|f: &&Finding| &f.rule_id == rule)
                .map(|f| f.rule_name.clone())
                .unwrap_or_default();
            false_alarms.push(format!("{name} on {d}"));
        }
    }
    assert!(false_alarms.is_empty(), "precision: {false_alarms:#?}");
    println!(
        "recall {}/{}; cross-tool matches explained by overlapping indicators: {overlaps:?}",
        planted.len(),
        planted.len()
    );
}

#[test]
fn rmm_pack_finds_nothing_among_lookalikes() {
    let tmp = tempfile::tempdir().expect("tmp");
    let truth = data(tmp.path(), 80, 0.0, 0.8);
    assert!(truth.planted.iter().all(|p| p.lookalike));
    assert!(truth.planted.len() > 59);
    let report = hunt(tmp.path(), Selection::Pack("rmm".into()));
    no_errors(&report);
    let hits: Vec<String> = report
        .active_findings()
        .map(|f| format!("{} on {}: {:?}", f.rule_name, f.device_label(), f.rows.first()))
        .collect();
    assert!(hits.is_empty(), "{hits:#?}");
}
