//! The SOC feed: every rule, newest first, with search and filters.

use super::{Nav, data_badge, day, error_response, layout, severity_badge, validation_badge};
use crate::catalog::Entry;
use crate::data::Presence;
use crate::feed::{self, Facet, FeedPage, FeedParams};
use crate::server::Shared;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct Partial {
    /// `1`: only the results list (for filter-as-you-type).
    pub partial: Option<String>,
}

pub async fn page(
    State(state): State<Shared>,
    params: Result<Query<FeedParams>, QueryRejection>,
    partial: Result<Query<Partial>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(params)) = params else {
        return error_response(StatusCode::BAD_REQUEST, "The filters in this address are malformed.");
    };
    let filters = match params.parse() {
        Ok(f) => f,
        Err(b) => return error_response(StatusCode::BAD_REQUEST, &b.message),
    };
    let view = match state.view().await {
        Ok(v) => v,
        Err(e) => return error_response(StatusCode::INTERNAL_SERVER_ERROR, &e.0),
    };
    let result = feed::filter(&view.snapshot, &view.rows, &filters);
    let list = results(&params, &result, view.snapshot.entries.len());
    if partial.is_ok_and(|p| p.partial.as_deref() == Some("1")) {
        return super::Page(list).into_response();
    }
    let facets = feed::facets(&view.snapshot, &view.rows);
    let tables_with_rows = crate::api::nonempty_tables(&view.tables);
    let body = html! {
        div.feed-head {
            div {
                h1 { "SOC feed" }
                p.sub {
                    (view.snapshot.entries.len()) " hunting rules · "
                    (tables_with_rows) " tables with data in " code { (state.data_dir.display().to_string()) }
                    @if let Some(e) = &view.data_error { " · " span.warn-text { "data directory unreadable: " (e) } }
                }
            }
            a.button.secondary href="/coverage" { "Coverage →" }
        }
        div.feed {
            form.filters id="filters" method="get" action="/" role="search" aria-label="Filter rules" {
                label for="f-q" { "Search" }
                input type="search" id="f-q" name="q" value=(params.q.as_deref().unwrap_or("")) placeholder="Name, query, technique, table…" autocomplete="off";
                (select("f-tactic", "tactic", "Tactic", &facets.tactics, params.tactic.as_deref()))
                (select("f-technique", "technique", "Technique", &facets.techniques, params.technique.as_deref()))
                (select("f-severity", "severity", "Severity", &facets.severities, params.severity.as_deref()))
                (select("f-table", "table", "Table", &facets.tables, params.table.as_deref()))
                (select("f-source", "source", "Source", &facets.sources, params.source.as_deref()))
                (select("f-status", "status", "Validation", &facets.statuses, params.status.as_deref()))
                (select("f-data", "data", "Data", &facets.data, params.data.as_deref()))
                (select("f-state", "state", "State", &facets.states, params.state.as_deref()))
                div.filter-actions {
                    button type="submit" { "Apply" }
                    @if params.is_filtered() { a href="/" { "Clear" } }
                }
            }
            div id="results" aria-live="polite" { (list) }
        }
    };
    layout(Nav::Feed, "SOC feed", body).into_response()
}

fn select(id: &str, name: &str, label: &str, facets: &[Facet], current: Option<&str>) -> Markup {
    let current = current.map(str::trim).unwrap_or("");
    let known = current.is_empty() || facets.iter().any(|f| f.value.eq_ignore_ascii_case(current));
    html! {
        label for=(id) { (label) }
        select id=(id) name=(name) {
            option value="" { "Any" }
            @for f in facets {
                @if f.value.eq_ignore_ascii_case(current) {
                    option value=(f.value) selected { (f.label) " (" (f.count) ")" }
                } @else {
                    option value=(f.value) { (f.label) " (" (f.count) ")" }
                }
            }
            @if !known { option value=(current) selected { (current) " (0)" } }
        }
    }
}

fn results(params: &FeedParams, page: &FeedPage, all: usize) -> Markup {
    html! {
        p.count id="result-count" {
            @if page.total == all { (all) " rules" } @else { (page.total) " of " (all) " rules match" }
            @if page.pages > 1 { " · page " (page.page) " of " (page.pages) }
        }
        @if page.entries.is_empty() {
            div.empty {
                @if all == 0 {
                    p { "No rules yet. Import some:" }
                    pre { code { "quarry rules import path/to/rules/\nquarry rules import --pack rmm" } }
                } @else {
                    p { "No rule matches these filters." }
                }
            }
        }
        ol.rules {
            @for (e, presence) in &page.entries { (row(e, *presence)) }
        }
        @if page.pages > 1 {
            nav.pager aria-label="Pages" {
                @if page.page > 1 { a rel="prev" href={ "/?" (params.with_page(page.page - 1)) } { "← Newer" } }
                span { "Page " (page.page) " of " (page.pages) }
                @if page.page < page.pages { a rel="next" href={ "/?" (params.with_page(page.page + 1)) } { "Older →" } }
            }
        }
    }
}

fn row(e: &Entry, presence: Presence) -> Markup {
    let r = e.rule();
    let blurb = r
        .enrichment
        .hunt_hypothesis
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or(&r.description);
    html! {
        li.rule-card {
            div.rule-card-head {
                h2 { a href={ "/rules/" (feed::encode(&r.id)) } { (r.name) } }
                span.date title="Retrieved by the feed, or imported here" { (day(&e.date)) }
            }
            div.badges {
                span.badge.lang { (r.provenance.language.as_deref().unwrap_or("kql")) }
                (severity_badge(r.severity))
                span.badge.src { (e.source) }
                @for (id, t) in e.techniques() {
                    a.badge.tech href={ "/?technique=" (feed::encode(&id)) } title=(t.map(|t| t.name.as_str()).unwrap_or("unknown technique")) { (id) }
                }
                (data_badge(presence))
                (validation_badge(e.validation))
                @if !e.stored.enabled { span.badge.tone-warning { "disabled" } }
            }
            @if !blurb.is_empty() { p.blurb { (blurb) } }
            p.tables {
                @for t in &e.tables { code { (t) } " " }
            }
        }
    }
}
