//! MITRE ATT&CK Enterprise (v18.1): tactics in matrix order and techniques with their
//! tactics, compiled in from `data/attack_enterprise.json`.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::OnceLock;

static ATTACK_JSON: &str = include_str!("../../../data/attack_enterprise.json");

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tactic {
    /// `TA0011`
    pub id: String,
    /// `command-and-control`
    pub shortname: String,
    /// `Command and Control`
    pub name: String,
    /// The name Sentinel rules use in `tactics:` (`CommandAndControl`).
    pub sentinel_name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Technique {
    /// `T1219` or `T1078.004`
    pub id: String,
    pub name: String,
    pub subtechnique: bool,
    /// Tactic short names (`command-and-control`).
    pub tactics: Vec<String>,
    #[serde(default)]
    pub platforms: Vec<String>,
    pub url: String,
}

#[derive(Deserialize)]
struct RawFile {
    tactics: Vec<Tactic>,
    techniques: Vec<Technique>,
}

/// The ATT&CK catalog.
#[derive(Debug)]
pub struct Attack {
    tactics: Vec<Tactic>,
    techniques: Vec<Technique>,
    by_id: HashMap<String, usize>,
}

/// Tactics Sentinel accepts that are not Enterprise tactics (ATT&CK for ICS).
pub const SENTINEL_ICS_TACTICS: [&str; 2] = ["ImpairProcessControl", "InhibitResponseFunction"];

/// `Command and Control` → `CommandAndControl`.
fn camel_case(name: &str) -> String {
    name.split_whitespace()
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

impl Attack {
    /// The built-in catalog (parsed once).
    pub fn get() -> &'static Attack {
        static ATTACK: OnceLock<Attack> = OnceLock::new();
        ATTACK.get_or_init(|| match serde_json::from_str::<RawFile>(ATTACK_JSON) {
            Ok(raw) => Attack::from_parts(raw.tactics, raw.techniques),
            // The file is compiled in and checked by a test; an empty catalog would make
            // every technique "unknown", which the test would catch first.
            Err(_) => Attack::from_parts(Vec::new(), Vec::new()),
        })
    }

    fn from_parts(mut tactics: Vec<Tactic>, techniques: Vec<Technique>) -> Attack {
        // The data file spells one Sentinel name with a stray capital (`CommAndAndControl`);
        // Sentinel's own name is the display name in CamelCase, so derive it from that.
        for t in &mut tactics {
            let derived = camel_case(&t.name);
            if derived.eq_ignore_ascii_case(&t.sentinel_name) {
                t.sentinel_name = derived;
            }
        }
        let by_id = techniques
            .iter()
            .enumerate()
            .map(|(i, t)| (t.id.to_ascii_uppercase(), i))
            .collect();
        Attack {
            tactics,
            techniques,
            by_id,
        }
    }

    /// Tactics in matrix order.
    pub fn tactics(&self) -> &[Tactic] {
        &self.tactics
    }

    pub fn techniques(&self) -> &[Technique] {
        &self.techniques
    }

    /// A technique or sub-technique by id (`T1219`, `t1078.004`).
    pub fn technique(&self, id: &str) -> Option<&Technique> {
        self.by_id
            .get(&id.trim().to_ascii_uppercase())
            .and_then(|&i| self.techniques.get(i))
    }

    /// A tactic by Sentinel name (exact), short name, display name or id.
    pub fn tactic(&self, name: &str) -> Option<&Tactic> {
        let n = name.trim();
        self.tactics
            .iter()
            .find(|t| t.sentinel_name == n || t.shortname == n || t.name == n || t.id == n)
    }

    /// A tactic whose Sentinel name matches ignoring case and separators (for "did you
    /// mean" hints: `commandandcontrol`, `Command and Control`).
    pub fn tactic_loose(&self, name: &str) -> Option<&Tactic> {
        let squash = |s: &str| {
            s.chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .collect::<String>()
                .to_ascii_lowercase()
        };
        let n = squash(name);
        self.tactics.iter().find(|t| squash(&t.sentinel_name) == n)
    }

    /// The parent technique of a sub-technique id (`T1078.004` → `T1078`).
    pub fn parent_id(id: &str) -> Option<&str> {
        id.split_once('.').map(|(p, _)| p)
    }

    /// Whether text looks like an ATT&CK technique id (`T` + 4 digits, optional `.` + 3).
    pub fn is_technique_id(id: &str) -> bool {
        let b = id.as_bytes();
        let main = b.len() >= 5 && (b[0] == b'T' || b[0] == b't') && b[1..5].iter().all(u8::is_ascii_digit);
        main && (b.len() == 5 || (b.len() == 9 && b[5] == b'.' && b[6..].iter().all(u8::is_ascii_digit)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_loads_with_sentinel_names() {
        let a = Attack::get();
        assert_eq!(a.tactics().len(), 14);
        assert_eq!(a.techniques().len(), 691);
        assert_eq!(a.tactics()[0].sentinel_name, "Reconnaissance");
        let c2 = a.tactic("CommandAndControl").expect("C2 by Sentinel name");
        assert_eq!(c2.id, "TA0011");
        assert_eq!(a.tactic("command-and-control").unwrap().id, "TA0011");
        assert!(a.tactic("CommAndAndControl").is_none());
        assert_eq!(
            a.tactic_loose("commandandcontrol").unwrap().sentinel_name,
            "CommandAndControl"
        );
        for t in a.tactics() {
            assert!(!t.sentinel_name.contains(' '), "{t:?}");
        }
    }

    #[test]
    fn techniques_and_sub_techniques() {
        let a = Attack::get();
        let t = a.technique("T1219").unwrap();
        assert_eq!(t.tactics, vec!["command-and-control"]);
        let sub = a.technique("t1078.004").unwrap();
        assert!(sub.subtechnique);
        assert_eq!(Attack::parent_id("T1078.004"), Some("T1078"));
        assert!(a.technique("T9999").is_none());
        assert!(Attack::is_technique_id("T1219"));
        assert!(Attack::is_technique_id("T1078.004"));
        assert!(!Attack::is_technique_id("T12"));
        assert!(!Attack::is_technique_id("T1078.4"));
    }
}
