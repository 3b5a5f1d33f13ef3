//! A rule's page, with the sections of the SOC-feed pages plus what Quarry knows about it:
//! validation, data presence, findings of recent hunts and a "run now" button.

use super::{Nav, data_badge, error_response, layout, severity_badge, validation_badge};
use crate::api::{self, attack_context};
use crate::catalog::{Entry, ExclusionStatus};
use crate::feed;
use crate::highlight::{self, Mark};
use crate::server::Shared;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use rules::{Attack, Level};

/// Only `http(s)` URLs become links: anything else (`javascript:`, `data:`) stays text.
pub fn safe_url(u: &str) -> Option<&str> {
    let t = u.trim();
    let lower = t.to_ascii_lowercase();
    ((lower.starts_with("https://") || lower.starts_with("http://")) && !t.contains(char::is_whitespace)).then_some(t)
}

/// A URL with spaces (`…/Hunting Queries/…` as the feed prints them) percent-encoded.
fn link_url(u: &str) -> Option<String> {
    safe_url(&u.trim().replace(' ', "%20")).map(str::to_string)
}

pub async fn page(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    let view = match state.view().await {
        Ok(v) => v,
        Err(e) => return error_response(StatusCode::INTERNAL_SERVER_ERROR, &e.0),
    };
    let Some(e) = view.snapshot.get(&id).cloned() else {
        return error_response(StatusCode::NOT_FOUND, &format!("No rule with id “{id}”."));
    };
    let findings = match &state.hunts {
        None => None,
        Some(h) => {
            let h = h.clone();
            let rid = e.rule().id.clone();
            Some(
                tokio::task::spawn_blocking(move || h.rule_findings(&rid, 20))
                    .await
                    .unwrap_or_else(|e| Err(e.to_string())),
            )
        }
    };
    let presence = view.rows.presence(&e.tables);
    let body = render(&e, &view.rows, presence, findings, state.hunts.is_some());
    layout(Nav::Feed, &e.rule().name, body).into_response()
}

fn section(id: &str, title: &str, body: Markup) -> Markup {
    html! {
        section.panel aria-labelledby={ "h-" (id) } id=(id) {
            h2 id={ "h-" (id) } { (title) }
            (body)
        }
    }
}

fn copy_button(target: &str, label: &str) -> Markup {
    html! {
        button.copy type="button" data-copy=(target) aria-label=(label) hidden { "Copy" }
    }
}

