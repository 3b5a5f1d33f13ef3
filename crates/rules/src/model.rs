//! The rule model: a Sentinel rule definition plus where it came from and what the feed
//! added to it (hypothesis, false-positive guidance, references).
//!
//! Field names follow the Azure-Sentinel YAML schema in snake case; every key of a source
//! file lands in a typed field, or verbatim in [`Rule::extra`] when Quarry does not know it.

use crate::position::{Position, TextMap};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// The rule's GUID as written in the file.
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// `status:` (e.g. `Available`), as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    pub kind: RuleKind,
    /// Sentinel tactic names as written (`CommandAndControl`).
    #[serde(default)]
    pub tactics: Vec<String>,
    /// `relevantTechniques`: technique and sub-technique ids as written (`T1219`, `T1078.004`).
    #[serde(default)]
    pub techniques: Vec<String>,
    /// `subTechniques` when a file lists them separately.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sub_techniques: Vec<String>,
    #[serde(default)]
    pub required_data_connectors: Vec<DataConnector>,
    pub query: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_frequency: Option<Period>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_period: Option<Period>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_operator: Option<TriggerOperator>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_threshold: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entity_mappings: Vec<EntityMapping>,
    /// `customDetails`: output name → column, in file order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_details: Vec<CustomDetail>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_grouping: Option<EventGrouping>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_details_override: Option<AlertDetailsOverride>,
    /// `incidentConfiguration`, kept as data (Quarry raises no incidents).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_configuration: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppression_duration: Option<Period>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppression_enabled: Option<bool>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `metadata` (source, author, support, categories), kept as data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
    /// Top-level keys Quarry has no field for, verbatim (and reported as a warning).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, serde_json::Value>,
    pub provenance: Provenance,
    #[serde(default)]
    pub enrichment: Enrichment,
    /// Where the fields are in the source file, for diagnostics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceInfo>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Severity {
    Informational,
    Low,
    Medium,
    High,
}

impl Severity {
    /// Sentinel's names, case-insensitively (feed pages print `MEDIUM`).
    pub fn parse(s: &str) -> Option<Severity> {
        match s.trim().to_ascii_lowercase().as_str() {
            "informational" | "info" => Some(Severity::Informational),
            "low" => Some(Severity::Low),
            "medium" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Informational => "Informational",
            Severity::Low => "Low",
            Severity::Medium => "Medium",
            Severity::High => "High",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Hunting query (no schedule) or analytic rule (`kind: Scheduled` / `NRT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RuleKind {
    Hunting,
    Scheduled,
    #[serde(rename = "NRT")]
    Nrt,
}

impl RuleKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::Hunting => "Hunting",
            RuleKind::Scheduled => "Scheduled",
            RuleKind::Nrt => "NRT",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataConnector {
    pub connector_id: String,
    #[serde(default)]
    pub data_types: Vec<String>,
}

/// A Sentinel period such as `1h`, `5d` or `01:00:00`: the text as written and its length.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub text: String,
    pub seconds: i64,
}

impl Period {
    /// Sentinel's forms: `<n>m`, `<n>h`, `<n>d`, or a .NET TimeSpan `[d.]hh:mm[:ss]`.
    pub fn parse(text: &str) -> Option<Period> {
        let t = text.trim();
        let seconds = if let Some((num, unit)) = t.char_indices().last().map(|(i, c)| (&t[..i], c))
            && unit.is_ascii_alphabetic()
        {
            let n: i64 = num.parse().ok()?;
            n.checked_mul(match unit {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                'd' => 86400,
                _ => return None,
            })?
        } else {
            let (days, clock) = match t.split_once('.') {
                Some((d, rest)) if rest.contains(':') && !d.contains(':') => (d.parse::<i64>().ok()?, rest),
                _ => (0, t),
            };
            let parts: Vec<i64> = clock.split(':').map(|p| p.parse().ok()).collect::<Option<_>>()?;
            let (h, m, s) = match parts.as_slice() {
                [h, m] => (*h, *m, 0),
                [h, m, s] => (*h, *m, *s),
                _ => return None,
            };
            days * 86400 + h * 3600 + m * 60 + s
        };
        (seconds >= 0).then(|| Period {
            text: text.to_string(),
            seconds,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TriggerOperator {
    GreaterThan,
    LessThan,
    Equal,
    NotEqual,
}

impl TriggerOperator {
    /// The spellings Sentinel accepts (`gt`, `GreaterThan`, …).
    pub fn parse(s: &str) -> Option<TriggerOperator> {
        Some(match s {
            "gt" | "GreaterThan" => TriggerOperator::GreaterThan,
            "lt" | "LessThan" => TriggerOperator::LessThan,
            "eq" | "Equal" => TriggerOperator::Equal,
            "ne" | "NotEqual" => TriggerOperator::NotEqual,
            _ => return None,
        })
    }

    pub fn short(self) -> &'static str {
        match self {
            TriggerOperator::GreaterThan => "gt",
            TriggerOperator::LessThan => "lt",
            TriggerOperator::Equal => "eq",
            TriggerOperator::NotEqual => "ne",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityMapping {
    pub entity_type: String,
    pub field_mappings: Vec<FieldMapping>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldMapping {
    pub identifier: String,
    pub column_name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomDetail {
    pub key: String,
    pub column: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventGrouping {
    /// `SingleAlert` or `AlertPerResult`.
    pub aggregation_kind: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertDetailsOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_display_name_format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_description_format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_tactics_column_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_severity_column_name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alert_dynamic_properties: Vec<AlertDynamicProperty>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertDynamicProperty {
    pub alert_property: String,
    pub value: String,
}

/// A tag: Sentinel uses plain strings and, in ASIM content, small mappings
/// (`{Schema: ASimDns, SchemaVersion: 0.1.6}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Tag {
    Text(String),
    Map(BTreeMap<String, String>),
}

/// The form a rule was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceFormat {
    /// An Azure-Sentinel YAML file.
    SentinelYaml,
    /// A SOC-feed rule page as rendered text.
    FeedPage,
    /// A SOC-feed page in its condensed text form (flattened indentation, no header).
    FeedPageCondensed,
    /// Generated by Quarry (a built-in pack).
    BuiltinPack,
}

impl SourceFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceFormat::SentinelYaml => "sentinel-yaml",
            SourceFormat::FeedPage => "feed-page",
            SourceFormat::FeedPageCondensed => "feed-page-condensed",
            SourceFormat::BuiltinPack => "builtin-pack",
        }
    }
}

