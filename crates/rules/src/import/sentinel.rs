//! Azure-Sentinel rule YAML (hunting queries and scheduled/NRT analytic rules) → [`Rule`].

use super::Ctx;
use crate::diag::{Level, codes};
use crate::model::*;
use crate::yaml::{self, Node, NodeKind, Source};
use saphyr_parser::ScalarStyle;
use std::collections::BTreeMap;

/// Every top-level key of the Sentinel schemas that maps to a typed field.
pub(crate) const KNOWN_KEYS: &[&str] = &[
    "id",
    "name",
    "description",
    "severity",
    "status",
    "kind",
    "requiredDataConnectors",
    "queryFrequency",
    "queryPeriod",
    "triggerOperator",
    "triggerThreshold",
    "tactics",
    "relevantTechniques",
    "subTechniques",
    "query",
    "entityMappings",
    "customDetails",
    "eventGroupingSettings",
    "alertDetailsOverride",
    "incidentConfiguration",
    "suppressionDuration",
    "suppressionEnabled",
    "tags",
    "version",
    "metadata",
];

/// Reads a rule from a parsed document. `None` when it cannot be a rule (the reasons are
/// in `ctx` as errors).
pub(crate) fn rule_from_yaml(src: &Source<'_>, root: &Node, format: SourceFormat, ctx: &mut Ctx) -> Option<Rule> {
    let NodeKind::Map(entries) = &root.kind else {
        ctx.error(
            codes::UNKNOWN_FORMAT,
            format!("expected a mapping of rule fields, found {}", root.kind_name()),
            Some(src.position(root.start)),
        );
        return None;
    };
    let mut fields = BTreeMap::new();
    let mut seen: BTreeMap<&str, &Node> = BTreeMap::new();
    for (k, v) in entries {
        let Some(key) = k.as_str() else {
            ctx.warn(
                codes::BAD_FIELD,
                "a mapping key that is not text was ignored",
                Some(src.position(k.start)),
            );
            continue;
        };
        if seen.insert(key, v).is_some() {
            ctx.error(
                codes::BAD_FIELD,
                format!("`{key}` is defined twice"),
                Some(src.position(k.start)),
            );
        }
        fields.insert(key.to_string(), src.position(v.start));
    }
    let mut r = Reader { src, ctx, fields };

    let id = r.required_text(&seen, "id", root);
    let name = r.required_text(&seen, "name", root);
    let query_node = seen.get("query").copied();
    let query = r.required_text(&seen, "query", root);
    let (Some(id), Some(name), Some(query)) = (id, name, query) else {
        return None;
    };

    let mut rule = Rule::new(id, name, query, Provenance::new(format));
    if let Some(n) = seen.get("description") {
        rule.description = r.text(n, "description").unwrap_or_default();
    }
    if let Some(n) = seen.get("severity") {
        match r.text(n, "severity").map(|s| (Severity::parse(&s), s)) {
            Some((Some(sev), _)) => rule.severity = Some(sev),
            Some((None, s)) => {
                r.warn(
                    codes::BAD_FIELD,
                    format!(
                        "unknown severity `{s}` (Sentinel has Informational, Low, Medium, High); kept as an extra field"
                    ),
                    n,
                );
                rule.extra.insert("severity".into(), r.json(n));
            }
            None => {}
        }
    }
    rule.status = seen.get("status").and_then(|n| r.text(n, "status"));
    rule.tactics = seen
        .get("tactics")
        .map(|n| r.text_list(n, "tactics"))
        .unwrap_or_default();
    rule.techniques = seen
        .get("relevantTechniques")
        .map(|n| r.text_list(n, "relevantTechniques"))
        .unwrap_or_default();
    rule.sub_techniques = seen
        .get("subTechniques")
        .map(|n| r.text_list(n, "subTechniques"))
        .unwrap_or_default();
    if let Some(n) = seen.get("requiredDataConnectors") {
        rule.required_data_connectors = r.connectors(n);
    }
    for (key, slot) in [("queryFrequency", 0), ("queryPeriod", 1), ("suppressionDuration", 2)] {
        let Some(n) = seen.get(key) else { continue };
        let Some(text) = r.text(n, key) else { continue };
        match Period::parse(&text) {
            Some(p) => match slot {
                0 => rule.query_frequency = Some(p),
                1 => rule.query_period = Some(p),
                _ => rule.suppression_duration = Some(p),
            },
            None => {
                r.warn(codes::BAD_FIELD, format!("`{key}: {text}` is not a period (expected e.g. 5m, 1h, 14d or 01:00:00); kept as an extra field"), n);
                rule.extra.insert(key.into(), r.json(n));
            }
        }
    }
    if let Some(n) = seen.get("triggerOperator")
        && let Some(text) = r.text(n, "triggerOperator")
    {
        match TriggerOperator::parse(&text) {
            Some(op) => rule.trigger_operator = Some(op),
            None => {
                r.warn(
                    codes::BAD_FIELD,
                    format!("unknown trigger operator `{text}` (expected gt, lt, eq or ne); kept as an extra field"),
                    n,
                );
                rule.extra.insert("triggerOperator".into(), r.json(n));
            }
        }
    }
    if let Some(n) = seen.get("triggerThreshold") {
        match r.text(n, "triggerThreshold").map(|t| (t.trim().parse::<i64>(), t)) {
            Some((Ok(v), _)) => rule.trigger_threshold = Some(v),
            Some((Err(_), t)) => {
                r.warn(
                    codes::BAD_FIELD,
                    format!("`triggerThreshold: {t}` is not a whole number; kept as an extra field"),
                    n,
                );
                rule.extra.insert("triggerThreshold".into(), r.json(n));
            }
            None => {}
        }
    }
    if let Some(n) = seen.get("suppressionEnabled") {
        match n.as_str() {
            Some("true" | "True" | "TRUE") => rule.suppression_enabled = Some(true),
            Some("false" | "False" | "FALSE") => rule.suppression_enabled = Some(false),
            _ => {
                r.warn(
                    codes::BAD_FIELD,
                    "`suppressionEnabled` is not true or false; kept as an extra field",
                    n,
                );
                rule.extra.insert("suppressionEnabled".into(), r.json(n));
            }
        }
    }
    if let Some(n) = seen.get("entityMappings") {
        rule.entity_mappings = r.entity_mappings(n);
    }
    if let Some(n) = seen.get("customDetails") {
        rule.custom_details = r
            .string_map(n, "customDetails")
            .into_iter()
            .map(|(key, column)| CustomDetail { key, column })
            .collect();
    }
    if let Some(n) = seen.get("eventGroupingSettings") {
        let kind = n
            .get("aggregationKind")
            .and_then(|k| r.text(k, "eventGroupingSettings.aggregationKind"));
        match kind {
            Some(aggregation_kind) => rule.event_grouping = Some(EventGrouping { aggregation_kind }),
            None => r.warn(codes::BAD_FIELD, "`eventGroupingSettings` needs `aggregationKind`", n),
        }
        r.unknown_keys(n, "eventGroupingSettings", &["aggregationKind"]);
    }
    if let Some(n) = seen.get("alertDetailsOverride") {
        rule.alert_details_override = Some(r.alert_details(n));
    }
    if let Some(n) = seen.get("incidentConfiguration") {
        rule.incident_configuration = Some(r.json(n));
    }
    if let Some(n) = seen.get("tags") {
        rule.tags = r.tags(n);
    }
    rule.version = seen.get("version").and_then(|n| r.text(n, "version"));
    if let Some(n) = seen.get("metadata") {
        rule.metadata = Some(r.json(n));
    }
    rule.kind = match seen.get("kind").and_then(|n| r.text(n, "kind").map(|t| (t, *n))) {
        Some((t, _)) if t.eq_ignore_ascii_case("scheduled") => RuleKind::Scheduled,
        Some((t, _)) if t.eq_ignore_ascii_case("nrt") => RuleKind::Nrt,
        Some((t, n)) => {
            r.warn(
                codes::BAD_FIELD,
                format!("unknown rule kind `{t}` (Quarry knows Scheduled and NRT); kept as an extra field"),
                n,
            );
            rule.extra.insert("kind".into(), r.json(n));
            infer_kind(&rule)
        }
        None => infer_kind(&rule),
    };
    for (k, v) in entries {
        let Some(key) = k.as_str() else { continue };
        if !KNOWN_KEYS.contains(&key) {
            r.ctx.push(
                Level::Warning,
                codes::UNKNOWN_KEY,
                format!("unknown key `{key}`; kept verbatim"),
                Some(src.position(k.start)),
            );
            rule.extra.insert(key.to_string(), r.json(v));
        }
    }
    let query_map = query_node.and_then(|n| yaml::scalar_map(src, n));
    if query_map.is_none()
        && let Some(n) = query_node
    {
        r.ctx.push(
            Level::Info,
            codes::BAD_FIELD,
            "query positions inside this scalar could not be mapped exactly; diagnostics point at its start",
            Some(src.position(n.start)),
        );
    }
    rule.source = Some(SourceInfo {
        path: r.ctx.path.clone().unwrap_or_default(),
        fields: r.fields,
        query_map,
        exclusion_maps: Vec::new(),
        exclusion_path: None,
    });
    Some(rule)
}

