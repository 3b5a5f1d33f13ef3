//! Turning a rule's result rows into findings: rows about the same entities (and with the
//! same suppression) form one finding, whose time window covers theirs.

use crate::entities::Entities;
use crate::exclusions::ExclusionPlan;
use crate::report::{Finding, ResultColumn, Suppression, TriageStatus, WindowSource};
use rules::Rule;
use schema::KqlType;
use schema::values::{NANOS_PER_SECOND, format_datetime, parse_datetime};
use serde_json::{Map, Value as Json};
use std::collections::HashMap;
use std::sync::Arc;

/// Column pairs that give a row's activity window, in order of preference (compared
/// case-insensitively; both must be datetimes).
const WINDOW_PAIRS: &[(&str, &str)] = &[
    ("FirstSeen", "LastSeen"),
    ("StartTime", "EndTime"),
    ("FirstTime", "LastTime"),
    ("FirstTimestamp", "LastTimestamp"),
    ("min_Timestamp", "max_Timestamp"),
    ("min_TimeGenerated", "max_TimeGenerated"),
];
/// Single time columns: the row is one event.
const TIME_COLUMNS: &[&str] = &["Timestamp", "TimeGenerated"];

/// Column names and KQL types of a result, shared by its rows.
pub type Columns = Arc<Vec<(String, KqlType)>>;

/// One result row of a rule.
#[derive(Clone, Debug)]
pub struct ResultRow {
    pub columns: Columns,
    pub values: Map<String, Json>,
    /// Index of the false positive whose exclusion suppressed it.
    pub suppressed_by: Option<usize>,
}

/// Where a row's window comes from, resolved once per result table.
#[derive(Clone, Debug)]
enum WindowColumns {
    Pair(String, String),
    Single(String),
    None,
}

fn window_columns(columns: &[(String, KqlType)]) -> WindowColumns {
    let find = |name: &str| {
        columns
            .iter()
            .find(|(n, t)| n.eq_ignore_ascii_case(name) && *t == KqlType::DateTime)
            .map(|(n, _)| n.clone())
    };
    for (a, b) in WINDOW_PAIRS {
        if let (Some(a), Some(b)) = (find(a), find(b)) {
            return WindowColumns::Pair(a, b);
        }
    }
    for c in TIME_COLUMNS {
        if let Some(c) = find(c) {
            return WindowColumns::Single(c);
        }
    }
    WindowColumns::None
}

fn time_of(row: &Map<String, Json>, column: &str) -> Option<i64> {
    row.get(column).and_then(Json::as_str).and_then(parse_datetime)
}

/// The hunt-level window for rows without time: `[now - lookback, now]`, or from the
/// epoch when the rule has no look-back (so that every run of it overlaps).
pub fn query_window(now: i64, lookback_secs: Option<i64>) -> (i64, i64) {
    match lookback_secs {
        Some(s) => (now.saturating_sub(s.saturating_mul(NANOS_PER_SECOND)), now),
        None => (0, now),
    }
}

struct Group {
    finding: Finding,
    first: i64,
    last: i64,
    window: WindowSource,
}

