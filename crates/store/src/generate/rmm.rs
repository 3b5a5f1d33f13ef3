//! The RMM tools the generator plants (from `data/rmm_indicators.json`) and the benign
//! look-alikes it plants next to them.
//!
//! A planted tool's values are the first signer, company and product name of its indicators,
//! completed where the public per-tool hunting rules test more than the indicators list (a
//! process file name, a company on the network connection's initiating process): those
//! facts are in [`OVERRIDES`]. A tool gets a signal only where such a rule exists, so every
//! planted signal is one a correct rule finds.

use serde::Deserialize;
use std::sync::OnceLock;

static INDICATORS_JSON: &str = include_str!("../../../../data/rmm_indicators.json");

#[derive(Clone, Debug, Deserialize)]
pub struct Indicators {
    pub tool: String,
    #[serde(default)]
    pub signers: Vec<String>,
    #[serde(default)]
    pub company_names: Vec<String>,
    #[serde(default)]
    pub product_names: Vec<String>,
    #[serde(default)]
    pub domains: Vec<String>,
    #[serde(default)]
    pub process_file_names: Vec<String>,
}

#[derive(Deserialize)]
struct IndicatorsFile {
    tools: Vec<Indicators>,
}

pub fn indicators() -> &'static [Indicators] {
    static CELL: OnceLock<Vec<Indicators>> = OnceLock::new();
    CELL.get_or_init(|| {
        serde_json::from_str::<IndicatorsFile>(INDICATORS_JSON)
            .map(|f| f.tools)
            .unwrap_or_default()
    })
}

/// Which signals a planted tool produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// `DeviceFileCertificateInfo` row with the tool's signer (and the file it signs).
    FileSignature,
    /// `DeviceProcessEvents` launch of the tool's binary with its version info.
    ProcessCreation,
    /// `DeviceNetworkEvents` connection from the tool's process to its domain.
    NetworkConnection,
}

impl Signal {
    pub fn table(self) -> &'static str {
        match self {
            Signal::FileSignature => "DeviceFileCertificateInfo",
            Signal::ProcessCreation => "DeviceProcessEvents",
            Signal::NetworkConnection => "DeviceNetworkEvents",
        }
    }
}

/// (tool, company, product, file name) where the hunting rules need values the indicators
/// lack; "" keeps the indicator value (or its absence).
const OVERRIDES: &[(&str, &str, &str, &str)] = &[
    ("Addigy", "", "", "go-agent"),
    ("ChromeRDP", "", "", "remoting_host.exe"),
    ("DattoRMM", "Datto Inc", "Datto RMM", "AEMAgent.exe"),
    ("DWService", "", "", "dwagent.exe"),
    ("FleetDeck", "", "", "fleetdeck_agent.exe"),
    ("Kaseya", "Kaseya", "Kaseya Agent", "AgentMon.exe"),
    ("Level", "", "", "level.exe"),
    ("MeshCentral", "MeshCentral", "", "MeshAgent.exe"),
    ("mRemoteNG", "mRemoteNG", "", "mRemoteNG.exe"),
    ("PDQ", "", "", "pdq-connect-agent.exe"),
    ("RemoteDesktopPlus", "", "", "rdp.exe"),
];

/// Tools whose process rule keys on the file (hash or path) rather than version info.
const PROCESS_WITHOUT_VERSION_INFO: &[&str] = &["DWService", "Level"];
/// Tools whose network rule needs only the initiating process's version info.
const NETWORK_WITHOUT_DOMAIN: &[&str] = &["Naverisk", "RPort", "RemoteDesktopPlus", "TigerVNC", "TightVNC"];

/// The values planted for one tool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolProfile {
    pub tool: String,
    pub signer: String,
    pub company: String,
    pub product: String,
    pub file_name: String,
    pub folder: String,
    pub domain: String,
    pub sha1: String,
    pub signals: Vec<Signal>,
}

fn first(v: &[String]) -> String {
    v.first().cloned().unwrap_or_default()
}

/// Letters and digits of `s` only.
pub fn squash(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_alphanumeric()).collect()
}

/// Deterministic 40-hex "SHA1" for a label.
pub fn fake_sha1(label: &str) -> String {
    let h = blake3::hash(label.as_bytes()).to_hex();
    h[..40].to_string()
}

