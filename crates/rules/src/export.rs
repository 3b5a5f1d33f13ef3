//! A rule as Azure-Sentinel YAML (the definition only: feed enrichment and provenance are
//! not part of Sentinel's schema). Importing the output gives back the same definition.

use crate::model::*;
use std::fmt::Write;

/// The Sentinel YAML of a rule's definition.
pub fn to_sentinel_yaml(rule: &Rule) -> String {
    let mut y = String::new();
    kv(&mut y, 0, "id", &rule.id);
    kv(&mut y, 0, "name", &rule.name);
    kv(&mut y, 0, "description", &rule.description);
    if let Some(s) = rule.severity {
        kv(&mut y, 0, "severity", s.as_str());
    }
    if let Some(s) = &rule.status {
        kv(&mut y, 0, "status", s);
    }
    if !rule.required_data_connectors.is_empty() {
        y.push_str("requiredDataConnectors:\n");
        for c in &rule.required_data_connectors {
            y.push_str("  - ");
            kv(&mut y, 4, "connectorId", &c.connector_id);
            y.push_str("    dataTypes:\n");
            for t in &c.data_types {
                item(&mut y, 6, t);
            }
        }
    }
    for (k, p) in [
        ("queryFrequency", &rule.query_frequency),
        ("queryPeriod", &rule.query_period),
    ] {
        if let Some(p) = p {
            kv(&mut y, 0, k, &p.text);
        }
    }
    if let Some(op) = rule.trigger_operator {
        kv(&mut y, 0, "triggerOperator", op.short());
    }
    if let Some(t) = rule.trigger_threshold {
        let _ = writeln!(y, "triggerThreshold: {t}");
    }
    list(&mut y, "tactics", &rule.tactics);
    list(&mut y, "relevantTechniques", &rule.techniques);
    if !rule.sub_techniques.is_empty() {
        list(&mut y, "subTechniques", &rule.sub_techniques);
    }
    kv(&mut y, 0, "query", &rule.query);
    if !rule.entity_mappings.is_empty() {
        y.push_str("entityMappings:\n");
        for m in &rule.entity_mappings {
            y.push_str("  - ");
            kv(&mut y, 4, "entityType", &m.entity_type);
            y.push_str("    fieldMappings:\n");
            for f in &m.field_mappings {
                y.push_str("      - ");
                kv(&mut y, 8, "identifier", &f.identifier);
                y.push_str("        ");
                kv(&mut y, 8, "columnName", &f.column_name);
            }
        }
    }
    if !rule.custom_details.is_empty() {
        y.push_str("customDetails:\n");
        for d in &rule.custom_details {
            y.push_str("  ");
            kv(&mut y, 2, &d.key, &d.column);
        }
    }
    if let Some(g) = &rule.event_grouping {
        y.push_str("eventGroupingSettings:\n  ");
        kv(&mut y, 2, "aggregationKind", &g.aggregation_kind);
    }
    if let Some(a) = &rule.alert_details_override {
        y.push_str("alertDetailsOverride:\n");
        for (k, v) in [
            ("alertDisplayNameFormat", &a.alert_display_name_format),
            ("alertDescriptionFormat", &a.alert_description_format),
            ("alertTacticsColumnName", &a.alert_tactics_column_name),
            ("alertSeverityColumnName", &a.alert_severity_column_name),
        ] {
            if let Some(v) = v {
                y.push_str("  ");
                kv(&mut y, 2, k, v);
            }
        }
        if !a.alert_dynamic_properties.is_empty() {
            y.push_str("  alertDynamicProperties:\n");
            for p in &a.alert_dynamic_properties {
                y.push_str("    - ");
                kv(&mut y, 6, "alertProperty", &p.alert_property);
                y.push_str("      ");
                kv(&mut y, 6, "value", &p.value);
            }
        }
    }
    if let Some(v) = &rule.incident_configuration {
        let _ = writeln!(y, "incidentConfiguration: {v}");
    }
    if let Some(p) = &rule.suppression_duration {
        kv(&mut y, 0, "suppressionDuration", &p.text);
    }
    if let Some(b) = rule.suppression_enabled {
        let _ = writeln!(y, "suppressionEnabled: {b}");
    }
    if !rule.tags.is_empty() {
        y.push_str("tags:\n");
        for t in &rule.tags {
            match t {
                Tag::Text(s) => item(&mut y, 2, s),
                // JSON is YAML's flow style.
                Tag::Map(m) => {
                    let _ = writeln!(y, "  - {}", serde_json::to_string(m).unwrap_or_default());
                }
            }
        }
    }
    if let Some(v) = &rule.version {
        kv(&mut y, 0, "version", v);
    }
    match rule.kind {
        RuleKind::Hunting => {}
        k => kv(&mut y, 0, "kind", k.as_str()),
    }
    if let Some(m) = &rule.metadata {
        let _ = writeln!(y, "metadata: {m}");
    }
    for (k, v) in &rule.extra {
        let _ = writeln!(y, "{}: {v}", scalar_inline(k));
    }
    y
}

