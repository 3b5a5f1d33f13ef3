//! One finding: what it is about, the evidence (the result rows each run saw), triage and
//! its history.

use super::hunts::{backend, blocking};
use super::{Nav, error_response, layout};
use crate::feed;
use crate::hunts::{EvidenceRun, FindingEvidence};
use crate::server::Shared;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde_json::Value;

/// `GET /findings/{id}`
pub async fn page(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    let h = match backend(&state) {
        Ok(h) => h,
        Err(r) => return *r,
    };
    let statuses = h.statuses();
    let key = id.clone();
    let evidence = match blocking(move || h.finding(&key)).await {
        Ok(Some(e)) => e,
        Ok(None) => return error_response(StatusCode::NOT_FOUND, &format!("No finding “{id}”.")),
        Err(r) => return *r,
    };
    let title = format!("Finding #{} · {}", evidence.finding.id, evidence.finding.rule_name);
    layout(Nav::Hunts, &title, body(&evidence, &statuses)).into_response()
}

fn body(e: &FindingEvidence, statuses: &[String]) -> Markup {
    let f = &e.finding;
    let here = format!("/findings/{}", feed::encode(&f.id));
    html! {
        nav.crumbs aria-label="Breadcrumb" {
            a href={ "/hunts/" (feed::encode(&f.run_id)) } { "← Hunt #" (f.run_id) }
        }
        section.card {
            h1 { "Finding #" (f.id) " · " a href={ "/rules/" (feed::encode(&f.rule_id)) } { (f.rule_name) } }
            div.badges {
                @if let Some(s) = &e.severity {
                    span class={ "badge sev sev-" (s.to_ascii_lowercase()) } { (s.to_uppercase()) }
                }
                @for t in &e.techniques { span.badge.tech { (t) } }
                span class={ "badge triage t-" (f.status) } { (f.status) }
            }
            @if let Some(s) = &e.suppressed {
                div.alert role="note" {
                    "Suppressed by a false-positive exclusion: " code { (plain(s.get("exclusion").unwrap_or(s))) }
                }
            }
            dl.facts {
                dt { "Device" } dd { (f.device.as_deref().unwrap_or("—")) }
                dt { "First seen" } dd { (f.first_seen.as_deref().unwrap_or("")) }
                dt { "Last seen" } dd { (f.last_seen.as_deref().unwrap_or("")) }
                @if let Value::Object(entities) = &e.entities {
                    @for (k, v) in entities {
                        @if !v.is_null() && k != "device" {
                            dt { (k) } dd { (plain(v)) }
                        }
                    }
                }
            }
            form.triage method="post" action={ (here) "/status" } {
                input type="hidden" name="back" value=(here);
                label for="triage-status" { "Triage status" }
                select id="triage-status" name="status" {
                    @for s in statuses {
                        @if *s == f.status { option value=(s) selected { (s) } } @else { option value=(s) { (s) } }
                    }
                }
                label for="triage-note" { "Note" }
                input type="text" id="triage-note" name="note" maxlength="500" placeholder="Why (optional)";
                button type="submit" { "Set" }
            }
        }
        section.card {
            h2 { "Evidence" }
            @if e.runs.is_empty() {
                p.muted { "No run has stored rows for this finding." }
            }
            @for run in &e.runs { (evidence_table(run, &e.columns)) }
        }
        section.card {
            h2 { "Triage history" }
            ol.history {
                @for c in &e.history {
                    li {
                        time { (c.at) } " · " (c.actor) ": "
                        @if let Some(from) = &c.from { (from) " → " }
                        strong { (c.to) }
                        @if let Some(n) = &c.note { " — " (n) }
                    }
                }
            }
        }
    }
}

/// The rows one run saw, in the rule's column order (columns only some rows have last).
fn evidence_table(run: &EvidenceRun, columns: &[(String, String)]) -> Markup {
    let mut names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
    for row in &run.rows {
        for k in row.keys() {
            if !names.contains(&k.as_str()) {
                names.push(k);
            }
        }
    }
    html! {
        h3 {
            "Run " a href={ "/hunts/" (feed::encode(&run.run_id)) } { "#" (run.run_id) }
            " · " (run.started_at) " · " (run.row_count) " row(s)"
            @if run.row_count > run.rows.len() { " (" (run.rows.len()) " stored)" }
        }
        div.table-scroll {
            table.grid {
                thead { tr { @for n in &names { th scope="col" { (n) } } } }
                tbody {
                    @for row in &run.rows {
                        tr { @for n in &names { td { (row.get(*n).map(plain).unwrap_or_default()) } } }
                    }
                }
            }
        }
    }
}

/// A JSON value as Kusto shows a cell: strings bare, everything else as compact JSON.
fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}
