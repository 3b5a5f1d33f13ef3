//! The query console: KQL in, result tables (paged), diagnostics underlined at their spans,
//! the elapsed time, and a time chart when the result has one.

use super::{Nav, Page, layout};
use crate::api::{self, DEFAULT_PAGE_SIZE};
use crate::console::{CachedResult, Chart, MAX_QUERY_BYTES, QueryFailure, ResultTable, chart_of};
use crate::highlight::{self, Mark};
use crate::server::Shared;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use std::fmt::Write;

#[derive(Deserialize, Default)]
pub struct ConsoleParams {
    pub q: Option<String>,
    pub now: Option<String>,
}

const EXAMPLE: &str = "DeviceFileCertificateInfo\n| summarize Files = count() by Signer\n| top 10 by Files";

pub async fn page(
    State(state): State<Shared>,
    params: Result<Query<ConsoleParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let (q, now) = params
        .map(|p| (p.0.q.unwrap_or_default(), p.0.now.unwrap_or_default()))
        .unwrap_or_default();
    render_page(&state, &q, &now, None).into_response()
}

fn render_page(state: &Shared, query: &str, now: &str, results: Option<Markup>) -> Page {
    let limits = state.limits;
    let body = html! {
        div.feed-head {
            div {
                h1 { "Query console" }
                p.sub {
                    "KQL over the tables in " code { (state.data_dir.display().to_string()) } ". "
                    "Limits: " (limits.timeout.as_secs()) " s, " (limits.memory_bytes >> 20) " MiB, " (limits.max_rows) " rows kept."
                }
            }
        }
        form.console id="console" method="post" action="/console" {
            label for="q" { "Query" }
            textarea id="q" name="q" rows="9" spellcheck="false" autocomplete="off" maxlength=(MAX_QUERY_BYTES) placeholder=(EXAMPLE) { (query) }
            div.console-actions {
                button type="submit" id="run" { "Run" }
                label.inline for="now" { "now() =" }
                input.now type="text" id="now" name="now" value=(now) placeholder="wall clock, or 2026-05-30T00:00:00Z" autocomplete="off" spellcheck="false";
                button type="button" id="cancel" class="secondary" hidden { "Cancel" }
                span.small.muted { kbd { "Ctrl" } "+" kbd { "Enter" } " runs the query" }
                span id="status" class="small" role="status" aria-live="polite" {}
            }
        }
        div id="console-results" aria-live="polite" {
            @if let Some(r) = results { (r) }
        }
    };
    layout(Nav::Console, "Query console", body)
}

#[derive(Deserialize)]
pub struct RunForm {
    pub q: String,
    /// Set by the page's script so that the Cancel button can stop this query.
    pub run_id: Option<String>,
    /// The query's `now()`; the wall clock when empty.
    pub now: Option<String>,
}

struct Ran {
    status: StatusCode,
    query: String,
    now: String,
    markup: Markup,
}

async fn run(state: &Shared, form: Result<Form<RunForm>, FormRejection>) -> Ran {
    let ran = |status, query: String, now: &Option<String>, markup| Ran {
        status,
        query,
        now: now.clone().unwrap_or_default(),
        markup,
    };
    let form = match form {
        Ok(Form(f)) => f,
        Err(e) => {
            let status = e.status();
            let msg = if status == StatusCode::PAYLOAD_TOO_LARGE {
                format!(
                    "The request is too large (limit {} bytes).",
                    crate::server::MAX_BODY_BYTES
                )
            } else {
                e.body_text()
            };
            return ran(
                status,
                String::new(),
                &None,
                html! { div.alert.error role="alert" { (msg) } },
            );
        }
    };
    let q = form.q;
    if q.len() > MAX_QUERY_BYTES {
        let m = html! { div.alert.error role="alert" { "The query is too long (" (q.len()) " bytes; the limit is " (MAX_QUERY_BYTES) ")." } };
        return ran(StatusCode::PAYLOAD_TOO_LARGE, q, &form.now, m);
    }
    if q.trim().is_empty() {
        return ran(
            StatusCode::BAD_REQUEST,
            q,
            &form.now,
            html! { div.alert role="alert" { "Type a query first." } },
        );
    }
    let now = match api::parse_now(form.now.as_deref()) {
        Ok(n) => n,
        Err(m) => {
            return ran(
                StatusCode::BAD_REQUEST,
                q,
                &form.now,
                html! { div.alert.error role="alert" { (m) } },
            );
        }
    };
    match api::run_query(state, q.clone(), now, form.run_id.as_deref()).await {
        Ok((id, cached)) => ran(StatusCode::OK, q, &form.now, results(&id, &cached, 1)),
        Err(f) => {
            let status = api::failure(&q, f.clone()).status;
            let m = failure(&q, &f);
            ran(status, q, &form.now, m)
        }
    }
}

