//! The feed's search and filters, shared by the HTML page and `GET /api/rules`.

use crate::catalog::{Entry, Snapshot, Validation};
use crate::data::{Presence, Rows};
use rules::{Attack, RuleFilter, Severity};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Rules per page unless the request asks otherwise.
pub const DEFAULT_PER_PAGE: usize = 50;
pub const MAX_PER_PAGE: usize = 500;

/// The query string of the feed (`/?q=action1&severity=medium&data=present`). Empty
/// values mean "no filter", as an HTML form submits them.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct FeedParams {
    pub q: Option<String>,
    pub tactic: Option<String>,
    pub technique: Option<String>,
    pub severity: Option<String>,
    pub table: Option<String>,
    pub source: Option<String>,
    /// Validation status: `ok`, `warnings`, `errors`.
    pub status: Option<String>,
    /// Whether the data the rule needs is present: `present`, `partial`, `missing`, `unknown`.
    pub data: Option<String>,
    /// `enabled` or `disabled` (`quarry rules enable|disable`).
    pub state: Option<String>,
    pub page: Option<String>,
    pub per_page: Option<String>,
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Parsed, checked filters.
#[derive(Clone, Debug, Default)]
pub struct Filters {
    pub q: Option<String>,
    pub rule: RuleFilter,
    pub status: Option<Validation>,
    pub data: Option<Presence>,
    pub page: usize,
    pub per_page: usize,
}

/// A filter value the feed does not understand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadParam {
    pub param: &'static str,
    pub message: String,
}

impl FeedParams {
    pub fn parse(&self) -> Result<Filters, BadParam> {
        let severity = match given(&self.severity) {
            None => None,
            Some(s) => Some(Severity::parse(s).ok_or_else(|| BadParam {
                param: "severity",
                message: format!("unknown severity `{s}` (expected informational, low, medium or high)"),
            })?),
        };
        let status = match given(&self.status) {
            None => None,
            Some(s) => Some(Validation::parse(s).ok_or_else(|| BadParam {
                param: "status",
                message: format!("unknown status `{s}` (expected ok, warnings or errors)"),
            })?),
        };
        let data = match given(&self.data) {
            None => None,
            Some(s) => Some(Presence::parse(s).ok_or_else(|| BadParam {
                param: "data",
                message: format!("unknown data filter `{s}` (expected present, partial, missing or unknown)"),
            })?),
        };
        let enabled = match given(&self.state) {
            None => None,
            Some(s) if s.eq_ignore_ascii_case("enabled") => Some(true),
            Some(s) if s.eq_ignore_ascii_case("disabled") => Some(false),
            Some(s) => {
                return Err(BadParam {
                    param: "state",
                    message: format!("unknown state `{s}` (expected enabled or disabled)"),
                });
            }
        };
        if let Some(t) = given(&self.tactic)
            && Attack::get().tactic(t).or(Attack::get().tactic_loose(t)).is_none()
        {
            return Err(BadParam {
                param: "tactic",
                message: format!("unknown tactic `{t}`"),
            });
        }
        let number = |v: &Option<String>, name: &'static str, default: usize| -> Result<usize, BadParam> {
            match given(v) {
                None => Ok(default),
                Some(s) => s.parse::<usize>().ok().filter(|n| *n >= 1).ok_or_else(|| BadParam {
                    param: name,
                    message: format!("`{name}` must be a positive whole number, not `{s}`"),
                }),
            }
        };
        Ok(Filters {
            q: given(&self.q).map(str::to_string),
            rule: RuleFilter {
                tactic: given(&self.tactic).map(str::to_string),
                technique: given(&self.technique).map(str::to_string),
                severity,
                table: given(&self.table).map(str::to_string),
                source: given(&self.source).map(str::to_string),
                enabled,
            },
            status,
            data,
            page: number(&self.page, "page", 1)?,
            per_page: number(&self.per_page, "per_page", DEFAULT_PER_PAGE)?.min(MAX_PER_PAGE),
        })
    }

    /// The query string for the same filters on another page.
    pub fn with_page(&self, page: usize) -> String {
        let mut p = self.clone();
        p.page = (page > 1).then(|| page.to_string());
        p.to_query()
    }

    pub fn to_query(&self) -> String {
        let mut parts = Vec::new();
        for (k, v) in [
            ("q", &self.q),
            ("tactic", &self.tactic),
            ("technique", &self.technique),
            ("severity", &self.severity),
            ("table", &self.table),
            ("source", &self.source),
            ("status", &self.status),
            ("data", &self.data),
            ("state", &self.state),
            ("page", &self.page),
            ("per_page", &self.per_page),
        ] {
            if let Some(v) = given(v) {
                parts.push(format!("{k}={}", encode(v)));
            }
        }
        parts.join("&")
    }

    pub fn is_filtered(&self) -> bool {
        [
            &self.q,
            &self.tactic,
            &self.technique,
            &self.severity,
            &self.table,
            &self.source,
            &self.status,
            &self.data,
            &self.state,
        ]
        .iter()
        .any(|v| given(v).is_some())
    }
}

