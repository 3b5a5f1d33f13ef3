//! `quarry hunt`: run a pack, rule files or the rule store over the data directory and
//! report findings; `--list-runs` / `--show-run` for the run history.
//!
//! Exit codes (usable in CI): 0 nothing found, 1 findings, 2 an error — the hunt could not
//! run, a rule file could not be read, or a rule was invalid or failed (unless
//! `--ignore-rule-errors`).

use hunt::{
    Finding, FindingsStore, HuntObserver, HuntOptions, Hunter, NowSpec, RuleReport, RuleStatus, RunReport, Selection,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use miette::{IntoDiagnostic, Result, miette};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Findings grouped by rule and device, for people.
    Table,
    /// The whole run report as one JSON document.
    Json,
    /// One JSON object per line: each finding, each rule, then the run (`"type"` says which).
    Jsonl,
    /// One line per finding.
    Csv,
}

#[derive(clap::Args)]
pub struct Args {
    /// Rule files, directories or glob patterns to hunt with (imported for this hunt only).
    /// Default: every rule in the data directory's rule store.
    #[arg(conflicts_with_all = ["pack", "rule"])]
    paths: Vec<PathBuf>,
    /// Hunt with a built-in pack (`rmm`).
    #[arg(long, conflicts_with = "rule")]
    pack: Option<String>,
    /// Hunt with these stored rules only (id, id prefix or name; repeatable).
    #[arg(long)]
    rule: Vec<String>,
    /// The rules' `now()`: `latest` (the newest event in the data), `now` (the wall clock,
    /// the default) or a datetime such as 2024-05-07T12:00:00Z.
    #[arg(long, default_value = "now")]
    now: String,
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Do not record the run and its findings in quarry.db.
    #[arg(long)]
    no_store: bool,
    /// Rules run at the same time (default: one per core).
    #[arg(long, default_value_t = 0)]
    concurrency: usize,
    /// Result rows kept per rule (the rest are counted); 0: all.
    #[arg(long, default_value_t = 10_000)]
    max_rows: usize,
    /// Also list the findings suppressed by false-positive exclusions (table format).
    #[arg(long)]
    show_suppressed: bool,
    /// Print every rule's status and time (table format).
    #[arg(long)]
    timings: bool,
    /// Invalid or failing rules do not make the exit code 2 (they are still reported).
    #[arg(long)]
    ignore_rule_errors: bool,
    /// List the stored hunt runs instead of hunting.
    #[arg(long, conflicts_with_all = ["paths", "pack", "rule", "show_run"])]
    list_runs: bool,
    /// Show a stored run's per-rule report instead of hunting (`latest` for the newest).
    #[arg(long, value_name = "RUN", conflicts_with_all = ["paths", "pack", "rule"])]
    show_run: Option<String>,
    /// How many runs `--list-runs` shows.
    #[arg(long, default_value_t = 20)]
    limit: usize,
}

pub fn run(global: &crate::Global, args: Args) -> Result<ExitCode> {
    if args.list_runs {
        return list_runs(global, &args);
    }
    if let Some(run) = &args.show_run {
        return show_run(global, run, args.format);
    }
    let selection = if let Some(p) = &args.pack {
        Selection::Pack(p.clone())
    } else if !args.paths.is_empty() {
        Selection::Files(args.paths.clone())
    } else {
        Selection::Store(args.rule.clone())
    };
    if matches!(&selection, Selection::Store(ids) if ids.is_empty()) {
        let count = rules::RuleStore::open(&global.data)
            .and_then(|s| s.count())
            .into_diagnostic()?;
        if count == 0 {
            return Err(miette!(
                "no rules in {}: import some with `quarry rules import PATH`, or hunt with `--pack rmm` or rule files",
                global.data.join(rules::store::DB_FILE).display()
            ));
        }
    }
    let now = NowSpec::parse(&args.now).map_err(|e| miette!("--now: {e}"))?;
    let options = HuntOptions {
        now,
        concurrency: args.concurrency,
        max_rows_per_rule: args.max_rows,
        persist: !args.no_store,
    };
    let progress = Progress::new(!global.quiet);
    let report = Hunter::new(&global.data)
        .run(&selection, &options, &progress)
        .map_err(|e| miette!("{e}"))?;
    progress.finish();
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Table => {
            let view = View {
                paint: Paint::stdout(),
                show_suppressed: args.show_suppressed,
                timings: args.timings,
            };
            write!(out, "{}", render_report(&report, &global.data, &view)).into_diagnostic()?;
        }
        Format::Json => {
            writeln!(out, "{}", serde_json::to_string_pretty(&report).into_diagnostic()?).into_diagnostic()?
        }
        Format::Jsonl => write!(out, "{}", jsonl(&report)?).into_diagnostic()?,
        Format::Csv => write!(out, "{}", csv(&report)).into_diagnostic()?,
    }
    if args.format != Format::Table && !global.quiet {
        eprintln!("{}", summary_line(&report, &Paint(false)));
        for line in problem_lines(&report) {
            eprintln!("{line}");
        }
    }
    Ok(exit_code(&report, args.ignore_rule_errors))
}

