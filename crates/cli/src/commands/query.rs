//! `quarry query`: run a KQL query over the data directory and files named on the command
//! line, and print its results as a table, JSON Lines (one object per result) or CSV.
//!
//! Exit codes: 0 the query ran, 1 the query is invalid (diagnostics on stderr), 2 usage or
//! runtime error.

use engine::{CatalogTable, Engine, MemCatalog, QueryError, QueryOptions, TableCatalog};
use miette::{IntoDiagnostic, Result, WrapErr, miette};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use store::DataDir;

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
}

#[derive(clap::Args)]
pub struct Args {
    /// The query text (or use `-f`).
    query: Option<String>,
    /// Read the query from a file (`-` for stdin).
    #[arg(short = 'f', long = "file", conflicts_with = "query")]
    file: Option<PathBuf>,
    /// The query's `now()` (e.g. `2024-05-01T00:00:00Z`); the wall clock by default.
    #[arg(long)]
    now: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// A file to query as a table: `--table DeviceFileCertificateInfo=export.csv`
    /// (CSV, JSON of any export shape, Parquet; repeatable). Shadows the data directory.
    #[arg(long = "table", value_name = "NAME=PATH")]
    tables: Vec<String>,
    /// Memory the query may use before sorts and aggregations spill to disk (e.g. 512MiB,
    /// 4GB, 2G, 50%); default: half the machine's memory.
    #[arg(long, value_name = "SIZE", value_parser = engine::parse_byte_size)]
    memory_limit: Option<usize>,
}

/// The tables of a data directory (stored ones, and the built-in schemas, empty, for tables
/// without data).
pub struct DataDirCatalog {
    dir: DataDir,
}

impl DataDirCatalog {
    pub fn new(dir: DataDir) -> Self {
        DataDirCatalog { dir }
    }
}

impl TableCatalog for DataDirCatalog {
    fn table(&self, name: &str) -> Option<CatalogTable> {
        let schema = self.dir.schema(name).ok()??;
        let provider = self.dir.table_provider(name).ok()??;
        Some(CatalogTable { schema, provider })
    }

    fn table_names(&self) -> Vec<String> {
        match self.dir.catalog() {
            Ok(c) => c.iter().map(|t| t.name.clone()).collect(),
            Err(_) => Vec::new(),
        }
    }
}

fn read_query(args: &Args) -> Result<(String, String)> {
    match (&args.query, &args.file) {
        (Some(q), None) => Ok((q.clone(), "query".to_string())),
        (None, Some(p)) if p.as_os_str() == "-" => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text).into_diagnostic()?;
            Ok((text, "<stdin>".to_string()))
        }
        (None, Some(p)) => {
            let text = std::fs::read_to_string(p)
                .into_diagnostic()
                .wrap_err_with(|| format!("reading {}", p.display()))?;
            Ok((text, p.display().to_string()))
        }
        _ => Err(miette!("give a query, or a file with -f")),
    }
}

pub fn run(global: &crate::Global, args: Args) -> Result<ExitCode> {
    let (query, source_name) = read_query(&args)?;
    let now = match &args.now {
        Some(text) => {
            Some(schema::values::parse_datetime(text).ok_or_else(|| miette!("--now: '{text}' is not a datetime"))?)
        }
        None => None,
    };
    // Files named on the command line, in front of the data directory. The loaded files
    // live (in temporary directories) until the query has run.
    let mut catalog = MemCatalog::with_fallback(Arc::new(DataDirCatalog::new(DataDir::open(&global.data))));
    let mut loaded = Vec::new();
    for spec in &args.tables {
        let (name, path) = spec
            .split_once('=')
            .ok_or_else(|| miette!("--table {spec}: expected NAME=PATH"))?;
        let table = store::file_table(name, std::path::Path::new(path))
            .into_diagnostic()
            .wrap_err_with(|| format!("loading {path} as {name}"))?;
        let quarantined = table.report.quarantined();
        if !global.quiet && quarantined > 0 {
            eprintln!("{name}: {quarantined} record(s) of {path} could not be read and are left out");
        }
        catalog.add_provider((*table.schema).clone(), table.provider.clone());
        loaded.push(table);
    }
    let config = engine::EngineConfig::with_memory_limit(args.memory_limit);
    let engine = Engine::with_config(Arc::new(catalog), &config).into_diagnostic()?;
    let options = QueryOptions { now };
    let color = std::io::stderr().is_terminal();
    let render_opts = kql::RenderOptions {
        name: Some(source_name),
        color,
        ..kql::RenderOptions::default()
    };
    let results = match engine.query_blocking(&query, &options) {
        Ok(r) => r,
        Err(QueryError::Invalid(diags)) => {
            eprint!("{}", kql::render_all(&diags, &query, &render_opts));
            return Ok(ExitCode::from(1));
        }
        Err(e @ QueryError::Execution(_)) => return Err(miette!("{e}")),
    };
    drop(loaded);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for (i, r) in results.iter().enumerate() {
        match args.format {
            Format::Table => {
                if results.len() > 1 {
                    if i > 0 {
                        writeln!(out).into_diagnostic()?;
                    }
                    let name = r.name.clone().unwrap_or_else(|| format!("Table_{i}"));
                    writeln!(out, "{name}").into_diagnostic()?;
                }
                write!(out, "{}", r.to_table().into_diagnostic()?).into_diagnostic()?;
                if !global.quiet {
                    let n = r.row_count();
                    eprintln!("({n} row{})", if n == 1 { "" } else { "s" });
                }
            }
            Format::Json => writeln!(out, "{}", r.to_json().into_diagnostic()?).into_diagnostic()?,
            Format::Csv => {
                if i > 0 {
                    writeln!(out).into_diagnostic()?;
                }
                write!(out, "{}", r.to_csv().into_diagnostic()?).into_diagnostic()?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
