//! Importing the fixtures (and the full corpus when ../shared exists), validation
//! snapshots, the store round trip.

use rules::store::{RuleFilter, RuleStore, Upsert};
use rules::{FileImport, Level, Rule, import_paths, import_text, validate, validate_set};
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Imports a fixture under a stable, relative label (for snapshots).
fn fixture(rel: &str) -> FileImport {
    let text = std::fs::read_to_string(fixtures().join(rel)).unwrap();
    import_text(&format!("fixtures/{rel}"), &text)
}

fn render(diags: &[rules::RuleDiagnostic]) -> String {
    diags.iter().map(|d| format!("{d}\n")).collect()
}

/// Every verbatim byte of the query maps to the same character in the file, and every
/// query line maps to a line of the file.
fn assert_query_map_exact(rule: &Rule, file: &str) {
    let src = rule.source.as_ref().expect("source info");
    let map = src
        .query_map
        .as_ref()
        .unwrap_or_else(|| panic!("{}: no exact query map", rule.id));
    for (i, ch) in rule.query.char_indices() {
        let pos = map.locate(&rule.query, i).unwrap();
        let at = &file[pos.offset as usize..];
        if ch == '\n' {
            assert!(
                at.starts_with('\n') || at.starts_with("\r\n") || at.is_empty(),
                "{}: newline at {pos}",
                rule.id
            );
        } else {
            assert!(
                at.starts_with(ch),
                "{}: query byte {i} {ch:?} maps to {pos} = {:?}",
                rule.id,
                at.chars().next()
            );
        }
        // The column agrees with the offset.
        let line_start = file[..pos.offset as usize].rfind('\n').map(|p| p + 1).unwrap_or(0);
        assert_eq!(
            file[line_start..pos.offset as usize].chars().count() as u32 + 1,
            pos.column
        );
        assert_eq!(file[..pos.offset as usize].matches('\n').count() as u32 + 1, pos.line);
    }
}

#[test]
fn seeds_import_with_every_page_field() {
    let report = import_paths(&[fixtures().join("seeds")]);
    assert_eq!(report.files.len(), 5);
    assert_eq!(report.failed(), 0, "{}", render(&report.all_diagnostics()));
    let rules = report.rules();
    assert_eq!(rules.len(), 4, "the full and condensed Action1 pages are one rule");
    let action1 = rules
        .iter()
        .find(|r| r.id == "1525a733-192f-41f2-96ba-d3f631ca00d0")
        .unwrap();
    assert_eq!(
        action1.name,
        "Remote Management and Montioring tool - Action1 - File Signature"
    );
    assert_eq!(action1.severity, Some(rules::Severity::Medium));
    assert_eq!(action1.provenance.retrieved.as_deref(), Some("2026-05-25T23:00:00Z"));
    assert_eq!(action1.provenance.confidence.as_deref(), Some("medium"));
    assert_eq!(action1.provenance.language.as_deref(), Some("kql"));
    assert_eq!(
        action1.provenance.feed_tags.as_deref(),
        Some("huntingmicrosoftofficial")
    );
    assert_eq!(
        action1.provenance.source_repository.as_deref(),
        Some("Azure/Azure-Sentinel")
    );
    assert!(
        action1
            .provenance
            .source_path
            .as_deref()
            .unwrap()
            .ends_with("rmm_Action1_filesig.yaml")
    );
    assert_eq!(
        action1.enrichment.false_positives.len(),
        5,
        "merged from the condensed page"
    );
    assert_eq!(
        action1.enrichment.false_positives[2].exclusion.as_deref(),
        Some("file.path contains \"WindowsUpdate\" or process.name == \"wusa.exe\"")
    );
    assert!(
        action1
            .enrichment
            .hunt_hypothesis
            .as_deref()
            .unwrap()
            .starts_with("Adversaries may use remote management")
    );
    assert_eq!(action1.data_types(), vec!["DeviceFileCertificateInfo"]);
    let ru = rules.iter().find(|r| r.name.contains("RemoteUtilities")).unwrap();
    assert_eq!(ru.provenance.format, rules::SourceFormat::FeedPageCondensed);
    assert_eq!(ru.enrichment.false_positives.len(), 5);
    assert!(
        ru.enrichment.false_positives[1]
            .exclusion
            .as_deref()
            .unwrap()
            .contains(r"C:\Windows\Temp\health_check_*.tmp")
    );
    let cw = rules.iter().find(|r| r.name.contains("ConnectWise")).unwrap();
    assert!(cw.query.contains("'ScreenConnect'"));
    assert_eq!(cw.provenance.retrieved.as_deref(), Some("2026-05-26T23:00:01Z"));
}