fn render(
    e: &Entry,
    rows: &crate::data::Rows,
    presence: crate::data::Presence,
    findings: Option<Result<Vec<crate::hunts::Finding>, String>>,
    can_hunt: bool,
) -> Markup {
    let r = e.rule();
    let p = &r.provenance;
    let parsed = kql::parse(&r.query);
    let marks: Vec<Mark> = parsed.diagnostics.iter().map(Mark::from_diagnostic).collect();
    let yaml = rules::export::to_sentinel_yaml(r);
    let repo = p.source_repository.as_deref().unwrap_or("source");
    let attack = Attack::get();
    let ctx = attack_context(e);
    let enc_id = feed::encode(&r.id);
    html! {
        nav.crumbs aria-label="Breadcrumb" {
            a href="/" { "← Back to SOC feed" }
            a href="/coverage" { "Coverage →" }
        }
        article.rule {
            header.rule-head {
                h1 { (r.name) }
                div.badges {
                    span.badge.lang { (p.language.as_deref().unwrap_or("kql")) }
                    (severity_badge(r.severity))
                    span.badge.src { (e.source) }
                    span.badge.kind { (r.kind.as_str()) }
                    (data_badge(presence))
                    (validation_badge(e.validation))
                    @if !e.stored.enabled {
                        span.badge.tone-warning title="Not hunted by default and not counted in coverage (quarry rules enable)" { "disabled" }
                    }
                }
                div.badges.techs {
                    @for (tid, t) in e.techniques() {
                        @match t {
                            Some(t) => a.badge.tech href=(t.url) rel="noopener noreferrer" title=(t.name) { (tid) " " span.tech-name { (t.name) } },
                            None => span.badge.tech.unknown title="Not an ATT&CK v18.1 technique" { (tid) },
                        }
                    }
                }
                @if let Some(tags) = &p.feed_tags { p.tags { (tags) } }
                @if let Some(d) = &p.disclaimer { p.note role="note" { (d) } }
                p.provenance {
                    @if let Some(u) = p.source_url.as_deref().and_then(link_url) {
                        a href=(u) rel="noopener noreferrer" { "View original rule at " (repo) " →" }
                        " · "
                    }
                    "Retrieved: " (p.retrieved.as_deref().unwrap_or("—"))
                    " · Confidence: " (p.confidence.as_deref().unwrap_or("—"))
                    " · Imported " (super::day(&e.stored.imported_at)) ", revision " (e.stored.revision)
                }
                div.actions {
                    form.run-form method="post" action={ "/rules/" (enc_id) "/run" } {
                        @if can_hunt {
                            button type="submit" id="run-now" { "Run now" }
                            (super::hunts::now_select("run-now-at"))
                        } @else {
                            button type="submit" id="run-now" disabled title="This build has no hunt component" { "Run now" }
                        }
                    }
                    a.button.secondary href={ "/rules/" (enc_id) "/definition.yaml" } download { "Download YAML" }
                    a.button.secondary href={ "/console?q=" (feed::encode(&r.query)) } { "Open in console" }
                    a.button.secondary href={ "/api/rules/" (enc_id) } { "JSON" }
                }
            }
            div.rule-grid {
                div.rule-main {
                    (section("hypothesis", "Hunt Hypothesis", html! {
                        @match r.enrichment.hunt_hypothesis.as_deref().filter(|h| !h.trim().is_empty()) {
                            Some(h) => p { (h) },
                            None => p.muted { "The source gives no hunt hypothesis." },
                        }
                        @if !r.description.trim().is_empty() {
                            h3 { "Description" }
                            p.pre-line { (r.description.trim()) }
                        }
                    }))
                    (section("query", "KQL Query", html! {
                        div.code-wrap {
                            (copy_button("kql-raw", "Copy the KQL query"))
                            pre.code.kql id="kql" { code { (highlight::kql(&r.query, &marks)) } }
                            textarea id="kql-raw" hidden readonly aria-hidden="true" tabindex="-1" { (r.query) }
                        }
                        @if !parsed.diagnostics.is_empty() {
                            ul.diags aria-label="Query diagnostics" {
                                @for d in &parsed.diagnostics {
                                    @let (l, c) = highlight::line_col(&r.query, d.span.start as usize);
                                    li class={ "diag-item diag-" (d.severity.as_str()) } {
                                        span.loc { (l) ":" (c) } " "
                                        span.level { (d.severity.as_str()) } " "
                                        code { (d.code) } " " (d.message)
                                        @if let Some(h) = &d.help { span.help { " — " (h) } }
                                    }
                                }
                            }
                        }
                    }))
                    (section("definition", "Analytic Rule Definition", html! {
                        div.code-wrap {
                            (copy_button("yaml-raw", "Copy the rule definition"))
                            pre.code.yaml { code { (yaml) } }
                            textarea id="yaml-raw" hidden readonly aria-hidden="true" tabindex="-1" { (yaml) }
                        }
                    }))
                    (section("attack", "MITRE ATT&CK Context", attack_section(e, &ctx, attack)))
                    (section("references", "References", html! {
                        @if r.enrichment.references.is_empty() {
                            p.muted { "No references." }
                        } @else {
                            ul.refs {
                                @for u in &r.enrichment.references {
                                    li { @match link_url(u) { Some(l) => a href=(l) rel="noopener noreferrer" { (u) }, None => (u) } }
                                }
                            }
                        }
                    }))
                    (section("false-positives", "False Positive Guidance", fp_section(e)))
                }
                aside.rule-side aria-label="Rule facts" {
                    (section("data", "Data", html! {
                        dl.facts {
                            dt { "Status" } dd { (data_badge(presence)) }
                            @for t in &e.tables {
                                dt { code { (t) } }
                                dd { @let n = rows.rows(t); @if n > 0 { (super::thousands(n)) " rows" } @else { span.warn-text { "no rows" } } }
                            }
                            @if e.tables.is_empty() { dt { "Tables" } dd { "none named" } }
                            @if let Some(q) = &r.query_period { dt { "Query period" } dd { (q.text) } }
                            @if let Some(q) = &r.query_frequency { dt { "Frequency" } dd { (q.text) } }
                            dt { "Rule id" } dd { code.id { (r.id) } }
                        }
                    }))
                    (section("validation", "Validation", validation_section(e)))
                    (section("findings", "Recent findings", findings_section(findings)))
                }
            }
            footer.source-line {
                "Original source: "
                @match p.source_url.as_deref() {
                    Some(u) => @match link_url(u) { Some(l) => a href=(l) rel="noopener noreferrer" { (u) }, None => (u) },
                    None => (p.path.as_deref().unwrap_or("—")),
                }
            }
        }
    }
}

