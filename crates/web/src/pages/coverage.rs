//! The ATT&CK Enterprise matrix shaded by rule coverage.

use super::{Nav, error_response, layout};
use crate::coverage::{self, Cell, TechniqueRow, heat};
use crate::feed;
use crate::server::Shared;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct Params {
    /// `covered`: only techniques with rules.
    pub only: Option<String>,
}

pub async fn page(
    State(state): State<Shared>,
    params: Result<Query<Params>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let only_covered = params.is_ok_and(|p| p.only.as_deref() == Some("covered"));
    let view = match state.view().await {
        Ok(v) => v,
        Err(e) => return error_response(StatusCode::INTERNAL_SERVER_ERROR, &e.0),
    };
    let cov = coverage::compute(&view.snapshot, &view.rows);
    let body = html! {
        nav.crumbs aria-label="Breadcrumb" { a href="/" { "← Back to SOC feed" } }
        div.feed-head {
            div {
                h1 { "ATT&CK coverage" }
                p.sub {
                    (cov.techniques_covered) " techniques covered by " (cov.rules_mapped) " of " (cov.rules) " rules; "
                    (cov.techniques_runnable) " of them by rules whose data is present. Enterprise ATT&CK v18.1."
                    @if cov.rules_disabled > 0 {
                        " " (cov.rules_disabled) " disabled rule(s) are not counted."
                    }
                }
            }
            div.head-actions {
                @if only_covered {
                    a.button.secondary href="/coverage" { "Show all techniques" }
                } @else {
                    a.button.secondary href="/coverage?only=covered" { "Only covered" }
                }
                a.button href="/coverage/navigator.json" download { "Navigator layer" }
            }
        }
        div.legend aria-label="Legend" {
            span.legend-item { span.swatch.heat-0 {} "no rule" }
            span.legend-item { span.swatch.heat-1 {} span.swatch.heat-2 {} span.swatch.heat-3 {} span.swatch.heat-4 {} "rules that can run (darker = more)" }
            span.legend-item { span.swatch.cannot {} "only rules whose tables have no data" }
        }
        @if !cov.unknown_techniques.is_empty() {
            p.warn-text { "Rules name techniques ATT&CK v18.1 does not have: " (cov.unknown_techniques.join(", ")) }
        }
        div.matrix-scroll {
            div.matrix role="list" aria-label="ATT&CK Enterprise matrix" {
                @for tac in &cov.tactics {
                    section.tactic role="listitem" aria-labelledby={ "t-" (tac.id) } {
                        header {
                            h2 id={ "t-" (tac.id) } { a href={ "/?tactic=" (feed::encode(&tac.sentinel_name)) } { (tac.name) } }
                            span.small.muted { (tac.covered) " / " (tac.techniques.len()) " covered" }
                        }
                        ul {
                            @for t in tac.techniques.iter().filter(|t| !only_covered || t.total_with_subs() > 0) {
                                (technique(t, cov.max_cell))
                            }
                        }
                    }
                }
            }
        }
    };
    layout(Nav::Coverage, "ATT&CK coverage", body).into_response()
}

fn class(cell: &Cell, max: usize) -> String {
    if cell.runnable.is_empty() && !cell.cannot_run.is_empty() {
        "tech cannot".to_string()
    } else {
        format!("tech heat-{}", heat(cell.runnable.len(), max))
    }
}

fn counts(cell: &Cell) -> Markup {
    html! {
        @if cell.total() > 0 {
            span.counts {
                @if !cell.runnable.is_empty() { span.n-run title="rules that can run" { (cell.runnable.len()) } }
                @if !cell.cannot_run.is_empty() { span.n-cannot title="rules missing data" { (cell.cannot_run.len()) "✕" } }
            }
        }
    }
}

fn technique(t: &TechniqueRow, max: usize) -> Markup {
    let covered_subs: Vec<&TechniqueRow> = t.subtechniques.iter().filter(|s| s.cell.total() > 0).collect();
    let hidden = t.subtechniques.len() - covered_subs.len();
    html! {
        li class=(class(&t.cell, max)) {
            a href={ "/?technique=" (feed::encode(&t.id)) } title={ (t.id) " " (t.name) } {
                span.tname { (t.name) }
                span.tid { (t.id) }
                (counts(&t.cell))
            }
            @if !covered_subs.is_empty() {
                ul.subs {
                    @for s in &covered_subs {
                        li class=(class(&s.cell, max)) {
                            a href={ "/?technique=" (feed::encode(&s.id)) } title={ (s.id) " " (s.name) } {
                                span.tname { (s.name) } span.tid { (s.id) } (counts(&s.cell))
                            }
                        }
                    }
                }
            }
            @if hidden > 0 && !covered_subs.is_empty() { span.more { "+" (hidden) " sub-techniques without rules" } }
        }
    }
}
