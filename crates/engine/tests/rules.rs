//! The seed rules and the RMM hunting-rule corpus (`../shared`, skipped when absent) over
//! small hand-made Defender tables.

use crate::common::{DAY, HOUR, at, catalog, errors, rows, run};
use engine::{MemCatalog, SchemaCatalog};
use serde_json::json;
use std::path::PathBuf;

fn shared() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

/// The `query: |` block of a Sentinel YAML rule.
fn yaml_query(text: &str) -> Option<String> {
    let mut lines = text.lines();
    lines.find(|l| l.trim_start().starts_with("query: |"))?;
    let mut out = Vec::new();
    let mut indent: Option<usize> = None;
    for l in lines {
        if l.trim().is_empty() {
            out.push(String::new());
            continue;
        }
        let n = l.len() - l.trim_start().len();
        let ind = *indent.get_or_insert(n);
        if n < ind {
            break;
        }
        out.push(l[ind..].to_string());
    }
    Some(out.join("\n"))
}

fn certificates() -> Vec<serde_json::Value> {
    vec![
        json!({"Timestamp": at(-DAY), "DeviceId": "d1", "DeviceName": "host1", "Signer": "Action1 Corporation Ltd", "ReportId": 11}),
        json!({"Timestamp": at(-2 * DAY), "DeviceId": "d1", "DeviceName": "host1", "Signer": "Action1 Corporation", "ReportId": 12}),
        json!({"Timestamp": at(-DAY), "DeviceId": "d2", "DeviceName": "host2", "Signer": "Action1", "ReportId": 21}),
        json!({"Timestamp": at(-HOUR), "DeviceId": "d3", "DeviceName": "host3", "Signer": "Nanosystems S.R.L.", "ReportId": 31}),
        json!({"Timestamp": at(-3 * DAY), "DeviceId": "d4", "DeviceName": "host4", "Signer": "Remote Utilities LLC", "ReportId": 41}),
        json!({"Timestamp": at(-DAY), "DeviceId": "d5", "DeviceName": "host5", "Signer": "ConnectWise, LLC", "ReportId": 51}),
        json!({"Timestamp": at(-10 * DAY), "DeviceId": "d6", "DeviceName": "host6", "Signer": "Action1 Corporation", "ReportId": 61}),
        json!({"Timestamp": at(-DAY), "DeviceId": "d7", "DeviceName": "host7", "Signer": "Actionable Corp", "ReportId": 71}),
    ]
}

fn processes() -> Vec<serde_json::Value> {
    vec![
        json!({"Timestamp": at(-DAY), "DeviceId": "d1", "DeviceName": "host1", "AccountUpn": "alice@contoso.com",
               "FileName": "action1_agent.exe", "ProcessVersionInfoCompanyName": "Action1 Corporation",
               "ProcessVersionInfoProductName": "Action1 Agent", "ReportId": 101}),
        json!({"Timestamp": at(-2 * HOUR), "DeviceId": "d2", "DeviceName": "host2", "AccountUpn": "bob@contoso.com",
               "FileName": "AnyDesk.exe", "ProcessVersionInfoCompanyName": "AnyDesk Software GmbH",
               "ProcessVersionInfoProductName": "AnyDesk", "ReportId": 102}),
        json!({"Timestamp": at(-HOUR), "DeviceId": "d3", "DeviceName": "host3", "AccountUpn": "carol@contoso.com",
               "FileName": "svchost.exe", "ProcessVersionInfoCompanyName": "Microsoft Corporation",
               "ProcessVersionInfoProductName": "Microsoft Windows Operating System", "ReportId": 103}),
        json!({"Timestamp": at(-6 * DAY), "DeviceId": "d4", "DeviceName": "host4", "AccountUpn": "dave@contoso.com",
               "FileName": "action1_agent.exe", "ProcessVersionInfoCompanyName": "Action1 Corporation",
               "ProcessVersionInfoProductName": "Action1 Agent", "ReportId": 104}),
    ]
}