/// Percent-encodes a query-string value (everything but unreserved characters).
pub fn encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The rules on one page of a filtered feed.
pub struct FeedPage {
    pub total: usize,
    pub page: usize,
    pub pages: usize,
    pub per_page: usize,
    pub entries: Vec<(Arc<Entry>, Presence)>,
}

pub fn filter(snapshot: &Snapshot, rows: &Rows, f: &Filters) -> FeedPage {
    let matching: Vec<(Arc<Entry>, Presence)> = snapshot
        .entries
        .iter()
        .filter(|e| f.rule.matches_stored(&e.stored))
        .filter(|e| f.q.as_deref().is_none_or(|q| e.matches_text(q)))
        .filter(|e| f.status.is_none_or(|s| e.validation == s))
        .map(|e| (e.clone(), rows.presence(&e.tables)))
        .filter(|(_, p)| f.data.is_none_or(|d| *p == d))
        .collect();
    let total = matching.len();
    let pages = total.div_ceil(f.per_page).max(1);
    let page = f.page.min(pages);
    let entries = matching
        .into_iter()
        .skip((page - 1) * f.per_page)
        .take(f.per_page)
        .collect();
    FeedPage {
        total,
        page,
        pages,
        per_page: f.per_page,
        entries,
    }
}

/// The values each filter can take, with how many rules have each.
#[derive(Debug, Default, Serialize)]
pub struct Facets {
    pub tactics: Vec<Facet>,
    pub techniques: Vec<Facet>,
    pub severities: Vec<Facet>,
    pub tables: Vec<Facet>,
    pub sources: Vec<Facet>,
    pub statuses: Vec<Facet>,
    pub data: Vec<Facet>,
    pub states: Vec<Facet>,
}

#[derive(Debug, Serialize, Clone, PartialEq, Eq)]
pub struct Facet {
    pub value: String,
    pub label: String,
    pub count: usize,
}

