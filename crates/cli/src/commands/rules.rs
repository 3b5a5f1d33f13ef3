//! `quarry rules import|list|show|history|enable|disable`: the data directory's rule store
//! and the built-in packs.

use miette::{IntoDiagnostic, Result, miette};
use rules::store::{RuleFilter, RuleStore, Upsert};
use rules::{Attack, Level, Rule, Severity, export, packs};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Sub,
}

#[derive(clap::Subcommand)]
enum Sub {
    /// Import rule files (Sentinel YAML, SOC-feed pages) into the rule store. PATHs are files,
    /// directories (read recursively) or glob patterns. Exit code 1 if any file failed.
    Import {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Print the outcome as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List stored rules (or a built-in pack's).
    List {
        #[command(flatten)]
        filter: FilterArgs,
        /// List a built-in pack instead of the store (`rmm`).
        #[arg(long)]
        pack: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Show every field of a rule, by id, id prefix or name.
    Show {
        rule: String,
        /// Look in a built-in pack instead of the store.
        #[arg(long)]
        pack: Option<String>,
        /// The rule as JSON (every field).
        #[arg(long, conflicts_with = "yaml")]
        json: bool,
        /// The rule's Sentinel definition as YAML.
        #[arg(long)]
        yaml: bool,
    },
    /// The stored revisions of a rule.
    History {
        rule: String,
        #[arg(long)]
        json: bool,
    },
    /// Enable stored rules (by id, id prefix or name): hunted by default, counted in coverage.
    Enable {
        #[arg(required = true)]
        rules: Vec<String>,
    },
    /// Disable stored rules: kept with their history, skipped by `quarry hunt` unless named
    /// with `--rule`, not counted in ATT&CK coverage.
    Disable {
        #[arg(required = true)]
        rules: Vec<String>,
    },
}

#[derive(clap::Args)]
struct FilterArgs {
    /// Tactic (Sentinel name such as CommandAndControl, or ATT&CK name).
    #[arg(long)]
    tactic: Option<String>,
    /// Technique id; a technique also matches its sub-techniques.
    #[arg(long)]
    technique: Option<String>,
    /// Informational, Low, Medium or High.
    #[arg(long)]
    severity: Option<String>,
    /// A table the rule declares it reads.
    #[arg(long)]
    table: Option<String>,
    /// Part of the source path, URL, repository or format.
    #[arg(long)]
    source: Option<String>,
    /// Only enabled rules.
    #[arg(long, conflicts_with = "disabled")]
    enabled: bool,
    /// Only disabled rules.
    #[arg(long)]
    disabled: bool,
}

impl FilterArgs {
    fn to_filter(&self) -> Result<RuleFilter> {
        let severity = match &self.severity {
            None => None,
            Some(s) => Some(
                Severity::parse(s)
                    .ok_or_else(|| miette!("unknown severity `{s}` (expected Informational, Low, Medium or High)"))?,
            ),
        };
        if let Some(t) = &self.tactic
            && Attack::get().tactic(t).or(Attack::get().tactic_loose(t)).is_none()
        {
            return Err(miette!("unknown tactic `{t}`"));
        }
        Ok(RuleFilter {
            tactic: self.tactic.clone(),
            technique: self.technique.clone(),
            severity,
            table: self.table.clone(),
            source: self.source.clone(),
            enabled: match (self.enabled, self.disabled) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            },
        })
    }
}

pub fn run(global: &crate::Global, args: Args) -> Result<ExitCode> {
    match args.command {
        Sub::Import { paths, json } => import(global, &paths, json),
        Sub::List { filter, pack, json } => list(global, &filter.to_filter()?, pack.as_deref(), json),
        Sub::Show { rule, pack, json, yaml } => show(global, &rule, pack.as_deref(), json, yaml),
        Sub::History { rule, json } => history(global, &rule, json),
        Sub::Enable { rules } => set_enabled(global, &rules, true),
        Sub::Disable { rules } => set_enabled(global, &rules, false),
    }
}

fn set_enabled(global: &crate::Global, queries: &[String], enabled: bool) -> Result<ExitCode> {
    let mut store = open(global)?;
    // Resolve every name first, so a typo changes nothing.
    let mut ids = Vec::new();
    for q in queries {
        let stored = store.get(q).into_diagnostic()?.ok_or_else(|| {
            miette!(
                "no rule `{q}` in {} (`quarry rules list` shows the stored rules)",
                global.data.join(rules::store::DB_FILE).display()
            )
        })?;
        ids.push((stored.rule.id, stored.rule.name));
    }
    for (id, name) in &ids {
        store.set_enabled(id, enabled).into_diagnostic()?;
        if !global.quiet {
            println!("{} {id}  {name}", if enabled { "enabled " } else { "disabled" });
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A listed rule with its state in the store (packs are always enabled).
#[derive(serde::Serialize)]
struct Listed {
    enabled: bool,
    #[serde(flatten)]
    rule: Rule,
}

fn open(global: &crate::Global) -> Result<RuleStore> {
    RuleStore::open(&global.data).into_diagnostic()
}

fn pack(name: &str) -> Result<Vec<Rule>> {
    packs::by_name(name).ok_or_else(|| miette!("unknown pack `{name}` (available: {})", packs::NAMES.join(", ")))
}

fn import(global: &crate::Global, paths: &[PathBuf], json: bool) -> Result<ExitCode> {
    let report = rules::import_paths(paths);
    let mut store = open(global)?;
    let mut outcomes = Vec::new();
    for rule in report.rules() {
        let text = rule
            .provenance
            .path
            .as_deref()
            .and_then(|p| report.files.iter().find(|f| f.path == p))
            .and_then(|f| f.text.as_deref());
        let outcome = store.upsert(&rule, text).into_diagnostic()?;
        outcomes.push((rule, outcome));
    }
    let diags = report.all_diagnostics();
    let failed: Vec<&str> = report
        .files
        .iter()
        .filter(|f| f.failed())
        .map(|f| f.path.as_str())
        .collect();
    let (mut added, mut updated, mut unchanged) = (0, 0, 0);
    for (_, o) in &outcomes {
        match o {
            Upsert::Added => added += 1,
            Upsert::Updated { .. } => updated += 1,
            Upsert::Unchanged => unchanged += 1,
        }
    }
    if json {
        let rules: Vec<serde_json::Value> = outcomes
            .iter()
            .map(|(r, o)| {
                let (status, revision) = match o {
                    Upsert::Added => ("added", 1),
                    Upsert::Updated { revision } => ("updated", *revision),
                    Upsert::Unchanged => ("unchanged", 0),
                };
                serde_json::json!({"id": r.id, "name": r.name, "path": r.provenance.path, "status": status, "revision": revision})
            })
            .collect();
        let out = serde_json::json!({
            "files": report.files.len(), "added": added, "updated": updated, "unchanged": unchanged,
            "failed": failed, "rules": rules, "diagnostics": diags,
        });
        println!("{}", serde_json::to_string_pretty(&out).into_diagnostic()?);
    } else {
        for d in &diags {
            eprintln!("{d}");
        }
        if !global.quiet {
            for (r, o) in &outcomes {
                let status = match o {
                    Upsert::Added => "added".to_string(),
                    Upsert::Updated { revision } => format!("updated (revision {revision})"),
                    Upsert::Unchanged => "unchanged".to_string(),
                };
                println!("{status:<22} {}  {}", r.id, r.name);
            }
        }
        println!(
            "{} file(s): {added} added, {updated} updated, {unchanged} unchanged, {} failed; {} rule(s) in {}",
            report.files.len(),
            failed.len(),
            store.count().into_diagnostic()?,
            global.data.join(rules::store::DB_FILE).display()
        );
    }
    let import_errors = report.diagnostics.iter().any(|d| d.level == Level::Error);
    Ok(if failed.is_empty() && !import_errors {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn list(global: &crate::Global, filter: &RuleFilter, pack_name: Option<&str>, json: bool) -> Result<ExitCode> {
    let rules: Vec<Listed> = match pack_name {
        Some(p) => pack(p)?
            .into_iter()
            .filter(|r| filter.enabled != Some(false) && filter.matches(r))
            .map(|rule| Listed { enabled: true, rule })
            .collect(),
        None => open(global)?
            .list(filter)
            .into_diagnostic()?
            .into_iter()
            .map(|s| Listed {
                enabled: s.enabled,
                rule: s.rule,
            })
            .collect(),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&rules).into_diagnostic()?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{:<36}  {:<8}  {:<13}  {:<18}  {:<10}  {:<26}  NAME",
        "ID", "STATE", "SEVERITY", "TACTICS", "TECHNIQUES", "TABLES"
    );
    for Listed { enabled, rule: r } in &rules {
        let _ = writeln!(
            out,
            "{:<36}  {:<8}  {:<13}  {:<18}  {:<10}  {:<26}  {}",
            r.id,
            if *enabled { "enabled" } else { "disabled" },
            r.severity.map(|s| s.as_str()).unwrap_or("-"),
            r.tactics.join(","),
            r.all_techniques().collect::<Vec<_>>().join(","),
            r.data_types().join(","),
            r.name
        );
    }
    if !global.quiet {
        let _ = writeln!(out, "{} rule(s)", rules.len());
    }
    Ok(ExitCode::SUCCESS)
}

fn find(global: &crate::Global, query: &str, pack_name: Option<&str>) -> Result<Rule> {
    match pack_name {
        Some(p) => {
            let q = query.to_ascii_lowercase();
            let rules = pack(p)?;
            let matches: Vec<&Rule> = rules
                .iter()
                .filter(|r| r.id == q || r.name.eq_ignore_ascii_case(query) || r.id.starts_with(&q))
                .collect();
            match matches.as_slice() {
                [one] => Ok::<Rule, miette::Report>((*one).clone()),
                [] => Err(miette!("no rule `{query}` in pack `{p}`")),
                many => Err(miette!("`{query}` matches {} rules in pack `{p}`", many.len())),
            }
        }
        None => Ok(open(global)?
            .get(query)
            .into_diagnostic()?
            .ok_or_else(|| {
                miette!(
                    "no rule `{query}` in {} (import rules with `quarry rules import`)",
                    global.data.join(rules::store::DB_FILE).display()
                )
            })?
            .rule),
    }
}

fn show(global: &crate::Global, query: &str, pack_name: Option<&str>, json: bool, yaml: bool) -> Result<ExitCode> {
    let rule = find(global, query, pack_name)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&rule).into_diagnostic()?);
    } else if yaml {
        print!("{}", export::to_sentinel_yaml(&rule));
    } else {
        print!("{}", render(&rule));
    }
    Ok(ExitCode::SUCCESS)
}

fn history(global: &crate::Global, query: &str, json: bool) -> Result<ExitCode> {
    let store = open(global)?;
    let rule = find(global, query, None)?;
    let revs = store.history(&rule.id).into_diagnostic()?;
    if json {
        println!("{}", serde_json::to_string_pretty(&revs).into_diagnostic()?);
    } else {
        for r in &revs {
            println!(
                "revision {}  {}  {}",
                r.revision,
                r.imported_at,
                r.source_path.as_deref().unwrap_or("-")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Every field, for people.
pub fn render(r: &Rule) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let opt = |o: Option<&str>| o.unwrap_or("-").to_string();
    let _ = writeln!(s, "{}", r.name);
    let _ = writeln!(s, "  id:          {}", r.id);
    let _ = writeln!(s, "  kind:        {}", r.kind.as_str());
    let _ = writeln!(s, "  severity:    {}", opt(r.severity.map(|x| x.as_str())));
    let _ = writeln!(s, "  status:      {}", opt(r.status.as_deref()));
    let _ = writeln!(s, "  version:     {}", opt(r.version.as_deref()));
    let _ = writeln!(s, "  tactics:     {}", r.tactics.join(", "));
    let attack = Attack::get();
    let techs: Vec<String> = r
        .all_techniques()
        .map(|t| match attack.technique(t) {
            Some(x) => format!("{t} {}", x.name),
            None => format!("{t} (unknown)"),
        })
        .collect();
    let _ = writeln!(s, "  techniques:  {}", techs.join(", "));
    for c in &r.required_data_connectors {
        let _ = writeln!(s, "  connector:   {} → {}", c.connector_id, c.data_types.join(", "));
    }
    if let Some(p) = &r.query_frequency {
        let _ = writeln!(s, "  frequency:   {}", p.text);
    }
    if let Some(p) = &r.query_period {
        let _ = writeln!(s, "  period:      {}", p.text);
    }
    if let (Some(op), Some(t)) = (r.trigger_operator, r.trigger_threshold) {
        let _ = writeln!(s, "  trigger:     {} {t}", op.short());
    }
    for m in &r.entity_mappings {
        let f: Vec<String> = m
            .field_mappings
            .iter()
            .map(|f| format!("{}={}", f.identifier, f.column_name))
            .collect();
        let _ = writeln!(s, "  entity:      {} ({})", m.entity_type, f.join(", "));
    }
    for d in &r.custom_details {
        let _ = writeln!(s, "  detail:      {} = {}", d.key, d.column);
    }
    if let Some(g) = &r.event_grouping {
        let _ = writeln!(s, "  grouping:    {}", g.aggregation_kind);
    }
    if let Some(a) = &r.alert_details_override {
        let _ = writeln!(s, "  alert:       {}", serde_json::to_string(a).unwrap_or_default());
    }
    if let Some(v) = &r.incident_configuration {
        let _ = writeln!(s, "  incidents:   {v}");
    }
    if let Some(p) = &r.suppression_duration {
        let _ = writeln!(
            s,
            "  suppression: {} (enabled: {})",
            p.text,
            opt(r.suppression_enabled.map(|b| if b { "true" } else { "false" }))
        );
    }
    if !r.tags.is_empty() {
        let t: Vec<String> = r
            .tags
            .iter()
            .map(|t| serde_json::to_string(t).unwrap_or_default())
            .collect();
        let _ = writeln!(s, "  tags:        {}", t.join(", "));
    }
    if let Some(m) = &r.metadata {
        let _ = writeln!(s, "  metadata:    {m}");
    }
    for (k, v) in &r.extra {
        let _ = writeln!(s, "  {k}: {v}  (not a Sentinel field Quarry knows)");
    }
    let _ = writeln!(s, "\ndescription:\n{}", indent(r.description.trim_end()));
    let _ = writeln!(s, "\nquery:\n{}", indent(r.query.trim_end()));
    let e = &r.enrichment;
    if let Some(h) = &e.hunt_hypothesis {
        let _ = writeln!(s, "\nhunt hypothesis:\n{}", indent(h));
    }
    if !e.false_positives.is_empty() {
        let _ = writeln!(s, "\nfalse positives:");
        for (i, fp) in e.false_positives.iter().enumerate() {
            let _ = writeln!(s, "  {}. {}", i + 1, fp.scenario);
            if let Some(x) = &fp.exclusion {
                let _ = writeln!(s, "     exclusion: {x}");
            }
        }
    }
    if let Some(m) = &e.mitre_context {
        let _ = writeln!(s, "\nMITRE ATT&CK context:\n{}", indent(m));
    }
    if !e.references.is_empty() {
        let _ = writeln!(s, "\nreferences:");
        for x in &e.references {
            let _ = writeln!(s, "  {x}");
        }
    }
    let p = &r.provenance;
    let _ = writeln!(s, "\nprovenance:");
    let _ = writeln!(s, "  format:      {}", p.format.as_str());
    for (k, v) in [
        ("file", &p.path),
        ("repository", &p.source_repository),
        ("repo path", &p.source_path),
        ("url", &p.source_url),
        ("retrieved", &p.retrieved),
        ("confidence", &p.confidence),
        ("language", &p.language),
        ("feed tags", &p.feed_tags),
        ("note", &p.disclaimer),
        ("pack", &p.pack),
    ] {
        if let Some(v) = v {
            let _ = writeln!(s, "  {k:<12} {v}", k = format!("{k}:"));
        }
    }
    for a in &p.also_from {
        let _ = writeln!(s, "  also from:   {a}");
    }
    let _ = writeln!(s, "  importer:    {}", p.importer);
    s
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n")
}