fn connections() -> Vec<serde_json::Value> {
    vec![
        json!({"Timestamp": at(-3 * HOUR), "DeviceId": "d1", "DeviceName": "host1", "RemoteUrl": "server.action1.com",
               "InitiatingProcessFileName": "action1_agent.exe",
               "InitiatingProcessVersionInfoCompanyName": "Action1 Corporation",
               "InitiatingProcessVersionInfoProductName": "Action1 Agent", "ReportId": 201}),
        json!({"Timestamp": at(-HOUR), "DeviceId": "d3", "DeviceName": "host3", "RemoteUrl": "https://relay.anydesk.com:443/connect",
               "InitiatingProcessFileName": "AnyDesk.exe",
               "InitiatingProcessVersionInfoCompanyName": "AnyDesk Software GmbH",
               "InitiatingProcessVersionInfoProductName": "AnyDesk", "ReportId": 202}),
        json!({"Timestamp": at(-HOUR), "DeviceId": "d3", "DeviceName": "host3", "RemoteUrl": "www.microsoft.com",
               "InitiatingProcessFileName": "msedge.exe",
               "InitiatingProcessVersionInfoCompanyName": "Microsoft Corporation",
               "InitiatingProcessVersionInfoProductName": "Microsoft Edge", "ReportId": 203}),
    ]
}

fn defender_tables() -> MemCatalog {
    let mut certs = certificates();
    certs.push(json!({"Timestamp": at(-2 * HOUR), "DeviceId": "d8", "DeviceName": "host8", "Signer": "AnyDesk Software GmbH", "ReportId": 81}));
    certs.push(json!({"Timestamp": at(-5 * HOUR), "DeviceId": "d9", "DeviceName": "host9", "Signer": "TeamViewer Germany GmbH", "ReportId": 91}));
    certs.push(json!({"Timestamp": at(-HOUR), "DeviceId": "d10", "DeviceName": "host10", "Signer": "Microsoft Windows", "ReportId": 92}));
    catalog(&[
        ("DeviceFileCertificateInfo", certs),
        ("DeviceProcessEvents", processes()),
        ("DeviceNetworkEvents", connections()),
    ])
}

/// The KQL of a SOC-feed seed page: the lines after "KQL Query" up to the next section
/// (a heading, or the rule's YAML definition when the page has no heading).
fn seed_query(page: &str) -> Option<String> {
    let start = page.find("KQL Query")? + "KQL Query".len();
    let mut out = Vec::new();
    for line in page[start..].lines() {
        let t = line.trim_start();
        if t.starts_with("Analytic Rule Definition") || t.starts_with("id: ") {
            break;
        }
        out.push(line);
    }
    Some(out.join("\n").trim().to_string())
}

#[test]
fn seed_rules_find_their_signers() {
    let dir = shared().join("seeds");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("../shared/seeds is absent: skipped");
        return;
    };
    let mut pages: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    pages.sort();
    let tables = defender_tables();
    // Checked by hand against `certificates()`: the signer must contain the rule's terms,
    // within the last five days.
    let expected: &[(&str, &[&str])] = &[
        (
            "000",
            &[
                "d1",
                "host1",
                "2024-04-29T00:00:00Z",
                "2024-04-30T00:00:00Z",
                "[11,12]",
                "2",
            ],
        ),
        (
            "001",
            &[
                "d1",
                "host1",
                "2024-04-29T00:00:00Z",
                "2024-04-30T00:00:00Z",
                "[11,12]",
                "2",
            ],
        ),
        (
            "002",
            &[
                "d3",
                "host3",
                "2024-04-30T23:00:00Z",
                "2024-04-30T23:00:00Z",
                "[31]",
                "1",
            ],
        ),
        (
            "003",
            &[
                "d4",
                "host4",
                "2024-04-28T00:00:00Z",
                "2024-04-28T00:00:00Z",
                "[41]",
                "1",
            ],
        ),
        (
            "004",
            &[
                "d5",
                "host5",
                "2024-04-30T00:00:00Z",
                "2024-04-30T00:00:00Z",
                "[51]",
                "1",
            ],
        ),
    ];
    let mut checked = 0;
    for p in pages {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let Some((_, want)) = expected.iter().find(|(prefix, _)| name.starts_with(prefix)) else {
            continue;
        };
        let page = std::fs::read_to_string(&p).expect("seed page");
        let query = seed_query(&page).expect("a KQL section");
        assert!(
            engine::validate(&query, &SchemaCatalog::builtin()).is_empty(),
            "{name} validates"
        );
        let results = run(&tables, &query);
        assert_eq!(
            crate::common::columns(&results),
            ["DeviceId", "DeviceName", "FirstSeen", "LastSeen", "Report", "Count"],
            "{name}"
        );
        assert_eq!(
            rows(&results),
            vec![want.iter().map(|s| s.to_string()).collect::<Vec<_>>()],
            "{name}"
        );
        checked += 1;
    }
    assert_eq!(checked, 5);
}

