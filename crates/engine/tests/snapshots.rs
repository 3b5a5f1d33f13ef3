//! Snapshots of logical plans and of diagnostics as users see them.

use engine::{Engine, QueryOptions, SchemaCatalog};
use std::sync::Arc;

fn plan(query: &str) -> String {
    let engine = Engine::new(Arc::new(SchemaCatalog::builtin())).expect("engine");
    let planned = engine.plan(query, &QueryOptions { now: Some(0) }).expect("plans");
    planned
        .results
        .iter()
        .map(|r| {
            let cols: Vec<String> = r.columns.iter().map(|(n, t)| format!("{n}:{t}")).collect();
            format!("columns: {}\n{}", cols.join(", "), r.plan.display_indent())
        })
        .collect::<Vec<_>>()
        .join("\n---\n")
}

fn diagnostics(query: &str) -> String {
    let diags = engine::validate(query, &SchemaCatalog::builtin());
    let opts = kql::RenderOptions {
        name: Some("query.kql".into()),
        ..kql::RenderOptions::default()
    };
    kql::render_all(&diags, query, &opts)
}

#[test]
fn plan_of_a_seed_rule() {
    insta::assert_snapshot!(plan(
        "DeviceFileCertificateInfo\n| where Timestamp > ago(5d)\n| summarize FirstSeen=min(Timestamp), Count=count() by DeviceId, DeviceName\n| top 10 by Count"
    ));
}

#[test]
fn plan_of_a_join() {
    insta::assert_snapshot!(plan(
        "DeviceProcessEvents | project DeviceId, FileName | join kind=leftouter (DeviceNetworkEvents | project DeviceId, RemoteUrl) on DeviceId"
    ));
}

#[test]
fn plan_of_project_and_extend() {
    insta::assert_snapshot!(plan(
        "datatable(a:long, b:string)[1, 'x'] | extend c = a * 2 | project-away b | project-rename d = c"
    ));
}

#[test]
fn diagnostic_for_an_unknown_column() {
    insta::assert_snapshot!(diagnostics(
        "DeviceNetworkEvents\n| where RemoteUrl has 'action1'\n| summarize count() by DeviceId, AccountUpn"
    ));
}

#[test]
fn diagnostics_for_several_errors() {
    insta::assert_snapshot!(diagnostics(
        "DeviceProcessEvents\n| where Timestmp > ago(1d)\n| extend x = strlen(FileName) + 'a'\n| project-away Nope"
    ));
}

#[test]
fn diagnostic_for_an_unknown_table() {
    insta::assert_snapshot!(diagnostics("DeviceProcessEvent | take 1"));
}