fn attack_section(e: &Entry, ctx: &serde_json::Value, attack: &Attack) -> Markup {
    let r = e.rule();
    html! {
        @if r.tactics.is_empty() && r.all_techniques().next().is_none() {
            p.muted { "The rule is not mapped to ATT&CK." }
        }
        @if !r.tactics.is_empty() {
            p { "Tactics: "
                @for (i, t) in r.tactics.iter().enumerate() {
                    @if i > 0 { ", " }
                    @match attack.tactic(t).or(attack.tactic_loose(t)) {
                        Some(x) => a href={ "https://attack.mitre.org/tactics/" (x.id) "/" } rel="noopener noreferrer" { (x.name) " (" (x.id) ")" },
                        None => span.warn-text { (t) " (unknown tactic)" },
                    }
                }
            }
        }
        @if let Some(list) = ctx["techniques"].as_array().filter(|l| !l.is_empty()) {
            table.grid {
                thead { tr { th scope="col" { "Technique" } th scope="col" { "Name" } th scope="col" { "Tactics" } th scope="col" { "Coverage" } } }
                tbody {
                    @for t in list {
                        @let id = t["id"].as_str().unwrap_or("");
                        tr {
                            td { @match t["url"].as_str().and_then(safe_url) { Some(u) => a href=(u) rel="noopener noreferrer" { (id) }, None => (id) } }
                            td {
                                @if let Some(p) = t["parent"]["name"].as_str() { (p) ": " }
                                (t["name"].as_str().unwrap_or("not an ATT&CK v18.1 technique"))
                            }
                            td { @if let Some(ts) = t["tactics"].as_array() {
                                @for (i, x) in ts.iter().enumerate() { @if i > 0 { ", " } (x["name"].as_str().unwrap_or("")) }
                            } }
                            td { a href={ "/?technique=" (feed::encode(id)) } { "Rules for " (id) } }
                        }
                    }
                }
            }
        }
        @if let Some(m) = &r.enrichment.mitre_context { p.pre-line { (m) } }
    }
}