/// Hunting queries have no schedule; a file with one is an analytic rule even without
/// `kind:` (older templates).
fn infer_kind(rule: &Rule) -> RuleKind {
    if rule.query_frequency.is_some() || rule.trigger_operator.is_some() || rule.trigger_threshold.is_some() {
        RuleKind::Scheduled
    } else {
        RuleKind::Hunting
    }
}

struct Reader<'s, 'c> {
    src: &'s Source<'s>,
    ctx: &'c mut Ctx,
    fields: BTreeMap<String, crate::position::Position>,
}

impl Reader<'_, '_> {
    fn warn(&mut self, code: &str, msg: impl Into<String>, node: &Node) {
        let at = self.src.position(node.start);
        self.ctx.push(Level::Warning, code, msg, Some(at));
    }

    fn required_text(&mut self, seen: &BTreeMap<&str, &Node>, key: &str, root: &Node) -> Option<String> {
        match seen.get(key) {
            None => {
                self.ctx.error(
                    codes::MISSING_FIELD,
                    format!("required field `{key}` is missing"),
                    Some(self.src.position(root.start)),
                );
                None
            }
            Some(n) if n.is_null() => {
                self.ctx.error(
                    codes::MISSING_FIELD,
                    format!("required field `{key}` is empty"),
                    Some(self.src.position(n.start)),
                );
                None
            }
            Some(n) => match self.text(n, key) {
                Some(t) if !t.trim().is_empty() => Some(t),
                Some(_) => {
                    self.ctx.error(
                        codes::MISSING_FIELD,
                        format!("required field `{key}` is empty"),
                        Some(self.src.position(n.start)),
                    );
                    None
                }
                None => {
                    self.ctx.error(
                        codes::BAD_FIELD,
                        format!("`{key}` must be text, found {}", n.kind_name()),
                        Some(self.src.position(n.start)),
                    );
                    None
                }
            },
        }
    }

