//! Hunt runs and their findings (grouped by rule or by device), triage, downloads and the
//! rule page's "run now".

use super::{Nav, error_response, layout};
use crate::api::ApiError;
use crate::feed;
use crate::hunts::{Finding, HuntBackend, RunDetail};
use crate::server::Shared;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

const NO_HUNTS: &str = "This build of Quarry has no hunt component, so it cannot run hunts or show findings.";

pub(super) fn backend(state: &Shared) -> Result<Arc<dyn HuntBackend>, Box<Response>> {
    state
        .hunts
        .clone()
        .ok_or_else(|| Box::new(error_response(StatusCode::NOT_IMPLEMENTED, NO_HUNTS)))
}

pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, Box<Response>> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(Box::new(error_response(StatusCode::INTERNAL_SERVER_ERROR, &e))),
        Err(e) => Err(Box::new(error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &e.to_string(),
        ))),
    }
}

pub async fn list(State(state): State<Shared>) -> Response {
    let Some(h) = state.hunts.clone() else {
        let body = html! {
            h1 { "Hunts" }
            div.alert role="status" { (NO_HUNTS) }
        };
        return layout(Nav::Hunts, "Hunts", body).into_response();
    };
    let runs = match blocking(move || h.runs(200)).await {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    let body = html! {
        div.feed-head {
            div { h1 { "Hunts" } p.sub { (runs.len()) " runs, newest first" } }
            form.run-form method="post" action="/rules/all/run" { (now_select("now-all")) button type="submit" { "Hunt with every rule" } }
        }
        @if runs.is_empty() {
            p.muted { "No hunts yet. Start one here, from a rule's page, or with " code { "quarry hunt" } "." }
        } @else {
            table.grid {
                thead { tr { th scope="col" { "Run" } th scope="col" { "Started" } th scope="col" { "Status" } th scope="col" { "Rules" } th scope="col" { "Findings" } th scope="col" { "now()" } } }
                tbody {
                    @for r in &runs {
                        tr {
                            td { a href={ "/hunts/" (feed::encode(&r.id)) } { code { (r.id) } } }
                            td { (r.started_at) }
                            td { span class={ "badge run-" (r.status) } { (r.status) } @if let Some(e) = &r.error { " " span.warn-text { (e) } } }
                            td.num { (r.rules) }
                            td.num { (r.findings) }
                            td { (r.now.as_deref().unwrap_or("wall clock")) }
                        }
                    }
                }
            }
        }
    };
    layout(Nav::Hunts, "Hunts", body).into_response()
}

#[derive(Deserialize)]
pub struct DetailParams {
    /// `rule` (default) or `device`.
    pub group: Option<String>,
}

pub async fn detail(
    State(state): State<Shared>,
    Path(id): Path<String>,
    params: Result<Query<DetailParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let h = match backend(&state) {
        Ok(h) => h,
        Err(r) => return *r,
    };
    let by_device = params.is_ok_and(|p| p.group.as_deref() == Some("device"));
    let statuses = h.statuses();
    let key = id.clone();
    let run = match blocking(move || h.run(&key)).await {
        Ok(Some(r)) => r,
        Ok(None) => return error_response(StatusCode::NOT_FOUND, &format!("No hunt run “{id}”.")),
        Err(resp) => return *resp,
    };
    let mut groups: BTreeMap<String, Vec<&Finding>> = BTreeMap::new();
    for f in &run.findings {
        let k = if by_device {
            f.device.clone().unwrap_or_else(|| "(no device)".into())
        } else {
            f.rule_name.clone()
        };
        groups.entry(k).or_default().push(f);
    }
    let enc = feed::encode(&run.run.id);
    let body = html! {
        nav.crumbs aria-label="Breadcrumb" { a href="/hunts" { "← All hunts" } }
        div.feed-head {
            div {
                h1 { "Hunt " code { (run.run.id) } }
                p.sub {
                    "Started " (run.run.started_at) " · " span class={ "badge run-" (run.run.status) } { (run.run.status) }
                    " · " (run.run.rules) " rules · " (run.run.findings) " findings"
                }
            }
            div.head-actions {
                a.button.secondary href={ "/api/hunts/" (enc) "/findings?format=csv" } download { "CSV" }
                a.button.secondary href={ "/api/hunts/" (enc) "/findings?format=json" } download { "JSON" }
            }
        }
        nav.tabs aria-label="Group findings" {
            @if by_device { a href={ "/hunts/" (enc) } { "By rule" } a href={ "/hunts/" (enc) "?group=device" } aria-current="page" { "By device" } }
            @else { a href={ "/hunts/" (enc) } aria-current="page" { "By rule" } a href={ "/hunts/" (enc) "?group=device" } { "By device" } }
        }
        @if !run.rule_errors.is_empty() {
            div.alert.error role="alert" {
                strong { "Rules that could not run" }
                ul { @for (rid, e) in &run.rule_errors { li { a href={ "/rules/" (feed::encode(rid)) } { code { (rid) } } ": " (e) } } }
            }
        }
        @if run.findings.is_empty() { p.muted { "This hunt found nothing." } }
        @for (name, list) in &groups {
            section.panel {
                h2 { (name) " " span.muted.small { (list.len()) " finding" @if list.len() != 1 { "s" } } }
                (findings_table(list, &statuses, by_device, &run))
            }
        }
    };
    layout(Nav::Hunts, "Hunt", body).into_response()
}

fn findings_table(list: &[&Finding], statuses: &[String], by_device: bool, run: &RunDetail) -> Markup {
    html! {
        div.table-scroll {
            table.grid {
                thead { tr {
                    th scope="col" { @if by_device { "Rule" } @else { "Device" } }
                    th scope="col" { "First seen" } th scope="col" { "Last seen" } th scope="col" { "Details" } th scope="col" { "Triage" }
                } }
                tbody {
                    @for f in list {
                        tr {
                            td { @if by_device { a href={ "/rules/" (feed::encode(&f.rule_id)) } { (f.rule_name) } } @else { (f.device.as_deref().unwrap_or("—")) } }
                            td { (f.first_seen.as_deref().unwrap_or("")) }
                            td { (f.last_seen.as_deref().unwrap_or("")) }
                            td.details {
                                a href={ "/findings/" (feed::encode(&f.id)) } { "Evidence #" (f.id) }
                                details { summary { (f.row.len()) " facts" }
                                    dl.facts { @for (k, v) in &f.row { dt { (k) } dd { (match v { serde_json::Value::String(s) => s.clone(), other => other.to_string() }) } } }
                                }
                            }
                            td {
                                form.triage method="post" action={ "/findings/" (feed::encode(&f.id)) "/status" } {
                                    input type="hidden" name="back" value={ "/hunts/" (feed::encode(&run.run.id)) @if by_device { "?group=device" } };
                                    label.visually-hidden for={ "st-" (f.id) } { "Triage status" }
                                    select id={ "st-" (f.id) } name="status" {
                                        @for s in statuses {
                                            @if *s == f.status { option value=(s) selected { (s) } } @else { option value=(s) { (s) } }
                                        }
                                    }
                                    button type="submit" class="small" { "Set" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct StatusForm {
    pub status: String,
    pub back: Option<String>,
    pub note: Option<String>,
}

/// `POST /findings/{id}/status` (form) → back to the hunt.
pub async fn set_status(
    State(state): State<Shared>,
    Path(id): Path<String>,
    form: Result<Form<StatusForm>, FormRejection>,
) -> Response {
    let h = match backend(&state) {
        Ok(h) => h,
        Err(r) => return *r,
    };
    let Ok(Form(f)) = form else {
        return error_response(StatusCode::BAD_REQUEST, "The form is malformed.");
    };
    if !h.statuses().contains(&f.status) {
        return error_response(
            StatusCode::BAD_REQUEST,
            &format!("Unknown triage status “{}”.", f.status),
        );
    }
    let key = id.clone();
    let status = f.status.clone();
    match blocking(move || h.set_status(&key, &status, f.note.as_deref())).await {
        Ok(true) => Redirect::to(&crate::security::safe_next(f.back.as_deref())).into_response(),
        Ok(false) => error_response(StatusCode::NOT_FOUND, &format!("No finding “{id}”.")),
        Err(r) => *r,
    }
}

#[derive(Deserialize)]
pub struct RunNow {
    /// `latest` (the newest event), `now` (wall clock) or a datetime.
    pub now: Option<String>,
}

/// The `now()` choice next to a "run" button.
pub fn now_select(id: &str) -> Markup {
    html! {
        label.inline for=(id) { "now() =" }
        select.now-select id=(id) name="now" {
            option value="latest" selected { "newest event in the data" }
            option value="now" { "wall clock" }
        }
    }
}

/// `POST /rules/{id}/run` (`all`: every rule) → the new run's page.
pub async fn run_rule(
    State(state): State<Shared>,
    Path(id): Path<String>,
    form: Result<Form<RunNow>, FormRejection>,
) -> Response {
    let now = form.ok().and_then(|f| f.0.now);
    let h = match backend(&state) {
        Ok(h) => h,
        Err(r) => return *r,
    };
    let rules = if id == "all" {
        Vec::new()
    } else {
        let view = match state.view().await {
            Ok(v) => v,
            Err(e) => return error_response(StatusCode::INTERNAL_SERVER_ERROR, &e.0),
        };
        match view.snapshot.get(&id) {
            Some(e) => vec![e.rule().id.clone()],
            None => return error_response(StatusCode::NOT_FOUND, &format!("No rule with id “{id}”.")),
        }
    };
    match h.start(rules, now).await {
        Ok(run) => Redirect::to(&format!("/hunts/{}", feed::encode(&run))).into_response(),
        Err(e) => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("The hunt could not start: {e}"),
        ),
    }
}

/// Findings of a run as CSV or JSON.
pub fn download(run: &RunDetail, format: &str) -> Result<Response, ApiError> {
    let name = |ext: &str| {
        let safe: String = run
            .run
            .id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        format!("attachment; filename=\"quarry-hunt-{safe}.{ext}\"")
    };
    let (body, ctype, disp) = match format {
        "json" => (
            serde_json::to_vec_pretty(&run.findings).map_err(ApiError::internal)?,
            "application/json",
            name("json"),
        ),
        "csv" => (
            csv_of(&run.findings).map_err(ApiError::internal)?,
            "text/csv; charset=utf-8",
            name("csv"),
        ),
        other => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("unknown format `{other}` (expected json or csv)"),
            ));
        }
    };
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    if let Ok(v) = HeaderValue::from_str(&disp) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

/// One row per finding: fixed columns, then every result column any finding has. Cells that
/// a spreadsheet would run as a formula are prefixed with `'`.
fn csv_of(findings: &[Finding]) -> Result<Vec<u8>, csv::Error> {
    let mut extra: Vec<&str> = Vec::new();
    for f in findings {
        for k in f.row.keys() {
            if !extra.contains(&k.as_str()) {
                extra.push(k);
            }
        }
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<&str> = vec![
        "finding_id",
        "run_id",
        "rule_id",
        "rule_name",
        "device",
        "first_seen",
        "last_seen",
        "status",
    ];
    header.extend(&extra);
    w.write_record(&header)?;
    let defuse = |s: String| {
        if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            format!("'{s}")
        } else {
            s
        }
    };
    for f in findings {
        let mut rec: Vec<String> = vec![
            f.id.clone(),
            f.run_id.clone(),
            f.rule_id.clone(),
            f.rule_name.clone(),
            f.device.clone().unwrap_or_default(),
            f.first_seen.clone().unwrap_or_default(),
            f.last_seen.clone().unwrap_or_default(),
            f.status.clone(),
        ];
        for k in &extra {
            rec.push(match f.row.get(*k) {
                None | Some(serde_json::Value::Null) => String::new(),
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(v) => v.to_string(),
            });
        }
        w.write_record(rec.into_iter().map(defuse))?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}
