//! Exclusions applied at hunt time (output and input), invalid ones reported, suppressed
//! rows kept; the findings store deduplicating across runs and keeping triage.

use hunt::{
    ExclusionMode, FindingFilter, FindingsStore, HuntOptions, Hunter, NowSpec, RuleStatus, Selection, Silent,
    StatusUpdate, TriageStatus,
};
use rules::packs::rmm::{Signal, rule_id};
use rules::{FalsePositive, Rule};
use std::path::Path;
use store::{GenerateConfig, GroundTruth, Output, generate};

fn data(dir: &Path) -> GroundTruth {
    generate(&GenerateConfig {
        devices: 12,
        days: 3,
        volume: 0.02,
        rmm_fraction: 0.5,
        lookalike_fraction: 0.25,
        tools: Some(vec!["Action1".into(), "AnyDesk".into()]),
        seed: 5,
        ..GenerateConfig::new(Output::DataDir(dir.to_path_buf()))
    })
    .expect("generate")
}

fn pack_rule(tool: &str, signal: Signal) -> Rule {
    let id = rule_id(tool, signal);
    rules::packs::rmm().into_iter().find(|r| r.id == id).expect("pack rule")
}

fn options(persist: bool) -> HuntOptions {
    HuntOptions {
        now: NowSpec::Latest,
        persist,
        ..HuntOptions::default()
    }
}

#[test]
fn exclusions_suppress_and_keep_rows() {
    let tmp = tempfile::tempdir().expect("tmp");
    let truth = data(tmp.path());
    let planted: Vec<_> = truth
        .planted
        .iter()
        .filter(|p| p.tool == "Action1" && p.signal == store::generate::rmm::Signal::ProcessCreation && !p.lookalike)
        .collect();
    assert!(planted.len() >= 2, "{planted:?}");
    let first_device = planted[0].device_name.clone();
    // Events of the last 24 hours before the hunt's now() stay; earlier ones are suppressed
    // by an input exclusion (which must see the hunt's now(), not the wall clock).
    let mut rule = pack_rule("Action1", Signal::ProcessCreation);
    rule.enrichment.false_positives = vec![
        FalsePositive {
            scenario: "the IT test machine".into(),
            exclusion: Some(format!("| where DeviceName == '{first_device}'")),
        },
        FalsePositive {
            scenario: "old installs".into(),
            exclusion: Some("Timestamp < ago(1d)".into()),
        },
        FalsePositive {
            scenario: "prose".into(),
            exclusion: Some("Exclude the SCCM servers".into()),
        },
        FalsePositive {
            scenario: "unknown column".into(),
            exclusion: Some("process.name == 'x.exe'".into()),
        },
        FalsePositive {
            scenario: "wrong call".into(),
            exclusion: Some("strlen(DeviceName, 2) > 3".into()),
        },
        FalsePositive {
            scenario: "assigned inside the query but not in its output".into(),
            exclusion: Some("Time_start > now()".into()),
        },
    ];
    let report = Hunter::new(tmp.path())
        .run(
            &Selection::Rules {
                label: "test".into(),
                rules: vec![rule],
            },
            &options(true),
            &Silent,
        )
        .expect("hunt");
    let r = &report.rules[0];
    assert_eq!(r.status, RuleStatus::Ran, "{r:#?}");
    let modes: Vec<&ExclusionMode> = r.exclusions.iter().map(|e| &e.plan.mode).collect();
    assert_eq!(modes[0], &ExclusionMode::Output);
    assert_eq!(
        modes[1],
        &ExclusionMode::Input {
            tables: vec!["DeviceProcessEvents".into()]
        }
    );
    for (i, m) in modes.iter().enumerate().skip(2) {
        assert!(matches!(m, ExclusionMode::NotApplied { .. }), "#{i}: {m:?}");
    }
    let reason = |i: usize| match modes[i] {
        ExclusionMode::NotApplied { reason } => reason.clone(),
        _ => String::new(),
    };
    assert!(reason(2).contains("not a KQL predicate"), "{}", reason(2));
    assert!(reason(3).contains("`process`"), "{}", reason(3));
    assert!(reason(4).contains("strlen"), "{}", reason(4));
    assert!(reason(5).contains("Time_start"), "{}", reason(5));

    // Kept rows: only the last day's activity, never on the first device.
    let t = |s: &str| schema::values::parse_datetime(s).expect("datetime");
    let cutoff = t(&report.now) - 86_400 * 1_000_000_000;
    assert!(report.active_findings().count() > 0);
    for f in report.active_findings() {
        assert_ne!(f.device_label(), first_device);
        assert!(t(&f.first_seen) >= cutoff, "{} {}", f.first_seen, report.now);
    }
    // Suppressed rows are kept, with the exclusion that suppressed them.
    let by_output: Vec<_> = report
        .suppressed_findings()
        .filter(|f| f.suppressed.as_ref().is_some_and(|s| s.index == 0))
        .collect();
    assert!(!by_output.is_empty());
    assert!(by_output.iter().all(|f| f.device_label() == first_device));
    let by_input: Vec<_> = report
        .suppressed_findings()
        .filter(|f| f.suppressed.as_ref().is_some_and(|s| s.index == 1))
        .collect();
    assert!(!by_input.is_empty(), "activity before the last day is suppressed");
    for f in &by_input {
        assert!(t(&f.last_seen) < cutoff, "{} {}", f.last_seen, report.now);
    }
    assert_eq!(
        r.suppressed_rows,
        r.exclusions[0].suppressed_rows + r.exclusions[1].suppressed_rows
    );
    assert!(r.exclusions[0].suppressed_rows > 0 && r.exclusions[1].suppressed_rows > 0);

    // Stored and viewable, flagged.
    let store = FindingsStore::open(tmp.path()).expect("store");
    let suppressed = store
        .findings(&FindingFilter {
            suppressed: Some(true),
            ..FindingFilter::default()
        })
        .expect("list");
    assert_eq!(suppressed.len(), report.suppressed_findings().count());
    assert!(suppressed.iter().all(|f| f.suppressed.is_some()));
    let default_view = store.findings(&FindingFilter {
        suppressed: Some(false),
        ..FindingFilter::default()
    });
    assert_eq!(default_view.expect("list").len(), report.active_findings().count());
}

