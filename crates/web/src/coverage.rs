//! ATT&CK coverage: how many rules cover each technique, split into rules that can run
//! (their tables have rows) and rules that cannot, laid out as the Enterprise matrix, and
//! exported as an ATT&CK Navigator layer.

use crate::catalog::{Entry, Snapshot};
use crate::data::{Presence, Rows};
use rules::Attack;
use rules::attack::Technique;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The rules covering one technique in one tactic.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Cell {
    /// Rule ids whose tables all have rows.
    pub runnable: Vec<String>,
    /// Rule ids missing some or all of their data (or naming no table).
    pub cannot_run: Vec<String>,
}

impl Cell {
    pub fn total(&self) -> usize {
        self.runnable.len() + self.cannot_run.len()
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct TechniqueRow {
    pub id: String,
    pub name: String,
    pub url: String,
    pub cell: Cell,
    pub subtechniques: Vec<TechniqueRow>,
}

impl TechniqueRow {
    /// Rules on the technique or any of its sub-techniques.
    pub fn total_with_subs(&self) -> usize {
        self.cell.total() + self.subtechniques.iter().map(|s| s.cell.total()).sum::<usize>()
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct TacticColumn {
    pub id: String,
    pub shortname: String,
    pub name: String,
    pub sentinel_name: String,
    pub techniques: Vec<TechniqueRow>,
    /// Techniques (not sub-techniques) of this tactic with at least one rule.
    pub covered: usize,
}

/// The whole matrix plus totals.
#[derive(Clone, Debug, Serialize)]
pub struct Coverage {
    pub tactics: Vec<TacticColumn>,
    /// Enabled rules (the ones coverage counts).
    pub rules: usize,
    /// Rules in the store that are disabled and therefore not counted.
    pub rules_disabled: usize,
    pub rules_mapped: usize,
    pub techniques_covered: usize,
    pub techniques_runnable: usize,
    /// Technique ids rules name that ATT&CK v18.1 does not have.
    pub unknown_techniques: Vec<String>,
    pub max_cell: usize,
}

fn can_run(presence: Presence) -> bool {
    presence == Presence::Present
}

/// Which rules cover each (technique, tactic shortname).
///
/// A rule covers a technique in the technique's tactics that are also the rule's tactics;
/// when the rule names none of them (a mapping Sentinel's check would reject), it covers
/// the technique in all of its tactics, so that nothing the rule claims disappears.
fn assignments(snapshot: &Snapshot, rows: &Rows) -> (BTreeMap<(String, String), Cell>, Vec<String>, usize) {
    let attack = Attack::get();
    let mut cells: BTreeMap<(String, String), Cell> = BTreeMap::new();
    let mut unknown: Vec<String> = Vec::new();
    let mut mapped = 0;
    // Disabled rules are kept in the store but are not part of the coverage.
    for e in snapshot.entries.iter().filter(|e| e.stored.enabled) {
        let rule = e.rule();
        let runnable = can_run(rows.presence(&e.tables));
        let rule_tactics: Vec<String> = rule
            .tactics
            .iter()
            .filter_map(|t| attack.tactic(t).or(attack.tactic_loose(t)).map(|t| t.shortname.clone()))
            .collect();
        let mut any = false;
        let mut seen: Vec<String> = Vec::new();
        for tid in rule.all_techniques() {
            let Some(t) = attack.technique(tid) else {
                let up = tid.to_ascii_uppercase();
                if !unknown.contains(&up) {
                    unknown.push(up);
                }
                continue;
            };
            if seen.contains(&t.id) {
                continue;
            }
            seen.push(t.id.clone());
            any = true;
            let chosen: Vec<&String> = {
                let both: Vec<&String> = t.tactics.iter().filter(|x| rule_tactics.contains(x)).collect();
                if both.is_empty() {
                    t.tactics.iter().collect()
                } else {
                    both
                }
            };
            for tactic in chosen {
                let cell = cells.entry((t.id.clone(), tactic.clone())).or_default();
                let list = if runnable {
                    &mut cell.runnable
                } else {
                    &mut cell.cannot_run
                };
                if !list.contains(&rule.id) {
                    list.push(rule.id.clone());
                }
            }
        }
        if any {
            mapped += 1;
        }
    }
    unknown.sort();
    (cells, unknown, mapped)
}

pub fn compute(snapshot: &Snapshot, rows: &Rows) -> Coverage {
    let attack = Attack::get();
    let (cells, unknown_techniques, rules_mapped) = assignments(snapshot, rows);
    let mut subs_of: BTreeMap<&str, Vec<&Technique>> = BTreeMap::new();
    for t in attack.techniques().iter().filter(|t| t.subtechnique) {
        if let Some(p) = Attack::parent_id(&t.id) {
            subs_of.entry(p).or_default().push(t);
        }
    }
    let row = |t: &Technique, tactic: &str| TechniqueRow {
        id: t.id.clone(),
        name: t.name.clone(),
        url: t.url.clone(),
        cell: cells
            .get(&(t.id.clone(), tactic.to_string()))
            .cloned()
            .unwrap_or_default(),
        subtechniques: Vec::new(),
    };
    let mut max_cell = 0;
    let tactics: Vec<TacticColumn> = attack
        .tactics()
        .iter()
        .map(|tac| {
            let mut techniques: Vec<TechniqueRow> = attack
                .techniques()
                .iter()
                .filter(|t| !t.subtechnique && t.tactics.contains(&tac.shortname))
                .map(|t| {
                    let mut r = row(t, &tac.shortname);
                    if let Some(subs) = subs_of.get(t.id.as_str()) {
                        r.subtechniques = subs
                            .iter()
                            .filter(|s| s.tactics.contains(&tac.shortname))
                            .map(|s| row(s, &tac.shortname))
                            .collect();
                        r.subtechniques.sort_by(|a, b| a.name.cmp(&b.name));
                    }
                    r
                })
                .collect();
            techniques.sort_by(|a, b| a.name.cmp(&b.name));
            for t in &techniques {
                max_cell = max_cell.max(t.cell.total());
                for s in &t.subtechniques {
                    max_cell = max_cell.max(s.cell.total());
                }
            }
            TacticColumn {
                id: tac.id.clone(),
                shortname: tac.shortname.clone(),
                name: tac.name.clone(),
                sentinel_name: tac.sentinel_name.clone(),
                covered: techniques.iter().filter(|t| t.total_with_subs() > 0).count(),
                techniques,
            }
        })
        .collect();
    let mut covered: Vec<&str> = Vec::new();
    let mut runnable: Vec<&str> = Vec::new();
    for ((tid, _), cell) in &cells {
        if cell.total() > 0 && !covered.contains(&tid.as_str()) {
            covered.push(tid);
        }
        if !cell.runnable.is_empty() && !runnable.contains(&tid.as_str()) {
            runnable.push(tid);
        }
    }
    Coverage {
        tactics,
        rules: snapshot.entries.iter().filter(|e| e.stored.enabled).count(),
        rules_disabled: snapshot.entries.iter().filter(|e| !e.stored.enabled).count(),
        rules_mapped,
        techniques_covered: covered.len(),
        techniques_runnable: runnable.len(),
        unknown_techniques,
        max_cell,
    }
}

/// Shade 0 (no rule) to 4 for a count, relative to the largest cell.
pub fn heat(count: usize, max: usize) -> u8 {
    match (count, max) {
        (0, _) => 0,
        (_, 0..=1) => 4,
        (c, m) => (1 + (3 * (c - 1)) / (m - 1).max(1)).min(4) as u8,
    }
}

/// Navigator colours: runnable coverage (blue scale) and rules that cannot run (amber).
const GRADIENT: [&str; 2] = ["#dbeafe", "#1d4ed8"];
const CANNOT_RUN_COLOR: &str = "#f59e0b";

/// The coverage as an ATT&CK Navigator layer (format 4.5, Navigator 5, ATT&CK 18).
///
/// Score = rules that can run; techniques covered only by rules that cannot run get score
/// 0 and the amber colour, so the layer shows the same distinction as the matrix page.
pub fn navigator_layer(snapshot: &Snapshot, rows: &Rows, name: &str) -> Value {
    let (cells, _, _) = assignments(snapshot, rows);
    let by_id: BTreeMap<&str, &Arc<Entry>> = snapshot.entries.iter().map(|e| (e.rule().id.as_str(), e)).collect();
    // One entry per technique when every tactic it has agrees; otherwise one per tactic.
    let mut per_technique: BTreeMap<&str, Vec<(&str, &Cell)>> = BTreeMap::new();
    for ((tid, tactic), cell) in &cells {
        per_technique.entry(tid).or_default().push((tactic, cell));
    }
    let attack = Attack::get();
    let mut techniques = Vec::new();
    let mut max_score = 0usize;
    for (tid, by_tactic) in &per_technique {
        let all_tactics = attack.technique(tid).map(|t| t.tactics.len()).unwrap_or(1);
        let uniform = by_tactic.len() == all_tactics
            && by_tactic
                .windows(2)
                .all(|w| w[0].1.runnable == w[1].1.runnable && w[0].1.cannot_run == w[1].1.cannot_run);
        let entries: Vec<(Option<&str>, &Cell)> = if uniform {
            by_tactic.first().map(|(_, c)| vec![(None, *c)]).unwrap_or_default()
        } else {
            by_tactic.iter().map(|(t, c)| (Some(*t), *c)).collect()
        };
        for (tactic, cell) in entries {
            let score = cell.runnable.len();
            max_score = max_score.max(score);
            let describe = |ids: &[String]| -> Vec<String> {
                ids.iter()
                    .map(|id| match by_id.get(id.as_str()) {
                        Some(e) => e.rule().name.clone(),
                        None => id.clone(),
                    })
                    .collect()
            };
            let mut comment = String::new();
            if !cell.runnable.is_empty() {
                comment.push_str(&format!("Can run: {}", describe(&cell.runnable).join("; ")));
            }
            if !cell.cannot_run.is_empty() {
                if !comment.is_empty() {
                    comment.push_str(" | ");
                }
                comment.push_str(&format!("Missing data: {}", describe(&cell.cannot_run).join("; ")));
            }
            let mut t = json!({
                "techniqueID": tid,
                "score": score,
                "comment": comment,
                "enabled": true,
                "showSubtechniques": false,
                "metadata": [
                    {"name": "rules", "value": cell.total().to_string()},
                    {"name": "rules that can run", "value": cell.runnable.len().to_string()},
                    {"name": "rules missing data", "value": cell.cannot_run.len().to_string()}
                ],
            });
            if let Some(tac) = tactic {
                t["tactic"] = json!(tac);
            }
            if cell.runnable.is_empty() {
                t["color"] = json!(CANNOT_RUN_COLOR);
            }
            techniques.push(t);
        }
    }
    // Parents of covered sub-techniques are expanded so the Navigator shows them.
    let covered_parents: Vec<String> = per_technique
        .keys()
        .filter_map(|t| Attack::parent_id(t).map(str::to_string))
        .collect();
    for t in &mut techniques {
        if let Some(id) = t["techniqueID"].as_str()
            && covered_parents.iter().any(|p| p == id)
        {
            t["showSubtechniques"] = json!(true);
        }
    }
    json!({
        "name": name,
        "versions": { "attack": "18", "navigator": "5.1.0", "layer": "4.5" },
        "domain": "enterprise-attack",
        "description": format!("Quarry rule coverage: {} enabled rules. Score = rules whose tables have data; amber = covered only by rules that cannot run (their tables have no rows).", snapshot.entries.iter().filter(|e| e.stored.enabled).count()),
        "filters": { "platforms": ["Windows", "Linux", "macOS", "Network", "PRE", "Containers", "IaaS", "SaaS", "Office Suite", "Identity Provider", "ESXi"] },
        "sorting": 3,
        "layout": { "layout": "side", "aggregateFunction": "max", "showID": true, "showName": true, "showAggregateScores": false, "countUnscored": false, "expandedSubtechniques": "annotated" },
        "hideDisabled": false,
        "techniques": techniques,
        "gradient": { "colors": GRADIENT, "minValue": 0, "maxValue": max_score.max(1) },
        "legendItems": [
            { "label": "Covered by rules that can run (shade = number of rules)", "color": GRADIENT[1] },
            { "label": "Covered only by rules whose data is missing", "color": CANNOT_RUN_COLOR }
        ],
        "metadata": [ { "name": "generator", "value": format!("quarry {}", env!("CARGO_PKG_VERSION")) } ],
        "links": [],
        "showTacticRowBackground": false,
        "tacticRowBackground": "#dddddd",
        "selectTechniquesAcrossTactics": true,
        "selectSubtechniquesWithParent": false,
        "selectVisibleTechniques": false
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heat_scale() {
        assert_eq!(heat(0, 5), 0);
        assert_eq!(heat(1, 1), 4);
        assert_eq!(heat(1, 9), 1);
        assert_eq!(heat(9, 9), 4);
        assert!(heat(5, 9) >= 2);
    }
}