impl ToolProfile {
    pub fn of(ind: &Indicators) -> ToolProfile {
        let o = OVERRIDES.iter().find(|o| o.0 == ind.tool);
        let pick = |over: Option<&str>, v: &[String]| match over {
            Some(x) if !x.is_empty() => x.to_string(),
            _ => first(v),
        };
        let company = pick(o.map(|o| o.1), &ind.company_names);
        let product = pick(o.map(|o| o.2), &ind.product_names);
        let file_name = match (o.map(|o| o.3), ind.process_file_names.first()) {
            (Some(f), _) if !f.is_empty() => f.to_string(),
            (_, Some(f)) => f.clone(),
            _ => format!("{}.exe", squash(&ind.tool)),
        };
        let folder = if file_name.ends_with(".exe") {
            format!(r"C:\Program Files (x86)\{}\{}", ind.tool, file_name)
        } else {
            format!("/Library/{}/{}", ind.tool, file_name)
        };
        let mut signals = Vec::new();
        if !ind.signers.is_empty() {
            signals.push(Signal::FileSignature);
        }
        if !ind.company_names.is_empty()
            || !ind.product_names.is_empty()
            || PROCESS_WITHOUT_VERSION_INFO.contains(&ind.tool.as_str())
        {
            signals.push(Signal::ProcessCreation);
        }
        if !ind.domains.is_empty() || NETWORK_WITHOUT_DOMAIN.contains(&ind.tool.as_str()) {
            signals.push(Signal::NetworkConnection);
        }
        ToolProfile {
            tool: ind.tool.clone(),
            signer: first(&ind.signers),
            company,
            product,
            folder: if ind.tool == "Level" {
                format!(r"C:\Program Files\Level\{file_name}")
            } else {
                folder
            },
            file_name,
            domain: first(&ind.domains),
            sha1: fake_sha1(&format!("rmm:{}", ind.tool)),
            signals,
        }
    }

    /// A benign look-alike of this tool: each value holds the tool's value glued inside
    /// longer terms ("Neo" before its first term, "ix" after its last), so a substring search
    /// finds the tool's names in it but a correct term-based `has` does not.
    pub fn lookalike(&self) -> ToolProfile {
        let glue = |s: &str| format!("Neo{s}ix");
        let or_tool = |s: &str| if s.is_empty() { self.tool.clone() } else { s.to_string() };
        let stem = self.file_name.trim_end_matches(".exe");
        ToolProfile {
            tool: self.tool.clone(),
            signer: if self.signer.is_empty() {
                String::new()
            } else {
                glue(&self.signer)
            },
            company: glue(&or_tool(&self.company)),
            product: glue(&or_tool(&self.product)),
            file_name: format!("{}.exe", glue(stem)),
            folder: format!(r"C:\Program Files\{}\{}.exe", glue(&squash(&self.tool)), glue(stem)),
            domain: format!("not{}x.example", or_tool(&self.domain).to_lowercase()),
            sha1: fake_sha1(&format!("lookalike:{}", self.tool)),
            signals: self.signals.clone(),
        }
    }
}

/// All plantable tools, in the indicators' order.
pub fn profiles() -> Vec<ToolProfile> {
    indicators().iter().map(ToolProfile::of).collect()
}