/// Rules of the corpus Kusto rejects for their syntax.
const SYNTAX_ERRORS: &[&str] = &[
    "rmm_DWService_createproc.yaml",
    "rmm_Level_createproc.yaml",
    "rmm_MSP360_CloudBerry_netconn.yaml",
    "rmm_ZohoAssist_netconn.yaml",
];

/// The rules that find something in `defender_tables()`, with their rows (checked by hand:
/// each planted row carries the rule's signer, company/product or URL terms; the noise rows
/// carry none).
fn expected_findings() -> Vec<(&'static str, Vec<&'static str>)> {
    vec![
        (
            "rmm_Action1_createproc.yaml",
            vec![
                "d1",
                "host1",
                "alice@contoso.com",
                "2024-04-30T00:00:00Z",
                "2024-04-30T00:00:00Z",
                "[101]",
                "1",
            ],
        ),
        (
            "rmm_Action1_filesig.yaml",
            vec![
                "d1",
                "host1",
                "2024-04-29T00:00:00Z",
                "2024-04-30T00:00:00Z",
                "[11,12]",
                "2",
            ],
        ),
        (
            "rmm_AnyDesk_createproc.yaml",
            vec![
                "d2",
                "host2",
                "bob@contoso.com",
                "2024-04-30T22:00:00Z",
                "2024-04-30T22:00:00Z",
                "[102]",
                "1",
            ],
        ),
        (
            "rmm_AnyDesk_filesig.yaml",
            vec![
                "d8",
                "host8",
                "2024-04-30T22:00:00Z",
                "2024-04-30T22:00:00Z",
                "[81]",
                "1",
            ],
        ),
        (
            "rmm_ConnectWise_filesig.yaml",
            vec![
                "d5",
                "host5",
                "2024-04-30T00:00:00Z",
                "2024-04-30T00:00:00Z",
                "[51]",
                "1",
            ],
        ),
        (
            "rmm_RemoteUtilities_filesig.yaml",
            vec![
                "d4",
                "host4",
                "2024-04-28T00:00:00Z",
                "2024-04-28T00:00:00Z",
                "[41]",
                "1",
            ],
        ),
        (
            "rmm_SupRemo_filesig.yaml",
            vec![
                "d3",
                "host3",
                "2024-04-30T23:00:00Z",
                "2024-04-30T23:00:00Z",
                "[31]",
                "1",
            ],
        ),
        (
            "rmm_TeamViewer_filesig.yaml",
            vec![
                "d9",
                "host9",
                "2024-04-30T19:00:00Z",
                "2024-04-30T19:00:00Z",
                "[91]",
                "1",
            ],
        ),
    ]
}

