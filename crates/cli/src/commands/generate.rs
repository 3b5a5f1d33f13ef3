//! `quarry generate`: realistic Defender XDR telemetry with planted RMM tools.

use chrono::NaiveDate;
use miette::{IntoDiagnostic, Result, miette};
use std::path::PathBuf;
use std::process::ExitCode;
use store::generate::rmm::Signal;
use store::{GenerateConfig, Output, Progress};

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, default_value_t = 100)]
    devices: usize,
    #[arg(long, default_value_t = 7)]
    days: u32,
    /// First day (YYYY-MM-DD, UTC). Default: so that the last day is today.
    #[arg(long)]
    start: Option<String>,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Fraction of devices with a planted RMM tool.
    #[arg(long, default_value_t = 0.1)]
    rmm_fraction: f64,
    /// Fraction of devices with a benign look-alike of an RMM tool.
    #[arg(long, default_value_t = 0.05)]
    lookalike_fraction: f64,
    /// Only plant these tools (comma-separated names from data/rmm_indicators.json).
    #[arg(long, value_delimiter = ',')]
    tools: Option<Vec<String>>,
    /// Multiplies the daily events per device (1.0 ≈ 8,800).
    #[arg(long, default_value_t = 1.0)]
    volume: f64,
    /// parquet (into the data directory), streaming-json or csv (into --out).
    #[arg(long, default_value = "parquet")]
    format: String,
    /// Output directory for streaming-json and csv.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Gzip the streaming JSON files.
    #[arg(long)]
    gzip: bool,
    /// Worker threads (default: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

pub fn run(global: &crate::Global, args: Args) -> Result<ExitCode> {
    let out_dir = || {
        args.out
            .clone()
            .ok_or_else(|| miette!("--format {} writes files: name their directory with --out", args.format))
    };
    let output = match args.format.as_str() {
        "parquet" => Output::DataDir(global.data.clone()),
        "streaming-json" | "json" => Output::StreamingJson {
            dir: out_dir()?,
            gzip: args.gzip,
        },
        "csv" => Output::Csv(out_dir()?),
        other => {
            return Err(miette!(
                "unknown output format '{other}' (expected parquet, streaming-json or csv)"
            ));
        }
    };
    if args.days == 0 {
        return Err(miette!("--days must be at least 1"));
    }
    let start = match &args.start {
        Some(s) => {
            NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|e| miette!("--start '{s}': {e} (expected YYYY-MM-DD)"))?
        }
        None => chrono::Utc::now().date_naive() - chrono::Duration::days(args.days as i64 - 1),
    };
    for (name, f) in [
        ("--rmm-fraction", args.rmm_fraction),
        ("--lookalike-fraction", args.lookalike_fraction),
    ] {
        if !(0.0..=1.0).contains(&f) {
            return Err(miette!("{name} must be between 0 and 1"));
        }
    }
    let cfg = GenerateConfig {
        devices: args.devices,
        days: args.days,
        start,
        seed: args.seed,
        rmm_fraction: args.rmm_fraction,
        lookalike_fraction: args.lookalike_fraction,
        tools: args.tools,
        volume: args.volume,
        output,
        threads: args.threads,
        progress: Progress::new(!global.quiet),
    };
    let t0 = std::time::Instant::now();
    let truth = store::generate(&cfg).into_diagnostic()?;
    let secs = t0.elapsed().as_secs_f64();
    for (table, n) in &truth.rows {
        println!("{table:28} {n:>12} rows");
    }
    let real = truth.planted.iter().filter(|p| !p.lookalike);
    let tools: std::collections::BTreeSet<_> = real.clone().map(|p| p.tool.as_str()).collect();
    let count = |s: Signal| real.clone().filter(|p| p.signal == s).count();
    println!(
        "planted: {} tool(s) on {} device(s) ({} file signatures, {} process creations, {} network connections); {} look-alike record(s)",
        tools.len(),
        real.clone()
            .map(|p| &p.device_id)
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        count(Signal::FileSignature),
        count(Signal::ProcessCreation),
        count(Signal::NetworkConnection),
        truth.planted.iter().filter(|p| p.lookalike).count(),
    );
    if let Some(p) = &truth.path {
        println!("ground truth: {}", p.display());
    }
    if !global.quiet {
        let rows = truth.total_rows();
        eprintln!("{rows} rows in {secs:.1}s ({:.0} rows/s)", rows as f64 / secs.max(1e-9));
    }
    Ok(ExitCode::SUCCESS)
}