#[test]
fn findings_dedup_across_runs_and_keep_triage() {
    let tmp = tempfile::tempdir().expect("tmp");
    data(tmp.path());
    let hunter = Hunter::new(tmp.path());
    let selection = Selection::Rules {
        label: "anydesk".into(),
        rules: vec![
            pack_rule("AnyDesk", Signal::NetworkConnection),
            pack_rule("Action1", Signal::FileSignature),
        ],
    };
    let first = hunter.run(&selection, &options(true), &Silent).expect("run 1");
    let n = first.active_findings().count();
    assert!(n >= 2);
    assert!(first.findings.iter().all(|f| f.is_new && f.id.is_some()));
    let id = first.findings[0].id.expect("id");

    let mut store = FindingsStore::open(tmp.path()).expect("store");
    assert_eq!(
        store
            .set_status(id, TriageStatus::FalsePositive, "alice", Some("lab machine"))
            .expect("set"),
        StatusUpdate::Changed {
            from: TriageStatus::New,
            to: TriageStatus::FalsePositive
        }
    );
    assert_eq!(
        store
            .set_status(id, TriageStatus::FalsePositive, "alice", None)
            .expect("set"),
        StatusUpdate::Unchanged
    );
    assert_eq!(
        store
            .set_status(999_999, TriageStatus::Closed, "alice", None)
            .expect("set"),
        StatusUpdate::NotFound
    );

    let second = hunter.run(&selection, &options(true), &Silent).expect("run 2");
    assert_eq!(second.active_findings().count(), n);
    assert!(second.findings.iter().all(|f| !f.is_new), "same data, same findings");
    let again = second.findings.iter().find(|f| f.id == Some(id)).expect("same id");
    assert_eq!(again.status, TriageStatus::FalsePositive);
    let all = store.findings(&FindingFilter::default()).expect("list");
    assert_eq!(all.len(), first.findings.len());

    let detail = store.finding(id).expect("get").expect("exists");
    assert_eq!(detail.runs.len(), 2);
    assert_eq!(detail.finding.runs_seen, 2);
    assert_eq!(detail.history.len(), 2, "{:?}", detail.history);
    assert_eq!(detail.history[1].actor, "alice");
    assert_eq!(detail.history[1].note.as_deref(), Some("lab machine"));

    let runs = store.runs(10).expect("runs");
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].new_findings, 0);
    assert_eq!(runs[1].new_findings, n);
    let by_run = store
        .findings(&FindingFilter {
            run: Some(runs[0].id),
            status: Some(TriageStatus::FalsePositive),
            ..FindingFilter::default()
        })
        .expect("list");
    assert_eq!(by_run.len(), 1);
    let run = store.run(runs[0].id).expect("run").expect("exists");
    assert_eq!(run.rules.len(), 2);

    // A hunt whose `now` is far later sees nothing: no new findings, nothing changes.
    let later = HuntOptions {
        now: NowSpec::At(schema::values::parse_datetime("2030-01-01T00:00:00Z").unwrap_or_default()),
        persist: true,
        ..HuntOptions::default()
    };
    let third = hunter.run(&selection, &later, &Silent).expect("run 3");
    assert_eq!(third.findings.len(), 0);
}

