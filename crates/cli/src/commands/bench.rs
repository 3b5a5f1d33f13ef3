//! `quarry bench`: end-to-end benchmarks over generated data — each seed rule alone, the
//! RMM pack fused and unfused, its slowest rule alone, a heavy query set, and ingest of
//! Defender streaming JSON — with wall time, rows/s, bytes scanned/s and peak memory, as
//! a table and as JSON that a later run can be compared with (see docs/performance.md).

mod cases;
mod data;
mod measure;
mod report;

use miette::{IntoDiagnostic, Result, WrapErr, miette};
use report::{BenchReport, Machine};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Rows in the main tables: 1m, 10m, 100m (or any count such as 250k).
    #[arg(long, default_value = "1m", value_parser = data::Scale::parse)]
    scale: data::Scale,
    /// Where the generated data is kept and reused (default: target/quarry-bench/<scale>).
    #[arg(long, value_name = "DIR")]
    work: Option<PathBuf>,
    /// Run only these cases (names or prefixes, comma-separated: `seed,pack-rmm-fused`).
    #[arg(long, value_delimiter = ',', value_name = "CASES")]
    cases: Vec<String>,
    /// List the cases and exit.
    #[arg(long)]
    list: bool,
    /// Also write the results as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Print the results next to those of an earlier run (its `--json` file).
    #[arg(long, value_name = "OLD.json")]
    compare: Option<PathBuf>,
    /// With --compare: compare with this earlier run's results instead of running.
    #[arg(long, value_name = "NEW.json", requires = "compare")]
    results: Option<PathBuf>,
    /// Memory the query engine may use before sorts and aggregations spill to disk
    /// (e.g. 512MiB, 4GB, 2G, 50%); default: half the machine's memory.
    #[arg(long, value_name = "SIZE", value_parser = engine::parse_byte_size)]
    memory_limit: Option<usize>,
    /// Seed of the generated data.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Generate the data again even if the work directory holds it.
    #[arg(long)]
    regenerate: bool,
    /// Run each case this many times and report its median run (and the range of the
    /// runs' wall times): steadier figures for short cases on a busy machine.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    repeat: u32,
    /// Drop the benchmark's files from the page cache before every timed run (Linux): the
    /// figures of data read from the disk, as when the telemetry is larger than memory or
    /// was not read lately. Default: the data is read before every case (warm).
    #[arg(long)]
    cold: bool,
}

fn read_report(path: &std::path::Path) -> Result<BenchReport> {
    let text = std::fs::read_to_string(path)
        .into_diagnostic()
        .wrap_err_with(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| {
        miette!(
            "{}: not the JSON of quarry bench --json: {e} (line {}, column {})",
            path.display(),
            e.line(),
            e.column()
        )
    })
}

pub fn run(global: &crate::Global, args: Args) -> Result<ExitCode> {
    let quiet = global.quiet;
    let say = |m: &str| {
        if !quiet {
            eprintln!("[bench] {m}");
        }
    };
    if args.list {
        for c in cases::all() {
            println!("{}", c.name);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let old = args.compare.as_deref().map(read_report).transpose()?;
    if let (Some(old), Some(new)) = (&old, &args.results) {
        print!("{}", report::compare(old, &read_report(new)?));
        return Ok(ExitCode::SUCCESS);
    }
    let selected = cases::select(cases::all(), &args.cases).map_err(|e| miette!("{e}"))?;

    let work = data::Work {
        root: args
            .work
            .clone()
            .unwrap_or_else(|| PathBuf::from("target/quarry-bench").join(args.scale.label())),
    };
    let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut dataset = data::prepare(&work, args.scale, args.seed, args.regenerate, !quiet, &say)?;
    if selected.iter().any(|c| matches!(c.kind, cases::Kind::Ingest)) {
        data::ensure_streaming_json(&work, &mut dataset, &say)?;
    }
    if args.cold {
        say("dropping the data from the page cache before every run (cold)");
        store::drop_from_page_cache(&work.root)
            .into_diagnostic()
            .wrap_err("--cold")?;
    } else {
        say("reading the data before every case (warm page cache)");
    }
    let mut cx = cases::Context::new(&work, &dataset, args.memory_limit, args.cold).map_err(|e| miette!("{e}"))?;
    let mut results = Vec::new();
    for case in &selected {
        say(&format!("{} …", case.name));
        if !args.cold {
            // Before every case, not once: the kernel may page out data idle for a while
            // (30 s on the development machine), and a case would then read it from disk.
            data::warm(&work.data());
        }
        let runs = (0..args.repeat).map(|_| cases::run(case, &mut cx)).collect();
        let Some(r) = report::median_run(runs) else { continue };
        match &r.error {
            Some(e) => say(&format!("{}: FAILED after {:.2} s: {e}", r.name, r.wall_s)),
            None => say(&format!("{}: {:.2} s", r.name, r.wall_s)),
        }
        results.push(r);
    }
    let report = BenchReport {
        quarry_version: env!("CARGO_PKG_VERSION").to_string(),
        started_at,
        machine: Machine::this(),
        scale: args.scale.label(),
        dataset,
        memory_limit: args.memory_limit.unwrap_or_else(engine::default_memory_limit) as u64,
        repeat: args.repeat,
        cold: args.cold,
        cases: results,
    };
    print!("{}", report.table());
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report).into_diagnostic()?;
        std::fs::write(path, text + "\n")
            .into_diagnostic()
            .wrap_err_with(|| format!("writing {}", path.display()))?;
        say(&format!("results written to {}", path.display()));
    }
    if let Some(old) = &old {
        println!();
        print!("{}", report::compare(old, &report));
    }
    Ok(if report.cases.iter().any(|c| c.error.is_some()) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
