//! `quarry coverage`: ATT&CK coverage of the stored rules, per tactic, and the ATT&CK
//! Navigator layer (`--navigator FILE`).

use miette::{IntoDiagnostic, Result, miette};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use web::data::DataStatus;

#[derive(clap::Args)]
pub struct Args {
    /// Write an ATT&CK Navigator layer (JSON) to FILE (`-` for standard output).
    #[arg(long, value_name = "FILE")]
    navigator: Option<PathBuf>,
    /// The layer's name.
    #[arg(long, default_value = "Quarry coverage")]
    name: String,
    /// Print the coverage as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(global: &crate::Global, args: Args) -> Result<ExitCode> {
    let source = web::catalog::RuleSource::new(&global.data);
    let snapshot = source.snapshot().map_err(|e| miette!("{e}"))?;
    let tables = web::data::DataDirStatus::new(global.data.clone())
        .tables()
        .map_err(|e| miette!("cannot read the data directory: {e}"))?;
    let rows = web::data::Rows::from_tables(&tables);
    if let Some(path) = &args.navigator {
        let layer = web::coverage::navigator_layer(&snapshot, &rows, &args.name);
        let text = serde_json::to_string_pretty(&layer).into_diagnostic()?;
        let n = layer["techniques"].as_array().map_or(0, Vec::len);
        if path.as_os_str() == "-" {
            return print(&(text + "\n"));
        } else {
            std::fs::write(path, text + "\n").map_err(|e| miette!("cannot write {}: {e}", path.display()))?;
            if !global.quiet {
                eprintln!(
                    "wrote an ATT&CK Navigator layer ({n} technique entries, {} rules) to {}",
                    snapshot.entries.len(),
                    path.display()
                );
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let cov = web::coverage::compute(&snapshot, &rows);
    let mut out = String::new();
    if args.json {
        out = serde_json::to_string_pretty(&cov).into_diagnostic()? + "\n";
        return print(&out);
    }
    let _ = writeln!(
        out,
        "{} rules, {} mapped to ATT&CK; {} techniques covered, {} by rules whose data is present",
        cov.rules, cov.rules_mapped, cov.techniques_covered, cov.techniques_runnable
    );
    let _ = writeln!(
        out,
        "{:22}  {:>8}  {:>9}  covered techniques (rules that can run / missing data)",
        "TACTIC", "COVERED", "OF"
    );
    for t in &cov.tactics {
        let covered: Vec<String> = t
            .techniques
            .iter()
            .flat_map(|x| std::iter::once(x).chain(x.subtechniques.iter()))
            .filter(|x| x.cell.total() > 0)
            .map(|x| format!("{} ({}/{})", x.id, x.cell.runnable.len(), x.cell.cannot_run.len()))
            .collect();
        let _ = writeln!(
            out,
            "{:22}  {:>8}  {:>9}  {}",
            t.name,
            t.covered,
            t.techniques.len(),
            covered.join(", ")
        );
    }
    if !cov.unknown_techniques.is_empty() {
        let _ = writeln!(
            out,
            "techniques not in ATT&CK v18.1: {}",
            cov.unknown_techniques.join(", ")
        );
    }
    print(&out)
}

/// Writes to stdout; a closed pipe (`| head`) is not an error.
fn print(text: &str) -> Result<ExitCode> {
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(miette!("cannot write the output: {e}")),
    }
}