pub fn facets(snapshot: &Snapshot, rows: &Rows) -> Facets {
    let mut tactics: BTreeMap<String, usize> = BTreeMap::new();
    let mut techniques: BTreeMap<String, usize> = BTreeMap::new();
    let mut severities: BTreeMap<Severity, usize> = BTreeMap::new();
    let mut tables: BTreeMap<String, usize> = BTreeMap::new();
    let mut sources: BTreeMap<String, usize> = BTreeMap::new();
    let mut statuses: BTreeMap<Validation, usize> = BTreeMap::new();
    let mut data: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut states: BTreeMap<&'static str, usize> = BTreeMap::new();
    for e in &snapshot.entries {
        *states
            .entry(if e.stored.enabled { "enabled" } else { "disabled" })
            .or_default() += 1;
        let r = e.rule();
        for t in &r.tactics {
            *tactics.entry(t.clone()).or_default() += 1;
        }
        for t in r.all_techniques() {
            *techniques.entry(t.to_ascii_uppercase()).or_default() += 1;
        }
        if let Some(s) = r.severity {
            *severities.entry(s).or_default() += 1;
        }
        for t in &e.tables {
            *tables.entry(t.clone()).or_default() += 1;
        }
        *sources.entry(e.source.clone()).or_default() += 1;
        *statuses.entry(e.validation).or_default() += 1;
        *data.entry(rows.presence(&e.tables).as_str()).or_default() += 1;
    }
    let attack = Attack::get();
    // Tactics in matrix order, then any the catalog does not know.
    let mut tactic_facets: Vec<Facet> = Vec::new();
    for t in attack.tactics() {
        if let Some(n) = tactics.remove(&t.sentinel_name) {
            tactic_facets.push(Facet {
                value: t.sentinel_name.clone(),
                label: t.name.clone(),
                count: n,
            });
        }
    }
    tactic_facets.extend(tactics.into_iter().map(|(k, n)| Facet {
        label: k.clone(),
        value: k,
        count: n,
    }));
    let plain = |m: BTreeMap<String, usize>| -> Vec<Facet> {
        m.into_iter()
            .map(|(k, n)| Facet {
                label: k.clone(),
                value: k,
                count: n,
            })
            .collect()
    };
    Facets {
        tactics: tactic_facets,
        techniques: techniques
            .into_iter()
            .map(|(k, n)| Facet {
                label: match attack.technique(&k) {
                    Some(t) => format!("{k} {}", t.name),
                    None => k.clone(),
                },
                value: k,
                count: n,
            })
            .collect(),
        severities: severities
            .into_iter()
            .rev()
            .map(|(s, n)| Facet {
                value: s.as_str().to_ascii_lowercase(),
                label: s.as_str().to_string(),
                count: n,
            })
            .collect(),
        tables: plain(tables),
        sources: plain(sources),
        statuses: statuses
            .into_iter()
            .map(|(s, n)| Facet {
                value: s.as_str().into(),
                label: s.as_str().into(),
                count: n,
            })
            .collect(),
        data: [
            Presence::Present,
            Presence::Partial,
            Presence::Missing,
            Presence::Unknown,
        ]
        .into_iter()
        .filter_map(|p| {
            data.get(p.as_str()).map(|n| Facet {
                value: p.as_str().into(),
                label: p.label().into(),
                count: *n,
            })
        })
        .collect(),
        states: states
            .into_iter()
            .map(|(k, n)| Facet {
                value: k.to_string(),
                label: if k == "enabled" {
                    "Enabled".into()
                } else {
                    "Disabled".into()
                },
                count: n,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_params_are_named() {
        let p = FeedParams {
            severity: Some("critical".into()),
            ..Default::default()
        };
        assert_eq!(p.parse().unwrap_err().param, "severity");
        let p = FeedParams {
            page: Some("0".into()),
            ..Default::default()
        };
        assert_eq!(p.parse().unwrap_err().param, "page");
        let p = FeedParams {
            tactic: Some("Nope".into()),
            ..Default::default()
        };
        assert_eq!(p.parse().unwrap_err().param, "tactic");
        let p = FeedParams {
            q: Some("  ".into()),
            severity: Some("".into()),
            tactic: Some("command and control".into()),
            ..Default::default()
        };
        let f = p.parse().unwrap();
        assert!(f.q.is_none() && f.rule.severity.is_none());
    }

    #[test]
    fn query_strings_round_trip_encoding() {
        let p = FeedParams {
            q: Some("a b&c=<d>".into()),
            severity: Some("high".into()),
            ..Default::default()
        };
        assert_eq!(p.to_query(), "q=a%20b%26c%3D%3Cd%3E&severity=high");
        assert_eq!(p.with_page(3), "q=a%20b%26c%3D%3Cd%3E&severity=high&page=3");
    }
}