/// `POST /console` (no JavaScript): the page with the results.
pub async fn submit(State(state): State<Shared>, form: Result<Form<RunForm>, FormRejection>) -> Response {
    let r = run(&state, form).await;
    (r.status, render_page(&state, &r.query, &r.now, Some(r.markup))).into_response()
}

/// `POST /console/run`: only the results, for the page's script.
pub async fn fragment(State(state): State<Shared>, form: Result<Form<RunForm>, FormRejection>) -> Response {
    let r = run(&state, form).await;
    (r.status, Page(r.markup)).into_response()
}

#[derive(Deserialize)]
pub struct ResultParams {
    pub page: Option<usize>,
    pub partial: Option<String>,
}

#[derive(Deserialize)]
pub struct CancelForm {
    pub run_id: String,
}

/// `POST /console/cancel` (the page's Cancel button).
pub async fn cancel(State(state): State<Shared>, form: Result<Form<CancelForm>, FormRejection>) -> StatusCode {
    match form {
        Ok(Form(f)) if state.running.cancel(&f.run_id) => StatusCode::NO_CONTENT,
        Ok(_) => StatusCode::NOT_FOUND,
        Err(e) => e.status(),
    }
}

/// `GET /console/results/{id}?page=N`: another page of a recent result.
pub async fn results_page(
    State(state): State<Shared>,
    Path(id): Path<String>,
    params: Result<Query<ResultParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let (page, partial) = params
        .map(|p| (p.0.page.unwrap_or(1), p.0.partial.as_deref() == Some("1")))
        .unwrap_or((1, false));
    let Some(cached) = state.results.get(&id) else {
        return super::error_response(
            StatusCode::NOT_FOUND,
            "This result has expired (results are kept for 15 minutes). Run the query again.",
        );
    };
    let markup = results(&id, &cached, page);
    if partial {
        Page(markup).into_response()
    } else {
        render_page(&state, &cached.query, "", Some(markup)).into_response()
    }
}

fn failure(q: &str, f: &QueryFailure) -> Markup {
    match f {
        QueryFailure::Invalid(diags) => {
            let marks: Vec<Mark> = diags.iter().map(Mark::from_diagnostic).collect();
            html! {
                div.alert.error role="alert" {
                    strong { (diags.iter().filter(|d| d.is_error()).count()) " error(s) in the query" }
                }
                pre.code.kql.diag-view { code { (highlight::kql(q, &marks)) } }
                ul.diags id="diagnostics" {
                    @for d in diags {
                        @let (l, c) = highlight::line_col(q, d.span.start as usize);
                        li class={ "diag-item diag-" (d.severity.as_str()) } data-start=(d.span.start) data-end=(d.span.end) {
                            span.loc { (l) ":" (c) } " " span.level { (d.severity.as_str()) } " "
                            code { (d.code) } " " (d.message)
                            @if let Some(h) = &d.help { span.help { " — " (h) } }
                        }
                    }
                }
            }
        }
        QueryFailure::Execution(m) => html! { div.alert.error role="alert" { strong { "The query failed: " } (m) } },
        QueryFailure::Timeout(d) => {
            html! { div.alert.error role="alert" { "The query ran longer than " (d.as_secs()) " s and was cancelled." } }
        }
        QueryFailure::Unavailable(m) => html! { div.alert role="alert" { "Queries cannot run here: " (m) "." } },
        QueryFailure::Cancelled => html! { div.alert role="alert" { "The query was cancelled." } },
    }
}

fn results(id: &str, cached: &CachedResult, page: usize) -> Markup {
    let out = &cached.output;
    html! {
        div.result-meta id="result-meta" data-result=(id) {
            span.elapsed { "Elapsed " (format!("{:.1}", out.elapsed_ms)) " ms" }
            @for t in &out.tables {
                " · " span { (t.total_rows) " row" @if t.total_rows != 1 { "s" } @if let Some(n) = &t.name { " in " (n) } }
            }
        }
        @if !out.warnings.is_empty() {
            ul.diags {
                @for d in &out.warnings {
                    @let (l, c) = highlight::line_col(&cached.query, d.span.start as usize);
                    li class={ "diag-item diag-" (d.severity.as_str()) } { span.loc { (l) ":" (c) } " " code { (d.code) } " " (d.message) }
                }
            }
        }
        @for (i, t) in out.tables.iter().enumerate() {
            (table(id, i, t, page))
        }
    }
}

