//! `quarry demo`: sample telemetry with planted RMM tools (generated once), the four seed
//! rules and the RMM pack imported into the rule store, a hunt with `now()` at the newest
//! event, and the findings grouped by rule and device. Re-running reuses the data and the
//! findings store (the second run finds the same findings, none new).

use super::hunt::{Paint, Progress, View, render_report};
use hunt::{DataFacts, HuntOptions, Hunter, NowSpec, Selection};
use miette::{IntoDiagnostic, Result, miette};
use rules::{RuleStore, Upsert};
use std::process::ExitCode;
use store::{DataDir, GenerateConfig, Output};

#[derive(clap::Args)]
pub struct Args {
    /// Devices in the sample data (when it has to be generated).
    #[arg(long, default_value_t = 150)]
    devices: usize,
    /// Days of sample data, ending today.
    #[arg(long, default_value_t = 7)]
    days: u32,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Also show the findings suppressed by false-positive exclusions.
    #[arg(long)]
    show_suppressed: bool,
}

/// Fractions of the sample devices with a planted RMM tool and with a benign look-alike:
/// 150 devices plant every one of the 59 tools once (60 devices) next to 30 look-alikes.
const RMM_FRACTION: f64 = 0.4;
const LOOKALIKE_FRACTION: f64 = 0.2;
/// A fiftieth of the generator's realistic volume keeps the demo to seconds; every planted
/// signal is there regardless of volume.
const VOLUME: f64 = 0.02;

pub fn run(global: &crate::Global, args: Args) -> Result<ExitCode> {
    let started = std::time::Instant::now();
    let p = Paint::stdout();
    let data = &global.data;
    let dir = DataDir::open(data);
    let facts = DataFacts::read(&dir, false).map_err(|e| miette!("{e}"))?;
    if facts.tables.is_empty() {
        if args.days == 0 || args.devices == 0 {
            return Err(miette!("--devices and --days must be at least 1"));
        }
        println!(
            "{} sample Defender telemetry in {}: {} devices over {} days, RMM tools planted on some, look-alikes on others…",
            p.bold("Generating"),
            data.display(),
            args.devices,
            args.days
        );
        let cfg = GenerateConfig {
            devices: args.devices,
            days: args.days,
            start: chrono::Utc::now().date_naive() - chrono::Duration::days(i64::from(args.days) - 1),
            seed: args.seed,
            rmm_fraction: RMM_FRACTION,
            lookalike_fraction: LOOKALIKE_FRACTION,
            tools: None,
            volume: VOLUME,
            output: Output::DataDir(data.clone()),
            threads: 0,
            progress: store::Progress::new(!global.quiet),
        };
        let t0 = std::time::Instant::now();
        let truth = store::generate(&cfg).map_err(|e| miette!("{e}"))?;
        let planted: std::collections::BTreeSet<&str> = truth
            .planted
            .iter()
            .filter(|x| !x.lookalike)
            .map(|x| x.device_id.as_str())
            .collect();
        let lookalikes: std::collections::BTreeSet<&str> = truth
            .planted
            .iter()
            .filter(|x| x.lookalike)
            .map(|x| x.device_id.as_str())
            .collect();
        println!(
            "  {} events in {:.1} s; RMM tools on {} devices, look-alikes on {} (ground truth: {})",
            truth.total_rows(),
            t0.elapsed().as_secs_f64(),
            planted.len(),
            lookalikes.len(),
            truth.path.as_ref().map(|x| x.display().to_string()).unwrap_or_default()
        );
    } else {
        println!(
            "{} the telemetry already in {} ({} tables); `quarry tables` lists it.",
            p.bold("Using"),
            data.display(),
            facts.tables.len()
        );
    }

    let (seeds, seed_diags) = hunt::seeds::seed_rules();
    for d in seed_diags.iter().filter(|d| d.level == rules::Level::Error) {
        eprintln!("{d}");
    }
    let pack = rules::packs::rmm();
    let mut store = RuleStore::open(data).into_diagnostic()?;
    let mut added = 0;
    for (rule, text) in &seeds {
        if store.upsert(rule, Some(text)).into_diagnostic()? != Upsert::Unchanged {
            added += 1;
        }
    }
    for rule in &pack {
        if store.upsert(rule, None).into_diagnostic()? != Upsert::Unchanged {
            added += 1;
        }
    }
    drop(store);
    println!(
        "{} the {} seed rules (SOC-feed pages) and the {} rules of the RMM pack into the rule store ({added} new or changed).",
        p.bold("Imported"),
        seeds.len(),
        pack.len()
    );

    let mut rules: Vec<rules::Rule> = seeds.into_iter().map(|(r, _)| r).collect();
    rules.extend(pack);
    let selection = Selection::Rules {
        label: "demo: seed rules + pack rmm".into(),
        rules,
    };
    let options = HuntOptions {
        now: NowSpec::Latest,
        ..HuntOptions::default()
    };
    println!("{} with now() = the newest event in the data…", p.bold("Hunting"));
    let progress = Progress::new(!global.quiet);
    let report = Hunter::new(data)
        .run(&selection, &options, &progress)
        .map_err(|e| miette!("{e}"))?;
    progress.finish();
    let view = View {
        paint: p,
        show_suppressed: args.show_suppressed,
        timings: false,
        disk_read_bytes: None,
    };
    print!("{}", render_report(&report, data, &view));
    let data_arg = if data.as_os_str() == "quarry-data" {
        String::new()
    } else {
        format!(" --data {}", data.display())
    };
    let run = report.run_id.map(|id| format!("hunts/{id}")).unwrap_or_default();
    println!(
        "\n{} quarry serve{data_arg}   (or: cargo run --release -- serve{data_arg})\n  then open http://127.0.0.1:8080/{run}",
        p.bold("Open the findings in the web UI:")
    );
    println!(
        "{}",
        p.dim(&format!(
            "Triage from the command line: quarry findings list{data_arg}; quarry findings set-status ID confirmed. Demo done in {:.1} s.",
            started.elapsed().as_secs_f64()
        ))
    );
    Ok(ExitCode::SUCCESS)
}
