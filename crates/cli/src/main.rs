//! `quarry`: run Microsoft Sentinel and Defender XDR KQL hunting rules anywhere.
//!
//! Each subcommand lives in its own module under `commands/`; this file only declares the
//! command line and dispatches. Exit codes: 0 success (a hunt found nothing), 1 a hunt found
//! something / a check found errors, 2 usage or runtime error.

mod commands;

/// mimalloc rather than the system allocator: a scan allocates and frees a buffer for every
/// page and batch it decodes, from several threads, and glibc's allocator spent about an
/// eighth of a pack hunt in `malloc`/`free` and in zeroing fresh pages (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "quarry",
    version,
    about = "Run Microsoft Sentinel and Defender XDR KQL hunting rules anywhere"
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Options every subcommand understands.
#[derive(clap::Args, Clone, Debug)]
pub struct Global {
    /// The data directory: telemetry (Parquet, one dataset per table) and quarry.db (rules,
    /// hunt runs, findings).
    #[arg(long, global = true, env = "QUARRY_DATA", default_value = "quarry-data")]
    pub data: PathBuf,
    /// No progress bars or chatter; results and errors only.
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Check KQL queries for errors without running them (files, `-` for stdin, or .jsonl records).
    Check(commands::check::Args),
    /// Reformat a KQL query (comments kept); `--check` only reports.
    Fmt(commands::fmt::Args),
    /// Print the columns and KQL types of a table (`quarry schema DeviceFileCertificateInfo`).
    Schema(commands::schema::Args),
    /// Import, list and show hunting rules (Sentinel YAML, SOC-feed pages, built-in packs).
    Rules(commands::rules::Args),
    /// Load exported telemetry (Defender streaming API, Event Hub, Log Analytics, CSV, JSON, Parquet).
    Ingest(commands::ingest::Args),
    /// List the tables of the data directory: rows, time range, partitions, size.
    Tables(commands::tables::Args),
    /// Generate realistic Defender telemetry with planted RMM tools and a ground truth.
    Generate(commands::generate::Args),
    /// Run a KQL query over the data directory (and files given with --table).
    Query(commands::query::Args),
    /// Run KQL examples with documented output (.jsonl) and report the differences.
    Conformance(commands::conformance::Args),
    /// Serve the SOC feed web UI and JSON API (127.0.0.1:8080 by default).
    Serve(commands::serve::Args),
    /// ATT&CK coverage of the stored rules; `--navigator FILE` writes an ATT&CK Navigator layer.
    Coverage(commands::coverage::Args),
    /// Run rules (a pack, rule files, or the rule store) over the data directory and report findings.
    Hunt(commands::hunt::Args),
    /// List, show and triage the stored findings of hunts.
    Findings(commands::findings::Args),
    /// Sample data with planted RMM tools, the seed rules and the RMM pack, a hunt: Quarry in seconds.
    Demo(commands::demo::Args),
    /// Benchmarks over generated data (1m, 10m, 100m rows): seed rules, the RMM pack, heavy queries, ingest.
    Bench(commands::bench::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let global = cli.global;
    let result = match cli.command {
        Command::Check(args) => commands::check::run(&global, args),
        Command::Fmt(args) => commands::fmt::run(&global, args),
        Command::Schema(args) => commands::schema::run(&global, args),
        Command::Rules(args) => commands::rules::run(&global, args),
        Command::Ingest(args) => commands::ingest::run(&global, args),
        Command::Tables(args) => commands::tables::run(&global, args),
        Command::Generate(args) => commands::generate::run(&global, args),
        Command::Query(args) => commands::query::run(&global, args),
        Command::Conformance(args) => commands::conformance::run(&global, args),
        Command::Serve(args) => commands::serve::run(&global, args),
        Command::Coverage(args) => commands::coverage::run(&global, args),
        Command::Hunt(args) => commands::hunt::run(&global, args),
        Command::Findings(args) => commands::findings::run(&global, args),
        Command::Demo(args) => commands::demo::run(&global, args),
        Command::Bench(args) => commands::bench::run(&global, args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("{err:?}");
            ExitCode::from(2)
        }
    }
}