/// 2 on errors, 1 when something was found, 0 otherwise.
pub fn exit_code(report: &RunReport, ignore_rule_errors: bool) -> ExitCode {
    let load_errors = report.load_diagnostics.iter().any(|d| d.level == rules::Level::Error);
    let rule_errors = report.rules.iter().any(|r| r.status.is_error());
    if load_errors || (rule_errors && !ignore_rule_errors) {
        ExitCode::from(2)
    } else if report.active_findings().next().is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// A progress bar over the rules on stderr (hidden when quiet or not a terminal).
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    pub fn new(visible: bool) -> Progress {
        let bar = ProgressBar::new(0);
        bar.set_draw_target(if visible && std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        });
        if let Ok(style) =
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} rules {msg}")
        {
            bar.set_style(style);
        }
        Progress { bar }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl HuntObserver for Progress {
    fn planned(&self, rules: usize) {
        self.bar.set_length(rules as u64);
    }

    fn rule_started(&self, rule: &rules::Rule) {
        self.bar.set_message(rule.name.clone());
    }

    fn rule_finished(&self, _report: &RuleReport) {
        self.bar.inc(1);
    }
}

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
}

/// `2024-05-03T09:12:44.1234567Z` → `2024-05-03 09:12:44`.
pub fn short_time(t: &str) -> String {
    let t = t.trim_end_matches('Z').replace('T', " ");
    t.split('.').next().unwrap_or(&t).to_string()
}

fn ms(x: f64) -> String {
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

fn jsonl(r: &RunReport) -> Result<String> {
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

fn csv(r: &RunReport) -> String {
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

fn open_store(global: &crate::Global) -> Result<FindingsStore> {
    FindingsStore::open(&global.data).map_err(|e| miette!("{e}"))
}

/// A run id, or `latest`.
pub fn resolve_run(store: &FindingsStore, text: &str) -> Result<i64> {
    if text.trim().eq_ignore_ascii_case("latest") {
        return store
            .latest_run()
            .map_err(|e| miette!("{e}"))?
            .ok_or_else(|| miette!("no hunt runs yet (run `quarry hunt`)"));
    }
    text.trim()
        .trim_start_matches('#')
        .parse()
        .map_err(|_| miette!("`{text}` is not a run id (a number, or `latest`)"))
}

fn list_runs(global: &crate::Global, args: &Args) -> Result<ExitCode> {
    let store = open_store(global)?;
    let runs = store.runs(args.limit).map_err(|e| miette!("{e}"))?;
    let mut out = std::io::stdout().lock();
    if matches!(args.format, Format::Json | Format::Jsonl) {
        if args.format == Format::Json {
            writeln!(out, "{}", serde_json::to_string_pretty(&runs).into_diagnostic()?).into_diagnostic()?;
        } else {
            for r in &runs {
                writeln!(out, "{}", serde_json::to_string(r).into_diagnostic()?).into_diagnostic()?;
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "{:>5}  {:<24}  {:<9}  {:<30}  {:>5} {:>5} {:>5} {:>5}  {:>8} {:>5}  {:>9}  SELECTION",
        "RUN", "STARTED", "STATUS", "NOW()", "RULES", "SKIP", "INVAL", "FAIL", "FINDINGS", "NEW", "TIME"
    )
    .into_diagnostic()?;
    for r in &runs {
        writeln!(
            out,
            "{:>5}  {:<24}  {:<9}  {:<30}  {:>5} {:>5} {:>5} {:>5}  {:>8} {:>5}  {:>9}  {}",
            r.id,
            r.started_at,
            r.status.as_str(),
            format!("{} ({})", short_time(&r.now), r.now_mode.replace('_', " ")),
            r.rules_total,
            r.rules_skipped,
            r.rules_invalid,
            r.rules_failed,
            r.findings,
            r.new_findings,
            r.elapsed_ms.map(ms).unwrap_or_else(|| "-".into()),
            r.selection
        )
        .into_diagnostic()?;
    }
    if runs.is_empty() && !global.quiet {
        eprintln!("no hunt runs in {}", global.data.join(rules::store::DB_FILE).display());
    }
    Ok(ExitCode::SUCCESS)
}

fn show_run(global: &crate::Global, run: &str, format: Format) -> Result<ExitCode> {
    let store = open_store(global)?;
    let id = resolve_run(&store, run)?;
    let detail = store
        .run(id)
        .map_err(|e| miette!("{e}"))?
        .ok_or_else(|| miette!("no hunt run #{id}"))?;
    let mut out = std::io::stdout().lock();
    if format != Format::Table {
        writeln!(out, "{}", serde_json::to_string_pretty(&detail).into_diagnostic()?).into_diagnostic()?;
        return Ok(ExitCode::SUCCESS);
    }
    let r = &detail.run;
    writeln!(
        out,
        "run #{}  {}  {}  now() = {} ({})\n  selection: {}\n  started {}, finished {}; {} rule(s): {} ran, {} skipped, {} invalid, {} failed; {} finding(s), {} new, {} suppressed",
        r.id,
        r.status.as_str(),
        r.elapsed_ms.map(ms).unwrap_or_default(),
        r.now,
        r.now_mode.replace('_', " "),
        r.selection,
        r.started_at,
        r.finished_at.as_deref().unwrap_or("-"),
        r.rules_total,
        r.rules_ran,
        r.rules_skipped,
        r.rules_invalid,
        r.rules_failed,
        r.findings,
        r.new_findings,
        r.suppressed_findings
    )
    .into_diagnostic()?;
    if let Some(e) = &r.error {
        writeln!(out, "  error: {e}").into_diagnostic()?;
    }
    for d in &detail.load_diagnostics {
        writeln!(out, "  {d}").into_diagnostic()?;
    }
    writeln!(out).into_diagnostic()?;
    for rule in &detail.rules {
        writeln!(
            out,
            "  {:<8} {:>9} {:>6} rows {:>4} findings  {}{}",
            rule.status.as_str(),
            ms(rule.elapsed_ms),
            rule.rows,
            rule.findings,
            rule.rule_name,
            rule.message.as_ref().map(|m| format!(" — {m}")).unwrap_or_default()
        )
        .into_diagnostic()?;
    }
    Ok(ExitCode::SUCCESS)
}
