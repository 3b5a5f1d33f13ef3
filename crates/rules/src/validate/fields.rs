//! Required fields, identifiers and the schedule of analytic rules (Sentinel's own
//! template checks: period ≥ frequency, both within 5 minutes … 14 days).

use super::{Out, human};
use crate::diag::{Level, codes};
use crate::model::{Rule, RuleKind};

const MIN_PERIOD: i64 = 5 * 60;
const MAX_PERIOD: i64 = 14 * 86400;

pub(super) fn check(rule: &Rule, out: &mut Out<'_>) {
    let at = |f: &str| rule.field_position(f).or(rule.field_position("id"));
    if uuid::Uuid::try_parse(rule.id.trim()).is_err() {
        out.push(
            Level::Warning,
            codes::BAD_ID,
            format!("id `{}` is not a GUID (Sentinel requires one)", rule.id),
            at("id"),
        );
    }
    if rule.name.trim().is_empty() {
        out.push(Level::Error, codes::REQUIRED_FIELD, "the rule has no name", at("name"));
    }
    if rule.description.trim().is_empty() {
        out.push(
            Level::Warning,
            codes::REQUIRED_FIELD,
            "the rule has no description",
            at("description"),
        );
    }
    if rule.query.trim().is_empty() {
        out.push(
            Level::Error,
            codes::REQUIRED_FIELD,
            "the rule has no query",
            at("query"),
        );
    }
    if rule.tactics.is_empty() {
        out.push(
            Level::Warning,
            codes::REQUIRED_FIELD,
            "the rule maps to no ATT&CK tactic (`tactics`)",
            at("tactics"),
        );
    }
    if rule.required_data_connectors.is_empty() {
        let level = if rule.kind == RuleKind::Hunting {
            Level::Warning
        } else {
            Level::Error
        };
        out.push(
            level,
            codes::REQUIRED_FIELD,
            "the rule declares no data connector (`requiredDataConnectors`)",
            at("requiredDataConnectors"),
        );
    }
    for (i, c) in rule.required_data_connectors.iter().enumerate() {
        if c.data_types.is_empty() {
            out.push(
                Level::Warning,
                codes::REQUIRED_FIELD,
                format!("data connector `{}` lists no data types", c.connector_id),
                at(&format!("requiredDataConnectors[{i}]")),
            );
        }
    }
    for (i, fp) in rule.enrichment.false_positives.iter().enumerate() {
        if fp.exclusion.as_deref().is_none_or(|e| e.trim().is_empty()) {
            out.push(
                Level::Info,
                codes::EXCLUSION_MISSING,
                format!("false positive #{} has no filter/exclusion", i + 1),
                None,
            );
        }
    }
    if rule.kind == RuleKind::Hunting {
        return;
    }
    let kind = rule.kind.as_str();
    if rule.severity.is_none() {
        out.push(
            Level::Error,
            codes::REQUIRED_FIELD,
            format!("a {kind} rule needs `severity`"),
            at("severity"),
        );
    }
    let mut need = |present: bool, key: &str| {
        if !present {
            out.push(
                Level::Error,
                codes::REQUIRED_FIELD,
                format!("a {kind} rule needs `{key}`"),
                at(key),
            );
        }
    };
    if rule.kind == RuleKind::Scheduled {
        need(rule.query_frequency.is_some(), "queryFrequency");
        need(rule.query_period.is_some(), "queryPeriod");
        need(rule.trigger_operator.is_some(), "triggerOperator");
        need(rule.trigger_threshold.is_some(), "triggerThreshold");
    }
    for (key, p) in [
        ("queryFrequency", &rule.query_frequency),
        ("queryPeriod", &rule.query_period),
    ] {
        if let Some(p) = p
            && !(MIN_PERIOD..=MAX_PERIOD).contains(&p.seconds)
        {
            out.push(
                Level::Error,
                codes::SCHEDULE,
                format!("`{key}: {}` is outside Sentinel's range of 5m to 14d", p.text),
                at(key),
            );
        }
    }
    if let (Some(f), Some(p)) = (&rule.query_frequency, &rule.query_period)
        && p.seconds < f.seconds
    {
        out.push(
            Level::Error,
            codes::SCHEDULE,
            format!(
                "queryPeriod {} is shorter than queryFrequency {}: events between runs would never be seen",
                p.text, f.text
            ),
            at("queryPeriod"),
        );
    }
    if let Some(t) = rule.trigger_threshold
        && !(0..=10000).contains(&t)
    {
        out.push(
            Level::Error,
            codes::SCHEDULE,
            format!("triggerThreshold {t} is outside Sentinel's range 0…10000"),
            at("triggerThreshold"),
        );
    }
    let _ = human;
}