#[test]
fn seed_positions_point_into_the_page() {
    for name in [
        "000_61a9e9db0e821c7a.txt",
        "001_e0e45211b8b25f84.txt",
        "003_a2c490a2ed8eb055.txt",
        "004_6a254579b14f937a.txt",
    ] {
        let text = std::fs::read_to_string(fixtures().join("seeds").join(name)).unwrap();
        let fi = fixture(&format!("seeds/{name}"));
        let rule = fi.rule.unwrap();
        assert_query_map_exact(&rule, &text);
        for i in 0..rule.enrichment.false_positives.len() {
            let ex = rule.enrichment.false_positives[i].exclusion.as_deref().unwrap();
            let pos = rule.exclusion_position(i, 0).unwrap();
            assert!(text[pos.offset as usize..].starts_with(ex), "{name} exclusion {i}");
        }
    }
    // The definition's query block of the full Action1 page starts at line 41, column 3.
    let rule = fixture("seeds/000_61a9e9db0e821c7a.txt").rule.unwrap();
    let signer = rule.query.find("Signer has").unwrap();
    let pos = rule.query_position(signer).unwrap();
    assert_eq!((pos.line, pos.column), (46, 11));
}

#[test]
fn corpus_fixtures_import_with_the_reindent_warning_and_exact_query_maps() {
    let mut out = String::new();
    for name in [
        "rmm_Action1_filesig",
        "rmm_Action1_netconn",
        "rmm_DWService_createproc",
        "rmm_Kaseya_netconn",
        "rmm__all_netconn",
        "rmm_ServerEye_filesig",
    ] {
        let rel = format!("corpus/{name}.yaml");
        let text = std::fs::read_to_string(fixtures().join(&rel)).unwrap();
        let fi = fixture(&rel);
        let rule = fi
            .rule
            .as_ref()
            .unwrap_or_else(|| panic!("{rel}: {}", render(&fi.diagnostics)));
        assert_query_map_exact(rule, &text);
        assert_eq!(
            rule.data_types().len(),
            if name == "rmm_DWService_createproc" { 2 } else { 1 }
        );
        out.push_str(&render(&fi.diagnostics));
    }
    insta::assert_snapshot!("corpus_fixture_import_diagnostics", out);
}

#[test]
fn netconn_account_upn_maps_to_its_line() {
    // The semantic checker will report `AccountUpn` (not a DeviceNetworkEvents column) by
    // its byte span in the query; the map must put it on line 23 of the file.
    let rule = fixture("corpus/rmm_Action1_netconn.yaml").rule.unwrap();
    let at = rule.query.rfind("AccountUpn").unwrap();
    let (start, end) = rule.query_span_positions(at..at + "AccountUpn".len()).unwrap();
    assert_eq!((start.line, start.column, end.column), (23, 7, 17));
}

#[test]
fn odd_files_are_reported_and_the_rest_still_load() {
    let report = import_paths(&[
        fixtures().join("odd"),
        fixtures().join("corpus/rmm_Action1_filesig.yaml"),
    ]);
    assert_eq!(report.files.len(), 4);
    assert_eq!(report.failed(), 2);
    assert_eq!(report.rules().len(), 2);
    let diags: Vec<_> = report
        .all_diagnostics()
        .into_iter()
        .map(|mut d| {
            d.path = d
                .path
                .map(|p| p.replace(&fixtures().to_string_lossy().to_string(), "fixtures"));
            d
        })
        .collect();
    insta::assert_snapshot!("odd_import_diagnostics", render(&diags));
}

