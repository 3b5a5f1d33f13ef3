//! `quarry conformance FILE.jsonl`: run KQL examples with documented output
//! (`{"id","query","columns","rows","ordered"}` per line) and compare the results.
//!
//! Prints one line per failing case and `N passed, M failed`; `--json` prints one JSON
//! object per case instead. Exit code 1 when a case fails.

use engine::conformance::{self, DEFAULT_TIMEOUT};
use engine::{Engine, MemCatalog};
use miette::{IntoDiagnostic, Result, WrapErr};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(clap::Args)]
pub struct Args {
    /// The records (JSON Lines).
    file: PathBuf,
    /// One JSON object per case (`{"id","passed","reason","kind"}`) instead of text.
    #[arg(long)]
    json: bool,
    /// Only the cases whose id contains this text.
    #[arg(long)]
    filter: Option<String>,
    /// Time limit of one case, in seconds.
    #[arg(long, default_value_t = DEFAULT_TIMEOUT.as_secs())]
    timeout: u64,
}

pub fn run(_global: &crate::Global, args: Args) -> Result<ExitCode> {
    let text = std::fs::read_to_string(&args.file)
        .into_diagnostic()
        .wrap_err_with(|| format!("reading {}", args.file.display()))?;
    let mut records = conformance::parse_records(&text).map_err(|e| miette::miette!("{}: {e}", args.file.display()))?;
    if let Some(f) = &args.filter {
        records.retain(|r| r.id.contains(f.as_str()));
    }
    // The examples are self-contained: no tables.
    let engine = Engine::new(Arc::new(MemCatalog::new())).into_diagnostic()?;
    let timeout = Duration::from_secs(args.timeout.max(1));
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let (mut passed, mut failed) = (0usize, 0usize);
    for r in &records {
        let report = conformance::run_case(&engine, r, timeout);
        if report.passed {
            passed += 1;
        } else {
            failed += 1;
        }
        if args.json {
            writeln!(out, "{}", serde_json::to_string(&report).into_diagnostic()?).into_diagnostic()?;
        } else if !report.passed {
            let reason = report.reason.unwrap_or_default().replace('\n', " ");
            writeln!(out, "FAIL {}: {reason}", report.id).into_diagnostic()?;
        }
    }
    if !args.json {
        writeln!(out, "{passed} passed, {failed} failed").into_diagnostic()?;
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