fn table(id: &str, index: usize, t: &ResultTable, page: usize) -> Markup {
    let size = DEFAULT_PAGE_SIZE;
    let pages = t.rows.len().div_ceil(size).max(1);
    let page = page.clamp(1, pages);
    let start = (page - 1) * size;
    html! {
        section.result {
            @if let Some(n) = &t.name { h2 { (n) } }
            @if let Some(c) = chart_of(t) { (chart(t, &c)) }
            @if t.truncated {
                p.warn-text { "Showing the first " (t.rows.len()) " of " (t.total_rows) " rows (the console keeps at most this many)." }
            }
            div.table-scroll {
                table.grid.results id={ "result-" (index) } {
                    thead { tr {
                        th.rownum scope="col" { "#" }
                        @for c in &t.columns { th scope="col" { (c.name) span.ctype { (c.kql_type) } } }
                    } }
                    tbody {
                        @for (n, row) in t.text.iter().enumerate().skip(start).take(size) {
                            tr {
                                td.rownum { (n + 1) }
                                @for cell in row { td { (cell) } }
                            }
                        }
                    }
                }
            }
            @if t.rows.is_empty() { p.muted { "No rows." } }
            @if pages > 1 {
                nav.pager aria-label="Result pages" {
                    @if page > 1 { a.page-link rel="prev" href={ "/console/results/" (id) "?page=" (page - 1) } { "← Previous" } }
                    span { "Rows " (start + 1) "–" ((start + size).min(t.rows.len())) " of " (t.rows.len()) " · page " (page) " of " (pages) }
                    @if page < pages { a.page-link rel="next" href={ "/console/results/" (id) "?page=" (page + 1) } { "Next →" } }
                }
            }
        }
    }
}

/// A line chart (SVG, drawn on the server) of each numeric column over the datetime column.
fn chart(t: &ResultTable, c: &Chart) -> Markup {
    let (w, h, pad_l, pad_b, pad_t, pad_r) = (1200.0f64, 260.0f64, 64.0, 30.0, 12.0, 16.0);
    let mut points: Vec<(i64, Vec<Option<f64>>)> = t
        .rows
        .iter()
        .filter_map(|r| {
            let ts = r
                .get(c.time_column)?
                .as_str()
                .and_then(schema::values::parse_datetime)?;
            Some((
                ts,
                c.value_columns
                    .iter()
                    .map(|&i| r.get(i).and_then(|v| v.as_f64()))
                    .collect(),
            ))
        })
        .collect();
    points.sort_by_key(|p| p.0);
    if points.len() < 2 {
        return html! {};
    }
    let (t0, t1) = (points[0].0, points[points.len() - 1].0);
    let vmax = points
        .iter()
        .flat_map(|p| p.1.iter().flatten())
        .fold(0.0f64, |a, &b| a.max(b));
    let vmin = points
        .iter()
        .flat_map(|p| p.1.iter().flatten())
        .fold(0.0f64, |a, &b| a.min(b));
    let span_t = (t1 - t0).max(1) as f64;
    let span_v = if vmax - vmin == 0.0 { 1.0 } else { vmax - vmin };
    let x = |ts: i64| pad_l + (ts - t0) as f64 / span_t * (w - pad_l - pad_r);
    let y = |v: f64| pad_t + (1.0 - (v - vmin) / span_v) * (h - pad_t - pad_b);
    let series: Vec<(String, String)> = c
        .value_columns
        .iter()
        .enumerate()
        .map(|(k, &col)| {
            let mut d = String::new();
            for (ts, vals) in &points {
                if let Some(Some(v)) = vals.get(k) {
                    let _ = write!(d, "{}{:.1},{:.1}", if d.is_empty() { "M" } else { " L" }, x(*ts), y(*v));
                }
            }
            (t.columns.get(col).map(|c| c.name.clone()).unwrap_or_default(), d)
        })
        .collect();
    let label_t = |ns: i64| {
        schema::values::format_datetime(ns)
            .chars()
            .take(16)
            .collect::<String>()
            .replace('T', " ")
    };
    let time_name = t.columns.get(c.time_column).map(|c| c.name.as_str()).unwrap_or("");
    html! {
        figure.chart {
            svg viewBox={ "0 0 " (w) " " (h) } role="img" aria-label={ "Time chart of " (series.iter().map(|s| s.0.as_str()).collect::<Vec<_>>().join(", ")) " over " (time_name) } {
                line.axis x1=(pad_l) y1=(h - pad_b) x2=(w - pad_r) y2=(h - pad_b) {}
                line.axis x1=(pad_l) y1=(pad_t) x2=(pad_l) y2=(h - pad_b) {}
                text.tick x=(pad_l - 6.0) y=(pad_t + 4.0) text-anchor="end" { (fmt_num(vmax)) }
                text.tick x=(pad_l - 6.0) y=(h - pad_b) text-anchor="end" { (fmt_num(vmin)) }
                text.tick x=(pad_l) y=(h - 8.0) { (label_t(t0)) }
                text.tick x=(w - pad_r) y=(h - 8.0) text-anchor="end" { (label_t(t1)) }
                @for (k, (_, d)) in series.iter().enumerate() {
                    path class={ "series s" (k % 6) } d=(d) {}
                }
            }
            figcaption {
                @for (k, (name, _)) in series.iter().enumerate() {
                    span class={ "key s" (k % 6) } { (name) }
                }
                " over " (time_name)
            }
        }
    }
}

fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:.2}")
    }
}
