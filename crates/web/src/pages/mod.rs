//! Server-rendered pages (maud: compile-time checked templates that escape every
//! interpolated value). Pages work without JavaScript; `static/app.js` only enhances.

pub mod console;
pub mod coverage;
pub mod feed;
pub mod finding;
pub mod hunts;
pub mod login;
pub mod rule;

use crate::assets;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

/// Which main navigation entry a page belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Feed,
    Coverage,
    Hunts,
    Console,
    None,
}

/// A rendered page as a response.
pub struct Page(pub Markup);

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        axum::response::Html(self.0.into_string()).into_response()
    }
}

pub fn layout(nav: Nav, title: &str, body: Markup) -> Page {
    let link = |target: Nav, href: &str, label: &str| {
        html! {
            @if nav == target {
                a href=(href) aria-current="page" { (label) }
            } @else {
                a href=(href) { (label) }
            }
        }
    };
    Page(html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                title { (title) " · Quarry" }
                link rel="stylesheet" href=(assets::css_path());
                link rel="icon" href=(assets::icon_path()) type="image/svg+xml";
                script src=(assets::js_path()) defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/" {
                        img src=(assets::icon_path()) alt="" width="22" height="22";
                        span { "Quarry" }
                    }
                    nav aria-label="Main" {
                        (link(Nav::Feed, "/", "SOC feed"))
                        (link(Nav::Coverage, "/coverage", "Coverage"))
                        (link(Nav::Hunts, "/hunts", "Hunts"))
                        (link(Nav::Console, "/console", "Console"))
                    }
                }
                main id="main" { (body) }
                footer.foot {
                    "Quarry " (env!("CARGO_PKG_VERSION")) " · KQL hunting rules, run anywhere · "
                    a href="/api/health" { "API" }
                }
            }
        }
    })
}

pub fn error_page(status: StatusCode, message: &str) -> Page {
    let title = status.canonical_reason().unwrap_or("Error");
    layout(
        Nav::None,
        title,
        html! {
            section.panel.error-panel {
                h1 { (status.as_u16()) " · " (title) }
                p { (message) }
                p { a href="/" { "← Back to SOC feed" } }
            }
        },
    )
}

/// An error page response with its status.
pub fn error_response(status: StatusCode, message: &str) -> Response {
    (status, error_page(status, message)).into_response()
}

/// A badge for a severity.
pub fn severity_badge(s: Option<rules::Severity>) -> Markup {
    match s {
        Some(s) => {
            html! { span class={ "badge sev sev-" (s.as_str().to_ascii_lowercase()) } { (s.as_str().to_uppercase()) } }
        }
        None => html! { span.badge.sev.sev-none { "NO SEVERITY" } },
    }
}

/// A badge for whether the rule's data is present.
pub fn data_badge(p: crate::data::Presence) -> Markup {
    html! { span class={ "badge data data-" (p.as_str()) } title="Whether the tables this rule reads have rows in the data directory" { (p.label()) } }
}

pub fn validation_badge(v: crate::catalog::Validation) -> Markup {
    let label = match v {
        crate::catalog::Validation::Ok => "valid",
        crate::catalog::Validation::Warnings => "warnings",
        crate::catalog::Validation::Errors => "errors",
    };
    html! { span class={ "badge val val-" (v.as_str()) } { (label) } }
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The date part of an ISO timestamp (`2026-05-25T23:00:00Z` → `2026-05-25`).
pub fn day(ts: &str) -> &str {
    ts.get(..10).unwrap_or(ts)
}