#[test]
fn scheduled_rule_reads_every_sentinel_field() {
    let fi = fixture("odd/scheduled_rule.yaml");
    let r = fi.rule.unwrap();
    assert_eq!(r.kind, rules::RuleKind::Scheduled);
    assert_eq!(r.query_frequency.as_ref().unwrap().seconds, 3600);
    assert_eq!(r.trigger_operator, Some(rules::TriggerOperator::GreaterThan));
    assert_eq!(r.trigger_threshold, Some(0));
    assert_eq!(r.entity_mappings.len(), 2);
    assert_eq!(r.custom_details[0].column, "RemoteUrl");
    assert_eq!(r.event_grouping.as_ref().unwrap().aggregation_kind, "AlertPerResult");
    assert_eq!(
        r.alert_details_override
            .as_ref()
            .unwrap()
            .alert_dynamic_properties
            .len(),
        1
    );
    assert_eq!(
        r.incident_configuration.as_ref().unwrap()["createIncident"],
        serde_json::json!(true)
    );
    assert_eq!(r.suppression_enabled, Some(false));
    assert_eq!(r.tags.len(), 2);
    assert_eq!(r.version.as_deref(), Some("1.0.1"));
    assert_eq!(r.metadata.as_ref().unwrap()["author"]["name"], "Quarry tests");
    assert!(r.extra.contains_key("alertRuleTemplateName"));
    assert_eq!(
        r.description,
        "An analytic rule with every field Sentinel's scheduled template schema knows, written folded so the description is one line.\n"
    );
    assert!(!r.query.ends_with('\n'), "|- strips the final line break");
    let text = std::fs::read_to_string(fixtures().join("odd/scheduled_rule.yaml")).unwrap();
    assert_query_map_exact(&r, &text);
    let mut diags = validate(&r);
    for d in &mut diags {
        d.path = Some("fixtures/odd/scheduled_rule.yaml".into());
    }
    insta::assert_snapshot!("scheduled_rule_validation", render(&diags));
}

#[test]
fn seeds_report_their_exclusion_columns_pack_is_clean_and_duplicates_are_found() {
    let report = import_paths(&[fixtures().join("seeds")]);
    let rules = report.rules();
    // The only errors in the seeds are the Action1 page's exclusions, which test
    // `process.*` / `file.*` fields that DeviceFileCertificateInfo does not have.
    let mut errors: Vec<_> = validate_set(&rules)
        .into_iter()
        .filter(|d| d.level == Level::Error)
        .collect();
    assert!(
        errors
            .iter()
            .all(|d| d.code == rules::diag::codes::EXCLUSION_UNKNOWN_COLUMN),
        "{}",
        render(&errors)
    );
    for d in &mut errors {
        let name = d.path.as_deref().and_then(|p| p.rsplit('/').next()).map(str::to_string);
        d.path = name.map(|n| format!("fixtures/seeds/{n}"));
    }
    insta::assert_snapshot!("seed_exclusion_errors", render(&errors));
    let pack = rules::packs::rmm();
    let pack_diags: Vec<_> = validate_set(&pack)
        .into_iter()
        .filter(|d| d.level >= Level::Warning)
        .collect();
    assert!(pack_diags.is_empty(), "{}", render(&pack_diags));
    let mut twice = rules.clone();
    twice.push(rules[0].clone());
    let dup: Vec<_> = validate_set(&twice)
        .into_iter()
        .filter(|d| d.code == rules::diag::codes::DUPLICATE_ID)
        .collect();
    assert_eq!(dup.len(), 1);
}

