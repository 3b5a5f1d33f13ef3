use miette::{Result, miette};
use schema::Catalog;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Table name (case-sensitive, as in KQL). Without it, lists the built-in tables.
    table: Option<String>,
}

pub fn run(_global: &crate::Global, args: Args) -> Result<ExitCode> {
    let catalog = Catalog::builtin();
    let Some(name) = args.table else {
        for t in catalog.iter() {
            println!("{}\t{:?}\t{} columns", t.name, t.product, t.columns.len());
        }
        return Ok(ExitCode::SUCCESS);
    };
    let table = catalog.get(&name).ok_or_else(|| match catalog.get_ignore_case(&name) {
        Some(t) => miette!("Unknown table '{name}'. Did you mean '{}'?", t.name),
        None => miette!("Unknown table '{name}'"),
    })?;
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