fn list(y: &mut String, key: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(y, "{key}:");
    for i in items {
        item(y, 2, i);
    }
}

fn item(y: &mut String, indent: usize, value: &str) {
    let _ = writeln!(y, "{:indent$}- {}", "", scalar_inline(value));
}

/// `key: value` where the cursor is already at `indent` columns; multi-line values become
/// literal blocks indented two more.
fn kv(y: &mut String, indent: usize, key: &str, value: &str) {
    if value.contains('\n') {
        let body = value.trim_end_matches('\n');
        let trailing = value.len() - body.len();
        let chomp = match trailing {
            0 => "-",
            1 => "",
            _ => "+",
        };
        // An explicit indentation indicator when the first line starts with a space.
        let ind = if body.starts_with(' ') { "2" } else { "" };
        let _ = writeln!(y, "{key}: |{ind}{chomp}");
        for line in body.split('\n') {
            if line.is_empty() {
                y.push('\n');
            } else {
                let _ = writeln!(y, "{:w$}{line}", "", w = indent + 2);
            }
        }
        for _ in 1..trailing {
            y.push('\n');
        }
    } else {
        let _ = writeln!(y, "{key}: {}", scalar_inline(value));
    }
}

/// A one-line scalar: plain when that reads back as the same string, else double-quoted
/// (a JSON string is a valid YAML double-quoted scalar).
fn scalar_inline(s: &str) -> String {
    let plain_ok = !s.is_empty()
        && s.chars().all(|c| c.is_alphanumeric() || " _./()@,-+'&".contains(c))
        && !s.starts_with([' ', '-', '\'', '&', '@', ','])
        && !s.ends_with(' ')
        && !matches!(
            s,
            "true" | "false" | "True" | "False" | "TRUE" | "FALSE" | "null" | "Null" | "NULL" | "~" | "yes" | "no"
        )
        && s.parse::<f64>().is_err();
    if plain_ok {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::import_text;

    #[test]
    fn exported_yaml_imports_to_the_same_definition() {
        for rule in crate::packs::rmm().into_iter().take(20) {
            let yaml = to_sentinel_yaml(&rule);
            let back = import_text("export.yaml", &yaml);
            let got = back.rule.unwrap_or_else(|| panic!("{:?}\n{yaml}", back.diagnostics));
            assert!(rule.same_definition(&got), "{yaml}");
            assert_eq!(got.query, rule.query);
            assert_eq!(got.description, rule.description);
        }
    }

    #[test]
    fn awkward_scalars_survive() {
        let mut r = crate::packs::rmm().remove(0);
        r.name = "1.0".into();
        r.description = "  leading spaces\nkeep\n\n".into();
        r.query = "T | where a == \"x: y\" # not a comment".into();
        r.version = Some("yes".into());
        r.kind = RuleKind::Scheduled;
        r.query_frequency = Period::parse("1h");
        r.query_period = Period::parse("1d");
        r.trigger_operator = Some(TriggerOperator::GreaterThan);
        r.trigger_threshold = Some(0);
        r.custom_details = vec![CustomDetail {
            key: "Tool".into(),
            column: "RMM_Tool".into(),
        }];
        r.tags = vec![
            Tag::Text("true".into()),
            Tag::Map([("Schema".to_string(), "ASimDns".to_string())].into()),
        ];
        let yaml = to_sentinel_yaml(&r);
        let back = import_text("x.yaml", &yaml).rule.unwrap_or_else(|| panic!("{yaml}"));
        assert_eq!(back.name, "1.0");
        assert_eq!(back.description, r.description);
        assert_eq!(back.query, r.query);
        assert_eq!(back.version.as_deref(), Some("yes"));
        assert_eq!(back.tags, r.tags);
        assert!(r.same_definition(&back), "{yaml}");
    }
}
