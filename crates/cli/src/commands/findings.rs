//! `quarry findings list|show|set-status`: the stored findings of hunts and their triage.

use super::hunt::{Paint, resolve_run, short_time};
use hunt::{FindingFilter, FindingsStore, StatusUpdate, StoredFinding, TriageStatus};
use miette::{IntoDiagnostic, Result, miette};
use std::io::Write;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Sub,
}

#[derive(clap::Subcommand)]
enum Sub {
    /// List findings, newest activity first (not suppressed ones unless asked).
    List {
        /// Rule id, id prefix, or part of its name.
        #[arg(long)]
        rule: Option<String>,
        /// new, confirmed, false_positive or closed.
        #[arg(long)]
        status: Option<String>,
        /// Part of the device name, or its id.
        #[arg(long)]
        device: Option<String>,
        /// Findings a run saw (a run id, or `latest`).
        #[arg(long)]
        run: Option<String>,
        /// Only the findings suppressed by false-positive exclusions.
        #[arg(long, conflicts_with = "all")]
        suppressed: bool,
        /// Suppressed findings too.
        #[arg(long)]
        all: bool,
        /// At most this many (0: all).
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Everything about a finding: entities, the rows each run saw, triage history.
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Set the triage status of findings: `quarry findings set-status 12 13 confirmed`.
    SetStatus {
        /// The finding ids, then the status (new, confirmed, false_positive, closed).
        #[arg(required = true, num_args = 2.., value_name = "ID… STATUS")]
        args: Vec<String>,
        /// Why (kept in the finding's history).
        #[arg(long)]
        note: Option<String>,
        /// Who (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
}

fn open(global: &crate::Global) -> Result<FindingsStore> {
    FindingsStore::open(&global.data).map_err(|e| miette!("{e}"))
}

fn parse_status(s: &str) -> Result<TriageStatus> {
    TriageStatus::parse(s).ok_or_else(|| {
        let all: Vec<&str> = TriageStatus::ALL.iter().map(|t| t.as_str()).collect();
        miette!("unknown status `{s}` (expected {})", all.join(", "))
    })
}

pub fn run(global: &crate::Global, args: Args) -> Result<ExitCode> {
    match args.command {
        Sub::List {
            rule,
            status,
            device,
            run,
            suppressed,
            all,
            limit,
            json,
        } => {
            let store = open(global)?;
            let filter = FindingFilter {
                rule,
                status: status.as_deref().map(parse_status).transpose()?,
                device,
                run: run.as_deref().map(|r| resolve_run(&store, r)).transpose()?,
                suppressed: if all { None } else { Some(suppressed) },
                limit,
            };
            let found = store.findings(&filter).map_err(|e| miette!("{e}"))?;
            list(global, &found, json)
        }
        Sub::Show { id, json } => show(global, id, json),
        Sub::SetStatus { args, note, by } => {
            let (status, ids) = args
                .split_last()
                .ok_or_else(|| miette!("give finding ids and a status"))?;
            let status = parse_status(status)?;
            let ids: Vec<i64> = ids
                .iter()
                .map(|i| {
                    i.trim_start_matches('#')
                        .parse()
                        .map_err(|_| miette!("`{i}` is not a finding id"))
                })
                .collect::<Result<_>>()?;
            let actor = by
                .or_else(|| std::env::var("USER").ok())
                .filter(|s| !s.trim().is_empty())
                .unwrap_or_else(|| "cli".into());
            let mut store = open(global)?;
            let mut missing = 0;
            for id in ids {
                match store
                    .set_status(id, status, &actor, note.as_deref())
                    .map_err(|e| miette!("{e}"))?
                {
                    StatusUpdate::Changed { from, to } => println!("#{id}: {from} → {to}"),
                    StatusUpdate::Unchanged => println!("#{id}: already {status}"),
                    StatusUpdate::NotFound => {
                        eprintln!("#{id}: no such finding");
                        missing += 1;
                    }
                }
            }
            Ok(if missing > 0 {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

fn list(global: &crate::Global, found: &[StoredFinding], json: bool) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(found).into_diagnostic()?).into_diagnostic()?;
        return Ok(ExitCode::SUCCESS);
    }
    let p = Paint::stdout();
    writeln!(
        out,
        "{:>6}  {:<14}  {:<6}  {:<19}  {:<19}  {:>4}  {:<28}  RULE",
        "ID", "STATUS", "SEV", "FIRST SEEN", "LAST SEEN", "ROWS", "DEVICE"
    )
    .into_diagnostic()?;
    for f in found {
        let status = match (&f.suppressed, f.status) {
            (Some(_), s) => format!("{s}*"),
            (None, s) => s.to_string(),
        };
        writeln!(
            out,
            "{:>6}  {:<14}  {}  {:<19}  {:<19}  {:>4}  {:<28}  {}",
            f.id,
            status,
            p.severity(f.severity),
            short_time(&f.first_seen),
            short_time(&f.last_seen),
            f.row_count,
            f.device_label(),
            f.rule_name
        )
        .into_diagnostic()?;
    }
    if !global.quiet {
        let suppressed = found.iter().filter(|f| f.suppressed.is_some()).count();
        eprintln!(
            "{} finding(s){}",
            found.len(),
            if suppressed > 0 {
                format!(" (* {suppressed} suppressed by exclusions)")
            } else {
                String::new()
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn show(global: &crate::Global, id: i64, json: bool) -> Result<ExitCode> {
    let store = open(global)?;
    let d = store
        .finding(id)
        .map_err(|e| miette!("{e}"))?
        .ok_or_else(|| miette!("no finding #{id}"))?;
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&d).into_diagnostic()?).into_diagnostic()?;
        return Ok(ExitCode::SUCCESS);
    }
    let f = &d.finding;
    let mut s = String::new();
    s.push_str(&format!("finding #{}  {}\n", f.id, f.status));
    s.push_str(&format!(
        "  rule:        {} ({})\n  severity:    {}\n  techniques:  {}\n  tactics:     {}\n",
        f.rule_name,
        f.rule_id,
        f.severity.map(|x| x.as_str()).unwrap_or("-"),
        f.techniques.join(", "),
        f.tactics.join(", ")
    ));
    let dev = f.entities.device.clone().unwrap_or_default();
    s.push_str(&format!(
        "  device:      {}{}\n",
        dev.name.as_deref().unwrap_or("-"),
        dev.id.as_deref().map(|i| format!(" ({i})")).unwrap_or_default()
    ));
    let other = f.entities.summary();
    if !other.is_empty() {
        s.push_str(&format!("  entities:    {other}\n"));
    }
    s.push_str(&format!(
        "  activity:    {} → {}{}\n",
        f.first_seen,
        f.last_seen,
        if f.window == hunt::WindowSource::Query {
            " (the hunt's look-back window: the rows carry no time)"
        } else {
            ""
        }
    ));
    s.push_str(&format!(
        "  runs:        seen by {} run(s), first #{} , latest #{}\n",
        f.runs_seen, f.first_run_id, f.last_run_id
    ));
    if let Some(sup) = &f.suppressed {
        s.push_str(&format!(
            "  suppressed:  by exclusion #{} `{}` ({})\n",
            sup.index + 1,
            sup.exclusion,
            sup.scenario
        ));
    }
    s.push_str("\nhistory:\n");
    for h in &d.history {
        s.push_str(&format!(
            "  {}  {} → {}  by {}{}\n",
            h.at,
            h.old_status.map(|x| x.as_str()).unwrap_or("-"),
            h.new_status,
            h.actor,
            h.note.as_ref().map(|n| format!(": {n}")).unwrap_or_default()
        ));
    }
    for run in &d.runs {
        s.push_str(&format!(
            "\nrows of run #{} ({}): {}\n",
            run.run_id, run.started_at, run.row_count
        ));
        for (i, row) in run.rows.iter().enumerate() {
            s.push_str(&format!("  [{}]\n", i + 1));
            for (k, v) in row {
                let text = match v {
                    serde_json::Value::String(x) => x.clone(),
                    other => other.to_string(),
                };
                s.push_str(&format!("    {k}: {text}\n"));
            }
        }
    }
    write!(out, "{s}").into_diagnostic()?;
    Ok(ExitCode::SUCCESS)
}