/// Kusto's `has`: the needle occurs in the text starting and ending at term boundaries
/// (terms are runs of ASCII letters and digits), case-insensitively. Used to check that
/// look-alikes stay look-alikes.
pub fn kusto_has(text: &str, needle: &str) -> bool {
    let t = text.to_lowercase();
    let n = needle.trim().to_lowercase();
    if n.is_empty() {
        return true;
    }
    let is_term = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    let nb = n.chars();
    let starts_term = is_term(nb.clone().next());
    let ends_term = is_term(n.chars().last());
    let mut from = 0;
    while let Some(pos) = t[from..].find(&n) {
        let start = from + pos;
        let end = start + n.len();
        let before = t[..start].chars().last();
        let after = t[end..].chars().next();
        let ok_start = !starts_term || !is_term(before);
        let ok_end = !ends_term || !is_term(after);
        if ok_start && ok_end {
            return true;
        }
        from = start + t[start..].chars().next().map_or(1, char::len_utf8);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn term_semantics_of_has() {
        assert!(kusto_has("Action1 Corporation", "Action1 Corporation"));
        assert!(kusto_has("relay.anydesk.com", "anydesk.com"));
        assert!(!kusto_has("ScreenConnector Labs", "ScreenConnect"));
        assert!(!kusto_has("notanydesk.community.example", "anydesk.com"));
        assert!(kusto_has("GoTo, Inc", "GoTo, Inc"));
        assert!(!kusto_has("Atera Networkss", "Atera Networks"));
    }

    #[test]
    fn every_tool_has_a_signal_and_consistent_values() {
        let p = profiles();
        assert_eq!(p.len(), 59);
        for t in &p {
            assert!(!t.signals.is_empty(), "{}", t.tool);
            if t.signals.contains(&Signal::FileSignature) {
                assert!(!t.signer.is_empty());
            }
        }
        let kaseya = p.iter().find(|t| t.tool == "Kaseya").unwrap();
        assert_eq!(
            (kaseya.company.as_str(), kaseya.product.as_str()),
            ("Kaseya", "Kaseya Agent")
        );
    }

    #[test]
    fn lookalikes_match_no_indicator_of_any_tool() {
        for t in profiles() {
            let l = t.lookalike();
            let hits = rules_matching(&l.signer, &l.company, &l.product, &l.domain);
            assert!(
                hits.is_empty(),
                "look-alike of {} ({l:?}) matches the rules of {hits:?}",
                t.tool
            );
            // ... while holding the tool's own values as substrings.
            for (orig, value) in [
                (&t.signer, &l.signer),
                (&t.company, &l.company),
                (&t.product, &l.product),
            ] {
                if !orig.is_empty() {
                    assert!(value.contains(orig.as_str()), "{value} / {orig}");
                }
            }
            if !t.domain.is_empty() {
                assert!(l.domain.contains(&t.domain.to_lowercase()), "{}", l.domain);
            }
            // The real tool matches its own rules.
            let own = rules_matching(&t.signer, &t.company, &t.product, &t.domain);
            for signal in &t.signals {
                assert!(
                    own.contains(&(t.tool.clone(), *signal))
                        || t.tool == "DWService"
                        || t.tool == "Level"
                        || t.tool == "Addigy" && *signal == Signal::NetworkConnection,
                    "{} {signal:?}: {own:?}",
                    t.tool
                );
            }
        }
    }

    #[test]
    fn benign_programs_and_domains_match_no_rule() {
        for p in super::super::catalog::PROGRAMS {
            let hits = rules_matching(p.signer, p.company, p.product, "");
            assert!(hits.is_empty(), "{} matches {hits:?}", p.file);
        }
        for (d, _) in super::super::catalog::DOMAINS {
            for p in super::super::catalog::PROGRAMS {
                let hits = rules_matching("", p.company, p.product, d);
                assert!(hits.is_empty(), "{d} from {} matches {hits:?}", p.file);
            }
        }
    }

    /// The (tool, signal) rules, modelled on the public per-tool hunting rules over the
    /// indicators, that values would match.
    fn rules_matching(signer: &str, company: &str, product: &str, domain: &str) -> Vec<(String, Signal)> {
        let any = |v: &str, needles: &[String]| !v.is_empty() && needles.iter().any(|n| kusto_has(v, n));
        let mut out = Vec::new();
        for i in indicators() {
            let o = OVERRIDES.iter().find(|o| o.0 == i.tool);
            let mut companies = i.company_names.clone();
            let mut products = i.product_names.clone();
            if let Some(o) = o {
                if !o.1.is_empty() {
                    companies.push(o.1.to_string());
                }
                if !o.2.is_empty() {
                    products.push(o.2.to_string());
                }
            }
            if any(signer, &i.signers) {
                out.push((i.tool.clone(), Signal::FileSignature));
            }
            let version_info = (!companies.is_empty() || !products.is_empty())
                && (companies.is_empty() || any(company, &companies))
                && (products.is_empty() || any(product, &products));
            if version_info && (!i.company_names.is_empty() || !i.product_names.is_empty()) {
                out.push((i.tool.clone(), Signal::ProcessCreation));
            }
            let net_version = version_info || (companies.is_empty() && products.is_empty());
            if (i.domains.is_empty() && version_info) || (any(domain, &i.domains) && net_version) {
                out.push((i.tool.clone(), Signal::NetworkConnection));
            }
        }
        out
    }
}
