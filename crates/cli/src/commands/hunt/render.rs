//! `quarry hunt`'s output: findings grouped by rule and device for people (ANSI colours
//! on a terminal), JSON Lines and CSV.

use hunt::{Finding, RuleReport, RuleStatus, RunReport};
use miette::{IntoDiagnostic, Result};
use std::io::IsTerminal;

/// ANSI colours, when writing to a terminal and `NO_COLOR` is not set.
#[derive(Clone, Copy)]
pub struct Paint(pub bool);

impl Paint {
    pub fn stdout() -> Paint {
        Paint(std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none())
    }

    fn wrap(&self, code: &str, s: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    pub fn bold(&self, s: &str) -> String {
        self.wrap("1", s)
    }
    pub fn dim(&self, s: &str) -> String {
        self.wrap("2", s)
    }
    pub fn red(&self, s: &str) -> String {
        self.wrap("31", s)
    }
    pub fn green(&self, s: &str) -> String {
        self.wrap("32", s)
    }
    pub fn yellow(&self, s: &str) -> String {
        self.wrap("33", s)
    }
    pub fn blue(&self, s: &str) -> String {
        self.wrap("34", s)
    }
    pub fn cyan(&self, s: &str) -> String {
        self.wrap("36", s)
    }

    pub fn severity(&self, s: Option<rules::Severity>) -> String {
        let text = s.map(|s| s.as_str().to_uppercase()).unwrap_or_else(|| "-".into());
        let padded = format!("{text:<6}");
        match s {
            Some(rules::Severity::High) => self.red(&padded),
            Some(rules::Severity::Medium) => self.yellow(&padded),
            Some(rules::Severity::Low) => self.blue(&padded),
            _ => self.dim(&padded),
        }
    }
}

/// How a report is shown.
pub struct View {
    pub paint: Paint,
    pub show_suppressed: bool,
    pub timings: bool,
    /// With `timings`: what the hunt read from the disk rather than the page cache.
    pub disk_read_bytes: Option<u64>,
}

/// `2024-05-03T09:12:44.1234567Z` → `2024-05-03 09:12:44`.
pub fn short_time(t: &str) -> String {
    let t = t.trim_end_matches('Z').replace('T', " ");
    t.split('.').next().unwrap_or(&t).to_string()
}

pub fn ms(x: f64) -> String {
    if x >= 1000.0 {
        format!("{:.2} s", x / 1000.0)
    } else {
        format!("{x:.0} ms")
    }
}

/// `Hunted 134 rules … — run #3` and the counts.
pub fn summary_line(r: &RunReport, p: &Paint) -> String {
    let active = r.active_findings().count();
    let new = r.active_findings().filter(|f| f.is_new).count();
    let suppressed = r.suppressed_findings().count();
    let run = r.run_id.map(|id| format!(" — run #{id}")).unwrap_or_default();
    let mut counts = vec![format!("{} ran", r.count(RuleStatus::Ran))];
    for (status, label) in [
        (RuleStatus::Skipped, "skipped (no data)"),
        (RuleStatus::Invalid, "invalid"),
        (RuleStatus::Failed, "failed"),
    ] {
        let n = r.count(status);
        if n > 0 {
            counts.push(format!("{n} {label}"));
        }
    }
    let found = if r.run_id.is_some() {
        format!("{active} finding(s) ({new} new)")
    } else {
        format!("{active} finding(s)")
    };
    let suppressed = if suppressed > 0 {
        format!(", {suppressed} suppressed by exclusions")
    } else {
        String::new()
    };
    format!(
        "{} {} rule(s) with now() = {} ({}) in {}{run}: {}; {found}{suppressed}",
        p.bold("Hunted"),
        r.rules.len(),
        r.now,
        r.now_mode.replace('_', " "),
        ms(r.elapsed_ms),
        counts.join(", "),
    )
}

/// Skipped, invalid and failed rules, and rule files that could not be read.
pub fn problem_lines(r: &RunReport) -> Vec<String> {
    let mut out = Vec::new();
    for d in r.load_diagnostics.iter().filter(|d| d.level == rules::Level::Error) {
        out.push(format!("  error: {d}"));
    }
    // Skipped rules, by reason: named when few, counted when many.
    let mut skipped: Vec<(&str, Vec<&str>)> = Vec::new();
    for rule in r.rules.iter().filter(|x| x.status == RuleStatus::Skipped) {
        let why = rule.message.as_deref().unwrap_or("no data");
        match skipped.iter_mut().find(|(w, _)| *w == why) {
            Some((_, names)) => names.push(&rule.rule_name),
            None => skipped.push((why, vec![&rule.rule_name])),
        }
    }
    for (why, names) in &skipped {
        if names.len() > 3 {
            out.push(format!("  skipped: {} rules — {why}", names.len()));
        } else {
            for n in names {
                out.push(format!("  skipped: {n} — {why}"));
            }
        }
    }
    if !r.rules.is_empty() && r.count(RuleStatus::Skipped) == r.rules.len() {
        out.push("  (the data directory has no telemetry for these rules: `quarry ingest` exports or `quarry generate` sample data)".into());
    }
    for rule in &r.rules {
        match rule.status {
            RuleStatus::Ran | RuleStatus::Skipped => {}
            RuleStatus::Invalid | RuleStatus::Failed => {
                out.push(format!("  {}: {}", rule.status.as_str(), rule.rule_name));
                let errors: Vec<_> = rule
                    .diagnostics
                    .iter()
                    .filter(|d| d.level == rules::Level::Error)
                    .collect();
                if errors.is_empty() {
                    out.push(format!("      {}", rule.message.as_deref().unwrap_or("")));
                }
                for d in errors {
                    out.push(format!("      {d}"));
                }
            }
        }
    }
    out
}

fn finding_line(f: &Finding, p: &Paint) -> String {
    let id = f.id.map(|i| format!("#{i} ")).unwrap_or_default();
    let state = if f.suppressed.is_some() {
        p.dim("suppressed")
    } else if f.is_new {
        p.green("new")
    } else {
        p.cyan(f.status.as_str())
    };
    let rows = if f.rows.len() == 1 {
        "1 row".to_string()
    } else {
        format!("{} rows", f.rows.len())
    };
    let window = if f.first_seen == f.last_seen {
        short_time(&f.first_seen)
    } else {
        format!("{} → {}", short_time(&f.first_seen), short_time(&f.last_seen))
    };
    let entities = f.entities.summary();
    let mut line = format!("{}{state}  {window}  {rows}", p.dim(&id));
    if !entities.is_empty() {
        line.push_str(&format!("  {}", p.dim(&entities)));
    }
    line
}

/// Findings grouped by rule (in rule order) and device, then the rules that did not run.
pub fn render_report(r: &RunReport, data: &std::path::Path, view: &View) -> String {
    let p = &view.paint;
    let mut s = String::new();
    let mut shown_any = false;
    for rule in &r.rules {
        let findings: Vec<&Finding> = r
            .findings
            .iter()
            .filter(|f| f.rule_id == rule.rule_id && (view.show_suppressed || f.suppressed.is_none()))
            .collect();
        if findings.is_empty() {
            continue;
        }
        shown_any = true;
        let active = findings.iter().filter(|f| f.suppressed.is_none()).count();
        let devices: std::collections::BTreeSet<&str> = findings.iter().map(|f| f.device_label()).collect();
        let active_devices = findings
            .iter()
            .filter(|f| f.suppressed.is_none())
            .map(|f| f.device_label())
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        let techniques = findings
            .first()
            .map(|f| f.techniques.join(", "))
            .filter(|t| !t.is_empty())
            .map(|t| format!(" ({t})"))
            .unwrap_or_default();
        s.push_str(&format!(
            "\n{} {}{}\n    {} finding(s) on {} device(s), {} row(s), {}",
            p.severity(rule.severity),
            p.bold(&rule.rule_name),
            p.dim(&techniques),
            active,
            active_devices,
            rule.rows,
            ms(rule.elapsed_ms)
        ));
        if rule.suppressed_rows > 0 {
            s.push_str(&format!("; {} row(s) suppressed by exclusions", rule.suppressed_rows));
        }
        if rule.truncated {
            s.push_str(&p.yellow("; rows beyond --max-rows were counted, not kept"));
        }
        s.push('\n');
        // One line per finding, the device named on its first.
        let width = devices.iter().map(|d| d.chars().count()).max().unwrap_or(0);
        let mut last_device: Option<&str> = None;
        for f in &findings {
            let device = f.device_label();
            let shown = if last_device == Some(device) { "" } else { device };
            last_device = Some(device);
            let pad = " ".repeat(width.saturating_sub(shown.chars().count()));
            s.push_str(&format!("    {}{pad}  {}\n", p.bold(shown), finding_line(f, p)));
            if let Some(sup) = &f.suppressed {
                s.push_str(&format!(
                    "        {}\n",
                    p.dim(&format!("by exclusion #{}: {}", sup.index + 1, sup.exclusion))
                ));
            }
        }
    }
    if !shown_any {
        s.push_str(&format!("\n{}\n", p.green("No findings.")));
    }
    let hidden = r.suppressed_findings().count();
    if hidden > 0 && !view.show_suppressed {
        s.push_str(&p.dim(&format!(
            "\n{hidden} finding(s) suppressed by false-positive exclusions are kept; see them with --show-suppressed or `quarry findings list --suppressed`.\n"
        )));
    }
    let not_applied: usize = r
        .rules
        .iter()
        .map(|x| x.exclusions.iter().filter(|e| !e.plan.applied()).count())
        .sum();
    if not_applied > 0 {
        s.push_str(&p.dim(&format!(
            "{not_applied} exclusion(s) could not be applied (prose or invalid KQL); `quarry check` on the rule files says why.\n"
        )));
    }
    let problems = problem_lines(r);
    if !problems.is_empty() {
        s.push('\n');
        for line in problems {
            s.push_str(&p.yellow(&line));
            s.push('\n');
        }
    }
    if view.timings {
        let phases = &r.phases;
        let disk = view
            .disk_read_bytes
            .map(|b| format!("; read from the disk: {}", engine::memory::format_bytes(b)))
            .unwrap_or_default();
        s.push_str(&format!(
            "\n{} setting up {}, preparing {} rule(s) {}, shared scans {}, running the rules {}{disk}\n",
            p.bold("Phases:"),
            ms(phases.setup_ms),
            r.rules.len(),
            ms(phases.prepare_ms),
            ms(phases.scans_ms),
            ms(phases.runs_ms)
        ));
        s.push_str(&format!("\n{}\n", p.bold("Rules:")));
        let mut rules: Vec<&RuleReport> = r.rules.iter().collect();
        rules.sort_by(|a, b| b.elapsed_ms.total_cmp(&a.elapsed_ms));
        for rule in rules {
            s.push_str(&format!(
                "  {:>9}  {:<8} {:>6} rows  {}\n",
                ms(rule.elapsed_ms),
                rule.status.as_str(),
                rule.rows,
                rule.rule_name
            ));
        }
        if !r.shared_scans.is_empty() {
            s.push_str(&format!(
                "\n{}\n",
                p.bold("Shared scans (one read of a table for several rules, or for one rule's exclusion slices):")
            ));
            for scan in &r.shared_scans {
                let what = match &scan.abandoned {
                    Some(why) => p.yellow(&format!("not shared: {why}")),
                    None if scan.keys.is_empty() => format!(
                        "{} row(s) kept, {:.1} MiB",
                        scan.rows,
                        scan.bytes as f64 / (1 << 20) as f64
                    ),
                    None => format!(
                        "{} row(s) kept, {:.1} MiB, found by {}",
                        scan.rows,
                        scan.bytes as f64 / (1 << 20) as f64,
                        scan.keys.join(", ")
                    ),
                };
                s.push_str(&format!(
                    "  {:>9}  {:<28} {:>4} rule{}  {what}\n",
                    ms(scan.elapsed_ms),
                    scan.table,
                    scan.rules,
                    if scan.rules == 1 { " " } else { "s" }
                ));
            }
        }
    }
    s.push('\n');
    s.push_str(&summary_line(r, p));
    s.push('\n');
    if let Some(id) = r.run_id {
        s.push_str(&p.dim(&format!(
            "Stored in {}: `quarry findings list --run {id}`, `quarry findings show ID`.\n",
            data.join(rules::store::DB_FILE).display()
        )));
    }
    s
}

pub fn jsonl(r: &RunReport) -> Result<String> {
    let mut s = String::new();
    let tagged = |kind: &str, v: serde_json::Value| -> serde_json::Value {
        let mut m = serde_json::Map::new();
        m.insert("type".into(), serde_json::Value::String(kind.into()));
        if let serde_json::Value::Object(o) = v {
            m.extend(o);
        }
        serde_json::Value::Object(m)
    };
    for f in &r.findings {
        s.push_str(&tagged("finding", serde_json::to_value(f).into_diagnostic()?).to_string());
        s.push('\n');
    }
    for rule in &r.rules {
        s.push_str(&tagged("rule", serde_json::to_value(rule).into_diagnostic()?).to_string());
        s.push('\n');
    }
    let mut run = serde_json::to_value(r).into_diagnostic()?;
    if let serde_json::Value::Object(o) = &mut run {
        o.remove("findings");
        o.remove("rules");
    }
    s.push_str(&tagged("run", run).to_string());
    s.push('\n');
    Ok(s)
}

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

pub fn csv(r: &RunReport) -> String {
    let mut s = String::from(
        "run_id,finding_id,new,status,suppressed_by,rule_id,rule_name,severity,techniques,device_id,device_name,accounts,file_hashes,urls,ips,first_seen,last_seen,rows\n",
    );
    for f in &r.findings {
        let device = f.entities.device.clone().unwrap_or_default();
        let hashes: Vec<String> = f
            .entities
            .file_hashes
            .iter()
            .map(|h| format!("{}:{}", h.algorithm, h.value))
            .collect();
        let cells = [
            r.run_id.map(|i| i.to_string()).unwrap_or_default(),
            f.id.map(|i| i.to_string()).unwrap_or_default(),
            f.is_new.to_string(),
            f.status.as_str().to_string(),
            f.suppressed.as_ref().map(|x| x.exclusion.clone()).unwrap_or_default(),
            f.rule_id.clone(),
            f.rule_name.clone(),
            f.severity.map(|x| x.as_str().to_string()).unwrap_or_default(),
            f.techniques.join(" "),
            device.id.unwrap_or_default(),
            device.name.unwrap_or_default(),
            f.entities.accounts.join(" "),
            hashes.join(" "),
            f.entities.urls.join(" "),
            f.entities.ips.join(" "),
            f.first_seen.clone(),
            f.last_seen.clone(),
            f.rows.len().to_string(),
        ];
        let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        s.push_str(&line.join(","));
        s.push('\n');
    }
    s
}
