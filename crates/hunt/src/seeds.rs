//! The SOC-feed seed rule pages, compiled into the binary (`quarry demo` imports them).
//! Four rules: the Action1, SupRemo, RemoteUtilities and ConnectWise "File Signature"
//! hunting queries; the Action1 page comes twice (full page and condensed text) and the
//! two are merged on import.

use rules::{Rule, RuleDiagnostic, import};

/// `(file name, text)` of each seed page, as published.
pub const SEED_PAGES: &[(&str, &str)] = &[
    (
        "000_61a9e9db0e821c7a.txt",
        include_str!("../../../data/seeds/000_61a9e9db0e821c7a.txt"),
    ),
    (
        "001_e0e45211b8b25f84.txt",
        include_str!("../../../data/seeds/001_e0e45211b8b25f84.txt"),
    ),
    (
        "002_0862891248454ce4.txt",
        include_str!("../../../data/seeds/002_0862891248454ce4.txt"),
    ),
    (
        "003_a2c490a2ed8eb055.txt",
        include_str!("../../../data/seeds/003_a2c490a2ed8eb055.txt"),
    ),
    (
        "004_6a254579b14f937a.txt",
        include_str!("../../../data/seeds/004_6a254579b14f937a.txt"),
    ),
];

/// The path seed rules are recorded under (`seeds/<file>`).
pub fn seed_path(file: &str) -> String {
    format!("seeds/{file}")
}

/// The seed rules (merged by id) with their source texts, and the import diagnostics.
pub fn seed_rules() -> (Vec<(Rule, &'static str)>, Vec<RuleDiagnostic>) {
    let mut rules = Vec::new();
    let mut diags = Vec::new();
    for (file, text) in SEED_PAGES {
        let fi = import::import_text(&seed_path(file), text);
        diags.extend(fi.diagnostics);
        if let Some(r) = fi.rule {
            rules.push(r);
        }
    }
    let (merged, dup_diags) = import::merge_duplicates(rules);
    diags.extend(dup_diags);
    let with_text = merged
        .into_iter()
        .map(|r| {
            let text = SEED_PAGES
                .iter()
                .find(|(f, _)| r.provenance.path.as_deref() == Some(seed_path(f).as_str()))
                .map(|(_, t)| *t)
                .unwrap_or_default();
            (r, text)
        })
        .collect();
    (with_text, diags)
}

#[cfg(test)]
mod tests {
    #[test]
    fn four_seed_rules() {
        let (rules, diags) = super::seed_rules();
        assert!(diags.iter().all(|d| d.level != rules::Level::Error), "{diags:?}");
        let mut names: Vec<&str> = rules.iter().map(|(r, _)| r.name.as_str()).collect();
        names.sort();
        assert_eq!(names.len(), 4, "{names:?}");
        for tool in ["Action1", "SupRemo", "RemoteUtilities", "ConnectWise"] {
            assert!(
                names.iter().any(|n| n.contains(&format!("- {tool} -"))),
                "{tool}: {names:?}"
            );
        }
        assert!(rules.iter().all(|(_, text)| !text.is_empty()));
    }
}