#[test]
fn rmm_corpus_runs_or_fails_as_kusto_does() {
    let dir = shared().join("corpora/rmm-rules");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("../shared/corpora is absent: skipped");
        return;
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    paths.sort();
    let schemas = SchemaCatalog::builtin();
    let tables = defender_tables();
    let findings = expected_findings();
    let (mut ran, mut unknown_column, mut syntax) = (0, 0, 0);
    for p in &paths {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let text = std::fs::read_to_string(p).expect("rule file");
        let query = yaml_query(&text).unwrap_or_else(|| panic!("{name}: no query"));
        let diags = engine::validate(&query, &schemas);
        let errs: Vec<_> = diags.iter().filter(|d| d.is_error()).collect();
        if SYNTAX_ERRORS.contains(&name.as_str()) {
            assert!(
                !errs.is_empty() && errs.iter().all(|d| d.code.starts_with("KS")),
                "{name}: {errs:?}"
            );
            syntax += 1;
            continue;
        }
        if !errs.is_empty() {
            // Columns the rule's table does not have: Kusto's message, on the name.
            for d in &errs {
                let named = d.span.text(&query);
                assert_eq!(d.code, "SEM0100", "{name}: {d:?}");
                assert!(named == "AccountUpn" || named == "Sha1", "{name}: {d:?}");
                assert!(
                    d.message
                        .ends_with(&format!("Failed to resolve scalar expression named '{named}'")),
                    "{name}: {}",
                    d.message
                );
            }
            unknown_column += 1;
            continue;
        }
        let results = run(&tables, &query);
        let got = rows(&results);
        match findings.iter().find(|(n, _)| *n == name) {
            Some((_, want)) => assert_eq!(
                got,
                vec![want.iter().map(|s| s.to_string()).collect::<Vec<_>>()],
                "{name}"
            ),
            None => assert!(got.is_empty(), "{name}: unexpected findings {got:?}"),
        }
        ran += 1;
    }
    assert_eq!(
        (ran, unknown_column, syntax),
        (106, 58, 4),
        "rules that ran / unknown columns / syntax errors"
    );
}

#[test]
fn account_upn_on_network_events_is_an_error_with_its_location() {
    let query = "DeviceNetworkEvents\n| where RemoteUrl has 'action1'\n| summarize count() by DeviceId, AccountUpn";
    let diags = engine::validate(query, &SchemaCatalog::builtin());
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0].code, "SEM0100");
    assert_eq!(
        diags[0].message,
        "'summarize' operator: Failed to resolve scalar expression named 'AccountUpn'"
    );
    assert_eq!(diags[0].span.text(query), "AccountUpn");
    // The same with data: an error, not an empty result.
    let errs = errors(&defender_tables(), query);
    assert_eq!(errs.len(), 1);
}

#[test]
fn has_matches_whole_terms() {
    let tables = defender_tables();
    let q = |pred: &str| {
        let r = run(
            &tables,
            &format!("DeviceFileCertificateInfo | where {pred} | project DeviceId"),
        );
        rows(&r).into_iter().map(|r| r[0].clone()).collect::<Vec<_>>()
    };
    // 'Action1 Corporation' matches "Action1 Corporation Ltd" and "Action1 Corporation".
    assert_eq!(q("Signer has 'Action1 Corporation'"), ["d1", "d1", "d6"]);
    // 'Action' is not a term of "Action1" nor of "Actionable".
    assert_eq!(q("Signer has 'Action'"), Vec::<String>::new());
    assert_eq!(q("Signer has 'action1'"), ["d1", "d1", "d2", "d6"]);
    assert_eq!(q("Signer has_cs 'action1'"), Vec::<String>::new());
    assert_eq!(q("Signer contains 'Action'"), ["d1", "d1", "d2", "d6", "d7"]);
    assert_eq!(q("Signer !has 'Action1'"), ["d10", "d3", "d4", "d5", "d7", "d8", "d9"]);
    assert_eq!(q("Signer hasprefix 'Nano'"), ["d3"]);
    assert_eq!(q("Signer has_any ('teamviewer', 'anydesk')"), ["d8", "d9"]);
    assert_eq!(q("Signer =~ 'action1 corporation'"), ["d1", "d6"]);
    assert_eq!(q("Signer == 'action1 corporation'"), Vec::<String>::new());
}
