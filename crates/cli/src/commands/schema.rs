use miette::{IntoDiagnostic, Result, miette};
use std::process::ExitCode;
use store::DataDir;

#[derive(clap::Args)]
pub struct Args {
    /// Table name (case-sensitive, as in KQL). Without it, lists the built-in tables and the
    /// tables of the data directory.
    table: Option<String>,
}

pub fn run(global: &crate::Global, args: Args) -> Result<ExitCode> {
    // The built-in schemas overlaid with the data directory's (columns found in the data,
    // inferred tables).
    let dir = DataDir::open(&global.data);
    let catalog = dir.catalog().into_diagnostic()?;
    let stored: std::collections::BTreeSet<String> = dir.table_names().into_diagnostic()?.into_iter().collect();
    let rows = |name: &str| -> Result<Option<u64>> {
        if stored.contains(name) {
            Ok(Some(dir.table_stats(name).into_diagnostic()?.rows))
        } else {
            Ok(None)
        }
    };
    let Some(name) = args.table else {
        for t in catalog.iter() {
            let loaded = match rows(&t.name)? {
                Some(n) => format!("\t{n} rows"),
                None => String::new(),
            };
            println!("{}\t{:?}\t{} columns{loaded}", t.name, t.product, t.columns.len());
        }
        return Ok(ExitCode::SUCCESS);
    };
    let table = catalog.get(&name).ok_or_else(|| match catalog.get_ignore_case(&name) {
        Some(t) => miette!("Unknown table '{name}'. Did you mean '{}'?", t.name),
        None => miette!("Unknown table '{name}'"),
    })?;
    if let Some(n) = rows(&name)? {
        let builtin = schema::Catalog::builtin().get(&name);
        let inferred = if table.product == schema::Product::Inferred {
            " (schema inferred from the data)"
        } else {
            ""
        };
        eprintln!("{name}: {n} rows in {}{inferred}", dir.root().display());
        if let Some(b) = builtin {
            let extra: Vec<&str> = table
                .columns
                .iter()
                .filter(|c| b.column(&c.name).is_none())
                .map(|c| c.name.as_str())
                .collect();
            if !extra.is_empty() {
                eprintln!(
                    "columns found in the data beyond the built-in schema: {}",
                    extra.join(", ")
                );
            }
        }
    }
    for c in &table.columns {
        println!(
            "{}\t{}{}",
            c.name,
            c.ty,
            if c.sentinel_only { "\t(Sentinel only)" } else { "" }
        );
    }
    Ok(ExitCode::SUCCESS)
}