/// Where a rule came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    pub format: SourceFormat,
    /// The file it was imported from (as given on the command line, made absolute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The repository the rule comes from (`Azure-Sentinel`, `Azure/Azure-Sentinel`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_repository: Option<String>,
    /// The rule's path inside that repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_url: Option<String>,
    /// When the feed retrieved it, as printed (`2026-05-25T23:00:00Z`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retrieved: Option<String>,
    /// The feed's confidence in its enrichment (`medium`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<String>,
    /// The feed's query-language badge (`kql`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// The feed's tag line, verbatim. The page renders its tag badges without separators
    /// (`huntingmicrosoftofficial`), so it cannot be split reliably.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feed_tags: Option<String>,
    /// The feed's note about AI enrichment, verbatim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disclaimer: Option<String>,
    /// The pack a built-in rule belongs to (`rmm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pack: Option<String>,
    /// Other files that defined the same rule and were merged into this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_from: Vec<String>,
    /// What read it: `quarry <version> <format>`.
    pub importer: String,
}

impl Provenance {
    pub fn new(format: SourceFormat) -> Self {
        Provenance {
            format,
            path: None,
            source_repository: None,
            source_path: None,
            source_url: None,
            retrieved: None,
            confidence: None,
            language: None,
            feed_tags: None,
            disclaimer: None,
            pack: None,
            also_from: Vec::new(),
            importer: format!("quarry {} {}", env!("CARGO_PKG_VERSION"), format.as_str()),
        }
    }
}

/// What a feed (or a pack) adds to the definition.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrichment {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hunt_hypothesis: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub false_positives: Vec<FalsePositive>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mitre_context: Option<String>,
}

/// A false-positive scenario and the filter that excludes it. The exclusion is text as the
/// feed wrote it: a KQL predicate when it is one (then the hunt applies it), otherwise prose
/// for the analyst (validation says which).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FalsePositive {
    pub scenario: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclusion: Option<String>,
}

/// Positions of a rule's parts in its source file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceInfo {
    pub path: String,
    /// Field (Sentinel key, e.g. `relevantTechniques[0]`) → where its value starts.
    #[serde(default)]
    pub fields: BTreeMap<String, Position>,
    /// Query byte offset → file position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_map: Option<TextMap>,
    /// For each false-positive entry (same index), exclusion byte offset → file position.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclusion_maps: Vec<Option<TextMap>>,
    /// The file the exclusion maps point into, when the false positives were merged in from
    /// another file than `path`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclusion_path: Option<String>,
}