    /// A scalar's text; other shapes are reported.
    fn text(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.kind {
            NodeKind::Scalar { .. } if node.is_null() => None,
            NodeKind::Scalar { value, .. } => Some(value.clone()),
            _ => {
                self.warn(
                    codes::BAD_FIELD,
                    format!("`{what}` must be text, found {}", node.kind_name()),
                    node,
                );
                None
            }
        }
    }

    /// A list of scalars, or one scalar (Sentinel files write `tactics: CommandAndControl`).
    fn text_list(&mut self, node: &Node, what: &str) -> Vec<String> {
        match &node.kind {
            NodeKind::Seq(items) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    if let Some(t) = self.text(item, what) {
                        self.fields
                            .insert(format!("{what}[{i}]"), self.src.position(item.start));
                        out.push(t);
                    }
                }
                out
            }
            NodeKind::Scalar { .. } if node.is_null() => Vec::new(),
            NodeKind::Scalar { value, .. } => {
                self.fields.insert(format!("{what}[0]"), self.src.position(node.start));
                vec![value.clone()]
            }
            _ => {
                self.warn(
                    codes::BAD_FIELD,
                    format!("`{what}` must be a list, found {}", node.kind_name()),
                    node,
                );
                Vec::new()
            }
        }
    }

    fn items<'n>(&mut self, node: &'n Node, what: &str) -> &'n [Node] {
        match &node.kind {
            NodeKind::Seq(items) => items,
            _ if node.is_null() => &[],
            _ => {
                self.warn(
                    codes::BAD_FIELD,
                    format!("`{what}` must be a list, found {}", node.kind_name()),
                    node,
                );
                &[]
            }
        }
    }

    fn unknown_keys(&mut self, node: &Node, what: &str, known: &[&str]) {
        if let NodeKind::Map(entries) = &node.kind {
            for (k, _) in entries {
                let key = k.as_str().unwrap_or("");
                if !known.contains(&key) {
                    let at = self.src.position(k.start);
                    self.ctx.push(
                        Level::Warning,
                        codes::UNKNOWN_KEY,
                        format!("unknown key `{key}` in `{what}` was ignored"),
                        Some(at),
                    );
                }
            }
        } else {
            self.warn(
                codes::BAD_FIELD,
                format!("`{what}` must be a mapping, found {}", node.kind_name()),
                node,
            );
        }
    }

    fn connectors(&mut self, node: &Node) -> Vec<DataConnector> {
        let mut out = Vec::new();
        for (i, item) in self.items(node, "requiredDataConnectors").iter().enumerate() {
            let connector_id = item.get("connectorId").and_then(|n| self.text(n, "connectorId"));
            let Some(connector_id) = connector_id else {
                self.warn(
                    codes::BAD_FIELD,
                    "a data connector without `connectorId` was ignored",
                    item,
                );
                continue;
            };
            let what = format!("requiredDataConnectors[{i}].dataTypes");
            let data_types = item
                .get("dataTypes")
                .map(|n| self.text_list(n, &what))
                .unwrap_or_default();
            self.unknown_keys(item, "requiredDataConnectors", &["connectorId", "dataTypes"]);
            out.push(DataConnector {
                connector_id,
                data_types,
            });
        }
        out
    }

    fn entity_mappings(&mut self, node: &Node) -> Vec<EntityMapping> {
        let mut out = Vec::new();
        for item in self.items(node, "entityMappings") {
            let Some(entity_type) = item.get("entityType").and_then(|n| self.text(n, "entityType")) else {
                self.warn(
                    codes::BAD_FIELD,
                    "an entity mapping without `entityType` was ignored",
                    item,
                );
                continue;
            };
            let mut field_mappings = Vec::new();
            if let Some(fm) = item.get("fieldMappings") {
                for f in self.items(fm, "fieldMappings") {
                    let identifier = f.get("identifier").and_then(|n| self.text(n, "identifier"));
                    let column_name = f.get("columnName").and_then(|n| self.text(n, "columnName"));
                    match (identifier, column_name) {
                        (Some(identifier), Some(column_name)) => field_mappings.push(FieldMapping {
                            identifier,
                            column_name,
                        }),
                        _ => self.warn(
                            codes::BAD_FIELD,
                            "a field mapping needs `identifier` and `columnName`; ignored",
                            f,
                        ),
                    }
                    self.unknown_keys(f, "fieldMappings", &["identifier", "columnName"]);
                }
            }
            self.unknown_keys(item, "entityMappings", &["entityType", "fieldMappings"]);
            out.push(EntityMapping {
                entity_type,
                field_mappings,
            });
        }
        out
    }

    fn string_map(&mut self, node: &Node, what: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        match &node.kind {
            NodeKind::Map(entries) => {
                for (k, v) in entries {
                    if let (Some(k), Some(v)) = (k.as_str().map(str::to_string), self.text(v, what)) {
                        out.push((k, v));
                    }
                }
            }
            _ if node.is_null() => {}
            _ => self.warn(
                codes::BAD_FIELD,
                format!("`{what}` must be a mapping, found {}", node.kind_name()),
                node,
            ),
        }
        out
    }

    fn alert_details(&mut self, node: &Node) -> AlertDetailsOverride {
        let mut get = |key: &str| node.get(key).and_then(|n| self.text(n, key));
        let mut a = AlertDetailsOverride {
            alert_display_name_format: get("alertDisplayNameFormat"),
            alert_description_format: get("alertDescriptionFormat"),
            alert_tactics_column_name: get("alertTacticsColumnName"),
            alert_severity_column_name: get("alertSeverityColumnName"),
            alert_dynamic_properties: Vec::new(),
        };
        if let Some(props) = node.get("alertDynamicProperties") {
            for p in self.items(props, "alertDynamicProperties") {
                let prop = p.get("alertProperty").and_then(|n| self.text(n, "alertProperty"));
                let value = p.get("value").and_then(|n| self.text(n, "value"));
                match (prop, value) {
                    (Some(alert_property), Some(value)) => a
                        .alert_dynamic_properties
                        .push(AlertDynamicProperty { alert_property, value }),
                    _ => self.warn(
                        codes::BAD_FIELD,
                        "an alert dynamic property needs `alertProperty` and `value`; ignored",
                        p,
                    ),
                }
            }
        }
        self.unknown_keys(
            node,
            "alertDetailsOverride",
            &[
                "alertDisplayNameFormat",
                "alertDescriptionFormat",
                "alertTacticsColumnName",
                "alertSeverityColumnName",
                "alertDynamicProperties",
            ],
        );
        a
    }

    fn tags(&mut self, node: &Node) -> Vec<Tag> {
        let mut out = Vec::new();
        let items: Vec<Node> = match &node.kind {
            NodeKind::Seq(items) => items.clone(),
            NodeKind::Scalar { .. } if !node.is_null() => vec![node.clone()],
            _ => Vec::new(),
        };
        for item in &items {
            match &item.kind {
                NodeKind::Scalar { value, .. } => out.push(Tag::Text(value.clone())),
                NodeKind::Map(_) => out.push(Tag::Map(self.string_map(item, "tags").into_iter().collect())),
                _ => self.warn(codes::BAD_FIELD, "a tag must be text or a mapping; ignored", item),
            }
        }
        out
    }

    fn json(&mut self, node: &Node) -> serde_json::Value {
        to_json(node, &mut |n| {
            let at = self.src.position(n.start);
            self.ctx.push(
                Level::Warning,
                codes::BAD_FIELD,
                "YAML aliases are not supported; read as null",
                Some(at),
            );
        })
    }
}

