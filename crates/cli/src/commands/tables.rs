//! `quarry tables`: the tables of the data directory with their rows, time range,
//! partitions and size.

use miette::{IntoDiagnostic, Result};
use schema::values::format_datetime;
use std::process::ExitCode;
use store::DataDir;

#[derive(clap::Args)]
pub struct Args {
    /// Print JSON (one object per table) instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(global: &crate::Global, args: Args) -> Result<ExitCode> {
    let dir = DataDir::open(&global.data);
    let tables = dir.tables().into_diagnostic()?;
    let mut rows = Vec::new();
    for t in &tables {
        let stats = dir.table_stats(&t.name).into_diagnostic()?;
        rows.push((t, stats));
    }
    if args.json {
        for (t, s) in &rows {
            let v = serde_json::json!({
                "table": t.name,
                "product": t.product,
                "rows": s.rows,
                "from": s.time_range.map(|r| format_datetime(r.0)),
                "to": s.time_range.map(|r| format_datetime(r.1)),
                "partitions": s.partitions,
                "files": s.files,
                "bytes": s.bytes,
            });
            println!("{v}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        eprintln!(
            "no tables in {} (load some with `quarry ingest` or `quarry generate`)",
            dir.root().display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let w = rows.iter().map(|(t, _)| t.name.len() + 11).max().unwrap_or(5).max(5);
    println!(
        "{:w$}  {:>12}  {:28}  {:28}  {:>10}  {:>10}",
        "TABLE", "ROWS", "FROM", "TO", "PARTITIONS", "SIZE"
    );
    for (t, s) in &rows {
        let (from, to) = match s.time_range {
            Some((a, b)) => (format_datetime(a), format_datetime(b)),
            None => ("-".into(), "-".into()),
        };
        let name = if t.product == schema::Product::Inferred {
            format!("{} (inferred)", t.name)
        } else {
            t.name.clone()
        };
        println!(
            "{name:w$}  {:>12}  {from:28}  {to:28}  {:>10}  {:>10}",
            s.rows,
            s.partitions,
            human_bytes(s.bytes)
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}