#[test]
fn store_round_trips_rules_and_keeps_history() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = RuleStore::open(dir.path()).unwrap();
    let report = import_paths(&[fixtures().join("seeds"), fixtures().join("corpus")]);
    for r in report.rules() {
        assert_eq!(store.upsert(&r, None).unwrap(), Upsert::Added);
        let back = store.get(&r.id).unwrap().unwrap();
        assert_eq!(back.rule, r, "stored JSON gives back every field");
    }
    // Re-import of a changed file: a new revision, the old one kept.
    let mut changed = report.rules()[0].clone();
    assert_eq!(store.upsert(&changed, None).unwrap(), Upsert::Unchanged);
    changed.query.push_str("| take 1\n");
    assert_eq!(
        store.upsert(&changed, Some("text")).unwrap(),
        Upsert::Updated { revision: 2 }
    );
    let hist = store.history(&changed.id).unwrap();
    assert_eq!(hist.len(), 2);
    assert_ne!(hist[0].rule.query, hist[1].rule.query);
    assert_eq!(
        store.source_text(&changed.id, Some(2)).unwrap().as_deref(),
        Some("text")
    );
    // Filters.
    let t = store
        .list(&RuleFilter {
            table: Some("DeviceNetworkEvents".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(t.len(), 3);
    let c2 = store
        .list(&RuleFilter {
            tactic: Some("command-and-control".into()),
            technique: Some("T1219".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(c2.len(), store.count().unwrap());
    let med = store
        .list(&RuleFilter {
            severity: Some(rules::Severity::Medium),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        med.len(),
        3,
        "three seeds are full pages with a MEDIUM badge; the condensed RemoteUtilities page has none"
    );
    let src = store
        .list(&RuleFilter {
            source: Some("feed-page".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(src.len(), 4);
    assert!(
        store
            .get("Remote Management and Monitoring tool - SupRemo - File Signature")
            .unwrap()
            .is_some()
    );
    assert!(matches!(
        store.get("1"),
        Err(rules::store::StoreError::Ambiguous { .. }) | Ok(_)
    ));
}

#[test]
fn rules_can_be_disabled_and_stay_disabled_across_re_imports() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = RuleStore::open(dir.path()).unwrap();
    let rules = import_paths(&[fixtures().join("seeds")]).rules();
    for r in &rules {
        store.upsert(r, None).unwrap();
    }
    let id = rules[0].id.clone();
    assert!(store.get(&id).unwrap().unwrap().enabled, "imported rules start enabled");
    assert!(store.set_enabled(&id.to_uppercase(), false).unwrap());
    assert!(
        !store
            .set_enabled("00000000-0000-0000-0000-000000000000", false)
            .unwrap()
    );
    let only = |store: &RuleStore, enabled| {
        store
            .list(&RuleFilter {
                enabled: Some(enabled),
                ..Default::default()
            })
            .unwrap()
            .into_iter()
            .map(|s| s.rule.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(only(&store, false), vec![id.clone()]);
    assert_eq!(only(&store, true).len(), rules.len() - 1);
    // A changed re-import is a new revision of a still-disabled rule.
    let mut changed = rules[0].clone();
    changed.query.push_str("| take 1\n");
    assert_eq!(store.upsert(&changed, None).unwrap(), Upsert::Updated { revision: 2 });
    assert!(!store.get(&id).unwrap().unwrap().enabled);
    assert!(store.set_enabled(&id, true).unwrap());
    assert!(only(&store, false).is_empty());
}

/// The whole corpus from ../shared, when present.
#[test]
fn full_corpus_imports_and_round_trips() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora/rmm-rules");
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/seeds");
    if !corpus.is_dir() {
        eprintln!("skipping: {} not found", corpus.display());
        return;
    }
    let report = import_paths(&[corpus.clone(), seeds]);
    let yaml_files: Vec<_> = report.files.iter().filter(|f| f.path.ends_with(".yaml")).collect();
    assert_eq!(yaml_files.len(), 168);
    assert!(
        yaml_files.iter().all(|f| !f.failed()),
        "{}",
        render(&report.all_diagnostics())
    );
    for f in &yaml_files {
        let rule = f.rule.as_ref().unwrap();
        assert_query_map_exact(rule, f.text.as_deref().unwrap());
        assert!(
            f.diagnostics
                .iter()
                .all(|d| d.code == rules::diag::codes::REINDENTED_KEY),
            "{}",
            render(&f.diagnostics)
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let mut store = RuleStore::open(dir.path()).unwrap();
    let merged = report.rules();
    for r in &merged {
        store.upsert(r, None).unwrap();
    }
    assert_eq!(store.count().unwrap(), 168, "the four seed rules are corpus rules too");
    // Every file's definition comes back from the store.
    for f in report.files.iter().filter_map(|f| f.rule.as_ref()) {
        let stored = store.get(&f.id).unwrap().unwrap().rule;
        let diff = stored.definition_differences(f);
        assert!(diff.is_empty() || diff == ["name"], "{}: {diff:?}", f.id);
    }
}