/// A node as JSON, resolving plain scalars with the YAML 1.2 core schema.
pub(crate) fn to_json(node: &Node, on_alias: &mut dyn FnMut(&Node)) -> serde_json::Value {
    use serde_json::Value;
    match &node.kind {
        NodeKind::Scalar {
            value,
            style: ScalarStyle::Plain,
            tagged: None,
        } => match value.as_str() {
            "" | "~" | "null" | "Null" | "NULL" => Value::Null,
            "true" | "True" | "TRUE" => Value::Bool(true),
            "false" | "False" | "FALSE" => Value::Bool(false),
            v => {
                if let Ok(i) = v.parse::<i64>() {
                    Value::from(i)
                } else if v.chars().any(|c| c.is_ascii_digit())
                    && v.bytes().all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
                    && let Ok(f) = v.parse::<f64>()
                {
                    serde_json::Number::from_f64(f)
                        .map(Value::Number)
                        .unwrap_or_else(|| Value::String(v.into()))
                } else {
                    Value::String(v.into())
                }
            }
        },
        NodeKind::Scalar { value, .. } => Value::String(value.clone()),
        NodeKind::Seq(items) => Value::Array(items.iter().map(|i| to_json(i, on_alias)).collect()),
        NodeKind::Map(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| {
                    let key = k
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| to_json(k, on_alias).to_string());
                    (key, to_json(v, on_alias))
                })
                .collect(),
        ),
        NodeKind::Alias => {
            on_alias(node);
            Value::Null
        }
    }
}