impl Rule {
    /// A rule with only the required parts; importers and packs fill in the rest.
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        query: impl Into<String>,
        provenance: Provenance,
    ) -> Rule {
        Rule {
            id: id.into(),
            name: name.into(),
            description: String::new(),
            severity: None,
            status: None,
            kind: RuleKind::Hunting,
            tactics: Vec::new(),
            techniques: Vec::new(),
            sub_techniques: Vec::new(),
            required_data_connectors: Vec::new(),
            query: query.into(),
            query_frequency: None,
            query_period: None,
            trigger_operator: None,
            trigger_threshold: None,
            entity_mappings: Vec::new(),
            custom_details: Vec::new(),
            event_grouping: None,
            alert_details_override: None,
            incident_configuration: None,
            suppression_duration: None,
            suppression_enabled: None,
            tags: Vec::new(),
            version: None,
            metadata: None,
            extra: BTreeMap::new(),
            provenance,
            enrichment: Enrichment::default(),
            source: None,
        }
    }

    /// The tables the rule declares it reads (`dataTypes` of all connectors), deduplicated
    /// in order.
    pub fn data_types(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for c in &self.required_data_connectors {
            for t in &c.data_types {
                if !out.contains(&t.as_str()) {
                    out.push(t);
                }
            }
        }
        out
    }

    /// All technique ids: `relevantTechniques` and `subTechniques`.
    pub fn all_techniques(&self) -> impl Iterator<Item = &str> {
        self.techniques.iter().chain(&self.sub_techniques).map(String::as_str)
    }

    /// Where a field's value starts in the source file.
    pub fn field_position(&self, field: &str) -> Option<Position> {
        self.source.as_ref()?.fields.get(field).copied()
    }

    /// The file position of a byte offset into [`Rule::query`].
    pub fn query_position(&self, offset: usize) -> Option<Position> {
        self.source.as_ref()?.query_map.as_ref()?.locate(&self.query, offset)
    }

    /// The file positions of a byte span of [`Rule::query`] (as the KQL parser reports).
    pub fn query_span_positions(&self, span: std::ops::Range<usize>) -> Option<(Position, Position)> {
        self.source.as_ref()?.query_map.as_ref()?.locate_span(&self.query, span)
    }

    /// The file position of a byte offset into the exclusion of false positive `index`.
    pub fn exclusion_position(&self, index: usize, offset: usize) -> Option<Position> {
        let text = self.enrichment.false_positives.get(index)?.exclusion.as_deref()?;
        self.source
            .as_ref()?
            .exclusion_maps
            .get(index)?
            .as_ref()?
            .locate(text, offset)
    }

    /// Whether two rules have the same Sentinel definition (everything but provenance,
    /// enrichment, source positions and the severity a feed page adds).
    pub fn same_definition(&self, other: &Rule) -> bool {
        self.definition_differences(other).is_empty()
    }

    /// The Sentinel fields (serde names) whose values differ between two rules' definitions.
    pub fn definition_differences(&self, other: &Rule) -> Vec<String> {
        let strip = |r: &Rule| {
            let mut r = r.clone();
            r.provenance = Provenance::new(SourceFormat::SentinelYaml);
            r.enrichment = Enrichment::default();
            r.source = None;
            // Condensed pages flatten indentation and drop trailing blanks: compare the
            // text, not the layout.
            let squash = |s: &str| {
                s.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            r.query = squash(&r.query);
            r.description = squash(&r.description);
            r.severity = None;
            serde_json::to_value(&r).unwrap_or_default()
        };
        let (a, b) = (strip(self), strip(other));
        let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
            return vec!["<rule>".into()];
        };
        let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
        keys.sort();
        keys.dedup();
        keys.into_iter().filter(|k| a.get(*k) != b.get(*k)).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_in_sentinel_forms() {
        assert_eq!(Period::parse("1h").unwrap().seconds, 3600);
        assert_eq!(Period::parse("5d").unwrap().seconds, 5 * 86400);
        assert_eq!(Period::parse("30m").unwrap().seconds, 1800);
        assert_eq!(Period::parse("01:00:00").unwrap().seconds, 3600);
        assert_eq!(Period::parse("1.00:00:00").unwrap().seconds, 86400);
        assert!(Period::parse("soon").is_none());
        assert!(Period::parse("5w").is_none());
        assert!(Period::parse("").is_none());
    }

    #[test]
    fn severities_and_operators() {
        assert_eq!(Severity::parse("MEDIUM"), Some(Severity::Medium));
        assert_eq!(Severity::parse("critical"), None);
        assert_eq!(TriggerOperator::parse("gt"), Some(TriggerOperator::GreaterThan));
        assert_eq!(TriggerOperator::parse("NotEqual"), Some(TriggerOperator::NotEqual));
        assert_eq!(TriggerOperator::parse(">"), None);
    }
}
