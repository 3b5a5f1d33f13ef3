//! ATT&CK consistency: tactic names Sentinel knows, technique ids ATT&CK knows, and every
//! technique's tactics among the rule's tactics (Sentinel's `NoTechniquesWithoutMatchingTactics`).

use super::Out;
use crate::attack::{Attack, SENTINEL_ICS_TACTICS};
use crate::diag::{Level, codes};
use crate::model::Rule;

pub(super) fn check(rule: &Rule, out: &mut Out<'_>) {
    let attack = Attack::get();
    let mut known_tactics = Vec::new();
    for (i, t) in rule.tactics.iter().enumerate() {
        let at = rule
            .field_position(&format!("tactics[{i}]"))
            .or(rule.field_position("tactics"));
        if let Some(tactic) = attack.tactics().iter().find(|x| x.sentinel_name == *t) {
            known_tactics.push(tactic.shortname.as_str());
        } else if SENTINEL_ICS_TACTICS.contains(&t.as_str()) {
            // ATT&CK for ICS; not in the Enterprise catalog, so its techniques cannot be
            // cross-checked, but Sentinel accepts it.
        } else if let Some(tactic) = attack.tactic_loose(t) {
            known_tactics.push(tactic.shortname.as_str());
            out.push(
                Level::Warning,
                codes::TACTIC_CASE,
                format!("tactic `{t}` is spelled `{}` in Sentinel", tactic.sentinel_name),
                at,
            )
            .help = Some(format!("write `{}`", tactic.sentinel_name));
        } else {
            let names: Vec<&str> = attack.tactics().iter().map(|t| t.sentinel_name.as_str()).collect();
            out.push(Level::Error, codes::UNKNOWN_TACTIC, format!("unknown tactic `{t}`"), at)
                .help = Some(format!("Sentinel's tactics are {}", names.join(", ")));
        }
    }
    let techniques: Vec<(usize, &str, String)> = rule
        .techniques
        .iter()
        .enumerate()
        .map(|(i, t)| (i, t.as_str(), format!("relevantTechniques[{i}]")))
        .chain(
            rule.sub_techniques
                .iter()
                .enumerate()
                .map(|(i, t)| (i, t.as_str(), format!("subTechniques[{i}]"))),
        )
        .collect();
    for (_, id, field) in &techniques {
        let at = rule
            .field_position(field)
            .or(rule.field_position(field.split('[').next().unwrap_or("")));
        let id = id.trim();
        if !Attack::is_technique_id(id) {
            out.push(
                Level::Error,
                codes::UNKNOWN_TECHNIQUE,
                format!("`{id}` is not an ATT&CK technique id (T#### or T####.###)"),
                at,
            );
            continue;
        }
        let Some(tech) = attack.technique(id) else {
            let msg = match Attack::parent_id(id).and_then(|p| attack.technique(p)) {
                Some(parent) => format!(
                    "unknown sub-technique `{id}` (technique {} \"{}\" has no such sub-technique in ATT&CK v18)",
                    parent.id, parent.name
                ),
                None => {
                    format!("unknown ATT&CK technique `{id}` (not in ATT&CK Enterprise v18; revoked or deprecated?)")
                }
            };
            out.push(Level::Error, codes::UNKNOWN_TECHNIQUE, msg, at);
            continue;
        };
        if known_tactics.is_empty() && rule.tactics.is_empty() {
            out.push(
                Level::Warning,
                codes::TACTIC_WITHOUT_TECHNIQUE,
                format!("technique {id} is listed but the rule has no tactics"),
                at,
            );
            continue;
        }
        let missing: Vec<&str> = tech
            .tactics
            .iter()
            .map(String::as_str)
            .filter(|t| !known_tactics.contains(t))
            .collect();
        if missing.len() == tech.tactics.len() && !known_tactics.is_empty() {
            let names = sentinel_names(attack, &tech.tactics);
            out.push(
                Level::Error,
                codes::TECHNIQUE_TACTIC_MISMATCH,
                format!(
                    "technique {id} \"{}\" belongs to {}, which is not among the rule's tactics ({})",
                    tech.name,
                    names.join(", "),
                    rule.tactics.join(", ")
                ),
                at,
            )
            .help = Some(format!(
                "add {} to `tactics`, or correct the technique",
                names.join(" or ")
            ));
        } else if !missing.is_empty() && !known_tactics.is_empty() {
            let names = sentinel_names(attack, &missing.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            out.push(
                Level::Warning,
                codes::TECHNIQUE_TACTIC_MISMATCH,
                format!("technique {id} \"{}\" also belongs to {}; Sentinel's template check wants all of a technique's tactics listed", tech.name, names.join(", ")),
                at,
            );
        }
    }
    // Sub-techniques listed without their parent are fine; a parent and its sub-technique
    // both listed is redundant but harmless. A tactic with no technique is common in
    // Sentinel content and not reported.
}

fn sentinel_names(attack: &Attack, shortnames: &[String]) -> Vec<String> {
    shortnames
        .iter()
        .map(|s| {
            attack
                .tactic(s)
                .map(|t| t.sentinel_name.clone())
                .unwrap_or_else(|| s.clone())
        })
        .collect()
}