fn fp_section(e: &Entry) -> Markup {
    let fps = &e.rule().enrichment.false_positives;
    html! {
        @if fps.is_empty() {
            p.muted { "No false-positive guidance." }
        } @else {
            ol.fps {
                @for (fp, st) in fps.iter().zip(&e.exclusions) {
                    li.fp {
                        p.scenario { span.label { "Scenario" } (fp.scenario) }
                        @if let Some(x) = &fp.exclusion {
                            div.exclusion {
                                span.label { "Filter / exclusion" }
                                code.excl { (x) }
                            }
                        }
                        p class={ "ex-status tone-" (st.tone()) } {
                            span class={ "badge tone-" (st.tone()) } { (st.label()) }
                            " "
                            @match st {
                                ExclusionStatus::Valid { columns } => { "Applied by hunts. Columns: " (columns.join(", ")) }
                                ExclusionStatus::UnknownColumns { unknown, .. } => { "Not applied: " (unknown.join(", ")) " " @if unknown.len() == 1 { "is not a column" } @else { "are not columns" } " of " (e.tables.join(", ")) " nor of the query's output." }
                                ExclusionStatus::NotKql { message } => { "Not applied: not a KQL predicate (" (message) "). Shown for analysts." }
                                ExclusionStatus::Missing => { "The scenario gives no filter." }
                                ExclusionStatus::Unchecked => { "Not checked: the rule's query does not parse." }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn validation_section(e: &Entry) -> Markup {
    html! {
        @if e.diagnostics.is_empty() {
            p.ok-text { "No problems found." }
        } @else {
            ul.diags {
                @for d in e.diagnostics.iter().take(SHOWN_DIAGNOSTICS) { (rule_diagnostic(d)) }
            }
            @if e.diagnostics.len() > SHOWN_DIAGNOSTICS {
                details.more-diags {
                    summary { (e.diagnostics.len() - SHOWN_DIAGNOSTICS) " more" }
                    ul.diags { @for d in e.diagnostics.iter().skip(SHOWN_DIAGNOSTICS) { (rule_diagnostic(d)) } }
                }
            }
            p.muted.small {
                (e.diagnostics.iter().filter(|d| d.level == Level::Error).count()) " errors, "
                (e.diagnostics.iter().filter(|d| d.level == Level::Warning).count()) " warnings"
            }
        }
    }
}

/// Diagnostics listed before the rest fold away.
const SHOWN_DIAGNOSTICS: usize = 4;

fn rule_diagnostic(d: &rules::RuleDiagnostic) -> Markup {
    html! {
        li class={ "diag-item diag-" (d.level.as_str()) } {
            span.level { (d.level.as_str()) } " "
            code { (d.code) } " " (d.message)
            @if let Some(pos) = d.position { " " span.loc { "(line " (pos.line) ", col " (pos.column) ")" } }
            @if let Some(h) = &d.help { span.help { " — " (h) } }
        }
    }
}

fn findings_section(findings: Option<Result<Vec<crate::hunts::Finding>, String>>) -> Markup {
    html! {
        @match findings {
            None => p.muted { "This build of Quarry has no hunt component, so there are no hunt findings to show." },
            Some(Err(e)) => p.warn-text { "Cannot read findings: " (e) },
            Some(Ok(list)) if list.is_empty() => p.muted { "No findings in recent hunts." },
            Some(Ok(list)) => {
                ul.findings-mini {
                    @for f in &list {
                        li {
                            a href={ "/findings/" (feed::encode(&f.id)) } { (f.device.as_deref().unwrap_or("(no device)")) }
                            " " span class={ "badge triage t-" (f.status) } { (f.status) }
                            @if let Some(l) = &f.last_seen { " " span.muted.small { (l) } }
                        }
                    }
                }
            }
        }
    }
}

/// `GET /rules/{id}/definition.yaml`
pub async fn yaml(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    let view = match state.view().await {
        Ok(v) => v,
        Err(e) => return error_response(StatusCode::INTERNAL_SERVER_ERROR, &e.0),
    };
    match api::find(&view, &id) {
        Ok(e) => {
            let mut resp = rules::export::to_sentinel_yaml(e.rule()).into_response();
            let h = resp.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/yaml; charset=utf-8"),
            );
            let file: String = e
                .rule()
                .id
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file}.yaml\"")) {
                h.insert(header::CONTENT_DISPOSITION, v);
            }
            resp
        }
        Err(_) => error_response(StatusCode::NOT_FOUND, &format!("No rule with id “{id}”.")),
    }
}
