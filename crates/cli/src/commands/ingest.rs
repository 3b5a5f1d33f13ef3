//! `quarry ingest PATH…`: load exported telemetry into the data directory.

use miette::{IntoDiagnostic, Result, miette};
use std::process::ExitCode;
use store::{DataDir, Format, IngestOptions, Progress};

#[derive(clap::Args)]
pub struct Args {
    /// Files, directories (read recursively), glob patterns, or `-` for stdin. Gzip is
    /// recognised by content.
    #[arg(required = true)]
    paths: Vec<String>,
    /// auto, defender (streaming API / Event Hub), log-analytics, json, csv or parquet.
    #[arg(long, default_value = "auto")]
    format: String,
    /// The table of records that do not name their own (CSV exports, plain JSON lines).
    #[arg(long)]
    table: Option<String>,
    /// Ingest inputs again even if their content was ingested before.
    #[arg(long)]
    force: bool,
    /// Exit 0 even when records were quarantined.
    #[arg(long)]
    allow_quarantine: bool,
    /// Worker threads (default: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

pub fn run(global: &crate::Global, args: Args) -> Result<ExitCode> {
    let format: Format = args.format.parse().map_err(|e: String| miette!("{e}"))?;
    let opts = IngestOptions {
        format,
        table: args.table,
        force: args.force,
        threads: args.threads,
        progress: Progress::new(!global.quiet),
        ..IngestOptions::default()
    };
    let dir = DataDir::open(&global.data);
    let start = std::time::Instant::now();
    let report = store::ingest(&dir, &args.paths, &opts).into_diagnostic()?;
    let secs = start.elapsed().as_secs_f64();
    for input in &report.inputs {
        if let Some(why) = &input.skipped {
            println!("skipped {}: {why} (use --force to load it again)", input.source);
        }
    }
    let totals = report.totals();
    let width = totals.keys().map(|t| display(t).len()).max().unwrap_or(0);
    for (table, c) in &totals {
        println!(
            "{:width$}  {} read = {} loaded + {} quarantined",
            display(table),
            c.read,
            c.loaded,
            c.quarantined
        );
    }
    let bytes: u64 = report
        .inputs
        .iter()
        .filter(|i| i.skipped.is_none())
        .map(|i| i.bytes)
        .sum();
    if !global.quiet && report.inputs.iter().all(|i| i.skipped.is_some()) {
        eprintln!("nothing new to ingest");
    } else if !global.quiet {
        eprintln!(
            "ingest {}: {} input(s), {} rows in {} file(s), {:.1} MB read in {secs:.1}s",
            report.id,
            report.inputs.len(),
            report.rows_written,
            report.files_written,
            bytes as f64 / 1e6
        );
    }
    let quarantined = report.quarantined();
    if quarantined > 0 {
        let path = report
            .quarantine_file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        eprintln!("{quarantined} record(s) quarantined: see {path}");
        if !args.allow_quarantine {
            return Ok(ExitCode::from(1));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn display(table: &str) -> &str {
    if table.is_empty() { "(no table)" } else { table }
}