/// Groups rows into findings, in order of first appearance.
pub fn build(rule: &Rule, rows: Vec<ResultRow>, plans: &[ExclusionPlan], query_window: (i64, i64)) -> Vec<Finding> {
    let mut groups: Vec<Group> = Vec::new();
    let mut index: HashMap<(Option<usize>, String), usize> = HashMap::new();
    let mut window_cache: Option<(Columns, WindowColumns)> = None;
    for row in rows {
        let wc = match &window_cache {
            Some((cols, wc)) if Arc::ptr_eq(cols, &row.columns) => wc.clone(),
            _ => {
                let wc = window_columns(&row.columns);
                window_cache = Some((row.columns.clone(), wc.clone()));
                wc
            }
        };
        let span = match &wc {
            WindowColumns::Pair(a, b) => match (time_of(&row.values, a), time_of(&row.values, b)) {
                (Some(x), Some(y)) => Some((x.min(y), x.max(y))),
                (Some(x), None) | (None, Some(x)) => Some((x, x)),
                (None, None) => None,
            },
            WindowColumns::Single(c) => time_of(&row.values, c).map(|t| (t, t)),
            WindowColumns::None => None,
        };
        let (window, (first, last)) = match span {
            Some(s) => (WindowSource::Rows, s),
            None => (WindowSource::Query, query_window),
        };
        let entities = Entities::of_row(&row.values, &rule.entity_mappings);
        let key = (row.suppressed_by, entities.key());
        match index.get(&key) {
            Some(&i) => {
                let g = &mut groups[i];
                g.finding.entities.merge(&entities);
                g.finding.rows.push(row.values);
                g.first = g.first.min(first);
                g.last = g.last.max(last);
                if window == WindowSource::Rows {
                    g.window = WindowSource::Rows;
                }
            }
            None => {
                let suppressed = row.suppressed_by.and_then(|i| {
                    plans.iter().find(|p| p.index == i).map(|p| Suppression {
                        index: i,
                        scenario: p.scenario.clone(),
                        exclusion: p.exclusion.clone(),
                    })
                });
                let columns = row
                    .columns
                    .iter()
                    .map(|(n, t)| ResultColumn {
                        name: n.clone(),
                        kql_type: t.name().to_string(),
                    })
                    .collect();
                index.insert(key.clone(), groups.len());
                groups.push(Group {
                    finding: Finding {
                        id: None,
                        is_new: true,
                        status: TriageStatus::New,
                        rule_id: rule.id.clone(),
                        rule_name: rule.name.clone(),
                        severity: rule.severity,
                        tactics: rule.tactics.clone(),
                        techniques: rule.all_techniques().map(str::to_string).collect(),
                        entity_key: key.1,
                        entities,
                        first_seen: String::new(),
                        last_seen: String::new(),
                        window,
                        suppressed,
                        columns,
                        rows: vec![row.values],
                    },
                    first,
                    last,
                    window,
                });
            }
        }
    }
    groups
        .into_iter()
        .map(|mut g| {
            g.finding.first_seen = format_datetime(g.first);
            g.finding.last_seen = format_datetime(g.last);
            g.finding.window = g.window;
            g.finding
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rules::{Provenance, SourceFormat};
    use serde_json::json;

    fn row(cols: &Arc<Vec<(String, KqlType)>>, v: Json, suppressed_by: Option<usize>) -> ResultRow {
        ResultRow {
            columns: cols.clone(),
            values: v.as_object().cloned().unwrap_or_default(),
            suppressed_by,
        }
    }

    #[test]
    fn rows_group_by_entities_and_windows_cover_them() {
        let rule = Rule::new("r", "R", "T", Provenance::new(SourceFormat::BuiltinPack));
        let cols = Arc::new(vec![
            ("DeviceName".to_string(), KqlType::String),
            ("FirstSeen".to_string(), KqlType::DateTime),
            ("LastSeen".to_string(), KqlType::DateTime),
            ("Signer".to_string(), KqlType::String),
        ]);
        let rows = vec![
            row(
                &cols,
                json!({"DeviceName": "a", "FirstSeen": "2024-05-02T00:00:00Z", "LastSeen": "2024-05-03T00:00:00Z", "Signer": "x"}),
                None,
            ),
            row(
                &cols,
                json!({"DeviceName": "b", "FirstSeen": "2024-05-01T00:00:00Z", "LastSeen": "2024-05-01T00:00:00Z", "Signer": "x"}),
                None,
            ),
            row(
                &cols,
                json!({"DeviceName": "A", "FirstSeen": "2024-05-01T00:00:00Z", "LastSeen": "2024-05-02T00:00:00Z", "Signer": "y"}),
                None,
            ),
            row(
                &cols,
                json!({"DeviceName": "a", "FirstSeen": "2024-05-01T00:00:00Z", "LastSeen": "2024-05-02T00:00:00Z", "Signer": "y"}),
                Some(0),
            ),
        ];
        let f = build(&rule, rows, &[], (0, 0));
        assert_eq!(f.len(), 3);
        assert_eq!(f[0].rows.len(), 2);
        assert_eq!(f[0].first_seen, "2024-05-01T00:00:00Z");
        assert_eq!(f[0].last_seen, "2024-05-03T00:00:00Z");
        assert_eq!(f[0].window, WindowSource::Rows);
        assert_eq!(f[1].entity_key, "device=b");
        assert!(f[2].suppressed.is_none(), "no plan with index 0 was given");
    }

    #[test]
    fn rows_without_time_take_the_query_window() {
        let rule = Rule::new("r", "R", "T", Provenance::new(SourceFormat::BuiltinPack));
        let cols = Arc::new(vec![("count_".to_string(), KqlType::Long)]);
        let now = parse_datetime("2024-05-06T00:00:00Z").unwrap_or_default();
        let f = build(
            &rule,
            vec![row(&cols, json!({"count_": 3}), None)],
            &[],
            query_window(now, Some(86400)),
        );
        assert_eq!(f[0].window, WindowSource::Query);
        assert_eq!(f[0].first_seen, "2024-05-05T00:00:00Z");
        assert_eq!(f[0].last_seen, "2024-05-06T00:00:00Z");
        assert_eq!(f[0].entity_key, "");
    }
}
