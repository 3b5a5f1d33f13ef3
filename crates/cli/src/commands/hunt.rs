//! `quarry hunt`: run a pack, rule files or the rule store over the data directory and
//! report findings; `--list-runs` / `--show-run` for the run history.
//!
//! Exit codes (usable in CI): 0 nothing found, 1 findings, 2 an error — the hunt could not
//! run, a rule file could not be read, or a rule was invalid or failed (unless
//! `--ignore-rule-errors`).

mod render;

pub use render::{Paint, View, render_report, short_time};

use hunt::{FindingsStore, HuntObserver, HuntOptions, Hunter, NowSpec, RuleReport, RunReport, Selection};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use miette::{IntoDiagnostic, Result, miette};
use render::{csv, jsonl, ms, problem_lines, summary_line};
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
    /// Print every rule's status and time, and the shared scans (table format).
    #[arg(long)]
    timings: bool,
    /// Every rule scans its tables on its own instead of sharing one scan per table with
    /// the other rules that filter it (same results; for comparison).
    #[arg(long)]
    no_fuse: bool,
    /// Memory the query engine may use before sorts and aggregations spill to disk
    /// (e.g. 512MiB, 4GB, 2G, 50%); default: half the machine's memory.
    #[arg(long, value_name = "SIZE", value_parser = engine::parse_byte_size)]
    memory_limit: Option<usize>,
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
        fused: !args.no_fuse,
        memory_limit: args.memory_limit,
    };
    let progress = Progress::new(!global.quiet);
    let disk = store::disk_reads();
    let report = Hunter::new(&global.data)
        .run(&selection, &options, &progress)
        .map_err(|e| miette!("{e}"))?;
    let disk_read_bytes = disk.zip(store::disk_reads()).map(|(a, b)| b.saturating_sub(a));
    progress.finish();
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Table => {
            let view = View {
                paint: Paint::stdout(),
                show_suppressed: args.show_suppressed,
                timings: args.timings,
                disk_read_bytes,
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

    fn sharing(&self, tables: &[String]) {
        self.bar.set_message(format!(
            "reading {} once for the rules that filter it",
            tables.join(", ")
        ));
    }

    fn rule_started(&self, rule: &rules::Rule) {
        self.bar.set_message(rule.name.clone());
    }

    fn rule_finished(&self, _report: &RuleReport) {
        self.bar.inc(1);
    }
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
    if args.format == Format::Csv {
        return Err(miette!(
            "--list-runs prints a table, JSON or JSON Lines; --format csv is for findings"
        ));
    }
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
    match format {
        Format::Table => {}
        Format::Json => {
            writeln!(out, "{}", serde_json::to_string_pretty(&detail).into_diagnostic()?).into_diagnostic()?;
            return Ok(ExitCode::SUCCESS);
        }
        Format::Jsonl => {
            writeln!(out, "{}", serde_json::to_string(&detail).into_diagnostic()?).into_diagnostic()?;
            return Ok(ExitCode::SUCCESS);
        }
        Format::Csv => {
            return Err(miette!(
                "--show-run prints a table, JSON or JSON Lines, not CSV; its findings: `quarry findings list --run {id}`"
            ));
        }
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