#[test]
fn missing_tables_skip_and_bad_rules_fail_alone() {
    let tmp = tempfile::tempdir().expect("tmp");
    data(tmp.path());
    let mut bad = pack_rule("Action1", Signal::FileSignature);
    bad.id = "00000000-0000-0000-0000-000000000001".into();
    bad.query = "DeviceNetworkEvents | summarize count() by AccountUpn".into();
    let mut absent = pack_rule("Action1", Signal::FileSignature);
    absent.id = "00000000-0000-0000-0000-000000000002".into();
    absent.query = "EmailEvents | take 1".into();
    absent.required_data_connectors[0].data_types = vec!["EmailEvents".into()];
    let good = pack_rule("Action1", Signal::FileSignature);
    let report = Hunter::new(tmp.path())
        .run(
            &Selection::Rules {
                label: "mixed".into(),
                rules: vec![bad, absent, good],
            },
            &options(false),
            &Silent,
        )
        .expect("hunt");
    assert_eq!(report.rules[0].status, RuleStatus::Invalid);
    assert!(report.rules[0].message.as_deref().unwrap_or("").contains("AccountUpn"));
    assert_eq!(report.rules[1].status, RuleStatus::Skipped);
    assert_eq!(report.rules[1].message.as_deref(), Some("no data for EmailEvents"));
    assert_eq!(report.rules[2].status, RuleStatus::Ran);
    assert!(report.active_findings().count() > 0);
    assert!(report.has_errors());
    assert_eq!(report.status, hunt::RunStatus::Partial);
}

#[test]
fn the_store_selection_hunts_enabled_rules_and_disabled_ones_only_by_name() {
    let tmp = tempfile::tempdir().expect("tmp");
    data(tmp.path());
    let on = pack_rule("Action1", Signal::FileSignature);
    let off = pack_rule("Action1", Signal::ProcessCreation);
    let mut store = rules::store::RuleStore::open(tmp.path()).expect("store");
    store.upsert(&on, None).expect("upsert");
    store.upsert(&off, None).expect("upsert");
    assert!(store.set_enabled(&off.id, false).expect("disable"));
    drop(store);
    let hunted = |selection: Selection| -> Vec<String> {
        Hunter::new(tmp.path())
            .run(&selection, &options(false), &Silent)
            .expect("hunt")
            .rules
            .into_iter()
            .map(|r| r.rule_id)
            .collect()
    };
    assert_eq!(hunted(Selection::Store(Vec::new())), vec![on.id.clone()]);
    assert_eq!(hunted(Selection::Store(vec![off.id.clone()])), vec![off.id.clone()]);
}

#[test]
fn a_run_whose_process_ended_is_reported_interrupted_not_running() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut store = FindingsStore::open(tmp.path()).expect("open");
    let mine = store
        .begin_run("2026-01-01T00:00:00Z", "explicit", "pack rmm")
        .expect("begin");
    let orphan = store
        .begin_run("2026-01-01T00:00:00Z", "explicit", "pack rmm")
        .expect("begin");
    drop(store);
    // A child process that has exited (and been reaped): its id belongs to no process.
    let mut child = std::process::Command::new("true").spawn().expect("spawn `true`");
    let dead_pid = child.id();
    child.wait().expect("wait");
    let conn = rusqlite::Connection::open(tmp.path().join(rules::store::DB_FILE)).expect("db");
    conn.execute(
        "UPDATE hunt_runs SET pid = ?1 WHERE id = ?2",
        rusqlite::params![dead_pid, orphan],
    )
    .expect("update");
    drop(conn);
    let store = FindingsStore::open(tmp.path()).expect("reopen");
    let status = |id| store.run(id).expect("run").expect("exists").run.status;
    assert_eq!(
        status(mine),
        hunt::RunStatus::Running,
        "this process is alive: still running"
    );
    if std::path::Path::new("/proc/self").exists() {
        assert_eq!(status(orphan), hunt::RunStatus::Failed);
        let detail = store.run(orphan).expect("run").expect("exists");
        assert!(detail.run.error.as_deref().unwrap_or("").starts_with("interrupted"));
    }
}
